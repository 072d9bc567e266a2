// Package podgc models kube-controller-manager's pod garbage collector
// (pkg/controller/podgc/gc_controller.go; --terminated-pod-gc-threshold in
// pkg/controller/podgc/config/v1alpha1/defaults.go).
//
// Every GCCheckPeriod (20 s) it force-deletes (grace period 0), in this order:
//   - gcTerminated: the oldest terminated pods (Succeeded or Failed; evicted ones
//     first, then by creation time and name) beyond TerminatedPodGCThreshold
//     (12500; 0 disables);
//   - gcTerminating: pods being deleted on a node that is not Ready AND carries the
//     node.kubernetes.io/out-of-service taint (an administrator's statement that the
//     node is gone; the NodeOutOfServiceVolumeDetach feature, GA in 1.28);
//   - gcOrphaned: pods bound to a node that no longer exists, once the node has
//     been missing from the informer for QuarantineTime (40 s) and a GET confirms
//     it is gone;
//   - gcUnscheduledTerminating: pods being deleted that were never bound.
//
// Before deleting a pod that is not yet terminal it writes phase Failed, as
// markFailedAndDeletePod does, because no kubelet will.
//
// Upstream does NOT force-delete pods that are terminating on a node that is merely
// NotReady or unreachable: without the out-of-service taint they stay terminating
// until the node comes back (its kubelet finishes them), the Node object is deleted
// (then they are orphans), or someone force-deletes them. Their ReplicaSet replaces
// them regardless, because terminating pods do not count as active.
//
// The pod and node indexes are kept current on every event, so a pass costs
// O(terminating pods + nodes with pods), and sorting the terminated pods only when
// there are more than the threshold.
//
// Simplifications: no DisruptionTarget condition is written for orphans; no
// metrics or Events.
package podgc

import (
	"fmt"
	"sort"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/controller/manager/informers"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

// Component is the trace component name.
const Component = "controller-manager/podgc"

// TaintNodeOutOfService is the taint an administrator puts on a node known to be
// shut down (k8s.io/api/core/v1 well_known_taints.go).
const TaintNodeOutOfService = "node.kubernetes.io/out-of-service"

// Config configures the pod garbage collector.
type Config struct {
	// TerminatedPodGCThreshold is how many terminated pods may exist before the
	// oldest are deleted (--terminated-pod-gc-threshold 12500); 0 disables it.
	TerminatedPodGCThreshold int
	// GCCheckPeriod is the period of the collector's loop (gcCheckPeriod, 20 s).
	GCCheckPeriod time.Duration
	// QuarantineTime is how long a node must be missing before its pods count as
	// orphans (quarantineTime, 40 s).
	QuarantineTime time.Duration
}

// DefaultConfig returns upstream's values.
func DefaultConfig() Config {
	return Config{TerminatedPodGCThreshold: 12500, GCCheckPeriod: 20 * time.Second, QuarantineTime: 40 * time.Second}
}

// Validate checks the configuration; messages name the field.
func (c *Config) Validate(_ *dist.Registry) error {
	switch {
	case c.TerminatedPodGCThreshold < 0:
		return fmt.Errorf("terminatedPodGCThreshold: must not be negative (0 disables), got %d", c.TerminatedPodGCThreshold)
	case c.GCCheckPeriod <= 0:
		return fmt.Errorf("gcCheckPeriod: must be positive, got %v", c.GCCheckPeriod)
	case c.QuarantineTime < 0:
		return fmt.Errorf("quarantineTime: must not be negative, got %v", c.QuarantineTime)
	}
	return nil
}

// Controller is the pod garbage collector.
type Controller struct {
	eng     *sim.Engine
	client  *apiserver.Client // step 0: the threshold GC and lookups
	step7   *apiserver.Client // self-healing deletions
	cfg     Config
	tel     sim.Telemetry
	factory *informers.Factory
	podInf  *apiserver.Informer
	nodeInf *apiserver.Informer
	started bool

	terminated  map[string]*api.Pod
	terminating map[string]*api.Pod
	byNode      map[string]map[string]*api.Pod
	quarantine  map[string]sim.Time // missing node -> when it may be checked
	checking    map[string]bool     // node GETs in flight
	deleting    map[string]bool     // pod keys with a deletion in flight
	deleted     uint64
}

// New returns a collector that talks to the apiserver through client.
func New(eng *sim.Engine, client *apiserver.Client, cfg Config, reg *dist.Registry, tel sim.Telemetry) (*Controller, error) {
	if err := cfg.Validate(reg); err != nil {
		return nil, fmt.Errorf("pod gc controller: %w", err)
	}
	if tel == nil {
		tel = sim.Discard
	}
	return &Controller{
		eng: eng, client: client.WithStep(0), step7: client.WithStep(7), cfg: cfg, tel: tel,
		terminated:  map[string]*api.Pod{},
		terminating: map[string]*api.Pod{},
		byNode:      map[string]map[string]*api.Pod{},
		quarantine:  map[string]sim.Time{},
		checking:    map[string]bool{},
		deleting:    map[string]bool{},
	}, nil
}

// UseInformers makes Start take its informers from a shared factory (call before
// Start). Without it Start creates a private factory.
func (c *Controller) UseInformers(f *informers.Factory) { c.factory = f }

// Start starts the informers (Pods, Nodes); the loop runs every GCCheckPeriod once
// they have synced.
func (c *Controller) Start() {
	if c.started {
		return
	}
	c.started = true
	if c.factory == nil {
		c.factory = informers.NewFactory(c.client)
	}
	c.podInf = c.factory.Informer(api.KindPod, apiserver.Handlers{
		OnAdd:    func(o api.Object) { c.index(nil, o.(*api.Pod)) },
		OnUpdate: func(old, o api.Object) { c.index(old.(*api.Pod), o.(*api.Pod)) },
		OnDelete: func(o api.Object) { c.unindex(o.(*api.Pod)); delete(c.deleting, key(o.(*api.Pod))) },
	})
	c.nodeInf = c.factory.Informer(api.KindNode, apiserver.Handlers{})
	informers.WhenSynced(func() { c.eng.After(c.cfg.GCCheckPeriod, c.gc) }, c.podInf, c.nodeInf)
}

// Deleted returns how many pods the collector has deleted.
func (c *Controller) Deleted() uint64 { return c.deleted }

func key(p *api.Pod) string { return p.Namespace + "/" + p.Name }

func (c *Controller) index(old, p *api.Pod) {
	if old != nil {
		if old.Spec.NodeName == p.Spec.NodeName && old.IsTerminal() == p.IsTerminal() &&
			(old.DeletionTimestamp == nil) == (p.DeletionTimestamp == nil) {
			// Same node and state (a status write): the pod stays in the same
			// indexes, only its object changes.
			c.reindex(p)
			return
		}
		c.unindex(old)
	}
	c.reindex(p)
}

// reindex records p in the indexes its state puts it in (replacing an older
// version there).
func (c *Controller) reindex(p *api.Pod) {
	k := key(p)
	if p.IsTerminal() {
		c.terminated[k] = p
	}
	if p.DeletionTimestamp != nil {
		c.terminating[k] = p
	}
	if n := string(p.Spec.NodeName); n != "" {
		m := c.byNode[n]
		if m == nil {
			m = map[string]*api.Pod{}
			c.byNode[n] = m
		}
		m[k] = p
	}
}

func (c *Controller) unindex(p *api.Pod) {
	k := key(p)
	delete(c.terminated, k)
	delete(c.terminating, k)
	if n := string(p.Spec.NodeName); n != "" {
		if m := c.byNode[n]; m != nil {
			delete(m, k)
			if len(m) == 0 {
				delete(c.byNode, n)
			}
		}
	}
}

func sortedPods(m map[string]*api.Pod) []*api.Pod {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*api.Pod, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

func (c *Controller) gc() {
	c.eng.After(c.cfg.GCCheckPeriod, c.gc)
	if c.cfg.TerminatedPodGCThreshold > 0 {
		c.gcTerminated()
	}
	c.gcTerminating()
	c.gcOrphaned()
	c.gcUnscheduledTerminating()
}

func (c *Controller) gcTerminated() {
	n := len(c.terminated) - c.cfg.TerminatedPodGCThreshold
	if n <= 0 {
		return
	}
	pods := sortedPods(c.terminated)
	// byEvictionAndCreationTimestamp: evicted first, then oldest, then by name.
	sort.SliceStable(pods, func(i, j int) bool {
		ei, ej := pods[i].Status.Reason == "Evicted", pods[j].Status.Reason == "Evicted"
		if ei != ej {
			return ei
		}
		if pods[i].CreationTimestamp != pods[j].CreationTimestamp {
			return pods[i].CreationTimestamp < pods[j].CreationTimestamp
		}
		return pods[i].Name < pods[j].Name
	})
	for _, p := range pods[:n] {
		c.forceDelete(p, c.client, fmt.Sprintf("%d terminated pods exceed terminated-pod-gc-threshold %d: deleting the oldest", len(c.terminated), c.cfg.TerminatedPodGCThreshold))
	}
}

func (c *Controller) gcTerminating() {
	for _, p := range sortedPods(c.terminating) {
		if p.Spec.NodeName == "" {
			continue
		}
		o, ok := c.nodeInf.Get("", string(p.Spec.NodeName))
		if !ok {
			continue
		}
		n := o.(*api.Node)
		if n.IsReady() || !hasTaintKey(n, TaintNodeOutOfService) {
			continue
		}
		c.forceDelete(p, c.step7, fmt.Sprintf("terminating on node %s, which is not Ready and tainted %s: no kubelet will finish it, so it is deleted with grace period 0",
			n.Name, TaintNodeOutOfService))
	}
}

func hasTaintKey(n *api.Node, k string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == k {
			return true
		}
	}
	return false
}

func (c *Controller) gcOrphaned() {
	now := c.eng.Now()
	names := make([]string, 0, len(c.byNode))
	for n := range c.byNode {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, ok := c.nodeInf.Get("", n); ok {
			continue
		}
		if _, ok := c.quarantine[n]; !ok {
			c.quarantine[n] = now.Add(c.cfg.QuarantineTime)
		}
	}
	// discoverDeletedNodes: nodes past quarantine, still missing, confirmed by a GET.
	var due []string
	for n, at := range c.quarantine {
		if at <= now {
			due = append(due, n)
		}
	}
	sort.Strings(due)
	for _, n := range due {
		delete(c.quarantine, n)
		if _, ok := c.nodeInf.Get("", n); ok || c.checking[n] {
			continue
		}
		c.checking[n] = true
		name := n
		c.client.Get(api.KindNode, "", name, func(_ api.Object, err error) {
			delete(c.checking, name)
			if !apiserver.IsNotFound(err) {
				return
			}
			for _, p := range sortedPods(c.byNode[name]) {
				c.forceDelete(p, c.step7, fmt.Sprintf("orphaned: node %s no longer exists (missing for at least %v and confirmed by a GET), so the pod is marked Failed and deleted with grace period 0",
					name, c.cfg.QuarantineTime))
			}
		})
	}
}

func (c *Controller) gcUnscheduledTerminating() {
	for _, p := range sortedPods(c.terminating) {
		if p.Spec.NodeName != "" {
			continue
		}
		c.forceDelete(p, c.step7, "terminating but never bound to a node: no kubelet will finish it, so it is deleted with grace period 0")
	}
}

// forceDelete is markFailedAndDeletePod: phase Failed first (if not terminal),
// then a delete with grace period 0.
func (c *Controller) forceDelete(p *api.Pod, cl *apiserver.Client, why string) {
	k := key(p)
	if c.deleting[k] {
		return
	}
	c.deleting[k] = true
	c.tel.Trace(sim.Record{Time: c.eng.Now(), Step: stepOf(cl, c), Component: Component, Action: "delete", Object: api.Ref(p), Detail: why})
	del := func() {
		zero := int64(0)
		cl.Delete(api.KindPod, p.Namespace, p.Name, apiserver.DeleteOptions{GracePeriodSeconds: &zero, UID: p.UID}, func(err error) {
			if err == nil || apiserver.IsNotFound(err) || apiserver.IsConflict(err) {
				if err == nil {
					c.deleted++
				}
				return
			}
			delete(c.deleting, k) // retry at the next pass
		})
	}
	if p.IsTerminal() {
		del()
		return
	}
	np := p.DeepCopy()
	np.Status.Phase = api.PodFailed // the pod's resourceVersion is the precondition
	cl.UpdateStatus(np, func(_ api.Object, err error) {
		if err != nil {
			if !apiserver.IsNotFound(err) {
				delete(c.deleting, k)
			}
			return
		}
		del()
	})
}

func stepOf(cl *apiserver.Client, c *Controller) int {
	if cl == c.step7 {
		return 7
	}
	return 0
}
