package realtraffic

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/proxy"
	realproxy "github.com/kubesim/kubesim/model/proxy/real"
)

// TestLoadThroughRealProxySurvivesAKilledBackend sends open-loop traffic through the
// real proxy while one backend dies mid-run (its server closes) and kube-proxy later
// removes it: the proxy's dial retry sends the connections meant for the dead
// backend to a live one, so only requests in flight at the kill can fail, and
// after the reprogramming no connection even tries the dead one.
func TestLoadThroughRealProxySurvivesAKilledBackend(t *testing.T) {
	var srvs []*httptest.Server
	addrs := map[string]string{}
	for i := range 2 {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintf(w, "b%d", i) }))
		defer s.Close()
		srvs = append(srvs, s)
		addrs[fmt.Sprintf("10.0.0.%d", i+1)] = s.Listener.Addr().String()
	}
	px, err := realproxy.New(realproxy.Options{Resolve: func(ip string, _ int32) (string, bool) { a, ok := addrs[ip]; return a, ok }})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	program := func(ips ...string) {
		r := proxy.ServiceRules{Namespace: "default", Name: "nginx", Mode: proxy.ModeIPVS, Scheduler: proxy.SchedulerRR,
			Ports: []proxy.PortRules{{Name: "http", Port: 80}}}
		for _, ip := range ips {
			r.Ports[0].Endpoints = append(r.Ports[0].Endpoints, proxy.Endpoint{IP: ip, Port: 80})
		}
		px.Program(r) // in a run this is the engine goroutine; here the test's
	}
	program("10.0.0.1", "10.0.0.2")
	addr, _ := px.Addr("default", "nginx", 80)
	type out struct {
		r   *Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		r, err := Run(context.Background(), Config{Target: addr, Rate: 200, Duration: 1500 * time.Millisecond, Count: 1000, Seed: 9, Timeout: 20 * time.Second})
		done <- out{r, err}
	}()
	time.Sleep(500 * time.Millisecond)
	killed := srvs[1].Listener.Addr().String()
	srvs[1].Close() // the container dies
	killedAt := time.Now()
	time.Sleep(500 * time.Millisecond)
	program("10.0.0.1") // kube-proxy removes it
	removedAt := time.Now()
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	// Requests in flight when the backend died may fail (a real kill resets its
	// connections); every request that started after the kill must succeed.
	for _, s := range o.r.Samples {
		if s.Err != "" && s.Start.After(killedAt) {
			t.Fatalf("request started %v after the kill failed: %+v", s.Start.Sub(killedAt), s)
		}
	}
	if o.r.Sent < 150 || o.r.OK < o.r.Sent/2 {
		t.Fatalf("sent %d, ok %d, errors %v", o.r.Sent, o.r.OK, o.r.ErrorsByReason)
	}
	retried, after := 0, 0
	for _, s := range px.ConnSamples() {
		if len(s.DialErrors) > 0 {
			retried++
			if s.Start.After(removedAt) {
				after++
			}
		}
		if s.Err != "" || (s.Backend == killed && s.Start.After(killedAt)) {
			t.Fatalf("connection %+v", s)
		}
	}
	if retried == 0 || after != 0 {
		t.Fatalf("%d connections retried after the kill (want some), %d after the removal (want none)", retried, after)
	}
}
