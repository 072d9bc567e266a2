package sweep

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/kubesim/kubesim/results"
)

// Format names the layout of a sweep directory.
const Format = "kubesim-sweep/v1"

// Plan is a sweep's list of runs in grid order, written to DIR/plan.json before
// any run so that `kubesim merge` can order shard results without the sweep file.
type Plan struct {
	Format   string    `json:"format"`
	Version  string    `json:"kubesim_version"`
	Scenario string    `json:"scenario"`
	Params   []string  `json:"params"`
	Keys     []string  `json:"keys"`
	Runs     []PlanRun `json:"runs"`
}

// PlanRun is one run of a plan.
type PlanRun struct {
	Index  int      `json:"index"`
	Hash   string   `json:"hash"`
	Values []string `json:"values"`
	Policy string   `json:"policy"`
	Seed   uint64   `json:"seed"`
}

// NewPlan builds the plan of a sweep's runs (all of them, not one shard's).
func NewPlan(s *Spec, scenarioName, version string, runs []Run) *Plan {
	p := &Plan{Format: Format, Version: version, Scenario: scenarioName, Keys: s.Keys, Params: []string{}}
	for _, prm := range s.Params {
		p.Params = append(p.Params, prm.Path)
	}
	for _, r := range runs {
		p.Runs = append(p.Runs, PlanRun{Index: r.Index, Hash: r.Hash, Values: r.Values, Policy: r.Policy, Seed: r.Seed})
	}
	return p
}

// Marshal encodes the plan (deterministically: no maps).
func (p *Plan) Marshal() []byte {
	b, _ := json.MarshalIndent(p, "", "  ")
	return append(b, '\n')
}

// Files of a sweep directory.
const (
	PlanFile = "plan.json"
	RunsDir  = "runs"
	CSVFile  = "sweep.csv"
	JSONFile = "sweep.json"
)

// RunPath is where a run's result file lives in dir.
func RunPath(dir, hash string) string { return filepath.Join(dir, RunsDir, hash+".json") }

// ReadPlan reads DIR/plan.json.
func ReadPlan(dir string) (*Plan, error) {
	path := filepath.Join(dir, PlanFile)
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &Error{File: path, Msg: "no such file: not a sweep directory (kubesim sweep --out DIR writes it)"}
		}
		return nil, &Error{File: path, Msg: err.Error()}
	}
	var p Plan
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil || p.Format != Format {
		if err == nil {
			err = fmt.Errorf("format %q, want %q", p.Format, Format)
		}
		return nil, &Error{File: path, Msg: "not a sweep plan: " + err.Error()}
	}
	return &p, nil
}

// KV is one summary value as it appears in the result file.
type KV struct {
	Key   string
	Value json.RawMessage
}

// Result is a finished run read from its result file.
type Result struct {
	Hash    string
	Summary []KV // in the summary's order
}

// EncodeRunFile returns a run's result file: its hash, parameters, policy, seed and
// the flat summary (summaryJSON, as results.MarshalSummary writes it).
func EncodeRunFile(r Run, paths []string, summaryJSON []byte) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("{\n")
	fmt.Fprintf(&b, "  \"hash\": %s,\n", jstr(r.Hash))
	b.WriteString("  \"params\": {")
	for i, p := range paths {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %s", jstr(p), jstr(r.Values[i]))
	}
	b.WriteString("},\n")
	fmt.Fprintf(&b, "  \"policy\": %s,\n  \"seed\": %d,\n  \"summary\": ", jstr(r.Policy), r.Seed)
	var ind bytes.Buffer
	if err := json.Indent(&ind, bytes.TrimSpace(summaryJSON), "  ", "  "); err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	b.Write(ind.Bytes())
	b.WriteString("\n}\n")
	return b.Bytes(), nil
}

func jstr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// ReadRunFile reads a result file, keeping the summary's key order.
func ReadRunFile(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var top struct {
		Hash    string          `json:"hash"`
		Summary json.RawMessage `json:"summary"`
	}
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("%s: not a run result file: %v", path, err)
	}
	kvs, err := orderedObject(top.Summary)
	if err != nil {
		return nil, fmt.Errorf("%s: summary: %v", path, err)
	}
	return &Result{Hash: top.Hash, Summary: kvs}, nil
}

func orderedObject(raw json.RawMessage) ([]KV, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	t, err := dec.Token()
	if err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("want an object")
	}
	var out []KV
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		var c bytes.Buffer
		if err := json.Compact(&c, v); err != nil {
			return nil, err
		}
		out = append(out, KV{k, c.Bytes()})
	}
	return out, nil
}

// LoadResults reads, from each directory, the result files of the plan's runs.
// The same hash in several directories is the same run; if the files disagree the
// sweep was not deterministic and that is an error. Files of runs not in the plan
// (another sweep, an older kubesim) are ignored.
func LoadResults(p *Plan, dirs ...string) (map[string]*Result, error) {
	out := map[string]*Result{}
	for _, d := range dirs {
		for _, r := range p.Runs {
			path := RunPath(d, r.Hash)
			if _, err := os.Stat(path); err != nil {
				continue
			}
			res, err := ReadRunFile(path)
			if err != nil {
				return nil, err
			}
			if res.Hash != r.Hash {
				return nil, fmt.Errorf("%s: holds run %s, not %s", path, res.Hash, r.Hash)
			}
			if prev, ok := out[r.Hash]; ok {
				if !sameKVs(prev.Summary, res.Summary) {
					return nil, fmt.Errorf("%s: differs from another directory's result of the same run", path)
				}
				continue
			}
			out[r.Hash] = res
		}
	}
	return out, nil
}

func sameKVs(a, b []KV) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

// SamePlan reports whether two plans describe the same sweep.
func SamePlan(a, b *Plan) bool { return bytes.Equal(a.Marshal(), b.Marshal()) }

// cell renders a summary value for the CSV: strings unquoted, null as empty.
func cell(v json.RawMessage) string {
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	if v[0] == '"' {
		var s string
		_ = json.Unmarshal(v, &s)
		return s
	}
	return string(v)
}

// WriteTables writes DIR/sweep.csv and DIR/sweep.json, atomically, from the
// plan's runs that have a result, in grid order. It returns how many rows.
func WriteTables(dir string, p *Plan, res map[string]*Result) (int, error) {
	var rows []PlanRun
	for _, r := range p.Runs {
		if res[r.Hash] != nil {
			rows = append(rows, r)
		}
	}
	err := results.WriteFileAtomic(filepath.Join(dir, CSVFile), func(w io.Writer) error {
		var b bytes.Buffer
		cw := csv.NewWriter(&b)
		head := append([]string{"index"}, p.Params...)
		head = append(head, "policy", "seed")
		head = append(head, p.Keys...)
		head = append(head, "hash")
		_ = cw.Write(head)
		for _, r := range rows {
			rec := append([]string{strconv.Itoa(r.Index)}, r.Values...)
			rec = append(rec, r.Policy, strconv.FormatUint(r.Seed, 10))
			for _, k := range p.Keys {
				v := json.RawMessage(nil)
				for _, kv := range res[r.Hash].Summary {
					if kv.Key == k {
						v = kv.Value
						break
					}
				}
				rec = append(rec, cell(v))
			}
			rec = append(rec, r.Hash)
			_ = cw.Write(rec)
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		_, err := w.Write(b.Bytes())
		return err
	})
	if err != nil {
		return 0, err
	}
	err = results.WriteFileAtomic(filepath.Join(dir, JSONFile), func(w io.Writer) error {
		var b bytes.Buffer
		b.WriteString("{\n")
		fmt.Fprintf(&b, "  \"format\": %s,\n  \"kubesim_version\": %s,\n  \"scenario\": %s,\n", jstr(p.Format), jstr(p.Version), jstr(p.Scenario))
		pb, _ := json.Marshal(p.Params)
		kb, _ := json.Marshal(p.Keys)
		fmt.Fprintf(&b, "  \"params\": %s,\n  \"keys\": %s,\n  \"total_runs\": %d,\n  \"complete_runs\": %d,\n  \"runs\": [", pb, kb, len(p.Runs), len(rows))
		for i, r := range rows {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "\n    {\"index\": %d, \"hash\": %s, \"params\": {", r.Index, jstr(r.Hash))
			for j, path := range p.Params {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%s: %s", jstr(path), jstr(r.Values[j]))
			}
			fmt.Fprintf(&b, "}, \"policy\": %s, \"seed\": %d,\n     \"summary\": {", jstr(r.Policy), r.Seed)
			for j, kv := range res[r.Hash].Summary {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%s: %s", jstr(kv.Key), kv.Value)
			}
			b.WriteString("}}")
		}
		if len(rows) > 0 {
			b.WriteString("\n  ")
		}
		b.WriteString("]\n}\n")
		_, err := w.Write(b.Bytes())
		return err
	})
	return len(rows), err
}
