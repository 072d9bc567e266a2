// Package sim is kubesim's discrete-event engine. It knows nothing of Kubernetes.
//
// Time is virtual: an int64 count of nanoseconds since the run's epoch. Events are
// ordered by (time, sequence number), so events scheduled for the same instant run in
// the order they were scheduled. The engine is single-threaded: callbacks run one at a
// time on the goroutine that calls Step, RunUntil or Run, and must not block.
package sim

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Time is a point in virtual time: nanoseconds since the run's epoch (t=0).
type Time int64

// Seconds returns t in seconds as a float64, for reporting only.
func (t Time) Seconds() float64 { return float64(t) / 1e9 }

// Add returns t advanced by d.
func (t Time) Add(d time.Duration) Time { return t + Time(d) }

// Sub returns the duration t-u.
func (t Time) Sub(u Time) time.Duration { return time.Duration(t - u) }

// Duration returns t as a duration since the epoch.
func (t Time) Duration() time.Duration { return time.Duration(t) }

// String formats t as a duration since the epoch, e.g. "1m2.5s".
func (t Time) String() string { return time.Duration(t).String() }

// Forever is a time later than any event a run schedules.
const Forever Time = 1<<63 - 1

// Handler receives typed events. Implementations are usually long-lived component
// values (a pointer stored in an interface does not allocate), which makes the
// Schedule path allocation-free.
type Handler interface {
	// Handle runs the event. It may schedule or cancel other events.
	Handle(ev *Event)
}

// Event is one scheduled occurrence. The engine owns it; a Handler must not keep the
// pointer after Handle returns.
type Event struct {
	At   Time    // when it fires
	Seq  uint64  // scheduling order; unique per engine
	H    Handler // who handles it (nil for Func events)
	Kind int32   // handler-defined discriminator
	Arg  int64   // handler-defined argument
	Data any     // handler-defined argument (store pointers to avoid allocation)
	fn   func()  // set for events scheduled with At/After
}

// Timer identifies a scheduled event so it can be cancelled.
// The zero Timer is valid and refers to no event.
type Timer struct{ seq uint64 }

// IsZero reports whether t refers to no event.
func (t Timer) IsZero() bool { return t.seq == 0 }

// Engine is the event loop. The zero value is not usable; call New.
type Engine struct {
	now       Time
	seq       uint64
	heap      []Event
	cancelled map[uint64]struct{}
	fired     uint64
	stopped   bool
	seed      uint64
	streams   map[string]*rand.Rand
	// OnEvent, when set, is called before each event runs (a trace hook for
	// debugging and tests). It must not schedule events.
	OnEvent func(ev *Event)
}

// New returns an engine at time 0 whose random streams derive from seed.
func New(seed uint64) *Engine {
	return &Engine{seed: seed, cancelled: make(map[uint64]struct{})}
}

// Now returns the current virtual time: the time of the event being run, or of the
// last event run.
func (e *Engine) Now() Time { return e.now }

// Seed returns the run's root seed.
func (e *Engine) Seed() uint64 { return e.seed }

// Pending returns the number of scheduled events, including cancelled ones not yet
// discarded.
func (e *Engine) Pending() int { return len(e.heap) }

// Fired returns how many events have run.
func (e *Engine) Fired() uint64 { return e.fired }

// Schedule queues a typed event for handler h at time at. An at earlier than Now is
// an error in the caller and panics: virtual time never goes backwards.
// It does not allocate once the heap has grown to its working size.
func (e *Engine) Schedule(at Time, h Handler, kind int32, arg int64, data any) Timer {
	if at < e.now {
		panic(fmt.Sprintf("sim: event scheduled in the past: at %v, now %v", at, e.now))
	}
	e.seq++
	e.push(Event{At: at, Seq: e.seq, H: h, Kind: kind, Arg: arg, Data: data})
	return Timer{e.seq}
}

// ScheduleAfter queues a typed event d after Now. A negative d panics.
func (e *Engine) ScheduleAfter(d time.Duration, h Handler, kind int32, arg int64, data any) Timer {
	return e.Schedule(e.now+Time(d), h, kind, arg, data)
}

// At runs fn at time at. Convenient, but the closure usually allocates: hot paths
// should use Schedule.
func (e *Engine) At(at Time, fn func()) Timer {
	if at < e.now {
		panic(fmt.Sprintf("sim: event scheduled in the past: at %v, now %v", at, e.now))
	}
	e.seq++
	e.push(Event{At: at, Seq: e.seq, fn: fn})
	return Timer{e.seq}
}

// After runs fn d after Now.
func (e *Engine) After(d time.Duration, fn func()) Timer { return e.At(e.now+Time(d), fn) }

// Cancel prevents the event of t from running if it has not run yet. Cancelling the
// zero Timer, or an event that already ran or was already cancelled, is harmless.
func (e *Engine) Cancel(t Timer) {
	if t.seq == 0 || t.seq > e.seq {
		return
	}
	e.cancelled[t.seq] = struct{}{}
	// Marks for events that already ran are never popped; drop them when the set
	// outgrows the queue so memory stays bounded.
	if len(e.cancelled) > 1024 && len(e.cancelled) > 2*len(e.heap) {
		e.compactCancelled()
	}
}

// compactCancelled drops cancellation marks whose events are no longer queued.
func (e *Engine) compactCancelled() {
	queued := make(map[uint64]struct{}, len(e.cancelled))
	for i := range e.heap {
		if _, ok := e.cancelled[e.heap[i].Seq]; ok {
			queued[e.heap[i].Seq] = struct{}{}
		}
	}
	e.cancelled = queued
}

// Stop makes the current Run or RunUntil return after the running event.
func (e *Engine) Stop() { e.stopped = true }

// Step runs the next event that is not cancelled. It returns false when no event is
// left.
func (e *Engine) Step() bool {
	for len(e.heap) > 0 {
		ev := e.pop()
		if len(e.cancelled) > 0 {
			if _, ok := e.cancelled[ev.Seq]; ok {
				delete(e.cancelled, ev.Seq)
				continue
			}
		}
		e.now = ev.At
		e.fired++
		if e.OnEvent != nil {
			e.OnEvent(&ev)
		}
		if ev.fn != nil {
			ev.fn()
		} else {
			ev.H.Handle(&ev)
		}
		return true
	}
	return false
}

// PeekTime returns the time of the next queued event (cancelled or not), or Forever.
func (e *Engine) PeekTime() Time {
	if len(e.heap) == 0 {
		return Forever
	}
	return e.heap[0].At
}

// RunUntil runs every event with At <= until, then sets Now to until (if later than
// Now). It returns early if Stop is called.
func (e *Engine) RunUntil(until Time) {
	e.stopped = false
	for !e.stopped && len(e.heap) > 0 && e.heap[0].At <= until {
		e.Step()
	}
	if !e.stopped && until > e.now && until != Forever {
		e.now = until
	}
}

// Run runs until no event is left or Stop is called.
func (e *Engine) Run() {
	e.stopped = false
	for !e.stopped && e.Step() {
	}
}

// The heap is a 4-ary min-heap of Event values ordered by (At, Seq). Value structs
// avoid a pointer per event; the 4-ary shape halves the depth of a binary heap and
// keeps siblings in one or two cache lines.

func less(a, b *Event) bool {
	if a.At != b.At {
		return a.At < b.At
	}
	return a.Seq < b.Seq
}

func (e *Engine) push(ev Event) {
	e.heap = append(e.heap, ev)
	h := e.heap
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 4
		if !less(&ev, &h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = ev
}

func (e *Engine) pop() Event {
	h := e.heap
	top := h[0]
	n := len(h) - 1
	last := h[n]
	h[n] = Event{} // drop references for the GC
	h = h[:n]
	e.heap = h
	if n == 0 {
		return top
	}
	i := 0
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		m := c
		end := c + 4
		if end > n {
			end = n
		}
		for j := c + 1; j < end; j++ {
			if less(&h[j], &h[m]) {
				m = j
			}
		}
		if !less(&h[m], &last) {
			break
		}
		h[i] = h[m]
		i = m
	}
	h[i] = last
	return top
}
