package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// newClient returns an HTTP/1.1 client keeping up to conns connections to one host.
func newClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          conns,
			MaxIdleConnsPerHost:   conns,
			MaxConnsPerHost:       conns,
			IdleConnTimeout:       90 * time.Second,
			DisableCompression:    true,
			ResponseHeaderTimeout: 60 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       2 * time.Minute,
	}
}

// api sends ConnectyCube requests to one server.
type api struct {
	base    string
	hc      *http.Client
	appID   int64
	authKey string
}

func newAPI(s *server, conns int) *api {
	return &api{base: "http://" + s.addr, hc: newClient(conns), appID: s.appID, authKey: s.authKey}
}

// request builds a request; body, when not nil, is sent as JSON.
func (a *api) request(ctx context.Context, method, path, token string, body []byte) *http.Request {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		panic(err) // only constant paths reach here
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("CB-Token", token)
	}
	return req
}

// do sends a request and returns the status and body.
func (a *api) do(ctx context.Context, method, path, token string, body []byte, hdr ...string) (int, []byte, error) {
	req := a.request(ctx, method, path, token, body)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

func (a *api) sessionBody(login, password string) []byte {
	if login == "" {
		return []byte(fmt.Sprintf(`{"application_id":%d,"auth_key":%q}`, a.appID, a.authKey))
	}
	return []byte(fmt.Sprintf(`{"application_id":%d,"auth_key":%q,"user":{"login":%q,"password":%q}}`, a.appID, a.authKey, login, password))
}

func signUpBody(login, password string) []byte {
	return []byte(fmt.Sprintf(`{"user":{"login":%q,"password":%q}}`, login, password))
}

// signUp creates a user with CB-AuthKey (no session) and returns its id.
func (a *api) signUp(ctx context.Context, login, password string) (int64, error) {
	code, body, err := a.do(ctx, "POST", "/users.json", "", signUpBody(login, password), "CB-AuthKey", a.authKey)
	if err != nil {
		return 0, err
	}
	if code != http.StatusCreated {
		return 0, fmt.Errorf("sign up %s: %d %s", login, code, body)
	}
	var u struct {
		User struct{ ID int64 } `json:"user"`
	}
	if err := json.Unmarshal(body, &u); err != nil {
		return 0, err
	}
	return u.User.ID, nil
}

// session creates an application session (login "") or a user session and returns its
// token and user id.
func (a *api) session(ctx context.Context, login, password string) (string, int64, error) {
	code, body, err := a.do(ctx, "POST", "/session.json", "", a.sessionBody(login, password))
	if err != nil {
		return "", 0, err
	}
	if code != http.StatusCreated {
		return "", 0, fmt.Errorf("create session: %d %s", code, body)
	}
	var s struct {
		Session struct {
			Token  string
			UserID int64 `json:"user_id"`
		}
	}
	if err := json.Unmarshal(body, &s); err != nil || s.Session.Token == "" {
		return "", 0, fmt.Errorf("create session: %d %s", code, body)
	}
	return s.Session.Token, s.Session.UserID, nil
}

// mkReq builds the i-th request of worker w.
type mkReq func(ctx context.Context, w, i int) *http.Request

// result is what a load phase measured.
type result struct {
	// n counts responses completed inside the measured window; rate is n per second.
	n        int
	rate     float64
	window   time.Duration
	statuses map[int]int
	errs     int
	firstErr error
	lat      []time.Duration // sorted
}

// runLoad runs conc workers, each sending requests back to back over its keep-alive
// connection, for warmup and then window; it counts the responses completed during window
// (whatever their status) and their latencies.
func runLoad(ctx context.Context, hc *http.Client, conc int, warmup, window time.Duration, mk mkReq) *result {
	start := time.Now()
	from, until := start.Add(warmup), start.Add(warmup+window)
	ctx, cancel := context.WithDeadline(ctx, until.Add(time.Minute))
	defer cancel()
	type workerRes struct {
		lat      []time.Duration
		statuses map[int]int
		errs     int
		firstErr error
	}
	out := make([]workerRes, conc)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := &out[w]
			r.statuses = map[int]int{}
			for i := 0; ; i++ {
				t0 := time.Now()
				if !t0.Before(until) || ctx.Err() != nil {
					return
				}
				res, err := hc.Do(mk(ctx, w, i))
				code := 0
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					code = res.StatusCode
				}
				t1 := time.Now()
				if t1.Before(from) || t1.After(until) {
					continue
				}
				if err != nil {
					r.errs++
					if r.firstErr == nil {
						r.firstErr = err
					}
					continue
				}
				r.statuses[code]++
				r.lat = append(r.lat, t1.Sub(t0))
			}
		}(w)
	}
	wg.Wait()
	res := &result{window: window, statuses: map[int]int{}}
	for _, r := range out {
		res.lat = append(res.lat, r.lat...)
		for k, v := range r.statuses {
			res.statuses[k] += v
		}
		res.errs += r.errs
		if res.firstErr == nil {
			res.firstErr = r.firstErr
		}
	}
	sort.Slice(res.lat, func(i, j int) bool { return res.lat[i] < res.lat[j] })
	res.n = len(res.lat)
	res.rate = float64(res.n) / window.Seconds()
	return res
}

// runLoadCPU is runLoad that also returns the CPU time the process pid (the server) spent
// per response during the measured window.
func runLoadCPU(ctx context.Context, hc *http.Client, conc int, warmup, window time.Duration, pid int, mk mkReq) (*result, time.Duration) {
	var u0, s0, h0, pg0 time.Duration
	var conns0 int64
	started := make(chan struct{})
	go func() {
		time.Sleep(warmup)
		u0, s0 = cpuTimes(pid)
		h0 = cpuTime(os.Getpid())
		pg0 = commandCPU("postgres")
		if pgConnections != nil {
			conns0 = pgConnections()
		}
		close(started)
	}()
	res := runLoad(ctx, hc, conc, warmup, window, mk)
	<-started
	u1, s1 := cpuTimes(pid)
	h1 := cpuTime(os.Getpid())
	pg1 := commandCPU("postgres")
	if res.n == 0 {
		return res, 0
	}
	n := time.Duration(res.n)
	conns := ""
	if pgConnections != nil {
		conns = fmt.Sprintf(", %d new PostgreSQL connections (the whole database)", pgConnections()-conns0)
	}
	progress("  CPU per answer: server user %s, system %s; load generator %s; live PostgreSQL processes %s%s", (u1-u0)/n, (s1-s0)/n, (h1-h0)/n, (pg1-pg0)/n, conns)
	return res, (u1 - u0 + s1 - s0) / time.Duration(res.n)
}

// pgConnections, when set, returns how many connections the PostgreSQL database has
// accepted so far (pg_stat_database.sessions).
var pgConnections func() int64

// merge returns the results of several rounds as one.
func merge(rs []*result) *result {
	m := &result{statuses: map[int]int{}}
	for _, r := range rs {
		m.n += r.n
		m.window += r.window
		m.errs += r.errs
		if m.firstErr == nil {
			m.firstErr = r.firstErr
		}
		for k, v := range r.statuses {
			m.statuses[k] += v
		}
		m.lat = append(m.lat, r.lat...)
	}
	sortDurations(m.lat)
	if m.window > 0 {
		m.rate = float64(m.n) / m.window.Seconds()
	}
	return m
}

// median returns the median of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ratios(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, ", ")
}

// only returns the count of responses with status code and whether every response had it.
func (r *result) only(code int) (int, bool) {
	return r.statuses[code], r.statuses[code] == r.n && r.errs == 0
}

func (r *result) statusText() string {
	keys := make([]int, 0, len(r.statuses))
	for k := range r.statuses {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d×%d", r.statuses[k], k))
	}
	if r.errs > 0 {
		parts = append(parts, fmt.Sprintf("%d transport errors (%v)", r.errs, r.firstErr))
	}
	return strings.Join(parts, ", ")
}

// pct returns the p-th percentile (0..100) of sorted durations, nearest rank.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) string {
	switch {
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	}
}
