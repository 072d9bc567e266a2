package proxy

import (
	"github.com/kubesim/kubesim/model/api"
)

// Shared holds what every kube-proxy of one cluster derives identically from the
// same EndpointSlice object: its backends per slice port. Objects delivered by
// watches are shared immutable snapshots, so the proxies of all nodes can share one
// build per slice object instead of each holding its own copy of every endpoint
// (5,000 nodes × 150,000 endpoints would not fit in memory). Entries are
// reference-counted and dropped when no proxy uses them.
//
// Sharing changes no behaviour: a build is a pure function of the slice object.
// A Shared must only be used by proxies driven by one engine (one goroutine).
type Shared struct {
	slices map[*api.EndpointSlice]*builtSlice
}

// NewShared returns an empty cache. Give the same one to every proxy of a cluster
// with SetShared.
func NewShared() *Shared { return &Shared{slices: map[*api.EndpointSlice]*builtSlice{}} }

// Len returns the number of slice builds held (for tests and memory metrics).
func (s *Shared) Len() int { return len(s.slices) }

// builtSlice is one slice object's backends per slice port. Immutable once built,
// except for backend.addr, which is filled in on first use.
type builtSlice struct {
	obj   *api.EndpointSlice
	refs  int
	ports []slicePort
}

// slicePort is the backends of one slice port.
type slicePort struct {
	name, protocol string
	portless       bool      // the slice has no ports: the Service port's targetPort applies
	ready          []backend // ready endpoints, in slice order
	fallback       []backend // serving && terminating endpoints, in slice order
}

// backend is one endpoint at one port.
type backend struct {
	ip   string // shared with the api.Endpoint
	port int32
	addr string // "ip:port", built on first use
}

// acquire returns the build of obj, building it on first use.
func (s *Shared) acquire(obj *api.EndpointSlice) *builtSlice {
	if b := s.slices[obj]; b != nil {
		b.refs++
		return b
	}
	b := build(obj)
	b.refs = 1
	s.slices[obj] = b
	return b
}

// release drops one reference to b.
func (s *Shared) release(b *builtSlice) {
	if b == nil {
		return
	}
	b.refs--
	if b.refs <= 0 {
		delete(s.slices, b.obj)
	}
}

// build classifies a slice's endpoints per slice port (reference §3.5, §5;
// pkg/proxy/topology.go CategorizeEndpoints): ready ones, and serving+terminating
// ones for the fallback. The backend port is the slice port's TargetPort when set,
// else its Port.
func build(obj *api.EndpointSlice) *builtSlice {
	b := &builtSlice{obj: obj}
	if len(obj.Ports) == 0 {
		sp := slicePort{portless: true}
		sp.ready, sp.fallback = classify(obj, 0)
		b.ports = []slicePort{sp}
		return b
	}
	b.ports = make([]slicePort, len(obj.Ports))
	for i := range obj.Ports {
		p := &obj.Ports[i]
		port := p.TargetPort
		if port == 0 {
			port = p.Port
		}
		b.ports[i] = slicePort{name: p.Name, protocol: p.Protocol}
		b.ports[i].ready, b.ports[i].fallback = classify(obj, port)
	}
	return b
}

func classify(obj *api.EndpointSlice, port int32) (ready, fallback []backend) {
	for i := range obj.Endpoints {
		ep := &obj.Endpoints[i]
		if ep.Address == "" {
			continue
		}
		switch {
		case ep.Conditions.Ready:
			ready = append(ready, backend{ip: ep.Address, port: port})
		case ep.Conditions.Serving && ep.Conditions.Terminating:
			fallback = append(fallback, backend{ip: ep.Address, port: port})
		}
	}
	return ready, fallback
}
