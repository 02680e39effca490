package oidc

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/jwks"
	"github.com/identitykit/identity/internal/remoteid"
)

// Defaults of Config.
const (
	// DefaultTimeout bounds one discovery or key set fetch.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxResponseBytes bounds a discovery document or key set.
	DefaultMaxResponseBytes = 1 << 20
	// MaxTokenBytes bounds the ID token accepted from a client.
	MaxTokenBytes = 8 << 10
)

// Config configures the OIDC ID token provider. The zero value means every default.
type Config struct {
	// Name is the provider's name and the key of its per-application configuration in
	// AppSettings.Providers. Default "oidc".
	Name string
	// Client fetches discovery documents and key sets. Default: a client over
	// http.DefaultTransport. The Provider uses a copy that follows redirects only to the same
	// scheme and host and bounds every response body by MaxResponseBytes.
	Client *http.Client
	// Timeout bounds one discovery or key set fetch. Default DefaultTimeout (5 s).
	Timeout time.Duration
	// MaxResponseBytes bounds a discovery document or key set. Default
	// DefaultMaxResponseBytes (1 MiB).
	MaxResponseBytes int64
	// MinRefresh is the least time between two fetches of one issuer's key set, and between
	// two failed discoveries: tokens naming unknown keys, however many, cost at most one
	// fetch per MinRefresh. Default 1 min.
	MinRefresh time.Duration
	// MaxIssuers bounds the cached per-application configurations (with their discovered
	// metadata and keys). Default 1000.
	MaxIssuers int
	// Logger receives operational messages (fetch failures, and at debug level why a token
	// was refused). Never a token. Default slog.Default().
	Logger *slog.Logger
}

// Provider accepts OpenID Connect ID tokens. It is safe for concurrent use.
type Provider struct {
	name       string
	client     *http.Client
	timeout    time.Duration
	maxBody    int64
	minRefresh time.Duration
	maxIssuers int
	log        *slog.Logger
	// now is the clock of the key caches (token expiry uses the Identity's clock).
	now func() time.Time

	mu      sync.Mutex
	sources map[string]*source // by raw per-application configuration
}

var _ identity.Provider = (*Provider)(nil)

// New returns an OIDC ID token provider for cfg. It fails on negative durations or
// sizes.
func New(cfg Config) (*Provider, error) {
	if cfg.Timeout < 0 || cfg.MaxResponseBytes < 0 || cfg.MinRefresh < 0 || cfg.MaxIssuers < 0 {
		return nil, errors.New("oidc: Config durations and sizes must not be negative")
	}
	if cfg.Name == "" {
		cfg.Name = "oidc"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.MinRefresh == 0 {
		cfg.MinRefresh = time.Minute
	}
	if cfg.MaxIssuers == 0 {
		cfg.MaxIssuers = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	client := remoteid.SameOriginClient(cfg.Client)
	rt := client.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	client.Transport = limitTransport{rt: rt, max: cfg.MaxResponseBytes}
	return &Provider{
		name:       cfg.Name,
		client:     client,
		timeout:    cfg.Timeout,
		maxBody:    cfg.MaxResponseBytes,
		minRefresh: cfg.MinRefresh,
		maxIssuers: cfg.MaxIssuers,
		log:        cfg.Logger,
		now:        time.Now,
		sources:    map[string]*source{},
	}, nil
}

// Name returns the configured name ("oidc" by default).
func (p *Provider) Name() string { return p.name }

// AppConfig is an application's OIDC configuration, stored as JSON in
// AppSettings.Providers under the provider's name:
//
//	{
//	  "issuer": "https://tenant.eu.auth0.com/",
//	  "client_ids": ["web-client-id", "ios-client-id"],
//	  "algorithms": ["RS256"],
//	  "claims": {"email": "#{email}", "full_name": "#{name}", "login": "#{nickname}"}
//	}
//
// Keys come from discovery of the issuer (/.well-known/openid-configuration and its
// jwks_uri) unless JWKSURL or PublicKeys is set. The issuer, the JWKS URL and a discovered
// jwks_uri must be https URLs; http is accepted for loopback hosts only (local development).
type AppConfig struct {
	// Issuer must equal the token's "iss" exactly. Required.
	Issuer string `json:"issuer"`
	// ClientID and ClientIDs are the accepted audiences: the token's "aud" must name one of
	// them. At least one is required.
	ClientID  string   `json:"client_id,omitempty"`
	ClientIDs []string `json:"client_ids,omitempty"`
	// Algorithms are the accepted signing algorithms (RS256, RS384, RS512, PS256, PS384,
	// PS512, ES256, ES384, ES512, EdDSA). Default: those the discovery document advertises,
	// or RS256 when keys are configured directly.
	Algorithms []string `json:"algorithms,omitempty"`
	// JWKSURL, when set, is the key set used instead of discovery.
	JWKSURL string `json:"jwks_url,omitempty"`
	// PublicKeys, when set, are PEM public keys (PUBLIC KEY or CERTIFICATE blocks) used
	// instead of discovery. Exclusive with JWKSURL.
	PublicKeys []string `json:"public_keys,omitempty"`
	// Claims maps user fields to templates over the token's claims: "#{email}" is the claim
	// at that path (object keys separated by dots: "#{address.country}"), text around
	// placeholders is kept (the syntax of provider/cidp's response_params). The fields are
	// login, email, full_name, phone, website, avatar, external_id, custom_data and tags; uid is
	// always "sub". Default {"email": "#{email}", "full_name": "#{name}"}. An email is
	// dropped when the token says "email_verified": false.
	Claims map[string]string `json:"claims,omitempty"`
}

// Enable validates c and stores it in s as the configuration of p. s.Providers is copied,
// not modified in place. Clients then send ID tokens with provider=<p.Name()> and
// keys[token]; to take them as the login of login/password requests as well, set
// s.PasswordProvider to p.Name().
func (p *Provider) Enable(s *identity.AppSettings, c AppConfig) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := s.SetProviderConfig(p.name, c); err != nil {
		return fmt.Errorf("oidc: %w", err)
	}
	return nil
}

// Validate reports whether c is a usable configuration, naming the first problem.
func (c *AppConfig) Validate() error {
	_, err := c.compile()
	return err
}

type compiled struct {
	issuer    string
	clientIDs []string
	algs      []string
	jwksURL   string
	static    jwks.Source // nil unless PublicKeys is set
	fields    map[string]remoteid.Template
}

func (c *AppConfig) compile() (*compiled, error) {
	cc := &compiled{fields: map[string]remoteid.Template{}}
	if err := checkFetchURL(c.Issuer); err != nil {
		return nil, fmt.Errorf("oidc: issuer: %w", err)
	}
	cc.issuer = c.Issuer
	for _, id := range append([]string{c.ClientID}, c.ClientIDs...) {
		if id = strings.TrimSpace(id); id != "" && !slices.Contains(cc.clientIDs, id) {
			cc.clientIDs = append(cc.clientIDs, id)
		}
	}
	if len(cc.clientIDs) == 0 {
		return nil, errors.New("oidc: client_id or client_ids is required")
	}
	for _, a := range c.Algorithms {
		if !supportedAlg(a) {
			return nil, fmt.Errorf("oidc: algorithm %q is not supported (asymmetric JWS algorithms only)", a)
		}
		cc.algs = append(cc.algs, a)
	}
	if c.JWKSURL != "" && len(c.PublicKeys) > 0 {
		return nil, errors.New("oidc: jwks_url and public_keys are exclusive")
	}
	if c.JWKSURL != "" {
		if err := checkFetchURL(c.JWKSURL); err != nil {
			return nil, fmt.Errorf("oidc: jwks_url: %w", err)
		}
		cc.jwksURL = c.JWKSURL
	}
	if len(c.PublicKeys) > 0 {
		keys, err := parsePublicKeys(c.PublicKeys)
		if err != nil {
			return nil, err
		}
		cc.static = keys
	}
	claims := c.Claims
	if claims == nil {
		claims = map[string]string{"email": "#{email}", "full_name": "#{name}"}
	}
	for field, s := range claims {
		if !remoteid.ProfileFields[field] {
			return nil, fmt.Errorf("oidc: claims: %q is not a mappable user field (uid is always sub)", field)
		}
		t, err := remoteid.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("oidc: claims: %s: %v", field, err)
		}
		if len(t.Placeholders()) == 0 {
			return nil, fmt.Errorf("oidc: claims: %s has no #{claim} placeholder", field)
		}
		cc.fields[field] = t
	}
	return cc, nil
}

// checkFetchURL accepts https URLs, and http URLs of loopback hosts.
func checkFetchURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return errors.New("must be an absolute URL without user info or fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
		return errors.New("must be https (http only for loopback hosts)")
	}
	return errors.New("must be an https URL")
}

// source is the compiled configuration of one application with its keys.
type source struct {
	cc  *compiled
	sem chan struct{} // held while discovering

	mu      sync.Mutex
	keys    jwks.Source
	algs    []string // advertised by discovery
	discErr error
	discAt  time.Time
}

// source returns the compiled configuration of app, cached by its stored form raw.
func (p *Provider) source(app *identity.Application, raw string) (*source, error) {
	p.mu.Lock()
	src := p.sources[raw]
	p.mu.Unlock()
	if src != nil {
		return src, nil
	}
	var ac AppConfig
	if _, err := app.Settings.ProviderConfig(p.name, &ac); err != nil {
		return nil, err
	}
	cc, err := ac.compile()
	if err != nil {
		return nil, err
	}
	src = &source{cc: cc, sem: make(chan struct{}, 1)}
	switch {
	case cc.static != nil:
		src.keys = cc.static
	case cc.jwksURL != "":
		if src.keys, err = p.newKeySet(cc.jwksURL); err != nil {
			return nil, err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur := p.sources[raw]; cur != nil {
		return cur, nil
	}
	if len(p.sources) >= p.maxIssuers {
		for k := range p.sources { // evict an arbitrary entry
			delete(p.sources, k)
			break
		}
	}
	p.sources[raw] = src
	return src, nil
}

func (p *Provider) newKeySet(u string) (*jwks.Remote, error) {
	r, err := jwks.NewRemote(jwks.Config{URL: u, Client: p.client, Timeout: p.timeout, MaxBytes: p.maxBody,
		MinRefresh: p.minRefresh, Now: p.now, Logger: p.log, Options: keyOptions})
	if err != nil {
		return nil, fmt.Errorf("oidc: key set: %v", err)
	}
	return r, nil
}

// resolve returns the source's keys and the algorithms discovery advertised, discovering
// the issuer on first use. A failed discovery is retried after MinRefresh.
func (p *Provider) resolve(ctx context.Context, src *source) (jwks.Source, []string, error) {
	for {
		src.mu.Lock()
		keys, algs, discErr, discAt := src.keys, src.algs, src.discErr, src.discAt
		src.mu.Unlock()
		if keys != nil {
			return keys, algs, nil
		}
		if discErr != nil && p.now().Sub(discAt) < p.minRefresh {
			return nil, nil, discErr
		}
		select {
		case src.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("oidc: waiting for OIDC discovery: %w", ctx.Err())
		}
		src.mu.Lock()
		again := src.keys != nil || (src.discErr != nil && !src.discAt.Equal(discAt))
		src.mu.Unlock()
		if again { // another caller discovered meanwhile
			<-src.sem
			continue
		}
		err := p.discover(ctx, src)
		<-src.sem
		if err != nil {
			return nil, nil, err
		}
	}
}

func (p *Provider) discover(ctx context.Context, src *source) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	issuer := src.cc.issuer
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.timeout)
	defer cancel()
	var meta struct {
		JWKSURL string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	prov, err := gooidc.NewProvider(gooidc.ClientContext(tctx, p.client), issuer)
	if err == nil {
		err = prov.Claims(&meta)
	}
	if err == nil {
		if cerr := checkFetchURL(meta.JWKSURL); cerr != nil {
			err = fmt.Errorf("jwks_uri %w", cerr)
		}
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	src.discAt = p.now()
	if err != nil {
		p.log.Warn("oidc: OIDC discovery failed", "issuer", issuer, "err", remoteid.Truncate(err.Error(), 512))
		src.discErr = fmt.Errorf("oidc: OIDC discovery of %s failed: %w", issuer, identity.ErrUnavailable)
		return src.discErr
	}
	for _, a := range meta.Algs {
		if supportedAlg(a) {
			src.algs = append(src.algs, a)
		}
	}
	keys, err := p.newKeySet(meta.JWKSURL)
	if err != nil {
		src.discErr = fmt.Errorf("oidc: OIDC discovery of %s: %v: %w", issuer, err, identity.ErrUnavailable)
		return src.discErr
	}
	src.keys = keys
	src.discErr = nil
	return nil
}

// limitTransport bounds response bodies.
type limitTransport struct {
	rt  http.RoundTripper
	max int64
}

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(r)
	if err == nil {
		resp.Body = &limitedBody{rc: resp.Body, left: t.max}
	}
	return resp, err
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

var errBodyTooLarge = errors.New("oidc: response body too large")

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Tell a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// Authenticate verifies the OIDC ID token in Credentials.Login (the application's
// PasswordProvider route) or Params["token"] (provider=oidc with keys[token]) against the
// application's AppConfig: signature by a key of the issuer with an allowed algorithm,
// "iss", "aud", "exp" and "nbf" (at the Identity's clock); a JWT access token (typ at+jwt,
// RFC 9068) is refused. It returns Claims with Subject =
// "sub", the mapped profile fields and RefreshProfile set.
//
// Errors: an application without configuration wraps ErrDisabled; a configuration that does
// not Validate is an internal error; a missing token wraps ErrInvalidInput; a refused token
// wraps ErrInvalidCredentials in an *identity.Error whose Fields[""] says "Bad
// Authentication data. ID token has expired" or "... ID token is invalid" (the precise
// reason is logged at debug level); a failed discovery or key fetch wraps ErrUnavailable.
func (p *Provider) Authenticate(ctx context.Context, req *identity.AuthRequest) (*identity.Claims, error) {
	if req == nil || req.Application == nil {
		return nil, errors.New("oidc: AuthRequest without Application")
	}
	app := req.Application
	raw := bytes.TrimSpace(app.Settings.Providers[p.name])
	if len(raw) == 0 || string(raw) == "null" {
		return nil, identity.NewError("oidc", identity.ErrDisabled, "oidc", "disabled")
	}
	src, err := p.source(app, string(raw))
	if err != nil {
		return nil, fmt.Errorf("oidc: application %d: %w", app.ID, err)
	}
	cc := src.cc
	token, field := strings.TrimSpace(req.Credentials.Login), "login"
	if token == "" {
		token, field = strings.TrimSpace(req.Credentials.Params["token"]), "token"
	}
	if token == "" {
		return nil, identity.NewError("oidc", identity.ErrInvalidInput, field, "blank")
	}
	if len(token) > MaxTokenBytes {
		return nil, p.reject(ctx, app, errTokenMalformed)
	}
	alg, kid, typ, ok := jwtHeader(token)
	if !ok {
		return nil, p.reject(ctx, app, errTokenMalformed)
	}
	if t := strings.ToLower(typ); t == "at+jwt" || t == "application/at+jwt" {
		return nil, p.reject(ctx, app, errTokenType)
	}
	keys, discAlgs, err := p.resolve(ctx, src)
	if err != nil {
		return nil, err
	}
	allowed := cc.algs
	if len(allowed) == 0 {
		allowed = discAlgs
	}
	if len(allowed) == 0 {
		allowed = []string{gooidc.RS256}
	}
	if !slices.Contains(allowed, alg) {
		return nil, p.reject(ctx, app, errTokenAlgorithm)
	}
	if err := keys.Ensure(ctx, kid); err != nil {
		if errors.Is(err, errTokenUnknownKey) {
			return nil, p.reject(ctx, app, err)
		}
		return nil, err
	}
	payload, err := keys.VerifySignature(ctx, token)
	if err != nil {
		return nil, p.reject(ctx, app, err)
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	v := gooidc.NewVerifier(cc.issuer, keys, &gooidc.Config{
		SkipClientIDCheck:    true, // checked below against every allowed client id
		SupportedSigningAlgs: allowed,
		Now:                  func() time.Time { return now },
	})
	idt, err := v.Verify(ctx, token)
	if err != nil {
		var iss struct {
			Issuer string `json:"iss"`
		}
		var expired *gooidc.TokenExpiredError
		switch {
		case json.Unmarshal(payload, &iss) == nil && iss.Issuer != cc.issuer:
			return nil, p.reject(ctx, app, errTokenIssuer)
		case errors.As(err, &expired):
			return nil, p.reject(ctx, app, errTokenExpired)
		default:
			p.log.DebugContext(ctx, "oidc: OIDC verifier refused the token", "app_id", app.ID, "reason", err.Error())
			return nil, p.reject(ctx, app, errTokenClaims)
		}
	}
	if !slices.ContainsFunc(idt.Audience, func(a string) bool { return slices.Contains(cc.clientIDs, a) }) {
		return nil, p.reject(ctx, app, errTokenAudience)
	}
	sub := idt.Subject
	if strings.TrimSpace(sub) == "" || len(sub) > identity.MaxExternalIDLength || !utf8.ValidString(sub) {
		return nil, p.reject(ctx, app, errTokenSubject)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, p.reject(ctx, app, errTokenMalformed)
	}
	in, err := remoteid.MapProfile(cc.fields, doc, "oidc", identity.ErrInvalidCredentials)
	if err != nil {
		return nil, err
	}
	if in.Email != nil && emailUnverified(doc) {
		in.Email = nil
	}
	return &identity.Claims{Subject: sub, Profile: in, RefreshProfile: true}, nil
}

// emailUnverified reports an "email_verified" claim that is false (or "false", as Cognito
// sends it).
func emailUnverified(doc any) bool {
	v, ok := remoteid.Lookup(doc, "email_verified")
	if !ok {
		return false
	}
	switch x := v.(type) {
	case bool:
		return !x
	case string:
		return strings.EqualFold(x, "false")
	}
	return false
}

// jwtHeader reads alg, kid and typ from the protected header of a compact JWS without
// verifying anything.
func jwtHeader(token string) (alg, kid, typ string, ok bool) {
	h, _, found := strings.Cut(token, ".")
	if !found || strings.Count(token, ".") != 2 {
		return "", "", "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return "", "", "", false
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}
	if json.Unmarshal(b, &hdr) != nil || hdr.Alg == "" {
		return "", "", "", false
	}
	return hdr.Alg, hdr.Kid, hdr.Typ, true
}

// reject logs why a token was refused and returns the error the client sees.
func (p *Provider) reject(ctx context.Context, app *identity.Application, reason error) error {
	p.log.DebugContext(ctx, "oidc: OIDC token refused", "provider", p.name, "app_id", app.ID, "reason", reason.Error())
	code := "invalid"
	if reason == errTokenExpired {
		code = "expired"
	}
	return &identity.Error{Op: "authenticate", Err: &rejectError{reason: reason}, Fields: []identity.FieldError{{Field: "id_token", Code: code}}}
}

// rejectError wraps ErrInvalidCredentials and the reason (reachable with errors.Is).
type rejectError struct{ reason error }

func (e *rejectError) Error() string   { return "oidc: invalid ID token: " + e.reason.Error() }
func (e *rejectError) Unwrap() []error { return []error{identity.ErrInvalidCredentials, e.reason} }
