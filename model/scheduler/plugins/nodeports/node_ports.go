// Package nodeports holds NodePorts, the filter that rejects nodes where a host port
// the pod wants is already in use (reference §2.4;
// pkg/scheduler/framework/plugins/nodeports/node_ports.go). PreFilter returns Skip for
// pods without host ports, so most pods never run its Filter.
package nodeports

import (
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// Name is the plug-in's registered name.
const Name = "NodePorts"

// ErrReason is the upstream rejection reason.
const ErrReason = "node(s) didn't have free ports for the requested pod ports"

// NodePorts filters nodes by host-port conflicts.
type NodePorts struct {
	rejected *framework.Status
}

var (
	_ framework.PreFilterPlugin   = (*NodePorts)(nil)
	_ framework.FilterPlugin      = (*NodePorts)(nil)
	_ framework.EnqueueExtensions = (*NodePorts)(nil)
)

// New builds the plug-in; it takes no arguments.
func New(_ any, _ framework.Handle) (framework.Plugin, error) {
	return &NodePorts{rejected: framework.NewStatus(framework.Unschedulable, ErrReason)}, nil
}

// Name implements framework.Plugin.
func (*NodePorts) Name() string { return Name }

// PreFilter implements framework.PreFilterPlugin: Skip when the pod wants no host port.
func (pl *NodePorts) PreFilter(_ *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) (*framework.PreFilterResult, *framework.Status) {
	if len(pod.HostPorts) == 0 {
		return nil, framework.NewStatus(framework.Skip)
	}
	return nil, nil
}

// Filter implements framework.FilterPlugin.
func (pl *NodePorts) Filter(_ *framework.CycleState, pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	for _, p := range pod.HostPorts {
		if node.UsedPorts.CheckConflict(p) {
			return pl.rejected
		}
	}
	return nil
}

// EventsToRegister implements framework.EnqueueExtensions: a port frees up when an
// assigned pod goes away, or a new node arrives.
func (*NodePorts) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.AssignedPodResource, ActionType: framework.Delete},
		{Resource: framework.NodeResource, ActionType: framework.Add},
	}
}
