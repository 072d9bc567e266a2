// Package disruption models kube-controller-manager's disruption controller, which
// keeps the status of every policy/v1 PodDisruptionBudget up to date
// (pkg/controller/disruption/disruption.go, k8s.io/kubernetes v1.37).
//
// A budget is synced when it is added or changed and whenever a pod it selects is
// added, changed or deleted. A sync:
//  1. lists the pods of the budget's namespace that its selector matches (an empty
//     selector matches all of them, a missing one none: policy/v1 getPodsForPdb);
//  2. computes the expected count and the desired healthy count
//     (getExpectedPodCount): with maxUnavailable, expected = the sum of the scales
//     (spec.replicas) of the distinct controllers of the pods (a ReplicaSet owned
//     by a Deployment counts as the Deployment; a StatefulSet as itself; pods with
//     no controller are skipped as upstream's "unmanaged pods") and desired =
//     max(expected - maxUnavailable, 0), a percentage rounded up; with an integer
//     minAvailable, expected = the number of selected pods and desired =
//     minAvailable; with a percentage minAvailable, expected = the controllers'
//     scales and desired = the percentage of it, rounded up;
//  3. counts currentHealthy: selected pods that are Ready and not terminating
//     (countHealthyPods);
//  4. writes status (updatePdbStatus): disruptionsAllowed = currentHealthy -
//     desiredHealthy, 0 when negative or when expected is 0; observedGeneration =
//     metadata.generation; unchanged statuses are not written.
//
// A pod controlled by a kind with no scale kubesim models (a Job, say) makes the
// sync fail, and, as upstream's failSafe, the budget's disruptionsAllowed is then
// set to 0 with the rest of the status kept.
//
// Simplifications: the eviction API is not modelled, so status.disruptedPods stays
// empty and there is no recheck of it; no DisruptionAllowed condition and no
// events; a pod event enqueues every budget that selects the pod (upstream
// enqueues one of them, chosen arbitrarily, when several do); the stale
// DisruptionTarget pod condition clean-up is not modelled; one worker.
package disruption

import (
	"fmt"
	"maps"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/controller/manager/informers"
	"github.com/kubesim/kubesim/model/controller/manager/workqueue"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

// Component is the trace component name.
const Component = "controller-manager/disruption"

// Config configures the controller.
type Config struct {
	// SyncLatency is the time from a budget's pickup off the work queue to its
	// sync's decision. A model parameter.
	SyncLatency dist.Spec
}

// DefaultConfig returns a 1 ms median sync latency, as the other controllers'.
func DefaultConfig() Config {
	return Config{SyncLatency: dist.LogNormal(time.Millisecond, 0.5)}
}

// Validate checks the configuration; messages name the field.
func (c *Config) Validate(reg *dist.Registry) error {
	if err := reg.Validate(c.SyncLatency); err != nil {
		return fmt.Errorf("syncLatency: %w", err)
	}
	return nil
}

// Controller is the disruption controller.
type Controller struct {
	eng                                  *sim.Engine
	client                               *apiserver.Client
	tel                                  sim.Telemetry
	factory                              *informers.Factory
	pdbInf, podInf, rsInf, depInf, ssInf *apiserver.Informer
	queue                                *workqueue.Queue
	started                              bool
}

// New returns a controller that talks to the apiserver through client.
func New(eng *sim.Engine, client *apiserver.Client, cfg Config, reg *dist.Registry, tel sim.Telemetry) (*Controller, error) {
	if err := cfg.Validate(reg); err != nil {
		return nil, fmt.Errorf("disruption controller: %w", err)
	}
	if tel == nil {
		tel = sim.Discard
	}
	c := &Controller{eng: eng, client: client, tel: tel}
	c.queue = workqueue.New(eng, reg.MustNew(cfg.SyncLatency, eng.Source("controller/disruption/sync")), c.sync, workqueue.DefaultOptions())
	return c, nil
}

// UseInformers makes Start take its informers from a shared factory (call before
// Start). Without it Start creates a private factory.
func (c *Controller) UseInformers(f *informers.Factory) { c.factory = f }

// Syncs returns the number of budget syncs started.
func (c *Controller) Syncs() uint64 { return c.queue.Syncs() }

// Start starts the informers (budgets, pods, and the ReplicaSets, Deployments and
// StatefulSets whose scale the expected count reads); the work queue runs once the
// budget and pod informers have synced.
func (c *Controller) Start() {
	if c.started {
		return
	}
	c.started = true
	if c.factory == nil {
		c.factory = informers.NewFactory(c.client)
	}
	c.rsInf = c.factory.Informer(api.KindReplicaSet, apiserver.Handlers{})
	c.depInf = c.factory.Informer(api.KindDeployment, apiserver.Handlers{})
	c.ssInf = c.factory.Informer(api.KindStatefulSet, apiserver.Handlers{})
	c.pdbInf = c.factory.Informer(api.KindPodDisruptionBudget, apiserver.Handlers{
		OnAdd:    func(o api.Object) { c.queue.Add(keyOf(o)) },
		OnUpdate: func(_, o api.Object) { c.queue.Add(keyOf(o)) },
	})
	c.podInf = c.factory.Informer(api.KindPod, apiserver.Handlers{
		OnAdd: func(o api.Object) { c.podChanged(o.(*api.Pod)) },
		OnUpdate: func(old, cur api.Object) {
			c.podChanged(cur.(*api.Pod))
			if op := old.(*api.Pod); !maps.Equal(op.Labels, cur.Meta().Labels) {
				c.podChanged(op) // budgets that selected the pod before its relabel
			}
		},
		OnDelete: func(o api.Object) { c.podChanged(o.(*api.Pod)) },
	})
	informers.WhenSynced(c.queue.Start, c.pdbInf, c.podInf)
}

func keyOf(o api.Object) string { m := o.Meta(); return m.Namespace + "/" + m.Name }

// podChanged enqueues the budgets that select p (upstream addPod/updatePod/
// deletePod through getPdbForPod).
func (c *Controller) podChanged(p *api.Pod) {
	if c.pdbInf == nil || c.pdbInf.Len() == 0 {
		return
	}
	for _, o := range c.pdbInf.List() {
		b := o.(*api.PodDisruptionBudget)
		if b.Namespace == p.Namespace && b.Spec.Selector.Matches(p.Labels) {
			c.queue.Add(keyOf(b))
		}
	}
}

// sync recomputes one budget's status and writes it when it changed.
func (c *Controller) sync(key string) {
	o, ok := c.pdbInf.Get(splitKey(key))
	if !ok {
		c.queue.Done(key, nil) // deleted
		return
	}
	b := o.(*api.PodDisruptionBudget)
	st, err := c.Compute(b)
	if err != nil {
		// failSafe: keep the status but allow no disruption.
		st = b.Status
		st.DisruptionsAllowed = 0
		c.trace("sync-failed", b, err.Error()+"; disruptionsAllowed set to 0")
	}
	if err == nil && statusEqual(b.Status, st) {
		c.queue.Done(key, nil)
		return
	}
	nb := *b // the status write replaces only the status (copyStatus)
	nb.Status = st
	if err == nil {
		c.trace("status", b, fmt.Sprintf("expectedPods=%d currentHealthy=%d desiredHealthy=%d disruptionsAllowed=%d",
			st.ExpectedPods, st.CurrentHealthy, st.DesiredHealthy, st.DisruptionsAllowed))
	}
	c.client.UpdateStatus(&nb, func(_ api.Object, werr error) { c.queue.Done(key, werr) })
}

func splitKey(key string) (ns, name string) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return "", key
}

func statusEqual(a, b api.PodDisruptionBudgetStatus) bool {
	return a.ObservedGeneration == b.ObservedGeneration && a.DisruptionsAllowed == b.DisruptionsAllowed &&
		a.CurrentHealthy == b.CurrentHealthy && a.DesiredHealthy == b.DesiredHealthy &&
		a.ExpectedPods == b.ExpectedPods && len(a.DisruptedPods) == 0 && len(b.DisruptedPods) == 0
}

// Pods returns the pods b selects from the controller's pod cache, by name.
func (c *Controller) Pods(b *api.PodDisruptionBudget) []*api.Pod {
	var out []*api.Pod
	for _, o := range c.podInf.List() {
		p := o.(*api.Pod)
		if p.Namespace == b.Namespace && b.Spec.Selector.Matches(p.Labels) {
			out = append(out, p)
		}
	}
	return out
}

// Compute returns b's status from the controller's caches (trySync without the
// write); an error is upstream's sync failure.
func (c *Controller) Compute(b *api.PodDisruptionBudget) (api.PodDisruptionBudgetStatus, error) {
	pods := c.Pods(b)
	expected, desired, err := ExpectedPodCount(b, pods, c.scaleOf)
	if err != nil {
		return api.PodDisruptionBudgetStatus{}, err
	}
	return StatusFor(b, CountHealthy(pods), desired, expected), nil
}

// ScaleFunc returns the UID and scale (spec.replicas) of the controller a pod's
// controller reference resolves to, found=false when the reference leads to no
// known controller (upstream's finders).
type ScaleFunc func(ns string, ref *api.OwnerReference) (uid api.UID, scale int32, found bool)

// scaleOf is upstream's finders: a ReplicaSet owned by a Deployment resolves to the
// Deployment (getPodDeployment), a bare ReplicaSet to itself (getPodReplicaSet), a
// StatefulSet to itself (getPodStatefulSet).
func (c *Controller) scaleOf(ns string, ref *api.OwnerReference) (api.UID, int32, bool) {
	switch ref.Kind {
	case api.KindReplicaSet:
		o, ok := c.rsInf.Get(ns, ref.Name)
		if !ok || o.Meta().UID != ref.UID {
			return "", 0, false
		}
		rs := o.(*api.ReplicaSet)
		if dref := rs.ControllerRef(); dref != nil && dref.Kind == api.KindDeployment {
			d, ok := c.depInf.Get(ns, dref.Name)
			if !ok || d.Meta().UID != dref.UID {
				return "", 0, false
			}
			return d.Meta().UID, d.(*api.Deployment).Spec.Replicas, true
		}
		return rs.UID, rs.Spec.Replicas, true
	case api.KindStatefulSet:
		o, ok := c.ssInf.Get(ns, ref.Name)
		if !ok || o.Meta().UID != ref.UID {
			return "", 0, false
		}
		return o.Meta().UID, o.(*api.StatefulSet).Spec.Replicas, true
	}
	return "", 0, false
}

// ExpectedPodCount is upstream's getExpectedPodCount (see the package comment).
func ExpectedPodCount(b *api.PodDisruptionBudget, pods []*api.Pod, scale ScaleFunc) (expected, desired int32, err error) {
	switch {
	case b.Spec.MaxUnavailable != nil:
		if expected, err = ExpectedScale(pods, scale); err != nil {
			return 0, 0, err
		}
		desired = max(expected-b.Spec.MaxUnavailable.ScaledValue(expected, true), 0)
	case b.Spec.MinAvailable != nil && !b.Spec.MinAvailable.IsPercent:
		desired = b.Spec.MinAvailable.Value
		expected = int32(len(pods))
	case b.Spec.MinAvailable != nil:
		if expected, err = ExpectedScale(pods, scale); err != nil {
			return 0, 0, err
		}
		desired = b.Spec.MinAvailable.ScaledValue(expected, true)
	}
	return expected, desired, nil
}

// ExpectedScale is upstream's getExpectedScale: the sum of the scales of the
// distinct controllers of pods; pods without a controller are skipped; a pod whose
// controller cannot be resolved is an error.
func ExpectedScale(pods []*api.Pod, scale ScaleFunc) (int32, error) {
	scales := map[api.UID]int32{} // by resolved controller (a Deployment, not its ReplicaSets)
	for _, p := range pods {
		ref := p.ControllerRef()
		if ref == nil {
			continue // unmanaged
		}
		uid, n, found := scale(p.Namespace, ref)
		if !found {
			return 0, fmt.Errorf("found no controllers for pod %q", p.Name)
		}
		scales[uid] = n
	}
	var sum int32
	for _, n := range scales { // a sum: iteration order does not matter
		sum += n
	}
	return sum, nil
}

// CountHealthy is upstream's countHealthyPods with no disrupted pods: Ready pods
// that are not terminating.
func CountHealthy(pods []*api.Pod) int32 {
	var n int32
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.IsReady() {
			n++
		}
	}
	return n
}

// StatusFor is upstream's updatePdbStatus arithmetic.
func StatusFor(b *api.PodDisruptionBudget, healthy, desired, expected int32) api.PodDisruptionBudgetStatus {
	allowed := healthy - desired
	if expected <= 0 || allowed <= 0 {
		allowed = 0
	}
	return api.PodDisruptionBudgetStatus{
		ObservedGeneration: b.Generation,
		DisruptionsAllowed: allowed,
		CurrentHealthy:     healthy,
		DesiredHealthy:     desired,
		ExpectedPods:       expected,
	}
}

func (c *Controller) trace(action string, b *api.PodDisruptionBudget, detail string) {
	c.tel.Trace(sim.Record{Time: c.eng.Now(), Step: 7, Component: Component, Action: action, Object: api.Ref(b), Detail: detail})
}
