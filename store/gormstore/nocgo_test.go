package gormstore

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNoCgoLinksNoSQLite: built without cgo, the package depends on no SQLite driver, so a
// PostgreSQL-only program needs no C compiler and links no SQLite code.
func TestNoCgoLinksNoSQLite(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("CGO_ENABLED=0 go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 || deps[len(deps)-1] != "github.com/identitykit/identity/store/gormstore" {
		t.Fatalf("go list -deps did not list this package last:\n%s", out)
	}
	for _, dep := range deps {
		if strings.Contains(dep, "sqlite") {
			t.Errorf("built without cgo, gormstore depends on %s", dep)
		}
	}
}
