package httpadapter_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
	"github.com/identitykit/identity/httpadapter"
	"github.com/identitykit/identity/ratelimit"
	"github.com/identitykit/identity/store/blobstore"
)

// completedBlob creates, uploads and completes a blob as token and returns it.
func (e *blobEnv) completedBlob(token string, public bool, content []byte) *wireBlob {
	e.t.Helper()
	b, u := e.createBlob(token, "a.png", "image/png", public)
	if r := e.upload(u, content, "CB-Token: "+token); r.Code != http.StatusCreated {
		e.t.Fatalf("upload: %d %s", r.Code, r.Body)
	}
	if r := e.do("PUT", "/blobs/"+itoa(b.ID)+"/complete.json", `{"size":`+strconv.Itoa(len(content))+`}`, "CB-Token: "+token); r.Code != http.StatusOK {
		e.t.Fatalf("complete: %d %s", r.Code, r.Body)
	}
	return b
}

// A guest uploads a public file and deletes itself: the file is no longer served, and the
// janitor removes its bytes.
func TestBlobsOfDeletedUserAreGone(t *testing.T) {
	e := newBlobEnv(t, blob.Config{}, httpadapter.Config{})
	r := e.do("POST", "/session.json", e.sessionBody(`,"user":{"guest":true}`))
	if r.Code != http.StatusCreated {
		t.Fatalf("guest session: %d %s", r.Code, r.Body)
	}
	s := r.json(t)["session"].(map[string]any)
	tok, uid := s["token"].(string), int64(s["user_id"].(float64))
	b := e.completedBlob(tok, true, png)
	if r := e.do("GET", "/blobs/"+b.UID, ""); r.Code != http.StatusOK {
		t.Fatalf("download before the deletion: %d %s", r.Code, r.Body)
	}
	if r := e.do("DELETE", "/users/"+itoa(uid)+".json", "", "CB-Token: "+tok); r.Code != http.StatusOK {
		t.Fatalf("DELETE /users: %d %s", r.Code, r.Body)
	}
	wantError(t, "download of a deleted user's blob", e.do("GET", "/blobs/"+b.UID, ""), http.StatusNotFound, "")
	if _, err := e.id.DeleteExpired(t.Context()); err != nil {
		t.Fatal(err)
	}
	if f := e.files(); len(f) != 0 {
		t.Fatalf("files after DeleteExpired: %v", f)
	}
}

func TestBlobQuotaOverHTTP(t *testing.T) {
	e := newBlobEnv(t, blob.Config{}, httpadapter.Config{})
	if _, err := e.id.UpdateApplicationSettings(t.Context(), e.app.ID, identity.AppSettings{BlobQuota: identity.BlobQuota{MaxFiles: 2, MaxBytes: 3000}}); err != nil {
		t.Fatal(err)
	}
	tok, _ := e.userSession("alice", "password123")
	e.completedBlob(tok, false, png[:2000])
	_, u := e.createBlob(tok, "b.png", "image/png", false)
	wantError(t, "POST /blobs over MaxFiles", e.do("POST", "/blobs.json", `{"blob":{"name":"c.png"}}`, "CB-Token: "+tok),
		http.StatusUnprocessableEntity, `{"errors":{"base":["Too many files (maximum is 2 per user)"]}}`)
	wantError(t, "upload over MaxBytes", e.upload(u, png[:1001], "CB-Token: "+tok),
		http.StatusRequestEntityTooLarge, `{"errors":{"file":["does not fit the storage quota (1000 bytes left)"]}}`)
}

// POST /blobs has a volume per client address (ratelimit.Config.Blob): 60 at once by
// default, then one per 10 s.
func TestBlobCreationRateLimited(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	d, err := blobstore.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	l := newLimitEnv(t, func(c *ratelimit.Config) { c.Blob = ratelimit.Rate{} }, func(o *envOpt) {
		o.blobs = &blob.Config{Storage: d}
		o.settings.BlobQuota.MaxFiles = -1
	})
	tok, _ := l.userSession("alice", "password123")
	body := `{"blob":{"name":"a.png","content_type":"image/png"}}`
	for i := range 60 {
		if r := l.from(attackerAddr, "POST", "/blobs.json", body, "CB-Token: "+tok); r.Code != http.StatusCreated {
			t.Fatalf("POST /blobs %d: %d %s", i+1, r.Code, r.Body)
		}
	}
	wantTooMany(t, l.from(attackerAddr, "POST", "/blobs.json", body, "CB-Token: "+tok), "10")
	// Another client address is not affected; after 10 s one more fits.
	if r := l.from(victimAddr, "POST", "/blobs.json", body, "CB-Token: "+tok); r.Code != http.StatusCreated {
		t.Fatalf("POST /blobs from another address: %d %s", r.Code, r.Body)
	}
	l.clock.Advance(10 * time.Second)
	if r := l.from(attackerAddr, "POST", "/blobs.json", body, "CB-Token: "+tok); r.Code != http.StatusCreated {
		t.Fatalf("POST /blobs after 10 s: %d %s", r.Code, r.Body)
	}
	wantTooMany(t, l.from(attackerAddr, "POST", "/blobs.json", body, "CB-Token: "+tok), "10")
}

// The upload URL comes from Config.PublicURL when set; without it from the connection, and
// from X-Forwarded-Proto and X-Forwarded-Host only when the peer is a trusted proxy.
func TestBlobUploadURLHeaders(t *testing.T) {
	proxy := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} // httptest's RemoteAddr
	other := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	forged := []string{"X-Forwarded-Proto: https", "X-Forwarded-Host: evil.example"}
	tests := []struct {
		name    string
		cfg     httpadapter.Config
		host    string // the request's Host; example.com when empty
		headers []string
		want    string
	}{
		{"configured", httpadapter.Config{PublicURL: "https://api.example.net/v1/"}, "evil.example", forged, "https://api.example.net/v1/blobs/upload"},
		{"configured, trusted proxy", httpadapter.Config{PublicURL: "https://api.example.net", TrustedProxies: proxy}, "evil.example", forged, "https://api.example.net/blobs/upload"},
		{"untrusted peer", httpadapter.Config{}, "", forged, "http://example.com/blobs/upload"},
		{"peer not among the proxies", httpadapter.Config{TrustedProxies: other}, "", forged, "http://example.com/blobs/upload"},
		{"trusted proxy", httpadapter.Config{TrustedProxies: proxy}, "", []string{"X-Forwarded-Proto: https", "X-Forwarded-Host: api.example.org"}, "https://api.example.org/blobs/upload"},
		{"trusted proxy, comma lists", httpadapter.Config{TrustedProxies: proxy}, "", []string{"X-Forwarded-Proto: http, https", "X-Forwarded-Host: evil.example, api.example.org:8443"}, "https://api.example.org:8443/blobs/upload"},
		{"trusted proxy, bad values", httpadapter.Config{TrustedProxies: proxy}, "", []string{"X-Forwarded-Proto: ftp", "X-Forwarded-Host: a/b@evil"}, "http://example.com/blobs/upload"},
		{"trusted proxy, proto only", httpadapter.Config{TrustedProxies: proxy}, "api.example.org", []string{"X-Forwarded-Proto: HTTPS"}, "https://api.example.org/blobs/upload"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newBlobEnv(t, blob.Config{}, tc.cfg)
			tok, _ := e.userSession("alice", "password123")
			target := "/blobs.json"
			if tc.host != "" {
				target = "http://" + tc.host + target // sets the request's Host
			}
			r := e.do("POST", target, `{"blob":{"name":"a.png"}}`, append([]string{"CB-Token: " + tok}, tc.headers...)...)
			b := decodeBlob(t, r)
			if p := b.BlobObjectAccess.Params; !strings.HasPrefix(p, tc.want+"?grant=") {
				t.Fatalf("upload URL %s, want %s?grant=...", p, tc.want)
			}
			u, _ := url.Parse(b.BlobObjectAccess.Params)
			if r := e.upload(&url.URL{Path: "/blobs/upload", RawQuery: u.RawQuery}, []byte("x")); r.Code != http.StatusCreated {
				t.Fatalf("upload: %d %s", r.Code, r.Body)
			}
		})
	}
}

// Without PublicURL, New warns once that upload URLs follow the request.
func TestBlobPublicURLWarning(t *testing.T) {
	const warning = "Config.PublicURL is not set"
	e := newBlobEnv(t, blob.Config{}, httpadapter.Config{})
	if n := strings.Count(e.logs.String(), warning); n != 1 {
		t.Fatalf("%d warnings without PublicURL, want 1; log:\n%s", n, e.logs)
	}
	e = newBlobEnv(t, blob.Config{}, httpadapter.Config{PublicURL: "https://api.example.net"})
	if strings.Contains(e.logs.String(), warning) {
		t.Fatalf("warning with PublicURL set:\n%s", e.logs)
	}
	if off := newEnv(t); strings.Contains(off.logs.String(), warning) {
		t.Fatalf("warning with blobs off:\n%s", off.logs)
	}
}
