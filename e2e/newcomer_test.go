package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/identitykit/identity/internal/testutil"
)

// TestNewcomer follows the README's first screen as a newcomer would (issue 3): it builds
// ./examples/server, runs it with nothing but -addr in an empty working directory (SQLite file
// there, no setup, no IDENTITY_* variable), reads the application id, auth key and auth secret
// from what it prints, and runs newcomer/session.mjs: the README's `ConnectyCube.init(...)`
// snippet with those values and the port substituted, then the seed's
// `ConnectyCube.createSession(userCredentials)`, which must resolve a user session. It then
// stops the server with SIGTERM (exit status 0: graceful shutdown), starts it again in the same
// directory, and checks that it prints the same application id and auth key and that the
// session token still validates (GET /session).
//
// Like TestSDK it runs only with IDENTITY_E2E=1.
func TestNewcomer(t *testing.T) {
	if os.Getenv("IDENTITY_E2E") != "1" {
		t.Skip("e2e: set IDENTITY_E2E=1 to run the README newcomer path (needs go, node and npm)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("e2e: node not found in PATH: %v", err)
	}
	ensureNodeModules(t)
	snippet := readmeInitSnippet(t)
	// Read what the test depends on but go test does not track, so that a change to it reruns
	// the test instead of reporting a cached pass.
	readFiles(t, filepath.Join("newcomer", "session.mjs"))
	serverSources, _ := filepath.Glob(filepath.Join("..", "examples", "server", "*.go"))
	readFiles(t, serverSources...)

	bin := filepath.Join(t.TempDir(), "server")
	build := exec.Command("go", "build", "-o", bin, "github.com/identitykit/identity/examples/server")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("e2e: go build ./examples/server: %v", err)
	}

	workDir := t.TempDir()
	port := freePort(t)

	first := startExample(t, bin, workDir, port)
	b := first.banner
	if !b.created {
		t.Errorf("e2e: first start in an empty directory: banner says %q, want a created application", b.headline)
	}
	if b.authSecret == "" || strings.HasPrefix(b.authSecret, "(") {
		t.Fatalf("e2e: first start did not print the auth secret (printed %q)", b.authSecret)
	}
	if _, err := os.Stat(filepath.Join(workDir, "identity.db")); err != nil {
		t.Errorf("e2e: the README promises SQLite in ./identity.db: %v", err)
	}

	initJS := substituteInit(t, snippet, b, port)
	res := runNewcomerNode(t, initJS)
	if res.UserID == nil || *res.UserID <= 0 {
		t.Errorf("e2e: createSession(userCredentials) resolved user_id %v, want a user session", res.UserID)
	}
	if res.ApplicationID != b.appID {
		t.Errorf("e2e: session application_id = %d, want the printed application id %d", res.ApplicationID, b.appID)
	}
	if res.UserLogin != "cubeuser" {
		t.Errorf("e2e: session user login = %q, want cubeuser", res.UserLogin)
	}
	first.stop(t)

	second := startExample(t, bin, workDir, port)
	if second.banner.created {
		t.Errorf("e2e: second start in the same directory created a new application (%q)", second.banner.headline)
	}
	if second.banner.appID != b.appID || second.banner.authKey != b.authKey {
		t.Errorf("e2e: after a restart the server printed application %d with auth key %q, want %d and %q",
			second.banner.appID, second.banner.authKey, b.appID, b.authKey)
	}
	got := getSession(t, "http://127.0.0.1:"+strconv.Itoa(port), res.Token)
	if got.Token != res.Token || res.UserID == nil || got.UserID == nil || *got.UserID != *res.UserID {
		t.Errorf("e2e: GET /session after the restart returned token match %v, user_id %v, want the session of user %v",
			got.Token == res.Token, got.UserID, res.UserID)
	}
	second.stop(t)

	// Nothing secret in what the server logged or printed after the banner.
	logs := first.stderr.String() + second.stderr.String() + second.stdout.String()
	for _, sec := range []string{"awesomepwd", res.Token, b.authSecret} {
		if sec != "" && strings.Contains(logs, sec) {
			t.Errorf("e2e: the server's output contains a secret (%d characters, starting %q)", len(sec), sec[:3])
		}
	}
}

// readmeInitSnippet returns the first ```js block of ../README.md, the one a newcomer pastes.
func readmeInitSnippet(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	m := regexp.MustCompile("(?s)```js\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("e2e: README.md has no ```js block")
	}
	s := string(m[1])
	if !strings.Contains(s, "ConnectyCube.init(") {
		t.Fatalf("e2e: README.md's first js block is not the ConnectyCube.init snippet:\n%s", s)
	}
	return s
}

// substituteInit puts the printed credentials and the port into the README's snippet, where
// the README tells the reader to: the placeholders, and the port of the api_url. The README
// writes the application id out (a fresh database's first application); that must be the
// id the server printed.
func substituteInit(t *testing.T, snippet string, b banner, port int) string {
	t.Helper()
	m := regexp.MustCompile(`appId:\s*(\d+)`).FindStringSubmatch(snippet)
	if m == nil {
		t.Fatalf("e2e: the README snippet has no appId: N:\n%s", snippet)
	}
	if m[1] != strconv.FormatInt(b.appID, 10) {
		t.Errorf("e2e: the README snippet says appId: %s, but a fresh server printed application id %d", m[1], b.appID)
	}
	r := strings.NewReplacer(
		"<printed auth key>", b.authKey,
		"<printed secret>", b.authSecret,
		"localhost:8080", "localhost:"+strconv.Itoa(port),
	)
	for _, placeholder := range []string{"<printed auth key>", "<printed secret>", "localhost:8080"} {
		if !strings.Contains(snippet, placeholder) {
			t.Fatalf("e2e: the README snippet no longer contains %q; update TestNewcomer:\n%s", placeholder, snippet)
		}
	}
	return r.Replace(snippet)
}

// newcomerResult is what newcomer/session.mjs writes.
type newcomerResult struct {
	Token         string `json:"token"`
	ApplicationID int64  `json:"application_id"`
	UserID        *int64 `json:"user_id"`
	UserLogin     string `json:"user_login"`
}

func runNewcomerNode(t *testing.T, init string) newcomerResult {
	t.Helper()
	out := filepath.Join(t.TempDir(), "result.json")
	cmd := exec.Command("node", filepath.Join("newcomer", "session.mjs"))
	cmd.Env = append(os.Environ(), "IDENTITY_E2E_README_INIT="+init, "IDENTITY_E2E_RESULT="+out)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("e2e: node newcomer/session.mjs: %v", err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("e2e: newcomer/session.mjs wrote no result: %v", err)
	}
	var res newcomerResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("e2e: newcomer/session.mjs result %s: %v", b, err)
	}
	return res
}

type wireSession struct {
	Token  string `json:"token"`
	UserID *int64 `json:"user_id"`
}

func getSession(t *testing.T, apiURL, token string) wireSession {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, apiURL+"/session", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("CB-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("e2e: GET /session: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("e2e: GET /session after the restart: %d %s", resp.StatusCode, body)
	}
	var env struct {
		Session wireSession `json:"session"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("e2e: GET /session: %s: %v", body, err)
	}
	return env.Session
}

// banner is what the example server prints on stdout at start.
type banner struct {
	headline   string // "Created application 1 (default)" or "Using application ..."
	created    bool
	appID      int64
	authKey    string
	authSecret string
}

// exampleServer is one run of the built example server.
type exampleServer struct {
	cmd    *exec.Cmd
	banner banner
	stdout *testutil.LogBuffer // after the banner
	stderr *testutil.LogBuffer
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// startExample runs bin in dir with only -addr 127.0.0.1:port and no IDENTITY_* variable,
// and returns once it has printed its banner and logged that it listens.
func startExample(t *testing.T, bin, dir string, port int) *exampleServer {
	t.Helper()
	cmd := exec.Command(bin, "-addr", "127.0.0.1:"+strconv.Itoa(port))
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IDENTITY_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("e2e: start example server: %v", err)
	}
	s := &exampleServer{cmd: cmd, stdout: &testutil.LogBuffer{}, stderr: &testutil.LogBuffer{}, exited: make(chan struct{})}
	bannerc := make(chan banner, 1)
	listening := make(chan struct{})
	pipes := make(chan struct{}, 2)
	go func() {
		defer func() { pipes <- struct{}{} }()
		sc := bufio.NewScanner(stdout)
		var b banner
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if sent {
				s.stdout.Write([]byte(line + "\n"))
				continue
			}
			parseBannerLine(&b, line)
			if strings.Contains(line, "ConnectyCube.init(") {
				bannerc <- b
				sent = true
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		defer func() { pipes <- struct{}{} }()
		sc := bufio.NewScanner(stderr)
		seen := false
		for sc.Scan() {
			line := sc.Text()
			s.stderr.Write([]byte(line + "\n"))
			if !seen && strings.Contains(line, "server: listening") {
				seen = true
				close(listening)
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() {
		<-pipes
		<-pipes
		s.err = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			cmd.Process.Kill()
			<-s.exited
		}
	})

	select {
	case s.banner = <-bannerc:
	case <-s.exited:
		t.Fatalf("e2e: the example server exited before printing its banner (%v); its log:\n%s", s.err, s.stderr.String())
	}
	select {
	case <-listening:
	case <-s.exited:
		t.Fatalf("e2e: the example server exited before listening (%v); its log:\n%s", s.err, s.stderr.String())
	}
	return s
}

var bannerLine = regexp.MustCompile(`^\s*(application id|auth key|auth secret):\s*(.*?)\s*$`)

func parseBannerLine(b *banner, line string) {
	if strings.HasPrefix(line, "Created application ") || strings.HasPrefix(line, "Using application ") {
		b.headline = line
		b.created = strings.HasPrefix(line, "Created")
		return
	}
	m := bannerLine.FindStringSubmatch(line)
	if m == nil {
		return
	}
	switch m[1] {
	case "application id":
		b.appID, _ = strconv.ParseInt(m[2], 10, 64)
	case "auth key":
		b.authKey = m[2]
	case "auth secret":
		b.authSecret = m[2]
	}
}

// stop sends SIGTERM and requires a graceful exit: status 0.
func (s *exampleServer) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("e2e: SIGTERM: %v", err)
	}
	<-s.exited
	if s.err != nil {
		var ee *exec.ExitError
		if errors.As(s.err, &ee) {
			t.Errorf("e2e: after SIGTERM the example server exited with %v, want status 0; its log:\n%s", ee, s.stderr.String())
		} else {
			t.Errorf("e2e: example server: %v", s.err)
		}
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func readFiles(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.ReadFile(p); err != nil {
			t.Fatalf("e2e: %v", err)
		}
	}
}
