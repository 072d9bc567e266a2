// Package realetcd is the apiserver's store in real-run mode: an embedded etcd
// (go.etcd.io/etcd/server/v3/embed, one member, data in a temporary directory,
// client and peer ports on 127.0.0.1) reached through go.etcd.io/etcd/client/v3,
// behind etcd.Backend, the interface of the modeled store. Commit latency is
// measured, not modeled.
//
// How it works. Model code is single-threaded on the engine; etcd's round trips run
// on one worker goroutine. Commit (engine goroutine) encodes the op's value as JSON
// and queues a transaction whose compares mirror the modeled conditions:
//
//   - MustNotExist: create_revision(key) == 0 (the key is absent);
//   - MustExist, ModRevision != 0 or a Delete: create_revision(key) > 0;
//   - ModRevision != 0: mod_revision(key) == ModRevision.
//
// The worker runs the transactions one at a time, in proposal order (the modeled
// store also applies commits in proposal order), and posts each completion onto the
// engine through the poster given at Start (the wall-clock driver's Post). On the
// engine, the completion applies the op to an in-process mirror, a modeled
// *etcd.Store with no latency, so watches, Get and Range keep serving the decoded
// api objects on the engine goroutine, then calls done. The mirror's revisions
// follow etcd's: both start at 1 and a successful one-key transaction adds one.
// Every completion checks that etcd and the mirror agree (success, revision);
// Divergences counts the disagreements (there should be none: nothing else writes
// to this etcd).
//
// Each commit's wall latency (the transaction's round trip, and the queueing before
// it) is kept as a CommitSample for validation and calibration.
//
// Faults of the modeled etcd (member loss, leader election, slow disks) do not exist
// here: those methods return etcd.ErrFaultUnsupported.
package realetcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/sim"
)

// Options configures Start.
type Options struct {
	// Post delivers a function onto the engine goroutine (the wall-clock driver's
	// Post). Required. It must not block for long and must run the functions in the
	// order they were posted.
	Post func(fn func())
	// Dir is where the temporary data directory is made ("" = os.TempDir()).
	Dir string
	// StartTimeout bounds the embedded etcd's start (default 30 s).
	StartTimeout time.Duration
	// RequestTimeout bounds each transaction (default 10 s); a commit that times out
	// fails with etcd.ErrNoQuorum, as the modeled store's unavailable commits do.
	RequestTimeout time.Duration
	// Logger receives etcd's logs (default: none).
	Logger *zap.Logger
	// MaxSamples caps the commit samples kept (default 1,000,000).
	MaxSamples int
}

// CommitSample is one commit, measured.
type CommitSample struct {
	Key       string
	Type      etcd.EventType
	Proposed  time.Time     // wall time of Commit
	Queued    time.Duration // from Commit to the transaction's start (earlier commits first)
	Latency   time.Duration // the transaction's round trip: the etcd commit latency
	Succeeded bool          // the compares held and the write happened
	Revision  int64         // etcd's revision after the transaction
	Err       string        // a transport or timeout error
}

// Store is the real etcd behind etcd.Backend. Its Backend methods run on the engine
// goroutine; Samples, Divergences, Endpoint and Close are safe from any goroutine.
type Store struct {
	eng    *sim.Engine
	mirror *etcd.Store
	opts   Options
	dir    string
	srv    *embed.Etcd
	cli    *clientv3.Client
	ep     string
	ctx    context.Context // cancelled by Close: ends a transaction in flight
	cancel context.CancelFunc

	mu        sync.Mutex
	queue     []job
	wake      chan struct{}
	closed    bool
	inflight  int // queued or running, not yet completed on the engine (engine side)
	samples   []CommitSample
	dropped   uint64
	diverged  []string
	failed    error
	workerEnd chan struct{}
}

var _ etcd.Backend = (*Store)(nil)

type job struct {
	op       etcd.Op
	data     string
	done     func(etcd.Result)
	proposed time.Time
	compact  int64 // > 0: a compaction, not a write
}

// Start starts an embedded etcd in a fresh temporary directory and returns the store
// over it. eng is the engine the mirror lives on. Close stops etcd and removes the
// directory.
func Start(eng *sim.Engine, opts Options) (*Store, error) {
	if eng == nil {
		return nil, errors.New("realetcd: nil engine")
	}
	if opts.Post == nil {
		return nil, errors.New("realetcd: Options.Post is required (it delivers completions onto the engine)")
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 10 * time.Second
	}
	if opts.MaxSamples <= 0 {
		opts.MaxSamples = 1_000_000
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	mirror, err := etcd.New(eng, etcd.Config{Members: 1, Fsync: dist.Const(0), RTT: dist.Const(0)}, dist.NewRegistry())
	if err != nil {
		return nil, fmt.Errorf("realetcd: mirror: %w", err)
	}
	dir, err := os.MkdirTemp(opts.Dir, "kubesim-etcd-")
	if err != nil {
		return nil, fmt.Errorf("realetcd: data directory: %w", err)
	}
	s := &Store{eng: eng, mirror: mirror, opts: opts, dir: dir, wake: make(chan struct{}, 1), workerEnd: make(chan struct{})}
	// Free ports are found by binding :0 and releasing them, so another process may
	// take one before etcd binds it: retry a few times.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if lastErr = s.startServer(attempt); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		_ = os.RemoveAll(dir)
		return nil, lastErr
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{s.ep}, DialTimeout: 5 * time.Second, Logger: opts.Logger})
	if err != nil {
		s.srv.Close()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("realetcd: client for %s: %w", s.ep, err)
	}
	s.cli = cli
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.worker()
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Store) startServer(attempt int) error {
	cport, err := freePort()
	if err != nil {
		return fmt.Errorf("realetcd: free client port: %w", err)
	}
	pport, err := freePort()
	if err != nil {
		return fmt.Errorf("realetcd: free peer port: %w", err)
	}
	curl := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", cport)}
	purl := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", pport)}
	cfg := embed.NewConfig()
	cfg.Name = "kubesim"
	cfg.Dir = fmt.Sprintf("%s/member-%d", s.dir, attempt)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{curl}, []url.URL{curl}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{purl}, []url.URL{purl}
	cfg.InitialCluster = cfg.Name + "=" + purl.String()
	cfg.InitialClusterToken = fmt.Sprintf("kubesim-%d", os.Getpid())
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(s.opts.Logger)
	cfg.Metrics = "basic"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("realetcd: start embedded etcd (client %s, peer %s): %w", curl.Host, purl.Host, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return fmt.Errorf("realetcd: embedded etcd failed while starting: %w", err)
	case <-time.After(s.opts.StartTimeout):
		e.Server.Stop()
		e.Close()
		return fmt.Errorf("realetcd: embedded etcd not ready after %v", s.opts.StartTimeout)
	}
	s.srv, s.ep = e, curl.Host
	return nil
}

// Endpoint returns the client address of the embedded etcd ("127.0.0.1:port").
func (s *Store) Endpoint() string { return s.ep }

// InFlight returns the commits proposed whose completion has not yet run on the
// engine (engine goroutine only). A driver that runs as fast as possible waits for
// a posted completion while it is non-zero.
func (s *Store) InFlight() int { return s.inflight }

// Dir returns the temporary data directory (removed by Close).
func (s *Store) Dir() string { return s.dir }

// Mirror returns the in-process mirror (read-only use: tests and diagnostics).
func (s *Store) Mirror() *etcd.Store { return s.mirror }

// Commit implements etcd.Backend: done runs on the engine once the real transaction
// has completed and the op is applied to the mirror.
func (s *Store) Commit(op etcd.Op, done func(etcd.Result)) {
	j := job{op: op, done: done, proposed: time.Now()}
	if op.Type == etcd.Put {
		b, err := json.Marshal(op.Value)
		if err != nil {
			s.eng.After(0, func() {
				done(etcd.Result{Err: fmt.Errorf("realetcd: encode %s: %w", op.Key, err), Revision: s.mirror.Revision()})
			})
			return
		}
		j.data = string(b)
	}
	if !s.enqueue(j) {
		s.eng.After(0, func() { done(etcd.Result{Err: etcd.ErrNoQuorum, Revision: s.mirror.Revision()}) })
		return
	}
	s.inflight++
}

// enqueue hands j to the worker; false when the store is closed or failed.
func (s *Store) enqueue(j job) bool {
	s.mu.Lock()
	if s.closed || s.failed != nil {
		s.mu.Unlock()
		return false
	}
	s.queue = append(s.queue, j)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

func (s *Store) worker() {
	defer close(s.workerEnd)
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.closed {
			s.mu.Unlock()
			<-s.wake
			s.mu.Lock()
		}
		if s.closed {
			s.mu.Unlock()
			return
		}
		j := s.queue[0]
		s.queue[0] = job{}
		s.queue = s.queue[1:]
		s.mu.Unlock()
		if j.compact > 0 {
			ctx, cancel := context.WithTimeout(s.ctx, s.opts.RequestTimeout)
			_, err := s.cli.Compact(ctx, j.compact)
			cancel()
			if err != nil {
				s.diverge(fmt.Sprintf("compact to %d: %v", j.compact, err))
			}
			continue
		}
		s.run(j)
	}
}

// txn builds the transaction of op.
func txnOf(ctx context.Context, cli *clientv3.Client, op etcd.Op, data string) clientv3.Txn {
	var cmps []clientv3.Cmp
	if op.Type == etcd.Put && op.MustNotExist {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(op.Key), "=", 0))
	}
	if op.MustExist || op.ModRevision != 0 || op.Type == etcd.Delete {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(op.Key), ">", 0))
	}
	if op.ModRevision != 0 {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(op.Key), "=", op.ModRevision))
	}
	var then clientv3.Op
	if op.Type == etcd.Put {
		then = clientv3.OpPut(op.Key, data)
	} else {
		then = clientv3.OpDelete(op.Key)
	}
	return cli.Txn(ctx).If(cmps...).Then(then)
}

func (s *Store) run(j job) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.RequestTimeout)
	resp, err := txnOf(ctx, s.cli, j.op, j.data).Commit()
	cancel()
	sample := CommitSample{Key: j.op.Key, Type: j.op.Type, Proposed: j.proposed, Queued: start.Sub(j.proposed), Latency: time.Since(start)}
	if err != nil {
		sample.Err = err.Error()
	} else {
		sample.Succeeded, sample.Revision = resp.Succeeded, resp.Header.Revision
	}
	s.mu.Lock()
	if len(s.samples) < s.opts.MaxSamples {
		s.samples = append(s.samples, sample)
	} else {
		s.dropped++
	}
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return
	}
	s.opts.Post(func() { s.complete(j, sample, err) })
}

// complete runs on the engine: apply to the mirror, check agreement, call done.
func (s *Store) complete(j job, sample CommitSample, err error) {
	s.inflight--
	if err != nil {
		// The transaction's outcome is unknown (timeout, etcd gone): the mirror can no
		// longer be trusted to follow etcd, so the store stops accepting writes.
		s.mu.Lock()
		if s.failed == nil {
			s.failed = fmt.Errorf("realetcd: commit of %s: %w", j.op.Key, err)
		}
		s.mu.Unlock()
		j.done(etcd.Result{Err: etcd.ErrNoQuorum, Revision: s.mirror.Revision()})
		return
	}
	res := s.mirror.Apply(j.op)
	if ok := res.Err == nil; ok != sample.Succeeded {
		s.diverge(fmt.Sprintf("%s %s: etcd succeeded=%t, mirror %v", j.op.Type, j.op.Key, sample.Succeeded, res.Err))
	} else if ok && res.Revision != sample.Revision {
		s.diverge(fmt.Sprintf("%s %s: etcd revision %d, mirror %d", j.op.Type, j.op.Key, sample.Revision, res.Revision))
	}
	j.done(res)
}

func (s *Store) diverge(msg string) {
	s.mu.Lock()
	s.diverged = append(s.diverged, msg)
	s.mu.Unlock()
}

// Divergences returns the disagreements between etcd and the mirror (none expected).
func (s *Store) Divergences() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.diverged)
}

// Err returns the error that made the store stop accepting writes, if any.
func (s *Store) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// Samples returns a copy of the commit samples, in commit order.
func (s *Store) Samples() []CommitSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.samples)
}

// DroppedSamples counts the samples not kept beyond Options.MaxSamples.
func (s *Store) DroppedSamples() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Apply implements etcd.Backend: it commits op synchronously (blocking the engine
// for one round trip), for loading initial state. It fails while commits are in
// flight, as applying out of proposal order would break the mirror.
func (s *Store) Apply(op etcd.Op) etcd.Result {
	if s.inflight > 0 {
		return etcd.Result{Err: fmt.Errorf("realetcd: Apply of %s while %d commits are in flight (Apply is for initial state)", op.Key, s.inflight), Revision: s.mirror.Revision()}
	}
	if !s.Available() {
		return etcd.Result{Err: etcd.ErrNoQuorum, Revision: s.mirror.Revision()}
	}
	var data string
	if op.Type == etcd.Put {
		b, err := json.Marshal(op.Value)
		if err != nil {
			return etcd.Result{Err: fmt.Errorf("realetcd: encode %s: %w", op.Key, err), Revision: s.mirror.Revision()}
		}
		data = string(b)
	}
	j := job{op: op, data: data, proposed: time.Now()}
	start := time.Now()
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.RequestTimeout)
	resp, err := txnOf(ctx, s.cli, op, data).Commit()
	cancel()
	sample := CommitSample{Key: op.Key, Type: op.Type, Proposed: j.proposed, Latency: time.Since(start)}
	if err != nil {
		sample.Err = err.Error()
	} else {
		sample.Succeeded, sample.Revision = resp.Succeeded, resp.Header.Revision
	}
	s.mu.Lock()
	if len(s.samples) < s.opts.MaxSamples {
		s.samples = append(s.samples, sample)
	}
	s.mu.Unlock()
	var res etcd.Result
	s.inflight++
	j.done = func(r etcd.Result) { res = r }
	s.complete(j, sample, err)
	return res
}

// LinearizableRead implements etcd.Backend. Reads are served from the mirror (the
// apiserver's watch cache), which reflects every completed commit.
func (s *Store) LinearizableRead(fn func(err error)) {
	if !s.Available() {
		s.eng.After(0, func() { fn(etcd.ErrNoQuorum) })
		return
	}
	fn(nil)
}

// Get implements etcd.Backend (from the mirror).
func (s *Store) Get(key string) (etcd.KeyValue, bool) { return s.mirror.Get(key) }

// Range implements etcd.Backend (from the mirror).
func (s *Store) Range(prefix string) ([]etcd.KeyValue, int64) { return s.mirror.Range(prefix) }

// Watch implements etcd.Backend (from the mirror, which applies commits as they
// complete, in revision order).
func (s *Store) Watch(prefix string, fromRev int64, fn func(etcd.Event)) (*etcd.Watcher, error) {
	return s.mirror.Watch(prefix, fromRev, fn)
}

// Compact implements etcd.Backend: the mirror compacts at once, etcd after the
// commits already queued.
func (s *Store) Compact(rev int64) error {
	if err := s.mirror.Compact(rev); err != nil {
		return err
	}
	s.enqueue(job{compact: rev})
	return nil
}

// Revision implements etcd.Backend.
func (s *Store) Revision() int64 { return s.mirror.Revision() }

// CompactRevision implements etcd.Backend.
func (s *Store) CompactRevision() int64 { return s.mirror.CompactRevision() }

// Len implements etcd.Backend.
func (s *Store) Len() int { return s.mirror.Len() }

// Available implements etcd.Backend: false once closed or after a failed commit.
func (s *Store) Available() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed && s.failed == nil
}

// Members implements etcd.MemberFaults: the embedded etcd has one member.
func (s *Store) Members() int { return 1 }

// MemberUp implements etcd.MemberFaults.
func (s *Store) MemberUp(i int) bool { return i == 0 && s.Available() }

// Leader implements etcd.MemberFaults.
func (s *Store) Leader() int {
	if s.Available() {
		return 0
	}
	return -1
}

// LoseMember implements etcd.MemberFaults: not available on the real etcd.
func (s *Store) LoseMember(int) (sim.Time, error) {
	return 0, fmt.Errorf("lose etcd member: %w", etcd.ErrFaultUnsupported)
}

// LoseLeader implements etcd.MemberFaults: not available on the real etcd.
func (s *Store) LoseLeader() (int, sim.Time, error) {
	return -1, 0, fmt.Errorf("lose etcd leader: %w", etcd.ErrFaultUnsupported)
}

// RestoreMember implements etcd.MemberFaults: not available on the real etcd.
func (s *Store) RestoreMember(int) (sim.Time, error) {
	return 0, fmt.Errorf("restore etcd member: %w", etcd.ErrFaultUnsupported)
}

// SetFsyncFactor implements etcd.MemberFaults: not available on the real etcd.
func (s *Store) SetFsyncFactor(int, float64) error {
	return fmt.Errorf("slow etcd disk: %w", etcd.ErrFaultUnsupported)
}

// Close stops the worker (queued commits are dropped: their done never runs), the
// client and the embedded etcd, and removes the data directory. Calling it twice is
// harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.queue = nil
	s.mu.Unlock()
	s.cancel()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	var errs []error
	select {
	case <-s.workerEnd:
	case <-time.After(s.opts.RequestTimeout + time.Second):
		errs = append(errs, errors.New("realetcd: worker still running after Close"))
	}
	if err := s.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		errs = append(errs, fmt.Errorf("realetcd: close client: %w", err))
	}
	stopped := make(chan struct{})
	go func() { s.srv.Close(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		errs = append(errs, errors.New("realetcd: embedded etcd did not stop within 30s"))
	}
	if err := os.RemoveAll(s.dir); err != nil {
		errs = append(errs, fmt.Errorf("realetcd: remove %s: %w", s.dir, err))
	}
	return errors.Join(errs...)
}
