package httpadapter

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/identitykit/identity"
)

const (
	contentTypeJSON = "application/json; charset=utf-8"
	// headerExpiration carries the session's expiry (spec §1.4).
	headerExpiration = "CB-Token-ExpirationDate"
	// expirationLayout is "yyyy-MM-dd HH:mm:ss UTC".
	expirationLayout = "2006-01-02 15:04:05 UTC"
	userTimeLayout   = "2006-01-02T15:04:05Z"
	// sessionTimeLayout has milliseconds, as production has sent since 2021.
	sessionTimeLayout = "2006-01-02T15:04:05.000Z"
)

// wireUser is the ConnectyCube user object (spec §5.1): every field present, null when
// empty, in the key order observed in production (blob_id, absent there, follows
// facebook_id).
type wireUser struct {
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

// wireSession is the ConnectyCube session object (spec §4.1). user_id is null for an
// application session; nonce is present when the client sent one.
type wireSession struct {
	ID            int64     `json:"id"`
	UserID        *int64    `json:"user_id"`
	ApplicationID int64     `json:"application_id"`
	Token         string    `json:"token"`
	Nonce         any       `json:"nonce,omitempty"`
	TS            int64     `json:"ts"`
	CreatedAt     string    `json:"created_at"`
	UpdatedAt     string    `json:"updated_at"`
	User          *wireUser `json:"user,omitempty"`
}

type (
	userBody struct {
		User *wireUser `json:"user"`
	}
	sessionBody struct {
		Session *wireSession `json:"session"`
	}
)

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

// toWireUser renders u. It never includes the password hash.
func toWireUser(u *identity.User) *wireUser {
	if u == nil {
		return nil
	}
	w := &wireUser{
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

// toWireSession renders s with its user, if any.
func toWireSession(s *identity.Session) *wireSession {
	w := &wireSession{
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
	if s.UserID != 0 {
		w.User = toWireUser(s.User)
	}
	return w
}

// setExpiration sets CB-Token-ExpirationDate to the session's expiry.
func setExpiration(w http.ResponseWriter, s *identity.Session) {
	if s == nil || s.ExpiresAt.IsZero() {
		return
	}
	w.Header().Set(headerExpiration, s.ExpiresAt.UTC().Format(expirationLayout))
}

// writeJSON sends v with status. v is one of this package's wire types, whose encoding
// cannot fail.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(status)
	w.Write(b)
	return nil
}

// writeEmpty sends an empty 200, the ConnectyCube answer to deletions.
func writeEmpty(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}
