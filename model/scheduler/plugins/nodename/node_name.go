// Package nodename holds NodeName, the filter that honours a pod's spec.nodeName
// (pkg/scheduler/framework/plugins/nodename/node_name.go). The scheduler only sees
// pods without a node name, so in kubesim it only matters for custom flows; it is kept
// because it is part of the default profile.
package nodename

import (
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// Name is the plug-in's registered name.
const Name = "NodeName"

// ErrReason is the upstream rejection reason.
const ErrReason = "node(s) didn't match the requested node name"

// NodeName rejects every node but the one named in spec.nodeName, when set.
type NodeName struct {
	rejected *framework.Status
}

var (
	_ framework.FilterPlugin      = (*NodeName)(nil)
	_ framework.EnqueueExtensions = (*NodeName)(nil)
)

// New builds the plug-in; it takes no arguments.
func New(_ any, _ framework.Handle) (framework.Plugin, error) {
	return &NodeName{rejected: framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReason)}, nil
}

// Name implements framework.Plugin.
func (*NodeName) Name() string { return Name }

// Filter implements framework.FilterPlugin.
func (pl *NodeName) Filter(_ *framework.CycleState, pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	if want := pod.Pod.Spec.NodeName; want != "" && want != node.Name {
		return pl.rejected
	}
	return nil
}

// EventsToRegister implements framework.EnqueueExtensions: only a new node can help.
func (*NodeName) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{{Resource: framework.NodeResource, ActionType: framework.Add}}
}
