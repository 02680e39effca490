package gormstore

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/query"
)

// TestSearchTotalBound checks the bounded count of SearchUsers over more users than
// query.TotalLimit: exact below the bound, the bound above it, and always more than
// Offset+Limit while more users match.
func TestSearchTotalBound(t *testing.T) {
	n := query.TotalLimit + 50
	for _, o := range openers(t) {
		t.Run(o.name, func(t *testing.T) {
			st := o.open(t)
			ctx := t.Context()
			app := &identity.Application{Name: "bound", AuthKey: "bound-" + o.name}
			if err := st.CreateApplication(ctx, app); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			rows := make([]userRow, n)
			for i := range rows {
				u := &identity.User{ApplicationID: app.ID, UID: fmt.Sprintf("%024x", i+1), FullName: fmt.Sprintf("user %05d", i),
					Tags: []string{"all"}, CreatedAt: now.Add(time.Duration(i) * time.Second), UpdatedAt: now}
				if i%2 == 0 {
					u.Tags = append(u.Tags, "even")
				}
				r, err := toUserRow(u)
				if err != nil {
					t.Fatal(err)
				}
				rows[i] = *r
			}
			if err := st.db.Table(st.t.users).CreateInBatches(rows, 200).Error; err != nil {
				t.Fatal(err)
			}
			var tags []userTagRow
			for i := range rows {
				tr, err := rows[i].tagRows()
				if err != nil {
					t.Fatal(err)
				}
				tags = append(tags, tr...)
			}
			if err := st.db.Table(st.t.userTags).CreateInBatches(tags, 500).Error; err != nil {
				t.Fatal(err)
			}
			bound := int64(query.TotalLimit)
			tag := func(v string) query.Filter {
				return query.Filter{Field: query.Tags, Op: query.Eq, Values: []any{v}}
			}
			later := query.Filter{Field: query.CreatedAt, Op: query.Gte, Values: []any{now}}
			tests := []struct {
				name          string
				filters       []query.Filter
				limit, offset int
				want          int64
			}{
				{"one tag, counted on its index", []query.Filter{tag("all")}, 10, 0, bound},
				{"one tag and a column", []query.Filter{tag("all"), later}, 10, 0, bound},
				{"no filter", nil, 10, 0, bound},
				{"below the bound, exact", []query.Filter{tag("even")}, 10, 0, int64(n+1) / 2},
				{"deep page: more than offset+limit", []query.Filter{tag("all")}, 100, int(bound) - 100, bound + 1},
				{"deep page with a column", []query.Filter{tag("all"), later}, 10, int(bound) + 20, bound + 31},
				{"last page, exact", []query.Filter{tag("all")}, 100, n - 30, int64(n)},
				{"past the end, exact", nil, 100, n + 5, int64(n)},
			}
			for _, tt := range tests {
				q := &identity.UserQuery{Filters: tt.filters, Limit: tt.limit, Offset: tt.offset}
				users, total, err := st.SearchUsers(ctx, app.ID, q)
				if err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
				if total != tt.want {
					t.Errorf("%s: total %d, want %d", tt.name, total, tt.want)
				}
				if len(users) > 0 && int64(tt.offset+len(users)) > total {
					t.Errorf("%s: offset %d + %d users > total %d", tt.name, tt.offset, len(users), total)
				}
			}
		})
	}
}

// TestSearchUsesIndexes checks the plans of the searches the V2 rules allow on SQLite: each
// is served by an index, never a scan of the users table or a sort of every match.
func TestSearchUsesIndexes(t *testing.T) {
	st := openMemory(t)
	app := &identity.Application{Name: "plans", AuthKey: "plans"}
	if err := st.CreateApplication(t.Context(), app); err != nil {
		t.Fatal(err)
	}
	f := func(field query.Field, op query.Op, v ...any) query.Filter {
		return query.Filter{Field: field, Op: op, Values: v}
	}
	day := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		q     identity.UserQuery
		index string
		// sorted: the plan may sort the matches (ranges, non-unique values); else it reads
		// them in id order.
		sorted bool
	}{
		{"id", identity.UserQuery{Filters: []query.Filter{f("id", "eq", int64(1))}}, "PRIMARY KEY", false},
		{"id in", identity.UserQuery{Filters: []query.Filter{f("id", "in", int64(1), int64(2)), f("last_request_at", "gt", day)}}, "PRIMARY KEY", true},
		{"login", identity.UserQuery{Filters: []query.Filter{f("login", "eq", "a")}}, "users_login_key", false},
		{"login start_with", identity.UserQuery{Filters: []query.Filter{f("login", "start_with", "abcd")}}, "users_login_key", true},
		{"email", identity.UserQuery{Filters: []query.Filter{f("email", "in", "a@b.c", "d@e.f")}}, "users_email_key", true},
		{"full_name start_with", identity.UserQuery{Filters: []query.Filter{f("full_name", "start_with", "hunt"), f("id", "nin", int64(3))}}, "users_search_full_name", true},
		{"full_name eq", identity.UserQuery{Filters: []query.Filter{f("full_name", "eq", "Hunter S")}}, "users_search_full_name", true},
		{"phone", identity.UserQuery{Filters: []query.Filter{f("phone", "eq", "1"), f("last_request_at", "eq", day)}}, "users_search_phone", true},
		{"external_id", identity.UserQuery{Filters: []query.Filter{f("external_id", "start_with", "abcd")}}, "users_search_external_id", true},
		{"facebook_id", identity.UserQuery{Filters: []query.Filter{f("facebook_id", "eq", "1")}}, "users_search_facebook_id", true},
		{"twitter_id", identity.UserQuery{Filters: []query.Filter{f("twitter_id", "eq", "1")}}, "users_search_twitter_id", true},
		{"user_tags", identity.UserQuery{Filters: []query.Filter{f("user_tags", "eq", "guest")}}, "user_tags_search", false},
		{"user_tags and created_at", identity.UserQuery{Filters: []query.Filter{f("user_tags", "eq", "guest"), f("created_at", "lt", day)}}, "user_tags_search", false},
		{"login, phone, tags nin, updated_at", identity.UserQuery{Filters: []query.Filter{f("login", "eq", "smith1"), f("phone", "eq", "1"), f("user_tags", "nin", "vip"), f("updated_at", "lte", day)}}, "users_login_key", false},
		{"V1 list", identity.UserQuery{}, "(application_id=?)", false},
		{"V1 list ordered by login", identity.UserQuery{SortField: "login"}, "(application_id=?)", false},
		{"V1 list ordered by last_request_at", identity.UserQuery{SortField: "last_request_at", SortDesc: true}, "(application_id=?)", false},
		{"V1 created_at range ordered", identity.UserQuery{Filters: []query.Filter{f("created_at", "between", day, day.Add(24*time.Hour))}, SortField: "created_at", SortDesc: true}, "users_search_created_at", true},
	}
	for _, tt := range tests {
		q := tt.q
		q.Limit = 10
		c, err := st.compileSearch(app.ID, &q)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for _, stmt := range []struct {
			sql  string
			args []any
		}{{c.page, c.pageArgs}, {c.count, c.countArgs}} {
			var plan []string
			rows, err := st.db.Raw("EXPLAIN QUERY PLAN "+stmt.sql, stmt.args...).Rows()
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			// A sort at the top of the page query orders the page's rows only; one below it
			// (in the subquery that picks the page's ids) sorts every match.
			sorted := false
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, fmt.Sprintf("%d<%d %s", id, parent, detail))
				if strings.Contains(detail, "TEMP B-TREE") && (parent != 0 || stmt.sql == c.count) {
					sorted = true
				}
			}
			rows.Close()
			text := strings.Join(plan, "\n")
			if !strings.Contains(text, tt.index) || strings.Contains(text, "SCAN u") || (sorted && !tt.sorted) {
				t.Errorf("%s: plan does not use %s alone:\n%s\n%s", tt.name, tt.index, stmt.sql, text)
			}
		}
	}
}
