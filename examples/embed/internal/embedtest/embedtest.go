// Package embedtest is the test both embedding examples run against their handler.
package embedtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/examples/embed/internal/embedapp"
	"github.com/identitykit/identity/internal/testutil/testenv"
)

// Run serves newHandler's handler over an in-memory store and checks, as a client would:
// the application's own route at /, a user session through the adapter at /auth, GET
// /api/me with it (the user), with an application session (403) and without a token (401
// with ConnectyCube's body), and that a destroyed session no longer passes /api/me.
func Run(t *testing.T, newHandler func(*identity.Identity) http.Handler) {
	t.Helper()
	st, pw := testenv.Store(t), testenv.Passwords(t)
	id, app, err := embedapp.New(context.Background(), st, pw, "test")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newHandler(id))
	t.Cleanup(srv.Close)

	do := func(method, path, token, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("CB-Token", token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	createSession := func(user string) string {
		t.Helper()
		code, body := do("POST", "/auth/session.json", "", `{"application_id":`+strconv.FormatInt(app.ID, 10)+`,"auth_key":"`+app.AuthKey+`"`+user+`}`)
		if code != 201 {
			t.Fatalf("create session: %d %s", code, body)
		}
		var s struct{ Session struct{ Token string } }
		json.Unmarshal([]byte(body), &s)
		return s.Session.Token
	}

	if code, body := do("GET", "/", "", ""); code != 200 || !strings.Contains(body, "hello") {
		t.Fatalf("own route: %d %s", code, body)
	}
	tok := createSession(`,"user":{"login":"marvin18","password":"supersecurepwd"}`)
	if code, body := do("GET", "/api/me", tok, ""); code != 200 || !strings.Contains(body, `"login":"marvin18"`) {
		t.Fatalf("/api/me: %d %s", code, body)
	}
	if code, body := do("GET", "/auth/session.json", tok, ""); code != 200 || !strings.Contains(body, `"login":"marvin18"`) {
		t.Fatalf("/auth/session.json: %d %s", code, body)
	}
	if code, _ := do("GET", "/api/me", createSession(""), ""); code != 403 {
		t.Fatalf("/api/me with an application session: %d", code)
	}
	if code, body := do("GET", "/api/me", "", ""); code != 401 || body != `{"errors":{"base":["Required session does not exist"]}}` {
		t.Fatalf("/api/me without a token: %d %s", code, body)
	}
	if code, _ := do("DELETE", "/auth/session.json", tok, ""); code != 200 {
		t.Fatalf("destroy: %d", code)
	}
	if code, _ := do("GET", "/api/me", tok, ""); code != 401 {
		t.Fatalf("/api/me after destroy: %d", code)
	}
}
