package manager

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/controller/deployment"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/sim"
)

type recorder struct {
	recs   []sim.Record
	obs    map[string][]float64
	gauges map[string][]float64
}

func newRecorder() *recorder {
	return &recorder{obs: map[string][]float64{}, gauges: map[string][]float64{}}
}
func (r *recorder) Trace(x sim.Record)                      { r.recs = append(r.recs, x) }
func (r *recorder) Observe(m string, _ sim.Time, v float64) { r.obs[m] = append(r.obs[m], v) }
func (r *recorder) Gauge(s string, _ sim.Time, v float64)   { r.gauges[s] = append(r.gauges[s], v) }

func (r *recorder) find(component string, step int, action string) []sim.Record {
	var out []sim.Record
	for _, x := range r.recs {
		if x.Component == component && x.Step == step && x.Action == action {
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
	m    *Manager

	ipSeq int
}

func newEnv(t *testing.T, seed uint64, mutate func(*Config)) *env {
	t.Helper()
	eng := sim.New(seed)
	reg := dist.NewRegistry()
	rec := newRecorder()
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
	m, err := New(eng, srv, cfg, reg, rec)
	if err != nil {
		t.Fatal(err)
	}
	m.Start()
	return &env{t: t, eng: eng, srv: srv, user: srv.Client("kubectl", 0, 0), rec: rec, m: m}
}

func (e *env) run(d time.Duration) { e.eng.RunUntil(e.eng.Now().Add(d)) }

func (e *env) list(kind api.Kind) []api.Object {
	var out []api.Object
	done := false
	e.user.List(kind, apiserver.ListOptions{}, func(objs []api.Object, err error) {
		if err != nil {
			e.t.Fatal(err)
		}
		out, done = objs, true
	})
	for i := 0; i < 1000 && !done; i++ {
		e.eng.Step()
	}
	if !done {
		e.t.Fatal("list did not complete")
	}
	return out
}

func (e *env) do(what string, fn func(done func(error))) {
	e.t.Helper()
	var got error
	finished := false
	fn(func(err error) { got, finished = err, true })
	for i := 0; i < 10000 && !finished; i++ {
		e.eng.Step()
	}
	if !finished || got != nil {
		e.t.Fatalf("%s: finished=%v err=%v", what, finished, got)
	}
}

func nginxDeployment(replicas int32) *api.Deployment {
	labels := map[string]string{"app": "nginx"}
	return &api.Deployment{
		ObjectMeta: api.ObjectMeta{Name: "nginx", Namespace: "default"},
		Spec: api.DeploymentSpec{
			Replicas: replicas,
			Selector: &api.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
			Template: api.PodTemplateSpec{Labels: labels, Spec: api.PodSpec{Containers: []api.Container{{
				Name: "nginx", Image: "nginx:1.27", Ports: []api.ContainerPort{{ContainerPort: 80}},
			}}}},
		},
	}
}

// markReady plays the scheduler and the kubelets: each pod is bound to a node of
// its own, then becomes Running and Ready with an IP.
func (e *env) markReady(pods []*api.Pod) {
	for _, p := range pods {
		e.ipSeq++
		if p.Spec.NodeName == "" {
			e.do("bind "+p.Name, func(done func(error)) {
				e.user.Bind(&api.Binding{PodNamespace: p.Namespace, PodName: p.Name, PodUID: p.UID, Target: api.NodeName(fmt.Sprintf("node-%d", e.ipSeq))}, done)
			})
		}
		var cur *api.Pod
		e.do("get "+p.Name, func(done func(error)) {
			e.user.Get(api.KindPod, p.Namespace, p.Name, func(o api.Object, err error) {
				if err == nil {
					cur = o.(*api.Pod)
				}
				done(err)
			})
		})
		np := cur.DeepCopy()
		np.Status.Phase = api.PodRunning
		np.Status.PodIP = fmt.Sprintf("10.244.%d.%d", e.ipSeq/200, e.ipSeq%200+2)
		np.SetCondition(api.PodReady, api.ConditionTrue, "", e.eng.Now())
		np.ResourceVersion = 0
		e.do("mark ready "+p.Name, func(done func(error)) {
			e.user.UpdateStatus(np, func(_ api.Object, err error) { done(err) })
		})
	}
}

func (e *env) pods() []*api.Pod {
	var out []*api.Pod
	for _, o := range e.list(api.KindPod) {
		out = append(out, o.(*api.Pod))
	}
	return out
}

func TestNginxFlow(t *testing.T) {
	e := newEnv(t, 1, nil)
	e.do("create deployment", func(done func(error)) {
		e.user.Create(nginxDeployment(3), func(_ api.Object, err error) { done(err) })
	})
	e.do("create service", func(done func(error)) {
		e.user.Create(&api.Service{ObjectMeta: api.ObjectMeta{Name: "nginx", Namespace: "default"},
			Spec: api.ServiceSpec{Selector: map[string]string{"app": "nginx"}, Ports: []api.ServicePort{{Port: 80}}}},
			func(_ api.Object, err error) { done(err) })
	})
	e.run(5 * time.Second)

	rss := e.list(api.KindReplicaSet)
	if len(rss) != 1 {
		t.Fatalf("want 1 ReplicaSet, got %d", len(rss))
	}
	rs := rss[0].(*api.ReplicaSet)
	hash := rs.Labels[api.LabelPodTemplateHash]
	if hash == "" || rs.Name != "nginx-"+hash || rs.Spec.Replicas != 3 || rs.Annotations[api.AnnotationRevision] != "1" {
		t.Fatalf("unexpected ReplicaSet %s labels=%v replicas=%d annotations=%v", rs.Name, rs.Labels, rs.Spec.Replicas, rs.Annotations)
	}
	pods := e.pods()
	if len(pods) != 3 {
		t.Fatalf("want 3 pods, got %d", len(pods))
	}
	for _, p := range pods {
		if ref := p.ControllerRef(); ref == nil || ref.UID != rs.UID || !strings.HasPrefix(p.Name, rs.Name+"-") || p.Labels[api.LabelPodTemplateHash] != hash {
			t.Fatalf("pod %s not owned/labelled by %s: %+v %v", p.Name, rs.Name, p.OwnerReferences, p.Labels)
		}
	}
	e.markReady(pods)
	e.run(5 * time.Second)

	d := e.list(api.KindDeployment)[0].(*api.Deployment)
	want := api.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3}
	got := d.Status
	conds := map[api.DeploymentConditionType]api.ConditionStatus{}
	for _, c := range got.Conditions {
		conds[c.Type] = c.Status
	}
	if conds[api.DeploymentAvailable] != api.ConditionTrue || conds[api.DeploymentProgressing] != api.ConditionTrue {
		t.Fatalf("conditions %+v, want Available and Progressing True", got.Conditions)
	}
	got.Conditions = nil // checked above
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("deployment status = %+v, want %+v", d.Status, want)
	}
	if got := e.rec.find(deployment.Component, 7, "status"); len(got) != 1 || !strings.Contains(got[0].Detail, "desired state reached: 3/3 replicas available") {
		t.Fatalf("want one step-7 deployment record, got %+v", got)
	}
	if v := e.rec.obs[deployment.MetricReadySeconds]; len(v) != 1 || v[0] <= 0 {
		t.Fatalf("deployment_ready_seconds = %v", v)
	}
	epss := e.list(api.KindEndpointSlice)
	if len(epss) != 1 {
		t.Fatalf("want 1 EndpointSlice, got %d", len(epss))
	}
	sl := epss[0].(*api.EndpointSlice)
	ready := 0
	for _, ep := range sl.Endpoints {
		if ep.Conditions.Ready {
			ready++
		}
	}
	if ready != 3 || sl.ServiceName() != "nginx" {
		t.Fatalf("slice %s: %d ready endpoints %+v", sl.Name, ready, sl.Endpoints)
	}
	for _, x := range e.rec.recs {
		if strings.HasPrefix(x.Component, "controller-manager") {
			t.Logf("%v step%d %s %s %s: %s", x.Time, x.Step, x.Component, x.Action, x.Object, x.Detail)
		}
	}
}

// activePods lists pods that are not terminating, sorted by name.
func (e *env) activePods() []*api.Pod {
	var out []*api.Pod
	for _, p := range e.pods() {
		if p.DeletionTimestamp == nil && !p.IsTerminal() {
			out = append(out, p)
		}
	}
	return out
}

func (e *env) scaleDeployment(replicas int32) {
	for i := 0; i < 10; i++ {
		var d *api.Deployment
		e.do("get deployment", func(done func(error)) {
			e.user.Get(api.KindDeployment, "default", "nginx", func(o api.Object, err error) {
				if err == nil {
					d = o.(*api.Deployment).DeepCopy()
				}
				done(err)
			})
		})
		d.Spec.Replicas = replicas
		var err error
		e.do("scale", func(done func(error)) { e.user.Update(d, func(_ api.Object, er error) { err = er; done(nil) }) })
		if err == nil {
			return
		}
		if !apiserver.IsConflict(err) {
			e.t.Fatal(err)
		}
	}
	e.t.Fatal("scale kept conflicting")
}

func (e *env) deployment() *api.Deployment {
	return e.list(api.KindDeployment)[0].(*api.Deployment)
}

// nginxScenario deploys 3 replicas, makes them ready, scales to 5, makes the new
// ones ready, then scales to 1.
func nginxScenario(t *testing.T, seed uint64) (*env, []string, []string) {
	e := newEnv(t, seed, nil)
	e.do("create deployment", func(done func(error)) {
		e.user.Create(nginxDeployment(3), func(_ api.Object, err error) { done(err) })
	})
	e.run(2 * time.Second)
	first := e.activePods()
	e.markReady(first)
	e.run(30 * time.Second)
	e.scaleDeployment(5)
	e.run(2 * time.Second)
	var added []*api.Pod
	for _, p := range e.activePods() {
		if p.Spec.NodeName == "" {
			added = append(added, p)
		}
	}
	e.markReady(added)
	e.run(2 * time.Second)
	e.scaleDeployment(1)
	e.run(2 * time.Second)
	return e, names(first), names(added)
}

func names(ps []*api.Pod) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func TestScaleUpAndDown(t *testing.T) {
	e, first, added := nginxScenario(t, 2)
	if len(first) != 3 || len(added) != 2 {
		t.Fatalf("scale to 5 made %d new pods (want 2) next to %d", len(added), len(first))
	}
	dels := e.rec.find("controller-manager/replicaset", 7, "delete-pod")
	if len(dels) != 4 {
		t.Fatalf("want 4 deletions, got %d", len(dels))
	}
	// The two pods that became ready last go first.
	for i := 0; i < 2; i++ {
		name := strings.TrimPrefix(dels[i].Object, "pod/default/")
		if name != added[0] && name != added[1] {
			t.Fatalf("deletion %d is %s, want a most recently ready pod %v", i, name, added)
		}
		if !strings.Contains(dels[i].Detail, "most recently ready first") {
			t.Fatalf("deletion %d reason: %s", i, dels[i].Detail)
		}
	}
	active := e.activePods()
	if len(active) != 1 || !slices.Contains(first, active[0].Name) {
		t.Fatalf("an original pod should remain, active %v", names(active))
	}
	d := e.deployment()
	if d.Status.Replicas != 1 || d.Status.AvailableReplicas != 1 || d.Status.ObservedGeneration != 3 {
		t.Fatalf("deployment status %+v", d.Status)
	}
	// One "desired state reached" per generation: 3, then 5, then 1 replicas.
	got := e.rec.find(deployment.Component, 7, "status")
	if len(got) != 3 || !strings.Contains(got[1].Detail, "5/5") || !strings.Contains(got[2].Detail, "1/1") {
		t.Fatalf("step-7 deployment records %+v", got)
	}
}

func TestDeletedPodIsReplaced(t *testing.T) {
	e := newEnv(t, 3, nil)
	e.do("create deployment", func(done func(error)) {
		e.user.Create(nginxDeployment(3), func(_ api.Object, err error) { done(err) })
	})
	e.run(2 * time.Second)
	pods := e.activePods()
	e.markReady(pods)
	e.run(2 * time.Second)
	victim := pods[0].Name
	e.do("delete pod", func(done func(error)) {
		e.user.Delete(api.KindPod, "default", victim, apiserver.DeleteOptions{}, done)
	})
	e.run(2 * time.Second)
	active := e.activePods()
	if len(active) != 3 || slices.Contains(names(active), victim) {
		t.Fatalf("active pods %v after deleting %s", names(active), victim)
	}
	var fresh []*api.Pod
	for _, p := range active {
		if p.Spec.NodeName == "" {
			fresh = append(fresh, p)
		}
	}
	e.markReady(fresh)
	e.run(2 * time.Second)
	// The ReplicaSet controller reports observed == desired again.
	if got := e.rec.find("controller-manager/replicaset", 7, "status"); len(got) != 2 {
		t.Fatalf("want 2 step-7 ReplicaSet records (initial and after the replacement), got %+v", got)
	}
	if d := e.deployment(); d.Status.AvailableReplicas != 3 {
		t.Fatalf("deployment status %+v", d.Status)
	}
}

// TestClientRateLimit: the 100 pod creations of one ReplicaSet go through the
// process's client at 20 QPS after a burst of 30, so the last leaves after
// about (100 - 30) / 20 = 3.5 s; without a limit they all go within a second.
func TestClientRateLimit(t *testing.T) {
	cases := []struct {
		name     string
		qps      float64
		min, max time.Duration
	}{
		{"QPS 20 burst 30", 20, 3400 * time.Millisecond, 6 * time.Second},
		{"no limit", 0, 0, time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, 4, func(cfg *Config) { cfg.QPS = c.qps })
			e.do("create deployment", func(done func(error)) {
				e.user.Create(nginxDeployment(100), func(_ api.Object, err error) { done(err) })
			})
			e.run(20 * time.Second)
			var last sim.Time
			n := 0
			for _, x := range e.rec.recs {
				if x.Component == "apiserver" && x.Action == "create" && strings.HasPrefix(x.Object, "pod/") {
					last = max(last, x.Time)
					n++
				}
			}
			if n != 100 || last.Duration() < c.min || last.Duration() > c.max {
				t.Fatalf("%d pod creates, last at %v; want 100 with the last in [%v, %v]", n, last, c.min, c.max)
			}
		})
	}
}

func TestDeterminism(t *testing.T) {
	trace := func(seed uint64) string {
		e, _, _ := nginxScenario(t, seed)
		var b strings.Builder
		for _, r := range e.rec.recs {
			fmt.Fprintf(&b, "%d|%d|%s|%s|%s|%s\n", r.Time, r.Step, r.Component, r.Action, r.Object, r.Detail)
		}
		return b.String()
	}
	a, b := trace(5), trace(5)
	if a != b {
		t.Fatal("the same seed gave different traces")
	}
	if a == trace(6) {
		t.Fatal("different seeds gave identical traces")
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
		{"negative qps", func(c *Config) { c.QPS = -1 }, "qps"},
		{"burst", func(c *Config) { c.Burst = 0 }, "burst"},
		{"no limit needs no burst", func(c *Config) { c.QPS, c.Burst = 0, 0 }, ""},
		{"deployment", func(c *Config) { c.Deployment.SyncLatency = dist.Spec{} }, "deployment: syncLatency"},
		{"replicaset", func(c *Config) { c.ReplicaSet.BurstReplicas = 0 }, "replicaSet: burstReplicas"},
		{"endpointslice", func(c *Config) { c.EndpointSlice.MaxEndpointsPerSlice = 0 }, "endpointSlice: maxEndpointsPerSlice"},
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
	if d := DefaultConfig(); d.QPS != 20 || d.Burst != 30 {
		t.Fatalf("defaults %v/%v, want the reference 20/30", d.QPS, d.Burst)
	}
}

// TestRecreateWaitsForOldPods: with Recreate, the new ReplicaSet appears only once
// the old pods are gone, not merely terminating (recreate.go oldPodsRunning).
func TestRecreateWaitsForOldPods(t *testing.T) {
	e := newEnv(t, 9, nil)
	d := nginxDeployment(2)
	d.Spec.Strategy.Type = api.RecreateStrategy
	e.do("create deployment", func(done func(error)) { e.user.Create(d, func(_ api.Object, err error) { done(err) }) })
	e.run(2 * time.Second)
	old := e.activePods()
	e.markReady(old)
	e.run(2 * time.Second)

	for i := 0; i < 10; i++ {
		var cur *api.Deployment
		e.do("get", func(done func(error)) {
			e.user.Get(api.KindDeployment, "default", "nginx", func(o api.Object, err error) {
				if err == nil {
					cur = o.(*api.Deployment).DeepCopy()
				}
				done(err)
			})
		})
		cur.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
		var err error
		e.do("update", func(done func(error)) { e.user.Update(cur, func(_ api.Object, er error) { err = er; done(nil) }) })
		if err == nil {
			break
		}
	}
	e.run(5 * time.Second)
	// The old pods are terminating (bound pods are deleted gracefully); no new
	// ReplicaSet yet.
	if n := len(e.list(api.KindReplicaSet)); n != 1 {
		t.Fatalf("a new ReplicaSet appeared while old pods terminate: %d ReplicaSets", n)
	}
	for _, p := range e.pods() {
		if p.DeletionTimestamp == nil {
			t.Fatalf("old pod %s not terminating", p.Name)
		}
	}
	// The kubelets finish: the pods are removed.
	zero := int64(0)
	for _, p := range old {
		e.do("remove "+p.Name, func(done func(error)) {
			e.user.Delete(api.KindPod, "default", p.Name, apiserver.DeleteOptions{GracePeriodSeconds: &zero}, done)
		})
	}
	gone := e.eng.Now()
	e.run(5 * time.Second)
	created := e.rec.find(deployment.Component, 2, "create-replicaset")
	if len(created) != 2 || created[1].Time < gone {
		t.Fatalf("the new ReplicaSet must be created after the old pods are gone (%v): %+v", gone, created)
	}
	if n := len(e.activePods()); n != 2 {
		t.Fatalf("want 2 new pods, got %d", n)
	}
}
