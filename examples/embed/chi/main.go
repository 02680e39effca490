// Command chi shows the identity HTTP adapter mounted in a chi router: the ConnectyCube
// endpoints under /auth, and the application's /api routes behind httpadapter.Middleware.
//
//	go run ./examples/embed/chi
//
// chi's Mount keeps the full request path, so the adapter is wrapped in http.StripPrefix.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/examples/embed/internal/embedapp"
	"github.com/identitykit/identity/httpadapter"
)

// newRouter is the application's chi router with the adapter mounted under /auth.
func newRouter(id *identity.Identity) http.Handler {
	cfg := httpadapter.Config{}
	r := chi.NewRouter()
	r.Mount("/auth", http.StripPrefix("/auth", httpadapter.New(id, cfg)))
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello from the chi application; sign in at /auth/session.json")
	})
	r.Route("/api", func(r chi.Router) {
		r.Use(httpadapter.Middleware(id, cfg))
		// embedapp.Me reads the user the middleware put in the request's context
		// (httpadapter.UserFromContext).
		r.Get("/me", embedapp.Me)
	})
	return r
}

func main() {
	id, app, closeDB, err := embedapp.Open(context.Background(), "embed-chi.db", "chi example")
	if err != nil {
		log.Fatal(err)
	}
	defer closeDB()
	fmt.Printf("application id %d, auth key %s; SDK api_url http://localhost:8080/auth\n", app.ID, app.AuthKey)
	log.Fatal(http.ListenAndServe(":8080", newRouter(id)))
}
