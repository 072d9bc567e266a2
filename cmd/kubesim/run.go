package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/kubesim/kubesim/model/cluster"
	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/results"
	"github.com/kubesim/kubesim/results/narrate"
	"github.com/kubesim/kubesim/scenarios"
	"github.com/kubesim/kubesim/sim"
)

// runSettings are the run command's settings after flags, environment and config
// file are merged.
type runSettings struct {
	seed      uint64
	seedSet   bool
	until     time.Duration
	trace     results.TraceLevel
	traceOut  string
	outDir    string
	format    string
	lang      narrate.Lang
	sched     schedRunSettings // --scheduler-config, --explain (explain_sched.go)
	manifests []string         // --manifests (manifests.go)
}

func newRunCmd(v *viper.Viper, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run SCENARIO",
		Short: "Run a scenario (a built-in name such as nginx, or a YAML file)",
		Example: `  kubesim run nginx --trace steps
  kubesim run nginx --seed 7 --trace steps --trace-out t.jsonl --out out
  kubesim run my-cluster.yaml --until 10m --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := readRunSettings(v, cmd)
			if err != nil {
				return err
			}
			sc, err := loadScenario(args[0])
			if err != nil {
				return err
			}
			if err := addManifestFlags(sc, rs.manifests); err != nil {
				return err
			}
			return runWithTraceFormat(v, sc, rs, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.String("trace-format", "jsonl", "format of --trace-out: jsonl, or mermaid (a sequence diagram of the Nginx flow)")
	f.String("lang", "en", "language of the step narration (--trace steps) and of the --trace-format mermaid notes: en or zh")
	f.Uint64("seed", 0, "root random seed (default: the scenario's seed)")
	f.Duration("until", 0, "stop at this virtual time (default: the scenario's duration)")
	f.String("trace", "off", "print the trace: off, steps (the seven steps, for people) or events (every record)")
	f.String("trace-out", "", "write the trace as JSON Lines to this file (steps records, or all with --trace events)")
	f.String("out", "", "write summary.json, timeseries.csv and trace.jsonl into this directory")
	f.String("format", "table", "result format on standard output: table or json")
	f.String("scheduler-config", "", "schedule with this KubeSchedulerConfiguration file (kubescheduler.config.k8s.io/v1)")
	f.StringSlice("manifests", nil, "apply these Kubernetes manifest files or directories at time 0, besides the scenario's (repeatable or comma-separated; docs/workloads.md)")
	f.String("policy", "", "schedule with this policy: default, most-allocated, a raw policy (random, best-fit, fgd, ...), kube-scheduler-v1.37 (the real kube-scheduler framework; docs/kube-scheduler.md) or kube-scheduler-v1.37:FILE (with a KubeSchedulerConfiguration)")
	f.String("explain", "", "write every scheduling decision (per-node filter verdicts and scores) as JSON Lines to this file; with --out also DIR/scheduling.jsonl")
	return cmd
}

func readRunSettings(v *viper.Viper, cmd *cobra.Command) (runSettings, error) {
	var rs runSettings
	rs.seedSet = cmd.Flags().Changed("seed") || v.IsSet("seed") && v.GetString("seed") != "0" && v.GetString("seed") != ""
	if rs.seedSet {
		s := v.GetString("seed")
		var seed uint64
		if _, err := fmt.Sscan(s, &seed); err != nil {
			return rs, badInput("--seed %q: not a non-negative integer", s)
		}
		rs.seed = seed
	}
	if u := v.GetString("until"); u != "" && u != "0s" && u != "0" {
		d, err := time.ParseDuration(u)
		if err != nil || d <= 0 {
			return rs, badInput("--until %q: want a positive duration such as 90s or 10m", u)
		}
		rs.until = d
	}
	lvl, ok := results.ParseTraceLevel(v.GetString("trace"))
	if !ok {
		return rs, badInput("--trace %q: want off, steps or events", v.GetString("trace"))
	}
	rs.trace = lvl
	rs.traceOut = v.GetString("trace-out")
	rs.outDir = v.GetString("out")
	rs.format = v.GetString("format")
	sched, err := readSchedRunSettings(v)
	if err != nil {
		return rs, err
	}
	rs.sched = sched
	rs.manifests = v.GetStringSlice("manifests")
	lang, err := narrate.ParseLang(v.GetString("lang"))
	if err != nil {
		return rs, badInput("--lang: %v", err)
	}
	rs.lang = lang
	if rs.format != "table" && rs.format != "json" {
		return rs, badInput("--format %q: want table or json", rs.format)
	}
	if rs.traceOut != "" {
		if err := checkWritableDir(filepath.Dir(rs.traceOut)); err != nil {
			return rs, badInput("--trace-out %s: %v", rs.traceOut, err)
		}
	}
	if rs.outDir != "" {
		if st, err := os.Stat(rs.outDir); err == nil && !st.IsDir() {
			return rs, badInput("--out %s: exists and is not a directory", rs.outDir)
		}
		if err := checkWritableDir(existingParent(rs.outDir)); err != nil {
			return rs, badInput("--out %s: %v", rs.outDir, err)
		}
	}
	return rs, nil
}

func existingParent(p string) string {
	for {
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(p)
		if parent == p {
			return p
		}
		p = parent
	}
}

func checkWritableDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("directory %s does not exist", dir)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// loadScenario reads a built-in scenario by name or a YAML file by path.
func loadScenario(arg string) (*scenario.Scenario, error) {
	if !strings.ContainsAny(arg, "/\\") && !strings.HasSuffix(arg, ".yaml") && !strings.HasSuffix(arg, ".yml") {
		b, ok := scenarios.Get(arg)
		if !ok {
			return nil, badInput("no built-in scenario %q (built-in: %s); to run a file, give its path", arg, strings.Join(scenarios.Names(), ", "))
		}
		sc, err := scenario.Parse(arg+".yaml (built-in)", b)
		if err != nil {
			return nil, err // a built-in scenario that does not parse is our bug: exit 1
		}
		return sc, nil
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, badInput("scenario file %s: no such file", arg)
		}
		return nil, badInput("scenario file %s: %v", arg, err)
	}
	sc, err := scenario.Parse(arg, b)
	if err != nil {
		return nil, &inputError{err}
	}
	if sc.Calibration != "" {
		p := sc.Calibration
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(arg), p)
		}
		if err := applyCalibrationFile(sc, p); err != nil {
			return nil, badInput("scenario file %s: calibration: %v", arg, err)
		}
	}
	return sc, nil
}

// applyCalibrationFile reads a calibration profile and applies it to sc.
func applyCalibrationFile(sc *scenario.Scenario, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("profile %s: no such file (write one with kubesim calibrate)", path)
		}
		return err
	}
	p, err := scenario.ParseCalibration(path, b)
	if err != nil {
		return err
	}
	sc.ApplyCalibration(p)
	return nil
}

// runScenario builds and runs the cluster, then prints and writes the results. All
// output files are written atomically after the run.
func runScenario(sc *scenario.Scenario, rs runSettings, stdout, stderr io.Writer) error {
	seed := sc.Seed
	if rs.seedSet {
		seed = rs.seed
	}
	until := sc.Duration.D()
	if rs.until > 0 {
		until = rs.until
	}
	level := rs.trace
	keep := level
	if (rs.traceOut != "" || rs.outDir != "") && keep == results.TraceOff {
		keep = results.TraceSteps
	}
	col := results.NewCollector(keep)
	opts, dlog, err := schedRunOptions(sc, seed, rs.sched)
	if err != nil {
		return err
	}
	opts.TraceEachRequest = level == results.TraceEvents
	printManifestWarnings(stderr, opts.Manifests)
	cl, err := cluster.Build(sc, opts, col)
	if err != nil {
		return &inputError{fmt.Errorf("scenario %s: %w", sc.Name, err)}
	}
	if err := cl.Run(sim.Time(until)); err != nil {
		// An invariant broke: the run is stopped and its partial results are not
		// written, so no output suggests a valid run.
		return fmt.Errorf("scenario %s, seed %d: %w", sc.Name, seed, err)
	}
	final := finalState(sc, cl)
	sum := results.Summarize(results.RunInfo{Version: version, Scenario: sc.Name, Seed: seed, End: cl.Eng.Now(), Events: cl.Eng.Fired()}, col, final)

	// Trace for people.
	if level != results.TraceOff {
		w := stdout
		if rs.format == "json" {
			w = stderr
		}
		recs := col.StepRecords()
		if level == results.TraceEvents {
			recs = col.Records()
		}
		heading := func(step int) string {
			st, _ := narrate.StepOf(rs.lang, step)
			return narrate.StepHeading(rs.lang, st)
		}
		if err := results.WriteNarrationWith(w, recs, heading); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	traceRecs := col.Records()
	if rs.traceOut != "" {
		if err := results.WriteFileAtomic(rs.traceOut, func(w io.Writer) error { return results.WriteJSONL(w, traceRecs) }); err != nil {
			return fmt.Errorf("writing %s: %w", rs.traceOut, err)
		}
	}
	if rs.outDir != "" {
		if err := os.MkdirAll(rs.outDir, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", rs.outDir, err)
		}
		files := []struct {
			name  string
			write func(io.Writer) error
		}{
			{"summary.json", func(w io.Writer) error { _, err := w.Write(results.MarshalSummary(sum)); return err }},
			{"timeseries.csv", func(w io.Writer) error { return results.WriteTimeSeriesCSV(w, col) }},
			{"trace.jsonl", func(w io.Writer) error { return results.WriteJSONL(w, traceRecs) }},
		}
		for _, f := range files {
			p := filepath.Join(rs.outDir, f.name)
			if err := results.WriteFileAtomic(p, f.write); err != nil {
				return fmt.Errorf("writing %s: %w", p, err)
			}
		}
	}
	if err := dlog.write(rs.sched.explain, rs.outDir); err != nil {
		return err
	}
	if rs.format == "json" {
		if _, err := stdout.Write(results.MarshalSummary(sum)); err != nil {
			return err
		}
	} else if err := results.WriteTable(stdout, sum); err != nil {
		return err
	}
	return checkExpectations(sc, sum, stdout, stderr, rs.format == "json")
}

// checkExpectations evaluates the scenario's expect list against the summary and
// prints each outcome (on stderr with --format json). A failed expectation is an
// *expectationError (exit 3).
func checkExpectations(sc *scenario.Scenario, sum *results.Summary, stdout, stderr io.Writer, json bool) error {
	if len(sc.Expect) == 0 {
		return nil
	}
	w := stdout
	if json {
		w = stderr
	}
	failed := 0
	fmt.Fprintln(w, "\nExpectations of the scenario:")
	for _, e := range sc.Expect {
		c := sum.Expect(e.Key, e.Min, e.Max, e.Equal, e.Why)
		mark := "ok  "
		if !c.Passed {
			mark = "FAIL"
			failed++
		}
		fmt.Fprintf(w, "  %s %s %s (got %s)", mark, c.Key, c.Want, c.Got)
		if c.Why != "" {
			fmt.Fprintf(w, ": %s", c.Why)
		}
		fmt.Fprintln(w)
	}
	if failed > 0 {
		return &expectationError{fmt.Errorf("%d of %d expectations of scenario %s failed", failed, len(sc.Expect), sc.Name)}
	}
	return nil
}

// expectationError marks a run whose outcome contradicts the scenario's expectations.
type expectationError struct{ err error }

func (e *expectationError) Error() string { return e.err.Error() }

func newScenariosCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "scenarios",
		Short: "List the built-in scenarios",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			for _, n := range scenarios.Names() {
				b, _ := scenarios.Get(n)
				desc := ""
				if sc, err := scenario.Parse(n+".yaml", b); err == nil {
					desc = sc.Description
				}
				fmt.Fprintf(stdout, "%-16s %s\n", n, desc)
			}
			return nil
		},
	}
}
