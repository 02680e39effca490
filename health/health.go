// Package health serves the liveness and readiness probes of a server built on identity, for
// load balancers and orchestrators (Kubernetes livenessProbe and readinessProbe, for example):
//
//	mux.Handle("/healthz", health.Liveness())
//	mux.Handle("/readyz", health.Readiness(id.Ready, health.Config{Logger: log}))
//
// The two are separate handlers, without paths of their own, so that they can be mounted at
// whatever paths a platform expects, under any prefix and on any listener (next to the API or
// on an internal one). They are not part of the ConnectyCube API and do not need the HTTP
// adapter.
//
// Both answer GET and HEAD (405 with Allow otherwise) with a short plain-text body and
// Cache-Control: no-store, and never a 500. Neither authenticates the caller, and the
// readiness body never carries the reason of a failure (which may name the database server),
// only whether the check failed or timed out; the reason goes to Config.Logger.
package health

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// defaultTimeout is the Config.Timeout used when it is 0.
const defaultTimeout = 2 * time.Second

// retryAfter is the Retry-After of a 503, in seconds.
const retryAfter = "5"

// Config configures Readiness.
type Config struct {
	// Timeout bounds each readiness check: a check still running then is a failure. Default
	// 2 s.
	Timeout time.Duration
	// Logger receives, at slog.LevelWarn, the error of a failed check when it differs from the
	// previous one (so a lasting failure is logged once, not at every probe), and, at
	// slog.LevelInfo, the first success after a failure. Default: nothing is logged.
	Logger *slog.Logger
}

// Liveness returns the liveness probe handler: 200 "ok" whenever the process can answer
// HTTP. It does no I/O, so that a slow database never makes an orchestrator restart a
// process that would recover on its own.
func Liveness() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allowed(w, r) {
			reply(w, r, http.StatusOK, "ok\n")
		}
	})
}

// Readiness returns the readiness probe handler: 200 "ok" when check (typically
// (*identity.Identity).Ready) returns nil within cfg.Timeout, else 503 with Retry-After and a
// body starting "not ready". A panicking check is a failure too. Requests that arrive while a
// check is running wait for its answer instead of starting another, so that probes cannot
// multiply the load on the database; a request gone before the answer gets none.
func Readiness(check func(context.Context) error, cfg Config) http.Handler {
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	return &readiness{check: check, cfg: cfg}
}

type readiness struct {
	check func(context.Context) error
	cfg   Config

	mu      sync.Mutex
	running *run   // the check in flight, nil when none
	joined  int    // requests that waited for a check they did not start (for tests)
	lastErr string // error text of the last check ("" after a success)
	failed  bool   // the last check failed
}

// run is one check, shared by the requests that arrive while it runs.
type run struct {
	done chan struct{}
	err  error
}

func (h *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !allowed(w, r) {
		return
	}
	h.mu.Lock()
	c := h.running
	if c == nil {
		c = &run{done: make(chan struct{})}
		h.running = c
		go h.run(r.Context(), c)
	} else {
		h.joined++
	}
	h.mu.Unlock()
	select {
	case <-c.done:
	case <-r.Context().Done():
		return
	}
	switch {
	case c.err == nil:
		reply(w, r, http.StatusOK, "ok\n")
	case errors.Is(c.err, context.DeadlineExceeded):
		w.Header().Set("Retry-After", retryAfter)
		reply(w, r, http.StatusServiceUnavailable, "not ready: check timed out\n")
	default:
		w.Header().Set("Retry-After", retryAfter)
		reply(w, r, http.StatusServiceUnavailable, "not ready: check failed\n")
	}
}

// run runs the check for c with its own deadline (the request that started it may leave
// before the others), records and logs the outcome, and releases the waiters.
func (h *readiness) run(reqCtx context.Context, c *run) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(reqCtx), h.cfg.Timeout)
	defer cancel()
	c.err = h.safeCheck(ctx)
	if c.err != nil && ctx.Err() != nil {
		// Whatever the check made of it, it ran out of time.
		c.err = errors.Join(c.err, context.DeadlineExceeded)
	}
	h.mu.Lock()
	h.running = nil
	h.record(ctx, c.err)
	h.mu.Unlock()
	close(c.done)
}

func (h *readiness) safeCheck(ctx context.Context) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = errors.New("health: readiness check panicked")
		}
	}()
	return h.check(ctx)
}

// record logs a change of the outcome; h.mu is held.
func (h *readiness) record(ctx context.Context, err error) {
	log := h.cfg.Logger
	if err == nil {
		if h.failed && log != nil {
			log.InfoContext(ctx, "health: ready again")
		}
		h.failed, h.lastErr = false, ""
		return
	}
	if msg := err.Error(); !h.failed || msg != h.lastErr {
		if log != nil {
			log.WarnContext(ctx, "health: not ready", "err", msg)
		}
		h.failed, h.lastErr = true, msg
	}
}

// allowed answers 405 to methods other than GET and HEAD and reports whether r may go on.
func allowed(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	reply(w, r, http.StatusMethodNotAllowed, "method not allowed\n")
	return false
}

// reply writes a plain-text answer that no cache keeps; HEAD gets the headers only.
func reply(w http.ResponseWriter, r *http.Request, status int, body string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write([]byte(body))
	}
}
