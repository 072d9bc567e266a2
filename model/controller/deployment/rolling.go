package deployment

import (
	"math"
	"slices"
	"strconv"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/sim"
)

// The scaling arithmetic of the Deployment controller, as pure functions over a
// plan: each function reads the cached ReplicaSets and changes only the planned
// replica counts, so a sync can decide everything first and then issue its writes.
// Formulas follow reference §3.1 and the upstream files cited on each function.

// Annotations the controller keeps on ReplicaSets (util/deployment_util.go).
const (
	// AnnotationDesiredReplicas is the Deployment's spec.replicas when the
	// ReplicaSet was last scaled by it; a difference marks a scaling event.
	AnnotationDesiredReplicas = "deployment.kubernetes.io/desired-replicas"
	// AnnotationMaxReplicas is replicas + maxSurge at that time, the base of
	// proportional scaling.
	AnnotationMaxReplicas = "deployment.kubernetes.io/max-replicas"
	// annotationRevisionHistory lists earlier revisions of a re-used ReplicaSet.
	annotationRevisionHistory = "deployment.kubernetes.io/revision-history"
	// annotationLastApplied is kubectl's, never copied to ReplicaSets.
	annotationLastApplied = "kubectl.kubernetes.io/last-applied-configuration"
)

// ScaledValue resolves a count or percentage against total: a count as is, a
// percentage of total rounded up or down (k8s.io/apimachinery/pkg/util/intstr
// GetScaledValueFromIntOrPercent; integer arithmetic gives the same results as its
// float ceil/floor for the int32 range).
func ScaledValue(v api.IntOrPercent, total int32, roundUp bool) int32 {
	if !v.IsPercent {
		return v.Value
	}
	p := int64(v.Value) * int64(total)
	if roundUp && p > 0 {
		return int32((p + 99) / 100)
	}
	if p < 0 {
		return int32(-((-p + 99) / 100)) // floor for negatives; validation forbids them
	}
	return int32(p / 100)
}

// ResolveFenceposts returns the absolute maxSurge (rounded up) and maxUnavailable
// (rounded down) for desired replicas; when both resolve to 0, maxUnavailable becomes
// 1 (reference §3.1; util/deployment_util.go ResolveFenceposts).
func ResolveFenceposts(maxSurge, maxUnavailable api.IntOrPercent, desired int32) (surge, unavailable int32) {
	surge = ScaledValue(maxSurge, desired, true)
	unavailable = ScaledValue(maxUnavailable, desired, false)
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable
}

// MaxSurge returns the Deployment's resolved maxSurge: 0 unless it rolls
// (util/deployment_util.go MaxSurge).
func MaxSurge(spec *api.DeploymentSpec) int32 {
	if spec.Strategy.Type != api.RollingUpdateStrategy {
		return 0
	}
	s, _ := ResolveFenceposts(spec.Strategy.MaxSurge, spec.Strategy.MaxUnavailable, spec.Replicas)
	return s
}

// MaxUnavailable returns the resolved maxUnavailable, capped at replicas, and 0 for
// Recreate or 0 replicas (util/deployment_util.go MaxUnavailable).
func MaxUnavailable(spec *api.DeploymentSpec) int32 {
	if spec.Strategy.Type != api.RollingUpdateStrategy || spec.Replicas == 0 {
		return 0
	}
	_, u := ResolveFenceposts(spec.Strategy.MaxSurge, spec.Strategy.MaxUnavailable, spec.Replicas)
	return min(u, spec.Replicas)
}

// rsPlan is one ReplicaSet of a Deployment in a sync's plan.
type rsPlan struct {
	rs       *api.ReplicaSet // the cached object (shared, immutable)
	replicas int32           // planned spec.replicas
	why      string          // why replicas changed (for the trace)
	// touch asks for the replica annotations to be refreshed even when the size
	// stays (proportional scaling calls scaleReplicaSet on every active one).
	touch bool
}

func (p *rsPlan) name() string      { return p.rs.Name }
func (p *rsPlan) created() sim.Time { return p.rs.CreationTimestamp }
func (p *rsPlan) available() int32  { return p.rs.Status.AvailableReplicas }
func (p *rsPlan) changed() bool     { return p.replicas != p.rs.Spec.Replicas }
func (p *rsPlan) set(n int32, why string) {
	if n != p.replicas {
		p.replicas = n
		p.why = why
	}
}

// sumReplicas is GetReplicaCountForReplicaSets: the sum of (planned) spec.replicas.
func sumReplicas(rss []*rsPlan) int32 {
	var n int32
	for _, r := range rss {
		if r != nil {
			n += r.replicas
		}
	}
	return n
}

// sumAvailable is GetAvailableReplicaCountForReplicaSets.
func sumAvailable(rss []*rsPlan) int32 {
	var n int32
	for _, r := range rss {
		if r != nil {
			n += r.available()
		}
	}
	return n
}

// activeOnly is controller.FilterActiveReplicaSets: ReplicaSets with replicas > 0.
func activeOnly(rss []*rsPlan) []*rsPlan {
	out := make([]*rsPlan, 0, len(rss))
	for _, r := range rss {
		if r != nil && r.replicas > 0 {
			out = append(out, r)
		}
	}
	return out
}

// byCreation sorts oldest first, ties by name (controller.ReplicaSetsByCreationTimestamp).
func byCreation(rss []*rsPlan) {
	slices.SortStableFunc(rss, func(a, b *rsPlan) int {
		if a.created() != b.created() {
			if a.created() < b.created() {
				return -1
			}
			return 1
		}
		return cmpString(a.name(), b.name())
	})
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// newRSNewReplicas returns how many replicas the new ReplicaSet should have now
// (util/deployment_util.go NewRSNewReplicas): for RollingUpdate, grow by
// min(maxTotal − current, replicas − new) where maxTotal = replicas + maxSurge; for
// Recreate, replicas.
func newRSNewReplicas(spec *api.DeploymentSpec, all []*rsPlan, newReplicas int32) int32 {
	if spec.Strategy.Type == api.RecreateStrategy {
		return spec.Replicas
	}
	maxSurge := ScaledValue(spec.Strategy.MaxSurge, spec.Replicas, true)
	current := sumReplicas(all)
	maxTotal := spec.Replicas + maxSurge
	if current >= maxTotal {
		return newReplicas
	}
	up := min(maxTotal-current, spec.Replicas-newReplicas)
	return newReplicas + up
}

// reconcileNewReplicaSet scales the new ReplicaSet towards replicas within the surge
// budget (rolling.go reconcileNewReplicaSet). It reports whether it scaled.
func reconcileNewReplicaSet(spec *api.DeploymentSpec, all []*rsPlan, newRS *rsPlan) bool {
	if newRS.replicas == spec.Replicas {
		return false
	}
	if newRS.replicas > spec.Replicas {
		newRS.set(spec.Replicas, "rolling update: new ReplicaSet down to spec.replicas")
		return newRS.changed()
	}
	n := newRSNewReplicas(spec, all, newRS.replicas)
	newRS.set(n, "rolling update: new ReplicaSet up within maxSurge")
	return newRS.changed()
}

// reconcileOldReplicaSets scales old ReplicaSets down while keeping
// replicas − maxUnavailable available: unhealthy replicas first, then healthy ones,
// oldest ReplicaSet first (rolling.go reconcileOldReplicaSets). old must hold the
// active old ReplicaSets. It reports whether it scaled anything down.
func reconcileOldReplicaSets(spec *api.DeploymentSpec, all, old []*rsPlan, newRS *rsPlan) bool {
	if sumReplicas(old) == 0 {
		return false
	}
	allPods := sumReplicas(all)
	maxUnavailable := MaxUnavailable(spec)
	minAvailable := spec.Replicas - maxUnavailable
	newUnavailable := newRS.replicas - newRS.available()
	maxScaledDown := allPods - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return false
	}
	cleaned := cleanupUnhealthyReplicas(old, maxScaledDown)
	scaled := scaleDownOldForRollingUpdate(spec, append(slices.Clone(old), newRS), old)
	return cleaned+scaled > 0
}

// cleanupUnhealthyReplicas removes up to maxCleanup unavailable replicas from old
// ReplicaSets, oldest first (rolling.go cleanupUnhealthyReplicas).
func cleanupUnhealthyReplicas(old []*rsPlan, maxCleanup int32) int32 {
	byCreation(old)
	var total int32
	for _, r := range old {
		if total >= maxCleanup {
			break
		}
		if r.replicas == 0 || r.replicas == r.available() {
			continue
		}
		n := min(maxCleanup-total, r.replicas-r.available())
		if n <= 0 {
			continue // more available than planned: nothing unhealthy to remove
		}
		r.set(r.replicas-n, "rolling update: unhealthy old replicas removed first")
		total += n
	}
	return total
}

// scaleDownOldForRollingUpdate scales old ReplicaSets down by what is available above
// replicas − maxUnavailable, oldest first (rolling.go
// scaleDownOldReplicaSetsForRollingUpdate).
func scaleDownOldForRollingUpdate(spec *api.DeploymentSpec, all, old []*rsPlan) int32 {
	minAvailable := spec.Replicas - MaxUnavailable(spec)
	available := sumAvailable(all)
	if available <= minAvailable {
		return 0
	}
	byCreation(old)
	var total int32
	want := available - minAvailable
	for _, r := range old {
		if total >= want {
			break
		}
		if r.replicas == 0 {
			continue
		}
		n := min(r.replicas, want-total)
		r.set(r.replicas-n, "rolling update: old ReplicaSet down within maxUnavailable")
		total += n
	}
	return total
}

// desiredAnnotation reads an int32 annotation.
func intAnnotation(rs *api.ReplicaSet, key string) (int32, bool) {
	s, ok := rs.Annotations[key]
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(v), true
}

// isScalingEvent reports whether spec.replicas differs from the desired-replicas
// annotation of an active ReplicaSet (deployment_controller.go isScalingEvent).
func isScalingEvent(spec *api.DeploymentSpec, all []*rsPlan) bool {
	for _, r := range activeOnly(all) {
		if d, ok := intAnnotation(r.rs, AnnotationDesiredReplicas); ok && d != spec.Replicas {
			return true
		}
	}
	return false
}

// findActiveOrLatest returns the only active ReplicaSet, or the newest one when none
// is active, or nil when several are active (util/deployment_util.go
// FindActiveOrLatest).
func findActiveOrLatest(newRS *rsPlan, old []*rsPlan) *rsPlan {
	if newRS == nil && len(old) == 0 {
		return nil
	}
	sorted := slices.Clone(old)
	byCreation(sorted)
	slices.Reverse(sorted)
	all := activeOnly(append(sorted, newRS))
	switch len(all) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return sorted[0]
	case 1:
		return all[0]
	}
	return nil
}

// isSaturated reports whether the new ReplicaSet runs all replicas, available
// (util/deployment_util.go IsSaturated).
func isSaturated(spec *api.DeploymentSpec, newRS *rsPlan) bool {
	if newRS == nil {
		return false
	}
	d, ok := intAnnotation(newRS.rs, AnnotationDesiredReplicas)
	return ok && newRS.replicas == spec.Replicas && d == spec.Replicas && newRS.available() == spec.Replicas
}

// scale handles a scaling event (sync.go scale): a single active ReplicaSet takes
// the new size; a saturated new ReplicaSet scales the old ones to 0; otherwise, for
// RollingUpdate, the difference to replicas + maxSurge is spread over the active
// ReplicaSets in proportion to their size, leftovers to the largest.
func scale(spec *api.DeploymentSpec, status *api.DeploymentStatus, newRS *rsPlan, old []*rsPlan) {
	if r := findActiveOrLatest(newRS, old); r != nil {
		r.set(spec.Replicas, "scaling event: the only active ReplicaSet takes spec.replicas")
		return
	}
	if isSaturated(spec, newRS) {
		for _, r := range activeOnly(old) {
			r.set(0, "scaling event: new ReplicaSet saturated, old ones to 0")
		}
		return
	}
	if spec.Strategy.Type != api.RollingUpdateStrategy {
		return
	}
	all := activeOnly(append(slices.Clone(old), newRS))
	current := sumReplicas(all)
	var allowed int32
	if spec.Replicas > 0 {
		allowed = spec.Replicas + MaxSurge(spec)
	}
	toAdd := allowed - current
	switch {
	case toAdd > 0: // larger first; among equals the newer first
		slices.SortStableFunc(all, func(a, b *rsPlan) int {
			if a.replicas != b.replicas {
				return int(b.replicas - a.replicas)
			}
			return -creationCmp(a, b)
		})
	case toAdd < 0: // larger first; among equals the older first
		slices.SortStableFunc(all, func(a, b *rsPlan) int {
			if a.replicas != b.replicas {
				return int(b.replicas - a.replicas)
			}
			return creationCmp(a, b)
		})
	}
	sizes := make([]int32, len(all))
	var added int32
	for i, r := range all {
		sizes[i] = r.replicas
		if toAdd != 0 {
			p := proportion(r, spec, status, toAdd, added)
			sizes[i] += p
			added += p
		}
	}
	for i, r := range all {
		if i == 0 && toAdd != 0 {
			sizes[i] = max(sizes[i]+toAdd-added, 0)
		}
		r.set(sizes[i], "scaling event: proportional scaling")
		r.touch = true
	}
}

func creationCmp(a, b *rsPlan) int {
	if a.created() != b.created() {
		if a.created() < b.created() {
			return -1
		}
		return 1
	}
	return cmpString(a.name(), b.name())
}

// proportion is GetReplicaSetProportion: the share of toAdd for r, bounded by what is
// still allowed.
func proportion(r *rsPlan, spec *api.DeploymentSpec, status *api.DeploymentStatus, toAdd, added int32) int32 {
	if r.replicas == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	f := fraction(r, spec, status)
	allowed := toAdd - added
	if toAdd > 0 {
		return min(f, allowed)
	}
	return max(f, allowed)
}

// fraction is getReplicaSetFraction: r's size rescaled from the max-replicas it was
// sized for to the new replicas + maxSurge, minus its current size.
func fraction(r *rsPlan, spec *api.DeploymentSpec, status *api.DeploymentStatus) int32 {
	if spec.Replicas == 0 {
		return -r.replicas
	}
	maxNow := spec.Replicas + MaxSurge(spec)
	before, ok := intAnnotation(r.rs, AnnotationMaxReplicas)
	if !ok || before == 0 {
		before = status.Replicas
		if before == 0 {
			return 0
		}
	}
	size := float64(r.replicas) * float64(maxNow) / float64(before)
	return roundToInt32(size) - r.replicas
}

// roundToInt32 rounds half away from zero (k8s.io/utils/integer RoundToInt32).
func roundToInt32(a float64) int32 {
	if a < 0 {
		return int32(math.Ceil(a - 0.5))
	}
	return int32(math.Floor(a + 0.5))
}

// calculateStatus derives the Deployment status from its ReplicaSets
// (sync.go calculateStatus): replicas, ready and available sum the ReplicaSets'
// status; updated is the new ReplicaSet's status.replicas; unavailable is planned
// spec.replicas minus available, at least 0. The Deployment's conditions are carried
// over and the Available condition is set from the counts.
func calculateStatus(d *api.Deployment, all []*rsPlan, newRS *rsPlan, now sim.Time) api.DeploymentStatus {
	var st api.DeploymentStatus
	st.ObservedGeneration = d.Generation
	if len(d.Status.Conditions) > 0 {
		st.Conditions = append([]api.DeploymentCondition(nil), d.Status.Conditions...)
	}
	for _, r := range all {
		if r == nil {
			continue
		}
		st.Replicas += r.rs.Status.Replicas
		st.ReadyReplicas += r.rs.Status.ReadyReplicas
		st.AvailableReplicas += r.rs.Status.AvailableReplicas
	}
	if newRS != nil {
		st.UpdatedReplicas = newRS.rs.Status.Replicas
	}
	st.UnavailableReplicas = max(sumReplicas(all)-st.AvailableReplicas, 0)
	setAvailableCondition(d, &st, now)
	return st
}

// complete reports whether a status shows the rollout of spec done: every replica
// updated, no old one left, all available, the generation observed
// (util/deployment_util.go DeploymentComplete).
func complete(d *api.Deployment, st *api.DeploymentStatus) bool {
	r := d.Spec.Replicas
	return st.UpdatedReplicas == r && st.Replicas == r && st.AvailableReplicas == r && st.ObservedGeneration >= d.Generation
}

// revision reads a ReplicaSet's revision annotation (0 when absent or invalid).
func revision(rs *api.ReplicaSet) int64 {
	v, err := strconv.ParseInt(rs.Annotations[api.AnnotationRevision], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// maxRevision is MaxRevision over old ReplicaSets.
func maxRevision(old []*rsPlan) int64 {
	var m int64
	for _, r := range old {
		m = max(m, revision(r.rs))
	}
	return m
}
