package gormstore

import (
	"context"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/passwordreset"
)

// resetTokenRow is a row of <prefix>reset_tokens: the outstanding password reset token of a
// user (at most one per user: user_id is unique). Tokens are deleted when used.
type resetTokenRow struct {
	ID            int64     `gorm:"column:id;primaryKey;autoIncrement"`
	ApplicationID int64     `gorm:"column:application_id;not null"`
	UserID        int64     `gorm:"column:user_id;not null"`
	Email         string    `gorm:"column:email;not null"`
	TokenHash     []byte    `gorm:"column:token_hash;not null"`
	CreatedAt     time.Time `gorm:"column:created_at;not null;autoCreateTime:false"`
	ExpiresAt     time.Time `gorm:"column:expires_at;not null"`
}

func (r *resetTokenRow) token() *passwordreset.Token {
	return &passwordreset.Token{
		ID:            r.ID,
		ApplicationID: r.ApplicationID,
		UserID:        r.UserID,
		Email:         r.Email,
		TokenHash:     r.TokenHash,
		CreatedAt:     r.CreatedAt.UTC(),
		ExpiresAt:     r.ExpiresAt.UTC(),
	}
}

var _ passwordreset.TokenStore = (*Store)(nil)

// Index names of the reset token table, without the table prefix.
const (
	idxResetTokenHash = "reset_tokens_token_hash"
	idxResetTokenUser = "reset_tokens_user_id"
)

// resetTokens is the name of the reset token table.
func (t tables) resetTokens() string { return t.prefix + "reset_tokens" }

// resetIndexDDL returns the indexes of the reset token table.
func (s *Store) resetIndexDDL() []string {
	p, t := s.t.prefix, s.t.resetTokens()
	return []string{
		"CREATE UNIQUE INDEX IF NOT EXISTS " + p + idxResetTokenHash + " ON " + t + " (token_hash)",
		"CREATE UNIQUE INDEX IF NOT EXISTS " + p + idxResetTokenUser + " ON " + t + " (user_id)",
		"CREATE INDEX IF NOT EXISTS " + p + "reset_tokens_expires_at ON " + t + " (expires_at)",
	}
}

const resetColumns = "id, application_id, user_id, email, token_hash, created_at, expires_at"

// PutResetToken stores t as the only token of t.UserID, replacing an earlier one in the same
// statement (INSERT ... ON CONFLICT (user_id) DO UPDATE), and sets t.ID. A TokenHash already
// stored for another user is an *identity.Error wrapping identity.ErrInvalidInput naming
// "token".
func (s *Store) PutResetToken(ctx context.Context, t *passwordreset.Token) error {
	const op = "put reset token"
	if t == nil || len(t.TokenHash) == 0 {
		return identity.NewError(op, identity.ErrInvalidInput, "token", "blank")
	}
	if t.UserID == 0 {
		return identity.NewError(op, identity.ErrInvalidInput, "user_id", "blank")
	}
	if !validText(t.Email) {
		return identity.NewError(op, identity.ErrInvalidInput, "email", "invalid")
	}
	var id int64
	err := s.db.WithContext(ctx).Raw("INSERT INTO "+s.t.resetTokens()+
		" (application_id, user_id, email, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)"+
		" ON CONFLICT (user_id) DO UPDATE SET application_id = excluded.application_id, email = excluded.email,"+
		" token_hash = excluded.token_hash, created_at = excluded.created_at, expires_at = excluded.expires_at"+
		" RETURNING id",
		t.ApplicationID, t.UserID, t.Email, t.TokenHash, dbTime(t.CreatedAt), dbTime(t.ExpiresAt)).Scan(&id).Error
	if err != nil {
		if _, ok := s.uniqueIndex(err); ok {
			return identity.NewError(op, identity.ErrInvalidInput, "token", "taken")
		}
		return s.fail(op, err)
	}
	t.ID = id
	return nil
}

// ResetTokenByHash returns the token whose TokenHash equals hash, expired or not, or
// identity.ErrNotFound.
func (s *Store) ResetTokenByHash(ctx context.Context, hash []byte) (*passwordreset.Token, error) {
	if len(hash) == 0 {
		return nil, identity.ErrNotFound
	}
	var rows []resetTokenRow
	err := s.db.WithContext(ctx).Raw("SELECT "+resetColumns+" FROM "+s.t.resetTokens()+" WHERE token_hash = ?", hash).
		Scan(&rows).Error
	if err != nil {
		return nil, s.fail("reset token by hash", err)
	}
	if len(rows) == 0 {
		return nil, identity.ErrNotFound
	}
	return rows[0].token(), nil
}

// ConsumeResetToken deletes and returns the token whose TokenHash equals hash and whose
// ExpiresAt is after now, in one DELETE ... RETURNING statement, so that of concurrent calls
// at most one gets the row; otherwise identity.ErrNotFound.
func (s *Store) ConsumeResetToken(ctx context.Context, hash []byte, now time.Time) (*passwordreset.Token, error) {
	if len(hash) == 0 {
		return nil, identity.ErrNotFound
	}
	var rows []resetTokenRow
	err := s.db.WithContext(ctx).Raw("DELETE FROM "+s.t.resetTokens()+" WHERE token_hash = ? AND expires_at > ? RETURNING "+resetColumns,
		hash, dbTime(now)).Scan(&rows).Error
	if err != nil {
		return nil, s.fail("consume reset token", err)
	}
	if len(rows) == 0 {
		return nil, identity.ErrNotFound
	}
	return rows[0].token(), nil
}

// DeleteResetTokens deletes every token of userID and returns how many it deleted.
func (s *Store) DeleteResetTokens(ctx context.Context, userID int64) (int, error) {
	res := s.db.WithContext(ctx).Exec("DELETE FROM "+s.t.resetTokens()+" WHERE user_id = ?", userID)
	if res.Error != nil {
		return 0, s.fail("delete reset tokens", res.Error)
	}
	return int(res.RowsAffected), nil
}

// DeleteExpiredResetTokens deletes the tokens whose ExpiresAt is not after now and returns
// how many it deleted.
func (s *Store) DeleteExpiredResetTokens(ctx context.Context, now time.Time) (int, error) {
	res := s.db.WithContext(ctx).Exec("DELETE FROM "+s.t.resetTokens()+" WHERE expires_at <= ?", dbTime(now))
	if res.Error != nil {
		return 0, s.fail("delete expired reset tokens", res.Error)
	}
	return int(res.RowsAffected), nil
}
