// Package replicaset models kube-controller-manager's ReplicaSet controller
// (reference §3.2; pkg/controller/replicaset/replica_set.go,
// pkg/controller/controller_utils.go).
//
// It watches ReplicaSets and Pods through shared informers and keeps, for each
// ReplicaSet, spec.replicas active pods: it creates missing pods from the template in
// slow-start batches (1, 2, 4, ...; at most BurstReplicas per sync) and deletes
// surplus pods in the order of the upstream ranking (unscheduled, pending, unready,
// cheap, doubled-up, recently ready, restarted, new first). Expectations keep it from
// acting on a ReplicaSet again before its own creations and deletions are seen
// through its watch (or ExpectationsTimeout passes). It writes the status (replicas,
// fullyLabeledReplicas, readyReplicas, availableReplicas, observedGeneration).
//
// Simplifications, each a model decision:
//   - one serial worker instead of 5 (see package workqueue);
//   - pods belong to a ReplicaSet by controller owner reference only: adoption of
//     orphans and release of pods whose labels stopped matching are not modelled;
//   - pod names are drawn by the controller ("<rs>-<5 chars>", from the stream
//     "controller/replicaset/names"), where upstream sends generateName and the
//     apiserver draws the suffix; on AlreadyExists another name is drawn;
//   - with CascadeDelete, deleting a ReplicaSet deletes its pods, standing in for the
//     garbage collector's background cascading deletion.
package replicaset

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
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
const Component = "controller-manager/replicaset"

// nameAlphabet is the alphabet of generated name suffixes
// (k8s.io/apimachinery/pkg/util/rand: consonants and digits without look-alikes).
const nameAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// maxNameAttempts bounds the redraws of a pod name that already exists.
const maxNameAttempts = 5

// Config configures the controller.
type Config struct {
	// SyncLatency is the time from a ReplicaSet's pickup off the work queue to its
	// sync's decisions (queue pickup plus processing). A model parameter.
	SyncLatency dist.Spec
	// BurstReplicas caps the creations or deletions of one sync (reference §3.2:
	// 500, replica_set.go BurstReplicas).
	BurstReplicas int
	// ExpectationsTimeout is how long unobserved expectations block a ReplicaSet
	// (controller_utils.go ExpectationsTimeout: 5 min).
	ExpectationsTimeout time.Duration
	// CascadeDelete makes the controller delete the pods of a deleted ReplicaSet,
	// as the garbage collector would.
	CascadeDelete bool
}

// DefaultConfig returns the reference defaults and a sync latency log-normal with
// median 1 ms.
func DefaultConfig() Config {
	return Config{
		SyncLatency:         dist.LogNormal(time.Millisecond, 0.5),
		BurstReplicas:       500,
		ExpectationsTimeout: 5 * time.Minute,
		CascadeDelete:       true,
	}
}

// Validate checks the configuration.
func (c *Config) Validate(reg *dist.Registry) error {
	if err := reg.Validate(c.SyncLatency); err != nil {
		return fmt.Errorf("syncLatency: %w", err)
	}
	if c.BurstReplicas < 1 {
		return fmt.Errorf("burstReplicas must be at least 1, got %d", c.BurstReplicas)
	}
	if c.ExpectationsTimeout <= 0 {
		return fmt.Errorf("expectationsTimeout must be positive, got %v", c.ExpectationsTimeout)
	}
	return nil
}

// Controller is the ReplicaSet controller.
type Controller struct {
	eng                         *sim.Engine
	client, step0, step2, step7 *apiserver.Client
	cfg                         Config
	tel                         sim.Telemetry
	factory                     *informers.Factory
	rsInf, podInf               *apiserver.Informer
	queue                       *workqueue.Queue
	names                       *rand.Rand
	exp                         *expectationStore
	// pods indexes the pods whose controller is a ReplicaSet by owner UID, with
	// counters kept current on every pod event, so a sync costs O(1) unless it must
	// choose victims (or minReadySeconds needs the pods' ready times).
	pods map[api.UID]*podSet
	// written is the status last written per ReplicaSet UID: the cache may not show
	// it yet, and it is the reference for the "observed = desired" transition.
	written map[api.UID]writtenStatus
	started bool
}

// New returns a controller that talks to the apiserver through client.
func New(eng *sim.Engine, client *apiserver.Client, cfg Config, reg *dist.Registry, tel sim.Telemetry) (*Controller, error) {
	if err := cfg.Validate(reg); err != nil {
		return nil, fmt.Errorf("replicaset controller: %w", err)
	}
	if tel == nil {
		tel = sim.Discard
	}
	c := &Controller{
		eng: eng, client: client, cfg: cfg, tel: tel,
		step0: client.WithStep(0), step2: client.WithStep(2), step7: client.WithStep(7),
		names:   eng.Stream("controller/replicaset/names"),
		exp:     newExpectationStore(cfg.ExpectationsTimeout),
		pods:    map[api.UID]*podSet{},
		written: map[api.UID]writtenStatus{},
	}
	c.queue = workqueue.New(eng, reg.MustNew(cfg.SyncLatency, eng.Source("controller/replicaset/sync")), c.sync, workqueue.DefaultOptions())
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
	c.rsInf = c.factory.Informer(api.KindReplicaSet, apiserver.Handlers{
		OnAdd:    func(o api.Object) { c.queue.Add(keyOf(o)) },
		OnUpdate: func(_, o api.Object) { c.queue.Add(keyOf(o)) },
		OnDelete: c.onRSDelete,
	})
	c.podInf = c.factory.Informer(api.KindPod, apiserver.Handlers{
		OnAdd:    c.onPodAdd,
		OnUpdate: c.onPodUpdate,
		OnDelete: c.onPodDelete,
	})
	informers.WhenSynced(c.queue.Start, c.rsInf, c.podInf)
}

func keyOf(o api.Object) string { m := o.Meta(); return m.Namespace + "/" + m.Name }

func splitKey(key string) (ns, name string) {
	i := strings.IndexByte(key, '/')
	return key[:i], key[i+1:]
}

func rsRef(p *api.Pod) *api.OwnerReference {
	ref := p.ControllerRef()
	if ref == nil || ref.Kind != api.KindReplicaSet {
		return nil
	}
	return ref
}

// owner resolves a pod's controller reference to a cached ReplicaSet.
func (c *Controller) owner(p *api.Pod) *api.ReplicaSet {
	ref := rsRef(p)
	if ref == nil {
		return nil
	}
	o, ok := c.rsInf.Get(p.Namespace, ref.Name)
	if !ok || o.Meta().UID != ref.UID {
		return nil
	}
	return o.(*api.ReplicaSet)
}

// podSet is one ReplicaSet's pods and the counts its status is made of.
type podSet struct {
	pods map[string]*podEntry
	// active counts active pods, ready the active ones with Ready=True, labeled the
	// active ones whose labels carry every template label of labelKey's template.
	active, ready, labeled int32
	labelKey               string // the template labels labeled was counted against
}

// podEntry is a pod and what it contributes to its set's counts.
type podEntry struct {
	pod                    *api.Pod
	active, ready, labeled bool
}

// labelKeyOf is a canonical form of a label map (sorted k=v pairs).
func labelKeyOf(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(m[k])
		b.WriteByte(0)
	}
	return b.String()
}

func (ps *podSet) add(e *podEntry, sign int32) {
	if e.active {
		ps.active += sign
		if e.ready {
			ps.ready += sign
		}
		if e.labeled {
			ps.labeled += sign
		}
	}
}

func (c *Controller) index(p *api.Pod) {
	ref := rsRef(p)
	if ref == nil {
		return
	}
	ps := c.pods[ref.UID]
	if ps == nil {
		ps = &podSet{pods: map[string]*podEntry{}}
		if o, ok := c.rsInf.Get(p.Namespace, ref.Name); ok && o.Meta().UID == ref.UID {
			ps.labelKey = labelKeyOf(o.(*api.ReplicaSet).Spec.Template.Labels)
		}
		c.pods[ref.UID] = ps
	}
	e := &podEntry{pod: p, active: isActive(p), ready: p.IsReady()}
	if o, ok := c.rsInf.Get(p.Namespace, ref.Name); ok && o.Meta().UID == ref.UID {
		e.labeled = labelsMatch(o.(*api.ReplicaSet).Spec.Template.Labels, p.Labels)
	}
	k := keyOf(p)
	if old := ps.pods[k]; old != nil {
		ps.add(old, -1)
	}
	ps.pods[k] = e
	ps.add(e, +1)
}

func (c *Controller) unindex(p *api.Pod) {
	ref := rsRef(p)
	if ref == nil {
		return
	}
	if ps := c.pods[ref.UID]; ps != nil {
		k := keyOf(p)
		if e := ps.pods[k]; e != nil {
			ps.add(e, -1)
			delete(ps.pods, k)
		}
		if len(ps.pods) == 0 {
			delete(c.pods, ref.UID)
		}
	}
}

// counts returns the set of rs with its labeled count brought up to date with the
// current template labels (a rescan only when the template's labels changed).
func (c *Controller) counts(rs *api.ReplicaSet) *podSet {
	ps := c.pods[rs.UID]
	if ps == nil {
		return &podSet{}
	}
	if k := labelKeyOf(rs.Spec.Template.Labels); k != ps.labelKey {
		ps.labelKey = k
		ps.labeled = 0
		for _, e := range ps.pods {
			e.labeled = labelsMatch(rs.Spec.Template.Labels, e.pod.Labels)
			if e.active && e.labeled {
				ps.labeled++
			}
		}
	}
	return ps
}

// onPodAdd counts a creation as observed (replica_set.go addPod).
func (c *Controller) onPodAdd(o api.Object) {
	p := o.(*api.Pod)
	c.index(p)
	if p.DeletionTimestamp != nil {
		c.podGone(p)
		return
	}
	if rs := c.owner(p); rs != nil {
		k := keyOf(rs)
		c.exp.creationObserved(k)
		c.queue.Add(k)
	}
}

// onPodUpdate wakes the owner on any change; a deletion timestamp counts as the
// pod's deletion (replica_set.go updatePod).
func (c *Controller) onPodUpdate(old, cur api.Object) {
	op, cp := old.(*api.Pod), cur.(*api.Pod)
	// With the same owner, index replaces the pod's entry (its counts taken out
	// and the new ones added), as unindexing and indexing again would.
	if oref, cref := rsRef(op), rsRef(cp); oref == nil || cref == nil || oref.UID != cref.UID {
		c.unindex(op)
	}
	c.index(cp)
	if op.ResourceVersion == cp.ResourceVersion {
		return
	}
	if cp.DeletionTimestamp != nil {
		c.podGone(cp)
		return
	}
	if oref, cref := rsRef(op), rsRef(cp); oref != nil && (cref == nil || oref.UID != cref.UID) {
		if rs := c.owner(op); rs != nil {
			c.queue.Add(keyOf(rs))
		}
	}
	rs := c.owner(cp)
	if rs == nil {
		return
	}
	c.queue.Add(keyOf(rs))
	// A newly ready pod becomes available minReadySeconds later: look again then.
	if !op.IsReady() && cp.IsReady() && rs.Spec.MinReadySeconds > 0 {
		c.queue.AddAfter(keyOf(rs), api.Seconds(rs.Spec.MinReadySeconds))
	}
}

func (c *Controller) onPodDelete(o api.Object) {
	p := o.(*api.Pod)
	c.unindex(p)
	c.podGone(p)
}

// podGone counts a deletion as observed (replica_set.go deletePod).
func (c *Controller) podGone(p *api.Pod) {
	rs := c.owner(p)
	if rs == nil {
		return
	}
	k := keyOf(rs)
	c.exp.deletionObserved(k, keyOf(p))
	c.queue.Add(k)
}

func (c *Controller) onRSDelete(o api.Object) {
	rs := o.(*api.ReplicaSet)
	k := keyOf(rs)
	c.exp.forget(k)
	delete(c.written, rs.UID)
	c.queue.Add(k)
	if !c.cfg.CascadeDelete {
		return
	}
	for _, p := range sortedPods(c.pods[rs.UID]) {
		if p.DeletionTimestamp != nil {
			continue
		}
		c.tel.Trace(sim.Record{Time: c.eng.Now(), Component: Component, Action: "delete-pod", Object: api.Ref(p),
			Detail: fmt.Sprintf("deletes pod %s/%s: its ReplicaSet %s was deleted (background cascading deletion, as the garbage collector does)", p.Namespace, p.Name, rs.Name)})
		c.step0.Delete(api.KindPod, p.Namespace, p.Name, apiserver.DeleteOptions{UID: p.UID}, nil)
	}
}

func sortedPods(ps *podSet) []*api.Pod {
	if ps == nil {
		return nil
	}
	out := make([]*api.Pod, 0, len(ps.pods))
	for _, e := range ps.pods {
		out = append(out, e.pod)
	}
	slices.SortFunc(out, func(a, b *api.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// activePods returns the ReplicaSet's active pods (FilterActivePods), unsorted.
func (c *Controller) activePods(rs *api.ReplicaSet) []*api.Pod {
	ps := c.pods[rs.UID]
	if ps == nil {
		return nil
	}
	out := make([]*api.Pod, 0, ps.active)
	for _, e := range ps.pods {
		if e.active {
			out = append(out, e.pod)
		}
	}
	return out
}

// relatedPods returns the pods of every ReplicaSet with the same controller as rs
// (getIndirectlyRelatedPods), or rs's own pods when it has no controller.
func (c *Controller) relatedPods(rs *api.ReplicaSet) []*api.Pod {
	ref := rs.ControllerRef()
	if ref == nil {
		return sortedPods(c.pods[rs.UID])
	}
	var out []*api.Pod
	for _, o := range c.rsInf.ByOwner(ref.UID) {
		out = append(out, sortedPods(c.pods[o.Meta().UID])...)
	}
	return out
}

// sync reconciles one ReplicaSet (replica_set.go syncReplicaSet).
func (c *Controller) sync(key string) {
	ns, name := splitKey(key)
	o, ok := c.rsInf.Get(ns, name)
	if !ok {
		c.exp.forget(key)
		c.queue.Done(key, nil)
		return
	}
	r := &run{c: c, key: key, rs: o.(*api.ReplicaSet)}
	ps := c.counts(r.rs)
	r.snap = [3]int32{ps.active, ps.labeled, ps.ready}
	r.nActive = int(ps.active)
	if c.exp.satisfied(key, c.eng.Now()) && r.rs.DeletionTimestamp == nil {
		r.manage()
		return
	}
	r.status(nil)
}

// writtenStatus is a status this controller wrote and the resource version it got.
type writtenStatus struct {
	status api.ReplicaSetStatus
	rv     int64
}

// run is one sync of one ReplicaSet.
type run struct {
	c       *Controller
	key     string
	rs      *api.ReplicaSet
	snap    [3]int32   // active, fully labeled and ready pods at sync start: upstream computes status from that snapshot
	nActive int        // active pods at sync start
	active  []*api.Pod // the active pods, listed only to choose victims

	// slow start
	want, batch, batchNo, remaining, inflight, created, failedInBatch int
	err                                                               error

	pendingDeletes int
}

// manage creates or deletes pods to reach spec.replicas (manageReplicas).
func (r *run) manage() {
	c := r.c
	diff := r.nActive - int(r.rs.Spec.Replicas)
	switch {
	case diff < 0:
		n := min(-diff, c.cfg.BurstReplicas)
		c.exp.expectCreations(r.key, n, c.eng.Now())
		r.want, r.remaining, r.batch = n, n, 1 // SlowStartInitialBatchSize
		r.nextBatch()
	case diff > 0:
		n := min(diff, c.cfg.BurstReplicas)
		r.active = c.activePods(r.rs)
		slices.SortFunc(r.active, func(a, b *api.Pod) int { return strings.Compare(a.Name, b.Name) })
		victims := PodsToDelete(r.active, c.relatedPods(r.rs), n, c.eng.Now())
		keys := make([]string, len(victims))
		for i, v := range victims {
			keys[i] = keyOf(v.Pod)
		}
		c.exp.expectDeletions(r.key, keys, c.eng.Now())
		r.pendingDeletes = len(victims)
		for _, v := range victims {
			r.delete(v, n == len(r.active))
		}
	default:
		r.status(nil)
	}
}

// nextBatch issues the next slow-start batch, or ends the creations.
func (r *run) nextBatch() {
	size := min(r.batch, r.remaining)
	if size <= 0 {
		r.creationsDone()
		return
	}
	r.batchNo++
	r.inflight, r.failedInBatch = size, 0
	for i := 0; i < size; i++ {
		r.create(0)
	}
}

// create issues one pod creation (controller_utils.go CreatePods / GetPodFromTemplate).
func (r *run) create(attempt int) {
	c, rs := r.c, r.rs
	p := &api.Pod{
		ObjectMeta: api.ObjectMeta{
			Name:            c.podName(rs.Name),
			Namespace:       rs.Namespace,
			Labels:          maps.Clone(rs.Spec.Template.Labels),
			Annotations:     maps.Clone(rs.Spec.Template.Annotations),
			OwnerReferences: []api.OwnerReference{{Kind: api.KindReplicaSet, Name: rs.Name, UID: rs.UID, Controller: true}},
		},
	}
	p.Spec = (&api.Pod{Spec: rs.Spec.Template.Spec}).DeepCopy().Spec
	ref := api.Ref(p)
	if sim.WantsRecord(c.tel, 2) {
		detail := ""
		switch {
		case !sim.WantsDetail(c.tel, 2):
		case attempt > 0:
			detail = fmt.Sprintf("the replicaset controller retries with pod name %s/%s (the drawn name existed)", p.Namespace, p.Name)
		default:
			detail = fmt.Sprintf("the replicaset controller, watching ReplicaSets, creates pod %s/%s for ReplicaSet %s (batch %d of slow start, size %d; %d of %d replicas exist)",
				p.Namespace, p.Name, rs.Name, r.batchNo, min(r.batch, r.remaining), r.nActive, rs.Spec.Replicas)
		}
		c.tel.Trace(sim.Record{Time: c.eng.Now(), Step: 2, Component: Component, Action: "create-pod", Object: ref, Detail: detail})
	}
	c.step2.Create(p, func(_ api.Object, err error) {
		if apiserver.IsAlreadyExists(err) && attempt+1 < maxNameAttempts {
			r.create(attempt + 1)
			return
		}
		if err != nil {
			r.failedInBatch++
			if r.err == nil {
				r.err = err
			}
			c.tel.Trace(sim.Record{Time: c.eng.Now(), Component: Component, Action: "create-pod-failed", Object: ref,
				Detail: fmt.Sprintf("creating pod failed: %v; the rest of slow start is skipped and retried later", err)})
		}
		r.inflight--
		if r.inflight > 0 {
			return
		}
		size := min(r.batch, r.remaining)
		r.created += size - r.failedInBatch
		if r.failedInBatch > 0 {
			r.creationsDone()
			return
		}
		r.remaining -= size
		r.batch *= 2
		r.nextBatch()
	})
}

// creationsDone lowers the expectations by the creations that will never be seen
// (failed or skipped) and goes on to the status.
func (r *run) creationsDone() {
	for i := r.created; i < r.want; i++ {
		r.c.exp.creationObserved(r.key)
	}
	r.status(r.err)
}

// podName draws "<rs>-<5 chars>", truncating the prefix as generateName does
// (names.SimpleNameGenerator: at most 58 characters before the suffix).
func (c *Controller) podName(base string) string {
	prefix := base + "-"
	if len(prefix) > 58 {
		prefix = prefix[:58]
	}
	var b strings.Builder
	b.Grow(len(prefix) + 5)
	b.WriteString(prefix)
	for i := 0; i < 5; i++ {
		b.WriteByte(nameAlphabet[c.names.IntN(len(nameAlphabet))])
	}
	return b.String()
}

// delete issues one pod deletion; a failure is counted as observed.
func (r *run) delete(v Victim, all bool) {
	c, p := r.c, v.Pod
	why := v.Reason.String()
	if all {
		why = fmt.Sprintf("all %d active pods go", r.nActive)
	}
	c.tel.Trace(sim.Record{Time: c.eng.Now(), Step: 7, Component: Component, Action: "delete-pod", Object: api.Ref(p),
		Detail: fmt.Sprintf("scales down: deletes pod %s/%s (%s), %d active > %d desired", p.Namespace, p.Name, why, r.nActive, r.rs.Spec.Replicas)})
	k := keyOf(p)
	c.step7.Delete(api.KindPod, p.Namespace, p.Name, apiserver.DeleteOptions{}, func(err error) {
		if err != nil {
			c.exp.deletionObserved(r.key, k)
			if !apiserver.IsNotFound(err) && r.err == nil {
				r.err = err
			}
		}
		r.pendingDeletes--
		if r.pendingDeletes == 0 {
			r.status(r.err)
		}
	})
}

// calculateStatus counts the snapshot's pods (replica_set_utils.go calculateStatus):
// available = ready for at least minReadySeconds (podutil.IsPodAvailable).
func calculateStatus(rs *api.ReplicaSet, active []*api.Pod, now sim.Time) api.ReplicaSetStatus {
	st := api.ReplicaSetStatus{ObservedGeneration: rs.Generation, Replicas: int32(len(active))}
	minReady := api.Seconds(rs.Spec.MinReadySeconds)
	for _, p := range active {
		if labelsMatch(rs.Spec.Template.Labels, p.Labels) {
			st.FullyLabeledReplicas++
		}
		c := p.Condition(api.PodReady)
		if c == nil || c.Status != api.ConditionTrue {
			continue
		}
		st.ReadyReplicas++
		if minReady == 0 || (c.LastTransitionTime != 0 && c.LastTransitionTime.Add(minReady) < now) {
			st.AvailableReplicas++
		}
	}
	return st
}

func labelsMatch(want, have map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// status writes the status when it changed, then ends the sync with manageErr
// (updateReplicaSetStatus). Status writes carry no resource version: only this
// controller writes ReplicaSet status, and the /status subresource leaves the spec
// alone.
func (r *run) status(manageErr error) {
	c, rs := r.c, r.rs
	now := c.eng.Now()
	var st api.ReplicaSetStatus
	if rs.Spec.MinReadySeconds > 0 {
		// Availability depends on each pod's ready time: count from the pods.
		st = calculateStatus(rs, c.activePods(rs), now)
	} else {
		st = api.ReplicaSetStatus{ObservedGeneration: rs.Generation, Replicas: r.snap[0],
			FullyLabeledReplicas: r.snap[1], ReadyReplicas: r.snap[2], AvailableReplicas: r.snap[2]}
	}
	prev := rs.Status
	if w, ok := c.written[rs.UID]; ok && rs.ResourceVersion <= w.rv {
		prev = w.status
	}
	if st == prev {
		r.end(st, manageErr)
		return
	}
	reached := rs.Spec.Replicas > 0 && st.ReadyReplicas == rs.Spec.Replicas && prev.ReadyReplicas != rs.Spec.Replicas
	client := c.step0
	if reached {
		client = c.step7
	}
	obj := &api.ReplicaSet{ObjectMeta: api.ObjectMeta{Name: rs.Name, Namespace: rs.Namespace}, Status: st}
	client.UpdateStatus(obj, func(o api.Object, err error) {
		if err != nil {
			if manageErr == nil {
				manageErr = err
			}
			r.end(st, manageErr)
			return
		}
		c.written[rs.UID] = writtenStatus{st, o.Meta().ResourceVersion}
		rec := sim.Record{Time: c.eng.Now(), Component: Component, Action: "status", Object: api.Ref(rs),
			Detail: fmt.Sprintf("status: %d replicas, %d ready, %d available of %d desired (observedGeneration %d)",
				st.Replicas, st.ReadyReplicas, st.AvailableReplicas, rs.Spec.Replicas, st.ObservedGeneration)}
		if reached {
			rec.Step = 7
			rec.Detail = fmt.Sprintf("observed %d/%d ready = desired %d", st.ReadyReplicas, st.Replicas, rs.Spec.Replicas)
		}
		c.tel.Trace(rec)
		r.end(st, manageErr)
	})
}

// end finishes the sync: a ReplicaSet all ready but not yet all available is looked
// at again after minReadySeconds.
func (r *run) end(st api.ReplicaSetStatus, err error) {
	rs := r.rs
	if err == nil && rs.Spec.MinReadySeconds > 0 && st.ReadyReplicas == rs.Spec.Replicas && st.AvailableReplicas != rs.Spec.Replicas {
		r.c.queue.AddAfter(r.key, api.Seconds(rs.Spec.MinReadySeconds))
	}
	r.c.queue.Done(r.key, err)
}
