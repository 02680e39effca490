package httpadapter

import (
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
	"github.com/identitykit/identity/passwordreset"
	"github.com/identitykit/identity/query"
	"github.com/identitykit/identity/ratelimit"
)

// Config configures the handler returned by New and the Middleware. The zero value means
// every default.
type Config struct {
	// MaxBodyBytes bounds request bodies; a larger body is answered 413. Default 1 MiB.
	MaxBodyBytes int64
	// AllowedOrigins lists the origins browsers may call the API from (CORS). "*" allows any
	// origin. Default ["*"]: the ConnectyCube API is called from any web page, and it is
	// authenticated by a header token, never by cookies.
	AllowedOrigins []string
	// Logger receives internal errors (500s, recovered panics). Default slog.Default().
	Logger *slog.Logger
	// RateLimit guards POST /session, POST /login, POST /users, password reset requests and
	// POST /blobs against brute force and floods (see ratelimit.Config for the rules and the defaults;
	// refused requests are 429 with Retry-After). Default: ratelimit.New with the zero
	// ratelimit.Config, which counts in this process's memory; instances of one deployment
	// should share one ratelimit.Policy over redislimit. Only New uses it.
	RateLimit *ratelimit.Policy
	// InsecureNoRateLimit turns RateLimit off, for load tests or when a proxy in front
	// enforces equivalent limits.
	InsecureNoRateLimit bool
	// TrustedProxies lists the reverse proxies (addresses or CIDR prefixes) whose
	// ClientAddrHeader is believed. Default none: the client address is the connection's
	// peer and no header is trusted. A connection without an IP address (a Unix socket) is
	// taken for a trusted proxy when the list is not empty.
	TrustedProxies []netip.Prefix
	// ClientAddrHeader is the header trusted proxies add the client address to, read from
	// the right (see the package documentation). Default "X-Forwarded-For"; "Forwarded"
	// (RFC 7239) and single-address headers such as "X-Real-IP" work too.
	ClientAddrHeader string
	// Blobs serves file storage (POST /blobs, the upload URL, GET /blobs/{uid}, ...): a
	// blob.Service built on the same Identity as the handler. nil (the default) turns the
	// endpoints off: they answer 403 "File storage is not configured on this server".
	Blobs *blob.Service
	// PublicURL is the absolute URL clients reach this handler at, mount prefix included
	// ("https://api.example.com/auth"); the upload URLs that POST /blobs returns start with
	// it. Set it whenever blobs are on (New logs a warning otherwise). Default: derived from
	// each request: https when the connection is TLS, the request's Host, and the prefix
	// http.StripPrefix removed; X-Forwarded-Proto and X-Forwarded-Host (their rightmost
	// entries) replace the scheme and host only when the peer is one of TrustedProxies.
	PublicURL string
	// Reset serves password reset by email: GET/POST /users/password/reset asks it for a
	// link, and the pages at /password_reset (the link's target) check the token and set
	// the new password with it. Default nil: reset is off; a request is answered 403 and
	// every link is invalid.
	Reset *passwordreset.Service
	// ResetPages replaces the password reset pages (GET and POST /password_reset). It must
	// define the templates "password_reset_form", "password_reset_done" and
	// "password_reset_invalid" (New panics otherwise); reset_pages.html, the default, documents
	// the data they get. Default: the built-in English pages.
	ResetPages *template.Template
	// Observer, when set, is told every request answered (route pattern, status, duration),
	// every credential login (provider, outcome) and every account created, for metrics:
	// metrics.New(...).HTTP() is one. Default nil: nothing is observed, at no cost.
	Observer Observer
}

const defaultMaxBodyBytes = 1 << 20

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = defaultMaxBodyBytes
	}
	if len(c.AllowedOrigins) == 0 {
		c.AllowedOrigins = []string{"*"}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// CORS header values.
const (
	corsAllowMethods  = "GET, POST, PUT, DELETE, OPTIONS"
	corsAllowHeaders  = "CB-Token, CB-SDK, CB-AuthKey, CB-OS, Content-Type, ConnectyCube-REST-API-Version, Authorization"
	corsExposeHeaders = "CB-Token-ExpirationDate, Date"
	corsMaxAge        = "86400"
)

// handler is the http.Handler returned by New.
type handler struct {
	id       *identity.Identity
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	anyOrig  bool
	origins  map[string]bool
	maxBody  int64
	patterns []string
	lim      *limits
	// resetPages are the password reset page templates (reset.go).
	resetPages *template.Template
	// obs is Config.Observer (observer.go); nil: none.
	obs Observer
}

// New returns the handler of the ConnectyCube REST endpoints over id (see the package
// documentation for the list). Paths are rooted at "/": mount it under a prefix with
// http.StripPrefix("/auth", New(id, cfg)) registered for "/auth/", or with chi's Mount.
// Every path also answers with a ".json" suffix.
func New(id *identity.Identity, cfg Config) http.Handler {
	if id == nil {
		panic("httpadapter: New called with a nil *identity.Identity")
	}
	cfg = cfg.withDefaults()
	h := &handler{
		id:      id,
		cfg:     cfg,
		log:     cfg.Logger,
		mux:     http.NewServeMux(),
		origins: map[string]bool{},
		maxBody: cfg.MaxBodyBytes,
		lim:     newLimits(cfg),
		obs:     cfg.Observer,
	}
	for _, o := range cfg.AllowedOrigins {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		if o == "*" {
			h.anyOrig = true
		}
		h.origins[strings.ToLower(o)] = true
	}
	h.routes()
	if cfg.Blobs != nil && cfg.PublicURL == "" {
		h.log.Warn("httpadapter: Config.PublicURL is not set: upload URLs are built from each request's Host and connection" +
			" (X-Forwarded-Proto and X-Forwarded-Host only from TrustedProxies); set PublicURL to the URL clients use")
	}
	return h
}

// auth says how an endpoint treats the session token.
type auth int

const (
	// authRequired: a valid CB-Token (or Authorization: Bearer) is required.
	authRequired auth = iota
	// authIgnored: any token is ignored (POST /session; SDKs send stale ones).
	authIgnored
	// authOptional: a token, when present, must be valid; without one the endpoint
	// authenticates otherwise (POST /users with CB-AuthKey).
	authOptional
)

// call is one request to an endpoint.
type call struct {
	w http.ResponseWriter
	r *http.Request
	// p holds the decoded query string and body.
	p params
	// s is the validated session (nil for authIgnored, and for authOptional without a token).
	s *identity.Session
	// token is the token the session was validated with.
	token string
	// beforeCreate, set by limited, is the Credentials.BeforeCreate of the request's
	// credentials: it charges the sign-up volume of the client.
	beforeCreate func(ctx context.Context) error
}

type endpointFunc func(ctx context.Context, c *call) error

// routes registers every endpoint. Later features add theirs here with h.handle.
func (h *handler) routes() {
	h.handle("POST /session", authIgnored, h.limited(limitSession, h.createSession))
	h.handle("GET /session", authRequired, h.getSession)
	h.handle("DELETE /session", authRequired, h.destroySession)
	h.handle("DELETE /session/list", authRequired, h.revokeOtherSessions)
	h.handle("DELETE /session/{id}", authRequired, h.revokeSession)
	h.handle("POST /login", authRequired, h.limited(limitLogin, h.login))
	h.handle("DELETE /login", authRequired, h.logout)
	h.handle("POST /users", authOptional, h.limited(limitSignUp, h.signUp))
	h.handle("GET /users/{id}", authRequired, h.getUser)
	h.handle("PUT /users/{id}", authRequired, h.limited(limitProfile, h.updateUser))
	h.handle("DELETE /users/{id}", authRequired, h.deleteUser)
	h.handle("DELETE /users/external/{id}", authRequired, h.deleteUserByExternalID)
	// User retrieval (users_search.go): V2 search, the deprecated V1 list and lookups.
	h.handle("GET /users/v2", authRequired, h.searchUsersV2)
	h.handle("GET /users", authRequired, h.listUsersV1)
	h.handle("GET /users/by_login", authRequired, h.lookupBy("login", query.Login))
	h.handle("GET /users/by_email", authRequired, h.lookupBy("email", query.Email))
	h.handle("GET /users/by_facebook_id", authRequired, h.lookupBy("facebook_id", query.FacebookID))
	h.handle("GET /users/by_twitter_id", authRequired, h.lookupBy("twitter_id", query.TwitterID))
	h.handle("GET /users/phone", authRequired, h.lookupBy("phone", query.Phone))
	h.handle("GET /users/by_phone", authRequired, h.lookupBy("phone", query.Phone))
	h.handle("GET /users/by_full_name", authRequired, h.usersByFullName)
	h.handle("GET /users/by_tags", authRequired, h.usersByTags)
	h.handle("GET /users/external/{id}", authRequired, h.userByExternalID)
	// Blobs (blobs.go): file upload and download for avatars.
	h.blobRoutes()
	// Password reset (reset.go): the request endpoint and the page the mailed link opens.
	h.resetRoutes()
}

// handle registers fn for pattern ("METHOD /path") and for its ".json" twin. A pattern
// ending in a wildcard ("/users/{id}") serves "/users/5.json" itself: read wildcards with
// pathValue, which drops the suffix.
func (h *handler) handle(pattern string, a auth, fn endpointFunc) {
	ep := &endpoint{h: h, auth: a, fn: fn}
	h.mux.Handle(pattern, ep)
	h.patterns = append(h.patterns, pattern)
	if !strings.HasSuffix(pattern, "}") {
		h.mux.Handle(pattern+".json", ep)
	}
}

// pathValue returns the wildcard name of the request path without a ".json" suffix.
func pathValue(r *http.Request, name string) string {
	return strings.TrimSuffix(r.PathValue(name), ".json")
}

type endpoint struct {
	h    *handler
	auth auth
	fn   endpointFunc
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rw, ok := w.(*respWriter); ok {
		rw.routed, rw.route = true, r.Pattern
	}
	h := e.h
	c := &call{w: w, r: r}
	ctx := r.Context()
	if e.auth != authIgnored {
		c.token = requestToken(r)
		if c.token != "" || e.auth == authRequired {
			s, err := h.id.Validate(ctx, c.token)
			if err != nil {
				writeError(w, r, h.log, err)
				return
			}
			c.s = s
			setExpiration(w, s)
		}
	}
	p, err := decodeParams(w, r, h.maxBody)
	if err != nil {
		writeError(w, r, h.log, err)
		return
	}
	c.p = p
	if err := e.fn(ctx, c); err != nil {
		writeError(w, r, h.log, err)
	}
}

// requestToken returns the session token of r: the CB-Token header or, when that is empty,
// an "Authorization: Bearer" token. Surrounding spaces are ignored; "" means none.
func requestToken(r *http.Request) string {
	if t := strings.TrimSpace(r.Header.Get("CB-Token")); t != "" {
		return t
	}
	a := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// ServeHTTP answers CORS, recovers panics, routes, and turns the router's own 404 and 405
// answers into ConnectyCube error bodies.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &respWriter{ResponseWriter: w}
	if h.obs != nil {
		defer h.observeRequest(rw, r, time.Now())
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.ErrorContext(r.Context(), "httpadapter: panic serving request",
				"method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !rw.wroteHeader {
				rw.routed = true
				rw.Header().Del(headerExpiration)
				rw.Header().Set("Content-Type", contentTypeJSON)
				rw.WriteHeader(http.StatusInternalServerError)
				rw.Write(internalErrorBody)
			}
		}
	}()
	if h.cors(rw, r) {
		return
	}
	h.mux.ServeHTTP(rw, r)
	if rw.routed {
		return
	}
	// The router answered itself: no such path (404), wrong method (405, with Allow) or a
	// redirect to a cleaned path.
	rw.routed = true
	switch st := rw.fallback; {
	case st == http.StatusMethodNotAllowed:
		writeError(rw, r, h.log, errMethodNotAllowed)
	case st >= 300 && st < 400:
		rw.Header().Del("Content-Type")
		rw.WriteHeader(st)
	default:
		writeError(rw, r, h.log, errRouteNotFound)
	}
}

// cors sets the CORS headers for r and answers preflight (and any other OPTIONS) requests.
// It reports whether it answered. Headers are assigned directly, in canonical form: this runs
// on every request.
func (h *handler) cors(w http.ResponseWriter, r *http.Request) bool {
	hd := w.Header()
	allowed := false
	switch {
	case h.anyOrig:
		allowed = true
		hd["Access-Control-Allow-Origin"] = anyOriginValue
	default:
		// The answer depends on Origin even when a request has none (an <img> load), so a
		// cache must not reuse it for a cross-origin fetch of the same URL.
		hd.Add("Vary", "Origin")
		if origin := r.Header.Get("Origin"); origin != "" {
			if h.origins[strings.ToLower(strings.TrimRight(origin, "/"))] {
				allowed = true
				hd["Access-Control-Allow-Origin"] = []string{origin}
			}
		}
	}
	if allowed {
		hd["Access-Control-Expose-Headers"] = exposeHeadersValue
	}
	if r.Method != http.MethodOptions {
		return false
	}
	if allowed && r.Header.Get("Access-Control-Request-Method") != "" {
		hd.Set("Access-Control-Allow-Methods", corsAllowMethods)
		hd.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		hd.Set("Access-Control-Max-Age", corsMaxAge)
	}
	hd.Set("Allow", corsAllowMethods)
	if rw, ok := w.(*respWriter); ok {
		rw.routed = true
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

// Shared header values of the hot path. net/http only reads header values; nothing in this
// package or the standard library modifies a value slice in place.
var (
	anyOriginValue     = []string{"*"}
	exposeHeadersValue = []string{corsExposeHeaders}
)

// respWriter records whether the response was started, and swallows the router's own
// plain-text 404/405 answers (routed false) so that ServeHTTP can send JSON instead.
type respWriter struct {
	http.ResponseWriter
	routed      bool
	wroteHeader bool
	fallback    int
	// status is the status written; route the pattern of the endpoint that served the
	// request (set with routed by the endpoints), for the Observer.
	status int
	route  string
}

func (w *respWriter) WriteHeader(code int) {
	if !w.routed {
		if w.fallback == 0 {
			w.fallback = code
		}
		return
	}
	if w.wroteHeader {
		return
	}
	w.wroteHeader, w.status = true, code
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(b []byte) (int, error) {
	if !w.routed {
		return len(b), nil
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
