//go:build kubescheduler

package kubescheduler

import (
	mrand "math/rand/v2"
	"sort"

	v1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
)

// Sampling constants (pkg/scheduler/schedule_one.go).
const (
	minFeasibleNodesToFind           = 100
	minFeasibleNodesPercentageToFind = 5
)

// numFeasibleNodesToFind is schedule_one.go numFeasibleNodesToFind.
func numFeasibleNodesToFind(percentage *int32, numAllNodes int32) int32 {
	if numAllNodes < minFeasibleNodesToFind {
		return numAllNodes
	}
	var p int32
	if percentage != nil {
		p = *percentage
	}
	if p == 0 {
		p = 50 - numAllNodes/125
		if p < minFeasibleNodesPercentageToFind {
			p = minFeasibleNodesPercentageToFind
		}
	}
	n := numAllNodes * p / 100
	if n < minFeasibleNodesToFind {
		return minFeasibleNodesToFind
	}
	return n
}

// nodeScore is one scored node: per score plug-in (upstream profile order) the
// raw score and the normalized score before weighting; present[i] is false when
// PreScore skipped plug-in i.
type nodeScore struct {
	name    string
	raw     []int64
	norm    []int64
	present []bool
	total   int64
}

// cycleOut is one upstream scheduling cycle's outcome.
type cycleOut struct {
	numAll   int
	examined int
	feasible []fwk.NodeInfo
	// failed are the examined nodes the filters rejected, in examination order.
	failed []nodeStatus
	// scores are set when more than one node was feasible (upstream scores only then).
	scores   []nodeScore
	selected string
	ties     int
	// fitErr is set when no node fits (message: upstream's FitError); err on errors.
	fitErr   *framework.FitError
	err      error
	fastPath bool
	state    fwk.CycleState
	pod      *v1.Pod
}

type nodeStatus struct {
	name   string
	status *fwk.Status
}

// runCycle runs one scheduling cycle of pod on the current cluster state, as
// schedule_one.go schedulePod does, sequentially: UpdateSnapshot, PreFilter, the
// nominated-node fast path, Filter over the nodes in snapshot order from
// nextStart with kube-scheduler's sampling (all nodes when scoreAll), PreScore and
// Score when more than one node fits, and the highest total wins; ties are broken
// uniformly with rnd (reservoir sampling in feasible order). nextStart is updated.
func (u *upstream) runCycle(pod *v1.Pod, nextStart *int, scoreAll bool, rnd *mrand.Rand) *cycleOut {
	out := &cycleOut{}
	if err := u.cache.UpdateSnapshot(u.logger, u.snap); err != nil {
		out.err = err
		return out
	}
	all, err := u.snap.NodeInfos().List()
	if err != nil {
		out.err = err
		return out
	}
	out.numAll = len(all)
	state := framework.NewCycleState()
	out.state = state
	diag := framework.Diagnosis{NodeToStatus: framework.NewDefaultNodeToStatus()}
	fitErr := func() {
		out.fitErr = &framework.FitError{Pod: pod, NumAllNodes: len(all), Diagnosis: diag}
	}
	if len(all) == 0 {
		out.err = errNoNodes
		return out
	}
	preRes, st, unsched := u.fw.RunPreFilterPlugins(u.ctx, state, pod)
	diag.UnschedulablePlugins = unsched
	if !st.IsSuccess() {
		if !st.IsRejected() {
			out.err = st.AsError()
			return out
		}
		diag.NodeToStatus.SetAbsentNodesStatus(st)
		diag.PreFilterMsg = st.Message()
		diag.AddPluginStatus(st)
		fitErr()
		return out
	}
	if nnn := pod.Status.NominatedNodeName; nnn != "" && !scoreAll {
		if ni, err := u.snap.NodeInfos().Get(nnn); err == nil {
			if s := u.fw.RunFilterPluginsWithNominatedPods(u.ctx, state, pod, ni); s.IsSuccess() {
				out.feasible, out.examined, out.fastPath, out.selected, out.ties = []fwk.NodeInfo{ni}, 1, true, nnn, 1
				return out
			}
		}
	}
	nodes := all
	if !preRes.AllNodes() {
		// Upstream iterates the PreFilterResult set (map order); kubesim keeps the
		// snapshot order so the run is reproducible.
		nodes = make([]fwk.NodeInfo, 0, len(preRes.NodeNames))
		for _, ni := range all {
			if preRes.NodeNames.Has(ni.Node().Name) {
				nodes = append(nodes, ni)
			}
		}
		diag.NodeToStatus.SetAbsentNodesStatus(fwk.NewStatus(fwk.UnschedulableAndUnresolvable, "node(s) didn't satisfy plugin(s) "+setString(unsched)))
	}
	if len(nodes) > 0 {
		toFind := int(numFeasibleNodesToFind(u.percentage, int32(len(nodes))))
		if scoreAll {
			toFind = len(nodes)
		}
		if !u.fw.HasScorePlugins() {
			toFind = 1
		}
		start := *nextStart % len(nodes)
		for i := 0; i < len(nodes) && len(out.feasible) < toFind; i++ {
			ni := nodes[(start+i)%len(nodes)]
			out.examined++
			s := u.fw.RunFilterPluginsWithNominatedPods(u.ctx, state, pod, ni)
			if s.IsSuccess() && u.extra != nil {
				s = u.extra(pod, ni.Node().Name)
			}
			if s.Code() == fwk.Error {
				out.err = s.AsError()
				return out
			}
			if s.IsSuccess() {
				out.feasible = append(out.feasible, ni)
				continue
			}
			out.failed = append(out.failed, nodeStatus{ni.Node().Name, s})
			diag.NodeToStatus.Set(ni.Node().Name, s)
			diag.AddPluginStatus(s)
		}
		*nextStart = (*nextStart + out.examined) % len(all)
	}
	switch len(out.feasible) {
	case 0:
		fitErr()
		return out
	case 1:
		out.selected, out.ties = out.feasible[0].Node().Name, 1
		return out
	}
	if s := u.fw.RunPreScorePlugins(u.ctx, state, pod, out.feasible); !s.IsSuccess() {
		out.err = s.AsError()
		return out
	}
	res, s := u.fw.RunScorePlugins(u.ctx, state, pod, out.feasible)
	if !s.IsSuccess() {
		out.err = s.AsError()
		return out
	}
	out.scores = make([]nodeScore, len(res))
	idx := make(map[string]int, len(u.scoreOrder))
	for i, n := range u.scoreOrder {
		idx[n] = i
	}
	var best int64
	for i := range res {
		ns := nodeScore{name: res[i].Name, raw: make([]int64, len(u.scoreOrder)), norm: make([]int64, len(u.scoreOrder)), present: make([]bool, len(u.scoreOrder))}
		for _, ps := range res[i].RawScores {
			if j, ok := idx[ps.Name]; ok {
				ns.raw[j] = ps.Score
			}
		}
		for _, ps := range res[i].Scores {
			if j, ok := idx[ps.Name]; ok {
				ns.norm[j] = ps.Score / u.weights[ps.Name]
				ns.present[j] = true
			}
			ns.total += ps.Score
		}
		out.scores[i] = ns
		switch {
		case i == 0 || ns.total > best:
			best, out.selected, out.ties = ns.total, ns.name, 1
		case ns.total == best:
			out.ties++
			if rnd != nil && rnd.IntN(out.ties) == 0 {
				out.selected = ns.name
			}
		}
	}
	return out
}

type errString string

func (e errString) Error() string { return string(e) }

// errNoNodes is upstream's ErrNoNodesAvailable.
const errNoNodes = errString("no nodes available to schedule pods")

func setString(s interface{ UnsortedList() []string }) string {
	l := s.UnsortedList()
	sort.Strings(l)
	out := "["
	for i, x := range l {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out + "]"
}
