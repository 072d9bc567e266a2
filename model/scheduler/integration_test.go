package scheduler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/sim"
)

// recorder is a Telemetry that keeps everything, for assertions.
type recorder struct {
	records []sim.Record
	obs     map[string][]float64
	gauges  map[string][]float64
}

func newRecorder() *recorder {
	return &recorder{obs: map[string][]float64{}, gauges: map[string][]float64{}}
}

func (r *recorder) Trace(rec sim.Record) { r.records = append(r.records, rec) }
func (r *recorder) Observe(m string, _ sim.Time, v float64) {
	r.obs[m] = append(r.obs[m], v)
}
func (r *recorder) Gauge(s string, _ sim.Time, v float64) { r.gauges[s] = append(r.gauges[s], v) }

func (r *recorder) actions(component string) map[string]int {
	out := map[string]int{}
	for _, rec := range r.records {
		if rec.Component == component {
			out[rec.Action]++
		}
	}
	return out
}

// stack is a real etcd + apiserver model with an admin client.
type stack struct {
	eng   *sim.Engine
	reg   *dist.Registry
	srv   *apiserver.Server
	admin *apiserver.Client
	tel   *recorder
}

func newStack(t testing.TB, seed uint64) *stack {
	t.Helper()
	eng := sim.New(seed)
	reg := dist.NewRegistry()
	st, err := etcd.New(eng, etcd.DefaultConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	tel := newRecorder()
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, tel)
	if err != nil {
		t.Fatal(err)
	}
	return &stack{eng: eng, reg: reg, srv: srv, admin: srv.Client("admin", 0, 0), tel: tel}
}

func (s *stack) startScheduler(t testing.TB, cfg Config) *Scheduler {
	t.Helper()
	sch, err := New(s.eng, s.srv.Client(Component, 50, 100), cfg, NewRegistry(), s.reg, s.tel)
	if err != nil {
		t.Fatal(err)
	}
	sch.Start()
	return sch
}

func (s *stack) create(t testing.TB, o api.Object) {
	t.Helper()
	s.admin.Create(o, func(_ api.Object, err error) {
		if err != nil {
			t.Errorf("create %s: %v", api.Ref(o), err)
		}
	})
}

const gi = int64(1) << 30

func testNode(name string, milliCPU, mem int64, labels map[string]string) *api.Node {
	if labels == nil {
		labels = map[string]string{}
	}
	labels[api.LabelHostname] = name
	alloc := api.Resources{MilliCPU: milliCPU, Memory: mem, Pods: 110, EphemeralStorage: 100 * gi}
	return &api.Node{
		ObjectMeta: api.ObjectMeta{Name: name, Labels: labels},
		Status: api.NodeStatus{
			Capacity: alloc.Clone(), Allocatable: alloc,
			Conditions: []api.NodeCondition{{Type: api.NodeReady, Status: api.ConditionTrue}},
		},
	}
}

func testPod(name string, milliCPU, mem int64) *api.Pod {
	return &api.Pod{
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: api.NamespaceDefault, Labels: map[string]string{"app": "nginx"}},
		Spec: api.PodSpec{Containers: []api.Container{{
			Name: "nginx", Image: "nginx:1.25",
			Requests: api.Resources{MilliCPU: milliCPU, Memory: mem},
		}}},
	}
}

func storedPod(t testing.TB, s *stack, name string) *api.Pod {
	t.Helper()
	kv, ok := s.srv.Store().Get(api.Key(api.KindPod, api.NamespaceDefault, name))
	if !ok {
		t.Fatalf("pod %s not in etcd", name)
	}
	return kv.Value.(*api.Pod)
}

func TestIntegrationSchedulesAndRecovers(t *testing.T) {
	s := newStack(t, 42)
	for i := 1; i <= 3; i++ {
		s.create(t, testNode(fmt.Sprintf("node-%d", i), 2000, 4*gi, nil))
	}
	sch := s.startScheduler(t, DefaultConfig())
	s.eng.RunUntil(sim.Time(time.Second))
	const n = 9
	for i := 0; i < n; i++ {
		s.create(t, testPod(fmt.Sprintf("nginx-%d", i), 500, 256<<20))
	}
	// Larger than any node: no node can take it (request > allocatable).
	s.create(t, testPod("big", 3000, 1*gi))
	s.eng.RunUntil(sim.Time(10 * time.Second))

	perNode := map[api.NodeName]int64{}
	for i := 0; i < n; i++ {
		p := storedPod(t, s, fmt.Sprintf("nginx-%d", i))
		if p.Spec.NodeName == "" {
			t.Fatalf("pod nginx-%d not bound", i)
		}
		if c := p.Condition(api.PodScheduled); c == nil || c.Status != api.ConditionTrue {
			t.Errorf("pod nginx-%d: PodScheduled not True: %+v", i, c)
		}
		perNode[p.Spec.NodeName] += 500
	}
	for node, cpu := range perNode {
		if cpu > 2000 {
			t.Errorf("node %s over-committed: %dm of 2000m", node, cpu)
		}
	}
	// LeastAllocated + BalancedAllocation spread equal pods: 3 per node.
	for i := 1; i <= 3; i++ {
		if got := perNode[api.NodeName(fmt.Sprintf("node-%d", i))]; got != 1500 {
			t.Errorf("node-%d got %dm, want 1500m (even spread)", i, got)
		}
	}
	big := storedPod(t, s, "big")
	if big.Spec.NodeName != "" {
		t.Fatalf("big pod bound to %s, want unschedulable", big.Spec.NodeName)
	}
	c := big.Condition(api.PodScheduled)
	if c == nil || c.Status != api.ConditionFalse || c.Reason != "Unschedulable" {
		t.Fatalf("big pod condition = %+v, want PodScheduled=False/Unschedulable", c)
	}
	if want := "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."; c.Message != want {
		t.Errorf("message = %q, want %q", c.Message, want)
	}
	st := sch.Stats()
	if st.UnschedulablePods != 1 {
		t.Errorf("stats: %d unschedulable pods queued, want 1 (%+v)", st.UnschedulablePods, st)
	}

	// A bigger node arrives: the node-add event moves the pod and it schedules.
	s.create(t, testNode("node-4", 4000, 8*gi, nil))
	s.eng.RunUntil(sim.Time(20 * time.Second))
	big = storedPod(t, s, "big")
	if big.Spec.NodeName != "node-4" {
		t.Fatalf("big pod on %q after node-4 was added, want node-4", big.Spec.NodeName)
	}
	st = sch.Stats()
	if st.Scheduled != n+1 || st.ActiveQ+st.BackoffQ+st.UnschedulablePods != 0 || st.InFlightBinds != 0 {
		t.Errorf("final stats %+v", st)
	}
	acts := s.tel.actions(Component)
	for _, a := range []string{"schedule", "filter", "score", "bind", "bound", "unschedulable", "requeue"} {
		if acts[a] == 0 {
			t.Errorf("no %q trace record (have %v)", a, acts)
		}
	}
	for _, rec := range s.tel.records {
		if rec.Component == Component && rec.Action != "synced" && rec.Step != 3 {
			t.Errorf("record %+v not labelled step 3", rec)
		}
	}
	if len(s.tel.obs["scheduling_latency_seconds"]) != n+1 {
		t.Errorf("scheduling_latency_seconds has %d samples, want %d", len(s.tel.obs["scheduling_latency_seconds"]), n+1)
	}
	if len(s.tel.obs["scheduling_attempt_seconds"]) == 0 || len(s.tel.obs["queueing_delay_seconds"]) == 0 || len(s.tel.gauges["pending_pods"]) == 0 {
		t.Error("missing telemetry")
	}
}

func TestIntegrationIdleSchedulesNoEvents(t *testing.T) {
	s := newStack(t, 1)
	s.create(t, testNode("node-1", 2000, 4*gi, nil))
	s.startScheduler(t, DefaultConfig())
	s.create(t, testPod("p", 100, 1<<20))
	s.eng.RunUntil(sim.Time(5 * time.Second))
	// Only the apiserver's compaction timer may remain.
	fired := s.eng.Fired()
	s.eng.RunUntil(sim.Time(4 * time.Minute))
	if d := s.eng.Fired() - fired; d != 0 {
		t.Errorf("idle scheduler ran %d events in 4 minutes", d)
	}
}

func TestIntegrationIgnoresOtherSchedulerAndDeleted(t *testing.T) {
	s := newStack(t, 3)
	s.create(t, testNode("node-1", 2000, 4*gi, nil))
	sch := s.startScheduler(t, DefaultConfig())
	s.eng.RunUntil(sim.Time(time.Second))
	other := testPod("other", 100, 1<<20)
	other.Spec.SchedulerName = "my-scheduler"
	s.create(t, other)
	s.create(t, testPod("mine", 100, 1<<20))
	s.eng.RunUntil(sim.Time(5 * time.Second))
	if storedPod(t, s, "other").Spec.NodeName != "" {
		t.Error("pod for another scheduler was bound")
	}
	if storedPod(t, s, "mine").Spec.NodeName != "node-1" {
		t.Error("own pod not bound")
	}
	if st := sch.Stats(); st.Attempts != 1 {
		t.Errorf("attempts = %d, want 1", st.Attempts)
	}
}

func TestIntegrationDeterministic(t *testing.T) {
	run := func() string {
		s := newStack(t, 7)
		for i := 1; i <= 5; i++ {
			s.create(t, testNode(fmt.Sprintf("node-%d", i), 4000, 8*gi, nil))
		}
		s.startScheduler(t, DefaultConfig())
		for i := 0; i < 30; i++ {
			s.create(t, testPod(fmt.Sprintf("p-%d", i), 100, 64<<20))
		}
		s.eng.RunUntil(sim.Time(10 * time.Second))
		var b strings.Builder
		for _, r := range s.tel.records {
			fmt.Fprintf(&b, "%d %s %s %s %s\n", r.Time, r.Component, r.Action, r.Object, r.Detail)
		}
		return b.String()
	}
	a, b := run(), run()
	if a != b {
		t.Fatal("two runs with the same seed differ")
	}
	if !strings.Contains(a, "tied, chosen uniformly at random") {
		t.Error("expected ties among identical nodes")
	}
}

// Assumed pods count at once: binds in flight never let two pods take the same
// room, and a deleted assigned pod frees room for the unschedulable one.
func TestIntegrationAssumedResourcesAndPodDelete(t *testing.T) {
	s := newStack(t, 5)
	s.create(t, testNode("node-1", 1000, 4*gi, nil))
	s.create(t, testNode("node-2", 1000, 4*gi, nil))
	cfg := DefaultConfig()
	outcomes := map[string]int{}
	cfg.OnDecision = func(d Decision) {
		outcomes[d.Outcome]++
		if d.Outcome == "scheduled" && (d.Selected == "" || len(d.Filter) != d.Examined || d.End <= d.Time) {
			t.Errorf("incomplete decision %+v", d)
		}
	}
	sch := s.startScheduler(t, cfg)
	s.eng.RunUntil(sim.Time(time.Second))
	for i := 0; i < 5; i++ {
		s.create(t, testPod(fmt.Sprintf("p-%d", i), 500, 64<<20))
	}
	s.eng.RunUntil(sim.Time(5 * time.Second))
	var pending []string
	perNode := map[api.NodeName]int{}
	var victim string
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("p-%d", i)
		p := storedPod(t, s, name)
		if p.Spec.NodeName == "" {
			pending = append(pending, name)
			continue
		}
		perNode[p.Spec.NodeName]++
		victim = name
	}
	if len(pending) != 1 || perNode["node-1"] != 2 || perNode["node-2"] != 2 {
		t.Fatalf("pending %v, per node %v", pending, perNode)
	}
	c := storedPod(t, s, pending[0]).Condition(api.PodScheduled)
	if c == nil || c.Message != "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod." {
		t.Fatalf("condition %+v", c)
	}
	zero := int64(0)
	s.admin.Delete(api.KindPod, api.NamespaceDefault, victim, apiserver.DeleteOptions{GracePeriodSeconds: &zero}, nil)
	s.eng.RunUntil(sim.Time(10 * time.Second))
	if storedPod(t, s, pending[0]).Spec.NodeName == "" {
		t.Fatal("pending pod not scheduled after an assigned pod was deleted")
	}
	if st := sch.Stats(); st.Scheduled != 5 || st.Unschedulable != 1 {
		t.Errorf("stats %+v", st)
	}
	if outcomes["scheduled"] != 5 || outcomes["unschedulable"] != 1 {
		t.Errorf("decision outcomes %v", outcomes)
	}
}

// failOnceBinder fails its first binding, then binds through DefaultBinder.
type failOnceBinder struct {
	framework.BindPlugin
	failed bool
}

func (b *failOnceBinder) Bind(state *framework.CycleState, pod *framework.PodInfo, node api.NodeName, done func(*framework.Status)) *framework.Status {
	if !b.failed {
		b.failed = true
		return framework.AsStatus(fmt.Errorf("injected binding failure"))
	}
	return b.BindPlugin.Bind(state, pod, node, done)
}

func TestIntegrationBindFailureIsRetried(t *testing.T) {
	s := newStack(t, 11)
	s.create(t, testNode("node-1", 1000, 4*gi, nil))
	reg := NewRegistry()
	def, _ := reg.Factory(DefaultBinder)
	if err := reg.Register("FailOnce", func(args any, h framework.Handle) (framework.Plugin, error) {
		pl, err := def(args, h)
		if err != nil {
			return nil, err
		}
		return &failOnceBinder{BindPlugin: pl.(framework.BindPlugin)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Profile.Plugins[len(cfg.Profile.Plugins)-1] = PluginConfig{Name: "FailOnce"}
	if _, err := New(s.eng, s.srv.Client(Component, 50, 100), cfg, reg, s.reg, s.tel); err == nil {
		t.Fatal("a plug-in whose Name differs from its registered name was accepted")
	}
	reg2 := NewRegistry()
	_ = reg2.Register("FailOnce", func(args any, h framework.Handle) (framework.Plugin, error) {
		pl, _ := def(args, h)
		return &renamed{failOnceBinder: &failOnceBinder{BindPlugin: pl.(framework.BindPlugin)}}, nil
	})
	sch, err := New(s.eng, s.srv.Client(Component, 50, 100), cfg, reg2, s.reg, s.tel)
	if err != nil {
		t.Fatal(err)
	}
	sch.Start()
	s.eng.RunUntil(sim.Time(time.Second))
	s.create(t, testPod("p", 600, 64<<20))
	s.eng.RunUntil(sim.Time(10 * time.Second))
	if storedPod(t, s, "p").Spec.NodeName != "node-1" {
		t.Fatal("pod not bound after a failed binding")
	}
	st := sch.Stats()
	if st.BindErrors != 1 || st.Scheduled != 1 || st.Attempts != 2 {
		t.Errorf("stats %+v", st)
	}
	if ni := sch.cache.nodes["node-1"]; ni.Requested.MilliCPU != 600 || len(ni.Pods) != 1 {
		t.Errorf("node-1 accounts %dm in %d pods, want 600m in 1 (forgotten assumption)", ni.Requested.MilliCPU, len(ni.Pods))
	}
	if s.tel.actions(Component)["bind-error"] != 1 {
		t.Error("no bind-error trace")
	}
}

type renamed struct{ *failOnceBinder }

func (*renamed) Name() string { return "FailOnce" }
