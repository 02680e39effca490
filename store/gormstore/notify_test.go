package gormstore_test

import (
	"os"
	"testing"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/notifytest"
	"github.com/identitykit/identity/internal/testutil/testenv"
	"github.com/identitykit/identity/store/gormstore"
)

// pgSetup opens a PostgreSQL store (skipped without IDENTITY_TEST_POSTGRES_DSN) whose
// Notifiers the suite uses; Kill terminates the backends listening on its channel.
func pgSetup(t *testing.T) notifytest.Setup {
	st := testenv.OpenStore(t, true)
	return notifytest.Setup{
		Store: st,
		New: func(t testing.TB) identity.Notifier {
			n, err := st.Notifier()
			if err != nil {
				t.Fatal(err)
			}
			return n
		},
		Kill: func(t testing.TB) {
			var killed []bool
			err := st.DB().Raw("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = ? AND pid <> pg_backend_pid()",
				`LISTEN "`+gormstore.NotifyChannel(st)+`"`).Scan(&killed).Error
			if err != nil || len(killed) == 0 {
				t.Fatalf("killing the listening connections: %v (%d killed)", err, len(killed))
			}
		},
	}
}

func TestNotifierPostgres(t *testing.T) { notifytest.Run(t, pgSetup(t)) }

func TestNotifierPostgresKilled(t *testing.T) { notifytest.RunKill(t, pgSetup(t)) }

// TestNotifierPostgresDelay measures the revocation delay across two instances over 100
// revocations. It runs with IDENTITY_MEASURE_REVOCATION=1.
func TestNotifierPostgresDelay(t *testing.T) {
	if os.Getenv("IDENTITY_MEASURE_REVOCATION") == "" {
		t.Skip("set IDENTITY_MEASURE_REVOCATION=1 to measure")
	}
	median, max := notifytest.Measure(t, pgSetup(t), 100)
	t.Logf("PostgreSQL: revocation seen by the other instance after median %v, max %v (100 revocations)", median, max)
}

func TestNotifierSQLite(t *testing.T) {
	st := testenv.OpenStore(t, false)
	if _, err := st.Notifier(); err == nil {
		t.Fatal("SQLite store made a Notifier")
	}
}
