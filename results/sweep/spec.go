// Package sweep holds the pure parts of `kubesim sweep`: the sweep file, the grid
// of runs (the cross product of parameter values, policies and seeds, in a fixed
// order), setting scenario fields by path, the hash that names each run's result
// file, sharding, and the tables (sweep.csv, sweep.json) built from result files.
// It runs nothing and starts no goroutine; cmd/kubesim drives the runs.
package sweep

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a problem in a sweep file (or a shard directory), with its line when known.
type Error struct {
	File  string
	Line  int    // 0 when unknown
	Field string // such as grid.cluster.nodes[0].count
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Param is one grid axis: a scenario field named by its path and the values it takes.
type Param struct {
	Path   string
	Line   int
	Values []*yaml.Node
}

// Spec is a parsed sweep file.
type Spec struct {
	File         string
	Scenario     string // built-in name or path relative to the sweep file
	ScenarioLine int
	Params       []Param // in file order
	Seeds        []uint64
	Policies     []string // "" when the file names none: the scenario's default
	PoliciesLine int
	Keys         []string // summary keys shown in sweep.csv
}

// DefaultKeys are sweep.csv's summary columns when the sweep file names none.
var DefaultKeys = []string{
	"pods_ready", "pods_unscheduled", "replicas_ready",
	"scheduling_latency_seconds_p99", "pod_startup_seconds_p99",
	"deployment_ready_seconds_max", "request_success_rate", "request_latency_seconds_p99",
	"nodes_in_use_final", "cluster_cost_total",
}

// MaxSeeds bounds `seeds: N`.
const MaxSeeds = 100000

// Parse decodes and checks a sweep file. Decoding is strict: an unknown field, a
// wrong type, an empty grid axis or a malformed path is an *Error naming the line.
func Parse(file string, data []byte) (*Spec, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Msg: "the file is empty: a sweep needs scenario, grid and seeds"}
		}
		return nil, &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: file, Line: extra.Line, Msg: "a sweep file holds one YAML document; found a second one"}
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil, &Error{File: file, Msg: "the file is empty: a sweep needs scenario, grid and seeds"}
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, &Error{File: file, Line: m.Line, Msg: "a sweep file is a mapping with scenario, grid, seeds, policies and keys"}
	}
	s := &Spec{File: file}
	errAt := func(n *yaml.Node, field, format string, a ...any) error {
		return &Error{File: file, Line: n.Line, Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if seen[k.Value] {
			return nil, errAt(k, k.Value, "given twice")
		}
		seen[k.Value] = true
		switch k.Value {
		case "scenario":
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" || v.Value == "" {
				return nil, errAt(v, "scenario", "want a built-in scenario name or a path to a scenario file")
			}
			s.Scenario, s.ScenarioLine = v.Value, v.Line
		case "grid":
			if v.Kind != yaml.MappingNode {
				return nil, errAt(v, "grid", "want a mapping from scenario field paths to lists of values")
			}
			paths := map[string]bool{}
			for j := 0; j+1 < len(v.Content); j += 2 {
				pk, pv := v.Content[j], v.Content[j+1]
				field := "grid." + pk.Value
				if _, err := ParsePath(pk.Value); err != nil {
					return nil, errAt(pk, field, "%v", err)
				}
				if paths[pk.Value] {
					return nil, errAt(pk, field, "given twice")
				}
				paths[pk.Value] = true
				if pv.Kind != yaml.SequenceNode || len(pv.Content) == 0 {
					return nil, errAt(pv, field, "want a non-empty list of values, such as [3, 5, 10]")
				}
				s.Params = append(s.Params, Param{Path: pk.Value, Line: pk.Line, Values: pv.Content})
			}
		case "seeds":
			seeds, err := parseSeeds(v)
			if err != nil {
				return nil, errAt(v, "seeds", "%v", err)
			}
			s.Seeds = seeds
		case "policies":
			list, err := stringList(v)
			if err != nil {
				return nil, errAt(v, "policies", "%v", err)
			}
			s.Policies, s.PoliciesLine = list, v.Line
		case "keys":
			list, err := stringList(v)
			if err != nil {
				return nil, errAt(v, "keys", "%v", err)
			}
			s.Keys = list
		default:
			return nil, errAt(k, k.Value, "unknown field (known: scenario, grid, seeds, policies, keys)")
		}
	}
	switch {
	case s.Scenario == "":
		return nil, &Error{File: file, Line: m.Line, Field: "scenario", Msg: "missing: name a built-in scenario or a scenario file"}
	case len(s.Seeds) == 0:
		return nil, &Error{File: file, Line: m.Line, Field: "seeds", Msg: "missing: a count (seeds: 10 means 1..10) or a list of seeds"}
	}
	if len(s.Policies) == 0 {
		s.Policies = []string{""}
	}
	if len(s.Keys) == 0 {
		s.Keys = DefaultKeys
	}
	return s, nil
}

func parseSeeds(v *yaml.Node) ([]uint64, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		n, err := strconv.Atoi(v.Value)
		if err != nil || v.Tag != "!!int" || n < 1 || n > MaxSeeds {
			return nil, fmt.Errorf("want a count 1..%d (seeds 1..N) or a list of seeds, got %q", MaxSeeds, v.Value)
		}
		out := make([]uint64, n)
		for i := range out {
			out[i] = uint64(i + 1)
		}
		return out, nil
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			return nil, fmt.Errorf("the list is empty")
		}
		seen := map[uint64]bool{}
		var out []uint64
		for _, c := range v.Content {
			n, err := strconv.ParseUint(c.Value, 10, 64)
			if err != nil || c.Kind != yaml.ScalarNode || c.Tag != "!!int" {
				return nil, fmt.Errorf("line %d: want a non-negative integer seed, got %q", c.Line, c.Value)
			}
			if seen[n] {
				return nil, fmt.Errorf("line %d: seed %d given twice", c.Line, n)
			}
			seen[n] = true
			out = append(out, n)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a count (seeds: 10) or a list of seeds")
}

func stringList(v *yaml.Node) ([]string, error) {
	if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
		return nil, fmt.Errorf("want a non-empty list of names")
	}
	seen := map[string]bool{}
	var out []string
	for _, c := range v.Content {
		if c.Kind != yaml.ScalarNode || c.Value == "" {
			return nil, fmt.Errorf("line %d: want a name", c.Line)
		}
		if seen[c.Value] {
			return nil, fmt.Errorf("line %d: %q given twice", c.Line, c.Value)
		}
		seen[c.Value] = true
		out = append(out, c.Value)
	}
	return out, nil
}
