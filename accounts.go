package identity

import (
	"context"
	"strconv"
)

// LinkExternalAccount links user userID of application appID to the account subject at the
// provider named provider, so that the provider's sign-in of subject reaches that user from
// then on. It acts as the operator (no session). It is how an operator moves existing local
// users to a Custom Identity Provider: link each local user to its uid at the provider before
// (or after) setting AppSettings.PasswordProvider; see the package documentation.
//
// Errors: ErrUserNotFound if there is no such user; an *Error wrapping ErrUserExists naming
// "base" if the account is already linked to a user; an *Error wrapping ErrInvalidInput when
// provider or subject is empty, not valid UTF-8, or longer than 255 characters.
func (id *Identity) LinkExternalAccount(ctx context.Context, appID, userID int64, provider, subject string) error {
	const op = "link external account"
	f := fieldErrors{}
	checkText(&f, "provider", provider, 255)
	checkText(&f, "subject", subject, 255)
	if provider == "" {
		f.add("provider", "blank")
	}
	if subject == "" {
		f.add("subject", "blank")
	}
	if err := f.err(op); err != nil {
		return err
	}
	if _, err := id.application(ctx, appID); err != nil {
		return err
	}
	return id.store.LinkExternalAccount(ctx, &ExternalAccount{
		ApplicationID: appID,
		UserID:        userID,
		Provider:      provider,
		Subject:       subject,
		CreatedAt:     id.now(),
	})
}

// AccountKey names the account that a login or an email designates in application appID, for
// limits kept per account (the HTTP adapter's tarpit): "user:<id>" when it names a user, so
// that every spelling of one account (its login, its email, any case) shares one key;
// otherwise "login:<appID>:<normalized login>" or "email:<appID>:<normalized email>". The login
// wins when both are given, as in a login. "" when both are empty. A failed lookup falls back
// to the spelling form. The lookup is the same for known and unknown accounts, so its timing
// tells nothing.
func (id *Identity) AccountKey(ctx context.Context, appID int64, login, email string) string {
	app := strconv.FormatInt(appID, 10)
	// Longer input cannot name an account: key it as it is, without normalizing or looking up.
	const maxInput = 4 * MaxEmailLength
	if len(login) > maxInput || len(email) > maxInput {
		if login != "" {
			return "login:" + app + ":" + login
		}
		return "email:" + app + ":" + email
	}
	l, e := NormalizeLogin(login), NormalizeEmail(email)
	var key string
	var u *User
	var err error
	switch {
	case l != "":
		key = "login:" + app + ":" + l
		u, err = id.store.UserByLogin(ctx, appID, l)
	case e != "":
		key = "email:" + app + ":" + e
		u, err = id.store.UserByEmail(ctx, appID, e)
	default:
		return ""
	}
	if err == nil && u != nil {
		return "user:" + strconv.FormatInt(u.ID, 10)
	}
	return key
}
