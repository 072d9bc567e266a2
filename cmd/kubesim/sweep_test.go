package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const sweepTestGrid = `# a small grid over the built-in nginx scenario
scenario: nginx
grid:
  cluster.nodes[0].count: [3, 4]
  workload.deployments[0].replicas: [2, 3]
seeds: 3
policies: [default, most-allocated]
`

func sweepWriteFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func sweepReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var sweepRunFileRe = regexp.MustCompile(`^[0-9a-f]{64}\.json$`)

// runFiles lists a sweep directory's complete result files (temporary files of a
// killed writer are hidden and excluded).
func sweepRunFiles(t *testing.T, dir string) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	entries, _ := os.ReadDir(filepath.Join(dir, "runs"))
	for _, e := range entries {
		if sweepRunFileRe.MatchString(e.Name()) {
			info, _ := e.Info()
			out[e.Name()] = info.ModTime()
		}
	}
	return out
}

var sweepCountsRe = regexp.MustCompile(`ran (\d+), skipped (\d+), failed (\d+)`)

func sweepCounts(t *testing.T, stdout string) (ran, skipped string) {
	t.Helper()
	m := sweepCountsRe.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no run counts in output:\n%s", stdout)
	}
	return m[1], m[2]
}

func TestSweepResumeShardsAndMerge(t *testing.T) {
	dir := t.TempDir()
	sweepWriteFile(t, filepath.Join(dir, "grid.yaml"), sweepTestGrid)

	r := kubesim(t, dir, "sweep", "grid.yaml", "--parallel", "3", "--out", "full")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if ran, skipped := sweepCounts(t, r.stdout); ran != "24" || skipped != "0" {
		t.Errorf("first sweep ran %s skipped %s, want 24 and 0", ran, skipped)
	}
	if n := len(sweepRunFiles(t, filepath.Join(dir, "full"))); n != 24 {
		t.Errorf("%d run files, want 24", n)
	}
	csv := sweepReadFile(t, filepath.Join(dir, "full", "sweep.csv"))
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	if len(lines) != 25 || !strings.HasPrefix(lines[0], "index,cluster.nodes[0].count,workload.deployments[0].replicas,policy,seed,pods_ready,") {
		t.Fatalf("sweep.csv: %d lines, header %q", len(lines), lines[0])
	}
	// Grid order: the first parameter slowest, then policies, seeds fastest.
	if !strings.HasPrefix(lines[1], "0,3,2,default,1,2,") || !strings.HasPrefix(lines[4], "3,3,2,most-allocated,1,") || !strings.HasPrefix(lines[24], "23,4,3,most-allocated,3,3,") {
		t.Errorf("rows out of grid order:\n%s\n%s\n%s", lines[1], lines[4], lines[24])
	}

	// Run again: everything is skipped, nothing is rewritten, the tables are the same.
	before := sweepRunFiles(t, filepath.Join(dir, "full"))
	r = kubesim(t, dir, "sweep", "grid.yaml", "--out", "full")
	if ran, skipped := sweepCounts(t, r.stdout); r.code != 0 || ran != "0" || skipped != "24" {
		t.Errorf("rerun: exit %d ran %s skipped %s", r.code, ran, skipped)
	}
	for name, mt := range sweepRunFiles(t, filepath.Join(dir, "full")) {
		if !before[name].Equal(mt) {
			t.Errorf("%s rewritten by the rerun", name)
		}
	}
	if !bytes.Equal(sweepReadFile(t, filepath.Join(dir, "full", "sweep.csv")), csv) {
		t.Error("sweep.csv changed on rerun")
	}

	// --parallel never changes a number.
	r = kubesim(t, dir, "sweep", "grid.yaml", "--parallel", "1", "--out", "serial")
	if r.code != 0 || !bytes.Equal(sweepReadFile(t, filepath.Join(dir, "serial", "sweep.json")), sweepReadFile(t, filepath.Join(dir, "full", "sweep.json"))) {
		t.Errorf("serial sweep differs (exit %d)", r.code)
	}

	// Two shards, merged, equal the unsharded sweep byte for byte.
	for i, d := range []string{"s0", "s1"} {
		r = kubesim(t, dir, "sweep", "grid.yaml", "--shard", []string{"0/2", "1/2"}[i], "--parallel", "2", "--out", d)
		if ran, _ := sweepCounts(t, r.stdout); r.code != 0 || ran != "12" {
			t.Fatalf("shard %d: exit %d ran %s: %s", i, r.code, ran, r.stderr)
		}
	}
	// A duplicate directory (shard 0 again) changes nothing.
	r = kubesim(t, dir, "merge", "s0", "s1", "s0", "--out", "merged")
	if r.code != 0 {
		t.Fatalf("merge: exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "24 runs of 24 (12 duplicate files)") {
		t.Errorf("merge output: %s", r.stdout)
	}
	for _, f := range []string{"sweep.csv", "sweep.json", "plan.json"} {
		if !bytes.Equal(sweepReadFile(t, filepath.Join(dir, "merged", f)), sweepReadFile(t, filepath.Join(dir, "full", f))) {
			t.Errorf("merged %s differs from the unsharded sweep's", f)
		}
	}
	if n := len(sweepRunFiles(t, filepath.Join(dir, "merged"))); n != 24 {
		t.Errorf("merged directory holds %d run files, want 24", n)
	}
	// One shard alone: a partial table and a warning.
	r = kubesim(t, dir, "merge", "s1", "--out", "half")
	if r.code != 0 || !strings.Contains(r.stderr, "12 runs of the sweep are in none") {
		t.Errorf("partial merge: exit %d, stderr %s", r.code, r.stderr)
	}
	// A directory of another sweep is refused.
	sweepWriteFile(t, filepath.Join(dir, "other.yaml"), "scenario: nginx\nseeds: 1\n")
	kubesim(t, dir, "sweep", "other.yaml", "--out", "other")
	r = kubesim(t, dir, "merge", "s0", "other", "--out", "bad")
	if r.code != 2 || !strings.Contains(r.stderr, "other: its plan.json is not the plan") {
		t.Errorf("mixing sweeps: exit %d, stderr %s", r.code, r.stderr)
	}
	r = kubesim(t, dir, "merge", "nowhere", "--out", "bad")
	if r.code != 2 || !strings.Contains(r.stderr, "plan.json: no such file") {
		t.Errorf("merging a missing dir: exit %d, stderr %s", r.code, r.stderr)
	}
}

// TestSweepInterrupted kills a sweep mid-way (SIGKILL, then SIGINT), reruns it and
// checks that no finished run is redone, none is lost or duplicated, and the final
// table equals an uninterrupted sweep's.
func TestSweepInterrupted(t *testing.T) {
	dir := t.TempDir()
	const total = 240
	sweepWriteFile(t, filepath.Join(dir, "long.yaml"), "scenario: nginx\ngrid:\n  cluster.nodes[0].count: [3, 4]\nseeds: 120\n")
	r := kubesim(t, dir, "sweep", "long.yaml", "--parallel", "2", "--out", "ref")
	if r.code != 0 {
		t.Fatalf("reference sweep: exit %d: %s", r.code, r.stderr)
	}

	interrupt := func(sig syscall.Signal, atLeast int) (exit int) {
		t.Helper()
		cmd := exec.Command(binary, "sweep", "long.yaml", "--parallel", "2", "--out", "out")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "KUBESIM_CONFIG=")
		start := len(sweepRunFiles(t, filepath.Join(dir, "out")))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for len(sweepRunFiles(t, filepath.Join(dir, "out"))) < start+atLeast && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		_ = cmd.Process.Signal(sig)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		return 0
	}
	checkComplete := func(stage string) map[string]time.Time {
		t.Helper()
		files := sweepRunFiles(t, filepath.Join(dir, "out"))
		for name := range files {
			b := sweepReadFile(t, filepath.Join(dir, "out", "runs", name))
			if !bytes.HasSuffix(b, []byte("}\n")) || !bytes.Contains(b, []byte(`"summary"`)) {
				t.Errorf("%s: %s is incomplete", stage, name)
			}
		}
		return files
	}

	interrupt(syscall.SIGKILL, 20)
	afterKill := checkComplete("after SIGKILL")
	if len(afterKill) == 0 || len(afterKill) >= total {
		t.Fatalf("after SIGKILL %d of %d runs finished; the test needs a sweep killed mid-way", len(afterKill), total)
	}

	code := interrupt(syscall.SIGINT, 20)
	afterInt := checkComplete("after SIGINT")
	if len(afterInt) < total && code != 1 {
		t.Errorf("interrupted sweep exited %d, want 1", code)
	}
	for name, mt := range afterKill {
		if !afterInt[name].Equal(mt) {
			t.Errorf("%s, finished before the SIGKILL, was redone", name)
		}
	}

	r = kubesim(t, dir, "sweep", "long.yaml", "--parallel", "2", "--out", "out")
	if r.code != 0 {
		t.Fatalf("resumed sweep: exit %d: %s", r.code, r.stderr)
	}
	ran, skipped := sweepCounts(t, r.stdout)
	if skipped != strconv.Itoa(len(afterInt)) || ran != strconv.Itoa(total-len(afterInt)) {
		t.Errorf("resume ran %s and skipped %s; %d were finished of %d", ran, skipped, len(afterInt), total)
	}
	final := sweepRunFiles(t, filepath.Join(dir, "out"))
	if len(final) != total {
		t.Errorf("%d run files after resuming, want %d", len(final), total)
	}
	for name, mt := range afterInt {
		if !final[name].Equal(mt) {
			t.Errorf("%s, finished before the SIGINT, was redone", name)
		}
	}
	for _, f := range []string{"sweep.csv", "sweep.json"} {
		if !bytes.Equal(sweepReadFile(t, filepath.Join(dir, "out", f)), sweepReadFile(t, filepath.Join(dir, "ref", f))) {
			t.Errorf("%s of the interrupted and resumed sweep differs from an uninterrupted sweep's", f)
		}
	}
}

func TestSweepBadInput(t *testing.T) {
	dir := t.TempDir()
	sweepWriteFile(t, filepath.Join(dir, "my.yaml"), string(sweepReadFile(t, "../../scenarios/nginx.yaml")))
	tests := []struct {
		name, sweep string
		args        []string
		want        string
	}{
		{"unknown path", "scenario: nginx\nseeds: 1\ngrid:\n  cluster.nodes[0].cuont: [3]\n", nil, `s.yaml:4: grid.cluster.nodes[0].cuont: value 3: cluster.nodes[0].cuont: unknown field "cuont"`},
		{"bad value", "scenario: nginx\nseeds: 1\ngrid:\n  workload.deployments[0].replicas:\n    - 3\n    - -1\n", nil, "s.yaml:6: grid.workload.deployments[0].replicas: value -1"},
		{"bad index", "scenario: nginx\nseeds: 1\ngrid:\n  cluster.nodes[2].count: [3]\n", nil, "cluster.nodes has 1 items"},
		{"unknown field", "scenario: nginx\nseeds: 1\nsed: 2\n", nil, "s.yaml:3: sed: unknown field"},
		{"unknown policy", "scenario: nginx\nseeds: 1\npolicies: [fastest]\n", nil, `s.yaml:3: policies: unknown policy "fastest"`},
		{"unknown scenario", "scenario: nginxx\nseeds: 1\n", nil, `s.yaml:1: scenario: no built-in scenario "nginxx"`},
		{"missing scenario file", "scenario: nope.yaml\nseeds: 1\n", nil, "s.yaml:1: scenario: scenario file nope.yaml: no such file"},
		{"bad shard", "scenario: nginx\nseeds: 1\n", []string{"--shard", "2/2"}, "--shard: want i/N"},
		{"bad parallel", "scenario: nginx\nseeds: 1\n", []string{"--parallel", "0"}, "--parallel 0"},
		{"scenario file ok but bad value", "scenario: my.yaml\nseeds: 1\ngrid:\n  cluster.proxy.mode: [iptables, fast]\n", nil, "s.yaml:4: grid.cluster.proxy.mode: value fast"},
	}
	for _, tt := range tests {
		sweepWriteFile(t, filepath.Join(dir, "s.yaml"), tt.sweep)
		r := kubesim(t, dir, append([]string{"sweep", "s.yaml", "--out", "out"}, tt.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%s: exit %d, stderr %q, want 2 and %q", tt.name, r.code, r.stderr, tt.want)
		}
		if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
			t.Errorf("%s: output written for bad input", tt.name)
		}
	}
	r := kubesim(t, dir, "sweep", "missing.yaml")
	if r.code != 2 || !strings.Contains(r.stderr, "sweep file missing.yaml: no such file") {
		t.Errorf("missing sweep file: exit %d, %s", r.code, r.stderr)
	}
}

func TestSweepEmitJob(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sc"), 0o755); err != nil {
		t.Fatal(err)
	}
	nginx := string(sweepReadFile(t, "../../scenarios/nginx.yaml"))
	sweepWriteFile(t, filepath.Join(dir, "sc", "web.yaml"), nginx)
	sweepWriteFile(t, filepath.Join(dir, "grid.yaml"), "scenario: sc/web.yaml\nseeds: 4\ngrid:\n  cluster.nodes[0].count: [3, 5]\n")
	r := kubesim(t, dir, "sweep", "grid.yaml", "--emit-job", "job.yaml", "--shards", "5", "--image", "example.org/kubesim:1")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "sweep-results")); err == nil {
		t.Error("--emit-job ran the sweep")
	}
	dec := yaml.NewDecoder(bytes.NewReader(sweepReadFile(t, filepath.Join(dir, "job.yaml"))))
	docs := map[string]map[string]any{}
	for {
		var d map[string]any
		if dec.Decode(&d) != nil {
			break
		}
		docs[d["kind"].(string)] = d
	}
	job := docs["Job"]
	if job == nil || job["apiVersion"] != "batch/v1" {
		t.Fatalf("no batch/v1 Job in the manifest: %v", docs)
	}
	spec := job["spec"].(map[string]any)
	if spec["completionMode"] != "Indexed" || spec["completions"] != 5 || spec["parallelism"] != 5 {
		t.Errorf("job spec: %v", spec)
	}
	c := spec["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	var args []string
	for _, a := range c["args"].([]any) {
		args = append(args, a.(string))
	}
	if strings.Join(args, " ") != "sweep /sweep/grid.yaml --shard $(JOB_COMPLETION_INDEX)/5 --out /results" || c["image"] != "example.org/kubesim:1" {
		t.Errorf("container: %v", c)
	}
	// The ConfigMap holds the sweep file, pointing at the scenario beside it; run from
	// those files, the sweep has the same run hashes as from the originals.
	data := docs["ConfigMap"]["data"].(map[string]any)
	if data["web.yaml"] != nginx {
		t.Errorf("ConfigMap lacks the scenario file: keys %v", data)
	}
	cm := filepath.Join(dir, "cm")
	_ = os.MkdirAll(cm, 0o755)
	for k, v := range data {
		sweepWriteFile(t, filepath.Join(cm, k), v.(string))
	}
	r1 := kubesim(t, dir, "sweep", "grid.yaml", "--shard", "1/5", "--out", "a")
	r2 := kubesim(t, dir, "sweep", "cm/grid.yaml", "--shard", "1/5", "--out", "b")
	if r1.code != 0 || r2.code != 0 {
		t.Fatalf("exits %d %d: %s %s", r1.code, r2.code, r1.stderr, r2.stderr)
	}
	if a, b := sweepRunFiles(t, filepath.Join(dir, "a")), sweepRunFiles(t, filepath.Join(dir, "b")); len(a) != 2 || len(b) != 2 {
		t.Errorf("shard 1/5 of 8 runs: %d and %d run files, want 2", len(a), len(b))
	} else {
		for k := range a {
			if _, ok := b[k]; !ok {
				t.Errorf("run %s has another hash when run from the ConfigMap's files", k)
			}
		}
	}
	if !bytes.Equal(sweepReadFile(t, filepath.Join(dir, "a", "sweep.csv")), sweepReadFile(t, filepath.Join(dir, "b", "sweep.csv"))) {
		t.Error("sweep.csv differs when run from the ConfigMap's files")
	}
}
