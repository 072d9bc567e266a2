package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/results"
	"github.com/kubesim/kubesim/results/narrate"
	"github.com/kubesim/kubesim/results/report"
)

func newReportCmd(v *viper.Viper, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report DIR",
		Short: "Write a self-contained HTML report of a run, compare, sweep or plan directory",
		Example: `  kubesim run nginx --out out && kubesim report out -o report.html
  kubesim report out -o report.html --plots figures --lang zh`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			outPath, _ := f.GetString("output")
			plots, _ := f.GetString("plots")
			langS, _ := f.GetString("lang")
			lang, err := narrate.ParseLang(langS)
			if err != nil {
				return badInput("--lang: %v", err)
			}
			if outPath == "" {
				return badInput("-o FILE is required (the HTML report to write)")
			}
			if err := checkWritableDir(filepath.Dir(outPath)); err != nil {
				return badInput("-o %s: %v", outPath, err)
			}
			if plots != "" {
				if st, err := os.Stat(plots); err == nil && !st.IsDir() {
					return badInput("--plots %s: exists and is not a directory", plots)
				}
			}
			in, err := report.Load(args[0])
			if err != nil {
				return &inputError{err}
			}
			charts := report.Charts(in)
			page, err := report.Render(in, charts, report.Options{Lang: lang})
			if err != nil {
				return err
			}
			if plots != "" {
				if err := report.WritePlots(plots, charts); err != nil {
					return fmt.Errorf("--plots %s: %w", plots, err)
				}
			}
			if err := results.WriteFileAtomic(outPath, func(w io.Writer) error { _, err := w.Write(page); return err }); err != nil {
				return fmt.Errorf("writing %s: %w", outPath, err)
			}
			fmt.Fprintf(stderr, "wrote %s (%s report, %d charts)\n", outPath, in.Kind, len(charts))
			return nil
		},
	}
	cmd.Flags().StringP("output", "o", "", "the HTML file to write")
	cmd.Flags().String("plots", "", "also write every chart as PNG and SVG into this directory")
	cmd.Flags().String("lang", "en", "language of the teaching timeline: en or zh")
	return cmd
}

// runWithTraceFormat runs a scenario like runScenario; with --trace-format mermaid
// the --trace-out file is a Mermaid sequence diagram of the Nginx flow instead of
// JSON Lines (the trace goes through a temporary file next to it, and the diagram is
// written atomically).
func runWithTraceFormat(v *viper.Viper, sc *scenario.Scenario, rs runSettings, stdout, stderr io.Writer) error {
	format := v.GetString("trace-format")
	switch format {
	case "", "jsonl":
		return runScenario(sc, rs, stdout, stderr)
	case "mermaid":
	default:
		return badInput("--trace-format %q: want jsonl or mermaid", format)
	}
	if rs.traceOut == "" {
		return badInput("--trace-format mermaid needs --trace-out FILE")
	}
	lang, err := narrate.ParseLang(v.GetString("lang"))
	if err != nil {
		return badInput("--lang: %v", err)
	}
	final := rs.traceOut
	tmp, err := os.CreateTemp(filepath.Dir(final), ".kubesim-trace-*.jsonl")
	if err != nil {
		return fmt.Errorf("--trace-out %s: %w", final, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	rs.traceOut = tmp.Name()
	runErr := runScenario(sc, rs, stdout, stderr)
	if _, ok := runErr.(*expectationError); runErr != nil && !ok {
		return runErr
	}
	b, err := os.ReadFile(tmp.Name())
	if err != nil {
		return err
	}
	recs, err := report.ReadTrace(tmp.Name(), bytes.NewReader(b))
	if err != nil {
		return err
	}
	if err := results.WriteFileAtomic(final, func(w io.Writer) error { return report.WriteMermaid(w, recs, lang) }); err != nil {
		return fmt.Errorf("writing %s: %w", final, err)
	}
	return runErr
}
