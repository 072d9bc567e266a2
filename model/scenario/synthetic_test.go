package scenario

import (
	"strings"
	"testing"
	"time"
)

const syntheticBase = `name: s
cluster:
  nodes:
    - {name: n, cpu: "4", memory: 8Gi}
workload:
  synthetic:
    - name: batch
      arrival: {process: poisson, rate: 30/m}
      count: 100
      sizes:
        cpu: {dist: lognormal, median: 500m, sigma: 0.5, max: "4"}
        memory: {dist: uniform, min: 128Mi, max: 1Gi}
        gpu: {dist: choice, values: [0, 0.5, 1], weights: [8, 1, 1]}
      duration: {dist: exponential, mean: 10m}
`

func TestSyntheticSection(t *testing.T) {
	sc, err := Parse("s.yaml", []byte(syntheticBase))
	if err != nil {
		t.Fatal(err)
	}
	cfg := sc.Workload.Synthetic[0].Config()
	if cfg.Arrival.Rate != 0.5 || cfg.Count != 100 || cfg.Duration.Mean != 10*time.Minute {
		t.Errorf("config %+v", cfg)
	}
	if cfg.CPU.Median != 500 || cfg.CPU.Max != 4000 || cfg.Memory.Min != 128<<20 || cfg.Memory.Max != 1<<30 {
		t.Errorf("sizes cpu %+v memory %+v", cfg.CPU, cfg.Memory)
	}
	if v := cfg.GPU.Values; len(v) != 3 || v[1] != 500 || v[2] != 1000 {
		t.Errorf("gpu values %v (thousandths of a GPU)", v)
	}
}

func TestSyntheticErrors(t *testing.T) {
	cases := []struct{ name, old, new, want string }{
		{"unknown process", "process: poisson", "process: hawkes", `s.yaml:8: workload.synthetic[0].arrival: unknown arrival process "hawkes" (known: bursty, constant, diurnal, poisson)`},
		{"bad rate", "rate: 30/m", "rate: 30/week", `"30/week": unknown time unit "week" (s, m, h, d)`},
		{"unbounded", "      count: 100\n", "", "s.yaml:7: workload.synthetic[0]: count, stop: give count or stop"},
		{"unknown size", "dist: lognormal", "dist: zipf", `s.yaml:11: workload.synthetic[0].sizes.cpu: unknown size distribution "zipf"`},
		{"bad quantity", "median: 500m", "median: 5OOm", `s.yaml:11: workload.synthetic[0].sizes.cpu.median: "5OOm" is not a valid quantity`},
		{"no duration", "      duration: {dist: exponential, mean: 10m}\n", "", "workload.synthetic[0].duration: required"},
		{"unknown field", "count: 100", "count: 100\n      burst: 3", `s.yaml:10: workload.synthetic[0].burst: unknown field "burst"`},
		{"bursty needs periods", "process: poisson", "process: bursty", "meanOn and meanOff must be positive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(strings.Replace(syntheticBase, tc.old, tc.new, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestManifestsField(t *testing.T) {
	in := "name: m\nmanifests:\n  - k8s/\n  - {path: late.yaml, at: 5m}\n"
	sc, err := Parse("m.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if m := sc.Manifests; len(m) != 2 || m[0].Path != "k8s/" || m[1].At.D() != 5*time.Minute || m[1].Line != 4 {
		t.Errorf("manifests %+v", m)
	}
	for _, bad := range []struct{ in, want string }{
		{"name: m\nmanifests:\n  - {path: a.yaml, when: 5m}\n", `m.yaml:3:`},
		{"name: m\nmanifests:\n  - {at: 5m}\n", "manifests[0].path: required"},
		{"name: m\n", "at least one node pool is required (or a trace with a node list, or manifests with Nodes)"},
	} {
		if _, err := Parse("m.yaml", []byte(bad.in)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.in, err, bad.want)
		}
	}
}
