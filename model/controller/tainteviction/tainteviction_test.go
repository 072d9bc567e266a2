package tainteviction

import (
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

func newEnv(t *testing.T) *env {
	eng := sim.New(3)
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
	c, err := New(eng, srv.Client("controller-manager", 0, 0), DefaultConfig(), reg, rec)
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
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

func (e *env) setTaints(taints ...api.Taint) {
	var n *api.Node
	e.do("get", func(done func(error)) {
		e.user.Get(api.KindNode, "", "n1", func(o api.Object, err error) {
			if err == nil {
				n = o.(*api.Node).DeepCopy()
			}
			done(err)
		})
	})
	n.Spec.Taints = taints
	e.do("update", func(done func(error)) { e.user.Update(n, func(_ api.Object, err error) { done(err) }) })
}

func (e *env) pod(name string) *api.Pod {
	var p *api.Pod
	e.do("get", func(done func(error)) {
		e.user.Get(api.KindPod, "default", name, func(o api.Object, err error) {
			if err == nil {
				p = o.(*api.Pod)
			}
			done(nil)
		})
	})
	return p
}

func secs(s int64) *int64 { return &s }

func TestEvictionRules(t *testing.T) {
	dedicated := api.Taint{Key: "dedicated", Value: "db", Effect: api.TaintNoExecute}
	cases := []struct {
		name    string
		tols    []api.Toleration
		removeA time.Duration // remove the taint after this long (0 = never)
		evictAt time.Duration // -1 = never
	}{
		{"not tolerated: at once", nil, 0, 0},
		{"tolerated forever", []api.Toleration{{Key: "dedicated", Operator: api.TolerationOpExists, Effect: api.TaintNoExecute}}, 0, -1},
		{"tolerated 20 s", []api.Toleration{{Key: "dedicated", Operator: api.TolerationOpEqual, Value: "db", Effect: api.TaintNoExecute, TolerationSeconds: secs(20)}}, 0, 20 * time.Second},
		{"tolerationSeconds 0: at once", []api.Toleration{{Key: "dedicated", Operator: api.TolerationOpExists, TolerationSeconds: secs(0)}}, 0, 0},
		{"taint removed before the deadline", []api.Toleration{{Key: "dedicated", Operator: api.TolerationOpExists, TolerationSeconds: secs(20)}}, 10 * time.Second, -1},
		{"wrong value: not tolerated", []api.Toleration{{Key: "dedicated", Operator: api.TolerationOpEqual, Value: "web", Effect: api.TaintNoExecute}}, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.do("node", func(done func(error)) {
				e.user.Create(&api.Node{ObjectMeta: api.ObjectMeta{Name: "n1"}}, func(_ api.Object, err error) { done(err) })
			})
			p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: "p", Namespace: "default"},
				Spec: api.PodSpec{NodeName: "n1", Containers: []api.Container{{Name: "c", Image: "nginx:1"}}, Tolerations: tc.tols}}
			e.do("pod", func(done func(error)) { e.user.Create(p, func(_ api.Object, err error) { done(err) }) })
			e.run(time.Second)
			t0 := e.eng.Now()
			e.setTaints(dedicated)
			if tc.removeA > 0 {
				e.run(tc.removeA)
				e.setTaints()
			}
			e.run(60 * time.Second)
			var ev []sim.Record
			for _, r := range e.rec.recs {
				if r.Component == Component && r.Action == "evict" {
					ev = append(ev, r)
				}
			}
			if tc.evictAt < 0 {
				if len(ev) != 0 || e.pod("p").DeletionTimestamp != nil {
					t.Fatalf("evicted: %+v", ev)
				}
				return
			}
			if len(ev) != 1 {
				t.Fatalf("%d evictions, want 1", len(ev))
			}
			if d := ev[0].Time.Sub(t0) - tc.evictAt; d < 0 || d > 100*time.Millisecond {
				t.Errorf("evicted at %v after the taint, want %v", ev[0].Time.Sub(t0), tc.evictAt)
			}
			if ev[0].Step != 7 {
				t.Errorf("step %d, want 7", ev[0].Step)
			}
			if e.pod("p").DeletionTimestamp == nil {
				t.Errorf("pod not terminating after its eviction")
			}
		})
	}
}

func TestMinTolerationTime(t *testing.T) {
	cases := []struct {
		name string
		tols []api.Toleration
		want time.Duration
	}{
		{"none", nil, 0},
		{"forever", []api.Toleration{{Key: "a"}}, -1},
		{"min", []api.Toleration{{Key: "a", TolerationSeconds: secs(300)}, {Key: "b", TolerationSeconds: secs(30)}, {Key: "c"}}, 30 * time.Second},
		{"negative is now", []api.Toleration{{Key: "a", TolerationSeconds: secs(-5)}, {Key: "b", TolerationSeconds: secs(30)}}, 0},
	}
	for _, tc := range cases {
		if got, _ := minTolerationTime(tc.tols); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
