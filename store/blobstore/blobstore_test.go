package blobstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/identitykit/identity"
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

func readAll(t *testing.T, d *Dir, key string) []byte {
	t.Helper()
	rc, st, err := d.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size != int64(len(b)) {
		t.Fatalf("Open(%q) size %d, read %d bytes", key, st.Size, len(b))
	}
	return b
}

func TestPutOpenDelete(t *testing.T) {
	d, dir := openDir(t)
	ctx := t.Context()
	data := bytes.Repeat([]byte("avatar"), 1000)
	n, err := d.Put(ctx, "7/ab/abcdef", bytes.NewReader(data), int64(len(data)))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("Put = %d, %v", n, err)
	}
	if got := readAll(t, d, "7/ab/abcdef"); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	// Seeking works (http.ServeContent relies on it).
	rc, st, err := d.Open(ctx, "7/ab/abcdef")
	if err != nil {
		t.Fatal(err)
	}
	if end, err := rc.Seek(0, io.SeekEnd); err != nil || end != st.Size {
		t.Fatalf("Seek end = %d, %v", end, err)
	}
	rc.Close()
	if got := files(t, dir); len(got) != 1 || got[0] != "7/ab/abcdef" {
		t.Fatalf("files = %v", got)
	}
	if fi, err := os.Stat(filepath.Join(dir, "7/ab/abcdef")); err != nil || fi.Mode().Perm() != filePerm {
		t.Fatalf("file mode: %v %v", fi, err)
	}
	// Replacing a key.
	if _, err := d.Put(ctx, "7/ab/abcdef", strings.NewReader("new"), 10); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, d, "7/ab/abcdef"); string(got) != "new" {
		t.Fatalf("after replace: %q", got)
	}
	if err := d.Delete(ctx, "7/ab/abcdef"); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, "7/ab/abcdef"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	if _, _, err := d.Open(ctx, "7/ab/abcdef"); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("Open after Delete: %v, want ErrNotFound", err)
	}
	// Empty content is content.
	if n, err := d.Put(ctx, "empty", strings.NewReader(""), 1); err != nil || n != 0 {
		t.Fatalf("Put empty = %d, %v", n, err)
	}
	if got := readAll(t, d, "empty"); len(got) != 0 {
		t.Fatalf("empty: %q", got)
	}
}

func TestSizeLimit(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		max     int64
		wantErr error
	}{
		{"below", 99, 100, nil},
		{"exactly", 100, 100, nil},
		{"one over", 101, 100, identity.ErrTooLarge},
		{"far over", 1 << 20, 100, identity.ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, dir := openDir(t)
			n, err := d.Put(t.Context(), "k/x", bytes.NewReader(make([]byte, tc.size)), tc.max)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Put err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				if n != 0 {
					t.Fatalf("failed Put reported %d bytes", n)
				}
				if got := files(t, dir); len(got) != 0 {
					t.Fatalf("a rejected upload left %v", got)
				}
				return
			}
			if n != int64(tc.size) {
				t.Fatalf("n = %d", n)
			}
		})
	}
}

// failingReader yields some bytes, then an error.
type failingReader struct {
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	k := min(len(p), f.n)
	f.n -= k
	return k, nil
}

func TestFailedPutLeavesNothing(t *testing.T) {
	errBroken := errors.New("connection reset")
	d, dir := openDir(t)
	ctx := t.Context()
	// An existing object survives a failed replacement unchanged.
	if _, err := d.Put(ctx, "1/aa/keep", strings.NewReader("original"), 100); err != nil {
		t.Fatal(err)
	}
	_, err := d.Put(ctx, "1/aa/keep", &failingReader{n: 50000, err: errBroken}, 1<<20)
	if !errors.Is(err, errBroken) {
		t.Fatalf("Put with a broken reader: %v, want it wrapped", err)
	}
	_, err = d.Put(ctx, "1/aa/new", &failingReader{n: 50000, err: errBroken}, 1<<20)
	if !errors.Is(err, errBroken) {
		t.Fatalf("Put with a broken reader: %v", err)
	}
	if got := readAll(t, d, "1/aa/keep"); string(got) != "original" {
		t.Fatalf("failed replacement changed the object: %q", got)
	}
	if got := files(t, dir); len(got) != 1 || got[0] != "1/aa/keep" {
		t.Fatalf("files after failed Puts = %v", got)
	}

	// A context that ends mid-upload stops it and leaves nothing.
	cctx, cancel := context.WithCancel(ctx)
	r := &cancelAfter{n: 3, cancel: cancel}
	if _, err := d.Put(cctx, "1/aa/cancelled", r, 1<<20); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a cancelled context: %v", err)
	}
	if got := files(t, dir); len(got) != 1 {
		t.Fatalf("files after a cancelled Put = %v", got)
	}
	if _, err := d.Put(cctx, "1/aa/cancelled", strings.NewReader("x"), 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a done context: %v", err)
	}
}

// cancelAfter yields 1 KiB per read and cancels after n reads.
type cancelAfter struct {
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	c.n--
	if c.n == 0 {
		c.cancel()
	}
	return min(len(p), 1024), nil
}

func TestInvalidKeys(t *testing.T) {
	d, dir := openDir(t)
	ctx := t.Context()
	outside := filepath.Dir(dir)
	keys := []string{
		"", "/", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", ".", "..",
		".tmp-abc", "a/.tmp-abc", "a.png", "a\\b", "..\\x", "a b", "é", "a\x00b",
		"1/2/3/4/5/6/7/8/9", strings.Repeat("a", 129),
	}
	for _, k := range keys {
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
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("files = %v", got)
	}
	if got := files(t, outside); len(got) != 0 {
		t.Fatalf("files next to the directory = %v", got)
	}
	// The longest valid key works.
	long := strings.TrimSuffix(strings.Repeat(strings.Repeat("z", 128)+"/", 8), "/")
	if _, err := d.Put(ctx, long, strings.NewReader("x"), 10); err != nil {
		t.Fatalf("Put(longest key): %v", err)
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

// Concurrent Puts of one key leave exactly one of the contents, whole.
func TestConcurrentPutsOneKey(t *testing.T) {
	d, dir := openDir(t)
	ctx := t.Context()
	const writers = 8
	contents := make([][]byte, writers)
	for i := range contents {
		contents[i] = bytes.Repeat([]byte{byte('a' + i)}, 256<<10)
	}
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.Put(ctx, "c/same", bytes.NewReader(contents[i]), 1<<20); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got := readAll(t, d, "c/same")
	ok := false
	for _, c := range contents {
		ok = ok || bytes.Equal(got, c)
	}
	if !ok {
		t.Fatal("the stored content is not one writer's whole content")
	}
	if f := files(t, dir); len(f) != 1 {
		t.Fatalf("files = %v", f)
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
