package podgc

import (
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/sim"
)

type recorder struct{ recs []sim.Record }

func (r *recorder) Trace(x sim.Record)                { r.recs = append(r.recs, x) }
func (r *recorder) Observe(string, sim.Time, float64) {}
func (r *recorder) Gauge(string, sim.Time, float64)   {}

type env struct {
	t    *testing.T
	eng  *sim.Engine
	user *apiserver.Client
	rec  *recorder
	c    *Controller
}

func newEnv(t *testing.T, cfg Config) *env {
	eng := sim.New(5)
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
	c, err := New(eng, srv.Client("controller-manager", 0, 0), cfg, reg, rec)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, eng: eng, user: srv.Client("test", 0, 0), rec: rec, c: c}
}

func (e *env) run(d time.Duration) { e.eng.RunUntil(e.eng.Now().Add(d)) }

func (e *env) do(what string, start func(done func(error))) {
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

func (e *env) create(o api.Object) {
	e.do("create "+api.Ref(o), func(done func(error)) { e.user.Create(o, func(_ api.Object, err error) { done(err) }) })
}

func (e *env) node(name string, ready api.ConditionStatus, taints ...api.Taint) {
	e.create(&api.Node{ObjectMeta: api.ObjectMeta{Name: name}, Spec: api.NodeSpec{Taints: taints},
		Status: api.NodeStatus{Conditions: []api.NodeCondition{{Type: api.NodeReady, Status: ready}}}})
}

func (e *env) pod(name, node string, phase api.PodPhase) {
	p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"},
		Spec: api.PodSpec{NodeName: api.NodeName(node), Containers: []api.Container{{Name: "c", Image: "nginx:1"}}}}
	p.Status.Phase = phase
	e.create(p)
}

func (e *env) deleteGraceful(name string) {
	e.do("delete", func(done func(error)) { e.user.Delete(api.KindPod, "default", name, apiserver.DeleteOptions{}, done) })
}

func (e *env) exists(name string) bool {
	found := false
	e.do("get", func(done func(error)) {
		e.user.Get(api.KindPod, "default", name, func(_ api.Object, err error) {
			found = err == nil
			done(nil)
		})
	})
	return found
}

func TestGC(t *testing.T) {
	outOfService := api.Taint{Key: TaintNodeOutOfService, Value: "nodeshutdown", Effect: api.TaintNoExecute}
	unreachable := api.Taint{Key: api.TaintNodeUnreachable, Effect: api.TaintNoExecute}
	e := newEnv(t, Config{TerminatedPodGCThreshold: 2, GCCheckPeriod: 20 * time.Second, QuarantineTime: 40 * time.Second})
	e.node("ready", api.ConditionTrue)
	e.node("unreachable", api.ConditionUnknown, unreachable)
	e.node("shut-down", api.ConditionUnknown, unreachable, outOfService)
	e.node("gone", api.ConditionTrue)
	for i, n := range []string{"done-1", "done-2", "done-3", "done-4"} {
		e.run(time.Duration(i+1) * time.Second)
		e.pod(n, "ready", api.PodSucceeded)
	}
	e.pod("terminating-unreachable", "unreachable", api.PodRunning)
	e.pod("terminating-shut-down", "shut-down", api.PodRunning)
	e.pod("orphan", "gone", api.PodRunning)
	e.pod("running", "ready", api.PodRunning)
	e.deleteGraceful("terminating-unreachable")
	e.deleteGraceful("terminating-shut-down")
	e.do("delete node", func(done func(error)) { e.user.Delete(api.KindNode, "", "gone", apiserver.DeleteOptions{}, done) })
	start := e.eng.Now()
	e.c.Start()
	e.run(30 * time.Second) // one pass
	want := map[string]bool{
		"done-1": false, "done-2": false, "done-3": true, "done-4": true, // the two oldest beyond threshold 2
		"terminating-unreachable": true, // upstream leaves it to the node or an admin
		"terminating-shut-down":   false,
		"orphan":                  true, // still in quarantine
		"running":                 true,
	}
	for n, w := range want {
		if got := e.exists(n); got != w {
			t.Errorf("after the first pass: %s exists=%v, want %v", n, got, w)
		}
	}
	e.run(60 * time.Second)
	if e.exists("orphan") {
		t.Errorf("orphan not collected after the quarantine")
	}
	if !e.exists("terminating-unreachable") || !e.exists("running") {
		t.Errorf("collected a pod it must leave alone")
	}
	var orphanAt sim.Time
	for _, r := range e.rec.recs {
		if r.Component == Component && r.Object == "pod/default/orphan" {
			orphanAt = r.Time
			if r.Step != 7 || !strings.Contains(r.Detail, "orphaned") {
				t.Errorf("orphan record %+v", r)
			}
		}
	}
	if d := orphanAt.Sub(start); d < 40*time.Second || d > 80*time.Second {
		t.Errorf("orphan collected %v after start, want after the 40 s quarantine, at a 20 s pass", d)
	}
	if e.c.Deleted() != 4 {
		t.Errorf("deleted %d pods, want 4", e.c.Deleted())
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"defaults", DefaultConfig(), ""},
		{"threshold", Config{TerminatedPodGCThreshold: -1, GCCheckPeriod: time.Second}, "terminatedPodGCThreshold"},
		{"period", Config{}, "gcCheckPeriod"},
		{"quarantine", Config{GCCheckPeriod: time.Second, QuarantineTime: -1}, "quarantineTime"},
	}
	for _, tc := range cases {
		err := tc.cfg.Validate(nil)
		if (err == nil) != (tc.field == "") || (err != nil && !strings.HasPrefix(err.Error(), tc.field+":")) {
			t.Errorf("%s: %v, want field %q", tc.name, err, tc.field)
		}
	}
}
