package httpadapter

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/query"
)

func TestParseTime(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	tests := []struct {
		in   string
		want time.Time // zero: invalid
	}{
		// What the JavaScript SDK sends for new Date(2017, 10, 10): String(date).
		{"Fri Nov 10 2017 00:00:00 GMT+0000 (Coordinated Universal Time)", utc(2017, 11, 10, 0, 0, 0, 0)},
		{"Fri Nov 10 2017 00:00:00 GMT+0100 (Central European Standard Time)", utc(2017, 11, 9, 23, 0, 0, 0)},
		{"Thu Nov 09 2017 19:00:00 GMT-0500 (Eastern Standard Time)", utc(2017, 11, 10, 0, 0, 0, 0)},
		{"Fri Nov 10 2017 00:00:00 GMT+0000", utc(2017, 11, 10, 0, 0, 0, 0)},
		{"Fri, 10 Nov 2017 00:00:00 GMT", utc(2017, 11, 10, 0, 0, 0, 0)},
		{"2018-12-06T09:21:41Z", utc(2018, 12, 6, 9, 21, 41, 0)},
		{"2018-12-06T09:21:41.123Z", utc(2018, 12, 6, 9, 21, 41, 123e6)},
		{"2018-12-06T11:21:41+02:00", utc(2018, 12, 6, 9, 21, 41, 0)},
		{"2018-12-06T11:21:41+0200", utc(2018, 12, 6, 9, 21, 41, 0)},
		{"2018-12-06T09:21:41", utc(2018, 12, 6, 9, 21, 41, 0)},
		{"2018-12-06 09:21:41", utc(2018, 12, 6, 9, 21, 41, 0)},
		{"2018-12-06 09:21:41+00:00", utc(2018, 12, 6, 9, 21, 41, 0)},
		{"2018-12-06T09:21", utc(2018, 12, 6, 9, 21, 0, 0)},
		{"2018-12-06", utc(2018, 12, 6, 0, 0, 0, 0)},
		{"2018.12.06", utc(2018, 12, 6, 0, 0, 0, 0)},
		{" 1690886495 ", utc(2023, 8, 1, 10, 41, 35, 0)},
		{"0", utc(1970, 1, 1, 0, 0, 0, 0)},
		{"-86400", utc(1969, 12, 31, 0, 0, 0, 0)},
		{"", time.Time{}},
		{"Invalid Date", time.Time{}},
		{"yesterday", time.Time{}},
		{"2018-13-06", time.Time{}},
		{"2018-12-06T25:00:00Z", time.Time{}},
		{"99999999999999", time.Time{}},
		{"1e9", time.Time{}},
		{"1690886495.5", time.Time{}},
		{"Fri Nov 10 2017 00:00:00 GMT+0000 (x) (y)", time.Time{}},
		{"Fri Nov 10 +275760 00:00:00 GMT+0000", time.Time{}},
		{"2018-12-06'; DROP TABLE users; --", time.Time{}},
	}
	for _, tt := range tests {
		got, ok := parseTime(tt.in)
		if ok != !tt.want.IsZero() || (ok && !got.Equal(tt.want)) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", tt.in, got, ok, tt.want)
		}
	}
}

func TestParseV1Filter(t *testing.T) {
	tests := []struct {
		in    string
		field query.Field
		op    query.Op
		vals  []any
	}{
		{"number id gt 51946", "id", query.Gt, []any{int64(51946)}},
		{"number id in 51941,51946", "id", query.In, []any{int64(51941), int64(51946)}},
		{"number id in 51941, 51946", "id", query.In, []any{int64(51941), int64(51946)}},
		{"integer facebook_id eq 12", "facebook_id", query.Eq, []any{"12"}},
		{"string full_name eq Marvin Samuel", "full_name", query.Eq, []any{"Marvin Samuel"}},
		{"  string  login   ne   x  ", "login", query.Ne, []any{"x"}},
		{"string login between a,m", "login", query.Between, []any{"a", "m"}},
		{"date created_at ge 2017-11-10", "created_at", query.Gte, []any{time.Date(2017, 11, 10, 0, 0, 0, 0, time.UTC)}},
		{"date created_at le 2017.11.10", "created_at", query.Lte, []any{time.Date(2017, 11, 10, 0, 0, 0, 0, time.UTC)}},
		{"date last_request_at lt Fri Nov 10 2017 00:00:00 GMT+0000 (Coordinated Universal Time)", "last_request_at", query.Lt, []any{time.Date(2017, 11, 10, 0, 0, 0, 0, time.UTC)}},
		{"string user_tags in a,b", "user_tags", query.In, []any{"a", "b"}},
		{"string full_name eq", "full_name", query.Eq, []any{""}},
	}
	for _, tt := range tests {
		f := fieldErrs{}
		got, ok := parseV1Filter(f, tt.in)
		if !ok || len(f) > 0 {
			t.Errorf("parseV1Filter(%q): %v", tt.in, f)
			continue
		}
		if got.Field != tt.field || got.Op != tt.op || len(got.Values) != len(tt.vals) {
			t.Errorf("parseV1Filter(%q) = %+v", tt.in, got)
			continue
		}
		for i := range got.Values {
			if gt, ok := got.Values[i].(time.Time); ok {
				if !gt.Equal(tt.vals[i].(time.Time)) {
					t.Errorf("parseV1Filter(%q) value %d = %v", tt.in, i, gt)
				}
			} else if got.Values[i] != tt.vals[i] {
				t.Errorf("parseV1Filter(%q) value %d = %#v, want %#v", tt.in, i, got.Values[i], tt.vals[i])
			}
		}
	}
	for _, bad := range []string{"", "number", "number id", "bool id eq 1", "number nope eq 1", "number id like 1",
		"number id eq x", "date created_at gt tomorrow", "number id ge 1;2"} {
		f := fieldErrs{}
		if _, ok := parseV1Filter(f, bad); ok || len(f) == 0 {
			t.Errorf("parseV1Filter(%q) accepted", bad)
		}
	}
}

// parseQuery decodes a raw query string as the adapter does.
func parseQuery(q string) (params, error) {
	p := params{}
	err := (&decoder{}).parseForm(p, q)
	return p, err
}

// checkParsed checks what a parser returned: an error is a 422-rendered *identity.Error; a
// query names only known fields with known operators and values of the field's kind, which
// the root's checks then judge without panicking.
func checkParsed(t *testing.T, in string, q identity.UserQuery, err error, v2 bool) {
	t.Helper()
	if err != nil {
		msgs, ok := messages(err)
		if !ok || !errors.Is(err, identity.ErrInvalidInput) {
			t.Fatalf("%q: error %v is not a field error", in, err)
		}
		if status, _, _ := renderError(err); status != http.StatusUnprocessableEntity {
			t.Fatalf("%q: error rendered as %d", in, status)
		}
		for k := range msgs {
			if len(k) > 80 {
				t.Fatalf("%q: overlong error key %q", in, k)
			}
		}
		return
	}
	for _, fl := range q.Filters {
		kind := fl.Field.Kind()
		if kind == query.KindUnknown {
			t.Fatalf("%q: unknown field %q accepted", in, fl.Field)
		}
		if len(fl.Values) == 0 || len(fl.Values) > query.MaxValues {
			t.Fatalf("%q: %d values", in, len(fl.Values))
		}
		for _, v := range fl.Values {
			switch v.(type) {
			case int64:
				if kind != query.KindInt {
					t.Fatalf("%q: int64 for %s", in, fl.Field)
				}
			case string:
				if kind != query.KindString && kind != query.KindTags {
					t.Fatalf("%q: string for %s", in, fl.Field)
				}
			case time.Time:
				if kind != query.KindTime {
					t.Fatalf("%q: time for %s", in, fl.Field)
				}
			default:
				t.Fatalf("%q: value %#v", in, v)
			}
		}
	}
	if q.Limit < 0 || q.Limit > query.MaxLimit || q.Offset < 0 || q.Offset > maxOffset {
		t.Fatalf("%q: limit %d offset %d", in, q.Limit, q.Offset)
	}
	var cerr error
	if v2 {
		cerr = checkV2(&q)
	} else {
		cerr = checkV1(&q)
	}
	if cerr != nil && !errors.Is(cerr, identity.ErrInvalidInput) {
		t.Fatalf("%q: check error %v", in, cerr)
	}
}

// FuzzParseV2 parses arbitrary query strings as GET /users/v2 reads them.
func FuzzParseV2(f *testing.F) {
	for _, s := range []string{
		"id[in][]=51941&id[in][]=51946&limit=10&offset=50", "login=adminFirstUser",
		"last_request_at[gt]=Fri%20Nov%2010%202017%2000%3a00%3a00%20GMT%2b0000%20(Coordinated%20Universal%20Time)",
		"user_tags=guest&created_at[lt]=1690886495", "full_name[start_with]=hunter&id[nin][]=68647",
		"login=smith1&phone=6754987345566&user_tags[nin][]=vip&updated_at[lte]=2019-11-06T09:21:41Z",
		"id[in]=1,2,x", "user_tags=a,b&sort_desc=created_at&sort_asc=id", "login[eq][x]=1", "id[]=1&id[]=2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := parseQuery(raw)
		if err != nil {
			return // 400, the decoder's own fuzz target covers it
		}
		q, err := parseV2(p)
		checkParsed(t, raw, q, err, true)
	})
}

// FuzzParseV1 parses arbitrary query strings as GET /users reads them, and arbitrary
// filter[] strings.
func FuzzParseV1(f *testing.F) {
	for _, s := range []string{
		"filter[]=number%20id%20in%2051941%2c51946&page=1&per_page=5", "external_user_id=675373912",
		"filter[]=date+created_at+between+2017-01-01,2017.12.31&order=desc+date+created_at",
		"filter[gt]=number+id+gt+1&filter[lt]=number+id+lt+9", "order=asc+integer+id+x", "page=0&per_page=101",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if p, err := parseQuery(raw); err == nil {
			q, _, err := parseV1List(p)
			checkParsed(t, raw, q, err, false)
		}
		fe := fieldErrs{}
		fl, ok := parseV1Filter(fe, raw)
		if ok != (len(fe) == 0) {
			t.Fatalf("%q: ok %v with errors %v", raw, ok, fe)
		}
		if ok {
			checkParsed(t, raw, identity.UserQuery{Filters: []query.Filter{fl}}, nil, false)
		}
		if tm, ok := parseTime(raw); ok && (tm.Year() < 0 || tm.Year() > 10000) {
			t.Fatalf("parseTime(%q) = %v", raw, tm)
		}
	})
}
