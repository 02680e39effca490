//go:build cgo

package gormstore

import (
	"errors"
	"sync"
	"testing"

	"github.com/identitykit/identity"
)

// TestObserveError: Config.ObserveError is told the unexpected database errors a method
// returns, with the method's operation name, and not the answers of the Store contract
// (not found, taken).
func TestObserveError(t *testing.T) {
	ctx := t.Context()
	var mu sync.Mutex
	var ops []string
	var errs []error
	st, err := OpenMemory(Config{ObserveError: func(op string, err error) {
		mu.Lock()
		defer mu.Unlock()
		ops = append(ops, op)
		errs = append(errs, err)
	}})
	if err != nil {
		t.Fatal(err)
	}
	app := &identity.Application{Name: "a", AuthKey: "k"}
	if err := st.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SessionByTokenHash(ctx, identity.HashToken("unknown")); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	for i, want := range []error{nil, identity.ErrUserExists} {
		err := st.CreateUser(ctx, &identity.User{ApplicationID: app.ID, UID: "u" + string(rune('a'+i)), Login: "same"}, nil)
		if !errors.Is(err, want) {
			t.Fatalf("CreateUser %d: %v, want %v", i, err, want)
		}
	}
	if len(ops) != 0 {
		t.Fatalf("contract answers observed as errors: %q %v", ops, errs)
	}
	st.Close()
	_, err = st.SessionByTokenHash(ctx, identity.HashToken("x"))
	if len(ops) != 1 || ops[0] != "session by token hash" || errs[0] != err || !errors.Is(errs[0], identity.ErrUnavailable) {
		t.Fatalf("closed store: observed %q %v; returned %v", ops, errs, err)
	}
}
