package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/identitykit/identity/ratelimit"
	"github.com/identitykit/identity/ratelimit/redislimit"
)

// redisTimeout is the dial, read and write timeout of the Redis client unless the URL sets
// them: the rate limiter lets attempts through while Redis fails, so it should fail fast.
const redisTimeout = 500 * time.Millisecond

// newRateLimit returns the rate-limit policy of cfg: nil when -rate-limit=false (the adapter
// is then told InsecureNoRateLimit), in memory without -redis-url, over Redis with it. shared
// is the Redis limiter (nil without -redis-url), which the password reset limits use too.
// close releases the Redis client.
func newRateLimit(ctx context.Context, cfg *config, log *slog.Logger) (p *ratelimit.Policy, shared ratelimit.Limiter, close func(), err error) {
	close = func() {}
	if !cfg.RateLimit {
		log.Warn("server: rate limiting is off (-rate-limit=false)")
		return nil, nil, close, nil
	}
	rc := ratelimit.Config{Logger: log}
	if cfg.metrics != nil {
		rc.Observe = cfg.metrics.ObserveRateLimit
	}
	backend := "memory"
	if cfg.RedisURL != "" {
		rdb, err := newRedis(cfg)
		if err != nil {
			return nil, nil, close, err
		}
		close = func() { rdb.Close() }
		lim, err := redislimit.New(rdb, redislimit.Config{Prefix: cfg.RedisPrefix})
		if err != nil {
			close()
			return nil, nil, func() {}, err
		}
		rc.Limiter, shared = lim, lim
		backend = "redis"
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := rdb.Ping(pctx).Err(); err != nil {
			log.Warn("server: Redis does not answer; rate limits are off until it does", "err", err)
		}
	}
	p, err = ratelimit.New(rc)
	if err != nil {
		close()
		return nil, nil, func() {}, err
	}
	log.Info("server: rate limiting on", "limiter", backend, "trusted_proxies", len(cfg.TrustedProxies))
	return p, shared, close, nil
}

// newRedis returns a client of -redis-url, with redisTimeout where the URL sets no timeout.
func newRedis(cfg *config) (*redis.Client, error) {
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		// The parser's message may quote the URL, which can hold a password.
		return nil, fmt.Errorf("server: -redis-url: not a valid redis:// or rediss:// URL")
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = redisTimeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = redisTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = redisTimeout
	}
	return redis.NewClient(opts), nil
}

// parseProxies parses a comma-separated list of addresses and CIDR prefixes.
func parseProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("-trusted-proxies: %q is not an address or CIDR prefix", f)
		}
		ip = ip.Unmap()
		out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return out, nil
}
