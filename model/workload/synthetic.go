package workload

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

// SyntheticComponent is the trace component name of the synthetic generators.
const SyntheticComponent = "workload/synthetic"

// Kinds of objects a synthetic generator creates per arrival.
const (
	SyntheticPods = "pod" // one Pod (restartPolicy Never) per arrival
	SyntheticJobs = "job" // one Job of one completion per arrival; its controller creates the pod
)

// SyntheticConfig configures one synthetic generator: arrivals, what each arrival
// asks for, how long it runs, and the template of its pods. Generation is bounded
// by Count, by Stop, or both.
type SyntheticConfig struct {
	// Name names the generator: its pods are <Name>-<n> (n from 1) and its random
	// streams workload/synthetic/<Name>/{arrival,cpu,memory,gpu,duration}, so
	// adding a generator or a size does not shift the others' draws.
	Name    string
	Arrival ArrivalSpec
	// Start is when the arrival process starts (its first arrival comes after).
	Start time.Duration
	// Stop ends generation: no arrival after it (0 = none; Count must bound it).
	Stop time.Duration
	// Count caps the arrivals (0 = none; Stop must bound it).
	Count int
	// CPU (millicores), Memory (bytes) and GPU (thousandths of a GPU) are the
	// request distributions; nil requests none. A GPU draw below 1000 becomes a
	// share of one GPU (api.ResourceGPUMilli); 1000 or more is rounded to whole
	// GPUs (api.ResourceGPU), as the Alibaba trace's pods ask.
	CPU, Memory, GPU *SizeSpec
	// Duration is each pod's run time (api.Container.RunDuration); the container
	// exits with code 0 after it. A zero draw becomes 1 ns (0 would mean forever).
	Duration dist.Spec
	// Kind is SyntheticPods (default) or SyntheticJobs.
	Kind string
	// Template of the pods.
	Namespace         string
	Labels            map[string]string
	PriorityClassName string
	SchedulerName     string
	Image             string
	// GPUModels restricts GPU pods to nodes whose api.LabelGPUModel is one of
	// these (required node affinity), as the trace's gpu_spec does.
	GPUModels []string
}

// Validate checks the configuration with the registries; messages name the field.
func (c *SyntheticConfig) Validate(arr *ArrivalRegistry, sizes *SizeRegistry, durs *dist.Registry) error {
	if c.Name == "" {
		return fmt.Errorf("name: required")
	}
	if err := arr.Validate(c.Arrival); err != nil {
		return fmt.Errorf("arrival: %w", err)
	}
	if c.Count < 0 {
		return fmt.Errorf("count: must not be negative, got %d", c.Count)
	}
	if c.Start < 0 || c.Stop < 0 {
		return fmt.Errorf("start, stop: must not be negative")
	}
	if c.Count == 0 && c.Stop == 0 {
		return fmt.Errorf("count, stop: give count or stop (or both): generation must be bounded")
	}
	if c.Stop > 0 && c.Stop <= c.Start {
		return fmt.Errorf("stop: must be after start (%v), got %v", c.Start, c.Stop)
	}
	for _, s := range []struct {
		name string
		spec *SizeSpec
	}{{"sizes.cpu", c.CPU}, {"sizes.memory", c.Memory}, {"sizes.gpu", c.GPU}} {
		if s.spec != nil {
			if err := sizes.Validate(*s.spec); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
		}
	}
	if err := durs.Validate(c.Duration); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	switch c.Kind {
	case "", SyntheticPods, SyntheticJobs:
	default:
		return fmt.Errorf("kind: unknown kind %q (pod, job)", c.Kind)
	}
	return nil
}

// Synthetic creates the pods (or Jobs) of a generator through an apiserver
// client at its arrival times. It keeps one pending engine event: the next arrival.
type Synthetic struct {
	eng    *sim.Engine
	client *apiserver.Client
	cfg    SyntheticConfig
	tel    sim.Telemetry

	arrivals         Arrivals
	cpu, memory, gpu Sizes
	duration         dist.Sampler
	n                int
	next             sim.Time
	done             bool
	created, failed  int
	inflight         int
	lastArrival      sim.Time
	gauge            string // synthetic_<name>_created
}

// NewSynthetic returns a generator; Start arms it. The registries give the
// arrival process, the size distributions and the duration distribution; the
// sources are the engine's named streams.
func NewSynthetic(eng *sim.Engine, client *apiserver.Client, cfg SyntheticConfig, arr *ArrivalRegistry, sizes *SizeRegistry,
	durs *dist.Registry, tel sim.Telemetry) (*Synthetic, error) {
	if err := cfg.Validate(arr, sizes, durs); err != nil {
		return nil, fmt.Errorf("synthetic workload %s: %w", cfg.Name, err)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = api.NamespaceDefault
	}
	if cfg.Image == "" {
		cfg.Image = DefaultTraceImage
	}
	if cfg.Kind == "" {
		cfg.Kind = SyntheticPods
	}
	if tel == nil {
		tel = sim.Discard
	}
	stream := func(s string) string { return SyntheticComponent + "/" + cfg.Name + "/" + s }
	g := &Synthetic{eng: eng, client: client, cfg: cfg, tel: tel,
		gauge: "synthetic_" + strings.NewReplacer("-", "_", ".", "_").Replace(cfg.Name) + "_created"}
	g.arrivals, _ = arr.New(cfg.Arrival, eng.Source(stream("arrival")))
	for _, s := range []struct {
		spec *SizeSpec
		dst  *Sizes
		name string
	}{{cfg.CPU, &g.cpu, "cpu"}, {cfg.Memory, &g.memory, "memory"}, {cfg.GPU, &g.gpu, "gpu"}} {
		if s.spec != nil {
			*s.dst, _ = sizes.New(*s.spec, eng.Source(stream(s.name)))
		}
	}
	g.duration = durs.MustNew(cfg.Duration, eng.Source(stream("duration")))
	return g, nil
}

// Start schedules the first arrival.
func (g *Synthetic) Start() { g.arm() }

func (g *Synthetic) arm() {
	if g.cfg.Count > 0 && g.n >= g.cfg.Count {
		g.done = true
		return
	}
	at := sim.Time(g.cfg.Start + g.arrivals.Next())
	if g.cfg.Stop > 0 && at > sim.Time(g.cfg.Stop) {
		g.done = true
		return
	}
	g.next = max(at, g.eng.Now())
	g.eng.At(g.next, g.arrive)
}

func (g *Synthetic) arrive() {
	g.n++
	g.lastArrival = g.eng.Now()
	g.create(g.n)
	g.arm()
}

// Requests draws the n-th arrival's requests (in the order cpu, memory, gpu,
// each from its own stream).
func (g *Synthetic) requests() api.Resources {
	var r api.Resources
	if g.cpu != nil {
		r.MilliCPU = g.cpu.Sample()
	}
	if g.memory != nil {
		r.Memory = g.memory.Sample()
	}
	if g.gpu != nil {
		switch m := g.gpu.Sample(); {
		case m <= 0:
		case m < 1000:
			r.Scalar = map[api.ResourceName]int64{api.ResourceGPUMilli: m}
		default:
			r.Scalar = map[api.ResourceName]int64{api.ResourceGPU: int64(math.Round(float64(m) / 1000))}
		}
	}
	return r
}

// PodTemplate builds the n-th arrival's pod template (labels, spec).
func (g *Synthetic) podTemplate() api.PodTemplateSpec {
	req := g.requests()
	run := max(g.duration.Sample(), time.Nanosecond)
	labels := map[string]string{LabelWorkload: "synthetic-" + g.cfg.Name}
	for k, v := range g.cfg.Labels {
		labels[k] = v
	}
	t := api.PodTemplateSpec{Labels: labels, Spec: api.PodSpec{
		SchedulerName:     g.cfg.SchedulerName,
		PriorityClassName: g.cfg.PriorityClassName,
		RestartPolicy:     api.RestartNever,
		Containers: []api.Container{{Name: "main", Image: g.cfg.Image, ImagePullPolicy: api.PullIfNotPresent,
			Requests: req, RunDuration: run}},
	}}
	if len(g.cfg.GPUModels) > 0 && len(req.Scalar) > 0 {
		t.Spec.Affinity = &api.Affinity{NodeAffinity: &api.NodeAffinity{Required: []api.NodeSelectorTerm{{
			MatchExpressions: []api.Requirement{{Key: api.LabelGPUModel, Operator: api.OpIn, Values: slices.Clone(g.cfg.GPUModels)}},
		}}}}
	}
	return t
}

// Object builds the n-th arrival's object: a Pod, or a Job of one completion.
func (g *Synthetic) object(n int) api.Object {
	t := g.podTemplate()
	name := fmt.Sprintf("%s-%d", g.cfg.Name, n)
	if g.cfg.Kind == SyntheticJobs {
		return &api.Job{ObjectMeta: api.ObjectMeta{Name: name, Namespace: g.cfg.Namespace, Labels: t.Labels},
			Spec: api.JobSpec{Completions: 1, Parallelism: 1, Template: t}}
	}
	return &api.Pod{ObjectMeta: api.ObjectMeta{Name: name, Namespace: g.cfg.Namespace, Labels: t.Labels}, Spec: t.Spec}
}

func (g *Synthetic) create(n int) {
	obj := g.object(n)
	ref := api.Ref(obj)
	c := podSpecOf(obj).Containers[0]
	g.tel.Trace(sim.Record{Time: g.eng.Now(), Component: SyntheticComponent, Action: "create-" + g.cfg.Kind, Object: ref,
		Detail: fmt.Sprintf("arrival %d of %s (%s): requests %dm CPU, %d MiB memory%s; runs %v",
			n, g.cfg.Name, g.cfg.Arrival.Process, c.Requests.MilliCPU, c.Requests.Memory>>20, gpuText(&c.Requests), c.RunDuration)})
	g.inflight++
	g.client.Create(obj, func(_ api.Object, err error) {
		g.inflight--
		if err != nil {
			g.failed++
			g.tel.Trace(sim.Record{Time: g.eng.Now(), Component: SyntheticComponent, Action: "create-failed", Object: ref,
				Detail: fmt.Sprintf("creating the synthetic %s failed: %v", g.cfg.Kind, err)})
			return
		}
		g.created++
		g.tel.Gauge(g.gauge, g.eng.Now(), float64(g.created))
	})
}

func podSpecOf(o api.Object) *api.PodSpec {
	if j, ok := o.(*api.Job); ok {
		return &j.Spec.Template.Spec
	}
	return &o.(*api.Pod).Spec
}

func gpuText(r *api.Resources) string {
	if m := r.Scalar[api.ResourceGPUMilli]; m > 0 {
		return fmt.Sprintf(", %d/1000 of a GPU", m)
	}
	if g := r.Scalar[api.ResourceGPU]; g > 0 {
		return fmt.Sprintf(", %d GPU", g)
	}
	return ""
}

// Generated returns how many arrivals happened; Created and Failed how many
// creations succeeded and failed.
func (g *Synthetic) Generated() int { return g.n }

// Created returns how many objects were created.
func (g *Synthetic) Created() int { return g.created }

// Failed returns how many creations failed.
func (g *Synthetic) Failed() int { return g.failed }

// Done reports whether generation ended and every creation was answered.
func (g *Synthetic) Done() bool { return g.done && g.inflight == 0 }

// LastArrival returns the time of the latest arrival (0 before the first).
func (g *Synthetic) LastArrival() sim.Time { return g.lastArrival }
