package etcd

import (
	"errors"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

func constStore(t *testing.T, members int, rtts ...time.Duration) (*sim.Engine, *Store) {
	t.Helper()
	eng := sim.New(3)
	cfg := DefaultConfig()
	cfg.Members = members
	cfg.Fsync = dist.Const(time.Millisecond)
	cfg.RTT = dist.Const(2 * time.Millisecond)
	s, err := New(eng, cfg, dist.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return eng, s
}

// TestMemberLoss: commit latency is computed over the running members; losing the
// quorum makes writes and linearizable reads fail after the timeout; restoring a
// member gives back a leader after an election.
func TestMemberLoss(t *testing.T) {
	tests := []struct {
		name      string
		members   int
		lose      []int
		quorum    bool
		wantLeadr bool
	}{
		{"3 members, one follower lost", 3, []int{2}, true, true},
		{"3 members, two followers lost", 3, []int{1, 2}, false, false},
		{"5 members, two followers lost", 5, []int{3, 4}, true, true},
		{"5 members, three lost", 5, []int{2, 3, 4}, false, false},
		{"1 member lost", 1, []int{0}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng, s := constStore(t, tc.members)
			for _, m := range tc.lose {
				if _, err := s.LoseMember(m); err != nil {
					t.Fatal(err)
				}
			}
			if s.Available() != tc.quorum || (s.Leader() >= 0) != tc.wantLeadr {
				t.Fatalf("available %v leader %d, want quorum %v", s.Available(), s.Leader(), tc.quorum)
			}
			r := commit(t, eng, s, Op{Type: Put, Key: "/a", Value: 1})
			var readErr error
			readAt := sim.Time(-1)
			s.LinearizableRead(func(err error) { readErr, readAt = err, eng.Now() })
			eng.Run()
			if tc.quorum {
				if r.Err != nil || readErr != nil {
					t.Fatalf("write %v read %v with quorum", r.Err, readErr)
				}
				return
			}
			if !errors.Is(r.Err, ErrNoQuorum) || eng.Now() < sim.Time(NoQuorumTimeout) {
				t.Fatalf("write without quorum: %v at %v, want ErrNoQuorum after %v", r.Err, eng.Now(), NoQuorumTimeout)
			}
			if !errors.Is(readErr, ErrNoQuorum) || readAt.Sub(sim.Time(NoQuorumTimeout)) < 0 {
				t.Fatalf("read without quorum: %v at %v", readErr, readAt)
			}
			// Restore members until a quorum runs again: a leader is elected.
			var resume sim.Time
			for i := len(tc.lose) - 1; i >= 0 && !s.Available(); i-- {
				var err error
				if resume, err = s.RestoreMember(tc.lose[i]); err != nil {
					t.Fatal(err)
				}
			}
			if !s.Available() {
				t.Fatal("no quorum after restoring the members")
			}
			start := eng.Now()
			if et := s.Config().ElectionTimeout; resume.Sub(start) < et || resume.Sub(start) > 2*et+10*time.Millisecond {
				t.Fatalf("election took %v, want within [%v, %v + a vote round]", resume.Sub(start), et, 2*et)
			}
			r = commit(t, eng, s, Op{Type: Put, Key: "/a", Value: 2})
			if r.Err != nil || eng.Now() < resume {
				t.Fatalf("write after restore: %v at %v (election ends %v)", r.Err, eng.Now(), resume)
			}
		})
	}
}

// TestLatencyOverRemainingMembers: with followers 2 ms and 6 ms away, losing the fast
// one makes every commit wait for the slow one.
func TestLatencyOverRemainingMembers(t *testing.T) {
	_, s := constStore(t, 3)
	if got := s.CommitLatency(); got != 3*time.Millisecond {
		t.Fatalf("healthy latency %v, want 3ms", got)
	}
	if err := s.SetFsyncFactor(2, 5); err != nil { // member 2's disk is slow: 5 ms fsync
		t.Fatal(err)
	}
	if got := s.CommitLatency(); got != 3*time.Millisecond {
		t.Fatalf("with one slow follower the fast one makes the quorum: %v, want 3ms", got)
	}
	if _, err := s.LoseMember(1); err != nil {
		t.Fatal(err)
	}
	if got := s.CommitLatency(); got != 7*time.Millisecond { // 2 ms RTT + 5 ms fsync
		t.Fatalf("latency over the remaining slow follower %v, want 7ms", got)
	}
	if err := s.SetFsyncFactor(-1, 10); err != nil {
		t.Fatal(err)
	}
	if got := s.CommitLatency(); got != 12*time.Millisecond {
		t.Fatalf("all disks 10× slower: %v, want 12ms", got)
	}
	if _, err := s.LoseMember(1); err == nil {
		t.Fatal("losing a member twice succeeded")
	}
	if err := s.SetFsyncFactor(0, 0); err == nil {
		t.Fatal("factor 0 accepted")
	}
}

// TestLeaderLossStallsWrites: a write proposed right after the leader dies commits
// after the election (electionTimeout + randomized part − time since the last
// heartbeat + a vote round), not before; the same seed gives the same election.
func TestLeaderLossStallsWrites(t *testing.T) {
	var first time.Duration
	for run := 0; run < 2; run++ {
		eng, s := constStore(t, 3)
		eng.RunUntil(sim.Time(time.Second))
		old, resume, err := s.LoseLeader()
		if err != nil || old != 0 {
			t.Fatalf("lost %d: %v", old, err)
		}
		if s.Leader() == old || s.Leader() < 0 {
			t.Fatalf("new leader %d", s.Leader())
		}
		now := eng.Now()
		stall := resume.Sub(now)
		et, hb := s.Config().ElectionTimeout, s.Config().HeartbeatInterval
		if stall < et-hb || stall > 2*et+5*time.Millisecond {
			t.Fatalf("stall %v outside [%v, %v]", stall, et-hb, 2*et)
		}
		r := commit(t, eng, s, Op{Type: Put, Key: "/a", Value: 1})
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if lat := eng.Now().Sub(now); lat != stall+3*time.Millisecond {
			t.Fatalf("write latency %v, want the stall %v + 3ms", lat, stall)
		}
		if run == 0 {
			first = stall
		} else if stall != first {
			t.Fatalf("same seed, different elections: %v and %v", first, stall)
		}
		// A 3-member cluster survives one leader loss but not a second one.
		if _, _, err := s.LoseLeader(); err != nil {
			t.Fatal(err)
		}
		if s.Available() {
			t.Fatal("quorum with 1 of 3 members")
		}
		if _, _, err := s.LoseLeader(); err == nil {
			t.Fatal("lost a leader without quorum")
		}
	}
}

func TestRaftConfigValidation(t *testing.T) {
	reg := dist.NewRegistry()
	tests := []struct {
		name   string
		hb, et time.Duration
		ok     bool
	}{
		{"defaults", 0, 0, true},
		{"etcd defaults explicit", 100 * time.Millisecond, time.Second, true},
		{"election below 5 heartbeats", 100 * time.Millisecond, 400 * time.Millisecond, false},
		{"election above 50 s", 100 * time.Millisecond, 51 * time.Second, false},
		{"negative heartbeat", -time.Millisecond, time.Second, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.HeartbeatInterval, c.ElectionTimeout = tc.hb, tc.et
			if err := c.Validate(reg); (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
