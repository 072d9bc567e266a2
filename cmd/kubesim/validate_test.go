package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubesim/kubesim/results"
)

// fakeRealRun writes a real run's samples.json whose measurements are a simulated
// run's scaled by factor (no Docker needed): validate --real-from and calibrate
// work on it as on a real run's directory.
func fakeRealRun(t *testing.T, dir string, factor float64) string {
	t.Helper()
	// A simulated twin, through validate's own plumbing, then relabelled "real".
	sim, err := simulateForTest(factor)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "real")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := sim.MarshalJSON()
	if err := os.WriteFile(filepath.Join(out, results.SamplesFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

func simulateForTest(factor float64) (*results.RunSamples, error) {
	sc, err := loadScenario("nginx")
	if err != nil {
		return nil, err
	}
	cp, _, err := comparable{horizon: defaultRealHorizon, killAt: defaultKillAt}.prepare(sc)
	if err != nil {
		return nil, err
	}
	r, err := simulateComparable(cp, sc.Seed)
	if err != nil {
		return nil, err
	}
	s := r.samples
	s.Mode = "real"
	s.Notes = append(s.Notes, results.NoteImagePresent+"nginx:1.27")
	for k, v := range s.Samples {
		if strings.HasSuffix(k, "_seconds") {
			for i := range v {
				v[i] *= factor
			}
		}
	}
	return s, nil
}

// TestValidateAgainstStoredRun: the table has every metric, validation.json is
// written, identical runs pass (exit 0) and a real run twice as slow fails (exit 4).
func TestValidateAgainstStoredRun(t *testing.T) {
	dir := t.TempDir()
	if r := kubesim(t, dir, "validate", "nginx", "--real-from", "/nonexistent"); r.code != 2 || !strings.Contains(r.stderr, "--real-from") {
		t.Fatalf("validate with a missing real run: exit %d, %s", r.code, r.stderr)
	}
	same := fakeRealRun(t, filepath.Join(dir, "same"), 1)
	r := kubesim(t, dir, "validate", "nginx", "--real-from", same, "--out", "v1")
	if r.code != 0 {
		t.Fatalf("validate against an identical run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"step 1:", "step 7:", "pod startup latency", "time until all replicas are ready",
		"recovery after a container kill", "request latency p50", "request latency p99", "request errors",
		"validate injects one at 15s", "verdict: PASS"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	var v results.Validation
	b, err := os.ReadFile(filepath.Join(dir, "v1", "validation.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil || !v.Passed || len(v.Rows) != 13 {
		t.Fatalf("validation.json: %v passed=%v rows=%d", err, v.Passed, len(v.Rows))
	}
	for _, row := range v.Rows {
		if row.Verdict != "pass" {
			t.Errorf("%s: %s against an identical run", row.Key, row.Verdict)
		}
	}

	// Determinism: the same inputs give a byte-identical validation.json.
	if r := kubesim(t, dir, "validate", "nginx", "--real-from", same, "--out", "v1b"); r.code != 0 {
		t.Fatalf("second validate: exit %d", r.code)
	}
	b2, _ := os.ReadFile(filepath.Join(dir, "v1b", "validation.json"))
	if string(b) != string(b2) {
		t.Error("validation.json differs between two validations of the same runs")
	}
	s1, _ := os.ReadFile(filepath.Join(dir, "v1", "simulated", results.SamplesFile))
	s2, _ := os.ReadFile(filepath.Join(dir, "v1b", "simulated", results.SamplesFile))
	if len(s1) == 0 || string(s1) != string(s2) {
		t.Error("the simulated run's samples.json differs between two runs with one seed")
	}

	slow := fakeRealRun(t, filepath.Join(dir, "slow"), 3)
	r = kubesim(t, dir, "validate", "nginx", "--real-from", slow, "--out", "v2")
	if r.code != 4 || !strings.Contains(r.stdout, "verdict: FAIL") || !strings.Contains(r.stderr, "outside tolerance") {
		t.Fatalf("validate against a 3x slower run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// A generous tolerance file makes it pass.
	os.WriteFile(filepath.Join(dir, "tol.yaml"), []byte("default: {relative: 5}\n"), 0o644)
	if r = kubesim(t, dir, "validate", "nginx", "--real-from", slow, "--tolerance", "tol.yaml", "--out", "v3"); r.code != 0 {
		t.Fatalf("with relative tolerance 5: exit %d\n%s", r.code, r.stdout)
	}
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("metrics:\n  stepX: {relative: 1}\n"), 0o644)
	if r = kubesim(t, dir, "validate", "nginx", "--real-from", slow, "--tolerance", "bad.yaml"); r.code != 2 || !strings.Contains(r.stderr, "bad.yaml:2: metrics.stepX: unknown metric") {
		t.Fatalf("bad tolerance file: exit %d %s", r.code, r.stderr)
	}
}

// TestCalibrateStoredRun: calibrate fits the stored run's samples, writes a
// profile a scenario can include, and refuses simulated runs.
func TestCalibrateStoredRun(t *testing.T) {
	dir := t.TempDir()
	real := fakeRealRun(t, dir, 2)
	r := kubesim(t, dir, "calibrate", real, "--out", "cal.yaml")
	if r.code != 0 {
		t.Fatalf("calibrate: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"runtime.create", "runtime.start", "etcd.commit", "KS STATISTIC", "images already present on the nodes: nginx:1.27"} {
		if !strings.Contains(strings.ToUpper(r.stdout), strings.ToUpper(want)) {
			t.Errorf("calibrate output lacks %q:\n%s", want, r.stdout)
		}
	}
	prof, err := os.ReadFile(filepath.Join(dir, "cal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// A scenario including the profile runs, with the calibrated settings.
	sc, _ := os.ReadFile("../../scenarios/nginx.yaml")
	os.WriteFile(filepath.Join(dir, "nginx-cal.yaml"), append(sc, []byte("calibration: cal.yaml\n")...), 0o644)
	if r := kubesim(t, dir, "run", "nginx-cal.yaml", "--until", "20s"); r.code != 0 {
		t.Fatalf("run with calibration: exit %d\n%s", r.code, r.stderr)
	}
	os.WriteFile(filepath.Join(dir, "nginx-missing.yaml"), append(sc, []byte("calibration: nope.yaml\n")...), 0o644)
	if r := kubesim(t, dir, "run", "nginx-missing.yaml"); r.code != 2 || !strings.Contains(r.stderr, "nope.yaml: no such file") {
		t.Fatalf("missing profile: exit %d %s", r.code, r.stderr)
	}
	if !strings.Contains(string(prof), "kind: calibration") {
		t.Fatalf("profile:\n%s", prof)
	}
	// Simulated runs are refused.
	simDir := filepath.Join(dir, "simrun")
	os.MkdirAll(simDir, 0o755)
	b, _ := os.ReadFile(filepath.Join(real, results.SamplesFile))
	os.WriteFile(filepath.Join(simDir, results.SamplesFile), []byte(strings.Replace(string(b), `"mode":"real"`, `"mode":"simulated"`, 1)), 0o644)
	if r := kubesim(t, dir, "calibrate", simDir); r.code != 2 || !strings.Contains(r.stderr, "calibrate fits real runs only") {
		t.Fatalf("calibrate of a simulated run: exit %d %s", r.code, r.stderr)
	}
}

// TestRealRunBadInput: what a real run cannot do is refused before any container
// starts (no Docker needed), naming the fault or the flag.
func TestRealRunBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"real", "run", "etcd-leader-loss"}, `fault "leader-down" (kind etcd-leader-loss) cannot be injected in a real run (supported: container-crash, node-crash, zone-outage)`},
		{[]string{"real", "run", "nginx", "--image-map", "nginx:1.27"}, "--image-map \"nginx:1.27\": want SCENARIO_IMAGE=LOCAL_IMAGE"},
		{[]string{"real", "run", "nginx", "--duration", "0s"}, "--duration 0s: want a positive duration"},
		{[]string{"validate", "nginx", "--kill-at", "40s"}, "--kill-at 40s: want a time within the horizon"},
		{[]string{"validate", "nginx", "--rel-tol", "-1"}, "--rel-tol -1"},
	} {
		r := kubesim(t, dir, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

// TestSimulatedTwinKeepsModeledCapabilities: the timing decorator of the
// simulated twin keeps what the modeled runtime offers besides the port (an HPA
// needs its container statistics), so validate's simulated run is a full
// simulation, with the same outcome as kubesim run.
func TestSimulatedTwinKeepsModeledCapabilities(t *testing.T) {
	sc, err := loadScenario("autoscaling")
	if err != nil {
		t.Fatal(err)
	}
	r, err := simulateComparable(sc, sc.Seed)
	if err != nil {
		t.Fatalf("simulated twin of autoscaling: %v", err)
	}
	if len(r.samples.Samples[results.SampleRuntimeCreate]) == 0 || len(r.samples.Samples[results.SampleEtcdCommit]) == 0 {
		t.Error("the decorators measured no container create or etcd commit")
	}
	if v, ok := r.sum.Get("replicas_desired_max"); !ok || v.(float64) < 4 {
		t.Errorf("the HPA did not scale in the simulated twin: replicas_desired_max %v", v)
	}
}
