package identity_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/provider/cidp"
)

// TestOperatorProviderSettings: an operator enables a Custom Identity Provider on an
// existing application, reads its mapping back, replaces it, and the next login uses the
// new mapping at once (no clock movement); the session made through the old mapping keeps
// its user.
func TestOperatorProviderSettings(t *testing.T) {
	onStores(t, func(t *testing.T, st identity.Store) {
		ctx := context.Background()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("token") != "tok-1" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"user": map[string]any{"id": "u-1", "name": "Ann", "nick": "Annie"}})
		}))
		t.Cleanup(srv.Close)
		p, err := cidp.New(cidp.Config{})
		if err != nil {
			t.Fatal(err)
		}
		e, _, _ := opEnv(t, st, identity.AppSettings{}, func(c *identity.Config) { c.Providers = append(c.Providers, p) })
		enable := func(fullName string) {
			t.Helper()
			app, err := e.id.Application(ctx, e.app.ID)
			if err != nil {
				t.Fatal(err)
			}
			settings := app.Settings
			err = p.Enable(&settings, cidp.AppConfig{
				Endpoint:       srv.URL + "/verify",
				RequestParams:  map[string]string{"token": "#{login}"},
				ResponseParams: map[string]string{"uid": "#{user.id}", "full_name": fullName},
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.id.UpdateApplicationSettings(ctx, e.app.ID, settings); err != nil {
				t.Fatal(err)
			}
		}
		enable("#{user.name}")
		s, err := e.login("tok-1", "any")
		wantIs(t, "CIdP login", err, nil)
		if s.User.FullName != "Ann" {
			t.Fatalf("full name %q through the first mapping", s.User.FullName)
		}

		// The operator reads the mapping back and replaces it.
		app, err := e.id.Application(ctx, e.app.ID)
		wantIs(t, "Application", err, nil)
		var stored cidp.AppConfig
		if err := json.Unmarshal(app.Settings.Providers["cidp"], &stored); err != nil || stored.ResponseParams["full_name"] != "#{user.name}" || app.Settings.PasswordProvider != "cidp" {
			t.Fatalf("stored CIdP settings %s (%v), PasswordProvider %q", app.Settings.Providers["cidp"], err, app.Settings.PasswordProvider)
		}
		enable("#{user.nick}")
		s2, err := e.login("tok-1", "any")
		wantIs(t, "CIdP login after the change", err, nil)
		if s2.UserID != s.UserID || s2.User.FullName != "Annie" {
			t.Fatalf("after the change: user %d %q, want %d Annie", s2.UserID, s2.User.FullName, s.UserID)
		}
		// The local user made before CIdP was enabled can no longer log in locally.
		_, err = e.login("alice", "password1")
		wantIs(t, "local login routed to CIdP", err, identity.ErrInvalidCredentials)
	})
}
