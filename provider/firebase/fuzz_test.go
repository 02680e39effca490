package firebase

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/identitykit/identity"
)

// FuzzAuthenticate feeds attacker-controlled tokens and project ids to both providers: no
// panic, and every failure is a client error that does not echo the token.
func FuzzAuthenticate(f *testing.F) {
	clk := newClock()
	phone, email, ks := newProviders(f, Config{Now: clk.Now})
	emuPhone, _, err := newPair(Config{KeySetURL: ks.URL(), Now: clk.Now, InsecureEmulator: true, Logger: quietLogger()})
	if err != nil {
		f.Fatal(err)
	}
	app := testApp(f, true)
	valid := claimsFor("proj-a", clk.Now())
	f.Add("proj-a", sign(f, "k1", "k1", valid))
	f.Add("proj-a", unsigned(f, valid))
	f.Add("proj-a", hs256WithPublicKey(f, "k1", valid))
	f.Add("proj-b", sign(f, "rogue", "k2", valid))
	f.Add("proj-a", "e30.e30.")
	f.Add("", "x")
	f.Add("proj-a", `{"payload":"e30","protected":"eyJhbGciOiJub25lIn0","signature":""}`)
	f.Fuzz(func(t *testing.T, project, token string) {
		for _, p := range []*Provider{phone, email, emuPhone} {
			c, err := p.Authenticate(context.Background(), authReq(app, p.Name(), project, token))
			if err == nil {
				if !validSubject(c.Subject) {
					t.Fatalf("accepted subject %q", c.Subject)
				}
				if p.Name() == PhoneProvider && (c.Profile.Login == nil || c.Profile.Phone == nil) {
					t.Fatalf("phone claims without login/phone: %+v", c)
				}
				continue
			}
			if !errors.Is(err, identity.ErrInvalidCredentials) && !errors.Is(err, identity.ErrInvalidInput) {
				t.Fatalf("err = %v, want invalid credentials or invalid input", err)
			}
			if len(token) > 8 && strings.Contains(err.Error(), token) {
				t.Fatalf("error %q echoes the token", err)
			}
		}
	})
}
