// Package redislimit is a ratelimit.Limiter that keeps its buckets in Redis, so that every
// instance of a deployment shares one set of counts: a client cannot multiply its limits by
// spreading attempts over instances behind a load balancer.
//
// Each bucket is one Redis string key holding the bucket's theoretical arrival time in
// microseconds, with a TTL of one second past the instant the bucket is empty. Every Take is
// one EVALSHA of a Lua script, so concurrent Takes from any number of instances are applied
// atomically. Each call touches one key, so Redis Cluster works too.
//
// The time is the caller's (ratelimit.Config.Now, normally the instance's clock): instances
// sharing a Redis should keep their clocks synchronized (NTP); a skew of s between two
// instances shifts their view of a bucket by s.
//
// Give the client short timeouts (for example ?dial_timeout=200ms&read_timeout=200ms in a
// redis:// URL): a ratelimit.Policy lets attempts through unlimited while the Limiter fails,
// so a slow Redis should fail fast rather than delay every login.
package redislimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/identitykit/identity/ratelimit"
)

// Config configures a Limiter. The zero value means every default.
type Config struct {
	// Prefix starts every key. Default "identity:ratelimit:". Instances that must share
	// limits use the same Prefix; unrelated deployments on one Redis use different ones.
	Prefix string
}

// Limiter is a ratelimit.Limiter over a Redis client. It is safe for concurrent use.
type Limiter struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ ratelimit.Limiter = (*Limiter)(nil)

// New returns a Limiter over rdb (a *redis.Client, *redis.ClusterClient or
// *redis.Ring). It does not contact Redis; the caller keeps ownership of rdb and closes it.
func New(rdb redis.UniversalClient, cfg Config) (*Limiter, error) {
	if rdb == nil {
		return nil, errors.New("redislimit: nil Redis client")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "identity:ratelimit:"
	}
	return &Limiter{rdb: rdb, prefix: cfg.Prefix}, nil
}

// takeScript is ratelimit's generic cell rate algorithm (see take in package ratelimit) in
// microseconds. KEYS[1] is the bucket; ARGV is now, the interval, the burst and the cost.
// It returns {allowed (0 or 1), level in microseconds, retry-after in microseconds}. A key
// expires a second after its bucket drains empty (by the caller's clock; Redis counts the
// TTL by its own): a key that outlives its bucket reads as empty, one that expired early
// would lose counts.
// Numbers stay below 2^53, where Lua's doubles are exact.
var takeScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local iv = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local nxt = tat + cost * iv
if nxt < now then nxt = now end
local limit = now + burst * iv
if cost > 0 and nxt > limit then
  return {0, tat - now, nxt - limit}
end
if nxt > now then
  redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', math.ceil((nxt - now) / 1000) + 1000)
else
  redis.call('DEL', KEYS[1])
end
return {1, nxt - now, 0}
`)

// Take implements ratelimit.Limiter. Intervals are kept to the microsecond; an Interval
// below one microsecond is an error.
func (l *Limiter) Take(ctx context.Context, key string, r ratelimit.Rate, cost int, now time.Time) (ratelimit.Result, error) {
	if !r.Valid() || r.Interval < time.Microsecond {
		return ratelimit.Result{}, errors.New("redislimit: invalid Rate (Burst and Interval must be positive, Interval at least 1µs)")
	}
	iv := r.Interval.Microseconds()
	cost = max(-r.Burst-1, min(cost, r.Burst+1))
	v, err := takeScript.Run(ctx, l.rdb, []string{l.prefix + key}, now.UnixMicro(), iv, r.Burst, cost).Int64Slice()
	if err != nil {
		return ratelimit.Result{}, fmt.Errorf("redislimit: take: %w", err)
	}
	if len(v) != 3 {
		return ratelimit.Result{}, fmt.Errorf("redislimit: take: unexpected script result %v", v)
	}
	return ratelimit.Result{
		Allowed:    v[0] == 1,
		Level:      float64(v[1]) / float64(iv),
		RetryAfter: time.Duration(v[2]) * time.Microsecond,
	}, nil
}

// Reset implements ratelimit.Limiter.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	if err := l.rdb.Del(ctx, l.prefix+key).Err(); err != nil {
		return fmt.Errorf("redislimit: reset: %w", err)
	}
	return nil
}
