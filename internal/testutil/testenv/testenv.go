// Package testenv opens what tests of several packages build an identity.Identity from: an
// in-memory store and a cheap password provider. It is apart from testutil because it
// imports the module's store and provider packages, which testutil must not (their own
// in-package tests use testutil).
package testenv

import (
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/provider/password"
	"github.com/identitykit/identity/store/gormstore"
)

// Store returns a new, empty, migrated in-memory store (gormstore.OpenMemory), closed when
// t's test ends.
func Store(t testing.TB) *gormstore.Store {
	t.Helper()
	st, err := gormstore.OpenMemory(gormstore.Config{})
	if err != nil {
		t.Fatalf("testenv: in-memory store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Passwords returns a password provider with the smallest argon2id parameters: tests check
// behaviour, not hashing cost.
func Passwords(t testing.TB) *password.Provider {
	t.Helper()
	pw, err := password.New(password.Config{Memory: 64, Iterations: 1})
	if err != nil {
		t.Fatalf("testenv: password provider: %v", err)
	}
	return pw
}

// Identity returns an Identity on st with the Passwords provider and otherwise default
// settings.
func Identity(t testing.TB, st identity.Store) *identity.Identity {
	t.Helper()
	pw := Passwords(t)
	id, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw}})
	if err != nil {
		t.Fatalf("testenv: identity: %v", err)
	}
	return id
}

// Fields returns the fields an *identity.Error in err's chain names, sorted and
// comma-separated ("login,password"); "" when err carries none.
func Fields(err error) string {
	var e *identity.Error
	if !errors.As(err, &e) {
		return ""
	}
	keys := make([]string, 0, len(e.Fields))
	for _, f := range e.Fields {
		if !slices.Contains(keys, f.Field) {
			keys = append(keys, f.Field)
		}
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}
