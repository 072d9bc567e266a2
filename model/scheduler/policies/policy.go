// Package policies is kubesim's raw scheduling-policy interface: a policy is handed
// one pending pod and the nodes the scheduler knows and names the node to run it on,
// without the filter/score mould of the scheduling framework. The built-in policies
// live in the sub-packages (basic: random, round-robin, first-fit, best-fit,
// worst-fit, power-of-two-choices, dot-product; gpuaware: gpu-packing,
// gpu-clustering, fgd); model/scheduler runs them (scheduler.PolicyProfile).
//
// The package also holds the GPU accounting every policy and the default profile
// share: whole GPUs (api.ResourceGPU) and fractional shares of one GPU
// (api.ResourceGPUMilli) tracked per GPU through the pod annotation
// AnnotationGPUIndex (gpu.go).
//
// Writing a policy. Implement Policy; use Fits to honour resource fit and the pod's
// required node affinity (which carries the allowed GPU models), and ctx.Rand for any
// randomness (never another source: runs must stay deterministic):
//
//	type leastPods struct{}
//
//	func (leastPods) Name() string { return "least-pods" }
//
//	func (leastPods) Schedule(ctx *policies.Context, pod *framework.PodInfo, nodes []*framework.NodeInfo) (api.NodeName, string) {
//		var best *framework.NodeInfo
//		for _, ni := range nodes {
//			if policies.Fits(pod, ni) && (best == nil || len(ni.Pods) < len(best.Pods)) {
//				best = ni
//			}
//		}
//		if best == nil {
//			return "", policies.NoFitReason(len(nodes))
//		}
//		return best.Name, "fewest pods"
//	}
//
// and register it with scheduler.RegisterPolicy(registry, "least-pods", func(args any) (policies.Policy, error) { return leastPods{}, nil }).
package policies

import (
	"fmt"
	"math/rand/v2"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/sim"
)

// Policy is a raw scheduling algorithm.
//
// Schedule is called once per scheduling attempt of pod with every node the
// scheduler knows, in the scheduler's sampling order (zones interleaved; a shared
// slice: do not modify or keep it). It returns the chosen node and a short reason
// (shown in the trace), or "" and the reason the pod cannot be placed (the pod is
// then Unschedulable and retried after a cluster event or its backoff). The
// NodeInfos reflect every pod bound or assumed so far (they already include the
// previous decisions); they are shared and read-only. Schedule runs inside one
// engine event: it costs the scheduler's CycleLatency plus PerNodeLatency per node
// in nodes of virtual time, whatever it does.
type Policy interface {
	Name() string
	Schedule(ctx *Context, pod *framework.PodInfo, nodes []*framework.NodeInfo) (node api.NodeName, reason string)
}

// GPUChooser is implemented by policies that also choose which GPU of the chosen
// node a fractional-GPU pod (api.ResourceGPUMilli) shares. Without it the scheduler
// uses DefaultGPUIndex (best fit on the node).
type GPUChooser interface {
	// ChooseGPU returns the index of a GPU of node where the pod's share fits.
	ChooseGPU(ctx *Context, pod *framework.PodInfo, node *framework.NodeInfo) int
}

// Context is what a policy gets besides the pod and the nodes.
type Context struct {
	// Rand is the policy's random stream (engine stream "scheduler/policy/<name>"):
	// the only randomness a policy may use.
	Rand *rand.Rand
	// Now is the current virtual time.
	Now sim.Time
	// GPU is scratch space for the GPU accounting helpers (reused across calls).
	GPU GPUScratch
}

// Fits reports whether pod fits on node: the node object is known, the pod count,
// cpu, memory, ephemeral storage and every extended resource fit in the node's
// allocatable minus what its pods request; a fractional GPU share fits on one GPU
// (GPUFits); and the pod's required node affinity (which expresses its allowed GPU
// models, kubesim.io/gpu-model In [...]) matches the node.
//
// Simplification: raw policies do not look at taints, host ports, volumes or
// node.spec.unschedulable (a profile built from framework plug-ins does).
func Fits(pod *framework.PodInfo, ni *framework.NodeInfo) bool {
	n := ni.Node()
	if n == nil {
		return false
	}
	alloc, used, req := &ni.Allocatable, &ni.Requested, &pod.Requests
	if used.Pods+1 > alloc.Pods ||
		used.MilliCPU+req.MilliCPU > alloc.MilliCPU ||
		used.Memory+req.Memory > alloc.Memory ||
		used.EphemeralStorage+req.EphemeralStorage > alloc.EphemeralStorage {
		return false
	}
	for k, v := range req.Scalar {
		if k == api.ResourceGPUMilli || v == 0 {
			continue // checked per GPU below
		}
		if used.Scalar[k]+v > alloc.Scalar[k] {
			return false
		}
	}
	if !GPUFits(pod, ni) {
		return false
	}
	return AffinityAllows(pod.Pod, n)
}

// AffinityAllows reports whether the pod's nodeAffinity required terms (if any)
// match the node. Allowed GPU models are expressed this way
// (kubesim.io/gpu-model In [A100, V100]).
func AffinityAllows(p *api.Pod, n *api.Node) bool {
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || len(a.NodeAffinity.Required) == 0 {
		return true
	}
	return api.MatchesAnyTerm(a.NodeAffinity.Required, n)
}

// NoFitReason is the reason a policy gives when no node fits.
func NoFitReason(numNodes int) string {
	if numNodes == 0 {
		return "no nodes available to schedule pods"
	}
	return fmt.Sprintf("0/%d nodes are available: no node fits the pod's requests (cpu, memory, pods, GPUs) and allowed GPU models", numNodes)
}

// Free returns the node's allocatable minus its requests for cpu and memory
// (clamped at 0).
func Free(ni *framework.NodeInfo) (milliCPU, memory int64) {
	return max(ni.Allocatable.MilliCPU-ni.Requested.MilliCPU, 0), max(ni.Allocatable.Memory-ni.Requested.Memory, 0)
}

// Utilization returns the node's mean requested fraction of cpu and memory after
// adding extra (0 when the node has no allocatable).
func Utilization(ni *framework.NodeInfo, extra *api.Resources) float64 {
	var sum float64
	var n int
	if a := ni.Allocatable.MilliCPU; a > 0 {
		sum += float64(ni.Requested.MilliCPU+extra.MilliCPU) / float64(a)
		n++
	}
	if a := ni.Allocatable.Memory; a > 0 {
		sum += float64(ni.Requested.Memory+extra.Memory) / float64(a)
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// Failer is implemented by policies that can fail for reasons other than "no node
// fits" (an external extender that timed out, for example). After Schedule returned
// no node, the scheduler calls Err: a non-nil error makes the attempt a
// SchedulerError (retried with error backoff) instead of Unschedulable.
type Failer interface {
	Err() error
}
