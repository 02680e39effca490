package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/query"
)

const usersUsage = `Usage: server users find APP_ID [-login L] [-email E] [-full-name-prefix P] [-tag T] [-limit N] [-offset N]
       server users block APP_ID USER_ID
       server users unblock APP_ID USER_ID
       server users delete APP_ID USER_ID -yes
       server users sessions APP_ID USER_ID
       server users revoke-sessions APP_ID USER_ID

Finds and manages the users of an application of the server's database, without starting
the server. Blocking, deleting and revoking end the user's sessions at once on this
database; a running server stops accepting them within its -recheck-interval (5 s).

  find             lists the users matching every filter given (all users without one),
                   by id, a page at a time (-limit, at most 100, and -offset)
  block            blocks a user: its sessions end and its sign-ins are refused
  unblock          lets a blocked user sign in again
  delete           deletes a user with its sessions and files (needs -yes)
  sessions         lists a user's live sessions
  revoke-sessions  ends every session of a user

Every command takes -db and -table-prefix (as the server, with its IDENTITY_DB and
IDENTITY_TABLE_PREFIX) and -json. Exit status: 0 done, 1 not found or the database failed,
2 bad usage or bad input. Run "server users COMMAND -help" for a command's flags.
`

// userJSON is a user in the -json output of the users commands.
type userJSON struct {
	ID            int64      `json:"id"`
	Login         string     `json:"login"`
	Email         string     `json:"email"`
	FullName      string     `json:"full_name"`
	Phone         string     `json:"phone"`
	ExternalID    string     `json:"external_id"`
	Tags          []string   `json:"tags"`
	IsGuest       bool       `json:"is_guest"`
	Blocked       bool       `json:"blocked"`
	CreatedAt     time.Time  `json:"created_at"`
	LastRequestAt *time.Time `json:"last_request_at"` // null when never
}

func toUserJSON(u *identity.User) userJSON {
	j := userJSON{ID: u.ID, Login: u.Login, Email: u.Email, FullName: u.FullName, Phone: u.Phone, ExternalID: u.ExternalID,
		Tags: u.Tags, IsGuest: u.IsGuest, Blocked: u.Blocked, CreatedAt: u.CreatedAt}
	if j.Tags == nil {
		j.Tags = []string{}
	}
	if !u.LastRequestAt.IsZero() {
		t := u.LastRequestAt
		j.LastRequestAt = &t
	}
	return j
}

// userAction is a users command acting on one user: it runs with the identity's operator
// API and prints its result.
type userAction func(ctx context.Context, x *cliEnv, op *identity.Operator, appID, userID int64) error

func userCommands() []command {
	one := func(name, help string, act userAction) command {
		return command{name: name, args: "APP_ID USER_ID", help: help, min: 2, max: 2,
			setup: func(*flag.FlagSet) func(context.Context, *cliEnv, []string) error {
				return func(ctx context.Context, x *cliEnv, args []string) error { return withUser(ctx, x, args, act) }
			}}
	}
	return []command{
		{name: "find", args: "APP_ID [-login L] [-email E] [-full-name-prefix P] [-tag T] [-limit N] [-offset N]",
			help: "Lists the users of an application matching every filter given, by id.", min: 1, max: 1, setup: usersFindSetup},
		one("block", "Blocks a user: its sessions end at once and its sign-ins are refused.", usersBlock(true)),
		one("unblock", "Unblocks a user: it may sign in again (no session comes back).", usersBlock(false)),
		{name: "delete", args: "APP_ID USER_ID -yes", help: "Deletes a user with its sessions, external accounts and files.", min: 2, max: 2,
			setup: func(fs *flag.FlagSet) func(context.Context, *cliEnv, []string) error {
				yes := fs.Bool("yes", false, "confirm the deletion")
				return func(ctx context.Context, x *cliEnv, args []string) error {
					if !*yes {
						return usagef("deleting user %s of application %s cannot be undone: add -yes to confirm", args[1], args[0])
					}
					return withUser(ctx, x, args, usersDelete)
				}
			}},
		one("sessions", "Lists the live sessions of a user, newest first.", usersSessions),
		one("revoke-sessions", "Ends every session of a user.", usersRevoke),
	}
}

func usersFindSetup(fs *flag.FlagSet) func(context.Context, *cliEnv, []string) error {
	login := fs.String("login", "", "the user whose login is exactly this")
	email := fs.String("email", "", "the user whose email is exactly this")
	prefix := fs.String("full-name-prefix", "", fmt.Sprintf("users whose full name starts with this (at least %d characters)", query.MinStartWith))
	tag := fs.String("tag", "", "users with this tag")
	limit := fs.Int("limit", 20, fmt.Sprintf("users per page (1 to %d)", query.MaxLimit))
	offset := fs.Int("offset", 0, "users to skip")
	return func(ctx context.Context, x *cliEnv, args []string) error {
		appID, err := parseID("application id", args[0])
		if err != nil {
			return err
		}
		if *limit < 1 || *limit > query.MaxLimit {
			return usagef("-limit %d: want 1 to %d", *limit, query.MaxLimit)
		}
		if *offset < 0 {
			return usagef("-offset %d: must not be negative", *offset)
		}
		q := identity.UserQuery{Limit: *limit, Offset: *offset}
		for _, f := range []struct {
			field query.Field
			op    query.Op
			value string
		}{{query.Login, query.Eq, *login}, {query.Email, query.Eq, *email}, {query.FullName, query.StartWith, *prefix}, {query.Tags, query.Eq, *tag}} {
			if f.value != "" {
				q.Filters = append(q.Filters, query.Filter{Field: f.field, Op: f.op, Values: []any{f.value}})
			}
		}
		id, err := x.open()
		if err != nil {
			return err
		}
		page, err := id.Operator().SearchUsers(ctx, appID, q)
		if err != nil {
			return fmt.Errorf("application %d: %w", appID, err)
		}
		return printUsers(x, page)
	}
}

func printUsers(x *cliEnv, page *identity.UserPage) error {
	if x.asJSON {
		doc := struct {
			Total  int64      `json:"total"`
			Limit  int        `json:"limit"`
			Offset int        `json:"offset"`
			Users  []userJSON `json:"users"`
		}{page.Total, page.Limit, page.Offset, make([]userJSON, len(page.Users))}
		for i, u := range page.Users {
			doc.Users[i] = toUserJSON(u)
		}
		return printJSON(x.out, doc)
	}
	tw := tabwriter.NewWriter(x.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tLOGIN\tEMAIL\tFULL NAME\tTAGS\tSTATE\tCREATED")
	for _, u := range page.Users {
		state := "active"
		switch {
		case u.Blocked:
			state = "blocked"
		case u.IsGuest:
			state = "guest"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Login, u.Email, u.FullName, strings.Join(u.Tags, ","), state, u.CreatedAt.Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(x.out, "%d shown (from %d) of %d matching\n", len(page.Users), page.Offset, page.Total)
	return err
}

// withUser parses APP_ID and USER_ID, opens the database and runs act, adding the user to
// the error it returns.
func withUser(ctx context.Context, x *cliEnv, args []string, act userAction) error {
	appID, err := parseID("application id", args[0])
	if err != nil {
		return err
	}
	userID, err := parseID("user id", args[1])
	if err != nil {
		return err
	}
	id, err := x.open()
	if err != nil {
		return err
	}
	if err := act(ctx, x, id.Operator(), appID, userID); err != nil {
		return fmt.Errorf("application %d, user %d: %w", appID, userID, err)
	}
	return nil
}

func usersBlock(blocked bool) userAction {
	return func(ctx context.Context, x *cliEnv, op *identity.Operator, appID, userID int64) error {
		u, err := op.SetBlocked(ctx, appID, userID, blocked)
		if err != nil {
			return err
		}
		if x.asJSON {
			return printJSON(x.out, toUserJSON(u))
		}
		if blocked {
			_, err = fmt.Fprintf(x.out, "blocked user %d of application %d: its sessions ended, its sign-ins are refused\n", userID, appID)
		} else {
			_, err = fmt.Fprintf(x.out, "unblocked user %d of application %d\n", userID, appID)
		}
		return err
	}
}

func usersDelete(ctx context.Context, x *cliEnv, op *identity.Operator, appID, userID int64) error {
	if err := op.DeleteUser(ctx, appID, userID); err != nil {
		return err
	}
	if x.asJSON {
		return printJSON(x.out, map[string]int64{"deleted": userID})
	}
	_, err := fmt.Fprintf(x.out, "deleted user %d of application %d\n", userID, appID)
	return err
}

// sessionJSON is a session in the -json output of "users sessions" (never its token).
type sessionJSON struct {
	ID           int64     `json:"id"`
	CreatedAt    time.Time `json:"created_at"`
	LastActiveAt time.Time `json:"last_active_at"`
	ExpiresAt    time.Time `json:"expires_at"`
}

func usersSessions(ctx context.Context, x *cliEnv, op *identity.Operator, appID, userID int64) error {
	ss, err := op.Sessions(ctx, appID, userID)
	if err != nil {
		return err
	}
	if x.asJSON {
		out := make([]sessionJSON, len(ss))
		for i, s := range ss {
			out[i] = sessionJSON{s.ID, s.CreatedAt, s.LastActiveAt, s.ExpiresAt}
		}
		return printJSON(x.out, out)
	}
	tw := tabwriter.NewWriter(x.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tLAST ACTIVE\tEXPIRES")
	for _, s := range ss {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.ID, s.CreatedAt.Format(time.RFC3339), s.LastActiveAt.Format(time.RFC3339), s.ExpiresAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func usersRevoke(ctx context.Context, x *cliEnv, op *identity.Operator, appID, userID int64) error {
	n, err := op.RevokeSessions(ctx, appID, userID)
	if err != nil {
		return err
	}
	if x.asJSON {
		return printJSON(x.out, map[string]int{"revoked": n})
	}
	_, err = fmt.Fprintf(x.out, "revoked %d sessions of user %d of application %d\n", n, userID, appID)
	return err
}
