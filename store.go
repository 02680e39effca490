package identity

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store persists applications, users, sessions and the records that support them. All
// methods are safe for concurrent use. Lookups scoped by application never return a record
// of another application. Errors other than the sentinels named below are internal failures
// (the HTTP adapter answers them with 503 when they wrap ErrUnavailable, else 500).
//
// Uniqueness (login and email per application, case-insensitively; external_user_id,
// facebook_id and twitter_id per application, the text ones ASCII-case-insensitively, unset
// values never conflicting; external accounts per application and provider; nonces) must be
// enforced by the storage itself (unique indexes),
// not by reading before writing, so that concurrent writers cannot both succeed.
type Store interface {
	// Applications.

	// CreateApplication inserts app and sets app.ID. app.AuthKey must be unique
	// (ErrUserExists-style conflicts are reported as an *Error wrapping ErrInvalidInput).
	CreateApplication(ctx context.Context, app *Application) error
	// Application returns the application with id, or ErrApplicationNotFound.
	Application(ctx context.Context, id int64) (*Application, error)
	// ApplicationByAuthKey returns the application whose AuthKey equals key, or
	// ErrApplicationNotFound.
	ApplicationByAuthKey(ctx context.Context, key string) (*Application, error)
	// UpdateApplication replaces the stored name and settings of app.ID; ErrApplicationNotFound
	// if it does not exist.
	UpdateApplication(ctx context.Context, app *Application) error
	// Applications lists every application ordered by id.
	Applications(ctx context.Context) ([]*Application, error)
	// SetApplicationKeys replaces the AuthKey and AuthSecret of application id and sets its
	// UpdatedAt to at; ErrApplicationNotFound if it does not exist. A key another
	// application has is an *Error wrapping ErrInvalidInput naming "auth_key"; nothing is
	// written on error.
	SetApplicationKeys(ctx context.Context, id int64, authKey, authSecret string, at time.Time) error
	// DeleteApplication deletes application id and everything of it in one transaction: its
	// users (with their tags and external accounts), sessions, nonces and, for a Store that
	// implements passwordreset.TokenStore, password reset tokens. A Store that also keeps the data of
	// packages built on an Identity deletes (or marks for removal) the application's in that
	// transaction: the blob package's files are marked deleting there, and its sweep removes them.
	// ErrApplicationNotFound if it does not exist (nothing is changed then).
	DeleteApplication(ctx context.Context, id int64) error

	// Users and their external accounts.

	// CreateUser inserts u (ID assigned) and, when acct is not nil, links acct to it in the same
	// transaction (acct.UserID is set). A taken login, email, external_user_id, facebook_id
	// or twitter_id (per application) returns an *Error wrapping ErrUserExists whose Fields
	// name the field ("login", "email", "external_user_id", ...) with "has already been
	// taken"; a taken external account names "base". Nothing is written on error. Logins
	// and emails are compared in their NormalizeLogin and NormalizeEmail forms, and a login
	// is also taken when it differs from another only by non-ASCII characters that are
	// confusable with that login's (the same prototypes in the confusables data of Unicode
	// Technical Standard #39; "ѕсоре" in Cyrillic and "scope").
	CreateUser(ctx context.Context, u *User, acct *ExternalAccount) error
	// User returns the user with id in application appID, or ErrUserNotFound.
	User(ctx context.Context, appID, id int64) (*User, error)
	// UserByLogin returns the user whose login equals login after NormalizeLogin (case and
	// compatibility forms ignored), or ErrUserNotFound.
	UserByLogin(ctx context.Context, appID int64, login string) (*User, error)
	// UserByEmail returns the user whose email equals email after NormalizeEmail, or
	// ErrUserNotFound.
	UserByEmail(ctx context.Context, appID int64, email string) (*User, error)
	// UserByExternalUserID returns the user with the deprecated numeric external user id, or
	// ErrUserNotFound.
	UserByExternalUserID(ctx context.Context, appID, externalUserID int64) (*User, error)
	// UserByExternalAccount returns the user linked to (provider, subject) in appID, or
	// ErrUserNotFound.
	UserByExternalAccount(ctx context.Context, appID int64, provider, subject string) (*User, error)
	// UpdateUser replaces every stored field of u (matched by u.ApplicationID and u.ID) except
	// CreatedAt, UID, LastRequestAt (which only TouchSession writes, so that an update made
	// from a stale read cannot move it back) and Blocked (which only SetUserBlocked writes,
	// so that an update made from a stale read cannot unblock). Conflicts are reported as by CreateUser;
	// ErrUserNotFound if the user is gone. Text a database cannot store (NUL bytes, invalid
	// UTF-8) is an *Error wrapping ErrInvalidInput naming the field, here and in CreateUser.
	UpdateUser(ctx context.Context, u *User) error
	// LinkExternalAccount links acct (ApplicationID, Provider, Subject, CreatedAt) to the
	// existing user acct.UserID of acct.ApplicationID. ErrUserNotFound if there is no such
	// user; a (provider, subject) already linked to any user is an *Error wrapping
	// ErrUserExists naming "base". Nothing is written on error.
	LinkExternalAccount(ctx context.Context, acct *ExternalAccount) error
	// SetUserBlocked sets Blocked of user id in application appID and its UpdatedAt to at;
	// blocking also deletes the user's sessions in the same transaction. ErrUserNotFound if
	// there is no such user (nothing is changed then). CreateUser stores u.Blocked as given.
	SetUserBlocked(ctx context.Context, appID, id int64, blocked bool, at time.Time) error
	// DeleteUser deletes the user, its sessions and its external accounts in one transaction;
	// a Store that also keeps files (package blob) marks the user's files deleting in that
	// same transaction. ErrUserNotFound if there is no such user (nothing is changed then).
	DeleteUser(ctx context.Context, appID, id int64) error

	// Sessions and the nonces of signed session requests.

	// CreateSession inserts s (ID assigned). s.TokenHash is unique: a duplicate is an *Error
	// wrapping ErrInvalidInput naming "token".
	CreateSession(ctx context.Context, s *Session) error
	// SessionByTokenHash returns the session whose TokenHash equals hash, whether or not it
	// has expired (the caller decides), or ErrSessionNotFound.
	SessionByTokenHash(ctx context.Context, hash []byte) (*Session, error)
	// SetSessionUser stores s's UserID (0 for an application session), Idle,
	// AbsoluteExpiresAt, ExpiresAt and UpdatedAt, matched by s.ID: what changes when a session
	// is upgraded to a user session, logged out, or its guest becomes a regular user.
	// ErrSessionNotFound if it is gone.
	SetSessionUser(ctx context.Context, s *Session) error
	// TouchSession records activity: it sets LastActiveAt to at and ExpiresAt to expiresAt
	// unless the stored LastActiveAt is already later, and sets LastRequestAt of user userID
	// (when not 0) to at unless it is already later. A missing session is not an error;
	// sessionID 0 touches only the user.
	TouchSession(ctx context.Context, sessionID, userID int64, at, expiresAt time.Time) error
	// DeleteSession deletes the session with id. Deleting a missing session is not an error.
	DeleteSession(ctx context.Context, id int64) error
	// DeleteUserSessions deletes every session of userID except exceptID (0 for none) and
	// returns how many it deleted. userID 0 (application sessions) deletes nothing.
	DeleteUserSessions(ctx context.Context, userID, exceptID int64) (int, error)
	// UserSessions lists the sessions of userID, newest first, expired ones included. userID 0
	// lists nothing.
	UserSessions(ctx context.Context, userID int64) ([]*Session, error)
	// UseNonce records that (appID, timestamp, nonce) was used, until expiresAt. It returns
	// ErrInvalidSignature if the triple was already recorded (and has not been purged).
	UseNonce(ctx context.Context, appID, timestamp int64, nonce string, expiresAt time.Time) error
	// DeleteExpired deletes sessions with ExpiresAt before now, guest users (with their
	// sessions and accounts) whose GuestExpiresAt is before now, and nonces past their expiry.
	// A Store that also keeps files (package blob) marks the files of each guest it deletes
	// deleting in the transaction that deletes the guest.
	DeleteExpired(ctx context.Context, now time.Time) (Purged, error)
}

// Purged counts what DeleteExpired removed.
type Purged struct {
	Sessions int
	Guests   int
	Nonces   int
}

// ExternalAccount links a user to an identity at a provider: a Firebase uid, a CIdP uid, an
// OIDC subject. (ApplicationID, Provider, Subject) is unique.
type ExternalAccount struct {
	ApplicationID int64
	UserID        int64
	Provider      string
	Subject       string
	CreatedAt     time.Time
}

// ReadinessChecker is implemented by a Store that can tell whether it can serve now
// (gormstore does); Identity.Ready asks it.
type ReadinessChecker interface {
	// Ready returns nil when the database answers within ctx's deadline and holds every table
	// and column the store needs (its migrations have been applied), else an error wrapping
	// ErrUnavailable that says what is wrong (unreachable, which table or column is missing)
	// without secrets such as passwords. It changes nothing.
	Ready(ctx context.Context) error
}

// Ready reports whether the Identity can serve requests: nil when its Store is ready (a Store
// implementing ReadinessChecker is asked; any other Store counts as ready), else an error
// wrapping ErrUnavailable and the store's error. Ready bounds nothing itself: give ctx a
// deadline. It is meant for readiness probes (see package health).
func (id *Identity) Ready(ctx context.Context) error {
	rc, ok := id.store.(ReadinessChecker)
	if !ok {
		return nil
	}
	err := rc.Ready(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrUnavailable):
		return fmt.Errorf("identity: not ready: %w", err)
	default:
		return fmt.Errorf("identity: not ready: %w: %w", ErrUnavailable, err)
	}
}
