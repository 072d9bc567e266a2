package proxy

import (
	"fmt"
	"math"
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

// recorder is a Telemetry that keeps everything, for assertions.
type recorder struct {
	traces  []sim.Record
	samples map[string][]float64
}

func newRecorder() *recorder { return &recorder{samples: map[string][]float64{}} }

func (r *recorder) Trace(rec sim.Record) { r.traces = append(r.traces, rec) }
func (r *recorder) Observe(m string, _ sim.Time, v float64) {
	r.samples[m] = append(r.samples[m], v)
}
func (r *recorder) Gauge(string, sim.Time, float64) {}

func (r *recorder) actions(action string) []sim.Record {
	var out []sim.Record
	for _, rec := range r.traces {
		if rec.Action == action {
			out = append(out, rec)
		}
	}
	return out
}

// mentions reports whether a record with the action has detail containing s.
func (r *recorder) mentions(action, s string) bool {
	for _, rec := range r.actions(action) {
		if strings.Contains(rec.Detail, s) {
			return true
		}
	}
	return false
}

// env is an engine, etcd, apiserver and one user client.
type env struct {
	t    *testing.T
	eng  *sim.Engine
	srv  *apiserver.Server
	reg  *dist.Registry
	user *apiserver.Client
	tel  *recorder
}

func newEnv(t *testing.T, seed uint64) *env {
	t.Helper()
	eng := sim.New(seed)
	reg := dist.NewRegistry()
	st, err := etcd.New(eng, etcd.DefaultConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	tel := newRecorder()
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, tel)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, eng: eng, srv: srv, reg: reg, user: srv.Client("user", 0, 0), tel: tel}
}

// testConfig has a constant sync latency so times are exact.
func testConfig(mode Mode) Config {
	cfg := DefaultConfig()
	cfg.Mode = mode
	cfg.SyncLatency = dist.Const(50 * time.Millisecond)
	return cfg
}

func (e *env) proxy(node string, cfg Config) *Proxy {
	e.t.Helper()
	p, err := New(e.eng, e.srv.Client("kube-proxy/"+node, cfg.QPS, cfg.Burst), node, cfg, e.reg, e.tel)
	if err != nil {
		e.t.Fatal(err)
	}
	p.Start()
	return p
}

func (e *env) run(d time.Duration) { e.eng.RunUntil(e.eng.Now().Add(d)) }

// create sends a create and returns a pointer that holds the error once done.
func (e *env) create(o api.Object) *error {
	var res = new(error)
	*res = fmt.Errorf("create %s not answered", api.Ref(o))
	e.user.Create(o, func(_ api.Object, err error) { *res = err })
	return res
}

func (e *env) mustCreate(o api.Object) {
	e.t.Helper()
	res := e.create(o)
	e.run(200 * time.Millisecond)
	if *res != nil {
		e.t.Fatal(*res)
	}
}

func (e *env) mustUpdate(o api.Object) {
	e.t.Helper()
	var res = fmt.Errorf("update not answered")
	e.user.Update(o, func(_ api.Object, err error) { res = err })
	e.run(200 * time.Millisecond)
	if res != nil {
		e.t.Fatal(res)
	}
}

func (e *env) mustDelete(k api.Kind, ns, name string) {
	e.t.Helper()
	var res = fmt.Errorf("delete not answered")
	e.user.Delete(k, ns, name, apiserver.DeleteOptions{}, func(err error) { res = err })
	e.run(200 * time.Millisecond)
	if res != nil {
		e.t.Fatal(res)
	}
}

func service(name string, affinity api.ServiceAffinity, ports ...api.ServicePort) *api.Service {
	if len(ports) == 0 {
		ports = []api.ServicePort{{Name: "http", Port: 80}}
	}
	return &api.Service{
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       api.ServiceSpec{Selector: map[string]string{"app": name}, Ports: ports, SessionAffinity: affinity},
	}
}

func ready(ip string) api.Endpoint {
	return api.Endpoint{Address: ip, Conditions: api.EndpointConditions{Ready: true, Serving: true}}
}

func slice(svc, name string, port int32, eps ...api.Endpoint) *api.EndpointSlice {
	return &api.EndpointSlice{
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{api.LabelServiceName: svc}},
		Endpoints:  eps,
		Ports:      []api.ServicePort{{Name: "http", Port: port}},
	}
}

func TestProgrammingWaitsForMinSyncPeriodAndSyncLatency(t *testing.T) {
	e := newEnv(t, 1)
	p := e.proxy("node-1", testConfig(ModeIPTables))
	e.run(500 * time.Millisecond)
	if !p.Initialized() || p.Stats().Syncs != 1 {
		t.Fatalf("initial sync: initialized=%v syncs=%d, want true, 1", p.Initialized(), p.Stats().Syncs)
	}
	end0 := p.lastSyncEnd
	svcErr := e.create(service("nginx", ""))
	sliceErr := e.create(slice("nginx", "nginx-abc", 80, ready("10.244.1.3"), ready("10.244.2.4"), ready("10.244.1.5")))
	// The changes arrive well within MinSyncPeriod of the initial sync: the next sync
	// starts at end0+1s and its rules take effect 50 ms later.
	want := end0.Add(time.Second + 50*time.Millisecond)
	e.eng.RunUntil(want - 1)
	if *svcErr != nil || *sliceErr != nil {
		t.Fatalf("create: %v, %v", *svcErr, *sliceErr)
	}
	if got := p.Programmed("default", "nginx"); got != nil {
		t.Fatalf("programmed before lastSync+MinSyncPeriod+SyncLatency: %v", got)
	}
	if _, ok := p.Pick("default", "nginx", 80, "c"); ok {
		t.Fatal("Pick answered from the API state, not the programmed rules")
	}
	e.eng.RunUntil(want)
	wantBackends := []string{"10.244.1.3:80", "10.244.1.5:80", "10.244.2.4:80"}
	if got := p.Programmed("default", "nginx"); !slices.Equal(got, wantBackends) {
		t.Fatalf("programmed at %v: %v, want %v", want, got, wantBackends)
	}
	progs := e.tel.actions("program")
	if len(progs) != 1 {
		t.Fatalf("program traces: %d, want 1: %+v", len(progs), progs)
	}
	r := progs[0]
	if r.Step != 6 || r.Component != "kube-proxy/node-1" || r.Object != "service/default/nginx" || r.Time != want {
		t.Errorf("trace record: %+v", r)
	}
	if !strings.HasPrefix(r.Detail, "programmed iptables rules for service default/nginx (10.96.0.") ||
		!strings.Contains(r.Detail, ":80): 3 endpoints, probabilities 0.3333333333, 0.5000000000, 1 (") {
		t.Errorf("trace detail: %q", r.Detail)
	}
	lat := e.tel.samples[MetricProgramming]
	if len(lat) != 1 || lat[0] < 0.5 || lat[0] > 1.05 {
		t.Errorf("%s samples: %v, want one in [0.5, 1.05] s", MetricProgramming, lat)
	}
}

func TestIdleProxyProgramsAfterSyncLatencyOnly(t *testing.T) {
	e := newEnv(t, 2)
	p := e.proxy("node-1", testConfig(ModeIPTables))
	e.mustCreate(service("nginx", ""))
	e.run(5 * time.Second) // idle for longer than MinSyncPeriod
	syncs := p.Stats().Syncs
	e.create(slice("nginx", "nginx-abc", 80, ready("10.244.1.3")))
	e.run(30 * time.Millisecond) // the watch delivers the slice within ~15 ms
	if p.Programmed("default", "nginx") != nil {
		t.Fatal("programmed before SyncLatency elapsed")
	}
	e.run(50 * time.Millisecond)
	if got := p.Programmed("default", "nginx"); !slices.Equal(got, []string{"10.244.1.3:80"}) {
		t.Fatalf("programmed: %v", got)
	}
	if p.Stats().Syncs != syncs+1 {
		t.Fatalf("syncs: %d, want %d", p.Stats().Syncs, syncs+1)
	}
	lat := e.tel.samples[MetricProgramming]
	if last := lat[len(lat)-1]; math.Abs(last-0.05) > 1e-9 {
		t.Errorf("programming latency of an idle proxy: %v s, want the sync latency 0.05 s", last)
	}
}

func TestChangesWithinMinSyncPeriodAreBatched(t *testing.T) {
	e := newEnv(t, 3)
	p := e.proxy("node-1", testConfig(ModeIPTables))
	e.mustCreate(service("nginx", ""))
	e.run(3 * time.Second)
	s0 := p.Stats()
	// Five slices created 100 ms apart: the first triggers a sync at once, the other
	// four land in one more sync after MinSyncPeriod.
	for i := range 5 {
		e.create(slice("nginx", fmt.Sprintf("s%d", i), 80, ready(fmt.Sprintf("10.244.0.%d", i+1))))
		e.run(100 * time.Millisecond)
	}
	e.run(2 * time.Second)
	s1 := p.Stats()
	if got := s1.Syncs - s0.Syncs; got != 2 {
		t.Errorf("syncs for 5 changes in 0.5 s: %d, want 2", got)
	}
	if got := len(p.Programmed("default", "nginx")); got != 5 {
		t.Errorf("programmed backends: %d, want 5", got)
	}
}

func TestEndpointSelection(t *testing.T) {
	notReady := api.Endpoint{Address: "10.244.9.9", Conditions: api.EndpointConditions{}}
	servingTerm := func(ip string) api.Endpoint {
		return api.Endpoint{Address: ip, Conditions: api.EndpointConditions{Serving: true, Terminating: true}}
	}
	termOnly := api.Endpoint{Address: "10.244.8.8", Conditions: api.EndpointConditions{Terminating: true}}
	cases := []struct {
		name    string
		svc     *api.Service
		slices  []*api.EndpointSlice
		want    []string
		detail  string // substring of the last program trace
		pickErr bool
	}{
		{
			name:   "not-ready endpoints excluded",
			svc:    service("web", ""),
			slices: []*api.EndpointSlice{slice("web", "a", 80, ready("10.244.1.1"), notReady, ready("10.244.1.2"))},
			want:   []string{"10.244.1.1:80", "10.244.1.2:80"},
			detail: "2 endpoints, probabilities 0.5000000000, 1",
		},
		{
			name:   "ready preferred over serving+terminating",
			svc:    service("web", ""),
			slices: []*api.EndpointSlice{slice("web", "a", 80, ready("10.244.1.1"), servingTerm("10.244.1.7"))},
			want:   []string{"10.244.1.1:80"},
		},
		{
			name:   "terminating fallback when nothing is ready",
			svc:    service("web", ""),
			slices: []*api.EndpointSlice{slice("web", "a", 80, servingTerm("10.244.1.7"), notReady, termOnly, servingTerm("10.244.1.6"))},
			want:   []string{"10.244.1.6:80", "10.244.1.7:80"},
			detail: "serving+terminating",
		},
		{
			name:    "no usable endpoint rejects",
			svc:     service("web", ""),
			slices:  []*api.EndpointSlice{slice("web", "a", 80, notReady, termOnly)},
			want:    nil,
			detail:  "no endpoints, KUBE-SERVICES REJECTs",
			pickErr: true,
		},
		{
			name: "slices merged and deduplicated",
			svc:  service("web", ""),
			slices: []*api.EndpointSlice{
				slice("web", "b", 80, ready("10.244.1.2"), ready("10.244.1.3")),
				slice("web", "a", 80, ready("10.244.1.1"), ready("10.244.1.2")),
				slice("other", "c", 80, ready("10.244.7.7")),
			},
			want: []string{"10.244.1.1:80", "10.244.1.2:80", "10.244.1.3:80"},
		},
		{
			name: "backend port from the slice port of the same name",
			svc:  service("web", "", api.ServicePort{Name: "http", Port: 80, TargetPort: 8080}),
			slices: []*api.EndpointSlice{
				slice("web", "a", 8080, ready("10.244.1.1")),
				{ObjectMeta: api.ObjectMeta{Name: "b", Namespace: "default", Labels: map[string]string{api.LabelServiceName: "web"}},
					Endpoints: []api.Endpoint{ready("10.244.1.9")}, Ports: []api.ServicePort{{Name: "metrics", Port: 9090}}},
			},
			want: []string{"10.244.1.1:8080"},
		},
		{
			name: "slice without ports uses the targetPort",
			svc:  service("web", "", api.ServicePort{Name: "http", Port: 80, TargetPort: 8080}),
			slices: []*api.EndpointSlice{{ObjectMeta: api.ObjectMeta{Name: "a", Namespace: "default", Labels: map[string]string{api.LabelServiceName: "web"}},
				Endpoints: []api.Endpoint{ready("10.244.1.1")}}},
			want: []string{"10.244.1.1:8080"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 4)
			p := e.proxy("node-1", testConfig(ModeIPTables))
			e.mustCreate(tc.svc)
			for _, s := range tc.slices {
				e.mustCreate(s)
			}
			e.run(3 * time.Second)
			if got := p.Programmed("default", "web"); !slices.Equal(got, tc.want) {
				t.Fatalf("programmed %v, want %v", got, tc.want)
			}
			addr, ok := p.Pick("default", "web", 80, "1.2.3.4")
			if ok == tc.pickErr {
				t.Fatalf("Pick ok=%v, want %v", ok, !tc.pickErr)
			}
			if ok && !slices.Contains(tc.want, addr) {
				t.Fatalf("Pick = %q, not a programmed backend", addr)
			}
			if tc.detail != "" {
				progs := e.tel.actions("program")
				if len(progs) == 0 || !strings.Contains(progs[len(progs)-1].Detail, tc.detail) {
					t.Fatalf("last program trace does not mention %q: %+v", tc.detail, progs)
				}
			}
		})
	}
}

// setup programs service web with n ready backends and returns the proxy.
func setup(t *testing.T, seed uint64, cfg Config, affinity api.ServiceAffinity, n int) (*env, *Proxy, []string) {
	t.Helper()
	e := newEnv(t, seed)
	p := e.proxy("node-1", cfg)
	var eps []api.Endpoint
	var want []string
	for i := range n {
		ip := fmt.Sprintf("10.244.1.%d", i+1)
		eps = append(eps, ready(ip))
		want = append(want, ip+":80")
	}
	e.mustCreate(service("web", affinity))
	e.mustCreate(slice("web", "web-1", 80, eps...))
	e.run(3 * time.Second)
	slices.Sort(want)
	if got := p.Programmed("default", "web"); !slices.Equal(got, want) {
		t.Fatalf("programmed %v, want %v", got, want)
	}
	return e, p, want
}

func TestRandomModesAreUniform(t *testing.T) {
	for _, mode := range []Mode{ModeIPTables, ModeNFTables} {
		t.Run(string(mode), func(t *testing.T) {
			const n, picks = 4, 40000
			_, p, backends := setup(t, 5, testConfig(mode), "", n)
			counts := map[string]int{}
			for range picks {
				addr, ok := p.Pick("default", "web", 80, "1.2.3.4")
				if !ok {
					t.Fatal("no pick")
				}
				counts[addr]++
			}
			// Pearson chi-square with n-1 = 3 degrees of freedom; 16.27 is the 0.999
			// quantile, so a uniform picker fails this with probability 0.1 % (and
			// the seed is fixed).
			exp := float64(picks) / n
			chi2 := 0.0
			for _, b := range backends {
				d := float64(counts[b]) - exp
				chi2 += d * d / exp
			}
			if chi2 > 16.27 {
				t.Fatalf("chi-square %.2f > 16.27: counts %v", chi2, counts)
			}
			if len(counts) != n {
				t.Fatalf("picked %d distinct backends, want %d", len(counts), n)
			}
		})
	}
}

func TestIPVSRoundRobin(t *testing.T) {
	e, p, backends := setup(t, 6, testConfig(ModeIPVS), "", 3)
	var got []string
	for range 7 {
		a, _ := p.Pick("default", "web", 80, "1.2.3.4")
		got = append(got, a)
	}
	want := append(append(append([]string{}, backends...), backends...), backends[0])
	if !slices.Equal(got, want) {
		t.Fatalf("rr picks %v, want %v", got, want)
	}
	if !e.tel.mentions("program", "rr over 3 real servers") {
		t.Errorf("no ipvs program trace says rr over 3 real servers: %+v", e.tel.actions("program"))
	}
}

func TestClientIPAffinity(t *testing.T) {
	cfg := testConfig(ModeIPVS) // rr makes the choices predictable
	cfg.AffinityTimeout = 10 * time.Second
	e, p, b := setup(t, 7, cfg, api.AffinityClientIP, 3)
	pick := func(ip string) string {
		a, ok := p.Pick("default", "web", 80, ip)
		if !ok {
			t.Fatal("no pick")
		}
		return a
	}
	if a := pick("c1"); a != b[0] {
		t.Fatalf("c1 first pick %s, want %s", a, b[0])
	}
	if a := pick("c2"); a != b[1] {
		t.Fatalf("c2 first pick %s, want %s", a, b[1])
	}
	for range 20 {
		if a1, a2 := pick("c1"), pick("c2"); a1 != b[0] || a2 != b[1] {
			t.Fatalf("affinity broken: c1→%s c2→%s", a1, a2)
		}
		e.run(5 * time.Second) // used every 5 s: never expires
	}
	e.run(11 * time.Second) // both entries expire
	if a := pick("c2"); a != b[2] {
		t.Fatalf("c2 after expiry: %s, want the next rr backend %s", a, b[2])
	}
	if a := pick("c1"); a != b[0] {
		t.Fatalf("c1 after expiry: %s, want the next rr backend %s", a, b[0])
	}
	// The slice is rewritten without c2's backend: c1 keeps its backend (found again
	// in the rebuilt lists), c2's is gone so it gets the next rr one.
	e.mustUpdate(slice("web", "web-1", 80, ready("10.244.1.1"), ready("10.244.1.2")))
	e.run(3 * time.Second)
	if a := pick("c1"); a != b[0] {
		t.Fatalf("c1 lost its still-programmed backend: %s, want %s", a, b[0])
	}
	if a := pick("c2"); a != b[1] {
		t.Fatalf("c2 after its backend left: %s, want %s", a, b[1])
	}
	if !e.tel.mentions("program", "sessionAffinity ClientIP keeps a client on its endpoint for 10 s") {
		t.Errorf("no program trace mentions affinity: %+v", e.tel.actions("program"))
	}
}

func TestPickUnknown(t *testing.T) {
	_, p, _ := setup(t, 8, testConfig(ModeIPTables), "", 2)
	cases := []struct {
		name, ns, svc string
		port          int32
	}{
		{"unknown service", "default", "nope", 80},
		{"unknown namespace", "kube-system", "web", 80},
		{"unknown port", "default", "web", 443},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if a, ok := p.Pick(tc.ns, tc.svc, tc.port, "x"); ok {
				t.Fatalf("Pick = %q, ok", a)
			}
		})
	}
}

func TestServiceDeleteRemovesRules(t *testing.T) {
	e, p, _ := setup(t, 9, testConfig(ModeIPTables), "", 2)
	e.mustDelete(api.KindService, "default", "web")
	e.run(3 * time.Second)
	if got := p.Programmed("default", "web"); got != nil {
		t.Fatalf("programmed after delete: %v", got)
	}
	progs := e.tel.actions("program")
	if d := progs[len(progs)-1].Detail; !strings.Contains(d, "removed iptables rules for service default/web") {
		t.Fatalf("last trace: %q", d)
	}
}

func TestPeriodicSyncIsCheapAndSilent(t *testing.T) {
	e, p, _ := setup(t, 10, testConfig(ModeIPTables), "", 2)
	traces := len(e.tel.traces)
	s0 := p.Stats()
	maxPending := 0
	e.eng.OnEvent = func(*sim.Event) { maxPending = max(maxPending, e.eng.Pending()) }
	e.run(301 * time.Second)
	s1 := p.Stats()
	if got := s1.PeriodicSyncs - s0.PeriodicSyncs; got < 9 || got > 10 {
		t.Errorf("periodic syncs in 301 s: %d, want 9..10 (every 30 s)", got)
	}
	if s1.Programs != s0.Programs || len(e.tel.traces) != traces {
		t.Errorf("periodic syncs changed rules or traced: programs %d→%d, traces %d→%d", s0.Programs, s1.Programs, traces, len(e.tel.traces))
	}
	// Only the proxy's single periodic/sync event and the apiserver's compaction
	// timer are queued while idle.
	if maxPending > 3 {
		t.Errorf("max pending events while idle: %d, want <= 3", maxPending)
	}
}

func TestStopKeepsStaleRules(t *testing.T) {
	e, p, b := setup(t, 11, testConfig(ModeIPTables), "", 2)
	p.Stop()
	e.mustUpdate(slice("web", "web-1", 80, ready("10.244.5.5")))
	e.run(5 * time.Second)
	if got := p.Programmed("default", "web"); !slices.Equal(got, b) {
		t.Fatalf("a stopped proxy reprogrammed: %v", got)
	}
	if a, ok := p.Pick("default", "web", 80, "x"); !ok || !slices.Contains(b, a) {
		t.Fatalf("stale rules should still answer: %q %v", a, ok)
	}
}

func TestDeterminism(t *testing.T) {
	run := func(seed uint64) string {
		e, p, _ := setup(t, seed, testConfig(ModeIPTables), "", 5)
		var b strings.Builder
		for range 50 {
			a, _ := p.Pick("default", "web", 80, "x")
			b.WriteString(a + ",")
		}
		for _, r := range e.tel.traces {
			fmt.Fprintf(&b, "%d|%d|%s|%s|%s|%s\n", r.Time, r.Step, r.Component, r.Action, r.Object, r.Detail)
		}
		return b.String()
	}
	a, b, c := run(42), run(42), run(43)
	if a != b {
		t.Fatal("same seed gave different picks or traces")
	}
	if a == c {
		t.Fatal("different seeds gave identical picks and traces")
	}
}

func TestIPTablesProbabilities(t *testing.T) {
	cases := []struct {
		n    int
		want string
	}{
		{1, "1"},
		{2, "0.5000000000, 1"},
		{3, "0.3333333333, 0.5000000000, 1"},
		{10, "0.1000000000, 0.1111111111, 0.1250000000, 0.1428571429, 0.1666666667, 0.2000000000, 0.2500000000, 0.3333333333, 0.5000000000, 1"},
		{12, "0.0833333333, 0.0909090909, 0.1000000000, 0.1111111111, 0.1250000000, 0.1428571429, 0.1666666667, 0.2000000000, … (3 more), 1"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			if got := iptablesProbabilities(tc.n); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	reg := dist.NewRegistry()
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string // "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"ipvs", func(c *Config) { c.Mode = ModeIPVS }, ""},
		{"no periodic sync", func(c *Config) { c.SyncPeriod = 0 }, ""},
		{"unknown mode", func(c *Config) { c.Mode = "userspace" }, "mode: unknown proxy mode \"userspace\""},
		{"bad latency", func(c *Config) { c.SyncLatency = dist.Spec{Kind: "zipf"} }, "syncLatency: unknown distribution"},
		{"negative min sync", func(c *Config) { c.MinSyncPeriod = -1 }, "minSyncPeriod"},
		{"sync period below min", func(c *Config) { c.SyncPeriod = 500 * time.Millisecond }, "syncPeriod: 500ms must be at least minSyncPeriod"},
		{"negative qps", func(c *Config) { c.QPS = -1 }, "qps"},
		{"zero burst", func(c *Config) { c.Burst = 0 }, "burst"},
		{"zero affinity timeout", func(c *Config) { c.AffinityTimeout = 0 }, "affinityTimeout"},
		{"ipvs lc", func(c *Config) { c.Mode, c.Scheduler = ModeIPVS, SchedulerLC }, ""},
		{"ipvs sh", func(c *Config) { c.Mode, c.Scheduler = ModeIPVS, SchedulerSH }, ""},
		{"empty scheduler is rr", func(c *Config) { c.Scheduler = "" }, ""},
		{"unknown scheduler", func(c *Config) { c.Mode, c.Scheduler = ModeIPVS, "wlc" }, "scheduler: unknown IPVS scheduler \"wlc\""},
		{"scheduler outside ipvs", func(c *Config) { c.Scheduler = SchedulerLC }, "scheduler: lc needs mode ipvs"},
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

func TestDefaultConfigMatchesReference(t *testing.T) {
	c := DefaultConfig()
	if c.Mode != ModeIPTables || c.MinSyncPeriod != time.Second || c.SyncPeriod != 30*time.Second ||
		c.QPS != 5 || c.Burst != 10 || c.AffinityTimeout != 10800*time.Second || c.Scheduler != SchedulerRR {
		t.Fatalf("defaults drifted from reference §5/§6.3: %+v", c)
	}
}

func TestSharedSliceBuilds(t *testing.T) {
	e := newEnv(t, 12)
	shared := NewShared()
	var ps []*Proxy
	for _, n := range []string{"node-1", "node-2", "node-3"} {
		cfg := testConfig(ModeIPTables)
		p, err := New(e.eng, e.srv.Client("kube-proxy/"+n, cfg.QPS, cfg.Burst), n, cfg, e.reg, e.tel)
		if err != nil {
			t.Fatal(err)
		}
		p.SetShared(shared)
		p.Start()
		ps = append(ps, p)
	}
	private := e.proxy("node-4", testConfig(ModeIPTables))
	e.mustCreate(service("web", ""))
	e.mustCreate(slice("web", "a", 80, ready("10.244.1.1"), ready("10.244.1.2")))
	e.mustCreate(slice("web", "b", 80, ready("10.244.2.1")))
	e.run(3 * time.Second)
	if shared.Len() != 2 {
		t.Fatalf("shared builds: %d, want one per slice (2)", shared.Len())
	}
	want := private.Programmed("default", "web")
	for _, p := range ps {
		if got := p.Programmed("default", "web"); !slices.Equal(got, want) {
			t.Fatalf("%s programmed %v, private proxy %v", p.Node(), got, want)
		}
	}
	e.mustUpdate(slice("web", "a", 80, ready("10.244.1.1")))
	e.mustDelete(api.KindEndpointSlice, "default", "b")
	e.run(3 * time.Second)
	if shared.Len() != 1 {
		t.Fatalf("shared builds after update+delete: %d, want 1", shared.Len())
	}
	for _, p := range ps {
		if got := p.Programmed("default", "web"); !slices.Equal(got, []string{"10.244.1.1:80"}) {
			t.Fatalf("%s programmed %v", p.Node(), got)
		}
		p.Stop()
	}
	if shared.Len() != 0 {
		t.Fatalf("shared builds after every proxy stopped: %d, want 0", shared.Len())
	}
	defer func() {
		if recover() == nil {
			t.Fatal("SetShared after Start did not panic")
		}
	}()
	private.SetShared(shared)
}
