package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"golang.org/x/term"

	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/results"
	"github.com/kubesim/kubesim/results/plan"
	"github.com/kubesim/kubesim/scenarios"
)

func newPlanCmd(v *viper.Viper, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plan SCENARIO",
		Short: "Find the cheapest cluster (node type and count) that meets the SLOs in every replication",
		Long: `plan replaces the scenario's cluster.nodes by count nodes of each node type of the
plan, runs every candidate with seeds 1..N (and, when the plan names a failure, a
second time with that failure injected), and searches per node type the least count
that meets every SLO in every replication (bisection, assuming the SLOs are monotone
in the count; the answer and one node fewer are always run). The cheapest type wins.
It prints the candidates tried, the chosen plan with its margins and the candidate
one node smaller, and writes plan.json and plan.csv. Exit 3 when no candidate passes.`,
		Example: `  kubesim plan plan-web
  kubesim plan my.yaml --plan my-plan.yaml --replications 5 --parallel 2 --out plan-out`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			parallel := v.GetInt("parallel")
			if parallel < 1 {
				return badInput("--parallel %d: want at least 1", parallel)
			}
			outDir := v.GetString("out")
			if outDir == "" {
				outDir = "."
			}
			if st, err := os.Stat(outDir); err == nil && !st.IsDir() {
				return badInput("--out %s: exists and is not a directory", outDir)
			}
			if err := checkWritableDir(existingParent(outDir)); err != nil {
				return badInput("--out %s: %v", outDir, err)
			}
			sc, err := loadScenario(args[0])
			if err != nil {
				return err
			}
			raw, err := scenarioBytes(args[0])
			if err != nil {
				return err
			}
			pl, planName, err := loadPlan(v.GetString("plan"), args[0])
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("replications") || v.IsSet("replications") && v.GetInt("replications") != 0 {
				n := v.GetInt("replications")
				if n < 1 || n > 10000 {
					return badInput("--replications %d: want 1..10000", n)
				}
				pl.Replications = n
			}
			return runPlan(sc, args[0], raw, pl, planName, parallel, outDir, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.String("plan", "", "plan file: node types, SLOs, replications (default: the scenario's built-in plan)")
	f.Int("replications", 0, "replications per candidate, seeds 1..N (default: the plan's, or 1)")
	f.Int("parallel", 1, "runs at once (each run is single-threaded and deterministic)")
	f.String("out", ".", "directory for plan.json and plan.csv")
	return cmd
}

// scenarioBytes returns the YAML of a built-in scenario or file (already validated
// by loadScenario).
func scenarioBytes(arg string) ([]byte, error) {
	if !strings.ContainsAny(arg, "/\\") && !strings.HasSuffix(arg, ".yaml") && !strings.HasSuffix(arg, ".yml") {
		b, _ := scenarios.Get(arg)
		return b, nil
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return nil, badInput("scenario file %s: %v", arg, err)
	}
	return b, nil
}

// loadPlan reads the plan file, or the built-in plan of a built-in scenario.
func loadPlan(path, scenarioArg string) (*plan.Plan, string, error) {
	if path == "" {
		b, ok := plan.Builtin(scenarioArg)
		if !ok {
			return nil, "", badInput("--plan: give a plan file (node types and SLOs); scenario %s has no built-in plan (built-in plans: %s)",
				scenarioArg, strings.Join(plan.BuiltinNames(), ", "))
		}
		p, err := plan.Parse(scenarioArg+" built-in plan", b)
		if err != nil {
			return nil, "", err // our bug: exit 1
		}
		return p, "built-in " + scenarioArg, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", badInput("plan file %s: no such file", path)
		}
		return nil, "", badInput("plan file %s: %v", path, err)
	}
	p, err := plan.Parse(path, b)
	if err != nil {
		return nil, "", &inputError{err}
	}
	return p, path, nil
}

// planJob is one run: a candidate (type index, count), a seed, baseline or failure.
type planJob struct {
	cand    int // index into the batch
	seed    uint64
	failure bool
}

// runPlan searches every node type's least passing count; the runs of each round
// of the search (one candidate per type still searching, every seed, baseline and
// failure run) go to a pool of workers. Each run is deterministic and the search
// only reads their results in a fixed order, so --parallel never changes the answer.
func runPlan(sc *scenario.Scenario, scenarioArg string, raw []byte, pl *plan.Plan, planName string, parallel int, outDir string, stdout, stderr io.Writer) error {
	slos := pl.List()
	seeds := make([]uint64, pl.Replications)
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	// Build every type's smallest candidate first, so a plan that does not fit the
	// scenario is an input error before any run.
	build := func(t plan.NodeType, count int, failure bool) (*scenario.Scenario, error) {
		label := fmt.Sprintf("%s (plan candidate %d × %s", scenarioArg, count, t.Name)
		if failure {
			label += " with failure " + pl.SLOs.Failure.Name
		}
		label += ")"
		b, err := pl.Candidate(raw, t, count, failure)
		if err != nil {
			return nil, badInput("%s: %v", label, err)
		}
		c, err := scenario.Parse(label, b)
		if err != nil {
			return nil, &inputError{err}
		}
		return c, nil
	}
	for _, t := range pl.NodeTypes {
		if _, err := build(t, t.MinCount, pl.NeedsFailureRun()); err != nil {
			return err
		}
	}

	var bar *progressbar.ProgressBar
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("plan runs"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("runs"),
			progressbar.OptionClearOnFinish())
	}

	searchers := make([]*plan.Searcher, len(pl.NodeTypes))
	for i, t := range pl.NodeTypes {
		searchers[i] = plan.NewSearcher(t)
	}
	rep := &plan.Report{Scenario: sc.Name, Plan: planName, Replications: pl.Replications, Seeds: seeds, SLOs: slos, Version: version}
	for {
		type cand struct {
			typ   int
			count int
			base  *scenario.Scenario
			fail  *scenario.Scenario
		}
		var batch []cand
		for i, s := range searchers {
			n, ok := s.Next()
			if !ok {
				continue
			}
			c := cand{typ: i, count: n}
			var err error
			if c.base, err = build(pl.NodeTypes[i], n, false); err != nil {
				return err
			}
			if pl.NeedsFailureRun() {
				if c.fail, err = build(pl.NodeTypes[i], n, true); err != nil {
					return err
				}
			}
			batch = append(batch, c)
		}
		if len(batch) == 0 {
			break
		}
		var jobs []planJob
		for ci, c := range batch {
			for _, s := range seeds {
				jobs = append(jobs, planJob{cand: ci, seed: s})
				if c.fail != nil {
					jobs = append(jobs, planJob{cand: ci, seed: s, failure: true})
				}
			}
		}
		out := make([]runResult, len(jobs))
		work := make(chan int)
		var wg sync.WaitGroup
		var mu sync.Mutex
		for w := 0; w < min(parallel, len(jobs)); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range work {
					c := batch[jobs[j].cand]
					s := c.base
					if jobs[j].failure {
						s = c.fail
					}
					r := compareRun(s, "", jobs[j].seed)
					mu.Lock()
					out[j] = r
					if bar != nil {
						_ = bar.Add(1)
					}
					mu.Unlock()
				}
			}()
		}
		for j := range jobs {
			work <- j
		}
		close(work)
		wg.Wait()
		for j, r := range out {
			if r.err != nil {
				c := batch[jobs[j].cand]
				return fmt.Errorf("plan candidate %d × %s, seed %d: %w", c.count, pl.NodeTypes[c.typ].Name, r.seed, r.err)
			}
		}
		// Results in job order: per candidate, per seed.
		for ci, c := range batch {
			reps := make([]plan.Replication, 0, len(seeds))
			for j, jb := range jobs {
				if jb.cand != ci || jb.failure {
					continue
				}
				rp := plan.Replication{Seed: jb.seed, Baseline: out[j].values}
				if c.fail != nil {
					rp.Failure = out[j+1].values // the failure run follows its baseline run
				}
				reps = append(reps, rp)
			}
			ms := plan.Evaluate(slos, reps)
			t := pl.NodeTypes[c.typ]
			tr := plan.Tried{Type: t.Name, Count: c.count, CostPerHour: plan.Cost(t, c.count), Pass: plan.AllPass(ms), Measures: ms}
			rep.Tried = append(rep.Tried, tr)
			searchers[c.typ].Record(c.count, tr.Pass)
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}

	var choices []plan.Choice
	for _, s := range searchers {
		tr := plan.TypeResult{Type: s.Type.Name, MinCount: s.Type.MinCount, MaxCount: s.Type.MaxCount, Count: s.Found, NonMonotone: s.NonMonotone}
		if s.Found > 0 {
			c := plan.Cost(s.Type, s.Found)
			tr.CostPerHour = &c
			choices = append(choices, plan.Choice{Type: s.Type, Count: s.Found})
		}
		rep.Types = append(rep.Types, tr)
	}
	if ch, ok := plan.Cheapest(choices); ok {
		rep.Chosen = rep.Find(ch.Type.Name, ch.Count)
		rep.OneFewer = rep.Find(ch.Type.Name, ch.Count-1)
	}

	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", outDir, err)
	}
	js, err := rep.JSON()
	if err != nil {
		return err
	}
	if err := results.WriteFileAtomic(filepath.Join(outDir, "plan.json"), func(w io.Writer) error { _, err := w.Write(js); return err }); err != nil {
		return err
	}
	if err := results.WriteFileAtomic(filepath.Join(outDir, "plan.csv"), rep.WriteCSV); err != nil {
		return err
	}
	if err := rep.WriteText(stdout); err != nil {
		return err
	}
	if rep.Chosen == nil {
		return &expectationError{fmt.Errorf("no node type of the plan meets every SLO within its count range")}
	}
	return nil
}
