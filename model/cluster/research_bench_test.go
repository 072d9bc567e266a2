package cluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/model/workload"
	"github.com/kubesim/kubesim/sim"
)

// BenchmarkAlibabaCluster replays examples/alibaba-gpu.yaml (the whole Alibaba
// GPU v2023 trace, 1,523 nodes and 8,152 pods, time compressed 1,000×) with the
// whole cluster, the observer's research gauges included (fragmentation and
// stranded resources sampled every 6 virtual seconds). The trace is read from
// $KUBESIM_TRACE_DIR, else ../../../shared/traces; skipped when absent. One op is
// one replay.
func BenchmarkAlibabaCluster(b *testing.B) {
	dir := os.Getenv("KUBESIM_TRACE_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "traces")
	}
	nf, err := os.Open(filepath.Join(dir, "alibaba-gpu-v2023-openb_node_list_all_node.csv"))
	if err != nil {
		b.Skipf("SKIPPED: the Alibaba trace is not present (set KUBESIM_TRACE_DIR): %v", err)
	}
	nodes, err := workload.LoadAlibabaNodes(nf)
	nf.Close()
	if err != nil {
		b.Fatal(err)
	}
	pf, err := os.Open(filepath.Join(dir, "alibaba-gpu-v2023-openb_pod_list_default.csv"))
	if err != nil {
		b.Skipf("SKIPPED: the Alibaba trace is not present (set KUBESIM_TRACE_DIR): %v", err)
	}
	pods, err := workload.LoadAlibabaPods(pf)
	pf.Close()
	if err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "alibaba-gpu.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	sc, err := scenario.Parse("alibaba-gpu.yaml", data)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := Build(sc, Options{Seed: 1, TraceNodes: nodes, TracePods: pods}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Run(sim.Time(sc.Duration.D())); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(c.Research()["pods_bound_total"], "bound")
	}
}
