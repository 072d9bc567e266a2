// Package scheduler models kube-scheduler (reference §2): a scheduling queue, a cache
// of NodeInfos kept up to date from watches, and the scheduling cycle that runs the
// plug-ins of a profile (model/scheduler/framework, model/scheduler/plugins/...) one
// pod at a time, then binds asynchronously through the apiserver.
//
// Flow (step 3 of the Nginx story). The scheduler lists and watches nodes and pods
// through its apiserver client. A pending pod for its schedulerName enters activeQ.
// When the scheduler is idle it pops the head and runs a scheduling cycle on its
// cache: PreFilter, Filter over a sample of the nodes in zone-interleaved order,
// PreScore, Score, NormalizeScore, weighting and a uniform tie-break. The cycle costs
// CycleLatency + PerNodeLatency·(nodes examined) of virtual time; at its end the pod
// is assumed on the chosen node (its resources count at once), Reserve runs, and the
// binding cycle starts: a Binding POSTed through the apiserver. The next pod is
// popped while the binding is in flight. When the watch shows the pod bound, the
// assumption is confirmed; if the binding fails it is forgotten and the pod retried.
// A pod no node can take gets PodScheduled=False/Unschedulable with upstream's
// "0/N nodes are available: …" message and waits in unschedulablePods until a
// relevant cluster event, or in backoffQ.
//
// Everything runs on engine events; with nothing to schedule the scheduler schedules
// no events at all.
package scheduler

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/sim"
)

// Component is the trace component name.
const Component = "scheduler"

// storyStep is the step of the Nginx story the scheduler's work belongs to.
const storyStep = 3

// Engine event kinds of the Scheduler.
const (
	evKick int32 = iota + 1
	evCycleEnd
	evGauge
)

// Stats are cumulative counters and the current queue lengths.
type Stats struct {
	// Attempts is the number of scheduling cycles run.
	Attempts uint64
	// Scheduled counts pods whose binding succeeded.
	Scheduled uint64
	// Unschedulable counts attempts that ended with no feasible node.
	Unschedulable uint64
	// Errors counts attempts that ended in an error (plug-in errors, vanished nodes).
	Errors uint64
	// BindErrors counts bindings the apiserver rejected.
	BindErrors uint64
	// Abandoned counts attempts whose pod was deleted or bound elsewhere meanwhile.
	Abandoned uint64
	// NodesExamined is the total of nodes filtered over all cycles.
	NodesExamined uint64
	// Preemptions counts PostFilter preemptions that evicted pods; PreemptionVictims
	// the pods they evicted.
	Preemptions, PreemptionVictims uint64
	// ActiveQ, BackoffQ (including error backoff) and UnschedulablePods are the
	// current queue lengths; InFlightBinds the bindings awaiting a response.
	ActiveQ, BackoffQ, UnschedulablePods int
	InFlightBinds                        int
	// NoProfilePending is the number of pending pods whose spec.schedulerName
	// names no profile of this scheduler (they are not its pods and stay Pending);
	// NoProfileSeen counts every such pod seen.
	NoProfilePending int
	NoProfileSeen    uint64
}

// Scheduler is the modeled kube-scheduler.
type Scheduler struct {
	eng     *sim.Engine
	client  *apiserver.Client // step-3 client: binds and status updates
	watcher *apiserver.Client // the client informers use
	cfg     Config
	tel     sim.Telemetry
	tracing bool

	// rt is the profile of the scheduling cycle in progress (between cycles, the
	// last one's); profiles are every profile in configuration order, byName
	// indexes them by schedulerName (profiles.go).
	rt       *profileRuntime
	profiles []*profileRuntime
	byName   map[string]*profileRuntime
	// foreign are the pending pods whose schedulerName names no profile.
	foreign  map[api.UID]struct{}
	cache    *schedCache
	queue    *schedulingQueue
	cycleLat dist.Sampler
	tiebreak *rand.Rand

	nodeInf, podInf *apiserver.Informer
	// Informers of the default spreading selector (default_selector.go).
	svcInf, rsInf, ssInf *apiserver.Informer
	svcByNS              map[string][]*api.Service
	extraHandlers        []kindHandlers // policy.go AddEventHandlers
	started, synced      bool
	busy                 bool // a scheduling cycle is in progress
	kickPending          bool

	// PodDisruptionBudgets for preemption (pdb.go), watched only when enabled.
	pdbInf   *apiserver.Informer
	wantPDBs bool

	cur                cycle
	nextStartNodeIndex int
	pre                preemption // preemption.go: nominator, PostFilter buffers
	stats              Stats

	// Reused buffers of the cycle.
	state      *framework.CycleState
	feasible   []*framework.NodeInfo
	candidates []*framework.NodeInfo
	failures   []nodeFailure
	totals     []int64
	scoreBufs  [][]framework.NodeScore

	// pending_pods gauge, at most once per virtual second.
	gaugeLast    sim.Time
	gaugeEmitted bool
	gaugeArmed   bool
}

// cycle is the scheduling cycle in progress (one at a time).
type cycle struct {
	info     *framework.QueuedPodInfo
	pod      *framework.PodInfo
	start    sim.Time
	end      sim.Time
	state    *framework.CycleState
	res      cycleResult
	decision *Decision
}

// New builds a scheduler. client is the scheduler's apiserver connection (upstream
// QPS 50, burst 100, reference §2.8); plugins is the plug-in registry; reg the
// distribution registry; tel may be nil.
func New(eng *sim.Engine, client *apiserver.Client, cfg Config, plugins *Registry, reg *dist.Registry, tel sim.Telemetry) (*Scheduler, error) {
	if eng == nil || client == nil {
		return nil, fmt.Errorf("scheduler: engine and client are required")
	}
	if err := cfg.Validate(reg, plugins); err != nil {
		return nil, fmt.Errorf("scheduler config: %w", err)
	}
	if tel == nil {
		tel = sim.Discard
	}
	s := &Scheduler{
		eng:      eng,
		client:   client.WithStep(storyStep),
		watcher:  client,
		cfg:      cfg,
		tel:      tel,
		tracing:  tel != sim.Discard,
		cache:    newCache(),
		cycleLat: reg.MustNew(cfg.CycleLatency, eng.Source("scheduler/cycle")),
		tiebreak: eng.Stream("scheduler/tiebreak"),
	}
	profiles, err := buildProfiles(&s.cfg, plugins, s)
	if err != nil {
		return nil, fmt.Errorf("scheduler config: %w", err)
	}
	s.profiles, s.rt = profiles, profiles[0]
	s.byName = make(map[string]*profileRuntime, len(profiles))
	for _, rt := range profiles {
		s.byName[rt.name] = rt
	}
	s.queue = newSchedulingQueue(eng, &s.cfg, profiles[0])
	s.queue.profiles = profiles
	s.queue.profileOf = s.profileFor
	s.queue.onPoppable = s.kick
	s.queue.onChange = s.queueChanged
	return s, nil
}

// ---------------------------------------------------------------------------
// framework.Handle

// Nodes implements framework.Handle.
func (s *Scheduler) Nodes() []*framework.NodeInfo { return s.cache.nodeList() }

// NodeInfo implements framework.Handle.
func (s *Scheduler) NodeInfo(name api.NodeName) *framework.NodeInfo {
	if ni := s.cache.nodes[name]; ni != nil && ni.Node() != nil {
		return ni
	}
	return nil
}

// Client implements framework.Handle.
func (s *Scheduler) Client() *apiserver.Client { return s.client }

// Now implements framework.Handle.
func (s *Scheduler) Now() sim.Time { return s.eng.Now() }

var _ framework.Handle = (*Scheduler)(nil)

// ---------------------------------------------------------------------------
// Start, informers

// Start starts the node and pod informers (list + watch through the apiserver);
// scheduling begins once both have delivered their initial objects. Calling Start
// twice does nothing.
func (s *Scheduler) Start() {
	if s.started {
		return
	}
	s.started = true
	s.queue.start = s.eng.Now()
	s.nodeInf = apiserver.NewInformer(s.watcher, api.KindNode, apiserver.InformerOptions{}, apiserver.Handlers{
		OnAdd: s.onNodeAdd, OnUpdate: s.onNodeUpdate, OnDelete: s.onNodeDelete,
	})
	// Like kube-scheduler's pod informer, skip terminal pods (fieldSelector
	// status.phase!=Succeeded,status.phase!=Failed): a pod that terminates leaves
	// the cache and frees its node's resources.
	s.podInf = apiserver.NewInformer(s.watcher, api.KindPod, apiserver.InformerOptions{ListOptions: apiserver.ListOptions{
		Filter: func(o api.Object) bool { return !o.(*api.Pod).IsTerminal() },
	}}, apiserver.Handlers{OnAdd: s.onPodAdd, OnUpdate: s.onPodUpdate, OnDelete: s.onPodDelete})
	s.nodeInf.OnSynced(s.checkSynced)
	s.podInf.OnSynced(s.checkSynced)
	s.startSelectorInformers()
	s.startPDBInformer()
	s.attachExtraHandlers()
}

func (s *Scheduler) checkSynced() {
	if s.synced || !s.nodeInf.HasSynced() || !s.podInf.HasSynced() {
		return
	}
	s.synced = true
	a, b, u := s.queue.lens()
	s.trace(0, "synced", "", fmt.Sprintf("informers synced through list+watch on the apiserver: %d nodes, %d pending pods (activeQ=%d backoffQ=%d unschedulable=%d); scheduling starts",
		s.cache.numNodes, a+b+u, a, b, u))
	s.kick()
}

// responsible reports whether the pod is for this scheduler: one of its profiles
// has the pod's schedulerName (upstream responsibleForPod).
func (s *Scheduler) responsible(p *api.Pod) bool { return s.profileFor(p) != nil }

func (s *Scheduler) onNodeAdd(obj api.Object) {
	n := obj.(*api.Node)
	s.cache.addNode(n)
	s.clusterEvent(framework.ClusterEvent{Resource: framework.NodeResource, ActionType: framework.Add}, n)
}

func (s *Scheduler) onNodeUpdate(_, cur api.Object) {
	n := cur.(*api.Node)
	if act := s.cache.updateNode(n); act != 0 {
		s.clusterEvent(framework.ClusterEvent{Resource: framework.NodeResource, ActionType: act}, n)
	}
}

func (s *Scheduler) onNodeDelete(obj api.Object) {
	s.cache.removeNode(api.NodeName(obj.Meta().Name))
}

func (s *Scheduler) onPodAdd(obj api.Object) {
	p := obj.(*api.Pod)
	if p.Spec.NodeName != "" {
		s.assignedPodSeen(p)
		return
	}
	if !s.responsible(p) {
		s.noteForeign(p, p.DeletionTimestamp == nil)
		return
	}
	if p.DeletionTimestamp == nil {
		s.queue.add(framework.NewPodInfo(p))
	}
}

func (s *Scheduler) onPodUpdate(old, cur api.Object) {
	o, p := old.(*api.Pod), cur.(*api.Pod)
	if p.Spec.NodeName != "" {
		if o.Spec.NodeName == "" {
			s.queue.delete(p.UID) // bound (by this scheduler or another binder)
			s.noteForeign(p, false)
		}
		s.assignedPodSeen(p)
		return
	}
	if !s.responsible(p) {
		s.noteForeign(p, p.DeletionTimestamp == nil)
		return
	}
	if p.DeletionTimestamp != nil {
		s.queue.delete(p.UID) // being deleted: never scheduled
		return
	}
	if s.cache.isAssumed(p.UID) {
		return // binding in flight (schedule_one.go skips updates of assumed pods)
	}
	pi := framework.NewPodInfo(p)
	if s.queue.has(p.UID) {
		s.queue.update(pi)
	} else {
		s.queue.add(pi)
	}
}

func (s *Scheduler) onPodDelete(obj api.Object) {
	p := obj.(*api.Pod)
	if p.Spec.NodeName == "" {
		s.queue.delete(p.UID)
		s.noteForeign(p, false)
		return
	}
	if s.cache.removePod(p.UID) != nil {
		s.clusterEvent(framework.ClusterEvent{Resource: framework.AssignedPodResource, ActionType: framework.Delete}, p)
	}
}

// assignedPodSeen records a pod the watch shows on a node: it confirms an assumed
// pod, or accounts a pod bound by someone else.
func (s *Scheduler) assignedPodSeen(p *api.Pod) {
	if s.queue.has(p.UID) && s.queue.stateOf(p.UID) != qBinding {
		s.queue.delete(p.UID)
	}
	wasAssumed := s.cache.isAssumed(p.UID)
	pi := framework.NewPodInfo(p)
	old := s.cache.addPod(pi)
	if old == nil || wasAssumed {
		// A pod newly seen bound (upstream eventhandlers.go addPod/updatePod →
		// AssignedPodAdded): inter-pod plug-ins (topology spread, affinity) may now
		// accept waiting pods.
		s.clusterEvent(framework.ClusterEvent{Resource: framework.AssignedPodResource, ActionType: framework.Add}, p)
	}
	if old != nil && !wasAssumed && requestsDecreased(&old.Requests, &pi.Requests) {
		s.clusterEvent(framework.ClusterEvent{Resource: framework.AssignedPodResource, ActionType: framework.UpdatePodScaleDown}, p)
	}
}

// requestsDecreased reports whether any request went down (an in-place scale-down).
func requestsDecreased(old, cur *api.Resources) bool {
	if cur.MilliCPU < old.MilliCPU || cur.Memory < old.Memory || cur.EphemeralStorage < old.EphemeralStorage {
		return true
	}
	for k, v := range old.Scalar {
		if cur.Scalar[k] < v {
			return true
		}
	}
	return false
}

// clusterEvent moves the unschedulable pods the event may help, and traces it when
// pods moved.
func (s *Scheduler) clusterEvent(ev framework.ClusterEvent, obj api.Object) {
	// Pods moved to activeQ kick the scheduler through the queue's onPoppable.
	moved := s.queue.onEvent(ev)
	if moved > 0 && s.tracing {
		s.tracef(storyStep, "requeue", api.Ref(obj), "cluster event %s: %d unschedulable pod(s) whose rejecting plug-ins registered it moved to activeQ/backoffQ", ev, moved)
	}
}

// ---------------------------------------------------------------------------
// The scheduling loop

// kick makes the scheduler pop the next pod at the current instant if it is idle.
func (s *Scheduler) kick() {
	if !s.synced || s.busy || s.kickPending {
		return
	}
	s.kickPending = true
	s.eng.Schedule(s.eng.Now(), s, evKick, 0, nil)
}

// Handle implements sim.Handler.
func (s *Scheduler) Handle(ev *sim.Event) {
	switch ev.Kind {
	case evKick:
		s.kickPending = false
		s.scheduleOne()
	case evCycleEnd:
		s.finishCycle()
	case evGauge:
		s.gaugeArmed = false
		s.emitGauge()
	}
}

// scheduleOne pops one pod and starts its scheduling cycle (schedule_one.go
// ScheduleOne). With nothing to pop the scheduler sleeps until the queue kicks it.
func (s *Scheduler) scheduleOne() {
	for !s.busy { // bounded: every iteration pops a pod or returns
		info, delay := s.queue.pop()
		if info == nil {
			return
		}
		pod := info.PodInfo
		if pod.Pod.DeletionTimestamp != nil { // skipPodSchedule
			s.queue.done(pod.Pod.UID)
			continue
		}
		s.rt = s.profileOrCurrent(pod.Pod)
		now := s.eng.Now()
		s.stats.Attempts++
		s.tel.Observe("queueing_delay_seconds", now, delay.Seconds())
		ws := s.cur.res.winnerScores[:0]
		s.cur = cycle{info: info, pod: pod, start: now}
		c := &s.cur
		c.res.winnerScores = ws
		if s.cfg.OnDecision != nil {
			c.decision = &Decision{Time: now, Pod: api.Ref(pod.Pod), PodUID: pod.Pod.UID, Attempt: info.Attempts, Profile: s.rt.name}
		}
		if s.tracing {
			a, b, u := s.queue.lens()
			prof := ""
			if len(s.profiles) > 1 {
				prof = fmt.Sprintf(" (profile %s)", s.rt.name)
			}
			s.tracef(storyStep, "schedule", api.Ref(pod.Pod), "scheduling cycle%s, attempt %d: popped from the scheduling queue after %v (activeQ=%d backoffQ=%d unschedulable=%d)",
				prof, info.Attempts, delay, a, b, u)
		}
		if !s.runPolicy(c) { // policy.go: a raw policy replaces filter and score
			s.schedulePod(pod, &c.res, c.decision)
		}
		c.state = s.state
		s.stats.NodesExamined += uint64(c.res.examined)
		lat := s.cycleLat.Sample() + time.Duration(c.res.examined)*s.cfg.PerNodeLatency
		c.end = now.Add(lat)
		s.busy = true
		s.eng.Schedule(c.end, s, evCycleEnd, 0, nil)
	}
}

// finishCycle ends the scheduling cycle at its virtual end time: assume and bind, or
// handle the failure; then the next pod is popped.
func (s *Scheduler) finishCycle() {
	c := &s.cur
	s.busy = false
	now := s.eng.Now()
	s.tel.Observe("scheduling_attempt_seconds", now, now.Sub(c.start).Seconds())
	uid := c.pod.Pod.UID
	r := &c.res
	if s.queue.stateOf(uid) != qInFlight {
		// Deleted or bound by someone else while the cycle ran.
		s.stats.Abandoned++
		s.queue.done(uid)
		if s.tracing {
			s.trace(storyStep, "abandon", api.Ref(c.pod.Pod), "the pod was deleted or bound elsewhere during the scheduling cycle; result dropped")
		}
		s.deliver(c, "abandoned", "")
		s.kick()
		return
	}
	if s.tracing {
		s.traceFilter(c)
	}
	switch {
	case r.err != nil:
		s.fail(c, false, 0, r.err.Error())
	case r.rejected:
		s.fail(c, true, r.rejectors, r.message)
	default:
		s.assumeAndBind(c)
	}
	c.info, c.pod, c.state = nil, nil, nil
	s.kick()
}

func (s *Scheduler) traceFilter(c *cycle) {
	if !sim.WantsRecord(s.tel, storyStep) {
		return
	}
	// A sink that keeps the records but not their detail (the collector at
	// --trace off) gets the same records with empty details: nothing is formatted.
	detailed := sim.WantsDetail(s.tel, storyStep)
	r := &c.res
	ref := api.Ref(c.pod.Pod)
	if r.err != nil && r.examined == 0 {
		return
	}
	if r.numAll == 0 {
		s.trace(storyStep, "filter", ref, "0/0 nodes feasible: the scheduler knows no node")
		return
	}
	if r.rejected && r.examined == 0 {
		detail := ""
		if detailed {
			detail = "PreFilter rejected the pod before any node was examined: " + r.message
		}
		s.trace(storyStep, "filter", ref, detail)
		return
	}
	detail := ""
	if detailed {
		detail = fmt.Sprintf("%d/%d nodes feasible", r.feasible, r.examined)
		if r.examined < r.numAll {
			detail += fmt.Sprintf(" (sampled %d of %d nodes from index %d: stop after %d feasible, percentageOfNodesToScore rule)", r.examined, r.numAll, r.startIndex, r.toFind)
		}
		if r.rejected && r.message != "" {
			detail += "; " + r.message
		}
	}
	s.trace(storyStep, "filter", ref, detail)
	if r.rejected || r.err != nil {
		return
	}
	if r.scored == 0 {
		detail = ""
		if detailed {
			detail = fmt.Sprintf("only %s is feasible: scoring skipped", r.selected)
		}
		s.trace(storyStep, "score", ref, detail)
		return
	}
	detail = ""
	if detailed {
		var parts []string
		for i, e := range s.rt.score {
			if r.winnerScores[i] < 0 {
				parts = append(parts, e.pl.Name()+" skipped")
				continue
			}
			parts = append(parts, fmt.Sprintf("%s %d×%d", e.pl.Name(), r.winnerScores[i], e.weight))
		}
		detail = fmt.Sprintf("%s wins with total %d among %d scored nodes (%s)", r.selected, r.total, r.scored, strings.Join(parts, ", "))
		if r.ties > 1 {
			detail += fmt.Sprintf("; %d nodes tied, chosen uniformly at random", r.ties)
		}
	}
	s.trace(storyStep, "score", ref, detail)
}

// assumeAndBind runs Reserve, assumes the pod on the chosen node and starts the
// binding cycle.
func (s *Scheduler) assumeAndBind(c *cycle) {
	r := &c.res
	node := r.selected
	if s.NodeInfo(node) == nil {
		s.fail(c, false, 0, fmt.Sprintf("node %q was deleted during the scheduling cycle", node))
		return
	}
	for i, e := range s.rt.reserve {
		if st := e.pl.Reserve(c.state, c.pod, node); !st.IsSuccess() {
			for j := i; j >= 0; j-- {
				s.rt.reserve[j].pl.Unreserve(c.state, c.pod, node)
			}
			if st.IsRejected() {
				s.fail(c, true, e.bit, fmt.Sprintf("0/%d nodes are available: %s.", r.numAll, st.Message()))
			} else {
				s.fail(c, false, 0, fmt.Sprintf("running Reserve plug-in %q: %v", e.pl.Name(), st.AsError()))
			}
			return
		}
	}
	s.cache.assumePod(c.pod, node)
	s.queue.scheduled(c.pod.Pod.UID)
	s.deliver(c, "scheduled", "")
	s.preBind(c.state, c.info, node, 0) // prebind.go: PreBind plug-ins, then bind
}

// bind is the binding cycle (schedule_one.go bindingCycle): the bind plug-ins in
// order until one handles the pod.
func (s *Scheduler) bind(state *framework.CycleState, info *framework.QueuedPodInfo, node api.NodeName) {
	pod := info.PodInfo
	sent := s.eng.Now()
	s.stats.InFlightBinds++
	done := func(st *framework.Status) {
		s.stats.InFlightBinds--
		now := s.eng.Now()
		if st.IsSuccess() {
			s.stats.Scheduled++
			s.tel.Observe("scheduling_latency_seconds", now, now.Sub(pod.Pod.CreationTimestamp).Seconds())
			if s.tracing {
				s.tracef(storyStep, "bound", api.Ref(pod.Pod), "binding to %s accepted after %v (the apiserver stored spec.nodeName and PodScheduled=True in etcd); the kubelet of %s learns of the pod through its watch",
					node, now.Sub(sent), node)
			}
			s.queue.done(pod.Pod.UID)
			return
		}
		s.bindFailed(state, info, node, st)
	}
	for _, e := range s.profileOrCurrent(pod.Pod).bind {
		if s.tracing {
			s.tracef(storyStep, "bind", api.Ref(pod.Pod), "%s: POST pods/%s/binding to node %s (pod assumed in the scheduler cache; the binding cycle runs while the next pod is scheduled)",
				e.pl.Name(), pod.Pod.Name, node)
		}
		st := e.pl.Bind(state, pod, node, done)
		if st.IsSkip() {
			continue
		}
		if !st.IsSuccess() {
			done(st)
		}
		return
	}
	done(framework.AsStatus(fmt.Errorf("no bind plug-in handled the pod")))
}

// bindFailed undoes the assumption and retries the pod with error backoff
// (schedule_one.go handleBindingCycleError).
func (s *Scheduler) bindFailed(state *framework.CycleState, info *framework.QueuedPodInfo, node api.NodeName, st *framework.Status) {
	pod := info.PodInfo
	uid := pod.Pod.UID
	s.stats.BindErrors++
	s.stats.Errors++
	rt := s.profileOrCurrent(pod.Pod) // the binding cycle outlives the scheduling cycle
	for i := len(rt.reserve) - 1; i >= 0; i-- {
		rt.reserve[i].pl.Unreserve(state, pod, node)
	}
	forgot := s.cache.forgetPod(uid)
	if s.tracing {
		s.trace(storyStep, "bind-error", api.Ref(pod.Pod), fmt.Sprintf("binding to %s failed: %s", node, st.Message()))
	}
	if forgot {
		// The assumed resources are free again: like an assigned pod deleted.
		s.clusterEvent(framework.ClusterEvent{Resource: framework.AssignedPodResource, ActionType: framework.Delete}, pod.Pod)
	}
	if s.queue.stateOf(uid) != qBinding {
		return // deleted, or the watch showed it bound: nothing to retry
	}
	dest := s.queue.requeueFailed(uid, 0, nil)
	s.trace(storyStep, "requeue", api.Ref(pod.Pod), "retry after a binding error: "+dest.String())
	s.kick()
}

// fail handles a failed scheduling attempt (schedule_one.go handleSchedulingFailure):
// requeue, trace, and set PodScheduled=False on the pod when the condition changes.
// rejected distinguishes Unschedulable (reason Unschedulable) from errors (reason
// SchedulerError).
func (s *Scheduler) fail(c *cycle, rejected bool, rejectors uint64, message string) {
	pod := c.pod.Pod
	var plugins []string
	if rejectors != 0 {
		plugins = s.rt.pluginNames(rejectors)
	}
	dest := s.queue.requeueFailed(pod.UID, rejectors, plugins)
	reason := "SchedulerError"
	action := "error"
	outcome := "error"
	if rejected {
		reason = "Unschedulable"
		action = "unschedulable"
		outcome = "unschedulable"
		s.stats.Unschedulable++
	} else {
		s.stats.Errors++
	}
	s.deliver(c, outcome, message)
	if s.tracing {
		s.tracef(storyStep, action, api.Ref(pod), "%s (attempt %d; rejected by %s; requeued to %s)",
			message, c.info.Attempts, orNone(plugins), dest)
	}
	nnn, setNNN := s.applyPostFilter(c) // preemption.go
	s.setUnschedulableCondition(pod, reason, message, nnn, setNNN)
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "no plug-in"
	}
	return strings.Join(names, ", ")
}

// setUnschedulableCondition writes PodScheduled=False through the pods/status
// subresource, unless the pod already carries the same condition (upstream
// updatePod skips unchanged conditions, so repeated failures cost no write).
// When setNNN is set, status.nominatedNodeName becomes nnn in the same write
// (handleSchedulingFailure with a PostFilter nomination).
func (s *Scheduler) setUnschedulableCondition(pod *api.Pod, reason, message string, nnn api.NodeName, setNNN bool) {
	cur := pod
	if s.podInf == nil {
		return
	}
	if o, ok := s.podInf.Get(pod.Namespace, pod.Name); ok {
		if p := o.(*api.Pod); p.UID == pod.UID {
			cur = p
		}
	}
	if c := cur.Condition(api.PodScheduled); c != nil && c.Status == api.ConditionFalse && c.Reason == reason && c.Message == message &&
		(!setNNN || cur.Status.NominatedNodeName == nnn) {
		return
	}
	np := cur.DeepCopy()
	if setNNN {
		np.Status.NominatedNodeName = nnn
	}
	np.SetCondition(api.PodScheduled, api.ConditionFalse, reason, s.eng.Now())
	np.Condition(api.PodScheduled).Message = message
	np.ResourceVersion = 0 // a patch: no precondition
	s.client.UpdateStatus(np, nil)
}

// deliver hands the decision to OnDecision.
func (s *Scheduler) deliver(c *cycle, outcome, message string) {
	d := c.decision
	if d == nil {
		return
	}
	c.decision = nil
	r := &c.res
	d.End = s.eng.Now()
	d.NumAllNodes, d.Examined, d.Feasible, d.NumNodesToFind, d.StartIndex = r.numAll, r.examined, r.feasible, r.toFind, r.startIndex
	if outcome == "scheduled" {
		d.Selected, d.Ties = r.selected, r.ties
	}
	d.Outcome, d.Message = outcome, message
	s.cfg.OnDecision(*d)
}

// ---------------------------------------------------------------------------
// Telemetry

func (s *Scheduler) trace(step int, action, object, detail string) {
	if !s.tracing {
		return
	}
	s.tel.Trace(sim.Record{Time: s.eng.Now(), Step: step, Component: Component, Action: action, Object: object, Detail: detail})
}

// tracef is trace with the detail formatted only for a sink that keeps it
// (sim.Tracef).
func (s *Scheduler) tracef(step int, action, object, format string, args ...any) {
	if s.tracing {
		sim.Tracef(s.tel, sim.Record{Time: s.eng.Now(), Step: step, Component: Component, Action: action, Object: object}, format, args...)
	}
}

// queueChanged emits the pending_pods gauge at most once per virtual second: at
// once when a second has passed since the last value, else by a single trailing
// event, so the last value is always reported and an idle queue costs nothing.
func (s *Scheduler) queueChanged() {
	if s.gaugeArmed {
		return
	}
	now := s.eng.Now()
	if !s.gaugeEmitted || now.Sub(s.gaugeLast) >= time.Second {
		s.emitGauge()
		return
	}
	s.gaugeArmed = true
	s.eng.Schedule(s.gaugeLast.Add(time.Second), s, evGauge, 0, nil)
}

func (s *Scheduler) emitGauge() {
	now := s.eng.Now()
	a, b, u := s.queue.lens()
	s.gaugeLast, s.gaugeEmitted = now, true
	s.tel.Gauge("pending_pods", now, float64(a+b+u))
	s.tel.Gauge("pending_pods_active", now, float64(a))
	s.tel.Gauge("pending_pods_backoff", now, float64(b))
	s.tel.Gauge("pending_pods_unschedulable", now, float64(u))
}

// Stats returns the counters and current queue lengths.
func (s *Scheduler) Stats() Stats {
	st := s.stats
	st.ActiveQ, st.BackoffQ, st.UnschedulablePods = s.queue.lens()
	st.NoProfilePending = len(s.foreign)
	return st
}

// Config returns the configuration in use.
func (s *Scheduler) Config() Config { return s.cfg }
