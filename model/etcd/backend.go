package etcd

import (
	"errors"

	"github.com/kubesim/kubesim/sim"
)

// Backend is the store the apiserver and the cluster use: the modeled *Store in
// simulation, a real etcd behind an in-process mirror in real-run mode
// (model/etcd/real). Every method runs on the engine goroutine; done and watch
// callbacks run there too. The contract is the one documented on *Store: commits
// apply in proposal order, watches deliver events synchronously in revision order,
// Get and Range read the applied state.
type Backend interface {
	// Commit proposes op; done runs on the engine once it is committed and applied.
	Commit(op Op, done func(Result))
	// Apply commits op at once (loading initial state before the run starts).
	Apply(op Op) Result
	// LinearizableRead runs fn once a linearizable read may be served.
	LinearizableRead(fn func(err error))
	Get(key string) (KeyValue, bool)
	Range(prefix string) ([]KeyValue, int64)
	Watch(prefix string, fromRev int64, fn func(Event)) (*Watcher, error)
	Compact(rev int64) error
	Revision() int64
	CompactRevision() int64
	// Len is the number of keys.
	Len() int
	// Available reports whether writes can commit (quorum).
	Available() bool

	MemberFaults
}

// MemberFaults is what fault injection asks of the store: the members of the
// modeled cluster and their failures. A real store has no modeled members: it
// answers with ErrFaultUnsupported.
type MemberFaults interface {
	Members() int
	MemberUp(i int) bool
	Leader() int
	LoseMember(i int) (resume sim.Time, err error)
	LoseLeader() (member int, resume sim.Time, err error)
	RestoreMember(i int) (resume sim.Time, err error)
	SetFsyncFactor(i int, factor float64) error
}

// ErrFaultUnsupported is returned by a store that cannot inject a modeled fault (the
// real etcd of real-run mode cannot lose a modeled member or slow its disk).
var ErrFaultUnsupported = errors.New("etcd: this fault needs the modeled etcd; the real etcd of real-run mode cannot inject it")

var _ Backend = (*Store)(nil)
