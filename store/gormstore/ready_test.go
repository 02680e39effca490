package gormstore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/identitykit/identity"
)

var _ identity.ReadinessChecker = (*Store)(nil)

// wantNotReady fails t unless err is a readiness failure (wrapping identity.ErrUnavailable)
// whose message names each of names.
func wantNotReady(t *testing.T, err error, names ...string) {
	t.Helper()
	if !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("Ready = %v, want an error wrapping identity.ErrUnavailable", err)
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n) {
			t.Fatalf("Ready = %q, does not name %q", err, n)
		}
	}
}

// TestReadyMigrated: a store is ready once migrated, and not when a table or a column that
// Migrate creates is gone (a dropped table, a schema of an older release, which has no
// version table either).
func TestReadyMigrated(t *testing.T) {
	for _, o := range openers(t) {
		t.Run(o.name, func(t *testing.T) {
			ctx := t.Context()
			st := o.open(t)
			if err := st.Ready(ctx); err != nil {
				t.Fatalf("migrated store: Ready = %v", err)
			}
			for _, ddl := range []string{"ALTER TABLE " + st.t.users + " DROP COLUMN blocked", "DROP TABLE " + st.t.versions()} {
				if err := st.DB().Exec(ddl).Error; err != nil {
					t.Fatal(err)
				}
			}
			wantNotReady(t, st.Ready(ctx), st.t.users, "blocked")
			if err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if err := st.Ready(ctx); err != nil {
				t.Fatalf("migrated again: Ready = %v", err)
			}
			if err := st.DB().Exec("DROP TABLE " + st.blobs()).Error; err != nil {
				t.Fatal(err)
			}
			wantNotReady(t, st.Ready(ctx), st.blobs())
		})
	}
}

// TestReadyUnmigrated: a store whose tables were never created is not ready until Migrate.
func TestReadyUnmigrated(t *testing.T) {
	open := []opener{{"sqlite-file", func(t testing.TB) *Store {
		st, err := OpenSQLite(filepath.Join(t.TempDir(), "identity.db"), Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}}}
	if os.Getenv(pgEnv) != "" {
		open = append(open, opener{"postgres", openPostgresEmpty})
	}
	for _, o := range open {
		t.Run(o.name, func(t *testing.T) {
			ctx := t.Context()
			st := o.open(t)
			wantNotReady(t, st.Ready(ctx), st.t.apps)
			if err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if err := st.Ready(ctx); err != nil {
				t.Fatalf("after Migrate: Ready = %v", err)
			}
		})
	}
}

// TestReadyClosed: a closed store is not ready.
func TestReadyClosed(t *testing.T) {
	open := []opener{{"sqlite-memory", openMemory}, {"sqlite-file", openFile}}
	if dsn := os.Getenv(pgEnv); dsn != "" {
		// A prefix without tables: the closed store leaves nothing to drop.
		open = append(open, opener{"postgres", func(t testing.TB) *Store {
			st, err := OpenPostgres(dsn, Config{TablePrefix: "closed_"})
			if err != nil {
				t.Fatal(err)
			}
			return st
		}})
	}
	for _, o := range open {
		t.Run(o.name, func(t *testing.T) {
			st := o.open(t)
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			wantNotReady(t, st.Ready(t.Context()))
		})
	}
}

// TestReadyUnreachable: a PostgreSQL server that cannot be reached makes the store not
// ready, and the error does not carry the DSN's password.
func TestReadyUnreachable(t *testing.T) {
	const secret = "hunter2-not-for-logs"
	st := refusedPostgres(t, "host=127.0.0.1 port=1 user=u password="+secret+" connect_timeout=5")
	err := st.Ready(t.Context())
	wantNotReady(t, err)
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("Ready error carries the password: %q", err)
	}
}
