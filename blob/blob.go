package blob

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/identitykit/identity"
)

// Errors of this package. Compare with errors.Is.
var (
	// ErrTooLarge means an upload exceeded the size limit or what remains of the owner's
	// quota; nothing of it was stored. A Storage's Put returns it wrapped, too.
	ErrTooLarge = errors.New("blob: too large")
	// ErrInvalidGrant is the identity.ErrForbidden case of an upload grant that is missing,
	// malformed, tampered with, expired, already used, or presented by another user.
	// errors.Is(err, identity.ErrForbidden) is true for it as well.
	ErrInvalidGrant error = &childError{msg: "blob: forbidden: invalid upload grant", parent: identity.ErrForbidden}
)

// childError is a sentinel that is also its parent for errors.Is.
type childError struct {
	msg    string
	parent error
}

func (e *childError) Error() string { return e.msg }
func (e *childError) Unwrap() error { return e.parent }

// State is where a blob is in its life: Created → Uploading → Uploaded → Completed, and
// Deleting on the way out. Stores keep it as its integer value.
type State int

// Blob states. Only a Completed blob can be downloaded or used as an avatar.
const (
	// Created: the blob exists and its upload grant is unused.
	Created State = iota
	// Uploading: the grant was used (it is single-use) and the bytes are being received, or
	// their receipt failed.
	Uploading
	// Uploaded: the bytes are stored and Size is known.
	Uploaded
	// Completed: the owner declared the upload complete with the matching size.
	Completed
	// Deleting: being deleted; the bytes may already be gone.
	Deleting
)

// Blob is the metadata of a stored file.
type Blob struct {
	// ID is the blob's number, unique in its Store.
	ID int64
	// ApplicationID is the application of the owner.
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
	Public bool
	// State is where the blob is in its life.
	State State
	// CreatedAt is when the blob was created.
	CreatedAt time.Time
	// UpdatedAt is when the blob last changed state.
	UpdatedAt time.Time
	// CompletedAt is when the upload was declared complete; zero before.
	CompletedAt time.Time
}

// Store keeps blob metadata; store/gormstore implements it. It should be the Store the
// Identity runs on (or share its database), because blobs go with their owner: such a
// Store's DeleteUser, its DeleteApplication, and its DeleteExpired for each guest it purges
// set the blobs of the deleted users to Deleting in the same transaction that deletes them,
// so that they are never served again; the Service's Sweep then removes them, bytes
// included.
type Store interface {
	// CreateBlob inserts b and sets b.ID. b.UID is unique across applications: a duplicate
	// is an *identity.Error wrapping identity.ErrInvalidInput naming "uid". Text a database
	// cannot store (NUL bytes, invalid UTF-8) is an *identity.Error wrapping
	// identity.ErrInvalidInput naming the field.
	CreateBlob(ctx context.Context, b *Blob) error
	// Blob returns blob id of application appID, or identity.ErrNotFound.
	Blob(ctx context.Context, appID, id int64) (*Blob, error)
	// BlobByUID returns the blob with uid, in whatever application, or identity.ErrNotFound.
	BlobByUID(ctx context.Context, uid string) (*Blob, error)
	// UpdateBlobState stores b.State, b.Size, b.UpdatedAt and b.CompletedAt for blob b.ID
	// if, and only if, its stored state is from, atomically (a compare-and-set: of two
	// concurrent calls with the same from, exactly one succeeds). It returns
	// identity.ErrNotFound when the blob does not exist or is not in state from; nothing is
	// written then.
	UpdateBlobState(ctx context.Context, b *Blob, from State) error
	// StaleBlobs returns at most limit blobs, oldest id first, that are in state Deleting,
	// or not Completed and created before before, or whose owner (user UserID of
	// application ApplicationID) does not exist, whatever their state and age (a blob
	// created through a session still trusted from another process's cache after its user
	// was deleted).
	StaleBlobs(ctx context.Context, before time.Time, limit int) ([]*Blob, error)
	// BlobUsage returns how many blobs user userID of application appID has in any state
	// but Deleting, and the sum of their sizes.
	BlobUsage(ctx context.Context, appID, userID int64) (files int, bytes int64, err error)
	// DeleteBlob deletes the metadata of blob id. Deleting a missing blob is not an error.
	DeleteBlob(ctx context.Context, id int64) error
}

// Stat describes stored content.
type Stat struct {
	// Size is the content's length in bytes.
	Size int64
	// ModTime is when the content was stored.
	ModTime time.Time
}

// Storage keeps the bytes of blobs (store/blobstore keeps them in a directory,
// store/blobstore/s3blob in an S3 bucket). Keys are chosen by the Service, never by
// clients: one to eight "/"-separated segments of ASCII letters, digits, '-' and '_' (no
// dots), such as "12/ab/ab3f...". Implementations must be safe for concurrent use.
type Storage interface {
	// Put stores what r yields under key, reading at most maxBytes (> 0) bytes: if r holds
	// more, Put returns an error wrapping ErrTooLarge. It returns the number of bytes
	// stored. Put is atomic: on success the whole content is stored (replacing any earlier
	// content of key); on any error (including r's own read errors, which Put wraps, and ctx
	// ending) nothing is stored under key and no partial object remains anywhere; readers
	// never see partial content.
	Put(ctx context.Context, key string, r io.Reader, maxBytes int64) (int64, error)
	// Open returns the content stored under key, which the caller closes, and its size and
	// modification time. A missing key is an error wrapping identity.ErrNotFound.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, Stat, error)
	// Delete removes the content under key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Config configures a Service.
type Config struct {
	// Store keeps the metadata. Required; normally the Store given to identity.Config.
	Store Store
	// Storage keeps the bytes. Required.
	Storage Storage
	// Now is the clock; default time.Now. Give it the Identity's Config.Now.
	Now func() time.Time
	// Logger receives the sweep's and the service's log lines; default slog.Default().
	Logger *slog.Logger
	// MaxSize bounds one file, in bytes. Default 10 MiB.
	MaxSize int64
	// GrantKey signs upload grants with HMAC-SHA256; at least 32 bytes. Default: 32 random
	// bytes drawn by New, so a grant is accepted only by the process that issued it. When
	// several processes serve one database behind a load balancer, give them all the same
	// key.
	GrantKey []byte
	// GrantLifetime is how long an upload grant (the upload URL) is valid. Default 15 min.
	GrantLifetime time.Duration
	// PendingLifetime is how long a blob may stay incomplete before Sweep removes it and its
	// bytes. It must exceed GrantLifetime, and should exceed it by the longest upload (an
	// upload still running when its blob is removed fails, and stores nothing). Default 1 h.
	PendingLifetime time.Duration
}

// UploadGrant authorizes one upload of one blob by its owner.
type UploadGrant struct {
	// Token is the grant itself, opaque, URL-safe (base64url and '.'); the HTTP adapter puts
	// it in the upload URL.
	Token string
	// ExpiresAt is when the grant stops being accepted.
	ExpiresAt time.Time
	// MaxSize is the largest upload the grant allows, in bytes.
	MaxSize int64
}

// Input is a blob to create.
type Input struct {
	// Name is the file name: 1 to MaxNameLength characters, no control characters.
	Name string
	// ContentType is a media type ("image/png"); "" means application/octet-stream.
	ContentType string
	// Public blobs can be downloaded by anyone who knows their UID.
	Public bool
}

// Bounds of blob metadata.
const (
	// MaxNameLength bounds Input.Name, in characters.
	MaxNameLength = 255
	// MaxContentTypeLength bounds Input.ContentType, in bytes, before and after
	// normalization.
	MaxContentTypeLength = 255
)

// ValidUID reports whether s has the shape of a blob UID.
func ValidUID(s string) bool {
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
