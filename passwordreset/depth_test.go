package passwordreset_test

import (
	"testing"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/passwordreset"
)

// TestQueueDepth: QueueDepth counts the requests waiting for the worker, not the one being
// sent, and is 0 again once the queue drained; it may be read while the first request starts
// the workers (run with -race).
func TestQueueDepth(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{}, func(c *passwordreset.Config) {
		c.Workers, c.QueueSize = 1, 2
	})
	e.mailer.block, e.mailer.entered, e.mailer.release = true, make(chan struct{}), make(chan struct{})
	if n := e.svc.QueueDepth(); n != 0 {
		t.Fatalf("before any request: depth %d", n)
	}
	e.signUp(t, "deep", "deep@example.com", "old-password")
	// A scrape may come while the first request starts the workers.
	stop, scraped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(scraped)
		for {
			select {
			case <-stop:
				return
			default:
				e.svc.QueueDepth()
			}
		}
	}()
	if err := e.svc.Request(t.Context(), e.app.ID, "deep@example.com", ""); err != nil {
		t.Fatal(err)
	}
	<-e.mailer.entered // the worker holds the first request
	close(stop)
	<-scraped
	if n := e.svc.QueueDepth(); n != 0 {
		t.Fatalf("one request being sent: depth %d, want 0", n)
	}
	for _, email := range []string{"w1@example.com", "w2@example.com"} {
		if err := e.svc.Request(t.Context(), e.app.ID, email, ""); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.svc.QueueDepth(); n != 2 {
		t.Fatalf("two requests waiting: depth %d, want 2", n)
	}
	close(e.mailer.release)
	e.flush(t)
	if n := e.svc.QueueDepth(); n != 0 {
		t.Fatalf("after the queue drained: depth %d", n)
	}
}
