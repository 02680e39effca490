package testenv

import (
	"context"
	"testing"

	"github.com/identitykit/identity"
)

func TestStoreAndPasswords(t *testing.T) {
	ctx := context.Background()
	st, pw := Store(t), Passwords(t)
	app := &identity.Application{Name: "a", AuthKey: "k"}
	if err := st.CreateApplication(ctx, app); err != nil {
		t.Fatalf("the store is not migrated: %v", err)
	}
	h, err := pw.Hash(ctx, "pw-1")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := pw.Verify(ctx, "pw-1", h); err != nil || !ok {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
}
