// Package traffic models clients sending requests to a Service through kube-proxy:
// the user-visible end of step 6 ("external users reach the Pods through
// kube-proxy").
//
// A Generator sends requests with Poisson arrivals (exponential gaps). Each request
// originates on one of the client nodes, chosen uniformly; that node's kube-proxy
// picks a backend from its programmed rules (no backend: the request fails with "no
// endpoints"); one network latency later the SYN reaches the backend's address in
// the pod network fabric. If nobody listens there the RST travels back and the
// request fails with "connection refused" (what a client sees when a node's rules
// still route to a pod that is gone); otherwise the listener (the pod's serving
// process) accepts it and calls Done; the response takes another network latency.
// A request not answered within Timeout fails with "timeout", and a later answer is
// ignored.
//
// Service discovery (Config.UseDNS): a client first resolves Host through cluster
// DNS (a Resolver: the CoreDNS model) and keeps the answer for its TTL, one cache per
// client IP; requests that arrive while its query is in flight wait for it. A name
// that does not resolve fails the request with "NXDOMAIN". A Service's ClusterIP
// sends the connection through the node's kube-proxy as above; a headless Service's
// answer is pod IPs, and the client connects straight to the first one (the DNS
// server rotates them per answer).
//
// Connection ends: when a request routed by a kube-proxy finishes (answered, refused
// or timed out), the generator tells that proxy (ConnTracker), so the IPVS lc
// scheduler can count active connections.
//
// Per-backend load: Stats.Backends counts requests, successes, failures and latency
// per backend address (bounded by the number of backends). With PerBackendMetrics,
// the same goes to telemetry under the backend's address. The first "connection
// refused" of each backend is traced: requests that a node's rules still send to a
// pod that is gone.
//
// Cost: the generator keeps one pending arrival event, one timeout event (deadlines
// are monotonic, so a FIFO of in-flight requests and a timer on its head cover them
// all) and one gauge tick; each request adds at most two latency events.
package traffic

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/network"
	"github.com/kubesim/kubesim/sim"
)

// Step is the Nginx-story step the first answered request belongs to.
const Step = 6

// Failure reasons.
const (
	ReasonNoEndpoints       = "no endpoints"
	ReasonConnectionRefused = "connection refused"
	ReasonTimeout           = "timeout"
	// ReasonNXDomain is used when the client's name does not resolve.
	ReasonNXDomain = "NXDOMAIN"
	// ReasonServerError is used when a listener fails a request without a reason.
	ReasonServerError = "server error"
)

// Metric names.
const (
	// MetricLatency is the client-observed latency of each successful request, in
	// seconds (Observe).
	MetricLatency = "request_latency_seconds"
	// MetricRate is the number of requests sent per virtual second (Gauge, once per
	// second of the generator's active window).
	MetricRate = "requests_per_second"
	// MetricBackendLatencyPrefix + "<pod ip:port>" is the latency of each successful
	// request that backend answered (Observe; only with PerBackendMetrics).
	MetricBackendLatencyPrefix = "request_latency_seconds/"
	// MetricBackendRatePrefix + "<pod ip:port>" is the requests sent to that backend
	// per virtual second (Gauge, each second it got requests; only with
	// PerBackendMetrics).
	MetricBackendRatePrefix = "requests_per_second/"
)

// Config describes one client population.
type Config struct {
	// Name names the generator ("client/<name>" in traces, random stream names).
	Name string
	// Service is the target Service as "namespace/name".
	Service string
	// Port is the Service port clients connect to.
	Port int32
	// Rate is the mean request rate, per second; arrivals are a Poisson process.
	Rate float64
	// Start is when the first arrival may happen; Duration bounds the arrivals to
	// [Start, Start+Duration).
	Start, Duration time.Duration
	// ClientNodes are the nodes requests originate from, chosen uniformly per
	// request; each needs a kube-proxy. Required.
	ClientNodes []string
	// ClientsPerNode is the number of distinct client IPs per node (default 1), each
	// chosen uniformly; sessionAffinity ClientIP keys on them.
	ClientsPerNode int
	// NetworkLatency is the one-way client↔pod latency, drawn once each way.
	NetworkLatency dist.Spec
	// Timeout fails a request not answered by then (a client-side deadline).
	Timeout time.Duration
	// TraceEach emits a step-0 trace record for every request (the "events" trace
	// level); otherwise only the first answered request is traced.
	TraceEach bool
	// UseDNS makes clients resolve Host through cluster DNS before connecting
	// (SetResolver must be called). Host defaults to
	// <service>.<namespace>.svc.cluster.local.
	UseDNS bool
	// Host is the name clients resolve, with the search list of the Service's
	// namespace (a trailing dot makes it absolute). It should name Service (or its
	// pods, for a headless Service): a ClusterIP answer is routed as Service.
	Host string
	// PerBackendMetrics records latency and rate per backend address in telemetry
	// (one series per pod: enable it for load-balance studies).
	PerBackendMetrics bool
}

// DefaultConfig returns a small client population for the Nginx story. ClientNodes
// must still be set. The latency and timeout are model parameters: an in-cluster
// one-way hop of about 0.25 ms and a 5 s client deadline.
func DefaultConfig() Config {
	return Config{
		Name:           "client",
		Service:        "default/nginx",
		Port:           80,
		Rate:           10,
		Start:          0,
		Duration:       time.Minute,
		ClientsPerNode: 1,
		NetworkLatency: dist.LogNormal(250*time.Microsecond, 0.3),
		Timeout:        5 * time.Second,
	}
}

// maxClients bounds len(ClientNodes)*ClientsPerNode (the synthetic client IP space,
// 100.64.0.0/10).
const maxClients = 1 << 22

// Validate checks the configuration; errors name the field.
func (c *Config) Validate(reg *dist.Registry) error {
	if c.Name == "" {
		return fmt.Errorf("name: required")
	}
	ns, name, ok := strings.Cut(c.Service, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("service: want \"namespace/name\", got %q", c.Service)
	}
	if c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("port: %d must be in 1..65535", c.Port)
	}
	if !(c.Rate > 0) || math.IsInf(c.Rate, 0) {
		return fmt.Errorf("rate: must be a positive finite number of requests per second, got %g", c.Rate)
	}
	if c.Start < 0 {
		return fmt.Errorf("start: must not be negative, got %v", c.Start)
	}
	if c.Duration <= 0 {
		return fmt.Errorf("duration: must be positive, got %v", c.Duration)
	}
	if len(c.ClientNodes) == 0 {
		return fmt.Errorf("clientNodes: at least one node is required")
	}
	seen := make(map[string]bool, len(c.ClientNodes))
	for i, n := range c.ClientNodes {
		if n == "" {
			return fmt.Errorf("clientNodes[%d]: empty node name", i)
		}
		if seen[n] {
			return fmt.Errorf("clientNodes[%d]: duplicate node %q", i, n)
		}
		seen[n] = true
	}
	if c.ClientsPerNode < 1 {
		return fmt.Errorf("clientsPerNode: must be at least 1, got %d", c.ClientsPerNode)
	}
	if len(c.ClientNodes)*c.ClientsPerNode > maxClients {
		return fmt.Errorf("clientsPerNode: %d nodes × %d clients exceeds %d client IPs", len(c.ClientNodes), c.ClientsPerNode, maxClients)
	}
	if reg == nil {
		return fmt.Errorf("networkLatency: no distribution registry given")
	}
	if err := reg.Validate(c.NetworkLatency); err != nil {
		return fmt.Errorf("networkLatency: %w", err)
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("timeout: must be positive, got %v", c.Timeout)
	}
	if c.Host != "" {
		h := strings.TrimSuffix(c.Host, ".")
		if h == "" || strings.Contains(h, "..") || strings.HasPrefix(h, ".") || strings.ContainsAny(h, " /:") {
			return fmt.Errorf("host: %q is not a DNS name", c.Host)
		}
		if !c.UseDNS {
			return fmt.Errorf("host: set, but useDNS is false (clients would not resolve it)")
		}
	}
	return nil
}

// host returns the name clients resolve.
func (c *Config) host() string {
	if c.Host != "" {
		return c.Host
	}
	ns, name, _ := strings.Cut(c.Service, "/")
	return name + "." + ns + ".svc.cluster.local"
}

// Resolver answers DNS queries: the CoreDNS model (*dns.Server implements it).
// Resolve calls done once, later, with the addresses (nil when the name does not
// resolve), their TTL, whether they are a Service's ClusterIP (vip) and the response
// code ("NOERROR", "NXDOMAIN"). namespace selects the search list.
type Resolver interface {
	Resolve(name, namespace string, done func(addrs []string, ttl time.Duration, vip bool, rcode string))
}

// ConnTracker learns when a connection a kube-proxy routed ends (*proxy.Proxy
// implements it; the IPVS lc scheduler counts active connections with it). A
// Picker that implements it is told of every connection it routed, exactly once.
type ConnTracker interface {
	ConnClosed(namespace, name string, port int32, addr string)
}

// Picker chooses a backend for a new connection: a node's kube-proxy
// (*proxy.Proxy implements it). ok is false when the Service has no programmed
// endpoints.
type Picker interface {
	Pick(namespace, name string, port int32, clientIP string) (addr string, ok bool)
}

// ReasonCount is the number of requests that failed for one reason.
type ReasonCount struct {
	Reason string
	Count  uint64
}

// Stats summarizes a generator's requests.
type Stats struct {
	Sent     uint64
	OK       uint64
	Failed   uint64
	FailedBy []ReasonCount // sorted by reason
	// LatencySamples is the number of latencies observed (= OK); LatencySum their sum.
	LatencySamples uint64
	LatencySum     time.Duration
	// InFlight is the number of requests sent but not yet finished.
	InFlight uint64
	// Resolutions is the number of DNS resolutions clients made (UseDNS).
	Resolutions uint64
	// Backends is the load per backend address, sorted by address.
	Backends []BackendStats
}

// BackendStats is the load one backend (a pod address) received.
type BackendStats struct {
	Addr       string
	Requests   uint64 // connections sent to it
	OK         uint64
	Failed     uint64
	LatencySum time.Duration // of the successful ones
}

// MeanLatency returns the mean latency of the backend's successful requests.
func (b BackendStats) MeanLatency() time.Duration {
	if b.OK == 0 {
		return 0
	}
	return b.LatencySum / time.Duration(b.OK)
}

// MeanLatency returns the mean latency of successful requests (0 if none).
func (s Stats) MeanLatency() time.Duration {
	if s.LatencySamples == 0 {
		return 0
	}
	return s.LatencySum / time.Duration(s.LatencySamples)
}

// FailedFor returns the failures counted for reason.
func (s Stats) FailedFor(reason string) uint64 {
	for _, rc := range s.FailedBy {
		if rc.Reason == reason {
			return rc.Count
		}
	}
	return 0
}

// Event kinds of the generator's typed engine events.
const (
	evArrival int32 = iota + 1
	evAtServer
	evResponse
	evTimeout
	evTick
)

type clientNode struct {
	name    string
	proxy   Picker
	tracker ConnTracker // proxy, when it tracks connections
	ips     []string
}

// client is the DNS state of one client IP: its cached answer and the requests
// waiting for a resolution in flight.
type client struct {
	addrs     []string
	vip       bool
	nx        bool
	expires   sim.Time
	cached    bool
	resolving bool
	waiting   []*request
}

// backend is the load of one backend address.
type backend struct {
	BackendStats
	refusedTraced bool
	win           uint64 // requests in the current gauge window
}

// request is one request in flight. The embedded network.Request is what the
// listener sees.
type request struct {
	network.Request
	node     int
	ip       string
	proxied  bool // a kube-proxy routed it (tell it when it ends)
	addr     string
	deadline sim.Time
	answered bool // Done was called; the response is travelling back
	finished bool // the outcome is counted
	ok       bool
	reason   string
}

// Generator sends one client population's requests. Its methods run on the engine
// goroutine.
type Generator struct {
	eng     *sim.Engine
	cfg     Config
	ns, svc string
	svcRef  string
	comp    string
	nodes   []clientNode
	fabric  *network.Fabric
	tel     sim.Telemetry
	lat     dist.Sampler
	gaps    distuv.Exponential
	choose  *rand.Rand
	doneFn  func(*network.Request, bool, string)

	started bool
	end     sim.Time // arrivals stop here

	q       []*request // in flight, in ID (= deadline) order, from qHead
	qHead   int
	nextID  uint64
	timeout sim.Timer

	tickAt  sim.Time
	winSent uint64

	stats     Stats
	failedBy  map[string]uint64
	answered1 bool

	resolver Resolver
	host     string
	clients  []client // by client index (node*ClientsPerNode + ip)
	backends map[string]*backend
	touched  []*backend // backends with requests in the current window (PerBackendMetrics)
}

// SetResolver gives the generator its cluster DNS (needed with UseDNS). Call it
// before Start.
func (g *Generator) SetResolver(r Resolver) { g.resolver = r }

// New builds a generator. proxies maps each client node to its kube-proxy; every
// node of cfg.ClientNodes needs one. fabric is the pod network; tel may be nil.
func New(eng *sim.Engine, cfg Config, proxies map[string]Picker, fabric *network.Fabric, reg *dist.Registry, tel sim.Telemetry) (*Generator, error) {
	if err := cfg.Validate(reg); err != nil {
		return nil, err
	}
	if eng == nil {
		return nil, fmt.Errorf("traffic: nil engine")
	}
	if fabric == nil {
		return nil, fmt.Errorf("traffic: nil network fabric")
	}
	if tel == nil {
		tel = sim.Discard
	}
	ns, name, _ := strings.Cut(cfg.Service, "/")
	g := &Generator{
		eng: eng, cfg: cfg, ns: ns, svc: name,
		svcRef:   api.RefOf(api.KindService, ns, name),
		comp:     "client/" + cfg.Name,
		fabric:   fabric,
		tel:      tel,
		lat:      reg.MustNew(cfg.NetworkLatency, eng.Source("traffic/"+cfg.Name+"/network")),
		gaps:     distuv.Exponential{Rate: cfg.Rate, Src: eng.Source("traffic/" + cfg.Name + "/arrivals")},
		choose:   eng.Stream("traffic/" + cfg.Name + "/client"),
		failedBy: map[string]uint64{},
		host:     cfg.host(),
		backends: map[string]*backend{},
	}
	if cfg.UseDNS {
		g.clients = make([]client, len(cfg.ClientNodes)*cfg.ClientsPerNode)
	}
	g.doneFn = g.onDone
	for i, n := range cfg.ClientNodes {
		pk, ok := proxies[n]
		if !ok || pk == nil {
			return nil, fmt.Errorf("clientNodes[%d]: no kube-proxy for node %q", i, n)
		}
		cn := clientNode{name: n, proxy: pk, ips: make([]string, cfg.ClientsPerNode)}
		cn.tracker, _ = pk.(ConnTracker)
		for k := range cn.ips {
			idx := i*cfg.ClientsPerNode + k
			cn.ips[k] = fmt.Sprintf("100.%d.%d.%d", 64+idx>>16, (idx>>8)&255, idx&255)
		}
		g.nodes = append(g.nodes, cn)
	}
	return g, nil
}

// Start schedules the first arrival and the per-second gauge. Calling it twice is a
// no-op. Arrivals happen in [max(Now, Start), that + Duration).
func (g *Generator) Start() {
	if g.started {
		return
	}
	if g.cfg.UseDNS && g.resolver == nil {
		panic("traffic: " + g.comp + " has UseDNS but no resolver (call SetResolver before Start)")
	}
	g.started = true
	begin := max(g.eng.Now(), sim.Time(g.cfg.Start))
	g.end = begin.Add(g.cfg.Duration)
	g.scheduleArrival(begin)
	g.tickAt = begin
	g.scheduleTick()
}

// Stats returns the counts so far. FailedBy is a fresh slice sorted by reason.
func (g *Generator) Stats() Stats {
	s := g.stats
	s.FailedBy = make([]ReasonCount, 0, len(g.failedBy))
	for r, n := range g.failedBy {
		s.FailedBy = append(s.FailedBy, ReasonCount{Reason: r, Count: n})
	}
	sort.Slice(s.FailedBy, func(i, j int) bool { return s.FailedBy[i].Reason < s.FailedBy[j].Reason })
	s.Backends = make([]BackendStats, 0, len(g.backends))
	for _, b := range g.backends {
		s.Backends = append(s.Backends, b.BackendStats)
	}
	sort.Slice(s.Backends, func(i, j int) bool { return s.Backends[i].Addr < s.Backends[j].Addr })
	s.InFlight = s.Sent - s.OK - s.Failed
	return s
}

// Handle runs the generator's typed engine events.
func (g *Generator) Handle(ev *sim.Event) {
	switch ev.Kind {
	case evArrival:
		g.send()
		g.scheduleArrival(g.eng.Now())
	case evAtServer:
		g.atServer(ev.Data.(*request))
	case evResponse:
		r := ev.Data.(*request)
		if !r.finished {
			if r.ok {
				g.succeed(r)
			} else {
				g.fail(r, r.reason)
			}
		}
	case evTimeout:
		g.timeout = sim.Timer{}
		g.expire()
	case evTick:
		g.tick()
	}
}

// scheduleArrival schedules the next arrival an exponential gap after from, if it
// falls before the end. Gaps are at least 1 ns, so arrivals are finite.
func (g *Generator) scheduleArrival(from sim.Time) {
	gap := time.Duration(g.gaps.Rand() * 1e9)
	if gap < 1 {
		gap = 1
	}
	if at := from.Add(gap); at < g.end {
		g.eng.Schedule(at, g, evArrival, 0, nil)
	}
}

func (g *Generator) send() {
	now := g.eng.Now()
	node := g.choose.IntN(len(g.nodes))
	cn := &g.nodes[node]
	k := 0
	if len(cn.ips) > 1 {
		k = g.choose.IntN(len(cn.ips))
	}
	ip := cn.ips[k]
	g.nextID++
	r := &request{node: node, ip: ip, deadline: now.Add(g.cfg.Timeout)}
	r.ID = g.nextID
	r.Sent = now
	r.Client = cn.name
	r.Done = g.doneFn
	g.q = append(g.q, r)
	if g.timeout.IsZero() {
		g.timeout = g.eng.Schedule(r.deadline, g, evTimeout, 0, nil)
	}
	g.stats.Sent++
	g.winSent++
	if !g.cfg.UseDNS {
		g.connect(r, nil, true)
		return
	}
	c := &g.clients[node*g.cfg.ClientsPerNode+k]
	if c.cached && now < c.expires {
		g.useAnswer(r, c)
		return
	}
	c.waiting = append(c.waiting, r)
	if c.resolving {
		return
	}
	c.resolving = true
	g.stats.Resolutions++
	g.resolver.Resolve(g.host, g.ns, func(addrs []string, ttl time.Duration, vip bool, rcode string) {
		g.resolved(c, addrs, ttl, vip, rcode)
	})
}

// resolved stores a DNS answer in the client's cache for its TTL and lets the
// requests that waited for it go on.
func (g *Generator) resolved(c *client, addrs []string, ttl time.Duration, vip bool, rcode string) {
	now := g.eng.Now()
	c.resolving = false
	c.addrs, c.vip, c.nx = addrs, vip, rcode != "NOERROR" || len(addrs) == 0
	c.cached, c.expires = true, now.Add(max(ttl, 0))
	waiting := c.waiting
	c.waiting = nil
	for _, r := range waiting {
		if !r.finished {
			g.useAnswer(r, c)
		}
	}
}

// useAnswer connects r with the client's DNS answer.
func (g *Generator) useAnswer(r *request, c *client) {
	if c.nx {
		g.fail(r, ReasonNXDomain)
		return
	}
	g.connect(r, c.addrs, c.vip)
}

// connect routes r: through the node's kube-proxy when the destination is the
// Service (no DNS, or a ClusterIP answer), else straight to the first pod IP.
func (g *Generator) connect(r *request, addrs []string, vip bool) {
	if vip {
		cn := &g.nodes[r.node]
		addr, ok := cn.proxy.Pick(g.ns, g.svc, g.cfg.Port, r.ip)
		if !ok {
			g.fail(r, ReasonNoEndpoints)
			return
		}
		r.addr, r.proxied = addr, true
	} else {
		r.addr = addrs[0] + ":" + strconv.Itoa(int(g.cfg.Port))
	}
	b := g.backend(r.addr)
	b.Requests++
	if g.cfg.PerBackendMetrics {
		if b.win == 0 {
			g.touched = append(g.touched, b)
		}
		b.win++
	}
	g.eng.ScheduleAfter(g.lat.Sample(), g, evAtServer, 0, r)
}

func (g *Generator) backend(addr string) *backend {
	b := g.backends[addr]
	if b == nil {
		b = &backend{BackendStats: BackendStats{Addr: addr}}
		g.backends[addr] = b
	}
	return b
}

// closed tells the proxy that routed r that its connection ended.
func (g *Generator) closed(r *request) {
	if r.proxied {
		if t := g.nodes[r.node].tracker; t != nil {
			t.ConnClosed(g.ns, g.svc, g.cfg.Port, r.addr)
		}
	}
}

// atServer: the connection reaches the backend address after one network latency.
func (g *Generator) atServer(r *request) {
	if r.finished {
		return // timed out on the way
	}
	l, ok := g.fabric.Lookup(r.addr)
	if !ok {
		// Nobody listens: the RST travels back to the client.
		r.answered, r.ok, r.reason = true, false, ReasonConnectionRefused
		g.eng.ScheduleAfter(g.lat.Sample(), g, evResponse, 0, r)
		return
	}
	l.Accept(&r.Request)
}

// onDone is the network.Request's Done: the listener finished the request; the
// response travels back. Late (after the timeout) or repeated calls are ignored.
func (g *Generator) onDone(nr *network.Request, ok bool, reason string) {
	r := g.lookup(nr)
	if r == nil || r.finished || r.answered {
		return
	}
	r.answered, r.ok, r.reason = true, ok, reason
	if !ok && reason == "" {
		r.reason = ReasonServerError
	}
	g.eng.ScheduleAfter(g.lat.Sample(), g, evResponse, 0, r)
}

// lookup finds the in-flight request of nr: IDs in the FIFO are consecutive, so the
// index is the ID's offset from the head's. Retired requests are not found.
func (g *Generator) lookup(nr *network.Request) *request {
	if nr == nil || g.qHead >= len(g.q) {
		return nil
	}
	base := g.q[g.qHead].ID
	if nr.ID < base || nr.ID-base >= uint64(len(g.q)-g.qHead) {
		return nil
	}
	r := g.q[g.qHead+int(nr.ID-base)]
	if &r.Request != nr {
		return nil
	}
	return r
}

// expire retires finished requests from the FIFO head and fails the unfinished ones
// whose deadline has passed, then re-arms the timer on the new head.
func (g *Generator) expire() {
	now := g.eng.Now()
	for g.qHead < len(g.q) {
		r := g.q[g.qHead]
		if !r.finished {
			if r.deadline > now {
				break
			}
			g.fail(r, ReasonTimeout)
		}
		g.q[g.qHead] = nil
		g.qHead++
	}
	if g.qHead == len(g.q) {
		g.q, g.qHead = g.q[:0], 0
	} else if g.qHead > 1024 && 2*g.qHead > len(g.q) {
		n := copy(g.q, g.q[g.qHead:])
		clear(g.q[n:])
		g.q, g.qHead = g.q[:n], 0
	}
	if g.qHead < len(g.q) {
		g.timeout = g.eng.Schedule(g.q[g.qHead].deadline, g, evTimeout, 0, nil)
	}
}

func (g *Generator) succeed(r *request) {
	now := g.eng.Now()
	r.finished = true
	lat := now.Sub(r.Sent)
	g.stats.OK++
	g.stats.LatencySamples++
	g.stats.LatencySum += lat
	g.tel.Observe(MetricLatency, now, lat.Seconds())
	g.closed(r)
	if b := g.backends[r.addr]; b != nil {
		b.OK++
		b.LatencySum += lat
		if g.cfg.PerBackendMetrics {
			g.tel.Observe(MetricBackendLatencyPrefix+r.addr, now, lat.Seconds())
		}
	}
	if !g.answered1 {
		g.answered1 = true
		// The object is the request itself, so the step's latency of the Service is
		// not stretched to whenever the clients happen to start.
		g.tel.Trace(sim.Record{Time: now, Step: Step, Component: g.comp, Action: "request", Object: fmt.Sprintf("request/%s/%d", g.cfg.Name, r.ID),
			Detail: fmt.Sprintf("first request answered: client on %s → kube-proxy → %s in %s (the node's kube-proxy rules sent the connection for %s:%d to a pod; the pod answered)",
				g.nodes[r.node].name, r.addr, ms(lat), g.cfg.Service, g.cfg.Port)})
	}
	if g.cfg.TraceEach {
		g.tel.Trace(sim.Record{Time: now, Step: 0, Component: g.comp, Action: "request", Object: g.svcRef,
			Detail: fmt.Sprintf("request %d from %s answered by %s in %s", r.ID, g.nodes[r.node].name, r.addr, ms(lat))})
	}
}

func (g *Generator) fail(r *request, reason string) {
	r.finished = true
	g.stats.Failed++
	g.failedBy[reason]++
	g.closed(r)
	if b := g.backends[r.addr]; r.addr != "" && b != nil {
		b.Failed++
		if reason == ReasonConnectionRefused && !b.refusedTraced {
			b.refusedTraced = true
			via := "the node's kube-proxy rules still send connections to it"
			if !r.proxied {
				via = "the client's cached DNS answer still names it"
			}
			g.tel.Trace(sim.Record{Time: g.eng.Now(), Step: 0, Component: g.comp, Action: "refused", Object: g.svcRef,
				Detail: fmt.Sprintf("first request refused by %s (from %s): nothing listens there any more, but %s until the change reaches them", r.addr, g.nodes[r.node].name, via)})
		}
	}
	if g.cfg.TraceEach {
		now := g.eng.Now()
		to := ""
		if r.addr != "" {
			to = " to " + r.addr
		}
		g.tel.Trace(sim.Record{Time: now, Step: 0, Component: g.comp, Action: "request", Object: g.svcRef,
			Detail: fmt.Sprintf("request %d from %s%s failed after %s: %s", r.ID, g.nodes[r.node].name, to, ms(now.Sub(r.Sent)), reason)})
	}
}

// scheduleTick arms the next gauge sample: every virtual second from the start, and
// a last one at the end of the arrival window.
func (g *Generator) scheduleTick() {
	if g.tickAt >= g.end {
		return
	}
	g.tickAt = min(g.tickAt.Add(time.Second), g.end)
	g.eng.Schedule(g.tickAt, g, evTick, 0, nil)
}

// tick records the requests sent in the window that ends now, per second.
func (g *Generator) tick() {
	now := g.eng.Now()
	window := time.Second
	if rem := now.Sub(g.end.Add(-g.cfg.Duration)) % time.Second; now == g.end && rem != 0 {
		window = rem
	}
	g.tel.Gauge(MetricRate, now, float64(g.winSent)/window.Seconds())
	g.winSent = 0
	if len(g.touched) > 1 {
		sort.Slice(g.touched, func(i, j int) bool { return g.touched[i].Addr < g.touched[j].Addr })
	}
	for _, b := range g.touched {
		g.tel.Gauge(MetricBackendRatePrefix+b.Addr, now, float64(b.win)/window.Seconds())
		b.win = 0
	}
	g.touched = g.touched[:0]
	g.scheduleTick()
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/1e6)
}
