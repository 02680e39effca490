// Command server runs the identity HTTP adapter as a standalone ConnectyCube-compatible
// auth and users API:
//
//	go run ./examples/server
//
// It listens on :8080 with SQLite in ./identity.db and uploaded files (avatars) in ./blobs,
// applies the pending schema migrations (creating the tables on first start), and on first
// start creates an application, with the application settings of the flags, whose id, auth
// key and auth secret it prints; later starts reuse the first application of the database
// (and print its id and auth key) and serve every other one too. Every setting is a flag
// with an IDENTITY_* environment variable; flags win over the environment. Run with --help
// for the list. After the first start the database holds the application settings: a
// settings flag that disagrees with the stored value is logged as a warning and not applied.
// GET /healthz answers 200 while the process runs; GET /readyz answers 200
// while the database answers and is migrated, else 503. With -metrics-addr it serves
// Prometheus metrics (package metrics) at /metrics on a listener of its own, never on the API
// listener; docs/grafana-dashboard.json shows them. Instances sharing a PostgreSQL database
// tell each other of revocations and changes through LISTEN/NOTIFY, or through Redis pub/sub
// with -redis-url. SIGINT or SIGTERM shuts it down gracefully.
//
// Schema migrations can also be listed and applied on their own, before starting (or
// upgrading) instances that run with -no-migrate, which refuse to start while one is
// pending:
//
//	server migrate status [-db ...] [-table-prefix ...] [-json]
//	server migrate up [-db ...] [-table-prefix ...]
//
// Applications, their settings and their users are managed from the command line, on the
// same database, while the server runs or not (a running server applies a change within
// -recheck-interval); "server apps -help" and "server users -help" list the commands:
//
//	server apps list|create|show|set|rename|rotate-keys|delete ...
//	server users find|block|unblock|delete|sessions|revoke-sessions ...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/health"
	"github.com/identitykit/identity/httpadapter"
	"github.com/identitykit/identity/passwordreset"
	"github.com/identitykit/identity/provider/guest"
	"github.com/identitykit/identity/provider/password"
	"github.com/identitykit/identity/ratelimit"
	"github.com/identitykit/identity/store/gormstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if len(os.Args) > 1 && os.Args[1] == "migrate" {
		code := runMigrate(ctx, os.Args[2:], os.Getenv, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	if len(os.Args) > 1 && (os.Args[1] == "apps" || os.Args[1] == "users") {
		code := runCLI(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	defer stop()
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(exitOK)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(exitUsage)
	}
	log := newLogger(cfg, os.Stderr)
	if err := run(ctx, cfg, log, os.Stdout, nil); err != nil {
		log.Error("server: stopped with an error", "err", err)
		os.Exit(exitError)
	}
}

// run serves until ctx is done, then shuts down gracefully. out receives the credentials
// banner; ready, when not nil, is called with the listening address once the server accepts
// connections.
func run(ctx context.Context, cfg *config, log *slog.Logger, out io.Writer, ready func(addr string)) error {
	// Listen first: without -public-url the URL given to clients (upload URLs, reset links,
	// the banner) is derived from the address actually listened on.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	defer ln.Close()
	if cfg.PublicURL == "" {
		cfg.PublicURL = listenURL(cfg.Addr, ln.Addr().String())
		log.Info("server: -public-url is not set: upload URLs and password reset links use the URL derived from -addr; set -public-url to the URL clients reach this server at",
			"public_url", cfg.PublicURL)
	}
	external, err := cfg.Providers.providers(log)
	if err != nil {
		return err
	}
	m := newMetrics(cfg, external)
	cfg.metrics = m
	defer func() { cfg.metrics = nil }()
	st, err := openStore(cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := prepareSchema(ctx, cfg, st, log); err != nil {
		return err
	}
	pwCfg := password.Config{}
	if m != nil {
		pwCfg.ObserveSlotWait = m.ObserveHashSlotWait
	}
	pw, err := password.New(pwCfg)
	if err != nil {
		return err
	}
	blobs, closeBlobs, err := openBlobs(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeBlobs()
	reset, err := cfg.resetConfig(log)
	if err != nil {
		return err
	}
	limits, sharedLimiter, closeLimits, err := newRateLimit(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeLimits()
	if sharedLimiter != nil {
		// The password reset limits per address and per client are shared through Redis too.
		reset.Limiter = ratelimit.ForReset(sharedLimiter)
	}
	gp, err := guest.New(guest.Config{})
	if err != nil {
		return err
	}
	notifier, closeNotifier, err := newNotifier(cfg, st, log)
	if err != nil {
		return err
	}
	defer closeNotifier()
	id, err := identity.New(identity.Config{
		Store:           st,
		Hasher:          pw,
		Providers:       append([]identity.Provider{pw, gp}, external...),
		Logger:          log,
		RecheckInterval: cfg.RecheckInterval,
		Notifier:        notifier,
	})
	if err != nil {
		return err
	}
	defer func() {
		// Stops listening for invalidations even when run fails below; after the shutdown
		// at the end, it has nothing left to wait for.
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		id.Shutdown(sctx)
	}()
	reset.Store = st
	resetService, err := passwordreset.New(id, reset)
	if err != nil {
		return err
	}
	files, err := newBlobs(id, st, blobs)
	if err != nil {
		return err
	}
	app, created, err := ensureApplication(ctx, id, cfg, log)
	if err != nil {
		return err
	}
	printBanner(out, cfg, app, created)

	stopJanitor := id.StartJanitor(cfg.JanitorInterval)
	defer stopJanitor()

	var observer httpadapter.Observer
	if m != nil {
		m.WatchIdentity(id)
		m.WatchResetQueue(resetService)
		if notifier != nil {
			m.WatchNotificationChannel(func() bool { return id.Stats().NotifierUp })
		}
		observer = m
	}
	api := httpadapter.New(id, httpadapter.Config{
		Observer:            observer,
		MaxBodyBytes:        cfg.MaxBodyBytes,
		AllowedOrigins:      cfg.CORSOrigins,
		Logger:              log,
		RateLimit:           limits,
		InsecureNoRateLimit: limits == nil,
		TrustedProxies:      cfg.TrustedProxies,
		ClientAddrHeader:    cfg.ClientAddrHeader,
		PublicURL:           cfg.PublicURL,
		Reset:               resetService,
		Blobs:               files,
	})
	var h http.Handler = api
	if cfg.AccessLog {
		h = accessLog(log, h)
	}
	srv := &http.Server{
		Handler:           withProbes(h, id, log),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("server: listening", "addr", ln.Addr().String(), "db", cfg.dbKind(), "application_id", app.ID)
	_, stopPprof, err := startPprof(cfg.PprofAddr, log)
	if err != nil {
		return err
	}
	defer stopPprof()
	metricsAddr, stopMetrics, err := startMetrics(cfg.MetricsAddr, m, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	if cfg.metricsBound != nil && metricsAddr != "" {
		cfg.metricsBound(metricsAddr)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	log.Info("server: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	// Send the reset mails still queued.
	if err := id.Shutdown(sctx); err != nil {
		log.Warn("server: password reset mails still queued at shutdown were not sent", "err", err)
	}
	return nil
}

// withProbes serves the liveness probe at /healthz and the readiness probe (database
// reachable and migrated) at /readyz, and every other path with api, unchanged. The probes
// stay out of the access log: an orchestrator calls them every few seconds.
func withProbes(api http.Handler, id *identity.Identity, log *slog.Logger) http.Handler {
	live := health.Liveness()
	ready := health.Readiness(id.Ready, health.Config{Logger: log})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			live.ServeHTTP(w, r)
		case "/readyz":
			ready.ServeHTTP(w, r)
		default:
			api.ServeHTTP(w, r)
		}
	})
}

// openStore opens SQLite at cfg.DB, or PostgreSQL when cfg.DB is a postgres:// URL.
func openStore(cfg *config, log *slog.Logger) (*gormstore.Store, error) {
	scfg := gormstore.Config{Logger: log, TablePrefix: cfg.TablePrefix}
	if cfg.metrics != nil {
		scfg.ObserveError = cfg.metrics.ObserveStoreError
	}
	if cfg.isPostgres() {
		return gormstore.OpenPostgres(cfg.DB, scfg)
	}
	return gormstore.OpenSQLite(cfg.DB, scfg)
}

// printBanner tells the operator how to reach the application. The auth secret, which only
// signing SDKs need, is printed when the application is created or with -show-secret.
func printBanner(out io.Writer, cfg *config, app *identity.Application, created bool) {
	verb := "Using"
	if created {
		verb = "Created"
	}
	fmt.Fprintf(out, "%s application %d (%s)\n", verb, app.ID, app.Name)
	fmt.Fprintf(out, "  application id: %d\n  auth key:       %s\n", app.ID, app.AuthKey)
	if created || cfg.ShowSecret {
		fmt.Fprintf(out, "  auth secret:    %s\n", app.AuthSecret)
	} else {
		fmt.Fprintf(out, "  auth secret:    (printed when created; run with -show-secret to print it again)\n")
	}
	fmt.Fprintf(out, "JavaScript SDK:\n  ConnectyCube.init({ appId: %d, authKey: %q }, { endpoints: { api_url: %q } });\n",
		app.ID, app.AuthKey, cfg.publicURL())
}

func newLogger(cfg *config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// accessLog logs one line per request: method, path (never the query, which may carry
// search terms), status and duration.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (c *config) isPostgres() bool {
	return strings.HasPrefix(c.DB, "postgres://") || strings.HasPrefix(c.DB, "postgresql://")
}

// dbKind names the database without its credentials.
func (c *config) dbKind() string {
	if c.isPostgres() {
		return "postgres"
	}
	return "sqlite:" + c.DB
}

// publicURL is the URL clients reach the server at: -public-url, which run sets from the
// listening address when it was not given.
func (c *config) publicURL() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	return listenURL(c.Addr, c.Addr)
}

// listenURL derives a URL for a local server from -addr and the address listened on: http,
// the host of addr (localhost when it names none or every interface) and the port of
// listened (the one chosen when addr asked for port 0).
func listenURL(addr, listened string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://localhost:8080"
	}
	if _, p, err := net.SplitHostPort(listened); err == nil {
		port = p
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
