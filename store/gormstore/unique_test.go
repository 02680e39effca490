package gormstore

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil"
)

// withWarnings returns a Store on st's database and tables whose warnings go to the buffer.
func withWarnings(t *testing.T, st *Store) (*Store, *testutil.LogBuffer) {
	t.Helper()
	buf := &testutil.LogBuffer{}
	log := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ws, err := New(st.DB(), Config{TablePrefix: st.t.prefix, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return ws, buf
}

// rawUsers inserts users with raw SQL, bypassing the store (as data written before a unique
// index existed), and returns their ids.
func rawUsers(t *testing.T, st *Store, appID int64, n int, set string, args ...any) []int64 {
	t.Helper()
	ids := make([]int64, n)
	for i := range n {
		now := time.Now().UTC()
		u := &identity.User{ApplicationID: appID, UID: fmt.Sprintf("%024x", now.UnixNano()+int64(i)), CreatedAt: now, UpdatedAt: now}
		if err := st.CreateUser(t.Context(), u, nil); err != nil {
			t.Fatal(err)
		}
		ids[i] = u.ID
		if err := st.DB().Exec("UPDATE "+st.t.users+" SET "+set+" WHERE id = ?", append(args, u.ID)...).Error; err != nil {
			t.Fatalf("raw update: %v", err)
		}
	}
	return ids
}

// TestMigrateReportsDuplicates opens a database written before the unique indexes on
// external_user_id, facebook_id and twitter_id existed, holding users that share them:
// Migrate must succeed, report each set of duplicates (application, field, user ids; not the
// value), skip those indexes, and create them once the duplicates are gone.
func TestMigrateReportsDuplicates(t *testing.T) {
	for _, o := range openers(t) {
		t.Run(o.name, func(t *testing.T) {
			st := o.open(t)
			ctx := t.Context()
			for _, g := range st.guardedIndexes() {
				if err := st.DB().Exec("DROP INDEX " + st.t.prefix + g.name).Error; err != nil {
					t.Fatal(err)
				}
			}
			app := &identity.Application{Name: "a", AuthKey: "k", CreatedAt: time.Now(), UpdatedAt: time.Now()}
			if err := st.CreateApplication(ctx, app); err != nil {
				t.Fatal(err)
			}
			extDups := rawUsers(t, st, app.ID, 3, "external_user_id = ?", 675373912)
			fbDups := rawUsers(t, st, app.ID, 1, "facebook_id = ?", "fbSECRET")
			fbDups = append(fbDups, rawUsers(t, st, app.ID, 1, "facebook_id = ?", "FBsecret")...)
			rawUsers(t, st, app.ID, 1, "twitter_id = ?", "tw-unique")

			ws, log := withWarnings(t, st)
			if err := ws.Migrate(ctx); err != nil {
				t.Fatalf("Migrate over duplicates: %v", err)
			}
			out := log.String()
			for _, want := range []string{
				fmt.Sprintf("application_id=%d field=external_user_id user_ids=\"%v\"", app.ID, extDups),
				fmt.Sprintf("application_id=%d field=facebook_id user_ids=\"%v\"", app.ID, fbDups),
			} {
				if !strings.Contains(out, want) {
					t.Errorf("warning %q missing from:\n%s", want, out)
				}
			}
			for _, secret := range []string{"675373912", "SECRET", "secret", "twitter_id"} {
				if strings.Contains(out, secret) {
					t.Errorf("log shows %q:\n%s", secret, out)
				}
			}
			has := func(name string) bool { return st.DB().Migrator().HasIndex(st.t.users, st.t.prefix+name) }
			if has(idxUserExternalUserID) || has(idxUserFacebookID) {
				t.Fatal("a unique index was created over duplicates")
			}
			if !has(idxUserTwitterID) || !has("users_external_user_id") {
				t.Fatal("the twitter_id index or the external_user_id lookup index is missing")
			}
			// The index the data allows was created.
			if err := ws.CreateUser(ctx, &identity.User{ApplicationID: app.ID, UID: "dup-twitter", TwitterID: "TW-UNIQUE"}, nil); !errors.Is(err, identity.ErrUserExists) {
				t.Fatalf("CreateUser with a taken twitter_id: %v, want ErrUserExists", err)
			}

			// The operator resolves the duplicates; the next Migrate creates the indexes.
			if err := st.DB().Exec("UPDATE "+st.t.users+" SET external_user_id = NULL, facebook_id = '' WHERE id IN ?", append(extDups[1:], fbDups[1:]...)).Error; err != nil {
				t.Fatal(err)
			}
			migrateQuietly(t, ws, log)
			if !has(idxUserExternalUserID) || !has(idxUserFacebookID) || has("users_external_user_id") {
				t.Fatal("unique indexes not created (or the lookup index not dropped) after the fix")
			}
			err := ws.CreateUser(ctx, &identity.User{ApplicationID: app.ID, UID: "dup-ext", ExternalUserID: 675373912}, nil)
			var e *identity.Error
			if !errors.Is(err, identity.ErrUserExists) || !errors.As(err, &e) || e.Code("external_user_id") == "" {
				t.Fatalf("CreateUser with a taken external_user_id after the fix: %v", err)
			}
		})
	}
}

// migrateQuietly runs Migrate and fails t if it warns about anything but a slow statement.
func migrateQuietly(t *testing.T, ws *Store, log *testutil.LogBuffer) {
	t.Helper()
	before := log.Len()
	if err := ws.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate after the fix: %v", err)
	}
	for _, line := range strings.Split(log.String()[before:], "\n") {
		// A slow statement (a concurrent index build on PostgreSQL) is not what this is about.
		if line != "" && !strings.Contains(line, `msg="gormstore: query"`) {
			t.Errorf("Migrate after the fix warned:\n%s", line)
		}
	}
}

// legacyUser stores a user as the store did before Unicode normalization: keys lower-cased
// only, no login_skeleton, key_version 0.
func legacyUser(t *testing.T, st *Store, appID int64, login string) int64 {
	t.Helper()
	ids := rawUsers(t, st, appID, 1, "login = ?, login_key = ?, login_skeleton = NULL, key_version = 0",
		login, strings.ToLower(strings.TrimSpace(login)))
	return ids[0]
}

// TestMigrateRekeysLogins opens a database written before logins were NFKC-normalized and
// checked for confusables: Migrate recomputes the keys so that existing users log in in any
// compatible form, reports logins that now collide (without the logins), and creates the
// confusables index once they are resolved.
func TestMigrateRekeysLogins(t *testing.T) {
	for _, o := range openers(t) {
		t.Run(o.name, func(t *testing.T) {
			st := o.open(t)
			ctx := t.Context()
			if err := st.DB().Exec("DROP INDEX " + st.t.prefix + idxUserLoginSkeleton).Error; err != nil {
				t.Fatal(err)
			}
			app := &identity.Application{Name: "a", AuthKey: "k", CreatedAt: time.Now(), UpdatedAt: time.Now()}
			if err := st.CreateApplication(ctx, app); err != nil {
				t.Fatal(err)
			}
			wide := legacyUser(t, st, app.ID, "\uff21\uff2c\uff29\uff23\uff25") // ＡＬＩＣＥ
			plain := legacyUser(t, st, app.ID, "Bob")
			scope := legacyUser(t, st, app.ID, "scope")
			cyrScope := legacyUser(t, st, app.ID, "\u0455\u0441\u043e\u0440\u0435") // ѕсоре
			strasse := legacyUser(t, st, app.ID, "STRASSE")
			sharpS := legacyUser(t, st, app.ID, "Straße")

			ws, log := withWarnings(t, st)
			if err := ws.Migrate(ctx); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			for login, want := range map[string]int64{"alice": wide, "\uff41lice": wide, "BOB": plain, "strasse": strasse} {
				got, err := ws.UserByLogin(ctx, app.ID, login)
				if err != nil || got.ID != want {
					t.Fatalf("UserByLogin(%+q) after Migrate = %v, %v; want user %d", login, got, err, want)
				}
			}
			out := log.String()
			for _, want := range []string{
				fmt.Sprintf("application_id=%d field=login user_ids=\"%v\"", app.ID, []int64{sharpS, strasse}),
				fmt.Sprintf("application_id=%d field=login user_ids=\"%v\"", app.ID, []int64{scope, cyrScope}),
			} {
				if !strings.Contains(out, want) {
					t.Errorf("warning %q missing from:\n%s", want, out)
				}
			}
			if strings.Contains(out, "scope") || strings.Contains(out, "stra") {
				t.Errorf("log shows a login:\n%s", out)
			}
			if st.DB().Migrator().HasIndex(st.t.users, st.t.prefix+idxUserLoginSkeleton) {
				t.Fatal("confusables index created over confusable logins")
			}

			// The operator resolves both; the next Migrate rekeys and indexes everything.
			for _, id := range []int64{cyrScope, strasse} {
				if err := ws.DeleteUser(ctx, app.ID, id); err != nil {
					t.Fatal(err)
				}
			}
			migrateQuietly(t, ws, log)
			if got, err := ws.UserByLogin(ctx, app.ID, "STRASSE"); err != nil || got.ID != sharpS {
				t.Fatalf("UserByLogin(STRASSE) after the fix = %v, %v; want user %d", got, err, sharpS)
			}
			err := ws.CreateUser(ctx, &identity.User{ApplicationID: app.ID, UID: "look-alike", Login: "\u0455\u0441\u043e\u0440\u0435"}, nil)
			if !errors.Is(err, identity.ErrUserExists) {
				t.Fatalf("CreateUser of a confusable login after the fix: %v, want ErrUserExists", err)
			}
		})
	}
}

// TestMigrateRekeysManyLogins: re-keying many non-ASCII legacy logins in Migrate's one
// transaction must not pile up a savepoint per row (PostgreSQL keeps a lock for each until
// commit and ran out of shared memory at a few thousand).
func TestMigrateRekeysManyLogins(t *testing.T) {
	if os.Getenv(pgEnv) == "" {
		t.Skip(pgEnv + " not set")
	}
	const n = 20000
	st := openPostgres(t)
	ctx := t.Context()
	app := &identity.Application{Name: "a", AuthKey: "k", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := st.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	tmpl := legacyUser(t, st, app.ID, "José")
	cols, err := st.DB().Migrator().ColumnTypes(st.t.users)
	if err != nil {
		t.Fatal(err)
	}
	var names, values []string
	for _, c := range cols {
		name := c.Name()
		v := name
		switch name {
		case "id":
			continue
		case "uid":
			v = "'legacy' || g"
		case "login":
			v = "'José' || g"
		case "login_key":
			v = "'josé' || g"
		}
		names = append(names, name)
		values = append(values, v)
	}
	if err := st.DB().Exec("INSERT INTO "+st.t.users+" ("+strings.Join(names, ", ")+") SELECT "+strings.Join(values, ", ")+
		" FROM "+st.t.users+", generate_series(1, ?) AS g WHERE id = ?", n, tmpl).Error; err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("Migrate over %d legacy non-ASCII logins: %v", n, err)
	}
	if got, err := st.UserByLogin(ctx, app.ID, "JOSÉ77"); err != nil || got.Login != "José77" {
		t.Fatalf("UserByLogin after Migrate = %v, %v", got, err)
	}
}
