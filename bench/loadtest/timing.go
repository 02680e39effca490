package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"time"
)

// cmdTiming measures, through the real server with DenyAutoCreate on, the time of a login
// with an unknown login against a login with a known login and a wrong password: both must
// answer 401 {"errors":["Unauthorized"]}, and their times should not tell them apart.
func cmdTiming(ctx context.Context, args []string) error {
	var c common
	fs := flag.NewFlagSet("timing", flag.ContinueOnError)
	c.register(fs, 1)
	n := fs.Int("n", 500, "requests of each kind (sent one at a time, the two kinds in random order)")
	warm := fs.Int("warmup", 20, "unmeasured requests of each kind first")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, cleanup, err := setup(ctx, &c)
	if err != nil {
		return err
	}
	defer cleanup()
	loadStart := loadAverage()
	srv, err := b.start("-deny-auto-create")
	if err != nil {
		return err
	}
	defer srv.stop()
	a := newAPI(srv, 1)
	known := "timing" + b.runID
	if _, err := a.signUp(ctx, known, benchPassword); err != nil {
		return err
	}
	kinds := []string{"unknown login", "known login, wrong password"}
	body := func(kind, i int) []byte {
		if kind == 0 {
			return a.sessionBody(fmt.Sprintf("nobody%s_%d", b.runID, i), "wrong-password-"+fmt.Sprint(i))
		}
		return a.sessionBody(known, "wrong-password-"+fmt.Sprint(i))
	}
	order := make([]int, 0, 2*(*n+*warm))
	for i := 0; i < *n+*warm; i++ {
		order = append(order, 0, 1)
	}
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	lat := [2][]time.Duration{}
	seen := [2]int{}
	progress("%d logins of each kind, one at a time", *n+*warm)
	for i, kind := range order {
		t0 := time.Now()
		code, resp, err := a.do(ctx, "POST", "/session.json", "", body(kind, i))
		d := time.Since(t0)
		if err != nil {
			return err
		}
		if code != 401 || string(resp) != `{"errors":["Unauthorized"]}` {
			return fmt.Errorf("%s: %d %s, want 401 {\"errors\":[\"Unauthorized\"]}", kinds[kind], code, resp)
		}
		seen[kind]++
		if seen[kind] > *warm {
			lat[kind] = append(lat[kind], d)
		}
	}
	for k := range lat {
		sortDurations(lat[k])
	}
	fmt.Printf("\n### login timing: unknown login vs wrong password (%s)\n\n", c.db)
	fmt.Printf("- machine: %s; load average at start %s, at end %s\n", machine(), loadStart, loadAverage())
	fmt.Printf("- database: %s; server: examples/server -deny-auto-create, rate limits off (the tarpit would delay the repeated known account only)\n", describeDB(ctx, &c))
	fmt.Printf("- %d requests of each kind after %d warm-up, one at a time over one keep-alive connection, kinds interleaved at random; both answer 401 {\"errors\":[\"Unauthorized\"]}\n\n", *n, *warm)
	var rows [][]string
	for k, name := range kinds {
		l := lat[k]
		rows = append(rows, []string{name, fmt.Sprint(len(l)), ms(pct(l, 10)), ms(pct(l, 25)), ms(pct(l, 50)), ms(pct(l, 75)), ms(pct(l, 90)), ms(mean(l))})
	}
	table(os.Stdout, []string{"login attempt", "n", "p10", "p25", "median", "p75", "p90", "mean"}, rows)
	diff := pct(lat[0], 50) - pct(lat[1], 50)
	lo, hi := bootstrapMedianDiff(lat[0], lat[1], 2000, r)
	auc := mannWhitneyAUC(lat[0], lat[1])
	fmt.Printf("\n- median difference (unknown − wrong password): %s (%.1f %% of the wrong-password median); 95 %% bootstrap interval [%s, %s]\n",
		signedMs(diff), 100*float64(diff)/float64(pct(lat[1], 50)), signedMs(lo), signedMs(hi))
	fmt.Printf("- interquartile ranges: unknown %s, wrong password %s\n", ms(pct(lat[0], 75)-pct(lat[0], 25)), ms(pct(lat[1], 75)-pct(lat[1], 25)))
	fmt.Printf("- P(an unknown-login attempt is slower than a wrong-password attempt) = %.3f (0.5: indistinguishable by a single comparison)\n", auc)
	return nil
}

func mean(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	var s time.Duration
	for _, x := range d {
		s += x
	}
	return s / time.Duration(len(d))
}

func signedMs(d time.Duration) string {
	if d < 0 {
		return "−" + fmt.Sprintf("%.3f ms", float64(-d)/1e6)
	}
	return "+" + fmt.Sprintf("%.3f ms", float64(d)/1e6)
}

// bootstrapMedianDiff returns a 95 % percentile bootstrap interval of median(a) − median(b).
func bootstrapMedianDiff(a, b []time.Duration, rounds int, r *rand.Rand) (lo, hi time.Duration) {
	diffs := make([]time.Duration, rounds)
	sa, sb := make([]time.Duration, len(a)), make([]time.Duration, len(b))
	for i := range diffs {
		for j := range sa {
			sa[j] = a[r.IntN(len(a))]
		}
		for j := range sb {
			sb[j] = b[r.IntN(len(b))]
		}
		sortDurations(sa)
		sortDurations(sb)
		diffs[i] = pct(sa, 50) - pct(sb, 50)
	}
	sort.Slice(diffs, func(i, j int) bool { return diffs[i] < diffs[j] })
	return diffs[int(math.Floor(0.025*float64(rounds)))], diffs[int(math.Ceil(0.975*float64(rounds)))-1]
}

// mannWhitneyAUC returns P(x > y) + P(x = y)/2 for x from a and y from b (both sorted).
func mannWhitneyAUC(a, b []time.Duration) float64 {
	if len(a) == 0 || len(b) == 0 {
		return math.NaN()
	}
	var u float64
	j, k := 0, 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		for k < len(b) && b[k] <= x {
			k++
		}
		u += float64(j) + float64(k-j)/2
	}
	return u / (float64(len(a)) * float64(len(b)))
}
