package identity

import (
	"errors"
	"sort"
	"strings"
)

// Sentinel errors. Compare with errors.Is; every error returned by this package and by the
// packages built on it wraps one of these (or is an internal failure such as a store error).
var (
	// ErrInvalidCredentials means the credentials did not prove an identity. An unknown login
	// and a wrong password both yield exactly this error.
	ErrInvalidCredentials = errors.New("identity: invalid credentials")
	// ErrSessionNotFound means the token is unknown, revoked or expired.
	ErrSessionNotFound = errors.New("identity: session not found")
	// ErrUserExists means a unique user attribute (login, email, external account) is taken.
	// The *Error that wraps it names the field.
	ErrUserExists = errors.New("identity: user already exists")
	// ErrUserNotFound means no such user in the caller's application.
	ErrUserNotFound = errors.New("identity: user not found")
	// ErrApplicationNotFound means no application matches the id or auth key given.
	ErrApplicationNotFound = errors.New("identity: application not found")
	// ErrNotFound is returned by a Store for a missing record of any other kind.
	ErrNotFound = errors.New("identity: not found")
	// ErrForbidden means the session may not do this: an application session where a user
	// session is needed, or a user acting on another user.
	ErrForbidden = errors.New("identity: forbidden")
	// ErrNeedUser is the ErrForbidden case of an application session used for a user-only
	// action. errors.Is(err, ErrForbidden) is true for it as well.
	ErrNeedUser = &sentinelChild{msg: "identity: forbidden: need user", parent: ErrForbidden}
	// ErrRejectedByProvider is the ErrInvalidCredentials case of a remote identity service
	// (a Custom Identity Provider) refusing the credentials; the wrapping *Error carries the
	// service's answer for the client. errors.Is(err, ErrInvalidCredentials) is true for it.
	ErrRejectedByProvider = &sentinelChild{msg: "identity: invalid credentials: rejected by the identity provider", parent: ErrInvalidCredentials}
	// ErrUserBlocked is the ErrInvalidCredentials case of credentials that prove a user the
	// operator has blocked (Operator.SetBlocked). It is returned only after the provider
	// accepted the credentials, so a wrong password never reveals the block.
	// errors.Is(err, ErrInvalidCredentials) is true for it.
	ErrUserBlocked = &sentinelChild{msg: "identity: invalid credentials: user blocked", parent: ErrInvalidCredentials}
	// ErrInvalidInput means a request parameter is missing or malformed; the wrapping *Error
	// names the fields.
	ErrInvalidInput = errors.New("identity: invalid input")
	// ErrWrongPassword is the ErrInvalidInput case of a wrong current password given to
	// change a password or an email (UserInput.OldPassword); the wrapping *Error names
	// "old_password". errors.Is(err, ErrInvalidInput) is true for it. Rate limiters count it
	// as a failed guess.
	ErrWrongPassword = &sentinelChild{msg: "identity: invalid input: wrong password", parent: ErrInvalidInput}
	// ErrInvalidSignature means a signed session request failed verification: bad HMAC,
	// timestamp outside the window, or a reused (timestamp, nonce) pair.
	ErrInvalidSignature = errors.New("identity: invalid signature")
	// ErrUnknownProvider means the credentials name a provider that is not configured.
	ErrUnknownProvider = errors.New("identity: unknown provider")
	// ErrBusy means a bounded resource (the password hasher) is saturated; retry later.
	ErrBusy = errors.New("identity: busy, retry later")
	// ErrDisabled means an application setting turns this feature off.
	ErrDisabled = errors.New("identity: disabled by application settings")
	// ErrUnavailable means a dependency (the database, a remote identity service) failed in
	// a way the client cannot fix; retry later.
	ErrUnavailable = errors.New("identity: service unavailable")
)

type sentinelChild struct {
	msg    string
	parent error
}

func (e *sentinelChild) Error() string { return e.msg }
func (e *sentinelChild) Unwrap() error { return e.parent }

// Error carries an operation, field-level detail and the sentinel it wraps, in the manner of
// fs.PathError. Fields maps a field name ("login", "password", or "base" for messages about
// the request as a whole) to human-readable messages in the ConnectyCube style
// ("has already been taken", "is too short (minimum is 8 characters)"). The key "" holds
// messages about the request as a whole that ConnectyCube sends as a flat list
// ({"errors":["..."]}), for example "Bad Authentication data. Invalid input parameters
// provided: ..."; "base" messages are sent as {"errors":{"base":["..."]}}.
type Error struct {
	Op     string
	Fields map[string][]string
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("identity: error")
	}
	if e.Op != "" {
		b.WriteString(" (")
		b.WriteString(e.Op)
		b.WriteString(")")
	}
	if len(e.Fields) > 0 {
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i == 0 {
				b.WriteString(": ")
			} else {
				b.WriteString("; ")
			}
			if k != "" {
				b.WriteString(k)
				b.WriteString(" ")
			}
			b.WriteString(strings.Join(e.Fields[k], ", "))
		}
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// FieldError returns an *Error wrapping sentinel with one message for one field.
func FieldError(op string, sentinel error, field, msg string) *Error {
	return &Error{Op: op, Err: sentinel, Fields: map[string][]string{field: {msg}}}
}

// fieldErrors collects validation messages; err returns nil when none were added.
type fieldErrors map[string][]string

func (f fieldErrors) add(field, msg string) { f[field] = append(f[field], msg) }

func (f fieldErrors) err(op string) error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Op: op, Err: ErrInvalidInput, Fields: f}
}
