package apiserver

import (
	"fmt"
	"sort"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/sim"
)

// Client is a component's connection to the apiserver, with its own client-side rate
// limit. Callbacks run as engine events; a nil callback is allowed. Requests are
// asynchronous: nothing happens until the engine runs.
type Client struct {
	srv     *Server
	name    string
	step    int
	limiter *tokenBucket
}

// Name returns the client's component name.
func (c *Client) Name() string { return c.name }

// Server returns the apiserver the client talks to.
func (c *Client) Server() *Server { return c.srv }

// Now returns the current virtual time.
func (c *Client) Now() sim.Time { return c.srv.eng.Now() }

// WithStep returns a client sharing this one's rate limiter whose requests are traced
// under the given step of the Nginx story (0 = outside it).
func (c *Client) WithStep(step int) *Client {
	cp := *c
	cp.step = step
	return &cp
}

// DeleteOptions control a delete.
type DeleteOptions struct {
	// GracePeriodSeconds overrides the pod's terminationGracePeriodSeconds; 0 deletes
	// at once. nil uses the pod's own.
	GracePeriodSeconds *int64
	// Precondition: when non-empty the object's UID must match.
	UID api.UID
}

// send runs fn on the server after the client's rate limit and the inbound latency,
// once a seat of the class is free; fn must call finish exactly once.
//
// A partitioned client (SetPartitioned) never reaches the server: fail gets a
// connection error DialTimeout after the request was sent. A reply that comes back
// while the client is partitioned is lost the same way (the request may have taken
// effect: the client cannot know).
func (c *Client) send(class int, fail func(error), fn func(finish func(func()))) {
	s := c.srv
	sent := s.eng.Now()
	at := c.limiter.reserve(sent).Add(s.reqLat.Sample())
	s.eng.At(at, func() {
		if s.isPartitioned(c.name) {
			c.timeout(sent, fail)
			return
		}
		s.requests++
		s.admit(class, func() {
			fn(func(reply func()) {
				s.release(class)
				s.eng.After(s.reqLat.Sample(), func() {
					if s.isPartitioned(c.name) {
						c.timeout(sent, fail)
						return
					}
					reply()
				})
			})
		})
	})
}

// timeout fails a request sent at sent with a connection error DialTimeout after it
// was sent (at once if that time has passed).
func (c *Client) timeout(sent sim.Time, fail func(error)) {
	s := c.srv
	s.eng.At(max(s.eng.Now(), sent.Add(s.cfg.DialTimeout)), func() { fail(c.connectionError()) })
}

// connectionError is what a partitioned client's requests fail with.
func (c *Client) connectionError() error {
	return fmt.Errorf("%w: dial tcp kube-apiserver:6443: i/o timeout (%s is partitioned from the apiserver)", ErrConnection, c.name)
}

// SetPartitioned cuts this client's component from the apiserver (true) or heals the
// partition (false); see Server.SetPartitioned.
func (c *Client) SetPartitioned(cut bool) { c.srv.SetPartitioned(c.name, cut) }

// Partitioned reports whether the client is cut from the apiserver.
func (c *Client) Partitioned() bool { return c.srv.isPartitioned(c.name) }

func (c *Client) unavailable() error {
	return errorf(ReasonServiceUnavailable, "the apiserver is unavailable")
}

func (c *Client) trace(action string, obj api.Object, detail string) {
	if !sim.WantsRecord(c.srv.tel, c.step) {
		return
	}
	c.srv.tel.Trace(sim.Record{Time: c.srv.eng.Now(), Step: c.step, Component: "apiserver", Action: action, Object: api.Ref(obj), Detail: detail})
}

// traceRequest traces a request of this client, building its detail only for a
// sink that keeps it.
func (c *Client) traceRequest(action string, obj api.Object) {
	tel := c.srv.tel
	if !sim.WantsRecord(tel, c.step) {
		return
	}
	detail := ""
	if sim.WantsDetail(tel, c.step) {
		detail = "request from " + c.name
	}
	tel.Trace(sim.Record{Time: c.srv.eng.Now(), Step: c.step, Component: "apiserver", Action: action, Object: api.Ref(obj), Detail: detail})
}

func (c *Client) traceEtcd(obj api.Object, res etcd.Result, op string) {
	tel := c.srv.tel
	if !sim.WantsRecord(tel, c.step) {
		return
	}
	detail := ""
	if sim.WantsDetail(tel, c.step) {
		detail = fmt.Sprintf("%s %s at revision %d", op, api.Key(obj.Kind(), obj.Meta().Namespace, obj.Meta().Name), res.Revision)
	}
	tel.Trace(sim.Record{Time: c.srv.eng.Now(), Step: c.step, Component: "etcd", Action: "commit", Object: api.Ref(obj), Detail: detail})
}

// Create stores a new object. On success done receives the stored object.
func (c *Client) Create(obj api.Object, done func(api.Object, error)) {
	c.send(1, func(err error) { call(done, nil, err) }, func(finish func(func())) {
		s := c.srv
		if !s.available {
			finish(func() { call(done, nil, c.unavailable()) })
			return
		}
		if err := s.prepareCreate(obj); err != nil {
			finish(func() { call(done, nil, err) })
			return
		}
		m := obj.Meta()
		c.traceRequest("create", obj)
		s.store.Commit(etcd.Op{Type: etcd.Put, Key: api.Key(obj.Kind(), m.Namespace, m.Name), Value: obj, MustNotExist: true}, func(res etcd.Result) {
			if res.Err != nil {
				err := storeErr(res.Err, obj)
				finish(func() { call(done, nil, err) })
				return
			}
			c.traceEtcd(obj, res, "put")
			finish(func() { call(done, obj, nil) })
		})
	})
}

// Update replaces an object. When obj's ResourceVersion is non-zero it must equal the
// stored one (optimistic concurrency), or done gets a Conflict error.
func (c *Client) Update(obj api.Object, done func(api.Object, error)) {
	c.update(obj, false, done)
}

// UpdateStatus replaces only the status of an object (the /status subresource) on top
// of its current state. A non-zero ResourceVersion is a precondition, as for Update.
func (c *Client) UpdateStatus(obj api.Object, done func(api.Object, error)) {
	c.update(obj, true, done)
}

func (c *Client) update(obj api.Object, status bool, done func(api.Object, error)) {
	c.send(1, func(err error) { call(done, nil, err) }, func(finish func(func())) {
		c.guaranteedUpdate(obj.Kind(), obj.Meta().Namespace, obj.Meta().Name, obj.Meta().ResourceVersion, 5, func(cur api.Object) (api.Object, error) {
			next := obj
			if status {
				next = copyStatus(obj, cur)
			}
			if err := prepareUpdate(next, cur); err != nil {
				return nil, err
			}
			return next, nil
		}, "update", finish, done)
	})
}

// guaranteedUpdate reads the current object, computes the new one with mutate and
// commits it with a mod-revision precondition, retrying on conflicts when the caller
// gave no resource version of its own (as GuaranteedUpdate in k8s.io/apiserver).
func (c *Client) guaranteedUpdate(kind api.Kind, ns, name string, rv int64, retries int,
	mutate func(cur api.Object) (api.Object, error), action string, finish func(func()), done func(api.Object, error)) {
	s := c.srv
	if !s.available {
		finish(func() { call(done, nil, c.unavailable()) })
		return
	}
	key := api.Key(kind, ns, name)
	kv, ok := s.store.Get(key)
	if !ok {
		finish(func() { call(done, nil, errorf(ReasonNotFound, "%s not found", api.RefOf(kind, ns, name))) })
		return
	}
	if rv != 0 && kv.ModRevision != rv {
		finish(func() {
			call(done, nil, errorf(ReasonConflict, "%s: the object has been modified (resourceVersion %d, current %d)", api.RefOf(kind, ns, name), rv, kv.ModRevision))
		})
		return
	}
	cur := kv.Value.(api.Object)
	next, err := mutate(cur)
	if err != nil {
		finish(func() { call(done, nil, err) })
		return
	}
	if next == nil { // nothing to change
		finish(func() { call(done, cur, nil) })
		return
	}
	c.traceRequest(action, next)
	s.store.Commit(etcd.Op{Type: etcd.Put, Key: key, Value: next, ModRevision: kv.ModRevision}, func(res etcd.Result) {
		if res.Err == etcd.ErrConflict && rv == 0 && retries > 0 {
			c.guaranteedUpdate(kind, ns, name, rv, retries-1, mutate, action, finish, done)
			return
		}
		if res.Err != nil {
			err := storeErr(res.Err, next)
			finish(func() { call(done, nil, err) })
			return
		}
		c.traceEtcd(next, res, "put")
		finish(func() { call(done, next, nil) })
	})
}

// Bind binds a pod to a node through the pods/binding subresource: it sets
// spec.nodeName and the PodScheduled condition. Binding an already-bound pod is a
// Conflict, as upstream.
func (c *Client) Bind(b *api.Binding, done func(error)) {
	c.send(1, func(err error) { call1(done, err) }, func(finish func(func())) {
		c.guaranteedUpdate(api.KindPod, b.PodNamespace, b.PodName, 0, 5, func(cur api.Object) (api.Object, error) {
			p := cur.(*api.Pod)
			if b.PodUID != "" && p.UID != b.PodUID {
				return nil, errorf(ReasonConflict, "pod %s/%s: UID precondition failed", b.PodNamespace, b.PodName)
			}
			if p.Spec.NodeName != "" {
				return nil, errorf(ReasonConflict, "pod %s/%s is already assigned to node %q", b.PodNamespace, b.PodName, p.Spec.NodeName)
			}
			if p.DeletionTimestamp != nil {
				return nil, errorf(ReasonConflict, "pod %s/%s is being deleted", b.PodNamespace, b.PodName)
			}
			// Stored objects are immutable snapshots: the bound pod shares its
			// metadata and spec with the current one but for spec.nodeName, and gets
			// its own conditions (SetCondition changes them in place).
			np := new(api.Pod)
			*np = *p
			np.Status.Conditions = append(make([]api.PodCondition, 0, len(p.Status.Conditions)+1), p.Status.Conditions...)
			np.Spec.NodeName = b.Target
			np.SetCondition(api.PodScheduled, api.ConditionTrue, "", c.Now())
			return np, nil
		}, "bind", finish, func(_ api.Object, err error) {
			if done != nil {
				done(err)
			}
		})
	})
}

// Delete deletes an object. A pod bound to a node with a grace period is deleted
// gracefully: it gets a deletionTimestamp and stays until its kubelet deletes it with
// grace 0 (reference §4; registry/core/pod/strategy.go CheckGracefulDelete).
func (c *Client) Delete(kind api.Kind, ns, name string, opts DeleteOptions, done func(error)) {
	if kind.Namespaced() && ns == "" {
		ns = api.NamespaceDefault
	}
	c.send(1, func(err error) { call1(done, err) }, func(finish func(func())) {
		s := c.srv
		if !s.available {
			finish(func() { call1(done, c.unavailable()) })
			return
		}
		key := api.Key(kind, ns, name)
		kv, ok := s.store.Get(key)
		if !ok {
			finish(func() { call1(done, errorf(ReasonNotFound, "%s not found", api.RefOf(kind, ns, name))) })
			return
		}
		cur := kv.Value.(api.Object)
		if opts.UID != "" && cur.Meta().UID != opts.UID {
			finish(func() { call1(done, errorf(ReasonConflict, "%s: UID precondition failed", api.RefOf(kind, ns, name))) })
			return
		}
		if p, ok := cur.(*api.Pod); ok && p.Spec.NodeName != "" && !p.IsTerminal() {
			grace := p.Spec.TerminationGracePeriodSeconds
			if opts.GracePeriodSeconds != nil {
				grace = *opts.GracePeriodSeconds
			}
			if grace > 0 {
				if p.DeletionTimestamp != nil {
					finish(func() { call1(done, nil) }) // already terminating
					return
				}
				np := p.DeepCopy()
				now := c.Now()
				np.DeletionTimestamp = &now
				c.trace("delete", np, fmt.Sprintf("graceful delete (grace %ds) from %s", grace, c.name))
				s.store.Commit(etcd.Op{Type: etcd.Put, Key: key, Value: np, ModRevision: kv.ModRevision}, func(res etcd.Result) {
					finish(func() { call1(done, storeErr(res.Err, np)) })
				})
				return
			}
		}
		c.traceRequest("delete", cur)
		s.store.Commit(etcd.Op{Type: etcd.Delete, Key: key}, func(res etcd.Result) {
			if res.Err == nil {
				c.traceEtcd(cur, res, "delete")
			}
			finish(func() { call1(done, storeErr(res.Err, cur)) })
		})
	})
}

// Get reads one object (from the watch cache: the current state).
func (c *Client) Get(kind api.Kind, ns, name string, done func(api.Object, error)) {
	if kind.Namespaced() && ns == "" {
		ns = api.NamespaceDefault
	}
	c.send(0, func(err error) { call(done, nil, err) }, func(finish func(func())) {
		s := c.srv
		if !s.available {
			finish(func() { call(done, nil, c.unavailable()) })
			return
		}
		s.store.LinearizableRead(func(err error) {
			if err != nil {
				finish(func() { call(done, nil, storeErr(err, nil)) })
				return
			}
			c.get(kind, ns, name, finish, done)
		})
	})
}

func (c *Client) get(kind api.Kind, ns, name string, finish func(func()), done func(api.Object, error)) {
	kv, ok := c.srv.store.Get(api.Key(kind, ns, name))
	if !ok {
		finish(func() { call(done, nil, errorf(ReasonNotFound, "%s not found", api.RefOf(kind, ns, name))) })
		return
	}
	obj := kv.Value.(api.Object)
	finish(func() { call(done, obj, nil) })
}

// List reads every object of a kind that matches opts, sorted by key.
func (c *Client) List(kind api.Kind, opts ListOptions, done func([]api.Object, error)) {
	c.send(0, func(err error) { done(nil, err) }, func(finish func(func())) {
		s := c.srv
		if !s.available {
			finish(func() { done(nil, c.unavailable()) })
			return
		}
		s.store.LinearizableRead(func(err error) {
			if err != nil {
				finish(func() { done(nil, storeErr(err, nil)) })
				return
			}
			objs, _ := s.list(kind, &opts)
			finish(func() { done(objs, nil) })
		})
	})
}

func (s *Server) list(kind api.Kind, opts *ListOptions) ([]api.Object, int64) {
	prefix := api.KindPrefix(kind)
	if opts.Namespace != "" && kind.Namespaced() {
		prefix += opts.Namespace + "/"
	}
	kvs, rev := s.store.Range(prefix)
	out := make([]api.Object, 0, len(kvs))
	for _, kv := range kvs {
		o := kv.Value.(api.Object)
		if opts.matches(o) {
			out = append(out, o)
		}
	}
	return out, rev
}

// Watch starts a watch with initial events (sendInitialEvents, the WatchList form of
// list-then-watch): after the request latency every existing matching object arrives
// as ADDED, in key order, then synced is called (may be nil), then live events follow
// in revision order with no gap and no duplicate. A watch that misses events (an
// apiserver outage, a partition of its client) re-establishes itself when it can and
// delivers what changed meanwhile (faults.go); synced is not called again.
func (c *Client) Watch(kind api.Kind, opts ListOptions, handler func(WatchEvent), synced func()) *Watch {
	return c.watch(kind, opts, handler, synced, nil)
}

// watch starts a watch. known, when non-nil, is the consumer's own record of what the
// watch delivered (namespace/name → last object), which the consumer keeps current
// from the events (the informer's cache); when nil the watch keeps one itself. A
// relist is diffed against it.
func (c *Client) watch(kind api.Kind, opts ListOptions, handler func(WatchEvent), synced func(), known map[string]api.Object) *Watch {
	w := &Watch{client: c, kind: kind, opts: opts, handler: handler, synced: synced, known: known, track: known == nil}
	if w.track {
		w.known = map[string]api.Object{}
	}
	w.connect()
	return w
}

func call(done func(api.Object, error), o api.Object, err error) {
	if done != nil {
		done(o, err)
	}
}

func call1(done func(error), err error) {
	if done != nil {
		done(err)
	}
}

func storeErr(err error, obj api.Object) error {
	switch err {
	case nil:
		return nil
	case etcd.ErrKeyExists:
		return errorf(ReasonAlreadyExists, "%s already exists", api.Ref(obj))
	case etcd.ErrKeyNotFound:
		return errorf(ReasonNotFound, "%s not found", api.Ref(obj))
	case etcd.ErrConflict:
		return errorf(ReasonConflict, "%s: the object has been modified; please apply your changes to the latest version and try again", api.Ref(obj))
	case etcd.ErrNoQuorum:
		return errorf(ReasonServiceUnavailable, "etcd has no quorum: %v", err)
	}
	return err
}

// SortObjects sorts objects by namespace and name (a deterministic order for code
// that collects objects from maps).
func SortObjects[T api.Object](objs []T) {
	sort.Slice(objs, func(i, j int) bool {
		a, b := objs[i].Meta(), objs[j].Meta()
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
}
