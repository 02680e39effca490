package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/identitykit/identity/store/gormstore"
)

// probe GETs path of the server at addr and returns the status and body.
func probe(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	res, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(body)
}

// wantProbes checks /healthz (always 200) and /readyz (readyStatus) of the server at addr.
func wantProbes(t *testing.T, addr string, readyStatus int) {
	t.Helper()
	if code, body := probe(t, addr, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, body := probe(t, addr, "/readyz"); code != readyStatus {
		t.Fatalf("/readyz: %d %q, want %d", code, body, readyStatus)
	}
}

// TestHealth: the server answers /healthz and /readyz next to the API; once its database
// loses a table Migrate created, /readyz answers 503 while /healthz stays 200.
func TestHealth(t *testing.T) {
	db := filepath.Join(t.TempDir(), "identity.db")
	addr, _, stop := start(t, db, "-blob-dir", t.TempDir())
	defer stop()
	wantProbes(t, addr, http.StatusOK)

	other, err := gormstore.OpenSQLite(db, gormstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.DB().Exec("DROP TABLE identity_nonces").Error; err != nil {
		t.Fatal(err)
	}
	wantProbes(t, addr, http.StatusServiceUnavailable)
}

// TestHealthPostgres: as TestHealth on PostgreSQL (IDENTITY_TEST_POSTGRES_DSN), the tables of
// the server's prefix dropped under it.
func TestHealthPostgres(t *testing.T) {
	dsn := os.Getenv("IDENTITY_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("IDENTITY_TEST_POSTGRES_DSN not set")
	}
	prefix := fmt.Sprintf("hlt%d_%d_", os.Getpid(), time.Now().UnixNano()%1e9)
	addr, _, stop := start(t, dsn, "-table-prefix", prefix, "-blob-dir", t.TempDir())
	defer stop()
	defer dropTables(t, dsn, prefix)
	wantProbes(t, addr, http.StatusOK)
	dropTables(t, dsn, prefix)
	wantProbes(t, addr, http.StatusServiceUnavailable)
}
