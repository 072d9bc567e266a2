package noderesources

import (
	"slices"
	"strings"
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/framework/fwtest"
)

const extRes api.ResourceName = "example.com/foo"

func req(cpu, mem int64) api.Resources { return api.Resources{MilliCPU: cpu, Memory: mem} }

func reqExt(cpu, mem int64, name api.ResourceName, v int64) api.Resources {
	r := req(cpu, mem)
	r.Scalar = map[api.ResourceName]int64{name: v}
	return r
}

func mustFit(t *testing.T, args any) *Fit {
	t.Helper()
	pl, err := NewFit(args, nil)
	if err != nil {
		t.Fatal(err)
	}
	return pl.(*Fit)
}

// Cases and expected scores from upstream least_allocated_test.go
// (TestLeastAllocatedScoringStrategy). Upstream cases whose pods carry an explicit
// "memory: 0" request are left out: kubesim's compact model cannot tell an explicit
// zero from an absent request, so those pods get the 200 MiB non-zero default.
func TestLeastAllocatedUpstreamCases(t *testing.T) {
	withExt := []ResourceSpec{{Name: ResourceCPU, Weight: 1}, {Name: ResourceMemory, Weight: 1}, {Name: extRes, Weight: 1}}
	tests := []struct {
		name      string
		pod       *api.Pod
		nodes     []*api.Node
		existing  []*api.Pod
		resources []ResourceSpec
		want      []int64
	}{
		{
			name:  "nothing scheduled, nothing requested",
			pod:   fwtest.Pod("p"),
			nodes: []*api.Node{fwtest.Node("node1", 4000, 10000), fwtest.Node("node2", 4000, 10000)},
			want:  []int64{100, 100},
		},
		{
			// cpu (4000-3000)·100/4000 = 25, memory 50 → 37; node2: 50, 50 → 50.
			name:  "nothing scheduled, resources requested, differently sized nodes",
			pod:   fwtest.Pod("p", req(1000, 2000), req(2000, 3000)),
			nodes: []*api.Node{fwtest.Node("node1", 4000, 10000), fwtest.Node("node2", 6000, 10000)},
			want:  []int64{37, 50},
		},
		{
			name:  "no resources requested, pods scheduled",
			pod:   fwtest.Pod("p"),
			nodes: []*api.Node{fwtest.Node("node1", 4000, 10000), fwtest.Node("node2", 4000, 10000)},
			existing: []*api.Pod{
				fwtest.OnNode(fwtest.Pod("a"), "node1"), fwtest.OnNode(fwtest.Pod("b"), "node1"),
				fwtest.OnNode(fwtest.Pod("c"), "node2"), fwtest.OnNode(fwtest.Pod("d"), "node2"),
			},
			want: []int64{100, 100},
		},
		{
			name:  "zero node resources, pods scheduled with resources",
			pod:   fwtest.Pod("p"),
			nodes: []*api.Node{fwtest.Node("node1", 0, 0), fwtest.Node("node2", 0, 0)},
			existing: []*api.Pod{
				fwtest.OnNode(fwtest.Pod("a", req(3000, 1)), "node1"),
				fwtest.OnNode(fwtest.Pod("b", req(3000, 5000)), "node2"),
			},
			want: []int64{0, 0},
		},
		{
			// (25·1 + 50·2)/3 = 41; (50 + 100)/3 = 50.
			name:      "different weight on cpu and memory, differently sized nodes",
			pod:       fwtest.Pod("p", req(1000, 2000), req(2000, 3000)),
			nodes:     []*api.Node{fwtest.Node("node1", 4000, 10000), fwtest.Node("node2", 6000, 10000)},
			resources: []ResourceSpec{{Name: ResourceMemory, Weight: 2}, {Name: ResourceCPU, Weight: 1}},
			want:      []int64{41, 50},
		},
		{
			name:      "bypass extended resource if the pod does not request",
			pod:       fwtest.Pod("p", req(1000, 2000), req(2000, 3000)),
			nodes:     []*api.Node{fwtest.Node("node1", 6000, 10000), fwtest.WithScalar(fwtest.Node("node2", 6000, 10000), extRes, 4)},
			resources: withExt,
			want:      []int64{50, 50},
		},
		{
			// extended: (4-2)/4 = 50 and (10-2)/10 = 80 → (50+50+50)/3, (50+50+80)/3.
			name:      "honor extended resource if the pod requests",
			pod:       fwtest.Pod("p", reqExt(3000, 5000, extRes, 2)),
			nodes:     []*api.Node{fwtest.WithScalar(fwtest.Node("node1", 6000, 10000), extRes, 4), fwtest.WithScalar(fwtest.Node("node2", 6000, 10000), extRes, 10)},
			resources: withExt,
			want:      []int64{50, 60},
		},
		{
			name:      "if the node doesn't have a resource",
			pod:       fwtest.Pod("p", req(3000, 4000)),
			nodes:     []*api.Node{fwtest.Node("node1", 6000, 10000), fwtest.WithScalar(fwtest.Node("node2", 6000, 10000), extRes, 4)},
			resources: []ResourceSpec{{Name: extRes, Weight: 2}, {Name: ResourceCPU, Weight: 1}, {Name: ResourceMemory, Weight: 1}},
			want:      []int64{55, 55},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := tc.resources
			if rs == nil {
				rs = DefaultResources()
			}
			pl := mustFit(t, FitArgs{ScoringStrategy: &ScoringStrategy{Type: LeastAllocated, Resources: rs}})
			scores, _, st := fwtest.Scores(pl, tc.pod, fwtest.NodeInfos(tc.nodes, tc.existing))
			if !st.IsSuccess() {
				t.Fatal(st)
			}
			if got := fwtest.Values(scores); !slices.Equal(got, tc.want) {
				t.Errorf("scores = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNonZeroDefaultsInFitScore(t *testing.T) {
	// A pod with no requests counts 100m / 200 MiB (reference §2.6.1): on a node
	// with 1000m and 1000 MiB, cpu (1000-100)/1000 = 90, memory (1000-200)/1000 = 80.
	pl := mustFit(t, nil)
	node := fwtest.Node("n", 1000, 1000<<20)
	scores, _, st := fwtest.Scores(pl, fwtest.Pod("p", req(0, 0)), fwtest.NodeInfos([]*api.Node{node}, nil))
	if !st.IsSuccess() || scores[0].Score != 85 {
		t.Fatalf("score = %v (%v), want 85", scores, st)
	}
	// Existing best-effort pods count too, through NodeInfo.NonZeroRequested.
	existing := []*api.Pod{fwtest.OnNode(fwtest.Pod("a", req(0, 0)), "n")}
	scores, _, _ = fwtest.Scores(pl, fwtest.Pod("p", req(0, 0)), fwtest.NodeInfos([]*api.Node{node}, existing))
	if scores[0].Score != 70 { // cpu 80, memory 60
		t.Fatalf("score with an existing best-effort pod = %d, want 70", scores[0].Score)
	}
}

// Expected scores from upstream most_allocated_test.go.
func TestMostAllocated(t *testing.T) {
	pl := mustFit(t, FitArgs{ScoringStrategy: &ScoringStrategy{Type: MostAllocated, Resources: DefaultResources()}})
	tests := []struct {
		name     string
		pod      *api.Pod
		nodes    []*api.Node
		existing []*api.Pod
		want     []int64
	}{
		{
			// cpu 3000·100/4000 = 75, memory 5000·100/10000 = 50 → 62; node2 50, 50 → 50.
			name:  "nothing scheduled, resources requested, differently sized nodes",
			pod:   fwtest.Pod("p", req(1000, 2000), req(2000, 3000)),
			nodes: []*api.Node{fwtest.Node("node1", 4000, 10000), fwtest.Node("node2", 6000, 10000)},
			want:  []int64{62, 50},
		},
		{
			// requested over capacity is clamped: cpu 100, memory 50 → 75.
			name:     "resources requested with more than the node",
			pod:      fwtest.Pod("p", req(2000, 3000)),
			nodes:    []*api.Node{fwtest.Node("node1", 4000, 10000)},
			existing: []*api.Pod{fwtest.OnNode(fwtest.Pod("a", req(3000, 2000)), "node1")},
			want:     []int64{75},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			scores, _, st := fwtest.Scores(pl, tc.pod, fwtest.NodeInfos(tc.nodes, tc.existing))
			if !st.IsSuccess() {
				t.Fatal(st)
			}
			if got := fwtest.Values(scores); !slices.Equal(got, tc.want) {
				t.Errorf("scores = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRequestedToCapacityRatio(t *testing.T) {
	// Shape (0%, 10) → (100%, 0) is "least allocated" on a 0..100 scale; the
	// per-resource score is f(req·100/alloc) and the weighted mean is rounded.
	args := FitArgs{ScoringStrategy: &ScoringStrategy{
		Type:      RequestedToCapacityRatio,
		Resources: DefaultResources(),
		Shape:     []UtilizationShapePoint{{Utilization: 0, Score: 10}, {Utilization: 100, Score: 0}},
	}}
	pl := mustFit(t, args)
	// cpu 3000/4000 = 75 % → 25; memory 5000/10000 = 50 % → 50; round(37.5) = 38.
	scores, _, st := fwtest.Scores(pl, fwtest.Pod("p", req(3000, 5000)), fwtest.NodeInfos([]*api.Node{fwtest.Node("n", 4000, 10000)}, nil))
	if !st.IsSuccess() || scores[0].Score != 38 {
		t.Fatalf("score = %v (%v), want 38", scores, st)
	}
	if got := brokenLinear([]shapePoint{{0, 0}, {50, 100}, {100, 0}}, 75); got != 50 {
		t.Errorf("brokenLinear at 75 = %d, want 50", got)
	}
}

func TestFitArgsValidation(t *testing.T) {
	tests := []struct {
		name    string
		args    FitArgs
		wantErr string
	}{
		{"default", DefaultFitArgs(), ""},
		{"negative weight", FitArgs{ScoringStrategy: &ScoringStrategy{Type: LeastAllocated, Resources: []ResourceSpec{{Name: ResourceMemory, Weight: -1}, {Name: ResourceCPU, Weight: 1}}}}, "scoringStrategy.resources[0].weight"},
		{"zero weight", FitArgs{ScoringStrategy: &ScoringStrategy{Type: LeastAllocated, Resources: []ResourceSpec{{Name: ResourceMemory, Weight: 1}, {Name: ResourceCPU, Weight: 0}}}}, "scoringStrategy.resources[1].weight"},
		{"weight over 100", FitArgs{ScoringStrategy: &ScoringStrategy{Type: LeastAllocated, Resources: []ResourceSpec{{Name: ResourceMemory, Weight: 1}, {Name: ResourceCPU, Weight: 101}}}}, "scoringStrategy.resources[1].weight"},
		{"unknown strategy", FitArgs{ScoringStrategy: &ScoringStrategy{Type: "Random", Resources: DefaultResources()}}, "scoringStrategy.type"},
		{"shape required", FitArgs{ScoringStrategy: &ScoringStrategy{Type: RequestedToCapacityRatio, Resources: DefaultResources()}}, "scoringStrategy.shape"},
		{"shape not increasing", FitArgs{ScoringStrategy: &ScoringStrategy{Type: RequestedToCapacityRatio, Resources: DefaultResources(),
			Shape: []UtilizationShapePoint{{50, 1}, {50, 2}}}}, "scoringStrategy.shape[1].utilization"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewFit(tc.args, nil)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want mention of %q", err, tc.wantErr)
			}
		})
	}
	if _, err := NewFit(42, nil); err == nil {
		t.Error("wrong args type accepted")
	}
}

func TestFitFilter(t *testing.T) {
	node := func() *api.Node {
		n := fwtest.Node("n", 10, 20)
		n.Status.Allocatable.Pods = 32
		return fwtest.WithScalar(n, extRes, 5)
	}
	tests := []struct {
		name     string
		pod      *api.Pod
		existing []*api.Pod
		pods     int64 // allocatable pods override
		code     framework.Code
		reasons  []string
	}{
		{name: "no resources requested always fits", pod: fwtest.Pod("p"),
			existing: []*api.Pod{fwtest.OnNode(fwtest.Pod("a", req(10, 20)), "n")}},
		{name: "too many resources fails", pod: fwtest.Pod("p", req(1, 1)),
			existing: []*api.Pod{fwtest.OnNode(fwtest.Pod("a", req(10, 20)), "n")},
			code:     framework.Unschedulable, reasons: []string{ReasonInsufficientCPU, ReasonInsufficientMemory}},
		{name: "one resource short", pod: fwtest.Pod("p", req(1, 1)),
			existing: []*api.Pod{fwtest.OnNode(fwtest.Pod("a", req(5, 19)), "n")}},
		{name: "memory short", pod: fwtest.Pod("p", req(1, 2)),
			existing: []*api.Pod{fwtest.OnNode(fwtest.Pod("a", req(5, 19)), "n")},
			code:     framework.Unschedulable, reasons: []string{ReasonInsufficientMemory}},
		{name: "request larger than the node is unresolvable", pod: fwtest.Pod("p", req(11, 1)),
			code: framework.UnschedulableAndUnresolvable, reasons: []string{ReasonInsufficientCPU}},
		{name: "init container max counts", pod: func() *api.Pod {
			p := fwtest.Pod("p", req(1, 1))
			p.Spec.InitContainers = []api.Container{{Name: "i", Image: "x", Requests: req(6, 1)}}
			return p
		}(), existing: []*api.Pod{fwtest.OnNode(fwtest.Pod("a", req(5, 1)), "n")},
			code: framework.Unschedulable, reasons: []string{ReasonInsufficientCPU}},
		{name: "too many pods", pod: fwtest.Pod("p"), pods: 1,
			existing: []*api.Pod{fwtest.OnNode(fwtest.Pod("a"), "n")},
			code:     framework.Unschedulable, reasons: []string{ReasonTooManyPods}},
		{name: "extended resource short", pod: fwtest.Pod("p", reqExt(1, 1, extRes, 3)),
			existing: []*api.Pod{fwtest.OnNode(fwtest.Pod("a", reqExt(0, 0, extRes, 3)), "n")},
			code:     framework.Unschedulable, reasons: []string{"Insufficient " + string(extRes)}},
		{name: "extended resource the node lacks is unresolvable", pod: fwtest.Pod("p", reqExt(1, 1, "example.com/bar", 1)),
			code: framework.UnschedulableAndUnresolvable, reasons: []string{"Insufficient example.com/bar"}},
	}
	pl := mustFit(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := node()
			if tc.pods > 0 {
				n.Status.Allocatable.Pods = tc.pods
			}
			ni := fwtest.NodeInfos([]*api.Node{n}, tc.existing)[0]
			st := pl.Filter(framework.NewCycleState(), framework.NewPodInfo(tc.pod), ni)
			if st.Code() != tc.code || !slices.Equal(st.Reasons(), tc.reasons) {
				t.Errorf("status = %v, want %v %v", st, tc.code, tc.reasons)
			}
		})
	}
	ignoring := mustFit(t, FitArgs{IgnoredResourceGroups: []string{"example.com"}})
	ni := fwtest.NodeInfos([]*api.Node{node()}, nil)[0]
	if st := ignoring.Filter(framework.NewCycleState(), framework.NewPodInfo(fwtest.Pod("p", reqExt(1, 1, "example.com/bar", 1))), ni); st != nil {
		t.Errorf("ignored resource group still checked: %v", st)
	}
}

// Cases and expected scores from upstream balanced_allocation_test.go (the v1.35
// formula int((1-std)·100)).
func TestBalancedAllocationUpstreamCases(t *testing.T) {
	const gpu api.ResourceName = "nvidia.com/gpu"
	cpuAndMemory := func(name string) *api.Pod { return fwtest.Pod(name, req(1000, 2000), req(2000, 3000)) }
	cpuOnly := func(name string) *api.Pod { return fwtest.Pod(name, req(1000, 0), req(2000, 0)) }
	cpuMemGPU := func(name string) *api.Pod { return fwtest.Pod(name, req(1000, 2000), reqExt(2000, 3000, gpu, 3)) }
	withGPU := []ResourceSpec{{Name: ResourceCPU, Weight: 1}, {Name: ResourceMemory, Weight: 1}, {Name: gpu, Weight: 1}}
	tests := []struct {
		name      string
		pod       *api.Pod
		nodes     []*api.Node
		existing  []*api.Pod
		resources []ResourceSpec
		want      []int64
		skip      bool
	}{
		{name: "nothing scheduled, nothing requested, skip in PreScore", pod: fwtest.Pod("p"),
			nodes: []*api.Node{fwtest.Node("node1", 4000, 10000), fwtest.Node("node2", 4000, 10000)}, skip: true},
		{name: "nothing scheduled, resources requested, differently sized nodes", pod: cpuAndMemory("p"),
			nodes: []*api.Node{fwtest.Node("node1", 4000, 10000), fwtest.Node("node2", 6000, 10000)}, want: []int64{87, 100}},
		{name: "resources requested, pods scheduled with resources", pod: cpuAndMemory("p"),
			nodes:    []*api.Node{fwtest.Node("node1", 10000, 20000), fwtest.Node("node2", 10000, 20000)},
			existing: []*api.Pod{fwtest.OnNode(cpuOnly("a"), "node1"), fwtest.OnNode(cpuAndMemory("b"), "node2")},
			want:     []int64{82, 95}},
		{name: "resources requested, pods scheduled with resources, differently sized nodes", pod: cpuAndMemory("p"),
			nodes:    []*api.Node{fwtest.Node("node1", 10000, 20000), fwtest.Node("node2", 10000, 50000)},
			existing: []*api.Pod{fwtest.OnNode(cpuOnly("a"), "node1"), fwtest.OnNode(cpuAndMemory("b"), "node2")},
			want:     []int64{82, 80}},
		{name: "requested resources at node capacity", pod: cpuOnly("p"),
			nodes:    []*api.Node{fwtest.Node("node1", 6000, 10000), fwtest.Node("node2", 6000, 10000)},
			existing: []*api.Pod{fwtest.OnNode(cpuOnly("a"), "node1"), fwtest.OnNode(cpuAndMemory("b"), "node2")},
			want:     []int64{50, 75}},
		{name: "include scalar resource on a node for balanced resource allocation", pod: fwtest.Pod("p", reqExt(0, 0, gpu, 1)),
			nodes:     []*api.Node{fwtest.WithScalar(fwtest.Node("node1", 3500, 40000), gpu, 8), fwtest.WithScalar(fwtest.Node("node2", 3500, 40000), gpu, 8)},
			existing:  []*api.Pod{fwtest.OnNode(cpuAndMemory("a"), "node2"), fwtest.OnNode(cpuMemGPU("b"), "node1")},
			resources: withGPU, want: []int64{70, 65}},
		{name: "node without the scalar resource should skip the scalar resource", pod: cpuAndMemory("p"),
			nodes:     []*api.Node{fwtest.WithScalar(fwtest.Node("node1", 3500, 40000), gpu, 8), fwtest.Node("node2", 3500, 40000)},
			resources: withGPU, want: []int64{63, 63}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pl, err := NewBalancedAllocation(BalancedAllocationArgs{Resources: tc.resources}, nil)
			if err != nil {
				t.Fatal(err)
			}
			scores, skipped, st := fwtest.Scores(pl.(framework.ScorePlugin), tc.pod, fwtest.NodeInfos(tc.nodes, tc.existing))
			if !st.IsSuccess() {
				t.Fatal(st)
			}
			if skipped != tc.skip {
				t.Fatalf("skipped = %v, want %v", skipped, tc.skip)
			}
			if got := fwtest.Values(scores); !tc.skip && !slices.Equal(got, tc.want) {
				t.Errorf("scores = %v, want %v", got, tc.want)
			}
		})
	}
}

// The v1.36 formula (reference §2.6.2, upstream PR #135573): 50 + (50 + with − without)/2.
// node1: without = int((1−|0.3−0|/2)·100) = 85, with = int((1−|0.6−0.25|/2)·100) = 82 → 73.
// node2: without = int((1−|0.3−0.25|/2)·100) = 97, with = 95 → 74.
// An unchanged balance scores 75; v1.35 scores the same input 82 and 95.
func TestBalancedAllocationV136(t *testing.T) {
	cpuAndMemory := func(name string) *api.Pod { return fwtest.Pod(name, req(1000, 2000), req(2000, 3000)) }
	cpuOnly := func(name string) *api.Pod { return fwtest.Pod(name, req(1000, 0), req(2000, 0)) }
	nodes := []*api.Node{fwtest.Node("node1", 10000, 20000), fwtest.Node("node2", 10000, 20000), fwtest.Node("node3", 10000, 20000)}
	existing := []*api.Pod{fwtest.OnNode(cpuOnly("a"), "node1"), fwtest.OnNode(cpuAndMemory("b"), "node2")}
	for _, tc := range []struct {
		version BalancedVersion
		pod     *api.Pod
		want    []int64
	}{
		{BalancedV136, cpuAndMemory("p"), []int64{73, 74, 73}},
		{"", cpuAndMemory("p"), []int64{82, 95, 97}},
		{BalancedV135, cpuAndMemory("p"), []int64{82, 95, 97}},
		// A pod that moves no node's cpu/memory fraction gap (0.1 and 0.1 of
		// allocatable) leaves every balance unchanged: 75 everywhere.
		{BalancedV136, fwtest.Pod("q", req(1000, 2000)), []int64{75, 75, 75}},
	} {
		pl, err := NewBalancedAllocation(BalancedAllocationArgs{Version: tc.version}, nil)
		if err != nil {
			t.Fatal(err)
		}
		scores, _, st := fwtest.Scores(pl.(framework.ScorePlugin), tc.pod, fwtest.NodeInfos(nodes, existing))
		if !st.IsSuccess() {
			t.Fatal(st)
		}
		if got := fwtest.Values(scores); !slices.Equal(got, tc.want) {
			t.Errorf("version %q: scores = %v, want %v", tc.version, got, tc.want)
		}
	}
	if _, err := NewBalancedAllocation(BalancedAllocationArgs{Version: "v9"}, nil); err == nil {
		t.Error("unknown version accepted")
	}
}
