// Package report turns a kubesim output directory (a run, a comparison, a sweep or a
// plan) into one self-contained HTML file with charts drawn by gonum.org/v1/plot as
// inline SVG and, for a run of the Nginx flow, an interactive timeline of the seven
// steps. The output bytes depend only on the input files.
package report

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
	"strings"
)

// Kind is the kind of directory a report is made of.
type Kind string

// The kinds of input directories, detected by the files they hold.
const (
	KindRun     Kind = "run"     // summary.json, timeseries.csv, trace.jsonl
	KindCompare Kind = "compare" // compare.json or compare.csv
	KindSweep   Kind = "sweep"   // sweep.json
	KindPlan    Kind = "plan"    // plan.json
)

// KV is one key of a JSON object, in file order.
type KV struct {
	Key   string
	Value any
}

// Point is one sample of a time series.
type Point struct{ T, V float64 }

// Input is what a report is drawn from.
type Input struct {
	Dir  string
	Kind Kind

	Summary    []KV               // run: summary.json in file order
	Series     map[string][]Point // run: timeseries.csv
	SeriesName []string           // in order of first appearance
	Trace      []Record           // run: trace.jsonl

	Stats []CompareStat // compare

	Doc any // sweep, plan: the JSON document, read generically (objects as []KV)
}

// CompareStat is one row of compare.csv / compare.json.
type CompareStat struct {
	Metric string  `json:"metric"`
	Policy string  `json:"policy"`
	N      int     `json:"n"`
	Mean   float64 `json:"mean"`
	CILow  float64 `json:"ci95_low"`
	CIHigh float64 `json:"ci95_high"`
	Best   bool    `json:"best"`
}

// Detect tells which kind of directory dir is, by the files present.
func Detect(dir string) (Kind, error) {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s: no such directory", dir)
		}
		return "", err
	}
	if !st.IsDir() {
		return "", fmt.Errorf("%s: not a directory (give the --out directory of a run, compare, sweep or plan)", dir)
	}
	has := func(n string) bool { _, err := os.Stat(filepath.Join(dir, n)); return err == nil }
	switch {
	case has("plan.json"):
		return KindPlan, nil
	case has("sweep.json"):
		return KindSweep, nil
	case has("compare.json") || has("compare.csv"):
		return KindCompare, nil
	case has("summary.json"):
		return KindRun, nil
	}
	return "", fmt.Errorf("%s: found none of summary.json (a run), compare.json or compare.csv (a comparison), sweep.json (a sweep), plan.json (a plan)", dir)
}

// Load reads dir. Errors name the file and, where they can, the line.
func Load(dir string) (*Input, error) {
	kind, err := Detect(dir)
	if err != nil {
		return nil, err
	}
	in := &Input{Dir: dir, Kind: kind, Series: map[string][]Point{}}
	p := func(n string) string { return filepath.Join(dir, n) }
	switch kind {
	case KindRun:
		doc, err := readJSON(p("summary.json"))
		if err != nil {
			return nil, err
		}
		obj, ok := doc.([]KV)
		if !ok {
			return nil, fmt.Errorf("%s: want a JSON object", p("summary.json"))
		}
		in.Summary = obj
		if b, err := os.ReadFile(p("timeseries.csv")); err == nil {
			if err := in.readSeries(p("timeseries.csv"), b); err != nil {
				return nil, err
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if fh, err := os.Open(p("trace.jsonl")); err == nil {
			in.Trace, err = ReadTrace(p("trace.jsonl"), fh)
			fh.Close()
			if err != nil {
				return nil, err
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	case KindCompare:
		if b, err := os.ReadFile(p("compare.json")); err == nil {
			var doc struct {
				Stats []CompareStat `json:"stats"`
			}
			if err := json.Unmarshal(b, &doc); err != nil {
				return nil, jsonErr(p("compare.json"), b, err)
			}
			in.Stats = doc.Stats
		} else {
			b, err := os.ReadFile(p("compare.csv"))
			if err != nil {
				return nil, err
			}
			if in.Stats, err = readCompareCSV(p("compare.csv"), b); err != nil {
				return nil, err
			}
		}
	case KindSweep, KindPlan:
		name := "sweep.json"
		if kind == KindPlan {
			name = "plan.json"
		}
		doc, err := readJSON(p(name))
		if err != nil {
			return nil, err
		}
		in.Doc = doc
	}
	return in, nil
}

func (in *Input) readSeries(name string, b []byte) error {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = 3
	line := 0
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		line++
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		if line == 1 && rec[0] == "time_s" {
			continue
		}
		t, err1 := strconv.ParseFloat(rec[0], 64)
		v, err2 := strconv.ParseFloat(rec[2], 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("%s:%d: want time_s,series,value with numbers, got %q", name, line, strings.Join(rec, ","))
		}
		if _, ok := in.Series[rec[1]]; !ok {
			in.SeriesName = append(in.SeriesName, rec[1])
		}
		in.Series[rec[1]] = append(in.Series[rec[1]], Point{t, v})
	}
}

func readCompareCSV(name string, b []byte) ([]CompareStat, error) {
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	var out []CompareStat
	for i, r := range rows {
		if i == 0 {
			continue
		}
		if len(r) < 7 {
			return nil, fmt.Errorf("%s:%d: want metric,policy,n,mean,ci95_low,ci95_high,best", name, i+1)
		}
		var s CompareStat
		s.Metric, s.Policy = r[0], r[1]
		s.N, _ = strconv.Atoi(r[2])
		s.Mean, _ = strconv.ParseFloat(r[3], 64)
		s.CILow, _ = strconv.ParseFloat(r[4], 64)
		s.CIHigh, _ = strconv.ParseFloat(r[5], 64)
		s.Best = r[6] == "true" || r[6] == "1" || r[6] == "*"
		out = append(out, s)
	}
	return out, nil
}

// readJSON decodes a JSON file keeping the order of object keys: objects become
// []KV, numbers float64.
func readJSON(name string) (any, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file", name)
		}
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeOrdered(dec)
	if err != nil {
		return nil, jsonErr(name, b, err)
	}
	return v, nil
}

func decodeOrdered(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			var obj []KV
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				obj = append(obj, KV{k, v})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			if obj == nil {
				obj = []KV{}
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return arr, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return nil, err
		}
		return f, nil
	default:
		return t, nil
	}
}

func jsonErr(name string, b []byte, err error) error {
	var se *json.SyntaxError
	off := int64(-1)
	if errors.As(err, &se) {
		off = se.Offset
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		off = te.Offset
	}
	if off >= 0 && off <= int64(len(b)) {
		line := 1 + bytes.Count(b[:off], []byte("\n"))
		return fmt.Errorf("%s:%d: %v", name, line, err)
	}
	return fmt.Errorf("%s: %v", name, err)
}

// Get returns a key of an ordered object.
func Get(obj []KV, key string) (any, bool) {
	for _, kv := range obj {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// Num returns a numeric key of the summary.
func (in *Input) Num(key string) (float64, bool) {
	v, ok := Get(in.Summary, key)
	if !ok {
		return 0, false
	}
	f, ok := v.(float64)
	return f, ok
}
