package identity_test

import (
	"context"
	"testing"
	"time"

	"github.com/identitykit/identity"
)

// TestStats: a validation answered from the cache is a hit; an unknown token, and a cached
// session older than RecheckInterval, are misses (they read the Store).
func TestStats(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	ctx := context.Background()
	if st := e.id.Stats(); st != (identity.Stats{}) {
		t.Fatalf("fresh Identity: %+v", st)
	}
	s := e.userSession(t, "stats", "password1")
	want := func(step string, hits, misses uint64) {
		t.Helper()
		st := e.id.Stats()
		if st.SessionCacheHits != hits || st.SessionCacheMisses != misses || st.CachedSessions != 1 {
			t.Fatalf("%s: %+v, want %d hits, %d misses, 1 cached session", step, st, hits, misses)
		}
	}
	want("after the login", 0, 0)
	for i := 0; i < 3; i++ {
		if _, err := e.id.Validate(ctx, s.Token); err != nil {
			t.Fatal(err)
		}
	}
	want("three validations", 3, 0)
	if _, err := e.id.Validate(ctx, "no-such-token"); err == nil {
		t.Fatal("unknown token validated")
	}
	want("unknown token", 3, 1)
	e.clock.Advance(6 * time.Second) // past the default RecheckInterval of 5 s
	if _, err := e.id.Validate(ctx, s.Token); err != nil {
		t.Fatal(err)
	}
	want("recheck", 3, 2)
}
