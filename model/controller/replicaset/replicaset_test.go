package replicaset

import (
	"fmt"
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

func (r *recorder) find(step int, action string) []sim.Record {
	var out []sim.Record
	for _, x := range r.recs {
		if x.Component == Component && (step < 0 || x.Step == step) && x.Action == action {
			out = append(out, x)
		}
	}
	return out
}

type env struct {
	t    *testing.T
	eng  *sim.Engine
	srv  *apiserver.Server
	user *apiserver.Client
	rec  *recorder
}

func newEnv(t *testing.T, seed uint64) *env {
	t.Helper()
	eng := sim.New(seed)
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
	return &env{t: t, eng: eng, srv: srv, user: srv.Client("test", 0, 0), rec: rec}
}

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

func (e *env) pods() (active, all []*api.Pod) {
	e.wait("list pods", func(done func(error)) {
		e.user.List(api.KindPod, apiserver.ListOptions{}, func(objs []api.Object, err error) {
			for _, o := range objs {
				p := o.(*api.Pod)
				all = append(all, p)
				if isActive(p) {
					active = append(active, p)
				}
			}
			done(err)
		})
	})
	return active, all
}

func (e *env) rs(name string) *api.ReplicaSet {
	var out *api.ReplicaSet
	e.wait("get rs", func(done func(error)) {
		e.user.Get(api.KindReplicaSet, "default", name, func(o api.Object, err error) {
			if err == nil {
				out = o.(*api.ReplicaSet)
			}
			done(err)
		})
	})
	return out
}

func web(replicas int32) *api.ReplicaSet {
	return &api.ReplicaSet{
		ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: api.ReplicaSetSpec{
			Replicas: replicas,
			Selector: &api.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: api.PodTemplateSpec{Labels: map[string]string{"app": "web", "tier": "front"}, Annotations: map[string]string{"note": "x"},
				Spec: api.PodSpec{Containers: []api.Container{{Name: "nginx", Image: "nginx:1.27"}}}},
		},
	}
}

func (e *env) createRS(rs *api.ReplicaSet) {
	e.wait("create rs", func(done func(error)) { e.user.Create(rs, func(_ api.Object, err error) { done(err) }) })
}

func (e *env) scale(name string, replicas int32) {
	for i := 0; i < 10; i++ {
		rs := e.rs(name).DeepCopy()
		rs.Spec.Replicas = replicas
		var err error
		e.wait("scale", func(done func(error)) { e.user.Update(rs, func(_ api.Object, er error) { err = er; done(nil) }) })
		if err == nil {
			return
		}
		if !apiserver.IsConflict(err) {
			e.t.Fatal(err)
		}
	}
	e.t.Fatal("scale kept conflicting")
}

// setStatus plays a kubelet: it writes a pod's status.
func (e *env) setStatus(p *api.Pod, mutate func(p *api.Pod)) {
	np := p.DeepCopy()
	mutate(np)
	np.ResourceVersion = 0
	e.wait("status "+p.Name, func(done func(error)) { e.user.UpdateStatus(np, func(_ api.Object, err error) { done(err) }) })
}

func (e *env) ready(p *api.Pod, ip string) {
	e.setStatus(p, func(np *api.Pod) {
		np.Status.Phase = api.PodRunning
		np.Status.PodIP = ip
		np.SetCondition(api.PodReady, api.ConditionTrue, "", e.eng.Now())
	})
}

func (e *env) bind(p *api.Pod, node string) {
	e.wait("bind "+p.Name, func(done func(error)) {
		e.user.Bind(&api.Binding{PodNamespace: p.Namespace, PodName: p.Name, PodUID: p.UID, Target: api.NodeName(node)}, done)
	})
}

func TestCreatesPodsFromTemplate(t *testing.T) {
	e := newEnv(t, 3)
	e.createRS(web(3))
	e.run(2 * time.Second)
	rs := e.rs("web")
	active, _ := e.pods()
	if len(active) != 3 {
		t.Fatalf("want 3 pods, got %d", len(active))
	}
	for _, p := range active {
		suffix := strings.TrimPrefix(p.Name, "web-")
		if len(suffix) != 5 || strings.Trim(suffix, nameAlphabet) != "" {
			t.Errorf("pod name %q is not web-<5 chars of %s>", p.Name, nameAlphabet)
		}
		if ref := p.ControllerRef(); ref == nil || ref.UID != rs.UID || ref.Kind != api.KindReplicaSet {
			t.Errorf("pod %s owner %+v", p.Name, p.OwnerReferences)
		}
		if p.Labels["tier"] != "front" || p.Annotations["note"] != "x" || p.Spec.Containers[0].Image != "nginx:1.27" {
			t.Errorf("pod %s does not carry the template: %v %v %+v", p.Name, p.Labels, p.Annotations, p.Spec.Containers)
		}
	}
	creates := e.rec.find(2, "create-pod")
	if len(creates) != 3 {
		t.Fatalf("want 3 create-pod records, got %d", len(creates))
	}
	for i, wantBatch := range []string{"batch 1 of slow start", "batch 2 of slow start", "batch 2 of slow start"} {
		if !strings.Contains(creates[i].Detail, wantBatch) {
			t.Errorf("record %d: %q lacks %q", i, creates[i].Detail, wantBatch)
		}
	}
	if creates[1].Time <= creates[0].Time || creates[2].Time != creates[1].Time {
		t.Errorf("batch 2 must start after batch 1 returned, both its pods at once: %v %v %v", creates[0].Time, creates[1].Time, creates[2].Time)
	}
	if st := rs.Status; st.Replicas != 3 || st.ReadyReplicas != 0 || st.FullyLabeledReplicas != 3 || st.ObservedGeneration != 1 {
		t.Fatalf("status %+v", st)
	}
}

func TestReadyStatusAndStepSeven(t *testing.T) {
	e := newEnv(t, 4)
	e.createRS(web(3))
	e.run(time.Second)
	active, _ := e.pods()
	for i, p := range active {
		e.ready(p, fmt.Sprintf("10.244.0.%d", i+1))
	}
	e.run(time.Second)
	// Another kubelet status write that changes nothing relevant.
	active, _ = e.pods()
	e.setStatus(active[0], func(np *api.Pod) { np.Status.HostIP = "192.168.0.1" })
	e.run(time.Second)

	want := api.ReplicaSetStatus{ObservedGeneration: 1, Replicas: 3, FullyLabeledReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3}
	if st := e.rs("web").Status; st != want {
		t.Fatalf("status %+v, want %+v", st, want)
	}
	got := e.rec.find(7, "status")
	if len(got) != 1 || got[0].Detail != "observed 3/3 ready = desired 3" {
		t.Fatalf("step-7 status records: %+v", got)
	}
	for _, x := range e.rec.find(-1, "status") {
		if x.Step != 0 && x.Step != 7 {
			t.Fatalf("status record with step %d", x.Step)
		}
	}
}

func TestMinReadySeconds(t *testing.T) {
	e := newEnv(t, 5)
	rs := web(2)
	rs.Spec.MinReadySeconds = 10
	e.createRS(rs)
	e.run(time.Second)
	active, _ := e.pods()
	for i, p := range active {
		e.ready(p, fmt.Sprintf("10.244.0.%d", i+1))
	}
	e.run(5 * time.Second)
	if st := e.rs("web").Status; st.ReadyReplicas != 2 || st.AvailableReplicas != 0 {
		t.Fatalf("after 5 s: %+v, want 2 ready and 0 available", st)
	}
	e.run(7 * time.Second)
	if st := e.rs("web").Status; st.AvailableReplicas != 2 {
		t.Fatalf("after 12 s: %+v, want 2 available", st)
	}
}

func TestScaleUpAndDownByRanking(t *testing.T) {
	e := newEnv(t, 6)
	e.createRS(web(3))
	e.run(time.Second)
	e.scale("web", 5)
	e.run(time.Second)
	active, _ := e.pods()
	if len(active) != 5 {
		t.Fatalf("after scaling to 5: %d pods", len(active))
	}
	// Give the pods the states the ranking distinguishes (active is sorted by name).
	unscheduled, pending, unready, readyOld, readyNew := active[0], active[1], active[2], active[3], active[4]
	e.bind(pending, "node-a")
	e.bind(unready, "node-a")
	e.bind(readyOld, "node-b")
	e.bind(readyNew, "node-c")
	active, _ = e.pods()
	byName := map[string]*api.Pod{}
	for _, p := range active {
		byName[p.Name] = p
	}
	e.setStatus(byName[unready.Name], func(np *api.Pod) { np.Status.Phase = api.PodRunning; np.Status.PodIP = "10.0.0.3" })
	e.ready(byName[readyOld.Name], "10.0.0.4")
	e.run(30 * time.Second)
	e.ready(byName[readyNew.Name], "10.0.0.5")
	e.run(2 * time.Second)

	e.scale("web", 1)
	e.run(2 * time.Second)

	dels := e.rec.find(7, "delete-pod")
	want := []struct{ name, why string }{
		{unscheduled.Name, "unscheduled first"},
		{pending.Name, "pending first"},
		{unready.Name, "unready first"},
		{readyNew.Name, "most recently ready first"},
	}
	if len(dels) != len(want) {
		t.Fatalf("want %d deletions, got %d: %+v", len(want), len(dels), dels)
	}
	for i, w := range want {
		if dels[i].Object != "pod/default/"+w.name || !strings.Contains(dels[i].Detail, "("+w.why+")") {
			t.Errorf("deletion %d: %s %q, want %s (%s)", i, dels[i].Object, dels[i].Detail, w.name, w.why)
		}
	}
	active, all := e.pods()
	if len(active) != 1 || active[0].Name != readyOld.Name {
		t.Fatalf("the oldest ready pod should stay, active: %v", names(active))
	}
	// The unscheduled pod is gone at once; bound pods terminate gracefully.
	if len(all) != 4 {
		t.Fatalf("want 4 pods left (1 active, 3 terminating), got %v", names(all))
	}
	if st := e.rs("web").Status; st.Replicas != 1 || st.ReadyReplicas != 1 {
		t.Fatalf("status %+v", st)
	}
	if got := e.rec.find(7, "status"); len(got) != 1 || got[0].Detail != "observed 1/1 ready = desired 1" {
		t.Fatalf("step-7 status records %+v", got)
	}
}

func names(ps []*api.Pod) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func TestDeletedPodIsReplaced(t *testing.T) {
	e := newEnv(t, 7)
	e.createRS(web(3))
	e.run(time.Second)
	before, _ := e.pods()
	victim := before[1]
	e.wait("delete", func(done func(error)) {
		e.user.Delete(api.KindPod, "default", victim.Name, apiserver.DeleteOptions{}, done)
	})
	e.run(time.Second)
	after, _ := e.pods()
	if len(after) != 3 {
		t.Fatalf("want 3 pods again, got %v", names(after))
	}
	for _, p := range after {
		if p.Name == victim.Name {
			t.Fatalf("deleted pod %s still there", victim.Name)
		}
	}
	if n := len(e.rec.find(2, "create-pod")); n != 4 {
		t.Fatalf("want 4 creations (3 + 1 replacement), got %d", n)
	}
}

// TestSlowStartStopsOnFailure takes the apiserver down while the controller creates
// pods: each sync tries one batch of 1, fails, skips the rest; once the apiserver is
// back the pods are created.
func TestSlowStartStopsOnFailure(t *testing.T) {
	e := newEnv(t, 8)
	e.run(100 * time.Millisecond) // informers synced
	e.createRS(web(8))
	// Go down as soon as the first creation is on its way (the apiserver model
	// drops watch events while down, so the ReplicaSet must be seen first).
	for i := 0; i < 100000 && len(e.rec.find(2, "create-pod")) == 0; i++ {
		e.eng.Step()
	}
	e.srv.SetAvailable(false)
	down := e.eng.Now()
	e.run(2 * time.Second)
	up := e.eng.Now()
	e.srv.SetAvailable(true)
	e.run(30 * time.Second)

	var during []sim.Record
	for _, x := range e.rec.find(2, "create-pod") {
		if x.Time >= down && x.Time < up {
			during = append(during, x)
		}
	}
	if len(during) == 0 {
		t.Fatal("the controller made no attempt during the outage")
	}
	for _, x := range during {
		if !strings.Contains(x.Detail, "batch 1 of slow start") {
			t.Fatalf("a later batch was tried after a failure: %s", x.Detail)
		}
	}
	if len(e.rec.find(0, "create-pod-failed")) == 0 {
		t.Fatal("no create-pod-failed record")
	}
	if active, _ := e.pods(); len(active) != 8 {
		t.Fatalf("after recovery: %d pods, want 8", len(active))
	}
}

func TestCascadeDelete(t *testing.T) {
	e := newEnv(t, 9)
	e.createRS(web(3))
	e.run(time.Second)
	e.wait("delete rs", func(done func(error)) {
		e.user.Delete(api.KindReplicaSet, "default", "web", apiserver.DeleteOptions{}, done)
	})
	e.run(time.Second)
	if _, all := e.pods(); len(all) != 0 {
		t.Fatalf("pods left: %v", names(all))
	}
}

func TestConfigValidate(t *testing.T) {
	reg := dist.NewRegistry()
	cases := []struct {
		name   string
		mutate func(c *Config)
		field  string
	}{
		{"defaults", func(*Config) {}, ""},
		{"burst", func(c *Config) { c.BurstReplicas = 0 }, "burstReplicas"},
		{"timeout", func(c *Config) { c.ExpectationsTimeout = 0 }, "expectationsTimeout"},
		{"latency", func(c *Config) { c.SyncLatency = dist.Spec{} }, "syncLatency"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			c.mutate(&cfg)
			err := cfg.Validate(reg)
			if (err == nil) != (c.field == "") || (err != nil && !strings.Contains(err.Error(), c.field)) {
				t.Fatalf("Validate() = %v, want error naming %q", err, c.field)
			}
		})
	}
}
