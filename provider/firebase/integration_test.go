package firebase

import (
	"context"
	"errors"
	"testing"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil"
	"github.com/identitykit/identity/internal/testutil/testenv"
)

// integration is an Identity over a real (in-memory SQLite) store with the password and
// both Firebase providers, and one application that allows proj-a.
type integration struct {
	t   *testing.T
	id  *identity.Identity
	app *identity.Application
	ks  *testutil.KeyServer
	clk *testutil.Clock
}

func newIntegration(t *testing.T) *integration {
	t.Helper()
	st, pw := testenv.Store(t), testenv.Passwords(t)
	in := &integration{t: t, ks: testutil.NewKeyServer(t, "k1"), clk: newClock()}
	phone, email, err := newPair(Config{KeySetURL: in.ks.URL(), Now: in.clk.Now, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	in.id, err = identity.New(identity.Config{
		Store: st, Hasher: pw, Providers: []identity.Provider{pw, phone, email},
		Now: in.clk.Now, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var settings identity.AppSettings
	for _, name := range []string{PhoneProvider, EmailProvider} {
		if err := enable(&settings, name, AppConfig{ProjectIDs: []string{"proj-a"}}); err != nil {
			t.Fatal(err)
		}
	}
	if in.app, err = in.id.CreateApplication(context.Background(), "test", settings); err != nil {
		t.Fatal(err)
	}
	return in
}

// token mints a token for uid with the phone number and email given ("" leaves it out).
func (in *integration) token(uid, phone, email string) string {
	m := claimsFor("proj-a", in.clk.Now())
	m["sub"], m["user_id"] = uid, uid
	delete(m, "phone_number")
	delete(m, "email")
	if phone != "" {
		m["phone_number"] = phone
	}
	if email != "" {
		m["email"] = email
	}
	return sign(in.t, "k1", "k1", m)
}

func (in *integration) creds(provider, token string) *identity.Credentials {
	return &identity.Credentials{Provider: provider, Params: map[string]string{"project_id": "proj-a", "access_token": token}}
}

func (in *integration) session(c *identity.Credentials) (*identity.Session, error) {
	return in.id.CreateSession(context.Background(), identity.SessionRequest{
		ApplicationID: in.app.ID, AuthKey: in.app.AuthKey, Credentials: c,
	})
}

func TestIntegrationPhone(t *testing.T) {
	in := newIntegration(t)
	s1, err := in.session(in.creds(PhoneProvider, in.token("uid-phone", "+380505701234", "")))
	if err != nil {
		t.Fatalf("first sign-in: %v", err)
	}
	u := s1.User
	if u == nil || u.Login != "380505701234" || u.Phone != "380505701234" || u.Email != "" || u.PasswordHash != "" {
		t.Fatalf("created user = %+v, want login and phone 380505701234 and no password", u)
	}

	// The same uid signs in again, this time upgrading an application session (POST /login),
	// and with another phone number in the token: the link is the uid.
	appSession, err := in.session(nil)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := in.id.Login(context.Background(), appSession, *in.creds(PhoneProvider, in.token("uid-phone", "+15550001111", "")))
	if err != nil {
		t.Fatalf("second sign-in: %v", err)
	}
	if s2.UserID != u.ID || s2.User.Login != "380505701234" {
		t.Errorf("second sign-in user = %d %q, want %d %q", s2.UserID, s2.User.Login, u.ID, "380505701234")
	}

	// The session authenticates the user on chat the way ConnectyCube documents.
	if got, err := in.id.AuthenticateUserToken(context.Background(), u.ID, s2.Token); err != nil || got.ID != u.ID {
		t.Errorf("AuthenticateUserToken = %v, %v", got, err)
	}

	// Another uid with the same number (the number changed hands) is not merged into the
	// first user: it gets a user of its own, with the phone and without the taken login.
	s3, err := in.session(in.creds(PhoneProvider, in.token("uid-other", "+380505701234", "")))
	if err != nil {
		t.Fatalf("other uid, same number: %v", err)
	}
	if s3.UserID == u.ID || s3.User.Login != "" || s3.User.Phone != "380505701234" {
		t.Fatalf("other uid, same number: user %d %+v; want a new user with phone and no login", s3.UserID, s3.User)
	}
}

func TestIntegrationPhoneLoginOfPasswordUserIsNotTakenOver(t *testing.T) {
	in := newIntegration(t)
	ctx := context.Background()
	login, pass := "380505709999", "correct horse"
	victim, err := in.id.SignUp(ctx, in.app.ID, identity.UserInput{Login: &login, Password: &pass})
	if err != nil {
		t.Fatal(err)
	}
	// The phone's owner signs in with Firebase: a user of its own, with the phone and
	// without the login somebody else already has.
	s1, err := in.session(in.creds(PhoneProvider, in.token("uid-owner", "+380505709999", "")))
	if err != nil {
		t.Fatalf("Firebase sign-in over a taken login: %v", err)
	}
	if s1.UserID == victim.ID || s1.User.Login != "" || s1.User.Phone != "380505709999" || s1.User.PasswordHash != "" {
		t.Fatalf("Firebase user %d %+v; want a new user with phone, no login, no password", s1.UserID, s1.User)
	}

	// Nothing was linked to the password user: its password still works, the Firebase uid
	// keeps reaching its own user, and the password user is unchanged.
	s, err := in.session(&identity.Credentials{Login: login, Password: pass})
	if err != nil || s.UserID != victim.ID {
		t.Fatalf("password login after the Firebase sign-in: %v", err)
	}
	if s.User.Phone != "" || s.User.Login != login {
		t.Errorf("password user changed: %+v", s.User)
	}
	s2, err := in.session(in.creds(PhoneProvider, in.token("uid-owner", "+380505709999", "")))
	if err != nil || s2.UserID != s1.UserID {
		t.Fatalf("returning Firebase sign-in: user %d, %v; want %d", s2.UserID, err, s1.UserID)
	}
}

func TestIntegrationEmail(t *testing.T) {
	in := newIntegration(t)
	ctx := context.Background()
	s1, err := in.session(in.creds(EmailProvider, in.token("uid-mail", "", "New.User@Example.com")))
	if err != nil {
		t.Fatalf("first sign-in: %v", err)
	}
	if u := s1.User; u.Email != "new.user@example.com" || u.Login != "" || u.Phone != "" {
		t.Fatalf("created user = %+v, want only the lower-cased email", u)
	}
	s2, err := in.session(in.creds(EmailProvider, in.token("uid-mail", "", "new.user@example.com")))
	if err != nil || s2.UserID != s1.UserID {
		t.Fatalf("second sign-in: user %d, %v; want %d", s2.UserID, err, s1.UserID)
	}

	// A password user's email cannot be claimed by a Firebase account, verified or not.
	mail, pass := "owner@example.com", "correct horse"
	owner, err := in.id.SignUp(ctx, in.app.ID, identity.UserInput{Email: &mail, Password: &pass})
	if err != nil {
		t.Fatal(err)
	}
	_, err = in.session(in.creds(EmailProvider, in.token("uid-attacker", "", "Owner@Example.com")))
	assertTaken(t, err, "email")
	s, err := in.session(&identity.Credentials{Email: mail, Password: pass})
	if err != nil || s.UserID != owner.ID {
		t.Fatalf("password login after the refused Firebase sign-in: %v", err)
	}

	// Phone and email accounts of one Firebase uid are linked separately (documented).
	s3, err := in.session(in.creds(PhoneProvider, in.token("uid-mail", "+447700900123", "new.user@example.com")))
	if err != nil {
		t.Fatal(err)
	}
	if s3.UserID == s1.UserID {
		t.Errorf("firebase_phone reused the firebase_email user; the package doc says they are separate")
	}
}

func TestIntegrationInvalidTokenCreatesNothing(t *testing.T) {
	in := newIntegration(t)
	m := claimsFor("proj-a", in.clk.Now())
	m["aud"] = "proj-x"
	_, err := in.session(in.creds(PhoneProvider, sign(t, "k1", "k1", m)))
	if !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("err = %v, want ErrInvalidCredentials", err)
	}
	// The valid token of the same person now creates the user: nothing was half-created.
	s, err := in.session(in.creds(PhoneProvider, in.token("uid-123", "+380505701234", "")))
	if err != nil || s.User.Login != "380505701234" {
		t.Fatalf("valid sign-in after a rejected one: %v", err)
	}
}

func TestIntegrationConcurrentFirstSignIn(t *testing.T) {
	in := newIntegration(t)
	tok := in.token("uid-race", "+380505700000", "")
	const n = 4
	ids := make(chan int64, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			s, err := in.session(in.creds(PhoneProvider, tok))
			if err != nil {
				errs <- err
				return
			}
			ids <- s.UserID
		}()
	}
	var first int64
	for range n {
		select {
		case err := <-errs:
			t.Fatalf("concurrent first sign-in: %v", err)
		case id := <-ids:
			if first == 0 {
				first = id
			} else if id != first {
				t.Fatalf("concurrent first sign-ins created users %d and %d", first, id)
			}
		}
	}
}

func assertTaken(t *testing.T, err error, field string) {
	t.Helper()
	var e *identity.Error
	if !errors.Is(err, identity.ErrUserExists) || !errors.As(err, &e) || e.Code(field) == "" {
		t.Fatalf("err = %v, want ErrUserExists naming %q", err, field)
	}
	if e.Code(field) != "taken" {
		t.Errorf("code = %q, want taken", e.Code(field))
	}
}
