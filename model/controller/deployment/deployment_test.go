package deployment

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/sim"
)

type recorder struct {
	recs   []sim.Record
	obs    map[string][]float64
	gauges map[string][]float64
}

func (r *recorder) Trace(x sim.Record)                      { r.recs = append(r.recs, x) }
func (r *recorder) Observe(m string, _ sim.Time, v float64) { r.obs[m] = append(r.obs[m], v) }
func (r *recorder) Gauge(s string, _ sim.Time, v float64)   { r.gauges[s] = append(r.gauges[s], v) }

func (r *recorder) find(component string, step int, action string) []sim.Record {
	var out []sim.Record
	for _, x := range r.recs {
		if x.Component == component && (step < 0 || x.Step == step) && x.Action == action {
			out = append(out, x)
		}
	}
	return out
}

type env struct {
	t       *testing.T
	eng     *sim.Engine
	srv     *apiserver.Server
	user    *apiserver.Client
	rec     *recorder
	ctrl    *Controller
	maxSpec int32 // largest sum of ReplicaSet spec.replicas seen by the fake
	// broken is an image whose pods never become ready in the fake.
	broken string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	eng := sim.New(7)
	reg := dist.NewRegistry()
	rec := &recorder{obs: map[string][]float64{}, gauges: map[string][]float64{}}
	st, err := etcd.New(eng, etcd.DefaultConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, rec)
	if err != nil {
		t.Fatal(err)
	}
	ctrl, err := New(eng, srv.Client("controller-manager", 0, 0), DefaultConfig(), reg, rec)
	if err != nil {
		t.Fatal(err)
	}
	ctrl.Start()
	e := &env{t: t, eng: eng, srv: srv, user: srv.Client("kubectl", 0, 0), rec: rec, ctrl: ctrl}
	e.fakeReplicaSets()
	return e
}

// fakeReplicaSets plays the ReplicaSet controller and the kubelets: every
// ReplicaSet's pods exist and are available as soon as its spec says so.
func (e *env) fakeReplicaSets() {
	c := e.srv.Client("fake-replicaset-controller", 0, 0)
	var inf *apiserver.Informer
	sync := func(o api.Object) {
		rs := o.(*api.ReplicaSet)
		var total int32
		for _, x := range inf.List() {
			total += x.(*api.ReplicaSet).Spec.Replicas
		}
		e.maxSpec = max(e.maxSpec, total)
		n := rs.Spec.Replicas
		want := api.ReplicaSetStatus{ObservedGeneration: rs.Generation, Replicas: n, FullyLabeledReplicas: n, ReadyReplicas: n, AvailableReplicas: n}
		if rs.Spec.Template.Spec.Containers[0].Image == e.broken {
			want.ReadyReplicas, want.AvailableReplicas = 0, 0
		}
		if rs.Status == want {
			return
		}
		c.UpdateStatus(&api.ReplicaSet{ObjectMeta: api.ObjectMeta{Name: rs.Name, Namespace: rs.Namespace}, Status: want}, nil)
	}
	inf = apiserver.NewInformer(c, api.KindReplicaSet, apiserver.InformerOptions{}, apiserver.Handlers{
		OnAdd: sync, OnUpdate: func(_, o api.Object) { sync(o) },
	})
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

func (e *env) get(kind api.Kind, name string) api.Object {
	var out api.Object
	e.wait("get "+name, func(done func(error)) {
		e.user.Get(kind, "default", name, func(o api.Object, err error) { out = o; done(err) })
	})
	return out
}

func (e *env) replicaSets() []*api.ReplicaSet {
	var out []*api.ReplicaSet
	e.wait("list", func(done func(error)) {
		e.user.List(api.KindReplicaSet, apiserver.ListOptions{}, func(objs []api.Object, err error) {
			for _, o := range objs {
				out = append(out, o.(*api.ReplicaSet))
			}
			done(err)
		})
	})
	return out
}

// updateDeployment changes the Deployment with optimistic concurrency, as kubectl.
func (e *env) updateDeployment(mutate func(d *api.Deployment)) {
	for attempt := 0; attempt < 10; attempt++ {
		d := e.get(api.KindDeployment, "nginx").(*api.Deployment).DeepCopy()
		mutate(d)
		var err error
		e.wait("update", func(done func(error)) {
			e.user.Update(d, func(_ api.Object, er error) { err = er; done(nil) })
		})
		if err == nil {
			return
		}
		if !apiserver.IsConflict(err) {
			e.t.Fatal(err)
		}
	}
	e.t.Fatal("update kept conflicting")
}

func nginx(replicas int32, strategy api.DeploymentStrategyType) *api.Deployment {
	return &api.Deployment{
		ObjectMeta: api.ObjectMeta{Name: "nginx", Namespace: "default", Annotations: map[string]string{"team": "web"}},
		Spec: api.DeploymentSpec{
			Replicas:        replicas,
			MinReadySeconds: 2,
			Selector:        &api.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
			Strategy:        api.DeploymentStrategy{Type: strategy},
			Template: api.PodTemplateSpec{Labels: map[string]string{"app": "nginx"}, Spec: api.PodSpec{
				Containers: []api.Container{{Name: "nginx", Image: "nginx:1.27"}},
			}},
		},
	}
}

func (e *env) create(d *api.Deployment) {
	e.wait("create", func(done func(error)) { e.user.Create(d, func(_ api.Object, err error) { done(err) }) })
}

func TestCreateDeploymentMakesReplicaSet(t *testing.T) {
	e := newEnv(t)
	e.create(nginx(3, ""))
	e.run(2 * time.Second)

	d := e.get(api.KindDeployment, "nginx").(*api.Deployment)
	hash := ComputeHash(&d.Spec.Template)
	rss := e.replicaSets()
	if len(rss) != 1 {
		t.Fatalf("want 1 ReplicaSet, got %d", len(rss))
	}
	rs := rss[0]
	checks := []struct {
		name string
		ok   bool
	}{
		{"name is <deployment>-<hash>", rs.Name == "nginx-"+hash},
		{"label pod-template-hash", rs.Labels[api.LabelPodTemplateHash] == hash && rs.Labels["app"] == "nginx"},
		{"selector has the hash", rs.Spec.Selector.MatchLabels[api.LabelPodTemplateHash] == hash && rs.Spec.Selector.MatchLabels["app"] == "nginx"},
		{"template has the hash", rs.Spec.Template.Labels[api.LabelPodTemplateHash] == hash},
		{"deployment selector untouched", d.Spec.Selector.MatchLabels[api.LabelPodTemplateHash] == ""},
		{"controller owner reference", rs.ControllerRef() != nil && rs.ControllerRef().UID == d.UID && rs.ControllerRef().Kind == api.KindDeployment},
		{"3 replicas", rs.Spec.Replicas == 3},
		{"revision 1", rs.Annotations[api.AnnotationRevision] == "1"},
		{"desired/max replicas annotations", rs.Annotations[AnnotationDesiredReplicas] == "3" && rs.Annotations[AnnotationMaxReplicas] == "4"},
		{"deployment annotations copied", rs.Annotations["team"] == "web"},
		{"minReadySeconds copied", rs.Spec.MinReadySeconds == 2},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: ReplicaSet %+v", c.name, rs.ObjectMeta)
		}
	}
	want := api.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3}
	got := d.Status
	got.Conditions = nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("status %+v, want %+v", d.Status, want)
	}
	av, pr := GetCondition(&d.Status, api.DeploymentAvailable), GetCondition(&d.Status, api.DeploymentProgressing)
	if av == nil || av.Status != api.ConditionTrue || av.Reason != ReasonMinimumReplicasAvailable {
		t.Fatalf("Available condition %+v", av)
	}
	if pr == nil || pr.Status != api.ConditionTrue || pr.Reason != ReasonNewReplicaSetAvailable || pr.LastTransitionTime >= pr.LastUpdateTime {
		t.Fatalf("Progressing condition %+v (True since the ReplicaSet was created, updated when complete)", pr)
	}
	created := e.rec.find(Component, 2, "create-replicaset")
	if len(created) != 1 || !strings.Contains(created[0].Detail, "creates ReplicaSet default/nginx-"+hash+" with 3 replicas") {
		t.Fatalf("create-replicaset records: %+v", created)
	}
	if len(e.rec.find("apiserver", 2, "create")) != 1 {
		t.Fatalf("the apiserver should trace the ReplicaSet create under step 2")
	}
	reached := e.rec.find(Component, 7, "status")
	if len(reached) != 1 || !strings.Contains(reached[0].Detail, "desired state reached: 3/3 replicas available") {
		t.Fatalf("step-7 records: %+v", reached)
	}
	if v := e.rec.obs[MetricReadySeconds]; len(v) != 1 || v[0] <= 0 || v[0] > 1 {
		t.Fatalf("%s = %v", MetricReadySeconds, v)
	}
	if g := e.rec.gauges[GaugeAvailablePrefix+"default/nginx"]; len(g) == 0 || g[len(g)-1] != 3 {
		t.Fatalf("gauge = %v", g)
	}
	for i, x := range e.rec.find(Component, -1, "status") {
		if x.Step != 0 && x.Step != 7 {
			t.Fatalf("status record %d has step %d", i, x.Step)
		}
	}
}

func TestRollingUpdate(t *testing.T) {
	e := newEnv(t)
	e.create(nginx(4, ""))
	e.run(2 * time.Second)
	e.maxSpec = 0
	e.updateDeployment(func(d *api.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28" })
	e.run(5 * time.Second)

	d := e.get(api.KindDeployment, "nginx").(*api.Deployment)
	rss := e.replicaSets()
	if len(rss) != 2 {
		t.Fatalf("want 2 ReplicaSets, got %d", len(rss))
	}
	var newRS, oldRS *api.ReplicaSet
	for _, rs := range rss {
		if rs.Spec.Template.Spec.Containers[0].Image == "nginx:1.28" {
			newRS = rs
		} else {
			oldRS = rs
		}
	}
	if newRS == nil || newRS.Spec.Replicas != 4 || newRS.Annotations[api.AnnotationRevision] != "2" {
		t.Fatalf("new ReplicaSet %+v", newRS)
	}
	if oldRS.Spec.Replicas != 0 || oldRS.Annotations[api.AnnotationRevision] != "1" {
		t.Fatalf("old ReplicaSet replicas %d revision %s", oldRS.Spec.Replicas, oldRS.Annotations[api.AnnotationRevision])
	}
	// 4 replicas at 25%: surge 1, unavailable 1, so never more than 5 pods.
	if e.maxSpec > 5 {
		t.Fatalf("the rollout ran %d replicas at once, more than replicas + maxSurge = 5", e.maxSpec)
	}
	if d.Status.UpdatedReplicas != 4 || d.Status.AvailableReplicas != 4 || d.Status.ObservedGeneration != 2 {
		t.Fatalf("status %+v", d.Status)
	}
	if got := e.rec.find(Component, 7, "status"); len(got) != 2 {
		t.Fatalf("want one step-7 record per generation (2), got %d", len(got))
	}
	if v := e.rec.obs[MetricReadySeconds]; len(v) != 1 {
		t.Fatalf("%s observed %d times, want once", MetricReadySeconds, len(v))
	}
	scales := e.rec.find(Component, 2, "scale-replicaset")
	if len(scales) < 4 {
		t.Fatalf("want a stepwise rollout, got %d scale records", len(scales))
	}
	for _, s := range scales {
		if !strings.Contains(s.Detail, "rolling update") {
			t.Fatalf("scale record without its rule: %s", s.Detail)
		}
	}
}

func TestRecreate(t *testing.T) {
	e := newEnv(t)
	e.create(nginx(2, api.RecreateStrategy))
	e.run(2 * time.Second)
	e.updateDeployment(func(d *api.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28" })
	e.run(5 * time.Second)

	var downAt, createdAt sim.Time
	for _, x := range e.rec.recs {
		if x.Component != Component {
			continue
		}
		if x.Action == "scale-replicaset" && strings.Contains(x.Detail, "down from 2 to 0") && downAt == 0 {
			downAt = x.Time
		}
		if x.Action == "create-replicaset" && strings.Contains(x.Detail, "revision 2") {
			createdAt = x.Time
		}
	}
	if downAt == 0 || createdAt == 0 || createdAt <= downAt {
		t.Fatalf("recreate must scale the old ReplicaSet to 0 (at %v) before creating the new one (at %v)", downAt, createdAt)
	}
	if e.maxSpec > 2 {
		t.Fatalf("recreate ran %d replicas at once", e.maxSpec)
	}
	for _, rs := range e.replicaSets() {
		want := int32(0)
		if rs.Annotations[api.AnnotationRevision] == "2" {
			want = 2
		}
		if rs.Spec.Replicas != want {
			t.Fatalf("%s (revision %s) has %d replicas, want %d", rs.Name, rs.Annotations[api.AnnotationRevision], rs.Spec.Replicas, want)
		}
	}
}

func TestScalingEvent(t *testing.T) {
	cases := []struct {
		name     string
		replicas int32
	}{
		{"scale up 3 to 5", 5},
		{"scale down 3 to 1", 1},
		{"scale to 0", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.create(nginx(3, ""))
			e.run(2 * time.Second)
			e.updateDeployment(func(d *api.Deployment) { d.Spec.Replicas = c.replicas })
			e.run(2 * time.Second)
			rss := e.replicaSets()
			if len(rss) != 1 || rss[0].Spec.Replicas != c.replicas {
				t.Fatalf("ReplicaSets %+v", rss)
			}
			if got := rss[0].Annotations[AnnotationDesiredReplicas]; got != itoa(c.replicas) {
				t.Fatalf("desired-replicas annotation %q", got)
			}
			scales := e.rec.find(Component, 2, "scale-replicaset")
			if len(scales) != 1 || !strings.Contains(scales[0].Detail, "scaling event") {
				t.Fatalf("scale records %+v", scales)
			}
			d := e.get(api.KindDeployment, "nginx").(*api.Deployment)
			if d.Status.AvailableReplicas != c.replicas || d.Status.ObservedGeneration != 2 {
				t.Fatalf("status %+v", d.Status)
			}
		})
	}
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func TestRevisionHistoryLimit(t *testing.T) {
	e := newEnv(t)
	d := nginx(2, "")
	d.Spec.RevisionHistoryLimit = 1
	e.create(d)
	e.run(2 * time.Second)
	for _, img := range []string{"nginx:1.28", "nginx:1.29", "nginx:1.30"} {
		e.updateDeployment(func(d *api.Deployment) { d.Spec.Template.Spec.Containers[0].Image = img })
		e.run(5 * time.Second)
	}
	rss := e.replicaSets()
	if len(rss) != 2 {
		t.Fatalf("revisionHistoryLimit 1 keeps the new and one old ReplicaSet, got %d", len(rss))
	}
	revs := map[string]bool{}
	for _, rs := range rss {
		revs[rs.Annotations[api.AnnotationRevision]] = true
	}
	if !revs["4"] || !revs["3"] {
		t.Fatalf("kept revisions %v, want 3 and 4", revs)
	}
}

func TestCascadeDelete(t *testing.T) {
	e := newEnv(t)
	e.create(nginx(2, ""))
	e.run(2 * time.Second)
	e.wait("delete", func(done func(error)) {
		e.user.Delete(api.KindDeployment, "default", "nginx", apiserver.DeleteOptions{}, done)
	})
	e.run(time.Second)
	if rss := e.replicaSets(); len(rss) != 0 {
		t.Fatalf("ReplicaSets left after deleting the Deployment: %d", len(rss))
	}
}

func TestConfigValidate(t *testing.T) {
	reg := dist.NewRegistry()
	good := DefaultConfig()
	if err := good.Validate(reg); err != nil {
		t.Fatal(err)
	}
	bad := DefaultConfig()
	bad.SyncLatency = dist.Spec{Kind: "nope"}
	if err := bad.Validate(reg); err == nil || !strings.Contains(err.Error(), "syncLatency") {
		t.Fatalf("want a syncLatency error, got %v", err)
	}
}

// TestScaleDuringStalledRollout scales a Deployment whose rollout is stuck on an
// image that never becomes ready: the extra replicas are spread over the old and new
// ReplicaSets in proportion (sync.go scale), and both get the new desired-replicas.
func TestScaleDuringStalledRollout(t *testing.T) {
	e := newEnv(t)
	e.broken = "nginx:broken"
	e.create(nginx(4, ""))
	e.run(2 * time.Second)
	e.updateDeployment(func(d *api.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:broken" })
	e.run(5 * time.Second)
	sizes := func() map[string]int32 {
		out := map[string]int32{}
		for _, rs := range e.replicaSets() {
			out[rs.Spec.Template.Spec.Containers[0].Image] = rs.Spec.Replicas
		}
		return out
	}
	// 4 replicas, surge 1, unavailable 1: old 3 + new 2, then stuck.
	if got := sizes(); got["nginx:1.27"] != 3 || got["nginx:broken"] != 2 {
		t.Fatalf("stalled rollout sizes %v, want old 3, new 2", got)
	}
	e.updateDeployment(func(d *api.Deployment) { d.Spec.Replicas = 8 })
	e.run(5 * time.Second)
	// 8 replicas: surge 2, room 10 - 5 = 5; old 3*10/5 = 6 (+3), new 2*10/5 = 4 (+2).
	if got := sizes(); got["nginx:1.27"] != 6 || got["nginx:broken"] != 4 {
		t.Fatalf("after scaling to 8: %v, want old 6, new 4", got)
	}
	for _, rs := range e.replicaSets() {
		if rs.Annotations[AnnotationDesiredReplicas] != "8" || rs.Annotations[AnnotationMaxReplicas] != "10" {
			t.Fatalf("%s annotations %v", rs.Name, rs.Annotations)
		}
	}
	n := 0
	for _, x := range e.rec.find(Component, 2, "scale-replicaset") {
		if strings.Contains(x.Detail, "proportional") {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("want 2 proportional scale records, got %d", n)
	}
}
