package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity/store/gormstore"
)

// migrateCmd runs "server migrate args" in this process with an empty environment and
// returns the exit status, standard output and standard error.
func migrateCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runMigrate(t.Context(), args, func(string) string { return "" }, &out, &errOut)
	return code, out.String(), errOut.String()
}

// statusJSON is the output of "migrate status -json".
type statusJSON struct {
	Latest     int `json:"latest"`
	Pending    int `json:"pending"`
	Migrations []struct {
		Version   int        `json:"version"`
		Name      string     `json:"name"`
		Pending   bool       `json:"pending"`
		AppliedAt *time.Time `json:"applied_at"`
	} `json:"migrations"`
}

func parseStatus(t *testing.T, out string) statusJSON {
	t.Helper()
	var s statusJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("status -json output: %v\n%s", err, out)
	}
	return s
}

// TestMigrateUsage: bad usage exits 2 with a message on stderr; help exits 0 with the usage
// on stdout.
func TestMigrateUsage(t *testing.T) {
	for _, c := range []struct {
		args        []string
		code        int
		out, errOut string
	}{
		{nil, exitUsage, "", "Usage: server migrate status"},
		{[]string{"down"}, exitUsage, "", `unknown command "down"`},
		{[]string{"status", "-nope"}, exitUsage, "", "flag provided but not defined: -nope"},
		{[]string{"up", "-json"}, exitUsage, "", "flag provided but not defined: -json"},
		{[]string{"up", "extra"}, exitUsage, "", `unexpected arguments: ["extra"]`},
		{[]string{"up", "-db", ""}, exitUsage, "", "-db must not be empty"},
		{[]string{"--help"}, exitOK, "Exit status: 0 done, 1 the database failed, 2 bad usage", ""},
		{[]string{"status", "--help"}, exitOK, "-json", ""},
		{[]string{"up", "-h"}, exitOK, "IDENTITY_TABLE_PREFIX", ""},
	} {
		code, out, errOut := migrateCmd(t, c.args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errOut, c.errOut) {
			t.Errorf("migrate %q: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				c.args, code, out, errOut, c.code, c.out, c.errOut)
		}
	}
}

// TestMigrateCommand: on an empty SQLite database status lists migration 1 as pending (exit
// 0), up applies it, a second up has nothing to do, and status then shows when it was
// applied; a database that cannot be opened exits 1, and status creates no database file.
func TestMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "identity.db")
	if code, _, errOut := migrateCmd(t, "status", "-db", db); code != exitError || !strings.Contains(errOut, "no database at") {
		t.Fatalf("status of a missing file: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("status created the database file: %v", err)
	}
	st, err := gormstore.OpenSQLite(db, gormstore.Config{}) // an empty database file
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DB().Exec("CREATE TABLE unrelated (id integer)").Error; err != nil {
		t.Fatal(err)
	}
	st.Close()
	testMigrateCommand(t, "-db", db)

	if code, _, errOut := migrateCmd(t, "up", "-db", dir); code != exitError || !strings.Contains(errOut, "server migrate up: ") {
		t.Fatalf("up on a directory: exit %d, %q", code, errOut)
	}
}

// TestMigrateCommandPostgres: as TestMigrateCommand on PostgreSQL
// (IDENTITY_TEST_POSTGRES_DSN), with a table prefix of its own.
func TestMigrateCommandPostgres(t *testing.T) {
	dsn := os.Getenv("IDENTITY_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("IDENTITY_TEST_POSTGRES_DSN not set")
	}
	prefix := fmt.Sprintf("mig%d_%d_", os.Getpid(), time.Now().UnixNano()%1e9)
	defer dropTables(t, dsn, prefix)
	testMigrateCommand(t, "-db", dsn, "-table-prefix", prefix)
}

// testMigrateCommand runs status, up, up and status on an empty database named by db.
func testMigrateCommand(t *testing.T, db ...string) {
	t.Helper()
	cmd := func(args ...string) (string, string) {
		t.Helper()
		code, out, errOut := migrateCmd(t, append(args, db...)...)
		if code != exitOK {
			t.Fatalf("migrate %q: exit %d\n%s%s", args, code, out, errOut)
		}
		return out, errOut
	}
	out, _ := cmd("status")
	if !strings.Contains(out, "1        initial schema  pending") || !strings.Contains(out, "1 pending: run \"server migrate up\"") {
		t.Fatalf("status before up:\n%s", out)
	}
	out, _ = cmd("status", "-json")
	s := parseStatus(t, out)
	if s.Latest != gormstore.LatestSchemaVersion() || s.Pending != s.Latest || len(s.Migrations) != s.Latest ||
		s.Migrations[0].Version != 1 || !s.Migrations[0].Pending || s.Migrations[0].AppliedAt != nil {
		t.Fatalf("status -json before up: %+v", s)
	}

	before := time.Now().Add(-time.Second)
	if out, _ = cmd("up"); !strings.HasPrefix(out, "applied 1 initial schema\n") {
		t.Fatalf("up:\n%s", out)
	}
	if out, _ = cmd("up"); out != fmt.Sprintf("up to date (version %d)\n", gormstore.LatestSchemaVersion()) {
		t.Fatalf("second up:\n%s", out)
	}
	out, _ = cmd("status", "-json")
	s = parseStatus(t, out)
	if s.Pending != 0 || s.Migrations[0].Pending || s.Migrations[0].AppliedAt == nil || s.Migrations[0].AppliedAt.Before(before) {
		t.Fatalf("status -json after up: %+v", s)
	}
	out, _ = cmd("status")
	if !strings.Contains(out, "1        initial schema  "+s.Migrations[0].AppliedAt.UTC().Format(time.RFC3339)) || !strings.HasSuffix(out, "up to date\n") {
		t.Fatalf("status after up:\n%s", out)
	}
}

// TestNoMigrate: with -no-migrate the server refuses to start while migrations are pending,
// naming them, and starts (ready) once "migrate up" applied them; without it, the server
// applies them at start.
func TestNoMigrate(t *testing.T) {
	db := filepath.Join(t.TempDir(), "identity.db")
	cfg, err := parseConfig([]string{"-addr", "127.0.0.1:0", "-db", db, "-no-migrate"}, func(string) string { return "" }, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.NoMigrate {
		t.Fatal("-no-migrate not parsed")
	}
	err = run(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), &bytes.Buffer{}, func(string) { t.Error("the server started") })
	if err == nil || !strings.Contains(err.Error(), `migrations pending: 1 (initial schema); run "server migrate up"`) {
		t.Fatalf("run with -no-migrate on an empty database: %v", err)
	}
	if code, out, errOut := migrateCmd(t, "up", "-db", db); code != exitOK {
		t.Fatalf("migrate up: %d %s %s", code, out, errOut)
	}
	addr, _, stop := start(t, db, "-no-migrate", "-blob-dir", t.TempDir())
	wantProbes(t, addr, 200)
	stop()

	// Without the flag, a new database is migrated at start.
	db2 := filepath.Join(t.TempDir(), "identity.db")
	addr, _, stop = start(t, db2, "-blob-dir", t.TempDir())
	defer stop()
	wantProbes(t, addr, 200)
}

// TestMigrateBinary: the built command dispatches "migrate" and exits with its status.
func TestMigrateBinary(t *testing.T) {
	bin := buildServer(t)
	db := filepath.Join(t.TempDir(), "identity.db")
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"migrate"}, exitUsage, ""},
		{[]string{"migrate", "status", "-db", db}, exitError, ""},
		{[]string{"migrate", "up", "-db", db}, exitOK, "applied 1 initial schema"},
		{[]string{"migrate", "status", "-db", db, "-json"}, exitOK, `"pending": 0`},
	} {
		code, out := runBinary(t, bin, c.args...)
		if code != c.code || !strings.Contains(string(out), c.out) {
			t.Errorf("server %q: exit %d, stdout %q; want %d with %q", c.args, code, out, c.code, c.out)
		}
	}
}
