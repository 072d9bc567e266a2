package sweep

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Segment is one step of a field path: a mapping key, or a list index when Key is "".
type Segment struct {
	Key   string
	Index int
}

// ParsePath splits a path such as cluster.nodes[0].count into segments.
func ParsePath(p string) ([]Segment, error) {
	if p == "" {
		return nil, fmt.Errorf("empty field path")
	}
	var out []Segment
	rest := p
	for rest != "" {
		i := strings.IndexAny(rest, ".[")
		name := rest
		if i >= 0 {
			name = rest[:i]
		}
		if name == "" && (len(out) == 0 || rest[0] == '.') {
			return nil, fmt.Errorf("malformed field path %q: want names separated by dots, with [i] list indexes, such as cluster.nodes[0].count", p)
		}
		for _, r := range name {
			if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return nil, fmt.Errorf("malformed field path %q: bad character %q", p, r)
			}
		}
		if name != "" {
			out = append(out, Segment{Key: name})
		}
		if i < 0 {
			break
		}
		rest = rest[i:]
		switch rest[0] {
		case '.':
			rest = rest[1:]
			if rest == "" {
				return nil, fmt.Errorf("malformed field path %q: ends with a dot", p)
			}
		case '[':
			j := strings.IndexByte(rest, ']')
			if j < 0 {
				return nil, fmt.Errorf("malformed field path %q: unclosed [", p)
			}
			n, err := strconv.Atoi(rest[1:j])
			if err != nil || n < 0 || rest[1] == '+' {
				return nil, fmt.Errorf("malformed field path %q: index %q is not a non-negative integer", p, rest[1:j])
			}
			out = append(out, Segment{Index: n})
			rest = rest[j+1:]
			if rest != "" && rest[0] != '.' && rest[0] != '[' {
				return nil, fmt.Errorf("malformed field path %q: want . or [ after ]", p)
			}
			if rest != "" && rest[0] == '.' {
				rest = rest[1:]
				if rest == "" || rest[0] == '.' || rest[0] == '[' {
					return nil, fmt.Errorf("malformed field path %q: want a name after the dot", p)
				}
			}
		}
	}
	return out, nil
}

// SetPath replaces the value at path in the document (a yaml.DocumentNode or its
// root mapping) with a copy of value. Missing mapping keys along the path are
// created (the scenario parser then rejects those that are not scenario fields); a
// list index must exist.
func SetPath(doc *yaml.Node, path string, value *yaml.Node) error {
	segs, err := ParsePath(path)
	if err != nil {
		return err
	}
	n := doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			n.Content = []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}
		}
		n = n.Content[0]
	}
	where := ""
	for i, s := range segs {
		last := i == len(segs)-1
		if s.Key != "" {
			if n.Kind != yaml.MappingNode {
				if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
					*n = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				} else {
					return fmt.Errorf("%s is not a mapping, so it has no field %q", orRoot(where), s.Key)
				}
			}
			var next *yaml.Node
			for j := 0; j+1 < len(n.Content); j += 2 {
				if n.Content[j].Value == s.Key {
					next = n.Content[j+1]
				}
			}
			if next == nil {
				next = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s.Key}, next)
			}
			if where == "" {
				where = s.Key
			} else {
				where += "." + s.Key
			}
			n = next
		} else {
			if n.Kind != yaml.SequenceNode {
				return fmt.Errorf("%s is not a list, so it has no index [%d]", orRoot(where), s.Index)
			}
			if s.Index >= len(n.Content) {
				return fmt.Errorf("%s has %d items, so it has no index [%d]", where, len(n.Content), s.Index)
			}
			where += fmt.Sprintf("[%d]", s.Index)
			n = n.Content[s.Index]
		}
		if last {
			*n = *deepCopy(value)
		}
	}
	return nil
}

func orRoot(w string) string {
	if w == "" {
		return "the scenario"
	}
	return w
}

func deepCopy(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, x := range n.Content {
		c.Content[i] = deepCopy(x)
	}
	// Keep the value's style but not the sweep file's positions or comments.
	c.Line, c.Column = 0, 0
	c.HeadComment, c.LineComment, c.FootComment = "", "", ""
	return &c
}

// ValueString renders a grid value for tables: a scalar as written, anything else
// as one-line YAML.
func ValueString(v *yaml.Node) string {
	if v.Kind == yaml.ScalarNode {
		return v.Value
	}
	c := deepCopy(v)
	setFlow(c)
	b, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Sprint(err)
	}
	return strings.TrimSpace(string(b))
}

func setFlow(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style |= yaml.FlowStyle
	}
	for _, c := range n.Content {
		setFlow(c)
	}
}

// Apply returns the scenario with each (path, value) pair set, re-encoded as YAML.
// The same base and values always give the same bytes.
func Apply(base []byte, params []Param, choice []int) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(base, &doc); err != nil {
		return nil, err
	}
	for i, p := range params {
		if err := SetPath(&doc, p.Path, p.Values[choice[i]]); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Point is one combination of parameter values: Choice[i] indexes Params[i].Values.
type Point struct {
	Choice []int
}

// Points returns the cross product of the parameters' values in grid order: the
// first parameter varies slowest, the last fastest. No parameter: one empty point.
func Points(params []Param) []Point {
	out := []Point{{Choice: []int{}}}
	for _, p := range params {
		var next []Point
		for _, pt := range out {
			for v := range p.Values {
				c := append(append([]int{}, pt.Choice...), v)
				next = append(next, Point{Choice: c})
			}
		}
		out = next
	}
	return out
}

// Run is one run of the sweep.
type Run struct {
	Index  int      // position in grid order
	Point  int      // index into Points
	Values []string // the parameters' values, as ValueString renders them
	Policy string
	Seed   uint64
	Hash   string
}

// Hash names a run by its full spec: the scenario bytes after substitution, the
// seed, the policy and the kubesim version (SHA-256, hex).
func Hash(scenario []byte, seed uint64, policy, version string) string {
	h := sha256.New()
	fmt.Fprintf(h, "kubesim-sweep-run/v1\nversion %q\npolicy %q\nseed %d\nscenario %d\n", version, policy, seed, len(scenario))
	h.Write(scenario)
	return hex.EncodeToString(h.Sum(nil))
}

// Runs lists every run in grid order: for each point (Points order), for each
// policy, for each seed. scenarios[i] is point i's scenario bytes.
func Runs(s *Spec, points []Point, scenarios [][]byte, version string) []Run {
	var out []Run
	for pi, pt := range points {
		vals := make([]string, len(s.Params))
		for i, p := range s.Params {
			vals[i] = ValueString(p.Values[pt.Choice[i]])
		}
		for _, pol := range s.Policies {
			for _, seed := range s.Seeds {
				out = append(out, Run{Index: len(out), Point: pi, Values: vals, Policy: pol, Seed: seed, Hash: Hash(scenarios[pi], seed, pol, version)})
			}
		}
	}
	return out
}

// ParseShard parses "i/N" (0 <= i < N).
func ParseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	if ok {
		i, err1 := strconv.Atoi(a)
		n, err2 := strconv.Atoi(b)
		if err1 == nil && err2 == nil && n >= 1 && i >= 0 && i < n {
			return i, n, nil
		}
	}
	return 0, 0, fmt.Errorf("want i/N with 0 <= i < N, such as 0/4, got %q", s)
}

// Shard returns the runs whose index mod n == i.
func Shard(runs []Run, i, n int) []Run {
	var out []Run
	for _, r := range runs {
		if r.Index%n == i {
			out = append(out, r)
		}
	}
	return out
}
