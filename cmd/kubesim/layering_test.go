package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const mod = "github.com/kubesim/kubesim"

// components are the modeled Kubernetes components. They meet only through the
// apiserver (design guide §2): none imports another, except that the kubelet drives
// the container-runtime port.
var components = []string{"scheduler", "controller", "kubelet", "runtime", "proxy", "traffic"}

// shared are the packages every component may use.
var shared = []string{"sim", "model/api", "model/apiserver", "model/dist", "model/network"}

// adapters are the real-run adapters: the only packages under model/ that do I/O,
// use the wall clock and goroutines (design guide §2). Only cmd imports them.
var adapters = []string{"model/runtime/docker", "model/proxy/real", "model/etcd/real", "model/traffic/real"}

func isAdapter(rel string) bool {
	rel = strings.TrimSuffix(rel, "_test")
	for _, a := range adapters {
		if under(rel, a) {
			return true
		}
	}
	return false
}

// ioPackages may not be imported by the pure model (adapters excepted).
var ioPackages = []string{"os", "os/exec", "net", "net/http", "io/ioutil", "syscall", "os/signal"}

func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{join .Imports " "}}`, mod+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imps, _ := strings.Cut(line, "|")
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, mod), "/")
		for _, imp := range strings.Fields(imps) {
			if why := banned(rel, imp); why != "" {
				t.Errorf("%s imports %s: %s", rel, imp, why)
			}
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("only %d packages listed; the check would prove nothing", checked)
	}
}

func under(rel, dir string) bool { return rel == dir || strings.HasPrefix(rel, dir+"/") }

// banned returns why package rel may not import imp, or "".
func banned(rel, imp string) string {
	internal := strings.HasPrefix(imp, mod)
	irel := strings.TrimPrefix(strings.TrimPrefix(imp, mod), "/")
	if internal && isAdapter(irel) && !under(rel, "cmd") && !isAdapter(rel) {
		return "a real-run adapter is imported only by cmd (the composition root chooses the mode)"
	}
	switch {
	case isAdapter(rel):
		// An adapter does I/O and may use its client library (the Docker API, etcd);
		// it imports the port it implements and the shared packages, never cmd or results.
		if internal && (under(irel, "cmd") || under(irel, "results")) {
			return "an adapter never imports cmd or results"
		}
	case under(rel, "sim"):
		if internal && !under(irel, "sim") {
			return "sim/ knows nothing of Kubernetes and imports no other kubesim package"
		}
		if !internal && strings.Contains(strings.Split(imp, "/")[0], ".") {
			return "sim/ uses the standard library only"
		}
	case under(rel, "results"):
		if internal && !under(irel, "results") && !under(irel, "sim") && irel != "model/api" {
			return "results/ may import only sim and model/api of kubesim (the neutral telemetry interface)"
		}
	case under(rel, "model"):
		if internal && (under(irel, "cmd") || under(irel, "results")) {
			return "the model never imports cmd or results"
		}
		for _, p := range ioPackages {
			if imp == p && !strings.HasSuffix(rel, "_test") {
				return "the model is pure: no I/O"
			}
		}
		// Configuration decoders of a component (not the component itself) may use
		// the YAML library, as model/scenario does: they parse bytes, no I/O.
		if under(rel, "model/scheduler/schedconfig") && imp == "go.yaml.in/yaml/v3" {
			return ""
		}
		if c := componentOf(rel); c != "" && !internal && strings.Contains(strings.Split(imp, "/")[0], ".") && !strings.HasPrefix(imp, "gonum.org/v1/gonum/") {
			return "a component uses only the standard library, gonum and the shared kubesim packages"
		}
		if c := componentOf(rel); c != "" && internal {
			if componentOf(irel) == c || allowedShared(irel) || (c == "kubelet" && under(irel, "model/runtime")) {
				return ""
			}
			return "a component meets others only through the apiserver client; allowed: " + strings.Join(shared, ", ")
		}
	}
	return ""
}

func componentOf(rel string) string {
	for _, c := range components {
		if under(rel, "model/"+c) {
			return c
		}
	}
	return ""
}

func allowedShared(irel string) bool {
	for _, s := range shared {
		if under(irel, s) && !(s == "model/api" && irel != s) {
			return true
		}
	}
	return false
}

// TestNoWallClockInModel: virtual time only under sim/ and model/, except the
// real-time driver sim/wall, whose job is to pace the engine by the wall clock.
func TestNoWallClockInModel(t *testing.T) {
	re := regexp.MustCompile(`\btime\.(Now|Since|Until|Sleep|Tick|NewTimer|NewTicker|AfterFunc)\(|\bgo func\(|\bgo [a-zA-Z_.]+\(`)
	root := filepath.Join("..", "..")
	n := 0
	for _, dir := range []string{"sim", "model"} {
		err := filepath.Walk(filepath.Join(root, dir), func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			if filepath.Dir(p) == filepath.Join(root, "sim", "wall") {
				return nil
			}
			if rel, _ := filepath.Rel(root, p); isAdapter(filepath.ToSlash(filepath.Dir(rel))) {
				return nil // adapters run real I/O on the wall clock
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			n++
			for i, line := range strings.Split(string(b), "\n") {
				code, _, _ := strings.Cut(line, "//")
				if re.MatchString(code) {
					t.Errorf("%s:%d uses the wall clock or a goroutine: %s", p, i+1, strings.TrimSpace(line))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n < 10 {
		t.Fatalf("only %d files scanned", n)
	}
}

func TestBannedCatchesViolations(t *testing.T) {
	// The rules must be able to fail.
	cases := []struct{ rel, imp string }{
		{"sim", mod + "/model/api"},
		{"sim", "gonum.org/v1/gonum/stat"},
		{"model/scheduler", mod + "/model/kubelet"},
		{"model/controller/replicaset", mod + "/model/proxy"},
		{"model/kubelet", "os"},
		{"results", mod + "/model/cluster"},
		{"model/proxy", mod + "/results"},
		{"model/scheduler", "k8s.io/kubernetes/pkg/scheduler"},
		{"model/kubelet", mod + "/model/runtime/docker"},
		{"model/cluster", mod + "/model/runtime/docker"},
		{"results", mod + "/model/runtime/docker"},
		{"model/runtime/docker", mod + "/results"},
		{"model/proxy", mod + "/model/proxy/real"},
		{"model/cluster", mod + "/model/etcd/real"},
		{"model/traffic", mod + "/model/traffic/real"},
		{"results", mod + "/model/proxy/real"},
	}
	for _, c := range cases {
		if banned(c.rel, c.imp) == "" {
			t.Errorf("%s importing %s was allowed", c.rel, c.imp)
		}
	}
	if why := banned("model/kubelet", mod+"/model/runtime"); why != "" {
		t.Errorf("kubelet -> runtime rejected: %s", why)
	}
	for _, ok := range []struct{ rel, imp string }{
		{"cmd/kubesim", mod + "/model/runtime/docker"},
		{"model/runtime/docker", "github.com/moby/moby/client"},
		{"model/runtime/docker", "net/http"},
		{"model/runtime/docker", mod + "/model/runtime"},
		{"cmd/kubesim", mod + "/model/etcd/real"},
		{"model/etcd/real", "go.etcd.io/etcd/server/v3/embed"},
		{"model/proxy/real", "net"},
		{"model/proxy/real", mod + "/model/proxy"},
		{"model/traffic/real", "net/http"},
	} {
		if why := banned(ok.rel, ok.imp); why != "" {
			t.Errorf("%s -> %s rejected: %s", ok.rel, ok.imp, why)
		}
	}
}

// TestNoKubernetesInSchedulerOrSim: kubesim's own scheduler (model/scheduler/...)
// and the engine (sim/...) never depend on k8s.io/kubernetes, directly or through
// another package: only the kube-scheduler policy (model/kubescheduler) and what
// wires it (model/cluster, cmd) link the real scheduler (docs/kube-scheduler.md).
func TestNoKubernetesInSchedulerOrSim(t *testing.T) {
	for _, pattern := range []string{mod + "/model/scheduler/...", mod + "/sim/..."} {
		out, err := exec.Command("go", "list", "-tags", "kubescheduler", "-deps", "-f", `{{.ImportPath}}`, pattern).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pattern, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 5 {
			t.Fatalf("go list -deps %s listed %d packages; the check would prove nothing", pattern, len(deps))
		}
		for _, d := range deps {
			if d == "k8s.io/kubernetes" || strings.HasPrefix(d, "k8s.io/kubernetes/") {
				t.Errorf("%s depends on %s: kubesim's own scheduler and sim/ must not link k8s.io/kubernetes (only model/kubescheduler does)", pattern, d)
			}
		}
	}
	// The check must be able to fail: the policy package does depend on it.
	out, err := exec.Command("go", "list", "-tags", "kubescheduler", "-deps", "-f", `{{.ImportPath}}`, mod+"/model/kubescheduler").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps model/kubescheduler: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "k8s.io/kubernetes/pkg/scheduler/framework") {
		t.Errorf("model/kubescheduler should depend on k8s.io/kubernetes/pkg/scheduler/framework; the dependency check above would prove nothing")
	}
}
