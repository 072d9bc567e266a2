package framework

import "strings"

// EventResource is the kind of object a cluster event is about
// (pkg/scheduler/framework/types.go EventResource).
type EventResource uint8

// Event resources kubesim's scheduler reacts to.
const (
	// NodeResource: a Node was added, updated or deleted.
	NodeResource EventResource = iota + 1
	// AssignedPodResource: a pod bound to a node (or assumed on one) changed.
	AssignedPodResource
	// WildCardResource matches every resource (for registrations).
	WildCardResource
)

func (r EventResource) String() string {
	switch r {
	case NodeResource:
		return "Node"
	case AssignedPodResource:
		return "AssignedPod"
	case WildCardResource:
		return "*"
	case PersistentVolumeClaimResource:
		return "PersistentVolumeClaim"
	case PersistentVolumeResource:
		return "PersistentVolume"
	case StorageClassResource:
		return "StorageClass"
	}
	return "?"
}

// ActionType is a bit set of what happened to the resource (upstream ActionType).
type ActionType uint32

// Action types. Node updates are split by what changed, as upstream does, so that a
// heartbeat or image-list change moves no pod.
const (
	Add ActionType = 1 << iota
	Delete
	UpdateNodeAllocatable
	UpdateNodeLabel
	// UpdateNodeTaint also covers spec.unschedulable, as upstream
	// (NodeSchedulingPropertiesChange treats the cordon flag as a taint change).
	UpdateNodeTaint
	UpdateNodeCondition
	// UpdatePodScaleDown: an assigned pod's requests went down.
	UpdatePodScaleDown
	// Update: any update of an object whose updates are not split by field (the
	// storage objects).
	Update
	// All matches every action.
	All ActionType = 1<<iota - 1
)

var actionNames = []string{"Add", "Delete", "UpdateNodeAllocatable", "UpdateNodeLabel", "UpdateNodeTaint", "UpdateNodeCondition", "UpdatePodScaleDown", "Update"}

func (a ActionType) String() string {
	if a == All {
		return "All"
	}
	var parts []string
	for i, n := range actionNames {
		if a&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "None"
	}
	return strings.Join(parts, "|")
}

// ClusterEvent is something that happened in the cluster (or, in a registration, a
// kind of thing a plug-in cares about).
//
// kubesim simplification of QueueingHints (reference §2.2): upstream, each plug-in
// that rejected a pod inspects every relevant event (old and new object) and answers
// Queue or QueueSkip. Here a registration matching the event is enough: the pod is
// requeued (to backoffQ while its backoff runs, else activeQ). So, with the default
// plug-ins: a node added moves every unschedulable pod; a node whose allocatable
// changed moves pods rejected by NodeResourcesFit; label changes move pods rejected
// by NodeAffinity; taint or cordon changes move pods rejected by TaintToleration and
// NodeUnschedulable; an assigned pod deleted (or scaled down, or an assumed pod
// forgotten) moves pods rejected by NodeResourcesFit and NodePorts. Node heartbeats
// and image-list changes move nothing.
type ClusterEvent struct {
	Resource   EventResource
	ActionType ActionType
}

// Match reports whether the event e matches the registration r.
func (r ClusterEvent) Match(e ClusterEvent) bool {
	return (r.Resource == WildCardResource || r.Resource == e.Resource) && r.ActionType&e.ActionType != 0
}

func (e ClusterEvent) String() string { return e.Resource.String() + "/" + e.ActionType.String() }
