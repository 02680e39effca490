package identity_test

import (
	"errors"
	"testing"

	"github.com/identitykit/identity"
)

// TestConfusableLogins: a login cannot be registered in a form that looks like, or
// normalizes to, a taken one, nor hide invisible or control characters; legitimate logins
// in any one script are accepted.
func TestConfusableLogins(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	ctx := t.Context()
	for _, l := range []string{"alice", "scope", "finnish", "Straße"} {
		if _, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: ptr(l), Password: ptr("password1")}); err != nil {
			t.Fatalf("SignUp(%q): %v", l, err)
		}
	}
	tests := []struct {
		name, login string
		wantErr     error  // nil: accepted
		stored      string // the stored login when accepted
	}{
		{"cyrillic a mixed with latin", "\u0430lice", identity.ErrInvalidInput, ""},
		{"greek alpha mixed with latin", "\u03b1lice", identity.ErrInvalidInput, ""},
		{"zero-width space", "alice\u200b", identity.ErrInvalidInput, ""},
		{"zero-width joiner inside", "al\u200dice", identity.ErrInvalidInput, ""},
		{"soft hyphen", "ali\u00adce", identity.ErrInvalidInput, ""},
		{"right-to-left override", "alice\u202egnp.exe", identity.ErrInvalidInput, ""},
		{"bidi isolate", "\u2066alice\u2069", identity.ErrInvalidInput, ""},
		{"left-to-right mark", "alice\u200e", identity.ErrInvalidInput, ""},
		{"C0 control", "ali\x07ce", identity.ErrInvalidInput, ""},
		{"C1 control", "ali\u0085ce", identity.ErrInvalidInput, ""},
		{"tab", "ali\tce", identity.ErrInvalidInput, ""},
		{"private use", "alice\ue000", identity.ErrInvalidInput, ""},
		{"unassigned", "alice\u0378", identity.ErrInvalidInput, ""},
		{"variation selector", "alice\ufe0f", identity.ErrInvalidInput, ""},
		{"hangul filler", "\u3164alice", identity.ErrInvalidInput, ""},
		{"braille blank", "alice\u2800", identity.ErrInvalidInput, ""},
		{"leading combining mark", "\u0301alicia", identity.ErrInvalidInput, ""},
		{"repeated combining mark", "alice\u0308\u0308", identity.ErrInvalidInput, ""},
		{"four stacked marks", "alic\u0301\u0302\u0303\u0304", identity.ErrInvalidInput, ""},
		{"fullwidth", "\uff41\uff4c\uff49\uff43\uff45", identity.ErrUserExists, ""},
		{"fullwidth upper case", "\uff21\uff2c\uff29\uff23\uff25", identity.ErrUserExists, ""},
		{"mathematical bold", "\U0001d41a\U0001d425\U0001d422\U0001d41c\U0001d41e", identity.ErrUserExists, ""},
		{"ligature", "\ufb01nnish", identity.ErrUserExists, ""},
		{"case folding", "STRASSE", identity.ErrUserExists, ""},
		{"whole-script cyrillic look-alike", "\u0455\u0441\u043e\u0440\u0435", identity.ErrUserExists, ""},
		{"decomposed accent", "jose\u0301", nil, "jos\u00e9"},
		{"precomposed accent, same login", "jos\u00e9", identity.ErrUserExists, ""},
		{"fullwidth stored as ascii", "\uff22\uff4f\uff42\uff42\uff59", nil, "Bobby"},
		{"ligature stored expanded", "\ufb02ow", nil, "flow"},
		{"cyrillic", "\u0430\u043b\u0438\u0441\u0430", nil, "\u0430\u043b\u0438\u0441\u0430"},
		{"han", "山田太郎", nil, "山田太郎"},
		{"japanese with latin", "tanaka_山田たろう", nil, "tanaka_山田たろう"},
		{"korean", "홍길동", nil, "홍길동"},
		{"greek", "Ελένη", nil, "Ελένη"},
		{"hebrew", "שרה", nil, "שרה"},
		{"vietnamese", "nguy\u1ec5n", nil, "nguy\u1ec5n"},
		{"digits and punctuation", "alice-1.b_2", nil, "alice-1.b_2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: ptr(tt.login), Password: ptr("password1")})
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("SignUp(%+q) = %v, want %v", tt.login, err, tt.wantErr)
			}
			if err != nil {
				if f := fieldOf(err); f != "login" {
					t.Fatalf("SignUp(%+q) error names %q, want login", tt.login, f)
				}
				return
			}
			if u.Login != tt.stored {
				t.Fatalf("SignUp(%+q) stored %+q, want %+q", tt.login, u.Login, tt.stored)
			}
		})
	}

	// An update goes through the same rules.
	s := e.userSession(t, "alice", "password1")
	for _, l := range []string{"\u0430lice", "alice\u200b", "SCOPE"} {
		if _, err := e.id.UpdateUser(ctx, s, s.UserID, identity.UserInput{Login: ptr(l)}); err == nil || fieldOf(err) != "login" {
			t.Fatalf("UpdateUser(login %+q) = %v, want a login error", l, err)
		}
	}
}

// TestLoginInCompatibleForms: a user logs in whatever compatible form of the login or email
// is typed.
func TestLoginInCompatibleForms(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	if _, err := e.id.SignUp(t.Context(), e.app.ID, identity.UserInput{Login: ptr("alice"), Email: ptr("alice@example.com"), Password: ptr("password1")}); err != nil {
		t.Fatal(err)
	}
	for _, login := range []string{"ALICE", "\uff41\uff4c\uff49\uff43\uff45", "\U0001d41a\U0001d425\U0001d422\U0001d41c\U0001d41e", "alice@example.com", "\uff41lice\uff20example.com"} {
		if s := e.userSession(t, login, "password1"); s.UserID == 0 {
			t.Fatalf("login %+q: no user session", login)
		}
	}
}

// TestEmailCharacterRules: emails get the same invisible-character and script rules, per
// dot-separated part.
func TestEmailCharacterRules(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	ctx := t.Context()
	if _, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Email: ptr("alice@example.com"), Password: ptr("password1")}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, email string
		wantErr     error
	}{
		{"cyrillic a in the local part", "\u0430lice@example.com", identity.ErrInvalidInput},
		{"cyrillic a in the domain", "bob@ex\u0430mple.com", identity.ErrInvalidInput},
		{"zero-width space", "alice\u200b@example.com", identity.ErrInvalidInput},
		{"bidi override", "bob\u202e@example.com", identity.ErrInvalidInput},
		{"fullwidth", "\uff41\uff4c\uff49\uff43\uff45@example.com", identity.ErrUserExists},
		{"cyrillic local part, latin domain", "\u0430\u043b\u0438\u0441\u0430@example.com", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Email: ptr(tt.email), Password: ptr("password1")})
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("SignUp(email %+q) = %v, want %v", tt.email, err, tt.wantErr)
			}
			if err != nil && fieldOf(err) != "email" {
				t.Fatalf("SignUp(email %+q) error names %q, want email", tt.email, fieldOf(err))
			}
		})
	}
}
