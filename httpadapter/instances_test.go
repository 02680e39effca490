package httpadapter_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/httpadapter"
	"github.com/identitykit/identity/internal/testutil"
	"github.com/identitykit/identity/internal/testutil/testenv"
	"github.com/identitykit/identity/ratelimit"
	"github.com/identitykit/identity/ratelimit/redislimit"
	"github.com/identitykit/identity/store/gormstore"
)

// TestTwoInstancesOnePostgres runs two complete server instances (each its own Identity, its
// own connection pool and its own adapter, as two processes would have) on one PostgreSQL
// database, with one injected clock:
//   - a session created on one validates on the other;
//   - a session revoked, and a user deleted, on one is refused on the other once
//     identity.Config.RecheckInterval (the documented bound, default 5 s) has passed since
//     the other last read it from the database;
//   - with the Redis limiter, the rate limits of one client address hold across both.
//
// It runs when IDENTITY_TEST_POSTGRES_DSN is set; the rate-limit part also needs Redis
// (IDENTITY_TEST_REDIS_ADDR, default 127.0.0.1:6379; skipped when unreachable unless the
// variable is set).
func TestTwoInstancesOnePostgres(t *testing.T) {
	stA, stB, prefix := twoPostgresStores(t)
	ctx := context.Background()
	clk := testutil.NewClock(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	const recheck = 5 * time.Second // identity.Config.RecheckInterval's default
	pw := testenv.Passwords(t)
	logs := &testutil.LogBuffer{}
	newInstance := func(st *gormstore.Store, cfg httpadapter.Config) *env {
		log := slog.New(slog.NewTextHandler(logs, nil))
		id, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw}, Now: clk.Now, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Logger = log
		return &env{t: t, id: id, clock: clk, store: st, logs: logs, h: httpadapter.New(id, cfg)}
	}
	a := newInstance(stA, httpadapter.Config{InsecureNoRateLimit: true})
	b := newInstance(stB, httpadapter.Config{InsecureNoRateLimit: true})
	app, err := a.id.CreateApplication(ctx, "two instances", identity.AppSettings{DenyAutoCreate: true})
	if err != nil {
		t.Fatal(err)
	}
	a.app, b.app = app, app
	signUp := func(e *env, login string) {
		t.Helper()
		wantStatus(t, e.do("POST", "/users.json", `{"user":{"login":"`+login+`","password":"11111111"}}`, "CB-AuthKey: "+app.AuthKey), 201, "")
	}
	get := func(e *env, token string) int {
		t.Helper()
		r := e.do("GET", "/session.json", "", "CB-Token: "+token)
		if r.Code != 200 && r.Code != 401 {
			t.Fatalf("GET /session: %d %s", r.Code, r.Body)
		}
		return r.Code
	}

	t.Run("session created on one validates on the other", func(t *testing.T) {
		signUp(a, "alice")
		tok, uid := a.userSession("alice", "11111111")
		r := b.do("GET", "/session.json", "", "CB-Token: "+tok)
		if r.Code != 200 || int64(session(t, r)["user_id"].(float64)) != uid {
			t.Fatalf("on B: %d %s", r.Code, r.Body)
		}
		// And the other way round, for a session created on B.
		tokB, _ := b.userSession("alice", "11111111")
		if c := get(a, tokB); c != 200 {
			t.Fatalf("B's session on A: %d", c)
		}
	})

	t.Run("revoked session refused on the other within RecheckInterval", func(t *testing.T) {
		tok, _ := a.userSession("alice", "11111111")
		if c := get(b, tok); c != 200 { // B now trusts it from memory
			t.Fatalf("on B before: %d", c)
		}
		wantStatus(t, a.do("DELETE", "/session.json", "", "CB-Token: "+tok), 200, "")
		if c := get(a, tok); c != 401 {
			t.Fatalf("on A after revoking: %d (changes through this instance take effect at once)", c)
		}
		clk.Advance(recheck)
		if c := get(b, tok); c != 401 {
			t.Fatalf("on B %s after revoking on A: %d, want 401", recheck, c)
		}
	})

	t.Run("deleted user refused on the other within RecheckInterval", func(t *testing.T) {
		signUp(b, "bob")
		tokA, uid := a.userSession("bob", "11111111")
		tokB, _ := b.userSession("bob", "11111111")
		if c := get(b, tokB); c != 200 {
			t.Fatalf("on B before: %d", c)
		}
		wantStatus(t, a.do("DELETE", fmt.Sprintf("/users/%d.json", uid), "", "CB-Token: "+tokA), 200, "")
		clk.Advance(recheck)
		if c := get(b, tokB); c != 401 {
			t.Fatalf("on B %s after deleting the user on A: %d, want 401", recheck, c)
		}
		// The user cannot log in on either.
		for _, e := range []*env{a, b} {
			r := e.do("POST", "/session.json", e.sessionBody(`,"user":{"login":"bob","password":"11111111"}`))
			wantStatus(t, r, 401, `{"errors":["Unauthorized"]}`)
		}
	})

	t.Run("rate limits hold across both with Redis", func(t *testing.T) {
		addr := os.Getenv("IDENTITY_TEST_REDIS_ADDR")
		if addr == "" {
			addr = "127.0.0.1:6379"
		}
		newPolicy := func() *ratelimit.Policy {
			rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second})
			t.Cleanup(func() { rdb.Close() })
			if err := rdb.Ping(ctx).Err(); err != nil {
				if os.Getenv("IDENTITY_TEST_REDIS_ADDR") != "" {
					t.Fatalf("no Redis at IDENTITY_TEST_REDIS_ADDR=%s: %v", addr, err)
				}
				t.Skipf("no Redis at %s (set IDENTITY_TEST_REDIS_ADDR to require one): %v", addr, err)
			}
			rp := fmt.Sprintf("identity-test:inst:%s", prefix)
			t.Cleanup(func() {
				if keys, err := rdb.Keys(ctx, rp+"*").Result(); err == nil && len(keys) > 0 {
					rdb.Del(ctx, keys...)
				}
			})
			lim, err := redislimit.New(rdb, redislimit.Config{Prefix: rp})
			if err != nil {
				t.Fatal(err)
			}
			p, err := ratelimit.New(ratelimit.Config{
				Limiter:       lim,
				SignUp:        ratelimit.Rate{Burst: 3, Interval: time.Hour},
				LoginFailures: ratelimit.Rate{Burst: 4, Interval: time.Hour},
				TarpitAfter:   100,
				Now:           clk.Now,
				Sleep:         func(context.Context, time.Duration) error { return nil },
				Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		la := newInstance(stA, httpadapter.Config{RateLimit: newPolicy()})
		lb := newInstance(stB, httpadapter.Config{RateLimit: newPolicy()})
		la.app, lb.app = app, app
		const client = "198.51.100.7:40000"
		signUpFrom := func(e *env, login string) *resp {
			return e.from(client, "POST", "/users.json", `{"user":{"login":"`+login+`","password":"11111111"}}`, "CB-AuthKey: "+app.AuthKey)
		}
		// Three sign-ups from one address across both instances fill the burst of 3.
		for i, e := range []*env{la, lb, la} {
			wantStatus(t, signUpFrom(e, fmt.Sprintf("carol%d", i)), 201, "")
		}
		for _, e := range []*env{lb, la} {
			if r := signUpFrom(e, "carol9"); r.Code != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
				t.Fatalf("fourth sign-up: %d %s", r.Code, r.Body)
			}
		}
		// The failed-login budget of 4 is spent across both; then even the right password
		// is refused from that address, on either instance.
		for i, e := range []*env{la, lb, la, lb} {
			r := e.from(client, "POST", "/session.json", e.loginBody("carol0", fmt.Sprintf("wrong-%d", i)))
			wantStatus(t, r, 401, `{"errors":["Unauthorized"]}`)
		}
		for _, e := range []*env{la, lb} {
			if r := e.from(client, "POST", "/session.json", e.loginBody("carol0", "11111111")); r.Code != http.StatusTooManyRequests {
				t.Fatalf("login after the budget is spent: %d %s", r.Code, r.Body)
			}
		}
		// Another address is not affected.
		r := lb.from("203.0.113.9:1234", "POST", "/session.json", lb.loginBody("carol0", "11111111"))
		wantStatus(t, r, 201, "")
	})
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("errors logged:\n%s", logs.String())
	}
}

// twoPostgresStores opens two stores on the database of IDENTITY_TEST_POSTGRES_DSN (each its
// own connection pool, as two processes would have; both migrate, as two processes starting
// would) under a new table prefix, whose tables are dropped when t ends. It skips t without
// the variable.
func twoPostgresStores(t *testing.T) (a, b *gormstore.Store, prefix string) {
	dsn := os.Getenv("IDENTITY_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("set IDENTITY_TEST_POSTGRES_DSN to run the two-instance tests on PostgreSQL")
	}
	ctx := context.Background()
	prefix = fmt.Sprintf("inst%d_%d_", os.Getpid(), time.Now().UnixNano()%1e9)
	open := func() *gormstore.Store {
		st, err := gormstore.OpenPostgres(dsn, gormstore.Config{TablePrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return st
	}
	a, b = open(), open()
	t.Cleanup(func() {
		var tables []string
		a.DB().Raw("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE ?", prefix+"%").Scan(&tables)
		for _, tbl := range tables {
			if strings.HasPrefix(tbl, prefix) {
				a.DB().Exec(`DROP TABLE IF EXISTS "` + tbl + `" CASCADE`)
			}
		}
	})
	return a, b, prefix
}
