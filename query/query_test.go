package query_test

import (
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity/query"
)

func TestKinds(t *testing.T) {
	for f, want := range map[query.Field]query.Kind{
		query.ID: query.KindInt, query.Login: query.KindString, query.Tags: query.KindTags,
		query.CreatedAt: query.KindTime, query.Timezone: query.KindInt, "password": query.KindUnknown,
		"": query.KindUnknown,
	} {
		if got := f.Kind(); got != want {
			t.Errorf("%q.Kind() = %v, want %v", f, got, want)
		}
	}
}

func TestAccepts(t *testing.T) {
	long := strings.Repeat("a", query.MaxValueLength)
	for _, c := range []struct {
		k    query.Kind
		v    any
		want bool
	}{
		{query.KindInt, int64(1), true},
		{query.KindInt, 1, false},
		{query.KindInt, "1", false},
		{query.KindString, "bob", true},
		{query.KindString, long, true},
		{query.KindString, long + "a", false},
		{query.KindString, "a\x00b", false},
		{query.KindString, "\xff", false},
		{query.KindTags, "vip", true},
		{query.KindTags, int64(1), false},
		{query.KindTime, time.Unix(0, 0), true},
		{query.KindTime, "2020-01-01", false},
		{query.KindUnknown, "x", false},
	} {
		if got := c.k.Accepts(c.v); got != c.want {
			t.Errorf("%v.Accepts(%#v) = %v, want %v", c.k, c.v, got, c.want)
		}
	}
}
