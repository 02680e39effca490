package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/query"
)

// searchTests are the rules of identity.UserSearcher. Run runs them with the others; they
// are skipped for a store that does not implement UserSearcher.
var searchTests = []test{
	{"Search/FieldsAndOperators", testSearchFields},
	{"Search/ScopedByApplication", testSearchScoped},
	{"Search/Order", testSearchOrder},
	{"Search/LimitOffsetTotal", testSearchPages},
	{"Search/MetacharactersAreData", testSearchMetacharacters},
	{"Search/InvalidQuery", testSearchInvalid},
}

// searchFixture is a small population in two applications. Users are created in the order
// of the names below, so their ids ascend in that order.
type searchFixture struct {
	app, other *identity.Application
	ids        map[string]int64
	names      map[int64]string
}

// fixtureOrder lists the users of the main application in creation (id) order.
var fixtureOrder = []string{"marvin", "hunter", "hunting", "emile", "meta", "plain"}

// metaName is a full name made of SQL and LIKE metacharacters.
const metaName = `100% "real"_name\ '; DROP TABLE users;--`

func newSearchFixture(t *testing.T, s identity.Store) *searchFixture {
	t.Helper()
	f := &searchFixture{app: newApp(t, s), other: newApp(t, s), ids: map[string]int64{}, names: map[int64]string{}}
	day := 24 * time.Hour
	a := f.app.ID
	users := map[string]*identity.User{
		"marvin": {Login: "Marvin18", Email: "marvin18@example.com", FullName: "Marvin Samuel", Phone: "44678162873",
			Website: "https://marvin.example", ExternalID: "ext-A1", ExternalUserID: 675373912, FacebookID: "fb100",
			TwitterID: "tw100", BlobID: 5, Timezone: ptr(60), Tags: []string{"Apple", "iphone"},
			CreatedAt: t0, UpdatedAt: t0.Add(time.Hour), LastRequestAt: t0.Add(2 * time.Hour)},
		"hunter": {Login: "hunter_s", Email: "hunter@example.com", FullName: "Hunter Smith", Phone: "5464579797975",
			ExternalID: "EXT-b2", ExternalUserID: 2, FacebookID: "FB200", TwitterID: "tw200", Timezone: ptr(-300),
			Tags: []string{"vip", "Guest"}, CreatedAt: t0.Add(day), UpdatedAt: t0.Add(day)},
		"hunting": {Login: "hunting", FullName: "hunting party", Phone: "5464579797976", Tags: []string{"guest"},
			CreatedAt: t0.Add(2 * day), UpdatedAt: t0.Add(2 * day), LastRequestAt: t0.Add(2 * day)},
		"emile": {Login: "Émile", Email: "emile@example.com", FullName: "Émile Zola", Phone: "+33 1 23", Timezone: ptr(0),
			CreatedAt: t0.Add(3 * day), UpdatedAt: t0.Add(4 * day), LastRequestAt: t0.Add(3 * day)},
		"meta": {Login: "o'brien", Email: "meta%_@example.com", FullName: metaName, Phone: "%",
			ExternalID: "_", FacebookID: "' OR '1'='1", TwitterID: `\`, Tags: []string{"%", "_x"},
			CreatedAt: t0.Add(4 * day), UpdatedAt: t0.Add(4 * day)},
		"plain": {Email: "plain@example.com", CreatedAt: t0.Add(4 * day), UpdatedAt: t0.Add(5 * day)},
	}
	for _, name := range fixtureOrder {
		u := users[name]
		u.ApplicationID, u.UID = a, uid()
		if err := s.CreateUser(t.Context(), u, nil); err != nil {
			t.Fatalf("CreateUser(%s): %v", name, err)
		}
		f.ids[name], f.names[u.ID] = u.ID, name
	}
	// The other application holds look-alikes that no search of the main one may return.
	twin := &identity.User{ApplicationID: f.other.ID, UID: uid(), Login: "Marvin18", Email: "marvin18@example.com",
		FullName: "Marvin Samuel", Phone: "44678162873", ExternalUserID: 675373912, Tags: []string{"apple", "guest"},
		CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateUser(t.Context(), twin, nil); err != nil {
		t.Fatalf("CreateUser(twin): %v", err)
	}
	f.ids["twin"], f.names[twin.ID] = twin.ID, "twin"
	return f
}

func searcher(t *testing.T, s identity.Store) identity.UserSearcher {
	t.Helper()
	return optional[identity.UserSearcher](t, s)
}

// search runs q in app and returns the fixture names of the users found, in order.
func (f *searchFixture) search(t *testing.T, us identity.UserSearcher, appID int64, q identity.UserQuery) ([]string, int64) {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = query.MaxLimit
	}
	users, total, err := us.SearchUsers(t.Context(), appID, &q)
	if err != nil {
		t.Fatalf("SearchUsers(%s): %v", describe(q), err)
	}
	names := make([]string, len(users))
	for i, u := range users {
		if u.ApplicationID != appID {
			t.Fatalf("SearchUsers(%s) returned user %d of application %d", describe(q), u.ID, u.ApplicationID)
		}
		names[i] = f.names[u.ID]
		if names[i] == "" {
			names[i] = fmt.Sprint(u.ID)
		}
	}
	return names, total
}

func describe(q identity.UserQuery) string {
	var parts []string
	for _, fl := range q.Filters {
		parts = append(parts, fmt.Sprintf("%s %s %v", fl.Field, fl.Op, fl.Values))
	}
	if q.SortField != "" {
		parts = append(parts, fmt.Sprintf("sort %s desc=%v", q.SortField, q.SortDesc))
	}
	parts = append(parts, fmt.Sprintf("limit %d offset %d", q.Limit, q.Offset))
	return strings.Join(parts, "; ")
}

func all(names ...string) []string { return names }

// except returns the main application's users, in id order, without names.
func except(names ...string) []string {
	var out []string
outer:
	for _, n := range fixtureOrder {
		for _, x := range names {
			if n == x {
				continue outer
			}
		}
		out = append(out, n)
	}
	return out
}

func f1(field query.Field, op query.Op, vals ...any) []query.Filter {
	return []query.Filter{{Field: field, Op: op, Values: vals}}
}

func checkNames(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}

func testSearchFields(t *testing.T, s identity.Store) {
	us := searcher(t, s)
	f := newSearchFixture(t, s)
	id := func(n string) any { return f.ids[n] }
	day := 24 * time.Hour
	tests := []struct {
		name    string
		filters []query.Filter
		want    []string
	}{
		{"id eq", f1("id", "eq", id("hunter")), all("hunter")},
		{"id in", f1("id", "in", id("marvin"), id("emile"), id("twin")), all("marvin", "emile")},
		{"id nin", f1("id", "nin", id("marvin"), id("hunter")), except("marvin", "hunter")},
		{"id ne", f1("id", "ne", id("hunter")), except("hunter")},
		{"id gt", f1("id", "gt", id("hunter")), except("marvin", "hunter")},
		{"id gte", f1("id", "gte", id("hunter")), except("marvin")},
		{"id lt", f1("id", "lt", id("hunting")), all("marvin", "hunter")},
		{"id lte", f1("id", "lte", id("hunting")), all("marvin", "hunter", "hunting")},
		{"id between", f1("id", "between", id("hunter"), id("emile")), all("hunter", "hunting", "emile")},

		{"external_user_id eq", f1("external_user_id", "eq", int64(675373912)), all("marvin")},
		{"external_user_id ne keeps unset", f1("external_user_id", "ne", int64(2)), except("hunter")},
		{"external_user_id nin keeps unset", f1("external_user_id", "nin", int64(2), int64(675373912)), except("marvin", "hunter")},
		{"external_user_id gt", f1("external_user_id", "gt", int64(2)), all("marvin")},
		{"external_user_id in", f1("external_user_id", "in", int64(2)), all("hunter")},
		{"timezone eq 0 is not unset", f1("timezone", "eq", int64(0)), all("emile")},
		{"timezone lt", f1("timezone", "lt", int64(0)), all("hunter")},
		{"timezone gte", f1("timezone", "gte", int64(0)), all("marvin", "emile")},
		{"timezone between", f1("timezone", "between", int64(-300), int64(0)), all("hunter", "emile")},
		{"timezone ne keeps unset", f1("timezone", "ne", int64(60)), except("marvin")},
		{"blob_id eq", f1("blob_id", "eq", int64(5)), all("marvin")},
		{"blob_id ne", f1("blob_id", "ne", int64(5)), except("marvin")},
		{"blob_id gt", f1("blob_id", "gt", int64(0)), all("marvin")},

		{"login eq other case", f1("login", "eq", "MARVIN18"), all("marvin")},
		{"login eq non-ASCII other case", f1("login", "eq", "éMILE"), all("emile")},
		{"login in", f1("login", "in", "HUNTER_S", "nobody"), all("hunter")},
		{"login nin keeps unset", f1("login", "nin", "marvin18"), except("marvin")},
		{"login ne", f1("login", "ne", "Hunting"), except("hunting")},
		{"login start_with other case", f1("login", "start_with", "HUNT"), all("hunter", "hunting")},
		{"login start_with non-ASCII other case", f1("login", "start_with", "ÉMI"), all("emile")},
		{"login lt (byte order of the lower-cased login)", f1("login", "lt", "i"), all("hunter", "hunting")},
		{"login gt", f1("login", "gt", "n"), all("emile", "meta")},
		{"login between", f1("login", "between", "h", "m"), all("hunter", "hunting")},
		{"email eq other case", f1("email", "eq", "HUNTER@EXAMPLE.COM"), all("hunter")},
		{"email start_with other case", f1("email", "start_with", "MARV"), all("marvin")},
		{"email nin keeps unset", f1("email", "nin", "hunter@example.com"), except("hunter")},

		{"full_name eq is exact", f1("full_name", "eq", "Marvin Samuel"), all("marvin")},
		{"full_name eq other case", f1("full_name", "eq", "marvin samuel"), nil},
		{"full_name in", f1("full_name", "in", "Hunter Smith", "hunting party"), all("hunter", "hunting")},
		{"full_name ne keeps empty", f1("full_name", "ne", "Marvin Samuel"), except("marvin")},
		{"full_name nin", f1("full_name", "nin", "", "Marvin Samuel"), all("hunter", "hunting", "emile", "meta")},
		{"full_name start_with ignores ASCII case", f1("full_name", "start_with", "hUNT"), all("hunter", "hunting")},
		{"full_name start_with whole value", f1("full_name", "start_with", "HUNTING PARTY"), all("hunting")},
		{"full_name start_with longer than value", f1("full_name", "start_with", "hunting party!"), nil},
		{"full_name start_with non-ASCII exact", f1("full_name", "start_with", "Émile"), all("emile")},
		{"full_name start_with non-ASCII other case", f1("full_name", "start_with", "émile"), nil},
		{"full_name start_with ASCII part other case", f1("full_name", "start_with", "ÉMILE ZOLA"), all("emile")},
		{"full_name gt (byte order)", f1("full_name", "gt", "Hunter Smith"), all("marvin", "hunting", "emile")},
		{"full_name lt", f1("full_name", "lt", "Hunter Smith"), all("meta", "plain")},
		{"phone eq", f1("phone", "eq", "5464579797975"), all("hunter")},
		{"phone start_with", f1("phone", "start_with", "5464"), all("hunter", "hunting")},
		{"phone start_with with spaces", f1("phone", "start_with", "+33 "), all("emile")},
		{"phone in", f1("phone", "in", "44678162873", "+33 1 23"), all("marvin", "emile")},
		{"external_id eq is exact", f1("external_id", "eq", "EXT-b2"), all("hunter")},
		{"external_id eq other case", f1("external_id", "eq", "ext-b2"), nil},
		{"external_id start_with ignores ASCII case", f1("external_id", "start_with", "ext-"), all("marvin", "hunter")},
		{"facebook_id in", f1("facebook_id", "in", "fb100", "FB200"), all("marvin", "hunter")},
		{"facebook_id start_with", f1("facebook_id", "start_with", "fb20"), all("hunter")},
		{"twitter_id eq", f1("twitter_id", "eq", "tw200"), all("hunter")},
		{"twitter_id start_with", f1("twitter_id", "start_with", "tw10"), all("marvin")},
		{"website eq", f1("website", "eq", "https://marvin.example"), all("marvin")},
		{"website ne", f1("website", "ne", "https://marvin.example"), except("marvin")},
		{"website start_with", f1("website", "start_with", "https://m"), all("marvin")},

		{"user_tags eq other case", f1("user_tags", "eq", "apple"), all("marvin")},
		{"user_tags eq several users", f1("user_tags", "eq", "GUEST"), all("hunter", "hunting")},
		{"user_tags in any", f1("user_tags", "in", "vip", "iphone"), all("marvin", "hunter")},
		{"user_tags in one user twice", f1("user_tags", "in", "vip", "guest"), all("hunter", "hunting")},
		{"user_tags nin", f1("user_tags", "nin", "guest"), except("hunter", "hunting")},
		{"user_tags ne", f1("user_tags", "ne", "apple"), except("marvin")},

		{"created_at gt", f1("created_at", "gt", t0), except("marvin")},
		{"created_at gt is strict to the microsecond", f1("created_at", "gt", t0.Add(day)), all("hunting", "emile", "meta", "plain")},
		{"created_at gt a microsecond earlier", f1("created_at", "gt", t0.Add(day-time.Microsecond)), except("marvin")},
		{"created_at gte", f1("created_at", "gte", t0.Add(day)), except("marvin")},
		{"created_at lt", f1("created_at", "lt", t0.Add(2*day)), all("marvin", "hunter")},
		{"created_at lte", f1("created_at", "lte", t0.Add(2*day)), all("marvin", "hunter", "hunting")},
		{"created_at between", f1("created_at", "between", t0.Add(day), t0.Add(3*day)), all("hunter", "hunting", "emile")},
		{"created_at eq same second", f1("created_at", "eq", t0.Add(day+50*time.Millisecond)), all("hunter")},
		{"created_at eq next second", f1("created_at", "eq", t0.Add(day+200*time.Millisecond)), nil},
		{"created_at in seconds", f1("created_at", "in", t0.Add(day), t0.Add(3*day)), all("hunter", "emile")},
		{"created_at ne", f1("created_at", "ne", t0.Add(4*day)), all("marvin", "hunter", "hunting", "emile")},
		{"created_at in a different zone", f1("created_at", "eq", t0.Add(day).In(time.FixedZone("X", 5*3600))), all("hunter")},
		{"updated_at gt", f1("updated_at", "gt", t0.Add(3*day)), all("emile", "meta", "plain")},
		{"last_request_at gt skips unset", f1("last_request_at", "gt", t0), all("marvin", "hunting", "emile")},
		{"last_request_at lt skips unset", f1("last_request_at", "lt", t0.Add(day)), all("marvin")},
		{"last_request_at ne keeps unset", f1("last_request_at", "ne", t0.Add(2*time.Hour)), except("marvin")},
		{"last_request_at nin keeps unset", f1("last_request_at", "nin", t0.Add(2*time.Hour), t0.Add(2*day)), except("marvin", "hunting")},

		{"every filter must match", []query.Filter{
			{Field: "login", Op: "eq", Values: []any{"hunter_s"}},
			{Field: "phone", Op: "eq", Values: []any{"5464579797975"}},
			{Field: "user_tags", Op: "nin", Values: []any{"apple"}},
			{Field: "updated_at", Op: "lte", Values: []any{t0.Add(day)}},
		}, all("hunter")},
		{"one filter fails", []query.Filter{
			{Field: "login", Op: "eq", Values: []any{"hunter_s"}},
			{Field: "user_tags", Op: "nin", Values: []any{"vip"}},
		}, nil},
		{"start_with and id nin", []query.Filter{
			{Field: "full_name", Op: "start_with", Values: []any{"hunt"}},
			{Field: "id", Op: "nin", Values: []any{id("hunter")}},
		}, all("hunting")},
		{"user_tags eq and created_at", []query.Filter{
			{Field: "user_tags", Op: "eq", Values: []any{"Guest"}},
			{Field: "created_at", Op: "gt", Values: []any{t0.Add(day)}},
		}, all("hunting")},
		{"user_tags eq and login", []query.Filter{
			{Field: "user_tags", Op: "eq", Values: []any{"guest"}},
			{Field: "login", Op: "eq", Values: []any{"HUNTER_S"}},
		}, all("hunter")},
		{"user_tags eq and eq", []query.Filter{
			{Field: "user_tags", Op: "eq", Values: []any{"guest"}},
			{Field: "user_tags", Op: "eq", Values: []any{"vip"}},
		}, all("hunter")},
		{"user_tags eq and nin", []query.Filter{
			{Field: "user_tags", Op: "eq", Values: []any{"guest"}},
			{Field: "user_tags", Op: "nin", Values: []any{"vip"}},
		}, all("hunting")},
		{"no filter lists the application", nil, except()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := identity.UserQuery{Filters: tt.filters}
			got, total := f.search(t, us, f.app.ID, q)
			checkNames(t, describe(q), got, tt.want)
			if total != int64(len(tt.want)) {
				t.Errorf("%s: total %d, want %d", describe(q), total, len(tt.want))
			}
		})
	}
}

func testSearchScoped(t *testing.T, s identity.Store) {
	us := searcher(t, s)
	f := newSearchFixture(t, s)
	queries := []identity.UserQuery{
		{Filters: f1("login", "eq", "marvin18")},
		{Filters: f1("user_tags", "eq", "apple")},
		{Filters: f1("id", "eq", f.ids["marvin"])},
		{Filters: f1("external_user_id", "eq", int64(675373912))},
		{Filters: f1("full_name", "start_with", "Marv")},
	}
	for _, q := range queries {
		got, total := f.search(t, us, f.other.ID, q)
		if q.Filters[0].Field == "id" {
			checkNames(t, "other application, "+describe(q), got, nil)
			continue
		}
		checkNames(t, "other application, "+describe(q), got, all("twin"))
		if total != 1 {
			t.Errorf("other application, %s: total %d, want 1", describe(q), total)
		}
	}
	got, _ := f.search(t, us, f.other.ID+f.app.ID+1000, identity.UserQuery{Filters: f1("login", "eq", "marvin18")})
	checkNames(t, "unknown application", got, nil)
}

func testSearchOrder(t *testing.T, s identity.Store) {
	us := searcher(t, s)
	f := newSearchFixture(t, s)
	tests := []struct {
		field query.Field
		desc  bool
		want  []string
	}{
		{"", false, except()},
		{"id", true, all("plain", "meta", "emile", "hunting", "hunter", "marvin")},
		// Byte order; "" first.
		{"full_name", false, all("plain", "meta", "hunter", "marvin", "hunting", "emile")},
		{"full_name", true, all("emile", "hunting", "marvin", "hunter", "meta", "plain")},
		// Lower-cased logins in byte order; no login sorts lowest.
		{"login", false, all("plain", "hunter", "hunting", "marvin", "meta", "emile")},
		{"login", true, all("emile", "meta", "marvin", "hunting", "hunter", "plain")},
		{"email", false, all("hunting", "emile", "hunter", "marvin", "meta", "plain")},
		// Ties (meta and plain share created_at) are broken by id in the same direction.
		{"created_at", false, all("marvin", "hunter", "hunting", "emile", "meta", "plain")},
		{"created_at", true, all("plain", "meta", "emile", "hunting", "hunter", "marvin")},
		{"updated_at", true, all("plain", "meta", "emile", "hunting", "hunter", "marvin")},
		// Unset (NULL) sorts lowest.
		{"last_request_at", false, all("hunter", "meta", "plain", "marvin", "hunting", "emile")},
		{"last_request_at", true, all("emile", "hunting", "marvin", "plain", "meta", "hunter")},
		{"timezone", false, all("hunting", "meta", "plain", "hunter", "emile", "marvin")},
		{"external_user_id", true, all("marvin", "hunter", "plain", "meta", "emile", "hunting")},
		{"phone", false, all("plain", "meta", "emile", "marvin", "hunter", "hunting")},
	}
	for _, tt := range tests {
		q := identity.UserQuery{SortField: tt.field, SortDesc: tt.desc}
		got, _ := f.search(t, us, f.app.ID, q)
		checkNames(t, describe(q), got, tt.want)
	}
	// The same orders when a tag selects the users.
	guests := f1("user_tags", "eq", "guest")
	for _, tt := range []struct {
		field query.Field
		desc  bool
		want  []string
	}{
		{"", false, all("hunter", "hunting")},
		{"id", true, all("hunting", "hunter")},
		{"full_name", false, all("hunter", "hunting")},
		{"created_at", true, all("hunting", "hunter")},
		{"last_request_at", false, all("hunter", "hunting")},
	} {
		q := identity.UserQuery{Filters: guests, SortField: tt.field, SortDesc: tt.desc}
		got, _ := f.search(t, us, f.app.ID, q)
		checkNames(t, describe(q), got, tt.want)
	}
}

func testSearchPages(t *testing.T, s identity.Store) {
	us := searcher(t, s)
	f := newSearchFixture(t, s)
	tests := []struct {
		limit, offset int
		filters       []query.Filter
		want          []string
		total         int64
	}{
		{2, 0, nil, all("marvin", "hunter"), 6},
		{2, 2, nil, all("hunting", "emile"), 6},
		{2, 4, nil, all("meta", "plain"), 6},
		{4, 4, nil, all("meta", "plain"), 6},
		{5, 10, nil, nil, 6},
		{1, 1, f1("user_tags", "eq", "guest"), all("hunting"), 2},
		{1, 0, f1("user_tags", "eq", "guest"), all("hunter"), 2},
		{1, 0, f1("login", "eq", "nobody"), nil, 0},
		{3, 1, f1("login", "eq", "nobody"), nil, 0},
		{100, 0, f1("id", "gte", f.ids["hunting"]), all("hunting", "emile", "meta", "plain"), 4},
	}
	for _, tt := range tests {
		q := identity.UserQuery{Filters: tt.filters, Limit: tt.limit, Offset: tt.offset}
		got, total := f.search(t, us, f.app.ID, q)
		checkNames(t, describe(q), got, tt.want)
		if total != tt.total {
			t.Errorf("%s: total %d, want %d", describe(q), total, tt.total)
		}
	}
}

// testSearchMetacharacters searches with values made of SQL and LIKE syntax: each must be
// compared as data, with every field and operator.
func testSearchMetacharacters(t *testing.T, s identity.Store) {
	us := searcher(t, s)
	f := newSearchFixture(t, s)
	tests := []struct {
		name    string
		filters []query.Filter
		want    []string
	}{
		{"full_name eq", f1("full_name", "eq", metaName), all("meta")},
		{"full_name start_with percent", f1("full_name", "start_with", "100%"), all("meta")},
		{"full_name start_with underscore is no wildcard", f1("full_name", "start_with", "100_"), nil},
		{"full_name start_with quote", f1("full_name", "start_with", `100% "`), all("meta")},
		{"full_name start_with percent alone", f1("full_name", "start_with", "%%%%"), nil},
		{"login eq quote", f1("login", "eq", "O'BRIEN"), all("meta")},
		{"login start_with quote", f1("login", "start_with", "o'br"), all("meta")},
		{"email start_with percent underscore", f1("email", "start_with", "meta%_"), all("meta")},
		{"email start_with underscore is no wildcard", f1("email", "start_with", "meta__"), nil},
		{"phone eq percent", f1("phone", "eq", "%"), all("meta")},
		{"external_id eq underscore", f1("external_id", "eq", "_"), all("meta")},
		{"facebook_id eq injection", f1("facebook_id", "eq", "' OR '1'='1"), all("meta")},
		{"facebook_id in injection", f1("facebook_id", "in", "x') OR ('1'='1", "' OR '1'='1"), all("meta")},
		{"twitter_id eq backslash", f1("twitter_id", "eq", `\`), all("meta")},
		{"website eq injection", f1("website", "eq", "' OR 1=1 --"), nil},
		{"login nin injection", f1("login", "nin", "') OR 1=1 --"), except()},
		{"user_tags eq percent", f1("user_tags", "eq", "%"), all("meta")},
		{"user_tags eq underscore is no wildcard", f1("user_tags", "eq", "_"), nil},
		{"user_tags in injection", f1("user_tags", "in", "x') OR ('1'='1"), nil},
		{"full_name gt injection", f1("full_name", "gt", "' OR '1'='1"), except("plain")},
		{"comment and semicolon", f1("full_name", "eq", "x'; DELETE FROM users; --"), nil},
	}
	for _, tt := range tests {
		q := identity.UserQuery{Filters: tt.filters}
		got, _ := f.search(t, us, f.app.ID, q)
		checkNames(t, tt.name+": "+describe(q), got, tt.want)
	}
	// Nothing was changed by any of it.
	got, total := f.search(t, us, f.app.ID, identity.UserQuery{})
	checkNames(t, "all users afterwards", got, except())
	if total != 6 {
		t.Errorf("total afterwards %d, want 6", total)
	}
}

func testSearchInvalid(t *testing.T, s identity.Store) {
	us := searcher(t, s)
	app := newApp(t, s)
	newUser(t, s, app.ID, "someone", "")
	tests := []struct {
		name string
		q    identity.UserQuery
	}{
		{"unknown field", identity.UserQuery{Filters: f1("password_hash", "eq", "x"), Limit: 10}},
		{"custom_data", identity.UserQuery{Filters: f1("custom_data", "eq", "x"), Limit: 10}},
		{"field with SQL", identity.UserQuery{Filters: f1("login = login OR 1", "eq", "x"), Limit: 10}},
		{"unknown operator", identity.UserQuery{Filters: f1("login", "like", "x%"), Limit: 10}},
		{"operator with SQL", identity.UserQuery{Filters: f1("id", "= 1 OR 1 =", int64(1)), Limit: 10}},
		{"string for an integer", identity.UserQuery{Filters: f1("id", "eq", "1 OR 1=1"), Limit: 10}},
		{"int for a string", identity.UserQuery{Filters: f1("login", "eq", int64(1)), Limit: 10}},
		{"string for a time", identity.UserQuery{Filters: f1("created_at", "gt", "2020-01-01"), Limit: 10}},
		{"NUL in a value", identity.UserQuery{Filters: f1("login", "eq", "some\x00one"), Limit: 10}},
		{"invalid UTF-8", identity.UserQuery{Filters: f1("full_name", "start_with", "ab\xffcd"), Limit: 10}},
		{"in without values", identity.UserQuery{Filters: f1("id", "in"), Limit: 10}},
		{"between one value", identity.UserQuery{Filters: f1("id", "between", int64(1)), Limit: 10}},
		{"eq two values", identity.UserQuery{Filters: f1("id", "eq", int64(1), int64(2)), Limit: 10}},
		{"tags gt", identity.UserQuery{Filters: f1("user_tags", "gt", "a"), Limit: 10}},
		{"sort by tags", identity.UserQuery{SortField: "user_tags", Limit: 10}},
		{"sort by SQL", identity.UserQuery{SortField: "id; DROP TABLE users", Limit: 10}},
		{"limit 0", identity.UserQuery{}},
		{"limit over the maximum", identity.UserQuery{Limit: query.MaxLimit + 1}},
		{"negative offset", identity.UserQuery{Limit: 10, Offset: -1}},
	}
	for _, tt := range tests {
		q := tt.q
		users, _, err := us.SearchUsers(t.Context(), app.ID, &q)
		if !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("%s: err = %v (users %d), want ErrInvalidInput", tt.name, err, len(users))
		}
	}
	if _, _, err := us.SearchUsers(t.Context(), app.ID, nil); !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("nil query: err = %v, want ErrInvalidInput", err)
	}
}
