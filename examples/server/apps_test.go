package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAppsUsage: bad usage and bad setting arguments exit 2 with a message naming the
// problem, before the database is opened (the -db given does not exist); help exits 0 with
// the usage on stdout at every level; a missing database exits 1.
func TestAppsUsage(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.db")
	for _, c := range []struct {
		args        []string
		code        int
		out, errOut string
	}{
		{[]string{"apps"}, exitUsage, "", "Usage: server apps list"},
		{[]string{"apps", "launch"}, exitUsage, "", `unknown command "launch"`},
		{[]string{"apps", "show"}, exitUsage, "", "wrong number of arguments"},
		{[]string{"apps", "show", "1", "2"}, exitUsage, "", "wrong number of arguments"},
		{[]string{"apps", "show", "one"}, exitUsage, "", `application id "one": want a positive number`},
		{[]string{"apps", "show", "-db", missing, "--", "-3"}, exitUsage, "", `application id "-3": want a positive number`},
		{[]string{"apps", "list", "-nope"}, exitUsage, "", "flag provided but not defined: -nope"},
		{[]string{"apps", "set", "1"}, exitUsage, "", "wrong number of arguments"},
		{[]string{"apps", "set", "1", "deny_auto_create"}, exitUsage, "", `"deny_auto_create": want KEY=VALUE`},
		{[]string{"apps", "set", "1", "auto_create=deny"}, exitUsage, "", "auto_create: no such setting"},
		{[]string{"apps", "set", "1", "deny_auto_create=maybe"}, exitUsage, "", `deny_auto_create="maybe": want true or false`},
		{[]string{"apps", "set", "1", "session_idle=soon"}, exitUsage, "", `session_idle="soon": want a duration`},
		{[]string{"apps", "set", "1", "session_idle=-5m"}, exitUsage, "", `session_idle="-5m": want a duration`},
		{[]string{"apps", "set", "1", "blob_quota.max_files=many"}, exitUsage, "", "want a whole number"},
		{[]string{"apps", "set", "1", "password_policy.Longest=3"}, exitUsage, "", "password_policy.Longest: no such setting"},
		{[]string{"apps", "set", "1", "password_policy={\"Min\":1}"}, exitUsage, "", "password_policy: want a JSON object"},
		{[]string{"apps", "set", "1", "providers.twitter={}"}, exitUsage, "", "providers.twitter: unknown provider"},
		{[]string{"apps", "set", "1", `providers.cidp={"endpoint":`}, exitUsage, "", "providers.cidp: not valid JSON"},
		{[]string{"apps", "set", "1", `providers.cidp={"endpoint":"ftp://idp.example","request_headers":{"K":"k-S3CR3T"}}`}, exitUsage, "", "providers.cidp: "},
		{[]string{"apps", "set", "1", `providers.firebase_phone={"project_ids":[]}`}, exitUsage, "", "providers.firebase_phone: "},
		{[]string{"apps", "set", "1", "password_provider=oidc"}, exitUsage, "", `password_provider "oidc": that provider has no configuration`},
		{[]string{"apps", "create", "x", "nokey"}, exitUsage, "", `"nokey": want KEY=VALUE`},
		{[]string{"apps", "delete", "1"}, exitUsage, "", "add -yes to confirm"},
		{[]string{"apps", "--help"}, exitOK, "Exit status: 0 done, 1 not found or the database failed", ""},
		{[]string{"apps", "help"}, exitOK, "rotate-keys", ""},
		{[]string{"apps", "show", "--help"}, exitOK, "-reveal", ""},
		{[]string{"apps", "set", "-h"}, exitOK, "IDENTITY_TABLE_PREFIX", ""},
		{[]string{"apps", "delete", "-help"}, exitOK, "-yes", ""},
		{[]string{"apps", "show", "1", "-db", ""}, exitUsage, "", "-db must not be empty"},
		{[]string{"apps", "list"}, exitError, "", "no database at " + missing},
	} {
		args := c.args
		if !strings.Contains(strings.Join(args, " "), "-db") {
			args = append(append([]string{}, args...), "-db", missing)
		}
		code, out, errOut := cliCmd(t, args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errOut, c.errOut) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				c.args, code, out, errOut, c.code, c.out, c.errOut)
		}
		if strings.Contains(errOut, "S3CR3T") {
			t.Errorf("%q: the error quotes a CIdP header: %s", c.args, errOut)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a command created the missing database")
	}
}

// TestAppsCommands runs every apps command on a migrated SQLite database.
func TestAppsCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "identity.db")
	if code, out, errOut := migrateCmd(t, "up", "-db", db); code != exitOK {
		t.Fatalf("migrate up: %d %s %s", code, out, errOut)
	}
	testAppsCommands(t, "-db", db)
}

// TestAppsCommandsPostgres: as TestAppsCommands on PostgreSQL (IDENTITY_TEST_POSTGRES_DSN).
func TestAppsCommandsPostgres(t *testing.T) {
	dsn := os.Getenv("IDENTITY_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("IDENTITY_TEST_POSTGRES_DSN not set")
	}
	prefix := fmt.Sprintf("apps%d_%d_", os.Getpid(), time.Now().UnixNano()%1e9)
	defer dropTables(t, dsn, prefix)
	if code, out, errOut := migrateCmd(t, "up", "-db", dsn, "-table-prefix", prefix); code != exitOK {
		t.Fatalf("migrate up: %d %s %s", code, out, errOut)
	}
	testAppsCommands(t, "-db", dsn, "-table-prefix", prefix)
}

var hexSecretRE = regexp.MustCompile(`auth_secret\s+([0-9a-f]{64})\n`)

// testAppsCommands runs the apps commands on an empty migrated database named by db.
func testAppsCommands(t *testing.T, db ...string) {
	cmd := func(args ...string) (int, string, string) {
		t.Helper()
		return cliCmd(t, append(append([]string{"apps"}, args...), db...)...)
	}
	ok := func(args ...string) string {
		t.Helper()
		return mustCLI(t, append(append([]string{"apps"}, args...), db...)...)
	}
	show := func(args ...string) appJSON {
		t.Helper()
		var a appJSON
		out := ok(append(args, "-json")...)
		if err := json.Unmarshal([]byte(out), &a); err != nil {
			t.Fatalf("%q -json: %v\n%s", args, err, out)
		}
		return a
	}

	if out := ok("list"); out != "ID  NAME  AUTH KEY  CREATED\n" {
		t.Fatalf("list of none:\n%q", out)
	}
	out := ok("create", "first", "deny_auto_create=true", "session_idle=30m")
	m := hexSecretRE.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "first") {
		t.Fatalf("create prints no secret:\n%s", out)
	}
	secret := m[1]
	if code, _, errOut := cmd("create", "  "); code != exitUsage || !strings.Contains(errOut, "invalid input: name must not be blank") {
		t.Fatalf("create with a blank name: %d %s", code, errOut)
	}
	ok("create", "second")

	var list []appJSON
	out = ok("list", "-json")
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 || list[0].Name != "first" || list[1].ID != 2 || list[0].AuthKey == "" {
		t.Fatalf("list -json: %v\n%s", err, out)
	}
	if out = ok("list"); strings.Contains(out, secret) || !strings.Contains(out, list[0].AuthKey) {
		t.Fatalf("list:\n%s", out)
	}

	out = ok("show", "1")
	for _, want := range []string{"deny_auto_create             true\n", "session_idle                 30m0s\n",
		"auth_secret                  (hidden", "local_sign_up                \"\"\n", "password_policy.MinLength    0\n", "providers                    none\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, secret) || !strings.Contains(ok("show", "1", "-reveal"), secret) {
		t.Errorf("show prints the secret, or show -reveal does not:\n%s", out)
	}

	cidpConf := `{"endpoint":"https://idp.example/verify","request_headers":{"X-Api-Key":"k-S3CR3T"},"response_params":{"uid":"#{id}"}}`
	out = ok("set", "1", "providers.cidp="+cidpConf, "password_policy.minlength=12", "local_sign_up=deny",
		"blob_quota.max_files=-1", "reset_email.subject=Reset your {{.AppName}} password", "session_idle=")
	if strings.Contains(out, "S3CR3T") {
		t.Errorf("set prints the CIdP headers:\n%s", out)
	}
	a := show("show", "1")
	s := a.Settings
	pp := s["password_policy"].(map[string]any)
	cidp := s["providers"].(map[string]any)["cidp"].(map[string]any)
	if a.AuthSecret != "" || pp["MinLength"] != 12.0 || s["local_sign_up"] != "deny" || s["password_provider"] != "cidp" ||
		s["blob_quota"].(map[string]any)["max_files"] != -1.0 || s["session_idle"] != "0s" || s["deny_auto_create"] != true ||
		s["reset_email"].(map[string]any)["subject"] != "Reset your {{.AppName}} password" ||
		cidp["endpoint"] != "https://idp.example/verify" || cidp["request_headers"].(map[string]any)["X-Api-Key"] != "(hidden)" {
		t.Fatalf("settings after set: %+v", a)
	}
	if a := show("show", "1", "-reveal"); a.AuthSecret != secret || !strings.Contains(fmt.Sprint(a.Settings), "k-S3CR3T") {
		t.Fatalf("show -reveal: %+v", a)
	}
	for _, c := range []struct{ arg, errOut string }{
		{"local_sign_up=maybe", "invalid input: local_sign_up is not valid"},
		{"reset_email.subject={{.Nope}}", "invalid input: reset_email is not valid"},
	} {
		if code, _, errOut := cmd("set", "1", c.arg); code != exitUsage || !strings.Contains(errOut, "server apps set: application 1: "+c.errOut) {
			t.Errorf("set %s: exit %d %q, want 2 with %q", c.arg, code, errOut, c.errOut)
		}
	}
	// Removing CIdP's configuration gives the logins back to the password provider.
	if a = show("set", "1", "providers.cidp="); a.Settings["password_provider"] != "" || len(a.Settings["providers"].(map[string]any)) != 0 {
		t.Fatalf("after providers.cidp=: %+v", a.Settings)
	}
	if a = show("set", "1", `providers={"firebase_phone":{"project_ids":["demo-1"]}}`); a.Settings["providers"].(map[string]any)["firebase_phone"] == nil {
		t.Fatalf("after providers={...}: %+v", a.Settings)
	}

	if code, _, errOut := cmd("set", "9", "deny_auto_create=true"); code != exitError || errOut != "server apps set: application 9: no such application\n" {
		t.Errorf("set on a missing application: exit %d %q", code, errOut)
	}
	if code, _, errOut := cmd("show", "9"); code != exitError || !strings.Contains(errOut, "application 9: no such application") {
		t.Errorf("show of a missing application: exit %d %q", code, errOut)
	}

	if a = show("rename", "1", "  renamed "); a.Name != "renamed" {
		t.Fatalf("rename: %+v", a)
	}
	if code, _, errOut := cmd("rename", "1", ""); code != exitUsage || !strings.Contains(errOut, "name must not be blank") {
		t.Errorf("rename to blank: exit %d %q", code, errOut)
	}
	if code, _, _ := cmd("rename", "9", "x"); code != exitError {
		t.Errorf("rename of a missing application: exit %d", code)
	}

	before := show("show", "1")
	rotated := show("rotate-keys", "1")
	if rotated.AuthKey == before.AuthKey || rotated.AuthSecret == "" || rotated.AuthSecret == secret {
		t.Fatalf("rotate-keys: %+v (before %+v)", rotated, before)
	}
	if code, _, _ := cmd("rotate-keys", "9"); code != exitError {
		t.Errorf("rotate-keys of a missing application: exit %d", code)
	}

	if out = ok("delete", "1", "-yes"); out != "deleted application 1\n" {
		t.Fatalf("delete: %q", out)
	}
	if code, _, errOut := cmd("delete", "-yes", "1"); code != exitError || !strings.Contains(errOut, "application 1: no such application") {
		t.Errorf("second delete: exit %d %q", code, errOut)
	}
	if err := json.Unmarshal([]byte(ok("list", "-json")), &list); err != nil || len(list) != 1 || list[0].ID != 2 {
		t.Fatalf("list after delete: %v %+v", err, list)
	}
}
