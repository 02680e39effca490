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

	"gorm.io/gorm"

	"github.com/identitykit/identity"
)

// fail wraps an unexpected database error for op. Errors that mean the database cannot be
// reached or cannot serve now also wrap identity.ErrUnavailable.
func (s *Store) fail(op string, err error) error {
	err = fmt.Errorf("gormstore: %s: %w", op, classify(err))
	if s.observeError != nil {
		s.observeError(op, err)
	}
	return err
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
	return pgUnavailable(err) || sqliteUnavailable(err)
}

// uniqueIndex reports whether err is a unique-index violation and, if so, which of the
// store's unique indexes (one of the idx* names, "" when it cannot be told) was violated.
func (s *Store) uniqueIndex(err error) (string, bool) {
	if idx, unique, ok := s.pgUniqueIndex(err); ok {
		return idx, unique
	}
	if idx, unique, ok := s.sqliteUniqueIndex(err); ok {
		return idx, unique
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
			return identity.NewError(op, identity.ErrUserExists, field, "taken")
		}
		if idx == idxAccountSubject {
			return identity.NewError(op, identity.ErrUserExists, "external_account", "taken")
		}
	}
	return s.fail(op, err)
}
