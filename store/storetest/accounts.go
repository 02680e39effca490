package storetest

import (
	"testing"

	"github.com/identitykit/identity"
)

// accountTests are the rules of Store.LinkExternalAccount.
var accountTests = []test{
	{"User/LinkExternalAccount", testLinkExternalAccount},
}

// testLinkExternalAccount: an existing user is linked to an external account, which then
// finds it; a taken account, a missing user and a user of another application are refused
// without writing anything.
func testLinkExternalAccount(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app, other := newApp(t, s), newApp(t, s)
	u := newUser(t, s, app.ID, "local", "local@example.com")
	v := newUser(t, s, app.ID, "second", "")
	link := func(appID, userID int64, subject string) error {
		return s.LinkExternalAccount(ctx, &identity.ExternalAccount{ApplicationID: appID, UserID: userID, Provider: "cidp", Subject: subject, CreatedAt: t0})
	}
	wantErr(t, "LinkExternalAccount", link(app.ID, u.ID, "uid-1"), nil)
	got, err := s.UserByExternalAccount(ctx, app.ID, "cidp", "uid-1")
	wantErr(t, "UserByExternalAccount", err, nil)
	if got.ID != u.ID || got.Login != "local" {
		t.Fatalf("linked account finds user %d %q, want %d local", got.ID, got.Login, u.ID)
	}
	wantField(t, "linking a taken account", link(app.ID, v.ID, "uid-1"), identity.ErrUserExists, "external_account", "taken")
	wantErr(t, "linking a missing user", link(app.ID, v.ID+1000, "uid-2"), identity.ErrUserNotFound)
	wantErr(t, "linking a user of another application", link(other.ID, u.ID, "uid-3"), identity.ErrUserNotFound)
	for _, subject := range []string{"uid-2", "uid-3"} {
		_, err := s.UserByExternalAccount(ctx, app.ID, "cidp", subject)
		wantErr(t, "account of a refused link", err, identity.ErrUserNotFound)
		_, err = s.UserByExternalAccount(ctx, other.ID, "cidp", subject)
		wantErr(t, "account of a refused link", err, identity.ErrUserNotFound)
	}
	// A second account of the same user is fine, and deleting the user frees both.
	wantErr(t, "LinkExternalAccount (second)", link(app.ID, u.ID, "uid-4"), nil)
	wantErr(t, "DeleteUser", s.DeleteUser(ctx, app.ID, u.ID), nil)
	wantErr(t, "linking a freed account", link(app.ID, v.ID, "uid-4"), nil)
}
