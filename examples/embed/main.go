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
	"fmt"
	"log"
	"net/http"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/examples/embed/internal/embedapp"
	"github.com/identitykit/identity/httpadapter"
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
	// embedapp.Me reads the user that requireSession put in the request's context
	// (httpadapter.UserFromContext).
	mux.Handle("GET /api/me", requireSession(http.HandlerFunc(embedapp.Me)))
	return mux
}

func main() {
	id, app, closeDB, err := embedapp.Open(context.Background(), "embed.db", "embed example")
	if err != nil {
		log.Fatal(err)
	}
	defer closeDB()
	fmt.Printf("application id %d, auth key %s; SDK api_url http://localhost:8080/auth\n", app.ID, app.AuthKey)
	log.Fatal(http.ListenAndServe(":8080", newHandler(id)))
}
