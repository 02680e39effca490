package httpadapter_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/httpadapter"
)

// faultyStore fails or panics in SessionByTokenHash on demand.
type faultyStore struct {
	identity.Store
	mu    sync.Mutex
	err   error
	panic bool
}

func (f *faultyStore) set(err error, panics bool) {
	f.mu.Lock()
	f.err, f.panic = err, panics
	f.mu.Unlock()
}

func (f *faultyStore) SessionByTokenHash(ctx context.Context, h []byte) (*identity.Session, error) {
	f.mu.Lock()
	err, panics := f.err, f.panic
	f.mu.Unlock()
	if panics {
		panic("faultyStore: boom")
	}
	if err != nil {
		return nil, err
	}
	return f.Store.SessionByTokenHash(ctx, h)
}

func TestStoreFailures(t *testing.T) {
	fs := &faultyStore{}
	e := newEnv(t, func(o *envOpt) {
		o.store = func(s identity.Store) identity.Store { fs.Store = s; return fs }
	})
	unknown := "CB-Token: " + strings.Repeat("b", 64)

	fs.set(errors.New("gormstore: select: disk I/O error at /var/lib/secret-path"), false)
	r := e.do("GET", "/session.json", "", unknown)
	wantStatus(t, r, 500, `{"errors":{"base":["Internal Server Error"]}}`)
	if strings.Contains(r.Body, "secret-path") {
		t.Fatal("internal detail sent to the client")
	}
	if logs := e.logs.String(); !strings.Contains(logs, "secret-path") || !strings.Contains(logs, "/session.json") {
		t.Fatalf("500 cause not logged: %s", logs)
	}

	fs.set(fmt.Errorf("gormstore: %w: connection refused", identity.ErrUnavailable), false)
	r = e.do("GET", "/session.json", "", unknown)
	wantStatus(t, r, 503, `{"errors":["Service temporarily unavailable, retry later"]}`)
	if r.Header.Get("Retry-After") != "5" {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}

	fs.set(nil, true)
	r = e.do("GET", "/session.json", "", unknown)
	wantStatus(t, r, 500, `{"errors":{"base":["Internal Server Error"]}}`)
	if logs := e.logs.String(); !strings.Contains(logs, "faultyStore: boom") || !strings.Contains(logs, "panic") {
		t.Fatalf("panic not logged: %s", logs)
	}
	fs.set(nil, false)
	wantStatus(t, e.do("GET", "/session.json", "", unknown), 401, bodySessionNotFound)
}

// busyHasher refuses every hash, like a saturated argon2id pool.
type busyHasher struct{ identity.PasswordHasher }

func (busyHasher) Hash(context.Context, string) (string, error) { return "", identity.ErrBusy }

func TestBusyHasher(t *testing.T) {
	e := newEnv(t, func(o *envOpt) { o.hasher = busyHasher{} })
	r := e.do("POST", "/users.json", `{"user":{"login":"john","password":"12345678"}}`, "CB-AuthKey: "+e.app.AuthKey)
	wantStatus(t, r, 503, `{"errors":["Server busy, retry later"]}`)
	if r.Header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t)
	tok := e.appSession()
	wantStatus(t, e.do("GET", "/nope", ""), 404, `{"errors":["Not found"]}`)
	wantStatus(t, e.do("GET", "/session.xml", "", "CB-Token: "+tok), 404, `{"errors":["Not found"]}`)
	r := e.do("PATCH", "/session.json", "")
	wantStatus(t, r, 405, `{"errors":["Method not allowed"]}`)
	if r.Header.Get("Allow") == "" {
		t.Fatal("no Allow header on 405")
	}
	wantStatus(t, e.do("POST", "/users/5", "{}"), 405, `{"errors":["Method not allowed"]}`)
	if r = e.do("HEAD", "/session.json", "", "CB-Token: "+tok); r.Code != 200 {
		t.Fatalf("HEAD: %d", r.Code)
	}
	// A non-canonical path is redirected by the router, not turned into an error body.
	if r := e.do("GET", "/x/../session.json", "", "CB-Token: "+tok); r.Code/100 != 3 || r.Header.Get("Location") == "" {
		t.Fatalf("unclean path: %d %s", r.Code, r.Body)
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, func(o *envOpt) { o.cfg.MaxBodyBytes = 256 })
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	post := func(body io.Reader, length int64) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/session.json", body)
		req.Header.Set("Content-Type", "application/json")
		req.ContentLength = length
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	big := `{"application_id":1,"auth_key":"` + strings.Repeat("k", 300) + `"}`
	for name, length := range map[string]int64{"declared": int64(len(big)), "chunked": -1} {
		var rd io.Reader = strings.NewReader(big)
		if length < 0 {
			rd = io.MultiReader(strings.NewReader(big)) // hides the length: chunked
		}
		res := post(rd, length)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 413 || string(b) != `{"errors":["Request entity too large"]}` {
			t.Fatalf("%s: %d %s", name, res.StatusCode, b)
		}
	}
	res := post(strings.NewReader(e.sessionBody("")), int64(len(e.sessionBody(""))))
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("small body: %d", res.StatusCode)
	}
}

func TestCORS(t *testing.T) {
	preflight := func(h http.Handler, origin string) *http.Response {
		srv := httptest.NewServer(h)
		defer srv.Close()
		req, _ := http.NewRequest("OPTIONS", srv.URL+"/session.json", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "cb-token,cb-sdk,content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	e := newEnv(t)
	res := preflight(e.h, "https://app.example")
	if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("preflight: %d %v", res.StatusCode, res.Header)
	}
	allowed := strings.ToLower(res.Header.Get("Access-Control-Allow-Headers"))
	for _, h := range []string{"cb-token", "cb-sdk", "cb-authkey", "content-type", "connectycube-rest-api-version", "authorization"} {
		if !strings.Contains(allowed, h) {
			t.Errorf("Access-Control-Allow-Headers %q lacks %s", allowed, h)
		}
	}
	if m := res.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "PUT") || !strings.Contains(m, "DELETE") {
		t.Errorf("Access-Control-Allow-Methods %q", m)
	}
	r := e.do("POST", "/session.json", e.sessionBody(""), "Origin: https://app.example")
	if r.Header.Get("Access-Control-Allow-Origin") != "*" || r.Header.Get("Access-Control-Expose-Headers") != "CB-Token-ExpirationDate, Date" {
		t.Fatalf("simple response headers %v", r.Header)
	}

	// A configured origin list.
	e = newEnv(t, func(o *envOpt) { o.cfg.AllowedOrigins = []string{"https://good.example"} })
	res = preflight(e.h, "https://good.example")
	if res.Header.Get("Access-Control-Allow-Origin") != "https://good.example" || res.Header.Get("Vary") != "Origin" ||
		res.Header.Get("Access-Control-Allow-Headers") == "" {
		t.Fatalf("allowed origin: %v", res.Header)
	}
	res = preflight(e.h, "https://evil.example")
	if res.Header.Get("Access-Control-Allow-Origin") != "" || res.Header.Get("Access-Control-Allow-Headers") != "" {
		t.Fatalf("disallowed origin: %v", res.Header)
	}
	r = e.do("GET", "/session.json", "", "Origin: https://evil.example")
	if r.Header.Get("Access-Control-Allow-Origin") != "" || r.Code != 401 {
		t.Fatalf("disallowed origin: %d %v", r.Code, r.Header)
	}
}

func TestMiddleware(t *testing.T) {
	e := newEnv(t)
	var seen atomic.Value
	app := httpadapter.Middleware(e.id, httpadapter.Config{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, sok := httpadapter.SessionFromContext(r.Context())
		u, uok := httpadapter.UserFromContext(r.Context())
		login := ""
		if uok {
			login = u.Login
		}
		seen.Store(fmt.Sprintf("%v %v %v %s", sok, s != nil, uok, login))
		w.WriteHeader(204)
	}))
	appTok := e.appSession()
	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", e.h))
	mux.Handle("/me", app)
	e.h = mux

	r := e.do("POST", "/auth/session.json", e.sessionBody(`,"user":{"login":"john","password":"11111111"}`))
	wantStatus(t, r, 201, "")
	tok := session(t, r)["token"].(string)

	for _, h := range []string{"CB-Token: " + tok, "Authorization: Bearer " + tok, "Authorization: bearer " + tok} {
		r = e.do("GET", "/me", "", h)
		if r.Code != 204 || seen.Load() != "true true true john" || r.Header.Get("CB-Token-ExpirationDate") == "" {
			t.Fatalf("%s: %d %v %v", h, r.Code, seen.Load(), r.Header)
		}
	}
	r = e.do("GET", "/me", "", "CB-Token: "+appTok)
	if r.Code != 204 || seen.Load() != "true true false " {
		t.Fatalf("app session: %d %v", r.Code, seen.Load())
	}
	seen.Store("not called")
	wantStatus(t, e.do("GET", "/me", ""), 401, bodySessionNotFound)
	wantStatus(t, e.do("GET", "/me", "", "CB-Token: nope"), 401, bodySessionNotFound)
	if seen.Load() != "not called" {
		t.Fatal("handler called without a session")
	}
	if _, ok := httpadapter.SessionFromContext(context.Background()); ok {
		t.Fatal("session in an empty context")
	}
	if _, ok := httpadapter.UserFromContext(context.Background()); ok {
		t.Fatal("user in an empty context")
	}
}

// TestConcurrentRequests runs the endpoints side by side (meaningful under -race).
func TestConcurrentRequests(t *testing.T) {
	e := newEnv(t)
	tok, uid := e.userSession("john", "11111111")
	var wg sync.WaitGroup
	errc := make(chan string, 100)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				if r := e.do("GET", "/session.json", "", "CB-Token: "+tok); r.Code != 200 {
					errc <- fmt.Sprintf("get session: %d %s", r.Code, r.Body)
				}
				body := fmt.Sprintf(`{"user":{"full_name":"John %d-%d"}}`, i, j)
				if r := e.do("PUT", "/users/"+itoa(uid), body, "CB-Token: "+tok); r.Code != 200 {
					errc <- fmt.Sprintf("update: %d %s", r.Code, r.Body)
				}
				body = fmt.Sprintf(`{"user":{"login":"user-%d-%d","password":"12345678"}}`, i, j)
				if r := e.do("POST", "/users.json", body, "CB-AuthKey: "+e.app.AuthKey); r.Code != 201 {
					errc <- fmt.Sprintf("sign up: %d %s", r.Code, r.Body)
				}
			}
		}(i)
	}
	wg.Wait()
	close(errc)
	for msg := range errc {
		t.Error(msg)
	}
}

// FuzzCreateSession posts arbitrary bodies to POST /session: the answer is never a 5xx, and
// always a JSON session or a ConnectyCube error body.
func FuzzCreateSession(f *testing.F) {
	for _, s := range []struct{ ct, body string }{
		{"application/json", `{"application_id":1,"auth_key":"k","user":{"login":"john","password":"11111111"}}`},
		{"application/json", `{"application_id":"1","auth_key":"k","nonce":"1","timestamp":"1","signature":"00","user":{"guest":"1","full_name":"x"}}`},
		{"application/json", `{"application_id":1,"provider":"firebase_phone","firebase_phone[project_id]":"p"}`},
		{"application/x-www-form-urlencoded", "application_id=1&auth_key=k&user[login]=a&user[password]=b"},
		{"application/x-www-form-urlencoded", "user[]=1&user[login]=2"},
		{"", "{"},
	} {
		f.Add(s.ct, s.body)
	}
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, ct, body string) {
		body = strings.ReplaceAll(body, `"k"`, `"`+e.app.AuthKey+`"`)
		req := httptest.NewRequest("POST", "/session.json", strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		out := rec.Body.String()
		if !strings.HasPrefix(out, `{"session":{`) && !strings.HasPrefix(out, `{"errors":`) {
			t.Fatalf("unexpected body %q", out)
		}
	})
}

// With an origin list, every answer varies on Origin, also to requests that carry none, so a
// cached same-origin answer is not reused for a cross-origin request.
func TestVaryOriginWithoutOrigin(t *testing.T) {
	e := newEnv(t, func(o *envOpt) { o.cfg.AllowedOrigins = []string{"https://good.example"} })
	r := e.do("GET", "/session.json", "")
	if got := r.Header.Values("Vary"); len(got) != 1 || got[0] != "Origin" {
		t.Fatalf("Vary = %q, want [Origin]", got)
	}
}
