//go:build kubescheduler

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/kubesim/kubesim/model/cluster"
	"github.com/kubesim/kubesim/model/kubescheduler"
	"github.com/kubesim/kubesim/model/scheduler"
	"github.com/kubesim/kubesim/results"
	"github.com/kubesim/kubesim/sim"
)

// kubesim fidelity: kubesim's own default profile against the real kube-scheduler
// framework, decision by decision (docs/kube-scheduler.md).

func newFidelityCmd(v *viper.Viper, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fidelity SCENARIO",
		Short: "Compare kubesim's own scheduler with the real kube-scheduler " + kubescheduler.Minor + ", score by score",
		Long: `Run SCENARIO with kubesim's own default profile and, at each of its scheduling
decisions, score the same pod against the same cluster state with the real
kube-scheduler framework (` + kubescheduler.PolicyName + `, k8s.io/kubernetes ` + kubescheduler.Version + `).
Every node is examined (percentageOfNodesToScore 100) so both score the same
feasible nodes, and kubesim's NodeResourcesBalancedAllocation uses the v1.36
formula, the one ` + kubescheduler.Minor + ` runs. Reported: the share of (pod, node) filter
verdicts and of (pod, node, plug-in) normalized scores that are equal, the share
of decisions where both choose the same node when the best node is unique, and
every difference with its inputs. Exit status 3 when the score agreement is below
--min-agreement (percent).`,
		Example: `  kubesim fidelity nginx
  kubesim fidelity storage --json fidelity.json --max-diffs 50`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := loadScenario(args[0])
			if err != nil {
				return err
			}
			seed := sc.Seed
			if cmd.Flags().Changed("seed") {
				seed = v.GetUint64("seed")
			}
			until := sc.Duration.D()
			if d := v.GetDuration("until"); d > 0 {
				until = d
			}
			minAgree := v.GetFloat64("min-agreement")
			if minAgree < 0 || minAgree > 100 {
				return badInput("--min-agreement %v: want 0..100", minAgree)
			}
			maxDiffs := v.GetInt("max-diffs")
			jsonOut := v.GetString("json")
			opts, err := clusterOptions(sc, seed, "")
			if err != nil {
				return err
			}
			f := kubescheduler.NewFidelity()
			defer f.Close()
			opts.Policies = cluster.NewPolicyRegistry()
			opts.Policies.Register("fidelity", func(cfg *scheduler.Config) error { f.Configure(cfg); return nil })
			opts.Policy = "fidelity"
			cl, err := cluster.Build(sc, opts, nil)
			if err != nil {
				return &inputError{fmt.Errorf("scenario %s: %w", sc.Name, err)}
			}
			if err := cl.Run(sim.Time(until)); err != nil {
				return fmt.Errorf("scenario %s, seed %d: %w", sc.Name, seed, err)
			}
			if err := f.Err(); err != nil {
				return err
			}
			writeFidelity(stdout, sc.Name, seed, f, maxDiffs)
			if jsonOut != "" {
				if err := results.WriteFileAtomic(jsonOut, func(w io.Writer) error { return writeFidelityJSON(w, sc.Name, seed, f) }); err != nil {
					return fmt.Errorf("writing %s: %w", jsonOut, err)
				}
			}
			if pct(f.ScoreEqual, f.ScoreTotal) < minAgree || pct(f.FilterEqual, f.FilterTotal) < minAgree {
				return &expectationError{fmt.Errorf("fidelity %s: agreement below %.2f%% (scores %.2f%%, filters %.2f%%)", sc.Name, minAgree,
					pct(f.ScoreEqual, f.ScoreTotal), pct(f.FilterEqual, f.FilterTotal))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Uint64("seed", 0, "root random seed (default: the scenario's seed)")
	f.Duration("until", 0, "stop at this virtual time (default: the scenario's duration)")
	f.Float64("min-agreement", 100, "exit with status 3 when the share of equal scores or filter verdicts is below this percentage")
	f.Int("max-diffs", 20, "list at most this many differences on standard output (all go to --json)")
	f.String("json", "", "write the counts and every difference as JSON to this file")
	return cmd
}

// pct is a/b in percent (100 when b is 0: nothing disagreed).
func pct(a, b int) float64 {
	if b == 0 {
		return 100
	}
	return 100 * float64(a) / float64(b)
}

func writeFidelity(w io.Writer, name string, seed uint64, f *kubescheduler.Fidelity, maxDiffs int) {
	fmt.Fprintf(w, "fidelity of kubesim's default profile against kube-scheduler %s (scenario %s, seed %d)\n", kubescheduler.Version, name, seed)
	fmt.Fprintf(w, "  decisions compared          %d\n", f.Decisions)
	reasons := make([]string, 0, len(f.Skipped))
	for r := range f.Skipped {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(w, "  decisions not compared      %d: %s\n", f.Skipped[r], r)
	}
	fmt.Fprintf(w, "  filter verdicts equal       %d/%d (%.2f%%)\n", f.FilterEqual, f.FilterTotal, pct(f.FilterEqual, f.FilterTotal))
	fmt.Fprintf(w, "  scores equal                %d/%d (%.2f%%)  (pod, node, plug-in), normalized\n", f.ScoreEqual, f.ScoreTotal, pct(f.ScoreEqual, f.ScoreTotal))
	fmt.Fprintf(w, "  same node, unique best      %d/%d (%.2f%%)\n", f.SameNode, f.UniqueBest, pct(f.SameNode, f.UniqueBest))
	if len(f.Diffs) == 0 {
		fmt.Fprintln(w, "  differences                 none")
		return
	}
	fmt.Fprintf(w, "  differences                 %d\n", len(f.Diffs))
	for i, d := range f.Diffs {
		if i == maxDiffs {
			fmt.Fprintf(w, "  ... %d more (--json lists all)\n", len(f.Diffs)-maxDiffs)
			break
		}
		fmt.Fprintf(w, "  - %s (attempt %d) node %s plug-in %s: kubesim %d (raw %d), upstream %d (raw %d)", d.Pod, d.Attempt, d.Node, d.Plugin, d.Kubesim, d.KubesimRaw, d.Upstream, d.UpstreamRaw)
		if d.Detail != "" {
			fmt.Fprintf(w, "; %s", d.Detail)
		}
		if d.Inputs != "" {
			fmt.Fprintf(w, "\n      inputs: %s", d.Inputs)
		}
		fmt.Fprintln(w)
	}
}

func writeFidelityJSON(w io.Writer, name string, seed uint64, f *kubescheduler.Fidelity) error {
	diffs := f.Diffs
	if diffs == nil {
		diffs = []kubescheduler.Diff{}
	}
	doc := map[string]any{
		"scenario": name, "seed": seed, "upstream": kubescheduler.Version,
		"decisions": f.Decisions, "skipped": f.Skipped,
		"filterEqual": f.FilterEqual, "filterTotal": f.FilterTotal,
		"scoreEqual": f.ScoreEqual, "scoreTotal": f.ScoreTotal,
		"sameNode": f.SameNode, "uniqueBest": f.UniqueBest,
		"differences": diffs,
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
