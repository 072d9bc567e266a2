package gpuaware

import (
	"math/rand/v2"
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/policies"
)

func gpuNode(name string, gpus int64, model string, pods ...*framework.PodInfo) *framework.NodeInfo {
	n := &api.Node{ObjectMeta: api.ObjectMeta{Name: name, Labels: map[string]string{api.LabelGPUModel: model}}}
	n.Status.Allocatable = api.Resources{MilliCPU: 64000, Memory: 256 << 30, Pods: 110, Scalar: map[api.ResourceName]int64{api.ResourceGPU: gpus}}
	ni := framework.NewNodeInfo(api.NodeName(name))
	ni.SetNode(n)
	for _, p := range pods {
		ni.AddPod(p)
	}
	return ni
}

func gpod(uid string, milli, whole int64, idx int) *framework.PodInfo {
	p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: uid, UID: api.UID(uid)}}
	p.Spec.Containers = []api.Container{{Name: "c", Requests: api.Resources{MilliCPU: 1000, Scalar: map[api.ResourceName]int64{}}}}
	if milli > 0 {
		p.Spec.Containers[0].Requests.Scalar[api.ResourceGPUMilli] = milli
	}
	if whole > 0 {
		p.Spec.Containers[0].Requests.Scalar[api.ResourceGPU] = whole
	}
	pi := framework.NewPodInfo(p)
	if idx >= 0 {
		pi = policies.WithGPUIndex(pi, idx)
	}
	return pi
}

func ctx() *policies.Context { return &policies.Context{Rand: rand.New(rand.NewPCG(1, 2))} }

func TestGPUPolicies(t *testing.T) {
	fixed := &FGDArgs{Workload: []TaskClass{{MilliCPU: 1000, GPUMilli: 600, Popularity: 1}}}
	cases := []struct {
		name   string
		policy string
		args   any
		nodes  func() []*framework.NodeInfo
		pod    *framework.PodInfo
		want   api.NodeName
	}{
		{"packing prefers a shared GPU", Packing, nil, func() []*framework.NodeInfo {
			return []*framework.NodeInfo{gpuNode("idle", 2, "A100"), gpuNode("shared", 2, "A100", gpod("a", 500, 0, 0))}
		}, gpod("p", 300, 0, -1), "shared"},
		{"packing: active node before idle node for whole GPUs", Packing, nil, func() []*framework.NodeInfo {
			return []*framework.NodeInfo{gpuNode("idle", 4, "A100"), gpuNode("active", 4, "A100", gpod("a", 0, 1, -1))}
		}, gpod("p", 0, 2, -1), "active"},
		{"packing honours allowed models", Packing, nil, func() []*framework.NodeInfo {
			return []*framework.NodeInfo{gpuNode("a100", 2, "A100", gpod("a", 500, 0, 0)), gpuNode("v100", 2, "V100")}
		}, withModels(gpod("p", 300, 0, -1), "V100"), "v100"},
		{"clustering groups equal requests", Clustering, nil, func() []*framework.NodeInfo {
			return []*framework.NodeInfo{
				gpuNode("halves", 2, "A100", gpod("a", 500, 0, 0)),
				gpuNode("quarters", 2, "A100", gpod("b", 250, 0, 0), gpod("c", 250, 0, 0)),
			}
		}, gpod("p", 250, 0, -1), "quarters"},
		// FGD, the paper's idea: with a workload of 0.6-GPU tasks, putting a 0.2 share
		// on the GPU with 0.7 free leaves 0.5 that no task can use (+500 milli of
		// fragmentation); on the idle GPU 0.8 stays usable. Packing does the opposite.
		{"fgd avoids creating a fragment", FGD, fixed, fragNodes, gpod("p", 200, 0, -1), "idle"},
		{"packing creates the fragment", Packing, nil, fragNodes, gpod("p", 200, 0, -1), "partly"},
		{"nothing fits", FGD, nil, func() []*framework.NodeInfo {
			return []*framework.NodeInfo{gpuNode("full", 1, "A100", gpod("a", 900, 0, 0))}
		}, gpod("p", 200, 0, -1), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.policy, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			got, reason := p.Schedule(ctx(), tc.pod, tc.nodes())
			if got != tc.want {
				t.Errorf("%s chose %q (%s), want %q", tc.policy, got, reason, tc.want)
			}
		})
	}
}

func fragNodes() []*framework.NodeInfo {
	return []*framework.NodeInfo{gpuNode("partly", 1, "A100", gpod("a", 300, 0, 0)), gpuNode("idle", 1, "A100")}
}

func withModels(p *framework.PodInfo, models ...string) *framework.PodInfo {
	p.Pod.Spec.Affinity = &api.Affinity{NodeAffinity: &api.NodeAffinity{Required: []api.NodeSelectorTerm{{
		MatchExpressions: []api.Requirement{{Key: api.LabelGPUModel, Operator: api.OpIn, Values: models}},
	}}}}
	return p
}

func TestFGDChoosesGPUAndFragmentation(t *testing.T) {
	// One node, two GPUs: GPU 0 has 0.3 used, GPU 1 idle. With 0.6 tasks the share
	// goes to GPU 1 (no new fragment).
	f, _ := NewFGD(&FGDArgs{Workload: []TaskClass{{GPUMilli: 600, Popularity: 1}}})
	ni := gpuNode("n", 2, "A100", gpod("a", 300, 0, 0))
	p := gpod("p", 200, 0, -1)
	if got, _ := f.Schedule(ctx(), p, []*framework.NodeInfo{ni}); got != "n" {
		t.Fatalf("fgd chose %q", got)
	}
	if g := f.ChooseGPU(ctx(), p, ni); g != 1 {
		t.Errorf("fgd chose GPU %d, want 1", g)
	}
	var sc policies.GPUScratch
	st := sc.GPUState(ni, "")
	// GPU 0 has 700 free >= 600: no fragment; a 0.8-GPU workload makes it a fragment.
	if fr := Fragmentation(&st, 64000, 1<<40, []TaskClass{{GPUMilli: 600, Popularity: 1}}); fr != 0 {
		t.Errorf("fragmentation for 0.6 tasks = %v, want 0", fr)
	}
	if fr := Fragmentation(&st, 64000, 1<<40, []TaskClass{{GPUMilli: 800, Popularity: 1}}); fr != 700 {
		t.Errorf("fragmentation for 0.8 tasks = %v, want 700", fr)
	}
	// A task that cannot run (cpu short) sees every free GPU share as a fragment.
	if fr := Fragmentation(&st, 0, 1<<40, []TaskClass{{MilliCPU: 1, GPUMilli: 600, Popularity: 1}}); fr != 1700 {
		t.Errorf("fragmentation for an unplaceable task = %v, want 1700", fr)
	}
}
