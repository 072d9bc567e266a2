package scheduler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// Sampling constants (reference §2.3; schedule_one.go).
const (
	minFeasibleNodesToFind           = 100
	minFeasibleNodesPercentageToFind = 5
)

// errNoNodesAvailable is upstream's ErrNoNodesAvailable message.
const errNoNodesAvailable = "no nodes available to schedule pods"

// numFeasibleNodesToFind returns how many feasible nodes a cycle looks for among
// numAllNodes (reference §2.3; schedule_one.go numFeasibleNodesToFind): all of them
// below 100 nodes; else percentage% of them (adaptive when 0: 50 − n/125, at least
// 5), but never fewer than 100.
func numFeasibleNodesToFind(percentage int32, numAllNodes int) int {
	n := int32(numAllNodes)
	if n < minFeasibleNodesToFind {
		return numAllNodes
	}
	if percentage == 0 {
		percentage = 50 - n/125
		if percentage < minFeasibleNodesPercentageToFind {
			percentage = minFeasibleNodesPercentageToFind
		}
	}
	num := n * percentage / 100
	if num < minFeasibleNodesToFind {
		return minFeasibleNodesToFind
	}
	return int(num)
}

// prefetchAhead is how many places ahead of the node being filtered the filter
// loop prefetches the next nodes' NodeInfos (findNodesThatFit).
const prefetchAhead = 4

// nodeFailure is one node rejected by a filter.
type nodeFailure struct {
	node *framework.NodeInfo
	st   *framework.Status
	bit  uint64
}

// cycleResult is the outcome of the algorithm part of a scheduling cycle.
type cycleResult struct {
	selected api.NodeName
	total    int64 // winner's total score
	ties     int   // nodes sharing the top total
	scored   int   // nodes scored (0 when a single feasible node skipped scoring)

	numAll, examined, feasible, toFind, startIndex int

	// Failure: rejected reports an Unschedulable outcome (with message); err an
	// Error. rejectors are the plug-ins that rejected the pod.
	rejected  bool
	err       error
	message   string
	rejectors uint64
	// winnerScores are the winner's normalized per-plug-in scores (for the trace).
	winnerScores []int64
	scoreSkipped uint64
	// Preemption (preemption.go): the PreFilter skip set, whether the nominated
	// node passed at once, and the PostFilter outcome.
	skipFilter        uint64
	nominatedFastPath bool
	post              postFilterOutcome
}

// findNodesThatFit runs PreFilter and Filter (schedule_one.go findNodesThatFitPod,
// findNodesThatPassFilters) over the nodes in sampling order, from
// nextStartNodeIndex, stopping once numFeasibleNodesToFind nodes passed. It returns
// the feasible nodes (a reused buffer) and fills r; on failure r.rejected or r.err is
// set.
func (s *Scheduler) findNodesThatFit(state *framework.CycleState, pod *framework.PodInfo, r *cycleResult, d *Decision) []*framework.NodeInfo {
	nodes := s.cache.nodeList()
	r.numAll = len(nodes)
	if len(nodes) == 0 {
		r.rejected = true
		r.message = errNoNodesAvailable
		return nil
	}
	rt := s.rt
	var skipFilter uint64
	var preRes *framework.PreFilterResult
	var preResBits uint64
	for _, e := range rt.preFilter {
		res, st := e.pl.PreFilter(state, pod, nodes)
		switch {
		case st.IsSkip():
			skipFilter |= e.bit
			continue
		case st.IsRejected():
			// The PreFilter rejection applies to every node (FitError with PreFilterMsg).
			r.rejected = true
			r.rejectors |= e.bit
			r.message = fmt.Sprintf("0/%d nodes are available: %s.", len(nodes), st.Message())
			return nil
		case !st.IsSuccess():
			r.err = fmt.Errorf("running PreFilter plug-in %q: %v", e.pl.Name(), st.AsError())
			return nil
		}
		if !res.AllNodes() {
			preRes = preRes.Merge(res)
			preResBits |= e.bit
		}
	}
	if d != nil {
		d.SkippedFilters = rt.pluginNames(skipFilter)
	}
	r.skipFilter = skipFilter
	if fp := s.evaluateNominatedNode(state, pod, r, d); fp != nil {
		return fp
	}
	candidates := nodes
	if !preRes.AllNodes() {
		candidates = s.candidates[:0]
		for _, ni := range nodes { // keep the sampling order, not the set's order
			if _, ok := preRes.NodeNames[ni.Name]; ok {
				candidates = append(candidates, ni)
			}
		}
		s.candidates = candidates
	}
	feasible := s.feasible[:0]
	failures := s.failures[:0]
	toFind := 0
	examined := 0
	if len(candidates) > 0 {
		toFind = numFeasibleNodesToFind(rt.percentage, len(candidates))
		if len(rt.score) == 0 {
			toFind = 1
		}
		start := s.nextStartNodeIndex % len(candidates)
		r.startIndex = start
		for i := 0; i < len(candidates) && len(feasible) < toFind; i++ {
			ni := candidates[(start+i)%len(candidates)]
			// Start loading the node prefetchAhead places on while this one is
			// filtered (NodeInfo.Prefetch).
			if i+prefetchAhead < len(candidates) {
				candidates[(start+i+prefetchAhead)%len(candidates)].Prefetch()
			}
			if i+prefetchAhead/2 < len(candidates) {
				candidates[(start+i+prefetchAhead/2)%len(candidates)].PrefetchTaints()
			}
			examined++
			st, bit := s.runFiltersWithNominated(state, pod, ni, skipFilter)
			if st == nil {
				feasible = append(feasible, ni)
				if d != nil {
					d.Filter = append(d.Filter, NodeVerdict{Node: ni.Name})
				}
				continue
			}
			if !st.IsRejected() {
				r.err = fmt.Errorf("running Filter plug-in %q on node %q: %v", rt.names[bitIndex(bit)], ni.Name, st.AsError())
				s.feasible, s.failures = feasible[:0], failures[:0]
				return nil
			}
			failures = append(failures, nodeFailure{node: ni, st: st, bit: bit})
			r.rejectors |= bit
			if d != nil {
				d.Filter = append(d.Filter, NodeVerdict{Node: ni.Name, Plugin: rt.names[bitIndex(bit)], Code: st.Code(), Reasons: st.Reasons()})
			}
		}
		// schedule_one.go: nextStartNodeIndex = (next + processed) mod len(nodes).
		s.nextStartNodeIndex = (s.nextStartNodeIndex + examined) % len(candidates)
	}
	r.examined, r.feasible, r.toFind = examined, len(feasible), toFind
	s.feasible, s.failures = feasible, failures
	if len(feasible) == 0 {
		r.rejected = true
		absent := 0
		if !preRes.AllNodes() {
			absent = len(nodes) - len(failures)
			r.rejectors |= preResBits
		}
		r.message = fitErrorMessage(len(nodes), failures, absent, rt.pluginNames(preResBits))
	}
	return feasible
}

// runFilters runs the filters on one node and returns the first rejection and the
// bit of the plug-in that made it (framework.go RunFilterPlugins).
func (s *Scheduler) runFilters(state *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo, skip uint64) (*framework.Status, uint64) {
	for _, e := range s.rt.filter {
		if skip&e.bit != 0 {
			continue
		}
		if st := e.pl.Filter(state, pod, ni); !st.IsSuccess() {
			return st, e.bit
		}
	}
	return nil, 0
}

func bitIndex(bit uint64) int {
	for i := 0; i < 64; i++ {
		if bit == uint64(1)<<uint(i) {
			return i
		}
	}
	return 0
}

// fitErrorMessage formats upstream's FitError: "0/N nodes are available: " and the
// histogram "<count> <reason>" of the rejection reasons, sorted as strings
// (pkg/scheduler/framework/types.go FitError.Error). absent nodes (excluded by a
// PreFilterResult) count as "node(s) didn't satisfy plugin(s) [...]".
func fitErrorMessage(numAll int, failures []nodeFailure, absent int, absentPlugins []string) string {
	counts := map[string]int{}
	for _, f := range failures {
		for _, reason := range f.st.Reasons() {
			counts[reason]++
		}
	}
	if absent > 0 {
		counts[fmt.Sprintf("node(s) didn't satisfy plugin(s) [%s]", strings.Join(absentPlugins, " "))] += absent
	}
	hist := make([]string, 0, len(counts))
	for reason, n := range counts {
		hist = append(hist, fmt.Sprintf("%d %s", n, reason))
	}
	sort.Strings(hist)
	msg := fmt.Sprintf("0/%d nodes are available", numAll)
	if len(hist) > 0 {
		msg += ": " + strings.Join(hist, ", ")
	}
	return msg + "."
}

// prioritizeNodes runs PreScore, Score, NormalizeScore and weighting over the
// feasible nodes, then selects the host (schedule_one.go prioritizeNodes,
// selectHost). Ties on the top total are broken uniformly by reservoir sampling on
// the "scheduler/tiebreak" stream (reference §2.5).
func (s *Scheduler) prioritizeNodes(state *framework.CycleState, pod *framework.PodInfo, feasible []*framework.NodeInfo, r *cycleResult, d *Decision) {
	rt := s.rt
	var skip uint64
	for _, e := range rt.preScore {
		st := e.pl.PreScore(state, pod, feasible)
		if st.IsSkip() {
			skip |= e.bit
			continue
		}
		if !st.IsSuccess() {
			r.err = fmt.Errorf("running PreScore plug-in %q: %v", e.pl.Name(), st.AsError())
			return
		}
	}
	r.scoreSkipped = skip
	n := len(feasible)
	if cap(s.totals) < n {
		s.totals = make([]int64, n)
	}
	totals := s.totals[:n]
	clear(totals)
	for len(s.scoreBufs) < len(rt.score) {
		s.scoreBufs = append(s.scoreBufs, nil)
	}
	if d != nil {
		for _, e := range rt.score {
			d.ScorePlugins = append(d.ScorePlugins, ScorePluginInfo{Name: e.pl.Name(), Weight: e.weight, Skipped: skip&e.bit != 0})
		}
		d.Scores = make([]NodeScores, n)
		for i, ni := range feasible {
			d.Scores[i] = NodeScores{Node: ni.Name, Plugin: make([]int64, len(rt.score)), Raw: make([]int64, len(rt.score))}
		}
	}
	for pi, e := range rt.score {
		if skip&e.bit != 0 {
			continue
		}
		if cap(s.scoreBufs[pi]) < n {
			s.scoreBufs[pi] = make([]framework.NodeScore, n)
		}
		scores := s.scoreBufs[pi][:n]
		for i, ni := range feasible {
			sc, st := e.pl.Score(state, pod, ni)
			if !st.IsSuccess() {
				r.err = fmt.Errorf("running Score plug-in %q on node %q: %v", e.pl.Name(), ni.Name, st.AsError())
				return
			}
			scores[i] = framework.NodeScore{Name: ni.Name, Score: sc}
			if d != nil {
				d.Scores[i].Raw[pi] = sc
			}
		}
		if e.ext != nil {
			if st := e.ext.NormalizeScore(state, pod, scores); !st.IsSuccess() {
				r.err = fmt.Errorf("running NormalizeScore of plug-in %q: %v", e.pl.Name(), st.AsError())
				return
			}
		}
		for i := range scores {
			sc := scores[i].Score
			if sc < framework.MinNodeScore || sc > framework.MaxNodeScore {
				r.err = fmt.Errorf("plug-in %q returned an invalid score %d for node %q: it must be in [%d, %d] after normalizing",
					e.pl.Name(), sc, scores[i].Name, framework.MinNodeScore, framework.MaxNodeScore)
				return
			}
			totals[i] += sc * e.weight
			if d != nil {
				d.Scores[i].Plugin[pi] = sc
			}
		}
	}
	// selectHost: reservoir sampling among the nodes sharing the top total.
	best, ties := 0, 1
	for i := 1; i < n; i++ {
		switch {
		case totals[i] > totals[best]:
			best, ties = i, 1
		case totals[i] == totals[best]:
			ties++
			if s.tiebreak.IntN(ties) == 0 {
				best = i
			}
		}
	}
	r.selected, r.total, r.ties, r.scored = feasible[best].Name, totals[best], ties, n
	if s.tracing {
		r.winnerScores = r.winnerScores[:0]
		for pi, e := range rt.score {
			if skip&e.bit != 0 {
				r.winnerScores = append(r.winnerScores, -1)
				continue
			}
			r.winnerScores = append(r.winnerScores, s.scoreBufs[pi][best].Score)
		}
	}
	if d != nil {
		for i := range totals {
			d.Scores[i].Total = totals[i]
		}
	}
}

// schedulePod runs the algorithm part of a cycle on the cache as it is now
// (schedule_one.go schedulePod).
func (s *Scheduler) schedulePod(pod *framework.PodInfo, r *cycleResult, d *Decision) {
	state := framework.NewCycleState()
	s.state = state
	feasible := s.findNodesThatFit(state, pod, r, d)
	if r.rejected || r.err != nil {
		s.runPostFilter(state, pod, r) // preemption.go
		return
	}
	if len(feasible) == 1 {
		// Exactly one feasible node: no scoring.
		r.selected, r.ties = feasible[0].Name, 1
		return
	}
	s.prioritizeNodes(state, pod, feasible, r, d)
}
