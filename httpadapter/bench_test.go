package httpadapter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/provider/password"
	"github.com/identitykit/identity/ratelimit"
)

// BenchmarkGetSession compares GET /session with a valid token against a bare handler that
// writes the same bytes (go test -bench GetSession ./httpadapter).
func BenchmarkGetSession(b *testing.B) {
	e := newEnv(b)
	tok, _ := e.userSession("john", "11111111")
	req := httptest.NewRequest("GET", "/session.json", nil)
	req.Header.Set("CB-Token", tok)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		b.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.Bytes()
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(body)
	})
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"adapter", e.h}, {"bare", bare}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					w := httptest.NewRecorder()
					bc.h.ServeHTTP(w, req)
				}
			})
		})
	}
}

// BenchmarkPasswordLoginLimits measures what the rate-limit policy adds to a password login
// (POST /session with the right password, production argon2id parameters): the volume, the
// account lookup that keys the tarpit on the user, the failure budget and both tarpits
// (go test -run '^$' -bench PasswordLoginLimits ./httpadapter). The cheap hasher (64 KiB, one
// pass) shows the policy's own cost, which argon2id hides.
func BenchmarkPasswordLoginLimits(b *testing.B) {
	prod, err := password.New(password.Config{})
	if err != nil {
		b.Fatal(err)
	}
	cheap, err := password.New(password.Config{Memory: 64, Iterations: 1})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		pw     *password.Provider
		limits bool
	}{{"argon2id/limits=off", prod, false}, {"argon2id/limits=on", prod, true}, {"cheap/limits=off", cheap, false}, {"cheap/limits=on", cheap, true}} {
		limits := bc.limits
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b, func(o *envOpt) {
				o.hasher = bc.pw
				o.cfg.InsecureNoRateLimit = !limits
				if limits {
					// Volumes high enough never to refuse; the lookups and counts still run.
					p, err := ratelimit.New(ratelimit.Config{Login: ratelimit.Rate{Burst: 1 << 30, Interval: time.Nanosecond}})
					if err != nil {
						b.Fatal(err)
					}
					o.cfg.RateLimit = p
				}
			})
			if _, err := e.id.SignUp(context.Background(), e.app.ID, identity.UserInput{Login: ptr("john"), Password: ptr("11111111")}); err != nil {
				b.Fatal(err)
			}
			body := e.loginBody("john", "11111111")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if r := e.do("POST", "/session.json", body); r.Code != 201 {
					b.Fatalf("status %d %s", r.Code, r.Body)
				}
			}
		})
	}
}
