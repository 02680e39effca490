package gormstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
	"gorm.io/gorm"

	"github.com/identitykit/identity"
)

// fail wraps an unexpected database error for op. Errors that mean the database cannot be
// reached or cannot serve now also wrap identity.ErrUnavailable.
func (s *Store) fail(op string, err error) error {
	return fmt.Errorf("gormstore: %s: %w", op, classify(err))
}

// classify returns err, additionally wrapping identity.ErrUnavailable when err means the
// database is unreachable or temporarily unable to serve.
func classify(err error) error {
	if err == nil || errors.Is(err, identity.ErrUnavailable) {
		return err
	}
	if unavailable(err) {
		return fmt.Errorf("%w: %w", identity.ErrUnavailable, err)
	}
	return err
}

func unavailable(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ETIMEDOUT) {
		return true
	}
	// database/sql does not export the error of a closed *sql.DB.
	if strings.Contains(err.Error(), "sql: database is closed") {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
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

// uniqueIndex reports whether err is a unique-index violation and, if so, which of the
// store's unique indexes (one of the idx* names, "" when it cannot be told) was violated.
func (s *Store) uniqueIndex(err error) (string, bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if pgErr.Code != "23505" {
			return "", false
		}
		name := strings.TrimPrefix(pgErr.ConstraintName, s.t.prefix)
		for _, idx := range []string{idxAppAuthKey, idxUserUID, idxUserLogin, idxUserEmail, idxAccountSubject, idxSessionToken,
			idxUserExternalUserID, idxUserFacebookID, idxUserTwitterID, idxUserLoginSkeleton} {
			if name == idx {
				return idx, true
			}
		}
		return "", true
	}
	var liteErr sqlite3.Error
	if errors.As(err, &liteErr) {
		if liteErr.ExtendedCode != sqlite3.ErrConstraintUnique && liteErr.ExtendedCode != sqlite3.ErrConstraintPrimaryKey {
			return "", false
		}
		// "UNIQUE constraint failed: identity_users.application_id, identity_users.login_key";
		// an index on an expression is named instead: "...failed: index 'identity_users_x'".
		msg := liteErr.Error()
		for _, idx := range []string{idxUserFacebookID, idxUserTwitterID} {
			if strings.Contains(msg, "index '"+s.t.prefix+idx+"'") {
				return idx, true
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
				return idx, true
			}
		}
		return "", true
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return "", true
	}
	return "", false
}

// userIndexFields names the user field of each unique index on users.
var userIndexFields = map[string]string{
	idxUserLogin:          "login",
	idxUserLoginSkeleton:  "login",
	idxUserEmail:          "email",
	idxUserExternalUserID: "external_user_id",
	idxUserFacebookID:     "facebook_id",
	idxUserTwitterID:      "twitter_id",
}

// userErr maps an error of a user write to the identity.Store contract.
func (s *Store) userErr(op string, err error) error {
	if e := (*identity.Error)(nil); errors.As(err, &e) {
		return err
	}
	if idx, ok := s.uniqueIndex(err); ok {
		if field, ok := userIndexFields[idx]; ok {
			return identity.FieldError(op, identity.ErrUserExists, field, "has already been taken")
		}
		if idx == idxAccountSubject {
			return identity.FieldError(op, identity.ErrUserExists, "base", "external account has already been taken")
		}
	}
	return s.fail(op, err)
}
