package apiserver

import (
	"fmt"
	"sort"

	"github.com/kubesim/kubesim/sim"
)

// Failures: apiserver outages (SetAvailable) and network partitions between a
// component and the apiserver (SetPartitioned), and how watches recover from them.
//
// While a client is partitioned, its requests fail with ErrConnection after
// Config.DialTimeout and its watches receive nothing. A watch that misses an event
// (outage or partition) is broken; when the apiserver is back and the client reaches
// it, the watch re-establishes itself as client-go's reflector does after a watch
// error: a new list (through the client's rate limiter, with the request latency)
// whose difference with what the watch delivered before becomes ADDED, MODIFIED and
// DELETED events, then live events from the list's revision on, with no gap and no
// duplicate (staging/src/k8s.io/client-go/tools/cache/reflector.go ListAndWatch;
// DeltaFIFO.Replace turns the list into the informer's events).
//
// Simplifications: the reflector's back-off between attempts (800 ms doubling to
// 30 s) is not modeled: a broken watch re-establishes as soon as it can reach the
// apiserver again; a watch breaks only when it misses an event it would have
// delivered (a watch that missed nothing has nothing to relist, so the outcome is
// the same); the relist is always a full list, never a resumed watch from the last
// resource version (so intermediate states during the outage are not seen, only the
// final one, as after a 410 Gone).

// SetPartitioned cuts every client named name ("kubelet/node-2") from the apiserver
// (true) or heals the partition (false). Clients created later with that name are
// cut too. On healing, the clients' broken watches re-establish themselves.
func (s *Server) SetPartitioned(name string, cut bool) {
	if cut {
		if !s.partitioned[name] {
			s.partitioned[name] = true
			s.tel.Trace(sim.Record{Time: s.eng.Now(), Component: "apiserver", Action: "partition", Object: name,
				Detail: fmt.Sprintf("%s is cut from the apiserver: its requests time out after %v and its watches receive nothing", name, s.cfg.DialTimeout)})
		}
		return
	}
	if s.partitioned[name] {
		delete(s.partitioned, name)
		s.tel.Trace(sim.Record{Time: s.eng.Now(), Component: "apiserver", Action: "heal", Object: name,
			Detail: name + " reaches the apiserver again: its broken watches relist and catch up"})
		s.reconnect()
	}
}

// Partitioned returns the names of the clients cut from the apiserver, sorted.
func (s *Server) Partitioned() []string {
	out := make([]string, 0, len(s.partitioned))
	for n := range s.partitioned {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (s *Server) isPartitioned(name string) bool {
	return len(s.partitioned) > 0 && s.partitioned[name]
}

// reachable reports whether c's requests and watches get through now.
func (s *Server) reachable(c *Client) bool { return s.available && !s.isPartitioned(c.name) }

// BrokenWatches returns the number of watches waiting to re-establish themselves.
func (s *Server) BrokenWatches() int { return len(s.broken) }

// reconnect re-establishes the broken watches that can reach the apiserver now, in
// the order they broke.
func (s *Server) reconnect() {
	var todo, keep []*Watch
	for _, w := range s.broken {
		switch {
		case w.stopped:
			w.inBroken = false
		case s.reachable(w.client):
			w.inBroken = false
			todo = append(todo, w)
		default:
			keep = append(keep, w)
		}
	}
	s.broken = keep
	for _, w := range todo {
		w.connect()
	}
}
