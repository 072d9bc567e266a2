package results

import (
	"math"
	"testing"
)

func TestEngineWork(t *testing.T) {
	for _, c := range []struct {
		name string
		p    float64
		ops  []EngineOp
		want []float64
	}{
		{"alone", 1, []EngineOp{{0, 0.6, 2}}, []float64{0.6}},
		{"three fully overlapping", 1, []EngineOp{{0, 1.5, 2}, {0, 1.5, 2}, {0, 1.5, 2}}, []float64{0.5, 0.5, 0.5}},
		{"three with two units", 2, []EngineOp{{0, 0.9, 2}, {0, 0.9, 2}, {0, 0.9, 2}}, []float64{0.6, 0.6, 0.6}},
		{"three with one and a half units", 1.5, []EngineOp{{0, 1.2, 2}, {0, 1.2, 2}, {0, 1.2, 2}}, []float64{0.6, 0.6, 0.6}},
		// The inverse of the daemon's staggered case: A 0..1.5, B 0.5..2.0 did 1 s each.
		{"staggered", 1, []EngineOp{{0, 1.5, 2}, {0.5, 2.0, 2}}, []float64{1, 1}},
		{"back to back: no sharing", 1, []EngineOp{{0, 1, 2}, {1, 2, 2}}, []float64{1, 1}},
		{"empty and reversed", 1, []EngineOp{{1, 1, 2}, {2, 1, 2}, {0, 3, 2}}, []float64{0, 0, 3}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := EngineWork(c.ops, c.p)
			for i := range c.want {
				if math.Abs(got[i]-c.want[i]) > 1e-9 {
					t.Fatalf("work %v, want %v", got, c.want)
				}
			}
		})
	}
}

// The fit recovers the parallelism that produced the durations: starts of 0.6 s
// of work, one alone and three at once on an engine of parallelism 1.5 (each
// then takes 3 x 0.6 / 1.5 = 1.2 s).
func TestFitEngineParallelism(t *testing.T) {
	run := []EngineOp{{0, 1.2, EngineOpStart}, {0, 1.2, EngineOpStart}, {0, 1.2, EngineOpStart}, {5, 5.6, EngineOpStart},
		{10, 10.05, EngineOpCreate}, {11, 11.05, EngineOpCreate}}
	if got := FitEngineParallelism([][]EngineOp{run}); math.Abs(got-1.5) > 1e-9 {
		t.Errorf("fitted parallelism %v, want 1.5", got)
	}
	// Three at once each taking 1.8 s: parallelism 1.
	run[0].End, run[1].End, run[2].End = 1.8, 1.8, 1.8
	if got := FitEngineParallelism([][]EngineOp{run}); got != 1 {
		t.Errorf("fitted parallelism %v, want 1", got)
	}
	// No operation alone: nothing to tell parallelisms apart; 1.
	if got := FitEngineParallelism([][]EngineOp{run[:3]}); got != 1 {
		t.Errorf("fitted parallelism %v without an operation alone, want 1", got)
	}
	// Recorded and read back through a run's samples.
	var r RunSamples
	r.AddEngineOps(run)
	back, ok := r.EngineOps()
	if !ok || len(back) != len(run) || back[3] != run[3] {
		t.Errorf("engine ops read back %v %v, want %v", back, ok, run)
	}
	w := WorkSamples(back, 1)
	if len(w[SampleRuntimeStartWork]) != 4 || len(w[SampleRuntimeCreateWork]) != 2 || math.Abs(w[SampleRuntimeStartWork][0]-0.6) > 1e-9 {
		t.Errorf("work samples %v", w)
	}
}
