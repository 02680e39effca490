package passwordreset

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/identitykit/identity"
)

// job is one accepted reset request, or (notice set) an email change notice.
type job struct {
	appID int64
	email string // identity.NormalizeEmail form
	// notice, when set, is a notice to email that the account's address was changed.
	notice *Message
}

// process handles one queued job in a worker.
func (s *Service) process(ctx context.Context, j job) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
	defer cancel()
	if j.notice != nil {
		if err := recovered(func() error { return s.cfg.Mailer.Send(ctx, *j.notice) }); err != nil {
			s.log.Error("passwordreset: email change notice not sent", "application_id", j.appID, "err", err)
		}
		return
	}
	if err := recovered(func() error { return s.send(ctx, j) }); err != nil {
		s.log.Error("passwordreset: password reset mail not sent", "application_id", j.appID, "err", err)
	}
}

// RateLimit is a token bucket: Burst requests at once, then one more every Interval. A zero
// RateLimit means the documented default; a negative Burst turns the limit off.
type RateLimit struct {
	Burst    int
	Interval time.Duration
}

// Limiter keeps rate-limit buckets by key, possibly shared between processes
// (ratelimit.ForReset adapts package ratelimit's). Implementations must be safe for
// concurrent use and apply each Allow atomically.
type Limiter interface {
	// Allow takes one request from the bucket of key, which holds at most limit.Burst
	// requests and regains one every limit.Interval, at time now, and reports whether there
	// was one (limit.Burst is positive). A key is always used with the same limit. The error
	// is non-nil only when the limiter's store failed.
	Allow(ctx context.Context, key string, limit RateLimit, now time.Time) (bool, error)
}

// mailQueue runs fn for queued jobs on a fixed set of workers, each with its own bounded
// channel. Workers start with the first job; shutdown stops them.
type mailQueue struct {
	fn      func(ctx context.Context, j job)
	workers int
	size    int // capacity of each worker's channel

	mu      sync.RWMutex
	closed  bool
	once    sync.Once
	started bool
	chans   []chan job
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	// queued is chans once the workers started, for depth (start runs under a read lock).
	queued atomic.Pointer[[]chan job]
}

func newMailQueue(workers, size int, fn func(ctx context.Context, j job)) *mailQueue {
	per := (size + workers - 1) / workers
	if per < 1 {
		per = 1
	}
	return &mailQueue{fn: fn, workers: workers, size: per}
}

func (q *mailQueue) start() {
	q.ctx, q.cancel = context.WithCancel(context.Background())
	q.done = make(chan struct{})
	q.chans = make([]chan job, q.workers)
	var wg sync.WaitGroup
	for i := range q.chans {
		ch := make(chan job, q.size)
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
	q.queued.Store(&q.chans)
}

// add queues j on the worker of key without blocking: identity.ErrBusy when that worker's
// queue is full, identity.ErrUnavailable after shutdown.
func (q *mailQueue) add(key string, j job) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return identity.ErrUnavailable
	}
	q.once.Do(q.start)
	select {
	case q.chans[shard(key, len(q.chans))] <- j:
		return nil
	default:
		return identity.ErrBusy
	}
}

// QueueDepth returns how many mails (reset links and email change notices) wait to be
// handed to the Mailer, not counting those being sent: 0 without a Mailer. For metrics; a
// depth that nears Config.QueueSize means requests are about to be refused with
// identity.ErrBusy.
func (s *Service) QueueDepth() int {
	if s.queue == nil {
		return 0
	}
	return s.queue.depth()
}

// depth is the number of jobs queued on all workers.
func (q *mailQueue) depth() int {
	chans := q.queued.Load()
	if chans == nil {
		return 0
	}
	n := 0
	for _, ch := range *chans {
		n += len(ch)
	}
	return n
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
			err = fmt.Errorf("passwordreset: panic: %v", v)
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

// allow applies limit to key: with Config.Limiter when there is one, falling back to the
// in-memory mem when it fails.
func (s *Service) allow(ctx context.Context, mem *limiter, limit RateLimit, key string, now time.Time) bool {
	if mem.off {
		return true
	}
	if s.cfg.Limiter != nil {
		ok, err := s.cfg.Limiter.Allow(ctx, key, limit, now)
		if err == nil {
			return ok
		}
		s.log.WarnContext(ctx, "passwordreset: rate limiter failed; the in-memory limit applies", "err", err)
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

// shard picks the worker of key (FNV-1a), so that requests for one address stay in order.
func shard(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}
