package tainttoleration

import (
	"slices"
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/framework/fwtest"
)

func nodeWithTaints(name string, taints ...api.Taint) *api.Node {
	n := fwtest.Node(name, 1000, 1000)
	n.Spec.Taints = taints
	return n
}

func podWithTolerations(tols ...api.Toleration) *api.Pod {
	return &api.Pod{Spec: api.PodSpec{Tolerations: tols}}
}

func pns(key, value string) api.Taint {
	return api.Taint{Key: key, Value: value, Effect: api.TaintPreferNoSchedule}
}

// Cases and expected scores from upstream taint_toleration_test.go
// (TestTaintTolerationScore).
func TestTaintTolerationScoreUpstreamCases(t *testing.T) {
	tests := []struct {
		name  string
		pod   *api.Pod
		nodes []*api.Node
		want  []int64
	}{
		{
			name: "node with taints tolerated by the pod gets a higher score than those with intolerable taints",
			pod:  podWithTolerations(api.Toleration{Key: "foo", Operator: api.TolerationOpEqual, Value: "bar", Effect: api.TaintPreferNoSchedule}),
			nodes: []*api.Node{
				nodeWithTaints("nodeA", pns("foo", "bar")),
				nodeWithTaints("nodeB", pns("foo", "blah")),
			},
			want: []int64{100, 0},
		},
		{
			name: "the nodes whose taints are all tolerated get the same score, however many",
			pod: podWithTolerations(
				api.Toleration{Key: "cpu-type", Operator: api.TolerationOpEqual, Value: "arm64", Effect: api.TaintPreferNoSchedule},
				api.Toleration{Key: "disk-type", Operator: api.TolerationOpEqual, Value: "ssd", Effect: api.TaintPreferNoSchedule}),
			nodes: []*api.Node{
				nodeWithTaints("nodeA"),
				nodeWithTaints("nodeB", pns("cpu-type", "arm64")),
				nodeWithTaints("nodeC", pns("cpu-type", "arm64"), pns("disk-type", "ssd")),
			},
			want: []int64{100, 100, 100},
		},
		{
			name: "the more intolerable taints a node has, the lower score it gets",
			pod:  podWithTolerations(api.Toleration{Key: "foo", Operator: api.TolerationOpEqual, Value: "bar", Effect: api.TaintPreferNoSchedule}),
			nodes: []*api.Node{
				nodeWithTaints("nodeA"),
				nodeWithTaints("nodeB", pns("cpu-type", "arm64")),
				nodeWithTaints("nodeC", pns("cpu-type", "arm64"), pns("disk-type", "ssd")),
			},
			want: []int64{100, 50, 0},
		},
		{
			name: "only taints and tolerations with effect PreferNoSchedule are scored",
			pod: podWithTolerations(
				api.Toleration{Key: "cpu-type", Operator: api.TolerationOpEqual, Value: "arm64", Effect: api.TaintNoSchedule},
				api.Toleration{Key: "disk-type", Operator: api.TolerationOpEqual, Value: "ssd", Effect: api.TaintNoSchedule}),
			nodes: []*api.Node{
				nodeWithTaints("nodeA"),
				nodeWithTaints("nodeB", api.Taint{Key: "cpu-type", Value: "arm64", Effect: api.TaintNoSchedule}),
				nodeWithTaints("nodeC", pns("cpu-type", "arm64"), pns("disk-type", "ssd")),
			},
			want: []int64{100, 100, 0},
		},
		{
			name:  "no taints and tolerations: lands on the node with no taints",
			pod:   podWithTolerations(),
			nodes: []*api.Node{nodeWithTaints("nodeA"), nodeWithTaints("nodeB", pns("cpu-type", "arm64"))},
			want:  []int64{100, 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pl, _ := New(nil, nil)
			scores, _, st := fwtest.Scores(pl.(framework.ScorePlugin), tc.pod, fwtest.NodeInfos(tc.nodes, nil))
			if !st.IsSuccess() {
				t.Fatal(st)
			}
			if got := fwtest.Values(scores); !slices.Equal(got, tc.want) {
				t.Errorf("scores = %v, want %v", got, tc.want)
			}
		})
	}
}

// Cases from upstream TestTaintTolerationFilter, with the v1.35 reason text.
func TestTaintTolerationFilter(t *testing.T) {
	rejected := "node(s) had untolerated taint {dedicated: user1}"
	noSched := func(k, v string) api.Taint { return api.Taint{Key: k, Value: v, Effect: api.TaintNoSchedule} }
	tests := []struct {
		name   string
		pod    *api.Pod
		node   *api.Node
		reason string // "" = fits
	}{
		{"a pod with no tolerations can't go onto a node with NoSchedule taints",
			podWithTolerations(), nodeWithTaints("nodeA", noSched("dedicated", "user1")), rejected},
		{"a pod tolerating the taint fits",
			podWithTolerations(api.Toleration{Key: "dedicated", Value: "user1", Effect: api.TaintNoSchedule}), nodeWithTaints("nodeA", noSched("dedicated", "user1")), ""},
		{"a toleration with another value does not fit",
			podWithTolerations(api.Toleration{Key: "dedicated", Operator: api.TolerationOpEqual, Value: "user2", Effect: api.TaintNoSchedule}), nodeWithTaints("nodeA", noSched("dedicated", "user1")), rejected},
		{"operator Exists tolerates every value",
			podWithTolerations(api.Toleration{Key: "foo", Operator: api.TolerationOpExists, Effect: api.TaintNoSchedule}), nodeWithTaints("nodeA", noSched("foo", "bar")), ""},
		{"all taints tolerated",
			podWithTolerations(api.Toleration{Key: "dedicated", Operator: api.TolerationOpEqual, Value: "user2", Effect: api.TaintNoSchedule}, api.Toleration{Key: "foo", Operator: api.TolerationOpExists, Effect: api.TaintNoSchedule}),
			nodeWithTaints("nodeA", noSched("dedicated", "user2"), noSched("foo", "bar")), ""},
		{"matching key and value but another non-empty effect does not fit",
			podWithTolerations(api.Toleration{Key: "foo", Operator: api.TolerationOpEqual, Value: "bar", Effect: api.TaintPreferNoSchedule}), nodeWithTaints("nodeA", noSched("foo", "bar")),
			"node(s) had untolerated taint {foo: bar}"},
		{"an empty toleration effect matches every effect",
			podWithTolerations(api.Toleration{Key: "foo", Operator: api.TolerationOpEqual, Value: "bar"}), nodeWithTaints("nodeA", noSched("foo", "bar")), ""},
		{"PreferNoSchedule taints are ignored by the filter",
			podWithTolerations(), nodeWithTaints("nodeA", pns("dedicated", "user1")), ""},
		{"NoExecute taints are filtered too",
			podWithTolerations(), nodeWithTaints("nodeA", api.Taint{Key: "dedicated", Value: "user1", Effect: api.TaintNoExecute}), rejected},
	}
	pl, _ := New(nil, nil)
	f := pl.(framework.FilterPlugin)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ni := fwtest.NodeInfos([]*api.Node{tc.node}, nil)[0]
			st := f.Filter(framework.NewCycleState(), framework.NewPodInfo(tc.pod), ni)
			if tc.reason == "" {
				if st != nil {
					t.Fatalf("status = %v, want success", st)
				}
				return
			}
			if st.Code() != framework.UnschedulableAndUnresolvable || st.Message() != tc.reason {
				t.Fatalf("status = %v, want UnschedulableAndUnresolvable %q", st, tc.reason)
			}
		})
	}
}
