package ratelimit_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/identitykit/identity/internal/testutil"
	"github.com/identitykit/identity/ratelimit"
)

// events collects what Config.Observe is told.
type events struct {
	mu  sync.Mutex
	got []ratelimit.Event
}

func (e *events) observe(ev ratelimit.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev)
}

// take returns the events observed since the last call.
func (e *events) take() []ratelimit.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	got := e.got
	e.got = nil
	return got
}

func (e *events) want(t *testing.T, step string, want ...ratelimit.Event) {
	t.Helper()
	if got := e.take(); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: observed %+v, want %+v", step, got, want)
	}
}

// TestObserve: every Begin and BeginAccount call is observed once with its decision: allowed
// (with the tarpit delay), refused by a volume, refused for want of a tarpit slot, canceled
// during the delay, and unchecked while the Limiter fails.
func TestObserve(t *testing.T) {
	c := testutil.NewClock(time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC))
	entered := make(chan time.Duration, 1)
	release := make(chan struct{})
	var ev events
	cfg := testConfig(c, nil)
	cfg.MaxTarpittedPerAddr = 1
	cfg.Observe = ev.observe
	cfg.Sleep = func(ctx context.Context, d time.Duration) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		entered <- d
		<-release
		return nil
	}
	p, err := ratelimit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	allowed := func(a ratelimit.Action, d time.Duration) ratelimit.Event {
		return ratelimit.Event{Action: a, Decision: ratelimit.DecisionAllowed, Delay: d}
	}

	for i := 0; i < 3; i++ {
		a, err := p.Begin(ctx, ratelimit.ActionLogin, attacker, "login:bob")
		if err != nil {
			t.Fatal(err)
		}
		a.Done(ctx, ratelimit.OutcomeFailure)
	}
	ev.want(t, "undelayed logins", allowed("login", 0), allowed("login", 0), allowed("login", 0))

	// The fourth is held for 1 s; meanwhile a fifth finds the address's only slot taken.
	done := make(chan error, 1)
	go func() {
		a, err := p.BeginAccount(ctx, attacker, "login:bob")
		a.Done(ctx, ratelimit.OutcomeFailure)
		done <- err
	}()
	if d := <-entered; d != time.Second {
		t.Fatalf("delay %v", d)
	}
	if _, err := p.Begin(ctx, ratelimit.ActionLogin, attacker, "login:bob"); !errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("without a slot: %v", err)
	}
	ev.want(t, "tarpit full", ratelimit.Event{Action: "login", Decision: ratelimit.DecisionTarpitFull, Delay: 2 * time.Second})
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ev.want(t, "delayed BeginAccount", allowed("login", time.Second))

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Begin(canceled, ratelimit.ActionLogin, attacker, "login:bob"); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
	ev.want(t, "canceled in the tarpit", ratelimit.Event{Action: "login", Decision: ratelimit.DecisionCanceled})

	for i := 0; i < 5; i++ {
		if _, err := p.Begin(ctx, ratelimit.ActionSignUp, victim, ""); err != nil {
			t.Fatal(err)
		}
		ev.take()
	}
	if _, err := p.Begin(ctx, ratelimit.ActionSignUp, victim, ""); !errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("sixth sign-up: %v", err)
	}
	ev.want(t, "volume", ratelimit.Event{Action: "signup", Decision: ratelimit.DecisionRefused})

	if _, err := p.Begin(ctx, "nonsense", victim, ""); err == nil {
		t.Fatal("unknown action accepted")
	}
	ev.want(t, "unknown action")

	cfg.Limiter = &failingLimiter{}
	cfg.Logger = (&testutil.LogBuffer{}).Logger()
	if p, err = ratelimit.New(cfg); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := p.Begin(ctx, ratelimit.ActionSession, victim, ""); err != nil {
			t.Fatal(err)
		}
	}
	unchecked := ratelimit.Event{Action: "session", Decision: ratelimit.DecisionUnchecked}
	ev.want(t, "limiter down", unchecked, unchecked)
}
