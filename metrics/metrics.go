// Package metrics exports the numbers of an identity server to Prometheus: requests by route
// and status with latency histograms, logins and sign-ups by provider, rate-limit and tarpit
// decisions, the password hasher's slot wait, the session cache, store errors and the
// password reset mail queue.
//
// The library packages know nothing of Prometheus: each offers a small hook, and a Metrics
// plugs into all of them. Wire it once, before serving:
//
//	m := metrics.New(metrics.Config{Providers: []string{"password", "guest", "firebase_phone"}})
//	pw, _ := password.New(password.Config{ObserveSlotWait: m.ObserveHashSlotWait})
//	st, _ := gormstore.OpenPostgres(dsn, gormstore.Config{ObserveError: m.ObserveStoreError})
//	limits, _ := ratelimit.New(ratelimit.Config{Observe: m.ObserveRateLimit})
//	id, _ := identity.New(identity.Config{Store: st, Hasher: pw, ...})
//	m.WatchIdentity(id)
//	m.WatchResetQueue(resetService)
//	api := httpadapter.New(id, httpadapter.Config{Observer: m, RateLimit: limits, ...})
//	go http.ListenAndServe("127.0.0.1:9090", m.Handler()) // a listener of its own
//
// Serve Handler on a listener of its own, reachable by Prometheus and not by API clients.
//
// # Metrics
//
//   - identity_http_requests_total{method,route,status}: answered requests. route is the
//     endpoint's pattern ("/users/{id}"), never the path a client sent; "(none)" when no
//     endpoint served the request (CORS preflights, 404, 405).
//   - identity_http_request_duration_seconds{method,route}: histogram of the time to answer.
//   - identity_logins_total{provider,outcome}: credential logins; outcome is success,
//     failure (wrong credentials) or error (any other refusal).
//   - identity_signups_total{provider}: accounts created (POST /users counts as "password").
//   - identity_ratelimit_decisions_total{action,decision}: the rate limits' verdicts (see
//     ratelimit.Decision), one per check: a login naming an account is checked twice, for
//     its volume and for its guess of the account's secret.
//   - identity_tarpit_delay_seconds: histogram of the delays the login tarpit imposed.
//   - identity_password_hash_slot_wait_seconds{outcome}: histogram of the waits for a
//     hashing slot; outcome is acquired, busy (refused after MaxWait) or canceled.
//   - identity_session_cache_hits_total, identity_session_cache_misses_total,
//     identity_session_cache_entries: the Identity's session cache (identity.Stats).
//   - identity_store_errors_total{op,kind}: unexpected database errors by store operation;
//     kind is unavailable (the database could not be reached) or other.
//   - identity_mail_queue_depth: password reset mails waiting for a worker.
//   - identity_notification_channel_up: 1 while the cross-instance notification channel is
//     connected, 0 while instances fall back to rechecking; only once WatchNotificationChannel
//     was called.
//
// Provider labels are limited to Config.Providers (anything else a client names is counted
// as "other"), methods to the standard HTTP methods; no label ever holds a token, a login, an
// email or an address. The registry also holds the Go runtime and process collectors.
package metrics

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/httpadapter"
	"github.com/identitykit/identity/passwordreset"
	"github.com/identitykit/identity/ratelimit"
)

// Config configures a Metrics. The zero value means every default.
type Config struct {
	// Providers are the provider names that may appear in the provider label (the Name of
	// every identity.Provider the Identity has); any other name a client sends is counted as
	// "other". Default "password" and "guest".
	Providers []string
	// RequestBuckets are the upper bounds (seconds) of the request duration histogram.
	// Default 5 ms to 10 s (prometheus.DefBuckets).
	RequestBuckets []float64
}

// Metrics holds the collectors of one server in a registry of its own. Its methods are the
// hooks of the library packages (see the package documentation); all are safe for
// concurrent use. It is an httpadapter.Observer.
type Metrics struct {
	reg       *prometheus.Registry
	providers map[string]bool

	requests    *prometheus.CounterVec
	durations   *prometheus.HistogramVec
	logins      *prometheus.CounterVec
	signUps     *prometheus.CounterVec
	decisions   *prometheus.CounterVec
	tarpit      prometheus.Histogram
	slotWait    *prometheus.HistogramVec
	storeErrors *prometheus.CounterVec
}

var _ httpadapter.Observer = (*Metrics)(nil)

// Label values.
const (
	otherLabel   = "other"
	noRouteLabel = "(none)"
)

// New returns a Metrics with its collectors registered.
func New(cfg Config) *Metrics {
	if len(cfg.Providers) == 0 {
		cfg.Providers = []string{"password", "guest"}
	}
	if len(cfg.RequestBuckets) == 0 {
		cfg.RequestBuckets = prometheus.DefBuckets
	}
	m := &Metrics{reg: prometheus.NewRegistry(), providers: map[string]bool{}}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "identity_http_requests_total",
		Help: "Requests answered by the API, by method, route pattern and status.",
	}, []string{"method", "route", "status"})
	m.durations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "identity_http_request_duration_seconds",
		Help:    "Time to answer an API request, by method and route pattern.",
		Buckets: cfg.RequestBuckets,
	}, []string{"method", "route"})
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "identity_logins_total",
		Help: "Credential logins by provider and outcome (success, failure: wrong credentials, error: any other refusal).",
	}, []string{"provider", "outcome"})
	m.signUps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "identity_signups_total",
		Help: "Accounts created, by provider.",
	}, []string{"provider"})
	m.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "identity_ratelimit_decisions_total",
		Help: "Rate-limit verdicts by action and decision.",
	}, []string{"action", "decision"})
	m.tarpit = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "identity_tarpit_delay_seconds",
		Help:    "Delays the login tarpit held attempts for.",
		Buckets: []float64{0.5, 1, 2, 4, 8, 16, 32, 64, 128, 300},
	})
	m.slotWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "identity_password_hash_slot_wait_seconds",
		Help:    "Time a password hash computation waited for a slot, by outcome (acquired, busy, canceled).",
		Buckets: []float64{0, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
	}, []string{"outcome"})
	m.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "identity_store_errors_total",
		Help: "Unexpected database errors by store operation and kind (unavailable, other).",
	}, []string{"op", "kind"})
	m.reg.MustRegister(m.requests, m.durations, m.logins, m.signUps, m.decisions, m.tarpit, m.slotWait, m.storeErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Every known label combination starts at zero, so that rates and ratios work from the
	// first scrape and every family is exported before its first event.
	for _, p := range append(cfg.Providers, otherLabel) {
		m.providers[p] = true
		m.signUps.WithLabelValues(p)
		for _, o := range []httpadapter.LoginOutcome{httpadapter.LoginSuccess, httpadapter.LoginFailure, httpadapter.LoginError} {
			m.logins.WithLabelValues(p, string(o))
		}
	}
	for _, a := range []ratelimit.Action{ratelimit.ActionLogin, ratelimit.ActionSession, ratelimit.ActionSignUp, ratelimit.ActionReset, ratelimit.ActionBlob} {
		for _, d := range []ratelimit.Decision{ratelimit.DecisionAllowed, ratelimit.DecisionRefused, ratelimit.DecisionTarpitFull,
			ratelimit.DecisionUnchecked, ratelimit.DecisionCanceled} {
			m.decisions.WithLabelValues(string(a), string(d))
		}
	}
	for _, o := range []string{"acquired", "busy", "canceled"} {
		m.slotWait.WithLabelValues(o)
	}
	return m
}

// Registry returns the registry the collectors are in, to add an application's own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest counts an answered API request (httpadapter.Observer).
func (m *Metrics) ObserveRequest(r httpadapter.RequestInfo) {
	route := noRouteLabel
	if _, path, ok := strings.Cut(r.Route, " "); ok {
		route = path
	}
	method := methodLabel(r.Method)
	m.requests.WithLabelValues(method, route, strconv.Itoa(r.Status)).Inc()
	m.durations.WithLabelValues(method, route).Observe(r.Duration.Seconds())
}

// methodLabel returns method when it is a standard HTTP method, else "other": the method is
// the client's word.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return otherLabel
}

// provider returns name when it is a configured provider, else "other".
func (m *Metrics) provider(name string) string {
	if m.providers[name] {
		return name
	}
	return otherLabel
}

// ObserveLogin counts a credential login (httpadapter.Observer).
func (m *Metrics) ObserveLogin(l httpadapter.LoginInfo) {
	outcome := l.Outcome
	switch outcome {
	case httpadapter.LoginSuccess, httpadapter.LoginFailure:
	default:
		outcome = httpadapter.LoginError
	}
	m.logins.WithLabelValues(m.provider(l.Provider), string(outcome)).Inc()
}

// ObserveSignUp counts an account created (httpadapter.Observer).
func (m *Metrics) ObserveSignUp(provider string) {
	m.signUps.WithLabelValues(m.provider(provider)).Inc()
}

// ObserveRateLimit counts a rate-limit decision; it is a ratelimit.Config.Observe.
func (m *Metrics) ObserveRateLimit(ev ratelimit.Event) {
	m.decisions.WithLabelValues(string(ev.Action), string(ev.Decision)).Inc()
	if ev.Decision == ratelimit.DecisionAllowed && ev.Delay > 0 {
		m.tarpit.Observe(ev.Delay.Seconds())
	}
}

// ObserveHashSlotWait records a password hashing slot wait; it is a
// password.Config.ObserveSlotWait.
func (m *Metrics) ObserveHashSlotWait(wait time.Duration, err error) {
	outcome := "acquired"
	switch {
	case err == nil:
	case errors.Is(err, identity.ErrBusy):
		outcome = "busy"
	default:
		outcome = "canceled"
	}
	m.slotWait.WithLabelValues(outcome).Observe(wait.Seconds())
}

// ObserveStoreError counts an unexpected database error of store operation op; it is a
// gormstore.Config.ObserveError. op should be a fixed name, as gormstore's are.
func (m *Metrics) ObserveStoreError(op string, err error) {
	kind := otherLabel
	if errors.Is(err, identity.ErrUnavailable) {
		kind = "unavailable"
	}
	m.storeErrors.WithLabelValues(op, kind).Inc()
}

// WatchIdentity exports id's session cache counters (identity.Identity.Stats), read at each
// scrape. Call it once.
func (m *Metrics) WatchIdentity(id *identity.Identity) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "identity_session_cache_hits_total",
			Help: "Session validations answered from the in-memory cache.",
		}, func() float64 { return float64(id.Stats().SessionCacheHits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "identity_session_cache_misses_total",
			Help: "Session validations that read the store (not cached, or due for a recheck).",
		}, func() float64 { return float64(id.Stats().SessionCacheMisses) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "identity_session_cache_entries",
			Help: "Sessions in the in-memory cache.",
		}, func() float64 { return float64(id.Stats().CachedSessions) }),
	)
}

// WatchResetQueue exports the depth of s's mail queue (passwordreset.Service.QueueDepth),
// read at each scrape. Call it once.
func (m *Metrics) WatchResetQueue(s *passwordreset.Service) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "identity_mail_queue_depth",
		Help: "Password reset mails waiting for a worker.",
	}, func() float64 { return float64(s.QueueDepth()) }))
}

// WatchNotificationChannel exports identity_notification_channel_up, read at each scrape
// from up: whether the channel that tells other instances about revoked sessions and
// changed users is connected (1), or down so that instances rely on rechecking the store
// (0). It is the hook for that channel's state; call it once.
func (m *Metrics) WatchNotificationChannel(up func() bool) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "identity_notification_channel_up",
		Help: "1 while the cross-instance notification channel is connected, 0 while it is down.",
	}, func() float64 {
		if up() {
			return 1
		}
		return 0
	}))
}
