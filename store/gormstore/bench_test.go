package gormstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/blob"
)

// benchSessions is how many sessions the lookup benchmark's table holds.
const benchSessions = 1000

func BenchmarkSessionByTokenHash(b *testing.B) {
	for _, o := range openers(b) {
		b.Run(o.name, func(b *testing.B) {
			st := o.open(b)
			ctx := b.Context()
			now := time.Now()
			hashes := make([][]byte, benchSessions)
			for i := range hashes {
				s := &identity.Session{
					ApplicationID: 1, UserID: int64(i + 1),
					TokenHash: identity.HashToken(fmt.Sprintf("token-%d", i)),
					CreatedAt: now, UpdatedAt: now, LastActiveAt: now, Idle: time.Hour, ExpiresAt: now.Add(time.Hour),
				}
				if err := st.CreateSession(ctx, s); err != nil {
					b.Fatal(err)
				}
				hashes[i] = s.TokenHash
			}
			i := 0
			for b.Loop() {
				if _, err := st.SessionByTokenHash(ctx, hashes[i%len(hashes)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkCreateUser(b *testing.B) {
	for _, o := range openers(b) {
		b.Run(o.name, func(b *testing.B) {
			st := o.open(b)
			ctx := b.Context()
			app := &identity.Application{Name: "bench", AuthKey: "bench"}
			if err := st.CreateApplication(ctx, app); err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			i := 0
			for b.Loop() {
				u := &identity.User{
					ApplicationID: app.ID, UID: fmt.Sprintf("%024x", i),
					Login: fmt.Sprintf("user%d", i), Email: fmt.Sprintf("user%d@example.com", i),
					PasswordHash: "$argon2id$v=19$m=65536,t=1,p=2$c2FsdA$aGFzaA",
					Tags:         []string{"a", "b"}, CreatedAt: now, UpdatedAt: now,
				}
				if err := st.CreateUser(ctx, u, nil); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// benchBlobs is how many users, each with one completed blob, the janitor benchmark's tables
// hold.
const benchBlobs = 100000

// BenchmarkStaleBlobsNoneStale measures one janitor batch (StaleBlobs) over a blobs table of
// which nothing is stale: the owner check reads every blob.
func BenchmarkStaleBlobsNoneStale(b *testing.B) {
	for _, o := range openers(b) {
		b.Run(o.name, func(b *testing.B) {
			st := o.open(b)
			ctx := b.Context()
			now := dbTime(time.Now())
			seq := "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
			err := st.db.Exec("INSERT INTO "+st.t.users+" (id, application_id, full_name, phone, website, external_id,"+
				" facebook_id, twitter_id, custom_data, avatar, blob_id, tags, is_guest, password_hash, created_at, updated_at) "+
				seq+"SELECT i, 1, '', '', '', '', '', '', '', '', 0, '', ?, '', ?, ? FROM n", benchBlobs, false, now, now).Error
			if err == nil {
				err = st.db.Exec("INSERT INTO "+st.blobs()+" (application_id, user_id, uid, name, content_type, size, public,"+
					" state, created_at, updated_at, completed_at) "+
					seq+"SELECT 1, i, 'u' || i, 'a.png', 'image/png', 1000, ?, ?, ?, ?, ? FROM n",
					benchBlobs, true, int(blob.Completed), now, now, now).Error
			}
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				stale, err := st.StaleBlobs(ctx, now.Add(-time.Hour), 100)
				if err != nil || len(stale) != 0 {
					b.Fatalf("StaleBlobs = %d, %v", len(stale), err)
				}
			}
		})
	}
}
