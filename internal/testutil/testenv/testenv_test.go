package testenv

import (
	"context"
	"fmt"
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

func TestFields(t *testing.T) {
	err := &identity.Error{Err: identity.ErrInvalidInput, Fields: []identity.FieldError{{Field: "password", Code: "x"}, {Field: "login", Code: "y"}, {Field: "password", Code: "z"}}}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{err, "login,password"},
		{fmt.Errorf("wrapped: %w", err), "login,password"},
		{identity.NewError("op", identity.ErrInvalidInput, "email", "invalid"), "email"},
		{identity.ErrNotFound, ""},
		{nil, ""},
	} {
		if got := Fields(tc.err); got != tc.want {
			t.Fatalf("Fields(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
