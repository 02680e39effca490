package identity

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// UserField names a user attribute a UserQuery filters or sorts on (its wire name).
type UserField string

// The fields of user searches.
const (
	FieldID             UserField = "id"
	FieldLogin          UserField = "login"
	FieldEmail          UserField = "email"
	FieldFullName       UserField = "full_name"
	FieldPhone          UserField = "phone"
	FieldWebsite        UserField = "website"
	FieldExternalID     UserField = "external_id"
	FieldExternalUserID UserField = "external_user_id"
	FieldFacebookID     UserField = "facebook_id"
	FieldTwitterID      UserField = "twitter_id"
	FieldBlobID         UserField = "blob_id"
	FieldTimezone       UserField = "timezone"
	FieldTags           UserField = "user_tags"
	FieldLastRequestAt  UserField = "last_request_at"
	FieldCreatedAt      UserField = "created_at"
	FieldUpdatedAt      UserField = "updated_at"
)

// FieldKind is the type of a UserField's values.
type FieldKind int

// Field kinds: integers (int64 values), strings, tags (string values, matched against each
// tag case-insensitively) and times (time.Time values).
const (
	KindUnknown FieldKind = iota
	KindInt
	KindString
	KindTags
	KindTime
)

var fields = map[UserField]FieldKind{
	FieldID:             KindInt,
	FieldLogin:          KindString,
	FieldEmail:          KindString,
	FieldFullName:       KindString,
	FieldPhone:          KindString,
	FieldExternalID:     KindString,
	FieldFacebookID:     KindString,
	FieldTwitterID:      KindString,
	FieldTags:           KindTags,
	FieldLastRequestAt:  KindTime,
	FieldCreatedAt:      KindTime,
	FieldUpdatedAt:      KindTime,
	FieldWebsite:        KindString,
	FieldExternalUserID: KindInt,
	FieldBlobID:         KindInt,
	FieldTimezone:       KindInt,
}

// Kind returns the kind of f's values, KindUnknown for an unknown field.
func (f UserField) Kind() FieldKind { return fields[f] }

// FilterOp is a comparison of a UserFilter.
type FilterOp string

// Filter operators. Between takes two values and is inclusive; StartWith is a prefix match
// of string fields.
const (
	OpEq        FilterOp = "eq"
	OpNe        FilterOp = "ne"
	OpIn        FilterOp = "in"
	OpNin       FilterOp = "nin"
	OpStartWith FilterOp = "start_with"
	OpGt        FilterOp = "gt"
	OpGte       FilterOp = "gte"
	OpLt        FilterOp = "lt"
	OpLte       FilterOp = "lte"
	OpBetween   FilterOp = "between"
)

// Limits of user searches.
const (
	// MaxSearchLimit is the largest page, and the default one.
	MaxSearchLimit = 100
	// MaxFilterValues bounds the values of one in/nin filter.
	MaxFilterValues = 100
	// MaxFilters bounds the filters of one query.
	MaxFilters = 20
	// MinStartWith is the shortest start_with argument.
	MinStartWith = 4
	// SearchTotalLimit bounds counting: a search's Total is exact up to SearchTotalLimit
	// matches (or Offset+Limit+1, when larger) and is that bound when more users match, so
	// that a broad filter (a tag most users have) costs a bounded count, not a scan. See
	// UserSearcher.
	SearchTotalLimit = 1000
	maxValueLength   = 255
)

// UserFilter is one condition: Field Op Values. Values hold int64 for KindInt, string for
// KindString and KindTags, time.Time for KindTime; Eq, Ne, StartWith and the comparisons
// take one value, Between two, In and Nin one or more.
type UserFilter struct {
	Field  UserField
	Op     FilterOp
	Values []any
}

// UserQuery is a search of an application's users. The zero Limit means MaxSearchLimit.
// Results are ordered by SortField (default id ascending), then by id.
type UserQuery struct {
	Filters   []UserFilter
	SortField UserField
	SortDesc  bool
	Limit     int
	Offset    int
}

// UserPage is one page of search results. Total counts the matches, exactly up to
// SearchTotalLimit (see UserSearcher).
type UserPage struct {
	Users  []*User
	Total  int64
	Limit  int
	Offset int
}

// Check checks q the way every search does and fills its default limit: known fields and
// operators, values of the field's kind (strings valid UTF-8 without NUL, at most 255 bytes),
// value counts (one; two for between; 1 to MaxFilterValues for in and nin), no comparison or
// between on tags, start_with only on strings and with at least MinStartWith characters, a
// sort field that is known and not tags, at most MaxFilters filters, limit 0 (meaning
// MaxSearchLimit) to MaxSearchLimit, offset ≥ 0. Violations come as an *Error wrapping
// ErrInvalidInput whose Fields name the field and the rule broken. Callers that serve a
// protocol add its own rules first (httpadapter does ConnectyCube's V1 and V2 rules).
func (q *UserQuery) Check() error {
	f := fieldErrors{}
	for _, fl := range q.Filters {
		kind := fl.Field.Kind()
		if kind == KindUnknown {
			f.add(string(fl.Field), "is not a searchable field")
			continue
		}
		switch fl.Op {
		case OpGt, OpGte, OpLt, OpLte, OpBetween:
			if kind == KindTags {
				f.add(string(fl.Field), "can be used only with eq, ne, in")
			}
		case OpEq, OpNe, OpIn, OpNin:
		case OpStartWith:
			if kind != KindString {
				f.add(string(fl.Field), "cannot be used with start_with")
			}
		default:
			f.add(string(fl.Field), fmt.Sprintf("has an unknown operator %q", fl.Op))
		}
	}
	if q.SortField != "" {
		if k := q.SortField.Kind(); k == KindUnknown || k == KindTags {
			f.add("sort", fmt.Sprintf("cannot sort by %q", q.SortField))
		}
	}
	q.checkValues(f)
	if err := f.err("search users"); err != nil {
		return err
	}
	if q.Limit == 0 {
		q.Limit = MaxSearchLimit
	}
	return nil
}

// checkValues checks value counts and kinds, limit and offset.
func (q *UserQuery) checkValues(f fieldErrors) {
	if len(q.Filters) > MaxFilters {
		f.add("base", fmt.Sprintf("too many filters (maximum is %d)", MaxFilters))
	}
	for _, fl := range q.Filters {
		kind := fl.Field.Kind()
		if kind == KindUnknown {
			continue
		}
		name := string(fl.Field)
		n := len(fl.Values)
		switch fl.Op {
		case OpIn, OpNin:
			if n == 0 {
				f.add(name, "needs at least one value")
			} else if n > MaxFilterValues {
				f.add(name, fmt.Sprintf("has too many values (maximum is %d)", MaxFilterValues))
			}
		case OpBetween:
			if n != 2 {
				f.add(name, "between needs two values")
			}
		default:
			if n != 1 {
				f.add(name, "needs exactly one value")
			}
		}
		for _, v := range fl.Values {
			if !valueFits(kind, v) {
				f.add(name, "has a value of the wrong type")
				break
			}
		}
		if fl.Op == OpStartWith && n == 1 {
			if s, ok := fl.Values[0].(string); ok && utf8.RuneCountInString(s) < MinStartWith {
				f.add(name, fmt.Sprintf("start_with needs at least %d characters", MinStartWith))
			}
		}
	}
	if q.Limit < 0 || q.Limit > MaxSearchLimit {
		f.add("limit", fmt.Sprintf("must be between 1 and %d", MaxSearchLimit))
	}
	if q.Offset < 0 {
		f.add("offset", "must be greater than or equal to 0")
	}
}

func valueFits(k FieldKind, v any) bool {
	switch k {
	case KindInt:
		_, ok := v.(int64)
		return ok
	case KindString, KindTags:
		s, ok := v.(string)
		return ok && utf8.ValidString(s) && len(s) <= maxValueLength && !strings.ContainsRune(s, 0)
	case KindTime:
		_, ok := v.(time.Time)
		return ok
	}
	return false
}

// SearchUsers runs q (see UserQuery.Check) over the users of the session's application.
// Application sessions may search. ErrDisabled when the application does not allow
// retrieving lists of users (AppSettings.DisableUserList). With
// AppSettings.HideContactInfo, users other than the session's own come without Email and
// Phone, and a filter on email or phone other than eq, in, ne or nin, or a sort by either, is
// an *Error wrapping ErrInvalidInput naming the field (or "sort").
func (id *Identity) SearchUsers(ctx context.Context, s *Session, q UserQuery) (*UserPage, error) {
	return id.search(ctx, s, &q, true)
}

// UserSearcher is implemented by stores that can search users (gormstore does).
type UserSearcher interface {
	// SearchUsers returns the users of appID matching every filter of q (already checked by
	// UserQuery.Check), ordered by q.SortField (id when empty; ties broken by id in the
	// same direction; an unset value sorts lowest), at most q.Limit of them from q.Offset,
	// and the number of matches, which is exact up to max(SearchTotalLimit,
	// q.Offset+q.Limit+1): beyond that bound the store may stop counting and return the
	// bound, so that a broad filter costs a bounded count and a client paging until
	// Offset+len(Users) reaches the total still sees every page.
	//
	// Matching: login and email compare case-insensitively (NormalizeLogin,
	// NormalizeEmail), other text exactly; start_with is a case-insensitive prefix match
	// (login and email lower-cased as for equality, the other fields for the ASCII letters
	// A-Z only); tag filters match any tag case-insensitively; times compare to the
	// microsecond, and eq (ne) on a time means within (outside) the same second; ne and nin
	// also match users without a value. A field, operator or value the store cannot search
	// is an *Error wrapping ErrInvalidInput. Values are always bound as parameters, never
	// spliced into SQL.
	SearchUsers(ctx context.Context, appID int64, q *UserQuery) ([]*User, int64, error)
}

// LookupUser returns the user of the session's application whose field equals value (the
// lowest id when several do), ErrUserNotFound when none does. Unlike SearchUsers it is not
// bound by AppSettings.DisableUserList: it finds one user by a value the caller knows. With
// AppSettings.HideContactInfo another user comes without Email and Phone; looking up by an
// exact email or phone stays allowed.
func (id *Identity) LookupUser(ctx context.Context, s *Session, field UserField, value any) (*User, error) {
	q := UserQuery{Filters: []UserFilter{{Field: field, Op: OpEq, Values: []any{value}}}, Limit: 1}
	p, err := id.search(ctx, s, &q, false)
	if err != nil {
		return nil, err
	}
	if len(p.Users) == 0 {
		return nil, ErrUserNotFound
	}
	return p.Users[0], nil
}

func (id *Identity) search(ctx context.Context, s *Session, q *UserQuery, list bool) (*UserPage, error) {
	if s == nil {
		return nil, ErrSessionNotFound
	}
	app, err := id.application(ctx, s.ApplicationID)
	if err != nil {
		return nil, err
	}
	if list && app.Settings.DisableUserList {
		return nil, &Error{Op: "search users", Err: ErrDisabled}
	}
	if err := q.Check(); err != nil {
		return nil, err
	}
	if app.Settings.HideContactInfo {
		if err := checkHiddenContact(q); err != nil {
			return nil, err
		}
	}
	p, err := id.searchApp(ctx, app.ID, q)
	if err != nil {
		return nil, err
	}
	for i, u := range p.Users {
		p.Users[i] = hideContact(app, s, u)
	}
	return p, nil
}

// searchApp runs the checked query q on the users of appID through the Store.
func (id *Identity) searchApp(ctx context.Context, appID int64, q *UserQuery) (*UserPage, error) {
	searcher, ok := id.store.(UserSearcher)
	if !ok {
		return nil, FieldError("search users", ErrDisabled, "base", "searching users is not supported by this server's store")
	}
	users, total, err := searcher.SearchUsers(ctx, appID, q)
	if err != nil {
		return nil, err
	}
	return &UserPage{Users: users, Total: total, Limit: q.Limit, Offset: q.Offset}, nil
}

// checkHiddenContact refuses, for an application with AppSettings.HideContactInfo, the
// filters and orders that would reveal hidden emails and phones without naming them:
// start_with and the comparisons narrow a value down a character or a range at a time, and
// an order by them sorts users by the hidden value. Exact values (eq, in, ne, nin, and so
// the by_email and by_phone lookups) stay allowed: they only confirm an address the caller
// already knows, which signing up with it would confirm too ("has already been taken"), and
// they keep contact discovery (which of these addresses are users?) working.
func checkHiddenContact(q *UserQuery) error {
	f := fieldErrors{}
	for _, fl := range q.Filters {
		if !hiddenField(fl.Field) {
			continue
		}
		switch fl.Op {
		case OpEq, OpIn, OpNe, OpNin:
		default:
			f.add(string(fl.Field), "is hidden by the application settings and can be used only with eq, in, ne, nin")
		}
	}
	if hiddenField(q.SortField) {
		f.add("sort", fmt.Sprintf("cannot sort by %q: it is hidden by the application settings", q.SortField))
	}
	return f.err("search users")
}

func hiddenField(f UserField) bool { return f == FieldEmail || f == FieldPhone }

// hideContact returns u as session s may see it: without Email and Phone when the
// application hides the contact information of other users (AppSettings.HideContactInfo)
// and u is not the session's own user. u itself is never modified.
func hideContact(app *Application, s *Session, u *User) *User {
	if !app.Settings.HideContactInfo || (s.UserID != 0 && u.ID == s.UserID) || (u.Email == "" && u.Phone == "") {
		return u
	}
	c := *u
	c.Email, c.Phone = "", ""
	return &c
}
