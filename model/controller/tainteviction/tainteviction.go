// Package tainteviction models kube-controller-manager's taint eviction controller
// (reference §3.3; pkg/controller/tainteviction/taint_eviction.go,
// timed_workers.go; the "taint manager" of the node lifecycle controller before
// v1.29).
//
// It watches Nodes and Pods. For a pod bound to a node with NoExecute taints:
//   - a taint the pod does not tolerate → the pod is deleted at once;
//   - every taint tolerated, none with tolerationSeconds → never evicted;
//   - otherwise the pod is deleted at (the time the controller saw the taint) +
//     the smallest tolerationSeconds of the matching tolerations (≤ 0 means now).
//
// With the default tolerations the DefaultTolerationSeconds admission plugin adds
// (not-ready and unreachable, 300 s), the pods of a node that went silent are
// deleted 300 s after the node lifecycle controller tainted it. The deletion is an
// ordinary graceful delete through the apiserver: a pod on a dead node stays
// terminating (its kubelet cannot finish it) until pod GC or the node's deletion,
// but its ReplicaSet no longer counts it and creates a replacement.
//
// Taint removal cancels pending evictions; a changed taint set reschedules them,
// keeping the earlier deadline as upstream's processPodOnNode does.
//
// Simplifications: events are handled at once instead of through upstream's
// sharded node and pod queues; the DisruptionTarget pod condition upstream writes
// before deleting is not written; no Events are recorded.
package tainteviction

import (
	"fmt"
	"math"
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
const Component = "controller-manager/taint-eviction"

// Config configures the controller.
type Config struct {
	// DeleteRetries is how many times a failed eviction is retried and RetryDelay
	// the pause between attempts (taint_eviction.go deletePodHandler: 5 retries,
	// 10 ms apart).
	DeleteRetries int
	RetryDelay    time.Duration
}

// DefaultConfig returns upstream's values.
func DefaultConfig() Config { return Config{DeleteRetries: 5, RetryDelay: 10 * time.Millisecond} }

// Validate checks the configuration; messages name the field.
func (c *Config) Validate(_ *dist.Registry) error {
	if c.DeleteRetries < 0 {
		return fmt.Errorf("deleteRetries: must not be negative, got %d", c.DeleteRetries)
	}
	if c.RetryDelay < 0 {
		return fmt.Errorf("retryDelay: must not be negative, got %v", c.RetryDelay)
	}
	return nil
}

// work is one scheduled eviction (a TimedWorker).
type work struct {
	start, fire sim.Time
	timer       sim.Timer
	done        bool   // fired: kept so the pod is not evicted twice (until cancelled)
	detail      string // the toleration arithmetic, for the trace
}

// Controller is the taint eviction controller.
type Controller struct {
	eng     *sim.Engine
	client  *apiserver.Client // step 7: evictions
	cfg     Config
	tel     sim.Telemetry
	factory *informers.Factory
	nodeInf *apiserver.Informer
	podInf  *apiserver.Informer
	started bool

	tainted    map[string][]api.Taint // node -> its NoExecute taints
	podsByNode map[string]map[string]*api.Pod
	work       map[string]*work // pod key -> scheduled eviction
	evictions  uint64
}

// New returns a controller that talks to the apiserver through client.
func New(eng *sim.Engine, client *apiserver.Client, cfg Config, reg *dist.Registry, tel sim.Telemetry) (*Controller, error) {
	if err := cfg.Validate(reg); err != nil {
		return nil, fmt.Errorf("taint eviction controller: %w", err)
	}
	if tel == nil {
		tel = sim.Discard
	}
	return &Controller{
		eng: eng, client: client.WithStep(7), cfg: cfg, tel: tel,
		tainted:    map[string][]api.Taint{},
		podsByNode: map[string]map[string]*api.Pod{},
		work:       map[string]*work{},
	}, nil
}

// UseInformers makes Start take its informers from a shared factory (call before
// Start). Without it Start creates a private factory.
func (c *Controller) UseInformers(f *informers.Factory) { c.factory = f }

// Start starts the informers (Nodes, Pods).
func (c *Controller) Start() {
	if c.started {
		return
	}
	c.started = true
	if c.factory == nil {
		c.factory = informers.NewFactory(c.client)
	}
	c.podInf = c.factory.Informer(api.KindPod, apiserver.Handlers{
		OnAdd:    func(o api.Object) { c.onPod(nil, o.(*api.Pod)) },
		OnUpdate: func(old, o api.Object) { c.onPod(old.(*api.Pod), o.(*api.Pod)) },
		OnDelete: func(o api.Object) { c.onPodDelete(o.(*api.Pod)) },
	})
	c.nodeInf = c.factory.Informer(api.KindNode, apiserver.Handlers{
		OnAdd:    func(o api.Object) { c.onNode(nil, o.(*api.Node)) },
		OnUpdate: func(old, o api.Object) { c.onNode(old.(*api.Node), o.(*api.Node)) },
		OnDelete: func(o api.Object) { delete(c.tainted, o.(*api.Node).Name) },
	})
}

// Evictions returns how many pods the controller has deleted.
func (c *Controller) Evictions() uint64 { return c.evictions }

// Scheduled returns the time the eviction of pod ns/name is due, if one is pending.
func (c *Controller) Scheduled(ns, name string) (sim.Time, bool) {
	w := c.work[ns+"/"+name]
	if w == nil || w.done {
		return 0, false
	}
	return w.fire, true
}

func (c *Controller) trace(action, object, detail string) {
	c.tel.Trace(sim.Record{Time: c.eng.Now(), Step: 7, Component: Component, Action: action, Object: object, Detail: detail})
}

func podKey(p *api.Pod) string { return p.Namespace + "/" + p.Name }

func noExecute(ts []api.Taint) []api.Taint {
	var out []api.Taint
	for _, t := range ts {
		if t.Effect == api.TaintNoExecute {
			out = append(out, t)
		}
	}
	return out
}

func sameTaints(a, b []api.Taint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || a[i].Value != b[i].Value || a[i].Effect != b[i].Effect {
			return false
		}
	}
	return true
}

// onNode is handleNodeUpdate, run when a node's NoExecute taints change.
func (c *Controller) onNode(old, n *api.Node) {
	taints := noExecute(n.Spec.Taints)
	if old != nil && sameTaints(noExecute(old.Spec.Taints), taints) {
		return
	}
	if old == nil && len(taints) == 0 {
		return
	}
	if len(taints) == 0 {
		delete(c.tainted, n.Name)
	} else {
		c.tainted[n.Name] = taints
	}
	pods := c.podsOn(n.Name)
	if len(taints) == 0 {
		for _, p := range pods {
			c.cancel(podKey(p), "all NoExecute taints were removed from node "+n.Name)
		}
		return
	}
	now := c.eng.Now()
	for _, p := range pods {
		c.processPodOnNode(p, n.Name, taints, now)
	}
}

func (c *Controller) podsOn(node string) []*api.Pod {
	m := c.podsByNode[node]
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

func (c *Controller) onPod(old, p *api.Pod) {
	if old != nil && old.Spec.NodeName != p.Spec.NodeName {
		c.unindex(old)
	}
	if p.Spec.NodeName == "" {
		return
	}
	node := string(p.Spec.NodeName)
	m := c.podsByNode[node]
	if m == nil {
		m = map[string]*api.Pod{}
		c.podsByNode[node] = m
	}
	m[podKey(p)] = p
	// PodUpdated: only a new node or changed tolerations matter.
	if old != nil && old.Spec.NodeName == p.Spec.NodeName && sameTolerations(old.Spec.Tolerations, p.Spec.Tolerations) {
		return
	}
	if taints, ok := c.tainted[node]; ok {
		c.processPodOnNode(p, node, taints, c.eng.Now())
	}
}

func sameTolerations(a, b []api.Toleration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Key != y.Key || x.Operator != y.Operator || x.Value != y.Value || x.Effect != y.Effect {
			return false
		}
		if (x.TolerationSeconds == nil) != (y.TolerationSeconds == nil) ||
			(x.TolerationSeconds != nil && *x.TolerationSeconds != *y.TolerationSeconds) {
			return false
		}
	}
	return true
}

func (c *Controller) unindex(p *api.Pod) {
	node := string(p.Spec.NodeName)
	if m := c.podsByNode[node]; m != nil {
		delete(m, podKey(p))
		if len(m) == 0 {
			delete(c.podsByNode, node)
		}
	}
}

func (c *Controller) onPodDelete(p *api.Pod) {
	c.unindex(p)
	key := podKey(p)
	if w := c.work[key]; w != nil {
		c.eng.Cancel(w.timer)
		delete(c.work, key)
	}
}

// matching returns, per taint, the first toleration that tolerates it
// (v1helper.GetMatchingTolerations), or false with the first untolerated taint.
func matching(taints []api.Taint, tols []api.Toleration) ([]api.Toleration, *api.Taint, bool) {
	used := make([]api.Toleration, 0, len(taints))
	for i := range taints {
		found := false
		for j := range tols {
			if tols[j].ToleratesTaint(&taints[i]) {
				used = append(used, tols[j])
				found = true
				break
			}
		}
		if !found {
			return nil, &taints[i], false
		}
	}
	return used, nil, true
}

// minTolerationTime is getMinTolerationTime: the smallest tolerationSeconds of the
// used tolerations (0 for a value ≤ 0), or -1 when none has one (forever).
func minTolerationTime(used []api.Toleration) (time.Duration, *api.Toleration) {
	if len(used) == 0 {
		return 0, nil
	}
	best := int64(math.MaxInt64)
	var which *api.Toleration
	for i := range used {
		if s := used[i].TolerationSeconds; s != nil {
			if *s <= 0 {
				return 0, &used[i]
			}
			if *s < best {
				best, which = *s, &used[i]
			}
		}
	}
	if which == nil {
		return -1, nil
	}
	return time.Duration(best) * time.Second, which
}

func taintString(t *api.Taint) string {
	if t.Value != "" {
		return t.Key + "=" + t.Value + ":" + string(t.Effect)
	}
	return t.Key + ":" + string(t.Effect)
}

func taintList(ts []api.Taint) string {
	s := make([]string, len(ts))
	for i := range ts {
		s[i] = taintString(&ts[i])
	}
	return strings.Join(s, ", ")
}

// processPodOnNode decides a pod's eviction from its node's NoExecute taints.
func (c *Controller) processPodOnNode(p *api.Pod, node string, taints []api.Taint, now sim.Time) {
	key := podKey(p)
	used, bad, all := matching(taints, p.Spec.Tolerations)
	if !all {
		c.cancel(key, "")
		c.schedule(key, now, now, fmt.Sprintf("node %s has taint %s, which the pod does not tolerate: evicted at once", node, taintString(bad)))
		return
	}
	d, which := minTolerationTime(used)
	if d < 0 {
		c.cancel(key, fmt.Sprintf("the pod tolerates every NoExecute taint of node %s (%s) forever", node, taintList(taints)))
		return
	}
	start := now
	if w := c.work[key]; w != nil && !w.done {
		start = w.start
		if start.Add(d) < now.Add(d) {
			return // the pending eviction is due earlier: keep it
		}
		c.cancel(key, "")
	}
	fire := start.Add(d)
	src := ""
	if which != nil && which.TolerationSeconds != nil && *which.TolerationSeconds == api.DefaultTolerationSeconds &&
		(which.Key == api.TaintNodeUnreachable || which.Key == api.TaintNodeNotReady) {
		src = ", the default toleration from admission"
	}
	tol, tkey := "tolerationSeconds 0", ""
	if which != nil {
		tol, tkey = fmt.Sprintf("tolerationSeconds %d", *which.TolerationSeconds), which.Key
	}
	c.schedule(key, start, fire, fmt.Sprintf("node %s tainted %s: tainted at %s + %s (toleration for %s%s) → evict at %s",
		node, taintList(taints), fmtT(start), tol, tkey, src, fmtT(fire)))
}

func (c *Controller) schedule(key string, start, fire sim.Time, detail string) {
	if w, ok := c.work[key]; ok && w != nil {
		return // already scheduled, or done and not cancelled (AddWork skips existing work)
	}
	w := &work{start: start, fire: fire, detail: detail}
	c.work[key] = w
	if fire > c.eng.Now() {
		c.trace("schedule-eviction", "pod/"+key, detail)
	}
	w.timer = c.eng.At(max(fire, c.eng.Now()), func() { c.evict(key, w, 0) })
}

func (c *Controller) cancel(key, why string) {
	w := c.work[key]
	if w == nil {
		return
	}
	c.eng.Cancel(w.timer)
	delete(c.work, key)
	if why != "" && !w.done {
		c.trace("cancel-eviction", "pod/"+key, why+": the eviction scheduled for "+fmtT(w.fire)+" is cancelled")
	}
}

// evict deletes the pod through the apiserver (graceful, as an API eviction by the
// controller): it gets a deletionTimestamp and its kubelet, if alive, stops it.
func (c *Controller) evict(key string, w *work, attempt int) {
	if c.work[key] != w {
		return
	}
	i := strings.IndexByte(key, '/')
	ns, name := key[:i], key[i+1:]
	o, ok := c.podInf.Get(ns, name)
	if !ok {
		delete(c.work, key)
		return
	}
	p := o.(*api.Pod)
	if attempt == 0 {
		c.trace("evict", api.Ref(p), w.detail+"; deleting the pod through the apiserver")
		c.tel.Observe("pod_eviction_seconds", c.eng.Now(), c.eng.Now().Sub(w.start).Seconds())
	}
	c.client.Delete(api.KindPod, ns, name, apiserver.DeleteOptions{}, func(err error) {
		switch {
		case err == nil || apiserver.IsNotFound(err):
			if c.work[key] == w {
				w.done = true
			}
			c.evictions++
		case attempt < c.cfg.DeleteRetries:
			c.eng.After(c.cfg.RetryDelay, func() { c.evict(key, w, attempt+1) })
		default:
			c.trace("evict-failed", api.Ref(p), fmt.Sprintf("deleting the pod failed %d times (%v)", attempt+1, err))
			if c.work[key] == w {
				delete(c.work, key)
			}
		}
	})
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
