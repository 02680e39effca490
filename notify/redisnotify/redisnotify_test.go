package redisnotify_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/identitykit/identity"
	"github.com/identitykit/identity/internal/notifytest"
	"github.com/identitykit/identity/internal/testutil/testenv"
	"github.com/identitykit/identity/notify/redisnotify"
)

// redisSetup returns the suite's setup over the test Redis (skipped when it does not
// answer, unless IDENTITY_TEST_REDIS_ADDR names it) on a channel of the test's own. Its
// clients carry a name of the test's own, by which Kill finds their subscriptions.
func redisSetup(t *testing.T, pg bool) notifytest.Setup {
	b := make([]byte, 6)
	rand.Read(b)
	name := "identity-test-" + hex.EncodeToString(b)
	rdb := testenv.Redis(t, redis.Options{ClientName: name})
	return notifytest.Setup{
		Store: testenv.OpenStore(t, pg),
		New: func(t testing.TB) identity.Notifier {
			n, err := redisnotify.New(rdb, redisnotify.Config{Channel: name})
			if err != nil {
				t.Fatal(err)
			}
			return n
		},
		Kill: func(t testing.TB) {
			list, err := rdb.ClientList(context.Background()).Result()
			if err != nil {
				t.Fatal(err)
			}
			killed := 0
			for _, line := range strings.Split(list, "\n") {
				f := map[string]string{}
				for _, kv := range strings.Fields(line) {
					k, v, _ := strings.Cut(kv, "=")
					f[k] = v
				}
				if f["name"] == name && f["sub"] != "0" && f["sub"] != "" {
					if err := rdb.Do(context.Background(), "CLIENT", "KILL", "ID", f["id"]).Err(); err != nil {
						t.Fatal(err)
					}
					killed++
				}
			}
			if killed == 0 {
				t.Fatal("no subscribed connection to kill")
			}
		},
	}
}

func TestAcrossInstances(t *testing.T) { notifytest.Run(t, redisSetup(t, false)) }

func TestAcrossInstancesPostgres(t *testing.T) { notifytest.Run(t, redisSetup(t, true)) }

func TestConnectionKilled(t *testing.T) { notifytest.RunKill(t, redisSetup(t, false)) }

// TestDelay measures the revocation delay across two instances over 100 revocations, on
// PostgreSQL. It runs with IDENTITY_MEASURE_REVOCATION=1.
func TestDelay(t *testing.T) {
	if os.Getenv("IDENTITY_MEASURE_REVOCATION") == "" {
		t.Skip("set IDENTITY_MEASURE_REVOCATION=1 to measure")
	}
	median, max := notifytest.Measure(t, redisSetup(t, true), 100)
	t.Logf("Redis: revocation seen by the other instance after median %v, max %v (100 revocations)", median, max)
}

func TestNilClient(t *testing.T) {
	if _, err := redisnotify.New(nil, redisnotify.Config{}); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}
