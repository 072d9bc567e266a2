package kubelet

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/model/network"
	"github.com/kubesim/kubesim/model/runtime"
	"github.com/kubesim/kubesim/sim"
)

// recorder is a Telemetry that keeps everything, for assertions.
type recorder struct {
	records []sim.Record
	obs     map[string][]float64
}

func (r *recorder) Trace(rec sim.Record) { r.records = append(r.records, rec) }
func (r *recorder) Observe(m string, _ sim.Time, v float64) {
	if r.obs == nil {
		r.obs = map[string][]float64{}
	}
	r.obs[m] = append(r.obs[m], v)
}
func (r *recorder) Gauge(string, sim.Time, float64) {}

// find returns the records of component prefix comp (e.g. "kubelet/", "docker/")
// with the action, optionally only for object obj.
func (r *recorder) find(comp, action, obj string) []sim.Record {
	var out []sim.Record
	for _, rec := range r.records {
		if strings.HasPrefix(rec.Component, comp) && rec.Action == action && (obj == "" || rec.Object == obj) {
			out = append(out, rec)
		}
	}
	return out
}

type env struct {
	eng  *sim.Engine
	srv  *apiserver.Server
	user *apiserver.Client
	rt   *runtime.Modeled
	fab  *network.Fabric
	k    *Kubelet
	tel  *recorder
}

const (
	syncLat    = 10 * time.Millisecond
	sandboxLat = 400 * time.Millisecond
	createLat  = 10 * time.Millisecond
	startLat   = 20 * time.Millisecond
)

// testConfigs returns a kubelet and runtime configuration with constant latencies,
// so that times in the tests are exact up to the apiserver's request latencies.
func testConfigs() (Config, runtime.ModeledConfig) {
	cfg := DefaultConfig()
	cfg.SyncLatency = dist.Const(syncLat)
	cfg.SandboxLatency = dist.Const(sandboxLat)
	rc := runtime.DefaultModeledConfig()
	rc.PullOverhead = dist.Const(time.Second)
	rc.Create = dist.Const(createLat)
	rc.Start = dist.Const(startLat)
	rc.Stop = dist.Const(100 * time.Millisecond)
	rc.Remove = dist.Const(5 * time.Millisecond)
	serve := runtime.NginxServe()
	serve.ReadyAfter = dist.Const(50 * time.Millisecond)
	rc.Images = append(rc.Images,
		runtime.ImageSpec{Name: "web:1", SizeBytes: 50_000_000, Serve: serve},
		runtime.ImageSpec{Name: "gone:1", SizeBytes: 1, Unavailable: true},
		runtime.ImageSpec{Name: "crash:1", SizeBytes: 1_000_000, Exit: &runtime.ExitSpec{After: dist.Const(time.Second), Code: 1}},
		runtime.ImageSpec{Name: "slowcrash:1", SizeBytes: 1_000_000, Exit: &runtime.ExitSpec{After: dist.Const(700 * time.Second), Code: 1}},
		runtime.ImageSpec{Name: "job:1", SizeBytes: 1_000_000, Exit: &runtime.ExitSpec{After: dist.Const(2 * time.Second), Code: 0}},
		runtime.ImageSpec{Name: "sidecar:1", SizeBytes: 100_000_000},
	)
	for i := range rc.Images {
		if rc.Images[i].Serve != nil && rc.Images[i].Name != "web:1" {
			rc.Images[i].Serve = serve
		}
	}
	return cfg, rc
}

func newEnv(t testing.TB, seed uint64, mutate func(*Config, *runtime.ModeledConfig)) *env {
	t.Helper()
	eng := sim.New(seed)
	reg := dist.NewRegistry()
	tel := &recorder{}
	st, err := etcd.New(eng, etcd.DefaultConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, tel)
	if err != nil {
		t.Fatal(err)
	}
	cfg, rc := testConfigs()
	if mutate != nil {
		mutate(&cfg, &rc)
	}
	fab := network.New()
	rt, err := runtime.NewModeled(eng, cfg.NodeName, rc, fab, reg, tel)
	if err != nil {
		t.Fatal(err)
	}
	k, err := New(eng, srv.Client("kubelet/"+cfg.NodeName, 50, 100), rt, cfg, reg, tel)
	if err != nil {
		t.Fatal(err)
	}
	k.Start()
	e := &env{eng: eng, srv: srv, user: srv.Client("user", 0, 0), rt: rt, fab: fab, k: k, tel: tel}
	e.run(time.Second) // registered, watch open
	return e
}

func (e *env) run(d time.Duration) { e.eng.RunUntil(e.eng.Now().Add(d)) }

func (e *env) get(kind api.Kind, ns, name string) api.Object {
	kv, ok := e.srv.Store().Get(api.Key(kind, ns, name))
	if !ok {
		return nil
	}
	return kv.Value.(api.Object)
}

func (e *env) pod(name string) *api.Pod {
	o := e.get(api.KindPod, "default", name)
	if o == nil {
		return nil
	}
	return o.(*api.Pod)
}

func (e *env) create(t testing.TB, p *api.Pod) {
	t.Helper()
	var err error
	e.user.Create(p, func(_ api.Object, er error) { err = er })
	e.run(5 * time.Millisecond)
	if err != nil {
		t.Fatalf("create %s: %v", p.Name, err)
	}
}

func nginxPod(name string, mutate ...func(p *api.Pod)) *api.Pod {
	p := &api.Pod{
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "nginx"}},
		Spec: api.PodSpec{NodeName: "node-1", Containers: []api.Container{{
			Name: "nginx", Image: "nginx:1.27",
			Requests: api.Resources{MilliCPU: 100, Memory: 128 << 20},
			Ports:    []api.ContainerPort{{ContainerPort: 80}},
		}}},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func condStatus(p *api.Pod, t api.PodConditionType) api.ConditionStatus {
	if c := p.Condition(t); c != nil {
		return c.Status
	}
	return ""
}

func TestRegistration(t *testing.T) {
	e := newEnv(t, 1, func(c *Config, _ *runtime.ModeledConfig) {
		c.Labels = map[string]string{api.LabelZone: "zone-a"}
		c.Taints = []api.Taint{{Key: "dedicated", Value: "web", Effect: api.TaintNoSchedule}}
	})
	o := e.get(api.KindNode, "", "node-1")
	if o == nil {
		t.Fatal("node not registered")
	}
	n := o.(*api.Node)
	if n.Labels[api.LabelHostname] != "node-1" || n.Labels[api.LabelZone] != "zone-a" || n.Labels["kubernetes.io/os"] != "linux" {
		t.Errorf("labels %v", n.Labels)
	}
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != "dedicated" {
		t.Errorf("taints %v", n.Spec.Taints)
	}
	wantCap := api.Resources{MilliCPU: 4000, Memory: 16 << 30, EphemeralStorage: 100 << 30, Pods: 110}
	wantAlloc := api.Resources{MilliCPU: 4000, Memory: 16<<30 - 100<<20, EphemeralStorage: 90 << 30, Pods: 110}
	if !reflect.DeepEqual(n.Status.Capacity, wantCap) || !reflect.DeepEqual(n.Status.Allocatable, wantAlloc) {
		t.Errorf("capacity %+v allocatable %+v", n.Status.Capacity, n.Status.Allocatable)
	}
	if !n.IsReady() || n.Condition(api.NodeReady).Reason != "KubeletReady" || n.Condition(api.NodeMemoryPressure).Status != api.ConditionFalse {
		t.Errorf("conditions %+v", n.Status.Conditions)
	}
	if len(n.Status.Images) != 1 || n.Status.Images[0].Names[0] != runtime.ImagePause || n.Status.Address != "10.0.0.11" {
		t.Errorf("images %v address %q", n.Status.Images, n.Status.Address)
	}
	lo := e.get(api.KindLease, api.NamespaceNodeLease, "node-1")
	if lo == nil {
		t.Fatal("lease not created")
	}
	l := lo.(*api.Lease)
	if l.HolderIdentity != "node-1" || l.LeaseDurationSeconds != 40 || len(l.OwnerReferences) != 1 || l.OwnerReferences[0].UID != n.UID {
		t.Errorf("lease %+v", l)
	}
	for _, a := range []string{"start", "register", "lease"} {
		recs := e.tel.find("kubelet/node-1", a, "")
		if len(recs) != 1 || recs[0].Step != 1 {
			t.Errorf("%s records %v, want one at step 1", a, recs)
		}
	}
}

func TestStartAt(t *testing.T) {
	e := newEnv(t, 1, func(c *Config, _ *runtime.ModeledConfig) { c.StartAt = 30 * time.Second })
	if e.get(api.KindNode, "", "node-1") != nil {
		t.Fatal("registered before StartAt")
	}
	e.run(30 * time.Second)
	if e.get(api.KindNode, "", "node-1") == nil {
		t.Fatal("not registered after StartAt")
	}
}

// TestHeartbeats counts the writes of an idle node: a Lease renewal every 10 s and
// one node status post per 5 min (reference §4).
func TestHeartbeats(t *testing.T) {
	e := newEnv(t, 1, nil)
	var leaseWrites, nodeWrites []sim.Time
	if _, err := e.srv.Store().Watch(api.KindPrefix(api.KindLease), 0, func(ev etcd.Event) { leaseWrites = append(leaseWrites, e.eng.Now()) }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Store().Watch(api.KindPrefix(api.KindNode), 0, func(ev etcd.Event) { nodeWrites = append(nodeWrites, e.eng.Now()) }); err != nil {
		t.Fatal(err)
	}
	start := e.eng.Now()
	e.run(60 * time.Second)
	if len(leaseWrites) != 6 {
		t.Fatalf("%d lease writes in 60 s, want 6", len(leaseWrites))
	}
	for i := 1; i < len(leaseWrites); i++ {
		if d := leaseWrites[i].Sub(leaseWrites[i-1]); d < 9900*time.Millisecond || d > 10100*time.Millisecond {
			t.Fatalf("lease writes %v apart, want 10 s", d)
		}
	}
	if len(nodeWrites) != 0 {
		t.Fatalf("idle node wrote its status %d times in 60 s", len(nodeWrites))
	}
	e.run(300*time.Second - e.eng.Now().Sub(start) + 5*time.Second)
	if len(nodeWrites) != 1 {
		t.Fatalf("%d node status writes in 5 min, want 1 (nodeStatusReportFrequency)", len(nodeWrites))
	}
	if recs := e.tel.find("kubelet/", "renew-lease", ""); len(recs) == 0 || recs[0].Step != 0 {
		t.Fatalf("renew-lease records %v, want step 0", recs)
	}
	// The heartbeat is one pending timer per node.
	if e.k.hb.IsZero() {
		t.Fatal("no heartbeat timer")
	}
}

func TestPodStartsRunningAndReady(t *testing.T) {
	e := newEnv(t, 1, nil)
	created := e.eng.Now()
	e.create(t, nginxPod("web"))
	e.run(10 * time.Second)
	p := e.pod("web")
	if p.Status.Phase != api.PodRunning {
		t.Fatalf("phase %s, status %+v", p.Status.Phase, p.Status)
	}
	var types []api.PodConditionType
	for _, c := range p.Status.Conditions {
		if c.Status != api.ConditionTrue {
			t.Errorf("condition %s is %s", c.Type, c.Status)
		}
		types = append(types, c.Type)
	}
	wantTypes := []api.PodConditionType{api.PodScheduled, api.PodReadyToStartContainers, api.PodInitialized, api.PodContainersReady, api.PodReady}
	if !reflect.DeepEqual(types, wantTypes) {
		t.Errorf("conditions %v, want %v", types, wantTypes)
	}
	if p.Status.PodIP != "10.244.1.2" || p.Status.HostIP != "10.0.0.11" || p.Status.StartTime == nil {
		t.Errorf("podIP %q hostIP %q startTime %v", p.Status.PodIP, p.Status.HostIP, p.Status.StartTime)
	}
	cs := p.Status.ContainerStatuses
	if len(cs) != 1 || cs[0].State != api.ContainerRunning || !cs[0].Ready || !cs[0].Started || cs[0].RestartCount != 0 {
		t.Fatalf("container statuses %+v", cs)
	}
	if _, ok := e.fab.Lookup("10.244.1.2:80"); !ok {
		t.Fatal("nginx is not listening in the pod network")
	}
	// Startup: pull = 1 s overhead + 192 MB / 50 MB/s = 4.84 s, plus sandbox and
	// container operations and the apiserver round trips.
	pull := 4.84
	startup := e.tel.obs["pod_startup_seconds"]
	slo := e.tel.obs["pod_startup_slo_seconds"]
	ready := e.tel.obs["pod_ready_seconds"]
	if len(startup) != 1 || len(slo) != 1 || len(ready) != 1 {
		t.Fatalf("metrics %v", e.tel.obs)
	}
	if startup[0] < pull+0.3 || startup[0] > pull+0.9 { // sandbox (median 0.4 s), create, start, round trips
		t.Errorf("pod_startup_seconds %.4f, want pull %.2f + ~0.5 s", startup[0], pull)
	}
	if d := startup[0] - slo[0]; math.Abs(d-pull) > 1e-9 {
		t.Errorf("SLO excludes %.4f s of pulling, want %.2f", d, pull)
	}
	if ready[0] < startup[0]-1e-9 || ready[0] > startup[0]+0.1 {
		t.Errorf("pod_ready_seconds %.4f vs startup %.4f: no probe means ready when started", ready[0], startup[0])
	}
	_ = created
	// The story: step 4 observe and admit, step 5 sandbox, pulls, create, start, status.
	for _, want := range []struct {
		comp, action string
		step         int
	}{
		{"kubelet/node-1", "observe", 4}, {"kubelet/node-1", "admit", 4}, {"kubelet/node-1", "sandbox", 5},
		{"kubelet/node-1", "pull", 5}, {"docker/node-1", "pull", 5}, {"docker/node-1", "create", 5},
		{"docker/node-1", "start", 5}, {"docker/node-1", "listen", 5}, {"kubelet/node-1", "status", 5},
	} {
		recs := e.tel.find(want.comp, want.action, "")
		if len(recs) == 0 || recs[0].Step != want.step {
			t.Errorf("%s %s: records %v, want step %d", want.comp, want.action, recs, want.step)
		}
	}
	obs := e.tel.find("kubelet/", "observe", "pod/default/web")[0]
	if !strings.Contains(obs.Detail, "watch") || !strings.Contains(obs.Detail, "spec.nodeName=node-1") {
		t.Errorf("observe detail does not teach the watch: %q", obs.Detail)
	}
	// After the pull the node reports the new image at its next status computation.
	n := e.get(api.KindNode, "", "node-1").(*api.Node)
	if len(n.Status.Images) != 2 || n.Status.Images[0].Names[0] != runtime.ImageNginx {
		t.Errorf("node images after the pull: %+v", n.Status.Images)
	}
	// Status writes coalesce: Pending (ContainerCreating), sandbox (podIP), Running.
	if w := len(e.tel.find("kubelet/", "status", "pod/default/web")); w < 2 || w > 4 {
		t.Errorf("%d status writes for one pod", w)
	}
}

func TestPullPolicies(t *testing.T) {
	tests := []struct {
		name      string
		image     string
		policy    api.PullPolicy
		preload   bool
		wantPhase api.PodPhase
		wantWait  string // container waiting reason ("" = running)
		wantPulls int    // docker pull operations started
	}{
		{"IfNotPresent, missing: pull", "nginx:1.27", api.PullIfNotPresent, false, api.PodRunning, "", 1},
		{"IfNotPresent, present: no pull", "nginx:1.27", api.PullIfNotPresent, true, api.PodRunning, "", 0},
		{"Always, present: pull anyway", "nginx:1.27", api.PullAlways, true, api.PodRunning, "", 1},
		{"default for :latest is Always", "nginx", "", true, api.PodRunning, "", 1},
		{"Never, present", "nginx:1.27", api.PullNever, true, api.PodRunning, "", 0},
		{"Never, missing: ErrImageNeverPull", "nginx:1.27", api.PullNever, false, api.PodPending, "ErrImageNeverPull", 0},
		{"unavailable image: ImagePullBackOff", "gone:1", api.PullIfNotPresent, false, api.PodPending, "ImagePullBackOff", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1, func(_ *Config, rc *runtime.ModeledConfig) {
				if tc.preload {
					rc.Preloaded = append(rc.Preloaded, tc.image)
				}
			})
			e.create(t, nginxPod("p", func(p *api.Pod) {
				p.Spec.Containers[0].Image = tc.image
				p.Spec.Containers[0].ImagePullPolicy = tc.policy
			}))
			e.run(25 * time.Second)
			p := e.pod("p")
			cs := p.Status.ContainerStatuses
			if p.Status.Phase != tc.wantPhase || len(cs) != 1 {
				t.Fatalf("phase %s statuses %+v", p.Status.Phase, cs)
			}
			if tc.wantWait == "" && cs[0].State != api.ContainerRunning {
				t.Fatalf("container %+v, want running", cs[0])
			}
			if tc.wantWait != "" && (cs[0].State != api.ContainerWaiting || cs[0].Reason != tc.wantWait) {
				t.Fatalf("container %+v, want waiting %s", cs[0], tc.wantWait)
			}
			pulls := 0
			for _, r := range e.tel.find("docker/", "pull", "") {
				if strings.HasPrefix(r.Detail, "pulling") {
					pulls++
				}
			}
			if pulls != tc.wantPulls {
				t.Fatalf("%d pulls, want %d", pulls, tc.wantPulls)
			}
		})
	}
}

// TestImagePullBackOff checks the retry times of a failing pull: 10 s after the
// first failure, then after 20 s (reasons ErrImagePull, then ImagePullBackOff).
func TestImagePullBackOff(t *testing.T) {
	e := newEnv(t, 1, nil)
	e.create(t, nginxPod("p", func(p *api.Pod) { p.Spec.Containers[0].Image = "gone:1" }))
	var reasons []string
	e.run(80 * time.Second)
	for _, r := range e.tel.find("kubelet/", "status", "pod/default/p") {
		for _, w := range []string{"ErrImagePull", "ImagePullBackOff"} {
			if strings.Contains(r.Detail, "("+w+")") && (len(reasons) == 0 || reasons[len(reasons)-1] != w) {
				reasons = append(reasons, w)
			}
		}
	}
	if len(reasons) < 3 || reasons[0] != "ErrImagePull" || reasons[1] != "ImagePullBackOff" {
		t.Fatalf("reasons over time %v", reasons)
	}
	var fails []sim.Time
	for _, r := range e.tel.find("kubelet/", "pull-failed", "") {
		fails = append(fails, r.Time)
	}
	// failures 1 s after each attempt: attempts at a, a+1+10, then +1+20, +1+40
	want := []time.Duration{11 * time.Second, 21 * time.Second, 41 * time.Second}
	if len(fails) < 3 {
		t.Fatalf("%d failed pulls", len(fails))
	}
	for i := 1; i < len(fails) && i <= len(want); i++ {
		if d := fails[i].Sub(fails[i-1]); d != want[i-1] {
			t.Fatalf("failure %d came %v after the previous, want %v (failures at %v)", i, d, want[i-1], fails)
		}
	}
}

func TestAdmissionRejection(t *testing.T) {
	tests := []struct {
		name       string
		maxPods    int64
		pods       []*api.Pod
		wantReason map[string]string // pod -> status reason ("" = admitted and running)
	}{
		{"cpu", 110, []*api.Pod{
			nginxPod("big", func(p *api.Pod) { p.Spec.Containers[0].Requests.MilliCPU = 5000 }),
			nginxPod("small"),
		}, map[string]string{"big": "OutOfcpu", "small": ""}},
		{"memory", 110, []*api.Pod{
			nginxPod("big", func(p *api.Pod) { p.Spec.Containers[0].Requests.Memory = 16 << 30 }),
		}, map[string]string{"big": "OutOfmemory"}},
		{"pods", 2, []*api.Pod{nginxPod("a"), nginxPod("b"), nginxPod("c")},
			map[string]string{"a": "", "b": "", "c": "OutOfpods"}},
		{"requests add up", 110, []*api.Pod{
			nginxPod("a", func(p *api.Pod) { p.Spec.Containers[0].Requests.MilliCPU = 3000 }),
			nginxPod("b", func(p *api.Pod) { p.Spec.Containers[0].Requests.MilliCPU = 1500 }),
		}, map[string]string{"a": "", "b": "OutOfcpu"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1, func(c *Config, _ *runtime.ModeledConfig) { c.MaxPods = tc.maxPods })
			for _, p := range tc.pods {
				e.create(t, p)
			}
			e.run(15 * time.Second)
			for name, reason := range tc.wantReason {
				p := e.pod(name)
				if reason == "" {
					if p.Status.Phase != api.PodRunning {
						t.Errorf("%s: phase %s reason %q, want Running", name, p.Status.Phase, p.Status.Reason)
					}
					continue
				}
				if p.Status.Phase != api.PodFailed || p.Status.Reason != reason || !strings.Contains(p.Status.Message, "Node didn't have enough resource") {
					t.Errorf("%s: phase %s reason %q message %q, want Failed %s", name, p.Status.Phase, p.Status.Reason, p.Status.Message, reason)
				}
				if len(e.tel.find("kubelet/", "reject", "pod/default/"+name)) != 1 {
					t.Errorf("%s: no reject record", name)
				}
			}
		})
	}
}

func TestDeletion(t *testing.T) {
	tests := []struct {
		name  string
		grace *int64 // delete options (nil: the pod's 30 s)
		slow  bool   // the process ignores SIGTERM: killed at the grace period
	}{
		{"graceful delete", nil, false},
		{"graceful delete, killed at grace", nil, true},
		{"force delete", new(int64), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1, func(_ *Config, rc *runtime.ModeledConfig) {
				if tc.slow {
					rc.Stop = dist.Const(time.Hour)
				}
			})
			e.create(t, nginxPod("web", func(p *api.Pod) { p.Spec.TerminationGracePeriodSeconds = 5 }))
			e.run(10 * time.Second)
			if e.pod("web").Status.Phase != api.PodRunning {
				t.Fatal("not running")
			}
			var delErr error
			e.user.Delete(api.KindPod, "default", "web", apiserver.DeleteOptions{GracePeriodSeconds: tc.grace}, func(err error) { delErr = err })
			e.run(time.Second)
			if delErr != nil {
				t.Fatal(delErr)
			}
			if _, ok := e.fab.Lookup("10.244.1.2:80"); ok && !tc.slow {
				t.Fatal("still listening after the stop signal")
			}
			e.run(10 * time.Second)
			if p := e.pod("web"); p != nil {
				t.Fatalf("pod still stored: phase %s deletionTimestamp %v", p.Status.Phase, p.DeletionTimestamp)
			}
			if n := e.rt.Containers(); n != 0 {
				t.Fatalf("%d containers left in the runtime", n)
			}
			if len(e.k.pods) != 0 || !e.k.used.IsZero() || e.k.ipUsed[2] {
				t.Fatalf("kubelet kept state: %d pods, used %+v", len(e.k.pods), e.k.used)
			}
			stops := e.tel.find("docker/", "stop", "")
			if len(stops) != 1 {
				t.Fatalf("stop records %v", stops)
			}
			killed := strings.Contains(stops[0].Detail, "exit code 137")
			if killed != tc.slow {
				t.Fatalf("stop detail %q", stops[0].Detail)
			}
			if tc.grace == nil && len(e.tel.find("kubelet/", "delete", "pod/default/web")) != 1 {
				t.Fatal("the kubelet did not delete the pod with grace 0")
			}
		})
	}
}

// TestCrashLoopBackOff: a container that exits 1 s after each start restarts at once
// the first time, then after 10, 20, 40, 80, 160, 300, 300 s
// (kuberuntime_manager.go doBackOff; reference §4).
func TestCrashLoopBackOff(t *testing.T) {
	e := newEnv(t, 1, nil)
	e.create(t, nginxPod("crashy", func(p *api.Pod) { p.Spec.Containers[0].Image = "crash:1" }))
	e.run(20 * time.Minute)
	var starts, exits []sim.Time
	for _, r := range e.tel.find("docker/", "start", "") {
		starts = append(starts, r.Time)
	}
	for _, r := range e.tel.find("docker/", "exit", "") {
		exits = append(exits, r.Time)
	}
	backoffs := []time.Duration{0, 10, 20, 40, 80, 160, 300, 300}
	if len(exits) < len(backoffs) {
		t.Fatalf("only %d exits", len(exits))
	}
	for i, b := range backoffs {
		gap := starts[i+1].Sub(exits[i])
		// after an exit: PLEG/sync (10 ms) for the immediate restart, then create and start
		want := b*time.Second + createLat + startLat
		if b == 0 {
			want += syncLat
		}
		if gap != want {
			t.Errorf("restart %d came %v after the exit, want %v", i+1, gap, want)
		}
	}
	p := e.pod("crashy")
	cs := p.Status.ContainerStatuses[0]
	if p.Status.Phase != api.PodRunning || cs.RestartCount < int32(len(backoffs)) {
		t.Errorf("phase %s container %+v", p.Status.Phase, cs)
	}
	if len(e.tel.find("kubelet/", "backoff", "")) == 0 {
		t.Error("no CrashLoopBackOff record")
	}
	sawBackOff := false
	for _, r := range e.tel.find("kubelet/", "status", "pod/default/crashy") {
		sawBackOff = sawBackOff || strings.Contains(r.Detail, "(CrashLoopBackOff)")
	}
	if !sawBackOff {
		t.Error("no status with CrashLoopBackOff")
	}
}

// TestBackOffResets: a container that runs 700 s (> 600 s after its last restart)
// before each exit is restarted at once every time.
func TestBackOffResets(t *testing.T) {
	e := newEnv(t, 1, nil)
	e.create(t, nginxPod("slow", func(p *api.Pod) { p.Spec.Containers[0].Image = "slowcrash:1" }))
	e.run(40 * time.Minute)
	starts := e.tel.find("docker/", "start", "")
	exits := e.tel.find("docker/", "exit", "")
	if len(exits) < 3 {
		t.Fatalf("%d exits", len(exits))
	}
	for i := 0; i < 3; i++ {
		if gap := starts[i+1].Time.Sub(exits[i].Time); gap != syncLat+createLat+startLat {
			t.Errorf("restart %d after %v, want an immediate restart", i+1, gap)
		}
	}
}

func TestRestartPolicies(t *testing.T) {
	tests := []struct {
		name      string
		image     string
		policy    api.RestartPolicy
		wantPhase api.PodPhase
		restarts  bool
	}{
		{"Never, exit 1: Failed", "crash:1", api.RestartNever, api.PodFailed, false},
		{"Never, exit 0: Succeeded", "job:1", api.RestartNever, api.PodSucceeded, false},
		{"OnFailure, exit 0: Succeeded", "job:1", api.RestartOnFailure, api.PodSucceeded, false},
		{"OnFailure, exit 1: restarted", "crash:1", api.RestartOnFailure, api.PodRunning, true},
		{"Always, exit 0: restarted", "job:1", api.RestartAlways, api.PodRunning, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1, nil)
			e.create(t, nginxPod("p", func(p *api.Pod) {
				p.Spec.Containers[0].Image = tc.image
				p.Spec.RestartPolicy = tc.policy
			}))
			e.run(30 * time.Second)
			p := e.pod("p")
			if p.Status.Phase != tc.wantPhase {
				t.Fatalf("phase %s, want %s (%+v)", p.Status.Phase, tc.wantPhase, p.Status.ContainerStatuses)
			}
			if got := p.Status.ContainerStatuses[0].RestartCount > 0; got != tc.restarts {
				t.Fatalf("restartCount %d", p.Status.ContainerStatuses[0].RestartCount)
			}
			if !tc.restarts {
				if !e.k.used.IsZero() {
					t.Fatalf("terminal pod still holds resources %+v", e.k.used)
				}
				if condStatus(p, api.PodReady) != api.ConditionFalse {
					t.Fatalf("terminal pod Ready=%s", condStatus(p, api.PodReady))
				}
			}
		})
	}
}

// TestReadinessProbe: probes tick every periodSeconds from the pod's admission;
// the container is ready at the first successful probe after initialDelaySeconds.
func TestReadinessProbe(t *testing.T) {
	tests := []struct {
		name      string
		probe     *api.Probe
		wantReady time.Duration // after the pod was admitted, with tolerance
	}{
		{"no probe: ready when started", nil, sandboxLat + createLat + startLat + syncLat},
		// the trigger after the start finds nginx not yet listening (it needs 50 ms):
		// the next tick, 10 s after admission, succeeds
		{"probe, no delay", &api.Probe{PeriodSeconds: 10}, 10 * time.Second},
		{"probe, initial delay 12 s, period 5 s", &api.Probe{InitialDelaySeconds: 12, PeriodSeconds: 5}, 15 * time.Second},
		{"probe, success threshold 2", &api.Probe{PeriodSeconds: 3, SuccessThreshold: 2}, 6 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1, func(_ *Config, rc *runtime.ModeledConfig) { rc.Preloaded = append(rc.Preloaded, "nginx:1.27") })
			e.create(t, nginxPod("web", func(p *api.Pod) { p.Spec.Containers[0].ReadinessProbe = tc.probe }))
			e.run(30 * time.Second)
			admit := e.tel.find("kubelet/", "admit", "")[0].Time
			p := e.pod("web")
			c := p.Condition(api.PodReady)
			if c == nil || c.Status != api.ConditionTrue {
				t.Fatalf("not ready: %+v", p.Status)
			}
			got := c.LastTransitionTime.Sub(admit)
			if got < tc.wantReady || got > tc.wantReady+5*time.Millisecond {
				t.Fatalf("ready %v after admission, want %v", got, tc.wantReady)
			}
		})
	}
}

// TestReadinessFlipsOnCrash: a crash makes the pod unready at once; it is ready
// again after its restart and the next successful probe.
func TestReadinessFlipsOnCrash(t *testing.T) {
	e := newEnv(t, 1, func(_ *Config, rc *runtime.ModeledConfig) { rc.Preloaded = append(rc.Preloaded, "nginx:1.27") })
	e.create(t, nginxPod("web", func(p *api.Pod) { p.Spec.Containers[0].ReadinessProbe = &api.Probe{PeriodSeconds: 2} }))
	e.run(10 * time.Second)
	if !e.pod("web").IsReady() {
		t.Fatal("not ready")
	}
	if err := e.rt.Crash(e.k.pods[e.pod("web").UID].ctrs[0].id, 137); err != nil {
		t.Fatal(err)
	}
	e.run(100 * time.Millisecond)
	// The first exit restarts at once; the new instance is not ready before its probe.
	if p := e.pod("web"); p.IsReady() || p.Status.ContainerStatuses[0].Ready || p.Status.ContainerStatuses[0].RestartCount != 1 {
		t.Fatalf("ready right after the crash: %+v", p.Status.ContainerStatuses)
	}
	e.run(5 * time.Second)
	if p := e.pod("web"); !p.IsReady() || p.Status.ContainerStatuses[0].RestartCount != 1 {
		t.Fatalf("not ready again after the restart: %+v", p.Status.ContainerStatuses)
	}
}

func TestInitContainers(t *testing.T) {
	e := newEnv(t, 1, func(_ *Config, rc *runtime.ModeledConfig) { rc.Preloaded = append(rc.Preloaded, "nginx:1.27", "job:1") })
	e.create(t, nginxPod("web", func(p *api.Pod) {
		p.Spec.InitContainers = []api.Container{{Name: "setup", Image: "job:1"}}
	}))
	e.run(1500 * time.Millisecond) // init container runs for 2 s
	p := e.pod("web")
	if p.Status.Phase != api.PodPending || condStatus(p, api.PodInitialized) != api.ConditionFalse || p.Status.ContainerStatuses[0].Reason != "PodInitializing" {
		t.Fatalf("while initializing: phase %s %+v", p.Status.Phase, p.Status)
	}
	e.run(5 * time.Second)
	p = e.pod("web")
	if p.Status.Phase != api.PodRunning || !p.IsReady() || condStatus(p, api.PodInitialized) != api.ConditionTrue {
		t.Fatalf("after init: phase %s %+v", p.Status.Phase, p.Status)
	}
}

func TestStop(t *testing.T) {
	e := newEnv(t, 1, func(_ *Config, rc *runtime.ModeledConfig) { rc.Preloaded = append(rc.Preloaded, "nginx:1.27") })
	e.create(t, nginxPod("web"))
	e.run(5 * time.Second)
	e.k.Stop()
	renewals := len(e.tel.find("kubelet/", "renew-lease", ""))
	e.run(time.Minute)
	if n := len(e.tel.find("kubelet/", "renew-lease", "")); n != renewals {
		t.Fatalf("lease renewed %d times after Stop", n-renewals)
	}
	if _, ok := e.fab.Lookup("10.244.1.2:80"); !ok {
		t.Fatal("containers must keep running when the kubelet stops")
	}
}

// TestDeterministic: the same seed gives byte-identical traces, with random latencies.
func TestDeterministic(t *testing.T) {
	run := func() string {
		eng := sim.New(99)
		reg := dist.NewRegistry()
		tel := &recorder{}
		st, _ := etcd.New(eng, etcd.DefaultConfig(), reg)
		srv, _ := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, tel)
		fab := network.New()
		var ks []*Kubelet
		for i := 1; i <= 2; i++ {
			cfg := DefaultConfig()
			cfg.NodeName = fmt.Sprintf("node-%d", i)
			cfg.PodCIDRIndex = i
			cfg.Address = fmt.Sprintf("10.0.0.%d", 10+i)
			rt, err := runtime.NewModeled(eng, cfg.NodeName, runtime.DefaultModeledConfig(), fab, reg, tel)
			if err != nil {
				t.Fatal(err)
			}
			k, err := New(eng, srv.Client("kubelet/"+cfg.NodeName, 50, 100), rt, cfg, reg, tel)
			if err != nil {
				t.Fatal(err)
			}
			k.Start()
			ks = append(ks, k)
		}
		user := srv.Client("user", 0, 0)
		for i := 0; i < 6; i++ {
			p := nginxPod(fmt.Sprintf("web-%d", i))
			p.Spec.NodeName = api.NodeName(fmt.Sprintf("node-%d", i%2+1))
			user.Create(p, nil)
		}
		eng.RunUntil(sim.Time(time.Minute))
		var b strings.Builder
		for _, r := range tel.records {
			fmt.Fprintf(&b, "%d %d %s %s %s %s\n", r.Time, r.Step, r.Component, r.Action, r.Object, r.Detail)
		}
		return b.String()
	}
	a, b := run(), run()
	if a != b || !strings.Contains(a, "pod/default/web-5") {
		t.Fatal("runs with the same seed differ")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   string
	}{
		{"default is valid", func(*Config) {}, ""},
		{"node name", func(c *Config) { c.NodeName = "" }, "nodeName"},
		{"address", func(c *Config) { c.Address = "" }, "address"},
		{"max pods", func(c *Config) { c.MaxPods = 300 }, "maxPods"},
		{"cidr", func(c *Config) { c.PodCIDRIndex = MaxPodCIDRIndex + 1 }, "podCIDRIndex"},
		{"report < update", func(c *Config) { c.NodeStatusReportFrequency = time.Second }, "nodeStatusReportFrequency"},
		{"lease", func(c *Config) { c.NodeLeaseDurationSeconds = 0 }, "nodeLeaseDurationSeconds"},
		{"reservations exceed capacity", func(c *Config) { c.Reserved.MilliCPU = 5000 }, "reserved"},
		{"backoff", func(c *Config) { c.CrashLoopBackOffMax = time.Second }, "crashLoopBackOffMax"},
		{"latency", func(c *Config) { c.SyncLatency = dist.Spec{Kind: "x"} }, "syncLatency"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mutate(&c)
			err := c.Validate(dist.NewRegistry())
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to name %q", err, tc.want)
			}
		})
	}
}

// TestDeleteWhileStarting: a deletion that arrives while the sandbox is being
// created or the image is being pulled ends the start: nothing keeps running, the
// pod is deleted and the node's resources are free.
func TestDeleteWhileStarting(t *testing.T) {
	tests := []struct {
		name  string
		after time.Duration // from creation to the delete request
	}{
		{"during the sync latency", 2 * time.Millisecond},
		{"during sandbox creation", 200 * time.Millisecond},
		{"during the image pull", 2 * time.Second},
		{"during the container start", sandboxLat + 4840*time.Millisecond + createLat + 10*time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1, nil)
			e.create(t, nginxPod("web"))
			e.run(tc.after)
			e.user.Delete(api.KindPod, "default", "web", apiserver.DeleteOptions{}, nil)
			e.run(20 * time.Second)
			if p := e.pod("web"); p != nil {
				t.Fatalf("pod still stored: %+v", p.Status)
			}
			if e.rt.Containers() != 0 || e.fab.Len() != 0 || len(e.k.pods) != 0 || !e.k.used.IsZero() {
				t.Fatalf("left behind: %d containers, %d listeners, %d pods, used %+v", e.rt.Containers(), e.fab.Len(), len(e.k.pods), e.k.used)
			}
			for i, used := range e.k.ipUsed {
				if used {
					t.Fatalf("IP .%d still allocated", i)
				}
			}
		})
	}
}

// TestContainersStartInOrder: containers start one after the other; the pod is
// Pending until every container has started.
func TestContainersStartInOrder(t *testing.T) {
	e := newEnv(t, 1, nil)
	e.create(t, nginxPod("two", func(p *api.Pod) {
		p.Spec.Containers = append(p.Spec.Containers, api.Container{Name: "sidecar", Image: "sidecar:1"})
	}))
	// nginx: pull 4.84 s; sidecar: pull 3 s, after nginx started. (A second nginx
	// would crash-loop: both would bind port 80 in the pod's network namespace.)
	e.run(sandboxLat + 5*time.Second)
	p := e.pod("two")
	if p.Status.Phase != api.PodPending || p.Status.ContainerStatuses[0].State != api.ContainerRunning || p.Status.ContainerStatuses[1].State != api.ContainerWaiting {
		t.Fatalf("after the first container: phase %s %+v", p.Status.Phase, p.Status.ContainerStatuses)
	}
	e.run(5 * time.Second)
	if p := e.pod("two"); p.Status.Phase != api.PodRunning || !p.IsReady() {
		t.Fatalf("phase %s %+v", p.Status.Phase, p.Status.ContainerStatuses)
	}
	creates := e.tel.find("docker/", "create", "")
	if len(creates) != 2 || !strings.Contains(creates[0].Detail, "k8s_nginx_") || !strings.Contains(creates[1].Detail, "k8s_sidecar_") {
		t.Fatalf("create order %v", creates)
	}
	pulls := e.tel.find("kubelet/", "pull", "")
	if len(pulls) != 2 || pulls[1].Time.Sub(pulls[0].Time) < 4840*time.Millisecond {
		t.Fatalf("the second pull did not wait for the first container: %v", pulls)
	}
}

// TestPullsSerializedAcrossPods: two pods needing different images on one node
// pull one after the other (serializeImagePulls); the second pod's SLO value
// excludes its pull wait as the startup tracker does (first pull start to last end).
func TestPullsSerializedAcrossPods(t *testing.T) {
	e := newEnv(t, 1, nil)
	e.create(t, nginxPod("a"))
	e.create(t, nginxPod("b", func(p *api.Pod) { p.Spec.Containers[0].Image = "web:1" }))
	e.run(15 * time.Second)
	done := e.tel.find("docker/", "pull", "")
	var ends []sim.Time
	for _, r := range done {
		if strings.HasPrefix(r.Detail, "pulled") {
			ends = append(ends, r.Time)
		}
	}
	if len(ends) != 2 || ends[1].Sub(ends[0]) != 2*time.Second { // web:1: 1 s + 50 MB / 50 MB/s
		t.Fatalf("pull completions %v, want the second 2 s after the first", ends)
	}
	slo := e.tel.obs["pod_startup_slo_seconds"]
	if len(slo) != 2 || slo[0] > 1 || slo[1] > 1 {
		t.Fatalf("SLO values %v: pull time (including the queue wait) must be excluded", slo)
	}
}

// TestAPIServerOutage: registration retries with backoff while the apiserver is
// down; status writes that fail are retried, so the pod is reported Running after
// the outage.
func TestAPIServerOutage(t *testing.T) {
	e := newEnv(t, 1, func(c *Config, _ *runtime.ModeledConfig) { c.StartAt = 5 * time.Second })
	e.srv.SetAvailable(false)
	e.run(10 * time.Second)
	if e.get(api.KindNode, "", "node-1") != nil || len(e.tel.find("kubelet/", "register-failed", "")) == 0 {
		t.Fatal("registration did not fail while the apiserver was down")
	}
	e.srv.SetAvailable(true)
	e.run(10 * time.Second)
	if e.get(api.KindNode, "", "node-1") == nil || e.get(api.KindLease, api.NamespaceNodeLease, "node-1") == nil {
		t.Fatal("not registered after the outage")
	}
	e.create(t, nginxPod("web"))
	e.run(time.Second) // observed, first status written
	e.srv.SetAvailable(false)
	e.run(20 * time.Second) // started during the outage: its status writes fail
	if p := e.pod("web"); p.Status.Phase == api.PodRunning {
		t.Fatal("status written during the outage")
	}
	e.srv.SetAvailable(true)
	e.run(15 * time.Second)
	if p := e.pod("web"); p.Status.Phase != api.PodRunning || !p.IsReady() {
		t.Fatalf("after the outage: %+v", p.Status)
	}
}

// TestNeverPullWaitsForTheImage: a Never pod waits (one trace, no spam) and starts
// at the pod worker's next check after another pod pulled its image.
func TestNeverPullWaitsForTheImage(t *testing.T) {
	e := newEnv(t, 1, nil)
	e.create(t, nginxPod("never", func(p *api.Pod) { p.Spec.Containers[0].ImagePullPolicy = api.PullNever }))
	e.run(30 * time.Second)
	if n := len(e.tel.find("kubelet/", "image", "pod/default/never")); n != 1 {
		t.Fatalf("%d ErrImageNeverPull records, want 1", n)
	}
	if p := e.pod("never"); p.Status.Phase != api.PodPending {
		t.Fatalf("phase %s", p.Status.Phase)
	}
	e.create(t, nginxPod("puller"))
	e.run(20 * time.Second)
	if p := e.pod("never"); p.Status.Phase != api.PodRunning {
		t.Fatalf("the Never pod did not start once the image was present: %+v", p.Status.ContainerStatuses)
	}
}

func TestPodCIDR(t *testing.T) {
	tests := []struct {
		idx  int
		want string
	}{
		{0, "10.244.0"}, {1, "10.244.1"}, {255, "10.244.255"}, {256, "10.245.0"},
		{3071, "10.255.255"}, {3072, "10.128.0"}, {4999, "10.135.135"}, {MaxPodCIDRIndex, "10.243.255"},
	}
	for _, tc := range tests {
		c := Config{PodCIDRIndex: tc.idx}
		if got := c.PodCIDR(); got != tc.want {
			t.Errorf("index %d: %s, want %s", tc.idx, got, tc.want)
		}
	}
	// every index gets its own /24, outside the 10.96.0.0/12 service range
	seen := map[string]bool{}
	for i := 0; i <= MaxPodCIDRIndex; i++ {
		c := Config{PodCIDRIndex: i}
		p := c.PodCIDR()
		var a int
		if _, err := fmt.Sscanf(p, "10.%d.", &a); err != nil || seen[p] || (a >= 96 && a <= 111) {
			t.Fatalf("index %d: CIDR %s duplicate or in the service range", i, p)
		}
		seen[p] = true
	}
}
