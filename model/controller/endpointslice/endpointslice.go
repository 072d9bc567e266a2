// Package endpointslice models kube-controller-manager's EndpointSlice controller
// (reference §3.5; pkg/controller/endpointslice/endpointslice_controller.go,
// staging/src/k8s.io/endpointslice/{reconciler.go,utils.go}).
//
// It watches Services, Pods, EndpointSlices and Nodes. For each Service with a selector it
// lists the pods of the Service's namespace that the selector matches, have an IP
// (status.podIP) and are not terminal, and writes them as endpoints into
// EndpointSlices of at most MaxEndpointsPerSlice endpoints, labelled
// kubernetes.io/service-name and owned by the Service. Endpoint conditions follow
// §3.5: serving = the pod's Ready condition, terminating = deletionTimestamp set,
// ready = serving && !terminating, or always true with publishNotReadyAddresses.
// Slice ports are the Service's target ports (EndpointPort.port is the port on the
// endpoint): each slice port has Name, Protocol and Port = the target port.
//
// The controller keeps, per Service, the set of selected pods up to date from pod
// events, so a sync costs O(endpoints of the Service). Upstream's
// getPodServiceMemberships matches every Service of the namespace on each pod event;
// kubesim indexes Services by one pair of their selector, so a pod event costs
// O(pod labels + Services sharing that pair with the pod), with the same result.
//
// Each endpoint carries its pod's nodeName and the zone of that node: the value of
// the node's topology.kubernetes.io/zone label, read from a node informer
// (staging/src/k8s.io/endpointslice/utils.go podToEndpoint sets endpoint.Zone from
// the node's labels). When a node appears or its zone label changes, the Services
// selecting its pods are synced again, so their endpoints get the new zone; an
// index of pods by node keeps that O(pods on the node).
//
// Simplifications, each a model decision:
//   - one serial worker instead of 5 (see package workqueue);
//   - a pod whose node is not (yet) known gets an endpoint without a zone; upstream
//     skips such a pod and retries the sync (reconciler.go "skipping Pod ... Node
//     Not Found"); no topology hints or trafficDistribution;
//   - Service labels are not mirrored onto slices;
//   - the controller trusts its own writes at once (as upstream's
//     endpointSliceTracker lets it) rather than waiting for the slice informer;
//     foreign changes to its slices, seen through the informer, trigger a resync;
//   - with CascadeDelete, deleting a Service deletes its slices, standing in for the
//     garbage collector.
package endpointslice

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
const Component = "controller-manager/endpointslice"

// Labels the controller puts on its slices (discovery/v1 well-known labels).
const (
	LabelManagedBy = "endpointslice.kubernetes.io/managed-by"
	ControllerName = "endpointslice-controller.k8s.io"
)

// GaugeReadyPrefix + "<ns>/<service>" is the Service's ready endpoint count,
// recorded when it changes.
const GaugeReadyPrefix = "endpoints_ready/"

// Retry and delay constants of endpointslice_controller.go.
const (
	maxRetries                      = 15
	defaultSyncBackOff              = time.Second
	maxSyncBackOff                  = 1000 * time.Second
	endpointSliceChangeMinSyncDelay = time.Second
	maxNameAttempts                 = 5
	nameAlphabet                    = "bcdfghjklmnpqrstvwxz2456789"
	maxListedAddresses              = 8
)

// Config configures the controller.
type Config struct {
	// SyncLatency is the time from a Service's pickup off the work queue to its
	// sync's decisions (queue pickup plus processing). A model parameter.
	SyncLatency dist.Spec
	// MaxEndpointsPerSlice caps a slice's endpoints (reference §3.5:
	// --max-endpoints-per-slice, default 100, allowed 1..1000).
	MaxEndpointsPerSlice int
	// EndpointUpdatesBatchPeriod delays the sync a pod change triggers, so that
	// changes batch (reference §3.5: --endpoint-updates-batch-period, default 0).
	EndpointUpdatesBatchPeriod time.Duration
	// CascadeDelete makes the controller delete the slices of a deleted Service,
	// as the garbage collector would.
	CascadeDelete bool
}

// DefaultConfig returns the reference defaults and a sync latency log-normal with
// median 1 ms.
func DefaultConfig() Config {
	return Config{
		SyncLatency:          dist.LogNormal(time.Millisecond, 0.5),
		MaxEndpointsPerSlice: 100,
		CascadeDelete:        true,
	}
}

// Validate checks the configuration.
func (c *Config) Validate(reg *dist.Registry) error {
	if err := reg.Validate(c.SyncLatency); err != nil {
		return fmt.Errorf("syncLatency: %w", err)
	}
	if c.MaxEndpointsPerSlice < 1 || c.MaxEndpointsPerSlice > 1000 {
		return fmt.Errorf("maxEndpointsPerSlice must be in 1..1000, got %d", c.MaxEndpointsPerSlice)
	}
	if c.EndpointUpdatesBatchPeriod < 0 {
		return fmt.Errorf("endpointUpdatesBatchPeriod must not be negative, got %v", c.EndpointUpdatesBatchPeriod)
	}
	return nil
}

// Controller is the EndpointSlice controller.
type Controller struct {
	eng                      *sim.Engine
	client, step6            *apiserver.Client
	cfg                      Config
	tel                      sim.Telemetry
	factory                  *informers.Factory
	svcInf, podInf, sliceInf *apiserver.Informer
	nodeInf                  *apiserver.Informer
	queue                    *workqueue.Queue
	names                    *rand.Rand
	svcs                     map[string]*service // by ns/name
	// bySel indexes Services by one of their selector's pairs (the smallest key):
	// ns -> "key\x00value" -> Services, so a pod event looks only at Services that
	// can select it.
	bySel      map[string]map[string][]*service
	podsByNS   map[string]map[string]*api.Pod       // ns -> ns/name -> pod
	podsByNode map[api.NodeName]map[string]*api.Pod // node -> ns/name -> pod
	zones      map[api.NodeName]string              // node -> its zone label ("" when unset)
	slices     map[string]map[string]*api.EndpointSlice
	tombstones map[string]int64 // ns/slice -> resource version when we deleted it
	started    bool
}

// service is the controller's state of one Service.
type service struct {
	key     string
	svc     *api.Service
	index   string              // its bySel key, "" when not indexed
	members map[string]*api.Pod // selected pods, by ns/name
	ready   int
	gauged  bool
}

// selectorIndexKey returns the pair of a selector that indexes it: the smallest key
// with its value; "" for an empty selector (which selects nothing).
func selectorIndexKey(sel map[string]string) string {
	best, found := "", false
	for k := range sel {
		if !found || k < best {
			best, found = k, true
		}
	}
	if !found {
		return ""
	}
	return best + "\x00" + sel[best]
}

func (c *Controller) indexService(s *service) {
	s.index = selectorIndexKey(s.svc.Spec.Selector)
	if s.index == "" {
		return
	}
	m := c.bySel[s.svc.Namespace]
	if m == nil {
		m = map[string][]*service{}
		c.bySel[s.svc.Namespace] = m
	}
	m[s.index] = append(m[s.index], s)
}

func (c *Controller) unindexService(s *service) {
	if s.index == "" {
		return
	}
	ns := s.svc.Namespace
	m := c.bySel[ns]
	l := slices.DeleteFunc(m[s.index], func(x *service) bool { return x == s })
	if len(l) == 0 {
		delete(m, s.index)
		if len(m) == 0 {
			delete(c.bySel, ns)
		}
	} else {
		m[s.index] = l
	}
	s.index = ""
}

// candidates returns the Services that may select a pod with any of the label sets,
// sorted by key and without duplicates.
func (c *Controller) candidates(ns string, labelSets ...map[string]string) []*service {
	m := c.bySel[ns]
	if len(m) == 0 {
		return nil
	}
	var out []*service
	for _, labels := range labelSets {
		for k, v := range labels {
			out = append(out, m[k+"\x00"+v]...)
		}
	}
	if len(out) > 1 {
		slices.SortFunc(out, func(a, b *service) int { return strings.Compare(a.key, b.key) })
		out = slices.Compact(out)
	}
	return out
}

// New returns a controller that talks to the apiserver through client.
func New(eng *sim.Engine, client *apiserver.Client, cfg Config, reg *dist.Registry, tel sim.Telemetry) (*Controller, error) {
	if err := cfg.Validate(reg); err != nil {
		return nil, fmt.Errorf("endpointslice controller: %w", err)
	}
	if tel == nil {
		tel = sim.Discard
	}
	c := &Controller{
		eng: eng, client: client, step6: client.WithStep(6), cfg: cfg, tel: tel,
		names:      eng.Stream("controller/endpointslice/names"),
		svcs:       map[string]*service{},
		bySel:      map[string]map[string][]*service{},
		podsByNS:   map[string]map[string]*api.Pod{},
		podsByNode: map[api.NodeName]map[string]*api.Pod{},
		zones:      map[api.NodeName]string{},
		slices:     map[string]map[string]*api.EndpointSlice{},
		tombstones: map[string]int64{},
	}
	opts := workqueue.Options{BaseBackoff: defaultSyncBackOff, MaxBackoff: maxSyncBackOff, MaxRetries: maxRetries}
	c.queue = workqueue.New(eng, reg.MustNew(cfg.SyncLatency, eng.Source("controller/endpointslice/sync")), c.sync, opts)
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
	c.svcInf = c.factory.Informer(api.KindService, apiserver.Handlers{
		OnAdd:    func(o api.Object) { c.onService(nil, o.(*api.Service)) },
		OnUpdate: func(old, cur api.Object) { c.onService(old.(*api.Service), cur.(*api.Service)) },
		OnDelete: c.onServiceDelete,
	})
	c.podInf = c.factory.Informer(api.KindPod, apiserver.Handlers{
		OnAdd:    func(o api.Object) { c.onPod(nil, o.(*api.Pod)) },
		OnUpdate: func(old, cur api.Object) { c.onPod(old.(*api.Pod), cur.(*api.Pod)) },
		OnDelete: c.onPodDelete,
	})
	c.sliceInf = c.factory.Informer(api.KindEndpointSlice, apiserver.Handlers{
		OnAdd:    c.onSlice,
		OnUpdate: func(_, cur api.Object) { c.onSlice(cur) },
		OnDelete: c.onSliceDelete,
	})
	c.nodeInf = c.factory.Informer(api.KindNode, apiserver.Handlers{
		OnAdd:    func(o api.Object) { c.onNode(o.(*api.Node)) },
		OnUpdate: func(_, cur api.Object) { c.onNode(cur.(*api.Node)) },
		OnDelete: c.onNodeDelete,
	})
	informers.WhenSynced(c.queue.Start, c.svcInf, c.podInf, c.sliceInf, c.nodeInf)
}

func keyOf(o api.Object) string { m := o.Meta(); return m.Namespace + "/" + m.Name }

// ---------------------------------------------------------------------------
// Event handlers

func (c *Controller) onService(old, cur *api.Service) {
	k := keyOf(cur)
	s := c.svcs[k]
	if s == nil {
		s = &service{key: k, members: map[string]*api.Pod{}}
		c.svcs[k] = s
	}
	if s.svc == nil || !maps.Equal(s.svc.Spec.Selector, cur.Spec.Selector) {
		if s.svc != nil {
			c.unindexService(s)
		}
		s.svc = cur
		c.indexService(s)
		clear(s.members)
		if len(cur.Spec.Selector) > 0 {
			for pk, p := range c.podsByNS[cur.Namespace] {
				if api.MatchesSet(cur.Spec.Selector, p.Labels) {
					s.members[pk] = p
				}
			}
		}
	}
	s.svc = cur
	c.queue.Add(k)
}

func (c *Controller) onServiceDelete(o api.Object) {
	svc := o.(*api.Service)
	k := keyOf(svc)
	if s := c.svcs[k]; s != nil {
		delete(c.svcs, k)
		c.unindexService(s)
	}
	if !c.cfg.CascadeDelete {
		return
	}
	for _, sl := range c.ownedSlices(k, svc.UID) {
		c.tel.Trace(sim.Record{Time: c.eng.Now(), Step: 6, Component: Component, Action: "delete-slice", Object: api.Ref(sl),
			Detail: fmt.Sprintf("deletes EndpointSlice %s/%s: its Service %s was deleted (background cascading deletion, as the garbage collector does)", sl.Namespace, sl.Name, svc.Name)})
		c.forgetSlice(k, sl)
		c.step6.Delete(api.KindEndpointSlice, sl.Namespace, sl.Name, apiserver.DeleteOptions{UID: sl.UID}, nil)
	}
}

// onPod keeps the Service memberships of a pod and wakes the Services whose
// endpoints it changes (endpointslice_controller.go addPod/updatePod).
func (c *Controller) onPod(old, cur *api.Pod) {
	k := keyOf(cur)
	m := c.podsByNS[cur.Namespace]
	if m == nil {
		m = map[string]*api.Pod{}
		c.podsByNS[cur.Namespace] = m
	}
	m[k] = cur
	if old != nil && old.Spec.NodeName != cur.Spec.NodeName {
		c.unindexPodNode(old.Spec.NodeName, k)
	}
	if cur.Spec.NodeName != "" {
		byNode := c.podsByNode[cur.Spec.NodeName]
		if byNode == nil {
			byNode = map[string]*api.Pod{}
			c.podsByNode[cur.Spec.NodeName] = byNode
		}
		byNode[k] = cur
	}
	changed := old == nil || endpointChanged(old, cur)
	var cands []*service
	if old == nil || maps.Equal(old.Labels, cur.Labels) {
		cands = c.candidates(cur.Namespace, cur.Labels)
	} else {
		cands = c.candidates(cur.Namespace, cur.Labels, old.Labels)
	}
	for _, s := range cands {
		_, was := s.members[k]
		is := api.MatchesSet(s.svc.Spec.Selector, cur.Labels)
		if is {
			s.members[k] = cur
		} else if was {
			delete(s.members, k)
		}
		if was != is || (is && changed) {
			c.queue.AddAfter(s.key, c.cfg.EndpointUpdatesBatchPeriod)
		}
	}
}

func (c *Controller) onPodDelete(o api.Object) {
	p := o.(*api.Pod)
	k := keyOf(p)
	if m := c.podsByNS[p.Namespace]; m != nil {
		delete(m, k)
		if len(m) == 0 {
			delete(c.podsByNS, p.Namespace)
		}
	}
	c.unindexPodNode(p.Spec.NodeName, k)
	for _, s := range c.candidates(p.Namespace, p.Labels) {
		if _, ok := s.members[k]; ok {
			delete(s.members, k)
			c.queue.AddAfter(s.key, c.cfg.EndpointUpdatesBatchPeriod)
		}
	}
}

func (c *Controller) unindexPodNode(node api.NodeName, k string) {
	if m := c.podsByNode[node]; m != nil {
		delete(m, k)
		if len(m) == 0 {
			delete(c.podsByNode, node)
		}
	}
}

// onNode records a node's zone; when it is new or its zone label changed, the
// Services selecting the node's pods are synced again so their endpoints carry the
// zone (the work is O(pods on the node); heartbeats and status updates that keep
// the zone cost one map lookup).
func (c *Controller) onNode(n *api.Node) {
	name := api.NodeName(n.Name)
	zone := n.Labels[api.LabelZone]
	if old, ok := c.zones[name]; ok && old == zone {
		return
	}
	c.zones[name] = zone
	c.requeueNodePods(name)
}

func (c *Controller) onNodeDelete(o api.Object) {
	name := api.NodeName(o.(*api.Node).Name)
	if _, ok := c.zones[name]; !ok {
		return
	}
	delete(c.zones, name)
	c.requeueNodePods(name)
}

// requeueNodePods queues the Services that select a pod of node, each once, in key
// order.
func (c *Controller) requeueNodePods(node api.NodeName) {
	pods := c.podsByNode[node]
	if len(pods) == 0 {
		return
	}
	seen := map[*service]bool{}
	var out []*service
	for _, p := range pods {
		for _, s := range c.candidates(p.Namespace, p.Labels) {
			if _, ok := s.members[keyOf(p)]; ok && !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	slices.SortFunc(out, func(a, b *service) int { return strings.Compare(a.key, b.key) })
	for _, s := range out {
		c.queue.AddAfter(s.key, c.cfg.EndpointUpdatesBatchPeriod)
	}
}

// endpointChanged reports whether a pod update can change its endpoint
// (endpointslice/util podEndpointsChanged, for the fields kubesim models).
func endpointChanged(a, b *api.Pod) bool {
	return a.Status.PodIP != b.Status.PodIP || a.IsReady() != b.IsReady() ||
		(a.DeletionTimestamp == nil) != (b.DeletionTimestamp == nil) ||
		a.Spec.NodeName != b.Spec.NodeName || a.IsTerminal() != b.IsTerminal() || a.UID != b.UID
}

func managed(s *api.EndpointSlice) bool {
	return s.Labels[LabelManagedBy] == ControllerName && s.ServiceName() != ""
}

// onSlice records a slice seen through the watch; a change the controller did not
// make itself makes it look at the Service again after at least 1 s
// (endpointslice_controller.go onEndpointSliceUpdate, endpointSliceChangeMinSyncDelay).
func (c *Controller) onSlice(o api.Object) {
	sl := o.(*api.EndpointSlice)
	if !managed(sl) {
		return
	}
	if rv, ok := c.tombstones[keyOf(sl)]; ok && sl.ResourceVersion <= rv {
		return // an old event of a slice we deleted
	}
	svcKey := sl.Namespace + "/" + sl.ServiceName()
	m := c.slices[svcKey]
	if m == nil {
		m = map[string]*api.EndpointSlice{}
		c.slices[svcKey] = m
	}
	cur := m[sl.Name]
	if cur != nil && sl.ResourceVersion <= cur.ResourceVersion {
		return // the echo of our own write, or older
	}
	m[sl.Name] = sl
	if cur != nil {
		c.queue.AddAfter(svcKey, max(endpointSliceChangeMinSyncDelay, c.cfg.EndpointUpdatesBatchPeriod))
	}
}

func (c *Controller) onSliceDelete(o api.Object) {
	sl := o.(*api.EndpointSlice)
	if !managed(sl) {
		return
	}
	if _, ok := c.tombstones[keyOf(sl)]; ok {
		delete(c.tombstones, keyOf(sl)) // our own deletion, now observed
		return
	}
	svcKey := sl.Namespace + "/" + sl.ServiceName()
	if cur := c.slices[svcKey][sl.Name]; cur != nil && cur.ResourceVersion <= sl.ResourceVersion {
		c.dropSlice(svcKey, sl.Name)
		c.queue.AddAfter(svcKey, max(endpointSliceChangeMinSyncDelay, c.cfg.EndpointUpdatesBatchPeriod))
	}
}

func (c *Controller) dropSlice(svcKey, name string) {
	if m := c.slices[svcKey]; m != nil {
		delete(m, name)
		if len(m) == 0 {
			delete(c.slices, svcKey)
		}
	}
}

// forgetSlice drops a slice we are deleting and remembers it as a tombstone so late
// watch events of it are ignored.
func (c *Controller) forgetSlice(svcKey string, sl *api.EndpointSlice) {
	c.dropSlice(svcKey, sl.Name)
	c.tombstones[keyOf(sl)] = sl.ResourceVersion
}

// ownedSlices returns the Service's slices that the Service controls, by name.
func (c *Controller) ownedSlices(svcKey string, uid api.UID) []*api.EndpointSlice {
	m := c.slices[svcKey]
	out := make([]*api.EndpointSlice, 0, len(m))
	for _, sl := range m {
		if ref := sl.ControllerRef(); ref != nil && ref.Kind == api.KindService && ref.UID == uid {
			out = append(out, sl)
		}
	}
	slices.SortFunc(out, func(a, b *api.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// ---------------------------------------------------------------------------
// Sync

// desiredEndpoints builds the Service's endpoints from its selected pods, sorted by
// pod name (reconciler.go reconcile + utils.go podToEndpoint,
// ShouldPodBeInEndpoints with terminating pods included). zones maps a node to its
// topology.kubernetes.io/zone label.
func desiredEndpoints(svc *api.Service, members map[string]*api.Pod, zones map[api.NodeName]string) []api.Endpoint {
	pods := make([]*api.Pod, 0, len(members))
	for _, p := range members {
		if p.IsTerminal() || p.Status.PodIP == "" {
			continue
		}
		pods = append(pods, p)
	}
	slices.SortFunc(pods, func(a, b *api.Pod) int { return strings.Compare(a.Name, b.Name) })
	out := make([]api.Endpoint, len(pods))
	for i, p := range pods {
		serving := p.IsReady()
		terminating := p.DeletionTimestamp != nil
		out[i] = api.Endpoint{
			Address: p.Status.PodIP,
			Conditions: api.EndpointConditions{
				Ready:       svc.Spec.PublishNotReadyAddresses || (serving && !terminating),
				Serving:     serving,
				Terminating: terminating,
			},
			NodeName: p.Spec.NodeName,
			Zone:     zones[p.Spec.NodeName],
			PodName:  p.Name,
			PodUID:   p.UID,
		}
	}
	return out
}

// slicePorts returns the endpoint ports of a Service: its target ports.
func slicePorts(svc *api.Service) []api.ServicePort {
	out := make([]api.ServicePort, len(svc.Spec.Ports))
	for i, p := range svc.Spec.Ports {
		out[i] = api.ServicePort{Name: p.Name, Protocol: p.Protocol, Port: p.TargetPort}
	}
	return out
}

func (c *Controller) newSliceFunc(svc *api.Service) func([]api.ServicePort) *api.EndpointSlice {
	return func(ports []api.ServicePort) *api.EndpointSlice {
		return &api.EndpointSlice{
			ObjectMeta: api.ObjectMeta{
				Namespace:       svc.Namespace,
				Labels:          map[string]string{api.LabelServiceName: svc.Name, LabelManagedBy: ControllerName},
				OwnerReferences: []api.OwnerReference{{Kind: api.KindService, Name: svc.Name, UID: svc.UID, Controller: true}},
			},
			Ports: slices.Clone(ports),
		}
	}
}

// sliceName draws "<service>-<5 chars>" (generateName; the prefix is cut to 58
// characters as names.SimpleNameGenerator does).
func (c *Controller) sliceName(svc string) string {
	prefix := svc + "-"
	if len(prefix) > 58 {
		prefix = prefix[:58]
	}
	b := []byte(prefix)
	for i := 0; i < 5; i++ {
		b = append(b, nameAlphabet[c.names.IntN(len(nameAlphabet))])
	}
	return string(b)
}

// sync reconciles one Service's slices (endpointslice_controller.go syncService).
func (c *Controller) sync(key string) {
	s := c.svcs[key]
	if s == nil || len(s.svc.Spec.Selector) == 0 {
		// Deleted, or a Service without selector: its slices are someone else's.
		c.queue.Done(key, nil)
		return
	}
	svc := s.svc
	desired := desiredEndpoints(svc, s.members, c.zones)
	p := reconcile(desired, slicePorts(svc), c.ownedSlices(key, svc.UID), c.cfg.MaxEndpointsPerSlice, c.newSliceFunc(svc))
	// The story's step 6 is about routing clients to running pods: writes that
	// carry no ready endpoint yet (the placeholder slice, not-ready pods) are
	// traced outside the story.
	r := &run{c: c, key: key, s: s, desired: desired, cl: c.client, step: 0}
	for _, ep := range desired {
		if ep.Conditions.Ready {
			r.cl, r.step = c.step6, 6
			break
		}
	}
	if p.empty() {
		r.finish()
		return
	}
	for _, sl := range p.create {
		r.pending++
		r.create(sl, 0)
	}
	for _, sl := range p.update {
		r.pending++
		r.cl.Update(sl, func(o api.Object, err error) { r.written(o, err, "updated") })
	}
	for _, sl := range p.delete {
		r.pending++
		c.tel.Trace(sim.Record{Time: c.eng.Now(), Step: r.step, Component: Component, Action: "delete-slice", Object: api.Ref(sl),
			Detail: fmt.Sprintf("deletes EndpointSlice %s/%s of service %s: its endpoints moved or are gone", sl.Namespace, sl.Name, key)})
		c.forgetSlice(key, sl)
		r.cl.Delete(api.KindEndpointSlice, sl.Namespace, sl.Name, apiserver.DeleteOptions{UID: sl.UID}, func(err error) {
			if apiserver.IsNotFound(err) {
				err = nil
			}
			r.written(nil, err, "")
		})
	}
}

// run is one sync of one Service.
type run struct {
	c       *Controller
	key     string
	s       *service
	desired []api.Endpoint
	pending int
	err     error
	cl      *apiserver.Client // step6 when the Service has a ready endpoint, else the plain client
	step    int
}

func (r *run) create(sl *api.EndpointSlice, attempt int) {
	sl.Name = r.c.sliceName(r.s.svc.Name)
	r.cl.Create(sl, func(o api.Object, err error) {
		if apiserver.IsAlreadyExists(err) && attempt+1 < maxNameAttempts {
			cp := sl.DeepCopyObject().(*api.EndpointSlice) // the rejected object is the apiserver's
			r.create(cp, attempt+1)
			return
		}
		r.written(o, err, "created")
	})
}

// written records one write's outcome; the last one ends the sync.
func (r *run) written(o api.Object, err error, verb string) {
	c := r.c
	if err != nil {
		if r.err == nil {
			r.err = err
		}
	} else if o != nil {
		sl := o.(*api.EndpointSlice)
		m := c.slices[r.key]
		if m == nil {
			m = map[string]*api.EndpointSlice{}
			c.slices[r.key] = m
		}
		if cur := m[sl.Name]; cur == nil || cur.ResourceVersion <= sl.ResourceVersion {
			m[sl.Name] = sl
		}
		what := fmt.Sprintf("EndpointSlice %s %s with %d endpoints", sl.Name, verb, len(sl.Endpoints))
		if len(sl.Endpoints) == 0 {
			what = fmt.Sprintf("EndpointSlice %s %s as the placeholder of a Service without endpoints", sl.Name, verb)
		}
		c.tel.Trace(sim.Record{Time: c.eng.Now(), Step: r.step, Component: Component, Action: "endpoints", Object: api.Ref(sl),
			Detail: r.summary() + " (" + what + ")"})
	}
	r.pending--
	if r.pending == 0 {
		r.finish()
	}
}

// summary describes the Service's endpoints: "service default/nginx now has 2/3
// ready endpoints: 10.244.1.2:80, 10.244.2.3:80".
func (r *run) summary() string {
	ready := 0
	var b strings.Builder
	port := ""
	if ps := r.s.svc.Spec.Ports; len(ps) > 0 {
		port = fmt.Sprintf(":%d", ps[0].TargetPort)
	}
	for i := range r.desired {
		if !r.desired[i].Conditions.Ready {
			continue
		}
		ready++
		if ready <= maxListedAddresses {
			if ready > 1 {
				b.WriteString(", ")
			}
			b.WriteString(r.desired[i].Address + port)
		}
	}
	if ready > maxListedAddresses {
		fmt.Fprintf(&b, ", … (%d more)", ready-maxListedAddresses)
	}
	s := fmt.Sprintf("service %s now has %d/%d ready endpoints", r.key, ready, len(r.desired))
	if ready > 0 {
		s += ": " + b.String()
	}
	return s
}

func (r *run) finish() {
	c, s := r.c, r.s
	if r.err == nil {
		ready := 0
		for i := range r.desired {
			if r.desired[i].Conditions.Ready {
				ready++
			}
		}
		if !s.gauged || s.ready != ready {
			s.gauged, s.ready = true, ready
			c.tel.Gauge(GaugeReadyPrefix+r.key, c.eng.Now(), float64(ready))
		}
	}
	c.queue.Done(r.key, r.err)
}
