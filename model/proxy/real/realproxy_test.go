package realproxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/proxy"
)

// backends starts n HTTP servers on 127.0.0.1 answering their index, and returns
// them with a resolver mapping pod IP 10.0.0.<i+1>:80 to server i.
func backends(t testing.TB, n int) ([]*httptest.Server, Resolver) {
	t.Helper()
	var srvs []*httptest.Server
	addrs := map[string]string{}
	for i := range n {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintf(w, "b%d", i) }))
		t.Cleanup(s.Close)
		srvs = append(srvs, s)
		addrs[fmt.Sprintf("10.0.0.%d:80", i+1)] = s.Listener.Addr().String()
	}
	var mu sync.Mutex
	return srvs, func(ip string, port int32) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		a, ok := addrs[fmt.Sprintf("%s:%d", ip, port)]
		return a, ok
	}
}

func eps(idx ...int) []proxy.Endpoint {
	var out []proxy.Endpoint
	for _, i := range idx {
		out = append(out, proxy.Endpoint{IP: fmt.Sprintf("10.0.0.%d", i+1), Port: 80})
	}
	return out
}

func rules(mode proxy.Mode, sched proxy.Scheduler, e []proxy.Endpoint) proxy.ServiceRules {
	return proxy.ServiceRules{Namespace: "default", Name: "nginx", ClusterIP: "10.96.0.10", Mode: mode, Scheduler: sched,
		Ports: []proxy.PortRules{{Name: "http", Port: 80, Endpoints: e}}}
}

func newProxy(t *testing.T, opts Options) *Proxy {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}, Timeout: 5 * time.Second}

// get fetches the service through the proxy and returns the body ("b<i>").
func get(t *testing.T, p *Proxy) (string, error) {
	t.Helper()
	addr, ok := p.Addr("default", "nginx", 80)
	if !ok {
		t.Fatal("service port not listening")
	}
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// waitConns waits until the proxy has recorded n connections (it records each one
// after both sides closed, just after the client saw the end).
func waitConns(t *testing.T, p *Proxy, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(p.ConnSamples()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d connections recorded", len(p.ConnSamples()), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestRoundRobin(t *testing.T) {
	_, res := backends(t, 3)
	p := newProxy(t, Options{Resolve: res})
	p.Program(rules(proxy.ModeIPVS, proxy.SchedulerRR, eps(0, 1, 2)))
	var got []string
	for range 7 {
		b, err := get(t, p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b)
	}
	if want := "b0 b1 b2 b0 b1 b2 b0"; strings.Join(got, " ") != want {
		t.Fatalf("round-robin order %v, want %s", got, want)
	}
	// The cursor carries over reprogramming, as the model's rr does.
	p.Program(rules(proxy.ModeIPVS, proxy.SchedulerRR, eps(0, 1)))
	// The cursor counts picks: 7 picks so far, 7 mod 2 = 1.
	if b, _ := get(t, p); b != "b1" {
		t.Fatalf("after reprogramming got %s, want b1", b)
	}
}

func TestRandomIsSeededAndSpread(t *testing.T) {
	seq := func(seed uint64) []string {
		_, res := backends(t, 3)
		p := newProxy(t, Options{Resolve: res, Seed: seed})
		p.Program(rules(proxy.ModeIPTables, "", eps(0, 1, 2)))
		var out []string
		for range 90 {
			b, err := get(t, p)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	a, b, c := seq(7), seq(7), seq(8)
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Fatal("the same seed gave different choices")
	}
	if strings.Join(a, ",") == strings.Join(c, ",") {
		t.Fatal("different seeds gave the same 90 choices")
	}
	count := map[string]int{}
	for _, x := range a {
		count[x]++
	}
	for _, k := range []string{"b0", "b1", "b2"} {
		if count[k] < 10 { // expected 30; P(<10) is negligible
			t.Fatalf("uniform choice skewed: %v", count)
		}
	}
}

func TestLeastConnection(t *testing.T) {
	_, res := backends(t, 2)
	p := newProxy(t, Options{Resolve: res})
	p.Program(rules(proxy.ModeIPVS, proxy.SchedulerLC, eps(0, 1)))
	addr, _ := p.Addr("default", "nginx", 80)
	// An idle open connection pins one active connection on b0 (first on the tie).
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b0, _ := res("10.0.0.1", 80)
	deadline := time.Now().Add(5 * time.Second)
	for p.Active("default", "nginx", 80, b0) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the held connection never became active on b0")
		}
		time.Sleep(5 * time.Millisecond)
	}
	b1, _ := res("10.0.0.2", 80)
	for range 3 {
		if b, err := get(t, p); err != nil || b != "b1" {
			t.Fatalf("lc sent a new connection to %q (%v), want b1 (fewest active)", b, err)
		}
		// The proxy ends its side of the connection just after the client: wait for
		// it, else b1 still counts it and ties with b0.
		for p.Active("default", "nginx", 80, b1) != 0 {
			if time.Now().After(deadline) {
				t.Fatal("b1's connection never ended")
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
}

func TestReprogramKeepsServingNewConnections(t *testing.T) {
	_, res := backends(t, 3)
	p := newProxy(t, Options{Resolve: res})
	p.Program(rules(proxy.ModeIPVS, proxy.SchedulerRR, eps(0, 1)))
	var stop atomic.Bool
	var wg sync.WaitGroup
	var fails atomic.Int64
	var seen sync.Map
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000 && !stop.Load(); i++ {
				b, err := get(t, p)
				if err != nil {
					fails.Add(1)
					continue
				}
				seen.Store(b, true)
			}
		}()
	}
	// Reprogram repeatedly while clients connect: every set has a live endpoint, so
	// no new connection may fail.
	sets := [][]int{{1, 2}, {2}, {0, 2}, {0, 1, 2}, {1}}
	for i := range 50 {
		p.Program(rules(proxy.ModeIPVS, proxy.SchedulerRR, eps(sets[i%len(sets)]...)))
		time.Sleep(2 * time.Millisecond)
	}
	p.Program(rules(proxy.ModeIPVS, proxy.SchedulerRR, eps(2)))
	stop.Store(true)
	wg.Wait()
	if n := fails.Load(); n != 0 {
		t.Fatalf("%d connections failed during reprogramming", n)
	}
	// After the last program only b2 serves.
	for range 5 {
		if b, err := get(t, p); err != nil || b != "b2" {
			t.Fatalf("after reprogramming to {b2}: %q, %v", b, err)
		}
	}
	progs := p.ProgramSamples()
	if len(progs) != 52 || progs[len(progs)-1].Endpoints != 1 || progs[len(progs)-1].Latency <= 0 {
		t.Fatalf("programming samples: %d, last %+v", len(progs), progs[len(progs)-1])
	}
	if st := p.Stats(); st.Refused != 0 || st.Proxied == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDialFailureRetriesAnotherEndpoint(t *testing.T) {
	_, res := backends(t, 1)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close() // nobody listens there any more: dials are refused
	resolve := func(ip string, port int32) (string, bool) {
		if ip == "10.0.0.9" {
			return deadAddr, true
		}
		return res(ip, port)
	}
	p := newProxy(t, Options{Resolve: resolve})
	r := rules(proxy.ModeIPVS, proxy.SchedulerRR, append([]proxy.Endpoint{{IP: "10.0.0.9", Port: 80}}, eps(0)...))
	p.Program(r)
	for range 4 {
		if b, err := get(t, p); err != nil || b != "b0" {
			t.Fatalf("got %q, %v; want b0 after retrying", b, err)
		}
	}
	waitConns(t, p, 4)
	retried := 0
	for _, s := range p.ConnSamples() {
		if s.Err != "" || s.Backend == deadAddr {
			t.Fatalf("sample %+v", s)
		}
		if len(s.DialErrors) == 1 && s.Attempts == 2 {
			retried++
		}
	}
	if retried != 2 { // rr starts on the dead endpoint every other connection
		t.Fatalf("%d connections retried, want 2: %+v", retried, p.ConnSamples())
	}
	// Only dead endpoints: the connection is refused after MaxAttempts dials.
	p.Program(rules(proxy.ModeIPVS, proxy.SchedulerRR, []proxy.Endpoint{{IP: "10.0.0.9", Port: 80}}))
	if _, err := get(t, p); err == nil {
		t.Fatal("a request through only dead endpoints succeeded")
	}
	waitConns(t, p, 5)
	last := p.ConnSamples()
	if s := last[len(last)-1]; !strings.Contains(s.Err, "dial attempts failed") {
		t.Fatalf("last sample %+v", s)
	}
}

func TestNoEndpointsRefusesAndUnresolvedCounted(t *testing.T) {
	_, res := backends(t, 1)
	p := newProxy(t, Options{Resolve: res})
	p.Program(rules(proxy.ModeIPTables, "", []proxy.Endpoint{{IP: "10.9.9.9", Port: 80}}))
	if _, err := get(t, p); err == nil {
		t.Fatal("request succeeded with no endpoints")
	}
	s := p.ProgramSamples()
	if len(s) != 1 || s[0].Endpoints != 0 || s[0].Unresolved != 1 {
		t.Fatalf("program sample %+v", s)
	}
	waitConns(t, p, 1)
	c := p.ConnSamples()
	if len(c) != 1 || c[0].Err != "no endpoints" {
		t.Fatalf("conn samples %+v", c)
	}
}

func TestServiceRemovalClosesListener(t *testing.T) {
	_, res := backends(t, 1)
	p := newProxy(t, Options{Resolve: res})
	p.Program(rules(proxy.ModeIPTables, "", eps(0)))
	addr, _ := p.Addr("default", "nginx", 80)
	p.Program(proxy.ServiceRules{Namespace: "default", Name: "nginx"})
	if _, ok := p.Addr("default", "nginx", 80); ok {
		t.Fatal("port still listed after the Service lost its rules")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("listener still accepting after removal")
	}
	if s := p.ProgramSamples(); !s[len(s)-1].Removed {
		t.Fatalf("no removal sample: %+v", s)
	}
}

func TestFixedPortAndTakenPort(t *testing.T) {
	_, res := backends(t, 1)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	p := newProxy(t, Options{Resolve: res, Ports: map[string]int{"default/nginx:80": port}})
	p.Program(rules(proxy.ModeIPTables, "", eps(0)))
	errs := p.ListenErrors()
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), fmt.Sprintf("127.0.0.1:%d", port)) {
		t.Fatalf("listen errors %v", errs)
	}
	busy.Close()
	// The next programming retries the listen on the freed port.
	p.Program(rules(proxy.ModeIPTables, "", eps(0)))
	if addr, ok := p.Addr("default", "nginx", 80); !ok || addr != fmt.Sprintf("127.0.0.1:%d", port) {
		t.Fatalf("addr %q %v, want the fixed port %d", addr, ok, port)
	}
	if b, err := get(t, p); err != nil || b != "b0" {
		t.Fatalf("%q %v", b, err)
	}
}

func TestCloseStopsListenersAndConnections(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	p, err := New(Options{Resolve: func(string, int32) (string, bool) { return hang.Listener.Addr().String(), true }, CloseTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p.Program(rules(proxy.ModeIPTables, "", eps(0)))
	addr, _ := p.Addr("default", "nginx", 80)
	errc := make(chan error, 1)
	go func() {
		resp, err := client.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for p.Active("default", "nginx", 80, hang.Listener.Addr().String()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the hanging request never reached the backend")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil {
		t.Fatal("the request in flight succeeded although Close closed it")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("listener still accepting after Close")
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	p.Program(rules(proxy.ModeIPTables, "", eps(0))) // ignored after Close
	if _, ok := p.Addr("default", "nginx", 80); ok {
		t.Fatal("Program after Close opened a listener")
	}
}

func TestNewNeedsResolver(t *testing.T) {
	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "Resolve") {
		t.Fatalf("err = %v", err)
	}
}

func TestClientIPAffinityAndSourceHashKeepABackend(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sched    proxy.Scheduler
		affinity bool
	}{
		{"rr with ClientIP affinity", proxy.SchedulerRR, true},
		{"sh", proxy.SchedulerSH, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, res := backends(t, 3)
			p := newProxy(t, Options{Resolve: res})
			r := rules(proxy.ModeIPVS, tc.sched, eps(0, 1, 2))
			r.ClientIPAffinity = tc.affinity
			p.Program(r)
			first, err := get(t, p)
			if err != nil {
				t.Fatal(err)
			}
			for range 5 {
				if b, err := get(t, p); err != nil || b != first {
					t.Fatalf("client moved from %s to %s (%v)", first, b, err)
				}
			}
			// Its backend leaves: the client moves to one still programmed.
			var left []int
			for i := range 3 {
				if fmt.Sprintf("b%d", i) != first {
					left = append(left, i)
				}
			}
			r.Ports[0].Endpoints = eps(left...)
			p.Program(r)
			if b, err := get(t, p); err != nil || b == first {
				t.Fatalf("after %s left: %q, %v", first, b, err)
			}
		})
	}
}

func TestOnlyTCPPortsListen(t *testing.T) {
	_, res := backends(t, 1)
	p := newProxy(t, Options{Resolve: res})
	r := rules(proxy.ModeIPTables, "", eps(0))
	r.Ports = append(r.Ports, proxy.PortRules{Name: "dns", Protocol: "UDP", Port: 53, Endpoints: eps(0)})
	p.Program(r)
	if _, ok := p.Addr("default", "nginx", 53); ok {
		t.Fatal("a UDP port got a TCP listener")
	}
	if _, ok := p.Addr("default", "nginx", 80); !ok {
		t.Fatal("the TCP port is not served")
	}
	s := p.ProgramSamples()
	if len(s) != 2 || !strings.Contains(s[1].Err, "UDP") {
		t.Fatalf("samples %+v", s)
	}
}
