package main

import (
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func ds(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func TestPct(t *testing.T) {
	d := ds(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	tests := []struct {
		p    float64
		want time.Duration
	}{
		{0, time.Millisecond}, {10, time.Millisecond}, {50, 5 * time.Millisecond}, {51, 6 * time.Millisecond},
		{99, 10 * time.Millisecond}, {100, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := pct(d, tt.p); got != tt.want {
			t.Errorf("pct(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if pct(nil, 50) != 0 {
		t.Error("pct of nothing")
	}
}

func TestMannWhitneyAUC(t *testing.T) {
	tests := []struct {
		a, b []time.Duration
		want float64
	}{
		{ds(5, 6, 7), ds(1, 2, 3), 1},
		{ds(1, 2, 3), ds(5, 6, 7), 0},
		{ds(1, 2, 3), ds(1, 2, 3), 0.5},
		{ds(2), ds(1, 2, 3), 0.5},
		{ds(2, 4), ds(1, 3), 0.75},
	}
	for _, tt := range tests {
		if got := mannWhitneyAUC(tt.a, tt.b); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("mannWhitneyAUC(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestBootstrapMedianDiff(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	a, b := ds(10, 11, 12, 13, 14), ds(20, 21, 22, 23, 24)
	lo, hi := bootstrapMedianDiff(a, b, 500, r)
	if lo > hi || lo < -14*time.Millisecond || hi > -6*time.Millisecond {
		t.Fatalf("interval [%v, %v], want within [-14ms, -6ms]", lo, hi)
	}
}

func TestCheckErrorBody(t *testing.T) {
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		status int
		h      http.Header
		body   string
		ok     bool
	}{
		{503, hdr("Content-Type", "application/json; charset=utf-8", "Retry-After", "5"), `{"errors":["Service temporarily unavailable, retry later"]}`, true},
		{503, hdr("Content-Type", "application/json"), `{"errors":["x"]}`, false},
		{422, hdr("Content-Type", "application/json"), `{"errors":{"login":["is invalid"]}}`, true},
		{500, hdr("Content-Type", "text/plain"), `Internal Server Error`, false},
		{404, hdr("Content-Type", "application/json"), `{"error":"x"}`, false},
		{404, hdr("Content-Type", "application/json"), `{"errors":"x"}`, false},
	}
	for _, tt := range tests {
		res := &http.Response{StatusCode: tt.status, Header: tt.h}
		if got := checkErrorBody(res, []byte(tt.body)); (got == "") != tt.ok {
			t.Errorf("checkErrorBody(%d, %s) = %q, want ok %v", tt.status, tt.body, got, tt.ok)
		}
	}
}

func TestRedactArgs(t *testing.T) {
	got := strings.Join(redactArgs([]string{"-db", "postgres://bob:s3cret@db:5432/x", "-addr", ":0"}), " ")
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "postgres://bob:***@db:5432/x") {
		t.Fatalf("redactArgs: %s", got)
	}
}

func TestScanLog(t *testing.T) {
	f := filepath.Join(t.TempDir(), "server.log")
	log := "time=1 level=INFO msg=\"server: listening\"\n" +
		"time=2 level=WARN msg=\"identity: recording session activity failed\"\n" +
		"time=3 level=ERROR msg=\"httpadapter: internal error\"\n" +
		"goroutine 1 [running]:\n" +
		"\t/work/main/x.go:12 +0x1\n"
	if err := os.WriteFile(f, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	n, lines, err := scanLog(f, 0, 2)
	if err != nil || n != 3 || len(lines) != 2 || !strings.Contains(lines[0], "level=ERROR") {
		t.Fatalf("scanLog: %d %q %v", n, lines, err)
	}
	if n, _, _ := scanLog(f, int64(strings.Index(log, "time=3")), 5); n != 3 {
		t.Fatalf("from offset: %d", n)
	}
	if n, _, _ := scanLog(f, int64(strings.Index(log, "goroutine")), 5); n != 2 {
		t.Fatalf("from the stack: %d", n)
	}
}

func TestParseStat(t *testing.T) {
	line := "4242 (identity (server) x) S 1 4242 4242 0 -1 4194560 2803 0 0 0 1234 56 0 0 20 0 9 0 4415 1556766720 9000 18446744073709551615\n"
	u, s := parseStat(line)
	if u != 12340*time.Millisecond || s != 560*time.Millisecond {
		t.Fatalf("parseStat = %v, %v; want 12.34s, 560ms", u, s)
	}
	if u, s := parseStat("garbage"); u != 0 || s != 0 {
		t.Fatalf("parseStat(garbage) = %v, %v", u, s)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestMerge(t *testing.T) {
	a := &result{n: 2, window: time.Second, statuses: map[int]int{200: 2}, lat: ds(3, 1)}
	b := &result{n: 4, window: time.Second, statuses: map[int]int{200: 3, 503: 1}, lat: ds(2, 4, 6, 5), errs: 1}
	m := merge([]*result{a, b})
	if m.n != 6 || m.rate != 3 || m.statuses[200] != 5 || m.statuses[503] != 1 || m.errs != 1 || pct(m.lat, 50) != 3*time.Millisecond {
		t.Fatalf("merge: %+v", m)
	}
}
