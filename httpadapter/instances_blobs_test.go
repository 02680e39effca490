package httpadapter_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
	"github.com/identitykit/identity/httpadapter"
	"github.com/identitykit/identity/internal/testutil"
	"github.com/identitykit/identity/internal/testutil/testenv"
	"github.com/identitykit/identity/store/blobstore/s3blob"
	"github.com/identitykit/identity/store/gormstore"
)

// TestTwoInstancesShareBlobsOnS3 runs two complete server instances on one PostgreSQL
// database and one S3 bucket, with one upload grant key (blob.Config.GrantKey), as a
// deployment behind a load balancer would: a file uploaded through one is served by the
// other, with ranges and the same headers; an upload grant issued by one is honoured (once)
// by the other; deleting a file, or its owner, on one removes the object from the bucket.
//
// It runs when both IDENTITY_TEST_POSTGRES_DSN and IDENTITY_TEST_S3_ENDPOINT are set (.ci/run
// sets both).
func TestTwoInstancesShareBlobsOnS3(t *testing.T) {
	stA, stB, _ := twoPostgresStores(t)
	s3cfg := testenv.S3(t)
	ctx := context.Background()
	clk := testutil.NewClock(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	grantKey := make([]byte, 32)
	rand.Read(grantKey)
	pw := testenv.Passwords(t)
	logs := &testutil.LogBuffer{}
	newInstance := func(st *gormstore.Store) *blobEnv {
		bs, err := s3blob.New(s3cfg) // each instance its own client, as two processes
		if err != nil {
			t.Fatal(err)
		}
		if err := bs.Check(ctx); err != nil {
			t.Fatal(err)
		}
		log := slog.New(slog.NewTextHandler(logs, nil))
		id, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: []identity.Provider{pw}, Now: clk.Now, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		files, err := blob.New(id, blob.Config{Store: st, Storage: bs, GrantKey: grantKey, Now: clk.Now, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		h := httpadapter.New(id, httpadapter.Config{InsecureNoRateLimit: true, Logger: log, Blobs: files})
		return &blobEnv{env: &env{t: t, id: id, clock: clk, store: st, logs: logs, h: h}}
	}
	a, b := newInstance(stA), newInstance(stB)
	app, err := a.id.CreateApplication(ctx, "two instances, one bucket", identity.AppSettings{})
	if err != nil {
		t.Fatal(err)
	}
	a.app, b.app = app, app
	objects := func() []string {
		var out []string
		for o := range testenv.S3Client(t, s3cfg).ListObjects(ctx, s3cfg.Bucket, minio.ListObjectsOptions{Prefix: s3cfg.Prefix + "/", Recursive: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			out = append(out, o.Key)
		}
		return out
	}
	complete := func(e *blobEnv, token string, id int64, size int) {
		t.Helper()
		if r := e.do("PUT", "/blobs/"+itoa(id)+"/complete.json", `{"size":`+strconv.Itoa(size)+`}`, "CB-Token: "+token); r.Code != http.StatusOK {
			t.Fatalf("complete: %d %s", r.Code, r.Body)
		}
	}

	alice, aliceID := a.userSession("alice", "password123")
	bobOnB, _ := b.userSession("bob", "password123")

	// Alice's avatar, created, uploaded and completed through A.
	av, u := a.createBlob(alice, "avatar.png", "image/png", false)
	if r := a.upload(u, png, "CB-Token: "+alice); r.Code != http.StatusCreated {
		t.Fatalf("upload through A: %d %s", r.Code, r.Body)
	}
	complete(a, alice, av.ID, len(png))
	if r := a.do("PUT", "/users/"+itoa(aliceID)+".json", `{"user":{"avatar":"`+av.UID+`"}}`, "CB-Token: "+alice); r.Code != http.StatusOK {
		t.Fatalf("set avatar through A: %d %s", r.Code, r.Body)
	}
	if got := objects(); len(got) != 1 {
		t.Fatalf("objects after one upload: %v", got)
	}

	// B serves it to Bob, whole and by ranges, with the usual headers.
	r := b.do("GET", "/blobs/"+av.UID+"?token="+bobOnB, "")
	if r.Code != http.StatusOK || r.Body != string(png) {
		t.Fatalf("download through B: %d, %d bytes", r.Code, len(r.Body))
	}
	for k, want := range map[string]string{
		"Content-Type":            "image/png",
		"Content-Length":          strconv.Itoa(len(png)),
		"Etag":                    `"` + av.UID + `"`,
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; sandbox",
		"Accept-Ranges":           "bytes",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("through B: %s = %q, want %q", k, got, want)
		}
	}
	r = b.do("GET", "/blobs/"+av.UID+"?token="+bobOnB, "", "Range: bytes=1-3")
	if r.Code != http.StatusPartialContent || r.Body != "PNG" || r.Header.Get("Content-Range") != "bytes 1-3/"+strconv.Itoa(len(png)) {
		t.Fatalf("range through B: %d %q %v", r.Code, r.Body, r.Header)
	}
	r = b.do("GET", "/blobs/"+av.UID+"?token="+bobOnB, "", "Range: bytes=100-199,2000-")
	if r.Code != http.StatusPartialContent || !bytes.Contains([]byte(r.Body), png[100:200]) || !bytes.Contains([]byte(r.Body), png[2000:]) {
		t.Fatalf("multi-range through B: %d", r.Code)
	}

	// A grant issued by A is honoured by B, once; the file is then served by A.
	pub, pu := a.createBlob(alice, "pub.jpg", "image/jpeg", true)
	if r := b.upload(pu, []byte("jpeg"), "CB-Token: "+alice); r.Code != http.StatusCreated {
		t.Fatalf("upload through B with A's grant: %d %s", r.Code, r.Body)
	}
	if r := a.upload(pu, []byte("evil"), "CB-Token: "+alice); r.Code != http.StatusForbidden {
		t.Fatalf("the grant used on B, again on A: %d %s", r.Code, r.Body)
	}
	complete(a, alice, pub.ID, 4)
	if r := a.do("GET", "/blobs/"+pub.UID, ""); r.Code != http.StatusOK || r.Body != "jpeg" {
		t.Fatalf("download through A of the file uploaded through B: %d %q", r.Code, r.Body)
	}

	// Deleted through B: gone from A and from the bucket.
	if r := b.do("DELETE", "/blobs/"+itoa(pub.ID)+".json", "", "CB-Token: "+alice); r.Code != http.StatusOK {
		t.Fatalf("delete through B: %d %s", r.Code, r.Body)
	}
	if r := a.do("GET", "/blobs/"+pub.UID, ""); r.Code != http.StatusNotFound {
		t.Fatalf("deleted file through A: %d", r.Code)
	}
	if got := objects(); len(got) != 1 {
		t.Fatalf("objects after deleting one of two: %v", got)
	}

	// Alice deleted through A: B's janitor removes her avatar's object.
	if r := a.do("DELETE", "/users/"+itoa(aliceID)+".json", "", "CB-Token: "+alice); r.Code != http.StatusOK {
		t.Fatalf("delete user through A: %d %s", r.Code, r.Body)
	}
	if _, err := b.id.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if got := objects(); len(got) != 0 {
		t.Fatalf("objects after the owner was deleted: %v", got)
	}
	if r := b.do("GET", "/blobs/"+av.UID+"?token="+bobOnB, ""); r.Code != http.StatusNotFound {
		t.Fatalf("the deleted user's avatar through B: %d", r.Code)
	}
}
