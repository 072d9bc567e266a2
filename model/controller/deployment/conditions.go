package deployment

import (
	"math"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/sim"
)

// Reasons of the Deployment conditions (util/deployment_util.go).
const (
	// ReasonNewReplicaSetCreated: Progressing True, the controller created the new
	// ReplicaSet (NewReplicaSetReason).
	ReasonNewReplicaSetCreated = "NewReplicaSetCreated"
	// ReasonFoundNewReplicaSet: Progressing True, a ReplicaSet with the current
	// template existed when no Progressing condition was recorded yet (FoundNewRSReason).
	ReasonFoundNewReplicaSet = "FoundNewReplicaSet"
	// ReasonReplicaSetUpdated: Progressing True, the rollout made progress
	// (ReplicaSetUpdatedReason).
	ReasonReplicaSetUpdated = "ReplicaSetUpdated"
	// ReasonNewReplicaSetAvailable: Progressing True, the rollout is complete
	// (NewRSAvailableReason).
	ReasonNewReplicaSetAvailable = "NewReplicaSetAvailable"
	// ReasonProgressDeadlineExceeded: Progressing False, no progress for
	// progressDeadlineSeconds (TimedOutReason).
	ReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
	// ReasonDeploymentPaused and ReasonDeploymentResumed: Progressing Unknown while
	// paused and right after resuming (PausedDeployReason, ResumedDeployReason).
	ReasonDeploymentPaused  = "DeploymentPaused"
	ReasonDeploymentResumed = "DeploymentResumed"
	// ReasonMinimumReplicasAvailable and ReasonMinimumReplicasUnavailable: the
	// Available condition, True when availableReplicas >= replicas − maxUnavailable.
	ReasonMinimumReplicasAvailable   = "MinimumReplicasAvailable"
	ReasonMinimumReplicasUnavailable = "MinimumReplicasUnavailable"
)

// GetCondition returns a copy of the status's condition of type t, or nil
// (util/deployment_util.go GetDeploymentCondition).
func GetCondition(st *api.DeploymentStatus, t api.DeploymentConditionType) *api.DeploymentCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			c := st.Conditions[i]
			return &c
		}
	}
	return nil
}

// newCondition is NewDeploymentCondition: both times are now.
func newCondition(t api.DeploymentConditionType, s api.ConditionStatus, reason, msg string, now sim.Time) api.DeploymentCondition {
	return api.DeploymentCondition{Type: t, Status: s, Reason: reason, Message: msg, LastUpdateTime: now, LastTransitionTime: now}
}

// setCondition is SetDeploymentCondition: nothing changes when a condition of the
// type already has the same status and reason; a condition whose status stays keeps
// its lastTransitionTime; the new condition goes to the end. The slice is rebuilt,
// never modified in place (it may be shared with a cached object).
func setCondition(st *api.DeploymentStatus, c api.DeploymentCondition) {
	cur := GetCondition(st, c.Type)
	if cur != nil && cur.Status == c.Status && cur.Reason == c.Reason {
		return
	}
	if cur != nil && cur.Status == c.Status {
		c.LastTransitionTime = cur.LastTransitionTime
	}
	st.Conditions = append(filterOutCondition(st.Conditions, c.Type), c)
}

// removeCondition is RemoveDeploymentCondition.
func removeCondition(st *api.DeploymentStatus, t api.DeploymentConditionType) {
	st.Conditions = filterOutCondition(st.Conditions, t)
}

func filterOutCondition(cs []api.DeploymentCondition, t api.DeploymentConditionType) []api.DeploymentCondition {
	var out []api.DeploymentCondition
	for _, c := range cs {
		if c.Type != t {
			out = append(out, c)
		}
	}
	return out
}

// hasProgressDeadline is HasProgressDeadline: a deadline is set and is not
// math.MaxInt32. (The apiserver defaults an unset deadline to 600 s; 0 is treated
// as unset for objects that bypassed defaulting.)
func hasProgressDeadline(d *api.Deployment) bool {
	return d.Spec.ProgressDeadlineSeconds > 0 && d.Spec.ProgressDeadlineSeconds != math.MaxInt32
}

func progressDeadline(d *api.Deployment) time.Duration {
	return api.Seconds(d.Spec.ProgressDeadlineSeconds)
}

// deploymentProgressing is DeploymentProgressing: compared with the Deployment's
// current status, more replicas are updated, fewer old ones remain, or more are
// ready or available.
func deploymentProgressing(d *api.Deployment, st *api.DeploymentStatus) bool {
	old := d.Status
	oldOld := old.Replicas - old.UpdatedReplicas
	newOld := st.Replicas - st.UpdatedReplicas
	return st.UpdatedReplicas > old.UpdatedReplicas || newOld < oldOld ||
		st.ReadyReplicas > old.ReadyReplicas || st.AvailableReplicas > old.AvailableReplicas
}

// deploymentTimedOut is DeploymentTimedOut: the Progressing condition's
// lastUpdateTime is more than progressDeadlineSeconds ago (strictly), unless the
// rollout already completed (NewReplicaSetAvailable); an existing
// ProgressDeadlineExceeded stays timed out.
func deploymentTimedOut(d *api.Deployment, st *api.DeploymentStatus, now sim.Time) bool {
	if !hasProgressDeadline(d) {
		return false
	}
	c := GetCondition(st, api.DeploymentProgressing)
	if c == nil || c.Reason == ReasonNewReplicaSetAvailable {
		return false
	}
	if c.Reason == ReasonProgressDeadlineExceeded {
		return true
	}
	return c.LastUpdateTime.Add(progressDeadline(d)) < now
}

// setAvailableCondition sets Available from the counts, as calculateStatus does
// (sync.go): True/MinimumReplicasAvailable when availableReplicas >= replicas −
// maxUnavailable, else False/MinimumReplicasUnavailable.
func setAvailableCondition(d *api.Deployment, st *api.DeploymentStatus, now sim.Time) {
	if st.AvailableReplicas >= d.Spec.Replicas-MaxUnavailable(&d.Spec) {
		setCondition(st, newCondition(api.DeploymentAvailable, api.ConditionTrue, ReasonMinimumReplicasAvailable, "Deployment has minimum availability.", now))
		return
	}
	setCondition(st, newCondition(api.DeploymentAvailable, api.ConditionFalse, ReasonMinimumReplicasUnavailable, "Deployment does not have minimum availability.", now))
}

// progressConditions updates the Progressing condition of a rollout's new status
// (progress.go syncRolloutStatus): complete → NewReplicaSetAvailable; progress made
// → ReplicaSetUpdated with a fresh lastUpdateTime (lastTransitionTime kept while it
// stays True); no progress past the deadline → False/ProgressDeadlineExceeded.
// Nothing is estimated once the rollout completed.
func progressConditions(d *api.Deployment, st *api.DeploymentStatus, newRS *rsPlan, now sim.Time) {
	if !hasProgressDeadline(d) {
		removeCondition(st, api.DeploymentProgressing)
	}
	cur := GetCondition(&d.Status, api.DeploymentProgressing)
	completeAlready := st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == ReasonNewReplicaSetAvailable
	if !hasProgressDeadline(d) || completeAlready {
		return
	}
	subject := "Deployment \"" + d.Name + "\""
	if newRS != nil {
		subject = "ReplicaSet \"" + newRS.name() + "\""
	}
	switch {
	case complete(d, st):
		setCondition(st, newCondition(api.DeploymentProgressing, api.ConditionTrue, ReasonNewReplicaSetAvailable, subject+" has successfully progressed.", now))
	case deploymentProgressing(d, st):
		c := newCondition(api.DeploymentProgressing, api.ConditionTrue, ReasonReplicaSetUpdated, subject+" is progressing.", now)
		if cur != nil {
			if cur.Status == api.ConditionTrue {
				c.LastTransitionTime = cur.LastTransitionTime
			}
			removeCondition(st, api.DeploymentProgressing)
		}
		setCondition(st, c)
	case deploymentTimedOut(d, st, now):
		setCondition(st, newCondition(api.DeploymentProgressing, api.ConditionFalse, ReasonProgressDeadlineExceeded, subject+" has timed out progressing.", now))
	}
}

// stuckRequeue says when a Deployment whose status did not change must be looked at
// again for the deadline (progress.go requeueStuckDeployment): -1 for never (no
// deadline, no Progressing condition, complete, or already timed out); otherwise
// lastUpdateTime + progressDeadlineSeconds − now, plus the second upstream adds
// against clock skew; 0 (requeue now, rate-limited) when less than a second is left.
func stuckRequeue(d *api.Deployment, st *api.DeploymentStatus, now sim.Time) time.Duration {
	c := GetCondition(&d.Status, api.DeploymentProgressing)
	if !hasProgressDeadline(d) || c == nil {
		return -1
	}
	if complete(d, st) || c.Reason == ReasonProgressDeadlineExceeded {
		return -1
	}
	after := c.LastUpdateTime.Add(progressDeadline(d)).Sub(now)
	if after < time.Second {
		return 0
	}
	return after + time.Second
}
