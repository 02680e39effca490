package blobstore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity/store/blobstore/blobstoretest"
)

func openDir(t *testing.T) (*Dir, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "blobs")
	d, err := OpenDir(p)
	if err != nil {
		t.Fatalf("OpenDir: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d, p
}

// files lists every regular file and symlink under dir, relative, sorted.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestConformance(t *testing.T) {
	blobstoretest.Run(t, func(t *testing.T) blobstoretest.Target {
		d, dir := openDir(t)
		return blobstoretest.Target{Storage: d, Stored: func(t *testing.T) []string { return files(t, dir) }}
	})
}

// Files are private to the server's user.
func TestFileMode(t *testing.T) {
	d, dir := openDir(t)
	if _, err := d.Put(t.Context(), "7/ab/abcdef", strings.NewReader("x"), 10); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "7/ab/abcdef")); err != nil || fi.Mode().Perm() != filePerm {
		t.Fatalf("file mode: %v %v", fi, err)
	}
}

// Invalid keys are ErrInvalidKey, and nothing appears next to the directory either.
func TestInvalidKeys(t *testing.T) {
	d, dir := openDir(t)
	ctx := t.Context()
	for _, k := range []string{"", "../x", "a/../../x", "/etc/passwd", ".tmp-abc", "a.png"} {
		if _, err := d.Put(ctx, k, strings.NewReader("x"), 10); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
		}
		if _, _, err := d.Open(ctx, k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Open(%q) = %v, want ErrInvalidKey", k, err)
		}
		if err := d.Delete(ctx, k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	if got := files(t, filepath.Dir(dir)); len(got) != 0 {
		t.Fatalf("files next to the directory = %v", got)
	}
}

// A symbolic link inside the directory cannot lead a Put, Open or Delete outside it.
func TestSymlinkEscape(t *testing.T) {
	d, dir := openDir(t)
	ctx := t.Context()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "escape")); err != nil {
		t.Skipf("symlinks not supported: %v", err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "leak")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Put(ctx, "escape/planted", strings.NewReader("x"), 10); err == nil {
		t.Error("Put through a symlink out of the directory succeeded")
	}
	if rc, _, err := d.Open(ctx, "escape/secret"); err == nil {
		rc.Close()
		t.Error("Open through a symlinked directory out of the directory succeeded")
	}
	if rc, _, err := d.Open(ctx, "leak"); err == nil {
		rc.Close()
		t.Error("Open of a symlink to a file outside succeeded")
	}
	d.Delete(ctx, "escape/secret")
	if b, err := os.ReadFile(secret); err != nil || string(b) != "secret" {
		t.Fatalf("the file outside was touched: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a file was planted outside: %v", err)
	}
}

func TestRemoveTemp(t *testing.T) {
	d, dir := openDir(t)
	ctx := t.Context()
	if _, err := d.Put(ctx, "5/ab/real", strings.NewReader("x"), 10); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "5", "ab", tempPrefix+"old")
	fresh := filepath.Join(dir, "5", "ab", tempPrefix+"fresh")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	n, err := d.RemoveTemp(ctx, time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("RemoveTemp = %d, %v", n, err)
	}
	want := []string{"5/ab/.tmp-fresh", "5/ab/real"}
	if got := files(t, dir); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("files = %v, want %v", got, want)
	}
}

func TestOpenDirErrors(t *testing.T) {
	if _, err := OpenDir(""); err == nil {
		t.Error("OpenDir(\"\") succeeded")
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := OpenDir(filepath.Join(f, "sub")); err == nil {
		t.Error("OpenDir under a file succeeded")
	}
	d, _ := openDir(t)
	if _, err := d.Put(t.Context(), "k", strings.NewReader("x"), 0); err == nil {
		t.Error("Put with maxBytes 0 succeeded")
	}
}
