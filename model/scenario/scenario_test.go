package scenario

import (
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/scenarios"
)

const minimal = `name: t
cluster:
  nodes:
    - name: node
      count: 2
      cpu: "2"
      memory: 4Gi
workload:
  deployments:
    - name: web
      replicas: 2
      labels: {app: web}
      containers:
        - name: c
          image: nginx:1.27
          requests: {cpu: 100m, memory: 128Mi}
`

func TestBuiltInScenariosParse(t *testing.T) {
	names := scenarios.Names()
	if len(names) == 0 || names[0] == "" {
		t.Fatal("no built-in scenarios")
	}
	for _, n := range names {
		b, _ := scenarios.Get(n)
		sc, err := Parse(n+".yaml", b)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if sc.Name != n {
			t.Errorf("%s: name field is %q; built-in names must match their file", n, sc.Name)
		}
	}
}

func TestNginxScenarioMatchesTheIssue(t *testing.T) {
	b, ok := scenarios.Get("nginx")
	if !ok {
		t.Fatal("nginx scenario missing")
	}
	sc, err := Parse("nginx.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	if got := sc.NodeNames(); len(got) != 3 {
		t.Fatalf("nodes %v, want three workers", got)
	}
	d := sc.Workload.Deployments[0]
	c := d.Containers[0]
	if *d.Replicas != 3 || c.Image != "nginx:1.27" || c.Requests.CPU.Milli() != 100 || c.Requests.Memory.Value() != 128<<20 {
		t.Fatalf("deployment %+v", d)
	}
	if sv := sc.Workload.Services[0]; sv.Ports[0].Port != 80 {
		t.Fatalf("service %+v", sv)
	}
	tr := sc.Workload.Traffic[0]
	if tr.Rate != 100 || tr.Duration.D() != 60*time.Second {
		t.Fatalf("traffic %+v", tr)
	}
	if sc.Images[0].Size.Value() <= 0 {
		t.Fatal("nginx image has no size")
	}
}

func TestDefaultsAndNames(t *testing.T) {
	sc, err := Parse("t.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Duration.D() != DefaultDuration {
		t.Fatalf("duration %v", sc.Duration.D())
	}
	if got := strings.Join(sc.NodeNames(), ","); got != "node-1,node-2" {
		t.Fatalf("node names %s", got)
	}
	if sc.Workload.Deployments[0].Namespace != "default" {
		t.Fatal("namespace not defaulted")
	}
}

func TestDistributions(t *testing.T) {
	src := minimal + `
  services:
    - name: web
      selector: {app: web}
      ports: [{port: 80}]
  traffic:
    - service: web
      rate: 5
      duration: 10s
      networkLatency: {dist: lognormal, median: 200us, sigma: 0.2}
`
	sc, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := dist.LogNormal(200*time.Microsecond, 0.2)
	if got := sc.Workload.Traffic[0].NetworkLatency.Spec; got != want {
		t.Fatalf("got %+v want %+v", got, want)
	}
	if sc.Workload.Traffic[0].Port != 80 {
		t.Fatal("traffic port not defaulted from the service")
	}
}

// TestErrors checks that each bad input gives an error naming the line and the field.
func TestErrors(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(string) string
		line     int
		field    string
		contains string
	}{
		{"unknown field", func(s string) string {
			return strings.Replace(s, "      count: 2\n", "      count: 2\n      colour: blue\n", 1)
		},
			6, "cluster.nodes[0].colour", `unknown field "colour"`},
		{"negative replicas", func(s string) string { return strings.Replace(s, "replicas: 2", "replicas: -1", 1) },
			11, "workload.deployments[0].replicas", "greater than or equal to 0"},
		{"bad cpu", func(s string) string { return strings.Replace(s, "cpu: 100m", "cpu: abc", 1) },
			16, "workload.deployments[0].containers[0].requests", `"abc" is not a valid quantity`},
		{"bad duration", func(s string) string { return "duration: 10 minutes\n" + s },
			1, "duration", "is not a duration"},
		{"missing memory", func(s string) string { return strings.Replace(s, "      memory: 4Gi\n", "", 1) },
			4, "cluster.nodes[0].memory", "memory capacity is required"},
		{"wrong type", func(s string) string { return strings.Replace(s, "count: 2", "count: two", 1) },
			5, "cluster.nodes[0].count", "cannot unmarshal"},
		{"unknown distribution", func(s string) string {
			return strings.Replace(s, "cluster:\n", "cluster:\n  etcd:\n    fsync: {dist: weibull}\n", 1)
		}, 4, "cluster.etcd.fsync", `unknown distribution "weibull"`},
		{"bad yaml", func(s string) string { return s + "  - : :\n   bad" }, 0, "", ""},
		{"etcd members", func(s string) string {
			return strings.Replace(s, "cluster:\n", "cluster:\n  etcd:\n    members: 2\n", 1)
		},
			4, "cluster.etcd.members", "must be 1, 3 or 5"},
		{"runtime parallelism", func(s string) string {
			return strings.Replace(s, "cluster:\n", "cluster:\n  runtime:\n    parallelism: 0.5\n", 1)
		},
			4, "cluster.runtime.parallelism", "0.5: want 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.edit(minimal)))
			if err == nil {
				t.Fatal("no error")
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v is not a *scenario.Error", err, err)
			}
			if se.File != "bad.yaml" {
				t.Errorf("file %q", se.File)
			}
			if tc.line != 0 && se.Line != tc.line {
				t.Errorf("line %d, want %d (%v)", se.Line, tc.line, err)
			}
			if tc.field != "" && !strings.HasPrefix(se.Field, tc.field) {
				t.Errorf("field %q, want %q (%v)", se.Field, tc.field, err)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("message %q lacks %q", err.Error(), tc.contains)
			}
		})
	}
}

func TestEmptyFile(t *testing.T) {
	if _, err := Parse("e.yaml", nil); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("err = %v", err)
	}
}

func TestTrafficNeedsKnownServiceAndNodes(t *testing.T) {
	src := minimal + `
  traffic:
    - service: nope
      rate: 5
      duration: 10s
`
	_, err := Parse("t.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "workload.traffic[0].service") {
		t.Fatalf("err = %v", err)
	}
}

func TestCalibrationProfile(t *testing.T) {
	b := []byte(`# comment
kind: calibration
sources: ["runs/a"]
imagesPresent: ["nginx:1.27"]
latencies:
  runtime.create: {dist: lognormal, median: 41ms, sigma: 0.2, n: 3, ks: 0.1}
  etcd.commit: {dist: lognormal, median: 3ms, sigma: 0.5, n: 40, ks: 0.05}
  readiness: {dist: lognormal, median: 60ms, sigma: 0.1, n: 3, ks: 0.2}
`)
	p, err := ParseCalibration("cal.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	sc := mustParse(t, minimalScenarioWithServe)
	changed := sc.ApplyCalibration(p)
	if len(changed) != 4 {
		t.Errorf("changed %v", changed)
	}
	if sc.Cluster.Runtime.Create.Spec.Median != 41*time.Millisecond || sc.Cluster.Etcd.Fsync.Spec.Median != fsyncMedianForCommit(3*time.Millisecond, 0.5, 3) || sc.Cluster.Etcd.Fsync.Spec.Median >= 3*time.Millisecond ||
		sc.Cluster.Etcd.RTT.Spec.Kind != "const" || sc.Images[0].Serve.ReadyAfter.Spec.Median != 60*time.Millisecond {
		t.Errorf("not applied: %+v", sc.Cluster)
	}
	if got := sc.Cluster.Nodes[0].Images; len(got) != 1 || got[0] != "nginx:1.27" {
		t.Errorf("pool images %v", got)
	}
	if sc.Cluster.Runtime.Parallelism != nil {
		t.Errorf("a profile without runtime.parallelism set it to %v", *sc.Cluster.Runtime.Parallelism)
	}
	p, err = ParseCalibration("cal.yaml", []byte("kind: calibration\nruntime: {parallelism: 1.25}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if changed := sc.ApplyCalibration(p); len(changed) != 1 || sc.Cluster.Runtime.Parallelism == nil || *sc.Cluster.Runtime.Parallelism != 1.25 {
		t.Errorf("parallelism not applied: %v", changed)
	}
	for _, bad := range []struct{ yaml, want string }{
		{"kind: calib\n", `kind: "calib": a calibration profile`},
		{"kind: calibration\nlatencies:\n  runtime.crate: {dist: lognormal, median: 1ms, sigma: 1}\n", "cal.yaml:3: latencies.runtime.crate: unknown latency"},
		{"kind: calibration\nlatencies:\n  runtime.create: {dist: uniform, median: 1ms, sigma: 1}\n", "calibration fits are lognormal"},
		{"kind: calibration\nextra: 1\n", "extra"},
		{"kind: calibration\nruntime: {parallelism: 0.5}\n", "runtime.parallelism: 0.5: must be 1 to 1e6"},
	} {
		if _, err := ParseCalibration("cal.yaml", []byte(bad.yaml)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.yaml, err, bad.want)
		}
	}
}

const minimalScenarioWithServe = `name: t
duration: 10s
cluster:
  nodes: [{name: n, count: 1, cpu: "1", memory: 1Gi}]
images:
  - name: nginx:1.27
    size: 1Mi
    serve: {port: 80, workers: 1, queueLimit: 10}
`

func mustParse(t *testing.T, y string) *Scenario {
	t.Helper()
	sc, err := Parse("t.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestFsyncMedianForCommit checks the etcd mapping of a calibration against the
// modeled commit itself: draws of max(leader, fastest quorum of followers) with
// the derived fsync have the measured median.
func TestFsyncMedianForCommit(t *testing.T) {
	for _, members := range []int{1, 3, 5} {
		m, sigma := 10*time.Millisecond, 0.9
		f := fsyncMedianForCommit(m, sigma, members)
		reg := dist.NewRegistry()
		s := reg.MustNew(dist.LogNormal(f, sigma), rand.NewPCG(1, uint64(members)))
		var commits []float64
		for i := 0; i < 20000; i++ {
			leader := s.Sample()
			var fol []time.Duration
			for j := 0; j < members-1; j++ {
				fol = append(fol, s.Sample())
			}
			sort.Slice(fol, func(a, b int) bool { return fol[a] < fol[b] })
			c := leader
			if need := members / 2; need > 0 {
				c = max(c, fol[need-1])
			}
			commits = append(commits, c.Seconds())
		}
		sort.Float64s(commits)
		if got := commits[len(commits)/2]; math.Abs(got-m.Seconds())/m.Seconds() > 0.03 {
			t.Errorf("%d members: fsync median %v gives a commit median %.4fs, want %v", members, f, got, m)
		}
	}
}
