package passwordreset

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/identitykit/identity"
)

// ErrInvalidToken means a password reset token is unknown, malformed, already used, replaced
// by a newer request, or expired, or that its user is gone or has another email now: the
// user has to ask for a new link. errors.Is(err, identity.ErrNotFound) is true for it.
var ErrInvalidToken error = invalidToken{}

type invalidToken struct{}

func (invalidToken) Error() string { return "passwordreset: invalid or expired token" }
func (invalidToken) Unwrap() error { return identity.ErrNotFound }

// Token is a stored password reset token. The token itself (64 hex characters, 256 bits from
// crypto/rand) is only ever in the reset link; the store keeps its SHA-256
// (identity.HashToken).
type Token struct {
	ID            int64
	ApplicationID int64
	UserID        int64
	// Email is the user's address (identity.NormalizeEmail form) the link was sent to: the
	// token is void once the user's email differs.
	Email     string
	TokenHash []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// TokenStore keeps password reset tokens (store/gormstore implements it, and deletes a user's
// tokens with the user and an application's with the application). Methods are safe for
// concurrent use.
type TokenStore interface {
	// PutResetToken stores t (ID assigned) as the only outstanding token of t.UserID: an
	// earlier token of that user is replaced in the same statement, so that after any number
	// of concurrent puts for one user exactly one of their tokens remains. A TokenHash already
	// stored for another user is an *identity.Error wrapping identity.ErrInvalidInput naming
	// "token".
	PutResetToken(ctx context.Context, t *Token) error
	// ResetTokenByHash returns the token whose TokenHash equals hash, expired or not (the
	// caller decides), or identity.ErrNotFound.
	ResetTokenByHash(ctx context.Context, hash []byte) (*Token, error)
	// ConsumeResetToken deletes and returns the token whose TokenHash equals hash if its
	// ExpiresAt is after now, in one atomic statement; otherwise it changes nothing and returns
	// identity.ErrNotFound. Of concurrent calls with one hash, at most one succeeds.
	ConsumeResetToken(ctx context.Context, hash []byte, now time.Time) (*Token, error)
	// DeleteResetTokens deletes every token of userID and returns how many it deleted.
	DeleteResetTokens(ctx context.Context, userID int64) (int, error)
	// DeleteExpiredResetTokens deletes the tokens whose ExpiresAt is not after now and returns
	// how many it deleted.
	DeleteExpiredResetTokens(ctx context.Context, now time.Time) (int, error)
}

// Store is what the Service needs of the Identity's store: the reset tokens, and the user of
// an address (the lookup the mail worker makes). store/gormstore implements it.
type Store interface {
	TokenStore
	// UserByEmail is identity.Store.UserByEmail: the user of application appID whose email is
	// email (identity.NormalizeEmail form), or identity.ErrUserNotFound.
	UserByEmail(ctx context.Context, appID int64, email string) (*identity.User, error)
}

// Config configures a Service. New fills the documented defaults. Sending needs Mailer and
// LinkURL; without a Mailer, Request returns identity.ErrDisabled while links already sent
// (by another process) still work.
type Config struct {
	// Store keeps the tokens: the Identity's store (the same value as identity.Config.Store).
	// Required.
	Store Store
	// Mailer delivers the reset mail and the email change notices. Default nil: no mail.
	Mailer Mailer
	// LinkURL is the absolute http(s) URL of the reset page, where the user sets the new
	// password: httpadapter serves it at "/password_reset" under the adapter's mount point,
	// e.g. "https://api.example.com/password_reset". The mail links to LinkURL with
	// "token=<64 hex characters>" added to its query. Required with Mailer.
	LinkURL string
	// Lifetime is how long a reset link works. Default 1 h.
	Lifetime time.Duration
	// Email is the default reset message; an empty field takes the built-in English text.
	// An application overrides it with identity.AppSettings.ResetEmail.
	Email identity.EmailTemplate
	// QueueSize bounds the reset requests waiting to be sent. A request that finds the queue
	// full gets identity.ErrBusy. Default 1000.
	QueueSize int
	// Workers is how many goroutines send mail. Requests for one address are always handled
	// by the same worker, in order, so the last mail a user receives carries the link that
	// works. Default 2.
	Workers int
	// SendTimeout bounds the handling of one request in a worker: the user lookup, the token
	// and the delivery. Default 30 s.
	SendTimeout time.Duration
	// PerEmail limits reset requests per application and address. Default a burst of 3, then
	// one every 10 minutes.
	PerEmail RateLimit
	// PerClient limits reset requests per client (the address the HTTP adapter passes).
	// Default a burst of 20, then one a minute.
	PerClient RateLimit
	// MaxTracked bounds the keys each rate limit tracks in memory. When it is full of recent
	// requests, requests with new keys are limited. Default 100 000.
	MaxTracked int
	// Limiter, when set, keeps the PerEmail and PerClient buckets instead of this process's
	// memory, so that several instances of a server share one budget per address and client.
	// ratelimit.ForReset adapts the limiters of package ratelimit (in memory, or in Redis
	// with ratelimit/redislimit) to it. While it fails, the in-memory buckets apply. Default
	// nil: in memory only.
	Limiter Limiter
	// Now is the clock; give it the Identity's (identity.Config.Now). Default time.Now.
	Now func() time.Time
	// Logger receives operational messages (never a token, a link or a password). Default
	// slog.Default().
	Logger *slog.Logger
}

// Service is password reset by email for the applications of one Identity. It is safe for
// concurrent use.
type Service struct {
	id       *identity.Identity
	cfg      Config
	log      *slog.Logger
	link     *url.URL
	tmpl     *templates
	perEmail *limiter
	perCli   *limiter
	queue    *mailQueue // nil without a Mailer
}

// New checks cfg, fills its defaults and returns the reset service of id. It registers hooks
// on id (identity.Identity.AddHooks), so call it once per Identity, before id serves
// requests: a password change (a reset, a user's own, the operator's) voids the user's reset
// tokens, an email change sends a notice to the old address (with a Mailer), id.DeleteExpired
// purges expired tokens, and id.Shutdown stops the mail workers. Workers start with the
// first mail.
func New(id *identity.Identity, cfg Config) (*Service, error) {
	const defaultQueue, defaultWorkers = 1000, 2
	if id == nil {
		return nil, errors.New("passwordreset: nil Identity")
	}
	if cfg.Store == nil {
		return nil, errors.New("passwordreset: Config.Store is required")
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = time.Hour
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = defaultQueue
	}
	if cfg.Workers == 0 {
		cfg.Workers = defaultWorkers
	}
	if cfg.SendTimeout == 0 {
		cfg.SendTimeout = 30 * time.Second
	}
	if cfg.PerEmail == (RateLimit{}) {
		cfg.PerEmail = RateLimit{Burst: 3, Interval: 10 * time.Minute}
	}
	if cfg.PerClient == (RateLimit{}) {
		cfg.PerClient = RateLimit{Burst: 20, Interval: time.Minute}
	}
	if cfg.MaxTracked == 0 {
		cfg.MaxTracked = 100000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Lifetime < 0 || cfg.QueueSize < 0 || cfg.Workers < 0 || cfg.SendTimeout < 0 || cfg.MaxTracked < 0 {
		return nil, errors.New("passwordreset: Config durations and sizes must not be negative")
	}
	for _, l := range []RateLimit{cfg.PerEmail, cfg.PerClient} {
		if l.Burst == 0 || (l.Burst > 0 && l.Interval <= 0) {
			return nil, errors.New("passwordreset: Config rate limits need a Burst of at least 1 and a positive Interval (a negative Burst turns a limit off)")
		}
	}
	s := &Service{id: id, cfg: cfg, log: cfg.Logger}
	tmpl, err := parse(withDefaults(cfg.Email, builtinEmail))
	if err != nil {
		return nil, fmt.Errorf("passwordreset: Config.Email: %w", err)
	}
	s.tmpl = tmpl
	if cfg.Mailer != nil {
		u, err := url.Parse(cfg.LinkURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
			return nil, errors.New("passwordreset: Config.LinkURL must be an absolute http or https URL without a fragment")
		}
		s.link = u
		s.perEmail = newLimiter(cfg.PerEmail, cfg.MaxTracked)
		s.perCli = newLimiter(cfg.PerClient, cfg.MaxTracked)
		s.queue = newMailQueue(cfg.Workers, cfg.QueueSize, s.process)
	}
	id.AddHooks(identity.Hooks{
		// A reset link mailed before a password change must not undo it.
		PasswordChanged: func(ctx context.Context, _, userID int64) error {
			_, err := cfg.Store.DeleteResetTokens(ctx, userID)
			return err
		},
		EmailChanged: s.noticeEmailChange,
		Sweep:        s.deleteExpired,
		Shutdown: func(ctx context.Context) error {
			if s.queue == nil {
				return nil
			}
			return s.queue.shutdown(ctx)
		},
	})
	return s, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Request asks for a reset link to be mailed to email in application appID (ConnectyCube's
// GET/POST /users/password/reset). It returns nil whether or not a user has that address, and
// does the same work either way: the request is only queued here, and a worker looks the
// user up, stores a new token (replacing any earlier one of the user) and sends the mail.
// Users without a password (guests, users of external providers) get no mail.
//
// client identifies the requester for the per-client rate limit (the HTTP adapter passes the
// remote IP address); "" skips that limit. A request over a rate limit also returns nil and
// sends nothing. appID is not checked here: pass the application of a validated session or
// auth key.
//
// Errors: a blank or malformed email is an *identity.Error wrapping identity.ErrInvalidInput
// naming "email"; identity.ErrDisabled without Config.Mailer; identity.ErrBusy when the queue
// is full; identity.ErrUnavailable after the Identity's Shutdown.
func (s *Service) Request(ctx context.Context, appID int64, email, client string) error {
	const op = "request password reset"
	if s.queue == nil {
		return identity.NewError(op, identity.ErrDisabled, "", "reset_off")
	}
	e := identity.NormalizeEmail(email)
	switch {
	case e == "":
		return identity.NewError(op, identity.ErrInvalidInput, "email", "blank")
	case len(e) > identity.MaxEmailLength || !identity.ValidEmail(e):
		return identity.NewError(op, identity.ErrInvalidInput, "email", "invalid")
	}
	if appID <= 0 {
		return identity.ErrApplicationNotFound
	}
	now := s.now()
	if client != "" && !s.allow(ctx, s.perCli, s.cfg.PerClient, "identity:reset:client:"+client, now) {
		s.log.InfoContext(ctx, "passwordreset: request over the per-client rate limit", "application_id", appID)
		return nil
	}
	// The address itself is not part of a key a shared limiter may store.
	sum := sha256.Sum256([]byte(e))
	if !s.allow(ctx, s.perEmail, s.cfg.PerEmail, fmt.Sprintf("identity:reset:email:%d:%x", appID, sum[:16]), now) {
		s.log.InfoContext(ctx, "passwordreset: request over the per-email rate limit", "application_id", appID)
		return nil
	}
	return s.queue.add(e, job{appID: appID, email: e})
}

// send handles one queued reset request in a worker: the lookup, the token and the mail.
func (s *Service) send(ctx context.Context, j job) error {
	app, err := s.id.Application(ctx, j.appID)
	if err != nil {
		if errors.Is(err, identity.ErrApplicationNotFound) {
			return nil
		}
		return err
	}
	u, err := s.cfg.Store.UserByEmail(ctx, app.ID, j.email)
	if errors.Is(err, identity.ErrUserNotFound) {
		s.log.Debug("passwordreset: request for an address without an account", "application_id", app.ID)
		return nil
	}
	if err != nil {
		return err
	}
	if u.IsGuest || u.PasswordHash == "" {
		s.log.Debug("passwordreset: request for an account without a password", "application_id", app.ID, "user_id", u.ID)
		return nil
	}
	now := s.now()
	token := newToken()
	t := &Token{
		ApplicationID: app.ID,
		UserID:        u.ID,
		Email:         identity.NormalizeEmail(u.Email),
		TokenHash:     identity.HashToken(token),
		CreatedAt:     now,
		ExpiresAt:     now.Add(s.cfg.Lifetime),
	}
	if err := s.cfg.Store.PutResetToken(ctx, t); err != nil {
		return err
	}
	link := *s.link
	q := link.Query()
	q.Set("token", token)
	link.RawQuery = q.Encode()
	msg, err := s.resetMail(app, mailData{
		AppName:   app.Name,
		Email:     u.Email,
		Login:     u.Login,
		Link:      link.String(),
		ValidFor:  words(s.cfg.Lifetime),
		ExpiresAt: t.ExpiresAt,
	})
	if err != nil {
		return err
	}
	if err := s.cfg.Mailer.Send(ctx, msg); err != nil {
		return err
	}
	s.log.Info("passwordreset: mail sent", "application_id", app.ID, "user_id", u.ID)
	return nil
}

// newToken returns a reset token: 256 bits from crypto/rand as 64 lower-case hex characters.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// validToken reports whether token has the form of a reset token: 64 lower-case hex
// characters.
func validToken(token string) bool {
	if len(token) != 64 {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// live returns the stored token behind token, its application and its user, or
// ErrInvalidToken when the token is malformed, unknown, expired, or its user is gone or has
// another email now.
func (s *Service) live(ctx context.Context, token string) (*Token, *identity.Application, *identity.User, error) {
	if !validToken(token) {
		return nil, nil, nil, ErrInvalidToken
	}
	t, err := s.cfg.Store.ResetTokenByHash(ctx, identity.HashToken(token))
	if errors.Is(err, identity.ErrNotFound) {
		return nil, nil, nil, ErrInvalidToken
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if !t.ExpiresAt.After(s.now()) {
		return nil, nil, nil, ErrInvalidToken
	}
	app, u, err := s.owner(ctx, t)
	if err != nil {
		return nil, nil, nil, err
	}
	return t, app, u, nil
}

// owner returns the application and the user of t, or ErrInvalidToken when either is gone or
// the user's email is no longer the one t was mailed to.
func (s *Service) owner(ctx context.Context, t *Token) (*identity.Application, *identity.User, error) {
	app, err := s.id.Application(ctx, t.ApplicationID)
	if errors.Is(err, identity.ErrApplicationNotFound) {
		return nil, nil, ErrInvalidToken
	}
	if err != nil {
		return nil, nil, err
	}
	u, err := s.id.Operator().User(ctx, app.ID, t.UserID)
	if errors.Is(err, identity.ErrUserNotFound) || errors.Is(err, identity.ErrApplicationNotFound) {
		return nil, nil, ErrInvalidToken
	}
	if err != nil {
		return nil, nil, err
	}
	if identity.NormalizeEmail(u.Email) != t.Email {
		return nil, nil, ErrInvalidToken
	}
	return app, u, nil
}

// Check returns the application and the user of a usable reset token (the reset page shows
// the application's name and the user's email), or ErrInvalidToken when the token is
// malformed, unknown, used, replaced by a newer request, expired, or its user is gone or
// changed email since. It changes nothing.
func (s *Service) Check(ctx context.Context, token string) (*identity.Application, *identity.User, error) {
	_, app, u, err := s.live(ctx, token)
	return app, u, err
}

// Reset sets the password of the user a reset token was mailed to. The application's
// password policy applies (an *identity.Error wrapping identity.ErrInvalidInput naming
// "password"; the token stays usable). On success the token is used up and the password is
// set as the operator sets it (identity.Operator.UpdateUser): every session of the user is
// revoked (also those cached by this process) and every other reset token of the user is
// deleted. A token that is not usable yields ErrInvalidToken, as from Check; of concurrent
// calls with one token exactly one succeeds.
func (s *Service) Reset(ctx context.Context, token, newPassword string) error {
	t, app, _, err := s.live(ctx, token)
	if err != nil {
		return err
	}
	// Checked before the token is used up, so that a refused password leaves it usable.
	if err := app.Settings.PasswordPolicy.Check(newPassword); err != nil {
		return err
	}
	if _, err := s.cfg.Store.ConsumeResetToken(ctx, t.TokenHash, s.now()); err != nil {
		if errors.Is(err, identity.ErrNotFound) {
			return ErrInvalidToken
		}
		return err
	}
	// The user may have been deleted or changed email since the token was read.
	if _, _, err := s.owner(ctx, t); err != nil {
		return err
	}
	if _, err := s.id.Operator().UpdateUser(ctx, app.ID, t.UserID, identity.UserInput{Password: &newPassword}); err != nil {
		if errors.Is(err, identity.ErrUserNotFound) {
			return ErrInvalidToken
		}
		return err
	}
	s.log.Info("passwordreset: password reset", "application_id", app.ID, "user_id", t.UserID)
	return nil
}

// deleteExpired purges the expired tokens (the Sweep hook, run by identity's DeleteExpired).
func (s *Service) deleteExpired(ctx context.Context, now time.Time) error {
	n, err := s.cfg.Store.DeleteExpiredResetTokens(ctx, now)
	if err == nil && n > 0 {
		s.log.Debug("passwordreset: expired tokens deleted", "count", n)
	}
	return err
}
