package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/identitykit/identity/internal/testutil"
)

// buildNoCgo builds this command with CGO_ENABLED=0, checks that the binary links no SQLite
// driver, and returns its path.
func buildNoCgo(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "server")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./examples/server: %v\n%s", err, out)
	}
	info, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, info)
	}
	if !strings.Contains(string(info), "CGO_ENABLED=0") {
		t.Fatalf("the binary was not built without cgo:\n%s", info)
	}
	for _, mod := range []string{"github.com/mattn/go-sqlite3", "gorm.io/driver/sqlite"} {
		if strings.Contains(string(info), mod) {
			t.Errorf("the binary built without cgo links %s", mod)
		}
	}
	return bin
}

// startBinary starts bin with args and returns the process, the lines of its standard output
// (the banner) as they come, and its standard error.
func startBinary(t *testing.T, bin string, args ...string) (*exec.Cmd, <-chan string, *testutil.LogBuffer) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &testutil.LogBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		io.Copy(io.Discard, stdout)
	}()
	return cmd, lines, stderr
}

// TestNoCgoSQLite: a server built without cgo, asked for an SQLite database, exits non-zero
// at start with a message saying SQLite needs cgo, and creates no database file.
func TestNoCgoSQLite(t *testing.T) {
	bin := buildNoCgo(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "identity.db")
	cmd, lines, stderr := startBinary(t, bin, "-addr", "127.0.0.1:0", "-db", db, "-blob-dir", filepath.Join(dir, "blobs"))
	for line := range lines {
		// A banner line means the server started serving: stop it.
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the server built without cgo started on SQLite (printed %q)", line)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("exit: %v, want a non-zero exit status\nstderr:\n%s", err, stderr)
	}
	if want := "SQLite needs a cgo build (CGO_ENABLED=1 and a C compiler); use PostgreSQL or rebuild with cgo"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr does not say %q:\n%s", want, stderr)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat %s: %v, want no database file", db, err)
	}
}

// TestNoCgoPostgres: a server built without cgo serves on PostgreSQL (IDENTITY_TEST_POSTGRES_DSN):
// it creates its application, signs a user up and in, and shuts down cleanly on SIGTERM.
func TestNoCgoPostgres(t *testing.T) {
	dsn := os.Getenv("IDENTITY_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("IDENTITY_TEST_POSTGRES_DSN not set")
	}
	bin := buildNoCgo(t)
	prefix := fmt.Sprintf("nocgo%d_", time.Now().UnixNano()%1e9)
	defer dropTables(t, dsn, prefix)
	cmd, lines, stderr := startBinary(t, bin, "-addr", "127.0.0.1:0", "-db", dsn, "-table-prefix", prefix,
		"-blob-dir", t.TempDir(), "-access-log=false")
	var banner []string
	for line := range lines {
		banner = append(banner, line)
		if strings.Contains(line, "api_url") {
			break
		}
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		for range lines {
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("exit after SIGTERM: %v\nstderr:\n%s", err, stderr)
		}
	}()
	text := strings.Join(banner, "\n")
	key := keyRE.FindStringSubmatch(text)
	url := regexp.MustCompile(`api_url: "([^"]+)"`).FindStringSubmatch(text)
	if key == nil || url == nil {
		t.Fatalf("banner:\n%s\nstderr:\n%s", text, stderr)
	}
	res, err := http.Post(url[1]+"/session.json", "application/json",
		strings.NewReader(`{"application_id":1,"auth_key":"`+key[1]+`","user":{"login":"john","password":"11111111"}}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create session: %d", res.StatusCode)
	}
}
