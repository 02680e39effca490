package gormstore

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
)

// Blob metadata (blob.Store) lives in <prefix>blobs. uid is unique across
// applications; (state, created_at) serves the janitor's search for stale blobs, (user_id,
// state) the quota and the marking of a deleted user's blobs.

var _ blob.Store = (*Store)(nil)

const (
	blobsTable   = "blobs"
	idxBlobUID   = "blobs_uid"
	idxBlobStale = "blobs_state_created_at"
	idxBlobUser  = "blobs_user_id_state"
)

// blobRow is a row of <prefix>blobs.
type blobRow struct {
	ID            int64      `gorm:"column:id;primaryKey;autoIncrement"`
	ApplicationID int64      `gorm:"column:application_id;not null"`
	UserID        int64      `gorm:"column:user_id;not null"`
	UID           string     `gorm:"column:uid;not null"`
	Name          string     `gorm:"column:name;not null"`
	ContentType   string     `gorm:"column:content_type;not null"`
	Size          int64      `gorm:"column:size;not null"`
	Public        bool       `gorm:"column:public;not null"`
	State         int        `gorm:"column:state;not null"` // blob.State
	CreatedAt     time.Time  `gorm:"column:created_at;not null;autoCreateTime:false"`
	UpdatedAt     time.Time  `gorm:"column:updated_at;not null;autoUpdateTime:false"`
	CompletedAt   *time.Time `gorm:"column:completed_at"`
}

func (s *Store) blobs() string { return s.t.prefix + blobsTable }

// blobIndexDDL returns the CREATE INDEX statements of the blobs table.
func (s *Store) blobIndexDDL() []string {
	p := s.t.prefix
	return []string{
		"CREATE UNIQUE INDEX IF NOT EXISTS " + p + idxBlobUID + " ON " + s.blobs() + " (uid)",
		"CREATE INDEX IF NOT EXISTS " + p + idxBlobStale + " ON " + s.blobs() + " (state, created_at)",
		"CREATE INDEX IF NOT EXISTS " + p + idxBlobUser + " ON " + s.blobs() + " (user_id, state)",
	}
}

func toBlobRow(b *blob.Blob) *blobRow {
	return &blobRow{
		ID:            b.ID,
		ApplicationID: b.ApplicationID,
		UserID:        b.UserID,
		UID:           b.UID,
		Name:          b.Name,
		ContentType:   b.ContentType,
		Size:          b.Size,
		Public:        b.Public,
		State:         int(b.State),
		CreatedAt:     dbTime(b.CreatedAt),
		UpdatedAt:     dbTime(b.UpdatedAt),
		CompletedAt:   optTime(b.CompletedAt),
	}
}

func (r *blobRow) blob() *blob.Blob {
	return &blob.Blob{
		ID:            r.ID,
		ApplicationID: r.ApplicationID,
		UserID:        r.UserID,
		UID:           r.UID,
		Name:          r.Name,
		ContentType:   r.ContentType,
		Size:          r.Size,
		Public:        r.Public,
		State:         blob.State(r.State),
		CreatedAt:     r.CreatedAt.UTC(),
		UpdatedAt:     r.UpdatedAt.UTC(),
		CompletedAt:   fromOptTime(r.CompletedAt),
	}
}

// CreateBlob inserts b and sets b.ID. A UID already stored (in any application) yields an
// *identity.Error wrapping identity.ErrInvalidInput naming "uid"; text a database cannot
// store, one naming the field.
func (s *Store) CreateBlob(ctx context.Context, b *blob.Blob) error {
	const op = "create blob"
	if b == nil || b.UID == "" {
		return identity.NewError(op, identity.ErrInvalidInput, "uid", "blank")
	}
	for _, f := range []struct{ name, v string }{{"uid", b.UID}, {"name", b.Name}, {"content_type", b.ContentType}} {
		if !validText(f.v) {
			return identity.NewError(op, identity.ErrInvalidInput, f.name, "invalid")
		}
	}
	row := toBlobRow(b)
	row.ID = 0
	if err := s.db.WithContext(ctx).Table(s.blobs()).Create(row).Error; err != nil {
		// uid is the table's only unique index besides the primary key.
		if _, ok := s.uniqueIndex(err); ok {
			return identity.NewError(op, identity.ErrInvalidInput, "uid", "taken")
		}
		return s.fail(op, err)
	}
	b.ID = row.ID
	return nil
}

// Blob returns blob id of application appID, or identity.ErrNotFound.
func (s *Store) Blob(ctx context.Context, appID, id int64) (*blob.Blob, error) {
	return s.findBlob(ctx, "blob", "id = ? AND application_id = ?", id, appID)
}

// BlobByUID returns the blob with uid, or identity.ErrNotFound.
func (s *Store) BlobByUID(ctx context.Context, uid string) (*blob.Blob, error) {
	if uid == "" || !validText(uid) {
		return nil, identity.ErrNotFound
	}
	return s.findBlob(ctx, "blob by uid", "uid = ?", uid)
}

func (s *Store) findBlob(ctx context.Context, op, where string, args ...any) (*blob.Blob, error) {
	var row blobRow
	err := s.db.WithContext(ctx).Table(s.blobs()).Where(where, args...).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, identity.ErrNotFound
	}
	if err != nil {
		return nil, s.fail(op, err)
	}
	return row.blob(), nil
}

// UpdateBlobState stores b's State, Size, UpdatedAt and CompletedAt if the stored state is
// from: one guarded UPDATE, so of concurrent callers with the same from exactly one
// succeeds. identity.ErrNotFound when no row of b.ID is in state from.
func (s *Store) UpdateBlobState(ctx context.Context, b *blob.Blob, from blob.State) error {
	row := toBlobRow(b)
	res := s.db.WithContext(ctx).Exec("UPDATE "+s.blobs()+
		" SET state = ?, size = ?, updated_at = ?, completed_at = ? WHERE id = ? AND state = ?",
		row.State, row.Size, row.UpdatedAt, nullable(row.CompletedAt), row.ID, int(from))
	if res.Error != nil {
		return s.fail("update blob state", res.Error)
	}
	if res.RowsAffected == 0 {
		return identity.ErrNotFound
	}
	return nil
}

// StaleBlobs returns at most limit blobs, by id, that are Deleting, or not Completed and
// created before before, or whose owner is not a user of their application. The last
// condition is an anti-join of the whole blobs table with users (by primary key), run once
// per janitor batch.
func (s *Store) StaleBlobs(ctx context.Context, before time.Time, limit int) ([]*blob.Blob, error) {
	if limit <= 0 {
		return nil, nil
	}
	var rows []blobRow
	b := s.blobs()
	// Three searches, each with its best plan (the first two by the (state, created_at)
	// index, the third a hash anti-join on PostgreSQL), rather than one OR that checks the
	// owner of every row one by one.
	err := s.db.WithContext(ctx).Table(b).
		Where("id IN (SELECT id FROM "+b+" WHERE state = ?"+
			" UNION SELECT id FROM "+b+" WHERE state <> ? AND created_at < ?"+
			" UNION SELECT o.id FROM "+b+" o WHERE NOT EXISTS (SELECT 1 FROM "+s.t.users+" u WHERE u.id = o.user_id AND u.application_id = o.application_id))",
			int(blob.Deleting), int(blob.Completed), dbTime(before)).
		Order("id").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, s.fail("stale blobs", err)
	}
	out := make([]*blob.Blob, len(rows))
	for i := range rows {
		out[i] = rows[i].blob()
	}
	return out, nil
}

// DeleteBlob deletes the metadata of blob id; a missing blob is not an error.
func (s *Store) DeleteBlob(ctx context.Context, id int64) error {
	if err := s.db.WithContext(ctx).Exec("DELETE FROM "+s.blobs()+" WHERE id = ?", id).Error; err != nil {
		return s.fail("delete blob", err)
	}
	return nil
}

// BlobUsage counts the blobs of user userID of application appID that are not Deleting and
// sums their sizes.
func (s *Store) BlobUsage(ctx context.Context, appID, userID int64) (int, int64, error) {
	var u struct {
		Files int64
		Bytes int64
	}
	err := s.db.WithContext(ctx).Raw("SELECT COUNT(*) AS files, COALESCE(SUM(size), 0) AS bytes FROM "+s.blobs()+
		" WHERE user_id = ? AND application_id = ? AND state <> ?", userID, appID, int(blob.Deleting)).Scan(&u).Error
	if err != nil {
		return 0, 0, s.fail("blob usage", err)
	}
	return int(u.Files), u.Bytes, nil
}
