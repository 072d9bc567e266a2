package etcd

import (
	"errors"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

func newStore(t *testing.T, members int) (*sim.Engine, *Store) {
	t.Helper()
	eng := sim.New(1)
	cfg := DefaultConfig()
	cfg.Members = members
	s, err := New(eng, cfg, dist.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return eng, s
}

func commit(t *testing.T, eng *sim.Engine, s *Store, op Op) Result {
	t.Helper()
	var got *Result
	s.Commit(op, func(r Result) { got = &r })
	eng.Run()
	if got == nil {
		t.Fatal("commit never completed")
	}
	return *got
}

func TestRevisions(t *testing.T) {
	eng, s := newStore(t, 3)
	r1 := commit(t, eng, s, Op{Type: Put, Key: "/a", Value: "1", MustNotExist: true})
	r2 := commit(t, eng, s, Op{Type: Put, Key: "/b", Value: "1", MustNotExist: true})
	r3 := commit(t, eng, s, Op{Type: Put, Key: "/a", Value: "2", MustExist: true})
	if r1.Revision != 2 || r2.Revision != 3 || r3.Revision != 4 {
		t.Fatalf("revisions %d %d %d, want 2 3 4 (etcd starts at 1)", r1.Revision, r2.Revision, r3.Revision)
	}
	kv, _ := s.Get("/a")
	if kv.CreateRevision != 2 || kv.ModRevision != 4 || kv.Version != 2 || kv.Value != "2" {
		t.Fatalf("kv = %+v", kv)
	}
	if r3.Prev == nil || r3.Prev.Value != "1" {
		t.Fatalf("prev = %+v", r3.Prev)
	}
}

func TestConditions(t *testing.T) {
	tests := []struct {
		name string
		op   Op
		want error
	}{
		{"create existing", Op{Type: Put, Key: "/a", MustNotExist: true}, ErrKeyExists},
		{"update missing", Op{Type: Put, Key: "/zz", MustExist: true}, ErrKeyNotFound},
		{"stale mod revision", Op{Type: Put, Key: "/a", ModRevision: 1}, ErrConflict},
		{"current mod revision", Op{Type: Put, Key: "/a", ModRevision: 2}, nil},
		{"delete missing", Op{Type: Delete, Key: "/zz"}, ErrKeyNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng, s := newStore(t, 1)
			commit(t, eng, s, Op{Type: Put, Key: "/a", Value: 1})
			before := s.Revision()
			r := commit(t, eng, s, tc.op)
			if !errors.Is(r.Err, tc.want) {
				t.Fatalf("err = %v, want %v", r.Err, tc.want)
			}
			if tc.want != nil && s.Revision() != before {
				t.Fatalf("failed op bumped the revision")
			}
		})
	}
}

func TestCommitLatencyAndOrder(t *testing.T) {
	for _, members := range []int{1, 3, 5} {
		eng, s := newStore(t, members)
		var times []sim.Time
		var revs []int64
		for i := 0; i < 200; i++ {
			s.Commit(Op{Type: Put, Key: "/k", Value: i}, func(r Result) {
				times = append(times, eng.Now())
				revs = append(revs, r.Revision)
			})
		}
		eng.Run()
		for i := 1; i < len(revs); i++ {
			if revs[i] != revs[i-1]+1 || times[i] < times[i-1] {
				t.Fatalf("members=%d: commits out of order at %d", members, i)
			}
		}
		// A single write costs at least one fsync; with followers at least a round trip.
		eng2, s2 := newStore(t, members)
		var lat time.Duration
		s2.Commit(Op{Type: Put, Key: "/x"}, func(Result) { lat = eng2.Now().Duration() })
		eng2.Run()
		if lat <= 0 || lat > 20*time.Millisecond {
			t.Fatalf("members=%d: write latency %v out of range", members, lat)
		}
	}
}

func TestQuorumLatencyGrowsWithSlowFollowers(t *testing.T) {
	// With a constant fsync and RTT the latency is exactly max(fsync, rtt+fsync).
	eng := sim.New(1)
	cfg := Config{Members: 3, Fsync: dist.Const(time.Millisecond), RTT: dist.Const(2 * time.Millisecond)}
	s, err := New(eng, cfg, dist.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CommitLatency(); got != 3*time.Millisecond {
		t.Fatalf("latency %v, want 3ms", got)
	}
	cfg.Members = 1
	s1, _ := New(eng, cfg, dist.NewRegistry())
	if got := s1.CommitLatency(); got != time.Millisecond {
		t.Fatalf("single member latency %v, want 1ms", got)
	}
}

func TestWatchAndCompaction(t *testing.T) {
	eng, s := newStore(t, 1)
	for i := 0; i < 5; i++ {
		commit(t, eng, s, Op{Type: Put, Key: "/p/a", Value: i})
	}
	commit(t, eng, s, Op{Type: Put, Key: "/q/b", Value: 0})
	commit(t, eng, s, Op{Type: Delete, Key: "/p/a"})
	// From revision 4: puts at 4,5,6 then the delete at 8; /q is another prefix.
	var got []int64
	var types []EventType
	w, err := s.Watch("/p/", 4, func(ev Event) { got = append(got, ev.KV.ModRevision); types = append(types, ev.Type) })
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{4, 5, 6, 8}
	if len(got) != len(want) {
		t.Fatalf("replayed %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("replayed %v, want %v", got, want)
		}
	}
	if types[3] != Delete {
		t.Fatalf("last event %v, want DELETE", types[3])
	}
	commit(t, eng, s, Op{Type: Put, Key: "/p/c", Value: 1})
	if got[len(got)-1] != 9 {
		t.Fatalf("live event not delivered: %v", got)
	}
	w.Stop()
	commit(t, eng, s, Op{Type: Put, Key: "/p/d", Value: 1})
	if got[len(got)-1] != 9 {
		t.Fatalf("event delivered after Stop")
	}
	if err := s.Compact(6); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Watch("/p/", 5, func(Event) {}); !errors.Is(err, ErrCompacted) {
		t.Fatalf("watch below compaction: err = %v", err)
	}
	if _, err := s.Watch("/p/", 7, func(Event) {}); err != nil {
		t.Fatalf("watch above compaction: %v", err)
	}
	if err := s.Compact(3); !errors.Is(err, ErrCompacted) {
		t.Fatalf("compacting backwards: err = %v", err)
	}
}

func TestRangeSorted(t *testing.T) {
	eng, s := newStore(t, 1)
	for _, k := range []string{"/r/c", "/r/a", "/x", "/r/b"} {
		commit(t, eng, s, Op{Type: Put, Key: k, Value: k})
	}
	kvs, rev := s.Range("/r/")
	if len(kvs) != 3 || kvs[0].Key != "/r/a" || kvs[2].Key != "/r/c" || rev != s.Revision() {
		t.Fatalf("range = %+v at %d", kvs, rev)
	}
}

func TestUnavailableTimesOut(t *testing.T) {
	eng, s := newStore(t, 3)
	s.SetAvailable(false)
	r := commit(t, eng, s, Op{Type: Put, Key: "/a"})
	if !errors.Is(r.Err, ErrNoQuorum) || eng.Now() != sim.Time(60*time.Second) {
		t.Fatalf("err %v at %v, want no quorum after 60s", r.Err, eng.Now())
	}
}

func TestConfigValidation(t *testing.T) {
	reg := dist.NewRegistry()
	bad := DefaultConfig()
	bad.Members = 2
	if err := bad.Validate(reg); err == nil {
		t.Fatal("2 members accepted")
	}
	bad = DefaultConfig()
	bad.Fsync = dist.Spec{Kind: "weibull"}
	if err := bad.Validate(reg); err == nil {
		t.Fatal("unknown distribution accepted")
	}
}

// TestHistoryAcrossBlocks replays and compacts a history longer than several of
// its blocks: every event above the compacted revision is replayed once, in order,
// and the length follows the compactions.
func TestHistoryAcrossBlocks(t *testing.T) {
	eng, s := newStore(t, 1)
	const n = 3*historyChunk + 17
	for i := 0; i < n; i++ {
		s.Apply(Op{Type: Put, Key: "/p/a", Value: i})
	}
	eng.Run()
	check := func(from int64) {
		t.Helper()
		next := from
		if _, err := s.Watch("/p/", from, func(ev Event) {
			if ev.KV.ModRevision != next {
				t.Fatalf("from %d: event at revision %d, want %d", from, ev.KV.ModRevision, next)
			}
			if next > 2 && (ev.PrevKV == nil || ev.PrevKV.ModRevision != next-1) {
				t.Fatalf("from %d: event at %d has prev %+v", from, next, ev.PrevKV)
			}
			next++
		}); err != nil {
			t.Fatal(err)
		}
		if next != s.Revision()+1 {
			t.Fatalf("from %d: replay ended at %d, want %d", from, next, s.Revision()+1)
		}
	}
	check(2)
	check(historyChunk + 5)
	for _, rev := range []int64{10, historyChunk - 1, historyChunk + 1, 2*historyChunk + 3, int64(n)} {
		if err := s.Compact(rev); err != nil {
			t.Fatal(err)
		}
		if got, want := s.HistoryLen(), int(s.Revision()-rev); got != want {
			t.Fatalf("after compacting to %d: %d events kept, want %d", rev, got, want)
		}
		check(rev + 1)
	}
	s.Apply(Op{Type: Put, Key: "/p/a", Value: -1})
	check(int64(n) + 1)
}
