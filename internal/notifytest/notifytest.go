// Package notifytest checks an identity.Notifier end to end: two Identities on one Store,
// each with a Notifier of its own, like two server instances. A change made through one
// must stop the other trusting what it cached, although both trust their caches for an hour
// (Config.RecheckInterval), so that only the notification can explain it.
package notifytest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil"
	"github.com/identitykit/identity/internal/testutil/testenv"
)

// Setup is what the suite needs of an implementation.
type Setup struct {
	// Store is shared by both Identities (a fresh, migrated one).
	Store identity.Store
	// New returns a new Notifier for one Identity; every Notifier it returns must reach
	// every other.
	New func(t testing.TB) identity.Notifier
	// Kill ends every listening connection of the Notifiers New made, as a server restart
	// or a network failure would.
	Kill func(t testing.TB)
}

// patience bounds how long a test waits for a notification before failing. It is far above
// the delay measured (a few milliseconds; see Measure) so that a loaded machine does not
// fail the tests, and far below RecheckInterval (an hour), which would explain a refusal
// without the notification.
const patience = 10 * time.Second

// pair is two Identities (instances) A and B on one Store, and an application.
type pair struct {
	a, b  *identity.Identity
	app   *identity.Application
	clock *testutil.Clock
	logB  *testutil.LogBuffer
}

// newPair builds A and B with RecheckInterval recheck on a shared fake clock. wrapB, when
// not nil, wraps B's Notifier.
func newPair(t testing.TB, s Setup, recheck time.Duration, wrapB func(identity.Notifier) identity.Notifier) *pair {
	t.Helper()
	p := &pair{clock: testutil.NewClock(time.Now().UTC()), logB: &testutil.LogBuffer{}}
	pw := testenv.Passwords(t)
	mk := func(n identity.Notifier, log *slog.Logger) *identity.Identity {
		id, err := identity.New(identity.Config{
			Store: s.Store, Hasher: pw, Providers: []identity.Provider{pw},
			Now: p.clock.Now, RecheckInterval: recheck, Notifier: n, Logger: log,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { id.Shutdown(context.Background()) })
		return id
	}
	nb := s.New(t)
	if wrapB != nil {
		nb = wrapB(nb)
	}
	p.a = mk(s.New(t), slog.New(slog.DiscardHandler))
	p.b = mk(nb, slog.New(slog.NewTextHandler(p.logB, nil)))
	var err error
	if p.app, err = p.a.CreateApplication(context.Background(), "notify", identity.AppSettings{}); err != nil {
		t.Fatal(err)
	}
	// Both listen before the test changes anything: a notification sent earlier is lost.
	waitLog(t, p.logB, "channel up")
	return p
}

var userSeq atomic.Int64

// session signs a new user up through A and returns a session of it that B has validated
// (and so caches).
func (p *pair) session(t testing.TB) *identity.Session {
	t.Helper()
	login := fmt.Sprintf("user%d", userSeq.Add(1))
	s := testenv.Session(t, p.a, p.app, login, "password1")
	if _, err := p.b.Validate(context.Background(), s.Token); err != nil {
		t.Fatalf("B does not accept A's session: %v", err)
	}
	return s
}

// refused waits until B refuses token and returns how long that took.
func (p *pair) refused(t testing.TB, token string) time.Duration {
	t.Helper()
	start := time.Now()
	return waitFor(t, start, func() bool {
		_, err := p.b.Validate(context.Background(), token)
		if err != nil && !errors.Is(err, identity.ErrSessionNotFound) {
			t.Fatalf("B: Validate: %v", err)
		}
		return err != nil
	})
}

// waitFor polls cond until it holds and returns the time since start; it fails t after
// patience.
func waitFor(t testing.TB, start time.Time, cond func() bool) time.Duration {
	t.Helper()
	for !cond() {
		if time.Since(start) > patience {
			t.Fatalf("not seen after %v", patience)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// waitLog waits until log holds want.
func waitLog(t testing.TB, log *testutil.LogBuffer, want string) {
	t.Helper()
	start := time.Now()
	for !strings.Contains(log.String(), want) {
		if time.Since(start) > patience {
			t.Fatalf("log never says %q:\n%s", want, log.Tail(2000))
		}
		time.Sleep(time.Millisecond)
	}
}

// Run checks that every kind of change made through A reaches B.
func Run(t *testing.T, s Setup) {
	ctx := context.Background()
	p := newPair(t, s, time.Hour, nil)
	op := p.a.Operator()

	t.Run("session revoked", func(t *testing.T) {
		x := p.session(t)
		if err := op.RevokeSession(ctx, p.app.ID, x.UserID, x.ID); err != nil {
			t.Fatal(err)
		}
		t.Logf("refused after %v", p.refused(t, x.Token))
	})
	t.Run("session destroyed", func(t *testing.T) {
		x := testenv.Session(t, p.a, p.app, "", "") // an application session: no user
		if _, err := p.b.Validate(ctx, x.Token); err != nil {
			t.Fatal(err)
		}
		if err := p.a.DestroySession(ctx, x); err != nil {
			t.Fatal(err)
		}
		p.refused(t, x.Token)
	})
	t.Run("other sessions revoked", func(t *testing.T) {
		x := p.session(t)
		y := testenv.Session(t, p.a, p.app, x.User.Login, "password1")
		if _, err := p.b.Validate(ctx, y.Token); err != nil {
			t.Fatal(err)
		}
		if _, err := p.a.RevokeOtherSessions(ctx, y); err != nil {
			t.Fatal(err)
		}
		p.refused(t, x.Token)
		if _, err := p.b.Validate(ctx, y.Token); err != nil {
			t.Fatalf("the session kept: %v", err)
		}
	})
	t.Run("password changed", func(t *testing.T) {
		x := p.session(t)
		pw := "password2"
		if _, err := op.UpdateUser(ctx, p.app.ID, x.UserID, identity.UserInput{Password: &pw}); err != nil {
			t.Fatal(err)
		}
		p.refused(t, x.Token)
	})
	t.Run("user deleted", func(t *testing.T) {
		x := p.session(t)
		if err := op.DeleteUser(ctx, p.app.ID, x.UserID); err != nil {
			t.Fatal(err)
		}
		p.refused(t, x.Token)
	})
	t.Run("user blocked", func(t *testing.T) {
		x := p.session(t)
		if _, err := op.SetBlocked(ctx, p.app.ID, x.UserID, true); err != nil {
			t.Fatal(err)
		}
		p.refused(t, x.Token)
	})
	t.Run("user changed", func(t *testing.T) {
		x := p.session(t)
		name := "New Name"
		if _, err := op.UpdateUser(ctx, p.app.ID, x.UserID, identity.UserInput{FullName: &name}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, time.Now(), func() bool {
			s, err := p.b.Validate(ctx, x.Token)
			if err != nil {
				t.Fatalf("B: %v", err)
			}
			return s.User.FullName == name
		})
	})
	t.Run("application settings changed", func(t *testing.T) {
		req := identity.SessionRequest{ApplicationID: p.app.ID, AuthKey: p.app.AuthKey}
		if _, err := p.b.CreateSession(ctx, req); err != nil { // B caches the application
			t.Fatal(err)
		}
		if _, err := p.a.UpdateApplicationSettings(ctx, p.app.ID, identity.AppSettings{RequireSignature: true}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, time.Now(), func() bool {
			_, err := p.b.CreateSession(ctx, req)
			return errors.Is(err, identity.ErrInvalidSignature)
		})
		if _, err := p.a.UpdateApplicationSettings(ctx, p.app.ID, identity.AppSettings{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, time.Now(), func() bool {
			_, err := p.b.CreateSession(ctx, req)
			return err == nil
		})
	})
	t.Run("application keys rotated", func(t *testing.T) {
		req := identity.SessionRequest{ApplicationID: p.app.ID, AuthKey: p.app.AuthKey}
		if _, err := p.b.CreateSession(ctx, req); err != nil {
			t.Fatal(err)
		}
		app, err := p.a.RotateApplicationKeys(ctx, p.app.ID)
		if err != nil {
			t.Fatal(err)
		}
		p.app = app
		waitFor(t, time.Now(), func() bool {
			_, err := p.b.CreateSession(ctx, req)
			return errors.Is(err, identity.ErrApplicationNotFound)
		})
	})
	t.Run("application deleted", func(t *testing.T) {
		other, err := p.a.CreateApplication(ctx, "doomed", identity.AppSettings{})
		if err != nil {
			t.Fatal(err)
		}
		x := testenv.Session(t, p.a, other, "doomed", "password1")
		if _, err := p.b.Validate(ctx, x.Token); err != nil {
			t.Fatal(err)
		}
		if err := p.a.DeleteApplication(ctx, other.ID); err != nil {
			t.Fatal(err)
		}
		p.refused(t, x.Token)
	})
}

// gate wraps a Notifier; while closed, Subscribe fails at once, as when the server cannot
// be reached.
type gate struct {
	identity.Notifier
	closed atomic.Bool
}

var errClosed = errors.New("notifytest: gate closed")

func (g *gate) Subscribe(ctx context.Context, receive func(identity.Invalidation)) error {
	if g.closed.Load() {
		return errClosed
	}
	return g.Notifier.Subscribe(ctx, receive)
}

// RunKill checks the fallback: with B's listening connection killed and kept down, B logs
// that the channel is down, misses A's revocation and refuses the token only once
// RecheckInterval passed (on the fake clock); once B listens again, it logs so, and
// notifications flow again.
func RunKill(t *testing.T, s Setup) {
	ctx := context.Background()
	const recheck = time.Minute // of the fake clock
	g := &gate{}
	p := newPair(t, s, recheck, func(n identity.Notifier) identity.Notifier { g.Notifier = n; return g })
	x := p.session(t)

	g.closed.Store(true)
	s.Kill(t)
	waitLog(t, p.logB, "channel down")
	if p.b.Stats().NotifierUp {
		t.Fatal("B's Stats say the channel is up while it is down")
	}
	if err := p.a.Operator().RevokeSession(ctx, p.app.ID, x.UserID, x.ID); err != nil {
		t.Fatal(err)
	}
	// B missed the notification: it trusts its cache for RecheckInterval, no longer.
	p.clock.Advance(recheck - time.Second)
	if _, err := p.b.Validate(ctx, x.Token); err != nil {
		t.Fatalf("B refused before RecheckInterval although the channel is down: %v", err)
	}
	p.clock.Advance(time.Second)
	if _, err := p.b.Validate(ctx, x.Token); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Fatalf("B after RecheckInterval: got %v, want ErrSessionNotFound", err)
	}

	// A session B validated while down is caught when B listens again (the missed
	// notifications are replaced by making everything stale), and later ones arrive.
	y := p.session(t)
	if err := p.a.Operator().RevokeSession(ctx, p.app.ID, y.UserID, y.ID); err != nil {
		t.Fatal(err)
	}
	p.logB.Reset()
	g.closed.Store(false)
	waitLog(t, p.logB, "channel up")
	if !p.b.Stats().NotifierUp {
		t.Fatal("B's Stats say the channel is down after it came up")
	}
	p.refused(t, y.Token)
	z := p.session(t)
	if err := p.a.Operator().RevokeSession(ctx, p.app.ID, z.UserID, z.ID); err != nil {
		t.Fatal(err)
	}
	p.refused(t, z.Token)
}

// Measure revokes n sessions, one after another, through A and measures for each how long
// B takes to refuse it (B polling its token), from just before the revocation call. It
// returns the median and the maximum.
func Measure(t *testing.T, s Setup, n int) (median, max time.Duration) {
	ctx := context.Background()
	p := newPair(t, s, time.Hour, nil)
	delays := make([]time.Duration, 0, n)
	for range n {
		x := p.session(t)
		done := make(chan time.Duration, 1)
		start := time.Now()
		go func() { // B polls its token while A revokes it
			for time.Since(start) < patience {
				if _, err := p.b.Validate(ctx, x.Token); err != nil {
					break
				}
				time.Sleep(100 * time.Microsecond)
			}
			done <- time.Since(start)
		}()
		if err := p.a.Operator().RevokeSession(ctx, p.app.ID, x.UserID, x.ID); err != nil {
			t.Fatal(err)
		}
		d := <-done
		if d > patience {
			t.Fatalf("revocation %d not seen by B after %v", len(delays), patience)
		}
		delays = append(delays, d)
	}
	slices.Sort(delays)
	return delays[len(delays)/2], delays[len(delays)-1]
}
