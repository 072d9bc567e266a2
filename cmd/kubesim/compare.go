package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"golang.org/x/term"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/kubesim/kubesim/model/cluster"
	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/model/scheduler"
	"github.com/kubesim/kubesim/results"
	"github.com/kubesim/kubesim/sim"
)

// compareMetrics are the summary keys the comparison table shows, with whether a
// lower value is better. compare.csv and compare.json hold every numeric key.
var compareMetrics = []struct {
	key   string
	lower bool
}{
	{"scheduling_latency_seconds_p50", true},
	{"scheduling_latency_seconds_p99", true},
	{"queueing_delay_seconds_p50", true},
	{"queueing_delay_seconds_p99", true},
	{"pod_startup_seconds_p99", true},
	{"pods_bound", false},
	{"scheduling_throughput_pods_per_s", false},
	{"makespan_s", true},
	{"preemptions", true},
	{"pods_unscheduled", true},
	{"pods_unscheduled_mean", true},
	{"pods_unschedulable_mean", true},
	{"nodes_in_use_mean", true},
	{"cluster_cpu_allocated_mean", false},
	{"cluster_memory_allocated_mean", false},
	{"cluster_gpu_allocated_mean", false},
	{"gpu_fragmented_gpus_mean", true},
	{"gpu_fragmentation_rate_mean", true},
	{"stranded_cpu_mean", true},
	{"stranded_memory_mean", true},
	{"node_cpu_allocated_max", false},
	{"request_success_rate", false},
	{"request_latency_seconds_p99", true},
	{"recovery_time_max_s", true},
	{"cluster_cost_total", true},
}

func newCompareCmd(v *viper.Viper, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "compare SCENARIO",
		Short: "Run a scenario under several scheduling policies and seeds; report means with 95% confidence intervals",
		Long: `Policies are built-in names (default, most-allocated, and the raw policies random,
round-robin, first-fit, best-fit, worst-fit, power-of-two-choices, dot-product,
gpu-packing, gpu-clustering, fgd) or the URL of a scheduler extender
(http://127.0.0.1:8888, speaking the k8s.io/kube-scheduler/extender/v1 JSON with the verbs
filter and prioritize; see examples/extender).`,
		Example: `  kubesim compare nginx --policies default,most-allocated --seeds 10
  kubesim compare my.yaml --policies default,most-allocated --seeds 30 --parallel 2 --out cmp`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			policies := splitList(v.GetString("policies"))
			seeds := v.GetInt("seeds")
			parallel := v.GetInt("parallel")
			if len(policies) == 0 {
				return badInput("--policies: give at least one policy (known: %s)", strings.Join(cluster.NewPolicyRegistry().Names(), ", "))
			}
			if seeds < 1 || seeds > 100000 {
				return badInput("--seeds %d: want 1..100000", seeds)
			}
			if parallel < 1 {
				return badInput("--parallel %d: want at least 1", parallel)
			}
			reg := cluster.NewPolicyRegistry()
			for _, p := range policies {
				if isExtenderURL(p) {
					continue // checked when the runs connect to it
				}
				if cluster.IsProfileFile(p) { // a KubeSchedulerConfiguration file (explain_sched.go)
					if _, err := withProfileFile(cluster.Options{}, p); err != nil {
						return err
					}
					continue
				}
				if _, ok := cluster.IsKubeSchedulerConfig(p); ok { // kubescheduler.go
					if _, err := withKubeSchedulerConfig(cluster.Options{}, p); err != nil {
						return err
					}
					continue
				}
				if err := reg.Apply(p, defaultSchedulerConfigForCheck()); err != nil {
					return badInput("--policies: %v", err)
				}
			}
			outDir := v.GetString("out")
			if outDir == "" {
				outDir = "."
			}
			if err := checkWritableDir(existingParent(outDir)); err != nil {
				return badInput("--out %s: %v", outDir, err)
			}
			sc, err := loadScenario(args[0])
			if err != nil {
				return err
			}
			if err := addManifestFlags(sc, v.GetStringSlice("manifests")); err != nil { // manifests.go
				return err
			}
			return runCompare(sc, policies, seeds, parallel, outDir, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.String("policies", "default", "comma-separated scheduling policies to compare")
	f.Int("seeds", 5, "replications per policy (seeds 1..N)")
	f.StringSlice("manifests", nil, "apply these Kubernetes manifest files or directories at time 0 in every run (docs/workloads.md)")
	f.Int("parallel", 1, "runs at once (each run is single-threaded and deterministic)")
	f.String("out", ".", "directory for compare.csv and compare.json")
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// runResult is one (policy, seed) run's numeric summary.
type runResult struct {
	policy string
	seed   uint64
	values map[string]float64
	keys   []string // in summary order
	err    error
}

// runCompare runs every policy with every seed on a pool of workers. Each run is
// independent and deterministic, so the results do not depend on --parallel.
func runCompare(sc *scenario.Scenario, policies []string, seeds, parallel int, outDir string, stdout, stderr io.Writer) error {
	type job struct {
		i      int
		policy string
		seed   uint64
	}
	jobs := make(chan job)
	res := make([]runResult, len(policies)*seeds)
	var bar *progressbar.ProgressBar
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar = progressbar.NewOptions(len(res), progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("runs"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("runs"),
			progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				r := compareRun(sc, j.policy, j.seed)
				mu.Lock()
				res[j.i] = r
				if bar != nil {
					_ = bar.Add(1)
				}
				mu.Unlock()
			}
		}()
	}
	i := 0
	for _, p := range policies {
		for s := 1; s <= seeds; s++ {
			jobs <- job{i, p, uint64(s)}
			i++
		}
	}
	close(jobs)
	wg.Wait()
	for _, r := range res {
		if r.err != nil {
			return fmt.Errorf("policy %s, seed %d: %w", r.policy, r.seed, r.err)
		}
	}
	stats := compareStats(policies, res)
	if err := writeCompareFiles(outDir, stats, res); err != nil {
		return err
	}
	return writeCompareTable(stdout, sc.Name, seeds, policies, stats)
}

// compareRun runs one replication and returns its summary's numeric values.
func compareRun(sc *scenario.Scenario, policy string, seed uint64) runResult {
	r := runResult{policy: policy, seed: seed, values: map[string]float64{}}
	col := results.NewCollector(results.TraceOff)
	opts, err := clusterOptions(sc, seed, policy)
	if err != nil {
		r.err = err
		return r
	}
	cl, err := cluster.Build(sc, opts, col)
	if err != nil {
		r.err = err
		return r
	}
	if err := cl.Run(sim.Time(sc.Duration.D())); err != nil {
		r.err = err
		return r
	}
	sum := results.Summarize(results.RunInfo{Version: version, Scenario: sc.Name, Seed: seed, End: cl.Eng.Now(), Events: cl.Eng.Fired()}, col, finalState(sc, cl))
	for _, e := range sum.Entries {
		if f, ok := numeric(e.Value); ok && e.Key != "seed" {
			r.values[e.Key] = f
			r.keys = append(r.keys, e.Key)
		}
	}
	return r
}

func numeric(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x)
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

// metricStat is one metric's statistics for one policy.
type metricStat struct {
	Metric string  `json:"metric"`
	Policy string  `json:"policy"`
	N      int     `json:"n"`
	Mean   float64 `json:"mean"`
	CILow  float64 `json:"ci95_low"`
	CIHigh float64 `json:"ci95_high"`
	Best   bool    `json:"best"`
}

// compareStats computes, per metric present in every run of a policy, the mean and
// the 95% confidence interval of the mean (Student's t with n−1 degrees of freedom).
func compareStats(policies []string, res []runResult) []metricStat {
	keys := map[string]bool{}
	var order []string
	for _, r := range res {
		for _, k := range r.keys {
			if !keys[k] {
				keys[k] = true
				order = append(order, k)
			}
		}
	}
	var out []metricStat
	for _, k := range order {
		var rows []metricStat
		for _, p := range policies {
			var v []float64
			for _, r := range res {
				if r.policy == p {
					if x, ok := r.values[k]; ok {
						v = append(v, x)
					}
				}
			}
			if len(v) == 0 {
				continue
			}
			m, sd := stat.MeanStdDev(v, nil)
			half := 0.0
			if len(v) > 1 {
				t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(len(v) - 1)}.Quantile(0.975)
				half = t * sd / math.Sqrt(float64(len(v)))
			}
			if len(v) == 1 || math.IsNaN(half) {
				half = 0
			}
			rows = append(rows, metricStat{Metric: k, Policy: p, N: len(v), Mean: m, CILow: m - half, CIHigh: m + half})
		}
		markBest(rows)
		out = append(out, rows...)
	}
	return out
}

// markBest marks the best mean of a metric whose direction is known.
func markBest(rows []metricStat) {
	if len(rows) < 2 {
		return
	}
	lower, known := false, false
	for _, cm := range compareMetrics {
		if cm.key == rows[0].Metric {
			lower, known = cm.lower, true
		}
	}
	if !known {
		return
	}
	best := 0
	for i := range rows {
		if (lower && rows[i].Mean < rows[best].Mean) || (!lower && rows[i].Mean > rows[best].Mean) {
			best = i
		}
	}
	same := true
	for i := range rows {
		same = same && rows[i].Mean == rows[best].Mean
	}
	if !same {
		rows[best].Best = true
	}
}

func writeCompareFiles(dir string, stats []metricStat, res []runResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	err := results.WriteFileAtomic(filepath.Join(dir, "compare.csv"), func(w io.Writer) error {
		var b bytes.Buffer
		b.WriteString("metric,policy,n,mean,ci95_low,ci95_high,best\n")
		for _, s := range stats {
			fmt.Fprintf(&b, "%s,%s,%d,%s,%s,%s,%t\n", s.Metric, s.Policy, s.N, fnum(s.Mean), fnum(s.CILow), fnum(s.CIHigh), s.Best)
		}
		_, err := w.Write(b.Bytes())
		return err
	})
	if err != nil {
		return err
	}
	type run struct {
		Policy string             `json:"policy"`
		Seed   uint64             `json:"seed"`
		Values map[string]float64 `json:"values"`
	}
	doc := struct {
		Stats []metricStat `json:"stats"`
		Runs  []run        `json:"runs"`
	}{Stats: stats}
	for _, r := range res {
		doc.Runs = append(doc.Runs, run{r.policy, r.seed, r.values})
	}
	return results.WriteFileAtomic(filepath.Join(dir, "compare.json"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(doc) // map keys are sorted by encoding/json: deterministic
	})
}

func fnum(f float64) string { return strconv.FormatFloat(f, 'g', 8, 64) }

func writeCompareTable(w io.Writer, scenarioName string, seeds int, policies []string, stats []metricStat) error {
	fmt.Fprintf(w, "kubesim compare  scenario %s  %d seeds per policy  mean ± 95%% confidence interval (* best)\n\n", scenarioName, seeds)
	// Headers as given: policy names are file paths and URLs, which the default
	// header formatting would upper-case and split.
	t := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off))
	t.Header(append([]string{"Metric"}, policies...))
	idx := map[string]metricStat{}
	for _, s := range stats {
		idx[s.Metric+"\x00"+s.Policy] = s
	}
	keys := make([]string, 0, len(compareMetrics))
	for _, cm := range compareMetrics {
		keys = append(keys, cm.key)
	}
	for _, k := range keys {
		row := []string{k}
		present := false
		for _, p := range policies {
			s, ok := idx[k+"\x00"+p]
			if !ok {
				row = append(row, "-")
				continue
			}
			present = true
			cell := fmt.Sprintf("%s ± %s", strconv.FormatFloat(s.Mean, 'g', 4, 64), strconv.FormatFloat((s.CIHigh-s.CILow)/2, 'g', 2, 64))
			if s.Best {
				cell += " *"
			}
			row = append(row, cell)
		}
		if present {
			t.Append(row)
		}
	}
	return t.Render()
}

// finalState reads the state the summary needs from a finished cluster.
func finalState(sc *scenario.Scenario, cl *cluster.Cluster) results.Final {
	final := results.Final{Nodes: cl.Nodes(), Pods: cl.Pods(), Deployments: cl.Deployments(), Research: cl.Research()}
	for i, g := range cl.Traffic {
		st := g.Stats()
		rs := results.RequestStats{Name: sc.Workload.Traffic[i].Name, Sent: st.Sent, OK: st.OK, Failed: st.Failed, InFlight: st.InFlight}
		for _, rc := range st.FailedBy {
			rs.FailedBy = append(rs.FailedBy, results.ReasonCount{Reason: rc.Reason, Count: rc.Count})
		}
		final.Requests = append(final.Requests, rs)
	}
	for _, f := range cl.Faults() {
		final.Faults = append(final.Faults, results.FaultRecord{Name: f.Name, Kind: f.Kind, Target: f.Target, At: f.At, RepairedAt: f.RepairedAt, RecoveredAt: f.RecoveredAt})
	}
	for _, p := range cl.Degraded() {
		final.Degraded = append(final.Degraded, results.Period{Start: p.Start, End: p.End})
	}
	return final
}

// defaultSchedulerConfigForCheck is a scratch scheduler configuration on which a
// policy name is tried, to reject unknown names before any run.
func defaultSchedulerConfigForCheck() *scheduler.Config {
	c := scheduler.DefaultConfig()
	return &c
}
