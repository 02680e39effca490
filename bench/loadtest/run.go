package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/identitykit/identity/provider/password"
)

const benchPassword = "load-test-password-1"

type runOptions struct {
	common
	duration, warmup time.Duration
	loginConc        int
	users            int
	seed             uint64
	rounds           int
	searchN          int
	rssAttempts      int
	profileDir       string
}

// cmdRun is the main measurement: one table.
func cmdRun(ctx context.Context, args []string) error {
	var o runOptions
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	o.register(fs, 64)
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "measured time of each throughput phase (of each side, for the alternating comparisons)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured time before each throughput phase")
	fs.IntVar(&o.loginConc, "login-concurrency", 4*runtime.NumCPU(), "concurrent requests of the login and sign-up phases (argon2id-bound: a few per hashing slot keep every slot busy)")
	fs.IntVar(&o.users, "users", 100000, "users to load before the run for the V2 search rows (bench/usersearch's loader; 0: none)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the loaded population")
	fs.IntVar(&o.rounds, "rounds", 5, "rounds of the GET /session and login comparisons: the two sides alternate, each round measuring -duration/-rounds, and the ratio is the median of the rounds' ratios")
	fs.IntVar(&o.searchN, "search-n", 500, "measured requests per V2 search shape (sent one at a time)")
	fs.IntVar(&o.rssAttempts, "rss-logins", 1000, "concurrent login attempts of the memory phase")
	fs.StringVar(&o.profileDir, "profile", "", "directory to write pprof profiles of the server to (CPU during the throughput phases, heap after the memory phase); enables the server's -pprof-addr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.concurrency < 1 || o.loginConc < 1 || o.duration <= 0 || o.rounds < 1 {
		return errors.New("-concurrency, -login-concurrency, -rounds and -duration must be positive")
	}
	b, cleanup, err := setup(ctx, &o.common)
	if err != nil {
		return err
	}
	defer cleanup()
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
	}
	loadStart := loadAverage()
	rep := &report{db: o.db}
	if o.db == "postgres" {
		pdb, err := sql.Open("pgx", o.dsn)
		if err != nil {
			return err
		}
		defer pdb.Close()
		pgConnections = func() int64 {
			var n int64
			pdb.QueryRowContext(ctx, "SELECT sessions FROM pg_stat_database WHERE datname = current_database()").Scan(&n)
			return n
		}
	}
	population := "no users loaded"
	if o.users > 0 {
		if err := b.loadUsers(ctx, o.users, o.seed); err != nil {
			return err
		}
		population = fmt.Sprintf("%d users loaded by bench/usersearch's loader (seed %d)", o.users, o.seed)
	}
	var extra []string
	if o.profileDir != "" {
		extra = append(extra, "-pprof-addr", "127.0.0.1:0")
	}
	srv, err := b.start(extra...)
	if err != nil {
		return err
	}
	defer srv.stop()
	progress("server pid %d on %s (log %s)", srv.pid(), srv.addr, b.log.Name())
	a := newAPI(srv, o.concurrency)

	// Accounts: signed up through the API, one session each.
	k := min(o.concurrency, 32)
	logins := make([]string, k)
	tokens := make([]string, k)
	for i := range logins {
		logins[i] = fmt.Sprintf("lt%s_%d", b.runID, i)
		if _, err := a.signUp(ctx, logins[i], benchPassword); err != nil {
			return err
		}
		if tokens[i], _, err = a.session(ctx, logins[i], benchPassword); err != nil {
			return err
		}
	}

	// 1. GET /session against a bare net/http server sending the same bytes.
	c, err := record(ctx, a, tokens[0])
	if err != nil {
		return err
	}
	bare, err := b.startBare(c, o.profileDir != "")
	if err != nil {
		return err
	}
	defer bare.stop()
	// The comparisons alternate the two sides in -rounds short rounds, so that a change of
	// the machine's load hits both; the ratio is the median of the rounds' ratios.
	window := max(time.Second, o.duration/time.Duration(o.rounds))
	warm := func(r int) time.Duration {
		if r == 0 {
			return o.warmup
		}
		return min(o.warmup, 500*time.Millisecond)
	}
	getSession := func(base string, hc *http.Client, pid, r int) (*result, time.Duration) {
		return runLoadCPU(ctx, hc, o.concurrency, warm(r), window, pid, func(ctx context.Context, w, i int) *http.Request {
			req, _ := http.NewRequestWithContext(ctx, "GET", base+"/session.json", nil)
			req.Header.Set("CB-Token", tokens[w%k])
			return req
		})
	}
	var gs, gsBare []*result
	var gsRatios []float64
	var gsCPU, gsBareCPU time.Duration
	idClient, bareClient := newClient(o.concurrency), newClient(o.concurrency)
	for r := 0; r < o.rounds; r++ {
		progress("GET /session round %d: identity", r+1)
		stopProf := func() {}
		if r == 0 {
			stopProf = b.profile(ctx, srv, o.profileDir, "get-session", warm(r), window)
		}
		res, cpu := getSession(a.base, idClient, srv.pid(), r)
		stopProf()
		progress("  %.0f/s (%s), server CPU %s per answer", res.rate, res.statusText(), cpu)
		progress("GET /session round %d: bare net/http", r+1)
		if r == 0 {
			stopProf = b.profileAddr(ctx, bare.pprofAddr, o.profileDir, "get-session-bare", warm(r), window)
		}
		bres, bcpu := getSession("http://"+bare.addr, bareClient, bare.cmd.Process.Pid, r)
		stopProf()
		progress("  %.0f/s (%s), server CPU %s per answer", bres.rate, bres.statusText(), bcpu)
		gs, gsBare = append(gs, res), append(gsBare, bres)
		gsRatios = append(gsRatios, res.rate/bres.rate)
		gsCPU += cpu / time.Duration(o.rounds)
		gsBareCPU += bcpu / time.Duration(o.rounds)
	}
	bare.stop()
	get, getBare := merge(gs), merge(gsBare)
	n, all := get.only(200)
	rep.notes = append(rep.notes, fmt.Sprintf("GET /session: ratio per round %s; CPU time of the serving process per answer: identity %s, bare net/http %s (clock-tick resolution; the load generator uses the rest of the cores)",
		ratios(gsRatios), gsCPU.Round(100*time.Nanosecond), gsBareCPU.Round(100*time.Nanosecond)))
	rep.add(row{
		name: "token-validated requests/s (`GET /session`, CB-Token)", value: perSec(get.rate),
		base: "bare net/http: " + perSec(getBare.rate), ratio: median(gsRatios), target: 0.8,
		lat: latText(get), answers: answers(get, n, all, 200),
	})

	// 2. Password logins against raw argon2id verifications, alternating likewise.
	params := defaultParams()
	var ls []*result
	var lRatios []float64
	var lcpu, rawVerifyCPU time.Duration
	var rawN, rawT float64
	loginClient := newClient(o.loginConc)
	for r := 0; r < o.rounds; r++ {
		progress("POST /session logins, round %d", r+1)
		stopProf := func() {}
		if r == 0 {
			stopProf = b.profile(ctx, srv, o.profileDir, "login", warm(r), window)
		}
		res, cpu := runLoadCPU(ctx, loginClient, o.loginConc, warm(r), window, srv.pid(), func(ctx context.Context, w, i int) *http.Request {
			return a.request(ctx, "POST", "/session.json", "", a.sessionBody(logins[(w*7+i)%k], benchPassword))
		})
		stopProf()
		progress("  %.1f/s (%s), server CPU %s per answer", res.rate, res.statusText(), cpu)
		progress("raw argon2id verifications, round %d", r+1)
		raw, rawCPU := rawArgon2id(window, params, false)
		progress("  %.1f/s, CPU %s each", raw, rawCPU)
		ls = append(ls, res)
		lRatios = append(lRatios, res.rate/raw)
		rawN += raw * window.Seconds()
		rawT += window.Seconds()
		lcpu += cpu / time.Duration(o.rounds)
		rawVerifyCPU += rawCPU / time.Duration(o.rounds)
	}
	lres, rawVerify := merge(ls), rawN/rawT
	n, all = lres.only(201)
	rep.add(row{
		name: "password logins/s (`POST /session`, login + password)", value: perSec(lres.rate),
		base:  fmt.Sprintf("argon2id.ComparePasswordAndHash ×%d goroutines: %s", runtime.NumCPU(), perSec(rawVerify)),
		ratio: median(lRatios), target: 0.9, lat: latText(lres), answers: answers(lres, n, all, 201),
	})
	rep.notes = append(rep.notes, fmt.Sprintf("logins: ratio per round %s; CPU time per login of the server process %s, per raw verification %s (ratio %.2f)",
		ratios(lRatios), lcpu.Round(10*time.Microsecond), rawVerifyCPU.Round(10*time.Microsecond), float64(rawVerifyCPU)/float64(max(lcpu, 1))))

	// 3. Sign-ups.
	progress("POST /users sign-ups")
	stopProf := b.profile(ctx, srv, o.profileDir, "signup", o.warmup, o.duration)
	sres, scpu := runLoadCPU(ctx, newClient(o.loginConc), o.loginConc, o.warmup, o.duration, srv.pid(), func(ctx context.Context, w, i int) *http.Request {
		req := a.request(ctx, "POST", "/users.json", "", signUpBody(fmt.Sprintf("su%s_%d_%d", b.runID, w, i), benchPassword))
		req.Header.Set("CB-AuthKey", a.authKey)
		return req
	})
	stopProf()
	progress("  %.1f/s (%s), server CPU %s per answer", sres.rate, sres.statusText(), scpu)
	progress("raw argon2id hashes")
	rawHash, rawHashCPU := rawArgon2id(o.duration, params, true)
	progress("  %.1f/s, CPU %s each", rawHash, rawHashCPU)
	n, all = sres.only(201)
	rep.add(row{
		name: "sign-ups/s (`POST /users`, CB-AuthKey)", value: perSec(sres.rate),
		base:  fmt.Sprintf("argon2id.CreateHash ×%d goroutines: %s", runtime.NumCPU(), perSec(rawHash)),
		ratio: sres.rate / rawHash, lat: latText(sres), answers: answers(sres, n, all, 201),
	})
	rep.notes = append(rep.notes, fmt.Sprintf("sign-ups: CPU time per sign-up of the server process %s, per raw hash %s",
		scpu.Round(10*time.Microsecond), rawHashCPU.Round(10*time.Microsecond)))

	// 4. V2 search latency on the loaded database.
	progress("V2 search")
	searchRows, err := searchLatency(ctx, a, tokens[0], o.searchN, o.seed, o.users+k)
	if err != nil {
		return err
	}
	for _, r := range searchRows {
		rep.add(r)
	}

	// 5. Peak RSS during concurrent login attempts.
	progress("%d concurrent login attempts", o.rssAttempts)
	rss, err := peakRSS(ctx, srv, a, logins, o.rssAttempts, o.profileDir, o.db)
	if err != nil {
		return err
	}
	rep.add(rss)
	if o.profileDir != "" && srv.pprofAddr != "" {
		fetchProfile(ctx, srv.pprofAddr, "/debug/pprof/heap", filepath.Join(o.profileDir, o.db+"-rss.heap.pprof"))
	}
	logTrouble, lines, _ := scanLog(b.log.Name(), 0, 5)

	rep.header = []string{
		fmt.Sprintf("machine: %s; load average (1/5/15 min) at start %s, at end %s", machine(), loadStart, loadAverage()),
		fmt.Sprintf("database: %s; %s", describeDB(ctx, &o.common), population),
		fmt.Sprintf("server: examples/server as its own process, GOMAXPROCS %d, argon2id m=%d KiB t=%d p=%d with %d hashing slots, rate limits off, access log %s%s",
			runtime.NumCPU(), params.Memory, params.Iterations, params.Parallelism, runtime.NumCPU(), onOff(o.accessLog), envText(o.serverEnv)),
		fmt.Sprintf("load: in-process Go client over loopback, keep-alive connections; GET /session %d workers, logins and sign-ups %d workers; %s measured per phase after %s warm-up; GET /session and logins alternate with their baselines in %d rounds of %s (ratio: median of the rounds)",
			o.concurrency, o.loginConc, o.duration, o.warmup, o.rounds, window),
	}
	if logTrouble > 0 {
		rep.notes = append(rep.notes, fmt.Sprintf("server log: %d lines with panic/stack/ERROR, e.g. %q", logTrouble, lines))
	} else {
		rep.notes = append(rep.notes, "server log: no panic, stack trace or ERROR line")
	}
	if o.profileDir != "" {
		rep.notes = append(rep.notes, "profiles in "+o.profileDir)
	}
	rep.print(os.Stdout)
	return nil
}

// record captures the response to GET /session for the bare server: status, headers
// (without Date and Content-Length, which net/http writes itself on both) and body.
func record(ctx context.Context, a *api, token string) (canned, error) {
	res, err := a.hc.Do(a.request(ctx, "GET", "/session.json", token, nil))
	if err != nil {
		return canned{}, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return canned{}, err
	}
	if res.StatusCode != 200 {
		return canned{}, fmt.Errorf("GET /session: %d %s", res.StatusCode, body)
	}
	h := res.Header.Clone()
	h.Del("Date")
	h.Del("Content-Length")
	return canned{Status: res.StatusCode, Header: h, Body: body}, nil
}

// defaultParams returns the argon2id parameters examples/server hashes with (password.Config's
// defaults).
func defaultParams() argon2id.Params {
	p, err := password.New(password.Config{})
	if err != nil {
		panic(err)
	}
	return p.Params()
}

// rawArgon2id runs NumCPU goroutines of argon2id verifications (or hash creations) at
// params for d and returns the rate per second and the CPU time of this process per
// operation.
func rawArgon2id(d time.Duration, params argon2id.Params, create bool) (float64, time.Duration) {
	hash, err := argon2id.CreateHash(benchPassword, &params)
	if err != nil {
		panic(err)
	}
	var n atomic.Int64
	u0, s0 := cpuTimes(os.Getpid())
	start := time.Now()
	until := start.Add(d)
	var wg sync.WaitGroup
	for g := 0; g < runtime.NumCPU(); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(until) {
				if create {
					argon2id.CreateHash(benchPassword, &params)
				} else {
					argon2id.ComparePasswordAndHash(benchPassword, hash)
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	u1, s1 := cpuTimes(os.Getpid())
	cpu := u1 - u0 + s1 - s0
	progress("  harness CPU per operation: user %s, system %s", (u1-u0)/time.Duration(max(n.Load(), 1)), (s1-s0)/time.Duration(max(n.Load(), 1)))
	return float64(n.Load()) / time.Since(start).Seconds(), cpu / time.Duration(max(n.Load(), 1))
}

// searchLatency measures V2 searches one at a time over one connection, for shapes whose
// values are drawn from users the API returns.
//
// Users are sampled by random ids up to maxID (the loaded users have ids 1 to -users).
func searchLatency(ctx context.Context, a *api, token string, n int, seed uint64, maxID int) ([]row, error) {
	type su struct {
		ID       int64
		Login    string
		FullName string `json:"full_name"`
	}
	var sample, named []su // named: users with a full name
	r := rand.New(rand.NewPCG(seed, 99))
	for page := 0; page < 5; page++ {
		q := url.Values{"limit": {"100"}}
		for i := 0; i < 100; i++ {
			q.Add("id[in][]", strconv.Itoa(1+r.IntN(maxID)))
		}
		code, body, err := a.do(ctx, "GET", "/users/v2.json?"+q.Encode(), token, nil)
		if err != nil {
			return nil, err
		}
		if code != 200 {
			return nil, fmt.Errorf("GET /users/v2: %d %s", code, body)
		}
		var pg struct {
			Items []su `json:"items"` // V2 items are flat user objects
		}
		if err := json.Unmarshal(body, &pg); err != nil {
			return nil, fmt.Errorf("GET /users/v2: %v: %.200s", err, body)
		}
		for _, u := range pg.Items {
			if len(u.Login) >= 4 {
				sample = append(sample, u)
			}
			if len(u.FullName) >= 4 {
				named = append(named, u)
			}
		}
	}
	if len(sample) == 0 {
		return nil, errors.New("GET /users/v2 returned no users")
	}
	s := func(i int) su { return sample[(i*31)%len(sample)] }
	prefix := func(v string, n int) string {
		rs := []rune(strings.ToLower(v))
		return string(rs[:min(n, len(rs))])
	}
	esc := url.QueryEscape
	shapes := []struct {
		name string
		path func(i int) string
	}{
		{"id=", func(i int) string { return "id=" + strconv.FormatInt(s(i).ID, 10) }},
		{"login=", func(i int) string { return "login=" + esc(s(i).Login) }},
		{"login[start_with]= (4 letters)", func(i int) string { return "login[start_with]=" + esc(prefix(s(i).Login, 4)) }},
		{"full_name[start_with]= (4 letters)", func(i int) string {
			return "full_name[start_with]=" + esc(prefix(named[(i*31)%len(named)].FullName, 4))
		}},
		{"user_tags=vip (1 % of users)", func(i int) string { return "user_tags=vip" }},
		{"id[in][] ×2 + last_request_at[gt]", func(i int) string {
			return fmt.Sprintf("id[in][]=%d&id[in][]=%d&last_request_at[gt]=2018-12-06T09:21:41Z", s(i).ID, s(i+1).ID)
		}},
	}
	var rows []row
	hc := newClient(1)
	sa := &api{base: a.base, hc: hc}
	for _, sh := range shapes {
		if strings.HasPrefix(sh.name, "full_name") && len(named) == 0 {
			continue // no loaded population: the API's users have no full names
		}
		for i := 0; i < 20; i++ { // warm-up
			sa.do(ctx, "GET", "/users/v2.json?"+sh.path(n+i), token, nil)
		}
		lat := make([]time.Duration, 0, n)
		statuses := map[int]int{}
		for i := 0; i < n; i++ {
			t0 := time.Now()
			code, body, err := sa.do(ctx, "GET", "/users/v2.json?"+sh.path(i), token, nil)
			if err != nil {
				return nil, err
			}
			if code != 200 {
				return nil, fmt.Errorf("GET /users/v2?%s: %d %s", sh.path(i), code, body)
			}
			lat = append(lat, time.Since(t0))
			statuses[code]++
		}
		res := &result{lat: lat, n: n, statuses: statuses}
		sortDurations(res.lat)
		rows = append(rows, row{
			name:    "V2 search latency, `" + sh.name + "` (1 client)",
			value:   fmt.Sprintf("p50 %s, p99 %s", ms(pct(res.lat, 50)), ms(pct(res.lat, 99))),
			lat:     fmt.Sprintf("max %s", ms(res.lat[len(res.lat)-1])),
			answers: fmt.Sprintf("%d×200", n),
		})
	}
	return rows, nil
}

// peakRSS sends attempts login attempts at once, each on its own connection (half with a
// wrong password), and reads the server's peak resident memory (VmHWM, reset just before).
//
// With profileDir, the server's heap profile and runtime.MemStats (heap?debug=1) are saved
// 1.5 s into the burst.
func peakRSS(ctx context.Context, srv *server, a *api, logins []string, attempts int, profileDir, db string) (row, error) {
	before, err := srv.statusKB("VmRSS")
	if err != nil {
		return row{}, err
	}
	if err := srv.resetPeakRSS(); err != nil {
		return row{}, fmt.Errorf("reset VmHWM: %w", err)
	}
	hc := newClient(attempts)
	var sampled atomic.Int64
	stopSampling := make(chan struct{})
	sampler := make(chan struct{})
	go func() {
		defer close(sampler)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
				if kb, err := srv.statusKB("VmRSS"); err == nil && kb > sampled.Load() {
					sampled.Store(kb)
				}
			}
		}
	}()
	var mu sync.Mutex
	statuses := map[int]int{}
	var errs int
	var firstErr error
	var lat []time.Duration
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < attempts; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			pw := benchPassword
			if i%2 == 1 {
				pw = "wrong-password-" + strconv.Itoa(i)
			}
			req := a.request(ctx, "POST", "/session.json", "", a.sessionBody(logins[i%len(logins)], pw))
			<-start
			t0 := time.Now()
			res, err := hc.Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			statuses[res.StatusCode]++
			lat = append(lat, time.Since(t0))
		}(i)
	}
	t0 := time.Now()
	close(start)
	if profileDir != "" && srv.pprofAddr != "" {
		time.Sleep(1500 * time.Millisecond)
		fetchProfile(ctx, srv.pprofAddr, "/debug/pprof/heap", filepath.Join(profileDir, db+"-rss-burst.heap.pprof"))
		fetchProfile(ctx, srv.pprofAddr, "/debug/pprof/heap?debug=1", filepath.Join(profileDir, db+"-rss-burst.heap.txt"))
		fetchProfile(ctx, srv.pprofAddr, "/debug/pprof/goroutine?debug=1", filepath.Join(profileDir, db+"-rss-burst.goroutines.txt"))
	}
	wg.Wait()
	took := time.Since(t0)
	close(stopSampling)
	<-sampler
	hwm, err := srv.statusKB("VmHWM")
	if err != nil {
		return row{}, err
	}
	res := &result{statuses: statuses, errs: errs, firstErr: firstErr, lat: lat, n: len(lat)}
	sortDurations(res.lat)
	bad := 0
	for code, c := range statuses {
		if !(code >= 200 && code < 300) && code != 401 && code != 429 && code != 503 {
			bad += c
		}
	}
	verdict := "only 2xx/401/429/503"
	if bad > 0 || errs > 0 {
		verdict = fmt.Sprintf("**%d unexpected answers, %d transport errors**", bad, errs)
	}
	return row{
		name:    fmt.Sprintf("peak RSS during %d concurrent login attempts (half wrong passwords)", attempts),
		value:   fmt.Sprintf("%.0f MiB", float64(hwm)/1024),
		base:    fmt.Sprintf("RSS before: %.0f MiB; sampled peak %.0f MiB", float64(before)/1024, float64(sampled.Load())/1024),
		maxMiB:  256,
		gotMiB:  float64(hwm) / 1024,
		lat:     latText(res) + fmt.Sprintf("; all answered in %s", took.Round(time.Millisecond)),
		answers: res.statusText() + " — " + verdict,
	}, nil
}

// loadUsers loads n users with bench/usersearch's loader (its -only matches no query, so it
// loads, or reuses, the population and measures nothing).
func (b *bench) loadUsers(ctx context.Context, n int, seed uint64) error {
	if _, err := os.Stat(filepath.Join(b.root, "bench", "usersearch")); err != nil {
		return fmt.Errorf("-users %d needs bench/usersearch's loader: %v (use -users 0 to skip the search rows' population)", n, err)
	}
	bin := filepath.Join(b.dir, "usersearch")
	if err := b.build("./bench/usersearch", bin); err != nil {
		return err
	}
	args := []string{"-db", b.c.db, "-users", strconv.Itoa(n), "-seed", strconv.FormatUint(seed, 10),
		"-n", "1", "-warmup", "0", "-only", "(load only: no query has this name)"}
	if b.c.db == "sqlite" {
		args = append(args, "-sqlite", b.dbArg)
	} else {
		args = append(args, "-dsn", b.c.dsn, "-prefix", b.prefix)
	}
	progress("loading %d users with bench/usersearch", n)
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = b.log, b.log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bench/usersearch loader: %v (see %s)", err, b.log.Name())
	}
	progress("  loaded in %s", time.Since(t0).Round(time.Second))
	return nil
}

// profile fetches a CPU profile of the server covering the measured window of a phase
// starting now; the returned function waits for it.
func (b *bench) profile(ctx context.Context, srv *server, dir, name string, warmup, window time.Duration) func() {
	return b.profileAddr(ctx, srv.pprofAddr, dir, name, warmup, window)
}

// profileAddr is profile for the pprof endpoints at addr.
func (b *bench) profileAddr(ctx context.Context, addr, dir, name string, warmup, window time.Duration) func() {
	if dir == "" || addr == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-time.After(warmup):
		case <-ctx.Done():
			return
		}
		secs := max(1, int(window.Seconds()))
		fetchProfile(ctx, addr, fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), filepath.Join(dir, b.c.db+"-"+name+".cpu.pprof"))
	}()
	return func() { <-done }
}

func fetchProfile(ctx context.Context, addr, path, file string) {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+path, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		progress("profile %s: %v", path, err)
		return
	}
	defer res.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		progress("profile %s: %v", path, err)
		return
	}
	defer f.Close()
	io.Copy(f, res.Body)
	progress("  profile %s", file)
}

func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "loadtest: "+format+"\n", a...)
}

func envText(env string) string {
	if env == "" {
		return ""
	}
	return ", environment " + env
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
