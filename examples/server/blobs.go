package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/store/blobstore"
)

// blobDir is the directory of uploaded files (avatars): -blob-dir, or "blobs" next to the
// SQLite database (in the working directory for PostgreSQL). "" means off.
func (c *config) blobDir() string {
	switch d := strings.TrimSpace(c.BlobDir); {
	case d == "off":
		return ""
	case d != "":
		return d
	case c.isPostgres():
		return "blobs"
	default:
		return filepath.Join(filepath.Dir(c.DB), "blobs")
	}
}

// parseGrantKey decodes -blob-grant-key (hex, at least 32 bytes); "" means a random key per
// process.
func parseGrantKey(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	k, err := hex.DecodeString(s)
	if err != nil || len(k) < 32 {
		// Never quote the value: it is a secret.
		return nil, fmt.Errorf("-blob-grant-key: want at least 64 hexadecimal characters (32 bytes)")
	}
	return k, nil
}

// openBlobs opens the blob directory of cfg and returns the identity.BlobConfig that uses it
// (the zero BlobConfig when file storage is off). close releases the directory.
func openBlobs(ctx context.Context, cfg *config, log *slog.Logger) (bc identity.BlobConfig, close func(), err error) {
	close = func() {}
	dir := cfg.blobDir()
	if dir == "" {
		log.Info("server: file storage is off (-blob-dir=off): avatars are free text")
		return bc, close, nil
	}
	d, err := blobstore.OpenDir(dir)
	if err != nil {
		return bc, close, fmt.Errorf("server: blob directory: %w", err)
	}
	// Leftovers of uploads a killed process was receiving.
	if n, err := d.RemoveTemp(ctx, time.Hour); err != nil {
		log.Warn("server: removing partial uploads failed", "err", err)
	} else if n > 0 {
		log.Info("server: removed partial uploads", "count", n)
	}
	if cfg.BlobGrantKey == nil {
		log.Info("server: upload grants are signed with a random per-process key; set -blob-grant-key when several instances serve one database")
	}
	return identity.BlobConfig{Storage: d, MaxSize: cfg.MaxBlobBytes, GrantKey: cfg.BlobGrantKey}, func() { d.Close() }, nil
}
