package gormstore

import (
	"testing"
	"time"

	"github.com/identitykit/identity"
)

// TestMigrateAddsBlocked: a users table from before users could be blocked (a release before
// versioned migrations too) gets the column, and its users are not blocked.
func TestMigrateAddsBlocked(t *testing.T) {
	for _, o := range openers(t) {
		t.Run(o.name, func(t *testing.T) {
			st := o.open(t)
			ctx := t.Context()
			app := &identity.Application{Name: "a", AuthKey: "k", CreatedAt: time.Now(), UpdatedAt: time.Now()}
			if err := st.CreateApplication(ctx, app); err != nil {
				t.Fatal(err)
			}
			u := &identity.User{ApplicationID: app.ID, Login: "before", CreatedAt: time.Now(), UpdatedAt: time.Now()}
			if err := st.CreateUser(ctx, u, nil); err != nil {
				t.Fatal(err)
			}
			for _, ddl := range []string{"ALTER TABLE " + st.t.users + " DROP COLUMN blocked", "DROP TABLE " + st.t.versions()} {
				if err := st.DB().Exec(ddl).Error; err != nil {
					t.Fatal(err)
				}
			}
			if err := st.Migrate(ctx); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			got, err := st.User(ctx, app.ID, u.ID)
			if err != nil || got.Blocked {
				t.Fatalf("user after Migrate: %v, %v", got, err)
			}
			if err := st.SetUserBlocked(ctx, app.ID, u.ID, true, time.Now()); err != nil {
				t.Fatalf("SetUserBlocked after Migrate: %v", err)
			}
		})
	}
}
