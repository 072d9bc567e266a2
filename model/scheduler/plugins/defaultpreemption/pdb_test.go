package defaultpreemption

import (
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/framework/fwtest"
	"github.com/kubesim/kubesim/sim"
)

// pdbHandle is fakeHandle with budgets (implements PDBLister).
type pdbHandle struct {
	*fakeHandle
	pdbs []*api.PodDisruptionBudget
}

func (h *pdbHandle) PodDisruptionBudgets() []*api.PodDisruptionBudget { return h.pdbs }

func labelled(p *api.Pod, app string) *api.Pod {
	p.Labels = map[string]string{"app": app}
	return p
}

func budget(app string, allowed int32) *api.PodDisruptionBudget {
	return &api.PodDisruptionBudget{ObjectMeta: api.ObjectMeta{Name: "pdb-" + app, Namespace: api.NamespaceDefault},
		Spec:   api.PodDisruptionBudgetSpec{Selector: &api.LabelSelector{MatchLabels: map[string]string{"app": app}}},
		Status: api.PodDisruptionBudgetStatus{DisruptionsAllowed: allowed}}
}

func infos(pods ...*api.Pod) []*framework.PodInfo {
	out := make([]*framework.PodInfo, len(pods))
	for i, p := range pods {
		out[i] = framework.NewPodInfo(p)
	}
	return out
}

// upstream FilterVictimsWithPDBViolation: budgets are spent in the pods' order.
func TestFilterPodsWithPDBViolation(t *testing.T) {
	other := budget("web", 0)
	other.Namespace = "other"
	empty := budget("web", 0)
	empty.Spec.Selector = &api.LabelSelector{}
	disrupted := budget("web", 0)
	disrupted.Status.DisruptedPods = map[string]sim.Time{"w1": 0}
	pair := budget("web", 1)
	pair.Name = "pdb-web2" // after pdb-web
	pair.Spec.Selector = &api.LabelSelector{MatchExpressions: []api.Requirement{{Key: "app", Operator: api.OpIn, Values: []string{"web", "db"}}}}
	for _, tc := range []struct {
		name             string
		pdbs             []*api.PodDisruptionBudget
		violating, clean string
	}{
		{"no budgets", nil, "", "w1,w2,d1,x"},
		{"one allowed: the first matching pod spends it", []*api.PodDisruptionBudget{budget("web", 1)}, "w2", "w1,d1,x"},
		{"none allowed", []*api.PodDisruptionBudget{budget("web", 0), budget("db", 0)}, "w1,w2,d1", "x"},
		{"enough allowed", []*api.PodDisruptionBudget{budget("web", 2)}, "", "w1,w2,d1,x"},
		{"other namespace", []*api.PodDisruptionBudget{other}, "", "w1,w2,d1,x"},
		{"empty selector matches nothing", []*api.PodDisruptionBudget{empty}, "", "w1,w2,d1,x"},
		{"already disrupted pods spend nothing", []*api.PodDisruptionBudget{disrupted}, "w2", "w1,d1,x"},
		// Overlapping budgets: a pod stops spending at the first budget that goes
		// negative, so the order matters (the scheduler lists budgets by namespace
		// and name; upstream's lister in map order, see model/kubescheduler/pdb_test.go).
		{"overlap: w1 and w2 stop at pdb-web, d1 finds pdb-web2 unspent", []*api.PodDisruptionBudget{budget("web", 0), pair}, "w1,w2", "d1,x"},
		{"overlap, other order: w1 spends pdb-web2 first", []*api.PodDisruptionBudget{pair, budget("web", 0)}, "w1,w2,d1", "x"},
		{"overlap: both spent by w1", []*api.PodDisruptionBudget{budget("web", 2), pair}, "w2,d1", "w1,x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nolabels := fwtest.Pod("x")
			pods := infos(labelled(fwtest.Pod("w1"), "web"), labelled(fwtest.Pod("w2"), "web"), labelled(fwtest.Pod("d1"), "db"), nolabels)
			v, c := FilterPodsWithPDBViolation(pods, tc.pdbs)
			if names(v) != tc.violating || names(c) != tc.clean {
				t.Errorf("violating %q clean %q, want %q and %q", names(v), names(c), tc.violating, tc.clean)
			}
		})
	}
}

// Violating pods are reprieved first: a budget that allows no disruption of the
// more important pod keeps it and evicts the other.
func TestSelectVictimsOnNodeWithPDBs(t *testing.T) {
	pods := []*api.Pod{
		fwtest.OnNode(labelled(cpuPod("web", lowPriority, 500, 10), "web"), "n1"),
		fwtest.OnNode(labelled(cpuPod("db", lowPriority, 500, 20), "db"), "n1"),
	}
	for _, tc := range []struct {
		name    string
		pdbs    []*api.PodDisruptionBudget
		victims string
		nv      int
	}{
		{"no budget: the later-started pod goes", nil, "db", 0},
		{"db protected: web goes instead", []*api.PodDisruptionBudget{budget("db", 0)}, "web", 0},
		{"both protected: one violation", []*api.PodDisruptionBudget{budget("db", 0), budget("web", 0)}, "db", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandle(t, []*api.Node{fwtest.Node("n1", 1000, 1<<30)}, pods)
			v, nv, st := SelectVictimsOnNodeWithPDBs(framework.NewCycleState(), framework.NewPodInfo(cpuPod("p", highPriority, 500, 0)), h.NodeList[0], h, tc.pdbs)
			if !st.IsSuccess() {
				t.Fatal(st)
			}
			if names(v) != tc.victims || nv != tc.nv {
				t.Errorf("victims %q (%d violations), want %q (%d)", names(v), nv, tc.victims, tc.nv)
			}
		})
	}
}

// Through PostFilter: the handle's budgets make the node without violations win
// over the one the start-time criterion would pick, and PDB-clean candidates are
// listed first.
func TestPostFilterPrefersFewestPDBViolations(t *testing.T) {
	pods := []*api.Pod{
		fwtest.OnNode(labelled(cpuPod("a", lowPriority, 1000, 10), "web"), "n1"),
		fwtest.OnNode(labelled(cpuPod("b", lowPriority, 1000, 20), "db"), "n2"),
	}
	nodes := []*api.Node{fwtest.Node("n1", 1000, 1<<30), fwtest.Node("n2", 1000, 1<<30)}
	for _, tc := range []struct {
		name string
		pdbs []*api.PodDisruptionBudget
		want api.NodeName
	}{
		{"no budget: latest start time", nil, "n2"},
		{"db protected", []*api.PodDisruptionBudget{budget("db", 0)}, "n1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &pdbHandle{fakeHandle: newHandle(t, nodes, pods), pdbs: tc.pdbs}
			pl, _ := New(nil, h)
			var failed []framework.NodeStatus
			for _, ni := range h.NodeList {
				failed = append(failed, framework.NodeStatus{Node: ni, Status: framework.NewStatus(framework.Unschedulable, "Insufficient cpu")})
			}
			res, st := pl.(framework.PostFilterPlugin).PostFilter(framework.NewCycleState(), framework.NewPodInfo(cpuPod("p", highPriority, 1000, 0)), failed)
			if !st.IsSuccess() {
				t.Fatal(st)
			}
			if res.NominatedNodeName != tc.want {
				t.Errorf("nominated %s, want %s", res.NominatedNodeName, tc.want)
			}
			cands, _ := pl.(*DefaultPreemption).DryRunWithPDBs(framework.NewCycleState(), framework.NewPodInfo(cpuPod("p", highPriority, 1000, 0)), h.NodeList, 0, h, tc.pdbs)
			if len(cands) != 2 || cands[0].NumPDBViolations > cands[1].NumPDBViolations {
				t.Errorf("candidates not PDB-clean first: %+v", cands)
			}
		})
	}
}

// The dry run goes past the candidate count until it holds a PDB-clean candidate.
func TestDryRunSearchesForACleanCandidate(t *testing.T) {
	var nodes []*api.Node
	var pods []*api.Pod
	for i, app := range []string{"db", "db", "web"} {
		n := string(rune('a'+i)) + "-node"
		nodes = append(nodes, fwtest.Node(n, 1000, 1<<30))
		pods = append(pods, fwtest.OnNode(labelled(cpuPod("p-"+n, lowPriority, 1000, int64(i)), app), n))
	}
	h := newHandle(t, nodes, pods)
	pl, _ := New(Args{MinCandidateNodesPercentage: 0, MinCandidateNodesAbsolute: 1}, h)
	d := pl.(*DefaultPreemption)
	pod := framework.NewPodInfo(cpuPod("p", highPriority, 1000, 0))
	cands, _ := d.DryRunWithPDBs(framework.NewCycleState(), pod, h.NodeList, 0, h, nil)
	if len(cands) != 1 {
		t.Fatalf("without budgets: %d candidates, want 1 (the count)", len(cands))
	}
	cands, _ = d.DryRunWithPDBs(framework.NewCycleState(), pod, h.NodeList, 0, h, []*api.PodDisruptionBudget{budget("db", 0)})
	if len(cands) != 3 || cands[0].Node.Name != "c-node" || cands[0].NumPDBViolations != 0 || cands[1].NumPDBViolations != 1 {
		t.Fatalf("with db protected: %d candidates, first %s; want all 3 tried, the clean c-node first", len(cands), cands[0].Node.Name)
	}
}
