// Package gormstore implements identity.Store with GORM on SQLite (the embedded default) and
// PostgreSQL.
//
// Open a store, create its tables once, and hand it to identity.New:
//
//	st, err := gormstore.OpenSQLite("identity.db", gormstore.Config{})
//	if err != nil { ... }
//	defer st.Close()
//	if err := st.Migrate(ctx); err != nil { ... }
//	id, err := identity.New(identity.Config{Store: st, ...})
//
// Every table and index name starts with Config.TablePrefix ("identity_"), so the tables can
// live in an application's own database. Uniqueness (auth keys, logins and emails per
// application case-insensitively, external_user_id, facebook_id and twitter_id per
// application, external accounts, session token hashes, nonces) is
// enforced by unique indexes, never by reading before writing; a violated index is reported
// with the sentinel the identity.Store contract names. Failures that mean the database cannot
// be reached (refused or dropped connections, a closed pool, SQLite busy beyond its timeout,
// PostgreSQL connection and resource errors) wrap identity.ErrUnavailable.
//
// Times are stored in UTC with microsecond precision.
//
// # Schema migrations
//
// The schema is built by numbered, forward-only migrations, recorded in
// <prefix>schema_migrations (number, name, time applied). Migrate (or MigrateUp, which also
// returns what it applied) applies the pending ones; MigrationStatus lists every migration
// as applied or pending and changes nothing; Ready reports not ready while one is pending.
// Migration 1 is the whole schema of the releases before versioned migrations.
//
// Applications usually call Migrate at every start: several instances may do so at once (on
// PostgreSQL a session advisory lock named after the table prefix lets one run and the others
// then find nothing to do; on SQLite the run is one transaction holding the write lock). To
// migrate as a separate deployment step instead, run MigrateUp from a tool (the example
// server has "server migrate status|up") and start the instances without calling Migrate,
// checking MigrationStatus or Ready.
//
// On PostgreSQL, indexes added to tables that already exist are built with CREATE INDEX
// CONCURRENTLY outside any transaction, so that the tables stay readable and writable while
// they build; an index left INVALID by an interrupted build is dropped and built again on the
// next run. A migration is recorded only once all its steps succeeded, and every step is
// safe to run again, so a run that fails part-way is completed by the next one.
//
// A database created by a release before versioned migrations (the tables present, no
// version table) is adopted on the first run: migration 1 runs over the existing tables,
// adding only the columns and indexes they lack, without changing or losing a row, and is
// recorded as applied.
//
// Every run also re-keys users written under an older login normalization and creates the
// unique indexes on confusable logins, external_user_id, facebook_id and twitter_id that
// existing duplicates held back, once the data allows (see MigrateUp): this step is not
// numbered, because it may wait for an operator to resolve duplicates, and costs a few index
// lookups once done.
//
// The SQLite driver (mattn/go-sqlite3) is C code and needs cgo. In a build without cgo
// (CGO_ENABLED=0) the package links no SQLite code and needs no C compiler: OpenPostgres works
// as usual, while OpenSQLite and OpenMemory keep their signatures and return an error saying
// SQLite needs a cgo build.
package gormstore

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"sync"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/identitykit/identity"
)

// DefaultTablePrefix is the table prefix used when Config.TablePrefix is empty.
const DefaultTablePrefix = "identity_"

// Config configures a Store.
type Config struct {
	// TablePrefix starts the name of every table and index the store creates and uses.
	// Lowercase ASCII letters, digits and underscores, starting with a letter, at most 32
	// characters. Default "identity_".
	TablePrefix string
	// Logger receives every SQL statement at slog.LevelDebug (without its parameter values,
	// which may be secrets) and statements slower than 200 ms at slog.LevelWarn. Default: for
	// the Open functions, nothing is logged; for New, the *gorm.DB's own logger is kept.
	// Migrate's warnings (users sharing a value that a new unique index forbids) and its
	// notices (adopting a database of a release before versioned migrations, rebuilding an
	// invalid index) go to Logger, or to slog.Default() when it is nil.
	Logger *slog.Logger
	// ObserveError, when set, is told every unexpected database error a store method returns
	// (not the errors the identity.Store contract names, such as not found or taken): op is
	// the method's operation ("create session", "search users", ...: a short fixed name), err
	// the error returned, which wraps identity.ErrUnavailable when the database could not be
	// reached. For metrics; it must be quick and safe for concurrent use. Default nil.
	ObserveError func(op string, err error)
}

// Store is an identity.Store backed by GORM. It is safe for concurrent use.
type Store struct {
	db  *gorm.DB
	t   tables
	log *slog.Logger // Migrate's warnings
	// observeError is Config.ObserveError (nil: none).
	observeError func(op string, err error)

	probeOnce sync.Once // Ready's schema check, built on first use
	probe     *readyProbe
	probeErr  error
}

var _ identity.Store = (*Store)(nil)

// tables holds the table names for one prefix.
type tables struct {
	prefix, apps, users, userTags, accounts, sessions, nonces string
}

func newTables(prefix string) tables {
	return tables{
		prefix:   prefix,
		apps:     prefix + "applications",
		users:    prefix + "users",
		userTags: prefix + "user_tags",
		accounts: prefix + "external_accounts",
		sessions: prefix + "sessions",
		nonces:   prefix + "nonces",
	}
}

var validPrefix = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// New returns a Store that uses db (which must be a SQLite or PostgreSQL connection). The
// store runs on its own GORM session of db (default transactions off, cfg.Logger when set),
// so db's settings are not changed. New does not touch the database; call Migrate to create
// the tables. A SQLite db should be opened as OpenSQLite does (busy timeout, immediate
// transactions); otherwise concurrent writers can fail with errors wrapping
// identity.ErrUnavailable.
func New(db *gorm.DB, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("gormstore: nil *gorm.DB")
	}
	if cfg.TablePrefix == "" {
		cfg.TablePrefix = DefaultTablePrefix
	}
	if !validPrefix.MatchString(cfg.TablePrefix) {
		return nil, fmt.Errorf("gormstore: invalid TablePrefix %q: want lowercase letters, digits and underscores, starting with a letter, at most 32 characters", cfg.TablePrefix)
	}
	switch name := db.Dialector.Name(); name {
	case "sqlite", "postgres":
	default:
		return nil, fmt.Errorf("gormstore: unsupported database %q (want sqlite or postgres)", name)
	}
	sess := &gorm.Session{SkipDefaultTransaction: true}
	log := slog.Default()
	if cfg.Logger != nil {
		sess.Logger = newLogger(cfg.Logger)
		log = cfg.Logger
	}
	return &Store{db: db.Session(sess), t: newTables(cfg.TablePrefix), log: log, observeError: cfg.ObserveError}, nil
}

func openConfig(cfg Config) *gorm.Config {
	c := &gorm.Config{SkipDefaultTransaction: true, Logger: logger.Discard}
	if cfg.Logger != nil {
		c.Logger = newLogger(cfg.Logger)
	}
	return c
}

// DB returns the *gorm.DB the store uses (for pool settings, health checks or the
// application's own tables). Use Table names with the store's prefix.
func (s *Store) DB() *gorm.DB { return s.db }

// Close closes the underlying database connection pool. A Store made by New closes the pool
// of the *gorm.DB it was given.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("gormstore: close: %w", err)
	}
	if err := sqlDB.Close(); err != nil {
		return fmt.Errorf("gormstore: close: %w", err)
	}
	return nil
}

// tableModel is a table Migrate creates and the row type that defines its columns.
type tableModel struct {
	table string
	model any
}

// models lists the tables migration 1 creates, in creation order; Ready checks the same list.
func (s *Store) models() []tableModel {
	return []tableModel{
		{s.t.apps, &applicationRow{}},
		{s.t.users, &userRow{}},
		{s.t.userTags, &userTagRow{}},
		{s.t.accounts, &externalAccountRow{}},
		{s.t.sessions, &sessionRow{}},
		{s.t.nonces, &nonceRow{}},
		{s.t.resetTokens(), &resetTokenRow{}},
		{s.blobs(), &blobRow{}},
	}
}

// migrateLockKey derives the PostgreSQL advisory lock key of migrations from the table prefix
// (FNV-1a, 64 bits). Releases before versioned migrations took the same key as a transaction
// lock, so that they and this one never migrate one database at the same time.
func migrateLockKey(prefix string) int64 {
	h := fnv.New64a()
	h.Write([]byte("gormstore migrate " + prefix))
	return int64(h.Sum64())
}

// Index names, without the table prefix. errors.go maps unique ones to fields.
const (
	idxAppAuthKey     = "applications_auth_key"
	idxUserUID        = "users_uid"
	idxUserLogin      = "users_login_key"
	idxUserEmail      = "users_email_key"
	idxAccountSubject = "external_accounts_subject"
	idxSessionToken   = "sessions_token_hash"
)

// indexDDL returns the CREATE INDEX statements, valid on SQLite and PostgreSQL. Unique
// indexes on nullable columns (login_key, email_key) ignore NULLs on both databases. The
// unique indexes that existing data may break are in guardedIndexes.
func (s *Store) indexDDL() []string {
	p, t := s.t.prefix, s.t
	return append([]string{
		"CREATE UNIQUE INDEX IF NOT EXISTS " + p + idxAppAuthKey + " ON " + t.apps + " (auth_key)",
		"CREATE UNIQUE INDEX IF NOT EXISTS " + p + idxUserUID + " ON " + t.users + " (uid)",
		"CREATE UNIQUE INDEX IF NOT EXISTS " + p + idxUserLogin + " ON " + t.users + " (application_id, login_key)",
		"CREATE UNIQUE INDEX IF NOT EXISTS " + p + idxUserEmail + " ON " + t.users + " (application_id, email_key)",
		"CREATE INDEX IF NOT EXISTS " + p + "users_key_version ON " + t.users + " (id) WHERE key_version < 1",
		"CREATE INDEX IF NOT EXISTS " + p + "users_guest_expires_at ON " + t.users + " (guest_expires_at) WHERE guest_expires_at IS NOT NULL",
		"CREATE INDEX IF NOT EXISTS " + p + "user_tags_search ON " + t.userTags + " (application_id, tag_key, user_id)",
		"CREATE UNIQUE INDEX IF NOT EXISTS " + p + idxAccountSubject + " ON " + t.accounts + " (application_id, provider, subject)",
		"CREATE INDEX IF NOT EXISTS " + p + "external_accounts_user_id ON " + t.accounts + " (user_id)",
		"CREATE UNIQUE INDEX IF NOT EXISTS " + p + idxSessionToken + " ON " + t.sessions + " (token_hash)",
		"CREATE INDEX IF NOT EXISTS " + p + "sessions_user_id ON " + t.sessions + " (user_id, created_at)",
		"CREATE INDEX IF NOT EXISTS " + p + "sessions_expires_at ON " + t.sessions + " (expires_at)",
		"CREATE INDEX IF NOT EXISTS " + p + "nonces_expires_at ON " + t.nonces + " (expires_at)",
	}, append(s.resetIndexDDL(), s.blobIndexDDL()...)...)
}
