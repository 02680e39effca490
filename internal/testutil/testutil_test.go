package testutil

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func TestClock(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := NewClock(start)
	c.Advance(90 * time.Second)
	if got, want := c.Now(), start.Add(90*time.Second); !got.Equal(want) {
		t.Fatalf("Now() = %v, want %v", got, want)
	}
}

func TestSleeper(t *testing.T) {
	var s Sleeper
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Sleep(ctx, time.Second); err != nil {
		t.Fatalf("Sleep on a live context: %v", err)
	}
	cancel()
	if err := s.Sleep(ctx, 2*time.Second); err != context.Canceled {
		t.Fatalf("Sleep on a cancelled context: %v, want context.Canceled", err)
	}
	if got := s.Take(); !slices.Equal(got, []time.Duration{time.Second, 2 * time.Second}) {
		t.Fatalf("Take() = %v", got)
	}
	if got := s.Take(); len(got) != 0 {
		t.Fatalf("second Take() = %v, want nothing", got)
	}
}

func TestLogBuffer(t *testing.T) {
	for _, tt := range []struct {
		name, written string
		n             int
		want          string
	}{
		{"shorter than n", "a\nb\n", 10, "a\nb\n"},
		{"cut at a line start", "first line\nsecond\nthird\n", 10, "...\nthird\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var l LogBuffer
			io.WriteString(&l, tt.written)
			if got := l.Tail(tt.n); got != tt.want {
				t.Fatalf("Tail(%d) = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
	var l LogBuffer
	l.Logger().Debug("hello", "k", "v")
	if !strings.Contains(l.String(), "level=DEBUG msg=hello k=v") || l.Len() != len(l.String()) {
		t.Fatalf("logged %q (Len %d)", l.String(), l.Len())
	}
	l.Reset()
	if l.String() != "" {
		t.Fatalf("after Reset: %q", l.String())
	}
}

func TestKeyServer(t *testing.T) {
	ks := NewKeyServer(t, "k1")
	get := func() (int, string) {
		t.Helper()
		resp, err := http.Get(ks.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(body), &set); code != 200 || err != nil || len(set.Keys) != 1 || set.Keys[0].KeyID != "k1" {
		t.Fatalf("key set: %d %s (%v)", code, body, err)
	}
	if !set.Keys[0].Valid() || !set.Keys[0].IsPublic() {
		t.Fatal("the published key is not a valid public key")
	}
	tok := SignJWS(t, jose.SigningKey{Algorithm: jose.RS256, Key: RSAKey(t, "k1")}, nil, []byte(`{"sub":"u"}`))
	obj, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if payload, err := obj.Verify(set.Keys[0].Key); err != nil || string(payload) != `{"sub":"u"}` {
		t.Fatalf("the token does not verify with the published key: %s, %v", payload, err)
	}
	ks.SetStatus(http.StatusServiceUnavailable)
	if code, _ := get(); code != http.StatusServiceUnavailable {
		t.Fatalf("SetStatus(503): got %d", code)
	}
	ks.SetStatus(http.StatusOK)
	ks.SetBody(`{"keys":[]}`)
	if _, body := get(); body != `{"keys":[]}` {
		t.Fatalf("SetBody: got %q", body)
	}
	if n := ks.Fetches(); n != 3 {
		t.Fatalf("Fetches() = %d, want 3", n)
	}
}

func TestGoroutines(t *testing.T) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		parkForGoroutinesTest(stop)
	}()
	// The goroutine may not have reached the function yet: poll with a deadline.
	var g []string
	for deadline := time.Now().Add(5 * time.Second); len(g) == 0 && time.Now().Before(deadline); g = Goroutines("testutil.parkForGoroutinesTest", "no such function") {
		runtime.Gosched()
	}
	if len(g) != 1 {
		t.Fatalf("found %d goroutines in parkForGoroutinesTest, want 1", len(g))
	}
	// Its stack names the test that started it ("created by ...TestGoroutines").
	if g := Goroutines("testutil.parkForGoroutinesTest", "testutil.TestGoroutines"); len(g) != 0 {
		t.Fatalf("the excepted goroutine was listed:\n%s", g[0])
	}
	close(stop)
	<-done
}

func parkForGoroutinesTest(stop chan struct{}) { <-stop }
