//go:build kubescheduler

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The kube-scheduler-v1.37 policy through the CLI (docs/kube-scheduler.md).

// compareTwice runs the comparison twice (two output directories) and requires
// byte-identical results: same seed, same placements, with both policies.
func compareTwice(t *testing.T, dir, scenario string, extra ...string) {
	t.Helper()
	for _, out := range []string{"a", "b"} {
		args := append([]string{"compare", scenario, "--policies", "default,kube-scheduler-v1.37", "--seeds", "2", "--out", out}, extra...)
		r := kubesim(t, dir, args...)
		if r.code != 0 {
			t.Fatalf("compare %s: exit %d: %s", scenario, r.code, r.stderr)
		}
		if csv, _ := os.ReadFile(filepath.Join(dir, out, "compare.csv")); !bytes.Contains(csv, []byte(",kube-scheduler-v1.37,")) {
			t.Fatalf("compare %s: compare.csv has no kube-scheduler-v1.37 rows:\n%s", scenario, csv)
		}
	}
	for _, f := range []string{"compare.csv", "compare.json"} {
		a, _ := os.ReadFile(filepath.Join(dir, "a", f))
		b, _ := os.ReadFile(filepath.Join(dir, "b", f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Fatalf("compare %s: %s differs between two runs with the same seeds (or is empty)", scenario, f)
		}
	}
}

func TestCompareKubeSchedulerBuiltin(t *testing.T) {
	compareTwice(t, t.TempDir(), "rolling-update")
}

func TestCompareKubeSchedulerAlibabaTrace(t *testing.T) {
	dir := t.TempDir()
	fixtures, _ := filepath.Abs(filepath.Join("..", "..", "model", "workload", "testdata"))
	sc := fmt.Sprintf("name: trace\nduration: 600s\ntrace:\n  format: alibaba-gpu-v2023\n  nodes: %s/alibaba_nodes.csv\n  pods: %s/alibaba_pods.csv\n", fixtures, fixtures)
	if err := os.WriteFile(filepath.Join(dir, "trace.yaml"), []byte(sc), 0o644); err != nil {
		t.Fatal(err)
	}
	compareTwice(t, dir, "trace.yaml")
	// Every pod of the trace is bound and finishes under the policy too.
	r := kubesim(t, dir, "run", "trace.yaml", "--policy", "kube-scheduler-v1.37", "--format", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"pods_bound_total": 6`) {
		t.Fatalf("run trace.yaml --policy kube-scheduler-v1.37: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestRunKubeSchedulerPolicy(t *testing.T) {
	dir := t.TempDir()
	var traces [2][]byte
	for i := range traces {
		out := fmt.Sprintf("t%d.jsonl", i)
		r := kubesim(t, dir, "run", "nginx", "--policy", "kube-scheduler-v1.37", "--trace-out", out)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		traces[i], _ = os.ReadFile(filepath.Join(dir, out))
	}
	if !bytes.Contains(traces[0], []byte("policy kube-scheduler-v1.37 chose")) {
		t.Fatalf("the trace shows no decision of the policy")
	}
	if !bytes.Equal(traces[0], traces[1]) {
		t.Fatalf("two runs with the same seed gave different traces")
	}
	// A configuration file, decoded by kube-scheduler's codec.
	os.WriteFile(filepath.Join(dir, "pack.yaml"), []byte("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: default-scheduler\n  pluginConfig:\n  - name: NodeResourcesFit\n    args:\n      scoringStrategy:\n        type: MostAllocated\n"), 0o644)
	if r := kubesim(t, dir, "run", "nginx", "--policy", "kube-scheduler-v1.37:pack.yaml"); r.code != 0 {
		t.Fatalf("with pack.yaml: exit %d: %s", r.code, r.stderr)
	}
	// Refusals and bad input: exit 2 with the reason.
	os.WriteFile(filepath.Join(dir, "permit.yaml"), []byte("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: default-scheduler\n  plugins:\n    permit:\n      enabled:\n      - name: GangScheduling\n"), 0o644)
	for _, tc := range []struct{ policy, want string }{
		{"kube-scheduler-v1.37:permit.yaml", "Permit waits are wall-clock timers"},
		{"kube-scheduler-v1.37:missing.yaml", "missing.yaml: no such file"},
		{"kube-scheduler-v1.99", "unknown policy"},
	} {
		r := kubesim(t, dir, "run", "nginx", "--policy", tc.policy)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("--policy %s: exit %d, stderr %q; want 2 and %q", tc.policy, r.code, r.stderr, tc.want)
		}
	}
}

func TestFidelityCommand(t *testing.T) {
	dir := t.TempDir()
	r := kubesim(t, dir, "fidelity", "nginx", "--json", "f.json")
	if r.code != 0 || !strings.Contains(r.stdout, "scores equal") || !strings.Contains(r.stdout, "(100.00%)") {
		t.Fatalf("fidelity nginx: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "f.json"))
	if err != nil || !bytes.Contains(b, []byte(`"scoreTotal"`)) {
		t.Fatalf("f.json: %v %s", err, b)
	}
	if r := kubesim(t, dir, "fidelity", "nginx", "--min-agreement", "101"); r.code != 2 {
		t.Fatalf("--min-agreement 101: exit %d, want 2", r.code)
	}
}
