package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// startExtender runs examples/extender/extender.py on a free port of 127.0.0.1
// and returns its URL; it is stopped when the test ends. It skips loudly without
// python3.
func startExtender(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		fmt.Fprintf(os.Stderr, "SKIPPING %s: python3 is not installed\n", t.Name())
		t.Skip("python3 is not installed")
	}
	script, _ := filepath.Abs(filepath.Join("..", "..", "examples", "extender", "extender.py"))
	cmd := exec.Command(py, script, "--port", "0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("extender did not start: %v", err)
	}
	url := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("unexpected first line %q", line)
	}
	return url
}

// TestCompareTraceWithGPUPolicies is the check in small: kubesim compare
// over a trace in the Alibaba GPU v2023 format (the fixtures of model/workload)
// with the default profile, fgd, gpu-packing and the Python extender, 3 seeds on
// 2 workers: a table with confidence intervals, the GPU research metrics for every
// policy, and the same compare.json when run again.
func TestCompareTraceWithGPUPolicies(t *testing.T) {
	url := startExtender(t)
	dir := t.TempDir()
	fixtures, _ := filepath.Abs(filepath.Join("..", "..", "model", "workload", "testdata"))
	sc := fmt.Sprintf("name: trace\nduration: 600s\ntrace:\n  format: alibaba-gpu-v2023\n  nodes: %s/alibaba_nodes.csv\n  pods: %s/alibaba_pods.csv\n", fixtures, fixtures)
	if err := os.WriteFile(filepath.Join(dir, "trace.yaml"), []byte(sc), 0o644); err != nil {
		t.Fatal(err)
	}
	policies := "default,fgd,gpu-packing," + url
	r := kubesim(t, dir, "compare", "trace.yaml", "--policies", policies, "--seeds", "3", "--parallel", "2", "--out", "a")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"95% confidence interval", "gpu_fragmentation_rate_mean", "cluster_gpu_allocated_mean", "stranded_cpu_mean", "scheduling_latency_seconds_p99", url} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
	var doc struct {
		Stats []metricStat `json:"stats"`
		Runs  []struct {
			Policy string             `json:"policy"`
			Values map[string]float64 `json:"values"`
		} `json:"runs"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "a", "compare.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Runs) != 12 {
		t.Fatalf("%d runs, want 4 policies × 3 seeds", len(doc.Runs))
	}
	for _, run := range doc.Runs {
		if run.Values["pods_bound_total"] != 6 {
			t.Errorf("%s: %v pods bound, want the trace's 6", run.Policy, run.Values["pods_bound_total"])
		}
		for _, k := range []string{"gpu_fragmented_gpus_mean", "gpu_fragmentation_rate_mean", "cluster_gpu_allocated_mean", "stranded_cpu_mean", "stranded_memory_mean", "preemptions"} {
			if _, ok := run.Values[k]; !ok {
				t.Errorf("%s: no %s", run.Policy, k)
			}
		}
	}
	ci := 0
	for _, s := range doc.Stats {
		if s.N != 3 || s.CILow > s.Mean || s.CIHigh < s.Mean {
			t.Errorf("stat %+v: want n 3 and low <= mean <= high", s)
		}
		if s.CIHigh > s.CILow {
			ci++
		}
	}
	if ci == 0 {
		t.Errorf("no metric varies across seeds: the intervals prove nothing")
	}
	// Again, on one worker: the same bytes.
	r = kubesim(t, dir, "compare", "trace.yaml", "--policies", policies, "--seeds", "3", "--parallel", "1", "--out", "b")
	if r.code != 0 {
		t.Fatalf("second run: exit %d: %s", r.code, r.stderr)
	}
	for _, f := range []string{"compare.json", "compare.csv"} {
		a, _ := os.ReadFile(filepath.Join(dir, "a", f))
		b, _ := os.ReadFile(filepath.Join(dir, "b", f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two identical comparisons", f)
		}
	}
}
