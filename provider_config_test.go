package identity_test

import (
	"encoding/json"
	"testing"

	"github.com/identitykit/identity"
)

// A provider outside this module stores and reads its per-application settings with
// AppSettings.SetProviderConfig and ProviderConfig.
func TestProviderConfig(t *testing.T) {
	type conf struct {
		X int `json:"x"`
	}
	old := identity.AppSettings{Providers: map[string]json.RawMessage{"a": json.RawMessage(`1`)}}
	s := old
	if err := s.SetProviderConfig("b", conf{X: 2}); err != nil {
		t.Fatal(err)
	}
	if string(s.Providers["a"]) != `1` || string(s.Providers["b"]) != `{"x":2}` {
		t.Fatalf("Providers = %s", s.Providers)
	}
	if _, ok := old.Providers["b"]; ok {
		t.Fatal("the settings' previous map was modified")
	}
	var c conf
	if ok, err := s.ProviderConfig("b", &c); !ok || err != nil || c.X != 2 {
		t.Fatalf("ProviderConfig = %v, %v, %+v", ok, err, c)
	}
	for _, raw := range []string{"", "null", " null "} {
		s := identity.AppSettings{Providers: map[string]json.RawMessage{"b": json.RawMessage(raw)}}
		if ok, err := s.ProviderConfig("b", &c); ok || err != nil {
			t.Fatalf("ProviderConfig of %q = %v, %v, want absent", raw, ok, err)
		}
	}
	if ok, err := (&identity.AppSettings{}).ProviderConfig("b", &c); ok || err != nil {
		t.Fatalf("ProviderConfig without Providers = %v, %v", ok, err)
	}
	for _, raw := range []string{`{"x":"two"}`, `{"x":2,"y":3}`, `{`} {
		s := identity.AppSettings{Providers: map[string]json.RawMessage{"b": json.RawMessage(raw)}}
		if _, err := s.ProviderConfig("b", &c); err == nil {
			t.Fatalf("ProviderConfig of %s: no error", raw)
		}
	}
	var empty identity.AppSettings
	if err := empty.SetProviderConfig("b", 3); err != nil || string(empty.Providers["b"]) != `3` {
		t.Fatalf("SetProviderConfig on nil Providers: %v, %s", err, empty.Providers)
	}
	if err := s.SetProviderConfig("c", func() {}); err == nil || len(s.Providers) != 2 {
		t.Fatalf("SetProviderConfig of an unmarshalable value: err %v, Providers %s", err, s.Providers)
	}
}
