package gormstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
)

// userRowFor checks u for op (create or update) and returns its row.
func userRowFor(op string, u *identity.User) (*userRow, error) {
	if u == nil {
		return nil, identity.NewError(op, identity.ErrInvalidInput, "user", "blank")
	}
	if err := checkUser(op, u); err != nil {
		return nil, err
	}
	row, err := toUserRow(u)
	if err != nil {
		return nil, fmt.Errorf("gormstore: %s: encode tags: %w", op, err)
	}
	return row, nil
}

// CreateUser inserts u (setting u.ID) and, when acct is not nil, links acct to it in the same
// transaction (setting acct.UserID, and acct.ApplicationID when it is 0). A taken login or
// email (case-insensitive, per application) yields an *identity.Error wrapping
// identity.ErrUserExists naming "login" or "email"; a taken external account names "base".
// Nothing is written, and u and acct are left unchanged, on error.
func (s *Store) CreateUser(ctx context.Context, u *identity.User, acct *identity.ExternalAccount) error {
	const op = "create user"
	row, err := userRowFor(op, u)
	if err != nil {
		return err
	}
	row.ID = 0
	var acctRow *externalAccountRow
	if acct != nil {
		if acct.ApplicationID != 0 && acct.ApplicationID != u.ApplicationID {
			return identity.NewError(op, identity.ErrInvalidInput, "external_account", "invalid")
		}
		if err := checkAccount(op, acct); err != nil {
			return err
		}
		created := acct.CreatedAt
		if created.IsZero() {
			created = u.CreatedAt
		}
		acctRow = &externalAccountRow{
			ApplicationID: u.ApplicationID,
			Provider:      acct.Provider,
			Subject:       acct.Subject,
			CreatedAt:     dbTime(created),
		}
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Table(s.t.users).Create(row).Error; err != nil {
			return err
		}
		if err := s.insertTags(tx, row); err != nil {
			return err
		}
		if acctRow != nil {
			acctRow.UserID = row.ID
			if err := tx.Table(s.t.accounts).Create(acctRow).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.userErr(op, err)
	}
	u.ID = row.ID
	if acct != nil {
		acct.UserID = row.ID
		acct.ApplicationID = u.ApplicationID
	}
	return nil
}

// insertTags writes the user_tags rows of row.
func (s *Store) insertTags(tx *gorm.DB, row *userRow) error {
	tags, err := row.tagRows()
	if err != nil || len(tags) == 0 {
		return err
	}
	return tx.Table(s.t.userTags).Create(&tags).Error
}

// User returns the user with id in application appID, or identity.ErrUserNotFound.
func (s *Store) User(ctx context.Context, appID, id int64) (*identity.User, error) {
	return s.findUser(ctx, "user", "application_id = ? AND id = ?", appID, id)
}

// UserByLogin returns the user of appID whose login equals login case-insensitively
// (identity.NormalizeLogin), or identity.ErrUserNotFound.
func (s *Store) UserByLogin(ctx context.Context, appID int64, login string) (*identity.User, error) {
	key := identity.NormalizeLogin(login)
	if key == "" || !validText(key) {
		return nil, identity.ErrUserNotFound
	}
	return s.findUser(ctx, "user by login", "application_id = ? AND login_key = ?", appID, key)
}

// UserByEmail returns the user of appID whose email equals email case-insensitively
// (identity.NormalizeEmail), or identity.ErrUserNotFound.
func (s *Store) UserByEmail(ctx context.Context, appID int64, email string) (*identity.User, error) {
	key := identity.NormalizeEmail(email)
	if key == "" || !validText(key) {
		return nil, identity.ErrUserNotFound
	}
	return s.findUser(ctx, "user by email", "application_id = ? AND email_key = ?", appID, key)
}

// UserByExternalUserID returns the user of appID with the deprecated numeric external user
// id (the one with the lowest id if several share it), or identity.ErrUserNotFound.
func (s *Store) UserByExternalUserID(ctx context.Context, appID, externalUserID int64) (*identity.User, error) {
	if externalUserID == 0 {
		return nil, identity.ErrUserNotFound
	}
	return s.findUser(ctx, "user by external user id", "application_id = ? AND external_user_id = ?", appID, externalUserID)
}

// UserByExternalAccount returns the user linked to (provider, subject) in appID, or
// identity.ErrUserNotFound.
func (s *Store) UserByExternalAccount(ctx context.Context, appID int64, provider, subject string) (*identity.User, error) {
	if provider == "" || subject == "" || !validText(provider) || !validText(subject) {
		return nil, identity.ErrUserNotFound
	}
	return s.findUser(ctx, "user by external account",
		"application_id = ? AND id = (SELECT user_id FROM "+s.t.accounts+" WHERE application_id = ? AND provider = ? AND subject = ?)",
		appID, appID, provider, subject)
}

func (s *Store) findUser(ctx context.Context, op, where string, args ...any) (*identity.User, error) {
	var row userRow
	err := s.db.WithContext(ctx).Table(s.t.users).Where(where, args...).Order("id").Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, identity.ErrUserNotFound
	}
	if err != nil {
		return nil, s.fail(op, err)
	}
	u, err := row.user()
	if err != nil {
		return nil, fmt.Errorf("gormstore: %s: decode tags of user %d: %w", op, row.ID, err)
	}
	return u, nil
}

// UpdateUser replaces every stored field of u (matched by u.ApplicationID and u.ID) except
// CreatedAt and UID, tags included, in one transaction. Conflicts are reported as by
// CreateUser; identity.ErrUserNotFound if the user is gone.
func (s *Store) UpdateUser(ctx context.Context, u *identity.User) error {
	const op = "update user"
	row, err := userRowFor(op, u)
	if err != nil {
		return err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec("UPDATE "+s.t.users+" SET login = ?, login_key = ?, login_skeleton = ?, key_version = ?, email = ?, email_key = ?,"+
			" full_name = ?, phone = ?, website = ?, external_id = ?, external_user_id = ?,"+
			" facebook_id = ?, twitter_id = ?, custom_data = ?, avatar = ?, blob_id = ?, timezone = ?,"+
			" tags = ?, is_guest = ?, password_hash = ?, guest_expires_at = ?, updated_at = ?"+
			" WHERE application_id = ? AND id = ?",
			nullable(row.Login), nullable(row.LoginKey), nullable(row.LoginSkeleton), row.KeyVersion, nullable(row.Email), nullable(row.EmailKey),
			row.FullName, row.Phone, row.Website, row.ExternalID, nullable(row.ExternalUserID),
			row.FacebookID, row.TwitterID, row.CustomData, row.Avatar, row.BlobID, nullable(row.Timezone),
			row.Tags, row.IsGuest, row.PasswordHash, nullable(row.GuestExpiresAt), row.UpdatedAt,
			row.ApplicationID, row.ID)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return identity.ErrUserNotFound
		}
		if err := tx.Exec("DELETE FROM "+s.t.userTags+" WHERE user_id = ?", row.ID).Error; err != nil {
			return err
		}
		return s.insertTags(tx, row)
	})
	if errors.Is(err, identity.ErrUserNotFound) {
		return identity.ErrUserNotFound
	}
	if err != nil {
		return s.userErr(op, err)
	}
	return nil
}

// nullable turns a nil pointer into an untyped nil and a non-nil one into its value.
func nullable[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// DeleteUser deletes the user, its sessions, tags and external accounts, and marks its blobs
// Deleting, in one transaction, or returns identity.ErrUserNotFound.
func (s *Store) DeleteUser(ctx context.Context, appID, id int64) error {
	const op = "delete user"
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec("DELETE FROM "+s.t.users+" WHERE application_id = ? AND id = ?", appID, id)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return identity.ErrUserNotFound
		}
		_, err := s.deleteUserRecords(tx, []int64{id})
		return err
	})
	if errors.Is(err, identity.ErrUserNotFound) {
		return identity.ErrUserNotFound
	}
	if err != nil {
		return s.fail(op, err)
	}
	return nil
}

// deleteUserRecords deletes the sessions, tags and external accounts of users ids, marks
// their blobs Deleting (the janitor removes them and their bytes), and returns how many
// sessions it deleted.
func (s *Store) deleteUserRecords(tx *gorm.DB, ids []int64) (int, error) {
	res := tx.Exec("DELETE FROM "+s.t.sessions+" WHERE user_id IN ?", ids)
	if res.Error != nil {
		return 0, res.Error
	}
	err := tx.Exec("UPDATE "+s.blobs()+" SET state = ? WHERE user_id IN ? AND state <> ?",
		int(blob.Deleting), ids, int(blob.Deleting)).Error
	if err != nil {
		return 0, err
	}
	if err := tx.Exec("DELETE FROM "+s.t.accounts+" WHERE user_id IN ?", ids).Error; err != nil {
		return 0, err
	}
	if err := tx.Exec("DELETE FROM "+s.t.userTags+" WHERE user_id IN ?", ids).Error; err != nil {
		return 0, err
	}
	return int(res.RowsAffected), nil
}

// SetUserBlocked sets the blocked flag and updated_at of user id of appID and, when
// blocking, deletes the user's sessions, in one transaction; identity.ErrUserNotFound if
// there is no such user.
func (s *Store) SetUserBlocked(ctx context.Context, appID, id int64, blocked bool, at time.Time) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec("UPDATE "+s.t.users+" SET blocked = ?, updated_at = ? WHERE application_id = ? AND id = ?",
			blocked, dbTime(at), appID, id)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return identity.ErrUserNotFound
		}
		if !blocked {
			return nil
		}
		return tx.Exec("DELETE FROM "+s.t.sessions+" WHERE user_id = ?", id).Error
	})
	if errors.Is(err, identity.ErrUserNotFound) {
		return identity.ErrUserNotFound
	}
	if err != nil {
		return s.fail("set user blocked", err)
	}
	return nil
}
