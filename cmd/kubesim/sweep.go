package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
	"golang.org/x/term"

	"github.com/kubesim/kubesim/model/cluster"
	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/results"
	"github.com/kubesim/kubesim/results/sweep"
	"github.com/kubesim/kubesim/scenarios"
	"github.com/kubesim/kubesim/sim"
)

func newSweepCmd(v *viper.Viper, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sweep SWEEP.yaml",
		Short: "Run a grid of scenario parameters times seeds; resumable, shardable",
		Long: `Run every combination of a sweep file's parameter values, policies and seeds.
Each run's result goes to DIR/runs/<hash>.json (the hash of its full spec), written
atomically; runs whose file exists are skipped, so an interrupted sweep resumes
where it stopped. --shard i/N runs only the runs whose index mod N is i. At the end
DIR/sweep.csv and DIR/sweep.json hold every finished run in grid order.
See docs/sweeps.md.`,
		Example: `  kubesim sweep sweep.yaml --parallel 4 --out results
  kubesim sweep sweep.yaml --shard 0/2 --out shard0
  kubesim sweep sweep.yaml --emit-job job.yaml --shards 8 --image registry.example/kubesim:0.1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			parallel := v.GetInt("parallel")
			if parallel < 1 {
				return badInput("--parallel %d: want at least 1", parallel)
			}
			shardI, shardN := 0, 1
			if s := v.GetString("shard"); s != "" {
				var err error
				if shardI, shardN, err = sweep.ParseShard(s); err != nil {
					return badInput("--shard: %v", err)
				}
			}
			outDir := v.GetString("out")
			if st, err := os.Stat(outDir); err == nil && !st.IsDir() {
				return badInput("--out %s: exists and is not a directory", outDir)
			}
			if err := checkWritableDir(existingParent(outDir)); err != nil {
				return badInput("--out %s: %v", outDir, err)
			}
			sw, err := loadSweep(args[0])
			if err != nil {
				return err
			}
			if job := v.GetString("emit-job"); job != "" {
				return emitJob(sw, v, job, stdout)
			}
			return runSweep(sw, parallel, shardI, shardN, outDir, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.Int("parallel", 1, "runs at once (each run is single-threaded and deterministic)")
	f.String("shard", "", "run only shard i of N (the runs whose grid index mod N == i), as i/N")
	f.String("out", "sweep-results", "results directory (runs/, plan.json, sweep.csv, sweep.json)")
	f.String("emit-job", "", "write a Kubernetes Indexed Job manifest running the sweep in --shards pods to this file, and run nothing")
	f.Int("shards", 4, "with --emit-job: shards, that is completions and parallelism of the Job")
	f.String("image", "kubesim:"+version, "with --emit-job: container image with kubesim on its PATH")
	f.String("pvc", "", "with --emit-job: PersistentVolumeClaim for /results (default: JOB-results)")
	f.String("storage", "1Gi", "with --emit-job: size of the claim")
	f.String("job-name", "", "with --emit-job: Job name (default: kubesim-<sweep file name>)")
	return cmd
}

// loadedSweep is a checked sweep: its spec, scenario, every grid point's scenario
// and the runs in grid order.
type loadedSweep struct {
	file     string
	data     []byte
	spec     *sweep.Spec
	base     *scenario.Scenario
	scenFile string // the scenario file's path, "" for a built-in
	scenData []byte
	points   []*scenario.Scenario
	runs     []sweep.Run
	plan     *sweep.Plan
}

// loadSweep reads and checks a sweep file; every problem is an input error naming
// the sweep file's line (or the scenario file's).
func loadSweep(file string) (*loadedSweep, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, badInput("sweep file %s: no such file", file)
		}
		return nil, badInput("sweep file %s: %v", file, err)
	}
	spec, err := sweep.Parse(file, data)
	if err != nil {
		return nil, &inputError{err}
	}
	sw := &loadedSweep{file: file, data: data, spec: spec}
	var name string
	if !strings.ContainsAny(spec.Scenario, "/\\") && !strings.HasSuffix(spec.Scenario, ".yaml") && !strings.HasSuffix(spec.Scenario, ".yml") {
		b, ok := scenarios.Get(spec.Scenario)
		if !ok {
			return nil, &inputError{&sweep.Error{File: file, Line: spec.ScenarioLine, Field: "scenario",
				Msg: fmt.Sprintf("no built-in scenario %q (built-in: %s); to use a file, give its path", spec.Scenario, strings.Join(scenarios.Names(), ", "))}}
		}
		sw.scenData, name = b, spec.Scenario+".yaml (built-in)"
	} else {
		p := spec.Scenario
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(file), p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, &inputError{&sweep.Error{File: file, Line: spec.ScenarioLine, Field: "scenario", Msg: fmt.Sprintf("scenario file %s: %v", p, unwrapPathErr(err))}}
		}
		sw.scenData, sw.scenFile, name = b, p, p
	}
	if sw.base, err = scenario.Parse(name, sw.scenData); err != nil {
		return nil, &inputError{err}
	}
	reg := cluster.NewPolicyRegistry()
	for _, p := range spec.Policies {
		if p == "" {
			continue
		}
		if err := reg.Apply(p, defaultSchedulerConfigForCheck()); err != nil {
			return nil, &inputError{&sweep.Error{File: file, Line: spec.PoliciesLine, Field: "policies", Msg: err.Error()}}
		}
	}
	// Each value alone, so that an error names the value's line.
	for _, p := range spec.Params {
		for _, val := range p.Values {
			one := []sweep.Param{{Path: p.Path, Values: []*yaml.Node{val}}}
			b, err := sweep.Apply(sw.scenData, one, []int{0})
			if err == nil {
				_, err = scenario.Parse(name, b)
			}
			if err != nil {
				return nil, &inputError{&sweep.Error{File: file, Line: val.Line, Field: "grid." + p.Path,
					Msg: fmt.Sprintf("value %s: %s", sweep.ValueString(val), scenarioMsg(err))}}
			}
		}
	}
	// Then every combination.
	points := sweep.Points(spec.Params)
	bytesOf := make([][]byte, len(points))
	for i, pt := range points {
		b, err := sweep.Apply(sw.scenData, spec.Params, pt.Choice)
		var sc *scenario.Scenario
		if err == nil {
			sc, err = scenario.Parse(name, b)
		}
		if err != nil {
			var combo []string
			for j, p := range spec.Params {
				combo = append(combo, p.Path+"="+sweep.ValueString(p.Values[pt.Choice[j]]))
			}
			return nil, &inputError{&sweep.Error{File: file, Line: spec.Params[0].Line, Field: "grid",
				Msg: fmt.Sprintf("the combination %s: %s", strings.Join(combo, ", "), scenarioMsg(err))}}
		}
		bytesOf[i], sw.points = b, append(sw.points, sc)
	}
	sw.runs = sweep.Runs(spec, points, bytesOf, version)
	sw.plan = sweep.NewPlan(spec, sw.base.Name, version, sw.runs)
	return sw, nil
}

func unwrapPathErr(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "no such file"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// scenarioMsg is a scenario error without the (substituted, unnamed) file and line.
func scenarioMsg(err error) string {
	var se *scenario.Error
	if errors.As(err, &se) {
		if se.Field != "" {
			return se.Field + ": " + se.Msg
		}
		return se.Msg
	}
	return err.Error()
}

// runSweep runs the shard's unfinished runs on a pool of workers, then writes the
// tables. SIGINT or SIGTERM stops handing out runs; the runs under way finish and
// are written, so the directory holds only complete result files.
func runSweep(sw *loadedSweep, parallel, shardI, shardN int, outDir string, stdout, stderr io.Writer) error {
	if err := os.MkdirAll(filepath.Join(outDir, sweep.RunsDir), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", outDir, err)
	}
	if err := results.WriteFileAtomic(filepath.Join(outDir, sweep.PlanFile), func(w io.Writer) error {
		_, err := w.Write(sw.plan.Marshal())
		return err
	}); err != nil {
		return fmt.Errorf("writing plan: %w", err)
	}
	mine := sweep.Shard(sw.runs, shardI, shardN)
	var todo []sweep.Run
	for _, r := range mine {
		if _, err := os.Stat(sweep.RunPath(outDir, r.Hash)); err != nil {
			todo = append(todo, r)
		}
	}
	skipped := len(mine) - len(todo)
	shardNote := ""
	if shardN > 1 {
		shardNote = fmt.Sprintf(", shard %d/%d: %d", shardI, shardN, len(mine))
	}
	fmt.Fprintf(stdout, "sweep %s: scenario %s, %d runs in the grid%s; %d already finished (skipped); running %d on %d workers\n",
		sw.file, sw.base.Name, len(sw.runs), shardNote, skipped, len(todo), parallel)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var bar *progressbar.ProgressBar
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) && len(todo) > 0 {
		bar = progressbar.NewOptions(len(todo), progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("runs"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("runs"),
			progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
	}
	jobs := make(chan sweep.Run)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		done   int
		failed []string
	)
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range jobs {
				err := sweepRun(sw, r, outDir)
				mu.Lock()
				if err != nil {
					failed = append(failed, fmt.Sprintf("run %d (%s seed %d): %v", r.Index, describeRun(sw.plan, r), r.Seed, err))
				} else {
					done++
				}
				if bar != nil {
					_ = bar.Add(1)
				}
				mu.Unlock()
			}
		}()
	}
	interrupted := false
feed:
	for _, r := range todo {
		select {
		case <-ctx.Done():
			interrupted = true
			break feed
		case jobs <- r:
		}
	}
	close(jobs)
	wg.Wait()
	if bar != nil {
		_ = bar.Finish()
	}
	stop()

	res, err := sweep.LoadResults(sw.plan, outDir)
	if err != nil {
		return err
	}
	rows, err := sweep.WriteTables(outDir, sw.plan, res)
	if err != nil {
		return fmt.Errorf("writing tables: %w", err)
	}
	fmt.Fprintf(stdout, "ran %d, skipped %d, failed %d; %s and %s hold %d of %d runs\n", done, skipped, len(failed),
		filepath.Join(outDir, sweep.CSVFile), filepath.Join(outDir, sweep.JSONFile), rows, len(sw.runs))
	if interrupted {
		return fmt.Errorf("interrupted: %d of %d runs of this shard are finished; run the same command again to resume", skipped+done, len(mine))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d runs failed (run the sweep again to retry them); the first: %s", len(failed), failed[0])
	}
	return nil
}

func describeRun(p *sweep.Plan, r sweep.Run) string {
	var parts []string
	for i, path := range p.Params {
		parts = append(parts, path+"="+r.Values[i])
	}
	if r.Policy != "" {
		parts = append(parts, "policy "+r.Policy)
	}
	if len(parts) == 0 {
		return "scenario " + p.Scenario
	}
	return strings.Join(parts, ", ")
}

// sweepRun runs one run and writes its result file atomically.
func sweepRun(sw *loadedSweep, r sweep.Run, outDir string) error {
	sc := sw.points[r.Point]
	col := results.NewCollector(results.TraceOff)
	ms, err := scenarioManifests(sc) // manifests.go
	if err != nil {
		return err
	}
	cl, err := cluster.Build(sc, cluster.Options{Seed: r.Seed, Policy: r.Policy, Manifests: ms}, col)
	if err != nil {
		return err
	}
	if err := cl.Run(sim.Time(sc.Duration.D())); err != nil {
		return err
	}
	sum := results.Summarize(results.RunInfo{Version: version, Scenario: sc.Name, Seed: r.Seed, End: cl.Eng.Now(), Events: cl.Eng.Fired()}, col, finalState(sc, cl))
	b, err := sweep.EncodeRunFile(r, sw.plan.Params, results.MarshalSummary(sum))
	if err != nil {
		return err
	}
	return results.WriteFileAtomic(sweep.RunPath(outDir, r.Hash), func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// emitJob writes the Indexed Job manifest (with its ConfigMap and claim).
func emitJob(sw *loadedSweep, v *viper.Viper, path string, stdout io.Writer) error {
	name := v.GetString("job-name")
	if name == "" {
		name = sweep.JobName(sw.file)
	}
	pvc := v.GetString("pvc")
	if pvc == "" {
		pvc = name + "-results"
	}
	files := map[string]string{}
	sweepKey := filepath.Base(sw.file)
	data := sw.data
	if sw.scenFile != "" {
		// The pod sees both files side by side in /sweep: point the sweep's
		// scenario at its ConfigMap key. The scenario bytes, hence the run hashes,
		// do not change.
		key := filepath.Base(sw.scenFile)
		if key == sweepKey {
			key = "scenario-" + key
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(sw.data, &doc); err != nil {
			return err
		}
		if err := sweep.SetPath(&doc, "scenario", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}); err != nil {
			return err
		}
		b, err := yaml.Marshal(&doc)
		if err != nil {
			return err
		}
		data = b
		files[key] = string(sw.scenData)
	}
	files[sweepKey] = string(data)
	b, err := sweep.EmitJob(sweep.JobOptions{Name: name, Image: v.GetString("image"), Shards: v.GetInt("shards"), PVC: pvc,
		Storage: v.GetString("storage"), SweepFile: sweepKey, Files: files})
	if err != nil {
		return badInput("--emit-job: %v", err)
	}
	if err := checkWritableDir(filepath.Dir(path)); err != nil {
		return badInput("--emit-job %s: %v", path, err)
	}
	if err := results.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	fmt.Fprintf(stdout, "wrote %s: Indexed Job %s, %d shards of %d runs, results on claim %s\napply it with: kubectl apply -f %s\n",
		path, name, v.GetInt("shards"), len(sw.runs), pvc, path)
	return nil
}
