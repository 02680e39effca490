package httpadapter_test

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/identitykit/identity/httpadapter"
	"github.com/identitykit/identity/passwordreset"
)

// mailbox is a passwordreset.Mailer that keeps what it is given.
type mailbox struct {
	mu   sync.Mutex
	msgs []passwordreset.Message
}

func (m *mailbox) Send(_ context.Context, msg passwordreset.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return nil
}

func (m *mailbox) all() []passwordreset.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]passwordreset.Message(nil), m.msgs...)
}

const resetLink = "https://api.example.com/password_reset"

type resetEnv struct {
	*env
	mail *mailbox
}

// newResetEnv is newEnv with password reset mail configured (cfgMod may change the
// identity's reset settings, adMod the adapter's config).
func newResetEnv(t *testing.T, cfgMod func(*passwordreset.Config), adMod func(*httpadapter.Config)) *resetEnv {
	t.Helper()
	mb := &mailbox{}
	rc := passwordreset.Config{Mailer: mb, LinkURL: resetLink}
	if cfgMod != nil {
		cfgMod(&rc)
	}
	var cfg httpadapter.Config
	if adMod != nil {
		adMod(&cfg)
	}
	e := newEnv(t, func(o *envOpt) {
		o.appName = "Chat <Beta>"
		o.debugLog = true
		o.cfg = cfg
		o.reset = &rc
	})
	return &resetEnv{env: e, mail: mb}
}

func (e *resetEnv) signUp(login, email, pw string) {
	e.t.Helper()
	r := e.do("POST", "/users.json", `{"user":{"login":`+jsonStr(login)+`,"email":`+jsonStr(email)+`,"password":`+jsonStr(pw)+`}}`,
		"CB-AuthKey: "+e.app.AuthKey)
	if r.Code != 201 {
		e.t.Fatalf("sign up: %d %s", r.Code, r.Body)
	}
}

// flush sends what is queued and returns every mail sent.
func (e *resetEnv) flush() []passwordreset.Message {
	e.t.Helper()
	if err := e.id.Shutdown(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return e.mail.all()
}

var linkRE = regexp.MustCompile(regexp.QuoteMeta(resetLink) + `\?token=([0-9a-f]{64})`)

// requestToken asks for a reset of email through the API and returns the mailed token.
func (e *resetEnv) requestToken(email string) string {
	e.t.Helper()
	r := e.do("POST", "/users/password/reset.json", `{"email":`+jsonStr(email)+`}`, "CB-Token: "+e.appSession())
	if r.Code != 200 {
		e.t.Fatalf("reset request: %d %s", r.Code, r.Body)
	}
	mails := e.flush()
	m := linkRE.FindStringSubmatch(mails[len(mails)-1].Text)
	if m == nil {
		e.t.Fatalf("no reset link in %q", mails[len(mails)-1].Text)
	}
	return m[1]
}

func (e *resetEnv) login(login, pw string) int {
	e.t.Helper()
	return e.do("POST", "/session.json", e.sessionBody(`,"user":{"login":`+jsonStr(login)+`,"password":`+jsonStr(pw)+`}`)).Code
}

// browserAccept is the Accept header of Chromium's navigations and form submissions.
const browserAccept = "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

// page sends a request as a browser does.
func (e *resetEnv) page(method, target, body string) *resp {
	e.t.Helper()
	return e.do(method, target, body, browserAccept)
}

func (e *resetEnv) submit(token, pw, confirm string) *resp {
	e.t.Helper()
	form := url.Values{"token": {token}, "password": {pw}, "password_confirmation": {confirm}}
	return e.page("POST", "/password_reset", form.Encode())
}

func TestResetRequestIndistinguishable(t *testing.T) {
	e := newResetEnv(t, func(c *passwordreset.Config) { c.PerEmail = passwordreset.RateLimit{Burst: -1} },
		func(c *httpadapter.Config) { c.InsecureNoRateLimit = true })
	e.signUp("marvin18", "awesomeman@gmail.com", "supersecurepwd")
	tok := e.appSession()
	requests := []struct{ method, target, body string }{
		{"POST", "/users/password/reset.json", `{"email":%q}`},
		{"POST", "/users/password/reset", `{"email":%q}`},
		{"POST", "/users/password/reset.json", `{"user":{"email":%q}}`},
		{"POST", "/users/password/reset.json", "email=%s"},
		{"GET", "/users/password/reset.json?email=%s", ""},
		{"GET", "/users/password/reset?email=%s", ""},
	}
	for _, rq := range requests {
		var got []*resp
		for _, email := range []string{"awesomeman@gmail.com", "nobody@gmail.com"} {
			target, body := rq.target, rq.body
			if strings.Contains(target, "%s") {
				target = strings.Replace(target, "%s", url.QueryEscape(email), 1)
			}
			switch {
			case strings.Contains(body, "%q"):
				body = strings.Replace(body, "%q", jsonStr(email), 1)
			case strings.Contains(body, "%s"):
				body = strings.Replace(body, "%s", url.QueryEscape(email), 1)
			}
			got = append(got, e.do(rq.method, target, body, "CB-Token: "+tok))
		}
		known, unknown := got[0], got[1]
		if known.Code != 200 || unknown.Code != 200 || known.Body != "" || unknown.Body != "" {
			t.Fatalf("%s %s: known %d %q, unknown %d %q; want 200 with an empty body for both",
				rq.method, rq.target, known.Code, known.Body, unknown.Code, unknown.Body)
		}
		if !sameHeaderNames(known.Header, unknown.Header) || known.Header.Get("Content-Length") != "0" {
			t.Fatalf("%s %s: headers differ: %v vs %v", rq.method, rq.target, known.Header, unknown.Header)
		}
	}
	mails := e.flush()
	if len(mails) != len(requests) {
		t.Fatalf("%d mails, want %d (one per request for the known address, none for the unknown)", len(mails), len(requests))
	}
	for _, m := range mails {
		if m.To != "awesomeman@gmail.com" || m.Subject != "Chat <Beta>: password reset" {
			t.Fatalf("mail to %q subject %q", m.To, m.Subject)
		}
	}
}

func sameHeaderNames(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

func TestResetRequestErrors(t *testing.T) {
	e := newResetEnv(t, nil, func(c *httpadapter.Config) { c.InsecureNoRateLimit = true })
	tok := e.appSession()
	user, _ := e.userSession("somebody", "somebodypwd")
	tests := []struct {
		name, method, target, body string
		headers                    []string
		wantCode                   int
		wantBody                   string
	}{
		{"application session", "POST", "/users/password/reset.json", `{"email":"a@example.com"}`, []string{"CB-Token: " + tok}, 200, ""},
		{"user session", "POST", "/users/password/reset.json", `{"email":"a@example.com"}`, []string{"CB-Token: " + user}, 200, ""},
		{"auth key", "POST", "/users/password/reset.json", `{"email":"a@example.com"}`, []string{"CB-AuthKey: " + e.app.AuthKey}, 200, ""},
		{"no session", "POST", "/users/password/reset.json", `{"email":"a@example.com"}`, nil, 401, `{"errors":{"base":["Required session does not exist"]}}`},
		{"unknown token", "GET", "/users/password/reset.json?email=a@example.com", "", []string{"CB-Token: nope"}, 401, `{"errors":{"base":["Required session does not exist"]}}`},
		{"wrong auth key", "POST", "/users/password/reset.json", `{"email":"a@example.com"}`, []string{"CB-AuthKey: nope"}, 401, `{"errors":["Unknown application or invalid auth key"]}`},
		{"no email", "POST", "/users/password/reset.json", `{}`, []string{"CB-Token: " + tok}, 422, `{"errors":{"email":["cannot be blank"]}}`},
		{"blank email", "GET", "/users/password/reset.json?email=", "", []string{"CB-Token: " + tok}, 422, `{"errors":{"email":["cannot be blank"]}}`},
		{"malformed email", "GET", "/users/password/reset.json?email=nope", "", []string{"CB-Token: " + tok}, 422, `{"errors":{"email":["is invalid"]}}`},
		{"email object", "POST", "/users/password/reset.json", `{"email":{"a":1}}`, []string{"CB-Token: " + tok}, 422, `{"errors":{"email":["is invalid"]}}`},
		{"bad JSON", "POST", "/users/password/reset.json", `{"email":`, []string{"CB-Token: " + tok}, 400, ""},
		{"wrong method", "PUT", "/users/password/reset.json", `{"email":"a@example.com"}`, []string{"CB-Token: " + tok}, 405, `{"errors":["Method not allowed"]}`},
	}
	for _, tc := range tests {
		r := e.do(tc.method, tc.target, tc.body, tc.headers...)
		if r.Code != tc.wantCode || (tc.wantBody != "" && r.Body != tc.wantBody) {
			t.Fatalf("%s: %d %s, want %d %s", tc.name, r.Code, r.Body, tc.wantCode, tc.wantBody)
		}
	}

	off := newResetEnv(t, func(c *passwordreset.Config) { *c = passwordreset.Config{} }, nil)
	r := off.do("POST", "/users/password/reset.json", `{"email":"a@example.com"}`, "CB-Token: "+off.appSession())
	if r.Code != 403 || r.Body != `{"errors":{"base":["password reset by email is not configured"]}}` {
		t.Fatalf("without a mailer: %d %s", r.Code, r.Body)
	}
}

func TestResetRequestLimits(t *testing.T) {
	t.Run("identity's per-email limit answers 200 and sends nothing", func(t *testing.T) {
		e := newResetEnv(t, func(c *passwordreset.Config) { c.PerEmail = passwordreset.RateLimit{Burst: 1, Interval: time.Hour} },
			func(c *httpadapter.Config) { c.InsecureNoRateLimit = true })
		e.signUp("limited", "limited@example.com", "limitedpwd")
		tok := e.appSession()
		for range 3 {
			r := e.do("POST", "/users/password/reset.json", `{"email":"limited@example.com"}`, "CB-Token: "+tok)
			if r.Code != 200 || r.Body != "" {
				t.Fatalf("limited request: %d %q, want 200 and an empty body", r.Code, r.Body)
			}
		}
		if n := len(e.flush()); n != 1 {
			t.Fatalf("%d mails, want 1", n)
		}
	})
	t.Run("the adapter's per-address flood limit answers 429", func(t *testing.T) {
		e := newResetEnv(t, nil, nil)
		tok := e.appSession()
		codes := map[int]int{}
		for i := range 25 {
			r := e.do("POST", "/users/password/reset.json", `{"email":"user`+itoa(int64(i))+`@example.com"}`, "CB-Token: "+tok)
			codes[r.Code]++
		}
		if codes[200] != 20 || codes[429] != 5 {
			t.Fatalf("status counts %v, want 20×200 then 429 (ratelimit.Config.Reset default burst 20)", codes)
		}
	})
}

func TestResetPageFlow(t *testing.T) {
	e := newResetEnv(t, nil, nil)
	e.signUp("marvin18", "awesomeman@gmail.com", "supersecurepwd")
	userTok, _ := e.userSession("marvin18", "supersecurepwd")
	token := e.requestToken("awesomeman@gmail.com")

	r := e.page("GET", "/password_reset?token="+token, "")
	if r.Code != 200 {
		t.Fatalf("GET form: %d %s", r.Code, r.Body)
	}
	checkPageHeaders(t, r)
	for _, want := range []string{
		`<html lang="en">`,
		`<p class="app">Chat &lt;Beta&gt;</p>`,
		`<strong>awesomeman@gmail.com</strong>`,
		`<form method="post" action="password_reset" novalidate>`,
		`<input type="hidden" name="token" value="` + token + `">`,
		`<label for="password">New password</label>`,
		`<input id="password" name="password" type="password" autocomplete="new-password"`,
		`<label for="password_confirmation">`,
		`<input id="password_confirmation" name="password_confirmation" type="password"`,
		`Between 8 and 128 characters.`,
	} {
		if !strings.Contains(r.Body, want) {
			t.Fatalf("form page lacks %q:\n%s", want, r.Body)
		}
	}

	r = e.submit(token, "newsecurepwd", "newsecurepwX")
	if r.Code != 422 || !strings.Contains(r.Body, "The two passwords do not match.") || !strings.Contains(r.Body, `role="alert"`) {
		t.Fatalf("mismatch: %d\n%s", r.Code, r.Body)
	}
	checkPageHeaders(t, r)
	r = e.submit(token, "short", "short")
	if r.Code != 422 || !strings.Contains(r.Body, "The password is too short (minimum is 8 characters).") {
		t.Fatalf("short password: %d\n%s", r.Code, r.Body)
	}
	if !strings.Contains(r.Body, `value="`+token+`"`) {
		t.Fatal("the form shown again lost the token")
	}

	r = e.submit(token, "newsecurepwd", "newsecurepwd")
	if r.Code != 200 || !strings.Contains(r.Body, "Your password has been changed") {
		t.Fatalf("submit: %d\n%s", r.Code, r.Body)
	}
	checkPageHeaders(t, r)
	if got := e.do("GET", "/session.json", "", "CB-Token: "+userTok); got.Code != 401 {
		t.Fatalf("a session from before the reset: %d, want 401", got.Code)
	}
	if c := e.login("marvin18", "supersecurepwd"); c != 401 {
		t.Fatalf("old password: %d, want 401", c)
	}
	if c := e.login("marvin18", "newsecurepwd"); c != 201 {
		t.Fatalf("new password: %d, want 201", c)
	}

	for _, r := range []*resp{e.page("GET", "/password_reset?token="+token, ""), e.submit(token, "othersecurepwd", "othersecurepwd")} {
		if r.Code != 410 || !strings.Contains(r.Body, "This link no longer works") || !strings.Contains(r.Body, "request a new password reset") {
			t.Fatalf("used link: %d\n%s", r.Code, r.Body)
		}
		checkPageHeaders(t, r)
	}
	if logs := e.logs.String(); strings.Contains(logs, token) || strings.Contains(logs, "newsecurepwd") {
		t.Fatalf("the log contains the token or the password:\n%s", logs)
	}
}

// checkPageHeaders checks the reset page's security headers and that it loads nothing.
func checkPageHeaders(t *testing.T, r *resp) {
	t.Helper()
	h := r.Header
	if h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("Referrer-Policy") != "no-referrer" ||
		h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("page headers %v", h)
	}
	m := regexp.MustCompile(`^default-src 'none'; style-src 'nonce-([A-Za-z0-9_-]{22})'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'$`).
		FindStringSubmatch(h.Get("Content-Security-Policy"))
	if m == nil {
		t.Fatalf("Content-Security-Policy %q", h.Get("Content-Security-Policy"))
	}
	if !strings.Contains(r.Body, `<style nonce="`+m[1]+`">`) {
		t.Fatalf("the page's style does not carry the CSP nonce %s:\n%s", m[1], r.Body)
	}
	for _, bad := range []string{"<script", "src=", "<link", "@import", "url(", "http://", "https://"} {
		if strings.Contains(r.Body, bad) {
			t.Fatalf("the page contains %q (no scripts or external assets):\n%s", bad, r.Body)
		}
	}
}

func TestResetPageInvalidLinks(t *testing.T) {
	e := newResetEnv(t, nil, nil)
	e.signUp("expiring", "expiring@example.com", "expiringpwd")
	token := e.requestToken("expiring@example.com")
	e.clock.Advance(time.Hour)
	for _, target := range []string{
		"/password_reset?token=" + token,
		"/password_reset",
		"/password_reset?token=",
		"/password_reset?token=" + strings.Repeat("0", 64),
		"/password_reset?token=%3Cscript%3E",
		"/password_reset?token=" + strings.Repeat("a", 100000),
	} {
		r := e.page("GET", target, "")
		if r.Code != 410 || !strings.Contains(r.Body, "This link no longer works") {
			t.Fatalf("GET %.60s: %d\n%s", target, r.Code, r.Body)
		}
		checkPageHeaders(t, r)
	}
	for _, tc := range []struct {
		body string
		want int
	}{
		{url.Values{"token": {token}, "password": {"newsecurepwd"}, "password_confirmation": {"newsecurepwd"}}.Encode(), 410},
		{"", 410},
		{"token=%zz", 400},
		{"token=" + strings.Repeat("a", 20000), 413},
	} {
		r := e.page("POST", "/password_reset", tc.body)
		if r.Code != tc.want {
			t.Fatalf("POST %.40q: %d, want %d\n%s", tc.body, r.Code, tc.want, r.Body)
		}
		checkPageHeaders(t, r)
	}
	if c := e.login("expiring", "expiringpwd"); c != 201 {
		t.Fatalf("the password changed through an expired link: login %d", c)
	}
}

func TestResetPageDoubleSubmit(t *testing.T) {
	e := newResetEnv(t, nil, nil)
	e.signUp("double", "double@example.com", "doublepwd1")
	token := e.requestToken("double@example.com")
	const n = 6
	codes := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			codes[i] = e.submit(token, "doublepwd-new"+itoa(int64(i)), "doublepwd-new"+itoa(int64(i))).Code
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, c := range codes {
		switch c {
		case 200:
			ok++
		case 410:
		default:
			t.Fatalf("status %d among %v", c, codes)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent submits succeeded (%v), want exactly 1", ok, n, codes)
	}
}

func TestResetPageUnderPrefix(t *testing.T) {
	e := newResetEnv(t, nil, nil)
	e.signUp("mounted", "mounted@example.com", "mountedpwd")
	token := e.requestToken("mounted@example.com")
	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", e.h))
	e.h = mux
	r := e.page("GET", "/auth/password_reset?token="+token, "")
	if r.Code != 200 || !strings.Contains(r.Body, `action="password_reset"`) {
		t.Fatalf("GET under /auth: %d", r.Code)
	}
	// The relative action resolves to the mounted path.
	base, _ := url.Parse("https://api.example.com/auth/password_reset?token=" + token)
	if got := base.ResolveReference(&url.URL{Path: "password_reset"}).String(); got != "https://api.example.com/auth/password_reset" {
		t.Fatalf("the form posts to %s", got)
	}
	form := url.Values{"token": {token}, "password": {"mountedpwd2"}, "password_confirmation": {"mountedpwd2"}}
	if r := e.page("POST", "/auth/password_reset", form.Encode()); r.Code != 200 {
		t.Fatalf("POST under /auth: %d\n%s", r.Code, r.Body)
	}
}

func TestResetPagesOverride(t *testing.T) {
	pages := template.Must(template.New("x").Parse(
		`{{define "password_reset_form"}}FORM {{.AppName}} {{.Email}} {{.Token}} {{range .Errors}}[{{.}}]{{end}}{{end}}` +
			`{{define "password_reset_done"}}DONE {{.AppName}}{{end}}` +
			`{{define "password_reset_invalid"}}GONE{{end}}`))
	e := newResetEnv(t, nil, func(c *httpadapter.Config) { c.ResetPages = pages })
	e.signUp("custom", "custom@example.com", "custompwd")
	token := e.requestToken("custom@example.com")
	if r := e.page("GET", "/password_reset?token="+token, ""); r.Body != "FORM Chat &lt;Beta&gt; custom@example.com "+token+" " {
		t.Fatalf("custom form: %q", r.Body)
	}
	if r := e.submit(token, "x", "y"); r.Body != "FORM Chat &lt;Beta&gt; custom@example.com "+token+" [The two passwords do not match.]" {
		t.Fatalf("custom form with errors: %q", r.Body)
	}
	if r := e.submit(token, "custompwd2", "custompwd2"); r.Body != "DONE Chat &lt;Beta&gt;" {
		t.Fatalf("custom done: %q", r.Body)
	}
	if r := e.page("GET", "/password_reset?token="+token, ""); r.Code != 410 || r.Body != "GONE" {
		t.Fatalf("custom invalid: %d %q", r.Code, r.Body)
	}

	defer func() {
		if v := recover(); v == nil || !strings.Contains(v.(string), "password_reset_done") {
			t.Fatalf("New with incomplete pages: recovered %v, want a panic naming the missing template", v)
		}
	}()
	incomplete := template.Must(template.New("x").Parse(`{{define "password_reset_form"}}F{{end}}{{define "password_reset_invalid"}}I{{end}}`))
	httpadapter.New(e.id, httpadapter.Config{ResetPages: incomplete})
}

// TestResetJSONClients: a client that does not accept HTML (an application's own reset
// screen) gets ConnectyCube JSON from /password_reset.
func TestResetJSONClients(t *testing.T) {
	e := newResetEnv(t, nil, nil)
	e.signUp("jsonuser", "jsonuser@example.com", "jsonuserpwd")
	token := e.requestToken("jsonuser@example.com")
	tests := []struct {
		name, method, target, body string
		wantCode                   int
		wantBody                   string
	}{
		{"GET unknown token", "GET", "/password_reset?token=abc", "", 422, `{"errors":{"token":["is invalid or has expired"]}}`},
		{"POST unknown token", "POST", "/password_reset", `{"token":"abc","password":"jsonuserpwd2"}`, 422, `{"errors":{"token":["is invalid or has expired"]}}`},
		{"mismatch", "POST", "/password_reset", `{"token":"` + token + `","password":"jsonuserpwd2","password_confirmation":"x"}`, 422, `{"errors":{"password_confirmation":["doesn't match password"]}}`},
		{"policy", "POST", "/password_reset", `{"token":"` + token + `","password":"short"}`, 422, `{"errors":{"password":["is too short (minimum is 8 characters)"]}}`},
		{"broken JSON", "POST", "/password_reset", `{"token":`, 400, ""},
		{"too large", "POST", "/password_reset", `{"token":"` + strings.Repeat("a", 20000) + `"}`, 413, `{"errors":["Request entity too large"]}`},
		{"success", "POST", "/password_reset", `{"token":"` + token + `","password":"jsonuserpwd2"}`, 200, ""},
		{"used", "POST", "/password_reset", `{"token":"` + token + `","password":"jsonuserpwd3"}`, 422, `{"errors":{"token":["is invalid or has expired"]}}`},
	}
	for _, tc := range tests {
		r := e.do(tc.method, tc.target, tc.body)
		if r.Code != tc.wantCode || (tc.wantBody != "" && r.Body != tc.wantBody) {
			t.Fatalf("%s: %d %s, want %d %s", tc.name, r.Code, r.Body, tc.wantCode, tc.wantBody)
		}
		if tc.wantCode >= 400 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s: Content-Type %q", tc.name, r.Header.Get("Content-Type"))
		}
	}
	if c := e.login("jsonuser", "jsonuserpwd2"); c != 201 {
		t.Fatalf("login with the password set over JSON: %d", c)
	}
}

// TestResetOff: without Config.Reset the request endpoint answers 403 as a service without a
// Mailer does, and the reset page treats every token as an invalid link (in HTML and JSON).
func TestResetOff(t *testing.T) {
	e := &resetEnv{env: newEnv(t)}
	token := strings.Repeat("0123456789abcdef", 4)
	wantStatus(t, e.do("POST", "/users/password/reset.json", `{"email":"a@example.com"}`, "CB-Token: "+e.appSession()),
		403, `{"errors":{"base":["password reset by email is not configured"]}}`)
	// As with a service without a Mailer, being off comes before the address's form.
	wantStatus(t, e.do("GET", "/users/password/reset.json?email=nope", "", "CB-Token: "+e.appSession()),
		403, `{"errors":{"base":["password reset by email is not configured"]}}`)
	for _, r := range []*resp{e.page("GET", "/password_reset?token="+token, ""), e.submit(token, "newsecurepwd", "newsecurepwd")} {
		if r.Code != 410 || !strings.Contains(r.Body, "This link no longer works") {
			t.Fatalf("page without reset: %d\n%s", r.Code, r.Body)
		}
		checkPageHeaders(t, r)
	}
	invalid := `{"errors":{"token":["is invalid or has expired"]}}`
	wantStatus(t, e.do("GET", "/password_reset?token="+token, ""), 422, invalid)
	wantStatus(t, e.do("POST", "/password_reset", `{"token":"`+token+`","password":"newsecurepwd"}`), 422, invalid)
}
