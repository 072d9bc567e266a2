package proxy

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLayering fails when the package imports something a model component may not:
// components meet only through the apiserver Client, never import siblings, and use
// only the standard library, gonum, sim, model/api, model/apiserver, model/dist and
// model/network (DESIGN.md §2).
func TestLayering(t *testing.T) {
	allowed := []string{
		"github.com/kubesim/kubesim/sim",
		"github.com/kubesim/kubesim/model/api",
		"github.com/kubesim/kubesim/model/apiserver",
		"github.com/kubesim/kubesim/model/dist",
		"github.com/kubesim/kubesim/model/network",
		"github.com/kubesim/kubesim/model/proxy",
		"gonum.org/v1/gonum/",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first := strings.SplitN(path, "/", 2)[0]
			if !strings.Contains(first, ".") {
				continue // standard library
			}
			ok := false
			for _, a := range allowed {
				if path == a || strings.HasPrefix(path, a+"/") || (strings.HasSuffix(a, "/") && strings.HasPrefix(path, a)) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s imports %q: a model component may import only the standard library, gonum, sim, model/api, model/apiserver, model/dist and model/network (components meet through the apiserver)", f, path)
			}
		}
	}
}
