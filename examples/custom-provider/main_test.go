package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/store/gormstore"
)

// outbox records the links the server "mails".
type outbox struct {
	mu    sync.Mutex
	links map[string]string // email → last link
}

func (o *outbox) send(email, link string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.links[email] = link
	return nil
}

func (o *outbox) token(t *testing.T, email string) string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	u, err := url.Parse(o.links[email])
	if err != nil || u.Query().Get("token") == "" {
		t.Fatalf("no link mailed to %s", email)
	}
	return u.Query().Get("token")
}

type env struct {
	srv  *httptest.Server
	id   *identity.Identity
	app  *identity.Application
	mail *outbox
}

func setup(t *testing.T) *env {
	t.Helper()
	st, err := gormstore.OpenSQLite(filepath.Join(t.TempDir(), "identity.db"), gormstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	mail := &outbox{links: map[string]string{}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, id, err := newServer(st, []byte(strings.Repeat("k", 32)), "https://app.example.com/magic", mail.send, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	app, err := id.CreateApplication(ctx, "example", identity.AppSettings{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, id: id, app: app, mail: mail}
}

// requestLink asks the server to mail a magic link to email.
func (e *env) requestLink(t *testing.T, email string) string {
	t.Helper()
	resp, err := http.PostForm(e.srv.URL+"/magic-link", url.Values{"auth_key": {e.app.AuthKey}, "email": {email}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /magic-link: status %d", resp.StatusCode)
	}
	return e.mail.token(t, identity.NormalizeEmail(email))
}

type sessionAnswer struct {
	Session struct {
		Token  string `json:"token"`
		UserID *int64 `json:"user_id"`
		User   *struct {
			ID    int64   `json:"id"`
			Email *string `json:"email"`
		} `json:"user"`
	} `json:"session"`
	Errors any `json:"errors"`
}

// createSession posts body to /session with contentType and decodes the answer.
func (e *env) createSession(t *testing.T, contentType, body string) (int, sessionAnswer) {
	t.Helper()
	resp, err := http.Post(e.srv.URL+"/session", contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a sessionAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("POST /session: status %d, undecodable body: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, a
}

func (e *env) jsonSession(t *testing.T, token string) (int, sessionAnswer) {
	b, _ := json.Marshal(map[string]any{
		"application_id": e.app.ID, "auth_key": e.app.AuthKey,
		"provider": "magic_link", "keys": map[string]string{"token": token},
	})
	return e.createSession(t, "application/json", string(b))
}

func TestMagicLinkThroughTheHTTPAdapter(t *testing.T) {
	e := setup(t)

	// First login: POST /session, JSON body, provider + keys[token].
	status, a := e.jsonSession(t, e.requestLink(t, "Ann@Example.com"))
	if status != http.StatusCreated || a.Session.User == nil || a.Session.User.Email == nil || *a.Session.User.Email != "ann@example.com" {
		t.Fatalf("first login: status %d, answer %+v", status, a)
	}
	ann := a.Session.User.ID

	// The session works on a users endpoint.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/users/"+strconv.FormatInt(ann, 10), nil)
	req.Header.Set("CB-Token", a.Session.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /users/%d: status %d", ann, resp.StatusCode)
	}

	// Second login with a new link, form-encoded with bracket keys: the same user.
	form := url.Values{
		"application_id": {strconv.FormatInt(e.app.ID, 10)}, "auth_key": {e.app.AuthKey},
		"provider": {"magic_link"}, "keys[token]": {e.requestLink(t, "ann@example.com")},
	}
	status, a = e.createSession(t, "application/x-www-form-urlencoded", form.Encode())
	if status != http.StatusCreated || a.Session.UserID == nil || *a.Session.UserID != ann {
		t.Fatalf("second login: status %d, answer %+v, want user %d", status, a, ann)
	}
}

func TestMagicLinkExistingPasswordUser(t *testing.T) {
	e := setup(t)
	email, pw := "bob@example.com", "correct horse"
	u, err := e.id.SignUp(context.Background(), e.app.ID, identity.UserInput{Email: &email, Password: &pw})
	if err != nil {
		t.Fatal(err)
	}
	status, a := e.jsonSession(t, e.requestLink(t, email))
	if status != http.StatusCreated || a.Session.UserID == nil || *a.Session.UserID != u.ID {
		t.Fatalf("status %d, answer %+v, want user %d", status, a, u.ID)
	}
}

func TestMagicLinkRefusals(t *testing.T) {
	e := setup(t)
	used := e.requestLink(t, "ann@example.com")
	if status, _ := e.jsonSession(t, used); status != http.StatusCreated {
		t.Fatalf("first use: status %d", status)
	}
	fresh := e.requestLink(t, "carl@example.com")
	other, err := NewMagicLink([]byte(strings.Repeat("x", 32)), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := other.Issue(e.app.ID, "carl@example.com", time.Now())
	wrongApp, _ := other.Issue(e.app.ID+1, "carl@example.com", time.Now())
	tests := []struct {
		name       string
		token      string
		wantStatus int
	}{
		{"replayed", used, http.StatusUnauthorized},
		{"forged", forged, http.StatusUnauthorized},
		{"other application", wrongApp, http.StatusUnauthorized},
		{"tampered", fresh[:len(fresh)-2] + "AA", http.StatusUnauthorized},
		{"garbage", "not-a-token", http.StatusUnauthorized},
		{"missing", "", http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, a := e.jsonSession(t, tt.token)
			if status != tt.wantStatus || a.Errors == nil {
				t.Fatalf("status %d, errors %v; want %d with errors", status, a.Errors, tt.wantStatus)
			}
			if tt.token != "" && strings.Contains(toJSON(a.Errors), tt.token) {
				t.Errorf("error body contains the token")
			}
		})
	}
	// The untouched fresh link still works.
	if status, _ := e.jsonSession(t, fresh); status != http.StatusCreated {
		t.Errorf("fresh link: status %d", status)
	}
}

func TestMagicLinkExpires(t *testing.T) {
	ml, err := NewMagicLink([]byte(strings.Repeat("k", 32)), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tok, err := ml.Issue(1, "ann@example.com", now)
	if err != nil {
		t.Fatal(err)
	}
	req := &identity.AuthRequest{
		Application: &identity.Application{ID: 1},
		Credentials: identity.Credentials{Provider: "magic_link", Params: map[string]string{"token": tok}},
		Users:       noUsers{},
		Now:         now.Add(time.Minute),
	}
	if _, err := ml.Authenticate(context.Background(), req); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Errorf("at expiry: err = %v, want ErrInvalidCredentials", err)
	}
	req.Now = now.Add(time.Minute - time.Second)
	c, err := ml.Authenticate(context.Background(), req)
	if err != nil || c.Subject != "ann@example.com" {
		t.Errorf("before expiry: %+v, %v", c, err)
	}
}

type noUsers struct{}

func (noUsers) UserByLogin(context.Context, string) (*identity.User, error) {
	return nil, identity.ErrUserNotFound
}

func (noUsers) UserByEmail(context.Context, string) (*identity.User, error) {
	return nil, identity.ErrUserNotFound
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
