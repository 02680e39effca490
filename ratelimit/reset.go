package ratelimit

import (
	"context"
	"time"

	"github.com/identitykit/identity/passwordreset"
)

// ForReset adapts l to passwordreset.Limiter, for passwordreset.Config.Limiter: with the
// Limiter the HTTP adapter uses (a redislimit.Limiter shared by every instance of a server),
// the password reset limits per address and per client count the requests made to any
// instance. A request takes one unit from a bucket of Rate{Burst, Interval}.
func ForReset(l Limiter) passwordreset.Limiter { return resetLimiter{l} }

type resetLimiter struct{ l Limiter }

func (a resetLimiter) Allow(ctx context.Context, key string, limit passwordreset.RateLimit, now time.Time) (bool, error) {
	res, err := a.l.Take(ctx, key, Rate{Burst: limit.Burst, Interval: limit.Interval}, 1, now)
	if err != nil {
		return false, err
	}
	return res.Allowed, nil
}
