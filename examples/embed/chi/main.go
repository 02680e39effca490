// Command chi shows the identity HTTP adapter mounted in a chi router: the ConnectyCube
// endpoints under /auth, and the application's /api routes behind httpadapter.Middleware.
//
//	go run ./examples/embed/chi
//
// chi's Mount keeps the full request path, so the adapter is wrapped in http.StripPrefix.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/httpadapter"
	"github.com/identitykit/identity/provider/guest"
	"github.com/identitykit/identity/provider/password"
	"github.com/identitykit/identity/store/gormstore"
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
		r.Get("/me", func(w http.ResponseWriter, r *http.Request) {
			u, ok := httpadapter.UserFromContext(r.Context())
			if !ok {
				http.Error(w, "sign in as a user first", http.StatusForbidden)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"id": u.ID, "login": u.Login, "full_name": u.FullName})
		})
	})
	return r
}

func main() {
	ctx := context.Background()
	st, err := gormstore.OpenSQLite("embed-chi.db", gormstore.Config{})
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
	apps, err := st.Applications(ctx)
	if err != nil {
		log.Fatal(err)
	}
	var app *identity.Application
	if len(apps) > 0 {
		app = apps[0]
	} else if app, err = id.CreateApplication(ctx, "chi example", identity.AppSettings{}); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("application id %d, auth key %s; SDK api_url http://localhost:8080/auth\n", app.ID, app.AuthKey)
	log.Fatal(http.ListenAndServe(":8080", newRouter(id)))
}
