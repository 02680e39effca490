package identity_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/query"
)

func flt(field query.Field, op query.Op, vals ...any) query.Filter {
	return query.Filter{Field: field, Op: op, Values: vals}
}

// TestUserQueryCheck: the checks every search passes, whatever protocol asks for it.
func TestUserQueryCheck(t *testing.T) {
	date := time.Date(2019, 11, 6, 9, 21, 41, 0, time.UTC)
	tests := []struct {
		name      string
		q         identity.UserQuery
		want      string // "field code", the field "" for the query as a whole; "" = valid
		wantLimit int
	}{
		{"no filter lists every user", identity.UserQuery{}, "", query.MaxLimit},
		{"limit kept", identity.UserQuery{Limit: 7}, "", 7},
		{"every field and operator", identity.UserQuery{Filters: []query.Filter{
			flt("id", "between", int64(1), int64(9)), flt("website", "ne", "x"), flt("login", "start_with", "abcd"),
			flt("user_tags", "nin", "a", "b"), flt("created_at", "gte", date), flt("timezone", "lt", int64(60)),
		}, SortField: "created_at", SortDesc: true}, "", query.MaxLimit},
		{"unknown field", identity.UserQuery{Filters: []query.Filter{flt("password", "eq", "x")}}, "password unknown_field", 0},
		{"custom_data not searchable", identity.UserQuery{Filters: []query.Filter{flt("custom_data", "eq", "x")}}, "custom_data unknown_field", 0},
		{"unknown operator", identity.UserQuery{Filters: []query.Filter{flt("id", "like", int64(1))}}, "id unknown_operator", 0},
		{"tags gt", identity.UserQuery{Filters: []query.Filter{flt("user_tags", "gt", "a")}}, "user_tags operator_not_allowed", 0},
		{"start_with on id", identity.UserQuery{Filters: []query.Filter{flt("id", "start_with", int64(1234))}}, "id operator_not_allowed", 0},
		{"start_with 3 chars", identity.UserQuery{Filters: []query.Filter{flt("login", "start_with", "vip")}}, "login too_short", 0},
		{"between one value", identity.UserQuery{Filters: []query.Filter{flt("id", "between", int64(1))}}, "id value_count", 0},
		{"wrong value type", identity.UserQuery{Filters: []query.Filter{flt("id", "eq", "abc")}}, "id wrong_type", 0},
		{"empty in", identity.UserQuery{Filters: []query.Filter{flt("id", "in")}}, "id value_count", 0},
		{"huge in", identity.UserQuery{Filters: []query.Filter{{Field: "id", Op: "in", Values: make([]any, 101)}}}, "id too_many", 0},
		{"too many filters", identity.UserQuery{Filters: slices.Repeat([]query.Filter{flt("id", "eq", int64(1))}, 21)}, " too_many_filters", 0},
		{"limit 101", identity.UserQuery{Limit: 101}, "limit out_of_range", 0},
		{"negative offset", identity.UserQuery{Offset: -1}, "offset negative", 0},
		{"sort by tags", identity.UserQuery{SortField: "user_tags"}, "sort unknown_field", 0},
		{"overlong value", identity.UserQuery{Filters: []query.Filter{flt("login", "eq", strings.Repeat("a", 256))}}, "login wrong_type", 0},
		{"NUL in a value", identity.UserQuery{Filters: []query.Filter{flt("login", "eq", "a\x00b")}}, "login wrong_type", 0},
		{"invalid UTF-8", identity.UserQuery{Filters: []query.Filter{flt("login", "eq", "a\xffb")}}, "login wrong_type", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			err := q.Check()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if q.Limit != tt.wantLimit {
					t.Fatalf("limit = %d, want %d", q.Limit, tt.wantLimit)
				}
				return
			}
			field, code, _ := strings.Cut(tt.want, " ")
			var e *identity.Error
			if !errors.Is(err, identity.ErrInvalidInput) || !errors.As(err, &e) || e.Code(field) != code {
				t.Fatalf("err = %v, want ErrInvalidInput with %s on %q", err, code, field)
			}
		})
	}
}
