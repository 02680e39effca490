package provconfig

import (
	"encoding/json"
	"testing"

	"github.com/identitykit/identity"
)

func TestSet(t *testing.T) {
	old := identity.AppSettings{Providers: map[string]json.RawMessage{"a": json.RawMessage(`1`)}}
	s := old
	if err := Set(&s, "b", map[string]int{"x": 2}); err != nil {
		t.Fatal(err)
	}
	if string(s.Providers["a"]) != `1` || string(s.Providers["b"]) != `{"x":2}` {
		t.Fatalf("Providers = %s", s.Providers)
	}
	if _, ok := old.Providers["b"]; ok {
		t.Fatal("the settings' previous map was modified")
	}
	var empty identity.AppSettings
	if err := Set(&empty, "b", 3); err != nil || string(empty.Providers["b"]) != `3` {
		t.Fatalf("Set on nil Providers: %v, %s", err, empty.Providers)
	}
	if err := Set(&s, "c", func() {}); err == nil || len(s.Providers) != 2 {
		t.Fatalf("Set of an unmarshalable value: err %v, Providers %s", err, s.Providers)
	}
}
