package runtime

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// allowedImports are the model packages a component may import (DESIGN.md §2):
// components never import sibling components; they meet through the apiserver.
var allowedImports = map[string]bool{
	"github.com/kubesim/kubesim/sim":             true,
	"github.com/kubesim/kubesim/model/api":       true,
	"github.com/kubesim/kubesim/model/apiserver": true,
	"github.com/kubesim/kubesim/model/dist":      true,
	"github.com/kubesim/kubesim/model/network":   true,
}

func TestLayering(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first := strings.SplitN(path, "/", 2)[0]
			switch {
			case !strings.Contains(first, "."): // standard library
			case strings.HasPrefix(path, "gonum.org/v1/gonum/"):
			case allowedImports[path]:
			default:
				t.Errorf("%s imports %s: a model component may import only the standard library, gonum, sim, model/api, model/apiserver, model/dist and model/network (DESIGN.md §2)", name, path)
			}
		}
	}
}
