package identity_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/identitykit/identity"
)

// signedWith stands for a request signed with secret: the signature is valid exactly when
// Identity checks it against secret. (The HMAC itself is the HTTP adapter's; its vectors are
// tested there.)
func signedWith(secret string) func(string) bool {
	return func(appSecret string) bool { return appSecret == secret }
}

func TestSignedSessionRequests(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	ctx := context.Background()
	now := e.clock.Now().Unix()
	signed := func(ts int64, nonce string) identity.SessionRequest {
		return identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey, Timestamp: ts, Nonce: nonce,
			Signed: signedWith(e.app.AuthSecret)}
	}
	tests := []struct {
		name    string
		req     identity.SessionRequest
		wantErr error
	}{
		{"valid", signed(now, "1"), nil},
		{"replayed nonce", signed(now, "1"), identity.ErrInvalidSignature},
		{"same nonce, other timestamp", signed(now-1, "1"), nil},
		{"59 minutes old", signed(now-59*60, "2"), nil},
		{"61 minutes old", signed(now-61*60, "3"), identity.ErrInvalidSignature},
		{"61 minutes ahead", signed(now+61*60, "4"), identity.ErrInvalidSignature},
		{"bad signature", func() identity.SessionRequest {
			r := signed(now, "5")
			r.Signed = signedWith("another secret")
			return r
		}(), identity.ErrInvalidSignature},
		{"wrong auth key", func() identity.SessionRequest { r := signed(now, "6"); r.AuthKey = "nope"; return r }(), identity.ErrApplicationNotFound},
		{"unknown application", func() identity.SessionRequest { r := signed(now, "7"); r.ApplicationID = 999; return r }(), identity.ErrApplicationNotFound},
		{"unsigned, stale timestamp accepted", identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey, Timestamp: 1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.id.CreateSession(ctx, tt.req)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestRequireSignature: with AppSettings.RequireSignature an unsigned session request is
// refused like a wrong signature, before any credential is checked (no user is created by
// auto-create); a correctly signed request still gets its session.
func TestRequireSignature(t *testing.T) {
	e := newEnv(t, identity.AppSettings{RequireSignature: true})
	ctx := context.Background()
	now := e.clock.Now().Unix()
	unsigned := []identity.SessionRequest{
		{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey},
		{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey, Timestamp: now, Nonce: "1"},
		{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey, Credentials: &identity.Credentials{Login: "newcomer", Password: "password123"}},
		{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey, Credentials: &identity.Credentials{Provider: "guest"}},
	}
	for i, req := range unsigned {
		_, err := e.id.CreateSession(ctx, req)
		var fe *identity.Error
		if !errors.Is(err, identity.ErrInvalidSignature) || !errors.As(err, &fe) || fe.Code("signature") != "invalid" {
			t.Fatalf("unsigned request %d: err = %v, want ErrInvalidSignature naming the signature", i, err)
		}
	}
	if _, err := e.store.UserByLogin(ctx, e.app.ID, "newcomer"); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("an unsigned request created a user: %v", err)
	}
	// A wrong auth key is still ErrApplicationNotFound, checked first.
	if _, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: "nope"}); !errors.Is(err, identity.ErrApplicationNotFound) {
		t.Fatalf("wrong auth key: err = %v", err)
	}
	s, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey, Timestamp: now, Nonce: "2",
		Signed: signedWith(e.app.AuthSecret)})
	if err != nil || s.Token == "" {
		t.Fatalf("signed request: %v", err)
	}
}

// A validated token costs no Store round trip on the common path: after the first request
// only one read per RecheckInterval and one write per ActivityInterval.
func TestValidateAvoidsStoreOnHotPath(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	ctx := context.Background()
	s := e.userSession(t, "hotpath", "password1")
	e.store.sessionReads.Store(0)
	e.store.userReads.Store(0)
	e.store.touches.Store(0)
	for i := 0; i < 1000; i++ {
		v, err := e.id.Validate(ctx, s.Token)
		if err != nil || v.User == nil || v.User.Login != "hotpath" {
			t.Fatalf("validate %d: %v %+v", i, err, v)
		}
	}
	if n := e.store.calls(); n != 0 {
		t.Fatalf("1000 validations within the intervals made %d store calls, want 0", n)
	}
	e.clock.Advance(6 * time.Second) // past RecheckInterval (5 s)
	for i := 0; i < 100; i++ {
		if _, err := e.id.Validate(ctx, s.Token); err != nil {
			t.Fatal(err)
		}
	}
	if r, w := e.store.sessionReads.Load(), e.store.touches.Load(); r != 1 || w != 0 {
		t.Fatalf("after recheck interval: %d session reads, %d writes; want 1, 0", r, w)
	}
	e.clock.Advance(time.Minute) // past ActivityInterval
	for i := 0; i < 100; i++ {
		if _, err := e.id.Validate(ctx, s.Token); err != nil {
			t.Fatal(err)
		}
	}
	if w := e.store.touches.Load(); w != 1 {
		t.Fatalf("after activity interval: %d writes, want 1", w)
	}
}

// Activity persisted by one Identity keeps the session alive for another Identity on the
// same Store (another process), within ActivityInterval.
func TestActivityVisibleToOtherInstance(t *testing.T) {
	st := openStore(t, false)
	pw := cheapPasswords(t)
	a := newEnvWith(t, st, pw, identity.AppSettings{})
	b, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw}, Now: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := a.userSession(t, "twoproc", "password1")
	// Instance A sees a request every 30 minutes for 3 hours.
	for i := 0; i < 6; i++ {
		a.clock.Advance(30 * time.Minute)
		if _, err := a.id.Validate(ctx, s.Token); err != nil {
			t.Fatalf("A at step %d: %v", i, err)
		}
	}
	// B has never seen the token: it must find it alive from the persisted activity.
	a.clock.Advance(time.Hour)
	if v, err := b.Validate(ctx, s.Token); err != nil || v.UserID != s.UserID {
		t.Fatalf("B: %v", err)
	}
	// B revokes; A stops accepting it after its RecheckInterval.
	if err := b.DestroySession(ctx, s); err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(5 * time.Second)
	if _, err := a.id.Validate(ctx, s.Token); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Fatalf("A after revocation elsewhere: %v", err)
	}
}

func TestAbsoluteLifetime(t *testing.T) {
	e := newEnv(t, identity.AppSettings{}, func(c *identity.Config) { c.AbsoluteSessionLifetime = 3 * time.Hour })
	ctx := context.Background()
	s := e.userSession(t, "absolute", "password1")
	for i := 0; i < 5; i++ {
		e.clock.Advance(30 * time.Minute)
		if _, err := e.id.Validate(ctx, s.Token); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(31 * time.Minute)
	if _, err := e.id.Validate(ctx, s.Token); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Fatalf("err = %v after the absolute lifetime", err)
	}
}

func TestSessionListAndRevocation(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	ctx := context.Background()
	a := e.userSession(t, "many", "password1")
	b := e.userSession(t, "many", "password1")
	c := e.userSession(t, "many", "password1")
	other := e.userSession(t, "someone", "password1")
	cur, _ := e.id.Validate(ctx, a.Token)

	list, err := e.id.Sessions(ctx, cur)
	if err != nil || len(list) != 3 {
		t.Fatalf("Sessions = %d, %v; want 3", len(list), err)
	}
	for _, s := range list {
		if s.Token != "" {
			t.Fatal("listed session carries a token")
		}
	}
	if err := e.id.RevokeSession(ctx, cur, other.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("revoking another user's session: %v", err)
	}
	if err := e.id.RevokeSession(ctx, cur, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.id.Validate(ctx, b.Token); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Fatalf("revoked session still valid: %v", err)
	}
	n, err := e.id.RevokeOtherSessions(ctx, cur)
	if err != nil || n != 1 {
		t.Fatalf("RevokeOtherSessions = %d, %v; want 1", n, err)
	}
	if _, err := e.id.Validate(ctx, c.Token); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Fatalf("other session still valid: %v", err)
	}
	if _, err := e.id.Validate(ctx, a.Token); err != nil {
		t.Fatalf("current session revoked: %v", err)
	}
	if _, err := e.id.Validate(ctx, other.Token); err != nil {
		t.Fatalf("another user's session revoked: %v", err)
	}
	appS, _ := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey})
	if _, err := e.id.RevokeOtherSessions(ctx, appS); !errors.Is(err, identity.ErrNeedUser) || !errors.Is(err, identity.ErrForbidden) {
		t.Fatalf("app session: %v", err)
	}
}

func TestDenyAutoCreate(t *testing.T) {
	e := newEnv(t, identity.AppSettings{DenyAutoCreate: true})
	ctx := context.Background()
	_, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
		Credentials: &identity.Credentials{Login: "nobody", Password: "password1"}})
	if !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("err = %v", err)
	}
	if _, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: ptr("nobody"), Password: ptr("password1")}); err != nil {
		t.Fatal(err)
	}
	e.userSession(t, "nobody", "password1")
}

func TestGuestLifecycle(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	ctx := context.Background()
	g, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
		Credentials: &identity.Credentials{Guest: true, FullName: "Awesome Smith"}})
	if err != nil {
		t.Fatal(err)
	}
	// A guest cannot log in with a password.
	_, err = e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
		Credentials: &identity.Credentials{Login: g.User.Login, Password: "password1"}})
	if !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("guest password login: %v", err)
	}
	// The guest session survives more than the ordinary 2 h idle, and dies with the guest.
	e.clock.Advance(23 * time.Hour)
	if _, err := e.id.Validate(ctx, g.Token); err != nil {
		t.Fatalf("guest at 23h: %v", err)
	}
	e.clock.Advance(time.Hour + time.Second)
	if _, err := e.id.Validate(ctx, g.Token); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Fatalf("guest at 24h: %v", err)
	}
	p, err := e.id.DeleteExpired(ctx)
	if err != nil || p.Guests != 1 {
		t.Fatalf("DeleteExpired = %+v, %v", p, err)
	}
	if _, err := e.store.User(ctx, e.app.ID, g.UserID); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("expired guest still stored: %v", err)
	}
}

func TestGuestUpgradeKeepsID(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	ctx := context.Background()
	g, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
		Credentials: &identity.Credentials{Guest: true}})
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := e.id.Validate(ctx, g.Token)
	u, err := e.id.UpdateUser(ctx, cur, cur.UserID, identity.UserInput{Login: ptr("promoted"), Password: ptr("password1")})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != g.UserID || u.IsGuest || !u.GuestExpiresAt.IsZero() {
		t.Fatalf("upgraded user = %+v", u)
	}
	e.clock.Advance(25 * time.Hour)
	if _, err := e.id.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	s := e.userSession(t, "promoted", "password1")
	if s.UserID != g.UserID {
		t.Fatalf("login after upgrade gave user %d, want %d", s.UserID, g.UserID)
	}
}

// Lifetimes changed by an upgrade are stored, so that another process (or this one after a
// restart) applies the same rules.
func TestSessionLifetimesPersisted(t *testing.T) {
	st := openStore(t, false)
	pw := cheapPasswords(t)
	a := newEnvWith(t, st, pw, identity.AppSettings{})
	ctx := context.Background()
	g, err := a.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: a.app.ID, AuthKey: a.app.AuthKey,
		Credentials: &identity.Credentials{Guest: true}})
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := a.id.Validate(ctx, g.Token)
	if _, err := a.id.UpdateUser(ctx, cur, cur.UserID, identity.UserInput{Login: ptr("nowreal"), Password: ptr("password1")}); err != nil {
		t.Fatal(err)
	}
	b, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw}, Now: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(2*time.Hour + time.Minute)
	if _, err := b.Validate(ctx, g.Token); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Fatalf("upgraded guest session kept the guest lifetime in the store: %v", err)
	}
}

func TestConcurrentValidate(t *testing.T) {
	e := newEnv(t, identity.AppSettings{}, func(c *identity.Config) { c.RecheckInterval = time.Nanosecond })
	ctx := context.Background()
	s := e.userSession(t, "racer", "password1")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if _, err := e.id.Validate(ctx, s.Token); err != nil {
					t.Error(err)
					return
				}
				e.clock.Advance(time.Second)
			}
		}()
	}
	wg.Wait()
}

func TestLoginRecordsLastRequest(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	ctx := context.Background()
	s := e.userSession(t, "recorder", "password1")
	if !s.User.LastRequestAt.Equal(e.clock.Now()) {
		t.Fatalf("session user LastRequestAt = %v, want %v", s.User.LastRequestAt, e.clock.Now())
	}
	e.clock.Advance(time.Hour)
	app, _ := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey})
	up, err := e.id.Login(ctx, app, identity.Credentials{Login: "recorder", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := e.store.User(ctx, e.app.ID, up.UserID)
	if err != nil || !stored.LastRequestAt.Equal(e.clock.Now()) || !up.User.LastRequestAt.Equal(e.clock.Now()) {
		t.Fatalf("after Login: stored %v, returned %v, want %v (%v)", stored.LastRequestAt, up.User.LastRequestAt, e.clock.Now(), err)
	}
}

func TestTokensAreOpaqueAndHashed(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	ctx := context.Background()
	s := e.userSession(t, "hashme", "password1")
	sum := sha256.Sum256([]byte(s.Token))
	stored, err := e.store.SessionByTokenHash(ctx, sum[:])
	if err != nil || stored.Token != "" {
		t.Fatalf("stored session: %+v, %v", stored, err)
	}
	if _, err := e.id.Validate(ctx, s.Token[:63]); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Fatal("prefix of a token accepted")
	}
}

// A password login reads the application at most once per RecheckInterval and the user once.
func TestLoginStoreReads(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	ctx := context.Background()
	e.userSession(t, "reader", "password1") // creates the user, warms the application cache
	e.store.appReads.Store(0)
	e.store.userReads.Store(0)
	e.userSession(t, "reader", "password1")
	if a, u := e.store.appReads.Load(), e.store.userReads.Load(); a != 0 || u != 0 {
		t.Fatalf("a login read the application %d times and the user by id %d times; want 0, 0", a, u)
	}
	// Settings changed through this Identity apply at once.
	if _, err := e.id.UpdateApplicationSettings(ctx, e.app.ID, identity.AppSettings{DenyAutoCreate: true}); err != nil {
		t.Fatal(err)
	}
	_, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
		Credentials: &identity.Credentials{Login: "newcomer", Password: "password1"}})
	if !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("auto-create after Deny: %v", err)
	}
	// Settings changed through another Identity apply after RecheckInterval.
	other, err := identity.New(identity.Config{Store: e.store.Store, Hasher: e.pw, Providers: []identity.Provider{e.pw}, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.UpdateApplicationSettings(ctx, e.app.ID, identity.AppSettings{}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Second)
	if _, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
		Credentials: &identity.Credentials{Login: "newcomer", Password: "password1"}}); err != nil {
		t.Fatalf("auto-create after Allow elsewhere and RecheckInterval: %v", err)
	}
}

// The calls acting as a session take the *Session from Validate; without one they refuse.
func TestActingSessionRequired(t *testing.T) {
	e := newEnv(t, identity.AppSettings{})
	ctx := context.Background()
	if _, err := e.id.Login(ctx, nil, identity.Credentials{Login: "x", Password: "password1"}); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Errorf("Login(nil) = %v", err)
	}
	if _, err := e.id.Logout(ctx, nil); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Errorf("Logout(nil) = %v", err)
	}
	if err := e.id.DestroySession(ctx, nil); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Errorf("DestroySession(nil) = %v", err)
	}
}
