// Command embed shows the identity HTTP adapter inside an existing net/http server: the
// ConnectyCube endpoints live under /auth/ next to the application's own routes, and
// httpadapter.Middleware gives the application's handlers the authenticated user.
//
//	go run ./examples/embed
//
// Point the ConnectyCube SDK at http://localhost:8080/auth, create a session, then call
// GET /api/me with the CB-Token header (or Authorization: Bearer <token>).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/httpadapter"
	"github.com/identitykit/identity/provider/guest"
	"github.com/identitykit/identity/provider/password"
	"github.com/identitykit/identity/store/gormstore"
)

// newHandler is the application's server: its own routes plus the adapter under /auth/.
func newHandler(id *identity.Identity) http.Handler {
	cfg := httpadapter.Config{}
	requireSession := httpadapter.Middleware(id, cfg)

	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", httpadapter.New(id, cfg)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello from the application; sign in at /auth/session.json")
	})
	mux.Handle("GET /api/me", requireSession(http.HandlerFunc(me)))
	return mux
}

// me answers the signed-in user's profile; an application session (no user) gets 403.
func me(w http.ResponseWriter, r *http.Request) {
	u, ok := httpadapter.UserFromContext(r.Context())
	if !ok {
		http.Error(w, "sign in as a user first", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"id": u.ID, "login": u.Login, "full_name": u.FullName})
}

func main() {
	ctx := context.Background()
	st, err := gormstore.OpenSQLite("embed.db", gormstore.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	pw, err := password.New(password.Config{})
	if err != nil {
		log.Fatal(err)
	}
	id, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw, guest.New()}})
	if err != nil {
		log.Fatal(err)
	}
	app, err := firstApplication(ctx, id, st)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("application id %d, auth key %s; SDK api_url http://localhost:8080/auth\n", app.ID, app.AuthKey)
	log.Fatal(http.ListenAndServe(":8080", newHandler(id)))
}

// firstApplication returns the database's first application, creating one if there is none.
func firstApplication(ctx context.Context, id *identity.Identity, st identity.Store) (*identity.Application, error) {
	apps, err := st.Applications(ctx)
	if err != nil {
		return nil, err
	}
	if len(apps) > 0 {
		return apps[0], nil
	}
	return id.CreateApplication(ctx, "embed example", identity.AppSettings{})
}
