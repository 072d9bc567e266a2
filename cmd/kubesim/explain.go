package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/kubesim/kubesim/model/cluster"
	"github.com/kubesim/kubesim/results"
	"github.com/kubesim/kubesim/results/narrate"
	"github.com/kubesim/kubesim/results/report"
	"github.com/kubesim/kubesim/sim"
)

// explainMaxRecords bounds the records printed per step.
const explainMaxRecords = 25

func newExplainCmd(v *viper.Viper, stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "explain SCENARIO",
		Short: "Walk through the seven steps of the Nginx flow in the terminal, one at a time",
		Example: `  kubesim explain nginx             # Enter goes on to the next step
  kubesim explain nginx --no-pause --lang zh`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			langS, _ := f.GetString("lang")
			lang, err := narrate.ParseLang(langS)
			if err != nil {
				return badInput("--lang: %v", err)
			}
			noPause, _ := f.GetBool("no-pause")
			seed, _ := f.GetUint64("seed")
			sc, err := loadScenario(args[0])
			if err != nil {
				return err
			}
			if !f.Changed("seed") {
				seed = sc.Seed
			}
			col := results.NewCollector(results.TraceSteps)
			ms, err := scenarioManifests(sc) // manifests.go
			if err != nil {
				return err
			}
			cl, err := cluster.Build(sc, cluster.Options{Seed: seed, Manifests: ms}, col)
			if err != nil {
				return &inputError{fmt.Errorf("scenario %s: %w", sc.Name, err)}
			}
			if err := cl.Run(sim.Time(sc.Duration.D())); err != nil {
				return fmt.Errorf("scenario %s, seed %d: %w", sc.Name, seed, err)
			}
			var buf bytes.Buffer
			if err := results.WriteJSONL(&buf, col.Records()); err != nil {
				return err
			}
			recs, err := report.ReadTrace("trace", &buf)
			if err != nil {
				return err
			}
			in := stdin
			if in == nil {
				in = cmd.InOrStdin()
			}
			return explain(stdout, in, recs, lang, noPause)
		},
	}
	cmd.Flags().String("lang", "en", "language of the narration: en or zh")
	cmd.Flags().Bool("no-pause", false, "print every step without waiting for Enter")
	cmd.Flags().Uint64("seed", 0, "root random seed (default: the scenario's seed)")
	return cmd
}

// explain prints the steps of the flow one at a time; between steps it waits for a
// line on in, unless noPause or in is at its end (then it prints the rest).
func explain(w io.Writer, in io.Reader, recs []report.Record, lang narrate.Lang, noPause bool) error {
	f := report.BuildFlow(recs)
	var r *bufio.Reader
	if in != nil {
		r = bufio.NewReader(in)
	} else {
		noPause = true
	}
	steps := []int{}
	for s := 1; s <= 7; s++ {
		if f.HasStep[s] {
			steps = append(steps, s)
		}
	}
	if len(steps) == 0 {
		fmt.Fprintln(w, "this run has no records of the seven steps of the Nginx flow")
		return nil
	}
	for i, s := range steps {
		st, _ := narrate.StepOf(lang, s)
		fmt.Fprintf(w, "\n══ %s ══  (t=%s)\n\n", narrate.StepHeading(lang, st), strings.TrimSuffix(fmtT(f.StepFirst[s]), ""))
		fmt.Fprintf(w, "%s:\n  %s\n\n", narrate.Word(lang, "classic"), st.Classic)
		fmt.Fprintf(w, "%s:\n  %s\n\n", narrate.Word(lang, "really"), st.Explain)
		fmt.Fprintf(w, "%s:\n", narrate.Word(lang, "records"))
		n := 0
		for _, rec := range f.Records {
			if rec.Step != s {
				continue
			}
			n++
			if n <= explainMaxRecords {
				fmt.Fprintf(w, "  %11s  %-32s %-18s %s\n", fmtT(rec.Time), rec.Component, rec.Action, rec.Object)
			}
		}
		if n > explainMaxRecords {
			fmt.Fprintf(w, "  "+narrate.Word(lang, "more")+"\n", n-explainMaxRecords)
		}
		keys := report.EtcdKeysAt(recs, f.StepEnd[s])
		fmt.Fprintf(w, "\n%s:\n", fmt.Sprintf(narrate.Word(lang, "keys"), len(keys)))
		for _, k := range keys {
			fmt.Fprintf(w, "  %s (rev %d)\n", k.Key, k.Revision)
		}
		fmt.Fprintf(w, "\n%s: %s\n", narrate.Word(lang, "look"), st.Watch)
		if i+1 < len(steps) && !noPause {
			fmt.Fprintf(w, "\n"+narrate.Word(lang, "press-enter"), steps[i+1])
			if _, err := r.ReadString('\n'); err != nil {
				fmt.Fprintln(w)
				noPause = true // no stdin, or its end: print the rest
			}
		}
	}
	return nil
}

func fmtT(t float64) string { return fmt.Sprintf("%.6fs", t) }
