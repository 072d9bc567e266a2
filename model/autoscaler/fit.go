package autoscaler

import "github.com/kubesim/kubesim/model/api"

// The predicates the cluster autoscaler's scheduling simulation runs: the same rules
// as the scheduler's NodeUnschedulable, TaintToleration, NodeAffinity (nodeSelector
// and required terms) and NodeResourcesFit filters (reference §2.4;
// pkg/scheduler/framework/plugins/{nodeunschedulable,tainttoleration,nodeaffinity,
// noderesources/fit.go}), written here because a component does not import another.
// Host ports, volumes and inter-pod rules are not simulated.

// fitsResources is NodeResourcesFit's rule: one more pod within allocatable pods;
// each requested resource within allocatable minus what is requested already. A pod
// requesting nothing only needs the pod slot (fit.go fitsRequest).
func fitsResources(req, used, alloc *api.Resources) bool {
	if used.Pods+1 > alloc.Pods {
		return false
	}
	if req.MilliCPU > 0 && used.MilliCPU+req.MilliCPU > alloc.MilliCPU {
		return false
	}
	if req.Memory > 0 && used.Memory+req.Memory > alloc.Memory {
		return false
	}
	if req.EphemeralStorage > 0 && used.EphemeralStorage+req.EphemeralStorage > alloc.EphemeralStorage {
		return false
	}
	for k, v := range req.Scalar {
		if v > 0 && used.Scalar[k]+v > alloc.Scalar[k] {
			return false
		}
	}
	return true
}

// fitsNode reports whether pod may run on node by the label, taint and
// schedulability rules (not resources).
func fitsNode(pod *api.Pod, node *api.Node) bool {
	if node.Spec.Unschedulable {
		return false // NodeUnschedulable (a toleration of the unschedulable taint is not modeled here)
	}
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if t.Effect != api.TaintNoSchedule && t.Effect != api.TaintNoExecute {
			continue
		}
		ok := false
		for j := range pod.Spec.Tolerations {
			if pod.Spec.Tolerations[j].ToleratesTaint(t) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for k, v := range pod.Spec.NodeSelector {
		if lv, ok := node.Labels[k]; !ok || lv != v {
			return false
		}
	}
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.Required != nil {
		if !api.MatchesAnyTerm(a.NodeAffinity.Required, node) {
			return false
		}
	}
	return true
}
