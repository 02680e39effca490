package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil"
)

// TestParseConfigAccessSettings: the four access flags and their IDENTITY_* variables set
// the application settings they govern; without them applySettings turns them off again.
func TestParseConfigAccessSettings(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := parseConfig([]string{"-disable-user-list", "-require-signature"}, env(map[string]string{
		"IDENTITY_DISABLE_USERS_V1": "true", "IDENTITY_HIDE_CONTACT_INFO": "1",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	before := identity.AppSettings{PasswordPolicy: identity.PasswordPolicy{MinLength: 12}}
	s := c.applySettings(before)
	if !s.DisableUserList || !s.DisableUsersV1 || !s.HideContactInfo || !s.RequireSignature || s.PasswordPolicy.MinLength != 12 {
		t.Fatalf("settings %+v", s)
	}
	if sameFlagSettings(before, s) {
		t.Error("sameFlagSettings misses the access settings")
	}
	plain, err := parseConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if off := plain.applySettings(s); off.DisableUserList || off.DisableUsersV1 || off.HideContactInfo || off.RequireSignature {
		t.Errorf("without the flags: %+v", off)
	}
	for _, name := range []string{"IDENTITY_DISABLE_USER_LIST", "IDENTITY_DISABLE_USERS_V1", "IDENTITY_HIDE_CONTACT_INFO", "IDENTITY_REQUIRE_SIGNATURE"} {
		if _, err := parseConfig(nil, env(map[string]string{name: "maybe"}), io.Discard); err == nil {
			t.Errorf("%s=maybe accepted", name)
		}
	}
}

var secretRE = regexp.MustCompile(`auth secret:\s+([0-9a-f]+)`)

// TestRunAccessFlags starts the server on one database with each access setting in turn,
// set with "server apps set" between starts: each applies, and turning it off again does.
func TestRunAccessFlags(t *testing.T) {
	db := filepath.Join(t.TempDir(), "identity.db")
	var key, secret string
	nonce := 0
	// session creates an application session, signed when sign is true.
	session := func(addr string, sign bool) (int, string) {
		t.Helper()
		p := map[string]string{"application_id": "1", "auth_key": key}
		if sign {
			nonce++
			p["nonce"], p["timestamp"] = strconv.Itoa(nonce), strconv.FormatInt(time.Now().Unix(), 10)
			p["signature"] = testutil.SignSessionRequest(secret, p)
		}
		b, _ := json.Marshal(p)
		code, body := callJSON(t, "POST", "http://"+addr+"/session.json", "", string(b))
		if code != 201 {
			return code, body
		}
		var r struct{ Session struct{ Token string } }
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		return code, r.Session.Token
	}
	run := func(settings ...string) (addr string, stop func()) {
		t.Helper()
		if _, err := os.Stat(db); err == nil {
			mustCLI(t, append([]string{"apps", "set", "1", "-db", db, "require_signature=false", "hide_contact_info=false",
				"disable_user_list=false", "disable_users_v1=false"}, settings...)...)
		}
		addr, banner, stop := start(t, db, "-rate-limit=false", "-show-secret")
		key, secret = keyRE.FindStringSubmatch(banner)[1], secretRE.FindStringSubmatch(banner)[1]
		return addr, stop
	}

	addr, stop := run()
	_, tok := session(addr, false)
	code, body := callJSON(t, "POST", "http://"+addr+"/users.json", tok,
		`{"user":{"login":"mary01","password":"supersecurepwd","email":"mary@example.com","phone":"5551234"}}`)
	if code != 201 {
		t.Fatalf("sign up: %d %s", code, body)
	}
	var created struct{ User struct{ ID int64 } }
	json.Unmarshal([]byte(body), &created)
	one := "/users/" + strconv.FormatInt(created.User.ID, 10) + ".json"
	// check asserts what an application session of addr gets for GET /users/{id} and a V2
	// search.
	check := func(addr, tok string, wantOne, wantSearch int, wantEmail bool) {
		t.Helper()
		for _, c := range []struct {
			url  string
			want int
		}{{"http://" + addr + one, wantOne}, {"http://" + addr + "/users/v2.json?login=mary01", wantSearch}} {
			code, body := callJSON(t, "GET", c.url, tok, "")
			if code != c.want {
				t.Errorf("GET %s: %d %s, want %d", c.url, code, body, c.want)
			}
			if code == 200 && strings.Contains(body, "mary@example.com") != wantEmail {
				t.Errorf("GET %s: email shown %v, want %v: %s", c.url, !wantEmail, wantEmail, body)
			}
		}
	}
	check(addr, tok, 200, 200, true)
	stop()

	addr, stop = run("require_signature=true", "hide_contact_info=true")
	if code, body := session(addr, false); code != 422 || !strings.Contains(body, "Unexpected signature") {
		t.Errorf("unsigned session with -require-signature: %d %s", code, body)
	}
	code, tok = session(addr, true)
	if code != 201 {
		t.Fatalf("signed session with -require-signature: %d %s", code, tok)
	}
	check(addr, tok, 200, 200, false)
	stop()

	addr, stop = run("disable_user_list=true")
	_, tok = session(addr, false)
	check(addr, tok, 200, 403, true)
	stop()

	addr, stop = run("disable_users_v1=true")
	_, tok = session(addr, false)
	check(addr, tok, 403, 200, true)
	stop()

	addr, stop = run()
	defer stop()
	_, tok = session(addr, false)
	check(addr, tok, 200, 200, true)
}

// callJSON sends a JSON request with an optional session token and returns the status and
// body.
func callJSON(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	res, b := request(t, method, url, token, "application/json", strings.NewReader(body))
	return res.StatusCode, string(b)
}

// request sends a request with an optional session token and content type, and returns the
// response with its body read.
func request(t *testing.T, method, url, token, ct string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("CB-Token", token)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// TestParseConfigAccountSettings: -local-sign-up and -email-change-needs-password set the
// settings they govern; a bad -local-sign-up is refused.
func TestParseConfigAccountSettings(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := parseConfig([]string{"-local-sign-up", "deny"}, env(map[string]string{"IDENTITY_EMAIL_CHANGE_NEEDS_PASSWORD": "true"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s := c.applySettings(identity.AppSettings{})
	if s.LocalSignUp != identity.LocalSignUpDeny || !s.EmailChangeNeedsPassword {
		t.Fatalf("settings %+v", s)
	}
	if sameFlagSettings(identity.AppSettings{}, s) {
		t.Error("sameFlagSettings misses the account settings")
	}
	if _, err := parseConfig([]string{"-local-sign-up", "maybe"}, env(nil), io.Discard); err == nil {
		t.Error("-local-sign-up maybe accepted")
	}
}
