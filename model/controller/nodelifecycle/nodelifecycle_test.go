package nodelifecycle

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/controller/manager/informers"
	"github.com/kubesim/kubesim/model/controller/tainteviction"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/sim"
)

type recorder struct {
	recs []sim.Record
	obs  map[string][]float64
}

func (r *recorder) Trace(x sim.Record) { r.recs = append(r.recs, x) }
func (r *recorder) Observe(m string, _ sim.Time, v float64) {
	if r.obs == nil {
		r.obs = map[string][]float64{}
	}
	r.obs[m] = append(r.obs[m], v)
}
func (r *recorder) Gauge(string, sim.Time, float64) {}

func (r *recorder) find(comp, action, obj string) []sim.Record {
	var out []sim.Record
	for _, x := range r.recs {
		if x.Component == comp && x.Action == action && (obj == "" || x.Object == obj) {
			out = append(out, x)
		}
	}
	return out
}

// fakeKubelet stands for a node's kubelet: it renews the Lease every 10 s while alive.
type fakeKubelet struct {
	name  string
	alive bool
	last  sim.Time // last renewal sent
}

type env struct {
	t     *testing.T
	eng   *sim.Engine
	srv   *apiserver.Server
	user  *apiserver.Client
	rec   *recorder
	nlc   *Controller
	te    *tainteviction.Controller
	nodes map[string]*fakeKubelet
}

func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	eng := sim.New(1)
	reg := dist.NewRegistry()
	rec := &recorder{}
	st, err := etcd.New(eng, etcd.DefaultConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, rec)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	cm := srv.Client("controller-manager", 0, 0)
	f := informers.NewFactory(cm)
	nlc, err := New(eng, cm, cfg, reg, rec)
	if err != nil {
		t.Fatal(err)
	}
	te, err := tainteviction.New(eng, cm, tainteviction.DefaultConfig(), reg, rec)
	if err != nil {
		t.Fatal(err)
	}
	nlc.UseInformers(f)
	te.UseInformers(f)
	e := &env{t: t, eng: eng, srv: srv, user: srv.Client("test", 0, 0), rec: rec, nlc: nlc, te: te, nodes: map[string]*fakeKubelet{}}
	return e
}

func (e *env) start() { e.nlc.Start(); e.te.Start() }

func (e *env) run(d time.Duration) { e.eng.RunUntil(e.eng.Now().Add(d)) }

func (e *env) wait(what string, start func(done func(error))) {
	e.t.Helper()
	var got error
	finished := false
	start(func(err error) { got, finished = err, true })
	for i := 0; i < 100000 && !finished; i++ {
		e.eng.Step()
	}
	if !finished || got != nil {
		e.t.Fatalf("%s: finished=%v err=%v", what, finished, got)
	}
}

func readyStatus(now sim.Time) api.NodeStatus {
	return api.NodeStatus{Conditions: []api.NodeCondition{
		{Type: api.NodeMemoryPressure, Status: api.ConditionFalse, LastHeartbeatTime: now},
		{Type: api.NodeDiskPressure, Status: api.ConditionFalse, LastHeartbeatTime: now},
		{Type: api.NodePIDPressure, Status: api.ConditionFalse, LastHeartbeatTime: now},
		{Type: api.NodeReady, Status: api.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: now},
	}}
}

// addNode registers a Ready node with its Lease and starts its fake kubelet.
func (e *env) addNode(name, zone string) {
	n := &api.Node{ObjectMeta: api.ObjectMeta{Name: name, Labels: map[string]string{api.LabelZone: zone}}, Status: readyStatus(e.eng.Now())}
	e.wait("create node", func(done func(error)) { e.user.Create(n, func(_ api.Object, err error) { done(err) }) })
	l := &api.Lease{ObjectMeta: api.ObjectMeta{Name: name, Namespace: api.NamespaceNodeLease}, HolderIdentity: name, LeaseDurationSeconds: 40, RenewTime: e.eng.Now()}
	e.wait("create lease", func(done func(error)) { e.user.Create(l, func(_ api.Object, err error) { done(err) }) })
	k := &fakeKubelet{name: name, alive: true, last: e.eng.Now()}
	e.nodes[name] = k
	var renew func()
	renew = func() {
		if !k.alive {
			return
		}
		k.last = e.eng.Now()
		e.user.Update(&api.Lease{ObjectMeta: api.ObjectMeta{Name: name, Namespace: api.NamespaceNodeLease}, HolderIdentity: name, LeaseDurationSeconds: 40, RenewTime: k.last}, nil)
		e.eng.After(10*time.Second, renew)
	}
	e.eng.After(10*time.Second, renew)
}

// resume makes a stopped node's kubelet come back: a status post with Ready=True
// and Lease renewals, as a restarted kubelet does.
func (e *env) resume(name string) {
	k := e.nodes[name]
	o := e.get(api.KindNode, "", name).(*api.Node).DeepCopy()
	o.ResourceVersion = 0
	o.Status = readyStatus(e.eng.Now())
	e.wait("post status", func(done func(error)) { e.user.UpdateStatus(o, func(_ api.Object, err error) { done(err) }) })
	k.alive = true
	var renew func()
	renew = func() {
		if !k.alive {
			return
		}
		k.last = e.eng.Now()
		e.user.Update(&api.Lease{ObjectMeta: api.ObjectMeta{Name: name, Namespace: api.NamespaceNodeLease}, HolderIdentity: name, LeaseDurationSeconds: 40, RenewTime: k.last}, nil)
		e.eng.After(10*time.Second, renew)
	}
	renew()
}

func (e *env) get(kind api.Kind, ns, name string) api.Object {
	e.t.Helper()
	var out api.Object
	e.wait("get", func(done func(error)) {
		e.user.Get(kind, ns, name, func(o api.Object, err error) {
			out = o
			if apiserver.IsNotFound(err) {
				err = nil
			}
			done(err)
		})
	})
	return out
}

func (e *env) node(name string) *api.Node { return e.get(api.KindNode, "", name).(*api.Node) }

func (e *env) pod(name string) *api.Pod {
	o := e.get(api.KindPod, "default", name)
	if o == nil {
		return nil
	}
	return o.(*api.Pod)
}

// addPod creates a Ready pod bound to node.
func (e *env) addPod(name, node string, tols ...api.Toleration) {
	p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"},
		Spec: api.PodSpec{NodeName: api.NodeName(node), Containers: []api.Container{{Name: "c", Image: "nginx:1.25"}}, Tolerations: tols}}
	p.Status.Phase = api.PodRunning
	p.Status.Conditions = []api.PodCondition{{Type: api.PodReady, Status: api.ConditionTrue}}
	e.wait("create pod", func(done func(error)) { e.user.Create(p, func(_ api.Object, err error) { done(err) }) })
}

func secs(s int64) *int64 { return &s }

func hasTaintT(n *api.Node, key string, eff api.TaintEffect) bool { return hasTaint(n, key, eff) }

func TestNodeSilentThenTaintedAndPodsEvicted(t *testing.T) {
	e := newEnv(t, nil)
	e.addNode("node-1", "a")
	e.addNode("node-2", "a")
	e.addPod("default-tol", "node-1")
	e.addPod("short-tol", "node-1", api.Toleration{Key: api.TaintNodeUnreachable, Operator: api.TolerationOpExists, Effect: api.TaintNoExecute, TolerationSeconds: secs(10)})
	e.addPod("forever", "node-1", api.Toleration{Key: api.TaintNodeUnreachable, Operator: api.TolerationOpExists, Effect: api.TaintNoExecute})
	e.addPod("on-node-2", "node-2")
	e.start()
	e.run(33 * time.Second)
	e.nodes["node-1"].alive = false
	last := e.nodes["node-1"].last

	e.run(60 * time.Second)
	unk := e.rec.find(Component, "node-unknown", "node/node-1")
	if len(unk) != 1 {
		t.Fatalf("node-unknown records: %d, want 1", len(unk))
	}
	if d := unk[0].Time.Sub(last); d < 50*time.Second || d > 55*time.Second+100*time.Millisecond {
		t.Errorf("Ready=Unknown %v after the last heartbeat, want 50–55 s", d)
	}
	if !strings.Contains(unk[0].Detail, "no heartbeat for") {
		t.Errorf("detail %q", unk[0].Detail)
	}
	if v := e.rec.obs["node_not_ready_detection_seconds"]; len(v) != 1 || v[0] < 50 || v[0] > 55.1 {
		t.Errorf("node_not_ready_detection_seconds = %v", v)
	}
	if len(e.rec.find(Component, "node-unknown", "node/node-2")) != 0 {
		t.Errorf("the healthy node was declared Unknown")
	}
	n := e.node("node-1")
	if c := n.Condition(api.NodeReady); c == nil || c.Status != api.ConditionUnknown {
		t.Fatalf("Ready = %+v", c)
	}
	if c := n.Condition(api.NodeMemoryPressure); c.Status != api.ConditionUnknown {
		t.Errorf("MemoryPressure = %s, want Unknown", c.Status)
	}
	if !hasTaintT(n, api.TaintNodeUnreachable, api.TaintNoExecute) || !hasTaintT(n, api.TaintNodeUnreachable, api.TaintNoSchedule) {
		t.Fatalf("taints %+v, want unreachable NoExecute and NoSchedule", n.Spec.Taints)
	}
	var taintAt sim.Time
	for _, r := range e.rec.find(Component, "taint", "node/node-1") {
		if strings.Contains(r.Detail, ":NoExecute") {
			taintAt = r.Time
		}
	}
	if d := taintAt.Sub(unk[0].Time); d < 5*time.Second || d > 5200*time.Millisecond {
		t.Errorf("NoExecute taint %v after Unknown, want the next pass (5 s, +≤100 ms tainting pass)", d)
	}
	if c := e.pod("default-tol").Condition(api.PodReady); c.Status != api.ConditionFalse {
		t.Errorf("pod on the silent node still Ready")
	}
	if c := e.pod("on-node-2").Condition(api.PodReady); c.Status != api.ConditionTrue {
		t.Errorf("pod on the healthy node marked not Ready")
	}

	e.run(400*time.Second - e.eng.Now().Sub(last))
	evicted := map[string]sim.Time{}
	for _, r := range e.rec.find(tainteviction.Component, "evict", "") {
		evicted[strings.TrimPrefix(r.Object, "pod/default/")] = r.Time
	}
	if at, ok := evicted["short-tol"]; !ok || at.Sub(taintAt) < 10*time.Second || at.Sub(taintAt) > 10*time.Second+50*time.Millisecond {
		t.Errorf("short-tol evicted at %v (ok=%v), want taint + 10 s", at.Sub(taintAt), ok)
	}
	at, ok := evicted["default-tol"]
	if !ok {
		t.Fatalf("default-tol not evicted")
	}
	if d := at.Sub(last); d < 350*time.Second || d > 361*time.Second {
		t.Errorf("default-tol evicted %v after the last heartbeat, want ≈ 5m50s–6m", d)
	}
	ev := e.rec.find(tainteviction.Component, "evict", "pod/default/default-tol")[0]
	if !strings.Contains(ev.Detail, "+ tolerationSeconds 300") || !strings.Contains(ev.Detail, "→ evict at") {
		t.Errorf("eviction detail lacks the arithmetic: %q", ev.Detail)
	}
	if _, ok := evicted["forever"]; ok {
		t.Errorf("a pod tolerating forever was evicted")
	}
	if _, ok := evicted["on-node-2"]; ok {
		t.Errorf("a pod of the healthy node was evicted")
	}
	if p := e.pod("default-tol"); p == nil || p.DeletionTimestamp == nil {
		t.Errorf("evicted pod should stay terminating on the dead node, got %+v", p)
	}
	if v := e.rec.obs["pod_eviction_seconds"]; len(v) != 2 {
		t.Errorf("pod_eviction_seconds samples %v, want 2", v)
	}
}

func TestHeartbeatsResumeRemoveTaints(t *testing.T) {
	e := newEnv(t, nil)
	e.addNode("node-1", "a")
	e.addNode("node-2", "a")
	e.addPod("p", "node-1")
	e.start()
	e.run(20 * time.Second)
	e.nodes["node-1"].alive = false
	e.run(90 * time.Second)
	if n := e.node("node-1"); !hasTaintT(n, api.TaintNodeUnreachable, api.TaintNoExecute) {
		t.Fatalf("not tainted: %+v", n.Spec.Taints)
	}
	if _, ok := e.te.Scheduled("default", "p"); !ok {
		t.Fatalf("no eviction scheduled")
	}
	e.resume("node-1")
	e.run(12 * time.Second)
	n := e.node("node-1")
	if len(n.Spec.Taints) != 0 {
		t.Errorf("taints after the node came back: %+v", n.Spec.Taints)
	}
	if len(e.rec.find(Component, "untaint", "node/node-1")) == 0 {
		t.Errorf("no untaint record")
	}
	if _, ok := e.te.Scheduled("default", "p"); ok {
		t.Errorf("the eviction was not cancelled")
	}
	e.run(400 * time.Second)
	if p := e.pod("p"); p == nil || p.DeletionTimestamp != nil {
		t.Errorf("pod evicted although its node came back")
	}
}

func TestZoneRateLimitAndDisruption(t *testing.T) {
	type nodeSet struct {
		zone  string
		count int
	}
	cases := []struct {
		name      string
		nodes     []nodeSet
		stop      []string // stopped together
		wantTaint int      // NoExecute taints after the run
		minGap    time.Duration
		wantState ZoneState
	}{
		{name: "normal zone: 3 of 10 down, 10 s apart", nodes: []nodeSet{{"a", 10}}, stop: []string{"a-1", "a-2", "a-3"},
			wantTaint: 3, minGap: 10 * time.Second, wantState: StateNormal},
		{name: "small partially disrupted zone: rate 0", nodes: []nodeSet{{"a", 4}, {"b", 2}}, stop: []string{"a-1", "a-2", "a-3"},
			wantTaint: 0, wantState: StatePartialDisruption},
		{name: "one zone fully down, another healthy: normal rate", nodes: []nodeSet{{"a", 2}, {"b", 2}}, stop: []string{"a-1", "a-2"},
			wantTaint: 2, minGap: 10 * time.Second, wantState: StateFullDisruption},
		{name: "every zone down: no taints", nodes: []nodeSet{{"a", 2}, {"b", 1}}, stop: []string{"a-1", "a-2", "b-1"},
			wantTaint: 0, wantState: StateFullDisruption},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			for _, ns := range tc.nodes {
				for i := 1; i <= ns.count; i++ {
					e.addNode(fmt.Sprintf("%s-%d", ns.zone, i), ns.zone)
				}
			}
			e.start()
			e.run(20 * time.Second)
			for _, n := range tc.stop {
				e.nodes[n].alive = false
			}
			e.run(150 * time.Second)
			var times []sim.Time
			for _, r := range e.rec.find(Component, "taint", "") {
				if strings.Contains(r.Detail, "NoExecute (removed") {
					times = append(times, r.Time)
				}
			}
			if len(times) != tc.wantTaint {
				t.Fatalf("%d NoExecute taints, want %d", len(times), tc.wantTaint)
			}
			for i := 1; i < len(times); i++ {
				if g := times[i].Sub(times[i-1]); g < tc.minGap-50*time.Millisecond || g > tc.minGap+200*time.Millisecond {
					t.Errorf("taint %d came %v after the previous one, want %v", i, g, tc.minGap)
				}
			}
			if got := e.nlc.ZoneState("a"); got != tc.wantState {
				t.Errorf("zone a state %s, want %s", got, tc.wantState)
			}
		})
	}
}

func TestFullDisruptionRemovesTaints(t *testing.T) {
	e := newEnv(t, nil)
	e.addNode("a-1", "a")
	e.addNode("a-2", "a")
	e.addNode("b-1", "b")
	e.start()
	e.run(20 * time.Second)
	e.nodes["a-1"].alive = false
	e.run(80 * time.Second)
	if !hasTaintT(e.node("a-1"), api.TaintNodeUnreachable, api.TaintNoExecute) {
		t.Fatalf("a-1 not tainted")
	}
	e.nodes["a-2"].alive = false
	e.nodes["b-1"].alive = false
	e.run(80 * time.Second)
	if len(e.rec.find(Component, "full-disruption", "")) != 1 {
		t.Errorf("no full-disruption record")
	}
	for _, n := range []string{"a-1", "a-2", "b-1"} {
		if hasTaintT(e.node(n), api.TaintNodeUnreachable, api.TaintNoExecute) {
			t.Errorf("%s keeps its NoExecute taint in full disruption", n)
		}
	}
	// One node back: the others are tainted again, at the normal rate.
	e.resume("b-1")
	e.run(60 * time.Second)
	if e.nlc.ZoneState("b") != StateNormal {
		t.Errorf("zone b %s, want Normal", e.nlc.ZoneState("b"))
	}
	if !hasTaintT(e.node("a-1"), api.TaintNodeUnreachable, api.TaintNoExecute) {
		t.Errorf("a-1 not tainted again after the disruption ended")
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		field  string
	}{
		{"defaults", func(*Config) {}, ""},
		{"period", func(c *Config) { c.NodeMonitorPeriod = 0 }, "nodeMonitorPeriod"},
		{"grace", func(c *Config) { c.NodeMonitorGracePeriod = -1 }, "nodeMonitorGracePeriod"},
		{"startup", func(c *Config) { c.NodeStartupGracePeriod = 0 }, "nodeStartupGracePeriod"},
		{"rate", func(c *Config) { c.NodeEvictionRate = -1 }, "nodeEvictionRate"},
		{"secondary", func(c *Config) { c.SecondaryNodeEvictionRate = -1 }, "secondaryNodeEvictionRate"},
		{"threshold", func(c *Config) { c.UnhealthyZoneThreshold = 1.5 }, "unhealthyZoneThreshold"},
		{"large", func(c *Config) { c.LargeClusterSizeThreshold = -1 }, "largeClusterSizeThreshold"},
		{"tick", func(c *Config) { c.TaintingPassPeriod = 0 }, "taintingPassPeriod"},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		tc.mutate(&c)
		err := c.Validate(nil)
		if (err == nil) != (tc.field == "") || (err != nil && !strings.HasPrefix(err.Error(), tc.field+":")) {
			t.Errorf("%s: err %v, want field %q", tc.name, err, tc.field)
		}
	}
}

func TestBucket(t *testing.T) {
	b := newBucket(0.1, 0)
	steps := []struct {
		at   time.Duration
		want bool
	}{{0, true}, {time.Second, false}, {9999 * time.Millisecond, false}, {10 * time.Second, true}, {15 * time.Second, false}, {40 * time.Second, true}, {41 * time.Second, false}}
	for _, s := range steps {
		if got := b.tryAccept(sim.Time(s.at)); got != s.want {
			t.Errorf("tryAccept at %v = %v, want %v", s.at, got, s.want)
		}
	}
	never := newBucket(0, 0)
	if never.tryAccept(sim.Time(time.Hour)) {
		t.Errorf("a zero-rate bucket accepted")
	}
}
