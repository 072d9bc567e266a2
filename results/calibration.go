package results

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// LogNormalFit is a log-normal distribution fitted by maximum likelihood: Mu and
// Sigma are the mean and the (biased, 1/n) standard deviation of the logs of the
// samples; the median is exp(Mu). KS is the Kolmogorov–Smirnov statistic of the
// samples against the fitted distribution: sup |F_n(x) - F(x)| (0 = perfect; the
// 5% critical value is about 1.36/sqrt(N) for large N).
type LogNormalFit struct {
	N       int
	Mu      float64
	Sigma   float64
	KS      float64
	Dropped int // non-positive samples left out (a log-normal has none)
}

// Median returns the fitted median, exp(Mu), in seconds.
func (f LogNormalFit) Median() float64 { return math.Exp(f.Mu) }

// FitLogNormal fits a log-normal distribution to samples (seconds). It needs at
// least two positive samples.
func FitLogNormal(samples []float64) (LogNormalFit, error) {
	var logs []float64
	dropped := 0
	for _, x := range samples {
		if x > 0 && !math.IsInf(x, 0) && !math.IsNaN(x) {
			logs = append(logs, math.Log(x))
		} else {
			dropped++
		}
	}
	if len(logs) < 2 {
		return LogNormalFit{}, fmt.Errorf("%d positive samples: a fit needs at least 2", len(logs))
	}
	mu, sigma := stat.PopMeanStdDev(logs, nil)
	f := LogNormalFit{N: len(logs), Mu: mu, Sigma: sigma, Dropped: dropped}
	f.KS = ksLogNormal(logs, mu, sigma)
	return f, nil
}

// ksLogNormal is the one-sample Kolmogorov–Smirnov statistic of the logs against
// Normal(mu, sigma) (the same as of the samples against the log-normal).
func ksLogNormal(logs []float64, mu, sigma float64) float64 {
	x := append([]float64(nil), logs...)
	sort.Float64s(x)
	if sigma == 0 {
		// A degenerate fit: every sample equal, the CDF a step at mu.
		return 0
	}
	n := distuv.Normal{Mu: mu, Sigma: sigma}
	d := 0.0
	for i, v := range x {
		f := n.CDF(v)
		d = math.Max(d, math.Max(float64(i+1)/float64(len(x))-f, f-float64(i)/float64(len(x))))
	}
	return d
}

// CalibrationTarget is one latency setting of the model that a calibration fits,
// and the sample of real runs it is fitted to.
type CalibrationTarget struct {
	Key    string // profile key, e.g. "runtime.create"
	Sample string // sample name in the runs' samples.json
	Field  string // the scenario field it sets, for people
	// Work, when every run recorded its engine operations, is fitted instead of
	// Sample: the work of one operation on the run's shared engine (EngineWork at
	// the fitted parallelism, which the profile then sets).
	Work string
}

// CalibrationTargets are the settings kubesim calibrate fits, in profile order.
func CalibrationTargets() []CalibrationTarget {
	return []CalibrationTarget{
		{Key: "runtime.create", Sample: SampleRuntimeCreate, Field: "cluster.runtime.create", Work: SampleRuntimeCreateWork},
		{Key: "runtime.start", Sample: SampleRuntimeStart, Field: "cluster.runtime.start", Work: SampleRuntimeStartWork},
		{Key: "runtime.pullOverhead", Sample: SampleRuntimePull, Field: "cluster.runtime.pullOverhead"},
		{Key: "etcd.commit", Sample: SampleEtcdCommit, Field: "cluster.etcd.fsync (rtt set to 0)"},
		{Key: "readiness", Sample: SampleContainerReady, Field: "images[].serve.readyAfter"},
		{Key: "proxy.sync", Sample: SampleProxySync, Field: "cluster.proxy.syncLatency"},
	}
}

// CalibrationFit is one fitted setting of a profile.
type CalibrationFit struct {
	Key, Sample, Field string
	Fit                LogNormalFit
}

// Calibration is a fitted profile: what kubesim calibrate writes and scenarios
// include with `calibration: FILE`.
type Calibration struct {
	Sources []string
	// ImagesPresent are the scenario images every real run found in the engine's
	// image store (the kubelet never pulled them): a calibrated scenario has them
	// on every node from the start.
	ImagesPresent []string
	Fits          []CalibrationFit
	// Skipped names the targets without enough samples, with why.
	Skipped []string
	// Parallelism, when positive, is the engine parallelism fitted to the runs'
	// overlapping operations (FitEngineParallelism); the runtime fits are then
	// fitted to work samples, and the profile sets cluster.runtime.parallelism.
	Parallelism float64
}

// Calibrate fits every target to the pooled samples of runs (at least one).
// ImagesPresent is the intersection of the runs' notes "image-present:<ref>".
func Calibrate(sources []string, runs []*RunSamples) (*Calibration, error) {
	if len(runs) == 0 {
		return nil, fmt.Errorf("no run to calibrate from")
	}
	c := &Calibration{Sources: append([]string(nil), sources...)}
	// Every run recorded its engine operations: fit the engine's parallelism, then
	// each operation's work at it.
	var work []map[string][]float64
	var all [][]EngineOp
	for _, r := range runs {
		if ops, ok := r.EngineOps(); ok {
			all = append(all, ops)
		}
	}
	if len(all) == len(runs) {
		c.Parallelism = FitEngineParallelism(all)
		for _, ops := range all {
			work = append(work, WorkSamples(ops, c.Parallelism))
		}
	}
	for _, t := range CalibrationTargets() {
		var pooled []float64
		if t.Work != "" && work != nil {
			t.Sample = t.Work
			for _, w := range work {
				pooled = append(pooled, w[t.Work]...)
			}
		} else {
			for _, r := range runs {
				pooled = append(pooled, r.Samples[t.Sample]...)
			}
		}
		f, err := FitLogNormal(pooled)
		if err != nil {
			c.Skipped = append(c.Skipped, fmt.Sprintf("%s (%s): %v", t.Key, t.Sample, err))
			continue
		}
		c.Fits = append(c.Fits, CalibrationFit{Key: t.Key, Sample: t.Sample, Field: t.Field, Fit: f})
	}
	present := map[string]int{}
	for _, r := range runs {
		seen := map[string]bool{}
		for _, n := range r.Notes {
			if im, ok := strings.CutPrefix(n, NoteImagePresent); ok && !seen[im] {
				seen[im] = true
				present[im]++
			}
		}
	}
	for im, k := range present {
		if k == len(runs) {
			c.ImagesPresent = append(c.ImagesPresent, im)
		}
	}
	sort.Strings(c.ImagesPresent)
	if len(c.Fits) == 0 {
		return nil, fmt.Errorf("no latency could be fitted: %s", strings.Join(c.Skipped, "; "))
	}
	return c, nil
}

// NoteImagePresent prefixes a run note saying that an image was already in the
// node's image store when the kubelet needed it.
const NoteImagePresent = "image-present:"

// dur formats seconds as a Go duration rounded to a microsecond (at least 1µs).
func dur(sec float64) string {
	d := time.Duration(math.Round(sec*1e6)) * time.Microsecond
	if d <= 0 {
		d = time.Microsecond
	}
	return d.String()
}

// MarshalYAML writes the profile (deterministic order).
func (c *Calibration) MarshalYAML() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# kubesim calibration profile, fitted by `kubesim calibrate` from %d real run(s).\n", len(c.Sources))
	b.WriteString("# Each latency is log-normal by maximum likelihood (median = exp(mean of ln x),\n")
	b.WriteString("# sigma = standard deviation of ln x); n is the number of samples and ks the\n")
	b.WriteString("# Kolmogorov-Smirnov statistic of the samples against the fit.\n")
	b.WriteString("# Include it in a scenario with `calibration: <this file>`.\n")
	b.WriteString("kind: calibration\n")
	b.WriteString("sources: " + flowList(c.Sources) + "\n")
	if len(c.ImagesPresent) > 0 {
		b.WriteString("imagesPresent: " + flowList(c.ImagesPresent) + "\n")
	}
	if c.Parallelism > 0 {
		b.WriteString("# runtime.create and runtime.start are the work of one operation on an engine\n")
		b.WriteString("# whose operations in flight share its speed (processor sharing): the real\n")
		b.WriteString("# runs' overlapping operations on their one Docker engine are factored out at\n")
		b.WriteString("# the parallelism under which an operation's work is the same alone or not.\n")
		fmt.Fprintf(&b, "runtime: {parallelism: %g}  # fitted to the runs' overlapping operations; sets cluster.runtime.parallelism\n", c.Parallelism)
	}
	b.WriteString("latencies:\n")
	for _, f := range c.Fits {
		fmt.Fprintf(&b, "  %s: {dist: lognormal, median: %s, sigma: %.4g, n: %d, ks: %.3f}  # %s, sets %s\n",
			f.Key, dur(f.Fit.Median()), f.Fit.Sigma, f.Fit.N, f.Fit.KS, f.Sample, f.Field)
	}
	for _, s := range c.Skipped {
		fmt.Fprintf(&b, "# not fitted: %s\n", s)
	}
	return b.Bytes(), nil
}

// flowList writes a YAML flow sequence of quoted strings.
func flowList(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// WriteCalibrationTable prints the fits for people.
func WriteCalibrationTable(w interface{ Write([]byte) (int, error) }, c *Calibration) error {
	fmt.Fprintf(w, "Calibration from %d run(s): %s\n", len(c.Sources), strings.Join(c.Sources, ", "))
	t := newTable(w, []string{"Setting", "Sample", "N", "Median", "Sigma", "KS statistic", "Sets"})
	for _, f := range c.Fits {
		t.Append([]string{f.Key, f.Sample, fmt.Sprint(f.Fit.N), dur(f.Fit.Median()), fmt.Sprintf("%.3f", f.Fit.Sigma), fmt.Sprintf("%.3f", f.Fit.KS), f.Field})
	}
	if err := t.Render(); err != nil {
		return err
	}
	if c.Parallelism > 0 {
		fmt.Fprintf(w, "runtime.create and runtime.start: work of one operation, the others in flight on the engine factored out (processor sharing at the fitted parallelism %g; sets cluster.runtime.parallelism)\n", c.Parallelism)
	}
	if len(c.ImagesPresent) > 0 {
		fmt.Fprintf(w, "images already present on the nodes: %s\n", strings.Join(c.ImagesPresent, ", "))
	}
	for _, s := range c.Skipped {
		fmt.Fprintf(w, "not fitted: %s\n", s)
	}
	return nil
}
