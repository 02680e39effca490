//go:build !cgo

package gormstore

import "errors"

// The SQLite driver (mattn/go-sqlite3) is written in C and needs cgo. Without cgo this file
// replaces sqlite.go: the exported functions keep their signatures, so programs that also
// support SQLite still compile, and the binary links no SQLite code. PostgreSQL works on both
// builds.

// errNoSQLite is what OpenSQLite and OpenMemory return in a build without cgo.
var errNoSQLite = errors.New("gormstore: SQLite needs a cgo build (CGO_ENABLED=1 and a C compiler); use PostgreSQL or rebuild with cgo")

// OpenSQLite opens the SQLite database at path. This program was built without cgo, which
// the SQLite driver needs: OpenSQLite always returns an error saying so.
func OpenSQLite(path string, cfg Config) (*Store, error) { return nil, errNoSQLite }

// OpenMemory opens a new in-memory SQLite database. This program was built without cgo,
// which the SQLite driver needs: OpenMemory always returns an error saying so.
func OpenMemory(cfg Config) (*Store, error) { return nil, errNoSQLite }

// sqliteUnavailable reports false: without the driver there are no SQLite errors.
func sqliteUnavailable(error) bool { return false }

// sqliteUniqueIndex reports ok false: without the driver there are no SQLite errors.
func (s *Store) sqliteUniqueIndex(error) (idx string, unique, ok bool) { return "", false, false }
