package scheduler

import (
	"maps"
	"reflect"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/sim"
)

// Queue states of a pod.
type qState uint8

const (
	qActive qState = iota + 1
	qBackoff
	qErrorBackoff
	qUnschedulable
	qInFlight // popped: in its scheduling cycle
	qBinding  // scheduled: its binding cycle is running
)

var qStateNames = [...]string{"", "activeQ", "backoffQ", "errorBackoffQ", "unschedulablePods", "in flight", "binding"}

func (s qState) String() string { return qStateNames[s] }

// qEntry is the queue's record of one pending pod.
type qEntry struct {
	info    *framework.QueuedPodInfo
	state   qState
	heapIdx int
	seq     uint64 // insertion order: the last tie-break of every heap
	// since is when the pod entered activeQ or backoffQ (for queueing_delay_seconds).
	since sim.Time
	// rejectors is the set of plug-ins (bits) that rejected the pod in its last attempt.
	rejectors uint64
	// prof is the profile that schedules the pod (its spec.schedulerName): the
	// rejector bits index its plug-ins.
	prof *profileRuntime
	// backoff expiry cache, valid until the next requeue.
	boAt  sim.Time
	boSet bool
	// unschedulablePods is an insertion-ordered list (so also ordered by Timestamp).
	prev, next *qEntry
	// selfUpdated: the pod's spec or labels changed while it was in flight.
	selfUpdated bool
}

// Engine event kinds of the queue.
const (
	evBackoffFlush int32 = iota + 1
	evUnschedulableFlush
)

// schedulingQueue is the scheduling queue of reference §2.2
// (pkg/scheduler/backend/queue/scheduling_queue.go): activeQ (a heap ordered by the
// QueueSort plug-in), backoffQ and errorBackoffQ (heaps ordered by backoff expiry)
// and unschedulablePods. Flushes are engine timers that exist only while there is
// something to flush, so an idle queue schedules no events.
type schedulingQueue struct {
	eng *sim.Engine
	cfg *Config
	rt  *profileRuntime // the QueueSort plug-in's profile (every profile sorts alike)
	// profiles are every profile (by index); profileOf names a pod's profile (nil
	// func or result: rt). interest is onEvent's per-profile buffer.
	profiles  []*profileRuntime
	profileOf func(*api.Pod) *profileRuntime
	interest  []uint64

	entries                  map[api.UID]*qEntry
	active                   entryHeap
	backoff                  entryHeap
	errBackoff               entryHeap
	unschedHead, unschedTail *qEntry
	unschedLen               int
	seq                      uint64

	inFlight *qEntry
	// inFlightInterest is the set of plug-ins interested in the cluster events that
	// arrived while inFlight was in its scheduling cycle (kubesim's replay of
	// in-flight events for QueueingHints).
	inFlightInterest uint64

	start          sim.Time // ticks of the flush loops are aligned to it
	backoffTimer   sim.Timer
	backoffTimerAt sim.Time
	unschedTimer   sim.Timer
	unschedTimerAt sim.Time

	// onPoppable is called when a pod becomes poppable (activeQ, or backoffQ with
	// PopFromBackoffQ); onChange when any queue length changes.
	onPoppable func()
	onChange   func()
}

func newSchedulingQueue(eng *sim.Engine, cfg *Config, rt *profileRuntime) *schedulingQueue {
	q := &schedulingQueue{eng: eng, cfg: cfg, rt: rt, profiles: []*profileRuntime{rt}, entries: map[api.UID]*qEntry{}, start: eng.Now()}
	q.active.less = q.lessActive
	q.backoff.less = q.lessBackoff
	q.errBackoff.less = q.lessErrorBackoff
	return q
}

func (q *schedulingQueue) lessActive(a, b *qEntry) bool {
	if q.rt.queueSort.Less(a.info, b.info) {
		return true
	}
	if q.rt.queueSort.Less(b.info, a.info) {
		return false
	}
	return a.seq < b.seq
}

// lessBackoff orders by expiry, then (with PopFromBackoffQ, whose expiries are whole
// seconds) as activeQ does (backoff_queue.go lessBackoffCompletedWithPriority).
func (q *schedulingQueue) lessBackoff(a, b *qEntry) bool {
	ta, tb := q.backoffTime(a), q.backoffTime(b)
	if ta != tb {
		return ta < tb
	}
	if q.cfg.PopFromBackoffQ {
		return q.lessActive(a, b)
	}
	return a.seq < b.seq
}

func (q *schedulingQueue) lessErrorBackoff(a, b *qEntry) bool {
	ta, tb := q.backoffTime(a), q.backoffTime(b)
	if ta != tb {
		return ta < tb
	}
	return a.seq < b.seq
}

// backoffDuration is min(initial·2^(n−1), max) (reference §2.2; backoff_queue.go).
func (q *schedulingQueue) backoffDuration(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := q.cfg.PodInitialBackoff
	for i := 1; i < n; i++ {
		if d > q.cfg.PodMaxBackoff-d {
			return q.cfg.PodMaxBackoff
		}
		d += d
	}
	return min(d, q.cfg.PodMaxBackoff)
}

// backoffTime is when the pod's backoff ends, from its Timestamp and its
// unschedulable count (or consecutive-error count when its last failure was an
// error); truncated to the second with PopFromBackoffQ. Zero: no backoff.
func (q *schedulingQueue) backoffTime(e *qEntry) sim.Time {
	if e.boSet {
		return e.boAt
	}
	e.boSet = true
	e.boAt = 0
	if q.cfg.PodMaxBackoff > 0 {
		n := e.info.UnschedulableCount
		if e.info.ConsecutiveErrorsCount > 0 {
			n = e.info.ConsecutiveErrorsCount
		}
		if n > 0 {
			t := e.info.Timestamp.Add(q.backoffDuration(n))
			if q.cfg.PopFromBackoffQ {
				t = truncSecond(t)
			}
			e.boAt = t
		}
	}
	e.info.BackoffExpiration = e.boAt
	return e.boAt
}

func truncSecond(t sim.Time) sim.Time { return t - t%sim.Time(time.Second) }

// isBackingOff reports whether the pod must still wait. With PopFromBackoffQ a pod
// whose (truncated) expiry is in the current second still waits (isPodBackingoff).
func (q *schedulingQueue) isBackingOff(e *qEntry) bool {
	bo := q.backoffTime(e)
	if bo == 0 {
		return false
	}
	now := q.eng.Now()
	if q.cfg.PopFromBackoffQ {
		return bo >= truncSecond(now)
	}
	return bo > now
}

// ---------------------------------------------------------------------------
// Adding, updating, deleting

// add queues a new pending pod in activeQ (its Timestamp is now). A known pod is
// updated instead.
func (q *schedulingQueue) add(pi *framework.PodInfo) {
	if e := q.entries[pi.Pod.UID]; e != nil {
		q.update(pi)
		return
	}
	q.seq++
	e := &qEntry{info: &framework.QueuedPodInfo{PodInfo: pi, Timestamp: q.eng.Now()}, seq: q.seq, prof: q.rt}
	if q.profileOf != nil {
		if rt := q.profileOf(pi.Pod); rt != nil {
			e.prof = rt
		}
	}
	q.entries[pi.Pod.UID] = e
	q.toActive(e)
	q.changed()
}

// update replaces a queued pod's object. A pod in unschedulablePods whose spec or
// labels changed is requeued (kubesim's simplification of the pod-update hints);
// status-only updates (such as the scheduler's own PodScheduled condition) change
// nothing else.
func (q *schedulingQueue) update(pi *framework.PodInfo) {
	e := q.entries[pi.Pod.UID]
	if e == nil {
		return
	}
	old := e.info.Pod
	e.info.PodInfo = pi
	relevant := !reflect.DeepEqual(old.Spec, pi.Pod.Spec) || !maps.Equal(old.Labels, pi.Pod.Labels)
	switch e.state {
	case qActive:
		q.active.fix(e)
	case qBackoff:
		q.backoff.fix(e)
	case qErrorBackoff:
		q.errBackoff.fix(e)
	case qUnschedulable:
		if relevant {
			q.unschedRemove(e)
			q.toActiveOrBackoff(e)
			q.changed()
		}
	case qInFlight:
		if relevant {
			e.selfUpdated = true
		}
	}
}

// delete forgets a pod (deleted, or bound by someone). It reports whether the pod
// was queued.
func (q *schedulingQueue) delete(uid api.UID) bool {
	e := q.entries[uid]
	if e == nil {
		return false
	}
	delete(q.entries, uid)
	switch e.state {
	case qActive:
		q.active.remove(e)
	case qBackoff:
		q.backoff.remove(e)
	case qErrorBackoff:
		q.errBackoff.remove(e)
	case qUnschedulable:
		q.unschedRemove(e)
	}
	e.state = 0
	q.changed()
	return true
}

// has reports whether the pod is known to the queue (in any state).
func (q *schedulingQueue) has(uid api.UID) bool { return q.entries[uid] != nil }

// stateOf returns the pod's queue state (0 when unknown).
func (q *schedulingQueue) stateOf(uid api.UID) qState {
	if e := q.entries[uid]; e != nil {
		return e.state
	}
	return 0
}

// ---------------------------------------------------------------------------
// Popping and the outcome of an attempt

// pop takes the next pod: the head of activeQ or, when activeQ is empty and
// PopFromBackoffQ is on, the head of backoffQ even before its backoff ends
// (active_queue.go unlockedPop). It returns nil when nothing is poppable; the
// scheduler then sleeps until onPoppable. delay is how long the pod waited in the
// queue it was popped from.
func (q *schedulingQueue) pop() (info *framework.QueuedPodInfo, delay time.Duration) {
	var e *qEntry
	switch {
	case q.active.len() > 0:
		e = q.active.pop()
	case q.cfg.PopFromBackoffQ && q.backoff.len() > 0:
		e = q.backoff.pop()
	default:
		return nil, 0
	}
	now := q.eng.Now()
	e.state = qInFlight
	e.selfUpdated = false
	e.info.Attempts++
	if e.info.InitialAttemptTimestamp == 0 {
		e.info.InitialAttemptTimestamp = now
	}
	q.inFlight = e
	q.inFlightInterest = 0
	q.changed()
	return e.info, now.Sub(e.since)
}

// scheduled records that the in-flight pod got a node: it stays known (state
// binding) until its binding finishes, so deletes and updates still find it.
func (q *schedulingQueue) scheduled(uid api.UID) {
	if e := q.entries[uid]; e != nil {
		e.state = qBinding
	}
	q.inFlight = nil
}

// done forgets a pod whose binding succeeded (or whose attempt is abandoned).
func (q *schedulingQueue) done(uid api.UID) {
	if e := q.entries[uid]; e != nil && (e.state == qInFlight || e.state == qBinding) {
		delete(q.entries, uid)
	}
	if q.inFlight != nil && q.inFlight.info.Pod.UID == uid {
		q.inFlight = nil
	}
}

// requeueFailed puts back a pod whose attempt failed (AddUnschedulableIfNotPresent).
// rejectors are the plug-ins that rejected it; none means an error. The pod's
// Timestamp becomes now. Destination:
//   - no rejector (error): errorBackoffQ;
//   - a cluster event relevant to a rejector arrived during the attempt (or the pod
//     itself changed): backoffQ while backing off, else activeQ;
//   - otherwise unschedulablePods.
//
// It returns the destination state, or 0 if the pod is no longer known.
func (q *schedulingQueue) requeueFailed(uid api.UID, rejectors uint64, plugins []string) qState {
	e := q.entries[uid]
	if q.inFlight == e {
		q.inFlight = nil
	}
	if e == nil {
		return 0
	}
	info := e.info
	info.Timestamp = q.eng.Now()
	info.UnschedulablePlugins = plugins
	e.rejectors = rejectors
	e.boSet = false
	if rejectors == 0 {
		info.ConsecutiveErrorsCount++
	} else {
		info.UnschedulableCount++
		info.ConsecutiveErrorsCount = 0
	}
	switch {
	case rejectors == 0:
		q.toBackoffHeap(e)
	case e.selfUpdated || rejectors&q.inFlightInterest != 0:
		q.toActiveOrBackoff(e)
	default:
		q.unschedAdd(e)
	}
	e.selfUpdated = false
	q.changed()
	return e.state
}

// ---------------------------------------------------------------------------
// Cluster events

// onEvent moves the unschedulable pods that a rejecting plug-in registered this
// event for (see framework.ClusterEvent for the simplification), and remembers the
// event for the pod in flight. It returns how many pods moved.
func (q *schedulingQueue) onEvent(ev framework.ClusterEvent) int {
	// Each profile has its own plug-ins, so its own interested set.
	interest := q.interest[:0]
	anyInterest := uint64(0)
	for _, rt := range q.profiles {
		x := rt.interested(ev)
		interest = append(interest, x)
		anyInterest |= x
	}
	q.interest = interest
	if q.inFlight != nil {
		q.inFlightInterest |= interest[q.inFlight.prof.index]
	}
	if anyInterest == 0 || q.unschedLen == 0 {
		return 0
	}
	moved := 0
	for e := q.unschedHead; e != nil; {
		next := e.next
		if e.rejectors&interest[e.prof.index] != 0 {
			q.unschedRemove(e)
			q.toActiveOrBackoff(e)
			moved++
		}
		e = next
	}
	if moved > 0 {
		q.changed()
	}
	return moved
}

// ---------------------------------------------------------------------------
// State transitions

func (q *schedulingQueue) toActive(e *qEntry) {
	e.state = qActive
	e.since = q.eng.Now()
	q.active.push(e)
	if q.onPoppable != nil {
		q.onPoppable()
	}
}

// toActiveOrBackoff requeues a pod that may have become schedulable: to backoffQ
// while its backoff runs, else to activeQ (requeuePodWithQueueingStrategy).
func (q *schedulingQueue) toActiveOrBackoff(e *qEntry) {
	if q.isBackingOff(e) {
		q.toBackoffHeap(e)
		return
	}
	q.toActive(e)
}

// toBackoffHeap puts the pod in backoffQ, or errorBackoffQ when its last failure was
// an error (no rejecting plug-in). A pod with no backoff at all goes to activeQ.
func (q *schedulingQueue) toBackoffHeap(e *qEntry) {
	if !q.isBackingOff(e) {
		q.toActive(e)
		return
	}
	e.since = q.eng.Now()
	if e.rejectors == 0 {
		e.state = qErrorBackoff
		q.errBackoff.push(e)
	} else {
		e.state = qBackoff
		q.backoff.push(e)
		if q.cfg.PopFromBackoffQ && q.onPoppable != nil {
			q.onPoppable()
		}
	}
	q.armBackoffFlush()
}

func (q *schedulingQueue) unschedAdd(e *qEntry) {
	e.state = qUnschedulable
	e.prev, e.next = q.unschedTail, nil
	if q.unschedTail != nil {
		q.unschedTail.next = e
	} else {
		q.unschedHead = e
	}
	q.unschedTail = e
	q.unschedLen++
	q.armUnschedulableFlush()
}

func (q *schedulingQueue) unschedRemove(e *qEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		q.unschedHead = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		q.unschedTail = e.prev
	}
	e.prev, e.next = nil, nil
	q.unschedLen--
}

func (q *schedulingQueue) changed() {
	if q.onChange != nil {
		q.onChange()
	}
}

// ---------------------------------------------------------------------------
// Flush loops

// nextBackoffTick returns the flush tick at which a pod with backoff expiry bo
// leaves backoffQ: with PopFromBackoffQ the ticks are whole seconds and the pod
// leaves at the first tick after its (truncated) expiry; without it the 1 s ticks
// start at the scheduler's start and the pod leaves at the first tick at or after it.
func (q *schedulingQueue) nextBackoffTick(bo sim.Time) sim.Time {
	now := q.eng.Now()
	const sec = sim.Time(time.Second)
	var t sim.Time
	if q.cfg.PopFromBackoffQ {
		t = bo + sec
		if t <= now {
			t = truncSecond(now) + sec
		}
		return t
	}
	k := (bo - q.start + sec - 1) / sec
	if k < 0 {
		k = 0
	}
	t = q.start + k*sec
	for t < now { // bounded: at most one step past a stale expiry
		t += sec
	}
	return t
}

func (q *schedulingQueue) armBackoffFlush() {
	var due sim.Time
	have := false
	for _, h := range []*entryHeap{&q.backoff, &q.errBackoff} {
		if h.len() == 0 {
			continue
		}
		t := q.nextBackoffTick(q.backoffTime(h.items[0]))
		if !have || t < due {
			due, have = t, true
		}
	}
	if !have {
		if !q.backoffTimer.IsZero() {
			q.eng.Cancel(q.backoffTimer)
			q.backoffTimer = sim.Timer{}
		}
		return
	}
	if !q.backoffTimer.IsZero() {
		if q.backoffTimerAt == due {
			return
		}
		q.eng.Cancel(q.backoffTimer)
	}
	q.backoffTimerAt = due
	q.backoffTimer = q.eng.Schedule(due, q, evBackoffFlush, 0, nil)
}

// flushBackoff moves every pod whose backoff completed to activeQ
// (flushBackoffQCompleted, every 1 s).
func (q *schedulingQueue) flushBackoff() {
	q.backoffTimer = sim.Timer{}
	moved := false
	for _, h := range []*entryHeap{&q.backoff, &q.errBackoff} {
		for h.len() > 0 && !q.isBackingOff(h.items[0]) {
			q.toActive(h.pop())
			moved = true
		}
	}
	if moved {
		q.changed()
	}
	q.armBackoffFlush()
}

// nextUnschedulableTick is the first 30 s tick (from the scheduler's start) at which
// a pod queued at ts has waited longer than PodMaxInUnschedulablePodsDuration.
func (q *schedulingQueue) nextUnschedulableTick(ts sim.Time) sim.Time {
	const period = sim.Time(30 * time.Second)
	limit := ts.Add(q.cfg.PodMaxInUnschedulablePodsDuration)
	k := (limit-q.start)/period + 1
	if k < 1 {
		k = 1
	}
	t := q.start + k*period
	if now := q.eng.Now(); t <= now {
		t = q.start + ((now-q.start)/period+1)*period
	}
	return t
}

func (q *schedulingQueue) armUnschedulableFlush() {
	if q.unschedHead == nil {
		if !q.unschedTimer.IsZero() {
			q.eng.Cancel(q.unschedTimer)
			q.unschedTimer = sim.Timer{}
		}
		return
	}
	due := q.nextUnschedulableTick(q.unschedHead.info.Timestamp)
	if !q.unschedTimer.IsZero() {
		if q.unschedTimerAt <= due {
			return // an earlier (or equal) tick is already armed; it re-arms itself
		}
		q.eng.Cancel(q.unschedTimer)
	}
	q.unschedTimerAt = due
	q.unschedTimer = q.eng.Schedule(due, q, evUnschedulableFlush, 0, nil)
}

// flushUnschedulable moves pods that waited longer than the limit
// (flushUnschedulablePodsLeftover, every 30 s).
func (q *schedulingQueue) flushUnschedulable() {
	q.unschedTimer = sim.Timer{}
	now := q.eng.Now()
	moved := false
	for e := q.unschedHead; e != nil; {
		next := e.next
		if now.Sub(e.info.Timestamp) <= q.cfg.PodMaxInUnschedulablePodsDuration {
			break // the list is ordered by Timestamp
		}
		q.unschedRemove(e)
		q.toActiveOrBackoff(e)
		moved = true
		e = next
	}
	if moved {
		q.changed()
	}
	q.armUnschedulableFlush()
}

// Handle implements sim.Handler for the flush timers.
func (q *schedulingQueue) Handle(ev *sim.Event) {
	switch ev.Kind {
	case evBackoffFlush:
		q.flushBackoff()
	case evUnschedulableFlush:
		q.flushUnschedulable()
	}
}

// lens returns the queue lengths.
func (q *schedulingQueue) lens() (active, backoff, unschedulable int) {
	return q.active.len(), q.backoff.len() + q.errBackoff.len(), q.unschedLen
}

// ---------------------------------------------------------------------------
// entryHeap is a binary heap of entries that tracks each entry's index, so entries
// can be removed or fixed in O(log n).

type entryHeap struct {
	items []*qEntry
	less  func(a, b *qEntry) bool
}

func (h *entryHeap) len() int { return len(h.items) }

func (h *entryHeap) push(e *qEntry) {
	e.heapIdx = len(h.items)
	h.items = append(h.items, e)
	h.up(e.heapIdx)
}

func (h *entryHeap) pop() *qEntry {
	e := h.items[0]
	h.removeAt(0)
	return e
}

func (h *entryHeap) remove(e *qEntry) {
	if e.heapIdx < len(h.items) && h.items[e.heapIdx] == e {
		h.removeAt(e.heapIdx)
	}
}

func (h *entryHeap) fix(e *qEntry) {
	if e.heapIdx < len(h.items) && h.items[e.heapIdx] == e {
		if !h.down(e.heapIdx) {
			h.up(e.heapIdx)
		}
	}
}

func (h *entryHeap) removeAt(i int) {
	n := len(h.items) - 1
	if i != n {
		h.swap(i, n)
	}
	h.items[n] = nil
	h.items = h.items[:n]
	if i < n {
		if !h.down(i) {
			h.up(i)
		}
	}
}

func (h *entryHeap) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].heapIdx = i
	h.items[j].heapIdx = j
}

func (h *entryHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(h.items[i], h.items[p]) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

// down sifts i down and reports whether it moved.
func (h *entryHeap) down(i int) bool {
	start := i
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.less(h.items[r], h.items[l]) {
			m = r
		}
		if !h.less(h.items[m], h.items[i]) {
			break
		}
		h.swap(i, m)
		i = m
	}
	return i > start
}
