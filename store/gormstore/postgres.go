package gormstore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// OpenPostgres connects to the PostgreSQL database named by dsn (a URL or a key=value
// string as pgx accepts) and returns a Store on it. The connection is checked with a ping;
// an unreachable server yields an error wrapping identity.ErrUnavailable. The pool opens at
// most 32 connections (more concurrent queries wait for one) and keeps up to 16 idle, each
// closed after 5 minutes unused; database/sql's defaults (no limit, 2 idle) let a burst of
// requests exhaust PostgreSQL's max_connections and make a busy server reconnect constantly.
// Adjust it through DB(); PostgreSQL's max_connections must cover every instance's pool.
func OpenPostgres(dsn string, cfg Config) (*Store, error) {
	db, err := gorm.Open(postgres.Open(dsn), openConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("gormstore: open postgres: %w", classify(err))
	}
	tunePostgresPool(db)
	st, err := New(db, cfg)
	if err != nil {
		if sqlDB, e := db.DB(); e == nil {
			sqlDB.Close()
		}
		return nil, err
	}
	return st, nil
}

// pgUnavailable reports whether err is a PostgreSQL (pgx) error meaning the server cannot be
// reached or cannot serve now.
func pgUnavailable(err error) bool {
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) || pgconn.Timeout(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			strings.HasPrefix(pgErr.Code, "53"),  // insufficient resources (too many connections, disk full)
			strings.HasPrefix(pgErr.Code, "57P"), // admin shutdown, crash shutdown, cannot connect now
			pgErr.Code == "40001",                // serialization failure
			pgErr.Code == "40P01",                // deadlock detected
			pgErr.Code == "55P03",                // lock not available
			pgErr.Code == "57014":                // query canceled (statement timeout)
			return true
		}
		return false
	}
	return false
}

// pgUniqueIndex classifies a PostgreSQL error as uniqueIndex does; ok is false when err is
// not a PostgreSQL error.
func (s *Store) pgUniqueIndex(err error) (idx string, unique, ok bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if pgErr.Code != "23505" {
			return "", false, true
		}
		name := strings.TrimPrefix(pgErr.ConstraintName, s.t.prefix)
		for _, idx := range []string{idxAppAuthKey, idxUserUID, idxUserLogin, idxUserEmail, idxAccountSubject, idxSessionToken,
			idxUserExternalUserID, idxUserFacebookID, idxUserTwitterID, idxUserLoginSkeleton} {
			if name == idx {
				return idx, true, true
			}
		}
		return "", true, true
	}
	return "", false, false
}
