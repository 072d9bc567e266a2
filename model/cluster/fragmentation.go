package cluster

import (
	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/policies"
	"github.com/kubesim/kubesim/model/scheduler/policies/gpuaware"
)

// Fragmentation and stranded resources (issue 3, part 7), sampled with the other
// research gauges.
//
// The workload M is the distribution of request shapes (cpu, memory, whole GPUs,
// GPU share) of the pods created so far in the run, each pod counted once when it
// is created: for a trace replay it is the trace's distribution up to now (the
// FGD paper takes the trace's), for other scenarios the pods seen so far.
//
// GPU fragmentation is FGD's measure (Weng et al., USENIX ATC 2023, §3): the
// fragmentation of node n for a task class m, F_n(m), is the node's unallocated
// GPU capacity that m cannot use (gpuaware.Fragmentation, the function the fgd
// policy minimizes: all of it when m does not fit the node's free cpu, memory and
// GPUs or asks for no GPU, else the free share of every partly used GPU too small
// for m). The cluster's fragmentation is the expectation over the workload,
// F = Σ_m p_m Σ_n F_n(m), reported in GPUs (gpu_fragmented_gpus) and as a share
// of the unallocated GPU capacity (gpu_fragmentation_rate).
//
// Stranded CPU and memory are the free CPU and memory of nodes on which no request
// shape of the workload fits (cpu, memory, a pod slot, whole GPUs among the fully
// free ones, a share on one GPU), as a share of the cluster's allocatable CPU and
// memory. Allowed GPU models and the other scheduling constraints (taints,
// affinity, ports) are not considered; every node counts whatever its readiness,
// and a node of a kind the workload never uses (a CPU-only node when every pod
// asks for a GPU) strands all its free resources.
//
// Cost: pod and node events only update per-node usage and mark the node dirty
// (a pod's status updates, which change none of this, are skipped); at each
// sample the dirty nodes are recomputed for every class (O(classes · GPUs)), a new
// class is computed on every node once, and the cluster values are
// O(classes + nodes). Per-GPU shares follow the kubesim.io/gpu-index annotation
// (unannotated shares go to the best-fitting GPU, as policies.GPUScratch does).
type fragTracker struct {
	classIdx map[fragClassKey]int
	classes  []gpuaware.TaskClass // Popularity unused (1)
	counts   []int64
	total    int64
	computed int // classes[:computed] are reflected in every node's values

	nodes map[string]*fragNode
	list  []*fragNode // every entry, in creation order (iterated at samples)
	dirty []*fragNode
	// sumFrag[m] = Σ_n F_n(m), in milli-GPU.
	sumFrag []int64
	used    []int64              // scratch: per-GPU shares of one node
	one     []gpuaware.TaskClass // scratch: a one-class workload
}

type fragClassKey struct{ cpu, mem, whole, milli int64 }

type fragNode struct {
	alloc          api.Resources
	cpu, mem, pods int64 // requested by bound pods
	whole          int64 // whole GPUs taken
	shares         []fragShare
	frag           []int64 // F_n(m) per class, milli-GPU
	nfit           int     // classes that fit
	freeGPU        int64   // unallocated GPU capacity, milli
	gpuMilli       int64   // Σ shares, milli
	gpus           int64   // GPUs allocatable
	present        bool    // the node exists (not deleted)
	isDirty        bool
}

type fragShare struct {
	uid   api.UID
	milli int64
	idx   int // -1: unannotated
}

// fragPod is what one pod contributes to its node.
type fragPod struct {
	node                   string
	cpu, mem, whole, milli int64
	idx                    int
}

func newFragTracker() *fragTracker {
	return &fragTracker{classIdx: map[fragClassKey]int{}, nodes: map[string]*fragNode{}, one: make([]gpuaware.TaskClass, 1)}
}

func podShape(r *api.Resources) fragClassKey {
	return fragClassKey{r.MilliCPU, r.Memory, r.Scalar[api.ResourceGPU], r.Scalar[api.ResourceGPUMilli]}
}

// podCreated counts a new pod's request shape in the workload.
func (t *fragTracker) podCreated(p *api.Pod) {
	r := p.Requests()
	k := podShape(&r)
	i, ok := t.classIdx[k]
	if !ok {
		i = len(t.classes)
		t.classIdx[k] = i
		t.classes = append(t.classes, gpuaware.TaskClass{MilliCPU: k.cpu, Memory: k.mem, WholeGPUs: k.whole, GPUMilli: k.milli, Popularity: 1})
		t.counts = append(t.counts, 0)
		t.sumFrag = append(t.sumFrag, 0)
	}
	t.counts[i]++
	t.total++
}

// contribution returns what the pod takes on its node (ok false: nothing).
func contribution(p *api.Pod) (fragPod, bool) {
	if p == nil || p.Spec.NodeName == "" || p.IsTerminal() {
		return fragPod{}, false
	}
	r := p.Requests()
	fp := fragPod{node: string(p.Spec.NodeName), cpu: r.MilliCPU, mem: r.Memory, whole: r.Scalar[api.ResourceGPU], milli: r.Scalar[api.ResourceGPUMilli], idx: -1}
	if fp.milli > 0 {
		fp.idx = policies.GPUIndexOf(p)
	}
	return fp, true
}

// podChanged applies a pod write (old or cur nil for a creation or a deletion).
func (t *fragTracker) podChanged(old, cur *api.Pod) {
	a, aok := contribution(old)
	b, bok := contribution(cur)
	if aok == bok && a == b {
		return // a status update: nothing this tracker sees changed
	}
	if aok {
		t.apply(old.UID, a, -1)
	}
	if bok {
		t.apply(cur.UID, b, +1)
	}
}

func (t *fragTracker) node(name string) *fragNode {
	n := t.nodes[name]
	if n == nil {
		n = &fragNode{}
		t.nodes[name] = n
		t.list = append(t.list, n)
	}
	return n
}

func (t *fragTracker) apply(uid api.UID, p fragPod, sign int64) {
	n := t.node(p.node)
	n.cpu += sign * p.cpu
	n.mem += sign * p.mem
	n.pods += sign
	n.whole += sign * p.whole
	n.gpuMilli += sign * p.milli
	if p.milli > 0 {
		if sign > 0 {
			n.shares = append(n.shares, fragShare{uid: uid, milli: p.milli, idx: p.idx})
		} else {
			for i := range n.shares {
				if n.shares[i].uid == uid {
					n.shares = append(n.shares[:i], n.shares[i+1:]...)
					break
				}
			}
		}
	}
	t.markDirty(n)
}

func (t *fragTracker) markDirty(n *fragNode) {
	if !n.isDirty {
		n.isDirty = true
		t.dirty = append(t.dirty, n)
	}
}

// nodeChanged records a node's allocatable (deleted: the node is gone; its pods
// may still be deleted later, so the entry stays, with nothing allocatable).
func (t *fragTracker) nodeChanged(name string, alloc *api.Resources, deleted bool) {
	if deleted {
		alloc = &api.Resources{}
	}
	n := t.node(name)
	n.present = !deleted
	if n.alloc.MilliCPU == alloc.MilliCPU && n.alloc.Memory == alloc.Memory && n.alloc.Pods == alloc.Pods &&
		n.alloc.Scalar[api.ResourceGPU] == alloc.Scalar[api.ResourceGPU] && n.frag != nil {
		return
	}
	n.alloc = *alloc
	n.gpus = alloc.Scalar[api.ResourceGPU]
	t.markDirty(n)
}

// gpuState builds the node's per-GPU state (as policies.GPUScratch.GPUState).
func (t *fragTracker) gpuState(n *fragNode) policies.NodeGPUState {
	g := int(n.gpus)
	if cap(t.used) < g {
		t.used = make([]int64, g)
	}
	st := policies.NodeGPUState{Used: t.used[:g], Whole: n.whole}
	clear(st.Used)
	unpinned := false
	for _, s := range n.shares {
		if s.idx >= 0 && s.idx < g {
			st.Used[s.idx] += s.milli
		} else {
			unpinned = true
		}
	}
	if unpinned {
		for _, s := range n.shares {
			if s.idx >= 0 && s.idx < g {
				continue
			}
			if i := st.BestFit(s.milli); i >= 0 {
				st.Used[i] += s.milli
			}
		}
	}
	return st
}

// fits reports whether class c fits the node's free resources.
func fits(c *gpuaware.TaskClass, n *fragNode, st *policies.NodeGPUState) bool {
	if c.MilliCPU > n.alloc.MilliCPU-n.cpu || c.Memory > n.alloc.Memory-n.mem {
		return false
	}
	if n.alloc.Pods > 0 && n.pods >= n.alloc.Pods {
		return false
	}
	if c.WholeGPUs > 0 && st.FullyFree() < c.WholeGPUs {
		return false
	}
	return c.GPUMilli == 0 || st.BestFit(c.GPUMilli) >= 0
}

// compute recomputes classes [from, to) of node n (from 0: the whole node).
func (t *fragTracker) compute(n *fragNode, from, to int) {
	st := t.gpuState(n)
	if from == 0 {
		for m, f := range n.frag {
			t.sumFrag[m] -= f
		}
		n.frag = n.frag[:0]
		n.nfit = 0
		n.freeGPU = max(st.TotalFree(), 0)
	}
	freeCPU, freeMem := n.alloc.MilliCPU-n.cpu, n.alloc.Memory-n.mem
	for m := from; m < to; m++ {
		c := &t.classes[m]
		var f int64
		if n.freeGPU > 0 {
			t.one[0] = *c
			f = int64(gpuaware.Fragmentation(&st, freeCPU, freeMem, t.one)) // integral: popularity 1
		}
		n.frag = append(n.frag, f)
		t.sumFrag[m] += f
		if fits(c, n, &st) {
			n.nfit++
		}
	}
}

// fragSample is the cluster's state at a sample.
type fragSample struct {
	fragmented  float64 // milli-GPU
	freeGPU     int64   // milli-GPU
	strandedCPU int64
	strandedMem int64
	// nodesInUse run at least one pod; the allocatable totals of the nodes and
	// the GPU capacity and use (milli) of GPU nodes.
	nodesInUse         int
	cpuAlloc, memAlloc int64
	gpuCap, gpuUsed    int64
}

// sample brings every node up to date and returns the cluster values.
func (t *fragTracker) sample() fragSample {
	n := len(t.classes)
	for _, nd := range t.dirty {
		nd.isDirty = false
		t.compute(nd, 0, t.computed)
	}
	t.dirty = t.dirty[:0]
	var out fragSample
	for _, nd := range t.list {
		if t.computed < n {
			t.compute(nd, t.computed, n)
		}
		if !nd.present {
			continue
		}
		if nd.pods > 0 {
			out.nodesInUse++
		}
		out.cpuAlloc += nd.alloc.MilliCPU
		out.memAlloc += nd.alloc.Memory
		if g := nd.gpus; g > 0 {
			out.gpuCap += g * policies.MilliPerGPU
			out.gpuUsed += nd.whole*policies.MilliPerGPU + nd.gpuMilli
		}
		out.freeGPU += nd.freeGPU
		if nd.nfit == 0 && t.total > 0 {
			out.strandedCPU += max(nd.alloc.MilliCPU-nd.cpu, 0)
			out.strandedMem += max(nd.alloc.Memory-nd.mem, 0)
		}
	}
	t.computed = n
	if t.total > 0 {
		var f float64
		for m, s := range t.sumFrag {
			f += float64(t.counts[m]) * float64(s)
		}
		out.fragmented = f / float64(t.total)
	}
	return out
}
