package results

import (
	"cmp"
	"math"
	"slices"
)

// A real run's container operations on its one Docker engine, kept so that
// kubesim calibrate can factor out their overlaps: three parallel lists, one
// entry per create or start (every node), in completion order.
const (
	SampleEngineOpStart = "engine_op_start_seconds" // call, seconds into the run
	SampleEngineOpEnd   = "engine_op_end_seconds"   // completion, seconds into the run
	SampleEngineOpKind  = "engine_op_kind"          // EngineOpCreate, EngineOpStart or EngineOpFailed
)

// Kinds of engine operations (SampleEngineOpKind values).
const (
	EngineOpFailed = 0 // a create or start that failed: it shared the engine, its work is not a sample
	EngineOpCreate = 1
	EngineOpStart  = 2
)

// Samples of the work of one container operation (seconds): its duration with
// the engine's other operations in flight factored out under processor sharing,
// at the parallelism FitEngineParallelism finds (EngineWork). kubesim calibrate
// fits runtime.create and runtime.start to them.
const (
	SampleRuntimeCreateWork = "runtime_create_work_seconds"
	SampleRuntimeStartWork  = "runtime_start_work_seconds"
)

// EngineOp is one container operation of an engine, from the call to its
// completion, in seconds of the run.
type EngineOp struct {
	Start, End float64
	Kind       int // EngineOpCreate, EngineOpStart or EngineOpFailed
}

// AddEngineOps records ops in the run's samples (SampleEngineOp*).
func (r *RunSamples) AddEngineOps(ops []EngineOp) {
	for _, op := range ops {
		r.Add(SampleEngineOpStart, op.Start)
		r.Add(SampleEngineOpEnd, op.End)
		r.Add(SampleEngineOpKind, float64(op.Kind))
	}
}

// EngineOps returns the run's recorded engine operations; false when it has none
// or the three lists disagree in length (a run written before they were kept).
func (r *RunSamples) EngineOps() ([]EngineOp, bool) {
	s, e, k := r.Samples[SampleEngineOpStart], r.Samples[SampleEngineOpEnd], r.Samples[SampleEngineOpKind]
	if len(s) == 0 || len(s) != len(e) || len(s) != len(k) {
		return nil, false
	}
	ops := make([]EngineOp, len(s))
	for i := range s {
		ops[i] = EngineOp{Start: s[i], End: e[i], Kind: int(k[i])}
	}
	return ops, true
}

// EngineWork returns, for each operation, the work it would have taken alone on
// an engine that shares parallelism units of speed among the operations in
// flight (processor sharing, as runtime.Daemon models it): the integral over its
// interval of min(1, parallelism / n(t)), where n(t) counts the operations in
// flight at t, itself included. An operation alone keeps its duration; three of
// 1.5 s fully overlapping on an engine of parallelism 1 each did 0.5 s of work.
// Operations with End <= Start have no work.
func EngineWork(ops []EngineOp, parallelism float64) []float64 {
	type edge struct {
		t     float64
		delta int
	}
	edges := make([]edge, 0, 2*len(ops))
	for _, op := range ops {
		if op.End > op.Start {
			edges = append(edges, edge{op.Start, +1}, edge{op.End, -1})
		}
	}
	// Ends before starts at the same instant: an operation ending as another
	// begins does not share with it.
	slices.SortFunc(edges, func(a, b edge) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.delta, b.delta)
	})
	// cum[i] is the integral of the share from edges[0].t to edges[i].t.
	cum := make([]float64, len(edges))
	times := make([]float64, len(edges))
	n := 0
	for i, e := range edges {
		if i > 0 {
			share := 1.0
			if float64(n) > parallelism {
				share = parallelism / float64(n)
			}
			cum[i] = cum[i-1] + (e.t-edges[i-1].t)*share
		}
		times[i] = e.t
		n += e.delta
	}
	// at is the integral up to t, an edge's time: the last edge at t.
	at := func(t float64) float64 {
		i, _ := slices.BinarySearch(times, t)
		for i+1 < len(times) && times[i+1] == t {
			i++
		}
		return cum[i]
	}
	out := make([]float64, len(ops))
	for i, op := range ops {
		if op.End > op.Start {
			out[i] = at(op.End) - at(op.Start)
		}
	}
	return out
}

// Parallelisms FitEngineParallelism tries: 1 to 8 by twentieths.
const (
	minFitParallelism  = 1.0
	maxFitParallelism  = 8.0
	fitParallelismStep = 0.05
)

// FitEngineParallelism returns the engine parallelism under which the work of
// the runs' operations is most alike within each kind (creates, starts): the one
// that minimizes the pooled variance of the logs of the works, a log-normal
// model's spread. Operations alone keep their durations whatever the
// parallelism; those that overlapped shrink more the smaller it is, so the fit
// is the parallelism that makes an operation's work the same whether it ran
// alone or with others. It needs an operation of some kind both alone and
// overlapped to say anything; without, every parallelism fits as well and it
// returns 1. Each run's operations are shared among themselves only.
func FitEngineParallelism(runs [][]EngineOp) float64 {
	best, bestV := minFitParallelism, math.Inf(1)
	for i := 0; ; i++ {
		p := minFitParallelism + float64(i)*fitParallelismStep
		if p > maxFitParallelism+1e-9 {
			break
		}
		var logs [3][]float64
		for _, ops := range runs {
			for j, w := range EngineWork(ops, p) {
				if k := ops[j].Kind; k != EngineOpFailed && w > 0 {
					logs[k] = append(logs[k], math.Log(w))
				}
			}
		}
		v, n := 0.0, 0
		for _, l := range logs[1:] {
			if len(l) < 2 {
				continue
			}
			m := 0.0
			for _, x := range l {
				m += x
			}
			m /= float64(len(l))
			for _, x := range l {
				v += (x - m) * (x - m)
			}
			n += len(l) - 1
		}
		if n == 0 {
			return 1
		}
		// Strictly smaller by a margin: ties (every operation alone, or beyond the
		// most operations ever in flight) keep the smaller parallelism.
		if v /= float64(n); v < bestV-1e-12 {
			best, bestV = p, v
		}
	}
	return math.Round(best/fitParallelismStep) / (1 / fitParallelismStep)
}

// WorkSamples returns the work samples of one run's operations at parallelism,
// by sample name (SampleRuntimeCreateWork, SampleRuntimeStartWork).
func WorkSamples(ops []EngineOp, parallelism float64) map[string][]float64 {
	out := map[string][]float64{}
	for i, w := range EngineWork(ops, parallelism) {
		switch ops[i].Kind {
		case EngineOpCreate:
			out[SampleRuntimeCreateWork] = append(out[SampleRuntimeCreateWork], w)
		case EngineOpStart:
			out[SampleRuntimeStartWork] = append(out[SampleRuntimeStartWork], w)
		}
	}
	return out
}
