package redislimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/identitykit/identity/internal/testutil/testenv"
	"github.com/identitykit/identity/ratelimit"
	"github.com/identitykit/identity/ratelimit/limitertest"
	"github.com/identitykit/identity/ratelimit/redislimit"
)

// newClient returns a client of the test server (see testenv.Redis).
func newClient(t testing.TB) *redis.Client { return testenv.Redis(t, redis.Options{}) }

// newPrefix returns a key prefix of the test's own and deletes its keys at the end.
func newPrefix(t testing.TB, rdb *redis.Client) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "identity-test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := rdb.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return prefix
}

func newLimiter(t testing.TB, rdb *redis.Client, prefix string) *redislimit.Limiter {
	t.Helper()
	l, err := redislimit.New(rdb, redislimit.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestConformance(t *testing.T) {
	rdb := newClient(t)
	limitertest.Run(t, func(t *testing.T) ratelimit.Limiter {
		return newLimiter(t, rdb, newPrefix(t, rdb))
	})
}

// TestConformanceAcrossClients runs the suite on two Limiters over two connections that
// alternate calls: the shared store behaves as one limiter.
func TestConformanceAcrossClients(t *testing.T) {
	a, b := newClient(t), newClient(t)
	limitertest.Run(t, func(t *testing.T) ratelimit.Limiter {
		prefix := newPrefix(t, a)
		return &alternating{ls: [2]ratelimit.Limiter{newLimiter(t, a, prefix), newLimiter(t, b, prefix)}}
	})
}

// alternating sends each call to the next of two Limiters.
type alternating struct {
	mu sync.Mutex
	n  int
	ls [2]ratelimit.Limiter
}

func (a *alternating) next() ratelimit.Limiter {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	return a.ls[a.n%2]
}

func (a *alternating) Take(ctx context.Context, key string, r ratelimit.Rate, cost int, now time.Time) (ratelimit.Result, error) {
	return a.next().Take(ctx, key, r, cost, now)
}

func (a *alternating) Reset(ctx context.Context, key string) error { return a.next().Reset(ctx, key) }

// TestSharedBetweenInstances: two instances ("servers"), each with its own Redis connection
// and its own Policy, hammer one key concurrently; together they admit exactly Burst.
func TestSharedBetweenInstances(t *testing.T) {
	c1, c2 := newClient(t), newClient(t)
	prefix := newPrefix(t, c1)
	ls := []ratelimit.Limiter{newLimiter(t, c1, prefix), newLimiter(t, c2, prefix)}
	r := ratelimit.Rate{Burst: 40, Interval: time.Hour}
	now := time.Now()
	var mu sync.Mutex
	allowed := map[int]int{}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				res, err := ls[g%2].Take(context.Background(), "v:login:203.0.113.9", r, 1, now)
				if err != nil {
					t.Error(err)
					return
				}
				if res.Allowed {
					mu.Lock()
					allowed[g%2]++
					mu.Unlock()
				}
			}
		}(g)
	}
	wg.Wait()
	if allowed[0]+allowed[1] != r.Burst || allowed[0] == 0 || allowed[1] == 0 {
		t.Fatalf("admitted %v, want %d in total from both instances", allowed, r.Burst)
	}
}

// TestPolicyAcrossInstances: the tarpit and the failure budget hold across two servers.
// Failures on one slow down the next attempt on the other, a success on the other clears
// them, and the address's failure budget is spent across both.
func TestPolicyAcrossInstances(t *testing.T) {
	c1, c2 := newClient(t), newClient(t)
	prefix := newPrefix(t, c1)
	now := time.Now()
	var mu sync.Mutex
	var delays []time.Duration
	newPolicy := func(c *redis.Client) *ratelimit.Policy {
		p, err := ratelimit.New(ratelimit.Config{
			Limiter:       newLimiter(t, c, prefix),
			LoginFailures: ratelimit.Rate{Burst: 8, Interval: time.Hour},
			TarpitAfter:   3,
			Now:           func() time.Time { return now },
			Sleep: func(_ context.Context, d time.Duration) error {
				mu.Lock()
				delays = append(delays, d)
				mu.Unlock()
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	servers := []*ratelimit.Policy{newPolicy(c1), newPolicy(c2)}
	ctx := context.Background()
	const addr = "203.0.113.9"
	steps := []struct {
		server  int
		account string
		outcome ratelimit.Outcome
		delay   time.Duration
		wantErr error
	}{
		{0, "login:bob", ratelimit.OutcomeFailure, 0, nil},
		{1, "login:bob", ratelimit.OutcomeFailure, 0, nil},
		{0, "login:bob", ratelimit.OutcomeFailure, 0, nil},
		{1, "login:bob", ratelimit.OutcomeFailure, time.Second, nil},
		{0, "login:bob", ratelimit.OutcomeFailure, 2 * time.Second, nil},
		{1, "login:bob", ratelimit.OutcomeSuccess, 4 * time.Second, nil},
		{0, "login:bob", ratelimit.OutcomeFailure, 0, nil},
		// Failures so far: 5 + 1 on bob; two more accounts fill the budget of 8.
		{1, "login:carol", ratelimit.OutcomeFailure, 0, nil},
		{0, "login:dave", ratelimit.OutcomeFailure, 0, nil},
		{1, "login:erin", ratelimit.OutcomeFailure, 0, ratelimit.ErrLimited},
		{0, "login:erin", ratelimit.OutcomeFailure, 0, ratelimit.ErrLimited},
	}
	for i, s := range steps {
		delays = nil
		a, err := servers[s.server].Begin(ctx, ratelimit.ActionLogin, addr, s.account)
		if !errors.Is(err, s.wantErr) {
			t.Fatalf("step %d: %v, want %v", i, err, s.wantErr)
		}
		if err != nil {
			continue
		}
		if a.Delay != s.delay || (s.delay != 0 && (len(delays) != 1 || delays[0] != s.delay)) {
			t.Fatalf("step %d on server %d: delay %s (slept %v), want %s", i, s.server, a.Delay, delays, s.delay)
		}
		a.Done(ctx, s.outcome)
	}
	// The store holds no account names.
	keys, err := c1.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no keys written")
	}
	for _, k := range keys {
		if strings.Contains(k, "bob") || strings.Contains(k, "carol") {
			t.Fatalf("key %q names an account", k)
		}
	}
}

// TestExpiry: a bucket's key lives until the bucket is empty and one second more, and is
// deleted when the bucket is emptied.
func TestExpiry(t *testing.T) {
	rdb := newClient(t)
	prefix := newPrefix(t, rdb)
	l := newLimiter(t, rdb, prefix)
	ctx := context.Background()
	r := ratelimit.Rate{Burst: 10, Interval: time.Minute}
	if _, err := l.Take(ctx, "k", r, 3, time.Now()); err != nil {
		t.Fatal(err)
	}
	ttl, err := rdb.PTTL(ctx, prefix+"k").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 0 || ttl > 3*time.Minute+time.Second {
		t.Fatalf("TTL %s, want at most 3m1s", ttl)
	}
	if _, err := l.Take(ctx, "k", r, -3, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, prefix+"k").Result(); n != 0 {
		t.Fatal("emptied bucket still stored")
	}
}

// TestUnreachable: a dead Redis is an error from the Limiter, and a Policy over it lets
// attempts through.
func TestUnreachable(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	l, err := redislimit.New(rdb, redislimit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := l.Take(ctx, "k", ratelimit.Rate{Burst: 1, Interval: time.Second}, 1, time.Now()); err == nil || !strings.HasPrefix(err.Error(), "redislimit: ") {
		t.Fatalf("Take on a dead Redis: %v", err)
	}
	if err := l.Reset(ctx, "k"); err == nil {
		t.Fatal("Reset on a dead Redis succeeded")
	}
	p, err := ratelimit.New(ratelimit.Config{Limiter: l, Login: ratelimit.Rate{Burst: 1, Interval: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		a, err := p.Begin(ctx, ratelimit.ActionLogin, "203.0.113.9", "login:bob")
		if err != nil {
			t.Fatalf("attempt %d refused over a dead Redis: %v", i, err)
		}
		a.Done(ctx, ratelimit.OutcomeFailure)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := redislimit.New(nil, redislimit.Config{}); err == nil {
		t.Fatal("nil client accepted")
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	l, _ := redislimit.New(rdb, redislimit.Config{})
	for _, r := range []ratelimit.Rate{{}, {Burst: 1, Interval: time.Nanosecond}} {
		if _, err := l.Take(context.Background(), "k", r, 1, time.Now()); err == nil || !strings.Contains(err.Error(), "invalid Rate") {
			t.Fatalf("Rate %+v: %v", r, err)
		}
	}
}
