package httpadapter_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
	"github.com/identitykit/identity/httpadapter"
	"github.com/identitykit/identity/store/blobstore"
)

type blobEnv struct {
	*env
	dir string
}

// newBlobEnv is an env whose Identity has blobs on (a blobstore.Dir in a temp directory).
func newBlobEnv(t testing.TB, bcfg blob.Config, cfg httpadapter.Config) *blobEnv {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "blobs")
	d, err := blobstore.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	bcfg.Storage = d
	cfg.Logger = nil // the env's
	cfg.InsecureNoRateLimit = true
	e := newEnv(t, func(o *envOpt) {
		o.cfg = cfg
		o.blobs = &bcfg
	})
	return &blobEnv{env: e, dir: dir}
}

// files lists what the blob directory holds (temporary files included).
func (e *blobEnv) files() []string {
	var out []string
	filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(e.dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

type wireBlob struct {
	ID               int64   `json:"id"`
	UID              string  `json:"uid"`
	ContentType      string  `json:"content_type"`
	Name             string  `json:"name"`
	Size             *int64  `json:"size"`
	CreatedAt        string  `json:"created_at"`
	UpdatedAt        string  `json:"updated_at"`
	BlobStatus       *string `json:"blob_status"`
	SetCompletedAt   *string `json:"set_completed_at"`
	Public           bool    `json:"public"`
	BlobObjectAccess *struct {
		BlobID           int64  `json:"blob_id"`
		Expires          string `json:"expires"`
		ObjectAccessType string `json:"object_access_type"`
		Params           string `json:"params"`
	} `json:"blob_object_access"`
}

func decodeBlob(t testing.TB, r *resp) *wireBlob {
	t.Helper()
	var b struct {
		Blob *wireBlob `json:"blob"`
	}
	if err := json.Unmarshal([]byte(r.Body), &b); err != nil || b.Blob == nil {
		t.Fatalf("not a blob body (%d): %s", r.Code, r.Body)
	}
	return b.Blob
}

// createBlob POSTs /blobs.json as token and returns the blob and its upload URL.
func (e *blobEnv) createBlob(token, name, contentType string, public bool) (*wireBlob, *url.URL) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"blob": map[string]any{"name": name, "content_type": contentType, "public": public}})
	r := e.do("POST", "/blobs.json", string(body), "CB-Token: "+token)
	if r.Code != http.StatusCreated {
		e.t.Fatalf("POST /blobs: %d %s", r.Code, r.Body)
	}
	b := decodeBlob(e.t, r)
	if b.BlobObjectAccess == nil {
		e.t.Fatalf("no blob_object_access: %s", r.Body)
	}
	u, err := url.Parse(b.BlobObjectAccess.Params)
	if err != nil || !u.IsAbs() {
		e.t.Fatalf("params %q is not an absolute URL", b.BlobObjectAccess.Params)
	}
	return b, u
}

// form builds a multipart body the way the SDKs do: fields first, then the file part
// (without a filename when filename is "").
func form(fields [][2]string, file []byte, filename string) (string, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		mw.WriteField(f[0], f[1])
	}
	if file != nil {
		h := textproto.MIMEHeader{}
		cd := `form-data; name="file"`
		if filename != "" {
			cd += `; filename="` + filename + `"`
		}
		h.Set("Content-Disposition", cd)
		h.Set("Content-Type", "application/octet-stream")
		w, _ := mw.CreatePart(h)
		w.Write(file)
	}
	mw.Close()
	return buf.String(), mw.FormDataContentType()
}

// upload posts file to the upload URL u as the SDK does (query fields into the form).
func (e *blobEnv) upload(u *url.URL, file []byte, headers ...string) *resp {
	e.t.Helper()
	var fields [][2]string
	for k, vs := range u.Query() {
		for _, v := range vs {
			fields = append(fields, [2]string{k, v})
		}
	}
	body, ct := form(fields, file, "")
	return e.do("POST", u.Path, body, append([]string{"Content-Type: " + ct}, headers...)...)
}

func wantError(t *testing.T, what string, r *resp, code int, body string) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.Code, code, r.Body)
	}
	if body != "" && r.Body != body {
		t.Fatalf("%s: body %s, want %s", what, r.Body, body)
	}
	if code >= 400 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%s: Content-Type %q, want JSON", what, r.Header.Get("Content-Type"))
	}
}

var png = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte("pixels"), 400)...)

func TestBlobUploadAndDownload(t *testing.T) {
	e := newBlobEnv(t, blob.Config{}, httpadapter.Config{})
	alice, aliceID := e.userSession("alice", "password123")
	bob, _ := e.userSession("bob", "password123")

	b, u := e.createBlob(alice, "avatar.png", "image/png", false)
	if !blob.ValidUID(b.UID) || b.Name != "avatar.png" || b.ContentType != "image/png" || b.Public ||
		b.Size != nil || b.BlobStatus != nil || b.SetCompletedAt != nil || b.CreatedAt != "2026-03-04T10:11:12Z" {
		t.Fatalf("created blob = %+v", b)
	}
	if u.Scheme != "http" || u.Host != "example.com" || u.Path != "/blobs/upload" || u.Query().Get("grant") == "" {
		t.Fatalf("upload URL = %s", u)
	}
	if a := b.BlobObjectAccess; a.BlobID != b.ID || a.ObjectAccessType != "Write" || a.Expires != "2026-03-04T10:26:12Z" {
		t.Fatalf("blob_object_access = %+v", a)
	}

	// Upload with the SDK's CB-Token, file part without filename.
	r := e.upload(u, png, "CB-Token: "+alice)
	if r.Code != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.Code, r.Body)
	}
	if ub := decodeBlob(t, r); ub.Size == nil || *ub.Size != int64(len(png)) || ub.BlobStatus != nil {
		t.Fatalf("uploaded blob = %+v", ub)
	}
	r = e.do("PUT", "/blobs/"+itoa(b.ID)+"/complete.json", `{"size":`+strconv.Itoa(len(png))+`}`, "CB-Token: "+alice)
	if r.Code != http.StatusOK || r.Body != "" {
		t.Fatalf("complete: %d %q", r.Code, r.Body)
	}
	r = e.do("GET", "/blobs/"+itoa(b.ID)+".json", "", "CB-Token: "+alice)
	if r.Code != http.StatusOK {
		t.Fatalf("info: %d %s", r.Code, r.Body)
	}
	if ib := decodeBlob(t, r); ib.BlobStatus == nil || *ib.BlobStatus != "complete" || ib.SetCompletedAt == nil || *ib.Size != int64(len(png)) || ib.BlobObjectAccess != nil {
		t.Fatalf("info = %s", r.Body)
	}

	// The avatar flow: the user references the uid, another user downloads it.
	r = e.do("PUT", "/users/"+itoa(aliceID)+".json", `{"user":{"avatar":"`+b.UID+`"}}`, "CB-Token: "+alice)
	if r.Code != http.StatusOK || !strings.Contains(r.Body, `"avatar":"`+b.UID+`"`) {
		t.Fatalf("set avatar: %d %s", r.Code, r.Body)
	}
	r = e.do("GET", "/blobs/"+b.UID+"?token="+bob, "")
	if r.Code != http.StatusOK || r.Body != string(png) {
		t.Fatalf("download: %d, %d bytes", r.Code, len(r.Body))
	}
	for k, want := range map[string]string{
		"Content-Type":                 "image/png",
		"Content-Length":               strconv.Itoa(len(png)),
		"Etag":                         `"` + b.UID + `"`,
		"X-Content-Type-Options":       "nosniff",
		"Content-Security-Policy":      "default-src 'none'; sandbox",
		"Content-Disposition":          `inline; filename=avatar.png`,
		"Accept-Ranges":                "bytes",
		"Cache-Control":                "private, max-age=3600",
		"Cross-Origin-Resource-Policy": "cross-origin",
		"Vary":                         "Origin",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// The token may come as CB-Token (the SDK's getFile), the path with ".json".
	if r := e.do("GET", "/blobs/"+b.UID+".json", "", "CB-Token: "+bob); r.Code != http.StatusOK || r.Body != string(png) {
		t.Fatalf("download with CB-Token: %d", r.Code)
	}
	// Ranges, conditional requests, HEAD.
	r = e.do("GET", "/blobs/"+b.UID+"?token="+bob, "", "Range: bytes=1-3")
	if r.Code != http.StatusPartialContent || r.Body != "PNG" || r.Header.Get("Content-Range") != "bytes 1-3/"+strconv.Itoa(len(png)) {
		t.Fatalf("range: %d %q %v", r.Code, r.Body, r.Header)
	}
	r = e.do("GET", "/blobs/"+b.UID+"?token="+bob, "", "Range: bytes=99999-")
	wantError(t, "unsatisfiable range", r, http.StatusRequestedRangeNotSatisfiable, `{"errors":["Requested Range Not Satisfiable"]}`)
	if r.Header.Get("Content-Disposition") != "" || r.Header.Get("Content-Range") != "bytes */"+strconv.Itoa(len(png)) {
		t.Fatalf("416 headers: %v", r.Header)
	}
	r = e.do("GET", "/blobs/"+b.UID+"?token="+bob, "", `If-None-Match: "`+b.UID+`"`)
	if r.Code != http.StatusNotModified || r.Body != "" {
		t.Fatalf("If-None-Match: %d", r.Code)
	}
	r = e.do("HEAD", "/blobs/"+b.UID+"?token="+bob, "")
	if r.Code != http.StatusOK || r.Body != "" || r.Header.Get("Content-Length") != strconv.Itoa(len(png)) {
		t.Fatalf("HEAD: %d %q %v", r.Code, r.Body, r.Header)
	}

	// A public blob needs no token, and a stale token does not hurt it.
	pb, pu := e.createBlob(alice, "pub.jpg", "image/jpeg", true)
	if r := e.upload(pu, []byte("jpeg")); r.Code != http.StatusCreated {
		t.Fatalf("upload without CB-Token: %d %s", r.Code, r.Body)
	}
	e.do("PUT", "/blobs/"+itoa(pb.ID)+"/complete", `{"blob":{"size":"4"}}`, "CB-Token: "+alice)
	for _, target := range []string{"/blobs/" + pb.UID, "/blobs/" + pb.UID + "?token=undefined", "/blobs/" + pb.UID + "?token=" + strings.Repeat("f", 64)} {
		r := e.do("GET", target, "")
		if r.Code != http.StatusOK || r.Body != "jpeg" || r.Header.Get("Cache-Control") != "public, max-age=86400" {
			t.Fatalf("GET %s: %d %q", target, r.Code, r.Body)
		}
	}
	// Info: public blobs to everyone of the application, private ones to their owner.
	if r := e.do("GET", "/blobs/"+itoa(pb.ID), "", "CB-Token: "+bob); r.Code != http.StatusOK {
		t.Fatalf("info of a public blob by another user: %d", r.Code)
	}
	wantError(t, "info of a private blob by another user", e.do("GET", "/blobs/"+itoa(b.ID), "", "CB-Token: "+bob),
		http.StatusNotFound, `{"errors":["Not found"]}`)
	wantError(t, "info without a session", e.do("GET", "/blobs/"+itoa(b.ID), ""),
		http.StatusUnauthorized, `{"errors":{"base":["Required session does not exist"]}}`)

	// Delete: owner only; then gone, bytes included.
	wantError(t, "delete by another user", e.do("DELETE", "/blobs/"+itoa(pb.ID)+".json", "", "CB-Token: "+bob), http.StatusNotFound, "")
	if r := e.do("DELETE", "/blobs/"+itoa(pb.ID)+".json", "", "CB-Token: "+alice); r.Code != http.StatusOK || r.Body != "" {
		t.Fatalf("delete: %d %s", r.Code, r.Body)
	}
	wantError(t, "download of a deleted blob", e.do("GET", "/blobs/"+pb.UID, ""), http.StatusNotFound, `{"errors":["Not found"]}`)
	if f := e.files(); len(f) != 1 || !strings.HasSuffix(f[0], "/"+b.UID) {
		t.Fatalf("files = %v, want only %s", f, b.UID)
	}
}

// The negative list of issue 8.
func TestBlobNegative(t *testing.T) {
	e := newBlobEnv(t, blob.Config{MaxSize: 4096}, httpadapter.Config{})
	alice, aliceID := e.userSession("alice", "password123")
	bob, bobID := e.userSession("bob", "password123")
	grantDenied := func(msg string) string { return `{"errors":{"base":["` + msg + `"]}}` }

	t.Run("upload without grant", func(t *testing.T) {
		_, u := e.createBlob(alice, "a.png", "image/png", false)
		body, ct := form(nil, png[:100], "")
		wantError(t, "no grant", e.do("POST", u.Path, body, "Content-Type: "+ct), http.StatusForbidden, grantDenied("Upload grant is missing"))
		body, ct = form([][2]string{{"grant", "v1.forged.mac"}}, png[:100], "")
		wantError(t, "forged grant", e.do("POST", u.Path, body, "Content-Type: "+ct), http.StatusForbidden, grantDenied("Upload grant is invalid"))
		// The query string of the URL works like the form fields (for clients other than the SDK).
		body, ct = form(nil, png[:100], "x.png")
		if r := e.do("POST", u.String(), body, "Content-Type: "+ct); r.Code != http.StatusCreated {
			t.Fatalf("grant in the query: %d %s", r.Code, r.Body)
		}
	})
	t.Run("replayed grant", func(t *testing.T) {
		_, u := e.createBlob(alice, "a.png", "image/png", false)
		if r := e.upload(u, png[:100]); r.Code != http.StatusCreated {
			t.Fatalf("first upload: %d %s", r.Code, r.Body)
		}
		wantError(t, "replay", e.upload(u, png[:200]), http.StatusForbidden, grantDenied("Upload grant has already been used"))
	})
	t.Run("grant of another user", func(t *testing.T) {
		_, u := e.createBlob(alice, "a.png", "image/png", false)
		wantError(t, "bob uploads with alice's grant", e.upload(u, png[:100], "CB-Token: "+bob),
			http.StatusForbidden, grantDenied("Upload grant belongs to another user"))
	})
	t.Run("expired grant", func(t *testing.T) {
		_, u := e.createBlob(alice, "a.png", "image/png", false)
		e.clock.Advance(15 * time.Minute)
		wantError(t, "expired", e.upload(u, png[:100]), http.StatusForbidden, grantDenied("Upload grant has expired"))
		alice, _ = e.userSession("alice", "password123")
		bob, _ = e.userSession("bob", "password123")
	})
	t.Run("wrong size", func(t *testing.T) {
		b, u := e.createBlob(alice, "a.png", "image/png", false)
		e.upload(u, png[:100])
		before := len(e.files())
		r := e.do("PUT", "/blobs/"+itoa(b.ID)+"/complete.json", `{"size":101}`, "CB-Token: "+alice)
		wantError(t, "complete with a wrong size", r, http.StatusUnprocessableEntity, `{"errors":{"size":["does not match the size of the uploaded file"]}}`)
		if after := len(e.files()); after != before-1 {
			t.Fatalf("the mismatched upload was kept (%d files, then %d)", before, after)
		}
		wantError(t, "complete after", e.do("PUT", "/blobs/"+itoa(b.ID)+"/complete.json", `{"size":100}`, "CB-Token: "+alice), http.StatusNotFound, "")
		wantError(t, "complete without size", e.do("PUT", "/blobs/"+itoa(b.ID)+"/complete.json", `{}`, "CB-Token: "+alice),
			http.StatusUnprocessableEntity, `{"errors":{"size":["cannot be blank"]}}`)
		wantError(t, "complete with a bad size", e.do("PUT", "/blobs/"+itoa(b.ID)+"/complete.json", `{"size":"big"}`, "CB-Token: "+alice),
			http.StatusUnprocessableEntity, `{"errors":{"size":["is invalid"]}}`)
		b2, _ := e.createBlob(alice, "b.png", "image/png", false)
		wantError(t, "complete before upload", e.do("PUT", "/blobs/"+itoa(b2.ID)+"/complete.json", `{"size":1}`, "CB-Token: "+alice),
			http.StatusUnprocessableEntity, `{"errors":{"base":["The file has not been uploaded"]}}`)
	})
	t.Run("foreign uid as avatar", func(t *testing.T) {
		b, u := e.createBlob(bob, "bob.png", "image/png", false)
		e.upload(u, png[:100])
		e.do("PUT", "/blobs/"+itoa(b.ID)+"/complete.json", `{"size":100}`, "CB-Token: "+bob)
		for _, avatar := range []string{b.UID, "https://tracker.example/pixel.gif", strings.Repeat("a", 32)} {
			r := e.do("PUT", "/users/"+itoa(aliceID)+".json", `{"user":{"avatar":"`+avatar+`"}}`, "CB-Token: "+alice)
			wantError(t, "avatar "+avatar, r, http.StatusUnprocessableEntity, `{"errors":{"avatar":["must be the uid of an uploaded file"]}}`)
		}
		if r := e.do("PUT", "/users/"+itoa(bobID)+".json", `{"user":{"avatar":"`+b.UID+`"}}`, "CB-Token: "+bob); r.Code != http.StatusOK {
			t.Fatalf("own avatar: %d %s", r.Code, r.Body)
		}
	})
	t.Run("private URL without or with an expired token", func(t *testing.T) {
		b, u := e.createBlob(alice, "a.png", "image/png", false)
		e.upload(u, png[:100])
		e.do("PUT", "/blobs/"+itoa(b.ID)+"/complete.json", `{"size":100}`, "CB-Token: "+alice)
		if r := e.do("GET", "/blobs/"+b.UID+"?token="+alice, ""); r.Code != http.StatusOK {
			t.Fatalf("with a token: %d", r.Code)
		}
		sessionGone := `{"errors":{"base":["Required session does not exist"]}}`
		for _, target := range []string{"/blobs/" + b.UID, "/blobs/" + b.UID + "?token=undefined", "/blobs/" + b.UID + "?token=" + strings.Repeat("0", 64)} {
			wantError(t, target, e.do("GET", target, ""), http.StatusUnauthorized, sessionGone)
		}
		e.clock.Advance(2*time.Hour + time.Second)
		wantError(t, "expired token", e.do("GET", "/blobs/"+b.UID+"?token="+bob, ""), http.StatusUnauthorized, sessionGone)
		alice, _ = e.userSession("alice", "password123")
		bob, _ = e.userSession("bob", "password123")
		// Another application's session does not open it.
		other, _ := e.id.CreateApplication(t.Context(), "other", identity.AppSettings{})
		oss, _ := e.id.CreateSession(t.Context(), identity.SessionRequest{ApplicationID: other.ID, AuthKey: other.AuthKey})
		wantError(t, "other application", e.do("GET", "/blobs/"+b.UID+"?token="+oss.Token, ""), http.StatusNotFound, "")
	})
	t.Run("path traversal in names and paths", func(t *testing.T) {
		names := []string{"../../../../etc/passwd", `..\..\windows\win.ini`, "/etc/shadow", "a/../../b.png"}
		for _, name := range names {
			b, u := e.createBlob(alice, name, "image/png", true)
			if b.Name != name {
				t.Fatalf("name %q stored as %q", name, b.Name)
			}
			if r := e.upload(u, []byte("x")); r.Code != http.StatusCreated {
				t.Fatalf("upload: %d %s", r.Code, r.Body)
			}
		}
		for _, f := range e.files() {
			parts := strings.Split(f, "/")
			if len(parts) != 3 || parts[0] != itoa(e.app.ID) || !blob.ValidUID(parts[2]) || parts[1] != parts[2][:2] {
				t.Fatalf("stored file %q is not application/shard/uid", f)
			}
		}
		for _, target := range []string{"/blobs/..%2F..%2Fetc%2Fpasswd", "/blobs/%2e%2e", "/blobs/" + strings.Repeat("A", 32)} {
			if r := e.do("GET", target, ""); r.Code != http.StatusNotFound && r.Code != http.StatusMovedPermanently {
				t.Fatalf("GET %s: %d %s", target, r.Code, r.Body)
			}
		}
		wantError(t, "control characters in a name", e.do("POST", "/blobs.json", `{"blob":{"name":"a\nb","content_type":"image/png"}}`, "CB-Token: "+alice),
			http.StatusUnprocessableEntity, `{"errors":{"name":["is invalid"]}}`)
	})
	t.Run("oversized upload leaves nothing behind", func(t *testing.T) {
		before := e.files()
		b, u := e.createBlob(alice, "big.bin", "application/octet-stream", false)
		wantError(t, "4097 bytes", e.upload(u, make([]byte, 4097)), http.StatusRequestEntityTooLarge,
			`{"errors":{"file":["is too large (maximum is 4096 bytes)"]}}`)
		_, u2 := e.createBlob(alice, "huge.bin", "application/octet-stream", false)
		wantError(t, "1 MiB", e.upload(u2, make([]byte, 1<<20)), http.StatusRequestEntityTooLarge, "")
		if after := e.files(); len(after) != len(before) {
			t.Fatalf("files before %v, after %v", before, after)
		}
		wantError(t, "complete after a refused upload", e.do("PUT", "/blobs/"+itoa(b.ID)+"/complete.json", `{"size":4097}`, "CB-Token: "+alice),
			http.StatusUnprocessableEntity, "")
		_, u3 := e.createBlob(alice, "ok.bin", "application/octet-stream", false)
		if r := e.upload(u3, make([]byte, 4096)); r.Code != http.StatusCreated {
			t.Fatalf("exactly the limit: %d %s", r.Code, r.Body)
		}
	})
	t.Run("malformed uploads", func(t *testing.T) {
		_, u := e.createBlob(alice, "a.png", "image/png", false)
		wantError(t, "not multipart", e.do("POST", u.Path, "grant=x&file=y"), http.StatusBadRequest,
			`{"errors":["Bad request: send the file as multipart/form-data"]}`)
		fields := [][2]string{{"grant", u.Query().Get("grant")}}
		body, ct := form(fields, nil, "")
		wantError(t, "no file part", e.do("POST", u.Path, body, "Content-Type: "+ct), http.StatusUnprocessableEntity,
			`{"errors":{"file":["cannot be blank"]}}`)
		wantError(t, "truncated body", e.do("POST", u.Path, "--b\r\nContent-Disposition: form-data; name=\"grant\"\r\n\r\nxx", "Content-Type: multipart/form-data; boundary=b"),
			http.StatusBadRequest, "")
		many := make([][2]string, 20)
		for i := range many {
			many[i] = [2]string{"f" + strconv.Itoa(i), "v"}
		}
		body, ct = form(many, []byte("x"), "")
		wantError(t, "too many fields", e.do("POST", u.Path, body, "Content-Type: "+ct), http.StatusBadRequest, "")
		body, ct = form([][2]string{{"grant", strings.Repeat("g", 3000)}}, []byte("x"), "")
		wantError(t, "overlong field", e.do("POST", u.Path, body, "Content-Type: "+ct), http.StatusBadRequest, "")
		wantError(t, "unknown CB-Token", e.upload(u, []byte("x"), "CB-Token: "+strings.Repeat("9", 64)), http.StatusUnauthorized, "")
	})
	t.Run("create errors", func(t *testing.T) {
		app := e.appSession()
		wantError(t, "application session", e.do("POST", "/blobs.json", `{"blob":{"name":"a"}}`, "CB-Token: "+app),
			http.StatusForbidden, `{"errors":{"base":["Forbidden. Need user."]}}`)
		wantError(t, "no name", e.do("POST", "/blobs.json", `{"blob":{"content_type":"image/png"}}`, "CB-Token: "+alice),
			http.StatusUnprocessableEntity, `{"errors":{"name":["cannot be blank"]}}`)
		wantError(t, "object name", e.do("POST", "/blobs.json", `{"blob":{"name":{"x":1}}}`, "CB-Token: "+alice),
			http.StatusUnprocessableEntity, `{"errors":{"name":["is invalid"]}}`)
		wantError(t, "bad content type", e.do("POST", "/blobs.json", `{"blob":{"name":"a","content_type":"nonsense"}}`, "CB-Token: "+alice),
			http.StatusUnprocessableEntity, `{"errors":{"content_type":["is invalid"]}}`)
		wantError(t, "no session", e.do("POST", "/blobs.json", `{"blob":{"name":"a"}}`), http.StatusUnauthorized, "")
		wantError(t, "bad id", e.do("GET", "/blobs/99999999999999999999999", "", "CB-Token: "+alice), http.StatusNotFound, "")
		wantError(t, "missing id", e.do("PUT", "/blobs/12345/complete", `{"size":1}`, "CB-Token: "+alice), http.StatusNotFound, "")
		wantError(t, "form-encoded create", e.do("POST", "/blobs", "blob[name]=x.png&blob[content_type]=image/png&blob[public]=true", "CB-Token: "+alice), http.StatusCreated, "")
	})
	if strings.Contains(e.logs.String(), alice) || strings.Contains(e.logs.String(), "grant=") {
		t.Fatal("a token or grant reached the log")
	}
}

func TestBlobUnsafeTypesAreAttachments(t *testing.T) {
	e := newBlobEnv(t, blob.Config{}, httpadapter.Config{})
	alice, _ := e.userSession("alice", "password123")
	for _, tc := range []struct{ ct, name, want string }{
		{"image/svg+xml", "x.svg", "attachment; filename=x.svg"},
		{"text/html; charset=utf-8", "x.html", "attachment; filename=x.html"},
		{"application/octet-stream", "résumé.pdf", "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf"},
		{"image/gif", `a"b.gif`, `inline; filename="a\"b.gif"`},
	} {
		b, u := e.createBlob(alice, tc.name, tc.ct, true)
		e.upload(u, []byte("<svg onload=alert(1)>"))
		e.do("PUT", "/blobs/"+itoa(b.ID)+"/complete", `{"size":21}`, "CB-Token: "+alice)
		r := e.do("GET", "/blobs/"+b.UID, "")
		if r.Code != 200 || r.Header.Get("Content-Type") != tc.ct || r.Header.Get("Content-Disposition") != tc.want ||
			r.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("%s: %d %v", tc.ct, r.Code, r.Header)
		}
		if _, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err != nil || params["filename"] != tc.name {
			t.Errorf("%s: Content-Disposition does not round-trip the name: %v %v", tc.ct, params, err)
		}
	}
}

func TestBlobUploadURL(t *testing.T) {
	tests := []struct {
		name    string
		cfg     httpadapter.Config
		prefix  string
		headers []string
		want    string
	}{
		{"derived", httpadapter.Config{}, "", nil, "http://example.com/blobs/upload"},
		{"under a prefix", httpadapter.Config{}, "/auth", nil, "http://example.com/auth/blobs/upload"},
		{"forwarded https, no trusted proxy", httpadapter.Config{}, "", []string{"X-Forwarded-Proto: https"}, "http://example.com/blobs/upload"},
		{"configured", httpadapter.Config{PublicURL: "https://api.example.net/v1/"}, "/v1", []string{"X-Forwarded-Proto: http"}, "https://api.example.net/v1/blobs/upload"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newBlobEnv(t, blob.Config{}, tc.cfg)
			if tc.prefix != "" {
				mux := http.NewServeMux()
				mux.Handle(tc.prefix+"/", http.StripPrefix(tc.prefix, e.h))
				e.h = mux
			}
			tok, _ := e.userSession2(tc.prefix)
			r := e.do("POST", tc.prefix+"/blobs.json", `{"blob":{"name":"a.png","content_type":"image/png"}}`, append([]string{"CB-Token: " + tok}, tc.headers...)...)
			b := decodeBlob(t, r)
			u, _ := url.Parse(b.BlobObjectAccess.Params)
			if got := u.Scheme + "://" + u.Host + u.Path; got != tc.want {
				t.Fatalf("upload URL %s, want %s?grant=...", b.BlobObjectAccess.Params, tc.want)
			}
			// The URL works, through the same mount.
			if r := e.upload(&url.URL{Path: tc.prefix + "/blobs/upload", RawQuery: u.RawQuery}, []byte("x")); r.Code != http.StatusCreated {
				t.Fatalf("upload through %s: %d %s", tc.prefix, r.Code, r.Body)
			}
		})
	}
}

// userSession2 is userSession through a mount prefix.
func (e *blobEnv) userSession2(prefix string) (string, int64) {
	e.t.Helper()
	r := e.do("POST", prefix+"/session.json", e.sessionBody(`,"user":{"login":"alice","password":"password123"}`))
	if r.Code != 201 {
		e.t.Fatalf("user session: %d %s", r.Code, r.Body)
	}
	s := r.json(e.t)["session"].(map[string]any)
	return s["token"].(string), int64(s["user_id"].(float64))
}

func TestBlobsDisabled(t *testing.T) {
	e := newEnv(t)
	tok, id := e.userSession("alice", "password123")
	disabled := `{"errors":["File storage is not configured on this server"]}`
	wantError(t, "POST /blobs", e.do("POST", "/blobs.json", `{"blob":{"name":"a"}}`, "CB-Token: "+tok), http.StatusForbidden, disabled)
	body, ct := form([][2]string{{"grant", "x"}}, []byte("x"), "")
	wantError(t, "upload", e.do("POST", "/blobs/upload", body, "Content-Type: "+ct), http.StatusForbidden, disabled)
	wantError(t, "download", e.do("GET", "/blobs/"+strings.Repeat("ab", 16), ""), http.StatusForbidden, disabled)
	// Avatars stay free text.
	if r := e.do("PUT", "/users/"+itoa(id), `{"user":{"avatar":"https://cdn.example/a.png"}}`, "CB-Token: "+tok); r.Code != http.StatusOK {
		t.Fatalf("free-text avatar with blobs off: %d %s", r.Code, r.Body)
	}
}

// A real server: the client streams a body larger than the limit; the server answers 413
// and keeps nothing.
func TestBlobOversizedOverHTTP(t *testing.T) {
	e := newBlobEnv(t, blob.Config{MaxSize: 1 << 20}, httpadapter.Config{})
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	alice, _ := e.userSession("alice", "password123")
	_, u := e.createBlob(alice, "big", "", false)
	body, ct := form([][2]string{{"grant", u.Query().Get("grant")}}, make([]byte, 3<<20), "")
	req, _ := http.NewRequest("POST", srv.URL+"/blobs/upload", strings.NewReader(body))
	req.Header.Set("Content-Type", ct)
	req.ContentLength = -1 // chunked: the limit is enforced while streaming
	res, err := srv.Client().Do(req)
	if err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", res.StatusCode)
		}
	}
	if f := e.files(); len(f) != 0 {
		t.Fatalf("files = %v", f)
	}
}

// FuzzBlobUpload sends arbitrary multipart bodies (with a valid grant available as a seed) to
// the upload URL: the answer is never a 5xx, always JSON, and a refused upload stores nothing.
func FuzzBlobUpload(f *testing.F) {
	e := newBlobEnv(f, blob.Config{MaxSize: 1024}, httpadapter.Config{})
	tok, _ := e.userSession("fuzzer", "password123")
	_, u := e.createBlob(tok, "f.png", "image/png", false)
	grant := u.Query().Get("grant")
	body, ct := form([][2]string{{"grant", grant}}, []byte("data"), "")
	boundary := strings.TrimPrefix(ct, "multipart/form-data; boundary=")
	f.Add(boundary, body)
	f.Add(boundary, "--"+boundary+"\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nxx\r\n--"+boundary+"--\r\n")
	f.Add("b", "--b\r\nContent-Disposition: form-data; name=\"grant\"\r\n\r\n"+grant+"\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../x\"\r\n\r\n"+strings.Repeat("z", 2000)+"\r\n--b--\r\n")
	f.Fuzz(func(t *testing.T, boundary, body string) {
		e.t = t
		before := len(e.files())
		r := e.do("POST", "/blobs/upload", body, "Content-Type: multipart/form-data; boundary="+boundary)
		if r.Code >= 500 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("status %d, Content-Type %q: %s", r.Code, r.Header.Get("Content-Type"), r.Body)
		}
		if after := len(e.files()); r.Code != http.StatusCreated && after != before {
			t.Fatalf("a refused upload (%d) changed the stored files: %d → %d", r.Code, before, after)
		}
	})
}
