package nodeaffinity

import (
	"slices"
	"strings"
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/framework/fwtest"
)

func labelled(name string, labels map[string]string) *api.Node {
	n := fwtest.Node(name, 1000, 1000)
	n.Labels = labels
	return n
}

func in(key string, values ...string) api.Requirement {
	return api.Requirement{Key: key, Operator: api.OpIn, Values: values}
}

func pref(w int32, reqs ...api.Requirement) api.PreferredSchedulingTerm {
	return api.PreferredSchedulingTerm{Weight: w, Preference: api.NodeSelectorTerm{MatchExpressions: reqs}}
}

func podWithAffinity(na *api.NodeAffinity) *api.Pod {
	return &api.Pod{Spec: api.PodSpec{Affinity: &api.Affinity{NodeAffinity: na}}}
}

// Cases and expected scores from upstream node_affinity_test.go
// (TestNodeAffinityPriority).
func TestNodeAffinityScoreUpstreamCases(t *testing.T) {
	label1 := map[string]string{"foo": "bar"}
	label2 := map[string]string{"key": "value"}
	label3 := map[string]string{"az": "az1"}
	label4 := map[string]string{"abc": "az11", "def": "az22"}
	label5 := map[string]string{"foo": "bar", "key": "value", "az": "az1"}
	affinity1 := &api.NodeAffinity{Preferred: []api.PreferredSchedulingTerm{pref(2, in("foo", "bar"))}}
	affinity2 := &api.NodeAffinity{Preferred: []api.PreferredSchedulingTerm{
		pref(2, in("foo", "bar")),
		pref(4, in("key", "value")),
		pref(5, in("foo", "bar"), in("key", "value"), in("az", "az1")),
	}}
	tests := []struct {
		name  string
		pod   *api.Pod
		nodes []*api.Node
		args  Args
		want  []int64
		skip  bool
	}{
		{name: "Skip is returned in PreScore when NodeAffinity is nil", pod: &api.Pod{},
			nodes: []*api.Node{labelled("node1", label1)}, skip: true},
		{name: "no node matches the preferred terms: all zero", pod: podWithAffinity(affinity1),
			nodes: []*api.Node{labelled("node1", label4), labelled("node2", label2), labelled("node3", label3)}, want: []int64{0, 0, 0}},
		{name: "only node1 matches the preferred terms", pod: podWithAffinity(affinity1),
			nodes: []*api.Node{labelled("node1", label1), labelled("node2", label2), labelled("node3", label3)}, want: []int64{100, 0, 0}},
		{name: "all nodes match with different priorities", pod: podWithAffinity(affinity2),
			nodes: []*api.Node{labelled("node1", label1), labelled("node5", label5), labelled("node2", label2)}, want: []int64{18, 100, 36}},
		{name: "added affinity", pod: &api.Pod{},
			nodes: []*api.Node{labelled("node1", label1), labelled("node2", label2)},
			args:  Args{AddedAffinity: affinity1}, want: []int64{100, 0}},
		{name: "added affinity and pod has default affinity", pod: podWithAffinity(affinity1),
			nodes: []*api.Node{labelled("node1", label1), labelled("node2", label2), labelled("node3", label5)},
			args:  Args{AddedAffinity: &api.NodeAffinity{Preferred: []api.PreferredSchedulingTerm{pref(3, in("key", "value"))}}},
			want:  []int64{40, 60, 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pl, err := New(tc.args, nil)
			if err != nil {
				t.Fatal(err)
			}
			scores, skipped, st := fwtest.Scores(pl.(framework.ScorePlugin), tc.pod, fwtest.NodeInfos(tc.nodes, nil))
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

func TestNodeAffinityFilter(t *testing.T) {
	node := labelled("node-1", map[string]string{"foo": "bar", "zone": "a"})
	tests := []struct {
		name       string
		pod        *api.Pod
		args       Args
		wantSkip   bool
		wantNames  []api.NodeName // PreFilterResult, nil = all
		wantPreErr string
		wantFit    bool
		wantReason string
	}{
		{name: "no selector or affinity: PreFilter skips", pod: &api.Pod{}, wantSkip: true, wantFit: true},
		{name: "matching nodeSelector", pod: &api.Pod{Spec: api.PodSpec{NodeSelector: map[string]string{"foo": "bar"}}}, wantFit: true},
		{name: "missing nodeSelector label", pod: &api.Pod{Spec: api.PodSpec{NodeSelector: map[string]string{"baz": "blah"}}}, wantReason: ErrReasonPod},
		{name: "required terms are ORed", pod: podWithAffinity(&api.NodeAffinity{Required: []api.NodeSelectorTerm{
			{MatchExpressions: []api.Requirement{in("foo", "nope")}},
			{MatchExpressions: []api.Requirement{in("zone", "a", "b")}},
		}}), wantFit: true},
		{name: "requirements in a term are ANDed", pod: podWithAffinity(&api.NodeAffinity{Required: []api.NodeSelectorTerm{
			{MatchExpressions: []api.Requirement{in("foo", "bar"), {Key: "zone", Operator: api.OpNotIn, Values: []string{"a"}}}},
		}}), wantReason: ErrReasonPod},
		{name: "nodeSelector and affinity must both hold", pod: func() *api.Pod {
			p := podWithAffinity(&api.NodeAffinity{Required: []api.NodeSelectorTerm{{MatchExpressions: []api.Requirement{in("zone", "a")}}}})
			p.Spec.NodeSelector = map[string]string{"foo": "other"}
			return p
		}(), wantReason: ErrReasonPod},
		{name: "matchFields metadata.name narrows the nodes", pod: podWithAffinity(&api.NodeAffinity{Required: []api.NodeSelectorTerm{
			{MatchFields: []api.Requirement{in("metadata.name", "node-1", "node-2")}},
		}}), wantNames: []api.NodeName{"node-1", "node-2"}, wantFit: true},
		{name: "conflicting matchFields", pod: podWithAffinity(&api.NodeAffinity{Required: []api.NodeSelectorTerm{
			{MatchFields: []api.Requirement{in("metadata.name", "node-1"), in("metadata.name", "node-2")}},
		}}), wantPreErr: ErrReasonConflict},
		{name: "scheduler-enforced affinity", pod: &api.Pod{},
			args:       Args{AddedAffinity: &api.NodeAffinity{Required: []api.NodeSelectorTerm{{MatchExpressions: []api.Requirement{in("zone", "b")}}}}},
			wantReason: ErrReasonEnforced},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.args, nil)
			if err != nil {
				t.Fatal(err)
			}
			pl := p.(*NodeAffinity)
			pi := framework.NewPodInfo(tc.pod)
			state := framework.NewCycleState()
			res, st := pl.PreFilter(state, pi, nil)
			if tc.wantPreErr != "" {
				if st.Code() != framework.UnschedulableAndUnresolvable || st.Message() != tc.wantPreErr {
					t.Fatalf("PreFilter = %v, want %q", st, tc.wantPreErr)
				}
				return
			}
			if st.IsSkip() != tc.wantSkip {
				t.Fatalf("PreFilter skip = %v, want %v", st.IsSkip(), tc.wantSkip)
			}
			var names []api.NodeName
			if !res.AllNodes() {
				for n := range res.NodeNames {
					names = append(names, n)
				}
				slices.Sort(names)
			}
			if !slices.Equal(names, tc.wantNames) {
				t.Errorf("PreFilterResult = %v, want %v", names, tc.wantNames)
			}
			fst := pl.Filter(state, pi, fwtest.NodeInfos([]*api.Node{node}, nil)[0])
			if tc.wantFit != fst.IsSuccess() {
				t.Fatalf("Filter = %v, want fit=%v", fst, tc.wantFit)
			}
			if !tc.wantFit && fst.Message() != tc.wantReason {
				t.Errorf("reason = %q, want %q", fst.Message(), tc.wantReason)
			}
		})
	}
}

func TestNodeAffinityArgsValidation(t *testing.T) {
	_, err := New(Args{AddedAffinity: &api.NodeAffinity{Preferred: []api.PreferredSchedulingTerm{pref(0, in("a", "b"))}}}, nil)
	if err == nil || !strings.Contains(err.Error(), "preferred[0].weight") {
		t.Errorf("weight 0 accepted or badly reported: %v", err)
	}
	_, err = New(Args{AddedAffinity: &api.NodeAffinity{Required: []api.NodeSelectorTerm{{MatchExpressions: []api.Requirement{{Key: "a", Operator: "Like"}}}}}}, nil)
	if err == nil || !strings.Contains(err.Error(), "required[0].matchExpressions[0]") {
		t.Errorf("bad operator accepted or badly reported: %v", err)
	}
}
