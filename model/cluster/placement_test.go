package cluster

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/sim"
)

var updatePlacements = flag.Bool("update-placements", false, "rewrite the placement golden files under testdata/")

// TestScalePlacementsGolden pins the placements of a seeded 500-node, 5,000-pod run
// with the default profile (percentageOfNodesToScore adaptive: 46% of the nodes
// examined per cycle, PodTopologySpread system defaults with the ReplicaSet's
// selector, image locality, balanced allocation): every pod's node, sorted by pod
// name. Performance work on the scheduler's hot paths must keep this file
// byte-identical; regenerate only for an intended change of scheduling behaviour
// (go test ./model/cluster -run PlacementsGolden -update-placements) and explain it.
func TestScalePlacementsGolden(t *testing.T) {
	if testing.Short() {
		t.Skip("500 nodes and 5,000 pods: skipped with -short")
	}
	checkPlacements(t, scaleScenario(t, 500, 5000), 5000, "scale500.placements")
}

// mixedScenario is 300 nodes of two sizes and images, in three zones, receiving
// three Deployments of different requests that fill the small nodes: placements
// depend on every default score plug-in, not only on spreading and tie-breaking.
func mixedScenario(tb testing.TB) *scenario.Scenario {
	src := `name: mixed
duration: 600s
cluster:
  controllerManager: {qps: 0}
  scheduler: {qps: 0}
  nodes:
    - name: small
      count: 200
      cpu: "4"
      memory: 8Gi
      zones: [zone-a, zone-b, zone-c]
      images: [nginx:1.27]
    - name: big
      count: 100
      cpu: "32"
      memory: 128Gi
      zones: [zone-a, zone-b]
      images: [app:2]
images:
  - name: nginx:1.27
    size: 72Mi
  - name: app:2
    size: 900Mi
  - name: batch:1
    size: 300Mi
workload:
  deployments:
    - name: web
      at: 1s
      replicas: 1500
      labels: {app: web}
      containers:
        - name: nginx
          image: nginx:1.27
          requests: {cpu: 100m, memory: 128Mi}
    - name: api
      at: 2s
      replicas: 600
      labels: {app: api}
      containers:
        - name: app
          image: app:2
          requests: {cpu: 700m, memory: 1500Mi}
    - name: batch
      at: 3s
      replicas: 400
      labels: {app: batch}
      containers:
        - name: batch
          image: batch:1
          requests: {cpu: "1", memory: 3Gi}
`
	sc, err := scenario.Parse("mixed.yaml", []byte(src))
	if err != nil {
		tb.Fatal(err)
	}
	return sc
}

// TestMixedPlacementsGolden pins the placements of mixedScenario (2,500 pods), as
// TestScalePlacementsGolden does.
func TestMixedPlacementsGolden(t *testing.T) {
	if testing.Short() {
		t.Skip("300 nodes and 2,500 pods: skipped with -short")
	}
	checkPlacements(t, mixedScenario(t), 2500, "mixed300.placements")
}

func checkPlacements(t *testing.T, sc *scenario.Scenario, pods int, file string) {
	c, err := Build(sc, Options{Seed: 7}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for t0 := sim.Time(0); t0 < sim.Time(sc.Duration.D()); t0 += sim.Time(5 * time.Second) {
		if err := c.Run(t0 + sim.Time(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		ready := 0
		for _, d := range c.Deployments() {
			ready += int(d.Status.ReadyReplicas)
		}
		if ready == pods {
			break
		}
	}
	var lines []string
	for _, p := range c.Pods() {
		if p.Spec.NodeName == "" {
			t.Fatalf("pod %s not scheduled", p.Name)
		}
		lines = append(lines, p.Name+" "+string(p.Spec.NodeName))
	}
	if len(lines) != pods {
		t.Fatalf("%d pods, want %d", len(lines), pods)
	}
	sort.Strings(lines)
	got := strings.Join(lines, "\n") + "\n"
	golden := filepath.Join("testdata", file)
	if *updatePlacements {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update-placements to create it)", err)
	}
	if string(want) != got {
		wl := strings.Split(string(want), "\n")
		gl := strings.Split(got, "\n")
		diff := 0
		first := ""
		for i := 0; i < len(wl) && i < len(gl); i++ {
			if wl[i] != gl[i] {
				if diff == 0 {
					first = fmt.Sprintf("first difference at line %d: want %q, got %q", i+1, wl[i], gl[i])
				}
				diff++
			}
		}
		t.Fatalf("placements differ from %s (sha256 %x, got %x): %d lines differ; %s",
			golden, sha256.Sum256(want), sha256.Sum256([]byte(got)), diff, first)
	}
}
