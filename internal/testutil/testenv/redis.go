package testenv

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis returns a client of the test Redis, IDENTITY_TEST_REDIS_ADDR (default
// 127.0.0.1:6379), with opts (Addr and a zero DialTimeout filled in), closed when tb's test
// ends. When the server does not answer, tb is skipped, or fails when
// IDENTITY_TEST_REDIS_ADDR names it (CI sets it).
func Redis(tb testing.TB, opts redis.Options) *redis.Client {
	tb.Helper()
	env := os.Getenv("IDENTITY_TEST_REDIS_ADDR")
	opts.Addr = env
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:6379"
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = time.Second
	}
	rdb := redis.NewClient(&opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		if env != "" {
			tb.Fatalf("testenv: no Redis at IDENTITY_TEST_REDIS_ADDR=%s: %v", env, err)
		}
		tb.Skipf("testenv: no Redis at %s (set IDENTITY_TEST_REDIS_ADDR to require one): %v", opts.Addr, err)
	}
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}
