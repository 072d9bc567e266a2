package policies

import (
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

func gpuNode(name string, gpus int64, model string) *framework.NodeInfo {
	n := &api.Node{ObjectMeta: api.ObjectMeta{Name: name, Labels: map[string]string{api.LabelGPUModel: model}}}
	n.Status.Allocatable = api.Resources{MilliCPU: 64000, Memory: 256 << 30, Pods: 110, Scalar: map[api.ResourceName]int64{api.ResourceGPU: gpus}}
	ni := framework.NewNodeInfo(api.NodeName(name))
	ni.SetNode(n)
	return ni
}

func sharePod(uid string, milli, whole int64, idx int) *framework.PodInfo {
	p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: uid, UID: api.UID(uid)}}
	p.Spec.Containers = []api.Container{{Name: "c", Requests: api.Resources{MilliCPU: 100, Scalar: map[api.ResourceName]int64{}}}}
	if milli > 0 {
		p.Spec.Containers[0].Requests.Scalar[api.ResourceGPUMilli] = milli
	}
	if whole > 0 {
		p.Spec.Containers[0].Requests.Scalar[api.ResourceGPU] = whole
	}
	pi := framework.NewPodInfo(p)
	if idx >= 0 {
		pi = WithGPUIndex(pi, idx)
	}
	return pi
}

func TestGPUAccountingNeverOver1000(t *testing.T) {
	ni := gpuNode("n", 2, "A100")
	var sc GPUScratch
	// Place 600-milli shares by best fit until nothing fits: at most one per GPU.
	placed := 0
	for i := 0; i < 10; i++ {
		p := sharePod(string(rune('a'+i)), 600, 0, -1)
		if !GPUFits(p, ni) {
			break
		}
		idx := DefaultGPUIndex(&sc, p, ni)
		ni.AddPod(WithGPUIndex(p, idx))
		placed++
	}
	if placed != 2 {
		t.Fatalf("placed %d 600-milli shares on 2 GPUs, want 2", placed)
	}
	st := sc.GPUState(ni, "")
	for i, u := range st.Used {
		if u > MilliPerGPU {
			t.Errorf("GPU %d has %d milli used", i, u)
		}
	}
	// 400-milli shares fill both GPUs exactly.
	for i := 0; i < 2; i++ {
		p := sharePod(string(rune('x'+i)), 400, 0, -1)
		if !GPUFits(p, ni) {
			t.Fatalf("400-milli share %d does not fit", i)
		}
		ni.AddPod(WithGPUIndex(p, DefaultGPUIndex(&sc, p, ni)))
	}
	st = sc.GPUState(ni, "")
	if st.Used[0] != 1000 || st.Used[1] != 1000 {
		t.Fatalf("used = %v, want [1000 1000]", st.Used)
	}
	if GPUFits(sharePod("z", 1, 0, -1), ni) {
		t.Fatal("a 1-milli share fits on full GPUs")
	}
}

func TestGPUFits(t *testing.T) {
	cases := []struct {
		name     string
		gpus     int64
		existing []*framework.PodInfo
		pod      *framework.PodInfo
		want     bool
	}{
		{"share on empty", 1, nil, sharePod("p", 460, 0, -1), true},
		{"share over one GPU", 2, nil, sharePod("p", 1001, 0, -1), false},
		{"share needs one GPU not sum", 2, []*framework.PodInfo{sharePod("a", 600, 0, 0), sharePod("b", 600, 0, 1)}, sharePod("p", 500, 0, -1), false},
		{"share fits remaining", 2, []*framework.PodInfo{sharePod("a", 600, 0, 0), sharePod("b", 600, 0, 1)}, sharePod("p", 400, 0, -1), true},
		{"whole needs untouched GPUs", 2, []*framework.PodInfo{sharePod("a", 100, 0, 0)}, sharePod("p", 0, 2, -1), false},
		{"whole fits", 4, []*framework.PodInfo{sharePod("a", 100, 0, 0)}, sharePod("p", 0, 3, -1), true},
		{"share blocked by whole pods", 2, []*framework.PodInfo{sharePod("a", 0, 2, -1)}, sharePod("p", 100, 0, -1), false},
		{"no GPUs", 0, nil, sharePod("p", 100, 0, -1), false},
		{"unpinned share counted", 1, []*framework.PodInfo{sharePod("a", 700, 0, -1)}, sharePod("p", 400, 0, -1), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ni := gpuNode("n", tc.gpus, "A100")
			for _, p := range tc.existing {
				ni.AddPod(p)
			}
			if got := GPUFits(tc.pod, ni); got != tc.want {
				t.Errorf("GPUFits = %v, want %v", got, tc.want)
			}
			if got := Fits(tc.pod, ni); got != tc.want {
				t.Errorf("Fits = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFitsAllowedModels(t *testing.T) {
	p := sharePod("p", 500, 0, -1)
	p.Pod.Spec.Affinity = &api.Affinity{NodeAffinity: &api.NodeAffinity{Required: []api.NodeSelectorTerm{{
		MatchExpressions: []api.Requirement{{Key: api.LabelGPUModel, Operator: api.OpIn, Values: []string{"V100"}}},
	}}}}
	if Fits(p, gpuNode("a", 1, "A100")) {
		t.Error("pod restricted to V100 fits an A100 node")
	}
	if !Fits(p, gpuNode("v", 1, "V100")) {
		t.Error("pod restricted to V100 does not fit a V100 node")
	}
}
