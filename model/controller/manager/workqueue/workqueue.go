// Package workqueue is the work queue kube-controller-manager gives its controllers,
// modelled on client-go's rate-limiting work queue (k8s.io/client-go/util/workqueue)
// in virtual time.
//
// Keys are deduplicated: a key waiting in the queue is queued once however often it
// is added, and a key added while it is being processed is queued again once its
// sync is done, never processed twice at the same time. Keys are processed one at a
// time in FIFO order, so the order is deterministic.
//
// Simplification: upstream runs several workers on one queue (5 for the Deployment,
// ReplicaSet and EndpointSlice controllers, reference §3 and §3.5); here they are
// collapsed into one serial worker. A sync that waits for API responses holds the
// worker until its Done, as a blocked upstream worker holds its goroutine.
// Throughput is bounded by the shared client rate limit either way; what is lost is
// the overlap between syncs of different keys.
package workqueue

import (
	"time"

	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

// Options configure a queue's retry behaviour.
type Options struct {
	// BaseBackoff and MaxBackoff bound the per-key exponential backoff of
	// AddRateLimited: BaseBackoff·2^failures, capped at MaxBackoff. client-go's
	// DefaultControllerRateLimiter uses 5 ms and 1000 s
	// (staging/src/k8s.io/client-go/util/workqueue/default_rate_limiters.go).
	BaseBackoff, MaxBackoff time.Duration
	// MaxRetries is how many consecutive failures a key may have before it is
	// dropped (the Deployment and EndpointSlice controllers use 15); 0 retries
	// forever, as the ReplicaSet controller does.
	MaxRetries int
}

// DefaultOptions returns client-go's DefaultControllerRateLimiter per-item backoff
// (5 ms doubling up to 1000 s) with unlimited retries. The limiter's overall token
// bucket (10 qps, burst 100) is not modelled.
func DefaultOptions() Options {
	return Options{BaseBackoff: 5 * time.Millisecond, MaxBackoff: 1000 * time.Second}
}

const (
	kindRun int32 = iota
	kindDelayedAdd
)

// Queue is a deduplicating FIFO work queue with one worker.
//
// Contract: the sync function is called with one key at a time, on the engine; it
// must call Done(key, err) exactly once, synchronously or from a later engine
// callback. Until then no other key is processed.
type Queue struct {
	eng     *sim.Engine
	latency dist.Sampler
	sync    func(key string)
	opts    Options

	fifo       []string
	head       int
	dirty      map[string]struct{}
	processing string
	busy       bool
	started    bool
	waiting    map[string]sim.Time // earliest pending AddAfter per key
	failures   map[string]int
	syncs      uint64
	dropped    uint64
}

// New returns a stopped queue. latency is the time from a key's pickup to its sync
// running (work-queue pickup plus sync processing time); sync does the work.
func New(eng *sim.Engine, latency dist.Sampler, sync func(key string), opts Options) *Queue {
	return &Queue{
		eng: eng, latency: latency, sync: sync, opts: opts,
		dirty:    map[string]struct{}{},
		waiting:  map[string]sim.Time{},
		failures: map[string]int{},
	}
}

// Start lets the worker begin (controllers start it once their informers have
// synced, as WaitForCacheSync does). Keys added before are kept in order.
func (q *Queue) Start() {
	q.started = true
	q.kick()
}

// Add queues key unless it is already waiting.
func (q *Queue) Add(key string) {
	if _, ok := q.dirty[key]; ok {
		return
	}
	q.dirty[key] = struct{}{}
	if q.busy && q.processing == key {
		return // queued again by Done
	}
	q.fifo = append(q.fifo, key)
	q.kick()
}

// AddAfter adds key after d. Of several pending delayed adds of one key only the
// earliest is kept, as client-go's delaying queue does. d <= 0 adds at once.
func (q *Queue) AddAfter(key string, d time.Duration) {
	if d <= 0 {
		q.Add(key)
		return
	}
	at := q.eng.Now().Add(d)
	if t, ok := q.waiting[key]; ok && t <= at {
		return
	}
	q.waiting[key] = at
	q.eng.Schedule(at, q, kindDelayedAdd, int64(at), key)
}

// AddRateLimited re-adds key after its backoff and counts a failure.
func (q *Queue) AddRateLimited(key string) {
	n := q.failures[key]
	q.failures[key] = n + 1
	q.AddAfter(key, q.backoff(n))
}

// Forget clears key's failure count.
func (q *Queue) Forget(key string) { delete(q.failures, key) }

// NumRequeues returns key's consecutive failure count.
func (q *Queue) NumRequeues(key string) int { return q.failures[key] }

func (q *Queue) backoff(failures int) time.Duration {
	d := q.opts.BaseBackoff
	for i := 0; i < failures && d < q.opts.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, q.opts.MaxBackoff)
}

// Done ends the sync of key. A nil err forgets the key's failures; an error re-adds
// it rate-limited, or drops it after MaxRetries consecutive failures.
func (q *Queue) Done(key string, err error) {
	if !q.busy || q.processing != key {
		panic("workqueue: Done(" + key + ") without a matching sync")
	}
	q.busy = false
	q.processing = ""
	if _, ok := q.dirty[key]; ok {
		q.fifo = append(q.fifo, key)
	}
	switch {
	case err == nil:
		q.Forget(key)
	case q.opts.MaxRetries > 0 && q.failures[key] >= q.opts.MaxRetries:
		q.Forget(key)
		q.dropped++
	default:
		q.AddRateLimited(key)
	}
	q.kick()
}

// Len returns the number of keys waiting (not counting delayed adds).
func (q *Queue) Len() int { return len(q.fifo) - q.head }

// Busy reports whether a sync is in progress.
func (q *Queue) Busy() bool { return q.busy }

// Syncs returns how many syncs have started.
func (q *Queue) Syncs() uint64 { return q.syncs }

// Dropped returns how many keys were dropped after MaxRetries failures.
func (q *Queue) Dropped() uint64 { return q.dropped }

func (q *Queue) kick() {
	if q.busy || !q.started || q.head == len(q.fifo) {
		return
	}
	q.busy = true
	q.eng.ScheduleAfter(q.latency.Sample(), q, kindRun, 0, nil)
}

// Handle implements sim.Handler.
func (q *Queue) Handle(ev *sim.Event) {
	switch ev.Kind {
	case kindDelayedAdd:
		key := ev.Data.(string)
		if t, ok := q.waiting[key]; !ok || int64(t) != ev.Arg {
			return // superseded by an earlier delayed add
		}
		delete(q.waiting, key)
		q.Add(key)
	case kindRun:
		key := q.fifo[q.head]
		q.fifo[q.head] = ""
		q.head++
		if q.head == len(q.fifo) {
			q.fifo = q.fifo[:0]
			q.head = 0
		} else if q.head >= 1024 && q.head*2 >= len(q.fifo) {
			// Under sustained load the queue may never drain: drop the consumed
			// prefix so memory stays proportional to the waiting keys.
			n := copy(q.fifo, q.fifo[q.head:])
			clear(q.fifo[n:])
			q.fifo = q.fifo[:n]
			q.head = 0
		}
		delete(q.dirty, key)
		q.processing = key
		q.syncs++
		q.sync(key)
	}
}
