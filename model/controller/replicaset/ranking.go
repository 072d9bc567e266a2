package replicaset

import (
	"math"
	"slices"
	"strconv"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/sim"
)

// AnnotationDeletionCost is the pod annotation that ranks pods for scale-down: lower
// cost goes first (pkg/apis/core/helper GetDeletionCostFromPodAnnotations).
const AnnotationDeletionCost = "controller.kubernetes.io/pod-deletion-cost"

// Criterion is the rule of the scale-down ranking that decided between two pods,
// in the order upstream applies them (reference §3.2; pkg/controller/controller_utils.go
// ActivePodsWithRanks.Less).
type Criterion int

// Ranking criteria, in order.
const (
	CritNone         Criterion = iota // no rule decided (kept in input order)
	CritUnassigned                    // 1. unscheduled before scheduled
	CritPhase                         // 2. Pending before Unknown before Running
	CritReady                         // 3. not ready before ready
	CritDeletionCost                  // 4. lower pod-deletion-cost first
	CritColocated                     // 5. more active siblings on the same node first
	CritReadyTime                     // 6. ready more recently first (log2 buckets, then UID)
	CritRestarts                      // 7. more container restarts first
	CritCreation                      // 8. created more recently first (log2 buckets, then UID)
)

// String returns the short reason used in trace records ("unready first").
func (c Criterion) String() string {
	switch c {
	case CritUnassigned:
		return "unscheduled first"
	case CritPhase:
		return "pending first"
	case CritReady:
		return "unready first"
	case CritDeletionCost:
		return "lower pod-deletion-cost first"
	case CritColocated:
		return "more replicas on its node first"
	case CritReadyTime:
		return "most recently ready first"
	case CritRestarts:
		return "more restarts first"
	case CritCreation:
		return "newest first"
	}
	return "tie, name order"
}

// podPhaseOrdinal is podPhaseToOrdinal: Pending 0, Unknown 1, Running 2; other
// phases (terminal pods are never ranked) count as 0.
func podPhaseOrdinal(p api.PodPhase) int {
	switch p {
	case api.PodRunning:
		return 2
	case "Unknown":
		return 1
	}
	return 0
}

func deletionCost(p *api.Pod) int64 {
	v, err := strconv.ParseInt(p.Annotations[AnnotationDeletionCost], 10, 32)
	if err != nil {
		return 0
	}
	return v
}

// readyTime is podReadyTime: the Ready condition's transition time, 0 if not ready.
func readyTime(p *api.Pod) sim.Time {
	if c := p.Condition(api.PodReady); c != nil && c.Status == api.ConditionTrue {
		return c.LastTransitionTime
	}
	return 0
}

func maxRestarts(p *api.Pod) int32 {
	var m int32
	for i := range p.Status.ContainerStatuses {
		m = max(m, p.Status.ContainerStatuses[i].RestartCount)
	}
	return m
}

// afterOrZero: a zero time counts as after any other (controller_utils.go).
func afterOrZero(t1, t2 sim.Time) bool {
	if t1 == 0 || t2 == 0 {
		return t1 == 0
	}
	return t1 > t2
}

// logRankDiff is logarithmicRankDiff: the difference of floor(log2(age in ns)) of
// two times, ages measured to now (LogarithmicScaleDown, on by default since 1.22).
func logRankDiff(t1, t2, now sim.Time) int64 {
	r := func(t sim.Time) int64 {
		if d := now - t; d > 0 {
			return int64(math.Log2(float64(d)))
		}
		return -1
	}
	return r(t1) - r(t2)
}

// comparePods reports whether a goes before b (is deleted first), and which rule
// decided, exactly in the order of ActivePodsWithRanks.Less. ra and rb are the pods'
// ranks: the number of active related pods on their node.
func comparePods(a, b *api.Pod, ra, rb int, now sim.Time) (bool, Criterion) {
	// 1. Unassigned < assigned.
	if a.Spec.NodeName != b.Spec.NodeName && (a.Spec.NodeName == "" || b.Spec.NodeName == "") {
		return a.Spec.NodeName == "", CritUnassigned
	}
	// 2. Pending < Unknown < Running.
	if oa, ob := podPhaseOrdinal(a.Status.Phase), podPhaseOrdinal(b.Status.Phase); oa != ob {
		return oa < ob, CritPhase
	}
	// 3. Not ready < ready.
	if a.IsReady() != b.IsReady() {
		return !a.IsReady(), CritReady
	}
	// 4. Lower pod-deletion-cost < higher.
	if ca, cb := deletionCost(a), deletionCost(b); ca != cb {
		return ca < cb, CritDeletionCost
	}
	// 5. Doubled up < not doubled up: more colocated related pods first.
	if ra != rb {
		return ra > rb, CritColocated
	}
	// 6. Both ready: been ready for less time first.
	if a.IsReady() && b.IsReady() {
		ta, tb := readyTime(a), readyTime(b)
		if ta != tb {
			if now == 0 || ta == 0 || tb == 0 {
				return afterOrZero(ta, tb), CritReadyTime
			}
			if d := logRankDiff(ta, tb, now); d != 0 {
				return d < 0, CritReadyTime
			}
			return a.UID < b.UID, CritReadyTime
		}
	}
	// 7. Higher restart count first.
	if xa, xb := maxRestarts(a), maxRestarts(b); xa != xb {
		return xa > xb, CritRestarts
	}
	// 8. Newer first.
	if a.CreationTimestamp != b.CreationTimestamp {
		if now == 0 || a.CreationTimestamp == 0 || b.CreationTimestamp == 0 {
			return afterOrZero(a.CreationTimestamp, b.CreationTimestamp), CritCreation
		}
		if d := logRankDiff(a.CreationTimestamp, b.CreationTimestamp, now); d != 0 {
			return d < 0, CritCreation
		}
		return a.UID < b.UID, CritCreation
	}
	return false, CritNone
}

// Victim is a pod chosen for deletion and the rule that put it before the first pod
// that stays.
type Victim struct {
	Pod    *api.Pod
	Reason Criterion
}

// PodsToDelete returns the diff pods of active to delete when scaling down
// (replica_set.go getPodsToDelete): active is ranked by ActivePodsWithRanks, each pod's
// rank being the number of active pods of related (all ReplicaSets of the same owner)
// on its node (getPodsRankedByRelatedPodsOnSameNode). active should be in a
// deterministic order (kubesim passes it sorted by name): the sort is stable, so
// pods no rule separates keep that order, where upstream's unstable sort leaves it
// unspecified. When every pod goes, no ranking is done.
func PodsToDelete(active, related []*api.Pod, diff int, now sim.Time) []Victim {
	diff = min(diff, len(active))
	out := make([]Victim, 0, diff)
	if diff <= 0 {
		return out
	}
	if diff == len(active) {
		for _, p := range active {
			out = append(out, Victim{Pod: p, Reason: CritNone})
		}
		return out
	}
	onNode := map[api.NodeName]int{}
	for _, p := range related {
		if isActive(p) {
			onNode[p.Spec.NodeName]++
		}
	}
	type ranked struct {
		p    *api.Pod
		rank int
	}
	rs := make([]ranked, len(active))
	for i, p := range active {
		rs[i] = ranked{p, onNode[p.Spec.NodeName]}
	}
	slices.SortStableFunc(rs, func(x, y ranked) int {
		if less, _ := comparePods(x.p, y.p, x.rank, y.rank, now); less {
			return -1
		}
		if less, _ := comparePods(y.p, x.p, y.rank, x.rank, now); less {
			return 1
		}
		return 0
	})
	keep := rs[diff]
	for _, v := range rs[:diff] {
		_, why := comparePods(v.p, keep.p, v.rank, keep.rank, now)
		out = append(out, Victim{Pod: v.p, Reason: why})
	}
	return out
}

// isActive is controller.IsPodActive: not terminal and not being deleted.
func isActive(p *api.Pod) bool {
	return !p.IsTerminal() && p.DeletionTimestamp == nil
}

// SlowStartBatches returns the batch sizes in which count creations are issued:
// initial, then doubling, each capped at what remains (controller_utils.go /
// replica_set.go slowStartBatch with SlowStartInitialBatchSize 1).
func SlowStartBatches(count, initial int) []int {
	var out []int
	remaining := count
	for size := min(remaining, initial); size > 0; size = min(2*size, remaining) {
		out = append(out, size)
		remaining -= size
	}
	return out
}
