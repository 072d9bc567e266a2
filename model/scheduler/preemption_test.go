package scheduler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/sim"
)

// runWithFakeKubelet runs the engine to until in 100 ms steps, deleting (grace 0)
// every named pod that got a deletionTimestamp, as its kubelet would.
func runWithFakeKubelet(t *testing.T, s *stack, names []string, until time.Duration) {
	t.Helper()
	zero := int64(0)
	for now := s.eng.Now(); now < sim.Time(until); now = s.eng.Now() {
		s.eng.RunUntil(now.Add(100 * time.Millisecond))
		for _, n := range names {
			kv, ok := s.srv.Store().Get(api.Key(api.KindPod, api.NamespaceDefault, n))
			if ok && kv.Value.(*api.Pod).DeletionTimestamp != nil {
				s.admin.Delete(api.KindPod, api.NamespaceDefault, n, apiserver.DeleteOptions{GracePeriodSeconds: &zero}, nil)
			}
		}
	}
}

func prioPod(name string, prio int32, milliCPU int64) *api.Pod {
	p := testPod(name, milliCPU, 256<<20)
	p.Spec.Priority = prio
	p.Spec.TerminationGracePeriodSeconds = 30
	return p
}

func podGone(s *stack, name string) bool {
	_, ok := s.srv.Store().Get(api.Key(api.KindPod, api.NamespaceDefault, name))
	return !ok
}

// A full cluster of low-priority pods; a high-priority pod arrives, preempts the
// right victim, is nominated and bound to the nominated node; a lower-priority pod
// never preempts a higher one.
func TestIntegrationPreemption(t *testing.T) {
	s := newStack(t, 7)
	s.create(t, testNode("node-1", 1000, 4*gi, nil))
	s.create(t, testNode("node-2", 1000, 4*gi, nil))
	sch := s.startScheduler(t, DefaultConfig())
	s.eng.RunUntil(sim.Time(time.Second))
	var all []string
	// node-1 and node-2 each take 2×500m. Priorities: low-0 and low-1 are 0, mid-* 100.
	for i, pr := range []int32{0, 100, 0, 100} {
		name := fmt.Sprintf("low-%d", i)
		if pr == 100 {
			name = fmt.Sprintf("mid-%d", i)
		}
		s.create(t, prioPod(name, pr, 500))
		all = append(all, name)
	}
	runWithFakeKubelet(t, s, all, 3*time.Second)
	for _, n := range all {
		if storedPod(t, s, n).Spec.NodeName == "" {
			t.Fatalf("%s not bound", n)
		}
	}
	// A pod of lower priority than everyone: it must never preempt.
	s.create(t, prioPod("neg", -10, 500))
	all = append(all, "neg")
	runWithFakeKubelet(t, s, all, 5*time.Second)
	neg := storedPod(t, s, "neg")
	if neg.Spec.NodeName != "" || neg.Status.NominatedNodeName != "" {
		t.Fatalf("neg pod bound/nominated: %q %q", neg.Spec.NodeName, neg.Status.NominatedNodeName)
	}
	if c := neg.Condition(api.PodScheduled); c == nil || !strings.Contains(c.Message, "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.") {
		t.Fatalf("neg condition %+v", c)
	}
	if n := len(s.tel.obs["preemption_victims"]); n != 0 {
		t.Fatalf("%d preemptions before the high pod", n)
	}

	// The high-priority pod needs 1000m: on either node both pods must go... unless
	// it takes one node's two pods; every node has one low (0) and one mid (100)
	// pod, so each candidate has victims {mid, low}; ties go to the latest start.
	s.create(t, prioPod("high", 1000, 500))
	all = append(all, "high")
	runWithFakeKubelet(t, s, all, 15*time.Second)
	high := storedPod(t, s, "high")
	if high.Spec.NodeName == "" || high.Status.NominatedNodeName != high.Spec.NodeName {
		t.Fatalf("high pod on %q, nominated %q", high.Spec.NodeName, high.Status.NominatedNodeName)
	}
	// Exactly one victim, the priority-0 pod of the chosen node (500m freed is enough).
	var gone []string
	for _, n := range all[:4] {
		if podGone(s, n) {
			gone = append(gone, n)
		}
	}
	if len(gone) != 1 || !strings.HasPrefix(gone[0], "low-") {
		t.Fatalf("victims %v, want one low-priority pod", gone)
	}
	if v := s.tel.obs["preemption_victims"]; len(v) != 1 || v[0] != 1 {
		t.Fatalf("preemption_victims %v", v)
	}
	// neg is still pending: it never preempted and nothing was freed for it.
	if storedPod(t, s, "neg").Spec.NodeName != "" {
		t.Fatal("neg pod bound")
	}
	var rec string
	for _, r := range s.tel.records {
		if r.Component == Component && r.Action == "preempt" {
			rec = r.Detail
			if r.Step != 3 {
				t.Errorf("preempt record in step %d", r.Step)
			}
		}
	}
	want := fmt.Sprintf("preempted 1 pod of priority 0 on %s for pod pod/default/high (priority 1000)", high.Spec.NodeName)
	if !strings.HasPrefix(rec, want) {
		t.Errorf("preempt record %q, want prefix %q", rec, want)
	}
	if st := sch.Stats(); st.Scheduled != 5 {
		t.Errorf("scheduled %d, want 5", st.Scheduled)
	}
}
