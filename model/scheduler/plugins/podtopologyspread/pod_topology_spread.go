// Package podtopologyspread holds PodTopologySpread (reference §2.4, §2.6.6;
// pkg/scheduler/framework/plugins/podtopologyspread/{plugin.go,common.go,
// filtering.go,scoring.go}):
//   - PreFilter/Filter enforce the pod's whenUnsatisfiable=DoNotSchedule constraints:
//     a node must carry every constraint's topology key, and placing the pod there
//     must keep count(domain)+self−min(domains) ≤ maxSkew;
//   - PreScore/Score/NormalizeScore favour domains with fewer matching pods for the
//     ScheduleAnyway constraints, or, when the pod has no constraint at all, for the
//     default constraints (System: hostname maxSkew 3, zone maxSkew 5) with the
//     selector of the Services/ReplicaSets/StatefulSets selecting the pod.
//
// Counting reads the scheduler's incremental per-selector counts
// (framework.MatchCounter: per node, and per topology domain) in O(nodes); with a
// handle without them it visits the pods matching a constraint's selector through
// the label index (framework.ForEachAssignedPod). Both give identical counts.
// Simplifications: matchLabelKeys and nodeTaintsPolicy are not modelled
// (nodeAffinityPolicy is Honor, nodeTaintsPolicy Ignore, the upstream defaults);
// there are no PreFilterExtensions (preemption dry runs do not update the counts).
package podtopologyspread

import (
	"fmt"
	"math"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// Name is the plug-in's registered name.
const Name = "PodTopologySpread"

// Rejection reasons, as upstream.
const (
	ErrReasonConstraintsNotMatch = "node(s) didn't match pod topology spread constraints"
	ErrReasonNodeLabelNotMatch   = ErrReasonConstraintsNotMatch + " (missing required label)"
)

// DefaultingType selects the default constraints (upstream PodTopologySpreadArgs).
type DefaultingType string

// Defaulting types.
const (
	SystemDefaulting DefaultingType = "System"
	ListDefaulting   DefaultingType = "List"
)

// Args configure the plug-in (upstream PodTopologySpreadArgs).
type Args struct {
	// DefaultConstraints apply to pods without constraints when DefaultingType is
	// List; they must have no labelSelector (the pod's default selector is used).
	DefaultConstraints []api.TopologySpreadConstraint
	// DefaultingType is System (the default) or List.
	DefaultingType DefaultingType
}

// SystemDefaultConstraints are upstream's system defaults (plugin.go
// systemDefaultConstraints).
func SystemDefaultConstraints() []api.TopologySpreadConstraint {
	return []api.TopologySpreadConstraint{
		{TopologyKey: api.LabelHostname, WhenUnsatisfiable: api.ScheduleAnyway, MaxSkew: 3},
		{TopologyKey: api.LabelZone, WhenUnsatisfiable: api.ScheduleAnyway, MaxSkew: 5},
	}
}

// PodTopologySpread is the plug-in.
type PodTopologySpread struct {
	h                 framework.Handle
	defaults          []api.TopologySpreadConstraint
	systemDefaulted   bool
	rejectLabel       *framework.Status
	rejectConstraints *framework.Status
}

var (
	_ framework.PreFilterPlugin   = (*PodTopologySpread)(nil)
	_ framework.FilterPlugin      = (*PodTopologySpread)(nil)
	_ framework.PreScorePlugin    = (*PodTopologySpread)(nil)
	_ framework.ScorePlugin       = (*PodTopologySpread)(nil)
	_ framework.ScoreExtensions   = (*PodTopologySpread)(nil)
	_ framework.EnqueueExtensions = (*PodTopologySpread)(nil)
)

// New builds the plug-in. args may be nil, Args or *Args.
func New(args any, h framework.Handle) (framework.Plugin, error) {
	var a Args
	switch v := args.(type) {
	case nil:
	case Args:
		a = v
	case *Args:
		if v != nil {
			a = *v
		}
	default:
		return nil, fmt.Errorf("%s: want args of type podtopologyspread.Args, got %T", Name, args)
	}
	pl := &PodTopologySpread{
		h:                 h,
		rejectLabel:       framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonNodeLabelNotMatch),
		rejectConstraints: framework.NewStatus(framework.Unschedulable, ErrReasonConstraintsNotMatch),
	}
	switch a.DefaultingType {
	case "", SystemDefaulting:
		if len(a.DefaultConstraints) > 0 {
			return nil, fmt.Errorf("%s: defaultConstraints: must be empty when defaultingType is System", Name)
		}
		pl.defaults, pl.systemDefaulted = SystemDefaultConstraints(), true
	case ListDefaulting:
		for i, c := range a.DefaultConstraints {
			if err := validateConstraint(&c); err != nil {
				return nil, fmt.Errorf("%s: defaultConstraints[%d]: %w", Name, i, err)
			}
			if c.LabelSelector != nil {
				return nil, fmt.Errorf("%s: defaultConstraints[%d].labelSelector: must be empty (the pod's default selector is used)", Name, i)
			}
		}
		pl.defaults = a.DefaultConstraints
	default:
		return nil, fmt.Errorf("%s: defaultingType: unknown %q (known: System, List)", Name, a.DefaultingType)
	}
	return pl, nil
}

func validateConstraint(c *api.TopologySpreadConstraint) error {
	if c.MaxSkew <= 0 {
		return fmt.Errorf("maxSkew: must be greater than zero, got %d", c.MaxSkew)
	}
	if c.TopologyKey == "" {
		return fmt.Errorf("topologyKey: required")
	}
	if c.WhenUnsatisfiable != api.DoNotSchedule && c.WhenUnsatisfiable != api.ScheduleAnyway {
		return fmt.Errorf("whenUnsatisfiable: unknown %q (known: DoNotSchedule, ScheduleAnyway)", c.WhenUnsatisfiable)
	}
	return nil
}

// Name implements framework.Plugin.
func (*PodTopologySpread) Name() string { return Name }

// constraint is a topology spread constraint with its effective selector.
type constraint struct {
	maxSkew    int32
	key        string
	minDomains int32
	sel        *api.LabelSelector
	ref        *framework.LabelSelectorRef // lazily, for framework.MatchCounter
	selfMatch  int
}

// constraints returns the pod's constraints with the given action, or the default
// ones when the pod has none (common.go filterTopologySpreadConstraints,
// plugin.go buildDefaultConstraints).
func (pl *PodTopologySpread) constraints(pod *api.Pod, action api.UnsatisfiableConstraintAction) []constraint {
	var out []constraint
	if len(pod.Spec.TopologySpreadConstraints) > 0 {
		for _, c := range pod.Spec.TopologySpreadConstraints {
			if c.WhenUnsatisfiable != action {
				continue
			}
			out = append(out, newConstraint(c, c.LabelSelector, pod))
		}
		return out
	}
	var sel *api.LabelSelector
	for _, c := range pl.defaults {
		if c.WhenUnsatisfiable != action {
			continue
		}
		if sel == nil {
			if sl, ok := pl.h.(framework.SelectorLister); ok {
				sel = sl.DefaultSelector(pod)
			}
			if sel == nil || sel.IsEmpty() {
				return nil
			}
		}
		out = append(out, newConstraint(c, sel, pod))
	}
	return out
}

// selRef returns the constraint's selector with its canonical key (computed once).
func (c *constraint) selRef() *framework.LabelSelectorRef {
	if c.ref == nil {
		c.ref = framework.NewLabelSelectorRef(c.sel)
	}
	return c.ref
}

func newConstraint(c api.TopologySpreadConstraint, sel *api.LabelSelector, pod *api.Pod) constraint {
	out := constraint{maxSkew: c.MaxSkew, key: c.TopologyKey, minDomains: 1, sel: sel}
	if c.MinDomains != nil {
		out.minDomains = *c.MinDomains
	}
	if sel.Matches(pod.Labels) {
		out.selfMatch = 1
	}
	return out
}

// hasAllKeys reports whether the node carries every constraint's topology key.
func hasAllKeys(node *framework.NodeInfo, cs []constraint) bool {
	for i := range cs {
		if _, ok := node.Label(cs[i].key); !ok {
			return false
		}
	}
	return true
}

// matchesNodeAffinity is nodeAffinityPolicy Honor: the node matches the pod's
// nodeSelector and required node affinity (common.go matchNodeInclusionPolicies).
func matchesNodeAffinity(pod *api.Pod, node *api.Node) bool {
	for k, v := range pod.Spec.NodeSelector {
		if lv, ok := node.Labels[k]; !ok || lv != v {
			return false
		}
	}
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.Required != nil {
		return api.MatchesAnyTerm(a.NodeAffinity.Required, node)
	}
	return true
}

// ---------------------------------------------------------------------------
// Filter

const preFilterStateKey framework.StateKey = "PreFilter" + Name

type preFilterState struct {
	cons []constraint
	// counts[i] maps each domain of constraint i (among the eligible nodes) to its
	// matching pods; min[i] is the smallest count (0 below minDomains domains).
	counts []map[string]int
	min    []int
}

// PreFilter implements framework.PreFilterPlugin (filtering.go calPreFilterState).
func (pl *PodTopologySpread) PreFilter(state *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo) (*framework.PreFilterResult, *framework.Status) {
	cons := pl.constraints(pod.Pod, api.DoNotSchedule)
	if len(cons) == 0 {
		return nil, framework.NewStatus(framework.Skip)
	}
	s := &preFilterState{cons: cons, counts: make([]map[string]int, len(cons)), min: make([]int, len(cons))}
	for i := range cons {
		s.counts[i] = map[string]int{}
	}
	eligible := make(map[api.NodeName]bool, len(nodes))
	for _, ni := range nodes {
		n := ni.Node()
		if n == nil || !hasAllKeys(ni, cons) || !matchesNodeAffinity(pod.Pod, n) {
			continue
		}
		eligible[ni.Name] = true
		for i := range cons {
			v, _ := ni.Label(cons[i].key)
			s.counts[i][v] += 0
		}
	}
	mc, incremental := pl.h.(framework.MatchCounter)
	for i := range cons {
		c := &cons[i]
		if incremental {
			for name, cnt := range mc.MatchingPodsPerNode(pod.Pod.Namespace, c.selRef()) { // order-independent sums
				if !eligible[name] {
					continue
				}
				if ni := pl.h.NodeInfo(name); ni != nil {
					v, _ := ni.Label(c.key)
					s.counts[i][v] += cnt
				}
			}
		} else {
			framework.ForEachAssignedPod(pl.h, pod.Pod.Namespace, c.sel, func(_ *framework.PodInfo, ni *framework.NodeInfo) {
				if ni == nil || !eligible[ni.Name] {
					return
				}
				v, _ := ni.Label(c.key)
				s.counts[i][v]++
			})
		}
		m := math.MaxInt32
		for _, n := range s.counts[i] { // the minimum: order-independent
			m = min(m, n)
		}
		if int32(len(s.counts[i])) < c.minDomains {
			m = 0
		}
		s.min[i] = m
	}
	state.Write(preFilterStateKey, s)
	return nil, nil
}

// Filter implements framework.FilterPlugin (filtering.go Filter).
func (pl *PodTopologySpread) Filter(state *framework.CycleState, _ *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	d, err := state.Read(preFilterStateKey)
	if err != nil {
		return framework.AsStatus(fmt.Errorf("%s: reading PreFilter state: %w", Name, err))
	}
	s := d.(*preFilterState)
	n := node.Node()
	if n == nil {
		return pl.rejectLabel
	}
	for i := range s.cons {
		c := &s.cons[i]
		v, ok := node.Label(c.key)
		if !ok {
			return pl.rejectLabel
		}
		if skew := s.counts[i][v] + c.selfMatch - s.min[i]; skew > int(c.maxSkew) {
			return pl.rejectConstraints
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Score

const preScoreStateKey framework.StateKey = "PreScore" + Name

type preScoreState struct {
	cons    []constraint
	ignored map[api.NodeName]bool
	// counts[i] maps the domains of constraint i among the filtered nodes to their
	// matching pods (over all nodes); hostCounts the matching pods per node for
	// hostname constraints.
	counts     []map[string]int
	hostCounts []map[api.NodeName]int
	// hostSlots[i], when the handle is a framework.SlotCounter, holds the same
	// counts as hostCounts[i] indexed by NodeInfo slot.
	hostSlots [][]int32
	weights   []float64
}

// PreScore implements framework.PreScorePlugin (scoring.go initPreScoreState,
// PreScore).
func (pl *PodTopologySpread) PreScore(state *framework.CycleState, pod *framework.PodInfo, filtered []*framework.NodeInfo) *framework.Status {
	cons := pl.constraints(pod.Pod, api.ScheduleAnyway)
	if len(cons) == 0 || len(filtered) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	requireAll := len(pod.Pod.Spec.TopologySpreadConstraints) > 0 || !pl.systemDefaulted
	s := &preScoreState{
		cons: cons, ignored: map[api.NodeName]bool{},
		counts: make([]map[string]int, len(cons)), hostCounts: make([]map[api.NodeName]int, len(cons)),
		hostSlots: make([][]int32, len(cons)), weights: make([]float64, len(cons)),
	}
	for i := range cons {
		s.counts[i] = map[string]int{}
	}
	for _, ni := range filtered {
		n := ni.Node()
		if n == nil || (requireAll && !hasAllKeys(ni, cons)) {
			s.ignored[ni.Name] = true
			continue
		}
		for i := range cons {
			if cons[i].key == api.LabelHostname {
				continue
			}
			if v, ok := ni.Label(cons[i].key); ok {
				if _, seen := s.counts[i][v]; !seen {
					s.counts[i][v] = 0
				}
			}
		}
	}
	mc, incremental := pl.h.(framework.MatchCounter)
	for i := range cons {
		c := &cons[i]
		size := len(s.counts[i])
		if incremental {
			pl.countIncremental(mc, s, i, pod.Pod, requireAll)
		} else if c.key == api.LabelHostname {
			hc := map[api.NodeName]int{}
			framework.ForEachAssignedPod(pl.h, pod.Pod.Namespace, c.sel, func(_ *framework.PodInfo, ni *framework.NodeInfo) {
				if ni != nil {
					hc[ni.Name]++
				}
			})
			s.hostCounts[i] = hc
		} else {
			framework.ForEachAssignedPod(pl.h, pod.Pod.Namespace, c.sel, func(_ *framework.PodInfo, ni *framework.NodeInfo) {
				if ni == nil || ni.Node() == nil {
					return
				}
				n := ni.Node()
				if requireAll && !hasAllKeys(ni, cons) || !matchesNodeAffinity(pod.Pod, n) {
					return
				}
				v, _ := ni.Label(c.key)
				if _, ok := s.counts[i][v]; ok {
					s.counts[i][v]++
				}
			})
		}
		if c.key == api.LabelHostname {
			size = len(filtered) - len(s.ignored)
		}
		// scoring.go topologyNormalizingWeight: ln(size + 2).
		s.weights[i] = math.Log(float64(size + 2))
	}
	state.Write(preScoreStateKey, s)
	return nil
}

// Score implements framework.ScorePlugin: round(Σ count·w + maxSkew − 1) over the
// constraints whose key the node has.
func (pl *PodTopologySpread) Score(state *framework.CycleState, _ *framework.PodInfo, node *framework.NodeInfo) (int64, *framework.Status) {
	d, err := state.Read(preScoreStateKey)
	if err != nil {
		return 0, framework.AsStatus(fmt.Errorf("%s: reading PreScore state: %w", Name, err))
	}
	s := d.(*preScoreState)
	if node.Node() == nil || len(s.ignored) > 0 && s.ignored[node.Name] {
		return 0, nil
	}
	var score float64
	for i := range s.cons {
		c := &s.cons[i]
		v, ok := node.Label(c.key)
		if !ok {
			continue
		}
		var cnt int
		if c.key == api.LabelHostname {
			if hs, slot := s.hostSlots[i], int(node.Slot()); hs != nil && slot > 0 {
				if slot < len(hs) {
					cnt = int(hs[slot])
				}
			} else {
				cnt = s.hostCounts[i][node.Name]
			}
		} else {
			cnt = s.counts[i][v]
		}
		score += float64(cnt)*s.weights[i] + float64(c.maxSkew-1)
	}
	return int64(math.Round(score)), nil
}

// ScoreExtensions implements framework.ScorePlugin.
func (pl *PodTopologySpread) ScoreExtensions() framework.ScoreExtensions { return pl }

// NormalizeScore implements framework.ScoreExtensions: 100·(max+min−s)/max over the
// non-ignored nodes (100 for all when max is 0); ignored nodes get 0.
func (pl *PodTopologySpread) NormalizeScore(state *framework.CycleState, _ *framework.PodInfo, scores []framework.NodeScore) *framework.Status {
	d, err := state.Read(preScoreStateKey)
	if err != nil {
		return framework.AsStatus(fmt.Errorf("%s: reading PreScore state: %w", Name, err))
	}
	s := d.(*preScoreState)
	var minS int64 = math.MaxInt64
	var maxS int64
	for _, sc := range scores {
		if s.ignored[sc.Name] {
			continue
		}
		minS = min(minS, sc.Score)
		maxS = max(maxS, sc.Score)
	}
	for i := range scores {
		switch {
		case s.ignored[scores[i].Name]:
			scores[i].Score = 0
		case maxS == 0:
			scores[i].Score = framework.MaxNodeScore
		default:
			scores[i].Score = framework.MaxNodeScore * (maxS + minS - scores[i].Score) / maxS
		}
	}
	return nil
}

// EventsToRegister implements framework.EnqueueExtensions: assigned pods added or
// deleted and node additions or label changes can change the domain counts.
func (*PodTopologySpread) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.AssignedPodResource, ActionType: framework.Add | framework.Delete},
		{Resource: framework.NodeResource, ActionType: framework.Add | framework.UpdateNodeLabel},
	}
}

// countIncremental fills constraint i's counts of s from the handle's incremental
// counts (framework.MatchCounter), with exactly the results of the pod walk in
// PreScore: hostname constraints read the per-node counts (a shared map, read
// before the cache next changes, i.e. within this cycle); other keys sum per
// domain, over all known nodes when every node qualifies (system defaulting and no
// node affinity), else over the nodes passing the same checks as the walk.
func (pl *PodTopologySpread) countIncremental(mc framework.MatchCounter, s *preScoreState, i int, pod *api.Pod, requireAll bool) {
	c := &s.cons[i]
	if c.key == api.LabelHostname {
		s.hostCounts[i] = mc.MatchingPodsPerNode(pod.Namespace, c.selRef())
		if sc, ok := pl.h.(framework.SlotCounter); ok {
			s.hostSlots[i] = sc.MatchingPodsPerSlot(pod.Namespace, c.selRef())
		}
		return
	}
	counts := s.counts[i]
	if !requireAll && !hasNodeAffinity(pod) {
		dom := mc.MatchingPodsPerDomain(pod.Namespace, c.selRef(), c.key)
		for v := range counts { // assigns existing keys only
			counts[v] = dom[v]
		}
		return
	}
	for name, cnt := range mc.MatchingPodsPerNode(pod.Namespace, c.selRef()) { // order-independent sums
		ni := pl.h.NodeInfo(name)
		if ni == nil || ni.Node() == nil {
			continue
		}
		if requireAll && !hasAllKeys(ni, s.cons) || !matchesNodeAffinity(pod, ni.Node()) {
			continue
		}
		v, _ := ni.Label(c.key)
		if _, ok := counts[v]; ok {
			counts[v] += cnt
		}
	}
}

// hasNodeAffinity reports whether matchesNodeAffinity can reject a node.
func hasNodeAffinity(pod *api.Pod) bool {
	if len(pod.Spec.NodeSelector) > 0 {
		return true
	}
	a := pod.Spec.Affinity
	return a != nil && a.NodeAffinity != nil && a.NodeAffinity.Required != nil
}
