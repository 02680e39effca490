package firebase

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/identitykit/identity"
)

// testKeys are generated once per test binary: RSA key generation is slow.
var (
	testKeysOnce sync.Once
	testKeys     map[string]*rsa.PrivateKey
)

func rsaKey(t testing.TB, kid string) *rsa.PrivateKey {
	t.Helper()
	testKeysOnce.Do(func() {
		testKeys = map[string]*rsa.PrivateKey{}
		for _, kid := range []string{"k1", "k2", "rogue"} {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			testKeys[kid] = k
		}
	})
	k := testKeys[kid]
	if k == nil {
		t.Fatalf("no test key %q", kid)
	}
	return k
}

// keyServer is a local stand-in for Google's securetoken JWKS endpoint.
type keyServer struct {
	t   testing.TB
	srv *httptest.Server

	mu           sync.Mutex
	published    jose.JSONWebKeySet // the keys served
	status       int
	cacheControl string
	gate         chan struct{} // when not nil, requests wait for it to close

	fetches atomic.Int32
}

func newKeyServer(t testing.TB, kids ...string) *keyServer {
	ks := &keyServer{t: t, status: http.StatusOK}
	ks.publish(kids...)
	ks.srv = httptest.NewServer(http.HandlerFunc(ks.serve))
	t.Cleanup(ks.srv.Close)
	return ks
}

func (ks *keyServer) url() string { return ks.srv.URL + "/jwk" }

func (ks *keyServer) publish(kids ...string) {
	var set jose.JSONWebKeySet
	for _, kid := range kids {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &rsaKey(ks.t, kid).PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"})
	}
	ks.mu.Lock()
	ks.published = set
	ks.mu.Unlock()
}

func (ks *keyServer) setStatus(code int) {
	ks.mu.Lock()
	ks.status = code
	ks.mu.Unlock()
}

func (ks *keyServer) serve(w http.ResponseWriter, r *http.Request) {
	ks.fetches.Add(1)
	ks.mu.Lock()
	gate, status, cc, set := ks.gate, ks.status, ks.cacheControl, ks.published
	ks.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if status != http.StatusOK {
		http.Error(w, "unavailable", status)
		return
	}
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(set)
}

// clock is an injectable clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
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
	return signWith(t, jose.SigningKey{Algorithm: jose.RS256, Key: rsaKey(t, kid)}, opts, claims)
}

func signWith(t testing.TB, key jose.SigningKey, opts *jose.SignerOptions, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(key, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
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
	der, err := x509.MarshalPKIXPublicKey(&rsaKey(t, kid).PublicKey)
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
	if err := Enable(&app.Settings, PhoneProvider, AppConfig{ProjectIDs: []string{"proj-a", "proj-b"}}); err != nil {
		t.Fatal(err)
	}
	if err := Enable(&app.Settings, EmailProvider, AppConfig{ProjectIDs: []string{"proj-a", "proj-b"}, RequireEmailVerified: requireVerified}); err != nil {
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

// syncBuffer is a strings.Builder safe for loggers used from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	s.b.Reset()
	s.mu.Unlock()
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}
