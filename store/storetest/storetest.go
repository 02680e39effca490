// Package storetest is the conformance suite for identity.Store implementations.
//
// A store package runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) identity.Store {
//			st := openEmptyMigratedStore(t)
//			t.Cleanup(func() { st.Close() })
//			return st
//		})
//	}
//
// The suite stores times with microsecond precision (what PostgreSQL keeps) and expects them
// back equal, in UTC or not (it compares with time.Time.Equal).
package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/identitykit/identity"
)

// Run runs one subtest per contract rule of identity.Store. newStore is called once per
// subtest and must return an isolated, empty, ready-to-use store (tables created); it should
// register its own cleanup with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) identity.Store) {
	t.Helper()
	var all []test
	for _, group := range [][]test{tests, externalIDTests, confusableTests, accountTests, searchTests, operatorTests} {
		all = append(all, group...)
	}
	for _, tc := range all {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

type test struct {
	name string
	fn   func(t *testing.T, s identity.Store)
}

var tests = []test{
	{"Application/CreateRoundTrip", testCreateApplication},
	{"Application/NotFound", testApplicationNotFound},
	{"Application/ByAuthKey", testApplicationByAuthKey},
	{"Application/DuplicateAuthKey", testDuplicateAuthKey},
	{"Application/Update", testUpdateApplication},
	{"Application/ListOrderedByID", testApplications},

	{"User/CreateRoundTrip", testCreateUser},
	{"User/ScopedByApplication", testUserScoped},
	{"User/ByLoginCaseInsensitive", testUserByLogin},
	{"User/ByEmailCaseInsensitive", testUserByEmail},
	{"User/DuplicateLoginOrEmail", testDuplicateUser},
	{"User/SameLoginOtherApplication", testSameLoginOtherApp},
	{"User/NoLoginOrEmailNoConflict", testEmptyLoginEmail},
	{"User/ByExternalUserID", testUserByExternalUserID},
	{"User/ExternalAccountLink", testExternalAccount},
	{"User/DuplicateExternalAccount", testDuplicateExternalAccount},
	{"User/ConflictWritesNothing", testConflictWritesNothing},
	{"User/UnstorableText", testUnstorableText},
	{"User/UpdateReplacesFields", testUpdateUser},
	{"User/UpdateConflicts", testUpdateUserConflicts},
	{"User/UpdateNotFound", testUpdateUserNotFound},
	{"User/DeleteCascades", testDeleteUser},
	{"User/DeleteNotFound", testDeleteUserNotFound},
	{"User/DeleteFreesUniqueValues", testDeleteFreesUnique},

	{"Session/CreateRoundTrip", testCreateSession},
	{"Session/ByTokenHash", testSessionByTokenHash},
	{"Session/SetUser", testSetSessionUser},
	{"Session/TouchMovesForwardOnly", testTouchSession},
	{"Session/TouchMissing", testTouchMissing},
	{"Session/Delete", testDeleteSession},
	{"Session/DeleteUserSessions", testDeleteUserSessions},
	{"Session/UserSessionsNewestFirst", testUserSessions},
	{"Nonce/Replay", testUseNonce},
	{"DeleteExpired/Counts", testDeleteExpired},

	{"ResetToken/RoundTrip", testResetTokenRoundTrip},
	{"ResetToken/NewerReplacesOlder", testResetTokenReplaced},
	{"ResetToken/DuplicateHash", testResetTokenDuplicateHash},
	{"ResetToken/ConsumeOnceBeforeExpiry", testResetTokenConsumeOnce},
	{"ResetToken/DeleteUserTokens", testResetTokenDeleteUser},
	{"ResetToken/DeleteExpired", testResetTokenDeleteExpired},

	{"Blob/CreateRoundTrip", testBlobRoundTrip},
	{"Blob/ScopedAndNotFound", testBlobScopedAndNotFound},
	{"Blob/DuplicateUID", testBlobDuplicateUID},
	{"Blob/UnstorableText", testBlobUnstorableText},
	{"Blob/UpdateStateCompareAndSet", testBlobUpdateState},
	{"Blob/StaleBlobs", testBlobStale},
	{"Blob/Delete", testBlobDelete},
	{"Blob/OwnerDeletedMarksBlobs", testBlobOwnerDeleted},
	{"Blob/OrphansAreStale", testBlobOrphansStale},
	{"Blob/Usage", testBlobUsage},

	{"Concurrent/SignUpSameLogin", testConcurrentLogin},
	{"Concurrent/SignUpSameEmail", testConcurrentEmail},
	{"Concurrent/SameExternalAccount", testConcurrentAccount},
	{"Concurrent/SameNonce", testConcurrentNonce},
	{"Concurrent/ConsumeResetToken", testConcurrentConsumeResetToken},
	{"Concurrent/PutResetTokenSameUser", testConcurrentPutResetToken},
	{"Concurrent/BlobStateCompareAndSet", testConcurrentBlobState},
}

// t0 is the suite's clock: microsecond precision, far from any real "now".
var t0 = time.Date(2031, 3, 4, 5, 6, 7, 891234000, time.UTC)

var seq atomic.Int64

// uid returns a fresh 24-hex-character UID.
func uid() string { return fmt.Sprintf("%024x", seq.Add(1)+time.Now().UnixNano()) }

func newApp(t *testing.T, s identity.Store) *identity.Application {
	t.Helper()
	n := seq.Add(1)
	app := &identity.Application{
		Name:       fmt.Sprintf("app %d", n),
		AuthKey:    fmt.Sprintf("key-%d-%s", n, uid()),
		AuthSecret: "secret",
		CreatedAt:  t0,
		UpdatedAt:  t0,
	}
	if err := s.CreateApplication(t.Context(), app); err != nil {
		t.Fatalf("CreateApplication: %v", err)
	}
	if app.ID == 0 {
		t.Fatal("CreateApplication did not set ID")
	}
	return app
}

func mkUser(appID int64, login, email string) *identity.User {
	return &identity.User{ApplicationID: appID, UID: uid(), Login: login, Email: email, CreatedAt: t0, UpdatedAt: t0}
}

func newUser(t *testing.T, s identity.Store, appID int64, login, email string) *identity.User {
	t.Helper()
	u := mkUser(appID, login, email)
	if err := s.CreateUser(t.Context(), u, nil); err != nil {
		t.Fatalf("CreateUser(%q, %q): %v", login, email, err)
	}
	if u.ID == 0 {
		t.Fatal("CreateUser did not set ID")
	}
	return u
}

func mkSession(appID, userID int64, token string, created time.Time) *identity.Session {
	return &identity.Session{
		ApplicationID:     appID,
		UserID:            userID,
		TokenHash:         identity.HashToken(token),
		Nonce:             "n-" + token,
		Timestamp:         created.Unix(),
		CreatedAt:         created,
		UpdatedAt:         created,
		LastActiveAt:      created,
		Idle:              2 * time.Hour,
		AbsoluteExpiresAt: created.Add(30 * 24 * time.Hour),
		ExpiresAt:         created.Add(2 * time.Hour),
	}
}

func newSession(t *testing.T, s identity.Store, appID, userID int64, token string, created time.Time) *identity.Session {
	t.Helper()
	sess := mkSession(appID, userID, token, created)
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if sess.ID == 0 {
		t.Fatal("CreateSession did not set ID")
	}
	return sess
}

// wantErr fails t unless errors.Is(err, want) (or err is nil when want is nil).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("%s: unexpected error %v", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// wantField fails t unless err is an *identity.Error wrapping sentinel whose Fields name
// field, with code when code is not "".
func wantField(t *testing.T, what string, err, sentinel error, field, code string) {
	t.Helper()
	wantErr(t, what, err, sentinel)
	var e *identity.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: error %v is not an *identity.Error", what, err)
	}
	for _, f := range e.Fields {
		if f.Field == field {
			if code != "" && f.Code != code {
				t.Fatalf("%s: field %q code %q, want %q", what, field, f.Code, code)
			}
			return
		}
	}
	t.Fatalf("%s: error %v does not name field %q (fields %v)", what, err, field, e.Fields)
}

// normUser makes a user comparable with reflect.DeepEqual.
func normUser(u *identity.User) identity.User {
	n := *u
	n.GuestExpiresAt = n.GuestExpiresAt.UTC()
	n.CreatedAt = n.CreatedAt.UTC()
	n.UpdatedAt = n.UpdatedAt.UTC()
	n.LastRequestAt = n.LastRequestAt.UTC()
	if len(n.Tags) == 0 {
		n.Tags = nil
	}
	return n
}

func checkUser(t *testing.T, what string, got, want *identity.User) {
	t.Helper()
	checkEqual(t, what, "user", got, want, normUser)
}

func normSession(s *identity.Session) identity.Session {
	n := *s
	n.Token = ""
	n.User = nil
	n.CreatedAt = n.CreatedAt.UTC()
	n.UpdatedAt = n.UpdatedAt.UTC()
	n.LastActiveAt = n.LastActiveAt.UTC()
	n.AbsoluteExpiresAt = n.AbsoluteExpiresAt.UTC()
	n.ExpiresAt = n.ExpiresAt.UTC()
	return n
}

func checkSession(t *testing.T, what string, got, want *identity.Session) {
	t.Helper()
	checkEqual(t, what, "session", got, want, normSession)
}

func dump(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

func ptr[T any](v T) *T { return &v }

// --- applications ---

func testCreateApplication(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app := &identity.Application{
		Name:       "Chat",
		AuthKey:    "auth-key-" + uid(),
		AuthSecret: "auth-secret",
		Settings: identity.AppSettings{
			DenyAutoCreate:   true,
			SessionIdle:      90 * time.Minute,
			GuestLifetime:    3 * time.Hour,
			PasswordPolicy:   identity.PasswordPolicy{MinLength: 10, MaxLength: 64},
			DisableUserList:  true,
			DisableUsersV1:   true,
			PasswordProvider: "cidp",
			Providers:        map[string]json.RawMessage{"cidp": json.RawMessage(`{"url":"https://example.test/verify"}`)},
		},
		CreatedAt: t0,
		UpdatedAt: t0.Add(time.Second),
	}
	if err := s.CreateApplication(ctx, app); err != nil {
		t.Fatalf("CreateApplication: %v", err)
	}
	if app.ID == 0 {
		t.Fatal("CreateApplication did not set ID")
	}
	got, err := s.Application(ctx, app.ID)
	wantErr(t, "Application", err, nil)
	if got.ID != app.ID || got.Name != app.Name || got.AuthKey != app.AuthKey || got.AuthSecret != app.AuthSecret ||
		!got.CreatedAt.Equal(app.CreatedAt) || !got.UpdatedAt.Equal(app.UpdatedAt) {
		t.Fatalf("Application = %s, want %s", dump(got), dump(app))
	}
	if dump(got.Settings) != dump(app.Settings) {
		t.Fatalf("Application settings = %s, want %s", dump(got.Settings), dump(app.Settings))
	}
	other := newApp(t, s)
	if other.ID == app.ID {
		t.Fatal("two applications share an ID")
	}
}

func testApplicationNotFound(t *testing.T, s identity.Store) {
	app := newApp(t, s)
	for _, id := range []int64{app.ID + 1000, 0, -1} {
		_, err := s.Application(t.Context(), id)
		wantErr(t, fmt.Sprintf("Application(%d)", id), err, identity.ErrApplicationNotFound)
	}
}

func testApplicationByAuthKey(t *testing.T, s identity.Store) {
	a, b := newApp(t, s), newApp(t, s)
	tests := []struct {
		key     string
		wantID  int64
		wantErr error
	}{
		{a.AuthKey, a.ID, nil},
		{b.AuthKey, b.ID, nil},
		{"no-such-key", 0, identity.ErrApplicationNotFound},
		{"", 0, identity.ErrApplicationNotFound},
	}
	for _, tc := range tests {
		got, err := s.ApplicationByAuthKey(t.Context(), tc.key)
		wantErr(t, fmt.Sprintf("ApplicationByAuthKey(%q)", tc.key), err, tc.wantErr)
		if tc.wantErr == nil && got.ID != tc.wantID {
			t.Fatalf("ApplicationByAuthKey(%q).ID = %d, want %d", tc.key, got.ID, tc.wantID)
		}
	}
}

func testDuplicateAuthKey(t *testing.T, s identity.Store) {
	a := newApp(t, s)
	dup := &identity.Application{Name: "dup", AuthKey: a.AuthKey, AuthSecret: "x", CreatedAt: t0, UpdatedAt: t0}
	err := s.CreateApplication(t.Context(), dup)
	wantErr(t, "CreateApplication with a taken auth key", err, identity.ErrInvalidInput)
	var e *identity.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *identity.Error", err)
	}
	apps, err := s.Applications(t.Context())
	wantErr(t, "Applications", err, nil)
	if len(apps) != 1 {
		t.Fatalf("Applications after a rejected duplicate: %d, want 1", len(apps))
	}
}

func testUpdateApplication(t *testing.T, s identity.Store) {
	ctx := t.Context()
	a, b := newApp(t, s), newApp(t, s)
	upd := *a
	upd.Name = "renamed"
	upd.Settings = identity.AppSettings{DenyAutoCreate: true, SessionIdle: time.Hour}
	upd.UpdatedAt = t0.Add(time.Hour)
	wantErr(t, "UpdateApplication", s.UpdateApplication(ctx, &upd), nil)
	got, err := s.Application(ctx, a.ID)
	wantErr(t, "Application", err, nil)
	if got.Name != "renamed" || !got.Settings.DenyAutoCreate || got.Settings.SessionIdle != time.Hour || got.AuthKey != a.AuthKey {
		t.Fatalf("after UpdateApplication: %s", dump(got))
	}
	gotB, err := s.Application(ctx, b.ID)
	wantErr(t, "Application", err, nil)
	if gotB.Name != b.Name || gotB.Settings.DenyAutoCreate {
		t.Fatalf("UpdateApplication changed another application: %s", dump(gotB))
	}
	missing := *a
	missing.ID = b.ID + 1000
	wantErr(t, "UpdateApplication of a missing application", s.UpdateApplication(ctx, &missing), identity.ErrApplicationNotFound)
}

func testApplications(t *testing.T, s identity.Store) {
	apps, err := s.Applications(t.Context())
	wantErr(t, "Applications", err, nil)
	if len(apps) != 0 {
		t.Fatalf("Applications of an empty store: %d", len(apps))
	}
	var want []int64
	for range 3 {
		want = append(want, newApp(t, s).ID)
	}
	apps, err = s.Applications(t.Context())
	wantErr(t, "Applications", err, nil)
	var got []int64
	for _, a := range apps {
		got = append(got, a.ID)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Applications ids = %v, want %v", got, want)
	}
}

// --- users ---

func testCreateUser(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	full := &identity.User{
		ApplicationID:  app.ID,
		UID:            uid(),
		Login:          "Alice",
		Email:          "alice@example.com",
		FullName:       "Alice Liddell",
		Phone:          "+15550100",
		Website:        "https://alice.example",
		ExternalID:     "ext-1",
		ExternalUserID: 4242,
		FacebookID:     "fb1",
		TwitterID:      "tw1",
		CustomData:     `{"level":3,"note":"ünïcødé"}`,
		Avatar:         "https://cdn.example/a.png",
		BlobID:         77,
		Timezone:       ptr(-330),
		Tags:           []string{"Blue", "green", "Red"},
		PasswordHash:   "$argon2id$v=19$m=65536,t=1,p=2$c2FsdA$aGFzaA",
		CreatedAt:      t0,
		UpdatedAt:      t0.Add(time.Minute),
		LastRequestAt:  t0.Add(2 * time.Minute),
	}
	guest := &identity.User{
		ApplicationID:  app.ID,
		UID:            uid(),
		Login:          "guest_login_0123",
		IsGuest:        true,
		GuestExpiresAt: t0.Add(24 * time.Hour),
		Timezone:       ptr(0),
		CreatedAt:      t0,
		UpdatedAt:      t0,
	}
	minimal := &identity.User{ApplicationID: app.ID, UID: uid(), Email: "min@example.com", CreatedAt: t0, UpdatedAt: t0}
	for _, u := range []*identity.User{full, guest, minimal} {
		want := normUser(u)
		if err := s.CreateUser(ctx, u, nil); err != nil {
			t.Fatalf("CreateUser(%s): %v", u.UID, err)
		}
		if u.ID == 0 {
			t.Fatal("CreateUser did not set ID")
		}
		want.ID = u.ID
		got, err := s.User(ctx, app.ID, u.ID)
		wantErr(t, "User", err, nil)
		checkUser(t, "User after CreateUser", got, &want)
	}
	if full.ID == guest.ID || guest.ID == minimal.ID {
		t.Fatal("users share an ID")
	}
}

func testUserScoped(t *testing.T, s identity.Store) {
	a, b := newApp(t, s), newApp(t, s)
	u := newUser(t, s, a.ID, "scoped", "scoped@example.com")
	tests := []struct {
		appID, id int64
		wantErr   error
	}{
		{a.ID, u.ID, nil},
		{b.ID, u.ID, identity.ErrUserNotFound},
		{a.ID, u.ID + 1000, identity.ErrUserNotFound},
		{a.ID, 0, identity.ErrUserNotFound},
	}
	for _, tc := range tests {
		_, err := s.User(t.Context(), tc.appID, tc.id)
		wantErr(t, fmt.Sprintf("User(%d, %d)", tc.appID, tc.id), err, tc.wantErr)
	}
}

func testUserByLogin(t *testing.T, s identity.Store) {
	a, b := newApp(t, s), newApp(t, s)
	u := newUser(t, s, a.ID, "MixedCase", "")
	newUser(t, s, a.ID, "other", "")
	tests := []struct {
		appID   int64
		login   string
		wantErr error
	}{
		{a.ID, "MixedCase", nil},
		{a.ID, "mixedcase", nil},
		{a.ID, "MIXEDCASE", nil},
		{b.ID, "MixedCase", identity.ErrUserNotFound},
		{a.ID, "Mixed", identity.ErrUserNotFound},
		{a.ID, "", identity.ErrUserNotFound},
	}
	for _, tc := range tests {
		got, err := s.UserByLogin(t.Context(), tc.appID, tc.login)
		wantErr(t, fmt.Sprintf("UserByLogin(%d, %q)", tc.appID, tc.login), err, tc.wantErr)
		if tc.wantErr == nil && (got.ID != u.ID || got.Login != "MixedCase") {
			t.Fatalf("UserByLogin(%q) = id %d login %q, want id %d login MixedCase", tc.login, got.ID, got.Login, u.ID)
		}
	}
}

func testUserByEmail(t *testing.T, s identity.Store) {
	a, b := newApp(t, s), newApp(t, s)
	u := newUser(t, s, a.ID, "", "bob@example.com")
	newUser(t, s, a.ID, "", "rob@example.com")
	tests := []struct {
		appID   int64
		email   string
		wantErr error
	}{
		{a.ID, "bob@example.com", nil},
		{a.ID, "BOB@Example.COM", nil},
		{b.ID, "bob@example.com", identity.ErrUserNotFound},
		{a.ID, "bob@example.org", identity.ErrUserNotFound},
		{a.ID, "", identity.ErrUserNotFound},
	}
	for _, tc := range tests {
		got, err := s.UserByEmail(t.Context(), tc.appID, tc.email)
		wantErr(t, fmt.Sprintf("UserByEmail(%d, %q)", tc.appID, tc.email), err, tc.wantErr)
		if tc.wantErr == nil && got.ID != u.ID {
			t.Fatalf("UserByEmail(%q) = id %d, want %d", tc.email, got.ID, u.ID)
		}
	}
}

func testDuplicateUser(t *testing.T, s identity.Store) {
	app := newApp(t, s)
	newUser(t, s, app.ID, "Taken", "taken@example.com")
	tests := []struct {
		name, login, email, field string
	}{
		{"same login", "Taken", "", "login"},
		{"login other case", "tAKEN", "new1@example.com", "login"},
		{"same email", "", "taken@example.com", "email"},
		{"email other case", "fresh", "TAKEN@EXAMPLE.COM", "email"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := mkUser(app.ID, tc.login, tc.email)
			err := s.CreateUser(t.Context(), u, nil)
			wantField(t, "CreateUser", err, identity.ErrUserExists, tc.field, "taken")
			if tc.login != "" {
				if got, err := s.UserByLogin(t.Context(), app.ID, tc.login); err == nil && got.Login != "Taken" {
					t.Fatalf("rejected user was stored: %s", dump(got))
				}
			}
		})
	}
}

func testSameLoginOtherApp(t *testing.T, s identity.Store) {
	a, b := newApp(t, s), newApp(t, s)
	ua := newUser(t, s, a.ID, "shared", "shared@example.com")
	ub := newUser(t, s, b.ID, "SHARED", "Shared@example.com")
	if ua.ID == ub.ID {
		t.Fatal("users of two applications share an ID")
	}
	for _, tc := range []struct{ app, want int64 }{{a.ID, ua.ID}, {b.ID, ub.ID}} {
		got, err := s.UserByLogin(t.Context(), tc.app, "shared")
		wantErr(t, "UserByLogin", err, nil)
		if got.ID != tc.want {
			t.Fatalf("UserByLogin in app %d = %d, want %d", tc.app, got.ID, tc.want)
		}
		got, err = s.UserByEmail(t.Context(), tc.app, "shared@example.com")
		wantErr(t, "UserByEmail", err, nil)
		if got.ID != tc.want {
			t.Fatalf("UserByEmail in app %d = %d, want %d", tc.app, got.ID, tc.want)
		}
	}
}

func testEmptyLoginEmail(t *testing.T, s identity.Store) {
	app := newApp(t, s)
	newUser(t, s, app.ID, "", "one@example.com")
	newUser(t, s, app.ID, "", "two@example.com")
	newUser(t, s, app.ID, "three", "")
	newUser(t, s, app.ID, "four", "")
	u := &identity.User{ApplicationID: app.ID, UID: uid(), CreatedAt: t0, UpdatedAt: t0}
	wantErr(t, "CreateUser without login and email", s.CreateUser(t.Context(), u, &identity.ExternalAccount{Provider: "p", Subject: "s1"}), nil)
	v := &identity.User{ApplicationID: app.ID, UID: uid(), CreatedAt: t0, UpdatedAt: t0}
	wantErr(t, "second CreateUser without login and email", s.CreateUser(t.Context(), v, &identity.ExternalAccount{Provider: "p", Subject: "s2"}), nil)
}

func testUserByExternalUserID(t *testing.T, s identity.Store) {
	a, b := newApp(t, s), newApp(t, s)
	u := mkUser(a.ID, "ext", "")
	u.ExternalUserID = 9001
	wantErr(t, "CreateUser", s.CreateUser(t.Context(), u, nil), nil)
	newUser(t, s, a.ID, "noext", "")
	tests := []struct {
		appID, ext int64
		wantErr    error
	}{
		{a.ID, 9001, nil},
		{b.ID, 9001, identity.ErrUserNotFound},
		{a.ID, 9002, identity.ErrUserNotFound},
		{a.ID, 0, identity.ErrUserNotFound},
	}
	for _, tc := range tests {
		got, err := s.UserByExternalUserID(t.Context(), tc.appID, tc.ext)
		wantErr(t, fmt.Sprintf("UserByExternalUserID(%d, %d)", tc.appID, tc.ext), err, tc.wantErr)
		if tc.wantErr == nil && got.ID != u.ID {
			t.Fatalf("UserByExternalUserID = %d, want %d", got.ID, u.ID)
		}
	}
}

func testExternalAccount(t *testing.T, s identity.Store) {
	ctx := t.Context()
	a, b := newApp(t, s), newApp(t, s)
	u := mkUser(a.ID, "", "")
	u.FullName = "Firebase User"
	acct := &identity.ExternalAccount{ApplicationID: a.ID, Provider: "firebase_phone", Subject: "uid-1", CreatedAt: t0}
	wantErr(t, "CreateUser with account", s.CreateUser(ctx, u, acct), nil)
	if acct.UserID != u.ID || u.ID == 0 {
		t.Fatalf("account UserID = %d, user ID = %d", acct.UserID, u.ID)
	}
	// The same subject at another provider, and in another application, are other accounts.
	v := mkUser(a.ID, "", "")
	wantErr(t, "CreateUser same subject other provider", s.CreateUser(ctx, v, &identity.ExternalAccount{ApplicationID: a.ID, Provider: "cidp", Subject: "uid-1", CreatedAt: t0}), nil)
	w := mkUser(b.ID, "", "")
	wantErr(t, "CreateUser same subject other application", s.CreateUser(ctx, w, &identity.ExternalAccount{ApplicationID: b.ID, Provider: "firebase_phone", Subject: "uid-1", CreatedAt: t0}), nil)

	tests := []struct {
		appID             int64
		provider, subject string
		wantID            int64
		wantErr           error
	}{
		{a.ID, "firebase_phone", "uid-1", u.ID, nil},
		{a.ID, "cidp", "uid-1", v.ID, nil},
		{b.ID, "firebase_phone", "uid-1", w.ID, nil},
		{b.ID, "cidp", "uid-1", 0, identity.ErrUserNotFound},
		{a.ID, "firebase_phone", "uid-2", 0, identity.ErrUserNotFound},
		{a.ID, "firebase_email", "uid-1", 0, identity.ErrUserNotFound},
		{a.ID, "firebase_phone", "UID-1", 0, identity.ErrUserNotFound},
	}
	for _, tc := range tests {
		got, err := s.UserByExternalAccount(ctx, tc.appID, tc.provider, tc.subject)
		wantErr(t, fmt.Sprintf("UserByExternalAccount(%d, %q, %q)", tc.appID, tc.provider, tc.subject), err, tc.wantErr)
		if tc.wantErr == nil && got.ID != tc.wantID {
			t.Fatalf("UserByExternalAccount(%d, %q, %q) = %d, want %d", tc.appID, tc.provider, tc.subject, got.ID, tc.wantID)
		}
		if tc.wantErr == nil && got.FullName != "Firebase User" && tc.wantID == u.ID {
			t.Fatalf("UserByExternalAccount returned %s", dump(got))
		}
	}
}

func testDuplicateExternalAccount(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	u := mkUser(app.ID, "", "")
	wantErr(t, "CreateUser", s.CreateUser(ctx, u, &identity.ExternalAccount{ApplicationID: app.ID, Provider: "cidp", Subject: "42", CreatedAt: t0}), nil)
	dup := mkUser(app.ID, "dupacct", "")
	err := s.CreateUser(ctx, dup, &identity.ExternalAccount{ApplicationID: app.ID, Provider: "cidp", Subject: "42", CreatedAt: t0})
	wantField(t, "CreateUser with a taken account", err, identity.ErrUserExists, "external_account", "taken")
	_, err = s.UserByLogin(ctx, app.ID, "dupacct")
	wantErr(t, "UserByLogin of the rejected user", err, identity.ErrUserNotFound)
	got, err := s.UserByExternalAccount(ctx, app.ID, "cidp", "42")
	wantErr(t, "UserByExternalAccount", err, nil)
	if got.ID != u.ID {
		t.Fatalf("account now belongs to %d, want %d", got.ID, u.ID)
	}
}

func testConflictWritesNothing(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	newUser(t, s, app.ID, "owner", "owner@example.com")
	u := mkUser(app.ID, "OWNER", "")
	u.Tags = []string{"x"}
	err := s.CreateUser(ctx, u, &identity.ExternalAccount{ApplicationID: app.ID, Provider: "cidp", Subject: "new", CreatedAt: t0})
	wantField(t, "CreateUser", err, identity.ErrUserExists, "login", "taken")
	_, err = s.UserByExternalAccount(ctx, app.ID, "cidp", "new")
	wantErr(t, "UserByExternalAccount after a failed CreateUser", err, identity.ErrUserNotFound)
	// The account is still free.
	v := mkUser(app.ID, "", "")
	wantErr(t, "CreateUser with the account", s.CreateUser(ctx, v, &identity.ExternalAccount{ApplicationID: app.ID, Provider: "cidp", Subject: "new", CreatedAt: t0}), nil)
}

// testUnstorableText checks that text no database column can hold (NUL bytes, invalid UTF-8)
// is either stored or rejected as ErrInvalidInput, never an internal failure, and that lookups
// with it find nothing.
func testUnstorableText(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	for _, bad := range []string{"nul\x00byte", "bad\xff\xfeutf8"} {
		_, err := s.UserByLogin(ctx, app.ID, bad)
		wantErr(t, fmt.Sprintf("UserByLogin(%q)", bad), err, identity.ErrUserNotFound)
		_, err = s.UserByEmail(ctx, app.ID, bad)
		wantErr(t, fmt.Sprintf("UserByEmail(%q)", bad), err, identity.ErrUserNotFound)
		_, err = s.UserByExternalAccount(ctx, app.ID, "cidp", bad)
		wantErr(t, fmt.Sprintf("UserByExternalAccount(%q)", bad), err, identity.ErrUserNotFound)
		_, err = s.ApplicationByAuthKey(ctx, bad)
		wantErr(t, fmt.Sprintf("ApplicationByAuthKey(%q)", bad), err, identity.ErrApplicationNotFound)

		u := mkUser(app.ID, "", "")
		u.CustomData = bad
		if err := s.CreateUser(ctx, u, nil); err != nil && !errors.Is(err, identity.ErrInvalidInput) {
			t.Fatalf("CreateUser with custom data %q: %v, want nil or ErrInvalidInput", bad, err)
		}
		sess := mkSession(app.ID, 0, "tok"+bad, t0)
		sess.Nonce = bad
		if err := s.CreateSession(ctx, sess); err != nil && !errors.Is(err, identity.ErrInvalidInput) {
			t.Fatalf("CreateSession with nonce %q: %v, want nil or ErrInvalidInput", bad, err)
		}
		if err := s.UseNonce(ctx, app.ID, 1, bad, t0); err != nil && !errors.Is(err, identity.ErrInvalidSignature) {
			t.Fatalf("UseNonce(%q): %v, want nil or ErrInvalidSignature", bad, err)
		}
	}
}

func testUpdateUser(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	u := mkUser(app.ID, "before", "before@example.com")
	u.FullName = "Before"
	u.Tags = []string{"a", "b"}
	u.Timezone = ptr(60)
	u.ExternalUserID = 5
	u.IsGuest = true
	u.GuestExpiresAt = t0.Add(time.Hour)
	wantErr(t, "CreateUser", s.CreateUser(ctx, u, nil), nil)
	other := newUser(t, s, app.ID, "bystander", "bystander@example.com")

	upd := *u
	upd.UID = "ffffffffffffffffffffffff"
	upd.CreatedAt = t0.Add(99 * time.Hour)
	upd.Login = "After"
	upd.Email = "after@example.com"
	upd.FullName = ""
	upd.Phone = "+100"
	upd.Website = "https://after.example"
	upd.ExternalID = "e"
	upd.ExternalUserID = 0
	upd.FacebookID = "f"
	upd.TwitterID = "t"
	upd.CustomData = "{}"
	upd.Avatar = "av"
	upd.BlobID = 3
	upd.Timezone = nil
	upd.Tags = []string{"C"}
	upd.IsGuest = false
	upd.GuestExpiresAt = time.Time{}
	upd.PasswordHash = "hash"
	upd.UpdatedAt = t0.Add(time.Hour)
	upd.LastRequestAt = t0.Add(30 * time.Minute) // only TouchSession writes it
	wantErr(t, "UpdateUser", s.UpdateUser(ctx, &upd), nil)

	want := upd
	want.UID = u.UID
	want.CreatedAt = u.CreatedAt
	want.LastRequestAt = u.LastRequestAt
	got, err := s.User(ctx, app.ID, u.ID)
	wantErr(t, "User", err, nil)
	checkUser(t, "User after UpdateUser", got, &want)

	if _, err := s.UserByLogin(ctx, app.ID, "before"); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("old login still found: %v", err)
	}
	if _, err := s.UserByEmail(ctx, app.ID, "before@example.com"); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("old email still found: %v", err)
	}
	if got, err := s.UserByLogin(ctx, app.ID, "after"); err != nil || got.ID != u.ID {
		t.Fatalf("UserByLogin(after) = %v, %v", got, err)
	}
	// The freed login can be taken by someone else.
	newUser(t, s, app.ID, "before", "before@example.com")
	// Other users are untouched.
	gotOther, err := s.User(ctx, app.ID, other.ID)
	wantErr(t, "User", err, nil)
	checkUser(t, "bystander", gotOther, other)
}

func testUpdateUserConflicts(t *testing.T, s identity.Store) {
	app := newApp(t, s)
	newUser(t, s, app.ID, "first", "first@example.com")
	u := newUser(t, s, app.ID, "second", "second@example.com")
	tests := []struct {
		name         string
		login, email string
		field        string
	}{
		{"login taken", "first", "second@example.com", "login"},
		{"login taken other case", "FIRST", "second@example.com", "login"},
		{"email taken", "second", "First@Example.com", "email"},
		{"own login other case", "SECOND", "second@example.com", ""},
		{"own email other case", "SECOND", "SECOND@example.com", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			upd := *u
			upd.Login, upd.Email = tc.login, tc.email
			if got := updateTaken(t, s, &upd, tc.field); got != nil && identity.NormalizeLogin(got.Login) != "second" {
				t.Fatalf("rejected update was stored: %s", dump(got))
			}
		})
	}
}

func testUpdateUserNotFound(t *testing.T, s identity.Store) {
	a, b := newApp(t, s), newApp(t, s)
	u := newUser(t, s, a.ID, "present", "")
	gone := *u
	gone.ID = u.ID + 1000
	wantErr(t, "UpdateUser of a missing user", s.UpdateUser(t.Context(), &gone), identity.ErrUserNotFound)
	wrongApp := *u
	wrongApp.ApplicationID = b.ID
	wrongApp.FullName = "hijack"
	wantErr(t, "UpdateUser in another application", s.UpdateUser(t.Context(), &wrongApp), identity.ErrUserNotFound)
	got, err := s.User(t.Context(), a.ID, u.ID)
	wantErr(t, "User", err, nil)
	if got.FullName != "" || got.ApplicationID != a.ID {
		t.Fatalf("UpdateUser in another application changed the user: %s", dump(got))
	}
}

func testDeleteUser(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	u := mkUser(app.ID, "doomed", "doomed@example.com")
	u.Tags = []string{"t"}
	wantErr(t, "CreateUser", s.CreateUser(ctx, u, &identity.ExternalAccount{ApplicationID: app.ID, Provider: "cidp", Subject: "d", CreatedAt: t0}), nil)
	keep := newUser(t, s, app.ID, "keeper", "")
	s1 := newSession(t, s, app.ID, u.ID, "doomed-1", t0)
	s2 := newSession(t, s, app.ID, u.ID, "doomed-2", t0.Add(time.Second))
	ks := newSession(t, s, app.ID, keep.ID, "keeper-1", t0)
	as := newSession(t, s, app.ID, 0, "app-1", t0)

	wantErr(t, "DeleteUser", s.DeleteUser(ctx, app.ID, u.ID), nil)

	_, err := s.User(ctx, app.ID, u.ID)
	wantErr(t, "User after DeleteUser", err, identity.ErrUserNotFound)
	for _, sess := range []*identity.Session{s1, s2} {
		_, err := s.SessionByTokenHash(ctx, sess.TokenHash)
		wantErr(t, "SessionByTokenHash of a deleted user's session", err, identity.ErrSessionNotFound)
	}
	_, err = s.UserByExternalAccount(ctx, app.ID, "cidp", "d")
	wantErr(t, "UserByExternalAccount after DeleteUser", err, identity.ErrUserNotFound)
	list, err := s.UserSessions(ctx, u.ID)
	wantErr(t, "UserSessions", err, nil)
	if len(list) != 0 {
		t.Fatalf("deleted user still has %d sessions", len(list))
	}
	for _, sess := range []*identity.Session{ks, as} {
		if _, err := s.SessionByTokenHash(ctx, sess.TokenHash); err != nil {
			t.Fatalf("DeleteUser removed an unrelated session: %v", err)
		}
	}
	if _, err := s.User(ctx, app.ID, keep.ID); err != nil {
		t.Fatalf("DeleteUser removed another user: %v", err)
	}
}

func testDeleteUserNotFound(t *testing.T, s identity.Store) {
	ctx := t.Context()
	a, b := newApp(t, s), newApp(t, s)
	u := newUser(t, s, a.ID, "survivor", "")
	sess := newSession(t, s, a.ID, u.ID, "survivor", t0)
	wantErr(t, "DeleteUser in another application", s.DeleteUser(ctx, b.ID, u.ID), identity.ErrUserNotFound)
	wantErr(t, "DeleteUser of a missing user", s.DeleteUser(ctx, a.ID, u.ID+1000), identity.ErrUserNotFound)
	if _, err := s.User(ctx, a.ID, u.ID); err != nil {
		t.Fatalf("user gone after a rejected DeleteUser: %v", err)
	}
	if _, err := s.SessionByTokenHash(ctx, sess.TokenHash); err != nil {
		t.Fatalf("session gone after a rejected DeleteUser: %v", err)
	}
	wantErr(t, "DeleteUser", s.DeleteUser(ctx, a.ID, u.ID), nil)
	wantErr(t, "second DeleteUser", s.DeleteUser(ctx, a.ID, u.ID), identity.ErrUserNotFound)
}

func testDeleteFreesUnique(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	u := mkUser(app.ID, "reuse", "reuse@example.com")
	u.ExternalUserID, u.FacebookID, u.TwitterID = 5, "fb5", "tw5"
	wantErr(t, "CreateUser", s.CreateUser(ctx, u, &identity.ExternalAccount{ApplicationID: app.ID, Provider: "cidp", Subject: "r", CreatedAt: t0}), nil)
	wantErr(t, "DeleteUser", s.DeleteUser(ctx, app.ID, u.ID), nil)
	v := mkUser(app.ID, "REUSE", "Reuse@example.com")
	v.ExternalUserID, v.FacebookID, v.TwitterID = 5, "fb5", "tw5"
	wantErr(t, "CreateUser with the freed login, email, external ids and account", s.CreateUser(ctx, v, &identity.ExternalAccount{ApplicationID: app.ID, Provider: "cidp", Subject: "r", CreatedAt: t0}), nil)
	if v.ID == u.ID {
		t.Fatalf("a deleted user's ID %d was reused", u.ID)
	}
}

// --- sessions ---

func testCreateSession(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	u := newUser(t, s, app.ID, "sess", "")
	appSess := newSession(t, s, app.ID, 0, "app-token", t0)
	userSess := mkSession(app.ID, u.ID, "user-token", t0.Add(time.Second))
	userSess.Idle = 24 * time.Hour
	userSess.AbsoluteExpiresAt = time.Time{}
	userSess.LastActiveAt = t0.Add(5 * time.Second)
	userSess.ExpiresAt = t0.Add(24 * time.Hour)
	userSess.UpdatedAt = t0.Add(3 * time.Second)
	wantErr(t, "CreateSession", s.CreateSession(ctx, userSess), nil)
	if appSess.ID == userSess.ID || userSess.ID == 0 {
		t.Fatalf("session IDs %d, %d", appSess.ID, userSess.ID)
	}
	for _, want := range []*identity.Session{appSess, userSess} {
		got, err := s.SessionByTokenHash(ctx, want.TokenHash)
		wantErr(t, "SessionByTokenHash", err, nil)
		checkSession(t, "session", got, want)
	}
	dup := mkSession(app.ID, 0, "app-token", t0)
	if err := s.CreateSession(ctx, dup); err == nil {
		t.Fatal("CreateSession accepted a token hash that is already stored")
	}
}

func testSessionByTokenHash(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	expired := mkSession(app.ID, 0, "expired", t0.Add(-48*time.Hour))
	wantErr(t, "CreateSession", s.CreateSession(ctx, expired), nil)
	tests := []struct {
		name    string
		hash    []byte
		wantErr error
	}{
		{"expired is returned", expired.TokenHash, nil},
		{"unknown", identity.HashToken("nope"), identity.ErrSessionNotFound},
		{"empty", nil, identity.ErrSessionNotFound},
		{"prefix", expired.TokenHash[:16], identity.ErrSessionNotFound},
	}
	for _, tc := range tests {
		got, err := s.SessionByTokenHash(ctx, tc.hash)
		wantErr(t, tc.name, err, tc.wantErr)
		if tc.wantErr == nil && got.ID != expired.ID {
			t.Fatalf("%s: got session %d, want %d", tc.name, got.ID, expired.ID)
		}
	}
}

func testSetSessionUser(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	u := newUser(t, s, app.ID, "login", "")
	sess := newSession(t, s, app.ID, 0, "upgrade", t0)
	exp := t0.Add(5 * time.Hour)
	up := *sess
	up.UserID = u.ID
	up.Idle = 24 * time.Hour
	up.AbsoluteExpiresAt = t0.Add(24 * time.Hour)
	up.ExpiresAt = exp
	up.UpdatedAt = t0.Add(time.Minute)
	up.LastActiveAt = t0.Add(10 * time.Hour) // not SetSessionUser's to store
	wantErr(t, "SetSessionUser", s.SetSessionUser(ctx, &up), nil)
	got, err := s.SessionByTokenHash(ctx, sess.TokenHash)
	wantErr(t, "SessionByTokenHash", err, nil)
	if got.UserID != u.ID || !got.ExpiresAt.Equal(exp) || got.Idle != 24*time.Hour ||
		!got.AbsoluteExpiresAt.Equal(t0.Add(24*time.Hour)) || !got.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after SetSessionUser: %s", dump(got))
	}
	if !got.LastActiveAt.Equal(sess.LastActiveAt) {
		t.Fatalf("SetSessionUser changed LastActiveAt to %v", got.LastActiveAt)
	}
	list, err := s.UserSessions(ctx, u.ID)
	wantErr(t, "UserSessions", err, nil)
	if len(list) != 1 || list[0].ID != sess.ID {
		t.Fatalf("UserSessions after SetSessionUser = %s", dump(list))
	}
	down := up
	down.UserID = 0
	down.Idle = 2 * time.Hour
	down.ExpiresAt = t0.Add(time.Hour)
	wantErr(t, "SetSessionUser back to application session", s.SetSessionUser(ctx, &down), nil)
	got, err = s.SessionByTokenHash(ctx, sess.TokenHash)
	wantErr(t, "SessionByTokenHash", err, nil)
	if got.UserID != 0 || !got.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after logout: %s", dump(got))
	}
	gone := up
	gone.ID = sess.ID + 1000
	wantErr(t, "SetSessionUser of a missing session", s.SetSessionUser(ctx, &gone), identity.ErrSessionNotFound)
}

func testTouchSession(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	u := newUser(t, s, app.ID, "toucher", "")
	sess := newSession(t, s, app.ID, u.ID, "touch", t0)
	other := newSession(t, s, app.ID, u.ID, "untouched", t0)

	later := t0.Add(10 * time.Minute)
	wantErr(t, "TouchSession", s.TouchSession(ctx, sess.ID, u.ID, later, later.Add(2*time.Hour)), nil)
	// An older write (a slower process) must not move the session or the user back.
	older := t0.Add(5 * time.Minute)
	wantErr(t, "TouchSession with an older time", s.TouchSession(ctx, sess.ID, u.ID, older, older.Add(2*time.Hour)), nil)

	got, err := s.SessionByTokenHash(ctx, sess.TokenHash)
	wantErr(t, "SessionByTokenHash", err, nil)
	if !got.LastActiveAt.Equal(later) || !got.ExpiresAt.Equal(later.Add(2*time.Hour)) {
		t.Fatalf("after touches: last active %v expires %v, want %v %v", got.LastActiveAt, got.ExpiresAt, later, later.Add(2*time.Hour))
	}
	usr, err := s.User(ctx, app.ID, u.ID)
	wantErr(t, "User", err, nil)
	if !usr.LastRequestAt.Equal(later) {
		t.Fatalf("user last request %v, want %v", usr.LastRequestAt, later)
	}
	gotOther, err := s.SessionByTokenHash(ctx, other.TokenHash)
	wantErr(t, "SessionByTokenHash", err, nil)
	checkSession(t, "untouched session", gotOther, other)

	// A touch of another session with an older time does not move the user's LastRequestAt back.
	wantErr(t, "TouchSession other", s.TouchSession(ctx, other.ID, u.ID, older, older.Add(time.Hour)), nil)
	usr, err = s.User(ctx, app.ID, u.ID)
	wantErr(t, "User", err, nil)
	if !usr.LastRequestAt.Equal(later) {
		t.Fatalf("user last request moved back to %v", usr.LastRequestAt)
	}
	gotOther, err = s.SessionByTokenHash(ctx, other.TokenHash)
	wantErr(t, "SessionByTokenHash", err, nil)
	if !gotOther.LastActiveAt.Equal(older) {
		t.Fatalf("other session last active %v, want %v", gotOther.LastActiveAt, older)
	}

	// An application session touches no user.
	as := newSession(t, s, app.ID, 0, "app", t0)
	wantErr(t, "TouchSession of an application session", s.TouchSession(ctx, as.ID, 0, later.Add(time.Hour), later.Add(3*time.Hour)), nil)
	gotApp, err := s.SessionByTokenHash(ctx, as.TokenHash)
	wantErr(t, "SessionByTokenHash", err, nil)
	if !gotApp.LastActiveAt.Equal(later.Add(time.Hour)) {
		t.Fatalf("application session last active %v", gotApp.LastActiveAt)
	}

	// Session 0 touches only the user.
	latest := later.Add(2 * time.Hour)
	wantErr(t, "TouchSession of a user alone", s.TouchSession(ctx, 0, u.ID, latest, latest), nil)
	usr, err = s.User(ctx, app.ID, u.ID)
	wantErr(t, "User", err, nil)
	if !usr.LastRequestAt.Equal(latest) {
		t.Fatalf("user last request %v, want %v", usr.LastRequestAt, latest)
	}
	gotSess, err := s.SessionByTokenHash(ctx, sess.TokenHash)
	wantErr(t, "SessionByTokenHash", err, nil)
	if !gotSess.LastActiveAt.Equal(later) {
		t.Fatalf("TouchSession(0, user) moved a session to %v", gotSess.LastActiveAt)
	}
}

func testTouchMissing(t *testing.T, s identity.Store) {
	app := newApp(t, s)
	u := newUser(t, s, app.ID, "nosession", "")
	wantErr(t, "TouchSession of a missing session", s.TouchSession(t.Context(), 12345, u.ID, t0, t0.Add(time.Hour)), nil)
	wantErr(t, "TouchSession of a missing session and user", s.TouchSession(t.Context(), 12345, u.ID+1000, t0, t0.Add(time.Hour)), nil)
}

func testDeleteSession(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	a := newSession(t, s, app.ID, 0, "a", t0)
	b := newSession(t, s, app.ID, 0, "b", t0)
	wantErr(t, "DeleteSession", s.DeleteSession(ctx, a.ID), nil)
	_, err := s.SessionByTokenHash(ctx, a.TokenHash)
	wantErr(t, "SessionByTokenHash of a deleted session", err, identity.ErrSessionNotFound)
	if _, err := s.SessionByTokenHash(ctx, b.TokenHash); err != nil {
		t.Fatalf("DeleteSession removed another session: %v", err)
	}
	wantErr(t, "DeleteSession again", s.DeleteSession(ctx, a.ID), nil)
	wantErr(t, "DeleteSession of a never-existing session", s.DeleteSession(ctx, b.ID+1000), nil)
}

func testDeleteUserSessions(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	u := newUser(t, s, app.ID, "many", "")
	v := newUser(t, s, app.ID, "bystander", "")
	var mine []*identity.Session
	for i := range 4 {
		mine = append(mine, newSession(t, s, app.ID, u.ID, fmt.Sprintf("u-%d", i), t0.Add(time.Duration(i)*time.Second)))
	}
	theirs := newSession(t, s, app.ID, v.ID, "v-0", t0)
	appSess := newSession(t, s, app.ID, 0, "app-0", t0)

	n, err := s.DeleteUserSessions(ctx, u.ID, mine[1].ID)
	wantErr(t, "DeleteUserSessions", err, nil)
	if n != 3 {
		t.Fatalf("DeleteUserSessions deleted %d, want 3", n)
	}
	list, err := s.UserSessions(ctx, u.ID)
	wantErr(t, "UserSessions", err, nil)
	if len(list) != 1 || list[0].ID != mine[1].ID {
		t.Fatalf("remaining sessions %s, want only %d", dump(list), mine[1].ID)
	}
	for _, sess := range []*identity.Session{theirs, appSess} {
		if _, err := s.SessionByTokenHash(ctx, sess.TokenHash); err != nil {
			t.Fatalf("DeleteUserSessions removed an unrelated session: %v", err)
		}
	}
	n, err = s.DeleteUserSessions(ctx, u.ID, 0)
	wantErr(t, "DeleteUserSessions without exception", err, nil)
	if n != 1 {
		t.Fatalf("DeleteUserSessions(except 0) deleted %d, want 1", n)
	}
	n, err = s.DeleteUserSessions(ctx, u.ID, 0)
	wantErr(t, "DeleteUserSessions of a user without sessions", err, nil)
	if n != 0 {
		t.Fatalf("DeleteUserSessions deleted %d, want 0", n)
	}
}

func testUserSessions(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	u := newUser(t, s, app.ID, "lister", "")
	v := newUser(t, s, app.ID, "other", "")
	oldest := newSession(t, s, app.ID, u.ID, "oldest", t0.Add(-72*time.Hour)) // expired
	newest := newSession(t, s, app.ID, u.ID, "newest", t0.Add(2*time.Hour))
	middle := newSession(t, s, app.ID, u.ID, "middle", t0)
	newSession(t, s, app.ID, v.ID, "not-mine", t0.Add(time.Hour))
	newSession(t, s, app.ID, 0, "app", t0.Add(time.Hour))

	list, err := s.UserSessions(ctx, u.ID)
	wantErr(t, "UserSessions", err, nil)
	var got []int64
	for _, x := range list {
		got = append(got, x.ID)
	}
	want := []int64{newest.ID, middle.ID, oldest.ID}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("UserSessions ids = %v, want %v (newest first)", got, want)
	}
	checkSession(t, "listed session", list[0], newest)
	list, err = s.UserSessions(ctx, u.ID+1000)
	wantErr(t, "UserSessions of an unknown user", err, nil)
	if len(list) != 0 {
		t.Fatalf("UserSessions of an unknown user: %d sessions", len(list))
	}
}

func testUseNonce(t *testing.T, s identity.Store) {
	ctx := t.Context()
	a, b := newApp(t, s), newApp(t, s)
	exp := t0.Add(time.Hour)
	tests := []struct {
		name    string
		appID   int64
		ts      int64
		nonce   string
		wantErr error
	}{
		{"first use", a.ID, 1000, "n1", nil},
		{"replay", a.ID, 1000, "n1", identity.ErrInvalidSignature},
		{"other nonce", a.ID, 1000, "n2", nil},
		{"other timestamp", a.ID, 1001, "n1", nil},
		{"other application", b.ID, 1000, "n1", nil},
		{"replay in other application", b.ID, 1000, "n1", identity.ErrInvalidSignature},
		{"nonce is case-sensitive", a.ID, 1000, "N1", nil},
		{"empty nonce", a.ID, 1002, "", nil},
		{"empty nonce replay", a.ID, 1002, "", identity.ErrInvalidSignature},
	}
	for _, tc := range tests {
		err := s.UseNonce(ctx, tc.appID, tc.ts, tc.nonce, exp)
		wantErr(t, tc.name, err, tc.wantErr)
	}
}

func testDeleteExpired(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	now := t0.Add(100 * time.Hour)

	regular := newUser(t, s, app.ID, "regular", "")
	live := newSession(t, s, app.ID, regular.ID, "live", now.Add(-time.Hour)) // expires now+1h
	dead1 := newSession(t, s, app.ID, regular.ID, "dead1", t0)                // expired
	dead2 := newSession(t, s, app.ID, 0, "dead2", t0)                         // expired app session
	edge := mkSession(app.ID, 0, "edge", t0)
	edge.ExpiresAt = now // not before now: kept
	wantErr(t, "CreateSession", s.CreateSession(ctx, edge), nil)

	mkGuest := func(login string, expires time.Time) *identity.User {
		g := mkUser(app.ID, login, "")
		g.IsGuest = true
		g.GuestExpiresAt = expires
		return g
	}
	oldGuest := mkGuest("guest_login_old", now.Add(-time.Minute))
	wantErr(t, "CreateUser guest", s.CreateUser(ctx, oldGuest, &identity.ExternalAccount{ApplicationID: app.ID, Provider: "guest", Subject: "old", CreatedAt: t0}), nil)
	guestSess := mkSession(app.ID, oldGuest.ID, "guest-live-session", now.Add(-time.Hour)) // not expired itself
	wantErr(t, "CreateSession", s.CreateSession(ctx, guestSess), nil)
	freshGuest := mkGuest("guest_login_fresh", now.Add(time.Minute))
	wantErr(t, "CreateUser guest", s.CreateUser(ctx, freshGuest, nil), nil)
	freshGuestSess := newSession(t, s, app.ID, freshGuest.ID, "fresh-guest", now.Add(-time.Hour))
	// A former guest (IsGuest false) is not deleted even with a past GuestExpiresAt.
	former := mkGuest("former", now.Add(-time.Hour))
	former.IsGuest = false
	wantErr(t, "CreateUser former guest", s.CreateUser(ctx, former, nil), nil)

	wantErr(t, "UseNonce", s.UseNonce(ctx, app.ID, 1, "old", now.Add(-time.Second)), nil)
	wantErr(t, "UseNonce", s.UseNonce(ctx, app.ID, 2, "new", now.Add(time.Second)), nil)

	p, err := s.DeleteExpired(ctx, now)
	wantErr(t, "DeleteExpired", err, nil)
	want := identity.Purged{Sessions: 3, Guests: 1, Nonces: 1}
	if p != want {
		t.Fatalf("DeleteExpired = %+v, want %+v", p, want)
	}
	for _, sess := range []*identity.Session{dead1, dead2, guestSess} {
		_, err := s.SessionByTokenHash(ctx, sess.TokenHash)
		wantErr(t, "SessionByTokenHash of a purged session", err, identity.ErrSessionNotFound)
	}
	for _, sess := range []*identity.Session{live, edge, freshGuestSess} {
		if _, err := s.SessionByTokenHash(ctx, sess.TokenHash); err != nil {
			t.Fatalf("DeleteExpired removed a live session: %v", err)
		}
	}
	_, err = s.User(ctx, app.ID, oldGuest.ID)
	wantErr(t, "User of an expired guest", err, identity.ErrUserNotFound)
	_, err = s.UserByExternalAccount(ctx, app.ID, "guest", "old")
	wantErr(t, "UserByExternalAccount of an expired guest", err, identity.ErrUserNotFound)
	for _, u := range []*identity.User{regular, freshGuest, former} {
		if _, err := s.User(ctx, app.ID, u.ID); err != nil {
			t.Fatalf("DeleteExpired removed user %q: %v", u.Login, err)
		}
	}
	// The purged nonce may be used again; the live one may not.
	wantErr(t, "UseNonce of a purged nonce", s.UseNonce(ctx, app.ID, 1, "old", now.Add(time.Hour)), nil)
	wantErr(t, "UseNonce of a live nonce", s.UseNonce(ctx, app.ID, 2, "new", now.Add(time.Hour)), identity.ErrInvalidSignature)

	p, err = s.DeleteExpired(ctx, now)
	wantErr(t, "second DeleteExpired", err, nil)
	if p != (identity.Purged{}) {
		t.Fatalf("second DeleteExpired = %+v, want nothing", p)
	}
}

// --- concurrency: uniqueness must be enforced by the storage ---

const concurrency = 50

// race runs fn concurrency times at once and returns the errors.
func race(fn func(i int) error) []error {
	errs := make([]error, concurrency)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range concurrency {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner checks that exactly one call succeeded and every other failed with sentinel (and,
// when field is not "", an *identity.Error naming field).
func oneWinner(t *testing.T, errs []error, sentinel error, field string) {
	t.Helper()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		if field != "" {
			wantField(t, "losing call", err, sentinel, field, "")
		} else {
			wantErr(t, "losing call", err, sentinel)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent calls succeeded, want exactly 1", ok, len(errs))
	}
}

func testConcurrentLogin(t *testing.T, s identity.Store) {
	app := newApp(t, s)
	spellings := []string{"racer", "Racer", "RACER", "rAcEr"}
	errs := race(func(i int) error {
		u := mkUser(app.ID, spellings[i%len(spellings)], "")
		return s.CreateUser(t.Context(), u, nil)
	})
	oneWinner(t, errs, identity.ErrUserExists, "login")
	if _, err := s.UserByLogin(t.Context(), app.ID, "racer"); err != nil {
		t.Fatalf("UserByLogin of the winner: %v", err)
	}
}

func testConcurrentEmail(t *testing.T, s identity.Store) {
	app := newApp(t, s)
	errs := race(func(i int) error {
		u := mkUser(app.ID, fmt.Sprintf("login%d", i), "Race@Example.com")
		if i%2 == 0 {
			u.Email = "race@example.com"
		}
		return s.CreateUser(t.Context(), u, nil)
	})
	oneWinner(t, errs, identity.ErrUserExists, "email")
}

func testConcurrentAccount(t *testing.T, s identity.Store) {
	app := newApp(t, s)
	errs := race(func(i int) error {
		u := mkUser(app.ID, "", "")
		return s.CreateUser(t.Context(), u, &identity.ExternalAccount{ApplicationID: app.ID, Provider: "firebase_phone", Subject: "same", CreatedAt: t0})
	})
	oneWinner(t, errs, identity.ErrUserExists, "external_account")
}

func testConcurrentNonce(t *testing.T, s identity.Store) {
	app := newApp(t, s)
	errs := race(func(i int) error {
		return s.UseNonce(t.Context(), app.ID, 777, "once", t0.Add(time.Hour))
	})
	oneWinner(t, errs, identity.ErrInvalidSignature, "")
}
