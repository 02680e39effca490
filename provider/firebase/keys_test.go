package firebase

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil"
)

// keyFixture is a phone provider over a local key server and a hand-moved clock.
type keyFixture struct {
	t     *testing.T
	ks    *testutil.KeyServer
	clk   *testutil.Clock
	phone *Provider
	app   *identity.Application
}

func newKeyFixture(t *testing.T, kids ...string) *keyFixture {
	f := &keyFixture{t: t, ks: testutil.NewKeyServer(t, kids...), clk: newClock(), app: testApp(t, false)}
	var err error
	f.phone, _, err = newPair(Config{KeySetURL: f.ks.URL(), Now: f.clk.Now, Logger: quietLogger()})
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

func (f *keyFixture) check(step string, err, want error, fetches int) {
	f.t.Helper()
	if want == nil && err != nil {
		f.t.Fatalf("%s: err = %v (%v), want success", step, err, reason(err))
	}
	if want != nil && !errors.Is(err, want) {
		f.t.Fatalf("%s: err = %v (%v), want %v", step, err, reason(err), want)
	}
	if n := f.ks.Fetches(); n != fetches {
		f.t.Fatalf("%s: %d fetches of the key set, want %d", step, n, fetches)
	}
}

// The key cache itself is tested in internal/jwks; these tests show the providers use it:
// a rotation is picked up, and an unreachable key set is not reported as a bad token.

func TestKeyRotation(t *testing.T) {
	f := newKeyFixture(t, "k1")
	f.check("first token fetches the keys", f.login("k1"), nil, 1)
	f.check("cached key", f.login("k1"), nil, 1)
	f.check("unknown kid right after a fetch is not refetched", f.login("k2"), errUnknownKey, 1)

	f.ks.Publish("k2") // Google rotates: k2 replaces k1
	f.check("rotation within MinRefreshInterval is not seen yet", f.login("k2"), errUnknownKey, 1)
	f.check("old key still cached", f.login("k1"), nil, 1)

	f.clk.Advance(61 * time.Second)
	f.check("unknown kid after MinRefreshInterval refetches and is accepted", f.login("k2"), nil, 2)
	f.check("retired key is gone after the refetch", f.login("k1"), errUnknownKey, 2)
	f.check("new key cached", f.login("k2"), nil, 2)
}

func TestKeySetUnavailable(t *testing.T) {
	f := newKeyFixture(t, "k1")
	f.ks.SetStatus(http.StatusInternalServerError)
	err := f.login("k1")
	f.check("key server down", err, identity.ErrUnavailable, 1)
	if errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("unavailable key set reported as invalid credentials: %v", err)
	}
	f.check("retries are throttled and still unavailable", f.login("k1"), identity.ErrUnavailable, 1)

	f.ks.SetStatus(http.StatusOK)
	f.clk.Advance(61 * time.Second)
	f.check("recovered", f.login("k1"), nil, 2)
}
