package identity_test

import (
	"context"
	"errors"
	"testing"

	"github.com/identitykit/identity"
)

// claimsProvider returns fixed claims: a provider with a bug when they do not name exactly
// one way of finding the user.
type claimsProvider struct{ c identity.Claims }

func (claimsProvider) Name() string { return "fixed" }

func (p claimsProvider) Authenticate(context.Context, *identity.AuthRequest) (*identity.Claims, error) {
	c := p.c
	return &c, nil
}

// Claims that do not set exactly one of UserID, Subject, NewUser and Guest are a provider
// bug: they are refused with an internal error (not a client error, not the first field
// set), and nothing is created.
func TestClaimsExactlyOneIdentity(t *testing.T) {
	newUser := identity.Claims{NewUser: true, Profile: identity.UserInput{Login: ptr("newbie")}, PasswordHash: "x"}
	cases := []struct {
		name string
		c    identity.Claims
	}{
		{"none", identity.Claims{}},
		{"UserID and Subject", identity.Claims{UserID: 1, Subject: "s"}},
		{"UserID and NewUser", identity.Claims{UserID: 1, NewUser: true}},
		{"UserID and Guest", identity.Claims{UserID: 1, Guest: true}},
		{"Subject and NewUser", identity.Claims{Subject: "s", NewUser: true, Profile: newUser.Profile}},
		{"Subject and Guest", identity.Claims{Subject: "s", Guest: true}},
		{"NewUser and Guest", identity.Claims{NewUser: true, Guest: true, Profile: newUser.Profile}},
		{"all four", identity.Claims{UserID: 1, Subject: "s", NewUser: true, Guest: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, identity.AppSettings{}, func(c *identity.Config) {
				c.Providers = append(c.Providers, claimsProvider{tc.c})
			})
			ctx := context.Background()
			// user 1 exists, so that UserID: 1 alone would sign in
			if _, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: ptr("first"), Password: ptr("password1")}); err != nil {
				t.Fatal(err)
			}
			_, err := e.id.CreateSession(ctx, identity.SessionRequest{
				ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
				Credentials: &identity.Credentials{Provider: "fixed"},
			})
			if err == nil {
				t.Fatal("session created from ambiguous claims")
			}
			var ie *identity.Error
			if errors.As(err, &ie) || errors.Is(err, identity.ErrInvalidCredentials) || errors.Is(err, identity.ErrInvalidInput) ||
				errors.Is(err, identity.ErrUserExists) {
				t.Fatalf("err = %v, want an internal error (a provider bug, not the client's)", err)
			}
			if _, err := e.store.UserByLogin(ctx, e.app.ID, "newbie"); !errors.Is(err, identity.ErrUserNotFound) {
				t.Fatalf("a user was created: %v", err)
			}
		})
	}
	// each alone is accepted
	e := newEnv(t, identity.AppSettings{}, func(c *identity.Config) {
		c.Providers = append(c.Providers, claimsProvider{newUser})
	})
	if _, err := e.id.CreateSession(context.Background(), identity.SessionRequest{
		ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
		Credentials: &identity.Credentials{Provider: "fixed"},
	}); err != nil {
		t.Fatal(err)
	}
}
