package gormstore

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/identitykit/identity"
)

// The row types below are the schema. Column names are spelled out in the tags so that raw
// SQL (indexes in migrate.go, searches added later) can rely on them. Every time is stored in
// UTC, truncated to microseconds (the precision of PostgreSQL's timestamptz), so that both
// databases compare and return the same values.
//
// Conventions:
//   - Optional text of a user is stored as "" when unset, except login and email, which are
//     NULL when unset so that the unique indexes on them ignore users without one.
//   - login_key and email_key hold identity.NormalizeLogin(login) and
//     identity.NormalizeEmail(email); login_skeleton holds loginSkeleton(login_key), unique
//     per application, so that confusable logins conflict (skeleton.go). Case-insensitive uniqueness and lookups use these
//     columns rather than SQL lower(): SQLite's lower() folds ASCII only and PostgreSQL's
//     depends on the database collation, whereas a key computed in Go folds the same way on
//     every database and is indexed with a plain B-tree index.
//   - Tags are stored twice: users.tags keeps the user's list in order as a JSON array (read
//     with the user, no join), and user_tags holds one row per tag with its lower-cased
//     tag_key, indexed by (application_id, tag_key, user_id), so that "users having any of
//     these tags" is an index lookup: SELECT DISTINCT user_id FROM user_tags WHERE
//     application_id = ? AND tag_key IN (...). Both are written in the same transaction.

// applicationRow is a row of <prefix>applications.
type applicationRow struct {
	ID         int64     `gorm:"column:id;primaryKey;autoIncrement"`
	Name       string    `gorm:"column:name;not null"`
	AuthKey    string    `gorm:"column:auth_key;not null"`
	AuthSecret string    `gorm:"column:auth_secret;not null"`
	Settings   string    `gorm:"column:settings;not null"` // JSON of identity.AppSettings
	CreatedAt  time.Time `gorm:"column:created_at;not null;autoCreateTime:false"`
	UpdatedAt  time.Time `gorm:"column:updated_at;not null;autoUpdateTime:false"`
}

// userRow is a row of <prefix>users.
type userRow struct {
	ID             int64      `gorm:"column:id;primaryKey;autoIncrement"`
	ApplicationID  int64      `gorm:"column:application_id;not null"`
	UID            *string    `gorm:"column:uid"` // NULL when empty
	Login          *string    `gorm:"column:login"`
	LoginKey       *string    `gorm:"column:login_key"`
	LoginSkeleton  *string    `gorm:"column:login_skeleton"`
	Email          *string    `gorm:"column:email"`
	EmailKey       *string    `gorm:"column:email_key"`
	FullName       string     `gorm:"column:full_name;not null"`
	Phone          string     `gorm:"column:phone;not null"`
	Website        string     `gorm:"column:website;not null"`
	ExternalID     string     `gorm:"column:external_id;not null"`
	ExternalUserID *int64     `gorm:"column:external_user_id"`
	FacebookID     string     `gorm:"column:facebook_id;not null"`
	TwitterID      string     `gorm:"column:twitter_id;not null"`
	CustomData     string     `gorm:"column:custom_data;not null"`
	Avatar         string     `gorm:"column:avatar;not null"`
	BlobID         int64      `gorm:"column:blob_id;not null"`
	Timezone       *int       `gorm:"column:timezone"`
	Tags           string     `gorm:"column:tags;not null"` // JSON array, "" when none
	IsGuest        bool       `gorm:"column:is_guest;not null"`
	Blocked        bool       `gorm:"column:blocked;not null;default:false"`
	PasswordHash   string     `gorm:"column:password_hash;not null"`
	GuestExpiresAt *time.Time `gorm:"column:guest_expires_at"`
	CreatedAt      time.Time  `gorm:"column:created_at;not null;autoCreateTime:false"`
	UpdatedAt      time.Time  `gorm:"column:updated_at;not null;autoUpdateTime:false"`
	LastRequestAt  *time.Time `gorm:"column:last_request_at"`
	// KeyVersion is keyVersion for rows whose keys follow the current normalization; Migrate
	// recomputes the keys of older rows.
	KeyVersion int `gorm:"column:key_version;not null;default:0"`
}

// keyVersion numbers the normalization of login_key, email_key and login_skeleton: 0 for
// rows written before NFKC normalization and login_skeleton existed, 1 since. Raising it
// needs a new partial index in place of users_key_version (whose predicate is "< 1").
const keyVersion = 1

// userKeys returns the login_key, email_key and login_skeleton of a login and email ("" for
// none).
func userKeys(login, email string) (loginKey, emailKey, skeleton *string) {
	if login != "" {
		k := identity.NormalizeLogin(login)
		loginKey, skeleton = optString(k), optString(loginSkeleton(k))
	}
	if email != "" {
		emailKey = optString(identity.NormalizeEmail(email))
	}
	return loginKey, emailKey, skeleton
}

// userTagRow is a row of <prefix>user_tags: one per tag of a user.
type userTagRow struct {
	UserID        int64  `gorm:"column:user_id;primaryKey;autoIncrement:false"`
	TagKey        string `gorm:"column:tag_key;primaryKey"` // strings.ToLower(tag)
	ApplicationID int64  `gorm:"column:application_id;not null"`
	Tag           string `gorm:"column:tag;not null"`
}

// externalAccountRow is a row of <prefix>external_accounts.
type externalAccountRow struct {
	ID            int64     `gorm:"column:id;primaryKey;autoIncrement"`
	ApplicationID int64     `gorm:"column:application_id;not null"`
	UserID        int64     `gorm:"column:user_id;not null"`
	Provider      string    `gorm:"column:provider;not null"`
	Subject       string    `gorm:"column:subject;not null"`
	CreatedAt     time.Time `gorm:"column:created_at;not null;autoCreateTime:false"`
}

// sessionRow is a row of <prefix>sessions. user_id is 0 for an application session.
type sessionRow struct {
	ID                int64      `gorm:"column:id;primaryKey;autoIncrement"`
	ApplicationID     int64      `gorm:"column:application_id;not null"`
	UserID            int64      `gorm:"column:user_id;not null"`
	TokenHash         []byte     `gorm:"column:token_hash;not null"`
	Nonce             string     `gorm:"column:nonce;not null"`
	Timestamp         int64      `gorm:"column:ts;not null"`
	CreatedAt         time.Time  `gorm:"column:created_at;not null;autoCreateTime:false"`
	UpdatedAt         time.Time  `gorm:"column:updated_at;not null;autoUpdateTime:false"`
	LastActiveAt      time.Time  `gorm:"column:last_active_at;not null"`
	IdleNanos         int64      `gorm:"column:idle_nanos;not null"` // identity.Session.Idle
	AbsoluteExpiresAt *time.Time `gorm:"column:absolute_expires_at"`
	ExpiresAt         time.Time  `gorm:"column:expires_at;not null"`
}

// nonceRow is a row of <prefix>nonces: a used (application, timestamp, nonce) triple.
type nonceRow struct {
	ApplicationID int64     `gorm:"column:application_id;primaryKey;autoIncrement:false"`
	Timestamp     int64     `gorm:"column:ts;primaryKey;autoIncrement:false"`
	Nonce         string    `gorm:"column:nonce;primaryKey"`
	ExpiresAt     time.Time `gorm:"column:expires_at;not null"`
}

// dbTime is the stored form of t: UTC, microseconds.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// optTime stores a zero time as NULL.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	v := dbTime(t)
	return &v
}

func fromOptTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// optString stores "" as NULL.
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func fromOptString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func toApplicationRow(a *identity.Application) (*applicationRow, error) {
	settings, err := json.Marshal(a.Settings)
	if err != nil {
		return nil, err
	}
	return &applicationRow{
		ID:         a.ID,
		Name:       a.Name,
		AuthKey:    a.AuthKey,
		AuthSecret: a.AuthSecret,
		Settings:   string(settings),
		CreatedAt:  dbTime(a.CreatedAt),
		UpdatedAt:  dbTime(a.UpdatedAt),
	}, nil
}

func (r *applicationRow) application() (*identity.Application, error) {
	a := &identity.Application{
		ID:         r.ID,
		Name:       r.Name,
		AuthKey:    r.AuthKey,
		AuthSecret: r.AuthSecret,
		CreatedAt:  r.CreatedAt.UTC(),
		UpdatedAt:  r.UpdatedAt.UTC(),
	}
	if r.Settings != "" {
		if err := json.Unmarshal([]byte(r.Settings), &a.Settings); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// uniqueTags returns tags without case-insensitive duplicates, keeping the first spelling.
func uniqueTags(tags []string) []string {
	if len(tags) == 0 {
		return nil
	}
	out := make([]string, 0, len(tags))
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		k := strings.ToLower(t)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, t)
	}
	return out
}

func toUserRow(u *identity.User) (*userRow, error) {
	r := &userRow{
		ID:             u.ID,
		ApplicationID:  u.ApplicationID,
		UID:            optString(u.UID),
		Login:          optString(u.Login),
		Email:          optString(u.Email),
		FullName:       u.FullName,
		Phone:          u.Phone,
		Website:        u.Website,
		ExternalID:     u.ExternalID,
		FacebookID:     u.FacebookID,
		TwitterID:      u.TwitterID,
		CustomData:     u.CustomData,
		Avatar:         u.Avatar,
		BlobID:         u.BlobID,
		IsGuest:        u.IsGuest,
		Blocked:        u.Blocked,
		PasswordHash:   u.PasswordHash,
		GuestExpiresAt: optTime(u.GuestExpiresAt),
		CreatedAt:      dbTime(u.CreatedAt),
		UpdatedAt:      dbTime(u.UpdatedAt),
		LastRequestAt:  optTime(u.LastRequestAt),
		KeyVersion:     keyVersion,
	}
	r.LoginKey, r.EmailKey, r.LoginSkeleton = userKeys(u.Login, u.Email)
	if u.ExternalUserID != 0 {
		v := u.ExternalUserID
		r.ExternalUserID = &v
	}
	if u.Timezone != nil {
		v := *u.Timezone
		r.Timezone = &v
	}
	if tags := uniqueTags(u.Tags); len(tags) > 0 {
		b, err := json.Marshal(tags)
		if err != nil {
			return nil, err
		}
		r.Tags = string(b)
	}
	return r, nil
}

// tagRows returns the user_tags rows of r (whose ID must be set).
func (r *userRow) tagRows() ([]userTagRow, error) {
	if r.Tags == "" {
		return nil, nil
	}
	var tags []string
	if err := json.Unmarshal([]byte(r.Tags), &tags); err != nil {
		return nil, err
	}
	rows := make([]userTagRow, len(tags))
	for i, t := range tags {
		rows[i] = userTagRow{UserID: r.ID, TagKey: strings.ToLower(t), ApplicationID: r.ApplicationID, Tag: t}
	}
	return rows, nil
}

func (r *userRow) user() (*identity.User, error) {
	u := &identity.User{
		ID:             r.ID,
		ApplicationID:  r.ApplicationID,
		UID:            fromOptString(r.UID),
		Login:          fromOptString(r.Login),
		Email:          fromOptString(r.Email),
		FullName:       r.FullName,
		Phone:          r.Phone,
		Website:        r.Website,
		ExternalID:     r.ExternalID,
		FacebookID:     r.FacebookID,
		TwitterID:      r.TwitterID,
		CustomData:     r.CustomData,
		Avatar:         r.Avatar,
		BlobID:         r.BlobID,
		IsGuest:        r.IsGuest,
		Blocked:        r.Blocked,
		PasswordHash:   r.PasswordHash,
		GuestExpiresAt: fromOptTime(r.GuestExpiresAt),
		CreatedAt:      r.CreatedAt.UTC(),
		UpdatedAt:      r.UpdatedAt.UTC(),
		LastRequestAt:  fromOptTime(r.LastRequestAt),
	}
	if r.ExternalUserID != nil {
		u.ExternalUserID = *r.ExternalUserID
	}
	if r.Timezone != nil {
		v := *r.Timezone
		u.Timezone = &v
	}
	if r.Tags != "" {
		if err := json.Unmarshal([]byte(r.Tags), &u.Tags); err != nil {
			return nil, err
		}
	}
	return u, nil
}

func toSessionRow(s *identity.Session) *sessionRow {
	return &sessionRow{
		ID:                s.ID,
		ApplicationID:     s.ApplicationID,
		UserID:            s.UserID,
		TokenHash:         s.TokenHash,
		Nonce:             s.Nonce,
		Timestamp:         s.Timestamp,
		CreatedAt:         dbTime(s.CreatedAt),
		UpdatedAt:         dbTime(s.UpdatedAt),
		LastActiveAt:      dbTime(s.LastActiveAt),
		IdleNanos:         int64(s.Idle),
		AbsoluteExpiresAt: optTime(s.AbsoluteExpiresAt),
		ExpiresAt:         dbTime(s.ExpiresAt),
	}
}

func (r *sessionRow) session() *identity.Session {
	return &identity.Session{
		ID:                r.ID,
		ApplicationID:     r.ApplicationID,
		UserID:            r.UserID,
		TokenHash:         r.TokenHash,
		Nonce:             r.Nonce,
		Timestamp:         r.Timestamp,
		CreatedAt:         r.CreatedAt.UTC(),
		UpdatedAt:         r.UpdatedAt.UTC(),
		LastActiveAt:      r.LastActiveAt.UTC(),
		Idle:              time.Duration(r.IdleNanos),
		AbsoluteExpiresAt: fromOptTime(r.AbsoluteExpiresAt),
		ExpiresAt:         r.ExpiresAt.UTC(),
	}
}
