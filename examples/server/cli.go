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
	"strconv"
	"strings"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/provider/password"
	"github.com/identitykit/identity/store/gormstore"
)

// The operator commands "server apps ..." and "server users ..." (apps.go, users.go) act on
// the database the server uses, without starting it; a running server applies what they
// change within its -recheck-interval.

// command is one operator command: "apps show", "users block"...
type command struct {
	// name is the command word after its group ("show").
	name string
	// args describes the positional arguments in the usage line ("ID [-reveal]").
	args string
	// help is the command's description for its -help.
	help string
	// min and max bound the number of positional arguments; max -1 is no bound.
	min, max int
	// setup defines the command's own flags on fs and returns the function that runs it.
	setup func(fs *flag.FlagSet) func(ctx context.Context, x *cliEnv, args []string) error
}

// cliEnv is what a running command works with: the output, the output format, and the
// database, opened on first use.
type cliEnv struct {
	out    io.Writer
	asJSON bool
	open   func() (*identity.Identity, error)
}

// usageError is bad usage: a wrong argument or flag value. It exits with exitUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef returns a usageError with a formatted message.
func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// runCLI runs "server apps ..." or "server users ..." (args[0] is the group) and returns the
// exit status: 0 done, 1 not found or the database failed, 2 bad usage or bad input.
// Results go to stdout; usage and errors to stderr.
func runCLI(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	switch args[0] {
	case "apps":
		return runGroup(ctx, "apps", appsUsage, appCommands(), args[1:], getenv, stdout, stderr)
	case "users":
		return runGroup(ctx, "users", usersUsage, userCommands(), args[1:], getenv, stdout, stderr)
	}
	fmt.Fprintf(stderr, "server: unknown command %q\n", args[0])
	return exitUsage
}

// runGroup runs one command of a group: parses its flags (before or after its arguments),
// runs it, and turns its error into a message and an exit status.
func runGroup(ctx context.Context, group, usage string, cmds []command, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	var cmd *command
	for i := range cmds {
		if cmds[i].name == args[0] {
			cmd = &cmds[i]
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "server %s: unknown command %q\n\n%s", group, args[0], usage)
		return exitUsage
	}
	full := "server " + group + " " + cmd.name
	fs := flag.NewFlagSet(full, flag.ContinueOnError)
	fs.SetOutput(stderr)
	x := &cliEnv{out: stdout}
	db, prefix := addDBFlags(fs, getenv)
	fs.BoolVar(&x.asJSON, "json", false, "print the result as JSON")
	runCmd := cmd.setup(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s %s\n\n%s\nFlags (before or after the arguments):\n", full, cmd.args, cmd.help)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK
	}
	if err != nil {
		return exitUsage // the flag package printed the problem and the usage
	}
	if len(pos) < cmd.min || (cmd.max >= 0 && len(pos) > cmd.max) {
		fmt.Fprintf(stderr, "%s: wrong number of arguments\nUsage: %s %s\n", full, full, cmd.args)
		return exitUsage
	}
	if *db == "" {
		fmt.Fprintf(stderr, "%s: -db must not be empty\n", full)
		return exitUsage
	}
	var st *gormstore.Store
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	x.open = func() (*identity.Identity, error) {
		var id *identity.Identity
		st, id, err = openOperator(ctx, &config{DB: *db, TablePrefix: *prefix}, stderr)
		return id, err
	}
	err = runCmd(ctx, x, pos)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "%s: %s\n", full, describe(err))
	var ue *usageError
	if errors.As(err, &ue) || errors.Is(err, identity.ErrInvalidInput) {
		return exitUsage
	}
	return exitError
}

// addDBFlags defines -db and -table-prefix on fs, the database flags of the server, with
// the server's variables (getenv) as defaults.
func addDBFlags(fs *flag.FlagSet, getenv func(string) string) (db, prefix *string) {
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	db = fs.String("db", env("IDENTITY_DB", "identity.db"), "SQLite database file, or a postgres:// DSN, as the server's -db (env IDENTITY_DB)")
	prefix = fs.String("table-prefix", env("IDENTITY_TABLE_PREFIX", "identity_"), "prefix of the tables, as the server's -table-prefix (env IDENTITY_TABLE_PREFIX)")
	return db, prefix
}

// parseInterleaved parses args with fs, taking flags before, between and after the
// positional arguments it returns ("apps show 3 -reveal"); after "--" everything is
// positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := args[:len(args)-len(rest)]; len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// openOperator opens the database of cfg for an operator command: it must exist (a SQLite
// file is not created) and be migrated. Its log, warnings only, goes to logTo.
func openOperator(ctx context.Context, cfg *config, logTo io.Writer) (*gormstore.Store, *identity.Identity, error) {
	if !cfg.isPostgres() {
		if _, err := os.Stat(cfg.DB); err != nil {
			return nil, nil, fmt.Errorf("no database at %s (start the server once, or run \"server migrate up\"): %w", cfg.DB, err)
		}
	}
	log := slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := openStore(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	status, err := st.MigrationStatus(ctx)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("reading the schema version: %w", err)
	}
	for _, m := range status {
		if m.Pending() {
			st.Close()
			return nil, nil, fmt.Errorf("schema migrations are pending: run \"server migrate up\" first")
		}
	}
	pw, err := password.New(password.Config{})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	id, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw}, Logger: log})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, id, nil
}

// parseID reads a positive id argument named what ("application id").
func parseID(what, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, usagef("%s %q: want a positive number", what, s)
	}
	return n, nil
}

// printJSON writes v to w as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// fieldPhrases put the codes of identity.FieldError in words; %d is the limit.
var fieldPhrases = map[string]string{
	"blank":                "must not be blank",
	"invalid":              "is not valid",
	"taken":                "is taken",
	"too_short":            "is too short (at least %d)",
	"too_long":             "is too long (at most %d)",
	"too_many":             "has too many values (at most %d)",
	"out_of_range":         "is out of range (limit %d)",
	"negative":             "must not be negative",
	"reserved":             "is reserved",
	"not_allowed":          "cannot be set for this account",
	"managed":              "is managed by the identity provider",
	"unknown_field":        "is not a field users can be searched by",
	"unknown_operator":     "is not a known comparison",
	"operator_not_allowed": "does not take this comparison",
	"value_count":          "has the wrong number of values",
	"wrong_type":           "has a value of the wrong type",
	"too_many_filters":     "too many filters (at most %d)",
}

// describe puts err in plain English: the problems an *identity.Error names, field by field,
// and the not-found errors as such.
func describe(err error) string {
	var ie *identity.Error
	if errors.As(err, &ie) && len(ie.Fields) > 0 && errors.Is(err, identity.ErrInvalidInput) {
		parts := make([]string, len(ie.Fields))
		for i, f := range ie.Fields {
			phrase, ok := fieldPhrases[f.Code]
			if !ok {
				phrase = "is refused (" + strings.ReplaceAll(f.Code, "_", " ") + ")"
			}
			if strings.Contains(phrase, "%d") {
				phrase = fmt.Sprintf(phrase, f.Limit)
			}
			if f.Field != "" {
				phrase = f.Field + " " + phrase
			}
			parts[i] = phrase
		}
		// Keep the context the command added ("application 7: ").
		return strings.TrimSuffix(err.Error(), ie.Error()) + "invalid input: " + strings.Join(parts, "; ")
	}
	for _, c := range []struct {
		sentinel error
		text     string
	}{
		{identity.ErrApplicationNotFound, "no such application"},
		{identity.ErrUserNotFound, "no such user in this application"},
		{identity.ErrNotFound, "not found"},
	} {
		if errors.Is(err, c.sentinel) {
			// Keep the context the command added ("application 7: ") and drop the
			// sentinel's own text.
			msg := err.Error()
			if i := strings.LastIndex(msg, ": "+c.sentinel.Error()); i >= 0 {
				return msg[:i] + ": " + c.text
			}
			return c.text
		}
	}
	return err.Error()
}
