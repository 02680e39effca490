package passwordreset_test

import (
	"time"

	"github.com/identitykit/identity/internal/testutil"
	"github.com/identitykit/identity/internal/testutil/testenv"
)

func newClock() *testutil.Clock {
	return testutil.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
}

func ptr[T any](v T) *T { return &v }

// fieldOf returns the fields the *identity.Error in err names ("" for another error).
func fieldOf(err error) string { return testenv.Fields(err) }
