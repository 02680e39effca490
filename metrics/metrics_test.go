package metrics_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/httpadapter"
	"github.com/identitykit/identity/internal/testutil"
	"github.com/identitykit/identity/internal/testutil/scrape"
	"github.com/identitykit/identity/metrics"
	"github.com/identitykit/identity/passwordreset"
	"github.com/identitykit/identity/provider/guest"
	"github.com/identitykit/identity/provider/password"
	"github.com/identitykit/identity/ratelimit"
	"github.com/identitykit/identity/store/gormstore"
)

// blockingMailer holds every mail until release is closed, telling entered about each.
type blockingMailer struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingMailer) Send(ctx context.Context, _ passwordreset.Message) error {
	b.entered <- struct{}{}
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// server is an API wired to a Metrics as the package documentation shows.
type server struct {
	t       *testing.T
	api     *httptest.Server
	metrics string // URL of /metrics
	app     *identity.Application
	store   *gormstore.Store
	reset   *passwordreset.Service
	mailer  *blockingMailer
}

func newServer(t *testing.T) *server {
	t.Helper()
	m := metrics.New(metrics.Config{Providers: []string{"password", "guest"}})
	st, err := gormstore.OpenMemory(gormstore.Config{ObserveError: m.ObserveStoreError})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pw, err := password.New(password.Config{Memory: 64, Iterations: 1, ObserveSlotWait: m.ObserveHashSlotWait})
	if err != nil {
		t.Fatal(err)
	}
	gp, err := guest.New(guest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	clock := testutil.NewClock(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	limits, err := ratelimit.New(ratelimit.Config{
		SignUp:      ratelimit.Rate{Burst: 3, Interval: time.Hour},
		TarpitAfter: 1,
		Now:         clock.Now,
		Sleep:       (&testutil.Sleeper{}).Sleep,
		Observe:     m.ObserveRateLimit,
	})
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw, gp}, Now: clock.Now,
		Logger: (&testutil.LogBuffer{}).Logger()})
	if err != nil {
		t.Fatal(err)
	}
	mailer := &blockingMailer{entered: make(chan struct{}), release: make(chan struct{})}
	reset, err := passwordreset.New(id, passwordreset.Config{Store: st, Mailer: mailer, LinkURL: "https://id.example/password_reset",
		Workers: 1, Now: clock.Now, Logger: (&testutil.LogBuffer{}).Logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		close(mailer.release)
		id.Shutdown(context.Background())
	})
	m.WatchIdentity(id)
	m.WatchResetQueue(reset)
	s := &server{t: t, store: st, reset: reset, mailer: mailer}
	if s.app, err = id.CreateApplication(context.Background(), "metrics", identity.AppSettings{}); err != nil {
		t.Fatal(err)
	}
	s.api = httptest.NewServer(httpadapter.New(id, httpadapter.Config{Observer: m, RateLimit: limits, Reset: reset,
		Logger: (&testutil.LogBuffer{}).Logger()}))
	t.Cleanup(s.api.Close)
	ms := httptest.NewServer(m.Handler())
	t.Cleanup(ms.Close)
	s.metrics = ms.URL + "/metrics"
	return s
}

// do sends a request to the API and returns the status and the decoded JSON body.
func (s *server) do(method, path, body, token string) (int, map[string]any) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.api.URL+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("CB-Token", token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	var v map[string]any
	json.NewDecoder(res.Body).Decode(&v)
	return res.StatusCode, v
}

// session posts /session with extra members and returns the status and the session.
func (s *server) session(extra string) (int, map[string]any) {
	s.t.Helper()
	code, v := s.do("POST", "/session.json", `{"application_id":`+strconv.FormatInt(s.app.ID, 10)+`,"auth_key":"`+s.app.AuthKey+`"`+extra+`}`, "")
	sess, _ := v["session"].(map[string]any)
	return code, sess
}

// delta tracks how scraped values change between two scrapes.
type delta struct {
	t      *testing.T
	url    string
	before scrape.Families
}

func (d *delta) mark() { d.before = scrape.Get(d.t, d.url) }

// want checks that each series changed by the given amount since mark.
func (d *delta) want(step string, changes ...change) {
	d.t.Helper()
	after := scrape.Get(d.t, d.url)
	for _, c := range changes {
		if got := after.Value(c.name, c.labels...) - d.before.Value(c.name, c.labels...); got != c.by {
			d.t.Errorf("%s: %s%v changed by %v, want %v", step, c.name, c.labels, got, c.by)
		}
	}
	d.before = after
}

type change struct {
	name   string
	labels []string
	by     float64
}

func by(n float64, name string, labels ...string) change { return change{name, labels, n} }

// TestMetrics drives the API through logins, sign-ups, limited and unknown requests, a reset
// queue and a store failure, and checks each scraped counter and histogram moves as it
// should.
func TestMetrics(t *testing.T) {
	s := newServer(t)
	d := &delta{t: t, url: s.metrics}
	d.mark()
	for _, fam := range []string{"identity_logins_total", "identity_signups_total", "identity_ratelimit_decisions_total",
		"identity_password_hash_slot_wait_seconds", "identity_tarpit_delay_seconds", "identity_session_cache_hits_total",
		"identity_session_cache_entries", "identity_mail_queue_depth", "go_goroutines"} {
		if d.before[fam] == nil {
			t.Errorf("%s is not exported before its first event", fam)
		}
	}

	code, app := s.session("")
	if code != 201 {
		t.Fatalf("app session: %d", code)
	}
	d.want("application session",
		by(1, "identity_http_requests_total", "method", "POST", "route", "/session", "status", "201"),
		by(1, "identity_http_request_duration_seconds", "method", "POST", "route", "/session"),
		by(1, "identity_ratelimit_decisions_total", "action", "session", "decision", "allowed"),
		by(0, "identity_logins_total"))

	code, alice := s.session(`,"user":{"login":"alice","password":"password1"}`)
	if code != 201 {
		t.Fatalf("sign-up login: %d", code)
	}
	d.want("login that signs up",
		by(1, "identity_logins_total", "provider", "password", "outcome", "success"),
		by(1, "identity_signups_total", "provider", "password"),
		by(1, "identity_password_hash_slot_wait_seconds", "outcome", "acquired"),
		by(1, "identity_ratelimit_decisions_total", "action", "signup", "decision", "allowed"),
		// The login's volume, then its guess of alice's password.
		by(2, "identity_ratelimit_decisions_total", "action", "login", "decision", "allowed"),
		by(1, "identity_session_cache_entries"))

	for i := 0; i < 2; i++ {
		if code, _ := s.session(`,"user":{"login":"alice","password":"wrong-password"}`); code != 401 {
			t.Fatalf("wrong password: %d", code)
		}
	}
	d.want("failed logins, the second delayed by the tarpit",
		by(2, "identity_logins_total", "provider", "password", "outcome", "failure"),
		by(0, "identity_logins_total", "outcome", "success"),
		by(1, "identity_tarpit_delay_seconds"),
		by(2, "identity_http_requests_total", "route", "/session", "status", "401"))

	if code, _ := s.session(`,"provider":"made-up-provider","keys":{"token":"x"}`); code != 422 {
		t.Fatalf("unknown provider: %d", code)
	}
	d.want("unknown provider", by(1, "identity_logins_total", "provider", "other", "outcome", "error"))

	token := app["token"].(string)
	for i, want := range []int{201, 201, 429} {
		if code, _ := s.do("POST", "/users.json", `{"user":{"login":"user`+strconv.Itoa(i)+`","password":"password1"}}`, token); code != want {
			t.Fatalf("sign-up %d: %d, want %d", i, code, want)
		}
	}
	d.want("sign-ups, the third limited",
		by(2, "identity_signups_total", "provider", "password"),
		by(1, "identity_ratelimit_decisions_total", "action", "signup", "decision", "refused"),
		by(2, "identity_http_requests_total", "method", "POST", "route", "/users", "status", "201"),
		by(1, "identity_http_requests_total", "method", "POST", "route", "/users", "status", "429"),
		by(3, "identity_session_cache_hits_total"))

	uid := strconv.FormatInt(int64(alice["user_id"].(float64)), 10)
	if code, _ := s.do("GET", "/users/"+uid+".json", "", alice["token"].(string)); code != 200 {
		t.Fatalf("GET /users/%s: %d", uid, code)
	}
	s.do("GET", "/no/such/thing/"+uid, "", "")
	s.do("BREW", "/session", "", "")
	d.want("routes are patterns",
		by(1, "identity_http_requests_total", "method", "GET", "route", "/users/{id}", "status", "200"),
		by(1, "identity_http_requests_total", "method", "GET", "route", "(none)", "status", "404"),
		by(1, "identity_http_requests_total", "method", "other", "route", "(none)", "status", "405"))

	// The worker holds alice's reset mail; two more requests wait in the queue.
	if code, _ := s.do("PUT", "/users/"+uid+".json", `{"user":{"email":"alice@example.com"}}`, alice["token"].(string)); code != 200 {
		t.Fatalf("set alice's email: %d", code)
	}
	for i, email := range []string{"alice@example.com", "nobody1@example.com", "nobody2@example.com"} {
		if err := s.reset.Request(context.Background(), s.app.ID, email, ""); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			<-s.mailer.entered
		}
	}
	d.want("mail queue", by(2, "identity_mail_queue_depth"))

	s.store.Close()
	if code, _ := s.session(""); code != 503 {
		t.Fatalf("session with the database closed: %d", code)
	}
	d.want("store failure", by(1, "identity_store_errors_total", "op", "create session", "kind", "unavailable"))

	for name, fam := range d.before {
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if v := l.GetValue(); strings.Contains(v, "alice") || strings.Contains(v, "@") || strings.Contains(v, "made-up") ||
					strings.Contains(v, token) || strings.Contains(v, "/"+uid) {
					t.Errorf("%s has user data in label %s=%q", name, l.GetName(), v)
				}
			}
		}
	}
}

// TestNotificationChannel: the hook for the cross-instance notification channel exports its
// state at each scrape.
func TestNotificationChannel(t *testing.T) {
	m := metrics.New(metrics.Config{})
	var up atomic.Bool
	m.WatchNotificationChannel(up.Load)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	for _, state := range []bool{false, true, false} {
		up.Store(state)
		want := 0.0
		if state {
			want = 1
		}
		if got := scrape.Get(t, srv.URL).Value("identity_notification_channel_up"); got != want {
			t.Fatalf("channel up %v: gauge %v", state, got)
		}
	}
}
