package httpadapter_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/query"
	"github.com/identitykit/identity/store/gormstore"
)

// searchEnv is an env with a population of users to retrieve and an application session.
type searchEnv struct {
	*env
	token string
	users map[string]*identity.User // by login
}

var t2017 = time.Date(2017, 11, 10, 0, 0, 0, 0, time.UTC)

// newSearchEnv creates the users of the seed's retrieval snippets and a few more.
func newSearchEnv(t testing.TB, opts ...func(*envOpt)) *searchEnv {
	t.Helper()
	e := &searchEnv{env: newEnv(t, opts...), users: map[string]*identity.User{}}
	day := 24 * time.Hour
	mk := func(u identity.User) {
		t.Helper()
		u.ApplicationID = e.app.ID
		u.UID = fmt.Sprintf("%024x", len(e.users)+1)
		if u.CreatedAt.IsZero() {
			u.CreatedAt = t2017.Add(-day)
		}
		u.UpdatedAt = u.CreatedAt
		if err := e.store.CreateUser(t.Context(), &u, nil); err != nil {
			t.Fatalf("CreateUser(%s): %v", u.Login, err)
		}
		e.users[u.Login] = &u
	}
	mk(identity.User{Login: "adminFirstUser", Email: "admin@example.com", FullName: "Admin First", Tags: []string{"admin"},
		LastRequestAt: t2017.Add(2 * day), CreatedAt: t2017.Add(-400 * day)})
	mk(identity.User{Login: "marvin18", Email: "marvin18@example.com", FullName: "Marvin Samuel", Phone: "44678162873",
		ExternalUserID: 675373912, FacebookID: "100001", TwitterID: "200001", Tags: []string{"apple", "iphone"},
		LastRequestAt: t2017.Add(-day)})
	mk(identity.User{Login: "hunter_s", Email: "hunter@example.com", FullName: "Hunter Smith", Phone: "5464579797975",
		Tags: []string{"vip", "guest"}, LastRequestAt: t2017.Add(day), CreatedAt: t2017.Add(10 * day)})
	mk(identity.User{Login: "hunting", FullName: "hunting party", Phone: "5464579797976", Tags: []string{"guest"},
		CreatedAt: t2017.Add(20 * day)})
	mk(identity.User{Login: "smith1", FullName: "John Smith", Phone: "6754987345566", Tags: []string{"guest"},
		LastRequestAt: t2017.Add(3 * day)})
	e.token = e.appSession()
	return e
}

func (e *searchEnv) get(target string) *resp {
	e.t.Helper()
	return e.do("GET", target, "", "CB-Token: "+e.token)
}

// v2Items returns the logins of a V2 page's items, checking that they are flat users.
func v2Items(t *testing.T, r *resp) []string {
	t.Helper()
	var page struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(r.Body), &page); err != nil || page.Items == nil {
		t.Fatalf("not a V2 page: %s", r.Body)
	}
	out := []string{}
	for _, it := range page.Items {
		if _, wrapped := it["user"]; wrapped {
			t.Fatalf("V2 items must be flat user objects: %s", r.Body)
		}
		out = append(out, fmt.Sprint(it["login"]))
	}
	return out
}

// v1Items returns the logins of a V1 page's items, checking that they are wrapped in "user".
func v1Items(t *testing.T, r *resp) []string {
	t.Helper()
	var page struct {
		Items []map[string]map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(r.Body), &page); err != nil || page.Items == nil {
		t.Fatalf("not a V1 page: %s", r.Body)
	}
	out := []string{}
	for _, it := range page.Items {
		u, ok := it["user"]
		if !ok {
			t.Fatalf("V1 items must be {\"user\":{...}}: %s", r.Body)
		}
		out = append(out, fmt.Sprint(u["login"]))
	}
	return out
}

// jsDate is how the JavaScript SDK 6.1.2 serializes new Date(2017, 10, 10) in a query on a
// machine in UTC: String(date), percent-encoded with lower-case hex (Proxy.ts).
const jsDate = "Fri%20Nov%2010%202017%2000%3a00%3a00%20GMT%2b0000%20(Coordinated%20Universal%20Time)"

func TestSearchUsersV2(t *testing.T) {
	e := newSearchEnv(t)
	id := func(login string) string { return fmt.Sprint(e.users[login].ID) }
	tests := []struct {
		name, query string
		want        []string
		limit, skip int
		total       int64
	}{
		// The seed's snippets, as users.getV2 sends them (keys sorted, arrays bracketed).
		{"seed: by id with limit and offset", "id[in][]=" + id("marvin18") + "&id[in][]=" + id("hunter_s") + "&limit=10&offset=50", nil, 10, 50, 2},
		{"seed: by id, first page", "id[in][]=" + id("marvin18") + "&id[in][]=" + id("hunter_s") + "&limit=10&offset=0", []string{"marvin18", "hunter_s"}, 10, 0, 2},
		{"seed: by login", "login=adminFirstUser", []string{"adminFirstUser"}, 100, 0, 1},
		// The seed's last_request_at snippet: a date comparison alone is accepted (see
		// checkV2 in users_rules.go), so the example works.
		{"seed: JavaScript Date alone", "last_request_at[gt]=" + jsDate, []string{"adminFirstUser", "hunter_s", "smith1"}, 100, 0, 3},
		{"doc's invalid created_at[gte] alone is accepted", "created_at[gte]=2017-11-20T00:00:00Z", []string{"hunter_s", "hunting"}, 100, 0, 2},
		{"JavaScript Date next to a stand-alone filter", "last_request_at[gt]=" + jsDate + "&user_tags=guest", []string{"hunter_s", "smith1"}, 100, 0, 2},
		{"JavaScript Date in another zone", "id=" + id("hunter_s") + "&last_request_at[gt]=" + url.QueryEscape("Sat Nov 11 2017 01:59:59 GMT+0200 (Eastern European Standard Time)"), []string{"hunter_s"}, 100, 0, 1},
		{"Date.toUTCString()", "id=" + id("hunter_s") + "&last_request_at[lt]=" + url.QueryEscape("Sat, 11 Nov 2017 00:00:01 GMT"), []string{"hunter_s"}, 100, 0, 1},
		{"Unix seconds", "user_tags=guest&created_at[lt]=1510704000", []string{"smith1"}, 100, 0, 1},
		{"ISO 8601", "user_tags=guest&created_at[gte]=2017-11-20T00:00:00Z", []string{"hunter_s", "hunting"}, 100, 0, 2},
		{"ISO 8601 with an offset", "user_tags=guest&created_at[gte]=2017-11-20T02:00:00%2b02:00", []string{"hunter_s", "hunting"}, 100, 0, 2},
		// The documentation's valid examples.
		{"doc: id", "id=" + id("smith1"), []string{"smith1"}, 100, 0, 1},
		{"doc: user_tags", "user_tags=guest", []string{"hunter_s", "hunting", "smith1"}, 100, 0, 3},
		{"doc: login phone nin lte", "login=smith1&phone=6754987345566&user_tags[nin][]=vip&updated_at[lte]=2019-11-06T09:21:41Z", []string{"smith1"}, 100, 0, 1},
		{"doc: start_with and id nin", "full_name[start_with]=hunt&id[nin][]=" + id("hunting"), []string{"hunter_s"}, 5, 0, 1},
		{"doc: phone and date eq", "phone=5464579797975&last_request_at=2017-11-11T00:00:00Z", []string{"hunter_s"}, 100, 0, 1},
		{"start_with forces limit 5", "full_name[start_with]=HUNT&limit=50", []string{"hunter_s", "hunting"}, 5, 0, 2},
		{"tags any of a comma list", "user_tags=vip,admin", []string{"adminFirstUser", "hunter_s"}, 100, 0, 2},
		{"tags in with a list", "user_tags[in][]=vip&user_tags[in][]=apple", []string{"marvin18", "hunter_s"}, 100, 0, 2},
		{"id in as a comma list", "id[in]=" + id("marvin18") + "%2c" + id("smith1"), []string{"marvin18", "smith1"}, 100, 0, 2},
		{"field[] is in", "login[]=hunting&login[]=smith1", []string{"hunting", "smith1"}, 100, 0, 2},
		{"explicit eq", "email[eq]=MARVIN18%40example.com", []string{"marvin18"}, 100, 0, 1},
		{"sort_desc", "user_tags=guest&sort_desc=created_at", []string{"hunting", "hunter_s", "smith1"}, 100, 0, 3},
		{"sort_asc", "user_tags=guest&sort_asc=full_name", []string{"hunter_s", "smith1", "hunting"}, 100, 0, 3},
		{"limit and offset", "user_tags=guest&limit=1&offset=1", []string{"hunting"}, 1, 1, 3},
		{"no match", "login=nobody", nil, 100, 0, 0},
		{"plus for spaces", "full_name=Marvin+Samuel", []string{"marvin18"}, 100, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get("/users/v2.json?" + tt.query)
			if r.Code != 200 {
				t.Fatalf("%s: %d %s", tt.query, r.Code, r.Body)
			}
			got := v2Items(t, r)
			if want := append([]string{}, tt.want...); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s: items %v, want %v", tt.query, got, want)
			}
			m := r.json(t)
			if m["limit"] != float64(tt.limit) || m["skip"] != float64(tt.skip) || m["total_entries"] != float64(tt.total) {
				t.Errorf("%s: limit %v skip %v total_entries %v, want %d %d %d", tt.query, m["limit"], m["skip"], m["total_entries"], tt.limit, tt.skip, tt.total)
			}
		})
	}
}

func TestSearchUsersV2Body(t *testing.T) {
	e := newSearchEnv(t)
	r := e.get("/users/v2?login=marvin18")
	if r.Code != 200 || r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("%d %q %s", r.Code, r.Header.Get("Content-Type"), r.Body)
	}
	if got := objectKeys(t, r.Body); strings.Join(got, ",") != "limit,skip,total_entries,items" {
		t.Errorf("page keys %v", got)
	}
	var page struct{ Items []json.RawMessage }
	if err := json.Unmarshal([]byte(r.Body), &page); err != nil || len(page.Items) != 1 {
		t.Fatalf("items: %v %s", err, r.Body)
	}
	if got := objectKeys(t, string(page.Items[0])); strings.Join(got, ",") != strings.Join(userKeyOrder, ",") {
		t.Errorf("user keys %v, want %v", got, userKeyOrder)
	}
	var u map[string]any
	json.Unmarshal(page.Items[0], &u)
	if u["user_tags"] != "apple,iphone" || u["external_user_id"] != float64(675373912) || u["last_request_at"] != "2017-11-09T00:00:00Z" {
		t.Errorf("user %v", u)
	}
	if r := e.get("/users/v2?login=nobody"); r.Body != `{"limit":100,"skip":0,"total_entries":0,"items":[]}` {
		t.Errorf("empty page %s", r.Body)
	}
	if r := e.do("GET", "/users/v2?login=marvin18", ""); r.Code != 401 {
		t.Errorf("without a token: %d %s", r.Code, r.Body)
	}
}

// errorFields returns the keys of a keyed error body.
func errorFields(t *testing.T, r *resp) []string {
	t.Helper()
	var body struct {
		Errors map[string][]string `json:"errors"`
	}
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
		t.Fatalf("not a keyed error body: %s", r.Body)
	}
	var keys []string
	for k := range body.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestSearchUsersV2Invalid(t *testing.T) {
	e := newSearchEnv(t)
	many := strings.Repeat("id[in][]=1&", query.MaxValues+1)
	tests := []struct{ name, query, field string }{
		// The documentation's invalid examples.
		{"doc: login nin alone", "login[nin][]=admin19", "base"},
		{"doc: user_tags nin alone", "user_tags[nin][]=guest", "base"},
		{"doc: date eq alone", "last_request_at=2017-07-06T11:21:41Z", "last_request_at"},
		{"doc: start_with too short", "login[start_with]=vip", "login"},
		{"exclusions alone", "user_tags[nin][]=guest&id[nin][]=1", "base"},
		{"no filter", "", "base"},
		{"unknown field", "login=a&nickname=x", "nickname"},
		{"custom_data", "login=a&custom_data=x", "custom_data"},
		{"V1-only field", "login=a&website=x", "website"},
		{"unknown operator", "login[like]=a%25", "login"},
		{"operator with SQL", "login[%3D%27%27%20OR%201%3D1]=a", "login"},
		{"compare on a stand-alone field", "login=a&id[gt]=5", "id"},
		{"bad date", "login=a&created_at[gt]=yesterday", "created_at"},
		{"bad JavaScript date", "login=a&created_at[gt]=Invalid%20Date", "created_at"},
		{"date out of range", "login=a&created_at[gt]=99999999999999", "created_at"},
		{"non-numeric id", "id=abc", "id"},
		{"non-numeric id in list", "id[in][]=1&id[in][]=x", "id"},
		{"huge in list", strings.TrimSuffix(many, "&"), "id"},
		{"empty in", "id[in]=", "id"},
		{"list for eq", "login[eq][]=a&login[eq][]=b", "login"},
		{"object value", "login[eq][x]=a", "login"},
		{"limit over 100", "login=a&limit=101", "limit"},
		{"limit 0", "login=a&limit=0", "limit"},
		{"limit not a number", "login=a&limit=ten", "limit"},
		{"negative offset", "login=a&offset=-1", "offset"},
		{"huge offset", "login=a&offset=99999999999999999999", "offset"},
		{"sort by unknown", "login=a&sort_asc=password", "sort"},
		{"sort by tags", "login=a&sort_desc=user_tags", "sort"},
		{"two sorts", "login=a&sort_asc=id&sort_desc=id", "sort_desc"},
		{"blank primary value", "login=", "login"},
		{"NUL in a value", "login=a%00b", "login"},
		{"too many filters", "login=a&" + manyFilters(), "base"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get("/users/v2?" + tt.query)
			if r.Code != 422 {
				t.Fatalf("%s: %d %s, want 422", tt.query, r.Code, r.Body)
			}
			if got := errorFields(t, r); !contains(got, tt.field) {
				t.Errorf("%s: error fields %v (%s), want %q", tt.query, got, r.Body, tt.field)
			}
		})
	}
	// A key used both as a value and as an object cannot be decoded at all: 400, as for any
	// undecodable query (package documentation).
	if r := e.get("/users/v2?id=1&id[in][]=2"); r.Code != 400 {
		t.Errorf("conflicting keys: %d %s", r.Code, r.Body)
	}
}

// manyFilters returns more filters than query.MaxFilters, on distinct V2 fields and ops.
func manyFilters() string {
	var parts []string
	for _, f := range []string{"email", "full_name", "phone", "external_id", "facebook_id", "twitter_id", "user_tags"} {
		parts = append(parts, f+"[nin][]=x", f+"[in][]=x", f+"[eq]=x")
	}
	return strings.Join(parts, "&")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestListUsersV1(t *testing.T) {
	e := newSearchEnv(t)
	id := func(login string) string { return fmt.Sprint(e.users[login].ID) }
	tests := []struct {
		name, target  string
		want          []string
		page, perPage int
		total         int64
	}{
		// The seed's snippet as users.get sends it: filter {field, param, value} becomes
		// filter[]=<typeof value> <field> <param> <value>.
		{"seed: filter by id in", "/users.json?filter[]=number%20id%20in%20" + id("marvin18") + "%2c" + id("hunter_s") + "&page=1&per_page=5",
			[]string{"marvin18", "hunter_s"}, 1, 5, 2},
		{"seed: external_user_id", "/users.json?external_user_id=675373912", []string{"marvin18"}, 1, 10, 1},
		{"all users, default paging", "/users.json", []string{"adminFirstUser", "marvin18", "hunter_s", "hunting", "smith1"}, 1, 10, 5},
		{"second page", "/users?page=2&per_page=2", []string{"hunter_s", "hunting"}, 2, 2, 5},
		{"docs: plus for spaces", "/users?filter[]=number+id+gt+" + id("hunting"), []string{"smith1"}, 1, 10, 1},
		{"lt", "/users?filter[]=number+id+lt+" + id("marvin18"), []string{"adminFirstUser"}, 1, 10, 1},
		{"ge", "/users?filter[]=number+id+ge+" + id("hunting"), []string{"hunting", "smith1"}, 1, 10, 2},
		{"le", "/users?filter[]=number+id+le+" + id("marvin18"), []string{"adminFirstUser", "marvin18"}, 1, 10, 2},
		{"eq string", "/users?filter[]=string+login+eq+HUNTING", []string{"hunting"}, 1, 10, 1},
		{"ne string", "/users?filter[]=string+full_name+ne+Marvin+Samuel&per_page=2", []string{"adminFirstUser", "hunter_s"}, 1, 2, 4},
		{"between", "/users?filter[]=number+id+between+" + id("marvin18") + "%2c" + id("hunting"), []string{"marvin18", "hunter_s", "hunting"}, 1, 10, 3},
		{"in strings", "/users?filter[]=string+phone+in+44678162873,6754987345566", []string{"marvin18", "smith1"}, 1, 10, 2},
		{"date yyyy-mm-dd", "/users?filter[]=date+created_at+gt+2017-11-15", []string{"hunter_s", "hunting"}, 1, 10, 2},
		{"date yyyy.mm.dd", "/users?filter[]=date+created_at+lt+2017.11.15&filter[]=date+created_at+gt+2017.01.01", []string{"marvin18", "smith1"}, 1, 10, 2},
		{"date between", "/users?filter[]=date+last_request_at+between+2017-11-10,2017-11-12", []string{"adminFirstUser", "hunter_s"}, 1, 10, 2},
		{"date as the SDK sends a Date", "/users?filter[]=date%20last_request_at%20gt%20" + jsDate, []string{"adminFirstUser", "hunter_s", "smith1"}, 1, 10, 3},
		{"tags", "/users?filter[]=string+user_tags+in+vip,admin", []string{"adminFirstUser", "hunter_s"}, 1, 10, 2},
		{"order", "/users?order=desc+date+created_at&per_page=3", []string{"hunting", "hunter_s", "smith1"}, 1, 3, 5},
		{"order with integer type", "/users?order=asc+integer+id&filter[]=number+id+ge+" + id("hunting"), []string{"hunting", "smith1"}, 1, 10, 2},
		{"filter as the docs' table writes it", "/users?filter[gt]=number+id+gt+" + id("hunting"), []string{"smith1"}, 1, 10, 1},
		{"by full name", "/users/by_full_name.json?full_name=Marvin%20Samuel", []string{"marvin18"}, 1, 10, 1},
		{"by full name, none", "/users/by_full_name.json?full_name=marvin%20samuel", []string{}, 1, 10, 0},
		{"seed: by tags", "/users/by_tags.json?tags[]=apple", []string{"marvin18"}, 1, 10, 1},
		{"by tags, several", "/users/by_tags?tags[]=vip&tags[]=ADMIN", []string{"adminFirstUser", "hunter_s"}, 1, 10, 2},
		{"by tags, comma list", "/users/by_tags?tags=vip,admin&per_page=1", []string{"adminFirstUser"}, 1, 1, 2},
		{"by tags, paged", "/users/by_tags?tags=guest&page=2&per_page=2", []string{"smith1"}, 2, 2, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(tt.target)
			if r.Code != 200 {
				t.Fatalf("%s: %d %s", tt.target, r.Code, r.Body)
			}
			if got := objectKeys(t, r.Body); strings.Join(got, ",") != "current_page,per_page,total_entries,items" {
				t.Errorf("page keys %v", got)
			}
			got := v1Items(t, r)
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("%s: items %v, want %v", tt.target, got, tt.want)
			}
			m := r.json(t)
			if m["current_page"] != float64(tt.page) || m["per_page"] != float64(tt.perPage) || m["total_entries"] != float64(tt.total) {
				t.Errorf("%s: current_page %v per_page %v total_entries %v, want %d %d %d", tt.target, m["current_page"], m["per_page"], m["total_entries"], tt.page, tt.perPage, tt.total)
			}
		})
	}
}

func TestListUsersV1Invalid(t *testing.T) {
	e := newSearchEnv(t)
	tests := []struct{ name, target, field string }{
		{"filter without a value", "/users?filter[]=number+id+gt", "id"},
		{"filter of two words", "/users?filter[]=number+id", "filter"},
		{"unknown type", "/users?filter[]=bool+id+gt+1", "filter"},
		{"unknown field", "/users?filter[]=string+password+eq+x", "password"},
		{"custom_data", "/users?filter[]=string+custom_data+eq+x", "custom_data"},
		{"unknown operator", "/users?filter[]=string+login+like+x", "login"},
		{"V2 operator", "/users?filter[]=string+login+start_with+abcd", "login"},
		{"bad number", "/users?filter[]=number+id+gt+1%3B%20DROP%20TABLE%20users", "id"},
		{"bad date", "/users?filter[]=date+created_at+gt+2017-13-45", "created_at"},
		{"between one value", "/users?filter[]=number+id+between+5", "id"},
		{"huge in", "/users?filter[]=number+id+in+" + strings.TrimSuffix(strings.Repeat("1,", query.MaxValues+1), ","), "id"},
		{"tags compared", "/users?filter[]=string+user_tags+gt+a", "user_tags"},
		{"too many filters", "/users?" + strings.TrimSuffix(strings.Repeat("filter[]=number+id+gt+1&", query.MaxFilters+1), "&"), "filter"},
		{"bad order", "/users?order=up+string+login", "order"},
		{"order by unknown", "/users?order=asc+string+password", "order"},
		{"per_page over 100", "/users?per_page=101", "per_page"},
		{"per_page 0", "/users?per_page=0", "per_page"},
		{"page 0", "/users?page=0", "page"},
		{"page too large", "/users?page=99999999&per_page=100", "page"},
		{"external_user_id not a number", "/users?external_user_id=abc", "external_user_id"},
		{"unknown parameter", "/users?login=marvin18", "login"},
		{"by_tags without tags", "/users/by_tags", "tags"},
		{"by_tags blank", "/users/by_tags?tags=%2c%20", "tags"},
		{"by_tags per_page 0", "/users/by_tags?tags=a&per_page=0", "per_page"},
		{"by_full_name without name", "/users/by_full_name", "full_name"},
		{"by_login without login", "/users/by_login", "login"},
		{"by_login blank", "/users/by_login?login=%20", "login"},
		{"by_login object", "/users/by_login?login[x]=a", "login"},
		{"by_email with another parameter", "/users/by_email?email=a%40b.c&x=1", "x"},
		{"phone without phone", "/users/phone", "phone"},
		{"external id not a number", "/users/external/abc.json", "external_user_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(tt.target)
			if r.Code != 422 {
				t.Fatalf("%s: %d %s, want 422", tt.target, r.Code, r.Body)
			}
			if got := errorFields(t, r); !contains(got, tt.field) {
				t.Errorf("%s: error fields %v (%s), want %q", tt.target, got, r.Body, tt.field)
			}
		})
	}
}

func TestLookupUsersV1(t *testing.T) {
	e := newSearchEnv(t)
	tests := []struct{ target, want string }{
		// The seed's snippets as users.get sends them.
		{"/users/by_login.json?login=marvin18", "marvin18"},
		{"/users/by_email.json?email=marvin18%40example.com", "marvin18"},
		{"/users/phone.json?phone=44678162873", "marvin18"},
		// Other clients and lookups.
		{"/users/by_login?login=MARVIN18", "marvin18"},
		{"/users/by_email?email=Hunter%40Example.COM", "hunter_s"},
		{"/users/by_phone?phone=5464579797976", "hunting"},
		{"/users/by_facebook_id?facebook_id=100001", "marvin18"},
		{"/users/by_twitter_id?twitter_id=200001", "marvin18"},
		{"/users/external/675373912", "marvin18"},
		{"/users/external/675373912.json", "marvin18"},
	}
	for _, tt := range tests {
		r := e.get(tt.target)
		if r.Code != 200 {
			t.Errorf("%s: %d %s", tt.target, r.Code, r.Body)
			continue
		}
		if u := user(t, r); u["login"] != tt.want {
			t.Errorf("%s: login %v, want %s", tt.target, u["login"], tt.want)
		}
		if got := objectKeys(t, r.Body, "user"); strings.Join(got, ",") != strings.Join(userKeyOrder, ",") {
			t.Errorf("%s: user keys %v", tt.target, got)
		}
	}
	for _, target := range []string{
		"/users/by_login?login=nobody", "/users/by_email?email=nobody%40example.com", "/users/phone?phone=1",
		"/users/by_facebook_id?facebook_id=1", "/users/by_twitter_id?twitter_id=1", "/users/external/1",
	} {
		if r := e.get(target); r.Code != 404 || r.Body != `{"errors":["User not found"]}` {
			t.Errorf("%s: %d %s, want 404", target, r.Code, r.Body)
		}
	}
	// Lookups are scoped to the session's application.
	other, err := e.id.CreateApplication(t.Context(), "other", identity.AppSettings{})
	if err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/session", `{"application_id":`+itoa(other.ID)+`,"auth_key":`+jsonStr(other.AuthKey)+`}`)
	tok := r.json(t)["session"].(map[string]any)["token"].(string)
	if r := e.do("GET", "/users/by_login?login=marvin18", "", "CB-Token: "+tok); r.Code != 404 {
		t.Errorf("other application: %d %s", r.Code, r.Body)
	}
}

func TestUsersRetrievalSettings(t *testing.T) {
	targets := map[string]string{
		"v2":       "/users/v2?login=marvin18",
		"v1 list":  "/users?external_user_id=675373912",
		"by_tags":  "/users/by_tags?tags=apple",
		"by_name":  "/users/by_full_name?full_name=Marvin+Samuel",
		"by_login": "/users/by_login?login=marvin18",
		"phone":    "/users/phone?phone=44678162873",
		"external": "/users/external/675373912",
	}
	tests := []struct {
		name     string
		settings identity.AppSettings
		refused  []string
		setting  string
	}{
		{"defaults allow everything", identity.AppSettings{}, nil, ""},
		{"lists of users disallowed", identity.AppSettings{DisableUserList: true}, []string{"v2", "v1 list", "by_tags", "by_name"}, "disable_user_list"},
		{"V1 disabled", identity.AppSettings{DisableUsersV1: true}, []string{"v1 list", "by_tags", "by_name", "by_login", "phone", "external"}, "disable_users_v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSearchEnv(t, func(o *envOpt) { o.settings = tt.settings })
			for name, target := range targets {
				r := e.get(target)
				if !contains(tt.refused, name) {
					if r.Code != 200 {
						t.Errorf("%s: %d %s, want 200", target, r.Code, r.Body)
					}
					continue
				}
				want := fmt.Sprintf(`{"errors":{"base":["Users retrieving forbidden in admin panel, application settings. Setup it here: the settings of application %d (%s)"]}}`, e.app.ID, tt.setting)
				if r.Code != 403 || r.Body != want {
					t.Errorf("%s: %d %s, want 403 %s", target, r.Code, r.Body, want)
				}
			}
		})
	}
}

// sqlPayloads are values made of SQL, LIKE and escape syntax.
var sqlPayloads = []string{
	`'`, `''`, `"`, `\`, `\'`, `%`, `_`, `%%%%`, `____`, `;`, `--`, `/*`, `*/`, `?`, `$1`, `@p1`, `:name`,
	`' OR '1'='1`, `') OR ('1'='1`, `" OR ""="`, `1 OR 1=1`, `1; DROP TABLE identity_users; --`,
	`x' UNION SELECT password_hash FROM identity_users --`, `%' ESCAPE '\`, `ü'; --`, `[a-z]*`, `NULL`,
}

// metaValue is the stored value of every text field of the user "meta".
const metaValue = `m%_'";--\ OR 1=1`

// TestSearchSQLMetacharacters sends SQL metacharacters in every field and with every
// operator, V2 and V1, and checks that they are compared as data: never an error but 422
// for values no database can hold, matches only where the stored text matches, and nothing
// changed afterwards. It runs on SQLite and, with IDENTITY_TEST_POSTGRES_DSN, on PostgreSQL.
func TestSearchSQLMetacharacters(t *testing.T) {
	stores := map[string]func(*envOpt){"sqlite": func(*envOpt) {}}
	if dsn := os.Getenv("IDENTITY_TEST_POSTGRES_DSN"); dsn != "" {
		stores["postgres"] = func(o *envOpt) { o.store = func(identity.Store) identity.Store { return openPostgres(t, dsn) } }
	}
	for name, opt := range stores {
		t.Run(name, func(t *testing.T) {
			e := newSearchEnv(t, opt)
			meta := identity.User{ApplicationID: e.app.ID, UID: "0123456789abcdef01234567", Login: metaValue, Email: metaValue,
				FullName: metaValue, Phone: metaValue, Website: metaValue, ExternalID: metaValue, FacebookID: metaValue,
				TwitterID: metaValue, Tags: []string{metaValue}, CreatedAt: t2017, UpdatedAt: t2017}
			if err := e.store.CreateUser(t.Context(), &meta, nil); err != nil {
				t.Fatal(err)
			}
			all := e.get("/users?per_page=100")
			checkMeta := func(target string, wantMeta bool) {
				t.Helper()
				r := e.get(target)
				if r.Code != 200 {
					t.Errorf("%s: %d %s", target, r.Code, r.Body)
					return
				}
				var got []string
				if strings.HasPrefix(target, "/users/v2") {
					got = v2Items(t, r)
				} else {
					got = v1Items(t, r)
				}
				if hasMeta := contains(got, metaValue); hasMeta != wantMeta {
					t.Errorf("%s: items %v: meta found %v, want %v", target, got, hasMeta, wantMeta)
				}
			}
			q := url.QueryEscape
			fields := []string{"login", "email", "full_name", "phone", "external_id", "facebook_id", "twitter_id", "user_tags"}
			for _, f := range fields {
				// The stored value itself is found, exactly and by prefix.
				checkMeta("/users/v2?"+f+"="+q(metaValue), true)
				checkMeta("/users/v2?"+f+"[in][]="+q(metaValue)+"&"+f+"[in][]="+q(`'`), true)
				if f != "user_tags" {
					checkMeta("/users/v2?"+f+"[start_with]="+q(metaValue[:6]), true)
				}
				for _, p := range sqlPayloads {
					checkMeta("/users/v2?"+f+"="+q(p), false)
					checkMeta("/users/v2?"+f+"[in][]="+q(p)+"&"+f+"[in][]="+q(p+p), false)
					if f != "user_tags" {
						checkMeta("/users/v2?"+f+"[start_with]="+q(p+"zzzz"), false)
					}
					checkMeta(fmt.Sprintf("/users/v2?id=%d&%s[nin][]=%s", meta.ID, f, q(p)), true)
					for _, op := range []string{"eq", "ne", "gt", "lt", "ge", "le", "in"} {
						if f == "user_tags" && op != "eq" && op != "ne" && op != "in" {
							continue
						}
						target := "/users?per_page=100&filter[]=" + q("string "+f+" "+op+" "+p)
						r := e.get(target)
						if r.Code != 200 {
							t.Errorf("%s: %d %s", target, r.Code, r.Body)
						}
					}
					checkMeta("/users?filter[]="+q("string "+f+" eq "+p), false)
					if f != "user_tags" {
						checkMeta("/users?filter[]="+q("string "+f+" between "+p+","+p+"~"), false)
					}
				}
			}
			for _, p := range sqlPayloads {
				for _, target := range []string{
					"/users/v2?login=x&" + q(p) + "=1", "/users/v2?login[" + q(p) + "]=x", "/users/v2?login=x&sort_asc=" + q(p),
					"/users?filter[]=" + q("string "+p+" eq x"), "/users?filter[]=" + q("string login "+p+" x"),
					"/users?order=" + q("asc string "+p), "/users/v2?id=" + q(p), "/users/v2?login=x&created_at[gt]=" + q(p),
				} {
					if r := e.get(target); r.Code != 422 && r.Code != 400 {
						t.Errorf("%s: %d %s, want 422", target, r.Code, r.Body)
					}
				}
				for _, target := range []string{
					"/users/by_login?login=" + q(p), "/users/by_email?email=" + q(p), "/users/phone?phone=" + q(p),
					"/users/by_facebook_id?facebook_id=" + q(p), "/users/by_twitter_id?twitter_id=" + q(p),
				} {
					if r := e.get(target); r.Code != 404 {
						t.Errorf("%s: %d %s, want 404", target, r.Code, r.Body)
					}
				}
				checkMeta("/users/by_full_name?full_name="+q(p), false)
				checkMeta("/users/by_tags?tags[]="+q(p), false)
			}
			if r := e.get("/users/by_login?login=" + q(metaValue)); r.Code != 200 {
				t.Errorf("by_login of the stored value: %d %s", r.Code, r.Body)
			}
			// NUL cannot be stored anywhere: 422, not a database error.
			for _, target := range []string{"/users/v2?login=a%00", "/users/v2?login=x&full_name[nin][]=%00", "/users?filter[]=string+login+eq+a%00"} {
				if r := e.get(target); r.Code != 422 {
					t.Errorf("%s: %d %s, want 422", target, r.Code, r.Body)
				}
			}
			if after := e.get("/users?per_page=100"); after.Body != all.Body {
				t.Errorf("the users changed:\nbefore %s\nafter  %s", all.Body, after.Body)
			}
		})
	}
}

// openPostgres opens a migrated PostgreSQL store under a table prefix of its own and drops its
// tables when the test ends.
func openPostgres(t *testing.T, dsn string) identity.Store {
	t.Helper()
	prefix := fmt.Sprintf("hs%d_%d_", os.Getpid(), time.Now().UnixNano()%1e9)
	st, err := gormstore.OpenPostgres(dsn, gormstore.Config{TablePrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var tables []string
		db := st.DB()
		db.Raw("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE ?", prefix+"%").Scan(&tables)
		for _, tbl := range tables {
			if strings.HasPrefix(tbl, prefix) {
				db.Exec(`DROP TABLE IF EXISTS "` + tbl + `" CASCADE`)
			}
		}
		st.Close()
	})
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return st
}

// FuzzSearchUsersV2 sends arbitrary query strings to GET /users/v2 over a populated store:
// the answer is a V2 page or a ConnectyCube error, never a 5xx.
func FuzzSearchUsersV2(f *testing.F) {
	for _, s := range []string{
		"id[in][]=1&id[in][]=2&limit=10&offset=50", "login=adminFirstUser", "last_request_at[gt]=" + jsDate,
		"user_tags=guest&created_at[lt]=1690886495", "full_name[start_with]=hunt&id[nin][]=68647",
		"login=smith1&phone=6754987345566&user_tags[nin][]=vip&updated_at[lte]=2019-11-06T09:21:41Z",
		"phone=1&last_request_at=2020-11-09T08:21:41Z", "user_tags=a,b&sort_desc=created_at", "login[eq][]=%00",
		"id=1&id[in][]=2", "login=%27%20OR%201%3D1%20--", "a[b][c][d]=1",
	} {
		f.Add(s)
	}
	e := newSearchEnv(f)
	f.Fuzz(func(t *testing.T, query string) {
		checkFuzzAnswer(t, query, fuzzGet(e, "/users/v2?"+query), `{"limit":`)
	})
}

// FuzzListUsersV1 sends arbitrary query strings to GET /users: the answer is a V1 page or a
// ConnectyCube error, never a 5xx.
func FuzzListUsersV1(f *testing.F) {
	for _, s := range []string{
		"filter[]=number%20id%20in%2051941%2c51946&page=1&per_page=5", "external_user_id=675373912",
		"filter[]=date+created_at+between+2017-01-01,2017.12.31&order=desc+date+created_at",
		"filter[]=string+login+eq+%27%3B--", "filter[gt]=number+id+gt+1", "order=asc+string+login&page=2",
		"filter[]=string+user_tags+in+a,b,c", "filter[]=number+id+between+1",
	} {
		f.Add(s)
	}
	e := newSearchEnv(f)
	f.Fuzz(func(t *testing.T, query string) {
		checkFuzzAnswer(t, query, fuzzGet(e, "/users?"+query), `{"current_page":`)
	})
}

// fuzzGet sends a GET with the env's token (without e.t, which is the *testing.F). A target
// that is not a valid request URI is answered 400, as a server would.
func fuzzGet(e *searchEnv, target string) *resp {
	if _, err := url.ParseRequestURI(target); err != nil || strings.ContainsAny(target, " \t\r\n#") {
		return &resp{Code: 400, Body: `{"errors":["Bad request"]}`}
	}
	req := httptest.NewRequest("GET", target, nil)
	req.Header.Set("CB-Token", e.token)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return &resp{Code: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
}

func checkFuzzAnswer(t *testing.T, query string, r *resp, pagePrefix string) {
	t.Helper()
	if r.Code >= 500 {
		t.Fatalf("status %d for %q: %s", r.Code, query, r.Body)
	}
	if !strings.HasPrefix(r.Body, pagePrefix) && !strings.HasPrefix(r.Body, `{"errors":`) {
		t.Fatalf("unexpected body for %q: %s", query, r.Body)
	}
	if r.Code == 200 && !json.Valid([]byte(r.Body)) {
		t.Fatalf("invalid JSON for %q: %s", query, r.Body)
	}
}
