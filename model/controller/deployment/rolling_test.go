package deployment

import (
	"fmt"
	"reflect"
	"strconv"
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/sim"
)

func pct(v int32) api.IntOrPercent { return api.IntOrPercent{IsPercent: true, Value: v} }
func num(v int32) api.IntOrPercent { return api.IntOrPercent{Value: v} }

func rollingSpec(replicas int32, surge, unavail api.IntOrPercent) *api.DeploymentSpec {
	return &api.DeploymentSpec{Replicas: replicas, Strategy: api.DeploymentStrategy{Type: api.RollingUpdateStrategy, MaxSurge: surge, MaxUnavailable: unavail}}
}

func TestScaledValue(t *testing.T) {
	cases := []struct {
		name    string
		v       api.IntOrPercent
		total   int32
		roundUp bool
		want    int32
	}{
		{"count is taken as is", num(4), 10, true, 4},
		{"25% of 10 rounds up to 3", pct(25), 10, true, 3},
		{"25% of 10 rounds down to 2", pct(25), 10, false, 2},
		{"exact percentage", pct(50), 10, true, 5},
		{"25% of 3 up", pct(25), 3, true, 1},
		{"25% of 3 down", pct(25), 3, false, 0},
		{"0%", pct(0), 10, true, 0},
		{"100% of 7", pct(100), 7, false, 7},
		{"1% of 1 up", pct(1), 1, true, 1},
		{"of zero replicas", pct(25), 0, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ScaledValue(c.v, c.total, c.roundUp); got != c.want {
				t.Fatalf("ScaledValue(%+v, %d, %v) = %d, want %d", c.v, c.total, c.roundUp, got, c.want)
			}
		})
	}
}

func TestResolveFenceposts(t *testing.T) {
	cases := []struct {
		name               string
		surge, unavail     api.IntOrPercent
		replicas           int32
		wantSurge, wantUna int32
		wantMaxUnavailable int32
	}{
		{"defaults at 10 replicas: surge 3, unavailable 2", pct(25), pct(25), 10, 3, 2, 2},
		{"defaults at 3 replicas", pct(25), pct(25), 3, 1, 0, 0},
		{"defaults at 1 replica", pct(25), pct(25), 1, 1, 0, 0},
		{"both zero counts: unavailable becomes 1", num(0), num(0), 5, 0, 1, 1},
		{"both percentages round to zero", pct(0), pct(10), 5, 0, 1, 1},
		{"counts", num(2), num(1), 4, 2, 1, 1},
		{"maxUnavailable capped at replicas", num(0), num(5), 3, 0, 5, 3},
		{"zero replicas", pct(25), pct(25), 0, 0, 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, u := ResolveFenceposts(c.surge, c.unavail, c.replicas)
			if s != c.wantSurge || u != c.wantUna {
				t.Fatalf("ResolveFenceposts = (%d, %d), want (%d, %d)", s, u, c.wantSurge, c.wantUna)
			}
			spec := rollingSpec(c.replicas, c.surge, c.unavail)
			if got := MaxUnavailable(spec); got != c.wantMaxUnavailable {
				t.Fatalf("MaxUnavailable = %d, want %d", got, c.wantMaxUnavailable)
			}
			if got := MaxSurge(spec); got != c.wantSurge {
				t.Fatalf("MaxSurge = %d, want %d", got, c.wantSurge)
			}
		})
	}
	rec := &api.DeploymentSpec{Replicas: 10, Strategy: api.DeploymentStrategy{Type: api.RecreateStrategy, MaxSurge: pct(25), MaxUnavailable: pct(25)}}
	if MaxSurge(rec) != 0 || MaxUnavailable(rec) != 0 {
		t.Fatalf("Recreate must resolve to surge 0, unavailable 0")
	}
}

// plan builds a ReplicaSet plan; created orders them (older first).
func plan(name string, created sim.Time, replicas, available int32) *rsPlan {
	rs := &api.ReplicaSet{ObjectMeta: api.ObjectMeta{Name: name, CreationTimestamp: created},
		Spec: api.ReplicaSetSpec{Replicas: replicas}, Status: api.ReplicaSetStatus{Replicas: replicas, AvailableReplicas: available}}
	return &rsPlan{rs: rs, replicas: replicas}
}

func TestNewRSNewReplicas(t *testing.T) {
	cases := []struct {
		name        string
		spec        *api.DeploymentSpec
		current     []int32 // other ReplicaSets' replicas
		newReplicas int32
		want        int32
	}{
		{"fresh deployment gets all replicas", rollingSpec(3, pct(25), pct(25)), nil, 0, 3},
		{"rollout start: new grows by the surge", rollingSpec(10, pct(25), pct(25)), []int32{10}, 0, 3},
		{"at maxTotal nothing grows", rollingSpec(10, pct(25), pct(25)), []int32{10}, 3, 3},
		{"capped at replicas - new", rollingSpec(10, pct(25), pct(25)), []int32{1}, 8, 10},
		{"min of budget and need", rollingSpec(10, pct(25), pct(25)), []int32{5}, 3, 8},
		{"recreate takes replicas", &api.DeploymentSpec{Replicas: 4, Strategy: api.DeploymentStrategy{Type: api.RecreateStrategy}}, []int32{4}, 0, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var all []*rsPlan
			for i, r := range c.current {
				all = append(all, plan(fmt.Sprint("old", i), sim.Time(i+1), r, r))
			}
			all = append(all, plan("new", 100, c.newReplicas, 0))
			if got := newRSNewReplicas(c.spec, all, c.newReplicas); got != c.want {
				t.Fatalf("newRSNewReplicas = %d, want %d", got, c.want)
			}
		})
	}
}

// TestRollingStep checks one sync of rolloutRolling: the new ReplicaSet scales up
// if it can; otherwise old ones scale down, unhealthy replicas first.
func TestRollingStep(t *testing.T) {
	type rs struct{ replicas, available int32 }
	cases := []struct {
		name     string
		spec     *api.DeploymentSpec
		old      []rs // oldest first
		newRS    rs
		wantNew  int32
		wantOld  []int32
		scaledUp bool
	}{
		{"10 replicas, defaults: new scales up by the surge (3)", rollingSpec(10, pct(25), pct(25)), []rs{{10, 10}}, rs{0, 0}, 3, []int32{10}, true},
		{"new not yet available: old down by maxUnavailable (2)", rollingSpec(10, pct(25), pct(25)), []rs{{10, 10}}, rs{3, 0}, 3, []int32{8}, false},
		{"new available: old down by 5", rollingSpec(10, pct(25), pct(25)), []rs{{10, 10}}, rs{3, 3}, 3, []int32{5}, false},
		{"unhealthy old replicas go first", rollingSpec(10, pct(25), pct(25)), []rs{{10, 6}}, rs{3, 0}, 3, []int32{8}, false},
		{"oldest ReplicaSet scaled down first", rollingSpec(10, pct(25), pct(25)), []rs{{4, 4}, {6, 6}}, rs{3, 3}, 3, []int32{0, 5}, false},
		{"nothing to do at the floor", rollingSpec(4, num(0), num(1)), []rs{{1, 1}}, rs{3, 2}, 3, []int32{1}, false},
		{"maxSurge 0, maxUnavailable 1: old first", rollingSpec(4, num(0), num(1)), []rs{{4, 4}}, rs{0, 0}, 0, []int32{3}, false},
		{"new above replicas is scaled down", rollingSpec(3, pct(25), pct(25)), nil, rs{5, 5}, 3, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var old []*rsPlan
			for i, o := range c.old {
				old = append(old, plan(fmt.Sprint("old", i), sim.Time(i+1), o.replicas, o.available))
			}
			n := plan("new", 100, c.newRS.replicas, c.newRS.available)
			all := append(append([]*rsPlan{}, old...), n)
			up := reconcileNewReplicaSet(c.spec, all, n)
			if !up {
				reconcileOldReplicaSets(c.spec, all, activeOnly(old), n)
			}
			if up != c.scaledUp {
				t.Fatalf("scaledUp = %v, want %v", up, c.scaledUp)
			}
			if n.replicas != c.wantNew {
				t.Fatalf("new replicas = %d, want %d", n.replicas, c.wantNew)
			}
			for i, o := range old {
				if o.replicas != c.wantOld[i] {
					t.Fatalf("old[%d] replicas = %d, want %d", i, o.replicas, c.wantOld[i])
				}
			}
		})
	}
}

// TestRolloutSequence runs whole rollouts, pods becoming available at once between
// syncs, and checks every intermediate (new, old) size and the availability floor.
func TestRolloutSequence(t *testing.T) {
	cases := []struct {
		name string
		spec *api.DeploymentSpec
		from int32
		want [][2]int32
	}{
		{"10 replicas, defaults", rollingSpec(10, pct(25), pct(25)), 10,
			[][2]int32{{3, 10}, {3, 5}, {8, 5}, {8, 0}, {10, 0}}},
		{"3 replicas, defaults (surge 1, unavailable 0)", rollingSpec(3, pct(25), pct(25)), 3,
			[][2]int32{{1, 3}, {1, 2}, {2, 2}, {2, 1}, {3, 1}, {3, 0}}},
		{"4 replicas, surge 0 unavailable 2", rollingSpec(4, num(0), num(2)), 4,
			[][2]int32{{0, 2}, {2, 2}, {2, 0}, {4, 0}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old := plan("old", 1, c.from, c.from)
			n := plan("new", 2, 0, 0)
			minAvail := c.spec.Replicas - MaxUnavailable(c.spec)
			var got [][2]int32
			for i := 0; i < 50; i++ {
				// Pods of both ReplicaSets are available at once.
				for _, p := range []*rsPlan{old, n} {
					p.rs = &api.ReplicaSet{ObjectMeta: p.rs.ObjectMeta, Spec: api.ReplicaSetSpec{Replicas: p.replicas},
						Status: api.ReplicaSetStatus{Replicas: p.replicas, AvailableReplicas: p.replicas}}
				}
				all := []*rsPlan{old, n}
				if !reconcileNewReplicaSet(c.spec, all, n) && !reconcileOldReplicaSets(c.spec, all, activeOnly([]*rsPlan{old}), n) {
					break
				}
				got = append(got, [2]int32{n.replicas, old.replicas})
				if n.replicas+old.replicas > c.spec.Replicas+MaxSurge(c.spec) {
					t.Fatalf("step %d: %d replicas exceed replicas+maxSurge", i, n.replicas+old.replicas)
				}
				if avail := min(n.replicas, n.rs.Status.AvailableReplicas) + min(old.replicas, old.rs.Status.AvailableReplicas); avail < minAvail {
					t.Fatalf("step %d: only %d available, floor %d", i, avail, minAvail)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("rollout = %v, want %v", got, c.want)
			}
		})
	}
}

func TestProportionalScale(t *testing.T) {
	withMax := func(p *rsPlan, desired, maxR int32) *rsPlan {
		p.rs.Annotations = map[string]string{AnnotationDesiredReplicas: strconv.Itoa(int(desired)), AnnotationMaxReplicas: strconv.Itoa(int(maxR))}
		return p
	}
	cases := []struct {
		name             string
		spec             *api.DeploymentSpec
		newRS            *rsPlan
		old              []*rsPlan
		wantNew          int32
		wantOld          []int32
		scalingEventSeen bool
	}{
		{"single active ReplicaSet takes the new size", rollingSpec(5, pct(25), pct(25)),
			withMax(plan("new", 2, 3, 3), 3, 4), []*rsPlan{plan("old", 1, 0, 0)}, 5, []int32{0}, true},
		{"mid-rollout 10 -> 20 spreads 12: 8*25/13 -> 15, 5*25/13 -> 10", rollingSpec(20, pct(25), pct(25)),
			withMax(plan("new", 2, 5, 0), 10, 13), []*rsPlan{withMax(plan("old", 1, 8, 8), 10, 13)}, 10, []int32{15}, true},
		{"mid-rollout 10 -> 5 removes in proportion: 8*7/13 -> 4, 5*7/13 -> 3", rollingSpec(5, pct(25), pct(25)),
			withMax(plan("new", 2, 5, 0), 10, 13), []*rsPlan{withMax(plan("old", 1, 8, 8), 10, 13)}, 3, []int32{4}, true},
		{"saturated new ReplicaSet: old ones to 0", rollingSpec(4, pct(25), pct(25)),
			withMax(plan("new", 2, 4, 4), 4, 5), []*rsPlan{withMax(plan("old", 1, 1, 1), 3, 4)}, 4, []int32{0}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			all := append(append([]*rsPlan{}, c.old...), c.newRS)
			if got := isScalingEvent(c.spec, all); got != c.scalingEventSeen {
				t.Fatalf("isScalingEvent = %v, want %v", got, c.scalingEventSeen)
			}
			status := &api.DeploymentStatus{Replicas: sumReplicas(all)}
			scale(c.spec, status, c.newRS, c.old)
			if c.newRS.replicas != c.wantNew {
				t.Fatalf("new = %d, want %d", c.newRS.replicas, c.wantNew)
			}
			for i, o := range c.old {
				if o.replicas != c.wantOld[i] {
					t.Fatalf("old[%d] = %d, want %d", i, o.replicas, c.wantOld[i])
				}
			}
		})
	}
}

func TestCalculateStatus(t *testing.T) {
	d := &api.Deployment{ObjectMeta: api.ObjectMeta{Generation: 4}, Spec: api.DeploymentSpec{Replicas: 3}}
	old := plan("old", 1, 1, 1)
	old.rs.Status.ReadyReplicas = 1
	n := plan("new", 2, 3, 2)
	n.rs.Status.ReadyReplicas = 2
	st := calculateStatus(d, []*rsPlan{old, n}, n, 5)
	// Recreate-like (no strategy): maxUnavailable 0, so 3 of 3 available is the minimum.
	want := api.DeploymentStatus{ObservedGeneration: 4, Replicas: 4, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3, UnavailableReplicas: 1,
		Conditions: []api.DeploymentCondition{{Type: api.DeploymentAvailable, Status: api.ConditionTrue, Reason: ReasonMinimumReplicasAvailable,
			Message: "Deployment has minimum availability.", LastUpdateTime: 5, LastTransitionTime: 5}}}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("status = %+v, want %+v", st, want)
	}
	if complete(d, &st) {
		t.Fatal("an old replica remains: not complete")
	}
	old.replicas, old.rs.Status = 0, api.ReplicaSetStatus{}
	n.rs.Status.AvailableReplicas = 3
	st = calculateStatus(d, []*rsPlan{old, n}, n, 6)
	if !complete(d, &st) || st.UnavailableReplicas != 0 {
		t.Fatalf("want complete, got %+v", st)
	}
}
