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
	idxUserLoginSkeleton  = "users_login_skeleton"
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
		{name: idxUserLoginSkeleton, field: "login", key: "login_skeleton", where: "login_skeleton IS NOT NULL"},
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

// migrateGuarded recomputes the keys of rows written under an older normalization, then
// creates the guarded unique indexes that are missing and that the data allows, and reports
// the others. MigrateUp runs it after the numbered migrations, every time.
func (s *Store) migrateGuarded(ctx context.Context, m *migrator) error {
	if err := m.tx(func(tx *gorm.DB) error { return s.rekeyUsers(ctx, tx) }); err != nil {
		return fmt.Errorf("rekey users: %w", err)
	}
	for _, g := range s.guardedIndexes() {
		if err := s.migrateGuardedIndex(ctx, m, g); err != nil {
			return fmt.Errorf("index %s: %w", g.name, err)
		}
	}
	return nil
}

func (s *Store) migrateGuardedIndex(ctx context.Context, m *migrator, g guardedIndex) error {
	name := s.t.prefix + g.name
	state, err := m.indexState(name)
	if err != nil {
		return err
	}
	if state == indexInvalid {
		// Left by an interrupted concurrent build: it serves no query and may still enforce
		// uniqueness on writes.
		if err := m.dropIndex(name); err != nil {
			return err
		}
	}
	if state != indexValid {
		dups, err := g.duplicates(m.db, s)
		if err != nil {
			return err
		}
		created := false
		if len(dups) == 0 {
			// A user written since the check (writers do not wait for the migration's lock
			// on PostgreSQL) can still break the index: the index is then not created.
			broke, err := s.tryUniqueIndex(ctx, m, g.ddl(s))
			if err != nil {
				return err
			}
			if broke {
				s.log.WarnContext(ctx, "gormstore: migrate: users share a value that must be unique; unique index not created, run Migrate again",
					slog.String("field", g.field), slog.String("index", name))
			} else {
				created = true
			}
		}
		for _, d := range dups {
			s.log.WarnContext(ctx, "gormstore: migrate: users share a value that must be unique; unique index not created until they no longer do",
				slog.Int64("application_id", d.appID), slog.String("field", g.field),
				slog.Any("user_ids", d.userIDs), slog.String("index", name))
		}
		if !created {
			if g.fallback != "" {
				return m.index(ctx, "CREATE INDEX IF NOT EXISTS "+s.t.prefix+g.fallback+" ON "+s.t.users+" (application_id, "+g.key+")")
			}
			return nil
		}
	}
	if g.fallback != "" {
		return m.dropIndex(s.t.prefix + g.fallback)
	}
	return nil
}

// tryUniqueIndex creates the unique index of ddl and reports whether existing rows broke it,
// in which case no index is left behind. On SQLite the statement runs in a savepoint of the
// run's transaction; on PostgreSQL it is built concurrently (m.index), and the invalid index
// a failed build leaves (which would still enforce uniqueness on writes) is dropped.
func (s *Store) tryUniqueIndex(ctx context.Context, m *migrator, ddl string) (broke bool, err error) {
	if !m.pg {
		return s.tryUnique(m.db, ddl)
	}
	err = m.index(ctx, ddl)
	if _, unique := s.uniqueIndex(err); err != nil && unique {
		return true, m.dropIndex(indexName(ddl))
	}
	return false, err
}

// tryUnique runs stmt in a savepoint of tx and reports whether it broke a unique index, in
// which case the statement alone is undone (a failed statement would otherwise abort a
// PostgreSQL transaction).
func (s *Store) tryUnique(tx *gorm.DB, stmt string, args ...any) (broke bool, err error) {
	const sp = "gormstore_unique"
	if err := tx.SavePoint(sp).Error; err != nil {
		return false, err
	}
	err = tx.Exec(stmt, args...).Error
	if _, unique := s.uniqueIndex(err); err != nil && unique {
		return true, tx.RollbackTo(sp).Error
	}
	if err != nil {
		return false, err
	}
	// Release it: a savepoint kept to the end of the transaction holds a lock on PostgreSQL,
	// and Migrate runs this once per re-keyed row.
	return false, tx.Exec("RELEASE SAVEPOINT " + sp).Error
}

// rekeyBatch is how many rows rekeyUsers reads at a time.
const rekeyBatch = 500

// rekeyUsers brings login_key, email_key and login_skeleton of rows older than keyVersion
// up to date. Rows of ASCII logins and emails keep their keys (the normalization did not
// change for them) and are updated in one statement; the others one by one. A row whose new
// key is already another user's is left as it was and reported, with the user it collides
// with; the next Migrate tries again.
func (s *Store) rekeyUsers(ctx context.Context, tx *gorm.DB) error {
	ascii := func(col string) string { return col + " NOT GLOB '*[^ -~]*'" }
	if tx.Dialector.Name() == "postgres" {
		ascii = func(col string) string { return col + " !~ '[^ -~]'" }
	}
	if err := tx.Exec("UPDATE "+s.t.users+" SET login_skeleton = login_key, key_version = ? WHERE key_version < ?"+
		" AND (login IS NULL OR "+ascii("login")+") AND (email IS NULL OR "+ascii("email")+")", keyVersion, keyVersion).Error; err != nil {
		return err
	}
	var after int64
	for {
		var rows []userRow
		if err := tx.Table(s.t.users).Select("id, application_id, login, email").
			Where("key_version < ? AND id > ?", keyVersion, after).Order("id").Limit(rekeyBatch).Find(&rows).Error; err != nil {
			return err
		}
		for i := range rows {
			if err := s.rekeyUser(ctx, tx, &rows[i]); err != nil {
				return err
			}
		}
		if len(rows) < rekeyBatch {
			return nil
		}
		after = rows[len(rows)-1].ID
	}
}

func (s *Store) rekeyUser(ctx context.Context, tx *gorm.DB, r *userRow) error {
	login, email, skeleton := userKeys(fromOptString(r.Login), fromOptString(r.Email))
	broke, err := s.tryUnique(tx, "UPDATE "+s.t.users+" SET login_key = ?, email_key = ?, login_skeleton = ?, key_version = ? WHERE id = ?",
		nullable(login), nullable(email), nullable(skeleton), keyVersion, r.ID)
	if err != nil || !broke {
		return err
	}
	for _, c := range []struct {
		field, col string
		v          *string
	}{{"login", "login_key", login}, {"email", "email_key", email}, {"login", "login_skeleton", skeleton}} {
		if c.v == nil {
			continue
		}
		var other []int64
		if err := tx.Table(s.t.users).Where("application_id = ? AND "+c.col+" = ? AND id <> ?", r.ApplicationID, *c.v, r.ID).
			Order("id").Pluck("id", &other).Error; err != nil {
			return err
		}
		if len(other) > 0 {
			s.log.WarnContext(ctx, "gormstore: migrate: a login or email written before Unicode normalization now equals another user's; its keys are left as they were until one of them changes",
				slog.Int64("application_id", r.ApplicationID), slog.String("field", c.field),
				slog.Any("user_ids", append([]int64{r.ID}, other...)))
			return nil
		}
	}
	return nil
}
