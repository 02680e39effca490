package identity_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil"
	"github.com/identitykit/identity/internal/testutil/testenv"
	"github.com/identitykit/identity/provider/guest"
	"github.com/identitykit/identity/provider/password"
)

// newClock returns a settable test clock at the suite's start time.
func newClock() *testutil.Clock {
	return testutil.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
}

// countingStore counts the Store calls a hot path must avoid.
type countingStore struct {
	identity.Store
	sessionReads, userReads, touches, appReads atomic.Int64
}

func (c *countingStore) Application(ctx context.Context, id int64) (*identity.Application, error) {
	c.appReads.Add(1)
	return c.Store.Application(ctx, id)
}

func (c *countingStore) SessionByTokenHash(ctx context.Context, h []byte) (*identity.Session, error) {
	c.sessionReads.Add(1)
	return c.Store.SessionByTokenHash(ctx, h)
}

func (c *countingStore) User(ctx context.Context, appID, id int64) (*identity.User, error) {
	c.userReads.Add(1)
	return c.Store.User(ctx, appID, id)
}

func (c *countingStore) TouchSession(ctx context.Context, sid, uid int64, at, exp time.Time) error {
	c.touches.Add(1)
	return c.Store.TouchSession(ctx, sid, uid, at, exp)
}

func (c *countingStore) calls() int64 {
	return c.sessionReads.Load() + c.userReads.Load() + c.touches.Load()
}

// openStore returns a migrated store: SQLite in a temp dir, or PostgreSQL when pg is true
// (skipped without IDENTITY_TEST_POSTGRES_DSN).
func openStore(tb testing.TB, pg bool) identity.Store { return testenv.OpenStore(tb, pg) }

type env struct {
	id    *identity.Identity
	app   *identity.Application
	clock *testutil.Clock
	store *countingStore
	pw    *password.Provider
}

// cheapPasswords uses small argon2id parameters so that tests run fast.
func cheapPasswords(tb testing.TB) *password.Provider { return testenv.Passwords(tb) }

func newEnv(tb testing.TB, settings identity.AppSettings, mod ...func(*identity.Config)) *env {
	tb.Helper()
	return newEnvWith(tb, openStore(tb, false), cheapPasswords(tb), settings, mod...)
}

func newEnvWith(tb testing.TB, st identity.Store, pw *password.Provider, settings identity.AppSettings, mod ...func(*identity.Config)) *env {
	tb.Helper()
	e := &env{clock: newClock(), store: &countingStore{Store: st}, pw: pw}
	gp, err := guest.New(guest.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := identity.Config{
		Store:     e.store,
		Hasher:    pw,
		Providers: []identity.Provider{pw, gp},
		Now:       e.clock.Now,
	}
	for _, m := range mod {
		m(&cfg)
	}
	id, err := identity.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	e.id = id
	e.app, err = id.CreateApplication(context.Background(), "test", settings)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func (e *env) userSession(tb testing.TB, login, pw string) *identity.Session {
	tb.Helper()
	return testenv.Session(tb, e.id, e.app, login, pw)
}

func ptr[T any](v T) *T { return &v }

func appSession(t *testing.T, e *env) *identity.Session {
	t.Helper()
	return testenv.Session(t, e.id, e.app, "", "")
}

// wantIs and wantField check an error's sentinel and field (see testenv).
var (
	wantIs    = testenv.WantIs
	wantField = testenv.WantField
)
