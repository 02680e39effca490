package httpadapter_test

import (
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/identitykit/identity/httpadapter"
)

// recorder is an Observer that keeps what it is told, durations left out (package metrics
// tests them through its histogram).
type recorder struct {
	mu       sync.Mutex
	requests []httpadapter.RequestInfo
	logins   []httpadapter.LoginInfo
	signUps  []string
}

func (o *recorder) ObserveRequest(r httpadapter.RequestInfo) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r.Duration = 0
	o.requests = append(o.requests, r)
}

func (o *recorder) ObserveLogin(l httpadapter.LoginInfo) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.logins = append(o.logins, l)
}

func (o *recorder) ObserveSignUp(provider string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.signUps = append(o.signUps, provider)
}

// take returns and forgets what was observed.
func (o *recorder) take() ([]httpadapter.RequestInfo, []httpadapter.LoginInfo, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, l, s := o.requests, o.logins, o.signUps
	o.requests, o.logins, o.signUps = nil, nil, nil
	return r, l, s
}

// TestObserver: every request is observed with its endpoint's pattern (never the raw path),
// status and a duration; logins with their provider and outcome; accounts created by POST
// /users and by logins as sign-ups.
func TestObserver(t *testing.T) {
	obs := &recorder{}
	e := newEnv(t, func(o *envOpt) { o.cfg.Observer = obs })
	req := func(method, route string, status int) httpadapter.RequestInfo {
		return httpadapter.RequestInfo{Method: method, Route: route, Status: status}
	}
	login := func(provider string, outcome httpadapter.LoginOutcome) httpadapter.LoginInfo {
		return httpadapter.LoginInfo{Provider: provider, Outcome: outcome}
	}
	steps := []struct {
		name     string
		do       func()
		requests []httpadapter.RequestInfo
		logins   []httpadapter.LoginInfo
		signUps  []string
	}{
		{"application session", func() { e.appSession() }, []httpadapter.RequestInfo{req("POST", "POST /session", 201)}, nil, nil},
		{"auto sign-up", func() { e.userSession("obs", "password1") },
			[]httpadapter.RequestInfo{req("POST", "POST /session", 201)}, []httpadapter.LoginInfo{login("password", httpadapter.LoginSuccess)}, []string{"password"}},
		{"login", func() { e.userSession("obs", "password1") },
			[]httpadapter.RequestInfo{req("POST", "POST /session", 201)}, []httpadapter.LoginInfo{login("password", httpadapter.LoginSuccess)}, nil},
		{"wrong password", func() {
			e.do("POST", "/session.json", e.sessionBody(`,"user":{"login":"obs","password":"wrong-password"}`))
		},
			[]httpadapter.RequestInfo{req("POST", "POST /session", 401)}, []httpadapter.LoginInfo{login("password", httpadapter.LoginFailure)}, nil},
		{"guest", func() { e.do("POST", "/session.json", e.sessionBody(`,"user":{"guest":true}`)) },
			[]httpadapter.RequestInfo{req("POST", "POST /session", 201)}, []httpadapter.LoginInfo{login("guest", httpadapter.LoginSuccess)}, []string{"guest"}},
		{"unknown provider", func() { e.do("POST", "/session.json", e.sessionBody(`,"provider":"nonesuch","keys":{"token":"x"}`)) },
			[]httpadapter.RequestInfo{req("POST", "POST /session", 422)}, []httpadapter.LoginInfo{login("nonesuch", httpadapter.LoginError)}, nil},
		{"POST /login", func() {
			tok := e.appSession()
			e.do("POST", "/login.json", `{"login":"obs","password":"password1"}`, "CB-Token: "+tok)
		}, []httpadapter.RequestInfo{req("POST", "POST /session", 201), req("POST", "POST /login", 202)}, []httpadapter.LoginInfo{login("password", httpadapter.LoginSuccess)}, nil},
		{"sign-up", func() {
			e.do("POST", "/users.json", `{"user":{"login":"signed","password":"password1"}}`, "CB-Token: "+e.appSession())
		}, []httpadapter.RequestInfo{req("POST", "POST /session", 201), req("POST", "POST /users", 201)}, nil, []string{"password"}},
		{"wildcard route", func() {
			tok, id := e.userSession("obs", "password1")
			e.do("GET", fmt.Sprintf("/users/%d.json", id), "", "CB-Token: "+tok)
			e.do("GET", "/users/999999", "", "CB-Token: "+tok)
		}, []httpadapter.RequestInfo{req("POST", "POST /session", 201), req("GET", "GET /users/{id}", 200), req("GET", "GET /users/{id}", 404)},
			[]httpadapter.LoginInfo{login("password", httpadapter.LoginSuccess)}, nil},
		{"no endpoint", func() {
			e.do("GET", "/no/such/path/12345", "")
			e.do("PATCH", "/session", "")
			e.do("OPTIONS", "/users/7", "", "Origin: https://app.example", "Access-Control-Request-Method: PUT")
		}, []httpadapter.RequestInfo{req("GET", "", 404), req("PATCH", "", 405), req("OPTIONS", "", 204)}, nil, nil},
	}
	for _, s := range steps {
		s.do()
		r, l, u := obs.take()
		if !reflect.DeepEqual(r, s.requests) || !reflect.DeepEqual(l, s.logins) || !reflect.DeepEqual(u, s.signUps) {
			t.Fatalf("%s: observed\n requests %+v\n logins %+v\n sign-ups %q\nwant\n requests %+v\n logins %+v\n sign-ups %q",
				s.name, r, l, u, s.requests, s.logins, s.signUps)
		}
	}
}
