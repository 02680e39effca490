package identity_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil/testenv"
)

func fieldOf(err error) string { return testenv.Fields(err) }

func TestSignUpValidation(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	ctx := context.Background()
	if _, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: ptr("taken"), Email: ptr("taken@example.com"), Password: ptr("password1")}); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("a", 71)
	tests := []struct {
		name      string
		in        identity.UserInput
		wantErr   error
		wantField string
	}{
		{"full profile", identity.UserInput{Login: ptr("marvin18"), Password: ptr("supersecurepwd"), Email: ptr("awesomeman@gmail.com"),
			FullName: ptr("Marvin Simon"), Phone: ptr("47802323143"), Website: ptr("https://dozensofdreams.com"),
			Tags: &[]string{"iphone", "apple"}, CustomData: ptr(`{"middle_name":"Bartoleo"}`)}, nil, ""},
		{"email only", identity.UserInput{Email: ptr("only@example.com"), Password: ptr("password1")}, nil, ""},
		{"no login or email", identity.UserInput{Password: ptr("password1")}, identity.ErrInvalidInput, ""},
		{"no password", identity.UserInput{Login: ptr("nopass")}, identity.ErrInvalidInput, "password"},
		{"short password", identity.UserInput{Login: ptr("shortpw"), Password: ptr("1234567")}, identity.ErrInvalidInput, "password"},
		{"long password", identity.UserInput{Login: ptr("longpw"), Password: ptr(strings.Repeat("p", 129))}, identity.ErrInvalidInput, "password"},
		{"short login", identity.UserInput{Login: ptr("ab"), Password: ptr("password1")}, identity.ErrInvalidInput, "login"},
		{"long login", identity.UserInput{Login: ptr(long), Password: ptr("password1")}, identity.ErrInvalidInput, "login"},
		{"reserved guest login", identity.UserInput{Login: ptr("guest_login_X"), Password: ptr("password1")}, identity.ErrInvalidInput, "login"},
		{"bad email", identity.UserInput{Email: ptr("not-an-email"), Password: ptr("password1")}, identity.ErrInvalidInput, "email"},
		{"six tags", identity.UserInput{Login: ptr("tagger"), Password: ptr("password1"), Tags: &[]string{"a,b,c,d,e,f"}}, identity.ErrInvalidInput, "tag_list"},
		{"login taken, other case", identity.UserInput{Login: ptr("TAKEN"), Password: ptr("password1")}, identity.ErrUserExists, "login"},
		{"email taken, other case", identity.UserInput{Email: ptr("Taken@Example.COM"), Password: ptr("password1")}, identity.ErrUserExists, "email"},
		{"login and email taken", identity.UserInput{Login: ptr("taken"), Email: ptr("taken@example.com"), Password: ptr("password1")}, identity.ErrUserExists, "email,login"},
		{"huge custom data", identity.UserInput{Login: ptr("bigdata"), Password: ptr("password1"), CustomData: ptr(strings.Repeat("x", 65<<10))}, identity.ErrInvalidInput, "custom_data"},
		{"nul in custom data", identity.UserInput{Login: ptr("nuldata"), Password: ptr("password1"), CustomData: ptr("a\x00b")}, identity.ErrInvalidInput, "custom_data"},
		{"invalid utf-8", identity.UserInput{Login: ptr("utf8bad"), Password: ptr("password1"), FullName: ptr("\xff")}, identity.ErrInvalidInput, "full_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := e.id.SignUp(ctx, e.app.ID, tt.in)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if f := fieldOf(err); f != tt.wantField {
					t.Fatalf("error fields %q, want %q (%v)", f, tt.wantField, err)
				}
				return
			}
			if u.ID == 0 || u.PasswordHash == "" || len(u.UID) != 24 {
				t.Fatalf("user = %+v", u)
			}
		})
	}
}

func TestSignUpNormalizes(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	u, err := e.id.SignUp(context.Background(), e.app.ID, identity.UserInput{
		Login: ptr("  Norm  "), Email: ptr(" Norm@Example.COM "), Password: ptr("password1"),
		Website: ptr("pavalli.com.au"), Tags: &[]string{"vip, accountant", "VIP", ""},
	})
	if err != nil {
		t.Fatal(err)
	}
	if u.Login != "Norm" || u.Email != "norm@example.com" || u.Website != "http://pavalli.com.au" ||
		strings.Join(u.Tags, ",") != "vip,accountant" {
		t.Fatalf("user = %+v", u)
	}
}

func TestConcurrentSignUpSameLogin(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, exists := 0, 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: ptr("sameLogin"), Password: ptr("password1")})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, identity.ErrUserExists):
				exists++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || exists != 49 {
		t.Fatalf("%d successes, %d ErrUserExists; want 1, 49", ok, exists)
	}
}

func TestUpdateUser(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	ctx := context.Background()
	s := e.userSession(t, "marvin18", "supersecurepwd")
	other := e.userSession(t, "other", "password1")
	cur, _ := e.id.Validate(ctx, s.Token)

	u, err := e.id.UpdateUser(ctx, cur, cur.UserID, identity.UserInput{Login: ptr("marvin18sim"), FullName: ptr("Mar Sim")})
	if err != nil || u.Login != "marvin18sim" || u.FullName != "Mar Sim" {
		t.Fatalf("update = %+v, %v", u, err)
	}
	if v, _ := e.id.Validate(ctx, s.Token); v.User.Login != "marvin18sim" {
		t.Fatalf("session sees stale user %q", v.User.Login)
	}
	tests := []struct {
		name      string
		target    int64
		in        identity.UserInput
		wantErr   error
		wantField string
	}{
		{"another user", other.UserID, identity.UserInput{FullName: ptr("x")}, identity.ErrForbidden, ""},
		{"login taken", cur.UserID, identity.UserInput{Login: ptr("OTHER")}, identity.ErrUserExists, "login"},
		{"password without old", cur.UserID, identity.UserInput{Password: ptr("newpassword")}, identity.ErrInvalidInput, "old_password"},
		{"password with wrong old", cur.UserID, identity.UserInput{Password: ptr("newpassword"), OldPassword: ptr("nope-nope")}, identity.ErrInvalidInput, "old_password"},
		{"blank login", cur.UserID, identity.UserInput{Login: ptr("")}, identity.ErrInvalidInput, "login"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.id.UpdateUser(ctx, cur, tt.target, tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if f := fieldOf(err); f != tt.wantField {
				t.Fatalf("fields %q, want %q", f, tt.wantField)
			}
		})
	}
	appS, _ := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey})
	if _, err := e.id.UpdateUser(ctx, appS, cur.UserID, identity.UserInput{}); !errors.Is(err, identity.ErrNeedUser) {
		t.Fatalf("app session update: %v", err)
	}
}

func TestPasswordChangeRevokesOtherSessions(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	ctx := context.Background()
	a := e.userSession(t, "changer", "password1")
	b := e.userSession(t, "changer", "password1")
	cur, _ := e.id.Validate(ctx, a.Token)
	if _, err := e.id.UpdateUser(ctx, cur, cur.UserID, identity.UserInput{Password: ptr("password2"), OldPassword: ptr("password1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.id.Validate(ctx, b.Token); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Fatalf("other session survived a password change: %v", err)
	}
	if _, err := e.id.Validate(ctx, a.Token); err != nil {
		t.Fatalf("current session revoked: %v", err)
	}
	_, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
		Credentials: &identity.Credentials{Login: "changer", Password: "password1"}})
	if !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("old password still works: %v", err)
	}
	e.userSession(t, "changer", "password2")
}

func TestDeleteUser(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	ctx := context.Background()
	a := e.userSession(t, "leaver", "password1")
	b := e.userSession(t, "leaver", "password1")
	other := e.userSession(t, "stayer", "password1")
	cur, _ := e.id.Validate(ctx, a.Token)
	if err := e.id.DeleteUser(ctx, cur, other.UserID); !errors.Is(err, identity.ErrForbidden) {
		t.Fatalf("deleting another user: %v", err)
	}
	if err := e.id.DeleteUser(ctx, cur, cur.UserID); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{a.Token, b.Token} {
		if _, err := e.id.Validate(ctx, tok); !errors.Is(err, identity.ErrSessionNotFound) {
			t.Fatalf("session of deleted user: %v", err)
		}
	}
	if _, err := e.id.Validate(ctx, other.Token); err != nil {
		t.Fatal(err)
	}
}

func TestNewConfig(t *testing.T) {
	st := openStore(t, false)
	pw := cheapPasswords(t)
	tests := []struct {
		name string
		cfg  identity.Config
	}{
		{"no store", identity.Config{Hasher: pw}},
		{"no hasher", identity.Config{Store: st}},
		{"duplicate provider", identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw, pw}}},
		{"nil provider", identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{nil}}},
		{"negative interval", identity.Config{Store: st, Hasher: pw, ActivityInterval: -1}},
	}
	for _, tt := range tests {
		if _, err := identity.New(tt.cfg); err == nil {
			t.Errorf("%s: New accepted the config", tt.name)
		}
	}
}

// PasswordPolicy.Check applies the policy (defaults filled) and names "password" with the
// same messages as a sign-up.
func TestPasswordPolicyCheck(t *testing.T) {
	for _, tc := range []struct {
		policy identity.PasswordPolicy
		pw     string
		want   identity.FieldError // the problem; zero for none
	}{
		{identity.PasswordPolicy{}, "12345678", identity.FieldError{}},
		{identity.PasswordPolicy{}, "1234567", identity.FieldError{Field: "password", Code: "too_short", Limit: 8}},
		{identity.PasswordPolicy{}, strings.Repeat("x", 129), identity.FieldError{Field: "password", Code: "too_long", Limit: 128}},
		{identity.PasswordPolicy{}, "", identity.FieldError{Field: "password", Code: "blank"}},
		{identity.PasswordPolicy{}, "bad\xffutf8-long-enough", identity.FieldError{Field: "password", Code: "invalid"}},
		{identity.PasswordPolicy{MinLength: 12, MaxLength: 12}, "twelve-chars", identity.FieldError{}},
		{identity.PasswordPolicy{MinLength: 12}, "eleven-char", identity.FieldError{Field: "password", Code: "too_short", Limit: 12}},
		{identity.PasswordPolicy{MaxLength: 10}, "ünïcödé-ok", identity.FieldError{}}, // characters, not bytes
	} {
		err := tc.policy.Check(tc.pw)
		if tc.want == (identity.FieldError{}) {
			if err != nil {
				t.Fatalf("%+v.Check(%q) = %v, want nil", tc.policy, tc.pw, err)
			}
			continue
		}
		var ie *identity.Error
		if !errors.Is(err, identity.ErrInvalidInput) || !errors.As(err, &ie) || len(ie.Fields) != 1 || ie.Fields[0] != tc.want {
			t.Fatalf("%+v.Check(%q) = %v, want ErrInvalidInput with %+v", tc.policy, tc.pw, err, tc.want)
		}
	}
}

func TestValidEmail(t *testing.T) {
	for _, tc := range []struct {
		email string
		want  bool
	}{
		{"user@example.com", true},
		{"first.last+tag@mail.example.co.uk", true},
		{"", false},
		{"user", false},
		{"user@localhost", false},
		{"user@example.com.", false},
		{"a@b@example.com", false},
		{"User <user@example.com>", false},
		{"user@example.com, other@example.com", false},
		{"line\r\nbreak@example.com", false},
		{"@example.com", false},
	} {
		if got := identity.ValidEmail(tc.email); got != tc.want {
			t.Fatalf("ValidEmail(%q) = %v, want %v", tc.email, got, tc.want)
		}
	}
}
