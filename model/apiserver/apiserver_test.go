package apiserver

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/sim"
)

func stack(t testing.TB) (*sim.Engine, *Server) {
	t.Helper()
	eng := sim.New(1)
	reg := dist.NewRegistry()
	st, err := etcd.New(eng, etcd.DefaultConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(eng, st, DefaultConfig(), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return eng, srv
}

func pod(name string, node api.NodeName, labels map[string]string) *api.Pod {
	return &api.Pod{
		ObjectMeta: api.ObjectMeta{Name: name, Labels: labels},
		Spec:       api.PodSpec{NodeName: node, Containers: []api.Container{{Name: "c", Image: "nginx:1.27"}}},
	}
}

func mustCreate(t testing.TB, eng *sim.Engine, c *Client, o api.Object) api.Object {
	t.Helper()
	var got api.Object
	var err error
	c.Create(o, func(x api.Object, e error) { got, err = x, e })
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	if err != nil || got == nil {
		t.Fatalf("create %s: %v", api.Ref(o), err)
	}
	return got
}

func TestCreateDefaultsAndGet(t *testing.T) {
	eng, srv := stack(t)
	c := srv.Client("test", 0, 0)
	p := mustCreate(t, eng, c, pod("a", "", nil)).(*api.Pod)
	if p.Namespace != "default" || p.UID == "" || p.ResourceVersion == 0 || p.Status.Phase != api.PodPending {
		t.Fatalf("server-set fields missing: %+v", p.ObjectMeta)
	}
	if p.Spec.SchedulerName != api.DefaultSchedulerName || p.Spec.Containers[0].ImagePullPolicy != api.PullIfNotPresent {
		t.Fatalf("defaults not applied: %+v", p.Spec)
	}
	if len(p.Spec.Tolerations) != 2 || *p.Spec.Tolerations[0].TolerationSeconds != 300 {
		t.Fatalf("default tolerations: %+v", p.Spec.Tolerations)
	}
	var got api.Object
	c.Get(api.KindPod, "default", "a", func(o api.Object, err error) { got = o })
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	if got == nil || got.Meta().UID != p.UID {
		t.Fatalf("get returned %v", got)
	}
	// A second create is AlreadyExists; a missing get is NotFound.
	var err1, err2 error
	c.Create(pod("a", "", nil), func(_ api.Object, e error) { err1 = e })
	c.Get(api.KindPod, "default", "zz", func(_ api.Object, e error) { err2 = e })
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	if !IsAlreadyExists(err1) || !IsNotFound(err2) {
		t.Fatalf("errors: %v / %v", err1, err2)
	}
}

func TestValidationRejects(t *testing.T) {
	tests := []struct {
		name string
		obj  api.Object
	}{
		{"pod without containers", &api.Pod{ObjectMeta: api.ObjectMeta{Name: "x"}}},
		{"pod without image", &api.Pod{ObjectMeta: api.ObjectMeta{Name: "x"}, Spec: api.PodSpec{Containers: []api.Container{{Name: "c"}}}}},
		{"negative replicas", &api.Deployment{ObjectMeta: api.ObjectMeta{Name: "d"}, Spec: api.DeploymentSpec{Replicas: -1,
			Selector: &api.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Template: api.PodTemplateSpec{Labels: map[string]string{"a": "b"}, Spec: api.PodSpec{Containers: []api.Container{{Name: "c", Image: "i:1"}}}}}}},
		{"selector not matching template", &api.Deployment{ObjectMeta: api.ObjectMeta{Name: "d"}, Spec: api.DeploymentSpec{Replicas: 1,
			Selector: &api.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Template: api.PodTemplateSpec{Labels: map[string]string{"a": "c"}, Spec: api.PodSpec{Containers: []api.Container{{Name: "c", Image: "i:1"}}}}}}},
		{"service without ports", &api.Service{ObjectMeta: api.ObjectMeta{Name: "s"}}},
		{"no name", &api.Service{Spec: api.ServiceSpec{Ports: []api.ServicePort{{Port: 80}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng, srv := stack(t)
			var err error
			srv.Client("t", 0, 0).Create(tc.obj, func(_ api.Object, e error) { err = e })
			eng.RunUntil(eng.Now() + sim.Time(time.Minute))
			if ReasonOf(err) != ReasonInvalid {
				t.Fatalf("err = %v, want Invalid", err)
			}
		})
	}
}

func TestUpdateConflictAndStatus(t *testing.T) {
	eng, srv := stack(t)
	c := srv.Client("t", 0, 0)
	p := mustCreate(t, eng, c, pod("a", "", nil)).(*api.Pod)
	stale := p.DeepCopy()
	fresh := p.DeepCopy()
	fresh.Labels = map[string]string{"v": "1"}
	var err error
	c.Update(fresh, func(_ api.Object, e error) { err = e })
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	stale.Labels = map[string]string{"v": "2"}
	c.Update(stale, func(_ api.Object, e error) { err = e })
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	if !IsConflict(err) {
		t.Fatalf("stale update: err = %v, want Conflict", err)
	}
	// UpdateStatus without a resource version keeps the labels and changes the status.
	st := p.DeepCopy()
	st.ResourceVersion = 0
	st.Labels = nil
	st.Status.Phase = api.PodRunning
	var got api.Object
	c.UpdateStatus(st, func(o api.Object, e error) { got, err = o, e })
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	gp := got.(*api.Pod)
	if err != nil || gp.Status.Phase != api.PodRunning || gp.Labels["v"] != "1" {
		t.Fatalf("status update: %v %+v", err, gp)
	}
}

func TestGenerationBumpsOnSpecChange(t *testing.T) {
	eng, srv := stack(t)
	c := srv.Client("t", 0, 0)
	d := &api.Deployment{ObjectMeta: api.ObjectMeta{Name: "d"}, Spec: api.DeploymentSpec{Replicas: 1,
		Selector: &api.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
		Template: api.PodTemplateSpec{Labels: map[string]string{"a": "b"}, Spec: api.PodSpec{Containers: []api.Container{{Name: "c", Image: "i:1"}}}}}}
	got := mustCreate(t, eng, c, d).(*api.Deployment)
	if got.Generation != 1 {
		t.Fatalf("generation %d", got.Generation)
	}
	upd := got.DeepCopy()
	upd.Status.Replicas = 1
	var out api.Object
	c.UpdateStatus(upd, func(o api.Object, _ error) { out = o })
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	if out.Meta().Generation != 1 {
		t.Fatalf("status update bumped generation to %d", out.Meta().Generation)
	}
	upd = out.(*api.Deployment).DeepCopy()
	upd.Spec.Replicas = 3
	c.Update(upd, func(o api.Object, _ error) { out = o })
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	if out.Meta().Generation != 2 {
		t.Fatalf("spec update: generation %d, want 2", out.Meta().Generation)
	}
}

func TestBind(t *testing.T) {
	eng, srv := stack(t)
	c := srv.Client("t", 0, 0)
	p := mustCreate(t, eng, c, pod("a", "", nil)).(*api.Pod)
	var err1, err2 error
	c.Bind(&api.Binding{PodNamespace: "default", PodName: "a", PodUID: p.UID, Target: "n1"}, func(e error) { err1 = e })
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	c.Bind(&api.Binding{PodNamespace: "default", PodName: "a", Target: "n2"}, func(e error) { err2 = e })
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	if err1 != nil || !IsConflict(err2) {
		t.Fatalf("bind errors %v / %v", err1, err2)
	}
	kv, _ := srv.Store().Get(api.Key(api.KindPod, "default", "a"))
	bp := kv.Value.(*api.Pod)
	if bp.Spec.NodeName != "n1" || bp.Condition(api.PodScheduled) == nil {
		t.Fatalf("bound pod: %+v", bp)
	}
}

func TestGracefulPodDelete(t *testing.T) {
	eng, srv := stack(t)
	c := srv.Client("t", 0, 0)
	mustCreate(t, eng, c, pod("bound", "n1", nil))
	mustCreate(t, eng, c, pod("pending", "", nil))
	for _, n := range []string{"bound", "pending"} {
		c.Delete(api.KindPod, "default", n, DeleteOptions{}, nil)
	}
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	kv, ok := srv.Store().Get(api.Key(api.KindPod, "default", "bound"))
	if !ok || kv.Value.(*api.Pod).DeletionTimestamp == nil {
		t.Fatal("bound pod should be terminating, not gone")
	}
	if _, ok := srv.Store().Get(api.Key(api.KindPod, "default", "pending")); ok {
		t.Fatal("unscheduled pod should be deleted at once")
	}
	zero := int64(0)
	c.Delete(api.KindPod, "default", "bound", DeleteOptions{GracePeriodSeconds: &zero}, nil)
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	if _, ok := srv.Store().Get(api.Key(api.KindPod, "default", "bound")); ok {
		t.Fatal("grace-0 delete should remove the pod")
	}
}

type evLog struct{ got []string }

func (l *evLog) h(ev WatchEvent) {
	l.got = append(l.got, fmt.Sprintf("%s %s", ev.Type, ev.Object.Meta().Name))
}

func TestWatchFieldSelectorTransitions(t *testing.T) {
	eng, srv := stack(t)
	c := srv.Client("t", 0, 0)
	mustCreate(t, eng, c, pod("early", "n1", nil))
	var n1, n2, unassigned, all evLog
	c.Watch(api.KindPod, ListOptions{Field: FieldNodeName, FieldValue: "n1"}, n1.h, nil)
	c.Watch(api.KindPod, ListOptions{Field: FieldNodeName, FieldValue: "n2"}, n2.h, nil)
	c.Watch(api.KindPod, ListOptions{Field: FieldNodeName, FieldValue: ""}, unassigned.h, nil)
	c.Watch(api.KindPod, ListOptions{}, all.h, nil)
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	mustCreate(t, eng, c, pod("p", "", nil))
	c.Bind(&api.Binding{PodNamespace: "default", PodName: "p", Target: "n1"}, nil)
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	c.Delete(api.KindPod, "default", "p", DeleteOptions{GracePeriodSeconds: new(int64)}, nil)
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	check := func(name string, got, want []string) {
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s watch got %v, want %v", name, got, want)
		}
	}
	check("n1", n1.got, []string{"ADDED early", "ADDED p", "DELETED p"})
	check("n2", n2.got, nil)
	check("unassigned", unassigned.got, []string{"ADDED p", "DELETED p"})
	check("all", all.got, []string{"ADDED early", "ADDED p", "MODIFIED p", "DELETED p"})
}

func TestWatchLabelSelectorAndNoDuplicates(t *testing.T) {
	eng, srv := stack(t)
	c := srv.Client("t", 0, 0)
	// Start a watch while writes are in flight: every object must be seen exactly once
	// as ADDED, in a consistent order, with no gap.
	var l evLog
	for i := 0; i < 20; i++ {
		c.Create(pod(fmt.Sprintf("p%02d", i), "", map[string]string{"app": "web"}), nil)
	}
	c.Create(pod("other", "", map[string]string{"app": "db"}), nil)
	eng.RunUntil(eng.Now() + sim.Time(2*time.Millisecond))
	synced := false
	c.Watch(api.KindPod, ListOptions{Labels: &api.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}, l.h, func() { synced = true })
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	if !synced {
		t.Fatal("watch never synced")
	}
	seen := map[string]int{}
	for _, g := range l.got {
		seen[g]++
	}
	if len(seen) != 20 {
		t.Fatalf("saw %d distinct events, want 20: %v", len(seen), l.got)
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("%s seen %d times", k, n)
		}
	}
}

func TestWatchDeliveryCostIsIndexed(t *testing.T) {
	// 1,000 kubelet-style watches; an event for a pod on node n7 must only reach n7's.
	eng, srv := stack(t)
	c := srv.Client("t", 0, 0)
	calls := 0
	for i := 0; i < 1000; i++ {
		c.Watch(api.KindPod, ListOptions{Field: FieldNodeName, FieldValue: fmt.Sprintf("n%d", i)}, func(WatchEvent) { calls++ }, nil)
	}
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	mustCreate(t, eng, c, pod("x", "n7", nil))
	if calls != 1 {
		t.Fatalf("handlers called %d times, want 1", calls)
	}
	if n := len(srv.watches[api.KindPod].all); n != 0 {
		t.Fatalf("field-selected watches must not sit in the unindexed list (%d)", n)
	}
}

func TestClientRateLimit(t *testing.T) {
	eng, srv := stack(t)
	c := srv.Client("slow", 10, 5) // 10 QPS, burst 5
	var done []sim.Time
	for i := 0; i < 25; i++ {
		c.Create(pod(fmt.Sprintf("p%d", i), "", nil), func(api.Object, error) { done = append(done, eng.Now()) })
	}
	eng.RunUntil(eng.Now() + sim.Time(time.Minute))
	if len(done) != 25 {
		t.Fatalf("%d of 25 requests finished", len(done))
	}
	// 5 go at once, the other 20 at 10/s: the last starts about 2 s in.
	last := done[len(done)-1].Seconds()
	if last < 1.9 || last > 2.2 {
		t.Fatalf("last request finished at %.3fs, want about 2s", last)
	}
}

func TestInflightCapQueues(t *testing.T) {
	eng := sim.New(1)
	reg := dist.NewRegistry()
	st, _ := etcd.New(eng, etcd.Config{Members: 1, Fsync: dist.Const(10 * time.Millisecond), RTT: dist.Const(0)}, reg)
	cfg := DefaultConfig()
	cfg.MaxMutatingRequestsInflight = 2
	cfg.RequestLatency = dist.Const(0)
	srv, _ := New(eng, st, cfg, reg, nil)
	c := srv.Client("t", 0, 0)
	maxSeen := 0
	for i := 0; i < 10; i++ {
		c.Create(pod(fmt.Sprintf("p%d", i), "", nil), func(api.Object, error) {})
	}
	for i := 0; i < 200; i++ {
		if !eng.Step() {
			break
		}
		_, w, _ := srv.Inflight()
		maxSeen = max(maxSeen, w)
	}
	if maxSeen != 2 {
		t.Fatalf("max mutations in flight %d, want 2", maxSeen)
	}
	if st.Revision() != 11 {
		t.Fatalf("revision %d, want 11 (all 10 creates committed)", st.Revision())
	}
}

func TestInformerCacheAndOwnerIndex(t *testing.T) {
	eng, srv := stack(t)
	c := srv.Client("t", 0, 0)
	adds, updates, deletes := 0, 0, 0
	inf := NewInformer(c, api.KindPod, InformerOptions{IndexByOwner: true}, Handlers{
		OnAdd:    func(api.Object) { adds++ },
		OnUpdate: func(_, _ api.Object) { updates++ },
		OnDelete: func(api.Object) { deletes++ },
	})
	p := pod("owned", "", nil)
	p.OwnerReferences = []api.OwnerReference{{Kind: api.KindReplicaSet, Name: "rs", UID: "rs-uid", Controller: true}}
	mustCreate(t, eng, c, p)
	mustCreate(t, eng, c, pod("free", "", nil))
	c.Bind(&api.Binding{PodNamespace: "default", PodName: "owned", Target: "n1"}, nil)
	c.Delete(api.KindPod, "default", "free", DeleteOptions{}, nil)
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	if !inf.HasSynced() || adds != 2 || updates != 1 || deletes != 1 || inf.Len() != 1 {
		t.Fatalf("synced=%v adds=%d updates=%d deletes=%d len=%d", inf.HasSynced(), adds, updates, deletes, inf.Len())
	}
	owned := inf.ByOwner("rs-uid")
	if len(owned) != 1 || owned[0].(*api.Pod).Spec.NodeName != "n1" {
		t.Fatalf("owner index: %v", owned)
	}
	// Adopted by another controller, then orphaned: the index follows.
	moved := *owned[0].(*api.Pod)
	moved.ResourceVersion = 0
	moved.OwnerReferences = []api.OwnerReference{{Kind: api.KindReplicaSet, Name: "rs2", UID: "rs2-uid", Controller: true}}
	c.Update(&moved, nil)
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	if a, b := inf.ByOwner("rs-uid"), inf.ByOwner("rs2-uid"); len(a) != 0 || len(b) != 1 {
		t.Fatalf("after adoption: old owner %v, new owner %v", a, b)
	}
	orphan := *inf.ByOwner("rs2-uid")[0].(*api.Pod)
	orphan.ResourceVersion = 0
	orphan.OwnerReferences = nil
	c.Update(&orphan, nil)
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	if b := inf.ByOwner("rs2-uid"); len(b) != 0 {
		t.Fatalf("after orphaning: owner still has %v", b)
	}
}

func TestCompactionRuns(t *testing.T) {
	eng, srv := stack(t)
	c := srv.Client("t", 0, 0)
	for i := 0; i < 10; i++ {
		c.Create(pod(fmt.Sprintf("p%d", i), "", nil), nil)
	}
	eng.RunUntil(sim.Time(11 * time.Minute))
	if srv.Store().CompactRevision() == 0 {
		t.Fatal("no compaction after two intervals")
	}
}

// TestWatchKeyFromEtcdKey checks that the key taken from an object's etcd key is
// the namespace/name informers use, for namespaced and cluster-scoped objects, and
// that a key of another form falls back to building it.
func TestWatchKeyFromEtcdKey(t *testing.T) {
	p := pod("web-1", "", nil)
	p.Namespace = "shop"
	n := &api.Node{ObjectMeta: api.ObjectMeta{Name: "node-7"}}
	for _, tc := range []struct {
		kind api.Kind
		o    api.Object
	}{{api.KindPod, p}, {api.KindNode, n}} {
		m := tc.o.Meta()
		if got, want := watchKey(tc.kind, api.Key(tc.kind, m.Namespace, m.Name), tc.o), key(tc.o); got != want {
			t.Errorf("%v: key %q, want %q", tc.kind, got, want)
		}
		if got, want := watchKey(tc.kind, "/elsewhere/"+m.Name, tc.o), key(tc.o); got != want {
			t.Errorf("%v, unexpected etcd key: %q, want %q", tc.kind, got, want)
		}
	}
}
