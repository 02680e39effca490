package testutil

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

var (
	rsaKeysMu sync.Mutex
	rsaKeys   = map[string]*rsa.PrivateKey{}
)

// RSAKey returns the 2048-bit RSA test key named kid, generated on first use and the same
// for the rest of the test binary (generating RSA keys is slow).
func RSAKey(t testing.TB, kid string) *rsa.PrivateKey {
	t.Helper()
	rsaKeysMu.Lock()
	defer rsaKeysMu.Unlock()
	if k := rsaKeys[kid]; k != nil {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("testutil: RSA key %q: %v", kid, err)
	}
	rsaKeys[kid] = k
	return k
}

// SignJWS signs payload with key and returns the compact serialization; opts may be nil.
func SignJWS(t testing.TB, key jose.SigningKey, opts *jose.SignerOptions, payload []byte) string {
	t.Helper()
	s, err := jose.NewSigner(key, opts)
	if err != nil {
		t.Fatalf("testutil: signer: %v", err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatalf("testutil: sign: %v", err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatalf("testutil: serialize: %v", err)
	}
	return tok
}

// KeyServer is a local JSON Web Key Set endpoint, in place of an issuer's (Google's
// securetoken keys, an OIDC jwks_uri). It serves the public halves of RSAKey keys, counts
// fetches, and can be made to fail, to send a body of the test's choosing or a
// Cache-Control header, or to hold requests. Its setters are safe for concurrent use.
type KeyServer struct {
	t   testing.TB
	srv *httptest.Server

	mu           sync.Mutex
	published    jose.JSONWebKeySet
	status       int
	cacheControl string
	body         string
	gate         chan struct{}

	fetches atomic.Int32
}

// NewKeyServer starts a KeyServer publishing the keys named kids (RS256, use "sig"); it is
// closed when t's test ends.
func NewKeyServer(t testing.TB, kids ...string) *KeyServer {
	t.Helper()
	ks := &KeyServer{t: t, status: http.StatusOK}
	ks.Publish(kids...)
	ks.srv = httptest.NewServer(http.HandlerFunc(ks.serve))
	t.Cleanup(ks.srv.Close)
	return ks
}

// URL is the key set's address.
func (ks *KeyServer) URL() string { return ks.srv.URL + "/jwk" }

// Fetches is the number of requests served so far.
func (ks *KeyServer) Fetches() int { return int(ks.fetches.Load()) }

// Publish replaces the published keys with the keys named kids.
func (ks *KeyServer) Publish(kids ...string) {
	ks.t.Helper()
	var set jose.JSONWebKeySet
	for _, kid := range kids {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &RSAKey(ks.t, kid).PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"})
	}
	ks.locked(func() { ks.published = set })
}

func (ks *KeyServer) locked(f func()) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	f()
}

// SetStatus makes the server answer code (with a plain-text body) instead of the key set;
// http.StatusOK serves the key set again.
func (ks *KeyServer) SetStatus(code int) { ks.locked(func() { ks.status = code }) }

// SetBody makes the server send body instead of the published key set; "" sends the key
// set again.
func (ks *KeyServer) SetBody(body string) { ks.locked(func() { ks.body = body }) }

// SetCacheControl sets the Cache-Control header of the key set responses ("" for none).
func (ks *KeyServer) SetCacheControl(v string) { ks.locked(func() { ks.cacheControl = v }) }

// SetGate makes requests wait until gate is closed before answering; nil answers at once.
func (ks *KeyServer) SetGate(gate chan struct{}) { ks.locked(func() { ks.gate = gate }) }

func (ks *KeyServer) serve(w http.ResponseWriter, r *http.Request) {
	ks.fetches.Add(1)
	ks.mu.Lock()
	gate, status, cc, set, body := ks.gate, ks.status, ks.cacheControl, ks.published, ks.body
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
	if body != "" {
		io.WriteString(w, body)
		return
	}
	json.NewEncoder(w).Encode(set)
}
