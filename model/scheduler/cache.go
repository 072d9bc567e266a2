package scheduler

import (
	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"maps"
)

// podState is the cache's record of a pod on a node.
type podState struct {
	info    *framework.PodInfo
	node    api.NodeName
	assumed bool // placed by this scheduler, binding not yet seen through the watch
}

// schedCache is the scheduler's cache (pkg/scheduler/backend/cache): NodeInfos kept
// up to date incrementally from the node and pod watches and from the scheduler's own
// assumptions, plus the node tree that gives the sampling order. Upstream copies the
// changed NodeInfos into a snapshot at the start of each cycle; kubesim runs a cycle
// inside one engine event, so the cycle reads the cache directly and nothing is
// copied.
type schedCache struct {
	nodes map[api.NodeName]*framework.NodeInfo
	pods  map[api.UID]*podState
	// images is the cluster-wide state of every image name (shared with NodeInfos).
	images map[string]*framework.ImageState
	// index finds assigned pods by namespace/label and the pods with affinity terms.
	index podIndex
	// match counts assigned pods per selector for PodTopologySpread (match_counts.go).
	match matchCounts

	// Node tree (backend/cache/node_tree.go): zones in order of first appearance,
	// nodes of a zone in insertion order.
	zones    []string
	tree     map[string][]*framework.NodeInfo
	nodeZone map[api.NodeName]string
	numNodes int
	// list is the interleaved sampling order, rebuilt lazily after node additions
	// and removals (not on every cycle).
	list      []*framework.NodeInfo
	listDirty bool

	// NodeInfo slots (framework.NodeInfo.Slot): the next unused one and the freed
	// ones, reused last-in first-out.
	nextSlot  int32
	freeSlots []int32
}

// newNodeInfo creates a NodeInfo with a slot; dropNodeInfo forgets it and frees
// the slot. The per-slot selector counts are rebuilt after either.
func (c *schedCache) newNodeInfo(name api.NodeName) *framework.NodeInfo {
	ni := framework.NewNodeInfo(name)
	if n := len(c.freeSlots); n > 0 {
		ni.SetSlot(c.freeSlots[n-1])
		c.freeSlots = c.freeSlots[:n-1]
	} else {
		c.nextSlot++
		ni.SetSlot(c.nextSlot)
	}
	c.nodes[name] = ni
	c.matchSlotsChanged()
	return ni
}

func (c *schedCache) dropNodeInfo(ni *framework.NodeInfo) {
	delete(c.nodes, ni.Name)
	if s := ni.Slot(); s > 0 {
		c.freeSlots = append(c.freeSlots, s)
	}
	c.matchSlotsChanged()
}

func newCache() *schedCache {
	return &schedCache{
		nodes:    map[api.NodeName]*framework.NodeInfo{},
		pods:     map[api.UID]*podState{},
		images:   map[string]*framework.ImageState{},
		tree:     map[string][]*framework.NodeInfo{},
		nodeZone: map[api.NodeName]string{},
	}
}

// zoneKey is region + ":\x00:" + zone from the topology labels, "" when both are
// absent (component-helpers node GetZoneKey).
func zoneKey(n *api.Node) string {
	region, zone := n.Labels[api.LabelRegion], n.Labels[api.LabelZone]
	if region == "" && zone == "" {
		return ""
	}
	return region + ":\x00:" + zone
}

// nodeList returns every node in sampling order: zones interleaved round-robin,
// z1n1, z2n1, z1n2, z2n2, … (node_tree.go list). Shared slice.
func (c *schedCache) nodeList() []*framework.NodeInfo {
	if !c.listDirty {
		return c.list
	}
	c.list = c.list[:0]
	for idx := 0; len(c.list) < c.numNodes; idx++ {
		added := false
		for _, z := range c.zones {
			if na := c.tree[z]; idx < len(na) {
				c.list = append(c.list, na[idx])
				added = true
			}
		}
		if !added { // defensive: never loop past the longest zone
			break
		}
	}
	c.listDirty = false
	return c.list
}

func (c *schedCache) treeAdd(ni *framework.NodeInfo, zone string) {
	if _, ok := c.tree[zone]; !ok {
		c.zones = append(c.zones, zone)
	}
	c.tree[zone] = append(c.tree[zone], ni)
	c.nodeZone[ni.Name] = zone
	c.numNodes++
	c.listDirty = true
}

func (c *schedCache) treeRemove(name api.NodeName) {
	zone, ok := c.nodeZone[name]
	if !ok {
		return
	}
	delete(c.nodeZone, name)
	na := c.tree[zone]
	for i, ni := range na {
		if ni.Name == name {
			na = append(na[:i], na[i+1:]...)
			break
		}
	}
	if len(na) == 0 {
		delete(c.tree, zone)
		for i, z := range c.zones {
			if z == zone {
				c.zones = append(c.zones[:i], c.zones[i+1:]...)
				break
			}
		}
	} else {
		c.tree[zone] = na
	}
	c.numNodes--
	c.listDirty = true
}

// nodeInfo returns the NodeInfo of name, creating a placeholder (no Node object, not
// in the tree) when pods refer to a node not yet seen.
func (c *schedCache) nodeInfo(name api.NodeName) *framework.NodeInfo {
	ni := c.nodes[name]
	if ni == nil {
		ni = c.newNodeInfo(name)
	}
	return ni
}

// addNode records a new Node.
func (c *schedCache) addNode(n *api.Node) *framework.NodeInfo {
	name := api.NodeName(n.Name)
	ni := c.nodeInfo(name)
	if ni.Node() != nil { // re-add of a known node: treat as an update
		c.updateNode(n)
		return ni
	}
	ni.SetNode(n)
	c.addImages(ni, n)
	c.treeAdd(ni, zoneKey(n))
	c.matchNodesChanged()
	return ni
}

// updateNode applies a Node update and returns what changed, as scheduling-relevant
// action types (0 when nothing the filters look at changed).
func (c *schedCache) updateNode(n *api.Node) framework.ActionType {
	name := api.NodeName(n.Name)
	ni := c.nodes[name]
	if ni == nil || ni.Node() == nil {
		c.addNode(n)
		return framework.Add
	}
	old := ni.Node()
	var act framework.ActionType
	if !resourcesEqual(&old.Status.Allocatable, &n.Status.Allocatable) {
		act |= framework.UpdateNodeAllocatable
	}
	if !maps.Equal(old.Labels, n.Labels) {
		act |= framework.UpdateNodeLabel
		c.matchNodesChanged()
	}
	if old.Spec.Unschedulable != n.Spec.Unschedulable || !taintsEqual(old.Spec.Taints, n.Spec.Taints) {
		act |= framework.UpdateNodeTaint
	}
	if !conditionsEqual(old.Status.Conditions, n.Status.Conditions) {
		act |= framework.UpdateNodeCondition
	}
	imagesChanged := !imagesEqual(old.Status.Images, n.Status.Images)
	if imagesChanged {
		c.removeImages(ni)
	}
	ni.SetNode(n)
	if imagesChanged {
		c.addImages(ni, n)
	}
	if z := zoneKey(n); z != c.nodeZone[name] {
		c.treeRemove(name)
		c.treeAdd(ni, z)
	}
	return act
}

// removeNode forgets a Node. Its NodeInfo stays as a placeholder while pods still
// refer to it (as upstream RemoveNode does).
func (c *schedCache) removeNode(name api.NodeName) {
	ni := c.nodes[name]
	if ni == nil {
		return
	}
	c.removeImages(ni)
	c.treeRemove(name)
	ni.SetNode(nil)
	c.matchNodesChanged()
	if len(ni.Pods) == 0 {
		c.dropNodeInfo(ni)
	}
}

func (c *schedCache) addImages(ni *framework.NodeInfo, n *api.Node) {
	if len(n.Status.Images) == 0 {
		return
	}
	m := ni.ImageStates
	if m == nil {
		m = make(map[string]*framework.ImageState, len(n.Status.Images))
	}
	defer func() { ni.SetImageStates(m) }()
	for _, im := range n.Status.Images {
		for _, name := range im.Names {
			if _, dup := m[name]; dup {
				continue
			}
			st := c.images[name]
			if st == nil {
				st = &framework.ImageState{Size: im.SizeBytes, Name: name}
				c.images[name] = st
			}
			st.NumNodes++
			m[st.Name] = st // the shared copy of the name
		}
	}
}

func (c *schedCache) removeImages(ni *framework.NodeInfo) {
	for name, st := range ni.ImageStates { // order-independent bookkeeping
		st.NumNodes--
		if st.NumNodes <= 0 {
			delete(c.images, name)
		}
	}
	ni.SetImageStates(nil)
}

// addPod records a pod the watch shows bound to a node. An assumed pod is confirmed
// (moved if it was bound elsewhere). It returns the previous PodInfo when the pod was
// already known (nil otherwise).
func (c *schedCache) addPod(pi *framework.PodInfo) *framework.PodInfo {
	uid := pi.Pod.UID
	node := pi.Pod.Spec.NodeName
	if ps := c.pods[uid]; ps != nil {
		old := ps.info
		if c.replacePod(ps, pi) {
			return old
		}
		c.detach(ps)
		ps.info, ps.node, ps.assumed = pi, node, false
		c.nodeInfo(node).AddPod(pi)
		c.index.add(pi, node)
		c.matchAdd(pi, node)
		return old
	}
	c.pods[uid] = &podState{info: pi, node: node}
	c.nodeInfo(node).AddPod(pi)
	c.index.add(pi, node)
	c.matchAdd(pi, node)
	return nil
}

// replacePod is addPod's fast path for a new version of a confirmed pod that stays
// on its node with the same labels, affinity and terminating state, as the
// kubelet's status writes are: it reports whether it applied. The result is the
// same as the general path's detach and re-add (upstream cache.updatePod removes
// and re-adds the pod: pkg/scheduler/backend/cache/cache.go), observable order
// included:
//   - NodeInfo.Pods: the pod is still removed and appended, so it moves to the end
//     of its node's list exactly as before (preemption and the inter-pod plug-ins
//     iterate that list);
//   - the label and affinity postings: the entries are updated in place instead of
//     swap-removed and appended; their order is unspecified and never observable
//     (framework.ForEachAssignedPod: callers only aggregate);
//   - the selector counts (match_counts.go) depend only on namespace, labels,
//     deletionTimestamp being set and node, all unchanged, so they are left as
//     they are rather than uncounted and counted again.
//
// A placeholder NodeInfo (no Node object) takes the general path, which drops
// and re-creates it when its last pod leaves.
func (c *schedCache) replacePod(ps *podState, pi *framework.PodInfo) bool {
	old, p := ps.info.Pod, pi.Pod
	if ps.assumed || ps.node != p.Spec.NodeName || old.Namespace != p.Namespace ||
		(old.DeletionTimestamp == nil) != (p.DeletionTimestamp == nil) ||
		framework.HasPodAffinity(old) != framework.HasPodAffinity(p) ||
		!maps.Equal(old.Labels, p.Labels) {
		return false
	}
	ni := c.nodes[ps.node]
	if ni == nil || ni.Node() == nil || !ni.RemovePod(p.UID) {
		return false
	}
	ni.AddPod(pi)
	c.index.replace(pi, ps.node)
	ps.info = pi
	return true
}

// detach removes a pod's accounting from its node (dropping an empty placeholder).
func (c *schedCache) detach(ps *podState) {
	c.index.remove(ps.info)
	c.matchRemove(ps.info)
	if ni := c.nodes[ps.node]; ni != nil {
		ni.RemovePod(ps.info.Pod.UID)
		if ni.Node() == nil && len(ni.Pods) == 0 {
			c.dropNodeInfo(ni)
		}
	}
}

// removePod forgets a pod and returns its last PodInfo (nil if unknown).
func (c *schedCache) removePod(uid api.UID) *framework.PodInfo {
	ps := c.pods[uid]
	if ps == nil {
		return nil
	}
	c.detach(ps)
	delete(c.pods, uid)
	return ps.info
}

// assumePod accounts the pod on node before the binding is confirmed, so the next
// cycles see the resources as taken (schedule_one.go assume).
func (c *schedCache) assumePod(pi *framework.PodInfo, node api.NodeName) {
	if ps := c.pods[pi.Pod.UID]; ps != nil {
		c.detach(ps)
	}
	c.pods[pi.Pod.UID] = &podState{info: pi, node: node, assumed: true}
	c.nodeInfo(node).AddPod(pi)
	c.index.add(pi, node)
	c.matchAdd(pi, node)
}

// forgetPod releases an assumed pod whose binding failed; it reports whether the
// pod was still assumed (a pod the watch already showed bound is kept).
func (c *schedCache) forgetPod(uid api.UID) bool {
	ps := c.pods[uid]
	if ps == nil || !ps.assumed {
		return false
	}
	c.detach(ps)
	delete(c.pods, uid)
	return true
}

// isAssumed reports whether the pod is assumed and not yet confirmed.
func (c *schedCache) isAssumed(uid api.UID) bool {
	ps := c.pods[uid]
	return ps != nil && ps.assumed
}

func resourcesEqual(a, b *api.Resources) bool {
	if a.MilliCPU != b.MilliCPU || a.Memory != b.Memory || a.EphemeralStorage != b.EphemeralStorage || a.Pods != b.Pods || len(a.Scalar) != len(b.Scalar) {
		return false
	}
	for k, v := range a.Scalar {
		if w, ok := b.Scalar[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func taintsEqual(a, b []api.Taint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || a[i].Value != b[i].Value || a[i].Effect != b[i].Effect {
			return false
		}
	}
	return true
}

// conditionsEqual compares condition types and statuses (heartbeat times ignored).
func conditionsEqual(a, b []api.NodeCondition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || a[i].Status != b[i].Status {
			return false
		}
	}
	return true
}

func imagesEqual(a, b []api.ContainerImage) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].SizeBytes != b[i].SizeBytes || len(a[i].Names) != len(b[i].Names) {
			return false
		}
		for j := range a[i].Names {
			if a[i].Names[j] != b[i].Names[j] {
				return false
			}
		}
	}
	return true
}
