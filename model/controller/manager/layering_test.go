package manager

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering fails when a controller package imports something a model component
// may not: controllers meet only through the apiserver, so none imports another
// controller; besides the standard library they may use sim, the model's api,
// apiserver, dist and network packages, gonum, and the manager's workqueue and
// informers helpers.
func TestLayering(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	const mod = "github.com/kubesim/kubesim/"
	allowed := []string{
		mod + "sim", mod + "model/api", mod + "model/apiserver", mod + "model/dist", mod + "model/network",
		mod + "model/controller/manager/workqueue", mod + "model/controller/manager/informers", "gonum.org/v1/gonum",
	}
	out, err := exec.Command(goBin, "list", "-f", "{{.ImportPath}}:{{join .Imports \" \"}}",
		mod+"model/controller/deployment", mod+"model/controller/replicaset", mod+"model/controller/endpointslice",
		mod+"model/controller/manager/workqueue", mod+"model/controller/manager/informers").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		for _, imp := range strings.Fields(imports) {
			if !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
				continue // standard library
			}
			ok := false
			for _, a := range allowed {
				if imp == a || strings.HasPrefix(imp, a+"/") {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s imports %s: controllers meet only through the apiserver and use only sim, model/api, apiserver, dist, network, gonum and the manager's helpers", pkg, imp)
			}
		}
	}
}
