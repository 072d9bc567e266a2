package scheduler

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// newTestScheduler builds a scheduler on a real apiserver without starting it, so
// tests can fill its cache directly.
func newTestScheduler(t testing.TB, seed uint64, mutate func(*Config)) *Scheduler {
	t.Helper()
	s := newStack(t, seed)
	cfg := DefaultConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	sch, err := New(s.eng, s.srv.Client(Component, 50, 100), cfg, NewRegistry(), s.reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func zoned(name, zone string) *api.Node {
	n := testNode(name, 4000, 8*gi, map[string]string{api.LabelZone: zone, api.LabelRegion: "r1"})
	n.UID = api.UID("uid-" + name)
	return n
}

func names(nis []*framework.NodeInfo) string {
	var out []string
	for _, ni := range nis {
		out = append(out, string(ni.Name))
	}
	return strings.Join(out, ",")
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	tests := []struct {
		name       string
		percentage int32
		nodes      int
		want       int
	}{
		{"fewer than 100 nodes: all", 0, 10, 10},
		{"99 nodes: all", 0, 99, 99},
		{"100 nodes: 50% but at least 100", 0, 100, 100},
		{"1000 nodes: 42%", 0, 1000, 420},
		{"5000 nodes: 10%", 0, 5000, 500},
		{"6000 nodes: floor of 5%", 0, 6000, 300},
		{"10000 nodes: 5%", 0, 10000, 500},
		{"explicit 30% of 1000", 30, 1000, 300},
		{"explicit 5% of 1000 is raised to 100", 5, 1000, 100},
		{"explicit 100%", 100, 5000, 5000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := numFeasibleNodesToFind(tc.percentage, tc.nodes); got != tc.want {
				t.Errorf("numFeasibleNodesToFind(%d, %d) = %d, want %d", tc.percentage, tc.nodes, got, tc.want)
			}
		})
	}
}

func TestNodeTreeInterleavesZones(t *testing.T) {
	c := newCache()
	for _, n := range []*api.Node{zoned("z1n1", "z1"), zoned("z1n2", "z1"), zoned("z1n3", "z1"), zoned("z2n1", "z2"), zoned("z3n1", "z3"), zoned("z2n2", "z2")} {
		c.addNode(n)
	}
	if got, want := names(c.nodeList()), "z1n1,z2n1,z3n1,z1n2,z2n2,z1n3"; got != want {
		t.Fatalf("order %s, want %s", got, want)
	}
	c.removeNode("z2n1")
	if got, want := names(c.nodeList()), "z1n1,z2n2,z3n1,z1n2,z1n3"; got != want {
		t.Fatalf("after removal %s, want %s", got, want)
	}
	c.removeNode("z3n1") // zone z3 disappears
	moved := zoned("z1n1", "z2")
	c.updateNode(moved) // zone change: appended to z2
	if got, want := names(c.nodeList()), "z1n2,z2n2,z1n3,z1n1"; got != want {
		t.Fatalf("after zone change %s, want %s", got, want)
	}
}

func TestCacheAccounting(t *testing.T) {
	c := newCache()
	n := zoned("n1", "z1")
	n.Status.Images = []api.ContainerImage{{Names: []string{"nginx:1.25", "nginx@sha256:x"}, SizeBytes: 100}}
	c.addNode(n)
	m := zoned("n2", "z1")
	m.Status.Images = []api.ContainerImage{{Names: []string{"nginx:1.25"}, SizeBytes: 100}}
	c.addNode(m)
	if st := c.images["nginx:1.25"]; st == nil || st.NumNodes != 2 {
		t.Fatalf("image state %+v, want on 2 nodes", st)
	}
	p := testPod("p", 500, 1<<20)
	p.UID = "p"
	pi := framework.NewPodInfo(p)
	c.assumePod(pi, "n1")
	ni := c.nodes["n1"]
	if ni.Requested.MilliCPU != 500 || len(ni.Pods) != 1 || !c.isAssumed("p") {
		t.Fatalf("after assume: %+v", ni.Requested)
	}
	// The watch shows the pod bound to n1: confirmed, counted once.
	bound := p.DeepCopy()
	bound.Spec.NodeName = "n1"
	c.addPod(framework.NewPodInfo(bound))
	if ni.Requested.MilliCPU != 500 || len(ni.Pods) != 1 || c.isAssumed("p") {
		t.Fatalf("after confirm: %dm, %d pods, assumed=%v", ni.Requested.MilliCPU, len(ni.Pods), c.isAssumed("p"))
	}
	if c.forgetPod("p") {
		t.Fatal("forgot a confirmed pod")
	}
	// Assume then forget (binding failed) releases the resources.
	q := testPod("q", 300, 1<<20)
	q.UID = "q"
	c.assumePod(framework.NewPodInfo(q), "n2")
	if !c.forgetPod("q") || c.nodes["n2"].Requested.MilliCPU != 0 {
		t.Fatalf("forget did not release: %+v", c.nodes["n2"].Requested)
	}
	// Node deleted while a pod is on it: placeholder kept until the pod goes.
	c.removeNode("n1")
	if ni := c.nodes["n1"]; ni == nil || ni.Node() != nil || len(c.nodeList()) != 1 {
		t.Fatal("placeholder not kept")
	}
	if st := c.images["nginx:1.25"]; st.NumNodes != 1 {
		t.Fatalf("image count after node removal %d", st.NumNodes)
	}
	c.removePod("p")
	if c.nodes["n1"] != nil {
		t.Fatal("empty placeholder not dropped")
	}
}

func TestNodeUpdateActions(t *testing.T) {
	c := newCache()
	base := zoned("n", "z1")
	c.addNode(base)
	tests := []struct {
		name   string
		mutate func(*api.Node)
		want   framework.ActionType
	}{
		{"heartbeat only", func(n *api.Node) { n.Status.Conditions[0].LastHeartbeatTime = 99 }, 0},
		{"allocatable", func(n *api.Node) { n.Status.Allocatable.MilliCPU = 8000 }, framework.UpdateNodeAllocatable},
		{"label", func(n *api.Node) { n.Labels["disk"] = "ssd" }, framework.UpdateNodeLabel},
		{"taint", func(n *api.Node) { n.Spec.Taints = []api.Taint{{Key: "k", Effect: api.TaintNoSchedule}} }, framework.UpdateNodeTaint},
		{"cordon", func(n *api.Node) { n.Spec.Unschedulable = true }, framework.UpdateNodeTaint},
		{"ready flips", func(n *api.Node) { n.Status.Conditions[0].Status = api.ConditionFalse }, framework.UpdateNodeCondition},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := base.DeepCopy()
			tc.mutate(n)
			if got := c.updateNode(n); got != tc.want {
				t.Errorf("actions %v, want %v", got, tc.want)
			}
			c.updateNode(base.DeepCopy()) // back
		})
	}
}

// With 1000 feasible nodes a cycle examines 420 (reference §2.3) and the next cycle
// starts where the last one stopped, wrapping around.
func TestSamplingRotation(t *testing.T) {
	s := newTestScheduler(t, 1, nil)
	for i := 0; i < 1000; i++ {
		s.cache.addNode(zoned(fmt.Sprintf("n%04d", i), "z1"))
	}
	pod := framework.NewPodInfo(testPod("p", 100, 1<<20))
	wantStarts := []int{0, 420, 840, 260}
	for i, want := range wantStarts {
		var r cycleResult
		d := &Decision{}
		s.schedulePod(pod, &r, d)
		if r.startIndex != want || r.examined != 420 || r.feasible != 420 {
			t.Fatalf("cycle %d: start %d examined %d feasible %d, want start %d and 420/420", i, r.startIndex, r.examined, r.feasible, want)
		}
		if first := d.Filter[0].Node; first != api.NodeName(fmt.Sprintf("n%04d", want)) {
			t.Fatalf("cycle %d: first node examined %s", i, first)
		}
	}
	// Below 100 nodes every node is examined.
	small := newTestScheduler(t, 1, nil)
	for i := 0; i < 40; i++ {
		small.cache.addNode(zoned(fmt.Sprintf("n%d", i), "z1"))
	}
	var r cycleResult
	small.schedulePod(pod, &r, nil)
	if r.examined != 40 || r.feasible != 40 {
		t.Fatalf("small cluster: examined %d feasible %d", r.examined, r.feasible)
	}
}

// Sampling keeps looking past infeasible nodes until it has enough feasible ones.
func TestSamplingSkipsInfeasible(t *testing.T) {
	s := newTestScheduler(t, 1, nil)
	for i := 0; i < 1000; i++ {
		n := zoned(fmt.Sprintf("n%04d", i), "z1")
		if i%2 == 0 {
			n.Spec.Unschedulable = true
		}
		s.cache.addNode(n)
	}
	var r cycleResult
	s.schedulePod(framework.NewPodInfo(testPod("p", 100, 1<<20)), &r, nil)
	if r.feasible != 420 || r.examined != 840 {
		t.Fatalf("examined %d feasible %d, want 840 and 420", r.examined, r.feasible)
	}
}

func TestTieBreakUniformAndDeterministic(t *testing.T) {
	pick := func(seed uint64) []api.NodeName {
		s := newTestScheduler(t, seed, nil)
		for i := 0; i < 4; i++ {
			s.cache.addNode(zoned(fmt.Sprintf("n%d", i), "z1"))
		}
		pod := framework.NewPodInfo(testPod("p", 100, 1<<20))
		var out []api.NodeName
		for i := 0; i < 4000; i++ {
			var r cycleResult
			s.schedulePod(pod, &r, nil)
			if r.ties != 4 {
				t.Fatalf("ties %d, want 4", r.ties)
			}
			out = append(out, r.selected)
		}
		return out
	}
	a, b := pick(9), pick(9)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("same seed, different choices")
	}
	if c := pick(10); fmt.Sprint(a) == fmt.Sprint(c) {
		t.Fatal("different seeds, same 4000 choices")
	}
	counts := map[api.NodeName]int{}
	for _, n := range a {
		counts[n]++
	}
	for n, c := range counts {
		if c < 850 || c > 1150 { // expected 1000, σ ≈ 27
			t.Errorf("node %s chosen %d/4000 times, not uniform", n, c)
		}
	}
	if len(counts) != 4 {
		t.Errorf("chose %d distinct nodes", len(counts))
	}
}

func TestFitErrorMessageAndDecision(t *testing.T) {
	var got []Decision
	s := newTestScheduler(t, 1, func(c *Config) { c.OnDecision = func(d Decision) { got = append(got, d) } })
	tainted := zoned("a-tainted", "z1")
	tainted.Spec.Taints = []api.Taint{{Key: "dedicated", Value: "gpu", Effect: api.TaintNoSchedule}}
	s.cache.addNode(tainted)
	s.cache.addNode(zoned("b-small", "z1"))
	s.cache.addNode(zoned("c-small", "z1"))
	pod := framework.NewPodInfo(testPod("p", 5000, 1<<20))
	var r cycleResult
	d := &Decision{}
	s.schedulePod(pod, &r, d)
	// DefaultPreemption's PostFilter message follows (FitError.PostFilterMsg).
	want := "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
	if !r.rejected || r.message != want {
		t.Fatalf("message %q, want %q", r.message, want)
	}
	if got := s.rt.pluginNames(r.rejectors); fmt.Sprint(got) != "[TaintToleration NodeResourcesFit]" {
		t.Errorf("rejectors %v", got)
	}
	if len(d.Filter) != 3 || d.Filter[0].Plugin != TaintToleration || d.Filter[1].Plugin != NodeResourcesFit {
		t.Errorf("verdicts %+v", d.Filter)
	}
	if fmt.Sprint(d.SkippedFilters) != "[NodeAffinity NodePorts GPUShare VolumeBinding PodTopologySpread InterPodAffinity]" {
		t.Errorf("skipped filters %v", d.SkippedFilters)
	}
	// A feasible pod: per-plug-in scores are recorded for every scored node.
	d = &Decision{}
	r = cycleResult{}
	s.schedulePod(framework.NewPodInfo(testPod("q", 100, 1<<20)), &r, d)
	if len(d.Scores) != 2 || len(d.ScorePlugins) != 7 || !d.ScorePlugins[1].Skipped || d.ScorePlugins[0].Weight != 3 {
		t.Fatalf("decision scores %+v plugins %+v", d.Scores, d.ScorePlugins)
	}
	for _, ns := range d.Scores {
		var sum int64
		for i, v := range ns.Plugin {
			sum += v * d.ScorePlugins[i].Weight
		}
		if sum != ns.Total {
			t.Errorf("node %s: total %d, per-plugin sum %d", ns.Node, ns.Total, sum)
		}
	}
}

func TestPreFilterResultRestrictsNodes(t *testing.T) {
	s := newTestScheduler(t, 1, nil)
	for i := 0; i < 3; i++ {
		s.cache.addNode(zoned(fmt.Sprintf("n%d", i), "z1"))
	}
	pod := testPod("p", 100, 1<<20)
	pod.Spec.Affinity = &api.Affinity{NodeAffinity: &api.NodeAffinity{Required: []api.NodeSelectorTerm{
		{MatchFields: []api.Requirement{{Key: "metadata.name", Operator: api.OpIn, Values: []string{"n2", "gone"}}}},
	}}}
	var r cycleResult
	s.schedulePod(framework.NewPodInfo(pod), &r, nil)
	if r.selected != "n2" || r.examined != 1 {
		t.Fatalf("selected %q after examining %d", r.selected, r.examined)
	}
	pod.Spec.Affinity.NodeAffinity.Required[0].MatchFields[0].Values = []string{"gone"}
	r = cycleResult{}
	s.schedulePod(framework.NewPodInfo(pod), &r, nil)
	want := "0/3 nodes are available: 3 node(s) didn't satisfy plugin(s) [NodeAffinity]. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
	if !r.rejected || r.message != want {
		t.Fatalf("message %q, want %q", r.message, want)
	}
}

func TestNoNodes(t *testing.T) {
	s := newTestScheduler(t, 1, nil)
	var r cycleResult
	s.schedulePod(framework.NewPodInfo(testPod("p", 100, 1)), &r, nil)
	if !r.rejected || r.message != errNoNodesAvailable || r.rejectors != 0 {
		t.Fatalf("result %+v", r)
	}
}
