package twitter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/oauth1"
	"github.com/identitykit/identity/internal/remoteid"
)

// Name is the provider's name on the wire (provider=twitter) and the key of its
// per-application settings.
const Name = "twitter"

// Defaults of Config.
const (
	// DefaultAPIURL is the base of Twitter's v1.1 API.
	DefaultAPIURL = "https://api.twitter.com/1.1"
	// DefaultTimeout bounds the verification call.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxResponseBytes bounds the answer read.
	DefaultMaxResponseBytes = 64 << 10
	// MaxTokenBytes bounds the access token and the token secret accepted from a client
	// (Twitter's are about 50 bytes).
	MaxTokenBytes = 1 << 10
)

// Config configures the provider. The zero value means every default.
type Config struct {
	// APIURL is the API base: the provider calls APIURL + "/account/verify_credentials.json".
	// Default DefaultAPIURL; tests and egress proxies point it elsewhere.
	APIURL string
	// Client sends the request. Default: a client over http.DefaultTransport. The provider
	// uses a copy that follows redirects only within the API's origin.
	Client *http.Client
	// Timeout bounds the call, from sending it to reading the whole answer. Default
	// DefaultTimeout (5 s).
	Timeout time.Duration
	// MaxResponseBytes bounds the answer read; a larger one fails with ErrUnavailable.
	// Default DefaultMaxResponseBytes (64 KiB).
	MaxResponseBytes int64
	// Now is the clock of the OAuth timestamp. Default: the Identity's clock
	// (identity.AuthRequest.Now).
	Now func() time.Time
	// Logger receives refusals (debug: the API's error, redacted) and failures (warn). Never
	// a token, a token secret or the consumer secret. Default slog.Default().
	Logger *slog.Logger
}

// Provider is the twitter provider. It is safe for concurrent use.
type Provider struct {
	verify  *url.URL
	client  *http.Client
	timeout time.Duration
	maxBody int64
	now     func() time.Time
	log     *slog.Logger
}

var _ identity.Provider = (*Provider)(nil)

// New returns the twitter provider for cfg. It does no I/O. It fails on an APIURL that is
// not an absolute http(s) URL and on negative durations or sizes.
func New(cfg Config) (*Provider, error) {
	if err := remoteid.Bounds(op, &cfg.Timeout, &cfg.MaxResponseBytes, &cfg.Logger, DefaultTimeout, DefaultMaxResponseBytes); err != nil {
		return nil, err
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	u, err := remoteid.BaseURL(op, "APIURL", cfg.APIURL)
	if err != nil {
		return nil, err
	}
	u.Path += "/account/verify_credentials.json"
	u.RawQuery = "include_email=false&include_entities=false&skip_status=true"
	return &Provider{verify: u, client: remoteid.SameOriginClient(cfg.Client), timeout: cfg.Timeout,
		maxBody: cfg.MaxResponseBytes, now: cfg.Now, log: cfg.Logger}, nil
}

// Name returns "twitter".
func (p *Provider) Name() string { return Name }

// AppConfig is an application's twitter settings, stored as JSON in
// identity.AppSettings.Providers["twitter"] (see Enable):
//
//	{"consumer_key": "...", "consumer_secret": "..."}
type AppConfig struct {
	// ConsumerKey is the Twitter app's API key, the one the client's access tokens were
	// issued through.
	ConsumerKey string `json:"consumer_key"`
	// ConsumerSecret is the app's API key secret. It signs the verification request and
	// never leaves the server otherwise.
	ConsumerSecret string `json:"consumer_secret"`
}

// Validate reports whether c can verify tokens, naming the first problem (never the secret).
func (c AppConfig) Validate() error {
	if c.ConsumerKey == "" || len(c.ConsumerKey) > 256 || strings.ContainsAny(c.ConsumerKey, " \t\r\n\"") {
		return errors.New("twitter: AppConfig.ConsumerKey must be the app's API key")
	}
	if c.ConsumerSecret == "" || len(c.ConsumerSecret) > 256 || strings.ContainsAny(c.ConsumerSecret, " \t\r\n") {
		return errors.New("twitter: AppConfig.ConsumerSecret must be the app's API key secret")
	}
	return nil
}

// Enable validates c and stores it in s as the application's twitter settings, replacing any
// previous ones. s.Providers is copied, not modified in place.
func (p *Provider) Enable(s *identity.AppSettings, c AppConfig) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := s.SetProviderConfig(Name, c); err != nil {
		return fmt.Errorf("twitter: %w", err)
	}
	return nil
}

// Reasons a token is refused, reachable with errors.Is on the error Authenticate returns.
var (
	// ErrTokenRefused means the API refused the signed request (401: an invalid, revoked or
	// foreign token or secret; any other 4xx).
	ErrTokenRefused = errors.New("twitter: the API refused the access token")
)

const op = "twitter"

// Authenticate verifies the access token and token secret in req.Credentials.Params
// ("token" and "secret": keys[token] and keys[secret] on the wire) with a signed call to
// account/verify_credentials and returns Claims whose Subject is the Twitter user id. See
// the package documentation for the profile and the errors.
func (p *Provider) Authenticate(ctx context.Context, req *identity.AuthRequest) (*identity.Claims, error) {
	if req == nil || req.Application == nil {
		return nil, errors.New("twitter: AuthRequest without Application")
	}
	app := req.Application
	var ac AppConfig
	ok, err := app.Settings.ProviderConfig(Name, &ac)
	if err != nil {
		return nil, fmt.Errorf("twitter: application %d: %w", app.ID, err)
	}
	if !ok {
		return nil, identity.NewError(op, identity.ErrDisabled, Name, "disabled")
	}
	if err := ac.Validate(); err != nil {
		return nil, fmt.Errorf("twitter: application %d: %w", app.ID, err)
	}
	token := strings.TrimSpace(req.Credentials.Params["token"])
	secret := strings.TrimSpace(req.Credentials.Params["secret"])
	var bad []identity.FieldError
	for _, f := range []struct{ name, v string }{{"keys[token]", token}, {"keys[secret]", secret}} {
		switch {
		case f.v == "":
			bad = append(bad, identity.FieldError{Field: f.name, Code: "missing"})
		case len(f.v) > MaxTokenBytes:
			bad = append(bad, identity.FieldError{Field: f.name, Code: "too_long", Limit: MaxTokenBytes})
		}
	}
	if len(bad) > 0 {
		return nil, &identity.Error{Op: op, Err: identity.ErrInvalidInput, Fields: bad}
	}
	now := req.Now
	if p.now != nil {
		now = p.now()
	} else if now.IsZero() {
		now = time.Now()
	}
	secrets := []string{token, secret, ac.ConsumerSecret}

	hreq, err := http.NewRequest(http.MethodGet, p.verify.String(), nil)
	if err != nil {
		return nil, errors.New("twitter: cannot build the verification request")
	}
	hreq.Header.Set("Accept", "application/json")
	if err := oauth1.Sign(hreq, oauth1.Credentials{ConsumerKey: ac.ConsumerKey, ConsumerSecret: ac.ConsumerSecret,
		Token: token, TokenSecret: secret}, now); err != nil {
		return nil, fmt.Errorf("twitter: signing: %w", err)
	}
	start := time.Now()
	status, body, err := remoteid.Fetch(ctx, p.client, hreq, p.timeout, p.maxBody)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("twitter: %w", err)
		}
		return nil, p.unavailable(ctx, app.ID, remoteid.Redact(err.Error(), secrets...), slog.Duration("elapsed", time.Since(start)))
	}
	if status != http.StatusOK {
		var e struct {
			Errors []struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"errors"`
		}
		json.Unmarshal(body, &e)
		code, msg := 0, ""
		if len(e.Errors) > 0 {
			code, msg = e.Errors[0].Code, remoteid.Redact(e.Errors[0].Message, secrets...)
		}
		if remoteid.ServerFailure(status) {
			return nil, p.unavailable(ctx, app.ID, fmt.Sprintf("status %d", status), slog.Int("twitter_code", code), slog.String("twitter_message", msg))
		}
		p.log.LogAttrs(ctx, slog.LevelDebug, "twitter: access token refused", slog.Int64("app_id", app.ID),
			slog.Int("status", status), slog.Int("twitter_code", code), slog.String("twitter_message", msg))
		return nil, &remoteid.Refusal{Provider: op, Reason: ErrTokenRefused}
	}
	var u struct {
		IDStr string `json:"id_str"`
		Name  string `json:"name"`
	}
	if err := json.Unmarshal(body, &u); err != nil || u.IDStr == "" || len(u.IDStr) > identity.MaxSocialIDLength || strings.Trim(u.IDStr, "0123456789") != "" {
		return nil, p.unavailable(ctx, app.ID, "malformed answer")
	}
	id := u.IDStr
	claims := &identity.Claims{Subject: id}
	claims.Profile.TwitterID = &id
	if name := strings.TrimSpace(u.Name); name != "" && utf8.ValidString(name) && utf8.RuneCountInString(name) <= identity.MaxFullNameLength {
		claims.Profile.FullName = &name
	}
	return claims, nil
}

// unavailable logs an API failure and returns an error wrapping ErrUnavailable.
func (p *Provider) unavailable(ctx context.Context, appID int64, cause string, attrs ...slog.Attr) error {
	attrs = append([]slog.Attr{slog.Int64("app_id", appID), slog.String("cause", cause)}, attrs...)
	p.log.LogAttrs(ctx, slog.LevelWarn, "twitter: API unavailable", attrs...)
	return fmt.Errorf("twitter: verify_credentials: %s: %w", cause, identity.ErrUnavailable)
}
