package scheduler

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// preemption is the scheduler's side of PostFilter (reference §2.1, §2.7): the
// nominator (upstream backend/queue nominator) and the preemption stream.
//
// Simplification: the nominator records the nominations this scheduler made; a pod
// nominated by someone else is known only through its own status when it is
// scheduled (the fast path). Entries are validated lazily: a nomination counts while
// the pod waits in the queue (not once it is assumed, bound or gone).
type preemption struct {
	byNode map[api.NodeName][]*framework.PodInfo
	byPod  map[api.UID]api.NodeName
	rand   *rand.Rand
	// failed is the reused PostFilter input buffer.
	failed []framework.NodeStatus
}

// postFilterOutcome is a cycle's PostFilter result, applied when the cycle ends.
type postFilterOutcome struct {
	res *framework.PostFilterResult
}

// PreemptionRand implements framework.PreemptionHandle.
func (s *Scheduler) PreemptionRand() *rand.Rand {
	if s.pre.rand == nil {
		s.pre.rand = s.eng.Stream("scheduler/preemption")
	}
	return s.pre.rand
}

// nominationValid reports whether a recorded nomination still counts.
func (s *Scheduler) nominationValid(uid api.UID) bool {
	st := s.queue.stateOf(uid)
	return st != 0 && st != qBinding
}

// NominatedPodsForNode implements framework.PreemptionHandle. Stale entries are
// dropped on the way.
func (s *Scheduler) NominatedPodsForNode(node api.NodeName) []*framework.PodInfo {
	list := s.pre.byNode[node]
	if len(list) == 0 {
		return nil
	}
	keep := list[:0]
	for _, pi := range list {
		if s.nominationValid(pi.Pod.UID) && s.pre.byPod[pi.Pod.UID] == node {
			keep = append(keep, pi)
		} else if s.pre.byPod[pi.Pod.UID] == node {
			delete(s.pre.byPod, pi.Pod.UID)
		}
	}
	clear(list[len(keep):])
	if len(keep) == 0 {
		delete(s.pre.byNode, node)
		return nil
	}
	s.pre.byNode[node] = keep
	return keep
}

// NominatedNodeName implements framework.PreemptionHandle.
func (s *Scheduler) NominatedNodeName(pod *framework.PodInfo) api.NodeName {
	if n, ok := s.pre.byPod[pod.Pod.UID]; ok {
		return n
	}
	return pod.Pod.Status.NominatedNodeName
}

// nominate records (node != "") or clears the pod's nomination.
func (s *Scheduler) nominate(pi *framework.PodInfo, node api.NodeName) {
	uid := pi.Pod.UID
	if old, ok := s.pre.byPod[uid]; ok {
		list := s.pre.byNode[old]
		for i, q := range list {
			if q.Pod.UID == uid {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(s.pre.byNode, old)
		} else {
			s.pre.byNode[old] = list
		}
		delete(s.pre.byPod, uid)
	}
	if node == "" {
		return
	}
	if s.pre.byNode == nil {
		s.pre.byNode = map[api.NodeName][]*framework.PodInfo{}
		s.pre.byPod = map[api.UID]api.NodeName{}
	}
	s.pre.byNode[node] = append(s.pre.byNode[node], pi)
	s.pre.byPod[uid] = node
}

// RunFilterPluginsWithNominatedPods implements framework.PreemptionHandle, with the
// PreFilter skip set of the cycle in progress.
func (s *Scheduler) RunFilterPluginsWithNominatedPods(state *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	st, _ := s.runFiltersWithNominated(state, pod, ni, s.cur.res.skipFilter)
	return st
}

// runFiltersWithNominated is upstream's RunFilterPluginsWithNominatedPods: when pods
// of equal or higher priority are nominated to the node, the filters run first with
// them added (on a clone of the node) and, if that passes, again without them; the
// pod must pass both. Without nominations it is runFilters (no allocation).
// Simplification: the nominated pods are not added to other plug-ins' PreFilter
// state (upstream's AddPod PreFilterExtensions).
func (s *Scheduler) runFiltersWithNominated(state *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo, skip uint64) (*framework.Status, uint64) {
	if len(s.pre.byPod) == 0 {
		return s.runFilters(state, pod, ni, skip)
	}
	var clone *framework.NodeInfo
	prio := pod.Pod.Spec.Priority
	for _, np := range s.NominatedPodsForNode(ni.Name) {
		if np.Pod.UID == pod.Pod.UID || np.Pod.Spec.Priority < prio {
			continue
		}
		if clone == nil {
			clone = framework.CloneNodeInfo(ni)
		}
		clone.AddPod(np)
	}
	if clone == nil {
		return s.runFilters(state, pod, ni, skip)
	}
	if st, bit := s.runFilters(state, pod, clone, skip); !st.IsSuccess() {
		return st, bit
	}
	return s.runFilters(state, pod, ni, skip)
}

// evaluateNominatedNode is the nominated-node fast path (schedule_one.go
// evaluateNominatedNode): a pod nominated by an earlier preemption tries that node
// first; if it passes every filter it is the only feasible node (no scoring). It
// returns nil to fall back to the full search. Simplification: nextStartNodeIndex
// is left unchanged.
func (s *Scheduler) evaluateNominatedNode(state *framework.CycleState, pod *framework.PodInfo, r *cycleResult, d *Decision) []*framework.NodeInfo {
	name := s.NominatedNodeName(pod)
	if name == "" {
		return nil
	}
	ni := s.NodeInfo(name)
	if ni == nil {
		return nil
	}
	if st, _ := s.runFiltersWithNominated(state, pod, ni, r.skipFilter); st != nil {
		return nil
	}
	feasible := append(s.feasible[:0], ni)
	s.feasible = feasible
	r.examined, r.feasible, r.toFind = 1, 1, 1
	r.nominatedFastPath = true
	if d != nil {
		d.Filter = append(d.Filter, NodeVerdict{Node: ni.Name})
	}
	return feasible
}

// runPostFilter runs the PostFilter plug-ins after a cycle found no feasible node
// (framework.go RunPostFilterPlugins): in order until one succeeds. A failed
// plug-in's message is appended to the pod's message (FitError.PostFilterMsg). The
// outcome is applied when the cycle ends (applyPostFilter).
func (s *Scheduler) runPostFilter(state *framework.CycleState, pod *framework.PodInfo, r *cycleResult) {
	if len(s.rt.postFilter) == 0 || !r.rejected || r.err != nil || r.numAll == 0 {
		return // "no nodes available" is not a FitError: no PostFilter (schedule_one.go)
	}
	failed := s.pre.failed[:0]
	if r.examined > 0 { // s.failures belongs to this cycle only when nodes were filtered
		for _, f := range s.failures {
			failed = append(failed, framework.NodeStatus{Node: f.node, Status: f.st})
		}
	}
	s.pre.failed = failed
	var msgs []string
	for _, e := range s.rt.postFilter {
		res, st := e.pl.PostFilter(state, pod, failed)
		if st.IsSuccess() {
			r.post.res = res
			msgs = nil
			break
		}
		if res != nil && res.Nominate {
			r.post.res = res
		}
		if m := st.Message(); m != "" {
			msgs = append(msgs, m)
		}
		if st.Code() == framework.UnschedulableAndUnresolvable || st.Code() == framework.Error {
			break
		}
	}
	clear(failed)
	if len(msgs) > 0 {
		r.message += " " + strings.Join(msgs, " ")
	}
}

// applyPostFilter applies the PostFilter outcome of the ending cycle: it records the
// nomination, forgets lower-priority pods nominated to the same node (upstream
// prepareCandidate clears their nominatedNodeName), and emits the telemetry. It
// returns the nomination to write into the pod's status (set=false keeps it).
func (s *Scheduler) applyPostFilter(c *cycle) (node api.NodeName, set bool) {
	res := c.res.post.res
	c.res.post.res = nil
	if res == nil || !res.Nominate {
		return "", false
	}
	pod := c.pod
	node = res.NominatedNodeName
	s.nominate(pod, node)
	if node != "" {
		prio := pod.Pod.Spec.Priority
		var lower []*framework.PodInfo
		for _, np := range s.NominatedPodsForNode(node) {
			if np.Pod.UID != pod.Pod.UID && np.Pod.Spec.Priority < prio {
				lower = append(lower, np)
			}
		}
		for _, np := range lower {
			s.nominate(np, "")
			s.clearNominatedNodeName(np.Pod)
		}
	}
	if len(res.Victims) > 0 {
		now := s.eng.Now()
		s.stats.Preemptions++
		s.stats.PreemptionVictims += uint64(len(res.Victims))
		s.tel.Observe("preemption_victims", now, float64(len(res.Victims)))
		if s.tracing {
			s.trace(storyStep, "preempt", api.Ref(pod.Pod), fmt.Sprintf("preempted %d pod%s of priority %s on %s for pod %s (priority %d): %s deleted gracefully; the pod is nominated to %s and requeued",
				len(res.Victims), plural(len(res.Victims)), victimPriorities(res.Victims), node, api.Ref(pod.Pod), pod.Pod.Spec.Priority, victimNames(res.Victims), node))
		}
	}
	return node, true
}

// clearNominatedNodeName writes status.nominatedNodeName = "" for a pod whose
// nomination was taken by a higher-priority preemptor.
func (s *Scheduler) clearNominatedNodeName(p *api.Pod) {
	cur := p
	if s.podInf != nil {
		if o, ok := s.podInf.Get(p.Namespace, p.Name); ok && o.(*api.Pod).UID == p.UID {
			cur = o.(*api.Pod)
		}
	}
	if cur.Status.NominatedNodeName == "" {
		return
	}
	np := cur.DeepCopy()
	np.Status.NominatedNodeName = ""
	np.ResourceVersion = 0
	s.client.UpdateStatus(np, nil)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// victimPriorities lists the victims' distinct priorities, ascending ("0", "0, 100").
func victimPriorities(victims []*api.Pod) string {
	seen := map[int32]bool{}
	var ps []int
	for _, v := range victims {
		if !seen[v.Spec.Priority] {
			seen[v.Spec.Priority] = true
			ps = append(ps, int(v.Spec.Priority))
		}
	}
	sort.Ints(ps)
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = fmt.Sprint(p)
	}
	return strings.Join(out, ", ")
}

func victimNames(victims []*api.Pod) string {
	out := make([]string, len(victims))
	for i, v := range victims {
		out[i] = v.Name
	}
	return strings.Join(out, ", ")
}

var _ framework.PreemptionHandle = (*Scheduler)(nil)
