// Package framework holds the kube-scheduler plug-in interfaces of kubesim and the
// types they exchange (NodeInfo, PodInfo, CycleState, Status), in the style of the
// upstream scheduling framework (reference §2.1; staging k8s.io/kube-scheduler/
// framework/interface.go, pkg/scheduler/framework/types.go).
//
// A plug-in is a value with a Name that implements one or more extension-point
// interfaces; the scheduler calls every extension point a configured plug-in
// implements ("multi-point" enabling, as the default upstream profile does). All
// calls happen on the engine goroutine, one scheduling cycle at a time, so plug-ins
// need no locking. Plug-ins never import the scheduler or each other: they see the
// cluster only through the NodeInfo values and the Handle they are given.
//
// Contracts shared by every extension point:
//   - *api.Pod, *api.Node and the NodeInfo/PodInfo values are shared and must not be
//     modified by plug-ins.
//   - A nil *Status means Success.
//   - A CycleState lives for one scheduling attempt of one pod.
package framework

import (
	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/sim"
)

// Score bounds (staging k8s.io/kube-scheduler/framework/interface.go; reference §2.5).
const (
	// MaxNodeScore is the highest score a plug-in may give a node after NormalizeScore.
	MaxNodeScore int64 = 100
	// MinNodeScore is the lowest.
	MinNodeScore int64 = 0
)

// Plugin is the parent of every plug-in interface.
type Plugin interface {
	// Name returns the plug-in's registered name (for example "NodeResourcesFit").
	Name() string
}

// QueueSortPlugin orders the active queue. Exactly one is enabled per profile.
type QueueSortPlugin interface {
	Plugin
	// Less reports whether a should be popped before b. The queue breaks ties (both
	// Less(a, b) and Less(b, a) false) by insertion order.
	Less(a, b *QueuedPodInfo) bool
}

// PreFilterResult narrows the nodes the Filter phase looks at. A nil result (or nil
// NodeNames) means every node.
type PreFilterResult struct {
	// NodeNames, when non-nil, are the only nodes that can possibly fit.
	NodeNames map[api.NodeName]struct{}
}

// AllNodes reports whether r places no restriction.
func (r *PreFilterResult) AllNodes() bool { return r == nil || r.NodeNames == nil }

// Merge intersects two results (nil means all nodes).
func (r *PreFilterResult) Merge(o *PreFilterResult) *PreFilterResult {
	if r.AllNodes() {
		return o
	}
	if o.AllNodes() {
		return r
	}
	out := &PreFilterResult{NodeNames: map[api.NodeName]struct{}{}}
	for n := range r.NodeNames {
		if _, ok := o.NodeNames[n]; ok {
			out.NodeNames[n] = struct{}{}
		}
	}
	return out
}

// PreFilterPlugin runs once per scheduling attempt before any Filter. It may compute
// pod-derived state into the CycleState, narrow the node set, or return Skip, in
// which case the same plug-in's Filter is not called for this pod (upstream
// behaviour since v1.27). Returning Unschedulable rejects the pod on every node.
type PreFilterPlugin interface {
	Plugin
	// PreFilter gets every node the scheduler knows, in sampling order (shared slice).
	PreFilter(state *CycleState, pod *PodInfo, nodes []*NodeInfo) (*PreFilterResult, *Status)
}

// FilterPlugin decides whether a node can run the pod. Filters run in profile order
// and the first non-success stops the evaluation of that node (upstream
// RunFilterPlugins). Unschedulable and UnschedulableAndUnresolvable reject the node;
// Error aborts the scheduling attempt.
type FilterPlugin interface {
	Plugin
	Filter(state *CycleState, pod *PodInfo, node *NodeInfo) *Status
}

// PreScorePlugin runs once per scheduling attempt on the feasible nodes, before
// Score. Returning Skip disables the same plug-in's Score for this pod (it then
// contributes nothing to any node's total).
type PreScorePlugin interface {
	Plugin
	PreScore(state *CycleState, pod *PodInfo, nodes []*NodeInfo) *Status
}

// NodeScore is one node's score from one plug-in.
type NodeScore struct {
	Name  api.NodeName
	Score int64
}

// ScorePlugin ranks feasible nodes. After NormalizeScore (if any) every score must be
// within [MinNodeScore, MaxNodeScore]; the scheduler multiplies it by the plug-in's
// weight and sums over plug-ins (reference §2.5).
type ScorePlugin interface {
	Plugin
	Score(state *CycleState, pod *PodInfo, node *NodeInfo) (int64, *Status)
	// ScoreExtensions returns nil when the plug-in has no NormalizeScore.
	ScoreExtensions() ScoreExtensions
}

// ScoreExtensions is the optional normalization step of a ScorePlugin.
type ScoreExtensions interface {
	// NormalizeScore rewrites scores in place (one entry per feasible node, in the
	// order the nodes were scored).
	NormalizeScore(state *CycleState, pod *PodInfo, scores []NodeScore) *Status
}

// ReservePlugin is told when a node has been chosen for the pod (Reserve, before the
// binding cycle starts) and when that choice is undone (Unreserve: a later Reserve
// failed or the binding failed). Unreserve must be idempotent.
type ReservePlugin interface {
	Plugin
	Reserve(state *CycleState, pod *PodInfo, node api.NodeName) *Status
	Unreserve(state *CycleState, pod *PodInfo, node api.NodeName)
}

// BindPlugin binds the pod to the node. Bind runs in the binding cycle, after the
// scheduler has assumed the pod on the node. It either returns Skip synchronously (the
// next bind plug-in is tried and done is never called) or returns nil and later calls
// done exactly once with the outcome (nil = bound). Binders are asynchronous because
// the binding is an apiserver request that takes virtual time.
type BindPlugin interface {
	Plugin
	Bind(state *CycleState, pod *PodInfo, node api.NodeName, done func(*Status)) *Status
}

// EnqueueExtensions is implemented by plug-ins that can reject pods: it names the
// cluster events after which a pod they rejected may have become schedulable. The
// scheduling queue moves such pods out of unschedulablePods when one of these events
// happens (kubesim's simplification of QueueingHints: every matching event means
// "Queue", see ClusterEvent).
type EnqueueExtensions interface {
	Plugin
	EventsToRegister() []ClusterEvent
}

// Handle is what the scheduler offers plug-ins. Plug-in factories must not call it
// during construction (the registry builds plug-ins with a nil Handle to validate
// their arguments).
type Handle interface {
	// Nodes returns every node the scheduler knows, in sampling order (zones
	// interleaved). The slice is shared: do not modify or keep it past the call.
	Nodes() []*NodeInfo
	// NodeInfo returns the node's info, or nil.
	NodeInfo(name api.NodeName) *NodeInfo
	// Client is the scheduler's apiserver client, labelled for step 3 of the story.
	Client() *apiserver.Client
	// Now is the current virtual time.
	Now() sim.Time
}
