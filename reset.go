package identity

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/fnv"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"
)

// Message is one email.
type Message struct {
	// To is the recipient: one bare address ("user@example.com").
	To string
	// Subject is one line of text.
	Subject string
	// Text is the plain-text body.
	Text string
	// HTML, when not empty, is an HTML alternative of Text.
	HTML string
}

// Mailer sends email (mail/smtp implements it over SMTP). Send delivers one message or
// returns an error; it must honour ctx (cancellation and deadline), be safe for concurrent
// use, and keep the message's content (a reset link is a secret) out of its errors and logs.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// ErrInvalidResetToken means a password reset token is unknown, malformed, already used,
// replaced by a newer request, or expired: the user has to ask for a new link. It is the
// ErrNotFound case of reset tokens; errors.Is(err, ErrNotFound) is true for it.
var ErrInvalidResetToken = &sentinelChild{msg: "identity: invalid or expired password reset token", parent: ErrNotFound}

// ResetToken is a stored password reset token. The token itself (64 hex characters, 256 bits
// from crypto/rand) is only ever in the reset link; the Store keeps its SHA-256.
type ResetToken struct {
	ID            int64
	ApplicationID int64
	UserID        int64
	// Email is the user's address (NormalizeEmail form) the link was sent to: the token is void
	// once the user's email differs.
	Email     string
	TokenHash []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ResetTokenStore keeps password reset tokens. A Config.Store that also implements it (as
// store/gormstore does) enables password reset; Identity type-asserts the Store. Methods are
// safe for concurrent use.
type ResetTokenStore interface {
	// PutResetToken stores t (ID assigned) as the only outstanding token of t.UserID: an
	// earlier token of that user is replaced in the same statement, so that after any number
	// of concurrent puts for one user exactly one of their tokens remains. A TokenHash already
	// stored for another user is an *Error wrapping ErrInvalidInput naming "token".
	PutResetToken(ctx context.Context, t *ResetToken) error
	// ResetTokenByHash returns the token whose TokenHash equals hash, expired or not (the
	// caller decides), or ErrNotFound.
	ResetTokenByHash(ctx context.Context, hash []byte) (*ResetToken, error)
	// ConsumeResetToken deletes and returns the token whose TokenHash equals hash if its
	// ExpiresAt is after now, in one atomic statement; otherwise it changes nothing and returns
	// ErrNotFound. Of concurrent calls with one hash, at most one succeeds.
	ConsumeResetToken(ctx context.Context, hash []byte, now time.Time) (*ResetToken, error)
	// DeleteResetTokens deletes every token of userID and returns how many it deleted.
	DeleteResetTokens(ctx context.Context, userID int64) (int, error)
	// DeleteExpiredResetTokens deletes the tokens whose ExpiresAt is not after now and returns
	// how many it deleted.
	DeleteExpiredResetTokens(ctx context.Context, now time.Time) (int, error)
}

// ResetConfig configures password reset by email (Config.Reset). Sending needs Mailer and
// LinkURL and a Store implementing ResetTokenStore; without a Mailer RequestPasswordReset
// returns ErrDisabled, while links already sent (by another process) still work.
type ResetConfig struct {
	// Mailer delivers the reset mail. Default nil: reset mail is off.
	Mailer Mailer
	// LinkURL is the absolute http(s) URL of the reset page, where the user sets the new
	// password: httpadapter serves it at "/password_reset" under the adapter's mount point,
	// e.g. "https://api.example.com/password_reset". The mail links to LinkURL with
	// "token=<64 hex characters>" added to its query. Required with Mailer.
	LinkURL string
	// Lifetime is how long a reset link works. Default 1 h.
	Lifetime time.Duration
	// Email is the default reset message; an empty field takes the built-in English text.
	// An application overrides it with AppSettings.ResetEmail.
	Email EmailTemplate
	// QueueSize bounds the reset requests waiting to be sent. A request that finds the queue
	// full gets ErrBusy. Default 1000.
	QueueSize int
	// Workers is how many goroutines send reset mail. Requests for one address are always
	// handled by the same worker, in order, so the last mail a user receives carries the link
	// that works. Default 2.
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
	// ratelimit.ForIdentity adapts the limiters of package ratelimit (in memory, or in Redis
	// with ratelimit/redislimit) to it. While it fails, the in-memory buckets apply. Default
	// nil: in memory only.
	Limiter Limiter
}

// RateLimit is a token bucket: Burst requests at once, then one more every Interval. A zero
// RateLimit means the documented default; a negative Burst turns the limit off.
type RateLimit struct {
	Burst    int
	Interval time.Duration
}

// Limiter keeps rate-limit buckets by key, possibly shared between processes. Implementations
// must be safe for concurrent use and apply each Allow atomically.
type Limiter interface {
	// Allow takes one request from the bucket of key, which holds at most limit.Burst
	// requests and regains one every limit.Interval, at time now, and reports whether there
	// was one (limit.Burst is positive). A key is always used with the same limit. The error
	// is non-nil only when the limiter's store failed.
	Allow(ctx context.Context, key string, limit RateLimit, now time.Time) (bool, error)
}

// EmailTemplate is the reset message. Subject and Text are text/template templates, HTML an
// html/template template; an empty field takes the default. Each is executed with these
// fields:
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

// Default reset message.
const (
	defaultResetSubject = `{{.AppName}}: password reset`
	defaultResetText    = `Hello,

someone, hopefully you, asked to reset the password of the {{.AppName}} account {{.Email}}.

To choose a new password, open this link within {{.ValidFor}}:

{{.Link}}

The link works once. If you did not ask for a new password, ignore this message: your
password stays as it is.
`
	defaultResetHTML = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{{.AppName}}: password reset</title></head>
<body style="font-family: sans-serif; line-height: 1.5; color: #1b1b1b;">
<p>Hello,</p>
<p>someone, hopefully you, asked to reset the password of the <strong>{{.AppName}}</strong> account {{.Email}}.</p>
<p>To choose a new password, open this link within {{.ValidFor}}:</p>
<p><a href="{{.Link}}" style="display: inline-block; padding: 0.6em 1.2em; background: #1a56db; color: #ffffff; text-decoration: none; border-radius: 4px;">Choose a new password</a></p>
<p style="font-size: 0.9em; color: #555555;">Or copy this address into your browser:<br>{{.Link}}</p>
<p>The link works once. If you did not ask for a new password, ignore this message: your password stays as it is.</p>
</body>
</html>
`
)

// resetMailData is what an EmailTemplate is executed with.
type resetMailData struct {
	AppName   string
	Email     string
	Login     string
	Link      string
	ValidFor  string
	ExpiresAt time.Time
}

// resetTemplates is a parsed EmailTemplate.
type resetTemplates struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// withDefaults fills the empty fields of t from d.
func (t EmailTemplate) withDefaults(d EmailTemplate) EmailTemplate {
	if strings.TrimSpace(t.Subject) == "" {
		t.Subject = d.Subject
	}
	if strings.TrimSpace(t.Text) == "" {
		t.Text = d.Text
	}
	if strings.TrimSpace(t.HTML) == "" {
		t.HTML = d.HTML
	}
	return t
}

// parse parses t (whose fields must all be set). Errors name the field.
func (t EmailTemplate) parse() (*resetTemplates, error) {
	var r resetTemplates
	var err error
	if r.subject, err = texttemplate.New("subject").Option("missingkey=error").Parse(t.Subject); err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	if r.text, err = texttemplate.New("text").Option("missingkey=error").Parse(t.Text); err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	if r.html, err = htmltemplate.New("html").Option("missingkey=error").Parse(t.HTML); err != nil {
		return nil, fmt.Errorf("html: %w", err)
	}
	// Execute once with sample data so that a template naming an unknown field fails now.
	if _, err := r.render(resetMailData{AppName: "app", Email: "user@example.com", Link: "https://example.com/password_reset?token=0", ValidFor: "1 hour"}); err != nil {
		return nil, err
	}
	return &r, nil
}

// checkResetEmail validates an application's override (AppSettings.ResetEmail).
func checkResetEmail(op string, t EmailTemplate) error {
	if t == (EmailTemplate{}) {
		return nil
	}
	if _, err := t.withDefaults(EmailTemplate{Subject: defaultResetSubject, Text: defaultResetText, HTML: defaultResetHTML}).parse(); err != nil {
		return NewError(op, ErrInvalidInput, "reset_email", "invalid")
	}
	return nil
}

func (r *resetTemplates) render(d resetMailData) (Message, error) {
	var m Message
	var b bytes.Buffer
	if err := r.subject.Execute(&b, d); err != nil {
		return m, fmt.Errorf("subject: %w", err)
	}
	m.Subject = strings.Join(strings.Fields(b.String()), " ")
	b.Reset()
	if err := r.text.Execute(&b, d); err != nil {
		return m, fmt.Errorf("text: %w", err)
	}
	m.Text = b.String()
	b.Reset()
	if err := r.html.Execute(&b, d); err != nil {
		return m, fmt.Errorf("html: %w", err)
	}
	m.HTML = b.String()
	m.To = d.Email
	return m, nil
}

// words says d the way a mail does: "1 hour", "90 minutes", "45 seconds".
func words(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	default:
		return plural(int64((d+time.Second-1)/time.Second), "second")
	}
}

// resetService is the password reset part of an Identity: the mail queue and its workers,
// the rate limits and the templates.
type resetService struct {
	id       *Identity
	cfg      ResetConfig
	tokens   ResetTokenStore // nil: the Store keeps no reset tokens
	link     *url.URL
	tmpl     *resetTemplates
	perEmail *limiter
	perCli   *limiter
	queue    *mailQueue
}

func newResetService(id *Identity, cfg ResetConfig) (*resetService, error) {
	const defaultQueue, defaultWorkers = 1000, 2
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
	if cfg.Lifetime < 0 || cfg.QueueSize < 0 || cfg.Workers < 0 || cfg.SendTimeout < 0 || cfg.MaxTracked < 0 {
		return nil, errors.New("identity: Config.Reset durations and sizes must not be negative")
	}
	for _, l := range []RateLimit{cfg.PerEmail, cfg.PerClient} {
		if l.Burst == 0 || (l.Burst > 0 && l.Interval <= 0) {
			return nil, errors.New("identity: Config.Reset rate limits need a Burst of at least 1 and a positive Interval (a negative Burst turns a limit off)")
		}
	}
	r := &resetService{id: id, cfg: cfg}
	r.tokens, _ = id.store.(ResetTokenStore)
	tmpl, err := cfg.Email.withDefaults(EmailTemplate{Subject: defaultResetSubject, Text: defaultResetText, HTML: defaultResetHTML}).parse()
	if err != nil {
		return nil, fmt.Errorf("identity: Config.Reset.Email: %w", err)
	}
	r.tmpl = tmpl
	if cfg.Mailer == nil {
		return r, nil
	}
	if r.tokens == nil {
		return nil, errors.New("identity: Config.Reset.Mailer is set but Config.Store does not implement ResetTokenStore")
	}
	u, err := url.Parse(cfg.LinkURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return nil, errors.New("identity: Config.Reset.LinkURL must be an absolute http or https URL without a fragment")
	}
	r.link = u
	r.perEmail = newLimiter(cfg.PerEmail, cfg.MaxTracked)
	r.perCli = newLimiter(cfg.PerClient, cfg.MaxTracked)
	r.queue = newMailQueue(cfg.Workers, cfg.QueueSize, r.process)
	return r, nil
}

// resetJob is one accepted reset request, or (notice set) an email change notice.
type resetJob struct {
	appID int64
	email string // NormalizeEmail form
	// notice, when set, is a notice to email that the account's address was changed.
	notice *Message
}

// Email change notice, sent to the old address (see Identity.UpdateUser).
const (
	emailChangedSubject = `{{.AppName}}: your email address was changed`
	emailChangedText    = `Hello,

the email address of your {{.AppName}} account{{if .Login}} {{.Login}}{{end}} was changed from
{{.Email}} to another address on {{.At}}.

If you made this change, there is nothing to do. If you did not, someone else may be using
your account: contact the {{.AppName}} team.
`
)

var emailChangedTmpl = struct{ subject, text *texttemplate.Template }{
	texttemplate.Must(texttemplate.New("subject").Option("missingkey=error").Parse(emailChangedSubject)),
	texttemplate.Must(texttemplate.New("text").Option("missingkey=error").Parse(emailChangedText)),
}

// noticeEmailChange queues a notice to cur's old address that its email changed to u's
// (when a Mailer is configured). The change has happened already: a full queue or a failed
// delivery is logged, never returned. The notice does not name the new address.
func (id *Identity) noticeEmailChange(ctx context.Context, app *Application, cur, u *User) {
	r := id.reset
	if r == nil || r.queue == nil {
		return
	}
	data := struct{ AppName, Login, Email, At string }{app.Name, u.Login, cur.Email, u.UpdatedAt.UTC().Format("2006-01-02 15:04 UTC")}
	var subj, text bytes.Buffer
	if err := emailChangedTmpl.subject.Execute(&subj, data); err != nil {
		id.log.ErrorContext(ctx, "identity: rendering the email change notice failed", "err", err)
		return
	}
	if err := emailChangedTmpl.text.Execute(&text, data); err != nil {
		id.log.ErrorContext(ctx, "identity: rendering the email change notice failed", "err", err)
		return
	}
	m := &Message{To: cur.Email, Subject: strings.Join(strings.Fields(subj.String()), " "), Text: text.String()}
	if err := r.queue.add(cur.Email, resetJob{appID: app.ID, email: cur.Email, notice: m}); err != nil {
		id.log.WarnContext(ctx, "identity: email change notice not queued", "application_id", app.ID, "user_id", u.ID, "err", err)
	}
}

// RequestPasswordReset asks for a reset link to be mailed to email in application appID
// (ConnectyCube's GET/POST /users/password/reset). It returns nil whether or not a user has
// that address, and does the same work either way: the request is only queued here, and a
// worker looks the user up, stores a new token (replacing any earlier one of the user) and
// sends the mail. Users without a password (guests, users of external providers) get no mail.
//
// client identifies the requester for the per-client rate limit (the HTTP adapter passes the
// remote IP address); "" skips that limit. A request over a rate limit also returns nil and
// sends nothing. appID is not checked here: pass the application of a validated session or
// auth key.
//
// Errors: a blank or malformed email is an *Error wrapping ErrInvalidInput naming "email";
// ErrDisabled without Config.Reset.Mailer; ErrBusy when the queue is full; ErrUnavailable
// after Shutdown.
func (id *Identity) RequestPasswordReset(ctx context.Context, appID int64, email, client string) error {
	const op = "request password reset"
	r := id.reset
	if r.queue == nil {
		return NewError(op, ErrDisabled, "", "reset_off")
	}
	e := NormalizeEmail(email)
	switch {
	case e == "":
		return NewError(op, ErrInvalidInput, "email", "blank")
	case len(e) > MaxEmailLength || !validEmail(e):
		return NewError(op, ErrInvalidInput, "email", "invalid")
	}
	if appID <= 0 {
		return ErrApplicationNotFound
	}
	now := id.now()
	if client != "" && !r.allow(ctx, r.perCli, r.cfg.PerClient, "identity:reset:client:"+client, now) {
		id.log.InfoContext(ctx, "identity: password reset request over the per-client rate limit", "application_id", appID)
		return nil
	}
	// The address itself is not part of a key a shared limiter may store.
	sum := sha256.Sum256([]byte(e))
	if !r.allow(ctx, r.perEmail, r.cfg.PerEmail, fmt.Sprintf("identity:reset:email:%d:%x", appID, sum[:16]), now) {
		id.log.InfoContext(ctx, "identity: password reset request over the per-email rate limit", "application_id", appID)
		return nil
	}
	return r.queue.add(e, resetJob{appID: appID, email: e})
}

// process handles one queued request in a worker.
func (r *resetService) process(ctx context.Context, job resetJob) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.SendTimeout)
	defer cancel()
	id := r.id
	if job.notice != nil {
		if err := recovered(func() error { return r.cfg.Mailer.Send(ctx, *job.notice) }); err != nil {
			id.log.Error("identity: email change notice not sent", "application_id", job.appID, "err", err)
		}
		return
	}
	if err := recovered(func() error { return r.send(ctx, job) }); err != nil {
		id.log.Error("identity: password reset mail not sent", "application_id", job.appID, "err", err)
	}
}

func (r *resetService) send(ctx context.Context, job resetJob) error {
	id := r.id
	app, err := id.application(ctx, job.appID)
	if err != nil {
		if errors.Is(err, ErrApplicationNotFound) {
			return nil
		}
		return err
	}
	u, err := id.store.UserByEmail(ctx, app.ID, job.email)
	if errors.Is(err, ErrUserNotFound) {
		id.log.Debug("identity: password reset for an address without an account", "application_id", app.ID)
		return nil
	}
	if err != nil {
		return err
	}
	if u.IsGuest || u.PasswordHash == "" {
		id.log.Debug("identity: password reset for an account without a password", "application_id", app.ID, "user_id", u.ID)
		return nil
	}
	now := id.now()
	token := newToken()
	t := &ResetToken{
		ApplicationID: app.ID,
		UserID:        u.ID,
		Email:         NormalizeEmail(u.Email),
		TokenHash:     HashToken(token),
		CreatedAt:     now,
		ExpiresAt:     now.Add(r.cfg.Lifetime),
	}
	if err := r.tokens.PutResetToken(ctx, t); err != nil {
		return err
	}
	link := *r.link
	q := link.Query()
	q.Set("token", token)
	link.RawQuery = q.Encode()
	data := resetMailData{
		AppName:   app.Name,
		Email:     u.Email,
		Login:     u.Login,
		Link:      link.String(),
		ValidFor:  words(r.cfg.Lifetime),
		ExpiresAt: t.ExpiresAt,
	}
	tmpl := r.tmpl
	if o := app.Settings.ResetEmail; o != (EmailTemplate{}) {
		if tmpl, err = o.withDefaults(r.cfg.Email.withDefaults(EmailTemplate{Subject: defaultResetSubject, Text: defaultResetText, HTML: defaultResetHTML})).parse(); err != nil {
			id.log.Error("identity: the application's reset_email template is invalid; using the default", "application_id", app.ID, "err", err)
			tmpl = r.tmpl
		}
	}
	msg, err := tmpl.render(data)
	if err != nil {
		return fmt.Errorf("identity: rendering the reset mail: %w", err)
	}
	if err := r.cfg.Mailer.Send(ctx, msg); err != nil {
		return err
	}
	id.log.Info("identity: password reset mail sent", "application_id", app.ID, "user_id", u.ID)
	return nil
}

// Limits returns the password lengths p allows, in characters, with the defaults applied.
func (p PasswordPolicy) Limits() (min, max int) {
	p = p.withDefaults()
	return p.MinLength, p.MaxLength
}

// validResetToken reports whether token has the form of a reset token: 64 lower-case hex
// characters.
func validResetToken(token string) bool {
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

// liveResetToken returns the stored token behind token, its application and its user, or
// ErrInvalidResetToken when the token is malformed, unknown, expired, or its user is gone or
// has another email now.
func (id *Identity) liveResetToken(ctx context.Context, token string) (*ResetToken, *Application, *User, error) {
	tokens := id.reset.tokens
	if tokens == nil {
		return nil, nil, nil, NewError("reset password", ErrDisabled, "", "reset_unsupported")
	}
	if !validResetToken(token) {
		return nil, nil, nil, ErrInvalidResetToken
	}
	t, err := tokens.ResetTokenByHash(ctx, HashToken(token))
	if errors.Is(err, ErrNotFound) {
		return nil, nil, nil, ErrInvalidResetToken
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if !t.ExpiresAt.After(id.now()) {
		return nil, nil, nil, ErrInvalidResetToken
	}
	app, err := id.application(ctx, t.ApplicationID)
	if errors.Is(err, ErrApplicationNotFound) {
		return nil, nil, nil, ErrInvalidResetToken
	}
	if err != nil {
		return nil, nil, nil, err
	}
	u, err := id.store.User(ctx, app.ID, t.UserID)
	if errors.Is(err, ErrUserNotFound) {
		return nil, nil, nil, ErrInvalidResetToken
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if NormalizeEmail(u.Email) != t.Email {
		return nil, nil, nil, ErrInvalidResetToken
	}
	return t, app, u, nil
}

// CheckResetToken returns the application and the user of a usable reset token (the reset
// page shows the application's name and the user's email), or ErrInvalidResetToken when the
// token is malformed, unknown, used, replaced by a newer request, expired, or its user is
// gone or changed email since. It changes nothing.
func (id *Identity) CheckResetToken(ctx context.Context, token string) (*Application, *User, error) {
	_, app, u, err := id.liveResetToken(ctx, token)
	return app, u, err
}

// ResetPassword sets the password of the user a reset token was mailed to. The application's
// password policy applies (an *Error wrapping ErrInvalidInput naming "password"; the token
// stays usable). On success the token is used up, every other reset token of the user is
// deleted, and every session of the user is revoked (also those cached by this Identity).
// A token that is not usable yields ErrInvalidResetToken, as from CheckResetToken; of
// concurrent calls with one token exactly one succeeds.
func (id *Identity) ResetPassword(ctx context.Context, token, newPassword string) error {
	const op = "reset password"
	t, app, _, err := id.liveResetToken(ctx, token)
	if err != nil {
		return err
	}
	f := fieldErrors{}
	app.Settings.PasswordPolicy.check(&f, "password", newPassword)
	if err := f.err(op); err != nil {
		return err
	}
	hash, err := id.hasher.Hash(ctx, newPassword)
	if err != nil {
		return err
	}
	if _, err := id.reset.tokens.ConsumeResetToken(ctx, t.TokenHash, id.now()); err != nil {
		if errors.Is(err, ErrNotFound) {
			return ErrInvalidResetToken
		}
		return err
	}
	// Read the user again: the update must not undo a change made while the password was
	// being hashed.
	u, err := id.store.User(ctx, app.ID, t.UserID)
	if errors.Is(err, ErrUserNotFound) {
		return ErrInvalidResetToken
	}
	if err != nil {
		return err
	}
	if NormalizeEmail(u.Email) != t.Email {
		return ErrInvalidResetToken
	}
	u.PasswordHash = hash
	u.UpdatedAt = id.now()
	if err := id.store.UpdateUser(ctx, u); err != nil {
		if errors.Is(err, ErrUserNotFound) {
			return ErrInvalidResetToken
		}
		return err
	}
	if _, err := id.reset.tokens.DeleteResetTokens(ctx, u.ID); err != nil {
		return err
	}
	if _, err := id.revokeUserSessions(ctx, u.ID, 0); err != nil {
		return err
	}
	id.log.Info("identity: password reset", "application_id", app.ID, "user_id", u.ID)
	return nil
}

// deleteExpiredResetTokens purges expired reset tokens when the Store keeps them.
func (id *Identity) deleteExpiredResetTokens(ctx context.Context) error {
	if id.reset.tokens == nil {
		return nil
	}
	n, err := id.reset.tokens.DeleteExpiredResetTokens(ctx, id.now())
	if err == nil && n > 0 {
		id.log.Debug("identity: expired password reset tokens deleted", "count", n)
	}
	return err
}

// Shutdown stops every goroutine the Identity started. The janitors of StartJanitor stop
// (a running sweep is cancelled and waited for) and no new one starts. The password reset
// mail workers stop: new reset requests get ErrUnavailable, queued mails are still sent until
// ctx is done, and then the sends in progress are cancelled. It returns ctx.Err() if ctx
// ended first, else nil. It does not close the Store; everything else keeps working. It is
// safe to call concurrently and more than once; calling it again waits again.
func (id *Identity) Shutdown(ctx context.Context) error {
	id.stopJanitors()
	return id.shutdownHooks(ctx)
}

// shard picks the worker of key (FNV-1a), so that requests for one address stay in order.
func shard(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}
