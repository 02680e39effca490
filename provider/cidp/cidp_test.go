package cidp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/remoteid"
	"github.com/identitykit/identity/internal/testutil"
)

// secretToken is the external token used by the tests; it must never appear in an error
// message or a log line.
const secretToken = "tok-S3CR3T-6f1d2c"

// idp is a fake identity service recording what it received.
type idp struct {
	t       *testing.T
	mu      sync.Mutex
	reqs    []recorded
	handler func(w http.ResponseWriter, r *http.Request)
}

type recorded struct {
	method   string
	host     string
	rawQuery string
	header   http.Header
	body     string
}

func newIDP(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) (*idp, *httptest.Server) {
	t.Helper()
	f := &idp{t: t, handler: h}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{r.Method, r.Host, r.URL.RawQuery, r.Header.Clone(), string(b)})
		f.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		f.handler(w, r)
	}))
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *idp) last() recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		f.t.Fatal("identity service was not called")
	}
	return f.reqs[len(f.reqs)-1]
}

func (f *idp) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

func jsonAnswer(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func appWith(t *testing.T, name string, cfg any) *identity.Application {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &identity.Application{ID: 7, Settings: identity.AppSettings{
		PasswordProvider: name,
		Providers:        map[string]json.RawMessage{name: raw},
	}}
}

func authReq(app *identity.Application, login, password string) *identity.AuthRequest {
	return &identity.AuthRequest{Application: app, Credentials: identity.Credentials{Login: login, Password: password}}
}

func newTestProvider(t *testing.T, cfg Config) (*Provider, *testutil.LogBuffer) {
	t.Helper()
	lb := &testutil.LogBuffer{}
	if cfg.Logger == nil {
		cfg.Logger = lb.Logger()
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, lb
}

func ptr[T any](v T) *T { return &v }

func TestAuthenticateMapsNestedResponse(t *testing.T) {
	f, srv := newIDP(t, jsonAnswer(200, `{
		"ok": true,
		"user": {
			"id": 123456789012345678901,
			"login": "simon371",
			"email": "Simon@Example.com",
			"profile": {"first": "Simon", "last": "Doe", "phones": ["+1 555 0100"]},
			"meta": {"plan": "pro", "seats": 3},
			"roles": ["admin", "ops"],
			"ext": 42
		}
	}`))
	p, _ := newTestProvider(t, Config{})
	app := appWith(t, "cidp", AppConfig{
		Endpoint:       srv.URL + "/verify",
		RequestHeaders: map[string]string{"Authorization": "Bearer #{login}", "X-Static": "yes"},
		RequestParams:  map[string]string{"token": "#{login}"},
		ResponseParams: map[string]string{
			"uid":         "#{user.id}",
			"login":       "#{user.login}",
			"email":       "#{user.email}",
			"full_name":   "#{user.profile.first} #{user.profile.last}",
			"phone":       "#{user.profile.phones.0}",
			"custom_data": "#{user.meta}",
			"tags":        "#{user.roles}",
			"external_id": "#{user.ext}",
			"avatar":      "#{user.missing}",
		},
	})
	c, err := p.Authenticate(context.Background(), authReq(app, secretToken, "x"))
	if err != nil {
		t.Fatal(err)
	}
	want := &identity.Claims{
		Subject:        "123456789012345678901",
		RefreshProfile: true,
		Profile: identity.UserInput{
			Login:      ptr("simon371"),
			Email:      ptr("Simon@Example.com"),
			FullName:   ptr("Simon Doe"),
			Phone:      ptr("+1 555 0100"),
			CustomData: ptr(`{"plan":"pro","seats":3}`),
			Tags:       ptr([]string{"admin", "ops"}),
			ExternalID: ptr("42"),
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("claims:\n got %+v\nwant %+v", c, want)
	}
	got := f.last()
	if got.method != http.MethodGet {
		t.Errorf("method %s, want GET", got.method)
	}
	if q, _ := url.ParseQuery(got.rawQuery); q.Get("token") != secretToken {
		t.Errorf("query %q does not carry the token", got.rawQuery)
	}
	if h := got.header.Get("Authorization"); h != "Bearer "+secretToken {
		t.Errorf("Authorization %q", h)
	}
	if h := got.header.Get("X-Static"); h != "yes" {
		t.Errorf("X-Static %q", h)
	}
}

func TestAuthenticateRequestEncodings(t *testing.T) {
	// A token with every character that needs escaping somewhere.
	tricky := `a b&c=d+e%f"g\h/ü?#` + "\t"
	tests := []struct {
		name     string
		cfg      AppConfig
		login    string
		password string
		check    func(t *testing.T, r recorded)
	}{
		{
			name:  "GET appends to the endpoint query",
			cfg:   AppConfig{Method: "get", RequestParams: map[string]string{"token": "#{login}", "pw": "#{password}", "lit": "k=v"}},
			login: tricky, password: "p&w",
			check: func(t *testing.T, r recorded) {
				if r.method != http.MethodGet || r.body != "" {
					t.Errorf("method %s body %q", r.method, r.body)
				}
				q, err := url.ParseQuery(r.rawQuery)
				if err != nil {
					t.Fatal(err)
				}
				if q.Get("fixed") != "1" || q.Get("token") != tricky || q.Get("pw") != "p&w" || q.Get("lit") != "k=v" {
					t.Errorf("query %q decodes to %v", r.rawQuery, q)
				}
			},
		},
		{
			name:  "POST form by default",
			cfg:   AppConfig{Method: "POST", RequestParams: map[string]string{"token": "#{token}", "both": "#{login}:#{password}"}},
			login: tricky, password: "pw",
			check: func(t *testing.T, r recorded) {
				if ct := r.header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
					t.Errorf("Content-Type %q", ct)
				}
				q, err := url.ParseQuery(r.body)
				if err != nil {
					t.Fatal(err)
				}
				if q.Get("token") != tricky || q.Get("both") != tricky+":pw" {
					t.Errorf("form %q decodes to %v", r.body, q)
				}
				if rq, _ := url.ParseQuery(r.rawQuery); rq.Get("fixed") != "1" || rq.Has("token") {
					t.Errorf("query %q", r.rawQuery)
				}
			},
		},
		{
			name:  "POST JSON",
			cfg:   AppConfig{Method: "POST", RequestFormat: "json", RequestParams: map[string]string{"token": "#{login}", "pw": "#{password}"}},
			login: tricky + "</script>", password: "",
			check: func(t *testing.T, r recorded) {
				if ct := r.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
				var m map[string]string
				if err := json.Unmarshal([]byte(r.body), &m); err != nil {
					t.Fatalf("body %q: %v", r.body, err)
				}
				if m["token"] != tricky+"</script>" || m["pw"] != "" || len(m) != 2 {
					t.Errorf("body %q decodes to %v", r.body, m)
				}
			},
		},
		{
			name:  "Host header sets the request host",
			cfg:   AppConfig{RequestHeaders: map[string]string{"Host": "idp.internal"}},
			login: "t",
			check: func(t *testing.T, r recorded) {
				if r.host != "idp.internal" {
					t.Errorf("Host %q", r.host)
				}
			},
		},
		{
			name:  "header carries the placeholder verbatim",
			cfg:   AppConfig{RequestHeaders: map[string]string{"Authorization": "Bearer #{login}"}},
			login: "abc.def-ghi_jkl~+/=",
			check: func(t *testing.T, r recorded) {
				if h := r.header.Get("Authorization"); h != "Bearer abc.def-ghi_jkl~+/=" {
					t.Errorf("Authorization %q", h)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newIDP(t, jsonAnswer(200, `{"uid":"u1"}`))
			p, _ := newTestProvider(t, Config{})
			tt.cfg.Endpoint = srv.URL + "/verify?fixed=1"
			tt.cfg.ResponseParams = map[string]string{"uid": "#{uid}"}
			c, err := p.Authenticate(context.Background(), authReq(appWith(t, "cidp", tt.cfg), tt.login, tt.password))
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject != "u1" {
				t.Errorf("subject %q", c.Subject)
			}
			tt.check(t, f.last())
		})
	}
}

// errorFields returns the Fields of the *identity.Error in err, or nil.
func errorFields(err error) []identity.FieldError {
	var e *identity.Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

func TestAuthenticateErrors(t *testing.T) {
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the other host was called: %s", r.URL)
	}))
	t.Cleanup(other.Close)

	tests := []struct {
		name       string
		handler    func(w http.ResponseWriter, r *http.Request)
		cfg        Config
		response   map[string]string
		wantErr    error
		wantFields []identity.FieldError
		wantMsg    string // a substring of the error message
	}{
		{
			name:       "401 with body: the status only",
			handler:    jsonAnswer(401, `{"error":"User token is invalid"}`),
			wantErr:    identity.ErrRejectedByProvider,
			wantFields: []identity.FieldError{{Code: "remote_refused", Limit: 401}},
		},
		{
			name:       "404 with empty body",
			handler:    func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) },
			wantErr:    identity.ErrRejectedByProvider,
			wantFields: []identity.FieldError{{Code: "remote_refused", Limit: 404}},
		},
		{
			name:       "500 is a refusal too",
			handler:    jsonAnswer(500, "  \n"),
			wantErr:    identity.ErrRejectedByProvider,
			wantFields: []identity.FieldError{{Code: "remote_refused", Limit: 500}},
		},
		{
			name:       "body echoing the token: not sent, redacted in the log",
			handler:    jsonAnswer(403, `{"error":"token `+secretToken+` revoked","q":"`+url.QueryEscape(secretToken)+`"}`),
			wantErr:    identity.ErrRejectedByProvider,
			wantFields: []identity.FieldError{{Code: "remote_refused", Limit: 403}},
		},
		{
			name:       "long refusal body is not sent",
			handler:    jsonAnswer(401, strings.Repeat("é", 1000)),
			wantErr:    identity.ErrRejectedByProvider,
			wantFields: []identity.FieldError{{Code: "remote_refused", Limit: 401}},
		},
		{
			name:       "missing uid",
			handler:    jsonAnswer(200, `{"user":{"login":"simon"}}`),
			wantErr:    identity.ErrRejectedByProvider,
			wantFields: []identity.FieldError{{Field: "uid", Code: "blank"}},
		},
		{
			name:       "null uid",
			handler:    jsonAnswer(200, `{"user":{"id":null}}`),
			wantErr:    identity.ErrRejectedByProvider,
			wantFields: []identity.FieldError{{Field: "uid", Code: "blank"}},
		},
		{
			name:       "object uid",
			handler:    jsonAnswer(200, `{"user":{"id":{"v":1}}}`),
			wantErr:    identity.ErrRejectedByProvider,
			wantFields: []identity.FieldError{{Field: "uid", Code: "blank"}},
		},
		{
			name:       "blank uid",
			handler:    jsonAnswer(200, `{"user":{"id":"  "}}`),
			wantErr:    identity.ErrRejectedByProvider,
			wantFields: []identity.FieldError{{Field: "uid", Code: "blank"}},
		},
		{
			name:       "empty 2xx body has no uid",
			handler:    func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) },
			wantErr:    identity.ErrRejectedByProvider,
			wantFields: []identity.FieldError{{Field: "uid", Code: "blank"}},
		},
		{
			name:       "object where a string is mapped",
			handler:    jsonAnswer(200, `{"user":{"id":1,"login":{"a":1}}}`),
			response:   map[string]string{"uid": "#{user.id}", "login": "#{user.login}"},
			wantErr:    identity.ErrRejectedByProvider,
			wantFields: []identity.FieldError{{Field: "login", Code: "bad_mapping"}},
		},
		{
			name:    "malformed JSON",
			handler: jsonAnswer(200, `{"user":{"id":1`),
			wantErr: identity.ErrUnavailable,
			wantMsg: "malformed JSON",
		},
		{
			name:    "trailing garbage after JSON",
			handler: jsonAnswer(200, `{"user":{"id":1}} <html>`),
			wantErr: identity.ErrUnavailable,
		},
		{
			name:    "HTML answer",
			handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>login</html>") },
			wantErr: identity.ErrUnavailable,
		},
		{
			name:    "huge body",
			handler: jsonAnswer(200, `{"user":{"id":1},"pad":"`+strings.Repeat("x", 5000)+`"}`),
			cfg:     Config{MaxResponseBytes: 1024},
			wantErr: identity.ErrUnavailable,
			wantMsg: "answer exceeds 1024 bytes",
		},
		{
			name: "slow answer beyond the timeout",
			handler: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-block:
				case <-r.Context().Done():
				}
			},
			cfg:     Config{Timeout: 20 * time.Millisecond},
			wantErr: identity.ErrUnavailable,
			wantMsg: "no answer within 20ms",
		},
		{
			name: "slow body beyond the timeout",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(200)
				io.WriteString(w, `{"user":`)
				w.(http.Flusher).Flush()
				select {
				case <-block:
				case <-r.Context().Done():
				}
			},
			cfg:     Config{Timeout: 20 * time.Millisecond},
			wantErr: identity.ErrUnavailable,
			wantMsg: "no answer within 20ms",
		},
		{
			name: "redirect to another host is not followed",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+"/steal?"+r.URL.RawQuery, http.StatusFound)
			},
			wantErr: identity.ErrRejectedByProvider,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := newIDP(t, tt.handler)
			p, logs := newTestProvider(t, tt.cfg)
			resp := tt.response
			if resp == nil {
				resp = map[string]string{"uid": "#{user.id}"}
			}
			app := appWith(t, "cidp", AppConfig{
				Endpoint:       srv.URL + "/verify",
				RequestParams:  map[string]string{"token": "#{login}"},
				ResponseParams: resp,
			})
			c, err := p.Authenticate(context.Background(), authReq(app, secretToken, secretToken+"-pw"))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v (claims %+v), want %v", err, c, tt.wantErr)
			}
			if tt.wantFields != nil && !reflect.DeepEqual(errorFields(err), tt.wantFields) {
				t.Errorf("fields:\n got %v\nwant %v", errorFields(err), tt.wantFields)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), secretToken) {
				t.Errorf("error message contains the token: %v", err)
			}
			if strings.Contains(logs.String(), secretToken) {
				t.Errorf("log contains the token: %s", logs.String())
			}
		})
	}
}

func TestAuthenticateRedirects(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the other host was called: %s", r.URL)
	}))
	t.Cleanup(other.Close)
	f, srv := newIDP(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/old":
			http.Redirect(w, r, "/new?"+r.URL.RawQuery, http.StatusMovedPermanently)
		case "/new":
			jsonAnswer(200, `{"uid":"moved-`+r.URL.Query().Get("token")[:3]+`"}`)(w, r)
		case "/away":
			w.Header().Set("Location", other.URL+"/verify?"+r.URL.RawQuery)
			w.WriteHeader(http.StatusTemporaryRedirect)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		}
	})
	p, logs := newTestProvider(t, Config{})
	tests := []struct {
		path       string
		wantErr    error
		wantSub    string
		wantFields []identity.FieldError
	}{
		{path: "/old", wantSub: "moved-tok"},
		{path: "/away", wantErr: identity.ErrRejectedByProvider, wantFields: []identity.FieldError{{Code: "remote_refused", Limit: 307}}},
		{path: "/loop", wantErr: identity.ErrRejectedByProvider},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			app := appWith(t, "cidp", AppConfig{
				Endpoint:       srv.URL + tt.path,
				RequestParams:  map[string]string{"token": "#{login}"},
				ResponseParams: map[string]string{"uid": "#{uid}"},
			})
			c, err := p.Authenticate(context.Background(), authReq(app, secretToken, ""))
			if !errors.Is(err, tt.wantErr) || (err == nil && c.Subject != tt.wantSub) {
				t.Fatalf("Authenticate = %+v, %v; want subject %q, err %v", c, err, tt.wantSub, tt.wantErr)
			}
			if tt.wantFields != nil && !reflect.DeepEqual(errorFields(err), tt.wantFields) {
				t.Errorf("fields %v, want %v", errorFields(err), tt.wantFields)
			}
		})
	}
	if n := f.calls(); n < 2+1+6 {
		t.Errorf("identity service saw %d requests, want at least 9 (2 + 1 + 6 for the loop)", n)
	}
	if strings.Contains(logs.String(), secretToken) {
		t.Errorf("log contains the token: %s", logs.String())
	}
}

func TestAuthenticateUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	endpoint := srv.URL + "/verify"
	srv.Close()
	p, logs := newTestProvider(t, Config{})
	app := appWith(t, "cidp", AppConfig{
		Endpoint:       endpoint,
		RequestParams:  map[string]string{"token": "#{login}"},
		ResponseParams: map[string]string{"uid": "#{uid}"},
	})
	_, err := p.Authenticate(context.Background(), authReq(app, secretToken, ""))
	if !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	for _, s := range []string{err.Error(), logs.String()} {
		if strings.Contains(s, secretToken) || strings.Contains(s, "token=") {
			t.Errorf("message reveals the request query: %s", s)
		}
	}
}

func TestAuthenticateCanceledContext(t *testing.T) {
	_, srv := newIDP(t, jsonAnswer(200, `{"uid":"u"}`))
	p, _ := newTestProvider(t, Config{})
	app := appWith(t, "cidp", AppConfig{Endpoint: srv.URL, ResponseParams: map[string]string{"uid": "#{uid}"}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Authenticate(ctx, authReq(app, secretToken, ""))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestAuthenticateRejectsBadInput(t *testing.T) {
	f, srv := newIDP(t, jsonAnswer(200, `{"uid":"u"}`))
	p, _ := newTestProvider(t, Config{})
	cfg := AppConfig{
		Endpoint:       srv.URL,
		RequestHeaders: map[string]string{"Authorization": "Bearer #{login}", "X-Pw": "#{password}"},
		ResponseParams: map[string]string{"uid": "#{uid}"},
	}
	tests := []struct {
		name      string
		creds     identity.Credentials
		wantErr   error
		wantField string
	}{
		{"CR LF in a header placeholder", identity.Credentials{Login: secretToken + "\r\nX-Evil: 1"}, identity.ErrInvalidInput, "login"},
		{"LF in the password header", identity.Credentials{Login: secretToken, Password: "a\nb"}, identity.ErrInvalidInput, "password"},
		{"NUL in a header", identity.Credentials{Login: "a\x00b"}, identity.ErrInvalidInput, "login"},
		{"blank login", identity.Credentials{Password: "x"}, identity.ErrInvalidInput, "login"},
		{"oversized token", identity.Credentials{Login: strings.Repeat("t", MaxTokenBytes+1)}, identity.ErrInvalidInput, "login"},
		{"oversized password", identity.Credentials{Login: "t", Password: strings.Repeat("p", MaxTokenBytes+1)}, identity.ErrInvalidInput, "password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Authenticate(context.Background(), &identity.AuthRequest{Application: appWith(t, "cidp", cfg), Credentials: tt.creds})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if e := (*identity.Error)(nil); !errors.As(err, &e) || e.Code(tt.wantField) == "" {
				fields := errorFields(err)
				t.Errorf("fields %v do not name %q", fields, tt.wantField)
			}
			if strings.Contains(err.Error(), secretToken) {
				t.Errorf("error contains the token: %v", err)
			}
		})
	}
	if n := f.calls(); n != 0 {
		t.Errorf("identity service called %d times for rejected input", n)
	}
}

func TestAuthenticateTokenParam(t *testing.T) {
	// provider=cidp with keys[token] reaches the provider as Params["token"].
	f, srv := newIDP(t, jsonAnswer(200, `{"uid":"u9"}`))
	p, _ := newTestProvider(t, Config{Name: "my_idp"})
	if p.Name() != "my_idp" {
		t.Fatalf("Name() = %q", p.Name())
	}
	app := appWith(t, "my_idp", AppConfig{
		Endpoint:       srv.URL,
		Method:         "POST",
		RequestParams:  map[string]string{"t": "#{token}", "l": "#{login}", "e": "#{email}"},
		ResponseParams: map[string]string{"uid": "#{uid}"},
	})
	req := &identity.AuthRequest{Application: app, Credentials: identity.Credentials{
		Provider: "my_idp", Email: "a@b.co", Params: map[string]string{"token": secretToken},
	}}
	c, err := p.Authenticate(context.Background(), req)
	if err != nil || c.Subject != "u9" {
		t.Fatalf("Authenticate = %+v, %v", c, err)
	}
	q, _ := url.ParseQuery(f.last().body)
	if q.Get("t") != secretToken || q.Get("l") != secretToken || q.Get("e") != "a@b.co" {
		t.Errorf("form %v", q)
	}
}

func TestAuthenticateNotEnabled(t *testing.T) {
	p, _ := newTestProvider(t, Config{})
	for _, raw := range []json.RawMessage{nil, json.RawMessage("null"), json.RawMessage(" ")} {
		app := &identity.Application{ID: 1, Settings: identity.AppSettings{Providers: map[string]json.RawMessage{"cidp": raw}}}
		if _, err := p.Authenticate(context.Background(), authReq(app, "t", "")); !errors.Is(err, identity.ErrDisabled) {
			t.Errorf("config %q: err = %v, want ErrDisabled", raw, err)
		}
	}
}

func TestAuthenticateBadAppConfigIsInternal(t *testing.T) {
	p, _ := newTestProvider(t, Config{})
	for _, raw := range []string{
		`{"endpoint":1}`,
		`{"endpoint":"ftp://x","response_params":{"uid":"#{id}"}}`,
		`{"endpoint":"https://x","response_params":{"uid":"#{id}"},"request_header":{"A":"b"}}`, // typo
	} {
		app := &identity.Application{ID: 1, Settings: identity.AppSettings{Providers: map[string]json.RawMessage{"cidp": json.RawMessage(raw)}}}
		_, err := p.Authenticate(context.Background(), authReq(app, "t", ""))
		if err == nil || errors.Is(err, identity.ErrInvalidCredentials) || errors.Is(err, identity.ErrInvalidInput) || errors.Is(err, identity.ErrUnavailable) {
			t.Errorf("config %s: err = %v, want an internal error", raw, err)
		}
	}
}

// validateCase is a row of a config validation table: mutate edits a valid config.
type validateCase[C any] struct {
	name    string
	mutate  func(c *C)
	wantErr bool
}

// runValidate runs a validation table: validate of each mutated ok() must fail exactly when
// wantErr, with a message that starts with the package name.
func runValidate[C any](t *testing.T, ok func() C, validate func(*C) error, tests []validateCase[C]) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.mutate(&c)
			err := validate(&c)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Validate() = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "cidp: ") {
				t.Errorf("message %q does not start with the package name", err)
			}
		})
	}
}

func TestAppConfigValidate(t *testing.T) {
	ok := func() AppConfig {
		return AppConfig{Endpoint: "https://idp.example.com/verify", ResponseParams: map[string]string{"uid": "#{uid}"}}
	}
	tests := []validateCase[AppConfig]{
		{"minimal", func(c *AppConfig) {}, false},
		{"everything", func(c *AppConfig) {
			c.Method, c.RequestFormat = "post", "JSON"
			c.RequestHeaders = map[string]string{"Authorization": "Bearer #{login}"}
			c.RequestParams = map[string]string{"token": "#{token}", "pw": "#{password}", "e": "#{email}"}
			for f := range remoteid.ProfileFields {
				c.ResponseParams[f] = "#{x." + f + "}"
			}
		}, false},
		{"relative endpoint", func(c *AppConfig) { c.Endpoint = "/verify" }, true},
		{"ftp endpoint", func(c *AppConfig) { c.Endpoint = "ftp://idp/verify" }, true},
		{"user info in endpoint", func(c *AppConfig) { c.Endpoint = "https://u:p@idp/verify" }, true},
		{"bad method", func(c *AppConfig) { c.Method = "PUT" }, true},
		{"bad format", func(c *AppConfig) { c.Method, c.RequestFormat = "POST", "xml" }, true},
		{"json with GET", func(c *AppConfig) { c.RequestFormat = "json" }, true},
		{"no uid", func(c *AppConfig) { c.ResponseParams = map[string]string{"login": "#{login}"} }, true},
		{"uid without placeholder", func(c *AppConfig) { c.ResponseParams["uid"] = "uid" }, true},
		{"unknown field", func(c *AppConfig) { c.ResponseParams["password"] = "#{pw}" }, true},
		{"unknown placeholder", func(c *AppConfig) { c.RequestParams = map[string]string{"t": "#{secret}"} }, true},
		{"unterminated placeholder", func(c *AppConfig) { c.RequestParams = map[string]string{"t": "#{login"} }, true},
		{"empty placeholder", func(c *AppConfig) { c.ResponseParams["login"] = "#{}" }, true},
		{"bad header name", func(c *AppConfig) { c.RequestHeaders = map[string]string{"X Bad": "1"} }, true},
		{"CR LF in a static header", func(c *AppConfig) { c.RequestHeaders = map[string]string{"X-A": "1\r\nX-B: 2"} }, true},
		{"empty param name", func(c *AppConfig) { c.RequestParams = map[string]string{"": "#{login}"} }, true},
	}
	runValidate(t, ok, (*AppConfig).Validate, tests)
}

func TestNewRejectsNegativeConfig(t *testing.T) {
	for _, cfg := range []Config{{Timeout: -1}, {MaxResponseBytes: -1}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestNewDoesNotModifyClient(t *testing.T) {
	c := &http.Client{Timeout: time.Minute}
	p, err := New(Config{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	if c.CheckRedirect != nil {
		t.Error("New changed the caller's client")
	}
	if p.client.Timeout != time.Minute || p.client.CheckRedirect == nil {
		t.Errorf("provider client %+v", p.client)
	}
}

func TestEnable(t *testing.T) {
	p, _ := newTestProvider(t, Config{})
	orig := map[string]json.RawMessage{"firebase_phone": json.RawMessage(`{"project_ids":["p"]}`)}
	s := identity.AppSettings{Providers: orig}
	good := AppConfig{Endpoint: "https://idp.example.com/verify", ResponseParams: map[string]string{"uid": "#{uid}"}}
	if err := p.Enable(&s, good); err != nil {
		t.Fatal(err)
	}
	if len(orig) != 1 {
		t.Errorf("Enable modified the caller's map: %v", orig)
	}
	if s.PasswordProvider != "cidp" || len(s.Providers) != 2 {
		t.Errorf("settings %+v", s)
	}
	var back AppConfig
	if err := json.Unmarshal(s.Providers["cidp"], &back); err != nil || !reflect.DeepEqual(back, good) {
		t.Errorf("stored %s, %v", s.Providers["cidp"], err)
	}
	bad := identity.AppSettings{}
	if err := p.Enable(&bad, AppConfig{Endpoint: "nope"}); err == nil || bad.PasswordProvider != "" || bad.Providers != nil {
		t.Errorf("Enable(invalid) = %v, settings %+v", err, bad)
	}
}

// TestRefusalBodyStaysOutOfTheError checks that a refusal's body never reaches the caller
// (the client, through the adapter): the error carries the status and a fixed message. The
// body goes to the log at debug level only, bounded, with the token, the password and the
// secrets of the configuration (a static header, a static parameter, the endpoint's query)
// redacted; an info-level logger gets nothing.
func TestRefusalBodyStaysOutOfTheError(t *testing.T) {
	const marker = "MARKER-internal-host-db7.corp"
	const apiKey, clientSecret, querySecret = "hdr-KEY-91f0", "param-SECRET-77aa", "query-SECRET-3c5e"
	for _, status := range []int{401, 503} {
		_, srv := newIDP(t, jsonAnswer(status, `{"error":"`+marker+`","echo":"`+secretToken+` `+secretToken+`-pw `+
			apiKey+` `+clientSecret+` `+querySecret+`","pad":"`+strings.Repeat("p", 2000)+`"}`))
		app := appWith(t, "cidp", AppConfig{
			Endpoint:       srv.URL + "/verify?api=" + querySecret,
			RequestHeaders: map[string]string{"X-Api-Key": apiKey, "Authorization": "Bearer #{login}"},
			RequestParams:  map[string]string{"token": "#{login}", "client_secret": clientSecret},
			ResponseParams: map[string]string{"uid": "#{user.id}"},
		})

		debug, debugLogs := newTestProvider(t, Config{})
		_, err := debug.Authenticate(context.Background(), authReq(app, secretToken, secretToken+"-pw"))
		if !errors.Is(err, identity.ErrRejectedByProvider) {
			t.Fatalf("status %d: err = %v, want ErrRejectedByProvider", status, err)
		}
		want := []identity.FieldError{{Code: "remote_refused", Limit: status}}
		if got := errorFields(err); !reflect.DeepEqual(got, want) {
			t.Errorf("status %d: fields %v, want %v", status, got, want)
		}
		if strings.Contains(err.Error(), marker) {
			t.Errorf("status %d: the error carries the body: %v", status, err)
		}
		logged := debugLogs.String()
		if !strings.Contains(logged, marker) {
			t.Errorf("status %d: the debug log lacks the body:\n%s", status, logged)
		}
		for _, s := range []string{secretToken, apiKey, clientSecret, querySecret} {
			if strings.Contains(logged, s) {
				t.Errorf("status %d: the debug log carries the secret %q:\n%s", status, s, logged)
			}
		}
		if strings.Contains(logged, strings.Repeat("p", 600)) {
			t.Errorf("status %d: the logged body is not bounded:\n%s", status, logged)
		}

		var info bytes.Buffer
		quiet, _ := newTestProvider(t, Config{Logger: slog.New(slog.NewTextHandler(&info, &slog.HandlerOptions{Level: slog.LevelInfo}))})
		if _, err := quiet.Authenticate(context.Background(), authReq(app, secretToken, secretToken+"-pw")); !errors.Is(err, identity.ErrRejectedByProvider) {
			t.Fatalf("status %d: err = %v", status, err)
		}
		if strings.Contains(info.String(), marker) || status < 500 && info.Len() != 0 {
			t.Errorf("status %d: the info-level log has %q", status, info.String())
		}
	}
}

// TestRefusalBodyCutInsideASecret checks that a refusal body cut by the read limit in the
// middle of an echoed token does not log the token's first part.
func TestRefusalBodyCutInsideASecret(t *testing.T) {
	long := "tok-" + strings.Repeat("Z", 6000)
	_, srv := newIDP(t, jsonAnswer(401, strings.Repeat(" ", 100)+"bad token "+long))
	app := appWith(t, "cidp", AppConfig{
		Endpoint:       srv.URL + "/verify",
		RequestParams:  map[string]string{"token": "#{login}"},
		ResponseParams: map[string]string{"uid": "#{user.id}"},
	})
	p, logs := newTestProvider(t, Config{})
	if _, err := p.Authenticate(context.Background(), authReq(app, long, "x")); !errors.Is(err, identity.ErrRejectedByProvider) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(logs.String(), "bad token") || strings.Contains(logs.String(), "ZZZZ") {
		t.Errorf("log:\n%s", logs)
	}
}
