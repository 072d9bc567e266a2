package runtime

import (
	"reflect"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/network"
	"github.com/kubesim/kubesim/sim"
)

type outcome struct {
	id     uint64
	ok     bool
	reason string
	at     time.Duration // since the requests were sent
}

// serving starts a web:1 container (2 workers, backlog 1, 10 ms per request) at
// 10.244.1.2:80 and returns its listener.
func serving(t *testing.T) (*sim.Engine, *Modeled, string, network.Listener) {
	t.Helper()
	eng, m, fab, _ := newModeled(t, constCfg())
	m.PullImage("web:1", nil)
	eng.Run()
	id := started(t, eng, m, "web:1", "10.244.1.2")
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	l, ok := fab.Lookup("10.244.1.2:80")
	if !ok {
		t.Fatal("not listening")
	}
	return eng, m, id, l
}

func send(eng *sim.Engine, l network.Listener, n int, out *[]outcome) {
	t0 := eng.Now()
	for i := 0; i < n; i++ {
		l.Accept(&network.Request{ID: uint64(i), Sent: t0, Done: func(r *network.Request, ok bool, reason string) {
			*out = append(*out, outcome{r.ID, ok, reason, eng.Now().Sub(t0)})
		}})
	}
}

func TestListenerConcurrencyAndBacklog(t *testing.T) {
	tests := []struct {
		name string
		n    int
		want []outcome
	}{
		{"one request", 1, []outcome{{0, true, "", 10 * time.Millisecond}}},
		{"two workers serve two at once", 2, []outcome{
			{0, true, "", 10 * time.Millisecond}, {1, true, "", 10 * time.Millisecond}}},
		{"third waits in the backlog", 3, []outcome{
			{0, true, "", 10 * time.Millisecond}, {1, true, "", 10 * time.Millisecond}, {2, true, "", 20 * time.Millisecond}}},
		{"beyond the backlog: 503", 5, []outcome{
			{3, false, "503 overloaded", 0}, {4, false, "503 overloaded", 0},
			{0, true, "", 10 * time.Millisecond}, {1, true, "", 10 * time.Millisecond}, {2, true, "", 20 * time.Millisecond}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng, _, _, l := serving(t)
			var got []outcome
			send(eng, l, tc.n, &got)
			lis := l.(*listener)
			if busy := lis.inService(); busy != min(tc.n, 2) {
				t.Fatalf("in service %d", busy)
			}
			eng.Run()
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("outcomes\n got %v\nwant %v", got, tc.want)
			}
			if lis.inService() != 0 || lis.waiting() != 0 {
				t.Fatalf("listener not idle: %d busy, %d waiting", lis.inService(), lis.waiting())
			}
		})
	}
}

func TestStopFailsInflightAndQueued(t *testing.T) {
	eng, m, id, l := serving(t)
	var got []outcome
	send(eng, l, 3, &got) // two in service, one queued
	eng.RunUntil(eng.Now() + sim.Time(5*time.Millisecond))
	m.StopContainer(id, 30*time.Second, nil)
	want := []outcome{
		{0, false, "connection reset", 5 * time.Millisecond},
		{1, false, "connection reset", 5 * time.Millisecond},
		{2, false, "connection reset", 5 * time.Millisecond},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("at stop:\n got %v\nwant %v", got, want)
	}
	eng.Run() // cancelled completions must not answer again
	if len(got) != 3 {
		t.Fatalf("requests answered twice: %v", got)
	}
	// A request reaching the closed listener (looked up before the close) is refused.
	send(eng, l, 1, &got)
	if got[3].reason != "connection refused" {
		t.Fatalf("after close: %v", got[3])
	}
}

func TestCrashFailsInflight(t *testing.T) {
	eng, m, id, l := serving(t)
	var got []outcome
	send(eng, l, 1, &got)
	if err := m.Crash(id, 137); err != nil {
		t.Fatal(err)
	}
	eng.Run()
	if len(got) != 1 || got[0].ok || got[0].reason != "connection reset" {
		t.Fatalf("crash: %v", got)
	}
}

// A Done callback that sends the next request at once (a closed-loop client) sees a
// consistent listener.
func TestReentrantDone(t *testing.T) {
	eng, _, _, l := serving(t)
	served := 0
	var next func(r *network.Request, ok bool, reason string)
	next = func(r *network.Request, ok bool, reason string) {
		if !ok {
			t.Fatalf("request failed: %s", reason)
		}
		served++
		if served < 100 {
			l.Accept(&network.Request{ID: uint64(served), Done: next})
		}
	}
	l.Accept(&network.Request{Done: next})
	eng.Run()
	if served != 100 {
		t.Fatalf("served %d", served)
	}
}
