// Package statefulset models kube-controller-manager's StatefulSet controller
// (pkg/controller/statefulset/{stateful_set.go,stateful_set_control.go,
// stateful_set_utils.go,stateful_pod_control.go}).
//
// A StatefulSet of n replicas owns the pods <set>-0 … <set>-(n−1), each with
// hostname <set>-<i> and subdomain spec.serviceName (its stable DNS name), and for
// every volumeClaimTemplate a claim <template>-<set>-<i>, created before the pod
// and never deleted by the controller (persistentVolumeClaimRetentionPolicy Retain,
// the default), so a pod recreated under the same name gets its own claim, and so
// its volume, back.
//
//   - OrderedReady (default): pod i is created only when pods 0..i−1 are Running and
//     Ready; one pod at a time is created, replaced or deleted, and nothing happens
//     while a pod is unhealthy; scale-down removes the highest ordinal first and
//     waits for it to be gone (stateful_set_control.go, monotonic mode).
//   - Parallel: every missing pod is created and every surplus pod deleted at once.
//   - A pod that failed or succeeded is deleted and recreated (trace step 7).
//   - Status: replicas (pods that exist), readyReplicas, availableReplicas (ready
//     for minReadySeconds), currentReplicas and updatedReplicas.
//
// Simplifications, each a model decision: no rolling update of the template (no
// controller revisions: every pod counts as current and updated); one serial
// worker; pods are matched by controller owner reference only; no
// persistentVolumeClaimRetentionPolicy other than Retain; no start ordinal.
package statefulset

import (
	"fmt"
	"maps"
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
const Component = "controller-manager/statefulset"

// Labels the controller puts on its pods (stateful_set_utils.go).
const (
	LabelPodName  = "statefulset.kubernetes.io/pod-name"
	LabelPodIndex = "apps.kubernetes.io/pod-index"
)

// Pod management policies.
const (
	OrderedReady = "OrderedReady"
	Parallel     = "Parallel"
)

// Config configures the controller.
type Config struct {
	// SyncLatency is the time from a set's pickup off the work queue to its sync's
	// decisions. A model parameter.
	SyncLatency dist.Spec
}

// DefaultConfig returns a sync latency log-normal with median 1 ms.
func DefaultConfig() Config {
	return Config{SyncLatency: dist.LogNormal(time.Millisecond, 0.5)}
}

// Validate checks the configuration.
func (c *Config) Validate(reg *dist.Registry) error {
	if err := reg.Validate(c.SyncLatency); err != nil {
		return fmt.Errorf("syncLatency: %w", err)
	}
	return nil
}

// Controller is the StatefulSet controller.
type Controller struct {
	eng                  *sim.Engine
	client, step2, step7 *apiserver.Client
	cfg                  Config
	tel                  sim.Telemetry
	factory              *informers.Factory
	setInf, podInf       *apiserver.Informer
	pvcInf               *apiserver.Informer
	queue                *workqueue.Queue
	// observed records, per set, the ordinals whose pod the cache has shown, so that
	// a recreation is traced as a replacement (step 7); creating the ordinals whose
	// creation was accepted but is not in the cache yet (no second create meanwhile).
	observed, creating map[api.UID]map[int]bool
	// lastWait is the last wait traced per set (not repeated at every sync).
	lastWait map[api.UID]string
	// deleting are the pods this controller asked to delete whose deletion the
	// cache does not show yet (so a sync in between does not delete them again).
	deleting map[api.UID]bool
	started  bool
}

// New returns a controller that talks to the apiserver through client.
func New(eng *sim.Engine, client *apiserver.Client, cfg Config, reg *dist.Registry, tel sim.Telemetry) (*Controller, error) {
	if err := cfg.Validate(reg); err != nil {
		return nil, fmt.Errorf("statefulset controller: %w", err)
	}
	if tel == nil {
		tel = sim.Discard
	}
	c := &Controller{
		eng: eng, client: client.WithStep(0), step2: client.WithStep(2), step7: client.WithStep(7),
		cfg: cfg, tel: tel, observed: map[api.UID]map[int]bool{}, creating: map[api.UID]map[int]bool{}, lastWait: map[api.UID]string{}, deleting: map[api.UID]bool{},
	}
	c.queue = workqueue.New(eng, reg.MustNew(cfg.SyncLatency, eng.Source("controller/statefulset/sync")), c.sync, workqueue.DefaultOptions())
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
	c.setInf = c.factory.Informer(api.KindStatefulSet, apiserver.Handlers{
		OnAdd:    func(o api.Object) { c.queue.Add(keyOf(o)) },
		OnUpdate: func(_, o api.Object) { c.queue.Add(keyOf(o)) },
		OnDelete: func(o api.Object) {
			delete(c.observed, o.Meta().UID)
			delete(c.creating, o.Meta().UID)
			delete(c.lastWait, o.Meta().UID)
		},
	})
	podEvent := func(o api.Object) {
		p := o.(*api.Pod)
		if p.DeletionTimestamp != nil {
			delete(c.deleting, p.UID)
		}
		if ref := p.ControllerRef(); ref != nil && ref.Kind == api.KindStatefulSet {
			c.queue.Add(p.Namespace + "/" + ref.Name)
		}
	}
	c.podInf = c.factory.Informer(api.KindPod, apiserver.Handlers{
		OnAdd:    podEvent,
		OnUpdate: func(_, o api.Object) { podEvent(o) },
		OnDelete: func(o api.Object) { delete(c.deleting, o.Meta().UID); podEvent(o) },
	})
	c.pvcInf = c.factory.Informer(api.KindPersistentVolumeClaim, apiserver.Handlers{})
	informers.WhenSynced(c.queue.Start, c.setInf, c.podInf, c.pvcInf)
}

func keyOf(o api.Object) string { m := o.Meta(); return m.Namespace + "/" + m.Name }

// PodName returns the name of the set's pod of the ordinal.
func PodName(set string, ordinal int) string { return set + "-" + strconv.Itoa(ordinal) }

// ClaimName returns the name of the claim of a volumeClaimTemplate for an ordinal
// (stateful_set_utils.go getPersistentVolumeClaimName).
func ClaimName(template, set string, ordinal int) string {
	return template + "-" + set + "-" + strconv.Itoa(ordinal)
}

// ordinalOf parses "<set>-<i>"; -1 when the name is not the set's.
func ordinalOf(set, name string) int {
	if !strings.HasPrefix(name, set+"-") {
		return -1
	}
	i, err := strconv.Atoi(name[len(set)+1:])
	if err != nil || i < 0 {
		return -1
	}
	return i
}

func runningAndReady(p *api.Pod) bool { return p.Status.Phase == api.PodRunning && p.IsReady() }

// run is one sync of one set.
type run struct {
	c       *Controller
	key     string
	set     *api.StatefulSet
	pending int
	err     error
}

func (c *Controller) sync(key string) {
	i := strings.IndexByte(key, '/')
	o, ok := c.setInf.Get(key[:i], key[i+1:])
	if !ok {
		c.queue.Done(key, nil)
		return
	}
	set := o.(*api.StatefulSet)
	r := &run{c: c, key: key, set: set}
	if set.DeletionTimestamp != nil {
		r.status()
		return
	}
	r.reconcile()
}

// reconcile is updateStatefulSet (stateful_set_control.go): replicas in ordinal
// order, then condemned pods from the highest ordinal.
func (r *run) reconcile() {
	c, set := r.c, r.set
	replicas := int(set.Spec.Replicas)
	parallel := set.Spec.PodManagementPolicy == Parallel
	slots := make([]*api.Pod, replicas)
	var condemned []*api.Pod // descending ordinal
	for _, o := range c.podInf.ByOwner(set.UID) {
		p := o.(*api.Pod)
		ord := ordinalOf(set.Name, p.Name)
		switch {
		case ord < 0:
			continue
		case ord < replicas:
			slots[ord] = p
		default:
			condemned = append(condemned, p)
		}
	}
	sortDesc(condemned, set.Name)
	seen, creating := c.ordinals(c.observed, set.UID), c.ordinals(c.creating, set.UID)
	// Replicas, lowest ordinal first.
	for ord, p := range slots {
		if p != nil {
			seen[ord] = true
			delete(creating, ord)
		}
		switch {
		case p == nil && creating[ord]:
			if !parallel {
				r.finish()
				return
			}
		case p == nil:
			r.createPod(ord)
			if !parallel {
				r.finish()
				return
			}
		case p.IsTerminal():
			// A failed or succeeded pod is deleted; the next sync recreates it.
			r.deletePod(p, 7, fmt.Sprintf("pod %s is %s: deleting it so that it is recreated under the same name", p.Name, p.Status.Phase))
			if !parallel {
				r.finish()
				return
			}
		case c.deleting[p.UID]:
			if !parallel {
				r.finish()
				return
			}
		case !parallel && (p.DeletionTimestamp != nil || !runningAndReady(p)):
			r.traceWait(fmt.Sprintf("waits for pod %s to be Running and Ready before acting on ordinal %d (OrderedReady)", p.Name, ord+1))
			r.finish()
			return
		}
	}
	// Condemned pods, highest ordinal first.
	for _, p := range condemned {
		if p.DeletionTimestamp != nil || c.deleting[p.UID] {
			if !parallel {
				r.traceWait(fmt.Sprintf("waits for pod %s to terminate before scaling down further (OrderedReady)", p.Name))
				r.finish()
				return
			}
			continue
		}
		r.deletePod(p, 7, fmt.Sprintf("scales down from %d pods to %d replicas: deletes the highest ordinal %s first (its claims are kept)",
			len(slots)+len(condemned), replicas, p.Name))
		if !parallel {
			r.finish()
			return
		}
	}
	r.finish()
}

func (c *Controller) ordinals(m map[api.UID]map[int]bool, uid api.UID) map[int]bool {
	o := m[uid]
	if o == nil {
		o = map[int]bool{}
		m[uid] = o
	}
	return o
}

func sortDesc(pods []*api.Pod, set string) {
	for i := 1; i < len(pods); i++ { // insertion sort: condemned lists are short
		for j := i; j > 0 && ordinalOf(set, pods[j].Name) > ordinalOf(set, pods[j-1].Name); j-- {
			pods[j], pods[j-1] = pods[j-1], pods[j]
		}
	}
}

func (r *run) traceWait(detail string) {
	if r.c.lastWait[r.set.UID] == detail {
		return
	}
	r.c.lastWait[r.set.UID] = detail
	r.c.tel.Trace(sim.Record{Time: r.c.eng.Now(), Component: Component, Action: "wait", Object: api.Ref(r.set), Detail: detail})
}

// finish returns from reconcile; the status is written once the requests issued
// in this sync are answered.
func (r *run) finish() {
	if r.pending == 0 {
		r.status()
	}
}

func (r *run) reply(err error) {
	if err != nil && r.err == nil {
		r.err = err
	}
	r.pending--
	if r.pending == 0 {
		r.status()
	}
}

// createPod creates the ordinal's missing claims, then its pod
// (stateful_pod_control.go CreateStatefulPod: createPersistentVolumeClaims first).
func (r *run) createPod(ord int) {
	c, set := r.c, r.set
	r.pending++
	claims := r.claimsFor(ord)
	missing := 0
	var claimErr error
	afterClaims := func() {
		if claimErr != nil {
			r.reply(claimErr)
			return
		}
		r.createPodObject(ord)
	}
	for _, pvc := range claims {
		if _, ok := c.pvcInf.Get(pvc.Namespace, pvc.Name); ok {
			continue
		}
		missing++
		ref := api.Ref(pvc)
		c.tel.Trace(sim.Record{Time: c.eng.Now(), Step: 2, Component: Component, Action: "create-claim", Object: ref,
			Detail: fmt.Sprintf("creates claim %s from volumeClaimTemplate %q of StatefulSet %s for pod %s (before the pod; it is never deleted by the controller)",
				pvc.Name, pvc.Labels["kubesim.io/template"], set.Name, PodName(set.Name, ord))})
		delete(pvc.Labels, "kubesim.io/template")
		c.step2.Create(pvc, func(_ api.Object, err error) {
			if err != nil && !apiserver.IsAlreadyExists(err) && claimErr == nil {
				claimErr = err
			}
			missing--
			if missing == 0 {
				afterClaims()
			}
		})
	}
	if missing == 0 {
		afterClaims()
	}
}

// claimsFor builds the claims of an ordinal from the templates.
func (r *run) claimsFor(ord int) []*api.PersistentVolumeClaim {
	set := r.set
	out := make([]*api.PersistentVolumeClaim, 0, len(set.Spec.VolumeClaimTemplates))
	for i := range set.Spec.VolumeClaimTemplates {
		t := &set.Spec.VolumeClaimTemplates[i]
		pvc := &api.PersistentVolumeClaim{
			ObjectMeta: api.ObjectMeta{
				Name: ClaimName(t.Name, set.Name, ord), Namespace: set.Namespace,
				Labels: maps.Clone(t.Labels), Annotations: maps.Clone(t.Annotations),
			},
			RequestBytes:     t.RequestBytes,
			AccessModes:      append([]api.AccessMode(nil), t.AccessModes...),
			StorageClassName: t.StorageClassName,
		}
		if pvc.Labels == nil {
			pvc.Labels = map[string]string{}
		}
		if set.Spec.Selector != nil {
			for k, v := range set.Spec.Selector.MatchLabels {
				pvc.Labels[k] = v
			}
		}
		pvc.Labels["kubesim.io/template"] = t.Name // for the trace only; removed before the create
		out = append(out, pvc)
	}
	return out
}

// newPod builds the ordinal's pod from the template (stateful_set_utils.go
// newStatefulSetPod, updateIdentity, updateStorage).
func newPod(set *api.StatefulSet, ord int) *api.Pod {
	name := PodName(set.Name, ord)
	p := &api.Pod{
		ObjectMeta: api.ObjectMeta{
			Name: name, Namespace: set.Namespace,
			Labels:          maps.Clone(set.Spec.Template.Labels),
			Annotations:     maps.Clone(set.Spec.Template.Annotations),
			OwnerReferences: []api.OwnerReference{{Kind: api.KindStatefulSet, Name: set.Name, UID: set.UID, Controller: true}},
		},
	}
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	p.Labels[LabelPodName] = name
	p.Labels[LabelPodIndex] = strconv.Itoa(ord)
	p.Spec = (&api.Pod{Spec: set.Spec.Template.Spec}).DeepCopy().Spec
	p.Spec.Hostname = name
	p.Spec.Subdomain = set.Spec.ServiceName
	for i := range set.Spec.VolumeClaimTemplates {
		t := &set.Spec.VolumeClaimTemplates[i]
		v := api.Volume{Name: t.Name, ClaimName: ClaimName(t.Name, set.Name, ord)}
		replaced := false
		for j := range p.Spec.Volumes {
			if p.Spec.Volumes[j].Name == t.Name {
				p.Spec.Volumes[j] = v
				replaced = true
			}
		}
		if !replaced {
			p.Spec.Volumes = append(p.Spec.Volumes, v)
		}
	}
	return p
}

func (r *run) createPodObject(ord int) {
	c, set := r.c, r.set
	p := newPod(set, ord)
	replacement := c.ordinals(c.observed, set.UID)[ord]
	creating := c.ordinals(c.creating, set.UID)
	creating[ord] = true
	client, step := c.step2, 2
	why := "the first pods wait for nothing"
	if ord > 0 {
		why = fmt.Sprintf("pods %s-0..%d are Running and Ready (OrderedReady)", set.Name, ord-1)
	}
	if set.Spec.PodManagementPolicy == Parallel {
		why = "podManagementPolicy Parallel: no ordering"
	}
	detail := fmt.Sprintf("creates pod %s (ordinal %d of %d, hostname %s, subdomain %s): %s", p.Name, ord, set.Spec.Replicas, p.Spec.Hostname, p.Spec.Subdomain, why)
	if replacement {
		client, step = c.step7, 7
		detail = fmt.Sprintf("replaces pod %s: recreated under the same name and with the same claims, so it gets its own volumes back", p.Name)
	}
	if len(p.Spec.Volumes) > 0 {
		var names []string
		for _, v := range p.Spec.Volumes {
			if v.ClaimName != "" {
				names = append(names, v.ClaimName)
			}
		}
		detail += fmt.Sprintf("; claims %s", strings.Join(names, ", "))
	}
	c.tel.Trace(sim.Record{Time: c.eng.Now(), Step: step, Component: Component, Action: "create-pod", Object: api.Ref(p), Detail: detail})
	client.Create(p, func(_ api.Object, err error) {
		if err != nil {
			delete(creating, ord)
		}
		if apiserver.IsAlreadyExists(err) {
			err = nil // the old pod of the same name is still going away: the next event retries
		}
		r.reply(err)
	})
}

func (r *run) deletePod(p *api.Pod, step int, detail string) {
	c := r.c
	r.pending++
	c.deleting[p.UID] = true
	c.tel.Trace(sim.Record{Time: c.eng.Now(), Step: step, Component: Component, Action: "delete-pod", Object: api.Ref(p), Detail: detail})
	client := c.client
	if step == 7 {
		client = c.step7
	}
	client.Delete(api.KindPod, p.Namespace, p.Name, apiserver.DeleteOptions{UID: p.UID}, func(err error) {
		if apiserver.IsNotFound(err) || apiserver.IsConflict(err) {
			err = nil
		}
		if err != nil {
			delete(c.deleting, p.UID)
		}
		r.reply(err)
	})
}

// status writes the set's status when it changed (stateful_set_control.go
// updateStatefulSetStatus), then ends the sync.
func (r *run) status() {
	c, set := r.c, r.set
	now := c.eng.Now()
	st := api.StatefulSetStatus{ObservedGeneration: set.Generation}
	minReady := api.Seconds(set.Spec.MinReadySeconds)
	var recheck time.Duration
	for _, o := range c.podInf.ByOwner(set.UID) {
		p := o.(*api.Pod)
		if ordinalOf(set.Name, p.Name) < 0 {
			continue
		}
		st.Replicas++
		st.CurrentReplicas++
		st.UpdatedReplicas++
		if p.DeletionTimestamp == nil && runningAndReady(p) {
			st.ReadyReplicas++
			cond := p.Condition(api.PodReady)
			if minReady == 0 || (cond != nil && now.Sub(cond.LastTransitionTime) >= minReady) {
				st.AvailableReplicas++
			} else if cond != nil {
				recheck = max(recheck, minReady-now.Sub(cond.LastTransitionTime))
			}
		}
	}
	end := func(err error) {
		if err == nil && recheck > 0 {
			c.queue.AddAfter(r.key, recheck)
		}
		c.queue.Done(r.key, err)
	}
	if st == set.Status {
		end(r.err)
		return
	}
	reached := set.Spec.Replicas > 0 && st.ReadyReplicas == set.Spec.Replicas && set.Status.ReadyReplicas != set.Spec.Replicas
	client, step := c.client, 0
	detail := fmt.Sprintf("status: %d replicas, %d ready, %d available of %d desired", st.Replicas, st.ReadyReplicas, st.AvailableReplicas, set.Spec.Replicas)
	if reached {
		client, step = c.step7, 7
		detail = fmt.Sprintf("observed %d/%d ready = desired %d (every ordinal Running and Ready)", st.ReadyReplicas, st.Replicas, set.Spec.Replicas)
	}
	obj := &api.StatefulSet{ObjectMeta: api.ObjectMeta{Name: set.Name, Namespace: set.Namespace}, Status: st}
	client.UpdateStatus(obj, func(_ api.Object, err error) {
		if err == nil {
			c.tel.Trace(sim.Record{Time: c.eng.Now(), Step: step, Component: Component, Action: "status", Object: api.Ref(set), Detail: detail})
		} else if r.err == nil {
			r.err = err
		}
		end(r.err)
	})
}
