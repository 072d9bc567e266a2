package results

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"go.yaml.in/yaml/v3"
	"gonum.org/v1/gonum/stat"
)

// ValidationMetric is one metric kubesim validate compares between a simulated and a
// real run of one scenario: a sample list of both runs and the statistic judged.
type ValidationMetric struct {
	Key    string // stable key (validation.json, tolerance files)
	Title  string // for people
	Sample string // sample name in RunSamples
	Judge  string // statistic judged: "p50", "p99" or "mean"; "value" for a single value
	// Absolute: the tolerance is on the absolute difference only (error ratios).
	Absolute bool
}

// ValidationMetrics are the metrics of kubesim validate, in table order: the seven
// steps of the Nginx flow, pod startup, time until every replica is ready,
// recovery after a container kill, request latency p50 and p99, and errors.
//
// Steps 1-4 (milliseconds, continuous, with a long tail of slow etcd commits) are
// judged on the median. Steps 5-7, pod startup, the time to ready and the
// recovery are judged on the mean: they end on a readiness probe or a periodic
// sync (every second in the nginx scenario), so each object's value is nearly a
// whole number of periods, and the median of a few of them (three pods, one
// kill) jumps a whole period when one object lands on the other side of a probe
// tick, while the mean moves by a fraction of it.
func ValidationMetrics() []ValidationMetric {
	var out []ValidationMetric
	for s := 1; s <= 7; s++ {
		judge := "p50"
		if s >= 5 {
			judge = "mean"
		}
		out = append(out, ValidationMetric{Key: fmt.Sprintf("step%d", s), Title: fmt.Sprintf("step %d: %s", s, StepTitles[s]), Sample: StepSample(s), Judge: judge})
	}
	return append(out,
		ValidationMetric{Key: "pod_startup", Title: "pod startup latency", Sample: "pod_startup_seconds", Judge: "mean"},
		ValidationMetric{Key: "all_replicas_ready", Title: "time until all replicas are ready", Sample: SampleDeploymentReady, Judge: "mean"},
		ValidationMetric{Key: "recovery_container_kill", Title: "recovery after a container kill", Sample: SampleRecoveryKill, Judge: "mean"},
		ValidationMetric{Key: "request_latency_p50", Title: "request latency p50", Sample: "request_latency_seconds", Judge: "p50"},
		ValidationMetric{Key: "request_latency_p99", Title: "request latency p99", Sample: "request_latency_seconds", Judge: "p99"},
		ValidationMetric{Key: "errors", Title: "request errors (failed / total)", Sample: SampleRequestErrRate, Judge: "value", Absolute: true},
	)
}

// Tolerance is how far a simulated statistic may be from the real one: it passes
// when |sim - real| <= max(Relative * |real|, Absolute). Absolute is in the
// metric's unit (seconds for latencies, a ratio for errors).
type Tolerance struct {
	Relative float64 `yaml:"relative" json:"relative"`
	Absolute float64 `yaml:"absolute" json:"absolute"`
}

// Tolerances are the default tolerance and per-metric overrides (by metric key).
type Tolerances struct {
	Default Tolerance            `yaml:"default" json:"default"`
	Errors  Tolerance            `yaml:"errors" json:"errors"`
	Metrics map[string]Tolerance `yaml:"metrics" json:"metrics,omitempty"`
}

// DefaultTolerances: latencies within 50% of the real value or 50 ms, whichever
// is larger (differences of a few milliseconds are within the wall-clock loop's
// own jitter); the error ratio within 0.01 of the real one.
func DefaultTolerances() Tolerances {
	return Tolerances{Default: Tolerance{Relative: 0.5, Absolute: 0.05}, Errors: Tolerance{Absolute: 0.01}}
}

// For returns the tolerance of metric m.
func (t Tolerances) For(m ValidationMetric) Tolerance {
	if v, ok := t.Metrics[m.Key]; ok {
		return v
	}
	if m.Absolute {
		return t.Errors
	}
	return t.Default
}

// ParseTolerances decodes a tolerance file strictly over the defaults: keys are
// "default", "errors" and "metrics" (by metric key); unknown keys and metric
// names are errors naming the file and line.
func ParseTolerances(file string, b []byte) (Tolerances, error) {
	t := DefaultTolerances()
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return t, fmt.Errorf("%s: %w", file, err)
	}
	if len(n.Content) == 0 {
		return t, nil
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		return t, fmt.Errorf("%s: %w", file, err)
	}
	known := map[string]bool{}
	var keys []string
	for _, m := range ValidationMetrics() {
		known[m.Key] = true
		keys = append(keys, m.Key)
	}
	root := n.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "metrics" {
			continue
		}
		mm := root.Content[i+1]
		for j := 0; j+1 < len(mm.Content); j += 2 {
			if k := mm.Content[j]; !known[k.Value] {
				return t, fmt.Errorf("%s:%d: metrics.%s: unknown metric (known: %s)", file, k.Line, k.Value, strings.Join(keys, ", "))
			}
		}
	}
	check := func(where string, v Tolerance) error {
		if v.Relative < 0 || v.Absolute < 0 || math.IsNaN(v.Relative) || math.IsNaN(v.Absolute) {
			return fmt.Errorf("%s: %s: tolerances must be non-negative numbers", file, where)
		}
		return nil
	}
	if err := check("default", t.Default); err != nil {
		return t, err
	}
	if err := check("errors", t.Errors); err != nil {
		return t, err
	}
	for k, v := range t.Metrics {
		if err := check("metrics."+k, v); err != nil {
			return t, err
		}
	}
	return t, nil
}

// Stats are the statistics of one side of a comparison.
type Stats struct {
	N      int     `json:"n"`
	Mean   float64 `json:"mean"`
	Median float64 `json:"median"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
}

func statsOf(v []float64) Stats {
	if len(v) == 0 {
		return Stats{}
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return Stats{N: len(s), Mean: stat.Mean(s, nil), Median: stat.Quantile(0.5, stat.Empirical, s, nil),
		P90: stat.Quantile(0.9, stat.Empirical, s, nil), P99: stat.Quantile(0.99, stat.Empirical, s, nil)}
}

func (s Stats) judged(j string) float64 {
	switch j {
	case "p99":
		return s.P99
	case "mean":
		return s.Mean
	}
	return s.Median
}

// ValidationRow is the comparison of one metric.
type ValidationRow struct {
	Key       string   `json:"key"`
	Title     string   `json:"title"`
	Judge     string   `json:"judged"`
	Simulated Stats    `json:"simulated"`
	Real      Stats    `json:"real"`
	SimValue  float64  `json:"simulated_value"`
	RealValue float64  `json:"real_value"`
	RelError  *float64 `json:"relative_error"` // nil when the real value is 0 and the simulated one is not
	// Error is |sim - real| / max(|real|, Tolerance.Absolute): the relative error
	// with the absolute tolerance as its floor, so that a few milliseconds on a
	// millisecond step do not count as hundreds of percent. The aggregate
	// validation error (MeanError) averages it. (1 when the real value and the
	// absolute tolerance are both 0 and the simulated value is not.)
	Error     float64   `json:"error"`
	Tolerance Tolerance `json:"tolerance"`
	// Verdict: "pass", "fail", or "missing" (a side has no sample: not judged).
	Verdict string `json:"verdict"`
}

// Validation is the outcome of kubesim validate.
type Validation struct {
	Version  string          `json:"kubesim_version"`
	Scenario string          `json:"scenario"`
	Seed     uint64          `json:"seed"`
	Notes    []string        `json:"notes,omitempty"`
	Rows     []ValidationRow `json:"metrics"`
	Passed   bool            `json:"passed"`
	Failed   []string        `json:"failed,omitempty"`
	Missing  []string        `json:"missing,omitempty"`
}

// Validate compares a simulated and a real run metric by metric.
func Validate(sim, real *RunSamples, tol Tolerances) *Validation {
	v := &Validation{Version: real.Version, Scenario: real.Scenario, Seed: real.Seed, Passed: true}
	for _, m := range ValidationMetrics() {
		row := ValidationRow{Key: m.Key, Title: m.Title, Judge: m.Judge, Tolerance: tol.For(m)}
		row.Simulated, row.Real = statsOf(sim.Samples[m.Sample]), statsOf(real.Samples[m.Sample])
		if row.Simulated.N == 0 || row.Real.N == 0 {
			row.Verdict = "missing"
			v.Missing = append(v.Missing, m.Key)
			v.Rows = append(v.Rows, row)
			continue
		}
		row.SimValue, row.RealValue = row.Simulated.judged(m.Judge), row.Real.judged(m.Judge)
		if re, ok := RelativeError(row.SimValue, row.RealValue); ok {
			row.RelError = &re
		}
		diff := math.Abs(row.SimValue - row.RealValue)
		if den := math.Max(math.Abs(row.RealValue), row.Tolerance.Absolute); den > 0 {
			row.Error = diff / den
		} else if diff > 0 {
			row.Error = 1 // real 0 with no absolute tolerance: counted as 100%
		}
		if diff <= math.Max(row.Tolerance.Relative*math.Abs(row.RealValue), row.Tolerance.Absolute) {
			row.Verdict = "pass"
		} else {
			row.Verdict = "fail"
			v.Passed = false
			v.Failed = append(v.Failed, m.Key)
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

// RelativeError is |sim - real| / |real|; both zero give 0; a zero real value with
// a non-zero simulated one has no relative error (false).
func RelativeError(sim, real float64) (float64, bool) {
	if real == 0 {
		return 0, sim == 0
	}
	return math.Abs(sim-real) / math.Abs(real), true
}

// MeanRelativeError is the mean relative error over the rows of keys that both
// runs measured (nil keys: every row), and how many rows it averages.
func (v *Validation) MeanRelativeError(keys []string) (float64, int) {
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	sum, n := 0.0, 0
	for _, r := range v.Rows {
		if (keys != nil && !want[r.Key]) || r.RelError == nil {
			continue
		}
		sum += *r.RelError
		n++
	}
	if n == 0 {
		return 0, 0
	}
	return sum / float64(n), n
}

// MeanError is the mean of the rows' Error over the rows of keys that both runs
// measured (nil keys: every row), and how many rows it averages: the validation
// error kubesim reports and calibration must reduce.
func (v *Validation) MeanError(keys []string) (float64, int) {
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	sum, n := 0.0, 0
	for _, r := range v.Rows {
		if (keys != nil && !want[r.Key]) || r.Verdict == "missing" {
			continue
		}
		sum += r.Error
		n++
	}
	if n == 0 {
		return 0, 0
	}
	return sum / float64(n), n
}

// MarshalValidation returns validation.json's bytes (indented, stable order).
func MarshalValidation(v *Validation) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// fmtStat formats a statistic: durations for seconds, a plain number otherwise.
func fmtStat(key string, x float64, n int) string {
	if n == 0 {
		return "-"
	}
	if key == "errors" {
		return fmt.Sprintf("%.4f", x)
	}
	return time.Duration(x * 1e9).Round(fmtRound(x)).String()
}

func fmtRound(x float64) time.Duration {
	switch {
	case x >= 10:
		return 10 * time.Millisecond
	case x >= 1:
		return time.Millisecond
	case x >= 0.001:
		return time.Microsecond
	}
	return time.Nanosecond
}

// WriteValidationTable prints the side-by-side table and the verdict.
func WriteValidationTable(w io.Writer, v *Validation) error {
	fmt.Fprintf(w, "Validation of scenario %s, seed %d: simulated vs real\n", v.Scenario, v.Seed)
	for _, n := range v.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	t := tablewriter.NewWriter(w)
	t.Header([]string{"Metric", "Judged", "Sim median", "Real median", "Sim p90", "Real p90", "Sim judged", "Real judged", "Rel. error", "Tolerance", "Verdict"})
	for _, r := range v.Rows {
		re := "-"
		if r.RelError != nil {
			re = fmt.Sprintf("%.0f%%", *r.RelError*100)
		} else if r.Verdict != "missing" {
			re = "inf"
		}
		tolS := fmt.Sprintf("%.0f%% or %s", r.Tolerance.Relative*100, fmtStat(r.Key, r.Tolerance.Absolute, 1))
		if r.Key == "errors" {
			tolS = fmt.Sprintf("±%.4f", r.Tolerance.Absolute)
			if r.Tolerance.Relative > 0 {
				tolS = fmt.Sprintf("%.0f%% or ±%.4f", r.Tolerance.Relative*100, r.Tolerance.Absolute)
			}
		}
		simJ, realJ := "-", "-"
		if r.Verdict != "missing" {
			simJ, realJ = fmtStat(r.Key, r.SimValue, 1), fmtStat(r.Key, r.RealValue, 1)
		}
		t.Append([]string{r.Title, r.Judge,
			fmtStat(r.Key, r.Simulated.Median, r.Simulated.N), fmtStat(r.Key, r.Real.Median, r.Real.N),
			fmtStat(r.Key, r.Simulated.P90, r.Simulated.N), fmtStat(r.Key, r.Real.P90, r.Real.N),
			simJ, realJ, re, tolS, r.Verdict})
	}
	if err := t.Render(); err != nil {
		return err
	}
	mre, n := v.MeanRelativeError(nil)
	me, _ := v.MeanError(nil)
	fmt.Fprintf(w, "mean relative error over %d metrics: %.0f%%; validation error (relative, floored at the absolute tolerance): %.0f%%\n", n, mre*100, me*100)
	switch {
	case v.Passed && len(v.Missing) == 0:
		fmt.Fprintln(w, "verdict: PASS (every metric within its tolerance)")
	case v.Passed:
		fmt.Fprintf(w, "verdict: PASS (every measured metric within its tolerance; not measured: %s)\n", strings.Join(v.Missing, ", "))
	default:
		fmt.Fprintf(w, "verdict: FAIL (outside tolerance: %s)\n", strings.Join(v.Failed, ", "))
	}
	return nil
}

func newTable(w io.Writer, header []string) *tablewriter.Table {
	t := tablewriter.NewWriter(w)
	t.Header(header)
	return t
}
