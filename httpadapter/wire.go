package httpadapter

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/identitykit/identity"
)

const (
	contentTypeJSON = "application/json; charset=utf-8"
	// headerExpiration carries the session's expiry ("2006-01-02 15:04:05 UTC"); the Flutter SDK
	// treats a response without it as an expired session.
	headerExpiration = "CB-Token-ExpirationDate"
)

// The JSON of users and sessions is written by hand, without reflection: GET /session is
// the hot path of every client. wire_test.go checks the output byte for byte against
// encoding/json on the equivalent structs.

// appendUserJSON appends the ConnectyCube user object: every field present, null
// when empty, in the key order observed in production (blob_id, absent there, follows
// facebook_id); times in seconds; user_tags comma-joined; is_guest true or null. The password
// hash is never written.
func appendUserJSON(b []byte, u *identity.User) []byte {
	b = append(b, `{"_id":`...)
	b = appendStringOrNull(b, u.UID)
	b = append(b, `,"id":`...)
	b = strconv.AppendInt(b, u.ID, 10)
	b = append(b, `,"created_at":`...)
	b = appendTimeOrNull(b, u.CreatedAt, false)
	b = append(b, `,"updated_at":`...)
	b = appendTimeOrNull(b, u.UpdatedAt, false)
	b = append(b, `,"last_request_at":`...)
	b = appendTimeOrNull(b, u.LastRequestAt, false)
	b = append(b, `,"login":`...)
	b = appendStringOrNull(b, u.Login)
	b = append(b, `,"email":`...)
	b = appendStringOrNull(b, u.Email)
	b = append(b, `,"full_name":`...)
	b = appendStringOrNull(b, u.FullName)
	b = append(b, `,"phone":`...)
	b = appendStringOrNull(b, u.Phone)
	b = append(b, `,"custom_data":`...)
	b = appendStringOrNull(b, u.CustomData)
	b = append(b, `,"avatar":`...)
	b = appendStringOrNull(b, u.Avatar)
	b = append(b, `,"external_id":`...)
	b = appendStringOrNull(b, u.ExternalID)
	b = append(b, `,"timezone":`...)
	if u.Timezone != nil {
		b = strconv.AppendInt(b, int64(*u.Timezone), 10)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"website":`...)
	b = appendStringOrNull(b, u.Website)
	b = append(b, `,"twitter_id":`...)
	b = appendStringOrNull(b, u.TwitterID)
	b = append(b, `,"external_user_id":`...)
	b = appendIntOrNull(b, u.ExternalUserID)
	b = append(b, `,"facebook_id":`...)
	b = appendStringOrNull(b, u.FacebookID)
	b = append(b, `,"blob_id":`...)
	b = appendIntOrNull(b, u.BlobID)
	b = append(b, `,"user_tags":`...)
	if tagsEmpty(u.Tags) {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		for i, t := range u.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendStringContent(b, t)
		}
		b = append(b, '"')
	}
	b = append(b, `,"is_guest":`...)
	if u.IsGuest {
		b = append(b, "true"...)
	} else {
		b = append(b, "null"...)
	}
	return append(b, '}')
}

// appendSessionJSON appends the ConnectyCube session object (POST /session): user_id null and no
// user for an application session; nonce present when the client sent one (a number when it
// is one); times with milliseconds.
func appendSessionJSON(b []byte, s *identity.Session) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, s.ID, 10)
	b = append(b, `,"user_id":`...)
	b = appendIntOrNull(b, s.UserID)
	b = append(b, `,"application_id":`...)
	b = strconv.AppendInt(b, s.ApplicationID, 10)
	b = append(b, `,"token":`...)
	b = appendString(b, s.Token)
	if s.Nonce != "" {
		b = append(b, `,"nonce":`...)
		if n, err := strconv.ParseInt(s.Nonce, 10, 64); err == nil && strconv.FormatInt(n, 10) == s.Nonce {
			b = append(b, s.Nonce...)
		} else {
			b = appendString(b, s.Nonce)
		}
	}
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, s.Timestamp, 10)
	b = append(b, `,"created_at":`...)
	b = appendTimeOrNull(b, s.CreatedAt, true)
	b = append(b, `,"updated_at":`...)
	b = appendTimeOrNull(b, s.UpdatedAt, true)
	if s.UserID != 0 && s.User != nil {
		b = append(b, `,"user":`...)
		b = appendUserJSON(b, s.User)
	}
	return append(b, '}')
}

// tagsEmpty reports whether the comma-joined tags are "".
func tagsEmpty(tags []string) bool {
	return len(tags) == 0 || len(tags) == 1 && tags[0] == ""
}

func appendIntOrNull(b []byte, n int64) []byte {
	if n == 0 {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, n, 10)
}

func appendStringOrNull(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendStringContent(b, s)
	return append(b, '"')
}

// appendStringContent appends s escaped exactly as encoding/json escapes it (HTML-safe),
// without the quotes.
func appendStringContent(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // rare: let encoding/json escape it
			return append(b, q[1:len(q)-1]...)
		}
	}
	return append(b, s...)
}

// appendTimeOrNull appends t in UTC as "2006-01-02T15:04:05Z", or with milliseconds
// ("2006-01-02T15:04:05.000Z"), or null for the zero time.
func appendTimeOrNull(b []byte, t time.Time, millis bool) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = appendDateTime(b, t, 'T')
	if millis {
		ms := t.Nanosecond() / 1e6
		b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	}
	return append(b, 'Z', '"')
}

// appendDateTime appends "yyyy-MM-dd<sep>HH:mm:ss" of t in UTC.
func appendDateTime(b []byte, t time.Time, sep byte) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, "2006-01-02"+string(sep)+"15:04:05")
	}
	h, mi, s := t.Clock()
	return append(b,
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-', byte('0'+d/10), byte('0'+d%10), sep,
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+s/10), byte('0'+s%10))
}

// setExpiration sets CB-Token-ExpirationDate to the session's expiry, as
// "yyyy-MM-dd HH:mm:ss UTC".
func setExpiration(w http.ResponseWriter, s *identity.Session) {
	if s == nil || s.ExpiresAt.IsZero() {
		return
	}
	sec := s.ExpiresAt.Unix()
	if c := lastExpiration.Load(); c != nil && c.sec == sec {
		w.Header()[canonicalExpiration] = c.value
		return
	}
	var buf [32]byte
	v := append(appendDateTime(buf[:0], s.ExpiresAt, ' '), " UTC"...)
	c := &expirationValue{sec: sec, value: []string{string(v)}}
	lastExpiration.Store(c)
	w.Header()[canonicalExpiration] = c.value
}

// expirationValue caches the last formatted expiry: under load many responses in a row
// carry the same second.
type expirationValue struct {
	sec   int64
	value []string
}

var lastExpiration atomic.Pointer[expirationValue]

// canonicalExpiration is headerExpiration in the canonical form net/http keys headers by.
var canonicalExpiration = http.CanonicalHeaderKey(headerExpiration)

// wireUser is a user for encoding/json: it marshals through appendUserJSON. Use it inside
// larger response structs (lists); single users are written with writeUser.
type wireUser struct{ u *identity.User }

// toWireUser wraps u; nil stays nil (null).
func toWireUser(u *identity.User) *wireUser {
	if u == nil {
		return nil
	}
	return &wireUser{u}
}

// MarshalJSON returns the ConnectyCube user object.
func (w *wireUser) MarshalJSON() ([]byte, error) { return appendUserJSON(nil, w.u), nil }

// userBody is {"user":{...}}, the wrapper of single users and of V1 list items.
type userBody struct {
	User *wireUser `json:"user"`
}

// writeJSON sends v, encoded by encoding/json, with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	writeBody(w, status, b)
	return nil
}

// bufPool recycles response buffers; a buffer is reused once Write has copied it.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func writeUser(w http.ResponseWriter, status int, u *identity.User) error {
	bp := bufPool.Get().(*[]byte)
	b := append((*bp)[:0], `{"user":`...)
	b = appendUserJSON(b, u)
	writeBody(w, status, append(b, '}'))
	putBuf(bp, b)
	return nil
}

func writeSession(w http.ResponseWriter, status int, s *identity.Session) error {
	bp := bufPool.Get().(*[]byte)
	b := append((*bp)[:0], `{"session":`...)
	b = appendSessionJSON(b, s)
	writeBody(w, status, append(b, '}'))
	putBuf(bp, b)
	return nil
}

func putBuf(bp *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*bp = b
		bufPool.Put(bp)
	}
}

// writeBody sends a JSON body with status. (net/http sets Content-Length itself for bodies
// this small.)
func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header()["Content-Type"] = contentTypeJSONValue
	w.WriteHeader(status)
	w.Write(body)
}

var contentTypeJSONValue = []string{contentTypeJSON}

// writeEmpty sends an empty 200, the ConnectyCube answer to deletions.
func writeEmpty(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}
