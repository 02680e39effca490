// Package s3blob keeps the bytes of blobs (avatars and other files, package blob) in a
// bucket of an S3-compatible object store (Amazon S3, MinIO, Ceph, versitygw, ...): the
// blob.Storage for several instances behind one load balancer, which then all read
// and write the same files.
//
//	bs, err := s3blob.New(s3blob.Config{
//		Endpoint: "s3.example.com", Region: "eu-west-1", Bucket: "avatars",
//		AccessKey: accessKey, SecretKey: secretKey, Prefix: "identity",
//	})
//	if err != nil { ... }
//	if err := bs.Check(ctx); err != nil { ... } // the bucket exists and the keys work
//	files, err := blob.New(id, blob.Config{Store: st, Storage: bs, GrantKey: sharedKey})
//
// A key ("12/ab/ab3f...") names the object Prefix + "/" + key. Keys are validated as by
// store/blobstore (errors wrap blobstore.ErrInvalidKey; so is a key that makes the object
// name longer than S3's 1024 bytes), and package blob derives them from
// random UIDs, never from client file names.
//
// Writes are atomic, as the interface requires. Put reads the first 5 MiB of the upload
// into memory; an upload that ends there is one PUT request, which S3 stores whole or not
// at all. A longer one is streamed as a multipart upload in 5 MiB parts, which becomes
// visible only when completed; when the upload goes past maxBytes, its reader fails or its
// context ends, the multipart upload is aborted instead. So a Put holds about 10 MiB of
// memory at most (the first 5 MiB, and the client's own buffer of one part), whatever the
// size limit. A process killed in the middle of a multipart
// upload leaves its parts in the bucket, never an object under a key: give the bucket a
// lifecycle rule that aborts incomplete multipart uploads after a day.
//
// The secret key is used to sign requests only: it is never logged nor part of an error.
package s3blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
	"github.com/identitykit/identity/internal/blobkey"
	"github.com/identitykit/identity/store/blobstore"
)

// chunk is what Put buffers before it decides between one PUT and a multipart upload; it
// is S3's smallest part size.
const chunk = 5 << 20

// maxObjectName is S3's limit on object names, in bytes.
const maxObjectName = 1024

// Config configures an S3 bucket as blob storage.
type Config struct {
	// Endpoint is the server's host, with its port when not the scheme's default:
	// "s3.eu-west-1.amazonaws.com", "127.0.0.1:7070". Required. Not a URL: the scheme
	// follows InsecureNoTLS.
	Endpoint string
	// Region is the bucket's region. Default "us-east-1".
	Region string
	// Bucket must exist: New creates nothing (Check tells whether it exists). Required.
	Bucket string
	// AccessKey and SecretKey are the credentials (AWS Signature V4). Both required.
	AccessKey string
	SecretKey string
	// InsecureNoTLS talks plain HTTP to the endpoint: credentials' signatures and file
	// contents then cross the network unencrypted. Default false (HTTPS).
	InsecureNoTLS bool
	// Prefix, when set, puts every object under Prefix + "/", so that one bucket can hold
	// other things too, or several deployments. One to four "/"-separated segments of
	// ASCII letters, digits, '-' and '_'. Default "" (keys are object names).
	Prefix string
}

// Storage is a blob.Storage in an S3 bucket. It is safe for concurrent use.
type Storage struct {
	client *minio.Client
	bucket string
	prefix string // "" or Prefix + "/"
}

var _ blob.Storage = (*Storage)(nil)

// New returns the storage cfg describes. It makes no request (see Check).
func New(cfg Config) (*Storage, error) {
	switch {
	case cfg.Endpoint == "":
		return nil, errors.New("s3blob: Endpoint is required")
	case strings.Contains(cfg.Endpoint, "/"):
		return nil, fmt.Errorf("s3blob: Endpoint %q: want a host[:port], not a URL (InsecureNoTLS chooses HTTP)", cfg.Endpoint)
	case cfg.Bucket == "":
		return nil, errors.New("s3blob: Bucket is required")
	case cfg.AccessKey == "" || cfg.SecretKey == "":
		return nil, errors.New("s3blob: AccessKey and SecretKey are required")
	case cfg.Prefix != "" && (!blobkey.Valid(cfg.Prefix) || strings.Count(cfg.Prefix, "/") > 3):
		return nil, fmt.Errorf("s3blob: Prefix %q: want 1 to 4 \"/\"-separated segments of letters, digits, '-' and '_'", cfg.Prefix)
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: !cfg.InsecureNoTLS,
		Region: region,
	})
	if err != nil {
		return nil, fmt.Errorf("s3blob: %w", err)
	}
	s := &Storage{client: client, bucket: cfg.Bucket}
	if cfg.Prefix != "" {
		s.prefix = cfg.Prefix + "/"
	}
	return s, nil
}

// Check reports whether the bucket exists and the credentials may use it: a server starts
// with it so that a wrong endpoint, bucket or key fails at once, not at the first upload.
func (s *Storage) Check(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("s3blob: bucket %q: %w", s.bucket, err)
	}
	if !ok {
		return fmt.Errorf("s3blob: bucket %q does not exist", s.bucket)
	}
	return nil
}

func (s *Storage) object(key string) (string, error) {
	if !blobkey.Valid(key) || len(s.prefix)+len(key) > maxObjectName {
		return "", blobstore.ErrInvalidKey
	}
	return s.prefix + key, nil
}

// Put stores at most maxBytes bytes of r under key, atomically (see the package
// documentation). More than maxBytes is an error wrapping blob.ErrTooLarge; errors
// reading r are returned wrapped; nothing is stored on any error. (When ctx ends while the
// server is storing the last bytes, the server may have stored them: S3 cannot tell. Keys
// of blobs are written once, and the janitor deletes those of failed uploads.)
func (s *Storage) Put(ctx context.Context, key string, r io.Reader, maxBytes int64) (int64, error) {
	name, err := s.object(key)
	if err != nil {
		return 0, err
	}
	if maxBytes <= 0 {
		return 0, errors.New("s3blob: Put: maxBytes must be positive")
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	src := &limitReader{ctx: ctx, r: r, left: maxBytes}
	var head bytes.Buffer
	if _, err := head.ReadFrom(io.LimitReader(src, chunk)); err != nil {
		return 0, src.failure(err)
	}
	var info minio.UploadInfo
	if head.Len() < chunk {
		info, err = s.client.PutObject(ctx, s.bucket, name, bytes.NewReader(head.Bytes()), int64(head.Len()), minio.PutObjectOptions{})
	} else {
		info, err = s.client.PutObject(ctx, s.bucket, name, io.MultiReader(&head, src), -1, minio.PutObjectOptions{PartSize: chunk})
	}
	if err != nil {
		return 0, src.failure(err)
	}
	if info.Size != src.n {
		// Cannot happen with a conforming server; refuse to report a wrong size.
		s.client.RemoveObject(context.WithoutCancel(ctx), s.bucket, name, minio.RemoveObjectOptions{})
		return 0, fmt.Errorf("s3blob: stored %d bytes of %d", info.Size, src.n)
	}
	return src.n, nil
}

// limitReader reads r while ctx lasts, at most left bytes: the byte after the last allowed
// one is an error wrapping blob.ErrTooLarge. It remembers its own failure (the reader's
// error, the context's, or too large), so that Put reports that rather than what the S3
// client made of it.
type limitReader struct {
	ctx  context.Context
	r    io.Reader
	left int64
	n    int64
	err  error
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if err := l.ctx.Err(); err != nil {
		l.err = err
		return 0, err
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	l.left -= int64(n)
	switch {
	case l.left < 0:
		l.err = fmt.Errorf("s3blob: more than %d bytes: %w", l.n-1, blob.ErrTooLarge)
		return 0, l.err
	case err != nil && err != io.EOF:
		l.err = fmt.Errorf("s3blob: reading the upload: %w", err)
		return n, l.err
	}
	return n, err
}

// failure is the error of a failed Put: the source's own when it failed, else the
// context's when it ended, else err.
func (l *limitReader) failure(err error) error {
	switch {
	case l.err != nil:
		return l.err
	case l.ctx.Err() != nil:
		return fmt.Errorf("s3blob: %w", l.ctx.Err())
	}
	return fmt.Errorf("s3blob: %w", err)
}

// Open returns the content under key, its size and modification time. A missing key is an
// error wrapping identity.ErrNotFound. The content is read with ranged GET requests as the
// caller seeks, under ctx.
func (s *Storage) Open(ctx context.Context, key string) (io.ReadSeekCloser, blob.Stat, error) {
	name, err := s.object(key)
	if err != nil {
		return nil, blob.Stat{}, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, blob.Stat{}, fmt.Errorf("s3blob: %w", err)
	}
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil, blob.Stat{}, fmt.Errorf("s3blob: %s: %w", key, identity.ErrNotFound)
		}
		return nil, blob.Stat{}, fmt.Errorf("s3blob: %w", err)
	}
	return obj, blob.Stat{Size: st.Size, ModTime: st.LastModified}, nil
}

// Delete removes the content under key; a missing key is not an error.
func (s *Storage) Delete(ctx context.Context, key string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	err = s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		return fmt.Errorf("s3blob: %w", err)
	}
	return nil
}
