package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func summaryOf(t *testing.T, r result) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("summary: %v\nstdout %s\nstderr %s", err, r.stdout, r.stderr)
	}
	return m
}

// TestManifestsExample runs examples/manifests.yaml: Nodes, priority classes, a
// Deployment with a Service and a GPU Job, all from Kubernetes manifests.
func TestManifestsExample(t *testing.T) {
	root, _ := filepath.Abs("../..")
	r := kubesim(t, root, "run", "examples/manifests.yaml", "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	s := summaryOf(t, r)
	if s["nodes"].(float64) != 4 || s["replicas_ready"].(float64) != 3 || s["batch_pods_succeeded"].(float64) != 8 {
		t.Errorf("nodes %v replicas ready %v batch pods succeeded %v", s["nodes"], s["replicas_ready"], s["batch_pods_succeeded"])
	}
	// Two at a time, 5 minutes each: four waves.
	if ms := s["makespan_s"].(float64); ms < 1200 || ms > 1500 {
		t.Errorf("makespan %vs, want about 4 × 300 s", ms)
	}
	if !strings.Contains(r.stderr, "20-web.yaml:41: deployment/default/web: spec.template.spec.containers[0].env: ignored") {
		t.Errorf("warnings missing from stderr:\n%s", r.stderr)
	}
	again := kubesim(t, root, "run", "examples/manifests.yaml", "--format", "json")
	if again.stdout != r.stdout {
		t.Error("two runs with the same seed differ")
	}
}

// TestManifestsFlag adds manifests to a built-in scenario from the command line,
// and checks that bad ones fail with the file, line and field (exit 2).
func TestManifestsFlag(t *testing.T) {
	dir := t.TempDir()
	job := `apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  completions: 3
  parallelism: 3
  template:
    metadata:
      annotations: {kubesim.io/run-duration: 20s}
    spec:
      restartPolicy: Never
      containers:
        - name: pi
          image: perl:5.34
          resources:
            requests: {cpu: 100m, memory: 64Mi}
`
	if err := os.WriteFile(filepath.Join(dir, "job.yaml"), []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	r := kubesim(t, dir, "run", "nginx", "--manifests", "job.yaml", "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if s := summaryOf(t, r); s["batch_pods_succeeded"].(float64) != 3 || s["replicas_ready"].(float64) != 3 {
		t.Errorf("batch pods succeeded %v, replicas ready %v", s["batch_pods_succeeded"], s["replicas_ready"])
	}

	bad := strings.Replace(job, "cpu: 100m", "cpu: 5OOm", 1)
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	r = kubesim(t, dir, "run", "nginx", "--manifests", "bad.yaml")
	want := "bad.yaml:17: document 1 (Job pi): spec.template.spec.containers[0].resources.requests.cpu: \"5OOm\" is not a valid quantity"
	if r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr %q; want exit 2 and %q", r.code, r.stderr, want)
	}
	r = kubesim(t, dir, "run", "nginx", "--manifests", "job.yaml,job.yaml")
	if r.code != 2 || !strings.Contains(r.stderr, "job.yaml:1: document 1 (Job pi): job/default/pi is already defined at") {
		t.Errorf("duplicate: exit %d, stderr %q", r.code, r.stderr)
	}
	r = kubesim(t, dir, "run", "nginx", "--manifests", "missing.yaml")
	if r.code != 2 || !strings.Contains(r.stderr, "missing.yaml: no such file") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}
