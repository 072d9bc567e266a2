package framework

import (
	"math/rand/v2"

	"github.com/kubesim/kubesim/model/api"
)

// NodeStatus is one node that failed the Filter phase, with the status that rejected
// it (upstream NodeToStatus entries).
type NodeStatus struct {
	Node   *NodeInfo
	Status *Status
}

// PostFilterResult is what a PostFilter plug-in asks the scheduler to do
// (staging k8s.io/kube-scheduler/framework PostFilterResult with NominatingInfo).
type PostFilterResult struct {
	// Nominate set means ModeOverride: the pod's nomination becomes
	// NominatedNodeName ("" clears it). Unset is ModeNoop (the nomination is kept).
	Nominate          bool
	NominatedNodeName api.NodeName
	// Victims are the pods the plug-in preempted (deleted through the apiserver),
	// for the scheduler's telemetry. Owned by the result.
	Victims []*api.Pod
}

// PostFilterPlugin runs when no node passed the Filter phase (upstream
// RunPostFilterPlugins): plug-ins run in profile order until one returns Success or
// an Error. failed lists the examined nodes with their rejection (shared slice: do
// not keep it past the call). A non-success status's message is appended to the
// pod's "0/N nodes are available" message, as upstream FitError.PostFilterMsg.
type PostFilterPlugin interface {
	Plugin
	PostFilter(state *CycleState, pod *PodInfo, failed []NodeStatus) (*PostFilterResult, *Status)
}

// PreemptionHandle is optionally implemented by a Handle (the scheduler implements
// it): what the preemption plug-in needs beyond Handle (upstream Handle's
// PluginsRunner and the nominator).
type PreemptionHandle interface {
	// RunFilterPluginsWithNominatedPods runs the profile's filters (minus those
	// whose PreFilter returned Skip in this cycle) on node, counting the pods
	// nominated to the node with a priority at least the pod's (upstream
	// framework.go RunFilterPluginsWithNominatedPods). node may be a clone.
	RunFilterPluginsWithNominatedPods(state *CycleState, pod *PodInfo, node *NodeInfo) *Status
	// NominatedPodsForNode returns the pending pods nominated to node (shared slice;
	// do not modify or keep it).
	NominatedPodsForNode(node api.NodeName) []*PodInfo
	// NominatedNodeName returns the pod's current nomination ("" if none): the
	// scheduler's own record, else the pod's status.nominatedNodeName.
	NominatedNodeName(pod *PodInfo) api.NodeName
	// PreemptionRand is the seeded "scheduler/preemption" stream.
	PreemptionRand() *rand.Rand
}

// CloneNodeInfo returns a copy of n that can be changed (AddPod, RemovePod) without
// touching n (upstream NodeInfo.Snapshot). The Node object and image states are
// shared; the pod list, requests and ports are copied. O(pods on the node).
func CloneNodeInfo(n *NodeInfo) *NodeInfo {
	c := &NodeInfo{
		Name:             n.Name,
		node:             n.node,
		unschedulable:    n.unschedulable,
		taints:           n.taints,
		slot:             n.slot,
		Allocatable:      n.Allocatable.Clone(),
		Requested:        n.Requested.Clone(),
		NonZeroRequested: n.NonZeroRequested,
		Pods:             append([]*PodInfo(nil), n.Pods...),
		ImageStates:      n.ImageStates,
		images:           n.images,
		nImages:          n.nImages,
		imagesInline:     n.imagesInline,
		Generation:       n.Generation,
	}
	if n.UsedPorts != nil {
		c.UsedPorts = make(HostPortInfo, len(n.UsedPorts))
		for k, v := range n.UsedPorts {
			c.UsedPorts[k] = v
		}
	}
	return c
}
