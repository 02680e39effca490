package main

import (
	"log/slog"
	"net/http"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/metrics"
)

// newMetrics returns the server's Prometheus metrics when -metrics-addr is set, else nil. The
// provider label admits the names of the password and guest providers and of external.
func newMetrics(cfg *config, external []identity.Provider) *metrics.Metrics {
	if cfg.MetricsAddr == "" {
		return nil
	}
	names := []string{"password", "guest"}
	for _, p := range external {
		names = append(names, p.Name())
	}
	return metrics.New(metrics.Config{Providers: names})
}

// startMetrics serves m at /metrics on addr, on a listener and mux of its own (the API
// listener does not serve it), until stop is called, and returns the address it listens on.
// m nil starts nothing.
func startMetrics(addr string, m *metrics.Metrics, log *slog.Logger) (bound string, stop func(), err error) {
	if m == nil {
		return "", func() {}, nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	bound, stop, err = serveSide("-metrics-addr", addr, mux)
	if err == nil {
		log.Info("server: metrics on", "addr", bound)
	}
	return bound, stop, err
}
