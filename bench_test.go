package identity_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/provider/password"
)

func forEachDB(b *testing.B, f func(b *testing.B, st identity.Store)) {
	for _, db := range []struct {
		name string
		pg   bool
	}{{"sqlite", false}, {"postgres", true}} {
		b.Run(db.name, func(b *testing.B) { f(b, openStore(b, db.pg)) })
	}
}

// BenchmarkValidate measures token validation on the common path (cached, no Store round
// trip) and with a Store read on every call (RecheckInterval 1 ns), in parallel.
func BenchmarkValidate(b *testing.B) {
	forEachDB(b, func(b *testing.B, st identity.Store) {
		for _, mode := range []struct {
			name    string
			recheck time.Duration
		}{{"cached", 0}, {"store-read-every-call", time.Nanosecond}} {
			b.Run(mode.name, func(b *testing.B) {
				e := newEnvWith(b, st, cheapPasswords(b), identity.AppSettings{}, func(c *identity.Config) {
					c.RecheckInterval = mode.recheck
					c.Now = time.Now
				})
				s := e.userSession(b, "bench"+strconv.Itoa(b.N)+mode.name, "password1")
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := e.id.Validate(ctx, s.Token); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	})
}

// defaultCostEnv is an env on st with the password provider at its default argon2id
// parameters and the wall clock.
func defaultCostEnv(b *testing.B, st identity.Store) *env {
	b.Helper()
	pw, err := password.New(password.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return newEnvWith(b, st, pw, identity.AppSettings{}, func(c *identity.Config) { c.Now = time.Now })
}

// BenchmarkPasswordLogin measures a login/password session creation at the default argon2id
// parameters; compare with BenchmarkRawArgon2idCompare (same parameters, same cores).
func BenchmarkPasswordLogin(b *testing.B) {
	forEachDB(b, func(b *testing.B, st identity.Store) {
		e := defaultCostEnv(b, st)
		ctx := context.Background()
		login := "login" + strconv.FormatInt(time.Now().UnixNano(), 36)
		if _, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: &login, Password: ptr("correct horse battery")}); err != nil {
			b.Fatal(err)
		}
		req := identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
			Credentials: &identity.Credentials{Login: login, Password: "correct horse battery"}}
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := e.id.CreateSession(ctx, req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkRawArgon2idCompare is the baseline for BenchmarkPasswordLogin.
func BenchmarkRawArgon2idCompare(b *testing.B) {
	pw, _ := password.New(password.Config{})
	params := pw.Params()
	h, err := argon2id.CreateHash("correct horse battery", &params)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, _ := argon2id.ComparePasswordAndHash("correct horse battery", h); !ok {
				b.Error("no match")
				return
			}
		}
	})
}

// BenchmarkSignUp measures SignUp at the default argon2id parameters.
func BenchmarkSignUp(b *testing.B) {
	forEachDB(b, func(b *testing.B, st identity.Store) {
		e := defaultCostEnv(b, st)
		ctx := context.Background()
		prefix := "su" + strconv.FormatInt(time.Now().UnixNano(), 36)
		var n atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				login := prefix + strconv.FormatInt(n.Add(1), 10)
				if _, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: &login, Password: ptr("correct horse battery")}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
