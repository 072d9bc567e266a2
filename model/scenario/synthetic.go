package scenario

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/workload"
)

// Synthetic is a generator of pods (or Jobs): an arrival process, request-size
// distributions, a run-time distribution and a pod template. Generation is
// bounded by count, stop, or both. See docs/workloads.md for the processes and
// distributions and their parameters.
type Synthetic struct {
	Name     string            `yaml:"name"`
	Kind     string            `yaml:"kind"` // pod (default) or job
	Arrival  Arrival           `yaml:"arrival"`
	Start    Duration          `yaml:"start"`
	Stop     Duration          `yaml:"stop"`
	Count    int               `yaml:"count"`
	Sizes    SyntheticSizes    `yaml:"sizes"`
	Duration *Dist             `yaml:"duration"`
	Template SyntheticTemplate `yaml:"template"`
}

// Arrival is an arrival process: {process: poisson, rate: 50/s}.
type Arrival struct {
	Process   string   `yaml:"process"`
	Rate      Rate     `yaml:"rate"`
	OffRate   Rate     `yaml:"offRate"`
	MeanOn    Duration `yaml:"meanOn"`
	MeanOff   Duration `yaml:"meanOff"`
	Amplitude float64  `yaml:"amplitude"`
	Period    Duration `yaml:"period"`
	PeakAt    Duration `yaml:"peakAt"`
}

// SyntheticSizes are the request distributions: cpu in cores ("500m", 2),
// memory in bytes ("1Gi"), gpu in GPUs (0.5 is half of one GPU).
type SyntheticSizes struct {
	CPU    *Size `yaml:"cpu"`
	Memory *Size `yaml:"memory"`
	GPU    *Size `yaml:"gpu"`
}

// Size is a request-size distribution with quantities as parameters:
// {dist: lognormal, median: 500m, sigma: 0.8, max: 8}.
type Size struct {
	Dist    string     `yaml:"dist"`
	Value   Quantity   `yaml:"value"`
	Min     Quantity   `yaml:"min"`
	Max     Quantity   `yaml:"max"`
	Mean    Quantity   `yaml:"mean"`
	Median  Quantity   `yaml:"median"`
	StdDev  Quantity   `yaml:"stddev"`
	Sigma   float64    `yaml:"sigma"`
	Values  []Quantity `yaml:"values"`
	Weights []float64  `yaml:"weights"`
}

// SyntheticTemplate is the template of the generated pods.
type SyntheticTemplate struct {
	Namespace         string            `yaml:"namespace"`
	Labels            map[string]string `yaml:"labels"`
	PriorityClassName string            `yaml:"priorityClassName"`
	SchedulerName     string            `yaml:"schedulerName"`
	Image             string            `yaml:"image"`
	GPUModels         []string          `yaml:"gpuModels"`
}

// Rate is a rate per second, written as a number (per second) or as "50/s",
// "30/m" (or /min), "120/h" or "1000/d".
type Rate float64

// UnmarshalYAML implements yaml.Unmarshaler.
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return lineErr(n, "expected a rate such as 50/s, 30/m or 2.5 (per second)")
	}
	num, unit, hasUnit := strings.Cut(strings.TrimSpace(n.Value), "/")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return lineErr(n, "%q is not a rate (write it like 50/s, 30/m, 120/h or a number per second)", n.Value)
	}
	if hasUnit {
		div := map[string]float64{"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}[strings.TrimSpace(unit)]
		if div == 0 {
			return lineErr(n, "%q: unknown time unit %q (s, m, h, d)", n.Value, unit)
		}
		v /= div
	}
	*r = Rate(v)
	return nil
}

// unit converts a quantity into a resource's base unit.
type unit func(Quantity) float64

var (
	milliUnits unit = func(q Quantity) float64 { return float64(q.Milli()) } // cpu: millicores; gpu: thousandths
	byteUnits  unit = func(q Quantity) float64 { return float64(q.Value()) }
)

func (s *Size) spec(u unit) *workload.SizeSpec {
	if s == nil {
		return nil
	}
	out := &workload.SizeSpec{Dist: s.Dist, Value: u(s.Value), Min: u(s.Min), Max: u(s.Max), Mean: u(s.Mean), Median: u(s.Median),
		StdDev: u(s.StdDev), Sigma: s.Sigma, Weights: append([]float64(nil), s.Weights...)}
	for _, v := range s.Values {
		out.Values = append(out.Values, u(v))
	}
	return out
}

// Config converts the scenario section into the generator's configuration.
func (s *Synthetic) Config() workload.SyntheticConfig {
	a := &s.Arrival
	cfg := workload.SyntheticConfig{
		Name: s.Name, Kind: s.Kind, Start: s.Start.D(), Stop: s.Stop.D(), Count: s.Count,
		Arrival: workload.ArrivalSpec{Process: a.Process, Rate: float64(a.Rate), OffRate: float64(a.OffRate), MeanOn: a.MeanOn.D(),
			MeanOff: a.MeanOff.D(), Amplitude: a.Amplitude, Period: a.Period.D(), PeakAt: a.PeakAt.D()},
		CPU: s.Sizes.CPU.spec(milliUnits), Memory: s.Sizes.Memory.spec(byteUnits), GPU: s.Sizes.GPU.spec(milliUnits),
		Namespace: s.Template.Namespace, Labels: s.Template.Labels, PriorityClassName: s.Template.PriorityClassName,
		SchedulerName: s.Template.SchedulerName, Image: s.Template.Image, GPUModels: s.Template.GPUModels,
	}
	if s.Duration != nil {
		cfg.Duration = s.Duration.Spec
	}
	return cfg
}

// validateSynthetic checks the generators with the built-in registries.
func (s *Scenario) validateSynthetic(add func(error)) {
	arr, sizes, durs := workload.NewArrivalRegistry(), workload.NewSizeRegistry(), dist.NewRegistry()
	names := map[string]bool{}
	for i := range s.Workload.Synthetic {
		g := &s.Workload.Synthetic[i]
		path := fmt.Sprintf("workload.synthetic[%d]", i)
		if g.Name == "" {
			g.Name = fmt.Sprintf("synthetic-%d", i+1)
		}
		if !dns1123.MatchString(g.Name) {
			add(s.errAt(path+".name", "%q is not a valid name (lower-case letters, digits, '-' and '.')", g.Name))
		}
		if names[g.Name] {
			add(s.errAt(path+".name", "generator %q is defined twice", g.Name))
		}
		names[g.Name] = true
		if g.Duration == nil {
			add(s.errAt(path+".duration", "required: how long each pod runs (for example {dist: exponential, mean: 10m})"))
			continue
		}
		for _, q := range []struct {
			name string
			sz   *Size
		}{{"cpu", g.Sizes.CPU}, {"memory", g.Sizes.Memory}, {"gpu", g.Sizes.GPU}} {
			if q.sz == nil {
				continue
			}
			for _, v := range append([]Quantity{q.sz.Value, q.sz.Min, q.sz.Max, q.sz.Mean, q.sz.Median, q.sz.StdDev}, q.sz.Values...) {
				if v.Negative() {
					add(s.errAt(path+".sizes."+q.name, "quantities must not be negative, got %s", v.Text))
				}
			}
		}
		cfg := g.Config()
		if err := cfg.Validate(arr, sizes, durs); err != nil {
			field, msg, _ := strings.Cut(err.Error(), ": ")
			if strings.ContainsAny(field, " ,") {
				field, msg = "", err.Error()
			}
			p := path
			if field != "" {
				p += "." + field
			}
			add(s.errAt(p, "%s", msg))
		}
	}
}
