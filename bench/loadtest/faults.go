package main

import (
	"context"
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
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ack is a sign-up the server acknowledged (201), with the session token of the login that
// followed it when that was acknowledged too.
type ack struct {
	login, token string
}

// cmdKill: kill -9 of the server under a sign-up load, restart, and check that every
// acknowledged user and session survived.
func cmdKill(ctx context.Context, args []string) error {
	var c common
	fs := flag.NewFlagSet("kill", flag.ContinueOnError)
	c.register(fs, 16)
	rounds := fs.Int("rounds", 3, "kill/restart rounds")
	killAfter := fs.Duration("kill-after", 5*time.Second, "the server is killed at a random moment between half this and this after the load starts")
	verifyLogins := fs.Int("verify-logins", 20, "acknowledged users per round whose password is also checked by logging in (each costs one argon2id verification)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, cleanup, err := setup(ctx, &c)
	if err != nil {
		return err
	}
	defer cleanup()
	loadStart := loadAverage()
	var acked []ack
	var unanswered []string // sign-ups sent without an answer when the server died
	var out [][]string
	totalLost := 0
	for round := 1; ; round++ {
		srv, err := b.start()
		if err != nil {
			return err
		}
		a := newAPI(srv, c.concurrency)
		v, err := verifyAcked(ctx, a, acked, unanswered, *verifyLogins)
		if err != nil {
			srv.kill()
			return err
		}
		totalLost += v.lostUsers + v.lostSessions + v.badLogins
		if round > 1 {
			last := out[len(out)-1]
			last = append(last, v.summary())
			out[len(out)-1] = last
		}
		if round > *rounds {
			srv.stop()
			break
		}
		progress("round %d: sign-up load on pid %d", round, srv.pid())
		after := time.Duration(float64(*killAfter) * (0.5 + rand.Float64()/2))
		r := signUpUntilKilled(ctx, a, srv, c.concurrency, round, b.runID, after)
		acked = append(acked, r.acked...)
		unanswered = r.unanswered
		sessions := 0
		for _, x := range r.acked {
			if x.token != "" {
				sessions++
			}
		}
		out = append(out, []string{
			strconv.Itoa(round), after.Round(time.Millisecond).String(), strconv.Itoa(len(r.acked)), strconv.Itoa(sessions),
			fmt.Sprintf("%d sign-ups, %d logins", len(r.unanswered), r.unansweredLogins), strconv.Itoa(len(acked)),
		})
	}
	fmt.Printf("\n### kill -9 under sign-up load: %s\n\n", c.db)
	fmt.Printf("- machine: %s; load average at start %s, at end %s\n", machine(), loadStart, loadAverage())
	fmt.Printf("- database: %s; %d workers, each: POST /users (sign-up) then POST /session (login) with the new account, back to back\n", describeDB(ctx, &c), c.concurrency)
	fmt.Printf("- each round: start the server on the same database, verify everything acknowledged so far (GET /users/by_login for every user, GET /session for every token, a login for a sample), run the load, SIGKILL the server\n\n")
	table(os.Stdout, []string{"round", "killed after", "sign-ups acknowledged", "sessions acknowledged", "unanswered at kill", "acknowledged so far", "after restart"}, out)
	if totalLost == 0 {
		fmt.Printf("\nNothing acknowledged was lost (%d users, every acknowledged session token still valid).\n", len(acked))
	} else {
		fmt.Printf("\n**%d acknowledged records lost or unusable.**\n", totalLost)
	}
	if n, lines, _ := scanLog(b.log.Name(), 0, 5); n > 0 {
		fmt.Printf("\nserver log: %d lines with panic/stack/ERROR, e.g. %q\n", n, lines)
	}
	if totalLost > 0 {
		return errors.New("acknowledged data lost")
	}
	return nil
}

type killRound struct {
	acked            []ack
	unanswered       []string
	unansweredLogins int
}

// signUpUntilKilled runs sign-ups and logins on conc workers and SIGKILLs the server after d.
func signUpUntilKilled(ctx context.Context, a *api, srv *server, conc, round int, runID string, d time.Duration) killRound {
	var mu sync.Mutex
	var r killRound
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				login := fmt.Sprintf("k%s_%d_%d_%d", runID, round, w, i)
				code, _, err := a.do(ctx, "POST", "/users.json", "", signUpBody(login, benchPassword), "CB-AuthKey", a.authKey)
				if err != nil {
					mu.Lock()
					r.unanswered = append(r.unanswered, login)
					mu.Unlock()
					return
				}
				if code != http.StatusCreated {
					continue
				}
				x := ack{login: login}
				code, body, err := a.do(ctx, "POST", "/session.json", "", a.sessionBody(login, benchPassword))
				if err == nil && code == http.StatusCreated {
					var s struct {
						Session struct{ Token string } `json:"session"`
					}
					if json.Unmarshal(body, &s) == nil {
						x.token = s.Session.Token
					}
				}
				mu.Lock()
				r.acked = append(r.acked, x)
				if err != nil {
					r.unansweredLogins++
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}(w)
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	srv.kill()
	wg.Wait()
	return r
}

type verification struct {
	users, lostUsers, sessions, lostSessions, logins, badLogins int
	unanswered, unansweredPresent                               int
}

func (v verification) summary() string {
	s := fmt.Sprintf("%d/%d users present, %d/%d sessions valid, %d/%d logins OK", v.users-v.lostUsers, v.users,
		v.sessions-v.lostSessions, v.sessions, v.logins-v.badLogins, v.logins)
	if v.unanswered > 0 {
		s += fmt.Sprintf("; of the unanswered sign-ups %d committed", v.unansweredPresent)
	}
	return s
}

// verifyAcked checks every acknowledged user and session, and logs in as a sample of users.
func verifyAcked(ctx context.Context, a *api, acked []ack, unanswered []string, logins int) (verification, error) {
	var v verification
	if len(acked) == 0 && len(unanswered) == 0 {
		return v, nil
	}
	tok, _, err := a.session(ctx, "", "")
	if err != nil {
		return v, err
	}
	exists := func(login string) (bool, error) {
		code, body, err := a.do(ctx, "GET", "/users/by_login.json?login="+url.QueryEscape(login), tok, nil)
		switch {
		case err != nil:
			return false, err
		case code == 200:
			return true, nil
		case code == 404:
			return false, nil
		}
		return false, fmt.Errorf("GET /users/by_login: %d %s", code, body)
	}
	for _, x := range acked {
		v.users++
		ok, err := exists(x.login)
		if err != nil {
			return v, err
		}
		if !ok {
			v.lostUsers++
			progress("LOST user %s", x.login)
		}
		if x.token == "" {
			continue
		}
		v.sessions++
		code, body, err := a.do(ctx, "GET", "/session.json", x.token, nil)
		if err != nil {
			return v, err
		}
		if code != 200 {
			v.lostSessions++
			progress("LOST session of %s: %d %s", x.login, code, body)
		}
	}
	for _, l := range unanswered {
		v.unanswered++
		if ok, err := exists(l); err != nil {
			return v, err
		} else if ok {
			v.unansweredPresent++
		}
	}
	for i := 0; i < min(logins, len(acked)); i++ {
		x := acked[rand.IntN(len(acked))]
		v.logins++
		if _, _, err := a.session(ctx, x.login, benchPassword); err != nil {
			v.badLogins++
			progress("login of acknowledged user %s failed: %v", x.login, err)
		}
	}
	return v, nil
}

// cmdPGRestart restarts (or stops and later starts) PostgreSQL under a mixed load and
// checks that requests fail cleanly (503 with a ConnectyCube body, never 500) and that the
// server recovers by itself.
func cmdPGRestart(ctx context.Context, args []string) error {
	var c common
	fs := flag.NewFlagSet("pgrestart", flag.ContinueOnError)
	c.register(fs, 16)
	total := fs.Duration("duration", 30*time.Second, "length of the load")
	at := fs.Duration("at", 5*time.Second, "when PostgreSQL is restarted, after the load starts")
	down := fs.Duration("down", 0, "stop PostgreSQL, wait this long, start it (instead of a restart)")
	cluster := fs.String("cluster", "", "PostgreSQL cluster as \"<version> <name>\" for pg_ctlcluster (default: the first version in /etc/postgresql, main)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.db = "postgres"
	ver, name := "", "main"
	if *cluster != "" {
		f := strings.Fields(*cluster)
		if len(f) != 2 {
			return errors.New("-cluster: want \"<version> <name>\"")
		}
		ver, name = f[0], f[1]
	} else {
		ents, err := os.ReadDir("/etc/postgresql")
		if err != nil || len(ents) == 0 {
			return fmt.Errorf("no cluster in /etc/postgresql: %v", err)
		}
		ver = ents[0].Name()
	}
	b, cleanup, err := setup(ctx, &c)
	if err != nil {
		return err
	}
	defer cleanup()
	loadStart := loadAverage()
	srv, err := b.start()
	if err != nil {
		return err
	}
	defer srv.stop()
	logOffset := b.logSize()
	a := newAPI(srv, c.concurrency)
	k := 8
	logins := make([]string, k)
	tokens := make([]string, k)
	ids := make([]int64, k)
	for i := range logins {
		logins[i] = fmt.Sprintf("pg%s_%d", b.runID, i)
		if ids[i], err = a.signUp(ctx, logins[i], benchPassword); err != nil {
			return err
		}
		if tokens[i], _, err = a.session(ctx, logins[i], benchPassword); err != nil {
			return err
		}
	}

	type event struct {
		t      time.Duration
		op     string
		status int
		err    bool
		shape  string // problem with the body of a non-2xx answer, "" when fine
	}
	var mu sync.Mutex
	var events []event
	var marks []string
	var pgBack time.Duration
	start := time.Now()
	until := start.Add(*total)
	ops := []string{"GET /session", "GET /session", "GET /session", "GET /users/{id}", "GET /users/{id}", "GET /users/v2", "GET /users/v2", "POST /session (login)", "POST /users (sign-up)", "GET /session"}
	var wg sync.WaitGroup
	for w := 0; w < c.concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; time.Now().Before(until); i++ {
				op := ops[(w+i)%len(ops)]
				j := (w + i) % k
				var req *http.Request
				switch op {
				case "GET /session":
					req = a.request(ctx, "GET", "/session.json", tokens[j], nil)
				case "GET /users/{id}":
					req = a.request(ctx, "GET", fmt.Sprintf("/users/%d.json", ids[(j+1)%k]), tokens[j], nil)
				case "GET /users/v2":
					req = a.request(ctx, "GET", "/users/v2.json?login="+logins[(j+2)%k], tokens[j], nil)
				case "POST /session (login)":
					req = a.request(ctx, "POST", "/session.json", "", a.sessionBody(logins[j], benchPassword))
				default:
					req = a.request(ctx, "POST", "/users.json", "", signUpBody(fmt.Sprintf("pgs%s_%d_%d", b.runID, w, i), benchPassword))
					req.Header.Set("CB-AuthKey", a.authKey)
				}
				t0 := time.Now()
				res, err := a.hc.Do(req)
				e := event{t: t0.Sub(start), op: op}
				if err != nil {
					e.err = true
					time.Sleep(10 * time.Millisecond)
				} else {
					var body []byte
					body, _ = readAll(res)
					e.status = res.StatusCode
					if res.StatusCode >= 300 {
						e.shape = checkErrorBody(res, body)
					}
				}
				mu.Lock()
				events = append(events, e)
				mu.Unlock()
			}
		}(w)
	}
	// The fault.
	select {
	case <-time.After(*at):
	case <-ctx.Done():
		return ctx.Err()
	}
	mark := func(s string) {
		mu.Lock()
		marks = append(marks, fmt.Sprintf("%.1f s: %s", time.Since(start).Seconds(), s))
		mu.Unlock()
		progress("%.1f s: %s", time.Since(start).Seconds(), s)
	}
	pgctl := func(action string) error {
		out, err := exec.CommandContext(ctx, "pg_ctlcluster", "--skip-systemctl-redirect", ver, name, action).CombinedOutput()
		if err != nil {
			return fmt.Errorf("pg_ctlcluster %s %s %s: %v: %s", ver, name, action, err, out)
		}
		return nil
	}
	if *down > 0 {
		mark("pg_ctlcluster stop")
		if err := pgctl("stop"); err != nil {
			return err
		}
		mark("PostgreSQL stopped")
		time.Sleep(*down)
		mark("pg_ctlcluster start")
		if err := pgctl("start"); err != nil {
			return err
		}
	} else {
		mark("pg_ctlcluster restart")
		if err := pgctl("restart"); err != nil {
			return err
		}
	}
	pgBack = time.Since(start)
	mark("PostgreSQL accepting connections again")
	wg.Wait()

	// Health after the load: the same server, no restart.
	health := []string{}
	if _, err := a.signUp(ctx, "pgafter"+b.runID, benchPassword); err != nil {
		health = append(health, "sign-up: "+err.Error())
	}
	if _, _, err := a.session(ctx, "pgafter"+b.runID, benchPassword); err != nil {
		health = append(health, "login: "+err.Error())
	}
	if code, body, err := a.do(ctx, "GET", fmt.Sprintf("/users/%d.json", ids[0]), tokens[1], nil); err != nil || code != 200 {
		health = append(health, fmt.Sprintf("GET /users/{id}: %d %s %v", code, body, err))
	}

	// Report: one line per second.
	sort.Slice(events, func(i, j int) bool { return events[i].t < events[j].t })
	type bucket struct {
		n, ok, s503, s500, other, errs, badShape int
		others                                   map[string]int
	}
	secs := int(total.Seconds()) + 1
	bs := make([]bucket, secs)
	counts := map[int]int{}
	badShapes := map[string]int{}
	firstOKAfter := map[string]time.Duration{}
	for _, e := range events {
		i := min(int(e.t.Seconds()), secs-1)
		x := &bs[i]
		x.n++
		switch {
		case e.err:
			x.errs++
		case e.status >= 200 && e.status < 300:
			x.ok++
			if e.t > pgBack && firstOKAfter[e.op] == 0 {
				firstOKAfter[e.op] = e.t - pgBack
			}
		case e.status == 503:
			x.s503++
		case e.status == 500:
			x.s500++
		default:
			x.other++
			if x.others == nil {
				x.others = map[string]int{}
			}
			x.others[fmt.Sprintf("%s %d", e.op, e.status)]++
		}
		if !e.err {
			counts[e.status]++
		}
		if e.shape != "" {
			x.badShape++
			badShapes[e.shape]++
		}
	}
	fmt.Printf("\n### PostgreSQL %s under load\n\n", map[bool]string{true: fmt.Sprintf("stopped for %s", *down), false: "restarted"}[*down > 0])
	fmt.Printf("- machine: %s; load average at start %s, at end %s\n", machine(), loadStart, loadAverage())
	fmt.Printf("- database: %s, cluster %s/%s; server: examples/server (gormstore.OpenPostgres connection pool)\n", describeDB(ctx, &c), ver, name)
	fmt.Printf("- load: %d workers over keep-alive connections, a mix of GET /session (4/10), GET /users/{id} (2/10), GET /users/v2?login= (2/10), logins (1/10) and sign-ups (1/10), for %s\n", c.concurrency, *total)
	fmt.Printf("- events: %s\n\n", strings.Join(marks, "; "))
	var rows [][]string
	for i, x := range bs {
		if x.n == 0 {
			continue
		}
		var oth []string
		for k, v := range x.others {
			oth = append(oth, fmt.Sprintf("%d× %s", v, k))
		}
		sort.Strings(oth)
		rows = append(rows, []string{strconv.Itoa(i), strconv.Itoa(x.n), strconv.Itoa(x.ok), strconv.Itoa(x.s503), strconv.Itoa(x.s500),
			strings.Join(oth, ", "), strconv.Itoa(x.errs), strconv.Itoa(x.badShape)})
	}
	table(os.Stdout, []string{"second", "requests", "2xx", "503", "500", "other", "transport errors", "bad error bodies"}, rows)
	fmt.Printf("\n- statuses over the run: %v\n", counts)
	var rec []string
	for _, op := range []string{"GET /session", "GET /users/{id}", "GET /users/v2", "POST /session (login)", "POST /users (sign-up)"} {
		if d, ok := firstOKAfter[op]; ok {
			rec = append(rec, fmt.Sprintf("%s %s", op, d.Round(time.Millisecond)))
		} else {
			rec = append(rec, op+" never")
		}
	}
	fmt.Printf("- first success after PostgreSQL was back: %s\n", strings.Join(rec, ", "))
	if len(health) == 0 {
		fmt.Println("- after the load, without restarting the server: sign-up, login and GET /users/{id} succeed")
	} else {
		fmt.Printf("- **after the load the server does not work: %s**\n", strings.Join(health, "; "))
	}
	if len(badShapes) > 0 {
		fmt.Printf("- **error bodies not in the ConnectyCube shape: %v**\n", badShapes)
	}
	n, lines, _ := scanLog(b.log.Name(), logOffset, 8)
	if n == 0 {
		fmt.Println("- server log during the run: no panic, stack trace or ERROR line")
	} else {
		fmt.Printf("- server log during the run: %d lines with panic/stack/ERROR; first ones:\n", n)
		for _, l := range lines {
			fmt.Printf("  - `%s`\n", l)
		}
	}
	if counts[500] > 0 || len(health) > 0 || len(badShapes) > 0 {
		return errors.New("the server did not fail cleanly or did not recover")
	}
	return nil
}

func readAll(res *http.Response) ([]byte, error) {
	defer res.Body.Close()
	return io.ReadAll(res.Body)
}

// checkErrorBody returns "" when a non-2xx answer has a JSON ConnectyCube error body
// ({"errors":[...]} or {"errors":{"field":[...]}}), and 503s a Retry-After.
func checkErrorBody(res *http.Response, body []byte) string {
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		return fmt.Sprintf("%d with Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil || len(top) != 1 || top["errors"] == nil {
		return fmt.Sprintf("%d body not {\"errors\":...}", res.StatusCode)
	}
	var flat []string
	var keyed map[string][]string
	if json.Unmarshal(top["errors"], &flat) != nil && json.Unmarshal(top["errors"], &keyed) != nil {
		return fmt.Sprintf("%d errors neither a list nor an object of lists", res.StatusCode)
	}
	if res.StatusCode == 503 && res.Header.Get("Retry-After") == "" {
		return "503 without Retry-After"
	}
	return ""
}
