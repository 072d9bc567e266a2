// Package interpodaffinity holds InterPodAffinity (reference §2.4, §2.6.7;
// pkg/scheduler/framework/plugins/interpodaffinity/{plugin.go,filtering.go,
// scoring.go}):
//   - Filter: the pod's required affinity terms must all be satisfied by pods in
//     the node's topology domain (or, for the first pod of a group, by the pod
//     itself); its required anti-affinity terms must match no pod in the domain;
//     and no existing pod's required anti-affinity term may match the pod in the
//     node's domain;
//   - Score: per topology domain, +w/−w for the pod's preferred (anti-)affinity
//     terms matched by existing pods, hardPodAffinityWeight for existing pods'
//     required affinity terms the pod matches, ±w for their preferred terms; the
//     node gets the sum over its domains, normalized to 100·(s−min)/(max−min).
//
// Only pods matched by the incoming pod's terms (through the scheduler's label
// index) and pods that have affinity terms are visited, never every pod.
// Simplifications: namespaceSelector and matchLabelKeys are not modelled (a term's
// namespaces are its list or its pod's namespace); no PreFilterExtensions.
package interpodaffinity

import (
	"fmt"
	"math"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// Name is the plug-in's registered name.
const Name = "InterPodAffinity"

// Rejection reasons, as upstream.
const (
	ErrReasonExistingAntiAffinityRulesNotMatch = "node(s) didn't satisfy existing pods anti-affinity rules"
	ErrReasonAffinityRulesNotMatch             = "node(s) didn't match pod affinity rules"
	ErrReasonAntiAffinityRulesNotMatch         = "node(s) didn't match pod anti-affinity rules"
)

// Args configure the plug-in (upstream InterPodAffinityArgs).
type Args struct {
	// HardPodAffinityWeight is the score weight of existing pods' required affinity
	// terms that the incoming pod matches: 0..100, default 1. Nil means 1.
	HardPodAffinityWeight *int32
}

// InterPodAffinity is the plug-in.
type InterPodAffinity struct {
	h                                              framework.Handle
	hardWeight                                     int64
	rejectAffinity, rejectAnti, rejectExistingAnti *framework.Status
}

var (
	_ framework.PreFilterPlugin   = (*InterPodAffinity)(nil)
	_ framework.FilterPlugin      = (*InterPodAffinity)(nil)
	_ framework.PreScorePlugin    = (*InterPodAffinity)(nil)
	_ framework.ScorePlugin       = (*InterPodAffinity)(nil)
	_ framework.ScoreExtensions   = (*InterPodAffinity)(nil)
	_ framework.EnqueueExtensions = (*InterPodAffinity)(nil)
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
		return nil, fmt.Errorf("%s: want args of type interpodaffinity.Args, got %T", Name, args)
	}
	w := int64(1)
	if a.HardPodAffinityWeight != nil {
		w = int64(*a.HardPodAffinityWeight)
		if w < 0 || w > 100 {
			return nil, fmt.Errorf("%s: hardPodAffinityWeight: must be in 0..100, got %d", Name, w)
		}
	}
	return &InterPodAffinity{
		h: h, hardWeight: w,
		rejectAffinity:     framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonAffinityRulesNotMatch),
		rejectAnti:         framework.NewStatus(framework.Unschedulable, ErrReasonAntiAffinityRulesNotMatch),
		rejectExistingAnti: framework.NewStatus(framework.Unschedulable, ErrReasonExistingAntiAffinityRulesNotMatch),
	}, nil
}

// Name implements framework.Plugin.
func (*InterPodAffinity) Name() string { return Name }

// termMatches reports whether pod p matches the term owned by a pod of namespace
// ownerNS: p's namespace is among the term's (or ownerNS when none are listed) and
// its labels match the selector (a nil selector matches nothing).
func termMatches(t *api.PodAffinityTerm, ownerNS string, p *api.Pod) bool {
	if len(t.Namespaces) == 0 {
		if p.Namespace != ownerNS {
			return false
		}
	} else {
		found := false
		for _, ns := range t.Namespaces {
			if ns == p.Namespace {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return t.LabelSelector.Matches(p.Labels)
}

// forEachTermPod visits the assigned pods matching the term owned by a pod of
// namespace ownerNS.
func (pl *InterPodAffinity) forEachTermPod(t *api.PodAffinityTerm, ownerNS string, fn func(*framework.PodInfo, *framework.NodeInfo)) {
	nss := t.Namespaces
	if len(nss) == 0 {
		nss = []string{ownerNS}
	}
	for i, ns := range nss {
		if i > 0 && contains(nss[:i], ns) {
			continue
		}
		framework.ForEachAssignedPod(pl.h, ns, t.LabelSelector, fn)
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func required(a *api.PodAffinity) []api.PodAffinityTerm {
	if a == nil {
		return nil
	}
	return a.Required
}

func preferred(a *api.PodAffinity) []api.WeightedPodAffinityTerm {
	if a == nil {
		return nil
	}
	return a.Preferred
}

func affinities(p *api.Pod) (aff, anti *api.PodAffinity) {
	if p.Spec.Affinity == nil {
		return nil, nil
	}
	return p.Spec.Affinity.PodAffinity, p.Spec.Affinity.PodAntiAffinity
}

// topoPair is a topology key and value.
type topoPair struct{ key, value string }

// ---------------------------------------------------------------------------
// Filter

const preFilterStateKey framework.StateKey = "PreFilter" + Name

type preFilterState struct {
	affinityTerms, antiTerms []api.PodAffinityTerm
	// affinityCounts: pods matching all affinity terms, per topology pair;
	// antiCounts: pods matching each anti-affinity term; existingAnti: existing
	// pods whose required anti-affinity terms match the incoming pod.
	affinityCounts, antiCounts, existingAnti map[topoPair]int
	selfMatchesAll                           bool
}

// PreFilter implements framework.PreFilterPlugin (filtering.go PreFilter).
func (pl *InterPodAffinity) PreFilter(state *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) (*framework.PreFilterResult, *framework.Status) {
	p := pod.Pod
	aff, anti := affinities(p)
	s := &preFilterState{
		affinityTerms: required(aff), antiTerms: required(anti),
		affinityCounts: map[topoPair]int{}, antiCounts: map[topoPair]int{}, existingAnti: map[topoPair]int{},
	}
	// Existing pods' required anti-affinity terms matching the incoming pod.
	framework.ForEachPodWithAffinity(pl.h, func(ep *framework.PodInfo, ni *framework.NodeInfo) {
		if ni == nil || ni.Node() == nil {
			return
		}
		_, eanti := affinities(ep.Pod)
		for _, t := range required(eanti) {
			if !termMatches(&t, ep.Pod.Namespace, p) {
				continue
			}
			if v, ok := ni.Node().Labels[t.TopologyKey]; ok {
				s.existingAnti[topoPair{t.TopologyKey, v}]++
			}
		}
	})
	if len(s.affinityTerms) == 0 && len(s.antiTerms) == 0 && len(s.existingAnti) == 0 {
		return nil, framework.NewStatus(framework.Skip)
	}
	if len(s.affinityTerms) > 0 {
		// Pods matching every affinity term: visit those matching the first one.
		first := &s.affinityTerms[0]
		pl.forEachTermPod(first, p.Namespace, func(ep *framework.PodInfo, ni *framework.NodeInfo) {
			if ni == nil || ni.Node() == nil {
				return
			}
			for i := 1; i < len(s.affinityTerms); i++ {
				if !termMatches(&s.affinityTerms[i], p.Namespace, ep.Pod) {
					return
				}
			}
			for _, t := range s.affinityTerms {
				if v, ok := ni.Node().Labels[t.TopologyKey]; ok {
					s.affinityCounts[topoPair{t.TopologyKey, v}]++
				}
			}
		})
		s.selfMatchesAll = true
		for i := range s.affinityTerms {
			if !termMatches(&s.affinityTerms[i], p.Namespace, p) {
				s.selfMatchesAll = false
			}
		}
	}
	for i := range s.antiTerms {
		t := &s.antiTerms[i]
		pl.forEachTermPod(t, p.Namespace, func(_ *framework.PodInfo, ni *framework.NodeInfo) {
			if ni == nil || ni.Node() == nil {
				return
			}
			if v, ok := ni.Node().Labels[t.TopologyKey]; ok {
				s.antiCounts[topoPair{t.TopologyKey, v}]++
			}
		})
	}
	state.Write(preFilterStateKey, s)
	return nil, nil
}

// Filter implements framework.FilterPlugin (filtering.go Filter).
func (pl *InterPodAffinity) Filter(state *framework.CycleState, _ *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	d, err := state.Read(preFilterStateKey)
	if err != nil {
		return framework.AsStatus(fmt.Errorf("%s: reading PreFilter state: %w", Name, err))
	}
	s := d.(*preFilterState)
	n := node.Node()
	if n == nil {
		return pl.rejectAffinity
	}
	// satisfyPodAffinity.
	if len(s.affinityTerms) > 0 {
		podsExist := true
		for _, t := range s.affinityTerms {
			v, ok := n.Labels[t.TopologyKey]
			if !ok {
				return pl.rejectAffinity // the node lacks a topology key
			}
			if s.affinityCounts[topoPair{t.TopologyKey, v}] <= 0 {
				podsExist = false
			}
		}
		// The first pod of a group may land anywhere when it matches its own terms
		// and no pod anywhere matches them.
		if !podsExist && !(len(s.affinityCounts) == 0 && s.selfMatchesAll) {
			return pl.rejectAffinity
		}
	}
	// satisfyPodAntiAffinity.
	for _, t := range s.antiTerms {
		if v, ok := n.Labels[t.TopologyKey]; ok && s.antiCounts[topoPair{t.TopologyKey, v}] > 0 {
			return pl.rejectAnti
		}
	}
	// satisfyExistingPodsAntiAffinity.
	for tp := range s.existingAnti { // any match rejects: order-independent
		if v, ok := n.Labels[tp.key]; ok && v == tp.value {
			return pl.rejectExistingAnti
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Score

const preScoreStateKey framework.StateKey = "PreScore" + Name

type preScoreState struct {
	// topo maps a topology key to value → points.
	topo map[string]map[string]int64
}

func (s *preScoreState) add(key string, node *framework.NodeInfo, w int64) {
	if node == nil || node.Node() == nil || w == 0 {
		return
	}
	v, ok := node.Node().Labels[key]
	if !ok {
		return
	}
	m := s.topo[key]
	if m == nil {
		m = map[string]int64{}
		s.topo[key] = m
	}
	m[v] += w
}

// PreScore implements framework.PreScorePlugin (scoring.go PreScore,
// processExistingPod).
func (pl *InterPodAffinity) PreScore(state *framework.CycleState, pod *framework.PodInfo, filtered []*framework.NodeInfo) *framework.Status {
	if len(filtered) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	p := pod.Pod
	aff, anti := affinities(p)
	prefAff, prefAnti := preferred(aff), preferred(anti)
	s := &preScoreState{topo: map[string]map[string]int64{}}
	// The incoming pod's preferred terms, over the pods they match.
	for _, wt := range prefAff {
		pl.forEachTermPod(&wt.Term, p.Namespace, func(_ *framework.PodInfo, ni *framework.NodeInfo) {
			s.add(wt.Term.TopologyKey, ni, int64(wt.Weight))
		})
	}
	for _, wt := range prefAnti {
		pl.forEachTermPod(&wt.Term, p.Namespace, func(_ *framework.PodInfo, ni *framework.NodeInfo) {
			s.add(wt.Term.TopologyKey, ni, -int64(wt.Weight))
		})
	}
	// Existing pods' terms matching the incoming pod.
	anyAffinityPod := false
	framework.ForEachPodWithAffinity(pl.h, func(ep *framework.PodInfo, ni *framework.NodeInfo) {
		anyAffinityPod = true
		eaff, eanti := affinities(ep.Pod)
		ns := ep.Pod.Namespace
		if pl.hardWeight > 0 {
			for _, t := range required(eaff) {
				if termMatches(&t, ns, p) {
					s.add(t.TopologyKey, ni, pl.hardWeight)
				}
			}
		}
		for _, wt := range preferred(eaff) {
			if termMatches(&wt.Term, ns, p) {
				s.add(wt.Term.TopologyKey, ni, int64(wt.Weight))
			}
		}
		for _, wt := range preferred(eanti) {
			if termMatches(&wt.Term, ns, p) {
				s.add(wt.Term.TopologyKey, ni, -int64(wt.Weight))
			}
		}
	})
	if len(prefAff) == 0 && len(prefAnti) == 0 && !anyAffinityPod {
		return framework.NewStatus(framework.Skip)
	}
	state.Write(preScoreStateKey, s)
	return nil
}

// Score implements framework.ScorePlugin: the sum of the points of the node's
// topology values.
func (pl *InterPodAffinity) Score(state *framework.CycleState, _ *framework.PodInfo, node *framework.NodeInfo) (int64, *framework.Status) {
	d, err := state.Read(preScoreStateKey)
	if err != nil {
		return 0, framework.AsStatus(fmt.Errorf("%s: reading PreScore state: %w", Name, err))
	}
	n := node.Node()
	if n == nil {
		return 0, nil
	}
	var score int64
	for key, m := range d.(*preScoreState).topo { // a sum: order-independent
		if v, ok := n.Labels[key]; ok {
			score += m[v]
		}
	}
	return score, nil
}

// ScoreExtensions implements framework.ScorePlugin.
func (pl *InterPodAffinity) ScoreExtensions() framework.ScoreExtensions { return pl }

// NormalizeScore implements framework.ScoreExtensions: int(100·(s−min)/(max−min)),
// all 0 when max = min.
func (pl *InterPodAffinity) NormalizeScore(_ *framework.CycleState, _ *framework.PodInfo, scores []framework.NodeScore) *framework.Status {
	if len(scores) == 0 {
		return nil
	}
	var minS int64 = math.MaxInt64
	var maxS int64 = math.MinInt64
	for _, sc := range scores {
		minS = min(minS, sc.Score)
		maxS = max(maxS, sc.Score)
	}
	diff := maxS - minS
	for i := range scores {
		f := 0.0
		if diff > 0 {
			f = float64(framework.MaxNodeScore) * (float64(scores[i].Score-minS) / float64(diff))
		}
		scores[i].Score = int64(f)
	}
	return nil
}

// EventsToRegister implements framework.EnqueueExtensions.
func (*InterPodAffinity) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.AssignedPodResource, ActionType: framework.Add | framework.Delete},
		{Resource: framework.NodeResource, ActionType: framework.Add | framework.UpdateNodeLabel},
	}
}
