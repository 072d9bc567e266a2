package proxy

import (
	"fmt"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
)

func TestPickDoesNotAllocate(t *testing.T) {
	for _, mode := range []Mode{ModeIPTables, ModeIPVS, ModeNFTables} {
		t.Run(string(mode), func(t *testing.T) {
			_, p, _ := setup(t, 20, testConfig(mode), "", 10)
			p.Programmed("default", "web") // builds every "ip:port" string once
			if n := testing.AllocsPerRun(1000, func() { p.Pick("default", "web", 80, "10.0.0.1") }); n != 0 {
				t.Fatalf("Pick allocates %.1f times per call", n)
			}
		})
	}
}

func BenchmarkPick(b *testing.B) {
	cases := []struct {
		name     string
		mode     Mode
		affinity api.ServiceAffinity
	}{
		{"iptables", ModeIPTables, ""},
		{"ipvs", ModeIPVS, ""},
		{"iptables-affinity", ModeIPTables, api.AffinityClientIP},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			t := &testing.T{}
			_, p, _ := setup(t, 21, testConfig(tc.mode), tc.affinity, 50)
			ips := make([]string, 1024)
			for i := range ips {
				ips[i] = fmt.Sprintf("100.64.%d.%d", i/256, i%256)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p.Pick("default", "web", 80, ips[i&1023])
			}
		})
	}
}

// BenchmarkProxiesFollowRollout measures 500 kube-proxies following a Service whose
// 10 slices of 100 endpoints each change once: per iteration, every proxy receives
// ten slice events and programs the Service once or twice.
func BenchmarkProxiesFollowRollout(b *testing.B) {
	t := &testing.T{}
	e := newEnv(t, 22)
	const proxies, slices, perSlice = 500, 10, 100
	ps := make([]*Proxy, proxies)
	shared := NewShared()
	for i := range ps {
		cfg := testConfig(ModeIPTables)
		p, err := New(e.eng, e.srv.Client(fmt.Sprintf("kube-proxy/node-%d", i), cfg.QPS, cfg.Burst), fmt.Sprintf("node-%d", i), cfg, e.reg, e.tel)
		if err != nil {
			b.Fatal(err)
		}
		p.SetShared(shared)
		p.Start()
		ps[i] = p
	}
	e.mustCreate(service("web", ""))
	mk := func(gen int) []*api.EndpointSlice {
		out := make([]*api.EndpointSlice, slices)
		for s := range out {
			var eps []api.Endpoint
			for j := range perSlice {
				eps = append(eps, ready(fmt.Sprintf("10.%d.%d.%d", 100+gen%100, s, j)))
			}
			out[s] = slice("web", fmt.Sprintf("web-%d", s), 80, eps...)
		}
		return out
	}
	for _, s := range mk(0) {
		e.mustCreate(s)
	}
	e.run(3 * time.Second)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, s := range mk(i + 1) {
			e.user.Update(s, nil)
		}
		e.run(3 * time.Second)
	}
	b.StopTimer()
	if got := len(ps[proxies-1].Programmed("default", "web")); got != slices*perSlice {
		b.Fatalf("programmed %d backends, want %d", got, slices*perSlice)
	}
}
