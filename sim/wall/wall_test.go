package wall

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kubesim/kubesim/sim"
)

// jumpClock is a fake clock whose timers fire at once, moving the clock forward by
// their duration: a run takes no real time and every wall time is exact.
type jumpClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *jumpClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- now
	return ch, func() bool { return false }
}

func (c *jumpClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestEventsRunAtTheirWallTime(t *testing.T) {
	clk := &jumpClock{now: time.Unix(1000, 0)}
	eng := sim.New(1)
	d := NewWithClock(eng, clk)
	var got []time.Duration
	for _, at := range []time.Duration{30 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond} {
		eng.At(sim.Time(at), func() { got = append(got, clk.Now().Sub(time.Unix(1000, 0))) })
	}
	if err := d.Run(context.Background(), sim.Time(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond}
	if len(got) != len(want) {
		t.Fatalf("ran %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d ran at wall +%v, want +%v", i, got[i], want[i])
		}
	}
	if eng.Now() != sim.Time(100*time.Millisecond) {
		t.Errorf("engine at %v after Run, want the deadline 100ms", eng.Now())
	}
}

func TestPostedFunctionsRunInOrderAtWallTime(t *testing.T) {
	clk := &jumpClock{now: time.Unix(0, 0)}
	eng := sim.New(1)
	d := NewWithClock(eng, clk)
	var log []string
	// An event at 5ms "starts I/O" whose completion arrives 7ms of wall time later,
	// after an event due at 10ms has run: the completion must see Now = 12ms.
	eng.At(sim.Time(5*time.Millisecond), func() {
		clk.advance(7 * time.Millisecond) // the I/O took this long
		d.Post(func() { log = append(log, "io-a@"+eng.Now().String()) })
		d.Post(func() { log = append(log, "io-b@"+eng.Now().String()) })
	})
	eng.At(sim.Time(10*time.Millisecond), func() { log = append(log, "event@"+eng.Now().String()) })
	eng.At(sim.Time(20*time.Millisecond), func() { log = append(log, "late@"+eng.Now().String()) })
	if err := d.Run(context.Background(), sim.Time(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	want := []string{"event@10ms", "io-a@12ms", "io-b@12ms", "late@20ms"}
	if len(log) != len(want) {
		t.Fatalf("log %v, want %v", log, want)
	}
	for i := range want {
		if log[i] != want[i] {
			t.Fatalf("log %v, want %v", log, want)
		}
	}
}

func TestPostedFunctionScheduleEventsFromWallNow(t *testing.T) {
	clk := &jumpClock{now: time.Unix(0, 0)}
	eng := sim.New(1)
	d := NewWithClock(eng, clk)
	var at sim.Time
	d.Post(func() {
		eng.After(3*time.Millisecond, func() { at = eng.Now() })
	})
	clk.advance(4 * time.Millisecond) // posted before Run; Run fixes the epoch at the clock's now
	if err := d.Run(context.Background(), sim.Time(10*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if at != sim.Time(3*time.Millisecond) {
		t.Errorf("event scheduled by a posted function ran at %v, want 3ms", at)
	}
}

func TestRunStopsOnContext(t *testing.T) {
	eng := sim.New(1)
	d := New(eng)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	eng.At(sim.Time(time.Hour), func() { t.Error("an event an hour away ran") })
	start := time.Now()
	err := d.Run(ctx, sim.Time(2*time.Hour))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run returned %v, want the context's error", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Run took %v to notice a done context", el)
	}
}

func TestHalt(t *testing.T) {
	clk := &jumpClock{now: time.Unix(0, 0)}
	eng := sim.New(1)
	d := NewWithClock(eng, clk)
	broken := false
	d.Halt = func() bool { return broken }
	ran := 0
	eng.At(sim.Time(time.Millisecond), func() { ran++; broken = true; eng.Stop() })
	eng.At(sim.Time(2*time.Millisecond), func() { ran++ })
	if err := d.Run(context.Background(), sim.Time(time.Second)); !errors.Is(err, ErrHalted) {
		t.Fatalf("Run returned %v, want ErrHalted", err)
	}
	if ran != 1 {
		t.Errorf("%d events ran, want 1 (the loop stops after the halting event)", ran)
	}
}

// TestConcurrentPosts posts from several goroutines on the real clock: every
// function runs exactly once, on the loop (no data race under -race), each
// goroutine's functions in its order, and the engine's Now never goes back.
func TestConcurrentPosts(t *testing.T) {
	eng := sim.New(1)
	d := New(eng)
	const writers, each = 4, 50
	last := make([]int, writers)
	for i := range last {
		last[i] = -1
	}
	total := 0
	var prev sim.Time
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				d.Post(func() {
					if i != last[w]+1 {
						t.Errorf("writer %d: function %d ran after %d", w, i, last[w])
					}
					last[w] = i
					if eng.Now() < prev {
						t.Errorf("engine time went back from %v to %v", prev, eng.Now())
					}
					prev = eng.Now()
					total++
					if total == writers*each {
						cancel()
					}
				})
			}
		}(w)
	}
	err := d.Run(ctx, sim.Time(5*time.Second))
	wg.Wait()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v; %d of %d functions ran", err, total, writers*each)
	}
}

func TestRealClockPacing(t *testing.T) {
	eng := sim.New(1)
	d := New(eng)
	var ranAt time.Time
	eng.At(sim.Time(15*time.Millisecond), func() { ranAt = time.Now() })
	if err := d.Run(context.Background(), sim.Time(20*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if early := d.WallTime(sim.Time(15 * time.Millisecond)).Sub(ranAt); early > 0 {
		t.Errorf("event due at +15ms ran %v early", early)
	}
}
