package ratelimit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity/internal/testutil"
	"github.com/identitykit/identity/ratelimit"
)

// testConfig is a small policy: tarpit after 3 attempts, 1 s doubling to 8 s, one attempt
// forgotten per minute; a failure budget of 10 per address; volumes of 20.
func testConfig(c *testutil.Clock, s *testutil.Sleeper) ratelimit.Config {
	return ratelimit.Config{
		Login:           ratelimit.Rate{Burst: 20, Interval: time.Second},
		LoginFailures:   ratelimit.Rate{Burst: 10, Interval: 10 * time.Second},
		Session:         ratelimit.Rate{Burst: 20, Interval: time.Second},
		SignUp:          ratelimit.Rate{Burst: 5, Interval: time.Minute},
		Reset:           ratelimit.Rate{Burst: 4, Interval: time.Minute},
		ResetPerAccount: ratelimit.Rate{Burst: 2, Interval: 10 * time.Minute},
		TarpitAfter:     3,
		TarpitDelay:     time.Second,
		TarpitMaxDelay:  8 * time.Second,
		TarpitDecay:     time.Minute,
		Now:             c.Now,
		Sleep:           s.Sleep,
	}
}

// attempt is one step of a policy scenario.
type attempt struct {
	action  ratelimit.Action
	addr    string
	account string
	outcome ratelimit.Outcome
	// advance moves the clock before the attempt.
	advance time.Duration
	// repeat runs the step this many times (default 1), each with the same expectations.
	repeat int
	// want
	delay   time.Duration
	wantErr error
	retry   time.Duration
}

const (
	attacker = "203.0.113.9"
	victim   = "198.51.100.7"
)

func login(addr, account string, o ratelimit.Outcome) attempt {
	return attempt{action: ratelimit.ActionLogin, addr: addr, account: account, outcome: o}
}

func (a attempt) times(n int) attempt             { a.repeat = n; return a }
func (a attempt) delayed(d time.Duration) attempt { a.delay = d; return a }
func (a attempt) after(d time.Duration) attempt   { a.advance = d; return a }
func (a attempt) refused(retry time.Duration) attempt {
	a.wantErr = ratelimit.ErrLimited
	a.retry = retry
	return a
}

func TestPolicy(t *testing.T) {
	fail, ok, none := ratelimit.OutcomeFailure, ratelimit.OutcomeSuccess, ratelimit.OutcomeNone
	tests := []struct {
		name  string
		steps []attempt
	}{
		{"the tarpit grows exponentially up to its cap", []attempt{
			login(attacker, "login:bob", fail).times(3),
			login(attacker, "login:bob", fail).delayed(time.Second),
			login(attacker, "login:bob", fail).delayed(2 * time.Second),
			login(attacker, "login:bob", fail).delayed(4 * time.Second),
			login(attacker, "login:bob", fail).delayed(8 * time.Second),
			login(attacker, "login:bob", fail).delayed(8 * time.Second).times(3),
		}},
		{"a successful login clears the tarpit", []attempt{
			login(attacker, "login:bob", fail).times(3),
			login(attacker, "login:bob", fail).delayed(time.Second),
			login(attacker, "login:bob", ok).delayed(2 * time.Second),
			login(attacker, "login:bob", fail).times(3),
			login(attacker, "login:bob", fail).delayed(time.Second),
		}},
		{"attempts are forgotten one per TarpitDecay", []attempt{
			login(attacker, "login:bob", fail).times(3),
			login(attacker, "login:bob", fail).delayed(time.Second),
			login(attacker, "login:bob", fail).delayed(2 * time.Second),
			// 5 attempts counted; three minutes forget three, so this is the third again.
			login(attacker, "login:bob", fail).after(3*time.Minute + time.Second),
			login(attacker, "login:bob", fail).delayed(time.Second),
			login(attacker, "login:bob", fail).delayed(2 * time.Second),
		}},
		{"the victim is not slowed down from another address", []attempt{
			login(attacker, "login:bob", fail).times(3),
			login(attacker, "login:bob", fail).delayed(time.Second),
			login(attacker, "login:bob", fail).delayed(2 * time.Second),
			login(victim, "login:bob", fail),
			login(victim, "login:bob", ok),
			login(attacker, "login:bob", fail).delayed(4 * time.Second),
		}},
		{"the victim's success does not clear the attacker's tarpit", []attempt{
			login(attacker, "login:bob", fail).times(3),
			login(victim, "login:bob", ok),
			login(attacker, "login:bob", fail).delayed(time.Second),
		}},
		{"the same account by login and by email are tarpitted separately", []attempt{
			login(attacker, "login:bob", fail).times(3),
			login(attacker, "email:bob@example.com", fail).times(3),
			login(attacker, "login:bob", fail).delayed(time.Second),
		}},
		{"distinct accounts from one address exhaust its failure budget", []attempt{
			login(attacker, "login:a1", fail), login(attacker, "login:a2", fail), login(attacker, "login:a3", fail),
			login(attacker, "login:a4", fail), login(attacker, "login:a5", fail), login(attacker, "login:a6", fail),
			login(attacker, "login:a7", fail), login(attacker, "login:a8", fail), login(attacker, "login:a9", fail),
			login(attacker, "login:a10", fail),
			login(attacker, "login:a11", fail).refused(10 * time.Second),
			// Other addresses are not affected; the budget refills one per 10 s.
			login(victim, "login:a11", ok),
			login(attacker, "login:a11", fail).after(10 * time.Second),
			login(attacker, "login:a12", fail).refused(10 * time.Second),
		}},
		{"successes are given back to the failure budget", []attempt{
			login(attacker, "login:alice", ok).times(15),
			login(attacker, "login:bob", fail).times(3),
		}},
		{"attempts without a verdict are given back", []attempt{
			login(attacker, "login:bob", none).times(15),
			login(attacker, "login:bob", fail).times(3),
			login(attacker, "login:bob", fail).delayed(time.Second),
		}},
		{"the login volume per address counts every attempt", []attempt{
			login(attacker, "", ok).times(20),
			login(attacker, "", ok).refused(time.Second),
			login(victim, "", ok),
			login(attacker, "", ok).after(time.Second),
		}},
		{"token logins (no account) are neither budgeted nor tarpitted", []attempt{
			login(attacker, "", fail).times(20),
		}},
		{"application sessions have their own volume", []attempt{
			{action: ratelimit.ActionSession, addr: attacker, repeat: 20},
			attempt{action: ratelimit.ActionSession, addr: attacker}.refused(time.Second),
			login(attacker, "login:bob", ok),
		}},
		{"sign-ups per address", []attempt{
			{action: ratelimit.ActionSignUp, addr: attacker, account: "login:x", repeat: 5},
			attempt{action: ratelimit.ActionSignUp, addr: attacker}.refused(time.Minute),
			{action: ratelimit.ActionSignUp, addr: victim},
		}},
		{"password resets per address and per (email, address)", []attempt{
			{action: ratelimit.ActionReset, addr: attacker, account: "email:bob@example.com", repeat: 2},
			attempt{action: ratelimit.ActionReset, addr: attacker, account: "email:bob@example.com"}.refused(10 * time.Minute),
			{action: ratelimit.ActionReset, addr: victim, account: "email:bob@example.com"},
			{action: ratelimit.ActionReset, addr: attacker, account: "email:eve@example.com"},
			attempt{action: ratelimit.ActionReset, addr: attacker, account: "email:zed@example.com"}.refused(time.Minute),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testutil.NewClock(time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC))
			s := &testutil.Sleeper{}
			p, err := ratelimit.New(testConfig(c, s))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for i, st := range tt.steps {
				c.Advance(st.advance)
				for n := 0; n < max(st.repeat, 1); n++ {
					s.Take()
					a, err := p.Begin(ctx, st.action, st.addr, st.account)
					if !errors.Is(err, st.wantErr) {
						t.Fatalf("step %d.%d: Begin(%s, %s, %s) error %v, want %v", i, n, st.action, st.addr, st.account, err, st.wantErr)
					}
					if err != nil {
						var le *ratelimit.LimitError
						if !errors.As(err, &le) || le.RetryAfter != st.retry || le.Action != st.action {
							t.Fatalf("step %d.%d: error %#v, want RetryAfter %s", i, n, err, st.retry)
						}
						continue
					}
					var slept time.Duration
					delays := s.Take()
					if len(delays) > 0 {
						slept = delays[0]
					}
					if len(delays) > 1 || slept != st.delay || a.Delay != st.delay {
						t.Fatalf("step %d.%d: delays %v (Attempt.Delay %s), want %s", i, n, delays, a.Delay, st.delay)
					}
					a.Done(ctx, st.outcome)
				}
			}
		})
	}
}

// TestTarpitConcurrencyBound: delayed attempts hold a slot while they wait; beyond
// MaxTarpittedPerAddr (and MaxTarpitted) an attempt that would be delayed is refused at once
// with the delay as RetryAfter, and slots are free again after the wait.
func TestTarpitConcurrencyBound(t *testing.T) {
	c := testutil.NewClock(time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC))
	entered := make(chan time.Duration)
	release := make(chan struct{})
	cfg := testConfig(c, nil)
	cfg.MaxTarpitted = 3
	cfg.MaxTarpittedPerAddr = 2
	cfg.TarpitAfter = 1
	cfg.Sleep = func(ctx context.Context, d time.Duration) error {
		entered <- d
		<-release
		return nil
	}
	p, err := ratelimit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	begin := func(addr, account string) (*ratelimit.Attempt, error) {
		return p.Begin(ctx, ratelimit.ActionLogin, addr, account)
	}
	// One free attempt each for three accounts from one address, and one from another.
	for _, acct := range []string{"login:a", "login:b", "login:c"} {
		a, err := begin(attacker, acct)
		if err != nil {
			t.Fatal(err)
		}
		a.Done(ctx, ratelimit.OutcomeFailure)
	}
	a, _ := begin(victim, "login:v")
	a.Done(ctx, ratelimit.OutcomeFailure)

	type result struct {
		a   *ratelimit.Attempt
		err error
	}
	done := make(chan result, 4)
	start := func(addr, account string) {
		go func() {
			a, err := begin(addr, account)
			done <- result{a, err}
		}()
	}
	start(attacker, "login:a")
	<-entered
	start(attacker, "login:b")
	<-entered
	// The attacker's address holds its two slots: a third delayed attempt is refused.
	_, err = begin(attacker, "login:c")
	var le *ratelimit.LimitError
	if !errors.As(err, &le) || le.RetryAfter != time.Second {
		t.Fatalf("third concurrent tarpitted attempt: %v, want a LimitError with RetryAfter 1s", err)
	}
	// Another address gets the last global slot, and then nobody gets one.
	start(victim, "login:v")
	<-entered
	a, err = begin("192.0.2.1", "login:x")
	if err != nil {
		t.Fatalf("an undelayed attempt needs no slot: %v", err)
	}
	a.Done(ctx, ratelimit.OutcomeFailure)
	if _, err := begin("192.0.2.1", "login:x"); !errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("attempt beyond MaxTarpitted: %v", err)
	}
	close(release)
	for i := 0; i < 3; i++ {
		r := <-done
		if r.err != nil {
			t.Fatalf("tarpitted attempt: %v", r.err)
		}
		r.a.Done(ctx, ratelimit.OutcomeFailure)
	}
	// Slots are free again.
	go func() { <-entered }()
	if _, err := begin(attacker, "login:c"); err != nil {
		t.Fatalf("after the waits: %v", err)
	}
}

// TestTarpitCanceled: a client that goes away during the delay ends the wait with the
// context's error, and the attempt is given back.
func TestTarpitCanceled(t *testing.T) {
	c := testutil.NewClock(time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC))
	s := &testutil.Sleeper{}
	p, _ := ratelimit.New(testConfig(c, s))
	bg := context.Background()
	for i := 0; i < 3; i++ {
		a, _ := p.Begin(bg, ratelimit.ActionLogin, attacker, "login:bob")
		a.Done(bg, ratelimit.OutcomeFailure)
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	for i := 0; i < 5; i++ {
		if _, err := p.Begin(ctx, ratelimit.ActionLogin, attacker, "login:bob"); !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled attempt: %v", err)
		}
	}
	a, err := p.Begin(bg, ratelimit.ActionLogin, attacker, "login:bob")
	if err != nil || a.Delay != time.Second {
		t.Fatalf("after canceled attempts: delay %v, %v; want 1s (canceled attempts given back)", a, err)
	}
}

// failingLimiter fails every call, like an unreachable Redis.
type failingLimiter struct{ calls int }

var errDown = errors.New("store down")

func (f *failingLimiter) Take(context.Context, string, ratelimit.Rate, int, time.Time) (ratelimit.Result, error) {
	f.calls++
	return ratelimit.Result{}, errDown
}

func (f *failingLimiter) Reset(context.Context, string) error { f.calls++; return errDown }

// TestLimiterFailureFailsOpen: a failing Limiter lets attempts through undelayed; it is
// called once per 5-second pause, and the failure is logged once per pause, without the
// account.
func TestLimiterFailureFailsOpen(t *testing.T) {
	var logs bytes.Buffer
	fl := &failingLimiter{}
	c := testutil.NewClock(time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC))
	s := &testutil.Sleeper{}
	cfg := testConfig(c, s)
	cfg.Limiter = fl
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	p, err := ratelimit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, step := range []struct {
		advance   time.Duration
		wantCalls int
		wantLogs  int
	}{
		{0, 1, 1},
		{4 * time.Second, 1, 1},
		{time.Second, 2, 2},
		{time.Second, 2, 2},
	} {
		c.Advance(step.advance)
		for i := 0; i < 10; i++ {
			a, err := p.Begin(ctx, ratelimit.ActionLogin, attacker, "login:secret-bob")
			if err != nil || a.Delay != 0 {
				t.Fatalf("attempt %d: %v %v", i, a, err)
			}
			a.Done(ctx, ratelimit.OutcomeSuccess)
		}
		out := logs.String()
		if fl.calls != step.wantCalls || strings.Count(out, "limiter failed") != step.wantLogs {
			t.Fatalf("after +%s: %d calls, log:\n%s", step.advance, fl.calls, out)
		}
		if !strings.Contains(out, "store down") || strings.Contains(out, "bob") {
			t.Fatalf("log:\n%s", out)
		}
	}
}

func TestNilPolicy(t *testing.T) {
	var p *ratelimit.Policy
	a, err := p.Begin(context.Background(), ratelimit.ActionLogin, attacker, "login:bob")
	if a != nil || err != nil {
		t.Fatalf("nil Policy: %v %v", a, err)
	}
	a.Done(context.Background(), ratelimit.OutcomeFailure)
}

func TestNewPolicyConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ratelimit.Config
		wantErr bool
	}{
		{"zero value", ratelimit.Config{}, false},
		{"rate without interval", ratelimit.Config{Login: ratelimit.Rate{Burst: 1}}, true},
		{"negative burst", ratelimit.Config{SignUp: ratelimit.Rate{Burst: -1, Interval: time.Second}}, true},
		{"negative tarpit", ratelimit.Config{TarpitAfter: -1}, true},
		{"max delay below delay", ratelimit.Config{TarpitDelay: time.Minute, TarpitMaxDelay: time.Second}, true},
		{"negative slots", ratelimit.Config{MaxTarpitted: -1}, true},
		{"decay too long", ratelimit.Config{TarpitDecay: 100 * 365 * 24 * time.Hour}, true},
	}
	for _, tt := range tests {
		_, err := ratelimit.New(tt.cfg)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error %v", tt.name, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "ratelimit: ") {
			t.Errorf("%s: message %q", tt.name, err)
		}
	}
	p, _ := ratelimit.New(ratelimit.Config{})
	if _, err := p.Begin(context.Background(), "bogus", attacker, ""); err == nil || errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("unknown action: %v", err)
	}
}

// TestDefaultsAllowNormalUse: with the default Config, a busy address (many people behind
// one NAT) gets 300 logins at once, 90 of them failed, and 60 sign-ups, and typos are not
// delayed.
func TestDefaultsAllowNormalUse(t *testing.T) {
	s := &testutil.Sleeper{}
	c := testutil.NewClock(time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC))
	p, err := ratelimit.New(ratelimit.Config{Now: c.Now, Sleep: s.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 300; i++ {
		o := ratelimit.OutcomeSuccess
		if i%10 < 3 {
			o = ratelimit.OutcomeFailure
		}
		a, err := p.Begin(ctx, ratelimit.ActionLogin, victim, "login:user"+string(rune('a'+i%26)))
		if err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
		a.Done(ctx, o)
	}
	for i := 0; i < 60; i++ {
		if _, err := p.Begin(ctx, ratelimit.ActionSignUp, victim, ""); err != nil {
			t.Fatalf("sign-up %d: %v", i, err)
		}
	}
	if d := s.Take(); len(d) != 0 {
		t.Fatalf("delays %v", d)
	}
}
