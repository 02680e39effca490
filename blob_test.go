package identity_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/store/blobstore"
)

// blobCapable is a countingStore that also exposes the BlobStore of the store under it.
type blobCapable struct {
	*countingStore
	identity.BlobStore
}

type blobEnv struct {
	*env
	dir     string
	storage *blobstore.Dir
}

// newBlobEnv is newEnv with blobs on: a blobstore.Dir in a temp directory and cfg applied.
func newBlobEnv(t testing.TB, cfg identity.BlobConfig) *blobEnv {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "blobs")
	d, err := blobstore.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if cfg.Storage == nil {
		cfg.Storage = d
	}
	st := openStore(t, false)
	e := newEnvWith(t, st, cheapPasswords(t), identity.AppSettings{}, func(c *identity.Config) {
		c.Store = blobCapable{c.Store.(*countingStore), st.(identity.BlobStore)}
		c.Blobs = cfg
	})
	return &blobEnv{env: e, dir: dir, storage: d}
}

func (e *blobEnv) signUp(t *testing.T, login string) *identity.Session {
	t.Helper()
	_, err := e.id.SignUp(t.Context(), e.app.ID, identity.UserInput{Login: ptr(login), Password: ptr("password123")})
	if err != nil {
		t.Fatal(err)
	}
	return e.userSession(t, login, "password123")
}

// upload creates a blob as s and uploads content; it returns the uploaded blob.
func (e *blobEnv) upload(t *testing.T, s *identity.Session, content []byte, public bool) *identity.Blob {
	t.Helper()
	ctx := t.Context()
	b, g, err := e.id.CreateBlob(ctx, s, identity.BlobInput{Name: "me.png", ContentType: "image/png", Public: public})
	if err != nil {
		t.Fatalf("CreateBlob: %v", err)
	}
	ub, err := e.id.UploadBlob(ctx, nil, g.Token, bytes.NewReader(content))
	if err != nil {
		t.Fatalf("UploadBlob: %v", err)
	}
	if ub.ID != b.ID || ub.Size != int64(len(content)) || ub.State != identity.BlobUploaded {
		t.Fatalf("UploadBlob returned %+v", ub)
	}
	return ub
}

// completed creates, uploads and completes a blob as s.
func (e *blobEnv) completed(t *testing.T, s *identity.Session, content []byte, public bool) *identity.Blob {
	t.Helper()
	b := e.upload(t, s, content, public)
	cb, err := e.id.CompleteBlob(t.Context(), s, b.ID, int64(len(content)))
	if err != nil {
		t.Fatalf("CompleteBlob: %v", err)
	}
	return cb
}

// storedFiles lists the files under the blob directory, temporary ones included.
func (e *blobEnv) storedFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(e.dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

func wantIs(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func wantField(t *testing.T, what string, err, sentinel error, field string) {
	t.Helper()
	wantIs(t, what, err, sentinel)
	var e *identity.Error
	if !errors.As(err, &e) || e.Code(field) == "" {
		t.Fatalf("%s: error %v does not name %q", what, err, field)
	}
}

func TestBlobLifecycle(t *testing.T) {
	e := newBlobEnv(t, identity.BlobConfig{})
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	bob := e.signUp(t, "bob")
	content := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 300)

	b, g, err := e.id.CreateBlob(ctx, alice, identity.BlobInput{Name: "../../etc/passwd", ContentType: "Image/PNG", Public: false})
	wantIs(t, "CreateBlob", err, nil)
	if !identity.ValidBlobUID(b.UID) || b.State != identity.BlobCreated || b.ContentType != "image/png" || b.UserID != alice.UserID {
		t.Fatalf("CreateBlob = %+v", b)
	}
	if g.MaxSize != 10<<20 || !g.ExpiresAt.Equal(e.clock.Now().Add(15*time.Minute)) || g.Token == "" {
		t.Fatalf("grant = %+v", g)
	}
	if strings.ContainsAny(g.Token, "+/=?&# ") {
		t.Fatalf("grant %q is not URL-safe", g.Token)
	}
	// Not downloadable, not an avatar, invisible to others before completion.
	_, _, err = e.id.OpenBlob(ctx, alice, b.UID)
	wantIs(t, "OpenBlob before upload", err, identity.ErrNotFound)
	_, err = e.id.BlobInfo(ctx, bob, b.ID)
	wantIs(t, "BlobInfo by another user before completion", err, identity.ErrNotFound)
	if got, err := e.id.BlobInfo(ctx, alice, b.ID); err != nil || got.State != identity.BlobCreated {
		t.Fatalf("BlobInfo by the owner = %+v, %v", got, err)
	}

	// The uploader's own session is accepted with the grant.
	ub, err := e.id.UploadBlob(ctx, alice, g.Token, bytes.NewReader(content))
	wantIs(t, "UploadBlob", err, nil)
	if ub.Size != int64(len(content)) || ub.State != identity.BlobUploaded {
		t.Fatalf("UploadBlob = %+v", ub)
	}
	// The client's name never reaches the filesystem.
	files := e.storedFiles(t)
	want := filepath.Join(strings.Split(identityKey(e.app.ID, b.UID), "/")...)
	if len(files) != 1 || files[0] != want {
		t.Fatalf("stored files = %v, want [%s]", files, want)
	}
	cb, err := e.id.CompleteBlob(ctx, alice, b.ID, int64(len(content)))
	wantIs(t, "CompleteBlob", err, nil)
	if cb.State != identity.BlobCompleted || !cb.CompletedAt.Equal(e.clock.Now()) {
		t.Fatalf("CompleteBlob = %+v", cb)
	}
	_, err = e.id.CompleteBlob(ctx, alice, b.ID, int64(len(content)))
	wantIs(t, "CompleteBlob again (idempotent)", err, nil)

	// Private: any session of the application, with its token; none without.
	for _, s := range []*identity.Session{alice, bob, appSession(t, e.env)} {
		got, rc, err := e.id.OpenBlob(ctx, s, b.UID)
		wantIs(t, "OpenBlob", err, nil)
		data, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(data, content) || got.Size != int64(len(content)) {
			t.Fatal("OpenBlob content differs")
		}
	}
	_, _, err = e.id.OpenBlob(ctx, nil, b.UID)
	wantIs(t, "OpenBlob private without a token", err, identity.ErrSessionNotFound)
	// A session of another application does not see it.
	other, err := e.id.CreateApplication(ctx, "other", identity.AppSettings{})
	wantIs(t, "CreateApplication", err, nil)
	oss, err := e.id.CreateSession(ctx, identity.SessionRequest{ApplicationID: other.ID, AuthKey: other.AuthKey})
	wantIs(t, "CreateSession", err, nil)
	_, _, err = e.id.OpenBlob(ctx, oss, b.UID)
	wantIs(t, "OpenBlob from another application", err, identity.ErrNotFound)
	// An expired session is no longer good for a private blob.
	e.clock.Advance(3 * time.Hour)
	_, err = e.id.Validate(ctx, bob.Token)
	wantIs(t, "Validate of an expired token (the caller then opens without a session)", err, identity.ErrSessionNotFound)

	// Info: the owner always; others only public completed blobs.
	alice = e.userSession(t, "alice", "password123")
	bob = e.userSession(t, "bob", "password123")
	_, err = e.id.BlobInfo(ctx, bob, b.ID)
	wantIs(t, "BlobInfo of a private blob by another user", err, identity.ErrNotFound)
	pub := e.completed(t, alice, []byte("public"), true)
	if got, err := e.id.BlobInfo(ctx, bob, pub.ID); err != nil || got.UID != pub.UID {
		t.Fatalf("BlobInfo of a public blob = %+v, %v", got, err)
	}
	_, rc, err := e.id.OpenBlob(ctx, nil, pub.UID)
	wantIs(t, "OpenBlob public without a token", err, nil)
	rc.Close()
	for _, uid := range []string{"", "../../etc/passwd", strings.Repeat("1", 32), strings.ToUpper(pub.UID), pub.UID + "0"} {
		_, _, err = e.id.OpenBlob(ctx, nil, uid)
		wantIs(t, "OpenBlob("+uid+")", err, identity.ErrNotFound)
	}
}

// identityKey mirrors the documented storage key layout: application/shard/uid.
func identityKey(appID int64, uid string) string {
	return strconv.FormatInt(appID, 10) + "/" + uid[:2] + "/" + uid
}

func appSession(t *testing.T, e *env) *identity.Session {
	t.Helper()
	s, err := e.id.CreateSession(t.Context(), identity.SessionRequest{ApplicationID: e.app.ID, AuthKey: e.app.AuthKey})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCreateBlobValidation(t *testing.T) {
	e := newBlobEnv(t, identity.BlobConfig{})
	alice := e.signUp(t, "alice")
	tests := []struct {
		name      string
		s         *identity.Session
		in        identity.BlobInput
		wantErr   error
		wantField string
		wantCT    string
	}{
		{"ok", alice, identity.BlobInput{Name: "a.png", ContentType: "image/png"}, nil, "", "image/png"},
		{"no content type", alice, identity.BlobInput{Name: "a"}, nil, "", "application/octet-stream"},
		{"content type with params", alice, identity.BlobInput{Name: "a", ContentType: "text/plain; Charset=UTF-8"}, nil, "", "text/plain; charset=UTF-8"},
		{"application session", appSession(t, e.env), identity.BlobInput{Name: "a"}, identity.ErrNeedUser, "", ""},
		{"no session", nil, identity.BlobInput{Name: "a"}, identity.ErrSessionNotFound, "", ""},
		{"blank name", alice, identity.BlobInput{Name: "  "}, identity.ErrInvalidInput, "name", ""},
		{"control in name", alice, identity.BlobInput{Name: "a\nb"}, identity.ErrInvalidInput, "name", ""},
		{"NUL in name", alice, identity.BlobInput{Name: "a\x00b"}, identity.ErrInvalidInput, "name", ""},
		{"invalid UTF-8 name", alice, identity.BlobInput{Name: "\xff"}, identity.ErrInvalidInput, "name", ""},
		{"long name", alice, identity.BlobInput{Name: strings.Repeat("é", 256)}, identity.ErrInvalidInput, "name", ""},
		{"bad content type", alice, identity.BlobInput{Name: "a", ContentType: "png"}, identity.ErrInvalidInput, "content_type", ""},
		{"header injection in content type", alice, identity.BlobInput{Name: "a", ContentType: "image/png\r\nSet-Cookie: x=y"}, identity.ErrInvalidInput, "content_type", ""},
		{"long content type", alice, identity.BlobInput{Name: "a", ContentType: "image/" + strings.Repeat("x", 300)}, identity.ErrInvalidInput, "content_type", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, g, err := e.id.CreateBlob(t.Context(), tc.s, tc.in)
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
	// Blobs off.
	off := newEnv(t, identity.AppSettings{})
	s := appSession(t, off)
	for name, err := range map[string]error{
		"CreateBlob": func() error {
			_, _, err := off.id.CreateBlob(t.Context(), s, identity.BlobInput{Name: "a"})
			return err
		}(),
		"UploadBlob": func() error { _, err := off.id.UploadBlob(t.Context(), nil, "x", strings.NewReader("")); return err }(),
		"OpenBlob":   func() error { _, _, err := off.id.OpenBlob(t.Context(), nil, "x"); return err }(),
	} {
		wantIs(t, name+" with blobs off", err, identity.ErrDisabled)
	}
	if off.id.BlobsEnabled() || off.id.MaxBlobSize() != 0 || !e.id.BlobsEnabled() || e.id.MaxBlobSize() != 10<<20 {
		t.Fatal("BlobsEnabled/MaxBlobSize wrong")
	}
}

func TestUploadGrant(t *testing.T) {
	e := newBlobEnv(t, identity.BlobConfig{})
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	bob := e.signUp(t, "bob")
	newGrant := func() (*identity.Blob, *identity.UploadGrant) {
		b, g, err := e.id.CreateBlob(ctx, alice, identity.BlobInput{Name: "a.png", ContentType: "image/png"})
		if err != nil {
			t.Fatal(err)
		}
		return b, g
	}
	// A grant for another blob, and its parts, to splice.
	_, g2 := newGrant()
	p2 := strings.Split(g2.Token, ".")
	other := newBlobEnv(t, identity.BlobConfig{}) // another process: another random key
	otherAlice := other.signUp(t, "alice")
	_, og, err := other.id.CreateBlob(ctx, otherAlice, identity.BlobInput{Name: "a"})
	wantIs(t, "CreateBlob", err, nil)

	tests := []struct {
		name  string
		s     func() *identity.Session
		token func(g *identity.UploadGrant) string
		prep  func()
	}{
		{"missing", nil, func(*identity.UploadGrant) string { return "" }, nil},
		{"garbage", nil, func(*identity.UploadGrant) string { return "not a grant" }, nil},
		{"overlong", nil, func(g *identity.UploadGrant) string { return g.Token + strings.Repeat("A", 600) }, nil},
		{"wrong version", nil, func(g *identity.UploadGrant) string { return "v2" + strings.TrimPrefix(g.Token, "v1") }, nil},
		{"payload of another grant", nil, func(g *identity.UploadGrant) string {
			p := strings.Split(g.Token, ".")
			return p[0] + "." + p2[1] + "." + p[2]
		}, nil},
		{"flipped mac", nil, func(g *identity.UploadGrant) string {
			b := []byte(g.Token)
			if b[len(b)-2] == 'A' {
				b[len(b)-2] = 'B'
			} else {
				b[len(b)-2] = 'A'
			}
			return string(b)
		}, nil},
		{"signed by another key", nil, func(*identity.UploadGrant) string { return og.Token }, nil},
		{"wrong user's session", func() *identity.Session { return bob }, func(g *identity.UploadGrant) string { return g.Token }, nil},
		{"another application's session", func() *identity.Session { return appSession(t, other.env) }, func(g *identity.UploadGrant) string { return g.Token }, nil},
		{"expired", nil, func(g *identity.UploadGrant) string { return g.Token }, func() { e.clock.Advance(15 * time.Minute) }},
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
			_, err := e.id.UploadBlob(ctx, s, tc.token(g), strings.NewReader("data"))
			wantIs(t, "UploadBlob", err, identity.ErrInvalidGrant)
			wantIs(t, "UploadBlob", err, identity.ErrForbidden)
			if got, _ := e.id.BlobInfo(ctx, alice, b.ID); got == nil || got.State != identity.BlobCreated {
				t.Fatalf("a refused upload changed the blob: %+v", got)
			}
		})
	}
	alice = e.userSession(t, "alice", "password123") // the clock moved

	// Replay: the grant is single-use, also after a success.
	b, g := newGrant()
	_, err = e.id.UploadBlob(ctx, nil, g.Token, strings.NewReader("first"))
	wantIs(t, "first UploadBlob", err, nil)
	_, err = e.id.UploadBlob(ctx, nil, g.Token, strings.NewReader("second, longer"))
	wantIs(t, "replayed UploadBlob", err, identity.ErrInvalidGrant)
	_, rcErr := e.id.CompleteBlob(ctx, alice, b.ID, 5)
	wantIs(t, "CompleteBlob after a replay attempt", rcErr, nil)
	_, rc, err := e.id.OpenBlob(ctx, alice, b.UID)
	wantIs(t, "OpenBlob", err, nil)
	data, _ := io.ReadAll(rc)
	rc.Close()
	if string(data) != "first" {
		t.Fatalf("content %q, want the first upload's", data)
	}

	// A deleted blob's grant is dead.
	b, g = newGrant()
	wantIs(t, "DeleteBlob", e.id.DeleteBlob(ctx, alice, b.ID), nil)
	_, err = e.id.UploadBlob(ctx, nil, g.Token, strings.NewReader("x"))
	wantIs(t, "UploadBlob of a deleted blob", err, identity.ErrInvalidGrant)

	// Processes sharing GrantKey accept each other's grants.
	key := bytes.Repeat([]byte{7}, 32)
	st := openStore(t, false)
	mk := func() *identity.Identity {
		d, err := blobstore.OpenDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		id, err := identity.New(identity.Config{Store: st, Hasher: cheapPasswords(t), Providers: []identity.Provider{cheapPasswords(t)},
			Blobs: identity.BlobConfig{Storage: d, GrantKey: key}})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	one, two := mk(), mk()
	app, err := one.CreateApplication(ctx, "shared", identity.AppSettings{})
	wantIs(t, "CreateApplication", err, nil)
	_, err = one.SignUp(ctx, app.ID, identity.UserInput{Login: ptr("carol"), Password: ptr("password123")})
	wantIs(t, "SignUp", err, nil)
	cs, err := one.CreateSession(ctx, identity.SessionRequest{ApplicationID: app.ID, AuthKey: app.AuthKey,
		Credentials: &identity.Credentials{Login: "carol", Password: "password123"}})
	wantIs(t, "CreateSession", err, nil)
	_, sg, err := one.CreateBlob(ctx, cs, identity.BlobInput{Name: "a"})
	wantIs(t, "CreateBlob", err, nil)
	_, err = two.UploadBlob(ctx, nil, sg.Token, strings.NewReader("x"))
	wantIs(t, "UploadBlob on another process with the same key", err, nil)
}

func TestUploadTooLargeLeavesNothing(t *testing.T) {
	e := newBlobEnv(t, identity.BlobConfig{MaxSize: 1024})
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	b, g, err := e.id.CreateBlob(ctx, alice, identity.BlobInput{Name: "big.bin"})
	wantIs(t, "CreateBlob", err, nil)
	if g.MaxSize != 1024 {
		t.Fatalf("grant MaxSize = %d", g.MaxSize)
	}
	_, err = e.id.UploadBlob(ctx, nil, g.Token, bytes.NewReader(make([]byte, 1025)))
	wantField(t, "UploadBlob of 1025 bytes", err, identity.ErrTooLarge, "file")
	if f := e.storedFiles(t); len(f) != 0 {
		t.Fatalf("an oversized upload left %v", f)
	}
	_, err = e.id.CompleteBlob(ctx, alice, b.ID, 1025)
	wantField(t, "CompleteBlob of a failed upload", err, identity.ErrInvalidInput, "")
	_, err = e.id.UploadBlob(ctx, nil, g.Token, bytes.NewReader(make([]byte, 10)))
	wantIs(t, "retry with the spent grant", err, identity.ErrInvalidGrant)

	// Exactly the limit is fine; a broken stream stores nothing.
	_, g, _ = e.id.CreateBlob(ctx, alice, identity.BlobInput{Name: "ok.bin"})
	_, err = e.id.UploadBlob(ctx, nil, g.Token, bytes.NewReader(make([]byte, 1024)))
	wantIs(t, "UploadBlob of exactly MaxSize", err, nil)
	errCut := errors.New("connection reset by peer")
	_, g, _ = e.id.CreateBlob(ctx, alice, identity.BlobInput{Name: "cut.bin"})
	_, err = e.id.UploadBlob(ctx, nil, g.Token, io.MultiReader(bytes.NewReader(make([]byte, 500)), errReader{errCut}))
	wantIs(t, "UploadBlob of a broken stream", err, errCut)
	if f := e.storedFiles(t); len(f) != 1 {
		t.Fatalf("stored files = %v, want only the complete upload", f)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestCompleteBlobSize(t *testing.T) {
	e := newBlobEnv(t, identity.BlobConfig{})
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	bob := e.signUp(t, "bob")

	b, g, _ := e.id.CreateBlob(ctx, alice, identity.BlobInput{Name: "a"})
	_, err := e.id.CompleteBlob(ctx, alice, b.ID, 0)
	wantField(t, "CompleteBlob before the upload", err, identity.ErrInvalidInput, "")
	_, err = e.id.UploadBlob(ctx, nil, g.Token, strings.NewReader("12345"))
	wantIs(t, "UploadBlob", err, nil)
	_, err = e.id.CompleteBlob(ctx, bob, b.ID, 5)
	wantIs(t, "CompleteBlob by another user", err, identity.ErrNotFound)
	_, err = e.id.CompleteBlob(ctx, appSession(t, e.env), b.ID, 5)
	wantIs(t, "CompleteBlob by an application session", err, identity.ErrNeedUser)
	_, err = e.id.CompleteBlob(ctx, alice, b.ID+100, 5)
	wantIs(t, "CompleteBlob of a missing blob", err, identity.ErrNotFound)

	// A wrong size discards the upload: metadata and bytes.
	_, err = e.id.CompleteBlob(ctx, alice, b.ID, 6)
	wantField(t, "CompleteBlob with a wrong size", err, identity.ErrInvalidInput, "size")
	if f := e.storedFiles(t); len(f) != 0 {
		t.Fatalf("a mismatched upload left %v", f)
	}
	_, err = e.id.BlobInfo(ctx, alice, b.ID)
	wantIs(t, "BlobInfo of a discarded blob", err, identity.ErrNotFound)
	_, err = e.id.CompleteBlob(ctx, alice, b.ID, 5)
	wantIs(t, "CompleteBlob of a discarded blob", err, identity.ErrNotFound)

	// A completed blob keeps its size.
	c := e.completed(t, alice, []byte("abc"), false)
	_, err = e.id.CompleteBlob(ctx, alice, c.ID, 4)
	wantField(t, "re-completing with another size", err, identity.ErrInvalidInput, "size")
	if _, _, err := e.id.OpenBlob(ctx, alice, c.UID); err != nil {
		t.Fatalf("a completed blob was lost: %v", err)
	}
}

func TestAvatarMustNameUsableBlob(t *testing.T) {
	e := newBlobEnv(t, identity.BlobConfig{})
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	bob := e.signUp(t, "bob")
	own := e.completed(t, alice, []byte("mine"), false)
	bobsPrivate := e.completed(t, bob, []byte("bob private"), false)
	bobsPublic := e.completed(t, bob, []byte("bob public"), true)
	incomplete := e.upload(t, alice, []byte("not completed"), false)

	otherEnv := newBlobEnv(t, identity.BlobConfig{})
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
	wantIs(t, "DeleteBlob", e.id.DeleteBlob(ctx, alice, own.ID), nil)
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

	// With blobs off the avatar is free text.
	off := newEnv(t, identity.AppSettings{})
	off.id.SignUp(ctx, off.app.ID, identity.UserInput{Login: ptr("olga"), Password: ptr("password123")})
	olga := off.userSession(t, "olga", "password123")
	if _, err := off.id.UpdateUser(ctx, olga, olga.UserID, identity.UserInput{Avatar: ptr("https://cdn.example/a.png")}); err != nil {
		t.Fatalf("UpdateUser with blobs off: %v", err)
	}
}

func TestDeleteExpiredRemovesStaleBlobs(t *testing.T) {
	e := newBlobEnv(t, identity.BlobConfig{})
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	kept := e.completed(t, alice, []byte("keep"), false)
	e.upload(t, alice, []byte("uploaded, never completed"), false)
	_, g, _ := e.id.CreateBlob(ctx, alice, identity.BlobInput{Name: "never uploaded"})
	_, _, _ = e.id.CreateBlob(ctx, alice, identity.BlobInput{Name: "grant never used"})

	p, err := e.id.DeleteExpired(ctx)
	wantIs(t, "DeleteExpired", err, nil)
	if p.Blobs != 0 {
		t.Fatalf("DeleteExpired removed %d fresh blobs", p.Blobs)
	}
	e.clock.Advance(time.Hour + time.Second)
	fresh := e.upload(t, e.userSession(t, "alice", "password123"), []byte("fresh"), false)
	p, err = e.id.DeleteExpired(ctx)
	wantIs(t, "DeleteExpired", err, nil)
	if p.Blobs != 3 {
		t.Fatalf("DeleteExpired removed %d blobs, want 3", p.Blobs)
	}
	want := []string{
		filepath.FromSlash(identityKey(e.app.ID, kept.UID)),
		filepath.FromSlash(identityKey(e.app.ID, fresh.UID)),
	}
	got := e.storedFiles(t)
	if len(got) != 2 || !(got[0] == want[0] && got[1] == want[1] || got[0] == want[1] && got[1] == want[0]) {
		t.Fatalf("files after DeleteExpired = %v, want %v", got, want)
	}
	_, err = e.id.UploadBlob(ctx, nil, g.Token, strings.NewReader("late"))
	wantIs(t, "UploadBlob of a removed blob", err, identity.ErrInvalidGrant)
	if _, _, err := e.id.OpenBlob(ctx, nil, kept.UID); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Fatalf("the completed private blob: %v", err)
	}
}

func TestDeleteBlob(t *testing.T) {
	e := newBlobEnv(t, identity.BlobConfig{})
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	bob := e.signUp(t, "bob")
	b := e.completed(t, alice, []byte("x"), true)
	wantIs(t, "DeleteBlob by another user", e.id.DeleteBlob(ctx, bob, b.ID), identity.ErrNotFound)
	wantIs(t, "DeleteBlob by an application session", e.id.DeleteBlob(ctx, appSession(t, e.env), b.ID), identity.ErrNeedUser)
	wantIs(t, "DeleteBlob", e.id.DeleteBlob(ctx, alice, b.ID), nil)
	wantIs(t, "DeleteBlob again", e.id.DeleteBlob(ctx, alice, b.ID), identity.ErrNotFound)
	_, _, err := e.id.OpenBlob(ctx, nil, b.UID)
	wantIs(t, "OpenBlob of a deleted blob", err, identity.ErrNotFound)
	if f := e.storedFiles(t); len(f) != 0 {
		t.Fatalf("files after DeleteBlob = %v", f)
	}
}

// failingStorage is a BlobStorage whose Delete fails and whose content can go missing.
type failingStorage struct {
	identity.BlobStorage
	failDelete bool
	lose       bool
}

func (f *failingStorage) Delete(ctx context.Context, key string) error {
	if f.failDelete {
		return errors.New("disk on fire")
	}
	return f.BlobStorage.Delete(ctx, key)
}

func (f *failingStorage) Open(ctx context.Context, key string) (io.ReadSeekCloser, identity.BlobStat, error) {
	if f.lose {
		return nil, identity.BlobStat{}, identity.ErrNotFound
	}
	return f.BlobStorage.Open(ctx, key)
}

func TestBlobStorageFailures(t *testing.T) {
	d, err := blobstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fst := &failingStorage{BlobStorage: d}
	e := newBlobEnv(t, identity.BlobConfig{Storage: fst})
	ctx := t.Context()
	alice := e.signUp(t, "alice")
	b := e.completed(t, alice, []byte("x"), true)

	// A deletion whose bytes cannot be removed is finished by DeleteExpired.
	fst.failDelete = true
	if err := e.id.DeleteBlob(ctx, alice, b.ID); err == nil {
		t.Fatal("DeleteBlob succeeded although the bytes could not be removed")
	}
	_, _, err = e.id.OpenBlob(ctx, nil, b.UID)
	wantIs(t, "OpenBlob of a half-deleted blob", err, identity.ErrNotFound)
	if _, err := e.id.DeleteExpired(ctx); err == nil {
		t.Fatal("DeleteExpired did not report the storage failure")
	}
	fst.failDelete = false
	p, err := e.id.DeleteExpired(ctx)
	if err != nil || p.Blobs != 1 {
		t.Fatalf("DeleteExpired = %+v, %v; want the interrupted deletion finished", p, err)
	}

	// Missing content of a completed blob is an error, not an empty file.
	c := e.completed(t, alice, []byte("y"), true)
	fst.lose = true
	_, _, err = e.id.OpenBlob(ctx, nil, c.UID)
	wantIs(t, "OpenBlob with lost content", err, identity.ErrNotFound)
}

func TestBlobConfigErrors(t *testing.T) {
	d, err := blobstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	st := openStore(t, false)
	tests := []struct {
		name  string
		store identity.Store
		cfg   identity.BlobConfig
		ok    bool
	}{
		{"defaults", st, identity.BlobConfig{Storage: d}, true},
		{"off", &countingStore{Store: st}, identity.BlobConfig{}, true},
		{"store without BlobStore", &countingStore{Store: st}, identity.BlobConfig{Storage: d}, false},
		{"short key", st, identity.BlobConfig{Storage: d, GrantKey: []byte("short")}, false},
		{"negative size", st, identity.BlobConfig{Storage: d, MaxSize: -1}, false},
		{"pending not above grant", st, identity.BlobConfig{Storage: d, GrantLifetime: time.Hour, PendingLifetime: time.Hour}, false},
		{"negative lifetime", st, identity.BlobConfig{Storage: d, GrantLifetime: -time.Minute}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := identity.New(identity.Config{Store: tc.store, Hasher: cheapPasswords(t), Blobs: tc.cfg})
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// FuzzUploadGrant feeds arbitrary grants to UploadBlob: each is refused with ErrInvalidGrant
// unless it is exactly the grant that was issued (and then it works once).
func FuzzUploadGrant(f *testing.F) {
	e := newBlobEnv(f, identity.BlobConfig{})
	ctx := context.Background()
	_, err := e.id.SignUp(ctx, e.app.ID, identity.UserInput{Login: ptr("fuzzer"), Password: ptr("password123")})
	if err != nil {
		f.Fatal(err)
	}
	s := e.userSession(f, "fuzzer", "password123")
	_, g, err := e.id.CreateBlob(ctx, s, identity.BlobInput{Name: "f"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(g.Token)
	f.Add("v1..")
	f.Add("v1.MS4yLjMuNC41.AAAA")
	f.Add(strings.Replace(g.Token, "v1.", "v1.x", 1))
	used := false
	f.Fuzz(func(t *testing.T, tok string) {
		_, err := e.id.UploadBlob(ctx, nil, tok, strings.NewReader("x"))
		switch {
		case err == nil && tok == g.Token && !used:
			used = true
		case err == nil:
			t.Fatalf("grant %q accepted", tok)
		case !errors.Is(err, identity.ErrInvalidGrant):
			t.Fatalf("grant %q: %v, want ErrInvalidGrant", tok, err)
		}
	})
}
