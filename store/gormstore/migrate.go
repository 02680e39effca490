package gormstore

import (
	"context"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Versioned migrations.
//
// The schema is built by numbered, forward-only migrations. <prefix>schema_migrations holds
// one row per migration applied (its number, name and time); a migration runs once, when its
// number has no row, and its row is written only after all of its steps succeeded. Every step
// of a migration is idempotent (CREATE ... IF NOT EXISTS, AutoMigrate adding what is
// missing), so that a migration interrupted half-way (a crash, a lost connection, a
// cancelled context) is simply run again by the next MigrateUp.
//
// Migration 1 is the whole schema of the releases before versions existed: the tables of
// models() and the indexes of indexDDL and searchIndexDDL. Because the tables are created
// from the row types, a later change to a row type (a new column) needs a new migration that
// applies it to databases already at version 1 (for a column, AutoMigrate of that table): a
// database created afresh gets the change from migration 1 already, which is why a later
// migration must be a no-op on a schema that has its change.
//
// Besides the numbered migrations, every MigrateUp runs the data-dependent step of
// migrateGuarded (unique.go): it re-keys users written under an older login normalization and
// creates the unique indexes that existing data may forbid, once it no longer does. That step
// is not numbered because it may have to wait for an operator to resolve duplicates; when
// there is nothing left to do it costs a few index lookups.
//
// PostgreSQL: a run holds a session-level advisory lock (named after the table prefix) on a
// connection of its own, so that instances starting together migrate one after the other and
// the later ones find nothing to do. Indexes on tables that already existed are built with
// CREATE INDEX CONCURRENTLY outside any transaction, so that the tables stay writable; an
// index of the same name left INVALID by an interrupted concurrent build is dropped and built
// again. Tables created by the run itself get their indexes in the transaction that creates
// them (they hold no rows and nobody else uses them yet). SQLite: the whole run is one
// transaction that holds the database's write lock, as before.

// versionsTable is the name, after the prefix, of the schema version table.
const versionsTable = "schema_migrations"

// versions is the name of the schema version table.
func (t tables) versions() string { return t.prefix + versionsTable }

// schemaMigrationRow is a row of <prefix>schema_migrations: an applied migration.
type schemaMigrationRow struct {
	Version   int64     `gorm:"column:version;primaryKey;autoIncrement:false"`
	Name      string    `gorm:"column:name;not null"`
	AppliedAt time.Time `gorm:"column:applied_at;not null"`
}

// MigrationStatus is the state of one numbered schema migration.
type MigrationStatus struct {
	// Version is the migration's number; migrations run in increasing order.
	Version int
	// Name says what the migration does.
	Name string
	// AppliedAt is when the migration was applied (UTC), or zero while it is pending.
	AppliedAt time.Time
}

// Pending reports whether the migration has not been applied yet.
func (m MigrationStatus) Pending() bool { return m.AppliedAt.IsZero() }

// migration is one numbered migration.
type migration struct {
	version int
	name    string
	run     func(m *migrator, ctx context.Context) error
}

// migrations returns every migration in order of version. Append new ones; never change or
// renumber one that has been released.
func migrations() []migration {
	return []migration{
		{1, "initial schema", (*migrator).initialSchema},
	}
}

// LatestSchemaVersion is the number of the last migration this release knows; a store is
// up to date (and Ready) when every migration up to it has been applied.
func LatestSchemaVersion() int {
	all := migrations()
	return all[len(all)-1].version
}

// Migrate brings the schema up to date: it runs MigrateUp and drops its report.
func (s *Store) Migrate(ctx context.Context) error {
	_, err := s.MigrateUp(ctx)
	return err
}

// MigrateUp applies the pending migrations in order and returns those it applied (none when
// the schema was up to date). A database whose tables were created by a release before
// versioned migrations (tables present, no version table) is adopted: migration 1 runs over
// the existing tables, adding only what they lack (no row is changed or lost), and is then
// recorded as applied. After the numbered migrations, MigrateUp re-keys users written under
// an older login normalization (a key that now equals another user's is left as it was and
// reported) and creates the unique indexes on login_skeleton (confusable logins),
// external_user_id, facebook_id and twitter_id when no two users of an application share a
// value; otherwise it logs a warning naming the application, the field and the user ids,
// skips that index and succeeds, and a later MigrateUp creates it once the duplicates are
// resolved.
//
// Several processes may call it at the same time: on SQLite the run is one transaction
// holding the write lock; on PostgreSQL it holds an advisory lock named after the table
// prefix, the others wait for it (polling, as long as ctx allows) and then find nothing left
// to apply. On PostgreSQL, indexes on existing tables are built concurrently, outside a
// transaction; a run that fails part-way leaves its migration unrecorded and the next run
// completes it.
func (s *Store) MigrateUp(ctx context.Context) ([]MigrationStatus, error) {
	ran, err := s.migrateUp(ctx, migrations())
	if err != nil {
		return ran, s.fail("migrate", err)
	}
	return ran, nil
}

// MigrationStatus lists every migration this release knows, in order, with the time each
// was applied or as pending, followed by any migration the database records that this
// release does not know (applied by a newer release). It changes nothing.
func (s *Store) MigrationStatus(ctx context.Context) ([]MigrationStatus, error) {
	applied, err := s.appliedMigrations(s.db.WithContext(ctx))
	if err != nil {
		return nil, s.fail("migration status", err)
	}
	return mergeStatus(migrations(), applied), nil
}

// mergeStatus lists all with their applied times from applied, then the applied migrations
// all does not name.
func mergeStatus(all []migration, applied map[int]schemaMigrationRow) []MigrationStatus {
	out := make([]MigrationStatus, 0, len(all))
	known := make(map[int]bool, len(all))
	for _, m := range all {
		known[m.version] = true
		st := MigrationStatus{Version: m.version, Name: m.name}
		if r, ok := applied[m.version]; ok {
			st.AppliedAt = r.AppliedAt.UTC()
		}
		out = append(out, st)
	}
	var extra []MigrationStatus
	for v, r := range applied {
		if !known[v] {
			extra = append(extra, MigrationStatus{Version: v, Name: r.Name, AppliedAt: r.AppliedAt.UTC()})
		}
	}
	slices.SortFunc(extra, func(a, b MigrationStatus) int { return a.Version - b.Version })
	return append(out, extra...)
}

// appliedMigrations reads the version table; a missing table means none applied.
func (s *Store) appliedMigrations(db *gorm.DB) (map[int]schemaMigrationRow, error) {
	if !db.Migrator().HasTable(s.t.versions()) {
		return map[int]schemaMigrationRow{}, nil
	}
	var rows []schemaMigrationRow
	if err := db.Table(s.t.versions()).Order("version").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make(map[int]schemaMigrationRow, len(rows))
	for _, r := range rows {
		out[int(r.Version)] = r
	}
	return out, nil
}

// migrateUp runs the migrations of list that are pending, then the guarded step.
func (s *Store) migrateUp(ctx context.Context, list []migration) ([]MigrationStatus, error) {
	if s.db.Dialector.Name() != "postgres" {
		var ran []MigrationStatus
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			var err error
			ran, err = (&migrator{s: s, db: tx}).up(ctx, list)
			return err
		})
		if err != nil {
			return nil, err // rolled back: nothing was applied
		}
		return ran, nil
	}
	unlock, err := s.lockMigrations(ctx)
	if err != nil {
		return nil, fmt.Errorf("taking the migration lock: %w", err)
	}
	defer unlock()
	return (&migrator{s: s, db: s.db.WithContext(ctx), pg: true}).up(ctx, list)
}

// migrator runs migrations on one database.
type migrator struct {
	s *Store
	// db is, on SQLite, the transaction of the whole run; on PostgreSQL, the pool.
	db *gorm.DB
	pg bool
}

// up creates the version table if needed, applies the pending migrations of list and runs
// the guarded step. It returns the migrations it applied, also when a later one fails.
func (m *migrator) up(ctx context.Context, list []migration) ([]MigrationStatus, error) {
	s := m.s
	if !m.db.Migrator().HasTable(s.t.versions()) {
		legacy := false
		for _, t := range s.models() {
			if m.db.Migrator().HasTable(t.table) {
				legacy = true
				break
			}
		}
		if legacy {
			s.log.InfoContext(ctx, "gormstore: migrate: adopting a database created before versioned migrations; its tables are kept and completed",
				slog.String("prefix", s.t.prefix))
		}
		if err := m.db.Table(s.t.versions()).AutoMigrate(&schemaMigrationRow{}); err != nil {
			return nil, fmt.Errorf("%s: %w", s.t.versions(), err)
		}
	}
	applied, err := s.appliedMigrations(m.db)
	if err != nil {
		return nil, err
	}
	var ran []MigrationStatus
	for _, mg := range list {
		if _, ok := applied[mg.version]; ok {
			continue
		}
		if err := mg.run(m, ctx); err != nil {
			return ran, fmt.Errorf("migration %d (%s): %w", mg.version, mg.name, err)
		}
		row := schemaMigrationRow{Version: int64(mg.version), Name: mg.name, AppliedAt: dbTime(time.Now())}
		if err := m.db.Table(s.t.versions()).Create(&row).Error; err != nil {
			return ran, fmt.Errorf("recording migration %d: %w", mg.version, err)
		}
		ran = append(ran, MigrationStatus{Version: mg.version, Name: mg.name, AppliedAt: row.AppliedAt})
	}
	if last := list[len(list)-1].version; len(applied) > 0 {
		for v := range applied {
			if v > last {
				s.log.WarnContext(ctx, "gormstore: migrate: the database has migrations of a newer release applied",
					slog.Int("version", v), slog.Int("latest_known", last))
				break
			}
		}
	}
	if err := s.migrateGuarded(ctx, m); err != nil {
		return ran, err
	}
	return ran, nil
}

// initialSchema is migration 1: every table of models() and the indexes of indexDDL and
// searchIndexDDL. On a database of an earlier release it adds the missing columns and
// indexes only.
func (m *migrator) initialSchema(ctx context.Context) error {
	s := m.s
	fresh := true
	for _, t := range s.models() {
		if m.db.Migrator().HasTable(t.table) {
			fresh = false
			break
		}
	}
	ddl := append(s.indexDDL(), s.searchIndexDDL()...)
	err := m.tx(func(tx *gorm.DB) error {
		for _, t := range s.models() {
			if err := tx.Table(t.table).AutoMigrate(t.model); err != nil {
				return fmt.Errorf("%s: %w", t.table, err)
			}
		}
		if !fresh {
			return nil
		}
		// New, empty tables that no one else uses yet: plain DDL in this transaction.
		for _, d := range ddl {
			if err := tx.Exec(d).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || fresh {
		return err
	}
	for _, d := range ddl {
		if err := m.index(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// tx runs f in a transaction: on SQLite the run's own, on PostgreSQL a new one.
func (m *migrator) tx(f func(tx *gorm.DB) error) error {
	if !m.pg {
		return f(m.db)
	}
	return m.db.Transaction(f)
}

// indexDDLPattern matches the index statements of this package.
var indexDDLPattern = regexp.MustCompile(`^CREATE (UNIQUE )?INDEX IF NOT EXISTS ([a-z0-9_]+) ON `)

// indexName returns the name of the index ddl creates ("" when ddl is not of the form
// "CREATE [UNIQUE] INDEX IF NOT EXISTS name ON ...").
func indexName(ddl string) string {
	if m := indexDDLPattern.FindStringSubmatch(ddl); m != nil {
		return m[2]
	}
	return ""
}

// indexState is whether an index exists and can be used.
type indexState int

const (
	indexMissing indexState = iota
	indexValid
	// indexInvalid is a PostgreSQL index left by a concurrent build that failed or was
	// interrupted: it serves no query, and may still be maintained (and, when unique,
	// enforced) on writes.
	indexInvalid
)

// indexState reports the state of the index name (with its prefix).
func (m *migrator) indexState(name string) (indexState, error) {
	if !m.pg {
		var n int64
		if err := m.db.Raw("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?", name).Scan(&n).Error; err != nil {
			return 0, err
		}
		if n == 0 {
			return indexMissing, nil
		}
		return indexValid, nil
	}
	var valid []bool
	err := m.db.Raw("SELECT i.indisvalid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid"+
		" WHERE c.relname = ? AND c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = current_schema())", name).
		Scan(&valid).Error
	switch {
	case err != nil:
		return 0, err
	case len(valid) == 0:
		return indexMissing, nil
	case valid[0]:
		return indexValid, nil
	default:
		return indexInvalid, nil
	}
}

// index creates the index of ddl (a statement of indexDDL's form) unless it exists. On
// PostgreSQL it is built concurrently, outside a transaction, after dropping an invalid
// index of the same name.
func (m *migrator) index(ctx context.Context, ddl string) error {
	if !m.pg {
		return m.db.Exec(ddl).Error
	}
	name := indexName(ddl)
	if name == "" {
		return fmt.Errorf("not an index statement: %q", ddl)
	}
	state, err := m.indexState(name)
	if err != nil || state == indexValid {
		return err
	}
	if state == indexInvalid {
		m.s.log.InfoContext(ctx, "gormstore: migrate: rebuilding an index left invalid by an interrupted build", slog.String("index", name))
		if err := m.dropIndex(name); err != nil {
			return err
		}
	}
	return m.db.Exec(strings.Replace(ddl, " INDEX IF NOT EXISTS ", " INDEX CONCURRENTLY IF NOT EXISTS ", 1)).Error
}

// dropIndex drops the index name if it exists; concurrently on PostgreSQL.
func (m *migrator) dropIndex(name string) error {
	if m.pg {
		return m.db.Exec("DROP INDEX CONCURRENTLY IF EXISTS " + name).Error
	}
	return m.db.Exec("DROP INDEX IF EXISTS " + name).Error
}

// lockPoll is how often a PostgreSQL migration run waiting for another one tries the lock
// again.
const lockPoll = 200 * time.Millisecond

// lockMigrations takes the PostgreSQL advisory lock of migrations on a connection of its own
// and returns the function that releases it and gives the connection back.
//
// It polls pg_try_advisory_lock rather than waiting in pg_advisory_lock: a session waiting in
// a statement holds a snapshot, and CREATE INDEX CONCURRENTLY waits for every older snapshot
// of the database, so the lock holder's index build would wait for the waiter, which waits
// for the lock holder.
func (s *Store) lockMigrations(ctx context.Context) (unlock func(), err error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	// discard closes conn without returning it to the pool, so that a lock it may hold ends
	// with its session.
	discard := func() {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		_ = conn.Close()
	}
	key := migrateLockKey(s.t.prefix)
	for {
		var ok bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
			discard()
			return nil, err
		}
		if ok {
			break
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			_ = conn.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	return func() {
		var released bool
		err := conn.QueryRowContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key).Scan(&released)
		if err != nil || !released {
			discard()
			return
		}
		_ = conn.Close()
	}, nil
}
