package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Tried is one candidate that was run: a node type, a count and its SLO measures.
type Tried struct {
	Type        string    `json:"type"`
	Count       int       `json:"count"`
	CostPerHour float64   `json:"cost_per_hour"`
	Pass        bool      `json:"pass"`
	Measures    []Measure `json:"slos"`
}

// TypeResult is the outcome of one node type's search.
type TypeResult struct {
	Type        string   `json:"type"`
	MinCount    int      `json:"min_count"`
	MaxCount    int      `json:"max_count"`
	Count       int      `json:"count"` // least passing count; 0 when none in range
	CostPerHour *float64 `json:"cost_per_hour"`
	NonMonotone bool     `json:"non_monotone,omitempty"`
}

// Report is the plan's result: every candidate tried (in the order they were
// run), each type's answer, the chosen plan and the candidate one node smaller.
type Report struct {
	Scenario     string       `json:"scenario"`
	Plan         string       `json:"plan"`
	Replications int          `json:"replications"`
	Seeds        []uint64     `json:"seeds"`
	SLOs         []SLO        `json:"slos"`
	Tried        []Tried      `json:"candidates"`
	Types        []TypeResult `json:"types"`
	Chosen       *Tried       `json:"chosen"`
	OneFewer     *Tried       `json:"one_fewer"`
	Version      string       `json:"kubesim_version"`
}

// Find returns the tried candidate (typ, count).
func (r *Report) Find(typ string, count int) *Tried {
	for i := range r.Tried {
		if r.Tried[i].Type == typ && r.Tried[i].Count == count {
			return &r.Tried[i]
		}
	}
	return nil
}

// JSON is the report as indented JSON (fields in a fixed order).
func (r *Report) JSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func fnum(f float64) string { return strconv.FormatFloat(f, 'g', 8, 64) }

func optnum(f *float64) string {
	if f == nil {
		return ""
	}
	return fnum(*f)
}

// WriteCSV writes one row per (candidate, SLO):
// type,count,cost_per_hour,candidate_pass,chosen,slo,bound,value,worst_seed,slo_pass,margin.
// value and margin are empty when a replication did not measure the SLO.
func (r *Report) WriteCSV(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString("type,count,cost_per_hour,candidate_pass,chosen,slo,bound,value,worst_seed,slo_pass,margin\n")
	for _, t := range r.Tried {
		chosen := r.Chosen != nil && r.Chosen.Type == t.Type && r.Chosen.Count == t.Count
		for _, m := range t.Measures {
			fmt.Fprintf(&b, "%s,%d,%s,%t,%t,%s,%s,%s,%d,%t,%s\n", t.Type, t.Count, fnum(t.CostPerHour), t.Pass, chosen,
				m.SLO, fnum(m.Bound), optnum(m.Value), m.WorstSeed, m.Pass, optnum(m.Margin))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// cell renders a measure for people: "ok 0.79s" or "FAIL 2 (seed 1)".
func cell(m Measure, unit string) string {
	mark := "ok"
	if !m.Pass {
		mark = "FAIL"
	}
	if m.Value == nil {
		return mark + " n/a (seed " + strconv.FormatUint(m.WorstSeed, 10) + ")"
	}
	s := mark + " " + strconv.FormatFloat(*m.Value, 'g', 4, 64) + unit
	if !m.Pass {
		s += " (seed " + strconv.FormatUint(m.WorstSeed, 10) + ")"
	}
	return s
}

// WriteText prints the candidates tried (type, count, cost per hour, pass or fail
// per SLO with the worst measured value), each type's answer, the chosen plan with
// its margins, and the candidate one node smaller with the SLOs it fails.
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "kubesim plan  scenario %s  plan %s  %d replication(s) per candidate (seeds %s)\n\nSLOs (every replication must meet every one):\n",
		r.Scenario, r.Plan, r.Replications, seedRange(r.Seeds))
	for _, s := range r.SLOs {
		op := ">="
		if s.Upper {
			op = "<="
		}
		fmt.Fprintf(w, "  %-36s %s %s %s%s\n", s.Name, s.Key, op, fnum(s.Bound), s.Unit)
	}
	fmt.Fprintln(w, "\nCandidates tried (worst value over the replications):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	hdr := []string{"type", "count", "cost/h", "result"}
	for _, s := range r.SLOs {
		hdr = append(hdr, s.Name)
	}
	fmt.Fprintln(tw, strings.Join(hdr, "\t"))
	for _, t := range r.Tried {
		row := []string{t.Type, strconv.Itoa(t.Count), fnum(t.CostPerHour), passWord(t.Pass)}
		for i, m := range t.Measures {
			row = append(row, cell(m, r.SLOs[i].Unit))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nLeast passing count per node type:")
	for _, t := range r.Types {
		if t.Count == 0 {
			fmt.Fprintf(w, "  %-12s none in %d..%d\n", t.Type, t.MinCount, t.MaxCount)
			continue
		}
		note := ""
		if t.NonMonotone {
			note = "  (warning: a smaller count passed too; the SLOs were not monotone in the count)"
		}
		fmt.Fprintf(w, "  %-12s %d nodes  %s/h%s\n", t.Type, t.Count, fnum(*t.CostPerHour), note)
	}
	if r.Chosen == nil {
		fmt.Fprintln(w, "\nNo node type meets every SLO within its count range.")
		return nil
	}
	c := r.Chosen
	fmt.Fprintf(w, "\nChosen plan: %d × %s, %s per hour. Margins (how far the worst value is inside the bound):\n", c.Count, c.Type, fnum(c.CostPerHour))
	for i, m := range c.Measures {
		fmt.Fprintf(w, "  %-36s worst %s%s (seed %d), bound %s%s, margin %s%s\n", m.SLO, optnum(m.Value), r.SLOs[i].Unit, m.WorstSeed, fnum(m.Bound), r.SLOs[i].Unit, optnum(m.Margin), r.SLOs[i].Unit)
	}
	if o := r.OneFewer; o != nil {
		fmt.Fprintf(w, "\nOne node fewer: %d × %s, %s per hour: %s\n", o.Count, o.Type, fnum(o.CostPerHour), passWord(o.Pass))
		for i, m := range o.Measures {
			if !m.Pass {
				fmt.Fprintf(w, "  fails %-30s %s in %d of %d replication(s), bound %s%s\n", m.SLO, cell(m, r.SLOs[i].Unit), m.Failed, r.Replications, fnum(m.Bound), r.SLOs[i].Unit)
			}
		}
	} else {
		fmt.Fprintf(w, "\nOne node fewer: %d is the node type's minimum count.\n", c.Count)
	}
	return nil
}

func passWord(p bool) string {
	if p {
		return "pass"
	}
	return "FAIL"
}

func seedRange(seeds []uint64) string {
	if len(seeds) == 0 {
		return "-"
	}
	if len(seeds) == 1 {
		return strconv.FormatUint(seeds[0], 10)
	}
	return fmt.Sprintf("%d..%d", seeds[0], seeds[len(seeds)-1])
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
