package framework

import (
	"sort"
	"unsafe"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/sim"
)

// Non-zero request defaults used for scoring a container that requests no cpu or no
// memory (reference §2.6.1; pkg/scheduler/util/pod_resources.go
// DefaultMilliCPURequest, DefaultMemoryRequest).
const (
	DefaultMilliCPURequest int64 = 100
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024
)

// HostPort is one host port a pod claims. IP "" is normalized to "0.0.0.0" and
// Protocol "" to "TCP", as upstream HostPortInfo.sanitize does.
type HostPort struct {
	IP       string
	Protocol string
	Port     int32
}

// DefaultBindAllHostIP is the wildcard host IP.
const DefaultBindAllHostIP = "0.0.0.0"

// PodInfo is a pod plus what the scheduler derives from it once per object version
// (upstream PodInfo caches the same kind of data). Shared and immutable.
type PodInfo struct {
	Pod *api.Pod
	// Requests is the pod's effective request (api.Pod.Requests: containers summed,
	// raised to the largest init container); Requests.Pods is 1.
	Requests api.Resources
	// NonZeroMilliCPU and NonZeroMemory are the requests with the per-container
	// defaults (100m, 200 MiB) applied to containers that request 0, for scoring
	// (reference §2.6.1). kubesim's compact model cannot tell an explicit "0" from an
	// absent request, so an explicit 0 also gets the default (upstream keeps it 0).
	NonZeroMilliCPU int64
	NonZeroMemory   int64
	// HostPorts lists the container ports with HostPort > 0 (nil if none).
	HostPorts []HostPort
	// Scalars are the non-zero extended-resource requests of Requests.Scalar,
	// sorted by name (nil if none), so filters neither iterate nor sort the map.
	Scalars []ScalarRequest
}

// ScalarRequest is one extended-resource request.
type ScalarRequest struct {
	Name     api.ResourceName
	Quantity int64
}

// SortedScalars returns the non-zero requests of r.Scalar sorted by name.
func SortedScalars(r *api.Resources) []ScalarRequest {
	var out []ScalarRequest
	for _, name := range SortedScalarNames(r) {
		if q := r.Scalar[name]; q != 0 {
			out = append(out, ScalarRequest{Name: name, Quantity: q})
		}
	}
	return out
}

// NewPodInfo derives a PodInfo from a pod.
func NewPodInfo(p *api.Pod) *PodInfo {
	pi := &PodInfo{Pod: p, Requests: p.Requests()}
	pi.Scalars = SortedScalars(&pi.Requests)
	var cpu, mem int64
	for i := range p.Spec.Containers {
		c, m := nonZero(&p.Spec.Containers[i].Requests)
		cpu += c
		mem += m
	}
	for i := range p.Spec.InitContainers {
		c, m := nonZero(&p.Spec.InitContainers[i].Requests)
		cpu = max(cpu, c)
		mem = max(mem, m)
	}
	pi.NonZeroMilliCPU, pi.NonZeroMemory = cpu, mem
	for _, cs := range [][]api.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range cs {
			for _, port := range cs[i].Ports {
				if port.HostPort <= 0 {
					continue
				}
				hp := HostPort{IP: port.HostIP, Protocol: port.Protocol, Port: port.HostPort}
				if hp.IP == "" {
					hp.IP = DefaultBindAllHostIP
				}
				if hp.Protocol == "" {
					hp.Protocol = "TCP"
				}
				pi.HostPorts = append(pi.HostPorts, hp)
			}
		}
	}
	return pi
}

func nonZero(r *api.Resources) (cpu, mem int64) {
	cpu, mem = r.MilliCPU, r.Memory
	if cpu == 0 {
		cpu = DefaultMilliCPURequest
	}
	if mem == 0 {
		mem = DefaultMemoryRequest
	}
	return cpu, mem
}

// UID returns the pod's UID.
func (p *PodInfo) UID() api.UID { return p.Pod.UID }

// QueuedPodInfo is a pod waiting in (or popped from) the scheduling queue, with its
// queue history (pkg/scheduler/framework/types.go QueuedPodInfo).
type QueuedPodInfo struct {
	*PodInfo
	// Timestamp is when the pod was last added or re-added to the queue (after a
	// failed attempt). Backoff and the 5-minute unschedulable limit count from it.
	Timestamp sim.Time
	// InitialAttemptTimestamp is when the pod was first popped (zero before).
	InitialAttemptTimestamp sim.Time
	// Attempts counts scheduling attempts (pops).
	Attempts int
	// UnschedulableCount counts attempts that ended with plug-in rejections.
	UnschedulableCount int
	// ConsecutiveErrorsCount counts attempts in a row that ended in an error; it
	// resets when an attempt ends Unschedulable.
	ConsecutiveErrorsCount int
	// UnschedulablePlugins names the plug-ins that rejected the pod in its last
	// attempt (sorted, deduplicated).
	UnschedulablePlugins []string
	// BackoffExpiration is when the current backoff ends (zero if none).
	BackoffExpiration sim.Time
}

// ImageState is what the scheduler knows of one image name across the cluster
// (upstream ImageStateSummary): its size and on how many nodes it is present.
// Shared by every NodeInfo that has the image; owned by the scheduler's cache.
type ImageState struct {
	Size     int64
	NumNodes int
	// Name is the image name; the cache keys every NodeInfo's ImageStates entry
	// with this one string, so per-node lookups compare against shared, hot bytes.
	Name string
}

// HostPortInfo counts the host ports used on a node, keyed by IP, protocol and port.
type HostPortInfo map[HostPort]int

// Add records a used port.
func (h HostPortInfo) Add(p HostPort) { h[p]++ }

// Remove forgets one use of a port.
func (h HostPortInfo) Remove(p HostPort) {
	if n := h[p]; n > 1 {
		h[p] = n - 1
	} else {
		delete(h, p)
	}
}

// CheckConflict reports whether p collides with a used port: same protocol and port
// on the same IP, or either side bound to 0.0.0.0 (pkg/scheduler/framework/types.go
// HostPortInfo.CheckConflict).
func (h HostPortInfo) CheckConflict(p HostPort) bool {
	if p.Port <= 0 || len(h) == 0 {
		return false
	}
	if p.IP == DefaultBindAllHostIP {
		for used := range h {
			if used.Port == p.Port && used.Protocol == p.Protocol {
				return true
			}
		}
		return false
	}
	if _, ok := h[p]; ok {
		return true
	}
	_, ok := h[HostPort{IP: DefaultBindAllHostIP, Protocol: p.Protocol, Port: p.Port}]
	return ok
}

// NonZeroResources is the cpu and memory sum with the scoring defaults applied.
type NonZeroResources struct {
	MilliCPU int64
	Memory   int64
}

// NodeInfo is the scheduler's aggregated view of one node, maintained incrementally
// from watch events and assumptions (pkg/scheduler/framework/types.go NodeInfo). It is
// never rebuilt per cycle. Plug-ins read it; only the scheduler's cache writes it.
type NodeInfo struct {
	// The fields are ordered by how a scheduling cycle reads them. A cycle examines
	// hundreds of nodes that the previous cycle did not touch (round-robin start
	// index), so every cache line of a NodeInfo it reads is a memory stall: what
	// every filter and score reads (name, flags, slot, Node, allocatable, requested)
	// is in the first 128 bytes, the pod list, taints and image copy next, the
	// label cache after them, and what cycles rarely read (scalar copy, maps) last.
	// NodeInfos are 624 bytes, in Go's 640-byte size class, so every one starts on
	// a 128-byte boundary of its span (TestNodeInfoLayout).

	// Name is the node's name (set even before the Node object is known).
	Name api.NodeName
	// unschedulable and taints copy the Node's spec.unschedulable and spec.taints
	// (the slice is shared, never changed), so the filters of a cycle do not load
	// the Node object of every node they examine.
	unschedulable bool
	imagesInline  bool
	nImages       int8
	labelCached   uint8
	// slot is a small positive number the scheduler's cache gives the NodeInfos it
	// keeps (reused after one is dropped), to index per-node arrays; 0 when
	// unassigned (NodeInfos built elsewhere, e.g. in tests).
	slot int32
	node *api.Node
	// Allocatable is the node's status.allocatable; Allocatable.Pods is the pod limit.
	Allocatable api.Resources
	// Requested is the sum of the actual requests of the pods on the node (bound and
	// assumed); Requested.Pods is the number of pods.
	Requested api.Resources
	// NonZeroRequested is the cpu/memory sum with the scoring defaults.
	NonZeroRequested NonZeroResources

	// Pods are the pods on the node (bound and assumed), in arrival order.
	Pods   []*PodInfo
	taints []api.Taint
	// images is a compact copy of ImageStates (up to len(images) names) made by
	// SetImageStates, valid while imagesInline (nImages entries); lookups through
	// ImageState read it instead of the map.
	images [4]imageRef

	// labelCache holds the values of the first few label keys asked for through
	// Label, so the per-node topology lookups of a cycle read this struct instead
	// of the Node's label map. Cleared by SetNode.
	labelCache [4]labelCacheEntry

	// UsedPorts are the host ports in use (nil when none).
	UsedPorts HostPortInfo
	// ImageStates maps every image name in node.status.images to its cluster-wide
	// state (shared with other nodes).
	ImageStates map[string]*ImageState
	// Generation is bumped on every change.
	Generation int64
	// scalars is a compact copy of the extended resources of Allocatable and
	// Requested (when there are at most len(scalars)), built by Scalar for the
	// Generation it was built at (scalarsGen = Generation+1; 0 = none).
	scalars       [4]scalarEntry
	nScalars      int8
	scalarsInline bool
	scalarsGen    int64
}

// Slot returns the NodeInfo's slot (0 when unassigned; see SetSlot).
func (n *NodeInfo) Slot() int32 { return n.slot }

// SetSlot sets the slot; only the scheduler's cache calls it.
func (n *NodeInfo) SetSlot(s int32) { n.slot = s }

type scalarEntry struct {
	name        api.ResourceName
	alloc, used int64
}

// Scalar returns the node's allocatable and requested quantities of the extended
// resource name, as Allocatable.Scalar[name] and Requested.Scalar[name] (0 when
// absent), from a compact copy rebuilt after every change that bumps Generation
// (SetNode, AddPod, RemovePod).
func (n *NodeInfo) Scalar(name api.ResourceName) (alloc, used int64) {
	if n.scalarsGen != n.Generation+1 {
		n.buildScalars()
	}
	if !n.scalarsInline {
		return n.Allocatable.Scalar[name], n.Requested.Scalar[name]
	}
	for i := 0; i < int(n.nScalars); i++ {
		if e := &n.scalars[i]; e.name == name {
			return e.alloc, e.used
		}
	}
	return 0, 0
}

func (n *NodeInfo) buildScalars() {
	n.scalars, n.nScalars, n.scalarsInline = [4]scalarEntry{}, 0, false
	n.scalarsGen = n.Generation + 1
	add := func(name api.ResourceName) bool {
		for i := 0; i < int(n.nScalars); i++ {
			if n.scalars[i].name == name {
				return true
			}
		}
		if int(n.nScalars) == len(n.scalars) {
			return false
		}
		n.scalars[n.nScalars] = scalarEntry{name: name, alloc: n.Allocatable.Scalar[name], used: n.Requested.Scalar[name]}
		n.nScalars++
		return true
	}
	for name := range n.Allocatable.Scalar { // the copy is only searched: order does not matter
		if !add(name) {
			return
		}
	}
	for name := range n.Requested.Scalar {
		if !add(name) {
			return
		}
	}
	n.scalarsInline = true
}

type imageRef struct {
	name string
	st   *ImageState
}

// SetImageStates sets ImageStates to m and, when m is small, the compact copy
// ImageState reads. Whoever changes ImageStates after this must call it again
// (the scheduler's cache does; assigning ImageStates directly, as tests do, just
// leaves lookups on the map).
func (n *NodeInfo) SetImageStates(m map[string]*ImageState) {
	n.ImageStates = m
	n.images, n.nImages, n.imagesInline = [4]imageRef{}, 0, false
	if len(m) > len(n.images) {
		return
	}
	for name, st := range m { // the copy is only searched: order does not matter
		n.images[n.nImages] = imageRef{name: name, st: st}
		n.nImages++
	}
	n.imagesInline = true
}

// ImageState returns the cluster-wide state of image name if the node has it, as
// ImageStates[name] does.
func (n *NodeInfo) ImageState(name string) (*ImageState, bool) {
	if !n.imagesInline {
		st, ok := n.ImageStates[name]
		return st, ok
	}
	for i := 0; i < int(n.nImages); i++ {
		if n.images[i].name == name {
			return n.images[i].st, true
		}
	}
	return nil, false
}

type labelCacheEntry struct {
	key, value string
	ok         bool
}

// Label returns the node's label value for key and whether the node has it, as
// node.Labels[key] does ("", false when the Node object is unknown). The values of
// the first four distinct keys asked for are cached in the NodeInfo until the next
// SetNode (a Node object is never changed in place).
func (n *NodeInfo) Label(key string) (string, bool) {
	for i := 0; i < int(n.labelCached); i++ {
		if e := &n.labelCache[i]; e.key == key {
			return e.value, e.ok
		}
	}
	if n.node == nil {
		return "", false
	}
	v, ok := n.node.Labels[key]
	if int(n.labelCached) < len(n.labelCache) {
		n.labelCache[n.labelCached] = labelCacheEntry{key: key, value: v, ok: ok}
		n.labelCached++
	}
	return v, ok
}

// Prefetch asks the processor to start loading the parts of the NodeInfo that a
// scheduling cycle reads (flags, allocatable and requested, pod list, taints,
// image copy, label cache: the first 384 bytes) without waiting for them. The
// scheduler prefetches the node a few places ahead of the one it filters, so
// the memory stalls of the next nodes overlap with this node's work instead of
// following one another. It changes nothing observable (a no-op on processors
// without a prefetch instruction in prefetch_*.s).
func (n *NodeInfo) Prefetch() { prefetchNodeInfo(unsafe.Pointer(n)) }

// PrefetchTaints starts loading the node's taints (kept in the Node object, away
// from the NodeInfo), which TaintToleration's filter reads. Called for a node whose
// NodeInfo was prefetched earlier, so reading the slice header does not stall.
func (n *NodeInfo) PrefetchTaints() {
	if len(n.taints) > 0 {
		prefetchLine(unsafe.Pointer(&n.taints[0]))
	}
}

// NewNodeInfo returns an empty NodeInfo for name.
func NewNodeInfo(name api.NodeName) *NodeInfo { return &NodeInfo{Name: name} }

// Node returns the Node object, or nil when only pods referring to the node are known.
func (n *NodeInfo) Node() *api.Node { return n.node }

// Unschedulable is the Node's spec.unschedulable (false when the Node is unknown).
func (n *NodeInfo) Unschedulable() bool { return n.unschedulable }

// Taints are the Node's spec.taints (nil when the Node is unknown). Shared: do not
// modify.
func (n *NodeInfo) Taints() []api.Taint { return n.taints }

// SetNode sets the Node object and its allocatable. Image states are maintained by
// the cache (they are shared across nodes).
func (n *NodeInfo) SetNode(node *api.Node) {
	n.node = node
	n.labelCache, n.labelCached = [4]labelCacheEntry{}, 0
	if node != nil {
		n.Name = api.NodeName(node.Name)
		n.Allocatable = node.Status.Allocatable.Clone()
		n.unschedulable, n.taints = node.Spec.Unschedulable, node.Spec.Taints
	} else {
		n.Allocatable = api.Resources{}
		n.unschedulable, n.taints = false, nil
	}
	n.Generation++
}

// AddPod accounts a pod on the node.
func (n *NodeInfo) AddPod(p *PodInfo) {
	n.Pods = append(n.Pods, p)
	n.Requested.Add(&p.Requests)
	n.NonZeroRequested.MilliCPU += p.NonZeroMilliCPU
	n.NonZeroRequested.Memory += p.NonZeroMemory
	if len(p.HostPorts) > 0 {
		if n.UsedPorts == nil {
			n.UsedPorts = HostPortInfo{}
		}
		for _, hp := range p.HostPorts {
			n.UsedPorts.Add(hp)
		}
	}
	n.Generation++
}

// RemovePod removes the pod with the UID of p (whatever PodInfo version is stored)
// and reports whether it was there. Order of the remaining pods is kept.
func (n *NodeInfo) RemovePod(uid api.UID) bool {
	for i, q := range n.Pods {
		if q.Pod.UID != uid {
			continue
		}
		n.Pods = append(n.Pods[:i], n.Pods[i+1:]...)
		n.Requested.Sub(&q.Requests)
		n.NonZeroRequested.MilliCPU -= q.NonZeroMilliCPU
		n.NonZeroRequested.Memory -= q.NonZeroMemory
		for _, hp := range q.HostPorts {
			n.UsedPorts.Remove(hp)
		}
		n.Generation++
		return true
	}
	return false
}

// SortedScalarNames returns the names of a resource list's extended resources,
// sorted, so callers never depend on map order.
func SortedScalarNames(r *api.Resources) []api.ResourceName {
	if len(r.Scalar) == 0 {
		return nil
	}
	out := make([]api.ResourceName, 0, len(r.Scalar))
	for k := range r.Scalar {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
