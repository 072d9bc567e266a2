// Package plan is kubesim's capacity planner, without the running: the plan file
// (node types with an hourly cost, SLOs, replications), the candidate scenarios (a
// scenario whose cluster.nodes is replaced by count nodes of one type, with the
// named failure injected), the evaluation of the SLOs over replications and the
// search for the cheapest passing count per node type. It is pure and
// single-threaded: cmd/kubesim runs the candidates on a pool of workers and feeds
// the outcomes back (Searcher.Next / Searcher.Record), so the answer never depends
// on how many workers ran it.
package plan

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
)

// DefaultPodStartupP99 is Kubernetes' pod startup SLO: the 99th percentile of the
// time from a pod's creation to all its containers reported started, excluding
// image pulls, is at most 5 s (kubernetes/community
// sig-scalability/slos/pod_startup_latency.md). kubesim measures it as the
// pod_startup_slo_seconds summary metric.
const DefaultPodStartupP99 = 5 * time.Second

// Defaults of a node type's search range.
const (
	DefaultMinCount = 1
	DefaultMaxCount = 16
	// MaxCountLimit bounds maxCount, so a typo does not launch a huge search.
	MaxCountLimit = 10000
)

// Plan is a plan file: the node types to choose from, the SLOs every replication
// must meet, and the number of replications (seeds 1..Replications).
type Plan struct {
	Replications int        `yaml:"replications"`
	NodeTypes    []NodeType `yaml:"nodeTypes"`
	SLOs         SLOs       `yaml:"slos"`

	file string
}

// NodeType is a machine type a cluster can be made of. CPU, Memory are Kubernetes
// quantities ("2", "4Gi"), the node's allocatable resources; CostPerHour is the
// price of one node for one hour (any currency).
type NodeType struct {
	Name        string            `yaml:"name"`
	CPU         string            `yaml:"cpu"`
	Memory      string            `yaml:"memory"`
	Pods        *int64            `yaml:"pods"`
	GPUs        int64             `yaml:"gpus"`
	CostPerHour float64           `yaml:"costPerHour"`
	Zone        string            `yaml:"zone"`
	Zones       []string          `yaml:"zones"` // the candidate's nodes are spread over them round-robin
	Labels      map[string]string `yaml:"labels"`
	MinCount    int               `yaml:"minCount"` // search range (default 1..16)
	MaxCount    int               `yaml:"maxCount"`
}

// SLOs are the objectives. An absent field takes its default: no unschedulable
// pods at the end, pod startup p99 (excluding image pulls) at most 5 s, no request
// latency bound, no failure.
type SLOs struct {
	NoUnschedulablePods *bool    `yaml:"noUnschedulablePods"`
	PodStartupP99       string   `yaml:"podStartupP99"`     // a duration; "0s" disables it
	RequestLatencyP99   string   `yaml:"requestLatencyP99"` // a duration; absent = no bound
	Failure             *Failure `yaml:"failure"`
}

// Failure is the named failure the cluster must survive. Each replication runs the
// candidate a second time with the failure injected (one of its nodes crashes, or
// a zone goes down, at At, never repaired) and checks the failure SLOs there.
type Failure struct {
	Name string `yaml:"name"`
	Kind string `yaml:"kind"` // node-crash (default) or zone-outage
	At   string `yaml:"at"`   // virtual time of the injection (default 60s)
	// Nodes is how many nodes crash (node-crash; default 1): the first ones.
	Nodes int `yaml:"nodes"`
	// Zone is the zone that goes down (zone-outage; default the type's first zone).
	Zone string `yaml:"zone"`
	// RequestSuccessRate is the least fraction of requests answered in the failure run.
	RequestSuccessRate *float64 `yaml:"requestSuccessRate"`
	// ReplicasReady requires every Deployment's desired replicas ready at the end.
	ReplicasReady bool `yaml:"replicasReady"`
}

// Error is a problem in a plan file, naming the file, the line and the field.
type Error struct {
	File  string
	Line  int
	Field string
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
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

//go:embed builtin/*.yaml
var builtin embed.FS

// Builtin returns the built-in plan of a built-in scenario (without ".yaml").
func Builtin(scenarioName string) ([]byte, bool) {
	b, err := builtin.ReadFile("builtin/" + scenarioName + ".yaml")
	return b, err == nil
}

// BuiltinNames lists the scenarios that have a built-in plan, sorted.
func BuiltinNames() []string {
	ents, _ := builtin.ReadDir("builtin")
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

var yamlLineRe = regexp.MustCompile(`line (\d+): (.*)`)

// Parse decodes a plan file strictly (unknown fields are errors) and validates it;
// file names the source in errors.
func Parse(file string, data []byte) (*Plan, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlErr(file, err)
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, &Error{File: file, Msg: "the plan file is empty: it needs at least nodeTypes"}
	}
	lines := map[string]int{}
	indexLines(root.Content[0], "", lines)
	var p Plan
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, yamlErr(file, err)
	}
	p.file = file
	if err := p.validate(lines); err != nil {
		return nil, err
	}
	return &p, nil
}

func yamlErr(file string, err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: m[2]}
	}
	return &Error{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

func indexLines(n *yaml.Node, path string, out map[string]int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			out[p] = k.Line
			indexLines(v, p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			out[p] = c.Line
			indexLines(c, p, out)
		}
	}
}

var nameRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func (p *Plan) validate(lines map[string]int) error {
	errAt := func(field, format string, a ...any) error {
		line := 0
		for f := field; f != ""; {
			if l, ok := lines[f]; ok {
				line = l
				break
			}
			i := strings.LastIndexAny(f, ".[")
			if i < 0 {
				break
			}
			f = f[:i]
		}
		return &Error{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	if p.Replications < 0 || p.Replications > 10000 {
		return errAt("replications", "want 1..10000, got %d", p.Replications)
	}
	if len(p.NodeTypes) == 0 {
		return errAt("nodeTypes", "give at least one node type")
	}
	seen := map[string]bool{}
	for i := range p.NodeTypes {
		t := &p.NodeTypes[i]
		f := fmt.Sprintf("nodeTypes[%d]", i)
		if !nameRe.MatchString(t.Name) || len(t.Name) > 40 {
			return errAt(f+".name", "%q: want a lowercase DNS label (a-z, 0-9, '-'), at most 40 characters", t.Name)
		}
		if seen[t.Name] {
			return errAt(f+".name", "duplicate node type %q", t.Name)
		}
		seen[t.Name] = true
		for _, q := range []struct{ field, v string }{{"cpu", t.CPU}, {"memory", t.Memory}} {
			if q.v == "" {
				return errAt(f+"."+q.field, "required")
			}
			qq, err := resource.ParseQuantity(q.v)
			if err != nil || qq.Sign() <= 0 {
				return errAt(f+"."+q.field, "%q: want a positive quantity such as 4, 500m or 8Gi", q.v)
			}
		}
		if t.Pods != nil && *t.Pods < 1 {
			return errAt(f+".pods", "must be at least 1, got %d", *t.Pods)
		}
		if t.GPUs < 0 {
			return errAt(f+".gpus", "must not be negative, got %d", t.GPUs)
		}
		if t.CostPerHour <= 0 {
			return errAt(f+".costPerHour", "want a positive hourly cost, got %g", t.CostPerHour)
		}
		if t.Zone != "" && len(t.Zones) > 0 {
			return errAt(f+".zones", "give zone or zones, not both")
		}
		if t.MinCount == 0 {
			t.MinCount = DefaultMinCount
		}
		if t.MaxCount == 0 {
			t.MaxCount = max(DefaultMaxCount, t.MinCount)
		}
		if t.MinCount < 1 {
			return errAt(f+".minCount", "must be at least 1, got %d", t.MinCount)
		}
		if t.MaxCount < t.MinCount || t.MaxCount > MaxCountLimit {
			return errAt(f+".maxCount", "want %d..%d (at least minCount), got %d", t.MinCount, MaxCountLimit, t.MaxCount)
		}
	}
	if p.Replications == 0 {
		p.Replications = 1
	}
	s := &p.SLOs
	if s.PodStartupP99 != "" {
		if d, err := time.ParseDuration(s.PodStartupP99); err != nil || d < 0 {
			return errAt("slos.podStartupP99", "%q: want a duration such as 5s", s.PodStartupP99)
		}
	}
	if s.RequestLatencyP99 != "" {
		if d, err := time.ParseDuration(s.RequestLatencyP99); err != nil || d <= 0 {
			return errAt("slos.requestLatencyP99", "%q: want a positive duration such as 50ms", s.RequestLatencyP99)
		}
	}
	if fl := s.Failure; fl != nil {
		if fl.Name == "" {
			fl.Name = "failure"
		}
		if !nameRe.MatchString(fl.Name) {
			return errAt("slos.failure.name", "%q: want a lowercase name (a-z, 0-9, '-')", fl.Name)
		}
		switch fl.Kind {
		case "":
			fl.Kind = "node-crash"
		case "node-crash", "zone-outage":
		default:
			return errAt("slos.failure.kind", "unknown failure %q (known: node-crash, zone-outage)", fl.Kind)
		}
		if fl.At == "" {
			fl.At = "60s"
		}
		if d, err := time.ParseDuration(fl.At); err != nil || d < 0 {
			return errAt("slos.failure.at", "%q: want a duration such as 60s", fl.At)
		}
		if fl.Nodes < 0 {
			return errAt("slos.failure.nodes", "must not be negative, got %d", fl.Nodes)
		}
		if fl.Nodes == 0 {
			fl.Nodes = 1
		}
		if fl.Kind == "node-crash" && fl.Zone != "" {
			return errAt("slos.failure.zone", "only for kind zone-outage")
		}
		if fl.Kind == "zone-outage" {
			for i, t := range p.NodeTypes {
				if fl.Zone == "" && t.Zone == "" && len(t.Zones) == 0 {
					return errAt(fmt.Sprintf("nodeTypes[%d].zones", i), "a zone-outage failure needs zones on every node type (or slos.failure.zone)")
				}
			}
		}
		if r := fl.RequestSuccessRate; r != nil && (*r < 0 || *r > 1) {
			return errAt("slos.failure.requestSuccessRate", "want a fraction in [0, 1], got %g", *r)
		}
		if fl.RequestSuccessRate == nil && !fl.ReplicasReady {
			return errAt("slos.failure", "give requestSuccessRate and/or replicasReady: true")
		}
	}
	return nil
}

// Run names the two runs of a replication.
const (
	RunBaseline = "baseline"
	RunFailure  = "failure"
)

// SLO is one objective: a summary value of one run compared with a bound.
type SLO struct {
	Name  string  `json:"name"`
	Run   string  `json:"run"` // baseline or failure
	Key   string  `json:"key"` // summary key, or replicas_ready_fraction
	Upper bool    `json:"upper"`
	Bound float64 `json:"bound"`
	Unit  string  `json:"unit,omitempty"`
}

// KeyReplicasReadyFraction is replicas_ready / replicas_desired of a run (1 when
// nothing is desired).
const KeyReplicasReadyFraction = "replicas_ready_fraction"

// List returns the plan's SLOs, in a fixed order.
func (p *Plan) List() []SLO {
	var out []SLO
	s := p.SLOs
	if s.NoUnschedulablePods == nil || *s.NoUnschedulablePods {
		out = append(out, SLO{Name: "no_unschedulable_pods", Run: RunBaseline, Key: "pods_unscheduled", Upper: true, Bound: 0})
	}
	startup := DefaultPodStartupP99
	if s.PodStartupP99 != "" {
		startup, _ = time.ParseDuration(s.PodStartupP99)
	}
	if startup > 0 {
		out = append(out, SLO{Name: "pod_startup_p99", Run: RunBaseline, Key: "pod_startup_slo_seconds_p99", Upper: true, Bound: startup.Seconds(), Unit: "s"})
	}
	if s.RequestLatencyP99 != "" {
		d, _ := time.ParseDuration(s.RequestLatencyP99)
		out = append(out, SLO{Name: "request_latency_p99", Run: RunBaseline, Key: "request_latency_seconds_p99", Upper: true, Bound: d.Seconds(), Unit: "s"})
	}
	if f := s.Failure; f != nil {
		if f.RequestSuccessRate != nil {
			out = append(out, SLO{Name: f.Name + ":request_success_rate", Run: RunFailure, Key: "request_success_rate", Bound: *f.RequestSuccessRate})
		}
		if f.ReplicasReady {
			out = append(out, SLO{Name: f.Name + ":replicas_ready", Run: RunFailure, Key: KeyReplicasReadyFraction, Bound: 1})
		}
	}
	return out
}

// NeedsFailureRun reports whether the plan has failure SLOs (a second run per seed).
func (p *Plan) NeedsFailureRun() bool { return p.SLOs.Failure != nil }

// Replication is the numeric summaries of one seed's runs (Failure is nil without
// a failure).
type Replication struct {
	Seed     uint64
	Baseline map[string]float64
	Failure  map[string]float64
}

// Measure is one SLO over every replication: the worst measured value, the seed
// that gave it, and the margin (how far the worst value is inside the bound;
// negative when the SLO is violated).
type Measure struct {
	SLO       string   `json:"slo"`
	Bound     float64  `json:"bound"`
	Upper     bool     `json:"upper"`
	Value     *float64 `json:"value"` // nil when a replication did not measure it
	WorstSeed uint64   `json:"worst_seed"`
	Pass      bool     `json:"pass"`
	Margin    *float64 `json:"margin"`
	Failed    int      `json:"failed_replications"`
}

// value reads an SLO's value from one run.
func value(key string, m map[string]float64) (float64, bool) {
	if key == KeyReplicasReadyFraction {
		d, ok1 := m["replicas_desired"]
		r, ok2 := m["replicas_ready"]
		if !ok1 || !ok2 {
			return 0, false
		}
		if d == 0 {
			return 1, true
		}
		return r / d, true
	}
	v, ok := m[key]
	return v, ok
}

// Evaluate measures every SLO over the replications. An SLO passes when every
// replication measured it within its bound (a missing measurement fails).
func Evaluate(slos []SLO, reps []Replication) []Measure {
	out := make([]Measure, 0, len(slos))
	for _, s := range slos {
		m := Measure{SLO: s.Name, Bound: s.Bound, Upper: s.Upper, Pass: len(reps) > 0}
		var missingSeed uint64
		missing := false
		for _, r := range reps {
			run := r.Baseline
			if s.Run == RunFailure {
				run = r.Failure
			}
			v, ok := value(s.Key, run)
			if !ok {
				if !missing {
					missing, missingSeed = true, r.Seed
				}
				m.Pass = false
				m.Failed++
				continue
			}
			if (s.Upper && v > s.Bound) || (!s.Upper && v < s.Bound) {
				m.Pass = false
				m.Failed++
			}
			if m.Value == nil || (s.Upper && v > *m.Value) || (!s.Upper && v < *m.Value) {
				x := v
				m.Value, m.WorstSeed = &x, r.Seed
			}
		}
		if missing {
			m.Value, m.WorstSeed = nil, missingSeed
		}
		if m.Value != nil {
			mg := s.Bound - *m.Value
			if !s.Upper {
				mg = *m.Value - s.Bound
			}
			m.Margin = &mg
		}
		out = append(out, m)
	}
	return out
}

// AllPass reports whether every measure passes.
func AllPass(ms []Measure) bool {
	for _, m := range ms {
		if !m.Pass {
			return false
		}
	}
	return true
}
