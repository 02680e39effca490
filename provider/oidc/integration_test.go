package oidc_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil/testenv"
	"github.com/identitykit/identity/provider/oidc"
)

func newIdentity(t *testing.T, now func() time.Time, providers ...identity.Provider) *identity.Identity {
	t.Helper()
	pw := testenv.Passwords(t)
	id, err := identity.New(identity.Config{Store: testenv.Store(t), Hasher: pw, Providers: append([]identity.Provider{pw}, providers...), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestOIDCThroughIdentity(t *testing.T) {
	ctx := context.Background()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: priv.Public(), KeyID: "k1", Algorithm: gooidc.RS256}}}
	srv := httptest.NewServer(is)
	defer srv.Close()
	is.SetIssuer(srv.URL)
	p, err := oidc.New(oidc.Config{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	id := newIdentity(t, func() time.Time { return now }, p)
	var settings identity.AppSettings
	if err := p.Enable(&settings, oidc.AppConfig{Issuer: srv.URL, ClientID: "web"}); err != nil {
		t.Fatal(err)
	}
	app, err := id.CreateApplication(ctx, "oidc", settings)
	if err != nil {
		t.Fatal(err)
	}
	token := func(name string) string {
		return oidctest.SignIDToken(priv, "k1", gooidc.RS256, fmt.Sprintf(
			`{"iss":%q,"aud":"web","sub":"auth0|abc","exp":%d,"email":"ann@example.com","name":%q}`,
			srv.URL, now.Add(time.Hour).Unix(), name))
	}
	var first int64
	for i, name := range []string{"Ann", "Ann Lee"} {
		s, err := id.CreateSession(ctx, identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey,
			Credentials: &identity.Credentials{Provider: "oidc", Params: map[string]string{"token": token(name)}}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = s.UserID
		}
		if s.UserID != first || s.User.FullName != name || s.User.Email != "ann@example.com" {
			t.Errorf("login %d: user %d %q %q, want user %d named %q", i, s.UserID, s.User.FullName, s.User.Email, first, name)
		}
	}
}
