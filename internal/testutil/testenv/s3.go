package testenv

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/identitykit/identity/store/blobstore/s3blob"
)

var s3Seq atomic.Int64

// S3 returns the configuration of the test S3 server, with a Prefix of its own (unique to
// this process and call, so that parallel runs share one bucket), or skips t when
// IDENTITY_TEST_S3_ENDPOINT is not set. The variables:
//
//	IDENTITY_TEST_S3_ENDPOINT    the server's URL, http://127.0.0.1:7070 (https:// for TLS)
//	IDENTITY_TEST_S3_ACCESS_KEY  required with the endpoint
//	IDENTITY_TEST_S3_SECRET_KEY  required with the endpoint
//	IDENTITY_TEST_S3_BUCKET      default identity-test; created when missing
//	IDENTITY_TEST_S3_REGION      default us-east-1
//
// The objects under the prefix are removed when t's test ends.
func S3(t testing.TB) s3blob.Config {
	t.Helper()
	raw := os.Getenv("IDENTITY_TEST_S3_ENDPOINT")
	if raw == "" {
		t.Skip("set IDENTITY_TEST_S3_ENDPOINT (and _ACCESS_KEY, _SECRET_KEY) to run the S3 tests")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		t.Fatalf("testenv: IDENTITY_TEST_S3_ENDPOINT=%q: want http://host:port or https://host:port", raw)
	}
	cfg := s3blob.Config{
		Endpoint:      u.Host,
		Region:        os.Getenv("IDENTITY_TEST_S3_REGION"),
		Bucket:        os.Getenv("IDENTITY_TEST_S3_BUCKET"),
		AccessKey:     os.Getenv("IDENTITY_TEST_S3_ACCESS_KEY"),
		SecretKey:     os.Getenv("IDENTITY_TEST_S3_SECRET_KEY"),
		InsecureNoTLS: u.Scheme == "http",
		Prefix:        fmt.Sprintf("test/p%d-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9, s3Seq.Add(1)),
	}
	if cfg.Bucket == "" {
		cfg.Bucket = "identity-test"
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		t.Fatal("testenv: IDENTITY_TEST_S3_ENDPOINT is set without IDENTITY_TEST_S3_ACCESS_KEY and IDENTITY_TEST_S3_SECRET_KEY")
	}
	c := S3Client(t, cfg)
	ctx := context.Background()
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		t.Fatalf("testenv: S3 server at %s: %v", raw, err)
	}
	if !ok {
		if err := c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
			if ok, _ := c.BucketExists(ctx, cfg.Bucket); !ok { // a parallel test may have made it
				t.Fatalf("testenv: creating bucket %s: %v", cfg.Bucket, err)
			}
		}
	}
	t.Cleanup(func() {
		for o := range c.ListObjects(ctx, cfg.Bucket, minio.ListObjectsOptions{Prefix: cfg.Prefix + "/", Recursive: true}) {
			if o.Err == nil {
				c.RemoveObject(ctx, cfg.Bucket, o.Key, minio.RemoveObjectOptions{})
			}
		}
	})
	return cfg
}

// S3Client returns a client of the server cfg names, for tests that look at the bucket
// behind a storage's back.
func S3Client(t testing.TB, cfg s3blob.Config) *minio.Client {
	t.Helper()
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: !cfg.InsecureNoTLS,
		Region: cfg.Region,
	})
	if err != nil {
		t.Fatalf("testenv: S3 client: %v", err)
	}
	return c
}
