package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/scenarios"
	"github.com/kubesim/kubesim/sim"
)

// scaleScenario is a cluster of nodes nodes receiving one Deployment of pods
// replicas, with the controller-manager's and scheduler's client rate limits lifted
// so that the measurement is of the simulator, not of the 20 QPS the
// controller-manager is allowed by default.
func scaleScenario(tb testing.TB, nodes, pods int) *scenario.Scenario {
	src := fmt.Sprintf(`name: scale
duration: 600s
cluster:
  controllerManager: {qps: 0}
  scheduler: {qps: 0}
  nodes:
    - name: node
      count: %d
      cpu: "32"
      memory: 128Gi
      zones: [zone-a, zone-b, zone-c]
      images: [nginx:1.27]
images:
  - name: nginx:1.27
    size: 72Mi
workload:
  deployments:
    - name: web
      at: 1s
      replicas: %d
      labels: {app: web}
      containers:
        - name: nginx
          image: nginx:1.27
          requests: {cpu: 100m, memory: 128Mi}
`, nodes, pods)
	sc, err := scenario.Parse("scale.yaml", []byte(src))
	if err != nil {
		tb.Fatal(err)
	}
	return sc
}

// runToReady runs until every replica is ready and returns the virtual time taken.
func runToReady(tb testing.TB, sc *scenario.Scenario, pods int) sim.Time {
	c, err := Build(sc, Options{Seed: 1}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for t := sim.Time(0); t < sim.Time(sc.Duration.D()); t += sim.Time(5 * time.Second) {
		if err := c.Run(t + sim.Time(5*time.Second)); err != nil {
			tb.Fatal(err)
		}
		ready := 0
		for _, d := range c.Deployments() {
			ready += int(d.Status.ReadyReplicas)
		}
		if ready == pods {
			return c.Eng.Now()
		}
	}
	tb.Fatalf("not all %d replicas ready by %v", pods, sc.Duration.D())
	return 0
}

// BenchmarkNginx runs the built-in nginx scenario (90 s of virtual time).
func BenchmarkNginx(b *testing.B) {
	data, _ := scenarios.Get("nginx")
	sc, err := scenario.Parse("nginx.yaml", data)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c, err := Build(sc, Options{Seed: 1}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Run(sim.Time(sc.Duration.D())); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScale measures whole-control-plane throughput: pods created, scheduled,
// bound, started by their kubelets and reported ready, per second of wall time
// (pods/s) and per second of CPU time of the process (pods/cpu-s: the figure to
// compare on a shared, loaded machine), and the process's peak resident set
// (peak-RSS-MB; meaningful when the sub-benchmark runs alone, e.g. make bench-scale).
// nodes=5000/pods=150000 is issue 3's performance target.
func BenchmarkScale(b *testing.B) {
	for _, tc := range []struct{ nodes, pods int }{{500, 5000}, {5000, 20000}, {5000, 150000}} {
		b.Run(fmt.Sprintf("nodes=%d/pods=%d", tc.nodes, tc.pods), func(b *testing.B) {
			sc := scaleScenario(b, tc.nodes, tc.pods)
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				runToReady(b, sc, tc.pods)
			}
			b.StopTimer()
			b.ReportMetric(float64(tc.pods*b.N)/b.Elapsed().Seconds(), "pods/s")
			b.ReportMetric(float64(tc.pods*b.N)/(cpuTime()-cpu0).Seconds(), "pods/cpu-s")
			b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MB")
		})
	}
}
