package storetest

import (
	"reflect"
	"testing"

	"github.com/identitykit/identity"
)

// optional returns s as the optional store interface T (blob.Store,
// passwordreset.TokenStore, identity.UserSearcher), or skips t when s does not implement
// it: the feature is then unavailable with that store.
func optional[T any](t *testing.T, s identity.Store) T {
	t.Helper()
	x, ok := s.(T)
	if !ok {
		t.Skipf("%T does not implement %v", s, reflect.TypeFor[T]())
	}
	return x
}

// checkEqual fails t unless got is not nil and norm(got) deeply equals norm(want); kind
// names what is compared in the message ("user", "session", ...).
func checkEqual[T any](t *testing.T, what, kind string, got, want *T, norm func(*T) T) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil %s", what, kind)
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got %s\nwant %s", what, dump(g), dump(w))
	}
}
