package cluster

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/manifest"
	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/model/workload"
	"github.com/kubesim/kubesim/sim"
)

const manifestNodes = `apiVersion: v1
kind: Node
metadata:
  name: big
  labels: {topology.kubernetes.io/zone: z1, pool: big}
spec:
  taints: [{key: dedicated, value: gpu, effect: NoSchedule}]
status:
  capacity: {cpu: "8", memory: 32Gi, pods: "50", nvidia.com/gpu: "2"}
  allocatable: {cpu: 7500m, memory: 30Gi, pods: "50", nvidia.com/gpu: "2"}
---
apiVersion: v1
kind: Node
metadata:
  name: small
  labels: {topology.kubernetes.io/zone: z2}
status:
  capacity: {cpu: "2", memory: 4Gi}
`

const manifestWork = `apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: gold}
value: 5000
---
apiVersion: v1
kind: Pod
metadata:
  name: tolerant
  namespace: ml
  annotations: {kubesim.io/run-duration: 30s}
spec:
  priorityClassName: gold
  restartPolicy: Never
  tolerations: [{key: dedicated, operator: Exists}]
  nodeSelector: {pool: big}
  containers:
    - name: c
      image: registry.k8s.io/pause:3.10
      resources: {limits: {nvidia.com/gpu: 2, cpu: "1", memory: 1Gi}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec:
  replicas: 2
  selector: {matchLabels: {app: rs}}
  template:
    metadata: {labels: {app: rs}}
    spec:
      containers: [{name: c, image: registry.k8s.io/pause:3.10, resources: {requests: {cpu: 500m}}}]
`

func parseSet(t *testing.T, name, in string) *manifest.Set {
	t.Helper()
	s, err := manifest.Parse(name, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestManifestCluster: manifest Nodes become kubelets with their exact
// allocatable, labels and taints; manifest objects are applied (the class before
// the pod that names it) and behave: the tolerating GPU pod lands on the tainted
// node, runs 30 s and succeeds; the ReplicaSet's pods avoid the taint.
func TestManifestCluster(t *testing.T) {
	sc, err := scenario.Parse("m.yaml", []byte("name: m\nduration: 2m\nmanifests: [nodes.yaml]\n"))
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Seed: 1, Manifests: []ManifestBatch{
		{At: 0, Source: "nodes.yaml", Set: parseSet(t, "nodes.yaml", manifestNodes)},
		{At: 5 * time.Second, Source: "work.yaml", Set: parseSet(t, "work.yaml", manifestWork)},
	}}
	rec := &recorder{}
	c, err := Build(sc, opts, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(sim.Time(2 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	nodes := c.Nodes()
	if len(nodes) != 2 {
		t.Fatalf("%d nodes", len(nodes))
	}
	big := nodes[0]
	if a := big.Status.Allocatable; a.MilliCPU != 7500 || a.Memory != 30<<30 || a.Pods != 50 || a.Scalar[api.ResourceGPU] != 2 || a.Scalar[api.ResourceGPUMilli] != 2000 {
		t.Errorf("big allocatable %+v", a)
	}
	if big.Labels["pool"] != "big" || big.Labels[api.LabelHostname] != "big" || len(big.Spec.Taints) != 1 {
		t.Errorf("big labels %v taints %v", big.Labels, big.Spec.Taints)
	}
	if a := nodes[1].Status.Allocatable; a.MilliCPU != 2000 || a.Memory != 4<<30-100<<20 {
		t.Errorf("small allocatable %+v (kubelet defaults: capacity minus 100 MiB eviction threshold)", a)
	}
	var rsPods int
	for _, p := range c.Pods() {
		switch {
		case p.Name == "tolerant":
			if p.Namespace != "ml" || p.Spec.NodeName != "big" || p.Status.Phase != api.PodSucceeded || p.Spec.Priority != 5000 {
				t.Errorf("tolerant pod: node %q phase %s priority %d", p.Spec.NodeName, p.Status.Phase, p.Spec.Priority)
			}
		case strings.HasPrefix(p.Name, "rs-"):
			rsPods++
			if p.Spec.NodeName != "small" {
				t.Errorf("pod %s on %q: it does not tolerate big's taint", p.Name, p.Spec.NodeName)
			}
		}
	}
	if rsPods != 2 {
		t.Errorf("%d ReplicaSet pods", rsPods)
	}
	// The batch was applied at 5 s: the class first, the rest once it was created.
	var applied []string
	for _, r := range rec.recs {
		if r.Component == "kubectl" && r.Action == "apply" {
			first := len(applied) == 0
			if (first && r.Time != sim.Time(5*time.Second)) || (!first && (r.Time <= sim.Time(5*time.Second) || r.Time > sim.Time(6*time.Second))) {
				t.Errorf("applied %s at %v", r.Object, r.Time)
			}
			applied = append(applied, r.Object)
		}
	}
	if strings.Join(applied, " ") != "priorityclass/gold pod/ml/tolerant replicaset/default/rs" {
		t.Errorf("apply order %v", applied)
	}
}

func TestManifestNodeNamesMustBeUnique(t *testing.T) {
	b := []byte("name: m\ncluster:\n  nodes: [{name: big, cpu: \"2\", memory: 4Gi}]\n")
	sc, err := scenario.Parse("m.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(sc, Options{Manifests: []ManifestBatch{{Set: parseSet(t, "n.yaml", manifestNodes)}}}, nil)
	if err == nil || !strings.Contains(err.Error(), `node "big" is defined twice`) {
		t.Errorf("error %v", err)
	}
}

// fixedArrivals is a user-registered arrival process: one arrival every 10 s.
type fixedArrivals struct{ n time.Duration }

func (f *fixedArrivals) Next() time.Duration { f.n += 10 * time.Second; return f.n }

// TestUserArrivalProcess: a process registered in Go through Options.Arrivals
// drives a synthetic generator.
func TestUserArrivalProcess(t *testing.T) {
	in := "name: u\nduration: 1m\ncluster:\n  nodes: [{name: n, cpu: \"4\", memory: 8Gi}]\nworkload:\n  synthetic:\n" +
		"    - {name: tick, arrival: {process: poisson, rate: 1/s}, count: 3, duration: 5s}\n"
	sc, err := scenario.Parse("u.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	sc.Workload.Synthetic[0].Arrival.Process = "every-10s"
	arr := workload.NewArrivalRegistry()
	arr.Register("every-10s", workload.ArrivalFactory{
		Validate: func(workload.ArrivalSpec) error { return nil },
		New:      func(workload.ArrivalSpec, rand.Source) workload.Arrivals { return &fixedArrivals{} },
	})
	if _, err := Build(sc, Options{}, nil); err == nil || !strings.Contains(err.Error(), `unknown arrival process "every-10s"`) {
		t.Fatalf("without the registry: %v", err)
	}
	c, err := Build(sc, Options{Arrivals: arr}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(sim.Time(time.Minute)); err != nil {
		t.Fatal(err)
	}
	g := c.Synthetic[0]
	if g.Generated() != 3 || g.LastArrival() != sim.Time(30*time.Second) {
		t.Errorf("generated %d, last at %v", g.Generated(), g.LastArrival())
	}
	succeeded := 0
	for _, p := range c.Pods() {
		if p.Status.Phase == api.PodSucceeded {
			succeeded++
		}
	}
	if succeeded != 3 {
		t.Errorf("%d pods succeeded, want 3", succeeded)
	}
}

// TestManifestNodesJoinLater: a batch's Nodes register at the batch's time.
func TestManifestNodesJoinLater(t *testing.T) {
	sc, err := scenario.Parse("m.yaml", []byte("name: m\ncluster:\n  nodes: [{name: first, cpu: \"2\", memory: 4Gi}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Build(sc, Options{Manifests: []ManifestBatch{{At: 30 * time.Second, Set: parseSet(t, "n.yaml", manifestNodes)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(sim.Time(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := len(c.Nodes()); n != 1 {
		t.Fatalf("%d nodes at 20 s, want 1", n)
	}
	if err := c.Run(sim.Time(40 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := len(c.Nodes()); n != 3 {
		t.Fatalf("%d nodes at 40 s, want 3", n)
	}
}
