package identity

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// User is an account of one application. Empty strings and zero numbers mean "not set"
// (they are written as null on the ConnectyCube wire).
type User struct {
	ID            int64
	ApplicationID int64
	// UID is a random 24-hex-character identifier, the ConnectyCube "_id".
	UID        string
	Login      string
	Email      string
	FullName   string
	Phone      string
	Website    string
	ExternalID string
	// ExternalUserID is the deprecated numeric external id; 0 means unset.
	ExternalUserID int64
	FacebookID     string
	TwitterID      string
	CustomData     string
	Avatar         string
	// BlobID is the deprecated numeric avatar blob id; 0 means unset.
	BlobID int64
	// Timezone is the UTC offset in minutes; nil means unset.
	Timezone *int
	Tags     []string
	IsGuest  bool
	// Blocked is set by the operator (Operator.SetBlocked): a blocked user cannot sign in
	// (ErrUserBlocked) and has no session. Only Store.SetUserBlocked writes it.
	Blocked bool
	// PasswordHash is the encoded password hash ("" for users without a password: guests and
	// users of external providers). Never sent to clients.
	PasswordHash string
	// GuestExpiresAt is when a guest user and its sessions expire; zero for other users.
	GuestExpiresAt time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// LastRequestAt is kept current within Config.ActivityInterval.
	LastRequestAt time.Time
}

// UserInput is a sign-up or a profile update. A nil field is left as it is; a pointer to ""
// clears the field on update. Password and OldPassword are only used, never stored.
//
// Sizes, in characters unless said: login 3 to MaxLoginLength (70), email up to
// MaxEmailLength (254), full name MaxFullNameLength (200), phone 32, website 2048, external
// id MaxExternalIDLength (255), Facebook and Twitter ids MaxSocialIDLength (64), avatar
// 2048, custom data 64 KiB (in bytes), up to MaxTags (5) tags of 64 characters each, timezone
// MinTimezone to MaxTimezone minutes. Longer values are refused (too_long), never cut.
type UserInput struct {
	Login          *string
	Email          *string
	Password       *string
	OldPassword    *string
	FullName       *string
	Phone          *string
	Website        *string
	ExternalID     *string
	ExternalUserID *int64
	FacebookID     *string
	TwitterID      *string
	CustomData     *string
	Avatar         *string
	BlobID         *int64
	Timezone       *int
	Tags           *[]string
}

// Field size bounds enforced on every user (see UserInput). ConnectyCube does not document
// its own; these are this project's. The exported ones are those providers and stores check
// against before handing values to the core.
const (
	minLoginLength      = 3
	MaxLoginLength      = 70
	MaxEmailLength      = 254
	MaxFullNameLength   = 200
	maxPhoneLength      = 32
	maxWebsiteLength    = 2048
	MaxExternalIDLength = 255
	MaxSocialIDLength   = 64
	maxCustomDataBytes  = 64 << 10
	maxAvatarLength     = 2048
	MaxTags             = 5
	maxTagLength        = 64
	MinTimezone         = -14 * 60
	MaxTimezone         = 14 * 60
)

// PasswordPolicy bounds passwords. The zero value means the defaults.
type PasswordPolicy struct {
	// MinLength in characters; default 8.
	MinLength int
	// MaxLength in characters; default 128 (also bounds hashing work).
	MaxLength int
}

func (p PasswordPolicy) withDefaults() PasswordPolicy {
	if p.MinLength <= 0 {
		p.MinLength = 8
	}
	if p.MaxLength <= 0 {
		p.MaxLength = 128
	}
	return p
}

// Limits returns the password lengths p allows, in characters, with the defaults applied.
func (p PasswordPolicy) Limits() (min, max int) {
	p = p.withDefaults()
	return p.MinLength, p.MaxLength
}

// Check reports whether password meets p (with the defaults applied): nil, or an *Error
// wrapping ErrInvalidInput naming "password" with the rule it breaks. SignUp and UpdateUser
// apply the same rules; Check lets a caller refuse a password before it spends something on
// it (package passwordreset checks it before using up a reset token).
func (p PasswordPolicy) Check(password string) error {
	f := fieldErrors{}
	p.check(&f, "password", password)
	return f.err("check password")
}

func (p PasswordPolicy) check(f *fieldErrors, field, pw string) {
	p = p.withDefaults()
	n := utf8.RuneCountInString(pw)
	switch {
	case pw == "":
		f.add(field, "blank")
	case !utf8.ValidString(pw):
		f.add(field, "invalid")
	case n < p.MinLength:
		f.limit(field, "too_short", p.MinLength)
	case n > p.MaxLength:
		f.limit(field, "too_long", p.MaxLength)
	}
}

// NormalizeLogin returns the form in which logins are compared and must be unique: trimmed,
// NFKC-normalized and case-folded (see normalize.go for the rules), so that "Alice",
// "ALICE" and the fullwidth "ＡＬＩＣＥ" are one login.
func NormalizeLogin(s string) string {
	return strings.TrimSpace(nfkcFold(strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))))
}

// NormalizeEmail returns the stored form of an email address: trimmed, NFKC-normalized and
// lower-cased, so that uniqueness is case-insensitive and compatibility forms (fullwidth
// letters) are the same address.
func NormalizeEmail(s string) string {
	s = norm.NFKC.String(strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD")))
	return strings.TrimSpace(norm.NFKC.String(strings.ToLower(s)))
}

func checkText(f *fieldErrors, field, v string, max int) {
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		f.add(field, "invalid")
		return
	}
	if utf8.RuneCountInString(v) > max {
		f.limit(field, "too_long", max)
	}
}

// applyInput validates in and copies it onto u. signup selects the sign-up rules (login or
// email required, password required). Password handling is left to the caller.
func applyInput(u *User, in *UserInput, signup bool, policy PasswordPolicy) error {
	f := fieldErrors{}
	if in.Login != nil {
		l := strings.TrimSpace(*in.Login)
		if utf8.ValidString(l) {
			l = strings.TrimSpace(norm.NFKC.String(l))
		}
		n := utf8.RuneCountInString(l)
		switch {
		case !utf8.ValidString(l):
			f.add("login", "invalid")
		case n > MaxLoginLength: // before the character rules, which cost more per character
			f.limit("login", "too_long", MaxLoginLength)
		case !validIdentifier(l, wholeLogin):
			f.add("login", "invalid")
		case l == "" && !signup:
			f.add("login", "blank")
		case l != "" && n < minLoginLength:
			f.limit("login", "too_short", minLoginLength)
		case strings.HasPrefix(NormalizeLogin(l), "guest_login_") && !u.IsGuest:
			f.add("login", "reserved")
		}
		u.Login = l
	}
	if in.Email != nil {
		e := NormalizeEmail(*in.Email)
		if e != "" {
			if len(e) > MaxEmailLength {
				f.limit("email", "too_long", MaxEmailLength)
			} else if !ValidEmail(e) || !validIdentifier(e, emailParts) {
				f.add("email", "invalid")
			}
		}
		u.Email = e
	}
	if signup && u.Login == "" && u.Email == "" {
		f.add("", "login_or_email_required")
	}
	if !signup && in.Login == nil && in.Email != nil && u.Email == "" && u.Login == "" {
		f.add("email", "blank")
	}
	if signup {
		if in.Password == nil {
			f.add("password", "blank")
		} else {
			policy.check(&f, "password", *in.Password)
		}
	} else if in.Password != nil {
		policy.check(&f, "password", *in.Password)
	}
	str := func(dst *string, p *string, field string, max int) {
		if p == nil {
			return
		}
		v := strings.TrimSpace(*p)
		checkText(&f, field, v, max)
		*dst = v
	}
	str(&u.FullName, in.FullName, "full_name", MaxFullNameLength)
	str(&u.Phone, in.Phone, "phone", maxPhoneLength)
	str(&u.ExternalID, in.ExternalID, "external_id", MaxExternalIDLength)
	str(&u.FacebookID, in.FacebookID, "facebook_id", MaxSocialIDLength)
	str(&u.TwitterID, in.TwitterID, "twitter_id", MaxSocialIDLength)
	str(&u.Avatar, in.Avatar, "avatar", maxAvatarLength)
	if in.Website != nil {
		w := strings.TrimSpace(*in.Website)
		checkText(&f, "website", w, maxWebsiteLength)
		// ConnectyCube returns "http://pavalli.com.au" for the input "pavalli.com.au".
		if w != "" && !strings.Contains(w, "://") {
			w = "http://" + w
		}
		u.Website = w
	}
	if in.CustomData != nil {
		v := *in.CustomData
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			f.add("custom_data", "invalid")
		} else if len(v) > maxCustomDataBytes {
			f.limit("custom_data", "too_long", maxCustomDataBytes)
		}
		u.CustomData = v
	}
	if in.ExternalUserID != nil {
		if *in.ExternalUserID < 0 {
			f.add("external_user_id", "negative")
		}
		u.ExternalUserID = *in.ExternalUserID
	}
	if in.BlobID != nil {
		if *in.BlobID < 0 {
			f.add("blob_id", "negative")
		}
		u.BlobID = *in.BlobID
	}
	if in.Timezone != nil {
		tz := *in.Timezone
		if tz < MinTimezone || tz > MaxTimezone {
			f.add("timezone", "out_of_range")
		}
		u.Timezone = &tz
	}
	if in.Tags != nil {
		tags, ok := normalizeTags(*in.Tags)
		if !ok {
			f.add("tag_list", "invalid")
		} else if len(tags) > MaxTags {
			f.limit("tag_list", "too_long", MaxTags)
		}
		u.Tags = tags
	}
	return f.err("validate user")
}

// normalizeTags splits comma lists, trims, drops empties and duplicates (case-insensitive,
// keeping the first spelling). It reports false for a tag that is too long or malformed.
func normalizeTags(in []string) ([]string, bool) {
	var out []string
	seen := map[string]bool{}
	for _, raw := range in {
		for _, t := range strings.Split(raw, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			if !utf8.ValidString(t) || utf8.RuneCountInString(t) > maxTagLength || strings.ContainsRune(t, 0) {
				return nil, false
			}
			k := strings.ToLower(t)
			if seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, t)
			if len(out) > 64 {
				return out, true // already over the limit; stop work on huge input
			}
		}
	}
	return out, true
}

// ValidEmail reports whether e, in NormalizeEmail form, is one plain address a mail can be
// sent to ("user@example.com": no display name, no comment, a dot in the domain). A user's
// email must also be at most MaxEmailLength bytes and pass the character rules SignUp
// applies; package passwordreset uses ValidEmail alone to refuse a malformed address.
func ValidEmail(e string) bool {
	if strings.ContainsAny(e, " \t\r\n<>\"(),;") {
		return false
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e {
		return false
	}
	at := strings.LastIndexByte(e, '@')
	return at > 0 && strings.Contains(e[at+1:], ".") && !strings.HasSuffix(e, ".")
}

// SignUp creates a user with login and/or email and a password in application appID. The
// application's password policy applies. A taken login or email yields an *Error wrapping
// ErrUserExists whose Fields name the field ("has already been taken").
func (id *Identity) SignUp(ctx context.Context, appID int64, in UserInput) (*User, error) {
	app, err := id.application(ctx, appID)
	if err != nil {
		return nil, err
	}
	if !app.Settings.localSignUp() {
		return nil, errLocalSignUp("sign up")
	}
	now := id.now()
	u := &User{ApplicationID: appID}
	if err := applyInput(u, &in, true, app.Settings.PasswordPolicy); err != nil {
		return nil, err
	}
	if err := id.checkAvatarHooks(ctx, appID, 0, u.Avatar); err != nil {
		return nil, err
	}
	hash, err := id.hasher.Hash(ctx, *in.Password)
	if err != nil {
		return nil, err
	}
	u.PasswordHash = hash
	u.UID = newUID()
	u.CreatedAt, u.UpdatedAt = now, now
	if err := id.store.CreateUser(ctx, u, nil); err != nil {
		return nil, id.allConflicts(ctx, u, err)
	}
	return u, nil
}

// allConflicts completes a uniqueness error from the Store, which names the first unique
// index the database happened to check, so that it names every taken field of u (login and
// email), the same on every database. Other errors are returned as they are.
func (id *Identity) allConflicts(ctx context.Context, u *User, err error) error {
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrUserExists) {
		return err
	}
	fields := append(fieldErrors(nil), e.Fields...)
	named := func(field string) bool {
		for _, f := range fields {
			if f.Field == field {
				return true
			}
		}
		return false
	}
	taken := func(other *User, lookupErr error) bool { return lookupErr == nil && other.ID != u.ID }
	if !named("login") && u.Login != "" {
		if taken(id.store.UserByLogin(ctx, u.ApplicationID, u.Login)) {
			fields.add("login", "taken")
		}
	}
	if !named("email") && u.Email != "" {
		if taken(id.store.UserByEmail(ctx, u.ApplicationID, u.Email)) {
			fields.add("email", "taken")
		}
	}
	return &Error{Op: e.Op, Fields: fields, Err: e.Err}
}

// User returns user userID of the session's application (GET /users/{id}). ErrUserNotFound
// if there is none. A session's own user is always returned, complete; another user comes
// without Email and Phone when the application has AppSettings.HideContactInfo.
func (id *Identity) User(ctx context.Context, s *Session, userID int64) (*User, error) {
	if s == nil {
		return nil, ErrSessionNotFound
	}
	if userID == s.UserID && s.UserID != 0 {
		return id.store.User(ctx, s.ApplicationID, userID)
	}
	app, err := id.application(ctx, s.ApplicationID)
	if err != nil {
		return nil, err
	}
	u, err := id.store.User(ctx, s.ApplicationID, userID)
	if err != nil {
		return nil, err
	}
	return hideContact(app, s, u), nil
}

// UpdateUser changes the session user's own profile; userID must be the session's user
// (ErrForbidden otherwise, ErrNeedUser for an application session). A new password needs the
// correct OldPassword (a field error on "old_password" otherwise) and revokes every other
// session of the user. A guest becomes a regular user, keeping its id, when the update gives
// it a login or email and a password; no old password is asked of a guest. A changed Avatar
// is vetted by the CheckAvatar hooks: with file storage on (package blob) it must be "" or
// the UID of a completed file of the application that is public or the user's own (a field
// error on "avatar" otherwise); without, it is free text.
func (id *Identity) UpdateUser(ctx context.Context, s *Session, userID int64, in UserInput) (*User, error) {
	if err := needUser(s); err != nil {
		return nil, err
	}
	if userID != s.UserID {
		return nil, &Error{Op: "update user", Err: ErrForbidden}
	}
	app, err := id.application(ctx, s.ApplicationID)
	if err != nil {
		return nil, err
	}
	return id.updateUser(ctx, app, userID, &in, s)
}

// updateUser applies in to user userID of app, as session s (the user's own) or, when s is
// nil, as the operator. Both get the same validation, uniqueness, avatar check and cache
// update; the rules that protect a user from a stolen session or from other users (the
// old password, LocalSignUp, logins managed by the PasswordProvider) bind only sessions.
// A new password, or a guest becoming a regular user, revokes the user's sessions (all but
// s).
func (id *Identity) updateUser(ctx context.Context, app *Application, userID int64, in *UserInput, s *Session) (*User, error) {
	cur, err := id.store.User(ctx, app.ID, userID)
	if err != nil {
		return nil, err
	}
	u := *cur
	u.Tags = append([]string(nil), cur.Tags...)
	if err := applyInput(&u, in, false, app.Settings.PasswordPolicy); err != nil {
		return nil, err
	}
	if u.Avatar != cur.Avatar {
		if err := id.checkAvatarHooks(ctx, u.ApplicationID, u.ID, u.Avatar); err != nil {
			return nil, err
		}
	}
	passwordChanged := false
	emailChanged := u.Email != cur.Email
	if s != nil {
		if err := id.checkSessionUpdate(ctx, app, cur, &u, in, emailChanged); err != nil {
			return nil, err
		}
	}
	if in.Password != nil {
		hash, err := id.hasher.Hash(ctx, *in.Password)
		if err != nil {
			return nil, err
		}
		u.PasswordHash = hash
		passwordChanged = true
	}
	if cur.IsGuest && becomesRegular(cur, &u, in) {
		u.IsGuest = false
		u.GuestExpiresAt = time.Time{}
		if in.Login == nil || u.Login == cur.Login {
			if strings.HasPrefix(u.Login, "guest_login_") {
				u.Login = ""
			}
		}
	}
	u.UpdatedAt = id.now()
	if err := id.store.UpdateUser(ctx, &u); err != nil {
		return nil, id.allConflicts(ctx, &u, err)
	}
	var keep int64
	if s != nil {
		keep = s.ID
	}
	if passwordChanged || cur.IsGuest != u.IsGuest {
		if _, err := id.revokeUserSessions(ctx, u.ID, keep); err != nil {
			return nil, err
		}
	}
	if passwordChanged {
		// What packages built on the Identity keep for the old password (a reset link mailed
		// before the change) must not undo it.
		if err := id.passwordChangedHooks(ctx, u.ApplicationID, u.ID); err != nil {
			return nil, err
		}
	}
	if s != nil && cur.IsGuest && !u.IsGuest {
		// the current session now follows the ordinary idle rule
		su := u
		if _, err := id.setSessionUser(ctx, s, app, &su); err != nil {
			return nil, err
		}
	}
	id.userChanged(ctx, &u)
	if emailChanged && cur.Email != "" {
		id.emailChangedHooks(ctx, app, cur, &u)
	}
	return &u, nil
}

// checkSessionUpdate enforces the rules a user's own update (cur to u with input in) is
// bound by and the operator is not.
func (id *Identity) checkSessionUpdate(ctx context.Context, app *Application, cur, u *User, in *UserInput, emailChanged bool) error {
	if in.Password != nil && cur.PasswordHash == "" && !cur.IsGuest {
		// users of external providers have no password to check against
		return NewError("update user", ErrInvalidInput, "password", "not_allowed")
	}
	// A password change, and an email change when the application asks for it, must prove
	// the current password (guests and passwordless accounts have none).
	if (in.Password != nil || (emailChanged && app.Settings.EmailChangeNeedsPassword)) && cur.PasswordHash != "" && !cur.IsGuest {
		if err := id.checkOldPassword(ctx, cur, in.OldPassword); err != nil {
			return err
		}
	}
	if cur.IsGuest && becomesRegular(cur, u, in) && !app.Settings.localSignUp() {
		return errLocalSignUp("update user")
	}
	if !cur.IsGuest && app.Settings.PasswordProvider != "" && !app.Settings.localSignUp() {
		// Logins and emails belong to the provider the application routes logins to: a user
		// renamed to the login or email of a future user of that provider would take it.
		f := fieldErrors{}
		if NormalizeLogin(u.Login) != NormalizeLogin(cur.Login) {
			f.add("login", "managed")
		}
		if u.Email != cur.Email {
			f.add("email", "managed")
		}
		if len(f) > 0 {
			return &Error{Op: "update user", Err: ErrDisabled, Fields: f}
		}
	}
	return nil
}

// becomesRegular reports whether the update of guest cur into u (with input in) turns it into
// a regular account: it gets a login or an email, and a password.
func becomesRegular(cur, u *User, in *UserInput) bool {
	loginSet := in.Login != nil && u.Login != cur.Login
	return (loginSet || u.Email != "") && (u.PasswordHash != "" || in.Password != nil)
}

// errLocalSignUp is the refusal of a local account where AppSettings.LocalSignUp denies it.
func errLocalSignUp(op string) error {
	return NewError(op, ErrDisabled, "", "sign_up_disabled")
}

// checkOldPassword verifies old against u's password: an *Error wrapping ErrInvalidInput
// naming "old_password" when it is blank, ErrWrongPassword when it is wrong.
func (id *Identity) checkOldPassword(ctx context.Context, u *User, old *string) error {
	if old == nil || *old == "" {
		return NewError("update user", ErrInvalidInput, "old_password", "blank")
	}
	ok, _, err := id.hasher.Verify(ctx, *old, u.PasswordHash)
	if err != nil {
		return err
	}
	if !ok {
		return NewError("update user", ErrWrongPassword, "old_password", "incorrect")
	}
	return nil
}

// DeleteUser deletes the session's own user, its sessions and its external accounts. Its
// files (package blob) are no longer served from then on and the janitor removes them.
// Deleting another user yields ErrForbidden.
func (id *Identity) DeleteUser(ctx context.Context, s *Session, userID int64) error {
	if err := needUser(s); err != nil {
		return err
	}
	if userID != s.UserID {
		return &Error{Op: "delete user", Err: ErrForbidden}
	}
	return id.deleteUser(ctx, s.ApplicationID, userID)
}

// deleteUser deletes user userID of appID (see Store.DeleteUser) and forgets its sessions.
func (id *Identity) deleteUser(ctx context.Context, appID, userID int64) error {
	if err := id.store.DeleteUser(ctx, appID, userID); err != nil {
		return err
	}
	id.cache.dropUser(userID, 0)
	id.publish(ctx, Invalidation{UserID: userID})
	return nil
}

func needUser(s *Session) error {
	if s == nil {
		return ErrSessionNotFound
	}
	if s.UserID == 0 {
		return ErrNeedUser
	}
	return nil
}

// constantTimeEqual compares two secrets without leaking where they differ.
func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
