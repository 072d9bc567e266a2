// Package etcd models etcd v3 as kube-apiserver uses it: a revisioned key-value
// store with watches, compaction and a commit-latency model.
//
// Every committed write gets the next cluster-wide revision; each key keeps its create
// revision, mod revision and version (etcd's mvccpb.KeyValue). Watches deliver events
// in revision order from any revision still in history; reading or watching below the
// compacted revision fails with ErrCompacted (reference §6.1; ETCD
// learning/api_guarantees.md).
//
// A write is proposed when the request reaches the leader and commits after the
// leader's WAL fsync and, in parallel, one round trip plus fsync on enough followers
// to form a quorum (reference §6.1: "the minimum per request is member RTT plus
// fdatasync"). Commits are applied in proposal order, so a write never commits
// before an earlier one. Values are opaque to the store (kubesim stores immutable
// api.Object snapshots).
package etcd

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

// Errors returned by the store. Compare with errors.Is.
var (
	ErrCompacted   = errors.New("etcdserver: mvcc: required revision has been compacted")
	ErrKeyExists   = errors.New("key already exists")
	ErrKeyNotFound = errors.New("key not found")
	ErrConflict    = errors.New("mod revision precondition failed")
	ErrNoQuorum    = errors.New("etcdserver: no quorum: request timed out")
)

// Config is the store's configuration. Defaults come from DefaultConfig.
type Config struct {
	// Members is the cluster size: 1, 3 or 5.
	Members int
	// Fsync is the WAL fdatasync latency on every member (SSD: under 1 ms, reference §6.1).
	Fsync dist.Spec
	// RTT is the round trip between the leader and one follower.
	RTT dist.Spec
	// ElectionTimeout is Raft's election timeout (reference §6.1: 1000 ms, at most
	// 50 s); a follower that hears nothing from the leader for a randomized timeout in
	// [ElectionTimeout, 2·ElectionTimeout) campaigns (raft.go randomizedElectionTimeout).
	ElectionTimeout time.Duration
	// HeartbeatInterval is how often the leader sends heartbeats (reference §6.1:
	// 100 ms); the election timeout must be at least 5 times it (server/embed/config.go).
	// Zero means the default, for both.
	HeartbeatInterval time.Duration
}

// DefaultConfig returns a 3-member cluster on SSDs in one zone: fsync log-normal with
// median 0.8 ms and RTT median 0.3 ms, which gives a single-client write latency near
// the 1.6 ms average of etcd's published 3-member benchmark (reference §6.1).
func DefaultConfig() Config {
	return Config{
		Members: 3,
		Fsync:   dist.LogNormal(800*time.Microsecond, 0.4),
		RTT:     dist.LogNormal(300*time.Microsecond, 0.3),

		ElectionTimeout:   1000 * time.Millisecond,
		HeartbeatInterval: 100 * time.Millisecond,
	}
}

// Validate checks the configuration.
func (c *Config) Validate(reg *dist.Registry) error {
	if c.Members != 1 && c.Members != 3 && c.Members != 5 {
		return fmt.Errorf("members must be 1, 3 or 5, got %d", c.Members)
	}
	if err := reg.Validate(c.Fsync); err != nil {
		return fmt.Errorf("fsync: %w", err)
	}
	if err := reg.Validate(c.RTT); err != nil {
		return fmt.Errorf("rtt: %w", err)
	}
	hb, et := c.raftTimes()
	if hb <= 0 {
		return fmt.Errorf("heartbeatInterval: must be positive, got %v", c.HeartbeatInterval)
	}
	if et < 5*hb || et > 50*time.Second {
		return fmt.Errorf("electionTimeout: must be between 5 × heartbeatInterval (%v) and 50s, got %v", 5*hb, et)
	}
	return nil
}

// raftTimes returns the heartbeat interval and election timeout, zero meaning the
// default.
func (c *Config) raftTimes() (hb, et time.Duration) {
	d := DefaultConfig()
	hb, et = c.HeartbeatInterval, c.ElectionTimeout
	if hb == 0 {
		hb = d.HeartbeatInterval
	}
	if et == 0 {
		et = d.ElectionTimeout
	}
	return hb, et
}

// KeyValue is one key's state at a revision.
type KeyValue struct {
	Key            string
	Value          any
	CreateRevision int64
	ModRevision    int64
	Version        int64
}

// EventType is PUT or DELETE.
type EventType uint8

// Event types.
const (
	Put EventType = iota + 1
	Delete
)

func (t EventType) String() string {
	if t == Put {
		return "PUT"
	}
	return "DELETE"
}

// Event is one change, as a watch delivers it. For a DELETE, KV holds the key with the
// deletion's revision as ModRevision and a nil Value; PrevKV holds the value before.
type Event struct {
	Type   EventType
	KV     KeyValue
	PrevKV *KeyValue
}

// Op is one write to commit.
type Op struct {
	Type EventType
	Key  string
	// Value is stored on Put.
	Value any
	// For Put: MustNotExist requires the key to be absent (a create).
	MustNotExist bool
	// ModRevision, when non-zero, requires the key's current mod revision to equal it
	// (optimistic concurrency, as kube-apiserver's GuaranteedUpdate does).
	ModRevision int64
	// MustExist requires the key to be present (updates and deletes).
	MustExist bool
}

// Result is the outcome of a committed Op.
type Result struct {
	Err      error
	Revision int64     // the store revision after the op (the op's revision on success)
	KV       KeyValue  // the key after the op (for Delete: the deleted value)
	Prev     *KeyValue // the key before the op, if it existed
}

// Store is the modeled etcd cluster.
type Store struct {
	eng         *sim.Engine
	cfg         Config
	fsync       []dist.Sampler // per member
	rtt         []dist.Sampler // per member: its round trip from the leader
	kvs         map[string]*KeyValue
	snapshot    func(any) any  // CheckImmutable's copier, nil when off
	snaps       map[string]any // per key: a copy of the value as stored
	mutated     error          // the first change in place found
	rev         int64
	compactRev  int64
	history     history // events with revision > compactRev, in revision order
	watchers    []*Watcher
	lastCommit  sim.Time
	available   bool
	stallUntil  sim.Time
	writes      uint64
	followerLat []time.Duration

	// Membership (faults.go): which members run, which one leads (-1: none, the
	// cluster has no quorum), per-member fsync slowdown factors.
	up          []bool
	leader      int
	fsyncFactor []float64
	election    *rand.Rand
}

// New returns an empty store at revision 1 (etcd starts at 1).
func New(eng *sim.Engine, cfg Config, reg *dist.Registry) (*Store, error) {
	if err := cfg.Validate(reg); err != nil {
		return nil, err
	}
	cfg.HeartbeatInterval, cfg.ElectionTimeout = cfg.raftTimes()
	s := &Store{eng: eng, cfg: cfg, kvs: make(map[string]*KeyValue), rev: 1, available: true}
	for i := 0; i < cfg.Members; i++ {
		s.fsync = append(s.fsync, reg.MustNew(cfg.Fsync, eng.Source(fmt.Sprintf("etcd/member-%d/fsync", i))))
		s.rtt = append(s.rtt, reg.MustNew(cfg.RTT, eng.Source(fmt.Sprintf("etcd/member-%d/rtt", i))))
		s.up = append(s.up, true)
		s.fsyncFactor = append(s.fsyncFactor, 1)
	}
	s.followerLat = make([]time.Duration, cfg.Members)
	s.election = eng.Stream("etcd/election")
	return s, nil
}

// Config returns the store's configuration.
func (s *Store) Config() Config { return s.cfg }

// Revision returns the current revision.
func (s *Store) Revision() int64 { return s.rev }

// CompactRevision returns the revision up to which history was compacted.
func (s *Store) CompactRevision() int64 { return s.compactRev }

// Len returns the number of keys.
func (s *Store) Len() int { return len(s.kvs) }

// Writes returns the number of committed write operations.
func (s *Store) Writes() uint64 { return s.writes }

// SetAvailable makes the cluster accept writes (true) or time them out (false), as
// when it has lost quorum, whatever its members' state. Failure models use it;
// LoseMember and RestoreMember model the members themselves.
func (s *Store) SetAvailable(ok bool) { s.available = ok }

// Available reports whether the cluster has quorum (and was not made unavailable by
// SetAvailable).
func (s *Store) Available() bool { return s.available && s.leader >= 0 }

// StallUntil delays every commit until t, as a leader election does.
func (s *Store) StallUntil(t sim.Time) {
	if t > s.stallUntil {
		s.stallUntil = t
	}
}

// CommitLatency draws the latency of one write: the leader's fsync, in parallel
// with the quorum's fastest running followers (RTT plus their fsync). Members that
// are down do not answer, so losing a fast follower slows commits down.
func (s *Store) CommitLatency() time.Duration {
	leader := max(s.leader, 0)
	lat := s.fsyncOf(leader)
	need := s.cfg.Members / 2 // acknowledgements needed besides the leader
	if need == 0 {
		return lat
	}
	n := 0
	for i := range s.rtt {
		if i == leader || !s.up[i] {
			continue
		}
		s.followerLat[n] = s.rtt[i].Sample() + s.fsyncOf(i)
		n++
	}
	if n < need { // no quorum: Commit does not get here
		return lat
	}
	f := s.followerLat[:n]
	slices.Sort(f)
	return max(lat, f[need-1])
}

// fsyncOf draws member i's WAL fsync, scaled by its slow-disk factor.
func (s *Store) fsyncOf(i int) time.Duration {
	d := s.fsync[i].Sample()
	if f := s.fsyncFactor[i]; f != 1 {
		d = time.Duration(float64(d) * f)
	}
	return d
}

// Commit proposes op now; done runs (as an engine event) once it is committed and
// applied, with the result. Conditions are evaluated at apply time, as etcd evaluates
// a txn's compares when it applies the txn. Commits apply in proposal order.
//
// During a leader election (StallUntil, LoseLeader) a proposal waits for the new
// leader and then takes a normal commit latency. Without quorum it fails with
// ErrNoQuorum after NoQuorumTimeout.
func (s *Store) Commit(op Op, done func(Result)) {
	if !s.Available() {
		s.eng.After(NoQuorumTimeout, func() { done(Result{Err: ErrNoQuorum, Revision: s.rev}) })
		return
	}
	at := max(s.eng.Now(), s.stallUntil).Add(s.CommitLatency())
	at = max(at, s.lastCommit)
	s.lastCommit = at
	s.eng.At(at, func() { done(s.apply(op)) })
}

// Apply commits op immediately, with no latency (used to load initial state).
func (s *Store) Apply(op Op) Result { return s.apply(op) }

// CheckImmutable turns on a debug check of the rule that stored values are
// immutable snapshots (readers share them; nobody may change one in place):
// snapshot takes an independent copy of a value when it is stored, and when the
// key is next written or deleted, and at Immutable, snapshot of the stored value
// must still equal that copy (reflect.DeepEqual). snapshot may clear what the
// caller legitimately fills in once after the commit (the apiserver stamps an
// object's resourceVersion from the commit's revision). The check costs a deep copy per write; the
// tests turn it on, runs do not.
func (s *Store) CheckImmutable(snapshot func(any) any) {
	s.snapshot = snapshot
	s.snaps = map[string]any{}
}

// Immutable returns the first violation of the immutability rule the check found
// (see CheckImmutable), or one found now among the values currently stored.
func (s *Store) Immutable() error {
	if s.mutated != nil || s.snapshot == nil {
		return s.mutated
	}
	keys := make([]string, 0, len(s.kvs))
	for k := range s.kvs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s.verify(k, s.kvs[k])
	}
	return s.mutated
}

func (s *Store) verify(key string, cur *KeyValue) {
	if snap, ok := s.snaps[key]; ok && s.mutated == nil && !reflect.DeepEqual(snap, s.snapshot(cur.Value)) {
		s.mutated = fmt.Errorf("etcd: the value of %s stored at revision %d was changed in place after it was stored:\nstored  %+v\nchanged %+v", key, cur.ModRevision, snap, cur.Value)
	}
}

func (s *Store) apply(op Op) Result {
	cur := s.kvs[op.Key]
	if s.snapshot != nil {
		if cur != nil {
			s.verify(op.Key, cur)
		}
	}
	// A stored KeyValue is never changed after it is stored (a write stores a new
	// one), so the previous state is shared with the event and the result rather
	// than copied (one allocation less per write).
	prev := cur
	switch {
	case op.MustNotExist && cur != nil:
		return Result{Err: ErrKeyExists, Revision: s.rev, Prev: prev}
	case (op.MustExist || op.ModRevision != 0 || op.Type == Delete) && cur == nil:
		return Result{Err: ErrKeyNotFound, Revision: s.rev}
	case op.ModRevision != 0 && cur.ModRevision != op.ModRevision:
		return Result{Err: ErrConflict, Revision: s.rev, Prev: prev}
	}
	s.rev++
	s.writes++
	var ev Event
	if op.Type == Put {
		kv := &KeyValue{Key: op.Key, Value: op.Value, ModRevision: s.rev}
		if cur == nil {
			kv.CreateRevision = s.rev
			kv.Version = 1
		} else {
			kv.CreateRevision = cur.CreateRevision
			kv.Version = cur.Version + 1
		}
		s.kvs[op.Key] = kv
		if s.snapshot != nil {
			s.snaps[op.Key] = s.snapshot(kv.Value)
		}
		ev = Event{Type: Put, KV: *kv, PrevKV: prev}
	} else {
		delete(s.kvs, op.Key)
		delete(s.snaps, op.Key)
		ev = Event{Type: Delete, KV: KeyValue{Key: op.Key, ModRevision: s.rev}, PrevKV: prev}
	}
	s.history.add(ev)
	for _, w := range s.watchers {
		if !w.stopped && strings.HasPrefix(op.Key, w.prefix) {
			w.fn(ev)
		}
	}
	return Result{Revision: s.rev, KV: ev.KV, Prev: prev}
}

// Get returns the current value of key.
func (s *Store) Get(key string) (KeyValue, bool) {
	kv, ok := s.kvs[key]
	if !ok {
		return KeyValue{}, false
	}
	return *kv, true
}

// Range returns every key with the prefix at the current revision, sorted by key,
// and the revision it was read at.
func (s *Store) Range(prefix string) ([]KeyValue, int64) {
	var out []KeyValue
	for k, kv := range s.kvs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, *kv)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, s.rev
}

// Watcher receives the events of one watch.
type Watcher struct {
	prefix  string
	fn      func(Event)
	stopped bool
}

// Stop ends the watch; no event is delivered after it returns.
func (w *Watcher) Stop() { w.stopped = true }

// Watch delivers every event on keys with the prefix, first those in history with a
// revision >= fromRev (fromRev 0 means "from now"), then each new one as it is applied,
// synchronously in revision order. It fails with ErrCompacted when fromRev is at or
// below the compacted revision.
func (s *Store) Watch(prefix string, fromRev int64, fn func(Event)) (*Watcher, error) {
	if fromRev != 0 && fromRev <= s.compactRev {
		return nil, fmt.Errorf("watch %s from revision %d: %w (compacted at %d)", prefix, fromRev, ErrCompacted, s.compactRev)
	}
	w := &Watcher{prefix: prefix, fn: fn}
	if fromRev != 0 {
		for i, n := s.history.search(fromRev), s.history.len(); i < n; i++ {
			if ev := s.history.at(i); strings.HasPrefix(ev.KV.Key, prefix) {
				fn(*ev)
			}
		}
	}
	s.watchers = append(s.watchers, w)
	return w, nil
}

// Compact drops history at and below rev. Later watches from those revisions fail.
func (s *Store) Compact(rev int64) error {
	if rev <= s.compactRev {
		return fmt.Errorf("compact to %d: %w (already compacted at %d)", rev, ErrCompacted, s.compactRev)
	}
	if rev > s.rev {
		return fmt.Errorf("compact to %d: revision is in the future (current %d)", rev, s.rev)
	}
	s.history.dropBefore(s.history.search(rev + 1))
	s.compactRev = rev
	return nil
}

// HistoryLen returns the number of events kept in history.
func (s *Store) HistoryLen() int { return s.history.len() }

// historyChunk is the number of events per block of history.
const historyChunk = 1024

// history is the store's event log in revision order, kept in fixed-size blocks: a
// long run appends hundreds of thousands of events, and one growing slice would
// copy all of them at every doubling (and hold both copies meanwhile). Compaction
// drops whole blocks and clears the dropped events of the first one, so their
// values can be freed.
type history struct {
	chunks [][]Event
	head   int // events dropped from chunks[0]
	n      int // events kept
}

func (h *history) len() int { return h.n }

func (h *history) add(ev Event) {
	if l := len(h.chunks); l == 0 || len(h.chunks[l-1]) == historyChunk {
		h.chunks = append(h.chunks, make([]Event, 0, historyChunk))
	}
	last := &h.chunks[len(h.chunks)-1]
	*last = append(*last, ev)
	h.n++
}

// at returns the i-th kept event (0 = oldest).
func (h *history) at(i int) *Event {
	i += h.head
	return &h.chunks[i/historyChunk][i%historyChunk]
}

// search returns the index of the first kept event with a revision >= rev (len
// when there is none).
func (h *history) search(rev int64) int {
	return sort.Search(h.n, func(i int) bool { return h.at(i).KV.ModRevision >= rev })
}

// dropBefore forgets the first i kept events.
func (h *history) dropBefore(i int) {
	if i <= 0 {
		return
	}
	end := h.head + i
	full := end / historyChunk
	h.chunks = slices.Delete(h.chunks, 0, full) // clears the vacated blocks
	h.head = end % historyChunk
	if len(h.chunks) > 0 {
		clear(h.chunks[0][:h.head])
	}
	h.n -= i
}
