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

// Event is one scheduled occurrence, stored by value in the engine's heap (64
// bytes: one cache line). The engine owns it; a Handler must not keep the pointer
// after Handle returns.
type Event struct {
	At   Time    // when it fires
	Seq  uint64  // scheduling order; unique per engine
	H    Handler // who handles it
	Data any     // handler-defined argument (store pointers to avoid allocation)
	Arg  int64   // handler-defined argument
	Kind int32   // handler-defined discriminator
}

// funcHandler adapts a closure to Handler; converting a func to an interface does
// not allocate.
type funcHandler func()

func (f funcHandler) Handle(*Event) { f() }

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
	cancelled map[uint64]struct{} // seqs of cancelled events still in the heap
	cur       Event
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
	return &Engine{seed: seed, cancelled: map[uint64]struct{}{}}
}

// Now returns the current virtual time: the time of the event being run, or of the
// last event run.
func (e *Engine) Now() Time { return e.now }

// Seed returns the run's root seed.
func (e *Engine) Seed() uint64 { return e.seed }

// Pending returns the number of queued events, including cancelled ones that have
// not reached the top of the queue yet.
func (e *Engine) Pending() int { return len(e.heap) }

// Fired returns how many events have run.
func (e *Engine) Fired() uint64 { return e.fired }

// Schedule queues a typed event for handler h at time at. An at earlier than Now is
// an error in the caller and panics: virtual time never goes backwards.
// It does not allocate once the heap has grown to its working size.
func (e *Engine) Schedule(at Time, h Handler, kind int32, arg int64, data any) Timer {
	return e.add(Event{At: at, H: h, Kind: kind, Arg: arg, Data: data})
}

// ScheduleAfter queues a typed event d after Now. A negative d panics.
func (e *Engine) ScheduleAfter(d time.Duration, h Handler, kind int32, arg int64, data any) Timer {
	return e.add(Event{At: e.now + Time(d), H: h, Kind: kind, Arg: arg, Data: data})
}

// At runs fn at time at. Convenient, but the closure usually allocates: hot paths
// should use Schedule with a long-lived Handler.
func (e *Engine) At(at Time, fn func()) Timer { return e.add(Event{At: at, H: funcHandler(fn)}) }

// After runs fn d after Now.
func (e *Engine) After(d time.Duration, fn func()) Timer {
	return e.add(Event{At: e.now + Time(d), H: funcHandler(fn)})
}

func (e *Engine) add(ev Event) Timer {
	if ev.At < e.now {
		panic(fmt.Sprintf("sim: event scheduled in the past: at %v, now %v", ev.At, e.now))
	}
	if ev.H == nil {
		panic("sim: event without a handler")
	}
	e.seq++
	ev.Seq = e.seq
	e.push(ev)
	return Timer{seq: ev.Seq}
}

// Cancel prevents the event of t from running if it has not run yet. Cancelling the
// zero Timer, or an event that already ran or was already cancelled, is harmless.
// The event stays in the heap and is discarded when it reaches the top.
func (e *Engine) Cancel(t Timer) {
	if t.seq == 0 || t.seq > e.seq {
		return
	}
	// Whether the event already ran is not known in O(1): a mark for an event that
	// ran is never consumed, so marks are pruned when they outnumber the heap.
	e.cancelled[t.seq] = struct{}{}
	if len(e.cancelled) > 64 && len(e.cancelled) > len(e.heap) {
		e.pruneCancelled()
	}
}

// pruneCancelled drops marks of events that are no longer in the heap.
func (e *Engine) pruneCancelled() {
	keep := make(map[uint64]struct{}, len(e.heap)/8)
	for i := range e.heap {
		if _, ok := e.cancelled[e.heap[i].Seq]; ok {
			keep[e.heap[i].Seq] = struct{}{}
		}
	}
	e.cancelled = keep
}

// Stop makes the current Run or RunUntil return after the running event.
func (e *Engine) Stop() { e.stopped = true }

// Step runs the next event that is not cancelled. It returns false when no event is
// left.
func (e *Engine) Step() bool {
	for len(e.heap) > 0 {
		e.pop(&e.cur)
		if len(e.cancelled) > 0 {
			if _, ok := e.cancelled[e.cur.Seq]; ok {
				delete(e.cancelled, e.cur.Seq)
				continue
			}
		}
		e.now = e.cur.At
		e.fired++
		if e.OnEvent != nil {
			e.OnEvent(&e.cur)
		}
		e.cur.H.Handle(&e.cur)
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
// avoid a pointer chase per event; the 4-ary shape halves the depth of a binary heap.

func less(a, b *Event) bool {
	if a.At != b.At {
		return a.At < b.At
	}
	return a.Seq < b.Seq
}

func (e *Engine) push(x Event) {
	e.heap = append(e.heap, x)
	h := e.heap
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 4
		if !less(&x, &h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = x
}

// pop moves the minimum into out. It sifts the hole left at the root down to a leaf
// along the smallest children, then sifts the last element up from there (Floyd's
// bottom-up variant): the last element usually belongs near the bottom, so this
// saves a comparison per level.
func (e *Engine) pop(out *Event) {
	h := e.heap
	*out = h[0]
	n := len(h) - 1
	last := h[n]
	h[n] = Event{} // drop references for the GC
	h = h[:n]
	e.heap = h
	if n == 0 {
		return
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
		h[i] = h[m]
		i = m
	}
	for i > 0 {
		p := (i - 1) / 4
		if !less(&last, &h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = last
}
