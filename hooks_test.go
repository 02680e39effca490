package identity_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/identitykit/identity"
)

// The core calls the hooks of every registration, in registration order: PasswordChanged
// after the user's own password change and the operator's (its error is returned, the
// password stays changed), EmailChanged with the user before and after a change of a set
// email, Sweep in DeleteExpired with the Identity's clock (its error ends the pass).
func TestHooks(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, identity.AppSettings{})
	var calls []string
	var passwordErr, sweepErr error
	for _, name := range []string{"first", "second"} {
		e.id.AddHooks(identity.Hooks{
			PasswordChanged: func(_ context.Context, appID, userID int64) error {
				calls = append(calls, fmt.Sprintf("%s password %d/%d", name, appID, userID))
				return passwordErr
			},
			EmailChanged: func(_ context.Context, app *identity.Application, old, u *identity.User) {
				calls = append(calls, fmt.Sprintf("%s email %d %s->%s", name, app.ID, old.Email, u.Email))
			},
			Sweep: func(_ context.Context, now time.Time) error {
				calls = append(calls, fmt.Sprintf("%s sweep %s", name, now.Format(time.RFC3339)))
				return sweepErr
			},
		})
	}
	u, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: ptr("hooked"), Password: ptr("password1")})
	if err != nil {
		t.Fatal(err)
	}
	s := e.userSession(t, "hooked", "password1")
	want := func(what string, w ...string) {
		t.Helper()
		if !slices.Equal(calls, w) {
			t.Fatalf("%s: hooks called %q, want %q", what, calls, w)
		}
		calls = nil
	}
	want("sign-up and login")

	// A first email is no change of an email: no hook.
	if _, err := e.id.UpdateUser(ctx, s, u.ID, identity.UserInput{Email: ptr("a@example.com")}); err != nil {
		t.Fatal(err)
	}
	want("first email")
	if _, err := e.id.UpdateUser(ctx, s, u.ID, identity.UserInput{Email: ptr("B@example.com")}); err != nil {
		t.Fatal(err)
	}
	ids := fmt.Sprintf("%d/%d", e.app.ID, u.ID)
	want("email change", fmt.Sprintf("first email %d a@example.com->b@example.com", e.app.ID), fmt.Sprintf("second email %d a@example.com->b@example.com", e.app.ID))

	if _, err := e.id.UpdateUser(ctx, s, u.ID, identity.UserInput{Password: ptr("password2"), OldPassword: ptr("password1")}); err != nil {
		t.Fatal(err)
	}
	want("own password change", "first password "+ids, "second password "+ids)
	passwordErr = errors.New("hook failed")
	if _, err := e.id.Operator().UpdateUser(ctx, e.app.ID, u.ID, identity.UserInput{Password: ptr("password3")}); !errors.Is(err, passwordErr) {
		t.Fatalf("operator password change with a failing hook: %v, want the hook's error", err)
	}
	want("operator password change", "first password "+ids) // the first error stops the others
	if _, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
		Credentials: &identity.Credentials{Login: "hooked", Password: "password3"}}); err != nil {
		t.Fatalf("the password after a failing hook: %v (it stays changed)", err)
	}

	now := e.clock.Now().UTC().Format(time.RFC3339)
	if _, err := e.id.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	want("DeleteExpired", "first sweep "+now, "second sweep "+now)
	sweepErr = errors.New("sweep failed")
	if _, err := e.id.DeleteExpired(ctx); !errors.Is(err, sweepErr) {
		t.Fatalf("DeleteExpired with a failing Sweep hook: %v, want its error", err)
	}
	want("failing sweep", "first sweep "+now)
}
