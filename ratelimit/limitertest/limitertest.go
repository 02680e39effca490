// Package limitertest is the conformance suite every ratelimit.Limiter must pass, one
// subtest per rule of the Limiter contract:
//
//	func TestConformance(t *testing.T) {
//		limitertest.Run(t, func(t *testing.T) ratelimit.Limiter { return newLimiter(t) })
//	}
//
// newLimiter is called once per subtest and must return a Limiter with no buckets (for a
// shared store: keys under a prefix of its own, removed at the end of the test).
package limitertest

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/identitykit/identity/ratelimit"
)

// base is the suite's clock origin; the Limiter must take the time from its argument.
var base = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

type step struct {
	key  string
	cost int
	at   time.Duration // since base
	// want
	allowed bool
	level   float64
	retry   time.Duration
	reset   bool // call Reset(key) instead of Take
}

// Run runs the suite.
func Run(t *testing.T, newLimiter func(t *testing.T) ratelimit.Limiter) {
	r := ratelimit.Rate{Burst: 3, Interval: time.Second}
	tests := []struct {
		name  string
		steps []step
	}{
		{"burst then refused with the time until the cost fits", []step{
			{key: "a", cost: 1, allowed: true, level: 1},
			{key: "a", cost: 1, allowed: true, level: 2},
			{key: "a", cost: 1, allowed: true, level: 3},
			{key: "a", cost: 1, allowed: false, level: 3, retry: time.Second},
			{key: "a", cost: 2, allowed: false, level: 3, retry: 2 * time.Second},
		}},
		{"a refused take changes nothing", []step{
			{key: "a", cost: 3, allowed: true, level: 3},
			{key: "a", cost: 1, allowed: false, level: 3, retry: time.Second},
			{key: "a", cost: 1, at: 500 * time.Millisecond, allowed: false, level: 2.5, retry: 500 * time.Millisecond},
			{key: "a", cost: 1, at: time.Second, allowed: true, level: 3},
		}},
		{"the level drains one unit per interval", []step{
			{key: "a", cost: 3, allowed: true, level: 3},
			{key: "a", cost: 0, at: 1500 * time.Millisecond, allowed: true, level: 1.5},
			{key: "a", cost: 1, at: 1500 * time.Millisecond, allowed: true, level: 2.5},
			{key: "a", cost: 0, at: 10 * time.Second, allowed: true, level: 0},
			{key: "a", cost: 3, at: 10 * time.Second, allowed: true, level: 3},
		}},
		{"cost 0 reads without adding", []step{
			{key: "a", cost: 0, allowed: true, level: 0},
			{key: "a", cost: 2, allowed: true, level: 2},
			{key: "a", cost: 0, allowed: true, level: 2},
			{key: "a", cost: 0, allowed: true, level: 2},
		}},
		{"a negative cost gives back, never below empty", []step{
			{key: "a", cost: 3, allowed: true, level: 3},
			{key: "a", cost: -1, allowed: true, level: 2},
			{key: "a", cost: 1, allowed: true, level: 3},
			{key: "a", cost: -5, allowed: true, level: 0},
			{key: "a", cost: -1, allowed: true, level: 0},
			{key: "a", cost: 3, allowed: true, level: 3},
		}},
		{"a cost above Burst never fits", []step{
			{key: "a", cost: 4, allowed: false, level: 0, retry: time.Second},
			{key: "a", cost: 0, allowed: true, level: 0},
		}},
		{"Reset empties the bucket", []step{
			{key: "a", cost: 3, allowed: true, level: 3},
			{key: "a", reset: true},
			{key: "a", cost: 0, allowed: true, level: 0},
			{key: "a", cost: 3, allowed: true, level: 3},
			{key: "never", reset: true},
		}},
		{"keys are independent", []step{
			{key: "a", cost: 3, allowed: true, level: 3},
			{key: "b", cost: 1, allowed: true, level: 1},
			{key: "a", cost: 1, allowed: false, level: 3, retry: time.Second},
			{key: "b", reset: true},
			{key: "a", cost: 0, allowed: true, level: 3},
		}},
		{"keys may hold any bytes", []step{
			{key: "x:é\x00\xff{}", cost: 3, allowed: true, level: 3},
			{key: "x:é\x00\xfe{}", cost: 1, allowed: true, level: 1},
			{key: "x:é\x00\xff{}", cost: 1, allowed: false, level: 3, retry: time.Second},
		}},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLimiter(t)
			for i, s := range tt.steps {
				if s.reset {
					if err := l.Reset(ctx, s.key); err != nil {
						t.Fatalf("step %d: Reset(%q): %v", i, s.key, err)
					}
					continue
				}
				got, err := l.Take(ctx, s.key, r, s.cost, base.Add(s.at))
				if err != nil {
					t.Fatalf("step %d: Take: %v", i, err)
				}
				if got.Allowed != s.allowed || math.Abs(got.Level-s.level) > 1e-6 || got.RetryAfter != s.retry {
					t.Fatalf("step %d: Take(%q, cost %d, +%s) = %+v, want allowed %v level %v retry %s",
						i, s.key, s.cost, s.at, got, s.allowed, s.level, s.retry)
				}
			}
		})
	}

	t.Run("concurrent takes admit exactly Burst", func(t *testing.T) {
		l := newLimiter(t)
		rate := ratelimit.Rate{Burst: 50, Interval: time.Hour}
		var mu sync.Mutex
		allowed := 0
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 20; i++ {
					res, err := l.Take(ctx, "c", rate, 1, base)
					if err != nil {
						errs <- err
						return
					}
					if res.Allowed {
						mu.Lock()
						allowed++
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if allowed != rate.Burst {
			t.Fatalf("%d of 160 concurrent takes allowed, want %d", allowed, rate.Burst)
		}
	})

	t.Run("Rate is per call: long intervals and sub-millisecond ones", func(t *testing.T) {
		l := newLimiter(t)
		for _, rate := range []ratelimit.Rate{
			{Burst: 2, Interval: 24 * time.Hour},
			{Burst: 2, Interval: 100 * time.Microsecond},
			{Burst: 1000, Interval: time.Minute},
		} {
			key := fmt.Sprint("r", rate.Burst, rate.Interval)
			for i := 1; i <= rate.Burst; i++ {
				got, err := l.Take(ctx, key, rate, 1, base)
				if err != nil || !got.Allowed || got.Count() != i {
					t.Fatalf("%v take %d = %+v, %v", rate, i, got, err)
				}
			}
			got, err := l.Take(ctx, key, rate, 1, base)
			if err != nil || got.Allowed || got.RetryAfter != rate.Interval {
				t.Fatalf("%v: take over Burst = %+v, %v", rate, got, err)
			}
			got, err = l.Take(ctx, key, rate, 1, base.Add(rate.Interval))
			if err != nil || !got.Allowed {
				t.Fatalf("%v: take after one interval = %+v, %v", rate, got, err)
			}
		}
	})
}
