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
	"github.com/identitykit/identity/blob"
	"github.com/identitykit/identity/store/blobstore"
	"github.com/identitykit/identity/store/blobstore/s3blob"
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

// checkBlobS3 checks the -blob-s3-* flags (without a request: openBlobs checks the bucket).
func (c *config) checkBlobS3() error {
	if c.BlobS3.Endpoint == "" {
		return nil
	}
	if strings.TrimSpace(c.BlobDir) != "" {
		return fmt.Errorf("-blob-dir and -blob-s3-endpoint: choose one place for uploaded files")
	}
	// s3blob's errors never include the secret key.
	if _, err := s3blob.New(c.BlobS3); err != nil {
		return fmt.Errorf("-blob-s3-*: %w", err)
	}
	return nil
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

// openBlobs opens the S3 bucket or the blob directory of cfg and returns the blob.Config that
// uses it, without its Store (newBlobs adds it); the zero Config, without Storage, when file
// storage is off. close releases the directory.
func openBlobs(ctx context.Context, cfg *config, log *slog.Logger) (bc blob.Config, close func(), err error) {
	close = func() {}
	if s3 := cfg.BlobS3; s3.Endpoint != "" {
		bs, err := s3blob.New(s3)
		if err != nil {
			return bc, close, fmt.Errorf("server: -blob-s3-*: %w", err)
		}
		if err := bs.Check(ctx); err != nil {
			return bc, close, fmt.Errorf("server: -blob-s3-*: %w", err)
		}
		log.Info("server: uploaded files are kept in S3", "endpoint", s3.Endpoint, "bucket", s3.Bucket, "prefix", s3.Prefix, "tls", !s3.InsecureNoTLS)
		return cfg.blobConfig(bs, log), close, nil
	}
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
	return cfg.blobConfig(d, log), func() { d.Close() }, nil
}

// blobConfig is the blob.Config of cfg with storage st.
func (c *config) blobConfig(st blob.Storage, log *slog.Logger) blob.Config {
	if c.BlobGrantKey == nil {
		log.Info("server: upload grants are signed with a random per-process key; set -blob-grant-key when several instances serve one database")
	}
	return blob.Config{Storage: st, MaxSize: c.MaxBlobBytes, GrantKey: c.BlobGrantKey, Logger: log}
}

// newBlobs starts file storage on id with bc (from openBlobs) and the store st; nil when
// bc has no Storage (file storage off).
func newBlobs(id *identity.Identity, st blob.Store, bc blob.Config) (*blob.Service, error) {
	if bc.Storage == nil {
		return nil, nil
	}
	bc.Store = st
	files, err := blob.New(id, bc)
	if err != nil {
		return nil, fmt.Errorf("server: file storage: %w", err)
	}
	return files, nil
}
