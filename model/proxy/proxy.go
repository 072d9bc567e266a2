// Package proxy models kube-proxy, one per node: step 6 of the Nginx story, where the
// Service is programmed so that clients reach its pods.
//
// A Proxy watches Services and EndpointSlices through the apiserver (two informers,
// as kube-proxy's ServiceConfig and EndpointSliceConfig do), merges the slices of
// each Service, and keeps two views:
//
//   - the desired state: what the informers say now;
//   - the programmed table: what the node's rules say now. Pick reads only this one.
//
// Programming follows kube-proxy's sync runner (reference §5;
// pkg/proxy/runner/bounded_frequency_runner.go): a change marks its Service dirty and
// asks for a sync; a sync starts no earlier than MinSyncPeriod after the previous one
// ended (at once when the runner is idle and the period has passed), reads every
// pending change at its start, and makes the new rules effective SyncLatency later
// (the iptables-restore / netlink / nft transaction). Changes that arrive during a
// sync wait for the next one. The first sync runs once both informers have synced
// (the proxier's isInitialized check).
//
// Periodic sync: kube-proxy also re-syncs every SyncPeriod (30 s). In the model
// nothing ever flushes the rules, so a periodic sync changes no table; it is kept
// because it occupies the runner for SyncLatency (a change arriving then waits),
// and it is cheap: at most one pending periodic event per proxy, allocation-free,
// rescheduled from the end of the last sync, and no trace. With 5,000 nodes and the
// 30 s default that is about 330 events per virtual second for the whole cluster.
//
// Endpoint choice (reference §5, §3.5; pkg/proxy/topology.go CategorizeEndpoints):
// endpoints with ready=true; if a service port has none, the serving && terminating
// ones. The backend port comes from the EndpointSlice port with the Service port's
// name (its TargetPort when set, else its Port); a slice without ports falls back to
// the Service port's targetPort (upstream would give it no endpoints: kept tolerant
// so a simplified endpoints controller still works).
//
// Tables and cost: a programmed service port is the list of its slices' backend
// lists, in slice-name order, with cumulative sizes. Backend lists are built once
// per slice object and shared by every proxy given the same Shared (see Shared), and
// the "ip:port" strings are built on first pick, so a proxy holds O(slices) state,
// not O(endpoints). An informer event is O(log slices of the Service); a sync is
// O(slices + endpoints of changed slices) per dirty Service; Pick is O(log slices)
// (plus a map lookup with session affinity) and does not allocate.
//
// IPVS schedulers (Config.Scheduler; reference §5 names rr, the default): rr goes
// round-robin per service port; lc sends a new connection to the real server with
// the fewest active connections (a min-heap per service port ordered by
// (connections, position in the table), so a pick and a close are O(log n); the
// counts carry over when the table is reprogrammed); sh hashes the client IP into a
// 256-bucket table whose bucket b holds real server b mod n (Linux
// net/netfilter/ipvs/ip_vs_sh.c: hash_32(ip, 8), ip_vs_sh_reassign), so a client
// keeps its server while the set is unchanged. lc needs to know when connections
// end: the client traffic model calls ConnClosed.
//
// Simplification: an endpoint listed in two slices of a Service (a transient state
// of the endpointslice controller) is not deduplicated in the rules, so it gets two
// shares of the traffic until the controller settles; upstream's
// endpointSliceCache merges it. Programmed deduplicates.
package proxy

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

// Step is the Nginx-story step kube-proxy's records belong to.
const Step = 6

// Metric names.
const (
	// MetricProgramming is the time from the proxy's watch receiving the first change
	// of a Service not yet programmed to the end of the sync that programmed it, in
	// seconds. Observed once per Service per sync that changed its rules.
	MetricProgramming = "proxy_programming_seconds"
)

// Event kinds of the proxy's typed engine events.
const (
	evSync int32 = iota + 1
	evSyncDone
	evPeriodic
)

// Stats counts what a proxy did.
type Stats struct {
	Syncs         uint64 // completed syncs (triggered, initial and periodic)
	PeriodicSyncs uint64 // of which started by the SyncPeriod timer
	Programs      uint64 // service-port rule changes made effective (one "program" trace each)
}

// Proxy is the kube-proxy of one node. Its methods run on the engine goroutine.
type Proxy struct {
	eng     *sim.Engine
	client  *apiserver.Client
	node    string
	comp    string
	cfg     Config
	tel     sim.Telemetry
	syncLat dist.Sampler
	rng     *rand.Rand

	svcInf, epsInf *apiserver.Informer
	syncedInf      int
	initialized    bool
	started        bool
	stopped        bool

	services map[svcKey]*svcState // desired state, by Service
	tables   map[svcKey]*svcTable // programmed state, by Service

	dirty []*svcState // Services changed since the last sync started
	batch []*svcState // Services the running sync programs
	spare []*svcState

	syncing     bool
	syncTimer   sim.Timer // pending sync start
	syncDone    sim.Timer // pending sync end
	periodic    sim.Timer // pending periodic check
	everSynced  bool
	lastSyncEnd sim.Time

	shared    *Shared
	stats     Stats
	dataplane Dataplane // real data path (real-run mode); nil in simulation
}

// New builds the kube-proxy of node. client is its connection to the apiserver
// (build it with cfg.QPS and cfg.Burst); tel may be nil. Nothing happens until Start.
func New(eng *sim.Engine, client *apiserver.Client, node string, cfg Config, reg *dist.Registry, tel sim.Telemetry) (*Proxy, error) {
	if err := cfg.Validate(reg); err != nil {
		return nil, err
	}
	if eng == nil {
		return nil, fmt.Errorf("proxy: nil engine")
	}
	if client == nil {
		return nil, fmt.Errorf("proxy: nil apiserver client")
	}
	if node == "" {
		return nil, fmt.Errorf("proxy: node name is required")
	}
	if tel == nil {
		tel = sim.Discard
	}
	return &Proxy{
		eng:      eng,
		client:   client,
		node:     node,
		comp:     "kube-proxy/" + node,
		cfg:      cfg,
		tel:      tel,
		syncLat:  reg.MustNew(cfg.SyncLatency, eng.Source("kube-proxy/"+node+"/sync")),
		rng:      eng.Stream("kube-proxy/" + node + "/pick"),
		services: map[svcKey]*svcState{},
		tables:   map[svcKey]*svcTable{},
		shared:   NewShared(),
	}, nil
}

// SetShared makes the proxy share slice builds with every other proxy given s (see
// Shared). Call it before Start; it panics afterwards, as that is a wiring bug.
func (p *Proxy) SetShared(s *Shared) {
	if p.started {
		panic("proxy: SetShared called after Start on " + p.comp)
	}
	if s != nil {
		p.shared = s
	}
}

// Node returns the node the proxy runs on.
func (p *Proxy) Node() string { return p.node }

// Config returns the proxy's configuration.
func (p *Proxy) Config() Config { return p.cfg }

// Stats returns the proxy's counters.
func (p *Proxy) Stats() Stats { return p.stats }

// Initialized reports whether both informers have synced (syncs may run).
func (p *Proxy) Initialized() bool { return p.initialized }

// Start starts the Service and EndpointSlice watches. Calling it twice is a no-op.
func (p *Proxy) Start() {
	if p.started || p.stopped {
		return
	}
	p.started = true
	p.svcInf = apiserver.NewInformer(p.client, api.KindService, apiserver.InformerOptions{}, apiserver.Handlers{
		OnAdd:    func(o api.Object) { p.onService(o.(*api.Service)) },
		OnUpdate: func(old, cur api.Object) { p.onServiceUpdate(old.(*api.Service), cur.(*api.Service)) },
		OnDelete: func(o api.Object) { p.onServiceDelete(o.(*api.Service)) },
	})
	p.epsInf = apiserver.NewInformer(p.client, api.KindEndpointSlice, apiserver.InformerOptions{}, apiserver.Handlers{
		OnAdd: func(o api.Object) { p.onSlice(o.(*api.EndpointSlice), false) },
		OnUpdate: func(old, cur api.Object) {
			o, c := old.(*api.EndpointSlice), cur.(*api.EndpointSlice)
			if o.Namespace != c.Namespace || o.ServiceName() != c.ServiceName() {
				p.onSlice(o, true)
			}
			p.onSlice(c, false)
		},
		OnDelete: func(o api.Object) { p.onSlice(o.(*api.EndpointSlice), true) },
	})
	p.svcInf.OnSynced(p.informerSynced)
	p.epsInf.OnSynced(p.informerSynced)
}

// Stop models the kube-proxy process stopping: watches end and no sync runs any
// more (a sync in progress does not complete). The programmed rules stay in the
// kernel, so Pick keeps answering from the last programmed table.
func (p *Proxy) Stop() {
	if p.stopped {
		return
	}
	p.stopped = true
	if p.svcInf != nil {
		p.svcInf.Stop()
		p.epsInf.Stop()
	}
	p.eng.Cancel(p.syncTimer)
	p.eng.Cancel(p.syncDone)
	p.eng.Cancel(p.periodic)
	p.syncTimer, p.syncDone, p.periodic = sim.Timer{}, sim.Timer{}, sim.Timer{}
	p.syncing = false
	// Give the slice builds back (order does not matter: only counts change); the
	// programmed tables keep their own references to the lists.
	for _, st := range p.services {
		for i := range st.slices {
			p.shared.release(st.slices[i].built)
			st.slices[i].built = nil
		}
	}
}

func (p *Proxy) informerSynced() {
	p.syncedInf++
	if p.syncedInf == 2 {
		p.initialized = true
		p.requestSync()
	}
}

// ---------------------------------------------------------------------------
// Desired state from the informers

type svcKey struct{ ns, name string }

// svcState is the desired state of one Service: the Service and its slices.
type svcState struct {
	key       svcKey
	svc       *api.Service
	slices    []sliceEntry // sorted by slice name
	dirty     bool
	changedAt sim.Time // when the watch delivered the first change not yet read by a sync
	// set while the running sync programs this Service
	next      *svcTable
	nextSince sim.Time
}

// sliceEntry is one slice of a Service: the latest object, and the build of the
// object the last sync read (rebuilt lazily, so several updates between two syncs
// cost one build).
type sliceEntry struct {
	name  string
	obj   *api.EndpointSlice
	built *builtSlice
}

func (p *Proxy) state(k svcKey) *svcState {
	st := p.services[k]
	if st == nil {
		st = &svcState{key: k}
		p.services[k] = st
	}
	return st
}

func (p *Proxy) onService(s *api.Service) {
	st := p.state(svcKey{s.Namespace, s.Name})
	st.svc = s
	p.markDirty(st)
}

// onServiceUpdate ignores updates that change nothing kube-proxy programs, as the
// service change tracker drops no-op changes (pkg/proxy/servicechangetracker.go).
func (p *Proxy) onServiceUpdate(old, cur *api.Service) {
	if old.Spec.ClusterIP == cur.Spec.ClusterIP && old.Spec.SessionAffinity == cur.Spec.SessionAffinity &&
		slices.Equal(old.Spec.Ports, cur.Spec.Ports) {
		if st := p.services[svcKey{cur.Namespace, cur.Name}]; st != nil {
			st.svc = cur
		}
		return
	}
	p.onService(cur)
}

func (p *Proxy) onServiceDelete(s *api.Service) {
	st := p.services[svcKey{s.Namespace, s.Name}]
	if st == nil {
		return
	}
	st.svc = nil
	p.markDirty(st)
}

func (p *Proxy) onSlice(s *api.EndpointSlice, deleted bool) {
	svc := s.ServiceName()
	if svc == "" {
		return // not managed for a Service: kube-proxy ignores it
	}
	k := svcKey{s.Namespace, svc}
	st := p.services[k]
	if st == nil {
		if deleted {
			return
		}
		st = p.state(k)
	}
	i, found := slices.BinarySearchFunc(st.slices, s.Name, func(e sliceEntry, name string) int { return strings.Compare(e.name, name) })
	switch {
	case deleted && found:
		p.shared.release(st.slices[i].built)
		st.slices = slices.Delete(st.slices, i, i+1)
	case deleted:
		return
	case found:
		st.slices[i].obj = s
	default:
		st.slices = slices.Insert(st.slices, i, sliceEntry{name: s.Name, obj: s})
	}
	p.markDirty(st)
}

func (p *Proxy) markDirty(st *svcState) {
	if !st.dirty {
		st.dirty = true
		st.changedAt = p.eng.Now()
		p.dirty = append(p.dirty, st)
	}
	p.requestSync()
}

// ---------------------------------------------------------------------------
// The sync runner

// Handle runs the proxy's typed engine events.
func (p *Proxy) Handle(ev *sim.Event) {
	if p.stopped {
		return
	}
	switch ev.Kind {
	case evSync:
		p.syncTimer = sim.Timer{}
		p.startSync(false)
	case evSyncDone:
		p.syncDone = sim.Timer{}
		p.finishSync()
	case evPeriodic:
		p.periodic = sim.Timer{}
		p.onPeriodic()
	}
}

// requestSync is the runner's Run(): it schedules a sync unless one is running or
// already scheduled (requests coalesce), no earlier than MinSyncPeriod after the end
// of the previous one.
func (p *Proxy) requestSync() {
	if !p.initialized || p.stopped || p.syncing || !p.syncTimer.IsZero() {
		return
	}
	at := p.eng.Now()
	if p.everSynced {
		at = max(at, p.lastSyncEnd.Add(p.cfg.MinSyncPeriod))
	}
	p.syncTimer = p.eng.Schedule(at, p, evSync, 0, nil)
}

// startSync reads every pending change (as syncProxyRules reads the change trackers
// at its start) and schedules the moment the new rules take effect.
func (p *Proxy) startSync(periodic bool) {
	p.syncing = true
	if periodic {
		p.stats.PeriodicSyncs++
	}
	p.batch, p.dirty, p.spare = p.dirty, p.spare[:0], nil
	for _, st := range p.batch {
		st.dirty = false
		st.next = p.desired(st)
		st.nextSince = st.changedAt
	}
	p.syncDone = p.eng.ScheduleAfter(p.syncLat.Sample(), p, evSyncDone, 0, nil)
}

// finishSync makes the batch's rules effective, then asks for the next sync if
// changes arrived meanwhile and keeps the periodic check armed.
func (p *Proxy) finishSync() {
	now := p.eng.Now()
	p.syncing = false
	for i, st := range p.batch {
		p.install(st, st.next, st.nextSince)
		st.next = nil
		p.batch[i] = nil
	}
	p.spare, p.batch = p.batch[:0], nil
	p.stats.Syncs++
	p.everSynced = true
	p.lastSyncEnd = now
	if len(p.dirty) > 0 {
		p.requestSync()
	}
	if p.cfg.SyncPeriod > 0 && p.periodic.IsZero() {
		p.periodic = p.eng.Schedule(now.Add(p.cfg.SyncPeriod), p, evPeriodic, 0, nil)
	}
}

// onPeriodic is the runner's maxInterval timer: a full sync when no sync ended in the
// last SyncPeriod. If one did (or one is running or scheduled), it re-arms from the
// end of that sync instead, so a proxy never has more than one periodic event queued.
func (p *Proxy) onPeriodic() {
	now := p.eng.Now()
	if due := p.lastSyncEnd.Add(p.cfg.SyncPeriod); due > now {
		p.periodic = p.eng.Schedule(due, p, evPeriodic, 0, nil)
		return
	}
	if p.syncing || !p.syncTimer.IsZero() {
		return // finishSync re-arms
	}
	p.startSync(true)
}

// ---------------------------------------------------------------------------
// Programmed tables

// svcTable is the programmed rules of one Service.
type svcTable struct {
	clusterIP string
	affinity  bool
	ports     []*portTable
}

// portTable is the programmed rules of one service port (a KUBE-SVC chain, an IPVS
// virtual server, an nft vmap): its backends are the concatenation of groups (one
// backend list per slice), ends[g] being the number of backends in groups[0..g].
type portTable struct {
	name     string
	protocol string
	port     int32
	groups   [][]backend
	ends     []int
	fallback bool // backends are serving+terminating (no ready endpoint)
	rr       int  // ipvs round-robin cursor
	aff      map[string]affEntry
	lc       *lcState // ipvs lc: active connections per backend (nil in other modes)
}

// affEntry is a ClientIP affinity entry: where the client's backend sits in the
// table (valid while groups[g] is still the same list) and which backend it is.
type affEntry struct {
	g, i int
	base *backend // &groups[g][0] when the entry was made
	ip   string
	port int32
	last sim.Time
}

func (pt *portTable) n() int {
	if len(pt.ends) == 0 {
		return 0
	}
	return pt.ends[len(pt.ends)-1]
}

// at returns backend i of the table (0 <= i < n) and its group.
func (pt *portTable) at(i int) (*backend, int, int) {
	g, _ := slices.BinarySearch(pt.ends, i+1)
	start := 0
	if g > 0 {
		start = pt.ends[g-1]
	}
	return &pt.groups[g][i-start], g, i - start
}

func (b *backend) address() string {
	if b.addr == "" {
		b.addr = b.ip + ":" + strconv.Itoa(int(b.port))
	}
	return b.addr
}

// desired computes the table the informers ask for, or nil for no rules (no Service,
// or a headless one).
func (p *Proxy) desired(st *svcState) *svcTable {
	s := st.svc
	if s == nil || s.Spec.ClusterIP == "" || s.Spec.ClusterIP == "None" {
		return nil
	}
	for i := range st.slices {
		e := &st.slices[i]
		if e.built == nil || e.built.obj != e.obj {
			p.shared.release(e.built)
			e.built = p.shared.acquire(e.obj)
		}
	}
	old := p.tables[st.key]
	t := &svcTable{clusterIP: s.Spec.ClusterIP, affinity: s.Spec.SessionAffinity == api.AffinityClientIP}
	t.ports = make([]*portTable, 0, len(s.Spec.Ports))
	for i := range s.Spec.Ports {
		sp := &s.Spec.Ports[i]
		pt := &portTable{name: sp.Name, protocol: sp.Protocol, port: sp.Port}
		if !p.collect(st, sp, pt, false) {
			pt.fallback = p.collect(st, sp, pt, true)
		}
		if op := old.port(sp.Port, sp.Protocol); op != nil && sameGroups(op.groups, pt.groups) {
			pt.groups, pt.ends = op.groups, op.ends // unchanged: keep the programmed lists
		}
		t.ports = append(t.ports, pt)
	}
	return t
}

// collect fills pt with the backend lists of one service port across the Service's
// slices, the ready ones or with fallback the serving+terminating ones. It reports
// whether it found any.
func (p *Proxy) collect(st *svcState, sp *api.ServicePort, pt *portTable, fallback bool) bool {
	pt.groups, pt.ends = pt.groups[:0], pt.ends[:0]
	total := 0
	for i := range st.slices {
		for j := range st.slices[i].built.ports {
			spp := &st.slices[i].built.ports[j]
			if !spp.portless && (spp.name != sp.Name || (spp.protocol != "" && sp.Protocol != "" && spp.protocol != sp.Protocol)) {
				continue
			}
			list := spp.ready
			if fallback {
				list = spp.fallback
			}
			if len(list) == 0 {
				continue
			}
			if spp.portless {
				list = withPort(list, sp)
			}
			total += len(list)
			pt.groups = append(pt.groups, list)
			pt.ends = append(pt.ends, total)
		}
	}
	return total > 0
}

// withPort copies a portless slice's backends at the Service port's targetPort.
func withPort(list []backend, sp *api.ServicePort) []backend {
	port := sp.TargetPort
	if port == 0 {
		port = sp.Port
	}
	out := make([]backend, len(list))
	for i, b := range list {
		out[i] = backend{ip: b.ip, port: port}
	}
	return out
}

func sameGroups(a, b [][]backend) bool {
	if len(a) != len(b) {
		return false
	}
	for g := range a {
		x, y := a[g], b[g]
		if len(x) != len(y) {
			return false
		}
		if len(x) > 0 && &x[0] == &y[0] {
			continue
		}
		for i := range x {
			if x[i].ip != y[i].ip || x[i].port != y[i].port {
				return false
			}
		}
	}
	return true
}

func (t *svcTable) port(port int32, protocol string) *portTable {
	if t == nil {
		return nil
	}
	for _, pt := range t.ports {
		if pt.port == port && (protocol == "" || pt.protocol == "" || pt.protocol == protocol) {
			return pt
		}
	}
	return nil
}

// install makes next the programmed table of st's Service, tracing each service port
// whose rules changed and observing the programming latency once.
func (p *Proxy) install(st *svcState, next *svcTable, since sim.Time) {
	k := st.key
	old := p.tables[k]
	now := p.eng.Now()
	changed := 0
	if next != nil {
		for _, pt := range next.ports {
			op := old.port(pt.port, pt.protocol)
			if op != nil {
				pt.rr = op.rr
				pt.aff = op.aff
				p.reapAffinity(pt, now)
			}
			if p.scheduler() == SchedulerLC {
				if op != nil && op.lc != nil && len(op.groups) == len(pt.groups) && sameGroups(op.groups, pt.groups) {
					pt.lc = op.lc
				} else {
					var prev *lcState
					if op != nil {
						prev = op.lc
					}
					pt.lc = buildLC(pt, prev)
				}
			}
			if op == nil || old.clusterIP != next.clusterIP || old.affinity != next.affinity || op.fallback != pt.fallback ||
				op.name != pt.name || !sameGroups(op.groups, pt.groups) {
				p.traceProgram(k, next, pt)
				changed++
			}
		}
	}
	if old != nil {
		for _, op := range old.ports {
			if next.port(op.port, op.protocol) == nil {
				p.traceRemoved(k, old, op, next == nil)
				changed++
			}
		}
	}
	if next == nil {
		delete(p.tables, k)
		if st.svc == nil && len(st.slices) == 0 && !st.dirty {
			delete(p.services, k)
		}
	} else {
		p.tables[k] = next
	}
	if changed > 0 {
		p.stats.Programs += uint64(changed)
		p.tel.Observe(MetricProgramming, now, now.Sub(since).Seconds())
		if p.dataplane != nil {
			p.programDataplane(k, next, since)
		}
	}
}

// reapAffinity drops expired affinity entries (the recent match's --reap).
func (p *Proxy) reapAffinity(pt *portTable, now sim.Time) {
	for ip, e := range pt.aff {
		if now.Sub(e.last) > p.cfg.AffinityTimeout {
			delete(pt.aff, ip)
		}
	}
}

// ---------------------------------------------------------------------------
// Choosing a backend

// Pick chooses the backend address ("10.244.1.5:80") for a new connection from
// clientIP to the Service namespace/name on port, using the programmed table (what
// the node's rules say now, not the API's latest state). ok is false when the
// Service or port is not programmed or has no endpoints (the rules REJECT).
//
// iptables and nftables choose uniformly at random from the
// "kube-proxy/<node>/pick" stream (the 1/(n−i) rule chain is a uniform choice);
// ipvs uses Config.Scheduler per service port (rr round-robin, lc least active
// connections, sh source hashing of clientIP). With sessionAffinity ClientIP a client
// keeps its backend while it is still programmed and was used within
// AffinityTimeout.
func (p *Proxy) Pick(namespace, name string, port int32, clientIP string) (addr string, ok bool) {
	t := p.tables[svcKey{namespace, name}]
	if t == nil {
		return "", false
	}
	pt := t.port(port, "")
	if pt == nil {
		return "", false
	}
	n := pt.n()
	if n == 0 {
		return "", false
	}
	var now sim.Time
	if t.affinity {
		now = p.eng.Now()
		if e, ok := pt.aff[clientIP]; ok && now.Sub(e.last) <= p.cfg.AffinityTimeout {
			if b := pt.find(&e); b != nil {
				e.last = now
				pt.aff[clientIP] = e
				if pt.lc != nil {
					pt.lc.open(b.address())
				}
				return b.address(), true
			}
		}
	}
	var i int
	if p.cfg.Mode == ModeIPVS {
		switch {
		case pt.lc != nil:
			i = pt.lc.pick()
		case p.scheduler() == SchedulerSH:
			i = shBucket(clientIP) % n
		default:
			i = pt.rr % n
			pt.rr = (i + 1) % n
		}
	} else {
		i = p.rng.IntN(n)
	}
	b, g, j := pt.at(i)
	if t.affinity {
		if pt.aff == nil {
			pt.aff = map[string]affEntry{}
		}
		pt.aff[clientIP] = affEntry{g: g, i: j, base: &pt.groups[g][0], ip: b.ip, port: b.port, last: now}
	}
	return b.address(), true
}

// ConnClosed tells the proxy that a connection it routed to addr for the Service
// namespace/name on port has ended (the client traffic model calls it when a
// request finishes or the client gives up). Only the IPVS lc scheduler uses it, to
// count active connections per real server; otherwise it is a no-op. Closing a
// connection whose backend is no longer programmed is ignored. O(log n).
func (p *Proxy) ConnClosed(namespace, name string, port int32, addr string) {
	t := p.tables[svcKey{namespace, name}]
	if t == nil {
		return
	}
	if pt := t.port(port, ""); pt != nil && pt.lc != nil {
		pt.lc.close(addr)
	}
}

// ActiveConns returns the active connections the lc scheduler counts for addr on
// the Service's port (0 in other schedulers), for tests and tracing.
func (p *Proxy) ActiveConns(namespace, name string, port int32, addr string) int {
	t := p.tables[svcKey{namespace, name}]
	if t == nil {
		return 0
	}
	pt := t.port(port, "")
	if pt == nil || pt.lc == nil {
		return 0
	}
	if i, ok := pt.lc.pos[addr]; ok {
		return pt.lc.heap[i].conns
	}
	return 0
}

func (p *Proxy) scheduler() Scheduler {
	if p.cfg.Mode != ModeIPVS || p.cfg.Scheduler == "" {
		return SchedulerRR
	}
	return p.cfg.Scheduler
}

// find returns the backend of an affinity entry if it is still programmed, updating
// the entry's position when the lists were rebuilt.
func (pt *portTable) find(e *affEntry) *backend {
	if e.g < len(pt.groups) && e.i < len(pt.groups[e.g]) && &pt.groups[e.g][0] == e.base {
		return &pt.groups[e.g][e.i]
	}
	for g, list := range pt.groups {
		for i := range list {
			if list[i].ip == e.ip && list[i].port == e.port {
				e.g, e.i, e.base = g, i, &list[0]
				return &list[i]
			}
		}
	}
	return nil
}

// Programmed returns the programmed backends of the Service namespace/name, sorted
// and deduplicated across its ports and slices (nil when none). The caller owns the
// slice.
func (p *Proxy) Programmed(namespace, name string) []string {
	t := p.tables[svcKey{namespace, name}]
	if t == nil {
		return nil
	}
	var out []string
	for _, pt := range t.ports {
		out = pt.appendAddrs(out)
	}
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (pt *portTable) appendAddrs(out []string) []string {
	for _, list := range pt.groups {
		for i := range list {
			out = append(out, list[i].address())
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Trace details

// maxShown caps how many probabilities or backends a trace detail lists.
const maxShown = 8

func (p *Proxy) traceProgram(k svcKey, t *svcTable, pt *portTable) {
	vip := t.clusterIP + ":" + strconv.Itoa(int(pt.port))
	n := pt.n()
	var b strings.Builder
	switch p.cfg.Mode {
	case ModeIPVS:
		fmt.Fprintf(&b, "programmed IPVS virtual server %s for service %s/%s: ", vip, k.ns, k.name)
		switch {
		case n == 0:
			b.WriteString("no real servers, the service port REJECTs (clients get connection refused)")
		case p.scheduler() == SchedulerLC:
			fmt.Fprintf(&b, "lc over %d real server%s (%s); each new connection goes to the one with the fewest active connections (the first in list order on a tie)", n, plural(n), listShort(pt))
		case p.scheduler() == SchedulerSH:
			fmt.Fprintf(&b, "sh over %d real server%s (%s); each new connection goes to the server of bucket hash_32(client IP) of a 256-bucket table (bucket b → server b mod %d), so a client keeps its server while the set is unchanged", n, plural(n), listShort(pt), n)
		default:
			fmt.Fprintf(&b, "rr over %d real server%s (%s); each new connection goes to the next one", n, plural(n), listShort(pt))
		}
	case ModeNFTables:
		fmt.Fprintf(&b, "programmed nftables rules for service %s/%s (%s): ", k.ns, k.name, vip)
		if n == 0 {
			b.WriteString("no endpoints, the service port REJECTs (clients get connection refused)")
		} else {
			fmt.Fprintf(&b, "%d endpoint%s (%s), numgen random mod %d vmap: each new connection picks one uniformly, 1/%d", n, plural(n), listShort(pt), n, n)
		}
	default:
		fmt.Fprintf(&b, "programmed iptables rules for service %s/%s (%s): ", k.ns, k.name, vip)
		if n == 0 {
			b.WriteString("no endpoints, KUBE-SERVICES REJECTs the port (clients get connection refused)")
		} else {
			fmt.Fprintf(&b, "%d endpoint%s, probabilities %s (KUBE-SVC chain: rule i of n matches with statistic --mode random --probability 1/(n−i), the last always, so each new connection picks one of %s uniformly, 1/%d)",
				n, plural(n), iptablesProbabilities(n), listShort(pt), n)
		}
	}
	if n > 0 && pt.fallback {
		b.WriteString("; no endpoint is ready, so serving+terminating ones are used (topology.go CategorizeEndpoints)")
	}
	if n > 0 && t.affinity {
		fmt.Fprintf(&b, "; sessionAffinity ClientIP keeps a client on its endpoint for %d s after its last connection", int64(p.cfg.AffinityTimeout.Seconds()))
	}
	step := Step
	if n == 0 {
		step = 0 // rules that reach no pod are not yet the story's step 6
	}
	p.tel.Trace(sim.Record{Time: p.eng.Now(), Step: step, Component: p.comp, Action: "program",
		Object: api.RefOf(api.KindService, k.ns, k.name), Detail: b.String()})
}

func (p *Proxy) traceRemoved(k svcKey, t *svcTable, pt *portTable, serviceGone bool) {
	why := "the port left the Service"
	if serviceGone {
		why = "the Service is gone"
	}
	vip := t.clusterIP + ":" + strconv.Itoa(int(pt.port))
	var what string
	switch p.cfg.Mode {
	case ModeIPVS:
		what = "removed IPVS virtual server " + vip + " for service " + k.ns + "/" + k.name
	case ModeNFTables:
		what = "removed nftables rules for service " + k.ns + "/" + k.name + " (" + vip + ")"
	default:
		what = "removed iptables rules for service " + k.ns + "/" + k.name + " (" + vip + ")"
	}
	p.tel.Trace(sim.Record{Time: p.eng.Now(), Step: Step, Component: p.comp, Action: "program",
		Object: api.RefOf(api.KindService, k.ns, k.name), Detail: what + ": " + why})
}

// iptablesProbabilities lists the --probability values of a KUBE-SVC chain of n
// endpoints as iptables prints them: 1/(n−i) with 10 decimals for every rule but the
// last, which matches unconditionally (pkg/proxy/iptables/proxier.go probability()).
// Long chains are shortened after maxShown values.
func iptablesProbabilities(n int) string {
	var b strings.Builder
	for i := 0; i < n-1; i++ {
		if i == maxShown && n-1 > maxShown+1 {
			fmt.Fprintf(&b, "… (%d more), ", n-1-i)
			break
		}
		fmt.Fprintf(&b, "%0.10f, ", 1.0/float64(n-i))
	}
	b.WriteString("1")
	return b.String()
}

// listShort lists a port's backends: all of them sorted when there are at most
// maxShown, else the first maxShown in rule order and a count.
func listShort(pt *portTable) string {
	n := pt.n()
	if n <= maxShown {
		l := pt.appendAddrs(make([]string, 0, n))
		slices.Sort(l)
		return strings.Join(l, ", ")
	}
	l := make([]string, 0, maxShown)
	for i := range maxShown {
		b, _, _ := pt.at(i)
		l = append(l, b.address())
	}
	return strings.Join(l, ", ") + fmt.Sprintf(", … %d more", n-maxShown)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
