package identity_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/query"
)

// onStores runs f on SQLite and, when IDENTITY_TEST_POSTGRES_DSN is set, on PostgreSQL.
func onStores(t *testing.T, f func(t *testing.T, st identity.Store)) {
	t.Helper()
	for _, db := range []struct {
		name string
		pg   bool
	}{{"sqlite", false}, {"postgres", true}} {
		t.Run(db.name, func(t *testing.T) { f(t, openStore(t, db.pg)) })
	}
}

// opEnv is an env on st with an operator and a signed-up user "alice" (password "password1").
func opEnv(t *testing.T, st identity.Store, settings identity.AppSettings, mod ...func(*identity.Config)) (*env, *identity.Operator, *identity.User) {
	t.Helper()
	// The raw store, not the env's countingStore: the operator uses the optional store
	// interface (UserSearcher) that the wrapper hides.
	raw := func(c *identity.Config) { c.Store = st }
	e := newEnvWith(t, st, cheapPasswords(t), settings, append([]func(*identity.Config){raw}, mod...)...)
	u, err := e.id.SignUp(context.Background(), e.app.ID, identity.UserInput{
		Login: ptr("alice"), Email: ptr("alice@example.com"), Password: ptr("password1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e, e.id.Operator(), u
}

func (e *env) login(login, pw string) (*identity.Session, error) {
	return e.id.CreateSession(context.Background(), identity.SessionRequest{
		ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
		Credentials: &identity.Credentials{Login: login, Password: pw},
	})
}

// TestOperatorBlock: a blocked user's sessions stop working in this process at once (the
// clock has not moved), its password login fails with ErrUserBlocked (an
// ErrInvalidCredentials) only when the password is right, and unblocking lets it log in
// again without bringing the old sessions back.
func TestOperatorBlock(t *testing.T) {
	onStores(t, func(t *testing.T, st identity.Store) {
		ctx := context.Background()
		e, op, alice := opEnv(t, st, identity.AppSettings{})
		s := e.userSession(t, "alice", "password1")
		other := e.userSession(t, "alice", "password1")
		if _, err := e.id.Validate(ctx, s.Token); err != nil {
			t.Fatal(err)
		}
		u, err := op.SetBlocked(ctx, e.app.ID, alice.ID, true)
		wantIs(t, "SetBlocked", err, nil)
		if !u.Blocked {
			t.Fatal("SetBlocked(true) returned an unblocked user")
		}
		for _, tok := range []string{s.Token, other.Token} {
			_, err := e.id.Validate(ctx, tok)
			wantIs(t, "Validate after block", err, identity.ErrSessionNotFound)
		}
		_, err = e.login("alice", "password1")
		wantIs(t, "login of a blocked user", err, identity.ErrUserBlocked)
		wantIs(t, "login of a blocked user", err, identity.ErrInvalidCredentials)
		_, err = e.login("alice", "wrong-password")
		wantIs(t, "wrong password of a blocked user", err, identity.ErrInvalidCredentials)
		if errors.Is(err, identity.ErrUserBlocked) {
			t.Fatal("a wrong password reveals the block")
		}
		// An application session cannot be upgraded to the blocked user either.
		app, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey})
		wantIs(t, "app session", err, nil)
		_, err = e.id.Login(ctx, app, identity.Credentials{Login: "alice", Password: "password1"})
		wantIs(t, "Login of a blocked user", err, identity.ErrUserBlocked)
		got, err := op.User(ctx, e.app.ID, alice.ID)
		wantIs(t, "User", err, nil)
		if !got.Blocked {
			t.Fatal("stored user is not blocked")
		}
		// A profile update from a stale read does not unblock.
		_, err = op.UpdateUser(ctx, e.app.ID, alice.ID, identity.UserInput{FullName: ptr("Alice")})
		wantIs(t, "UpdateUser", err, nil)
		if got, _ := op.User(ctx, e.app.ID, alice.ID); !got.Blocked {
			t.Fatal("a profile update unblocked the user")
		}

		u, err = op.SetBlocked(ctx, e.app.ID, alice.ID, false)
		wantIs(t, "unblock", err, nil)
		if u.Blocked {
			t.Fatal("SetBlocked(false) returned a blocked user")
		}
		_, err = e.id.Validate(ctx, s.Token)
		wantIs(t, "old session after unblock", err, identity.ErrSessionNotFound)
		_, err = e.login("alice", "password1")
		wantIs(t, "login after unblock", err, nil)

		_, err = op.SetBlocked(ctx, e.app.ID, alice.ID+100, true)
		wantIs(t, "SetBlocked of a missing user", err, identity.ErrUserNotFound)
	})
}

// TestBlockedSessionFromStore: a session of a blocked user read from the Store (another
// process's login that raced the block, or a cache that expired) is refused.
func TestBlockedSessionFromStore(t *testing.T) {
	onStores(t, func(t *testing.T, st identity.Store) {
		ctx := context.Background()
		e, _, alice := opEnv(t, st, identity.AppSettings{})
		b, err := identity.New(identity.Config{Store: st, Hasher: e.pw, Providers: []identity.Provider{e.pw}, Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		s := e.userSession(t, "alice", "password1")
		if _, err := b.Validate(ctx, s.Token); err != nil {
			t.Fatal(err)
		}
		// Process A blocks; B trusts its cache for RecheckInterval, then refuses.
		if _, err := e.id.Operator().SetBlocked(ctx, e.app.ID, alice.ID, true); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(5 * time.Second)
		_, err = b.Validate(ctx, s.Token)
		wantIs(t, "B after the block", err, identity.ErrSessionNotFound)

		// A session row of the blocked user that outlived the block (a concurrent login).
		now := e.clock.Now()
		raced := &identity.Session{ApplicationID: e.app.ID, UserID: alice.ID, TokenHash: identity.HashToken("raced-token"),
			CreatedAt: now, UpdatedAt: now, LastActiveAt: now, Idle: time.Hour, ExpiresAt: now.Add(time.Hour)}
		if err := st.CreateSession(ctx, raced); err != nil {
			t.Fatal(err)
		}
		for name, id := range map[string]*identity.Identity{"A": e.id, "B": b} {
			_, err := id.Validate(ctx, "raced-token")
			wantIs(t, name+": session of a blocked user from the store", err, identity.ErrSessionNotFound)
			_, err = id.AuthenticateUserToken(ctx, alice.ID, "raced-token")
			wantIs(t, name+": chat login of a blocked user", err, identity.ErrInvalidCredentials)
		}
		// Refusing it deleted it: no listing shows the blocked user a live session.
		if _, err := st.SessionByTokenHash(ctx, identity.HashToken("raced-token")); !errors.Is(err, identity.ErrSessionNotFound) {
			t.Fatalf("the raced session is still stored: %v", err)
		}
	})
}

// subjectProvider proves the subject given as Params["sub"] and refreshes the full name.
type subjectProvider struct{}

func (subjectProvider) Name() string { return "ext" }

func (subjectProvider) Authenticate(_ context.Context, req *identity.AuthRequest) (*identity.Claims, error) {
	name := req.Credentials.FullName
	return &identity.Claims{Subject: req.Credentials.Params["sub"], RefreshProfile: true,
		Profile: identity.UserInput{FullName: &name}}, nil
}

// TestBlockedExternalUser: a blocked user of an external provider cannot sign in, and its
// profile is not refreshed by the refused sign-in.
func TestBlockedExternalUser(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, identity.AppSettings{}, func(c *identity.Config) {
		c.Providers = append(c.Providers, subjectProvider{})
	})
	signIn := func(name string) (*identity.Session, error) {
		return e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
			Credentials: &identity.Credentials{Provider: "ext", FullName: name, Params: map[string]string{"sub": "s-1"}}})
	}
	s, err := signIn("First")
	wantIs(t, "first sign-in", err, nil)
	if _, err := e.id.Operator().SetBlocked(ctx, e.app.ID, s.UserID, true); err != nil {
		t.Fatal(err)
	}
	_, err = signIn("Second")
	wantIs(t, "sign-in of a blocked user", err, identity.ErrUserBlocked)
	u, err := e.id.Operator().User(ctx, e.app.ID, s.UserID)
	wantIs(t, "User", err, nil)
	if u.FullName != "First" {
		t.Fatalf("refused sign-in refreshed the profile: %q", u.FullName)
	}
}

// TestOperatorUpdateUser: the operator's profile update goes through the session path's
// validation and uniqueness, is not bound by the rules that protect users from each other,
// and updates cached sessions at once; a new password revokes every session and reset token.
func TestOperatorUpdateUser(t *testing.T) {
	onStores(t, func(t *testing.T, st identity.Store) {
		ctx := context.Background()
		e, op, alice := opEnv(t, st, identity.AppSettings{})
		if _, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: ptr("bob"), Email: ptr("bob@example.com"), Password: ptr("password2")}); err != nil {
			t.Fatal(err)
		}
		other, err := e.id.CreateApplication(ctx, "other", identity.AppSettings{})
		wantIs(t, "CreateApplication", err, nil)
		for _, tt := range []struct {
			name       string
			appID, uid int64
			in         identity.UserInput
			want       error
			fields     []string
		}{
			{"bad login", e.app.ID, alice.ID, identity.UserInput{Login: ptr("a")}, identity.ErrInvalidInput, []string{"login"}},
			{"bad email", e.app.ID, alice.ID, identity.UserInput{Email: ptr("nope")}, identity.ErrInvalidInput, []string{"email"}},
			{"short password", e.app.ID, alice.ID, identity.UserInput{Password: ptr("short")}, identity.ErrInvalidInput, []string{"password"}},
			{"taken login and email", e.app.ID, alice.ID, identity.UserInput{Login: ptr("BOB"), Email: ptr("Bob@Example.com")}, identity.ErrUserExists, []string{"login", "email"}},
			{"missing user", e.app.ID, alice.ID + 100, identity.UserInput{FullName: ptr("x")}, identity.ErrUserNotFound, nil},
			{"user of another application", other.ID, alice.ID, identity.UserInput{FullName: ptr("x")}, identity.ErrUserNotFound, nil},
			{"missing application", other.ID + 100, alice.ID, identity.UserInput{FullName: ptr("x")}, identity.ErrApplicationNotFound, nil},
		} {
			_, err := op.UpdateUser(ctx, tt.appID, tt.uid, tt.in)
			wantIs(t, tt.name, err, tt.want)
			var ie *identity.Error
			for _, f := range tt.fields {
				if !errors.As(err, &ie) || ie.Code(f) == "" {
					t.Fatalf("%s: %v does not name %q", tt.name, err, f)
				}
			}
		}
		if got, _ := op.User(ctx, e.app.ID, alice.ID); got.Login != "alice" || got.Email != "alice@example.com" {
			t.Fatalf("refused updates changed the user: %+v", got)
		}

		s := e.userSession(t, "alice", "password1")
		u, err := op.UpdateUser(ctx, e.app.ID, alice.ID, identity.UserInput{FullName: ptr(" Alice A. "), Tags: &[]string{"x,y"}})
		wantIs(t, "profile update", err, nil)
		if u.FullName != "Alice A." || len(u.Tags) != 2 {
			t.Fatalf("update returned %+v", u)
		}
		v, err := e.id.Validate(ctx, s.Token)
		wantIs(t, "Validate after profile update", err, nil)
		if v.User.FullName != "Alice A." {
			t.Fatalf("cached session still has full name %q", v.User.FullName)
		}

		// A new password needs no old password and revokes every session at once.
		_, err = op.UpdateUser(ctx, e.app.ID, alice.ID, identity.UserInput{Password: ptr("new-password")})
		wantIs(t, "set password", err, nil)
		_, err = e.id.Validate(ctx, s.Token)
		wantIs(t, "session after the operator set the password", err, identity.ErrSessionNotFound)
		_, err = e.login("alice", "password1")
		wantIs(t, "old password", err, identity.ErrInvalidCredentials)
		_, err = e.login("alice", "new-password")
		wantIs(t, "new password", err, nil)
	})
}

// TestOperatorNotBoundBySessionRules: the operator may rename a user while the application
// routes logins to a provider and forbids local sign-up (a session may not), and may give a
// guest a login and password while local sign-up is denied.
func TestOperatorNotBoundBySessionRules(t *testing.T) {
	ctx := context.Background()
	e, op, alice := opEnv(t, openStore(t, false), identity.AppSettings{})
	s := e.userSession(t, "alice", "password1")
	settings := identity.AppSettings{PasswordProvider: "password", LocalSignUp: identity.LocalSignUpDeny}
	if _, err := e.id.UpdateApplicationSettings(ctx, e.app.ID, settings); err != nil {
		t.Fatal(err)
	}
	_, err := e.id.UpdateUser(ctx, s, alice.ID, identity.UserInput{Login: ptr("alice2")})
	wantIs(t, "session rename", err, identity.ErrDisabled)
	u, err := op.UpdateUser(ctx, e.app.ID, alice.ID, identity.UserInput{Login: ptr("alice2")})
	wantIs(t, "operator rename", err, nil)
	if u.Login != "alice2" {
		t.Fatalf("login = %q", u.Login)
	}

	g, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
		Credentials: &identity.Credentials{Guest: true}})
	wantIs(t, "guest session", err, nil)
	upgrade := identity.UserInput{Login: ptr("former-guest"), Password: ptr("password2")}
	_, err = e.id.UpdateUser(ctx, g, g.UserID, upgrade)
	wantIs(t, "session upgrade of a guest", err, identity.ErrDisabled)
	u, err = op.UpdateUser(ctx, e.app.ID, g.UserID, upgrade)
	wantIs(t, "operator upgrade of a guest", err, nil)
	if u.IsGuest || u.Login != "former-guest" {
		t.Fatalf("after the operator's upgrade: guest %v, login %q", u.IsGuest, u.Login)
	}
}

// TestOperatorDeleteUser: a deleted user's sessions stop working at once; another
// application's user cannot be reached through the wrong application id.
func TestOperatorDeleteUser(t *testing.T) {
	onStores(t, func(t *testing.T, st identity.Store) {
		ctx := context.Background()
		e, op, alice := opEnv(t, st, identity.AppSettings{})
		s := e.userSession(t, "alice", "password1")
		other, err := e.id.CreateApplication(ctx, "other", identity.AppSettings{})
		wantIs(t, "CreateApplication", err, nil)
		wantIs(t, "DeleteUser through another application", op.DeleteUser(ctx, other.ID, alice.ID), identity.ErrUserNotFound)
		if _, err := e.id.Validate(ctx, s.Token); err != nil {
			t.Fatal(err)
		}
		wantIs(t, "DeleteUser", op.DeleteUser(ctx, e.app.ID, alice.ID), nil)
		_, err = e.id.Validate(ctx, s.Token)
		wantIs(t, "Validate after delete", err, identity.ErrSessionNotFound)
		_, err = op.User(ctx, e.app.ID, alice.ID)
		wantIs(t, "User after delete", err, identity.ErrUserNotFound)
		wantIs(t, "DeleteUser again", op.DeleteUser(ctx, e.app.ID, alice.ID), identity.ErrUserNotFound)
	})
}

// TestOperatorSessions: the operator lists a user's live sessions (with the activity this
// process knows), revokes one and then all, each stopping at once.
func TestOperatorSessions(t *testing.T) {
	onStores(t, func(t *testing.T, st identity.Store) {
		ctx := context.Background()
		// Activity is written once an hour: s1 and s2 are alive in this process's memory only
		// (their stored expiry is past); s3, never used, expires.
		e, op, alice := opEnv(t, st, identity.AppSettings{SessionIdle: 10 * time.Minute}, func(c *identity.Config) {
			c.ActivityInterval = time.Hour
		})
		s1 := e.userSession(t, "alice", "password1")
		e.clock.Advance(time.Second)
		s2 := e.userSession(t, "alice", "password1")
		e.clock.Advance(time.Second)
		e.userSession(t, "alice", "password1")
		for i := 0; i < 5; i++ {
			e.clock.Advance(8 * time.Minute)
			for _, s := range []*identity.Session{s1, s2} {
				if _, err := e.id.Validate(ctx, s.Token); err != nil {
					t.Fatal(err)
				}
			}
		}
		list, err := op.Sessions(ctx, e.app.ID, alice.ID)
		wantIs(t, "Sessions", err, nil)
		if len(list) != 2 || list[0].ID != s2.ID || list[1].ID != s1.ID {
			t.Fatalf("Sessions = %v, want [%d %d]", ids(list), s2.ID, s1.ID)
		}
		for _, x := range list {
			if x.Token != "" {
				t.Fatal("a listed session carries a token")
			}
		}
		_, err = op.Sessions(ctx, e.app.ID, alice.ID+100)
		wantIs(t, "Sessions of a missing user", err, identity.ErrUserNotFound)

		bob, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: ptr("bob"), Password: ptr("password2")})
		wantIs(t, "SignUp", err, nil)
		wantIs(t, "revoke another user's session", op.RevokeSession(ctx, e.app.ID, bob.ID, s1.ID), identity.ErrNotFound)
		wantIs(t, "RevokeSession", op.RevokeSession(ctx, e.app.ID, alice.ID, s1.ID), nil)
		_, err = e.id.Validate(ctx, s1.Token)
		wantIs(t, "revoked session", err, identity.ErrSessionNotFound)
		if _, err := e.id.Validate(ctx, s2.Token); err != nil {
			t.Fatalf("other session: %v", err)
		}
		n, err := op.RevokeSessions(ctx, e.app.ID, alice.ID)
		wantIs(t, "RevokeSessions", err, nil)
		if n != 2 { // s2 and the expired s3
			t.Fatalf("RevokeSessions = %d, want 2", n)
		}
		_, err = e.id.Validate(ctx, s2.Token)
		wantIs(t, "session after RevokeSessions", err, identity.ErrSessionNotFound)
		_, err = op.RevokeSessions(ctx, e.app.ID+100, alice.ID)
		wantIs(t, "RevokeSessions in a missing application", err, identity.ErrApplicationNotFound)
	})
}

func ids(list []*identity.Session) []int64 {
	out := make([]int64, len(list))
	for i, s := range list {
		out[i] = s.ID
	}
	return out
}

// TestOperatorSearchUsers: the operator searches whatever the settings that protect the
// public API (lists disabled, V1 disabled, contact information hidden), with every V1 field
// and operator and no filter at all.
func TestOperatorSearchUsers(t *testing.T) {
	onStores(t, func(t *testing.T, st identity.Store) {
		ctx := context.Background()
		e, op, alice := opEnv(t, st, identity.AppSettings{DisableUserList: true, DisableUsersV1: true, HideContactInfo: true})
		for _, l := range []string{"bob", "carol"} {
			if _, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: ptr(l), Email: ptr(l + "@example.com"), Password: ptr("password2")}); err != nil {
				t.Fatal(err)
			}
		}
		s := e.userSession(t, "alice", "password1")
		_, err := e.id.SearchUsers(ctx, s, identity.UserQuery{Filters: []query.Filter{{Field: query.Login, Op: query.Eq, Values: []any{"bob"}}}})
		wantIs(t, "session search", err, identity.ErrDisabled)

		p, err := op.SearchUsers(ctx, e.app.ID, identity.UserQuery{})
		wantIs(t, "list all", err, nil)
		if p.Total != 3 || len(p.Users) != 3 || p.Users[0].ID != alice.ID || p.Limit != query.MaxLimit {
			t.Fatalf("list all = %+v", p)
		}
		p, err = op.SearchUsers(ctx, e.app.ID, identity.UserQuery{
			Filters:   []query.Filter{{Field: query.Email, Op: query.StartWith, Values: []any{"caro"}}},
			SortField: query.Email, SortDesc: true,
		})
		wantIs(t, "email prefix", err, nil)
		if len(p.Users) != 1 || p.Users[0].Email != "carol@example.com" {
			t.Fatalf("email prefix = %+v", p.Users)
		}
		_, err = op.SearchUsers(ctx, e.app.ID, identity.UserQuery{Filters: []query.Filter{{Field: "custom_data", Op: query.Eq, Values: []any{"x"}}}})
		wantIs(t, "unknown field", err, identity.ErrInvalidInput)
		_, err = op.SearchUsers(ctx, e.app.ID+100, identity.UserQuery{})
		wantIs(t, "missing application", err, identity.ErrApplicationNotFound)
	})
}

// TestOperatorApplications: list, rename, rotate keys (the old auth key stops working at
// once; sessions survive) and delete (everything of the application goes at once; other
// applications are untouched).
func TestOperatorApplications(t *testing.T) {
	onStores(t, func(t *testing.T, st identity.Store) {
		ctx := context.Background()
		e, op, alice := opEnv(t, st, identity.AppSettings{})
		other, err := e.id.CreateApplication(ctx, "other", identity.AppSettings{})
		wantIs(t, "CreateApplication", err, nil)
		if _, err := e.id.SignUp(ctx, other.ID, identity.UserInput{Login: ptr("alice"), Password: ptr("password1")}); err != nil {
			t.Fatal(err)
		}
		apps, err := e.id.Applications(ctx)
		wantIs(t, "Applications", err, nil)
		if len(apps) != 2 || apps[0].ID != e.app.ID || apps[1].ID != other.ID {
			t.Fatalf("Applications = %+v", apps)
		}

		for _, bad := range []string{"", "   ", "a\x00b", string(make([]byte, 300))} {
			_, err := e.id.RenameApplication(ctx, e.app.ID, bad)
			wantIs(t, "RenameApplication("+bad+")", err, identity.ErrInvalidInput)
		}
		app, err := e.id.RenameApplication(ctx, e.app.ID, " Renamed ")
		wantIs(t, "RenameApplication", err, nil)
		if app.Name != "Renamed" || app.AuthKey != e.app.AuthKey {
			t.Fatalf("renamed = %+v", app)
		}
		_, err = e.id.RenameApplication(ctx, other.ID+100, "x")
		wantIs(t, "RenameApplication of a missing application", err, identity.ErrApplicationNotFound)

		s := e.userSession(t, "alice", "password1")
		oldKey := e.app.AuthKey
		rotated, err := e.id.RotateApplicationKeys(ctx, e.app.ID)
		wantIs(t, "RotateApplicationKeys", err, nil)
		if rotated.AuthKey == oldKey || len(rotated.AuthKey) != 32 || len(rotated.AuthSecret) != 64 || rotated.AuthSecret == e.app.AuthSecret || rotated.Name != "Renamed" {
			t.Fatalf("rotated = %+v", rotated)
		}
		_, err = e.login("alice", "password1")
		wantIs(t, "session with the old auth key", err, identity.ErrApplicationNotFound)
		_, err = e.id.ApplicationByAuthKey(ctx, oldKey)
		wantIs(t, "ApplicationByAuthKey(old key)", err, identity.ErrApplicationNotFound)
		e.app.AuthKey = rotated.AuthKey
		_, err = e.login("alice", "password1")
		wantIs(t, "session with the new auth key", err, nil)
		if _, err := e.id.Validate(ctx, s.Token); err != nil {
			t.Fatalf("a session made before the rotation: %v", err)
		}
		_, err = e.id.RotateApplicationKeys(ctx, other.ID+100)
		wantIs(t, "RotateApplicationKeys of a missing application", err, identity.ErrApplicationNotFound)

		wantIs(t, "DeleteApplication", e.id.DeleteApplication(ctx, e.app.ID), nil)
		_, err = e.id.Validate(ctx, s.Token)
		wantIs(t, "session of a deleted application", err, identity.ErrSessionNotFound)
		_, err = e.login("alice", "password1")
		wantIs(t, "session request to a deleted application", err, identity.ErrApplicationNotFound)
		_, err = op.User(ctx, e.app.ID, alice.ID)
		wantIs(t, "user of a deleted application", err, identity.ErrApplicationNotFound)
		_, err = st.User(ctx, e.app.ID, alice.ID)
		wantIs(t, "stored user of a deleted application", err, identity.ErrUserNotFound)
		wantIs(t, "DeleteApplication again", e.id.DeleteApplication(ctx, e.app.ID), identity.ErrApplicationNotFound)
		if _, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: other.ID, AuthKey: other.AuthKey,
			Credentials: &identity.Credentials{Login: "alice", Password: "password1"}}); err != nil {
			t.Fatalf("the other application after the delete: %v", err)
		}
	})
}

// TestCreateApplicationName: the name of a new application is checked like a rename.
func TestCreateApplicationName(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	_, err := e.id.CreateApplication(context.Background(), " ", identity.AppSettings{})
	wantIs(t, "blank name", err, identity.ErrInvalidInput)
}
