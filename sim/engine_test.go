package sim

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

type recorder struct {
	eng *Engine
	got []string
}

func (r *recorder) Handle(ev *Event) {
	r.got = append(r.got, fmt.Sprintf("%d@%v", ev.Arg, ev.At))
}

func TestOrdering(t *testing.T) {
	tests := []struct {
		name string
		at   []Time // event i has Arg i
		want []string
	}{
		{"by time", []Time{30, 10, 20}, []string{"1@10ns", "2@20ns", "0@30ns"}},
		{"ties run in scheduling order", []Time{5, 5, 5, 1}, []string{"3@1ns", "0@5ns", "1@5ns", "2@5ns"}},
		{"zero time", []Time{0, 0}, []string{"0@0s", "1@0s"}},
		{"single", []Time{7}, []string{"0@7ns"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := New(1)
			r := &recorder{eng: e}
			for i, at := range tc.at {
				e.Schedule(at, r, 0, int64(i), nil)
			}
			e.Run()
			if !reflect.DeepEqual(r.got, tc.want) {
				t.Fatalf("got %v, want %v", r.got, tc.want)
			}
		})
	}
}

func TestTiesAcrossKindsOfEvents(t *testing.T) {
	e := New(1)
	var got []string
	e.At(10, func() { got = append(got, "a") })
	r := &recorder{}
	e.Schedule(10, r, 0, 1, nil)
	e.At(10, func() { got = append(got, "c") })
	e.Run()
	r.got = nil
	if !reflect.DeepEqual(got, []string{"a", "c"}) {
		t.Fatalf("got %v", got)
	}
}

func TestCancel(t *testing.T) {
	e := New(1)
	var got []int
	t1 := e.After(10, func() { got = append(got, 1) })
	t2 := e.After(20, func() { got = append(got, 2) })
	e.After(30, func() { got = append(got, 3) })
	e.Cancel(t2)
	e.Cancel(t2)      // twice is harmless
	e.Cancel(Timer{}) // zero timer is harmless
	e.Run()
	if !reflect.DeepEqual(got, []int{1, 3}) {
		t.Fatalf("got %v, want [1 3]", got)
	}
	e.Cancel(t1) // already fired: harmless
	if e.Pending() != 0 {
		t.Fatalf("pending = %d after run, want 0", e.Pending())
	}
	if e.Fired() != 2 {
		t.Fatalf("fired %d, want 2", e.Fired())
	}
}

func TestCancelFromInsideEvent(t *testing.T) {
	e := New(1)
	var got []int
	var later Timer
	e.After(1, func() { e.Cancel(later); got = append(got, 1) })
	later = e.After(2, func() { got = append(got, 2) })
	e.Run()
	if !reflect.DeepEqual(got, []int{1}) {
		t.Fatalf("got %v, want [1]", got)
	}
}

func TestCancelAfterFireKeepsMemoryBounded(t *testing.T) {
	e := New(1)
	for i := 0; i < 10000; i++ {
		tm := e.After(1, func() {})
		e.Step()
		e.Cancel(tm) // cancelling fired events must not grow memory without bound
	}
	if n := len(e.cancelled); n > 128 {
		t.Fatalf("%d cancellation marks kept for events that already ran", n)
	}
	if e.Pending() != 0 {
		t.Fatalf("pending = %d, want 0", e.Pending())
	}
}

func TestRunUntil(t *testing.T) {
	e := New(1)
	var got []Time
	for _, at := range []Time{5, 10, 15} {
		e.At(at, func() { got = append(got, e.Now()) })
	}
	e.RunUntil(10)
	if !reflect.DeepEqual(got, []Time{5, 10}) || e.Now() != 10 {
		t.Fatalf("got %v now %v", got, e.Now())
	}
	e.RunUntil(12)
	if e.Now() != 12 {
		t.Fatalf("now %v, want 12", e.Now())
	}
	e.RunUntil(100)
	if len(got) != 3 || e.Now() != 100 {
		t.Fatalf("got %v now %v", got, e.Now())
	}
}

func TestStop(t *testing.T) {
	e := New(1)
	n := 0
	for i := 0; i < 10; i++ {
		e.At(Time(i), func() {
			n++
			if n == 3 {
				e.Stop()
			}
		})
	}
	e.Run()
	if n != 3 {
		t.Fatalf("ran %d events after Stop, want 3", n)
	}
	e.Run()
	if n != 10 {
		t.Fatalf("resumed run ran to %d, want 10", n)
	}
}

func TestSchedulePastPanics(t *testing.T) {
	e := New(1)
	e.At(10, func() {})
	e.Run()
	defer func() {
		if recover() == nil {
			t.Fatal("scheduling in the past did not panic")
		}
	}()
	e.At(5, func() {})
}

func TestHeapAgainstSort(t *testing.T) {
	// Random schedules with many ties must come out in (time, seq) order.
	for seed := uint64(1); seed <= 20; seed++ {
		e := New(seed)
		rng := rand.New(rand.NewPCG(seed, 0))
		type ev struct {
			at  Time
			seq int
		}
		var got []ev
		n := 0
		var add func(base Time)
		add = func(base Time) {
			at := base + Time(rng.IntN(50))
			id := n
			n++
			e.At(at, func() {
				got = append(got, ev{e.Now(), id})
				if n < 3000 && rng.IntN(3) > 0 {
					add(e.Now())
				}
			})
		}
		for i := 0; i < 500; i++ {
			add(0)
		}
		e.Run()
		for i := 1; i < len(got); i++ {
			if got[i].at < got[i-1].at {
				t.Fatalf("seed %d: time went backwards at %d: %v then %v", seed, i, got[i-1], got[i])
			}
			if got[i].at == got[i-1].at && got[i].seq < got[i-1].seq && got[i].seq < 500 && got[i-1].seq < 500 {
				t.Fatalf("seed %d: tie order broken: %v then %v", seed, got[i-1], got[i])
			}
		}
		if len(got) != n {
			t.Fatalf("seed %d: ran %d of %d events", seed, len(got), n)
		}
	}
}

func TestStreamsAreIndependentAndReproducible(t *testing.T) {
	a := New(42)
	b := New(42)
	// Drawing from another stream first must not change a stream's numbers.
	_ = b.Stream("other").Uint64()
	for i := 0; i < 100; i++ {
		x, y := a.Stream("scheduler/tiebreak").Uint64(), b.Stream("scheduler/tiebreak").Uint64()
		if x != y {
			t.Fatalf("draw %d differs: %d vs %d", i, x, y)
		}
	}
	if New(42).Stream("a").Uint64() == New(42).Stream("b").Uint64() {
		t.Fatal("streams a and b gave the same first number")
	}
	if New(1).Stream("a").Uint64() == New(2).Stream("a").Uint64() {
		t.Fatal("seeds 1 and 2 gave the same first number")
	}
}

func TestTimeFormatting(t *testing.T) {
	tm := Time(0).Add(1500 * time.Millisecond)
	if tm.String() != "1.5s" || tm.Seconds() != 1.5 {
		t.Fatalf("got %q %v", tm.String(), tm.Seconds())
	}
	if d := tm.Sub(Time(500 * time.Millisecond)); d != time.Second {
		t.Fatalf("Sub = %v", d)
	}
}
