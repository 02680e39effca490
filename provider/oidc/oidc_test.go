package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil"
)

var (
	rsaKey1, rsaKey2 *rsa.PrivateKey
	ecKey            *ecdsa.PrivateKey
	testNow          = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
)

func TestMain(m *testing.M) {
	var err error
	if rsaKey1, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if rsaKey2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// issuer is a local OpenID provider serving discovery and a JWKS, counting requests.
type issuer struct {
	mu         sync.Mutex
	srv        *oidctest.Server
	url        string
	discovery  int
	jwks       int
	status     int    // when not 0, every answer has this status
	keysStatus int    // when not 0, the key set answers this status
	keysBody   string // when not "", the key set answers this body
}

func newIssuer(t *testing.T, keys ...oidctest.PublicKey) *issuer {
	t.Helper()
	is := &issuer{srv: &oidctest.Server{PublicKeys: keys}}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		defer is.mu.Unlock()
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			is.discovery++
		case "/keys":
			is.jwks++
			if is.keysStatus != 0 {
				w.WriteHeader(is.keysStatus)
				return
			}
			if is.keysBody != "" {
				io.WriteString(w, is.keysBody)
				return
			}
		}
		if is.status != 0 {
			w.WriteHeader(is.status)
			return
		}
		is.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	is.srv.SetIssuer(hs.URL)
	is.url = hs.URL
	return is
}

func (is *issuer) counts() (discovery, jwks int) {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.discovery, is.jwks
}

func (is *issuer) set(f func(is *issuer)) {
	is.mu.Lock()
	defer is.mu.Unlock()
	f(is)
}

func rsaPub(kid string, k *rsa.PrivateKey) oidctest.PublicKey {
	return oidctest.PublicKey{PublicKey: k.Public(), KeyID: kid, Algorithm: gooidc.RS256}
}

// idToken signs claims, starting from a valid token of iss for client-a at testNow.
func idToken(t testing.TB, priv crypto.PrivateKey, kid, alg, iss string, edit func(c map[string]any)) string {
	t.Helper()
	c := map[string]any{
		"iss":            iss,
		"aud":            "client-a",
		"sub":            "user-42",
		"iat":            testNow.Add(-time.Minute).Unix(),
		"exp":            testNow.Add(time.Hour).Unix(),
		"email":          "Ann@Example.com",
		"email_verified": true,
		"name":           "Ann Lee",
		"nickname":       "ann",
		"groups":         []string{"staff", "beta"},
	}
	if edit != nil {
		edit(c)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return oidctest.SignIDToken(priv, kid, alg, string(b))
}

func newTestOIDC(t *testing.T, cfg Config) (*Provider, *testutil.Clock, *testutil.LogBuffer) {
	t.Helper()
	lb := &testutil.LogBuffer{}
	if cfg.Logger == nil {
		cfg.Logger = lb.Logger()
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clk := testutil.NewClock(testNow) // the key caches' clock
	p.now = clk.Now
	return p, clk, lb
}

func oidcReq(app *identity.Application, token string) *identity.AuthRequest {
	return &identity.AuthRequest{Application: app, Credentials: identity.Credentials{Login: token, Password: "x"}, Now: testNow}
}

func TestOIDCDiscovery(t *testing.T) {
	is := newIssuer(t, rsaPub("k1", rsaKey1))
	p, _, logs := newTestOIDC(t, Config{})
	app := appWith(t, "oidc", AppConfig{
		Issuer:    is.url,
		ClientIDs: []string{"client-a", "client-b"},
		Claims: map[string]string{
			"email": "#{email}", "full_name": "#{name}", "login": "#{nickname}", "tags": "#{groups}",
		},
	})
	sign := func(edit func(c map[string]any)) string { return idToken(t, rsaKey1, "k1", gooidc.RS256, is.url, edit) }
	tests := []struct {
		name       string
		token      string
		wantErr    error
		wantReason error
		wantFields []identity.FieldError
		want       *identity.Claims
	}{
		{
			name:  "valid",
			token: sign(nil),
			want: &identity.Claims{Subject: "user-42", RefreshProfile: true, Profile: identity.UserInput{
				Email: ptr("Ann@Example.com"), FullName: ptr("Ann Lee"), Login: ptr("ann"), Tags: ptr([]string{"staff", "beta"}),
			}},
		},
		{
			name:  "second client id, several audiences, unverified email dropped",
			token: sign(func(c map[string]any) { c["aud"] = []string{"other", "client-b"}; c["email_verified"] = "false" }),
			want: &identity.Claims{Subject: "user-42", RefreshProfile: true, Profile: identity.UserInput{
				FullName: ptr("Ann Lee"), Login: ptr("ann"), Tags: ptr([]string{"staff", "beta"}),
			}},
		},
		{
			name:       "wrong audience",
			token:      sign(func(c map[string]any) { c["aud"] = "client-z" }),
			wantErr:    identity.ErrInvalidCredentials,
			wantReason: errTokenAudience,
			wantFields: []identity.FieldError{{Field: "id_token", Code: "invalid"}},
		},
		{
			name:       "wrong issuer",
			token:      sign(func(c map[string]any) { c["iss"] = "https://evil.example.com" }),
			wantErr:    identity.ErrInvalidCredentials,
			wantReason: errTokenIssuer,
		},
		{
			name:       "expired",
			token:      sign(func(c map[string]any) { c["exp"] = testNow.Add(-time.Second).Unix() }),
			wantErr:    identity.ErrInvalidCredentials,
			wantReason: errTokenExpired,
			wantFields: []identity.FieldError{{Field: "id_token", Code: "expired"}},
		},
		{
			name:       "not yet valid",
			token:      sign(func(c map[string]any) { c["nbf"] = testNow.Add(time.Hour).Unix() }),
			wantErr:    identity.ErrInvalidCredentials,
			wantReason: errTokenClaims,
		},
		{
			name:       "unknown key",
			token:      idToken(t, rsaKey2, "k2", gooidc.RS256, is.url, nil),
			wantErr:    identity.ErrInvalidCredentials,
			wantReason: errTokenUnknownKey,
		},
		{
			name:       "known kid, other key",
			token:      idToken(t, rsaKey2, "k1", gooidc.RS256, is.url, nil),
			wantErr:    identity.ErrInvalidCredentials,
			wantReason: errTokenSignature,
		},
		{
			name:       "algorithm not advertised",
			token:      idToken(t, ecKey, "k1", gooidc.ES256, is.url, nil),
			wantErr:    identity.ErrInvalidCredentials,
			wantReason: errTokenAlgorithm,
		},
		{
			name:       "HS256 with the public key as secret",
			token:      hs256Token(t, "k1", is.url),
			wantErr:    identity.ErrInvalidCredentials,
			wantReason: errTokenAlgorithm,
		},
		{
			name:       "alg none",
			token:      unsignedToken(is.url),
			wantErr:    identity.ErrInvalidCredentials,
			wantReason: errTokenAlgorithm,
		},
		{
			name:       "JWT access token",
			token:      atJWT(t, is.url),
			wantErr:    identity.ErrInvalidCredentials,
			wantReason: errTokenType,
		},
		{
			name:       "tampered payload",
			token:      tamper(sign(nil)),
			wantErr:    identity.ErrInvalidCredentials,
			wantReason: errTokenSignature,
		},
		{
			name:       "no subject",
			token:      sign(func(c map[string]any) { delete(c, "sub") }),
			wantErr:    identity.ErrInvalidCredentials,
			wantReason: errTokenSubject,
		},
		{
			name:       "not a JWT",
			token:      "not-a-jwt",
			wantErr:    identity.ErrInvalidCredentials,
			wantReason: errTokenMalformed,
		},
		{
			name:       "oversized",
			token:      strings.Repeat("a", MaxTokenBytes+1),
			wantErr:    identity.ErrInvalidCredentials,
			wantReason: errTokenMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := p.Authenticate(context.Background(), oidcReq(app, tt.token))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantReason != nil && !errors.Is(err, tt.wantReason) {
				t.Errorf("err = %v, want reason %v", err, tt.wantReason)
			}
			if tt.wantFields != nil && !reflect.DeepEqual(errorFields(err), tt.wantFields) {
				t.Errorf("fields %v, want %v", errorFields(err), tt.wantFields)
			}
			if tt.want != nil && !reflect.DeepEqual(c, tt.want) {
				t.Errorf("claims:\n got %+v\nwant %+v", c, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error contains the token")
			}
		})
	}
	d, k := is.counts()
	if d != 1 || k > 2 {
		t.Errorf("discovery fetched %d times, keys %d times; want 1 and at most 2 (first use, unknown key)", d, k)
	}
	for _, tt := range tests {
		if len(tt.token) > 20 && strings.Contains(logs.String(), tt.token[len(tt.token)-20:]) {
			t.Errorf("log contains token %q", tt.name)
		}
	}
}

// hs256Token is the classic key-confusion attack: HS256 keyed with the RSA public key.
func hs256Token(t *testing.T, kid, iss string) string {
	der, err := x509.MarshalPKIXPublicKey(rsaKey1.Public())
	if err != nil {
		t.Fatal(err)
	}
	return idToken(t, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), kid, "HS256", iss, nil)
}

// atJWT is a correctly signed RFC 9068 access token: not an ID token.
func atJWT(t *testing.T, iss string) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: rsaKey1},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"iss": iss, "aud": "client-a", "sub": "user-42", "exp": testNow.Add(time.Hour).Unix()})
	sig, err := signer.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := sig.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func unsignedToken(iss string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","kid":"k1"}`)) + "." +
		enc([]byte(`{"iss":"`+iss+`","aud":"client-a","sub":"x","exp":4102444800}`)) + "."
}

// tamper changes the subject in the payload and keeps the signature.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	b = []byte(strings.Replace(string(b), "user-42", "admin-1", 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

func TestOIDCAllowedAlgorithms(t *testing.T) {
	is := newIssuer(t, rsaPub("k1", rsaKey1), oidctest.PublicKey{PublicKey: ecKey.Public(), KeyID: "e1", Algorithm: gooidc.ES256})
	is.srv.Algorithms = []string{gooidc.RS256, gooidc.ES256}
	p, _, _ := newTestOIDC(t, Config{})
	es := idToken(t, ecKey, "e1", gooidc.ES256, is.url, nil)
	rs := idToken(t, rsaKey1, "k1", gooidc.RS256, is.url, nil)
	tests := []struct {
		name    string
		algs    []string
		token   string
		wantErr error
	}{
		{"advertised ES256", nil, es, nil},
		{"advertised RS256", nil, rs, nil},
		{"configured ES256 only, RS256 token", []string{"ES256"}, rs, errTokenAlgorithm},
		{"configured ES256 only, ES256 token", []string{"ES256"}, es, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := appWith(t, "oidc", AppConfig{Issuer: is.url, ClientID: "client-a", Algorithms: tt.algs})
			_, err := p.Authenticate(context.Background(), oidcReq(app, tt.token))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestOIDCKeyFetchesAreThrottled(t *testing.T) {
	is := newIssuer(t, rsaPub("k1", rsaKey1))
	p, clk, _ := newTestOIDC(t, Config{MinRefresh: time.Minute})
	app := appWith(t, "oidc", AppConfig{Issuer: is.url, ClientID: "client-a"})
	auth := func(tok string) error {
		_, err := p.Authenticate(context.Background(), oidcReq(app, tok))
		return err
	}
	if err := auth(idToken(t, rsaKey1, "k1", gooidc.RS256, is.url, nil)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		kid := "forged-" + string(rune('a'+i))
		if err := auth(idToken(t, rsaKey2, kid, gooidc.RS256, is.url, nil)); !errors.Is(err, errTokenUnknownKey) {
			t.Fatalf("forged token: err = %v, want unknown key", err)
		}
	}
	if _, k := is.counts(); k != 1 {
		t.Fatalf("key set fetched %d times for 20 forged tokens within MinRefresh, want 1", k)
	}

	// The issuer rotates to k2: a k2 token works once MinRefresh has passed.
	is.set(func(is *issuer) { is.srv.PublicKeys = []oidctest.PublicKey{rsaPub("k2", rsaKey2)} })
	k2 := idToken(t, rsaKey2, "k2", gooidc.RS256, is.url, nil)
	if err := auth(k2); !errors.Is(err, errTokenUnknownKey) {
		t.Fatalf("k2 within MinRefresh: err = %v, want unknown key", err)
	}
	clk.Advance(time.Minute)
	if err := auth(k2); err != nil {
		t.Fatalf("k2 after MinRefresh: %v", err)
	}
	if _, k := is.counts(); k != 2 {
		t.Errorf("key set fetched %d times, want 2", k)
	}

	// Stale keys are refreshed after their lifetime (1 h without Cache-Control); k1 is gone.
	if err := auth(idToken(t, rsaKey1, "k1", gooidc.RS256, is.url, nil)); !errors.Is(err, errTokenUnknownKey) {
		t.Fatalf("k1 after rotation: err = %v, want unknown key", err)
	}
	clk.Advance(2 * time.Hour)
	is.set(func(is *issuer) { is.status = http.StatusInternalServerError })
	if err := auth(k2); err != nil {
		t.Fatalf("stale key kept while the refresh fails: %v", err)
	}
	if _, k := is.counts(); k != 3 {
		t.Errorf("key set fetched %d times, want 3", k)
	}
}

func TestOIDCUnavailable(t *testing.T) {
	tests := []struct {
		name string
		set  func(is *issuer)
		cfg  Config
	}{
		{"discovery fails", func(is *issuer) { is.status = http.StatusBadGateway }, Config{}},
		{"key set fails", func(is *issuer) { is.keysStatus = http.StatusServiceUnavailable }, Config{}},
		{"key set not JSON", func(is *issuer) { is.keysBody = "<html>" }, Config{}},
		{"key set without usable key", func(is *issuer) { is.keysBody = `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}` }, Config{}},
		{"key set too large", func(is *issuer) { is.keysBody = `{"keys":[],"pad":"` + strings.Repeat("x", 4096) + `"}` }, Config{MaxResponseBytes: 2048}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := newIssuer(t, rsaPub("k1", rsaKey1))
			is.set(tt.set)
			p, clk, _ := newTestOIDC(t, tt.cfg)
			app := appWith(t, "oidc", AppConfig{Issuer: is.url, ClientID: "client-a"})
			tok := idToken(t, rsaKey1, "k1", gooidc.RS256, is.url, nil)
			_, err := p.Authenticate(context.Background(), oidcReq(app, tok))
			if !errors.Is(err, identity.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			d1, k1 := is.counts()
			if _, err := p.Authenticate(context.Background(), oidcReq(app, tok)); !errors.Is(err, identity.ErrUnavailable) {
				t.Fatalf("second try: err = %v, want ErrUnavailable", err)
			}
			if d2, k2 := is.counts(); d2 != d1 || k2 != k1 {
				t.Errorf("retried within MinRefresh: discovery %d→%d, keys %d→%d", d1, d2, k1, k2)
			}
			// Once the issuer recovers and MinRefresh has passed, logins work again.
			is.set(func(is *issuer) {
				is.status, is.keysStatus, is.keysBody = 0, 0, ""
			})
			clk.Advance(time.Minute)
			if _, err := p.Authenticate(context.Background(), oidcReq(app, tok)); err != nil {
				t.Fatalf("after recovery: %v", err)
			}
		})
	}
}

func TestOIDCStaticKeys(t *testing.T) {
	is := newIssuer(t, rsaPub("k1", rsaKey1))
	der, err := x509.MarshalPKIXPublicKey(rsaKey1.Public())
	if err != nil {
		t.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	const iss = "https://issuer.example.com"
	tests := []struct {
		name    string
		cfg     AppConfig
		token   string
		wantErr error
	}{
		{"PEM key", AppConfig{PublicKeys: []string{pemKey}}, idToken(t, rsaKey1, "any", gooidc.RS256, iss, nil), nil},
		{"PEM key, other signer", AppConfig{PublicKeys: []string{pemKey}}, idToken(t, rsaKey2, "any", gooidc.RS256, iss, nil), errTokenSignature},
		{"PEM key, RS256 by default", AppConfig{PublicKeys: []string{pemKey}}, idToken(t, ecKey, "any", gooidc.ES256, iss, nil), errTokenAlgorithm},
		{"JWKS URL", AppConfig{JWKSURL: is.url + "/keys"}, idToken(t, rsaKey1, "k1", gooidc.RS256, iss, nil), nil},
		{"JWKS URL, unknown key", AppConfig{JWKSURL: is.url + "/keys"}, idToken(t, rsaKey2, "k9", gooidc.RS256, iss, nil), errTokenUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, _ := newTestOIDC(t, Config{})
			tt.cfg.Issuer, tt.cfg.ClientID = iss, "client-a"
			c, err := p.Authenticate(context.Background(), oidcReq(appWith(t, "oidc", tt.cfg), tt.token))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && c.Subject != "user-42" {
				t.Errorf("subject %q", c.Subject)
			}
		})
	}
	if d, _ := is.counts(); d != 0 {
		t.Errorf("discovery called %d times with configured keys", d)
	}
}

func TestOIDCTokenParam(t *testing.T) {
	is := newIssuer(t, rsaPub("k1", rsaKey1))
	p, _, _ := newTestOIDC(t, Config{Name: "keycloak"})
	app := appWith(t, "keycloak", AppConfig{Issuer: is.url, ClientID: "client-a"})
	tok := idToken(t, rsaKey1, "k1", gooidc.RS256, is.url, nil)
	req := &identity.AuthRequest{Application: app, Now: testNow,
		Credentials: identity.Credentials{Provider: "keycloak", Params: map[string]string{"token": tok}}}
	c, err := p.Authenticate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := identity.UserInput{Email: ptr("Ann@Example.com"), FullName: ptr("Ann Lee")} // the default claims
	if c.Subject != "user-42" || !reflect.DeepEqual(c.Profile, want) {
		t.Errorf("claims %+v", c)
	}
	req.Credentials.Params = nil
	if _, err := p.Authenticate(context.Background(), req); !errors.Is(err, identity.ErrInvalidInput) || !namesField(err, "token") {
		t.Errorf("blank token: err = %v, want ErrInvalidInput naming token", err)
	}
}

func TestOIDCNotEnabledAndBadConfig(t *testing.T) {
	p, _, _ := newTestOIDC(t, Config{})
	app := &identity.Application{ID: 3}
	if _, err := p.Authenticate(context.Background(), oidcReq(app, "t.t.t")); !errors.Is(err, identity.ErrDisabled) {
		t.Errorf("no config: err = %v, want ErrDisabled", err)
	}
	for _, raw := range []string{`{"issuer":"https://x","client_id":"a","unknown":1}`, `{"issuer":"http://x.example.com","client_id":"a"}`, `[]`} {
		app.Settings.Providers = map[string]json.RawMessage{"oidc": json.RawMessage(raw)}
		_, err := p.Authenticate(context.Background(), oidcReq(app, "t.t.t"))
		if err == nil || errors.Is(err, identity.ErrInvalidCredentials) || errors.Is(err, identity.ErrUnavailable) {
			t.Errorf("config %s: err = %v, want an internal error", raw, err)
		}
	}
}

func TestOIDCAppConfigValidate(t *testing.T) {
	ok := func() AppConfig { return AppConfig{Issuer: "https://issuer.example.com", ClientID: "a"} }
	tests := []validateCase[AppConfig]{
		{"minimal", func(c *AppConfig) {}, false},
		{"loopback http", func(c *AppConfig) { c.Issuer = "http://127.0.0.1:8080/realms/x" }, false},
		{"localhost http", func(c *AppConfig) { c.Issuer = "http://localhost:8080" }, false},
		{"client ids only", func(c *AppConfig) { c.ClientID, c.ClientIDs = "", []string{"a", "b"} }, false},
		{"all algorithms", func(c *AppConfig) {
			for _, a := range signingAlgs {
				c.Algorithms = append(c.Algorithms, string(a))
			}
		}, false},
		{"claims", func(c *AppConfig) {
			c.Claims = map[string]string{"login": "#{preferred_username}", "tags": "#{realm_access.roles}"}
		}, false},
		{"public http issuer", func(c *AppConfig) { c.Issuer = "http://issuer.example.com" }, true},
		{"no issuer", func(c *AppConfig) { c.Issuer = "" }, true},
		{"no client id", func(c *AppConfig) { c.ClientID = " " }, true},
		{"HS256", func(c *AppConfig) { c.Algorithms = []string{"HS256"} }, true},
		{"none", func(c *AppConfig) { c.Algorithms = []string{"none"} }, true},
		{"public http jwks", func(c *AppConfig) { c.JWKSURL = "http://keys.example.com" }, true},
		{"jwks and pem", func(c *AppConfig) { c.JWKSURL, c.PublicKeys = "https://k.example.com", []string{"x"} }, true},
		{"not PEM", func(c *AppConfig) { c.PublicKeys = []string{"hello"} }, true},
		{"private key PEM", func(c *AppConfig) {
			c.PublicKeys = []string{string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey1)}))}
		}, true},
		{"uid claim", func(c *AppConfig) { c.Claims = map[string]string{"uid": "#{email}"} }, true},
		{"claim without placeholder", func(c *AppConfig) { c.Claims = map[string]string{"login": "email"} }, true},
	}
	runValidate(t, ok, (*AppConfig).Validate, tests)
}

func TestLimitedBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 100))
	}))
	defer srv.Close()
	for _, tt := range []struct {
		max     int64
		wantErr error
	}{{100, nil}, {101, nil}, {99, errBodyTooLarge}} {
		c := &http.Client{Transport: limitTransport{rt: http.DefaultTransport, max: tt.max}}
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("max %d: read %d bytes, err = %v, want %v", tt.max, len(b), err, tt.wantErr)
		}
	}
}

// FuzzOIDCToken feeds arbitrary tokens to the OIDC provider with static keys: it must never
// panic, and must refuse everything it did not sign.
func FuzzOIDCToken(f *testing.F) {
	f.Add("e30.e30.")
	f.Add("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.e30.AAAA")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("a.b.c.d")
	p, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	raw, _ := json.Marshal(AppConfig{Issuer: "https://issuer.example.com", ClientID: "a", JWKSURL: "https://127.0.0.1:1/keys"})
	app := &identity.Application{ID: 1, Settings: identity.AppSettings{Providers: map[string]json.RawMessage{"oidc": raw}}}
	// No key set is reachable: tokens that get that far fail as unavailable.
	p.client = &http.Client{Transport: failingTransport{}}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := p.Authenticate(context.Background(), &identity.AuthRequest{Application: app, Credentials: identity.Credentials{Login: token}})
		if err == nil {
			t.Fatalf("accepted %q: %+v", token, c)
		}
		if !errors.Is(err, identity.ErrInvalidCredentials) && !errors.Is(err, identity.ErrInvalidInput) && !errors.Is(err, identity.ErrUnavailable) {
			t.Fatalf("token %q: unexpected error %v", token, err)
		}
	})
}

type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no network in this test")
}

// appWith returns an application whose settings hold cfg for the provider name.

func appWith(t *testing.T, name string, cfg any) *identity.Application {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &identity.Application{ID: 7, Settings: identity.AppSettings{
		PasswordProvider: name,
		Providers:        map[string]json.RawMessage{name: raw},
	}}
}

func ptr[T any](v T) *T { return &v }

// namesField reports whether err is an *identity.Error naming field.
func namesField(err error, field string) bool {
	var e *identity.Error
	return errors.As(err, &e) && e.Code(field) != ""
}

// errorFields returns the Fields of the *identity.Error in err, or nil.
func errorFields(err error) []identity.FieldError {
	var e *identity.Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

func TestEnable(t *testing.T) {
	o, err := New(Config{Name: "keycloak"})
	if err != nil {
		t.Fatal(err)
	}
	orig := map[string]json.RawMessage{"cidp": json.RawMessage(`{}`)}
	s := identity.AppSettings{Providers: orig}
	good := AppConfig{Issuer: "https://kc.example.com/realms/r", ClientID: "app"}
	if err := o.Enable(&s, good); err != nil {
		t.Fatal(err)
	}
	if len(orig) != 1 {
		t.Errorf("Enable modified the caller's map: %v", orig)
	}
	var back AppConfig
	if ok, err := s.ProviderConfig("keycloak", &back); !ok || err != nil || !reflect.DeepEqual(back, good) || s.PasswordProvider != "" {
		t.Errorf("settings %+v: %v", s, err)
	}
	bad := identity.AppSettings{}
	if err := o.Enable(&bad, AppConfig{Issuer: "https://x.example.com"}); err == nil || bad.Providers != nil {
		t.Errorf("Enable(invalid) = %v, settings %+v", err, bad)
	}
}

type validateCase[C any] struct {
	name    string
	mutate  func(c *C)
	wantErr bool
}

// runValidate runs a validation table: validate of each mutated ok() must fail exactly when
// wantErr, with a message that starts with the package name.
func runValidate[C any](t *testing.T, ok func() C, validate func(*C) error, tests []validateCase[C]) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.mutate(&c)
			err := validate(&c)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Validate() = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "oidc: ") {
				t.Errorf("message %q does not start with the package name", err)
			}
		})
	}
}
