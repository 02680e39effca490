package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Action names an operation a Policy guards. Each has its own volume limit per client
// address.
type Action string

const (
	// ActionLogin is a credential login: POST /login, and POST /session with user
	// credentials (login or email and password, a provider token, or a guest request). With
	// an account (the normalized login or email) it is also subject to the failure budget and
	// the tarpit.
	ActionLogin Action = "login"
	// ActionSession is the creation of an application session (POST /session without user
	// credentials).
	ActionSession Action = "session"
	// ActionSignUp is a sign-up (POST /users).
	ActionSignUp Action = "signup"
	// ActionReset is a password reset request (POST /users/password/reset); its account is
	// the email address.
	ActionReset Action = "reset"
	// ActionBlob is the creation of a file (POST /blobs).
	ActionBlob Action = "blob"
)

// Outcome is what became of an attempt; see Attempt.Done.
type Outcome int

const (
	// OutcomeNone: the attempt proved nothing about the credentials (bad input, a busy or
	// unavailable server, a canceled request). Its failure charges are given back.
	OutcomeNone Outcome = iota
	// OutcomeSuccess: the credentials were right. The tarpit of (account, address) is
	// cleared and the attempt's charge on the address's failure budget is given back.
	OutcomeSuccess
	// OutcomeFailure: the credentials were wrong. The charges stay.
	OutcomeFailure
)

// ErrLimited is wrapped by every *LimitError: a limit refused the request.
var ErrLimited = errors.New("ratelimit: too many requests")

// LimitError is the error of a refused attempt. It wraps ErrLimited.
type LimitError struct {
	Action Action
	// RetryAfter is when the client may try again.
	RetryAfter time.Duration
	// tarpit: the attempt was refused because no tarpit slot was free (DecisionTarpitFull).
	tarpit bool
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("ratelimit: too many %s requests from this client address, retry in %s", e.Action, e.RetryAfter)
}

func (e *LimitError) Unwrap() error { return ErrLimited }

// Config configures a Policy. The zero value means every default; the defaults are meant
// never to trip for people using an application normally, also many behind one address
// (an office or carrier NAT), while bounding what one address can try.
//
// A client address is an IPv4 address or, for IPv6, a /64 prefix (see AddrKey). The limits
// that involve an account pair it with the client address, so an attacker elsewhere cannot
// exhaust them for a victim — except the per-account tarpit (AccountTarpitAfter), which
// only delays.
type Config struct {
	// Limiter keeps the counts. Default: NewMemory(MemoryConfig{}), per process. Give the
	// instances of one deployment a shared Limiter (package redislimit) so that limits hold
	// across them.
	Limiter Limiter

	// Login is the volume of ActionLogin attempts per client address. Default 300 at once,
	// then 5 per second.
	Login Rate
	// LoginFailures is the budget of failed logins per client address, whatever the
	// accounts: every attempt with an account is charged when it starts and given back when
	// it succeeds. Default 100 at once, then one per 10 seconds.
	LoginFailures Rate
	// Session is the volume of ActionSession requests per client address. Default 300 at
	// once, then 5 per second.
	Session Rate
	// SignUp is the volume of ActionSignUp requests per client address. Default 60 at once,
	// then one per minute.
	SignUp Rate
	// Reset is the volume of ActionReset requests per client address. Default 20 at once,
	// then one per 3 minutes.
	Reset Rate
	// Blob is the volume of ActionBlob requests per client address. Default 60 at once,
	// then one per 10 seconds.
	Blob Rate
	// ResetPerAccount is the volume of ActionReset requests per (email, client address).
	// Default 5 at once, then one per 10 minutes.
	ResetPerAccount Rate

	// TarpitAfter is how many login attempts per (account, client address) go undelayed;
	// each further attempt is delayed, TarpitDelay for the first and twice the previous
	// delay for each next, up to TarpitMaxDelay. Attempts are forgotten at one per
	// TarpitDecay, and all of them at the first successful login. Defaults: 5 attempts, 1 s,
	// 10 s, 5 min.
	TarpitAfter    int
	TarpitDelay    time.Duration
	TarpitMaxDelay time.Duration
	TarpitDecay    time.Duration
	// AccountTarpitAfter is how many login attempts per account, from all client addresses
	// together, go undelayed; each further attempt is delayed as by the tarpit above (the
	// longer of the two delays applies), whatever address it comes from, and attempts are
	// forgotten in the same way. It slows a guessing attack spread over many addresses. While
	// such an attack lasts the owner's own logins are delayed too (never refused for good: only
	// while this process's MaxTarpitted delay slots are all taken is a delayed attempt refused,
	// with a LimitError and Retry-After); the owner's first successful login clears it.
	// Default 20.
	AccountTarpitAfter int
	// MaxTarpitted bounds the attempts being delayed at once in this process, and
	// MaxTarpittedPerAddr those of one client address; an attempt that would be delayed
	// beyond either bound is refused with a LimitError instead. Defaults 256 and 4.
	MaxTarpitted        int
	MaxTarpittedPerAddr int

	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx is done (then it returns ctx.Err()). Default: a timer.
	// Tests replace it to observe delays without waiting.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives limiter failures (never account names). Default slog.Default().
	Logger *slog.Logger
	// Observe, when set, is told the decision of every Begin and BeginAccount call, for
	// metrics (package metrics counts them). It runs on the request's goroutine and must be
	// quick and safe for concurrent use. Default nil: nothing is observed.
	Observe func(Event)
}

// Policy applies the limits of a Config. It is safe for concurrent use. A nil *Policy
// limits nothing.
type Policy struct {
	cfg    Config
	lim    Limiter
	tarpit Rate
	// acctTarpit is the bucket of the per-account tarpit (Config.AccountTarpitAfter).
	acctTarpit Rate
	log        *slog.Logger

	mu        sync.Mutex
	delayed   int
	delayedBy map[string]int
	// downUntil (Unix ns of Config.Now) is set for limiterPause after a Limiter failure:
	// until then the Limiter is not called.
	downUntil atomic.Int64
}

// limiterPause is how long a Policy leaves a failed Limiter alone: a dead store then costs
// one failing call (a connection timeout) per pause, not one per attempt.
const limiterPause = 5 * time.Second

var (
	defaultLogin           = Rate{Burst: 300, Interval: 200 * time.Millisecond}
	defaultLoginFailures   = Rate{Burst: 100, Interval: 10 * time.Second}
	defaultSession         = Rate{Burst: 300, Interval: 200 * time.Millisecond}
	defaultSignUp          = Rate{Burst: 60, Interval: time.Minute}
	defaultReset           = Rate{Burst: 20, Interval: 3 * time.Minute}
	defaultResetPerAccount = Rate{Burst: 5, Interval: 10 * time.Minute}
	defaultBlob            = Rate{Burst: 60, Interval: 10 * time.Second}
)

// New validates cfg, fills its defaults and returns a Policy. A negative number or an
// invalid Rate is an error.
func New(cfg Config) (*Policy, error) {
	rates := []struct {
		r   *Rate
		def Rate
		n   string
	}{
		{&cfg.Login, defaultLogin, "Login"},
		{&cfg.LoginFailures, defaultLoginFailures, "LoginFailures"},
		{&cfg.Session, defaultSession, "Session"},
		{&cfg.SignUp, defaultSignUp, "SignUp"},
		{&cfg.Reset, defaultReset, "Reset"},
		{&cfg.ResetPerAccount, defaultResetPerAccount, "ResetPerAccount"},
		{&cfg.Blob, defaultBlob, "Blob"},
	}
	for _, x := range rates {
		if *x.r == (Rate{}) {
			*x.r = x.def
		}
		if !x.r.Valid() {
			return nil, fmt.Errorf("ratelimit: Config.%s: Burst and Interval must be positive", x.n)
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.TarpitDelay, time.Second)
	def(&cfg.TarpitMaxDelay, 10*time.Second)
	def(&cfg.TarpitDecay, 5*time.Minute)
	if cfg.TarpitAfter == 0 {
		cfg.TarpitAfter = 5
	}
	if cfg.AccountTarpitAfter == 0 {
		cfg.AccountTarpitAfter = 20
	}
	if cfg.MaxTarpitted == 0 {
		cfg.MaxTarpitted = 256
	}
	if cfg.MaxTarpittedPerAddr == 0 {
		cfg.MaxTarpittedPerAddr = 4
	}
	if cfg.TarpitAfter < 0 || cfg.AccountTarpitAfter < 0 || cfg.TarpitDelay < 0 || cfg.TarpitMaxDelay < cfg.TarpitDelay || cfg.TarpitDecay < 0 ||
		cfg.MaxTarpitted < 0 || cfg.MaxTarpittedPerAddr < 0 {
		return nil, errors.New("ratelimit: Config tarpit settings must not be negative, and TarpitMaxDelay not below TarpitDelay")
	}
	if cfg.Limiter == nil {
		m, err := NewMemory(MemoryConfig{})
		if err != nil {
			return nil, err
		}
		cfg.Limiter = m
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Policy{
		cfg: cfg,
		lim: cfg.Limiter,
		// The tarpit bucket holds enough attempts to reach the longest delay; beyond, an
		// attempt is not counted but delayed the longest.
		tarpit:     Rate{Burst: cfg.TarpitAfter + 32, Interval: cfg.TarpitDecay},
		acctTarpit: Rate{Burst: cfg.AccountTarpitAfter + 32, Interval: cfg.TarpitDecay},
		log:        cfg.Logger,
		delayedBy:  map[string]int{},
	}
	if !p.tarpit.Valid() || !p.acctTarpit.Valid() {
		return nil, errors.New("ratelimit: Config.TarpitDecay too long")
	}
	return p, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Attempt is a started attempt; call Done with its outcome. A nil *Attempt does nothing.
type Attempt struct {
	p *Policy
	// failKey, tarpitKey and acctKey are the keys charged at the start ("" when not
	// charged).
	failKey, tarpitKey, acctKey string
	// Delay is how long the attempt was held in the tarpit.
	Delay time.Duration
}

// Begin starts an attempt of action from the client address addr (see AddrKey) for account
// ("" when there is none, or for token-based logins that cannot be guessed). It charges the
// address's volume for action and, with an account, for ActionLogin what BeginAccount
// charges, for ActionReset the volume of (account, addr), in that order, and returns a
// *LimitError as soon as one refuses. account is used only through its SHA-256, and should
// be normalized and tagged by kind by the caller (identity.Identity.AccountKey does both).
//
// A Limiter failure does not refuse the attempt: the attempt goes on unlimited, so an
// outage of a shared store does not stop logins. The failure is logged, and the Limiter is
// then left alone for 5 seconds (attempts go unlimited at once) before it is tried again.
func (p *Policy) Begin(ctx context.Context, action Action, addr, account string) (a *Attempt, err error) {
	if p == nil {
		return nil, nil
	}
	defer func() { p.observe(action, a, err) }()
	now := p.cfg.Now()
	var vol Rate
	switch action {
	case ActionLogin:
		vol = p.cfg.Login
	case ActionSession:
		vol = p.cfg.Session
	case ActionSignUp:
		vol = p.cfg.SignUp
	case ActionReset:
		vol = p.cfg.Reset
	case ActionBlob:
		vol = p.cfg.Blob
	default:
		return nil, fmt.Errorf("ratelimit: unknown action %q", action)
	}
	res, ok := p.take(ctx, "v:"+string(action)+":"+addr, vol, 1, now)
	if ok && !res.Allowed {
		return nil, &LimitError{Action: action, RetryAfter: res.RetryAfter}
	}
	switch {
	case account == "":
		return &Attempt{p: p}, nil
	case action == ActionReset:
		res, ok := p.take(ctx, "r:"+accountHash(account)+":"+addr, p.cfg.ResetPerAccount, 1, now)
		if ok && !res.Allowed {
			return nil, &LimitError{Action: action, RetryAfter: res.RetryAfter}
		}
		return &Attempt{p: p}, nil
	case action == ActionLogin:
		return p.beginAccount(ctx, addr, account)
	}
	return &Attempt{p: p}, nil
}

// BeginAccount starts a guess of account's secret (a login, or a current password given to
// change a profile) from the client address addr, without charging a volume (the caller
// charged Begin's volume for the request first). It charges the address's failure budget,
// the tarpit of (account, addr) and the tarpit of the account alone
// (Config.AccountTarpitAfter); when a tarpit asks for a delay it waits it out with
// Config.Sleep (a canceled ctx ends the wait with ctx's error). The refusals and the Limiter
// failures are those of Begin.
func (p *Policy) BeginAccount(ctx context.Context, addr, account string) (*Attempt, error) {
	if p == nil {
		return nil, nil
	}
	a, err := p.beginAccount(ctx, addr, account)
	p.observe(ActionLogin, a, err)
	return a, err
}

// beginAccount is BeginAccount without the observation (Begin observes its own call).
func (p *Policy) beginAccount(ctx context.Context, addr, account string) (*Attempt, error) {
	now := p.cfg.Now()
	a := &Attempt{p: p}
	acct := accountHash(account)
	a.failKey = "f:" + addr
	res, ok := p.take(ctx, a.failKey, p.cfg.LoginFailures, 1, now)
	if !ok {
		a.failKey = ""
	} else if !res.Allowed {
		return nil, &LimitError{Action: ActionLogin, RetryAfter: res.RetryAfter}
	}
	a.tarpitKey = "t:" + acct + ":" + addr
	if res, ok = p.take(ctx, a.tarpitKey, p.tarpit, 1, now); ok {
		n := res.Count()
		if !res.Allowed {
			n = p.tarpit.Burst + 1
		}
		a.Delay = p.delay(n, p.cfg.TarpitAfter)
	} else {
		a.tarpitKey = ""
	}
	a.acctKey = "g:" + acct
	if res, ok = p.take(ctx, a.acctKey, p.acctTarpit, 1, now); ok {
		n := res.Count()
		if !res.Allowed {
			n = p.acctTarpit.Burst + 1
		}
		a.Delay = max(a.Delay, p.delay(n, p.cfg.AccountTarpitAfter))
	} else {
		a.acctKey = ""
	}
	if a.Delay == 0 {
		return a, nil
	}
	if !p.acquire(addr) {
		// The attempt stays charged: it was made.
		return nil, &LimitError{Action: ActionLogin, RetryAfter: a.Delay, tarpit: true}
	}
	defer p.release(addr)
	if err := p.cfg.Sleep(ctx, a.Delay); err != nil {
		a.Done(context.WithoutCancel(ctx), OutcomeNone)
		return nil, err
	}
	return a, nil
}

// Done records the outcome of the attempt (see Outcome). Call it once; ctx bounds the
// Limiter calls, and should outlive a request canceled by its client
// (context.WithoutCancel).
func (a *Attempt) Done(ctx context.Context, o Outcome) {
	if a == nil || a.p == nil {
		return
	}
	p := a.p
	now := p.cfg.Now()
	switch o {
	case OutcomeSuccess:
		if a.failKey != "" {
			p.take(ctx, a.failKey, p.cfg.LoginFailures, -1, now)
		}
		if a.tarpitKey != "" {
			p.reset(ctx, a.tarpitKey, now)
		}
		if a.acctKey != "" {
			p.reset(ctx, a.acctKey, now)
		}
	case OutcomeNone:
		if a.failKey != "" {
			p.take(ctx, a.failKey, p.cfg.LoginFailures, -1, now)
		}
		if a.tarpitKey != "" {
			p.take(ctx, a.tarpitKey, p.tarpit, -1, now)
		}
		if a.acctKey != "" {
			p.take(ctx, a.acctKey, p.acctTarpit, -1, now)
		}
	}
	a.p = nil
}

// delay returns the tarpit delay of the n-th counted attempt of a tarpit that lets after
// attempts go undelayed.
func (p *Policy) delay(n, after int) time.Duration {
	k := n - after - 1
	if k < 0 || p.cfg.TarpitDelay == 0 {
		return 0
	}
	d := p.cfg.TarpitDelay
	for ; k > 0 && d < p.cfg.TarpitMaxDelay; k-- {
		d *= 2
	}
	return min(d, p.cfg.TarpitMaxDelay)
}

// acquire takes a tarpit slot for addr, reporting false when none is free.
func (p *Policy) acquire(addr string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.delayed >= p.cfg.MaxTarpitted || p.delayedBy[addr] >= p.cfg.MaxTarpittedPerAddr {
		return false
	}
	p.delayed++
	p.delayedBy[addr]++
	return true
}

func (p *Policy) release(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delayed--
	if p.delayedBy[addr]--; p.delayedBy[addr] <= 0 {
		delete(p.delayedBy, addr)
	}
}

// take calls the Limiter; ok is false when it failed or is paused after a failure.
func (p *Policy) take(ctx context.Context, key string, r Rate, cost int, now time.Time) (Result, bool) {
	if now.UnixNano() < p.downUntil.Load() {
		return Result{}, false
	}
	res, err := p.lim.Take(ctx, key, r, cost, now)
	if err != nil {
		p.failed(ctx, err, now)
		return Result{}, false
	}
	return res, true
}

func (p *Policy) reset(ctx context.Context, key string, now time.Time) {
	if now.UnixNano() < p.downUntil.Load() {
		return
	}
	if err := p.lim.Reset(ctx, key); err != nil {
		p.failed(ctx, err, now)
	}
}

// failed pauses the Limiter for limiterPause and logs err, once per pause.
func (p *Policy) failed(ctx context.Context, err error, now time.Time) {
	until := now.Add(limiterPause).UnixNano()
	old := p.downUntil.Load()
	if now.UnixNano() < old || !p.downUntil.CompareAndSwap(old, until) {
		return
	}
	p.log.WarnContext(ctx, "ratelimit: limiter failed; attempts go unlimited for a while",
		"pause", limiterPause, "err", err)
}

// accountHash returns the key form of an account: 128 bits of its SHA-256, in hex.
func accountHash(account string) string {
	sum := sha256.Sum256([]byte(account))
	return hex.EncodeToString(sum[:16])
}
