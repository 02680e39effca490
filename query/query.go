// Package query is the vocabulary of user searches: the fields a search filters and sorts
// on, the kinds of their values, the comparison operators and the limits every search
// obeys. The identity package's UserQuery is built from these; the ConnectyCube adapter
// parses its wire parameters into them, and a Store compiles them into its own query
// language. The package depends on nothing else in this module.
package query

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Field names a user attribute a search filters or sorts on. Its value is the attribute's
// name on the wire and in the database ("login", "user_tags").
type Field string

// The searchable fields.
const (
	ID             Field = "id"
	Login          Field = "login"
	Email          Field = "email"
	FullName       Field = "full_name"
	Phone          Field = "phone"
	Website        Field = "website"
	ExternalID     Field = "external_id"
	ExternalUserID Field = "external_user_id"
	FacebookID     Field = "facebook_id"
	TwitterID      Field = "twitter_id"
	BlobID         Field = "blob_id"
	Timezone       Field = "timezone"
	Tags           Field = "user_tags"
	LastRequestAt  Field = "last_request_at"
	CreatedAt      Field = "created_at"
	UpdatedAt      Field = "updated_at"
)

// Kind is the type of a Field's values.
type Kind int

// Field kinds: integers (int64 values), strings, tags (string values, matched against each
// tag case-insensitively) and times (time.Time values).
const (
	KindUnknown Kind = iota
	KindInt
	KindString
	KindTags
	KindTime
)

var kinds = map[Field]Kind{
	ID:             KindInt,
	Login:          KindString,
	Email:          KindString,
	FullName:       KindString,
	Phone:          KindString,
	ExternalID:     KindString,
	FacebookID:     KindString,
	TwitterID:      KindString,
	Tags:           KindTags,
	LastRequestAt:  KindTime,
	CreatedAt:      KindTime,
	UpdatedAt:      KindTime,
	Website:        KindString,
	ExternalUserID: KindInt,
	BlobID:         KindInt,
	Timezone:       KindInt,
}

// Kind returns the kind of f's values, KindUnknown for a field that is not searchable.
func (f Field) Kind() Kind { return kinds[f] }

// Accepts reports whether v is a value of kind k: an int64 for KindInt, a time.Time for
// KindTime, and for KindString and KindTags a string of valid UTF-8, without NUL, of at most
// MaxValueLength bytes.
func (k Kind) Accepts(v any) bool {
	switch k {
	case KindInt:
		_, ok := v.(int64)
		return ok
	case KindString, KindTags:
		s, ok := v.(string)
		return ok && utf8.ValidString(s) && len(s) <= MaxValueLength && !strings.ContainsRune(s, 0)
	case KindTime:
		_, ok := v.(time.Time)
		return ok
	}
	return false
}

// Op is the comparison of a Filter.
type Op string

// Operators. Eq, Ne, StartWith and the comparisons take one value, Between two (inclusive
// bounds), In and Nin one or more. StartWith is a prefix match of string fields; tags take
// only Eq, Ne, In and Nin.
const (
	Eq        Op = "eq"
	Ne        Op = "ne"
	In        Op = "in"
	Nin       Op = "nin"
	StartWith Op = "start_with"
	Gt        Op = "gt"
	Gte       Op = "gte"
	Lt        Op = "lt"
	Lte       Op = "lte"
	Between   Op = "between"
)

// Filter is one condition of a search: Field Op Values, with values of the field's Kind.
type Filter struct {
	Field  Field
	Op     Op
	Values []any
}

// Limits of every search.
const (
	// MaxLimit is the largest page, and the default one.
	MaxLimit = 100
	// MaxValues bounds the values of one In or Nin filter.
	MaxValues = 100
	// MaxFilters bounds the filters of one search.
	MaxFilters = 20
	// MinStartWith is the shortest StartWith argument, in characters.
	MinStartWith = 4
	// MaxValueLength bounds a string value, in bytes.
	MaxValueLength = 255
	// TotalLimit bounds counting: a search's total is exact up to TotalLimit matches (or
	// offset+limit+1, when larger) and is that bound when more users match, so that a broad
	// filter (a tag most users have) costs a bounded count, not a scan.
	TotalLimit = 1000
)
