package cidp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/provider/cidp"
	"github.com/identitykit/identity/provider/password"
	"github.com/identitykit/identity/store/gormstore"
)

// An application whose users live in another system: the client logs in with the token that
// system gave it, and the provider asks the system's verify endpoint who that is.
func ExampleProvider_Enable() {
	// The customer's identity service: GET /verify?token=... answers the user.
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != "token-from-my-backend" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"user": map[string]any{"id": 2345, "login": "simon371", "name": "Simon"}})
	}))
	defer idp.Close()

	ctx := context.Background()
	st, err := gormstore.OpenMemory(gormstore.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	pw, _ := password.New(password.Config{})
	p, _ := cidp.New(cidp.Config{})
	id, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw, p}})
	if err != nil {
		log.Fatal(err)
	}

	var settings identity.AppSettings
	err = p.Enable(&settings, cidp.AppConfig{
		Endpoint:       idp.URL + "/verify",
		Method:         "GET",
		RequestParams:  map[string]string{"token": "#{login}"},
		ResponseParams: map[string]string{"uid": "#{user.id}", "login": "#{user.login}", "full_name": "#{user.name}"},
	})
	if err != nil {
		log.Fatal(err)
	}
	app, err := id.CreateApplication(ctx, "my app", settings)
	if err != nil {
		log.Fatal(err)
	}

	// What POST /session with user[login]=<token> does.
	s, err := id.CreateSession(ctx, identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey,
		Credentials: &identity.Credentials{Login: "token-from-my-backend"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.User.Login, s.User.FullName, s.User.PasswordHash == "")

	// A chat gateway checks the user id and the session token.
	u, err := id.AuthenticateUserToken(ctx, s.UserID, s.Token)
	fmt.Println(u.Login, err)

	_, err = id.CreateSession(ctx, identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey,
		Credentials: &identity.Credentials{Login: "stolen-token"}})
	var e *identity.Error
	if errors.As(err, &e) {
		fmt.Println(errors.Is(err, identity.ErrRejectedByProvider), e.Fields)
	}
	// Output:
	// simon371 Simon true
	// simon371 <nil>
	// true [{ remote_refused 401}]
}
