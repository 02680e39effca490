// Package redisnotify is an identity.Notifier over Redis pub/sub, for deployments whose
// instances share a Redis (as they may for rate limits, package redislimit): a session
// revoked, a user changed, blocked or deleted, or an application changed through one
// instance stops being trusted by the others within milliseconds instead of after
// identity.Config.RecheckInterval.
//
//	n, err := redisnotify.New(rdb, redisnotify.Config{})
//	id, err := identity.New(identity.Config{..., Notifier: n})
//
// Publish is one PUBLISH of a small JSON message. Subscribe holds one connection of the
// client, subscribed to the channel, and pings it after a silence of Config.CheckInterval,
// so that a connection lost without a word is noticed (the Identity subscribes again, and
// falls back to RecheckInterval meanwhile). Pub/sub reaches the subscribers connected at the
// time only: what is published while an instance is not subscribed is lost to it, which is
// why an Identity treats every new subscription as "everything may have changed".
package redisnotify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/identitykit/identity"
)

// Config configures a Notifier. The zero value means every default.
type Config struct {
	// Channel is the pub/sub channel. Default "identity:invalidations". Instances sharing a
	// Store use the same Channel; unrelated deployments on one Redis use different ones.
	Channel string
	// CheckInterval is how long the subscribed connection may stay silent before it is
	// pinged. Default 30 s.
	CheckInterval time.Duration
}

// Notifier is an identity.Notifier over a Redis client. It is safe for concurrent use.
type Notifier struct {
	rdb redis.UniversalClient
	cfg Config
}

var _ identity.Notifier = (*Notifier)(nil)

// New returns a Notifier over rdb (a *redis.Client, *redis.ClusterClient or *redis.Ring).
// It does not contact Redis; the caller keeps ownership of rdb and closes it after the
// Identity's Shutdown.
func New(rdb redis.UniversalClient, cfg Config) (*Notifier, error) {
	if rdb == nil {
		return nil, errors.New("redisnotify: nil Redis client")
	}
	if cfg.Channel == "" {
		cfg.Channel = "identity:invalidations"
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = 30 * time.Second
	}
	return &Notifier{rdb: rdb, cfg: cfg}, nil
}

// Publish sends inv to every subscribed instance.
func (n *Notifier) Publish(ctx context.Context, inv identity.Invalidation) error {
	payload, err := json.Marshal(inv)
	if err != nil {
		return fmt.Errorf("redisnotify: %w", err)
	}
	if err := n.rdb.Publish(ctx, n.cfg.Channel, payload).Err(); err != nil {
		return fmt.Errorf("redisnotify: publish: %w", err)
	}
	return nil
}

// Subscribe subscribes to the channel and passes every message to receive (see
// identity.Notifier) until ctx ends or the connection fails. A message it cannot read
// invalidates everything.
func (n *Notifier) Subscribe(ctx context.Context, receive func(identity.Invalidation)) error {
	ps := n.rdb.Subscribe(ctx)
	defer ps.Close()
	// A blocked read does not watch ctx: closing the subscription ends it.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()
	if err := ps.Subscribe(ctx, n.cfg.Channel); err != nil {
		return n.ended(ctx, err)
	}
	if _, err := ps.Receive(ctx); err != nil { // the confirmation: subscribed from here on
		return n.ended(ctx, err)
	}
	receive(identity.Invalidation{All: true})
	for {
		msg, err := ps.ReceiveTimeout(ctx, n.cfg.CheckInterval)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
				if err = ps.Ping(ctx); err == nil {
					continue // the Pong arrives as a message
				}
			}
			return n.ended(ctx, err)
		}
		m, ok := msg.(*redis.Message)
		if !ok {
			continue // a Pong, or a subscription change
		}
		var inv identity.Invalidation
		if json.Unmarshal([]byte(m.Payload), &inv) != nil {
			inv = identity.Invalidation{All: true}
		}
		receive(inv)
	}
}

// ended returns why a subscription ended: ctx.Err() once ctx is done.
func (n *Notifier) ended(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("redisnotify: subscription: %w", err)
}
