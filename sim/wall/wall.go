// Package wall is kubesim's real-time driver: it paces a sim.Engine by the wall
// clock, so the same component code that runs in virtual time runs against real
// I/O (real containers, a real proxy, a real etcd).
//
// Virtual time stays nanoseconds since the run's epoch, scaled 1:1 to the wall
// clock: the event at virtual time t runs no earlier than epoch+t of the wall clock.
// Model code stays single-threaded: every event and every function posted to the
// inbox runs on the goroutine that calls Run, one at a time.
//
// Real I/O runs in goroutines of the adapters (the Docker client, the proxy, the
// etcd client). Their completions come back through Post: the posted function runs
// on the loop at the wall time it is taken from the inbox (the engine's Now is set
// to that time first, after every event due by then has run), in the order the
// functions were posted. So a completion is seen by the model at the instant it
// happened, as far as the loop can tell, and never before an event that was due
// earlier.
package wall

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/kubesim/kubesim/sim"
)

// Clock is the wall clock the driver reads and sleeps on. The zero Driver uses the
// system clock; tests give a clock of their own.
type Clock interface {
	Now() time.Time
	// NewTimer returns a channel that receives once d has passed, and a function
	// that releases the timer.
	NewTimer(d time.Duration) (<-chan time.Time, func() bool)
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
func (systemClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// Driver paces one engine by the wall clock. Create it with New; Post may be
// called from any goroutine at any time, also before Run and after Run returns (a
// function posted after the last Run never runs).
type Driver struct {
	eng   *sim.Engine
	clock Clock
	// Halt, when set, is asked after every event batch and every posted function;
	// true makes Run return ErrHalted (for example when an invariant of the model
	// broke and the engine was stopped). It runs on the loop.
	Halt func() bool

	mu      sync.Mutex
	inbox   []func()
	wake    chan struct{} // capacity 1: a pending wake-up
	epoch   time.Time
	started bool
	lag     time.Duration // the largest delay of an event behind its wall time
}

// ErrHalted is returned by Run when Halt reported true.
var ErrHalted = errors.New("wall: halted by the model")

// New returns a driver for eng on the system clock.
func New(eng *sim.Engine) *Driver { return NewWithClock(eng, systemClock{}) }

// NewWithClock returns a driver for eng on clock c.
func NewWithClock(eng *sim.Engine, c Clock) *Driver {
	return &Driver{eng: eng, clock: c, wake: make(chan struct{}, 1)}
}

// Engine returns the driven engine.
func (d *Driver) Engine() *sim.Engine { return d.eng }

// Post queues fn to run on the loop. It never blocks and is safe for concurrent
// use. Functions run in the order they were posted (per the inbox's lock order
// across goroutines), each at the wall time it is taken from the inbox.
func (d *Driver) Post(fn func()) {
	if fn == nil {
		return
	}
	d.mu.Lock()
	d.inbox = append(d.inbox, fn)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Epoch returns the wall time of virtual time 0 (zero before the first Run).
func (d *Driver) Epoch() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.epoch
}

// WallTime returns the wall time at which virtual time t is due.
func (d *Driver) WallTime(t sim.Time) time.Time { return d.Epoch().Add(t.Duration()) }

// MaxLag returns the largest delay observed between an event's wall time and the
// moment the loop ran it: how far the loop fell behind the clock (for reports).
func (d *Driver) MaxLag() time.Duration { return d.lag }

// virtualNow is the current wall time as virtual time, never before the engine's
// Now (the clock can only push virtual time forward).
func (d *Driver) virtualNow() sim.Time {
	v := sim.Time(d.clock.Now().Sub(d.epoch))
	if now := d.eng.Now(); v < now {
		return now
	}
	return v
}

// Run drives the engine until virtual time until (the engine's Now is until when
// Run returns nil), until ctx is done (it returns ctx.Err()), or until Halt reports
// true (ErrHalted). The first Run fixes the epoch so that the engine's current
// time is now; a later Run continues on the same epoch. Events run in (time,
// sequence) order as in simulation; an event due at t never runs before epoch+t.
func (d *Driver) Run(ctx context.Context, until sim.Time) error {
	d.mu.Lock()
	if !d.started {
		d.epoch = d.clock.Now().Add(-d.eng.Now().Duration())
		d.started = true
	}
	d.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Run what is due by now, then the inbox at the current wall time.
		now := min(d.virtualNow(), until)
		if err := d.runDue(now); err != nil {
			return err
		}
		if err := d.drain(until); err != nil {
			return err
		}
		if d.eng.Now() >= until && d.virtualNow() >= until {
			d.eng.RunUntil(until)
			return nil
		}
		// Sleep until the next event's wall time (or the deadline), a post, or ctx.
		next := min(d.eng.PeekTime(), until)
		wait := d.WallTime(next).Sub(d.clock.Now())
		if wait <= 0 {
			continue
		}
		c, stop := d.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			stop()
			return ctx.Err()
		case <-d.wake:
			stop()
		case <-c:
		}
	}
}

// runDue runs every event with time <= now and moves the engine's clock to now.
func (d *Driver) runDue(now sim.Time) error {
	if t := d.eng.PeekTime(); t <= now {
		if lag := now.Sub(t); lag > d.lag {
			d.lag = lag
		}
	}
	d.eng.RunUntil(now)
	if d.Halt != nil && d.Halt() {
		return ErrHalted
	}
	return nil
}

// drain runs the posted functions, each at the wall time it is taken (after the
// events due by then), until the inbox is empty.
func (d *Driver) drain(until sim.Time) error {
	for {
		d.mu.Lock()
		if len(d.inbox) == 0 {
			d.mu.Unlock()
			return nil
		}
		fn := d.inbox[0]
		d.inbox[0] = nil
		d.inbox = d.inbox[1:]
		d.mu.Unlock()
		if err := d.runDue(min(d.virtualNow(), until)); err != nil {
			return err
		}
		fn()
		if d.Halt != nil && d.Halt() {
			return ErrHalted
		}
	}
}
