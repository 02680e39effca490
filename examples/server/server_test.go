package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity/store/gormstore"
)

func TestParseConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := parseConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.DB != "identity.db" || c.DenyAutoCreate || c.SessionIdle != 2*time.Hour ||
		len(c.CORSOrigins) != 1 || c.CORSOrigins[0] != "*" || c.MaxBodyBytes != 1<<20 || !c.AccessLog {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = parseConfig([]string{"-addr", ":9000"}, env(map[string]string{
		"IDENTITY_ADDR": ":7000", "IDENTITY_DB": "postgres://u@h/db", "IDENTITY_DENY_AUTO_CREATE": "true",
		"IDENTITY_SESSION_IDLE": "30m", "IDENTITY_CORS_ORIGINS": "https://a.example, https://b.example",
		"IDENTITY_MAX_BODY_BYTES": "2048", "IDENTITY_LOG_LEVEL": "debug",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9000" || !c.isPostgres() || !c.DenyAutoCreate || c.SessionIdle != 30*time.Minute ||
		len(c.CORSOrigins) != 2 || c.CORSOrigins[1] != "https://b.example" || c.MaxBodyBytes != 2048 || c.LogLevel != slog.LevelDebug {
		t.Fatalf("env and flags: %+v", c)
	}
	if c.dbKind() != "postgres" {
		t.Fatalf("dbKind %q leaks the DSN", c.dbKind())
	}

	bad := []struct {
		args []string
		env  map[string]string
	}{
		{nil, map[string]string{"IDENTITY_DENY_AUTO_CREATE": "maybe"}},
		{nil, map[string]string{"IDENTITY_SESSION_IDLE": "soon"}},
		{nil, map[string]string{"IDENTITY_MAX_BODY_BYTES": "-1"}},
		{[]string{"-session-idle", "-5m"}, nil},
		{[]string{"-log-level", "loud"}, nil},
		{[]string{"-log-format", "xml"}, nil},
		{[]string{"-nope"}, nil},
		{[]string{"extra"}, nil},
	}
	for _, b := range bad {
		if _, err := parseConfig(b.args, env(b.env), io.Discard); err == nil {
			t.Errorf("parseConfig(%v, %v) accepted", b.args, b.env)
		}
	}

	var usage bytes.Buffer
	if _, err := parseConfig([]string{"--help"}, env(nil), &usage); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, v := range []string{"IDENTITY_ADDR", "IDENTITY_DB", "IDENTITY_DENY_AUTO_CREATE", "IDENTITY_SESSION_IDLE",
		"IDENTITY_GUEST_LIFETIME", "IDENTITY_CORS_ORIGINS", "IDENTITY_MAX_BODY_BYTES", "IDENTITY_LOG_LEVEL"} {
		if !strings.Contains(usage.String(), v) {
			t.Errorf("--help does not mention %s", v)
		}
	}
}

var keyRE = regexp.MustCompile(`auth key:\s+([0-9a-f]+)`)

// start runs the server on a free port until the returned stop is called.
func start(t *testing.T, db string, args ...string) (addr, banner string, stop func()) {
	t.Helper()
	cfg, err := parseConfig(append([]string{"-addr", "127.0.0.1:0", "-db", db, "-access-log=false"}, args...), func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return startConfig(t, cfg)
}

// startConfig runs the server with cfg until the returned stop is called.
func startConfig(t *testing.T, cfg *config) (addr, banner string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), &out, func(a string) { ready <- a })
	}()
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	return addr, out.String(), func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run returned %v", err)
		}
	}
}

// postSession posts body to /session.json of the server at addr and returns the status.
func postSession(t *testing.T, addr, body string) int {
	t.Helper()
	res, err := http.Post("http://"+addr+"/session.json", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestRunPostgres starts the server on PostgreSQL (IDENTITY_TEST_POSTGRES_DSN) with a table
// prefix of its own, and drops its tables afterwards.
func TestRunPostgres(t *testing.T) {
	dsn := os.Getenv("IDENTITY_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("IDENTITY_TEST_POSTGRES_DSN not set")
	}
	prefix := fmt.Sprintf("srv%d_", time.Now().UnixNano()%1e9)
	addr, banner, stop := start(t, dsn, "-table-prefix", prefix, "-blob-dir", t.TempDir())
	defer func() {
		stop()
		dropTables(t, dsn, prefix)
	}()
	m := keyRE.FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("banner:\n%s", banner)
	}
	res, err := http.Post("http://"+addr+"/session.json", "application/json",
		strings.NewReader(`{"application_id":1,"auth_key":"`+m[1]+`","user":{"login":"john","password":"11111111"}}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("create session: %d", res.StatusCode)
	}
}

// dropTables drops the PostgreSQL tables whose names start with prefix.
func dropTables(t *testing.T, dsn, prefix string) {
	t.Helper()
	st, err := gormstore.OpenPostgres(dsn, gormstore.Config{TablePrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var tables []string
	if err := st.DB().Raw("SELECT tablename FROM pg_tables WHERE tablename LIKE ?", prefix+"%").Scan(&tables).Error; err != nil {
		t.Error(err)
	}
	for _, name := range tables {
		if err := st.DB().Exec(`DROP TABLE IF EXISTS "` + name + `" CASCADE`).Error; err != nil {
			t.Error(err)
		}
	}
}

func TestRun(t *testing.T) {
	db := filepath.Join(t.TempDir(), "identity.db")
	addr, banner, stop := start(t, db)
	m := keyRE.FindStringSubmatch(banner)
	if m == nil || !strings.Contains(banner, "Created application 1") || !strings.Contains(banner, "auth secret:    ") ||
		strings.Contains(banner, "printed when created") {
		t.Fatalf("first banner:\n%s", banner)
	}
	key := m[1]
	post := func(addr, body string) int { return postSession(t, addr, body) }
	login := `{"application_id":1,"auth_key":"` + key + `","user":{"login":"john","password":"11111111"}}`
	if code := post(addr, login); code != 201 {
		t.Fatalf("create session: %d", code)
	}
	stop()

	// A restart reuses the application (same key) and keeps the users; the stored settings
	// win over a settings flag, and "server apps set" changes them.
	addr, banner, stop = start(t, db, "-deny-auto-create")
	if !strings.Contains(banner, "Using application 1") || !strings.Contains(banner, "auth key:       "+key) ||
		!strings.Contains(banner, "printed when created") {
		t.Fatalf("second banner:\n%s", banner)
	}
	if code := post(addr, login); code != 201 {
		t.Fatalf("existing user after restart: %d", code)
	}
	if code := post(addr, `{"application_id":1,"auth_key":"`+key+`","user":{"login":"newbie","password":"11111111"}}`); code != 201 {
		t.Fatalf("auto-create with -deny-auto-create on a stored Allow: %d", code)
	}
	stop()
	mustCLI(t, "apps", "set", "1", "deny_auto_create=true", "-db", db)
	addr, _, stop = start(t, db)
	defer stop()
	if code := post(addr, `{"application_id":1,"auth_key":"`+key+`","user":{"login":"newbie2","password":"11111111"}}`); code != 401 {
		t.Fatalf("auto-create after apps set deny_auto_create=true: %d", code)
	}
}
