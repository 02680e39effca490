package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/identitykit/identity/internal/testutil/scrape"
	"github.com/identitykit/identity/store/gormstore"
)

// TestMetricsAddr: with -metrics-addr the server serves Prometheus metrics at /metrics on that
// listener, which serves nothing else, while the API listener does not serve /metrics; the
// counters follow the API's logins; and docs/grafana-dashboard.json queries only metrics the
// server exports, and every identity_* family it exports.
func TestMetricsAddr(t *testing.T) {
	db := filepath.Join(t.TempDir(), "identity.db")
	cfg, err := parseConfig([]string{"-addr", "127.0.0.1:0", "-db", db, "-access-log=false", "-blob-dir", t.TempDir(),
		"-metrics-addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	bound := make(chan string, 1)
	cfg.metricsBound = func(a string) { bound <- a }
	addr, banner, stop := startConfig(t, cfg)
	defer stop()
	maddr := <-bound
	if maddr == addr {
		t.Fatalf("metrics on the API listener %s", addr)
	}
	key := keyRE.FindStringSubmatch(banner)[1]
	post := func(body string) int { return postSession(t, addr, body) }
	user := func(pw string) string {
		return `{"application_id":1,"auth_key":"` + key + `","user":{"login":"metrics","password":"` + pw + `"}}`
	}
	if code := post(user("password1")); code != 201 {
		t.Fatalf("login: %d", code)
	}
	if code := post(user("wrong-password")); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}

	if code, body := probe(t, addr, "/metrics"); code != http.StatusNotFound || strings.Contains(body, "identity_") {
		t.Fatalf("API listener /metrics: %d %.200q", code, body)
	}
	if code, _ := probe(t, maddr, "/session"); code != http.StatusNotFound {
		t.Fatalf("metrics listener serves /session: %d", code)
	}
	fams := scrape.Get(t, "http://"+maddr+"/metrics")
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"identity_logins_total", []string{"provider", "password", "outcome", "success"}},
		{"identity_logins_total", []string{"provider", "password", "outcome", "failure"}},
		{"identity_signups_total", []string{"provider", "password"}},
		{"identity_http_requests_total", []string{"method", "POST", "route", "/session", "status", "401"}},
		{"identity_ratelimit_decisions_total", []string{"action", "login", "decision", "allowed"}},
		{"identity_password_hash_slot_wait_seconds", []string{"outcome", "acquired"}},
	} {
		if fams.Value(c.name, c.labels...) == 0 {
			t.Errorf("%s%v is 0 after a login and a failed one", c.name, c.labels)
		}
	}

	// A store error, so that its family is exported too: the sessions table disappears.
	other, err := gormstore.OpenSQLite(db, gormstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.DB().Exec("DROP TABLE identity_sessions").Error; err != nil {
		t.Fatal(err)
	}
	if code := post(user("password1")); code != 500 {
		t.Fatalf("login without a sessions table: %d", code)
	}
	fams = scrape.Get(t, "http://"+maddr+"/metrics")
	if fams.Value("identity_store_errors_total", "op", "create session", "kind", "other") != 1 {
		t.Errorf("store error not counted")
	}

	queried := dashboardMetrics(t, "../../docs/grafana-dashboard.json")
	exported := map[string]bool{}
	for name, mf := range fams {
		exported[name] = true
		if mf.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				exported[name+s] = true
			}
		}
	}
	// Exported only by a server with an invalidation channel (PostgreSQL or Redis), which
	// this SQLite server has not; package metrics tests the gauge.
	exported["identity_notification_channel_up"] = true
	for name := range queried {
		if !exported[name] {
			t.Errorf("the dashboard queries %s, which the server does not export", name)
		}
	}
	var missing []string
	for name, mf := range fams {
		if !strings.HasPrefix(name, "identity_") {
			continue
		}
		seen := queried[name]
		if mf.GetType().String() == "HISTOGRAM" {
			seen = queried[name+"_bucket"] || queried[name+"_count"] || queried[name+"_sum"]
		}
		if !seen {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no dashboard panel shows %v", missing)
	}
}

// promIdent matches an identifier of a PromQL expression, with what follows it.
var promIdent = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*\s*\(?`)

// dashboardMetrics returns the metric names the PromQL queries of the Grafana dashboard at
// path use (panel targets and template variables), failing t when it is not a dashboard
// with a data source variable.
func dashboardMetrics(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string
		Panels []struct {
			Title      string
			Datasource struct{ UID string }
			Targets    []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Name, Type string
				Query      any
			}
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var exprs []string
	dsVar := ""
	for _, v := range d.Templating.List {
		switch {
		case v.Type == "datasource" && v.Query == "prometheus":
			dsVar = "${" + v.Name + "}"
		case v.Type == "query":
			q, _ := v.Query.(map[string]any)
			s, _ := q["query"].(string)
			// label_values(metric, label): the metric is the query.
			metric, _, _ := strings.Cut(strings.TrimPrefix(s, "label_values("), ",")
			exprs = append(exprs, metric)
		}
	}
	if d.Title == "" || dsVar == "" || len(d.Panels) == 0 {
		t.Fatalf("%s: not a dashboard with panels and a Prometheus data source variable", path)
	}
	for _, p := range d.Panels {
		if p.Datasource.UID != dsVar || len(p.Targets) == 0 {
			t.Errorf("panel %q: data source %q, %d queries; want %s and at least one", p.Title, p.Datasource.UID, len(p.Targets), dsVar)
		}
		for _, q := range p.Targets {
			exprs = append(exprs, q.Expr)
		}
	}
	keywords := map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true,
		"group_right": true, "and": true, "or": true, "unless": true, "bool": true, "offset": true, "le": true}
	// Label matchers, range selectors, grouping lists and strings hold no metric names.
	strip := regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]|(by|without|on|ignoring)\s*\([^)]*\)|"[^"]*"`)
	names := map[string]bool{}
	for _, e := range exprs {
		e = strip.ReplaceAllString(e, " ")
		for _, m := range promIdent.FindAllString(e, -1) {
			if strings.HasSuffix(m, "(") || keywords[strings.TrimSpace(m)] {
				continue // a function, or a keyword
			}
			names[strings.TrimSpace(m)] = true
		}
	}
	if len(names) == 0 {
		t.Fatalf("%s: no metric names found", path)
	}
	return names
}
