package identity_test

import (
	"context"
	"errors"
	"testing"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/query"
)

// searchEnv returns an Identity over a store that searches (gormstore), with the
// application settings given, an application session and two users.
func searchEnv(t *testing.T, settings identity.AppSettings) (*identity.Identity, *identity.Session) {
	t.Helper()
	ctx := context.Background()
	id, app := searchIdentity(t, settings)
	for _, login := range []string{"marvin18", "hunter_s"} {
		if _, err := id.SignUp(ctx, app.ID, identity.UserInput{Login: ptr(login), Password: ptr("supersecurepwd"), Tags: ptr([]string{"vip"})}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := id.CreateSession(ctx, identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey})
	if err != nil {
		t.Fatal(err)
	}
	return id, s
}

// searchIdentity returns an Identity over a store that searches (gormstore) and an
// application with the settings given.
func searchIdentity(t *testing.T, settings identity.AppSettings) (*identity.Identity, *identity.Application) {
	t.Helper()
	pw := cheapPasswords(t)
	id, err := identity.New(identity.Config{Store: openStore(t, false), Hasher: pw, Providers: []identity.Provider{pw}, Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	app, err := id.CreateApplication(context.Background(), "search", settings)
	if err != nil {
		t.Fatal(err)
	}
	return id, app
}

func TestSearchUsersSettings(t *testing.T) {
	ctx := context.Background()
	byLogin := identity.UserQuery{Filters: []query.Filter{{Field: query.Login, Op: query.Eq, Values: []any{"MARVIN18"}}}}
	tests := []struct {
		name                    string
		settings                identity.AppSettings
		wantV2, wantV1, wantOne error
	}{
		{"defaults", identity.AppSettings{}, nil, nil, nil},
		{"lists of users disallowed", identity.AppSettings{DisableUserList: true}, identity.ErrDisabled, identity.ErrDisabled, nil},
		// The V1 API is the HTTP adapter's to turn off; the core does not read the switch.
		{"V1 disabled", identity.AppSettings{DisableUsersV1: true}, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, s := searchEnv(t, tt.settings)
			page, err := id.SearchUsers(ctx, s, byLogin)
			if !errors.Is(err, tt.wantV2) || (err == nil) != (tt.wantV2 == nil) {
				t.Fatalf("SearchUsers: %v, want %v", err, tt.wantV2)
			}
			if err == nil && (len(page.Users) != 1 || page.Users[0].Login != "marvin18" || page.Total != 1 || page.Limit != query.MaxLimit) {
				t.Errorf("SearchUsers page %+v", page)
			}
			page, err = id.SearchUsers(ctx, s, identity.UserQuery{Limit: 10})
			if !errors.Is(err, tt.wantV1) || (err == nil) != (tt.wantV1 == nil) {
				t.Fatalf("SearchUsers without filters: %v, want %v", err, tt.wantV1)
			}
			if err == nil && (len(page.Users) != 2 || page.Total != 2 || page.Limit != 10) {
				t.Errorf("SearchUsers without filters: page %+v", page)
			}
			u, err := id.LookupUser(ctx, s, query.Login, "hunter_s")
			if !errors.Is(err, tt.wantOne) || (err == nil) != (tt.wantOne == nil) {
				t.Fatalf("LookupUser: %v, want %v", err, tt.wantOne)
			}
			if err == nil && u.Login != "hunter_s" {
				t.Errorf("LookupUser = %s", u.Login)
			}
		})
	}
}

func TestSearchUsersErrors(t *testing.T) {
	ctx := context.Background()
	id, s := searchEnv(t, identity.AppSettings{})
	valid := identity.UserQuery{Filters: []query.Filter{{Field: query.Tags, Op: query.Eq, Values: []any{"vip"}}}}
	if _, err := id.SearchUsers(ctx, nil, valid); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Errorf("no session: %v", err)
	}
	if _, err := id.SearchUsers(ctx, s, identity.UserQuery{Limit: 101}); !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("limit 101: %v", err)
	}
	if _, err := id.LookupUser(ctx, s, query.Login, "nobody"); !errors.Is(err, identity.ErrUserNotFound) {
		t.Errorf("unknown login: %v", err)
	}
	if _, err := id.LookupUser(ctx, s, "custom_data", "x"); !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("unknown field: %v", err)
	}
	page, err := id.SearchUsers(ctx, s, identity.UserQuery{Filters: valid.Filters, Limit: 1, Offset: 1})
	if err != nil || len(page.Users) != 1 || page.Users[0].Login != "hunter_s" || page.Total != 2 || page.Offset != 1 {
		t.Errorf("page 2: %+v, %v", page, err)
	}

	// A store that cannot search (the counting wrapper of the other tests hides gormstore's
	// SearchUsers) turns searching off with a message saying so.
	e := newEnv(t, identity.AppSettings{})
	as, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.id.SearchUsers(ctx, as, valid)
	var ie *identity.Error
	if !errors.Is(err, identity.ErrDisabled) || !errors.As(err, &ie) || ie.Code("") != "search_unsupported" {
		t.Errorf("store without search: %v", err)
	}
}
