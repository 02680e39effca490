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

// CreateApplication inserts app and sets app.ID. A taken AuthKey yields an *identity.Error
// wrapping identity.ErrInvalidInput naming "auth_key".
func (s *Store) CreateApplication(ctx context.Context, app *identity.Application) error {
	const op = "create application"
	row, err := applicationRowFor(op, app)
	if err != nil {
		return err
	}
	row.ID = 0
	if err := s.db.WithContext(ctx).Table(s.t.apps).Create(row).Error; err != nil {
		if idx, ok := s.uniqueIndex(err); ok && idx == idxAppAuthKey {
			return identity.NewError(op, identity.ErrInvalidInput, "auth_key", "taken")
		}
		return s.fail(op, err)
	}
	app.ID = row.ID
	return nil
}

// applicationRowFor checks app for op (create or update) and returns its row.
func applicationRowFor(op string, app *identity.Application) (*applicationRow, error) {
	if app == nil {
		return nil, identity.NewError(op, identity.ErrInvalidInput, "application", "blank")
	}
	if err := checkApplication(op, app); err != nil {
		return nil, err
	}
	row, err := toApplicationRow(app)
	if err != nil {
		return nil, fmt.Errorf("gormstore: %s: encode settings: %w", op, err)
	}
	return row, nil
}

// Application returns the application with id, or identity.ErrApplicationNotFound.
func (s *Store) Application(ctx context.Context, id int64) (*identity.Application, error) {
	return s.findApplication(ctx, "application", "id = ?", id)
}

// ApplicationByAuthKey returns the application whose AuthKey equals key, or
// identity.ErrApplicationNotFound.
func (s *Store) ApplicationByAuthKey(ctx context.Context, key string) (*identity.Application, error) {
	if key == "" || !validText(key) {
		return nil, identity.ErrApplicationNotFound
	}
	return s.findApplication(ctx, "application by auth key", "auth_key = ?", key)
}

func (s *Store) findApplication(ctx context.Context, op, where string, arg any) (*identity.Application, error) {
	var row applicationRow
	err := s.db.WithContext(ctx).Table(s.t.apps).Where(where, arg).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, identity.ErrApplicationNotFound
	}
	if err != nil {
		return nil, s.fail(op, err)
	}
	app, err := row.application()
	if err != nil {
		return nil, fmt.Errorf("gormstore: %s: decode settings of application %d: %w", op, row.ID, err)
	}
	return app, nil
}

// UpdateApplication replaces the stored name, settings and UpdatedAt of app.ID, or returns
// identity.ErrApplicationNotFound.
func (s *Store) UpdateApplication(ctx context.Context, app *identity.Application) error {
	const op = "update application"
	row, err := applicationRowFor(op, app)
	if err != nil {
		return err
	}
	res := s.db.WithContext(ctx).Exec("UPDATE "+s.t.apps+" SET name = ?, settings = ?, updated_at = ? WHERE id = ?",
		row.Name, row.Settings, row.UpdatedAt, row.ID)
	if res.Error != nil {
		return s.fail(op, res.Error)
	}
	if res.RowsAffected == 0 {
		return identity.ErrApplicationNotFound
	}
	return nil
}

// Applications lists every application ordered by id.
func (s *Store) Applications(ctx context.Context) ([]*identity.Application, error) {
	const op = "applications"
	var rows []applicationRow
	if err := s.db.WithContext(ctx).Table(s.t.apps).Order("id").Find(&rows).Error; err != nil {
		return nil, s.fail(op, err)
	}
	out := make([]*identity.Application, 0, len(rows))
	for i := range rows {
		app, err := rows[i].application()
		if err != nil {
			return nil, fmt.Errorf("gormstore: %s: decode settings of application %d: %w", op, rows[i].ID, err)
		}
		out = append(out, app)
	}
	return out, nil
}

// SetApplicationKeys replaces the auth key and secret of application id and sets its
// updated_at. A taken key yields an *identity.Error wrapping identity.ErrInvalidInput naming
// "auth_key"; identity.ErrApplicationNotFound if there is no such application.
func (s *Store) SetApplicationKeys(ctx context.Context, id int64, authKey, authSecret string, at time.Time) error {
	const op = "set application keys"
	if err := checkApplication(op, &identity.Application{AuthKey: authKey, AuthSecret: authSecret}); err != nil {
		return err
	}
	if authKey == "" {
		return identity.NewError(op, identity.ErrInvalidInput, "auth_key", "blank")
	}
	res := s.db.WithContext(ctx).Exec("UPDATE "+s.t.apps+" SET auth_key = ?, auth_secret = ?, updated_at = ? WHERE id = ?",
		authKey, authSecret, dbTime(at), id)
	if res.Error != nil {
		if idx, ok := s.uniqueIndex(res.Error); ok && idx == idxAppAuthKey {
			return identity.NewError(op, identity.ErrInvalidInput, "auth_key", "taken")
		}
		return s.fail(op, res.Error)
	}
	if res.RowsAffected == 0 {
		return identity.ErrApplicationNotFound
	}
	return nil
}

// DeleteApplication deletes application id with its users, tags, external accounts,
// sessions, nonces and reset tokens, and marks its blobs Deleting, in one transaction;
// identity.ErrApplicationNotFound if there is no such application.
func (s *Store) DeleteApplication(ctx context.Context, id int64) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec("DELETE FROM "+s.t.apps+" WHERE id = ?", id)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return identity.ErrApplicationNotFound
		}
		err := tx.Exec("UPDATE "+s.blobs()+" SET state = ? WHERE application_id = ? AND state <> ?",
			int(blob.Deleting), id, int(blob.Deleting)).Error
		if err != nil {
			return err
		}
		for _, table := range []string{s.t.sessions, s.t.nonces, s.t.accounts, s.t.userTags, s.t.resetTokens(), s.t.users} {
			if err := tx.Exec("DELETE FROM "+table+" WHERE application_id = ?", id).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, identity.ErrApplicationNotFound) {
		return identity.ErrApplicationNotFound
	}
	if err != nil {
		return s.fail("delete application", err)
	}
	return nil
}
