// Package firebase provides the "firebase_phone" and "firebase_email" providers: sign-in with
// a Firebase Authentication ID token, the token a Firebase client gets from user.getIdToken()
// after phone (SMS) verification, email/password or any other Firebase sign-in method.
//
// A client sends the Firebase project id and the ID token as the provider's parameters
// ("firebase_phone[project_id]" and "firebase_phone[access_token]" on the ConnectyCube wire).
// The token is accepted only if every one of these holds:
//
//   - it is a compact JWS of at most Config.MaxTokenSize bytes, signed with RS256 by a key
//     that Google's securetoken key set (Config.KeySetURL) currently publishes, named by the
//     token's "kid" header;
//   - "iss" is https://securetoken.google.com/<project_id> and "aud" is exactly <project_id>;
//   - "exp" is in the future, "iat" and "auth_time" are present and not in the future
//     (each within Config.Leeway);
//   - "sub" (the Firebase uid) is a non-empty string of at most 128 characters;
//   - the project is one the application allows (AppConfig.ProjectIDs);
//   - for firebase_phone, "phone_number" is an E.164 number; for firebase_email, "email" is
//     present and, when AppConfig.RequireEmailVerified is set, "email_verified" is true.
//
// Anything else fails with an error wrapping identity.ErrInvalidCredentials whose message
// says only "firebase: invalid token"; the reason is logged at debug level, never with the
// token. Missing parameters fail with an *identity.Error wrapping identity.ErrInvalidInput
// that carries ConnectyCube's "Bad Authentication data. Invalid input parameters provided:
// ..." message. When the key set cannot be fetched and the token's key is not cached, the
// error wraps identity.ErrUnavailable.
//
// # Keys
//
// Signing keys are fetched from Config.KeySetURL on first use and cached for the response's
// Cache-Control max-age (between Config.MinRefreshInterval and 24 h; 1 h without one). A
// token naming a key that is not cached triggers a refetch (that is how a key rotation is
// picked up), at most once per Config.MinRefreshInterval, so a stream of forged tokens does
// not turn into a stream of requests to Google. When a refetch fails, keys already cached
// keep being used. The fetch runs in the background with a 10 s time limit, shared by every
// request waiting for it; a waiting request gives up when its context ends.
//
// # Accounts
//
// The Firebase uid ("sub") is the user's external account at the provider: a first sign-in
// creates a user and links (provider, uid) to it, and every later sign-in with that uid
// returns the same user, whatever the token's phone number or email then is. The profile is
// only used to create the user and is not refreshed afterwards; the user may change it with
// a profile update like any other user.
//
//   - firebase_phone creates a user whose phone, and login, are the digits of the phone
//     number without "+" ("+380505701234" gives "380505701234"), as ConnectyCube does. When
//     another user of the application already has that login (a password user who chose it,
//     or another Firebase account that had the number before), the new user is created
//     with the phone but without a login, so that nobody can keep a phone owner out by
//     taking the number as a login first; the user may set a login later.
//   - firebase_email creates a user with the token's email (lower-cased) and no login.
//
// Identity never merges a new external account into an existing user. When a user with the
// same email already exists, for example a password user who signed up with that email,
// the first firebase_email sign-in fails with an *identity.Error wrapping
// identity.ErrUserExists that names the field ("email": "has already been taken", HTTP 422)
// and nothing is created or linked. So a Firebase account, even one whose email is not
// verified, can never take over an existing account; the owner of both must keep signing in
// the way they signed up (or change that account's email first): linking a Firebase
// account to an existing user is an explicit operation that does not exist yet. (A
// firebase_phone sign-in can meet the same refusal on "login" only when another user takes
// the digits as a login between the check and the creation.) An unverified email can still
// reserve an address nobody uses yet in this application: set AppConfig.RequireEmailVerified
// to refuse unverified emails (recommended when the Firebase project allows email/password
// sign-up).
//
// The two providers link accounts separately: the same Firebase uid signing in once with
// firebase_phone and once with firebase_email gets two users. The uid is not qualified by
// the project: an application that allows several projects treats a uid as one account in
// all of them, so list only projects that share one user base (for example a project and
// its imported copy), never projects that others control.
//
// # Emulator
//
// The Firebase Auth emulator issues unsigned tokens ("alg": "none"). They are rejected
// unless Config.InsecureEmulator is set, which New logs as a warning; with it, anyone can
// sign in as anyone, so it is for local development only.
//
// # Error codes
//
// A missing parameter is a FieldError with code "missing" naming it
// ("firebase_phone[access_token]", "firebase_email[project_id]"), wrapping
// identity.ErrInvalidInput; the ConnectyCube adapter joins them into one message.
package firebase

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/jwks"
)

// Provider names.
const (
	PhoneProvider = "firebase_phone"
	EmailProvider = "firebase_email"
)

// DefaultKeySetURL is the JSON Web Key Set of Google's securetoken service, whose keys sign
// Firebase ID tokens.
const DefaultKeySetURL = "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com"

// Config configures a provider. Name is required; for the rest, the zero value means every
// default.
type Config struct {
	// Name selects the provider: PhoneProvider or EmailProvider. Required. An application
	// that accepts both passes two Providers to identity.New, one of each; each has its own
	// key cache (so the two fetch Google's keys separately).
	Name string
	// KeySetURL is where the signing keys are fetched (a JSON Web Key Set). Default
	// DefaultKeySetURL; tests and egress proxies point it elsewhere.
	KeySetURL string
	// HTTPClient fetches the key set. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock for token times and key caching. Default: the Identity's clock for
	// token times (identity.AuthRequest.Now) and time.Now for key caching.
	Now func() time.Time
	// Leeway is the clock skew tolerated on "exp", "iat", "auth_time" and "nbf". Default
	// 1 min; a negative value means none.
	Leeway time.Duration
	// MaxTokenSize bounds the ID token in bytes; longer tokens are rejected before parsing.
	// Default 8192 (Firebase ID tokens are about 1 KB, custom claims add at most 1 KB).
	MaxTokenSize int
	// MinRefreshInterval is the least time between two fetches of the key set triggered by
	// tokens naming an unknown key. Default 1 min.
	MinRefreshInterval time.Duration
	// InsecureEmulator accepts the unsigned ("alg": "none") tokens of the Firebase Auth
	// emulator. Anyone can forge them: never set it in production. Default false.
	InsecureEmulator bool
	// Logger receives rejection reasons (debug), key fetch failures (warn) and the emulator
	// warning. Default slog.Default().
	Logger *slog.Logger
}

// AppConfig is an application's configuration of one provider, stored as JSON in
// identity.AppSettings.Providers under the provider's name (see Enable). An application
// without one rejects every token for that provider.
type AppConfig struct {
	// ProjectIDs are the Firebase projects whose tokens the application accepts. See the
	// package documentation before listing more than one.
	ProjectIDs []string `json:"project_ids"`
	// RequireEmailVerified rejects firebase_email tokens whose "email_verified" claim is not
	// true. Ignored by firebase_phone. Default false, as ConnectyCube.
	RequireEmailVerified bool `json:"require_email_verified,omitempty"`
}

// maxProjectIDLength bounds project ids (Firebase's are 6 to 30 characters).
const maxProjectIDLength = 128

// validate reports a configuration that can never accept a token.
func (c AppConfig) validate() error {
	if len(c.ProjectIDs) == 0 {
		return errors.New("firebase: AppConfig.ProjectIDs is empty")
	}
	for _, id := range c.ProjectIDs {
		if id == "" || len(id) > maxProjectIDLength || strings.ContainsAny(id, "/ \t\r\n?#") {
			return fmt.Errorf("firebase: invalid project id %q", id)
		}
	}
	return nil
}

// Enable stores c in s as the application's configuration of p, replacing any previous one.
// s.Providers is copied, not modified in place. It fails on a configuration without valid
// project ids.
func (p *Provider) Enable(s *identity.AppSettings, c AppConfig) error {
	if err := c.validate(); err != nil {
		return err
	}
	if err := s.SetProviderConfig(p.name, c); err != nil {
		return fmt.Errorf("firebase: %w", err)
	}
	return nil
}

// appConfig reads the application's configuration of provider name. ok is false when there
// is none; a malformed one is an error (an operator mistake, not the client's).
func appConfig(app *identity.Application, name string) (c AppConfig, ok bool, err error) {
	ok, err = app.Settings.ProviderConfig(name, &c)
	if err != nil {
		return c, false, fmt.Errorf("firebase: application %d: %w", app.ID, err)
	}
	return c, ok, nil
}

// Provider is the firebase_phone or the firebase_email provider. Safe for concurrent use.
type Provider struct {
	name string
	v    *verifier
}

var _ identity.Provider = (*Provider)(nil)

// New returns the provider cfg.Name (PhoneProvider or EmailProvider). It does no I/O; keys
// are fetched on first use.
func New(cfg Config) (*Provider, error) {
	if cfg.Name != PhoneProvider && cfg.Name != EmailProvider {
		return nil, fmt.Errorf("firebase: Config.Name must be %q or %q", PhoneProvider, EmailProvider)
	}
	v, err := newVerifier(cfg)
	if err != nil {
		return nil, err
	}
	return &Provider{name: cfg.Name, v: v}, nil
}

// Name returns PhoneProvider or EmailProvider.
func (p *Provider) Name() string { return p.name }

// Authenticate verifies the ID token in req.Credentials.Params["access_token"] for the
// project in Params["project_id"] and returns Claims whose Subject is the Firebase uid and
// whose Profile is the user to create on first sign-in (see the package documentation).
func (p *Provider) Authenticate(ctx context.Context, req *identity.AuthRequest) (*identity.Claims, error) {
	projectID := strings.TrimSpace(req.Credentials.Params["project_id"])
	token := strings.TrimSpace(req.Credentials.Params["access_token"])
	if err := p.checkParams(projectID, token); err != nil {
		return nil, err
	}
	app := req.Application
	cfg, ok, err := appConfig(app, p.name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, p.reject(ctx, app, projectID, errNotEnabled)
	}
	if !slices.Contains(cfg.ProjectIDs, projectID) {
		return nil, p.reject(ctx, app, projectID, errProjectNotAllowed)
	}
	now := req.Now
	if p.v.now != nil {
		now = p.v.now()
	} else if now.IsZero() {
		now = time.Now()
	}
	tc, err := p.v.verify(ctx, token, projectID, now)
	if err != nil {
		if errors.Is(err, identity.ErrUnavailable) || errors.Is(err, context.Canceled) ||
			errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		return nil, p.reject(ctx, app, projectID, err)
	}
	c := &identity.Claims{Subject: tc.Subject}
	switch p.name {
	case PhoneProvider:
		digits, ok := phoneDigits(tc.PhoneNumber)
		if !ok {
			return nil, p.reject(ctx, app, projectID, errNoPhone)
		}
		phone := digits
		c.Profile.Phone = &phone
		free, err := loginFree(ctx, req.Users, digits)
		if err != nil {
			return nil, err
		}
		if free {
			login := digits
			c.Profile.Login = &login
		}
	case EmailProvider:
		email := strings.TrimSpace(tc.Email)
		if email == "" || len(email) > identity.MaxEmailLength || !strings.Contains(email, "@") {
			return nil, p.reject(ctx, app, projectID, errNoEmail)
		}
		if cfg.RequireEmailVerified && !tc.EmailVerified {
			return nil, p.reject(ctx, app, projectID, errEmailNotVerified)
		}
		c.Profile.Email = &email
	}
	return c, nil
}

// checkParams returns an error naming each missing request parameter with the code "missing".
func (p *Provider) checkParams(projectID, token string) error {
	var missing []identity.FieldError
	if token == "" {
		missing = append(missing, identity.FieldError{Field: p.name + "[access_token]", Code: "missing"})
	}
	if projectID == "" {
		missing = append(missing, identity.FieldError{Field: p.name + "[project_id]", Code: "missing"})
	}
	if len(missing) == 0 {
		return nil
	}
	return &identity.Error{Op: "authenticate", Err: identity.ErrInvalidInput, Fields: missing}
}

// reject logs why a token was refused and returns the error clients see.
func (p *Provider) reject(ctx context.Context, app *identity.Application, projectID string, reason error) error {
	if len(projectID) > maxProjectIDLength {
		projectID = projectID[:maxProjectIDLength] + "..."
	}
	p.v.log.DebugContext(ctx, "firebase: token rejected", "provider", p.name, "app_id", app.ID,
		"project_id", projectID, "reason", reason.Error())
	return &rejectError{reason: reason}
}

// rejectError is what a client learns about a refused token: nothing but that it is invalid.
// The reason is reachable with errors.Is for tests and logs.
type rejectError struct{ reason error }

func (e *rejectError) Error() string   { return "firebase: invalid token" }
func (e *rejectError) Unwrap() []error { return []error{identity.ErrInvalidCredentials, e.reason} }

// Reasons a token is refused.
var (
	errNotEnabled        = errors.New("provider not configured for the application")
	errProjectNotAllowed = errors.New("project not allowed for the application")
	errTooLarge          = errors.New("token too large")
	errMalformed         = errors.New("malformed token")
	errUnsigned          = errors.New("unsigned token (InsecureEmulator is off)")
	errNoKeyID           = errors.New("token has no key id")
	errUnknownKey        = jwks.ErrUnknownKey
	errRejected          = errors.New("token rejected by the OIDC verifier")
	errAudience          = errors.New("token audience is not exactly the project")
	errExpired           = errors.New("token expired")
	errNotYetValid       = errors.New("token not yet valid")
	errIssuedInFuture    = errors.New("token issued in the future")
	errAuthTimeInFuture  = errors.New("token auth_time in the future")
	errMissingTime       = errors.New("token lacks exp, iat or auth_time")
	errSubject           = errors.New("token subject empty, too long or invalid")
	errNoPhone           = errors.New("token has no valid phone_number")
	errNoEmail           = errors.New("token has no valid email")
	errEmailNotVerified  = errors.New("token email not verified")
)

// loginFree reports whether no user of the application has login. Without a UserFinder
// (a provider called outside Identity) the login is taken to be free: Identity still
// refuses a taken login when it creates the user.
func loginFree(ctx context.Context, users identity.UserFinder, login string) (bool, error) {
	if users == nil {
		return true, nil
	}
	_, err := users.UserByLogin(ctx, login)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, identity.ErrUserNotFound):
		return true, nil
	default:
		return false, fmt.Errorf("firebase: looking up login: %w", err)
	}
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{2,14}$`)

// phoneDigits returns the digits of an E.164 number without "+".
func phoneDigits(s string) (string, bool) {
	if !e164.MatchString(s) {
		return "", false
	}
	return s[1:], true
}
