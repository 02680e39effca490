// Package blobkey checks the storage keys package blob gives a blob.Storage: one to eight
// "/"-separated segments of 1 to 128 ASCII letters, digits, '-' and '_' (no dots, so no
// segment is "." or ".." and no key names a temporary file). Every blob storage backend of
// this module checks keys with it.
package blobkey

import "strings"

const (
	maxSegments   = 8
	maxSegmentLen = 128
)

// Valid reports whether key is a valid blob key.
func Valid(key string) bool {
	segs := strings.Split(key, "/")
	if key == "" || len(segs) > maxSegments {
		return false
	}
	for _, s := range segs {
		if s == "" || len(s) > maxSegmentLen {
			return false
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
