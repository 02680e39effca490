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

type fieldInfo struct {
	kind FieldKind
	// v2 reports the field is searchable through V2; standalone that it is a "stand-alone"
	// field there (else "additional").
	v2, standalone bool
}

var fields = map[UserField]fieldInfo{
	FieldID:             {KindInt, true, true},
	FieldLogin:          {KindString, true, true},
	FieldEmail:          {KindString, true, true},
	FieldFullName:       {KindString, true, true},
	FieldPhone:          {KindString, true, true},
	FieldExternalID:     {KindString, true, true},
	FieldFacebookID:     {KindString, true, true},
	FieldTwitterID:      {KindString, true, true},
	FieldTags:           {KindTags, true, true},
	FieldLastRequestAt:  {KindTime, true, false},
	FieldCreatedAt:      {KindTime, true, false},
	FieldUpdatedAt:      {KindTime, true, false},
	FieldWebsite:        {KindString, false, false},
	FieldExternalUserID: {KindInt, false, false},
	FieldBlobID:         {KindInt, false, false},
	FieldTimezone:       {KindInt, false, false},
}

// Kind returns the kind of f's values, KindUnknown for an unknown field.
func (f UserField) Kind() FieldKind { return fields[f].kind }

// FilterOp is a comparison of a UserFilter.
type FilterOp string

// Filter operators. V2 uses Eq, In and StartWith (primary), Nin (exclude) and the four
// comparisons; V1 adds Ne and Between (two values, inclusive).
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
	// MaxSearchLimit is the largest page (V2 limit, V1 per_page).
	MaxSearchLimit = 100
	// MaxFilterValues bounds the values of one in/nin filter.
	MaxFilterValues = 100
	// MaxFilters bounds the filters of one query.
	MaxFilters = 20
	// MinStartWith is the shortest start_with argument; start_with forces StartWithLimit.
	MinStartWith   = 4
	StartWithLimit = 5
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

// UserQuery is a search of an application's users. The zero Limit means the default (100
// for V2). Results are ordered by SortField (default id ascending), then by id.
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

// CheckV2 enforces the ConnectyCube "Retrieve users V2" request rules and fills defaults:
// every field known to V2 and every value of its kind; at least one stand-alone field with a
// primary operator (eq, in, start_with) or at least one date comparison (see below);
// stand-alone fields never with a comparison; date
// fields only with comparisons (a date with eq is accepted next to a stand-alone primary
// filter and means the same second); start_with on string fields with at least 4 characters,
// forcing the limit to 5; limit 1..100 (default 100); offset ≥ 0. Violations come as an
// *Error wrapping ErrInvalidInput whose Fields name the field and the rule broken.
//
// One deliberate difference from the ConnectyCube rule list: a query whose only filters are
// date comparisons ("last_request_at[gt]=...") is accepted. The documentation lists
// "created_at[gte]=..." alone as invalid, but the product's own example, "Retrieve users by
// last_request_at" (getV2({last_request_at: {gt: date}})), is exactly such a query, and the
// examples must work. Exclusions (nin) alone are still refused: they would list nearly
// every user.
func (q *UserQuery) CheckV2() error {
	f := fieldErrors{}
	primary := false
	dateRange := false
	startWith := false
	for _, fl := range q.Filters {
		info, ok := fields[fl.Field]
		if !ok || !info.v2 {
			f.add(string(fl.Field), "is not a searchable field")
			continue
		}
		switch fl.Op {
		case OpEq, OpIn, OpStartWith:
			if info.kind == KindTime {
				continue // checked below, once we know whether a primary filter exists
			}
			if fl.Op == OpStartWith {
				if info.kind != KindString {
					f.add(string(fl.Field), "cannot be used with start_with")
					continue
				}
				startWith = true
			}
			primary = primary || info.standalone
		case OpNin:
			if info.kind == KindTime {
				f.add(string(fl.Field), "is a date field and can be used only with gt, gte, lt, lte")
			}
		case OpGt, OpGte, OpLt, OpLte:
			if info.kind != KindTime {
				f.add(string(fl.Field), "is a stand-alone field and cannot be used with "+string(fl.Op))
			} else {
				dateRange = true
			}
		default:
			f.add(string(fl.Field), fmt.Sprintf("has an unknown operator %q", fl.Op))
		}
	}
	for _, fl := range q.Filters {
		if info := fields[fl.Field]; info.v2 && info.kind == KindTime {
			switch fl.Op {
			case OpIn, OpStartWith:
				f.add(string(fl.Field), "is a date field and can be used only with gt, gte, lt, lte")
			case OpEq:
				if !primary {
					f.add(string(fl.Field), "is a date field and can be used only with gt, gte, lt, lte")
				}
			}
		}
	}
	if len(f) == 0 && !primary && !dateRange {
		f.add("base", "at least one stand-alone field (id, login, email, full_name, phone, external_id, facebook_id, twitter_id, user_tags) with eq, in or start_with, or a date field with gt, gte, lt or lte, is required")
	}
	if q.SortField != "" {
		if info, ok := fields[q.SortField]; !ok || !info.v2 || info.kind == KindTags {
			f.add("sort", fmt.Sprintf("cannot sort by %q", q.SortField))
		}
	}
	q.checkCommon(f, true)
	if err := f.err("search users"); err != nil {
		return err
	}
	if q.Limit == 0 {
		q.Limit = MaxSearchLimit
	}
	if startWith {
		q.Limit = StartWithLimit
	}
	return nil
}

// CheckV1 checks a deprecated V1 list query: known fields (any but custom_data), operators
// and value kinds; limit 1..100 (default 10).
func (q *UserQuery) CheckV1() error {
	f := fieldErrors{}
	for _, fl := range q.Filters {
		if _, ok := fields[fl.Field]; !ok {
			f.add(string(fl.Field), "is not a searchable field")
			continue
		}
		switch fl.Op {
		case OpGt, OpGte, OpLt, OpLte, OpBetween:
			if fl.Field.Kind() == KindTags {
				f.add(string(fl.Field), "can be used only with eq, ne, in")
			}
		case OpEq, OpNe, OpIn, OpNin:
		case OpStartWith:
			if fl.Field.Kind() != KindString {
				f.add(string(fl.Field), "cannot be used with start_with")
			}
		default:
			f.add(string(fl.Field), fmt.Sprintf("has an unknown operator %q", fl.Op))
		}
	}
	if q.SortField != "" {
		if k := q.SortField.Kind(); k == KindUnknown || k == KindTags {
			f.add("order", fmt.Sprintf("cannot sort by %q", q.SortField))
		}
	}
	q.checkCommon(f, false)
	if err := f.err("list users"); err != nil {
		return err
	}
	if q.Limit == 0 {
		q.Limit = 10
	}
	return nil
}

// checkCommon checks value counts and kinds, limit and offset; v2 adds that the values of
// primary text filters are not blank (which would select every user without the field).
func (q *UserQuery) checkCommon(f fieldErrors, v2 bool) {
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
		if v2 && (fl.Op == OpEq || fl.Op == OpIn || fl.Op == OpStartWith) && (kind == KindString || kind == KindTags) {
			for _, v := range fl.Values {
				if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
					f.add(name, "cannot be blank")
					break
				}
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

// SearchUsers runs a V2 search ("Retrieve users V2") in the session's application after
// CheckV2. Application sessions may search. ErrDisabled when the application does not allow
// retrieving lists of users. With AppSettings.HideContactInfo, users other than the
// session's own come without Email and Phone, and a filter on email or phone other than
// eq, in, ne or nin, or a sort by either, is an *Error wrapping ErrInvalidInput naming the
// field (or "sort").
func (id *Identity) SearchUsers(ctx context.Context, s *Session, q UserQuery) (*UserPage, error) {
	if err := q.CheckV2(); err != nil {
		return nil, err
	}
	return id.search(ctx, s, &q, false, true)
}

// ListUsersV1 runs a deprecated V1 list query after CheckV1. ErrDisabled when the
// application disables the V1 API or lists of users. AppSettings.HideContactInfo applies as
// in SearchUsers (the order error names "order").
func (id *Identity) ListUsersV1(ctx context.Context, s *Session, q UserQuery) (*UserPage, error) {
	if err := q.CheckV1(); err != nil {
		return nil, err
	}
	return id.search(ctx, s, &q, true, true)
}

// UserSearcher is implemented by stores that can search users (gormstore does).
type UserSearcher interface {
	// SearchUsers returns the users of appID matching every filter of q (already checked by
	// CheckV2 or CheckV1), ordered by q.SortField (id when empty; ties broken by id in the
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

// LookupUserV1 returns the single user matching field = value (the deprecated by_login,
// by_email, by_facebook_id, by_twitter_id, phone and external lookups), ErrUserNotFound when
// none does. ErrDisabled when the application disables the V1 API (the "list" setting does
// not apply to single lookups). With AppSettings.HideContactInfo another user comes without
// Email and Phone; looking up by an exact email or phone stays allowed.
func (id *Identity) LookupUserV1(ctx context.Context, s *Session, field UserField, value any) (*User, error) {
	q := UserQuery{Filters: []UserFilter{{Field: field, Op: OpEq, Values: []any{value}}}, Limit: 1}
	if err := q.CheckV1(); err != nil {
		return nil, err
	}
	p, err := id.search(ctx, s, &q, true, false)
	if err != nil {
		return nil, err
	}
	if len(p.Users) == 0 {
		return nil, ErrUserNotFound
	}
	return p.Users[0], nil
}

func (id *Identity) search(ctx context.Context, s *Session, q *UserQuery, v1, list bool) (*UserPage, error) {
	if s == nil {
		return nil, ErrSessionNotFound
	}
	app, err := id.application(ctx, s.ApplicationID)
	if err != nil {
		return nil, err
	}
	if (list && app.Settings.DisableUserList) || (v1 && app.Settings.DisableUsersV1) {
		return nil, &Error{Op: "search users", Err: ErrDisabled}
	}
	if app.Settings.HideContactInfo {
		if err := checkHiddenContact(q, v1); err != nil {
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
func checkHiddenContact(q *UserQuery, v1 bool) error {
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
		key := "sort"
		if v1 {
			key = "order"
		}
		f.add(key, fmt.Sprintf("cannot sort by %q: it is hidden by the application settings", q.SortField))
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
