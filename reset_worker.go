package identity

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// mailQueue runs fn for queued jobs on a fixed set of workers, each with its own bounded
// channel. Workers start with the first job; shutdown stops them.
type mailQueue struct {
	fn      func(ctx context.Context, j resetJob)
	workers int
	size    int // capacity of each worker's channel

	mu      sync.RWMutex
	closed  bool
	once    sync.Once
	started bool
	chans   []chan resetJob
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
}

func newMailQueue(workers, size int, fn func(ctx context.Context, j resetJob)) *mailQueue {
	per := (size + workers - 1) / workers
	if per < 1 {
		per = 1
	}
	return &mailQueue{fn: fn, workers: workers, size: per}
}

func (q *mailQueue) start() {
	q.ctx, q.cancel = context.WithCancel(context.Background())
	q.done = make(chan struct{})
	q.chans = make([]chan resetJob, q.workers)
	var wg sync.WaitGroup
	for i := range q.chans {
		ch := make(chan resetJob, q.size)
		q.chans[i] = ch
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				if q.ctx.Err() != nil {
					continue // shut down: drop what is left
				}
				q.fn(q.ctx, j)
			}
		}()
	}
	go func() {
		wg.Wait()
		q.cancel()
		close(q.done)
	}()
	q.started = true
}

// add queues j on the worker of key without blocking: ErrBusy when that worker's queue is
// full, ErrUnavailable after shutdown.
func (q *mailQueue) add(key string, j resetJob) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return ErrUnavailable
	}
	q.once.Do(q.start)
	select {
	case q.chans[shard(key, len(q.chans))] <- j:
		return nil
	default:
		return ErrBusy
	}
}

// shutdown refuses new jobs, lets the workers finish the queued ones until ctx is done, then
// cancels them and waits for them to return.
func (q *mailQueue) shutdown(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		if q.started {
			for _, ch := range q.chans {
				close(ch)
			}
		}
	}
	started := q.started
	q.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		q.cancel()
		<-q.done
		return ctx.Err()
	}
}

// recovered runs fn and turns a panic (a faulty Mailer) into an error.
func recovered(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("identity: panic: %v", v)
		}
	}()
	return fn()
}

// limiter is an in-memory token bucket per key: burst requests at once, then one every
// interval. It tracks at most max keys; keys whose bucket has refilled are forgotten when
// room is needed, and a new key finding no room is refused. It is deliberately small and
// self-contained (one process, no persistence).
type limiter struct {
	off       bool
	burst     float64
	every     time.Duration
	max       int
	mu        sync.Mutex
	m         map[string]*bucket
	nextSweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(r RateLimit, max int) *limiter {
	if r.Burst < 0 {
		return &limiter{off: true}
	}
	return &limiter{burst: float64(r.Burst), every: r.Interval, max: max, m: map[string]*bucket{}}
}

// allow applies limit to key: with the Limiter of ResetConfig when there is one, falling
// back to the in-memory mem when it fails.
func (r *resetService) allow(ctx context.Context, mem *limiter, limit RateLimit, key string, now time.Time) bool {
	if mem.off {
		return true
	}
	if r.cfg.Limiter != nil {
		ok, err := r.cfg.Limiter.Allow(ctx, key, limit, now)
		if err == nil {
			return ok
		}
		r.id.log.WarnContext(ctx, "identity: password reset rate limiter failed; the in-memory limit applies", "err", err)
	}
	return mem.allow(key, now)
}

// allow takes one token from key's bucket at now and reports whether there was one.
func (l *limiter) allow(key string, now time.Time) bool {
	if l.off {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[key]
	if b == nil {
		if len(l.m) >= l.max {
			l.sweep(now)
			if len(l.m) >= l.max {
				return false
			}
		}
		b = &bucket{tokens: l.burst, at: now}
		l.m[key] = b
	} else {
		b.tokens = l.level(b, now)
		if now.After(b.at) {
			b.at = now
		}
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// level is b's token count at now.
func (l *limiter) level(b *bucket, now time.Time) float64 {
	t := b.tokens
	if now.After(b.at) {
		t += float64(now.Sub(b.at)) / float64(l.every)
	}
	if t > l.burst {
		t = l.burst
	}
	return t
}

// sweep forgets the keys whose bucket is full again; at most once a second (of the clock).
func (l *limiter) sweep(now time.Time) {
	if now.Before(l.nextSweep) {
		return
	}
	l.nextSweep = now.Add(time.Second)
	for k, b := range l.m {
		if l.level(b, now) >= l.burst {
			delete(l.m, k)
		}
	}
}
