package scheduler

import (
	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// Selector count cache (framework.MatchCounter).
//
// PodTopologySpread needs, every cycle, the number of assigned non-terminating pods
// matching a selector per node and per topology domain. Walking the matching pods
// each cycle is O(pods) per cycle, quadratic over a Deployment's rollout (every pod
// of a Deployment matches its default selector). The cache keeps, per (namespace,
// selector), the matching pods and their per-node counts, built by one scan the
// first time the selector is asked for and then maintained from the cache's pod
// add/remove hooks (addPod, assumePod, detach). Per-domain counts are derived
// lazily per topology key and maintained with the pods until a node is added,
// removed or relabelled, which drops them (they are rebuilt from the per-node
// counts on next use).
//
// The cache never changes results: every count is exact, and entries only cost a
// rebuild when missing. It is bounded: least recently used entries are evicted
// above maxMatchEntries, and entries unused for matchIdleLimit lookups are swept.
// Map iteration below only feeds order-independent bookkeeping.

const (
	maxMatchEntries = 256
	matchIdleLimit  = 1 << 14
	matchSweepEvery = 1 << 10
)

// matchPin is the label an entry is registered under: pods lacking it cannot match.
type matchPin = labelKey

type matchEntry struct {
	key     string
	ns      string
	sel     *api.LabelSelector
	pin     matchPin
	pinned  bool
	pods    map[api.UID]api.NodeName // counted pods and their node
	perNode map[api.NodeName]int
	// domains[key][value] sums perNode over known nodes by node.Labels[key]; nil
	// until asked for, and dropped on node changes.
	domains map[string]map[string]int
	// perSlot is perNode indexed by NodeInfo slot (framework.SlotCounter), valid
	// while slotsValid; invalidated when a NodeInfo is created or dropped and
	// rebuilt from perNode on next use.
	perSlot    []int32
	slotsValid bool
	lastUsed   uint64
}

type matchCounts struct {
	entries  map[string]*matchEntry // by ns + "\x00" + canonical selector
	byPin    map[matchPin][]*matchEntry
	unpinned map[string][]*matchEntry // by namespace
	clock    uint64
}

func copySelector(sel *api.LabelSelector) *api.LabelSelector {
	out := &api.LabelSelector{}
	if sel.MatchLabels != nil {
		out.MatchLabels = make(map[string]string, len(sel.MatchLabels))
		for k, v := range sel.MatchLabels {
			out.MatchLabels[k] = v
		}
	}
	for _, r := range sel.MatchExpressions {
		out.MatchExpressions = append(out.MatchExpressions, api.Requirement{Key: r.Key, Operator: r.Operator, Values: append([]string(nil), r.Values...)})
	}
	return out
}

// counts reports whether the entry counts pod p.
func (e *matchEntry) counts(p *api.Pod) bool {
	return p.Namespace == e.ns && p.DeletionTimestamp == nil && e.sel.Matches(p.Labels)
}

// lookup returns the entry of (ns, sel), building it when missing.
func (c *schedCache) matchEntry(ns string, ref *framework.LabelSelectorRef) *matchEntry {
	m := &c.match
	m.clock++
	if m.clock%matchSweepEvery == 0 {
		c.sweepMatch()
	}
	key := ns + "\x00" + ref.Key
	if e := m.entries[key]; e != nil {
		e.lastUsed = m.clock
		return e
	}
	if m.entries == nil {
		m.entries = map[string]*matchEntry{}
		m.byPin = map[matchPin][]*matchEntry{}
		m.unpinned = map[string][]*matchEntry{}
	}
	if len(m.entries) >= maxMatchEntries {
		c.evictLRU()
	}
	sel := copySelector(ref.Sel)
	e := &matchEntry{key: key, ns: ns, sel: sel, pods: map[api.UID]api.NodeName{}, perNode: map[api.NodeName]int{}, lastUsed: m.clock}
	// Pin on the rarest pinned label (as framework.ForEachAssignedPod), so the
	// build scans few pods and pod events visit few entries.
	best := -1
	try := func(k, v string) {
		lk := labelKey{ns, k, v}
		n := 0
		if ps := c.index.byLabel[lk]; ps != nil {
			n = len(ps.list)
		}
		if best < 0 || n < best || (n == best && (lk.key < e.pin.key || lk.key == e.pin.key && lk.value < e.pin.value)) {
			best, e.pin, e.pinned = n, lk, true
		}
	}
	for k, v := range sel.MatchLabels { // deterministic: minimum with ties broken by key
		try(k, v)
	}
	for i := range sel.MatchExpressions {
		if r := &sel.MatchExpressions[i]; r.Operator == api.OpIn && len(r.Values) == 1 {
			try(r.Key, r.Values[0])
		}
	}
	if e.pinned {
		if ps := c.index.byLabel[e.pin]; ps != nil {
			for _, ap := range ps.list {
				if e.counts(ap.Pod.Pod) {
					e.pods[ap.Pod.Pod.UID] = ap.Node
					e.perNode[ap.Node]++
				}
			}
		}
		m.byPin[e.pin] = append(m.byPin[e.pin], e)
	} else {
		for uid, ps := range c.pods {
			if e.counts(ps.info.Pod) {
				e.pods[uid] = ps.node
				e.perNode[ps.node]++
			}
		}
		m.unpinned[ns] = append(m.unpinned[ns], e)
	}
	m.entries[key] = e
	return e
}

func removeEntry(list []*matchEntry, e *matchEntry) []*matchEntry {
	for i, x := range list {
		if x == e {
			last := len(list) - 1
			list[i] = list[last]
			list[last] = nil
			return list[:last]
		}
	}
	return list
}

func (c *schedCache) dropMatchEntry(e *matchEntry) {
	m := &c.match
	delete(m.entries, e.key)
	if e.pinned {
		if l := removeEntry(m.byPin[e.pin], e); len(l) == 0 {
			delete(m.byPin, e.pin)
		} else {
			m.byPin[e.pin] = l
		}
	} else {
		if l := removeEntry(m.unpinned[e.ns], e); len(l) == 0 {
			delete(m.unpinned, e.ns)
		} else {
			m.unpinned[e.ns] = l
		}
	}
}

// evictLRU drops the least recently used entry (lastUsed stamps are unique).
func (c *schedCache) evictLRU() {
	var victim *matchEntry
	for _, e := range c.match.entries {
		if victim == nil || e.lastUsed < victim.lastUsed {
			victim = e
		}
	}
	if victim != nil {
		c.dropMatchEntry(victim)
	}
}

// sweepMatch drops the entries unused for matchIdleLimit lookups.
func (c *schedCache) sweepMatch() {
	var idle []*matchEntry
	for _, e := range c.match.entries {
		if e.lastUsed+matchIdleLimit < c.match.clock {
			idle = append(idle, e)
		}
	}
	for _, e := range idle {
		c.dropMatchEntry(e)
	}
}

// forEachCandidate calls fn for every entry that could count pod p.
func (c *schedCache) forEachCandidate(p *api.Pod, fn func(e *matchEntry)) {
	m := &c.match
	if len(m.entries) == 0 {
		return
	}
	for _, e := range m.unpinned[p.Namespace] {
		fn(e)
	}
	if len(m.byPin) == 0 {
		return
	}
	for k, v := range p.Labels { // order-independent bookkeeping
		for _, e := range m.byPin[labelKey{p.Namespace, k, v}] {
			fn(e)
		}
	}
}

// domainLabels returns the labels of node when it is known (NodeInfo with a Node).
func (c *schedCache) domainLabels(node api.NodeName) (map[string]string, bool) {
	if ni := c.nodes[node]; ni != nil && ni.Node() != nil {
		return ni.Node().Labels, true
	}
	return nil, false
}

func (c *schedCache) entryUncount(e *matchEntry, uid api.UID) {
	node, ok := e.pods[uid]
	if !ok {
		return
	}
	delete(e.pods, uid)
	if e.perNode[node]--; e.perNode[node] <= 0 {
		delete(e.perNode, node)
	}
	c.slotAdd(e, node, -1)
	if len(e.domains) == 0 {
		return
	}
	if labels, ok := c.domainLabels(node); ok {
		for k, d := range e.domains {
			v := labels[k]
			if d[v]--; d[v] <= 0 {
				delete(d, v)
			}
		}
	}
}

// matchAdd counts an assigned pod in the entries it matches (called with the index).
func (c *schedCache) matchAdd(pi *framework.PodInfo, node api.NodeName) {
	p := pi.Pod
	c.forEachCandidate(p, func(e *matchEntry) {
		c.entryUncount(e, p.UID) // defensive: never count a pod twice
		if !e.counts(p) {
			return
		}
		e.pods[p.UID] = node
		e.perNode[node]++
		c.slotAdd(e, node, 1)
		if len(e.domains) == 0 {
			return
		}
		if labels, ok := c.domainLabels(node); ok {
			for k, d := range e.domains {
				d[labels[k]]++
			}
		}
	})
}

// matchRemove uncounts a pod (called with the index, before the pod leaves its node).
func (c *schedCache) matchRemove(pi *framework.PodInfo) {
	uid := pi.Pod.UID
	c.forEachCandidate(pi.Pod, func(e *matchEntry) { c.entryUncount(e, uid) })
}

// slotAdd applies a change of e.perNode[node] to e.perSlot when it is valid (and
// invalidates it when the node has no NodeInfo, which the cache never lets happen).
func (c *schedCache) slotAdd(e *matchEntry, node api.NodeName, d int32) {
	if !e.slotsValid {
		return
	}
	ni := c.nodes[node]
	if ni == nil || ni.Slot() <= 0 {
		e.slotsValid = false
		return
	}
	s := int(ni.Slot())
	if s >= len(e.perSlot) {
		e.perSlot = append(e.perSlot, make([]int32, s+1-len(e.perSlot))...)
	}
	e.perSlot[s] += d
}

// matchSlotsChanged invalidates every per-slot count (a NodeInfo was created or
// dropped, so a slot may have changed hands).
func (c *schedCache) matchSlotsChanged() {
	for _, e := range c.match.entries {
		e.slotsValid = false
	}
}

// MatchingPodsPerSlot implements framework.SlotCounter.
func (s *Scheduler) MatchingPodsPerSlot(ns string, sel *framework.LabelSelectorRef) []int32 {
	if sel == nil {
		return nil
	}
	c := s.cache
	e := c.matchEntry(ns, sel)
	if e.slotsValid {
		return e.perSlot
	}
	n := int(c.nextSlot) + 1
	if cap(e.perSlot) < n {
		e.perSlot = make([]int32, n)
	}
	e.perSlot = e.perSlot[:n]
	clear(e.perSlot)
	for node, cnt := range e.perNode { // order-independent: one slot per node
		if ni := c.nodes[node]; ni != nil && ni.Slot() > 0 {
			e.perSlot[ni.Slot()] = int32(cnt)
		}
	}
	e.slotsValid = true
	return e.perSlot
}

var _ framework.SlotCounter = (*Scheduler)(nil)

// matchNodesChanged drops every per-domain count (a node was added, removed or
// relabelled).
func (c *schedCache) matchNodesChanged() {
	for _, e := range c.match.entries {
		e.domains = nil
	}
}

// MatchingPodsPerNode implements framework.MatchCounter.
func (s *Scheduler) MatchingPodsPerNode(ns string, sel *framework.LabelSelectorRef) map[api.NodeName]int {
	if sel == nil {
		return nil
	}
	return s.cache.matchEntry(ns, sel).perNode
}

// MatchingPodsPerDomain implements framework.MatchCounter.
func (s *Scheduler) MatchingPodsPerDomain(ns string, sel *framework.LabelSelectorRef, key string) map[string]int {
	if sel == nil {
		return nil
	}
	c := s.cache
	e := c.matchEntry(ns, sel)
	if d, ok := e.domains[key]; ok {
		return d
	}
	d := map[string]int{}
	for node, n := range e.perNode { // order-independent sums
		if labels, ok := c.domainLabels(node); ok {
			d[labels[key]] += n
		}
	}
	if e.domains == nil {
		e.domains = map[string]map[string]int{}
	}
	e.domains[key] = d
	return d
}

var _ framework.MatchCounter = (*Scheduler)(nil)
