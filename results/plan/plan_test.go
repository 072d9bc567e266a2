package plan

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const goodPlan = `replications: 2
nodeTypes:
  - {name: small, cpu: "2", memory: 4Gi, costPerHour: 0.1, zones: [a, b], maxCount: 8}
  - {name: big, cpu: "8", memory: 16Gi, pods: 50, costPerHour: 0.35, labels: {tier: big, arch: amd64}}
slos:
  requestLatencyP99: 50ms
  failure: {kind: node-crash, at: 30s, requestSuccessRate: 0.9, replicasReady: true}
`

func TestParseDefaultsAndList(t *testing.T) {
	p, err := Parse("p.yaml", []byte(goodPlan))
	if err != nil {
		t.Fatal(err)
	}
	if p.NodeTypes[0].MinCount != 1 || p.NodeTypes[0].MaxCount != 8 || p.NodeTypes[1].MaxCount != DefaultMaxCount {
		t.Errorf("count ranges: %+v", p.NodeTypes)
	}
	if p.SLOs.Failure.Name != "failure" || p.SLOs.Failure.Nodes != 1 {
		t.Errorf("failure defaults: %+v", p.SLOs.Failure)
	}
	var names []string
	for _, s := range p.List() {
		names = append(names, s.Name)
	}
	want := "no_unschedulable_pods,pod_startup_p99,request_latency_p99,failure:request_success_rate,failure:replicas_ready"
	if strings.Join(names, ",") != want {
		t.Errorf("SLOs %v, want %s", names, want)
	}
	if l := p.List(); l[1].Bound != 5 || l[2].Bound != 0.05 || l[3].Upper || !l[1].Upper {
		t.Errorf("bounds: %+v", l)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"empty", "", "p.yaml:0: the plan file is empty"},
		{"unknown field", "nodeTypes:\n  - {name: a, cpu: 1, memory: 1Gi, costPerHour: 1, price: 2}\n", "p.yaml:2: field price not found"},
		{"no node types", "replications: 2\n", "p.yaml:0: nodeTypes: give at least one node type"},
		{"bad cpu", "nodeTypes:\n  - name: a\n    cpu: abc\n    memory: 1Gi\n    costPerHour: 1\n", "p.yaml:3: nodeTypes[0].cpu: \"abc\": want a positive quantity"},
		{"no cost", "nodeTypes:\n  - {name: a, cpu: 1, memory: 1Gi}\n", "nodeTypes[0].costPerHour: want a positive hourly cost"},
		{"duplicate", "nodeTypes:\n  - {name: a, cpu: 1, memory: 1Gi, costPerHour: 1}\n  - {name: a, cpu: 2, memory: 1Gi, costPerHour: 1}\n", "p.yaml:3: nodeTypes[1].name: duplicate node type \"a\""},
		{"bad name", "nodeTypes:\n  - {name: A_b, cpu: 1, memory: 1Gi, costPerHour: 1}\n", "nodeTypes[0].name: \"A_b\": want a lowercase DNS label"},
		{"max below min", "nodeTypes:\n  - {name: a, cpu: 1, memory: 1Gi, costPerHour: 1, minCount: 4, maxCount: 2}\n", "nodeTypes[0].maxCount: want 4..10000"},
		{"bad latency", "nodeTypes:\n  - {name: a, cpu: 1, memory: 1Gi, costPerHour: 1}\nslos:\n  requestLatencyP99: fast\n", "p.yaml:4: slos.requestLatencyP99: \"fast\""},
		{"unknown failure", "nodeTypes:\n  - {name: a, cpu: 1, memory: 1Gi, costPerHour: 1}\nslos:\n  failure: {kind: meteor, replicasReady: true}\n", "slos.failure.kind: unknown failure \"meteor\" (known: node-crash, zone-outage)"},
		{"failure without objective", "nodeTypes:\n  - {name: a, cpu: 1, memory: 1Gi, costPerHour: 1}\nslos:\n  failure: {kind: node-crash}\n", "slos.failure: give requestSuccessRate and/or replicasReady"},
		{"zone outage without zones", "nodeTypes:\n  - {name: a, cpu: 1, memory: 1Gi, costPerHour: 1}\nslos:\n  failure: {kind: zone-outage, replicasReady: true}\n", "nodeTypes[0].zones: a zone-outage failure needs zones"},
		{"rate out of range", "nodeTypes:\n  - {name: a, cpu: 1, memory: 1Gi, costPerHour: 1}\nslos:\n  failure: {requestSuccessRate: 1.5}\n", "want a fraction in [0, 1], got 1.5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tc.doc))
			var pe *Error
			if err == nil || !errors.As(err, &pe) {
				t.Fatalf("got %v, want an *Error", err)
			}
			if !strings.Contains(strings.Replace(err.Error(), "p.yaml: ", "p.yaml:0: ", 1), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestBuiltinPlansParse(t *testing.T) {
	names := BuiltinNames()
	if len(names) == 0 {
		t.Fatal("no built-in plans")
	}
	for _, n := range names {
		b, _ := Builtin(n)
		if _, err := Parse(n, b); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
}

func f(v float64) *float64 { return &v }

func TestEvaluate(t *testing.T) {
	slos := []SLO{
		{Name: "lat", Run: RunBaseline, Key: "lat", Upper: true, Bound: 1},
		{Name: "rate", Run: RunFailure, Key: "rate", Bound: 0.9},
		{Name: "ready", Run: RunFailure, Key: KeyReplicasReadyFraction, Bound: 1},
	}
	cases := []struct {
		name      string
		reps      []Replication
		pass      []bool
		value     []*float64
		worstSeed []uint64
		margin    []*float64
	}{
		{"all pass, worst over seeds",
			[]Replication{
				{1, map[string]float64{"lat": 0.5}, map[string]float64{"rate": 0.95, "replicas_ready": 3, "replicas_desired": 3}},
				{2, map[string]float64{"lat": 0.75}, map[string]float64{"rate": 0.92, "replicas_ready": 3, "replicas_desired": 3}},
			},
			[]bool{true, true, true}, []*float64{f(0.75), f(0.92), f(1)}, []uint64{2, 2, 1}, []*float64{f(0.25), f(0.02), f(0)}},
		{"one seed fails each",
			[]Replication{
				{1, map[string]float64{"lat": 2}, map[string]float64{"rate": 0.95, "replicas_ready": 2, "replicas_desired": 4}},
				{2, map[string]float64{"lat": 0.5}, map[string]float64{"rate": 0.5, "replicas_ready": 4, "replicas_desired": 4}},
			},
			[]bool{false, false, false}, []*float64{f(2), f(0.5), f(0.5)}, []uint64{1, 2, 1}, []*float64{f(-1), f(-0.4), f(-0.5)}},
		{"missing measurement fails",
			[]Replication{
				{1, map[string]float64{"lat": 0.5}, map[string]float64{"replicas_ready": 0, "replicas_desired": 0}},
				{2, map[string]float64{}, map[string]float64{"rate": 1}},
			},
			[]bool{false, false, false}, []*float64{nil, nil, nil}, []uint64{2, 1, 2}, []*float64{nil, nil, nil}},
		{"no replications fail", nil, []bool{false, false, false}, []*float64{nil, nil, nil}, []uint64{0, 0, 0}, []*float64{nil, nil, nil}},
	}
	eq := func(a, b *float64) bool {
		if a == nil || b == nil {
			return a == b
		}
		d := *a - *b
		return d < 1e-12 && d > -1e-12
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ms := Evaluate(slos, tc.reps)
			for i, m := range ms {
				if m.Pass != tc.pass[i] || !eq(m.Value, tc.value[i]) || m.WorstSeed != tc.worstSeed[i] || !eq(m.Margin, tc.margin[i]) {
					t.Errorf("%s: got pass %v value %v seed %d margin %v; want %v %v %d %v", m.SLO, m.Pass, ptr(m.Value), m.WorstSeed, ptr(m.Margin),
						tc.pass[i], ptr(tc.value[i]), tc.worstSeed[i], ptr(tc.margin[i]))
				}
			}
			if AllPass(ms) != (tc.pass[0] && tc.pass[1] && tc.pass[2]) {
				t.Error("AllPass disagrees")
			}
		})
	}
}

func ptr(p *float64) any {
	if p == nil {
		return "nil"
	}
	return *p
}

func TestSearcher(t *testing.T) {
	cases := []struct {
		name        string
		min, max    int
		pass        func(n int) bool
		found       int
		nonMonotone bool
	}{
		{"threshold inside", 1, 16, func(n int) bool { return n >= 5 }, 5, false},
		{"threshold at min", 1, 16, func(n int) bool { return true }, 1, false},
		{"threshold at max", 1, 16, func(n int) bool { return n >= 16 }, 16, false},
		{"none passes", 1, 16, func(n int) bool { return false }, 0, false},
		{"min above one", 3, 9, func(n int) bool { return n >= 2 }, 3, false},
		{"single count", 4, 4, func(n int) bool { return n >= 4 }, 4, false},
		{"not monotone: bisection keeps a verified boundary", 1, 8, func(n int) bool { return n >= 4 || n == 2 }, 2, false},
		{"threshold 3 of 8", 1, 8, func(n int) bool { return n >= 3 }, 3, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSearcher(NodeType{Name: "x", MinCount: tc.min, MaxCount: tc.max})
			ran := map[int]bool{}
			for steps := 0; ; steps++ {
				n, ok := s.Next()
				if !ok {
					break
				}
				if steps > 64 || ran[n] {
					t.Fatalf("count %d asked twice (or too many steps)", n)
				}
				ran[n] = true
				s.Record(n, tc.pass(n))
			}
			if s.Found != tc.found {
				t.Fatalf("found %d, want %d (ran %v)", s.Found, tc.found, ran)
			}
			if s.Found > 0 {
				if !ran[s.Found] || !tc.pass(s.Found) {
					t.Errorf("the answer %d was not run and passed", s.Found)
				}
				if s.Found-1 >= tc.min && (!ran[s.Found-1] || tc.pass(s.Found-1)) {
					t.Errorf("count-1 = %d was not run and failed", s.Found-1)
				}
			}
		})
	}
}

func TestCheapest(t *testing.T) {
	a := NodeType{Name: "a", CostPerHour: 0.1}
	b := NodeType{Name: "b", CostPerHour: 0.3}
	c := NodeType{Name: "c", CostPerHour: 0.15}
	cases := []struct {
		name    string
		choices []Choice
		want    string
		count   int
	}{
		{"cheapest cost", []Choice{{a, 5}, {b, 1}, {c, 3}}, "c", 3},   // 0.5, 0.3, 0.45 -> b? no: b is 0.3
		{"tie goes to fewer nodes", []Choice{{a, 3}, {b, 1}}, "b", 1}, // 0.3 vs 0.3
		{"tie on count goes to plan order", []Choice{{a, 2}, {NodeType{Name: "d", CostPerHour: 0.1}, 2}}, "a", 2},
	}
	cases[0].want, cases[0].count = "b", 1
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Cheapest(tc.choices)
			if !ok || got.Type.Name != tc.want || got.Count != tc.count {
				t.Errorf("got %s×%d, want %s×%d", got.Type.Name, got.Count, tc.want, tc.count)
			}
		})
	}
	if _, ok := Cheapest(nil); ok {
		t.Error("no choice must give none")
	}
}

const scenarioDoc = `name: s
seed: 1
cluster:
  etcd: {members: 3}
  nodes:
    - {name: old, count: 5, cpu: "1", memory: 1Gi}
  nodeGroups:
    - {name: g, min: 0, max: 3, cpu: "1", memory: 1Gi, costPerHour: 1}
faults:
  - {name: existing, kind: container-crash, at: 10s, target: {pods: {app: web}}}
workload: {}
`

func TestCandidate(t *testing.T) {
	p, err := Parse("p.yaml", []byte(goodPlan))
	if err != nil {
		t.Fatal(err)
	}
	zp, err := Parse("z.yaml", []byte("nodeTypes:\n  - {name: z, cpu: 1, memory: 1Gi, costPerHour: 1, zones: [za, zb]}\nslos:\n  failure: {name: zone-down, kind: zone-outage, replicasReady: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	type sc struct {
		Cluster struct {
			Etcd       map[string]int   `yaml:"etcd"`
			Nodes      []map[string]any `yaml:"nodes"`
			NodeGroups []any            `yaml:"nodeGroups"`
		} `yaml:"cluster"`
		Faults []struct {
			Name   string         `yaml:"name"`
			Kind   string         `yaml:"kind"`
			At     string         `yaml:"at"`
			Target map[string]any `yaml:"target"`
		} `yaml:"faults"`
	}
	cases := []struct {
		name       string
		plan       *Plan
		typ        int
		count      int
		failure    bool
		wantNodes  string
		wantFaults int
		wantTarget string
	}{
		{"baseline", p, 0, 3, false, "map[count:3 cpu:2 memory:4Gi name:small zones:[a b]]", 1, ""},
		{"labels and pods", p, 1, 2, false, "map[count:2 cpu:8 labels:map[arch:amd64 tier:big] memory:16Gi name:big pods:50]", 1, ""},
		{"node crash on the first node", p, 0, 3, true, "map[count:3 cpu:2 memory:4Gi name:small zones:[a b]]", 2, "map[nodes:[small-1]]"},
		{"one node keeps its bare name", p, 0, 1, true, "map[count:1 cpu:2 memory:4Gi name:small zones:[a b]]", 2, "map[nodes:[small]]"},
		{"zone outage on the first zone", zp, 0, 2, true, "map[count:2 cpu:1 memory:1Gi name:z zones:[za zb]]", 2, "map[zone:za]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.plan.Candidate([]byte(scenarioDoc), tc.plan.NodeTypes[tc.typ], tc.count, tc.failure)
			if err != nil {
				t.Fatal(err)
			}
			var got sc
			if err := yaml.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Cluster.Nodes) != 1 || sprint(got.Cluster.Nodes[0]) != tc.wantNodes {
				t.Errorf("nodes %v, want [%s]", got.Cluster.Nodes, tc.wantNodes)
			}
			if got.Cluster.NodeGroups != nil || got.Cluster.Etcd["members"] != 3 {
				t.Errorf("nodeGroups must go, etcd stay: %+v", got.Cluster)
			}
			if len(got.Faults) != tc.wantFaults || got.Faults[0].Name != "existing" {
				t.Fatalf("faults %+v", got.Faults)
			}
			if tc.wantTarget != "" {
				f := got.Faults[1]
				if sprint(f.Target) != tc.wantTarget || !strings.HasPrefix(f.Name, "plan-") || f.At == "" {
					t.Errorf("fault %+v, want target %s", f, tc.wantTarget)
				}
			}
		})
	}
}

func sprint(v any) string { return strings.TrimSpace(strings.ReplaceAll(fmtAny(v), "  ", " ")) }

func fmtAny(v any) string { return fmt.Sprint(v) }
