package scheduler

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLayering fails when a non-test file of the scheduler packages imports
// anything but the standard library, gonum, the engine, the API model, the
// apiserver client, the distributions, the network model or the scheduler's own
// packages: components meet only through the apiserver (DESIGN.md §2).
func TestLayering(t *testing.T) {
	const mod = "github.com/kubesim/kubesim/"
	allowed := []string{mod + "sim", mod + "model/api", mod + "model/apiserver", mod + "model/dist", mod + "model/network", mod + "model/scheduler", "gonum.org/v1/gonum"}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.Contains(strings.Split(p, "/")[0], ".") {
				continue // standard library
			}
			ok := false
			for _, a := range allowed {
				if p == a || strings.HasPrefix(p, a+"/") {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s imports %s: the scheduler may only use the engine, the API model, the apiserver client, dist, network and its own packages", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
