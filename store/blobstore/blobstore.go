// Package blobstore keeps the bytes of blobs (avatars and other files, package blob) in a
// local directory: the blob.Storage used by default.
//
//	dir, err := blobstore.OpenDir("/var/lib/identity/blobs")
//	if err != nil { ... }
//	defer dir.Close()
//	files, err := blob.New(id, blob.Config{Store: st, Storage: dir})
//
// A key ("12/ab/ab3f...") is a relative path inside the directory; every file access goes
// through an os.Root opened on it, so nothing outside the directory is ever read, written or
// removed, whatever a key or a symbolic link inside the directory says. Keys are validated
// anyway (segments of ASCII letters, digits, '-' and '_'; no dots), and package blob derives them
// from random UIDs, never from client file names.
//
// Writes are atomic: Put streams into a temporary file in the key's directory (named
// ".tmp-<random>", which no key can name), fsyncs it and renames it over the key, then
// fsyncs the directory; on any failure the temporary file is removed. A process killed in
// the middle of a Put can leave a ".tmp-*" file behind, never a partial object under a key;
// RemoveTemp deletes such leftovers.
//
// store/blobstore/s3blob keeps them in an S3-compatible bucket instead, for several
// instances; blobstoretest is the conformance suite both pass.
package blobstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
	"github.com/identitykit/identity/internal/blobkey"
)

// ErrInvalidKey is returned for a key that is not a valid blob key.
var ErrInvalidKey = errors.New("blobstore: invalid key")

const (
	tempPrefix = ".tmp-"
	dirPerm    = 0o700
	filePerm   = 0o600
)

// Dir is a blob.Storage in a local directory. It is safe for concurrent use.
type Dir struct {
	root *os.Root
}

var _ blob.Storage = (*Dir)(nil)

// OpenDir opens the directory at dir, creating it (mode 0700) if it does not exist.
func OpenDir(dir string) (*Dir, error) {
	if dir == "" {
		return nil, errors.New("blobstore: empty directory path")
	}
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	return &Dir{root: root}, nil
}

// Close releases the directory. Calls made after Close fail.
func (d *Dir) Close() error { return d.root.Close() }

// checkKey validates key and returns its directory ("" for a key of one segment).
func checkKey(key string) (string, error) {
	if !blobkey.Valid(key) {
		return "", ErrInvalidKey
	}
	dir := path.Dir(key)
	if dir == "." {
		dir = ""
	}
	return dir, nil
}

// Put stores at most maxBytes bytes of r under key, atomically (see the package
// documentation). More than maxBytes is an error wrapping blob.ErrTooLarge; errors
// reading r are returned wrapped; nothing is stored on any error.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader, maxBytes int64) (n int64, err error) {
	dir, err := checkKey(key)
	if err != nil {
		return 0, err
	}
	if maxBytes <= 0 {
		return 0, errors.New("blobstore: Put: maxBytes must be positive")
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if dir != "" {
		if err := d.root.MkdirAll(dir, dirPerm); err != nil {
			return 0, fmt.Errorf("blobstore: %w", err)
		}
	}
	tmp := path.Join(dir, tempPrefix+randomHex(12))
	f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return 0, fmt.Errorf("blobstore: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			d.root.Remove(tmp)
			n = 0
		}
	}()
	src := &ctxReader{ctx: ctx, r: io.LimitReader(r, maxBytes+1)}
	n, err = io.Copy(f, src)
	if src.err != nil {
		return 0, fmt.Errorf("blobstore: reading the upload: %w", src.err)
	}
	if err != nil {
		return 0, fmt.Errorf("blobstore: %w", err)
	}
	if n > maxBytes {
		return 0, fmt.Errorf("blobstore: more than %d bytes: %w", maxBytes, blob.ErrTooLarge)
	}
	if err = f.Sync(); err != nil {
		return 0, fmt.Errorf("blobstore: %w", err)
	}
	if err = f.Close(); err != nil {
		return 0, fmt.Errorf("blobstore: %w", err)
	}
	if err = d.root.Rename(tmp, key); err != nil {
		return 0, fmt.Errorf("blobstore: %w", err)
	}
	d.syncDir(dir)
	return n, nil
}

// syncDir makes a rename in dir durable. Failure is not reported: the data itself is
// synced, and some filesystems cannot sync directories.
func (d *Dir) syncDir(dir string) {
	if dir == "" {
		dir = "."
	}
	if f, err := d.root.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}

// ctxReader stops reading when ctx ends and remembers the reader's own error (as opposed
// to a write error), so Put can report it as the upload's failure.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
	err error
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		c.err = err
		return 0, err
	}
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

// Open returns the content under key, its size and modification time. A missing key is an
// error wrapping identity.ErrNotFound.
func (d *Dir) Open(ctx context.Context, key string) (io.ReadSeekCloser, blob.Stat, error) {
	if _, err := checkKey(key); err != nil {
		return nil, blob.Stat{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, blob.Stat{}, err
	}
	f, err := d.root.Open(key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, blob.Stat{}, fmt.Errorf("blobstore: %s: %w", key, identity.ErrNotFound)
	}
	if err != nil {
		return nil, blob.Stat{}, fmt.Errorf("blobstore: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, blob.Stat{}, fmt.Errorf("blobstore: %w", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, blob.Stat{}, fmt.Errorf("blobstore: %s is not a regular file: %w", key, identity.ErrNotFound)
	}
	return f, blob.Stat{Size: st.Size(), ModTime: st.ModTime()}, nil
}

// Delete removes the content under key; a missing key is not an error.
func (d *Dir) Delete(ctx context.Context, key string) error {
	if _, err := checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := d.root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blobstore: %w", err)
	}
	return nil
}

// RemoveTemp deletes the temporary files (".tmp-*") older than age that interrupted Puts
// left behind (a process killed mid-upload) and returns how many it removed. Puts in
// progress are younger than any sensible age (an hour, say).
func (d *Dir) RemoveTemp(ctx context.Context, age time.Duration) (int, error) {
	cutoff := time.Now().Add(-age)
	n := 0
	err := fs.WalkDir(d.root.FS(), ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if e.IsDir() || !strings.HasPrefix(e.Name(), tempPrefix) {
			return nil
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if info.ModTime().Before(cutoff) {
			if err := d.root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("blobstore: %w", err)
	}
	return n, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("blobstore: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}
