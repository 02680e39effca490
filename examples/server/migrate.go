package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/identitykit/identity/store/gormstore"
)

// Exit codes of the migrate subcommand (and of the server).
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

const migrateUsage = `Usage: server migrate status [flags]
       server migrate up [flags]

Lists (status) or applies (up) the numbered schema migrations of the database, without
starting the server. The server applies pending migrations itself when it starts, unless
run with -no-migrate; run "server migrate up" before starting instances with -no-migrate.

  status  lists every migration: number, name, and when it was applied or "pending".
          Exits 0 whether or not migrations are pending (see its -json output's "pending").
  up      applies the pending migrations and lists those applied. Several instances may run
          it at once: one applies, the others wait for it and find nothing left to do.

Exit status: 0 done, 1 the database failed, 2 bad usage. Run "server migrate status -help"
or "server migrate up -help" for the flags.
`

// runMigrate runs "server migrate <args>" and returns the exit status. Results go to
// stdout; usage, errors and the store's log to stderr.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, migrateUsage)
		return exitUsage
	}
	cmd := args[0]
	switch cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, migrateUsage)
		return exitOK
	case "status", "up":
	default:
		fmt.Fprintf(stderr, "server migrate: unknown command %q\n\n%s", cmd, migrateUsage)
		return exitUsage
	}
	fs := flag.NewFlagSet("server migrate "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbFlag, prefixFlag := addDBFlags(fs, getenv)
	var asJSON bool
	if cmd == "status" {
		fs.BoolVar(&asJSON, "json", false, "print the status as JSON")
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: server migrate %s [flags]\n\n", cmd)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "server migrate %s: unexpected arguments: %q\n", cmd, fs.Args())
		return exitUsage
	}
	db, prefix := *dbFlag, *prefixFlag
	if db == "" {
		fmt.Fprintf(stderr, "server migrate %s: -db must not be empty\n", cmd)
		return exitUsage
	}
	cfg := &config{DB: db, TablePrefix: prefix}
	if cmd == "status" && !cfg.isPostgres() {
		// Opening a SQLite file creates it: status must not.
		if _, err := os.Stat(db); err != nil {
			fmt.Fprintf(stderr, "server migrate status: no database at %s: %v\n", db, err)
			return exitError
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	st, err := openStore(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "server migrate %s: %v\n", cmd, err)
		return exitError
	}
	defer st.Close()
	if cmd == "status" {
		err = migrateStatus(ctx, st, stdout, asJSON)
	} else {
		err = migrateUp(ctx, st, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "server migrate %s: %v\n", cmd, err)
		return exitError
	}
	return exitOK
}

// migrationJSON is one migration in the output of "migrate status -json".
type migrationJSON struct {
	Version   int        `json:"version"`
	Name      string     `json:"name"`
	Pending   bool       `json:"pending"`
	AppliedAt *time.Time `json:"applied_at"` // null while pending
}

// migrateStatus prints the migrations of st: a table, or JSON.
func migrateStatus(ctx context.Context, st *gormstore.Store, out io.Writer, asJSON bool) error {
	status, err := st.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	pending := 0
	for _, m := range status {
		if m.Pending() {
			pending++
		}
	}
	if asJSON {
		doc := struct {
			Latest     int             `json:"latest"`
			Pending    int             `json:"pending"`
			Migrations []migrationJSON `json:"migrations"`
		}{Latest: gormstore.LatestSchemaVersion(), Pending: pending, Migrations: []migrationJSON{}}
		for _, m := range status {
			j := migrationJSON{Version: m.Version, Name: m.Name, Pending: m.Pending()}
			if !m.Pending() {
				at := m.AppliedAt
				j.AppliedAt = &at
			}
			doc.Migrations = append(doc.Migrations, j)
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED AT")
	for _, m := range status {
		applied := "pending"
		if !m.Pending() {
			applied = m.AppliedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", m.Version, m.Name, applied)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if pending > 0 {
		_, err = fmt.Fprintf(out, "%d pending: run \"server migrate up\"\n", pending)
	} else {
		_, err = fmt.Fprintln(out, "up to date")
	}
	return err
}

// migrateUp applies the pending migrations of st and prints them.
func migrateUp(ctx context.Context, st *gormstore.Store, out io.Writer) error {
	ran, err := st.MigrateUp(ctx)
	for _, m := range ran {
		fmt.Fprintf(out, "applied %d %s\n", m.Version, m.Name)
	}
	if err != nil {
		return err
	}
	if len(ran) == 0 {
		fmt.Fprintf(out, "up to date (version %d)\n", gormstore.LatestSchemaVersion())
	}
	return nil
}

// prepareSchema brings the schema up to date at the server's start, or, with -no-migrate,
// checks that it is.
func prepareSchema(ctx context.Context, cfg *config, st *gormstore.Store, log *slog.Logger) error {
	if cfg.NoMigrate {
		status, err := st.MigrationStatus(ctx)
		if err != nil {
			return fmt.Errorf("server: reading the schema version: %w", err)
		}
		var pending []string
		for _, m := range status {
			if m.Pending() {
				pending = append(pending, fmt.Sprintf("%d (%s)", m.Version, m.Name))
			}
		}
		if len(pending) > 0 {
			return fmt.Errorf("server: -no-migrate: migrations pending: %s; run \"server migrate up\"", strings.Join(pending, ", "))
		}
		return nil
	}
	ran, err := st.MigrateUp(ctx)
	for _, m := range ran {
		log.Info("server: schema migration applied", "version", m.Version, "name", m.Name)
	}
	if err != nil {
		return fmt.Errorf("server: migrating the schema: %w", err)
	}
	return nil
}
