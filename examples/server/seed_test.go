package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/identitykit/identity/store/gormstore"
)

// startLogged runs the server like start and returns its log as well, through logs (read
// it after stop).
func startLogged(t *testing.T, db string, getenv func(string) string, args ...string) (banner string, logs *bytes.Buffer, stop func()) {
	t.Helper()
	cfg, err := parseConfig(append([]string{"-addr", "127.0.0.1:0", "-db", db, "-access-log=false", "-blob-dir", t.TempDir()}, args...), getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	logs = &bytes.Buffer{}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), &out, func(a string) { ready <- a })
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	return out.String(), logs, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run returned %v", err)
		}
	}
}

// openSQLite opens the SQLite database db for the test to read.
func openSQLite(t *testing.T, db string) *gormstore.Store {
	t.Helper()
	st, err := gormstore.OpenSQLite(db, gormstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestSeedThenDatabaseWins: the first start stores the flags' settings; a restart with
// flags that disagree keeps the stored values and logs one warning per setting naming the
// flag, its value and the stored value, never the CIdP request headers; a restart without
// flags warns about nothing. A variable of the environment counts like its flag.
func TestSeedThenDatabaseWins(t *testing.T) {
	db := filepath.Join(t.TempDir(), "identity.db")
	noEnv := func(string) string { return "" }
	_, logs, stop := startLogged(t, db, noEnv, "-session-idle", "30m", "-cidp-endpoint", "https://idp.example/verify",
		"-cidp-request-headers", `{"X-Api-Key":"k-S3CR3T"}`, "-cidp-response-params", `{"uid":"#{id}"}`)
	stop()
	if strings.Contains(logs.String(), "setting=") {
		t.Fatalf("first start warned:\n%s", logs)
	}
	st := openSQLite(t, db)
	app, err := st.Application(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if app.Settings.SessionIdle.String() != "30m0s" || app.Settings.PasswordProvider != "cidp" || app.Settings.Providers["cidp"] == nil {
		t.Fatalf("seeded settings %+v", app.Settings)
	}
	seeded := app.Settings

	env := func(k string) string {
		if k == "IDENTITY_DENY_AUTO_CREATE" {
			return "true"
		}
		return ""
	}
	_, logs, stop = startLogged(t, db, env, "-session-idle", "45m", "-cidp-endpoint", "https://other.example/verify",
		"-cidp-request-headers", `{"X-Api-Key":"k-OTHER"}`, "-cidp-response-params", `{"uid":"#{id}"}`)
	stop()
	got := logs.String()
	for _, want := range []string{
		`setting=session_idle flag=-session-idle flag_value=45m0s stored_value=30m0s`,
		`setting=deny_auto_create flag=-deny-auto-create flag_value=true stored_value=false`,
		`setting=providers.cidp flag=-cidp-endpoint`,
		`other.example`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "level=WARN msg=\"server: a flag disagrees"); n != 3 {
		t.Errorf("%d warnings, want 3:\n%s", n, got)
	}
	if strings.Contains(got, "S3CR3T") || strings.Contains(got, "k-OTHER") {
		t.Errorf("the CIdP request headers were logged:\n%s", got)
	}
	app, err = st.Application(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if app.Settings.SessionIdle != seeded.SessionIdle || app.Settings.DenyAutoCreate ||
		string(app.Settings.Providers["cidp"]) != string(seeded.Providers["cidp"]) {
		t.Fatalf("flags overwrote the stored settings: %+v", app.Settings)
	}

	_, logs, stop = startLogged(t, db, noEnv)
	stop()
	if strings.Contains(logs.String(), "setting=") {
		t.Fatalf("start without flags warned:\n%s", logs)
	}
	if app, err = st.Application(t.Context(), 1); err != nil || app.Settings.PasswordProvider != "cidp" {
		t.Fatalf("start without flags changed the settings: %+v %v", app.Settings, err)
	}
}

// TestCLIChangeReachesRunningServer: a setting changed with "server apps set" while the
// server runs applies there within its -recheck-interval, without a restart, and an
// application created with "server apps create" is served at once alongside the first.
func TestCLIChangeReachesRunningServer(t *testing.T) {
	db := filepath.Join(t.TempDir(), "identity.db")
	addr, banner, stop := start(t, db, "-recheck-interval", "50ms", "-rate-limit=false", "-blob-dir", t.TempDir())
	defer stop()
	key := keyRE.FindStringSubmatch(banner)[1]
	n := 0
	signIn := func(appID, key string) int {
		t.Helper()
		n++
		code, _ := callJSON(t, "POST", "http://"+addr+"/session.json", "",
			`{"application_id":`+appID+`,"auth_key":"`+key+`","user":{"login":"newbie`+strconv.Itoa(n)+`","password":"11111111"}}`)
		return code
	}
	if code := signIn("1", key); code != 201 {
		t.Fatalf("auto-create before the change: %d", code)
	}
	mustCLI(t, "apps", "set", "1", "deny_auto_create=true", "-db", db)
	eventually(t, "auto-create still allowed after apps set deny_auto_create=true", func() bool { return signIn("1", key) == 401 })

	out := mustCLI(t, "apps", "create", "second", "-db", db, "-json")
	var second appJSON
	if err := json.Unmarshal([]byte(out), &second); err != nil || second.ID != 2 || second.AuthKey == "" {
		t.Fatalf("apps create: %v\n%s", err, out)
	}
	if code := signIn("2", second.AuthKey); code != 201 {
		t.Fatalf("auto-create on the second application: %d", code)
	}
	if code := signIn("1", key); code != 401 {
		t.Fatalf("the first application's Deny no longer holds: %d", code)
	}
}
