// Package network models the pod network: which pod address is listening, and who
// answers there. The modeled container runtime registers a listener when a
// container's process starts and removes it when the process stops; client traffic
// dials addresses that kube-proxy chose. A dial to an address nobody listens on fails
// as "connection refused", which is what a client sees when kube-proxy still routes
// to a pod that is gone.
package network

import (
	"fmt"

	"github.com/kubesim/kubesim/sim"
)

// Request is one client request travelling through the model.
type Request struct {
	ID     uint64
	Sent   sim.Time // when the client sent it
	Client string   // the client's name (its node, for kube-proxy's choice)
	// Done is called exactly once, on the engine, when the request ends: ok reports
	// success, reason says why it failed ("connection refused", "no endpoints", ...).
	Done func(r *Request, ok bool, reason string)
}

// Listener accepts requests at an address (a pod's serving process).
type Listener interface {
	Accept(r *Request)
}

// Fabric maps addresses ("10.244.1.5:80") to listeners.
type Fabric struct {
	listeners map[string]Listener
}

// New returns an empty fabric.
func New() *Fabric { return &Fabric{listeners: map[string]Listener{}} }

// Listen registers l at addr. Listening twice on one address is an error, as bind(2)
// would say.
func (f *Fabric) Listen(addr string, l Listener) error {
	if _, ok := f.listeners[addr]; ok {
		return fmt.Errorf("listen %s: address already in use", addr)
	}
	f.listeners[addr] = l
	return nil
}

// Close stops listening at addr (a no-op if nobody listens).
func (f *Fabric) Close(addr string) { delete(f.listeners, addr) }

// Lookup returns the listener at addr.
func (f *Fabric) Lookup(addr string) (Listener, bool) {
	l, ok := f.listeners[addr]
	return l, ok
}

// Len returns the number of listening addresses.
func (f *Fabric) Len() int { return len(f.listeners) }
