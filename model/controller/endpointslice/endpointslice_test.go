package endpointslice

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

type recorder struct {
	recs   []sim.Record
	gauges map[string][]float64
}

func (r *recorder) Trace(x sim.Record)                    { r.recs = append(r.recs, x) }
func (r *recorder) Observe(string, sim.Time, float64)     {}
func (r *recorder) Gauge(s string, _ sim.Time, v float64) { r.gauges[s] = append(r.gauges[s], v) }

func (r *recorder) endpoints() []sim.Record {
	var out []sim.Record
	for _, x := range r.recs {
		if x.Component == Component && x.Action == "endpoints" {
			out = append(out, x)
		}
	}
	return out
}

type env struct {
	t    *testing.T
	eng  *sim.Engine
	user *apiserver.Client
	rec  *recorder
}

func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	eng := sim.New(11)
	reg := dist.NewRegistry()
	rec := &recorder{gauges: map[string][]float64{}}
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
	c, err := New(eng, srv.Client("controller-manager", 0, 0), cfg, reg, rec)
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	return &env{t: t, eng: eng, user: srv.Client("test", 0, 0), rec: rec}
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

func (e *env) create(o api.Object) {
	e.wait("create "+api.Ref(o), func(done func(error)) { e.user.Create(o, func(_ api.Object, err error) { done(err) }) })
}

func (e *env) slices() []*api.EndpointSlice {
	var out []*api.EndpointSlice
	e.wait("list", func(done func(error)) {
		e.user.List(api.KindEndpointSlice, apiserver.ListOptions{}, func(objs []api.Object, err error) {
			for _, o := range objs {
				out = append(out, o.(*api.EndpointSlice))
			}
			done(err)
		})
	})
	return out
}

func (e *env) getPod(name string) *api.Pod {
	var p *api.Pod
	e.wait("get", func(done func(error)) {
		e.user.Get(api.KindPod, "default", name, func(o api.Object, err error) {
			if err == nil {
				p = o.(*api.Pod)
			}
			done(err)
		})
	})
	return p
}

func (e *env) setStatus(name string, mutate func(p *api.Pod)) {
	p := e.getPod(name).DeepCopy()
	mutate(p)
	p.ResourceVersion = 0
	e.wait("status", func(done func(error)) { e.user.UpdateStatus(p, func(_ api.Object, err error) { done(err) }) })
}

func newService(name string, selector map[string]string) *api.Service {
	return &api.Service{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"},
		Spec: api.ServiceSpec{Selector: selector, Ports: []api.ServicePort{{Name: "http", Port: 80, TargetPort: 8080}}}}
}

// runningPod is a pod as a kubelet reports it: Running, with an IP, ready or not.
func runningPod(ns, name string, labels map[string]string, ip string, ready bool) *api.Pod {
	p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec:   api.PodSpec{NodeName: "node-1", Containers: []api.Container{{Name: "nginx", Image: "nginx"}}},
		Status: api.PodStatus{Phase: api.PodRunning, PodIP: ip}}
	st := api.ConditionFalse
	if ready {
		st = api.ConditionTrue
	}
	p.SetCondition(api.PodReady, st, "", 0)
	return p
}

var nginxLabels = map[string]string{"app": "nginx"}

func endpointByPod(sl *api.EndpointSlice, pod string) *api.Endpoint {
	for i := range sl.Endpoints {
		if sl.Endpoints[i].PodName == pod {
			return &sl.Endpoints[i]
		}
	}
	return nil
}

func TestServiceGetsEndpoints(t *testing.T) {
	e := newEnv(t, nil)
	e.create(newService("nginx", nginxLabels))
	for i := 0; i < 3; i++ {
		e.create(runningPod("default", fmt.Sprintf("nginx-%d", i), nginxLabels, fmt.Sprintf("10.244.1.%d", i+2), true))
	}
	// Pods the Service must not select.
	e.create(runningPod("default", "other", map[string]string{"app": "other"}, "10.244.1.9", true))
	e.create(runningPod("elsewhere", "nginx-x", nginxLabels, "10.244.1.10", true))
	noIP := runningPod("default", "nginx-noip", nginxLabels, "", false)
	noIP.Status.Phase = api.PodPending
	e.create(noIP)
	done := runningPod("default", "nginx-done", nginxLabels, "10.244.1.11", false)
	done.Status.Phase = api.PodSucceeded
	e.create(done)
	e.run(time.Second)

	ss := e.slices()
	if len(ss) != 1 {
		t.Fatalf("want 1 slice, got %d", len(ss))
	}
	sl := ss[0]
	if !strings.HasPrefix(sl.Name, "nginx-") || len(sl.Name) != len("nginx-")+5 {
		t.Errorf("slice name %q", sl.Name)
	}
	if sl.Labels[api.LabelServiceName] != "nginx" || sl.Labels[LabelManagedBy] != ControllerName {
		t.Errorf("labels %v", sl.Labels)
	}
	if ref := sl.ControllerRef(); ref == nil || ref.Kind != api.KindService || ref.Name != "nginx" {
		t.Errorf("owner %+v", sl.OwnerReferences)
	}
	if len(sl.Ports) != 1 || sl.Ports[0].Port != 8080 || sl.Ports[0].Name != "http" || sl.Ports[0].Protocol != "TCP" {
		t.Errorf("ports %+v, want the target port 8080", sl.Ports)
	}
	if len(sl.Endpoints) != 3 {
		t.Fatalf("endpoints %+v", sl.Endpoints)
	}
	for i, ep := range sl.Endpoints {
		want := api.Endpoint{Address: fmt.Sprintf("10.244.1.%d", i+2), PodName: fmt.Sprintf("nginx-%d", i), NodeName: "node-1",
			Conditions: api.EndpointConditions{Ready: true, Serving: true}}
		ep.PodUID = ""
		if ep != want {
			t.Errorf("endpoint %d: %+v, want %+v", i, ep, want)
		}
	}
	recs := e.rec.endpoints()
	last := recs[len(recs)-1]
	if last.Step != 6 || !strings.Contains(last.Detail, "service default/nginx now has 3/3 ready endpoints: 10.244.1.2:8080, 10.244.1.3:8080, 10.244.1.4:8080") {
		t.Fatalf("endpoints record %+v", last)
	}

	// A pod turns unready: the slice is updated in place.
	e.setStatus("nginx-1", func(p *api.Pod) { p.SetCondition(api.PodReady, api.ConditionFalse, "", e.eng.Now()) })
	e.run(time.Second)
	ss = e.slices()
	if len(ss) != 1 || ss[0].Name != sl.Name {
		t.Fatalf("slices after the change: %d", len(ss))
	}
	if ep := endpointByPod(ss[0], "nginx-1"); ep == nil || ep.Conditions != (api.EndpointConditions{}) {
		t.Fatalf("unready endpoint %+v", ep)
	}
	recs = e.rec.endpoints()
	if last := recs[len(recs)-1]; !strings.Contains(last.Detail, "now has 2/3 ready endpoints") {
		t.Fatalf("last endpoints record %q", last.Detail)
	}
	if g := e.rec.gauges[GaugeReadyPrefix+"default/nginx"]; len(g) < 2 || g[len(g)-1] != 2 {
		t.Fatalf("gauge %v", g)
	}
}

func TestEndpointConditions(t *testing.T) {
	cases := []struct {
		name       string
		publish    bool
		ready      bool
		terminated bool
		want       api.EndpointConditions
	}{
		{"ready", false, true, false, api.EndpointConditions{Ready: true, Serving: true}},
		{"not ready", false, false, false, api.EndpointConditions{}},
		{"terminating ready", false, true, true, api.EndpointConditions{Serving: true, Terminating: true}},
		{"terminating not ready", false, false, true, api.EndpointConditions{Terminating: true}},
		{"publishNotReadyAddresses: not ready", true, false, false, api.EndpointConditions{Ready: true}},
		{"publishNotReadyAddresses: terminating", true, true, true, api.EndpointConditions{Ready: true, Serving: true, Terminating: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, nil)
			svc := newService("nginx", nginxLabels)
			svc.Spec.PublishNotReadyAddresses = c.publish
			e.create(svc)
			e.create(runningPod("default", "nginx-0", nginxLabels, "10.244.1.2", c.ready))
			e.run(time.Second)
			if c.terminated { // a graceful delete: the pod stays with a deletionTimestamp
				e.wait("delete", func(done func(error)) {
					e.user.Delete(api.KindPod, "default", "nginx-0", apiserver.DeleteOptions{}, done)
				})
				e.run(time.Second)
			}
			ss := e.slices()
			if len(ss) != 1 || len(ss[0].Endpoints) != 1 {
				t.Fatalf("slices %+v", ss)
			}
			if got := ss[0].Endpoints[0].Conditions; got != c.want {
				t.Fatalf("conditions %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestManyPodsMakeSeveralSlices(t *testing.T) {
	e := newEnv(t, nil)
	for i := 0; i < 250; i++ {
		e.create(runningPod("default", fmt.Sprintf("nginx-%03d", i), nginxLabels, fmt.Sprintf("10.244.%d.%d", i/200, i%200+2), i%5 != 0))
	}
	e.run(time.Second)
	e.create(newService("nginx", nginxLabels))
	e.run(time.Second)
	ss := e.slices()
	if len(ss) != 3 {
		t.Fatalf("want 3 slices, got %d", len(ss))
	}
	total := map[int]int{}
	seen := map[string]bool{}
	for _, s := range ss {
		total[len(s.Endpoints)]++
		for _, ep := range s.Endpoints {
			if seen[ep.PodName] {
				t.Fatalf("%s twice", ep.PodName)
			}
			seen[ep.PodName] = true
		}
	}
	if total[100] != 2 || total[50] != 1 || len(seen) != 250 {
		t.Fatalf("slice sizes %v, %d endpoints", total, len(seen))
	}
	recs := e.rec.endpoints()
	if !strings.Contains(recs[len(recs)-1].Detail, "now has 200/250 ready endpoints") || !strings.Contains(recs[len(recs)-1].Detail, "(192 more)") {
		t.Fatalf("record %q", recs[len(recs)-1].Detail)
	}

	// Scaling down to 30 pods deletes the surplus slices.
	for i := 30; i < 250; i++ {
		name := fmt.Sprintf("nginx-%03d", i)
		e.wait("delete", func(done func(error)) {
			e.user.Delete(api.KindPod, "default", name, apiserver.DeleteOptions{GracePeriodSeconds: new(int64)}, done)
		})
	}
	e.run(2 * time.Second)
	ss = e.slices()
	n := 0
	for _, s := range ss {
		n += len(s.Endpoints)
	}
	if n != 30 || len(ss) > 2 {
		t.Fatalf("after scale-down: %d slices with %d endpoints", len(ss), n)
	}
}

func TestSelectorChangeAndServiceDelete(t *testing.T) {
	e := newEnv(t, nil)
	e.create(newService("nginx", nginxLabels))
	e.create(runningPod("default", "a", nginxLabels, "10.0.0.1", true))
	e.create(runningPod("default", "b", map[string]string{"app": "b"}, "10.0.0.2", true))
	e.run(time.Second)
	var svc *api.Service
	e.wait("get", func(done func(error)) {
		e.user.Get(api.KindService, "default", "nginx", func(o api.Object, err error) {
			if err == nil {
				svc = o.(*api.Service).DeepCopyObject().(*api.Service)
			}
			done(err)
		})
	})
	svc.Spec.Selector = map[string]string{"app": "b"}
	e.wait("update", func(done func(error)) { e.user.Update(svc, func(_ api.Object, err error) { done(err) }) })
	e.run(time.Second)
	ss := e.slices()
	if len(ss) != 1 || len(ss[0].Endpoints) != 1 || ss[0].Endpoints[0].PodName != "b" {
		t.Fatalf("after the selector change: %+v", ss)
	}
	e.wait("delete", func(done func(error)) {
		e.user.Delete(api.KindService, "default", "nginx", apiserver.DeleteOptions{}, done)
	})
	e.run(time.Second)
	if ss := e.slices(); len(ss) != 0 {
		t.Fatalf("slices left after the Service was deleted: %d", len(ss))
	}
}

func TestBatchPeriod(t *testing.T) {
	cases := []struct {
		name   string
		period time.Duration
		writes int
	}{
		{"no batching: a write per change", 0, 3},
		{"1 s batching: one write for three changes", time.Second, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(cfg *Config) { cfg.EndpointUpdatesBatchPeriod = c.period })
			e.create(newService("nginx", nginxLabels))
			for i := 0; i < 3; i++ {
				e.create(runningPod("default", fmt.Sprintf("p%d", i), nginxLabels, fmt.Sprintf("10.0.0.%d", i+1), false))
			}
			e.run(3 * time.Second)
			before := len(e.rec.endpoints())
			for i := 0; i < 3; i++ {
				e.setStatus(fmt.Sprintf("p%d", i), func(p *api.Pod) { p.SetCondition(api.PodReady, api.ConditionTrue, "", e.eng.Now()) })
				e.run(100 * time.Millisecond)
			}
			e.run(3 * time.Second)
			got := len(e.rec.endpoints()) - before
			if got != c.writes {
				t.Fatalf("%d endpoint writes for 3 readiness changes 100 ms apart, want %d", got, c.writes)
			}
			recs := e.rec.endpoints()
			if !strings.Contains(recs[len(recs)-1].Detail, "now has 3/3 ready") {
				t.Fatalf("final record %q", recs[len(recs)-1].Detail)
			}
		})
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
		{"max 0", func(c *Config) { c.MaxEndpointsPerSlice = 0 }, "maxEndpointsPerSlice"},
		{"max 1001", func(c *Config) { c.MaxEndpointsPerSlice = 1001 }, "maxEndpointsPerSlice"},
		{"max 1000 is allowed", func(c *Config) { c.MaxEndpointsPerSlice = 1000 }, ""},
		{"negative batch period", func(c *Config) { c.EndpointUpdatesBatchPeriod = -1 }, "endpointUpdatesBatchPeriod"},
		{"latency", func(c *Config) { c.SyncLatency = dist.Spec{Kind: "x"} }, "syncLatency"},
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

func zonedNode(name, zone string) *api.Node {
	n := &api.Node{ObjectMeta: api.ObjectMeta{Name: name, Labels: map[string]string{}}}
	if zone != "" {
		n.Labels[api.LabelZone] = zone
	}
	return n
}

func TestEndpointsCarryTheirNodesZone(t *testing.T) {
	cases := []struct {
		name string
		// nodeFirst creates the nodes before the Service and pods; otherwise the
		// nodes arrive after the endpoints were written and the controller must
		// sync again.
		nodeFirst bool
	}{
		{"nodes known before the pods", true},
		{"nodes registered after the endpoints", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			nodes := []*api.Node{zonedNode("node-1", "zone-a"), zonedNode("node-2", "zone-b"), zonedNode("node-3", "")}
			if tc.nodeFirst {
				for _, n := range nodes {
					e.create(n)
				}
			}
			e.create(newService("nginx", nginxLabels))
			for i, node := range []string{"node-1", "node-2", "node-3"} {
				p := runningPod("default", fmt.Sprintf("nginx-%d", i), nginxLabels, fmt.Sprintf("10.244.%d.2", i+1), true)
				p.Spec.NodeName = api.NodeName(node)
				e.create(p)
			}
			e.run(3 * time.Second)
			if !tc.nodeFirst {
				sl := e.slices()
				if len(sl) != 1 || endpointByPod(sl[0], "nginx-0") == nil || endpointByPod(sl[0], "nginx-0").Zone != "" {
					t.Fatalf("before the nodes exist, endpoints must have no zone: %+v", sl)
				}
				for _, n := range nodes {
					e.create(n)
				}
				e.run(3 * time.Second)
			}
			sl := e.slices()
			if len(sl) != 1 {
				t.Fatalf("slices: %d, want 1", len(sl))
			}
			want := map[string]string{"nginx-0": "zone-a", "nginx-1": "zone-b", "nginx-2": ""}
			for pod, zone := range want {
				ep := endpointByPod(sl[0], pod)
				if ep == nil || ep.Zone != zone {
					t.Fatalf("endpoint of %s: %+v, want zone %q", pod, ep, zone)
				}
			}
		})
	}
}

func TestNodeZoneChangeUpdatesEndpoints(t *testing.T) {
	e := newEnv(t, nil)
	e.create(zonedNode("node-1", "zone-a"))
	e.create(newService("nginx", nginxLabels))
	e.create(runningPod("default", "nginx-0", nginxLabels, "10.244.1.2", true))
	e.run(3 * time.Second)
	if ep := endpointByPod(e.slices()[0], "nginx-0"); ep == nil || ep.Zone != "zone-a" {
		t.Fatalf("endpoint %+v, want zone-a", ep)
	}
	var n *api.Node
	e.wait("get node", func(done func(error)) {
		e.user.Get(api.KindNode, "", "node-1", func(o api.Object, err error) {
			if err == nil {
				n = o.(*api.Node).DeepCopy()
			}
			done(err)
		})
	})
	n.Labels[api.LabelZone] = "zone-c"
	e.wait("update node", func(done func(error)) { e.user.Update(n, func(_ api.Object, err error) { done(err) }) })
	e.run(3 * time.Second)
	if ep := endpointByPod(e.slices()[0], "nginx-0"); ep == nil || ep.Zone != "zone-c" {
		t.Fatalf("endpoint after the relabel %+v, want zone-c", ep)
	}
}
