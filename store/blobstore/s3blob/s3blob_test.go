package s3blob_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/identitykit/identity/internal/testutil/testenv"
	"github.com/identitykit/identity/store/blobstore/blobstoretest"
	"github.com/identitykit/identity/store/blobstore/s3blob"
)

// TestConformance runs the blob.Storage conformance suite against a real S3 server
// (IDENTITY_TEST_S3_ENDPOINT; .ci/run starts versitygw), each subtest under a prefix of
// its own in the test bucket.
func TestConformance(t *testing.T) {
	blobstoretest.Run(t, func(t *testing.T) blobstoretest.Target {
		cfg := testenv.S3(t)
		s, err := s3blob.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Check(t.Context()); err != nil {
			t.Fatal(err)
		}
		return blobstoretest.Target{Storage: s, Stored: func(t *testing.T) []string { return stored(t, cfg) }}
	})
}

// stored lists the objects under cfg's prefix by key, and its unfinished multipart
// uploads as "upload:" + key.
func stored(t *testing.T, cfg s3blob.Config) []string {
	t.Helper()
	c := testenv.S3Client(t, cfg)
	ctx := context.Background()
	p := cfg.Prefix + "/"
	var out []string
	for o := range c.ListObjects(ctx, cfg.Bucket, minio.ListObjectsOptions{Prefix: p, Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("listing objects: %v", o.Err)
		}
		out = append(out, strings.TrimPrefix(o.Key, p))
	}
	for u := range c.ListIncompleteUploads(ctx, cfg.Bucket, p, true) {
		if u.Err != nil {
			t.Fatalf("listing multipart uploads: %v", u.Err)
		}
		out = append(out, "upload:"+strings.TrimPrefix(u.Key, p))
	}
	slices.Sort(out)
	return out
}

// The objects are where the configuration says, and another storage with the same
// configuration (another instance) reads them.
func TestPrefixAndSharing(t *testing.T) {
	cfg := testenv.S3(t)
	a, err := s3blob.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s3blob.New(cfg)
	if _, err := a.Put(t.Context(), "1/ab/abc", strings.NewReader("shared"), 10); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, cfg); !slices.Equal(got, []string{"1/ab/abc"}) {
		t.Fatalf("objects under %s/: %v", cfg.Prefix, got)
	}
	rc, st, err := b.Open(t.Context(), "1/ab/abc")
	if err != nil || st.Size != 6 {
		t.Fatalf("Open on the other: %v, %+v", err, st)
	}
	rc.Close()
}

func TestCheck(t *testing.T) {
	cfg := testenv.S3(t)
	cfg.Bucket = "no-such-bucket-" + strings.ToLower(strings.ReplaceAll(cfg.Prefix, "/", "-"))
	s, err := s3blob.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(t.Context()); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Check of a missing bucket: %v", err)
	}
	cfg = testenv.S3(t)
	cfg.SecretKey = "wrong-secret-1234"
	s, _ = s3blob.New(cfg)
	err = s.Check(t.Context())
	if err == nil {
		t.Fatal("Check with a wrong secret succeeded")
	}
	if strings.Contains(err.Error(), cfg.SecretKey) {
		t.Fatalf("the error shows the secret: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	good := s3blob.Config{Endpoint: "127.0.0.1:7070", Bucket: "b", AccessKey: "a", SecretKey: "s"}
	if _, err := s3blob.New(good); err != nil {
		t.Fatalf("New(good): %v", err)
	}
	for name, mod := range map[string]func(*s3blob.Config){
		"no endpoint":   func(c *s3blob.Config) { c.Endpoint = "" },
		"URL endpoint":  func(c *s3blob.Config) { c.Endpoint = "http://127.0.0.1:7070" },
		"no bucket":     func(c *s3blob.Config) { c.Bucket = "" },
		"no access key": func(c *s3blob.Config) { c.AccessKey = "" },
		"no secret":     func(c *s3blob.Config) { c.SecretKey = "" },
		"dotted prefix": func(c *s3blob.Config) { c.Prefix = "../x" },
		"slash prefix":  func(c *s3blob.Config) { c.Prefix = "x/" },
		"deep prefix":   func(c *s3blob.Config) { c.Prefix = "a/b/c/d/e" },
	} {
		cfg := good
		cfg.SecretKey = "top-secret-value"
		mod(&cfg)
		_, err := s3blob.New(cfg)
		if err == nil {
			t.Errorf("%s: New succeeded", name)
		} else if strings.Contains(err.Error(), "top-secret-value") {
			t.Errorf("%s: the error shows the secret: %v", name, err)
		}
	}
}
