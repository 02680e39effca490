package httpadapter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/query"
)

// This file serves user retrieval: GET /users/v2, the deprecated V1 list GET /users and the V1
// lookups (by_login, by_email, by_facebook_id, ...). Parsers turn the decoded parameters into
// an identity.UserQuery; every malformed parameter is a field error (422), never SQL: the store
// compiles queries with bound parameters only.

// maxOffset bounds offset (V2) and (page-1)*per_page (V1).
const maxOffset = math.MaxInt32

// writeV2Page sends the body of GET /users/v2: {"limit","skip","total_entries","items"}
// with flat user objects.
func writeV2Page(w http.ResponseWriter, p *identity.UserPage) error {
	return writePage(w, `{"limit":`, p.Limit, `,"skip":`, p.Offset, p, false)
}

// writeV1Page sends the body of the V1 lists: {"current_page","per_page","total_entries",
// "items"} with user objects wrapped in {"user":...}.
func writeV1Page(w http.ResponseWriter, page int, p *identity.UserPage) error {
	return writePage(w, `{"current_page":`, page, `,"per_page":`, p.Limit, p, true)
}

// writePage sends a 200 page body: key1 (which opens the object) and n1, key2 and n2, then
// "total_entries" and "items" with p's users, each wrapped in {"user":...} when wrap.
func writePage(w http.ResponseWriter, key1 string, n1 int, key2 string, n2 int, p *identity.UserPage, wrap bool) error {
	b := make([]byte, 0, 256+len(p.Users)*512)
	b = append(b, key1...)
	b = strconv.AppendInt(b, int64(n1), 10)
	b = append(b, key2...)
	b = strconv.AppendInt(b, int64(n2), 10)
	b = append(b, `,"total_entries":`...)
	b = strconv.AppendInt(b, p.Total, 10)
	b = append(b, `,"items":[`...)
	for i, u := range p.Users {
		if i > 0 {
			b = append(b, ',')
		}
		if wrap {
			b = append(b, `{"user":`...)
		}
		b = appendUserJSON(b, u)
		if wrap {
			b = append(b, '}')
		}
	}
	writeBody(w, http.StatusOK, append(b, "]}"...))
	return nil
}

// v2Ops are the operators of V2 bracket keys (field[op]). eq is accepted as the explicit
// form of field=value.
var v2Ops = map[string]query.Op{
	"eq": query.Eq, "in": query.In, "nin": query.Nin, "start_with": query.StartWith,
	"gt": query.Gt, "gte": query.Gte, "lt": query.Lt, "lte": query.Lte,
}

// parseV2 reads a V2 search: field=v, field[op]=v, field[op][]=v (and field[]=v as "in"),
// limit, offset, sort_asc or sort_desc. Values of in and nin may also be one comma-separated
// string for integer and tag fields. Dates are ISO 8601, Unix seconds, or a JavaScript
// Date's string form (parseTime). The rules of the query are checked by checkV2
// (users_rules.go); parseV2 reports what cannot even be read.
func parseV2(p params) (identity.UserQuery, error) {
	f := fieldErrs{}
	var q identity.UserQuery
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same query always compiles to the same SQL text
	sorted := false
	for _, k := range keys {
		v := p[k]
		switch k {
		case "limit":
			n, ok := intParam(f, k, v, 1, query.MaxLimit)
			if ok {
				q.Limit = n
			}
			continue
		case "offset":
			n, ok := intParam(f, k, v, 0, maxOffset)
			if ok {
				q.Offset = n
			}
			continue
		case "sort_asc", "sort_desc":
			s, ok := asString(v)
			if !ok || strings.TrimSpace(s) == "" {
				f.add(k, "is invalid")
				continue
			}
			if sorted {
				f.add(k, "cannot be used with another sort_asc or sort_desc")
				continue
			}
			sorted = true
			q.SortField = query.Field(strings.TrimSpace(s))
			q.SortDesc = k == "sort_desc"
			continue
		}
		field := query.Field(k)
		if field.Kind() == query.KindUnknown {
			f.add(fieldName(k), "is not a searchable field")
			continue
		}
		switch x := v.(type) {
		case params:
			ops := make([]string, 0, len(x))
			for op := range x {
				ops = append(ops, op)
			}
			sort.Strings(ops)
			for _, opName := range ops {
				op, ok := v2Ops[opName]
				if !ok {
					f.add(k, fmt.Sprintf("has an unknown operator %q", truncate(opName)))
					continue
				}
				if fl, ok := readFilter(f, field, op, x[opName]); ok {
					q.Filters = append(q.Filters, fl)
				}
			}
		case []any:
			if fl, ok := readFilter(f, field, query.In, x); ok {
				q.Filters = append(q.Filters, fl)
			}
		default:
			op := query.Eq
			if field.Kind() == query.KindTags {
				if s, _ := asString(v); strings.Contains(s, ",") {
					op = query.In // user_tags=a,b: any of them
				}
			}
			if fl, ok := readFilter(f, field, op, v); ok {
				q.Filters = append(q.Filters, fl)
			}
		}
	}
	return q, f.err("search users")
}

// fieldName keeps an unknown parameter name short enough to echo.
func fieldName(k string) string { return truncate(k) }

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// intParam reads an integer parameter in [lo, hi].
func intParam(f fieldErrs, name string, v any, lo, hi int64) (int, bool) {
	n, ok := asInt64(v)
	switch {
	case !ok:
		f.add(name, "is invalid")
	case n < lo || n > hi:
		f.add(name, fmt.Sprintf("must be between %d and %d", lo, hi))
	default:
		return int(n), true
	}
	return 0, false
}

// readFilter reads the values of field op v: one scalar, or a list for in and nin (a list,
// or for integer and tag fields one comma-separated string).
func readFilter(f fieldErrs, field query.Field, op query.Op, v any) (query.Filter, bool) {
	name := string(field)
	var raw []string
	switch x := v.(type) {
	case []any:
		if op != query.In && op != query.Nin {
			f.add(name, fmt.Sprintf("%s takes one value, not a list", op))
			return query.Filter{}, false
		}
		s, ok := asStrings(x)
		if !ok {
			f.add(name, "is invalid")
			return query.Filter{}, false
		}
		raw = s
	case params:
		f.add(name, "is invalid")
		return query.Filter{}, false
	default:
		s, _ := asString(x)
		raw = []string{s}
		kind := field.Kind()
		if (op == query.In || op == query.Nin) && (kind == query.KindInt || kind == query.KindTags) {
			raw = strings.Split(s, ",")
		}
	}
	if len(raw) > query.MaxValues {
		f.add(name, fmt.Sprintf("has too many values (maximum is %d)", query.MaxValues))
		return query.Filter{}, false
	}
	vals, ok := parseValues(f, field, raw)
	if !ok {
		return query.Filter{}, false
	}
	return query.Filter{Field: field, Op: op, Values: vals}, true
}

// parseValues converts raw values to the kind of field: int64, string (tags trimmed) or
// time.Time.
func parseValues(f fieldErrs, field query.Field, raw []string) ([]any, bool) {
	name := string(field)
	vals := make([]any, 0, len(raw))
	for _, s := range raw {
		switch field.Kind() {
		case query.KindInt:
			n, ok := asInt64(s)
			if !ok {
				f.add(name, fmt.Sprintf("%s is not an integer", quoteValue(s)))
				return nil, false
			}
			vals = append(vals, n)
		case query.KindTime:
			t, ok := parseTime(s)
			if !ok {
				f.add(name, fmt.Sprintf("%s is not a date (use ISO 8601, Unix seconds or a JavaScript Date)", quoteValue(s)))
				return nil, false
			}
			vals = append(vals, t)
		case query.KindTags:
			vals = append(vals, strings.TrimSpace(s))
		default:
			vals = append(vals, s)
		}
	}
	return vals, true
}

func quoteValue(s string) string { return strconv.Quote(truncate(s)) }

// jsDate matches a JavaScript Date's toString(): "Fri Nov 10 2017 00:00:00 GMT+0000
// (Coordinated Universal Time)", which the SDK sends for a Date in a query.
var jsDate = regexp.MustCompile(`^([A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{4} \d{2}:\d{2}:\d{2} GMT[+-]\d{4})(?: \([^()]*\))?$`)

// timeLayouts are the ISO 8601 forms accepted besides RFC 3339; a time without a zone is UTC.
var timeLayouts = []string{
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02",
	"2006.01.02",
	time.RFC1123,  // Date.toUTCString()
	time.RFC1123Z, // and with a numeric zone
}

const (
	minUnix = -62135596800 // 0001-01-01T00:00:00Z
	maxUnix = 253402300799 // 9999-12-31T23:59:59Z
)

// parseTime reads a date the way clients send one: Unix seconds ("1690886495"), RFC 3339
// and other ISO 8601 forms ("2018-12-06T09:21:41Z", "2018-12-06T09:21:41.123+02:00",
// "2018-12-06 09:21:41", "2018-12-06"), the V1 form "2018.12.06", a JavaScript Date's
// toString() ("Fri Nov 10 2017 00:00:00 GMT+0000 (Coordinated Universal Time)", what the SDK
// sends for a Date) and toUTCString() ("Fri, 10 Nov 2017 00:00:00 GMT").
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 100 {
		return time.Time{}, false
	}
	if isInteger(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < minUnix || n > maxUnix {
			return time.Time{}, false
		}
		return time.Unix(n, 0).UTC(), true
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if m := jsDate.FindStringSubmatch(s); m != nil {
		t, err := time.Parse("Mon Jan 02 2006 15:04:05 GMT-0700", m[1])
		return t, err == nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func isInteger(s string) bool {
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	}
	if s == "" || len(s) > 19 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// v1Ops are the operators of V1 filter[] strings.
var v1Ops = map[string]query.Op{
	"gt": query.Gt, "lt": query.Lt, "ge": query.Gte, "le": query.Lte,
	"eq": query.Eq, "ne": query.Ne, "between": query.Between, "in": query.In,
}

// v1Types are the value types of V1 filter[] and order strings. Values are read by the kind
// of the field; the type must be one of these ("integer" appears in the documentation's
// order example).
var v1Types = map[string]bool{"number": true, "integer": true, "string": true, "date": true}

// parseV1Filter reads a V1 filter[] value, "<type> <field> <op> <value>": in takes "a,b,c", between
// "a,b"; dates are "yyyy-mm-dd", "yyyy.mm.dd" or any form parseTime reads.
func parseV1Filter(f fieldErrs, s string) (query.Filter, bool) {
	tokens, value := splitTokens(s, 3)
	if len(tokens) < 3 {
		f.add("filter", fmt.Sprintf("%s is not of the form \"<type> <field> <operator> <value>\"", quoteValue(s)))
		return query.Filter{}, false
	}
	typ, fieldStr, opStr := tokens[0], tokens[1], tokens[2]
	if !v1Types[typ] {
		f.add("filter", fmt.Sprintf("%s has an unknown type %s (number, string or date)", quoteValue(s), quoteValue(typ)))
		return query.Filter{}, false
	}
	field := query.Field(fieldStr)
	if field.Kind() == query.KindUnknown {
		f.add(fieldName(fieldStr), "is not a searchable field")
		return query.Filter{}, false
	}
	op, ok := v1Ops[opStr]
	if !ok {
		f.add(string(field), fmt.Sprintf("has an unknown operator %s", quoteValue(opStr)))
		return query.Filter{}, false
	}
	raw := []string{value}
	if op == query.In || op == query.Between {
		raw = strings.Split(value, ",")
		for i := range raw {
			raw[i] = strings.TrimSpace(raw[i])
		}
	}
	if len(raw) > query.MaxValues {
		f.add(string(field), fmt.Sprintf("has too many values (maximum is %d)", query.MaxValues))
		return query.Filter{}, false
	}
	vals, ok := parseValues(f, field, raw)
	if !ok {
		return query.Filter{}, false
	}
	return query.Filter{Field: field, Op: op, Values: vals}, true
}

// splitTokens returns the first n space-separated tokens of s and the rest, trimmed.
func splitTokens(s string, n int) ([]string, string) {
	var tokens []string
	rest := strings.TrimSpace(s)
	for len(tokens) < n && rest != "" {
		i := strings.IndexAny(rest, " \t")
		if i < 0 {
			tokens = append(tokens, rest)
			rest = ""
			break
		}
		tokens = append(tokens, rest[:i])
		rest = strings.TrimLeft(rest[i:], " \t")
	}
	return tokens, strings.TrimSpace(rest)
}

// parseV1Order reads "<asc|desc> <type> <field>".
func parseV1Order(f fieldErrs, q *identity.UserQuery, s string) {
	tokens, rest := splitTokens(s, 3)
	if len(tokens) < 3 || rest != "" || (tokens[0] != "asc" && tokens[0] != "desc") || !v1Types[tokens[1]] {
		f.add("order", fmt.Sprintf("%s is not of the form \"<asc|desc> <type> <field>\"", quoteValue(s)))
		return
	}
	q.SortDesc = tokens[0] == "desc"
	q.SortField = query.Field(tokens[2])
}

// parsePaging reads page (default 1) and per_page (default 10, 1..100) into q.
func parsePaging(f fieldErrs, p params, q *identity.UserQuery) (page int) {
	page, perPage := 1, 10
	if v, ok := p["page"]; ok {
		if n, ok := intParam(f, "page", v, 1, maxOffset); ok {
			page = n
		}
	}
	if v, ok := p["per_page"]; ok {
		if n, ok := intParam(f, "per_page", v, 1, query.MaxLimit); ok {
			perPage = n
		}
	}
	if int64(page-1)*int64(perPage) > maxOffset {
		f.add("page", "is too large")
	}
	q.Limit, q.Offset = perPage, (page-1)*perPage
	return page
}

// unknownParams adds an error for every parameter of p not in known.
func unknownParams(f fieldErrs, p params, known ...string) {
	for k := range p {
		found := false
		for _, n := range known {
			if k == n {
				found = true
				break
			}
		}
		if !found {
			f.add(fieldName(k), "is not a parameter of this endpoint")
		}
	}
}

// parseV1List reads GET /users: page, per_page, filter[] (repeated), order and
// external_user_id.
func parseV1List(p params) (identity.UserQuery, int, error) {
	f := fieldErrs{}
	var q identity.UserQuery
	unknownParams(f, p, "page", "per_page", "filter", "order", "external_user_id")
	page := parsePaging(f, p, &q)
	if v, ok := p["filter"]; ok {
		var list []string
		switch x := v.(type) {
		case params: // filter[gt]=..., as the documentation's table writes it
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				s, ok := asString(x[k])
				if !ok {
					f.add("filter", "is invalid")
					continue
				}
				list = append(list, s)
			}
		default:
			s, ok := asStrings(x)
			if !ok {
				f.add("filter", "is invalid")
			}
			list = s
		}
		if len(list) > query.MaxFilters {
			f.add("filter", fmt.Sprintf("too many filters (maximum is %d)", query.MaxFilters))
			list = nil
		}
		for _, s := range list {
			if fl, ok := parseV1Filter(f, s); ok {
				q.Filters = append(q.Filters, fl)
			}
		}
	}
	if v, ok := p["order"]; ok {
		if s, ok := asString(v); ok {
			parseV1Order(f, &q, s)
		} else {
			f.add("order", "is invalid")
		}
	}
	if v, ok := p["external_user_id"]; ok {
		if fl, ok := readFilter(f, query.ExternalUserID, query.Eq, v); ok {
			q.Filters = append(q.Filters, fl)
		}
	}
	return q, page, f.err("list users")
}

// requiredString reads the non-blank scalar parameter name.
func requiredString(f fieldErrs, p params, name string) string {
	v, ok := p[name]
	if !ok {
		f.add(name, "cannot be blank")
		return ""
	}
	s, ok := asString(v)
	if !ok {
		f.add(name, "is invalid")
		return ""
	}
	if strings.TrimSpace(s) == "" {
		f.add(name, "cannot be blank")
	}
	return s
}

// searchUsersV2 is GET /users/v2.
func (h *handler) searchUsersV2(ctx context.Context, c *call) error {
	q, err := parseV2(c.p)
	if err != nil {
		return err
	}
	if err := checkV2(&q); err != nil {
		return err
	}
	page, err := h.id.SearchUsers(ctx, c.s, q)
	if err != nil {
		return h.searchErr(ctx, c, err)
	}
	return writeV2Page(c.w, page)
}

// listUsersV1 is GET /users.
func (h *handler) listUsersV1(ctx context.Context, c *call) error {
	q, page, err := parseV1List(c.p)
	if err != nil {
		return err
	}
	return h.v1List(ctx, c, q, page)
}

func (h *handler) v1List(ctx context.Context, c *call, q identity.UserQuery, page int) error {
	if err := checkV1(&q); err != nil {
		return err
	}
	if err := h.v1Enabled(ctx, c, "search users"); err != nil {
		return h.searchErr(ctx, c, err)
	}
	res, err := h.id.SearchUsers(ctx, c.s, q)
	if err != nil {
		return h.searchErr(ctx, c, renameSortField(err))
	}
	return writeV1Page(c.w, page, res)
}

// v1Enabled refuses a V1 user endpoint with identity.ErrDisabled when the session's
// application turns the V1 users API off (AppSettings.DisableUsersV1).
func (h *handler) v1Enabled(ctx context.Context, c *call, op string) error {
	if c.s == nil {
		return identity.ErrSessionNotFound
	}
	app, err := h.id.Application(ctx, c.s.ApplicationID)
	if err != nil {
		return err
	}
	if app.Settings.DisableUsersV1 {
		return &identity.Error{Op: op, Err: identity.ErrDisabled}
	}
	return nil
}

// usersByFullName is GET /users/by_full_name: a V1 list of exact full-name matches.
func (h *handler) usersByFullName(ctx context.Context, c *call) error {
	f := fieldErrs{}
	unknownParams(f, c.p, "full_name", "page", "per_page")
	var q identity.UserQuery
	page := parsePaging(f, c.p, &q)
	name := requiredString(f, c.p, "full_name")
	if err := f.err("list users"); err != nil {
		return err
	}
	q.Filters = []query.Filter{{Field: query.FullName, Op: query.Eq, Values: []any{name}}}
	return h.v1List(ctx, c, q, page)
}

// usersByTags is GET /users/by_tags: users having any of tags (tags[]=a&tags[]=b or
// tags=a,b).
func (h *handler) usersByTags(ctx context.Context, c *call) error {
	f := fieldErrs{}
	unknownParams(f, c.p, "tags", "page", "per_page")
	var q identity.UserQuery
	page := parsePaging(f, c.p, &q)
	var tags []any
	if v, ok := c.p["tags"]; !ok {
		f.add("tags", "cannot be blank")
	} else if list, ok := asStrings(v); !ok {
		f.add("tags", "is invalid")
	} else {
		for _, s := range list {
			for _, t := range strings.Split(s, ",") {
				if t = strings.TrimSpace(t); t != "" {
					tags = append(tags, t)
				}
			}
		}
		if len(tags) == 0 {
			f.add("tags", "cannot be blank")
		}
	}
	if err := f.err("list users"); err != nil {
		return err
	}
	q.Filters = []query.Filter{{Field: query.Tags, Op: query.In, Values: tags}}
	return h.v1List(ctx, c, q, page)
}

// lookupBy returns the handler of a V1 single lookup by the parameter param (field field).
func (h *handler) lookupBy(param string, field query.Field) endpointFunc {
	return func(ctx context.Context, c *call) error {
		f := fieldErrs{}
		unknownParams(f, c.p, param)
		v := requiredString(f, c.p, param)
		if err := f.err("find user"); err != nil {
			return err
		}
		return h.lookup(ctx, c, field, v)
	}
}

func (h *handler) lookup(ctx context.Context, c *call, field query.Field, v any) error {
	q := identity.UserQuery{Filters: []query.Filter{{Field: field, Op: query.Eq, Values: []any{v}}}, Limit: 1}
	if err := checkV1(&q); err != nil {
		return err
	}
	if err := h.v1Enabled(ctx, c, "search users"); err != nil {
		return h.searchErr(ctx, c, err)
	}
	u, err := h.id.LookupUser(ctx, c.s, field, v)
	if err != nil {
		return h.searchErr(ctx, c, err)
	}
	return writeUser(c.w, http.StatusOK, u)
}

// userByExternalID is GET /users/external/{id} (the deprecated numeric external_user_id).
func (h *handler) userByExternalID(ctx context.Context, c *call) error {
	f := fieldErrs{}
	unknownParams(f, c.p)
	n, err := strconv.ParseInt(pathValue(c.r, "id"), 10, 64)
	if err != nil {
		f.add("external_user_id", "is not an integer")
	}
	if err := f.err("find user"); err != nil {
		return err
	}
	return h.lookup(ctx, c, query.ExternalUserID, n)
}

// The message of a user search turned off by an application setting (DisableUserList,
// DisableUsersV1), worded as ConnectyCube words it; the URL of the setting follows it.
const (
	msgUsersForbidden = "Users retrieving forbidden in admin panel, application settings. Setup it here: "
)

// searchErr gives identity.ErrDisabled the ConnectyCube message, naming the application
// setting that refused the request; other errors pass through.
func (h *handler) searchErr(ctx context.Context, c *call, err error) error {
	if _, detailed := messages(err); !errors.Is(err, identity.ErrDisabled) || c.s == nil || detailed {
		return err
	}
	setting := "disable_user_list"
	if app, aerr := h.id.Application(ctx, c.s.ApplicationID); aerr == nil && !app.Settings.DisableUserList && app.Settings.DisableUsersV1 {
		setting = "disable_users_v1"
	}
	msg := fmt.Sprintf("%sthe settings of application %d (%s)", msgUsersForbidden, c.s.ApplicationID, setting)
	return wireFieldError("search users", identity.ErrDisabled, "base", msg)
}
