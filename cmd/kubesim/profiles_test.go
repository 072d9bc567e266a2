package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sizesScenario: two small nodes (4 CPU, 8 GiB) and two big ones (32 CPU, 64 GiB),
// and Deployments of two 1 CPU / 1 GiB pods. Extra deployments are appended.
const sizesScenario = `name: sizes
seed: 1
duration: 20s
cluster:
  nodes:
    - name: small
      count: 2
      cpu: "4"
      memory: 8Gi
      pods: 110
    - name: big
      count: 2
      cpu: "32"
      memory: 64Gi
      pods: 110
images:
  - name: app:1
    size: 10Mi
workload:
  deployments:
`

func sizesDeployment(name, schedulerName string) string {
	s := "    - name: " + name + "\n      at: 1s\n      replicas: 2\n      labels: {app: " + name + "}\n"
	if schedulerName != "" {
		s += "      schedulerName: " + schedulerName + "\n"
	}
	return s + "      containers:\n        - name: app\n          image: app:1\n          requests: {cpu: \"1\", memory: 1Gi}\n"
}

// realMostAllocated is a scheduler configuration file as it is written for a real
// cluster (kubeadm-style clientConnection and leaderElection, which kubesim accepts
// and ignores; typed plug-in args with apiVersion and kind): the default profile
// with NodeResourcesFit's MostAllocated strategy, the Kubernetes documentation's
// bin-packing example (concepts/scheduling-eviction/resource-bin-packing).
const realMostAllocated = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: /etc/kubernetes/scheduler.conf
  qps: 50
  burst: 100
leaderElection:
  leaderElect: true
  resourceNamespace: kube-system
  resourceName: kube-scheduler
profiles:
  - schedulerName: default-scheduler
    pluginConfig:
      - name: NodeResourcesFit
        args:
          apiVersion: kubescheduler.config.k8s.io/v1
          kind: NodeResourcesFitArgs
          scoringStrategy:
            type: MostAllocated
            resources:
              - name: cpu
                weight: 1
              - name: memory
                weight: 1
`

func runSizes(t *testing.T, dir, scen string, extra ...string) ([]decisionLine, map[string]any) {
	t.Helper()
	sc := filepath.Join(dir, "sizes.yaml")
	if err := os.WriteFile(sc, []byte(scen), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "scheduling.jsonl")
	sum := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	args := append([]string{"run", sc, "--format", "json", "--explain", out, "--out", sum}, extra...)
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
	var summary map[string]any
	sb, err := os.ReadFile(filepath.Join(sum, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(sb, &summary); err != nil {
		t.Fatal(err)
	}
	return ds, summary
}

// placements maps each pod's name prefix (its Deployment) to the node pools its
// pods were bound to.
func placements(ds []decisionLine) map[string][]string {
	out := map[string][]string{}
	for _, d := range ds {
		if d.Outcome != "scheduled" {
			continue
		}
		name := d.Pod[strings.LastIndex(d.Pod, "/")+1:]
		dep := name[:strings.Index(name, "-")]
		pool := d.Node[:strings.Index(d.Node, "-")]
		out[dep] = append(out[dep], pool)
	}
	return out
}

// TestRealConfigMostAllocated: the real-cluster file above changes placements as
// kube-scheduler does. For a 1 CPU / 1 GiB pod (upstream formulas, integer
// arithmetic): LeastAllocated scores a small node (75+87)/2 = 81 and a big one
// (96+98)/2 = 97, so the default profile puts both pods on the big nodes.
// MostAllocated scores small (25+12)/2 = 18 and big (3+1)/2 = 2, which outweighs
// BalancedAllocation (93 small, 99 big): the first pod goes to a small node; the
// second to the other small node (the default topology spread, weight 2, scores
// the node that has a replica 66 against 100).
func TestRealConfigMostAllocated(t *testing.T) {
	dir := t.TempDir()
	scen := sizesScenario + sizesDeployment("app", "")
	ds, _ := runSizes(t, dir, scen)
	if got := placements(ds)["app"]; strings.Join(got, ",") != "big,big" {
		t.Errorf("default profile: pods on %v, want big,big", got)
	}
	cfg := filepath.Join(dir, "kube-scheduler-config.yaml")
	if err := os.WriteFile(cfg, []byte(realMostAllocated), 0o644); err != nil {
		t.Fatal(err)
	}
	ds, _ = runSizes(t, dir, scen, "--scheduler-config", cfg)
	if got := placements(ds)["app"]; strings.Join(got, ",") != "small,small" {
		t.Errorf("MostAllocated: pods on %v, want small,small", got)
	}
	for _, n := range ds[0].Nodes {
		want := int64(18)
		if strings.HasPrefix(n.Name, "big") {
			want = 2
		}
		if fit := n.Scores["NodeResourcesFit"]; fit.Raw != want || fit.Normalized != want {
			t.Errorf("first pod, %s: NodeResourcesFit %+v, want %d", n.Name, fit, want)
		}
	}
}

// twoProfilesConfig has the default profile and a bin-packing one.
const twoProfilesConfig = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
leaderElection:
  leaderElect: false
profiles:
  - schedulerName: default-scheduler
  - schedulerName: bin-packing-scheduler
    percentageOfNodesToScore: 100
    pluginConfig:
      - name: NodeResourcesFit
        args:
          scoringStrategy:
            type: MostAllocated
`

// TestTwoProfilesOneScenario: pods choose their profile by schedulerName in one
// run: web (default-scheduler) on the big nodes, batch (bin-packing-scheduler) on
// the small ones; pods naming a scheduler no profile has stay Pending, counted in
// the summary and explained in scheduling.jsonl.
func TestTwoProfilesOneScenario(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "profiles.yaml")
	if err := os.WriteFile(cfg, []byte(twoProfilesConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	scen := sizesScenario + sizesDeployment("web", "") + sizesDeployment("batch", "bin-packing-scheduler") + sizesDeployment("orphan", "gang-scheduler")
	ds, sum := runSizes(t, dir, scen, "--scheduler-config", cfg)
	pl := placements(ds)
	if got := strings.Join(pl["web"], ","); got != "big,big" {
		t.Errorf("web (default-scheduler) on %s, want big,big", got)
	}
	if got := strings.Join(pl["batch"], ","); got != "small,small" {
		t.Errorf("batch (bin-packing-scheduler) on %s, want small,small", got)
	}
	if len(pl["orphan"]) != 0 {
		t.Errorf("orphan pods scheduled: %v", pl["orphan"])
	}
	orphans := 0
	for _, d := range ds {
		name := d.Pod[strings.LastIndex(d.Pod, "/")+1:]
		want := map[string]string{"web": "default-scheduler", "batch": "bin-packing-scheduler", "orphan": "gang-scheduler"}[name[:strings.Index(name, "-")]]
		if d.Profile != want {
			t.Errorf("%s: profile %q, want %q", d.Pod, d.Profile, want)
		}
		if d.Outcome == "no-profile" {
			orphans++
		}
	}
	if orphans != 2 {
		t.Errorf("%d no-profile decisions, want 2", orphans)
	}
	if sum["pods_pending_no_scheduler_profile"] != 2.0 || sum["pods_unscheduled"] != 2.0 || sum["pods_bound"] != 4.0 {
		t.Errorf("summary: pending for no profile %v, unscheduled %v, bound %v; want 2, 2, 4",
			sum["pods_pending_no_scheduler_profile"], sum["pods_unscheduled"], sum["pods_bound"])
	}
	var orphan string
	for _, d := range ds {
		if d.Outcome == "no-profile" {
			orphan = strings.TrimPrefix(d.Pod, "pod/")
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"explain-decision", filepath.Join(dir, "scheduling.jsonl"), "--pod", orphan}, &stdout, &stderr); code != 0 {
		t.Fatalf("explain-decision: exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"profile gang-scheduler", "outcome no-profile", `spec.schedulerName "gang-scheduler" names no profile of this scheduler (profiles: bin-packing-scheduler, default-scheduler)`} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("explain-decision output lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestProfileFileErrors(t *testing.T) {
	head := "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"queue sort differs", head + "profiles:\n- schedulerName: a\n- schedulerName: b\n  plugins:\n    queueSort:\n      disabled:\n      - name: PrioritySort\n",
			`q.yaml:7: profiles[1].plugins.queueSort: Invalid value: []: has to match for all profiles`},
		{"duplicate name", head + "profiles:\n- schedulerName: a\n- schedulerName: a\n", `q.yaml:5: profiles[1].schedulerName: Duplicate value: "a"`},
		{"empty name", head + "profiles:\n- schedulerName: \"\"\n", `q.yaml:4: profiles[0].schedulerName: Required value`},
		{"profile percentage", head + "profiles:\n- schedulerName: a\n  percentageOfNodesToScore: 120\n", `profiles[0].percentageOfNodesToScore: Invalid value: 120: not in valid range [0-100]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f := filepath.Join(dir, "q.yaml")
			if err := os.WriteFile(f, []byte(tc.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := run([]string{"run", "nginx", "--scheduler-config", f, "--out", dir}, &stdout, &stderr)
			if code == 0 || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q, want it to contain %q", code, stderr.String(), tc.want)
			}
		})
	}
}
