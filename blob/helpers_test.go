package blob_test

import (
	"bytes"
	"context"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
	"github.com/identitykit/identity/internal/testutil"
	"github.com/identitykit/identity/internal/testutil/testenv"
	"github.com/identitykit/identity/provider/guest"
	"github.com/identitykit/identity/store/blobstore"
	"github.com/identitykit/identity/store/gormstore"
)

// env is an Identity with file storage on: a blob.Service over a gormstore.Store and a
// blobstore.Dir in a temp directory, on a test clock, logging at Debug level into logs.
type env struct {
	id      *identity.Identity
	files   *blob.Service
	app     *identity.Application
	clock   *testutil.Clock
	store   *gormstore.Store
	logs    *testutil.LogBuffer
	dir     string
	storage *blobstore.Dir
}

// openStore returns a migrated store: SQLite in a temp dir, or PostgreSQL when pg is true
// (skipped without IDENTITY_TEST_POSTGRES_DSN).
func openStore(tb testing.TB, pg bool) *gormstore.Store { return testenv.OpenStore(tb, pg) }

// backends runs f on SQLite and, with IDENTITY_TEST_POSTGRES_DSN set, on PostgreSQL.
func backends(t *testing.T, f func(t *testing.T, pg bool)) {
	t.Run("sqlite", func(t *testing.T) { f(t, false) })
	t.Run("postgres", func(t *testing.T) { f(t, true) })
}

// newBlobEnv is an env on SQLite with cfg (Store and Storage filled in when unset).
func newBlobEnv(tb testing.TB, cfg blob.Config) *env {
	tb.Helper()
	return newEnvOn(tb, openStore(tb, false), cfg)
}

// newEnvOn is an env on st with cfg (Store and Storage filled in when unset).
func newEnvOn(tb testing.TB, st *gormstore.Store, cfg blob.Config) *env {
	tb.Helper()
	e := newPlainEnv(tb, st)
	e.dir = filepath.Join(tb.TempDir(), "blobs")
	d, err := blobstore.OpenDir(e.dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	e.storage = d
	if cfg.Storage == nil {
		cfg.Storage = d
	}
	if cfg.Store == nil {
		cfg.Store = st
	}
	cfg.Now, cfg.Logger = e.clock.Now, e.logs.Logger()
	if e.files, err = blob.New(e.id, cfg); err != nil {
		tb.Fatal(err)
	}
	return e
}

// newPlainEnv is an Identity on st and its application "test", without file storage.
func newPlainEnv(tb testing.TB, st *gormstore.Store) *env {
	tb.Helper()
	e := &env{
		clock: testutil.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)),
		store: st,
		logs:  &testutil.LogBuffer{},
	}
	pw := testenv.Passwords(tb)
	gp, err := guest.New(guest.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	e.id, err = identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw, gp},
		Now: e.clock.Now, Logger: e.logs.Logger()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.id.Shutdown(context.Background()) })
	if e.app, err = e.id.CreateApplication(context.Background(), "test", identity.AppSettings{}); err != nil {
		tb.Fatal(err)
	}
	return e
}

func (e *env) signUp(t testing.TB, login string) *identity.Session {
	t.Helper()
	_, err := e.id.SignUp(context.Background(), e.app.ID, identity.UserInput{Login: ptr(login), Password: ptr("password123")})
	if err != nil {
		t.Fatal(err)
	}
	return e.userSession(t, login, "password123")
}

func (e *env) userSession(tb testing.TB, login, pw string) *identity.Session {
	tb.Helper()
	return testenv.Session(tb, e.id, e.app, login, pw)
}

func appSession(t *testing.T, e *env) *identity.Session {
	t.Helper()
	return testenv.Session(t, e.id, e.app, "", "")
}

// upload creates a blob as s and uploads content; it returns the uploaded blob.
func (e *env) upload(t *testing.T, s *identity.Session, content []byte, public bool) *blob.Blob {
	t.Helper()
	ctx := t.Context()
	b, g, err := e.files.Create(ctx, s, blob.Input{Name: "me.png", ContentType: "image/png", Public: public})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	ub, err := e.files.Upload(ctx, nil, g.Token, bytes.NewReader(content))
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if ub.ID != b.ID || ub.Size != int64(len(content)) || ub.State != blob.Uploaded {
		t.Fatalf("Upload returned %+v", ub)
	}
	return ub
}

// completed creates, uploads and completes a blob as s.
func (e *env) completed(t *testing.T, s *identity.Session, content []byte, public bool) *blob.Blob {
	t.Helper()
	b := e.upload(t, s, content, public)
	cb, err := e.files.Complete(t.Context(), s, b.ID, int64(len(content)))
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	return cb
}

// storedFiles lists the files under the blob directory, temporary ones included.
func (e *env) storedFiles(t *testing.T) []string {
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

// sweep runs the Service's Sweep and wants n blobs removed.
func (e *env) sweep(t *testing.T, n int) {
	t.Helper()
	got, err := e.files.Sweep(t.Context())
	if err != nil || got != n {
		t.Fatalf("Sweep = %d, %v; want %d removed", got, err, n)
	}
}

// janitor runs the Identity's DeleteExpired, which runs the Service's Sweep hook, and wants
// the hook's debug line to report n blobs removed.
func (e *env) janitor(t *testing.T, n int) identity.Purged {
	t.Helper()
	e.logs.Reset()
	p, err := e.id.DeleteExpired(t.Context())
	if err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	if want := `msg="blob: janitor sweep" blobs=` + strconv.Itoa(n) + "\n"; !strings.Contains(e.logs.String(), want) {
		t.Fatalf("DeleteExpired logged %q, want a line ending %q", e.logs.String(), want)
	}
	return p
}

// identityKey mirrors the documented storage key layout: application/shard/uid.
func identityKey(appID int64, uid string) string {
	return strconv.FormatInt(appID, 10) + "/" + uid[:2] + "/" + uid
}

// wantIs and wantField check an error's sentinel and field (see testenv).
var (
	wantIs    = testenv.WantIs
	wantField = testenv.WantField
)

func ptr[T any](v T) *T { return &v }
