package gormstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil"
)

// emptyOpeners open stores whose prefix has no table yet: a new SQLite file, and a new
// PostgreSQL prefix when IDENTITY_TEST_POSTGRES_DSN is set.
func emptyOpeners(t *testing.T) []opener {
	o := []opener{{"sqlite-file", func(t testing.TB) *Store {
		st, err := OpenSQLite(filepath.Join(t.TempDir(), "identity.db"), Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}}}
	if os.Getenv(pgEnv) != "" {
		o = append(o, opener{"postgres", openPostgresEmpty})
	} else {
		t.Logf("%s not set: PostgreSQL tests skipped", pgEnv)
	}
	return o
}

// versionRows returns the versions recorded in st's version table, in order, duplicates
// included.
func versionRows(t *testing.T, st *Store) []int64 {
	t.Helper()
	var v []int64
	if err := st.DB().Raw("SELECT version FROM " + st.t.versions() + " ORDER BY version").Scan(&v).Error; err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMigrateFresh: an empty database has every migration pending and is not ready; one
// MigrateUp applies them all and records each once; a second applies nothing.
func TestMigrateFresh(t *testing.T) {
	latest := LatestSchemaVersion()
	for _, o := range emptyOpeners(t) {
		t.Run(o.name, func(t *testing.T) {
			ctx := t.Context()
			st := o.open(t)
			status, err := st.MigrationStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(status) != latest || status[0].Version != 1 || status[0].Name != "initial schema" {
				t.Fatalf("status of an empty database: %+v", status)
			}
			for _, m := range status {
				if !m.Pending() {
					t.Fatalf("migration %d applied on an empty database", m.Version)
				}
			}
			wantNotReady(t, st.Ready(ctx))

			before := time.Now().UTC().Add(-time.Second)
			ran, err := st.MigrateUp(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(ran) != latest || ran[0].Version != 1 || ran[0].Pending() {
				t.Fatalf("MigrateUp ran %+v, want every migration", ran)
			}
			status, err = st.MigrationStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range status {
				if m.Pending() || m.AppliedAt.Before(before) || !m.AppliedAt.Equal(ran[i].AppliedAt) {
					t.Fatalf("status after MigrateUp: %+v, ran %+v", status, ran)
				}
			}
			if err := st.Ready(ctx); err != nil {
				t.Fatalf("Ready after MigrateUp: %v", err)
			}

			ran, err = st.MigrateUp(ctx)
			if err != nil || len(ran) != 0 {
				t.Fatalf("second MigrateUp: ran %+v, %v; want nothing", ran, err)
			}
			if got := versionRows(t, st); len(got) != latest {
				t.Fatalf("versions recorded: %v", got)
			}
		})
	}
}

// TestReadyPendingMigration: a schema with every table but a migration unrecorded is not
// ready, and says so.
func TestReadyPendingMigration(t *testing.T) {
	for _, o := range openers(t) {
		t.Run(o.name, func(t *testing.T) {
			st := o.open(t)
			if err := st.DB().Exec("DELETE FROM " + st.t.versions()).Error; err != nil {
				t.Fatal(err)
			}
			wantNotReady(t, st.Ready(t.Context()), "migrations up to 1 pending")
		})
	}
}

// TestMigrateFailureRecordsNothing: a migration that fails is not recorded, and neither is
// anything else its run would have written on SQLite (one transaction); on PostgreSQL the
// migrations before it stay applied. The failure is reported, naming the migration.
func TestMigrateFailureRecordsNothing(t *testing.T) {
	for _, o := range emptyOpeners(t) {
		t.Run(o.name, func(t *testing.T) {
			ctx := t.Context()
			st := o.open(t)
			broken := errors.New("broken migration")
			list := append(migrations(), migration{99, "fails", func(*migrator, context.Context) error { return broken }})
			_, err := st.migrateUp(ctx, list)
			if !errors.Is(err, broken) || !strings.Contains(err.Error(), "migration 99 (fails)") {
				t.Fatalf("migrateUp = %v, want the failure of migration 99", err)
			}
			applied, err := st.appliedMigrations(st.DB())
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := applied[99]; ok {
				t.Fatal("the failed migration was recorded")
			}
			_, one := applied[1]
			if pg := o.name == "postgres"; one != pg {
				t.Fatalf("migration 1 recorded = %v after a later failure, want %v", one, pg)
			}
			if o.name != "postgres" && st.DB().Migrator().HasTable(st.t.users) {
				t.Fatal("the failed run's tables were kept")
			}
		})
	}
}

// TestMigrationStatusNewerRelease: a migration recorded by a newer release is listed after the
// known ones, and MigrateUp neither fails nor reruns anything.
func TestMigrationStatusNewerRelease(t *testing.T) {
	for _, o := range openers(t) {
		t.Run(o.name, func(t *testing.T) {
			ctx := t.Context()
			st := o.open(t)
			at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			if err := st.DB().Table(st.t.versions()).Create(&schemaMigrationRow{Version: 1000, Name: "from the future", AppliedAt: at}).Error; err != nil {
				t.Fatal(err)
			}
			status, err := st.MigrationStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			last := status[len(status)-1]
			if len(status) != LatestSchemaVersion()+1 || last.Version != 1000 || last.Name != "from the future" || !last.AppliedAt.Equal(at) {
				t.Fatalf("status: %+v", status)
			}
			if ran, err := st.MigrateUp(ctx); err != nil || len(ran) != 0 {
				t.Fatalf("MigrateUp: ran %+v, %v", ran, err)
			}
			if err := st.Ready(ctx); err != nil {
				t.Fatalf("Ready: %v", err)
			}
		})
	}
}

// TestConcurrentMigrateRunsOnce: stores on one database migrating at the same time, on an
// empty database and on one of a release before versions lacking an index (which PostgreSQL
// builds concurrently while the others wait for the lock; a waiter blocked in a statement
// would hold a snapshot that the build waits for, for ever): all succeed, exactly one
// applies each migration, and each is recorded once.
func TestConcurrentMigrateRunsOnce(t *testing.T) {
	for _, o := range emptyOpeners(t) {
		for _, legacy := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/legacy=%v", o.name, legacy), func(t *testing.T) {
				ctx := t.Context()
				first := o.open(t)
				if legacy {
					loadLegacySchema(t, first)
					insertLegacyData(t, first)
					// An index that a release before that lacked, for the run to build.
					if err := first.DB().Exec("DROP INDEX " + first.t.prefix + "users_search_full_name").Error; err != nil {
						t.Fatal(err)
					}
				}
				stores := []*Store{first}
				for range 3 {
					var st *Store
					var err error
					if o.name == "postgres" {
						st, err = OpenPostgres(os.Getenv(pgEnv), Config{TablePrefix: first.t.prefix})
					} else {
						st, err = New(first.DB(), Config{})
					}
					if err != nil {
						t.Fatal(err)
					}
					if o.name == "postgres" {
						t.Cleanup(func() { st.Close() })
					}
					stores = append(stores, st)
				}
				type result struct {
					ran []MigrationStatus
					err error
				}
				results := make(chan result, len(stores))
				for _, st := range stores {
					go func() {
						ran, err := st.MigrateUp(ctx)
						results <- result{ran, err}
					}()
				}
				applied := map[int]int{}
				for range stores {
					r := <-results
					if r.err != nil {
						t.Fatalf("concurrent MigrateUp: %v", r.err)
					}
					for _, m := range r.ran {
						applied[m.Version]++
					}
				}
				for v := 1; v <= LatestSchemaVersion(); v++ {
					if applied[v] != 1 {
						t.Errorf("migration %d applied %d times", v, applied[v])
					}
				}
				if got := versionRows(t, first); len(got) != LatestSchemaVersion() {
					t.Fatalf("versions recorded: %v", got)
				}
			})
		}
	}
}

// loadLegacySchema creates st's tables as Migrate did before versioned migrations, from the
// statements it ran then (testdata/legacy_schema_*.sql).
func loadLegacySchema(t *testing.T, st *Store) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "legacy_schema_"+st.db.Dialector.Name()+".sql"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "--") {
			lines = append(lines, l)
		}
	}
	sql := strings.ReplaceAll(strings.Join(lines, "\n"), "{{prefix}}", st.t.prefix)
	for _, stmt := range strings.Split(sql, ";\n") {
		if stmt = strings.TrimSpace(stmt); stmt == "" {
			continue
		}
		if err := st.DB().Exec(stmt).Error; err != nil {
			t.Fatalf("legacy schema: %v\n%s", err, stmt)
		}
	}
}

// insertLegacyData writes rows into every table of the legacy schema, column by column, as
// the release before versioned migrations stored them (keys normalized, key_version 1).
func insertLegacyData(t *testing.T, st *Store) {
	t.Helper()
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	later := at.Add(90 * time.Minute)
	rows := []struct {
		table string
		row   map[string]any
	}{
		{st.t.apps, map[string]any{"id": 7, "name": "legacy app", "auth_key": "ak-legacy", "auth_secret": "as-legacy",
			"settings": `{"session_idle":600000000000}`, "created_at": at, "updated_at": later}},
		{st.t.users, map[string]any{"id": 11, "application_id": 7, "uid": "uid-eleven", "login": "Alice", "login_key": "alice",
			"login_skeleton": "alice", "email": "Alice@Example.org", "email_key": "alice@example.org", "full_name": "Alice A",
			"phone": "+100", "website": "https://a.example", "external_id": "ext-1", "external_user_id": 4242,
			"facebook_id": "fb-1", "twitter_id": "tw-1", "custom_data": `{"k":1}`, "avatar": "a.png", "blob_id": 3,
			"timezone": 2, "tags": `["red","Blue"]`, "is_guest": false, "blocked": true, "password_hash": "$argon2id$legacy",
			"guest_expires_at": nil, "created_at": at, "updated_at": later, "last_request_at": later, "key_version": 1}},
		{st.t.users, map[string]any{"id": 12, "application_id": 7, "uid": nil, "login": nil, "login_key": nil,
			"login_skeleton": nil, "email": nil, "email_key": nil, "full_name": "", "phone": "", "website": "",
			"external_id": "", "external_user_id": nil, "facebook_id": "", "twitter_id": "", "custom_data": "", "avatar": "",
			"blob_id": 0, "timezone": nil, "tags": "", "is_guest": true, "blocked": false, "password_hash": "",
			"guest_expires_at": later, "created_at": at, "updated_at": at, "last_request_at": nil, "key_version": 1}},
		{st.t.userTags, map[string]any{"user_id": 11, "tag_key": "red", "application_id": 7, "tag": "red"}},
		{st.t.userTags, map[string]any{"user_id": 11, "tag_key": "blue", "application_id": 7, "tag": "Blue"}},
		{st.t.accounts, map[string]any{"id": 5, "application_id": 7, "user_id": 11, "provider": "oidc", "subject": "sub-1", "created_at": at}},
		{st.t.sessions, map[string]any{"id": 21, "application_id": 7, "user_id": 11, "token_hash": []byte{0, 1, 2, 0xfe, 0xff},
			"nonce": "n-1", "ts": 1714979289, "created_at": at, "updated_at": later, "last_active_at": later,
			"idle_nanos": int64(600 * time.Second), "absolute_expires_at": nil, "expires_at": later.Add(time.Hour)}},
		{st.t.sessions, map[string]any{"id": 22, "application_id": 7, "user_id": 0, "token_hash": []byte("app-session"),
			"nonce": "n-2", "ts": 1714979290, "created_at": at, "updated_at": at, "last_active_at": at,
			"idle_nanos": 0, "absolute_expires_at": later, "expires_at": later}},
		{st.t.nonces, map[string]any{"application_id": 7, "ts": 1714979289, "nonce": "n-1", "expires_at": later}},
		{st.t.resetTokens(), map[string]any{"id": 3, "application_id": 7, "user_id": 11, "email": "Alice@Example.org",
			"token_hash": []byte("reset-hash"), "created_at": at, "expires_at": later}},
		{st.blobs(), map[string]any{"id": 3, "application_id": 7, "user_id": 11, "uid": "blob-uid-3", "name": "a.png",
			"content_type": "image/png", "size": 1234, "public": true, "state": 1, "created_at": at, "updated_at": later,
			"completed_at": later}},
	}
	for _, r := range rows {
		if err := st.DB().Table(r.table).Create(r.row).Error; err != nil {
			t.Fatalf("legacy row of %s: %v", r.table, err)
		}
	}
	if st.db.Dialector.Name() == "postgres" {
		// Explicit ids leave the sequences behind; the release's own writes never did.
		for _, tbl := range []string{st.t.apps, st.t.users, st.t.accounts, st.t.sessions, st.t.resetTokens(), st.blobs()} {
			if err := st.DB().Exec("SELECT setval(pg_get_serial_sequence(?, 'id'), (SELECT max(id) FROM "+tbl+"))", tbl).Error; err != nil {
				t.Fatal(err)
			}
		}
	}
}

// snapshot returns every row of every table of st (not the version table), as text, in
// primary key order. phase names the query apart from other phases' (PostgreSQL's cached
// plan of a SELECT * cannot outlive a column added to its table).
func snapshot(t *testing.T, st *Store, phase string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, m := range st.models() {
		var rows []map[string]any
		if err := st.DB().Raw("SELECT * FROM " + m.table + " ORDER BY 1, 2, 3 /* " + phase + " */").Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			keys := make([]string, 0, len(r))
			for k := range r {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			var b strings.Builder
			for _, k := range keys {
				v := r[k]
				if tm, ok := v.(time.Time); ok {
					v = tm.UTC().Format(time.RFC3339Nano)
				}
				fmt.Fprintf(&b, "%s=%#v ", k, v)
			}
			out[m.table] = append(out[m.table], b.String())
		}
	}
	return out
}

// indexes returns the names (without the prefix) of st's indexes on its tables, with
// whether each is unique, as "name" or "name unique"; on PostgreSQL only valid ones.
func indexes(t *testing.T, st *Store) []string {
	t.Helper()
	var names []string
	var err error
	if st.db.Dialector.Name() == "postgres" {
		err = st.DB().Raw("SELECT c.relname || CASE WHEN i.indisunique THEN ' unique' ELSE '' END FROM pg_class c"+
			" JOIN pg_index i ON i.indexrelid = c.oid WHERE i.indisvalid AND NOT i.indisprimary AND c.relname LIKE ? AND c.relnamespace = current_schema()::regnamespace",
			strings.ReplaceAll(st.t.prefix, "_", `\_`)+"%").Scan(&names).Error
	} else {
		err = st.DB().Raw("SELECT name || CASE WHEN sql LIKE 'CREATE UNIQUE%' THEN ' unique' ELSE '' END FROM sqlite_master"+
			" WHERE type = 'index' AND sql IS NOT NULL AND name LIKE ?", st.t.prefix+"%").Scan(&names).Error
	}
	if err != nil {
		t.Fatal(err)
	}
	for i := range names {
		names[i] = strings.TrimPrefix(names[i], st.t.prefix)
	}
	slices.Sort(names)
	return names
}

// TestMigrateAdoptsLegacy: a database created by the release before versioned migrations
// (its schema and rows), and one of an older release still (a column and indexes missing),
// are adopted: every row is kept as it was, the missing column and indexes are added, the
// store has exactly the indexes of a new database, and migration 1 is recorded.
func TestMigrateAdoptsLegacy(t *testing.T) {
	for _, o := range emptyOpeners(t) {
		fresh := o.open(t)
		if err := fresh.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		want := indexes(t, fresh)
		for _, older := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/older=%v", o.name, older), func(t *testing.T) {
				ctx := t.Context()
				st := o.open(t)
				loadLegacySchema(t, st)
				insertLegacyData(t, st)
				if older {
					for _, ddl := range []string{
						"ALTER TABLE " + st.t.users + " DROP COLUMN blocked",
						"DROP INDEX " + st.t.prefix + "users_search_full_name",
						"DROP INDEX " + st.t.prefix + idxSessionToken,
					} {
						if err := st.DB().Exec(ddl).Error; err != nil {
							t.Fatal(err)
						}
					}
				}
				before := snapshot(t, st, "before")
				missing := st.t.versions()
				if older {
					missing = "blocked" // Ready names the first thing missing
				}
				wantNotReady(t, st.Ready(ctx), missing)
				if status, err := st.MigrationStatus(ctx); err != nil || !status[0].Pending() {
					t.Fatalf("status of a legacy database: %+v, %v", status, err)
				}
				sqlLog := &testutil.LogBuffer{}
				ls, err := New(st.DB(), Config{TablePrefix: st.t.prefix,
					Logger: slog.New(slog.NewTextHandler(sqlLog, &slog.HandlerOptions{Level: slog.LevelDebug}))})
				if err != nil {
					t.Fatal(err)
				}
				ran, err := ls.MigrateUp(ctx)
				if err != nil {
					t.Fatalf("MigrateUp: %v", err)
				}
				if len(ran) != LatestSchemaVersion() || ran[0].Version != 1 {
					t.Fatalf("MigrateUp ran %+v", ran)
				}
				if older && o.name == "postgres" {
					// The missing indexes of tables in use were built without locking out writers.
					for _, idx := range []string{"INDEX CONCURRENTLY IF NOT EXISTS " + st.t.prefix + "users_search_full_name ",
						"UNIQUE INDEX CONCURRENTLY IF NOT EXISTS " + st.t.prefix + idxSessionToken + " "} {
						if !strings.Contains(sqlLog.String(), idx) {
							t.Errorf("no CREATE %s... in the statements run:\n%s", idx, sqlLog)
						}
					}
				}
				after := snapshot(t, st, "after")
				for _, m := range st.models() {
					b, a := before[m.table], after[m.table]
					if older && m.table == st.t.users {
						for i := range a { // the column added, which the rows before did not have
							a[i] = regexp.MustCompile(`blocked=\S+ `).ReplaceAllString(a[i], "")
						}
					}
					if !slices.Equal(b, a) {
						t.Errorf("%s changed:\nbefore %q\nafter  %q", m.table, b, a)
					}
				}
				if got := indexes(t, st); !slices.Equal(got, want) {
					t.Errorf("indexes after adoption:\n%v\nwant (as a new database)\n%v", got, want)
				}
				if err := st.Ready(ctx); err != nil {
					t.Fatalf("Ready after adoption: %v", err)
				}
				// The store reads and writes the adopted rows.
				u, err := st.UserByLogin(ctx, 7, "ALICE")
				if err != nil || u.ID != 11 || u.Email != "Alice@Example.org" || !slices.Equal(u.Tags, []string{"red", "Blue"}) {
					t.Fatalf("UserByLogin after adoption: %+v, %v", u, err)
				}
				if u.Blocked == older {
					t.Fatalf("user blocked = %v after adoption (older release: %v)", u.Blocked, older)
				}
				if s, err := st.SessionByTokenHash(ctx, []byte{0, 1, 2, 0xfe, 0xff}); err != nil || s.ID != 21 {
					t.Fatalf("SessionByTokenHash after adoption: %+v, %v", s, err)
				}
				nu := &identity.User{ApplicationID: 7, Login: "bob", CreatedAt: time.Now(), UpdatedAt: time.Now()}
				if err := st.CreateUser(ctx, nu, nil); err != nil || nu.ID <= 12 {
					t.Fatalf("CreateUser after adoption: id %d, %v", nu.ID, err)
				}
				if err := st.CreateUser(ctx, &identity.User{ApplicationID: 7, Login: "alice"}, nil); !errors.Is(err, identity.ErrUserExists) {
					t.Fatalf("CreateUser with a taken login after adoption: %v", err)
				}
			})
		}
	}
}

// pgInvalidIndex leaves an INVALID index named name on st's users table, as an interrupted
// concurrent build does: a unique concurrent build over duplicate rows fails part-way.
// Two users of one application must exist.
func pgInvalidIndex(t *testing.T, st *Store, name string) {
	t.Helper()
	if err := st.DB().Exec("DROP INDEX IF EXISTS " + name).Error; err != nil {
		t.Fatal(err)
	}
	err := st.DB().Exec("CREATE UNIQUE INDEX CONCURRENTLY " + name + " ON " + st.t.users + " (application_id)").Error
	if err == nil {
		t.Fatal("the unique build over duplicates succeeded")
	}
	var valid []bool
	if err := st.DB().Raw("SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = ?", name).Scan(&valid).Error; err != nil {
		t.Fatal(err)
	}
	if len(valid) != 1 || valid[0] {
		t.Fatalf("index %s after the failed build: valid %v, want one invalid", name, valid)
	}
}

// TestMigrateRebuildsInvalidIndex (PostgreSQL): an index left INVALID by an interrupted
// concurrent build, under the name of one of the store's indexes, is dropped and built
// again as it should be, for an index of migration 1 (adopting a database whose earlier
// adoption was interrupted) and for a unique index waiting for the data (built once the
// duplicates are gone).
func TestMigrateRebuildsInvalidIndex(t *testing.T) {
	if os.Getenv(pgEnv) == "" {
		t.Skipf("%s not set", pgEnv)
	}
	ctx := t.Context()
	st := openPostgres(t)
	want := indexes(t, st)
	app := &identity.Application{Name: "a", AuthKey: "k", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := st.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	if err := st.DB().Exec("DROP INDEX " + st.t.prefix + idxUserFacebookID).Error; err != nil {
		t.Fatal(err)
	}
	ids := rawUsers(t, st, app.ID, 2, "facebook_id = ?", "fb-shared")

	// An index of migration 1, during an adoption.
	pgInvalidIndex(t, st, st.t.prefix+"users_search_full_name")
	if err := st.DB().Exec("DROP TABLE " + st.t.versions()).Error; err != nil {
		t.Fatal(err)
	}
	// A guarded unique index, while duplicates still forbid it: dropped, not kept invalid.
	pgInvalidIndex(t, st, st.t.prefix+idxUserFacebookID)
	ws, _ := withWarnings(t, st)
	if err := ws.Migrate(ctx); err != nil {
		t.Fatalf("Migrate over invalid indexes: %v", err)
	}
	got := indexes(t, st)
	if !slices.Contains(got, "users_search_full_name") || slices.Contains(got, idxUserFacebookID+" unique") {
		t.Fatalf("indexes after Migrate: %v", got)
	}
	var n int64
	if err := st.DB().Raw("SELECT count(*) FROM pg_class WHERE relname = ?", st.t.prefix+idxUserFacebookID).Scan(&n).Error; err != nil || n != 0 {
		t.Fatalf("invalid unique index kept over duplicates: %d, %v", n, err)
	}

	// Duplicates resolved after another interrupted build: the unique index is built.
	pgInvalidIndex(t, st, st.t.prefix+idxUserFacebookID)
	if err := st.DB().Exec("UPDATE "+st.t.users+" SET facebook_id = '' WHERE id = ?", ids[1]).Error; err != nil {
		t.Fatal(err)
	}
	if err := ws.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if got := indexes(t, st); !slices.Equal(got, want) {
		t.Fatalf("indexes:\n%v\nwant\n%v", got, want)
	}
}
