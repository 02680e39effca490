package health_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity/health"
	"github.com/identitykit/identity/internal/testutil/testenv"
)

// serve sends method to h and returns the response and its body.
func serve(t *testing.T, h http.Handler, method string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, "/probe", nil))
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// wantProbe checks the status, the body's start and the headers every probe answer has.
func wantProbe(t *testing.T, res *http.Response, body string, status int, bodyStart string) {
	t.Helper()
	if res.StatusCode != status || !strings.HasPrefix(body, bodyStart) {
		t.Fatalf("got %d %q, want %d %q...", res.StatusCode, body, status, bodyStart)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q, want no-store", cc)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
}

// wantMethods checks that HEAD answers like GET without a body and that other methods are
// refused with 405 and Allow.
func wantMethods(t *testing.T, h http.Handler, status int) {
	t.Helper()
	res, body := serve(t, h, http.MethodHead)
	if res.StatusCode != status || body != "" {
		t.Fatalf("HEAD: %d %q, want %d and no body", res.StatusCode, body, status)
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions} {
		res, _ := serve(t, h, m)
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
			t.Fatalf("%s: %d, Allow %q; want 405 and Allow: GET, HEAD", m, res.StatusCode, res.Header.Get("Allow"))
		}
	}
}

func TestLiveness(t *testing.T) {
	h := health.Liveness()
	res, body := serve(t, h, http.MethodGet)
	wantProbe(t, res, body, http.StatusOK, "ok")
	wantMethods(t, h, http.StatusOK)
}

func TestReadiness(t *testing.T) {
	const secret = "postgres://u:hunter2@db/identity"
	var logs bytes.Buffer
	var checkErr error
	calls := 0
	h := health.Readiness(func(ctx context.Context) error {
		calls++
		if _, ok := ctx.Deadline(); !ok {
			t.Error("readiness check without a deadline")
		}
		return checkErr
	}, health.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	res, body := serve(t, h, http.MethodGet)
	wantProbe(t, res, body, http.StatusOK, "ok")
	wantMethods(t, h, http.StatusOK)

	checkErr = errors.New("store: table x is missing (" + secret + ")")
	for range 2 {
		res, body = serve(t, h, http.MethodGet)
		wantProbe(t, res, body, http.StatusServiceUnavailable, "not ready")
		if res.Header.Get("Retry-After") == "" {
			t.Fatal("503 without Retry-After")
		}
		if strings.Contains(body, "hunter2") || strings.Contains(body, "table x") {
			t.Fatalf("body tells the error: %q", body)
		}
	}
	wantMethods(t, h, http.StatusServiceUnavailable)
	// The error goes to the log, once while it lasts.
	if n := strings.Count(logs.String(), "table x is missing"); n != 1 {
		t.Fatalf("error logged %d times, want once:\n%s", n, logs.String())
	}
	checkErr = nil
	res, body = serve(t, h, http.MethodGet)
	wantProbe(t, res, body, http.StatusOK, "ok")
	if !strings.Contains(logs.String(), "ready again") {
		t.Fatalf("recovery not logged:\n%s", logs.String())
	}
	if calls == 0 {
		t.Fatal("check never called")
	}
}

// TestReadinessTimeout: a check that does not answer within Config.Timeout is a 503.
func TestReadinessTimeout(t *testing.T) {
	h := health.Readiness(func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}, health.Config{Timeout: time.Nanosecond})
	res, body := serve(t, h, http.MethodGet)
	wantProbe(t, res, body, http.StatusServiceUnavailable, "not ready: check timed out")
}

// TestReadinessIdentity: the probe of an Identity on a gormstore answers 200 while the
// database serves and 503 once it is closed.
func TestReadinessIdentity(t *testing.T) {
	st := testenv.Store(t)
	id := testenv.Identity(t, st)
	h := health.Readiness(id.Ready, health.Config{})
	res, body := serve(t, h, http.MethodGet)
	wantProbe(t, res, body, http.StatusOK, "ok")
	st.Close()
	res, body = serve(t, h, http.MethodGet)
	wantProbe(t, res, body, http.StatusServiceUnavailable, "not ready")
}
