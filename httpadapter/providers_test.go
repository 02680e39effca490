package httpadapter_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil"
	"github.com/identitykit/identity/provider/cidp"
	"github.com/identitykit/identity/provider/firebase"
)

// cidpEnv is an env whose application routes login/password credentials to a Custom Identity
// Provider backed by a local identity service. The service answers by token: "good-..." is a
// user, "nouid-..." a 200 without uid, "empty-..." a 404 with an empty body, anything else a
// 401 with a JSON body.
func cidpEnv(t *testing.T, opts ...func(*envOpt)) *env {
	t.Helper()
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.URL.Query().Get("token")
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasPrefix(tok, "good-"):
			io.WriteString(w, `{"user":{"id":"uid-`+tok[len("good-"):]+`","login":"`+tok[len("good-"):]+`"}}`)
		case strings.HasPrefix(tok, "nouid-"):
			io.WriteString(w, `{"user":{"login":"x"}}`)
		case strings.HasPrefix(tok, "empty-"):
			w.WriteHeader(http.StatusNotFound)
		default:
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"Token invalid"}`)
		}
	}))
	t.Cleanup(idp.Close)
	p, err := cidp.New(cidp.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var s identity.AppSettings
	if err := p.Enable(&s, cidp.AppConfig{
		Endpoint:       idp.URL + "/verify",
		RequestParams:  map[string]string{"token": "#{login}"},
		ResponseParams: map[string]string{"uid": "#{user.id}", "login": "#{user.login}"},
	}); err != nil {
		t.Fatal(err)
	}
	return newEnv(t, append([]func(*envOpt){func(o *envOpt) {
		o.settings = s
		o.providers = []identity.Provider{p}
	}}, opts...)...)
}

// TestCustomIdentityProviderWire checks the exact bodies ConnectyCube sends for a Custom
// Identity Provider: a refusal of the identity service and an answer without uid are 422
// with the documented messages (not 401 Unauthorized), on POST /session and POST /login.
func TestCustomIdentityProviderWire(t *testing.T) {
	e := cidpEnv(t)
	tests := []struct {
		name  string
		login string
		code  int
		body  string
	}{
		// The service's answer ({"error":"Token invalid"}) is not sent: the status only.
		{"refused with a body", "bad-token-1", 422,
			`{"errors":["Bad Authentication data. Unauthorized on remote side. Status: 401."]}`},
		{"refused with an empty body", "empty-token-1", 422,
			`{"errors":["Bad Authentication data. Unauthorized on remote side. Status: 404."]}`},
		{"answer without uid", "nouid-token-1", 422,
			`{"errors":{"base":["Custom Identity Provider uid is required"]}}`},
		{"blank login", "", 422, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/session", func(t *testing.T) {
			r := e.do("POST", "/session.json", e.sessionBody(`,"user":{"login":`+jsonStr(tt.login)+`,"password":"x"}`))
			wantStatus(t, r, tt.code, tt.body)
			if strings.Contains(r.Body, "Token invalid") {
				t.Errorf("the identity service's answer reached the client: %s", r.Body)
			}
		})
		t.Run(tt.name+"/login", func(t *testing.T) {
			r := e.do("POST", "/login.json", `{"login":`+jsonStr(tt.login)+`,"password":"x"}`, "CB-Token: "+e.appSession())
			wantStatus(t, r, tt.code, tt.body)
			if strings.Contains(r.Body, "Token invalid") {
				t.Errorf("the identity service's answer reached the client: %s", r.Body)
			}
		})
	}

	// Success: the same user through POST /session (with and without password, JSON and
	// form) and POST /login.
	r := e.do("POST", "/session.json", e.sessionBody(`,"user":{"login":"good-simon","password":"x"}`))
	wantStatus(t, r, 201, "")
	uid := session(t, r)["user_id"]
	for _, body := range []string{
		e.sessionBody(`,"user":{"login":"good-simon"}`),
		"application_id=" + itoa(e.app.ID) + "&auth_key=" + e.app.AuthKey + "&user%5Blogin%5D=good-simon",
	} {
		r = e.do("POST", "/session.json", body)
		wantStatus(t, r, 201, "")
		if got := session(t, r)["user_id"]; got != uid {
			t.Fatalf("user_id %v, want %v", got, uid)
		}
	}
	r = e.do("POST", "/login.json", `{"login":"good-simon","password":"anything"}`, "CB-Token: "+e.appSession())
	wantStatus(t, r, 202, "")
	if u := r.json(t)["user"].(map[string]any); u["id"] != uid || u["login"] != "simon" {
		t.Fatalf("login user %v, want id %v login simon", u, uid)
	}
	// provider=cidp with keys[token] reaches the same user.
	r = e.do("POST", "/session.json", e.sessionBody(`,"provider":"cidp","keys":{"token":"good-simon"}`))
	wantStatus(t, r, 201, "")
	if got := session(t, r)["user_id"]; got != uid {
		t.Fatalf("keys[token]: user_id %v, want %v", got, uid)
	}
	if strings.Contains(e.logs.String(), "bad-token-1") || strings.Contains(e.logs.String(), "good-simon") {
		t.Errorf("a token reached the log:\n%s", e.logs)
	}
}

// TestFirebaseWire checks the Firebase bodies: missing parameters are 422 with
// ConnectyCube's message, an invalid token is 401 without verification internals, and a
// valid token signs in through every encoding.
func TestFirebaseWire(t *testing.T) {
	ks := testutil.NewKeyServer(t, "k1")
	c := testutil.NewClock(time.Date(2026, 3, 4, 10, 11, 12, 0, time.UTC))
	var s identity.AppSettings
	var fps []*firebase.Provider
	for _, name := range []string{firebase.PhoneProvider, firebase.EmailProvider} {
		fp, err := firebase.New(firebase.Config{Name: name, KeySetURL: ks.URL(), Now: c.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := fp.Enable(&s, firebase.AppConfig{ProjectIDs: []string{"proj-a"}}); err != nil {
			t.Fatal(err)
		}
		fps = append(fps, fp)
	}
	phone, email := fps[0], fps[1]
	e := newEnv(t, func(o *envOpt) {
		o.settings = s
		o.providers = []identity.Provider{phone, email}
	})
	key := jose.SigningKey{Algorithm: jose.RS256, Key: testutil.RSAKey(t, "k1")}
	opts := (&jose.SignerOptions{}).WithHeader("kid", "k1").WithType("JWT")
	mint := func(project, uid string, extra map[string]any) string {
		now := c.Now().Unix()
		m := map[string]any{"iss": "https://securetoken.google.com/" + project, "aud": project,
			"sub": uid, "user_id": uid, "iat": now - 10, "auth_time": now - 10, "exp": now + 3600}
		for k, v := range extra {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return testutil.SignJWS(t, key, opts, b)
	}
	phoneTok := mint("proj-a", "fb-uid-1", map[string]any{"phone_number": "+380505701234"})

	for _, tt := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"nested JSON", e.sessionBody(`,"provider":"firebase_phone","firebase_phone":{"project_id":"proj-a","access_token":` + jsonStr(phoneTok) + `}`), 201, ""},
		{"flat keys inside JSON", e.sessionBody(`,"provider":"firebase_phone","firebase_phone[project_id]":"proj-a","firebase_phone[access_token]":` + jsonStr(phoneTok)), 201, ""},
		{"form", "application_id=" + itoa(e.app.ID) + "&auth_key=" + e.app.AuthKey + "&provider=firebase_phone&firebase_phone%5Bproject_id%5D=proj-a&firebase_phone%5Baccess_token%5D=" + phoneTok, 201, ""},
		{"no parameters", e.sessionBody(`,"provider":"firebase_phone"`), 422,
			`{"errors":["Bad Authentication data. Invalid input parameters provided: no 'firebase_phone[access_token]' and 'firebase_phone[project_id]' parameters provided"]}`},
		{"no token", e.sessionBody(`,"provider":"firebase_email","firebase_email":{"project_id":"proj-a"}`), 422,
			`{"errors":["Bad Authentication data. Invalid input parameters provided: no 'firebase_email[access_token]' parameter provided"]}`},
		{"other project", e.sessionBody(`,"provider":"firebase_phone","firebase_phone":{"project_id":"proj-b","access_token":` + jsonStr(mint("proj-b", "u", map[string]any{"phone_number": "+15550001"})) + `}`), 401, bodyUnauthorized},
		{"tampered token", e.sessionBody(`,"provider":"firebase_phone","firebase_phone":{"project_id":"proj-a","access_token":` + jsonStr(phoneTok[:len(phoneTok)-4]+"AAAA") + `}`), 401, bodyUnauthorized},
		{"garbage token", e.sessionBody(`,"provider":"firebase_phone","firebase_phone":{"project_id":"proj-a","access_token":"not.a.jwt"}`), 401, bodyUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", "/session.json", tt.body)
			wantStatus(t, r, tt.code, tt.want)
			if tt.code != 201 {
				return
			}
			u := session(t, r)["user"].(map[string]any)
			if u["login"] != "380505701234" || u["phone"] != "380505701234" {
				t.Fatalf("user %v, want login and phone 380505701234", u)
			}
		})
	}

	// A number whose digits another user has as login: a new user with the phone, login null.
	_, squatter := e.userSession("15550009999", "password123")
	r := e.do("POST", "/session.json", e.sessionBody(`,"provider":"firebase_phone","firebase_phone":{"project_id":"proj-a","access_token":`+
		jsonStr(mint("proj-a", "fb-uid-9", map[string]any{"phone_number": "+15550009999"}))+`}`))
	wantStatus(t, r, 201, "")
	if u := session(t, r)["user"].(map[string]any); u["login"] != nil || u["phone"] != "15550009999" || u["id"] == float64(squatter) {
		t.Fatalf("user %v, want a new user with phone 15550009999 and login null", u)
	}

	// firebase_email through POST /login, then a users call with the session.
	tok := e.appSession()
	r = e.do("POST", "/login.json", `{"provider":"firebase_email","firebase_email":{"project_id":"proj-a","access_token":`+
		jsonStr(mint("proj-a", "fb-uid-2", map[string]any{"email": "Ann@Example.com", "email_verified": true}))+`}}`, "CB-Token: "+tok)
	wantStatus(t, r, 202, "")
	if u := r.json(t)["user"].(map[string]any); u["email"] != "ann@example.com" {
		t.Fatalf("login user %v", u)
	}
	r = e.do("PUT", "/users/"+itoa(int64(r.json(t)["user"].(map[string]any)["id"].(float64)))+".json", `{"user":{"full_name":"Ann"}}`, "CB-Token: "+tok)
	wantStatus(t, r, 200, "")

	// An email a password user already has is not merged: 422, nothing created.
	r = e.do("POST", "/users.json", `{"user":{"email":"owner@example.com","password":"password123"}}`, "CB-Token: "+e.appSession())
	wantStatus(t, r, 201, "")
	r = e.do("POST", "/session.json", e.sessionBody(`,"provider":"firebase_email","firebase_email":{"project_id":"proj-a","access_token":`+
		jsonStr(mint("proj-a", "fb-uid-3", map[string]any{"email": "Owner@example.com", "email_verified": true}))+`}`))
	wantStatus(t, r, 422, `{"errors":{"email":["has already been taken"]}}`)
}
