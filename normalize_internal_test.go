package identity

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzNormalizeLogin checks the normalizer on arbitrary input: keys are stable (normalizing
// a key changes nothing), the login stored for an input has the key a lookup with that input
// computes, and a login that passes the rules keeps no invisible character in its key.
func FuzzNormalizeLogin(f *testing.F) {
	for _, s := range []string{"alice", "ＡＬＩＣＥ", "\u0430lice", "alice\u200b", "ﬁnn", "Straße", "jose\u0301",
		"\u0301x", "山田太郎", " \u00b4x ", "\u3000a\u3000", "ǅ", "ΐ", "\xff", "a\u0345\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key := NormalizeLogin(s)
		if again := NormalizeLogin(key); again != key {
			t.Fatalf("NormalizeLogin not stable: %+q -> %+q -> %+q", s, key, again)
		}
		if e := NormalizeEmail(s); NormalizeEmail(e) != e {
			t.Fatalf("NormalizeEmail not stable: %+q -> %+q -> %+q", s, e, NormalizeEmail(e))
		}
		u := &User{}
		if applyInput(u, &UserInput{Login: &s, Password: ptrTo("password1")}, true, PasswordPolicy{}) != nil || u.Login == "" {
			return
		}
		if NormalizeLogin(u.Login) != key {
			t.Fatalf("stored login %+q has key %+q, lookup with %+q computes %+q", u.Login, NormalizeLogin(u.Login), s, key)
		}
		if !utf8.ValidString(key) || strings.IndexFunc(key, invisible) >= 0 {
			t.Fatalf("accepted login %+q has key %+q with an invisible character", s, key)
		}
	})
}

func ptrTo[T any](v T) *T { return &v }
