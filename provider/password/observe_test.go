package password

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/identitykit/identity"
)

// slotWaits records what Config.ObserveSlotWait is told.
type slotWaits struct {
	mu    sync.Mutex
	waits []time.Duration
	errs  []error
}

func (s *slotWaits) observe(d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	s.errs = append(s.errs, err)
}

// TestObserveSlotWait: every hashing slot request is observed once: a free slot as no wait,
// a saturated hasher as ErrBusy after at least MaxWait, a canceled caller with its context's
// error.
func TestObserveSlotWait(t *testing.T) {
	var w slotWaits
	p, _, _ := cheap(t, Config{MaxConcurrent: 1, MaxWait: 5 * time.Millisecond, ObserveSlotWait: w.observe})
	ctx := context.Background()
	if _, err := p.Hash(ctx, "first"); err != nil {
		t.Fatal(err)
	}
	if len(w.waits) != 1 || w.waits[0] != 0 || w.errs[0] != nil {
		t.Fatalf("free slot: %v %v", w.waits, w.errs)
	}
	p.slots <- struct{}{} // the only slot is taken
	if _, _, err := p.Verify(ctx, "x", p.dummy); !errors.Is(err, identity.ErrBusy) {
		t.Fatalf("saturated: %v", err)
	}
	if len(w.waits) != 2 || w.waits[1] < 5*time.Millisecond || !errors.Is(w.errs[1], identity.ErrBusy) {
		t.Fatalf("saturated: %v %v", w.waits, w.errs)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	p.cfg.MaxWait = time.Hour
	if _, err := p.Hash(canceled, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
	if len(w.errs) != 3 || !errors.Is(w.errs[2], context.Canceled) {
		t.Fatalf("canceled: %v %v", w.waits, w.errs)
	}
}
