package storetest

import (
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
)

// The blob.Store rules. A store that does not implement the interface skips them
// (blobs are then unavailable with it).

func blobStore(t *testing.T, s identity.Store) blob.Store {
	t.Helper()
	return optional[blob.Store](t, s)
}

// blobUID returns a fresh 32-hex-character blob UID.
func blobUID() string {
	return fmt.Sprintf("%016x%016x", uint64(time.Now().UnixNano()), uint64(seq.Add(1)))
}

func mkBlob(appID, userID int64, created time.Time) *blob.Blob {
	return &blob.Blob{
		ApplicationID: appID,
		UserID:        userID,
		UID:           blobUID(),
		Name:          "photo.png",
		ContentType:   "image/png",
		State:         blob.Created,
		CreatedAt:     created,
		UpdatedAt:     created,
	}
}

func newBlob(t *testing.T, bs blob.Store, appID, userID int64, created time.Time) *blob.Blob {
	t.Helper()
	b := mkBlob(appID, userID, created)
	if err := bs.CreateBlob(t.Context(), b); err != nil {
		t.Fatalf("CreateBlob: %v", err)
	}
	if b.ID == 0 {
		t.Fatal("CreateBlob did not set ID")
	}
	return b
}

func normBlob(b *blob.Blob) blob.Blob {
	n := *b
	n.CreatedAt = n.CreatedAt.UTC()
	n.UpdatedAt = n.UpdatedAt.UTC()
	n.CompletedAt = n.CompletedAt.UTC()
	return n
}

func checkBlob(t *testing.T, what string, got, want *blob.Blob) {
	t.Helper()
	checkEqual(t, what, "blob", got, want, normBlob)
}

func testBlobRoundTrip(t *testing.T, s identity.Store) {
	bs := blobStore(t, s)
	ctx := t.Context()
	b := &blob.Blob{
		ApplicationID: 7,
		UserID:        42,
		UID:           blobUID(),
		Name:          "Ünïcödé ../../etc/passwd.png",
		ContentType:   "image/svg+xml; charset=utf-8",
		Size:          0,
		Public:        true,
		State:         blob.Created,
		CreatedAt:     t0,
		UpdatedAt:     t0.Add(time.Second),
	}
	wantErr(t, "CreateBlob", bs.CreateBlob(ctx, b), nil)
	if b.ID == 0 {
		t.Fatal("CreateBlob did not set ID")
	}
	got, err := bs.Blob(ctx, 7, b.ID)
	wantErr(t, "Blob", err, nil)
	checkBlob(t, "Blob", got, b)
	got, err = bs.BlobByUID(ctx, b.UID)
	wantErr(t, "BlobByUID", err, nil)
	checkBlob(t, "BlobByUID", got, b)

	other := newBlob(t, bs, 7, 42, t0)
	if other.ID == b.ID {
		t.Fatal("two blobs got the same ID")
	}
}

func testBlobScopedAndNotFound(t *testing.T, s identity.Store) {
	bs := blobStore(t, s)
	ctx := t.Context()
	b := newBlob(t, bs, 1, 5, t0)
	_, err := bs.Blob(ctx, 2, b.ID)
	wantErr(t, "Blob of another application", err, identity.ErrNotFound)
	_, err = bs.Blob(ctx, 1, b.ID+1000)
	wantErr(t, "Blob of a missing id", err, identity.ErrNotFound)
	for _, uid := range []string{"", blobUID(), "x\x00y", "\xff"} {
		_, err = bs.BlobByUID(ctx, uid)
		wantErr(t, fmt.Sprintf("BlobByUID(%q)", uid), err, identity.ErrNotFound)
	}
	// BlobByUID is not scoped: uids are unique across applications.
	got, err := bs.BlobByUID(ctx, b.UID)
	wantErr(t, "BlobByUID", err, nil)
	if got.ApplicationID != 1 || got.ID != b.ID {
		t.Fatalf("BlobByUID returned %+v", got)
	}
}

func testBlobDuplicateUID(t *testing.T, s identity.Store) {
	bs := blobStore(t, s)
	ctx := t.Context()
	b := newBlob(t, bs, 1, 5, t0)
	dup := mkBlob(2, 6, t0)
	dup.UID = b.UID
	wantField(t, "CreateBlob with a taken uid", bs.CreateBlob(ctx, dup), identity.ErrInvalidInput, "uid", "")
	got, err := bs.BlobByUID(ctx, b.UID)
	wantErr(t, "BlobByUID", err, nil)
	checkBlob(t, "the first blob after a conflict", got, b)
}

func testBlobUnstorableText(t *testing.T, s identity.Store) {
	bs := blobStore(t, s)
	for _, tc := range []struct {
		field string
		set   func(b *blob.Blob)
	}{
		{"name", func(b *blob.Blob) { b.Name = "a\x00b" }},
		{"name", func(b *blob.Blob) { b.Name = "\xff\xfe" }},
		{"content_type", func(b *blob.Blob) { b.ContentType = "image/\x00png" }},
		{"uid", func(b *blob.Blob) { b.UID = "" }},
	} {
		b := mkBlob(1, 1, t0)
		tc.set(b)
		wantField(t, "CreateBlob with unstorable "+tc.field, bs.CreateBlob(t.Context(), b), identity.ErrInvalidInput, tc.field, "")
	}
}

func testBlobUpdateState(t *testing.T, s identity.Store) {
	bs := blobStore(t, s)
	ctx := t.Context()
	b := newBlob(t, bs, 3, 9, t0)
	untouched := *b

	// From the wrong state: nothing is written.
	upd := *b
	upd.State, upd.Size, upd.UpdatedAt = blob.Uploaded, 123, t0.Add(time.Minute)
	wantErr(t, "UpdateBlobState from a wrong state", bs.UpdateBlobState(ctx, &upd, blob.Uploading), identity.ErrNotFound)
	got, _ := bs.Blob(ctx, 3, b.ID)
	checkBlob(t, "blob after a refused update", got, &untouched)

	// A missing blob.
	missing := upd
	missing.ID = b.ID + 1000
	wantErr(t, "UpdateBlobState of a missing blob", bs.UpdateBlobState(ctx, &missing, blob.Created), identity.ErrNotFound)

	// Through every state; only state, size, updated_at and completed_at change.
	steps := []struct {
		from, to blob.State
		size     int64
	}{
		{blob.Created, blob.Uploading, 0},
		{blob.Uploading, blob.Uploaded, 4096},
		{blob.Uploaded, blob.Completed, 4096},
		{blob.Completed, blob.Deleting, 4096},
	}
	want := *b
	for i, st := range steps {
		u := want
		u.Name, u.ContentType, u.Public, u.UserID = "ignored", "text/ignored", !want.Public, 999 // not written
		u.State, u.Size, u.UpdatedAt = st.to, st.size, t0.Add(time.Duration(i+1)*time.Minute)
		if st.to == blob.Completed {
			u.CompletedAt = t0.Add(time.Hour)
		}
		wantErr(t, fmt.Sprintf("UpdateBlobState %d→%d", st.from, st.to), bs.UpdateBlobState(ctx, &u, st.from), nil)
		want.State, want.Size, want.UpdatedAt, want.CompletedAt = u.State, u.Size, u.UpdatedAt, u.CompletedAt
		got, err := bs.Blob(ctx, 3, b.ID)
		wantErr(t, "Blob", err, nil)
		checkBlob(t, fmt.Sprintf("blob in state %d", st.to), got, &want)
		// The same transition again is refused: the stored state moved on.
		wantErr(t, "repeated UpdateBlobState", bs.UpdateBlobState(ctx, &u, st.from), identity.ErrNotFound)
	}
}

func testBlobStale(t *testing.T, s identity.Store) {
	bs := blobStore(t, s)
	ctx := t.Context()
	app := newApp(t, s)
	owner := newUser(t, s, app.ID, "owner", "")
	before := t0.Add(time.Hour)
	old := t0
	withState := func(created time.Time, st blob.State) *blob.Blob {
		b := newBlob(t, bs, app.ID, owner.ID, created)
		if st != blob.Created {
			u := *b
			u.State = st
			if st == blob.Completed {
				u.CompletedAt = created
			}
			wantErr(t, "UpdateBlobState", bs.UpdateBlobState(ctx, &u, blob.Created), nil)
			*b = u
		}
		return b
	}
	var want []int64
	for _, st := range []blob.State{blob.Created, blob.Uploading, blob.Uploaded, blob.Deleting} {
		want = append(want, withState(old, st).ID) // old and incomplete: stale
	}
	withState(old, blob.Completed)                                            // completed: never stale
	withState(before, blob.Created)                                           // created at the cutoff: not before it
	withState(before.Add(time.Minute), blob.Uploading)                        // fresh
	want = append(want, withState(before.Add(time.Minute), blob.Deleting).ID) // deleting: always
	withState(before.Add(time.Minute), blob.Completed)

	got, err := bs.StaleBlobs(ctx, before, 100)
	wantErr(t, "StaleBlobs", err, nil)
	var ids []int64
	for _, b := range got {
		ids = append(ids, b.ID)
	}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("StaleBlobs ids = %v, want %v (oldest id first)", ids, want)
	}
	got, err = bs.StaleBlobs(ctx, before, 2)
	wantErr(t, "StaleBlobs with a limit", err, nil)
	if len(got) != 2 || got[0].ID != want[0] || got[1].ID != want[1] {
		t.Fatalf("StaleBlobs(limit 2) = %d blobs, want the first two of %v", len(got), want)
	}
	if got[1].State != blob.Uploading || got[1].UID == "" {
		t.Fatalf("StaleBlobs returned an incomplete record: %+v", got[1])
	}
}

func testBlobDelete(t *testing.T, s identity.Store) {
	bs := blobStore(t, s)
	ctx := t.Context()
	b := newBlob(t, bs, 1, 1, t0)
	keep := newBlob(t, bs, 1, 1, t0)
	wantErr(t, "DeleteBlob", bs.DeleteBlob(ctx, b.ID), nil)
	_, err := bs.Blob(ctx, 1, b.ID)
	wantErr(t, "Blob after DeleteBlob", err, identity.ErrNotFound)
	_, err = bs.BlobByUID(ctx, b.UID)
	wantErr(t, "BlobByUID after DeleteBlob", err, identity.ErrNotFound)
	wantErr(t, "DeleteBlob of a missing blob", bs.DeleteBlob(ctx, b.ID), nil)
	if _, err := bs.Blob(ctx, 1, keep.ID); err != nil {
		t.Fatalf("DeleteBlob removed another blob: %v", err)
	}
}

// Of concurrent compare-and-sets from the same state, exactly one succeeds: the single use
// of an upload grant rests on it.
func testConcurrentBlobState(t *testing.T, s identity.Store) {
	bs := blobStore(t, s)
	b := newBlob(t, bs, 1, 1, t0)
	var won atomic.Int64
	errs := race(func(i int) error {
		u := *b
		u.State, u.Size = blob.Uploading, int64(i)
		err := bs.UpdateBlobState(t.Context(), &u, blob.Created)
		if err == nil {
			won.Store(int64(i))
		}
		return err
	})
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		default:
			wantErr(t, "losing UpdateBlobState", err, identity.ErrNotFound)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent UpdateBlobState calls succeeded, want exactly 1", wins)
	}
	got, err := bs.Blob(t.Context(), 1, b.ID)
	wantErr(t, "Blob", err, nil)
	if got.State != blob.Uploading || got.Size != won.Load() {
		t.Fatalf("stored state %d size %d, want the winner's (size %d)", got.State, got.Size, won.Load())
	}
}

// withBlobState moves b from Created to st (setting CompletedAt for Completed) and
// size.
func withBlobState(t *testing.T, bs blob.Store, b *blob.Blob, st blob.State, size int64) {
	t.Helper()
	u := *b
	u.State, u.Size = st, size
	if st == blob.Completed {
		u.CompletedAt = u.CreatedAt
	}
	wantErr(t, "UpdateBlobState", bs.UpdateBlobState(t.Context(), &u, blob.Created), nil)
	*b = u
}

// wantBlobStates fails t unless each blob is stored in the state given with it.
func wantBlobStates(t *testing.T, bs blob.Store, what string, want map[*blob.Blob]blob.State) {
	t.Helper()
	for b, st := range want {
		got, err := bs.Blob(t.Context(), b.ApplicationID, b.ID)
		wantErr(t, what+": Blob", err, nil)
		if got.State != st {
			t.Fatalf("%s: blob %d (user %d) is in state %d, want %d", what, b.ID, b.UserID, got.State, st)
		}
	}
}

// staleIDs returns the ids StaleBlobs(before, 100) answers.
func staleIDs(t *testing.T, bs blob.Store, before time.Time) []int64 {
	t.Helper()
	got, err := bs.StaleBlobs(t.Context(), before, 100)
	wantErr(t, "StaleBlobs", err, nil)
	ids := []int64{}
	for _, b := range got {
		ids = append(ids, b.ID)
	}
	return ids
}

// Deleting a user, and purging an expired guest, marks the user's blobs Deleting in the
// same transaction, so that they are never served again and the janitor removes them.
func testBlobOwnerDeleted(t *testing.T, s identity.Store) {
	bs := blobStore(t, s)
	ctx := t.Context()
	app, other := newApp(t, s), newApp(t, s)
	now := t0.Add(100 * time.Hour)
	doomed := newUser(t, s, app.ID, "doomed", "")
	keep := newUser(t, s, app.ID, "keep", "")
	mkGuest := func(login string, expires time.Time) *identity.User {
		g := mkUser(app.ID, login, "")
		g.IsGuest, g.GuestExpiresAt = true, expires
		wantErr(t, "CreateUser guest", s.CreateUser(ctx, g, nil), nil)
		return g
	}
	oldGuest := mkGuest("old_guest", now.Add(-time.Minute))
	freshGuest := mkGuest("fresh_guest", now.Add(time.Minute))

	doomedDone := newBlob(t, bs, app.ID, doomed.ID, t0)
	withBlobState(t, bs, doomedDone, blob.Completed, 10)
	doomedNew := newBlob(t, bs, app.ID, doomed.ID, t0)
	keepDone := newBlob(t, bs, app.ID, keep.ID, t0)
	withBlobState(t, bs, keepDone, blob.Completed, 20)
	guestDone := newBlob(t, bs, app.ID, oldGuest.ID, t0)
	withBlobState(t, bs, guestDone, blob.Completed, 30)
	freshDone := newBlob(t, bs, app.ID, freshGuest.ID, t0)
	withBlobState(t, bs, freshDone, blob.Completed, 40)
	if ids := staleIDs(t, bs, t0); len(ids) != 0 {
		t.Fatalf("StaleBlobs before any deletion = %v, want none", ids)
	}

	// A refused DeleteUser marks nothing.
	wantErr(t, "DeleteUser in another application", s.DeleteUser(ctx, other.ID, doomed.ID), identity.ErrUserNotFound)
	wantBlobStates(t, bs, "after a refused DeleteUser", map[*blob.Blob]blob.State{
		doomedDone: blob.Completed, doomedNew: blob.Created,
	})

	wantErr(t, "DeleteUser", s.DeleteUser(ctx, app.ID, doomed.ID), nil)
	wantBlobStates(t, bs, "after DeleteUser", map[*blob.Blob]blob.State{
		doomedDone: blob.Deleting, doomedNew: blob.Deleting,
		keepDone: blob.Completed, guestDone: blob.Completed, freshDone: blob.Completed,
	})
	if got, want := staleIDs(t, bs, t0), []int64{doomedDone.ID, doomedNew.ID}; !reflect.DeepEqual(got, want) {
		t.Fatalf("StaleBlobs after DeleteUser = %v, want %v", got, want)
	}

	if _, err := s.DeleteExpired(ctx, now); err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	wantBlobStates(t, bs, "after DeleteExpired", map[*blob.Blob]blob.State{
		guestDone: blob.Deleting, keepDone: blob.Completed, freshDone: blob.Completed,
	})
	if got, want := staleIDs(t, bs, t0), []int64{doomedDone.ID, doomedNew.ID, guestDone.ID}; !reflect.DeepEqual(got, want) {
		t.Fatalf("StaleBlobs after DeleteExpired = %v, want %v", got, want)
	}
}

// StaleBlobs also returns blobs whose owner does not exist (any state, however new): a blob
// created through a session still trusted from a cache after its user was deleted.
func testBlobOrphansStale(t *testing.T, s identity.Store) {
	bs := blobStore(t, s)
	ctx := t.Context()
	app, other := newApp(t, s), newApp(t, s)
	owner := newUser(t, s, app.ID, "owner", "")
	gone := newUser(t, s, app.ID, "gone", "")
	wantErr(t, "DeleteUser", s.DeleteUser(ctx, app.ID, gone.ID), nil)

	live := newBlob(t, bs, app.ID, owner.ID, t0)
	withBlobState(t, bs, live, blob.Completed, 5)
	late := newBlob(t, bs, app.ID, gone.ID, t0) // created after its owner's deletion
	withBlobState(t, bs, late, blob.Completed, 5)
	pending := newBlob(t, bs, app.ID, gone.ID, t0)
	elsewhere := newBlob(t, bs, other.ID, owner.ID, t0) // the owner id is a user of another application
	if got, want := staleIDs(t, bs, t0), []int64{late.ID, pending.ID, elsewhere.ID}; !reflect.DeepEqual(got, want) {
		t.Fatalf("StaleBlobs = %v, want the orphans %v", got, want)
	}
}

// BlobUsage counts the blobs of one user of one application that are not Deleting, and
// adds up their sizes.
func testBlobUsage(t *testing.T, s identity.Store) {
	bs := blobStore(t, s)
	ctx := t.Context()
	wantUsage := func(what string, appID, userID int64, files int, bytes int64) {
		t.Helper()
		f, b, err := bs.BlobUsage(ctx, appID, userID)
		wantErr(t, what, err, nil)
		if f != files || b != bytes {
			t.Fatalf("%s = %d files, %d bytes; want %d, %d", what, f, b, files, bytes)
		}
	}
	wantUsage("BlobUsage of a user without blobs", 1, 1, 0, 0)
	newBlob(t, bs, 4, 8, t0)
	up := newBlob(t, bs, 4, 8, t0)
	withBlobState(t, bs, up, blob.Uploaded, 1000)
	done := newBlob(t, bs, 4, 8, t0)
	withBlobState(t, bs, done, blob.Completed, 1<<40) // sums need 64 bits
	gone := newBlob(t, bs, 4, 8, t0)
	withBlobState(t, bs, gone, blob.Deleting, 7)
	newBlob(t, bs, 4, 9, t0)
	other := newBlob(t, bs, 5, 8, t0)
	withBlobState(t, bs, other, blob.Completed, 3)
	wantUsage("BlobUsage", 4, 8, 3, 1000+1<<40)
	wantUsage("BlobUsage of another user", 4, 9, 1, 0)
	wantUsage("BlobUsage in another application", 5, 8, 1, 3)
}
