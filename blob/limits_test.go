package blob_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
)

// A user's blobs go with the user: once it is deleted nothing of its is served, and the
// janitor removes the bytes.
func TestDeletedUsersBlobsAreRemoved(t *testing.T) {
	backends(t, func(t *testing.T, pg bool) {
		testDeletedUsersBlobsAreRemoved(t, newEnvOn(t, openStore(t, pg), blob.Config{}))
	})
}

func testDeletedUsersBlobsAreRemoved(t *testing.T, e *env) {
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	bob := e.signUp(t, "bob")
	public := e.completed(t, alice, []byte("public avatar"), true)
	private := e.completed(t, alice, []byte("private"), false)
	e.upload(t, alice, []byte("never completed"), true)
	kept := e.completed(t, bob, []byte("bob's"), true)

	wantIs(t, "DeleteUser", e.id.DeleteUser(ctx, alice, alice.UserID), nil)
	for _, b := range []*blob.Blob{public, private} {
		_, _, err := e.files.Open(ctx, bob, b.UID)
		wantIs(t, "OpenBlob of a deleted user's blob", err, identity.ErrNotFound)
	}
	_, err := e.id.UpdateUser(ctx, bob, bob.UserID, identity.UserInput{Avatar: ptr(public.UID)})
	wantField(t, "a deleted user's public blob as avatar", err, identity.ErrInvalidInput, "avatar")

	e.janitor(t, 3) // alice's 3
	if got, want := e.storedFiles(t), []string{identityKey(e.app.ID, kept.UID)}; len(got) != 1 || got[0] != want[0] {
		t.Fatalf("files after DeleteExpired = %v, want only %v", got, want)
	}
	if _, _, err := e.files.Open(ctx, nil, kept.UID); err != nil {
		t.Fatalf("another user's blob: %v", err)
	}
}

func TestExpiredGuestsBlobsAreRemoved(t *testing.T) {
	e := newBlobEnv(t, blob.Config{})
	ctx := t.Context()
	g, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey,
		Credentials: &identity.Credentials{Guest: true}})
	if err != nil {
		t.Fatal(err)
	}
	b := e.completed(t, g, bytes.Repeat([]byte("g"), 1000), true)
	if _, _, err := e.files.Open(ctx, nil, b.UID); err != nil {
		t.Fatalf("OpenBlob before the guest expired: %v", err)
	}
	e.clock.Advance(25 * time.Hour) // past the 24 h guest lifetime
	if p := e.janitor(t, 1); p.Guests != 1 {
		t.Fatalf("DeleteExpired = %+v, want the guest (and its blob)", p)
	}
	_, _, err = e.files.Open(ctx, nil, b.UID)
	wantIs(t, "OpenBlob of an expired guest's blob", err, identity.ErrNotFound)
	if f := e.storedFiles(t); len(f) != 0 {
		t.Fatalf("files after DeleteExpired = %v", f)
	}
}

// A blob whose owner no longer exists (created through a session another process still
// trusted from its cache) is removed by the janitor however new and whatever its state.
func TestOrphanBlobsAreRemoved(t *testing.T) {
	e := newBlobEnv(t, blob.Config{})
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	// Delete alice in the store behind the Identity's back, as another process would: the
	// session stays trusted from this process's cache.
	if err := e.store.DeleteUser(ctx, e.app.ID, alice.UserID); err != nil {
		t.Fatal(err)
	}
	b := e.completed(t, alice, []byte("orphan"), true)
	e.janitor(t, 1) // the orphan
	_, _, err := e.files.Open(ctx, nil, b.UID)
	wantIs(t, "OpenBlob of an orphan", err, identity.ErrNotFound)
	if f := e.storedFiles(t); len(f) != 0 {
		t.Fatalf("files after DeleteExpired = %v", f)
	}
}

func setQuota(t *testing.T, e *env, q identity.BlobQuota) {
	t.Helper()
	if _, err := e.id.UpdateApplicationSettings(t.Context(), e.app.ID, identity.AppSettings{BlobQuota: q}); err != nil {
		t.Fatal(err)
	}
}

func createBlob(t *testing.T, e *env, s *identity.Session) (*blob.Blob, *blob.UploadGrant, error) {
	t.Helper()
	return e.files.Create(t.Context(), s, blob.Input{Name: "a.png", ContentType: "image/png"})
}

func TestBlobQuotaFiles(t *testing.T) {
	e := newBlobEnv(t, blob.Config{})
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	bob := e.signUp(t, "bob")

	// The default: 100 files, whatever their state.
	var first *blob.Blob
	for i := range 100 {
		b, _, err := createBlob(t, e, alice)
		if err != nil {
			t.Fatalf("file %d: %v", i+1, err)
		}
		if first == nil {
			first = b
		}
	}
	_, _, err := createBlob(t, e, alice)
	wantField(t, "the 101st file", err, identity.ErrInvalidInput, "")
	if _, _, err := createBlob(t, e, bob); err != nil {
		t.Fatalf("another user's file: %v", err)
	}
	// A deleted file frees its place.
	wantIs(t, "DeleteBlob", e.files.Delete(ctx, alice, first.ID), nil)
	if _, _, err := createBlob(t, e, alice); err != nil {
		t.Fatalf("a file after deleting one: %v", err)
	}

	setQuota(t, e, identity.BlobQuota{MaxFiles: 2})
	_, _, err = createBlob(t, e, bob)
	wantIs(t, "bob's second file", err, nil)
	_, _, err = createBlob(t, e, bob)
	wantField(t, "bob's third file", err, identity.ErrInvalidInput, "")

	setQuota(t, e, identity.BlobQuota{MaxFiles: -1})
	if _, _, err := createBlob(t, e, alice); err != nil {
		t.Fatalf("without a file limit: %v", err)
	}
}

func TestBlobQuotaBytes(t *testing.T) {
	e := newBlobEnv(t, blob.Config{MaxSize: 8})
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	setQuota(t, e, identity.BlobQuota{MaxBytes: 10})

	a := e.completed(t, alice, []byte("123456"), true)
	// 4 bytes remain: 5 are too many, and nothing is stored.
	_, g, err := createBlob(t, e, alice)
	wantIs(t, "CreateBlob", err, nil)
	_, err = e.files.Upload(ctx, nil, g.Token, strings.NewReader("12345"))
	wantField(t, "an upload over the byte quota", err, blob.ErrTooLarge, "file")
	if n := len(e.storedFiles(t)); n != 1 {
		t.Fatalf("%d files stored, want 1", n)
	}
	e.completed(t, alice, []byte("1234"), true)
	// Nothing remains.
	_, g, err = createBlob(t, e, alice)
	wantIs(t, "CreateBlob", err, nil)
	_, err = e.files.Upload(ctx, nil, g.Token, strings.NewReader("1"))
	wantField(t, "an upload with the quota used up", err, blob.ErrTooLarge, "file")
	// Deleting a file frees its bytes.
	wantIs(t, "DeleteBlob", e.files.Delete(ctx, alice, a.ID), nil)
	e.completed(t, alice, []byte("123456"), true)

	// The per-file limit still applies below the quota.
	setQuota(t, e, identity.BlobQuota{MaxBytes: -1})
	_, g, _ = createBlob(t, e, alice)
	_, err = e.files.Upload(ctx, nil, g.Token, strings.NewReader("123456789"))
	wantField(t, "an upload over MaxSize", err, blob.ErrTooLarge, "file")
	e.completed(t, alice, []byte("12345678"), true)
}

// Uploads that each fit the remaining quota but not together (they ran at the same time) are
// caught when completed: a completion that would exceed the quota discards its upload.
func TestBlobQuotaRecheckedOnComplete(t *testing.T) {
	e := newBlobEnv(t, blob.Config{})
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	a := e.upload(t, alice, []byte("123456"), true)
	b := e.upload(t, alice, []byte("abcdef"), true)
	// Both uploads were within the quota; it is now lowered, as if both had raced for the
	// last 10 bytes.
	setQuota(t, e, identity.BlobQuota{MaxBytes: 10})
	_, err := e.files.Complete(ctx, alice, a.ID, 6)
	wantField(t, "completing over the quota", err, identity.ErrInvalidInput, "")
	_, err = e.files.Info(ctx, alice, a.ID)
	wantIs(t, "the discarded upload", err, identity.ErrNotFound)
	if _, err := e.files.Complete(ctx, alice, b.ID, 6); err != nil {
		t.Fatalf("completing within the quota: %v", err)
	}
	if got, want := e.storedFiles(t), []string{identityKey(e.app.ID, b.UID)}; len(got) != 1 || got[0] != want[0] {
		t.Fatalf("files = %v, want %v", got, want)
	}
	// Likewise the file limit: more files than MaxFiles are never completed.
	setQuota(t, e, identity.BlobQuota{})
	c := e.upload(t, alice, []byte("c"), true)
	d := e.upload(t, alice, []byte("d"), true)
	setQuota(t, e, identity.BlobQuota{MaxFiles: 2})
	_, err = e.files.Complete(ctx, alice, c.ID, 1)
	wantField(t, "completing over the file limit", err, identity.ErrInvalidInput, "")
	if _, err := e.files.Complete(ctx, alice, d.ID, 1); err != nil {
		t.Fatalf("completing within the file limit: %v", err)
	}
}
