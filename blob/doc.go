// Package blob is file storage for users of an identity.Identity: the files ("blobs") that
// ConnectyCube's storage API keeps, above all avatars. It is optional; an Identity without it
// treats a user's Avatar as free text.
//
// # Wiring
//
// A Service needs the Identity, a Store for the metadata and a Storage for the bytes. The GORM
// store (store/gormstore) is the Store; it should be the one the Identity runs on, so that
// deleting a user reaches its files in the same transaction. store/blobstore keeps the bytes
// in a local directory, store/blobstore/s3blob in an S3 bucket. The HTTP adapter serves the
// Service when it is given one:
//
//	id, err := identity.New(identity.Config{Store: st, Hasher: pw, Providers: providers})
//	dir, err := blobstore.OpenDir("/var/lib/identity/blobs")
//	files, err := blob.New(id, blob.Config{Store: st, Storage: dir})
//	api := httpadapter.New(id, httpadapter.Config{Blobs: files, PublicURL: "https://api.example.com/auth"})
//
// New registers hooks on the Identity, so call it before the Identity serves requests, once
// per Identity. From then on a user's new Avatar (at sign-up or update, through a session or
// the operator) must be "" or the UID of a completed blob of the user's application that is
// public or the user's own; anything else, a URL included, is refused with one field error
// on "avatar" whatever the reason. An unchanged Avatar is not checked again.
//
// # Uploads
//
// A blob goes Created → Uploading → Uploaded → Completed:
//
//  1. Create, as a user session, records the blob and returns an UploadGrant: an
//     HMAC-SHA256-signed token naming the application, the blob, its owner and the size
//     limit, valid Config.GrantLifetime (15 minutes). The adapter puts it in the upload URL.
//  2. Upload spends the grant, whatever the outcome: only one upload per blob ever starts. The
//     bytes are streamed to the Storage, which keeps them whole or not at all; more than the
//     limit is ErrTooLarge and leaves nothing behind. A session sent with the upload must be
//     the owner's; without one the grant alone authorizes it, as a presigned URL does.
//  3. Complete, as the owner, declares the size. A size other than the bytes received
//     discards the upload (metadata and bytes), so that a truncated or altered file never
//     becomes usable.
//
// Only a completed blob can be downloaded (Open) or used as an avatar. A public blob is
// served to anyone who knows its UID; a private one to any session of its application. The
// client's file name is metadata only: the Service chooses every storage key itself,
// "<application id>/<first two UID characters>/<UID>", from the blob's random UID.
//
// Processes that serve one database behind a load balancer must share Config.GrantKey (and
// the Storage, such as one S3 bucket), or a grant is only good on the process that issued it.
//
// # Quotas
//
// Each user's files are bounded by the application's identity.AppSettings.BlobQuota, kept
// with the other application settings: 100 files and 100 MiB by default, a negative field
// for no limit. Create refuses a file beyond the count; Upload refuses bytes beyond what
// remains (ErrTooLarge); Complete checks both again, so that uploads that ran at the same
// time cannot exceed the quota together (the late one is discarded). One file is also bounded
// by Config.MaxSize (10 MiB).
//
// # Deletion and the janitor
//
// Delete removes a blob and its bytes at once. A user's files go with the user: the Store's
// DeleteUser, DeleteApplication and guest purge mark them Deleting in the transaction that
// deletes the user, so they are never served again. Sweep then removes, bytes included,
// blobs being deleted, blobs never completed within Config.PendingLifetime (1 hour), and
// blobs whose owner no longer exists. The Identity's janitor (identity.Identity.DeleteExpired,
// StartJanitor) runs Sweep in every pass through the hook New registers and logs how many
// blobs it removed at debug level. A deletion whose bytes could not be removed stays Deleting
// and is finished by a later pass.
package blob
