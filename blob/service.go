package blob

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/identitykit/identity"
)

const (
	defaultMaxFiles        = 100
	defaultMaxBytes        = 100 << 20
	defaultMaxSize         = 10 << 20
	defaultGrantLifetime   = 15 * time.Minute
	defaultPendingLifetime = time.Hour
	// staleBatch bounds how many stale blobs one StaleBlobs call returns.
	staleBatch = 100
)

// Service is file storage on an Identity. It is safe for concurrent use.
type Service struct {
	id    *identity.Identity
	cfg   Config
	store Store
	log   *slog.Logger
}

// New validates cfg, fills its defaults and returns the Service of id. It registers hooks on
// id (call it before id serves requests): from then on a user's new Avatar must be "" or
// the UID of a completed blob of the user's application that is public or the user's own,
// and every janitor pass of id (Identity.DeleteExpired) runs Sweep.
func New(id *identity.Identity, cfg Config) (*Service, error) {
	switch {
	case id == nil:
		return nil, errors.New("blob: New needs an *identity.Identity")
	case cfg.Store == nil:
		return nil, errors.New("blob: Config.Store is required")
	case cfg.Storage == nil:
		return nil, errors.New("blob: Config.Storage is required")
	}
	if cfg.MaxSize == 0 {
		cfg.MaxSize = defaultMaxSize
	}
	if cfg.GrantLifetime == 0 {
		cfg.GrantLifetime = defaultGrantLifetime
	}
	if cfg.PendingLifetime == 0 {
		cfg.PendingLifetime = defaultPendingLifetime
	}
	switch {
	case cfg.MaxSize < 0 || cfg.GrantLifetime < 0 || cfg.PendingLifetime < 0:
		return nil, errors.New("blob: Config sizes and durations must not be negative")
	case cfg.PendingLifetime <= cfg.GrantLifetime:
		return nil, errors.New("blob: Config.PendingLifetime must exceed GrantLifetime")
	case cfg.GrantKey == nil:
		cfg.GrantKey = make([]byte, 32)
		if _, err := rand.Read(cfg.GrantKey); err != nil {
			return nil, fmt.Errorf("blob: drawing a grant key: %w", err)
		}
	case len(cfg.GrantKey) < 32:
		return nil, errors.New("blob: Config.GrantKey must be at least 32 bytes")
	default:
		cfg.GrantKey = append([]byte(nil), cfg.GrantKey...)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Service{id: id, cfg: cfg, store: cfg.Store, log: cfg.Logger}
	id.AddHooks(identity.Hooks{
		CheckAvatar: s.checkAvatar,
		Sweep: func(ctx context.Context, now time.Time) error {
			n, err := s.sweep(ctx, now)
			if err == nil {
				s.log.DebugContext(ctx, "blob: janitor sweep", "blobs", n)
			}
			return err
		},
	})
	return s, nil
}

// MaxSize is the size limit of one file in bytes (Config.MaxSize).
func (s *Service) MaxSize() int64 { return s.cfg.MaxSize }

// quota returns the file and byte limits of one user of application appID (its
// identity.AppSettings.BlobQuota with the defaults filled in); a negative limit means none.
func (s *Service) quota(ctx context.Context, appID int64) (maxFiles int, maxBytes int64, err error) {
	app, err := s.id.Application(ctx, appID)
	if err != nil {
		return 0, 0, err
	}
	q := app.Settings.BlobQuota
	if q.MaxFiles == 0 {
		q.MaxFiles = defaultMaxFiles
	}
	if q.MaxBytes == 0 {
		q.MaxBytes = defaultMaxBytes
	}
	return q.MaxFiles, q.MaxBytes, nil
}

// needUser refuses a missing session and an application session.
func needUser(ss *identity.Session) error {
	if ss == nil {
		return identity.ErrSessionNotFound
	}
	if ss.UserID == 0 {
		return identity.ErrNeedUser
	}
	return nil
}

// Create creates a blob owned by the session's user (identity.ErrNeedUser for an
// application session) and returns it with its upload grant. Bad input is an
// *identity.Error wrapping identity.ErrInvalidInput naming "name" or "content_type"; a user
// who already holds identity.AppSettings.BlobQuota.MaxFiles blobs (in any state but
// Deleting) gets one naming "base".
func (s *Service) Create(ctx context.Context, ss *identity.Session, in Input) (*Blob, *UploadGrant, error) {
	const op = "create blob"
	if err := needUser(ss); err != nil {
		return nil, nil, err
	}
	var fields []identity.FieldError
	name := in.Name
	switch {
	case strings.TrimSpace(name) == "":
		fields = append(fields, identity.FieldError{Field: "name", Code: "blank"})
	case !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0:
		fields = append(fields, identity.FieldError{Field: "name", Code: "invalid"})
	case utf8.RuneCountInString(name) > MaxNameLength:
		fields = append(fields, identity.FieldError{Field: "name", Code: "too_long", Limit: MaxNameLength})
	}
	ct, ok := normalizeContentType(in.ContentType)
	if !ok {
		fields = append(fields, identity.FieldError{Field: "content_type", Code: "invalid"})
	}
	if len(fields) > 0 {
		return nil, nil, &identity.Error{Op: op, Err: identity.ErrInvalidInput, Fields: fields}
	}
	maxFiles, _, err := s.quota(ctx, ss.ApplicationID)
	if err != nil {
		return nil, nil, err
	}
	if maxFiles >= 0 {
		files, _, err := s.store.BlobUsage(ctx, ss.ApplicationID, ss.UserID)
		if err != nil {
			return nil, nil, err
		}
		if files >= maxFiles {
			return nil, nil, &identity.Error{Op: op, Err: identity.ErrInvalidInput, Fields: []identity.FieldError{{Code: "too_many_files", Limit: maxFiles}}}
		}
	}
	now := s.now()
	b := &Blob{
		ApplicationID: ss.ApplicationID,
		UserID:        ss.UserID,
		UID:           newUID(),
		Name:          name,
		ContentType:   ct,
		Public:        in.Public,
		State:         Created,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	if err := s.store.CreateBlob(ctx, b); err != nil {
		return nil, nil, err
	}
	return b, s.grant(b, now), nil
}

// normalizeContentType returns the canonical form of a declared media type
// (application/octet-stream for ""), or false when it is not one.
func normalizeContentType(ct string) (string, bool) {
	ct = strings.TrimSpace(ct)
	if ct == "" {
		return "application/octet-stream", true
	}
	if len(ct) > MaxContentTypeLength || !utf8.ValidString(ct) {
		return "", false
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || !strings.Contains(mt, "/") {
		return "", false
	}
	out := mime.FormatMediaType(mt, params)
	if out == "" || len(out) > MaxContentTypeLength {
		return "", false
	}
	return out, true
}

// newUID returns 32 random lowercase hex characters with at least one letter.
func newUID() string {
	b := make([]byte, 16)
	for {
		if _, err := rand.Read(b); err != nil {
			panic("blob: crypto/rand failed: " + err.Error())
		}
		if u := hex.EncodeToString(b); strings.ContainsAny(u, "abcdef") {
			return u
		}
	}
}

// storageKey is the storage key of b: its application, a two-character shard and its UID.
func storageKey(b *Blob) string {
	return strconv.FormatInt(b.ApplicationID, 10) + "/" + b.UID[:2] + "/" + b.UID
}

// Grant tokens are "v1.<payload>.<mac>", both base64url without padding; the payload is
// "appID.blobID.userID.maxSize.expiresUnix" and the mac its HMAC-SHA256 under the grant key
// with a domain prefix.
const grantMACPrefix = "identity blob upload grant v1\x00"

type grantClaims struct {
	appID, blobID, userID, maxSize, expires int64
}

func (s *Service) grant(b *Blob, now time.Time) *UploadGrant {
	exp := now.Add(s.cfg.GrantLifetime).Truncate(time.Second)
	payload := fmt.Sprintf("%d.%d.%d.%d.%d", b.ApplicationID, b.ID, b.UserID, s.cfg.MaxSize, exp.Unix())
	enc := base64.RawURLEncoding
	tok := "v1." + enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(s.mac(payload))
	return &UploadGrant{Token: tok, ExpiresAt: exp, MaxSize: s.cfg.MaxSize}
}

func (s *Service) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.cfg.GrantKey)
	m.Write([]byte(grantMACPrefix))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// parseGrant verifies tok's MAC and expiry.
func (s *Service) parseGrant(tok string, now time.Time) (*grantClaims, error) {
	const op = "upload blob"
	bad := func(code string) error { return identity.NewError(op, ErrInvalidGrant, "grant", code) }
	if tok == "" {
		return nil, bad("blank")
	}
	if len(tok) > 512 {
		return nil, bad("invalid")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		return nil, bad("invalid")
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(parts[1])
	sig, err2 := enc.DecodeString(parts[2])
	if err1 != nil || err2 != nil || !hmac.Equal(sig, s.mac(string(payload))) {
		return nil, bad("invalid")
	}
	nums := strings.Split(string(payload), ".")
	if len(nums) != 5 {
		return nil, bad("invalid")
	}
	var v [5]int64
	for i, n := range nums {
		x, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return nil, bad("invalid")
		}
		v[i] = x
	}
	c := &grantClaims{appID: v[0], blobID: v[1], userID: v[2], maxSize: v[3], expires: v[4]}
	if !now.Before(time.Unix(c.expires, 0)) {
		return nil, bad("expired")
	}
	return c, nil
}

// Upload stores the bytes of the blob that grant names, reading r to its end. The grant
// must be valid, unexpired and unused (ErrInvalidGrant otherwise); it is spent by this call
// whatever its outcome. ss is the uploader's session when it sent one (it must then be the
// grant's user: ErrInvalidGrant otherwise); nil when the upload is authorized by the grant
// alone, as a presigned upload URL is. More than the grant's size limit, or than what
// remains of the owner's identity.AppSettings.BlobQuota.MaxBytes (the sizes of its blobs not
// Deleting), is an *identity.Error wrapping ErrTooLarge naming "file", and nothing is stored
// then (nor on any other error). Errors reading r are returned wrapped.
func (s *Service) Upload(ctx context.Context, ss *identity.Session, grant string, r io.Reader) (*Blob, error) {
	const op = "upload blob"
	now := s.now()
	c, err := s.parseGrant(grant, now)
	if err != nil {
		return nil, err
	}
	if ss != nil && (ss.ApplicationID != c.appID || ss.UserID != c.userID) {
		return nil, identity.NewError(op, ErrInvalidGrant, "grant", "foreign")
	}
	b, err := s.store.Blob(ctx, c.appID, c.blobID)
	if errors.Is(err, identity.ErrNotFound) {
		return nil, identity.NewError(op, ErrInvalidGrant, "grant", "invalid")
	}
	if err != nil {
		return nil, err
	}
	if b.UserID != c.userID {
		return nil, identity.NewError(op, ErrInvalidGrant, "grant", "invalid")
	}
	// Spend the grant: only one upload may ever start.
	b.State, b.UpdatedAt = Uploading, now
	if err := s.store.UpdateBlobState(ctx, b, Created); err != nil {
		if errors.Is(err, identity.ErrNotFound) {
			return nil, identity.NewError(op, ErrInvalidGrant, "grant", "used")
		}
		return nil, err
	}
	limit := min(c.maxSize, s.cfg.MaxSize)
	tooLarge := identity.FieldError{Field: "file", Code: "too_large", Limit: int(limit)}
	_, maxBytes, err := s.quota(ctx, b.ApplicationID)
	if err != nil {
		return nil, err
	}
	if maxBytes >= 0 {
		_, used, err := s.store.BlobUsage(ctx, b.ApplicationID, b.UserID)
		if err != nil {
			return nil, err
		}
		if left := maxBytes - used; left < limit {
			limit = left
			tooLarge = identity.FieldError{Field: "file", Code: "over_quota", Limit: int(max(left, 0))}
		}
	}
	if limit <= 0 {
		return nil, &identity.Error{Op: op, Err: ErrTooLarge, Fields: []identity.FieldError{tooLarge}}
	}
	key := storageKey(b)
	n, err := s.cfg.Storage.Put(ctx, key, r, limit)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return nil, &identity.Error{Op: op, Err: ErrTooLarge, Fields: []identity.FieldError{tooLarge}}
		}
		return nil, fmt.Errorf("blob: upload blob %d: %w", b.ID, err)
	}
	b.State, b.Size, b.UpdatedAt = Uploaded, n, s.now()
	if err := s.store.UpdateBlobState(ctx, b, Uploading); err != nil {
		// The janitor took the blob meanwhile: do not leave its bytes behind.
		if dErr := s.cfg.Storage.Delete(context.WithoutCancel(ctx), key); dErr != nil {
			s.log.Warn("blob: deleting the bytes of a removed blob failed", "blob_id", b.ID, "err", dErr)
		}
		if errors.Is(err, identity.ErrNotFound) {
			return nil, identity.NewError(op, ErrInvalidGrant, "grant", "expired")
		}
		return nil, err
	}
	return b, nil
}

// Complete declares the upload of blob blobID complete. Only the owner may
// (identity.ErrNotFound for anyone else, as for a missing blob). size must equal the number
// of bytes received: a mismatch is an *identity.Error wrapping identity.ErrInvalidInput
// naming "size", and the upload is then discarded (blob and bytes), so a truncated or
// altered file is never completed. A blob without its upload yet is an *identity.Error
// wrapping identity.ErrInvalidInput naming "base". The owner's
// identity.AppSettings.BlobQuota is checked again, so that uploads that ran at the same time
// cannot together exceed it: when the owner's blobs not Deleting, this one included, are
// more files or bytes than the quota, the upload is discarded and the error is an
// *identity.Error wrapping identity.ErrInvalidInput naming "base". Completing a completed
// blob with its size again succeeds (idempotent).
func (s *Service) Complete(ctx context.Context, ss *identity.Session, blobID, size int64) (*Blob, error) {
	const op = "complete blob"
	if err := needUser(ss); err != nil {
		return nil, err
	}
	b, err := s.store.Blob(ctx, ss.ApplicationID, blobID)
	if err != nil {
		return nil, err
	}
	if b.UserID != ss.UserID || b.State == Deleting {
		return nil, &identity.Error{Op: op, Err: identity.ErrNotFound}
	}
	sizeErr := identity.NewError(op, identity.ErrInvalidInput, "size", "mismatch")
	switch b.State {
	case Completed:
		if size != b.Size {
			return nil, sizeErr
		}
		return b, nil
	case Uploaded:
	default:
		return nil, identity.NewError(op, identity.ErrInvalidInput, "", "not_uploaded")
	}
	now := s.now()
	if size != b.Size {
		if err := s.remove(ctx, b, Uploaded, now); err != nil && !errors.Is(err, identity.ErrNotFound) {
			return nil, err
		}
		return nil, sizeErr
	}
	over, err := s.overQuota(ctx, b)
	if err != nil {
		return nil, err
	}
	if over != nil {
		if err := s.remove(ctx, b, Uploaded, now); err != nil && !errors.Is(err, identity.ErrNotFound) {
			return nil, err
		}
		return nil, over
	}
	b.State, b.UpdatedAt, b.CompletedAt = Completed, now, now
	if err := s.store.UpdateBlobState(ctx, b, Uploaded); err != nil {
		if errors.Is(err, identity.ErrNotFound) {
			return nil, &identity.Error{Op: op, Err: identity.ErrNotFound}
		}
		return nil, err
	}
	return b, nil
}

// overQuota returns the *identity.Error of Complete when the blobs of b's owner (b
// included) exceed the quota, else nil.
func (s *Service) overQuota(ctx context.Context, b *Blob) (*identity.Error, error) {
	maxFiles, maxBytes, err := s.quota(ctx, b.ApplicationID)
	if err != nil {
		return nil, err
	}
	if maxFiles < 0 && maxBytes < 0 {
		return nil, nil
	}
	files, bytes, err := s.store.BlobUsage(ctx, b.ApplicationID, b.UserID)
	if err != nil {
		return nil, err
	}
	const op = "complete blob"
	switch {
	case maxFiles >= 0 && files > maxFiles:
		return &identity.Error{Op: op, Err: identity.ErrInvalidInput, Fields: []identity.FieldError{{Code: "too_many_files", Limit: maxFiles}}}, nil
	case maxBytes >= 0 && bytes > maxBytes:
		return &identity.Error{Op: op, Err: identity.ErrInvalidInput, Fields: []identity.FieldError{{Code: "quota_exceeded", Limit: int(maxBytes)}}}, nil
	}
	return nil, nil
}

// remove deletes b (found in state from): it marks it Deleting, deletes its bytes, then its
// metadata. identity.ErrNotFound when b was no longer in state from.
func (s *Service) remove(ctx context.Context, b *Blob, from State, now time.Time) error {
	if from != Deleting {
		d := *b
		d.State, d.UpdatedAt = Deleting, now
		if err := s.store.UpdateBlobState(ctx, &d, from); err != nil {
			return err
		}
	}
	if err := s.cfg.Storage.Delete(ctx, storageKey(b)); err != nil {
		return fmt.Errorf("blob: deleting the bytes of blob %d: %w", b.ID, err)
	}
	return s.store.DeleteBlob(ctx, b.ID)
}

// Info returns blob blobID of the session's application. The owner sees its blob in any
// state; other sessions of the application see completed public blobs only. Anything else
// is identity.ErrNotFound.
func (s *Service) Info(ctx context.Context, ss *identity.Session, blobID int64) (*Blob, error) {
	if ss == nil {
		return nil, identity.ErrSessionNotFound
	}
	b, err := s.store.Blob(ctx, ss.ApplicationID, blobID)
	if err != nil {
		return nil, err
	}
	owner := ss.UserID != 0 && b.UserID == ss.UserID
	if b.State == Deleting || (!owner && (!b.Public || b.State != Completed)) {
		return nil, &identity.Error{Op: "blob info", Err: identity.ErrNotFound}
	}
	return b, nil
}

// Open opens the content of the completed blob with uid for download as ss, the caller's
// session from identity.Identity.Validate (nil when the client sent none, or none valid). A
// public blob needs no session; a private one needs a session (any user's, or an
// application session) of the blob's application: without one identity.ErrSessionNotFound,
// with a session of another application identity.ErrNotFound. A missing or incomplete blob
// is identity.ErrNotFound. The caller closes the returned content; its length is b.Size.
func (s *Service) Open(ctx context.Context, ss *identity.Session, uid string) (*Blob, io.ReadSeekCloser, error) {
	const op = "open blob"
	if !ValidUID(uid) {
		return nil, nil, &identity.Error{Op: op, Err: identity.ErrNotFound}
	}
	b, err := s.store.BlobByUID(ctx, uid)
	if err != nil {
		return nil, nil, err
	}
	if b.State != Completed {
		return nil, nil, &identity.Error{Op: op, Err: identity.ErrNotFound}
	}
	if !b.Public {
		if ss == nil {
			return nil, nil, identity.ErrSessionNotFound
		}
		if ss.ApplicationID != b.ApplicationID {
			return nil, nil, &identity.Error{Op: op, Err: identity.ErrNotFound}
		}
	}
	rc, st, err := s.cfg.Storage.Open(ctx, storageKey(b))
	if err != nil {
		if errors.Is(err, identity.ErrNotFound) {
			s.log.Error("blob: the content of a completed blob is missing", "blob_id", b.ID)
		}
		return nil, nil, fmt.Errorf("blob: open blob %d: %w", b.ID, err)
	}
	if st.Size != b.Size {
		rc.Close()
		return nil, nil, fmt.Errorf("blob: open blob %d: stored content has %d bytes, metadata says %d", b.ID, st.Size, b.Size)
	}
	return b, rc, nil
}

// Delete deletes blob blobID and its bytes. Only the owner may (identity.ErrNotFound for
// anyone else, as for a missing blob). Users whose Avatar names the blob keep the now
// dangling UID. When the bytes cannot be deleted the blob stays Deleting (never served
// again) and Sweep finishes the deletion.
func (s *Service) Delete(ctx context.Context, ss *identity.Session, blobID int64) error {
	const op = "delete blob"
	if err := needUser(ss); err != nil {
		return err
	}
	b, err := s.store.Blob(ctx, ss.ApplicationID, blobID)
	if err != nil {
		return err
	}
	if b.UserID != ss.UserID {
		return &identity.Error{Op: op, Err: identity.ErrNotFound}
	}
	if err := s.remove(ctx, b, b.State, s.now()); err != nil {
		if errors.Is(err, identity.ErrNotFound) {
			return &identity.Error{Op: op, Err: identity.ErrNotFound}
		}
		return err
	}
	return nil
}

// Sweep removes, with their bytes, blobs never completed within Config.PendingLifetime,
// blobs being deleted (by Delete, or with their owner or its application) and blobs whose
// owner no longer exists, as of the Identity's clock. It returns how many it removed. Every
// janitor pass of the Identity (identity.Identity.DeleteExpired) runs it; it is safe to call
// from several processes.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	return s.sweep(ctx, s.now())
}

func (s *Service) sweep(ctx context.Context, now time.Time) (int, error) {
	before := now.Add(-s.cfg.PendingLifetime)
	n := 0
	for {
		stale, err := s.store.StaleBlobs(ctx, before, staleBatch)
		if err != nil {
			return n, err
		}
		for _, b := range stale {
			err := s.remove(ctx, b, b.State, now)
			if errors.Is(err, identity.ErrNotFound) {
				continue // changed meanwhile (completed, or removed by another process)
			}
			if err != nil {
				return n, err
			}
			n++
		}
		if len(stale) < staleBatch {
			return n, nil
		}
	}
}

// checkAvatar is the identity.Hooks.CheckAvatar of the Service: a client may set as its
// avatar "" (none) or the UID of a completed blob of application appID that is public or
// owned by userID (0 for a user being signed up, who owns nothing yet). Anything else, a
// URL included, is an *identity.Error wrapping identity.ErrInvalidInput naming "avatar",
// with one message whatever the reason, so that the answer does not tell another user's
// private blob from a missing one.
func (s *Service) checkAvatar(ctx context.Context, appID, userID int64, avatar string) error {
	if avatar == "" {
		return nil
	}
	bad := identity.NewError("", identity.ErrInvalidInput, "avatar", "not_a_blob")
	if !ValidUID(avatar) {
		return bad
	}
	b, err := s.store.BlobByUID(ctx, avatar)
	if errors.Is(err, identity.ErrNotFound) {
		return bad
	}
	if err != nil {
		return err
	}
	if b.ApplicationID != appID || b.State != Completed || (!b.Public && (userID == 0 || b.UserID != userID)) {
		return bad
	}
	return nil
}

// now reads the configured clock, in UTC.
func (s *Service) now() time.Time { return s.cfg.Now().UTC() }
