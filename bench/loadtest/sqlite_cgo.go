//go:build cgo

package main

import "github.com/mattn/go-sqlite3"

// sqliteVersion is the version of the SQLite library linked into this program (the one the
// server binary built from the same module links too).
func sqliteVersion() string {
	v, _, _ := sqlite3.Version()
	return v
}
