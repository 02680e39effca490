package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// Credentials are what a client presents to become a user: a login or email with a password,
// a guest request, or a provider name with provider-specific parameters.
type Credentials struct {
	// Provider names the provider; "" means login/email + password (the provider named
	// "password", or the application's Settings.PasswordProvider when set).
	Provider string
	Login    string
	Email    string
	Password string
	// Guest asks for a new guest user (provider "guest").
	Guest    bool
	FullName string
	// Params holds provider-specific parameters by their wire names without the provider
	// prefix: for "firebase_phone" the keys "project_id" and "access_token"; for social
	// providers "token" and "secret" (from keys[token], keys[secret]).
	Params map[string]string
	// BeforeCreate, when not nil, is called right before Identity creates a user for these
	// credentials: an auto sign-up, a guest, or the first sign-in of an external account. An
	// error refuses the creation and is returned as it is (the HTTP adapter charges the
	// client's sign-up rate limit here, so that every way of creating an account counts as a
	// sign-up).
	BeforeCreate func(ctx context.Context) error
}

// beforeCreate runs c.BeforeCreate.
func (c *Credentials) beforeCreate(ctx context.Context) error {
	if c == nil || c.BeforeCreate == nil {
		return nil
	}
	return c.BeforeCreate(ctx)
}

// checkRouting refuses credentials that would escape the application's PasswordProvider:
// when an application routes logins to a provider (a Custom Identity Provider), a client
// must not name another provider for a login, email or password (in particular the local
// "password" provider, which would create local accounts that can take the login or email of
// a future user of that provider).
func (c *Credentials) checkRouting(app *Application) error {
	routed := app.Settings.PasswordProvider
	if routed == "" || c.Provider == "" || c.Provider == routed {
		return nil
	}
	if c.Provider == "password" || c.Login != "" || c.Email != "" || c.Password != "" {
		return NewError("authenticate", ErrUnknownProvider, "provider", "unsupported")
	}
	return nil
}

// providerName returns the provider that handles c for app.
func (c *Credentials) providerName(app *Application) string {
	switch {
	case c.Provider != "":
		return c.Provider
	case c.Guest:
		return "guest"
	case app.Settings.PasswordProvider != "":
		return app.Settings.PasswordProvider
	default:
		return "password"
	}
}

// AuthRequest is what a Provider is asked to verify.
type AuthRequest struct {
	// Application the credentials are presented to; its Settings.Providers holds the
	// provider's per-application configuration under the provider's name.
	Application *Application
	Credentials Credentials
	// Users looks users up within Application.
	Users UserFinder
	// Now is the Identity's clock.
	Now time.Time
}

// UserFinder looks users up within one application. Both methods return ErrUserNotFound when
// there is no such user; matching is case-insensitive.
type UserFinder interface {
	UserByLogin(ctx context.Context, login string) (*User, error)
	UserByEmail(ctx context.Context, email string) (*User, error)
}

// Claims is what a Provider proves. Exactly one of UserID, Subject, NewUser and Guest says
// who the user is:
//
//   - UserID: an existing local user the provider identified (the password provider).
//   - Subject: an external account id (a Firebase uid, a CIdP uid, an OIDC sub). Identity
//     finds the user linked to (Provider, Subject) or, on first sight, creates one from
//     Profile and links it. A collision of Profile's login or email with an existing user is
//     never merged: it fails with ErrUserExists naming the field.
//   - NewUser: create a local user from Profile with PasswordHash (auto sign-up on session
//     creation), subject to the application's DenyAutoCreate setting.
//   - Guest: create a guest user with Profile.FullName.
//
// Claims that set none of them, or more than one, are a bug of the provider: Identity
// refuses them with an error that wraps no sentinel of this package (an internal error, which
// the HTTP adapter logs and answers with 500), and creates or signs in nobody.
type Claims struct {
	// Provider is filled in by Identity with the provider's name.
	Provider string
	UserID   int64
	Subject  string
	NewUser  bool
	Guest    bool
	// Profile holds fields for a user to create, or to refresh on every login when
	// RefreshProfile is set (nil fields are left alone).
	Profile        UserInput
	RefreshProfile bool
	// PasswordHash is the hash for a NewUser.
	PasswordHash string
	// Rehash, when set with UserID, replaces the user's stored password hash (parameters
	// upgraded on a successful login).
	Rehash string
	// User, optional with UserID, is that user as the provider just read it through
	// AuthRequest.Users; Identity then does not read it again.
	User *User
}

// check reports claims that do not name exactly one of UserID, Subject, NewUser and Guest:
// a bug of the provider, refused as an internal error rather than guessed at.
func (c *Claims) check() error {
	n := 0
	for _, set := range []bool{c.UserID != 0, c.Subject != "", c.NewUser, c.Guest} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("claims set %d of UserID, Subject, NewUser and Guest, want exactly one", n)
	}
	return nil
}

// Provider turns credentials into Claims. Implementations must be safe for concurrent use;
// Authenticate must return an error wrapping ErrInvalidCredentials when the credentials do
// not prove an identity, ErrInvalidInput (in an *Error naming the parameters) when required
// parameters are missing or malformed, and ErrUnavailable when a remote dependency failed.
// Error messages must not contain the credentials.
type Provider interface {
	// Name is the provider's wire name ("password", "guest", "firebase_phone", ...). Unique
	// within a Config.
	Name() string
	Authenticate(ctx context.Context, req *AuthRequest) (*Claims, error)
}

// PasswordHasher hashes and verifies passwords. provider/password implements it with
// argon2id and a bound on concurrent hashing (ErrBusy beyond it).
type PasswordHasher interface {
	// Hash returns an encoded hash of password.
	Hash(ctx context.Context, password string) (string, error)
	// Verify reports whether password matches encoded, and whether encoded should be
	// replaced by a fresh Hash because its parameters differ from the current policy.
	Verify(ctx context.Context, password, encoded string) (match, rehash bool, err error)
}

type appUsers struct {
	store Store
	appID int64
}

func (f appUsers) UserByLogin(ctx context.Context, login string) (*User, error) {
	return f.store.UserByLogin(ctx, f.appID, login)
}

func (f appUsers) UserByEmail(ctx context.Context, email string) (*User, error) {
	return f.store.UserByEmail(ctx, f.appID, email)
}

// SetProviderConfig stores the JSON of v as s.Providers[name], the per-application
// configuration of the provider name, replacing any previous one. It sets a new map on s,
// so other copies of the settings (which share the old map) do not change. On error (v does
// not marshal) s is unchanged. Providers' Enable methods use it; so may a provider outside
// this module.
func (s *AppSettings) SetProviderConfig(name string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("identity: configuration of provider %q: %w", name, err)
	}
	m := make(map[string]json.RawMessage, len(s.Providers)+1)
	maps.Copy(m, s.Providers)
	m[name] = raw
	s.Providers = m
	return nil
}

// ProviderConfig decodes s.Providers[name] into v (a pointer). ok is false, and v untouched,
// when there is none (absent, empty or JSON null). A value that does not decode into v, or
// has fields v does not know, is an error (a mistake of whoever stored it, not the client's).
func (s *AppSettings) ProviderConfig(name string, v any) (ok bool, err error) {
	raw := bytes.TrimSpace(s.Providers[name])
	if len(raw) == 0 || string(raw) == "null" {
		return false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return false, fmt.Errorf("identity: configuration of provider %q: %w", name, err)
	}
	return true, nil
}
