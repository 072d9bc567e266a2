// Package nodelifecycle models kube-controller-manager's node lifecycle controller
// (reference §3.3; pkg/controller/nodelifecycle/node_lifecycle_controller.go,
// pkg/controller/nodelifecycle/scheduler/rate_limited_queue.go,
// pkg/controller/util/node/controller_utils.go).
//
// Every NodeMonitorPeriod (5 s) it evaluates the health of every node from its
// informers: a node is alive while its Lease in kube-node-lease is renewed or its
// Ready condition's lastHeartbeatTime changes. A node silent for longer than
// NodeMonitorGracePeriod (50 s; NodeStartupGracePeriod 60 s for a node that never
// posted Ready) gets its Ready, MemoryPressure, DiskPressure and PIDPressure
// conditions set to Unknown through UpdateStatus, and its pods are marked not Ready
// (MarkPodsNotReady). On the next pass the node, now observed Ready=Unknown (or
// False), is queued for a NoExecute taint (node.kubernetes.io/unreachable, or
// not-ready), which a per-zone token bucket (0.1 nodes/s, burst 1) lets through;
// the taint eviction controller then evicts the pods. A node that turns Ready again
// loses both taints. Zones are watched for disruption: a partially disrupted zone
// (≥ 55 % NotReady and more than 2) is tainted at the secondary rate (0.01 nodes/s,
// 0 in zones of ≤ 50 nodes); when every zone is fully disrupted all tainting stops
// and the controller removes its taints (the control plane, not the nodes, is then
// the likely culprit).
//
// On every node event it also keeps the NoSchedule condition taints
// (node.kubernetes.io/not-ready, unreachable, memory-pressure, disk-pressure,
// pid-pressure, unschedulable) in line with the conditions, unthrottled, as
// upstream's doNoScheduleTaintingPass does, so the scheduler stops placing pods on
// a node that went silent.
//
// Simplifications, each a model decision:
//   - monitor passes run exactly every NodeMonitorPeriod; a node is declared
//     Unknown when now ≥ probeTimestamp + grace (upstream: now > ...), which stands
//     for the drift of real passes (wait.Until waits the period after each pass),
//     so with the defaults detection comes 50–55 s after the last heartbeat seen;
//   - API writes are asynchronous: a taint or status write is issued and its
//     outcome handled in its callback (a failed taint leaves the node queued again
//     at the next pass), where upstream retries synchronously;
//   - the zone key is the topology.kubernetes.io/zone label (prefixed with the
//     region label when there is one);
//   - pods newly bound to a node that is already not Ready are not marked not
//     Ready by this controller (upstream's processPod); NetworkUnavailable is not
//     modeled; no Events are recorded.
package nodelifecycle

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/controller/manager/informers"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

// Component is the trace component name.
const Component = "controller-manager/nodelifecycle"

// Taint keys the controller manages besides api.TaintNodeNotReady and
// api.TaintNodeUnreachable (k8s.io/api/core/v1 well_known_taints.go).
const (
	TaintNodeMemoryPressure = "node.kubernetes.io/memory-pressure"
	TaintNodeDiskPressure   = "node.kubernetes.io/disk-pressure"
	TaintNodePIDPressure    = "node.kubernetes.io/pid-pressure"
	// LabelExcludeDisruption excludes a node from the zone disruption counts.
	LabelExcludeDisruption = "node.kubernetes.io/exclude-disruption"
)

// maxUpdateAttempts bounds the conflict retries of a node update
// (controller_utils.go UpdateTaintBackoff has 5 steps).
const maxUpdateAttempts = 5

// ZoneState is a zone's disruption state.
type ZoneState string

// Zone states (node_lifecycle_controller.go).
const (
	StateInitial           ZoneState = "Initial"
	StateNormal            ZoneState = "Normal"
	StateFullDisruption    ZoneState = "FullDisruption"
	StatePartialDisruption ZoneState = "PartialDisruption"
)

// health is what the controller remembers of a node (nodeHealthData).
type health struct {
	saved           *api.NodeCondition // Ready condition of the last status taken in
	probe           sim.Time           // when a heartbeat was last seen
	readyTransition sim.Time
	hasLease        bool
	lease           sim.Time // renewTime of the last Lease taken in
}

// Controller is the node lifecycle controller.
type Controller struct {
	eng          *sim.Engine
	client       *apiserver.Client // step 0
	step7        *apiserver.Client
	cfg          Config
	tel          sim.Telemetry
	factory      *informers.Factory
	nodeInf      *apiserver.Informer
	leaseInf     *apiserver.Informer
	podInf       *apiserver.Informer
	started      bool
	running      bool
	monitorTimer sim.Timer
	tickTimer    sim.Timer
	tickAt       sim.Time

	health     map[string]*health
	known      map[string]string // node name -> zone key
	zones      map[string]*zone
	podsByNode map[string]map[string]*api.Pod
	// noSched tracks the NoSchedule-taint reconciliations in flight per node: a node
	// event during one asks for another pass when it ends.
	noSched map[string]bool
	passes  uint64
}

// New returns a controller that talks to the apiserver through client.
func New(eng *sim.Engine, client *apiserver.Client, cfg Config, reg *dist.Registry, tel sim.Telemetry) (*Controller, error) {
	if err := cfg.Validate(reg); err != nil {
		return nil, fmt.Errorf("node lifecycle controller: %w", err)
	}
	if tel == nil {
		tel = sim.Discard
	}
	return &Controller{
		eng: eng, client: client.WithStep(0), step7: client.WithStep(7), cfg: cfg, tel: tel,
		health:     map[string]*health{},
		known:      map[string]string{},
		zones:      map[string]*zone{},
		podsByNode: map[string]map[string]*api.Pod{},
		noSched:    map[string]bool{},
	}, nil
}

// UseInformers makes Start take its informers from a shared factory (call before
// Start). Without it Start creates a private factory.
func (c *Controller) UseInformers(f *informers.Factory) { c.factory = f }

// Start starts the informers (Nodes, Leases, Pods); the monitor loop starts once
// they have synced and runs every NodeMonitorPeriod.
func (c *Controller) Start() {
	if c.started {
		return
	}
	c.started = true
	if c.factory == nil {
		c.factory = informers.NewFactory(c.client)
	}
	c.nodeInf = c.factory.Informer(api.KindNode, apiserver.Handlers{
		OnAdd:    func(o api.Object) { c.onNodeEvent(o.(*api.Node)) },
		OnUpdate: func(_, o api.Object) { c.onNodeEvent(o.(*api.Node)) },
	})
	c.leaseInf = c.factory.Informer(api.KindLease, apiserver.Handlers{})
	c.podInf = c.factory.Informer(api.KindPod, apiserver.Handlers{
		OnAdd:    func(o api.Object) { c.indexPod(nil, o.(*api.Pod)) },
		OnUpdate: func(old, o api.Object) { c.indexPod(old.(*api.Pod), o.(*api.Pod)) },
		OnDelete: func(o api.Object) { c.unindexPod(o.(*api.Pod)) },
	})
	informers.WhenSynced(func() {
		c.running = true
		for _, o := range c.nodeInf.List() {
			c.onNodeEvent(o.(*api.Node))
		}
		c.monitor()
	}, c.nodeInf, c.leaseInf, c.podInf)
}

// Passes returns how many monitor passes have run.
func (c *Controller) Passes() uint64 { return c.passes }

// ZoneState returns the state of a zone ("" when the zone is unknown).
func (c *Controller) ZoneState(zoneKey string) ZoneState {
	if z := c.zones[zoneKey]; z != nil {
		return z.state
	}
	return ""
}

func (c *Controller) trace(step int, action, object, detail string) {
	c.tel.Trace(sim.Record{Time: c.eng.Now(), Step: step, Component: Component, Action: action, Object: object, Detail: detail})
}

func podKey(p *api.Pod) string { return p.Namespace + "/" + p.Name }

func (c *Controller) indexPod(old, p *api.Pod) {
	if old != nil && old.Spec.NodeName != p.Spec.NodeName {
		c.unindexPod(old)
	}
	if p.Spec.NodeName == "" {
		return
	}
	n := string(p.Spec.NodeName)
	m := c.podsByNode[n]
	if m == nil {
		m = map[string]*api.Pod{}
		c.podsByNode[n] = m
	}
	m[podKey(p)] = p
}

func (c *Controller) unindexPod(p *api.Pod) {
	n := string(p.Spec.NodeName)
	if m := c.podsByNode[n]; m != nil {
		delete(m, podKey(p))
		if len(m) == 0 {
			delete(c.podsByNode, n)
		}
	}
}

// ZoneKey returns the zone a node counts in: its topology.kubernetes.io/zone label,
// prefixed with "<region>:" when it has a region label (nodetopology.GetZoneKey).
func ZoneKey(n *api.Node) string {
	z, r := n.Labels[api.LabelZone], n.Labels[api.LabelRegion]
	if r == "" {
		return z
	}
	return r + ":" + z
}

func zoneName(k string) string {
	if k == "" {
		return `""`
	}
	return k
}

// ---------------------------------------------------------------------------
// Monitor pass (monitorNodeHealth)

func (c *Controller) monitor() {
	c.monitorTimer = c.eng.After(c.cfg.NodeMonitorPeriod, c.monitor)
	c.passes++
	now := c.eng.Now()
	objs := c.nodeInf.List()
	nodes := make([]*api.Node, len(objs))
	present := make(map[string]bool, len(objs))
	for i, o := range objs {
		nodes[i] = o.(*api.Node)
		present[nodes[i].Name] = true
	}
	// Deleted nodes are forgotten; new ones get their zone's taint queue.
	var gone []string
	for name := range c.known {
		if !present[name] {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		if z := c.zones[c.known[name]]; z != nil {
			z.remove(name)
		}
		delete(c.known, name)
		delete(c.health, name)
	}
	for _, n := range nodes {
		if _, ok := c.known[n.Name]; !ok {
			zk := ZoneKey(n)
			c.known[n.Name] = zk
			c.zoneFor(zk)
			c.markNodeAsReachable(n, "the controller observed a new Node")
		}
	}

	type counts struct{ ready, notReady int }
	zoneConds := map[string]*counts{}
	for _, n := range nodes {
		observed, current := c.tryUpdateNodeHealth(n, now)
		if _, excluded := n.Labels[LabelExcludeDisruption]; !excluded {
			zk := ZoneKey(n)
			zc := zoneConds[zk]
			if zc == nil {
				zc = &counts{}
				zoneConds[zk] = zc
			}
			if current != nil && current.Status == api.ConditionTrue {
				zc.ready++
			} else {
				zc.notReady++
			}
		}
		if current == nil {
			continue
		}
		c.processTaintBaseEviction(n, &observed)
		if current.Status != api.ConditionTrue && observed.Status == api.ConditionTrue {
			c.markPodsNotReady(n, current.Status)
		}
	}

	// handleDisruption
	keys := make([]string, 0, len(zoneConds))
	for k := range zoneConds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	newStates := map[string]ZoneState{}
	allAreFull := true
	for _, k := range keys {
		zc := zoneConds[k]
		st := c.computeZoneState(zc.ready, zc.notReady)
		if st != StateFullDisruption {
			allAreFull = false
		}
		newStates[k] = st
		c.zoneFor(k)
	}
	allWereFull := true
	for _, k := range c.zoneKeys() {
		if _, have := zoneConds[k]; !have {
			if len(c.zones[k].queue) == 0 {
				delete(c.zones, k)
			}
			continue
		}
		if c.zones[k].state != StateFullDisruption {
			allWereFull = false
			break
		}
	}
	if allAreFull && allWereFull {
		return
	}
	switch {
	case allAreFull:
		c.trace(7, "full-disruption", "", fmt.Sprintf(
			"every node of every zone is not Ready (%d nodes): the control plane, not the nodes, is the likely cause, so the controller stops tainting and removes its NoExecute taints",
			len(nodes)))
		for _, n := range nodes {
			c.markNodeAsReachable(n, "all zones are fully disrupted")
		}
		for _, k := range c.zoneKeys() {
			c.zones[k].swapLimiter(0, now)
			c.zones[k].state = StateFullDisruption
		}
	case allWereFull:
		c.trace(7, "full-disruption-end", "", "some nodes are Ready again: leaving full disruption mode; every node's heartbeat clock restarts now")
		for _, n := range nodes {
			if h := c.health[n.Name]; h != nil {
				h.probe, h.readyTransition = now, now
			}
		}
		for _, k := range c.zoneKeys() {
			if zc := zoneConds[k]; zc != nil {
				c.setLimiter(k, zc.ready+zc.notReady, newStates[k])
			}
		}
	default:
		for _, k := range c.zoneKeys() {
			ns, ok := newStates[k]
			if !ok || c.zones[k].state == ns {
				continue
			}
			zc := zoneConds[k]
			c.setLimiter(k, zc.ready+zc.notReady, ns)
		}
	}
	c.armTainter()
}

func (c *Controller) zoneKeys() []string {
	keys := make([]string, 0, len(c.zones))
	for k := range c.zones {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// computeZoneState is ComputeZoneState: no Ready node → full disruption; more than
// 2 not Ready and at least UnhealthyZoneThreshold of them → partial; else normal.
func (c *Controller) computeZoneState(ready, notReady int) ZoneState {
	switch {
	case ready == 0 && notReady > 0:
		return StateFullDisruption
	case notReady > 2 && float64(notReady)/float64(notReady+ready) >= c.cfg.UnhealthyZoneThreshold:
		return StatePartialDisruption
	}
	return StateNormal
}

// setLimiter is setLimiterInZone: normal and full disruption (of some zones only)
// use NodeEvictionRate; partial disruption the secondary rate, or 0 in zones of at
// most LargeClusterSizeThreshold nodes (ReducedQPSFunc).
func (c *Controller) setLimiter(k string, size int, st ZoneState) {
	z := c.zones[k]
	old := z.state
	z.state = st
	qps := c.cfg.NodeEvictionRate
	why := "normal rate"
	switch st {
	case StatePartialDisruption:
		if size > c.cfg.LargeClusterSizeThreshold {
			qps, why = c.cfg.SecondaryNodeEvictionRate, "secondary rate for a partially disrupted zone"
		} else {
			qps, why = 0, fmt.Sprintf("tainting stops in a partially disrupted zone of at most %d nodes", c.cfg.LargeClusterSizeThreshold)
		}
	case StateFullDisruption:
		why = "normal rate: this zone is fully disrupted but others are not"
	}
	z.swapLimiter(qps, c.eng.Now())
	if old == StateInitial && st == StateNormal {
		return // a new zone starting normally is not worth a record
	}
	c.trace(7, "zone-state", "zone/"+zoneName(k), fmt.Sprintf("zone %s is now %s (%d nodes): NoExecute tainting at %g nodes/s (%s)", zoneName(k), st, size, qps, why))
}

// tryUpdateNodeHealth follows upstream's tryUpdateNodeHealth. It returns the Ready
// condition observed in the cache and the current one (after the controller's own
// update, nil when the node has none).
func (c *Controller) tryUpdateNodeHealth(n *api.Node, now sim.Time) (api.NodeCondition, *api.NodeCondition) {
	h := c.health[n.Name]
	var observed api.NodeCondition
	var grace time.Duration
	cur := n.Condition(api.NodeReady)
	if cur == nil {
		// Never reported: a fake Unknown condition dated at the node's creation.
		observed = api.NodeCondition{Type: api.NodeReady, Status: api.ConditionUnknown, LastHeartbeatTime: n.CreationTimestamp, LastTransitionTime: n.CreationTimestamp}
		grace = c.cfg.NodeStartupGracePeriod
		if h != nil {
			h.saved = nil
		} else {
			h = &health{probe: n.CreationTimestamp, readyTransition: n.CreationTimestamp}
		}
	} else {
		observed = *cur
		grace = c.cfg.NodeMonitorGracePeriod
	}
	var saved *api.NodeCondition
	savedHasLease, savedLease := false, sim.Time(0)
	if h != nil {
		saved, savedHasLease, savedLease = h.saved, h.hasLease, h.lease
	}
	copyCond := func(x *api.NodeCondition) *api.NodeCondition {
		if x == nil {
			return nil
		}
		y := *x
		return &y
	}
	switch {
	case h == nil:
		h = &health{saved: copyCond(cur), probe: now, readyTransition: now}
	case saved == nil && cur != nil, saved != nil && cur == nil:
		h = &health{saved: copyCond(cur), probe: now, readyTransition: now}
	case saved != nil && cur != nil && saved.LastHeartbeatTime != cur.LastHeartbeatTime:
		rt := h.readyTransition
		if saved.LastTransitionTime != cur.LastTransitionTime {
			rt = now
		}
		h = &health{saved: copyCond(cur), probe: now, readyTransition: rt}
	}
	c.health[n.Name] = h
	// A renewed Lease is a heartbeat.
	var leaseRenew sim.Time
	hasLease := false
	if o, ok := c.leaseInf.Get(api.NamespaceNodeLease, n.Name); ok {
		leaseRenew, hasLease = o.(*api.Lease).RenewTime, true
		if !savedHasLease || savedLease < leaseRenew {
			h.hasLease, h.lease = true, leaseRenew
			h.probe = now
		}
	}
	if now < h.probe.Add(grace) {
		return observed, copyCond(cur)
	}
	// No heartbeat for the grace period: every condition the kubelet owns becomes
	// Unknown.
	nn := n.DeepCopy()
	for _, t := range []api.NodeConditionType{api.NodeReady, api.NodeMemoryPressure, api.NodeDiskPressure, api.NodePIDPressure} {
		if x := nn.Condition(t); x == nil {
			nn.Status.Conditions = append(nn.Status.Conditions, api.NodeCondition{Type: t, Status: api.ConditionUnknown,
				Reason: "NodeStatusNeverUpdated", LastHeartbeatTime: n.CreationTimestamp, LastTransitionTime: now})
		} else if x.Status != api.ConditionUnknown {
			x.Status, x.Reason, x.LastTransitionTime = api.ConditionUnknown, "NodeStatusUnknown", now
		}
	}
	updated := *nn.Condition(api.NodeReady)
	if updated == observed {
		return observed, copyCond(cur)
	}
	silent := now.Sub(h.probe)
	lastBeat := observed.LastHeartbeatTime
	if hasLease && leaseRenew > lastBeat {
		lastBeat = leaseRenew
	}
	ref := api.Ref(n)
	var why string
	if cur == nil {
		why = fmt.Sprintf("the kubelet never posted node status within node-startup-grace-period %v", grace)
	} else {
		why = fmt.Sprintf("no heartbeat for %v (node-monitor-grace-period %v): the last Lease renewal (renewTime %s) or Ready heartbeat (%s) seen was at %s",
			silent, grace, fmtT(leaseRenew), fmtT(observed.LastHeartbeatTime), fmtT(h.probe))
	}
	c.trace(7, "node-unknown", ref, why+"; Ready, MemoryPressure, DiskPressure and PIDPressure set to Unknown (NodeStatusUnknown: \"Kubelet stopped posting node status.\")")
	c.tel.Observe("node_not_ready_detection_seconds", now, now.Sub(lastBeat).Seconds())
	c.step7.UpdateStatus(nn, func(_ api.Object, err error) {
		if err != nil {
			c.trace(7, "node-unknown-failed", ref, fmt.Sprintf("writing the Unknown conditions failed (%v); the next pass retries", err))
		}
	})
	c.health[n.Name] = &health{saved: &updated, probe: h.probe, readyTransition: now, hasLease: hasLease, lease: leaseRenew}
	return observed, &updated
}

// processTaintBaseEviction queues a not Ready node for its NoExecute taint, swaps
// not-ready and unreachable at once when the node already has the other one, and
// removes both from a Ready node.
func (c *Controller) processTaintBaseEviction(n *api.Node, observed *api.NodeCondition) {
	switch observed.Status {
	case api.ConditionFalse:
		if hasTaint(n, api.TaintNodeUnreachable, api.TaintNoExecute) {
			c.swapTaint(n.Name, api.TaintNodeNotReady, api.TaintNodeUnreachable, "Ready turned False: swapped at once, not rate-limited")
		} else {
			c.markNodeForTainting(n)
		}
	case api.ConditionUnknown:
		if hasTaint(n, api.TaintNodeNotReady, api.TaintNoExecute) {
			c.swapTaint(n.Name, api.TaintNodeUnreachable, api.TaintNodeNotReady, "Ready turned Unknown: swapped at once, not rate-limited")
		} else {
			c.markNodeForTainting(n)
		}
	case api.ConditionTrue:
		c.markNodeAsReachable(n, "the node is Ready again")
	}
}

func (c *Controller) markNodeForTainting(n *api.Node) {
	z := c.zoneFor(c.known[n.Name])
	if z.add(n.Name, n.UID, c.eng.Now()) {
		c.armTainter()
	}
}

// markNodeAsReachable removes both NoExecute taints and drops the node from its
// zone's taint queue.
func (c *Controller) markNodeAsReachable(n *api.Node, why string) {
	if z := c.zones[c.known[n.Name]]; z != nil {
		z.remove(n.Name)
	}
	if !hasTaint(n, api.TaintNodeUnreachable, api.TaintNoExecute) && !hasTaint(n, api.TaintNodeNotReady, api.TaintNoExecute) {
		return
	}
	name := n.Name
	c.updateNode(name, func(nn *api.Node) bool {
		a := removeTaint(nn, api.TaintNodeUnreachable, api.TaintNoExecute)
		b := removeTaint(nn, api.TaintNodeNotReady, api.TaintNoExecute)
		return a || b
	}, func(changed bool, err error) {
		switch {
		case err != nil:
			c.trace(7, "untaint-failed", api.RefOf(api.KindNode, "", name), fmt.Sprintf("removing the NoExecute taints failed (%v); the next pass retries", err))
		case changed:
			c.trace(7, "untaint", api.RefOf(api.KindNode, "", name), fmt.Sprintf(
				"%s: removed the %s and %s NoExecute taints, cancelling the evictions they scheduled", why, api.TaintNodeUnreachable, api.TaintNodeNotReady))
		}
	})
}

// swapTaint adds the NoExecute taint key and removes the opposite one
// (SwapNodeControllerTaint).
func (c *Controller) swapTaint(name, add, remove, why string) {
	c.updateNode(name, func(nn *api.Node) bool {
		r := removeTaint(nn, remove, api.TaintNoExecute)
		a := addTaint(nn, api.Taint{Key: add, Effect: api.TaintNoExecute, TimeAdded: c.eng.Now()})
		return a || r
	}, func(changed bool, err error) {
		ref := api.RefOf(api.KindNode, "", name)
		switch {
		case err != nil:
			c.trace(7, "taint-failed", ref, fmt.Sprintf("adding taint %s:NoExecute failed (%v); the next pass retries", add, err))
			if z := c.zones[c.known[name]]; z != nil {
				z.remove(name) // queue it again at the next pass
			}
		case changed:
			c.trace(7, "taint", ref, fmt.Sprintf("%s: added taint %s:NoExecute (removed %s:NoExecute if present); the taint eviction controller evicts the pods that do not tolerate it, the others after their tolerationSeconds (300 s by default)",
				why, add, remove))
		}
	})
}

// markPodsNotReady sets the Ready condition of the node's pods to False
// (controller_utils.go MarkPodsNotReady), once when the node leaves Ready.
func (c *Controller) markPodsNotReady(n *api.Node, st api.ConditionStatus) {
	m := c.podsByNode[n.Name]
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	now := c.eng.Now()
	count := 0
	for _, k := range keys {
		p := m[k]
		rc := p.Condition(api.PodReady)
		if rc == nil || rc.Status == api.ConditionFalse {
			continue
		}
		np := p.DeepCopy()
		np.SetCondition(api.PodReady, api.ConditionFalse, rc.Reason, now)
		count++
		c.step7.UpdateStatus(np, nil)
	}
	c.trace(7, "mark-pods-not-ready", api.Ref(n), fmt.Sprintf(
		"node Ready=%s: set Ready=False on its %d ready pods (MarkPodsNotReady), so the endpointslice controller stops sending them traffic", st, count))
}

// ---------------------------------------------------------------------------
// NoSchedule condition taints (doNoScheduleTaintingPass)

var conditionTaints = []struct {
	cond   api.NodeConditionType
	status api.ConditionStatus
	key    string
}{
	{api.NodeReady, api.ConditionFalse, api.TaintNodeNotReady},
	{api.NodeReady, api.ConditionUnknown, api.TaintNodeUnreachable},
	{api.NodeMemoryPressure, api.ConditionTrue, TaintNodeMemoryPressure},
	{api.NodeDiskPressure, api.ConditionTrue, TaintNodeDiskPressure},
	{api.NodePIDPressure, api.ConditionTrue, TaintNodePIDPressure},
}

func managedNoSchedule(key string) bool {
	if key == api.TaintNodeUnschedulable {
		return true
	}
	for _, ct := range conditionTaints {
		if ct.key == key {
			return true
		}
	}
	return false
}

// wantNoSchedule returns the NoSchedule taint keys the node's conditions call for.
func wantNoSchedule(n *api.Node) []string {
	var keys []string
	for _, ct := range conditionTaints {
		if x := n.Condition(ct.cond); x != nil && x.Status == ct.status {
			keys = append(keys, ct.key)
		}
	}
	if n.Spec.Unschedulable {
		keys = append(keys, api.TaintNodeUnschedulable)
	}
	return keys
}

// reconcileNoSchedule applies want to nn's managed NoSchedule taints and reports
// what changed.
func reconcileNoSchedule(nn *api.Node, want []string, now sim.Time) (added, removed []string) {
	has := map[string]bool{}
	kept := nn.Spec.Taints[:0:0]
	for _, t := range nn.Spec.Taints {
		if t.Effect == api.TaintNoSchedule && managedNoSchedule(t.Key) {
			if !contains(want, t.Key) {
				removed = append(removed, t.Key)
				continue
			}
			has[t.Key] = true
		}
		kept = append(kept, t)
	}
	for _, k := range want {
		if !has[k] {
			kept = append(kept, api.Taint{Key: k, Effect: api.TaintNoSchedule, TimeAdded: now})
			added = append(added, k)
		}
	}
	nn.Spec.Taints = kept
	return added, removed
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func (c *Controller) onNodeEvent(n *api.Node) {
	if !c.running {
		return
	}
	if added, removed := reconcileNoSchedule(n.DeepCopy(), wantNoSchedule(n), 0); len(added)+len(removed) == 0 {
		return
	}
	if _, busy := c.noSched[n.Name]; busy {
		c.noSched[n.Name] = true // run again when the write in flight ends
		return
	}
	c.noSched[n.Name] = false
	name := n.Name
	var added, removed []string
	c.updateNode(name, func(nn *api.Node) bool {
		added, removed = reconcileNoSchedule(nn, wantNoSchedule(nn), c.eng.Now())
		return len(added)+len(removed) > 0
	}, func(changed bool, err error) {
		again := c.noSched[name]
		delete(c.noSched, name)
		ref := api.RefOf(api.KindNode, "", name)
		switch {
		case err != nil && !apiserver.IsNotFound(err):
			c.trace(7, "taint-failed", ref, fmt.Sprintf("updating the NoSchedule condition taints failed: %v", err))
		case changed:
			var parts []string
			if len(added) > 0 {
				parts = append(parts, "added "+strings.Join(added, ", "))
			}
			if len(removed) > 0 {
				parts = append(parts, "removed "+strings.Join(removed, ", "))
			}
			c.trace(7, "taint", ref, fmt.Sprintf("NoSchedule condition taints follow the node's conditions (not rate-limited): %s (effect NoSchedule), so the scheduler places new pods accordingly",
				strings.Join(parts, "; ")))
		}
		if again {
			if o, ok := c.nodeInf.Get("", name); ok {
				c.onNodeEvent(o.(*api.Node))
			}
		}
	})
}

// ---------------------------------------------------------------------------
// Node updates

// updateNode applies mutate to the cached node and writes it with its
// resourceVersion as precondition; on a conflict it reads the node again and
// retries, at most maxUpdateAttempts times (as AddOrUpdateTaintOnNode does).
// done learns whether something changed.
func (c *Controller) updateNode(name string, mutate func(*api.Node) bool, done func(changed bool, err error)) {
	o, ok := c.nodeInf.Get("", name)
	if !ok {
		done(false, nil)
		return
	}
	c.tryUpdateNode(o.(*api.Node), mutate, 1, done)
}

func (c *Controller) tryUpdateNode(cur *api.Node, mutate func(*api.Node) bool, attempt int, done func(bool, error)) {
	nn := cur.DeepCopy()
	if !mutate(nn) {
		done(false, nil)
		return
	}
	c.step7.Update(nn, func(_ api.Object, err error) {
		if err == nil {
			done(true, nil)
			return
		}
		if !apiserver.IsConflict(err) || attempt >= maxUpdateAttempts {
			done(false, err)
			return
		}
		c.client.Get(api.KindNode, "", cur.Name, func(o api.Object, err error) {
			if err != nil {
				done(false, err)
				return
			}
			c.tryUpdateNode(o.(*api.Node), mutate, attempt+1, done)
		})
	})
}

func hasTaint(n *api.Node, key string, effect api.TaintEffect) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key && t.Effect == effect {
			return true
		}
	}
	return false
}

func addTaint(n *api.Node, t api.Taint) bool {
	if hasTaint(n, t.Key, t.Effect) {
		return false
	}
	n.Spec.Taints = append(n.Spec.Taints, t)
	return true
}

func removeTaint(n *api.Node, key string, effect api.TaintEffect) bool {
	out := n.Spec.Taints[:0:0]
	for _, t := range n.Spec.Taints {
		if t.Key != key || t.Effect != effect {
			out = append(out, t)
		}
	}
	if len(out) == len(n.Spec.Taints) {
		return false
	}
	n.Spec.Taints = out
	return true
}

// fmtT formats a virtual time as minutes and seconds ("6m05.000s").
func fmtT(t sim.Time) string {
	d := t.Duration()
	if d < time.Minute {
		return fmt.Sprintf("%.3fs", d.Seconds())
	}
	m := d / time.Minute
	return fmt.Sprintf("%dm%06.3fs", m, (d - m*time.Minute).Seconds())
}
