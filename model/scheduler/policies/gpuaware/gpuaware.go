// Package gpuaware holds GPU-aware raw placement policies for GPU-sharing workloads
// (whole GPUs and fractional shares of one GPU, see policies/gpu.go): gpu-packing,
// gpu-clustering and fgd (Fragmentation Gradient Descent, Weng et al., "Beware of
// Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation Gradient
// Descent", USENIX ATC 2023). The first two are the paper's baselines as it
// describes them; kubesim's reading of them is documented on each. Every policy
// only considers nodes where policies.Fits holds (resources, per-GPU shares,
// allowed GPU models) and breaks ties by node order.
package gpuaware

import (
	"fmt"
	"sort"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/policies"
)

// Policy names.
const (
	Packing    = "gpu-packing"
	Clustering = "gpu-clustering"
	FGD        = "fgd"
)

// Names lists the policies of this package.
func Names() []string { return []string{Packing, Clustering, FGD} }

// New builds a policy. fgd takes *FGDArgs (nil: learn the workload online); the
// others take no arguments.
func New(name string, args any) (policies.Policy, error) {
	switch name {
	case Packing:
		return &packing{}, nil
	case Clustering:
		return &clustering{}, nil
	case FGD:
		var a *FGDArgs
		switch v := args.(type) {
		case nil:
		case *FGDArgs:
			a = v
		case FGDArgs:
			a = &v
		default:
			return nil, fmt.Errorf("fgd: args must be *gpuaware.FGDArgs, got %T", args)
		}
		return NewFGD(a)
	}
	return nil, fmt.Errorf("unknown policy %q", name)
}

// packKey ranks a feasible node for GPU packing (lower is better): tier 0 when the
// pod's share goes onto an already shared GPU, 1 when the node already runs GPU work
// (an idle GPU of an active node), 2 for an idle node; then the GPU capacity left
// free on the node after placement (pack tightly); then the cpu/memory left free
// (mean fraction). Pods without GPU requests go to the node with the least free GPU
// capacity (CPU nodes first), then best fit on cpu/memory.
func packKey(sc *policies.GPUScratch, pod *framework.PodInfo, ni *framework.NodeInfo) (tier int, gpuLeft int64, left float64) {
	left = 1 - policies.Utilization(ni, &pod.Requests)
	st := sc.GPUState(ni, "")
	total := policies.NumGPUs(ni) * policies.MilliPerGPU
	gpuLeft = st.TotalFree() - policies.GPURequest(pod)
	if policies.GPURequest(pod) == 0 {
		return 0, st.TotalFree(), left
	}
	if m := policies.MilliGPU(pod); m > 0 {
		if i := st.BestFit(m); i >= 0 && st.Used[i] > 0 {
			return 0, gpuLeft, left
		}
	}
	if st.TotalFree() < total {
		return 1, gpuLeft, left
	}
	return 2, gpuLeft, left
}

func lessKey(t1 int, g1 int64, l1 float64, t2 int, g2 int64, l2 float64) bool {
	if t1 != t2 {
		return t1 < t2
	}
	if g1 != g2 {
		return g1 < g2
	}
	return l1 < l2
}

// packing is GPU packing: occupied GPUs first, then idle GPUs of active nodes, then
// idle nodes (see packKey). The GPU of a share is the fullest GPU where it fits.
type packing struct{ sc policies.GPUScratch }

func (*packing) Name() string { return Packing }

func (p *packing) Schedule(_ *policies.Context, pod *framework.PodInfo, nodes []*framework.NodeInfo) (api.NodeName, string) {
	var best *framework.NodeInfo
	var bt int
	var bg int64
	var bl float64
	for _, ni := range nodes {
		if !policies.Fits(pod, ni) {
			continue
		}
		t, g, l := packKey(&p.sc, pod, ni)
		if best == nil || lessKey(t, g, l, bt, bg, bl) {
			best, bt, bg, bl = ni, t, g, l
		}
	}
	if best == nil {
		return "", policies.NoFitReason(len(nodes))
	}
	return best.Name, fmt.Sprintf("gpu packing: tier %d (0 shared GPU, 1 active node, 2 idle node), %d milli GPU left", bt, bg)
}

// clustering is GPU clustering: pods with the same GPU request are packed onto the
// same nodes, so that each node serves one request size and keeps its GPUs
// divisible for it: the node running the most pods with exactly the pod's GPU
// request (whole GPUs and share) wins; ties are broken as GPU packing.
type clustering struct{ sc policies.GPUScratch }

func (*clustering) Name() string { return Clustering }

func (c *clustering) Schedule(_ *policies.Context, pod *framework.PodInfo, nodes []*framework.NodeInfo) (api.NodeName, string) {
	req := policies.GPURequest(pod)
	var best *framework.NodeInfo
	bestSame := -1
	var bt int
	var bg int64
	var bl float64
	for _, ni := range nodes {
		if !policies.Fits(pod, ni) {
			continue
		}
		same := 0
		if req > 0 {
			for _, q := range ni.Pods {
				if policies.GPURequest(q) == req {
					same++
				}
			}
		}
		t, g, l := packKey(&c.sc, pod, ni)
		if best == nil || same > bestSame || (same == bestSame && lessKey(t, g, l, bt, bg, bl)) {
			best, bestSame, bt, bg, bl = ni, same, t, g, l
		}
	}
	if best == nil {
		return "", policies.NoFitReason(len(nodes))
	}
	return best.Name, fmt.Sprintf("gpu clustering: %d pod(s) with the same GPU request (%d milli) on the node", bestSame, req)
}

// TaskClass is one class of the target workload of FGD: a request shape and its
// share of the workload.
type TaskClass struct {
	MilliCPU  int64
	Memory    int64
	WholeGPUs int64
	GPUMilli  int64 // a share of one GPU (0 when WholeGPUs > 0 or no GPU)
	// Popularity is the class's weight (normalized over the classes).
	Popularity float64
}

// FGDArgs configures fgd.
type FGDArgs struct {
	// Workload is the target workload M. Empty: learned online, every pod the policy
	// is asked to place counting once for its request shape (kubesim's default; the
	// paper takes M from the trace's task distribution).
	Workload []TaskClass
}

// NewFGD builds the fgd policy.
func NewFGD(a *FGDArgs) (*Fgd, error) {
	f := &Fgd{classes: map[classKey]int{}}
	if a != nil && len(a.Workload) > 0 {
		var sum float64
		for i, c := range a.Workload {
			if c.Popularity < 0 || c.MilliCPU < 0 || c.Memory < 0 || c.WholeGPUs < 0 || c.GPUMilli < 0 || c.GPUMilli > policies.MilliPerGPU {
				return nil, fmt.Errorf("fgd: workload[%d]: invalid class %+v", i, c)
			}
			sum += c.Popularity
		}
		if sum <= 0 {
			return nil, fmt.Errorf("fgd: workload popularities sum to 0")
		}
		f.fixed = true
		for _, c := range a.Workload {
			c.Popularity /= sum
			f.workload = append(f.workload, c)
		}
	}
	return f, nil
}

type classKey struct{ cpu, mem, whole, milli int64 }

// Fgd is Fragmentation Gradient Descent. The fragmentation of node n for a task
// class m, F_n(m), is the node's unallocated GPU capacity that m cannot use: all of
// it when m cannot run on n (cpu, memory or GPUs short) or asks for no GPU;
// otherwise the free share of every partially used GPU whose free share is below
// min(m's GPU demand, one GPU). F_n(M) = Σ_m popularity(m)·F_n(m). For each
// feasible node — and, for a share, each GPU where it fits — FGD computes the
// increase of F_n(M) that placing the pod causes and takes the smallest (first node,
// lowest GPU on ties). Cost: O(nodes · GPUs per node · classes) per pod.
type Fgd struct {
	fixed    bool
	workload []TaskClass
	classes  map[classKey]int
	keys     []classKey // sorted: deterministic order
	total    int
	sc       policies.GPUScratch
	// the last decision, for ChooseGPU
	lastUID  api.UID
	lastNode api.NodeName
	lastGPU  int
}

// Name implements policies.Policy.
func (*Fgd) Name() string { return FGD }

func (f *Fgd) learn(pod *framework.PodInfo) {
	if f.fixed {
		return
	}
	k := classKey{pod.Requests.MilliCPU, pod.Requests.Memory, policies.WholeGPUs(pod), policies.MilliGPU(pod)}
	if _, ok := f.classes[k]; !ok {
		i := sort.Search(len(f.keys), func(i int) bool { return !keyLess(f.keys[i], k) })
		f.keys = append(f.keys, classKey{})
		copy(f.keys[i+1:], f.keys[i:])
		f.keys[i] = k
	}
	f.classes[k]++
	f.total++
	f.workload = f.workload[:0]
	for _, k := range f.keys {
		f.workload = append(f.workload, TaskClass{MilliCPU: k.cpu, Memory: k.mem, WholeGPUs: k.whole, GPUMilli: k.milli,
			Popularity: float64(f.classes[k]) / float64(f.total)})
	}
}

func keyLess(a, b classKey) bool {
	if a.whole != b.whole {
		return a.whole < b.whole
	}
	if a.milli != b.milli {
		return a.milli < b.milli
	}
	if a.cpu != b.cpu {
		return a.cpu < b.cpu
	}
	return a.mem < b.mem
}

// Fragmentation returns F_n(M) for a node state (exported for metrics and tests):
// st is the node's GPU state, freeCPU and freeMem its free cpu and memory.
func Fragmentation(st *policies.NodeGPUState, freeCPU, freeMem int64, workload []TaskClass) float64 {
	total := max(st.TotalFree(), 0)
	if total == 0 {
		return 0
	}
	fully := st.FullyFree()
	var frag float64
	for i := range workload {
		c := &workload[i]
		d := c.WholeGPUs*policies.MilliPerGPU + c.GPUMilli
		fits := c.MilliCPU <= freeCPU && c.Memory <= freeMem
		if fits && c.WholeGPUs > 0 && fully < c.WholeGPUs {
			fits = false
		}
		if fits && c.GPUMilli > 0 && st.BestFit(c.GPUMilli) < 0 {
			fits = false
		}
		if d == 0 || !fits {
			frag += c.Popularity * float64(total)
			continue
		}
		thr := min(d, policies.MilliPerGPU)
		var f int64
		for _, u := range st.Used {
			if u > 0 && policies.MilliPerGPU-u < thr {
				f += policies.MilliPerGPU - u
			}
		}
		frag += c.Popularity * float64(f)
	}
	return frag
}

// Schedule implements policies.Policy.
func (f *Fgd) Schedule(_ *policies.Context, pod *framework.PodInfo, nodes []*framework.NodeInfo) (api.NodeName, string) {
	f.learn(pod)
	var best *framework.NodeInfo
	bestGPU := -1
	var bestDelta float64
	w, m := policies.WholeGPUs(pod), policies.MilliGPU(pod)
	for _, ni := range nodes {
		if !policies.Fits(pod, ni) {
			continue
		}
		st := f.sc.GPUState(ni, "")
		cpu, mem := policies.Free(ni)
		before := Fragmentation(&st, cpu, mem, f.workload)
		cpu -= pod.Requests.MilliCPU
		mem -= pod.Requests.Memory
		try := func(gpu int) {
			after := Fragmentation(&st, cpu, mem, f.workload)
			if d := after - before; best == nil || d < bestDelta {
				best, bestGPU, bestDelta = ni, gpu, d
			}
		}
		switch {
		case m > 0:
			for i := range st.Used {
				if st.Free(i) < m {
					continue
				}
				st.Used[i] += m
				try(i)
				st.Used[i] -= m
			}
		default:
			st.Whole += w
			try(-1)
			st.Whole -= w
		}
	}
	if best == nil {
		return "", policies.NoFitReason(len(nodes))
	}
	f.lastUID, f.lastNode, f.lastGPU = pod.Pod.UID, best.Name, bestGPU
	if bestGPU >= 0 {
		return best.Name, fmt.Sprintf("fgd: least fragmentation increase %.1f milli-GPU (GPU %d)", bestDelta, bestGPU)
	}
	return best.Name, fmt.Sprintf("fgd: least fragmentation increase %.1f milli-GPU", bestDelta)
}

// ChooseGPU implements policies.GPUChooser: the GPU found by the last Schedule.
func (f *Fgd) ChooseGPU(_ *policies.Context, pod *framework.PodInfo, node *framework.NodeInfo) int {
	if pod.Pod.UID == f.lastUID && node.Name == f.lastNode {
		return f.lastGPU
	}
	return -1
}
