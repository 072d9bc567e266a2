package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSyntheticBatchScenario: the built-in synthetic workload runs to completion,
// byte-identically for a seed, differently for another.
func TestSyntheticBatchScenario(t *testing.T) {
	dir := t.TempDir()
	a := kubesim(t, dir, "run", "synthetic-batch", "--format", "json", "--out", filepath.Join(dir, "a"))
	if a.code != 0 {
		t.Fatalf("exit %d\n%s", a.code, a.stderr)
	}
	s := summaryOf(t, a)
	if n := s["batch_pods_succeeded"].(float64); n < 800 || n > 1100 {
		t.Errorf("%v batch pods succeeded; about 960 arrive", n)
	}
	if s["cluster_gpu_allocated_max"].(float64) <= 0 {
		t.Error("no GPU share was ever allocated")
	}
	b := kubesim(t, dir, "run", "synthetic-batch", "--format", "json", "--out", filepath.Join(dir, "b"))
	if a.stdout != b.stdout || readFile(t, filepath.Join(dir, "a", "trace.jsonl")) != readFile(t, filepath.Join(dir, "b", "trace.jsonl")) {
		t.Error("two runs with the same seed differ")
	}
	c := kubesim(t, dir, "run", "synthetic-batch", "--format", "json", "--seed", "2")
	if c.stdout == a.stdout {
		t.Error("seed 2 gave the same summary as seed 1")
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
