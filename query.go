package identity

import (
	"context"
	"unicode/utf8"

	"github.com/identitykit/identity/query"
)

// UserQuery is a search of an application's users. The zero Limit means query.MaxLimit.
// Results are ordered by SortField (default id ascending), then by id.
type UserQuery struct {
	Filters   []query.Filter
	SortField query.Field
	SortDesc  bool
	Limit     int
	Offset    int
}

// UserPage is one page of search results. Total counts the matches, exactly up to
// query.TotalLimit (see UserSearcher).
type UserPage struct {
	Users  []*User
	Total  int64
	Limit  int
	Offset int
}

// Check checks q the way every search does and fills its default limit: known fields and
// operators, values of the field's kind (strings valid UTF-8 without NUL, at most 255 bytes),
// value counts (one; two for between; 1 to query.MaxValues for in and nin), no comparison or
// between on tags, start_with only on strings and with at least query.MinStartWith characters, a
// sort field that is known and not tags, at most query.MaxFilters filters, limit 0 (meaning
// query.MaxLimit) to query.MaxLimit, offset ≥ 0. Violations come as an *Error wrapping
// ErrInvalidInput whose Fields name the field and the rule broken. Callers that serve a
// protocol add its own rules first (httpadapter does ConnectyCube's V1 and V2 rules).
func (q *UserQuery) Check() error {
	f := fieldErrors{}
	for _, fl := range q.Filters {
		kind := fl.Field.Kind()
		if kind == query.KindUnknown {
			f.add(string(fl.Field), "unknown_field")
			continue
		}
		switch fl.Op {
		case query.Gt, query.Gte, query.Lt, query.Lte, query.Between:
			if kind == query.KindTags {
				f.add(string(fl.Field), "operator_not_allowed")
			}
		case query.Eq, query.Ne, query.In, query.Nin:
		case query.StartWith:
			if kind != query.KindString {
				f.add(string(fl.Field), "operator_not_allowed")
			}
		default:
			f.add(string(fl.Field), "unknown_operator")
		}
	}
	if q.SortField != "" {
		if k := q.SortField.Kind(); k == query.KindUnknown || k == query.KindTags {
			f.add("sort", "unknown_field")
		}
	}
	q.checkValues(&f)
	if err := f.err("search users"); err != nil {
		return err
	}
	if q.Limit == 0 {
		q.Limit = query.MaxLimit
	}
	return nil
}

// checkValues checks value counts and kinds, limit and offset.
func (q *UserQuery) checkValues(f *fieldErrors) {
	if len(q.Filters) > query.MaxFilters {
		f.limit("", "too_many_filters", query.MaxFilters)
	}
	for _, fl := range q.Filters {
		kind := fl.Field.Kind()
		if kind == query.KindUnknown {
			continue
		}
		name := string(fl.Field)
		n := len(fl.Values)
		switch fl.Op {
		case query.In, query.Nin:
			if n == 0 {
				f.add(name, "value_count")
			} else if n > query.MaxValues {
				f.limit(name, "too_many", query.MaxValues)
			}
		case query.Between:
			if n != 2 {
				f.add(name, "value_count")
			}
		default:
			if n != 1 {
				f.add(name, "value_count")
			}
		}
		for _, v := range fl.Values {
			if !kind.Accepts(v) {
				f.add(name, "wrong_type")
				break
			}
		}
		if fl.Op == query.StartWith && n == 1 {
			if s, ok := fl.Values[0].(string); ok && utf8.RuneCountInString(s) < query.MinStartWith {
				f.limit(name, "too_short", query.MinStartWith)
			}
		}
	}
	if q.Limit < 0 || q.Limit > query.MaxLimit {
		f.limit("limit", "out_of_range", query.MaxLimit)
	}
	if q.Offset < 0 {
		f.add("offset", "negative")
	}
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
	// and the number of matches, which is exact up to max(query.TotalLimit,
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
func (id *Identity) LookupUser(ctx context.Context, s *Session, field query.Field, value any) (*User, error) {
	q := UserQuery{Filters: []query.Filter{{Field: field, Op: query.Eq, Values: []any{value}}}, Limit: 1}
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
		return nil, NewError("search users", ErrDisabled, "", "search_unsupported")
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
		case query.Eq, query.In, query.Ne, query.Nin:
		default:
			f.add(string(fl.Field), "hidden")
		}
	}
	if hiddenField(q.SortField) {
		f.add("sort", "hidden")
	}
	return f.err("search users")
}

func hiddenField(f query.Field) bool { return f == query.Email || f == query.Phone }

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
