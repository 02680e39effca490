package httpadapter_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
	"github.com/identitykit/identity/httpadapter"
	"github.com/identitykit/identity/internal/testutil"
	"github.com/identitykit/identity/internal/testutil/testenv"
	"github.com/identitykit/identity/passwordreset"
	"github.com/identitykit/identity/provider/guest"
)

// logBuffer is testutil.LogBuffer under the name corpus_test.go uses.
type logBuffer = testutil.LogBuffer

type env struct {
	t     testing.TB
	id    *identity.Identity
	app   *identity.Application
	clock *testutil.Clock
	h     http.Handler
	store identity.Store
	logs  *testutil.LogBuffer
}

type envOpt struct {
	settings identity.AppSettings
	cfg      httpadapter.Config
	store    func(identity.Store) identity.Store
	hasher   identity.PasswordHasher
	// providers are added to the password and guest providers.
	providers []identity.Provider
	// appName names the application ("test" when empty).
	appName string
	// identity edits the identity's Config before identity.New.
	identity func(*identity.Config)
	// reset, when set, turns password reset on: passwordreset.New with this Config, the
	// env's store, clock and logger, given to the adapter as Config.Reset.
	reset *passwordreset.Config
	// blobs, when set, turns file storage on: a blob.Service with this Config (its Store
	// defaults to the env's store) goes to the handler's Config.Blobs.
	blobs *blob.Config
	// debugLog logs at Debug level rather than Info.
	debugLog bool
}

func newEnv(t testing.TB, opts ...func(*envOpt)) *env {
	t.Helper()
	o := &envOpt{}
	for _, f := range opts {
		f(o)
	}
	st, pw := testenv.Store(t), testenv.Passwords(t)
	var store identity.Store = st
	if o.store != nil {
		store = o.store(st)
	}
	var hasher identity.PasswordHasher = pw
	var pwProvider identity.Provider = pw
	if o.hasher != nil {
		hasher = o.hasher
		if p, ok := o.hasher.(identity.Provider); ok && p.Name() == pw.Name() {
			pwProvider = p // the hasher is a password provider: it serves logins too
		}
	}
	e := &env{t: t, clock: testutil.NewClock(time.Date(2026, 3, 4, 10, 11, 12, 345e6, time.UTC)), store: store, logs: &testutil.LogBuffer{}}
	var log *slog.Logger
	if o.debugLog {
		log = e.logs.Logger()
	} else {
		log = slog.New(slog.NewTextHandler(e.logs, nil))
	}
	gp, err := guest.New(guest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	icfg := identity.Config{
		Store:     store,
		Hasher:    hasher,
		Providers: append([]identity.Provider{pwProvider, gp}, o.providers...),
		Now:       e.clock.Now,
		Logger:    log,
	}
	if o.identity != nil {
		o.identity(&icfg)
	}
	if e.id, err = identity.New(icfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.id.Shutdown(context.Background()) }) // sends queued mail before the store closes
	name := o.appName
	if name == "" {
		name = "test"
	}
	if e.app, err = e.id.CreateApplication(context.Background(), name, o.settings); err != nil {
		t.Fatal(err)
	}
	cfg := o.cfg
	if cfg.Logger == nil {
		cfg.Logger = log
	}
	if o.reset != nil {
		rc := *o.reset
		rc.Store, rc.Now, rc.Logger = st, e.clock.Now, log
		if cfg.Reset, err = passwordreset.New(e.id, rc); err != nil {
			t.Fatal(err)
		}
	}
	if o.blobs != nil {
		bcfg := *o.blobs
		if bcfg.Store == nil {
			bcfg.Store = st
		}
		bcfg.Now, bcfg.Logger = e.clock.Now, log
		if cfg.Blobs, err = blob.New(e.id, bcfg); err != nil {
			t.Fatal(err)
		}
	}
	e.h = httpadapter.New(e.id, cfg)
	return e
}

// resp is a recorded response.
type resp struct {
	Code   int
	Header http.Header
	Body   string
}

func (r *resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	return m
}

// do sends a request through the handler. body is sent as is; a body starting with '{' gets
// Content-Type application/json unless headers set one, any other body
// application/x-www-form-urlencoded. headers are "Name: value" strings.
func (e *env) do(method, target, body string, headers ...string) *resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	if body != "" {
		if strings.HasPrefix(body, "{") {
			req.Header.Set("Content-Type", "application/json;charset=utf-8")
		} else {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
		}
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return &resp{Code: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
}

// appSession creates an application session through the API and returns its token.
func (e *env) appSession() string {
	e.t.Helper()
	r := e.do("POST", "/session.json", e.sessionBody(""))
	if r.Code != 201 {
		e.t.Fatalf("app session: %d %s", r.Code, r.Body)
	}
	return r.json(e.t)["session"].(map[string]any)["token"].(string)
}

// userSession creates (or, with auto-create, signs up) a user session and returns the token
// and the user id.
func (e *env) userSession(login, pw string) (string, int64) {
	e.t.Helper()
	r := e.do("POST", "/session.json", e.sessionBody(`,"user":{"login":`+jsonStr(login)+`,"password":`+jsonStr(pw)+`}`))
	if r.Code != 201 {
		e.t.Fatalf("user session: %d %s", r.Code, r.Body)
	}
	s := r.json(e.t)["session"].(map[string]any)
	return s["token"].(string), int64(s["user_id"].(float64))
}

// sessionBody returns a JSON session request for the env's application with extra members.
func (e *env) sessionBody(extra string) string {
	return `{"application_id":` + itoa(e.app.ID) + `,"auth_key":` + jsonStr(e.app.AuthKey) + extra + `}`
}

func jsonStr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
