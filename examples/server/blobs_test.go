package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

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
	addr, banner, stop := start(t, filepath.Join(dir, "identity.db"), "-max-blob-bytes", "4096")
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
