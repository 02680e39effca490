package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestParseProxies(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"", "[]", false},
		{"10.0.0.0/8", "[10.0.0.0/8]", false},
		{" 10.1.2.3/8 , 192.168.0.1, ::1,fd00::/8 ", "[10.0.0.0/8 192.168.0.1/32 ::1/128 fd00::/8]", false},
		{"::ffff:10.0.0.1", "[10.0.0.1/32]", false},
		{"10.0.0.0/33", "", true},
		{"proxy.example", "", true},
	}
	for _, tt := range tests {
		got, err := parseProxies(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseProxies(%q) error %v", tt.in, err)
			continue
		}
		if s := fmt.Sprint(got); err == nil && s != tt.want && !(len(got) == 0 && tt.want == "[]") {
			t.Errorf("parseProxies(%q) = %s, want %s", tt.in, s, tt.want)
		}
	}
}

func TestParseConfigRateLimit(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := parseConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !c.RateLimit || c.RedisURL != "" || len(c.TrustedProxies) != 0 || c.ClientAddrHeader != "X-Forwarded-For" {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = parseConfig([]string{"-client-addr-header", "X-Real-IP"}, env(map[string]string{
		"IDENTITY_RATE_LIMIT": "false", "IDENTITY_REDIS_URL": "redis://127.0.0.1:6379/0",
		"IDENTITY_TRUSTED_PROXIES": "10.0.0.0/8,127.0.0.1", "IDENTITY_CLIENT_ADDR_HEADER": "Forwarded",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.RateLimit || c.RedisURL != "redis://127.0.0.1:6379/0" || c.ClientAddrHeader != "X-Real-IP" ||
		len(c.TrustedProxies) != 2 || c.TrustedProxies[1] != netip.MustParsePrefix("127.0.0.1/32") {
		t.Fatalf("env and flags: %+v", c)
	}
	if _, err := parseConfig([]string{"-trusted-proxies", "10.0.0.0/99"}, env(nil), io.Discard); err == nil {
		t.Fatal("bad proxy accepted")
	}
}

// TestRunBadRedisURL: a malformed -redis-url stops the start without echoing the URL, which
// may hold a password.
func TestRunBadRedisURL(t *testing.T) {
	cfg, err := parseConfig([]string{"-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "i.db"),
		"-redis-url", "redis://user:secretpw@host:notaport/0"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard, nil)
	if err == nil || strings.Contains(err.Error(), "secretpw") || !strings.Contains(err.Error(), "-redis-url") {
		t.Fatalf("run: %v", err)
	}
}

// TestRunRedis: with -redis-url the server keeps its rate limits in Redis, under
// -redis-prefix, and holds no account names there.
func TestRunRedis(t *testing.T) {
	ctx := context.Background()
	addr := os.Getenv("IDENTITY_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		if os.Getenv("IDENTITY_TEST_REDIS_ADDR") != "" {
			t.Fatalf("no Redis at IDENTITY_TEST_REDIS_ADDR=%s: %v", addr, err)
		}
		t.Skipf("no Redis at %s (set IDENTITY_TEST_REDIS_ADDR to require one): %v", addr, err)
	}
	prefix := fmt.Sprintf("identity-test:server:%d:", time.Now().UnixNano())
	defer func() {
		if keys, err := rdb.Keys(ctx, prefix+"*").Result(); err == nil && len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	}()
	addr, banner, stop := start(t, filepath.Join(t.TempDir(), "identity.db"),
		"-redis-url", "redis://"+addr+"/0", "-redis-prefix", prefix, "-deny-auto-create")
	defer stop()
	m := keyRE.FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("banner:\n%s", banner)
	}
	res, err := http.Post("http://"+addr+"/session.json", "application/json",
		strings.NewReader(`{"application_id":1,"auth_key":"`+m[1]+`","user":{"login":"johnny","password":"11111111"}}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("create session for an unknown user: %d", res.StatusCode)
	}
	// The failed login is charged to the tarpit of (account, address), which drains in
	// 5 minutes; the account appears only hashed.
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	tarpit := 0
	for _, k := range keys {
		switch {
		case strings.Contains(k, "johnny"):
			t.Fatalf("key %q names the account", k)
		case strings.HasPrefix(k, prefix+"t:") && strings.HasSuffix(k, ":127.0.0.1"):
			tarpit++
		}
	}
	if tarpit != 1 {
		t.Fatalf("keys %v", keys)
	}
}
