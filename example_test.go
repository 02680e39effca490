package identity_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/provider/guest"
	"github.com/identitykit/identity/provider/password"
	"github.com/identitykit/identity/store/gormstore"
)

// Each example builds everything it uses, as a program would: a store (here a private
// in-memory SQLite database), its tables (Migrate), the password provider, the Identity and
// one application.

// An application session proves only the application: it has no user.
func Example_applicationSession() {
	ctx := context.Background()
	st, err := gormstore.OpenSQLite(":memory:", gormstore.Config{}) // a file path in a real program
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
	gp, err := guest.New(guest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	id, err := identity.New(identity.Config{
		Store:     st,
		Hasher:    pw,
		Providers: []identity.Provider{pw, gp},
	})
	if err != nil {
		log.Fatal(err)
	}
	app, err := id.CreateApplication(ctx, "example", identity.AppSettings{})
	if err != nil {
		log.Fatal(err)
	}

	s, err := id.CreateSession(ctx, identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("token length:", len(s.Token))
	fmt.Println("user id:", s.UserID)
	fmt.Println("expires in:", s.ExpiresAt.Sub(s.CreatedAt))
	// Output:
	// token length: 64
	// user id: 0
	// expires in: 2h0m0s
}

// A session request with an unknown login and a password creates the user on the fly (the
// default "Allow" of ConnectyCube's "Session creation without an existing user entity");
// the same credentials later log that user in.
func Example_loginWithAutoCreate() {
	ctx := context.Background()
	st, err := gormstore.OpenSQLite(":memory:", gormstore.Config{}) // a file path in a real program
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
	gp, err := guest.New(guest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	id, err := identity.New(identity.Config{
		Store:     st,
		Hasher:    pw,
		Providers: []identity.Provider{pw, gp},
	})
	if err != nil {
		log.Fatal(err)
	}
	app, err := id.CreateApplication(ctx, "example", identity.AppSettings{})
	if err != nil {
		log.Fatal(err)
	}
	creds := &identity.Credentials{Login: "cubeuser", Password: "awesomepwd"}

	first, err := id.CreateSession(ctx, identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey, Credentials: creds})
	if err != nil {
		log.Fatal(err)
	}
	second, err := id.CreateSession(ctx, identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey, Credentials: creds})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("login:", first.User.Login)
	fmt.Println("same user:", first.UserID == second.UserID)
	fmt.Println("different tokens:", first.Token != second.Token)

	_, err = id.CreateSession(ctx, identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey,
		Credentials: &identity.Credentials{Login: "cubeuser", Password: "wrong-password"}})
	fmt.Println("wrong password:", errors.Is(err, identity.ErrInvalidCredentials))
	// Output:
	// login: cubeuser
	// same user: true
	// different tokens: true
	// wrong password: true
}

// A guest session creates a temporary guest user that lives for a day.
func Example_guestSession() {
	ctx := context.Background()
	st, err := gormstore.OpenSQLite(":memory:", gormstore.Config{}) // a file path in a real program
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
	gp, err := guest.New(guest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	id, err := identity.New(identity.Config{
		Store:     st,
		Hasher:    pw,
		Providers: []identity.Provider{pw, gp},
	})
	if err != nil {
		log.Fatal(err)
	}
	app, err := id.CreateApplication(ctx, "example", identity.AppSettings{})
	if err != nil {
		log.Fatal(err)
	}

	s, err := id.CreateSession(ctx, identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey,
		Credentials: &identity.Credentials{Guest: true, FullName: "Awesome Smith"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("guest:", s.User.IsGuest)
	fmt.Println("full name:", s.User.FullName)
	fmt.Println("login prefix:", s.User.Login[:len("guest_login_")])
	fmt.Println("lives:", s.ExpiresAt.Sub(s.CreatedAt))
	// Output:
	// guest: true
	// full name: Awesome Smith
	// login prefix: guest_login_
	// lives: 24h0m0s
}

// An application session is upgraded to a user session by Login (POST /login) and back by
// Logout (DELETE /login); the token stays the same.
func Example_upgradeAndDowngrade() {
	ctx := context.Background()
	st, err := gormstore.OpenSQLite(":memory:", gormstore.Config{}) // a file path in a real program
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
	gp, err := guest.New(guest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	id, err := identity.New(identity.Config{
		Store:     st,
		Hasher:    pw,
		Providers: []identity.Provider{pw, gp},
	})
	if err != nil {
		log.Fatal(err)
	}
	app, err := id.CreateApplication(ctx, "example", identity.AppSettings{})
	if err != nil {
		log.Fatal(err)
	}
	login, secret := "marvin18", "supersecurepwd"
	if _, err := id.SignUp(ctx, app.ID, identity.UserInput{Login: &login, Password: &secret}); err != nil {
		log.Fatal(err)
	}
	s, err := id.CreateSession(ctx, identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey})
	if err != nil {
		log.Fatal(err)
	}
	up, err := id.Login(ctx, s, identity.Credentials{Login: "marvin18", Password: "supersecurepwd"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("after login:", up.User.Login, up.Token == s.Token)
	v, _ := id.Validate(ctx, s.Token)
	fmt.Println("validated user:", v.User.Login)

	if _, err := id.Logout(ctx, v); err != nil {
		log.Fatal(err)
	}
	v, _ = id.Validate(ctx, s.Token)
	fmt.Println("after logout, user id:", v.UserID)
	// Output:
	// after login: marvin18 true
	// validated user: marvin18
	// after logout, user id: 0
}

// DestroySession ends a session at once.
func Example_destroy() {
	ctx := context.Background()
	st, err := gormstore.OpenSQLite(":memory:", gormstore.Config{}) // a file path in a real program
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
	gp, err := guest.New(guest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	id, err := identity.New(identity.Config{
		Store:     st,
		Hasher:    pw,
		Providers: []identity.Provider{pw, gp},
	})
	if err != nil {
		log.Fatal(err)
	}
	app, err := id.CreateApplication(ctx, "example", identity.AppSettings{})
	if err != nil {
		log.Fatal(err)
	}
	s, err := id.CreateSession(ctx, identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey})
	if err != nil {
		log.Fatal(err)
	}
	if err := id.DestroySession(ctx, s); err != nil {
		log.Fatal(err)
	}
	_, err = id.Validate(ctx, s.Token)
	fmt.Println(errors.Is(err, identity.ErrSessionNotFound))
	// Output:
	// true
}

// A session expires two hours after its last request; every request extends it.
func Example_idleExpiry() {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) // the clock; advanced below
	ctx := context.Background()
	st, err := gormstore.OpenSQLite(":memory:", gormstore.Config{}) // a file path in a real program
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
	gp, err := guest.New(guest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	id, err := identity.New(identity.Config{
		Store:     st,
		Hasher:    pw,
		Providers: []identity.Provider{pw, gp},
		Now:       func() time.Time { return now },
	})
	if err != nil {
		log.Fatal(err)
	}
	app, err := id.CreateApplication(ctx, "example", identity.AppSettings{})
	if err != nil {
		log.Fatal(err)
	}
	s, err := id.CreateSession(ctx, identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey})
	if err != nil {
		log.Fatal(err)
	}

	now = now.Add(110 * time.Minute)
	_, err = id.Validate(ctx, s.Token) // a request at 1h50m extends the session to 3h50m
	fmt.Println("at 1h50m:", err)
	now = now.Add(110 * time.Minute)
	_, err = id.Validate(ctx, s.Token)
	fmt.Println("at 3h40m:", err)
	now = now.Add(2*time.Hour + time.Second)
	_, err = id.Validate(ctx, s.Token)
	fmt.Println("after 2h idle:", err)
	// Output:
	// at 1h50m: <nil>
	// at 3h40m: <nil>
	// after 2h idle: identity: session not found
}
