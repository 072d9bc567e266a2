package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/fault"
	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/scenarios"
	"github.com/kubesim/kubesim/sim"
)

// recorder is a minimal telemetry sink for tests.
type recorder struct {
	recs    []sim.Record
	metrics map[string][]float64
}

func (r *recorder) Trace(rec sim.Record) { r.recs = append(r.recs, rec) }
func (r *recorder) Observe(m string, _ sim.Time, v float64) {
	if r.metrics == nil {
		r.metrics = map[string][]float64{}
	}
	r.metrics[m] = append(r.metrics[m], v)
}
func (r *recorder) Gauge(string, sim.Time, float64) {}

func nginx(t testing.TB) *scenario.Scenario {
	b, _ := scenarios.Get("nginx")
	sc, err := scenario.Parse("nginx.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestNginxFlow checks the outcome of the built-in scenario against what the
// Kubernetes defaults predict, and the invariants every run must keep.
func TestNginxFlow(t *testing.T) {
	sc := nginx(t)
	rec := &recorder{}
	c, err := Build(sc, Options{Seed: 3}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(sim.Time(sc.Duration.D())); err != nil {
		t.Fatal(err)
	}

	// 3 of 3 replicas ready, one per node (the default scores spread identical pods).
	ds := c.Deployments()
	if len(ds) != 1 || ds[0].Status.ReadyReplicas != 3 || ds[0].Status.AvailableReplicas != 3 {
		t.Fatalf("deployment status %+v", ds[0].Status)
	}
	perNode := map[api.NodeName]int{}
	for _, p := range c.Pods() {
		if p.Spec.NodeName == "" || !p.IsReady() || p.Status.PodIP == "" {
			t.Fatalf("pod %s not bound/ready: node %q ready %v ip %q", p.Name, p.Spec.NodeName, p.IsReady(), p.Status.PodIP)
		}
		perNode[p.Spec.NodeName]++
	}
	if len(perNode) != 3 {
		t.Errorf("pods per node %v, want one on each of the 3 nodes", perNode)
	}
	// Every kube-proxy has programmed the three pods.
	for _, px := range c.Proxies {
		if got := px.Programmed("default", "nginx"); len(got) != 3 {
			t.Errorf("a kube-proxy programmed %v", got)
		}
	}
	// Clients got answers; none failed once the pods were ready.
	st := c.Traffic[0].Stats()
	if st.Sent < 5500 || st.Sent > 6500 || st.Failed != 0 {
		t.Errorf("traffic %+v: want about 6000 requests (100/s for 60 s), none failed", st)
	}
	// Leases were renewed every 10 s: about 9 renewals per node in 90 s.
	renewals := 0
	for _, r := range rec.recs {
		if r.Action == "renew-lease" {
			renewals++
		}
	}
	if renewals < 3*8 || renewals > 3*9 {
		t.Errorf("%d lease renewals traced, want 24-27", renewals)
	}
	// Startup latency: pulls of a 72Mi image at 50 MB/s dominate; the SLO form
	// excludes them and stays within Kubernetes' 5 s SLO.
	for _, v := range rec.metrics["pod_startup_slo_seconds"] {
		if v <= 0 || v > 5 {
			t.Errorf("pod startup (SLO form) %.3fs outside (0, 5s]", v)
		}
	}
	checkInvariants(t, c)
}

// checkInvariants: no node holds more than it can fit; a pod is bound to at most
// one node and never changes node; every stored object carries its revision.
func checkInvariants(t *testing.T, c *Cluster) {
	t.Helper()
	alloc := map[api.NodeName]api.Resources{}
	for _, n := range c.Nodes() {
		alloc[api.NodeName(n.Name)] = n.Status.Allocatable
	}
	used := map[api.NodeName]*api.Resources{}
	for _, p := range c.Pods() {
		if p.Spec.NodeName == "" || p.IsTerminal() {
			continue
		}
		if _, ok := alloc[p.Spec.NodeName]; !ok {
			t.Errorf("pod %s bound to unknown node %s", p.Name, p.Spec.NodeName)
			continue
		}
		if used[p.Spec.NodeName] == nil {
			used[p.Spec.NodeName] = &api.Resources{}
		}
		r := p.Requests()
		used[p.Spec.NodeName].Add(&r)
		if p.ResourceVersion == 0 {
			t.Errorf("pod %s has no resourceVersion", p.Name)
		}
	}
	for n, u := range used {
		a := alloc[n]
		if u.MilliCPU > a.MilliCPU || u.Memory > a.Memory || u.Pods > a.Pods {
			t.Errorf("node %s over-committed: %+v requested of %+v", n, *u, a)
		}
	}
}

func TestSameSeedSameTraceOtherSeedOtherTimings(t *testing.T) {
	sc := nginx(t)
	run := func(seed uint64) string {
		rec := &recorder{}
		c, err := Build(sc, Options{Seed: seed, TraceEachRequest: true}, rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Run(sim.Time(30 * time.Second)); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, r := range rec.recs {
			fmt.Fprintf(&b, "%d|%d|%s|%s|%s|%s\n", r.Time, r.Step, r.Component, r.Action, r.Object, r.Detail)
		}
		return b.String()
	}
	a, b := run(5), run(5)
	if a != b {
		t.Fatal("same seed gave different traces")
	}
	if run(6) == a {
		t.Fatal("seeds 5 and 6 gave the same trace")
	}
}

// TestHeartbeatsStayCheap: an idle 2,000-node cluster costs a bounded number of
// engine events per lease renewal (O(1) per heartbeat, no per-node scans).
func TestHeartbeatsStayCheap(t *testing.T) {
	src := `name: idle
cluster:
  nodes:
    - name: node
      count: 2000
      cpu: "8"
      memory: 32Gi
`
	sc, err := scenario.Parse("idle.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Build(sc, Options{Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(sim.Time(20 * time.Second)); err != nil { // registration done, a first renewal
		t.Fatal(err)
	}
	before := c.Eng.Fired()
	if err := c.Run(sim.Time(80 * time.Second)); err != nil {
		t.Fatal(err)
	}
	renewals := 2000 * 6 // 60 s at one renewal per 10 s
	perRenewal := float64(c.Eng.Fired()-before) / float64(renewals)
	if perRenewal > 12 {
		t.Fatalf("%.1f engine events per lease renewal; a heartbeat must stay O(1) and cheap", perRenewal)
	}
	if perRenewal < 1 {
		t.Fatalf("%.2f events per renewal: the kubelets are not renewing their leases", perRenewal)
	}
}

// TestInvariantViolationStopsTheRun: a pod written straight to the apiserver with a
// node name, bypassing the scheduler, over-commits its node; the run stops there.
func TestInvariantViolationStopsTheRun(t *testing.T) {
	sc := nginx(t)
	c, err := Build(sc, Options{Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl := c.API.Client("rogue", 0, 0)
	c.Eng.At(sim.Time(2*time.Second), func() {
		cl.Create(&api.Pod{ObjectMeta: api.ObjectMeta{Name: "huge"}, Spec: api.PodSpec{NodeName: "node-1",
			Containers: []api.Container{{Name: "c", Image: "nginx:1.27", Requests: api.Resources{MilliCPU: 64000}}}}}, nil)
	})
	err = c.Run(sim.Time(sc.Duration.D()))
	v, ok := err.(*Violation)
	if !ok || v.Invariant != "no node holds more than it can fit" || v.Object != "node/node-1" {
		t.Fatalf("err = %v, want an over-commit violation on node-1", err)
	}
	if c.Eng.Now() > sim.Time(3*time.Second) {
		t.Fatalf("the run went on to %v after the violation", c.Eng.Now())
	}
}

func builtin(t *testing.T, name string) *scenario.Scenario {
	t.Helper()
	b, ok := scenarios.Get(name)
	if !ok {
		t.Fatalf("no built-in scenario %s", name)
	}
	sc, err := scenario.Parse(name+".yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestRollbackScenario: a crashing version stalls at the availability floor
// (old ReplicaSet 8 of 10, maxUnavailable 2), the Progressing condition turns
// False/ProgressDeadlineExceeded 600 s after the last progress, and the rollback
// brings the first revision's ReplicaSet back as revision 3 with 10 ready pods.
func TestRollbackScenario(t *testing.T) {
	sc := builtin(t, "rollback")
	rec := &recorder{}
	c, err := Build(sc, Options{Seed: 1}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(sim.Time(650 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var oldRS, newRS *api.ReplicaSet
	for _, o := range c.Objects(api.KindReplicaSet) {
		rs := o.(*api.ReplicaSet)
		switch rs.Annotations[api.AnnotationRevision] {
		case "1":
			oldRS = rs
		case "2":
			newRS = rs
		}
	}
	if oldRS == nil || newRS == nil {
		t.Fatal("want ReplicaSets of revisions 1 and 2")
	}
	if oldRS.Spec.Replicas != 8 || oldRS.Status.AvailableReplicas != 8 || newRS.Status.ReadyReplicas != 0 {
		t.Fatalf("stalled rollout: old %d/%d available, new %d ready; want the old one held at 8 (10 - maxUnavailable 2), none new ready",
			oldRS.Status.AvailableReplicas, oldRS.Spec.Replicas, newRS.Status.ReadyReplicas)
	}
	var deadline sim.Time
	for _, r := range rec.recs {
		if r.Action == "condition" && strings.Contains(r.Detail, "ProgressDeadlineExceeded") && deadline == 0 {
			deadline = r.Time
		}
	}
	if deadline != 0 {
		t.Fatalf("deadline condition already at %v, before 60 s + 600 s", deadline)
	}
	if err := c.Run(sim.Time(sc.Duration.D())); err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.recs {
		if r.Action == "condition" && strings.Contains(r.Detail, "ProgressDeadlineExceeded") && deadline == 0 {
			deadline = r.Time
		}
	}
	if d := deadline.Seconds(); d < 660 || d > 663 {
		t.Fatalf("ProgressDeadlineExceeded at %.1fs, want 600 s after the last progress (about 661 s)", d)
	}
	for _, o := range c.Objects(api.KindReplicaSet) {
		rs := o.(*api.ReplicaSet)
		if rs.UID == oldRS.UID && (rs.Annotations[api.AnnotationRevision] != "3" || rs.Status.ReadyReplicas != 10) {
			t.Fatalf("after rollback the first ReplicaSet has revision %s and %d ready; want revision 3 and 10",
				rs.Annotations[api.AnnotationRevision], rs.Status.ReadyReplicas)
		}
	}
}

func TestScenarioFaultKindsMatchTheRegistry(t *testing.T) {
	got := strings.Join(fault.NewRegistry().Names(), ",")
	want := strings.Join(scenario.FaultKinds, ",")
	if got != want {
		t.Fatalf("registry kinds %s, scenario kinds %s", got, want)
	}
}
