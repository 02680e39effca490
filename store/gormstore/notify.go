package gormstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/identitykit/identity"
)

// pgListenCheck is how long a listening connection may stay silent before it is pinged, so
// that a connection lost without a word (a network partition) is noticed.
const pgListenCheck = 30 * time.Second

// Notifier returns an identity.Notifier over PostgreSQL LISTEN/NOTIFY, for
// identity.Config.Notifier: the Identities of every process whose store uses this database
// and table prefix receive each other's cache invalidations, within milliseconds. Its
// channel is named after the table prefix (<prefix>invalidations). Publish is one NOTIFY
// through the store's pool, with a small JSON payload; Subscribe holds one connection of
// the pool for LISTEN while it listens (so the pool serves queries with one fewer) and
// closes it when it stops, and pings it after pgListenCheck of silence.
//
// It needs PostgreSQL through the pgx driver (as OpenPostgres opens it, or New with
// gorm.io/driver/postgres); SQLite has no such channel and gets an error.
func (s *Store) Notifier() (identity.Notifier, error) {
	if s.db.Dialector.Name() != "postgres" {
		return nil, errors.New("gormstore: notifications need PostgreSQL")
	}
	return &pgNotifier{s: s, channel: s.notifyChannel()}, nil
}

// notifyChannel is the LISTEN/NOTIFY channel of the store's prefix.
func (s *Store) notifyChannel() string { return s.t.prefix + "invalidations" }

type pgNotifier struct {
	s       *Store
	channel string
}

func (n *pgNotifier) Publish(ctx context.Context, inv identity.Invalidation) error {
	payload, err := json.Marshal(inv)
	if err != nil {
		return fmt.Errorf("gormstore: notify: %w", err)
	}
	if err := n.s.db.WithContext(ctx).Exec("SELECT pg_notify(?, ?)", n.channel, string(payload)).Error; err != nil {
		return fmt.Errorf("gormstore: notify: %w", classify(err))
	}
	return nil
}

func (n *pgNotifier) Subscribe(ctx context.Context, receive func(identity.Invalidation)) error {
	sqlDB, err := n.s.db.DB()
	if err != nil {
		return fmt.Errorf("gormstore: listen: %w", err)
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("gormstore: listen: %w", classify(err))
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("gormstore: notifications need the pgx driver, not %T", dc)
		}
		c := sc.Conn()
		// Closed when listening stops, the connection is dropped by the pool rather than
		// reused for queries while still listening.
		defer c.Close(context.WithoutCancel(ctx))
		return n.listen(ctx, c, receive)
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// listen runs LISTEN on c and passes every notification to receive until ctx ends or c fails.
func (n *pgNotifier) listen(ctx context.Context, c *pgx.Conn, receive func(identity.Invalidation)) error {
	if _, err := c.Exec(ctx, "LISTEN "+pgx.Identifier{n.channel}.Sanitize()); err != nil {
		return fmt.Errorf("gormstore: listen: %w", classify(err))
	}
	receive(identity.Invalidation{All: true})
	for {
		wctx, cancel := context.WithTimeout(ctx, pgListenCheck)
		msg, err := c.WaitForNotification(wctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && errors.Is(err, context.DeadlineExceeded) && !c.IsClosed() {
			pctx, cancel := context.WithTimeout(ctx, pgListenCheck)
			err = c.Ping(pctx)
			cancel()
			if err == nil {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("gormstore: listen: %w", classify(err))
		}
		receive(decodeInvalidation(msg.Payload))
	}
}

// decodeInvalidation reads a payload; one it cannot read (another release's?) invalidates
// everything, the safe reading.
func decodeInvalidation(payload string) identity.Invalidation {
	var inv identity.Invalidation
	if err := json.Unmarshal([]byte(payload), &inv); err != nil {
		return identity.Invalidation{All: true}
	}
	return inv
}
