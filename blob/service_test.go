package blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
	"github.com/identitykit/identity/store/blobstore"
)

func TestBlobLifecycle(t *testing.T) {
	backends(t, func(t *testing.T, pg bool) { testBlobLifecycle(t, newEnvOn(t, openStore(t, pg), blob.Config{})) })
}

func testBlobLifecycle(t *testing.T, e *env) {
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	bob := e.signUp(t, "bob")
	content := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 300)

	b, g, err := e.files.Create(ctx, alice, blob.Input{Name: "../../etc/passwd", ContentType: "Image/PNG", Public: false})
	wantIs(t, "CreateBlob", err, nil)
	if !blob.ValidUID(b.UID) || b.State != blob.Created || b.ContentType != "image/png" || b.UserID != alice.UserID {
		t.Fatalf("CreateBlob = %+v", b)
	}
	if g.MaxSize != 10<<20 || !g.ExpiresAt.Equal(e.clock.Now().Add(15*time.Minute)) || g.Token == "" {
		t.Fatalf("grant = %+v", g)
	}
	if strings.ContainsAny(g.Token, "+/=?&# ") {
		t.Fatalf("grant %q is not URL-safe", g.Token)
	}
	// Not downloadable, not an avatar, invisible to others before completion.
	_, _, err = e.files.Open(ctx, alice, b.UID)
	wantIs(t, "OpenBlob before upload", err, identity.ErrNotFound)
	_, err = e.files.Info(ctx, bob, b.ID)
	wantIs(t, "BlobInfo by another user before completion", err, identity.ErrNotFound)
	if got, err := e.files.Info(ctx, alice, b.ID); err != nil || got.State != blob.Created {
		t.Fatalf("BlobInfo by the owner = %+v, %v", got, err)
	}

	// The uploader's own session is accepted with the grant.
	ub, err := e.files.Upload(ctx, alice, g.Token, bytes.NewReader(content))
	wantIs(t, "UploadBlob", err, nil)
	if ub.Size != int64(len(content)) || ub.State != blob.Uploaded {
		t.Fatalf("UploadBlob = %+v", ub)
	}
	// The client's name never reaches the filesystem.
	files := e.storedFiles(t)
	want := filepath.Join(strings.Split(identityKey(e.app.ID, b.UID), "/")...)
	if len(files) != 1 || files[0] != want {
		t.Fatalf("stored files = %v, want [%s]", files, want)
	}
	cb, err := e.files.Complete(ctx, alice, b.ID, int64(len(content)))
	wantIs(t, "CompleteBlob", err, nil)
	if cb.State != blob.Completed || !cb.CompletedAt.Equal(e.clock.Now()) {
		t.Fatalf("CompleteBlob = %+v", cb)
	}
	_, err = e.files.Complete(ctx, alice, b.ID, int64(len(content)))
	wantIs(t, "CompleteBlob again (idempotent)", err, nil)

	// Private: any session of the application, with its token; none without.
	for _, s := range []*identity.Session{alice, bob, appSession(t, e)} {
		got, rc, err := e.files.Open(ctx, s, b.UID)
		wantIs(t, "OpenBlob", err, nil)
		data, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(data, content) || got.Size != int64(len(content)) {
			t.Fatal("OpenBlob content differs")
		}
	}
	_, _, err = e.files.Open(ctx, nil, b.UID)
	wantIs(t, "OpenBlob private without a token", err, identity.ErrSessionNotFound)
	// A session of another application does not see it.
	other, err := e.id.CreateApplication(ctx, "other", identity.AppSettings{})
	wantIs(t, "CreateApplication", err, nil)
	oss, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: other.ID, AuthKey: other.AuthKey})
	wantIs(t, "CreateSession", err, nil)
	_, _, err = e.files.Open(ctx, oss, b.UID)
	wantIs(t, "OpenBlob from another application", err, identity.ErrNotFound)
	// An expired session is no longer good for a private blob.
	e.clock.Advance(3 * time.Hour)
	_, err = e.id.Validate(ctx, bob.Token)
	wantIs(t, "Validate of an expired token (the caller then opens without a session)", err, identity.ErrSessionNotFound)

	// Info: the owner always; others only public completed blobs.
	alice = e.userSession(t, "alice", "password123")
	bob = e.userSession(t, "bob", "password123")
	_, err = e.files.Info(ctx, bob, b.ID)
	wantIs(t, "BlobInfo of a private blob by another user", err, identity.ErrNotFound)
	pub := e.completed(t, alice, []byte("public"), true)
	if got, err := e.files.Info(ctx, bob, pub.ID); err != nil || got.UID != pub.UID {
		t.Fatalf("BlobInfo of a public blob = %+v, %v", got, err)
	}
	_, rc, err := e.files.Open(ctx, nil, pub.UID)
	wantIs(t, "OpenBlob public without a token", err, nil)
	rc.Close()
	for _, uid := range []string{"", "../../etc/passwd", strings.Repeat("1", 32), strings.ToUpper(pub.UID), pub.UID + "0"} {
		_, _, err = e.files.Open(ctx, nil, uid)
		wantIs(t, "OpenBlob("+uid+")", err, identity.ErrNotFound)
	}
}
func TestCreateBlobValidation(t *testing.T) {
	e := newBlobEnv(t, blob.Config{})
	alice := e.signUp(t, "alice")
	tests := []struct {
		name      string
		s         *identity.Session
		in        blob.Input
		wantErr   error
		wantField string
		wantCT    string
	}{
		{"ok", alice, blob.Input{Name: "a.png", ContentType: "image/png"}, nil, "", "image/png"},
		{"no content type", alice, blob.Input{Name: "a"}, nil, "", "application/octet-stream"},
		{"content type with params", alice, blob.Input{Name: "a", ContentType: "text/plain; Charset=UTF-8"}, nil, "", "text/plain; charset=UTF-8"},
		{"application session", appSession(t, e), blob.Input{Name: "a"}, identity.ErrNeedUser, "", ""},
		{"no session", nil, blob.Input{Name: "a"}, identity.ErrSessionNotFound, "", ""},
		{"blank name", alice, blob.Input{Name: "  "}, identity.ErrInvalidInput, "name", ""},
		{"control in name", alice, blob.Input{Name: "a\nb"}, identity.ErrInvalidInput, "name", ""},
		{"NUL in name", alice, blob.Input{Name: "a\x00b"}, identity.ErrInvalidInput, "name", ""},
		{"invalid UTF-8 name", alice, blob.Input{Name: "\xff"}, identity.ErrInvalidInput, "name", ""},
		{"long name", alice, blob.Input{Name: strings.Repeat("é", 256)}, identity.ErrInvalidInput, "name", ""},
		{"bad content type", alice, blob.Input{Name: "a", ContentType: "png"}, identity.ErrInvalidInput, "content_type", ""},
		{"header injection in content type", alice, blob.Input{Name: "a", ContentType: "image/png\r\nSet-Cookie: x=y"}, identity.ErrInvalidInput, "content_type", ""},
		{"long content type", alice, blob.Input{Name: "a", ContentType: "image/" + strings.Repeat("x", 300)}, identity.ErrInvalidInput, "content_type", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, g, err := e.files.Create(t.Context(), tc.s, tc.in)
			if tc.wantField != "" {
				wantField(t, "CreateBlob", err, tc.wantErr, tc.wantField)
				return
			}
			wantIs(t, "CreateBlob", err, tc.wantErr)
			if tc.wantErr == nil && (b.ContentType != tc.wantCT || g == nil) {
				t.Fatalf("CreateBlob = %+v, %+v", b, g)
			}
		})
	}
	if e.files.MaxSize() != 10<<20 {
		t.Fatalf("MaxSize = %d, want the default 10 MiB", e.files.MaxSize())
	}
}

func TestUploadGrant(t *testing.T) {
	e := newBlobEnv(t, blob.Config{})
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	bob := e.signUp(t, "bob")
	newGrant := func() (*blob.Blob, *blob.UploadGrant) {
		b, g, err := e.files.Create(ctx, alice, blob.Input{Name: "a.png", ContentType: "image/png"})
		if err != nil {
			t.Fatal(err)
		}
		return b, g
	}
	// A grant for another blob, and its parts, to splice.
	_, g2 := newGrant()
	p2 := strings.Split(g2.Token, ".")
	other := newBlobEnv(t, blob.Config{}) // another process: another random key
	otherAlice := other.signUp(t, "alice")
	_, og, err := other.files.Create(ctx, otherAlice, blob.Input{Name: "a"})
	wantIs(t, "CreateBlob", err, nil)

	tests := []struct {
		name  string
		s     func() *identity.Session
		token func(g *blob.UploadGrant) string
		prep  func()
	}{
		{"missing", nil, func(*blob.UploadGrant) string { return "" }, nil},
		{"garbage", nil, func(*blob.UploadGrant) string { return "not a grant" }, nil},
		{"overlong", nil, func(g *blob.UploadGrant) string { return g.Token + strings.Repeat("A", 600) }, nil},
		{"wrong version", nil, func(g *blob.UploadGrant) string { return "v2" + strings.TrimPrefix(g.Token, "v1") }, nil},
		{"payload of another grant", nil, func(g *blob.UploadGrant) string {
			p := strings.Split(g.Token, ".")
			return p[0] + "." + p2[1] + "." + p[2]
		}, nil},
		{"flipped mac", nil, func(g *blob.UploadGrant) string {
			b := []byte(g.Token)
			if b[len(b)-2] == 'A' {
				b[len(b)-2] = 'B'
			} else {
				b[len(b)-2] = 'A'
			}
			return string(b)
		}, nil},
		{"signed by another key", nil, func(*blob.UploadGrant) string { return og.Token }, nil},
		{"wrong user's session", func() *identity.Session { return bob }, func(g *blob.UploadGrant) string { return g.Token }, nil},
		{"another application's session", func() *identity.Session { return appSession(t, other) }, func(g *blob.UploadGrant) string { return g.Token }, nil},
		{"expired", nil, func(g *blob.UploadGrant) string { return g.Token }, func() { e.clock.Advance(15 * time.Minute) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, g := newGrant()
			if tc.prep != nil {
				tc.prep()
			}
			var s *identity.Session
			if tc.s != nil {
				s = tc.s()
			}
			_, err := e.files.Upload(ctx, s, tc.token(g), strings.NewReader("data"))
			wantIs(t, "UploadBlob", err, blob.ErrInvalidGrant)
			wantIs(t, "UploadBlob", err, identity.ErrForbidden)
			if got, _ := e.files.Info(ctx, alice, b.ID); got == nil || got.State != blob.Created {
				t.Fatalf("a refused upload changed the blob: %+v", got)
			}
		})
	}
	alice = e.userSession(t, "alice", "password123") // the clock moved

	// Replay: the grant is single-use, also after a success.
	b, g := newGrant()
	_, err = e.files.Upload(ctx, nil, g.Token, strings.NewReader("first"))
	wantIs(t, "first UploadBlob", err, nil)
	_, err = e.files.Upload(ctx, nil, g.Token, strings.NewReader("second, longer"))
	wantIs(t, "replayed UploadBlob", err, blob.ErrInvalidGrant)
	_, rcErr := e.files.Complete(ctx, alice, b.ID, 5)
	wantIs(t, "CompleteBlob after a replay attempt", rcErr, nil)
	_, rc, err := e.files.Open(ctx, alice, b.UID)
	wantIs(t, "OpenBlob", err, nil)
	data, _ := io.ReadAll(rc)
	rc.Close()
	if string(data) != "first" {
		t.Fatalf("content %q, want the first upload's", data)
	}

	// A deleted blob's grant is dead.
	b, g = newGrant()
	wantIs(t, "DeleteBlob", e.files.Delete(ctx, alice, b.ID), nil)
	_, err = e.files.Upload(ctx, nil, g.Token, strings.NewReader("x"))
	wantIs(t, "UploadBlob of a deleted blob", err, blob.ErrInvalidGrant)

	// Processes sharing GrantKey accept each other's grants.
	key := bytes.Repeat([]byte{7}, 32)
	st := openStore(t, false)
	one, two := newEnvOn(t, st, blob.Config{GrantKey: key}), newEnvOn(t, st, blob.Config{GrantKey: key})
	_, sg, err := one.files.Create(ctx, one.signUp(t, "carol"), blob.Input{Name: "a"})
	wantIs(t, "CreateBlob", err, nil)
	_, err = two.files.Upload(ctx, nil, sg.Token, strings.NewReader("x"))
	wantIs(t, "UploadBlob on another process with the same key", err, nil)
}

func TestUploadTooLargeLeavesNothing(t *testing.T) {
	e := newBlobEnv(t, blob.Config{MaxSize: 1024})
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	b, g, err := e.files.Create(ctx, alice, blob.Input{Name: "big.bin"})
	wantIs(t, "CreateBlob", err, nil)
	if g.MaxSize != 1024 {
		t.Fatalf("grant MaxSize = %d", g.MaxSize)
	}
	_, err = e.files.Upload(ctx, nil, g.Token, bytes.NewReader(make([]byte, 1025)))
	wantField(t, "UploadBlob of 1025 bytes", err, blob.ErrTooLarge, "file")
	if f := e.storedFiles(t); len(f) != 0 {
		t.Fatalf("an oversized upload left %v", f)
	}
	_, err = e.files.Complete(ctx, alice, b.ID, 1025)
	wantField(t, "CompleteBlob of a failed upload", err, identity.ErrInvalidInput, "")
	_, err = e.files.Upload(ctx, nil, g.Token, bytes.NewReader(make([]byte, 10)))
	wantIs(t, "retry with the spent grant", err, blob.ErrInvalidGrant)

	// Exactly the limit is fine; a broken stream stores nothing.
	_, g, _ = e.files.Create(ctx, alice, blob.Input{Name: "ok.bin"})
	_, err = e.files.Upload(ctx, nil, g.Token, bytes.NewReader(make([]byte, 1024)))
	wantIs(t, "UploadBlob of exactly MaxSize", err, nil)
	errCut := errors.New("connection reset by peer")
	_, g, _ = e.files.Create(ctx, alice, blob.Input{Name: "cut.bin"})
	_, err = e.files.Upload(ctx, nil, g.Token, io.MultiReader(bytes.NewReader(make([]byte, 500)), errReader{errCut}))
	wantIs(t, "UploadBlob of a broken stream", err, errCut)
	if f := e.storedFiles(t); len(f) != 1 {
		t.Fatalf("stored files = %v, want only the complete upload", f)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestCompleteBlobSize(t *testing.T) {
	e := newBlobEnv(t, blob.Config{})
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	bob := e.signUp(t, "bob")

	b, g, _ := e.files.Create(ctx, alice, blob.Input{Name: "a"})
	_, err := e.files.Complete(ctx, alice, b.ID, 0)
	wantField(t, "CompleteBlob before the upload", err, identity.ErrInvalidInput, "")
	_, err = e.files.Upload(ctx, nil, g.Token, strings.NewReader("12345"))
	wantIs(t, "UploadBlob", err, nil)
	_, err = e.files.Complete(ctx, bob, b.ID, 5)
	wantIs(t, "CompleteBlob by another user", err, identity.ErrNotFound)
	_, err = e.files.Complete(ctx, appSession(t, e), b.ID, 5)
	wantIs(t, "CompleteBlob by an application session", err, identity.ErrNeedUser)
	_, err = e.files.Complete(ctx, alice, b.ID+100, 5)
	wantIs(t, "CompleteBlob of a missing blob", err, identity.ErrNotFound)

	// A wrong size discards the upload: metadata and bytes.
	_, err = e.files.Complete(ctx, alice, b.ID, 6)
	wantField(t, "CompleteBlob with a wrong size", err, identity.ErrInvalidInput, "size")
	if f := e.storedFiles(t); len(f) != 0 {
		t.Fatalf("a mismatched upload left %v", f)
	}
	_, err = e.files.Info(ctx, alice, b.ID)
	wantIs(t, "BlobInfo of a discarded blob", err, identity.ErrNotFound)
	_, err = e.files.Complete(ctx, alice, b.ID, 5)
	wantIs(t, "CompleteBlob of a discarded blob", err, identity.ErrNotFound)

	// A completed blob keeps its size.
	c := e.completed(t, alice, []byte("abc"), false)
	_, err = e.files.Complete(ctx, alice, c.ID, 4)
	wantField(t, "re-completing with another size", err, identity.ErrInvalidInput, "size")
	if _, _, err := e.files.Open(ctx, alice, c.UID); err != nil {
		t.Fatalf("a completed blob was lost: %v", err)
	}
}

func TestAvatarMustNameUsableBlob(t *testing.T) {
	e := newBlobEnv(t, blob.Config{})
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	bob := e.signUp(t, "bob")
	own := e.completed(t, alice, []byte("mine"), false)
	bobsPrivate := e.completed(t, bob, []byte("bob private"), false)
	bobsPublic := e.completed(t, bob, []byte("bob public"), true)
	incomplete := e.upload(t, alice, []byte("not completed"), false)

	otherEnv := newBlobEnv(t, blob.Config{})
	foreign := otherEnv.completed(t, otherEnv.signUp(t, "zed"), []byte("x"), true)
	// The same database holds both applications only in e; a blob of another application of
	// the same Identity:
	otherApp, _ := e.id.CreateApplication(ctx, "other", identity.AppSettings{})
	e.id.SignUp(ctx, otherApp.ID, identity.UserInput{Login: ptr("yan"), Password: ptr("password123")})
	ys, _ := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: otherApp.ID, AuthKey: otherApp.AuthKey,
		Credentials: &identity.Credentials{Login: "yan", Password: "password123"}})
	otherAppsPublic := e.completed(t, ys, []byte("y"), true)

	tests := []struct {
		name    string
		avatar  string
		wantErr error
	}{
		{"own private completed blob", own.UID, nil},
		{"another user's public blob", bobsPublic.UID, nil},
		{"clear", "", nil},
		{"another user's private blob", bobsPrivate.UID, identity.ErrInvalidInput},
		{"own incomplete blob", incomplete.UID, identity.ErrInvalidInput},
		{"public blob of another application", otherAppsPublic.UID, identity.ErrInvalidInput},
		{"unknown uid", foreign.UID, identity.ErrInvalidInput},
		{"URL", "https://evil.example/pixel.png", identity.ErrInvalidInput},
		{"javascript URL", "javascript:alert(1)", identity.ErrInvalidInput},
		{"path", "../../etc/passwd", identity.ErrInvalidInput},
		{"upper-case uid", strings.ToUpper(own.UID), identity.ErrInvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := e.id.UpdateUser(ctx, alice, alice.UserID, identity.UserInput{Avatar: ptr(tc.avatar)})
			if tc.wantErr != nil {
				wantField(t, "UpdateUser", err, tc.wantErr, "avatar")
				return
			}
			wantIs(t, "UpdateUser", err, nil)
			if u.Avatar != tc.avatar {
				t.Fatalf("Avatar = %q", u.Avatar)
			}
		})
	}
	// An unchanged avatar is not checked again: the blob may be gone by now.
	if _, err := e.id.UpdateUser(ctx, alice, alice.UserID, identity.UserInput{Avatar: ptr(own.UID)}); err != nil {
		t.Fatal(err)
	}
	wantIs(t, "DeleteBlob", e.files.Delete(ctx, alice, own.ID), nil)
	if _, err := e.id.UpdateUser(ctx, alice, alice.UserID, identity.UserInput{FullName: ptr("Alice"), Avatar: ptr(own.UID)}); err != nil {
		t.Fatalf("UpdateUser with the unchanged avatar of a deleted blob: %v", err)
	}

	// Sign-up: only public blobs (the new user owns nothing yet).
	_, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: ptr("carl"), Password: ptr("password123"), Avatar: ptr(bobsPublic.UID)})
	wantIs(t, "SignUp with a public blob", err, nil)
	_, err = e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: ptr("dora"), Password: ptr("password123"), Avatar: ptr(bobsPrivate.UID)})
	wantField(t, "SignUp with a private blob", err, identity.ErrInvalidInput, "avatar")
	_, err = e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: ptr("dora"), Password: ptr("password123"), Avatar: ptr("https://x.example/a.png")})
	wantField(t, "SignUp with a URL", err, identity.ErrInvalidInput, "avatar")

	// Without file storage the avatar is free text.
	off := newPlainEnv(t, openStore(t, false))
	off.id.SignUp(ctx, off.app.ID, identity.UserInput{Login: ptr("olga"), Password: ptr("password123")})
	olga := off.userSession(t, "olga", "password123")
	if _, err := off.id.UpdateUser(ctx, olga, olga.UserID, identity.UserInput{Avatar: ptr("https://cdn.example/a.png")}); err != nil {
		t.Fatalf("UpdateUser with blobs off: %v", err)
	}
}

func TestDeleteExpiredRemovesStaleBlobs(t *testing.T) {
	e := newBlobEnv(t, blob.Config{})
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	kept := e.completed(t, alice, []byte("keep"), false)
	e.upload(t, alice, []byte("uploaded, never completed"), false)
	_, g, _ := e.files.Create(ctx, alice, blob.Input{Name: "never uploaded"})
	_, _, _ = e.files.Create(ctx, alice, blob.Input{Name: "grant never used"})

	e.sweep(t, 0)
	e.janitor(t, 0)
	e.clock.Advance(time.Hour + time.Second)
	fresh := e.upload(t, e.userSession(t, "alice", "password123"), []byte("fresh"), false)
	e.janitor(t, 3)
	want := []string{
		filepath.FromSlash(identityKey(e.app.ID, kept.UID)),
		filepath.FromSlash(identityKey(e.app.ID, fresh.UID)),
	}
	got := e.storedFiles(t)
	if len(got) != 2 || !(got[0] == want[0] && got[1] == want[1] || got[0] == want[1] && got[1] == want[0]) {
		t.Fatalf("files after DeleteExpired = %v, want %v", got, want)
	}
	_, err := e.files.Upload(ctx, nil, g.Token, strings.NewReader("late"))
	wantIs(t, "UploadBlob of a removed blob", err, blob.ErrInvalidGrant)
	if _, _, err := e.files.Open(ctx, nil, kept.UID); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Fatalf("the completed private blob: %v", err)
	}
}

func TestDeleteBlob(t *testing.T) {
	e := newBlobEnv(t, blob.Config{})
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	bob := e.signUp(t, "bob")
	b := e.completed(t, alice, []byte("x"), true)
	wantIs(t, "DeleteBlob by another user", e.files.Delete(ctx, bob, b.ID), identity.ErrNotFound)
	wantIs(t, "DeleteBlob by an application session", e.files.Delete(ctx, appSession(t, e), b.ID), identity.ErrNeedUser)
	wantIs(t, "DeleteBlob", e.files.Delete(ctx, alice, b.ID), nil)
	wantIs(t, "DeleteBlob again", e.files.Delete(ctx, alice, b.ID), identity.ErrNotFound)
	_, _, err := e.files.Open(ctx, nil, b.UID)
	wantIs(t, "OpenBlob of a deleted blob", err, identity.ErrNotFound)
	if f := e.storedFiles(t); len(f) != 0 {
		t.Fatalf("files after DeleteBlob = %v", f)
	}
}

// failingStorage is a BlobStorage whose Delete fails and whose content can go missing.
type failingStorage struct {
	blob.Storage
	failDelete bool
	lose       bool
}

func (f *failingStorage) Delete(ctx context.Context, key string) error {
	if f.failDelete {
		return errors.New("disk on fire")
	}
	return f.Storage.Delete(ctx, key)
}

func (f *failingStorage) Open(ctx context.Context, key string) (io.ReadSeekCloser, blob.Stat, error) {
	if f.lose {
		return nil, blob.Stat{}, identity.ErrNotFound
	}
	return f.Storage.Open(ctx, key)
}

func TestBlobStorageFailures(t *testing.T) {
	d, err := blobstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fst := &failingStorage{Storage: d}
	e := newBlobEnv(t, blob.Config{Storage: fst})
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	b := e.completed(t, alice, []byte("x"), true)

	// A deletion whose bytes cannot be removed is finished by the janitor.
	fst.failDelete = true
	if err := e.files.Delete(ctx, alice, b.ID); err == nil {
		t.Fatal("DeleteBlob succeeded although the bytes could not be removed")
	}
	_, _, err = e.files.Open(ctx, nil, b.UID)
	wantIs(t, "OpenBlob of a half-deleted blob", err, identity.ErrNotFound)
	if _, err := e.id.DeleteExpired(ctx); err == nil {
		t.Fatal("DeleteExpired did not report the storage failure")
	}
	fst.failDelete = false
	e.sweep(t, 1)

	// Missing content of a completed blob is an error, not an empty file.
	c := e.completed(t, alice, []byte("y"), true)
	fst.lose = true
	_, _, err = e.files.Open(ctx, nil, c.UID)
	wantIs(t, "OpenBlob with lost content", err, identity.ErrNotFound)
}

func TestBlobConfigErrors(t *testing.T) {
	d, err := blobstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	st := openStore(t, false)
	id := newPlainEnv(t, st).id
	tests := []struct {
		name string
		id   *identity.Identity
		cfg  blob.Config
		ok   bool
	}{
		{"defaults", id, blob.Config{Store: st, Storage: d}, true},
		{"shared key", id, blob.Config{Store: st, Storage: d, GrantKey: bytes.Repeat([]byte{1}, 32)}, true},
		{"no identity", nil, blob.Config{Store: st, Storage: d}, false},
		{"no store", id, blob.Config{Storage: d}, false},
		{"no storage", id, blob.Config{Store: st}, false},
		{"short key", id, blob.Config{Store: st, Storage: d, GrantKey: []byte("short")}, false},
		{"negative size", id, blob.Config{Store: st, Storage: d, MaxSize: -1}, false},
		{"pending not above grant", id, blob.Config{Store: st, Storage: d, GrantLifetime: time.Hour, PendingLifetime: time.Hour}, false},
		{"negative lifetime", id, blob.Config{Store: st, Storage: d, GrantLifetime: -time.Minute}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := blob.New(tc.id, tc.cfg)
			if (err == nil) != tc.ok || (err == nil) != (s != nil) {
				t.Fatalf("New = %v, %v; want ok=%v", s, err, tc.ok)
			}
		})
	}
}

// FuzzUploadGrant feeds arbitrary grants to UploadBlob: each is refused with ErrInvalidGrant
// unless it is exactly the grant that was issued (and then it works once).
func FuzzUploadGrant(f *testing.F) {
	e := newBlobEnv(f, blob.Config{})
	ctx := context.Background()
	_, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: ptr("fuzzer"), Password: ptr("password123")})
	if err != nil {
		f.Fatal(err)
	}
	s := e.userSession(f, "fuzzer", "password123")
	_, g, err := e.files.Create(ctx, s, blob.Input{Name: "f"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(g.Token)
	f.Add("v1..")
	f.Add("v1.MS4yLjMuNC41.AAAA")
	f.Add(strings.Replace(g.Token, "v1.", "v1.x", 1))
	used := false
	f.Fuzz(func(t *testing.T, tok string) {
		_, err := e.files.Upload(ctx, nil, tok, strings.NewReader("x"))
		switch {
		case err == nil && tok == g.Token && !used:
			used = true
		case err == nil:
			t.Fatalf("grant %q accepted", tok)
		case !errors.Is(err, blob.ErrInvalidGrant):
			t.Fatalf("grant %q: %v, want ErrInvalidGrant", tok, err)
		}
	})
}
