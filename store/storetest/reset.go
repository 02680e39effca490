package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/passwordreset"
)

// The passwordreset.TokenStore rules. A store that does not implement the interface skips
// them (password reset is then unavailable with it).

func resetStore(t *testing.T, s identity.Store) passwordreset.TokenStore {
	t.Helper()
	return optional[passwordreset.TokenStore](t, s)
}

func mkResetToken(appID, userID int64, token string, created time.Time) *passwordreset.Token {
	return &passwordreset.Token{
		ApplicationID: appID,
		UserID:        userID,
		Email:         fmt.Sprintf("user%d@example.com", userID),
		TokenHash:     identity.HashToken(token),
		CreatedAt:     created,
		ExpiresAt:     created.Add(time.Hour),
	}
}

func putResetToken(t *testing.T, rs passwordreset.TokenStore, rt *passwordreset.Token) {
	t.Helper()
	if err := rs.PutResetToken(t.Context(), rt); err != nil {
		t.Fatalf("PutResetToken: %v", err)
	}
	if rt.ID == 0 {
		t.Fatal("PutResetToken did not set ID")
	}
}

func checkResetToken(t *testing.T, what string, got, want *passwordreset.Token) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil token", what)
	}
	if got.ID != want.ID || got.ApplicationID != want.ApplicationID || got.UserID != want.UserID ||
		got.Email != want.Email || string(got.TokenHash) != string(want.TokenHash) ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("%s:\n got %s\nwant %s", what, dump(got), dump(want))
	}
}

func testResetTokenRoundTrip(t *testing.T, s identity.Store) {
	rs := resetStore(t, s)
	app := newApp(t, s)
	u := newUser(t, s, app.ID, "resetter", "resetter@example.com")
	rt := mkResetToken(app.ID, u.ID, "reset-a", t0)
	putResetToken(t, rs, rt)
	got, err := rs.ResetTokenByHash(t.Context(), identity.HashToken("reset-a"))
	wantErr(t, "ResetTokenByHash", err, nil)
	checkResetToken(t, "ResetTokenByHash", got, rt)

	for _, h := range [][]byte{identity.HashToken("reset-unknown"), nil, {}} {
		_, err := rs.ResetTokenByHash(t.Context(), h)
		wantErr(t, fmt.Sprintf("ResetTokenByHash(%x)", h), err, identity.ErrNotFound)
	}
	// An expired token is still returned: the caller decides.
	old := newUser(t, s, app.ID, "longago", "longago@example.com")
	expired := mkResetToken(app.ID, old.ID, "reset-old", time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC))
	putResetToken(t, rs, expired)
	got, err = rs.ResetTokenByHash(t.Context(), identity.HashToken("reset-old"))
	wantErr(t, "ResetTokenByHash of an expired token", err, nil)
	checkResetToken(t, "ResetTokenByHash of an expired token", got, expired)
}

func testResetTokenReplaced(t *testing.T, s identity.Store) {
	rs := resetStore(t, s)
	app := newApp(t, s)
	u := newUser(t, s, app.ID, "twice", "twice@example.com")
	other := newUser(t, s, app.ID, "bystander", "bystander@example.com")
	first := mkResetToken(app.ID, u.ID, "first", t0)
	putResetToken(t, rs, first)
	keep := mkResetToken(app.ID, other.ID, "bystander-token", t0)
	putResetToken(t, rs, keep)
	second := mkResetToken(app.ID, u.ID, "second", t0.Add(time.Minute))
	putResetToken(t, rs, second)

	_, err := rs.ResetTokenByHash(t.Context(), identity.HashToken("first"))
	wantErr(t, "ResetTokenByHash of the replaced token", err, identity.ErrNotFound)
	got, err := rs.ResetTokenByHash(t.Context(), identity.HashToken("second"))
	wantErr(t, "ResetTokenByHash of the newer token", err, nil)
	if got.UserID != u.ID || !got.ExpiresAt.Equal(second.ExpiresAt) {
		t.Fatalf("newer token = %s, want %s", dump(got), dump(second))
	}
	_, err = rs.ConsumeResetToken(t.Context(), identity.HashToken("first"), t0)
	wantErr(t, "ConsumeResetToken of the replaced token", err, identity.ErrNotFound)
	_, err = rs.ResetTokenByHash(t.Context(), identity.HashToken("bystander-token"))
	wantErr(t, "another user's token", err, nil)
}

func testResetTokenDuplicateHash(t *testing.T, s identity.Store) {
	rs := resetStore(t, s)
	app := newApp(t, s)
	a := newUser(t, s, app.ID, "dupa", "dupa@example.com")
	b := newUser(t, s, app.ID, "dupb", "dupb@example.com")
	putResetToken(t, rs, mkResetToken(app.ID, a.ID, "same", t0))
	err := rs.PutResetToken(t.Context(), mkResetToken(app.ID, b.ID, "same", t0))
	wantField(t, "PutResetToken with a taken hash", err, identity.ErrInvalidInput, "token", "")
	got, err := rs.ResetTokenByHash(t.Context(), identity.HashToken("same"))
	wantErr(t, "ResetTokenByHash", err, nil)
	if got.UserID != a.ID {
		t.Fatalf("the first token's user changed to %d", got.UserID)
	}
}

func testResetTokenConsumeOnce(t *testing.T, s identity.Store) {
	rs := resetStore(t, s)
	app := newApp(t, s)
	u := newUser(t, s, app.ID, "consumer", "consumer@example.com")
	rt := mkResetToken(app.ID, u.ID, "once", t0)
	putResetToken(t, rs, rt)
	h := identity.HashToken("once")
	tests := []struct {
		name    string
		hash    []byte
		now     time.Time
		wantErr error
	}{
		{"unknown hash", identity.HashToken("other"), t0, identity.ErrNotFound},
		{"empty hash", nil, t0, identity.ErrNotFound},
		{"at its expiry", h, rt.ExpiresAt, identity.ErrNotFound},
		{"after its expiry", h, rt.ExpiresAt.Add(time.Hour), identity.ErrNotFound},
		{"just before its expiry", h, rt.ExpiresAt.Add(-time.Microsecond), nil},
		{"again", h, t0, identity.ErrNotFound},
	}
	for _, tc := range tests {
		got, err := rs.ConsumeResetToken(t.Context(), tc.hash, tc.now)
		wantErr(t, "ConsumeResetToken "+tc.name, err, tc.wantErr)
		if tc.wantErr == nil {
			checkResetToken(t, "ConsumeResetToken "+tc.name, got, rt)
		}
	}
	_, err := rs.ResetTokenByHash(t.Context(), h)
	wantErr(t, "ResetTokenByHash after use", err, identity.ErrNotFound)
	// The user may be sent a new token after using one.
	putResetToken(t, rs, mkResetToken(app.ID, u.ID, "next", t0))
}

func testResetTokenDeleteUser(t *testing.T, s identity.Store) {
	rs := resetStore(t, s)
	app := newApp(t, s)
	u := newUser(t, s, app.ID, "deltok", "deltok@example.com")
	other := newUser(t, s, app.ID, "keeptok", "keeptok@example.com")
	putResetToken(t, rs, mkResetToken(app.ID, u.ID, "del", t0))
	putResetToken(t, rs, mkResetToken(app.ID, other.ID, "keep", t0))
	n, err := rs.DeleteResetTokens(t.Context(), u.ID)
	wantErr(t, "DeleteResetTokens", err, nil)
	if n != 1 {
		t.Fatalf("DeleteResetTokens deleted %d, want 1", n)
	}
	_, err = rs.ResetTokenByHash(t.Context(), identity.HashToken("del"))
	wantErr(t, "deleted token", err, identity.ErrNotFound)
	_, err = rs.ResetTokenByHash(t.Context(), identity.HashToken("keep"))
	wantErr(t, "another user's token", err, nil)
	n, err = rs.DeleteResetTokens(t.Context(), u.ID)
	wantErr(t, "DeleteResetTokens again", err, nil)
	if n != 0 {
		t.Fatalf("DeleteResetTokens again deleted %d, want 0", n)
	}
}

func testResetTokenDeleteExpired(t *testing.T, s identity.Store) {
	rs := resetStore(t, s)
	app := newApp(t, s)
	var users []*identity.User
	for i := range 3 {
		users = append(users, newUser(t, s, app.ID, fmt.Sprintf("exp%d", i), fmt.Sprintf("exp%d@example.com", i)))
	}
	// Expiries at t0-1h (past), t0 (now: expired) and t0+1h (live).
	for i, u := range users {
		rt := mkResetToken(app.ID, u.ID, fmt.Sprintf("exp%d", i), t0.Add(time.Duration(i-2)*time.Hour))
		putResetToken(t, rs, rt)
	}
	n, err := rs.DeleteExpiredResetTokens(t.Context(), t0)
	wantErr(t, "DeleteExpiredResetTokens", err, nil)
	if n != 2 {
		t.Fatalf("DeleteExpiredResetTokens deleted %d, want 2", n)
	}
	_, err = rs.ResetTokenByHash(t.Context(), identity.HashToken("exp2"))
	wantErr(t, "live token", err, nil)
	_, err = rs.ResetTokenByHash(t.Context(), identity.HashToken("exp1"))
	wantErr(t, "token expiring now", err, identity.ErrNotFound)
}

func testConcurrentConsumeResetToken(t *testing.T, s identity.Store) {
	rs := resetStore(t, s)
	app := newApp(t, s)
	u := newUser(t, s, app.ID, "doublesubmit", "doublesubmit@example.com")
	putResetToken(t, rs, mkResetToken(app.ID, u.ID, "contested", t0))
	errs := race(func(int) error {
		_, err := rs.ConsumeResetToken(t.Context(), identity.HashToken("contested"), t0)
		return err
	})
	oneWinner(t, errs, identity.ErrNotFound, "")
}

func testConcurrentPutResetToken(t *testing.T, s identity.Store) {
	rs := resetStore(t, s)
	app := newApp(t, s)
	u := newUser(t, s, app.ID, "manyrequests", "manyrequests@example.com")
	errs := race(func(i int) error {
		return rs.PutResetToken(t.Context(), mkResetToken(app.ID, u.ID, fmt.Sprintf("req%d", i), t0))
	})
	live := 0
	for i, err := range errs {
		wantErr(t, fmt.Sprintf("PutResetToken %d", i), err, nil)
		if _, err := rs.ResetTokenByHash(t.Context(), identity.HashToken(fmt.Sprintf("req%d", i))); err == nil {
			live++
		}
	}
	if live != 1 {
		t.Fatalf("%d tokens of one user remain after %d concurrent puts, want exactly 1", live, len(errs))
	}
}
