package policies

import (
	"strconv"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// GPU accounting.
//
// A node has ni.Allocatable.Scalar[api.ResourceGPU] GPUs (a whole number) and the
// label api.LabelGPUModel. A pod asks either for whole GPUs (api.ResourceGPU: N) or
// for a share of ONE GPU (api.ResourceGPUMilli: 1..1000 thousandths). Whole-GPU pods
// take GPUs nobody shares; fractional pods are pinned to one GPU, whose index the
// scheduler records in the pod annotation AnnotationGPUIndex (written by the GPUShare
// PreBind step through a pod Update before the Binding; kept in memory on the
// assumed pod in the meantime).
//
// The per-GPU state of a node is derived from the pods on its NodeInfo (O(pods on
// the node), computed only for GPU pods and GPU nodes; nothing is copied per cycle).
// Whole-GPU pods are not pinned to indices: they take a count of the GPUs that no
// fractional pod uses (kubesim simplification of the device plugin's assignment,
// which gives the same feasibility). A fractional pod without a (valid) annotation —
// bound by another binder, or assumed by a profile without the GPUShare step — is
// placed, in the node's pod order, on the GPU DefaultGPUIndex picks.

// AnnotationGPUIndex is the pod annotation holding the index (0-based, decimal) of
// the GPU a fractional-GPU pod shares.
const AnnotationGPUIndex = "kubesim.io/gpu-index"

// MilliPerGPU is the share of a whole GPU.
const MilliPerGPU = 1000

// WholeGPUs returns the whole GPUs the pod requests.
func WholeGPUs(pod *framework.PodInfo) int64 { return podScalar(pod, api.ResourceGPU) }

// MilliGPU returns the fractional GPU share the pod requests (0 if none).
func MilliGPU(pod *framework.PodInfo) int64 { return podScalar(pod, api.ResourceGPUMilli) }

// podScalar reads one extended-resource request from the PodInfo's sorted copy
// (framework.PodInfo.Scalars, a few entries: cheaper than a map lookup on the
// per-node paths), falling back to the map for a PodInfo built without it.
func podScalar(pod *framework.PodInfo, name api.ResourceName) int64 {
	if pod.Scalars == nil && len(pod.Requests.Scalar) > 0 {
		return pod.Requests.Scalar[name]
	}
	for _, s := range pod.Scalars {
		if s.Name == name {
			return s.Quantity
		}
	}
	return 0
}

// GPURequest returns the pod's GPU demand in thousandths of a GPU (whole GPUs ×
// 1000 plus the share).
func GPURequest(pod *framework.PodInfo) int64 { return WholeGPUs(pod)*MilliPerGPU + MilliGPU(pod) }

// NumGPUs returns the node's GPU count.
func NumGPUs(ni *framework.NodeInfo) int64 {
	alloc, _ := ni.Scalar(api.ResourceGPU) // the NodeInfo's compact copy of Allocatable.Scalar
	return alloc
}

// GPUModel returns the node's GPU model label ("" when none).
func GPUModel(ni *framework.NodeInfo) string {
	if n := ni.Node(); n != nil {
		return n.Labels[api.LabelGPUModel]
	}
	return ""
}

// GPUIndexOf returns the GPU index recorded on the pod, or -1.
func GPUIndexOf(p *api.Pod) int {
	s, ok := p.Annotations[AnnotationGPUIndex]
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 {
		return -1
	}
	return i
}

// GPUScratch is reusable memory for NodeGPUState (one per caller, not shared across
// goroutines).
type GPUScratch struct{ used []int64 }

// NodeGPUState is the GPU occupancy of one node.
type NodeGPUState struct {
	// Used[i] is the milli used on GPU i by fractional pods (aliases the scratch).
	Used []int64
	// Whole is the number of GPUs taken by whole-GPU pods.
	Whole int64
}

// Free returns the free milli of GPU i for a fractional share: 0 when the GPU is
// untouched by fractional pods but every such GPU is needed by whole-GPU pods.
func (s *NodeGPUState) Free(i int) int64 {
	if s.Used[i] == 0 && s.FullyFree() <= 0 {
		return 0
	}
	return MilliPerGPU - s.Used[i]
}

// FullyFree is the number of GPUs neither shared nor taken whole.
func (s *NodeGPUState) FullyFree() int64 {
	var n int64
	for _, u := range s.Used {
		if u == 0 {
			n++
		}
	}
	return n - s.Whole
}

// TotalFree is the node's free GPU capacity in milli.
func (s *NodeGPUState) TotalFree() int64 {
	var f int64
	for _, u := range s.Used {
		f += MilliPerGPU - u
	}
	return f - s.Whole*MilliPerGPU
}

// GPUState computes the node's GPU state, ignoring the pod with UID skip (pass ""
// to count every pod).
func (sc *GPUScratch) GPUState(ni *framework.NodeInfo, skip api.UID) NodeGPUState {
	n := int(NumGPUs(ni))
	if cap(sc.used) < n {
		sc.used = make([]int64, n)
	}
	st := NodeGPUState{Used: sc.used[:n]}
	clear(st.Used)
	var unpinned bool
	for _, p := range ni.Pods {
		if p.Pod.UID == skip && skip != "" {
			continue
		}
		st.Whole += WholeGPUs(p)
		m := MilliGPU(p)
		if m == 0 {
			continue
		}
		if i := GPUIndexOf(p.Pod); i >= 0 && i < n {
			st.Used[i] += m
		} else {
			unpinned = true
		}
	}
	if unpinned { // second pass, in pod order: place the unpinned shares
		for _, p := range ni.Pods {
			if p.Pod.UID == skip && skip != "" {
				continue
			}
			m := MilliGPU(p)
			if m == 0 {
				continue
			}
			if i := GPUIndexOf(p.Pod); i >= 0 && i < n {
				continue
			}
			if i := st.BestFit(m); i >= 0 {
				st.Used[i] += m
			}
		}
	}
	return st
}

// BestFit returns the GPU with the least free share that still fits m milli
// (lowest index on ties), or -1: fractional pods pack onto shared GPUs first.
func (s *NodeGPUState) BestFit(m int64) int {
	best := -1
	var bestFree int64
	for i := range s.Used {
		f := s.Free(i)
		if f >= m && (best < 0 || f < bestFree) {
			best, bestFree = i, f
		}
	}
	return best
}

// Fits reports whether pod's GPU demand fits the state: whole GPUs among the fully
// free ones, a share on one GPU.
func (s *NodeGPUState) Fits(pod *framework.PodInfo) bool {
	w, m := WholeGPUs(pod), MilliGPU(pod)
	if w > 0 && s.FullyFree() < w {
		return false
	}
	if m > 0 {
		if m > MilliPerGPU {
			return false
		}
		return s.BestFit(m) >= 0
	}
	return true
}

// GPUFits reports whether the pod's GPU demand fits on the node: whole GPUs among
// the GPUs no pod uses, a fractional share only if ONE GPU has that much free. It is
// cheap (no allocation) for pods without GPU requests. The default profile's
// NodeResourcesFit should call it for api.ResourceGPUMilli (which nodes do not
// advertise) and api.ResourceGPU.
func GPUFits(pod *framework.PodInfo, ni *framework.NodeInfo) bool {
	if WholeGPUs(pod) == 0 && MilliGPU(pod) == 0 {
		return true
	}
	var sc GPUScratch
	st := sc.GPUState(ni, "")
	return st.Fits(pod)
}

// DefaultGPUIndex returns the GPU a fractional pod should share on the node (best
// fit), or -1 when none fits or the pod asks for no share. The pod itself is
// excluded from the node's pods (it may already be assumed there).
func DefaultGPUIndex(sc *GPUScratch, pod *framework.PodInfo, ni *framework.NodeInfo) int {
	m := MilliGPU(pod)
	if m == 0 {
		return -1
	}
	st := sc.GPUState(ni, pod.Pod.UID)
	return st.BestFit(m)
}

// WithGPUIndex returns a PodInfo for a copy of the pod annotated with GPU index i.
func WithGPUIndex(pod *framework.PodInfo, i int) *framework.PodInfo {
	p := pod.Pod.DeepCopy()
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[AnnotationGPUIndex] = strconv.Itoa(i)
	return framework.NewPodInfo(p)
}
