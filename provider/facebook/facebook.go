package facebook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/remoteid"
)

// Name is the provider's name on the wire (provider=facebook) and the key of its
// per-application settings.
const Name = "facebook"

// Defaults of Config.
const (
	// DefaultGraphURL is the Graph API base, with the API version this package was written
	// against.
	DefaultGraphURL = "https://graph.facebook.com/v21.0"
	// DefaultTimeout bounds each of the two Graph API calls of a sign-in.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxResponseBytes bounds each Graph API answer read.
	DefaultMaxResponseBytes = 64 << 10
	// MaxTokenBytes bounds the access token accepted from a client (Facebook's are a few
	// hundred bytes).
	MaxTokenBytes = 4 << 10
)

// Config configures the provider. The zero value means every default.
type Config struct {
	// GraphURL is the Graph API base URL with its version path. Default DefaultGraphURL;
	// tests and egress proxies point it elsewhere.
	GraphURL string
	// Client sends the Graph API requests. Default: a client over http.DefaultTransport. The
	// provider uses a copy that follows redirects only within the Graph API's origin.
	Client *http.Client
	// Timeout bounds each Graph API call, from sending it to reading the whole answer.
	// Default DefaultTimeout (5 s).
	Timeout time.Duration
	// MaxResponseBytes bounds each answer read; a larger one fails with ErrUnavailable.
	// Default DefaultMaxResponseBytes (64 KiB).
	MaxResponseBytes int64
	// Now is the clock checking token expiry. Default: the Identity's clock
	// (identity.AuthRequest.Now).
	Now func() time.Time
	// Logger receives refusals (debug: the reason and the Graph API's error, redacted) and
	// upstream failures (warn). Never a token or the app secret. Default slog.Default().
	Logger *slog.Logger
}

// Provider is the facebook provider. It is safe for concurrent use.
type Provider struct {
	graph   *url.URL
	client  *http.Client
	timeout time.Duration
	maxBody int64
	now     func() time.Time
	log     *slog.Logger
}

var _ identity.Provider = (*Provider)(nil)

// New returns the facebook provider for cfg. It does no I/O. It fails on a GraphURL that is
// not an absolute http(s) URL and on negative durations or sizes.
func New(cfg Config) (*Provider, error) {
	if err := remoteid.Bounds(op, &cfg.Timeout, &cfg.MaxResponseBytes, &cfg.Logger, DefaultTimeout, DefaultMaxResponseBytes); err != nil {
		return nil, err
	}
	if cfg.GraphURL == "" {
		cfg.GraphURL = DefaultGraphURL
	}
	u, err := remoteid.BaseURL(op, "GraphURL", cfg.GraphURL)
	if err != nil {
		return nil, err
	}
	return &Provider{graph: u, client: remoteid.SameOriginClient(cfg.Client), timeout: cfg.Timeout,
		maxBody: cfg.MaxResponseBytes, now: cfg.Now, log: cfg.Logger}, nil
}

// Name returns "facebook".
func (p *Provider) Name() string { return Name }

// AppConfig is an application's facebook settings, stored as JSON in
// identity.AppSettings.Providers["facebook"] (see Enable):
//
//	{"app_id": "1234567890", "app_secret": "..."}
type AppConfig struct {
	// AppID is the Facebook app's id (digits): only tokens issued for this app are accepted.
	AppID string `json:"app_id"`
	// AppSecret is the Facebook app's secret. It signs the calls (app access token and
	// appsecret_proof) and never leaves the server otherwise.
	AppSecret string `json:"app_secret"`
}

// Validate reports whether c can verify tokens, naming the first problem (never the secret).
func (c AppConfig) Validate() error {
	if c.AppID == "" || len(c.AppID) > 32 || strings.Trim(c.AppID, "0123456789") != "" {
		return errors.New("facebook: AppConfig.AppID must be the app's numeric id")
	}
	if c.AppSecret == "" || len(c.AppSecret) > 256 || strings.ContainsAny(c.AppSecret, "| \t\r\n") {
		return errors.New("facebook: AppConfig.AppSecret must be the app's secret (no spaces or '|')")
	}
	return nil
}

// Enable validates c and stores it in s as the application's facebook settings, replacing
// any previous ones. s.Providers is copied, not modified in place.
func (p *Provider) Enable(s *identity.AppSettings, c AppConfig) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := s.SetProviderConfig(Name, c); err != nil {
		return fmt.Errorf("facebook: %w", err)
	}
	return nil
}

// Reasons a token is refused, reachable with errors.Is on the error Authenticate returns.
var (
	ErrTokenInvalid   = errors.New("facebook: the Graph API says the token is not valid")
	ErrForeignApp     = errors.New("facebook: the token was issued for another app")
	ErrTokenExpired   = errors.New("facebook: the token has expired")
	ErrNotUserToken   = errors.New("facebook: the token is not a user access token")
	ErrUserMismatch   = errors.New("facebook: /me names another user than debug_token")
	ErrTokenRefused   = errors.New("facebook: the Graph API refused the call")
	errMalformedReply = errors.New("malformed answer")
)

const op = "facebook"

// Authenticate verifies the user access token in req.Credentials.Params["token"]
// (keys[token] on the wire) for the application's Facebook app and returns Claims whose
// Subject is the Facebook user id. See the package documentation for the checks, the
// profile and the errors.
func (p *Provider) Authenticate(ctx context.Context, req *identity.AuthRequest) (*identity.Claims, error) {
	if req == nil || req.Application == nil {
		return nil, errors.New("facebook: AuthRequest without Application")
	}
	app := req.Application
	var ac AppConfig
	ok, err := app.Settings.ProviderConfig(Name, &ac)
	if err != nil {
		return nil, fmt.Errorf("facebook: application %d: %w", app.ID, err)
	}
	if !ok {
		return nil, identity.NewError(op, identity.ErrDisabled, Name, "disabled")
	}
	if err := ac.Validate(); err != nil {
		return nil, fmt.Errorf("facebook: application %d: %w", app.ID, err)
	}
	token := strings.TrimSpace(req.Credentials.Params["token"])
	if token == "" {
		return nil, identity.NewError(op, identity.ErrInvalidInput, "keys[token]", "missing")
	}
	if len(token) > MaxTokenBytes {
		return nil, &identity.Error{Op: op, Err: identity.ErrInvalidInput, Fields: []identity.FieldError{{Field: "keys[token]", Code: "too_long", Limit: MaxTokenBytes}}}
	}
	now := req.Now
	if p.now != nil {
		now = p.now()
	} else if now.IsZero() {
		now = time.Now()
	}
	c := &call{p: p, ctx: ctx, appID: app.ID, secrets: []string{token, ac.AppSecret}}

	// 1. Is the token valid, unexpired, a user's, and issued for this application's app?
	var dbg struct {
		Data struct {
			AppID     flexID     `json:"app_id"`
			Type      string     `json:"type"`
			IsValid   bool       `json:"is_valid"`
			ExpiresAt int64      `json:"expires_at"`
			UserID    flexID     `json:"user_id"`
			Error     graphError `json:"error"`
		} `json:"data"`
	}
	q := url.Values{"input_token": {token}, "access_token": {ac.AppID + "|" + ac.AppSecret}}
	if err := c.get("debug_token", q, &dbg); err != nil {
		return nil, err
	}
	d := &dbg.Data
	switch {
	case !d.IsValid:
		return nil, c.refuse(ErrTokenInvalid, d.Error)
	case string(d.AppID) != ac.AppID:
		return nil, c.refuse(ErrForeignApp, graphError{})
	case d.Type != "" && d.Type != "USER":
		return nil, c.refuse(ErrNotUserToken, graphError{})
	case d.ExpiresAt != 0 && d.ExpiresAt <= now.Unix():
		return nil, c.refuse(ErrTokenExpired, graphError{})
	case !validID(string(d.UserID)):
		return nil, c.unavailable("debug_token", errMalformedReply)
	}

	// 2. Who is it? appsecret_proof proves the call comes from the app's server.
	mac := hmac.New(sha256.New, []byte(ac.AppSecret))
	mac.Write([]byte(token))
	proof := hex.EncodeToString(mac.Sum(nil))
	c.secrets = append(c.secrets, proof)
	var me struct {
		ID    flexID `json:"id"`
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	q = url.Values{"fields": {"id,name,email"}, "access_token": {token}, "appsecret_proof": {proof}}
	if err := c.get("me", q, &me); err != nil {
		return nil, err
	}
	if !validID(string(me.ID)) {
		return nil, c.unavailable("me", errMalformedReply)
	}
	if me.ID != d.UserID {
		return nil, c.refuse(ErrUserMismatch, graphError{})
	}

	id := string(me.ID)
	claims := &identity.Claims{Subject: id}
	claims.Profile.FacebookID = &id
	if name := strings.TrimSpace(me.Name); name != "" && utf8.ValidString(name) && utf8.RuneCountInString(name) <= identity.MaxFullNameLength {
		claims.Profile.FullName = &name
	}
	email, err := p.freeEmail(ctx, req, app.ID, me.Email)
	if err != nil {
		return nil, err
	}
	if email != "" {
		claims.Profile.Email = &email
	}
	return claims, nil
}

// freeEmail returns the Graph email when it may go into a new user's profile: a plausible
// address that no user of the application has. An address another user has is left out
// (the new user gets none), never merged; "" when there is none to set.
func (p *Provider) freeEmail(ctx context.Context, req *identity.AuthRequest, appID int64, email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" || len(email) > identity.MaxEmailLength || !strings.Contains(email, "@") || !utf8.ValidString(email) {
		return "", nil
	}
	if req.Users == nil {
		return "", nil
	}
	_, err := req.Users.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, identity.ErrUserNotFound):
		return email, nil
	case err != nil:
		return "", err
	}
	p.log.LogAttrs(ctx, slog.LevelDebug, "facebook: the account's email belongs to another user; not set on the new user",
		slog.Int64("app_id", appID))
	return "", nil
}

// validID reports whether s looks like a Graph user id: digits, at most
// identity.MaxSocialIDLength (what facebook_id holds).
func validID(s string) bool {
	return s != "" && len(s) <= identity.MaxSocialIDLength && strings.Trim(s, "0123456789") == ""
}

// flexID is an id the Graph API sends as a string (or, defensively, a number).
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	if _, err := strconv.ParseUint(n.String(), 10, 64); err != nil {
		return err
	}
	*f = flexID(n.String())
	return nil
}

// graphError is the Graph API's error object.
type graphError struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    int    `json:"code"`
	Subcode int    `json:"error_subcode"`
	// Subcode2 is debug_token's spelling of the subcode.
	Subcode2 int `json:"subcode"`
}

// call is one sign-in's exchange with the Graph API.
type call struct {
	p       *Provider
	ctx     context.Context
	appID   int64
	secrets []string
}

// get calls the Graph API's endpoint with q and decodes a 200 answer into v. A refusal
// (4xx) is a *remoteid.Refusal wrapping ErrTokenRefused; 5xx, 429, a timeout or an
// unreadable answer wrap identity.ErrUnavailable.
func (c *call) get(endpoint string, q url.Values, v any) error {
	u := *c.p.graph
	u.Path = strings.TrimRight(u.Path, "/") + "/" + endpoint
	u.RawQuery = q.Encode()
	hreq, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return errors.New("facebook: cannot build the Graph API request")
	}
	hreq.Header.Set("Accept", "application/json")
	start := time.Now()
	status, body, err := remoteid.Fetch(c.ctx, c.p.client, hreq, c.p.timeout, c.p.maxBody)
	if err != nil {
		if c.ctx.Err() != nil {
			return fmt.Errorf("facebook: %w", err)
		}
		return c.unavailable(endpoint, errors.New(remoteid.Redact(err.Error(), c.secrets...)), slog.Duration("elapsed", time.Since(start)))
	}
	if status != http.StatusOK {
		var e struct {
			Error graphError `json:"error"`
		}
		json.Unmarshal(body, &e)
		if remoteid.ServerFailure(status) {
			return c.unavailable(endpoint, fmt.Errorf("status %d", status), slog.Int("graph_code", e.Error.Code),
				slog.String("graph_message", remoteid.Redact(e.Error.Message, c.secrets...)))
		}
		// A 4xx of debug_token can also mean the app id or secret is wrong: warn, so that an
		// operator sees it, but the client only learns that the token was not accepted.
		level := slog.LevelDebug
		if endpoint == "debug_token" {
			level = slog.LevelWarn
		}
		c.p.log.LogAttrs(c.ctx, level, "facebook: Graph API refused the call", slog.Int64("app_id", c.appID),
			slog.String("endpoint", endpoint), slog.Int("status", status), slog.Int("graph_code", e.Error.Code),
			slog.String("graph_type", e.Error.Type), slog.String("graph_message", remoteid.Redact(e.Error.Message, c.secrets...)))
		return &remoteid.Refusal{Provider: op, Reason: ErrTokenRefused}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return c.unavailable(endpoint, errMalformedReply)
	}
	return nil
}

// refuse logs why the token is refused and returns the error the client sees.
func (c *call) refuse(reason error, ge graphError) error {
	sub := ge.Subcode
	if sub == 0 {
		sub = ge.Subcode2
	}
	c.p.log.LogAttrs(c.ctx, slog.LevelDebug, "facebook: token refused", slog.Int64("app_id", c.appID),
		slog.String("reason", reason.Error()), slog.Int("graph_code", ge.Code), slog.Int("graph_subcode", sub),
		slog.String("graph_message", remoteid.Redact(ge.Message, c.secrets...)))
	return &remoteid.Refusal{Provider: op, Reason: reason}
}

// unavailable logs an upstream failure and returns an error wrapping ErrUnavailable.
func (c *call) unavailable(endpoint string, cause error, attrs ...slog.Attr) error {
	attrs = append([]slog.Attr{slog.Int64("app_id", c.appID), slog.String("endpoint", endpoint),
		slog.String("cause", cause.Error())}, attrs...)
	c.p.log.LogAttrs(c.ctx, slog.LevelWarn, "facebook: Graph API unavailable", attrs...)
	return fmt.Errorf("facebook: Graph API %s: %s: %w", endpoint, cause.Error(), identity.ErrUnavailable)
}
