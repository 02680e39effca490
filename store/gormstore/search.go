package gormstore

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/query"
)

var _ identity.UserSearcher = (*Store)(nil)

// How searches are compiled (SearchUsers):
//
//   - Column names come only from searchFields, a fixed map from query.Field to the
//     column; every value is a bound parameter. A field or operator outside the map is an
//     *identity.Error wrapping identity.ErrInvalidInput, never SQL.
//   - login and email compare their normalized key columns (login_key, email_key), so that
//     equality is case-insensitive, as uniqueness is.
//   - The other text fields are indexed on (application_id, fold(column)), where fold is
//     lower() limited to ASCII: SQLite's lower() folds ASCII only, and PostgreSQL's lower()
//     of a "C"-collated value does the same. start_with is a range on that expression
//     (fold(col) >= prefix AND fold(col) < next(prefix)), compared byte-wise on both
//     databases (COLLATE "C" on PostgreSQL, whose database collation may be anything), so
//     the index serves it with generic plans and no LIKE escaping is involved. Equality uses
//     the same index (fold(col) = fold(v) AND col = v), and stays exact.
//   - Tags are matched through user_tags (application_id, tag_key, user_id), tag_key being
//     the lower-cased tag.
//   - total counts the matches up to a bound (see SearchUsers) in a LIMITed subquery.

// searchField says how a user field is stored.
type searchField struct {
	col  string
	kind query.Kind
	// norm normalizes values for the key columns of login and email (nil: exact values).
	norm func(string) string
	// folded: the column has an index on (application_id, fold(col)).
	folded bool
	// nullable columns hold NULL when unset; others hold "" or 0.
	nullable bool
}

var searchFields = map[query.Field]searchField{
	query.ID:             {col: "id", kind: query.KindInt},
	query.Login:          {col: "login_key", kind: query.KindString, norm: identity.NormalizeLogin, nullable: true},
	query.Email:          {col: "email_key", kind: query.KindString, norm: identity.NormalizeEmail, nullable: true},
	query.FullName:       {col: "full_name", kind: query.KindString, folded: true},
	query.Phone:          {col: "phone", kind: query.KindString, folded: true},
	query.Website:        {col: "website", kind: query.KindString},
	query.ExternalID:     {col: "external_id", kind: query.KindString, folded: true},
	query.ExternalUserID: {col: "external_user_id", kind: query.KindInt, nullable: true},
	query.FacebookID:     {col: "facebook_id", kind: query.KindString, folded: true},
	query.TwitterID:      {col: "twitter_id", kind: query.KindString, folded: true},
	query.BlobID:         {col: "blob_id", kind: query.KindInt},
	query.Timezone:       {col: "timezone", kind: query.KindInt, nullable: true},
	query.Tags:           {col: "", kind: query.KindTags},
	query.LastRequestAt:  {col: "last_request_at", kind: query.KindTime, nullable: true},
	query.CreatedAt:      {col: "created_at", kind: query.KindTime},
	query.UpdatedAt:      {col: "updated_at", kind: query.KindTime},
}

// searchIndexDDL returns the indexes searches need, for Migrate.
func (s *Store) searchIndexDDL() []string {
	p, t := s.t.prefix, s.t.users
	pg := s.db.Dialector.Name() == "postgres"
	idx := func(name, cols string) string {
		return "CREATE INDEX IF NOT EXISTS " + p + "users_search_" + name + " ON " + t + " (application_id, " + cols + ")"
	}
	ddl := []string{idx("id", "id")}
	// On PostgreSQL the text indexes end with id and include the column itself, so that a
	// range of them yields the ids of a page, and the count, from the index alone (an
	// index-only scan of an expression needs the expression's column in the index). SQLite's
	// indexes always end with the rowid, and it reads expressions from the index.
	for _, f := range []query.Field{query.FullName, query.Phone, query.ExternalID, query.FacebookID, query.TwitterID} {
		sf := searchFields[f]
		if pg {
			ddl = append(ddl, idx(sf.col, foldExpr(pg, sf.col)+", id) INCLUDE ("+sf.col))
		} else {
			ddl = append(ddl, idx(sf.col, foldExpr(pg, sf.col)))
		}
	}
	for _, f := range []query.Field{query.CreatedAt, query.UpdatedAt, query.LastRequestAt} {
		sf := searchFields[f]
		col := sf.col
		if pg && sf.nullable {
			col += " NULLS FIRST" // NULL sorts lowest, as on SQLite (see orderBy)
		}
		if pg {
			col += ", id" // the order of orderBy, ties included
		}
		ddl = append(ddl, idx(sf.col, col))
	}
	if pg {
		// Byte-wise ranges (start_with) and orders on the key columns; SQLite's unique
		// indexes on them are byte-wise already, and sort NULL first.
		ddl = append(ddl,
			idx("login_key_c", `login_key COLLATE "C" NULLS FIRST, id`),
			idx("email_key_c", `email_key COLLATE "C" NULLS FIRST, id`))
	}
	return ddl
}

// foldExpr is the ASCII-only lower-casing of col that the indexes hold.
func foldExpr(pg bool, col string) string {
	if pg {
		return `lower(` + col + ` COLLATE "C")`
	}
	return "lower(" + col + ")"
}

// asciiLower lower-cases ASCII letters only, as foldExpr does in the database.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// prefixEnd returns the smallest string greater than every string that starts with p, in
// byte order (which is code point order for UTF-8), and false when there is none (p empty
// or made only of U+10FFFF).
func prefixEnd(p string) (string, bool) {
	r := []rune(p)
	for i := len(r) - 1; i >= 0; i-- {
		switch c := r[i]; {
		case c == utf8.MaxRune:
			continue
		case c == 0xD7FF:
			r[i] = 0xE000 // skip the surrogates, which UTF-8 cannot hold
		default:
			r[i] = c + 1
		}
		return string(r[:i+1]), true
	}
	return "", false
}

// searchSQL is a compiled query: FROM/WHERE text with its arguments.
type searchSQL struct {
	pg    bool
	t     tables
	where []string
	args  []any
	// narrowed: another filter selects the users through an index, so SQLite must not
	// pick a time index for a range instead (it has no statistics to tell which is
	// narrower): time columns are then written +col, which SQLite cannot serve from an index.
	narrowed bool
}

func (b *searchSQL) cond(sql string, args ...any) {
	b.where = append(b.where, sql)
	b.args = append(b.args, args...)
}

// placeholders returns "?, ?, ..." for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// cmpCol returns col for comparisons and sorting in byte order.
func (b *searchSQL) cmpCol(col string) string {
	if b.pg {
		return col + ` COLLATE "C"`
	}
	return col
}

// SearchUsers returns the users of appID that match every filter of q, ordered by
// q.SortField (id when empty; ties broken by id in the same direction; NULL sorts lowest),
// q.Limit of them from q.Offset, and the number of matches. The query must have passed
// identity.UserQuery.Check; a field, operator or value this store cannot
// search is an *identity.Error wrapping identity.ErrInvalidInput.
//
// Matching (identity.UserSearcher): login and email compare case-insensitively (their
// normalized keys), other text exactly; start_with is a case-insensitive prefix match (full
// Unicode lower-casing for login and email, ASCII letters for the other fields); tags match
// any tag case-insensitively; times compare to the microsecond, and eq (ne) on a time means
// within (outside) the same second. ne and nin also match users that have no value.
//
// The total is exact up to query.TotalLimit matches or q.Offset+q.Limit+1,
// whichever is larger; beyond that it is that bound.
func (s *Store) SearchUsers(ctx context.Context, appID int64, q *identity.UserQuery) ([]*identity.User, int64, error) {
	const op = "search users"
	if q == nil {
		return nil, 0, identity.NewError(op, identity.ErrInvalidInput, "query", "blank")
	}
	limit := q.Limit
	if limit <= 0 || limit > query.MaxLimit {
		return nil, 0, &identity.Error{Op: op, Err: identity.ErrInvalidInput, Fields: []identity.FieldError{{Field: "limit", Code: "out_of_range", Limit: query.MaxLimit}}}
	}
	if q.Offset < 0 {
		return nil, 0, identity.NewError(op, identity.ErrInvalidInput, "offset", "negative")
	}
	c, err := s.compileSearch(appID, q)
	if err != nil {
		return nil, 0, err
	}
	db := s.db.WithContext(ctx)
	// A broad search (one tag, a prefix, no indexed filter) will most likely fill its page
	// and need the count: run the count beside the page, on a connection of its own.
	type counted struct {
		n   int64
		err error
	}
	var early chan counted
	if c.broad && s.concurrentReads() {
		early = make(chan counted, 1)
		go func() {
			var n int64
			err := db.Raw(c.count, c.countArgs...).Scan(&n).Error
			early <- counted{n, err}
		}()
	}
	rows, err := scanUserRows(db.Raw(c.page, c.pageArgs...).Rows())
	var total int64
	if early != nil {
		res := <-early
		if err == nil && res.err != nil {
			return nil, 0, s.fail(op, res.err)
		}
		total = res.n
	}
	if err != nil {
		return nil, 0, s.fail(op, err)
	}
	users := make([]*identity.User, len(rows))
	for i := range rows {
		u, err := rows[i].user()
		if err != nil {
			return nil, 0, fmt.Errorf("gormstore: %s: decode tags of user %d: %w", op, rows[i].ID, err)
		}
		users[i] = u
	}
	// A short page tells the total without counting.
	if len(rows) < limit && (len(rows) > 0 || q.Offset == 0) {
		return users, int64(q.Offset + len(rows)), nil
	}
	if early != nil {
		return users, total, nil
	}
	if err := db.Raw(c.count, c.countArgs...).Scan(&total).Error; err != nil {
		return nil, 0, s.fail(op, err)
	}
	return users, total, nil
}

// concurrentReads reports whether two queries can run at once: not on a SQLite database
// served by a single connection (an in-memory one).
func (s *Store) concurrentReads() bool {
	sqlDB, err := s.db.DB()
	return err == nil && sqlDB.Stats().MaxOpenConnections != 1
}

// compiledSearch is a search as SQL: the page query and the (bounded) count query.
type compiledSearch struct {
	page, count         string
	pageArgs, countArgs []any
	// broad: no filter selects users through an equality on an index of the users table.
	broad bool
}

// compileSearch turns q (whose limit and offset are checked) into SQL.
func (s *Store) compileSearch(appID int64, q *identity.UserQuery) (*compiledSearch, error) {
	const op = "search users"
	b := &searchSQL{pg: s.db.Dialector.Name() == "postgres", t: s.t}
	from := s.t.users + " u"
	bound := max(int64(query.TotalLimit), int64(q.Offset)+int64(q.Limit)+1)
	c := &compiledSearch{}
	driver := tagDriver(q.Filters)
	if driver >= 0 {
		// Walk the users having the tag in user_id order on (application_id, tag_key,
		// user_id) and fetch each by primary key: the first page is read without touching
		// the other matches. (SQLite keeps CROSS JOIN's order; PostgreSQL plans it as a join.)
		key, err := strValues(q.Filters[driver].Values, strings.ToLower)
		if err != nil {
			return nil, identity.NewError(op, identity.ErrInvalidInput, string(query.Tags), "invalid")
		}
		from = s.t.userTags + " t CROSS JOIN " + s.t.users + " u"
		b.cond("t.application_id = ? AND t.tag_key = ? AND u.id = t.user_id", appID, key[0])
		if len(q.Filters) == 1 {
			// Every user_tags row belongs to an existing user of its application: the total
			// is counted on the index alone.
			c.count = "SELECT count(*) FROM (SELECT 1 FROM " + s.t.userTags + " t WHERE t.application_id = ? AND t.tag_key = ? LIMIT ?) c"
			c.countArgs = []any{appID, key[0], bound}
		}
	}
	b.narrowed = driver >= 0
	byID := false
	for _, f := range q.Filters {
		b.narrowed = b.narrowed || indexedFilter(f)
		byID = byID || (f.Field == query.ID && (f.Op == query.Eq || f.Op == query.In))
	}
	c.broad = true
	for _, f := range q.Filters {
		if indexedFilter(f) && f.Op != query.StartWith {
			c.broad = false
		}
	}
	if byID && !b.pg {
		// Primary key lookups: keep SQLite from scanning an (application_id, ...) index instead.
		b.cond("+u.application_id = ?", appID)
	} else {
		b.cond("u.application_id = ?", appID)
	}
	for i, f := range q.Filters {
		if i == driver {
			continue
		}
		if err := b.filter(appID, f); err != nil {
			return nil, identity.NewError(op, identity.ErrInvalidInput, string(f.Field), "invalid")
		}
	}
	order, err := b.orderBy(q.SortField, q.SortDesc)
	if err != nil {
		return nil, identity.NewError(op, identity.ErrInvalidInput, "sort", "invalid")
	}
	innerOrder := order
	if driver >= 0 && strings.HasPrefix(order, "u.id ") {
		innerOrder = "t.user_id" + strings.TrimPrefix(order, "u.id") // the index's order
	}
	from = " FROM " + from + " WHERE " + strings.Join(b.where, " AND ")
	// The page's ids first, then their rows: the ids (and the sort) come from the indexes
	// alone where they can, and only the page's rows are read from the table.
	c.page = "SELECT u.* FROM " + s.t.users + " u WHERE u.id IN (SELECT u.id" + from +
		" ORDER BY " + innerOrder + " LIMIT ? OFFSET ?) ORDER BY " + order
	c.pageArgs = append(append([]any(nil), b.args...), q.Limit, q.Offset)
	if c.count == "" {
		c.count = "SELECT count(*) FROM (SELECT 1" + from + " LIMIT ?) c"
		c.countArgs = append(append([]any(nil), b.args...), bound)
	}
	return c, nil
}

// userRowFields maps the column names of userRow to their field indexes.
var userRowFields = sync.OnceValue(func() map[string]int {
	m := map[string]int{}
	t := reflect.TypeFor[userRow]()
	for i := 0; i < t.NumField(); i++ {
		for _, part := range strings.Split(t.Field(i).Tag.Get("gorm"), ";") {
			if name, ok := strings.CutPrefix(part, "column:"); ok {
				m[name] = i
			}
		}
	}
	return m
})

// scanUserRows reads rows of SELECT u.* into userRows with database/sql's Scan, straight into
// the fields (a page is up to 100 rows: GORM's per-field scanning costs more than the query).
// Columns userRow does not know are skipped.
func scanUserRows(rows *sql.Rows, err error) ([]userRow, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	fields := userRowFields()
	index := make([]int, len(cols))
	for i, c := range cols {
		index[i] = -1
		if fi, ok := fields[c]; ok {
			index[i] = fi
		}
	}
	var out []userRow
	dest := make([]any, len(cols))
	var skip any
	for rows.Next() {
		var r userRow
		v := reflect.ValueOf(&r).Elem()
		for i, fi := range index {
			if fi < 0 {
				dest[i] = &skip
			} else {
				dest[i] = v.Field(fi).Addr().Interface()
			}
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// orderBy returns the ORDER BY list for field (id when "").
func (b *searchSQL) orderBy(field query.Field, desc bool) (string, error) {
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	if field == "" || field == query.ID {
		return "u.id" + dir, nil
	}
	sf, ok := searchFields[field]
	if !ok || sf.kind == query.KindTags {
		return "", fmt.Errorf("cannot sort by %q", field)
	}
	expr := "u." + sf.col
	if sf.kind == query.KindString {
		expr = b.cmpCol(expr)
	}
	expr += dir
	if b.pg && sf.nullable {
		// NULL sorts lowest, as on SQLite.
		if desc {
			expr += " NULLS LAST"
		} else {
			expr += " NULLS FIRST"
		}
	}
	return expr + ", u.id" + dir, nil
}

// filter adds the condition of f.
func (b *searchSQL) filter(appID int64, f query.Filter) error {
	sf, ok := searchFields[f.Field]
	if !ok || sf.kind != f.Field.Kind() {
		return fmt.Errorf("is not a searchable field")
	}
	n := len(f.Values)
	switch f.Op {
	case query.In, query.Nin:
		if n == 0 || n > query.MaxValues {
			return fmt.Errorf("needs 1 to %d values", query.MaxValues)
		}
	case query.Between:
		if n != 2 {
			return fmt.Errorf("between needs two values")
		}
	case query.Eq, query.Ne, query.StartWith, query.Gt, query.Gte, query.Lt, query.Lte:
		if n != 1 {
			return fmt.Errorf("needs exactly one value")
		}
	default:
		return fmt.Errorf("has an unknown operator %q", f.Op)
	}
	switch sf.kind {
	case query.KindInt:
		vals := make([]any, n)
		for i, v := range f.Values {
			x, ok := v.(int64)
			if !ok {
				return fmt.Errorf("has a value of the wrong type")
			}
			vals[i] = x
		}
		return b.scalar(sf, "u."+sf.col, f.Op, vals)
	case query.KindString:
		return b.text(sf, f.Op, f.Values)
	case query.KindTags:
		return b.tags(appID, f.Op, f.Values)
	case query.KindTime:
		return b.times(sf, f.Op, f.Values)
	}
	return fmt.Errorf("is not a searchable field")
}

// compareOps maps the comparison operators to SQL.
var compareOps = map[query.Op]string{
	query.Gt: ">", query.Gte: ">=", query.Lt: "<", query.Lte: "<=",
}

// scalar adds col <op> vals for values compared as they are.
func (b *searchSQL) scalar(sf searchField, col string, op query.Op, vals []any) error {
	orNull := func(cond string) string {
		if sf.nullable {
			return "(" + col + " IS NULL OR " + cond + ")"
		}
		return cond
	}
	switch op {
	case query.Eq:
		b.cond(col+" = ?", vals[0])
	case query.Ne:
		b.cond(orNull(col+" <> ?"), vals[0])
	case query.In:
		b.cond(col+" IN ("+placeholders(len(vals))+")", vals...)
	case query.Nin:
		b.cond(orNull(col+" NOT IN ("+placeholders(len(vals))+")"), vals...)
	case query.Between:
		b.cond(col+" BETWEEN ? AND ?", vals...)
	case query.Gt, query.Gte, query.Lt, query.Lte:
		b.cond(col+" "+compareOps[op]+" ?", vals[0])
	default:
		return fmt.Errorf("cannot be used with %s", op)
	}
	return nil
}

// strValues returns the string values, normalized by norm when not nil.
func strValues(vals []any, norm func(string) string) ([]any, error) {
	out := make([]any, len(vals))
	for i, v := range vals {
		s, ok := v.(string)
		if !ok || !validText(s) {
			return nil, fmt.Errorf("has a value of the wrong type")
		}
		if norm != nil {
			s = norm(s)
		}
		out[i] = s
	}
	return out, nil
}

// text adds the condition of a text field.
func (b *searchSQL) text(sf searchField, op query.Op, vals []any) error {
	col := "u." + sf.col
	switch {
	case op == query.StartWith:
		p, err := strValues(vals, nil)
		if err != nil {
			return err
		}
		prefix := p[0].(string)
		var expr string
		if sf.norm != nil {
			// login_key and email_key are fully lower-cased.
			expr, prefix = b.cmpCol(col), strings.ToLower(prefix)
		} else {
			expr, prefix = foldExpr(b.pg, col), asciiLower(prefix)
			if !sf.folded {
				expr = b.cmpCol(col)
				prefix = p[0].(string)
			}
		}
		if end, ok := prefixEnd(prefix); ok {
			b.cond(expr+" >= ? AND "+expr+" < ?", prefix, end)
		} else {
			b.cond(expr+" >= ?", prefix)
		}
		return nil
	case sf.norm != nil:
		v, err := strValues(vals, sf.norm)
		if err != nil {
			return err
		}
		if op == query.Eq || op == query.In || op == query.Ne || op == query.Nin {
			return b.scalar(sf, col, op, v)
		}
		return b.scalar(sf, b.cmpCol(col), op, v)
	}
	v, err := strValues(vals, nil)
	if err != nil {
		return err
	}
	switch op {
	case query.Eq, query.In:
		if sf.folded {
			// Through the folded index, then exactly.
			folded := make([]any, len(v))
			for i, x := range v {
				folded[i] = asciiLower(x.(string))
			}
			if err := b.scalar(sf, foldExpr(b.pg, col), op, folded); err != nil {
				return err
			}
		}
		return b.scalar(sf, col, op, v)
	case query.Ne, query.Nin:
		return b.scalar(sf, col, op, v)
	}
	return b.scalar(sf, b.cmpCol(col), op, v)
}

// tags adds a condition on the user's tags: eq/in any of the values, ne/nin none of them.
// It is a probe of user_tags' primary key (user_id, tag_key) per candidate user.
func (b *searchSQL) tags(appID int64, op query.Op, vals []any) error {
	v, err := strValues(vals, strings.ToLower)
	if err != nil {
		return err
	}
	sub := "EXISTS (SELECT 1 FROM " + b.t.userTags + " t2 WHERE t2.user_id = u.id AND t2.tag_key IN (" + placeholders(len(v)) + ") AND t2.application_id = ?)"
	args := append(v, appID)
	switch op {
	case query.Eq, query.In:
		b.cond(sub, args...)
	case query.Ne, query.Nin:
		b.cond("NOT "+sub, args...)
	default:
		return fmt.Errorf("cannot be used with %s", op)
	}
	return nil
}

// tagDriver returns the index of the filter a search should be driven by when it is a
// filter on one tag (eq, or in with one value) and no filter selects users through an
// index of the users table (indexedFilter); -1 otherwise.
func tagDriver(filters []query.Filter) int {
	driver := -1
	for i, f := range filters {
		if indexedFilter(f) {
			return -1
		}
		if f.Field == query.Tags && (f.Op == query.Eq || f.Op == query.In) && driver < 0 && len(f.Values) == 1 {
			if _, ok := f.Values[0].(string); ok {
				driver = i
			}
		}
	}
	return driver
}

// indexedFilter reports whether f selects users through an index of the users table: eq, in
// or start_with on id, login, email, external_user_id or a folded text field.
func indexedFilter(f query.Filter) bool {
	if f.Op != query.Eq && f.Op != query.In && f.Op != query.StartWith {
		return false
	}
	sf, ok := searchFields[f.Field]
	return ok && (f.Field == query.ID || f.Field == query.ExternalUserID || sf.norm != nil || sf.folded)
}

// times adds a condition on a time column. eq and ne (and in, nin) mean within or outside
// the same second as the value.
func (b *searchSQL) times(sf searchField, op query.Op, vals []any) error {
	ts := make([]time.Time, len(vals))
	for i, v := range vals {
		t, ok := v.(time.Time)
		if !ok {
			return fmt.Errorf("has a value of the wrong type")
		}
		ts[i] = dbTime(t)
	}
	col := "u." + sf.col
	if b.narrowed && !b.pg {
		col = "+" + col
	}
	second := func(t time.Time) (time.Time, time.Time) {
		t = t.Truncate(time.Second)
		return t, t.Add(time.Second)
	}
	switch op {
	case query.Eq, query.In:
		var parts []string
		var args []any
		for _, t := range ts {
			from, to := second(t)
			parts = append(parts, col+" >= ? AND "+col+" < ?")
			args = append(args, from, to)
		}
		b.cond("(("+strings.Join(parts, ") OR (")+"))", args...)
	case query.Ne, query.Nin:
		var parts []string
		var args []any
		for _, t := range ts {
			from, to := second(t)
			parts = append(parts, "("+col+" < ? OR "+col+" >= ?)")
			args = append(args, from, to)
		}
		cond := strings.Join(parts, " AND ")
		if sf.nullable {
			cond = col + " IS NULL OR (" + cond + ")"
		}
		b.cond("("+cond+")", args...)
	case query.Between:
		b.cond(col+" BETWEEN ? AND ?", ts[0], ts[1])
	case query.Gt, query.Gte, query.Lt, query.Lte:
		b.cond(col+" "+compareOps[op]+" ?", ts[0])
	default:
		return fmt.Errorf("cannot be used with %s", op)
	}
	return nil
}
