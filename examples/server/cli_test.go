package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
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

// TestCLIBinary: the built command dispatches "apps" and "users" and exits with their
// status.
func TestCLIBinary(t *testing.T) {
	bin := buildServer(t)
	db := filepath.Join(t.TempDir(), "identity.db")
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"apps"}, exitUsage, ""},
		{[]string{"apps", "--help"}, exitOK, "Usage: server apps list"},
		{[]string{"users", "find", "--help"}, exitOK, ""},
		{[]string{"apps", "list", "-db", db}, exitError, ""},
		{[]string{"migrate", "up", "-db", db}, exitOK, "applied 1"},
		{[]string{"apps", "create", "demo", "deny_auto_create=true", "-db", db}, exitOK, "auth_secret"},
		{[]string{"apps", "show", "1", "-db", db, "-json"}, exitOK, `"deny_auto_create": true`},
		{[]string{"apps", "set", "1", "deny_auto_create=perhaps", "-db", db}, exitUsage, ""},
		{[]string{"apps", "show", "2", "-db", db}, exitError, ""},
		{[]string{"users", "find", "1", "-db", db, "-json"}, exitOK, `"total": 0`},
		{[]string{"users", "block", "1", "7", "-db", db}, exitError, ""},
		{[]string{"users", "delete", "1", "7", "-db", db}, exitUsage, ""},
	} {
		code, out := runBinary(t, bin, c.args...)
		if code != c.code || !strings.Contains(string(out), c.out) {
			t.Errorf("server %q: exit %d, stdout %q; want %d with %q", c.args, code, out, c.code, c.out)
		}
	}
}

// buildServer builds the command into a temporary directory and returns its path.
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "server")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBinary runs bin with args and returns its exit status and standard output.
func runBinary(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}
