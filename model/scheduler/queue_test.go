package scheduler

import (
	"fmt"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/sim"
)

func newTestQueue(t *testing.T, mutate func(*Config)) (*sim.Engine, *schedulingQueue) {
	t.Helper()
	cfg := DefaultConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	rt, err := newFramework(cfg.Profile, NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	eng := sim.New(1)
	return eng, newSchedulingQueue(eng, &cfg, rt)
}

func qPod(name string, priority int32) *framework.PodInfo {
	return framework.NewPodInfo(&api.Pod{
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", UID: api.UID(name)},
		Spec:       api.PodSpec{Priority: priority, Containers: []api.Container{{Name: "c", Image: "i"}}},
	})
}

func (q *schedulingQueue) bitOf(t *testing.T, plugin string) uint64 {
	for i, n := range q.rt.names {
		if n == plugin {
			return 1 << uint(i)
		}
	}
	t.Fatalf("no plug-in %s", plugin)
	return 0
}

func TestBackoffDuration(t *testing.T) {
	_, q := newTestQueue(t, nil)
	want := []time.Duration{0, 1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second, 10 * time.Second}
	for n, w := range want {
		if got := q.backoffDuration(n); got != w {
			t.Errorf("backoffDuration(%d) = %v, want %v", n, got, w)
		}
	}
}

func TestActiveQOrder(t *testing.T) {
	eng, q := newTestQueue(t, nil)
	q.add(qPod("low-early", 0))
	eng.RunUntil(sim.Time(time.Millisecond))
	q.add(qPod("high", 10))
	q.add(qPod("low-late-a", 0))
	q.add(qPod("low-late-b", 0)) // same timestamp as low-late-a: insertion order
	var got []string
	for i := 0; i < 4; i++ {
		info, _ := q.pop()
		got = append(got, info.Pod.Name)
		q.done(info.Pod.UID)
	}
	want := []string{"high", "low-early", "low-late-a", "low-late-b"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pop order %v, want %v", got, want)
	}
	if info, _ := q.pop(); info != nil {
		t.Errorf("pop on empty queue returned %s", info.Pod.Name)
	}
}

func TestRequeueDestinations(t *testing.T) {
	tests := []struct {
		name      string
		rejector  string // "" = error
		inFlight  *framework.ClusterEvent
		selfEdit  bool
		wantState qState
	}{
		{name: "rejected, no event during the attempt", rejector: NodeResourcesFit, wantState: qUnschedulable},
		{name: "rejected, relevant event during the attempt", rejector: NodeResourcesFit,
			inFlight: &framework.ClusterEvent{Resource: framework.NodeResource, ActionType: framework.Add}, wantState: qBackoff},
		{name: "rejected, irrelevant event during the attempt", rejector: NodeResourcesFit,
			inFlight: &framework.ClusterEvent{Resource: framework.NodeResource, ActionType: framework.UpdateNodeLabel}, wantState: qUnschedulable},
		{name: "rejected, the pod itself changed during the attempt", rejector: TaintToleration, selfEdit: true, wantState: qBackoff},
		{name: "error", wantState: qErrorBackoff},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng, q := newTestQueue(t, nil)
			q.add(qPod("p", 0))
			info, _ := q.pop()
			eng.RunUntil(sim.Time(300 * time.Millisecond))
			if tc.inFlight != nil {
				q.onEvent(*tc.inFlight)
			}
			if tc.selfEdit {
				p := info.Pod.DeepCopy()
				p.Spec.Tolerations = []api.Toleration{{Key: "k", Operator: api.TolerationOpExists}}
				q.update(framework.NewPodInfo(p))
			}
			var rej uint64
			if tc.rejector != "" {
				rej = q.bitOf(t, tc.rejector)
			}
			if got := q.requeueFailed("p", rej, nil); got != tc.wantState {
				t.Fatalf("destination %v, want %v", got, tc.wantState)
			}
			if tc.rejector == "" {
				if info.ConsecutiveErrorsCount != 1 || info.UnschedulableCount != 0 {
					t.Errorf("counts %+v", info)
				}
			} else if info.UnschedulableCount != 1 {
				t.Errorf("unschedulable count %d", info.UnschedulableCount)
			}
		})
	}
}

// With PopFromBackoffQ the expiry is truncated to the second and the pod leaves
// backoffQ at the first whole-second tick after it: failed at 0.3 s with a 1 s
// backoff → expiry 1.0 s → flushed at 2.0 s.
func TestBackoffFlushAlignedToSeconds(t *testing.T) {
	eng, q := newTestQueue(t, func(c *Config) { c.PopFromBackoffQ = true })
	kicks := 0
	q.onPoppable = func() { kicks++ }
	q.add(qPod("p", 0))
	q.pop()
	eng.RunUntil(sim.Time(300 * time.Millisecond))
	q.onEvent(framework.ClusterEvent{Resource: framework.NodeResource, ActionType: framework.Add})
	if got := q.requeueFailed("p", q.bitOf(t, NodeResourcesFit), nil); got != qBackoff {
		t.Fatalf("destination %v", got)
	}
	if e := q.entries["p"]; q.backoffTime(e) != sim.Time(time.Second) {
		t.Fatalf("expiry %v, want 1s", q.backoffTime(e))
	}
	eng.RunUntil(sim.Time(1999 * time.Millisecond))
	if st := q.stateOf("p"); st != qBackoff {
		t.Fatalf("at 1.999s state %v, want backoffQ", st)
	}
	eng.RunUntil(sim.Time(2 * time.Second))
	if st := q.stateOf("p"); st != qActive {
		t.Fatalf("at 2s state %v, want activeQ", st)
	}
	if kicks < 2 {
		t.Errorf("onPoppable called %d times", kicks)
	}
}

func TestBackoffFlushWithoutPopFromBackoffQ(t *testing.T) {
	eng, q := newTestQueue(t, func(c *Config) { c.PopFromBackoffQ = false })
	q.add(qPod("p", 0))
	q.pop()
	eng.RunUntil(sim.Time(300 * time.Millisecond))
	q.requeueFailed("p", 0, nil) // error: expiry 1.3 s; ticks every 1 s from 0
	eng.RunUntil(sim.Time(1999 * time.Millisecond))
	if st := q.stateOf("p"); st != qErrorBackoff {
		t.Fatalf("at 1.999s state %v", st)
	}
	eng.RunUntil(sim.Time(2 * time.Second))
	if st := q.stateOf("p"); st != qActive {
		t.Fatalf("at 2s state %v, want activeQ", st)
	}
	// Without the gate an idle scheduler never pops from backoffQ.
	q.pop()
	q.onEvent(framework.ClusterEvent{Resource: framework.NodeResource, ActionType: framework.Add})
	q.requeueFailed("p", q.bitOf(t, NodeResourcesFit), nil)
	if info, _ := q.pop(); info != nil {
		t.Fatal("popped a backing-off pod with PopFromBackoffQ off")
	}
}

func TestPopFromBackoffQWhenActiveEmpty(t *testing.T) {
	eng, q := newTestQueue(t, nil)
	q.add(qPod("a", 0))
	q.add(qPod("err", 0))
	q.pop()
	q.onEvent(framework.ClusterEvent{Resource: framework.NodeResource, ActionType: framework.Add})
	q.requeueFailed("a", q.bitOf(t, NodeResourcesFit), nil)
	q.pop()
	q.requeueFailed("err", 0, nil)
	eng.RunUntil(sim.Time(100 * time.Millisecond))
	info, _ := q.pop()
	if info == nil || info.Pod.Name != "a" {
		t.Fatalf("pop with activeQ empty = %v, want the backoffQ head a", info)
	}
	if info, _ := q.pop(); info != nil {
		t.Fatalf("popped %s from errorBackoffQ before its backoff ended", info.Pod.Name)
	}
}

func TestUnschedulableFlushAfterFiveMinutes(t *testing.T) {
	eng, q := newTestQueue(t, nil)
	q.add(qPod("p", 0))
	eng.RunUntil(sim.Time(10 * time.Second))
	q.pop()
	if got := q.requeueFailed("p", q.bitOf(t, NodeResourcesFit), nil); got != qUnschedulable {
		t.Fatalf("destination %v", got)
	}
	// Ticks every 30 s from 0; the first with now − 10 s > 5 min is 330 s.
	eng.RunUntil(sim.Time(329 * time.Second))
	if st := q.stateOf("p"); st != qUnschedulable {
		t.Fatalf("at 329s state %v", st)
	}
	eng.RunUntil(sim.Time(330 * time.Second))
	if st := q.stateOf("p"); st != qActive {
		t.Fatalf("at 330s state %v, want activeQ", st)
	}
	fired := eng.Fired()
	eng.RunUntil(sim.Time(time.Hour))
	if eng.Fired() != fired {
		t.Errorf("queue with nothing to flush ran %d events", eng.Fired()-fired)
	}
}

func TestClusterEventsMoveOnlyInterestedPods(t *testing.T) {
	tests := []struct {
		name     string
		rejector string
		event    framework.ClusterEvent
		moves    bool
	}{
		{"fit: node allocatable grew", NodeResourcesFit, framework.ClusterEvent{Resource: framework.NodeResource, ActionType: framework.UpdateNodeAllocatable}, true},
		{"fit: assigned pod deleted", NodeResourcesFit, framework.ClusterEvent{Resource: framework.AssignedPodResource, ActionType: framework.Delete}, true},
		{"fit: node label changed", NodeResourcesFit, framework.ClusterEvent{Resource: framework.NodeResource, ActionType: framework.UpdateNodeLabel}, false},
		{"fit: node heartbeat", NodeResourcesFit, framework.ClusterEvent{Resource: framework.NodeResource, ActionType: framework.UpdateNodeCondition}, false},
		{"taints: node taint changed", TaintToleration, framework.ClusterEvent{Resource: framework.NodeResource, ActionType: framework.UpdateNodeTaint}, true},
		{"taints: assigned pod deleted", TaintToleration, framework.ClusterEvent{Resource: framework.AssignedPodResource, ActionType: framework.Delete}, false},
		{"affinity: node label changed", NodeAffinity, framework.ClusterEvent{Resource: framework.NodeResource, ActionType: framework.UpdateNodeLabel}, true},
		{"ports: assigned pod deleted", NodePorts, framework.ClusterEvent{Resource: framework.AssignedPodResource, ActionType: framework.Delete}, true},
		{"cordon: node uncordoned", NodeUnschedulable, framework.ClusterEvent{Resource: framework.NodeResource, ActionType: framework.UpdateNodeTaint}, true},
		{"any: node added", NodeAffinity, framework.ClusterEvent{Resource: framework.NodeResource, ActionType: framework.Add}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng, q := newTestQueue(t, nil)
			q.add(qPod("p", 0))
			q.pop()
			q.requeueFailed("p", q.bitOf(t, tc.rejector), nil)
			eng.RunUntil(sim.Time(30 * time.Second)) // backoff long over
			n := q.onEvent(tc.event)
			if (n == 1) != tc.moves {
				t.Fatalf("moved %d pods, want move=%v", n, tc.moves)
			}
			want := qUnschedulable
			if tc.moves {
				want = qActive
			}
			if st := q.stateOf("p"); st != want {
				t.Errorf("state %v, want %v", st, want)
			}
		})
	}
}

func TestQueueUpdateAndDelete(t *testing.T) {
	eng, q := newTestQueue(t, nil)
	q.add(qPod("p", 0))
	q.pop()
	q.requeueFailed("p", q.bitOf(t, TaintToleration), nil)
	eng.RunUntil(sim.Time(30 * time.Second))
	// A status-only update (the scheduler's own condition) does not move the pod.
	p := q.entries["p"].info.Pod.DeepCopy()
	p.SetCondition(api.PodScheduled, api.ConditionFalse, "Unschedulable", eng.Now())
	q.update(framework.NewPodInfo(p))
	if st := q.stateOf("p"); st != qUnschedulable {
		t.Fatalf("status update moved the pod to %v", st)
	}
	// A new toleration does.
	p = p.DeepCopy()
	p.Spec.Tolerations = append(p.Spec.Tolerations, api.Toleration{Key: "k", Operator: api.TolerationOpExists})
	q.update(framework.NewPodInfo(p))
	if st := q.stateOf("p"); st != qActive {
		t.Fatalf("spec update left the pod in %v", st)
	}
	if !q.delete("p") || q.has("p") {
		t.Fatal("delete failed")
	}
	if a, b, u := q.lens(); a+b+u != 0 {
		t.Fatalf("lens after delete %d %d %d", a, b, u)
	}
}
