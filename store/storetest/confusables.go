package storetest

import (
	"fmt"
	"testing"

	"github.com/identitykit/identity"
)

// Logins are unique, and found, in their identity.NormalizeLogin form (NFKC, case-folded),
// and a login whose non-ASCII characters are confusable look-alikes of another's (the
// Cyrillic "ѕсоре" for "scope") is taken too.

var confusableTests = []test{
	{"User/ByLoginCompatibleForms", testUserByLoginCompatible},
	{"User/ConfusableLoginTaken", testConfusableLoginTaken},
	{"Concurrent/SignUpConfusableLogins", testConcurrentConfusable},
}

const (
	scopeCyrillic  = "\u0455\u0441\u043e\u0440\u0435" // ѕсоре
	scopeFullwidth = "\uff33\uff23\uff2f\uff30\uff25" // ＳＣＯＰＥ
)

func testUserByLoginCompatible(t *testing.T, s identity.Store) {
	app := newApp(t, s)
	u := newUser(t, s, app.ID, "alice", "")
	v := newUser(t, s, app.ID, "Straße", "")
	for _, tc := range []struct {
		login string
		want  int64
	}{
		{"ALICE", u.ID},
		{"\uff41\uff4c\uff49\uff43\uff45", u.ID},                     // fullwidth
		{"\U0001d41a\U0001d425\U0001d422\U0001d41c\U0001d41e", u.ID}, // mathematical bold
		{"STRASSE", v.ID},                                            // full case folding
		{"strasse", v.ID},
	} {
		got, err := s.UserByLogin(t.Context(), app.ID, tc.login)
		wantErr(t, fmt.Sprintf("UserByLogin(%+q)", tc.login), err, nil)
		if got.ID != tc.want {
			t.Fatalf("UserByLogin(%+q) = user %d, want %d", tc.login, got.ID, tc.want)
		}
	}
}

func testConfusableLoginTaken(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app, other := newApp(t, s), newApp(t, s)
	newUser(t, s, app.ID, "scope", "")
	for _, login := range []string{scopeCyrillic, scopeFullwidth, "SCOPE"} {
		err := s.CreateUser(ctx, mkUser(app.ID, login, ""), nil)
		wantField(t, fmt.Sprintf("CreateUser(%+q)", login), err, identity.ErrUserExists, "login", "taken")
	}
	u := newUser(t, s, app.ID, "free", "")
	upd := *u
	upd.Login = scopeCyrillic
	if got := updateTaken(t, s, &upd, "login"); got.Login != "free" {
		t.Fatalf("rejected update was stored: %s", dump(got))
	}
	// Distinct logins of other scripts, and the look-alike in another application, are fine.
	newUser(t, s, app.ID, "\u0430\u043b\u0438\u0441\u0430", "") // алиса
	newUser(t, s, app.ID, "alisa", "")
	newUser(t, s, app.ID, "山田太郎", "")
	newUser(t, s, other.ID, scopeCyrillic, "")
}

func testConcurrentConfusable(t *testing.T, s identity.Store) {
	app := newApp(t, s)
	spellings := []string{"scope", scopeCyrillic, scopeFullwidth, "Scope"}
	errs := race(func(i int) error {
		return s.CreateUser(t.Context(), mkUser(app.ID, spellings[i%len(spellings)], ""), nil)
	})
	oneWinner(t, errs, identity.ErrUserExists, "login")
}
