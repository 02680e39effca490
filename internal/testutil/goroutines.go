package testutil

import (
	"runtime"
	"strings"
)

// Goroutines returns the stacks of the goroutines whose stack contains running (a function
// name prefix such as "identitykit/identity.(*") and not except (the test package's prefix,
// so that the test's own goroutines calling into the code are left out).
func Goroutines(running, except string) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, running) && !strings.Contains(g, except) {
			out = append(out, g)
		}
	}
	return out
}
