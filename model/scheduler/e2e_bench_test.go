package scheduler

import (
	"fmt"
	"testing"
	"time"

	"github.com/kubesim/kubesim/sim"
)

// BenchmarkSchedulePodsEndToEnd measures wall time per pod for the whole path the
// scheduler drives: pods created through the apiserver model, watched, scheduled on
// a 5,000-node cluster and bound through the apiserver (client QPS unlimited so the
// model, not the rate limiter, is measured). ns/op is per pod.
func BenchmarkSchedulePodsEndToEnd(b *testing.B) {
	s := newStack(b, 1)
	for i := 0; i < 5000; i++ {
		s.create(b, zoned(fmt.Sprintf("node-%05d", i), fmt.Sprintf("zone-%d", i%3)))
	}
	sch, err := New(s.eng, s.srv.Client(Component, 0, 0), DefaultConfig(), NewRegistry(), s.reg, nil)
	if err != nil {
		b.Fatal(err)
	}
	s.tel.records = nil
	sch.Start()
	s.eng.RunUntil(sim.Time(2 * time.Second))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.create(b, testPod(fmt.Sprintf("p-%d", i), 100, 64<<20))
	}
	s.eng.RunUntil(s.eng.Now().Add(time.Hour))
	b.StopTimer()
	if st := sch.Stats(); st.Scheduled != uint64(b.N) {
		b.Fatalf("scheduled %d of %d", st.Scheduled, b.N)
	}
}
