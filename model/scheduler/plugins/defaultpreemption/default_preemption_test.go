package defaultpreemption

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/framework/fwtest"
	"github.com/kubesim/kubesim/model/scheduler/plugins/noderesources"
	"github.com/kubesim/kubesim/sim"
)

// Priorities of upstream's default_preemption_test.go.
const (
	negPriority, lowPriority, midPriority, highPriority int32 = -100, 0, 100, 1000
)

// fakeHandle runs NodeResourcesFit as the only filter.
type fakeHandle struct {
	fwtest.Handle
	fit framework.FilterPlugin
	rnd *rand.Rand
}

func (h *fakeHandle) RunFilterPluginsWithNominatedPods(state *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	return h.fit.Filter(state, pod, ni)
}
func (h *fakeHandle) NominatedPodsForNode(api.NodeName) []*framework.PodInfo { return nil }
func (h *fakeHandle) NominatedNodeName(p *framework.PodInfo) api.NodeName {
	return p.Pod.Status.NominatedNodeName
}
func (h *fakeHandle) PreemptionRand() *rand.Rand { return h.rnd }

func cpuPod(name string, prio int32, milliCPU int64, start int64) *api.Pod {
	p := fwtest.Pod(name, api.Resources{MilliCPU: milliCPU, Memory: 1 << 20})
	p.Spec.Priority = prio
	t := sim.Time(start)
	p.Status.StartTime = &t
	return p
}

func newHandle(t *testing.T, nodes []*api.Node, pods []*api.Pod) *fakeHandle {
	t.Helper()
	fit, err := noderesources.NewFit(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeHandle{Handle: fwtest.Handle{NodeList: fwtest.NodeInfos(nodes, pods)}, fit: fit.(framework.FilterPlugin), rnd: rand.New(rand.NewPCG(1, 2))}
}

func names(ps []*framework.PodInfo) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Pod.Name)
	}
	return strings.Join(out, ",")
}

// Victim selection (upstream TestSelectNodesForPreemption / SelectVictimsOnNode):
// remove all lower-priority pods, reprieve the most important first.
func TestSelectVictimsOnNode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pod     *api.Pod
		pods    []*api.Pod // on node n1 (cpu 1000m)
		victims string
		code    framework.Code
	}{
		{name: "no lower-priority pod", pod: cpuPod("p", midPriority, 600, 0),
			pods: []*api.Pod{cpuPod("a", midPriority, 500, 1), cpuPod("b", highPriority, 500, 1)},
			code: framework.UnschedulableAndUnresolvable},
		{name: "does not fit even after removing all lower-priority pods", pod: cpuPod("p", midPriority, 600, 0),
			pods: []*api.Pod{cpuPod("a", lowPriority, 500, 1), cpuPod("b", highPriority, 500, 1)},
			code: framework.Unschedulable},
		{name: "a pod that fits with one lower-priority pod preempted", pod: cpuPod("p", highPriority, 500, 0),
			pods:    []*api.Pod{cpuPod("a", midPriority, 500, 1), cpuPod("b", lowPriority, 500, 1)},
			victims: "b"},
		{name: "reprieve the higher-priority pod first", pod: cpuPod("p", highPriority, 500, 0),
			pods:    []*api.Pod{cpuPod("low", lowPriority, 300, 1), cpuPod("mid", midPriority, 300, 1), cpuPod("neg", negPriority, 300, 1)},
			victims: "low,neg"},
		{name: "equal priority: the later-started pod is the victim", pod: cpuPod("p", highPriority, 500, 0),
			pods:    []*api.Pod{cpuPod("late", lowPriority, 500, 20), cpuPod("early", lowPriority, 500, 10)},
			victims: "late"},
		{name: "victims ordered most important first", pod: cpuPod("p", highPriority, 1000, 0),
			pods:    []*api.Pod{cpuPod("low", lowPriority, 300, 1), cpuPod("mid", midPriority, 300, 1), cpuPod("neg", negPriority, 300, 1)},
			victims: "mid,low,neg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range tc.pods {
				fwtest.OnNode(p, "n1")
			}
			h := newHandle(t, []*api.Node{fwtest.Node("n1", 1000, 1<<30)}, tc.pods)
			ni := h.NodeList[0]
			before := ni.Requested.MilliCPU
			v, st := SelectVictimsOnNode(framework.NewCycleState(), framework.NewPodInfo(tc.pod), ni, h)
			if st.Code() != tc.code {
				t.Fatalf("status %v, want %v", st, tc.code)
			}
			if got := names(v); got != tc.victims {
				t.Errorf("victims %q, want %q", got, tc.victims)
			}
			if ni.Requested.MilliCPU != before || len(ni.Pods) != len(tc.pods) {
				t.Errorf("the node was modified")
			}
		})
	}
}

// Candidate ordering (upstream TestPickOneNodeForPreemption).
func TestSelectCandidate(t *testing.T) {
	type node struct {
		name string
		pods []*api.Pod
	}
	for _, tc := range []struct {
		name  string
		pod   *api.Pod
		nodes []node // each 1000m
		want  string
	}{
		{name: "node with min highest priority victim is picked", pod: cpuPod("p", highPriority, 1000, 0),
			nodes: []node{
				{"n1", []*api.Pod{cpuPod("a1", midPriority, 500, 1), cpuPod("a2", lowPriority, 500, 1)}},
				{"n2", []*api.Pod{cpuPod("b1", midPriority, 500, 1), cpuPod("b2", lowPriority, 500, 1)}},
				{"n3", []*api.Pod{cpuPod("c1", lowPriority, 500, 1), cpuPod("c2", lowPriority, 500, 1)}},
			}, want: "n3"},
		{name: "same highest priority: min sum of priorities", pod: cpuPod("p", highPriority, 1000, 0),
			nodes: []node{
				{"n1", []*api.Pod{cpuPod("a1", midPriority, 500, 1), cpuPod("a2", lowPriority, 500, 1)}},
				{"n2", []*api.Pod{cpuPod("b1", midPriority, 500, 1), cpuPod("b2", negPriority, 500, 1)}},
				{"n3", []*api.Pod{cpuPod("c1", midPriority, 500, 1), cpuPod("c2", midPriority, 500, 1)}},
			}, want: "n2"},
		{name: "same highest priority and sum: fewest victims", pod: cpuPod("p", highPriority, 1000, 0),
			nodes: []node{
				{"n1", []*api.Pod{cpuPod("a1", midPriority, 500, 1), cpuPod("a2", negPriority, 250, 1), cpuPod("a3", negPriority, 250, 1)}},
				{"n2", []*api.Pod{cpuPod("b1", midPriority, 500, 1), cpuPod("b2", negPriority, 500, 1)}},
			}, want: "n2"},
		{name: "sum of adjusted priorities: more negative-priority victims lose", pod: cpuPod("p", highPriority, 1000, 0),
			nodes: []node{
				{"n1", []*api.Pod{cpuPod("a1", negPriority, 500, 1), cpuPod("a2", negPriority, 500, 1)}},
				{"n2", []*api.Pod{cpuPod("b1", negPriority, 1000, 1)}},
			}, want: "n2"},
		{name: "all equal: latest start time of the highest-priority victims", pod: cpuPod("p", highPriority, 1000, 0),
			nodes: []node{
				{"n1", []*api.Pod{cpuPod("a1", midPriority, 1000, 10)}},
				{"n2", []*api.Pod{cpuPod("b1", midPriority, 1000, 30)}},
				{"n3", []*api.Pod{cpuPod("c1", midPriority, 1000, 20)}},
			}, want: "n2"},
		{name: "complete tie: first in the list", pod: cpuPod("p", highPriority, 1000, 0),
			nodes: []node{
				{"n1", []*api.Pod{cpuPod("a1", midPriority, 1000, 10)}},
				{"n2", []*api.Pod{cpuPod("b1", midPriority, 1000, 10)}},
			}, want: "n1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var nodes []*api.Node
			var pods []*api.Pod
			for _, n := range tc.nodes {
				nodes = append(nodes, fwtest.Node(n.name, 1000, 1<<30))
				for _, p := range n.pods {
					pods = append(pods, fwtest.OnNode(p, n.name))
				}
			}
			h := newHandle(t, nodes, pods)
			pl, _ := New(nil, h)
			cands, st := pl.(*DefaultPreemption).DryRun(framework.NewCycleState(), framework.NewPodInfo(tc.pod), h.NodeList, 0, h)
			if len(st) != 0 || len(cands) != len(tc.nodes) {
				t.Fatalf("candidates %d, statuses %v", len(cands), st)
			}
			if got := SelectCandidate(cands).Node.Name; string(got) != tc.want {
				t.Errorf("picked %s, want %s", got, tc.want)
			}
		})
	}
}

func TestNumCandidatesAndArgs(t *testing.T) {
	pl, _ := New(nil, nil)
	d := pl.(*DefaultPreemption)
	for _, tc := range []struct{ nodes, want int }{{5, 5}, {100, 100}, {500, 100}, {5000, 500}} {
		if got := d.NumCandidates(tc.nodes); got != tc.want {
			t.Errorf("NumCandidates(%d) = %d, want %d", tc.nodes, got, tc.want)
		}
	}
	for _, a := range []Args{{-1, 1}, {101, 1}, {10, -1}, {0, 0}} {
		if _, err := New(a, nil); err == nil {
			t.Errorf("args %+v accepted", a)
		}
	}
	if _, err := New("x", nil); err == nil {
		t.Error("wrong args type accepted")
	}
}

func TestPostFilter(t *testing.T) {
	mk := func() (*fakeHandle, []framework.NodeStatus) {
		pods := []*api.Pod{fwtest.OnNode(cpuPod("a", lowPriority, 1000, 1), "n1"), fwtest.OnNode(cpuPod("b", highPriority, 1000, 1), "n2")}
		h := newHandle(t, []*api.Node{fwtest.Node("n1", 1000, 1<<30), fwtest.Node("n2", 1000, 1<<30), fwtest.Node("n3", 1000, 1<<30)}, pods)
		st := framework.NewStatus(framework.Unschedulable, "Insufficient cpu")
		unres := framework.NewStatus(framework.UnschedulableAndUnresolvable, "node(s) had untolerated taint")
		return h, []framework.NodeStatus{{Node: h.NodeList[0], Status: st}, {Node: h.NodeList[1], Status: st}, {Node: h.NodeList[2], Status: unres}}
	}
	t.Run("preempts on the only candidate", func(t *testing.T) {
		h, failed := mk()
		pl, _ := New(nil, h)
		res, st := pl.(framework.PostFilterPlugin).PostFilter(framework.NewCycleState(), framework.NewPodInfo(cpuPod("p", midPriority, 1000, 0)), failed)
		if !st.IsSuccess() || res == nil || !res.Nominate || res.NominatedNodeName != "n1" || len(res.Victims) != 1 || res.Victims[0].Name != "a" {
			t.Fatalf("result %+v status %v", res, st)
		}
	})
	t.Run("no candidate clears the nomination", func(t *testing.T) {
		h, failed := mk()
		pl, _ := New(nil, h)
		res, st := pl.(framework.PostFilterPlugin).PostFilter(framework.NewCycleState(), framework.NewPodInfo(cpuPod("p", lowPriority, 1000, 0)), failed)
		want := "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
		if st.Code() != framework.Unschedulable || st.Message() != want || res == nil || !res.Nominate || res.NominatedNodeName != "" {
			t.Fatalf("result %+v status %v, want %q", res, st, want)
		}
	})
	t.Run("preemptionPolicy Never", func(t *testing.T) {
		h, failed := mk()
		pl, _ := New(nil, h)
		p := cpuPod("p", midPriority, 1000, 0)
		p.Spec.PreemptionPolicy = PreemptNever
		res, st := pl.(framework.PostFilterPlugin).PostFilter(framework.NewCycleState(), framework.NewPodInfo(p), failed)
		if res != nil || st.Message() != "preemption: not eligible due to preemptionPolicy=Never." {
			t.Fatalf("result %+v status %v", res, st)
		}
	})
	t.Run("terminating victim on the nominated node", func(t *testing.T) {
		h, failed := mk()
		ts := sim.Time(5)
		a := h.NodeList[0].Pods[0].Pod.DeepCopy()
		a.DeletionTimestamp = &ts
		h.NodeList[0].RemovePod(a.UID)
		h.NodeList[0].AddPod(framework.NewPodInfo(a))
		pl, _ := New(nil, h)
		p := cpuPod("p", midPriority, 1000, 0)
		p.Status.NominatedNodeName = "n1"
		res, st := pl.(framework.PostFilterPlugin).PostFilter(framework.NewCycleState(), framework.NewPodInfo(p), failed)
		if res != nil || !strings.Contains(st.Message(), "terminating pod on the nominated node") {
			t.Fatalf("result %+v status %v", res, st)
		}
	})
}

func TestMoreImportantPod(t *testing.T) {
	a, b := cpuPod("a", 1, 0, 5), cpuPod("b", 0, 0, 1)
	c := cpuPod("c", 1, 0, 0)
	c.Status.StartTime = nil
	for i, tc := range []struct {
		x, y *api.Pod
		want bool
	}{{a, b, true}, {b, a, false}, {a, c, true}, {c, a, false}, {cpuPod("e", 1, 0, 1), a, true}} {
		if got := MoreImportantPod(tc.x, tc.y); got != tc.want {
			t.Errorf("case %d: %v", i, fmt.Sprint(got))
		}
	}
}
