package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/identitykit/identity/internal/testutil/testenv"
	"github.com/identitykit/identity/store/blobstore/s3blob"
	"github.com/minio/minio-go/v7"
)

func TestBlobS3Config(t *testing.T) {
	const secret = "s3-secret-never-shown"
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := parseConfig(nil, env(nil), io.Discard)
	if err != nil || c.BlobS3.Endpoint != "" || c.BlobS3.Region != "us-east-1" || c.BlobS3.InsecureNoTLS {
		t.Fatalf("defaults: %v %+v", err, c.BlobS3.Endpoint)
	}
	c, err = parseConfig([]string{"-blob-s3-endpoint", "s3.example.com", "-blob-s3-bucket", "avatars", "-blob-s3-access-key", "AK",
		"-blob-s3-secret-key", secret, "-blob-s3-region", "eu-west-1", "-blob-s3-prefix", "prod/identity"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := s3blob.Config{Endpoint: "s3.example.com", Region: "eu-west-1", Bucket: "avatars", AccessKey: "AK", SecretKey: secret, Prefix: "prod/identity"}
	if c.BlobS3 != want {
		t.Fatalf("flags: %+v", c.BlobS3)
	}
	c, err = parseConfig(nil, env(map[string]string{"IDENTITY_BLOB_S3_ENDPOINT": "127.0.0.1:7070", "IDENTITY_BLOB_S3_BUCKET": "b",
		"IDENTITY_BLOB_S3_ACCESS_KEY": "AK", "IDENTITY_BLOB_S3_SECRET_KEY": secret, "IDENTITY_BLOB_S3_TLS": "false",
		"IDENTITY_BLOB_S3_REGION": "r1", "IDENTITY_BLOB_S3_PREFIX": "p"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want = s3blob.Config{Endpoint: "127.0.0.1:7070", Region: "r1", Bucket: "b", AccessKey: "AK", SecretKey: secret, InsecureNoTLS: true, Prefix: "p"}
	if c.BlobS3 != want {
		t.Fatalf("env: %+v", c.BlobS3)
	}
	s3 := []string{"-blob-s3-endpoint", "s3.example.com", "-blob-s3-bucket", "b", "-blob-s3-access-key", "AK", "-blob-s3-secret-key", secret}
	for _, bad := range [][]string{
		{"-blob-s3-endpoint", "s3.example.com"},                                              // no bucket, no keys
		{"-blob-s3-endpoint", "s3.example.com", "-blob-s3-bucket", "b"},                      // no keys
		append([]string{"-blob-dir", "/srv/blobs"}, s3...),                                   // two places
		append(append([]string{}, s3...), "-blob-s3-prefix", "../x"),                         // bad prefix
		append(append([]string{}, s3[2:]...), "-blob-s3-endpoint", "https://s3.example.com"), // a URL
	} {
		_, err := parseConfig(bad, env(nil), io.Discard)
		if err == nil {
			t.Errorf("parseConfig(%v) accepted", bad)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
	// Usage shows no secret either, even when it comes from the environment.
	var usage bytes.Buffer
	parseConfig([]string{"-h"}, env(map[string]string{"IDENTITY_BLOB_S3_SECRET_KEY": secret}), &usage)
	if strings.Contains(usage.String(), secret) || !strings.Contains(usage.String(), "-blob-s3-secret-key") {
		t.Fatalf("usage shows the secret or lacks the flag")
	}
}

func TestBlobConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := parseConfig([]string{"-db", "/var/lib/identity/identity.db"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.blobDir() != "/var/lib/identity/blobs" || c.MaxBlobBytes != 10<<20 || c.BlobGrantKey != nil {
		t.Fatalf("defaults: dir %q, max %d, key %v", c.blobDir(), c.MaxBlobBytes, c.BlobGrantKey)
	}
	key := strings.Repeat("ab", 32)
	c, err = parseConfig(nil, env(map[string]string{"IDENTITY_DB": "postgres://u@h/db", "IDENTITY_MAX_BLOB_BYTES": "2048",
		"IDENTITY_BLOB_GRANT_KEY": key}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.blobDir() != "blobs" || c.MaxBlobBytes != 2048 || len(c.BlobGrantKey) != 32 {
		t.Fatalf("env: dir %q, max %d, key %d bytes", c.blobDir(), c.MaxBlobBytes, len(c.BlobGrantKey))
	}
	if c, _ = parseConfig([]string{"-blob-dir", "off"}, env(nil), io.Discard); c.blobDir() != "" {
		t.Fatalf("-blob-dir off: %q", c.blobDir())
	}
	for _, bad := range [][]string{{"-max-blob-bytes", "0"}, {"-blob-grant-key", "abcd"}, {"-blob-grant-key", strings.Repeat("zz", 32)}} {
		_, err := parseConfig(bad, env(nil), io.Discard)
		if err == nil {
			t.Errorf("parseConfig(%v) accepted", bad)
		} else if strings.Contains(err.Error(), bad[1]) && bad[0] == "-blob-grant-key" {
			t.Errorf("the error quotes the key: %v", err)
		}
	}
}

// The avatar upload through a running server: the upload URL POST /blobs returns points at
// this server (the public URL derived from -addr, whatever the request's Host), and the file
// comes back byte for byte.
func TestRunBlobs(t *testing.T) {
	dir := t.TempDir()
	uploadThroughServer(t, dir)
	// The file lives under the blob directory next to the database.
	var files int
	filepath.Walk(filepath.Join(dir, "blobs"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			files++
		}
		return nil
	})
	if files != 1 {
		t.Fatalf("%d files under %s/blobs, want 1", files, dir)
	}
}

// The same with the files in an S3 bucket (-blob-s3-*; runs with IDENTITY_TEST_S3_ENDPOINT).
func TestRunBlobsS3(t *testing.T) {
	s3 := testenv.S3(t)
	dir := t.TempDir()
	uploadThroughServer(t, dir, "-blob-s3-endpoint", s3.Endpoint, "-blob-s3-bucket", s3.Bucket, "-blob-s3-prefix", s3.Prefix,
		"-blob-s3-access-key", s3.AccessKey, "-blob-s3-secret-key", s3.SecretKey, "-blob-s3-tls="+strconv.FormatBool(!s3.InsecureNoTLS))
	if _, err := os.Stat(filepath.Join(dir, "blobs")); !os.IsNotExist(err) {
		t.Fatalf("a blob directory was made: %v", err)
	}
	var objects int
	for o := range testenv.S3Client(t, s3).ListObjects(t.Context(), s3.Bucket, minio.ListObjectsOptions{Prefix: s3.Prefix + "/", Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		objects++
	}
	if objects != 1 {
		t.Fatalf("%d objects under %s/, want 1", objects, s3.Prefix)
	}
	// A bucket that does not exist stops the server at start, without showing the secret.
	cfg, err := parseConfig([]string{"-db", filepath.Join(dir, "x.db"), "-blob-s3-endpoint", s3.Endpoint, "-blob-s3-bucket", "no-such-bucket-x1",
		"-blob-s3-access-key", s3.AccessKey, "-blob-s3-secret-key", s3.SecretKey, "-blob-s3-tls=false"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = openBlobs(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "does not exist") || strings.Contains(err.Error(), s3.SecretKey) {
		t.Fatalf("openBlobs with a missing bucket: %v", err)
	}
}

// uploadThroughServer starts the server with its SQLite database in dir and args, and
// uploads, completes and downloads a file through it.
func uploadThroughServer(t *testing.T, dir string, args ...string) {
	addr, banner, stop := start(t, filepath.Join(dir, "identity.db"), append([]string{"-max-blob-bytes", "4096"}, args...)...)
	defer stop()
	key := keyRE.FindStringSubmatch(banner)[1]
	base := "http://" + addr
	call := func(method, path, token, ct string, body io.Reader) (*http.Response, []byte) {
		t.Helper()
		return request(t, method, path, token, ct, body)
	}
	res, b := call("POST", base+"/session.json", "", "application/json",
		strings.NewReader(`{"application_id":1,"auth_key":"`+key+`","user":{"login":"john","password":"11111111"}}`))
	var sess struct{ Session struct{ Token string } }
	if json.Unmarshal(b, &sess); res.StatusCode != 201 || sess.Session.Token == "" {
		t.Fatalf("session: %d %s", res.StatusCode, b)
	}
	tok := sess.Session.Token
	res, b = call("POST", base+"/blobs.json", tok, "application/json", strings.NewReader(`{"blob":{"name":"a.png","content_type":"image/png","public":true}}`))
	var created struct {
		Blob struct {
			ID               int64
			UID              string
			BlobObjectAccess struct{ Params string } `json:"blob_object_access"`
		}
	}
	if json.Unmarshal(b, &created); res.StatusCode != 201 {
		t.Fatalf("POST /blobs: %d %s", res.StatusCode, b)
	}
	u, err := url.Parse(created.Blob.BlobObjectAccess.Params)
	if err != nil || u.Host != addr || u.Scheme != "http" {
		t.Fatalf("upload URL %q does not point at %s", created.Blob.BlobObjectAccess.Params, addr)
	}
	// A forged Host does not move the upload URL.
	req, _ := http.NewRequest("POST", base+"/blobs.json", strings.NewReader(`{"blob":{"name":"b.png"}}`))
	req.Host = "evil.example"
	req.Header.Set("CB-Token", tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-Proto", "https")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	forged := created
	if json.Unmarshal(b, &forged); res.StatusCode != 201 || !strings.HasPrefix(forged.Blob.BlobObjectAccess.Params, base+"/blobs/upload?") {
		t.Fatalf("POST /blobs with Host evil.example: %d, upload URL %q", res.StatusCode, forged.Blob.BlobObjectAccess.Params)
	}
	content := bytes.Repeat([]byte("x"), 3000)
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	mw.WriteField("grant", u.Query().Get("grant"))
	fw, _ := mw.CreateFormFile("file", "a.png")
	fw.Write(content)
	mw.Close()
	if res, b = call("POST", u.Scheme+"://"+u.Host+u.Path, tok, mw.FormDataContentType(), &form); res.StatusCode != 201 {
		t.Fatalf("upload: %d %s", res.StatusCode, b)
	}
	if res, b = call("PUT", base+"/blobs/"+strconv.FormatInt(created.Blob.ID, 10)+"/complete.json", tok, "application/json",
		strings.NewReader(`{"size":3000}`)); res.StatusCode != 200 {
		t.Fatalf("complete: %d %s", res.StatusCode, b)
	}
	if res, b = call("GET", base+"/blobs/"+created.Blob.UID, "", "", nil); res.StatusCode != 200 || !bytes.Equal(b, content) {
		t.Fatalf("download: %d, %d bytes", res.StatusCode, len(b))
	}
}

// TestGrantKeyNeverPrinted: the blob grant key from the environment does not appear in
// --help (it used to be shown as the flag's default), and it still applies.
func TestGrantKeyNeverPrinted(t *testing.T) {
	key := strings.Repeat("ab", 32)
	env := func(k string) string {
		if k == "IDENTITY_BLOB_GRANT_KEY" {
			return key
		}
		return ""
	}
	var usage strings.Builder
	if _, err := parseConfig([]string{"--help"}, env, &usage); err == nil {
		t.Fatal("--help: no error")
	}
	if strings.Contains(usage.String(), key) {
		t.Fatal("--help prints the grant key")
	}
	c, err := parseConfig(nil, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.BlobGrantKey) != 32 {
		t.Fatalf("grant key from the environment: %d bytes, want 32", len(c.BlobGrantKey))
	}
}
