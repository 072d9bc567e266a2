package traffic

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/model/network"
	"github.com/kubesim/kubesim/model/proxy"
	"github.com/kubesim/kubesim/sim"
)

// fakeDNS answers NXDOMAIN before `from`, then addrs, after 1 ms, with ttl.
type fakeDNS struct {
	eng     *sim.Engine
	from    sim.Time
	addrs   []string
	vip     bool
	ttl     time.Duration
	queries int
	names   []string
}

func (f *fakeDNS) Resolve(name, ns string, done func([]string, time.Duration, bool, string)) {
	f.queries++
	f.names = append(f.names, name+"@"+ns)
	f.eng.After(time.Millisecond, func() {
		if f.eng.Now() < f.from {
			done(nil, f.ttl, false, "NXDOMAIN")
			return
		}
		done(slices.Clone(f.addrs), f.ttl, f.vip, "NOERROR")
	})
}

// trackingPicker is a fixedPicker that counts closed connections.
type trackingPicker struct {
	fixedPicker
	closed map[string]int
}

func (p *trackingPicker) ConnClosed(ns, name string, port int32, addr string) {
	if p.closed == nil {
		p.closed = map[string]int{}
	}
	p.closed[addr]++
}

func dnsConfig() Config {
	c := baseConfig()
	c.UseDNS = true
	c.ClientNodes = []string{"node-1"}
	return c
}

func TestDNSBeforeAndAfterTheService(t *testing.T) {
	s := newSetup(31)
	f := &fakeDNS{eng: s.eng, from: sim.Time(5 * time.Second), addrs: []string{"10.96.0.2"}, vip: true, ttl: 5 * time.Second}
	g, err := New(s.eng, dnsConfig(), s.pickers, s.fabric, dist.NewRegistry(), s.tel)
	if err != nil {
		t.Fatal(err)
	}
	g.SetResolver(f)
	g.Start()
	s.eng.RunUntil(sim.Time(30 * time.Second))
	st := g.Stats()
	nx := st.FailedFor(ReasonNXDomain)
	// The negative answer at ~0 s is kept for 5 s: requests until then fail.
	if nx < 150 || nx > 350 || st.OK+nx != st.Sent {
		t.Fatalf("stats %+v: want ~250 NXDOMAIN failures in the first 5 s, the rest answered", st)
	}
	// One client, TTL 5 s, 20 s of traffic: one resolution per TTL.
	if st.Resolutions != 4 || f.queries != 4 {
		t.Fatalf("resolutions %d (queries %d), want 4: the client must honour the TTL", st.Resolutions, f.queries)
	}
	if f.names[0] != "nginx.default.svc.cluster.local@default" {
		t.Fatalf("resolved %q, want the Service's name with the default namespace's search list", f.names[0])
	}
}

func TestRequestsWaitForOneResolution(t *testing.T) {
	s := newSetup(32)
	f := &fakeDNS{eng: s.eng, addrs: []string{"10.96.0.2"}, vip: true, ttl: 0}
	cfg := dnsConfig()
	cfg.Rate = 5000 // several arrivals during each 1 ms query
	cfg.Duration = time.Second
	g, _ := New(s.eng, cfg, s.pickers, s.fabric, dist.NewRegistry(), s.tel)
	g.SetResolver(f)
	g.Start()
	s.eng.RunUntil(sim.Time(10 * time.Second))
	st := g.Stats()
	// TTL 0: nothing is cached, but requests arriving during a query share it.
	if st.OK != st.Sent || st.Resolutions >= st.Sent/2 || st.Resolutions < 100 {
		t.Fatalf("stats %+v: want every request answered with far fewer resolutions than requests", st)
	}
}

func TestHeadlessAnswersConnectDirectly(t *testing.T) {
	s := newSetup(33)
	f := &fakeDNS{eng: s.eng, addrs: []string{"10.244.1.3"}, vip: false, ttl: 30 * time.Second}
	g, _ := New(s.eng, dnsConfig(), s.pickers, s.fabric, dist.NewRegistry(), s.tel)
	g.SetResolver(f)
	g.Start()
	s.eng.RunUntil(sim.Time(30 * time.Second))
	st := g.Stats()
	if st.OK != st.Sent || st.Sent == 0 {
		t.Fatalf("stats %+v", st)
	}
	if n := len(s.pickers["node-1"].(*fixedPicker).clients); n != 0 {
		t.Fatalf("kube-proxy was asked %d times for pod IPs from a headless answer", n)
	}
	if len(st.Backends) != 1 || st.Backends[0].Addr != "10.244.1.3:80" || st.Backends[0].OK != st.OK {
		t.Fatalf("backends %+v", st.Backends)
	}
}

func TestConnClosedOncePerRoutedRequest(t *testing.T) {
	s := newSetup(34)
	tp := &trackingPicker{fixedPicker: fixedPicker{addr: "10.244.1.3:80"}}
	s.pickers = map[string]Picker{"node-1": tp}
	s.lst.delay = 3 * time.Second // some requests time out first
	cfg := baseConfig()
	cfg.ClientNodes = []string{"node-1"}
	cfg.Timeout = 3 * time.Second
	g := s.run(t, cfg)
	st := g.Stats()
	if st.InFlight != 0 || uint64(tp.closed["10.244.1.3:80"]) != st.Sent || st.FailedFor(ReasonTimeout) == 0 {
		t.Fatalf("closed %v for %d requests (%+v), want one close each", tp.closed, st.Sent, st)
	}
}

func TestPerBackendLoad(t *testing.T) {
	s := newSetup(35)
	rr := &rrPicker{addrs: []string{"10.244.1.3:80", "10.244.9.9:80"}} // the second pod is gone
	s.pickers = map[string]Picker{"node-1": rr}
	cfg := baseConfig()
	cfg.ClientNodes = []string{"node-1"}
	cfg.PerBackendMetrics = true
	cfg.Duration = 4 * time.Second
	g := s.run(t, cfg)
	st := g.Stats()
	if len(st.Backends) != 2 {
		t.Fatalf("backends %+v", st.Backends)
	}
	live, dead := st.Backends[0], st.Backends[1]
	if live.Addr != "10.244.1.3:80" || live.OK != live.Requests || live.MeanLatency() != 4*time.Millisecond ||
		dead.Failed != dead.Requests || dead.OK != 0 || live.Requests+dead.Requests != st.Sent {
		t.Fatalf("backends %+v", st.Backends)
	}
	if n := len(s.tel.samples[MetricBackendLatencyPrefix+"10.244.1.3:80"]); uint64(n) != live.OK {
		t.Fatalf("per-backend latency samples %d, want %d", n, live.OK)
	}
	var sum float64
	for _, v := range s.tel.gauges[MetricBackendRatePrefix+"10.244.9.9:80"] {
		sum += v
	}
	if uint64(sum) != dead.Requests {
		t.Fatalf("per-backend rate sums to %v, want %d", sum, dead.Requests)
	}
	refused := 0
	for _, r := range s.tel.traces {
		if r.Action == "refused" {
			refused++
			if !strings.Contains(r.Detail, "first request refused by 10.244.9.9:80") {
				t.Fatalf("refused trace %q", r.Detail)
			}
		}
	}
	if refused != 1 {
		t.Fatalf("refused traces: %d, want one for the dead backend", refused)
	}
}

// rrPicker alternates between its addresses.
type rrPicker struct {
	addrs []string
	i     int
}

func (p *rrPicker) Pick(string, string, int32, string) (string, bool) {
	a := p.addrs[p.i%len(p.addrs)]
	p.i++
	return a, true
}

// TestDeadButProgrammedEndpoint runs real kube-proxies: a pod dies and its endpoint
// leaves the EndpointSlice at once, but each proxy keeps sending connections to it
// until its next sync (minSyncPeriod 1 s after the previous one, plus the sync
// latency): those requests are refused; afterwards none are.
func TestDeadButProgrammedEndpoint(t *testing.T) {
	eng := sim.New(36)
	reg := dist.NewRegistry()
	st, _ := etcd.New(eng, etcd.DefaultConfig(), reg)
	tel := newRecorder()
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	user := srv.Client("user", 0, 0)
	fabric := network.New()
	lst := &listener{eng: eng, delay: 2 * time.Millisecond}
	for _, a := range []string{"10.244.1.3:80", "10.244.2.3:80"} {
		if err := fabric.Listen(a, lst); err != nil {
			t.Fatal(err)
		}
	}
	pcfg := proxy.DefaultConfig()
	pcfg.Mode, pcfg.SyncLatency = proxy.ModeIPVS, dist.Const(50*time.Millisecond)
	pickers := map[string]Picker{}
	var proxies []*proxy.Proxy
	for _, n := range []string{"node-1", "node-2"} {
		p, err := proxy.New(eng, srv.Client("kube-proxy/"+n, 0, 0), n, pcfg, reg, nil)
		if err != nil {
			t.Fatal(err)
		}
		p.Start()
		pickers[n] = p
		proxies = append(proxies, p)
	}
	sl := func(ips ...string) *api.EndpointSlice {
		s := &api.EndpointSlice{ObjectMeta: api.ObjectMeta{Name: "nginx-a", Namespace: "default", Labels: map[string]string{api.LabelServiceName: "nginx"}},
			Ports: []api.ServicePort{{Name: "http", Port: 80}}}
		for _, ip := range ips {
			s.Endpoints = append(s.Endpoints, api.Endpoint{Address: ip, Conditions: api.EndpointConditions{Ready: true, Serving: true}})
		}
		return s
	}
	user.Create(&api.Service{ObjectMeta: api.ObjectMeta{Name: "nginx", Namespace: "default"},
		Spec: api.ServiceSpec{Selector: map[string]string{"app": "nginx"}, Ports: []api.ServicePort{{Name: "http", Port: 80}}}}, nil)
	user.Create(sl("10.244.1.3", "10.244.2.3"), nil)
	cfg := baseConfig()
	cfg.Rate, cfg.Start, cfg.Duration = 200, 3*time.Second, 10*time.Second
	g, err := New(eng, cfg, pickers, fabric, reg, tel)
	if err != nil {
		t.Fatal(err)
	}
	g.Start()
	// At 6.5 s the pod 10.244.2.3 dies; its endpoint is removed from the slice.
	var died sim.Time
	var removed sim.Time
	eng.At(sim.Time(6500*time.Millisecond), func() {
		died = eng.Now()
		fabric.Close("10.244.2.3:80")
		user.Get(api.KindEndpointSlice, "default", "nginx-a", func(o api.Object, err error) {
			cp := sl("10.244.1.3")
			cp.ResourceVersion = o.Meta().ResourceVersion
			user.Update(cp, func(api.Object, error) { removed = eng.Now() })
		})
	})
	refusedTimes := []sim.Time{}
	prev := uint64(0)
	for eng.Step() {
		if eng.Now() > sim.Time(20*time.Second) {
			break
		}
		if n := g.Stats().FailedFor(ReasonConnectionRefused); n != prev {
			prev = n
			refusedTimes = append(refusedTimes, eng.Now())
		}
	}
	stats := g.Stats()
	if stats.FailedFor(ReasonConnectionRefused) == 0 {
		t.Fatalf("no request was refused while the dead endpoint was still programmed: %+v", stats)
	}
	if removed == 0 {
		t.Fatal("the slice update did not complete")
	}
	// Every refusal happens after the death and within one minSyncPeriod + sync
	// latency (+ the watch and network delays) of the endpoint's removal.
	bound := removed.Add(time.Second + 50*time.Millisecond + 100*time.Millisecond)
	for _, at := range refusedTimes {
		if at < died || at > bound {
			t.Fatalf("refusal at %v outside [%v, %v]", at, died, bound)
		}
	}
	if stats.Failed != stats.FailedFor(ReasonConnectionRefused) {
		t.Fatalf("unexpected failures: %+v", stats.FailedBy)
	}
	for _, p := range proxies {
		if got := p.Programmed("default", "nginx"); !slices.Equal(got, []string{"10.244.1.3:80"}) {
			t.Fatalf("%s still programs %v", p.Node(), got)
		}
	}
	t.Logf("%d requests refused between %v and %v (removed from the slice at %v)", stats.FailedFor(ReasonConnectionRefused), refusedTimes[0], refusedTimes[len(refusedTimes)-1], removed)
}
