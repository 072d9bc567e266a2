package runtime

import (
	"fmt"
	"math"
	"time"

	"github.com/kubesim/kubesim/sim"
)

// Daemon models the container engine's daemon (dockerd, containerd and runc) as
// one processor-sharing server for container creates and starts: an operation
// brings an amount of work (its sampled latency when it runs alone), and the
// operations in flight share Parallelism units of speed (a real number: 1.5 is
// one and a half operations' worth). With n operations in flight and
// n <= Parallelism each proceeds at full speed; with more, each gets
// Parallelism/n of it. Three containers started together on an engine of
// parallelism 1 each take about three times as long as one started alone, as on a
// Docker host where namespace, cgroup and mount set-up of concurrent starts
// compete for the same CPUs and daemon locks (the real runs on this project's
// 2-CPU machine show 0.6 s for a start alone and 1.3-1.5 s for three at once).
//
// A Daemon serves one node's engine, or every node of a cluster whose nodes share
// one engine (cluster.runtime.sharedEngine, as in real-run mode, where one Docker
// engine carries every modeled node). Work is kept in integer nanoseconds and the
// parallelism in thousandths so that a run is deterministic on every platform. Not safe for concurrent use: it runs
// on the simulation engine.
type Daemon struct {
	eng         *sim.Engine
	parallelism int64       // in thousandths
	ops         []*daemonOp // in flight, in arrival order
	last        sim.Time    // when the work of ops was last brought up to date
	timer       sim.Timer   // the next completion
}

type daemonOp struct {
	left int64 // nanoseconds of work still to do
	done func()
}

// NewDaemon returns a daemon of the given parallelism (at least 1; kept to a
// thousandth).
func NewDaemon(eng *sim.Engine, parallelism float64) (*Daemon, error) {
	if !(parallelism >= 1) || parallelism > 1e6 {
		return nil, fmt.Errorf("runtime: daemon parallelism %g: must be 1 to 1e6", parallelism)
	}
	return &Daemon{eng: eng, parallelism: int64(math.Round(parallelism * 1000)), last: eng.Now()}, nil
}

// InFlight returns the operations in flight.
func (d *Daemon) InFlight() int { return len(d.ops) }

// Do starts an operation of the given work; done runs when it completes.
// Operations completing at the same instant complete in arrival order.
func (d *Daemon) Do(work time.Duration, done func()) {
	d.advance()
	d.ops = append(d.ops, &daemonOp{left: max(int64(work), 0), done: done})
	d.schedule()
}

// progress is the work each operation in flight does in elapsed nanoseconds.
func (d *Daemon) progress(elapsed int64) int64 {
	n := int64(len(d.ops)) * 1000
	if n <= d.parallelism {
		return elapsed
	}
	return elapsed * d.parallelism / n
}

// advance brings the work left of every operation up to now.
func (d *Daemon) advance() {
	now := d.eng.Now()
	if p := d.progress(int64(now - d.last)); p > 0 {
		for _, op := range d.ops {
			op.left -= p
		}
	}
	d.last = now
}

// schedule sets the timer to the next completion: the operation with the least
// work left, at the current share (the share changes only at an arrival or a
// completion, which reschedule).
func (d *Daemon) schedule() {
	d.eng.Cancel(d.timer)
	d.timer = sim.Timer{}
	if len(d.ops) == 0 {
		return
	}
	least := d.ops[0].left
	for _, op := range d.ops[1:] {
		least = min(least, op.left)
	}
	wait := max(least, 0)
	if n := int64(len(d.ops)) * 1000; n > d.parallelism {
		// ceil(least * n / parallelism): at that time progress(wait) >= least.
		wait = (wait*n + d.parallelism - 1) / d.parallelism
	}
	d.timer = d.eng.After(time.Duration(wait), d.complete)
}

// complete finishes every operation whose work is done, in arrival order.
func (d *Daemon) complete() {
	d.timer = sim.Timer{}
	d.advance()
	var finished []*daemonOp
	kept := d.ops[:0]
	for _, op := range d.ops {
		if op.left <= 0 {
			finished = append(finished, op)
		} else {
			kept = append(kept, op)
		}
	}
	clear(d.ops[len(kept):])
	d.ops = kept
	d.schedule()
	for _, op := range finished {
		op.done()
	}
}
