package ratelimit

import (
	"context"
	"time"

	"github.com/identitykit/identity"
)

// ForIdentity adapts l to identity.Limiter, for identity.ResetConfig.Limiter: with the
// Limiter the HTTP adapter uses (a redislimit.Limiter shared by every instance of a server),
// the password reset limits per address and per client count the requests made to any
// instance. A request takes one unit from a bucket of Rate{Burst, Interval}.
func ForIdentity(l Limiter) identity.Limiter { return identityLimiter{l} }

type identityLimiter struct{ l Limiter }

func (a identityLimiter) Allow(ctx context.Context, key string, limit identity.RateLimit, now time.Time) (bool, error) {
	res, err := a.l.Take(ctx, key, Rate{Burst: limit.Burst, Interval: limit.Interval}, 1, now)
	if err != nil {
		return false, err
	}
	return res.Allowed, nil
}
