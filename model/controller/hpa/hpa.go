// Package hpa models kube-controller-manager's Horizontal Pod Autoscaler controller,
// autoscaling/v2 (reference §3.4; pkg/controller/podautoscaler/{horizontal.go,
// replica_calculator.go}, config/v1alpha1/defaults.go; pkg/apis/autoscaling/v2/
// defaults.go).
//
// Every HPA is synced every SyncPeriod (15 s), the first time one period after it
// is seen, as upstream's queue adds every key with the resync delay. A sync reads the
// target's scale (spec.replicas of a Deployment or ReplicaSet), its pods and their
// PodMetrics from shared informers, computes one proposal per metric with the
// replica calculator (tolerance, ready-pod handling, missing metrics, recompute after
// substitutions), takes the maximum, normalizes it (without behavior: the 5-minute
// downscale stabilization and the scale-up limit max(2·current, 4); with behavior:
// both stabilization windows and the policies' rate limits) and clamps it to [min,
// max]. A change is written to the target's spec.replicas with the resourceVersion
// precondition (a conflict re-reads the target and retries, at most 5 times) and
// traced at step 7 with its arithmetic; the HPA status is written when it changes.
//
// Simplifications: targets are Deployments and ReplicaSets (not StatefulSets); the
// target's pods are found through controller owner references (Deployment →
// ReplicaSets → Pods, or ReplicaSet → Pods) and then filtered by the target's
// selector, where upstream lists pods by the scale subresource's selector; only
// Resource metrics (cpu, memory; a container's requests are summed over the pod);
// no HPA conditions or events; syncs of different HPAs are serial; the alpha
// per-HPA tolerance (HPAConfigurableTolerance) is not modeled.
package hpa

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/controller/manager/informers"
	"github.com/kubesim/kubesim/sim"
)

// Component is the trace component name.
const Component = "controller-manager/hpa"

// maxScaleAttempts bounds the retries of a scale update that meets a conflict.
const maxScaleAttempts = 5

// Config holds the controller's flags (kube-controller-manager
// --horizontal-pod-autoscaler-*; config/v1alpha1/defaults.go).
type Config struct {
	// SyncPeriod: --horizontal-pod-autoscaler-sync-period, 15 s.
	SyncPeriod time.Duration
	// Tolerance: --horizontal-pod-autoscaler-tolerance, 0.1.
	Tolerance float64
	// DownscaleStabilizationWindow:
	// --horizontal-pod-autoscaler-downscale-stabilization, 5 min.
	DownscaleStabilizationWindow time.Duration
	// CPUInitializationPeriod: --horizontal-pod-autoscaler-cpu-initialization-period,
	// 5 min.
	CPUInitializationPeriod time.Duration
	// InitialReadinessDelay:
	// --horizontal-pod-autoscaler-initial-readiness-delay, 30 s.
	InitialReadinessDelay time.Duration
}

// DefaultConfig returns the upstream defaults (reference §3.4).
func DefaultConfig() Config {
	return Config{
		SyncPeriod:                   15 * time.Second,
		Tolerance:                    0.1,
		DownscaleStabilizationWindow: 5 * time.Minute,
		CPUInitializationPeriod:      5 * time.Minute,
		InitialReadinessDelay:        30 * time.Second,
	}
}

// Validate checks the configuration; messages name the field.
func (c *Config) Validate() error {
	switch {
	case c.SyncPeriod <= 0:
		return fmt.Errorf("syncPeriod: must be positive, got %v", c.SyncPeriod)
	case c.Tolerance < 0 || c.Tolerance >= 1:
		return fmt.Errorf("tolerance: must be in [0, 1), got %g", c.Tolerance)
	case c.DownscaleStabilizationWindow < 0:
		return fmt.Errorf("downscaleStabilizationWindow: must not be negative")
	case c.CPUInitializationPeriod < 0:
		return fmt.Errorf("cpuInitializationPeriod: must not be negative")
	case c.InitialReadinessDelay < 0:
		return fmt.Errorf("initialReadinessDelay: must not be negative")
	}
	return nil
}

// Controller is the HPA controller.
type Controller struct {
	eng                                  *sim.Engine
	client, step7                        *apiserver.Client
	cfg                                  Config
	tel                                  sim.Telemetry
	factory                              *informers.Factory
	hpaInf, podInf, pmInf, depInf, rsInf *apiserver.Informer
	states                               map[string]*state
	timers                               map[string]sim.Timer
	started                              bool
	syncs                                int
}

// New returns a controller that talks to the apiserver through client.
func New(eng *sim.Engine, client *apiserver.Client, cfg Config, tel sim.Telemetry) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("hpa controller: %w", err)
	}
	if tel == nil {
		tel = sim.Discard
	}
	return &Controller{eng: eng, client: client, step7: client.WithStep(7), cfg: cfg, tel: tel,
		states: map[string]*state{}, timers: map[string]sim.Timer{}}, nil
}

// UseInformers makes Start take its informers from a shared factory (call before
// Start). Without it Start creates a private factory.
func (c *Controller) UseInformers(f *informers.Factory) { c.factory = f }

// Syncs returns the number of HPA syncs run.
func (c *Controller) Syncs() int { return c.syncs }

// Start starts the informers; HPAs are synced once they have synced.
func (c *Controller) Start() {
	if c.started {
		return
	}
	c.started = true
	if c.factory == nil {
		c.factory = informers.NewFactory(c.client)
	}
	c.podInf = c.factory.Informer(api.KindPod, apiserver.Handlers{})
	c.pmInf = c.factory.Informer(api.KindPodMetrics, apiserver.Handlers{})
	c.depInf = c.factory.Informer(api.KindDeployment, apiserver.Handlers{})
	c.rsInf = c.factory.Informer(api.KindReplicaSet, apiserver.Handlers{})
	c.hpaInf = c.factory.Informer(api.KindHorizontalPodAutoscaler, apiserver.Handlers{
		OnAdd:    func(o api.Object) { c.enqueue(keyOf(o)) },
		OnUpdate: func(_, o api.Object) { c.enqueue(keyOf(o)) },
	})
}

func keyOf(o api.Object) string { m := o.Meta(); return m.Namespace + "/" + m.Name }

// enqueue schedules key's sync one SyncPeriod from now unless one is pending: as
// upstream, every add waits the resync period and a key already waiting is not
// added again.
func (c *Controller) enqueue(key string) {
	if _, ok := c.timers[key]; ok {
		return
	}
	c.timers[key] = c.eng.After(c.cfg.SyncPeriod, func() {
		delete(c.timers, key)
		c.sync(key)
	})
}

func (c *Controller) trace(step int, action, object, detail string) {
	c.tel.Trace(sim.Record{Time: c.eng.Now(), Step: step, Component: Component, Action: action, Object: object, Detail: detail})
}

// target is what a sync needs of the scale target.
type target struct {
	obj      api.Object
	replicas int32 // spec.replicas
	status   int32 // status.replicas
	selector *api.LabelSelector
	pods     []*api.Pod
}

func (c *Controller) target(h *api.HorizontalPodAutoscaler) (*target, error) {
	ref := h.Spec.ScaleTargetRef
	switch ref.Kind {
	case api.KindDeployment:
		o, ok := c.depInf.Get(h.Namespace, ref.Name)
		if !ok {
			return nil, fmt.Errorf("deployments %q not found", ref.Name)
		}
		d := o.(*api.Deployment)
		t := &target{obj: d, replicas: d.Spec.Replicas, status: d.Status.Replicas, selector: d.Spec.Selector}
		for _, rso := range c.rsInf.ByOwner(d.UID) {
			t.pods = append(t.pods, c.podsOf(rso.Meta().UID, d.Spec.Selector)...)
		}
		return t, nil
	case api.KindReplicaSet:
		o, ok := c.rsInf.Get(h.Namespace, ref.Name)
		if !ok {
			return nil, fmt.Errorf("replicasets %q not found", ref.Name)
		}
		rs := o.(*api.ReplicaSet)
		return &target{obj: rs, replicas: rs.Spec.Replicas, status: rs.Status.Replicas, selector: rs.Spec.Selector,
			pods: c.podsOf(rs.UID, rs.Spec.Selector)}, nil
	}
	return nil, fmt.Errorf("scale target kind %v is not supported (Deployment, ReplicaSet)", ref.Kind)
}

func (c *Controller) podsOf(owner api.UID, sel *api.LabelSelector) []*api.Pod {
	var out []*api.Pod
	for _, o := range c.podInf.ByOwner(owner) {
		p := o.(*api.Pod)
		if sel.Matches(p.Labels) {
			out = append(out, p)
		}
	}
	return out
}

// podInfos extracts the calculator's view of pods for one resource.
func podInfos(pods []*api.Pod, resource string) []PodInfo {
	out := make([]PodInfo, len(pods))
	for i, p := range pods {
		pi := PodInfo{Name: p.Name, Phase: p.Status.Phase, Deleting: p.DeletionTimestamp != nil, StartTime: p.Status.StartTime}
		if cond := p.Condition(api.PodReady); cond != nil {
			cc := *cond
			pi.Ready = &cc
		}
		for _, ct := range p.Spec.Containers {
			v := ct.Requests.MilliCPU
			if resource == "memory" {
				v = ct.Requests.Memory
			}
			if v == 0 && pi.MissingRequest == "" {
				pi.MissingRequest = ct.Name
			}
			pi.Request += v
		}
		out[i] = pi
	}
	return out
}

func (c *Controller) metricsOf(ns string, pods []*api.Pod, resource string) map[string]Metric {
	out := make(map[string]Metric, len(pods))
	for _, p := range pods {
		o, ok := c.pmInf.Get(ns, p.Name)
		if !ok {
			continue
		}
		pm := o.(*api.PodMetrics)
		v := pm.Usage.MilliCPU
		if resource == "memory" {
			v = pm.Usage.Memory
		}
		out[p.Name] = Metric{Value: v, Timestamp: pm.Timestamp, Window: time.Duration(pm.Window)}
	}
	return out
}

// sync is upstream's reconcileAutoscaler for one HPA.
func (c *Controller) sync(key string) {
	ns, name, _ := strings.Cut(key, "/")
	o, ok := c.hpaInf.Get(ns, name)
	if !ok {
		delete(c.states, key) // deleted: forget its recommendations and events
		return
	}
	c.syncs++
	h := o.(*api.HorizontalPodAutoscaler)
	ref := api.Ref(h)
	now := c.eng.Now()
	defer c.enqueue(key)
	st := c.states[key]
	if st == nil {
		st = &state{}
		c.states[key] = st
	}
	t, err := c.target(h)
	if err != nil {
		c.trace(0, "failed-get-scale", ref, err.Error())
		return
	}
	current := t.replicas
	st.recordInitialRecommendation(current, now)
	minR, maxR := h.Spec.MinReplicas, h.Spec.MaxReplicas
	if minR < 1 {
		minR = 1
	}
	var desired int32
	var explain string
	var util *int32
	switch {
	case current == 0 && minR != 0:
		// autoscaling is disabled for a target scaled to zero
		desired, explain = 0, "scale target has 0 replicas: autoscaling is disabled"
	case current > maxR:
		desired, explain = maxR, fmt.Sprintf("current replicas %d above maxReplicas %d → %d", current, maxR, maxR)
	case current < minR:
		desired, explain = minR, fmt.Sprintf("current replicas %d below minReplicas %d → %d", current, minR, minR)
	default:
		proposal, u, why, err := c.computeReplicasForMetrics(h, t, current, now)
		util = u
		if err != nil {
			c.trace(0, "failed-compute-replicas", ref, err.Error())
			c.writeStatus(h, t.status, current, util, false)
			return
		}
		var norm string
		if h.Spec.Behavior == nil {
			desired, norm = st.normalize(current, proposal, minR, maxR, c.cfg.DownscaleStabilizationWindow, now)
		} else {
			up := fillRules(h.Spec.Behavior.ScaleUp, DefaultScaleUp())
			down := fillRules(h.Spec.Behavior.ScaleDown, DefaultScaleDown(c.cfg.DownscaleStabilizationWindow))
			desired, norm = st.normalizeWithBehaviors(current, proposal, minR, maxR, up, down, now)
		}
		explain = why + norm
		if norm == "" && desired != proposal {
			explain += fmt.Sprintf(" → %d", desired)
		}
	}
	c.tel.Gauge("hpa/"+key+"/desired", now, float64(desired))
	if util != nil {
		c.tel.Gauge("hpa/"+key+"/current_utilization", now, float64(*util))
	}
	if desired == current {
		if strings.Contains(explain, "stabiliz") {
			c.trace(0, "hold", ref, fmt.Sprintf("keeps %s at %d replicas: %s", api.RefOf(h.Spec.ScaleTargetRef.Kind, ns, h.Spec.ScaleTargetRef.Name), current, explain))
		}
		c.writeStatus(h, t.status, desired, util, false)
		return
	}
	if h.Spec.Behavior != nil {
		up := fillRules(h.Spec.Behavior.ScaleUp, DefaultScaleUp())
		down := fillRules(h.Spec.Behavior.ScaleDown, DefaultScaleDown(c.cfg.DownscaleStabilizationWindow))
		st.storeScaleEvent(up, down, current, desired, now)
	}
	dir := "up"
	if desired < current {
		dir = "down"
	}
	tref := api.RefOf(h.Spec.ScaleTargetRef.Kind, ns, h.Spec.ScaleTargetRef.Name)
	c.trace(7, "scale", ref, fmt.Sprintf("scales %s %s from %d to %d replicas: %s", dir, tref, current, desired, explain))
	c.scale(h, t.obj, desired, maxScaleAttempts, func(err error) {
		if err != nil {
			c.trace(0, "failed-rescale", ref, fmt.Sprintf("could not scale %s to %d: %v", tref, desired, err))
			return
		}
		c.writeStatus(h, t.status, desired, util, true)
	})
}

// computeReplicasForMetrics takes the maximum of the per-metric proposals; metrics
// that fail are skipped unless all fail (upstream's computeReplicasForMetrics). With
// no metric listed, the default is CPU at 80 % utilization.
func (c *Controller) computeReplicasForMetrics(h *api.HorizontalPodAutoscaler, t *target, current int32, now sim.Time) (int32, *int32, string, error) {
	specs := h.Spec.Metrics
	if len(specs) == 0 {
		u := int32(80)
		specs = []api.MetricSpec{{Resource: "cpu", Target: api.MetricTarget{AverageUtilization: &u}}}
	}
	p := CalcParams{Tolerance: c.cfg.Tolerance, CPUInitializationPeriod: c.cfg.CPUInitializationPeriod, InitialReadinessDelay: c.cfg.InitialReadinessDelay, Now: now}
	var best int32
	var bestWhy string
	var util *int32
	var errs []string
	ok := 0
	for _, m := range specs {
		var tu int32
		var ta int64
		if m.Target.AverageUtilization != nil {
			tu = *m.Target.AverageUtilization
		} else if m.Target.AverageValue != nil {
			ta = *m.Target.AverageValue
		}
		if tu <= 0 && ta <= 0 {
			errs = append(errs, fmt.Sprintf("%s: no target", m.Resource))
			continue
		}
		prop, err := ResourceReplicas(current, tu, ta, m.Resource, podInfos(t.pods, m.Resource), c.metricsOf(h.Namespace, t.pods, m.Resource), p)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", m.Resource, err))
			continue
		}
		if m.Resource == "cpu" && tu > 0 && util == nil {
			u := int32(prop.Utilization)
			util = &u
		}
		if ok == 0 || prop.Replicas > best {
			best, bestWhy = prop.Replicas, prop.Explain
		}
		ok++
	}
	if ok == 0 {
		return 0, util, "", fmt.Errorf("invalid metrics (%d invalid out of %d): %s", len(errs), len(specs), strings.Join(errs, "; "))
	}
	if len(specs) > 1 {
		bestWhy += fmt.Sprintf(" (the largest of %d metrics' proposals)", ok)
	}
	return best, util, bestWhy, nil
}

// scale writes spec.replicas of the target with the resourceVersion precondition; a
// conflict re-reads the target and retries.
func (c *Controller) scale(h *api.HorizontalPodAutoscaler, obj api.Object, replicas int32, attempts int, done func(error)) {
	upd := obj.DeepCopyObject()
	switch o := upd.(type) {
	case *api.Deployment:
		o.Spec.Replicas = replicas
	case *api.ReplicaSet:
		o.Spec.Replicas = replicas
	}
	c.step7.Update(upd, func(_ api.Object, err error) {
		if err == nil || !apiserver.IsConflict(err) || attempts <= 1 {
			done(err)
			return
		}
		m := obj.Meta()
		c.client.Get(obj.Kind(), m.Namespace, m.Name, func(cur api.Object, gerr error) {
			if gerr != nil {
				done(gerr)
				return
			}
			c.scale(h, cur, replicas, attempts-1, done)
		})
	})
}

// writeStatus writes the HPA status when it changed (upstream's
// updateStatusIfNeeded).
func (c *Controller) writeStatus(h *api.HorizontalPodAutoscaler, currentReplicas, desired int32, util *int32, rescaled bool) {
	st := h.Status
	st.CurrentReplicas, st.DesiredReplicas = currentReplicas, desired
	st.CurrentCPUUtilizationPercentage = util
	if rescaled {
		now := c.eng.Now()
		st.LastScaleTime = &now
	}
	if statusEqual(&st, &h.Status) {
		return
	}
	upd := h.DeepCopyObject().(*api.HorizontalPodAutoscaler)
	upd.Status = st
	upd.ResourceVersion = 0 // the status is ours alone: no precondition
	c.client.UpdateStatus(upd, nil)
}

func statusEqual(a, b *api.HorizontalPodAutoscalerStatus) bool {
	eqT := (a.LastScaleTime == nil) == (b.LastScaleTime == nil) && (a.LastScaleTime == nil || *a.LastScaleTime == *b.LastScaleTime)
	eqU := (a.CurrentCPUUtilizationPercentage == nil) == (b.CurrentCPUUtilizationPercentage == nil) &&
		(a.CurrentCPUUtilizationPercentage == nil || *a.CurrentCPUUtilizationPercentage == *b.CurrentCPUUtilizationPercentage)
	return eqT && eqU && a.CurrentReplicas == b.CurrentReplicas && a.DesiredReplicas == b.DesiredReplicas
}

// Keys returns the HPAs the controller keeps state for, sorted (for tests).
func (c *Controller) Keys() []string {
	out := make([]string, 0, len(c.states))
	for k := range c.states {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
