package cluster

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/sim"
)

var soakSeeds = flag.Int("soak-seeds", 12, "seeds of the mixed-fault soak test (make test runs the default; raise it for a long soak)")

// mixedFaults is a cluster under a mix of seeded random failures: node crashes and
// partitions, kubelet stops, container crashes, apiserver outages and etcd leader
// losses, each a bounded number of times, all repaired.
const mixedFaults = `name: soak
duration: 900s
cluster:
  nodes:
    - name: node
      count: 6
      cpu: "4"
      memory: 8Gi
      zones: [zone-a, zone-b, zone-c]
images:
  - name: nginx:1.27
    size: 72Mi
    serve: {port: 80, workers: 2, queueLimit: 511, serviceTime: {dist: lognormal, median: 300us, sigma: 0.5}}
workload:
  deployments:
    - name: web
      at: 1s
      replicas: 6
      labels: {app: web}
      containers:
        - name: nginx
          image: nginx:1.27
          requests: {cpu: 500m, memory: 512Mi}
          ports: [{containerPort: 80}]
          readinessProbe: {periodSeconds: 2}
  services:
    - name: web
      at: 1s
      selector: {app: web}
      ports: [{port: 80}]
  traffic:
    - {name: clients, service: web, rate: 20, start: 30s, duration: 850s}
faults:
  - {name: crashes, kind: node-crash, at: 60s, count: 3, mtbf: {dist: exponential, mean: 120s}, mttr: {dist: exponential, mean: 90s}, target: {randomK: 1}}
  - {name: partitions, kind: node-partition, at: 90s, count: 2, mtbf: {dist: exponential, mean: 150s}, mttr: {dist: uniform, min: 20s, max: 120s}, target: {randomK: 1}}
  - {name: kubelets, kind: kubelet-stop, at: 100s, count: 2, mtbf: {dist: exponential, mean: 200s}, mttr: {dist: uniform, min: 10s, max: 60s}, target: {randomK: 1}}
  - {name: containers, kind: container-crash, at: 45s, count: 5, mtbf: {dist: exponential, mean: 60s}, target: {pods: {app: web}, randomK: 1}}
  - {name: apiserver, kind: apiserver-outage, at: 120s, count: 2, mtbf: {dist: exponential, mean: 240s}, mttr: {dist: uniform, min: 5s, max: 30s}}
  - {name: elections, kind: etcd-leader-loss, at: 80s, count: 3, mtbf: {dist: exponential, mean: 150s}, mttr: {dist: uniform, min: 10s, max: 60s}}
`

// TestMixedFaultSoak runs the mixed-fault scenario over many seeds: no invariant may
// break (every committed write checks them), and once every fault is repaired the
// Deployment must converge. A failure prints the seed that reproduces it.
func TestMixedFaultSoak(t *testing.T) {
	sc, err := scenario.Parse("soak.yaml", []byte(mixedFaults))
	if err != nil {
		t.Fatal(err)
	}
	for seed := 1; seed <= *soakSeeds; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			c, err := Build(sc, Options{Seed: uint64(seed)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Run(sim.Time(sc.Duration.D())); err != nil {
				t.Fatalf("seed %d: %v (reproduce: kubesim run with this scenario and --seed %d)", seed, err, seed)
			}
			// Every fault is bounded and repaired; give the cluster time to heal
			// (pods evicted after 300 s tolerations, back-offs up to 5 min).
			var unrepaired int
			for _, in := range c.injectors {
				unrepaired += in.Active()
			}
			horizon := c.Eng.Now() + sim.Time(20*time.Minute)
			if err := c.Run(horizon); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			if left := c.Converged(); len(left) > 0 {
				t.Fatalf("seed %d: %d fault(s) unrepaired at 900 s; 20 min later the cluster has not converged: %v", seed, unrepaired, left)
			}
			for _, n := range c.Nodes() {
				if !n.IsReady() {
					t.Fatalf("seed %d: node %s is not Ready after every fault was repaired", seed, n.Name)
				}
			}
			var ready int
			for _, p := range c.Pods() {
				if p.IsReady() && p.DeletionTimestamp == nil && p.Spec.NodeName != "" {
					ready++
				}
			}
			if ready < 6 {
				t.Fatalf("seed %d: %d ready pods, want 6", seed, ready)
			}
			if len(c.Faults()) == 0 {
				t.Fatalf("seed %d: no fault was injected; the soak tests nothing", seed)
			}
		})
	}
}
