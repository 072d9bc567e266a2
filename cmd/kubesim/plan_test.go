package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type planDoc struct {
	Chosen *struct {
		Type  string `json:"type"`
		Count int    `json:"count"`
		Pass  bool   `json:"pass"`
	} `json:"chosen"`
	OneFewer *struct {
		Type     string `json:"type"`
		Count    int    `json:"count"`
		Pass     bool   `json:"pass"`
		Measures []struct {
			SLO  string `json:"slo"`
			Pass bool   `json:"pass"`
		} `json:"slos"`
	} `json:"one_fewer"`
	Candidates []struct {
		Type        string  `json:"type"`
		Count       int     `json:"count"`
		CostPerHour float64 `json:"cost_per_hour"`
		Pass        bool    `json:"pass"`
	} `json:"candidates"`
}

// TestPlanBuiltin is the acceptance check: on plan-web, plan returns the cheapest
// passing cluster (3 small nodes: 2 CPU each hold the six 500m replicas after one
// node is lost), one node fewer fails an SLO, and --parallel changes no byte.
func TestPlanBuiltin(t *testing.T) {
	dir := t.TempDir()
	r := kubesim(t, dir, "plan", "plan-web", "--replications", "2", "--parallel", "3", "--out", "a")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, s := range []string{"Chosen plan: 3 × small, 0.3 per hour", "One node fewer: 2 × small, 0.2 per hour: FAIL", "fails one-node-down:replicas_ready", "margin"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("output lacks %q:\n%s", s, r.stdout)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "a", "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc planDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Chosen == nil || doc.Chosen.Type != "small" || doc.Chosen.Count != 3 || !doc.Chosen.Pass {
		t.Fatalf("chosen %+v, want 3 × small", doc.Chosen)
	}
	if doc.OneFewer == nil || doc.OneFewer.Count != 2 || doc.OneFewer.Pass {
		t.Fatalf("one fewer %+v, want 2 × small failing", doc.OneFewer)
	}
	failed := 0
	for _, m := range doc.OneFewer.Measures {
		if !m.Pass {
			failed++
		}
	}
	if failed == 0 {
		t.Error("one node fewer fails no SLO")
	}
	// Cheapest: no passing candidate tried costs less than the chosen one.
	for _, c := range doc.Candidates {
		if c.Pass && c.CostPerHour < 0.3-1e-9 {
			t.Errorf("a cheaper candidate passed: %+v", c)
		}
	}
	// Deterministic and independent of --parallel.
	r = kubesim(t, dir, "plan", "plan-web", "--replications", "2", "--parallel", "1", "--out", "b")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, f := range []string{"plan.json", "plan.csv"} {
		x, _ := os.ReadFile(filepath.Join(dir, "a", f))
		y, _ := os.ReadFile(filepath.Join(dir, "b", f))
		if len(x) == 0 || string(x) != string(y) {
			t.Errorf("%s differs between --parallel 3 and 1", f)
		}
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "a", "plan.csv"))
	if !strings.HasPrefix(string(csv), "type,count,cost_per_hour,candidate_pass,chosen,slo,bound,value,worst_seed,slo_pass,margin\n") ||
		!strings.Contains(string(csv), "small,3,0.3,true,true,pod_startup_p99,5,") {
		t.Errorf("plan.csv:\n%s", csv)
	}
}

func TestPlanInputErrorsAndNoAnswer(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return name
	}
	bad := write("bad.yaml", "nodeTypes:\n  - {name: a, cpu: 1, memory: 1Gi, costPerHour: 1}\nslos:\n  podStartup: 5s\n")
	other := write("other.yaml", "nodeTypes:\n  - {name: g, cpu: 8, memory: 32Gi, costPerHour: 3}\n")
	web, _ := os.ReadFile(filepath.Join("..", "..", "scenarios", "plan-web.yaml"))
	pinned := write("pinned.yaml", strings.Replace(string(web), "      rate: 200\n", "      rate: 200\n      from: [small-1]\n", 1))
	tiny := write("tiny.yaml", "replications: 1\nnodeTypes:\n  - {name: tiny, cpu: 100m, memory: 256Mi, costPerHour: 0.01, maxCount: 2}\n")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no built-in plan", []string{"plan", "nginx", "--out", "o"}, 2, "scenario nginx has no built-in plan"},
		{"missing plan file", []string{"plan", "plan-web", "--plan", "nope.yaml", "--out", "o"}, 2, "plan file nope.yaml: no such file"},
		{"unknown field with line", []string{"plan", "plan-web", "--plan", bad, "--out", "o"}, 2, "bad.yaml:4: field podStartup not found"},
		{"bad replications", []string{"plan", "plan-web", "--replications", "-1", "--out", "o"}, 2, "--replications -1"},
		{"candidate rejected by the scenario schema", []string{"plan", pinned, "--plan", other, "--out", "o"}, 2, "pinned.yaml (plan candidate 1 × g)"},
		{"nothing passes", []string{"plan", "plan-web", "--plan", tiny, "--out", "t"}, 3, "no node type of the plan meets every SLO"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := kubesim(t, dir, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, tc.code, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "o")); err == nil {
		t.Error("an input error wrote output")
	}
	// With no answer, the candidates are still written and printed.
	if _, err := os.Stat(filepath.Join(dir, "t", "plan.json")); err != nil {
		t.Errorf("plan.json not written when nothing passes: %v", err)
	}
}
