package httpadapter

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/identitykit/identity"
)

// wireError is an error this adapter finds in a request itself (a parameter it cannot read,
// a ConnectyCube rule the core does not know), carrying ConnectyCube's messages already. It
// wraps a sentinel of the identity package, so that errorTable maps it like the core's
// errors. Fields keys messages by field; the key "" holds messages ConnectyCube sends flat.
type wireError struct {
	op     string
	err    error
	fields map[string][]string
}

func (e *wireError) Error() string {
	keys := make([]string, 0, len(e.fields))
	for k := range e.fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(e.err.Error())
	b.WriteString(" (" + e.op + ")")
	for i, k := range keys {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if k != "" {
			b.WriteString(k + " ")
		}
		b.WriteString(strings.Join(e.fields[k], ", "))
	}
	return b.String()
}

func (e *wireError) Unwrap() error { return e.err }

// wireFieldError returns a *wireError of op wrapping sentinel with one message for one field.
func wireFieldError(op string, sentinel error, field, msg string) *wireError {
	return &wireError{op: op, err: sentinel, fields: map[string][]string{field: {msg}}}
}

// messages returns the ConnectyCube messages of err by field: a *wireError's as they are,
// an *identity.Error's codes in ConnectyCube's words (see wireMessage). ok is false when err
// is neither or has no fields.
func messages(err error) (fields map[string][]string, ok bool) {
	var we *wireError
	if errors.As(err, &we) {
		return we.fields, len(we.fields) > 0
	}
	var ie *identity.Error
	if !errors.As(err, &ie) || len(ie.Fields) == 0 {
		return nil, false
	}
	fields = map[string][]string{}
	var missing []string
	for _, f := range ie.Fields {
		if f.Code == "missing" {
			missing = append(missing, "'"+f.Field+"'")
			continue
		}
		key, msg := wireMessage(ie, f)
		if !slices.Contains(fields[key], msg) {
			fields[key] = append(fields[key], msg)
		}
	}
	if len(missing) > 0 {
		what := missing[0] + " parameter"
		if len(missing) > 1 {
			what = strings.Join(missing, " and ") + " parameters"
		}
		fields[""] = append(fields[""], "Bad Authentication data. Invalid input parameters provided: no "+what+" provided")
	}
	return fields, true
}

// providerTitles are the names ConnectyCube gives the providers whose "disabled" problems it
// words.
var providerTitles = map[string]string{"cidp": "Custom Identity Provider", "oidc": "OIDC login", "facebook": "Facebook", "twitter": "Twitter"}

// wireMessage words one problem of ie as ConnectyCube does: the key it goes under ("" for the
// flat shape, "base" for the request as a whole) and the message.
func wireMessage(ie *identity.Error, f identity.FieldError) (key, msg string) {
	if errors.Is(ie.Err, identity.ErrRejectedByProvider) {
		// a Custom Identity Provider's answer that cannot sign the user in
		switch {
		case f.Code == "remote_refused":
			return "", fmt.Sprintf("Bad Authentication data. Unauthorized on remote side. Status: %d.", f.Limit)
		case f.Field == "uid" && f.Code == "blank":
			return "base", "Custom Identity Provider uid is required"
		case f.Field == "uid":
			return "base", "Custom Identity Provider uid " + codeText(f)
		case f.Code == "bad_mapping":
			return "base", "Custom Identity Provider response param " + f.Field + " is invalid"
		}
	}
	switch f.Code {
	case "disabled":
		title := providerTitles[f.Field]
		if title == "" {
			title = f.Field
		}
		return "base", title + " is not enabled for this application"
	case "login_or_email_required":
		return "base", "login or email is required"
	case "sign_up_disabled":
		return "base", "Sign up is disabled for this application"
	case "too_many_filters":
		return "base", fmt.Sprintf("too many filters (maximum is %d)", f.Limit)
	case "search_unsupported":
		return "base", "searching users is not supported by this server's store"
	case "storage_off":
		return "", "File storage is not configured on this server"
	case "too_many_files":
		return "base", fmt.Sprintf("Too many files (maximum is %d per user)", f.Limit)
	case "quota_exceeded":
		return "base", fmt.Sprintf("The files exceed the storage quota (maximum is %d bytes per user)", f.Limit)
	case "not_uploaded":
		return "base", "The file has not been uploaded"
	case "reset_off":
		return "base", "password reset by email is not configured"
	case "reset_unsupported":
		return "base", "password reset is not supported by the store"
	}
	switch f.Field {
	case "signature":
		return "base", "Unexpected signature"
	case "external_account":
		return "base", "external account " + codeText(f)
	case "grant":
		if f.Code == "blank" {
			return "base", "Upload grant is missing"
		}
		return "base", "Upload grant " + codeText(f)
	case "":
		return "base", codeText(f)
	}
	return f.Field, codeText(f)
}

// codeText words a field problem's code as ConnectyCube's validation messages do.
func codeText(f identity.FieldError) string {
	switch f.Code {
	case "blank":
		return "cannot be blank"
	case "taken":
		return "has already been taken"
	case "too_short":
		return fmt.Sprintf("is too short (minimum is %d characters)", f.Limit)
	case "too_long":
		unit := "characters"
		switch f.Field {
		case "custom_data":
			unit = "bytes"
		case "tag_list":
			unit = "tags"
		}
		return fmt.Sprintf("is too long (maximum is %d %s)", f.Limit, unit)
	case "too_many":
		return fmt.Sprintf("has too many values (maximum is %d)", f.Limit)
	case "out_of_range":
		if f.Limit > 0 {
			return fmt.Sprintf("must be between 1 and %d", f.Limit)
		}
		return "is out of range"
	case "negative":
		return "must be greater than or equal to 0"
	case "reserved":
		return "is reserved"
	case "incorrect":
		return "is incorrect"
	case "not_allowed":
		return "cannot be set for this account"
	case "managed":
		return "cannot be changed: the identity provider manages it"
	case "used":
		return "has already been used"
	case "expired":
		return "has expired"
	case "unsupported":
		return "is not supported"
	case "too_large":
		return fmt.Sprintf("is too large (maximum is %d bytes)", f.Limit)
	case "over_quota":
		return fmt.Sprintf("does not fit the storage quota (%d bytes left)", f.Limit)
	case "mismatch":
		if f.Field == "size" {
			return "does not match the size of the uploaded file"
		}
		return "does not match"
	case "not_a_blob":
		return "must be the uid of an uploaded file"
	case "foreign":
		return "belongs to another user"
	case "unknown_field":
		return "is not a searchable field"
	case "unknown_operator":
		return "has an unknown operator"
	case "operator_not_allowed":
		return "cannot be used with this operator"
	case "hidden":
		return "is hidden by the application settings"
	case "value_count":
		return "has the wrong number of values"
	case "wrong_type":
		return "has a value of the wrong type"
	}
	return "is invalid"
}
