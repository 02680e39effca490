package testutil

import (
	"context"
	"sync"
	"time"
)

// Clock is a clock that tests set and move by hand. Its Now method is what the module's
// Config.Now fields take. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock that reads t until it is moved.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d (backward when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Sleeper records the delays asked of it instead of sleeping; its Sleep method is what
// rate-limit configurations take. It is safe for concurrent use.
type Sleeper struct {
	mu     sync.Mutex
	delays []time.Duration
}

// Sleep records d and returns at once: ctx.Err(), nil while ctx is live.
func (s *Sleeper) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.delays = append(s.delays, d)
	s.mu.Unlock()
	return ctx.Err()
}

// Take returns the delays recorded since the last Take, oldest first, and forgets them.
func (s *Sleeper) Take() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.delays
	s.delays = nil
	return d
}
