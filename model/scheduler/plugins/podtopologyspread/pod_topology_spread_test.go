package podtopologyspread

import (
	"slices"
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/framework/fwtest"
	"github.com/kubesim/kubesim/sim"
)

var (
	fooSel = &api.LabelSelector{MatchExpressions: []api.Requirement{{Key: "foo", Operator: api.OpExists}}}
	barSel = &api.LabelSelector{MatchExpressions: []api.Requirement{{Key: "bar", Operator: api.OpExists}}}
)

// node builds a node with labels given as key, value pairs.
func node(name string, kv ...string) *api.Node {
	n := fwtest.Node(name, 1000, 1000)
	n.Labels = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		n.Labels[kv[i]] = kv[i+1]
	}
	return n
}

// hn is a node labelled with its hostname (and a zone if given).
func hn(name string, zone ...string) *api.Node {
	if len(zone) > 0 {
		return node(name, api.LabelHostname, name, "zone", zone[0])
	}
	return node(name, api.LabelHostname, name)
}

func pod(name, onNode string, labels ...string) *api.Pod {
	p := fwtest.Pod(name)
	p.Labels = map[string]string{}
	for _, l := range labels {
		p.Labels[l] = ""
	}
	if onNode != "" {
		p.Spec.NodeName = api.NodeName(onNode)
	}
	return p
}

// spread adds a constraint to p.
func spread(p *api.Pod, maxSkew int32, key string, action api.UnsatisfiableConstraintAction, sel *api.LabelSelector) *api.Pod {
	p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints,
		api.TopologySpreadConstraint{MaxSkew: maxSkew, TopologyKey: key, WhenUnsatisfiable: action, LabelSelector: sel})
	return p
}

// pods returns n pods named prefix1..prefixN on node with label foo.
func pods(prefix, onNode string, n int, labels ...string) []*api.Pod {
	if len(labels) == 0 {
		labels = []string{"foo"}
	}
	var out []*api.Pod
	for i := 1; i <= n; i++ {
		out = append(out, pod(prefix+string(rune('0'+i)), onNode, labels...))
	}
	return out
}

func cat(ps ...[]*api.Pod) []*api.Pod { return slices.Concat(ps...) }

// handle adds a default selector to fwtest.Handle.
type handle struct {
	fwtest.Handle
	sel *api.LabelSelector
}

func (h *handle) DefaultSelector(*api.Pod) *api.LabelSelector { return h.sel }

// Cases and expected scores from upstream podtopologyspread/scoring_test.go
// TestPodTopologySpreadScore.
func TestScoreUpstreamCases(t *testing.T) {
	anyway := api.ScheduleAnyway
	terminating := pod("p-a", "node-a", "foo")
	terminating.DeletionTimestamp = new(sim.Time)
	otherNS := pod("p-a1", "node-a", "foo")
	otherNS.Namespace = "ns1"
	tests := []struct {
		name     string
		pod      *api.Pod
		existing []*api.Pod
		nodes    []*api.Node
		failed   []*api.Node
		svc      *api.LabelSelector
		want     []int64
	}{
		{name: "one constraint on node, no existing pods", pod: spread(pod("p", "", "foo"), 1, api.LabelHostname, anyway, fooSel),
			nodes: []*api.Node{hn("node-a"), hn("node-b")}, want: []int64{100, 100}},
		{name: "one constraint on node, all 4 nodes are candidates (2/1/0/3)", pod: spread(pod("p", "", "foo"), 1, api.LabelHostname, anyway, fooSel),
			existing: cat(pods("p-a", "node-a", 2), pods("p-b", "node-b", 1), pods("p-d", "node-d", 3)),
			nodes:    []*api.Node{hn("node-a"), hn("node-b"), hn("node-c"), hn("node-d")}, want: []int64{20, 60, 100, 0}},
		{name: "one constraint on node, null selector", pod: spread(pod("p", "", "foo"), 1, api.LabelHostname, anyway, nil),
			existing: cat(pods("p-a", "node-a", 2), pods("p-b", "node-b", 1), pods("p-d", "node-d", 3)),
			nodes:    []*api.Node{hn("node-a"), hn("node-b"), hn("node-c"), hn("node-d")}, want: []int64{100, 100, 100, 100}},
		{name: "maxSkew=2", pod: spread(pod("p", "", "foo"), 2, api.LabelHostname, anyway, fooSel),
			existing: cat(pods("p-a", "node-a", 2), pods("p-b", "node-b", 1), pods("p-d", "node-d", 3)),
			nodes:    []*api.Node{hn("node-a"), hn("node-b"), hn("node-c"), hn("node-d")}, want: []int64{33, 66, 100, 16}},
		{name: "maxSkew=3 (4/3/2/1)", pod: spread(pod("p", "", "foo"), 3, api.LabelHostname, anyway, fooSel),
			existing: cat(pods("p-a", "node-a", 4), pods("p-b", "node-b", 3), pods("p-c", "node-c", 2), pods("p-d", "node-d", 1)),
			nodes:    []*api.Node{hn("node-a"), hn("node-b"), hn("node-c"), hn("node-d")}, want: []int64{44, 66, 77, 100}},
		{name: "system defaulting, nodes don't have zone, pods match service", pod: pod("p", "", "foo"),
			existing: cat(pods("p-a", "node-a", 4), pods("p-b", "node-b", 3), pods("p-c", "node-c", 2), pods("p-d", "node-d", 1)),
			nodes:    []*api.Node{hn("node-a"), hn("node-b"), hn("node-c"), hn("node-d")},
			svc:      &api.LabelSelector{MatchLabels: map[string]string{"foo": ""}}, want: []int64{44, 66, 77, 100}},
		{name: "3 out of 4 nodes are candidates", pod: spread(pod("p", "", "foo"), 1, api.LabelHostname, anyway, fooSel),
			existing: cat(pods("p-a", "node-a", 4), pods("p-b", "node-b", 2), pods("p-x", "node-x", 1), pods("p-y", "node-y", 3)),
			nodes:    []*api.Node{hn("node-a"), hn("node-b"), hn("node-x")}, failed: []*api.Node{hn("node-y")},
			want: []int64{33, 83, 100}},
		{name: "one node doesn't match topology key", pod: spread(pod("p", "", "foo"), 1, api.LabelHostname, anyway, fooSel),
			existing: cat(pods("p-a", "node-a", 4), pods("p-b", "node-b", 2), pods("p-x", "node-x", 1), pods("p-y", "node-y", 3)),
			nodes:    []*api.Node{hn("node-a"), node("node-b", "n", "node-b"), hn("node-x")}, failed: []*api.Node{hn("node-y")},
			want: []int64{16, 0, 100}},
		{name: "one constraint on zone, 3 out of 4 nodes are candidates", pod: spread(pod("p", "", "foo"), 1, "zone", anyway, fooSel),
			existing: cat(pods("p-a", "node-a", 4), pods("p-b", "node-b", 2), pods("p-x", "node-x", 1), pods("p-y", "node-y", 3)),
			nodes:    []*api.Node{hn("node-a", "zone1"), hn("node-b", "zone1"), hn("node-x", "zone2")}, failed: []*api.Node{hn("node-y", "zone2")},
			want: []int64{75, 75, 100}},
		{name: "two constraints on zone and node, 2 out of 4 nodes are candidates",
			pod:      spread(spread(pod("p", "", "foo"), 1, "zone", anyway, fooSel), 1, api.LabelHostname, anyway, fooSel),
			existing: cat(pods("p-a", "node-a", 2), pods("p-b", "node-b", 1), pods("p-x", "node-x", 2), pods("p-y", "node-y", 4)),
			nodes:    []*api.Node{hn("node-a", "zone1"), hn("node-x", "zone2")}, failed: []*api.Node{hn("node-b", "zone1"), hn("node-y", "zone2")},
			want: []int64{100, 63}},
		{name: "two constraints on zone and node, with different labelSelectors",
			pod:      spread(spread(pod("p", "", "foo", "bar"), 1, "zone", anyway, fooSel), 1, api.LabelHostname, anyway, barSel),
			existing: []*api.Pod{pod("p-a1", "node-a", "foo"), pod("p-b1", "node-b", "foo", "bar"), pod("p-y1", "node-y", "foo"), pod("p-y2", "node-y", "bar")},
			nodes:    []*api.Node{hn("node-a", "zone1"), hn("node-b", "zone1"), hn("node-x", "zone2"), hn("node-y", "zone2")},
			want:     []int64{60, 20, 100, 60}},
		{name: "different labelSelectors, 3 out of 4 nodes are candidates",
			pod:      spread(spread(pod("p", "", "foo", "bar"), 1, "zone", anyway, fooSel), 1, api.LabelHostname, anyway, barSel),
			existing: []*api.Pod{pod("p-a1", "node-a", "foo"), pod("p-b1", "node-b", "foo", "bar"), pod("p-y1", "node-y", "foo"), pod("p-y2", "node-y", "bar")},
			nodes:    []*api.Node{hn("node-a", "zone1"), hn("node-b", "zone1"), hn("node-x", "zone2")}, failed: []*api.Node{hn("node-y", "zone2")},
			want: []int64{50, 25, 100}},
		{name: "existing pods in a different namespace do not count", pod: spread(pod("p", "", "foo"), 1, api.LabelHostname, anyway, fooSel),
			existing: []*api.Pod{otherNS, pod("p-a2", "node-a", "foo"), pod("p-b1", "node-b", "foo"), pod("p-b2", "node-b", "foo")},
			nodes:    []*api.Node{hn("node-a"), hn("node-b")}, want: []int64{100, 33}},
		{name: "terminating pods are excluded", pod: spread(pod("p", "", "foo"), 1, api.LabelHostname, anyway, fooSel),
			existing: []*api.Pod{terminating, pod("p-b", "node-b", "foo")},
			nodes:    []*api.Node{hn("node-a"), hn("node-b")}, want: []int64{100, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			all := fwtest.NodeInfos(slices.Concat(tc.nodes, tc.failed), tc.existing)
			h := &handle{Handle: fwtest.Handle{NodeList: all}, sel: tc.svc}
			pl, err := New(nil, h)
			if err != nil {
				t.Fatal(err)
			}
			scores, skipped, st := fwtest.Scores(pl.(framework.ScorePlugin), tc.pod, all[:len(tc.nodes)])
			if !st.IsSuccess() || skipped {
				t.Fatalf("status %v, skipped %v", st, skipped)
			}
			if got := fwtest.Values(scores); !slices.Equal(got, tc.want) {
				t.Errorf("scores = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestScoreSkips(t *testing.T) {
	nodes := fwtest.NodeInfos([]*api.Node{hn("a"), hn("b")}, nil)
	for _, tc := range []struct {
		name string
		pod  *api.Pod
		sel  *api.LabelSelector
	}{
		{"no constraints and no default selector", pod("p", "", "foo"), nil},
		{"only hard constraints", spread(pod("p", "", "foo"), 1, "zone", api.DoNotSchedule, fooSel), fooSel},
	} {
		pl, _ := New(nil, &handle{Handle: fwtest.Handle{NodeList: nodes}, sel: tc.sel})
		if _, skipped, _ := fwtest.Scores(pl.(framework.ScorePlugin), tc.pod, nodes); !skipped {
			t.Errorf("%s: PreScore did not skip", tc.name)
		}
	}
}

// Filter cases after upstream filtering_test.go TestSingleConstraint: zone1 holds
// 3 matching pods (a:2, b:1), zone2 1 (x:1); with maxSkew 1 only zone2 fits.
func TestFilter(t *testing.T) {
	hard := api.DoNotSchedule
	existing := cat(pods("p-a", "node-a", 2), pods("p-b", "node-b", 1), pods("p-x", "node-x", 1))
	nodes := []*api.Node{hn("node-a", "zone1"), hn("node-b", "zone1"), hn("node-x", "zone2"), hn("node-y", "zone2"), hn("node-n")}
	tests := []struct {
		name string
		pod  *api.Pod
		want []framework.Code
	}{
		{"zone maxSkew 1", spread(pod("p", "", "foo"), 1, "zone", hard, fooSel),
			[]framework.Code{framework.Unschedulable, framework.Unschedulable, framework.Success, framework.Success, framework.UnschedulableAndUnresolvable}},
		{"zone maxSkew 2", spread(pod("p", "", "foo"), 2, "zone", hard, fooSel),
			[]framework.Code{framework.Unschedulable, framework.Unschedulable, framework.Success, framework.Success, framework.UnschedulableAndUnresolvable}},
		{"zone maxSkew 3", spread(pod("p", "", "foo"), 3, "zone", hard, fooSel),
			[]framework.Code{framework.Success, framework.Success, framework.Success, framework.Success, framework.UnschedulableAndUnresolvable}},
		// The incoming pod does not match its own selector: self = 0, skew = 3 − 1 = 2.
		{"zone maxSkew 2, pod not matching itself", spread(pod("p", ""), 2, "zone", hard, fooSel),
			[]framework.Code{framework.Success, framework.Success, framework.Success, framework.Success, framework.UnschedulableAndUnresolvable}},
		// Hostname: counts 2/1/1/0 (node-n has no zone but a hostname): min 0.
		{"hostname maxSkew 1", spread(pod("p", "", "foo"), 1, api.LabelHostname, hard, fooSel),
			[]framework.Code{framework.Unschedulable, framework.Unschedulable, framework.Unschedulable, framework.Success, framework.Success}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			all := fwtest.NodeInfos(nodes, existing)
			pl, err := New(nil, &fwtest.Handle{NodeList: all})
			if err != nil {
				t.Fatal(err)
			}
			p := pl.(*PodTopologySpread)
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
	pl, _ := New(nil, &fwtest.Handle{})
	if _, st := pl.(*PodTopologySpread).PreFilter(framework.NewCycleState(), framework.NewPodInfo(pod("p", "")), nil); !st.IsSkip() {
		t.Errorf("PreFilter without hard constraints = %v, want Skip", st)
	}
}

func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		args Args
		ok   bool
	}{
		{Args{}, true},
		{Args{DefaultingType: ListDefaulting, DefaultConstraints: []api.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: api.ScheduleAnyway}}}, true},
		{Args{DefaultingType: SystemDefaulting, DefaultConstraints: []api.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: api.ScheduleAnyway}}}, false},
		{Args{DefaultingType: ListDefaulting, DefaultConstraints: []api.TopologySpreadConstraint{{MaxSkew: 0, TopologyKey: "zone", WhenUnsatisfiable: api.ScheduleAnyway}}}, false},
		{Args{DefaultingType: "Other"}, false},
	} {
		if _, err := New(tc.args, nil); (err == nil) != tc.ok {
			t.Errorf("New(%+v) error = %v, want ok=%v", tc.args, err, tc.ok)
		}
	}
}
