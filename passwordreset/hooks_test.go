package passwordreset_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil"
	"github.com/identitykit/identity/internal/testutil/testenv"
	"github.com/identitykit/identity/passwordreset"
)

// A reset link mailed before the operator set the password does not undo it: the service's
// PasswordChanged hook voids the user's tokens.
func TestOperatorPasswordVoidsToken(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{})
	u := e.signUp(t, "alice", "alice@example.com", "old-password")
	tok := e.mailedToken(t, "alice@example.com")
	if _, err := e.id.Operator().UpdateUser(t.Context(), e.app.ID, u.ID, identity.UserInput{Password: ptr("operator-password")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ResetTokenByHash(t.Context(), identity.HashToken(tok)); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("stored token after the operator set the password: %v, want ErrNotFound", err)
	}
	if err := e.svc.Reset(t.Context(), tok, "attacker-password"); !errors.Is(err, passwordreset.ErrInvalidToken) {
		t.Fatalf("Reset after the operator set the password: %v, want ErrInvalidToken", err)
	}
	if _, err := e.login("alice@example.com", "operator-password"); err != nil {
		t.Fatalf("the operator's password: %v", err)
	}
}

// Reset sets the password through the core: the hooks another package registered for
// password changes run too, with the user's application and id.
func TestResetRunsCorePasswordHooks(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{})
	u := e.signUp(t, "hooked", "hooked@example.com", "old-password")
	type change struct{ appID, userID int64 }
	var changes []change
	e.id.AddHooks(identity.Hooks{PasswordChanged: func(_ context.Context, appID, userID int64) error {
		changes = append(changes, change{appID, userID})
		return nil
	}})
	tok := e.mailedToken(t, "hooked@example.com")
	if err := e.svc.Reset(t.Context(), tok, "new-password"); err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0] != (change{e.app.ID, u.ID}) {
		t.Fatalf("PasswordChanged hooks saw %v, want one change of user %d in application %d", changes, u.ID, e.app.ID)
	}
}

// An email change (the user's own or the operator's) sends a notice to the old address that
// does not name the new one; without a Mailer nothing is sent and the change succeeds.
func TestEmailChangeNotice(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{})
	u := e.signUp(t, "mover", "mover@example.com", "old-password")
	s, err := e.login("mover@example.com", "old-password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.id.UpdateUser(t.Context(), s, u.ID, identity.UserInput{Email: ptr("moved@example.com")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.id.Operator().UpdateUser(t.Context(), e.app.ID, u.ID, identity.UserInput{Email: ptr("moved-again@example.com")}); err != nil {
		t.Fatal(err)
	}
	// The two notices go to two addresses, possibly through two workers: by recipient.
	notices := map[string]passwordreset.Message{}
	for _, m := range e.flush(t) {
		notices[m.To] = m
	}
	for old, new := range map[string]string{"mover@example.com": "moved@example.com", "moved@example.com": "moved-again@example.com"} {
		m, ok := notices[old]
		if !ok || len(notices) != 2 {
			t.Fatalf("notices %+v, want one to each old address", notices)
		}
		if m.Subject != "Chat: your email address was changed" || !strings.Contains(m.Text, "account mover was changed from\n"+old) {
			t.Fatalf("notice %q:\n%s", m.Subject, m.Text)
		}
		if strings.Contains(m.Text, new) {
			t.Fatalf("the notice names the new address %s:\n%s", new, m.Text)
		}
	}

	off := newResetEnv(t, identity.AppSettings{}, func(c *passwordreset.Config) { c.Mailer, c.LinkURL = nil, "" })
	v := off.signUp(t, "quiet", "quiet@example.com", "old-password")
	if _, err := off.id.Operator().UpdateUser(t.Context(), off.app.ID, v.ID, identity.UserInput{Email: ptr("quieter@example.com")}); err != nil {
		t.Fatal(err)
	}
	if n := len(off.flush(t)); n != 0 {
		t.Fatalf("%d mails without a Mailer", n)
	}
}

// A link mailed by one process works in another whose service has no Mailer (it serves only
// the reset page).
func TestLinkWorksWithoutMailer(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{})
	e.signUp(t, "elsewhere", "elsewhere@example.com", "old-password")
	tok := e.mailedToken(t, "elsewhere@example.com")
	pw := testenv.Passwords(t)
	other, err := identity.New(identity.Config{Store: e.store.Store, Hasher: pw, Providers: []identity.Provider{pw}, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	pages, err := passwordreset.New(other, passwordreset.Config{Store: e.store.Store, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := pages.Request(t.Context(), e.app.ID, "elsewhere@example.com", ""); !errors.Is(err, identity.ErrDisabled) {
		t.Fatalf("Request without a Mailer: %v, want ErrDisabled", err)
	}
	if _, u, err := pages.Check(t.Context(), tok); err != nil || u.Email != "elsewhere@example.com" {
		t.Fatalf("Check in the other process: %v, %v", u, err)
	}
	if err := pages.Reset(t.Context(), tok, "new-password"); err != nil {
		t.Fatalf("Reset in the other process: %v", err)
	}
	if _, err := e.login("elsewhere@example.com", "new-password"); err != nil {
		t.Fatal(err)
	}
}

// resetGoroutines returns the stacks of the goroutines running this package's code (the mail
// workers), leaving out the test's own.
func resetGoroutines() []string {
	return testutil.Goroutines("identity/passwordreset.(*", "passwordreset_test.")
}

// The Identity's Shutdown stops the mail workers through the service's Shutdown hook: once it
// has returned, they finish leaving their functions (polled with a deadline) and none is
// left; a later request gets ErrUnavailable.
func TestShutdownStopsMailWorkers(t *testing.T) {
	e := newResetEnv(t, identity.AppSettings{}, func(c *passwordreset.Config) { c.Workers = 3 })
	e.signUp(t, "user", "user@example.com", "old-password")
	if err := e.svc.Request(t.Context(), e.app.ID, "user@example.com", ""); err != nil {
		t.Fatal(err) // starts the workers
	}
	if len(resetGoroutines()) == 0 {
		t.Fatal("no mail worker found: the test cannot see them")
	}
	if err := e.id.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	g := resetGoroutines()
	for deadline := time.Now().Add(5 * time.Second); len(g) > 0 && time.Now().Before(deadline); g = resetGoroutines() {
		runtime.Gosched()
	}
	if len(g) > 0 {
		t.Fatalf("%d mail workers left after Shutdown:\n%s", len(g), strings.Join(g, "\n\n"))
	}
	if n := len(e.mailer.messages()); n != 1 {
		t.Fatalf("%d mails, want the queued one sent before the workers stopped", n)
	}
	if err := e.svc.Request(t.Context(), e.app.ID, "user@example.com", ""); !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("Request after Shutdown: %v, want ErrUnavailable", err)
	}
}
