package basic

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/policies"
)

// node returns a node with cpu/mem allocatable and usedCPU/usedMem requested by one pod.
func node(name string, cpu, mem, usedCPU, usedMem int64) *framework.NodeInfo {
	n := &api.Node{ObjectMeta: api.ObjectMeta{Name: name}}
	n.Status.Allocatable = api.Resources{MilliCPU: cpu, Memory: mem, Pods: 110}
	ni := framework.NewNodeInfo(api.NodeName(name))
	ni.SetNode(n)
	if usedCPU > 0 || usedMem > 0 {
		ni.AddPod(pod("filler-"+name, usedCPU, usedMem))
	}
	return ni
}

func pod(name string, cpu, mem int64) *framework.PodInfo {
	p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: name, UID: api.UID(name)}}
	p.Spec.Containers = []api.Container{{Name: "c", Requests: api.Resources{MilliCPU: cpu, Memory: mem}}}
	return framework.NewPodInfo(p)
}

func ctx() *policies.Context { return &policies.Context{Rand: rand.New(rand.NewPCG(1, 2))} }

func TestDeterministicPolicies(t *testing.T) {
	// a: tiny (pod does not fit), b: half full, c: empty, d: nearly full but fits,
	// e: cpu-heavy free vector.
	nodes := func() []*framework.NodeInfo {
		return []*framework.NodeInfo{
			node("a", 500, 1000, 0, 0),
			node("b", 4000, 4000, 2000, 2000),
			node("c", 4000, 4000, 0, 0),
			node("d", 4000, 4000, 3000, 3000),
			node("e", 4000, 4000, 0, 3000),
		}
	}
	cases := []struct {
		policy string
		pod    *framework.PodInfo
		want   api.NodeName
	}{
		{FirstFit, pod("p", 1000, 1000), "b"},
		{BestFit, pod("p", 1000, 1000), "d"},
		{WorstFit, pod("p", 1000, 1000), "c"},
		{DotProduct, pod("p", 1000, 1000), "c"}, // most free along both dimensions
		{DotProduct, pod("p", 1000, 10), "c"},   // cpu-heavy demand: c and e have equal free cpu; c has more free memory too
		{FirstFit, pod("p", 5000, 1), ""},       // fits nowhere
		{BestFit, pod("p", 1000, 1001), "b"},    // d has 1000 memory free only
		{RoundRobin, pod("p", 1000, 1000), "b"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%s", tc.policy, tc.want), func(t *testing.T) {
			p, err := New(tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			got, reason := p.Schedule(ctx(), tc.pod, nodes())
			if got != tc.want {
				t.Errorf("%s chose %q (%s), want %q", tc.policy, got, reason, tc.want)
			}
			if reason == "" {
				t.Error("empty reason")
			}
		})
	}
}

func TestDotProductAlignment(t *testing.T) {
	// A memory-heavy pod prefers the node with the most free memory even if it
	// has less free cpu.
	nodes := []*framework.NodeInfo{node("cpu-free", 4000, 4000, 0, 3000), node("mem-free", 4000, 4000, 3000, 0)}
	p, _ := New(DotProduct)
	if got, _ := p.Schedule(ctx(), pod("p", 100, 900), nodes); got != "mem-free" {
		t.Errorf("dot-product chose %q, want mem-free", got)
	}
}

func TestRoundRobinCycles(t *testing.T) {
	nodes := []*framework.NodeInfo{node("a", 4000, 4000, 0, 0), node("b", 100, 100, 0, 0), node("c", 4000, 4000, 0, 0)}
	p, _ := New(RoundRobin)
	var got []api.NodeName
	for i := 0; i < 4; i++ {
		n, _ := p.Schedule(ctx(), pod("p", 1000, 1000), nodes)
		got = append(got, n)
	}
	if want := []api.NodeName{"a", "c", "a", "c"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("round-robin placed %v, want %v", got, want)
	}
}

func TestRandomAndPowerOfTwo(t *testing.T) {
	nodes := []*framework.NodeInfo{node("a", 4000, 4000, 0, 0), node("small", 100, 100, 0, 0), node("b", 4000, 4000, 3500, 3500), node("c", 4000, 4000, 1000, 1000)}
	for _, name := range []string{Random, PowerOfTwo} {
		p, _ := New(name)
		c := ctx()
		counts := map[api.NodeName]int{}
		for i := 0; i < 600; i++ {
			n, _ := p.Schedule(c, pod("p", 200, 200), nodes)
			counts[n]++
		}
		if counts["small"] != 0 || counts[""] != 0 {
			t.Errorf("%s placed on a node that does not fit: %v", name, counts)
		}
		switch name {
		case Random:
			for _, n := range []api.NodeName{"a", "b", "c"} {
				if counts[n] < 150 || counts[n] > 250 {
					t.Errorf("random: %s chosen %d/600 times, want about 200", n, counts[n])
				}
			}
		case PowerOfTwo:
			// b is the most loaded: it loses every pair it is drawn in.
			if counts["b"] != 0 || counts["a"] <= counts["c"] {
				t.Errorf("power of two: counts %v, want b never and a more often than c", counts)
			}
		}
	}
}
