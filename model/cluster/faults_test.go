package cluster

import (
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/model/fault"
	"github.com/kubesim/kubesim/sim"
)

// faultEnv is the nginx cluster, ready (3 pods serving) at 30 s, with faults.
type faultEnv struct {
	c   *Cluster
	rec *recorder
	in  *fault.Injector
}

func newFaultEnv(t *testing.T, specs ...fault.Spec) *faultEnv {
	t.Helper()
	sc := nginx(t)
	rec := &recorder{}
	c, err := Build(sc, Options{Seed: 3}, rec)
	if err != nil {
		t.Fatal(err)
	}
	in, err := c.AddFaults(nil, specs)
	if err != nil {
		t.Fatal(err)
	}
	return &faultEnv{c: c, rec: rec, in: in}
}

func (e *faultEnv) until(d time.Duration) { e.c.Eng.RunUntil(sim.Time(d)) }

func (e *faultEnv) renewTime(node string) sim.Time {
	kv, ok := e.c.Store.Get(api.Key(api.KindLease, api.NamespaceNodeLease, node))
	if !ok {
		return -1
	}
	return kv.Value.(*api.Lease).RenewTime
}

// podOn returns a ready pod bound to node.
func (e *faultEnv) podOn(t *testing.T, node string) *api.Pod {
	t.Helper()
	for _, p := range e.c.Pods() {
		if string(p.Spec.NodeName) == node && p.IsReady() {
			return p
		}
	}
	t.Fatalf("no ready pod on %s", node)
	return nil
}

func (e *faultEnv) listening(p *api.Pod) bool {
	_, ok := e.c.Fabric.Lookup(p.Status.PodIP + ":80")
	return ok
}

func (e *faultEnv) records(action string) []sim.Record {
	var out []sim.Record
	for _, r := range e.rec.recs {
		if r.Component == "fault" && r.Action == action {
			out = append(out, r)
		}
	}
	return out
}

// TestNodeFaults: a node crash stops the node's Lease and its pods' addresses; the
// repair registers a fresh kubelet that renews the Lease again. A partition stops
// the Lease but the pods keep serving. A stopped kubelet stops the Lease only.
func TestNodeFaults(t *testing.T) {
	tests := []struct {
		kind          string
		wantListening bool
	}{
		{fault.NodeCrash, false},
		{fault.NodePartition, true},
		{fault.KubeletStop, true},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			e := newFaultEnv(t, fault.Spec{Name: "f", Kind: tc.kind, At: 30 * time.Second, Duration: 60 * time.Second,
				Target: fault.TargetSpec{Nodes: []string{"node-2"}}})
			e.until(29 * time.Second)
			p := e.podOn(t, "node-2")
			e.until(31 * time.Second)
			last := e.renewTime("node-2")
			if !e.listening(p) != !tc.wantListening {
				t.Fatalf("pod %s listening %v, want %v", p.Name, e.listening(p), tc.wantListening)
			}
			e.until(80 * time.Second)
			if got := e.renewTime("node-2"); got != last || last > sim.Time(31*time.Second) {
				t.Fatalf("Lease of node-2 renewed at %v during the fault (last before %v)", got, last)
			}
			if e.renewTime("node-1") <= sim.Time(70*time.Second) {
				t.Fatal("node-1's Lease stopped too")
			}
			if e.listening(p) != tc.wantListening {
				t.Fatalf("pod listening %v at 80 s, want %v", e.listening(p), tc.wantListening)
			}
			if e.in.Active() != 1 || len(e.records("inject")) != 1 || !strings.Contains(e.records("inject")[0].Detail, "50 s grace period") {
				t.Fatalf("active %d, inject records %+v", e.in.Active(), e.records("inject"))
			}
			e.until(120 * time.Second) // repaired at 90 s
			if got := e.renewTime("node-2"); got < sim.Time(90*time.Second) {
				t.Fatalf("Lease not renewed after the repair: %v", got)
			}
			if e.in.Active() != 0 || len(e.records("repair")) != 1 {
				t.Fatalf("active %d after the repair", e.in.Active())
			}
		})
	}
}

// TestZoneOutage crashes every node of a zone and only those.
func TestZoneOutage(t *testing.T) {
	e := newFaultEnv(t, fault.Spec{Name: "z", Kind: fault.ZoneOutage, At: 30 * time.Second, Target: fault.TargetSpec{Zone: "zone-b"}})
	e.until(60 * time.Second)
	crashed := 0
	for i, rt := range e.c.Runtimes {
		if rt.Off() {
			crashed++
			if e.c.Kubelets[i].NodeName() != "node-2" {
				t.Fatalf("%s crashed, not in zone-b", e.c.Kubelets[i].NodeName())
			}
		}
	}
	if crashed != 1 || e.renewTime("node-2") > sim.Time(31*time.Second) {
		t.Fatalf("%d nodes crashed; node-2 lease %v", crashed, e.renewTime("node-2"))
	}
}

// TestContainerFaults: a crashed or OOM-killed container is restarted by the kubelet
// (restart count 1) and its pod serves again.
func TestContainerFaults(t *testing.T) {
	for _, kind := range []string{fault.ContainerCrash, fault.OOMKill} {
		t.Run(kind, func(t *testing.T) {
			e := newFaultEnv(t, fault.Spec{Name: "c", Kind: kind, At: 30 * time.Second,
				Target: fault.TargetSpec{Pods: map[string]string{"app": "nginx"}, RandomK: 1}})
			e.until(30*time.Second + time.Millisecond)
			var victim *api.Pod
			for _, p := range e.c.Pods() {
				if !e.listening(p) {
					victim = p
				}
			}
			if victim == nil {
				t.Fatal("no pod stopped listening")
			}
			e.until(60 * time.Second) // the first restart comes after 10 s of back-off at most
			kv, _ := e.c.Store.Get(api.Key(api.KindPod, victim.Namespace, victim.Name))
			p := kv.Value.(*api.Pod)
			if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].RestartCount != 1 || !p.IsReady() || !e.listening(p) {
				t.Fatalf("after the crash: %+v", p.Status.ContainerStatuses)
			}
		})
	}
}

// TestImagePullFailure: pods needing the image stay waiting with ErrImagePull or
// ImagePullBackOff while pulls fail, and start after the repair.
func TestImagePullFailure(t *testing.T) {
	e := newFaultEnv(t, fault.Spec{Name: "p", Kind: fault.ImagePullFailure, At: 0, Duration: 40 * time.Second,
		Target: fault.TargetSpec{Image: "nginx:1.27"}})
	e.until(30 * time.Second)
	for _, p := range e.c.Pods() {
		cs := p.Status.ContainerStatuses
		if p.IsReady() || len(cs) == 0 || (cs[0].Reason != "ErrImagePull" && cs[0].Reason != "ImagePullBackOff") {
			t.Fatalf("pod %s during the pull failure: ready %v %+v", p.Name, p.IsReady(), cs)
		}
	}
	e.until(90 * time.Second)
	for _, p := range e.c.Pods() {
		if !p.IsReady() {
			t.Fatalf("pod %s not ready after the repair: %+v", p.Name, p.Status.ContainerStatuses)
		}
	}
}

// TestAPIServerOutageCatchUp: during the outage a user's request fails; a change
// written meanwhile (the Deployment scaled to 5 straight in etcd) reaches the
// controllers' informers when the apiserver is back, and the cluster converges.
func TestAPIServerOutageCatchUp(t *testing.T) {
	e := newFaultEnv(t, fault.Spec{Name: "o", Kind: fault.APIServerOutage, At: 30 * time.Second, Duration: 20 * time.Second})
	e.until(35 * time.Second)
	var err error
	e.c.API.Client("kubectl", 0, 0).Get(api.KindDeployment, "default", "nginx", func(_ api.Object, e error) { err = e })
	d := e.c.Deployments()[0].DeepCopy()
	d.Spec.Replicas = 5
	d.Generation++
	e.c.Store.Commit(etcd.Op{Type: etcd.Put, Key: api.Key(api.KindDeployment, "default", "nginx"), Value: d}, func(etcd.Result) {})
	e.until(49 * time.Second)
	if apiserver.ReasonOf(err) != apiserver.ReasonServiceUnavailable {
		t.Fatalf("request during the outage: %v", err)
	}
	if n := len(e.c.Pods()); n != 3 {
		t.Fatalf("%d pods during the outage, want 3", n)
	}
	e.until(90 * time.Second)
	ready := 0
	for _, p := range e.c.Pods() {
		if p.IsReady() {
			ready++
		}
	}
	if ready != 5 {
		t.Fatalf("%d ready pods after the outage, want 5 (the scale-up made during it)", ready)
	}
}

// TestEtcdFaults: a leader loss stalls a write by about the election time; losing
// two of three members makes writes fail; a slow disk makes writes slower.
func TestEtcdFaults(t *testing.T) {
	tests := []struct {
		name    string
		spec    fault.Spec
		min     time.Duration
		max     time.Duration
		wantErr bool
	}{
		{"leader loss", fault.Spec{Kind: fault.EtcdLeaderLoss}, 900 * time.Millisecond, 2100 * time.Millisecond, false},
		{"quorum loss", fault.Spec{Kind: fault.EtcdMemberLoss, Params: map[string]string{"members": "2"}}, etcd.NoQuorumTimeout, 2 * etcd.NoQuorumTimeout, true},
		{"one member lost", fault.Spec{Kind: fault.EtcdMemberLoss}, 0, 50 * time.Millisecond, false},
		{"slow disk", fault.Spec{Kind: fault.SlowEtcdDisk, Params: map[string]string{"factor": "50"}}, 20 * time.Millisecond, time.Second, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			spec.Name, spec.At, spec.Duration = "e", 30*time.Second, 3*time.Minute
			e := newFaultEnv(t, spec)
			e.until(30*time.Second + time.Millisecond)
			start := e.c.Eng.Now()
			var lat time.Duration
			var err error
			done := false
			ns := &api.Service{ObjectMeta: api.ObjectMeta{Name: "probe"}, Spec: api.ServiceSpec{Selector: map[string]string{"app": "x"}, Ports: []api.ServicePort{{Port: 80}}}}
			e.c.API.Client("kubectl", 0, 0).Create(ns, func(_ api.Object, e2 error) { lat, err, done = e.c.Eng.Now().Sub(start), e2, true })
			e.until(3 * time.Minute)
			if !done || (err != nil) != tc.wantErr || lat < tc.min || lat > tc.max {
				t.Fatalf("write: done %v err %v latency %v, want in [%v, %v] err %v", done, err, lat, tc.min, tc.max, tc.wantErr)
			}
		})
	}
}
