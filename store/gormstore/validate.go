package gormstore

import (
	"strings"
	"unicode/utf8"

	"github.com/identitykit/identity"
)

// validText reports whether s can be stored in a text column of both databases: PostgreSQL
// rejects invalid UTF-8 and NUL bytes (with an error that would otherwise surface as an
// internal failure).
func validText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// checkUser reports the first field of u that cannot be stored, as an *identity.Error
// wrapping identity.ErrInvalidInput.
func checkUser(op string, u *identity.User) error {
	fields := []struct{ name, v string }{
		{"login", u.Login}, {"email", u.Email}, {"full_name", u.FullName}, {"phone", u.Phone},
		{"website", u.Website}, {"external_id", u.ExternalID}, {"facebook_id", u.FacebookID},
		{"twitter_id", u.TwitterID}, {"custom_data", u.CustomData}, {"avatar", u.Avatar},
		{"uid", u.UID}, {"password", u.PasswordHash},
	}
	for _, f := range fields {
		if !validText(f.v) {
			return identity.NewError(op, identity.ErrInvalidInput, f.name, "invalid")
		}
	}
	for _, t := range u.Tags {
		if !validText(t) {
			return identity.NewError(op, identity.ErrInvalidInput, "tag_list", "invalid")
		}
	}
	return nil
}

func checkApplication(op string, a *identity.Application) error {
	for _, f := range []struct{ name, v string }{{"name", a.Name}, {"auth_key", a.AuthKey}, {"auth_secret", a.AuthSecret}} {
		if !validText(f.v) {
			return identity.NewError(op, identity.ErrInvalidInput, f.name, "invalid")
		}
	}
	return nil
}

// checkAccount validates the external account of CreateUser or LinkExternalAccount.
func checkAccount(op string, acct *identity.ExternalAccount) error {
	if acct.Provider == "" || acct.Subject == "" || !validText(acct.Provider) || !validText(acct.Subject) {
		return identity.NewError(op, identity.ErrInvalidInput, "external_account", "blank")
	}
	return nil
}
