package storetest

import (
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
	"github.com/identitykit/identity/passwordreset"
)

// operatorTests are the rules of the Store methods behind identity.Operator and the
// application management of identity.Identity.
var operatorTests = []test{
	{"User/SetBlocked", testSetUserBlocked},
	{"Application/SetKeys", testSetApplicationKeys},
	{"Application/DeleteCascades", testDeleteApplication},
}

// testSetUserBlocked: blocking sets Blocked and UpdatedAt and deletes the user's sessions;
// UpdateUser never changes Blocked; CreateUser stores it; a missing user or one of another
// application is ErrUserNotFound and changes nothing.
func testSetUserBlocked(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app, other := newApp(t, s), newApp(t, s)
	u := newUser(t, s, app.ID, "blockme", "")
	v := newUser(t, s, app.ID, "bystander", "")
	newSession(t, s, app.ID, u.ID, "blocked-1", t0)
	newSession(t, s, app.ID, u.ID, "blocked-2", t0)
	kept := newSession(t, s, app.ID, v.ID, "bystander-1", t0)
	appSession := newSession(t, s, app.ID, 0, "app-1", t0)

	wantErr(t, "SetUserBlocked of a user of another application", s.SetUserBlocked(ctx, other.ID, u.ID, true, t0), identity.ErrUserNotFound)
	wantErr(t, "SetUserBlocked of a missing user", s.SetUserBlocked(ctx, app.ID, v.ID+1000, true, t0), identity.ErrUserNotFound)
	if _, err := s.SessionByTokenHash(ctx, identity.HashToken("blocked-1")); err != nil {
		t.Fatalf("a refused SetUserBlocked deleted a session: %v", err)
	}

	at := t0.Add(time.Hour)
	wantErr(t, "SetUserBlocked(true)", s.SetUserBlocked(ctx, app.ID, u.ID, true, at), nil)
	got, err := s.User(ctx, app.ID, u.ID)
	wantErr(t, "User", err, nil)
	if !got.Blocked || !got.UpdatedAt.Equal(at) {
		t.Fatalf("blocked user: Blocked %v, UpdatedAt %v; want true, %v", got.Blocked, got.UpdatedAt, at)
	}
	for _, tok := range []string{"blocked-1", "blocked-2"} {
		_, err := s.SessionByTokenHash(ctx, identity.HashToken(tok))
		wantErr(t, "session of a blocked user", err, identity.ErrSessionNotFound)
	}
	for _, keep := range []*identity.Session{kept, appSession} {
		if _, err := s.SessionByTokenHash(ctx, keep.TokenHash); err != nil {
			t.Fatalf("blocking deleted session %d of another user: %v", keep.ID, err)
		}
	}
	if got, _ := s.User(ctx, app.ID, v.ID); got.Blocked {
		t.Fatal("blocking one user blocked another")
	}

	// An update from a read made before the block does not unblock.
	stale := *u
	stale.FullName = "Stale"
	stale.UpdatedAt = at.Add(time.Minute)
	wantErr(t, "UpdateUser", s.UpdateUser(ctx, &stale), nil)
	if got, _ := s.User(ctx, app.ID, u.ID); !got.Blocked || got.FullName != "Stale" {
		t.Fatalf("after UpdateUser: Blocked %v, FullName %q; want true, Stale", got.Blocked, got.FullName)
	}
	// Nor does an update block.
	fresh, _ := s.User(ctx, app.ID, v.ID)
	fresh.Blocked = true
	wantErr(t, "UpdateUser", s.UpdateUser(ctx, fresh), nil)
	if got, _ := s.User(ctx, app.ID, v.ID); got.Blocked {
		t.Fatal("UpdateUser blocked a user")
	}

	wantErr(t, "SetUserBlocked(true) again", s.SetUserBlocked(ctx, app.ID, u.ID, true, at), nil)
	wantErr(t, "SetUserBlocked(false)", s.SetUserBlocked(ctx, app.ID, u.ID, false, at.Add(time.Hour)), nil)
	if got, _ := s.User(ctx, app.ID, u.ID); got.Blocked || !got.UpdatedAt.Equal(at.Add(time.Hour)) {
		t.Fatalf("unblocked user: Blocked %v, UpdatedAt %v", got.Blocked, got.UpdatedAt)
	}

	w := mkUser(app.ID, "createdblocked", "")
	w.Blocked = true
	wantErr(t, "CreateUser(Blocked)", s.CreateUser(ctx, w, nil), nil)
	if got, _ := s.User(ctx, app.ID, w.ID); !got.Blocked {
		t.Fatal("CreateUser did not store Blocked")
	}
}

// testSetApplicationKeys: the keys are replaced (the old key finds nothing any more), a key
// of another application is refused naming "auth_key" without writing anything, and a
// missing application is ErrApplicationNotFound.
func testSetApplicationKeys(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app, other := newApp(t, s), newApp(t, s)
	newKey := "rotated-" + uid()
	at := t0.Add(time.Hour)
	wantErr(t, "SetApplicationKeys", s.SetApplicationKeys(ctx, app.ID, newKey, "new-secret", at), nil)
	got, err := s.Application(ctx, app.ID)
	wantErr(t, "Application", err, nil)
	if got.AuthKey != newKey || got.AuthSecret != "new-secret" || !got.UpdatedAt.Equal(at) || got.Name != app.Name {
		t.Fatalf("after SetApplicationKeys: %s", dump(got))
	}
	_, err = s.ApplicationByAuthKey(ctx, app.AuthKey)
	wantErr(t, "ApplicationByAuthKey(old key)", err, identity.ErrApplicationNotFound)
	if got, err := s.ApplicationByAuthKey(ctx, newKey); err != nil || got.ID != app.ID {
		t.Fatalf("ApplicationByAuthKey(new key) = %v, %v", got, err)
	}

	wantField(t, "SetApplicationKeys with a taken key", s.SetApplicationKeys(ctx, other.ID, newKey, "x", at), identity.ErrInvalidInput, "auth_key", "")
	if got, _ := s.Application(ctx, other.ID); got.AuthKey != other.AuthKey || got.AuthSecret != other.AuthSecret {
		t.Fatalf("a refused SetApplicationKeys changed the keys: %s", dump(got))
	}
	wantErr(t, "SetApplicationKeys of a missing application", s.SetApplicationKeys(ctx, other.ID+1000, "k-"+uid(), "x", at), identity.ErrApplicationNotFound)
}

// testDeleteApplication: deleting an application deletes its users (their logins become
// free), external accounts, sessions (user and application ones), nonces and reset tokens,
// and marks its blobs Deleting; another application keeps all of its own. A missing
// application is ErrApplicationNotFound.
func testDeleteApplication(t *testing.T, s identity.Store) {
	ctx := t.Context()
	rs, _ := s.(passwordreset.TokenStore)
	bs, _ := s.(blob.Store)
	type records struct {
		app    *identity.Application
		user   *identity.User
		tokens []string
		blob   *blob.Blob
	}
	fill := func(name string) records {
		r := records{app: newApp(t, s)}
		r.user = mkUser(r.app.ID, "owner", "owner@example.com")
		r.user.Tags = []string{"tag"}
		acct := &identity.ExternalAccount{Provider: "cidp", Subject: "sub", CreatedAt: t0}
		wantErr(t, "CreateUser", s.CreateUser(ctx, r.user, acct), nil)
		r.tokens = []string{name + "-user", name + "-app"}
		newSession(t, s, r.app.ID, r.user.ID, r.tokens[0], t0)
		newSession(t, s, r.app.ID, 0, r.tokens[1], t0)
		wantErr(t, "UseNonce", s.UseNonce(ctx, r.app.ID, 1, "nonce", t0.Add(time.Hour)), nil)
		if rs != nil {
			putResetToken(t, rs, mkResetToken(r.app.ID, r.user.ID, name+"-reset", t0))
		}
		if bs != nil {
			r.blob = newBlob(t, bs, r.app.ID, r.user.ID, t0)
		}
		return r
	}
	gone, kept := fill("gone"), fill("kept")

	wantErr(t, "DeleteApplication", s.DeleteApplication(ctx, gone.app.ID), nil)
	_, err := s.Application(ctx, gone.app.ID)
	wantErr(t, "Application after delete", err, identity.ErrApplicationNotFound)
	_, err = s.ApplicationByAuthKey(ctx, gone.app.AuthKey)
	wantErr(t, "ApplicationByAuthKey after delete", err, identity.ErrApplicationNotFound)
	_, err = s.User(ctx, gone.app.ID, gone.user.ID)
	wantErr(t, "User after delete", err, identity.ErrUserNotFound)
	_, err = s.UserByExternalAccount(ctx, gone.app.ID, "cidp", "sub")
	wantErr(t, "UserByExternalAccount after delete", err, identity.ErrUserNotFound)
	for _, tok := range gone.tokens {
		_, err := s.SessionByTokenHash(ctx, identity.HashToken(tok))
		wantErr(t, "session after delete", err, identity.ErrSessionNotFound)
	}
	wantErr(t, "nonce of a deleted application", s.UseNonce(ctx, gone.app.ID, 1, "nonce", t0.Add(time.Hour)), nil)
	if rs != nil {
		_, err := rs.ResetTokenByHash(ctx, identity.HashToken("gone-reset"))
		wantErr(t, "reset token after delete", err, identity.ErrNotFound)
	}
	if bs != nil {
		b, err := bs.Blob(ctx, gone.app.ID, gone.blob.ID)
		wantErr(t, "Blob after delete", err, nil)
		if b.State != blob.Deleting {
			t.Fatalf("blob of a deleted application in state %v, want Deleting", b.State)
		}
	}

	// The other application keeps everything.
	if u, err := s.User(ctx, kept.app.ID, kept.user.ID); err != nil || len(u.Tags) != 1 {
		t.Fatalf("user of the other application: %v, %v", u, err)
	}
	if _, err := s.UserByExternalAccount(ctx, kept.app.ID, "cidp", "sub"); err != nil {
		t.Fatalf("account of the other application: %v", err)
	}
	for _, tok := range kept.tokens {
		if _, err := s.SessionByTokenHash(ctx, identity.HashToken(tok)); err != nil {
			t.Fatalf("session of the other application: %v", err)
		}
	}
	wantErr(t, "nonce of the other application", s.UseNonce(ctx, kept.app.ID, 1, "nonce", t0.Add(time.Hour)), identity.ErrInvalidSignature)
	if rs != nil {
		if _, err := rs.ResetTokenByHash(ctx, identity.HashToken("kept-reset")); err != nil {
			t.Fatalf("reset token of the other application: %v", err)
		}
	}
	if bs != nil {
		if b, err := bs.Blob(ctx, kept.app.ID, kept.blob.ID); err != nil || b.State == blob.Deleting {
			t.Fatalf("blob of the other application: %v, %v", b, err)
		}
	}

	wantErr(t, "DeleteApplication again", s.DeleteApplication(ctx, gone.app.ID), identity.ErrApplicationNotFound)
}
