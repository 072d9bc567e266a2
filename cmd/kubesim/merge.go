package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/kubesim/kubesim/results"
	"github.com/kubesim/kubesim/results/sweep"
)

func newMergeCmd(v *viper.Viper, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "merge DIR... --out DIR",
		Short: "Combine sweep shard directories into one sweep.csv and sweep.json",
		Example: `  kubesim merge shard0 shard1 --out all
  kubesim merge /mnt/results --out merged`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := v.GetString("out")
			if out == "" {
				return badInput("--out: name the directory for the merged sweep")
			}
			if st, err := os.Stat(out); err == nil && !st.IsDir() {
				return badInput("--out %s: exists and is not a directory", out)
			}
			if err := checkWritableDir(existingParent(out)); err != nil {
				return badInput("--out %s: %v", out, err)
			}
			return runMerge(args, out, stdout, stderr)
		},
	}
	cmd.Flags().String("out", "", "directory for the merged sweep (runs/, plan.json, sweep.csv, sweep.json)")
	return cmd
}

func runMerge(dirs []string, out string, stdout, stderr io.Writer) error {
	var plan *sweep.Plan
	for _, d := range dirs {
		p, err := sweep.ReadPlan(d)
		if err != nil {
			return &inputError{err}
		}
		if plan == nil {
			plan = p
		} else if !sweep.SamePlan(plan, p) {
			return badInput("%s: its plan.json is not the plan of %s (a different sweep file, scenario or kubesim version)", d, dirs[0])
		}
	}
	res, err := sweep.LoadResults(plan, dirs...)
	if err != nil {
		return &inputError{err}
	}
	found := 0
	for _, d := range dirs {
		for _, r := range plan.Runs {
			if _, err := os.Stat(sweep.RunPath(d, r.Hash)); err == nil {
				found++
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(out, sweep.RunsDir), 0o755); err != nil {
		return err
	}
	// Copy the run files so that the merged directory is a complete sweep
	// directory itself (resumable, mergeable).
	for _, r := range plan.Runs {
		if res[r.Hash] == nil {
			continue
		}
		dst := sweep.RunPath(out, r.Hash)
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		for _, d := range dirs {
			b, err := os.ReadFile(sweep.RunPath(d, r.Hash))
			if err != nil {
				continue
			}
			if err := results.WriteFileAtomic(dst, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
				return err
			}
			break
		}
	}
	if err := results.WriteFileAtomic(filepath.Join(out, sweep.PlanFile), func(w io.Writer) error { _, err := w.Write(plan.Marshal()); return err }); err != nil {
		return err
	}
	rows, err := sweep.WriteTables(out, plan, res)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "merged %d directories: %d runs of %d (%d duplicate files); wrote %s and %s\n", len(dirs), rows, len(plan.Runs),
		found-rows, filepath.Join(out, sweep.CSVFile), filepath.Join(out, sweep.JSONFile))
	if missing := len(plan.Runs) - rows; missing > 0 {
		fmt.Fprintf(stderr, "kubesim: warning: %d runs of the sweep are in none of the directories; run their shards again (kubesim sweep ... --shard i/N) and merge again\n", missing)
	}
	return nil
}
