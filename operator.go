package identity

import (
	"context"
	"strings"
)

// Operator acts on the users of any application as the server's operator: by application
// id and user id, without a session, for the server's own code and admin tools. Get one
// from Identity.Operator. It is not bound by the settings that protect the public API from
// clients (DisableUserList, DisableUsersV1, HideContactInfo) nor by the rules that protect
// a user from a stolen session (the old password for a password change); every change goes
// through the same validation, uniqueness checks and cache invalidation as a session's, and
// applies in this process at once; in other processes at once too when Config.Notifier is
// set and its channel works, and in any case within Config.RecheckInterval (the bound that
// the other "within Config.RecheckInterval" remarks below mean).
//
// Every method returns ErrApplicationNotFound for an unknown application and
// ErrUserNotFound for a user that is not one of that application's. Applications
// themselves are managed on Identity (CreateApplication, Application, Applications,
// RenameApplication, UpdateApplicationSettings, RotateApplicationKeys, DeleteApplication),
// as are LinkExternalAccount and DeleteExpired. An Operator is safe for concurrent use; it
// must not be reachable by clients.
type Operator struct {
	id *Identity
}

// Operator returns the operator API of id.
func (id *Identity) Operator() *Operator { return &Operator{id: id} }

// User returns user userID of application appID, complete (Email, Phone, Blocked).
func (o *Operator) User(ctx context.Context, appID, userID int64) (*User, error) {
	if _, err := o.id.application(ctx, appID); err != nil {
		return nil, err
	}
	return o.id.store.User(ctx, appID, userID)
}

// SearchUsers runs q over the users of application appID, checked by UserQuery.Check (every
// field, every operator; no filter lists every user; a zero Limit means query.MaxLimit).
// Users come complete.
func (o *Operator) SearchUsers(ctx context.Context, appID int64, q UserQuery) (*UserPage, error) {
	if _, err := o.id.application(ctx, appID); err != nil {
		return nil, err
	}
	if err := q.Check(); err != nil {
		return nil, err
	}
	return o.id.searchApp(ctx, appID, &q)
}

// UpdateUser applies in to user userID of application appID, as Identity.UpdateUser does
// for a user's own profile: the same field validation (errors name the fields), uniqueness
// (an *Error wrapping ErrUserExists naming every taken field), avatar check, EmailChanged
// hooks and update of cached sessions. Unlike a session it needs no OldPassword (which is
// ignored), may set a password on any account, and is not bound by AppSettings.LocalSignUp
// or by a PasswordProvider managing logins and emails. A new Password (checked against the
// application's PasswordPolicy) revokes every session of the user and runs the
// PasswordChanged hooks (package passwordreset voids the user's reset links); a guest
// becoming a regular user (given a login or email and a password) revokes the sessions too.
func (o *Operator) UpdateUser(ctx context.Context, appID, userID int64, in UserInput) (*User, error) {
	app, err := o.id.application(ctx, appID)
	if err != nil {
		return nil, err
	}
	return o.id.updateUser(ctx, app, userID, &in, nil)
}

// SetBlocked blocks (blocked true) or unblocks user userID of application appID and returns
// the user. Blocking revokes every session of the user at once; while blocked, credentials
// that prove the user (a right password, a provider's token) fail with ErrUserBlocked, and
// a session of the user read from the Store is refused as ErrSessionNotFound, so that other
// processes stop accepting the user within Config.RecheckInterval. Unblocking restores no
// session. Both are idempotent.
func (o *Operator) SetBlocked(ctx context.Context, appID, userID int64, blocked bool) (*User, error) {
	if _, err := o.id.application(ctx, appID); err != nil {
		return nil, err
	}
	if err := o.id.store.SetUserBlocked(ctx, appID, userID, blocked, o.id.now()); err != nil {
		return nil, err
	}
	if blocked {
		o.id.cache.dropUser(userID, 0)
		o.id.publish(ctx, Invalidation{UserID: userID})
	}
	return o.id.store.User(ctx, appID, userID)
}

// DeleteUser deletes user userID of application appID as Identity.DeleteUser does: its
// sessions (which stop working at once) and external accounts go with it, and its files
// (package blob) are no longer served and are removed by the janitor.
func (o *Operator) DeleteUser(ctx context.Context, appID, userID int64) error {
	if _, err := o.id.application(ctx, appID); err != nil {
		return err
	}
	return o.id.deleteUser(ctx, appID, userID)
}

// Sessions lists the sessions of user userID of application appID that have not expired,
// newest first, without Token; their activity includes what this process has not written
// to the Store yet.
func (o *Operator) Sessions(ctx context.Context, appID, userID int64) ([]*Session, error) {
	if err := o.checkUser(ctx, appID, userID); err != nil {
		return nil, err
	}
	return o.id.liveSessions(ctx, userID, nil)
}

// RevokeSession deletes session sessionID of user userID of application appID; it stops
// working at once. ErrNotFound when the user has no such session.
func (o *Operator) RevokeSession(ctx context.Context, appID, userID, sessionID int64) error {
	if err := o.checkUser(ctx, appID, userID); err != nil {
		return err
	}
	return o.id.revokeUserSession(ctx, userID, sessionID)
}

// RevokeSessions deletes every session of user userID of application appID, expired or
// not, and returns how many it deleted; they stop working at once.
func (o *Operator) RevokeSessions(ctx context.Context, appID, userID int64) (int, error) {
	if err := o.checkUser(ctx, appID, userID); err != nil {
		return 0, err
	}
	return o.id.revokeUserSessions(ctx, userID, 0)
}

// checkUser returns nil when application appID exists and has user userID.
func (o *Operator) checkUser(ctx context.Context, appID, userID int64) error {
	_, err := o.User(ctx, appID, userID)
	return err
}

// maxApplicationNameLength bounds an application's name, in characters.
const maxApplicationNameLength = 200

// checkAppName returns name trimmed, or an *Error wrapping ErrInvalidInput naming "name"
// when it is blank, too long or not storable text.
func checkAppName(op, name string) (string, error) {
	name = strings.TrimSpace(name)
	f := fieldErrors{}
	checkText(&f, "name", name, maxApplicationNameLength)
	if name == "" {
		f.add("name", "blank")
	}
	return name, f.err(op)
}

// Applications lists every application, ordered by id.
func (id *Identity) Applications(ctx context.Context) ([]*Application, error) {
	return id.store.Applications(ctx)
}

// RenameApplication sets the name of application appID (trimmed; not blank, at most
// 200 characters, else an *Error wrapping ErrInvalidInput naming
// "name") and returns the application.
func (id *Identity) RenameApplication(ctx context.Context, appID int64, name string) (*Application, error) {
	name, err := checkAppName("rename application", name)
	if err != nil {
		return nil, err
	}
	return id.updateApplication(ctx, appID, func(app *Application) { app.Name = name })
}

// updateApplication applies change to application appID as stored (not as cached, so that
// a change made by another process is not written back over) and stores its name and
// settings.
func (id *Identity) updateApplication(ctx context.Context, appID int64, change func(*Application)) (*Application, error) {
	if appID <= 0 {
		return nil, ErrApplicationNotFound
	}
	app, err := id.store.Application(ctx, appID)
	if err != nil {
		return nil, err
	}
	change(app)
	app.UpdatedAt = id.now()
	err = id.store.UpdateApplication(ctx, app)
	id.apps.forget(appID)
	id.publish(ctx, Invalidation{AppID: appID})
	if err != nil {
		return nil, err
	}
	return app, nil
}

// RotateApplicationKeys gives application appID a new AuthKey and AuthSecret, random as
// CreateApplication makes them, and returns the application. The old key and secret stop
// working in this process at once (in others within Config.RecheckInterval); existing
// sessions keep working.
func (id *Identity) RotateApplicationKeys(ctx context.Context, appID int64) (*Application, error) {
	if appID <= 0 {
		return nil, ErrApplicationNotFound
	}
	err := id.store.SetApplicationKeys(ctx, appID, randomHex(16), randomHex(32), id.now())
	id.apps.forget(appID)
	id.publish(ctx, Invalidation{AppID: appID})
	if err != nil {
		return nil, err
	}
	return id.store.Application(ctx, appID)
}

// DeleteApplication deletes application appID with all its users, sessions, external
// accounts, nonces and password reset tokens, in one store transaction (see
// Store.DeleteApplication); its files (package blob) are no longer served and the janitor
// removes them. Its sessions stop working in this process at once (in others within
// Config.RecheckInterval). ErrApplicationNotFound if there is no such application.
func (id *Identity) DeleteApplication(ctx context.Context, appID int64) error {
	if appID <= 0 {
		return ErrApplicationNotFound
	}
	err := id.store.DeleteApplication(ctx, appID)
	id.apps.forget(appID)
	if err != nil {
		id.publish(ctx, Invalidation{AppID: appID})
		return err
	}
	id.cache.clear()
	id.publish(ctx, Invalidation{All: true})
	return nil
}
