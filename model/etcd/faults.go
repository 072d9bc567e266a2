package etcd

import (
	"fmt"
	"time"

	"github.com/kubesim/kubesim/sim"
)

// Member failures, leader elections and slow disks.
//
// The model keeps which members run and which one leads. A write needs the leader
// and acknowledgements from Members/2 running followers; with fewer running members
// than a quorum (Members/2 + 1) there is no leader: writes and linearizable reads
// fail with ErrNoQuorum after NoQuorumTimeout.
//
// When the leader is lost (and a quorum still runs), followers notice when their
// randomized election timeout expires without a heartbeat: a draw in
// [ElectionTimeout, 2·ElectionTimeout) (raft randomizedElectionTimeout) counted from
// the last heartbeat they received, which came up to HeartbeatInterval before the
// crash; the first candidate then wins one vote round (a round trip and an fsync of
// its vote). Writes proposed meanwhile wait and commit after the election with a
// normal commit latency (reference §6.1). The same election follows when a quorum
// comes back after having been lost.
//
// Simplifications: a proposal already in flight when the leader dies still commits
// at its time (etcd would fail it and the apiserver retry it); the new leader is
// drawn uniformly among the running members (stream "etcd/election"); a restarted
// member rejoins as a follower at once, with no log catch-up, and does not disrupt
// the leader (etcd's pre-vote).

// NoQuorumTimeout is how long a request to a cluster without quorum waits before it
// fails: kube-apiserver's request timeout (reference §6.2: 60 s).
const NoQuorumTimeout = 60 * time.Second

// Members returns the cluster size.
func (s *Store) Members() int { return s.cfg.Members }

// Leader returns the leading member's index, or -1 when there is no quorum.
func (s *Store) Leader() int { return s.leader }

// MemberUp reports whether member i runs.
func (s *Store) MemberUp(i int) bool { return i >= 0 && i < len(s.up) && s.up[i] }

// LiveMembers returns the number of running members.
func (s *Store) LiveMembers() int {
	n := 0
	for _, u := range s.up {
		if u {
			n++
		}
	}
	return n
}

// Quorum returns the number of members a quorum needs.
func (s *Store) Quorum() int { return s.cfg.Members/2 + 1 }

// ElectingUntil returns the end of the current leader election (a time in the past
// when none runs).
func (s *Store) ElectingUntil() sim.Time { return s.stallUntil }

// LoseMember stops member i. Losing the leader starts an election (when a quorum
// still runs); losing the quorum leaves the cluster without leader. It returns the
// time writes resume (now when they are not interrupted, or the election's end), and
// an error for an unknown or already stopped member.
func (s *Store) LoseMember(i int) (resume sim.Time, err error) {
	if i < 0 || i >= len(s.up) {
		return 0, fmt.Errorf("etcd: no member %d (the cluster has %d)", i, len(s.up))
	}
	if !s.up[i] {
		return 0, fmt.Errorf("etcd: member %d is already down", i)
	}
	s.up[i] = false
	now := s.eng.Now()
	switch {
	case s.LiveMembers() < s.Quorum():
		s.leader = -1
		return now, nil
	case i == s.leader:
		return s.elect(true), nil
	}
	return now, nil
}

// LoseLeader stops the leading member; it returns which member it was and when
// writes resume. It fails when there is no leader.
func (s *Store) LoseLeader() (member int, resume sim.Time, err error) {
	if s.leader < 0 {
		return -1, 0, fmt.Errorf("etcd: there is no leader to lose (no quorum)")
	}
	member = s.leader
	resume, err = s.LoseMember(member)
	return member, resume, err
}

// RestoreMember restarts member i as a follower. When that gives back a quorum, a
// leader is elected; the returned time is when writes resume.
func (s *Store) RestoreMember(i int) (resume sim.Time, err error) {
	if i < 0 || i >= len(s.up) {
		return 0, fmt.Errorf("etcd: no member %d (the cluster has %d)", i, len(s.up))
	}
	if s.up[i] {
		return 0, fmt.Errorf("etcd: member %d is already running", i)
	}
	s.up[i] = true
	if s.leader < 0 && s.LiveMembers() >= s.Quorum() {
		return s.elect(false), nil
	}
	return s.eng.Now(), nil
}

// elect draws the election's duration, picks the new leader among the running
// members and stalls commits until it ends. heard says whether followers were
// hearing a leader until now (so their timers count from its last heartbeat).
func (s *Store) elect(heard bool) sim.Time {
	et := s.cfg.ElectionTimeout
	wait := et + time.Duration(s.election.Int64N(int64(et))) // randomized election timeout
	if heard {
		wait -= time.Duration(s.election.Int64N(int64(s.cfg.HeartbeatInterval))) // since the last heartbeat
	}
	var live []int
	for i, u := range s.up {
		if u {
			live = append(live, i)
		}
	}
	s.leader = live[s.election.IntN(len(live))]
	if len(live) > 1 { // one vote round: request, the voter's fsync, answer
		wait += s.rtt[s.leader].Sample() + s.fsyncOf(s.leader)
	}
	until := s.eng.Now().Add(wait)
	s.StallUntil(until)
	return until
}

// SetFsyncFactor scales member i's fsync latency by factor (a slow or saturated
// disk); i < 0 applies to every member. 1 is normal speed.
func (s *Store) SetFsyncFactor(i int, factor float64) error {
	if factor <= 0 {
		return fmt.Errorf("etcd: fsync factor must be positive, got %g", factor)
	}
	if i >= len(s.up) {
		return fmt.Errorf("etcd: no member %d (the cluster has %d)", i, len(s.up))
	}
	for j := range s.fsyncFactor {
		if i < 0 || j == i {
			s.fsyncFactor[j] = factor
		}
	}
	return nil
}

// FsyncFactor returns member i's fsync slowdown factor.
func (s *Store) FsyncFactor(i int) float64 { return s.fsyncFactor[i] }

// LinearizableRead runs fn once a linearizable read may be served: at once (the
// model charges no ReadIndex latency: the apiserver serves reads from its watch
// cache), after the election when one runs, or with ErrNoQuorum after
// NoQuorumTimeout when the cluster has no quorum. fn runs synchronously in the first
// case, as an engine event otherwise.
func (s *Store) LinearizableRead(fn func(err error)) {
	switch now := s.eng.Now(); {
	case !s.Available():
		s.eng.After(NoQuorumTimeout, func() { fn(ErrNoQuorum) })
	case s.stallUntil > now:
		s.eng.At(s.stallUntil, func() { fn(nil) })
	default:
		fn(nil)
	}
}
