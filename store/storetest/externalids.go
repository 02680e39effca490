package storetest

import (
	"fmt"
	"testing"

	"github.com/identitykit/identity"
)

// The numeric external_user_id and the facebook_id and twitter_id of a user are unique per
// application (the text ones compared ASCII-case-insensitively, as searches compare them);
// unset values (0, "") never conflict.

var externalIDTests = []test{
	{"User/DuplicateExternalIDs", testDuplicateExternalIDs},
	{"User/UnsetExternalIDsNoConflict", testUnsetExternalIDs},
	{"User/SameExternalIDsOtherApplication", testExternalIDsOtherApp},
	{"User/UpdateExternalIDConflicts", testUpdateExternalIDConflicts},
	{"Concurrent/SameExternalUserID", testConcurrentExternalUserID},
}

// idCase is a user's external ids and the field a conflict must name ("" for none).
type idCase struct {
	name   string
	ext    int64
	fb, tw string
	field  string
}

// withIDs returns a new user of appID with the given external ids and no login or email.
func withIDs(appID, ext int64, fb, tw string) *identity.User {
	u := mkUser(appID, "", "")
	u.ExternalUserID, u.FacebookID, u.TwitterID = ext, fb, tw
	return u
}

func testDuplicateExternalIDs(t *testing.T, s identity.Store) {
	app := newApp(t, s)
	owner := withIDs(app.ID, 675373912, "fb100", "tw100")
	wantErr(t, "CreateUser", s.CreateUser(t.Context(), owner, nil), nil)
	tests := []idCase{
		{"same external_user_id", 675373912, "", "", "external_user_id"},
		{"same facebook_id", 0, "fb100", "", "facebook_id"},
		{"facebook_id other case", 0, "FB100", "", "facebook_id"},
		{"same twitter_id", 0, "", "tw100", "twitter_id"},
		{"twitter_id other case", 1, "fb101", "TW100", "twitter_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.CreateUser(t.Context(), withIDs(app.ID, tc.ext, tc.fb, tc.tw), nil)
			wantField(t, "CreateUser", err, identity.ErrUserExists, tc.field, "taken")
		})
	}
	got, err := s.UserByExternalUserID(t.Context(), app.ID, 675373912)
	wantErr(t, "UserByExternalUserID", err, nil)
	if got.ID != owner.ID {
		t.Fatalf("UserByExternalUserID = user %d, want the owner %d", got.ID, owner.ID)
	}
}

func testUnsetExternalIDs(t *testing.T, s identity.Store) {
	app := newApp(t, s)
	for i := range 3 {
		u := withIDs(app.ID, 0, "", "")
		u.Login = fmt.Sprintf("unset%d", i)
		wantErr(t, "CreateUser without external ids", s.CreateUser(t.Context(), u, nil), nil)
	}
}

func testExternalIDsOtherApp(t *testing.T, s identity.Store) {
	a, b := newApp(t, s), newApp(t, s)
	wantErr(t, "CreateUser in a", s.CreateUser(t.Context(), withIDs(a.ID, 42, "fb", "tw"), nil), nil)
	wantErr(t, "CreateUser in b with the same ids", s.CreateUser(t.Context(), withIDs(b.ID, 42, "fb", "tw"), nil), nil)
}

func testUpdateExternalIDConflicts(t *testing.T, s identity.Store) {
	ctx := t.Context()
	app := newApp(t, s)
	wantErr(t, "CreateUser", s.CreateUser(t.Context(), withIDs(app.ID, 7, "fb7", "tw7"), nil), nil)
	u := withIDs(app.ID, 8, "fb8", "tw8")
	wantErr(t, "CreateUser", s.CreateUser(ctx, u, nil), nil)
	tests := []idCase{
		{"external_user_id taken", 7, "fb8", "tw8", "external_user_id"},
		{"facebook_id taken", 8, "FB7", "tw8", "facebook_id"},
		{"twitter_id taken", 8, "fb8", "tw7", "twitter_id"},
		{"own values kept", 8, "fb8", "tw8", ""},
		{"own values other case", 8, "Fb8", "TW8", ""},
		{"cleared", 0, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			upd := *u
			upd.ExternalUserID, upd.FacebookID, upd.TwitterID = tc.ext, tc.fb, tc.tw
			if got := updateTaken(t, s, &upd, tc.field); got != nil && (got.ExternalUserID == 7 || got.FacebookID == "FB7" || got.TwitterID == "tw7") {
				t.Fatalf("rejected update was stored: %s", dump(got))
			}
		})
	}
}

func testConcurrentExternalUserID(t *testing.T, s identity.Store) {
	app := newApp(t, s)
	errs := race(func(i int) error {
		return s.CreateUser(t.Context(), withIDs(app.ID, 31337, "", ""), nil)
	})
	oneWinner(t, errs, identity.ErrUserExists, "external_user_id")
}

// updateTaken updates upd and checks the outcome: success when field is "", else an
// ErrUserExists naming field, after which it returns the stored user.
func updateTaken(t *testing.T, s identity.Store, upd *identity.User, field string) *identity.User {
	t.Helper()
	err := s.UpdateUser(t.Context(), upd)
	if field == "" {
		wantErr(t, "UpdateUser", err, nil)
		return nil
	}
	wantField(t, "UpdateUser", err, identity.ErrUserExists, field, "taken")
	got, err := s.User(t.Context(), upd.ApplicationID, upd.ID)
	wantErr(t, "User", err, nil)
	return got
}
