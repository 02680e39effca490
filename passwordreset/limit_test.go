package passwordreset_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil/testenv"
	"github.com/identitykit/identity/passwordreset"
	"github.com/identitykit/identity/ratelimit"
	"github.com/identitykit/identity/ratelimit/redislimit"
)

// Two Identities (two server instances over one store) given one shared limiter share the
// per-email reset budget: requests spread over both are limited as if made to one.
func TestPasswordResetSharedLimiter(t *testing.T) {
	limiters := map[string]func(t *testing.T) ratelimit.Limiter{
		"memory": func(t *testing.T) ratelimit.Limiter {
			m, err := ratelimit.NewMemory(ratelimit.MemoryConfig{})
			if err != nil {
				t.Fatal(err)
			}
			return m
		},
	}
	if addr := os.Getenv("IDENTITY_TEST_REDIS_ADDR"); addr != "" {
		limiters["redis"] = func(t *testing.T) ratelimit.Limiter {
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			t.Cleanup(func() { rdb.Close() })
			prefix := fmt.Sprintf("identity:test:reset:%d:", time.Now().UnixNano())
			t.Cleanup(func() {
				keys, _ := rdb.Keys(context.Background(), prefix+"*").Result()
				if len(keys) > 0 {
					rdb.Del(context.Background(), keys...)
				}
			})
			l, err := redislimit.New(rdb, redislimit.Config{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
	}
	for name, newLimiter := range limiters {
		t.Run(name, func(t *testing.T) {
			shared := ratelimit.ForReset(newLimiter(t))
			limit := passwordreset.RateLimit{Burst: 2, Interval: time.Hour}
			a := newResetEnv(t, identity.AppSettings{}, func(c *passwordreset.Config) {
				c.PerEmail = limit
				c.Limiter = shared
			})
			a.signUp(t, "shared", "shared@example.com", "old-password")
			mailerB := &fakeMailer{}
			pw := testenv.Passwords(t)
			b, err := identity.New(identity.Config{Store: a.store, Hasher: pw, Providers: []identity.Provider{pw}, Now: a.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			bSvc, err := passwordreset.New(b, passwordreset.Config{
				Store: a.store, Mailer: mailerB, LinkURL: resetLinkURL, PerEmail: limit, Limiter: shared, Now: a.clock.Now,
			})
			if err != nil {
				t.Fatal(err)
			}
			for i, svc := range []*passwordreset.Service{a.svc, bSvc, a.svc, bSvc} {
				if err := svc.Request(t.Context(), a.app.ID, "shared@example.com", fmt.Sprint("client", i)); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
			}
			if err := b.Shutdown(t.Context()); err != nil {
				t.Fatal(err)
			}
			n := len(a.flush(t)) + len(mailerB.messages())
			if n != 2 {
				t.Fatalf("%d mails from two instances sharing a limiter, want 2 (one burst of 2)", n)
			}
		})
	}
}

type failingLimiter struct{}

func (failingLimiter) Allow(context.Context, string, passwordreset.RateLimit, time.Time) (bool, error) {
	return false, errors.New("limiter down")
}

// A failing shared limiter neither blocks every reset nor lifts the limit: the in-memory
// buckets apply.
func TestPasswordResetLimiterFailureFallsBack(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{}, func(c *passwordreset.Config) {
		c.PerEmail = passwordreset.RateLimit{Burst: 2, Interval: time.Hour}
		c.Limiter = failingLimiter{}
	})
	e.signUp(t, "fallback", "fallback@example.com", "old-password")
	for i := range 3 {
		e.svc.Request(t.Context(), e.app.ID, "fallback@example.com", fmt.Sprint("client", i))
	}
	if n := len(e.flush(t)); n != 2 {
		t.Fatalf("%d mails with a failing limiter, want 2 (the in-memory limit)", n)
	}
}
