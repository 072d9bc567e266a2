package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/kubesim/kubesim/results"
)

// validationError marks a validation whose metrics are outside their tolerances
// (exit code 4).
type validationError struct{ err error }

func (e *validationError) Error() string { return e.err.Error() }

// defaultKillAt is when validate kills a container when the scenario kills none:
// after the nginx replicas are ready, leaving time to recover before the horizon.
const defaultKillAt = 15 * time.Second

func newValidateCmd(v *viper.Viper, stdout, stderr io.Writer) *cobra.Command {
	var f realFlags
	var tolFile, calFile, realFrom string
	var relTol, absTol float64
	var killAt time.Duration
	var simRuns int
	cmd := &cobra.Command{
		Use:   "validate SCENARIO",
		Short: "Run a scenario simulated and real with the same seed and compare them metric by metric",
		Long: `Runs the scenario in virtual time and on the wall clock with real containers, the
real proxy, the real etcd and real traffic (kubesim real run), with the same seed and
horizon, and prints side by side, per metric, the simulated and the real median and
p90 and the relative error of the judged statistic: the latency of each of the seven
steps, pod startup latency, the time until every replica is ready, the recovery time
after a container kill (injected at --kill-at when the scenario kills none; the
output says so), request latency p50 and p99, and the request error ratio.

A metric passes when |simulated - real| <= max(relative x |real|, absolute).
Defaults: relative 0.5 and absolute 50ms for latencies; absolute 0.01 for the error
ratio. --tolerance FILE (YAML: default, errors, metrics.<key>) or --rel-tol and
--abs-tol change them. Writes validation.json (and, with --out, the two runs' directories
simulated/ and real/). Exit code 0 when every measured metric passes, 4 when one is
outside its tolerance. --sim-runs N pools the samples of N simulated runs (seeds
SEED, SEED+1, ...) to compare the model's distribution with the real run. The
validation error printed last is the mean over the metrics of
|sim - real| / max(|real|, absolute tolerance).`,
		Example: `  kubesim validate nginx --out val
  kubesim calibrate val/real --out cal.yaml
  kubesim validate nginx --calibration cal.yaml --real-from val/real`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := loadScenario(args[0])
			if err != nil {
				return err
			}
			if calFile != "" {
				if err := applyCalibrationFile(sc, calFile); err != nil {
					return badInput("--calibration: %v", err)
				}
			}
			seed, imap, err := f.check(cmd, sc)
			if err != nil {
				return err
			}
			tol := results.DefaultTolerances()
			if tolFile != "" {
				b, err := os.ReadFile(tolFile)
				if err != nil {
					return badInput("--tolerance %s: %v", tolFile, err)
				}
				if tol, err = results.ParseTolerances(tolFile, b); err != nil {
					return &inputError{err}
				}
			}
			if cmd.Flags().Changed("rel-tol") {
				if relTol < 0 {
					return badInput("--rel-tol %g: want a non-negative ratio", relTol)
				}
				tol.Default.Relative = relTol
			}
			if cmd.Flags().Changed("abs-tol") {
				if absTol < 0 {
					return badInput("--abs-tol %g: want non-negative seconds", absTol)
				}
				tol.Default.Absolute = absTol
			}
			if killAt <= 0 || killAt >= f.duration {
				return badInput("--kill-at %v: want a time within the horizon (--duration %v)", killAt, f.duration)
			}
			cp, notes, err := comparable{horizon: f.duration, killAt: killAt}.prepare(sc)
			if err != nil {
				return err
			}
			var realSamples *results.RunSamples
			if realFrom != "" {
				if realSamples, err = results.ReadSamples(realFrom); err != nil {
					return badInput("--real-from: %v", err)
				}
				if realSamples.Mode != "real" || realSamples.Scenario != sc.Name {
					return badInput("--real-from %s: a real run of scenario %s is needed (found a %s run of %s)", realFrom, sc.Name, realSamples.Mode, realSamples.Scenario)
				}
				notes = append(notes, "real run read from "+realFrom+" (not run again)")
			}
			if simRuns < 1 || simRuns > 1000 {
				return badInput("--sim-runs %d: want 1 to 1000", simRuns)
			}
			simRun, err := simulateComparable(cp, seed)
			if err != nil {
				return err
			}
			// More simulated runs (seeds seed+1, ...) pool their samples: the model's
			// distribution rather than one draw of it.
			simSamples := simRun.samples
			if simRuns > 1 {
				pooled := &results.RunSamples{Version: version, Scenario: sc.Name, Seed: seed, Mode: "simulated"}
				for name, v := range simRun.samples.Samples {
					pooled.Add(name, v...)
				}
				for i := 1; i < simRuns; i++ {
					r, err := simulateComparable(cp, seed+uint64(i))
					if err != nil {
						return err
					}
					for name, v := range r.samples.Samples {
						pooled.Add(name, v...)
					}
				}
				simSamples = pooled
				notes = append(notes, fmt.Sprintf("simulated: %d runs with seeds %d..%d, samples pooled", simRuns, seed, seed+uint64(simRuns-1)))
			}
			if realSamples == nil {
				ctx, stop := interruptible()
				defer stop()
				realRun, err := realRunScenario(ctx, cp, seed, realSettings{imageMap: imap, progress: stderr})
				if err != nil {
					return err
				}
				realRun.samples.Notes = append(realRun.samples.Notes, notes...)
				realSamples = realRun.samples
				if f.out != "" {
					if err := writeRunDir(filepath.Join(f.out, "real"), realRun); err != nil {
						return err
					}
				}
			}
			if calFile != "" {
				notes = append(notes, "simulated with calibration profile "+calFile)
			}
			if f.out != "" {
				if err := writeRunDir(filepath.Join(f.out, "simulated"), simRun); err != nil {
					return err
				}
			}
			val := results.Validate(simSamples, realSamples, tol)
			val.Notes = notes
			if err := results.WriteValidationTable(stdout, val); err != nil {
				return err
			}
			dir := f.out
			if dir == "" {
				dir = "."
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			p := filepath.Join(dir, "validation.json")
			b, err := results.MarshalValidation(val)
			if err != nil {
				return err
			}
			if err := results.WriteFileAtomic(p, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
				return fmt.Errorf("writing %s: %w", p, err)
			}
			fmt.Fprintf(stdout, "wrote %s\n", p)
			if !val.Passed {
				return &validationError{fmt.Errorf("validation of %s failed: %s outside tolerance", sc.Name, strings.Join(val.Failed, ", "))}
			}
			return nil
		},
	}
	f.register(cmd, "write validation.json and the runs' directories simulated/ and real/ here (default: validation.json in the current directory)")
	fl := cmd.Flags()
	fl.StringVar(&tolFile, "tolerance", "", "tolerance file (YAML: default: {relative, absolute}, errors: {...}, metrics: {step5: {...}})")
	fl.Float64Var(&relTol, "rel-tol", 0, "default relative tolerance (0.5 = 50%)")
	fl.Float64Var(&absTol, "abs-tol", 0, "default absolute tolerance in seconds (0.05)")
	fl.StringVar(&calFile, "calibration", "", "simulate with this calibration profile (kubesim calibrate)")
	fl.StringVar(&realFrom, "real-from", "", "compare with this real run directory (kubesim real run --out, or validate's real/) instead of running again")
	fl.DurationVar(&killAt, "kill-at", defaultKillAt, "when to kill a container if the scenario kills none")
	fl.IntVar(&simRuns, "sim-runs", 1, "simulated runs to pool (seeds SEED, SEED+1, ...): the model's distribution instead of one draw")
	return cmd
}

func newCalibrateCmd(stdout, stderr io.Writer) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "calibrate RUN_DIR...",
		Short: "Fit the model's latency distributions to real runs and write a calibration profile",
		Long: `Reads samples.json of one or more real runs (kubesim real run --out DIR, or
validate's DIR/real) and fits, by maximum likelihood, a log-normal distribution to
each latency the model takes as a setting: container create and start, image pull,
etcd commit, readiness and proxy programming. Prints each fit with its
Kolmogorov-Smirnov statistic and writes a profile that scenarios include with
'calibration: FILE' (or kubesim validate --calibration FILE).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var runs []*results.RunSamples
			for _, dir := range args {
				r, err := results.ReadSamples(dir)
				if err != nil {
					return badInput("%s: %v (want a real run's directory with %s)", dir, err, results.SamplesFile)
				}
				if r.Mode != "real" {
					return badInput("%s: a %s run: calibrate fits real runs only", dir, r.Mode)
				}
				runs = append(runs, r)
			}
			c, err := results.Calibrate(args, runs)
			if err != nil {
				return badInput("%v", err)
			}
			if err := results.WriteCalibrationTable(stdout, c); err != nil {
				return err
			}
			b, err := c.MarshalYAML()
			if err != nil {
				return err
			}
			if err := results.WriteFileAtomic(out, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
				return fmt.Errorf("writing %s: %w", out, err)
			}
			fmt.Fprintf(stdout, "wrote %s\n", out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "calibration.yaml", "the profile to write")
	return cmd
}
