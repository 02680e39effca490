// Package e2e runs the official ConnectyCube JavaScript SDK (npm connectycube 6.1.2, pinned in
// package-lock.json) against the HTTP adapter over real loopback HTTP, and the SDK's browser
// build in headless Chromium from a page on another origin.
//
// It runs only with IDENTITY_E2E=1 (.ci/run sets it) and needs Node 20 with npm, and Debian's
// chromium at /usr/bin/chromium for the browser test:
//
//	IDENTITY_E2E=1 go test ./e2e/ -v
//
// The harness starts, on 127.0.0.1:
//   - the API: identity.New over gormstore (SQLite in a temporary directory; PostgreSQL too
//     when IDENTITY_TEST_POSTGRES_DSN is set), with the password, guest, firebase_phone,
//     firebase_email and cidp providers and a fake clock, served by httpadapter.New;
//   - a Firebase key set and a Custom Identity Provider verify endpoint (providers_test.go);
//   - a control server the Node tests use to move that clock forward (POST /advance), to
//     create a fresh application per test file (POST /apps, ?providers=firebase,cidp), to
//     mint Firebase ID tokens (POST /firebase/token) and to register CIdP users
//     (POST /cidp/users);
//   - a page server, a second origin, for the browser test.
//
// Then it runs each tests/*.test.mjs file with `node --test`, one file at a time (the clock
// is shared), streaming the output, and fails if node fails. Afterwards it checks the
// server's log for secrets and the responses for any 5xx.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
	"github.com/identitykit/identity/httpadapter"
	"github.com/identitykit/identity/internal/testutil"
	"github.com/identitykit/identity/passwordreset"
	"github.com/identitykit/identity/provider/guest"
	"github.com/identitykit/identity/provider/password"
	"github.com/identitykit/identity/store/blobstore"
	"github.com/identitykit/identity/store/gormstore"
)

// sdkVersion is the connectycube npm version the suite pins (package.json, package-lock.json).
const sdkVersion = "6.1.2"

func TestSDK(t *testing.T) {
	if os.Getenv("IDENTITY_E2E") != "1" {
		t.Skip("e2e: set IDENTITY_E2E=1 to run the ConnectyCube SDK end-to-end suite " +
			"(needs node, npm and /usr/bin/chromium; .ci/run sets it up)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("e2e: node not found in PATH: %v", err)
	}
	ensureNodeModules(t)
	readSuite(t)

	files, err := filepath.Glob(filepath.Join("tests", "*.test.mjs"))
	if err != nil || len(files) == 0 {
		t.Fatalf("e2e: no tests/*.test.mjs files (err %v)", err)
	}
	sort.Strings(files)

	// The adapter at the root of its own server on SQLite; on PostgreSQL, mounted under a
	// prefix next to an application route, as an application embeds it (the SDK's api_url
	// then carries the prefix).
	setups := []setup{{name: "sqlite", backend: "sqlite"}}
	if os.Getenv("IDENTITY_TEST_POSTGRES_DSN") != "" {
		setups = append(setups, setup{name: "postgres_under_prefix", backend: "postgres", prefix: "/auth"})
	}
	for i, su := range setups {
		t.Run(su.name, func(t *testing.T) {
			srv := startServer(t, su)
			for _, f := range files {
				name := strings.TrimSuffix(filepath.Base(f), ".test.mjs")
				// The browser test exercises CORS, not the store: once is enough.
				if name == "browser" && i > 0 {
					continue
				}
				t.Run(name, func(t *testing.T) { runNode(t, srv, f) })
			}
			srv.check(t)
		})
	}
}

// ensureNodeModules runs `npm ci` when the pinned SDK is not installed in e2e/node_modules.
func ensureNodeModules(t *testing.T) {
	t.Helper()
	var pkg struct{ Version string }
	b, err := os.ReadFile(filepath.Join("node_modules", "connectycube", "package.json"))
	if err == nil && json.Unmarshal(b, &pkg) == nil && pkg.Version == sdkVersion {
		if _, err := os.Stat(filepath.Join("node_modules", "playwright-core", "package.json")); err == nil {
			return
		}
	}
	t.Logf("e2e: node_modules missing or stale: running npm ci")
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("e2e: npm ci: %v", err)
	}
}

// readSuite reads every file of the Node suite. go test caches a passing result keyed on
// the files the test opened; node reads these in a child process, so reading them here makes
// a change to any of them rerun the suite instead of reporting a stale (cached) pass.
func readSuite(t *testing.T) {
	t.Helper()
	for _, dir := range []string{"tests", "lib", "browser"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("e2e: %v", err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				if _, err := os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
					t.Fatalf("e2e: %v", err)
				}
			}
		}
	}
	for _, f := range []string{"package.json", "package-lock.json"} {
		if _, err := os.ReadFile(f); err != nil {
			t.Fatalf("e2e: %v", err)
		}
	}
}

// runNode runs one test file with node's test runner against srv.
func runNode(t *testing.T, srv *server, file string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-reporter=spec", file)
	cmd.Env = append(os.Environ(), srv.env()...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		t.Errorf("e2e: node --test %s: %v (the end of the server log and requests follow)", file, err)
		t.Log(srv.logs.Tail(64 << 10))
	}
}

// setup says how the API is run.
type setup struct {
	name    string
	backend string // "sqlite" or "postgres"
	prefix  string // path the adapter is mounted under ("" for the root)
}

// server is one running instance of the API and its helpers.
type server struct {
	setup
	api     *httptest.Server
	control *httptest.Server
	page    *httptest.Server
	app     *identity.Application
	clock   *fakeClock
	logs    *testutil.LogBuffer
	rec     *recorder
}

func (s *server) env() []string {
	return []string{
		"IDENTITY_E2E_API_URL=" + s.api.URL + s.prefix,
		"IDENTITY_E2E_CONTROL_URL=" + s.control.URL,
		"IDENTITY_E2E_PAGE_URL=" + s.page.URL,
		"IDENTITY_E2E_APP_ID=" + strconv.FormatInt(s.app.ID, 10),
		"IDENTITY_E2E_AUTH_KEY=" + s.app.AuthKey,
		"IDENTITY_E2E_AUTH_SECRET=" + s.app.AuthSecret,
		"IDENTITY_E2E_SETUP=" + s.name,
	}
}

// testPasswords are the passwords the Node tests send; none may appear in a log line.
var testPasswords = []string{
	"awesomepwd", "supersecurepwd", "newsecurepwd", "notmypassword", "wrongpassword",
	"heartofgold", "towelday42", "knownpassword", "latecomerpwd", "browserpwd123",
	"resetpwd-new42", "resetpwd-typo", "e2e-smtp-password",
}

// check fails t if the server answered any request with a 5xx, or if its log contains a
// password, an auth secret or a session token that a client sent.
func (s *server) check(t *testing.T) {
	t.Helper()
	failed := false
	if bad := s.rec.serverErrors(); len(bad) > 0 {
		t.Errorf("e2e: the server answered 5xx to: %s", strings.Join(bad, "; "))
		failed = true
	}
	logs := s.logs.String()
	secrets := append([]string(nil), testPasswords...)
	secrets = append(secrets, s.rec.secrets()...)
	for _, sec := range secrets {
		if sec != "" && strings.Contains(logs, sec) {
			t.Errorf("e2e: the server log contains a secret (%d characters, starting %q)", len(sec), sec[:3])
			failed = true
		}
	}
	if failed {
		t.Log(s.logs.Tail(64 << 10))
	}
	t.Logf("e2e: %s: %d requests served", s.name, s.rec.count())
}

func startServer(t *testing.T, su setup) *server {
	t.Helper()
	ctx := context.Background()
	logs := &testutil.LogBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// The store logs every statement at Debug; keep its warnings (slow queries) only.
	storeLogger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	clock := &fakeClock{}
	// Firebase key set, token minting and a CIdP identity service (providers_test.go).
	ext := startExternal(t, clock, logger)

	st := openStore(t, su.backend, storeLogger)
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("e2e: migrate: %v", err)
	}
	// Small argon2id parameters: the suite tests the wire, not the hashing cost.
	pw, err := password.New(password.Config{Memory: 1024, Iterations: 1, Parallelism: 1})
	if err != nil {
		t.Fatalf("e2e: password provider: %v", err)
	}
	// Blob bytes (avatars, tests/avatar.test.mjs) in a directory of their own.
	blobs, err := blobstore.OpenDir(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatalf("e2e: blob directory: %v", err)
	}
	t.Cleanup(func() { blobs.Close() })
	// Password reset mail goes over SMTP to a server in this process (mail_test.go). The
	// links point at the API, whose listener is therefore made before the identity.
	apiSrv := httptest.NewUnstartedServer(nil)
	mail, reset := startMail(t, "http://"+apiSrv.Listener.Addr().String()+su.prefix+"/password_reset")
	gp, err := guest.New(guest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.New(identity.Config{
		Store:     st,
		Hasher:    pw,
		Providers: append([]identity.Provider{pw, gp}, ext.providers()...),
		Now:       clock.Now,
		Logger:    logger,
	})
	if err != nil {
		t.Fatalf("e2e: identity.New: %v", err)
	}
	t.Cleanup(func() { id.Shutdown(context.Background()) }) // before the store closes
	reset.Store, reset.Now, reset.Logger = st, clock.Now, logger
	resetService, err := passwordreset.New(id, reset)
	if err != nil {
		t.Fatalf("e2e: passwordreset.New: %v", err)
	}
	files, err := blob.New(id, blob.Config{Store: st, Storage: blobs, Now: clock.Now, Logger: logger})
	if err != nil {
		t.Fatalf("e2e: blob.New: %v", err)
	}
	app, err := id.CreateApplication(ctx, "e2e", identity.AppSettings{})
	if err != nil {
		t.Fatalf("e2e: create application: %v", err)
	}

	s := &server{setup: su, app: app, clock: clock, logs: logs, rec: &recorder{log: logs}}
	s.rec.addSecret(app.AuthSecret)
	mail.rec.Store(s.rec)

	// The page server is a second origin: the browser test loads the SDK's browser build
	// from it and calls the API cross-origin.
	s.page = httptest.NewServer(pageHandler())
	t.Cleanup(s.page.Close)

	api := httpadapter.New(id, httpadapter.Config{
		AllowedOrigins: []string{s.page.URL},
		Logger:         logger,
		Reset:          resetService,
		Blobs:          files,
	})
	handler := api
	if su.prefix != "" {
		mux := http.NewServeMux()
		mux.Handle(su.prefix+"/", http.StripPrefix(su.prefix, api))
		// An application route beside the adapter.
		mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
		handler = mux
	}
	s.api = apiSrv
	s.api.Config.Handler = s.rec.wrap(handler)
	s.api.Start()
	t.Cleanup(s.api.Close)

	s.control = httptest.NewServer(withMail(withUserIDs(ext.control(controlHandler(id, clock, s.rec), s.rec), st), mail))
	t.Cleanup(s.control.Close)
	return s
}

// openStore opens a gormstore on backend (not yet migrated). The PostgreSQL store uses a table
// prefix of its own, so it never meets the tables of other test packages in the shared
// database, and drops its tables at the end.
func openStore(t *testing.T, backend string, logger *slog.Logger) *gormstore.Store {
	t.Helper()
	switch backend {
	case "sqlite":
		st, err := gormstore.OpenSQLite(filepath.Join(t.TempDir(), "identity.db"), gormstore.Config{Logger: logger})
		if err != nil {
			t.Fatalf("e2e: open sqlite: %v", err)
		}
		tablePrefixes.Store(st, gormstore.DefaultTablePrefix)
		t.Cleanup(func() { st.Close() })
		return st
	case "postgres":
		prefix := "e2e" + randomHex(4) + "_"
		st, err := gormstore.OpenPostgres(os.Getenv("IDENTITY_TEST_POSTGRES_DSN"), gormstore.Config{TablePrefix: prefix, Logger: logger})
		if err != nil {
			t.Fatalf("e2e: open postgres: %v", err)
		}
		tablePrefixes.Store(st, prefix)
		t.Cleanup(func() {
			var tables []string
			db := st.DB()
			if err := db.Raw("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE ?",
				prefix+"%").Scan(&tables).Error; err != nil {
				t.Errorf("e2e: list postgres tables: %v", err)
			}
			for _, tbl := range tables {
				if !strings.HasPrefix(tbl, prefix) {
					continue
				}
				if err := db.Exec(`DROP TABLE IF EXISTS "` + tbl + `" CASCADE`).Error; err != nil {
					t.Errorf("e2e: drop %s: %v", tbl, err)
				}
			}
			st.Close()
		})
		return st
	}
	t.Fatalf("e2e: unknown backend %q", backend)
	return nil
}

// pageHandler serves browser/ and the SDK's browser build.
func pageHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServer(http.Dir("browser")))
	mux.HandleFunc("GET /connectycube.min.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeFile(w, r, filepath.Join("node_modules", "connectycube", "dist", "connectycube.min.js"))
	})
	return mux
}

// controlHandler is the test-only control API:
//
//	POST /advance?seconds=N  moves the server clock forward by N seconds; {"now": RFC 3339}
//	GET  /now                the server clock; {"now": RFC 3339}
//	POST /apps               creates an application; the optional JSON body is an
//	                         identity.AppSettings; {"id","auth_key","auth_secret"}
//
// withUserIDs (userids_test.go) adds POST /users/next-id.
func controlHandler(id *identity.Identity, clock *fakeClock, rec *recorder) http.Handler {
	mux := http.NewServeMux()
	nowJSON := func(w http.ResponseWriter) {
		writeJSON(w, http.StatusOK, map[string]string{"now": clock.Now().UTC().Format(time.RFC3339Nano)})
	}
	mux.HandleFunc("POST /advance", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.URL.Query().Get("seconds"), 10, 64)
		if err != nil || n <= 0 || n > 10*365*24*3600 {
			http.Error(w, "seconds: want a positive number of seconds", http.StatusBadRequest)
			return
		}
		clock.Advance(time.Duration(n) * time.Second)
		nowJSON(w)
	})
	mux.HandleFunc("GET /now", func(w http.ResponseWriter, r *http.Request) { nowJSON(w) })
	mux.HandleFunc("POST /apps", func(w http.ResponseWriter, r *http.Request) {
		var settings identity.AppSettings
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil && len(bytes.TrimSpace(body)) > 0 {
			err = json.Unmarshal(body, &settings)
		}
		if err != nil {
			http.Error(w, "settings: "+err.Error(), http.StatusBadRequest)
			return
		}
		app, err := id.CreateApplication(r.Context(), "e2e", settings)
		if err != nil {
			http.Error(w, "create application: "+err.Error(), http.StatusInternalServerError)
			return
		}
		rec.addSecret(app.AuthSecret)
		writeJSON(w, http.StatusCreated, map[string]any{"id": app.ID, "auth_key": app.AuthKey, "auth_secret": app.AuthSecret})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// fakeClock is the wall clock plus an offset that the control server moves forward.
type fakeClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// recorder wraps the API handler: it counts responses by status and collects the session
// tokens clients sent, so that check can look for them in the log.
type recorder struct {
	log   io.Writer // one line per request: method, path, status
	mu    sync.Mutex
	n     int
	errs  []string
	known map[string]bool
	// allow503 is how many 503 answers are expected (a stand-in upstream told to fail, see
	// providers_test.go) and so not counted as server errors.
	allow503 int
}

// expect503 lets the next 503 answer pass the 5xx check.
func (rc *recorder) expect503() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.allow503++
}

func (rc *recorder) addSecret(s string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.known == nil {
		rc.known = map[string]bool{}
	}
	rc.known[s] = true
}

func (rc *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.Header.Get("CB-Token"); len(tok) >= 16 {
			rc.addSecret(tok)
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.n++
		fmt.Fprintf(rc.log, "e2e request: %s %s -> %d\n", r.Method, r.URL.Path, sw.status)
		if sw.status == http.StatusServiceUnavailable && rc.allow503 > 0 {
			rc.allow503--
		} else if sw.status >= 500 {
			rc.errs = append(rc.errs, fmt.Sprintf("%s %s -> %d", r.Method, r.URL.Path, sw.status))
		}
	})
}

func (rc *recorder) serverErrors() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.errs...)
}

func (rc *recorder) secrets() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]string, 0, len(rc.known))
	for s := range rc.known {
		out = append(out, s)
	}
	return out
}

func (rc *recorder) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.n
}

type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("e2e: crypto/rand: " + err.Error()))
	}
	return hex.EncodeToString(b)
}
