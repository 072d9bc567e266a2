package fault

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

// Injection is one injection of a fault on one target, for reports and tests.
type Injection struct {
	Fault, Kind, Target string
	At                  sim.Time
	// RepairedAt is when it was repaired; -1 while it is not.
	RepairedAt sim.Time
}

// Injector schedules faults on the engine against a Cluster.
type Injector struct {
	eng    *sim.Engine
	cl     Cluster
	reg    *Registry
	dreg   *dist.Registry
	tel    sim.Telemetry
	active int
	log    []Injection
	names  map[string]bool
	// OnInject and OnRepair, when set, are called after each injection and repair
	// with its index in Injections (for recovery measurements).
	OnInject, OnRepair func(i int, inj Injection)
}

// NewInjector returns an injector; Add schedules faults. tel may be nil.
func NewInjector(eng *sim.Engine, cl Cluster, reg *Registry, dreg *dist.Registry, tel sim.Telemetry) *Injector {
	if tel == nil {
		tel = sim.Discard
	}
	return &Injector{eng: eng, cl: cl, reg: reg, dreg: dreg, tel: tel, names: map[string]bool{}}
}

// Active returns the number of injections not yet repaired.
func (in *Injector) Active() int { return in.active }

// Injections returns every injection so far, in order. The caller owns the slice.
func (in *Injector) Injections() []Injection { return append([]Injection(nil), in.log...) }

// fault is one scheduled Spec.
type fault struct {
	in       *Injector
	spec     Spec
	kind     Kind
	ctx      *Context
	targets  *rand.Rand
	mtbf     dist.Sampler
	mttr     dist.Sampler
	injected int
}

// Add validates spec and schedules its injections. Names must be unique.
func (in *Injector) Add(spec Spec) error {
	if err := spec.Validate(in.reg, in.dreg); err != nil {
		if spec.Name != "" {
			return fmt.Errorf("fault %s: %w", spec.Name, err)
		}
		return err
	}
	if in.names[spec.Name] {
		return fmt.Errorf("fault %s: name: duplicate", spec.Name)
	}
	in.names[spec.Name] = true
	k, _ := in.reg.Lookup(spec.Kind)
	f := &fault{in: in, spec: spec, kind: k,
		targets: in.eng.Stream("fault/" + spec.Name + "/targets")}
	f.ctx = &Context{Eng: in.eng, Cluster: in.cl, Spec: &f.spec, Rand: in.eng.Stream("fault/" + spec.Name + "/kind")}
	first := sim.Time(spec.At)
	if spec.MTBF.Kind != "" {
		f.mtbf = in.dreg.MustNew(spec.MTBF, in.eng.Source("fault/"+spec.Name))
		if spec.MTTR.Kind != "" {
			f.mttr = in.dreg.MustNew(spec.MTTR, in.eng.Source("fault/"+spec.Name+"/repair"))
		}
		first = first.Add(f.mtbf.Sample())
	}
	in.eng.At(max(first, in.eng.Now()), f.fire)
	return nil
}

// fire injects once and schedules the next injection of a periodic fault (a random
// one schedules its next failure from its repair).
func (f *fault) fire() {
	f.injected++
	s := &f.spec
	repairIn := s.Duration
	if f.mttr != nil {
		repairIn = f.mttr.Sample()
	}
	more := s.Count == 0 || f.injected < s.Count
	f.inject(repairIn)
	switch {
	case !more:
	case s.Every > 0:
		f.in.eng.After(s.Every, f.fire)
	case f.mtbf != nil:
		f.in.eng.After(repairIn+f.mtbf.Sample(), f.fire)
	}
}

// resolve chooses the targets of one injection.
func (f *fault) resolve() []Target {
	t := &f.spec.Target
	var out []Target
	switch f.kind.Target() {
	case TargetNone:
		return []Target{{}}
	case TargetImage:
		return []Target{{Image: t.Image}}
	case TargetNode:
		names := map[string]bool{}
		for _, n := range t.Nodes {
			names[n] = true
		}
		for _, n := range f.in.cl.Nodes() {
			if (len(t.Nodes) > 0 && !names[n.Name]) || (t.Zone != "" && n.Zone != t.Zone) || !matches(t.Labels, n.Labels) {
				continue
			}
			out = append(out, Target{Node: n.Name})
		}
	case TargetPod:
		for _, p := range f.in.cl.Pods(t.Namespace, t.Pods) {
			out = append(out, Target{Namespace: p.Namespace, Pod: p.Name, Node: "", Container: t.Container})
		}
	}
	if k := t.RandomK; k > 0 && k < len(out) {
		// A partial Fisher–Yates shuffle of the sorted candidates: k distinct ones,
		// uniformly, from the fault's own stream; reported in name order.
		for i := 0; i < k; i++ {
			j := i + f.targets.IntN(len(out)-i)
			out[i], out[j] = out[j], out[i]
		}
		out = out[:k]
		sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	}
	return out
}

func matches(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (f *fault) inject(repairIn time.Duration) {
	in := f.in
	targets := f.resolve()
	if len(targets) == 0 {
		in.trace("skip", "fault/"+f.spec.Name, fmt.Sprintf("%s %s: no target matches %s", f.spec.Kind, f.spec.Name, describe(&f.spec.Target)))
		return
	}
	for _, t := range targets {
		eff, err := f.kind.Inject(f.ctx, t)
		if err != nil {
			in.trace("skip", t.String(), fmt.Sprintf("%s %s not injected: %v", f.spec.Kind, f.spec.Name, err))
			continue
		}
		in.active++
		idx := len(in.log)
		in.log = append(in.log, Injection{Fault: f.spec.Name, Kind: f.spec.Kind, Target: t.String(), At: in.eng.Now(), RepairedAt: -1})
		detail := fmt.Sprintf("%s (fault %s): %s", f.spec.Kind, f.spec.Name, eff.Expect)
		switch {
		case eff.Repair == nil:
		case repairIn > 0:
			detail += fmt.Sprintf(" Repaired in %v.", repairIn)
		default:
			detail += " It is never repaired."
		}
		in.trace("inject", t.String(), detail)
		if in.OnInject != nil {
			in.OnInject(idx, in.log[idx])
		}
		if eff.Repair == nil {
			in.active--
			in.log[idx].RepairedAt = in.eng.Now()
			in.gauge()
			if in.OnRepair != nil {
				in.OnRepair(idx, in.log[idx])
			}
			continue
		}
		in.gauge()
		if repairIn > 0 {
			repair, target := eff.Repair, t
			in.eng.After(repairIn, func() {
				msg, err := repair()
				if err != nil {
					msg = fmt.Sprintf("repair failed: %v", err)
				}
				in.active--
				in.log[idx].RepairedAt = in.eng.Now()
				in.trace("repair", target.String(), fmt.Sprintf("%s (fault %s): %s", f.spec.Kind, f.spec.Name, msg))
				in.gauge()
				if in.OnRepair != nil {
					in.OnRepair(idx, in.log[idx])
				}
			})
		}
	}
}

func describe(t *TargetSpec) string {
	var parts []string
	if len(t.Nodes) > 0 {
		parts = append(parts, "nodes "+strings.Join(t.Nodes, ","))
	}
	if len(t.Labels) > 0 {
		parts = append(parts, "labels "+fmtLabels(t.Labels))
	}
	if t.Zone != "" {
		parts = append(parts, "zone "+t.Zone)
	}
	if t.Namespace != "" {
		parts = append(parts, "namespace "+t.Namespace)
	}
	if t.Pods != nil {
		parts = append(parts, "pods "+fmtLabels(t.Pods))
	}
	if len(parts) == 0 {
		return "(any)"
	}
	return strings.Join(parts, ", ")
}

func fmtLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return "{" + strings.Join(keys, ",") + "}"
}

func (in *Injector) trace(action, object, detail string) {
	in.tel.Trace(sim.Record{Time: in.eng.Now(), Step: 0, Component: "fault", Action: action, Object: object, Detail: detail})
}

func (in *Injector) gauge() { in.tel.Gauge("faults_active", in.eng.Now(), float64(in.active)) }
