package runtime

import (
	"reflect"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

// daemonRun starts operations of the given work at the given times on a daemon of
// parallelism p and returns each one's completion time, in the order given.
func daemonRun(t *testing.T, p float64, at, work []time.Duration) []time.Duration {
	t.Helper()
	eng := sim.New(1)
	d, err := NewDaemon(eng, p)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]time.Duration, len(at))
	for i := range at {
		eng.At(sim.Time(at[i]), func() {
			d.Do(work[i], func() { out[i] = time.Duration(eng.Now()) })
		})
	}
	eng.Run()
	if d.InFlight() != 0 {
		t.Fatalf("%d operations still in flight", d.InFlight())
	}
	return out
}

func TestDaemonProcessorSharing(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name     string
		p        float64
		at, work []time.Duration
		want     []time.Duration
	}{
		{"alone: exactly its work", 1, []time.Duration{0}, []time.Duration{600 * ms}, []time.Duration{600 * ms}},
		{"three at once share one unit", 1, []time.Duration{0, 0, 0}, []time.Duration{600 * ms, 600 * ms, 600 * ms},
			[]time.Duration{1800 * ms, 1800 * ms, 1800 * ms}},
		{"three at once share two units", 2, []time.Duration{0, 0, 0}, []time.Duration{600 * ms, 600 * ms, 600 * ms},
			[]time.Duration{900 * ms, 900 * ms, 900 * ms}},
		{"one and a half units: three at once at half speed", 1.5, []time.Duration{0, 0, 0}, []time.Duration{600 * ms, 600 * ms, 600 * ms},
			[]time.Duration{1200 * ms, 1200 * ms, 1200 * ms}},
		{"no more than the parallelism: full speed", 3, []time.Duration{0, 0, 0}, []time.Duration{100 * ms, 200 * ms, 300 * ms},
			[]time.Duration{100 * ms, 200 * ms, 300 * ms}},
		// A alone for 0.5 s (0.5 s of work left), then A and B at half speed: A
		// finishes at 1.5 s; B, 0.5 s done, alone again: 2.0 s.
		{"staggered arrivals", 1, []time.Duration{0, 500 * ms}, []time.Duration{time.Second, time.Second},
			[]time.Duration{1500 * ms, 2000 * ms}},
		// Short and long together: the short one leaves at 2 x 100 ms, the long one
		// has done 100 ms by then and finishes its 200 ms left alone at 400 ms.
		{"short leaves first", 1, []time.Duration{0, 0}, []time.Duration{100 * ms, 300 * ms},
			[]time.Duration{200 * ms, 400 * ms}},
		{"zero work", 1, []time.Duration{0, 0}, []time.Duration{0, 100 * ms}, []time.Duration{0, 100 * ms}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := daemonRun(t, c.p, c.at, c.work); !reflect.DeepEqual(got, c.want) {
				t.Errorf("completions %v, want %v", got, c.want)
			}
		})
	}
}

// Work is conserved: whatever the arrivals, the daemon is busy exactly as long as
// the total work divided by the parallelism when it is never idle, and each
// operation takes at least its own work.
func TestDaemonWorkConserved(t *testing.T) {
	at := make([]time.Duration, 40)
	work := make([]time.Duration, 40)
	var total time.Duration
	for i := range at {
		at[i] = time.Duration(i) * 7 * time.Millisecond // arrivals keep it busy
		work[i] = time.Duration(50+(i*37)%200) * time.Millisecond
		total += work[i]
	}
	got := daemonRun(t, 1, at, work)
	last := time.Duration(0)
	for i, c := range got {
		if c-at[i] < work[i] {
			t.Errorf("operation %d took %v, less than its work %v", i, c-at[i], work[i])
		}
		last = max(last, c)
	}
	// Integer shares lose under a nanosecond per operation and reschedule.
	if diff := last - total; diff < 0 || diff > 100*time.Microsecond {
		t.Errorf("busy until %v, total work %v: not conserved", last, total)
	}
}

func TestDaemonParallelismValidated(t *testing.T) {
	for _, p := range []float64{0, 0.5, -1, 2e6} {
		if _, err := NewDaemon(sim.New(1), p); err == nil {
			t.Errorf("parallelism %v accepted", p)
		}
	}
	c := constCfg()
	c.Parallelism = -1
	if err := c.Validate(dist.NewRegistry()); err == nil {
		t.Error("parallelism -1 accepted")
	}
}

// Through the modeled runtime: three containers created and started at once on
// an engine of parallelism 1 take three times as long as with the default
// (unlimited) engine; a runtime sharing another's daemon slows it down.
func TestModeledParallelism(t *testing.T) {
	run := func(parallelism float64, shared bool) []time.Duration {
		eng := sim.New(1)
		c := constCfg()
		c.Preloaded = append(c.Preloaded, "web:1")
		c.Parallelism = parallelism
		var rts []*Modeled
		for i, node := range []string{"n1", "n2", "n3"} {
			cfg := c
			if shared && i > 0 {
				cfg.Daemon = rts[0].daemon
			}
			if !shared && i > 0 {
				continue
			}
			m, err := NewModeled(eng, node, cfg, nil, dist.NewRegistry(), nil)
			if err != nil {
				t.Fatal(err)
			}
			rts = append(rts, m)
		}
		var out []time.Duration
		for i := 0; i < 3; i++ {
			m := rts[i%len(rts)]
			spec := ContainerSpec{PodName: "p" + string(rune('a'+i)), Namespace: "default", Name: "c", Image: "web:1"}
			m.CreateContainer(spec, func(id string, err error) {
				if err != nil {
					t.Fatal(err)
				}
				m.StartContainer(id, func(err error) {
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, time.Duration(eng.Now()))
				})
			})
		}
		eng.Run()
		return out
	}
	ms := time.Millisecond
	// create 10 ms + start 20 ms of work each.
	if got, want := run(0, false), []time.Duration{30 * ms, 30 * ms, 30 * ms}; !reflect.DeepEqual(got, want) {
		t.Errorf("unlimited engine: started at %v, want %v", got, want)
	}
	if got, want := run(1, false), []time.Duration{90 * ms, 90 * ms, 90 * ms}; !reflect.DeepEqual(got, want) {
		t.Errorf("one engine of parallelism 1: started at %v, want %v", got, want)
	}
	if got, want := run(1, true), []time.Duration{90 * ms, 90 * ms, 90 * ms}; !reflect.DeepEqual(got, want) {
		t.Errorf("three nodes sharing a daemon of parallelism 1: started at %v, want %v", got, want)
	}
}
