package gormstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/store/storetest"
)

const pgEnv = "IDENTITY_TEST_POSTGRES_DSN"

// opener opens an empty store for one test; the store is closed (and its tables dropped,
// for PostgreSQL) when the test ends.
type opener struct {
	name string
	open func(t testing.TB) *Store
}

func openers(t testing.TB) []opener {
	o := []opener{
		{"sqlite-memory", openMemory},
		{"sqlite-file", openFile},
	}
	if os.Getenv(pgEnv) != "" {
		o = append(o, opener{"postgres", openPostgres})
	} else {
		t.Logf("%s not set: PostgreSQL tests skipped", pgEnv)
	}
	return o
}

func openMemory(t testing.TB) *Store {
	st, err := OpenMemory(Config{})
	if err != nil {
		t.Fatalf("OpenMemory: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openFile(t testing.TB) *Store {
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "identity.db"), Config{})
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return st
}

var pgSeq atomic.Int64

// openPostgres opens a store with a table prefix unique to this test and drops its tables
// afterwards.
func openPostgres(t testing.TB) *Store {
	st := openPostgresEmpty(t)
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return st
}

// openPostgresEmpty is openPostgres without Migrate: no table of its prefix exists yet.
func openPostgresEmpty(t testing.TB) *Store {
	prefix := fmt.Sprintf("t%d_%d_", os.Getpid(), pgSeq.Add(1))
	st, err := OpenPostgres(os.Getenv(pgEnv), Config{TablePrefix: prefix})
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	if db, err := st.db.DB(); err == nil {
		db.SetMaxOpenConns(20)
	}
	t.Cleanup(func() {
		if err := dropTables(st); err != nil {
			t.Errorf("dropping test tables: %v", err)
		}
		st.Close()
	})
	return st
}

// dropTables drops every table of st's prefix that Migrate creates, the version table
// included.
func dropTables(st *Store) error {
	names := []any{st.t.versions()}
	for _, m := range st.models() {
		names = append(names, m.table)
	}
	return st.db.Migrator().DropTable(names...)
}

func TestConformance(t *testing.T) {
	for _, o := range openers(t) {
		t.Run(o.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) identity.Store { return o.open(t) })
		})
	}
}

func TestMigrateIdempotent(t *testing.T) {
	for _, o := range openers(t) {
		t.Run(o.name, func(t *testing.T) {
			st := o.open(t)
			ctx := t.Context()
			app := &identity.Application{Name: "a", AuthKey: "k", CreatedAt: time.Now(), UpdatedAt: time.Now()}
			if err := st.CreateApplication(ctx, app); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := st.Migrate(ctx); err != nil {
					t.Fatalf("second Migrate: %v", err)
				}
			}
			if _, err := st.Application(ctx, app.ID); err != nil {
				t.Fatalf("data lost by Migrate: %v", err)
			}
		})
	}
}

func TestFileReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reopen.db")
	ctx := t.Context()
	st, err := OpenSQLite(path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	app := &identity.Application{Name: "a", AuthKey: "k"}
	if err := st.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := st.db.Raw("PRAGMA journal_mode").Scan(&mode).Error; err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := st.db.Raw("PRAGMA foreign_keys").Scan(&fk).Error; err != nil || fk != 1 {
		t.Fatalf("foreign_keys = %d, %v; want 1", fk, err)
	}
	st.Close()
	st, err = OpenSQLite(path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplicationByAuthKey(ctx, "k"); err != nil {
		t.Fatalf("application lost after reopening: %v", err)
	}
}

// TestMemoryIsolated checks that each in-memory store is its own database and that all its
// connections see the same one.
func TestMemoryIsolated(t *testing.T) {
	a, b := openMemory(t), openMemory(t)
	ctx := t.Context()
	if err := a.CreateApplication(ctx, &identity.Application{Name: "a", AuthKey: "k"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ApplicationByAuthKey(ctx, "k"); !errors.Is(err, identity.ErrApplicationNotFound) {
		t.Fatalf("second memory store sees the first one's data: %v", err)
	}
	for range 5 {
		if _, err := a.ApplicationByAuthKey(ctx, "k"); err != nil {
			t.Fatalf("memory store lost its data: %v", err)
		}
	}
}

func TestTablePrefix(t *testing.T) {
	tests := []struct {
		prefix  string
		wantErr bool
	}{
		{"", false},
		{"identity_", false},
		{"app2_auth_", false},
		{"Identity_", true},
		{"1x_", true},
		{"x-y_", true},
		{"x; DROP TABLE users; --", true},
		{"abcdefghijklmnopqrstuvwxyz0123456", true}, // 33 characters
	}
	db, err := gorm.Open(postgres.New(postgres.Config{DSN: "host=127.0.0.1 port=1"}), &gorm.Config{DisableAutomaticPing: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		st, err := New(db, Config{TablePrefix: tc.prefix})
		if (err != nil) != tc.wantErr {
			t.Fatalf("New(prefix %q) error = %v, wantErr %v", tc.prefix, err, tc.wantErr)
		}
		if err == nil && tc.prefix == "" && st.t.users != "identity_users" {
			t.Fatalf("default users table %q", st.t.users)
		}
	}
	if _, err := New(nil, Config{}); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}

// TestTwoPrefixesOneDatabase checks that stores with different prefixes in one database are
// independent.
func TestTwoPrefixesOneDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	ctx := t.Context()
	var stores []*Store
	for _, p := range []string{"one_", "two_"} {
		st, err := OpenSQLite(path, Config{TablePrefix: p})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		stores = append(stores, st)
	}
	app := &identity.Application{Name: "a", AuthKey: "same"}
	for _, st := range stores {
		if err := st.CreateApplication(ctx, app); err != nil {
			t.Fatalf("same auth key under another prefix: %v", err)
		}
		if err := st.CreateUser(ctx, &identity.User{ApplicationID: app.ID, UID: "u" + st.t.prefix, Login: "same"}, nil); err != nil {
			t.Fatalf("same login under another prefix: %v", err)
		}
	}
}

// TestUnavailable checks that a database that cannot be reached yields ErrUnavailable.
func TestUnavailable(t *testing.T) {
	ctx := t.Context()
	t.Run("closed sqlite", func(t *testing.T) {
		st, err := OpenMemory(Config{})
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		_, err = st.SessionByTokenHash(ctx, identity.HashToken("x"))
		if !errors.Is(err, identity.ErrUnavailable) {
			t.Fatalf("SessionByTokenHash on a closed store: %v, want ErrUnavailable", err)
		}
		err = st.CreateUser(ctx, &identity.User{ApplicationID: 1, UID: "u", Login: "x"}, nil)
		if !errors.Is(err, identity.ErrUnavailable) {
			t.Fatalf("CreateUser on a closed store: %v, want ErrUnavailable", err)
		}
	})
	t.Run("postgres refused", func(t *testing.T) {
		_, err := OpenPostgres("postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5", Config{})
		if !errors.Is(err, identity.ErrUnavailable) {
			t.Fatalf("OpenPostgres of a closed port: %v, want ErrUnavailable", err)
		}
		st := refusedPostgres(t, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5")
		_, err = st.UserByLogin(ctx, 1, "x")
		if !errors.Is(err, identity.ErrUnavailable) {
			t.Fatalf("UserByLogin on a refused connection: %v, want ErrUnavailable", err)
		}
		if errors.Is(err, identity.ErrUserNotFound) {
			t.Fatal("unavailable reported as not found")
		}
	})
	t.Run("sqlite busy", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "busy.db")
		st, err := OpenSQLite(path+"?_busy_timeout=1", Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		// Hold the write lock from a second connection.
		other, err := OpenSQLite(path, Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		tx := other.db.Begin()
		if tx.Error != nil {
			t.Fatal(tx.Error)
		}
		defer tx.Rollback()
		if err := tx.Exec("INSERT INTO identity_nonces (application_id, ts, nonce, expires_at) VALUES (1, 1, 'x', ?)", time.Now().UTC()).Error; err != nil {
			t.Fatal(err)
		}
		err = st.UseNonce(ctx, 1, 2, "y", time.Now())
		if !errors.Is(err, identity.ErrUnavailable) {
			t.Fatalf("UseNonce while the database is locked: %v, want ErrUnavailable", err)
		}
	})
}

// TestErrorsCarryNoSecrets checks that conflict and failure errors do not echo values.
func TestErrorsCarryNoSecrets(t *testing.T) {
	for _, o := range openers(t) {
		t.Run(o.name, func(t *testing.T) {
			st := o.open(t)
			ctx := t.Context()
			app := &identity.Application{Name: "a", AuthKey: "secret-auth-key"}
			if err := st.CreateApplication(ctx, app); err != nil {
				t.Fatal(err)
			}
			err := st.CreateApplication(ctx, &identity.Application{Name: "b", AuthKey: "secret-auth-key"})
			if err == nil || strings.Contains(err.Error(), "secret-auth-key") {
				t.Fatalf("duplicate auth key error %v", err)
			}
			s1 := &identity.Session{ApplicationID: app.ID, TokenHash: identity.HashToken("tok")}
			if err := st.CreateSession(ctx, s1); err != nil {
				t.Fatal(err)
			}
			err = st.CreateSession(ctx, &identity.Session{ApplicationID: app.ID, TokenHash: identity.HashToken("tok")})
			if err == nil || strings.Contains(err.Error(), fmt.Sprintf("%x", identity.HashToken("tok"))) {
				t.Fatalf("duplicate token error %v", err)
			}
		})
	}
}

// TestLoggerOmitsValues checks that Config.Logger sees statements but not their values.
func TestLoggerOmitsValues(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := OpenSQLite(":memory:", Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	app := &identity.Application{Name: "a", AuthKey: "key-VALUE-1", AuthSecret: "secret-VALUE-2"}
	if err := st.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	u := &identity.User{ApplicationID: app.ID, UID: "u1", Login: "login-VALUE-3", PasswordHash: "hash-VALUE-4"}
	if err := st.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, &identity.User{ApplicationID: app.ID, UID: "u2", Login: "login-VALUE-3"}, nil); !errors.Is(err, identity.ErrUserExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := st.SessionByTokenHash(ctx, []byte("hash-VALUE-5")); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "gormstore: query") || !strings.Contains(out, "INSERT INTO") {
		t.Fatalf("statements not logged:\n%s", out)
	}
	if strings.Contains(out, "VALUE-") {
		t.Fatalf("log contains parameter values:\n%s", out)
	}
}

// TestUnstorableTextNamesField checks which field a rejected write names.
func TestUnstorableTextNamesField(t *testing.T) {
	for _, o := range openers(t) {
		t.Run(o.name, func(t *testing.T) {
			st := o.open(t)
			ctx := t.Context()
			app := &identity.Application{Name: "a", AuthKey: "k"}
			if err := st.CreateApplication(ctx, app); err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				field string
				set   func(u *identity.User)
			}{
				{"custom_data", func(u *identity.User) { u.CustomData = "a\x00b" }},
				{"full_name", func(u *identity.User) { u.FullName = "\xff" }},
				{"tag_list", func(u *identity.User) { u.Tags = []string{"ok", "b\x00d"} }},
				{"login", func(u *identity.User) { u.Login = "x\x00" }},
			}
			for _, tc := range tests {
				u := &identity.User{ApplicationID: app.ID, UID: "u-" + tc.field}
				tc.set(u)
				err := st.CreateUser(ctx, u, nil)
				var e *identity.Error
				if !errors.Is(err, identity.ErrInvalidInput) || !errors.As(err, &e) || e.Code(tc.field) == "" {
					t.Fatalf("CreateUser with bad %s: %v", tc.field, err)
				}
				ok := &identity.User{ApplicationID: app.ID, UID: "ok-" + tc.field}
				if err := st.CreateUser(ctx, ok, nil); err != nil {
					t.Fatal(err)
				}
				tc.set(ok)
				if err := st.UpdateUser(ctx, ok); !errors.Is(err, identity.ErrInvalidInput) {
					t.Fatalf("UpdateUser with bad %s: %v", tc.field, err)
				}
			}
			// Users without a UID do not collide on it.
			for range 2 {
				if err := st.CreateUser(ctx, &identity.User{ApplicationID: app.ID}, nil); err != nil {
					t.Fatalf("CreateUser without UID: %v", err)
				}
			}
		})
	}
}

// TestConcurrentMigrate checks that processes starting together can all run Migrate.
func TestConcurrentMigrate(t *testing.T) {
	for _, o := range openers(t) {
		if o.name == "sqlite-memory" {
			continue // private to one Store
		}
		t.Run(o.name, func(t *testing.T) {
			first := o.open(t) // migrated; its cleanup drops the tables
			dir := t.TempDir()
			var stores []*Store
			for range 4 {
				var st *Store
				var err error
				if o.name == "postgres" {
					st, err = OpenPostgres(os.Getenv(pgEnv), Config{TablePrefix: first.t.prefix + "m_"})
				} else {
					st, err = OpenSQLite(filepath.Join(dir, "concurrent.db"), Config{})
				}
				if err != nil {
					t.Fatal(err)
				}
				stores = append(stores, st)
			}
			defer func() {
				if o.name == "postgres" {
					dropTables(stores[0])
				}
				for _, st := range stores {
					st.Close()
				}
			}()
			errs := make(chan error, len(stores))
			for _, st := range stores {
				go func() { errs <- st.Migrate(t.Context()) }()
			}
			for range stores {
				if err := <-errs; err != nil {
					t.Fatalf("concurrent Migrate: %v", err)
				}
			}
		})
	}
}

// TestDeleteExpiredBatches checks that expired guests beyond one batch are all removed.
func TestDeleteExpiredBatches(t *testing.T) {
	defer func(n int) { guestBatch = n }(guestBatch)
	guestBatch = 2
	for _, o := range openers(t) {
		t.Run(o.name, func(t *testing.T) {
			st := o.open(t)
			ctx := t.Context()
			now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			for i := range 5 {
				g := &identity.User{ApplicationID: 1, UID: fmt.Sprintf("g%d", i), IsGuest: true, GuestExpiresAt: now.Add(-time.Minute)}
				if err := st.CreateUser(ctx, g, nil); err != nil {
					t.Fatal(err)
				}
				s := &identity.Session{ApplicationID: 1, UserID: g.ID, TokenHash: identity.HashToken(g.UID), ExpiresAt: now.Add(time.Hour)}
				if err := st.CreateSession(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			p, err := st.DeleteExpired(ctx, now)
			if err != nil {
				t.Fatal(err)
			}
			if want := (identity.Purged{Sessions: 5, Guests: 5}); p != want {
				t.Fatalf("DeleteExpired = %+v, want %+v", p, want)
			}
		})
	}
}

// refusedPostgres returns a store on dsn, a PostgreSQL server that refuses connections,
// without connecting; it is closed when the test ends.
func refusedPostgres(t *testing.T, dsn string) *Store {
	t.Helper()
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{DisableAutomaticPing: true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := New(db, Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
