package httpadapter_test

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil"
)

const (
	bodySessionNotFound = `{"errors":{"base":["Required session does not exist"]}}`
	bodyNeedUser        = `{"errors":{"base":["Forbidden. Need user."]}}`
	bodyUnauthorized    = `{"errors":["Unauthorized"]}`
	bodyUnknownApp      = `{"errors":["Unknown application or invalid auth key"]}`
)

// wantStatus fails unless r has status code and, when body is not "", exactly that JSON body
// (compared after compaction).
func wantStatus(t *testing.T, r *resp, code int, body string) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("status %d, want %d; body %s", r.Code, code, r.Body)
	}
	if body == "" {
		return
	}
	if got, want := compact(t, r.Body), compact(t, body); got != want {
		t.Fatalf("body %s\nwant %s", got, want)
	}
}

func compact(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %q", s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// recordingProvider stands in for firebase_phone, facebook and the like: it records the
// credentials it is given and proves Subject = the access token (or keys token).
type recordingProvider struct {
	name string
	mu   sync.Mutex
	got  []identity.Credentials
}

func (p *recordingProvider) Name() string { return p.name }

func (p *recordingProvider) Authenticate(_ context.Context, req *identity.AuthRequest) (*identity.Claims, error) {
	p.mu.Lock()
	p.got = append(p.got, req.Credentials)
	p.mu.Unlock()
	sub := req.Credentials.Params["access_token"] + req.Credentials.Params["token"]
	if sub == "" {
		return nil, identity.NewError("fake", identity.ErrInvalidInput, "keys[token]", "missing")
	}
	return &identity.Claims{Subject: sub}, nil
}

func (p *recordingProvider) last() identity.Credentials {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.got) == 0 {
		return identity.Credentials{}
	}
	return p.got[len(p.got)-1]
}

func session(t *testing.T, r *resp) map[string]any {
	t.Helper()
	s, ok := r.json(t)["session"].(map[string]any)
	if !ok {
		t.Fatalf("no session object in %s", r.Body)
	}
	return s
}

var (
	tokenRE      = regexp.MustCompile(`^[0-9a-f]{64}$`)
	sessionTime  = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	userTime     = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
	expirationRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$`)
)

func TestCreateApplicationSession(t *testing.T) {
	e := newEnv(t)
	app := strconv.FormatInt(e.app.ID, 10)
	key := url.QueryEscape(e.app.AuthKey)
	tests := []struct {
		name, path, body string
		headers          []string
	}{
		{"json number id", "/session.json", `{"application_id":` + app + `,"auth_key":"` + e.app.AuthKey + `"}`, nil},
		{"json string id, bare path", "/session", `{"application_id":"` + app + `","auth_key":"` + e.app.AuthKey + `"}`, nil},
		{"form", "/session.json", "application_id=" + app + "&auth_key=" + key, nil},
		{"query string", "/session?application_id=" + app + "&auth_key=" + key, "", nil},
		{"stale CB-Token ignored", "/session.json", `{"application_id":` + app + `,"auth_key":"` + e.app.AuthKey + `"}`, []string{"CB-Token: stale-token"}},
		{"empty CB-Token", "/session.json", `{"application_id":` + app + `,"auth_key":"` + e.app.AuthKey + `"}`, []string{"CB-Token: "}},
		{"empty user object is an app session", "/session.json", `{"application_id":` + app + `,"auth_key":"` + e.app.AuthKey + `","user":{}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", tt.path, tt.body, tt.headers...)
			wantStatus(t, r, 201, "")
			s := session(t, r)
			if s["user_id"] != nil {
				t.Errorf("user_id = %v, want null", s["user_id"])
			}
			if _, ok := s["user"]; ok {
				t.Error("app session has a user")
			}
			if s["application_id"] != float64(e.app.ID) {
				t.Errorf("application_id = %#v", s["application_id"])
			}
			if tok, _ := s["token"].(string); !tokenRE.MatchString(tok) {
				t.Errorf("token %q", tok)
			}
			if s["ts"] != float64(e.clock.Now().Unix()) {
				t.Errorf("ts = %v", s["ts"])
			}
			for _, k := range []string{"created_at", "updated_at"} {
				if v, _ := s[k].(string); v != "2026-03-04T10:11:12.345Z" {
					t.Errorf("%s = %q", k, v)
				}
			}
			if got := r.Header.Get("CB-Token-ExpirationDate"); got != "2026-03-04 12:11:12 UTC" {
				t.Errorf("CB-Token-ExpirationDate = %q", got)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func TestCreateSessionErrors(t *testing.T) {
	e := newEnv(t)
	app := strconv.FormatInt(e.app.ID, 10)
	tests := []struct {
		name, body string
		code       int
		want       string
	}{
		{"unknown application", `{"application_id":999,"auth_key":"` + e.app.AuthKey + `"}`, 401, bodyUnknownApp},
		{"wrong auth key", `{"application_id":` + app + `,"auth_key":"nope"}`, 401, bodyUnknownApp},
		{"missing application_id", `{"auth_key":"k"}`, 422, `{"errors":{"application_id":["cannot be blank"]}}`},
		{"malformed application_id", `{"application_id":"abc","auth_key":"k"}`, 422, `{"errors":{"application_id":["is invalid"]}}`},
		{"negative application_id", `{"application_id":-1,"auth_key":"k"}`, 422, `{"errors":{"application_id":["is invalid"]}}`},
		{"missing auth_key", `{"application_id":1}`, 422, `{"errors":{"auth_key":["cannot be blank"]}}`},
		{"auth_key object", `{"application_id":1,"auth_key":{"a":1}}`, 422, `{"errors":{"auth_key":["is invalid"]}}`},
		{"login as object", e.sessionBody(`,"user":{"login":{"x":1},"password":"p"}`), 422, `{"errors":{"login":["is invalid"]}}`},
		{"malformed timestamp", e.sessionBody(`,"timestamp":"soon"`), 422, `{"errors":{"timestamp":["is invalid"]}}`},
		{"password without login", e.sessionBody(`,"user":{"password":"12345678"}`), 422, `{"errors":{"base":["login or email is required"]}}`},
		{"login without password", e.sessionBody(`,"user":{"login":"john"}`), 422, `{"errors":{"password":["cannot be blank"]}}`},
		{"unknown provider", e.sessionBody(`,"provider":"myspace"`), 422, `{"errors":{"provider":["is not supported"]}}`},
		{"malformed JSON", `{"application_id":`, 400, `{"errors":["Bad request: malformed JSON body"]}`},
		{"conflicting keys", `{"user":"x","user[login]":"y"}`, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantStatus(t, e.do("POST", "/session.json", tt.body), tt.code, tt.want)
		})
	}
	wantStatus(t, e.do("POST", "/session.json", `[1]`, "Content-Type: application/json"), 400,
		`{"errors":["Bad request: the JSON body must be an object"]}`)
}

func TestCreateUserSession(t *testing.T) {
	e := newEnv(t)
	// Auto sign-up (Allow is the default), then login with the same password.
	r := e.do("POST", "/session.json", e.sessionBody(`,"user":{"login":"john","password":"11111111"}`))
	wantStatus(t, r, 201, "")
	s := session(t, r)
	u, ok := s["user"].(map[string]any)
	if !ok {
		t.Fatalf("no user in %s", r.Body)
	}
	if s["user_id"] != u["id"] || u["login"] != "john" {
		t.Fatalf("session %v", s)
	}
	if r.Header.Get("CB-Token-ExpirationDate") != "2026-03-04 12:11:12 UTC" {
		t.Fatalf("expiration %q", r.Header.Get("CB-Token-ExpirationDate"))
	}
	// Form-encoded, bare path, email login of a user created by sign-up.
	wantStatus(t, e.do("POST", "/users.json", `{"user":{"email":"Dacia_K@domain.com","password":"petU4or!"}}`, "CB-AuthKey: "+e.app.AuthKey), 201, "")
	form := "application_id=" + itoa(e.app.ID) + "&auth_key=" + e.app.AuthKey + "&user%5Bemail%5D=dacia_k%40domain.com&user%5Bpassword%5D=petU4or%21"
	r = e.do("POST", "/session", form)
	wantStatus(t, r, 201, "")
	if got := session(t, r)["user"].(map[string]any)["email"]; got != "dacia_k@domain.com" {
		t.Fatalf("email = %v", got)
	}
	// Wrong password and (with Deny) unknown user: one 401 body.
	wantStatus(t, e.do("POST", "/session.json", e.sessionBody(`,"user":{"login":"john","password":"wrong-password"}`)), 401, bodyUnauthorized)
	deny := newEnv(t, func(o *envOpt) { o.settings.DenyAutoCreate = true })
	wantStatus(t, deny.do("POST", "/session.json", deny.sessionBody(`,"user":{"login":"nobody","password":"11111111"}`)), 401, bodyUnauthorized)
}

func TestCreateGuestSession(t *testing.T) {
	e := newEnv(t)
	bodies := map[string]string{
		"json": e.sessionBody(`,"timestamp":"1678966390","user":{"guest":"1","full_name":"Olof Shodger"}`),
		"form": "application_id=" + itoa(e.app.ID) + "&auth_key=" + e.app.AuthKey + "&user[guest]=1&user[full_name]=Olof+Shodger",
		"bool": e.sessionBody(`,"user":{"guest":true,"full_name":"Olof Shodger"}`),
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			r := e.do("POST", "/session.json", body)
			wantStatus(t, r, 201, "")
			u := session(t, r)["user"].(map[string]any)
			if u["is_guest"] != true || u["full_name"] != "Olof Shodger" || !strings.HasPrefix(u["login"].(string), "guest_login_") {
				t.Fatalf("guest user %v", u)
			}
			// A guest session lives a day.
			if got := r.Header.Get("CB-Token-ExpirationDate"); got != "2026-03-05 10:11:12 UTC" {
				t.Fatalf("expiration %q", got)
			}
		})
	}
	// A client timestamp is echoed as ts.
	r := e.do("POST", "/session.json", bodies["json"])
	if ts := session(t, r)["ts"]; ts != float64(1678966390) {
		t.Fatalf("ts = %v", ts)
	}
}

func sign(secret string, p map[string]string) string { return testutil.SignSessionRequest(secret, p) }

func TestSignedSession(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now().Unix()
	ts := strconv.FormatInt(now, 10)
	app := itoa(e.app.ID)
	signed := map[string]string{
		"application_id": app, "auth_key": e.app.AuthKey, "nonce": "111", "timestamp": ts,
		"user[login]": "john", "user[password]": "11111111",
	}
	sig := sign(e.app.AuthSecret, signed)

	// JSON with string values, as Flutter sends.
	body := `{"application_id":"` + app + `","auth_key":"` + e.app.AuthKey + `","nonce":"111","timestamp":"` + ts +
		`","signature":"` + sig + `","user":{"login":"john","password":"11111111"}}`
	r := e.do("POST", "/session.json", body)
	wantStatus(t, r, 201, "")
	s := session(t, r)
	if s["nonce"] != float64(111) || s["ts"] != float64(now) || s["user"] == nil {
		t.Fatalf("session %v", s)
	}
	// The same (timestamp, nonce) again.
	wantStatus(t, e.do("POST", "/session.json", body), 422, `{"errors":{"nonce":["has already been used"]}}`)

	// Form body with numbers, as JavaScript SDK 3 and PHP clients send.
	signed["nonce"] = "112"
	form := url.Values{}
	for k, v := range signed {
		form.Set(k, v)
	}
	form.Set("signature", sign(e.app.AuthSecret, signed))
	wantStatus(t, e.do("POST", "/session", form.Encode()), 201, "")

	// JSON numbers sign as their literal text.
	signed["nonce"] = "113"
	body = `{"application_id":` + app + `,"auth_key":"` + e.app.AuthKey + `","nonce":113,"timestamp":` + ts +
		`,"signature":"` + sign(e.app.AuthSecret, signed) + `","user":{"login":"john","password":"11111111"}}`
	wantStatus(t, e.do("POST", "/session.json", body), 201, "")

	// User parameters left out of the signed string: the signature does not match.
	appOnly := map[string]string{"application_id": app, "auth_key": e.app.AuthKey, "nonce": "114", "timestamp": ts}
	body = `{"application_id":` + app + `,"auth_key":"` + e.app.AuthKey + `","nonce":114,"timestamp":` + ts +
		`,"signature":"` + sign(e.app.AuthSecret, appOnly) + `","user":{"login":"john","password":"11111111"}}`
	wantStatus(t, e.do("POST", "/session.json", body), 422, `{"errors":["Unexpected signature"]}`)

	// A timestamp two hours old.
	old := strconv.FormatInt(now-7200, 10)
	appOnly["timestamp"], appOnly["nonce"] = old, "115"
	body = `{"application_id":` + app + `,"auth_key":"` + e.app.AuthKey + `","nonce":115,"timestamp":` + old +
		`,"signature":"` + sign(e.app.AuthSecret, appOnly) + `"}`
	wantStatus(t, e.do("POST", "/session.json", body), 422, `{"errors":{"timestamp":["is invalid"]}}`)
}

// TestRequireSignatureWire: an application with RequireSignature answers an unsigned POST
// /session 422 {"errors":["Unexpected signature"]} (JSON and form, with and without a user)
// and a signed one 201.
func TestRequireSignatureWire(t *testing.T) {
	e := newEnv(t, func(o *envOpt) { o.settings.RequireSignature = true })
	app := itoa(e.app.ID)
	for _, body := range []string{
		e.sessionBody(""),
		e.sessionBody(`,"user":{"login":"john","password":"11111111"}`),
		"application_id=" + app + "&auth_key=" + e.app.AuthKey + "&nonce=1&timestamp=" + strconv.FormatInt(e.clock.Now().Unix(), 10),
		e.sessionBody(`,"signature":""`),
	} {
		wantStatus(t, e.do("POST", "/session.json", body), 422, `{"errors":["Unexpected signature"]}`)
	}
	ts := strconv.FormatInt(e.clock.Now().Unix(), 10)
	signed := map[string]string{"application_id": app, "auth_key": e.app.AuthKey, "nonce": "7", "timestamp": ts}
	body := `{"application_id":` + app + `,"auth_key":"` + e.app.AuthKey + `","nonce":7,"timestamp":` + ts +
		`,"signature":"` + sign(e.app.AuthSecret, signed) + `"}`
	wantStatus(t, e.do("POST", "/session.json", body), 201, "")
}

func TestProviderCredentials(t *testing.T) {
	phone := &recordingProvider{name: "firebase_phone"}
	email := &recordingProvider{name: "firebase_email"}
	fb := &recordingProvider{name: "facebook"}
	e := newEnv(t, func(o *envOpt) { o.providers = []identity.Provider{phone, email, fb} })
	tests := []struct {
		name string
		body string
		p    *recordingProvider
		want map[string]string
	}{
		{"nested JSON", e.sessionBody(`,"provider":"firebase_phone","firebase_phone":{"project_id":"proj","access_token":"tok1"}`),
			phone, map[string]string{"project_id": "proj", "access_token": "tok1"}},
		{"flat keys inside JSON", e.sessionBody(`,"provider":"firebase_phone","firebase_phone[project_id]":"proj","firebase_phone[access_token]":"tok2"`),
			phone, map[string]string{"project_id": "proj", "access_token": "tok2"}},
		{"form", "application_id=" + itoa(e.app.ID) + "&auth_key=" + e.app.AuthKey + "&provider=firebase_email&firebase_email%5Bproject_id%5D=proj&firebase_email%5Baccess_token%5D=tok3",
			email, map[string]string{"project_id": "proj", "access_token": "tok3"}},
		{"social keys", e.sessionBody(`,"provider":"facebook","keys":{"token":"fbtok","secret":"fbsec"}`),
			fb, map[string]string{"token": "fbtok", "secret": "fbsec"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", "/session.json", tt.body)
			wantStatus(t, r, 201, "")
			got := tt.p.last()
			if got.Provider != tt.p.name || len(got.Params) != len(tt.want) {
				t.Fatalf("credentials %+v", got)
			}
			for k, v := range tt.want {
				if got.Params[k] != v {
					t.Fatalf("Params[%q] = %q, want %q", k, got.Params[k], v)
				}
			}
			if session(t, r)["user"] == nil {
				t.Fatal("no user")
			}
		})
	}
	// The seed snippet's flat keys at the top level of createSession() reach the server as a
	// bare provider (the SDK drops them); the provider's own error comes back flat.
	wantStatus(t, e.do("POST", "/session.json", e.sessionBody(`,"provider":"firebase_phone"`)), 422,
		`{"errors":["Bad Authentication data. Invalid input parameters provided: no 'keys[token]' parameter provided"]}`)

	// POST /login: the same forms at the top level.
	tok := e.appSession()
	r := e.do("POST", "/login.json", `{"provider":"firebase_phone","firebase_phone":{"project_id":"p","access_token":"tok9"}}`, "CB-Token: "+tok)
	wantStatus(t, r, 202, "")
	if got := phone.last(); got.Params["access_token"] != "tok9" {
		t.Fatalf("login credentials %+v", got)
	}
}

func TestGetSession(t *testing.T) {
	e := newEnv(t)
	app := e.appSession()
	user, uid := e.userSession("john", "11111111")

	r := e.do("GET", "/session.json", "", "CB-Token: "+app)
	wantStatus(t, r, 200, "")
	if s := session(t, r); s["user_id"] != nil || s["user"] != nil || s["token"] != app {
		t.Fatalf("app session %v", s)
	}
	r = e.do("GET", "/session", "", "CB-Token: "+user)
	wantStatus(t, r, 200, "")
	s := session(t, r)
	if s["user_id"] != float64(uid) || s["user"].(map[string]any)["id"] != float64(uid) {
		t.Fatalf("user session %v", s)
	}
	if v, _ := s["created_at"].(string); !sessionTime.MatchString(v) {
		t.Fatalf("created_at %q", v)
	}
	if !expirationRE.MatchString(r.Header.Get("CB-Token-ExpirationDate")) {
		t.Fatalf("expiration %q", r.Header.Get("CB-Token-ExpirationDate"))
	}
	// Authorization: Bearer works like CB-Token.
	wantStatus(t, e.do("GET", "/session.json", "", "Authorization: Bearer "+user), 200, "")

	for name, h := range map[string][]string{
		"no token":      nil,
		"empty token":   {"CB-Token: "},
		"unknown token": {"CB-Token: " + strings.Repeat("a", 64)},
		"huge token":    {"CB-Token: " + strings.Repeat("a", 5000)},
		"bearer junk":   {"Authorization: Basic abc"},
	} {
		t.Run(name, func(t *testing.T) {
			r := e.do("GET", "/session.json", "", h...)
			wantStatus(t, r, 401, bodySessionNotFound)
			if r.Header.Get("CB-Token-ExpirationDate") != "" {
				t.Fatal("expiration header on 401")
			}
		})
	}
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t)
	tok, _ := e.userSession("john", "11111111")
	// Each request slides the expiry: 1h59m steps stay valid.
	for i := 0; i < 3; i++ {
		e.clock.Advance(119 * time.Minute)
		r := e.do("GET", "/session.json", "", "CB-Token: "+tok)
		wantStatus(t, r, 200, "")
		want := e.clock.Now().Add(2 * time.Hour).UTC().Format("2006-01-02 15:04:05 UTC")
		if got := r.Header.Get("CB-Token-ExpirationDate"); got != want {
			t.Fatalf("step %d: expiration %q, want %q", i, got, want)
		}
	}
	e.clock.Advance(2*time.Hour + time.Second)
	wantStatus(t, e.do("GET", "/session.json", "", "CB-Token: "+tok), 401, bodySessionNotFound)
	wantStatus(t, e.do("PUT", "/users/1.json", `{"user":{"full_name":"x"}}`, "CB-Token: "+tok), 401, bodySessionNotFound)
}

func TestDestroySession(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/session", "/session.json"} {
		tok, _ := e.userSession("john", "11111111")
		r := e.do("DELETE", path, "", "CB-Token: "+tok)
		wantStatus(t, r, 200, "")
		if r.Body != "" || r.Header.Get("CB-Token-ExpirationDate") != "" {
			t.Fatalf("%s: body %q, expiration %q", path, r.Body, r.Header.Get("CB-Token-ExpirationDate"))
		}
		wantStatus(t, e.do("GET", "/session.json", "", "CB-Token: "+tok), 401, bodySessionNotFound)
		wantStatus(t, e.do("DELETE", path, "", "CB-Token: "+tok), 401, bodySessionNotFound)
	}
}

func TestRevokeSessions(t *testing.T) {
	e := newEnv(t)
	a, _ := e.userSession("john", "11111111")
	b, _ := e.userSession("john", "11111111")
	c, _ := e.userSession("john", "11111111")
	other, _ := e.userSession("mary", "22222222")
	idOf := func(tok string) string {
		return itoa(int64(session(t, e.do("GET", "/session.json", "", "CB-Token: "+tok))["id"].(float64)))
	}
	bID, otherID := idOf(b), idOf(other)

	wantStatus(t, e.do("DELETE", "/session/"+otherID, "", "CB-Token: "+a), 404, `{"errors":["Not found"]}`)
	wantStatus(t, e.do("DELETE", "/session/abc", "", "CB-Token: "+a), 404, `{"errors":["Not found"]}`)
	wantStatus(t, e.do("DELETE", "/session/"+bID+".json", "", "CB-Token: "+a), 200, "")
	wantStatus(t, e.do("GET", "/session.json", "", "CB-Token: "+b), 401, bodySessionNotFound)
	wantStatus(t, e.do("GET", "/session.json", "", "CB-Token: "+c), 200, "")

	for _, path := range []string{"/session/list", "/session/list.json"} {
		wantStatus(t, e.do("DELETE", path, "", "CB-Token: "+a), 200, "")
	}
	wantStatus(t, e.do("GET", "/session.json", "", "CB-Token: "+c), 401, bodySessionNotFound)
	wantStatus(t, e.do("GET", "/session.json", "", "CB-Token: "+a), 200, "")
	wantStatus(t, e.do("GET", "/session.json", "", "CB-Token: "+other), 200, "")

	// An application session has no user sessions to list.
	wantStatus(t, e.do("DELETE", "/session/list.json", "", "CB-Token: "+e.appSession()), 403, bodyNeedUser)
	// Revoking the current session by id ends it.
	aID := idOf(a)
	r := e.do("DELETE", "/session/"+aID, "", "CB-Token: "+a)
	wantStatus(t, r, 200, "")
	if r.Header.Get("CB-Token-ExpirationDate") != "" {
		t.Fatal("expiration header after revoking the current session")
	}
	wantStatus(t, e.do("GET", "/session.json", "", "CB-Token: "+a), 401, bodySessionNotFound)
}

func TestLoginLogout(t *testing.T) {
	e := newEnv(t)
	_, uid := e.userSession("john", "11111111")
	tok := e.appSession()

	wantStatus(t, e.do("POST", "/login.json", `{"login":"john","password":"wrong-password"}`, "CB-Token: "+tok), 401, bodyUnauthorized)
	wantStatus(t, e.do("POST", "/login.json", `{"login":"john"}`, "CB-Token: "+tok), 422, `{"errors":{"password":["cannot be blank"]}}`)
	wantStatus(t, e.do("POST", "/login.json", `{}`, "CB-Token: "+tok), 422, `{"errors":{"base":["login or email is required"]}}`)
	wantStatus(t, e.do("POST", "/login.json", `{"login":"john","password":"11111111"}`), 401, bodySessionNotFound)

	for _, tc := range []struct{ path, body string }{
		{"/login.json", `{"login":"john","password":"11111111"}`},
		{"/login", "login=john&password=11111111"},
		{"/login.json", `{"user":{"login":"john","password":"11111111"}}`},
	} {
		r := e.do("POST", tc.path, tc.body, "CB-Token: "+tok)
		wantStatus(t, r, 202, "")
		if u := r.json(t)["user"].(map[string]any); u["id"] != float64(uid) {
			t.Fatalf("login user %v", u)
		}
		if r.Header.Get("CB-Token-ExpirationDate") == "" {
			t.Fatal("no expiration header")
		}
		if s := session(t, e.do("GET", "/session.json", "", "CB-Token: "+tok)); s["user_id"] != float64(uid) {
			t.Fatalf("after login: %v", s)
		}
		for _, path := range []string{"/login", "/login.json"} {
			r = e.do("DELETE", path, "", "CB-Token: "+tok)
			wantStatus(t, r, 200, "")
			if r.Body != "" {
				t.Fatalf("logout body %q", r.Body)
			}
		}
		if s := session(t, e.do("GET", "/session.json", "", "CB-Token: "+tok)); s["user_id"] != nil {
			t.Fatalf("after logout: %v", s)
		}
	}
}
