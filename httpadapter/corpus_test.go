package httpadapter_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
	"github.com/identitykit/identity/httpadapter"
	"github.com/identitykit/identity/passwordreset"
	"github.com/identitykit/identity/provider/guest"
	"github.com/identitykit/identity/provider/password"
	"github.com/identitykit/identity/ratelimit"
	"github.com/identitykit/identity/store/blobstore"
	"github.com/identitykit/identity/store/gormstore"
)

// The bad-input corpus: hundreds of malformed requests across every endpoint, sent over real
// loopback HTTP to an in-process server on a SQLite file (with blobs and password reset mail
// on), once without rate limits (every request reaches its handler) and once with generous
// ones (the limiter parses the credentials of every login first). The test requires, for
// every request: no 5xx, a ConnectyCube error body ({"errors":["msg"]} or
// {"errors":{"field":["msg"]}}) with Content-Type application/json on every 4xx, and, after
// the run, a log without a recovered panic, an internal error or the corpus password. New
// endpoints belong in corpusCases.

// corpusPassword is the password of the corpus users; it must never appear in a log line.
const corpusPassword = "Corpus-Secret-9f3e"

// corpusAuth says which session token a corpus request carries.
type corpusAuth int

const (
	// corpusNoToken: no CB-Token header.
	corpusNoToken corpusAuth = iota
	// corpusShared: the shared user's token (read-only requests).
	corpusShared
	// corpusApp: a fresh application session.
	corpusApp
	// corpusFresh: a fresh user (signed up for this request) with a fresh session and a blob;
	// "{self}" and "{blob}" in the target name that user and blob.
	corpusFresh
)

// corpusReq is one malformed request.
type corpusReq struct {
	name   string
	method string
	// target is the path and query; {self}, {blob}, {uid}, {other} and {app} are replaced.
	target string
	body   string
	// ctype is the Content-Type; "" sends none.
	ctype   string
	headers [][2]string
	auth    corpusAuth
	// chunked sends the body without a Content-Length.
	chunked bool
	// resetToken: "{resettoken}" in the target and the body is replaced by a fresh password
	// reset token of the reset user.
	resetToken bool
}

// corpusFixture holds what the corpus requests refer to.
type corpusFixture struct {
	srv      *httptest.Server
	client   *http.Client
	app      *identity.Application
	shared   string // the shared user's session token
	sharedID int64
	otherID  int64 // another user of the application
	blobID   int64 // a blob of the shared user
	blobUID  string
	n        int // counts fresh users
	mu       sync.Mutex
	// mail receives the reset tokens mailed for the reset user.
	mail chan string
}

// corpusMailer passes the reset tokens of the mail it is given to tokens.
type corpusMailer struct{ tokens chan string }

var corpusTokenRE = regexp.MustCompile(`token=([0-9a-f]{64})`)

func (m corpusMailer) Send(_ context.Context, msg passwordreset.Message) error {
	if t := corpusTokenRE.FindStringSubmatch(msg.Text); t != nil {
		select {
		case m.tokens <- t[1]:
		default:
		}
	}
	return nil
}

func TestBadInputCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus: skipped in -short mode")
	}
	for _, limited := range []bool{false, true} {
		name := "no_rate_limit"
		if limited {
			name = "rate_limited"
		}
		t.Run(name, func(t *testing.T) { runCorpus(t, limited) })
	}
}

func runCorpus(t *testing.T, limited bool) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := gormstore.OpenSQLite(filepath.Join(dir, "corpus.db"), gormstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	blobs, err := blobstore.OpenDir(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	pw, err := password.New(password.Config{Memory: 64, Iterations: 1})
	if err != nil {
		t.Fatal(err)
	}
	mail := make(chan string, 1)
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	gp, err := guest.New(guest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.New(identity.Config{
		Store:     st,
		Hasher:    pw,
		Providers: []identity.Provider{pw, gp},
		Logger:    logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	files, err := blob.New(id, blob.Config{Store: st, Storage: blobs, MaxSize: 64 << 10, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { id.Shutdown(context.Background()) })
	reset, err := passwordreset.New(id, passwordreset.Config{
		Store:     st,
		Mailer:    corpusMailer{tokens: mail},
		LinkURL:   "http://127.0.0.1/password_reset",
		PerEmail:  passwordreset.RateLimit{Burst: -1},
		PerClient: passwordreset.RateLimit{Burst: -1},
		Logger:    logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := httpadapter.Config{Logger: logger, InsecureNoRateLimit: !limited, Reset: reset, Blobs: files}
	if limited {
		many := ratelimit.Rate{Burst: 1 << 20, Interval: time.Millisecond}
		cfg.RateLimit, err = ratelimit.New(ratelimit.Config{
			Login: many, LoginFailures: many, Session: many, SignUp: many, Reset: many, ResetPerAccount: many, Blob: many,
			Logger: logger,
			Sleep:  func(context.Context, time.Duration) error { return nil },
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewUnstartedServer(httpadapter.New(id, cfg))
	// net/http's own recovered panics and protocol errors go to the same log.
	srv.Config.ErrorLog = log.New(logs, "http.Server: ", 0)
	srv.Start()
	t.Cleanup(srv.Close)

	app, err := id.CreateApplication(ctx, "corpus", identity.AppSettings{})
	if err != nil {
		t.Fatal(err)
	}
	fx := &corpusFixture{srv: srv, app: app, mail: mail, client: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}}
	fx.shared, fx.sharedID = fx.newUser(t, "shared")
	_, fx.otherID = fx.newUser(t, "other")
	fx.blobID, fx.blobUID = fx.newBlob(t, fx.shared)
	fx.newUser(t, "reset") // reset3@example.com, whose password the reset cases change

	cases := corpusCases(fx)
	if len(cases) < 300 {
		t.Fatalf("corpus has %d requests, want at least 300", len(cases))
	}
	statuses := map[int]int{}
	sent := 0
	for _, c := range cases {
		if limited && !corpusLimitedEndpoint(c) {
			continue // the other endpoints were covered without limits
		}
		sent++
		code, hdr, body := fx.send(t, c)
		statuses[code]++
		if msg := corpusCheck(c, code, hdr, body); msg != "" {
			b := body
			if len(b) > 300 {
				b = b[:300]
			}
			t.Errorf("%s %s [%s]: %s: %d %s", c.method, corpusShort(c.target), c.name, msg, code, b)
		}
	}
	if !limited {
		corpusWire(t, fx)
	}
	// The server still works.
	if code, _, body := fx.send(t, corpusReq{name: "after", method: "GET", target: "/session.json", auth: corpusShared}); code != 200 {
		t.Fatalf("GET /session after the corpus: %d %s", code, body)
	}
	out := logs.String()
	for _, bad := range []string{"panic", "internal error", "level=ERROR", corpusPassword} {
		if strings.Contains(out, bad) {
			i := strings.Index(out, bad)
			t.Errorf("log contains %q: ...%s...", bad, out[max(0, i-300):min(len(out), i+300)])
		}
	}
	t.Logf("%d malformed requests; statuses %v", sent, statuses)
}

// corpusLimitedEndpoint reports whether c goes to an endpoint the rate limits guard.
func corpusLimitedEndpoint(c corpusReq) bool {
	if c.method != http.MethodPost {
		return false
	}
	path, _, _ := strings.Cut(c.target, "?")
	path = strings.TrimSuffix(path, ".json")
	return path == "/session" || path == "/login" || path == "/users" || path == "/users/password/reset" || path == "/blobs"
}

// corpusCheck returns what is wrong with an answer, or "".
func corpusCheck(c corpusReq, code int, hdr http.Header, body []byte) string {
	switch {
	case code >= 500:
		return "server error"
	case code < 400 || c.method == http.MethodHead:
		return ""
	}
	if corpusPage(c) {
		// The reset page answers a browser with HTML, errors included.
		if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			return "page answered a browser with Content-Type " + strconv.Quote(ct)
		}
		return ""
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return "4xx with Content-Type " + strconv.Quote(ct)
	}
	return errorShape(body)
}

// corpusPage reports whether c asks the password reset page for HTML, as a browser does.
func corpusPage(c corpusReq) bool {
	path, _, _ := strings.Cut(c.target, "?")
	if path != "/password_reset" || (c.method != "GET" && c.method != "POST") {
		return false
	}
	for _, h := range c.headers {
		if strings.EqualFold(h[0], "Accept") && strings.Contains(strings.ToLower(h[1]), "text/html") {
			return true
		}
	}
	return false
}

// errorShape returns "" when body is a ConnectyCube error body: {"errors":[msg,...]} or
// {"errors":{"field":[msg,...],...}} with non-empty lists of non-empty strings and nothing
// else at the top level.
func errorShape(body []byte) string {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return "4xx body is not a JSON object"
	}
	raw, ok := top["errors"]
	if !ok || len(top) != 1 {
		return "4xx body is not {\"errors\":...}"
	}
	okList := func(l []string) bool {
		if len(l) == 0 {
			return false
		}
		for _, s := range l {
			if s == "" {
				return false
			}
		}
		return true
	}
	var flat []string
	if err := json.Unmarshal(raw, &flat); err == nil {
		if !okList(flat) {
			return "empty error list"
		}
		return ""
	}
	var keyed map[string][]string
	if err := json.Unmarshal(raw, &keyed); err != nil || len(keyed) == 0 {
		return "errors is neither a list of messages nor an object of message lists"
	}
	for k, l := range keyed {
		if k == "" || !okList(l) {
			return "empty field name or message list"
		}
	}
	return ""
}

func TestCorpusCheck(t *testing.T) {
	jsonHdr := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		code int
		hdr  http.Header
		body string
		ok   bool
	}{
		{200, jsonHdr, `{"session":{}}`, true},
		{302, http.Header{}, ``, true},
		{422, jsonHdr, `{"errors":{"base":["Bad"]}}`, true},
		{422, jsonHdr, `{"errors":{"login":["is invalid"],"email":["is too long","is invalid"]}}`, true},
		{401, jsonHdr, `{"errors":["Unauthorized"]}`, true},
		{500, jsonHdr, `{"errors":{"base":["Internal Server Error"]}}`, false},
		{503, jsonHdr, `{"errors":["Service temporarily unavailable, retry later"]}`, false},
		{400, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, `{"errors":["Bad request"]}`, false},
		{404, jsonHdr, `404 page not found`, false},
		{404, jsonHdr, `{"error":"not found"}`, false},
		{404, jsonHdr, `{"errors":[]}`, false},
		{404, jsonHdr, `{"errors":[""]}`, false},
		{404, jsonHdr, `{"errors":{}}`, false},
		{404, jsonHdr, `{"errors":{"base":[]}}`, false},
		{404, jsonHdr, `{"errors":{"base":"x"}}`, false},
		{404, jsonHdr, `{"errors":"x"}`, false},
		{404, jsonHdr, `{"errors":["x"],"status":404}`, false},
	}
	for _, tt := range tests {
		msg := corpusCheck(corpusReq{method: "GET"}, tt.code, tt.hdr, []byte(tt.body))
		if (msg == "") != tt.ok {
			t.Errorf("corpusCheck(%d, %v, %s) = %q, want ok %v", tt.code, tt.hdr, tt.body, msg, tt.ok)
		}
	}
}

func corpusShort(s string) string {
	if len(s) > 120 {
		return s[:120] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

// post sends a request the fixture builds on and decodes its JSON answer.
func (fx *corpusFixture) post(t *testing.T, method, path, token, body string, want int) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, fx.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("CB-Token", token)
	}
	res, err := fx.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("fixture %s %s: %d %s", method, path, res.StatusCode, b)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

func (fx *corpusFixture) appToken(t *testing.T) string {
	m := fx.post(t, "POST", "/session.json", "", fmt.Sprintf(`{"application_id":%d,"auth_key":%q}`, fx.app.ID, fx.app.AuthKey), 201)
	return m["session"].(map[string]any)["token"].(string)
}

// newUser signs up a user and returns a session token and the user's id.
func (fx *corpusFixture) newUser(t *testing.T, prefix string) (string, int64) {
	fx.mu.Lock()
	fx.n++
	login := fmt.Sprintf("%s%d", prefix, fx.n)
	fx.mu.Unlock()
	fx.post(t, "POST", "/users.json", fx.appToken(t), fmt.Sprintf(`{"user":{"login":%q,"password":%q,"email":"%s@example.com"}}`, login, corpusPassword, login), 201)
	m := fx.post(t, "POST", "/session.json", "", fmt.Sprintf(`{"application_id":%d,"auth_key":%q,"user":{"login":%q,"password":%q}}`,
		fx.app.ID, fx.app.AuthKey, login, corpusPassword), 201)
	s := m["session"].(map[string]any)
	return s["token"].(string), int64(s["user_id"].(float64))
}

// newBlob creates a completed blob of the token's user.
func (fx *corpusFixture) newBlob(t *testing.T, token string) (int64, string) {
	m := fx.post(t, "POST", "/blobs.json", token, `{"blob":{"name":"a.png","content_type":"image/png"}}`, 201)
	b := m["blob"].(map[string]any)
	id := int64(b["id"].(float64))
	u, err := url.Parse(b["blob_object_access"].(map[string]any)["params"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range u.Query() {
		mw.WriteField(k, v[0])
	}
	fw, _ := mw.CreateFormFile("file", "a.png")
	fw.Write([]byte("\x89PNG\r\n\x1a\nbytes"))
	mw.Close()
	req, _ := http.NewRequest("POST", fx.srv.URL+u.Path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := fx.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("fixture upload: %d", res.StatusCode)
	}
	fx.post(t, "PUT", fmt.Sprintf("/blobs/%d/complete.json", id), token, `{"size":13}`, 200)
	return id, b["uid"].(string)
}

// resetToken asks for a password reset of the reset user and returns the mailed token.
func (fx *corpusFixture) resetToken(t *testing.T) string {
	t.Helper()
	fx.post(t, "POST", "/users/password/reset.json", fx.appToken(t), `{"email":"reset3@example.com"}`, 200)
	select {
	case tok := <-fx.mail:
		return tok
	case <-time.After(10 * time.Second):
		t.Fatal("no reset mail")
		return ""
	}
}

// send sends c and returns the status, headers and body.
func (fx *corpusFixture) send(t *testing.T, c corpusReq) (int, http.Header, []byte) {
	t.Helper()
	token := ""
	target := c.target
	switch c.auth {
	case corpusShared:
		token = fx.shared
		target = strings.NewReplacer("{self}", itoa(fx.sharedID), "{blob}", itoa(fx.blobID)).Replace(target)
	case corpusApp:
		token = fx.appToken(t)
	case corpusFresh:
		var uid int64
		token, uid = fx.newUser(t, "fresh")
		r := strings.NewReplacer("{self}", itoa(uid))
		if strings.Contains(target, "{blob}") {
			b, _ := fx.newBlob(t, token)
			r = strings.NewReplacer("{self}", itoa(uid), "{blob}", itoa(b))
		}
		target = r.Replace(target)
	}
	target = strings.NewReplacer("{uid}", fx.blobUID, "{other}", itoa(fx.otherID), "{app}", itoa(fx.app.ID),
		"{authkey}", fx.app.AuthKey, "{self}", itoa(fx.sharedID), "{blob}", itoa(fx.blobID)).Replace(target)
	body := strings.NewReplacer("{app}", itoa(fx.app.ID), "{authkey}", fx.app.AuthKey).Replace(c.body)
	if c.resetToken {
		tok := fx.resetToken(t)
		target = strings.ReplaceAll(target, "{resettoken}", tok)
		body = strings.ReplaceAll(body, "{resettoken}", tok)
	}
	var rd io.Reader
	if c.body != "" {
		rd = strings.NewReader(body)
		if c.chunked {
			rd = io.MultiReader(rd) // hides the length: sent chunked
		}
	}
	req, err := http.NewRequest(c.method, fx.srv.URL+target, rd)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	if token != "" {
		req.Header.Set("CB-Token", token)
	}
	for _, h := range c.headers {
		req.Header.Add(h[0], strings.ReplaceAll(h[1], "{token}", fx.shared))
	}
	res, err := fx.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s [%s]: %v", c.method, corpusShort(target), c.name, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

const (
	ctJSON = "application/json"
	ctForm = "application/x-www-form-urlencoded"
)

// corpusEndpoint is an endpoint that takes a body, with a well-formed body and its fields.
type corpusEndpoint struct {
	method, target string
	auth           corpusAuth
	// valid is a well-formed JSON body; fields are the JSON paths ("user.login") the
	// wrong-type cases replace.
	valid  string
	fields []string
}

func bodyEndpoints() []corpusEndpoint {
	return []corpusEndpoint{
		{"POST", "/session.json", corpusNoToken,
			`{"application_id":{app},"auth_key":"{authkey}","user":{"login":"shared1","password":"` + corpusPassword + `"}}`,
			[]string{"application_id", "auth_key", "timestamp", "nonce", "signature", "user", "user.login", "user.email", "user.password", "user.guest", "provider", "keys", "keys.token", "firebase_phone"}},
		{"POST", "/login.json", corpusApp, `{"login":"shared1","password":"` + corpusPassword + `"}`,
			[]string{"login", "email", "password", "user", "provider", "keys.secret"}},
		{"POST", "/users.json", corpusApp, `{"user":{"login":"newbie","password":"` + corpusPassword + `"}}`,
			[]string{"user", "user.login", "user.email", "user.password", "user.full_name", "user.phone", "user.website", "user.external_user_id", "user.facebook_id", "user.twitter_id", "user.custom_data", "user.tag_list", "user.timezone", "user.avatar", "user.blob_id"}},
		{"PUT", "/users/{self}.json", corpusFresh, `{"user":{"full_name":"New Name"}}`,
			[]string{"user", "user.login", "user.email", "user.password", "user.old_password", "user.full_name", "user.custom_data", "user.tag_list", "user.timezone", "user.avatar", "user.blob_id", "user.external_user_id"}},
		{"POST", "/blobs.json", corpusFresh, `{"blob":{"name":"a.png","content_type":"image/png","public":false}}`,
			[]string{"blob", "blob.name", "blob.content_type", "blob.public"}},
		{"PUT", "/blobs/{blob}/complete.json", corpusFresh, `{"size":13}`, []string{"size", "blob", "blob.size"}},
		{"POST", "/users/password/reset.json", corpusApp, `{"email":"shared1@example.com"}`, []string{"email", "user", "user.email"}},
		{"POST", "/password_reset", corpusNoToken, `{"token":"{resettoken}","password":"` + corpusPassword + `","password_confirmation":"` + corpusPassword + `"}`,
			[]string{"application_id", "token", "password", "password_confirmation"}},
	}
}

// setPath returns the JSON object valid with the value at path (dot-separated) replaced by
// raw JSON.
func setPath(valid, path, raw string) string {
	const appMark = "7770007770" // {app} is not JSON
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(strings.ReplaceAll(valid, "{app}", appMark)))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		panic(err)
	}
	const mark = "\x00corpus-mark\x00"
	cur := m
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := cur[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[k] = next
		}
		cur = next
	}
	cur[keys[len(keys)-1]] = mark
	b, _ := json.Marshal(m)
	out := strings.ReplaceAll(string(b), appMark, "{app}")
	return strings.Replace(out, `"\u0000corpus-mark\u0000"`, raw, 1)
}

func nest(open, close string, depth int, inner string) string {
	return strings.Repeat(open, depth) + inner + strings.Repeat(close, depth)
}

// corpusCases returns the corpus.
func corpusCases(fx *corpusFixture) []corpusReq {
	var cs []corpusReq
	add := func(c corpusReq) { cs = append(cs, c) }

	brokenJSON := []string{
		`{`, `}`, `[`, `{"a":`, `{"a":1,}`, `{"a" 1}`, `{'a':1}`, `{"a":01}`, `{"a":NaN}`, `{"a":Infinity}`,
		`{"a":tru}`, `{"a":"\x"}`, `{"a":"unterminated`, `{"a":1}{"b":2}`, `{"a":1} trailing`, `null`, `[]`,
		`"string"`, `12345`, `{"a":-}`, `{/*c*/"a":1}`, `{"a":[1,2,}`, "\xef\xbb\xbf{\"a\":1}", `{"a":1e999999}`,
		`{"user":{"login":"x"}`, `{"a":"\ud800"}`, "{\"a\":\"\x00\"}", `{"a":` + strings.Repeat("9", 5000) + `}`,
		`{"":1}`, `{"a":.5}`,
	}
	wrongTypes := []string{
		`123`, `-1`, `1.5`, `1e308`, `-9223372036854775809`, `18446744073709551616`, `true`, `null`, `[]`,
		`["a","b"]`, `{}`, `{"x":{"y":[1]}}`, `""`, `"   "`, `"\u0000"`, `"` + strings.Repeat("x", 100000) + `"`,
	}
	for _, ep := range bodyEndpoints() {
		base := corpusReq{method: ep.method, target: ep.target, auth: ep.auth, ctype: ctJSON, resetToken: strings.Contains(ep.valid, "{resettoken}")}
		for i, b := range brokenJSON {
			c := base
			c.name, c.body = fmt.Sprintf("broken JSON %d", i), b
			add(c)
		}
		for _, f := range ep.fields {
			for i, v := range wrongTypes {
				c := base
				c.name, c.body = fmt.Sprintf("wrong type %s #%d", f, i), setPath(ep.valid, f, v)
				add(c)
			}
		}
		more := []struct{ name, body string }{
			{"huge string value", setPath(ep.valid, ep.fields[0], `"`+strings.Repeat("é", 400000)+`"`)},
			{"body over the limit", setPath(ep.valid, ep.fields[0], `"`+strings.Repeat("a", 1<<20)+`"`)},
			{"20000 array values", setPath(ep.valid, ep.fields[0], "["+strings.Repeat(`"a",`, 19999)+`"a"]`)},
			{"20000 object keys", `{` + corpusKeys(20000) + `}`},
			{"invalid UTF-8 value", setPath(ep.valid, ep.fields[0], "\"\xff\xfe\xfd\"")},
			{"invalid UTF-8 key", "{\"\xc0\xaf\":1," + ep.valid[1:]},
			{"overlong and surrogate UTF-8", setPath(ep.valid, ep.fields[len(ep.fields)-1], "\"\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\"")},
			{"duplicate key", strings.TrimSuffix(ep.valid, "}") + `,` + strings.TrimPrefix(setPath(ep.valid, ep.fields[0], `{"dup":[1]}`), "{")},
			{"duplicate key scalar then object", `{"user":"x","user":{"login":"a"},"blob":1,"blob":{"name":"b"}}`},
			{"deep array 33", setPath(ep.valid, ep.fields[0], nest("[", "]", 33, "1"))},
			{"deep object 40", setPath(ep.valid, ep.fields[0], nest(`{"a":`, "}", 40, "1"))},
			{"deep array 100000", nest("[", "]", 100000, "")},
			{"deep object 20000", nest(`{"a":`, "}", 20000, "1")},
			{"bracket key in JSON", strings.TrimSuffix(ep.valid, "}") + `,"user[login][]":"x","blob[name]":{"a":1},"a[b":1,"]":2}`},
			{"bracket key depth 40", `{"` + "a" + strings.Repeat("[b]", 40) + `":1}`},
			{"NUL bytes", strings.ReplaceAll(ep.valid, `"`, "\"\x00")},
		}
		for _, m := range more {
			c := base
			c.name, c.body = m.name, m.body
			add(c)
		}
		// Content types and encodings.
		for _, ct := range []string{"", "text/plain", "application/xml", "multipart/form-data", "multipart/form-data; boundary=xyz",
			"application/json; charset=utf-16", "application/json;;;=", "application/vnd.api+json", "garbage/", "\x80\xff",
			ctForm, "application/x-www-form-urlencoded; charset=utf-16", strings.Repeat("a/b;", 2000)} {
			c := base
			c.name, c.ctype, c.body = "content type "+corpusShort(ct), ct, ep.valid
			add(c)
		}
		c := base
		c.name, c.chunked, c.body = "chunked body over the limit", true, `{"a":"`+strings.Repeat("z", 1<<20+10)+`"}`
		add(c)
		c = base
		c.name, c.chunked, c.body = "chunked valid body", true, ep.valid
		add(c)
		// Form bodies: bracket abuse.
		forms := []string{
			"user[login]=a&user=b", "user=b&user[login]=a", "a[][b]=1&a[][b][c]=2", "a[[]]=1", "a]]=1", "[a]=1",
			"a[b=1", "a" + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "=1", "a" + strings.Repeat("[x]", 40) + "=1",
			"user[login][]=x&user[password][]=y", "user[][login]=x", "%5B%5D=1", "a[%ff]=1", "=1", "&&&=&=", "a=%",
			"a=%zz", "a%=1", "user[login]=%ff%fe&user[password]=%c0%af", strings.Repeat("a[]=1&", 10001),
			"user[login]=" + strings.Repeat("x", 300000), "application_id[]={app}&auth_key[x]=1",
			"application_id={app}&auth_key={authkey}&user[login]=a&user[login][x]=b", "blob[name][]=a&blob[public]=maybe",
			"size=-1", "size=1e99", "size=0x10", "email[]=a&email[]=b", "token=%00&password=%00",
		}
		for i, f := range forms {
			c := base
			c.name, c.ctype, c.body = fmt.Sprintf("form %d", i), ctForm, f
			add(c)
		}
	}

	// GET endpoints: query-string abuse.
	getQueries := map[string][]string{
		"/users/v2": {
			"id=abc", "id[in][]=", "id[in]=1", "id[gt][]=1", "id[foo]=1", "id=99999999999999999999", "id[in][]=" + strings.Repeat("1,", 5000),
			"login[start_with]=", "login[start_with][x]=1", "created_at[gt]=notadate", "created_at[gt]=99999999999999999999",
			"created_at[lt]=-1", "last_request_at[gt]=Fri%20Nov%2099%202017", "limit=-1", "limit=1e9", "limit=abc", "offset=-5",
			"offset=99999999999999999999", "sort_desc=unknown", "sort_asc[]=x", "sort_desc=id&sort_asc=id",
			"user_tags[in][]=" + strings.Repeat("t&user_tags[in][]=", 1000) + "t", "full_name[start_with]=%ff", "phone=%00",
			"login=%", "a" + strings.Repeat("[x]", 40) + "=1", "id[in][][]=1", "login[in]=a,b", "user_tags[nin]=", "email[like]=%25",
			"login='%20OR%201=1--", "full_name[start_with]=" + strings.Repeat("a", 70000),
		},
		"/users": {
			"filter[]=garbage", "filter[]=number%20id%20in%20abc", "filter[]=date%20created_at%20between%20x",
			"filter[]=string%20login%20eq", "filter[]=number%20id%20gt%2099999999999999999999", "filter=number%20id%20eq%201",
			"filter[][]=x", "order=asc%20nope", "order=desc%20date", "order[]=x", "page=0", "page=-1", "per_page=-1",
			"per_page=99999999999999999999", "page=abc", "filter[]=" + strings.Repeat("number%20id%20in%201,", 3000) + "1",
		},
		"/users/by_login":       {"", "login[]=x", "login[a]=b", "login=" + strings.Repeat("x", 10000), "login=%ff"},
		"/users/by_email":       {"", "email[]=x", "email=" + strings.Repeat("x", 10000) + "@x", "email=%00"},
		"/users/by_facebook_id": {"", "facebook_id[]=1", "facebook_id=abc%ff"},
		"/users/by_twitter_id":  {"", "twitter_id[x]=1"},
		"/users/phone":          {"", "phone[]=1"},
		"/users/by_phone":       {"", "phone=" + strings.Repeat("9", 5000)},
		"/users/by_full_name":   {"", "full_name[]=x", "full_name=%ff%fe", "page=-1&per_page=0&full_name=a"},
		"/users/by_tags":        {"", "tags[]=", "tags=,,,,", "tags=" + strings.Repeat("t,", 5000), "tags[x]=1", "tags=a&page=abc"},
		"/users/password/reset": {"", "email[]=x", "email=%ff", "email=" + strings.Repeat("a", 5000) + "@example.com"},
		"/password_reset":       {"", "token=xyz", "token[]=1", "token=" + strings.Repeat("z", 100000), "application_id=abc&token=%ff"},
		"/session":              {"a[b=1", strings.Repeat("x[]=1&", 10001)},
	}
	for path, qs := range getQueries {
		for i, q := range qs {
			add(corpusReq{name: fmt.Sprintf("query %d", i), method: "GET", target: path + ".json?" + q, auth: corpusShared})
		}
	}

	// Path abuse.
	for _, p := range []string{
		"/users/abc", "/users/0", "/users/-1", "/users/1e3", "/users/%ff", "/users/{self}.json.json", "/users/{self}.xml",
		"/users/99999999999999999999", "/users/%00", "/users/%2e%2e", "/users/external/abc", "/users/external/99999999999999999999",
		"/users/external/-1", "/session/abc", "/blobs/abc", "/blobs/0", "/blobs/-1", "/blobs/99999999999999999999", "/blobs/%00",
		"/blobs/..%2f..%2fetc%2fpasswd", "/blobs/{uid}?token=%ff", "/blobs/{uid}?token=" + strings.Repeat("t", 5000),
		"/blobs/{uid}.json", "/blobs/upload", "/nope", "/users/v2/extra", "/" + strings.Repeat("a/", 3000), "/users/{self}/x",
		"/blobs/{blob}/complete", "/session/list/x",
	} {
		add(corpusReq{name: "path", method: "GET", target: p, auth: corpusShared})
	}
	for _, p := range []string{"/session/abc", "/session/0", "/session/-1", "/session/99999999999999999999", "/users/abc",
		"/users/{other}", "/users/external/abc", "/blobs/abc", "/blobs/{blob}.json.json", "/blobs/99999999999999999999"} {
		add(corpusReq{name: "delete path", method: "DELETE", target: p, auth: corpusFresh})
	}

	// Methods.
	for _, m := range []string{"PATCH", "TRACE", "FOO", "get", "PROPFIND", "HEAD"} {
		for _, p := range []string{"/session", "/login", "/users", "/users/{self}", "/users/v2", "/blobs", "/blobs/{blob}", "/users/password/reset", "/password_reset"} {
			add(corpusReq{name: "method " + m, method: m, target: p, auth: corpusShared})
		}
	}
	for _, m := range []string{"PUT", "DELETE"} {
		for _, p := range []string{"/users/v2", "/users/by_login", "/blobs/upload", "/session/list.json"} {
			add(corpusReq{name: "wrong method " + m, method: m, target: p, auth: corpusShared})
		}
	}
	add(corpusReq{name: "GET /login", method: "GET", target: "/login", auth: corpusShared})
	// Endpoints without parameters, given broken bodies and queries anyway.
	for _, p := range []string{"/session.json", "/session/list.json", "/login.json", "/users/{self}.json", "/users/external/12.json", "/blobs/{blob}.json"} {
		for i, b := range []string{`{`, `{"a":` + nest("[", "]", 100000, "") + `}`, "\xff\xfe", `[]`, "a[b][c" + strings.Repeat("[d]", 40) + "=1"} {
			add(corpusReq{name: fmt.Sprintf("DELETE with body %d", i), method: "DELETE", target: p, ctype: ctJSON, body: b, auth: corpusFresh})
		}
		add(corpusReq{name: "DELETE with query", method: "DELETE", target: p + "?a[=1&" + strings.Repeat("x[]=1&", 10001), auth: corpusFresh})
	}

	// Header abuse.
	tokens := []string{" ", "x", "null", "undefined", strings.Repeat("a", 64), strings.Repeat("f", 300), strings.Repeat("t", 64<<10),
		"\x80\xff\xfe", "{token}x", "x{token}", "Bearer {token}", "{token}, {token}", "'; DROP TABLE sessions; --"}
	for _, p := range []string{"/session.json", "/users/v2.json?login=a", "/users/{self}.json", "/blobs/{blob}.json", "/login.json"} {
		for i, tok := range tokens {
			m := "GET"
			if p == "/login.json" {
				m = "DELETE"
			}
			add(corpusReq{name: fmt.Sprintf("CB-Token %d", i), method: m, target: p, headers: [][2]string{{"CB-Token", tok}}})
		}
		for i, a := range []string{"Bearer", "Bearer ", "Bearer " + strings.Repeat("b", 70000), "Basic YTpi", "bearer\t{token}x", "Token {token}"} {
			add(corpusReq{name: fmt.Sprintf("Authorization %d", i), method: "GET", target: p, headers: [][2]string{{"Authorization", a}}})
		}
		add(corpusReq{name: "two CB-Tokens", method: "GET", target: p, headers: [][2]string{{"CB-Token", "bad"}, {"CB-Token", "{token}"}}})
	}
	var many [][2]string
	for i := 0; i < 500; i++ {
		many = append(many, [2]string{"X-Junk-" + strconv.Itoa(i), strings.Repeat("j", 100)})
	}
	odd := [][][2]string{
		many,
		{{"X-Huge", strings.Repeat("h", 512<<10)}},
		{{"Origin", "null"}, {"Access-Control-Request-Method", "DELETE"}},
		{{"Origin", strings.Repeat("o", 8000)}},
		{{"X-Forwarded-For", "not-an-ip, ::1, 999.1.1.1"}, {"Forwarded", "for=\"[::1\";;;;"}},
		{{"ConnectyCube-REST-API-Version", "\xff"}, {"CB-SDK", strings.Repeat("s", 4000)}},
		{{"Accept", "application/xml"}, {"Accept-Encoding", "gzip;q=abc"}},
		{{"Content-Length", "5"}},
		{{"Range", "bytes=abc"}}, {{"Range", "bytes=999999999-"}}, {{"Range", "bytes=" + strings.Repeat("0-1,", 2000) + "0-1"}},
		{{"If-None-Match", strings.Repeat("\"x\",", 3000)}}, {{"If-Modified-Since", "yesterday"}},
		{{"CB-AuthKey", strings.Repeat("k", 5000)}}, {{"CB-AuthKey", "\x80"}},
	}
	for i, hs := range odd {
		for _, p := range []string{"/session.json", "/blobs/{uid}", "/users/v2.json?id=1"} {
			add(corpusReq{name: fmt.Sprintf("headers %d", i), method: "GET", target: p, auth: corpusShared, headers: hs})
		}
	}
	for i, hs := range odd[len(odd)-2:] {
		add(corpusReq{name: fmt.Sprintf("sign-up auth key %d", i), method: "POST", target: "/users.json", ctype: ctJSON,
			body: `{"user":{"login":"keyed","password":"` + corpusPassword + `"}}`, headers: hs})
	}
	add(corpusReq{name: "OPTIONS preflight junk", method: "OPTIONS", target: "/users/v2", headers: [][2]string{{"Origin", "x"}, {"Access-Control-Request-Method", "\x80"}}})

	// The password reset page, as a browser sends it: HTML answers, never a 5xx.
	browser := [][2]string{{"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}}
	for i, q := range []string{"", "token=", "token={resettoken}", "token={resettoken}&token=x", "token=" + strings.Repeat("a", 64),
		"token=%ff%fe", "token[]={resettoken}", "token=" + strings.Repeat("t", 50000), "token={resettoken}%00"} {
		add(corpusReq{name: fmt.Sprintf("reset page %d", i), method: "GET", target: "/password_reset?" + q, headers: browser, resetToken: true})
	}
	pw := url.QueryEscape(corpusPassword)
	for i, f := range []string{
		"", "token={resettoken}", "token={resettoken}&password=" + pw, "token={resettoken}&password=" + pw + "&password_confirmation=other1234",
		"token={resettoken}&password=short&password_confirmation=short",
		"token={resettoken}&password=" + strings.Repeat("p", 200) + "&password_confirmation=" + strings.Repeat("p", 200),
		"token={resettoken}&password=%ff%fe%fd%fc%fb%fa%f9%f8&password_confirmation=%ff%fe%fd%fc%fb%fa%f9%f8",
		"token={resettoken}&password=" + strings.Repeat("x", 20000), "token[]={resettoken}&password[]=a&password_confirmation[x]=b",
		"token=%zz", "token={resettoken}&password=" + pw + "&password_confirmation=" + pw + "&token=other",
		"token={resettoken}&password=%00%00%00%00%00%00%00%00&password_confirmation=%00%00%00%00%00%00%00%00",
		strings.Repeat("a[", 40) + "=1",
	} {
		add(corpusReq{name: fmt.Sprintf("reset form %d", i), method: "POST", target: "/password_reset", ctype: ctForm, body: f, headers: browser, resetToken: true})
	}
	for i, ct := range []string{ctJSON, "multipart/form-data; boundary=xyz", "text/plain", ""} {
		add(corpusReq{name: fmt.Sprintf("reset form content type %d", i), method: "POST", target: "/password_reset", ctype: ct,
			body: `{"token":"{resettoken}","password":"` + corpusPassword + `"}`, headers: browser, resetToken: true})
	}

	// Uploads: multipart abuse.
	uploads := []struct{ name, ctype, body string }{
		{"not multipart", ctJSON, `{"file":"x"}`},
		{"no boundary", "multipart/form-data", "--x\r\n"},
		{"broken boundary", "multipart/form-data; boundary=xyz", "--abc\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--abc--\r\n"},
		{"unterminated", "multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"grant\"\r\n\r\nabc"},
		{"no file", "multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"grant\"\r\n\r\nabc\r\n--xyz--\r\n"},
		{"bad grant", "multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"grant\"\r\n\r\n\xff.\xfe\r\n--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--xyz--\r\n"},
		{"many fields", "multipart/form-data; boundary=xyz", strings.Repeat("--xyz\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n", 40) + "--xyz--\r\n"},
		{"huge field", "multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"grant\"\r\n\r\n" + strings.Repeat("g", 100000) + "\r\n--xyz--\r\n"},
		{"huge part header", "multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"" + strings.Repeat("n", 70000) + "\"\r\n\r\nv\r\n--xyz--\r\n"},
		{"file over the limit", "multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n" + strings.Repeat("f", 200<<10) + "\r\n--xyz--\r\n"},
		{"empty", "multipart/form-data; boundary=xyz", ""},
	}
	for _, u := range uploads {
		for _, q := range []string{"", "?grant=abc", "?grant=" + strings.Repeat("%ff", 1000)} {
			add(corpusReq{name: "upload " + u.name, method: "POST", target: "/blobs/upload" + q, ctype: u.ctype, body: u.body, auth: corpusShared})
		}
	}
	add(corpusReq{name: "upload chunked over the limit", method: "POST", target: "/blobs/upload", chunked: true,
		ctype: "multipart/form-data; boundary=xyz", body: "--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n" + strings.Repeat("f", 300<<10)})
	return cs
}

// corpusKeys returns n distinct "kN":1 members.
func corpusKeys(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":1`, i)
	}
	return b.String()
}

// corpusWire sends requests that no HTTP client library sends, byte by byte. net/http
// answers malformed HTTP syntax itself (400 or 431, text/plain) before any handler runs;
// what reaches the adapter must get its error shape. Either way: no 5xx, and the server
// keeps serving.
func corpusWire(t *testing.T, fx *corpusFixture) {
	host := strings.TrimPrefix(fx.srv.URL, "http://")
	reqs := []string{
		"GET /session.json HTTP/1.1\r\nHost: x\r\nCB-Token: a\x00b\r\n\r\n",
		"GET /session.json HTTP/1.1\r\nHost: x\r\nCB-Token: a\rb\r\n\r\n",
		"POST /session.json HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST /session.json HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}{}{}",
		"POST /session.json HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
		"POST /session.json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
		"POST /session.json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":",
		"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /users/v2.json?id=%zz&\xff=1 HTTP/1.1\r\nHost: x\r\nCB-Token: {token}\r\n\r\n",
		"GET /users/%zz HTTP/1.1\r\nHost: x\r\nCB-Token: {token}\r\n\r\n",
		"GET /session.json HTTP/9.9\r\nHost: x\r\n\r\n",
		"GET /session.json HTTP/1.0\r\nCB-Token: {token}\r\n\r\n",
		"GET /session.json HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 2<<20) + "\r\n\r\n",
		"GET /session.json HTTP/1.1\r\nHost: x\r\n folded: header\r\n\r\n",
		"GET session.json HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /users.json HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
	}
	for i, raw := range reqs {
		raw = strings.ReplaceAll(raw, "{token}", fx.shared)
		conn, err := net.DialTimeout("tcp", host, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			conn.Write([]byte(raw))
			if c, ok := conn.(*net.TCPConn); ok && strings.Contains(raw, "Content-Length: 100") {
				c.CloseWrite() // the body ends early
			}
		}()
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			conn.Close()
			t.Errorf("wire %d: no HTTP answer: %v", i, err)
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		res.Body.Close()
		t.Logf("wire %d: %d %q", i, res.StatusCode, res.Header.Get("Content-Type"))
		conn.Close()
		switch ct := res.Header.Get("Content-Type"); {
		case res.StatusCode == http.StatusHTTPVersionNotSupported && strings.HasPrefix(ct, "text/plain"):
			// net/http refuses "HTTP/9.9" itself: a protocol answer, not a failure.
		case res.StatusCode >= 500:
			t.Errorf("wire %d: %d %s", i, res.StatusCode, body)
		case res.StatusCode >= 400 && strings.HasPrefix(ct, "application/json"):
			if msg := errorShape(body); msg != "" {
				t.Errorf("wire %d: %s: %d %s", i, msg, res.StatusCode, body)
			}
		case res.StatusCode >= 400 && !strings.HasPrefix(ct, "text/plain"):
			t.Errorf("wire %d: %d with Content-Type %q: %s", i, res.StatusCode, ct, body)
		}
	}
}
