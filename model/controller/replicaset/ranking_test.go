package replicaset

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/sim"
)

const now = sim.Time(1000 * time.Second)

type podOpt func(*api.Pod)

func node(n string) podOpt         { return func(p *api.Pod) { p.Spec.NodeName = api.NodeName(n) } }
func phase(ph api.PodPhase) podOpt { return func(p *api.Pod) { p.Status.Phase = ph } }
func createdAgo(d time.Duration) podOpt {
	return func(p *api.Pod) { p.CreationTimestamp = now - sim.Time(d) }
}
func readyAgo(d time.Duration) podOpt {
	return func(p *api.Pod) { p.SetCondition(api.PodReady, api.ConditionTrue, "", now-sim.Time(d)) }
}
func cost(c int) podOpt {
	return func(p *api.Pod) { p.Annotations = map[string]string{AnnotationDeletionCost: fmt.Sprint(c)} }
}
func restarts(n int32) podOpt {
	return func(p *api.Pod) { p.Status.ContainerStatuses = []api.ContainerStatus{{Name: "c", RestartCount: n}} }
}

func pod(name string, opts ...podOpt) *api.Pod {
	p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: name, UID: api.UID("uid-" + name), CreationTimestamp: now - sim.Time(time.Hour)},
		Status: api.PodStatus{Phase: api.PodRunning}}
	p.Spec.NodeName = "n1"
	for _, o := range opts {
		o(p)
	}
	return p
}

// TestComparePods checks each rule of ActivePodsWithRanks.Less on a pair of pods
// that the earlier rules do not separate: a goes first, decided by want.
func TestComparePods(t *testing.T) {
	cases := []struct {
		name   string
		a, b   *api.Pod
		ra, rb int
		want   Criterion
	}{
		{"unscheduled before scheduled", pod("a", node("")), pod("b", readyAgo(time.Hour)), 1, 1, CritUnassigned},
		{"pending before running", pod("a", phase(api.PodPending)), pod("b"), 1, 1, CritPhase},
		{"unknown before running", pod("a", phase("Unknown")), pod("b"), 1, 1, CritPhase},
		{"not ready before ready", pod("a"), pod("b", readyAgo(time.Minute)), 1, 1, CritReady},
		{"lower deletion cost first", pod("a", cost(-5)), pod("b", cost(10)), 1, 1, CritDeletionCost},
		{"more colocated pods first", pod("a"), pod("b"), 3, 1, CritColocated},
		{"ready more recently first", pod("a", readyAgo(time.Second)), pod("b", readyAgo(time.Hour)), 1, 1, CritReadyTime},
		{"same log2 ready bucket: UID order", pod("a", readyAgo(10*time.Second)), pod("b", readyAgo(11*time.Second)), 1, 1, CritReadyTime},
		{"more restarts first", pod("a", restarts(4)), pod("b", restarts(1)), 1, 1, CritRestarts},
		{"newer first", pod("a", createdAgo(time.Second)), pod("b", createdAgo(time.Hour)), 1, 1, CritCreation},
		{"same log2 age bucket: UID order", pod("a", createdAgo(40*time.Second)), pod("b", createdAgo(50*time.Second)), 1, 1, CritCreation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			less, why := comparePods(c.a, c.b, c.ra, c.rb, now)
			if !less || why != c.want {
				t.Fatalf("comparePods(a, b) = %v, %v; want true, %v", less, why, c.want)
			}
			if less, _ := comparePods(c.b, c.a, c.rb, c.ra, now); less {
				t.Fatalf("comparePods(b, a) must be false")
			}
		})
	}
	if less, why := comparePods(pod("a"), pod("b"), 1, 1, now); less || why != CritNone {
		t.Fatalf("identical pods: %v %v", less, why)
	}
}

func TestPodsToDelete(t *testing.T) {
	// Sorted by name, as the controller passes them.
	active := []*api.Pod{
		pod("p0-ready-old", node("n1"), readyAgo(time.Hour)),
		pod("p1-unscheduled", node(""), phase(api.PodPending)),
		pod("p2-pending", node("n2"), phase(api.PodPending)),
		pod("p3-unready", node("n3")),
		pod("p4-ready-new", node("n4"), readyAgo(time.Second)),
		pod("p5-doubled", node("n5"), readyAgo(time.Hour)),
	}
	related := append(slices.Clone(active), pod("sibling", node("n5"))) // another ReplicaSet's pod on n5
	cases := []struct {
		name string
		diff int
		want []string
		why  []Criterion
	}{
		{"one", 1, []string{"p1-unscheduled"}, []Criterion{CritUnassigned}},
		{"three", 3, []string{"p1-unscheduled", "p2-pending", "p3-unready"}, []Criterion{CritUnassigned, CritPhase, CritReady}},
		{"five", 5, []string{"p1-unscheduled", "p2-pending", "p3-unready", "p5-doubled", "p4-ready-new"},
			[]Criterion{CritUnassigned, CritPhase, CritReady, CritColocated, CritReadyTime}},
		{"all: no ranking", 6, []string{"p0-ready-old", "p1-unscheduled", "p2-pending", "p3-unready", "p4-ready-new", "p5-doubled"}, nil},
		{"more than all", 9, []string{"p0-ready-old", "p1-unscheduled", "p2-pending", "p3-unready", "p4-ready-new", "p5-doubled"}, nil},
		{"none", 0, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := PodsToDelete(active, related, c.diff, now)
			var names []string
			for i, v := range got {
				names = append(names, v.Pod.Name)
				if c.why != nil && v.Reason != c.why[i] {
					t.Errorf("victim %s: reason %v, want %v", v.Pod.Name, v.Reason, c.why[i])
				}
			}
			if fmt.Sprint(names) != fmt.Sprint(c.want) {
				t.Fatalf("victims %v, want %v", names, c.want)
			}
		})
	}
}

func TestSlowStartBatches(t *testing.T) {
	cases := []struct {
		name  string
		count int
		want  []int
	}{
		{"zero", 0, nil},
		{"one", 1, []int{1}},
		{"three", 3, []int{1, 2}},
		{"ten", 10, []int{1, 2, 4, 3}},
		{"power of two minus one", 15, []int{1, 2, 4, 8}},
		{"burst of 500", 500, []int{1, 2, 4, 8, 16, 32, 64, 128, 245}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := SlowStartBatches(c.count, 1)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("SlowStartBatches(%d) = %v, want %v", c.count, got, c.want)
			}
		})
	}
}

func TestExpectations(t *testing.T) {
	type step struct {
		op   string // "create", "delete" (observed), "at" (advance to seconds)
		arg  string
		want bool // satisfied afterwards
	}
	cases := []struct {
		name  string
		setup func(s *expectationStore)
		steps []step
	}{
		{"creations observed one by one", func(s *expectationStore) { s.expectCreations("rs", 2, 0) },
			[]step{{"create", "", false}, {"create", "", true}}},
		{"deletions tracked by pod key, counted once", func(s *expectationStore) { s.expectDeletions("rs", []string{"a", "b"}, 0) },
			[]step{{"delete", "a", false}, {"delete", "a", false}, {"delete", "x", false}, {"delete", "b", true}}},
		{"expire after the timeout", func(s *expectationStore) { s.expectCreations("rs", 5, 0) },
			[]step{{"at", "299", false}, {"at", "301", true}}},
		{"no expectations: satisfied", func(s *expectationStore) {}, []step{{"at", "0", true}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newExpectationStore(5 * time.Minute)
			c.setup(s)
			at := sim.Time(0)
			for i, st := range c.steps {
				switch st.op {
				case "create":
					s.creationObserved("rs")
				case "delete":
					s.deletionObserved("rs", st.arg)
				case "at":
					var sec int
					fmt.Sscan(st.arg, &sec)
					at = sim.Time(time.Duration(sec) * time.Second)
				}
				if got := s.satisfied("rs", at); got != st.want {
					t.Fatalf("step %d (%s %s): satisfied = %v, want %v", i, st.op, st.arg, got, st.want)
				}
			}
		})
	}
}
