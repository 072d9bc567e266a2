package noderesources

import (
	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

type resourceKind uint8

const (
	kindNone resourceKind = iota // "pods" or anything never scored
	kindCPU
	kindMemory
	kindEphemeral
	kindScalar
)

// resource is a compiled ResourceSpec.
type resource struct {
	kind   resourceKind
	name   api.ResourceName
	weight int64
}

func compile(rs []ResourceSpec) []resource {
	out := make([]resource, len(rs))
	for i, r := range rs {
		k := kindScalar
		switch r.Name {
		case ResourceCPU:
			k = kindCPU
		case ResourceMemory:
			k = kindMemory
		case ResourceEphemeralStorage:
			k = kindEphemeral
		case ResourcePods:
			k = kindNone
		}
		out[i] = resource{kind: k, name: r.Name, weight: r.Weight}
	}
	return out
}

// podRequests returns the pod's request for each resource: with the non-zero cpu
// and memory defaults when nonZero (NodeResourcesFit scoring), actual requests
// otherwise (BalancedAllocation) — resource_allocation.go calculatePodResourceRequest.
func podRequests(pod *framework.PodInfo, rs []resource, nonZero bool) []int64 {
	out := make([]int64, len(rs))
	for i, r := range rs {
		switch r.kind {
		case kindCPU:
			if nonZero {
				out[i] = pod.NonZeroMilliCPU
			} else {
				out[i] = pod.Requests.MilliCPU
			}
		case kindMemory:
			if nonZero {
				out[i] = pod.NonZeroMemory
			} else {
				out[i] = pod.Requests.Memory
			}
		case kindEphemeral:
			out[i] = pod.Requests.EphemeralStorage
		case kindScalar:
			out[i] = pod.Requests.Scalar[r.name]
		}
	}
	return out
}

// allocatableRequested returns the node's allocatable and the requested amount
// including the incoming pod for resource r, or (0, 0) when the resource must be left
// out: allocatable 0, an extended resource the pod does not request, or one the node
// does not have (resource_allocation.go calculateResourceAllocatableRequest). cpu and
// memory use the non-zero sums when nonZero.
func allocatableRequested(node *framework.NodeInfo, r *resource, podReq int64, nonZero bool) (alloc, req int64) {
	switch r.kind {
	case kindCPU:
		if nonZero {
			return node.Allocatable.MilliCPU, node.NonZeroRequested.MilliCPU + podReq
		}
		return node.Allocatable.MilliCPU, node.Requested.MilliCPU + podReq
	case kindMemory:
		if nonZero {
			return node.Allocatable.Memory, node.NonZeroRequested.Memory + podReq
		}
		return node.Allocatable.Memory, node.Requested.Memory + podReq
	case kindEphemeral:
		return node.Allocatable.EphemeralStorage, node.Requested.EphemeralStorage + podReq
	case kindScalar:
		if podReq == 0 {
			return 0, 0
		}
		a, ok := node.Allocatable.Scalar[r.name]
		if !ok {
			return 0, 0
		}
		return a, node.Requested.Scalar[r.name] + podReq
	}
	return 0, 0
}
