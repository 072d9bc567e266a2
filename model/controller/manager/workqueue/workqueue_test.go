package workqueue

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

type harness struct {
	eng  *sim.Engine
	q    *Queue
	log  []string
	fail map[string]int // key -> failures left
	hold bool           // do not call Done from sync
}

func newHarness(opts Options) *harness {
	h := &harness{eng: sim.New(1), fail: map[string]int{}}
	lat := dist.NewRegistry().MustNew(dist.Const(time.Millisecond), nil)
	h.q = New(h.eng, lat, func(key string) {
		h.log = append(h.log, fmt.Sprintf("%s@%v", key, h.eng.Now()))
		if h.hold {
			return
		}
		var err error
		if h.fail[key] > 0 {
			h.fail[key]--
			err = errors.New("boom")
		}
		h.q.Done(key, err)
	}, opts)
	return h
}

func TestQueue(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		run  func(h *harness)
		want string
	}{
		{"FIFO and deduplicated", DefaultOptions(), func(h *harness) {
			h.q.Add("a")
			h.q.Add("b")
			h.q.Add("a")
			h.q.Add("c")
			h.q.Start()
		}, "[a@1ms b@2ms c@3ms]"},
		{"keys added before Start wait", DefaultOptions(), func(h *harness) {
			h.q.Add("a")
			h.eng.RunUntil(sim.Time(time.Second))
			h.q.Start()
		}, "[a@1.001s]"},
		{"AddAfter keeps the earliest", DefaultOptions(), func(h *harness) {
			h.q.Start()
			h.q.AddAfter("a", 50*time.Millisecond)
			h.q.AddAfter("a", 10*time.Millisecond)
			h.q.AddAfter("a", 30*time.Millisecond)
		}, "[a@11ms]"},
		{"failures back off 5 ms, 10 ms, 20 ms", DefaultOptions(), func(h *harness) {
			h.fail["a"] = 3
			h.q.Start()
			h.q.Add("a")
		}, "[a@1ms a@7ms a@18ms a@39ms]"},
		{"dropped after MaxRetries", Options{BaseBackoff: time.Millisecond, MaxBackoff: time.Second, MaxRetries: 2}, func(h *harness) {
			h.fail["a"] = 10
			h.q.Start()
			h.q.Add("a")
		}, "[a@1ms a@3ms a@6ms]"},
		{"backoff capped", Options{BaseBackoff: time.Second, MaxBackoff: 2 * time.Second}, func(h *harness) {
			h.fail["a"] = 3
			h.q.Start()
			h.q.Add("a")
		}, "[a@1ms a@1.002s a@3.003s a@5.004s]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(c.opts)
			c.run(h)
			h.eng.RunUntil(sim.Time(time.Minute))
			if got := fmt.Sprint(h.log); got != c.want {
				t.Fatalf("syncs %s, want %s", got, c.want)
			}
		})
	}
}

// A key added while it is being synced is synced again after Done, never twice at
// once; other keys wait for the worker.
func TestAddWhileProcessing(t *testing.T) {
	h := newHarness(DefaultOptions())
	h.hold = true
	h.q.Start()
	h.q.Add("a")
	h.eng.RunUntil(sim.Time(10 * time.Millisecond))
	h.q.Add("a")
	h.q.Add("b")
	h.q.Add("a")
	h.eng.RunUntil(sim.Time(20 * time.Millisecond))
	if fmt.Sprint(h.log) != "[a@1ms]" || !h.q.Busy() {
		t.Fatalf("while a is held: %v", h.log)
	}
	h.hold = false
	h.q.Done("a", nil)
	h.eng.RunUntil(sim.Time(time.Second))
	if got := fmt.Sprint(h.log); got != "[a@1ms b@21ms a@22ms]" {
		t.Fatalf("syncs %s", got)
	}
	if h.q.Len() != 0 || h.q.Busy() || h.q.Syncs() != 3 {
		t.Fatalf("queue not drained: len %d busy %v syncs %d", h.q.Len(), h.q.Busy(), h.q.Syncs())
	}
}

func TestDoneWithoutSyncPanics(t *testing.T) {
	h := newHarness(DefaultOptions())
	defer func() {
		if recover() == nil {
			t.Fatal("Done without a sync must panic")
		}
	}()
	h.q.Done("x", nil)
}

func TestLongQueueCompacts(t *testing.T) {
	h := newHarness(DefaultOptions())
	h.q.Start()
	for i := 0; i < 5000; i++ {
		h.q.Add(fmt.Sprint(i))
	}
	h.eng.RunUntil(sim.Time(time.Hour))
	if len(h.log) != 5000 || h.q.Len() != 0 || cap(h.q.fifo) > 8192 {
		t.Fatalf("synced %d, left %d, fifo cap %d", len(h.log), h.q.Len(), cap(h.q.fifo))
	}
	if h.log[4999] != "4999@5s" {
		t.Fatalf("last sync %s", h.log[4999])
	}
}
