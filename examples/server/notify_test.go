package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/identitykit/identity/internal/testutil/testenv"

	"github.com/redis/go-redis/v9"
)

// TestRevocationAcrossInstances runs two servers on one PostgreSQL database (and prefix),
// trusting what they read for an hour (-recheck-interval 1h): a session deleted through one
// is refused by the other as soon as the notification arrives, over PostgreSQL and, with
// -redis-url, over Redis.
func TestRevocationAcrossInstances(t *testing.T) {
	dsn := os.Getenv("IDENTITY_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("IDENTITY_TEST_POSTGRES_DSN not set")
	}
	t.Run("postgres", func(t *testing.T) { testRevocationAcrossInstances(t, dsn) })
	t.Run("redis", func(t *testing.T) {
		rdb := testenv.Redis(t, redis.Options{})
		testRevocationAcrossInstances(t, dsn, "-redis-url", "redis://"+rdb.Options().Addr+"/0",
			"-redis-prefix", fmt.Sprintf("identity-test:server:%d:", time.Now().UnixNano()))
	})
}

func testRevocationAcrossInstances(t *testing.T, dsn string, args ...string) {
	prefix := fmt.Sprintf("srvn%d_", time.Now().UnixNano()%1e9)
	args = append(args, "-table-prefix", prefix, "-blob-dir", t.TempDir(), "-recheck-interval", "1h", "-rate-limit=false")
	addrA, banner, stopA := start(t, dsn, args...)
	defer func() {
		stopA()
		dropTables(t, dsn, prefix)
	}()
	addrB, _, stopB := start(t, dsn, args...)
	defer stopB()
	m := keyRE.FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("banner:\n%s", banner)
	}
	res, err := http.Post("http://"+addrA+"/session.json", "application/json",
		strings.NewReader(`{"application_id":1,"auth_key":"`+m[1]+`","user":{"login":"john","password":"11111111"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Session struct {
			Token string `json:"token"`
		} `json:"session"`
	}
	err = json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("create session: %d %v", res.StatusCode, err)
	}
	call := func(addr, method string) int {
		req, _ := http.NewRequest(method, "http://"+addr+"/session.json", nil)
		req.Header.Set("CB-Token", body.Session.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := call(addrB, "GET"); code != 200 { // B caches the session for an hour
		t.Fatalf("B: GET /session: %d", code)
	}
	if code := call(addrA, "DELETE"); code != 200 {
		t.Fatalf("A: DELETE /session: %d", code)
	}
	deadline := time.Now().Add(10 * time.Second) // far below the hour that would explain it otherwise
	for call(addrB, "GET") != 401 {
		if time.Now().After(deadline) {
			t.Fatal("B still accepts the session deleted through A")
		}
		time.Sleep(time.Millisecond)
	}
}
