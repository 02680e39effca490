package passwordreset

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiterTokenBucket(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := newLimiter(RateLimit{Burst: 3, Interval: 10 * time.Minute}, 100)
	steps := []struct {
		at   time.Duration
		key  string
		want bool
	}{
		{0, "a", true}, {0, "a", true}, {0, "a", true},
		{0, "a", false}, // burst spent
		{0, "b", true},  // keys are independent
		{9 * time.Minute, "a", false},
		{10 * time.Minute, "a", true}, // one token refilled
		{10 * time.Minute, "a", false},
		{5 * time.Minute, "a", false}, // the clock going back refills nothing
		{10 * time.Hour, "a", true}, {10 * time.Hour, "a", true}, {10 * time.Hour, "a", true},
		{10 * time.Hour, "a", false}, // refills only up to the burst
	}
	for i, s := range steps {
		if got := l.allow(s.key, t0.Add(s.at)); got != s.want {
			t.Fatalf("step %d: allow(%q, +%v) = %v, want %v", i, s.key, s.at, got, s.want)
		}
	}
}

func TestLimiterBoundedKeys(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := newLimiter(RateLimit{Burst: 1, Interval: time.Minute}, 3)
	for i := range 3 {
		if !l.allow(fmt.Sprint(i), t0) {
			t.Fatalf("key %d refused with room left", i)
		}
	}
	if l.allow("new", t0) {
		t.Fatal("a new key was allowed with the table full of recent keys")
	}
	if !l.allow("new", t0.Add(time.Minute)) {
		t.Fatal("a new key was refused after the old keys' buckets refilled (they should be swept)")
	}
	if len(l.m) > 3 {
		t.Fatalf("limiter tracks %d keys, max 3", len(l.m))
	}
	off := newLimiter(RateLimit{Burst: -1}, 1)
	for range 5 {
		if !off.allow("k", t0) {
			t.Fatal("a limiter that is off refused")
		}
	}
}

func TestValidResetToken(t *testing.T) {
	tests := []struct {
		tok  string
		want bool
	}{
		{newToken(), true},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true},
		{"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", false},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", false},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0", false},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := validToken(tc.tok); got != tc.want {
			t.Fatalf("validToken(%q) = %v, want %v", tc.tok, got, tc.want)
		}
	}
}

func TestWords(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{time.Hour, "1 hour"},
		{2 * time.Hour, "2 hours"},
		{90 * time.Minute, "90 minutes"},
		{time.Minute, "1 minute"},
		{45 * time.Second, "45 seconds"},
		{1500 * time.Millisecond, "2 seconds"},
	}
	for _, tc := range tests {
		if got := words(tc.d); got != tc.want {
			t.Fatalf("words(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
