package realproxy

import (
	"errors"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/model/proxy"
	"github.com/kubesim/kubesim/sim"
)

// TestProgrammedByKubeProxy drives the real proxy from the modeled kube-proxy
// component: Service and EndpointSlice objects go through the apiserver, the
// component syncs, and the real listener serves what it programmed.
func TestProgrammedByKubeProxy(t *testing.T) {
	_, res := backends(t, 3)
	eng := sim.New(1)
	reg := dist.NewRegistry()
	st, err := etcd.New(eng, etcd.DefaultConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := proxy.DefaultConfig()
	cfg.Mode, cfg.Scheduler = proxy.ModeIPVS, proxy.SchedulerRR
	kp, err := proxy.New(eng, srv.Client("kube-proxy/node-1", 0, 0), "node-1", cfg, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rp := newProxy(t, Options{Resolve: res})
	kp.SetDataplane(rp)
	kp.Start()
	user := srv.Client("user", 0, 0)
	run := func(d time.Duration) { eng.RunUntil(eng.Now().Add(d)) }
	apply := func(o api.Object, update bool) {
		t.Helper()
		var got error = errNotAnswered
		if update {
			user.Update(o, func(_ api.Object, err error) { got = err })
		} else {
			user.Create(o, func(_ api.Object, err error) { got = err })
		}
		run(200 * time.Millisecond)
		if got != nil {
			t.Fatalf("%s: %v", api.Ref(o), got)
		}
	}
	ready := func(ip string) api.Endpoint {
		return api.Endpoint{Address: ip, Conditions: api.EndpointConditions{Ready: true, Serving: true}}
	}
	slice := func(eps ...api.Endpoint) *api.EndpointSlice {
		return &api.EndpointSlice{
			ObjectMeta: api.ObjectMeta{Name: "nginx-a", Namespace: "default", Labels: map[string]string{api.LabelServiceName: "nginx"}},
			Endpoints:  eps, Ports: []api.ServicePort{{Name: "http", Port: 80}},
		}
	}
	run(time.Second)
	apply(&api.Service{ObjectMeta: api.ObjectMeta{Name: "nginx", Namespace: "default"},
		Spec: api.ServiceSpec{Selector: map[string]string{"app": "nginx"}, Ports: []api.ServicePort{{Name: "http", Port: 80}}}}, false)
	apply(slice(ready("10.0.0.1"), ready("10.0.0.2"), ready("10.0.0.3")), false)
	run(3 * time.Second)
	seen := map[string]int{}
	for range 6 {
		b, err := get(t, rp)
		if err != nil {
			t.Fatal(err)
		}
		seen[b]++
	}
	if seen["b0"] != 2 || seen["b1"] != 2 || seen["b2"] != 2 {
		t.Fatalf("rr over the three programmed endpoints: %v", seen)
	}
	// An endpoint stops being ready: after the next sync the real proxy no longer
	// sends to it.
	cur, _ := st.Get(api.Key(api.KindEndpointSlice, "default", "nginx-a"))
	upd := cur.Value.(*api.EndpointSlice).DeepCopyObject().(*api.EndpointSlice)
	upd.Endpoints = []api.Endpoint{ready("10.0.0.1"), {Address: "10.0.0.2"}, ready("10.0.0.3")}
	apply(upd, true)
	run(3 * time.Second)
	for range 6 {
		if b, err := get(t, rp); err != nil || b == "b1" {
			t.Fatalf("got %q, %v after b1 left the ready set", b, err)
		}
	}
	progs := rp.ProgramSamples()
	if len(progs) < 3 {
		t.Fatalf("program samples %+v", progs)
	}
	last := progs[len(progs)-1]
	if last.Endpoints != 2 || last.ModelDelay <= 0 || last.Latency <= 0 || last.Latency > time.Second {
		t.Fatalf("last program sample %+v", last)
	}
}

var errNotAnswered = errors.New("not answered")
