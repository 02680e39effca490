package gormstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/identitykit/identity"
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
