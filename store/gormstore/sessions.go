package gormstore

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/identitykit/identity"
)

// guestBatch bounds how many expired guests DeleteExpired removes per transaction.
var guestBatch = 500

// CreateSession inserts s and sets s.ID. A TokenHash already stored yields an
// *identity.Error wrapping identity.ErrInvalidInput naming "token".
func (s *Store) CreateSession(ctx context.Context, sess *identity.Session) error {
	const op = "create session"
	if sess == nil || len(sess.TokenHash) == 0 {
		return identity.NewError(op, identity.ErrInvalidInput, "token", "blank")
	}
	if !validText(sess.Nonce) {
		return identity.NewError(op, identity.ErrInvalidInput, "nonce", "invalid")
	}
	row := toSessionRow(sess)
	row.ID = 0
	if err := s.db.WithContext(ctx).Table(s.t.sessions).Create(row).Error; err != nil {
		if idx, ok := s.uniqueIndex(err); ok && idx == idxSessionToken {
			return identity.NewError(op, identity.ErrInvalidInput, "token", "taken")
		}
		return s.fail(op, err)
	}
	sess.ID = row.ID
	return nil
}

// SessionByTokenHash returns the session whose TokenHash equals hash, expired or not, or
// identity.ErrSessionNotFound.
func (s *Store) SessionByTokenHash(ctx context.Context, hash []byte) (*identity.Session, error) {
	if len(hash) == 0 {
		return nil, identity.ErrSessionNotFound
	}
	var row sessionRow
	err := s.db.WithContext(ctx).Table(s.t.sessions).Where("token_hash = ?", hash).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, identity.ErrSessionNotFound
	}
	if err != nil {
		return nil, s.fail("session by token hash", err)
	}
	return row.session(), nil
}

// SetSessionUser stores the session's UserID (0 for an application session), Idle,
// AbsoluteExpiresAt, ExpiresAt and UpdatedAt, or returns identity.ErrSessionNotFound.
func (s *Store) SetSessionUser(ctx context.Context, sess *identity.Session) error {
	row := toSessionRow(sess)
	res := s.db.WithContext(ctx).Exec("UPDATE "+s.t.sessions+
		" SET user_id = ?, idle_nanos = ?, absolute_expires_at = ?, expires_at = ?, updated_at = ? WHERE id = ?",
		row.UserID, row.IdleNanos, nullable(row.AbsoluteExpiresAt), row.ExpiresAt, row.UpdatedAt, row.ID)
	if res.Error != nil {
		return s.fail("set session user", res.Error)
	}
	if res.RowsAffected == 0 {
		return identity.ErrSessionNotFound
	}
	return nil
}

// TouchSession sets the session's LastActiveAt to at and ExpiresAt to expiresAt unless the
// stored LastActiveAt is later than at, and the LastRequestAt of user userID (when not 0) to
// at unless it is later. It is one guarded UPDATE per table, without a read; a missing
// session or user is not an error.
func (s *Store) TouchSession(ctx context.Context, sessionID, userID int64, at, expiresAt time.Time) error {
	const op = "touch session"
	at = dbTime(at)
	db := s.db.WithContext(ctx)
	if sessionID != 0 {
		err := db.Exec("UPDATE "+s.t.sessions+" SET last_active_at = ?, expires_at = ? WHERE id = ? AND last_active_at <= ?",
			at, dbTime(expiresAt), sessionID, at).Error
		if err != nil {
			return s.fail(op, err)
		}
	}
	if userID == 0 {
		return nil
	}
	err := db.Exec("UPDATE "+s.t.users+" SET last_request_at = ? WHERE id = ? AND (last_request_at IS NULL OR last_request_at <= ?)",
		at, userID, at).Error
	if err != nil {
		return s.fail(op, err)
	}
	return nil
}

// DeleteSession deletes the session with id; a missing session is not an error.
func (s *Store) DeleteSession(ctx context.Context, id int64) error {
	if err := s.db.WithContext(ctx).Exec("DELETE FROM "+s.t.sessions+" WHERE id = ?", id).Error; err != nil {
		return s.fail("delete session", err)
	}
	return nil
}

// DeleteUserSessions deletes every session of userID except exceptID (0 for none) and returns
// how many it deleted. userID 0 (application sessions) deletes nothing.
func (s *Store) DeleteUserSessions(ctx context.Context, userID, exceptID int64) (int, error) {
	if userID == 0 {
		return 0, nil
	}
	res := s.db.WithContext(ctx).Exec("DELETE FROM "+s.t.sessions+" WHERE user_id = ? AND id <> ?", userID, exceptID)
	if res.Error != nil {
		return 0, s.fail("delete user sessions", res.Error)
	}
	return int(res.RowsAffected), nil
}

// UserSessions lists the sessions of userID, newest (by CreatedAt, then ID) first, expired
// ones included. userID 0 (application sessions) lists nothing.
func (s *Store) UserSessions(ctx context.Context, userID int64) ([]*identity.Session, error) {
	if userID == 0 {
		return nil, nil
	}
	var rows []sessionRow
	err := s.db.WithContext(ctx).Table(s.t.sessions).Where("user_id = ?", userID).
		Order("created_at DESC, id DESC").Find(&rows).Error
	if err != nil {
		return nil, s.fail("user sessions", err)
	}
	out := make([]*identity.Session, len(rows))
	for i := range rows {
		out[i] = rows[i].session()
	}
	return out, nil
}

// UseNonce records (appID, timestamp, nonce) until expiresAt, or returns an *identity.Error
// wrapping identity.ErrInvalidSignature if the triple is already recorded (expired or not,
// until DeleteExpired purges it).
func (s *Store) UseNonce(ctx context.Context, appID, timestamp int64, nonce string, expiresAt time.Time) error {
	const op = "use nonce"
	if !validText(nonce) {
		return identity.NewError(op, identity.ErrInvalidSignature, "nonce", "invalid")
	}
	row := nonceRow{ApplicationID: appID, Timestamp: timestamp, Nonce: nonce, ExpiresAt: dbTime(expiresAt)}
	res := s.db.WithContext(ctx).Table(s.t.nonces).Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
	if res.Error != nil {
		return s.fail(op, res.Error)
	}
	if res.RowsAffected == 0 {
		return identity.NewError(op, identity.ErrInvalidSignature, "nonce", "used")
	}
	return nil
}

// DeleteExpired deletes guest users whose GuestExpiresAt is before now (with their sessions,
// tags and external accounts, and marking their blobs Deleting; in transactions of up to 500
// guests), then sessions whose
// ExpiresAt is before now and nonces past their expiry. Purged.Sessions counts both the
// guests' sessions and the expired ones. It is safe to run from several processes at once.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (identity.Purged, error) {
	const op = "delete expired"
	var p identity.Purged
	now = dbTime(now)
	db := s.db.WithContext(ctx)
	for {
		var ids []int64
		err := db.Transaction(func(tx *gorm.DB) error {
			err := tx.Raw("DELETE FROM "+s.t.users+" WHERE id IN (SELECT id FROM "+s.t.users+
				" WHERE is_guest = ? AND guest_expires_at < ? ORDER BY id LIMIT ?) RETURNING id",
				true, now, guestBatch).Scan(&ids).Error
			if err != nil || len(ids) == 0 {
				return err
			}
			n, err := s.deleteUserRecords(tx, ids)
			p.Sessions += n
			return err
		})
		if err != nil {
			return p, s.fail(op, err)
		}
		p.Guests += len(ids)
		if len(ids) < guestBatch {
			break
		}
	}
	res := db.Exec("DELETE FROM "+s.t.sessions+" WHERE expires_at < ?", now)
	if res.Error != nil {
		return p, s.fail(op, res.Error)
	}
	p.Sessions += int(res.RowsAffected)
	res = db.Exec("DELETE FROM "+s.t.nonces+" WHERE expires_at < ?", now)
	if res.Error != nil {
		return p, s.fail(op, res.Error)
	}
	p.Nonces = int(res.RowsAffected)
	return p, nil
}
