package scheduler

import (
	"fmt"
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// BenchmarkScheduleCycle measures the wall time of one scheduling cycle's algorithm
// (PreFilter, Filter over the sampled nodes, PreScore, Score, NormalizeScore,
// selection) on a 5,000-node cluster in 3 zones with 10 pods and 20 images per node:
// the adaptive rule examines 500 nodes per cycle (reference §2.3).
func BenchmarkScheduleCycle(b *testing.B) {
	s := newTestScheduler(b, 1, nil)
	const nodes = 5000
	for i := 0; i < nodes; i++ {
		n := zoned(fmt.Sprintf("node-%05d", i), fmt.Sprintf("zone-%d", i%3))
		n.Status.Allocatable.MilliCPU = 16000
		n.Status.Allocatable.Memory = 64 * gi
		for j := 0; j < 20; j++ {
			n.Status.Images = append(n.Status.Images, api.ContainerImage{Names: []string{fmt.Sprintf("registry/app-%d:v1", (i+j)%50)}, SizeBytes: 200 << 20})
		}
		if i%7 == 0 {
			n.Status.Images = append(n.Status.Images, api.ContainerImage{Names: []string{"nginx:1.25"}, SizeBytes: 180 << 20})
		}
		s.cache.addNode(n)
		for j := 0; j < 10; j++ {
			p := testPod(fmt.Sprintf("p-%d-%d", i, j), 250+int64(j*50), 512<<20)
			p.UID = api.UID(p.Name)
			p.Spec.NodeName = api.NodeName(n.Name)
			s.cache.addPod(framework.NewPodInfo(p))
		}
	}
	pod := framework.NewPodInfo(testPod("nginx", 100, 128<<20))
	var r cycleResult
	s.schedulePod(pod, &r, nil)
	if r.examined != 500 || r.selected == "" {
		b.Fatalf("warm-up cycle examined %d nodes, selected %q", r.examined, r.selected)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r = cycleResult{}
		s.schedulePod(pod, &r, nil)
	}
	b.ReportMetric(float64(r.examined), "nodes/cycle")
}
