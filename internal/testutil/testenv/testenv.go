// Package testenv opens what tests of several packages build an identity.Identity from: an
// in-memory store and a cheap password provider. It is apart from testutil because it
// imports the module's store and provider packages, which testutil must not (their own
// in-package tests use testutil).
package testenv

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// OpenStore returns a new, migrated store, closed when tb's test ends: SQLite in a file under
// tb.TempDir(), or, when pg is true, PostgreSQL at IDENTITY_TEST_POSTGRES_DSN (tb is skipped
// without it) in tables of a fresh prefix, dropped when the test ends.
func OpenStore(tb testing.TB, pg bool) *gormstore.Store {
	tb.Helper()
	var (
		st     *gormstore.Store
		err    error
		prefix string
	)
	if pg {
		dsn := os.Getenv("IDENTITY_TEST_POSTGRES_DSN")
		if dsn == "" {
			tb.Skip("IDENTITY_TEST_POSTGRES_DSN not set")
		}
		prefix = "idt" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36) + strconv.FormatInt(storeSeq.Add(1), 36) + "_"
		st, err = gormstore.OpenPostgres(dsn, gormstore.Config{TablePrefix: prefix})
	} else {
		st, err = gormstore.OpenSQLite(filepath.Join(tb.TempDir(), "identity.db"), gormstore.Config{})
	}
	if err != nil {
		tb.Fatalf("testenv: open store: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	if pg {
		tb.Cleanup(func() {
			var tables []string
			st.DB().Raw("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND starts_with(tablename, ?)", prefix).Scan(&tables)
			for _, t := range tables {
				st.DB().Exec(`DROP TABLE IF EXISTS "` + t + `" CASCADE`)
			}
		})
	}
	if err := st.Migrate(context.Background()); err != nil {
		tb.Fatalf("testenv: migrate: %v", err)
	}
	return st
}

var storeSeq atomic.Int64

// WantIs fails t unless err matches want (errors.Is), or is nil when want is nil.
func WantIs(t testing.TB, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

// WantField fails t unless err matches sentinel and is an *identity.Error with a problem of
// field.
func WantField(t testing.TB, what string, err, sentinel error, field string) {
	t.Helper()
	WantIs(t, what, err, sentinel)
	var e *identity.Error
	if !errors.As(err, &e) || e.Code(field) == "" {
		t.Fatalf("%s: error %v does not name %q", what, err, field)
	}
}

// Session returns a new session of app on id: a user session for login and pw, or an
// application session when login is "".
func Session(tb testing.TB, id *identity.Identity, app *identity.Application, login, pw string) *identity.Session {
	tb.Helper()
	req := identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey}
	if login != "" {
		req.Credentials = &identity.Credentials{Login: login, Password: pw}
	}
	s, err := id.CreateSession(context.Background(), req)
	if err != nil {
		tb.Fatalf("testenv: session: %v", err)
	}
	return s
}
