//go:build cgo

package gormstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mattn/go-sqlite3"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
)

// This file holds everything that needs the SQLite driver (mattn/go-sqlite3, which is cgo);
// sqlite_nocgo.go declares the same functions for builds without cgo.

// OpenSQLite opens (creating if needed) the SQLite database at path and returns a Store on
// it. File databases use WAL journaling, synchronous=NORMAL, a 5 s busy timeout, foreign keys
// and immediate transactions (a writing transaction takes the write lock when it begins, so
// concurrent writers wait instead of failing). path may carry driver options after a "?"
// ("_busy_timeout=10000"); those given win over the defaults. path may also be a "file:" URI
// or ":memory:", a new database private to the Store. An in-memory database (":memory:",
// "file::memory:...", "mode=memory") is served by a single connection, so every query of the
// Store sees the same database.
func OpenSQLite(path string, cfg Config) (*Store, error) {
	if path == "" {
		return nil, errors.New("gormstore: empty SQLite path")
	}
	memory := path == ":memory:" || strings.HasPrefix(path, "file::memory:") || strings.Contains(path, "mode=memory")
	dsn := path
	if path == ":memory:" {
		dsn = "file::memory:"
	}
	params := []string{"_busy_timeout=5000", "_foreign_keys=1", "_txlock=immediate"}
	if !memory {
		params = append(params, "_journal_mode=WAL", "_synchronous=NORMAL")
	}
	for _, p := range params {
		key := p[:strings.IndexByte(p, '=')+1]
		if strings.Contains(dsn, "?"+key) || strings.Contains(dsn, "&"+key) {
			continue
		}
		if strings.Contains(dsn, "?") {
			dsn += "&" + p
		} else {
			dsn += "?" + p
		}
	}
	gcfg := openConfig(cfg)
	// Re-parsing each statement costs SQLite more than the lookup itself; PostgreSQL's pgx
	// driver caches prepared statements on its own.
	gcfg.PrepareStmt = true
	gcfg.PrepareStmtMaxSize = 256
	db, err := gorm.Open(sqlite.Open(dsn), gcfg)
	if err != nil {
		return nil, fmt.Errorf("gormstore: open sqlite: %w", classify(err))
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("gormstore: open sqlite: %w", err)
	}
	if memory {
		// Every connection to a private memory database is a new, empty database.
		sqlDB.SetMaxOpenConns(1)
		sqlDB.SetMaxIdleConns(1)
		sqlDB.SetConnMaxLifetime(0)
		sqlDB.SetConnMaxIdleTime(0)
	}
	st, err := New(db, cfg)
	if err != nil {
		sqlDB.Close()
		return nil, err
	}
	return st, nil
}

// OpenMemory opens a new, private, empty in-memory SQLite database and migrates it: the
// store for tests and examples. Each call returns an independent database, gone on Close.
func OpenMemory(cfg Config) (*Store, error) {
	st, err := OpenSQLite(":memory:", cfg)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(context.Background()); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// sqliteUnavailable reports whether err is a SQLite error meaning the database cannot serve
// now (busy or locked beyond the busy timeout, I/O errors, a full disk, a read-only file).
func sqliteUnavailable(err error) bool {
	var liteErr sqlite3.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code {
		case sqlite3.ErrBusy, sqlite3.ErrLocked, sqlite3.ErrIoErr, sqlite3.ErrCantOpen,
			sqlite3.ErrFull, sqlite3.ErrNomem, sqlite3.ErrProtocol, sqlite3.ErrReadonly:
			return true
		}
	}
	return false
}

// sqliteUniqueIndex classifies a SQLite error as uniqueIndex does; ok is false when err is
// not a SQLite error.
func (s *Store) sqliteUniqueIndex(err error) (idx string, unique, ok bool) {
	var liteErr sqlite3.Error
	if errors.As(err, &liteErr) {
		if liteErr.ExtendedCode != sqlite3.ErrConstraintUnique && liteErr.ExtendedCode != sqlite3.ErrConstraintPrimaryKey {
			return "", false, true
		}
		// "UNIQUE constraint failed: identity_users.application_id, identity_users.login_key";
		// an index on an expression is named instead: "...failed: index 'identity_users_x'".
		msg := liteErr.Error()
		for _, idx := range []string{idxUserFacebookID, idxUserTwitterID} {
			if strings.Contains(msg, "index '"+s.t.prefix+idx+"'") {
				return idx, true, true
			}
		}
		cols := map[string]string{
			s.t.users + ".external_user_id": idxUserExternalUserID,
			s.t.users + ".login_skeleton":   idxUserLoginSkeleton,
			s.t.apps + ".auth_key":          idxAppAuthKey,
			s.t.users + ".uid":              idxUserUID,
			s.t.users + ".login_key":        idxUserLogin,
			s.t.users + ".email_key":        idxUserEmail,
			s.t.accounts + ".subject":       idxAccountSubject,
			s.t.sessions + ".token_hash":    idxSessionToken,
		}
		for col, idx := range cols {
			if strings.Contains(msg, col) {
				return idx, true, true
			}
		}
		return "", true, true
	}
	return "", false, false
}
