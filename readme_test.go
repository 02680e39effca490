package identity_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeEmbedding returns the Go program of README.md's "Embedding" section.
func readmeEmbedding(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Embedding\n")
	if !ok {
		t.Fatal(`README.md has no "## Embedding" section`)
	}
	m := regexp.MustCompile("(?s)^\\s*```go\n(.*?)```").FindStringSubmatch(section)
	if m == nil {
		t.Fatal("README.md's Embedding section does not start with a ```go block")
	}
	return m[1]
}

// TestReadmeEmbeddingCompiles builds the README's embedding program as a package of this
// module (go build -overlay adds the file without writing into the repository), so it uses
// the API as it is now.
func TestReadmeEmbeddingCompiles(t *testing.T) {
	src := readmeEmbedding(t)
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "main.go")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	pkgDir := filepath.Join(root, "internal", "readmeembedding")
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(pkgDir, "main.go"): file}})
	if err != nil {
		t.Fatal(err)
	}
	overlayFile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-overlay", overlayFile, "-o", filepath.Join(dir, "embedding"), "./internal/readmeembedding")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("go build: the README's embedding program does not compile: %v\n%s", err, out)
	}
}

// TestReadmeEmbeddingReusesApplication: the README's program creates its application only
// when it does not find it, so a restart keeps the application (and the id and auth key the
// client apps were given).
func TestReadmeEmbeddingReusesApplication(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "README.md", readmeEmbedding(t), 0)
	if err != nil {
		t.Fatalf("the README's embedding program does not parse: %v", err)
	}
	creates, conditional := 0, 0
	var visit func(n ast.Node, inIf bool)
	visit = func(n ast.Node, inIf bool) {
		ast.Inspect(n, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.IfStmt:
				if n.Init != nil {
					visit(n.Init, inIf)
				}
				visit(n.Cond, inIf)
				visit(n.Body, true)
				if n.Else != nil {
					visit(n.Else, true)
				}
				return false
			case *ast.SelectorExpr:
				if n.Sel.Name == "CreateApplication" {
					creates++
					if inIf {
						conditional++
					}
				}
			}
			return true
		})
	}
	visit(f, false)
	if creates == 0 || conditional != creates {
		t.Errorf("the README's embedding program calls CreateApplication %d times, %d of them only when the application was not found; want it created only when missing", creates, conditional)
	}
}

// TestGoModMinorVersion: go.mod asks for a Go minor version (1.N or its first release
// 1.N.0), not a later patch release, so any toolchain of that minor version builds the module.
func TestGoModMinorVersion(t *testing.T) {
	b, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	if !regexp.MustCompile(`^1\.\d+(\.0)?$`).MatchString(m[1]) {
		t.Errorf("go.mod says go %s, want a minor version (1.N or 1.N.0)", m[1])
	}
	if regexp.MustCompile(`(?m)^toolchain `).Match(b) {
		t.Error("go.mod names a toolchain; the go directive is enough")
	}
}

// TestNoReferencesOutsideRepository: comments and docs state what they rely on instead of
// pointing at documents this repository does not contain (a specification's numbered
// sections, a design guide).
func TestNoReferencesOutsideRepository(t *testing.T) {
	outside := regexp.MustCompile(`§\s*\d|` + `DESIGN` + `\.md`)
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == "node_modules" || name == "testdata" || (strings.HasPrefix(name, ".") && path != ".") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".mjs", ".js":
		default:
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if outside.MatchString(line) {
				t.Errorf("%s:%d points at a document outside the repository: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
