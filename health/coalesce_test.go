package health

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestReadinessCoalesces: probes arriving while a check runs share its answer; no second
// check starts.
func TestReadinessCoalesces(t *testing.T) {
	var calls atomic.Int64
	started, release := make(chan struct{}), make(chan struct{})
	h := Readiness(func(ctx context.Context) error {
		if calls.Add(1) == 1 {
			close(started)
			<-release
		}
		return nil
	}, Config{}).(*readiness)

	const n = 8
	codes := make([]int, n)
	var wg sync.WaitGroup
	probe := func(i int) {
		defer wg.Done()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		codes[i] = rec.Code
	}
	wg.Add(n)
	go probe(0)
	<-started
	for i := 1; i < n; i++ {
		go probe(i)
	}
	// Wait until every other probe has joined the running check.
	for {
		h.mu.Lock()
		joined := h.joined
		h.mu.Unlock()
		if joined == n-1 || calls.Load() > 1 {
			break
		}
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if c := calls.Load(); c != 1 {
		t.Fatalf("%d checks for %d concurrent probes, want 1", c, n)
	}
	for i, c := range codes {
		if c != http.StatusOK {
			t.Fatalf("probe %d: %d", i, c)
		}
	}
}
