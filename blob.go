package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// This file is file storage ("blobs", the ConnectyCube storage API) as far as users need it
// for avatars: a user creates a blob, receives a short-lived upload grant, uploads the bytes
// once, declares the upload complete with its size, and then references the blob's UID as
// its avatar; sessions of the same application download it.
//
// Blob metadata lives in the Store (which must implement BlobStore); the bytes live in a
// BlobStorage (store/blobstore has the local-filesystem implementation). Identity chooses
// every storage key itself, from the application id and the blob's random UID; a client's
// file name is metadata only and never reaches a path or key.

// Blob errors. Compare with errors.Is.
var (
	// ErrTooLarge means an upload exceeded the size limit; nothing of it was stored.
	ErrTooLarge = errors.New("identity: too large")
	// ErrInvalidGrant is the ErrForbidden case of an upload grant that is missing, malformed,
	// tampered with, expired, already used, or presented by another user.
	// errors.Is(err, ErrForbidden) is true for it as well.
	ErrInvalidGrant = &sentinelChild{msg: "identity: forbidden: invalid upload grant", parent: ErrForbidden}
)

// BlobState is where a blob is in its life: Created → Uploading → Uploaded → Completed, and
// Deleting on the way out.
type BlobState int

// Blob states. Only a Completed blob can be downloaded or used as an avatar.
const (
	// BlobCreated: the blob exists and its upload grant is unused.
	BlobCreated BlobState = iota
	// BlobUploading: the grant was used (it is single-use) and the bytes are being received,
	// or their receipt failed.
	BlobUploading
	// BlobUploaded: the bytes are stored and Size is known.
	BlobUploaded
	// BlobCompleted: the owner declared the upload complete with the matching size.
	BlobCompleted
	// BlobDeleting: being deleted; the bytes may already be gone.
	BlobDeleting
)

// Blob is the metadata of a stored file.
type Blob struct {
	ID            int64
	ApplicationID int64
	// UserID is the owner: the user whose session created the blob.
	UserID int64
	// UID is 32 random lowercase hex characters (always with at least one letter, so it is
	// never mistaken for a numeric id). It names the file in download URLs and is what a
	// user's Avatar holds; it is unique across applications.
	UID string
	// Name is the client's file name: metadata only, never part of a path or storage key.
	Name string
	// ContentType is the media type the client declared (application/octet-stream if none).
	ContentType string
	// Size is the number of bytes stored; 0 until the upload arrived.
	Size int64
	// Public blobs can be downloaded without a session; private ones need a session of
	// the blob's application.
	Public    bool
	State     BlobState
	CreatedAt time.Time
	UpdatedAt time.Time
	// CompletedAt is when the upload was declared complete; zero before.
	CompletedAt time.Time
}

// BlobStore keeps blob metadata. A Store that implements it (gormstore does) enables blobs
// when Config.Blobs.Storage is set.
//
// Blobs go with their owner: such a Store's DeleteUser, and its DeleteExpired for each guest
// it purges, set the user's blobs to BlobDeleting in the same transaction that deletes the
// user, so that they are never served again; Identity.DeleteExpired then removes them, bytes
// included.
type BlobStore interface {
	// CreateBlob inserts b and sets b.ID. b.UID is unique across applications: a duplicate is
	// an *Error wrapping ErrInvalidInput naming "uid". Text a database cannot store (NUL
	// bytes, invalid UTF-8) is an *Error wrapping ErrInvalidInput naming the field.
	CreateBlob(ctx context.Context, b *Blob) error
	// Blob returns blob id of application appID, or ErrNotFound.
	Blob(ctx context.Context, appID, id int64) (*Blob, error)
	// BlobByUID returns the blob with uid, in whatever application, or ErrNotFound.
	BlobByUID(ctx context.Context, uid string) (*Blob, error)
	// UpdateBlobState stores b.State, b.Size, b.UpdatedAt and b.CompletedAt for blob b.ID if,
	// and only if, its stored state is from, atomically (a compare-and-set: of two concurrent
	// calls with the same from, exactly one succeeds). It returns ErrNotFound when the blob
	// does not exist or is not in state from; nothing is written then.
	UpdateBlobState(ctx context.Context, b *Blob, from BlobState) error
	// StaleBlobs returns at most limit blobs, oldest id first, that are in state
	// BlobDeleting, or not BlobCompleted and created before before, or whose owner (user
	// UserID of application ApplicationID) does not exist, whatever their state and age (a
	// blob created through a session still trusted from another process's cache after its
	// user was deleted).
	StaleBlobs(ctx context.Context, before time.Time, limit int) ([]*Blob, error)
	// BlobUsage returns how many blobs user userID of application appID has in any state but
	// BlobDeleting, and the sum of their sizes.
	BlobUsage(ctx context.Context, appID, userID int64) (files int, bytes int64, err error)
	// DeleteBlob deletes the metadata of blob id. Deleting a missing blob is not an error.
	DeleteBlob(ctx context.Context, id int64) error
}

// BlobStat describes stored content.
type BlobStat struct {
	Size    int64
	ModTime time.Time
}

// BlobStorage keeps the bytes of blobs. Keys are chosen by Identity, never by clients: one to
// eight "/"-separated segments of ASCII letters, digits, '-' and '_' (no dots), such as
// "12/ab/ab3f...". Implementations must be safe for concurrent use.
type BlobStorage interface {
	// Put stores what r yields under key, reading at most maxBytes (> 0) bytes: if r holds
	// more, Put returns an error wrapping ErrTooLarge. It returns the number of bytes stored.
	// Put is atomic: on success the whole content is stored (replacing any earlier content
	// of key); on any error (including r's own read errors, which Put wraps, and ctx ending)
	// nothing is stored under key and no partial object remains anywhere; readers never see
	// partial content.
	Put(ctx context.Context, key string, r io.Reader, maxBytes int64) (int64, error)
	// Open returns the content stored under key, which the caller closes, and its size and
	// modification time. A missing key is an error wrapping ErrNotFound.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, BlobStat, error)
	// Delete removes the content under key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// BlobConfig configures file storage. The zero value turns it off.
type BlobConfig struct {
	// Storage keeps the bytes. nil (the default) turns blobs off: the blob methods return
	// ErrDisabled and a user's Avatar stays free text. When set, Config.Store must implement
	// BlobStore, and Avatar accepts only the UID of a completed blob (see UpdateUser).
	Storage BlobStorage
	// MaxSize bounds one file, in bytes. Default 10 MiB.
	MaxSize int64
	// GrantKey signs upload grants with HMAC-SHA256; at least 32 bytes. Default: 32 random
	// bytes drawn by New, so a grant is accepted only by the process that issued it. When
	// several processes serve one database behind a load balancer, give them all the same
	// key.
	GrantKey []byte
	// GrantLifetime is how long an upload grant (the upload URL) is valid. Default 15 min.
	GrantLifetime time.Duration
	// PendingLifetime is how long a blob may stay incomplete before DeleteExpired removes it
	// and its bytes. It must exceed GrantLifetime, and should exceed it by the longest upload
	// (an upload still running when its blob is removed fails, and stores nothing). Default
	// 1 h.
	PendingLifetime time.Duration
}

// UploadGrant authorizes one upload of one blob by its owner.
type UploadGrant struct {
	// Token is the grant itself, opaque, URL-safe (base64url and '.'); the HTTP adapter puts
	// it in the upload URL.
	Token     string
	ExpiresAt time.Time
	// MaxSize is the largest upload the grant allows, in bytes.
	MaxSize int64
}

// BlobInput is a blob to create.
type BlobInput struct {
	// Name is the file name: 1 to MaxBlobNameLength characters, no control characters.
	Name string
	// ContentType is a media type ("image/png"); "" means application/octet-stream.
	ContentType string
	Public      bool
}

// Bounds of blob metadata.
const (
	MaxBlobNameLength        = 255
	MaxBlobContentTypeLength = 255
)

const (
	defaultBlobMaxFiles    = 100
	defaultBlobMaxBytes    = 100 << 20
	defaultBlobMaxSize     = 10 << 20
	defaultGrantLifetime   = 15 * time.Minute
	defaultPendingLifetime = time.Hour
	// staleBatch bounds how many stale blobs one StaleBlobs call returns.
	staleBatch = 100
)

// blobService is the prepared BlobConfig of an Identity; nil when blobs are off.
type blobService struct {
	cfg   BlobConfig
	store BlobStore
}

// newBlobService validates cfg and fills its defaults. It returns nil (blobs off) when
// cfg.Storage is nil.
func newBlobService(cfg BlobConfig, st Store) (*blobService, error) {
	if cfg.Storage == nil {
		return nil, nil
	}
	bs, ok := st.(BlobStore)
	if !ok {
		return nil, errors.New("identity: Config.Blobs.Storage is set but Config.Store does not implement identity.BlobStore")
	}
	if cfg.MaxSize == 0 {
		cfg.MaxSize = defaultBlobMaxSize
	}
	if cfg.GrantLifetime == 0 {
		cfg.GrantLifetime = defaultGrantLifetime
	}
	if cfg.PendingLifetime == 0 {
		cfg.PendingLifetime = defaultPendingLifetime
	}
	switch {
	case cfg.MaxSize < 0 || cfg.GrantLifetime < 0 || cfg.PendingLifetime < 0:
		return nil, errors.New("identity: Config.Blobs sizes and durations must not be negative")
	case cfg.PendingLifetime <= cfg.GrantLifetime:
		return nil, errors.New("identity: Config.Blobs.PendingLifetime must exceed GrantLifetime")
	case cfg.GrantKey == nil:
		cfg.GrantKey = make([]byte, 32)
		if _, err := rand.Read(cfg.GrantKey); err != nil {
			return nil, fmt.Errorf("identity: drawing a grant key: %w", err)
		}
	case len(cfg.GrantKey) < 32:
		return nil, errors.New("identity: Config.Blobs.GrantKey must be at least 32 bytes")
	default:
		cfg.GrantKey = append([]byte(nil), cfg.GrantKey...)
	}
	return &blobService{cfg: cfg, store: bs}, nil
}

// blobQuota returns the file and byte limits of one user of application appID (its
// AppSettings.BlobQuota with the defaults filled in); a negative limit means none.
func (id *Identity) blobQuota(ctx context.Context, appID int64) (maxFiles int, maxBytes int64, err error) {
	app, err := id.application(ctx, appID)
	if err != nil {
		return 0, 0, err
	}
	q := app.Settings.BlobQuota.withDefaults()
	return q.MaxFiles, q.MaxBytes, nil
}

func (q BlobQuota) withDefaults() BlobQuota {
	if q.MaxFiles == 0 {
		q.MaxFiles = defaultBlobMaxFiles
	}
	if q.MaxBytes == 0 {
		q.MaxBytes = defaultBlobMaxBytes
	}
	return q
}

// BlobsEnabled reports whether file storage is configured (Config.Blobs.Storage).
func (id *Identity) BlobsEnabled() bool { return id.blobs != nil }

// MaxBlobSize is the size limit of one file in bytes; 0 when blobs are off.
func (id *Identity) MaxBlobSize() int64 {
	if id.blobs == nil {
		return 0
	}
	return id.blobs.cfg.MaxSize
}

func (id *Identity) blobService(op string) (*blobService, error) {
	if id.blobs == nil {
		return nil, NewError(op, ErrDisabled, "", "storage_off")
	}
	return id.blobs, nil
}

// CreateBlob creates a blob owned by the session's user (ErrNeedUser for an application
// session) and returns it with its upload grant. Bad input is an *Error wrapping
// ErrInvalidInput naming "name" or "content_type"; a user who already holds
// AppSettings.BlobQuota.MaxFiles blobs (in any state but BlobDeleting) gets one naming
// "base".
func (id *Identity) CreateBlob(ctx context.Context, s *Session, in BlobInput) (*Blob, *UploadGrant, error) {
	const op = "create blob"
	bs, err := id.blobService(op)
	if err != nil {
		return nil, nil, err
	}
	if err := needUser(s); err != nil {
		return nil, nil, err
	}
	f := fieldErrors{}
	name := in.Name
	switch {
	case strings.TrimSpace(name) == "":
		f.add("name", "blank")
	case !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0:
		f.add("name", "invalid")
	case utf8.RuneCountInString(name) > MaxBlobNameLength:
		f.limit("name", "too_long", MaxBlobNameLength)
	}
	ct, ok := normalizeContentType(in.ContentType)
	if !ok {
		f.add("content_type", "invalid")
	}
	if err := f.err(op); err != nil {
		return nil, nil, err
	}
	maxFiles, _, err := id.blobQuota(ctx, s.ApplicationID)
	if err != nil {
		return nil, nil, err
	}
	if maxFiles >= 0 {
		files, _, err := bs.store.BlobUsage(ctx, s.ApplicationID, s.UserID)
		if err != nil {
			return nil, nil, err
		}
		if files >= maxFiles {
			return nil, nil, &Error{Op: op, Err: ErrInvalidInput, Fields: []FieldError{{Code: "too_many_files", Limit: maxFiles}}}
		}
	}
	now := id.now()
	b := &Blob{
		ApplicationID: s.ApplicationID,
		UserID:        s.UserID,
		UID:           newBlobUID(),
		Name:          name,
		ContentType:   ct,
		Public:        in.Public,
		State:         BlobCreated,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	if err := bs.store.CreateBlob(ctx, b); err != nil {
		return nil, nil, err
	}
	g := bs.grant(b, now)
	return b, g, nil
}

// normalizeContentType returns the canonical form of a declared media type
// (application/octet-stream for ""), or false when it is not one.
func normalizeContentType(ct string) (string, bool) {
	ct = strings.TrimSpace(ct)
	if ct == "" {
		return "application/octet-stream", true
	}
	if len(ct) > MaxBlobContentTypeLength || !utf8.ValidString(ct) {
		return "", false
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || !strings.Contains(mt, "/") {
		return "", false
	}
	out := mime.FormatMediaType(mt, params)
	if out == "" || len(out) > MaxBlobContentTypeLength {
		return "", false
	}
	return out, true
}

// newBlobUID returns 32 random lowercase hex characters with at least one letter.
func newBlobUID() string {
	for {
		u := randomHex(16)
		if strings.ContainsAny(u, "abcdef") {
			return u
		}
	}
}

// ValidBlobUID reports whether s has the shape of a blob UID.
func ValidBlobUID(s string) bool {
	if len(s) != 32 {
		return false
	}
	letter := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'f':
			letter = true
		default:
			return false
		}
	}
	return letter
}

// blobKey is the storage key of b: its application, a two-character shard and its UID.
func blobKey(b *Blob) string {
	return strconv.FormatInt(b.ApplicationID, 10) + "/" + b.UID[:2] + "/" + b.UID
}

// Grant tokens are "v1.<payload>.<mac>", both base64url without padding; the payload is
// "appID.blobID.userID.maxSize.expiresUnix" and the mac its HMAC-SHA256 under the grant key
// with a domain prefix.
const grantMACPrefix = "identity blob upload grant v1\x00"

type grantClaims struct {
	appID, blobID, userID, maxSize, expires int64
}

func (bs *blobService) grant(b *Blob, now time.Time) *UploadGrant {
	exp := now.Add(bs.cfg.GrantLifetime).Truncate(time.Second)
	payload := fmt.Sprintf("%d.%d.%d.%d.%d", b.ApplicationID, b.ID, b.UserID, bs.cfg.MaxSize, exp.Unix())
	enc := base64.RawURLEncoding
	tok := "v1." + enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(bs.mac(payload))
	return &UploadGrant{Token: tok, ExpiresAt: exp, MaxSize: bs.cfg.MaxSize}
}

func (bs *blobService) mac(payload string) []byte {
	m := hmac.New(sha256.New, bs.cfg.GrantKey)
	m.Write([]byte(grantMACPrefix))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// parseGrant verifies tok's MAC and expiry.
func (bs *blobService) parseGrant(tok string, now time.Time) (*grantClaims, error) {
	const op = "upload blob"
	bad := func(code string) error { return NewError(op, ErrInvalidGrant, "grant", code) }
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
	if err1 != nil || err2 != nil || !hmac.Equal(sig, bs.mac(string(payload))) {
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

// UploadBlob stores the bytes of the blob that grant names, reading r to its end. The grant
// must be valid, unexpired and unused (ErrInvalidGrant otherwise); it is spent by this call
// whatever its outcome. s is the uploader's session when it sent one (it must then be the
// grant's user: ErrInvalidGrant otherwise); nil when the upload is authorized by the grant
// alone, as a presigned upload URL is. More than the grant's size limit, or than what remains
// of the owner's AppSettings.BlobQuota.MaxBytes (the sizes of its blobs not BlobDeleting), is
// an *Error wrapping ErrTooLarge naming "file", and nothing is stored then (nor on any other
// error). Errors reading r are returned wrapped.
func (id *Identity) UploadBlob(ctx context.Context, s *Session, grant string, r io.Reader) (*Blob, error) {
	const op = "upload blob"
	bs, err := id.blobService(op)
	if err != nil {
		return nil, err
	}
	now := id.now()
	c, err := bs.parseGrant(grant, now)
	if err != nil {
		return nil, err
	}
	if s != nil && (s.ApplicationID != c.appID || s.UserID != c.userID) {
		return nil, NewError(op, ErrInvalidGrant, "grant", "foreign")
	}
	b, err := bs.store.Blob(ctx, c.appID, c.blobID)
	if errors.Is(err, ErrNotFound) {
		return nil, NewError(op, ErrInvalidGrant, "grant", "invalid")
	}
	if err != nil {
		return nil, err
	}
	if b.UserID != c.userID {
		return nil, NewError(op, ErrInvalidGrant, "grant", "invalid")
	}
	// Spend the grant: only one upload may ever start.
	b.State, b.UpdatedAt = BlobUploading, now
	if err := bs.store.UpdateBlobState(ctx, b, BlobCreated); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, NewError(op, ErrInvalidGrant, "grant", "used")
		}
		return nil, err
	}
	limit := min(c.maxSize, bs.cfg.MaxSize)
	tooLarge := FieldError{Field: "file", Code: "too_large", Limit: int(limit)}
	_, maxBytes, err := id.blobQuota(ctx, b.ApplicationID)
	if err != nil {
		return nil, err
	}
	if maxBytes >= 0 {
		_, used, err := bs.store.BlobUsage(ctx, b.ApplicationID, b.UserID)
		if err != nil {
			return nil, err
		}
		if left := maxBytes - used; left < limit {
			limit = left
			tooLarge = FieldError{Field: "file", Code: "over_quota", Limit: int(max(left, 0))}
		}
	}
	if limit <= 0 {
		return nil, &Error{Op: op, Err: ErrTooLarge, Fields: []FieldError{tooLarge}}
	}
	key := blobKey(b)
	n, err := bs.cfg.Storage.Put(ctx, key, r, limit)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return nil, &Error{Op: op, Err: ErrTooLarge, Fields: []FieldError{tooLarge}}
		}
		return nil, fmt.Errorf("identity: upload blob %d: %w", b.ID, err)
	}
	b.State, b.Size, b.UpdatedAt = BlobUploaded, n, id.now()
	if err := bs.store.UpdateBlobState(ctx, b, BlobUploading); err != nil {
		// The janitor took the blob meanwhile: do not leave its bytes behind.
		if dErr := bs.cfg.Storage.Delete(context.WithoutCancel(ctx), key); dErr != nil {
			id.log.Warn("identity: deleting the bytes of a removed blob failed", "blob_id", b.ID, "err", dErr)
		}
		if errors.Is(err, ErrNotFound) {
			return nil, NewError(op, ErrInvalidGrant, "grant", "expired")
		}
		return nil, err
	}
	return b, nil
}

// CompleteBlob declares the upload of blob blobID complete (PUT /blobs/{id}/complete). Only
// the owner may (ErrNotFound for anyone else, as for a missing blob). size must equal the
// number of bytes received: a mismatch is an *Error wrapping ErrInvalidInput naming "size",
// and the upload is then discarded (blob and bytes), so a truncated or altered file is never
// completed. A blob without its upload yet is an *Error wrapping ErrInvalidInput naming
// "base". The owner's AppSettings.BlobQuota is checked again, so that uploads that ran at the
// same time cannot together exceed it: when the owner's blobs not BlobDeleting, this one
// included, are more files or bytes than the quota, the upload is discarded and the error
// is an *Error wrapping ErrInvalidInput naming "base". Completing a completed blob with its
// size again succeeds (idempotent).
func (id *Identity) CompleteBlob(ctx context.Context, s *Session, blobID, size int64) (*Blob, error) {
	const op = "complete blob"
	bs, err := id.blobService(op)
	if err != nil {
		return nil, err
	}
	if err := needUser(s); err != nil {
		return nil, err
	}
	b, err := bs.store.Blob(ctx, s.ApplicationID, blobID)
	if err != nil {
		return nil, err
	}
	if b.UserID != s.UserID || b.State == BlobDeleting {
		return nil, &Error{Op: op, Err: ErrNotFound}
	}
	sizeErr := NewError(op, ErrInvalidInput, "size", "mismatch")
	switch b.State {
	case BlobCompleted:
		if size != b.Size {
			return nil, sizeErr
		}
		return b, nil
	case BlobUploaded:
	default:
		return nil, NewError(op, ErrInvalidInput, "", "not_uploaded")
	}
	now := id.now()
	if size != b.Size {
		if err := bs.remove(ctx, b, BlobUploaded, now); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, sizeErr
	}
	over, err := id.overQuota(ctx, b)
	if err != nil {
		return nil, err
	}
	if over != nil {
		if err := bs.remove(ctx, b, BlobUploaded, now); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, over
	}
	b.State, b.UpdatedAt, b.CompletedAt = BlobCompleted, now, now
	if err := bs.store.UpdateBlobState(ctx, b, BlobUploaded); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, &Error{Op: op, Err: ErrNotFound}
		}
		return nil, err
	}
	return b, nil
}

// overQuota returns the *Error of CompleteBlob when the blobs of b's owner (b included)
// exceed the quota, else nil.
func (id *Identity) overQuota(ctx context.Context, b *Blob) (*Error, error) {
	maxFiles, maxBytes, err := id.blobQuota(ctx, b.ApplicationID)
	if err != nil {
		return nil, err
	}
	if maxFiles < 0 && maxBytes < 0 {
		return nil, nil
	}
	files, bytes, err := id.blobs.store.BlobUsage(ctx, b.ApplicationID, b.UserID)
	if err != nil {
		return nil, err
	}
	const op = "complete blob"
	switch {
	case maxFiles >= 0 && files > maxFiles:
		return &Error{Op: op, Err: ErrInvalidInput, Fields: []FieldError{{Code: "too_many_files", Limit: maxFiles}}}, nil
	case maxBytes >= 0 && bytes > maxBytes:
		return &Error{Op: op, Err: ErrInvalidInput, Fields: []FieldError{{Code: "quota_exceeded", Limit: int(maxBytes)}}}, nil
	}
	return nil, nil
}

// remove deletes b (found in state from): it marks it Deleting, deletes its bytes, then its
// metadata. ErrNotFound when b was no longer in state from.
func (bs *blobService) remove(ctx context.Context, b *Blob, from BlobState, now time.Time) error {
	if from != BlobDeleting {
		d := *b
		d.State, d.UpdatedAt = BlobDeleting, now
		if err := bs.store.UpdateBlobState(ctx, &d, from); err != nil {
			return err
		}
	}
	if err := bs.cfg.Storage.Delete(ctx, blobKey(b)); err != nil {
		return fmt.Errorf("identity: deleting the bytes of blob %d: %w", b.ID, err)
	}
	return bs.store.DeleteBlob(ctx, b.ID)
}

// BlobInfo returns blob blobID of the session's application (GET /blobs/{id}). The owner
// sees its blob in any state; other sessions of the application see completed public blobs
// only. Anything else is ErrNotFound.
func (id *Identity) BlobInfo(ctx context.Context, s *Session, blobID int64) (*Blob, error) {
	bs, err := id.blobService("blob info")
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, ErrSessionNotFound
	}
	b, err := bs.store.Blob(ctx, s.ApplicationID, blobID)
	if err != nil {
		return nil, err
	}
	owner := s.UserID != 0 && b.UserID == s.UserID
	if b.State == BlobDeleting || (!owner && (!b.Public || b.State != BlobCompleted)) {
		return nil, &Error{Op: "blob info", Err: ErrNotFound}
	}
	return b, nil
}

// OpenBlob opens the content of the completed blob with uid for download (GET
// /blobs/{uid}) as s, the caller's session from Validate (nil when the client sent none, or
// none valid). A public blob needs no session; a private one needs a session (any user's, or
// an application session) of the blob's application: without one ErrSessionNotFound, with a
// session of another application ErrNotFound. A missing or incomplete blob is ErrNotFound.
// The caller closes the returned content; its length is b.Size.
func (id *Identity) OpenBlob(ctx context.Context, s *Session, uid string) (*Blob, io.ReadSeekCloser, error) {
	const op = "open blob"
	bs, err := id.blobService(op)
	if err != nil {
		return nil, nil, err
	}
	if !ValidBlobUID(uid) {
		return nil, nil, &Error{Op: op, Err: ErrNotFound}
	}
	b, err := bs.store.BlobByUID(ctx, uid)
	if err != nil {
		return nil, nil, err
	}
	if b.State != BlobCompleted {
		return nil, nil, &Error{Op: op, Err: ErrNotFound}
	}
	if !b.Public {
		if s == nil {
			return nil, nil, ErrSessionNotFound
		}
		if s.ApplicationID != b.ApplicationID {
			return nil, nil, &Error{Op: op, Err: ErrNotFound}
		}
	}
	rc, st, err := bs.cfg.Storage.Open(ctx, blobKey(b))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			id.log.Error("identity: the content of a completed blob is missing", "blob_id", b.ID)
		}
		return nil, nil, fmt.Errorf("identity: open blob %d: %w", b.ID, err)
	}
	if st.Size != b.Size {
		rc.Close()
		return nil, nil, fmt.Errorf("identity: open blob %d: stored content has %d bytes, metadata says %d", b.ID, st.Size, b.Size)
	}
	return b, rc, nil
}

// DeleteBlob deletes blob blobID and its bytes (DELETE /blobs/{id}). Only the owner may
// (ErrNotFound for anyone else, as for a missing blob). Users whose Avatar names the blob
// keep the now dangling UID.
func (id *Identity) DeleteBlob(ctx context.Context, s *Session, blobID int64) error {
	const op = "delete blob"
	bs, err := id.blobService(op)
	if err != nil {
		return err
	}
	if err := needUser(s); err != nil {
		return err
	}
	b, err := bs.store.Blob(ctx, s.ApplicationID, blobID)
	if err != nil {
		return err
	}
	if b.UserID != s.UserID {
		return &Error{Op: op, Err: ErrNotFound}
	}
	if err := bs.remove(ctx, b, b.State, id.now()); err != nil {
		if errors.Is(err, ErrNotFound) {
			return &Error{Op: op, Err: ErrNotFound}
		}
		return err
	}
	return nil
}

// deleteStaleBlobs removes blobs never completed within PendingLifetime, blobs being deleted
// (by DeleteBlob, or with their owner) and blobs whose owner no longer exists, with their
// bytes. It returns how many it removed.
func (id *Identity) deleteStaleBlobs(ctx context.Context) (int, error) {
	if id.blobs == nil {
		return 0, nil
	}
	bs := id.blobs
	now := id.now()
	before := now.Add(-bs.cfg.PendingLifetime)
	n := 0
	for {
		stale, err := bs.store.StaleBlobs(ctx, before, staleBatch)
		if err != nil {
			return n, err
		}
		for _, b := range stale {
			err := bs.remove(ctx, b, b.State, now)
			if errors.Is(err, ErrNotFound) {
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

// checkAvatar enforces what a client may set as its avatar when blobs are on: "" (none) or
// the UID of a completed blob of application appID that is public or owned by userID (0 for
// a user being signed up, who owns nothing yet). Anything else, a URL included, is an *Error
// wrapping ErrInvalidInput naming "avatar", with one message whatever the reason, so that
// the answer does not tell another user's private blob from a missing one. With blobs off
// the avatar is free text, as ConnectyCube's is.
func (id *Identity) checkAvatar(ctx context.Context, op string, appID, userID int64, avatar string) error {
	if id.blobs == nil || avatar == "" {
		return nil
	}
	bad := NewError(op, ErrInvalidInput, "avatar", "not_a_blob")
	if !ValidBlobUID(avatar) {
		return bad
	}
	b, err := id.blobs.store.BlobByUID(ctx, avatar)
	if errors.Is(err, ErrNotFound) {
		return bad
	}
	if err != nil {
		return err
	}
	if b.ApplicationID != appID || b.State != BlobCompleted || (!b.Public && (userID == 0 || b.UserID != userID)) {
		return bad
	}
	return nil
}
