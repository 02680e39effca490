package identity_test

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil"
)

// identityGoroutines returns the stacks of the goroutines running code of package identity.
func identityGoroutines() []string {
	return testutil.Goroutines("identitykit/identity.(*", "identity_test.")
}

// settledIdentityGoroutines is identityGoroutines once the goroutines that are finishing
// have had the chance to: a stopped goroutine has signalled it is done (Shutdown returns
// then) but may still be on its way out of its function. A goroutine Shutdown did not stop
// stays blocked, and is still reported after the yields run out.
func settledIdentityGoroutines() []string {
	g := identityGoroutines()
	for i := 0; i < 2000 && len(g) > 0; i++ {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
		g = identityGoroutines()
	}
	return g
}

// Shutdown stops every goroutine the Identity started (the janitors of StartJanitor) and
// then runs the Shutdown hooks. When it returns, no janitor is left. It is idempotent and
// safe to call concurrently, and a janitor started after it does not run.
func TestShutdownStopsEverything(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	var hookRuns atomic.Int64
	e.id.AddHooks(identity.Hooks{Shutdown: func(context.Context) error {
		hookRuns.Add(1)
		return nil
	}})
	e.id.StartJanitor(time.Hour)
	e.id.StartJanitor(time.Hour)
	if len(identityGoroutines()) == 0 {
		t.Fatal("no goroutine of the Identity found: the test cannot see them")
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.id.Shutdown(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := hookRuns.Load(); n != 3 {
		t.Fatalf("the Shutdown hook ran %d times for 3 Shutdowns, want 3", n)
	}
	if g := settledIdentityGoroutines(); len(g) > 0 {
		t.Fatalf("%d goroutines of the Identity left after Shutdown:\n%s", len(g), strings.Join(g, "\n\n"))
	}
	stop := e.id.StartJanitor(time.Hour)
	if g := settledIdentityGoroutines(); len(g) > 0 {
		t.Fatalf("StartJanitor after Shutdown started a goroutine:\n%s", strings.Join(g, "\n\n"))
	}
	stop()
	if err := e.id.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
