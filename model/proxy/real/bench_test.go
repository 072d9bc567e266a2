package realproxy

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/proxy"
)

// BenchmarkRequestThroughProxy measures one HTTP GET on a new connection through
// the real proxy to an httptest backend (accept, pick, dial, copy both ways).
// Compare with BenchmarkRequestDirect for the proxy's own cost.
func BenchmarkRequestThroughProxy(b *testing.B) {
	_, res := backends(b, 2)
	p, err := New(Options{Resolve: res})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	p.Program(rules(proxy.ModeIPVS, proxy.SchedulerRR, eps(0, 1)))
	addr, _ := p.Addr("default", "nginx", 80)
	benchGet(b, "http://"+addr+"/")
}

// BenchmarkRequestDirect is the same request straight to the backend.
func BenchmarkRequestDirect(b *testing.B) {
	_, res := backends(b, 1)
	addr, _ := res("10.0.0.1", 80)
	benchGet(b, "http://"+addr+"/")
}

func benchGet(b *testing.B, url string) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}, Timeout: 5 * time.Second}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
