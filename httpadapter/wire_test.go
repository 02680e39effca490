package httpadapter

import (
	"encoding/json"
	"math/rand"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
)

// The structs below are the reference encoding of users and sessions with encoding/json;
// the hand-written appenders of wire.go must produce the same bytes.

const (
	userTimeLayout    = "2006-01-02T15:04:05Z"
	sessionTimeLayout = "2006-01-02T15:04:05.000Z"
)

// refUser is the ConnectyCube user object: every field present, null when
// empty, in the key order observed in production (blob_id, absent there, follows
// facebook_id).
type refUser struct {
	UID            *string `json:"_id"`
	ID             int64   `json:"id"`
	CreatedAt      *string `json:"created_at"`
	UpdatedAt      *string `json:"updated_at"`
	LastRequestAt  *string `json:"last_request_at"`
	Login          *string `json:"login"`
	Email          *string `json:"email"`
	FullName       *string `json:"full_name"`
	Phone          *string `json:"phone"`
	CustomData     *string `json:"custom_data"`
	Avatar         *string `json:"avatar"`
	ExternalID     *string `json:"external_id"`
	Timezone       *int    `json:"timezone"`
	Website        *string `json:"website"`
	TwitterID      *string `json:"twitter_id"`
	ExternalUserID *int64  `json:"external_user_id"`
	FacebookID     *string `json:"facebook_id"`
	BlobID         *int64  `json:"blob_id"`
	UserTags       *string `json:"user_tags"`
	IsGuest        *bool   `json:"is_guest"`
}

// refSession is the ConnectyCube session object (POST /session). user_id is null for an
// application session; nonce is present when the client sent one.
type refSession struct {
	ID            int64    `json:"id"`
	UserID        *int64   `json:"user_id"`
	ApplicationID int64    `json:"application_id"`
	Token         string   `json:"token"`
	Nonce         any      `json:"nonce,omitempty"`
	TS            int64    `json:"ts"`
	CreatedAt     string   `json:"created_at"`
	UpdatedAt     string   `json:"updated_at"`
	User          *refUser `json:"user,omitempty"`
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func int64OrNil(n int64) *int64 {
	if n == 0 {
		return nil
	}
	return &n
}

func timeOrNil(t time.Time, layout string) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(layout)
	return &s
}

// toRefUser renders u. It never includes the password hash.
func toRefUser(u *identity.User) *refUser {
	if u == nil {
		return nil
	}
	w := &refUser{
		UID:            strOrNil(u.UID),
		ID:             u.ID,
		CreatedAt:      timeOrNil(u.CreatedAt, userTimeLayout),
		UpdatedAt:      timeOrNil(u.UpdatedAt, userTimeLayout),
		LastRequestAt:  timeOrNil(u.LastRequestAt, userTimeLayout),
		Login:          strOrNil(u.Login),
		Email:          strOrNil(u.Email),
		FullName:       strOrNil(u.FullName),
		Phone:          strOrNil(u.Phone),
		CustomData:     strOrNil(u.CustomData),
		Avatar:         strOrNil(u.Avatar),
		ExternalID:     strOrNil(u.ExternalID),
		Website:        strOrNil(u.Website),
		TwitterID:      strOrNil(u.TwitterID),
		ExternalUserID: int64OrNil(u.ExternalUserID),
		FacebookID:     strOrNil(u.FacebookID),
		BlobID:         int64OrNil(u.BlobID),
		UserTags:       strOrNil(strings.Join(u.Tags, ",")),
	}
	if u.Timezone != nil {
		tz := *u.Timezone
		w.Timezone = &tz
	}
	if u.IsGuest {
		t := true
		w.IsGuest = &t
	}
	return w
}

// toRefSession renders s with its user, if any.
func toRefSession(s *identity.Session) *refSession {
	w := &refSession{
		ID:            s.ID,
		UserID:        int64OrNil(s.UserID),
		ApplicationID: s.ApplicationID,
		Token:         s.Token,
		TS:            s.Timestamp,
		CreatedAt:     s.CreatedAt.UTC().Format(sessionTimeLayout),
		UpdatedAt:     s.UpdatedAt.UTC().Format(sessionTimeLayout),
	}
	if s.Nonce != "" {
		// A numeric nonce is echoed as a number, as production does; anything else as a string.
		if n, err := strconv.ParseInt(s.Nonce, 10, 64); err == nil && strconv.FormatInt(n, 10) == s.Nonce {
			w.Nonce = n
		} else {
			w.Nonce = s.Nonce
		}
	}
	if s.UserID != 0 && s.User != nil {
		w.User = toRefUser(s.User)
	}
	return w
}

var oddStrings = []string{"", "plain", "with space", `quote"back\\slash`, "<script>&amp;", "tab\tnew\nline\r\b\f\x00\x1f",
	"ünïcødé ✓", "\u2028\u2029", "bad\xffutf8\xc3", "emoji 😀", "guest_login_ABCDEF"}

func randomUser(r *rand.Rand) *identity.User {
	pick := func() string { return oddStrings[r.Intn(len(oddStrings))] }
	tm := func() time.Time {
		if r.Intn(4) == 0 {
			return time.Time{}
		}
		return time.Unix(r.Int63n(4e9), r.Int63n(1e9)).In(time.FixedZone("X", 3600*(r.Intn(25)-12)))
	}
	u := &identity.User{
		ID: r.Int63n(1e12), UID: pick(), Login: pick(), Email: pick(), FullName: pick(), Phone: pick(), Website: pick(),
		ExternalID: pick(), ExternalUserID: r.Int63n(3) * r.Int63(), FacebookID: pick(), TwitterID: pick(), CustomData: pick(),
		Avatar: pick(), BlobID: r.Int63n(2) * r.Int63n(1e6), IsGuest: r.Intn(2) == 0,
		CreatedAt: tm(), UpdatedAt: tm(), LastRequestAt: tm(), PasswordHash: "$argon2id$secret",
	}
	if r.Intn(2) == 0 {
		tz := r.Intn(1681) - 840
		u.Timezone = &tz
	}
	for i := r.Intn(4); i > 0; i-- {
		u.Tags = append(u.Tags, pick())
	}
	return u
}

func TestAppendUserMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		u := randomUser(r)
		want, err := json.Marshal(toRefUser(u))
		if err != nil {
			t.Fatal(err)
		}
		if got := appendUserJSON(nil, u); string(got) != string(want) {
			t.Fatalf("user %+v\ngot  %s\nwant %s", u, got, want)
		}
		// The encoding/json path (wireUser's MarshalJSON) writes the same bytes.
		if got, err := json.Marshal(userBody{User: toWireUser(u)}); err != nil || string(got) != `{"user":`+string(want)+`}` {
			t.Fatalf("userBody: %s, %v", got, err)
		}
		if strings.Contains(string(want), "argon2id") {
			t.Fatal("password hash written")
		}
	}
}

func TestAppendSessionMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	nonces := []string{"", "111", "2813375062", "-5", "007", "abc", "1e3", "9223372036854775808", "<x>"}
	for i := 0; i < 2000; i++ {
		s := &identity.Session{
			ID: r.Int63n(1e9), ApplicationID: r.Int63n(1e4) + 1, Token: strconv.FormatInt(r.Int63(), 16),
			Nonce: nonces[r.Intn(len(nonces))], Timestamp: r.Int63n(2e9),
			CreatedAt: time.Unix(r.Int63n(4e9), r.Int63n(1e9)), UpdatedAt: time.Unix(r.Int63n(4e9), r.Int63n(1e9)),
		}
		if r.Intn(2) == 0 {
			s.User = randomUser(r)
			s.UserID = s.User.ID
		}
		want, err := json.Marshal(toRefSession(s))
		if err != nil {
			t.Fatal(err)
		}
		if got := appendSessionJSON(nil, s); string(got) != string(want) {
			t.Fatalf("session %+v\ngot  %s\nwant %s", s, got, want)
		}
	}
}

func TestExpirationHeader(t *testing.T) {
	w := httptest.NewRecorder()
	setExpiration(w, &identity.Session{ExpiresAt: time.Date(2021, 6, 4, 14, 10, 53, 908e6, time.FixedZone("CEST", 7200))})
	if got := w.Header().Get("CB-Token-ExpirationDate"); got != "2021-06-04 12:10:53 UTC" {
		t.Fatalf("header %q", got)
	}
}
