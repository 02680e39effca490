package httpadapter_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/httpadapter"
	"github.com/identitykit/identity/internal/testutil"
	"github.com/identitykit/identity/internal/testutil/testenv"
	"github.com/identitykit/identity/ratelimit"
	"github.com/identitykit/identity/ratelimit/redislimit"

	"github.com/redis/go-redis/v9"
)

// limitEnv is an env whose adapter has a rate-limit policy on a test clock and sleeper:
// tarpit after 3 attempts, 1 s doubling to 8 s; failure budget 10 per address; volumes 20;
// sign-ups 5. mutate adjusts the config.
type limitEnv struct {
	*env
	sleep *testutil.Sleeper
	clock *testutil.Clock
}

func newLimitEnv(t *testing.T, mutate func(*ratelimit.Config), opts ...func(*envOpt)) *limitEnv {
	t.Helper()
	l := &limitEnv{sleep: &testutil.Sleeper{}, clock: testutil.NewClock(time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC))}
	cfg := ratelimit.Config{
		Login:          ratelimit.Rate{Burst: 20, Interval: time.Second},
		LoginFailures:  ratelimit.Rate{Burst: 10, Interval: 10 * time.Second},
		Session:        ratelimit.Rate{Burst: 20, Interval: time.Second},
		SignUp:         ratelimit.Rate{Burst: 5, Interval: time.Minute},
		TarpitAfter:    3,
		TarpitDelay:    time.Second,
		TarpitMaxDelay: 8 * time.Second,
		Now:            l.clock.Now,
		Sleep:          l.sleep.Sleep,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := ratelimit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l.env = newEnv(t, append([]func(*envOpt){func(o *envOpt) { o.cfg.RateLimit = p }}, opts...)...)
	return l
}

// signUp creates a user through the core (not charged to any address's sign-up volume).
func (e *env) signUp(login, pw string) *identity.User {
	e.t.Helper()
	u, err := e.id.SignUp(context.Background(), e.app.ID, identity.UserInput{Login: &login, Password: &pw})
	if err != nil {
		e.t.Fatalf("sign up %q: %v", login, err)
	}
	return u
}

// from sends a request from the client at remote ("ip:port"); headers are "Name: value".
func (e *env) from(remote, method, target, body string, headers ...string) *resp {
	e.t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.RemoteAddr = remote
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return &resp{Code: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
}

// loginBody is a POST /session body with login and password.
func (e *env) loginBody(login, pw string) string {
	return e.sessionBody(`,"user":{"login":` + jsonStr(login) + `,"password":` + jsonStr(pw) + `}`)
}

const (
	attackerAddr = "203.0.113.9:5555"
	victimAddr   = "198.51.100.7:6666"
	tooMany      = `{"errors":{"base":["Too many requests, retry later"]}}`
)

func wantTooMany(t *testing.T, r *resp, retryAfter string) {
	t.Helper()
	wantStatus(t, r, 429, tooMany)
	if got := r.Header.Get("Retry-After"); got != retryAfter {
		t.Fatalf("Retry-After %q, want %q", got, retryAfter)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
}

func wantDelays(t *testing.T, s *testutil.Sleeper, want ...time.Duration) {
	t.Helper()
	got := s.Take()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("tarpit delays %v, want %v", got, want)
	}
}

// TestLoginTarpit: after 3 attempts per (account, address) each login attempt is delayed,
// 1 s, 2 s, 4 s, 8 s, 8 s; the right password still works (delayed) and clears the tarpit.
// POST /session and POST /login, login and differently cased login share the tarpit.
func TestLoginTarpit(t *testing.T) {
	e := newLimitEnv(t, func(c *ratelimit.Config) { c.LoginFailures = ratelimit.Rate{Burst: 100, Interval: time.Second} })
	e.userSession("john", "11111111")
	e.sleep.Take()
	for i := 0; i < 3; i++ {
		wantStatus(t, e.from(attackerAddr, "POST", "/session.json", e.loginBody("john", "wrong-pw-1")), 401, `{"errors":["Unauthorized"]}`)
	}
	wantDelays(t, e.sleep)
	wantStatus(t, e.from(attackerAddr, "POST", "/session.json", e.loginBody(" JOHN ", "wrong-pw-1")), 401, "")
	wantDelays(t, e.sleep, time.Second)
	app := e.appSession()
	wantStatus(t, e.from(attackerAddr, "POST", "/login.json", `{"login":"john","password":"wrong-pw-2"}`, "CB-Token: "+app), 401, "")
	wantDelays(t, e.sleep, 2*time.Second)
	wantStatus(t, e.from(attackerAddr, "POST", "/login.json", `{"user":{"login":"John","password":"wrong-pw-2"}}`, "CB-Token: "+app), 401, "")
	wantDelays(t, e.sleep, 4*time.Second)
	for i := 0; i < 2; i++ {
		wantStatus(t, e.from(attackerAddr, "POST", "/session.json", e.loginBody("john", "wrong-pw-3")), 401, "")
		wantDelays(t, e.sleep, 8*time.Second)
	}
	// The right password, delayed, succeeds and clears the tarpit.
	wantStatus(t, e.from(attackerAddr, "POST", "/session.json", e.loginBody("john", "11111111")), 201, "")
	wantDelays(t, e.sleep, 8*time.Second)
	for i := 0; i < 3; i++ {
		wantStatus(t, e.from(attackerAddr, "POST", "/session.json", e.loginBody("john", "wrong-pw-4")), 401, "")
	}
	wantDelays(t, e.sleep)
	// Attempts are forgotten one per TarpitDecay (default 5 min).
	e.clock.Advance(5*time.Minute + time.Second)
	wantStatus(t, e.from(attackerAddr, "POST", "/session.json", e.loginBody("john", "wrong-pw-4")), 401, "")
	wantDelays(t, e.sleep)
	wantStatus(t, e.from(attackerAddr, "POST", "/session.json", e.loginBody("john", "wrong-pw-4")), 401, "")
	wantDelays(t, e.sleep, time.Second)
}

// TestVictimNotLockedOut: an attacker hammering a victim's account from one address slows
// down only that address; the victim logs in from their own address at once.
func TestVictimNotLockedOut(t *testing.T) {
	e := newLimitEnv(t, nil)
	e.userSession("victim", "11111111")
	for i := 0; i < 9; i++ {
		e.from(attackerAddr, "POST", "/session.json", e.loginBody("victim", fmt.Sprint("guess-", i)))
	}
	// The attacker's address is deep in the tarpit and its failure budget is nearly spent.
	wantDelays(t, e.sleep, time.Second, 2*time.Second, 4*time.Second, 8*time.Second, 8*time.Second, 8*time.Second)
	wantStatus(t, e.from(victimAddr, "POST", "/session.json", e.loginBody("victim", "11111111")), 201, "")
	wantDelays(t, e.sleep)
	// Even the victim's own typos start from zero.
	for i := 0; i < 3; i++ {
		wantStatus(t, e.from(victimAddr, "POST", "/session.json", e.loginBody("victim", "typo-typo")), 401, "")
	}
	wantDelays(t, e.sleep)
	// The victim's success does not help the attacker.
	e.from(attackerAddr, "POST", "/session.json", e.loginBody("victim", "guess-x"))
	wantDelays(t, e.sleep, 8*time.Second)
}

// TestAddressFailureBudget: distinct accounts from one address exhaust its budget of failed
// logins (10 here): the next attempt is 429 with Retry-After and a ConnectyCube error body,
// other addresses are unaffected, and the budget refills.
func TestAddressFailureBudget(t *testing.T) {
	e := newLimitEnv(t, nil, func(o *envOpt) { o.settings.DenyAutoCreate = true })
	wantStatus(t, e.do("POST", "/users.json", `{"user":{"login":"alice","password":"11111111"}}`, "CB-AuthKey: "+e.app.AuthKey), 201, "")
	for i := 0; i < 10; i++ {
		wantStatus(t, e.from(attackerAddr, "POST", "/session.json", e.loginBody(fmt.Sprint("user", i), "password1")), 401, "")
	}
	wantTooMany(t, e.from(attackerAddr, "POST", "/session.json", e.loginBody("user10", "password1")), "10")
	// Also for the right password, and through POST /login.
	wantTooMany(t, e.from(attackerAddr, "POST", "/session.json", e.loginBody("alice", "11111111")), "10")
	app := e.appSession()
	wantTooMany(t, e.from(attackerAddr, "POST", "/login.json", `{"login":"alice","password":"11111111"}`, "CB-Token: "+app), "10")
	wantStatus(t, e.from(victimAddr, "POST", "/session.json", e.loginBody("alice", "11111111")), 201, "")
	e.clock.Advance(10 * time.Second)
	wantStatus(t, e.from(attackerAddr, "POST", "/session.json", e.loginBody("alice", "11111111")), 201, "")
	wantDelays(t, e.sleep)
}

// TestSuccessfulLoginsDoNotSpendTheBudget: many people behind one address logging in
// successfully never meet the failure budget (only the much larger volume).
func TestSuccessfulLoginsDoNotSpendTheBudget(t *testing.T) {
	e := newLimitEnv(t, nil)
	for i := 0; i < 15; i++ {
		e.signUp(fmt.Sprint("user", i), "11111111")
	}
	for i := 0; i < 15; i++ {
		wantStatus(t, e.from(attackerAddr, "POST", "/session.json", e.loginBody(fmt.Sprint("user", i), "11111111")), 201, "")
	}
}

// TestVolumeLimits: application sessions, token logins and sign-ups have a volume per
// address (20, 20 and 5 here); Retry-After is the time until one more fits.
func TestVolumeLimits(t *testing.T) {
	tokenIdP := &failingProvider{name: "token_idp"}
	e := newLimitEnv(t, nil, func(o *envOpt) { o.providers = append(o.providers, tokenIdP) })
	for i := 0; i < 20; i++ {
		wantStatus(t, e.from(attackerAddr, "POST", "/session.json", e.sessionBody("")), 201, "")
	}
	wantTooMany(t, e.from(attackerAddr, "POST", "/session.json", e.sessionBody("")), "1")
	wantStatus(t, e.from(victimAddr, "POST", "/session.json", e.sessionBody("")), 201, "")

	// Token logins: neither tarpitted nor charged to the failure budget, but counted.
	tok := e.sessionBody(`,"provider":"token_idp","keys":{"token":"forged"}`)
	for i := 0; i < 20; i++ {
		wantStatus(t, e.from(victimAddr, "POST", "/session.json", tok), 401, "")
	}
	wantDelays(t, e.sleep)
	wantTooMany(t, e.from(victimAddr, "POST", "/session.json", tok), "1")
	if n := tokenIdP.calls.Load(); n != 20 {
		t.Fatalf("provider called %d times, want 20 (never for a refused request)", n)
	}

	for i := 0; i < 5; i++ {
		wantStatus(t, e.from(attackerAddr, "POST", "/users.json", fmt.Sprintf(`{"user":{"login":"new%d","password":"12345678"}}`, i), "CB-AuthKey: "+e.app.AuthKey), 201, "")
	}
	wantTooMany(t, e.from(attackerAddr, "POST", "/users.json", `{"user":{"login":"new9","password":"12345678"}}`, "CB-AuthKey: "+e.app.AuthKey), "60")
	e.clock.Advance(time.Minute)
	wantStatus(t, e.from(attackerAddr, "POST", "/users.json", `{"user":{"login":"new9","password":"12345678"}}`, "CB-AuthKey: "+e.app.AuthKey), 201, "")
}

// TestNamingTheProviderDoesNotEscapeTheTarpit: credentials with a login are tarpitted
// whatever provider they name.
func TestNamingTheProviderDoesNotEscapeTheTarpit(t *testing.T) {
	e := newLimitEnv(t, nil)
	e.userSession("john", "11111111")
	for i := 0; i < 4; i++ {
		e.from(attackerAddr, "POST", "/session.json", e.sessionBody(`,"provider":"password","user":{"login":"john","password":"guess"}`))
	}
	wantDelays(t, e.sleep, time.Second)
	e.from(attackerAddr, "POST", "/session.json", e.sessionBody(`,"user":{"email":"nobody@example.com","password":"guess"}`))
	wantDelays(t, e.sleep)
}

// failingProvider refuses every credential.
type failingProvider struct {
	name  string
	calls atomic.Int64
}

func (p *failingProvider) Name() string { return p.name }

func (p *failingProvider) Authenticate(context.Context, *identity.AuthRequest) (*identity.Claims, error) {
	p.calls.Add(1)
	return nil, identity.ErrInvalidCredentials
}

// busyProvider is the password provider, answering ErrBusy while busy is set.
type busyProvider struct {
	identity.Provider
	busy atomic.Bool
}

func (p *busyProvider) Name() string { return "busy_password" }

func (p *busyProvider) Authenticate(ctx context.Context, req *identity.AuthRequest) (*identity.Claims, error) {
	if p.busy.Load() {
		return nil, identity.ErrBusy
	}
	return p.Provider.Authenticate(ctx, req)
}

// TestBusyIsNotAFailure: a saturated hasher still answers 503 with Retry-After: 1, and
// those answers neither feed the tarpit nor spend the failure budget.
func TestBusyIsNotAFailure(t *testing.T) {
	pw := testenv.Passwords(t)
	bp := &busyProvider{Provider: pw}
	e := newLimitEnv(t, nil, func(o *envOpt) {
		o.providers = append(o.providers, bp)
		o.settings.PasswordProvider = "busy_password"
		o.settings.LocalSignUp = identity.LocalSignUpAllow // the wrapped password provider creates local users
	})
	e.userSession("john", "11111111")
	bp.busy.Store(true)
	for i := 0; i < 15; i++ {
		r := e.from(attackerAddr, "POST", "/session.json", e.loginBody("john", "11111111"))
		wantStatus(t, r, 503, `{"errors":["Server busy, retry later"]}`)
		if r.Header.Get("Retry-After") != "1" {
			t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
		}
	}
	bp.busy.Store(false)
	wantDelays(t, e.sleep)
	for i := 0; i < 3; i++ {
		wantStatus(t, e.from(attackerAddr, "POST", "/session.json", e.loginBody("john", "wrong-pw")), 401, "")
	}
	wantDelays(t, e.sleep)
	wantStatus(t, e.from(attackerAddr, "POST", "/session.json", e.loginBody("john", "11111111")), 201, "")
	wantDelays(t, e.sleep, time.Second)
}

// TestTarpitBound: a delayed request holds a slot; beyond MaxTarpittedPerAddr the next
// request that would be delayed is 429 at once, with the delay as Retry-After.
func TestTarpitBound(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	e := newLimitEnv(t, func(c *ratelimit.Config) {
		c.MaxTarpittedPerAddr = 1
		c.TarpitAfter = 1
		c.Sleep = func(ctx context.Context, d time.Duration) error {
			entered <- struct{}{}
			<-release
			return nil
		}
	})
	e.userSession("john", "11111111")
	wantStatus(t, e.from(attackerAddr, "POST", "/session.json", e.loginBody("john", "guess-1")), 401, "")
	done := make(chan *resp)
	go func() { done <- e.from(attackerAddr, "POST", "/session.json", e.loginBody("john", "guess-2")) }()
	<-entered
	wantTooMany(t, e.from(attackerAddr, "POST", "/session.json", e.loginBody("john", "guess-3")), "2")
	close(release)
	wantStatus(t, <-done, 401, "")
}

// TestClientAddress: the limiter's client address comes from the connection unless the
// peer is a configured trusted proxy; a spoofed X-Forwarded-For from anyone else is
// ignored, and IPv6 clients are counted per /64.
func TestClientAddress(t *testing.T) {
	tests := []struct {
		name    string
		proxies []string
		header  string
		// attacker and other are (RemoteAddr, headers...) of two requests for the same account
		attacker, other []string
		// same: other shares attacker's tarpit
		same bool
	}{
		{"spoofed X-Forwarded-For without trusted proxies", nil, "",
			[]string{attackerAddr, "X-Forwarded-For: 192.0.2.1"}, []string{attackerAddr, "X-Forwarded-For: 192.0.2.2"}, true},
		{"different peers without trusted proxies", nil, "",
			[]string{attackerAddr}, []string{victimAddr}, false},
		{"spoofed X-Forwarded-For from an untrusted peer", []string{"10.0.0.0/8"}, "",
			[]string{attackerAddr, "X-Forwarded-For: 192.0.2.1"}, []string{attackerAddr, "X-Forwarded-For: 192.0.2.2"}, true},
		{"trusted proxy: the clients it names differ", []string{"10.0.0.0/8"}, "",
			[]string{"10.0.0.1:80", "X-Forwarded-For: 203.0.113.9"}, []string{"10.0.0.1:80", "X-Forwarded-For: 198.51.100.7"}, false},
		{"trusted proxy: spoofed entries left of the real client are ignored", []string{"10.0.0.0/8"}, "",
			[]string{"10.0.0.1:80", "X-Forwarded-For: 1.1.1.1, 203.0.113.9"}, []string{"10.0.0.2:80", "X-Forwarded-For: 2.2.2.2, 203.0.113.9, 10.0.0.7"}, true},
		{"trusted proxy: one client through two proxies", []string{"10.0.0.0/8", "192.168.0.1"}, "",
			[]string{"10.0.0.1:80", "X-Forwarded-For: 203.0.113.9, 192.168.0.1"}, []string{"10.0.0.1:80", "X-Forwarded-For: 203.0.113.9"}, true},
		{"trusted proxy: one IPv6 /64", []string{"10.0.0.0/8"}, "",
			[]string{"10.0.0.1:80", "X-Forwarded-For: 2001:db8:1:2::1"}, []string{"10.0.0.1:80", "X-Forwarded-For: [2001:db8:1:2:ffff::9]:443"}, true},
		{"IPv6 peers in one /64", nil, "",
			[]string{"[2001:db8:1:2::1]:1000"}, []string{"[2001:db8:1:2:aaaa::1]:1000"}, true},
		{"IPv6 peers in different /64s", nil, "",
			[]string{"[2001:db8:1:2::1]:1000"}, []string{"[2001:db8:1:3::1]:1000"}, false},
		{"IPv4-mapped IPv6 peer is the IPv4 address", nil, "",
			[]string{"[::ffff:203.0.113.9]:1000"}, []string{"203.0.113.9:2000"}, true},
		{"Forwarded header", []string{"10.0.0.0/8"}, "Forwarded",
			[]string{"10.0.0.1:80", `Forwarded: for=198.51.100.7;proto=https`}, []string{"10.0.0.1:80", `Forwarded: for="[2001:db8::1]:4711", for=203.0.113.9`}, false},
		{"X-Real-IP", []string{"10.0.0.0/8"}, "X-Real-IP",
			[]string{"10.0.0.1:80", "X-Real-IP: 198.51.100.7"}, []string{"10.0.0.1:80", "X-Real-IP: 198.51.100.7", "X-Forwarded-For: 203.0.113.9"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var prefixes []netip.Prefix
			for _, s := range tt.proxies {
				p, err := netip.ParsePrefix(s)
				if err != nil {
					p = netip.PrefixFrom(netip.MustParseAddr(s), 32)
				}
				prefixes = append(prefixes, p)
			}
			e := newLimitEnv(t, func(c *ratelimit.Config) { c.TarpitAfter = 1 }, func(o *envOpt) {
				o.cfg.TrustedProxies = prefixes
				o.cfg.ClientAddrHeader = tt.header
				o.settings.DenyAutoCreate = true
			})
			e.from(tt.attacker[0], "POST", "/session.json", e.loginBody("john", "guess-123"), tt.attacker[1:]...)
			e.from(tt.other[0], "POST", "/session.json", e.loginBody("john", "guess-123"), tt.other[1:]...)
			got := len(e.sleep.Take()) == 1
			if got != tt.same {
				t.Fatalf("second request shares the first one's tarpit: %v, want %v", got, tt.same)
			}
		})
	}
}

// TestRateLimitDefaults: without Config.RateLimit the in-memory policy is on: an address
// gets 100 failed logins at once, then 429 (the budget refills one per 10 s of real time,
// so 150 attempts meet a 429 unless they take over 8 minutes); InsecureNoRateLimit turns it
// off.
func TestRateLimitDefaults(t *testing.T) {
	for _, off := range []bool{false, true} {
		t.Run(fmt.Sprint("InsecureNoRateLimit=", off), func(t *testing.T) {
			e := newEnv(t, func(o *envOpt) {
				o.settings.DenyAutoCreate = true
				o.cfg.InsecureNoRateLimit = off
			})
			first := -1
			for i := 0; i < 150 && first < 0; i++ {
				r := e.from(attackerAddr, "POST", "/session.json", e.loginBody(fmt.Sprint("nobody", i), "password1"))
				switch r.Code {
				case 401:
				case 429:
					first = i
					wantStatus(t, r, 429, tooMany)
					if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 || n > 10 {
						t.Fatalf("Retry-After %q, want 1 to 10", r.Header.Get("Retry-After"))
					}
				default:
					t.Fatalf("attempt %d: %d %s", i, r.Code, r.Body)
				}
			}
			switch {
			case off && first >= 0:
				t.Fatalf("429 at attempt %d with InsecureNoRateLimit", first)
			case !off && first < 100:
				t.Fatalf("first 429 at attempt %d, want none in the first 100", first)
			}
		})
	}
}

// TestNoSecretsInLimitLogs: refusing and delaying requests logs no login or password.
func TestNoSecretsInLimitLogs(t *testing.T) {
	e := newLimitEnv(t, nil)
	for i := 0; i < 25; i++ {
		e.from(attackerAddr, "POST", "/session.json", e.loginBody("secretlogin", "secretpassword"))
	}
	if out := e.logs.String(); strings.Contains(out, "secretlogin") || strings.Contains(out, "secretpassword") {
		t.Fatalf("logs:\n%s", out)
	}
}

// TestTwoInstancesShareRedisLimits: two servers (two Identities and two adapters over one
// database, each with its own Redis connection and Policy) share their limits through
// Redis: failures on one tarpit the next attempt on the other, a success on the other
// clears them, and the address's failure budget is spent across both.
func TestTwoInstancesShareRedisLimits(t *testing.T) {
	addr := os.Getenv("IDENTITY_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	ctx := context.Background()
	newRedis := func() *redis.Client {
		rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second})
		if err := rdb.Ping(ctx).Err(); err != nil {
			rdb.Close()
			if os.Getenv("IDENTITY_TEST_REDIS_ADDR") != "" {
				t.Fatalf("no Redis at IDENTITY_TEST_REDIS_ADDR=%s: %v", addr, err)
			}
			t.Skipf("no Redis at %s (set IDENTITY_TEST_REDIS_ADDR to require one): %v", addr, err)
		}
		t.Cleanup(func() { rdb.Close() })
		return rdb
	}
	r1, r2 := newRedis(), newRedis()
	prefix := fmt.Sprintf("identity-test:http:%d:", time.Now().UnixNano())
	t.Cleanup(func() {
		if keys, err := r1.Keys(ctx, prefix+"*").Result(); err == nil && len(keys) > 0 {
			r1.Del(ctx, keys...)
		}
	})

	st, pw := testenv.Store(t), testenv.Passwords(t)
	sl := &testutil.Sleeper{}
	now := time.Now()
	newServer := func(rdb *redis.Client) *env {
		id, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw}})
		if err != nil {
			t.Fatal(err)
		}
		lim, err := redislimit.New(rdb, redislimit.Config{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		p, err := ratelimit.New(ratelimit.Config{
			Limiter:       lim,
			LoginFailures: ratelimit.Rate{Burst: 8, Interval: time.Hour},
			TarpitAfter:   3,
			Now:           func() time.Time { return now },
			Sleep:         sl.Sleep,
		})
		if err != nil {
			t.Fatal(err)
		}
		return &env{t: t, id: id, h: httpadapter.New(id, httpadapter.Config{RateLimit: p})}
	}
	a, b := newServer(r1), newServer(r2)
	app, err := a.id.CreateApplication(ctx, "two", identity.AppSettings{DenyAutoCreate: true})
	if err != nil {
		t.Fatal(err)
	}
	a.app, b.app = app, app
	wantStatus(t, a.do("POST", "/users.json", `{"user":{"login":"john","password":"11111111"}}`, "CB-AuthKey: "+app.AuthKey), 201, "")

	steps := []struct {
		srv        *env
		login, pw  string
		code       int
		delay      time.Duration
		retryAfter string
	}{
		{a, "john", "guess-1", 401, 0, ""},
		{b, "john", "guess-2", 401, 0, ""},
		{a, "john", "guess-3", 401, 0, ""},
		{b, "john", "guess-4", 401, time.Second, ""},
		{a, "john", "guess-5", 401, 2 * time.Second, ""},
		{b, "john", "11111111", 201, 4 * time.Second, ""},
		{a, "john", "guess-6", 401, 0, ""},
		// 6 failures spent; two more fill the budget of 8 on either server.
		{b, "mallory", "guess-7", 401, 0, ""},
		{a, "trent", "guess-8", 401, 0, ""},
		{b, "john", "11111111", 429, 0, "3600"},
		{a, "john", "11111111", 429, 0, "3600"},
	}
	for i, s := range steps {
		r := s.srv.from(attackerAddr, "POST", "/session.json", s.srv.loginBody(s.login, s.pw))
		if r.Code != s.code {
			t.Fatalf("step %d: %d %s, want %d", i, r.Code, r.Body, s.code)
		}
		if s.code == 429 {
			wantTooMany(t, r, s.retryAfter)
		}
		var want []time.Duration
		if s.delay != 0 {
			want = []time.Duration{s.delay}
		}
		wantDelays(t, sl, want...)
	}
	// The victim's own address is untouched on both.
	wantStatus(t, b.from(victimAddr, "POST", "/session.json", b.loginBody("john", "11111111")), 201, "")
	wantStatus(t, a.from(victimAddr, "POST", "/session.json", a.loginBody("john", "11111111")), 201, "")
}
