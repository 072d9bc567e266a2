package results

import (
	"bytes"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

func synthetic(mode string, scale float64) *RunSamples {
	r := &RunSamples{Version: "test", Scenario: "nginx", Seed: 1, Mode: mode}
	for s := 1; s <= 7; s++ {
		r.Add(StepSample(s), 0.01*float64(s)*scale, 0.02*float64(s)*scale, 0.03*float64(s)*scale)
	}
	r.Add("pod_startup_seconds", 1*scale, 1.2*scale, 1.4*scale)
	r.Add(SampleDeploymentReady, 2*scale)
	r.Add(SampleRecoveryKill, 1.5*scale)
	for i := 1; i <= 100; i++ {
		r.Add("request_latency_seconds", 0.001*float64(i)*scale)
	}
	r.Add(SampleRequestErrRate, 0)
	return r
}

func TestValidateVerdicts(t *testing.T) {
	cases := []struct {
		name       string
		scale      float64
		passed     bool
		wantFailed string
	}{
		{"identical", 1, true, ""},
		{"within 50%", 1.3, true, ""},
		// Three times slower: every latency over 50 ms of difference fails; the
		// millisecond steps stay within the 50 ms absolute slack.
		{"three times slower", 3, false, "pod_startup"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Validate(synthetic("simulated", c.scale), synthetic("real", 1), DefaultTolerances())
			if v.Passed != c.passed {
				t.Fatalf("passed = %v, want %v (failed %v)", v.Passed, c.passed, v.Failed)
			}
			if c.wantFailed != "" && !strings.Contains(strings.Join(v.Failed, ","), c.wantFailed) {
				t.Errorf("failed %v, want %s among them", v.Failed, c.wantFailed)
			}
			if len(v.Rows) != 13 {
				t.Errorf("%d rows, want 13 (7 steps, startup, ready, recovery, p50, p99, errors)", len(v.Rows))
			}
		})
	}
}

func TestValidateRelativeErrorAndMissing(t *testing.T) {
	sim, real := synthetic("simulated", 2), synthetic("real", 1)
	delete(sim.Samples, SampleRecoveryKill)
	v := Validate(sim, real, DefaultTolerances())
	for _, r := range v.Rows {
		switch r.Key {
		case "recovery_container_kill":
			if r.Verdict != "missing" {
				t.Errorf("recovery without simulated samples: verdict %s", r.Verdict)
			}
		case "errors":
			if r.RelError == nil || *r.RelError != 0 || r.Verdict != "pass" {
				t.Errorf("errors 0 vs 0: %+v", r)
			}
		case "request_latency_p99":
			if r.SimValue != 0.198 || r.RealValue != 0.099 || math.Abs(*r.RelError-1) > 1e-9 {
				t.Errorf("p99 row: sim %v real %v rel %v", r.SimValue, r.RealValue, *r.RelError)
			}
		}
	}
	if m, n := v.MeanRelativeError(nil); n != 12 || math.Abs(m-11.0/12) > 1e-9 {
		t.Errorf("mean relative error %v over %d rows", m, n)
	}
	var b bytes.Buffer
	if err := WriteValidationTable(&b, v); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"step 7", "pod startup latency", "request latency p99", "missing", "verdict: FAIL"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestRelativeErrorZeroReal(t *testing.T) {
	if _, ok := RelativeError(1, 0); ok {
		t.Error("relative error against a zero real value is not defined")
	}
	if re, ok := RelativeError(0, 0); !ok || re != 0 {
		t.Error("0 vs 0 should be 0")
	}
}

func TestParseTolerances(t *testing.T) {
	tol, err := ParseTolerances("t.yaml", []byte("default: {relative: 0.2, absolute: 0.01}\nmetrics:\n  step5: {relative: 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if tol.Default.Relative != 0.2 || tol.Metrics["step5"].Relative != 1 || tol.Errors.Absolute != 0.01 {
		t.Errorf("%+v", tol)
	}
	for _, bad := range []struct{ yaml, want string }{
		{"metrics:\n  step9: {relative: 1}\n", "t.yaml:2: metrics.step9: unknown metric"},
		{"defaults: {relative: 1}\n", "field defaults not found"},
		{"default: {relative: -1}\n", "non-negative"},
	} {
		_, err := ParseTolerances("t.yaml", []byte(bad.yaml))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.yaml, err, bad.want)
		}
	}
}

func TestFitLogNormalRecoversParameters(t *testing.T) {
	src := rand.NewPCG(1, 2)
	d := distuv.LogNormal{Mu: math.Log(0.040), Sigma: 0.3, Src: src}
	x := make([]float64, 4000)
	for i := range x {
		x[i] = d.Rand()
	}
	f, err := FitLogNormal(x)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(f.Median()-0.040) > 0.001 || math.Abs(f.Sigma-0.3) > 0.01 {
		t.Errorf("fit median %v sigma %v, want 0.040 and 0.3", f.Median(), f.Sigma)
	}
	if f.KS > 1.36/math.Sqrt(4000) {
		t.Errorf("KS %v of log-normal samples against their own fit exceeds the 5%% critical value", f.KS)
	}
	// Uniform samples fit a log-normal badly: a large KS statistic.
	u := make([]float64, 4000)
	r := rand.New(src)
	for i := range u {
		u[i] = 1 + r.Float64()*0.001
		if i%2 == 0 {
			u[i] += 10
		}
	}
	fu, _ := FitLogNormal(u)
	if fu.KS < 0.3 {
		t.Errorf("KS %v for a two-point mixture, want a poor fit (> 0.3)", fu.KS)
	}
	if _, err := FitLogNormal([]float64{0, 1}); err == nil {
		t.Error("a fit from one positive sample must fail")
	}
}

func TestCalibrateProfile(t *testing.T) {
	a := &RunSamples{Mode: "real", Notes: []string{NoteImagePresent + "nginx:1.27"}}
	b := &RunSamples{Mode: "real", Notes: []string{NoteImagePresent + "nginx:1.27", NoteImagePresent + "busybox:1"}}
	a.Add(SampleRuntimeCreate, 0.03, 0.04)
	b.Add(SampleRuntimeCreate, 0.05)
	a.Add(SampleRuntimeStart, 0.2, 0.3)
	c, err := Calibrate([]string{"a", "b"}, []*RunSamples{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Fits) != 2 || c.Fits[0].Key != "runtime.create" || c.Fits[0].Fit.N != 3 {
		t.Fatalf("fits %+v", c.Fits)
	}
	if math.Abs(c.Fits[0].Fit.Median()-math.Cbrt(0.03*0.04*0.05)) > 1e-12 {
		t.Errorf("median %v, want the geometric mean", c.Fits[0].Fit.Median())
	}
	if len(c.ImagesPresent) != 1 || c.ImagesPresent[0] != "nginx:1.27" {
		t.Errorf("images present in every run: %v", c.ImagesPresent)
	}
	y, _ := c.MarshalYAML()
	for _, want := range []string{"kind: calibration", `imagesPresent: ["nginx:1.27"]`, "runtime.create: {dist: lognormal, median: 39.149ms", "# not fitted: etcd.commit"} {
		if !strings.Contains(string(y), want) {
			t.Errorf("profile lacks %q:\n%s", want, y)
		}
	}
	if _, err := Calibrate(nil, []*RunSamples{{}}); err == nil {
		t.Error("calibrating runs without samples must fail")
	}
}

// Runs with their engine operations: calibrate fits the engine's parallelism and
// fits the runtime latencies to each operation's work at it, and the profile
// says so. Here three starts of 0.6 s of work ran at once on an engine of
// parallelism 1.5 (1.2 s each) and one alone (0.6 s).
func TestCalibrateEngineWork(t *testing.T) {
	r := &RunSamples{Mode: "real"}
	ops := []EngineOp{{0, 0.05, EngineOpCreate}, {0.1, 1.3, EngineOpStart}, {0.1, 1.3, EngineOpStart}, {0.1, 1.3, EngineOpStart},
		{10, 10.05, EngineOpCreate}, {10.05, 10.65, EngineOpStart}}
	r.AddEngineOps(ops)
	r.Add(SampleRuntimeStart, 1.2, 1.2, 1.2, 0.6)
	c, err := Calibrate([]string{"r"}, []*RunSamples{r})
	if err != nil {
		t.Fatal(err)
	}
	if c.Parallelism != 1.5 {
		t.Errorf("fitted parallelism %v, want 1.5", c.Parallelism)
	}
	var start *CalibrationFit
	for i := range c.Fits {
		if c.Fits[i].Key == "runtime.start" {
			start = &c.Fits[i]
		}
	}
	if start == nil || start.Sample != SampleRuntimeStartWork || start.Fit.N != 4 || math.Abs(start.Fit.Median()-0.6) > 1e-9 {
		t.Fatalf("runtime.start fit %+v, want 4 works of 0.6 s", start)
	}
	y, _ := c.MarshalYAML()
	if !strings.Contains(string(y), "runtime: {parallelism: 1.5}") {
		t.Errorf("profile lacks the parallelism:\n%s", y)
	}
	// A run without engine operations among them: raw durations, no parallelism.
	plain := &RunSamples{Mode: "real"}
	plain.Add(SampleRuntimeStart, 1, 2)
	c, err = Calibrate([]string{"r", "plain"}, []*RunSamples{r, plain})
	if err != nil {
		t.Fatal(err)
	}
	if c.Parallelism != 0 || c.Fits[0].Sample != SampleRuntimeStart || c.Fits[0].Fit.N != 6 {
		t.Errorf("mixed runs: parallelism %v, fits %+v", c.Parallelism, c.Fits)
	}
}

func TestSamplesRoundTrip(t *testing.T) {
	r := synthetic("real", 1)
	r.Notes = []string{"x"}
	var b bytes.Buffer
	if err := WriteSamples(&b, r); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteFileAtomic(dir+"/"+SamplesFile, func(w io.Writer) error { _, err := w.Write(b.Bytes()); return err }); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSamples(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b2 bytes.Buffer
	WriteSamples(&b2, got)
	if b.String() != b2.String() {
		t.Errorf("round trip changed the file:\n%s\n%s", b.String(), b2.String())
	}
}

func TestMeanErrorFloorsSmallValues(t *testing.T) {
	real := &RunSamples{Samples: map[string][]float64{StepSample(1): {0.004}, "pod_startup_seconds": {4}}}
	sim := &RunSamples{Samples: map[string][]float64{StepSample(1): {0.024}, "pod_startup_seconds": {3}}}
	v := Validate(sim, real, DefaultTolerances())
	// step 1: 20 ms off a 4 ms step is 500% relative, 40% of the 50 ms floor;
	// pod startup: 1 s off 4 s is 25% either way.
	if re, n := v.MeanRelativeError([]string{"step1", "pod_startup"}); n != 2 || math.Abs(re-(5+0.25)/2) > 1e-9 {
		t.Errorf("mean relative error %v over %d", re, n)
	}
	if e, n := v.MeanError([]string{"step1", "pod_startup"}); n != 2 || math.Abs(e-(0.4+0.25)/2) > 1e-9 {
		t.Errorf("mean error %v over %d, want %v", e, n, (0.4+0.25)/2)
	}
}
