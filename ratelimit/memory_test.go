package ratelimit_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/identitykit/identity/ratelimit"
	"github.com/identitykit/identity/ratelimit/limitertest"
)

func TestMemoryConformance(t *testing.T) {
	limitertest.Run(t, func(t *testing.T) ratelimit.Limiter {
		m, err := ratelimit.NewMemory(ratelimit.MemoryConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return m
	})
}

func TestNewMemoryConfig(t *testing.T) {
	if _, err := ratelimit.NewMemory(ratelimit.MemoryConfig{MaxKeys: -1}); err == nil {
		t.Fatal("negative MaxKeys accepted")
	}
	m, err := ratelimit.NewMemory(ratelimit.MemoryConfig{MaxKeys: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := ratelimit.Rate{Burst: 1, Interval: time.Hour}
	ctx := context.Background()
	now := time.Unix(1e9, 0)
	for _, k := range []string{"a", "b", "c"} {
		if res, err := m.Take(ctx, k, r, 1, now); err != nil || !res.Allowed {
			t.Fatalf("take %s: %+v %v", k, res, err)
		}
	}
	if m.Len() != 1 {
		t.Fatalf("Len %d with MaxKeys 1", m.Len())
	}
}

func TestMemoryRejectsInvalidRate(t *testing.T) {
	m, _ := ratelimit.NewMemory(ratelimit.MemoryConfig{})
	for _, r := range []ratelimit.Rate{{}, {Burst: 1}, {Interval: time.Second}, {Burst: -1, Interval: time.Second}, {Burst: 1 << 40, Interval: time.Hour}} {
		if _, err := m.Take(context.Background(), "k", r, 1, time.Now()); err == nil {
			t.Errorf("Rate %+v accepted", r)
		}
	}
}

// TestMemoryBound floods a Memory with ten times MaxKeys distinct keys: it never holds more
// than MaxKeys buckets, and the heap does not grow with the flood.
func TestMemoryBound(t *testing.T) {
	const max = 10000
	m, err := ratelimit.NewMemory(ratelimit.MemoryConfig{MaxKeys: max})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := ratelimit.Rate{Burst: 5, Interval: time.Hour}
	now := time.Unix(1e9, 0)
	flood := func(round int) {
		for i := 0; i < 10*max; i++ {
			if _, err := m.Take(ctx, fmt.Sprintf("v:login:%d:%d", round, i), r, 1, now); err != nil {
				t.Fatal(err)
			}
			if i%1000 == 0 && m.Len() > max {
				t.Fatalf("Len %d > MaxKeys %d after %d keys", m.Len(), max, i)
			}
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	flood(0)
	after1 := heap()
	for round := 1; round <= 3; round++ {
		flood(round)
	}
	after4 := heap()
	if m.Len() > max {
		t.Fatalf("Len %d > MaxKeys %d", m.Len(), max)
	}
	// Three more floods of 100 000 keys each must not add the memory of 300 000 buckets
	// (about 60 MB); allow 4 MB of noise.
	if after4 > after1+4<<20 {
		t.Fatalf("heap grew from %d to %d bytes over three more floods", after1, after4)
	}
	t.Logf("heap with %d buckets held: %d KiB", m.Len(), after4>>10)
}

// TestMemoryEvictsLeastRecentlyUsed: under a flood, a bucket in use survives and a bucket
// idle since before the flood is forgotten.
func TestMemoryEvictsLeastRecentlyUsed(t *testing.T) {
	m, _ := ratelimit.NewMemory(ratelimit.MemoryConfig{MaxKeys: 32 * 4})
	ctx := context.Background()
	r := ratelimit.Rate{Burst: 3, Interval: time.Hour}
	now := time.Unix(1e9, 0)
	m.Take(ctx, "idle", r, 3, now)
	m.Take(ctx, "hot", r, 3, now)
	for i := 0; i < 10000; i++ {
		m.Take(ctx, fmt.Sprint("flood", i), r, 1, now)
		if i%4 == 0 {
			if res, _ := m.Take(ctx, "hot", r, 0, now); res.Count() != 3 {
				t.Fatalf("hot bucket forgotten after %d flood keys", i)
			}
		}
	}
	if res, _ := m.Take(ctx, "idle", r, 0, now); res.Count() != 0 {
		t.Fatalf("idle bucket still held: %+v", res)
	}
}

// TestMemoryForgetsDrained: a bucket that drained, or was given back to empty, is removed.
func TestMemoryForgetsDrained(t *testing.T) {
	m, _ := ratelimit.NewMemory(ratelimit.MemoryConfig{MaxKeys: 1000})
	ctx := context.Background()
	r := ratelimit.Rate{Burst: 3, Interval: time.Second}
	now := time.Unix(1e9, 0)
	m.Take(ctx, "a", r, 2, now)
	m.Take(ctx, "a", r, -2, now)
	if m.Len() != 0 {
		t.Fatalf("Len %d after giving everything back", m.Len())
	}
	m.Take(ctx, "b", r, 1, now)
	m.Take(ctx, "b", r, 0, now.Add(2*time.Second))
	if m.Len() != 0 {
		t.Fatalf("Len %d after touching a drained bucket", m.Len())
	}
	m.Take(ctx, "c", r, 0, now)
	if m.Len() != 0 {
		t.Fatalf("Len %d after reading a missing key", m.Len())
	}
}

// TestMemorySweepsDrained: drained buckets nobody touches again are swept as new keys arrive.
func TestMemorySweepsDrained(t *testing.T) {
	m, _ := ratelimit.NewMemory(ratelimit.MemoryConfig{})
	ctx := context.Background()
	r := ratelimit.Rate{Burst: 3, Interval: time.Second}
	now := time.Unix(1e9, 0)
	for i := 0; i < 100; i++ {
		m.Take(ctx, fmt.Sprint("old", i), r, 1, now)
	}
	later := now.Add(time.Hour)
	for i := 0; i < 1000; i++ {
		m.Take(ctx, fmt.Sprint("new", i), r, 1, later)
	}
	if m.Len() != 1000 {
		t.Fatalf("Len %d, want the 1000 live buckets only", m.Len())
	}
}
