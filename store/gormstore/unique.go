package gormstore

import (
	"context"
	"fmt"
	"log/slog"

	"gorm.io/gorm"
)

// Unique indexes added to databases that may already hold data breaking them. Migrate
// creates each one only when no two users of an application share a value; otherwise it
// logs the duplicates (application id, field and user ids; never the values) and skips
// that index, and a later Migrate, once the duplicates are gone, creates it.
const (
	idxUserExternalUserID = "users_external_user_id_key"
	idxUserFacebookID     = "users_facebook_id_key"
	idxUserTwitterID      = "users_twitter_id_key"
)

// guardedIndex is a unique index on users that Migrate creates only when the existing rows
// allow it.
type guardedIndex struct {
	name string
	// field is the identity field a violation is reported on.
	field string
	// key is the indexed expression after application_id; where selects the rows indexed
	// (unset values are left out, so that they never conflict).
	key, where string
	// fallback, when not "", is a plain index on the same key that serves lookups while the
	// unique index is missing, and is dropped once it exists.
	fallback string
}

func (s *Store) guardedIndexes() []guardedIndex {
	pg := s.db.Dialector.Name() == "postgres"
	return []guardedIndex{
		{name: idxUserExternalUserID, field: "external_user_id", key: "external_user_id",
			where: "external_user_id IS NOT NULL", fallback: "users_external_user_id"},
		// Searches (by_facebook_id, filters) compare these ASCII-case-insensitively; so does
		// the uniqueness rule, so that a lookup never finds two users.
		{name: idxUserFacebookID, field: "facebook_id", key: foldExpr(pg, "facebook_id"), where: "facebook_id <> ''"},
		{name: idxUserTwitterID, field: "twitter_id", key: foldExpr(pg, "twitter_id"), where: "twitter_id <> ''"},
	}
}

// ddl returns the CREATE UNIQUE INDEX statement of g.
func (g guardedIndex) ddl(s *Store) string {
	return "CREATE UNIQUE INDEX IF NOT EXISTS " + s.t.prefix + g.name + " ON " + s.t.users +
		" (application_id, " + g.key + ") WHERE " + g.where
}

// duplicate is a set of users of one application sharing the value of a guarded index.
type duplicate struct {
	appID   int64
	userIDs []int64
}

// duplicates returns the users that keep g from being created, grouped by value.
func (g guardedIndex) duplicates(tx *gorm.DB, s *Store) ([]duplicate, error) {
	var rows []struct {
		ApplicationID int64
		ID            int64
		K             string
	}
	q := "SELECT application_id, id, CAST(" + g.key + " AS TEXT) AS k FROM " + s.t.users +
		" WHERE " + g.where + " AND (application_id, " + g.key + ") IN (SELECT application_id, " + g.key +
		" FROM " + s.t.users + " WHERE " + g.where + " GROUP BY application_id, " + g.key +
		" HAVING COUNT(*) > 1) ORDER BY application_id, k, id"
	if err := tx.Raw(q).Scan(&rows).Error; err != nil {
		return nil, err
	}
	var out []duplicate
	for i, r := range rows {
		if i == 0 || r.ApplicationID != rows[i-1].ApplicationID || r.K != rows[i-1].K {
			out = append(out, duplicate{appID: r.ApplicationID})
		}
		d := &out[len(out)-1]
		d.userIDs = append(d.userIDs, r.ID)
	}
	return out, nil
}

// migrateGuarded creates the guarded unique indexes that are missing and that the data
// allows, and reports the others.
func (s *Store) migrateGuarded(ctx context.Context, tx *gorm.DB) error {
	for _, g := range s.guardedIndexes() {
		if err := s.migrateGuardedIndex(ctx, tx, g); err != nil {
			return fmt.Errorf("index %s: %w", g.name, err)
		}
	}
	return nil
}

func (s *Store) migrateGuardedIndex(ctx context.Context, tx *gorm.DB, g guardedIndex) error {
	if !tx.Migrator().HasIndex(s.t.users, s.t.prefix+g.name) {
		dups, err := g.duplicates(tx, s)
		if err != nil {
			return err
		}
		created := false
		if len(dups) == 0 {
			// A user written since the check (PostgreSQL writers do not wait for Migrate's
			// lock) can still break the index: undo just this statement then.
			const sp = "guarded_index"
			if err := tx.SavePoint(sp).Error; err != nil {
				return err
			}
			err := tx.Exec(g.ddl(s)).Error
			if _, unique := s.uniqueIndex(err); err != nil && unique {
				if err := tx.RollbackTo(sp).Error; err != nil {
					return err
				}
				s.log.WarnContext(ctx, "gormstore: migrate: users share a value that must be unique; unique index not created, run Migrate again",
					slog.String("field", g.field), slog.String("index", s.t.prefix+g.name))
			} else if err != nil {
				return err
			} else {
				created = true
			}
		}
		for _, d := range dups {
			s.log.WarnContext(ctx, "gormstore: migrate: users share a value that must be unique; unique index not created until they no longer do",
				slog.Int64("application_id", d.appID), slog.String("field", g.field),
				slog.Any("user_ids", d.userIDs), slog.String("index", s.t.prefix+g.name))
		}
		if !created {
			if g.fallback != "" {
				return tx.Exec("CREATE INDEX IF NOT EXISTS " + s.t.prefix + g.fallback + " ON " + s.t.users + " (application_id, " + g.key + ")").Error
			}
			return nil
		}
	}
	if g.fallback != "" {
		return tx.Exec("DROP INDEX IF EXISTS " + s.t.prefix + g.fallback).Error
	}
	return nil
}
