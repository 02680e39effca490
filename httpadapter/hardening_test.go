package httpadapter_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/httpadapter"
	"github.com/identitykit/identity/ratelimit"
)

// The attacks of the security review: each test failed before its fix.

// TestCIdPRoutingCannotBeBypassed: with logins routed to a Custom Identity Provider, a client
// cannot create a local account by naming the password provider, by signing up, or by
// upgrading a guest; such an account could take the login of a future CIdP user.
func TestCIdPRoutingCannotBeBypassed(t *testing.T) {
	e := cidpEnv(t)
	notSupported := `{"errors":{"provider":["is not supported"]}}`
	wantStatus(t, e.do("POST", "/session.json", e.sessionBody(`,"provider":"password","user":{"login":"victim","password":"12345678"}`)), 422, notSupported)
	wantStatus(t, e.do("POST", "/login.json", `{"provider":"password","login":"victim","password":"12345678"}`, "CB-Token: "+e.appSession()), 422, notSupported)
	wantStatus(t, e.do("POST", "/session.json", e.sessionBody(`,"provider":"guest","user":{"login":"victim","password":"12345678"}`)), 422, notSupported)
	disabled := `{"errors":{"base":["Sign up is disabled for this application"]}}`
	wantStatus(t, e.do("POST", "/users.json", `{"user":{"login":"victim","password":"12345678"}}`, "CB-AuthKey: "+e.app.AuthKey), 403, disabled)

	// A guest may use its account, but not turn it into a local password account.
	r := e.do("POST", "/session.json", e.sessionBody(`,"user":{"guest":"1","full_name":"G"}`))
	wantStatus(t, r, 201, "")
	guest := session(t, r)
	tok, gid := guest["token"].(string), strconv.FormatInt(int64(guest["user_id"].(float64)), 10)
	wantStatus(t, e.do("PUT", "/users/"+gid+".json", `{"user":{"login":"victim","password":"12345678"}}`, "CB-Token: "+tok), 403, disabled)
	wantStatus(t, e.do("PUT", "/users/"+gid+".json", `{"user":{"email":"victim@example.com","password":"12345678"}}`, "CB-Token: "+tok), 403, disabled)
	wantStatus(t, e.do("PUT", "/users/"+gid+".json", `{"user":{"full_name":"Still a guest"}}`, "CB-Token: "+tok), 200, "")

	// Nor can a user of the provider rename itself to a future user's login or email.
	r = e.do("POST", "/session.json", e.sessionBody(`,"user":{"login":"good-mallory","password":"x"}`))
	wantStatus(t, r, 201, "")
	m := session(t, r)
	mtok, mid := m["token"].(string), strconv.FormatInt(int64(m["user_id"].(float64)), 10)
	wantStatus(t, e.do("PUT", "/users/"+mid+".json", `{"user":{"login":"victim"}}`, "CB-Token: "+mtok), 403,
		`{"errors":{"login":["cannot be changed: the identity provider manages it"]}}`)
	wantStatus(t, e.do("PUT", "/users/"+mid+".json", `{"user":{"email":"victim@example.com"}}`, "CB-Token: "+mtok), 403,
		`{"errors":{"email":["cannot be changed: the identity provider manages it"]}}`)
	wantStatus(t, e.do("PUT", "/users/"+mid+".json", `{"user":{"login":"MALLORY","full_name":"Mallory"}}`, "CB-Token: "+mtok), 200, "")

	// Nothing took the login: the provider's user "victim" signs in.
	r = e.do("POST", "/session.json", e.sessionBody(`,"user":{"login":"good-victim","password":"x"}`))
	wantStatus(t, r, 201, "")
	// Token providers other than the routed one still work (guests, here).
	wantStatus(t, e.do("POST", "/session.json", e.sessionBody(`,"user":{"guest":"1"}`)), 201, "")
}

// TestLocalSignUpSetting: AppSettings.LocalSignUp allows local sign-up next to a CIdP, or
// denies it without one.
func TestLocalSignUpSetting(t *testing.T) {
	allow := cidpEnv(t, func(o *envOpt) { o.settings.LocalSignUp = identity.LocalSignUpAllow })
	wantStatus(t, allow.do("POST", "/users.json", `{"user":{"login":"local","password":"12345678"}}`, "CB-AuthKey: "+allow.app.AuthKey), 201, "")
	deny := newEnv(t, func(o *envOpt) { o.settings.LocalSignUp = identity.LocalSignUpDeny })
	wantStatus(t, deny.do("POST", "/users.json", `{"user":{"login":"local","password":"12345678"}}`, "CB-AuthKey: "+deny.app.AuthKey), 403, "")
	// Nor does a session request auto-create the account: an unknown login fails as with
	// DenyAutoCreate.
	wantStatus(t, deny.do("POST", "/session.json", deny.loginBody("local", "12345678")), 401, `{"errors":["Unauthorized"]}`)
	wantStatus(t, deny.do("POST", "/login.json", `{"login":"local","password":"12345678"}`, "CB-Token: "+deny.appSession()), 401, "")
	plain := newEnv(t)
	wantStatus(t, plain.do("POST", "/users.json", `{"user":{"login":"local","password":"12345678"}}`, "CB-AuthKey: "+plain.app.AuthKey), 201, "")
}

// TestMigrateLocalUserToCIdP: a local user whose login the CIdP user has cannot sign in
// through the CIdP until the operator links it; then the CIdP sign-in reaches that user.
func TestMigrateLocalUserToCIdP(t *testing.T) {
	e := cidpEnv(t, func(o *envOpt) { o.settings.LocalSignUp = identity.LocalSignUpAllow })
	r := e.do("POST", "/users.json", `{"user":{"login":"simon","password":"12345678"}}`, "CB-AuthKey: "+e.app.AuthKey)
	wantStatus(t, r, 201, "")
	local := int64(r.json(t)["user"].(map[string]any)["id"].(float64))
	wantStatus(t, e.do("POST", "/session.json", e.sessionBody(`,"user":{"login":"good-simon","password":"x"}`)), 422,
		`{"errors":{"login":["has already been taken"]}}`)
	if err := e.id.LinkExternalAccount(context.Background(), e.app.ID, local, "cidp", "uid-simon"); err != nil {
		t.Fatal(err)
	}
	r = e.do("POST", "/session.json", e.sessionBody(`,"user":{"login":"good-simon","password":"x"}`))
	wantStatus(t, r, 201, "")
	if got := int64(session(t, r)["user_id"].(float64)); got != local {
		t.Fatalf("CIdP sign-in reached user %d, want the linked local user %d", got, local)
	}
	if err := e.id.LinkExternalAccount(context.Background(), e.app.ID, local, "cidp", "uid-simon"); !errors.Is(err, identity.ErrUserExists) {
		t.Fatalf("linking a taken account: %v, want ErrUserExists", err)
	}
}

// subjectProvider signs in whoever presents keys[token]: the token is the external subject.
type subjectProvider struct{ calls atomic.Int32 }

func (p *subjectProvider) Name() string { return "subject_idp" }

func (p *subjectProvider) Authenticate(_ context.Context, req *identity.AuthRequest) (*identity.Claims, error) {
	p.calls.Add(1)
	return &identity.Claims{Subject: req.Credentials.Params["token"]}, nil
}

// TestEveryAccountCreationIsASignUp: auto-created users, guests and first external sign-ins
// are charged to the address's sign-up volume (5 here); signing in to existing accounts is
// not.
func TestEveryAccountCreationIsASignUp(t *testing.T) {
	ext := &subjectProvider{}
	e := newLimitEnv(t, nil, func(o *envOpt) { o.providers = append(o.providers, ext) })
	e.signUp("existing", "11111111")
	const minute = "60"
	cases := []struct {
		name string
		addr string
		body func(i int) string
		// login is POST /login instead of POST /session.
		login bool
	}{
		{"auto sign-up", "203.0.113.1:1", func(i int) string { return fmt.Sprintf(`,"user":{"login":"auto%d","password":"11111111"}`, i) }, false},
		{"auto sign-up by POST /login", "203.0.113.2:1", func(i int) string { return fmt.Sprintf(`{"login":"autol%d","password":"11111111"}`, i) }, true},
		{"guest", "203.0.113.3:1", func(int) string { return `,"user":{"guest":"1"}` }, false},
		{"first external sign-in", "203.0.113.4:1", func(i int) string { return fmt.Sprintf(`,"provider":"subject_idp","keys":{"token":"sub%d"}`, i) }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			send := func(i int) *resp {
				if c.login {
					return e.from(c.addr, "POST", "/login.json", c.body(i), "CB-Token: "+e.appSession())
				}
				return e.from(c.addr, "POST", "/session.json", e.sessionBody(c.body(i)))
			}
			want := 201
			if c.login {
				want = 202
			}
			for i := 0; i < 5; i++ {
				wantStatus(t, send(i), want, "")
			}
			wantTooMany(t, send(5), minute)
			// Existing accounts still sign in from that address.
			wantStatus(t, e.from(c.addr, "POST", "/session.json", e.loginBody("existing", "11111111")), 201, "")
			if !c.login && strings.Contains(c.name, "external") {
				wantStatus(t, send(0), 201, "")
			}
			if c.login {
				wantStatus(t, send(0), 202, "")
			}
		})
	}
}

// TestOldPasswordGuessingIsThrottled: wrong old passwords on PUT /users/{id} are failed
// guesses: they go through the user's tarpit and the address's failure budget, and the right
// one still works (delayed) and clears the tarpit.
func TestOldPasswordGuessingIsThrottled(t *testing.T) {
	e := newLimitEnv(t, nil)
	u := e.signUp("owner", "11111111")
	_, err := e.id.SignUp(context.Background(), e.app.ID, identity.UserInput{Login: ptr("other"), Password: ptr("22222222")})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := e.userSession("owner", "11111111")
	path := "/users/" + strconv.FormatInt(u.ID, 10) + ".json"
	guess := func(pw string) *resp {
		return e.from(attackerAddr, "PUT", path, `{"user":{"password":"33333333","old_password":`+jsonStr(pw)+`}}`, "CB-Token: "+tok)
	}
	for i := 0; i < 3; i++ {
		wantStatus(t, guess(fmt.Sprint("guess-", i)), 422, `{"errors":{"old_password":["is incorrect"]}}`)
	}
	wantDelays(t, e.sleep)
	wantStatus(t, guess("guess-3"), 422, "")
	wantDelays(t, e.sleep, time.Second)
	// A login for the same user from that address shares the tarpit.
	wantStatus(t, e.from(attackerAddr, "POST", "/session.json", e.loginBody("owner", "wrong-pw")), 401, "")
	wantDelays(t, e.sleep, 2*time.Second)
	// The right old password, delayed, works and clears the tarpit.
	wantStatus(t, guess("11111111"), 200, "")
	wantDelays(t, e.sleep, 4*time.Second)
	tok, _ = e.userSession("owner", "33333333")
	for i := 0; i < 3; i++ {
		wantStatus(t, guess(fmt.Sprint("again-", i)), 422, "")
	}
	wantDelays(t, e.sleep)
	// The failure budget of the address (10): 3+1+1+3 failures so far; two more, then 429.
	for i := 0; i < 2; i++ {
		guess(fmt.Sprint("more-", i))
	}
	e.sleep.Take()
	wantTooMany(t, guess("last"), "10")
	// Updates without a password are not limited.
	wantStatus(t, e.from(attackerAddr, "PUT", path, `{"user":{"full_name":"Owner"}}`, "CB-Token: "+tok), 200, "")
}

// TestGuestUpgradeIsASignUp: a guest turned into a regular account is charged to the
// sign-up volume of the address that upgrades it.
func TestGuestUpgradeIsASignUp(t *testing.T) {
	e := newLimitEnv(t, nil)
	upgrade := func(i int) *resp {
		addr := fmt.Sprintf("198.51.100.%d:1", 10+i)
		r := e.from(addr, "POST", "/session.json", e.sessionBody(`,"user":{"guest":"1"}`))
		wantStatus(t, r, 201, "")
		s := session(t, r)
		path := "/users/" + strconv.FormatInt(int64(s["user_id"].(float64)), 10) + ".json"
		return e.from(attackerAddr, "PUT", path, fmt.Sprintf(`{"user":{"login":"upgraded%d","password":"11111111"}}`, i), "CB-Token: "+s["token"].(string))
	}
	for i := 0; i < 5; i++ {
		wantStatus(t, upgrade(i), 200, "")
	}
	wantTooMany(t, upgrade(5), "60")
}

// TestTarpitKeysOnTheAccount: the tarpit follows the account, not its spelling: failures by
// login slow down failures by the same account's email.
func TestTarpitKeysOnTheAccount(t *testing.T) {
	e := newLimitEnv(t, nil)
	pw := "11111111"
	if _, err := e.id.SignUp(context.Background(), e.app.ID, identity.UserInput{Login: ptr("john"), Email: ptr("john@example.com"), Password: &pw}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		wantStatus(t, e.from(attackerAddr, "POST", "/session.json", e.loginBody("john", "wrong-pw")), 401, "")
	}
	wantDelays(t, e.sleep)
	wantStatus(t, e.from(attackerAddr, "POST", "/session.json", e.sessionBody(`,"user":{"email":"JOHN@example.com","password":"wrong-pw"}`)), 401, "")
	wantDelays(t, e.sleep, time.Second)
}

// TestAccountTarpitAcrossAddresses: guesses at one account spread over many addresses are
// slowed down once the account has had AccountTarpitAfter attempts; the owner's right
// password is delayed, never refused, and clears it.
func TestAccountTarpitAcrossAddresses(t *testing.T) {
	e := newLimitEnv(t, func(c *ratelimit.Config) { c.AccountTarpitAfter = 4 })
	e.signUp("victim", "11111111")
	addr := func(i int) string { return fmt.Sprintf("192.0.2.%d:1", 100+i) }
	for i := 0; i < 4; i++ {
		wantStatus(t, e.from(addr(i), "POST", "/session.json", e.loginBody("victim", "guess")), 401, "")
	}
	wantDelays(t, e.sleep)
	wantStatus(t, e.from(addr(4), "POST", "/session.json", e.loginBody("victim", "guess")), 401, "")
	wantStatus(t, e.from(addr(5), "POST", "/session.json", e.loginBody("victim", "guess")), 401, "")
	wantDelays(t, e.sleep, time.Second, 2*time.Second)
	// Another account is not affected.
	e.signUp("bystander", "11111111")
	wantStatus(t, e.from(addr(6), "POST", "/session.json", e.loginBody("bystander", "guess")), 401, "")
	wantDelays(t, e.sleep)
	// The owner, from its own address: delayed, signed in, and the slow-down is over.
	wantStatus(t, e.from(victimAddr, "POST", "/session.json", e.loginBody("victim", "11111111")), 201, "")
	wantDelays(t, e.sleep, 4*time.Second)
	wantStatus(t, e.from(addr(7), "POST", "/session.json", e.loginBody("victim", "guess")), 401, "")
	wantDelays(t, e.sleep)
}

// TestResetPageIsLimited: the reset page's form (which hashes a new password) is charged to
// the address's reset volume.
func TestResetPageIsLimited(t *testing.T) {
	p, err := ratelimit.New(ratelimit.Config{Reset: ratelimit.Rate{Burst: 3, Interval: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	e := newResetEnv(t, nil, func(c *httpadapter.Config) { c.RateLimit = p })
	form := url.Values{"token": {strings.Repeat("0", 64)}, "password": {"12345678"}, "password_confirmation": {"12345678"}}.Encode()
	for i := 0; i < 3; i++ {
		wantStatus(t, e.page("POST", "/password_reset", form), 410, "")
	}
	r := e.page("POST", "/password_reset", form)
	if r.Code != 429 || r.Header.Get("Retry-After") != "60" || !strings.Contains(r.Body, "Too many attempts") {
		t.Fatalf("reset page over the limit: %d Retry-After %q\n%s", r.Code, r.Header.Get("Retry-After"), r.Body)
	}
	wantStatus(t, e.do("POST", "/password_reset", `{"token":"x","password":"12345678"}`), 429, tooMany)
}

// TestEmailChangeNeedsPassword: with EmailChangeNeedsPassword, changing one's email needs
// the current password (a body with old_password is charged to the user's tarpit like a
// password change: TestClassify, TestOldPasswordGuessingIsThrottled); the old address is told
// of the change.
func TestEmailChangeNeedsPassword(t *testing.T) {
	e := newResetEnv(t, nil, nil)
	if _, err := e.id.UpdateApplicationSettings(context.Background(), e.app.ID, identity.AppSettings{EmailChangeNeedsPassword: true}); err != nil {
		t.Fatal(err)
	}
	e.signUp("mary", "mary@example.com", "11111111")
	tok, id := e.userSession("mary", "11111111")
	path := "/users/" + strconv.FormatInt(id, 10) + ".json"
	put := func(body string) *resp { return e.do("PUT", path, body, "CB-Token: "+tok) }
	wantStatus(t, put(`{"user":{"email":"thief@example.com"}}`), 422, `{"errors":{"old_password":["cannot be blank"]}}`)
	wantStatus(t, put(`{"user":{"email":"thief@example.com","old_password":"wrong-pw"}}`), 422, `{"errors":{"old_password":["is incorrect"]}}`)
	wantStatus(t, put(`{"user":{"full_name":"Mary"}}`), 200, "")
	wantStatus(t, put(`{"user":{"email":"MARY@example.com"}}`), 200, "") // the same address
	if n := len(e.mail.all()); n != 0 {
		t.Fatalf("%d mails before the email changed", n)
	}
	wantStatus(t, put(`{"user":{"email":"mary.new@example.com","old_password":"11111111"}}`), 200, "")
	mails := e.flush()
	if len(mails) != 1 || mails[0].To != "mary@example.com" || !strings.Contains(mails[0].Subject, "email address was changed") {
		t.Fatalf("mails after the change: %+v", mails)
	}
	if strings.Contains(mails[0].Text, "mary.new") {
		t.Fatalf("the notice names the new address:\n%s", mails[0].Text)
	}
}

// TestEmailChangeNoticeByDefault: without the setting the change needs no password
// (ConnectyCube's behaviour), and the old address is still told.
func TestEmailChangeNoticeByDefault(t *testing.T) {
	e := newResetEnv(t, nil, nil)
	e.signUp("ann", "ann@example.com", "11111111")
	tok, id := e.userSession("ann", "11111111")
	wantStatus(t, e.do("PUT", "/users/"+strconv.FormatInt(id, 10)+".json", `{"user":{"email":"ann2@example.com"}}`, "CB-Token: "+tok), 200, "")
	if mails := e.flush(); len(mails) != 1 || mails[0].To != "ann@example.com" {
		t.Fatalf("mails: %+v", mails)
	}
}

func ptr[T any](v T) *T { return &v }
