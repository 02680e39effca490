package identity_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/notifytest"
)

// bus is an in-process Notifier hub: every Notifier it makes reaches every other. kill ends
// every subscription, as a dropped connection would.
type bus struct {
	mu   sync.Mutex
	subs map[chan identity.Invalidation]chan struct{} // subscription -> its kill signal
}

type busNotifier struct{ b *bus }

var errKilled = errors.New("bus: subscription killed")

func (n busNotifier) Publish(ctx context.Context, inv identity.Invalidation) error {
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	for c := range n.b.subs {
		select {
		case c <- inv:
		default: // a subscriber too slow loses the message, as a broken connection would
		}
	}
	return nil
}

func (n busNotifier) Subscribe(ctx context.Context, receive func(identity.Invalidation)) error {
	c, kill := make(chan identity.Invalidation, 1024), make(chan struct{})
	n.b.mu.Lock()
	if n.b.subs == nil {
		n.b.subs = map[chan identity.Invalidation]chan struct{}{}
	}
	n.b.subs[c] = kill
	n.b.mu.Unlock()
	defer func() {
		n.b.mu.Lock()
		delete(n.b.subs, c)
		n.b.mu.Unlock()
	}()
	receive(identity.Invalidation{All: true})
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-kill:
			return errKilled
		case inv := <-c:
			receive(inv)
		}
	}
}

func (b *bus) kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for c, k := range b.subs {
		close(k)
		delete(b.subs, c)
	}
}

func busSetup(t *testing.T) notifytest.Setup {
	b := &bus{}
	return notifytest.Setup{
		Store: openStore(t, false),
		New:   func(testing.TB) identity.Notifier { return busNotifier{b} },
		Kill:  func(testing.TB) { b.kill() },
	}
}

func TestNotifierAcrossInstances(t *testing.T) { notifytest.Run(t, busSetup(t)) }

func TestNotifierChannelKilled(t *testing.T) { notifytest.RunKill(t, busSetup(t)) }
