package twitter_test

import (
	"context"
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
	"github.com/identitykit/identity/provider/twitter"
)

const (
	consumerKey    = "tw-consumer-key-1"
	consumerSecret = "tw-consumer-secret-0123456789"
)

type twEnv struct {
	t     *testing.T
	id    *identity.Identity
	app   *identity.Application
	api   *socialtest.Twitter
	log   *testutil.LogBuffer
	tw    *twitter.Provider
	store identity.Store
}

func newEnv(t *testing.T, cfg twitter.Config, ac twitter.AppConfig) *twEnv {
	t.Helper()
	e := &twEnv{t: t, log: &testutil.LogBuffer{}}
	e.api = socialtest.NewTwitter(t, consumerKey, consumerSecret)
	cfg.APIURL = e.api.URL()
	cfg.Logger = slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	if e.tw, err = twitter.New(cfg); err != nil {
		t.Fatal(err)
	}
	st, pw := testenv.Store(t), testenv.Passwords(t)
	e.store = st
	clk := testutil.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	e.id, err = identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw, e.tw},
		Now: clk.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var s identity.AppSettings
	if err := e.tw.Enable(&s, ac); err != nil {
		t.Fatal(err)
	}
	if e.app, err = e.id.CreateApplication(context.Background(), "tw", s); err != nil {
		t.Fatal(err)
	}
	return e
}

func goodConfig() twitter.AppConfig {
	return twitter.AppConfig{ConsumerKey: consumerKey, ConsumerSecret: consumerSecret}
}

func (e *twEnv) signIn(token, secret string) (*identity.User, error) {
	e.t.Helper()
	ctx := context.Background()
	params := map[string]string{}
	if token != "" {
		params["token"] = token
	}
	if secret != "" {
		params["secret"] = secret
	}
	s, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
		Credentials: &identity.Credentials{Provider: "twitter", Params: params}})
	if err != nil {
		return nil, err
	}
	u, err := e.id.User(ctx, s, s.UserID)
	if err != nil {
		e.t.Fatalf("reading the signed-in user: %v", err)
	}
	return u, nil
}

func (e *twEnv) checkLog(secrets ...string) {
	e.t.Helper()
	logs := e.log.String()
	for _, s := range append(secrets, consumerSecret) {
		if strings.Contains(logs, s) {
			e.t.Fatalf("log holds a secret %q:\n%s", s, logs)
		}
	}
}

func TestSignInCreatesThenFindsTheLinkedUser(t *testing.T) {
	e := newEnv(t, twitter.Config{}, goodConfig())
	e.api.Add("111-tokenA", "secretA-123", socialtest.TwitterUser{IDStr: "783214", Name: "Twitter Dev", ScreenName: "twitterdev"}, socialtest.OK)
	u, err := e.signIn("111-tokenA", "secretA-123")
	if err != nil {
		t.Fatalf("first sign-in: %v", err)
	}
	if u.TwitterID != "783214" || u.FullName != "Twitter Dev" || u.Email != "" || u.Login != "" {
		t.Fatalf("created user %+v", u)
	}
	e.api.Add("111-tokenB", "secretB-123", socialtest.TwitterUser{IDStr: "783214", Name: "Renamed"}, socialtest.OK)
	u2, err := e.signIn("111-tokenB", "secretB-123")
	if err != nil {
		t.Fatal(err)
	}
	if u2.ID != u.ID || u2.FullName != "Twitter Dev" {
		t.Fatalf("second sign-in %+v, want user %d unchanged", u2, u.ID)
	}
	e.checkLog("111-tokenA", "secretA-123", "111-tokenB", "secretB-123")
}

func TestRefusedTokens(t *testing.T) {
	e := newEnv(t, twitter.Config{}, goodConfig())
	e.api.Add("222-token", "right-secret", socialtest.TwitterUser{IDStr: "900", Name: "A"}, socialtest.OK)
	e.api.Add("333-token", "other-secret", socialtest.TwitterUser{IDStr: "901", Name: "B"}, socialtest.OK)
	e.api.Revoke("333-token")
	for _, tc := range []struct{ name, token, secret string }{
		{"unknown token", "999-token", "right-secret"},
		{"wrong token secret", "222-token", "wrong-secret"},
		{"revoked token", "333-token", "other-secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.signIn(tc.token, tc.secret)
			if !errors.Is(err, identity.ErrInvalidCredentials) || !errors.Is(err, twitter.ErrTokenRefused) {
				t.Fatalf("err = %v", err)
			}
			if err.Error() != "twitter: invalid credentials" {
				t.Fatalf("error text %q", err)
			}
			e.checkLog(tc.token, tc.secret)
		})
	}
	for _, sub := range []string{"900", "901"} {
		if _, err := e.store.UserByExternalAccount(context.Background(), e.app.ID, "twitter", sub); !errors.Is(err, identity.ErrUserNotFound) {
			t.Fatalf("account %s after refusals: %v", sub, err)
		}
	}
}

// TestTokenOfAnotherApp: an application configured with another consumer key (another
// Twitter app) cannot use tokens issued through this one.
func TestTokenOfAnotherApp(t *testing.T) {
	e := newEnv(t, twitter.Config{}, twitter.AppConfig{ConsumerKey: "other-app-key", ConsumerSecret: "other-app-secret"})
	e.api.Add("444-token", "s-444-secret", socialtest.TwitterUser{IDStr: "902"}, socialtest.OK)
	if _, err := e.signIn("444-token", "s-444-secret"); !errors.Is(err, twitter.ErrTokenRefused) {
		t.Fatalf("err = %v", err)
	}
	e.checkLog("444-token", "s-444-secret", "other-app-secret")
}

func TestUpstreamFailures(t *testing.T) {
	e := newEnv(t, twitter.Config{Timeout: 100 * time.Millisecond, MaxResponseBytes: 4096}, goodConfig())
	for _, tc := range []struct {
		name string
		f    socialtest.Failure
	}{{"server error", socialtest.ServerError}, {"slow server", socialtest.Stall}, {"oversized body", socialtest.Oversized}} {
		t.Run(tc.name, func(t *testing.T) {
			tok := "555-" + strings.ReplaceAll(tc.name, " ", "")
			e.api.Add(tok, "secret-555", socialtest.TwitterUser{IDStr: "903"}, tc.f)
			_, err := e.signIn(tok, "secret-555")
			if !errors.Is(err, identity.ErrUnavailable) || errors.Is(err, identity.ErrInvalidCredentials) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if strings.Contains(err.Error(), tok) {
				t.Fatalf("error holds the token: %v", err)
			}
			e.checkLog(tok, "secret-555")
		})
	}
}

func TestInputAndSettingsErrors(t *testing.T) {
	e := newEnv(t, twitter.Config{}, goodConfig())
	var ie *identity.Error
	_, err := e.signIn("", "")
	if !errors.Is(err, identity.ErrInvalidInput) || !errors.As(err, &ie) || ie.Code("keys[token]") != "missing" || ie.Code("keys[secret]") != "missing" {
		t.Fatalf("missing keys: %v", err)
	}
	_, err = e.signIn("666-token", "")
	if !errors.As(err, &ie) || ie.Code("keys[secret]") != "missing" || ie.Code("keys[token]") != "" {
		t.Fatalf("missing secret: %v", err)
	}
	_, err = e.signIn(strings.Repeat("t", twitter.MaxTokenBytes+1), "s")
	if !errors.As(err, &ie) || ie.Code("keys[token]") != "too_long" {
		t.Fatalf("long token: %v", err)
	}
	bare, err := e.id.CreateApplication(context.Background(), "no twitter", identity.AppSettings{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.id.CreateSession(context.Background(), identity.SessionRequest{ApplicationID: bare.ID, AuthKey: bare.AuthKey,
		Credentials: &identity.Credentials{Provider: "twitter", Params: map[string]string{"token": "a", "secret": "b"}}})
	if !errors.Is(err, identity.ErrDisabled) || !errors.As(err, &ie) || ie.Code("twitter") != "disabled" {
		t.Fatalf("disabled: %v", err)
	}
	var s identity.AppSettings
	if err := e.tw.Enable(&s, twitter.AppConfig{ConsumerKey: "k"}); err == nil || s.Providers != nil {
		t.Fatalf("Enable without a secret: %v", err)
	}
	if _, err := twitter.New(twitter.Config{APIURL: "ftp://x"}); err == nil {
		t.Fatal("New accepted an ftp APIURL")
	}
}
