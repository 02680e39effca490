package identity

import (
	"errors"
	"strconv"
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

// Error carries an operation, the problems found with the input, and the sentinel it wraps,
// in the manner of fs.PathError. Compare its kind with errors.Is on the sentinel; read Fields
// to tell a user what to fix.
type Error struct {
	Op     string
	Err    error
	Fields []FieldError
}

// FieldError is one problem with one input: Field names the input ("login", "password",
// "user_tags"; "" for the input as a whole) and Code says what is wrong, for the caller to
// put in its own words (the ConnectyCube adapter renders ConnectyCube's messages from them).
// Limit is the bound broken by too_short, too_long, too_many and out_of_range, in the field's
// unit (characters; bytes for custom_data; tags for tag_list; values or filters for
// searches), and 0 otherwise.
//
// Codes of this module: blank (missing or empty), invalid (malformed), taken (another user
// has it), too_short, too_long, too_many, out_of_range, negative, reserved (a login kept for
// the system), incorrect (a wrong current password), not_allowed (cannot be set for this
// account), managed (the identity provider owns this field), used (a spent nonce), expired,
// unsupported (an unknown provider), disabled (the feature is off for this application; Field
// names it), and, for searches, unknown_field, unknown_operator, operator_not_allowed,
// hidden (by the application's contact-info setting), value_count, wrong_type. Whole-input
// codes (Field ""): login_or_email_required, sign_up_disabled, too_many_filters,
// search_unsupported. Providers add their own codes; their packages list them.
type FieldError struct {
	Field string
	Code  string
	Limit int
}

// Error renders e for logs: the sentinel's text, the operation, and each problem as
// "field code [limit]". It never holds a value the caller gave.
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
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if f.Field != "" {
			b.WriteString(f.Field)
			b.WriteString(" ")
		}
		b.WriteString(f.Code)
		if f.Limit != 0 {
			b.WriteString(" ")
			b.WriteString(strconv.Itoa(f.Limit))
		}
	}
	return b.String()
}

// Unwrap returns the sentinel, so that errors.Is(err, ErrInvalidInput) and the like work.
func (e *Error) Unwrap() error { return e.Err }

// Code returns the code of the first problem e names for field ("" for the input as a
// whole), or "" when e names none.
func (e *Error) Code(field string) string {
	for _, f := range e.Fields {
		if f.Field == field {
			return f.Code
		}
	}
	return ""
}

// NewError returns an *Error of op wrapping sentinel with one problem: code for field.
func NewError(op string, sentinel error, field, code string) *Error {
	return &Error{Op: op, Err: sentinel, Fields: []FieldError{{Field: field, Code: code}}}
}

// fieldErrors collects validation problems; err returns nil when none were added.
type fieldErrors []FieldError

func (f *fieldErrors) add(field, code string) { *f = append(*f, FieldError{Field: field, Code: code}) }

// limit adds a problem with the bound it broke.
func (f *fieldErrors) limit(field, code string, n int) {
	*f = append(*f, FieldError{Field: field, Code: code, Limit: n})
}

func (f fieldErrors) err(op string) error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Op: op, Err: ErrInvalidInput, Fields: f}
}
