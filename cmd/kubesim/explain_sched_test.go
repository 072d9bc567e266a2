package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// packScenario: four equal nodes in one zone and a Deployment of four pods with
// large requests (1 CPU, 1 GiB) and no Service.
const packScenario = `name: pack
seed: 1
duration: 20s
cluster:
  nodes:
    - name: node
      count: 4
      cpu: "8"
      memory: 16Gi
      pods: 110
images:
  - name: app:1
    size: 10Mi
workload:
  deployments:
    - name: app
      at: 1s
      replicas: 4
      labels: {app: app}
      containers:
        - name: app
          image: app:1
          requests: {cpu: "1", memory: 1Gi}
`

// binPackingConfig is the MostAllocated example of the Kubernetes documentation
// (concepts/scheduling-eviction/resource-bin-packing, cpu and memory only), plus
// PodTopologySpread's and BalancedAllocation's scores disabled.
const binPackingConfig = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- plugins:
    score:
      disabled:
      - name: PodTopologySpread
      - name: NodeResourcesBalancedAllocation
  pluginConfig:
  - args:
      scoringStrategy:
        resources:
        - name: cpu
          weight: 1
        - name: memory
          weight: 1
        type: MostAllocated
    name: NodeResourcesFit
`

type decisionLine struct {
	Pod, Node, Outcome, Profile string
	Nodes                       []struct {
		Name   string
		Scores map[string]struct{ Raw, Normalized, Weighted int64 }
		Total  *int64
	}
}

func runExplain(t *testing.T, dir string, extra ...string) []decisionLine {
	t.Helper()
	sc := filepath.Join(dir, "pack.yaml")
	if err := os.WriteFile(sc, []byte(packScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "scheduling.jsonl")
	var stdout, stderr bytes.Buffer
	args := append([]string{"run", sc, "--format", "json", "--explain", out}, extra...)
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("run %v: exit %d: %s", args, code, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var ds []decisionLine
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var d decisionLine
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		ds = append(ds, d)
	}
	return ds
}

func nodesUsed(ds []decisionLine) map[string]int {
	used := map[string]int{}
	for _, d := range ds {
		if d.Outcome == "scheduled" {
			used[d.Node]++
		}
	}
	return used
}

// TestProfileFileChangesPlacement: with the default profile, kube-scheduler
// spreads the four pods over the four nodes (LeastAllocated favours the emptiest
// node, and the system default topology spread, maxSkew 3 per hostname, scores
// nodes with fewer pods of the ReplicaSet higher). With MostAllocated (and spread
// scoring off) it favours the fullest node that fits, so all four pods (4 CPU of
// 8) land on one node: bin packing, as the Kubernetes documentation describes.
func TestProfileFileChangesPlacement(t *testing.T) {
	dir := t.TempDir()
	def := nodesUsed(runExplain(t, dir))
	if len(def) != 4 {
		t.Errorf("default profile: pods on %d nodes (%v), want 4", len(def), def)
	}
	cfg := filepath.Join(dir, "binpack.yaml")
	if err := os.WriteFile(cfg, []byte(binPackingConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	ds := runExplain(t, dir, "--scheduler-config", cfg)
	packed := nodesUsed(ds)
	if len(packed) != 1 {
		t.Errorf("MostAllocated profile: pods on %d nodes (%v), want 1", len(packed), packed)
	}
	for _, d := range ds {
		for _, n := range d.Nodes {
			if _, ok := n.Scores["PodTopologySpread"]; ok {
				t.Fatalf("PodTopologySpread scored although its score is disabled: %+v", d)
			}
		}
	}
}

// TestExplainScoresMatchUpstream checks scheduling.jsonl against scores computed by
// hand with upstream's formulas (reference §2.6). The first pod (1 CPU, 1 GiB) on
// an empty node with 8 CPU and 16 GiB:
//   - LeastAllocated: cpu (8000−1000)·100/8000 = 87, memory (16−1)·100/16 = 93
//     (integer division), (87+93)/2 = 90;
//   - BalancedAllocation v1.35: fractions 1/8 = 0.125 and 1/16 = 0.0625, std =
//     |0.125−0.0625|/2 = 0.03125, int((1−0.03125)·100) = 96;
//   - TaintToleration: no taints, raw 0 normalized to 100 (weight 3 = 300).
//
// With MostAllocated: cpu 1000·100/8000 = 12, memory 1·100/16 = 6, (12+6)/2 = 9.
func TestExplainScoresMatchUpstream(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		args    []string
		fit     int64
		balance int64
	}{
		{"default", nil, 90, 96},
		{"most-allocated", []string{"--scheduler-config", "binpack.yaml"}, 9, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "binpack.yaml"), []byte(binPackingConfig), 0o644); err != nil {
				t.Fatal(err)
			}
			args := tc.args
			if len(args) > 0 {
				args = []string{args[0], filepath.Join(dir, args[1])}
			}
			ds := runExplain(t, dir, args...)
			d := ds[0]
			if d.Profile != "default-scheduler" || d.Outcome != "scheduled" || len(d.Nodes) != 4 {
				t.Fatalf("first decision = %+v", d)
			}
			for _, n := range d.Nodes {
				fit := n.Scores["NodeResourcesFit"]
				if fit.Raw != tc.fit || fit.Normalized != tc.fit || fit.Weighted != tc.fit {
					t.Errorf("%s NodeResourcesFit = %+v, want %d", n.Name, fit, tc.fit)
				}
				ba, ok := n.Scores["NodeResourcesBalancedAllocation"]
				if tc.balance >= 0 && (!ok || ba.Normalized != tc.balance) {
					t.Errorf("%s BalancedAllocation = %+v, want %d", n.Name, ba, tc.balance)
				}
				if tt := n.Scores["TaintToleration"]; tt.Raw != 0 || tt.Normalized != 100 || tt.Weighted != 300 {
					t.Errorf("%s TaintToleration = %+v, want raw 0, normalized 100, weighted 300", n.Name, tt)
				}
				var sum int64
				for _, s := range n.Scores {
					sum += s.Weighted
				}
				if n.Total == nil || *n.Total != sum {
					t.Errorf("%s total = %v, want the sum of weighted scores %d", n.Name, n.Total, sum)
				}
			}
		})
	}
}

func TestExplainDecisionCommand(t *testing.T) {
	dir := t.TempDir()
	ds := runExplain(t, dir)
	var stdout, stderr bytes.Buffer
	pod := ds[0].Pod
	if code := run([]string{"explain-decision", filepath.Join(dir, "scheduling.jsonl"), "--pod", pod[strings.LastIndex(pod, "/")+1:]}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{pod, "NodeResourcesFit(×1)", "90×1=90", "TaintToleration(×3)", "100×3=300", "*  " + ds[0].Node, "TOTAL"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	stdout.Reset()
	if code := run([]string{"explain-decision", filepath.Join(dir, "scheduling.jsonl"), "--pod", "nope"}, &stdout, &stderr); code == 0 {
		t.Errorf("unknown pod: exit 0")
	}
}

func TestComparePolicyFileErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- plugins:\n    score:\n      enabled:\n      - name: Coscheduling\n"), 0o644)
	var stdout, stderr bytes.Buffer
	code := run([]string{"compare", "nginx", "--policies", "default," + bad, "--seeds", "1", "--out", dir}, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), `bad.yaml:7: profiles[0].plugins.score.enabled[0]: plug-in "Coscheduling" is not supported`) {
		t.Errorf("exit %d, stderr %s", code, stderr.String())
	}
}
