// Package deployment models kube-controller-manager's Deployment controller
// (reference §3.1; pkg/controller/deployment/{deployment_controller.go,sync.go,
// rolling.go,recreate.go,util/deployment_util.go}).
//
// It watches Deployments, ReplicaSets and (for Recreate) Pods through shared
// informers. For each Deployment it finds the ReplicaSets it controls, creates the
// new ReplicaSet "<deployment>-<pod-template-hash>" for the current template, scales
// new and old ReplicaSets by the RollingUpdate or Recreate rules, handles scaling
// events proportionally, deletes old ReplicaSets beyond revisionHistoryLimit, and
// writes the Deployment status (replicas, updated, ready, available, unavailable,
// observedGeneration, and the Available and Progressing conditions) through the
// /status subresource.
//
// Rollouts (reference §3.1; progress.go, sync.go): the Progressing condition goes
// NewReplicaSetCreated (or FoundNewReplicaSet) → ReplicaSetUpdated on every sign of
// progress (its lastUpdateTime refreshed) → NewReplicaSetAvailable when complete,
// or False/ProgressDeadlineExceeded once progressDeadlineSeconds pass without
// progress (the Deployment is requeued for that moment, plus the second upstream
// adds; a status only, never an automatic rollback). A paused Deployment
// (spec.paused) makes no rollout progress: a template change creates no
// ReplicaSet, scaling stays proportional, Progressing is Unknown/DeploymentPaused,
// then Unknown/DeploymentResumed. A rollback is a template change back to an old
// ReplicaSet's template (see RollbackTo, the client side of `kubectl rollout
// undo`): that ReplicaSet becomes the new one with the next revision, and no
// ReplicaSet is created.
//
// Simplifications, each a model decision:
//   - one serial worker instead of 5 (see package workqueue);
//   - ReplicaSets are found by controller owner reference only: orphan adoption and
//     release (ClaimReplicaSets) are not modelled;
//   - no collisionCount: a name collision with a foreign ReplicaSet is retried; no
//     ReplicaFailure condition (the model's ReplicaSets carry no conditions) and no
//     ReplicaSetCreateError condition; the deprecated server-side rollbackTo
//     (extensions/v1beta1) is not modelled, rollback is client-side as in kubectl;
//   - the Deployment's own revision annotation is not written (status updates carry
//     only status in this model);
//   - the writes one sync decides are issued together, one per ReplicaSet with its
//     final size, where upstream may issue two sequential updates to one
//     ReplicaSet (unhealthy cleanup, then scale-down) in a sync;
//   - with CascadeDelete, deleting a Deployment deletes its ReplicaSets, standing in
//     for the garbage collector's background cascading deletion.
package deployment

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/controller/manager/informers"
	"github.com/kubesim/kubesim/model/controller/manager/workqueue"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

// Component is the trace component name.
const Component = "controller-manager/deployment"

// Telemetry metric names.
const (
	// MetricReadySeconds is observed once per Deployment: seconds from its creation
	// to the first status showing every replica updated and available.
	MetricReadySeconds = "deployment_ready_seconds"
	// MetricRolloutSeconds is observed once per rollout of a new template: seconds
	// from the controller observing the template change (its first sync of the new
	// generation: the new ReplicaSet created, or an old one made new again by a
	// rollback) to the first status showing the rollout complete.
	MetricRolloutSeconds = "rollout_duration_seconds"
	// GaugeAvailablePrefix + "<ns>/<name>" is the Deployment's availableReplicas,
	// recorded when it changes.
	GaugeAvailablePrefix = "replicas_available/"
)

// maxRetries is how often a failing Deployment is retried before it is dropped
// (deployment_controller.go maxRetries).
const maxRetries = 15

// Config configures the controller.
type Config struct {
	// SyncLatency is the time from a Deployment's pickup off the work queue to its
	// sync's decisions (queue pickup plus processing). A model parameter.
	SyncLatency dist.Spec
	// CascadeDelete makes the controller delete the ReplicaSets of a deleted
	// Deployment, as the garbage collector would.
	CascadeDelete bool
}

// DefaultConfig returns a sync latency log-normal with median 1 ms and cascading
// deletion on.
func DefaultConfig() Config {
	return Config{SyncLatency: dist.LogNormal(time.Millisecond, 0.5), CascadeDelete: true}
}

// Validate checks the configuration.
func (c *Config) Validate(reg *dist.Registry) error {
	if err := reg.Validate(c.SyncLatency); err != nil {
		return fmt.Errorf("syncLatency: %w", err)
	}
	return nil
}

// Controller is the Deployment controller.
type Controller struct {
	eng                         *sim.Engine
	client, step2, step7, step0 *apiserver.Client
	cfg                         Config
	tel                         sim.Telemetry
	factory                     *informers.Factory
	dInf, rsInf, podInf         *apiserver.Informer
	queue                       *workqueue.Queue
	state                       map[api.UID]*dstate
	// mine holds the ReplicaSets this controller wrote, by owner UID and name, until
	// the informer shows them (read-your-writes; see ownedReplicaSets).
	mine map[api.UID]map[string]*api.ReplicaSet
	// podCount counts the cached pods per controlling ReplicaSet UID, so a pod
	// deletion can tell in O(ReplicaSets) whether a Recreate Deployment has none left.
	podCount map[api.UID]int
	started  bool
}

// dstate is what the controller remembers of a Deployment for its telemetry.
type dstate struct {
	reachedGen int64 // generation whose desired state was reported (step 7)
	readySeen  bool  // deployment_ready_seconds observed
	avail      int32 // last availableReplicas gauged
	gauged     bool
	written    bool                 // status holds the last status written
	status     api.DeploymentStatus // ... at resource version writtenRV
	writtenRV  int64
	// rolling is set while a rollout to a new template runs: since rolloutStart,
	// to revision rolloutRevision.
	rolling         bool
	rolloutStart    sim.Time
	rolloutRevision int64
}

// New returns a controller that talks to the apiserver through client.
func New(eng *sim.Engine, client *apiserver.Client, cfg Config, reg *dist.Registry, tel sim.Telemetry) (*Controller, error) {
	if err := cfg.Validate(reg); err != nil {
		return nil, fmt.Errorf("deployment controller: %w", err)
	}
	if tel == nil {
		tel = sim.Discard
	}
	c := &Controller{
		eng: eng, client: client, cfg: cfg, tel: tel,
		step0: client.WithStep(0), step2: client.WithStep(2), step7: client.WithStep(7),
		state: map[api.UID]*dstate{},
		mine:  map[api.UID]map[string]*api.ReplicaSet{},

		podCount: map[api.UID]int{},
	}
	opts := workqueue.DefaultOptions()
	opts.MaxRetries = maxRetries
	c.queue = workqueue.New(eng, reg.MustNew(cfg.SyncLatency, eng.Source("controller/deployment/sync")), c.sync, opts)
	return c, nil
}

// UseInformers makes Start take its informers from a shared factory (call before
// Start). Without it Start creates a private factory.
func (c *Controller) UseInformers(f *informers.Factory) { c.factory = f }

// Start starts the informers; the work queue runs once they have synced.
func (c *Controller) Start() {
	if c.started {
		return
	}
	c.started = true
	if c.factory == nil {
		c.factory = informers.NewFactory(c.client)
	}
	c.dInf = c.factory.Informer(api.KindDeployment, apiserver.Handlers{
		OnAdd:    func(o api.Object) { c.enqueue(o) },
		OnUpdate: func(_, o api.Object) { c.enqueue(o) },
		OnDelete: c.onDeploymentDelete,
	})
	c.rsInf = c.factory.Informer(api.KindReplicaSet, apiserver.Handlers{
		OnAdd:    c.onRSAdd,
		OnUpdate: c.onRSUpdate,
		OnDelete: c.onRSDelete,
	})
	c.podInf = c.factory.Informer(api.KindPod, apiserver.Handlers{
		OnAdd: func(o api.Object) {
			if ref := o.Meta().ControllerRef(); ref != nil && ref.Kind == api.KindReplicaSet {
				c.podCount[ref.UID]++
			}
		},
		OnUpdate: func(old, cur api.Object) {
			oref, cref := old.Meta().ControllerRef(), cur.Meta().ControllerRef()
			if oref != nil && oref.Kind == api.KindReplicaSet {
				c.dropPod(oref.UID)
			}
			if cref != nil && cref.Kind == api.KindReplicaSet {
				c.podCount[cref.UID]++
			}
		},
		OnDelete: c.onPodDelete,
	})
	informers.WhenSynced(c.queue.Start, c.dInf, c.rsInf, c.podInf)
}

func keyOf(o api.Object) string { m := o.Meta(); return m.Namespace + "/" + m.Name }

func splitKey(key string) (ns, name string) {
	i := strings.IndexByte(key, '/')
	return key[:i], key[i+1:]
}

func (c *Controller) enqueue(o api.Object) { c.queue.Add(keyOf(o)) }

// ownerDeployment resolves an object's controller reference to a cached Deployment.
func (c *Controller) ownerDeployment(o api.Object) *api.Deployment {
	ref := o.Meta().ControllerRef()
	if ref == nil || ref.Kind != api.KindDeployment {
		return nil
	}
	d, ok := c.dInf.Get(o.Meta().Namespace, ref.Name)
	if !ok || d.Meta().UID != ref.UID {
		return nil
	}
	return d.(*api.Deployment)
}

func (c *Controller) onRSAdd(o api.Object) {
	c.caughtUp(o, false)
	if d := c.ownerDeployment(o); d != nil {
		c.enqueue(d)
	}
}

func (c *Controller) onRSDelete(o api.Object) {
	c.caughtUp(o, true)
	if d := c.ownerDeployment(o); d != nil {
		c.enqueue(d)
	}
}

// remember records a ReplicaSet this controller just wrote.
func (c *Controller) remember(rs *api.ReplicaSet) {
	ref := rs.ControllerRef()
	if ref == nil {
		return
	}
	m := c.mine[ref.UID]
	if m == nil {
		m = map[string]*api.ReplicaSet{}
		c.mine[ref.UID] = m
	}
	m[rs.Name] = rs
}

// caughtUp forgets a remembered write once the informer shows it (or the object is
// gone).
func (c *Controller) caughtUp(o api.Object, deleted bool) {
	ref := o.Meta().ControllerRef()
	if ref == nil {
		return
	}
	m := c.mine[ref.UID]
	if w, ok := m[o.Meta().Name]; ok && (deleted || w.UID != o.Meta().UID || o.Meta().ResourceVersion >= w.ResourceVersion) {
		delete(m, o.Meta().Name)
		if len(m) == 0 {
			delete(c.mine, ref.UID)
		}
	}
}

// ownedReplicaSets returns the ReplicaSets the Deployment controls: the informer's,
// overlaid with this controller's own writes the informer does not show yet. Upstream
// reads the informer alone and, when it lags, retries after AlreadyExists or
// Conflict errors; the overlay keeps the model's traces and request counts free of
// those retries without changing any decision.
func (c *Controller) ownedReplicaSets(d *api.Deployment) []*api.ReplicaSet {
	var out []*api.ReplicaSet
	mine := c.mine[d.UID]
	seen := 0
	for _, x := range c.rsInf.ByOwner(d.UID) {
		rs := x.(*api.ReplicaSet)
		if ref := rs.ControllerRef(); ref == nil || ref.Kind != api.KindDeployment {
			continue
		}
		if w, ok := mine[rs.Name]; ok && w.UID == rs.UID {
			seen++
			if w.ResourceVersion > rs.ResourceVersion {
				rs = w
			}
		}
		out = append(out, rs)
	}
	if seen < len(mine) {
		names := make([]string, 0, len(mine))
		for n := range mine {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			w := mine[n]
			if _, ok := c.rsInf.Get(w.Namespace, n); !ok {
				out = append(out, w) // created by us, not in the cache yet
			}
		}
	}
	return out
}

func (c *Controller) onRSUpdate(old, cur api.Object) {
	c.caughtUp(cur, false)
	if old.Meta().ResourceVersion == cur.Meta().ResourceVersion {
		return
	}
	oref, cref := old.Meta().ControllerRef(), cur.Meta().ControllerRef()
	if oref != nil && (cref == nil || oref.UID != cref.UID) {
		if d := c.ownerDeployment(old); d != nil {
			c.enqueue(d)
		}
	}
	if d := c.ownerDeployment(cur); d != nil {
		c.enqueue(d)
	}
}

// onPodDelete wakes a Recreate Deployment once its last pod is gone
// (deployment_controller.go deletePod).
func (c *Controller) onPodDelete(o api.Object) {
	ref := o.Meta().ControllerRef()
	if ref == nil || ref.Kind != api.KindReplicaSet {
		return
	}
	c.dropPod(ref.UID)
	rs, ok := c.rsInf.Get(o.Meta().Namespace, ref.Name)
	if !ok || rs.Meta().UID != ref.UID {
		return
	}
	d := c.ownerDeployment(rs)
	if d == nil || d.Spec.Strategy.Type != api.RecreateStrategy {
		return
	}
	for _, r := range c.rsInf.ByOwner(d.UID) {
		if c.podCount[r.Meta().UID] > 0 {
			return
		}
	}
	c.enqueue(d)
}

func (c *Controller) dropPod(rsUID api.UID) {
	if c.podCount[rsUID]--; c.podCount[rsUID] <= 0 {
		delete(c.podCount, rsUID)
	}
}

func (c *Controller) onDeploymentDelete(o api.Object) {
	d := o.(*api.Deployment)
	delete(c.state, d.UID)
	delete(c.mine, d.UID)
	c.enqueue(d)
	if !c.cfg.CascadeDelete {
		return
	}
	for _, r := range c.rsInf.ByOwner(d.UID) {
		rs := r.(*api.ReplicaSet)
		c.tel.Trace(sim.Record{Time: c.eng.Now(), Component: Component, Action: "delete-replicaset", Object: api.Ref(rs),
			Detail: fmt.Sprintf("deletes ReplicaSet %s/%s: its Deployment %s was deleted (background cascading deletion, as the garbage collector does)", rs.Namespace, rs.Name, d.Name)})
		c.step0.Delete(api.KindReplicaSet, rs.Namespace, rs.Name, apiserver.DeleteOptions{UID: rs.UID}, nil)
	}
}

// sync reconciles one Deployment (deployment_controller.go syncDeployment): a
// deleted Deployment only gets its status; then the Paused/Resumed condition is
// kept (checkPausedConditions); a paused Deployment or a scaling event is handled
// by proportional scaling alone (sync.go sync), so a paused rollout makes no
// progress; otherwise the strategy's rollout runs.
func (c *Controller) sync(key string) {
	ns, name := splitKey(key)
	o, ok := c.dInf.Get(ns, name)
	if !ok {
		c.queue.Done(key, nil)
		return
	}
	d := c.effective(o.(*api.Deployment))
	r := &run{c: c, key: key, d: d}
	for _, rs := range c.ownedReplicaSets(d) {
		r.all = append(r.all, &rsPlan{rs: rs, replicas: rs.Spec.Replicas})
	}
	byCreation(r.all)
	for _, p := range r.all {
		if r.newRS == nil && equalIgnoreHash(&p.rs.Spec.Template, &d.Spec.Template) {
			r.newRS = p // FindNewReplicaSet: the oldest with the current template
			continue
		}
		r.old = append(r.old, p)
	}
	if d.DeletionTimestamp != nil {
		r.plainStatus()
		return
	}
	r.checkPaused(func() {
		r.syncNewRS(false, func() {
			d := r.d
			if d.Spec.Paused {
				// sync.go sync: scale (proportionally when several ReplicaSets are
				// active), clean up old ReplicaSets, status without progress estimate.
				scale(&d.Spec, &d.Status, r.newRS, r.old)
				r.cleanup()
				r.apply(r.plainStatus)
				return
			}
			if isScalingEvent(&d.Spec, r.all) {
				scale(&d.Spec, &d.Status, r.newRS, r.old)
				r.apply(r.plainStatus)
				return
			}
			if d.Spec.Strategy.Type == api.RecreateStrategy {
				r.recreate()
				return
			}
			r.rolling()
		})
	})
}

// effective returns the Deployment with the status this controller last wrote when
// the cache does not show that write yet (only this controller writes Deployment
// status), so a sync never decides on, or compares with, a status older than its own.
func (c *Controller) effective(d *api.Deployment) *api.Deployment {
	ds := c.state[d.UID]
	if ds == nil || !ds.written || d.ResourceVersion > ds.writtenRV {
		return d
	}
	nd := *d // shallow: only Status is replaced, nothing shared is modified
	nd.Status = ds.status
	return &nd
}

func (c *Controller) dstate(d *api.Deployment) *dstate {
	ds := c.state[d.UID]
	if ds == nil {
		ds = &dstate{}
		c.state[d.UID] = ds
	}
	return ds
}

// run is one sync of one Deployment: the plan and the writes in flight.
type run struct {
	c       *Controller
	key     string
	d       *api.Deployment // the Deployment, with the status this sync wrote
	all     []*rsPlan       // every owned ReplicaSet, oldest first (new one included)
	newRS   *rsPlan
	created bool // the new ReplicaSet was created by this sync
	old     []*rsPlan
	deletes []*api.ReplicaSet
	pending int
	err     error
	then    func()
}

func (r *run) finish(err error) { r.c.queue.Done(r.key, err) }

// checkPaused is checkPausedConditions (sync.go): pausing sets Progressing to
// Unknown/DeploymentPaused and resuming to Unknown/DeploymentResumed, so the time
// spent paused never counts against progressDeadlineSeconds; a
// ProgressDeadlineExceeded condition is never overwritten.
func (r *run) checkPaused(then func()) {
	d := r.d
	if !hasProgressDeadline(d) {
		then()
		return
	}
	cond := GetCondition(&d.Status, api.DeploymentProgressing)
	if cond != nil && cond.Reason == ReasonProgressDeadlineExceeded {
		then()
		return
	}
	pausedExists := cond != nil && cond.Reason == ReasonDeploymentPaused
	now := r.c.eng.Now()
	var c api.DeploymentCondition
	switch {
	case d.Spec.Paused && !pausedExists:
		c = newCondition(api.DeploymentProgressing, api.ConditionUnknown, ReasonDeploymentPaused, "Deployment is paused", now)
	case !d.Spec.Paused && pausedExists:
		c = newCondition(api.DeploymentProgressing, api.ConditionUnknown, ReasonDeploymentResumed, "Deployment is resumed", now)
	default:
		then()
		return
	}
	st := d.Status
	setCondition(&st, c)
	r.putStatus(st, r.c.step0, func(err error) {
		if err != nil {
			r.finish(err)
			return
		}
		then()
	})
}

// rolling is rolloutRolling: create the new ReplicaSet if needed, scale it up
// within maxSurge, else scale old ones down within maxUnavailable, else clean up;
// then the rollout status with its progress estimate.
func (r *run) rolling() {
	r.syncNewRS(true, func() {
		spec := &r.d.Spec
		if reconcileNewReplicaSet(spec, r.all, r.newRS) {
			r.traceStep()
			r.apply(r.rolloutStatus)
			return
		}
		if reconcileOldReplicaSets(spec, r.all, activeOnly(r.old), r.newRS) {
			r.traceStep()
			r.apply(r.rolloutStatus)
			return
		}
		r.traceStep()
		if complete(r.d, &r.d.Status) {
			r.cleanup()
		}
		r.apply(r.rolloutStatus)
	})
}

// traceStep records one step of a rolling update (step 7: the controller drives the
// observed state towards the new template): what this sync scaled, the limits it
// obeyed and where the totals stand. Nothing is recorded without a change or when
// the Deployment has a single ReplicaSet (no rollout).
func (r *run) traceStep() {
	if len(r.all) < 2 || r.newRS == nil {
		return
	}
	spec := &r.d.Spec
	var parts []string
	if r.newRS.changed() || r.created {
		parts = append(parts, fmt.Sprintf("new ReplicaSet %s to %d (maxSurge %d)", r.newRS.name(), r.newRS.replicas, MaxSurge(spec)))
	}
	var olds []string
	for _, p := range r.old {
		if p.changed() {
			olds = append(olds, fmt.Sprintf("old %s to %d", p.name(), p.replicas))
		}
	}
	if len(olds) > 0 {
		parts = append(parts, strings.Join(olds, ", ")+fmt.Sprintf(" (maxUnavailable %d)", MaxUnavailable(spec)))
	}
	if len(parts) == 0 {
		return
	}
	r.c.tel.Trace(sim.Record{Time: r.c.eng.Now(), Step: 7, Component: Component, Action: "rollout-step", Object: api.Ref(r.d),
		Detail: fmt.Sprintf("rolling update: scaled %s; now %d pods planned (at most replicas %d + maxSurge %d); the ReplicaSets last reported %d available (floor replicas − maxUnavailable = %d)",
			strings.Join(parts, ", "), sumReplicas(r.all), spec.Replicas, MaxSurge(spec), sumAvailable(r.all), spec.Replicas-MaxUnavailable(spec))})
}

// recreate is rolloutRecreate: old ReplicaSets to 0, wait until their pods are gone,
// then the new ReplicaSet to replicas.
func (r *run) recreate() {
	scaled := false
	for _, p := range activeOnly(r.old) {
		p.set(0, "recreate: old ReplicaSets to 0 before new pods start")
		scaled = true
	}
	if scaled {
		r.apply(r.rolloutStatus)
		return
	}
	if r.oldPodsRunning() {
		r.rolloutStatus()
		return
	}
	r.syncNewRS(true, func() {
		r.newRS.set(r.d.Spec.Replicas, "recreate: new ReplicaSet to spec.replicas once the old pods are gone")
		if complete(r.d, &r.d.Status) {
			r.cleanup()
		}
		r.apply(r.rolloutStatus)
	})
}

// oldPodsRunning reports whether old ReplicaSets still have pods that are not
// terminal (recreate.go oldPodsRunning).
func (r *run) oldPodsRunning() bool {
	for _, p := range r.old {
		if p.rs.Status.Replicas > 0 {
			return true
		}
	}
	for _, p := range r.old {
		for _, o := range r.c.podInf.ByOwner(p.rs.UID) {
			if !o.(*api.Pod).IsTerminal() {
				return true
			}
		}
	}
	return false
}

// cleanup deletes old ReplicaSets beyond revisionHistoryLimit, lowest revision first,
// if they are scaled to 0 and caught up (sync.go cleanupDeployment).
func (r *run) cleanup() {
	var alive []*rsPlan
	for _, p := range r.old {
		if p.rs.DeletionTimestamp == nil {
			alive = append(alive, p)
		}
	}
	diff := len(alive) - int(r.d.Spec.RevisionHistoryLimit)
	if diff <= 0 {
		return
	}
	slices.SortStableFunc(alive, func(a, b *rsPlan) int {
		ra, rb := revision(a.rs), revision(b.rs)
		if ra == rb {
			return creationCmp(a, b)
		}
		if ra < rb {
			return -1
		}
		return 1
	})
	for _, p := range alive[:diff] {
		rs := p.rs
		if rs.Status.Replicas != 0 || rs.Spec.Replicas != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		r.deletes = append(r.deletes, rs)
	}
}

// syncNewRS finds or creates the new ReplicaSet and keeps its revision annotation
// (and minReadySeconds) current, then calls then (sync.go getNewReplicaSet).
func (r *run) syncNewRS(create bool, then func()) {
	maxOld := maxRevision(r.old)
	newRevision := maxOld + 1
	if r.newRS != nil {
		rs := r.newRS.rs
		oldRev := rs.Annotations[api.AnnotationRevision]
		n, err := strconv.ParseInt(oldRev, 10, 64)
		revStale := (err == nil && n < newRevision) || oldRev == ""
		if !revStale && rs.Spec.MinReadySeconds == r.d.Spec.MinReadySeconds && !annotationsToCopy(r.d, rs) {
			r.foundNewRS(then) // the common case: nothing to write, no copy made
			return
		}
		cp := r.newRS.rs.DeepCopy()
		changed := setNewRSAnnotations(r.d, cp, newRevision, true)
		if !changed && cp.Spec.MinReadySeconds == r.d.Spec.MinReadySeconds {
			r.foundNewRS(then)
			return
		}
		cp.Spec.MinReadySeconds = r.d.Spec.MinReadySeconds
		detail := fmt.Sprintf("marks ReplicaSet %s/%s as revision %d of Deployment %s (its template is the current one)", cp.Namespace, cp.Name, newRevision, r.d.Name)
		// An existing ReplicaSet that already had a revision and takes the next one
		// is an old template coming back: a rollback (or a roll forward to a
		// template seen before). Its pods are reused; no ReplicaSet is created.
		reused := revStale && oldRev != "" && len(r.all) > 1
		if reused {
			detail = fmt.Sprintf("the Deployment's template matches old ReplicaSet %s/%s (revision %s) again, as after a rollback: it becomes the new ReplicaSet with revision %d and no ReplicaSet is created (revision history %s)",
				cp.Namespace, cp.Name, oldRev, newRevision, cp.Annotations[annotationRevisionHistory])
		}
		r.c.tel.Trace(sim.Record{Time: r.c.eng.Now(), Step: 2, Component: Component, Action: "update-replicaset", Object: api.Ref(cp), Detail: detail})
		r.c.step2.Update(cp, func(o api.Object, err error) {
			if err != nil {
				r.finish(err)
				return
			}
			r.newRS.rs = o.(*api.ReplicaSet)
			r.c.remember(r.newRS.rs)
			if reused {
				r.startRollout(newRevision)
			}
			then() // upstream returns the updated ReplicaSet without the status write
		})
		return
	}
	if !create {
		then()
		return
	}
	d := r.d
	hash := ComputeHash(&d.Spec.Template)
	tmpl := d.DeepCopy().Spec.Template
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	tmpl.Labels[api.LabelPodTemplateHash] = hash
	sel := d.Spec.Selector.DeepCopy()
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[api.LabelPodTemplateHash] = hash
	rs := &api.ReplicaSet{
		ObjectMeta: api.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			Labels:          maps.Clone(tmpl.Labels),
			OwnerReferences: []api.OwnerReference{{Kind: api.KindDeployment, Name: d.Name, UID: d.UID, Controller: true}},
		},
		Spec: api.ReplicaSetSpec{MinReadySeconds: d.Spec.MinReadySeconds, Selector: sel, Template: tmpl},
	}
	rs.Spec.Replicas = newRSNewReplicas(&d.Spec, r.all, 0)
	setNewRSAnnotations(d, rs, newRevision, false)
	replicas := rs.Spec.Replicas
	r.c.tel.Trace(sim.Record{Time: r.c.eng.Now(), Step: 2, Component: Component, Action: "create-replicaset", Object: api.Ref(rs),
		Detail: fmt.Sprintf("the deployment controller, watching Deployments, creates ReplicaSet %s/%s with %d replicas (pod-template-hash %s, revision %d)",
			rs.Namespace, rs.Name, replicas, hash, newRevision)})
	r.c.step2.Create(rs, func(o api.Object, err error) {
		if err != nil {
			// AlreadyExists: the cache has not shown it yet, or a foreign ReplicaSet
			// holds the name; either way retry after backoff.
			r.finish(err)
			return
		}
		r.c.remember(o.(*api.ReplicaSet))
		p := &rsPlan{rs: o.(*api.ReplicaSet), replicas: replicas}
		r.newRS = p
		r.created = true
		r.all = append(r.all, p)
		if len(r.all) > 1 {
			r.startRollout(newRevision)
		}
		if !hasProgressDeadline(d) {
			then()
			return
		}
		// sync.go getNewReplicaSet: a created ReplicaSet sets Progressing to
		// True/NewReplicaSetCreated (lastUpdateTime now: the deadline counts from here).
		st := r.d.Status
		setCondition(&st, newCondition(api.DeploymentProgressing, api.ConditionTrue, ReasonNewReplicaSetCreated,
			fmt.Sprintf("Created new replica set %q", p.name()), r.c.eng.Now()))
		r.putStatus(st, r.c.step0, func(err error) {
			if err != nil {
				r.finish(err)
				return
			}
			then()
		})
	})
}

// foundNewRS is the end of getNewReplicaSet for an existing new ReplicaSet: when
// progress is tracked but no Progressing condition was recorded yet, it records
// True/FoundNewReplicaSet, so the deadline counts from when the controller first
// noticed the ReplicaSet.
func (r *run) foundNewRS(then func()) {
	if !hasProgressDeadline(r.d) || GetCondition(&r.d.Status, api.DeploymentProgressing) != nil {
		then()
		return
	}
	st := r.d.Status
	setCondition(&st, newCondition(api.DeploymentProgressing, api.ConditionTrue, ReasonFoundNewReplicaSet,
		fmt.Sprintf("Found new replica set %q", r.newRS.name()), r.c.eng.Now()))
	r.putStatus(st, r.c.step0, func(err error) {
		if err != nil {
			r.finish(err)
			return
		}
		then()
	})
}

// startRollout notes that the controller observed a new template (a new ReplicaSet
// created next to old ones, or an old one made new again) and times the rollout.
func (r *run) startRollout(revision int64) {
	ds := r.c.dstate(r.d)
	ds.rolling, ds.rolloutStart, ds.rolloutRevision = true, r.c.eng.Now(), revision
	r.c.tel.Trace(sim.Record{Time: r.c.eng.Now(), Step: 7, Component: Component, Action: "rollout-start", Object: api.Ref(r.d),
		Detail: fmt.Sprintf("rollout of revision %d starts (generation %d observed): ReplicaSet %s is the new one, %d old ReplicaSet(s) to scale down",
			revision, r.d.Generation, r.newRS.name(), len(activeOnly(r.old)))})
}

// skipCopy lists the Deployment annotations never copied to ReplicaSets
// (util/deployment_util.go skipCopyAnnotation).
func skipCopy(k string) bool {
	switch k {
	case annotationLastApplied, api.AnnotationRevision, annotationRevisionHistory,
		AnnotationDesiredReplicas, AnnotationMaxReplicas, "deprecated.deployment.rollback.to":
		return true
	}
	return false
}

func annotationsToCopy(d *api.Deployment, rs *api.ReplicaSet) bool {
	for k, v := range d.Annotations {
		if !skipCopy(k) && rs.Annotations[k] != v {
			return true
		}
	}
	return false
}

// setNewRSAnnotations is SetNewReplicaSetAnnotations: copy the Deployment's
// annotations, raise the revision (keeping the old one in the revision history), and
// for a ReplicaSet about to be created set the replica annotations.
func setNewRSAnnotations(d *api.Deployment, rs *api.ReplicaSet, newRevision int64, exists bool) bool {
	changed := false
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	for k, v := range d.Annotations {
		if cur, ok := rs.Annotations[k]; skipCopy(k) || (ok && cur == v) {
			continue
		}
		rs.Annotations[k] = v
		changed = true
	}
	oldRev, had := rs.Annotations[api.AnnotationRevision]
	oldN, err := strconv.ParseInt(oldRev, 10, 64)
	if err != nil {
		if oldRev != "" {
			return changed
		}
		oldN = 0
	}
	if oldN < newRevision {
		rs.Annotations[api.AnnotationRevision] = strconv.FormatInt(newRevision, 10)
		changed = true
		if had {
			if h := rs.Annotations[annotationRevisionHistory]; h != "" {
				rs.Annotations[annotationRevisionHistory] = h + "," + oldRev
			} else {
				rs.Annotations[annotationRevisionHistory] = oldRev
			}
		}
	}
	if !exists && setReplicasAnnotations(rs, d.Spec.Replicas, d.Spec.Replicas+MaxSurge(&d.Spec)) {
		changed = true
	}
	return changed
}

// setReplicasAnnotations records desired and max replicas on rs
// (util/deployment_util.go SetReplicasAnnotations).
func setReplicasAnnotations(rs *api.ReplicaSet, desired, maxReplicas int32) bool {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	d, m := strconv.FormatInt(int64(desired), 10), strconv.FormatInt(int64(maxReplicas), 10)
	if rs.Annotations[AnnotationDesiredReplicas] == d && rs.Annotations[AnnotationMaxReplicas] == m {
		return false
	}
	rs.Annotations[AnnotationDesiredReplicas] = d
	rs.Annotations[AnnotationMaxReplicas] = m
	return true
}

func replicasAnnotationsStale(rs *api.ReplicaSet, desired, maxReplicas int32) bool {
	return rs.Annotations[AnnotationDesiredReplicas] != strconv.FormatInt(int64(desired), 10) ||
		rs.Annotations[AnnotationMaxReplicas] != strconv.FormatInt(int64(maxReplicas), 10)
}

// apply issues the planned ReplicaSet updates and deletions together and calls then
// once all succeeded; the first error ends the sync (the key is retried).
func (r *run) apply(then func()) {
	spec := &r.d.Spec
	desired, maxReplicas := spec.Replicas, spec.Replicas+MaxSurge(spec)
	for _, p := range r.all {
		if !p.changed() && !(p.touch && replicasAnnotationsStale(p.rs, desired, maxReplicas)) {
			continue
		}
		cp := p.rs.DeepCopy()
		from := cp.Spec.Replicas
		cp.Spec.Replicas = p.replicas
		setReplicasAnnotations(cp, desired, maxReplicas)
		if p.changed() {
			dir := "up"
			if p.replicas < from {
				dir = "down"
			}
			r.c.tel.Trace(sim.Record{Time: r.c.eng.Now(), Step: 2, Component: Component, Action: "scale-replicaset", Object: api.Ref(cp),
				Detail: fmt.Sprintf("the deployment controller scales ReplicaSet %s/%s %s from %d to %d (%s)", cp.Namespace, cp.Name, dir, from, p.replicas, p.why)})
		} else {
			r.c.tel.Trace(sim.Record{Time: r.c.eng.Now(), Component: Component, Action: "annotate-replicaset", Object: api.Ref(cp),
				Detail: fmt.Sprintf("records desired replicas %d (max %d) on ReplicaSet %s/%s, whose size stays %d", desired, maxReplicas, cp.Namespace, cp.Name, from)})
		}
		r.pending++
		r.c.step2.Update(cp, func(o api.Object, err error) {
			if err == nil {
				r.c.remember(o.(*api.ReplicaSet))
			}
			r.written(o, err)
		})
	}
	for _, rs := range r.deletes {
		r.c.tel.Trace(sim.Record{Time: r.c.eng.Now(), Component: Component, Action: "delete-replicaset", Object: api.Ref(rs),
			Detail: fmt.Sprintf("deletes old ReplicaSet %s/%s (revision %d) beyond revisionHistoryLimit %d", rs.Namespace, rs.Name, revision(rs), spec.RevisionHistoryLimit)})
		r.pending++
		r.c.step0.Delete(api.KindReplicaSet, rs.Namespace, rs.Name, apiserver.DeleteOptions{UID: rs.UID}, func(err error) {
			if apiserver.IsNotFound(err) {
				err = nil
			}
			r.written(nil, err)
		})
	}
	if r.pending == 0 {
		then()
		return
	}
	r.then = then
}

func (r *run) written(_ api.Object, err error) {
	if err != nil && r.err == nil {
		r.err = err
	}
	r.pending--
	if r.pending > 0 {
		return
	}
	if r.err != nil {
		r.finish(r.err)
		return
	}
	r.then()
}

// rolloutStatus is syncRolloutStatus (progress.go): the status with the
// Progressing condition estimated; when nothing changed, a rollout that is neither
// complete nor timed out is looked at again when its deadline passes.
func (r *run) rolloutStatus() { r.finalStatus(true) }

// plainStatus is syncDeploymentStatus (sync.go): counts and the Available
// condition, no progress estimate (paused Deployments, scaling events, deletion).
func (r *run) plainStatus() { r.finalStatus(false) }

// finalStatus writes the Deployment status computed from the plan when it changed
// and ends the sync.
func (r *run) finalStatus(rollout bool) {
	c, d := r.c, r.d
	now := c.eng.Now()
	st := calculateStatus(d, r.all, r.newRS, now)
	if rollout {
		progressConditions(d, &st, r.newRS, now)
	}
	if reflect.DeepEqual(st, d.Status) {
		if rollout {
			switch after := stuckRequeue(d, &st, now); {
			case after == 0:
				c.queue.AddRateLimited(r.key)
			case after > 0:
				c.queue.AddAfter(r.key, after)
			}
		}
		r.finish(nil)
		return
	}
	ds := c.dstate(d)
	reached := complete(d, &st) && ds.reachedGen < d.Generation
	client := c.step0
	if reached {
		client = c.step7
	}
	r.putStatus(st, client, func(err error) {
		if err != nil {
			r.finish(err)
			return
		}
		now := c.eng.Now()
		if reached {
			ds.reachedGen = d.Generation
			c.tel.Trace(sim.Record{Time: now, Step: 7, Component: Component, Action: "status", Object: api.Ref(d),
				Detail: fmt.Sprintf("desired state reached: %d/%d replicas available, all updated to generation %d (observed == desired)",
					st.AvailableReplicas, d.Spec.Replicas, d.Generation)})
			if !ds.readySeen {
				ds.readySeen = true
				c.tel.Observe(MetricReadySeconds, now, now.Sub(d.CreationTimestamp).Seconds())
			}
		} else {
			c.tel.Trace(sim.Record{Time: now, Component: Component, Action: "status", Object: api.Ref(d),
				Detail: fmt.Sprintf("status: %d replicas, %d updated, %d ready, %d available, %d unavailable (desired %d, observedGeneration %d)",
					st.Replicas, st.UpdatedReplicas, st.ReadyReplicas, st.AvailableReplicas, st.UnavailableReplicas, d.Spec.Replicas, st.ObservedGeneration)})
		}
		if ds.rolling && complete(d, &st) {
			ds.rolling = false
			took := now.Sub(ds.rolloutStart)
			name := "?"
			if r.newRS != nil {
				name = r.newRS.name()
			}
			c.tel.Trace(sim.Record{Time: now, Step: 7, Component: Component, Action: "rollout-complete", Object: api.Ref(d),
				Detail: fmt.Sprintf("rollout complete: revision %d (ReplicaSet %s) runs all %d replicas, available; no old pods left; the rollout took %.3fs",
					ds.rolloutRevision, name, d.Spec.Replicas, took.Seconds())})
			c.tel.Observe(MetricRolloutSeconds, now, took.Seconds())
		}
		if !ds.gauged || ds.avail != st.AvailableReplicas {
			ds.gauged, ds.avail = true, st.AvailableReplicas
			c.tel.Gauge(GaugeAvailablePrefix+d.Namespace+"/"+d.Name, now, float64(st.AvailableReplicas))
		}
		r.finish(nil)
	})
}

// putStatus writes st as the Deployment's status through client (the /status
// subresource), traces the condition changes, and makes st the run's view of the
// Deployment before calling then.
func (r *run) putStatus(st api.DeploymentStatus, client *apiserver.Client, then func(error)) {
	c, d := r.c, r.d
	obj := &api.Deployment{ObjectMeta: api.ObjectMeta{Name: d.Name, Namespace: d.Namespace}, Status: st}
	client.UpdateStatus(obj, func(o api.Object, err error) {
		if err != nil {
			then(err)
			return
		}
		ds := c.dstate(d)
		ds.written, ds.status, ds.writtenRV = true, st, o.Meta().ResourceVersion
		r.traceConditions(&d.Status, &st)
		nd := *r.d
		nd.Status = st
		nd.ResourceVersion = o.Meta().ResourceVersion
		r.d = &nd
		then(nil)
	})
}

// traceConditions records every condition whose status or reason changed.
func (r *run) traceConditions(old, cur *api.DeploymentStatus) {
	d := r.d
	for _, c := range cur.Conditions {
		p := GetCondition(old, c.Type)
		if p != nil && p.Status == c.Status && p.Reason == c.Reason {
			continue
		}
		from := "unset"
		if p != nil {
			from = string(p.Status) + "/" + p.Reason
		}
		why := ""
		switch c.Reason {
		case ReasonProgressDeadlineExceeded:
			since := sim.Time(0)
			if p != nil {
				since = p.LastUpdateTime
			}
			why = fmt.Sprintf("; no progress since %v, more than progressDeadlineSeconds %d: a status only, the rollout is not rolled back automatically",
				since, d.Spec.ProgressDeadlineSeconds)
		case ReasonMinimumReplicasUnavailable:
			why = fmt.Sprintf("; %d available < replicas %d − maxUnavailable %d", cur.AvailableReplicas, d.Spec.Replicas, MaxUnavailable(&d.Spec))
		case ReasonMinimumReplicasAvailable:
			why = fmt.Sprintf("; %d available ≥ replicas %d − maxUnavailable %d", cur.AvailableReplicas, d.Spec.Replicas, MaxUnavailable(&d.Spec))
		}
		r.c.tel.Trace(sim.Record{Time: r.c.eng.Now(), Component: Component, Action: "condition", Object: api.Ref(d),
			Detail: fmt.Sprintf("condition %s: %s -> %s/%s (%s)%s", c.Type, from, c.Status, c.Reason, c.Message, why)})
	}
}
