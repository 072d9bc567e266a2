package nodelifecycle

import (
	"fmt"
	"sort"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/sim"
)

// bucket is client-go's token-bucket rate limiter with burst 1
// (flowcontrol.NewTokenBucketRateLimiter(qps, 1)) in virtual time, kept exactly as
// the time at which the bucket is full again. qps ≤ 0 is the never-accepting
// limiter (flowcontrol.NewFakeNeverRateLimiter).
type bucket struct {
	qps      float64
	interval time.Duration
	full     sim.Time
}

func newBucket(qps float64, now sim.Time) bucket {
	b := bucket{qps: qps, full: now}
	if qps > 0 {
		b.interval = time.Duration(float64(time.Second) / qps)
	}
	return b
}

func (b *bucket) tryAccept(now sim.Time) bool {
	if b.qps <= 0 || now < b.full {
		return false
	}
	b.full = now.Add(b.interval)
	return true
}

type qItem struct {
	node string
	uid  api.UID
	at   sim.Time // processAt
}

// zone is one zone's NoExecute taint queue (scheduler.RateLimitedTimedQueue): a
// queue ordered by processAt over a set that keeps a node after it was processed,
// until Remove, so a tainted node is not queued again while it stays not Ready.
type zone struct {
	key    string
	state  ZoneState
	bucket bucket
	queue  []qItem
	set    map[string]bool
}

func (c *Controller) zoneFor(k string) *zone {
	z := c.zones[k]
	if z == nil {
		z = &zone{key: k, state: StateInitial, bucket: newBucket(c.cfg.NodeEvictionRate, c.eng.Now()), set: map[string]bool{}}
		c.zones[k] = z
	}
	return z
}

func (z *zone) add(name string, uid api.UID, now sim.Time) bool {
	if z.set[name] {
		return false
	}
	z.set[name] = true
	z.insert(qItem{node: name, uid: uid, at: now})
	return true
}

func (z *zone) insert(it qItem) {
	i := sort.Search(len(z.queue), func(i int) bool { return z.queue[i].at > it.at })
	z.queue = append(z.queue, qItem{})
	copy(z.queue[i+1:], z.queue[i:])
	z.queue[i] = it
}

func (z *zone) remove(name string) {
	if !z.set[name] {
		return
	}
	delete(z.set, name)
	for i := range z.queue {
		if z.queue[i].node == name {
			z.queue = append(z.queue[:i], z.queue[i+1:]...)
			return
		}
	}
}

// swapLimiter is RateLimitedTimedQueue.SwapLimiter: a new bucket at the new rate,
// drained when the old one had no token left.
func (z *zone) swapLimiter(qps float64, now sim.Time) {
	if z.bucket.qps == qps {
		return
	}
	nb := newBucket(qps, now)
	if qps > 0 && !z.bucket.tryAccept(now) {
		nb.tryAccept(now)
	}
	z.bucket = nb
}

// armTainter schedules the next tainting pass (doNoExecuteTaintingPass runs every
// TaintingPassPeriod upstream): at the first pass tick at which some zone's queue
// head is due and its bucket has a token. Zones whose limiter never accepts do not
// keep the ticker running; swapping their limiter re-arms it.
func (c *Controller) armTainter() {
	var next sim.Time
	found := false
	for _, z := range c.zones {
		if len(z.queue) == 0 || z.bucket.qps <= 0 {
			continue
		}
		at := max(z.bucket.full, z.queue[0].at)
		if !found || at < next {
			next, found = at, true
		}
	}
	if !found {
		return
	}
	now := c.eng.Now()
	next = max(next, now+1)
	p := sim.Time(c.cfg.TaintingPassPeriod)
	next = (next + p - 1) / p * p
	if !c.tickTimer.IsZero() {
		if c.tickAt <= next && c.tickAt > now {
			return
		}
		c.eng.Cancel(c.tickTimer)
	}
	c.tickAt = next
	c.tickTimer = c.eng.At(next, c.taintingPass)
}

func (c *Controller) taintingPass() {
	c.tickTimer = sim.Timer{}
	now := c.eng.Now()
	for _, k := range c.zoneKeys() {
		z := c.zones[k]
		for len(z.queue) > 0 {
			if !z.bucket.tryAccept(now) {
				break
			}
			it := z.queue[0]
			if now < it.at {
				break
			}
			ok, wait := c.taintQueued(z, it)
			z.queue = z.queue[1:]
			if !ok {
				it.at = now.Add(wait + 1)
				z.insert(it)
			}
		}
	}
	c.armTainter()
}

// taintQueued is the tainting pass's action on a node at the head of its zone's
// queue: the NoExecute taint its Ready condition calls for.
func (c *Controller) taintQueued(z *zone, it qItem) (bool, time.Duration) {
	o, ok := c.nodeInf.Get("", it.node)
	if !ok {
		return true, 0
	}
	n := o.(*api.Node)
	rc := n.Condition(api.NodeReady)
	if rc == nil {
		return false, 50 * time.Millisecond
	}
	why := fmt.Sprintf("Ready=%s; the node left zone %s's taint queue (token bucket %g nodes/s, burst 1)", rc.Status, zoneName(z.key), z.bucket.qps)
	switch rc.Status {
	case api.ConditionFalse:
		c.swapTaint(n.Name, api.TaintNodeNotReady, api.TaintNodeUnreachable, why)
	case api.ConditionUnknown:
		c.swapTaint(n.Name, api.TaintNodeUnreachable, api.TaintNodeNotReady, why)
	}
	return true, 0
}
