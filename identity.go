package identity

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"log/slog"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
)

// Application is a tenant: every user and session belongs to one. Clients identify it by ID
// and AuthKey; AuthSecret signs session requests of older SDKs.
type Application struct {
	ID         int64
	Name       string
	AuthKey    string
	AuthSecret string
	Settings   AppSettings
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// AppSettings are an application's permissions and limits. The zero value is the
// ConnectyCube default behaviour with this project's default lifetimes.
type AppSettings struct {
	// DenyAutoCreate is ConnectyCube's "Session creation without an existing user entity"
	// set to Deny. Default false (Allow): a session request with an unknown login or email
	// and a password creates that user, as the ConnectyCube documentation describes. Setting
	// it to true is the recommended hardening: an unknown user then fails exactly like a
	// wrong password.
	DenyAutoCreate bool `json:"deny_auto_create,omitempty"`
	// SessionIdle is how long a session lives after its last request. Default 2 h.
	SessionIdle time.Duration `json:"session_idle,omitempty"`
	// GuestLifetime is how long a guest user and its session live. Default 24 h.
	GuestLifetime time.Duration `json:"guest_lifetime,omitempty"`
	// PasswordPolicy bounds passwords (default 8–128 characters).
	PasswordPolicy PasswordPolicy `json:"password_policy,omitempty"`
	// DisableUserList turns off "Allow to retrieve a list of users via API" (default: allowed).
	DisableUserList bool `json:"disable_user_list,omitempty"`
	// DisableUsersV1 is ConnectyCube's "Disable List Users API V1" (default false: V1
	// enabled). The core does not read it: the HTTP adapter turns its V1 user endpoints (the
	// list, the lookups and other users by id) off with it.
	DisableUsersV1 bool `json:"disable_users_v1,omitempty"`
	// PasswordProvider, when set, routes login/email + password credentials to the named
	// provider instead of the local password provider (ConnectyCube routes them to the Custom
	// Identity Provider when it is enabled).
	PasswordProvider string `json:"password_provider,omitempty"`
	// Providers holds each provider's per-application configuration, by provider name, in
	// the JSON form the provider documents.
	Providers map[string]json.RawMessage `json:"providers,omitempty"`
	// ResetEmail overrides the reset service's default message (package passwordreset),
	// field by field, for this application's password reset mail (see EmailTemplate).
	// Default: none.
	ResetEmail EmailTemplate `json:"reset_email,omitzero"`
	// LocalSignUp says whether SignUp (POST /users), a session's auto sign-up and a guest's
	// upgrade may create local password accounts (refused, an auto sign-up fails like an
	// unknown login under DenyAutoCreate). The default, LocalSignUpDefault, allows them unless
	// PasswordProvider routes logins to another provider (a Custom Identity Provider): an
	// account created locally could otherwise take the login or email of a future user of
	// that provider.
	LocalSignUp LocalSignUp `json:"local_sign_up,omitempty"`
	// BlobQuota bounds each user's files (see BlobQuota). Default 100 files and 100 MiB.
	BlobQuota BlobQuota `json:"blob_quota,omitzero"`
	// HideContactInfo hides the email and phone of other users in lists and lookups: a
	// session sees them only on its own user. Default false (ConnectyCube shows them).
	HideContactInfo bool `json:"hide_contact_info,omitempty"`
	// RequireSignature refuses unsigned session requests (Signature empty) with
	// ErrInvalidSignature, for deployments whose clients all sign with the AuthSecret.
	// Default false: the current ConnectyCube SDKs do not sign.
	RequireSignature bool `json:"require_signature,omitempty"`
	// EmailChangeNeedsPassword makes a change of a user's own email need the correct
	// OldPassword, like a password change. Default false (ConnectyCube asks for none).
	EmailChangeNeedsPassword bool `json:"email_change_needs_password,omitempty"`
}

// LocalSignUp is the AppSettings.LocalSignUp switch.
type LocalSignUp string

// LocalSignUp values.
const (
	// LocalSignUpDefault allows local sign-up unless AppSettings.PasswordProvider is set.
	LocalSignUpDefault LocalSignUp = ""
	// LocalSignUpAllow allows local sign-up whatever the PasswordProvider.
	LocalSignUpAllow LocalSignUp = "allow"
	// LocalSignUpDeny refuses local sign-up.
	LocalSignUpDeny LocalSignUp = "deny"
)

// EmailTemplate is an application's password reset message (AppSettings.ResetEmail; package
// passwordreset renders it). Subject and Text are text/template templates, HTML an
// html/template template; an empty field takes the reset service's default. Each is executed
// with these fields:
//
//	.AppName    the application's name
//	.Email      the user's email address
//	.Login      the user's login ("" when none)
//	.Link       the reset link (absolute URL)
//	.ValidFor   the link's lifetime in words: "1 hour", "30 minutes"
//	.ExpiresAt  when the link stops working (time.Time, UTC)
//
// The rendered subject is folded onto one line.
type EmailTemplate struct {
	Subject string `json:"subject,omitempty"`
	Text    string `json:"text,omitempty"`
	HTML    string `json:"html,omitempty"`
}

// checkResetEmail validates an application's reset message: every field set parses and
// executes with sample values of the fields EmailTemplate documents, so that a template
// naming another field is refused when it is stored rather than when a mail is due.
func checkResetEmail(op string, t EmailTemplate) error {
	sample := struct {
		AppName, Email, Login, Link, ValidFor string
		ExpiresAt                             time.Time
	}{"app", "user@example.com", "", "https://example.com/password_reset?token=0", "1 hour", time.Time{}}
	for _, f := range []struct {
		name, src string
		html      bool
	}{{"subject", t.Subject, false}, {"text", t.Text, false}, {"html", t.HTML, true}} {
		if strings.TrimSpace(f.src) == "" {
			continue
		}
		var err error
		if f.html {
			var tm *htmltemplate.Template
			if tm, err = htmltemplate.New(f.name).Option("missingkey=error").Parse(f.src); err == nil {
				err = tm.Execute(io.Discard, sample)
			}
		} else {
			var tm *texttemplate.Template
			if tm, err = texttemplate.New(f.name).Option("missingkey=error").Parse(f.src); err == nil {
				err = tm.Execute(io.Discard, sample)
			}
		}
		if err != nil {
			return NewError(op, ErrInvalidInput, "reset_email", "invalid")
		}
	}
	return nil
}

// checkSettings validates the settings an application is created or updated with.
func checkSettings(op string, s AppSettings) error {
	switch s.LocalSignUp {
	case LocalSignUpDefault, LocalSignUpAllow, LocalSignUpDeny:
	default:
		return NewError(op, ErrInvalidInput, "local_sign_up", "invalid")
	}
	return checkResetEmail(op, s.ResetEmail)
}

// localSignUp reports whether local password accounts may be created.
func (s AppSettings) localSignUp() bool {
	switch s.LocalSignUp {
	case LocalSignUpAllow:
		return true
	case LocalSignUpDeny:
		return false
	default:
		return s.PasswordProvider == ""
	}
}

// BlobQuota bounds the files of one user of an application. Zero fields mean the defaults;
// a negative field means no limit.
type BlobQuota struct {
	// MaxFiles bounds how many files a user may hold (any state but deleting). Default 100.
	MaxFiles int `json:"max_files,omitempty"`
	// MaxBytes bounds the bytes of a user's stored files together. Default 100 MiB.
	MaxBytes int64 `json:"max_bytes,omitempty"`
}

func (s AppSettings) idle() time.Duration {
	if s.SessionIdle <= 0 {
		return 2 * time.Hour
	}
	return s.SessionIdle
}

func (s AppSettings) guestLifetime() time.Duration {
	if s.GuestLifetime <= 0 {
		return 24 * time.Hour
	}
	return s.GuestLifetime
}

// Config configures an Identity. New fills the documented defaults.
type Config struct {
	// Store persists everything. Required.
	Store Store
	// Hasher hashes passwords (provider/password). Required.
	Hasher PasswordHasher
	// Providers are the credential verifiers, by Name. The "password" provider handles
	// login/email + password and "guest" handles guest requests; names must be unique.
	Providers []Provider
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives operational messages (never secrets). Default slog.Default().
	Logger *slog.Logger
	// ActivityInterval bounds how often a session's activity is written to the Store: a
	// validated token writes at most once per interval. Expiry is therefore exact within
	// this process and precise to ActivityInterval across processes and restarts (a session
	// can be judged expired up to ActivityInterval early there). Default 1 min.
	ActivityInterval time.Duration
	// RecheckInterval is how long a validated session, or an application, is trusted from
	// memory before the Store is read again; it bounds how long a session revoked, a user
	// deleted, or application settings changed through another process take to apply here
	// when no Notifier tells it sooner. Default 5 s. Changes made through this Identity take
	// effect at once.
	RecheckInterval time.Duration
	// MaxCachedSessions bounds the in-memory session cache. Default 100 000.
	MaxCachedSessions int
	// AbsoluteSessionLifetime ends a session this long after creation however active it is.
	// Default 30 days.
	AbsoluteSessionLifetime time.Duration
	// SignatureWindow is how far a signed request's timestamp may be from now. Default 60 min.
	SignatureWindow time.Duration
	// Notifier, when set, carries this Identity's cache invalidations to the other processes
	// sharing the Store and theirs to it, so that changes made elsewhere apply here at once
	// rather than within RecheckInterval (see Notifier). New starts listening in the
	// background until Shutdown, subscribing again after failures; the channel going down
	// is logged at Warn, coming back at Info. Default none.
	Notifier Notifier
}

// Identity is the service an application holds: sessions, users and providers over a Store.
// It is safe for concurrent use.
type Identity struct {
	cfg       Config
	store     Store
	hasher    PasswordHasher
	providers map[string]Provider
	log       *slog.Logger
	cache     *sessionCache
	apps      appCache
	hooks     []Hooks
	notify    notifyState

	// background is the parent context of the janitors; Shutdown cancels it (under mu, so
	// that StartJanitor starts none after) and waits for janitors.
	mu         sync.Mutex
	background context.Context
	shutDown   context.CancelFunc
	janitors   sync.WaitGroup

	// stats counts the session cache's hits and misses (Stats).
	stats cacheStats
}

// New validates cfg, fills defaults and returns an Identity. It does not touch the Store.
func New(cfg Config) (*Identity, error) {
	if cfg.Store == nil {
		return nil, errors.New("identity: Config.Store is required")
	}
	if cfg.Hasher == nil {
		return nil, errors.New("identity: Config.Hasher is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ActivityInterval == 0 {
		cfg.ActivityInterval = time.Minute
	}
	if cfg.RecheckInterval == 0 {
		cfg.RecheckInterval = 5 * time.Second
	}
	if cfg.MaxCachedSessions == 0 {
		cfg.MaxCachedSessions = 100000
	}
	if cfg.AbsoluteSessionLifetime == 0 {
		cfg.AbsoluteSessionLifetime = 30 * 24 * time.Hour
	}
	if cfg.SignatureWindow == 0 {
		cfg.SignatureWindow = 60 * time.Minute
	}
	if cfg.ActivityInterval < 0 || cfg.RecheckInterval < 0 || cfg.MaxCachedSessions < 0 ||
		cfg.AbsoluteSessionLifetime < 0 || cfg.SignatureWindow < 0 {
		return nil, errors.New("identity: Config durations and sizes must not be negative")
	}
	id := &Identity{
		cfg:       cfg,
		store:     cfg.Store,
		hasher:    cfg.Hasher,
		providers: map[string]Provider{},
		log:       cfg.Logger,
		cache:     newSessionCache(cfg.MaxCachedSessions),
	}
	id.background, id.shutDown = context.WithCancel(context.Background())
	for _, p := range cfg.Providers {
		if p == nil {
			return nil, errors.New("identity: nil provider in Config.Providers")
		}
		name := p.Name()
		if name == "" {
			return nil, errors.New("identity: provider with an empty name")
		}
		if _, dup := id.providers[name]; dup {
			return nil, fmt.Errorf("identity: duplicate provider %q", name)
		}
		id.providers[name] = p
	}
	if cfg.Notifier != nil {
		id.janitors.Add(1)
		go func() {
			defer id.janitors.Done()
			id.listen(id.background)
		}()
	}
	return id, nil
}

func (id *Identity) now() time.Time { return id.cfg.Now().UTC() }

// CreateApplication creates an application with fresh random credentials: AuthKey (16
// random bytes, hex) and AuthSecret (32 random bytes, hex). The name is trimmed and must
// not be blank nor longer than 200 characters (an *Error wrapping
// ErrInvalidInput naming "name"); settings are checked as by UpdateApplicationSettings.
func (id *Identity) CreateApplication(ctx context.Context, name string, settings AppSettings) (*Application, error) {
	name, err := checkAppName("create application", name)
	if err != nil {
		return nil, err
	}
	if err := checkSettings("create application", settings); err != nil {
		return nil, err
	}
	now := id.now()
	app := &Application{
		Name:       name,
		AuthKey:    randomHex(16),
		AuthSecret: randomHex(32),
		Settings:   settings,
		CreatedAt:  now,
		UpdatedAt:  now,
	}
	if err := id.store.CreateApplication(ctx, app); err != nil {
		return nil, err
	}
	return app, nil
}

// Application returns the application with appID, or ErrApplicationNotFound.
func (id *Identity) Application(ctx context.Context, appID int64) (*Application, error) {
	return id.application(ctx, appID)
}

// application returns a copy of application appID. Applications are cached like sessions:
// trusted from memory for Config.RecheckInterval, so that a session request or a login does
// not read the application on every call; a change made through this Identity applies at
// once, one made elsewhere within RecheckInterval.
func (id *Identity) application(ctx context.Context, appID int64) (*Application, error) {
	if appID <= 0 {
		return nil, ErrApplicationNotFound
	}
	now := id.now()
	id.apps.mu.Lock()
	e, ok := id.apps.m[appID]
	gen := id.apps.gen
	id.apps.mu.Unlock()
	if ok && now.Sub(e.checked) < id.cfg.RecheckInterval && !now.Before(e.checked) {
		app := *e.app
		return &app, nil
	}
	app, err := id.store.Application(ctx, appID)
	if err != nil {
		return nil, err
	}
	cached := *app
	id.apps.mu.Lock()
	if id.apps.m == nil || len(id.apps.m) >= 10000 {
		id.apps.m = map[int64]appEntry{}
	}
	if id.apps.gen == gen {
		// Not when an application was forgotten meanwhile: this read may predate the change.
		id.apps.m[appID] = appEntry{app: &cached, checked: now}
	}
	id.apps.mu.Unlock()
	return app, nil
}

// appCache holds applications read recently (see application).
type appCache struct {
	mu  sync.Mutex
	m   map[int64]appEntry
	gen uint64 // counts forget and clear calls
}

type appEntry struct {
	app     *Application
	checked time.Time
}

func (c *appCache) forget(appID int64) {
	c.mu.Lock()
	c.gen++
	delete(c.m, appID)
	c.mu.Unlock()
}

// ApplicationByAuthKey returns the application whose auth key is key (compared in constant
// time after the lookup), or ErrApplicationNotFound.
func (id *Identity) ApplicationByAuthKey(ctx context.Context, key string) (*Application, error) {
	if key == "" || len(key) > 256 {
		return nil, ErrApplicationNotFound
	}
	app, err := id.store.ApplicationByAuthKey(ctx, key)
	if err != nil {
		return nil, err
	}
	if !constantTimeEqual(app.AuthKey, key) {
		return nil, ErrApplicationNotFound
	}
	return app, nil
}

// UpdateApplicationSettings replaces the settings of application appID, the per-provider
// configurations in Settings.Providers included (each provider package's Enable function
// fills them in; read the current ones with Application), and returns the application. The
// new settings apply in this process at once (in others within Config.RecheckInterval).
func (id *Identity) UpdateApplicationSettings(ctx context.Context, appID int64, settings AppSettings) (*Application, error) {
	if err := checkSettings("update application", settings); err != nil {
		return nil, err
	}
	// Cached sessions hold no settings (a session's lifetimes are fixed when it is created):
	// forgetting the cached application, as updateApplication does, is enough.
	return id.updateApplication(ctx, appID, func(app *Application) { app.Settings = settings })
}

// DeleteExpired deletes expired sessions, expired guest users (with their sessions),
// spent nonces and expired password reset tokens, as of the Identity's clock, and then runs
// the Sweep hooks of the packages built on the Identity (file storage removes its stale
// files there). It is safe to call from several processes.
func (id *Identity) DeleteExpired(ctx context.Context) (Purged, error) {
	p, err := id.store.DeleteExpired(ctx, id.now())
	if err == nil && (p.Sessions > 0 || p.Guests > 0) {
		id.cache.clear()
		id.publish(ctx, Invalidation{All: true})
	}
	if err == nil {
		err = id.sweepHooks(ctx, id.now())
	}
	return p, err
}

// StartJanitor runs DeleteExpired every interval (default 10 min when interval <= 0) until
// the returned stop function is called or Shutdown; both wait for a running sweep to finish
// (cancelling its context). Errors are logged. Starting the janitor is optional: nothing else
// depends on it. After Shutdown it starts nothing and returns a stop function that does
// nothing.
func (id *Identity) StartJanitor(interval time.Duration) (stop func()) {
	if interval <= 0 {
		interval = 10 * time.Minute
	}
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.background.Err() != nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(id.background)
	done := make(chan struct{})
	id.janitors.Add(1)
	go func() {
		defer id.janitors.Done()
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p, err := id.DeleteExpired(ctx)
				if err != nil && ctx.Err() == nil {
					id.log.Error("identity: janitor sweep failed", "err", err)
				} else if err == nil {
					id.log.Debug("identity: janitor sweep", "sessions", p.Sessions, "guests", p.Guests, "nonces", p.Nonces)
				}
			}
		}
	}()
	return sync.OnceFunc(func() {
		cancel()
		<-done
	})
}

// Shutdown stops every goroutine the Identity started, and through the Shutdown hooks those
// of the packages built on it. The janitors of StartJanitor stop (a running sweep is
// cancelled and waited for) and no new one starts; then the hooks run (package
// passwordreset's stops its mail workers: new reset requests get ErrUnavailable, queued mails
// are still sent until ctx is done, and then the sends in progress are cancelled). It
// returns ctx.Err() if ctx ended first, else nil (or the first hook's error). It does not
// close the Store; everything else keeps working. It is safe to call concurrently and more
// than once; calling it again waits again.
func (id *Identity) Shutdown(ctx context.Context) error {
	id.stopJanitors()
	return id.shutdownHooks(ctx)
}

// stopJanitors stops every janitor (cancelling a running sweep) and refuses new ones.
func (id *Identity) stopJanitors() {
	id.mu.Lock()
	id.shutDown()
	id.mu.Unlock()
	id.janitors.Wait()
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("identity: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// newUID returns a 24-hex-character identifier, the shape of ConnectyCube's "_id".
func newUID() string { return randomHex(12) }
