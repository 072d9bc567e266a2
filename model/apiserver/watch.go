package apiserver

import (
	"sort"

	"github.com/kubesim/kubesim/model/api"
)

// EventType is a watch event type.
type EventType uint8

// Watch event types.
const (
	Added EventType = iota + 1
	Modified
	Deleted
)

func (t EventType) String() string {
	switch t {
	case Added:
		return "ADDED"
	case Modified:
		return "MODIFIED"
	case Deleted:
		return "DELETED"
	}
	return "?"
}

// WatchEvent is one event delivered to a watch. Object is the new state (for
// Deleted, the last state); Old is the previous state for Modified, else nil. Both
// are shared and immutable.
type WatchEvent struct {
	Type   EventType
	Object api.Object
	Old    api.Object
	key    string // namespace/name of Object, computed once per change for every watch
}

// objKey returns the event's namespace/name key, computing it if the event was
// built without one.
func (ev *WatchEvent) objKey() string {
	if ev.key == "" {
		ev.key = key(ev.Object)
	}
	return ev.key
}

// Field names a field a selector may test. kubesim supports the field selectors
// components use upstream: pods by spec.nodeName (the kubelet's "its own pods" and
// the scheduler's "unassigned pods"), and any kind by metadata.name.
type Field uint8

// Supported fields.
const (
	FieldNone Field = iota
	FieldNodeName
	FieldName
)

// ListOptions select objects, as metav1.ListOptions does.
type ListOptions struct {
	// Namespace restricts to one namespace ("" = all).
	Namespace string
	// Labels, when non-nil, must match the object's labels.
	Labels *api.LabelSelector
	// Field and FieldValue: the object's field must equal FieldValue (spec.nodeName
	// of a pod, or metadata.name). FieldNone selects every object.
	Field      Field
	FieldValue string
	// Filter is an extra predicate evaluated after the others (like a field selector
	// on status.phase); nil accepts every object.
	Filter func(api.Object) bool
}

func fieldValue(f Field, o api.Object) string {
	switch f {
	case FieldNodeName:
		if p, ok := o.(*api.Pod); ok {
			return string(p.Spec.NodeName)
		}
		return ""
	case FieldName:
		return o.Meta().Name
	}
	return ""
}

func (o *ListOptions) matches(obj api.Object) bool {
	m := obj.Meta()
	if o.Namespace != "" && m.Namespace != o.Namespace {
		return false
	}
	if o.Field != FieldNone && fieldValue(o.Field, obj) != o.FieldValue {
		return false
	}
	if o.Labels != nil && !o.Labels.Matches(m.Labels) {
		return false
	}
	if o.Filter != nil && !o.Filter(obj) {
		return false
	}
	return true
}

// Watch is one client watch. Handler runs on the engine for each event, in revision
// order.
type Watch struct {
	client   *Client
	kind     api.Kind
	opts     ListOptions
	handler  func(WatchEvent)
	synced   func()
	startRev int64 // events at or below it were covered by the (last) list
	stopped  bool
	index    *watchIndex
	live     bool         // the list's events delivered
	pending  []WatchEvent // live events that arrived before the list's events were out

	// Recovery (faults.go). known is what the consumer has seen (namespace/name →
	// object); track says whether the watch maintains it (else the consumer does).
	known      map[string]api.Object
	track      bool
	wasSynced  bool   // synced was called
	broken     bool   // missed an event: drops everything until re-established
	inBroken   bool   // listed in the server's broken watches
	gen        uint64 // establishment generation: a list answer of an older one is void
	Relists    int    // times the watch re-established itself after a failure
	everListed bool
}

// Stop ends the watch. No event is delivered after Stop returns.
func (w *Watch) Stop() {
	if w.stopped {
		return
	}
	w.stopped = true
	if w.index != nil {
		w.index.remove(w)
	}
}

// Stopped reports whether Stop was called.
func (w *Watch) Stopped() bool { return w.stopped }

// watchIndex holds the watches of one kind: those with a field selector by field and
// value, the rest in a list. Slices keep registration order, so delivery order is
// deterministic.
type watchIndex struct {
	all     []*Watch
	byField [3]map[string][]*Watch
}

func newWatchIndex() *watchIndex {
	return &watchIndex{byField: [3]map[string][]*Watch{nil, {}, {}}}
}

func (x *watchIndex) add(w *Watch) {
	w.index = x
	if w.opts.Field == FieldNone {
		x.all = append(x.all, w)
		return
	}
	m := x.byField[w.opts.Field]
	m[w.opts.FieldValue] = append(m[w.opts.FieldValue], w)
}

func (x *watchIndex) remove(w *Watch) {
	if w.opts.Field == FieldNone {
		x.all = removeWatch(x.all, w)
		return
	}
	m := x.byField[w.opts.Field]
	if l := removeWatch(m[w.opts.FieldValue], w); len(l) == 0 {
		delete(m, w.opts.FieldValue)
	} else {
		m[w.opts.FieldValue] = l
	}
}

func removeWatch(l []*Watch, w *Watch) []*Watch {
	for i, x := range l {
		if x == w {
			return append(l[:i:i], l[i+1:]...)
		}
	}
	return l
}

// dispatch delivers one change to every watch that can match it. obj is nil for a
// deletion; old is nil for a creation; k is the object's namespace/name (key).
func (x *watchIndex) dispatch(obj, old api.Object, rev int64, k string) {
	// The object's key k is the same in every watch's event (old and new states
	// share namespace and name): computed once per change, not per watch and
	// informer.
	for _, w := range x.all {
		w.deliver(obj, old, rev, k)
	}
	for f := FieldNodeName; f <= FieldName; f++ {
		m := x.byField[f]
		if len(m) == 0 {
			continue
		}
		var nv, ov string
		if obj != nil {
			nv = fieldValue(f, obj)
			if ws, ok := m[nv]; ok {
				for _, w := range ws {
					w.deliver(obj, old, rev, k)
				}
			}
		}
		if old != nil {
			ov = fieldValue(f, old)
			if ov != nv || obj == nil {
				for _, w := range m[ov] {
					w.deliver(obj, old, rev, k)
				}
			}
		}
	}
}

// deliver turns a change into the event this watch sees, following the cacher's
// rules for selector transitions (staging/src/k8s.io/apiserver/pkg/storage/cacher/
// cache_watcher.go convertToWatchEvent): matching only the new state is ADDED,
// only the old state DELETED, both MODIFIED.
func (w *Watch) deliver(obj, old api.Object, rev int64, k string) {
	if w.stopped || w.broken || rev <= w.startRev {
		return
	}
	curOK := obj != nil && w.opts.matches(obj)
	oldOK := old != nil && w.opts.matches(old)
	var ev WatchEvent
	switch {
	case curOK && oldOK:
		ev = WatchEvent{Type: Modified, Object: obj, Old: old}
	case curOK:
		ev = WatchEvent{Type: Added, Object: obj}
	case oldOK:
		ev = WatchEvent{Type: Deleted, Object: old}
	default:
		return
	}
	ev.key = k
	if !w.client.srv.reachable(w.client) {
		w.breakOff()
		return
	}
	if !w.live {
		w.pending = append(w.pending, ev)
		return
	}
	w.emit(ev)
}

// emit hands ev to the handler, recording it in known when the watch tracks it.
func (w *Watch) emit(ev WatchEvent) {
	if w.track {
		k := ev.objKey()
		if ev.Type == Deleted {
			delete(w.known, k)
		} else {
			w.known[k] = ev.Object
		}
	}
	w.handler(ev)
}

// goLive marks the list's events as delivered and flushes buffered live events.
func (w *Watch) goLive() {
	w.live = true
	gen := w.gen
	for len(w.pending) > 0 && !w.stopped && w.gen == gen {
		ev := w.pending[0]
		w.pending = w.pending[1:]
		w.emit(ev)
	}
	if w.gen == gen {
		w.pending = nil
	}
}

// connect sends the watch request: through the client's rate limiter and the
// request latency to the server, where establish runs.
func (w *Watch) connect() {
	s := w.client.srv
	at := w.client.limiter.reserve(s.eng.Now()).Add(s.reqLat.Sample())
	s.eng.At(at, w.establish)
}

// establish serves the watch request on the server: it lists the matching objects,
// registers the watch for live events after the list's revision and, after the
// response latency, delivers the list (as the difference with what the consumer
// has), calls synced the first time, then the live events that came meanwhile. An
// unreachable client's watch stays broken until the failure heals.
func (w *Watch) establish() {
	if w.stopped {
		return
	}
	s := w.client.srv
	s.requests++
	if !s.reachable(w.client) {
		w.breakOff()
		return
	}
	if w.everListed {
		w.Relists++
	}
	w.everListed = true
	w.broken = false
	w.gen++
	gen := w.gen
	objs, rev := s.list(w.kind, &w.opts)
	w.startRev = rev
	w.live = false
	w.pending = nil
	if w.index == nil {
		s.watches[w.kind].add(w)
	}
	s.eng.After(s.reqLat.Sample(), func() {
		if w.stopped || w.gen != gen {
			return
		}
		w.replace(objs, gen)
		if w.stopped || w.gen != gen {
			return
		}
		if !w.wasSynced {
			w.wasSynced = true
			if w.synced != nil {
				w.synced()
			}
		}
		w.goLive()
	})
}

// replace delivers a list as events against known (DeltaFIFO.Replace): ADDED for an
// object the consumer does not have, MODIFIED for one whose resource version
// differs, in key order; then DELETED for each known object the list lacks, in key
// order.
func (w *Watch) replace(objs []api.Object, gen uint64) {
	var seen map[string]bool
	if len(w.known) > 0 {
		seen = make(map[string]bool, len(objs))
	}
	for _, o := range objs {
		k := key(o)
		if seen != nil {
			seen[k] = true
		}
		prev, ok := w.known[k]
		switch {
		case !ok:
			w.emit(WatchEvent{Type: Added, Object: o})
		case prev.Meta().ResourceVersion != o.Meta().ResourceVersion:
			w.emit(WatchEvent{Type: Modified, Object: o, Old: prev})
		}
		if w.stopped || w.gen != gen {
			return
		}
	}
	if seen == nil {
		return
	}
	var gone []string
	for k := range w.known {
		if !seen[k] {
			gone = append(gone, k)
		}
	}
	sort.Strings(gone)
	for _, k := range gone {
		if o, ok := w.known[k]; ok {
			w.emit(WatchEvent{Type: Deleted, Object: o})
		}
		if w.stopped || w.gen != gen {
			return
		}
	}
}

// breakOff marks the watch broken: it missed an event (or could not be
// established), drops what it buffered and waits in the server's list of broken
// watches for the failure to heal.
func (w *Watch) breakOff() {
	w.broken = true
	w.gen++
	w.live = false
	w.pending = nil
	if !w.inBroken {
		w.inBroken = true
		s := w.client.srv
		s.broken = append(s.broken, w)
	}
}

// Broken reports whether the watch missed events and waits to re-establish itself.
func (w *Watch) Broken() bool { return w.broken }
