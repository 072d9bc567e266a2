package traffic

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/network"
	"github.com/kubesim/kubesim/sim"
)

// recorder is a Telemetry that keeps everything, for assertions.
type recorder struct {
	traces  []sim.Record
	samples map[string][]float64
	gauges  map[string][]float64
}

func newRecorder() *recorder {
	return &recorder{samples: map[string][]float64{}, gauges: map[string][]float64{}}
}
func (r *recorder) Trace(rec sim.Record) { r.traces = append(r.traces, rec) }
func (r *recorder) Observe(m string, _ sim.Time, v float64) {
	r.samples[m] = append(r.samples[m], v)
}
func (r *recorder) Gauge(s string, _ sim.Time, v float64) { r.gauges[s] = append(r.gauges[s], v) }

// fixedPicker always answers addr (or nothing when addr is empty), like a node whose
// rules hold one endpoint; it records the client IPs it saw.
type fixedPicker struct {
	addr    string
	clients map[string]int
}

func (f *fixedPicker) Pick(ns, name string, port int32, clientIP string) (string, bool) {
	if f.clients == nil {
		f.clients = map[string]int{}
	}
	f.clients[clientIP]++
	if f.addr == "" || ns != "default" || name != "nginx" || port != 80 {
		return "", false
	}
	return f.addr, true
}

// listener is a test pod process: it answers after delay, or never when drop is set.
type listener struct {
	eng      *sim.Engine
	delay    time.Duration
	drop     bool
	fail     bool
	accepted int
}

func (l *listener) Accept(r *network.Request) {
	l.accepted++
	if l.drop {
		return
	}
	if l.delay == 0 {
		r.Done(r, !l.fail, "")
		return
	}
	l.eng.After(l.delay, func() {
		r.Done(r, !l.fail, "")
		r.Done(r, true, "") // a second Done must be ignored
	})
}

type setup struct {
	eng     *sim.Engine
	fabric  *network.Fabric
	tel     *recorder
	pickers map[string]Picker
	lst     *listener
}

// newSetup has two client nodes whose rules send to 10.244.1.3:80, where a listener
// answers after 2 ms.
func newSetup(seed uint64) *setup {
	eng := sim.New(seed)
	s := &setup{eng: eng, fabric: network.New(), tel: newRecorder(),
		lst: &listener{eng: eng, delay: 2 * time.Millisecond}}
	s.pickers = map[string]Picker{
		"node-1": &fixedPicker{addr: "10.244.1.3:80"},
		"node-2": &fixedPicker{addr: "10.244.1.3:80"},
	}
	if err := s.fabric.Listen("10.244.1.3:80", s.lst); err != nil {
		panic(err)
	}
	return s
}

func baseConfig() Config {
	c := DefaultConfig()
	c.ClientNodes = []string{"node-1", "node-2"}
	c.NetworkLatency = dist.Const(time.Millisecond)
	c.Rate = 50
	c.Duration = 20 * time.Second
	return c
}

func (s *setup) run(t *testing.T, cfg Config) *Generator {
	t.Helper()
	g, err := New(s.eng, cfg, s.pickers, s.fabric, dist.NewRegistry(), s.tel)
	if err != nil {
		t.Fatal(err)
	}
	g.Start()
	s.eng.RunUntil(sim.Time(cfg.Start + cfg.Duration + cfg.Timeout + time.Second))
	return g
}

func TestPoissonArrivals(t *testing.T) {
	s := newSetup(1)
	cfg := baseConfig()
	cfg.Rate = 100
	cfg.Duration = 100 * time.Second
	g := s.run(t, cfg)
	st := g.Stats()
	// Mean 10,000, standard deviation 100: allow 4 standard deviations.
	if math.Abs(float64(st.Sent)-10000) > 400 {
		t.Fatalf("sent %d requests, want 10000 ± 400", st.Sent)
	}
	per := s.tel.gauges[MetricRate]
	if len(per) != 100 {
		t.Fatalf("%s samples: %d, want one per second (100)", MetricRate, len(per))
	}
	// Poisson counts per second have variance = mean (index of dispersion 1).
	var sum, sq float64
	for _, v := range per {
		sum += v
	}
	mean := sum / float64(len(per))
	for _, v := range per {
		sq += (v - mean) * (v - mean)
	}
	if d := sq / float64(len(per)-1) / mean; d < 0.7 || d > 1.3 {
		t.Fatalf("index of dispersion %.2f, want about 1 (Poisson)", d)
	}
	if st.OK != st.Sent || st.Failed != 0 || st.InFlight != 0 {
		t.Fatalf("stats %+v, want every request answered", st)
	}
}

func TestLatencyAndFirstRequestTrace(t *testing.T) {
	s := newSetup(2)
	g := s.run(t, baseConfig())
	st := g.Stats()
	// 1 ms there, 2 ms in the pod, 1 ms back.
	if st.MeanLatency() != 4*time.Millisecond || st.LatencySamples != st.OK {
		t.Fatalf("mean latency %v over %d samples (ok %d), want 4ms over all", st.MeanLatency(), st.LatencySamples, st.OK)
	}
	if got := len(s.tel.samples[MetricLatency]); uint64(got) != st.OK {
		t.Fatalf("%s samples %d, want %d", MetricLatency, got, st.OK)
	}
	var firsts []sim.Record
	for _, r := range s.tel.traces {
		if r.Step == Step {
			firsts = append(firsts, r)
		}
	}
	if len(firsts) != 1 || len(s.tel.traces) != 1 {
		t.Fatalf("traces: %+v, want exactly one step-6 record", s.tel.traces)
	}
	r := firsts[0]
	if r.Component != "client/client" || r.Action != "request" || !strings.HasPrefix(r.Object, "request/client/") ||
		!strings.Contains(r.Detail, "→ kube-proxy → 10.244.1.3:80 in 4.0 ms") || !strings.HasPrefix(r.Detail, "first request answered: client on node-") {
		t.Fatalf("first request record: %+v", r)
	}
}

func TestFailureReasons(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(s *setup, c *Config)
		reason  string
	}{
		{"no endpoints", func(s *setup, _ *Config) {
			s.pickers["node-1"].(*fixedPicker).addr = ""
			s.pickers["node-2"].(*fixedPicker).addr = ""
		}, ReasonNoEndpoints},
		{"connection refused", func(s *setup, _ *Config) { s.fabric.Close("10.244.1.3:80") }, ReasonConnectionRefused},
		{"timeout: never answered", func(s *setup, _ *Config) { s.lst.drop = true }, ReasonTimeout},
		{"timeout: answered too late", func(s *setup, c *Config) {
			s.lst.delay = 3 * time.Second
			c.Timeout = time.Second
		}, ReasonTimeout},
		{"server error", func(s *setup, _ *Config) { s.lst.fail = true }, ReasonServerError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSetup(3)
			cfg := baseConfig()
			tc.prepare(s, &cfg)
			g := s.run(t, cfg)
			st := g.Stats()
			if st.Sent == 0 || st.OK != 0 || st.Failed != st.Sent || st.InFlight != 0 {
				t.Fatalf("stats %+v, want every request failed", st)
			}
			if want := []ReasonCount{{tc.reason, st.Sent}}; !reflect.DeepEqual(st.FailedBy, want) {
				t.Fatalf("failed by %+v, want %+v", st.FailedBy, want)
			}
			// Only a refused backend is traced, once: a pod gone but still programmed.
			wantTraces := 0
			if tc.reason == ReasonConnectionRefused {
				wantTraces = 1
			}
			if len(s.tel.samples[MetricLatency]) != 0 || len(s.tel.traces) != wantTraces {
				t.Fatalf("failures observed latency or traced: %v %v", s.tel.samples, s.tel.traces)
			}
		})
	}
}

func TestMixedOutcomesSortedAndCounted(t *testing.T) {
	s := newSetup(4)
	s.pickers["node-2"].(*fixedPicker).addr = "10.244.9.9:80" // a pod that is gone
	g := s.run(t, baseConfig())
	st := g.Stats()
	if st.OK == 0 || st.FailedFor(ReasonConnectionRefused) == 0 || st.OK+st.Failed != st.Sent {
		t.Fatalf("stats %+v", st)
	}
	s.pickers["node-1"].(*fixedPicker).addr = ""
	g2 := s.run(t, func() Config { c := baseConfig(); c.Name = "second"; c.Start = 30 * time.Second; return c }())
	st2 := g2.Stats()
	if len(st2.FailedBy) != 2 || st2.FailedBy[0].Reason != ReasonConnectionRefused || st2.FailedBy[1].Reason != ReasonNoEndpoints {
		t.Fatalf("failed by not sorted by reason: %+v", st2.FailedBy)
	}
}

func TestClientsSpreadOverNodesAndIPs(t *testing.T) {
	s := newSetup(5)
	cfg := baseConfig()
	cfg.ClientsPerNode = 3
	s.run(t, cfg)
	for _, n := range []string{"node-1", "node-2"} {
		fp := s.pickers[n].(*fixedPicker)
		if len(fp.clients) != 3 {
			t.Fatalf("%s saw client IPs %v, want 3 distinct", n, fp.clients)
		}
		total := 0
		for ip, c := range fp.clients {
			if !strings.HasPrefix(ip, "100.64.0.") {
				t.Errorf("client IP %q not in 100.64.0.0/10", ip)
			}
			total += c
		}
		if total < 300 || total > 700 {
			t.Errorf("%s got %d of ~1000 requests, want about half", n, total)
		}
	}
}

func TestTraceEach(t *testing.T) {
	s := newSetup(6)
	cfg := baseConfig()
	cfg.TraceEach = true
	cfg.Duration = 2 * time.Second
	s.pickers["node-2"].(*fixedPicker).addr = ""
	g := s.run(t, cfg)
	st := g.Stats()
	var step0, step6 int
	for _, r := range s.tel.traces {
		switch r.Step {
		case 0:
			step0++
		case Step:
			step6++
		}
	}
	if uint64(step0) != st.Sent || step6 != 1 {
		t.Fatalf("step-0 records %d (sent %d), step-6 records %d (want 1)", step0, st.Sent, step6)
	}
}

func TestBoundedPendingEvents(t *testing.T) {
	s := newSetup(7)
	cfg := baseConfig()
	cfg.Rate = 1000
	cfg.Duration = 5 * time.Second
	maxPending := 0
	s.eng.OnEvent = func(*sim.Event) { maxPending = max(maxPending, s.eng.Pending()) }
	g := s.run(t, cfg)
	// ~4 ms per request at 1000/s: about 4 requests in flight, each with at most two
	// queued events (latency and listener), plus arrival, timeout and tick.
	if maxPending > 40 {
		t.Fatalf("max pending events %d: arrivals must not be scheduled up front", maxPending)
	}
	if g.Stats().Sent < 4000 {
		t.Fatalf("sent %d", g.Stats().Sent)
	}
	if s.eng.Pending() != 0 {
		t.Fatalf("events left after the run: %d", s.eng.Pending())
	}
}

func TestDeterminism(t *testing.T) {
	run := func(seed uint64) string {
		s := newSetup(seed)
		s.pickers["node-2"].(*fixedPicker).addr = "10.244.9.9:80"
		cfg := baseConfig()
		cfg.NetworkLatency = dist.LogNormal(300*time.Microsecond, 0.5)
		cfg.TraceEach = true
		g := s.run(t, cfg)
		return fmt.Sprintf("%+v %v %v", g.Stats(), s.tel.traces, s.tel.samples)
	}
	a, b, c := run(11), run(11), run(12)
	if a != b {
		t.Fatal("same seed gave different results")
	}
	if a == c {
		t.Fatal("different seeds gave identical results")
	}
}

func TestConfigValidate(t *testing.T) {
	reg := dist.NewRegistry()
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"valid", func(*Config) {}, ""},
		{"no name", func(c *Config) { c.Name = "" }, "name: required"},
		{"service without namespace", func(c *Config) { c.Service = "nginx" }, "service: want \"namespace/name\""},
		{"service empty name", func(c *Config) { c.Service = "default/" }, "service:"},
		{"bad port", func(c *Config) { c.Port = 0 }, "port:"},
		{"zero rate", func(c *Config) { c.Rate = 0 }, "rate:"},
		{"NaN rate", func(c *Config) { c.Rate = math.NaN() }, "rate:"},
		{"infinite rate", func(c *Config) { c.Rate = math.Inf(1) }, "rate:"},
		{"negative start", func(c *Config) { c.Start = -1 }, "start:"},
		{"zero duration", func(c *Config) { c.Duration = 0 }, "duration:"},
		{"no client nodes", func(c *Config) { c.ClientNodes = nil }, "clientNodes: at least one"},
		{"duplicate node", func(c *Config) { c.ClientNodes = []string{"a", "a"} }, "clientNodes[1]: duplicate"},
		{"empty node", func(c *Config) { c.ClientNodes = []string{""} }, "clientNodes[0]: empty"},
		{"zero clients per node", func(c *Config) { c.ClientsPerNode = 0 }, "clientsPerNode:"},
		{"bad latency", func(c *Config) { c.NetworkLatency = dist.Spec{} }, "networkLatency:"},
		{"zero timeout", func(c *Config) { c.Timeout = 0 }, "timeout:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := baseConfig()
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

func TestNewNeedsAProxyPerNode(t *testing.T) {
	s := newSetup(8)
	cfg := baseConfig()
	cfg.ClientNodes = []string{"node-1", "node-3"}
	_, err := New(s.eng, cfg, s.pickers, s.fabric, dist.NewRegistry(), nil)
	if err == nil || !strings.Contains(err.Error(), `clientNodes[1]: no kube-proxy for node "node-3"`) {
		t.Fatalf("error %v", err)
	}
}
