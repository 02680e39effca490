package jwks

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil"
)

var (
	otherKeysOnce sync.Once
	ecKey         *ecdsa.PrivateKey
	edKey         ed25519.PrivateKey
)

// rsaKey returns the RSA test key named kid (testutil.RSAKey).
func rsaKey(t testing.TB, kid string) *rsa.PrivateKey { return testutil.RSAKey(t, kid) }

// otherKeys generates the EC and Ed25519 test keys, once.
func otherKeys() {
	otherKeysOnce.Do(func() {
		var err error
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if _, edKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
	})
}

// signJWT signs payload {"sub":"u"} with key and alg, naming kid in the header ("" for none).
func signJWT(t testing.TB, key any, alg jose.SignatureAlgorithm, kid string) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	return testutil.SignJWS(t, jose.SigningKey{Algorithm: alg, Key: key}, opts, []byte(`{"sub":"u"}`))
}

var firebaseOptions = Options{Algorithms: []jose.SignatureAlgorithm{jose.RS256}, RequireKeyID: true}

// fixture is a Remote over a local key server and a hand-moved clock.
type fixture struct {
	t   *testing.T
	ks  *testutil.KeyServer
	clk *testutil.Clock
	r   *Remote
}

func newFixture(t *testing.T, cfg Config, kids ...string) *fixture {
	f := &fixture{t: t, ks: testutil.NewKeyServer(t, kids...), clk: testutil.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
	cfg.URL, cfg.Now, cfg.Logger = f.ks.URL(), f.clk.Now, slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg.Algorithms == nil {
		cfg.Options = firebaseOptions
	}
	var err error
	if f.r, err = NewRemote(cfg); err != nil {
		t.Fatal(err)
	}
	return f
}

// verify does what a verifier does with a token signed by kid's key and naming kid: Ensure,
// then VerifySignature.
func (f *fixture) verify(kid string) error {
	f.t.Helper()
	tok := signJWT(f.t, rsaKey(f.t, kid), jose.RS256, kid)
	if err := f.r.Ensure(context.Background(), kid); err != nil {
		return err
	}
	payload, err := f.r.VerifySignature(context.Background(), tok)
	if err == nil && string(payload) != `{"sub":"u"}` {
		f.t.Fatalf("payload %q", payload)
	}
	return err
}

func (f *fixture) check(step string, err, want error, fetches int) {
	f.t.Helper()
	if want == nil && err != nil {
		f.t.Fatalf("%s: err = %v, want success", step, err)
	}
	if want != nil && !errors.Is(err, want) {
		f.t.Fatalf("%s: err = %v, want %v", step, err, want)
	}
	if n := f.ks.Fetches(); n != fetches {
		f.t.Fatalf("%s: %d fetches of the key set, want %d", step, n, fetches)
	}
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t, Config{}, "k1")
	f.check("first token fetches the keys", f.verify("k1"), nil, 1)
	f.check("cached key", f.verify("k1"), nil, 1)
	f.check("unknown kid right after a fetch is not refetched", f.verify("k2"), ErrUnknownKey, 1)

	f.ks.Publish("k2") // the issuer rotates: k2 replaces k1
	f.check("rotation within MinRefresh is not seen yet", f.verify("k2"), ErrUnknownKey, 1)
	f.check("old key still cached", f.verify("k1"), nil, 1)

	f.clk.Advance(61 * time.Second)
	f.check("unknown kid after MinRefresh refetches and is accepted", f.verify("k2"), nil, 2)
	f.check("retired key is gone after the refetch", f.verify("k1"), ErrUnknownKey, 2)
	f.check("new key cached", f.verify("k2"), nil, 2)
}

func TestUnavailable(t *testing.T) {
	f := newFixture(t, Config{}, "k1")
	f.ks.SetStatus(http.StatusInternalServerError)
	err := f.verify("k1")
	f.check("key server down", err, identity.ErrUnavailable, 1)
	if errors.Is(err, ErrUnknownKey) || errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("unavailable key set reported as a refused token: %v", err)
	}
	f.check("retries are throttled and still unavailable", f.verify("k1"), identity.ErrUnavailable, 1)

	f.ks.SetStatus(http.StatusOK)
	f.clk.Advance(61 * time.Second)
	f.check("recovered", f.verify("k1"), nil, 2)
}

func TestUnusableAnswers(t *testing.T) {
	tests := []struct {
		name string
		body string
		cfg  Config
	}{
		{"not JSON", "<html>", Config{}},
		{"no usable key", `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"k1"}]}`, Config{}},
		{"too large", `{"keys":[],"pad":"` + strings.Repeat("x", 4096) + `"}`, Config{MaxBytes: 2048}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.cfg, "k1")
			f.ks.SetBody(tt.body)
			f.check("unusable answer", f.verify("k1"), identity.ErrUnavailable, 1)
		})
	}
}

func TestExpiry(t *testing.T) {
	f := newFixture(t, Config{}, "k1")
	f.ks.SetCacheControl("public, max-age=300, must-revalidate, no-transform")
	f.check("first fetch", f.verify("k1"), nil, 1)
	f.clk.Advance(299 * time.Second)
	f.check("fresh until max-age", f.verify("k1"), nil, 1)
	f.clk.Advance(2 * time.Second)
	f.check("stale keys are refetched", f.verify("k1"), nil, 2)

	// Stale keys stay in use while the key server fails.
	f.clk.Advance(301 * time.Second)
	f.ks.SetStatus(http.StatusServiceUnavailable)
	f.check("stale key used when the refetch fails", f.verify("k1"), nil, 3)
	f.check("no refetch within MinRefresh", f.verify("k1"), nil, 3)

	// A key the refetched set no longer holds is dropped.
	f.ks.SetStatus(http.StatusOK)
	f.ks.Publish("k2")
	f.clk.Advance(61 * time.Second)
	f.check("key removed from the set", f.verify("k1"), ErrUnknownKey, 4)
}

func TestLifetime(t *testing.T) {
	r := &Remote{minRefresh: time.Minute}
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", DefaultLifetime},
		{"public, max-age=19204, must-revalidate, no-transform", 19204 * time.Second},
		{"max-age=0", time.Minute},
		{"MAX-AGE=\"600\"", 10 * time.Minute},
		{"max-age=99999999999", MaxLifetime},
		{"max-age=-5", DefaultLifetime},
		{"max-age=abc", DefaultLifetime},
	}
	for _, tt := range tests {
		if got := r.lifetime(tt.header); got != tt.want {
			t.Errorf("lifetime(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func jwkJSON(t *testing.T, k jose.JSONWebKey) string {
	t.Helper()
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseSet(t *testing.T) {
	otherKeys()
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	good := jwkJSON(t, jose.JSONWebKey{Key: &rsaKey(t, "k1").PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"})
	noKid := jwkJSON(t, jose.JSONWebKey{Key: &rsaKey(t, "k2").PublicKey, Use: "sig"})
	ec := jwkJSON(t, jose.JSONWebKey{Key: &ecKey.PublicKey, KeyID: "e"})
	ed := jwkJSON(t, jose.JSONWebKey{Key: edKey.Public(), KeyID: "d"})
	ps := jwkJSON(t, jose.JSONWebKey{Key: &rsaKey(t, "k3").PublicKey, KeyID: "p", Algorithm: "PS256"})
	enc := jwkJSON(t, jose.JSONWebKey{Key: &rsaKey(t, "k3").PublicKey, KeyID: "x", Use: "enc"})
	priv := jwkJSON(t, jose.JSONWebKey{Key: rsaKey(t, "k3"), KeyID: "priv"})
	shortKey := jwkJSON(t, jose.JSONWebKey{Key: &short.PublicKey, KeyID: "s", Algorithm: "RS256", Use: "sig"})
	const oct = `{"kty":"oct","k":"c2VjcmV0","kid":"h"}`
	all := Options{Algorithms: []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.EdDSA}}

	tests := []struct {
		name     string
		body     string
		opts     Options
		wantKids []string
		wantErr  bool
	}{
		{name: "not JSON", body: "<html>", opts: firebaseOptions, wantErr: true},
		{name: "empty", body: `{"keys":[]}`, opts: firebaseOptions, wantErr: true},
		{name: "only unusable keys", body: `{"keys":[` + oct + `,` + ec + `]}`, opts: firebaseOptions, wantErr: true},
		{name: "short RSA key skipped", body: `{"keys":[` + shortKey + `]}`, opts: all, wantErr: true},
		{name: "good key among others", body: `{"keys":[` + oct + `,` + good + `]}`, opts: firebaseOptions, wantKids: []string{"k1"}},
		{name: "RS256 only: other types and algorithms, missing kid, encryption and private keys skipped",
			body: `{"keys":[` + strings.Join([]string{good, noKid, ec, ed, ps, enc, priv, oct}, ",") + `]}`,
			opts: firebaseOptions, wantKids: []string{"k1"}},
		{name: "every asymmetric type",
			body: `{"keys":[` + strings.Join([]string{good, noKid, ec, ed, ps, enc, priv, oct}, ",") + `]}`,
			opts: all, wantKids: []string{"k1", "", "e", "d", "p"}},
		{name: "alg outside the options", body: `{"keys":[` + ps + `]}`, opts: Options{Algorithms: []jose.SignatureAlgorithm{jose.RS256}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := ParseSet([]byte(tt.body), tt.opts)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			var kids []string
			for _, k := range keys {
				kids = append(kids, k.KeyID)
			}
			if strings.Join(kids, ",") != strings.Join(tt.wantKids, ",") || len(kids) != len(tt.wantKids) {
				t.Fatalf("keys %q, want %q", kids, tt.wantKids)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	k1, k2 := rsaKey(t, "k1"), rsaKey(t, "k2")
	withKid := []jose.JSONWebKey{{Key: &k1.PublicKey, KeyID: "k1"}, {Key: &k2.PublicKey, KeyID: "k2"}}
	noKid := []jose.JSONWebKey{{Key: &k2.PublicKey}, {Key: &k1.PublicKey}}
	rs := Options{Algorithms: []jose.SignatureAlgorithm{jose.RS256}}
	tests := []struct {
		name    string
		keys    []jose.JSONWebKey
		opts    Options
		token   string
		wantErr error
	}{
		{"kid names the key", withKid, rs, signJWT(t, k2, jose.RS256, "k2"), nil},
		{"kid names another key", withKid, rs, signJWT(t, k2, jose.RS256, "k1"), ErrSignature},
		{"unknown kid", withKid, rs, signJWT(t, k1, jose.RS256, "k9"), ErrUnknownKey},
		{"token without kid tries every key", withKid, rs, signJWT(t, k2, jose.RS256, ""), nil},
		{"token without kid refused when kids are required", withKid, firebaseOptions, signJWT(t, k2, jose.RS256, ""), ErrUnknownKey},
		{"keys without kid verify any kid", noKid, rs, signJWT(t, k1, jose.RS256, "whatever"), nil},
		{"algorithm outside the options", withKid, rs, signJWT(t, k1, jose.PS256, "k1"), ErrMalformed},
		{"HS256 with the public key", withKid, rs, signJWT(t, x509.MarshalPKCS1PublicKey(&k1.PublicKey), jose.HS256, "k1"), ErrMalformed},
		{"not a JWS", withKid, rs, "a.b.c", ErrMalformed},
		{"tampered payload", withKid, rs, tamper(signJWT(t, k1, jose.RS256, "k1")), ErrSignature},
		{"no keys", nil, rs, signJWT(t, k1, jose.RS256, "k1"), ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verify(tt.token, tt.keys, tt.opts)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// tamper replaces the payload of a compact JWS.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	parts[1] = "eyJzdWIiOiJhZG1pbiJ9" // {"sub":"admin"}
	return strings.Join(parts, ".")
}

func pemOf(t *testing.T, typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func TestParsePEM(t *testing.T) {
	otherKeys()
	k1 := rsaKey(t, "k1")
	pkix1, err := x509.MarshalPKIXPublicKey(&k1.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pkixEC, err := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "issuer"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<33, 0)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rsaKey(t, "k2").PublicKey, k1)
	if err != nil {
		t.Fatal(err)
	}
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	pkixShort, _ := x509.MarshalPKIXPublicKey(&short.PublicKey)
	all := Options{Algorithms: []jose.SignatureAlgorithm{jose.RS256, jose.ES256}}
	tests := []struct {
		name      string
		pems      []string
		opts      Options
		wantKeys  int
		wantIndex int // of the *PEMError; -1 for success
	}{
		{"public key", []string{pemOf(t, "PUBLIC KEY", pkix1)}, all, 1, -1},
		{"certificate", []string{pemOf(t, "CERTIFICATE", cert)}, all, 1, -1},
		{"two blocks in one string, EC in another", []string{pemOf(t, "PUBLIC KEY", pkix1) + pemOf(t, "CERTIFICATE", cert), pemOf(t, "PUBLIC KEY", pkixEC)}, all, 3, -1},
		{"EC key where only RS256 is allowed", []string{pemOf(t, "PUBLIC KEY", pkix1), pemOf(t, "PUBLIC KEY", pkixEC)}, firebaseOptions, 0, 1},
		{"private key block", []string{pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k1))}, all, 0, 0},
		{"short RSA key", []string{pemOf(t, "PUBLIC KEY", pkixShort)}, all, 0, 0},
		{"no block", []string{pemOf(t, "PUBLIC KEY", pkix1), "hello"}, all, 0, 1},
		{"broken DER", []string{pemOf(t, "PUBLIC KEY", []byte("nope"))}, all, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := ParsePEM(tt.pems, tt.opts)
			var pe *PEMError
			switch {
			case tt.wantIndex < 0 && err != nil:
				t.Fatalf("err = %v", err)
			case tt.wantIndex >= 0 && (!errors.As(err, &pe) || pe.Index != tt.wantIndex):
				t.Fatalf("err = %v, want a *PEMError at index %d", err, tt.wantIndex)
			}
			if keys.Len() != tt.wantKeys {
				t.Fatalf("%d keys, want %d", keys.Len(), tt.wantKeys)
			}
		})
	}
	keys, err := ParsePEM([]string{pemOf(t, "CERTIFICATE", cert)}, all)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Ensure(context.Background(), "any"); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.VerifySignature(context.Background(), signJWT(t, rsaKey(t, "k2"), jose.RS256, "any")); err != nil {
		t.Errorf("certificate key does not verify: %v", err)
	}
	if _, err := keys.VerifySignature(context.Background(), signJWT(t, k1, jose.RS256, "any")); !errors.Is(err, ErrSignature) {
		t.Errorf("other signer: err = %v, want ErrSignature", err)
	}
}

func TestConcurrentFirstUseFetchesOnce(t *testing.T) {
	f := newFixture(t, Config{}, "k1")
	gate := make(chan struct{})
	f.ks.SetGate(gate)
	tok := signJWT(t, rsaKey(t, "k1"), jose.RS256, "k1")

	const n = 8
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := f.r.Ensure(context.Background(), "k1")
			if err == nil {
				_, err = f.r.VerifySignature(context.Background(), tok)
			}
			errs <- err
		}()
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("err = %v", err)
		}
	}
	if got := f.ks.Fetches(); got != 1 {
		t.Errorf("%d fetches, want 1", got)
	}
}

func TestWaitingHonoursContext(t *testing.T) {
	f := newFixture(t, Config{}, "k1")
	gate := make(chan struct{})
	f.ks.SetGate(gate)
	defer close(gate)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := f.r.Ensure(ctx, "k1")
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnknownKey) || errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestNewRemote(t *testing.T) {
	rs := Options{Algorithms: []jose.SignatureAlgorithm{jose.RS256}}
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"https", Config{URL: "https://keys.example.com/jwks", Options: rs}, false},
		{"http", Config{URL: "http://127.0.0.1:9/jwks", Options: rs}, false},
		{"not a URL", Config{URL: "keys.example.com", Options: rs}, true},
		{"file URL", Config{URL: "file:///etc/keys", Options: rs}, true},
		{"no algorithms", Config{URL: "https://keys.example.com/jwks"}, true},
		{"negative timeout", Config{URL: "https://keys.example.com/jwks", Options: rs, Timeout: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRemote(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "jwks: ") {
				t.Errorf("message %q does not start with the package name", err)
			}
		})
	}
}
