// Package defaultpreemption holds DefaultPreemption, the PostFilter plug-in that makes
// room for a pod no node can take by evicting pods of lower priority (reference §2.7;
// pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go and
// pkg/scheduler/framework/preemption/preemption.go).
//
// When no node passed the filters, the plug-in:
//  1. checks that the pod may preempt (preemptionPolicy Never may not; a pod whose
//     nominated node still holds a terminating lower-priority pod waits for it);
//  2. dry-runs preemption on the nodes whose rejection was not
//     UnschedulableAndUnresolvable, from a random offset drawn from the
//     "scheduler/preemption" stream, until it holds max(10 % of them, 100) candidates
//     (capped at their number) of which at least one violates no
//     PodDisruptionBudget, or has tried every node; PDB-clean candidates are listed
//     first (reference §2.7);
//  3. per node, removes every lower-priority pod; if the pod then fits, sorts them
//     from the most to the least important (priority, then earlier start time),
//     splits them into those whose eviction would violate a PodDisruptionBudget and
//     the others (FilterPodsWithPDBViolation: each budget's disruptionsAllowed is
//     spent by the matching pods in that order), and re-adds ("reprieves") the
//     violating ones first, then the others; each pod that no longer fits becomes a
//     victim, and the violating victims are the candidate's PDB violations;
//  4. picks the candidate by upstream's order (fewest PDB violations, lowest highest
//     victim priority, smallest sum of priorities, fewest victims, latest start time
//     of the highest-priority victims, first in the list);
//  5. deletes the victims through the apiserver (gracefully) and returns the node as
//     the pod's nomination; the scheduler sets status.nominatedNodeName and requeues
//     the pod.
//
// PodDisruptionBudgets come from the Handle when it implements PDBLister (the
// scheduler does, when budgets are watched); without it there are none. Victims are
// deleted, not evicted, so a budget steers the choice of victims but never blocks
// preemption, as upstream.
//
// Simplifications (documented, not upstream): the dry run runs the filters
// on a clone of the node but does not update other plug-ins' PreFilter state for the
// removed pods (upstream's PreFilterExtensions AddPod/RemovePod), so inter-pod
// affinity and topology-spread constraints are evaluated as if the victims were
// still there; victims get no DisruptionTarget condition before deletion, and a
// "terminating pod" on the nominated node is any pod with a deletionTimestamp;
// nodes are tried sequentially, so the search stops exactly at the candidate count;
// "first in the list" is the dry-run order (upstream iterates a map there).
package defaultpreemption

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/sim"
)

// Name is the plug-in's registered name.
const Name = "DefaultPreemption"

// PreemptNever is the preemptionPolicy value that forbids preempting.
const PreemptNever = "Never"

// Args are DefaultPreemptionArgs (pkg/scheduler/apis/config/v1/defaults.go: 10 and
// 100, reference §2.4).
type Args struct {
	// MinCandidateNodesPercentage: the dry run looks for at least this percentage
	// of the potential nodes as candidates (0..100).
	MinCandidateNodesPercentage int32
	// MinCandidateNodesAbsolute: ... and at least this many (>= 0).
	MinCandidateNodesAbsolute int32
}

// DefaultArgs returns upstream's defaults.
func DefaultArgs() Args { return Args{MinCandidateNodesPercentage: 10, MinCandidateNodesAbsolute: 100} }

// Validate checks the arguments as upstream's ValidateDefaultPreemptionArgs.
func (a Args) Validate() error {
	if a.MinCandidateNodesPercentage < 0 || a.MinCandidateNodesPercentage > 100 {
		return fmt.Errorf("minCandidateNodesPercentage: must be in 0..100, got %d", a.MinCandidateNodesPercentage)
	}
	if a.MinCandidateNodesAbsolute < 0 {
		return fmt.Errorf("minCandidateNodesAbsolute: must not be negative, got %d", a.MinCandidateNodesAbsolute)
	}
	if a.MinCandidateNodesPercentage == 0 && a.MinCandidateNodesAbsolute == 0 {
		return fmt.Errorf("minCandidateNodesPercentage and minCandidateNodesAbsolute: both cannot be 0")
	}
	return nil
}

// DefaultPreemption is the preemption plug-in.
type DefaultPreemption struct {
	h    framework.Handle
	args Args
}

var _ framework.PostFilterPlugin = (*DefaultPreemption)(nil)

// New builds the plug-in; args may be nil, Args or *Args.
func New(args any, h framework.Handle) (framework.Plugin, error) {
	a := DefaultArgs()
	switch v := args.(type) {
	case nil:
	case Args:
		a = v
	case *Args:
		if v != nil {
			a = *v
		}
	default:
		return nil, fmt.Errorf("%s: unexpected arguments of type %T", Name, args)
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return &DefaultPreemption{h: h, args: a}, nil
}

// Name implements framework.Plugin.
func (*DefaultPreemption) Name() string { return Name }

// Candidate is a node where preemption would make the pod fit, with its victims
// ordered from the most to the least important.
type Candidate struct {
	Node    *framework.NodeInfo
	Victims []*framework.PodInfo
	// NumPDBViolations is the number of victims whose eviction violates a
	// PodDisruptionBudget (upstream numViolatingVictim).
	NumPDBViolations int
}

// PDBLister is optionally implemented by the Handle: the PodDisruptionBudgets
// preemption respects (upstream lists them from the shared informer factory,
// preemption.go getPodDisruptionBudgets). The slice and objects are shared.
type PDBLister interface {
	PodDisruptionBudgets() []*api.PodDisruptionBudget
}

// pdbsOf returns the handle's budgets, or nil.
func pdbsOf(h framework.Handle) []*api.PodDisruptionBudget {
	if l, ok := h.(PDBLister); ok {
		return l.PodDisruptionBudgets()
	}
	return nil
}

// PostFilter implements framework.PostFilterPlugin.
func (pl *DefaultPreemption) PostFilter(state *framework.CycleState, pod *framework.PodInfo, failed []framework.NodeStatus) (*framework.PostFilterResult, *framework.Status) {
	ph, ok := pl.h.(framework.PreemptionHandle)
	if !ok {
		return nil, framework.NewStatus(framework.Error, "preemption: the scheduler handle offers no PreemptionHandle")
	}
	if ok, msg := pl.eligible(ph, pod, failed); !ok {
		return nil, framework.NewStatus(framework.Unschedulable, "preemption: "+msg)
	}
	numAll := len(pl.h.Nodes())
	potential := make([]*framework.NodeInfo, 0, len(failed))
	for _, f := range failed {
		if f.Status.Code() != framework.UnschedulableAndUnresolvable {
			potential = append(potential, f.Node)
		}
	}
	var statuses []framework.NodeStatus
	var candidates []Candidate
	if len(potential) > 0 {
		offset := ph.PreemptionRand().IntN(len(potential))
		candidates, statuses = pl.DryRunWithPDBs(state, pod, potential, offset, ph, pdbsOf(pl.h))
	}
	if len(candidates) == 0 {
		// Clear any earlier nomination (upstream returns a result nominating "").
		return &framework.PostFilterResult{Nominate: true},
			framework.NewStatus(framework.Unschedulable, "preemption: "+fitMessage(numAll, statuses))
	}
	best := SelectCandidate(candidates)
	res := &framework.PostFilterResult{Nominate: true, NominatedNodeName: best.Node.Name}
	c := pl.h.Client()
	for _, v := range best.Victims {
		res.Victims = append(res.Victims, v.Pod)
		if c != nil {
			c.Delete(api.KindPod, v.Pod.Namespace, v.Pod.Name, apiserver.DeleteOptions{UID: v.Pod.UID}, nil)
		}
	}
	return res, nil
}

// eligible is upstream's PodEligibleToPreemptOthers.
func (pl *DefaultPreemption) eligible(ph framework.PreemptionHandle, pod *framework.PodInfo, failed []framework.NodeStatus) (bool, string) {
	if pod.Pod.Spec.PreemptionPolicy == PreemptNever {
		return false, "not eligible due to preemptionPolicy=Never."
	}
	nnn := ph.NominatedNodeName(pod)
	if nnn == "" {
		return true, ""
	}
	for _, f := range failed {
		if f.Node.Name == nnn && f.Status.Code() == framework.UnschedulableAndUnresolvable {
			return true, "" // the nominated node can no longer help: preempt again
		}
	}
	if ni := pl.h.NodeInfo(nnn); ni != nil {
		prio := pod.Pod.Spec.Priority
		for _, p := range ni.Pods {
			if p.Pod.Spec.Priority < prio && p.Pod.DeletionTimestamp != nil {
				return false, "not eligible due to a terminating pod on the nominated node."
			}
		}
	}
	return true, ""
}

// NumCandidates is upstream's calculateNumCandidates: numNodes·percentage/100, at
// least the absolute minimum, at most numNodes.
func (pl *DefaultPreemption) NumCandidates(numNodes int) int {
	n := numNodes * int(pl.args.MinCandidateNodesPercentage) / 100
	if n < int(pl.args.MinCandidateNodesAbsolute) {
		n = int(pl.args.MinCandidateNodesAbsolute)
	}
	if n > numNodes {
		n = numNodes
	}
	return n
}

// DryRun is DryRunWithPDBs without budgets.
func (pl *DefaultPreemption) DryRun(state *framework.CycleState, pod *framework.PodInfo, potential []*framework.NodeInfo, offset int, ph framework.PreemptionHandle) ([]Candidate, []framework.NodeStatus) {
	return pl.DryRunWithPDBs(state, pod, potential, offset, ph, nil)
}

// DryRunWithPDBs is upstream's DryRunPreemption, sequential: it tries the
// potential nodes from offset (wrapping) and stops once it holds NumCandidates
// candidates of which at least one violates no budget (or has tried every node).
// It returns the PDB-clean candidates in the order found, then the violating ones
// in the order found, and the status of every node tried that is not a candidate.
func (pl *DefaultPreemption) DryRunWithPDBs(state *framework.CycleState, pod *framework.PodInfo, potential []*framework.NodeInfo, offset int, ph framework.PreemptionHandle, pdbs []*api.PodDisruptionBudget) ([]Candidate, []framework.NodeStatus) {
	want := pl.NumCandidates(len(potential))
	var clean, violating []Candidate
	var statuses []framework.NodeStatus
	// want 0 (a percentage rounding to 0 with no absolute minimum) tries no node.
	for i := 0; i < len(potential) && want > 0; i++ {
		if len(clean) > 0 && len(clean)+len(violating) >= want {
			break
		}
		ni := potential[(offset+i)%len(potential)]
		victims, nv, st := SelectVictimsOnNodeWithPDBs(state, pod, ni, ph, pdbs)
		if st.IsSuccess() && len(victims) == 0 {
			st = framework.NewStatus(framework.Error, fmt.Sprintf("expected at least one victim pod on node %q", ni.Name))
		}
		if st.IsSuccess() {
			c := Candidate{Node: ni, Victims: victims, NumPDBViolations: nv}
			if nv == 0 {
				clean = append(clean, c)
			} else {
				violating = append(violating, c)
			}
			continue
		}
		statuses = append(statuses, framework.NodeStatus{Node: ni, Status: st})
	}
	return append(clean, violating...), statuses
}

// SelectVictimsOnNode is SelectVictimsOnNodeWithPDBs without budgets.
func SelectVictimsOnNode(state *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo, ph framework.PreemptionHandle) ([]*framework.PodInfo, *framework.Status) {
	v, _, st := SelectVictimsOnNodeWithPDBs(state, pod, ni, ph, nil)
	return v, st
}

// SelectVictimsOnNodeWithPDBs is upstream's SelectVictimsOnNode on a clone of ni:
// remove every lower-priority pod; if the pod fits, sort the removed pods from the
// most to the least important, reprieve first those whose eviction would violate
// a budget, then the others, each in that order; those that cannot be re-added are
// the victims (most important first). It also returns how many victims violate a
// budget. ni is not modified.
func SelectVictimsOnNodeWithPDBs(state *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo, ph framework.PreemptionHandle, pdbs []*api.PodDisruptionBudget) ([]*framework.PodInfo, int, *framework.Status) {
	prio := pod.Pod.Spec.Priority
	var potential []*framework.PodInfo
	for _, p := range ni.Pods {
		if p.Pod.Spec.Priority < prio {
			potential = append(potential, p)
		}
	}
	if len(potential) == 0 {
		return nil, 0, framework.NewStatus(framework.UnschedulableAndUnresolvable, "No preemption victims found for incoming pod")
	}
	c := framework.CloneNodeInfo(ni)
	for _, p := range potential {
		c.RemovePod(p.Pod.UID)
	}
	if st := ph.RunFilterPluginsWithNominatedPods(state, pod, c); !st.IsSuccess() {
		return nil, 0, st
	}
	// Stable, so equal pods keep the node's order (upstream sort.Slice is not).
	sort.SliceStable(potential, func(i, j int) bool { return MoreImportantPod(potential[i].Pod, potential[j].Pod) })
	violating, clean := FilterPodsWithPDBViolation(potential, pdbs)
	var victims []*framework.PodInfo
	// reprieve re-adds p; a pod that no longer fits with it is removed again and
	// becomes a victim.
	reprieve := func(p *framework.PodInfo) (bool, *framework.Status) {
		c.AddPod(p)
		if st := ph.RunFilterPluginsWithNominatedPods(state, pod, c); !st.IsSuccess() {
			if st.Code() == framework.Error {
				return false, st
			}
			c.RemovePod(p.Pod.UID)
			victims = append(victims, p)
			return false, nil
		}
		return true, nil
	}
	numViolating := 0
	for _, p := range violating {
		fits, st := reprieve(p)
		if st != nil {
			return nil, 0, st
		}
		if !fits {
			numViolating++
		}
	}
	for _, p := range clean {
		if _, st := reprieve(p); st != nil {
			return nil, 0, st
		}
	}
	if len(violating) != 0 && len(clean) != 0 {
		// Upstream re-sorts the victims by importance when both groups were tried.
		sort.SliceStable(victims, func(i, j int) bool { return MoreImportantPod(victims[i].Pod, victims[j].Pod) })
	}
	return victims, numViolating, nil
}

// FilterPodsWithPDBViolation is upstream's FilterVictimsWithPDBViolation
// (pkg/scheduler/framework/preemption/util.go) for single pods: it walks pods in
// order (most important first) with a budget per PDB starting at its
// status.disruptionsAllowed; a pod spends one unit of every budget of its
// namespace whose selector matches it (a nil or empty selector matches nothing;
// a pod without labels matches none; a pod already in the budget's
// status.disruptedPods spends nothing), and it is violating as soon as one budget
// goes below zero (later budgets are then not spent for it). Both results keep
// pods' order. pdbs' order therefore matters when budgets overlap: the scheduler
// passes them by namespace and name; upstream lists them in its informer's map
// order, which varies from run to run, so there kubesim gives one of upstream's
// possible outcomes.
func FilterPodsWithPDBViolation(pods []*framework.PodInfo, pdbs []*api.PodDisruptionBudget) (violating, clean []*framework.PodInfo) {
	if len(pdbs) == 0 {
		return nil, pods
	}
	allowed := make([]int32, len(pdbs))
	for i, b := range pdbs {
		allowed[i] = b.Status.DisruptionsAllowed
	}
	isViolating := func(p *api.Pod) bool {
		if len(p.Labels) == 0 {
			return false
		}
		for i, b := range pdbs {
			if b.Namespace != p.Namespace {
				continue
			}
			sel := b.Spec.Selector
			if sel == nil || sel.IsEmpty() || !sel.Matches(p.Labels) {
				continue
			}
			if _, ok := b.Status.DisruptedPods[p.Name]; ok {
				continue
			}
			allowed[i]--
			if allowed[i] < 0 {
				return true
			}
		}
		return false
	}
	for _, p := range pods {
		if isViolating(p.Pod) {
			violating = append(violating, p)
		} else {
			clean = append(clean, p)
		}
	}
	return violating, clean
}

// MoreImportantPod reports whether a is more important than b: higher priority, or
// equal priority and an earlier start time (pkg/scheduler/util/utils.go; a pod with
// no start time counts as starting now, i.e. last).
func MoreImportantPod(a, b *api.Pod) bool {
	if a.Spec.Priority != b.Spec.Priority {
		return a.Spec.Priority > b.Spec.Priority
	}
	ta, tb := a.Status.StartTime, b.Status.StartTime
	switch {
	case ta == nil:
		return false
	case tb == nil:
		return true
	}
	return *ta < *tb
}

// SelectCandidate is upstream's pickOneNodeForPreemption with the default score
// functions, applied in order, each keeping only the best nodes: fewest PDB
// violations, lowest highest victim priority, smallest sum of victim priorities
// (each shifted by MaxInt32+1), fewest victims, latest start time of the earliest
// started highest-priority victim; then the first remaining candidate.
func SelectCandidate(cands []Candidate) Candidate {
	if len(cands) == 1 {
		return cands[0]
	}
	idx := make([]int, len(cands))
	for i := range idx {
		idx[i] = i
	}
	scores := []func(c *Candidate) int64{
		func(c *Candidate) int64 { return -int64(c.NumPDBViolations) },
		func(c *Candidate) int64 { return -int64(c.Victims[0].Pod.Spec.Priority) },
		func(c *Candidate) int64 {
			var sum int64
			for _, v := range c.Victims {
				sum += int64(v.Pod.Spec.Priority) + int64(math.MaxInt32) + 1
			}
			return -sum
		},
		func(c *Candidate) int64 { return -int64(len(c.Victims)) },
		func(c *Candidate) int64 {
			t := earliestStartOfHighest(c.Victims)
			if t == nil {
				return math.MinInt64
			}
			return int64(*t)
		},
	}
	for _, f := range scores {
		best := int64(math.MinInt64)
		keep := idx[:0:0]
		for _, i := range idx {
			s := f(&cands[i])
			switch {
			case s > best || len(keep) == 0:
				best = s
				keep = append(keep[:0], i)
			case s == best:
				keep = append(keep, i)
			}
		}
		idx = keep
		if len(idx) == 1 {
			break
		}
	}
	return cands[idx[0]]
}

// earliestStartOfHighest is upstream's GetEarliestPodStartTime: the earliest start
// time among the victims of the highest priority (victims are ordered most important
// first). A victim without a start time counts as starting now (upstream uses
// time.Now; the model has no clock here, so it is the latest possible time).
func earliestStartOfHighest(victims []*framework.PodInfo) *sim.Time {
	if len(victims) == 0 {
		return nil
	}
	top := victims[0].Pod.Spec.Priority
	var best *sim.Time
	for _, v := range victims {
		if v.Pod.Spec.Priority != top {
			continue
		}
		t := v.Pod.Status.StartTime
		if t == nil {
			mx := sim.Time(math.MaxInt64)
			t = &mx
		}
		if best == nil || *t < *best {
			best = t
		}
	}
	return best
}

// fitMessage formats upstream's FitError for the dry run: "0/N nodes are available:"
// and the sorted histogram of the reasons of the nodes tried, the nodes not tried
// counting as "Preemption is not helpful for scheduling".
func fitMessage(numAll int, statuses []framework.NodeStatus) string {
	counts := map[string]int{}
	for _, s := range statuses {
		for _, r := range s.Status.Reasons() {
			counts[r]++
		}
	}
	if absent := numAll - len(statuses); absent > 0 {
		counts["Preemption is not helpful for scheduling"] += absent
	}
	hist := make([]string, 0, len(counts))
	for r, n := range counts {
		hist = append(hist, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(hist)
	msg := fmt.Sprintf("0/%d nodes are available", numAll)
	if len(hist) > 0 {
		msg += ": " + strings.Join(hist, ", ")
	}
	return msg + "."
}
