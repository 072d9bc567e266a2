package dns

import (
	"fmt"
	"slices"
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
	traces  []sim.Record
	samples map[string][]float64
}

func (r *recorder) Trace(rec sim.Record) { r.traces = append(r.traces, rec) }
func (r *recorder) Observe(m string, _ sim.Time, v float64) {
	r.samples[m] = append(r.samples[m], v)
}
func (r *recorder) Gauge(string, sim.Time, float64) {}

func (r *recorder) byComponent(c string) []sim.Record {
	var out []sim.Record
	for _, x := range r.traces {
		if x.Component == c {
			out = append(out, x)
		}
	}
	return out
}

type env struct {
	t    *testing.T
	eng  *sim.Engine
	user *apiserver.Client
	tel  *recorder
	dns  *Server
}

func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	eng := sim.New(5)
	reg := dist.NewRegistry()
	st, err := etcd.New(eng, etcd.DefaultConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	tel := &recorder{samples: map[string][]float64{}}
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, tel)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.QueryLatency = dist.Const(time.Millisecond)
	if mutate != nil {
		mutate(&cfg)
	}
	d, err := New(eng, srv.Client("coredns", cfg.QPS, cfg.Burst), cfg, reg, tel)
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	return &env{t: t, eng: eng, user: srv.Client("user", 0, 0), tel: tel, dns: d}
}

func (e *env) run(d time.Duration) { e.eng.RunUntil(e.eng.Now().Add(d)) }

func (e *env) create(o api.Object) {
	e.t.Helper()
	var res = fmt.Errorf("not answered")
	e.user.Create(o, func(_ api.Object, err error) { res = err })
	e.run(100 * time.Millisecond)
	if res != nil {
		e.t.Fatal(res)
	}
}

type result struct {
	addrs []string
	ttl   time.Duration
	vip   bool
	rcode string
	at    sim.Time
}

// resolve resolves name and runs until the answer arrives.
func (e *env) resolve(name string) result {
	e.t.Helper()
	var r *result
	e.dns.Resolve(name, "default", func(addrs []string, ttl time.Duration, vip bool, rcode string) {
		r = &result{addrs, ttl, vip, rcode, e.eng.Now()}
	})
	for i := 0; i < 1000 && r == nil; i++ {
		e.eng.Step()
	}
	if r == nil {
		e.t.Fatalf("resolve %s: no answer", name)
	}
	return *r
}

func service(name, clusterIP string) *api.Service {
	return &api.Service{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"},
		Spec: api.ServiceSpec{Selector: map[string]string{"app": name}, ClusterIP: clusterIP, Ports: []api.ServicePort{{Name: "http", Port: 80}}}}
}

func slice(svc, name string, eps ...api.Endpoint) *api.EndpointSlice {
	return &api.EndpointSlice{
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{api.LabelServiceName: svc}},
		Endpoints:  eps, Ports: []api.ServicePort{{Name: "http", Port: 80}},
	}
}

func ep(pod, ip string, ready bool) api.Endpoint {
	return api.Endpoint{Address: ip, PodName: pod, Conditions: api.EndpointConditions{Ready: ready, Serving: ready}}
}

const fqdn = "nginx.default.svc.cluster.local."

func TestNXDomainThenAnswerAfterTheNegativeTTL(t *testing.T) {
	e := newEnv(t, nil)
	e.run(time.Second)
	r := e.resolve(fqdn)
	if r.rcode != NXDomain || r.addrs != nil || r.ttl != 5*time.Second {
		t.Fatalf("before the Service: %+v, want NXDOMAIN with TTL 5s", r)
	}
	t0 := r.at
	e.create(service("nginx", ""))
	// The cache plugin keeps the negative answer for its 5 s TTL, decremented by the
	// whole seconds it has spent in the cache.
	r = e.resolve(fqdn)
	if r.rcode != NXDomain || r.ttl != 5*time.Second {
		t.Fatalf("just after the Service was created: %+v, want the cached NXDOMAIN", r)
	}
	e.eng.RunUntil(t0.Add(2500 * time.Millisecond))
	if r = e.resolve(fqdn); r.rcode != NXDomain || r.ttl != 3*time.Second {
		t.Fatalf("2.5 s later: %+v, want the cached NXDOMAIN with TTL 3s", r)
	}
	e.eng.RunUntil(t0.Add(5 * time.Second))
	r = e.resolve(fqdn)
	if r.rcode != NoError || !r.vip || len(r.addrs) != 1 || !strings.HasPrefix(r.addrs[0], "10.96.") || r.ttl != 5*time.Second {
		t.Fatalf("after the negative TTL: %+v, want the ClusterIP with TTL 5s", r)
	}
	st := e.dns.Stats()
	if st.Queries != 4 || st.CacheHits != 2 || st.NXDomain != 3 {
		t.Fatalf("stats %+v, want 4 queries, 2 cache hits, 3 NXDOMAIN", st)
	}
	first := e.tel.byComponent(Component)
	if len(first) != 1 || first[0].Step != Step || first[0].Object != "service/default/nginx" ||
		!strings.Contains(first[0].Detail, "clients resolve nginx.default.svc.cluster.local → "+r.addrs[0]+" through CoreDNS (watching Services), TTL 5s") {
		t.Fatalf("traces %+v, want one step-6 first-resolution record", first)
	}
	if got := len(e.tel.samples[MetricQuery]); got != 4 {
		t.Fatalf("%s samples: %d, want 4", MetricQuery, got)
	}
}

func TestCacheTTL(t *testing.T) {
	cases := []struct {
		name      string
		mutate    func(*Config)
		wantTTL   time.Duration // the TTL the first answer carries
		cachedFor time.Duration // how long the cache answers after the first query
	}{
		{"defaults: ttl 5s", nil, 5 * time.Second, 5 * time.Second},
		{"kubeadm corefile: ttl 30, cache 30", func(c *Config) { c.TTL, c.CacheSuccessMaxTTL = 30*time.Second, 30*time.Second }, 30 * time.Second, 30 * time.Second},
		{"cache caps the ttl", func(c *Config) { c.TTL, c.CacheSuccessMaxTTL = 60*time.Second, 10*time.Second }, 10 * time.Second, 10 * time.Second},
		{"ttl 0 is raised to the cache's MINTTL", func(c *Config) { c.TTL = 0 }, 5 * time.Second, 5 * time.Second},
		{"no cache plugin, ttl 0", func(c *Config) { c.TTL, c.Cache = 0, false }, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.mutate)
			e.create(service("nginx", ""))
			e.run(time.Second)
			r := e.resolve(fqdn)
			if r.rcode != NoError || r.ttl != tc.wantTTL {
				t.Fatalf("first answer %+v, want TTL %v", r, tc.wantTTL)
			}
			hits := e.dns.Stats().CacheHits
			if tc.cachedFor > 0 {
				e.eng.RunUntil(r.at.Add(tc.cachedFor - 10*time.Millisecond))
				if r2 := e.resolve(fqdn); e.dns.Stats().CacheHits != hits+1 || r2.ttl != time.Second {
					t.Fatalf("just before expiry: %+v hits %d, want a cache hit with TTL 1s", r2, e.dns.Stats().CacheHits-hits)
				}
				hits++
			}
			e.eng.RunUntil(r.at.Add(tc.cachedFor))
			e.resolve(fqdn)
			if e.dns.Stats().CacheHits != hits {
				t.Fatalf("answered from the cache after its TTL")
			}
		})
	}
}

func TestCacheServesTheOldAnswerUntilItExpires(t *testing.T) {
	e := newEnv(t, nil)
	e.create(service("nginx", "10.96.0.50"))
	r := e.resolve(fqdn)
	var res error = fmt.Errorf("not answered")
	e.user.Delete(api.KindService, "default", "nginx", apiserver.DeleteOptions{}, func(err error) { res = err })
	e.run(100 * time.Millisecond)
	if res != nil {
		t.Fatal(res)
	}
	if r2 := e.resolve(fqdn); r2.rcode != NoError || !slices.Equal(r2.addrs, []string{"10.96.0.50"}) {
		t.Fatalf("after delete, within the TTL: %+v, want the cached ClusterIP", r2)
	}
	e.eng.RunUntil(r.at.Add(5 * time.Second))
	if r3 := e.resolve(fqdn); r3.rcode != NXDomain {
		t.Fatalf("after the TTL: %+v, want NXDOMAIN", r3)
	}
}

func TestSearchList(t *testing.T) {
	cases := []struct {
		name    string
		queries uint64 // queries until the answer (ndots:5)
	}{
		{"nginx", 1},                            // nginx.default.svc.cluster.local first
		{"nginx.default", 2},                    // .default.svc… fails, then .svc.cluster.local
		{"nginx.default.svc.cluster.local", 4},  // 4 dots < ndots 5: three search domains fail first
		{"nginx.default.svc.cluster.local.", 1}, // absolute
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.create(service("nginx", "10.96.0.7"))
			start := e.eng.Now()
			r := e.resolve(tc.name)
			if r.rcode != NoError || !slices.Equal(r.addrs, []string{"10.96.0.7"}) {
				t.Fatalf("answer %+v", r)
			}
			if q := e.dns.Stats().Queries; q != tc.queries {
				t.Fatalf("queries %d, want %d", q, tc.queries)
			}
			if got, want := r.at.Sub(start), time.Duration(tc.queries)*time.Millisecond; got != want {
				t.Fatalf("resolution took %v, want %v (one query latency per try)", got, want)
			}
		})
	}
}

func TestHeadlessAndEndpointNames(t *testing.T) {
	e := newEnv(t, nil)
	e.create(service("web", "None"))
	name := "web.default.svc.cluster.local."
	if r := e.resolve(name); r.rcode != NXDomain {
		t.Fatalf("headless without endpoints: %+v, want NXDOMAIN", r)
	}
	e.run(6 * time.Second) // let the negative answer expire
	e.create(slice("web", "web-a", ep("web-0", "10.244.1.2", true), ep("web-1", "10.244.2.3", true), ep("web-2", "10.244.3.4", false)))
	r := e.resolve(name)
	if r.rcode != NoError || r.vip || !slices.Equal(r.addrs, []string{"10.244.1.2", "10.244.2.3"}) {
		t.Fatalf("headless: %+v, want the two ready pod IPs", r)
	}
	// The loadbalance plugin rotates the records of each answer.
	if r2 := e.resolve(name); !slices.Equal(r2.addrs, []string{"10.244.2.3", "10.244.1.2"}) {
		t.Fatalf("second answer %v, want the rotation", r2.addrs)
	}
	cases := []struct {
		name  string
		rcode string
		addr  string
	}{
		{"web-1.web.default.svc.cluster.local.", NoError, "10.244.2.3"},
		{"10-244-1-2.web.default.svc.cluster.local.", NoError, "10.244.1.2"},
		{"web-2.web.default.svc.cluster.local.", NXDomain, ""}, // not ready
		{"web-9.web.default.svc.cluster.local.", NXDomain, ""},
		{"example.com.", NXDomain, ""},
		{"a.b.c.default.svc.cluster.local.", NXDomain, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.resolve(tc.name)
			if r.rcode != tc.rcode || (tc.addr != "" && !slices.Equal(r.addrs, []string{tc.addr})) || r.vip {
				t.Fatalf("%s: %+v, want %s %s", tc.name, r, tc.rcode, tc.addr)
			}
		})
	}
	first := e.tel.byComponent(Component)
	if len(first) != 1 || !strings.Contains(first[0].Detail, "a headless Service answers with its ready pod IPs") {
		t.Fatalf("first-resolution traces: %+v", first)
	}
}

func TestCacheCapacityEvicts(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CacheCapacity = 3 })
	for i := range 10 {
		e.resolve(fmt.Sprintf("svc-%d.default.svc.cluster.local.", i))
		if n := e.dns.CacheLen(); n > 3 {
			t.Fatalf("cache holds %d denial answers, capacity 3", n)
		}
	}
	if e.dns.CacheLen() != 3 {
		t.Fatalf("cache holds %d, want 3", e.dns.CacheLen())
	}
}

func TestTraceEach(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TraceEach = true })
	e.create(service("nginx", "10.96.0.9"))
	e.resolve("nginx")
	e.resolve("nope.default.svc.cluster.local.")
	var step0 []string
	for _, r := range e.tel.byComponent(Component) {
		if r.Step == 0 {
			step0 = append(step0, r.Detail)
		}
	}
	if len(step0) != 2 || !strings.Contains(step0[0], "query nginx.default.svc.cluster.local: 10.96.0.9 from the kubernetes plugin, TTL 5s") ||
		!strings.Contains(step0[1], "NXDOMAIN from the kubernetes plugin (no Service nope in namespace default (yet)), negative TTL 5s") {
		t.Fatalf("step-0 query traces: %q", step0)
	}
}

func TestDeterminism(t *testing.T) {
	run := func() string {
		e := newEnv(t, func(c *Config) {
			c.QueryLatency = dist.LogNormal(time.Millisecond, 0.5)
			c.CacheCapacity = 2
			c.TraceEach = true
		})
		e.create(service("nginx", ""))
		var b strings.Builder
		for i := range 20 {
			r := e.resolve(fmt.Sprintf("svc-%d", i%5))
			fmt.Fprintf(&b, "%v %v %d\n", r.rcode, r.at, e.dns.CacheLen())
		}
		for _, r := range e.tel.traces {
			fmt.Fprintf(&b, "%v|%s|%s\n", r.Time, r.Object, r.Detail)
		}
		return b.String()
	}
	if run() != run() {
		t.Fatal("same seed gave different answers or traces")
	}
}

func TestConfigValidate(t *testing.T) {
	reg := dist.NewRegistry()
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"defaults", func(*Config) {}, ""},
		{"kubeadm", func(c *Config) { c.TTL, c.CacheSuccessMaxTTL = 30*time.Second, 30*time.Second }, ""},
		{"empty domain", func(c *Config) { c.ClusterDomain = "" }, "clusterDomain:"},
		{"upper-case domain", func(c *Config) { c.ClusterDomain = "Cluster.Local" }, "clusterDomain:"},
		{"negative ttl", func(c *Config) { c.TTL = -time.Second }, "ttl:"},
		{"ttl too large", func(c *Config) { c.TTL = 3601 * time.Second }, "ttl:"},
		{"fractional ttl", func(c *Config) { c.TTL = 1500 * time.Millisecond }, "ttl:"},
		{"bad latency", func(c *Config) { c.QueryLatency = dist.Spec{Kind: "zipf"} }, "queryLatency:"},
		{"min above max", func(c *Config) { c.CacheMinTTL = 10 * time.Second; c.CacheSuccessMaxTTL = 5 * time.Second }, "cacheMinTTL:"},
		{"zero capacity", func(c *Config) { c.CacheCapacity = 0 }, "cacheCapacity:"},
		{"zero capacity without cache", func(c *Config) { c.CacheCapacity, c.Cache = 0, false }, ""},
		{"ndots", func(c *Config) { c.Ndots = 16 }, "ndots:"},
		{"qps", func(c *Config) { c.QPS = -1 }, "qps:"},
		{"burst", func(c *Config) { c.Burst = 0 }, "burst:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mutate(&c)
			err := c.Validate(reg)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestDefaultConfigMatchesCoreDNS(t *testing.T) {
	c := DefaultConfig()
	if c.ClusterDomain != "cluster.local" || c.TTL != 5*time.Second || !c.Cache || c.CacheSuccessMaxTTL != 3600*time.Second ||
		c.CacheDenialMaxTTL != 1800*time.Second || c.CacheMinTTL != 5*time.Second || c.CacheCapacity != 9984 || c.Ndots != 5 {
		t.Fatalf("defaults drifted from the CoreDNS documentation: %+v", c)
	}
}
