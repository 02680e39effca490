package firebase

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/identitykit/identity"
)

// keyFixture is a phone provider over a local key server and a hand-moved clock.
type keyFixture struct {
	t     *testing.T
	ks    *keyServer
	clk   *clock
	phone *Provider
	app   *identity.Application
}

func newKeyFixture(t *testing.T, kids ...string) *keyFixture {
	f := &keyFixture{t: t, ks: newKeyServer(t, kids...), clk: newClock(), app: testApp(t, false)}
	var err error
	f.phone, _, err = New(Config{KeySetURL: f.ks.url(), Now: f.clk.Now, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// login presents a fresh token signed with kid.
func (f *keyFixture) login(kid string) error {
	f.t.Helper()
	tok := sign(f.t, kid, kid, claimsFor("proj-a", f.clk.Now()))
	_, err := f.phone.Authenticate(context.Background(), authReq(f.app, PhoneProvider, "proj-a", tok))
	return err
}

func (f *keyFixture) check(step string, err, want error, fetches int32) {
	f.t.Helper()
	if want == nil && err != nil {
		f.t.Fatalf("%s: err = %v (%v), want success", step, err, reason(err))
	}
	if want != nil && !errors.Is(err, want) {
		f.t.Fatalf("%s: err = %v (%v), want %v", step, err, reason(err), want)
	}
	if n := f.ks.fetches.Load(); n != fetches {
		f.t.Fatalf("%s: %d fetches of the key set, want %d", step, n, fetches)
	}
}

func TestKeyRotation(t *testing.T) {
	f := newKeyFixture(t, "k1")
	f.check("first token fetches the keys", f.login("k1"), nil, 1)
	f.check("cached key", f.login("k1"), nil, 1)
	f.check("unknown kid right after a fetch is not refetched", f.login("k2"), errUnknownKey, 1)

	f.ks.publish("k2") // Google rotates: k2 replaces k1
	f.check("rotation within MinRefreshInterval is not seen yet", f.login("k2"), errUnknownKey, 1)
	f.check("old key still cached", f.login("k1"), nil, 1)

	f.clk.advance(61 * time.Second)
	f.check("unknown kid after MinRefreshInterval refetches and is accepted", f.login("k2"), nil, 2)
	f.check("retired key is gone after the refetch", f.login("k1"), errUnknownKey, 2)
	f.check("new key cached", f.login("k2"), nil, 2)
}

func TestKeySetUnavailable(t *testing.T) {
	f := newKeyFixture(t, "k1")
	f.ks.setStatus(http.StatusInternalServerError)
	err := f.login("k1")
	f.check("key server down", err, identity.ErrUnavailable, 1)
	if errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("unavailable key set reported as invalid credentials: %v", err)
	}
	f.check("retries are throttled and still unavailable", f.login("k1"), identity.ErrUnavailable, 1)

	f.ks.setStatus(http.StatusOK)
	f.clk.advance(61 * time.Second)
	f.check("recovered", f.login("k1"), nil, 2)
}

func TestKeySetExpiry(t *testing.T) {
	f := newKeyFixture(t, "k1")
	f.ks.mu.Lock()
	f.ks.cacheControl = "public, max-age=300, must-revalidate, no-transform"
	f.ks.mu.Unlock()
	f.check("first fetch", f.login("k1"), nil, 1)
	f.clk.advance(299 * time.Second)
	f.check("fresh until max-age", f.login("k1"), nil, 1)
	f.clk.advance(2 * time.Second)
	f.check("stale keys are refetched", f.login("k1"), nil, 2)

	// Stale keys stay in use while the key server fails.
	f.clk.advance(301 * time.Second)
	f.ks.setStatus(http.StatusServiceUnavailable)
	f.check("stale key used when the refetch fails", f.login("k1"), nil, 3)
	f.check("no refetch within MinRefreshInterval", f.login("k1"), nil, 3)

	// A key the refetched set no longer holds is dropped.
	f.ks.setStatus(http.StatusOK)
	f.ks.publish("k2")
	f.clk.advance(61 * time.Second)
	f.check("key removed from the set", f.login("k1"), errUnknownKey, 4)
}

func TestKeySetLifetime(t *testing.T) {
	k := &keySet{minRefresh: time.Minute}
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", defaultKeyLifetime},
		{"public, max-age=19204, must-revalidate, no-transform", 19204 * time.Second},
		{"max-age=0", time.Minute},
		{"MAX-AGE=\"600\"", 10 * time.Minute},
		{"max-age=99999999999", maxKeyLifetime},
		{"max-age=-5", defaultKeyLifetime},
		{"max-age=abc", defaultKeyLifetime},
	}
	for _, tt := range tests {
		if got := k.lifetime(tt.header); got != tt.want {
			t.Errorf("lifetime(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestParseKeySet(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantKids []string
		wantErr  bool
	}{
		{name: "not JSON", body: "<html>", wantErr: true},
		{name: "empty", body: `{"keys":[]}`, wantErr: true},
		{name: "only unusable keys", wantErr: true,
			body: `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"},{"kty":"EC","crv":"P-256","kid":"e","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`},
		{name: "short RSA key skipped", wantErr: true, body: shortKeySet(t)},
		{name: "good key among others", wantKids: []string{"k1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			if body == "" {
				ks := newKeyServer(t, "k1")
				resp, err := http.Get(ks.url())
				if err != nil {
					t.Fatal(err)
				}
				var buf [1 << 14]byte
				n, _ := resp.Body.Read(buf[:])
				resp.Body.Close()
				// Prepend an unusable key to the served set.
				body = `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"},` + string(buf[len(`{"keys":[`):n])
			}
			keys, err := parseKeySet([]byte(body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if len(keys) != len(tt.wantKids) {
				t.Fatalf("keys = %v, want %v", keys, tt.wantKids)
			}
			for _, kid := range tt.wantKids {
				if keys[kid] == nil {
					t.Errorf("key %q missing", kid)
				}
			}
		})
	}
}

// shortKeySet serves a 1024-bit RSA key, too short to be trusted.
func shortKeySet(t *testing.T) string {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "s", Algorithm: "RS256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConcurrentFirstUseFetchesOnce(t *testing.T) {
	f := newKeyFixture(t, "k1")
	gate := make(chan struct{})
	f.ks.mu.Lock()
	f.ks.gate = gate
	f.ks.mu.Unlock()
	tok := sign(t, "k1", "k1", claimsFor("proj-a", f.clk.Now()))

	const n = 8
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.phone.Authenticate(context.Background(), authReq(f.app, PhoneProvider, "proj-a", tok))
			errs <- err
		}()
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("err = %v (%v)", err, reason(err))
		}
	}
	if got := f.ks.fetches.Load(); got != 1 {
		t.Errorf("%d fetches, want 1", got)
	}
}

func TestWaitingForKeysHonoursContext(t *testing.T) {
	f := newKeyFixture(t, "k1")
	gate := make(chan struct{})
	f.ks.mu.Lock()
	f.ks.gate = gate
	f.ks.mu.Unlock()
	defer close(gate)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tok := sign(t, "k1", "k1", claimsFor("proj-a", f.clk.Now()))
	_, err := f.phone.Authenticate(ctx, authReq(f.app, PhoneProvider, "proj-a", tok))
	if !errors.Is(err, context.Canceled) || errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("err = %v, want context.Canceled (not invalid credentials)", err)
	}
}
