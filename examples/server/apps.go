package main

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/identitykit/identity"
)

const appsUsage = `Usage: server apps list
       server apps create NAME [KEY=VALUE...]
       server apps show ID [-reveal]
       server apps set ID KEY=VALUE...
       server apps rename ID NAME
       server apps rotate-keys ID
       server apps delete ID -yes

Manages the applications of the server's database, and their settings, without starting
the server. A running server applies a change within its -recheck-interval (5 s).

  list         lists every application: id, name and auth key
  create       creates an application with fresh credentials, printed once, and the
               settings given (the others keep their defaults)
  show         shows an application and every one of its settings; the auth secret and
               the CIdP request headers only with -reveal
  set          changes settings, each KEY=VALUE by the setting's name as "show" prints it:
                 deny_auto_create=true   session_idle=30m   local_sign_up=deny
                 password_policy.MinLength=12   blob_quota.max_files=-1
                 reset_email.subject='Reset your {{.AppName}} password'
                 providers.cidp='{"endpoint":"https://idp.example/verify","response_params":{"uid":"#{id}"}}'
               A struct or providers takes a JSON object as a whole too; an empty value
               restores the default (removes a provider's configuration).
  rename       renames an application
  rotate-keys  gives an application a new auth key and secret, printed once; the old ones
               stop working (existing sessions keep working)
  delete       deletes an application with all its users and sessions (needs -yes)

Every command takes -db and -table-prefix (as the server, with its IDENTITY_DB and
IDENTITY_TABLE_PREFIX) and -json. Exit status: 0 done, 1 not found or the database failed,
2 bad usage or bad input. Run "server apps COMMAND -help" for a command's flags.
`

// appJSON is an application in the -json output of the apps commands. AuthSecret is only
// set when revealed (show -reveal) or new (create, rotate-keys).
type appJSON struct {
	ID         int64          `json:"id"`
	Name       string         `json:"name"`
	AuthKey    string         `json:"auth_key"`
	AuthSecret string         `json:"auth_secret,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	Settings   map[string]any `json:"settings,omitempty"`
}

func appCommands() []command {
	return []command{
		{name: "list", args: "", help: "Lists every application: id, name and auth key (never the secret).", min: 0, max: 0,
			setup: func(*flag.FlagSet) func(context.Context, *cliEnv, []string) error { return appsList }},
		{name: "create", args: "NAME [KEY=VALUE...]", help: "Creates an application with fresh credentials (the secret is printed once) and the settings given.", min: 1, max: -1,
			setup: func(*flag.FlagSet) func(context.Context, *cliEnv, []string) error { return appsCreate }},
		{name: "show", args: "ID", help: "Shows an application and every setting.", min: 1, max: 1,
			setup: func(fs *flag.FlagSet) func(context.Context, *cliEnv, []string) error {
				reveal := fs.Bool("reveal", false, "print the auth secret and the CIdP request headers too")
				return func(ctx context.Context, x *cliEnv, args []string) error { return appsShow(ctx, x, args, *reveal) }
			}},
		{name: "set", args: "ID KEY=VALUE...", help: "Changes settings of an application (\"server apps -help\" shows the forms).", min: 2, max: -1,
			setup: func(*flag.FlagSet) func(context.Context, *cliEnv, []string) error { return appsSet }},
		{name: "rename", args: "ID NAME", help: "Renames an application.", min: 2, max: 2,
			setup: func(*flag.FlagSet) func(context.Context, *cliEnv, []string) error { return appsRename }},
		{name: "rotate-keys", args: "ID", help: "Gives an application a new auth key and secret, printed once.", min: 1, max: 1,
			setup: func(*flag.FlagSet) func(context.Context, *cliEnv, []string) error { return appsRotate }},
		{name: "delete", args: "ID -yes", help: "Deletes an application with all its users, sessions and files.", min: 1, max: 1,
			setup: func(fs *flag.FlagSet) func(context.Context, *cliEnv, []string) error {
				yes := fs.Bool("yes", false, "confirm: the application's users and sessions are deleted with it")
				return func(ctx context.Context, x *cliEnv, args []string) error { return appsDelete(ctx, x, args, *yes) }
			}},
	}
}

func appsList(ctx context.Context, x *cliEnv, _ []string) error {
	id, err := x.open()
	if err != nil {
		return err
	}
	apps, err := id.Applications(ctx)
	if err != nil {
		return err
	}
	if x.asJSON {
		out := make([]appJSON, len(apps))
		for i, a := range apps {
			out[i] = appJSON{ID: a.ID, Name: a.Name, AuthKey: a.AuthKey, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
		}
		return printJSON(x.out, out)
	}
	tw := tabwriter.NewWriter(x.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tAUTH KEY\tCREATED")
	for _, a := range apps {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", a.ID, a.Name, a.AuthKey, a.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func appsCreate(ctx context.Context, x *cliEnv, args []string) error {
	var s identity.AppSettings
	if err := applySettingArgs(&s, args[1:]); err != nil {
		return err
	}
	id, err := x.open()
	if err != nil {
		return err
	}
	app, err := id.CreateApplication(ctx, args[0], s)
	if err != nil {
		return err
	}
	return printApp(x, app, true, false)
}

func appsShow(ctx context.Context, x *cliEnv, args []string, reveal bool) error {
	return withApp(ctx, x, args[0], func(id *identity.Identity, appID int64) error {
		app, err := id.Application(ctx, appID)
		if err != nil {
			return err
		}
		return printApp(x, app, reveal, reveal)
	})
}

func appsSet(ctx context.Context, x *cliEnv, args []string) error {
	return withApp(ctx, x, args[0], func(id *identity.Identity, appID int64) error {
		app, err := id.Application(ctx, appID)
		if err != nil {
			return err
		}
		s := app.Settings
		if err := applySettingArgs(&s, args[1:]); err != nil {
			return err
		}
		if app, err = id.UpdateApplicationSettings(ctx, appID, s); err != nil {
			return err
		}
		return printApp(x, app, false, false)
	}, args[1:]...)
}

func appsRename(ctx context.Context, x *cliEnv, args []string) error {
	return withApp(ctx, x, args[0], func(id *identity.Identity, appID int64) error {
		app, err := id.RenameApplication(ctx, appID, args[1])
		if err != nil {
			return err
		}
		return printApp(x, app, false, false)
	})
}

func appsRotate(ctx context.Context, x *cliEnv, args []string) error {
	return withApp(ctx, x, args[0], func(id *identity.Identity, appID int64) error {
		app, err := id.RotateApplicationKeys(ctx, appID)
		if err != nil {
			return err
		}
		return printApp(x, app, true, false)
	})
}

func appsDelete(ctx context.Context, x *cliEnv, args []string, yes bool) error {
	appID, err := parseID("application id", args[0])
	if err != nil {
		return err
	}
	if !yes {
		return usagef("deleting application %d deletes all its users, sessions and files: add -yes to confirm", appID)
	}
	return withApp(ctx, x, args[0], func(id *identity.Identity, appID int64) error {
		if err := id.DeleteApplication(ctx, appID); err != nil {
			return err
		}
		if x.asJSON {
			return printJSON(x.out, map[string]any{"deleted": appID})
		}
		_, err := fmt.Fprintf(x.out, "deleted application %d\n", appID)
		return err
	})
}

// withApp parses the application id idArg, checks the KEY=VALUE pairs (so that bad usage
// is told before the database is opened), opens the database and runs f, adding the
// application to the error f returns.
func withApp(ctx context.Context, x *cliEnv, idArg string, f func(id *identity.Identity, appID int64) error, pairs ...string) error {
	appID, err := parseID("application id", idArg)
	if err != nil {
		return err
	}
	if err := applySettingArgs(&identity.AppSettings{}, pairs); err != nil {
		return err
	}
	id, err := x.open()
	if err != nil {
		return err
	}
	if err := f(id, appID); err != nil {
		return fmt.Errorf("application %d: %w", appID, err)
	}
	return nil
}

// printApp prints app with every setting; its secret only when withSecret, the CIdP
// request headers only when reveal.
func printApp(x *cliEnv, app *identity.Application, withSecret, reveal bool) error {
	settings := settingsView(app.Settings, reveal)
	if x.asJSON {
		j := appJSON{ID: app.ID, Name: app.Name, AuthKey: app.AuthKey, CreatedAt: app.CreatedAt, UpdatedAt: app.UpdatedAt,
			Settings: settingsJSON(settings)}
		if withSecret {
			j.AuthSecret = app.AuthSecret
		}
		return printJSON(x.out, j)
	}
	secret := "(hidden: show -reveal prints it)"
	if withSecret {
		secret = app.AuthSecret
	}
	tw := tabwriter.NewWriter(x.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "id\t%d\nname\t%s\nauth_key\t%s\nauth_secret\t%s\ncreated_at\t%s\nupdated_at\t%s\n",
		app.ID, app.Name, app.AuthKey, secret, app.CreatedAt.Format(time.RFC3339), app.UpdatedAt.Format(time.RFC3339))
	for _, s := range settings {
		fmt.Fprintf(tw, "%s\t%s\n", s.key, s.text)
	}
	return tw.Flush()
}
