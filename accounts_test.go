package identity_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/identitykit/identity"
)

// TestAccountKey: a login or an email naming a user is keyed on the user, whatever its
// spelling; anything else on its normalized spelling within the application.
func TestAccountKey(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, identity.AppSettings{})
	u, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: ptr("Mary"), Email: ptr("mary@example.com"), Password: ptr("11111111")})
	if err != nil {
		t.Fatal(err)
	}
	app := strconv.FormatInt(e.app.ID, 10)
	user := "user:" + strconv.FormatInt(u.ID, 10)
	for _, tt := range []struct{ login, email, want string }{
		{"mary", "", user},
		{" MARY ", "", user},
		{"", "Mary@Example.com", user},
		{"mary", "other@example.com", user}, // the login wins, as in a login
		{"nobody", "", "login:" + app + ":nobody"},
		{"", "Nobody@Example.com", "email:" + app + ":nobody@example.com"},
		{"", "", ""},
	} {
		if got := e.id.AccountKey(ctx, e.app.ID, tt.login, tt.email); got != tt.want {
			t.Errorf("AccountKey(%q, %q) = %q, want %q", tt.login, tt.email, got, tt.want)
		}
	}
	// Another application's user of the same login is another account.
	other, err := e.id.CreateApplication(ctx, "other", identity.AppSettings{})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.id.AccountKey(ctx, other.ID, "mary", ""); got == user {
		t.Errorf("AccountKey in another application = %q, the first application's user", got)
	}
}

// TestLinkExternalAccountInput: the operator's link call validates its input and refuses
// unknown applications and users.
func TestLinkExternalAccountInput(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, identity.AppSettings{})
	u, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: ptr("local"), Password: ptr("11111111")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name              string
		appID, userID     int64
		provider, subject string
		want              error
	}{
		{"blank provider", e.app.ID, u.ID, "", "uid", identity.ErrInvalidInput},
		{"blank subject", e.app.ID, u.ID, "cidp", "", identity.ErrInvalidInput},
		{"NUL in subject", e.app.ID, u.ID, "cidp", "a\x00b", identity.ErrInvalidInput},
		{"unknown application", e.app.ID + 100, u.ID, "cidp", "uid", identity.ErrApplicationNotFound},
		{"unknown user", e.app.ID, u.ID + 100, "cidp", "uid", identity.ErrUserNotFound},
		{"linked", e.app.ID, u.ID, "cidp", "uid", nil},
		{"taken", e.app.ID, u.ID, "cidp", "uid", identity.ErrUserExists},
	} {
		if err := e.id.LinkExternalAccount(ctx, tt.appID, tt.userID, tt.provider, tt.subject); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestSettingsValidated: an unknown LocalSignUp value is refused, not read as the default.
func TestSettingsValidated(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, identity.AppSettings{})
	for _, v := range []identity.LocalSignUp{"yes", "Allow", " deny"} {
		_, err := e.id.UpdateApplicationSettings(ctx, e.app.ID, identity.AppSettings{LocalSignUp: v})
		var ie *identity.Error
		if !errors.As(err, &ie) || !errors.Is(err, identity.ErrInvalidInput) || ie.Code("local_sign_up") == "" {
			t.Errorf("LocalSignUp %q: %v", v, err)
		}
		if _, err := e.id.CreateApplication(ctx, "x", identity.AppSettings{LocalSignUp: v}); !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("CreateApplication with LocalSignUp %q: %v", v, err)
		}
	}
	for _, v := range []identity.LocalSignUp{identity.LocalSignUpDefault, identity.LocalSignUpAllow, identity.LocalSignUpDeny} {
		if _, err := e.id.UpdateApplicationSettings(ctx, e.app.ID, identity.AppSettings{LocalSignUp: v}); err != nil {
			t.Errorf("LocalSignUp %q: %v", v, err)
		}
	}
}

// TestWrongOldPassword: a wrong current password is ErrWrongPassword, which is an
// ErrInvalidInput naming old_password, and changes nothing.
func TestWrongOldPassword(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, identity.AppSettings{EmailChangeNeedsPassword: true})
	s := e.userSession(t, "owner", "11111111")
	for _, in := range []identity.UserInput{
		{Password: ptr("22222222"), OldPassword: ptr("wrong-pw")},
		{Email: ptr("new@example.com"), OldPassword: ptr("wrong-pw")},
	} {
		_, err := e.id.UpdateUser(ctx, s, s.UserID, in)
		var ie *identity.Error
		if !errors.Is(err, identity.ErrWrongPassword) || !errors.Is(err, identity.ErrInvalidInput) || !errors.As(err, &ie) || ie.Code("old_password") == "" {
			t.Fatalf("UpdateUser with a wrong old password: %v", err)
		}
	}
	u, err := e.id.User(ctx, s, s.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "" {
		t.Fatalf("email changed to %q", u.Email)
	}
	if _, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
		Credentials: &identity.Credentials{Login: "owner", Password: "11111111"}}); err != nil {
		t.Fatalf("the old password no longer works: %v", err)
	}
}
