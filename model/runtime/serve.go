package runtime

import (
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/network"
	"github.com/kubesim/kubesim/sim"
)

// listener is a started container's serving process: Workers concurrent workers, a
// FIFO backlog of at most QueueLimit requests, a ServiceTime draw per request.
// Accept and completion are O(1); completions are typed engine events (no closure
// per request).
type listener struct {
	m       *Modeled
	c       *container
	addr    string
	service dist.Sampler
	limit   int

	slots []slot // one per worker
	free  []int  // indexes of idle slots (a stack)
	queue []*network.Request
	head  int // first waiting request in queue
	// closed is set once the process stopped serving.
	closed bool
}

type slot struct {
	req   *network.Request
	timer sim.Timer
}

var _ network.Listener = (*listener)(nil)

func newListener(m *Modeled, c *container, addr string, s *ServeSpec, service dist.Sampler) *listener {
	l := &listener{m: m, c: c, addr: addr, service: service, limit: s.QueueLimit, slots: make([]slot, s.Workers), free: make([]int, s.Workers)}
	for i := range l.free {
		l.free[i] = s.Workers - 1 - i // pop order 0, 1, 2, ...
	}
	return l
}

// Accept implements network.Listener: serve at once on an idle worker, else wait in
// the backlog, else fail with "503 overloaded".
func (l *listener) Accept(r *network.Request) {
	switch {
	case l.closed:
		r.Done(r, false, "connection refused")
	case len(l.free) > 0:
		i := l.free[len(l.free)-1]
		l.free = l.free[:len(l.free)-1]
		l.serve(i, r)
	case len(l.queue)-l.head < l.limit:
		l.queue = append(l.queue, r)
	default:
		r.Done(r, false, "503 overloaded")
		return
	}
	l.m.usageChanged(l.c)
}

func (l *listener) serve(i int, r *network.Request) {
	l.slots[i] = slot{req: r, timer: l.m.eng.ScheduleAfter(l.service.Sample(), l, 0, int64(i), nil)}
}

// Handle implements sim.Handler: worker Arg finished its request. The next waiting
// request takes the worker before the finished one is answered, so a Done callback
// that sends a new request finds a consistent state.
func (l *listener) Handle(ev *sim.Event) {
	i := int(ev.Arg)
	r := l.slots[i].req
	l.slots[i] = slot{}
	if l.head < len(l.queue) {
		next := l.queue[l.head]
		l.queue[l.head] = nil
		l.head++
		if l.head == len(l.queue) {
			l.queue, l.head = l.queue[:0], 0
		} else if l.head > 1024 && l.head*2 > len(l.queue) {
			n := copy(l.queue, l.queue[l.head:])
			l.queue, l.head = l.queue[:n], 0
		}
		l.serve(i, next)
	} else {
		l.free = append(l.free, i)
	}
	l.m.usageChanged(l.c)
	r.Done(r, true, "")
}

// close fails every request in service or waiting with reason, in a fixed order
// (workers by index, then the backlog in FIFO order).
func (l *listener) close(reason string) {
	l.closed = true
	var failed []*network.Request
	for i := range l.slots {
		if s := l.slots[i]; s.req != nil {
			l.m.eng.Cancel(s.timer)
			failed = append(failed, s.req)
			l.slots[i] = slot{}
		}
	}
	failed = append(failed, l.queue[l.head:]...)
	l.queue, l.head, l.free = nil, 0, nil
	l.m.usageChanged(l.c)
	for _, r := range failed {
		r.Done(r, false, reason)
	}
}

// inService and waiting report the listener's load (for tests).
func (l *listener) inService() int { return len(l.slots) - len(l.free) }
func (l *listener) waiting() int   { return len(l.queue) - l.head }
