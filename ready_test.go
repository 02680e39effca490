package identity_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/testutil/testenv"
)

// readyStore is a Store that also answers readiness checks with err.
type readyStore struct {
	identity.Store
	err   error
	calls int
}

func (r *readyStore) Ready(ctx context.Context) error {
	r.calls++
	return r.err
}

func TestReady(t *testing.T) {
	base := openStore(t, false)
	ctx := t.Context()

	// A Store without a readiness check counts as ready.
	if err := testenv.Identity(t, &countingStore{Store: base}).Ready(ctx); err != nil {
		t.Fatalf("store without a readiness check: %v", err)
	}

	tests := []struct {
		name    string
		err     error
		wantErr error
	}{
		{"ready", nil, nil},
		{"unavailable", fmt.Errorf("store: table x is missing: %w", identity.ErrUnavailable), identity.ErrUnavailable},
		// Whatever a store answers, a failed check is ErrUnavailable to callers.
		{"other error", errors.New("store: boom"), identity.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &readyStore{Store: base, err: tc.err}
			err := testenv.Identity(t, st).Ready(ctx)
			if st.calls != 1 {
				t.Fatalf("store asked %d times, want 1", st.calls)
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Ready = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Ready = %v, want an error wrapping %v", err, tc.wantErr)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("Ready = %v, does not wrap the store's error", err)
			}
		})
	}
}
