package main

import (
	"bytes"
	"testing"
	"time"
)

// cliCmd runs "server args..." for the apps and users groups in this process with an empty
// environment and returns the exit status, standard output and standard error.
func cliCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runCLI(t.Context(), args, func(string) string { return "" }, &out, &errOut)
	return code, out.String(), errOut.String()
}

// mustCLI runs cliCmd and fails the test unless it exits 0; it returns standard output.
func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := cliCmd(t, args...)
	if code != exitOK {
		t.Fatalf("server %q: exit %d\n%s%s", args, code, out, errOut)
	}
	return out
}

// eventually polls cond every few milliseconds until it holds, failing the test with what
// after a generous deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not so after 20 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
