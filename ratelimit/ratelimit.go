// Package ratelimit defends logins, session creation, sign-up and password reset against
// brute force and floods, without letting an attacker lock a victim out.
//
// It has two layers:
//
//   - Limiter, a store of leaky buckets by key (the generic cell rate algorithm). NewMemory
//     is the in-process default with a bounded number of keys; package redislimit keeps the
//     buckets in Redis so that several server instances share one set of counts.
//   - Policy, the rules built on a Limiter: volume limits per client address for each
//     Action, a per-address budget of failed logins, and a tarpit per (account, client
//     address) that delays further attempts exponentially after a few failures instead of
//     locking the account. Policy.Begin starts an attempt; Attempt.Done records its outcome.
//
// Keys never contain the account name itself: accounts are hashed (SHA-256) before they
// become part of a key, so the limiter's store holds no logins or email addresses.
//
// The net/http adapter (package httpadapter) applies a Policy to its endpoints by default;
// see its Config.RateLimit.
package ratelimit

import (
	"context"
	"math"
	"time"
)

// Limiter keeps leaky buckets by key. A bucket holds a level, in units, that drains at one
// unit per Rate.Interval and may hold at most Rate.Burst units. Implementations must be safe
// for concurrent use and apply each Take atomically: concurrent Takes on one key, from any
// number of goroutines or, for a shared store, processes, behave as if applied one after the
// other.
type Limiter interface {
	// Take adds cost units to the bucket of key at time now, unless that would raise its
	// level above r.Burst; then nothing changes and Result.Allowed is false. A negative cost
	// gives units back (the level never goes below empty) and is always allowed; cost 0 reads
	// the level. A bucket that has drained empty is forgotten. A key must always be used with
	// the same Rate. The error is non-nil only when the store failed; the Result is then zero.
	Take(ctx context.Context, key string, r Rate, cost int, now time.Time) (Result, error)
	// Reset empties the bucket of key. Resetting a key that has no bucket is not an error.
	Reset(ctx context.Context, key string) error
}

// Rate describes a bucket: Burst units fit in it and one unit drains per Interval, so a
// client may spend Burst units at once and then one per Interval.
type Rate struct {
	// Burst is the capacity in units. Must be positive.
	Burst int
	// Interval is how long one unit takes to drain. Must be positive.
	Interval time.Duration
}

// maxSpan bounds Burst × Interval, the longest a bucket can take to drain.
const maxSpan = 100 * 365 * 24 * time.Hour

// Valid reports whether r can be used: Burst and Interval positive, and a full bucket
// draining within 100 years.
func (r Rate) Valid() bool {
	return r.Burst > 0 && r.Interval > 0 && int64(r.Burst) <= int64(maxSpan/r.Interval)
}

// Result is the outcome of a Take.
type Result struct {
	// Allowed reports whether the cost was added.
	Allowed bool
	// Level is the bucket's level in units after the Take (before it, when refused); it is
	// fractional while the bucket drains.
	Level float64
	// RetryAfter, when refused, is how long until the cost would fit.
	RetryAfter time.Duration
}

// Count returns Level rounded up: the number of units still in the bucket, counting a
// partly drained unit as whole. A level within a microsecond's drain of a whole number
// counts as that number, so that limiters of different time resolution agree.
func (r Result) Count() int {
	if r.Level <= 0 {
		return 0
	}
	return int(math.Ceil(r.Level - 1e-6))
}

// take applies the generic cell rate algorithm to a bucket whose theoretical arrival time
// (the instant it will be empty) is tat, at now, all in nanoseconds. It returns the new tat
// (tat unchanged when refused) and the Result. redislimit's script is the same algorithm in
// Lua; keep them in step.
func take(tat, now int64, r Rate, cost int) (int64, Result) {
	iv := int64(r.Interval)
	// |cost| beyond Burst+1 behaves like Burst+1: refused when adding, emptying when giving
	// back. Clamping keeps the arithmetic far from overflow.
	cost = max(-r.Burst-1, min(cost, r.Burst+1))
	if tat < now {
		tat = now
	}
	next := tat + int64(cost)*iv
	if next < now {
		next = now
	}
	limit := now + int64(r.Burst)*iv
	if cost > 0 && next > limit {
		return tat, Result{Level: float64(tat-now) / float64(iv), RetryAfter: time.Duration(next - limit)}
	}
	return next, Result{Allowed: true, Level: float64(next-now) / float64(iv)}
}
