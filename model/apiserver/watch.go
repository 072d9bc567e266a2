package apiserver

import (
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
	opts     ListOptions
	handler  func(WatchEvent)
	startRev int64 // events at or below it were covered by the initial list
	stopped  bool
	index    *watchIndex
	live     bool         // initial events delivered
	pending  []WatchEvent // live events that arrived before the initial ones were out
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
// deletion; old is nil for a creation.
func (x *watchIndex) dispatch(obj, old api.Object, rev int64) {
	for _, w := range x.all {
		w.deliver(obj, old, rev)
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
					w.deliver(obj, old, rev)
				}
			}
		}
		if old != nil {
			ov = fieldValue(f, old)
			if ov != nv || obj == nil {
				for _, w := range m[ov] {
					w.deliver(obj, old, rev)
				}
			}
		}
	}
}

// deliver turns a change into the event this watch sees, following the cacher's
// rules for selector transitions (staging/src/k8s.io/apiserver/pkg/storage/cacher/
// cache_watcher.go convertToWatchEvent): matching only the new state is ADDED,
// only the old state DELETED, both MODIFIED.
func (w *Watch) deliver(obj, old api.Object, rev int64) {
	if w.stopped || rev <= w.startRev {
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
	if !w.live {
		w.pending = append(w.pending, ev)
		return
	}
	w.handler(ev)
}

// goLive marks the initial events as delivered and flushes buffered live events.
func (w *Watch) goLive() {
	w.live = true
	for len(w.pending) > 0 && !w.stopped {
		ev := w.pending[0]
		w.pending = w.pending[1:]
		w.handler(ev)
	}
	w.pending = nil
}
