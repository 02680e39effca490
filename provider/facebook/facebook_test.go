package facebook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/socialtest"
	"github.com/identitykit/identity/internal/testutil"
	"github.com/identitykit/identity/internal/testutil/testenv"
	"github.com/identitykit/identity/provider/facebook"
)

const (
	appID     = "1000200030004"
	appSecret = "fb-app-secret-0123456789abcdef"
)

// fbEnv is an Identity over an in-memory store with the password and facebook providers, one
// application enabled for the stand-in's app, and a debug log.
type fbEnv struct {
	t     *testing.T
	id    *identity.Identity
	app   *identity.Application
	graph *socialtest.Graph
	clk   *testutil.Clock
	log   *testutil.LogBuffer
	fb    *facebook.Provider
	store identity.Store
}

func newEnv(t *testing.T, cfg facebook.Config) *fbEnv {
	t.Helper()
	e := &fbEnv{t: t, clk: testutil.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)), log: &testutil.LogBuffer{}}
	e.graph = socialtest.NewGraph(t, appID, appSecret, e.clk.Now)
	if cfg.GraphURL == "" {
		cfg.GraphURL = e.graph.URL()
	}
	cfg.Logger = slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	if e.fb, err = facebook.New(cfg); err != nil {
		t.Fatal(err)
	}
	st, pw := testenv.Store(t), testenv.Passwords(t)
	e.store = st
	e.id, err = identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw, e.fb},
		Now: e.clk.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var s identity.AppSettings
	if err := e.fb.Enable(&s, facebook.AppConfig{AppID: appID, AppSecret: appSecret}); err != nil {
		t.Fatal(err)
	}
	if e.app, err = e.id.CreateApplication(context.Background(), "fb", s); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *fbEnv) signIn(token string) (*identity.User, error) {
	e.t.Helper()
	ctx := context.Background()
	s, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
		Credentials: &identity.Credentials{Provider: "facebook", Params: map[string]string{"token": token}}})
	if err != nil {
		return nil, err
	}
	u, err := e.id.User(ctx, s, s.UserID)
	if err != nil {
		e.t.Fatalf("reading the signed-in user: %v", err)
	}
	return u, nil
}

// checkLog fails if the log holds the token, the app secret or the proof of token.
func (e *fbEnv) checkLog(tokens ...string) {
	e.t.Helper()
	logs := e.log.String()
	secrets := []string{appSecret, appID + "|" + appSecret}
	for _, tok := range tokens {
		m := hmac.New(sha256.New, []byte(appSecret))
		m.Write([]byte(tok))
		secrets = append(secrets, tok, hex.EncodeToString(m.Sum(nil)))
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			e.t.Fatalf("log holds a secret %q:\n%s", s, logs)
		}
	}
}

func TestSignInCreatesThenFindsTheLinkedUser(t *testing.T) {
	e := newEnv(t, facebook.Config{})
	e.graph.Add("EAAtokenAnn1", socialtest.FacebookToken{UserID: "10150000001", Name: "Ann Lee", Email: "Ann@Example.com",
		ExpiresAt: e.clk.Now().Add(time.Hour)})
	u, err := e.signIn("EAAtokenAnn1")
	if err != nil {
		t.Fatalf("first sign-in: %v", err)
	}
	if u.FacebookID != "10150000001" || u.FullName != "Ann Lee" || u.Email != "ann@example.com" || u.PasswordHash != "" {
		t.Fatalf("created user %+v", u)
	}
	// A later token of the same Facebook user, with another name and email, finds the same
	// user and changes nothing.
	e.graph.Add("EAAtokenAnn2", socialtest.FacebookToken{UserID: "10150000001", Name: "Ann Other", Email: "other@example.com"})
	u2, err := e.signIn("EAAtokenAnn2")
	if err != nil {
		t.Fatalf("second sign-in: %v", err)
	}
	if u2.ID != u.ID || u2.Email != "ann@example.com" || u2.FullName != "Ann Lee" {
		t.Fatalf("second sign-in gave %+v, want user %d unchanged", u2, u.ID)
	}
	// Another Facebook user is another user.
	e.graph.Add("EAAtokenBob", socialtest.FacebookToken{UserID: "10150000002", Name: "Bob"})
	u3, err := e.signIn("EAAtokenBob")
	if err != nil {
		t.Fatal(err)
	}
	if u3.ID == u.ID || u3.Email != "" || u3.FacebookID != "10150000002" {
		t.Fatalf("Bob's user %+v", u3)
	}
	e.checkLog("EAAtokenAnn1", "EAAtokenAnn2", "EAAtokenBob")
}

// TestRefusedTokens is the attack table: every token the Graph API does not vouch for, for
// this app and this user, is refused with ErrInvalidCredentials and creates nobody.
func TestRefusedTokens(t *testing.T) {
	e := newEnv(t, facebook.Config{})
	now := e.clk.Now()
	tests := []struct {
		name   string
		tok    socialtest.FacebookToken
		reason error
	}{
		{"token of another app", socialtest.FacebookToken{UserID: "201", AppID: "999888777"}, facebook.ErrForeignApp},
		{"expired token", socialtest.FacebookToken{UserID: "202", ExpiresAt: now.Add(-time.Second)}, facebook.ErrTokenInvalid},
		{"expired token reported valid", socialtest.FacebookToken{UserID: "203", ExpiresAt: now, ReportValid: true}, facebook.ErrTokenExpired},
		{"revoked token", socialtest.FacebookToken{UserID: "204", Revoked: true}, facebook.ErrTokenInvalid},
		{"me names another user", socialtest.FacebookToken{UserID: "205", MeID: "206"}, facebook.ErrUserMismatch},
		{"unknown token", socialtest.FacebookToken{}, facebook.ErrTokenInvalid},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := "EAArefused" + strings.Repeat("x", i+1)
			if tc.tok.UserID != "" {
				e.graph.Add(tok, tc.tok)
			}
			_, err := e.signIn(tok)
			if !errors.Is(err, identity.ErrInvalidCredentials) || !errors.Is(err, tc.reason) {
				t.Fatalf("err = %v, want ErrInvalidCredentials and %v", err, tc.reason)
			}
			if strings.Contains(err.Error(), tok) || err.Error() != "facebook: invalid credentials" {
				t.Fatalf("error text %q", err)
			}
			for _, sub := range []string{tc.tok.UserID, tc.tok.MeID} {
				if sub == "" {
					continue
				}
				if _, err := e.store.UserByExternalAccount(context.Background(), e.app.ID, "facebook", sub); !errors.Is(err, identity.ErrUserNotFound) {
					t.Fatalf("account %s after the refusal: %v", sub, err)
				}
			}
			e.checkLog(tok)
		})
	}
}

// TestWrongAppSecret: the app access token is refused by debug_token (a configuration
// mistake); the client only gets ErrInvalidCredentials, the operator a warning.
func TestWrongAppSecret(t *testing.T) {
	e := newEnv(t, facebook.Config{})
	e.graph.AppSecret = "another-secret-of-the-app"
	e.graph.Add("EAAwrongsecret", socialtest.FacebookToken{UserID: "401"})
	_, err := e.signIn("EAAwrongsecret")
	if !errors.Is(err, identity.ErrInvalidCredentials) || !errors.Is(err, facebook.ErrTokenRefused) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(e.log.String(), "level=WARN") {
		t.Fatalf("no warning logged:\n%s", e.log)
	}
	e.checkLog("EAAwrongsecret")
}

func TestUpstreamFailures(t *testing.T) {
	e := newEnv(t, facebook.Config{Timeout: 100 * time.Millisecond, MaxResponseBytes: 4096})
	for _, tc := range []struct {
		name string
		f    socialtest.Failure
	}{{"server error", socialtest.ServerError}, {"slow server", socialtest.Stall}, {"oversized body", socialtest.Oversized}} {
		t.Run(tc.name, func(t *testing.T) {
			tok := "EAAfail" + strings.ReplaceAll(tc.name, " ", "")
			e.graph.Add(tok, socialtest.FacebookToken{UserID: "501", Failure: tc.f})
			_, err := e.signIn(tok)
			if !errors.Is(err, identity.ErrUnavailable) || errors.Is(err, identity.ErrInvalidCredentials) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), appSecret) {
				t.Fatalf("error text holds a secret: %q", err)
			}
			e.checkLog(tok)
		})
	}
}

// TestEmailOfAnotherUser: a Facebook account showing the email of an existing password user
// never signs in as that user; it gets a new user without the email, and the password user
// is untouched.
func TestEmailOfAnotherUser(t *testing.T) {
	e := newEnv(t, facebook.Config{})
	ctx := context.Background()
	pass := "correct horse battery"
	victim, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: ptr("victim"), Email: ptr("victim@example.com"), Password: &pass})
	if err != nil {
		t.Fatal(err)
	}
	e.graph.Add("EAAattacker", socialtest.FacebookToken{UserID: "601", Name: "Mallory", Email: "Victim@Example.com"})
	u, err := e.signIn("EAAattacker")
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	if u.ID == victim.ID || u.Email != "" || u.FacebookID != "601" {
		t.Fatalf("facebook sign-in gave %+v (victim %d)", u, victim.ID)
	}
	s, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
		Credentials: &identity.Credentials{Login: "victim", Password: pass}})
	if err != nil || s.UserID != victim.ID {
		t.Fatalf("victim's own sign-in: %v", err)
	}
	v, err := e.id.User(ctx, s, victim.ID)
	if err != nil || v.Email != "victim@example.com" || v.FacebookID != "" {
		t.Fatalf("victim now %+v, %v", v, err)
	}
}

func TestInputAndSettingsErrors(t *testing.T) {
	e := newEnv(t, facebook.Config{})
	var ie *identity.Error
	_, err := e.signIn("")
	if !errors.Is(err, identity.ErrInvalidInput) || !errors.As(err, &ie) || ie.Code("keys[token]") != "missing" {
		t.Fatalf("missing token: %v", err)
	}
	_, err = e.signIn(strings.Repeat("a", facebook.MaxTokenBytes+1))
	if !errors.As(err, &ie) || ie.Code("keys[token]") != "too_long" {
		t.Fatalf("long token: %v", err)
	}
	bare, err := e.id.CreateApplication(context.Background(), "no facebook", identity.AppSettings{})
	if err != nil {
		t.Fatal(err)
	}
	e.graph.Add("EAAok", socialtest.FacebookToken{UserID: "701"})
	_, err = e.id.CreateSession(context.Background(), identity.SessionRequest{ApplicationID: bare.ID, AuthKey: bare.AuthKey,
		Credentials: &identity.Credentials{Provider: "facebook", Params: map[string]string{"token": "EAAok"}}})
	if !errors.Is(err, identity.ErrDisabled) || !errors.As(err, &ie) || ie.Code("facebook") != "disabled" {
		t.Fatalf("disabled: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	fb, err := facebook.New(facebook.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []facebook.AppConfig{{AppSecret: "s"}, {AppID: "12a", AppSecret: "s"}, {AppID: "12"}, {AppID: "12", AppSecret: "a|b"}} {
		var s identity.AppSettings
		if err := fb.Enable(&s, c); err == nil || s.Providers != nil {
			t.Errorf("Enable(%+v) = %v, settings %v", c, err, s.Providers)
		}
		if err != nil && strings.Contains(err.Error(), c.AppSecret) && c.AppSecret != "" && len(c.AppSecret) > 2 {
			t.Errorf("error names the secret: %v", err)
		}
	}
	for _, u := range []string{"ftp://x", "http://", "http://h/v1?x=1", "/relative"} {
		if _, err := facebook.New(facebook.Config{GraphURL: u}); err == nil {
			t.Errorf("New accepted GraphURL %q", u)
		}
	}
	if _, err := facebook.New(facebook.Config{Timeout: -1}); err == nil {
		t.Error("New accepted a negative timeout")
	}
}

func ptr(s string) *string { return &s }
