// Package realproxy is kube-proxy's data path for real-run mode: a TCP proxy in Go
// listening on 127.0.0.1, one listener per Service port, forwarding each accepted
// connection to one endpoint chosen with the policy the modeled rules use.
//
// The modeled kube-proxy (model/proxy) stays the control plane: it watches Services
// and EndpointSlices, batches changes into syncs and, at the end of a sync, calls
// Program (the proxy.Dataplane hook) with the Service's ports and ready endpoints.
// Program runs on the engine goroutine; connections are served on their own
// goroutines. Each listener's table is an immutable snapshot swapped atomically, so
// a connection sees either the old endpoint set or the new one, never a mix, and
// Program never waits for a connection.
//
// Policies follow the simulated proxy (model/proxy Pick): modes iptables and
// nftables choose uniformly at random (here from a math/rand/v2 PCG seeded by
// Options.Seed); ipvs uses its scheduler: rr round-robin (the cursor carries over
// reprogramming, as in the model), lc the backend with the fewest active
// connections (first in rule order on a tie), sh the bucket of the client IP.
// Session affinity (ClientIP) is honoured per listener: a client keeps its backend
// while it stays programmed and was used within AffinityTimeout.
//
// Endpoint addresses in the model are pod IPs; Options.Resolve maps (pod IP, port) to
// the "127.0.0.1:hostport" where the real container listens (the Docker adapter
// publishes container ports on loopback). Endpoints that do not resolve are left out
// and counted in the programming sample.
//
// Unlike iptables, which picks once per connection and never retries, a dial that
// fails is retried on another endpoint (at most Options.MaxAttempts attempts, each
// bounded by DialTimeout), like a user-space proxy. Every attempt's failure is
// recorded. Only TCP service ports are proxied.
package realproxy

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kubesim/kubesim/model/proxy"
)

// Resolver maps an endpoint (pod IP, container port) to the loopback address where
// it is reachable ("127.0.0.1:32768"). It runs on the engine goroutine, inside
// Program. ok false leaves the endpoint out of the table.
type Resolver func(podIP string, port int32) (addr string, ok bool)

// Options configures a Proxy. Zero values take the defaults documented per field.
type Options struct {
	// Resolve maps endpoints to loopback addresses. Required.
	Resolve Resolver
	// Ports fixes the local port of service ports, keyed "namespace/name:port"
	// (e.g. "default/nginx:80"); others listen on an ephemeral port. Use Addr to
	// learn the bound address.
	Ports map[string]int
	// Seed seeds the random policy's source.
	Seed uint64
	// DialTimeout bounds each dial to an endpoint (default 2 s).
	DialTimeout time.Duration
	// MaxAttempts bounds the endpoints tried per connection (default 3).
	MaxAttempts int
	// AffinityTimeout is ClientIP affinity's idle timeout (default
	// proxy.DefaultClientIPAffinityTimeout).
	AffinityTimeout time.Duration
	// MaxSamples caps the connection samples kept (default 200,000); later ones are
	// counted in Stats.DroppedSamples.
	MaxSamples int
	// CloseTimeout bounds how long Close waits for connections to finish after
	// closing them (default 5 s).
	CloseTimeout time.Duration
}

func (o *Options) defaults() error {
	if o.Resolve == nil {
		return errors.New("realproxy: Options.Resolve is required (it maps pod IP and port to a 127.0.0.1 address)")
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 2 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.AffinityTimeout <= 0 {
		o.AffinityTimeout = proxy.DefaultClientIPAffinityTimeout
	}
	if o.MaxSamples <= 0 {
		o.MaxSamples = 200_000
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = 5 * time.Second
	}
	for k, p := range o.Ports {
		if p < 0 || p > 65535 {
			return fmt.Errorf("realproxy: Options.Ports[%q]: port %d out of range", k, p)
		}
	}
	return nil
}

// Policy is how a listener chooses an endpoint.
type Policy uint8

// Policies.
const (
	Random Policy = iota + 1
	RoundRobin
	LeastConn
	SourceHash
)

func (p Policy) String() string {
	switch p {
	case Random:
		return "random"
	case RoundRobin:
		return "round-robin"
	case LeastConn:
		return "least-connection"
	case SourceHash:
		return "source-hash"
	}
	return "unknown"
}

// PolicyOf returns the policy the modeled proxy uses for mode and scheduler.
func PolicyOf(mode proxy.Mode, sched proxy.Scheduler) Policy {
	if mode != proxy.ModeIPVS {
		return Random
	}
	switch sched {
	case proxy.SchedulerLC:
		return LeastConn
	case proxy.SchedulerSH:
		return SourceHash
	}
	return RoundRobin
}

// ProgramSample is one Program call's effect on one service port.
type ProgramSample struct {
	Service string // "namespace/name"
	Port    int32
	// Endpoints is the number of endpoints now served; Unresolved those the resolver
	// did not know.
	Endpoints, Unresolved int
	// ModelDelay is the modeled part, from the watch event to kube-proxy's decision
	// (the end of its sync), in engine time.
	ModelDelay time.Duration
	// Decided is the wall time Program was called (kube-proxy's decision); Latency
	// is the time until the listener served the new set (table swapped, listener
	// open): the real data path's programming latency.
	Decided time.Time
	Latency time.Duration
	Removed bool   // the port stopped being served
	Err     string // a listen failure
}

// ConnSample is one proxied connection.
type ConnSample struct {
	Service  string
	Port     int32
	Start    time.Time
	Backend  string        // the endpoint that took the connection ("" if none)
	Attempts int           // dials made
	Dial     time.Duration // time to the successful dial (or the last failure)
	Duration time.Duration // whole connection, accept to close
	BytesIn  int64         // client -> backend
	BytesOut int64         // backend -> client
	// Err is empty on success; else why the connection was refused or failed
	// ("no endpoints", "dial ...: connection refused", ...). DialErrors lists the
	// failed attempts of a connection that may have succeeded on a later one.
	Err        string
	DialErrors []string
}

// Stats counts what the proxy did.
type Stats struct {
	Accepted, Proxied, Refused, DialFailures uint64
	DroppedSamples                           uint64
	Programs                                 uint64
}

// Proxy is the real data path. Program runs on the engine goroutine; everything else
// is safe from any goroutine.
type Proxy struct {
	opts Options

	mu        sync.Mutex
	listeners map[portKey]*listener
	conns     map[net.Conn]struct{}
	closed    bool
	progs     []ProgramSample
	samples   []ConnSample
	stats     Stats
	listenErr []error

	rngMu sync.Mutex
	rng   *rand.Rand

	wg sync.WaitGroup
}

var _ proxy.Dataplane = (*Proxy)(nil)

type portKey struct {
	ns, name string
	port     int32
}

func (k portKey) service() string { return k.ns + "/" + k.name }

// listener serves one service port.
type listener struct {
	key   portKey
	ln    net.Listener
	addr  string
	table atomic.Pointer[table]
	rr    atomic.Uint64

	mu     sync.Mutex // guards active and aff
	active map[string]int
	aff    map[string]affEntry
}

type affEntry struct {
	addr string
	last time.Time
}

// table is an immutable endpoint set.
type table struct {
	backends []string // loopback addresses, rule order
	policy   Policy
	affinity bool
}

// New returns a proxy with no listeners; Program opens them.
func New(opts Options) (*Proxy, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	return &Proxy{
		opts:      opts,
		listeners: map[portKey]*listener{},
		conns:     map[net.Conn]struct{}{},
		rng:       rand.New(rand.NewPCG(opts.Seed, 0x6b756265)),
	}, nil
}

// Program implements proxy.Dataplane: it makes the Service's ports serve the given
// endpoints, opening listeners for new ports and closing those of removed ports.
func (p *Proxy) Program(r proxy.ServiceRules) {
	decided := time.Now()
	modelDelay := r.At.Sub(r.ChangedAt)
	policy := PolicyOf(r.Mode, r.Scheduler)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.stats.Programs++
	keep := map[portKey]bool{}
	for _, pr := range r.Ports {
		k := portKey{r.Namespace, r.Name, pr.Port}
		if pr.Protocol != "" && pr.Protocol != "TCP" {
			// Only TCP is proxied (HTTP traffic to nginx); a UDP or SCTP port gets no
			// listener, said in its sample.
			p.progs = append(p.progs, ProgramSample{Service: k.service(), Port: pr.Port, ModelDelay: modelDelay, Decided: decided,
				Err: fmt.Sprintf("protocol %s is not proxied (TCP only)", pr.Protocol)})
			continue
		}
		keep[k] = true
		t := &table{policy: policy, affinity: r.ClientIPAffinity}
		unresolved := 0
		for _, ep := range pr.Endpoints {
			if a, ok := p.opts.Resolve(ep.IP, ep.Port); ok {
				t.backends = append(t.backends, a)
			} else {
				unresolved++
			}
		}
		s := ProgramSample{Service: k.service(), Port: pr.Port, Endpoints: len(t.backends), Unresolved: unresolved, ModelDelay: modelDelay, Decided: decided}
		l := p.listeners[k]
		if l == nil {
			var err error
			l, err = p.listen(k)
			if err != nil {
				s.Err = err.Error()
				p.listenErr = append(p.listenErr, err)
				s.Latency = time.Since(decided)
				p.progs = append(p.progs, s)
				continue
			}
		}
		l.table.Store(t)
		s.Latency = time.Since(decided)
		p.progs = append(p.progs, s)
	}
	// Ports of this Service no longer programmed stop listening (in key order, for
	// deterministic samples).
	var gone []portKey
	for k := range p.listeners {
		if k.ns == r.Namespace && k.name == r.Name && !keep[k] {
			gone = append(gone, k)
		}
	}
	slices.SortFunc(gone, func(a, b portKey) int { return int(a.port) - int(b.port) })
	for _, k := range gone {
		l := p.listeners[k]
		delete(p.listeners, k)
		_ = l.ln.Close()
		p.progs = append(p.progs, ProgramSample{Service: k.service(), Port: k.port, ModelDelay: modelDelay, Decided: decided, Latency: time.Since(decided), Removed: true})
	}
}

// listen opens the listener of k; p.mu is held.
func (p *Proxy) listen(k portKey) (*listener, error) {
	port := p.opts.Ports[k.service()+":"+strconv.Itoa(int(k.port))]
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("realproxy: service %s port %d: listen on 127.0.0.1:%d: %w", k.service(), k.port, port, err)
	}
	l := &listener{key: k, ln: ln, addr: ln.Addr().String(), active: map[string]int{}}
	l.table.Store(&table{})
	p.listeners[k] = l
	p.wg.Add(1)
	go p.accept(l)
	return l, nil
}

// Addr returns the local address serving the Service's port, once programmed.
func (p *Proxy) Addr(namespace, name string, port int32) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.listeners[portKey{namespace, name, port}]
	if l == nil {
		return "", false
	}
	return l.addr, true
}

// Backends returns the endpoints the Service's port serves now (nil when none).
func (p *Proxy) Backends(namespace, name string, port int32) []string {
	p.mu.Lock()
	l := p.listeners[portKey{namespace, name, port}]
	p.mu.Unlock()
	if l == nil {
		return nil
	}
	return slices.Clone(l.table.Load().backends)
}

// ListenErrors returns the listen failures so far (a fixed port taken, ...).
func (p *Proxy) ListenErrors() []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.listenErr)
}

// ProgramSamples returns a copy of the programming samples, in call order.
func (p *Proxy) ProgramSamples() []ProgramSample {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.progs)
}

// ConnSamples returns a copy of the connection samples, in completion order.
func (p *Proxy) ConnSamples() []ConnSample {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.samples)
}

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Close stops every listener, closes the connections in flight and waits for their
// goroutines, at most Options.CloseTimeout. It returns an error when some did not
// finish in time. Calling it twice is harmless.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for k, l := range p.listeners {
		_ = l.ln.Close()
		delete(p.listeners, k)
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(p.opts.CloseTimeout):
		return fmt.Errorf("realproxy: connections still running %v after Close", p.opts.CloseTimeout)
	}
}

func (p *Proxy) accept(l *listener) {
	defer p.wg.Done()
	var backoff time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient failure (too many open files, ...): wait and accept again,
			// as net/http's server does, 5 ms doubling up to 1 s.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !p.track(c) {
			_ = c.Close()
			return
		}
		p.wg.Add(1)
		go p.serve(l, c)
	}
}

// track registers c for Close; false when the proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) serve(l *listener, client net.Conn) {
	defer p.wg.Done()
	defer p.untrack(client)
	defer client.Close()
	s := ConnSample{Service: l.key.service(), Port: l.key.port, Start: time.Now()}
	t := l.table.Load()
	clientIP, _, _ := net.SplitHostPort(client.RemoteAddr().String())
	var up net.Conn
	if len(t.backends) == 0 {
		s.Err = "no endpoints"
	} else {
		tried := make([]bool, len(t.backends))
		attempts := min(p.opts.MaxAttempts, len(t.backends))
		prev := -1
		for a := 0; a < attempts; a++ {
			i := p.pick(l, t, tried, prev, clientIP)
			tried[i], prev = true, i
			addr := t.backends[i]
			s.Attempts++
			d0 := time.Now()
			c, err := net.DialTimeout("tcp", addr, p.opts.DialTimeout)
			s.Dial = time.Since(d0)
			if err != nil {
				s.DialErrors = append(s.DialErrors, err.Error())
				continue
			}
			if !p.track(c) {
				_ = c.Close()
				s.Err = "proxy closed"
				break
			}
			up, s.Backend = c, addr
			break
		}
		if up == nil && s.Err == "" {
			s.Err = fmt.Sprintf("all %d dial attempts failed: %s", s.Attempts, s.DialErrors[len(s.DialErrors)-1])
		}
	}
	if up == nil {
		// Refuse as REJECT rules do: a reset, not an orderly close.
		if tc, ok := client.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	} else {
		l.open(s.Backend, t.affinity, clientIP)
		s.BytesIn, s.BytesOut = pipe(client, up)
		l.close(s.Backend)
		p.untrack(up)
		_ = up.Close()
	}
	s.Duration = time.Since(s.Start)
	p.record(s)
}

// pipe copies both ways until both directions end, half-closing each side when its
// source ends.
func pipe(client, up net.Conn) (in, out int64) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		in, _ = io.Copy(up, client)
		closeWrite(up)
	}()
	out, _ = io.Copy(client, up)
	closeWrite(client)
	wg.Wait()
	return in, out
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
		return
	}
	_ = c.Close()
}

func (p *Proxy) record(s ConnSample) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Accepted++
	p.stats.DialFailures += uint64(len(s.DialErrors))
	if s.Err != "" {
		p.stats.Refused++
	} else {
		p.stats.Proxied++
	}
	if len(p.samples) < p.opts.MaxSamples {
		p.samples = append(p.samples, s)
	} else {
		p.stats.DroppedSamples++
	}
}

// pick chooses an untried backend of t for a connection from clientIP.
// prev is the endpoint the previous attempt failed on (-1 on the first attempt).
func (p *Proxy) pick(l *listener, t *table, tried []bool, prev int, clientIP string) int {
	n := len(t.backends)
	untried := func(i int) bool { return !tried[i] }
	if t.affinity {
		if i, ok := l.affinity(t, clientIP, p.opts.AffinityTimeout); ok && untried(i) {
			return i
		}
	}
	switch t.policy {
	case RoundRobin:
		// The first attempt takes the next turn; a retry moves on from the endpoint
		// that failed without taking other connections' turns.
		if prev < 0 {
			return int((l.rr.Add(1) - 1) % uint64(n))
		}
		for k := 1; k <= n; k++ {
			if i := (prev + k) % n; untried(i) {
				return i
			}
		}
	case LeastConn:
		l.mu.Lock()
		best := -1
		for i, a := range t.backends {
			if untried(i) && (best < 0 || l.active[a] < l.active[t.backends[best]]) {
				best = i
			}
		}
		l.mu.Unlock()
		if best >= 0 {
			return best
		}
	case SourceHash:
		start := proxy.SourceHashBucket(clientIP) % n
		for k := range n {
			if i := (start + k) % n; untried(i) {
				return i
			}
		}
	default:
		var left []int
		for i := range n {
			if untried(i) {
				left = append(left, i)
			}
		}
		if len(left) > 0 {
			p.rngMu.Lock()
			j := p.rng.IntN(len(left))
			p.rngMu.Unlock()
			return left[j]
		}
	}
	for i := range n {
		if untried(i) {
			return i
		}
	}
	return 0
}

// affinity returns the backend index a client is pinned to, if still programmed and
// fresh.
func (l *listener) affinity(t *table, clientIP string, timeout time.Duration) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.aff[clientIP]
	if !ok || time.Since(e.last) > timeout {
		return 0, false
	}
	i := slices.Index(t.backends, e.addr)
	return i, i >= 0
}

func (l *listener) open(addr string, affinity bool, clientIP string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.active[addr]++
	if affinity {
		if l.aff == nil {
			l.aff = map[string]affEntry{}
		}
		l.aff[clientIP] = affEntry{addr: addr, last: time.Now()}
	}
}

func (l *listener) close(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.active[addr]--; l.active[addr] <= 0 {
		delete(l.active, addr)
	}
}

// Active returns the connections open to backend addr on the Service's port.
func (p *Proxy) Active(namespace, name string, port int32, addr string) int {
	p.mu.Lock()
	l := p.listeners[portKey{namespace, name, port}]
	p.mu.Unlock()
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.active[addr]
}
