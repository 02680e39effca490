package httpadapter_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
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
