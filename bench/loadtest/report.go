package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// row is one line of the report table.
type row struct {
	name, value, base string
	// ratio is value/baseline (0: none); target is the minimum ratio (0: none).
	ratio, target float64
	// maxMiB, when set, is the memory target gotMiB must stay within.
	maxMiB, gotMiB float64
	lat, answers   string
}

type report struct {
	db     string
	header []string
	rows   []row
	notes  []string
}

func (r *report) add(x row) { r.rows = append(r.rows, x) }

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\n### identity load test: %s\n\n", r.db)
	for _, h := range r.header {
		fmt.Fprintf(w, "- %s\n", h)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| measurement | identity | baseline | ratio | target | latency | answers |")
	fmt.Fprintln(w, "|---|---:|---|---:|---|---|---|")
	for _, x := range r.rows {
		ratio, target := "", ""
		if x.ratio > 0 {
			ratio = fmt.Sprintf("%.2f", x.ratio)
		}
		switch {
		case x.target > 0:
			target = fmt.Sprintf("≥ %.1f %s", x.target, mark(x.ratio >= x.target))
		case x.maxMiB > 0:
			target = fmt.Sprintf("≤ %.0f MiB %s", x.maxMiB, mark(x.gotMiB <= x.maxMiB))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", x.name, x.value, x.base, ratio, target, x.lat, x.answers)
	}
	fmt.Fprintln(w)
	for _, n := range r.notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
}

func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗ missed"
}

func perSec(r float64) string {
	if r >= 100 {
		return fmt.Sprintf("%.0f/s", r)
	}
	return fmt.Sprintf("%.1f/s", r)
}

func latText(r *result) string {
	if len(r.lat) == 0 {
		return ""
	}
	return fmt.Sprintf("p50 %s, p99 %s", ms(pct(r.lat, 50)), ms(pct(r.lat, 99)))
}

// answers describes the statuses of a phase that should all be want.
func answers(r *result, n int, all bool, want int) string {
	if all {
		return fmt.Sprintf("%d×%d", n, want)
	}
	return "**" + r.statusText() + "**"
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}

// table prints a Markdown table.
func table(w io.Writer, head []string, rows [][]string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(head, " | "))
	seps := make([]string, len(head))
	for i := range seps {
		seps[i] = "---"
	}
	fmt.Fprintf(w, "|%s|\n", strings.Join(seps, "|"))
	for _, r := range rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
}
