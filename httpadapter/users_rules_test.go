package httpadapter

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/query"
)

func flt(field query.Field, op query.Op, vals ...any) query.Filter {
	return query.Filter{Field: field, Op: op, Values: vals}
}

// The valid and invalid examples of the ConnectyCube V2 documentation, and more.
func TestCheckV2Rules(t *testing.T) {
	date := time.Date(2019, 11, 6, 9, 21, 41, 0, time.UTC)
	tests := []struct {
		name      string
		q         identity.UserQuery
		wantField string // "" = valid
		wantLimit int
	}{
		{"id=51946", identity.UserQuery{Filters: []query.Filter{flt("id", "eq", int64(51946))}}, "", 100},
		{"id in + last_request_at gt", identity.UserQuery{Filters: []query.Filter{flt("id", "in", int64(1), int64(2)), flt("last_request_at", "gt", date)}}, "", 100},
		{"user_tags=guest", identity.UserQuery{Filters: []query.Filter{flt("user_tags", "eq", "guest")}}, "", 100},
		{"user_tags + created_at lt", identity.UserQuery{Filters: []query.Filter{flt("user_tags", "eq", "guest"), flt("created_at", "lt", date)}}, "", 100},
		{"login+phone+nin+lte", identity.UserQuery{Filters: []query.Filter{flt("login", "eq", "smith1"), flt("phone", "eq", "6754987345566"), flt("user_tags", "nin", "vip"), flt("updated_at", "lte", date)}, Limit: 10}, "", 10},
		{"start_with forces limit 5", identity.UserQuery{Filters: []query.Filter{flt("full_name", "start_with", "hunter"), flt("id", "nin", int64(68647))}, Limit: 50}, "", 5},
		{"phone + date eq", identity.UserQuery{Filters: []query.Filter{flt("phone", "eq", "5464579797975"), flt("last_request_at", "eq", date)}}, "", 100},
		{"login nin only", identity.UserQuery{Filters: []query.Filter{flt("login", "nin", "admin19")}}, "base", 0},
		{"user_tags nin only", identity.UserQuery{Filters: []query.Filter{flt("user_tags", "nin", "guest")}}, "base", 0},
		{"date eq alone", identity.UserQuery{Filters: []query.Filter{flt("last_request_at", "eq", date)}}, "last_request_at", 0},
		{"date gt alone (the seed's example)", identity.UserQuery{Filters: []query.Filter{flt("last_request_at", "gt", date)}}, "", 100},
		{"date range alone, with an exclusion", identity.UserQuery{Filters: []query.Filter{flt("created_at", "gte", date), flt("user_tags", "nin", "vip")}}, "", 100},
		{"exclusions alone", identity.UserQuery{Filters: []query.Filter{flt("user_tags", "nin", "vip"), flt("id", "nin", int64(1))}}, "base", 0},
		{"start_with 3 chars", identity.UserQuery{Filters: []query.Filter{flt("login", "start_with", "vip")}}, "login", 0},
		{"id gt", identity.UserQuery{Filters: []query.Filter{flt("login", "eq", "a"), flt("id", "gt", int64(5))}}, "id", 0},
		{"date in", identity.UserQuery{Filters: []query.Filter{flt("login", "eq", "a"), flt("created_at", "in", date)}}, "created_at", 0},
		{"unknown field", identity.UserQuery{Filters: []query.Filter{flt("login", "eq", "a"), flt("password", "eq", "x")}}, "password", 0},
		{"custom_data not searchable", identity.UserQuery{Filters: []query.Filter{flt("custom_data", "eq", "x")}}, "custom_data", 0},
		{"unknown op", identity.UserQuery{Filters: []query.Filter{flt("login", "like", "a")}}, "login", 0},
		{"start_with on id", identity.UserQuery{Filters: []query.Filter{flt("id", "start_with", int64(1234))}}, "id", 0},
		{"wrong value type", identity.UserQuery{Filters: []query.Filter{flt("id", "eq", "abc")}}, "id", 0},
		{"empty in", identity.UserQuery{Filters: []query.Filter{flt("id", "in")}}, "id", 0},
		{"huge in", identity.UserQuery{Filters: []query.Filter{{Field: "id", Op: "in", Values: make([]any, 101)}}}, "id", 0},
		{"limit 101", identity.UserQuery{Filters: []query.Filter{flt("id", "eq", int64(1))}, Limit: 101}, "limit", 0},
		{"negative offset", identity.UserQuery{Filters: []query.Filter{flt("id", "eq", int64(1))}, Offset: -1}, "offset", 0},
		{"sort by tags", identity.UserQuery{Filters: []query.Filter{flt("id", "eq", int64(1))}, SortField: "user_tags"}, "sort", 0},
		{"sort by created_at", identity.UserQuery{Filters: []query.Filter{flt("id", "eq", int64(1))}, SortField: "created_at", SortDesc: true}, "", 100},
		{"overlong value", identity.UserQuery{Filters: []query.Filter{flt("login", "eq", strings.Repeat("a", 256))}}, "login", 0},
		{"blank eq", identity.UserQuery{Filters: []query.Filter{flt("phone", "eq", " ")}}, "phone", 0},
		{"blank in value", identity.UserQuery{Filters: []query.Filter{flt("user_tags", "in", "a", "")}}, "user_tags", 0},
		{"blank nin is fine", identity.UserQuery{Filters: []query.Filter{flt("login", "eq", "a"), flt("full_name", "nin", "")}}, "", 100},
		{"NUL in a value", identity.UserQuery{Filters: []query.Filter{flt("login", "eq", "a\x00b")}}, "login", 0},
		{"invalid UTF-8", identity.UserQuery{Filters: []query.Filter{flt("login", "eq", "a\xffb")}}, "login", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			err := checkV2(&q)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("checkV2: %v", err)
				}
				if q.Limit != tt.wantLimit {
					t.Fatalf("limit = %d, want %d", q.Limit, tt.wantLimit)
				}
				return
			}
			if !errors.Is(err, identity.ErrInvalidInput) {
				t.Fatalf("err = %v, want ErrInvalidInput", err)
			}
			if msgs, _ := messages(err); msgs[tt.wantField] == nil {
				t.Fatalf("err = %v, want a message on %q", err, tt.wantField)
			}
		})
	}
}

func TestCheckV1Rules(t *testing.T) {
	tests := []struct {
		name  string
		q     identity.UserQuery
		valid bool
	}{
		{"empty query lists all", identity.UserQuery{}, true},
		{"between", identity.UserQuery{Filters: []query.Filter{flt("id", "between", int64(1), int64(9))}}, true},
		{"between one value", identity.UserQuery{Filters: []query.Filter{flt("id", "between", int64(1))}}, false},
		{"website ne", identity.UserQuery{Filters: []query.Filter{flt("website", "ne", "x")}}, true},
		{"custom_data", identity.UserQuery{Filters: []query.Filter{flt("custom_data", "eq", "x")}}, false},
		{"per_page 101", identity.UserQuery{Limit: 101}, false},
		{"tags in", identity.UserQuery{Filters: []query.Filter{flt("user_tags", "in", "a", "b")}}, true},
		{"tags gt", identity.UserQuery{Filters: []query.Filter{flt("user_tags", "gt", "a")}}, false},
		{"blank eq is fine in V1", identity.UserQuery{Filters: []query.Filter{flt("full_name", "eq", "")}}, true},
		{"sort by tags", identity.UserQuery{SortField: "user_tags"}, false},
		{"unknown operator", identity.UserQuery{Filters: []query.Filter{flt("id", "like", int64(1))}}, false},
	}
	for _, tt := range tests {
		q := tt.q
		if err := checkV1(&q); (err == nil) != tt.valid {
			t.Errorf("%s: err = %v", tt.name, err)
		}
		if tt.valid && tt.q.Limit == 0 && q.Limit != 10 {
			t.Errorf("%s: default per_page %d, want 10", tt.name, q.Limit)
		}
	}
}
