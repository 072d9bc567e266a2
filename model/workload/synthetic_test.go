package workload

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/sim"
)

// meanRate draws n arrivals and returns arrivals per second.
func meanRate(t *testing.T, s ArrivalSpec, n int, seed uint64) float64 {
	t.Helper()
	a, err := NewArrivalRegistry().New(s, rand.NewPCG(seed, 1))
	if err != nil {
		t.Fatal(err)
	}
	var last time.Duration
	for i := 0; i < n; i++ {
		next := a.Next()
		if next < last {
			t.Fatalf("arrival %d at %v before the previous one at %v", i, next, last)
		}
		last = next
	}
	return float64(n) / last.Seconds()
}

func TestArrivalMeanRates(t *testing.T) {
	cases := []struct {
		name string
		spec ArrivalSpec
		tol  float64 // relative
	}{
		{"poisson", ArrivalSpec{Process: ArrivalPoisson, Rate: 50}, 0.02},
		{"constant", ArrivalSpec{Process: ArrivalConstant, Rate: 7}, 1e-9},
		{"bursty on-off", ArrivalSpec{Process: ArrivalBursty, Rate: 10, MeanOn: 10 * time.Second, MeanOff: 30 * time.Second}, 0.08},
		{"bursty mmpp", ArrivalSpec{Process: ArrivalBursty, Rate: 20, OffRate: 2, MeanOn: 5 * time.Second, MeanOff: 5 * time.Second}, 0.06},
		{"diurnal", ArrivalSpec{Process: ArrivalDiurnal, Rate: 2, Amplitude: 0.9, Period: time.Hour}, 0.04},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := meanRate(t, tc.spec, 100_000, 42)
			want := tc.spec.MeanRate()
			if math.Abs(got-want)/want > tc.tol {
				t.Errorf("mean rate %.4f/s, want %.4f/s ± %.0f%%", got, want, tc.tol*100)
			}
		})
	}
}

// TestDiurnalFollowsItsRate: arrivals near the peak outnumber those near the trough
// by about (1+A)/(1−A).
func TestDiurnalFollowsItsRate(t *testing.T) {
	s := ArrivalSpec{Process: ArrivalDiurnal, Rate: 5, Amplitude: 0.5, Period: time.Hour, PeakAt: 15 * time.Minute}
	a, _ := NewArrivalRegistry().New(s, rand.NewPCG(7, 7))
	var peak, trough int
	for i := 0; i < 200_000; i++ {
		x := math.Mod(a.Next().Minutes(), 60)
		switch {
		case x >= 10 && x < 20: // around the peak at minute 15
			peak++
		case x >= 40 && x < 50: // around the trough at minute 45
			trough++
		}
	}
	ratio := float64(peak) / float64(trough)
	// ∫ of 1 ± 0.5·cos over ±5 minutes of a 60-minute period: (1+0.5·0.955)/(1−0.5·0.955) ≈ 2.83.
	if ratio < 2.6 || ratio > 3.1 {
		t.Errorf("peak/trough ratio %.2f, want about 2.83", ratio)
	}
}

// TestBurstyIsBursty: the ON/OFF process has a squared coefficient of variation of
// its gaps well above Poisson's 1.
func TestBurstyIsBursty(t *testing.T) {
	a, _ := NewArrivalRegistry().New(ArrivalSpec{Process: ArrivalBursty, Rate: 50, MeanOn: 2 * time.Second, MeanOff: 20 * time.Second}, rand.NewPCG(3, 3))
	var prev, sum, sum2 float64
	const n = 50_000
	for i := 0; i < n; i++ {
		x := a.Next().Seconds()
		g := x - prev
		prev = x
		sum += g
		sum2 += g * g
	}
	mean := sum / n
	cv2 := (sum2/n - mean*mean) / (mean * mean)
	if cv2 < 3 {
		t.Errorf("squared coefficient of variation %.2f, want well above 1", cv2)
	}
}

func TestSizeDistributions(t *testing.T) {
	reg := NewSizeRegistry()
	cases := []struct {
		name     string
		spec     SizeSpec
		mean     float64
		tol      float64
		min, max int64
	}{
		{"const", SizeSpec{Dist: SizeConst, Value: 500}, 500, 0, 500, 500},
		{"uniform", SizeSpec{Dist: SizeUniform, Min: 100, Max: 900}, 500, 0.01, 100, 900},
		{"lognormal clamped", SizeSpec{Dist: SizeLogNormal, Median: 1000, Sigma: 0.5, Max: 3000}, 1000 * math.Exp(0.125), 0.03, 0, 3000},
		{"exponential", SizeSpec{Dist: SizeExponential, Mean: 2000}, 2000, 0.02, 0, math.MaxInt64},
		{"normal", SizeSpec{Dist: SizeNormal, Mean: 4000, StdDev: 500}, 4000, 0.01, 0, math.MaxInt64},
		{"choice", SizeSpec{Dist: SizeChoice, Values: []float64{0, 500, 1000}, Weights: []float64{2, 1, 1}}, 375, 0.03, 0, 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := reg.New(tc.spec, rand.NewPCG(1, 2))
			if err != nil {
				t.Fatal(err)
			}
			sum := 0.0
			const n = 50_000
			for i := 0; i < n; i++ {
				v := s.Sample()
				if v < tc.min || v > tc.max {
					t.Fatalf("draw %d outside [%d, %d]", v, tc.min, tc.max)
				}
				sum += float64(v)
			}
			// The lognormal's mean is lowered by the clamp at 3000; allow for it.
			if got := sum / n; math.Abs(got-tc.mean)/tc.mean > tc.tol+0.01 {
				t.Errorf("mean %.1f, want %.1f", got, tc.mean)
			}
		})
	}
}

func TestSyntheticValidation(t *testing.T) {
	arr, sizes, durs := NewArrivalRegistry(), NewSizeRegistry(), dist.NewRegistry()
	ok := SyntheticConfig{Name: "b", Arrival: ArrivalSpec{Process: ArrivalPoisson, Rate: 1}, Count: 10, Duration: dist.Const(time.Second)}
	cases := []struct {
		name string
		edit func(*SyntheticConfig)
		want string
	}{
		{"unknown process", func(c *SyntheticConfig) { c.Arrival.Process = "hawkes" }, `unknown arrival process "hawkes" (known: bursty, constant, diurnal, poisson)`},
		{"unbounded", func(c *SyntheticConfig) { c.Count = 0 }, "generation must be bounded"},
		{"bad rate", func(c *SyntheticConfig) { c.Arrival.Rate = 0 }, "rate must be a positive"},
		{"unknown size", func(c *SyntheticConfig) { c.CPU = &SizeSpec{Dist: "zipf"} }, `sizes.cpu: unknown size distribution "zipf" (known: choice, const, exponential, lognormal, normal, uniform)`},
		{"choice weights", func(c *SyntheticConfig) {
			c.GPU = &SizeSpec{Dist: SizeChoice, Values: []float64{0, 1000}, Weights: []float64{1}}
		}, "sizes.gpu: choice has 2 values but 1 weights"},
		{"bad duration", func(c *SyntheticConfig) { c.Duration = dist.Spec{Kind: "weibull"} }, `duration: unknown distribution "weibull"`},
		{"bursty periods", func(c *SyntheticConfig) { c.Arrival = ArrivalSpec{Process: ArrivalBursty, Rate: 3} }, "meanOn and meanOff must be positive"},
		{"kind", func(c *SyntheticConfig) { c.Kind = "deployment" }, `kind: unknown kind "deployment"`},
	}
	if err := ok.Validate(arr, sizes, durs); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate(arr, sizes, durs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// runSynthetic generates into an apiserver (no scheduler needed) and returns the
// created objects' descriptions, in creation order.
func runSynthetic(t *testing.T, seed uint64, cfg SyntheticConfig, until time.Duration) (string, *Synthetic) {
	t.Helper()
	// etcd and the apiserver only: the generator's output does not depend on a scheduler.
	eng := sim.New(seed)
	reg := dist.NewRegistry()
	st, err := etcd.New(eng, etcd.DefaultConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	tel := &recorder{keep: true}
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, tel)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewSynthetic(eng, srv.Client("synthetic", 0, 0), cfg, NewArrivalRegistry(), NewSizeRegistry(), reg, tel)
	if err != nil {
		t.Fatal(err)
	}
	g.Start()
	eng.RunUntil(sim.Time(until))
	var b strings.Builder
	for _, r := range tel.records {
		if r.Component == SyntheticComponent {
			fmt.Fprintf(&b, "%d %s %s %s\n", r.Time, r.Action, r.Object, r.Detail)
		}
	}
	return b.String(), g
}

func batchConfig() SyntheticConfig {
	return SyntheticConfig{Name: "batch", Arrival: ArrivalSpec{Process: ArrivalPoisson, Rate: 20}, Count: 200,
		CPU:      &SizeSpec{Dist: SizeLogNormal, Median: 500, Sigma: 0.8, Max: 8000},
		Memory:   &SizeSpec{Dist: SizeLogNormal, Median: 1 << 30, Sigma: 1, Max: 32 << 30},
		GPU:      &SizeSpec{Dist: SizeChoice, Values: []float64{0, 250, 500, 1000, 2000}, Weights: []float64{60, 10, 10, 15, 5}},
		Duration: dist.Exponential(10 * time.Minute), GPUModels: []string{"V100"}}
}

func TestSyntheticDeterministicAndBounded(t *testing.T) {
	a, g := runSynthetic(t, 5, batchConfig(), time.Hour)
	b, _ := runSynthetic(t, 5, batchConfig(), time.Hour)
	if a != b {
		t.Fatal("the same seed gave different generations")
	}
	c, _ := runSynthetic(t, 6, batchConfig(), time.Hour)
	if a == c {
		t.Error("another seed gave the same generation")
	}
	if g.Generated() != 200 || g.Created() != 200 || g.Failed() != 0 || !g.Done() {
		t.Errorf("generated %d created %d failed %d done %v", g.Generated(), g.Created(), g.Failed(), g.Done())
	}
	if !strings.Contains(a, "/1000 of a GPU") || !strings.Contains(a, ", 2 GPU") {
		t.Error("GPU shares and whole GPUs expected among 200 draws")
	}
	// Adding a generator-level stream (a new size) must not shift the arrivals.
	cfg := batchConfig()
	cfg.GPU = nil
	d, _ := runSynthetic(t, 5, cfg, time.Hour)
	if times(a) != times(d) {
		t.Error("dropping the GPU size changed the arrival times: streams are not independent")
	}

	// Stop bounds generation in time.
	cfg = batchConfig()
	cfg.Count, cfg.Start, cfg.Stop = 0, 10*time.Second, 20*time.Second
	out, g := runSynthetic(t, 5, cfg, time.Minute)
	if n := g.Generated(); n < 150 || n > 250 {
		t.Errorf("%d arrivals in 10 s at 20/s", n)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var ns int64
		fmt.Sscan(l, &ns)
		if ns < int64(10*time.Second) || ns > int64(20*time.Second) {
			t.Fatalf("arrival outside [start, stop]: %s", l)
		}
	}
}

func times(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		f, _, _ := strings.Cut(l, " ")
		b.WriteString(f + " ")
	}
	return b.String()
}

// TestSyntheticObjects: a Job arrival carries one completion, the drawn requests
// (a GPU share), the drawn run time and the GPU-model affinity. (That the pods run
// and complete is checked end to end by cmd/kubesim TestSyntheticBatchScenario.)
func TestSyntheticObjects(t *testing.T) {
	cfg := batchConfig()
	g := &Synthetic{cfg: cfg}
	g.cfg.Namespace, g.cfg.Image, g.cfg.Kind = "default", DefaultTraceImage, SyntheticJobs
	s := newStack(t, 1, false)
	g.eng = s.eng
	g.arrivals, _ = NewArrivalRegistry().New(cfg.Arrival, s.eng.Source("a"))
	g.cpu, _ = NewSizeRegistry().New(*cfg.CPU, s.eng.Source("c"))
	g.gpu, _ = NewSizeRegistry().New(SizeSpec{Dist: SizeConst, Value: 460}, s.eng.Source("g"))
	g.duration = dist.NewRegistry().MustNew(dist.Const(time.Minute), s.eng.Source("d"))
	j := g.object(7).(*api.Job)
	if j.Name != "batch-7" || j.Spec.Completions != 1 || j.Spec.Template.Spec.RestartPolicy != api.RestartNever {
		t.Errorf("job %+v", j)
	}
	c := j.Spec.Template.Spec.Containers[0]
	if c.RunDuration != time.Minute || c.Requests.Scalar[api.ResourceGPUMilli] != 460 || c.Requests.MilliCPU <= 0 {
		t.Errorf("container %+v", c)
	}
	if a := j.Spec.Template.Spec.Affinity; a == nil || a.NodeAffinity.Required[0].MatchExpressions[0].Values[0] != "V100" {
		t.Errorf("GPU pods need the model affinity: %+v", a)
	}
	if j.Labels[LabelWorkload] != "synthetic-batch" {
		t.Errorf("labels %v", j.Labels)
	}
}
