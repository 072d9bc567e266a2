package framework

import (
	"sort"
	"strconv"
	"strings"

	"github.com/kubesim/kubesim/model/api"
)

// AssignedPod is a pod on a node (bound or assumed) as an index returns it.
type AssignedPod struct {
	Pod  *PodInfo
	Node api.NodeName
}

// PodLister is optionally implemented by a Handle (the scheduler implements it). It
// gives the inter-pod plug-ins (PodTopologySpread, InterPodAffinity) the pods they
// need without walking every pod of the cluster each cycle: upstream walks every
// node's pods (pkg/scheduler/framework/plugins/podtopologyspread/filtering.go
// calPreFilterState, interpodaffinity/filtering.go), which is O(all pods) per cycle;
// kubesim keeps a label index in the scheduler cache instead. Results are identical.
// Returned slices are shared: do not modify or keep them past the call.
type PodLister interface {
	// PodsWithLabel returns the assigned pods of namespace ns whose labels have
	// key=value, in no particular order.
	PodsWithLabel(ns, key, value string) []AssignedPod
	// PodsWithAffinity returns the assigned pods with any pod affinity or
	// anti-affinity term (upstream NodeInfo.PodsWithAffinity over all nodes), in no
	// particular order.
	PodsWithAffinity() []AssignedPod
}

// SelectorLister is optionally implemented by a Handle: the default spreading
// selector of a pod (upstream helper.DefaultSelector, pkg/scheduler/framework/
// plugins/helper/spread.go): the AND of the selectors of the Services of the pod's
// namespace that select it and of its controlling ReplicaSet or StatefulSet.
// It returns nil when nothing selects the pod.
type SelectorLister interface {
	DefaultSelector(pod *api.Pod) *api.LabelSelector
}

// ForEachAssignedPod calls fn for every assigned pod of namespace ns that sel
// matches and that is not terminating (deletionTimestamp unset), with its node's
// info (nil when the node is unknown). With a PodLister handle and a selector that
// pins at least one label value (matchLabels, or an In expression with one value) it
// visits only the pods indexed under the rarest such label; otherwise it walks every
// node's pods. Visit order is unspecified: callers must only aggregate
// order-independently (counts, sums).
func ForEachAssignedPod(h Handle, ns string, sel *api.LabelSelector, fn func(p *PodInfo, node *NodeInfo)) {
	if sel == nil {
		return
	}
	if pl, ok := h.(PodLister); ok {
		var best []AssignedPod
		found := false
		try := func(k, v string) {
			ps := pl.PodsWithLabel(ns, k, v)
			if !found || len(ps) < len(best) {
				best, found = ps, true
			}
		}
		for k, v := range sel.MatchLabels { // order-independent: the minimum
			try(k, v)
		}
		for i := range sel.MatchExpressions {
			if r := &sel.MatchExpressions[i]; r.Operator == api.OpIn && len(r.Values) == 1 {
				try(r.Key, r.Values[0])
			}
		}
		if found {
			for _, ap := range best {
				p := ap.Pod.Pod
				if p.DeletionTimestamp == nil && sel.Matches(p.Labels) {
					fn(ap.Pod, h.NodeInfo(ap.Node))
				}
			}
			return
		}
	}
	for _, ni := range h.Nodes() {
		for _, pi := range ni.Pods {
			p := pi.Pod
			if p.Namespace == ns && p.DeletionTimestamp == nil && sel.Matches(p.Labels) {
				fn(pi, ni)
			}
		}
	}
}

// ForEachPodWithAffinity calls fn for every assigned pod with a pod affinity or
// anti-affinity term, with its node's info (nil when unknown).
func ForEachPodWithAffinity(h Handle, fn func(p *PodInfo, node *NodeInfo)) {
	if pl, ok := h.(PodLister); ok {
		for _, ap := range pl.PodsWithAffinity() {
			fn(ap.Pod, h.NodeInfo(ap.Node))
		}
		return
	}
	for _, ni := range h.Nodes() {
		for _, pi := range ni.Pods {
			if HasPodAffinity(pi.Pod) {
				fn(pi, ni)
			}
		}
	}
}

// HasPodAffinity reports whether the pod has any pod affinity or anti-affinity term.
func HasPodAffinity(p *api.Pod) bool {
	a := p.Spec.Affinity
	if a == nil {
		return false
	}
	return hasTerms(a.PodAffinity) || hasTerms(a.PodAntiAffinity)
}

func hasTerms(a *api.PodAffinity) bool {
	return a != nil && (len(a.Required) > 0 || len(a.Preferred) > 0)
}

// MatchCounter is optionally implemented by a Handle (the scheduler implements it):
// counts of the assigned, non-terminating pods of a namespace that a selector
// matches, kept current incrementally by the scheduler cache so that
// PodTopologySpread reads them in O(nodes) instead of walking the matching pods
// every cycle. The counts are exactly those ForEachAssignedPod would aggregate.
// Returned maps are shared and read-only; they stay valid only until the cache next
// changes (so within one plug-in phase sequence of a cycle). Missing keys mean 0.
type MatchCounter interface {
	// MatchingPodsPerNode returns the matching pods per node name, including nodes
	// the cache only knows as placeholders (Handle.NodeInfo returns nil for them).
	MatchingPodsPerNode(ns string, sel *LabelSelectorRef) map[api.NodeName]int
	// MatchingPodsPerDomain returns the matching pods summed per value of the
	// topology label key over the known nodes (Handle.NodeInfo non-nil), keyed by
	// node.Labels[key] (so "" for nodes without the key).
	MatchingPodsPerDomain(ns string, sel *LabelSelectorRef, key string) map[string]int
}

// SlotCounter is optionally implemented by a Handle that also implements
// MatchCounter (the scheduler does): the same per-node counts as
// MatchingPodsPerNode, indexed by NodeInfo.Slot instead of by node name, so a
// per-node read in Score is an array access rather than a string-keyed map lookup.
// The slice is shared and read-only, valid as MatchCounter's maps are; slots past
// its end count 0. Only NodeInfos with a slot (Slot() > 0) may be looked up.
type SlotCounter interface {
	MatchingPodsPerSlot(ns string, sel *LabelSelectorRef) []int32
}

// LabelSelectorRef is a label selector with its canonical string, computed once per
// cycle by the caller (NewLabelSelectorRef) and used as the counts' cache key.
type LabelSelectorRef struct {
	Sel *api.LabelSelector
	Key string
}

// NewLabelSelectorRef returns sel with its canonical string: matchLabels sorted by
// key, then the expressions in order, every string length-prefixed. Returns nil for
// a nil selector (which matches nothing).
func NewLabelSelectorRef(sel *api.LabelSelector) *LabelSelectorRef {
	if sel == nil {
		return nil
	}
	keys := make([]string, 0, len(sel.MatchLabels))
	for k := range sel.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	w := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	b.WriteByte('L')
	for _, k := range keys {
		w(k)
		w(sel.MatchLabels[k])
	}
	for _, r := range sel.MatchExpressions {
		b.WriteByte('E')
		w(r.Key)
		w(string(r.Operator))
		b.WriteString(strconv.Itoa(len(r.Values)))
		for _, v := range r.Values {
			w(v)
		}
	}
	return &LabelSelectorRef{Sel: sel, Key: b.String()}
}
