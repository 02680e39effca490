// Package embedapp is what the two embedding examples (examples/embed with net/http,
// examples/embed/chi with chi) share: the Identity they serve, and the application handler
// that reads the signed-in user. Each example's main.go shows only how it mounts them.
package embedapp

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/httpadapter"
	"github.com/identitykit/identity/provider/guest"
	"github.com/identitykit/identity/provider/password"
	"github.com/identitykit/identity/store/gormstore"
)

// Open opens the SQLite database at path (created if missing), creates the tables, and
// returns an Identity with the password and guest providers and the database's first
// application, created with the given name on first start. closeDB closes the database; it
// is nil when err is not.
func Open(ctx context.Context, path, name string) (id *identity.Identity, app *identity.Application, closeDB func() error, err error) {
	st, err := gormstore.OpenSQLite(path, gormstore.Config{})
	if err != nil {
		return nil, nil, nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	pw, err := password.New(password.Config{})
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	if id, app, err = New(ctx, st, pw, name); err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return id, app, st.Close, nil
}

// New returns an Identity over st (already migrated) with pw and the guest provider, and
// st's first application, created with the given name when st has none.
func New(ctx context.Context, st identity.Store, pw *password.Provider, name string) (*identity.Identity, *identity.Application, error) {
	gp, err := guest.New(guest.Config{})
	if err != nil {
		return nil, nil, err
	}
	id, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw, gp}})
	if err != nil {
		return nil, nil, err
	}
	apps, err := st.Applications(ctx)
	if err != nil {
		return nil, nil, err
	}
	if len(apps) > 0 {
		return id, apps[0], nil
	}
	app, err := id.CreateApplication(ctx, name, identity.AppSettings{})
	if err != nil {
		return nil, nil, err
	}
	return id, app, nil
}

// Me is an application route behind httpadapter.Middleware: it answers the signed-in
// user's id, login and full name as JSON; an application session (no user) gets 403.
func Me(w http.ResponseWriter, r *http.Request) {
	u, ok := httpadapter.UserFromContext(r.Context())
	if !ok {
		http.Error(w, "sign in as a user first", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"id": u.ID, "login": u.Login, "full_name": u.FullName})
}
