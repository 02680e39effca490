// Package blobstoretest is the conformance suite of blob.Storage implementations:
// every backend of this module (the directory of store/blobstore, the S3 bucket of
// store/blobstore/s3blob) passes Run, one subtest per rule of the interface's contract.
package blobstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
)

// Target is one storage under test, empty when newTarget returns it.
type Target struct {
	Storage blob.Storage
	// Stored lists everything the storage holds, by key, sorted, including whatever a Put
	// in progress or a failed Put might have left (temporary files, unfinished multipart
	// uploads), under names no key has; Run checks that a failed Put leaves nothing.
	Stored func(t *testing.T) []string
}

// Big is the size Run uses for uploads larger than one chunk a backend buffers in memory
// (an S3 multipart part is at least 5 MiB).
const Big = 6 << 20

// Run checks the blob.Storage contract on fresh targets from newTarget, one per
// subtest.
func Run(t *testing.T, newTarget func(t *testing.T) Target) {
	tests := []struct {
		name string
		fn   func(t *testing.T, tg Target)
	}{
		{"RoundTrip", testRoundTrip},
		{"Replace", testReplace},
		{"SizeLimit", testSizeLimit},
		{"ReaderErrorLeavesNothing", testReaderError},
		{"CanceledLeavesNothing", testCanceled},
		{"MissingKey", testMissing},
		{"SeekAndRanges", testSeek},
		{"ConcurrentPuts", testConcurrent},
		{"ConcurrentPutsOneKey", testConcurrentOneKey},
		{"InvalidKeys", testInvalidKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newTarget(t)) })
	}
}

func wantStored(t *testing.T, tg Target, keys ...string) {
	t.Helper()
	got := tg.Stored(t)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Fatalf("stored = %v, want %v", got, keys)
	}
}

func readAll(t *testing.T, s blob.Storage, key string) []byte {
	t.Helper()
	rc, st, err := s.Open(t.Context(), key)
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

func put(t *testing.T, s blob.Storage, key string, data []byte) {
	t.Helper()
	if n, err := s.Put(t.Context(), key, bytes.NewReader(data), int64(len(data))+1); err != nil || n != int64(len(data)) {
		t.Fatalf("Put(%q) = %d, %v", key, n, err)
	}
}

// pattern returns n bytes that differ at every offset modulo 251, so a wrong range shows.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i%251) ^ seed
	}
	return b
}

func testRoundTrip(t *testing.T, tg Target) {
	s, ctx := tg.Storage, t.Context()
	data := bytes.Repeat([]byte("avatar"), 1000)
	before := time.Now().Add(-time.Hour)
	put(t, s, "7/ab/abcdef", data)
	if got := readAll(t, s, "7/ab/abcdef"); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	rc, st, err := s.Open(ctx, "7/ab/abcdef")
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if st.ModTime.Before(before) || st.ModTime.After(time.Now().Add(time.Hour)) {
		t.Fatalf("ModTime %v is not about now", st.ModTime)
	}
	wantStored(t, tg, "7/ab/abcdef")
	if err := s.Delete(ctx, "7/ab/abcdef"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Open(ctx, "7/ab/abcdef"); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("Open after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "7/ab/abcdef"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	wantStored(t, tg)
	// Empty content is content.
	if n, err := s.Put(ctx, "empty", strings.NewReader(""), 1); err != nil || n != 0 {
		t.Fatalf("Put empty = %d, %v", n, err)
	}
	if got := readAll(t, s, "empty"); len(got) != 0 {
		t.Fatalf("empty: %q", got)
	}
	// Content larger than one buffered chunk.
	big := pattern(Big+12345, 7)
	put(t, s, "big", big)
	if got := readAll(t, s, "big"); !bytes.Equal(got, big) {
		t.Fatal("big content differs")
	}
}

func testReplace(t *testing.T, tg Target) {
	s := tg.Storage
	put(t, s, "7/ab/abcdef", []byte("old content"))
	put(t, s, "7/ab/abcdef", []byte("new"))
	if got := readAll(t, s, "7/ab/abcdef"); string(got) != "new" {
		t.Fatalf("after replace: %q", got)
	}
	wantStored(t, tg, "7/ab/abcdef")
}

func testSizeLimit(t *testing.T, tg Target) {
	tests := []struct {
		name    string
		size    int
		max     int64
		wantErr error
	}{
		{"below", 99, 100, nil},
		{"exactly", 100, 100, nil},
		{"one over", 101, 100, blob.ErrTooLarge},
		{"far over", 1 << 20, 100, blob.ErrTooLarge},
		{"big exactly", Big, Big, nil},
		{"big one over", Big + 1, Big, blob.ErrTooLarge},
		{"big far over", 2*Big + 3, Big + 5, blob.ErrTooLarge},
	}
	s := tg.Storage
	put(t, s, "keep", []byte("original"))
	for i, tc := range tests {
		key := fmt.Sprintf("k/x%d", i)
		n, err := s.Put(t.Context(), key, bytes.NewReader(pattern(tc.size, 1)), tc.max)
		if !errors.Is(err, tc.wantErr) {
			t.Fatalf("%s: Put err = %v, want %v", tc.name, err, tc.wantErr)
		}
		if tc.wantErr == nil {
			if n != int64(tc.size) {
				t.Fatalf("%s: n = %d", tc.name, n)
			}
			if err := s.Delete(t.Context(), key); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if n != 0 {
			t.Fatalf("%s: failed Put reported %d bytes", tc.name, n)
		}
		// A too large replacement leaves the old content.
		if _, err := s.Put(t.Context(), "keep", bytes.NewReader(pattern(tc.size, 2)), tc.max); !errors.Is(err, blob.ErrTooLarge) {
			t.Fatalf("%s: replacing: %v", tc.name, err)
		}
		wantStored(t, tg, "keep")
	}
	if got := readAll(t, s, "keep"); string(got) != "original" {
		t.Fatalf("a rejected replacement changed the content: %q", got)
	}
}

// failingReader yields n bytes, then err.
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

func testReaderError(t *testing.T, tg Target) {
	errBroken := errors.New("connection reset")
	s, ctx := tg.Storage, t.Context()
	put(t, s, "1/aa/keep", []byte("original"))
	for _, n := range []int{0, 50000, Big + 1000} {
		for _, key := range []string{"1/aa/keep", "1/aa/new"} {
			_, err := s.Put(ctx, key, &failingReader{n: n, err: errBroken}, 4*Big)
			if !errors.Is(err, errBroken) {
				t.Fatalf("Put(%q) with a reader failing after %d bytes: %v, want it wrapped", key, n, err)
			}
		}
	}
	if got := readAll(t, s, "1/aa/keep"); string(got) != "original" {
		t.Fatalf("failed replacement changed the object: %q", got)
	}
	wantStored(t, tg, "1/aa/keep")
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

func testCanceled(t *testing.T, tg Target) {
	s := tg.Storage
	put(t, s, "1/aa/keep", []byte("original"))
	for _, reads := range []int{3, Big/1024 + 100} {
		for _, key := range []string{"1/aa/keep", "1/aa/new"} {
			ctx, cancel := context.WithCancel(t.Context())
			if _, err := s.Put(ctx, key, &cancelAfter{n: reads, cancel: cancel}, 4*Big); !errors.Is(err, context.Canceled) {
				t.Fatalf("Put(%q) canceled after %d KiB: %v", key, reads, err)
			}
			if _, err := s.Put(ctx, key, strings.NewReader("x"), 10); !errors.Is(err, context.Canceled) {
				t.Fatalf("Put with a done context: %v", err)
			}
		}
	}
	if got := readAll(t, s, "1/aa/keep"); string(got) != "original" {
		t.Fatalf("a canceled replacement changed the object: %q", got)
	}
	wantStored(t, tg, "1/aa/keep")
}

func testMissing(t *testing.T, tg Target) {
	s, ctx := tg.Storage, t.Context()
	for _, key := range []string{"never", "9/zz/never"} {
		if rc, _, err := s.Open(ctx, key); !errors.Is(err, identity.ErrNotFound) {
			if rc != nil {
				rc.Close()
			}
			t.Fatalf("Open(%q) = %v, want ErrNotFound", key, err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatalf("Delete(%q) of a missing key: %v", key, err)
		}
	}
	wantStored(t, tg)
}

func testSeek(t *testing.T, tg Target) {
	s, ctx := tg.Storage, t.Context()
	data := pattern(100000, 3)
	put(t, s, "r/seek", data)
	rc, st, err := s.Open(ctx, "r/seek")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if end, err := rc.Seek(0, io.SeekEnd); err != nil || end != st.Size || end != int64(len(data)) {
		t.Fatalf("Seek end = %d, %v", end, err)
	}
	for _, off := range []int64{70000, 5, 99999} {
		if pos, err := rc.Seek(off, io.SeekStart); err != nil || pos != off {
			t.Fatalf("Seek(%d) = %d, %v", off, pos, err)
		}
		buf := make([]byte, 10)
		n, err := io.ReadFull(rc, buf)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:n], data[off:min(off+10, int64(len(data)))]) {
			t.Fatalf("bytes at %d differ", off)
		}
	}
	rc.Close()
	// What the HTTP adapter does with it: ranges through http.ServeContent.
	rc, st, err = s.Open(ctx, "r/seek")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Range", "bytes=1000-1999,99990-")
	w := httptest.NewRecorder()
	http.ServeContent(w, req, "", st.ModTime, rc)
	if w.Code != http.StatusPartialContent || !bytes.Contains(w.Body.Bytes(), data[1000:2000]) || !bytes.Contains(w.Body.Bytes(), data[99990:]) {
		t.Fatalf("multi-range: %d, %d bytes", w.Code, w.Body.Len())
	}
	req.Header.Set("Range", "bytes=-100")
	w = httptest.NewRecorder()
	http.ServeContent(w, req, "", st.ModTime, rc)
	if w.Code != http.StatusPartialContent || !bytes.Equal(w.Body.Bytes(), data[len(data)-100:]) {
		t.Fatalf("suffix range: %d, %d bytes", w.Code, w.Body.Len())
	}
}

func testConcurrent(t *testing.T, tg Target) {
	s := tg.Storage
	const writers = 8
	var wg sync.WaitGroup
	keys := make([]string, writers)
	for i := range writers {
		keys[i] = fmt.Sprintf("c/%d/k", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := pattern(64<<10+i, byte(i))
			if n, err := s.Put(t.Context(), keys[i], bytes.NewReader(data), 1<<20); err != nil || n != int64(len(data)) {
				t.Errorf("Put(%q) = %d, %v", keys[i], n, err)
			}
		}()
	}
	wg.Wait()
	for i, k := range keys {
		if got := readAll(t, s, k); !bytes.Equal(got, pattern(64<<10+i, byte(i))) {
			t.Fatalf("%s: content differs", k)
		}
	}
	wantStored(t, tg, keys...)
}

// Concurrent Puts of one key leave exactly one of the contents, whole.
func testConcurrentOneKey(t *testing.T, tg Target) {
	s := tg.Storage
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
			if _, err := s.Put(t.Context(), "c/same", bytes.NewReader(contents[i]), 1<<20); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got := readAll(t, s, "c/same")
	if !slices.ContainsFunc(contents, func(c []byte) bool { return bytes.Equal(got, c) }) {
		t.Fatal("the stored content is not one writer's whole content")
	}
	wantStored(t, tg, "c/same")
}

func testInvalidKeys(t *testing.T, tg Target) {
	s, ctx := tg.Storage, t.Context()
	keys := []string{
		"", "/", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", ".", "..",
		".tmp-abc", "a/.tmp-abc", "a.png", "a\\b", "..\\x", "a b", "é", "a\x00b", "a?b", "a%2fb",
		"1/2/3/4/5/6/7/8/9", strings.Repeat("a", 129),
	}
	for _, k := range keys {
		if _, err := s.Put(ctx, k, strings.NewReader("x"), 10); err == nil {
			t.Errorf("Put(%q) succeeded", k)
		}
		if rc, _, err := s.Open(ctx, k); err == nil || errors.Is(err, identity.ErrNotFound) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("Open(%q) = %v, want an invalid key error", k, err)
		}
		if err := s.Delete(ctx, k); err == nil {
			t.Errorf("Delete(%q) succeeded", k)
		}
	}
	wantStored(t, tg)
	// A long key of eight segments works (S3 ends object names at 1024 bytes, prefix
	// included, so a backend may refuse longer ones).
	long := strings.TrimSuffix(strings.Repeat(strings.Repeat("z", 100)+"/", 8), "/")
	put(t, s, long, []byte("x"))
	wantStored(t, tg, long)
}
