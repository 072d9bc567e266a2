package extender_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/model/scheduler"
	"github.com/kubesim/kubesim/model/scheduler/extender"
	"github.com/kubesim/kubesim/model/scheduler/policies"
	"github.com/kubesim/kubesim/sim"
)

// HTTPTransport is the net/http implementation of extender.Transport (cmd/ should
// carry the same few lines: the model may not import net/http).
func HTTPTransport(url string, body []byte, timeout time.Duration) ([]byte, error) {
	c := &http.Client{Timeout: timeout}
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(data))
	}
	return data, nil
}

// startPython starts examples/extender/extender.py on 127.0.0.1 and returns its URL.
func startPython(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("SKIPPING the extender end-to-end test: python3 is not installed (CI has it)")
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "..", "examples", "extender", "extender.py")
	cmd := exec.Command(py, script, "--host", "127.0.0.1", "--port", "0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the extender's first line: %v", err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("unexpected first line %q", line)
	}
	return url
}

func node(name string, avoid bool) *api.Node {
	labels := map[string]string{api.LabelHostname: name}
	if avoid {
		labels["example.com/extender-avoid"] = "true"
	}
	alloc := api.Resources{MilliCPU: 8000, Memory: 16 << 30, Pods: 110, EphemeralStorage: 100 << 30}
	return &api.Node{
		ObjectMeta: api.ObjectMeta{Name: name, Labels: labels},
		Status: api.NodeStatus{Capacity: alloc.Clone(), Allocatable: alloc,
			Conditions: []api.NodeCondition{{Type: api.NodeReady, Status: api.ConditionTrue}}},
	}
}

func pod(name string) *api.Pod {
	return &api.Pod{
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: api.NamespaceDefault},
		Spec: api.PodSpec{Containers: []api.Container{{Name: "c", Image: "nginx:1.25",
			Requests: api.Resources{MilliCPU: 100, Memory: 64 << 20}}}},
	}
}

// run places 9 pods on 4 nodes (node-a avoided by the extender's filter) with the
// policy and returns the pods per node.
func run(t *testing.T, policy string, reg *scheduler.Registry) (map[api.NodeName]int, scheduler.Stats) {
	t.Helper()
	eng := sim.New(7)
	dreg := dist.NewRegistry()
	st, err := etcd.New(eng, etcd.DefaultConfig(), dreg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), dreg, nil)
	if err != nil {
		t.Fatal(err)
	}
	admin := srv.Client("admin", 0, 0)
	create := func(o api.Object) {
		admin.Create(o, func(_ api.Object, err error) {
			if err != nil {
				t.Errorf("create %s: %v", api.Ref(o), err)
			}
		})
	}
	for _, n := range []string{"node-a", "node-b", "node-c", "node-d"} {
		create(node(n, n == "node-a"))
	}
	cfg := scheduler.DefaultConfig()
	cfg.Profile = scheduler.PolicyProfile(policy, nil)
	sch, err := scheduler.New(eng, srv.Client(scheduler.Component, 0, 0), cfg, reg, dreg, nil)
	if err != nil {
		t.Fatal(err)
	}
	sch.Start()
	eng.RunUntil(sim.Time(time.Second))
	const n = 9
	for i := 0; i < n; i++ {
		create(pod(fmt.Sprintf("p-%d", i)))
	}
	eng.RunUntil(sim.Time(20 * time.Second))
	per := map[api.NodeName]int{}
	for i := 0; i < n; i++ {
		kv, ok := srv.Store().Get(api.Key(api.KindPod, api.NamespaceDefault, fmt.Sprintf("p-%d", i)))
		if !ok {
			t.Fatalf("pod p-%d missing", i)
		}
		per[kv.Value.(*api.Pod).Spec.NodeName]++
	}
	return per, sch.Stats()
}

func TestExtenderE2E(t *testing.T) {
	url := startPython(t)
	reg := scheduler.NewRegistry()
	if err := scheduler.RegisterPolicies(reg); err != nil {
		t.Fatal(err)
	}
	ext, err := extender.New(extender.Config{Name: "py", URLPrefix: url, FilterVerb: "filter", PrioritizeVerb: "prioritize",
		Weight: 1, HTTPTimeout: 5 * time.Second, Transport: HTTPTransport})
	if err != nil {
		t.Fatal(err)
	}
	if err := scheduler.RegisterPolicy(reg, "py", func(any) (policies.Policy, error) { return ext, nil }); err != nil {
		t.Fatal(err)
	}

	// Baseline: first-fit packs everything on one node.
	base, _ := run(t, scheduler.PolicyFirstFit, reg)
	if len(base) != 1 || base[""] != 0 {
		t.Fatalf("first-fit placements %v, want all 9 on one node", base)
	}
	// The extender: nothing on node-a (filter), 3/3/3 on the others (fewer pods first).
	got, stats := run(t, "py", reg)
	if got["node-a"] != 0 || got[""] != 0 {
		t.Errorf("extender placements %v: want none on node-a and every pod bound", got)
	}
	for _, n := range []api.NodeName{"node-b", "node-c", "node-d"} {
		if got[n] != 3 {
			t.Errorf("extender placements %v: want 3 pods on %s", got, n)
		}
	}
	if stats.Errors != 0 || stats.Scheduled != 9 {
		t.Errorf("stats %+v", stats)
	}
}

func TestExtenderErrorsAndIgnorable(t *testing.T) {
	fail := func(string, []byte, time.Duration) ([]byte, error) { return nil, fmt.Errorf("timeout") }
	for _, ignorable := range []bool{false, true} {
		reg := scheduler.NewRegistry()
		_ = scheduler.RegisterPolicies(reg)
		ext, err := extender.New(extender.Config{Name: "broken", URLPrefix: "http://127.0.0.1:1", FilterVerb: "filter",
			PrioritizeVerb: "prioritize", Ignorable: ignorable, Transport: fail})
		if err != nil {
			t.Fatal(err)
		}
		_ = scheduler.RegisterPolicy(reg, "broken", func(any) (policies.Policy, error) { return ext, nil })
		got, stats := run(t, "broken", reg)
		if ignorable {
			if got[""] != 0 || stats.Errors != 0 {
				t.Errorf("ignorable: placements %v stats %+v, want every pod bound without errors", got, stats)
			}
		} else if got[""] != 9 || stats.Errors == 0 {
			t.Errorf("not ignorable: placements %v stats %+v, want no pod bound and errors", got, stats)
		}
	}
}
