package interpodaffinity

import (
	"slices"
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/framework/fwtest"
)

func node(name string, kv ...string) *api.Node {
	n := fwtest.Node(name, 1000, 1000)
	n.Labels = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		n.Labels[kv[i]] = kv[i+1]
	}
	return n
}

var podN int

func pod(onNode, security string, aff *api.Affinity) *api.Pod {
	podN++
	p := fwtest.Pod("p" + string(rune('a'+podN%26)) + string(rune('a'+podN/26)))
	if security != "" {
		p.Labels = map[string]string{"security": security}
	}
	p.Spec.NodeName = api.NodeName(onNode)
	p.Spec.Affinity = aff
	return p
}

func in(key string, vals ...string) *api.LabelSelector {
	return &api.LabelSelector{MatchExpressions: []api.Requirement{{Key: key, Operator: api.OpIn, Values: vals}}}
}

func term(sel *api.LabelSelector, key string) api.PodAffinityTerm {
	return api.PodAffinityTerm{LabelSelector: sel, TopologyKey: key}
}

func prefer(w int32, sel *api.LabelSelector, key string) *api.PodAffinity {
	return &api.PodAffinity{Preferred: []api.WeightedPodAffinityTerm{{Weight: w, Term: term(sel, key)}}}
}

// Cases and expected scores from upstream interpodaffinity/scoring_test.go
// TestPreferredAffinity (and hardPodAffinityWeight from TestPreferredAffinityWithHardPodAffinitySymmetricWeight).
func TestScoreUpstreamCases(t *testing.T) {
	stayWithS1InRegion := &api.Affinity{PodAffinity: prefer(5, in("security", "S1"), "region")}
	stayWithS2InRegion := &api.Affinity{PodAffinity: prefer(6, in("security", "S2"), "region")}
	awayFromS1InAz := &api.Affinity{PodAntiAffinity: prefer(5, in("security", "S1"), "az")}
	hardAffinity := &api.Affinity{PodAffinity: &api.PodAffinity{Required: []api.PodAffinityTerm{term(in("security", "S1", "value2"), "region")}}}
	china, india, az1 := []string{"region", "China"}, []string{"region", "India"}, []string{"az", "az1"}
	chinaAz1 := []string{"region", "China", "az", "az1"}
	tests := []struct {
		name     string
		pod      *api.Pod
		existing []*api.Pod
		nodes    []*api.Node
		hard     int32
		want     []int64
		skip     bool
	}{
		{name: "affinity nil: skip", pod: pod("", "S1", nil),
			nodes: []*api.Node{node("node1", china...), node("node2", india...), node("node3", az1...)}, skip: true},
		{name: "affinity: matching pod in the topology gets the high score", pod: pod("", "S1", stayWithS1InRegion),
			existing: []*api.Pod{pod("node1", "S1", nil), pod("node2", "S2", nil), pod("node3", "S1", nil)},
			nodes:    []*api.Node{node("node1", china...), node("node2", india...), node("node3", az1...)}, want: []int64{100, 0, 0}},
		{name: "nodes sharing the topology value share the score", pod: pod("", "", stayWithS1InRegion),
			existing: []*api.Pod{pod("node1", "S1", nil)},
			nodes:    []*api.Node{node("node1", china...), node("node2", chinaAz1...), node("node3", india...)}, want: []int64{100, 100, 0}},
		{name: "region with more matches scores higher", pod: pod("", "S1", stayWithS2InRegion),
			existing: []*api.Pod{pod("node1", "S2", nil), pod("node1", "S2", nil), pod("node2", "S2", nil), pod("node3", "S2", nil), pod("node4", "S2", nil), pod("node5", "S2", nil)},
			nodes:    []*api.Node{node("node1", china...), node("node2", india...), node("node3", china...), node("node4", china...), node("node5", india...)},
			want:     []int64{100, 0, 100, 100, 0}},
		{name: "anti-affinity: nodes in the az with S1 pods score lowest", pod: pod("", "S2", awayFromS1InAz),
			existing: []*api.Pod{pod("node1", "S1", nil), pod("node2", "S2", nil)},
			nodes:    []*api.Node{node("node1", az1...), node("node2", china...)}, want: []int64{0, 100}},
		// Symmetry: existing pods with required affinity terms the pod matches add
		// hardPodAffinityWeight to their region.
		{name: "hard pod affinity symmetric weight", pod: pod("", "S1", nil),
			existing: []*api.Pod{pod("node1", "", hardAffinity), pod("node2", "", hardAffinity)},
			nodes:    []*api.Node{node("node1", china...), node("node2", india...), node("node3", az1...)}, hard: 1, want: []int64{100, 100, 0}},
		{name: "hard pod affinity weight 0", pod: pod("", "S1", nil),
			existing: []*api.Pod{pod("node1", "", hardAffinity), pod("node2", "", hardAffinity)},
			nodes:    []*api.Node{node("node1", china...), node("node2", india...), node("node3", az1...)}, hard: 0, want: []int64{0, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			all := fwtest.NodeInfos(tc.nodes, tc.existing)
			w := tc.hard
			if tc.want == nil && !tc.skip {
				t.Fatal("bad case")
			}
			args := Args{HardPodAffinityWeight: &w}
			if tc.name[:4] != "hard" {
				args = Args{}
			}
			pl, err := New(args, &fwtest.Handle{NodeList: all})
			if err != nil {
				t.Fatal(err)
			}
			scores, skipped, st := fwtest.Scores(pl.(framework.ScorePlugin), tc.pod, all)
			if !st.IsSuccess() || skipped != tc.skip {
				t.Fatalf("status %v skipped %v, want skip %v", st, skipped, tc.skip)
			}
			if got := fwtest.Values(scores); !tc.skip && !slices.Equal(got, tc.want) {
				t.Errorf("scores = %v, want %v", got, tc.want)
			}
		})
	}
}

// Filter cases after upstream interpodaffinity/filtering_test.go.
func TestFilter(t *testing.T) {
	req := func(sel *api.LabelSelector, key string) *api.PodAffinity {
		return &api.PodAffinity{Required: []api.PodAffinityTerm{term(sel, key)}}
	}
	nodes := []*api.Node{node("node1", "region", "r1", "zone", "z1"), node("node2", "region", "r1", "zone", "z2"), node("node3", "region", "r2", "zone", "z3"), node("node4")}
	ok, unres, unsched := framework.Success, framework.UnschedulableAndUnresolvable, framework.Unschedulable
	tests := []struct {
		name     string
		pod      *api.Pod
		existing []*api.Pod
		want     []framework.Code
	}{
		{"required affinity in region", pod("", "", &api.Affinity{PodAffinity: req(in("security", "S1"), "region")}),
			[]*api.Pod{pod("node1", "S1", nil)}, []framework.Code{ok, ok, unres, unres}},
		{"required affinity, first pod of its group matches itself", pod("", "S1", &api.Affinity{PodAffinity: req(in("security", "S1"), "region")}),
			nil, []framework.Code{ok, ok, ok, unres}},
		{"required affinity, no match and not self-matching", pod("", "S2", &api.Affinity{PodAffinity: req(in("security", "S1"), "region")}),
			nil, []framework.Code{unres, unres, unres, unres}},
		{"required anti-affinity in zone", pod("", "", &api.Affinity{PodAntiAffinity: req(in("security", "S1"), "zone")}),
			[]*api.Pod{pod("node1", "S1", nil)}, []framework.Code{unsched, ok, ok, ok}},
		{"existing pod's anti-affinity in region", pod("", "S1", nil),
			[]*api.Pod{pod("node3", "", &api.Affinity{PodAntiAffinity: req(in("security", "S1"), "region")})}, []framework.Code{ok, ok, unsched, ok}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			all := fwtest.NodeInfos(nodes, tc.existing)
			pl, _ := New(nil, &fwtest.Handle{NodeList: all})
			p := pl.(*InterPodAffinity)
			state := framework.NewCycleState()
			pi := framework.NewPodInfo(tc.pod)
			if _, st := p.PreFilter(state, pi, all); !st.IsSuccess() {
				t.Fatal(st)
			}
			var got []framework.Code
			for _, ni := range all {
				got = append(got, p.Filter(state, pi, ni).Code())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("codes = %v, want %v", got, tc.want)
			}
		})
	}
	pl, _ := New(nil, &fwtest.Handle{NodeList: fwtest.NodeInfos(nodes, nil)})
	if _, st := pl.(*InterPodAffinity).PreFilter(framework.NewCycleState(), framework.NewPodInfo(pod("", "S1", nil)), nil); !st.IsSkip() {
		t.Errorf("PreFilter without any terms = %v, want Skip", st)
	}
	bad := int32(101)
	if _, err := New(Args{HardPodAffinityWeight: &bad}, nil); err == nil {
		t.Error("hardPodAffinityWeight 101 accepted")
	}
}
