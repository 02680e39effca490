package httpadapter

import (
	"fmt"
	"slices"
	"strings"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/query"
)

// The ConnectyCube rules of user retrieval, on top of identity.UserQuery.Check (which every
// search passes: known fields and operators, value kinds and counts, limits).
//
// V2 ("Retrieve users V2", GET /users/v2) searches the fields below. Stand-alone fields can
// be searched alone with a primary operator (eq, in, start_with); the date fields are
// "additional": they go with comparisons (gt, gte, lt, lte). Every V2 query needs one
// stand-alone field with a primary operator, or one date comparison; nin may exclude values
// of any stand-alone field; start_with needs 4 characters and limits the page to 5 users.
// The V2 limit defaults to 100.
//
// One deliberate difference from the ConnectyCube rule list: a query whose only filters are
// date comparisons ("last_request_at[gt]=...") is accepted. The documentation lists
// "created_at[gte]=..." alone as invalid, but the product's own example, "Retrieve users by
// last_request_at" (getV2({last_request_at: {gt: date}})), is exactly such a query, and the
// examples must work. Exclusions (nin) alone are still refused: they would list nearly every
// user.
//
// V1 (the deprecated GET /users list and its lookups) accepts every field of
// identity.UserQuery but custom_data, with eq, ne, in, nin, start_with and, but on tags, the
// comparisons and between; per_page defaults to 10, and its sort errors name "order".

// v2Fields are the fields V2 searches; true marks the stand-alone ones.
var v2Fields = map[query.Field]bool{
	query.ID:            true,
	query.Login:         true,
	query.Email:         true,
	query.FullName:      true,
	query.Phone:         true,
	query.ExternalID:    true,
	query.FacebookID:    true,
	query.TwitterID:     true,
	query.Tags:          true,
	query.LastRequestAt: false,
	query.CreatedAt:     false,
	query.UpdatedAt:     false,
}

const (
	// startWithLimit is the page of a V2 start_with search.
	startWithLimit = 5
	// v1DefaultLimit is the default per_page of V1 lists.
	v1DefaultLimit = 10
)

// checkV2 enforces the V2 rules and fills the V2 defaults, then identity's own checks;
// violations come as one *identity.Error naming every field at fault.
func checkV2(q *identity.UserQuery) error {
	f := fieldErrs{}
	primary, dateRange, startWith := false, false, false
	for _, fl := range q.Filters {
		standalone, ok := v2Fields[fl.Field]
		if !ok {
			f.add(string(fl.Field), "is not a searchable field")
			continue
		}
		kind := fl.Field.Kind()
		switch fl.Op {
		case query.Eq, query.In, query.StartWith:
			if kind == query.KindTime {
				continue // checked below, once we know whether a primary filter exists
			}
			if fl.Op == query.StartWith {
				if kind != query.KindString {
					f.add(string(fl.Field), "cannot be used with start_with")
					continue
				}
				startWith = true
			}
			primary = primary || standalone
		case query.Nin:
			if kind == query.KindTime {
				f.add(string(fl.Field), "is a date field and can be used only with gt, gte, lt, lte")
			}
		case query.Gt, query.Gte, query.Lt, query.Lte:
			if kind != query.KindTime {
				f.add(string(fl.Field), "is a stand-alone field and cannot be used with "+string(fl.Op))
			} else {
				dateRange = true
			}
		default:
			f.add(string(fl.Field), fmt.Sprintf("has an unknown operator %q", fl.Op))
		}
	}
	for _, fl := range q.Filters {
		if _, ok := v2Fields[fl.Field]; !ok || fl.Field.Kind() != query.KindTime {
			continue
		}
		switch fl.Op {
		case query.In, query.StartWith:
			f.add(string(fl.Field), "is a date field and can be used only with gt, gte, lt, lte")
		case query.Eq:
			if !primary {
				f.add(string(fl.Field), "is a date field and can be used only with gt, gte, lt, lte")
			}
		}
	}
	if len(f) == 0 && !primary && !dateRange {
		f.add("base", "at least one stand-alone field (id, login, email, full_name, phone, external_id, facebook_id, twitter_id, user_tags) with eq, in or start_with, or a date field with gt, gte, lt or lte, is required")
	}
	if q.SortField != "" {
		if _, ok := v2Fields[q.SortField]; !ok || q.SortField.Kind() == query.KindTags {
			f.add("sort", fmt.Sprintf("cannot sort by %q", q.SortField))
		}
	}
	// A blank primary text value would select every user without the field.
	for _, fl := range q.Filters {
		k := fl.Field.Kind()
		if (fl.Op == query.Eq || fl.Op == query.In || fl.Op == query.StartWith) && (k == query.KindString || k == query.KindTags) {
			for _, v := range fl.Values {
				if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
					f.add(string(fl.Field), "cannot be blank")
					break
				}
			}
		}
	}
	if err := withCoreChecks(f, q, "search users"); err != nil {
		return err
	}
	if startWith {
		q.Limit = startWithLimit
	}
	return nil
}

// checkV1 fills the V1 default page and runs identity's checks, which are V1's rules: every
// field but custom_data, every operator (no comparison on tags), sort errors under "order".
func checkV1(q *identity.UserQuery) error {
	if q.Limit == 0 {
		q.Limit = v1DefaultLimit
	}
	return renameSortField(q.Check())
}

// withCoreChecks adds the messages of identity's own checks of q to f, without repeating a
// message the V2 rules gave already, and returns f's error.
func withCoreChecks(f fieldErrs, q *identity.UserQuery, op string) error {
	if err := q.Check(); err != nil {
		core, ok := messages(err)
		if !ok {
			return err
		}
		for field, msgs := range core {
			for _, m := range msgs {
				if !slices.Contains(f[field], m) {
					f.add(field, m)
				}
			}
		}
	}
	return f.err(op)
}

// renameSortField returns err with its "sort" messages under "order", the name of V1's sort
// parameter; other errors are returned as they are.
func renameSortField(err error) error {
	msgs, ok := messages(err)
	if !ok || msgs["sort"] == nil {
		return err
	}
	fields := make(fieldErrs, len(msgs))
	for k, v := range msgs {
		if k == "sort" {
			k = "order"
		}
		fields[k] = append(fields[k], v...)
	}
	return fields.err("search users")
}
