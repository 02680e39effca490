package gormstore

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/identitykit/identity"
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
			return identity.FieldError(op, identity.ErrInvalidInput, "auth_key", "has already been taken")
		}
		return s.fail(op, err)
	}
	app.ID = row.ID
	return nil
}

// applicationRowFor checks app for op (create or update) and returns its row.
func applicationRowFor(op string, app *identity.Application) (*applicationRow, error) {
	if app == nil {
		return nil, identity.FieldError(op, identity.ErrInvalidInput, "base", "application is required")
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
