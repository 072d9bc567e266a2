// Package nodeunschedulable holds NodeUnschedulable, the filter that keeps pods off
// cordoned nodes (spec.unschedulable) unless they tolerate
// node.kubernetes.io/unschedulable:NoSchedule (reference §2.4;
// pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go).
package nodeunschedulable

import (
	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// Name is the plug-in's registered name.
const Name = "NodeUnschedulable"

// ErrReasonUnschedulable is the upstream rejection reason.
const ErrReasonUnschedulable = "node(s) were unschedulable"

// NodeUnschedulable rejects cordoned nodes.
type NodeUnschedulable struct {
	rejected *framework.Status
	taint    api.Taint // node.kubernetes.io/unschedulable:NoSchedule
}

var (
	_ framework.FilterPlugin      = (*NodeUnschedulable)(nil)
	_ framework.EnqueueExtensions = (*NodeUnschedulable)(nil)
)

// New builds the plug-in; it takes no arguments.
func New(_ any, _ framework.Handle) (framework.Plugin, error) {
	return &NodeUnschedulable{
		rejected: framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonUnschedulable),
		taint:    api.Taint{Key: api.TaintNodeUnschedulable, Effect: api.TaintNoSchedule},
	}, nil
}

// Name implements framework.Plugin.
func (*NodeUnschedulable) Name() string { return Name }

// Filter implements framework.FilterPlugin.
func (pl *NodeUnschedulable) Filter(_ *framework.CycleState, pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	if !node.Unschedulable() { // also when the Node is unknown
		return nil
	}
	for i := range pod.Pod.Spec.Tolerations {
		if pod.Pod.Spec.Tolerations[i].ToleratesTaint(&pl.taint) {
			return nil
		}
	}
	return pl.rejected
}

// EventsToRegister implements framework.EnqueueExtensions: a new node, or a node
// uncordoned (the cordon flag counts as a taint change, as upstream).
func (*NodeUnschedulable) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{{Resource: framework.NodeResource, ActionType: framework.Add | framework.UpdateNodeTaint}}
}
