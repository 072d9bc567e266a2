package traffic

import (
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

// BenchmarkRequests measures the cost of one simulated request end to end
// (arrival, pick, two network hops, listener, response).
func BenchmarkRequests(b *testing.B) {
	s := newSetup(1)
	cfg := baseConfig()
	cfg.NetworkLatency = dist.Const(time.Millisecond)
	cfg.Rate = 1000
	cfg.Duration = time.Duration(b.N) * time.Millisecond
	g, err := New(s.eng, cfg, s.pickers, s.fabric, dist.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	g.Start()
	s.eng.RunUntil(sim.Time(cfg.Duration + cfg.Timeout + time.Second))
	b.StopTimer()
	b.ReportMetric(float64(g.Stats().Sent)/float64(b.N), "req/op")
}
