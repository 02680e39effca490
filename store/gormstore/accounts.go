package gormstore

import (
	"context"
	"errors"

	"gorm.io/gorm"

	"github.com/identitykit/identity"
)

// LinkExternalAccount links acct to the existing user acct.UserID of acct.ApplicationID (see
// identity.Store). The user's row is locked for the transaction, so that a concurrent
// DeleteUser cannot leave an account without its user.
func (s *Store) LinkExternalAccount(ctx context.Context, acct *identity.ExternalAccount) error {
	const op = "link external account"
	if err := checkAccount(op, acct); err != nil {
		return err
	}
	row := &externalAccountRow{
		ApplicationID: acct.ApplicationID,
		UserID:        acct.UserID,
		Provider:      acct.Provider,
		Subject:       acct.Subject,
		CreatedAt:     dbTime(acct.CreatedAt),
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := "SELECT id FROM " + s.t.users + " WHERE application_id = ? AND id = ?"
		if tx.Dialector.Name() == "postgres" {
			q += " FOR UPDATE"
		}
		var ids []int64
		if err := tx.Raw(q, acct.ApplicationID, acct.UserID).Scan(&ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return identity.ErrUserNotFound
		}
		return tx.Table(s.t.accounts).Create(row).Error
	})
	if errors.Is(err, identity.ErrUserNotFound) {
		return identity.ErrUserNotFound
	}
	if err != nil {
		return s.userErr(op, err)
	}
	return nil
}
