package identity

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Notifier carries cache invalidations between the processes that share a Store. Every
// Identity trusts the sessions and applications it read for Config.RecheckInterval; with a
// Notifier (Config.Notifier), a session revoked, a password changed, a user changed, deleted
// or blocked, or an application changed or deleted through one process stops being trusted
// by the others as soon as the invalidation reaches them, instead of after
// RecheckInterval. RecheckInterval stays the bound while the channel is down.
//
// Package gormstore implements it with PostgreSQL LISTEN/NOTIFY (Store.Notifier), package
// redisnotify with Redis pub/sub. An implementation is safe for concurrent use.
type Notifier interface {
	// Publish sends inv to every process subscribed, this one included.
	Publish(ctx context.Context, inv Invalidation) error
	// Subscribe listens until ctx ends or the channel fails and returns why (ctx.Err() once
	// ctx ended). As soon as it listens, it calls receive with Invalidation{All: true}, since
	// whatever was published before may have been missed; then it calls receive with every
	// invalidation published, from one goroutine. The Identity calls it again after a failure.
	Subscribe(ctx context.Context, receive func(Invalidation)) error
}

// Invalidation names what a change made through one process makes stale in the caches of
// the others. Several fields may be set; a receiver reads again from the Store what they
// name. The JSON form (short keys) is what the Notifiers of this module send.
type Invalidation struct {
	// SessionID is a session deleted.
	SessionID int64 `json:"s,omitempty"`
	// UserID is a user whose sessions were revoked, or who was changed, blocked or deleted:
	// every session of the user is read again.
	UserID int64 `json:"u,omitempty"`
	// AppID is an application renamed, given new settings or new keys.
	AppID int64 `json:"a,omitempty"`
	// All makes every cached session and application stale (expired sessions and guests
	// purged, an application deleted, or a subscription that may have missed messages).
	All bool `json:"all,omitempty"`
}

// publishTimeout bounds one Publish: a revocation is already stored and applied here, and a
// channel that hangs must not hold the caller; the other processes then fall back to
// RecheckInterval.
const publishTimeout = 2 * time.Second

// Subscription retry delays: the first retry comes quickly (a connection killed or a server
// restarting), later ones back off.
const (
	resubscribeMin = 100 * time.Millisecond
	resubscribeMax = 5 * time.Second
)

// notifyState tracks whether the notification channel works, to log each change once.
type notifyState struct {
	mu        sync.Mutex
	listening bool // a Subscribe call listens
	pubFailed bool // the last Publish failed
	logged    int  // 0 nothing logged yet, 1 logged up, 2 logged down
}

// publish sends inv through the Notifier, if any, after a change this process made and
// applied to its own caches. A failure is logged (once until the channel works again), not
// returned: the change is done, and the other processes see it within RecheckInterval.
func (id *Identity) publish(ctx context.Context, inv Invalidation) {
	n := id.cfg.Notifier
	if n == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	err := n.Publish(ctx, inv)
	id.notify.mu.Lock()
	id.notify.pubFailed = err != nil
	id.notify.mu.Unlock()
	id.logNotifyState(err)
}

// logNotifyState logs when the channel goes down (Warn) or comes up (Info).
func (id *Identity) logNotifyState(err error) {
	s := &id.notify
	s.mu.Lock()
	up := s.listening && !s.pubFailed
	var change int
	switch {
	case up && s.logged != 1:
		change, s.logged = 1, 1
	case !up && err != nil && s.logged != 2:
		change, s.logged = 2, 2
	}
	s.mu.Unlock()
	switch change {
	case 1:
		id.log.Info("identity: cache invalidation channel up: changes made by other processes apply at once")
	case 2:
		id.log.Warn("identity: cache invalidation channel down: changes made by other processes apply within RecheckInterval",
			"recheck_interval", id.cfg.RecheckInterval, "err", err)
	}
}

// listen runs Subscribe until ctx ends, subscribing again after each failure.
func (id *Identity) listen(ctx context.Context) {
	delay := resubscribeMin
	for {
		err := id.cfg.Notifier.Subscribe(ctx, id.received)
		if ctx.Err() != nil {
			return
		}
		id.notify.mu.Lock()
		if id.notify.listening {
			delay = resubscribeMin // it worked for a while: retry quickly
		}
		id.notify.listening = false
		id.notify.mu.Unlock()
		if err == nil {
			err = errSubscriptionEnded
		}
		id.logNotifyState(err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, resubscribeMax)
	}
}

var errSubscriptionEnded = errors.New("identity: Notifier.Subscribe returned")

// received is the receive function given to Subscribe: the first call of a subscription
// marks the channel up.
func (id *Identity) received(inv Invalidation) {
	id.notify.mu.Lock()
	first := !id.notify.listening
	id.notify.listening = true
	id.notify.mu.Unlock()
	if first {
		id.logNotifyState(nil)
	}
	id.invalidate(inv)
}

// invalidate applies an invalidation received from the Notifier: what it names is read
// again from the Store on its next use (cached sessions keep the activity this process has
// not written yet).
func (id *Identity) invalidate(inv Invalidation) {
	if inv.All {
		id.cache.staleAll()
		id.apps.clear()
		return
	}
	if inv.SessionID != 0 {
		id.cache.staleSession(inv.SessionID)
	}
	if inv.UserID != 0 {
		id.cache.staleUser(inv.UserID)
	}
	if inv.AppID != 0 {
		id.apps.forget(inv.AppID)
	}
}

// staleAll makes every cached session stale.
func (c *sessionCache) staleAll() {
	c.gen.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.byHash {
		e.markStale()
	}
}

// staleSession makes the cached session with id stale.
func (c *sessionCache) staleSession(id int64) {
	c.gen.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.byID[id]; ok {
		if e := c.byHash[h]; e != nil {
			e.markStale()
		}
	}
}

// staleUser makes every cached session of userID stale.
func (c *sessionCache) staleUser(userID int64) {
	c.gen.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	for h := range c.byUser[userID] {
		if e := c.byHash[h]; e != nil {
			e.markStale()
		}
	}
}

// markStale makes the next Validate of e read the Store again.
func (e *cacheEntry) markStale() {
	e.mu.Lock()
	e.checked = time.Time{}
	e.mu.Unlock()
}

// clear forgets every cached application.
func (c *appCache) clear() {
	c.mu.Lock()
	c.gen++
	c.m = nil
	c.mu.Unlock()
}

// userChanged applies a change of u (stored already) to the cached sessions of u here and
// tells the other processes to read u again.
func (id *Identity) userChanged(ctx context.Context, u *User) {
	id.cache.setUser(u)
	id.publish(ctx, Invalidation{UserID: u.ID})
}
