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
// observedGeneration) through the /status subresource.
//
// Simplifications, each a model decision:
//   - one serial worker instead of 5 (see package workqueue);
//   - ReplicaSets are found by controller owner reference only: orphan adoption and
//     release (ClaimReplicaSets) are not modelled;
//   - no Deployment conditions (Progressing/Available), pause or rollback, and no
//     collisionCount: a name collision with a foreign ReplicaSet is retried;
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

// sync reconciles one Deployment (deployment_controller.go syncDeployment).
func (c *Controller) sync(key string) {
	ns, name := splitKey(key)
	o, ok := c.dInf.Get(ns, name)
	if !ok {
		c.queue.Done(key, nil)
		return
	}
	d := o.(*api.Deployment)
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
		r.status()
		return
	}
	r.syncNewRS(false, func() {
		if isScalingEvent(&d.Spec, r.all) {
			scale(&d.Spec, &d.Status, r.newRS, r.old)
			r.apply(r.status)
			return
		}
		if d.Spec.Strategy.Type == api.RecreateStrategy {
			r.recreate()
			return
		}
		r.rolling()
	})
}

// run is one sync of one Deployment: the plan and the writes in flight.
type run struct {
	c       *Controller
	key     string
	d       *api.Deployment
	all     []*rsPlan // every owned ReplicaSet, oldest first (new one included)
	newRS   *rsPlan
	old     []*rsPlan
	deletes []*api.ReplicaSet
	pending int
	err     error
	then    func()
}

func (r *run) finish(err error) { r.c.queue.Done(r.key, err) }

// rolling is rolloutRolling: create the new ReplicaSet if needed, scale it up
// within maxSurge, else scale old ones down within maxUnavailable, else clean up.
func (r *run) rolling() {
	r.syncNewRS(true, func() {
		spec := &r.d.Spec
		if reconcileNewReplicaSet(spec, r.all, r.newRS) {
			r.apply(r.status)
			return
		}
		if reconcileOldReplicaSets(spec, r.all, activeOnly(r.old), r.newRS) {
			r.apply(r.status)
			return
		}
		if complete(r.d, &r.d.Status) {
			r.cleanup()
		}
		r.apply(r.status)
	})
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
		r.apply(r.status)
		return
	}
	if r.oldPodsRunning() {
		r.status()
		return
	}
	r.syncNewRS(true, func() {
		r.newRS.set(r.d.Spec.Replicas, "recreate: new ReplicaSet to spec.replicas once the old pods are gone")
		if complete(r.d, &r.d.Status) {
			r.cleanup()
		}
		r.apply(r.status)
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
			then() // the common case: nothing to write, no copy made
			return
		}
		cp := r.newRS.rs.DeepCopy()
		changed := setNewRSAnnotations(r.d, cp, newRevision, true)
		if !changed && cp.Spec.MinReadySeconds == r.d.Spec.MinReadySeconds {
			then()
			return
		}
		cp.Spec.MinReadySeconds = r.d.Spec.MinReadySeconds
		r.c.tel.Trace(sim.Record{Time: r.c.eng.Now(), Step: 2, Component: Component, Action: "update-replicaset", Object: api.Ref(cp),
			Detail: fmt.Sprintf("marks ReplicaSet %s/%s as revision %d of Deployment %s (its template is the current one)", cp.Namespace, cp.Name, newRevision, r.d.Name)})
		r.c.step2.Update(cp, func(o api.Object, err error) {
			if err != nil {
				r.finish(err)
				return
			}
			r.newRS.rs = o.(*api.ReplicaSet)
			r.c.remember(r.newRS.rs)
			then()
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
		r.all = append(r.all, p)
		then()
	})
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

// status writes the Deployment status computed from the plan when it changed
// (sync.go syncRolloutStatus / syncDeploymentStatus) and ends the sync.
func (r *run) status() {
	c, d := r.c, r.d
	st := calculateStatus(d, r.all, r.newRS)
	ds := c.state[d.UID]
	if ds == nil {
		ds = &dstate{}
		c.state[d.UID] = ds
	}
	// Compare with the status this controller last wrote when the cache may not
	// show it yet (only this controller writes Deployment status), else the cache.
	prev := d.Status
	if ds.written && d.ResourceVersion <= ds.writtenRV {
		prev = ds.status
	}
	if reflect.DeepEqual(st, prev) {
		r.finish(nil)
		return
	}
	reached := complete(d, &st) && ds.reachedGen < d.Generation
	client := c.step0
	if reached {
		client = c.step7
	}
	obj := &api.Deployment{ObjectMeta: api.ObjectMeta{Name: d.Name, Namespace: d.Namespace}, Status: st}
	client.UpdateStatus(obj, func(o api.Object, err error) {
		if err != nil {
			r.finish(err)
			return
		}
		ds.written, ds.status, ds.writtenRV = true, st, o.Meta().ResourceVersion
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
		if !ds.gauged || ds.avail != st.AvailableReplicas {
			ds.gauged, ds.avail = true, st.AvailableReplicas
			c.tel.Gauge(GaugeAvailablePrefix+d.Namespace+"/"+d.Name, now, float64(st.AvailableReplicas))
		}
		r.finish(nil)
	})
}
