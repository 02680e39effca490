package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, to reset and describe PostgreSQL
)

// common holds the flags every subcommand shares.
type common struct {
	db          string
	dsn         string
	prefix      string
	serverBin   string
	workDir     string
	keep        bool
	concurrency int
	accessLog   bool
	serverEnv   string
}

func (c *common) register(fs *flag.FlagSet, defConcurrency int) {
	fs.StringVar(&c.db, "db", "sqlite", "database: sqlite or postgres")
	dsn := os.Getenv("IDENTITY_TEST_POSTGRES_DSN")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	fs.StringVar(&c.dsn, "dsn", dsn, "PostgreSQL DSN (default $IDENTITY_TEST_POSTGRES_DSN, else the local test database)")
	fs.StringVar(&c.prefix, "prefix", "loadtest_", "table prefix on PostgreSQL (its tables are dropped at the start of a run)")
	fs.StringVar(&c.serverBin, "server", "", "examples/server binary to run (default: go build it into the work directory)")
	fs.StringVar(&c.workDir, "dir", "", "work directory for the binary, the SQLite database and the server log (default: a new temporary directory)")
	fs.BoolVar(&c.keep, "keep", false, "keep the work directory")
	fs.IntVar(&c.concurrency, "concurrency", defConcurrency, "concurrent requests (each worker keeps one keep-alive connection)")
	fs.BoolVar(&c.accessLog, "access-log", false, "run the server with its access log (one log line per request)")
	fs.StringVar(&c.serverEnv, "server-env", "", "space-separated NAME=value pairs added to the server's environment (e.g. GOMEMLIMIT=160MiB GOGC=50)")
}

// bench is a prepared environment: the server binary, the work directory and the database.
type bench struct {
	c      *common
	dir    string
	root   string // module root
	bin    string
	dbArg  string // the server's -db
	prefix string // the server's -table-prefix
	log    *os.File
	runID  string
}

// setup prepares the work directory, builds the server and resets the PostgreSQL tables.
func setup(ctx context.Context, c *common) (*bench, func(), error) {
	if c.db != "sqlite" && c.db != "postgres" {
		return nil, nil, fmt.Errorf("-db %q: want sqlite or postgres", c.db)
	}
	b := &bench{c: c, runID: strconv.FormatInt(time.Now().UnixNano()%1e9, 36)}
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		return nil, nil, fmt.Errorf("run from inside the identity module (go env GOMOD: %v)", err)
	}
	b.root = filepath.Dir(strings.TrimSpace(string(out)))
	b.dir = c.workDir
	if b.dir == "" {
		if b.dir, err = os.MkdirTemp("", "identity-loadtest-"); err != nil {
			return nil, nil, err
		}
	} else if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return nil, nil, err
	}
	cleanup := func() {
		if b.log != nil {
			b.log.Close()
		}
		if !c.keep && c.workDir == "" {
			os.RemoveAll(b.dir)
		}
	}
	if b.log, err = os.OpenFile(filepath.Join(b.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		cleanup()
		return nil, nil, err
	}
	b.bin = c.serverBin
	if b.bin == "" {
		b.bin = filepath.Join(b.dir, "identity-server")
		if err := b.build("./examples/server", b.bin); err != nil {
			cleanup()
			return nil, nil, err
		}
	}
	switch c.db {
	case "sqlite":
		b.dbArg = filepath.Join(b.dir, "identity.db")
		b.prefix = "identity_"
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(b.dbArg + suffix)
		}
	case "postgres":
		b.dbArg = c.dsn
		b.prefix = c.prefix
		if err := dropTables(ctx, c.dsn, c.prefix); err != nil {
			cleanup()
			return nil, nil, err
		}
	}
	return b, cleanup, nil
}

func (b *bench) build(pkg, out string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = b.root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
	}
	return nil
}

// dropTables drops the tables whose names start with prefix.
func dropTables(ctx context.Context, dsn, prefix string) error {
	if !strings.HasSuffix(prefix, "_") || len(prefix) < 3 {
		return fmt.Errorf("-prefix %q: want at least two characters and a trailing underscore", prefix)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND starts_with(tablename, $1)", prefix)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	rows.Close()
	for _, t := range tables {
		if _, err := db.ExecContext(ctx, `DROP TABLE IF EXISTS "`+t+`" CASCADE`); err != nil {
			return err
		}
	}
	return nil
}

// describeDB names the database engine and version.
func describeDB(ctx context.Context, c *common) string {
	if c.db == "sqlite" {
		return "SQLite " + sqliteVersion() + " (WAL, synchronous=NORMAL)"
	}
	db, err := sql.Open("pgx", c.dsn)
	if err != nil {
		return "PostgreSQL"
	}
	defer db.Close()
	var v string
	db.QueryRowContext(ctx, "SHOW server_version").Scan(&v)
	return "PostgreSQL " + v
}

// server is a running examples/server process.
type server struct {
	cmd       *exec.Cmd
	addr      string // host:port
	pprofAddr string
	appID     int64
	authKey   string
	done      chan struct{}
	waitErr   error
	logMu     sync.Mutex
	tail      []string // recent stderr lines
}

var (
	listeningRE = regexp.MustCompile(`msg="server: listening" addr=(\S+)`)
	pprofRE     = regexp.MustCompile(`msg="server: profiling endpoints on" addr=(\S+)`)
	appIDRE     = regexp.MustCompile(`application id:\s+(\d+)`)
	authKeyRE   = regexp.MustCompile(`auth key:\s+(\S+)`)
)

// start runs the server with the bench's database and extra flags, and waits until it
// listens. Its stderr is appended to the work directory's server.log.
func (b *bench) start(extra ...string) (*server, error) {
	args := []string{
		"-addr", "127.0.0.1:0", "-db", b.dbArg, "-table-prefix", b.prefix,
		"-rate-limit=false", "-access-log=" + strconv.FormatBool(b.c.accessLog), "-blob-dir", "off",
		"-janitor-interval", "1h",
	}
	args = append(args, extra...)
	s := &server{done: make(chan struct{})}
	s.cmd = exec.Command(b.bin, args...)
	s.cmd.Dir = b.dir
	s.cmd.Env = append(os.Environ(), strings.Fields(b.c.serverEnv)...)
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(b.log, "----- %s: starting %s %s\n", time.Now().Format(time.RFC3339Nano), b.c.serverEnv, strings.Join(redactArgs(args), " "))
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan struct{})
	var once sync.Once
	var banner bytes.Buffer
	var bannerMu sync.Mutex
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() {
		defer pipes.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			bannerMu.Lock()
			banner.WriteString(sc.Text() + "\n")
			bannerMu.Unlock()
		}
	}()
	go func() {
		defer pipes.Done()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(b.log, line)
			s.logMu.Lock()
			s.tail = append(s.tail, line)
			if len(s.tail) > 50 {
				s.tail = s.tail[1:]
			}
			if m := pprofRE.FindStringSubmatch(line); m != nil {
				s.pprofAddr = m[1]
			}
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				s.addr = m[1]
			}
			s.logMu.Unlock()
			if s.addr != "" && (pprofRE.MatchString(line) || !hasFlag(args, "-pprof-addr")) {
				once.Do(func() { close(ready) })
			}
		}
	}()
	go func() {
		pipes.Wait()
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	select {
	case <-ready:
	case <-s.done:
		return nil, fmt.Errorf("server exited at start (%v):\n%s", s.waitErr, s.logTail())
	case <-time.After(5 * time.Minute):
		s.kill()
		return nil, fmt.Errorf("server did not start listening within 5 minutes:\n%s", s.logTail())
	}
	// The banner precedes the listening line on stdout; give the pipe a moment.
	for i := 0; i < 100; i++ {
		bannerMu.Lock()
		text := banner.String()
		bannerMu.Unlock()
		id, key := appIDRE.FindStringSubmatch(text), authKeyRE.FindStringSubmatch(text)
		if id != nil && key != nil {
			s.appID, _ = strconv.ParseInt(id[1], 10, 64)
			s.authKey = key[1]
			return s, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.kill()
	return nil, fmt.Errorf("no application id and auth key in the server's banner")
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// redactArgs hides a DSN's password in the logged command line.
func redactArgs(args []string) []string {
	out := append([]string(nil), args...)
	pw := regexp.MustCompile(`(://[^:/@]+:)[^@]+@`)
	for i := range out {
		out[i] = pw.ReplaceAllString(out[i], "${1}***@")
	}
	return out
}

func (s *server) logTail() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return strings.Join(s.tail, "\n")
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// stop shuts the server down gracefully (SIGTERM), killing it after 15 s.
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.kill()
	}
}

// statusKB returns a "VmHWM"-style field of /proc/<pid>/status in KiB.
func (s *server) statusKB(field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid()))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, s.pid())
}

// resetPeakRSS resets the process's VmHWM to its current RSS (Linux clear_refs 5).
func (s *server) resetPeakRSS() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.pid()), []byte("5"), 0)
}

// machine describes the host for the report.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				f := strings.Fields(v)
				if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					mem = fmt.Sprintf(", %.1f GiB RAM", float64(n)/(1<<20))
				}
			}
		}
	}
	return fmt.Sprintf("%d cores (%s)%s, %s, %s/%s", runtime.NumCPU(), model, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// loadAverage returns /proc/loadavg's 1, 5 and 15 minute averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// scanLog counts the lines of the server log written since offset that contain any of the
// markers of trouble, and returns up to max of them.
func scanLog(path string, offset int64, max int) (count int, lines []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0, nil, err
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "panic") || strings.HasPrefix(strings.TrimSpace(line), "goroutine ") ||
			strings.Contains(line, ".go:") || strings.Contains(line, "level=ERROR") {
			count++
			if len(lines) < max {
				lines = append(lines, line)
			}
		}
	}
	return count, lines, sc.Err()
}

func (b *bench) logSize() int64 {
	fi, err := b.log.Stat()
	if err != nil {
		return 0
	}
	return fi.Size()
}

// cpuTime returns the user plus system CPU time the process pid has used (/proc/<pid>/stat,
// in clock ticks of 10 ms).
func cpuTime(pid int) time.Duration {
	u, s := cpuTimes(pid)
	return u + s
}

// cpuTimes returns the user and the system CPU time the process pid has used.
func cpuTimes(pid int) (user, sys time.Duration) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	return parseStat(string(b))
}

// parseStat reads utime and stime (fields 14 and 15, clock ticks of 10 ms) from a
// /proc/<pid>/stat line.
func parseStat(s string) (user, sys time.Duration) {
	// The command name (field 2) may hold spaces and parentheses; the fields after it follow
	// the last ')'.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut) * 10 * time.Millisecond, time.Duration(st) * 10 * time.Millisecond
}

// commandCPU returns the CPU time used so far by the live processes whose command name
// (/proc/<pid>/comm) is name, e.g. "postgres" for the database's backends on this machine.
func commandCPU(name string) time.Duration {
	ents, _ := os.ReadDir("/proc")
	var total time.Duration
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil || strings.TrimSpace(string(comm)) != name {
			continue
		}
		u, s := cpuTimes(pid)
		total += u + s
	}
	return total
}
