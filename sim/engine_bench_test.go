package sim

import (
	"fmt"
	"testing"
)

// reschedule is the steady-state workload: every event schedules one more at a
// pseudo-random later time, so the number of pending events stays constant.
type reschedule struct {
	eng *Engine
	x   uint64
}

func (r *reschedule) Handle(ev *Event) {
	// xorshift: cheap, deterministic spread of delays over 0..1ms.
	r.x ^= r.x << 13
	r.x ^= r.x >> 7
	r.x ^= r.x << 17
	r.eng.Schedule(ev.At+Time(r.x%1_000_000), r, ev.Kind, ev.Arg, nil)
}

// BenchmarkEngine reports events per second and allocations per event with 1,000,
// 100,000 and 1,000,000 pending events. Run: go test -bench Engine -benchmem ./sim/
func BenchmarkEngine(b *testing.B) {
	for _, pending := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			e := New(1)
			h := &reschedule{eng: e, x: 88172645463325252}
			for i := 0; i < pending; i++ {
				e.Schedule(Time(i%1000)*1000, h, 0, int64(i), nil)
			}
			// Warm up so the heap has reached its working size.
			for i := 0; i < pending; i++ {
				e.Step()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e.Step()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			if e.Pending() != pending {
				b.Fatalf("pending drifted to %d", e.Pending())
			}
		})
	}
}

// BenchmarkEngineClosures measures the convenience path (a closure per event).
func BenchmarkEngineClosures(b *testing.B) {
	e := New(1)
	var fn func()
	fn = func() { e.After(1000, fn) }
	for i := 0; i < 1000; i++ {
		e.At(Time(i), fn)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Step()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
