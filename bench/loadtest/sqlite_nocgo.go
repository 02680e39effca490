//go:build !cgo

package main

// sqliteVersion cannot tell the SQLite version: this program was built without cgo, so it
// links no SQLite (and neither does a server built the same way).
func sqliteVersion() string { return "(version unknown: built without cgo)" }
