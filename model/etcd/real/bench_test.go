package realetcd

import (
	"fmt"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/etcd"
)

// BenchmarkCommit measures one commit through the real store, end to end: JSON
// encoding, the etcd transaction (with its WAL fsync), the posted completion and the
// mirror's apply. Reported: ns/op, and the mean transaction round trip (txn-ms).
func BenchmarkCommit(b *testing.B) {
	d := newDriver()
	s, err := Start(d.eng, Options{Post: d.post, Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		done := false
		s.Commit(etcd.Op{Type: etcd.Put, Key: fmt.Sprintf("/registry/pods/default/p%d", i%100), Value: pod("p")}, func(etcd.Result) { done = true })
		for !done {
			(<-d.posts)()
		}
	}
	b.StopTimer()
	var total time.Duration
	smp := s.Samples()
	for _, x := range smp {
		total += x.Latency
	}
	if len(smp) > 0 {
		b.ReportMetric(float64(total.Microseconds())/1000/float64(len(smp)), "txn-ms")
	}
}
