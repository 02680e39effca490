package cidp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/remoteid"
)

// Defaults of Config.
const (
	// DefaultTimeout bounds one call to an identity service (or one discovery or key fetch).
	DefaultTimeout = 5 * time.Second
	// DefaultMaxResponseBytes bounds the body read from an identity service.
	DefaultMaxResponseBytes = 1 << 20
	// MaxTokenBytes bounds each credential (the external token, the password, the email)
	// accepted from a client.
	MaxTokenBytes = 8 << 10
)

// Config configures the Custom Identity Provider. The zero value means every default.
type Config struct {
	// Name is the provider's name, the key of its per-application configuration in
	// AppSettings.Providers and the value an application's AppSettings.PasswordProvider
	// names to route login/password credentials to it. Default "cidp".
	Name string
	// Client sends the verification requests. Default: a client over http.DefaultTransport.
	// The Provider uses a copy whose CheckRedirect follows at most 5 redirects, and only to
	// the same scheme and host as the configured endpoint; the client's Transport, Jar and
	// Timeout are kept.
	Client *http.Client
	// Timeout bounds one verification request, from sending it to reading the whole
	// response. Default DefaultTimeout (5 s).
	Timeout time.Duration
	// MaxResponseBytes bounds the response body read from the identity service; a larger
	// answer fails with ErrUnavailable. Default DefaultMaxResponseBytes (1 MiB).
	MaxResponseBytes int64
	// Logger receives operational messages: failures of the identity service with the
	// application id, the endpoint without its query, the status and the elapsed time. At
	// debug level only, a refusal's body too (its first 512 bytes, with the token, the
	// password and the configured header, parameter and endpoint query values replaced by
	// "[FILTERED]"). Never a token or a password. Default slog.Default().
	Logger *slog.Logger
}

// Provider is the Custom Identity Provider. It is safe for concurrent use.
type Provider struct {
	name    string
	client  *http.Client
	timeout time.Duration
	maxBody int64
	log     *slog.Logger
}

var _ identity.Provider = (*Provider)(nil)

// New returns a Custom Identity Provider for cfg. It fails on negative durations or sizes.
func New(cfg Config) (*Provider, error) {
	if cfg.Timeout < 0 || cfg.MaxResponseBytes < 0 {
		return nil, errors.New("cidp: Config.Timeout and Config.MaxResponseBytes must not be negative")
	}
	if cfg.Name == "" {
		cfg.Name = "cidp"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Provider{
		name:    cfg.Name,
		client:  remoteid.SameOriginClient(cfg.Client),
		timeout: cfg.Timeout,
		maxBody: cfg.MaxResponseBytes,
		log:     cfg.Logger,
	}, nil
}

// Name returns the configured name ("cidp" by default).
func (p *Provider) Name() string { return p.name }

// AppConfig is an application's Custom Identity Provider configuration, stored as JSON in
// AppSettings.Providers under the provider's name. It mirrors the CIP tab of the
// ConnectyCube dashboard:
//
//	{
//	  "endpoint": "https://idp.example.com/verify",
//	  "method": "GET",
//	  "request_headers": {"Authorization": "Bearer #{login}"},
//	  "request_params": {"token": "#{login}"},
//	  "response_params": {"uid": "#{user.id}", "login": "#{user.login}", "email": "#{user.email}"}
//	}
//
// Request header and parameter values may contain the placeholders #{login} (the login the
// client sent: the external token; with provider=cidp, keys[token]), #{token} (the same
// value), #{password} and #{email}. A value is substituted raw and then encoded for where it
// goes: URL-encoded in the query and in forms, JSON-escaped in JSON bodies; a header value
// containing a control character (CR, LF, NUL, ...) is refused before any request is made.
//
// Response parameter values are templates over the JSON answer: "#{user.id}" is the value
// at that path (object keys separated by dots; a number indexes an array); text around
// placeholders is kept ("#{first} #{last}"). The mapped fields are uid (required), login,
// email, full_name, phone, website, avatar, external_id, custom_data (a string as it is, any
// other JSON value as compact JSON text) and tags (an array, or a comma-separated string).
// A field whose path is absent or null is left as it is; a login mapped to "" is ignored.
type AppConfig struct {
	// Endpoint is the absolute http or https URL of the verification service. It may carry
	// a query, to which GET parameters are appended.
	Endpoint string `json:"endpoint"`
	// Method is "GET" (default) or "POST".
	Method string `json:"method,omitempty"`
	// RequestHeaders are sent with every request, after placeholder substitution.
	RequestHeaders map[string]string `json:"request_headers,omitempty"`
	// RequestParams are sent in the query string (GET) or in the body (POST), after
	// placeholder substitution.
	RequestParams map[string]string `json:"request_params,omitempty"`
	// RequestFormat is the POST body encoding: "form" (default,
	// application/x-www-form-urlencoded) or "json" (a JSON object of strings).
	RequestFormat string `json:"request_format,omitempty"`
	// ResponseParams maps user fields to templates over the JSON answer. "uid" is required.
	ResponseParams map[string]string `json:"response_params"`
}

// Enable validates c and stores it in s as the configuration of p, and routes s's
// login/password credentials to p (s.PasswordProvider = p.Name()), as enabling CIdP does in
// ConnectyCube. s.Providers is copied, not modified in place.
func (p *Provider) Enable(s *identity.AppSettings, c AppConfig) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := s.SetProviderConfig(p.name, c); err != nil {
		return fmt.Errorf("cidp: %w", err)
	}
	s.PasswordProvider = p.name
	return nil
}

// requestVars are the placeholders request templates may use.
var requestVars = map[string]bool{"login": true, "token": true, "password": true, "email": true}

// Validate reports whether c is a usable configuration, naming the first problem.
func (c *AppConfig) Validate() error {
	_, err := c.compile()
	return err
}

type header struct {
	name string
	t    remoteid.Template
	vars []string
}

type param struct {
	name string
	t    remoteid.Template
}

type compiledConfig struct {
	endpoint *url.URL
	method   string
	json     bool
	headers  []header
	params   []param
	uid      remoteid.Template
	fields   map[string]remoteid.Template
}

func (c *AppConfig) compile() (*compiledConfig, error) {
	cc := &compiledConfig{fields: map[string]remoteid.Template{}}
	u, err := url.Parse(strings.TrimSpace(c.Endpoint))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return nil, errors.New("cidp: endpoint must be an absolute http or https URL without user info or fragment")
	}
	cc.endpoint = u
	switch strings.ToUpper(c.Method) {
	case "", http.MethodGet:
		cc.method = http.MethodGet
	case http.MethodPost:
		cc.method = http.MethodPost
	default:
		return nil, fmt.Errorf("cidp: method %q is not GET or POST", c.Method)
	}
	switch strings.ToLower(c.RequestFormat) {
	case "", "form":
	case "json":
		cc.json = true
	default:
		return nil, fmt.Errorf("cidp: request_format %q is not form or json", c.RequestFormat)
	}
	if cc.json && cc.method != http.MethodPost {
		return nil, errors.New("cidp: request_format json needs method POST")
	}
	for _, name := range sortedKeys(c.RequestHeaders) {
		if !validHeaderName(name) {
			return nil, fmt.Errorf("cidp: request header name %q is invalid", name)
		}
		t, err := requestTemplate("request header "+name, c.RequestHeaders[name])
		if err != nil {
			return nil, err
		}
		if !validHeaderValue(t.Expand(nil)) {
			return nil, fmt.Errorf("cidp: request header %s has an invalid value", name)
		}
		cc.headers = append(cc.headers, header{name: name, t: t, vars: t.Placeholders()})
	}
	for _, name := range sortedKeys(c.RequestParams) {
		if name == "" {
			return nil, errors.New("cidp: request param with an empty name")
		}
		t, err := requestTemplate("request param "+name, c.RequestParams[name])
		if err != nil {
			return nil, err
		}
		cc.params = append(cc.params, param{name: name, t: t})
	}
	for field, s := range c.ResponseParams {
		if field != "uid" && !remoteid.ProfileFields[field] {
			return nil, fmt.Errorf("cidp: response param %q is not a mappable user field", field)
		}
		t, err := remoteid.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("cidp: response param %s: %v", field, err)
		}
		if len(t.Placeholders()) == 0 {
			return nil, fmt.Errorf("cidp: response param %s has no #{path} placeholder", field)
		}
		if field == "uid" {
			cc.uid = t
		} else {
			cc.fields[field] = t
		}
	}
	if len(cc.uid.Placeholders()) == 0 {
		return nil, errors.New("cidp: response_params must map uid")
	}
	return cc, nil
}

func requestTemplate(what, s string) (remoteid.Template, error) {
	t, err := remoteid.Parse(s)
	if err != nil {
		return remoteid.Template{}, fmt.Errorf("cidp: %s: %v", what, err)
	}
	for _, name := range t.Placeholders() {
		if !requestVars[name] {
			return remoteid.Template{}, fmt.Errorf("cidp: %s: unknown placeholder #{%s} (known: login, token, password, email)", what, name)
		}
	}
	return t, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// validHeaderValue refuses control characters other than horizontal tab: CR and LF above
// all, which would split the header.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

const op = "cidp"

// Authenticate asks the application's identity service to verify the external token
// (Credentials.Login, or Params["token"] when the client named the provider) and returns
// Claims with Subject = the mapped uid, the mapped profile fields and RefreshProfile set:
// the first login creates a user without a password, linked to the uid; later logins find
// it by the uid and refresh the mapped fields.
//
// Errors: an application without configuration wraps ErrDisabled; a configuration that
// does not Validate is an internal error; missing or oversized credentials wrap
// ErrInvalidInput; a non-2xx answer wraps ErrRejectedByProvider (a child of
// ErrInvalidCredentials) in an *identity.Error whose Fields[""] is "Bad Authentication data.
// Unauthorized on remote side. Status: 401." (the status only: the answer's body is logged
// at debug level, never returned); an answer without uid, or whose mapped fields have the wrong type, wraps
// ErrRejectedByProvider with Fields["base"] "Custom Identity Provider uid is required" (or
// naming the field); a timeout, an unreachable service, an oversized or malformed answer
// wrap ErrUnavailable.
// A redirect to another scheme or host is not followed: its 3xx status is the answer. No
// error message contains the token or the password.
func (p *Provider) Authenticate(ctx context.Context, req *identity.AuthRequest) (*identity.Claims, error) {
	if req == nil || req.Application == nil {
		return nil, errors.New("cidp: AuthRequest without Application")
	}
	app := req.Application
	var ac AppConfig
	ok, err := app.Settings.ProviderConfig(p.name, &ac)
	if err != nil {
		return nil, fmt.Errorf("cidp: application %d: %w", app.ID, err)
	}
	if !ok {
		return nil, identity.NewError(op, identity.ErrDisabled, "cidp", "disabled")
	}
	cc, err := ac.compile()
	if err != nil {
		return nil, fmt.Errorf("cidp: application %d: %w", app.ID, err)
	}
	creds := &req.Credentials
	token := creds.Login
	if token == "" {
		token = creds.Params["token"]
	}
	vars := map[string]string{"login": token, "token": token, "password": creds.Password, "email": creds.Email}
	if token == "" && creds.Email == "" {
		return nil, identity.NewError(op, identity.ErrInvalidInput, "login", "blank")
	}
	for _, k := range []string{"login", "password", "email"} {
		if len(vars[k]) > MaxTokenBytes {
			return nil, &identity.Error{Op: op, Err: identity.ErrInvalidInput, Fields: []identity.FieldError{{Field: k, Code: "too_long", Limit: MaxTokenBytes}}}
		}
	}
	sec := newSecrets(append(cc.configValues(vars), token, creds.Password)...)
	hreq, err := p.buildRequest(cc, vars)
	if err != nil {
		return nil, err
	}
	doc, err := p.call(ctx, app.ID, cc, hreq, sec)
	if err != nil {
		return nil, err
	}
	return mapClaims(cc, doc)
}

// configValues returns the values of the configured request headers and parameters (with
// the placeholders substituted) and of the endpoint's query: API keys and client secrets
// live there, and an answer that echoes them must not carry them into a log line.
func (cc *compiledConfig) configValues(vars map[string]string) []string {
	var out []string
	for _, h := range cc.headers {
		out = append(out, h.t.Expand(vars))
	}
	for _, pr := range cc.params {
		out = append(out, pr.t.Expand(vars))
	}
	for _, vs := range cc.endpoint.Query() {
		out = append(out, vs...)
	}
	return out
}

func (p *Provider) buildRequest(cc *compiledConfig, vars map[string]string) (*http.Request, error) {
	u := *cc.endpoint
	var body io.Reader
	var contentType string
	if len(cc.params) > 0 {
		if cc.json {
			m := make(map[string]string, len(cc.params))
			for _, pr := range cc.params {
				m[pr.name] = pr.t.Expand(vars)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(m); err != nil {
				return nil, fmt.Errorf("cidp: encoding request: %v", err)
			}
			body, contentType = &buf, "application/json"
		} else {
			form := url.Values{}
			for _, pr := range cc.params {
				form.Set(pr.name, pr.t.Expand(vars))
			}
			enc := form.Encode()
			if cc.method == http.MethodGet {
				if u.RawQuery != "" {
					u.RawQuery += "&" + enc
				} else {
					u.RawQuery = enc
				}
			} else {
				body, contentType = strings.NewReader(enc), "application/x-www-form-urlencoded"
			}
		}
	} else if cc.method == http.MethodPost {
		if cc.json {
			body, contentType = strings.NewReader("{}"), "application/json"
		} else {
			body, contentType = strings.NewReader(""), "application/x-www-form-urlencoded"
		}
	}
	hreq, err := http.NewRequest(cc.method, u.String(), body)
	if err != nil {
		// The endpoint was validated; only the parameters changed. Say nothing of them.
		return nil, errors.New("cidp: cannot build the verification request")
	}
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("User-Agent", "identity-cidp")
	if contentType != "" {
		hreq.Header.Set("Content-Type", contentType)
	}
	for _, h := range cc.headers {
		v := h.t.Expand(vars)
		if !validHeaderValue(v) {
			field := "login"
			for _, name := range h.vars {
				if !validHeaderValue(vars[name]) {
					field = name
					break
				}
			}
			if field == "token" {
				field = "login"
			}
			return nil, identity.NewError(op, identity.ErrInvalidInput, field, "invalid")
		}
		if strings.EqualFold(h.name, "Host") {
			hreq.Host = v
			continue
		}
		hreq.Header.Set(h.name, v)
	}
	return hreq, nil
}

// call sends hreq and returns the decoded JSON answer of a 2xx response.
func (p *Provider) call(ctx context.Context, appID int64, cc *compiledConfig, hreq *http.Request, sec secrets) (any, error) {
	where := safeURL(cc.endpoint)
	start := time.Now()
	tctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	resp, err := p.client.Do(hreq.WithContext(tctx))
	if err != nil {
		return nil, p.transportError(ctx, tctx, appID, where, start, err, sec)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The caller gets the status only: the body can name internal hosts, echo
		// configuration or carry whatever the service chose to say. It is logged at debug
		// level, bounded and redacted.
		level := slog.LevelDebug
		if resp.StatusCode >= 500 || (resp.StatusCode >= 300 && resp.StatusCode < 400) {
			level = slog.LevelWarn
		}
		p.log.LogAttrs(ctx, level, "cidp: identity service refused the credentials", slog.Int64("app_id", appID),
			slog.String("endpoint", where), slog.Int("status", resp.StatusCode), slog.Duration("elapsed", time.Since(start)))
		if p.log.Enabled(ctx, slog.LevelDebug) {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, maxLoggedBody))
			p.log.LogAttrs(ctx, slog.LevelDebug, "cidp: identity service refusal body", slog.Int64("app_id", appID),
				slog.String("endpoint", where), slog.String("body", remoteid.Truncate(sec.redactCut(string(b), len(b) == maxLoggedBody), 512)))
		}
		return nil, remoteRefusal(resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, p.maxBody+1))
	if err != nil {
		return nil, p.transportError(ctx, tctx, appID, where, start, err, sec)
	}
	if int64(len(b)) > p.maxBody {
		p.log.LogAttrs(ctx, slog.LevelWarn, "cidp: identity service answer too large",
			slog.Int64("app_id", appID), slog.String("endpoint", where), slog.Int64("max_bytes", p.maxBody))
		return nil, fmt.Errorf("cidp: identity service answer exceeds %d bytes: %w", p.maxBody, identity.ErrUnavailable)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil || dec.More() {
		p.log.LogAttrs(ctx, slog.LevelWarn, "cidp: identity service answer is not JSON",
			slog.Int64("app_id", appID), slog.String("endpoint", where), slog.Int("status", resp.StatusCode))
		return nil, fmt.Errorf("cidp: identity service answered status %d with malformed JSON: %w", resp.StatusCode, identity.ErrUnavailable)
	}
	p.log.LogAttrs(ctx, slog.LevelDebug, "cidp: identity service verified the credentials",
		slog.Int64("app_id", appID), slog.String("endpoint", where), slog.Duration("elapsed", time.Since(start)))
	return doc, nil
}

// transportError classifies a failed exchange without repeating the request URL (which
// holds the token for GET).
func (p *Provider) transportError(ctx, tctx context.Context, appID int64, where string, start time.Time, err error, sec secrets) error {
	if ctx.Err() != nil {
		return fmt.Errorf("cidp: verification abandoned: %w", ctx.Err())
	}
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err
	}
	var te interface{ Timeout() bool }
	timeout := tctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &te) && te.Timeout()
	msg := sec.redact(cause.Error())
	if timeout {
		msg = "no answer within " + p.timeout.String()
	}
	p.log.LogAttrs(ctx, slog.LevelWarn, "cidp: identity service unavailable",
		slog.Int64("app_id", appID), slog.String("endpoint", where),
		slog.String("cause", msg), slog.Duration("elapsed", time.Since(start)))
	return fmt.Errorf("cidp: identity service at %s: %s: %w", where, msg, identity.ErrUnavailable)
}

// maxLoggedBody bounds the part of a refusal body that is read for the debug log.
const maxLoggedBody = 4 << 10

// remoteRefusal is ConnectyCube's error for a non-2xx answer of the identity service,
// without the answer's body (see call).
func remoteRefusal(status int) error {
	return &identity.Error{Op: op, Err: identity.ErrRejectedByProvider, Fields: []identity.FieldError{{Code: "remote_refused", Limit: status}}}
}

// safeURL renders u without query, fragment or user info.
func safeURL(u *url.URL) string {
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return v.String()
}

// secrets are the credential values that must not appear in messages, in the forms they
// can take in a URL, a form or a JSON document.
type secrets []string

// minRedact is the shortest value redacted: shorter values ("x", the "any password" the
// CIdP flow asks clients to send) carry no secret and would mangle the text.
const minRedact = 4

func newSecrets(values ...string) secrets {
	var s secrets
	for _, v := range values {
		if len(v) < minRedact {
			continue
		}
		forms := []string{v, url.QueryEscape(v), url.PathEscape(v)}
		if j, err := json.Marshal(v); err == nil {
			forms = append(forms, strings.Trim(string(j), `"`))
		}
		for _, f := range forms {
			if !containsString(s, f) {
				s = append(s, f)
			}
		}
	}
	// Longest first, so that a form containing another is replaced whole.
	sort.Slice(s, func(i, j int) bool { return len(s[i]) > len(s[j]) })
	return s
}

func containsString(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (s secrets) redact(text string) string {
	for _, v := range s {
		text = strings.ReplaceAll(text, v, "[FILTERED]")
	}
	return text
}

// redactCut is redact for a text cut short (cut true): the longest beginning of a secret
// that ends the text is redacted too.
func (s secrets) redactCut(text string, cut bool) string {
	text = s.redact(text)
	if !cut {
		return text
	}
	longest := 0
	for _, v := range s {
		for i := max(0, len(text)-len(v)+1); i <= len(text)-max(minRedact, longest+1); i++ {
			if strings.HasPrefix(v, text[i:]) {
				longest = len(text) - i
				break
			}
		}
	}
	if longest == 0 {
		return text
	}
	return text[:len(text)-longest] + "[FILTERED]"
}

// mapClaims applies the response mapping to the answer.
func mapClaims(cc *compiledConfig, doc any) (*identity.Claims, error) {
	uidErr := identity.NewError(op, identity.ErrRejectedByProvider, "uid", "blank")
	v, ok, err := cc.uid.Render(doc)
	if err != nil || !ok {
		return nil, uidErr
	}
	uid, err := remoteid.ScalarString(v)
	if err != nil {
		return nil, uidErr
	}
	uid = strings.TrimSpace(uid)
	if uid == "" {
		return nil, uidErr
	}
	if len(uid) > identity.MaxExternalIDLength || !utf8.ValidString(uid) {
		return nil, &identity.Error{Op: op, Err: identity.ErrRejectedByProvider, Fields: []identity.FieldError{{Field: "uid", Code: "too_long", Limit: identity.MaxExternalIDLength}}}
	}
	in, err := remoteid.MapProfile(cc.fields, doc, op, identity.ErrRejectedByProvider)
	if err != nil {
		return nil, err
	}
	return &identity.Claims{Subject: uid, Profile: in, RefreshProfile: true}, nil
}
