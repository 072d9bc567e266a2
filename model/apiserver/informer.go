package apiserver

import (
	"sort"

	"github.com/kubesim/kubesim/model/api"
)

// Handlers are an informer's event callbacks (client-go's ResourceEventHandlerFuncs).
// Objects are shared and immutable. Any callback may be nil.
type Handlers struct {
	OnAdd    func(obj api.Object)
	OnUpdate func(old, cur api.Object)
	OnDelete func(obj api.Object)
}

// Informer keeps a local cache of the objects of one kind that match its options,
// fed by a watch, as client-go's shared informers do. Components read their
// informers instead of asking the apiserver, and react to its callbacks.
type Informer struct {
	kind     api.Kind
	items    map[string]api.Object
	byOwner  map[api.UID]map[string]api.Object
	indexOwn bool
	handlers []Handlers
	synced   bool
	onSynced []func()
	watch    *Watch
}

// InformerOptions configure an informer.
type InformerOptions struct {
	ListOptions
	// IndexByOwner keeps an index from controller owner UID to objects (for the
	// ReplicaSet and Deployment controllers' "pods of this owner" lookups).
	IndexByOwner bool
}

// NewInformer starts an informer on kind with the given handlers.
func NewInformer(c *Client, kind api.Kind, opts InformerOptions, h Handlers) *Informer {
	inf := &Informer{kind: kind, items: map[string]api.Object{}, indexOwn: opts.IndexByOwner}
	if opts.IndexByOwner {
		inf.byOwner = map[api.UID]map[string]api.Object{}
	}
	inf.handlers = append(inf.handlers, h)
	inf.watch = c.watch(kind, opts.ListOptions, inf.handle, func() {
		inf.synced = true
		for _, fn := range inf.onSynced {
			fn()
		}
		inf.onSynced = nil
	}, inf.items)
	return inf
}

// AddHandlers registers more callbacks (for events after the call).
func (inf *Informer) AddHandlers(h Handlers) { inf.handlers = append(inf.handlers, h) }

// OnSynced runs fn once the initial objects have been delivered (at once if they were).
func (inf *Informer) OnSynced(fn func()) {
	if inf.synced {
		fn()
		return
	}
	inf.onSynced = append(inf.onSynced, fn)
}

// HasSynced reports whether the initial objects have been delivered.
func (inf *Informer) HasSynced() bool { return inf.synced }

// Stop ends the informer's watch.
func (inf *Informer) Stop() { inf.watch.Stop() }

func key(o api.Object) string {
	m := o.Meta()
	return m.Namespace + "/" + m.Name
}

func (inf *Informer) handle(ev WatchEvent) {
	k := ev.objKey()
	switch ev.Type {
	case Added, Modified:
		old, existed := inf.items[k]
		inf.items[k] = ev.Object
		if inf.indexOwn {
			if uid, same := sameOwner(old, ev.Object, existed); same && inf.byOwner[uid] != nil {
				inf.byOwner[uid][k] = ev.Object // same owner: the entry is replaced in place
			} else {
				if existed {
					inf.unindex(k, old)
				}
				inf.index(k, ev.Object)
			}
		}
		for _, h := range inf.handlers {
			if existed {
				if h.OnUpdate != nil {
					h.OnUpdate(old, ev.Object)
				}
			} else if h.OnAdd != nil {
				h.OnAdd(ev.Object)
			}
		}
	case Deleted:
		old, existed := inf.items[k]
		if !existed {
			return
		}
		delete(inf.items, k)
		if inf.indexOwn {
			inf.unindex(k, old)
		}
		for _, h := range inf.handlers {
			if h.OnDelete != nil {
				h.OnDelete(ev.Object)
			}
		}
	}
}

// sameOwner reports whether a new version of a known object has the controller
// of the old one (uid): the owner index then keeps the entry and only the object
// changes.
func sameOwner(old, cur api.Object, existed bool) (uid api.UID, same bool) {
	if !existed {
		return "", false
	}
	ra, rb := old.Meta().ControllerRef(), cur.Meta().ControllerRef()
	if ra == nil || rb == nil || ra.UID != rb.UID {
		return "", false
	}
	return ra.UID, true
}

func (inf *Informer) index(k string, o api.Object) {
	ref := o.Meta().ControllerRef()
	if ref == nil {
		return
	}
	m := inf.byOwner[ref.UID]
	if m == nil {
		m = map[string]api.Object{}
		inf.byOwner[ref.UID] = m
	}
	m[k] = o
}

func (inf *Informer) unindex(k string, o api.Object) {
	ref := o.Meta().ControllerRef()
	if ref == nil {
		return
	}
	if m := inf.byOwner[ref.UID]; m != nil {
		delete(m, k)
		if len(m) == 0 {
			delete(inf.byOwner, ref.UID)
		}
	}
}

// Get returns the cached object ns/name.
func (inf *Informer) Get(ns, name string) (api.Object, bool) {
	if inf.kind.Namespaced() && ns == "" {
		ns = api.NamespaceDefault
	}
	if !inf.kind.Namespaced() {
		ns = ""
	}
	o, ok := inf.items[ns+"/"+name]
	return o, ok
}

// Len returns the number of cached objects.
func (inf *Informer) Len() int { return len(inf.items) }

// List returns every cached object, sorted by namespace/name.
func (inf *Informer) List() []api.Object { return sorted(inf.items) }

// ByOwner returns the cached objects whose controller has the UID, sorted by
// namespace/name. It needs IndexByOwner.
func (inf *Informer) ByOwner(uid api.UID) []api.Object { return sorted(inf.byOwner[uid]) }

func sorted(m map[string]api.Object) []api.Object {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]api.Object, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}
