package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// binary is the kubesim binary built once for the black-box tests.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "kubesim-cli-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "kubesim")
	if out, err := exec.Command("go", "build", "-tags", buildTags, "-o", binary, ".").CombinedOutput(); err != nil {
		panic("building kubesim: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// kubesim runs the binary in dir with args.
func kubesim(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KUBESIM_CONFIG=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

type traceLine struct {
	TimeS     float64 `json:"time_s"`
	Step      int     `json:"step"`
	Component string  `json:"component"`
	Action    string  `json:"action"`
	Object    string  `json:"object"`
	Detail    string  `json:"detail"`
}

func readTrace(t *testing.T, path string) []traceLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []traceLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l traceLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad JSONL line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

func readSummary(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	return m
}

// TestNginxRunEndToEnd is the acceptance check, as a test.
func TestNginxRunEndToEnd(t *testing.T) {
	dir := t.TempDir()
	args := []string{"run", "nginx", "--seed", "7", "--trace", "steps", "--trace-out", "t.jsonl", "--out", "out"}
	r := kubesim(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	for step := 1; step <= 7; step++ {
		if !strings.Contains(r.stdout, "[step "+string(rune('0'+step))+"]") {
			t.Errorf("narration lacks step %d", step)
		}
	}
	if !strings.Contains(r.stdout, "replicas ready / desired") {
		t.Error("no results table on stdout")
	}

	// The trace holds steps 1 to 7, their first records in step order, in time order.
	lines := readTrace(t, filepath.Join(dir, "t.jsonl"))
	first := map[int]int{}
	for i, l := range lines {
		if i > 0 && l.TimeS < lines[i-1].TimeS {
			t.Fatalf("time goes backwards at line %d", i+1)
		}
		if _, ok := first[l.Step]; !ok {
			first[l.Step] = i
		}
	}
	for step := 1; step <= 7; step++ {
		i, ok := first[step]
		if !ok {
			t.Fatalf("no record of step %d", step)
		}
		if step > 1 && i < first[step-1] {
			t.Errorf("the first record of step %d comes before the first of step %d", step, step-1)
		}
	}

	sum := readSummary(t, filepath.Join(dir, "out", "summary.json"))
	if sum["replicas_ready"] != 3.0 || sum["replicas_desired"] != 3.0 {
		t.Errorf("replicas %v / %v, want 3 / 3", sum["replicas_ready"], sum["replicas_desired"])
	}
	rate, ok := sum["request_success_rate"].(float64)
	if !ok || rate <= 0.9 || rate > 1 {
		t.Errorf("request_success_rate = %v", sum["request_success_rate"])
	}
	if sum["seed"] != 7.0 || sum["scenario"] != "nginx" || sum["kubesim_version"] == nil {
		t.Errorf("summary identity fields: seed=%v scenario=%v version=%v", sum["seed"], sum["scenario"], sum["kubesim_version"])
	}
	for _, f := range []string{"timeseries.csv", "trace.jsonl"} {
		if st, err := os.Stat(filepath.Join(dir, "out", f)); err != nil || st.Size() == 0 {
			t.Errorf("out/%s missing or empty", f)
		}
	}

	// The same command again: byte-identical files.
	dir2 := t.TempDir()
	if r2 := kubesim(t, dir2, args...); r2.code != 0 || r2.stdout != r.stdout {
		t.Fatalf("second run differs on stdout (exit %d)", r2.code)
	}
	for _, f := range []string{"t.jsonl", "out/summary.json", "out/timeseries.csv", "out/trace.jsonl"} {
		a, _ := os.ReadFile(filepath.Join(dir, f))
		b, _ := os.ReadFile(filepath.Join(dir2, f))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs with seed 7", f)
		}
	}

	// Seed 8 changes the timings.
	dir3 := t.TempDir()
	args[3] = "8"
	if r3 := kubesim(t, dir3, args...); r3.code != 0 {
		t.Fatalf("seed 8: exit %d: %s", r3.code, r3.stderr)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "t.jsonl"))
	b, _ := os.ReadFile(filepath.Join(dir3, "t.jsonl"))
	if bytes.Equal(a, b) {
		t.Error("seed 8 gave the same trace as seed 7")
	}
	s8 := readSummary(t, filepath.Join(dir3, "out", "summary.json"))
	if s8["pod_startup_seconds_p50"] == sum["pod_startup_seconds_p50"] && s8["step3_latency_p50_s"] == sum["step3_latency_p50_s"] {
		t.Error("seed 8 gave the same timings as seed 7")
	}
}

func TestBadInput(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("..", "..", "scenarios", "nginx.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) string {
		s := strings.Replace(string(good), old, new, 1)
		if s == string(good) {
			t.Fatalf("edit %q found nothing", old)
		}
		return s
	}
	tests := []struct {
		name     string
		file     string // scenario content; "" means the path does not exist
		args     []string
		wantMsgs []string
	}{
		{"unknown field", edit("      count: 3\n", "      count: 3\n      flavour: large\n"), nil,
			[]string{"bad.yaml:17:", `unknown field "flavour"`}},
		{"negative replicas", edit("replicas: 3", "replicas: -1"), nil,
			[]string{"bad.yaml:", "workload.deployments[0].replicas", "greater than or equal to 0"}},
		{"cpu abc", edit("cpu: 100m", "cpu: abc"), nil,
			[]string{"bad.yaml:", `"abc" is not a valid quantity`}},
		{"missing file", "", nil, []string{"no such file"}},
		{"bad trace flag", string(good), []string{"--trace", "loud"}, []string{"--trace", "off, steps or events"}},
		{"bad format flag", string(good), []string{"--format", "xml"}, []string{"--format"}},
		{"unknown flag", string(good), []string{"--speed", "9"}, []string{"unknown flag"}},
		{"bad until", string(good), []string{"--until", "soon"}, []string{"--until"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.file != "" {
				if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := append([]string{"run", "bad.yaml", "--trace-out", "t.jsonl", "--out", "out"}, tc.args...)
			r := kubesim(t, dir, args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\nstderr: %s", r.code, r.stderr)
			}
			for _, m := range tc.wantMsgs {
				if !strings.Contains(r.stderr, m) {
					t.Errorf("stderr %q lacks %q", r.stderr, m)
				}
			}
			for _, f := range []string{"t.jsonl", "out"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Errorf("%s was written despite the error", f)
				}
			}
		})
	}
}

func TestUnknownBuiltinAndScenariosList(t *testing.T) {
	dir := t.TempDir()
	r := kubesim(t, dir, "run", "nginxx")
	if r.code != 2 || !strings.Contains(r.stderr, "built-in: ") || !strings.Contains(r.stderr, "nginx") {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
	r = kubesim(t, dir, "scenarios")
	if r.code != 0 || !strings.Contains(r.stdout, "\nnginx ") {
		t.Fatalf("scenarios: exit %d stdout %q", r.code, r.stdout)
	}
	r = kubesim(t, dir, "run")
	if r.code != 2 {
		t.Fatalf("run without a scenario: exit %d", r.code)
	}
}

func TestEnvironmentAndConfigFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kubesim.yaml"), []byte("seed: 5\nformat: json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := kubesim(t, dir, "run", "nginx", "--until", "30s")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("config file format: json not honoured: %v", err)
	}
	if m["seed"] != 5.0 || m["end_time_s"] != 30.0 {
		t.Fatalf("seed %v end %v", m["seed"], m["end_time_s"])
	}
	cmd := exec.Command(binary, "run", "nginx", "--until", "30s")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KUBESIM_SEED=9", "KUBESIM_CONFIG=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &m); err != nil || m["seed"] != 9.0 {
		t.Fatalf("KUBESIM_SEED not honoured over the config file: seed %v (%v)", m["seed"], err)
	}
}

// TestGoldenSummary pins the nginx scenario's summary for seed 1. Regenerate with
// go test ./cmd/kubesim -run Golden -update, and explain the diff in the commit.
func TestGoldenSummary(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"run", "nginx", "--format", "json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	golden := filepath.Join("testdata", "nginx.summary.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("summary differs from %s; if the change is intended, rerun with -update and explain it in the commit.\n%s", golden, diffLines(string(want), out.String()))
	}
}

// TestDeterminismInProcess runs the scenario twice in this process (so -race covers
// the simulator) with every trace record and compares the bytes.
func TestDeterminismInProcess(t *testing.T) {
	runOnce := func(seed string) (string, string) {
		dir := t.TempDir()
		var out, errb bytes.Buffer
		code := run([]string{"run", "nginx", "--seed", seed, "--trace", "events", "--trace-out", filepath.Join(dir, "t.jsonl"), "--format", "json"}, &out, &errb)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		b, _ := os.ReadFile(filepath.Join(dir, "t.jsonl"))
		return string(b), out.String()
	}
	t1, s1 := runOnce("11")
	t2, s2 := runOnce("11")
	if t1 != t2 || s1 != s2 {
		t.Fatal("same seed, different output")
	}
	if len(t1) == 0 {
		t.Fatal("empty trace")
	}
	t3, _ := runOnce("12")
	if t3 == t1 {
		t.Fatal("seeds 11 and 12 gave the same trace")
	}
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out strings.Builder
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out.WriteString("- " + x + "\n+ " + y + "\n")
		}
	}
	return out.String()
}

// TestBuiltinScenariosMeetTheirExpectations runs every built-in scenario; each one's
// expect list states what the Kubernetes defaults predict (exit 3 if one fails).
func TestBuiltinScenariosMeetTheirExpectations(t *testing.T) {
	names := scenarioNames(t)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run([]string{"run", name, "--format", "json"}, &out, &errb)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, errb.String())
			}
		})
	}
}

func scenarioNames(t *testing.T) []string {
	t.Helper()
	var out bytes.Buffer
	if code := run([]string{"scenarios"}, &out, &out); code != 0 {
		t.Fatalf("scenarios: exit %d", code)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		names = append(names, strings.Fields(l)[0])
	}
	if len(names) < 3 {
		t.Fatalf("only %d built-in scenarios: %v", len(names), names)
	}
	return names
}

// TestRegressionScenarios runs every scenario under scenarios/regress/: each one
// reproduces a bug that was fixed, and its expectations fail if the bug returns.
func TestRegressionScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "scenarios", "regress", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no regression scenarios found (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run([]string{"run", f, "--format", "json"}, &out, &errb); code != 0 {
				t.Fatalf("exit %d\n%s", code, errb.String())
			}
		})
	}
}

func TestCompare(t *testing.T) {
	dir := t.TempDir()
	r := kubesim(t, dir, "compare", "rolling-update", "--policies", "default,first-fit", "--seeds", "3", "--parallel", "2", "--out", "a")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "95% confidence interval") || !strings.Contains(r.stdout, "node_cpu_allocated_max") {
		t.Fatalf("table:\n%s", r.stdout)
	}
	// The same comparison with one worker gives the same numbers.
	r = kubesim(t, dir, "compare", "rolling-update", "--policies", "default,first-fit", "--seeds", "3", "--parallel", "1", "--out", "b")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, f := range []string{"compare.csv", "compare.json"} {
		a, _ := os.ReadFile(filepath.Join(dir, "a", f))
		b, _ := os.ReadFile(filepath.Join(dir, "b", f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Fatalf("%s differs between --parallel 2 and 1 (or is empty)", f)
		}
	}
	// first-fit packs: its busiest node holds more than the default profile's, which
	// spreads (LeastAllocated and the system default topology spread).
	csv, _ := os.ReadFile(filepath.Join(dir, "a", "compare.csv"))
	var least, most float64
	for _, l := range strings.Split(string(csv), "\n") {
		f := strings.Split(l, ",")
		if len(f) > 3 && f[0] == "node_cpu_allocated_max" {
			v, _ := strconv.ParseFloat(f[3], 64)
			if f[1] == "default" {
				least = v
			} else {
				most = v
			}
		}
	}
	if !(most > least) {
		t.Fatalf("first-fit max node CPU %.3f not above default's %.3f", most, least)
	}
	r = kubesim(t, dir, "compare", "nginx", "--policies", "default,tetris-typo")
	if r.code != 2 || !strings.Contains(r.stderr, "unknown policy") {
		t.Fatalf("unknown policy: exit %d %s", r.code, r.stderr)
	}
}

// TestTraceScenario replays a small trace in the Alibaba GPU v2023 format (the
// fixtures of model/workload): every pod is created, bound and finishes.
func TestTraceScenario(t *testing.T) {
	dir := t.TempDir()
	fixtures, _ := filepath.Abs(filepath.Join("..", "..", "model", "workload", "testdata"))
	sc := fmt.Sprintf(`name: trace
duration: 600s
trace:
  format: alibaba-gpu-v2023
  nodes: %s/alibaba_nodes.csv
  pods: %s/alibaba_pods.csv
`, fixtures, fixtures)
	if err := os.WriteFile(filepath.Join(dir, "trace.yaml"), []byte(sc), 0o644); err != nil {
		t.Fatal(err)
	}
	r := kubesim(t, dir, "run", "trace.yaml", "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatal(err)
	}
	// pod-share (460 thousandths, BestEffort, priority 0) goes to node-v100, the
	// emptier node; pod-v100-only (a whole V100, LatencySensitive, priority 2000)
	// then finds that node's only GPU shared and preempts pod-share (the default
	// profile's GPUShare keeps a whole-GPU pod off a shared GPU), so five pod
	// objects remain and six were bound.
	if m["pods"] != 5.0 || m["pods_bound_total"] != 6.0 || m["preemptions"] != 1.0 || m["nodes"] != 3.0 {
		t.Fatalf("pods %v bound %v preemptions %v nodes %v; want 5 6 1 3", m["pods"], m["pods_bound_total"], m["preemptions"], m["nodes"])
	}
	if g, ok := m["cluster_gpu_allocated_max"].(float64); !ok || g > 1 {
		t.Fatalf("GPU over-allocated: cluster_gpu_allocated_max %v", g)
	}
	// A missing trace file is bad input naming the field.
	bad := strings.Replace(sc, "alibaba_pods.csv", "missing.csv", 1)
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o644)
	r = kubesim(t, dir, "run", "bad.yaml")
	if r.code != 2 || !strings.Contains(r.stderr, "trace.pods") {
		t.Fatalf("missing trace file: exit %d %s", r.code, r.stderr)
	}
}

// TestCompareWithPythonExtender: the example extender (Python's standard library)
// works as a policy of kubesim compare, named by its URL.
func TestCompareWithPythonExtender(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		fmt.Fprintln(os.Stderr, "SKIPPING TestCompareWithPythonExtender: python3 is not installed")
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
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("extender did not start: %v", err)
	}
	url := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("unexpected first line %q", line)
	}
	dir := t.TempDir()
	r := kubesim(t, dir, "compare", "rolling-update", "--policies", "first-fit,"+url, "--seeds", "2")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "compare.csv"))
	var inUse = map[string]string{}
	for _, l := range strings.Split(string(csv), "\n") {
		f := strings.Split(l, ",")
		if len(f) > 3 && f[0] == "nodes_in_use_final" {
			inUse[f[1]] = f[3]
		}
	}
	// first-fit packs every pod on one node; the extender prefers nodes with fewer pods.
	if inUse["first-fit"] != "1" || inUse[url] == "1" || inUse[url] == "" {
		t.Fatalf("nodes in use: %v", inUse)
	}
}
