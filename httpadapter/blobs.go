package httpadapter

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
)

// The ConnectyCube storage API as far as the SDKs' avatar flow needs it (see the package
// documentation, "Blobs"). The JavaScript SDK's storage.createAndUpload:
//
//  1. POST /blobs.json {"blob":{"name","content_type","public"}} → 201 {"blob":{..,
//     "blob_object_access":{"params":"<upload URL>"}}};
//  2. POST to the upload URL without its query, as multipart/form-data: every query
//     parameter as a field (decoded), then the file as the part "file" (from Node, a Buffer
//     part has no filename); CB-Token is sent too, as the URL is not on s3.amazonaws.com.
//     The SDK reads the answer as text and only looks at the status;
//  3. PUT /blobs/{id}/complete.json {"size":N}, answer read as text.
//
// storage.privateUrl(uid) is "<api_url>/blobs/<uid>?token=<session token>" and publicUrl
// the same without the token; getInfo(id) is GET /blobs/{id}.json.

const (
	// uploadFormOverhead is what the multipart body may hold besides the file: boundaries,
	// part headers and the grant field.
	uploadFormOverhead = 64 << 10
	maxUploadFields    = 16
	maxUploadFieldLen  = 2048
	// minTransferRate sets the read deadline of an upload and the write deadline of a
	// download (see transferTimeout): they replace the server's ReadTimeout and WriteTimeout,
	// which are sized for small JSON bodies, so that a slow client can move a whole file.
	minTransferRate = 32 << 10 // bytes per second
	// grantField names the form field (and URL query parameter) of the upload grant.
	grantField = "grant"
)

// files returns the file storage service, or the error every blob endpoint answers when
// Config.Blobs is nil.
func (h *handler) files(op string) (*blob.Service, error) {
	if h.cfg.Blobs == nil {
		return nil, wireFieldError(op, identity.ErrDisabled, "", "File storage is not configured on this server")
	}
	return h.cfg.Blobs, nil
}

// blobRoutes registers the blob endpoints.
func (h *handler) blobRoutes() {
	h.handle("POST /blobs", authRequired, h.limited(limitBlob, h.createBlob))
	h.handle("PUT /blobs/{id}/complete", authRequired, h.completeBlob)
	h.handle("DELETE /blobs/{id}", authRequired, h.deleteBlob)
	info := &endpoint{h: h, auth: authRequired, fn: h.blobInfo}
	// GET /blobs/{ref} is the info of blob id ref when ref is a number, else the content of
	// the blob with UID ref (UIDs always hold a letter).
	h.mux.Handle("GET /blobs/{ref}", rawEndpoint(func(w http.ResponseWriter, r *http.Request) {
		if ref := pathValue(r, "ref"); ref != "" && strings.Trim(ref, "0123456789") == "" {
			info.ServeHTTP(w, r)
			return
		}
		h.downloadBlob(w, r)
	}))
	// The upload reads its multipart body itself, streaming, instead of decodeParams.
	h.mux.Handle("POST /blobs/upload", rawEndpoint(h.uploadBlob))
	h.patterns = append(h.patterns, "GET /blobs/{ref}", "POST /blobs/upload")
}

// rawEndpoint is a handler that writes its own response, errors included.
type rawEndpoint func(w http.ResponseWriter, r *http.Request)

func (f rawEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rw, ok := w.(*respWriter); ok {
		rw.routed, rw.route = true, r.Pattern
	}
	f(w, r)
}

// wireBlob is the ConnectyCube blob object. size is null until the bytes arrived;
// blob_status is "complete" once completed, null before; blob_object_access is present only
// in the answer to POST /blobs.
type wireBlob struct {
	ID               int64           `json:"id"`
	UID              string          `json:"uid"`
	ContentType      string          `json:"content_type"`
	Name             string          `json:"name"`
	Size             *int64          `json:"size"`
	CreatedAt        string          `json:"created_at"`
	UpdatedAt        string          `json:"updated_at"`
	BlobStatus       *string         `json:"blob_status"`
	SetCompletedAt   *string         `json:"set_completed_at"`
	Public           bool            `json:"public"`
	BlobObjectAccess *wireBlobAccess `json:"blob_object_access,omitempty"`
}

// wireBlobAccess is the write access of a new blob: params is the absolute upload URL whose
// query holds the form fields to send with the file (the shape of an S3 presigned POST).
type wireBlobAccess struct {
	ID               int64  `json:"id"`
	BlobID           int64  `json:"blob_id"`
	Expires          string `json:"expires"`
	ObjectAccessType string `json:"object_access_type"`
	Params           string `json:"params"`
}

type blobBody struct {
	Blob *wireBlob `json:"blob"`
}

const blobTimeLayout = "2006-01-02T15:04:05Z"

func toWireBlob(b *blob.Blob) *wireBlob {
	w := &wireBlob{
		ID:          b.ID,
		UID:         b.UID,
		ContentType: b.ContentType,
		Name:        b.Name,
		CreatedAt:   b.CreatedAt.UTC().Format(blobTimeLayout),
		UpdatedAt:   b.UpdatedAt.UTC().Format(blobTimeLayout),
		Public:      b.Public,
	}
	if b.State >= blob.Uploaded {
		n := b.Size
		w.Size = &n
	}
	if b.State == blob.Completed {
		st, at := "complete", b.CompletedAt.UTC().Format(blobTimeLayout)
		w.BlobStatus, w.SetCompletedAt = &st, &at
	}
	return w
}

// createBlob is POST /blobs: {"blob":{"name","content_type","public"}} (or the fields at the
// top level). Answers 201 {"blob":{...,"blob_object_access":{"params":"<upload URL>"}}}.
func (h *handler) createBlob(ctx context.Context, c *call) error {
	p := c.p.object("blob")
	if p == nil {
		p = c.p
	}
	f := fieldErrs{}
	in := blob.Input{
		Name:        f.str(p, "name", "name"),
		ContentType: f.str(p, "content_type", "content_type"),
		Public:      asBool(p["public"]),
	}
	if err := f.err("create blob"); err != nil {
		return err
	}
	files, err := h.files("create blob")
	if err != nil {
		return err
	}
	b, g, err := files.Create(ctx, c.s, in)
	if err != nil {
		return err
	}
	w := toWireBlob(b)
	w.BlobObjectAccess = &wireBlobAccess{
		ID:               b.ID,
		BlobID:           b.ID,
		Expires:          g.ExpiresAt.UTC().Format(blobTimeLayout),
		ObjectAccessType: "Write",
		Params:           h.baseURL(c.r) + "/blobs/upload?" + grantField + "=" + url.QueryEscape(g.Token),
	}
	return writeJSON(c.w, http.StatusCreated, blobBody{Blob: w})
}

// baseURL is the absolute URL of the handler's root: Config.PublicURL, or else derived from
// r: its scheme (https when the connection is TLS), its Host, and the path prefix that
// http.StripPrefix (or chi's Mount with it) removed. X-Forwarded-Proto and X-Forwarded-Host
// replace the scheme and host only when the peer is a trusted proxy (Config.TrustedProxies);
// anyone else's are ignored. The nearest proxy's (rightmost) value is used, so the proxy must
// set X-Forwarded-Host itself (some pass a client's through by default): set PublicURL
// rather than rely on it.
func (h *handler) baseURL(r *http.Request) string {
	if h.cfg.PublicURL != "" {
		return strings.TrimRight(h.cfg.PublicURL, "/")
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if h.lim.fromProxy(r) {
		if p := strings.ToLower(lastForwarded(r.Header, "X-Forwarded-Proto")); p == "http" || p == "https" {
			scheme = p
		}
		if fh := lastForwarded(r.Header, "X-Forwarded-Host"); validHost(fh) {
			host = fh
		}
	}
	prefix := ""
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && strings.HasSuffix(u.Path, r.URL.Path) {
		prefix = strings.TrimSuffix(u.Path, r.URL.Path)
	}
	return (&url.URL{Scheme: scheme, Host: host, Path: prefix}).String()
}

// fromProxy reports whether r comes from a trusted proxy: its peer is in TrustedProxies, or
// has no IP address (a Unix socket) while TrustedProxies is set, as clientIP decides.
func (l *limits) fromProxy(r *http.Request) bool {
	return l.trustedPeer(parseHop(r.RemoteAddr))
}

// trustedPeer reports whether a connection from peer comes through a trusted proxy.
func (l *limits) trustedPeer(peer netip.Addr) bool {
	return len(l.proxies) > 0 && (!peer.IsValid() || l.trusted(peer))
}

// lastForwarded returns the rightmost comma-separated entry of the last header name: what the
// nearest proxy wrote, whatever the client sent before it.
func lastForwarded(hd http.Header, name string) string {
	vs := hd.Values(name)
	if len(vs) == 0 {
		return ""
	}
	v := vs[len(vs)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// validHost reports whether s can stand as the host[:port] of a URL: letters, digits and
// ".-_:[]" only, at most 255 bytes.
func validHost(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte(".-_:[]", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// blobID reads the {id} or {ref} wildcard; a malformed id names no blob.
func blobID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(pathValue(r, name), 10, 64)
	if err != nil || id <= 0 {
		return 0, &identity.Error{Op: "blob", Err: identity.ErrNotFound}
	}
	return id, nil
}

// completeBlob is PUT /blobs/{id}/complete with {"size":N} (or {"blob":{"size":N}}): the
// owner declares the upload complete. Answers an empty 200, as ConnectyCube does.
func (h *handler) completeBlob(ctx context.Context, c *call) error {
	id, err := blobID(c.r, "id")
	if err != nil {
		return err
	}
	p := c.p
	if o := p.object("blob"); o != nil {
		p = o
	}
	v, ok := p["size"]
	if !ok {
		return wireFieldError("complete blob", identity.ErrInvalidInput, "size", "cannot be blank")
	}
	size, ok := asInt64(v)
	if !ok || size < 0 {
		return wireFieldError("complete blob", identity.ErrInvalidInput, "size", "is invalid")
	}
	files, err := h.files("complete blob")
	if err != nil {
		return err
	}
	if _, err := files.Complete(ctx, c.s, id, size); err != nil {
		return err
	}
	writeEmpty(c.w)
	return nil
}

// blobInfo is GET /blobs/{id}: 200 {"blob":{...}}.
func (h *handler) blobInfo(ctx context.Context, c *call) error {
	id, err := blobID(c.r, "ref")
	if err != nil {
		return err
	}
	files, err := h.files("blob info")
	if err != nil {
		return err
	}
	b, err := files.Info(ctx, c.s, id)
	if err != nil {
		return err
	}
	return writeJSON(c.w, http.StatusOK, blobBody{Blob: toWireBlob(b)})
}

// deleteBlob is DELETE /blobs/{id}: the owner deletes the blob and its bytes. Empty 200.
func (h *handler) deleteBlob(ctx context.Context, c *call) error {
	id, err := blobID(c.r, "id")
	if err != nil {
		return err
	}
	files, err := h.files("delete blob")
	if err != nil {
		return err
	}
	if err := files.Delete(ctx, c.s, id); err != nil {
		return err
	}
	writeEmpty(c.w)
	return nil
}

// uploadBlob is POST /blobs/upload, the upload URL: a multipart/form-data body whose fields
// (the grant) precede the part named "file". A CB-Token, when sent, must be the grant's
// user's. Answers 201 {"blob":{...}}. The body may be the Service's MaxSize plus 64 KiB; the
// file is streamed to storage, never held in memory, and nothing is stored on any error.
func (h *handler) uploadBlob(w http.ResponseWriter, r *http.Request) {
	if err := h.upload(w, r); err != nil {
		writeError(w, r, h.log, err)
	}
}

func (h *handler) upload(w http.ResponseWriter, r *http.Request) error {
	const op = "upload blob"
	ctx := r.Context()
	files, err := h.files(op)
	if err != nil {
		return err
	}
	var s *identity.Session
	if tok := requestToken(r); tok != "" {
		var err error
		if s, err = h.id.Validate(ctx, tok); err != nil {
			return err
		}
		setExpiration(w, s)
	}
	limit := files.MaxSize() + uploadFormOverhead
	tooLarge := wireFieldError(op, blob.ErrTooLarge, "file",
		"is too large (maximum is "+strconv.FormatInt(files.MaxSize(), 10)+" bytes)")
	if r.ContentLength > limit {
		return tooLarge
	}
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(transferTimeout(limit)))
	rc.SetWriteDeadline(time.Now().Add(transferTimeout(limit) + time.Minute))
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	mr, err := r.MultipartReader()
	if err != nil {
		return badf("send the file as multipart/form-data")
	}
	readErr := func(err error) error {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return tooLarge
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return badf("the multipart body could not be read")
	}
	fields := map[string]string{}
	for n := 0; ; n++ {
		// Raw: the bytes are stored as sent, never transfer-decoded.
		part, err := mr.NextRawPart()
		if err == io.EOF {
			return wireFieldError(op, identity.ErrInvalidInput, "file", "cannot be blank")
		}
		if err != nil {
			return readErr(err)
		}
		if part.FormName() == "file" {
			grant := fields[grantField]
			if grant == "" {
				grant = r.URL.Query().Get(grantField)
			}
			body := &trackReader{r: part}
			b, err := files.Upload(ctx, s, grant, body)
			if err != nil {
				if body.err != nil && !errors.Is(err, blob.ErrTooLarge) {
					return readErr(body.err)
				}
				return err
			}
			return writeJSON(w, http.StatusCreated, blobBody{Blob: toWireBlob(b)})
		}
		if n >= maxUploadFields {
			return badf("too many form fields before the file (maximum is %d)", maxUploadFields)
		}
		v, err := io.ReadAll(io.LimitReader(part, maxUploadFieldLen+1))
		if err != nil {
			return readErr(err)
		}
		if len(v) > maxUploadFieldLen {
			return badf("a form field is too long (maximum is %d bytes)", maxUploadFieldLen)
		}
		fields[part.FormName()] = string(v)
	}
}

// transferTimeout is how long moving n bytes may take: a minute plus n at minTransferRate
// (6 min 20 s for 10 MiB). Errors setting deadlines (a writer without deadlines, as in tests)
// are ignored.
func transferTimeout(n int64) time.Duration {
	return time.Minute + time.Duration(n/minTransferRate)*time.Second
}

// trackReader remembers the first read error other than io.EOF, so a failed upload can be
// blamed on the client's body rather than on storage.
type trackReader struct {
	r   io.Reader
	err error
}

func (t *trackReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

// inlineTypes are the image types browsers render without running anything; everything else
// (SVG and HTML included) is served as an attachment.
var inlineTypes = map[string]bool{
	"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true,
	"image/avif": true, "image/bmp": true,
}

// downloadBlob is GET /blobs/{uid}[?token=<session token>] (the SDK's privateUrl and
// publicUrl): the bytes, with the stored Content-Type, Content-Length, a strong ETag, range
// and conditional request support (http.ServeContent) and headers that keep a stored file
// from being run as a page of this origin: X-Content-Type-Options: nosniff, a sandboxing
// Content-Security-Policy, and Content-Disposition: attachment for anything but raster
// images. The token may also come as CB-Token; "undefined" and "null" (what privateUrl
// writes without a session) mean none.
func (h *handler) downloadBlob(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimSpace(r.URL.Query().Get("token"))
	if tok == "" || tok == "undefined" || tok == "null" {
		tok = requestToken(r)
	}
	// A token that is not a valid session counts as none: a public blob needs none, and
	// a private one then answers what an invalid token answers.
	var s *identity.Session
	if tok != "" {
		var err error
		if s, err = h.id.Validate(r.Context(), tok); err != nil && !errors.Is(err, identity.ErrSessionNotFound) {
			writeError(w, r, h.log, err)
			return
		}
	}
	files, err := h.files("open blob")
	if err != nil {
		writeError(w, r, h.log, err)
		return
	}
	b, content, err := files.Open(r.Context(), s, pathValue(r, "ref"))
	if err != nil {
		writeError(w, r, h.log, err)
		return
	}
	defer content.Close()
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(transferTimeout(b.Size)))
	hd := w.Header()
	hd.Set("Content-Type", b.ContentType)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
	hd.Set("Etag", `"`+b.UID+`"`)
	// The answer is cacheable and its CORS headers depend on Origin: without Vary, a copy
	// cached for an <img> (no Origin, so no Access-Control-Allow-Origin) would be reused for
	// a script's fetch of the same URL and fail its CORS check.
	if !strings.Contains(strings.Join(hd.Values("Vary"), ","), "Origin") {
		hd.Add("Vary", "Origin")
	}
	if b.Public {
		hd.Set("Cache-Control", "public, max-age=86400")
	} else {
		hd.Set("Cache-Control", "private, max-age=3600")
	}
	mt, _, _ := mime.ParseMediaType(b.ContentType)
	disposition := "attachment"
	if inlineTypes[mt] {
		disposition = "inline"
	}
	if cd := mime.FormatMediaType(disposition, map[string]string{"filename": b.Name}); cd != "" {
		hd.Set("Content-Disposition", cd)
	} else {
		hd.Set("Content-Disposition", disposition)
	}
	http.ServeContent(&serveErrWriter{ResponseWriter: w}, r, "", b.CompletedAt, content)
}

// serveErrWriter turns the plain-text error answers of http.ServeContent (416 Range Not
// Satisfiable, 412, ...) into ConnectyCube error bodies.
type serveErrWriter struct {
	http.ResponseWriter
	failed bool
}

func (w *serveErrWriter) WriteHeader(code int) {
	if code >= 400 {
		w.failed = true
		hd := w.Header()
		for _, k := range []string{"Content-Disposition", "Etag", "Cache-Control", "Last-Modified", "Content-Range"} {
			if code != http.StatusRequestedRangeNotSatisfiable || k != "Content-Range" {
				hd.Del(k)
			}
		}
		body, _ := json.Marshal(errorsBody{Errors: flatErrors{http.StatusText(code)}})
		hd.Set("Content-Type", contentTypeJSON)
		hd.Set("Content-Length", strconv.Itoa(len(body)))
		w.ResponseWriter.WriteHeader(code)
		w.ResponseWriter.Write(body)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *serveErrWriter) Write(b []byte) (int, error) {
	if w.failed {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *serveErrWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
