package firebase

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil"
)

// newClock returns a test clock at the suite's start time.
func newClock() *testutil.Clock {
	return testutil.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

// claimsFor returns valid Firebase ID token claims for project at now.
func claimsFor(project string, now time.Time) map[string]any {
	return map[string]any{
		"iss":            issuerPrefix + project,
		"aud":            project,
		"sub":            "uid-123",
		"user_id":        "uid-123",
		"iat":            now.Add(-time.Minute).Unix(),
		"exp":            now.Add(59 * time.Minute).Unix(),
		"auth_time":      now.Add(-time.Minute).Unix(),
		"phone_number":   "+380505701234",
		"email":          "Ann@Example.com",
		"email_verified": true,
		"firebase": map[string]any{
			"identities":       map[string]any{"phone": []string{"+380505701234"}},
			"sign_in_provider": "phone",
		},
	}
}

// sign mints an RS256 token with the test key kid (header kid = hdrKid).
func sign(t testing.TB, kid, hdrKid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if hdrKid != "" {
		opts = opts.WithHeader("kid", hdrKid)
	}
	return signWith(t, jose.SigningKey{Algorithm: jose.RS256, Key: testutil.RSAKey(t, kid)}, opts, claims)
}

func signWith(t testing.TB, key jose.SigningKey, opts *jose.SignerOptions, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return testutil.SignJWS(t, key, opts, payload)
}

// unsigned mints an "alg": "none" token like the Firebase Auth emulator's.
func unsigned(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."
}

// hs256WithPublicKey mints the classic key-confusion forgery: HS256 with the RSA public
// key's bytes as the HMAC secret.
func hs256WithPublicKey(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&testutil.RSAKey(t, kid).PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid)
	return signWith(t, jose.SigningKey{Algorithm: jose.HS256, Key: der}, opts, claims)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testApp returns an application that allows proj-a and proj-b for both providers.
func testApp(t testing.TB, requireVerified bool) *identity.Application {
	t.Helper()
	app := &identity.Application{ID: 7}
	if err := enable(&app.Settings, PhoneProvider, AppConfig{ProjectIDs: []string{"proj-a", "proj-b"}}); err != nil {
		t.Fatal(err)
	}
	if err := enable(&app.Settings, EmailProvider, AppConfig{ProjectIDs: []string{"proj-a", "proj-b"}, RequireEmailVerified: requireVerified}); err != nil {
		t.Fatal(err)
	}
	return app
}

func authReq(app *identity.Application, provider, project, token string) *identity.AuthRequest {
	params := map[string]string{}
	if project != "" {
		params["project_id"] = project
	}
	if token != "" {
		params["access_token"] = token
	}
	return &identity.AuthRequest{
		Application: app,
		Credentials: identity.Credentials{Provider: provider, Params: params},
	}
}

func pick(phone, email *Provider, name string) *Provider {
	if name == PhoneProvider {
		return phone
	}
	return email
}

func authenticate(ctx context.Context, phone, email *Provider, app *identity.Application, provider, project, token string) (*identity.Claims, error) {
	return pick(phone, email, provider).Authenticate(ctx, authReq(app, provider, project, token))
}

func textLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func debugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newPair returns the phone and email providers of cfg.
func newPair(cfg Config) (phone, email *Provider, err error) {
	cfg.Name = PhoneProvider
	if phone, err = New(cfg); err != nil {
		return nil, nil, err
	}
	cfg.Name = EmailProvider
	if email, err = New(cfg); err != nil {
		return nil, nil, err
	}
	return phone, email, nil
}

// enable stores c as the configuration of the provider name in s.
func enable(s *identity.AppSettings, name string, c AppConfig) error {
	return (&Provider{name: name}).Enable(s, c)
}
