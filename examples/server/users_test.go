package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/provider/password"
	"github.com/identitykit/identity/store/gormstore"
)

// userFixture is an application with users, made through the core on the store st: ann
// (tag vip, with two sessions), bob and anna (full name "Annabel Lee").
type userFixture struct {
	id      *identity.Identity
	app     *identity.Application
	ann     *identity.User
	tokens  []string
	bob, lo *identity.User
}

func newUserFixture(t *testing.T, st *gormstore.Store) *userFixture {
	t.Helper()
	if _, err := st.MigrateUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	pw, err := password.New(password.Config{})
	if err != nil {
		t.Fatal(err)
	}
	// Another process than the commands': it reads what they write at every call.
	id, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw}, RecheckInterval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	f := &userFixture{id: id}
	if f.app, err = id.CreateApplication(t.Context(), "users", identity.AppSettings{}); err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	signUp := func(login, fullName string, tags ...string) *identity.User {
		in := identity.UserInput{Login: str(login), Password: str("11111111"), Email: str(login + "@example.com"), FullName: str(fullName)}
		if tags != nil {
			in.Tags = &tags
		}
		u, err := id.SignUp(t.Context(), f.app.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	f.ann = signUp("ann", "Ann Smith", "vip")
	f.bob = signUp("bob", "Bob Jones")
	f.lo = signUp("anna", "Annabel Lee")
	for range 2 {
		s, err := id.CreateSession(t.Context(), identity.SessionRequest{ApplicationID: f.app.ID, AuthKey: f.app.AuthKey,
			Credentials: &identity.Credentials{Login: "ann", Password: "11111111"}})
		if err != nil {
			t.Fatal(err)
		}
		f.tokens = append(f.tokens, s.Token)
	}
	return f
}

// TestUsersUsage: bad usage exits 2 before the database is opened; help exits 0.
func TestUsersUsage(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.db")
	for _, c := range []struct {
		args        []string
		code        int
		out, errOut string
	}{
		{[]string{"users"}, exitUsage, "", "Usage: server users find APP_ID"},
		{[]string{"users", "ban", "1", "2"}, exitUsage, "", `unknown command "ban"`},
		{[]string{"users", "find"}, exitUsage, "", "wrong number of arguments"},
		{[]string{"users", "block", "1"}, exitUsage, "", "wrong number of arguments"},
		{[]string{"users", "block", "1", "x"}, exitUsage, "", `user id "x": want a positive number`},
		{[]string{"users", "sessions", "0", "1"}, exitUsage, "", `application id "0": want a positive number`},
		{[]string{"users", "find", "1", "-limit", "0"}, exitUsage, "", "-limit 0: want 1 to 100"},
		{[]string{"users", "find", "1", "-limit", "101"}, exitUsage, "", "-limit 101: want 1 to 100"},
		{[]string{"users", "find", "1", "-offset", "-1"}, exitUsage, "", "-offset -1: must not be negative"},
		{[]string{"users", "find", "1", "-limit", "ten"}, exitUsage, "", `invalid value "ten" for flag -limit`},
		{[]string{"users", "delete", "1", "2"}, exitUsage, "", "add -yes to confirm"},
		{[]string{"users", "-help"}, exitOK, "revoke-sessions", ""},
		{[]string{"users", "find", "--help"}, exitOK, "-full-name-prefix", ""},
		{[]string{"users", "delete", "-h"}, exitOK, "-yes", ""},
		{[]string{"users", "block", "1", "2"}, exitError, "", "no database at"},
	} {
		code, out, errOut := cliCmd(t, append(c.args, "-db", missing)...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errOut, c.errOut) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				c.args, code, out, errOut, c.code, c.out, c.errOut)
		}
	}
}

// TestUsersCommands runs every users command on SQLite.
func TestUsersCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "identity.db")
	st, err := gormstore.OpenSQLite(db, gormstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	testUsersCommands(t, newUserFixture(t, st), "-db", db)
}

// TestUsersCommandsPostgres: as TestUsersCommands on PostgreSQL
// (IDENTITY_TEST_POSTGRES_DSN).
func TestUsersCommandsPostgres(t *testing.T) {
	dsn := os.Getenv("IDENTITY_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("IDENTITY_TEST_POSTGRES_DSN not set")
	}
	prefix := fmt.Sprintf("users%d_%d_", os.Getpid(), time.Now().UnixNano()%1e9)
	defer dropTables(t, dsn, prefix)
	st, err := gormstore.OpenPostgres(dsn, gormstore.Config{TablePrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	testUsersCommands(t, newUserFixture(t, st), "-db", dsn, "-table-prefix", prefix)
}

// usersPage is the output of "users find -json".
type usersPage struct {
	Total  int64      `json:"total"`
	Limit  int        `json:"limit"`
	Offset int        `json:"offset"`
	Users  []userJSON `json:"users"`
}

func testUsersCommands(t *testing.T, f *userFixture, db ...string) {
	app := strconv.FormatInt(f.app.ID, 10)
	ann := strconv.FormatInt(f.ann.ID, 10)
	cmd := func(args ...string) (int, string, string) {
		t.Helper()
		return cliCmd(t, append(append([]string{"users"}, args...), db...)...)
	}
	ok := func(args ...string) string {
		t.Helper()
		return mustCLI(t, append(append([]string{"users"}, args...), db...)...)
	}
	find := func(args ...string) usersPage {
		t.Helper()
		var p usersPage
		out := ok(append(append([]string{"find", app}, args...), "-json")...)
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatalf("find %q -json: %v\n%s", args, err, out)
		}
		return p
	}
	logins := func(p usersPage) string {
		var l []string
		for _, u := range p.Users {
			l = append(l, u.Login)
		}
		return strings.Join(l, ",")
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "ann,bob,anna"},
		{[]string{"-login", "bob"}, "bob"},
		{[]string{"-email", "ANN@example.com"}, "ann"},
		{[]string{"-full-name-prefix", "Anna"}, "anna"},
		{[]string{"-tag", "vip"}, "ann"},
		{[]string{"-limit", "1", "-offset", "1"}, "bob"},
		{[]string{"-login", "nobody"}, ""},
	} {
		if got := logins(find(c.args...)); got != c.want {
			t.Errorf("find %q: %q, want %q", c.args, got, c.want)
		}
	}
	if p := find("-limit", "2"); p.Total != 3 || p.Limit != 2 || len(p.Users) != 2 || p.Users[0].Email != "ann@example.com" ||
		p.Users[0].Tags[0] != "vip" || p.Users[0].Blocked {
		t.Errorf("find -limit 2: %+v", p)
	}
	out := ok("find", app, "-tag", "vip")
	if !strings.Contains(out, "ann@example.com") || !strings.Contains(out, "active") || !strings.HasSuffix(out, "1 shown (from 0) of 1 matching\n") {
		t.Errorf("find table:\n%s", out)
	}
	if code, _, errOut := cmd("find", app, "-full-name-prefix", "An"); code != exitUsage || !strings.Contains(errOut, "invalid input: full_name is too short (at least 4)") {
		t.Errorf("find with a short prefix: exit %d %q", code, errOut)
	}
	if code, _, errOut := cmd("find", "99"); code != exitError || errOut != "server users find: application 99: no such application\n" {
		t.Errorf("find on a missing application: exit %d %q", code, errOut)
	}

	var ss []sessionJSON
	out = ok("sessions", app, ann, "-json")
	if err := json.Unmarshal([]byte(out), &ss); err != nil || len(ss) != 2 || ss[0].ExpiresAt.IsZero() || strings.Contains(out, f.tokens[0]) {
		t.Fatalf("sessions -json: %v\n%s", err, out)
	}
	if out = ok("sessions", app, ann); !strings.HasPrefix(out, "ID  CREATED") || strings.Count(out, "\n") != 3 {
		t.Errorf("sessions:\n%s", out)
	}
	if out = ok("revoke-sessions", app, ann); out != "revoked 2 sessions of user "+ann+" of application "+app+"\n" {
		t.Errorf("revoke-sessions: %q", out)
	}
	if _, err := f.id.Validate(t.Context(), f.tokens[0]); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Errorf("a revoked session still validates: %v", err)
	}
	if out = ok("revoke-sessions", app, ann, "-json"); out != "{\n  \"revoked\": 0\n}\n" {
		t.Errorf("revoke-sessions -json: %q", out)
	}

	// Blocking refuses the user's sign-in; unblocking lets it in again.
	login := func() error {
		_, err := f.id.CreateSession(t.Context(), identity.SessionRequest{ApplicationID: f.app.ID, AuthKey: f.app.AuthKey,
			Credentials: &identity.Credentials{Login: "ann", Password: "11111111"}})
		return err
	}
	if out = ok("block", app, ann); !strings.HasPrefix(out, "blocked user "+ann) {
		t.Errorf("block: %q", out)
	}
	if err := login(); !errors.Is(err, identity.ErrUserBlocked) {
		t.Errorf("login of a blocked user: %v", err)
	}
	if p := find("-login", "ann"); !p.Users[0].Blocked {
		t.Errorf("find does not show the block: %+v", p)
	}
	var u userJSON
	if err := json.Unmarshal([]byte(ok("unblock", app, ann, "-json")), &u); err != nil || u.Blocked || u.Login != "ann" {
		t.Errorf("unblock -json: %v %+v", err, u)
	}
	if err := login(); err != nil {
		t.Errorf("login after unblock: %v", err)
	}

	bob := strconv.FormatInt(f.bob.ID, 10)
	if out = ok("delete", app, bob, "-yes"); out != "deleted user "+bob+" of application "+app+"\n" {
		t.Errorf("delete: %q", out)
	}
	for _, args := range [][]string{{"delete", app, bob, "-yes"}, {"block", app, bob}, {"sessions", app, bob}, {"revoke-sessions", app, bob}} {
		code, _, errOut := cmd(args...)
		if code != exitError || errOut != "server users "+args[0]+": application "+app+", user "+bob+": no such user in this application\n" {
			t.Errorf("%q on a deleted user: exit %d %q", args, code, errOut)
		}
	}
	if code, _, errOut := cmd("block", "99", ann); code != exitError || !strings.Contains(errOut, "application 99, user "+ann+": no such application") {
		t.Errorf("block in a missing application: exit %d %q", code, errOut)
	}
	if got := logins(find()); got != "ann,anna" {
		t.Errorf("users after delete: %q", got)
	}
}
