package passwordreset_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil"
	"github.com/identitykit/identity/internal/testutil/testenv"
	"github.com/identitykit/identity/passwordreset"
	"github.com/identitykit/identity/store/gormstore"
)

const resetLinkURL = "https://id.example.com/auth/password_reset"

// fakeMailer records what it is asked to send. With block set, Send signals entered and
// waits for release (or its ctx).
type fakeMailer struct {
	mu      sync.Mutex
	sent    []passwordreset.Message
	err     error
	panics  bool
	block   bool
	entered chan struct{}
	release chan struct{}
	ctxErr  error
}

func (m *fakeMailer) Send(ctx context.Context, msg passwordreset.Message) error {
	if m.panics {
		panic("fake mailer exploded")
	}
	if m.block {
		m.entered <- struct{}{}
		select {
		case <-m.release:
		case <-ctx.Done():
			m.mu.Lock()
			m.ctxErr = ctx.Err()
			m.mu.Unlock()
			return ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.sent = append(m.sent, msg)
	return nil
}

func (m *fakeMailer) messages() []passwordreset.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]passwordreset.Message(nil), m.sent...)
}

// resetStore counts the store calls of the password reset lookups (user by email, application,
// token write) by the context they are made with: those made with a context marked by
// onRequestPath (the caller's), apart from the others (the mail worker runs with a context of
// its own), so a count of the request path does not depend on when the worker runs.
type resetStore struct {
	*gormstore.Store
	requestCalls atomic.Int64 // with a context marked by onRequestPath
	otherCalls   atomic.Int64
}

type requestPathKey struct{}

// onRequestPath marks ctx as the caller's: resetStore counts the calls made with it apart.
func onRequestPath(ctx context.Context) context.Context {
	return context.WithValue(ctx, requestPathKey{}, true)
}

func (s *resetStore) count(ctx context.Context) {
	if ctx.Value(requestPathKey{}) != nil {
		s.requestCalls.Add(1)
	} else {
		s.otherCalls.Add(1)
	}
}

func (s *resetStore) UserByEmail(ctx context.Context, appID int64, email string) (*identity.User, error) {
	s.count(ctx)
	return s.Store.UserByEmail(ctx, appID, email)
}

func (s *resetStore) Application(ctx context.Context, id int64) (*identity.Application, error) {
	s.count(ctx)
	return s.Store.Application(ctx, id)
}

func (s *resetStore) PutResetToken(ctx context.Context, t *passwordreset.Token) error {
	s.count(ctx)
	return s.Store.PutResetToken(ctx, t)
}

type resetEnv struct {
	id     *identity.Identity
	svc    *passwordreset.Service
	app    *identity.Application
	clock  *testutil.Clock
	mailer *fakeMailer
	store  *resetStore
	logs   *testutil.LogBuffer
}

// newResetEnv is an Identity on a fresh SQLite store with a reset service that mails to a
// fakeMailer (mod may change the service's Config), and an application "Chat".
func newResetEnv(t *testing.T, settings identity.AppSettings, mod ...func(*passwordreset.Config)) *resetEnv {
	t.Helper()
	st, err := gormstore.OpenSQLite(t.TempDir()+"/identity.db", gormstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	e := &resetEnv{clock: newClock(), mailer: &fakeMailer{}, store: &resetStore{Store: st}, logs: &testutil.LogBuffer{}}
	pw := testenv.Passwords(t)
	if e.id, err = identity.New(identity.Config{
		Store:     e.store,
		Hasher:    pw,
		Providers: []identity.Provider{pw},
		Now:       e.clock.Now,
		Logger:    e.logs.Logger(),
	}); err != nil {
		t.Fatal(err)
	}
	cfg := passwordreset.Config{Store: e.store, Mailer: e.mailer, LinkURL: resetLinkURL, Now: e.clock.Now, Logger: e.logs.Logger()}
	for _, m := range mod {
		m(&cfg)
	}
	if e.svc, err = passwordreset.New(e.id, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.id.Shutdown(context.Background()) })
	if e.app, err = e.id.CreateApplication(t.Context(), "Chat", settings); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *resetEnv) signUp(t *testing.T, login, email, password string) *identity.User {
	t.Helper()
	u, err := e.id.SignUp(t.Context(), e.app.ID, identity.UserInput{Login: ptr(login), Email: ptr(email), Password: ptr(password)})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *resetEnv) login(email, password string) (*identity.Session, error) {
	return e.id.CreateSession(context.Background(), identity.SessionRequest{
		ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
		Credentials: &identity.Credentials{Email: email, Password: password},
	})
}

// flush sends everything queued (Shutdown waits for the workers) and returns the mail sent.
func (e *resetEnv) flush(t *testing.T) []passwordreset.Message {
	t.Helper()
	if err := e.id.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	return e.mailer.messages()
}

func (e *resetEnv) logText() string { return e.logs.String() }

// mailedToken requests a password reset for email, sends the mail, and returns the token of
// the one link mailed.
func (e *resetEnv) mailedToken(t *testing.T, email string) string {
	t.Helper()
	if err := e.svc.Request(t.Context(), e.app.ID, email, ""); err != nil {
		t.Fatalf("Request(%q): %v", email, err)
	}
	return tokenOf(t, e.flush(t)[0])
}

// tokenOf returns the token of the reset link in m's text, checking the link's shape.
func tokenOf(t *testing.T, m passwordreset.Message) string {
	t.Helper()
	i := strings.Index(m.Text, resetLinkURL+"?token=")
	if i < 0 {
		t.Fatalf("no reset link in the mail text:\n%s", m.Text)
	}
	link := strings.Fields(m.Text[i:])[0]
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("reset link %q: %v", link, err)
	}
	tok := u.Query().Get("token")
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(tok) {
		t.Fatalf("token %q is not 64 hex characters (256 bits)", tok)
	}
	return tok
}

func TestPasswordResetFlow(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{})
	e.signUp(t, "marvin", "Marvin@Example.com", "old-password")
	s1, err := e.login("marvin@example.com", "old-password")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := e.login("marvin@example.com", "old-password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.id.Validate(t.Context(), s1.Token); err != nil { // cached now
		t.Fatal(err)
	}

	if err := e.svc.Request(t.Context(), e.app.ID, " MARVIN@example.com ", "192.0.2.1"); err != nil {
		t.Fatalf("Request: %v", err)
	}
	mails := e.flush(t)
	if len(mails) != 1 {
		t.Fatalf("%d mails sent, want 1", len(mails))
	}
	m := mails[0]
	if m.To != "marvin@example.com" || m.Subject != "Chat: password reset" {
		t.Fatalf("mail to %q subject %q", m.To, m.Subject)
	}
	tok := tokenOf(t, m)
	for _, part := range []string{m.Text, m.HTML} {
		if !strings.Contains(part, "Chat") || !strings.Contains(part, "1 hour") {
			t.Fatalf("mail part lacks the app name or the lifetime:\n%s", part)
		}
	}
	if !strings.Contains(m.HTML, `href="`+resetLinkURL+"?token="+tok+`"`) {
		t.Fatalf("HTML part lacks the link:\n%s", m.HTML)
	}

	app, u, err := e.svc.Check(t.Context(), tok)
	if err != nil || app.ID != e.app.ID || u.Email != "marvin@example.com" {
		t.Fatalf("Check = %v, %v, %v", app, u, err)
	}
	if err := e.svc.Reset(t.Context(), tok, "new-password"); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	for _, s := range []*identity.Session{s1, s2} {
		if _, err := e.id.Validate(t.Context(), s.Token); !errors.Is(err, identity.ErrSessionNotFound) {
			t.Fatalf("session %d after reset: %v, want ErrSessionNotFound", s.ID, err)
		}
	}
	if _, err := e.login("marvin@example.com", "old-password"); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("old password after reset: %v, want ErrInvalidCredentials", err)
	}
	if _, err := e.login("marvin@example.com", "new-password"); err != nil {
		t.Fatalf("new password after reset: %v", err)
	}
	if logs := e.logText(); strings.Contains(logs, tok) || strings.Contains(logs, "new-password") {
		t.Fatalf("the log contains the token or the password:\n%s", logs)
	}
}

func TestPasswordResetTokenSingleUse(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{})
	e.signUp(t, "once", "once@example.com", "old-password")
	tok := e.mailedToken(t, "once@example.com")
	if err := e.svc.Reset(t.Context(), tok, "first-new-password"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Reset(t.Context(), tok, "second-new-password"); !errors.Is(err, passwordreset.ErrInvalidToken) {
		t.Fatalf("second use: %v, want ErrInvalidToken", err)
	}
	if _, _, err := e.svc.Check(t.Context(), tok); !errors.Is(err, passwordreset.ErrInvalidToken) {
		t.Fatalf("Check after use: %v", err)
	}
	if _, err := e.login("once@example.com", "first-new-password"); err != nil {
		t.Fatalf("the first reset's password: %v", err)
	}
}

func TestPasswordResetTokenExpiry(t *testing.T) {
	tests := []struct {
		name     string
		lifetime time.Duration
		after    time.Duration
		wantErr  error
	}{
		{"default lifetime, just before", 0, time.Hour - time.Second, nil},
		{"default lifetime, at expiry", 0, time.Hour, passwordreset.ErrInvalidToken},
		{"default lifetime, later", 0, 3 * time.Hour, passwordreset.ErrInvalidToken},
		{"10 minutes, before", 10 * time.Minute, 9 * time.Minute, nil},
		{"10 minutes, after", 10 * time.Minute, 11 * time.Minute, passwordreset.ErrInvalidToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newResetEnv(t, identity.AppSettings{}, func(c *passwordreset.Config) {
				c.Lifetime = tc.lifetime
			})
			e.signUp(t, "expiring", "expiring@example.com", "old-password")
			tok := e.mailedToken(t, "expiring@example.com")
			e.clock.Advance(tc.after)
			if _, _, err := e.svc.Check(t.Context(), tok); !errors.Is(err, tc.wantErr) && !(tc.wantErr == nil && err == nil) {
				t.Fatalf("Check: %v, want %v", err, tc.wantErr)
			}
			err := e.svc.Reset(t.Context(), tok, "new-password")
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Reset: %v, want %v", err, tc.wantErr)
			}
			wantPw := "old-password"
			if tc.wantErr == nil {
				wantPw = "new-password"
			}
			if _, err := e.login("expiring@example.com", wantPw); err != nil {
				t.Fatalf("login with %q: %v", wantPw, err)
			}
		})
	}
}

func TestPasswordResetNewerRequestInvalidatesOlder(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{})
	e.signUp(t, "twice", "twice@example.com", "old-password")
	for range 2 {
		if err := e.svc.Request(t.Context(), e.app.ID, "twice@example.com", ""); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
	}
	mails := e.flush(t)
	if len(mails) != 2 {
		t.Fatalf("%d mails, want 2", len(mails))
	}
	older, newer := tokenOf(t, mails[0]), tokenOf(t, mails[1])
	if older == newer {
		t.Fatal("two requests produced the same token")
	}
	if err := e.svc.Reset(t.Context(), older, "new-password"); !errors.Is(err, passwordreset.ErrInvalidToken) {
		t.Fatalf("older token: %v, want ErrInvalidToken", err)
	}
	if err := e.svc.Reset(t.Context(), newer, "new-password"); err != nil {
		t.Fatalf("newer token: %v", err)
	}
}

func TestPasswordResetConcurrentDoubleSubmit(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{})
	e.signUp(t, "racer", "racer@example.com", "old-password")
	tok := e.mailedToken(t, "racer@example.com")
	const n = 8
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = e.svc.Reset(context.Background(), tok, fmt.Sprintf("new-password-%d", i))
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("submits %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, passwordreset.ErrInvalidToken):
			t.Fatalf("losing submit %d: %v, want ErrInvalidToken", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no submit succeeded")
	}
	if _, err := e.login("racer@example.com", fmt.Sprintf("new-password-%d", winner)); err != nil {
		t.Fatalf("the winner's password: %v", err)
	}
}

func TestPasswordResetUnknownEmail(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{})
	e.signUp(t, "known", "known@example.com", "old-password")
	for _, email := range []string{"unknown@example.com", "known@example.com"} {
		// Only calls made with this context count: the worker, which may run the queued job
		// of the previous iteration meanwhile, uses its own.
		if err := e.svc.Request(onRequestPath(t.Context()), e.app.ID, email, "192.0.2.7"); err != nil {
			t.Fatalf("Request(%q) = %v, want nil", email, err)
		}
		// The request path does the same work for both: no store access at all.
		if n := e.store.requestCalls.Load(); n != 0 {
			t.Fatalf("Request(%q) made %d store calls on the request path", email, n)
		}
	}
	mails := e.flush(t)
	if len(mails) != 1 || mails[0].To != "known@example.com" {
		t.Fatalf("mails = %+v, want one to known@example.com", mails)
	}
	// The lookups happened, in the worker: the counts above would have seen them.
	if n := e.store.otherCalls.Load(); n < 2 {
		t.Fatalf("the worker made %d store calls for two requests, want the lookups of both", n)
	}
}

func TestPasswordResetNoMailForAccountsWithoutPassword(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{})
	// A user of an external provider: an email but no password.
	u := &identity.User{ApplicationID: e.app.ID, UID: "0123456789abcdef01234567", Email: "external@example.com",
		CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	if err := e.store.CreateUser(t.Context(), u, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Request(t.Context(), e.app.ID, "external@example.com", ""); err != nil {
		t.Fatal(err)
	}
	if mails := e.flush(t); len(mails) != 0 {
		t.Fatalf("%d mails for an account without a password, want 0", len(mails))
	}
}

func TestPasswordResetPolicy(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{PasswordPolicy: identity.PasswordPolicy{MinLength: 12}})
	e.signUp(t, "strict", "strict@example.com", "old-password-long")
	tok := e.mailedToken(t, "strict@example.com")
	tests := []struct {
		pw      string
		wantErr error
	}{
		{"", identity.ErrInvalidInput},
		{"short", identity.ErrInvalidInput},
		{strings.Repeat("x", 200), identity.ErrInvalidInput},
		{"bad\xffutf8-long-enough", identity.ErrInvalidInput},
		{"twelve-chars", nil},
	}
	for _, tc := range tests {
		err := e.svc.Reset(t.Context(), tok, tc.pw)
		if !errors.Is(err, tc.wantErr) && !(tc.wantErr == nil && err == nil) {
			t.Fatalf("Reset(%q) = %v, want %v", tc.pw, err, tc.wantErr)
		}
		if tc.wantErr != nil && fieldOf(err) != "password" {
			t.Fatalf("Reset(%q) names %q, want password", tc.pw, fieldOf(err))
		}
	}
	if _, err := e.login("strict@example.com", "twelve-chars"); err != nil {
		t.Fatal(err)
	}
}

func TestPasswordResetRateLimits(t *testing.T) {
	t.Run("per email", func(t *testing.T) {
		e := newResetEnv(t, identity.AppSettings{}, func(c *passwordreset.Config) {
			c.PerEmail = passwordreset.RateLimit{Burst: 2, Interval: 10 * time.Minute}
		})
		e.signUp(t, "limited", "limited@example.com", "old-password")
		for i := range 4 {
			// Different clients: only the per-email limit applies.
			if err := e.svc.Request(t.Context(), e.app.ID, "limited@example.com", fmt.Sprint("client", i)); err != nil {
				t.Fatalf("request %d: %v (a limited request must still return nil)", i, err)
			}
		}
		e.clock.Advance(10 * time.Minute)
		e.svc.Request(t.Context(), e.app.ID, "limited@example.com", "client9")
		if n := len(e.flush(t)); n != 3 {
			t.Fatalf("%d mails, want 3 (burst 2, then one after the interval)", n)
		}
	})
	t.Run("per client", func(t *testing.T) {
		e := newResetEnv(t, identity.AppSettings{}, func(c *passwordreset.Config) {
			c.PerClient = passwordreset.RateLimit{Burst: 2, Interval: time.Hour}
		})
		for i := range 4 {
			e.signUp(t, fmt.Sprint("user", i), fmt.Sprintf("user%d@example.com", i), "old-password")
		}
		for i := range 3 {
			e.svc.Request(t.Context(), e.app.ID, fmt.Sprintf("user%d@example.com", i), "198.51.100.1")
		}
		e.svc.Request(t.Context(), e.app.ID, "user3@example.com", "198.51.100.2")
		mails := e.flush(t)
		var to []string
		for _, m := range mails {
			to = append(to, m.To)
		}
		if len(mails) != 3 || strings.Contains(strings.Join(to, ","), "user2@") {
			t.Fatalf("mails to %v, want user0, user1 and user3 (user2's request was over the client's limit)", to)
		}
	})
	t.Run("off", func(t *testing.T) {
		e := newResetEnv(t, identity.AppSettings{}, func(c *passwordreset.Config) {
			c.PerEmail = passwordreset.RateLimit{Burst: -1}
			c.PerClient = passwordreset.RateLimit{Burst: -1}
		})
		e.signUp(t, "free", "free@example.com", "old-password")
		for range 10 {
			e.svc.Request(t.Context(), e.app.ID, "free@example.com", "198.51.100.1")
		}
		if n := len(e.flush(t)); n != 10 {
			t.Fatalf("%d mails with the limits off, want 10", n)
		}
	})
}

func TestRequestErrors(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{})
	tests := []struct {
		email     string
		appID     int64
		wantErr   error
		wantField string
	}{
		{"", e.app.ID, identity.ErrInvalidInput, "email"},
		{"   ", e.app.ID, identity.ErrInvalidInput, "email"},
		{"not-an-email", e.app.ID, identity.ErrInvalidInput, "email"},
		{"a@b@example.com", e.app.ID, identity.ErrInvalidInput, "email"},
		{"line\r\nbreak@example.com", e.app.ID, identity.ErrInvalidInput, "email"},
		{strings.Repeat("a", 250) + "@example.com", e.app.ID, identity.ErrInvalidInput, "email"},
		{"ok@example.com", 0, identity.ErrApplicationNotFound, ""},
	}
	for _, tc := range tests {
		err := e.svc.Request(t.Context(), tc.appID, tc.email, "")
		if !errors.Is(err, tc.wantErr) {
			t.Fatalf("Request(%q) = %v, want %v", tc.email, err, tc.wantErr)
		}
		if fieldOf(err) != tc.wantField {
			t.Fatalf("Request(%q) names %q, want %q", tc.email, fieldOf(err), tc.wantField)
		}
	}
	e.flush(t)
	if err := e.svc.Request(t.Context(), e.app.ID, "ok@example.com", ""); !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("after Shutdown: %v, want ErrUnavailable", err)
	}

	off := newResetEnv(t, identity.AppSettings{}, func(c *passwordreset.Config) { c.Mailer, c.LinkURL = nil, "" })
	if err := off.svc.Request(t.Context(), off.app.ID, "ok@example.com", ""); !errors.Is(err, identity.ErrDisabled) {
		t.Fatalf("without a Mailer: %v, want ErrDisabled", err)
	}
	for _, tok := range []string{"", "abc", strings.Repeat("A", 64), strings.Repeat("g", 64), strings.Repeat("0", 64)} {
		if err := off.svc.Reset(t.Context(), tok, "new-password"); !errors.Is(err, passwordreset.ErrInvalidToken) {
			t.Fatalf("Reset(%q) = %v, want ErrInvalidToken", tok, err)
		}
	}
}

func TestPasswordResetQueueFull(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{}, func(c *passwordreset.Config) {
		c.Workers, c.QueueSize = 1, 1
	})
	e.mailer.block, e.mailer.entered, e.mailer.release = true, make(chan struct{}), make(chan struct{})
	e.signUp(t, "queued1", "q1@example.com", "old-password")
	if err := e.svc.Request(t.Context(), e.app.ID, "q1@example.com", ""); err != nil {
		t.Fatal(err)
	}
	<-e.mailer.entered // the worker is busy sending the first mail
	if err := e.svc.Request(t.Context(), e.app.ID, "q2@example.com", ""); err != nil {
		t.Fatalf("second request (fills the queue): %v", err)
	}
	if err := e.svc.Request(t.Context(), e.app.ID, "q3@example.com", ""); !errors.Is(err, identity.ErrBusy) {
		t.Fatalf("third request: %v, want ErrBusy", err)
	}
	close(e.mailer.release)
	if n := len(e.flush(t)); n != 1 {
		t.Fatalf("%d mails, want 1 (q2 has no account)", n)
	}
}

func TestShutdownCancelsSends(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{})
	e.mailer.block, e.mailer.entered, e.mailer.release = true, make(chan struct{}), make(chan struct{})
	e.signUp(t, "stuck", "stuck@example.com", "old-password")
	e.svc.Request(t.Context(), e.app.ID, "stuck@example.com", "")
	<-e.mailer.entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.id.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown with a done context: %v, want context.Canceled", err)
	}
	e.mailer.mu.Lock()
	got := e.mailer.ctxErr
	e.mailer.mu.Unlock()
	if !errors.Is(got, context.Canceled) {
		t.Fatalf("the send in progress saw %v, want context.Canceled", got)
	}
	if err := e.id.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestPasswordResetMailerFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(m *fakeMailer)
		want string
	}{
		{"error", func(m *fakeMailer) { m.err = errors.New("smtp: 451 try later") }, "451 try later"},
		{"panic", func(m *fakeMailer) { m.panics = true }, "fake mailer exploded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newResetEnv(t, identity.AppSettings{})
			tc.mod(e.mailer)
			e.signUp(t, "unlucky", "unlucky@example.com", "old-password")
			if err := e.svc.Request(t.Context(), e.app.ID, "unlucky@example.com", ""); err != nil {
				t.Fatal(err)
			}
			e.flush(t)
			logs := e.logText()
			if !strings.Contains(logs, "password reset mail not sent") || !strings.Contains(logs, tc.want) {
				t.Fatalf("the failure is not logged:\n%s", logs)
			}
			if strings.Contains(logs, "token=") {
				t.Fatalf("the log contains a reset link:\n%s", logs)
			}
		})
	}
}

func TestPasswordResetEmailChangeVoidsToken(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{})
	e.signUp(t, "mover", "mover@example.com", "old-password")
	tok := e.mailedToken(t, "mover@example.com")
	s, err := e.login("mover@example.com", "old-password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.id.UpdateUser(t.Context(), s, s.UserID, identity.UserInput{Email: ptr("moved@example.com")}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Reset(t.Context(), tok, "new-password"); !errors.Is(err, passwordreset.ErrInvalidToken) {
		t.Fatalf("token mailed to the old address: %v, want ErrInvalidToken", err)
	}
}

func TestPasswordResetDeleteExpiredPurgesTokens(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{})
	e.signUp(t, "purged", "purged@example.com", "old-password")
	tok := e.mailedToken(t, "purged@example.com")
	if _, err := e.id.DeleteExpired(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ResetTokenByHash(t.Context(), identity.HashToken(tok)); err != nil {
		t.Fatalf("a live token was purged: %v", err)
	}
	e.clock.Advance(time.Hour)
	if _, err := e.id.DeleteExpired(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ResetTokenByHash(t.Context(), identity.HashToken(tok)); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("expired token after DeleteExpired: %v, want ErrNotFound", err)
	}
}

func TestPasswordResetTemplates(t *testing.T) {
	custom := identity.EmailTemplate{
		Subject: "Reset for {{.AppName}}\r\nBcc: victim@example.com",
		Text:    "Hi {{.Login}}, go to {{.Link}} within {{.ValidFor}}.",
	}
	e := newResetEnv(t, identity.AppSettings{ResetEmail: custom}, func(c *passwordreset.Config) {
		c.Lifetime = 30 * time.Minute
		c.Email.HTML = `<p>{{.AppName}}: <a href="{{.Link}}">reset</a></p>`
	})
	e.signUp(t, "templ", "templ@example.com", "old-password")
	e.svc.Request(t.Context(), e.app.ID, "templ@example.com", "")
	m := e.flush(t)[0]
	tok := tokenOf(t, m)
	if m.Subject != "Reset for Chat Bcc: victim@example.com" {
		t.Fatalf("subject %q: want the application's template folded onto one line", m.Subject)
	}
	if want := "Hi templ, go to " + resetLinkURL + "?token=" + tok + " within 30 minutes."; m.Text != want {
		t.Fatalf("text %q, want %q", m.Text, want)
	}
	if want := `<p>Chat: <a href="` + resetLinkURL + "?token=" + tok + `">reset</a></p>`; m.HTML != want {
		t.Fatalf("html %q, want %q (Config.Email, not overridden by the application)", m.HTML, want)
	}

	for _, bad := range []identity.EmailTemplate{
		{Subject: "{{.Nope}}"},
		{Text: "{{if}}"},
		{HTML: "<a href='{{.Link}'>"},
	} {
		_, err := e.id.CreateApplication(t.Context(), "bad", identity.AppSettings{ResetEmail: bad})
		if !errors.Is(err, identity.ErrInvalidInput) || fieldOf(err) != "reset_email" {
			t.Fatalf("CreateApplication with template %+v: %v, want ErrInvalidInput naming reset_email", bad, err)
		}
		_, err = e.id.UpdateApplicationSettings(t.Context(), e.app.ID, identity.AppSettings{ResetEmail: bad})
		if !errors.Is(err, identity.ErrInvalidInput) {
			t.Fatalf("UpdateApplicationSettings with template %+v: %v", bad, err)
		}
	}
}

func TestPasswordResetHTMLEscapesAppName(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{})
	app, err := e.id.CreateApplication(t.Context(), `<script>alert(1)</script>`, identity.AppSettings{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.id.SignUp(t.Context(), app.ID, identity.UserInput{Login: ptr("xss"), Email: ptr("xss@example.com"), Password: ptr("old-password")}); err != nil {
		t.Fatal(err)
	}
	e.svc.Request(t.Context(), app.ID, "xss@example.com", "")
	m := e.flush(t)[0]
	if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;") {
		t.Fatalf("the application name is not escaped in the HTML part:\n%s", m.HTML)
	}
}

func TestNewConfig(t *testing.T) {
	st, pw := testenv.Store(t), testenv.Passwords(t)
	id, err := identity.New(identity.Config{Store: st, Hasher: pw})
	if err != nil {
		t.Fatal(err)
	}
	ok := passwordreset.Config{Store: st, Mailer: &fakeMailer{}, LinkURL: resetLinkURL}
	tests := []struct {
		name    string
		id      *identity.Identity
		reset   func(r *passwordreset.Config)
		wantErr bool
	}{
		{"valid", id, func(*passwordreset.Config) {}, false},
		{"no mail", id, func(r *passwordreset.Config) { *r = passwordreset.Config{Store: st} }, false},
		{"link with a query", id, func(r *passwordreset.Config) { r.LinkURL = "https://x.example/reset?app=1" }, false},
		{"no identity", nil, func(*passwordreset.Config) {}, true},
		{"no store", id, func(r *passwordreset.Config) { r.Store = nil }, true},
		{"no link", id, func(r *passwordreset.Config) { r.LinkURL = "" }, true},
		{"relative link", id, func(r *passwordreset.Config) { r.LinkURL = "/password_reset" }, true},
		{"javascript link", id, func(r *passwordreset.Config) { r.LinkURL = "javascript:alert(1)" }, true},
		{"link with a fragment", id, func(r *passwordreset.Config) { r.LinkURL = "https://x.example/reset#f" }, true},
		{"negative lifetime", id, func(r *passwordreset.Config) { r.Lifetime = -time.Hour }, true},
		{"zero burst", id, func(r *passwordreset.Config) { r.PerEmail = passwordreset.RateLimit{Interval: time.Minute} }, true},
		{"no interval", id, func(r *passwordreset.Config) { r.PerClient = passwordreset.RateLimit{Burst: 3} }, true},
		{"bad template", id, func(r *passwordreset.Config) { r.Email.Text = "{{.Link" }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.reset(&r)
			svc, err := passwordreset.New(tc.id, r)
			if (err != nil) != tc.wantErr || (err == nil) != (svc != nil) {
				t.Fatalf("New: %v, %v, want error %v", svc, err, tc.wantErr)
			}
		})
	}
	if err := id.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestPasswordResetLinkKeepsQuery(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{}, func(c *passwordreset.Config) {
		c.LinkURL = "https://x.example/reset?application_id=7"
	})
	e.signUp(t, "query", "query@example.com", "old-password")
	e.svc.Request(t.Context(), e.app.ID, "query@example.com", "")
	m := e.flush(t)[0]
	match := regexp.MustCompile(`https://x\.example/reset\?application_id=7&token=([0-9a-f]{64})`).FindStringSubmatch(m.Text)
	if match == nil {
		t.Fatalf("no link with both parameters in:\n%s", m.Text)
	}
	if err := e.svc.Reset(t.Context(), match[1], "new-password"); err != nil {
		t.Fatal(err)
	}
}

func TestPasswordChangeVoidsResetToken(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{})
	e.signUp(t, "changer", "changer@example.com", "old-password")
	tok := e.mailedToken(t, "changer@example.com")
	s, err := e.login("changer@example.com", "old-password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.id.UpdateUser(t.Context(), s, s.UserID, identity.UserInput{Password: ptr("changed-password"), OldPassword: ptr("old-password")}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Reset(t.Context(), tok, "attacker-password"); !errors.Is(err, passwordreset.ErrInvalidToken) {
		t.Fatalf("reset link mailed before a password change: %v, want ErrInvalidToken", err)
	}
}
