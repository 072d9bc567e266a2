// Package dns models cluster DNS: CoreDNS with its kubernetes and cache plugins,
// the service-discovery half of step 6 ("clients find the Service by name").
//
// The kubernetes plugin (coredns plugin/kubernetes) watches Services and
// EndpointSlices through the apiserver, as CoreDNS does, and answers A queries in the
// cluster zone (default cluster.local):
//
//   - <service>.<namespace>.svc.<zone>: the ClusterIP of a ClusterIP Service; for a
//     headless Service (clusterIP None) the addresses of its ready endpoints
//     (kubernetes.go findServices);
//   - <hostname>.<service>.<namespace>.svc.<zone>: the address of the ready
//     endpoint with that hostname (StatefulSet pods: <pod>.<service>...);
//   - anything else in the zone, a Service that does not exist (yet), or a headless
//     Service without a ready endpoint: NXDOMAIN.
//
// Answers carry the plugin's TTL (option ttl, default 5 s, 0..3600 s;
// https://coredns.io/plugins/kubernetes). A negative answer's TTL comes from the SOA
// record of the zone: its TTL is min(ttl, 300) and its MINIMUM is ttl
// (plugin/backend_lookup.go SOA), so by RFC 2308 negative answers are also cached
// for ttl.
//
// The cache plugin (https://coredns.io/plugins/cache) sits in front: a response is
// cached for its TTL clamped to [MINTTL, max TTL] (defaults: 5 s and 3600 s for
// NOERROR, 5 s and 1800 s for NXDOMAIN), at most 9,984 responses of each kind (256
// shards × 39), a random one evicted when full; a cached response is served with its
// TTL decremented by the whole seconds it has spent in the cache. Until it expires,
// the cache keeps answering what the Service was, so a Service created after a
// negative answer is not seen before that answer expires.
//
// Clients: a query costs one QueryLatency (client → CoreDNS → client; the answer
// reflects CoreDNS's state when the query completes). Resolve applies the stub
// resolver's search list on the client's behalf, as glibc does with the resolv.conf
// the kubelet writes for dnsPolicy ClusterFirst ("search <ns>.svc.<zone> svc.<zone>
// <zone>", "options ndots:5"): a name with fewer than ndots dots is tried with each
// search domain first, then as given, each try a query of its own; a name ending in
// "." is tried as given only.
//
// Simplifications, each a model decision:
//   - one CoreDNS server with one cache stands in for the Deployment of (by
//     default) two replicas, each with its own cache, behind the kube-dns Service;
//     it is not a pod of the modeled cluster, so it cannot be scheduled or evicted;
//   - A records only: no AAAA query in parallel, no SRV, PTR, pod
//     (<ip>.<ns>.pod.<zone>) or ExternalName records; names outside the zone get
//     NXDOMAIN (there is no upstream to forward to);
//   - the api.Endpoint has no hostname field, so an endpoint's hostname is its pod
//     name, which is what a StatefulSet pod's hostname is (and what the
//     endpoint_pod_names option does), or its address with dashes;
//   - the loadbalance plugin of the default Corefile is modeled as a rotation of
//     multi-address answers by one position per answer.
package dns

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

// Component is the trace component name.
const Component = "coredns"

// Step is the Nginx-story step of the first successful resolution of a Service.
const Step = 6

// Response codes.
const (
	NoError  = "NOERROR"
	NXDomain = "NXDOMAIN"
)

// Metric names.
const (
	// MetricQuery is the latency of each query a client makes, in seconds
	// (Observe; several per Resolve when the search list is walked).
	MetricQuery = "dns_query_seconds"
)

// Config configures the CoreDNS model. Field names follow the Corefile options.
type Config struct {
	// ClusterDomain is the zone the kubernetes plugin serves (kubelet
	// --cluster-domain; kubeadm's default cluster.local).
	ClusterDomain string
	// TTL is the kubernetes plugin's ttl option: the TTL of its answers, positive
	// and negative (default 5 s, allowed 0..3600 s; coredns.io/plugins/kubernetes).
	// kubeadm's Corefile sets ttl 30 (kubernetes/kubernetes#76238).
	TTL time.Duration
	// QueryLatency is the time from a client sending a query to receiving the
	// answer: the pod-network round trip to a CoreDNS pod plus its processing. A
	// model parameter (log-normal, median 1 ms).
	QueryLatency dist.Spec
	// Cache enables the cache plugin (kubeadm's Corefile has "cache 30").
	Cache bool
	// CacheSuccessMaxTTL and CacheDenialMaxTTL cap how long a NOERROR and an
	// NXDOMAIN response stay cached ("cache [TTL]"; defaults 3600 s and 1800 s).
	CacheSuccessMaxTTL, CacheDenialMaxTTL time.Duration
	// CacheMinTTL is the least time a response stays cached (MINTTL of the success
	// and denial options, default 5 s).
	CacheMinTTL time.Duration
	// CacheCapacity is the number of responses of each kind (success, denial) the
	// cache holds before it evicts a random one (CAPACITY, default 9984 = 256
	// shards × 39).
	CacheCapacity int
	// Ndots is the resolv.conf ndots option the kubelet writes for ClusterFirst
	// pods (5; pkg/kubelet/network/dns/dns.go). Names with fewer dots are tried
	// with the search domains first.
	Ndots int
	// QPS and Burst are CoreDNS's client-side API limits (client-go's defaults 5
	// and 10: CoreDNS does not set them). It only watches.
	QPS   float64
	Burst int
	// TraceEach traces every query (step 0, the "events" level); otherwise only
	// the first successful resolution of each Service is traced.
	TraceEach bool
}

// DefaultConfig returns the CoreDNS defaults cited on each field.
func DefaultConfig() Config {
	return Config{
		ClusterDomain:      "cluster.local",
		TTL:                5 * time.Second,
		QueryLatency:       dist.LogNormal(time.Millisecond, 0.5),
		Cache:              true,
		CacheSuccessMaxTTL: 3600 * time.Second,
		CacheDenialMaxTTL:  1800 * time.Second,
		CacheMinTTL:        5 * time.Second,
		CacheCapacity:      256 * 39,
		Ndots:              5,
		QPS:                5,
		Burst:              10,
	}
}

// Validate checks the configuration; errors name the field.
func (c *Config) Validate(reg *dist.Registry) error {
	d := strings.TrimSuffix(c.ClusterDomain, ".")
	if d == "" || strings.HasPrefix(d, ".") || strings.Contains(d, "..") || strings.ToLower(d) != d {
		return fmt.Errorf("clusterDomain: want a lower-case DNS name such as cluster.local, got %q", c.ClusterDomain)
	}
	if c.TTL < 0 || c.TTL > 3600*time.Second || c.TTL%time.Second != 0 {
		return fmt.Errorf("ttl: must be whole seconds in 0s..3600s, got %v", c.TTL)
	}
	if reg == nil {
		return fmt.Errorf("queryLatency: no distribution registry given")
	}
	if err := reg.Validate(c.QueryLatency); err != nil {
		return fmt.Errorf("queryLatency: %w", err)
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"cacheSuccessMaxTTL", c.CacheSuccessMaxTTL}, {"cacheDenialMaxTTL", c.CacheDenialMaxTTL}, {"cacheMinTTL", c.CacheMinTTL}} {
		if c.Cache && (f.v < 0 || f.v%time.Second != 0) {
			return fmt.Errorf("%s: must be whole seconds >= 0, got %v", f.name, f.v)
		}
	}
	if c.Cache && c.CacheMinTTL > min(c.CacheSuccessMaxTTL, c.CacheDenialMaxTTL) {
		return fmt.Errorf("cacheMinTTL: %v exceeds a max TTL (%v, %v)", c.CacheMinTTL, c.CacheSuccessMaxTTL, c.CacheDenialMaxTTL)
	}
	if c.Cache && c.CacheCapacity < 1 {
		return fmt.Errorf("cacheCapacity: must be at least 1, got %d", c.CacheCapacity)
	}
	if c.Ndots < 0 || c.Ndots > 15 {
		return fmt.Errorf("ndots: must be in 0..15 (resolv.conf caps it at 15), got %d", c.Ndots)
	}
	if c.QPS < 0 || math.IsNaN(c.QPS) || math.IsInf(c.QPS, 0) {
		return fmt.Errorf("qps: must be a finite number >= 0, got %g", c.QPS)
	}
	if c.Burst < 0 || (c.QPS > 0 && c.Burst < 1) {
		return fmt.Errorf("burst: must be at least 1 when qps is set, got %d", c.Burst)
	}
	return nil
}

// Stats counts what the server did.
type Stats struct {
	Queries   uint64 // queries answered (each try of a search list counts)
	CacheHits uint64 // of which answered from the cache plugin
	NXDomain  uint64 // of which answered NXDOMAIN
	Resolves  uint64 // Resolve calls completed
}

// Server is the CoreDNS model. Its methods run on the engine goroutine.
type Server struct {
	eng    *sim.Engine
	client *apiserver.Client
	cfg    Config
	zone   string // "svc.<domain>" suffix, lower case, without trailing dot
	domain string
	tel    sim.Telemetry
	lat    dist.Sampler
	evict  *rand.Rand

	svcInf, epsInf *apiserver.Informer
	started        bool
	stopped        bool

	slices map[svcKey]map[string]*api.EndpointSlice // by Service, by slice name
	rotate map[string]int                           // loadbalance rotation per name

	cache  map[string]*entry
	keys   [2][]string // cached names per kind (0 success, 1 denial), for eviction
	traced map[svcKey]bool
	stats  Stats
}

type svcKey struct{ ns, name string }

// entry is one cached response.
type entry struct {
	kind   int // 0 success, 1 denial
	idx    int // position in keys[kind]
	ans    answer
	stored sim.Time
	orig   int64 // the TTL it was stored with, whole seconds
}

// answer is one response of the kubernetes plugin.
type answer struct {
	rcode string
	addrs []string
	vip   bool          // addrs is a Service's ClusterIP
	ttl   time.Duration // whole seconds
	svc   svcKey        // the Service the name belongs to ("" when none)
	why   string        // for traces: why NXDOMAIN
}

// New builds the CoreDNS model. client is its connection to the apiserver (build it
// with cfg.QPS and cfg.Burst); tel may be nil. Nothing happens until Start.
func New(eng *sim.Engine, client *apiserver.Client, cfg Config, reg *dist.Registry, tel sim.Telemetry) (*Server, error) {
	if err := cfg.Validate(reg); err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	if eng == nil || client == nil {
		return nil, fmt.Errorf("dns: nil engine or apiserver client")
	}
	if tel == nil {
		tel = sim.Discard
	}
	domain := strings.TrimSuffix(cfg.ClusterDomain, ".")
	return &Server{
		eng: eng, client: client, cfg: cfg, tel: tel,
		domain: domain,
		zone:   "svc." + domain,
		lat:    reg.MustNew(cfg.QueryLatency, eng.Source("coredns/query")),
		evict:  eng.Stream("coredns/cache-evict"),
		slices: map[svcKey]map[string]*api.EndpointSlice{},
		rotate: map[string]int{},
		cache:  map[string]*entry{},
		traced: map[svcKey]bool{},
	}, nil
}

// Config returns the server's configuration.
func (s *Server) Config() Config { return s.cfg }

// Stats returns the server's counters.
func (s *Server) Stats() Stats { return s.stats }

// Start starts the Service and EndpointSlice watches of the kubernetes plugin.
// Calling it twice is a no-op.
func (s *Server) Start() {
	if s.started || s.stopped {
		return
	}
	s.started = true
	s.svcInf = apiserver.NewInformer(s.client, api.KindService, apiserver.InformerOptions{}, apiserver.Handlers{})
	s.epsInf = apiserver.NewInformer(s.client, api.KindEndpointSlice, apiserver.InformerOptions{}, apiserver.Handlers{
		OnAdd: func(o api.Object) { s.onSlice(o.(*api.EndpointSlice), false) },
		OnUpdate: func(old, cur api.Object) {
			o, c := old.(*api.EndpointSlice), cur.(*api.EndpointSlice)
			if o.Namespace != c.Namespace || o.ServiceName() != c.ServiceName() {
				s.onSlice(o, true)
			}
			s.onSlice(c, false)
		},
		OnDelete: func(o api.Object) { s.onSlice(o.(*api.EndpointSlice), true) },
	})
}

// Stop models CoreDNS losing its watches (the apiserver connection): it keeps
// answering from what its informers last held, as CoreDNS does.
func (s *Server) Stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	if s.svcInf != nil {
		s.svcInf.Stop()
		s.epsInf.Stop()
	}
}

func (s *Server) onSlice(sl *api.EndpointSlice, deleted bool) {
	k := svcKey{sl.Namespace, sl.ServiceName()}
	if k.name == "" {
		return
	}
	m := s.slices[k]
	if deleted {
		if m != nil {
			delete(m, sl.Name)
			if len(m) == 0 {
				delete(s.slices, k)
			}
		}
		return
	}
	if m == nil {
		m = map[string]*api.EndpointSlice{}
		s.slices[k] = m
	}
	m[sl.Name] = sl
}

// ---------------------------------------------------------------------------
// Queries

// Resolve resolves name for a client in namespace (the namespace of its search
// list) and calls done once, after the queries' latency, with the answer: the
// addresses (nil on NXDOMAIN), their TTL, whether they are a Service's ClusterIP
// (vip; false for a headless Service's pod addresses) and the response code
// (NoError or NXDomain). The caller owns addrs.
func (s *Server) Resolve(name, namespace string, done func(addrs []string, ttl time.Duration, vip bool, rcode string)) {
	names := s.searchList(name, namespace)
	s.try(names, 0, name, done)
}

// searchList returns the names the stub resolver tries, in order.
func (s *Server) searchList(name, namespace string) []string {
	name = strings.ToLower(name)
	if strings.HasSuffix(name, ".") {
		return []string{strings.TrimSuffix(name, ".")}
	}
	var search []string
	if namespace != "" {
		search = append(search, namespace+"."+s.zone)
	}
	search = append(search, s.zone, s.domain)
	out := make([]string, 0, len(search)+1)
	if strings.Count(name, ".") >= s.cfg.Ndots {
		out = append(out, name)
	}
	for _, d := range search {
		out = append(out, name+"."+d)
	}
	if strings.Count(name, ".") < s.cfg.Ndots {
		out = append(out, name)
	}
	return out
}

func (s *Server) try(names []string, i int, asked string, done func([]string, time.Duration, bool, string)) {
	sent := s.eng.Now()
	s.eng.After(s.lat.Sample(), func() {
		a, hit := s.query(names[i])
		now := s.eng.Now()
		s.tel.Observe(MetricQuery, now, now.Sub(sent).Seconds())
		if a.rcode == NXDomain && i+1 < len(names) {
			s.traceQuery(names[i], a, hit)
			s.try(names, i+1, asked, done)
			return
		}
		s.stats.Resolves++
		s.traceQuery(names[i], a, hit)
		if a.rcode == NoError && a.svc.name != "" && !s.traced[a.svc] {
			s.traced[a.svc] = true
			s.traceFirst(names[i], asked, a, i)
		}
		done(slices.Clone(a.addrs), a.ttl, a.vip, a.rcode)
	})
}

// query answers one name: from the cache plugin if it holds it, else from the
// kubernetes plugin (and caches the response). It reports whether the cache
// answered.
func (s *Server) query(name string) (answer, bool) {
	now := s.eng.Now()
	s.stats.Queries++
	if s.cfg.Cache {
		if e := s.cache[name]; e != nil {
			age := int64(now.Sub(e.stored) / time.Second)
			if left := e.orig - age; left > 0 && now.Sub(e.stored) < time.Duration(e.orig)*time.Second {
				s.stats.CacheHits++
				a := e.ans
				a.ttl = time.Duration(left) * time.Second
				if a.rcode == NXDomain {
					s.stats.NXDomain++
				}
				return s.balance(name, a), true
			}
			s.drop(name, e)
		}
	}
	a := s.lookup(name)
	if a.rcode == NXDomain {
		s.stats.NXDomain++
	}
	if s.cfg.Cache {
		a.ttl = s.store(name, a, now)
	}
	return s.balance(name, a), false
}

// balance rotates a multi-address answer by one position per answer (the
// loadbalance plugin's round robin). The returned addresses are a fresh slice.
func (s *Server) balance(name string, a answer) answer {
	if len(a.addrs) < 2 {
		return a
	}
	r := s.rotate[name] % len(a.addrs)
	s.rotate[name] = r + 1
	out := make([]string, 0, len(a.addrs))
	out = append(out, a.addrs[r:]...)
	a.addrs = append(out, a.addrs[:r]...)
	return a
}

// store caches a response for its TTL clamped to [CacheMinTTL, max TTL] and returns
// the TTL the client gets (the clamped one, as the cache plugin rewrites it).
func (s *Server) store(name string, a answer, now sim.Time) time.Duration {
	kind, maxTTL := 0, s.cfg.CacheSuccessMaxTTL
	if a.rcode == NXDomain {
		kind, maxTTL = 1, s.cfg.CacheDenialMaxTTL
	}
	ttl := min(max(a.ttl, s.cfg.CacheMinTTL), maxTTL)
	if ttl <= 0 {
		return 0
	}
	if len(s.keys[kind]) >= s.cfg.CacheCapacity {
		victim := s.keys[kind][s.evict.IntN(len(s.keys[kind]))]
		s.drop(victim, s.cache[victim])
	}
	e := &entry{kind: kind, idx: len(s.keys[kind]), ans: a, stored: now, orig: int64(ttl / time.Second)}
	s.keys[kind] = append(s.keys[kind], name)
	s.cache[name] = e
	return ttl
}

func (s *Server) drop(name string, e *entry) {
	keys := s.keys[e.kind]
	last := len(keys) - 1
	if e.idx != last {
		moved := keys[last]
		keys[e.idx] = moved
		s.cache[moved].idx = e.idx
	}
	s.keys[e.kind] = keys[:last]
	delete(s.cache, name)
}

// CacheLen returns the number of cached responses.
func (s *Server) CacheLen() int { return len(s.cache) }

// lookup is the kubernetes plugin: it answers name from the informers.
func (s *Server) lookup(name string) answer {
	ttl := s.cfg.TTL
	nx := func(why string) answer { return answer{rcode: NXDomain, ttl: ttl, why: why} }
	rest, ok := strings.CutSuffix(name, "."+s.zone)
	if !ok || rest == "" {
		if name == s.domain || strings.HasSuffix(name, "."+s.domain) {
			return nx("only Service names (<service>.<namespace>." + s.zone + ") are modeled")
		}
		return nx("not in the cluster domain " + s.domain + " (no upstream is modeled)")
	}
	labels := strings.Split(rest, ".")
	var host string
	switch len(labels) {
	case 2:
	case 3:
		host = labels[0]
		labels = labels[1:]
	default:
		return nx("not a Service or endpoint name")
	}
	k := svcKey{ns: labels[1], name: labels[0]}
	var svc *api.Service
	if s.svcInf != nil {
		if o, ok := s.svcInf.Get(k.ns, k.name); ok {
			svc = o.(*api.Service)
		}
	}
	if svc == nil {
		return nx(fmt.Sprintf("no Service %s in namespace %s (yet)", k.name, k.ns))
	}
	headless := svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == "None"
	if host == "" && !headless {
		return answer{rcode: NoError, addrs: []string{svc.Spec.ClusterIP}, vip: true, ttl: ttl, svc: k}
	}
	addrs := s.readyAddrs(k, host)
	if len(addrs) == 0 {
		if host != "" {
			return nx(fmt.Sprintf("no ready endpoint named %s in Service %s/%s", host, k.ns, k.name))
		}
		return nx(fmt.Sprintf("headless Service %s/%s has no ready endpoint", k.ns, k.name))
	}
	return answer{rcode: NoError, addrs: addrs, ttl: ttl, svc: k}
}

// readyAddrs returns the addresses of the Service's ready endpoints (CoreDNS turns
// a slice's ready endpoints into addresses; object/endpoint.go), in slice-name then
// slice order, without duplicates; with host, only the endpoint of that hostname.
func (s *Server) readyAddrs(k svcKey, host string) []string {
	m := s.slices[k]
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		for _, ep := range m[n].Endpoints {
			if !ep.Conditions.Ready || ep.Address == "" || seen[ep.Address] {
				continue
			}
			if host != "" && strings.ToLower(ep.PodName) != host && strings.ReplaceAll(ep.Address, ".", "-") != host {
				continue
			}
			seen[ep.Address] = true
			out = append(out, ep.Address)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Traces

func (s *Server) traceFirst(name, asked string, a answer, tries int) {
	var b strings.Builder
	fmt.Fprintf(&b, "clients resolve %s → %s through CoreDNS (watching Services", name, strings.Join(a.addrs, ", "))
	if !a.vip {
		b.WriteString(" and EndpointSlices: a headless Service answers with its ready pod IPs")
	}
	fmt.Fprintf(&b, "), TTL %ds", int64(a.ttl/time.Second))
	if tries > 0 {
		fmt.Fprintf(&b, "; asked for %q, the resolver tried %d search-list name%s first (ndots:%d), each an NXDOMAIN round trip", asked, tries, plural(tries), s.cfg.Ndots)
	}
	s.tel.Trace(sim.Record{Time: s.eng.Now(), Step: Step, Component: Component, Action: "resolve",
		Object: api.RefOf(api.KindService, a.svc.ns, a.svc.name), Detail: b.String()})
}

func (s *Server) traceQuery(name string, a answer, hit bool) {
	if !s.cfg.TraceEach {
		return
	}
	src := "the kubernetes plugin"
	if hit {
		src = "the cache"
	}
	var d string
	if a.rcode == NXDomain {
		d = fmt.Sprintf("query %s: NXDOMAIN from %s (%s), negative TTL %ds", name, src, a.why, int64(a.ttl/time.Second))
	} else {
		d = fmt.Sprintf("query %s: %s from %s, TTL %ds", name, strings.Join(a.addrs, ", "), src, int64(a.ttl/time.Second))
	}
	obj := "dns/" + name
	if a.svc.name != "" {
		obj = api.RefOf(api.KindService, a.svc.ns, a.svc.name)
	}
	s.tel.Trace(sim.Record{Time: s.eng.Now(), Step: 0, Component: Component, Action: "query", Object: obj, Detail: d})
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
