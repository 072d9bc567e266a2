package cluster

import (
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/sim"
)

// Two nodes of 2 CPUs, each holding a web pod and a later-started db pod
// (900m each); at 60 s a pod of priority 1000 asks for 1 CPU, so one pod of one
// node must go. Preemption reprieves the more important (earlier-started) pod
// first, so without a budget the victim is a db pod; with a budget that allows no
// db disruption, the db pods are reprieved first and a web pod is the victim.
const pdbScenario = `name: pdb
duration: 90s
cluster:
  nodes:
    - name: node
      count: 2
      cpu: "2"
      memory: 8Gi
workload:
  deployments:
    - name: web
      replicas: 2
      labels: {app: web}
      containers: [{name: c, image: nginx:1.27, requests: {cpu: 900m, memory: 128Mi}}]
    - name: db
      at: 20s
      replicas: 2
      labels: {app: db}
      containers: [{name: c, image: nginx:1.27, requests: {cpu: 900m, memory: 128Mi}}]
    - name: urgent
      at: 60s
      replicas: 1
      priority: 1000
      labels: {app: urgent}
      containers: [{name: c, image: nginx:1.27, requests: {cpu: "1", memory: 128Mi}}]
`

const pdbSection = `  podDisruptionBudgets:
    - name: db
      minAvailable: 2
      selector: {app: db}
`

// runPDBScenario returns the app whose pod was preempted (its replacement is
// pending), the urgent pod's node, and the stored db budget (nil without one).
func runPDBScenario(t *testing.T, withPDB bool) (victimApp string, urgentNode api.NodeName, b *api.PodDisruptionBudget, c *Cluster) {
	t.Helper()
	in := pdbScenario
	if withPDB {
		in += pdbSection
	}
	sc, err := scenario.Parse("pdb.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	c, err = Build(sc, Options{Seed: 3}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(sim.Time(90 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Pods() {
		switch {
		case p.Labels["app"] == "urgent":
			urgentNode = p.Spec.NodeName
		case p.Spec.NodeName == "":
			if victimApp != "" {
				t.Fatalf("two pending pods (%s and %s)", victimApp, p.Name)
			}
			victimApp = p.Labels["app"]
		}
	}
	if kv, ok := c.API.Store().Get(api.Key(api.KindPodDisruptionBudget, api.NamespaceDefault, "db")); ok {
		b = kv.Value.(*api.PodDisruptionBudget)
	}
	return victimApp, urgentNode, b, c
}

func TestPDBChangesPreemptionVictims(t *testing.T) {
	victim, node, b, c := runPDBScenario(t, false)
	if victim != "db" || node == "" || b != nil || c.Disruption != nil {
		t.Fatalf("without a budget: victim app %q, urgent on %q, budget %v, controller %v; want a db victim, the urgent pod bound, no budget and no disruption controller",
			victim, node, b, c.Disruption)
	}
	victim, node, b, c = runPDBScenario(t, true)
	if victim != "web" || node == "" {
		t.Fatalf("with the db budget: victim app %q, urgent on %q; want a web victim (the db pods are protected)", victim, node)
	}
	if b == nil || b.Status.ExpectedPods != 2 || b.Status.CurrentHealthy != 2 || b.Status.DesiredHealthy != 2 ||
		b.Status.DisruptionsAllowed != 0 || b.Status.ObservedGeneration != 1 {
		t.Fatalf("db budget status %+v: want expected 2, healthy 2, desired 2, allowed 0", b)
	}
	if c.Disruption == nil || c.Disruption.Syncs() == 0 {
		t.Fatal("the disruption controller did not run")
	}
}

// A PodDisruptionBudget in a manifest batch also enables budgets.
func TestManifestPDBEnablesBudgets(t *testing.T) {
	sc, err := scenario.Parse("m.yaml", []byte(strings.Replace(pdbScenario, "duration: 90s", "duration: 10s", 1)))
	if err != nil {
		t.Fatal(err)
	}
	set := parseSet(t, "pdb.yaml", "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec:\n  maxUnavailable: 50%\n  selector: {matchLabels: {app: web}}\n")
	c, err := Build(sc, Options{Seed: 1, Manifests: []ManifestBatch{{At: 0, Source: "pdb.yaml", Set: set}}}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(sim.Time(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	kv, ok := c.API.Store().Get(api.Key(api.KindPodDisruptionBudget, api.NamespaceDefault, "web"))
	if !ok || c.Disruption == nil {
		t.Fatalf("budget stored %v, controller %v", ok, c.Disruption)
	}
	// 2 replicas of the Deployment, maxUnavailable 50 % (rounded up): desired 1.
	if st := kv.Value.(*api.PodDisruptionBudget).Status; st.ExpectedPods != 2 || st.DesiredHealthy != 1 {
		t.Fatalf("status %+v: want expected 2 (the Deployment's scale), desired 1", st)
	}
}
