package cluster

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/sim"
)

// Violation is a broken invariant: what, when and where.
type Violation struct {
	Time      sim.Time
	Invariant string
	Object    string
	Detail    string
}

func (v *Violation) Error() string {
	return fmt.Sprintf("invariant %q violated at %v on %s: %s", v.Invariant, v.Time, v.Object, v.Detail)
}

// invariants checks, on every committed write, the properties every run must keep
// (issue 4 §9), from etcd's own watch (no request, no random draw):
//   - no node holds more than it can fit (requests of its bound, non-terminal pods
//     within its allocatable CPU, memory and pod count);
//   - a pod is bound to at most one node: once spec.nodeName is set it never changes
//     while the pod exists;
//   - no object is lost: revisions advance by exactly one per committed write, and
//     every key deleted was deleted by a DELETE (not vanished across a leader change).
//
// Convergence once faults heal is checked at the end of the run by Converged. The
// first violation stops the engine; Run returns it.
type invariants struct {
	c         *Cluster
	alloc     map[string]api.Resources
	used      map[string]*api.Resources
	boundTo   map[string]api.NodeName // pod key -> node, for the one-node rule
	lastRev   int64
	keys      int
	violation *Violation
}

func newInvariants(c *Cluster) *invariants {
	inv := &invariants{c: c, alloc: map[string]api.Resources{}, used: map[string]*api.Resources{},
		boundTo: map[string]api.NodeName{}, lastRev: c.Store.Revision(), keys: c.Store.Len()}
	if _, err := c.Store.Watch("/registry/", 0, inv.onEvent); err != nil {
		panic(err) // a watch from "now" cannot fail
	}
	return inv
}

func (inv *invariants) fail(obj, name, format string, a ...any) {
	if inv.violation != nil {
		return
	}
	inv.violation = &Violation{Time: inv.c.Eng.Now(), Invariant: name, Object: obj, Detail: fmt.Sprintf(format, a...)}
	inv.c.tel.Trace(sim.Record{Time: inv.c.Eng.Now(), Component: "invariants", Action: "violation", Object: obj, Detail: inv.violation.Error()})
	inv.c.Eng.Stop()
}

func (inv *invariants) onEvent(ev etcd.Event) {
	rev := ev.KV.ModRevision
	if rev != inv.lastRev+1 {
		inv.fail(ev.KV.Key, "no object is lost", "revision jumped from %d to %d: a committed write went missing", inv.lastRev, rev)
	}
	inv.lastRev = rev
	switch {
	case ev.Type == etcd.Put && ev.PrevKV == nil:
		inv.keys++
	case ev.Type == etcd.Delete:
		inv.keys--
	}
	if inv.keys != inv.c.Store.Len() {
		inv.fail(ev.KV.Key, "no object is lost", "etcd holds %d keys, the committed writes account for %d", inv.c.Store.Len(), inv.keys)
	}
	var obj, old api.Object
	if ev.Type == etcd.Put {
		obj = ev.KV.Value.(api.Object)
	}
	if ev.PrevKV != nil {
		old = ev.PrevKV.Value.(api.Object)
	}
	switch o := pick(obj, old).(type) {
	case *api.Node:
		if obj != nil {
			inv.alloc[o.Name] = o.Status.Allocatable
			inv.checkNode(o.Name)
		} else {
			delete(inv.alloc, o.Name)
		}
	case *api.Pod:
		if op, ok := old.(*api.Pod); ok && obj != nil && sameAccounting(op, o) {
			// A new version on the same node with the same requests and terminal
			// state (a status write): the node's sums and the pod's binding are
			// unchanged, the node is checked as the general path would.
			if o.Spec.NodeName != "" {
				inv.checkNode(string(o.Spec.NodeName))
			}
			return
		}
		key := o.Namespace + "/" + o.Name
		if old != nil {
			inv.account(old.(*api.Pod), -1)
		}
		if obj != nil {
			p := obj.(*api.Pod)
			if prev, ok := inv.boundTo[key]; ok && p.Spec.NodeName != prev && old != nil && old.Meta().UID == p.UID {
				inv.fail("pod/"+key, "a pod is bound to at most one node", "spec.nodeName changed from %s to %q", prev, p.Spec.NodeName)
			}
			if p.Spec.NodeName != "" {
				inv.boundTo[key] = p.Spec.NodeName
			}
			inv.account(p, +1)
			if p.Spec.NodeName != "" {
				inv.checkNode(string(p.Spec.NodeName))
			}
		} else {
			delete(inv.boundTo, key)
		}
	}
}

// sameAccounting reports whether two versions of a pod count alike in the node
// sums and the one-node rule: same UID and node, same terminal state, and the same
// containers (shared, as stored objects share their spec: requests unchanged).
func sameAccounting(old, cur *api.Pod) bool {
	return old.UID == cur.UID && old.Spec.NodeName == cur.Spec.NodeName && old.IsTerminal() == cur.IsTerminal() &&
		sameSlice(old.Spec.Containers, cur.Spec.Containers) && sameSlice(old.Spec.InitContainers, cur.Spec.InitContainers)
}

// sameSlice reports whether two slices are the same elements of the same array.
func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func pick(obj, old api.Object) api.Object {
	if obj != nil {
		return obj
	}
	return old
}

func (inv *invariants) account(p *api.Pod, sign int64) {
	if p.Spec.NodeName == "" || p.IsTerminal() {
		return
	}
	n := string(p.Spec.NodeName)
	u := inv.used[n]
	if u == nil {
		u = &api.Resources{}
		inv.used[n] = u
	}
	r := p.Requests()
	u.MilliCPU += sign * r.MilliCPU
	u.Memory += sign * r.Memory
	u.Pods += sign * r.Pods
}

func (inv *invariants) checkNode(name string) {
	u, a := inv.used[name], inv.alloc[name]
	if u == nil {
		return
	}
	if _, known := inv.alloc[name]; !known {
		return // pods of a node not (or no longer) registered: the node's fit is unknown
	}
	var over []string
	if u.MilliCPU > a.MilliCPU {
		over = append(over, fmt.Sprintf("cpu %dm > %dm", u.MilliCPU, a.MilliCPU))
	}
	if u.Memory > a.Memory {
		over = append(over, fmt.Sprintf("memory %d > %d bytes", u.Memory, a.Memory))
	}
	if a.Pods > 0 && u.Pods > a.Pods {
		over = append(over, fmt.Sprintf("pods %d > %d", u.Pods, a.Pods))
	}
	if len(over) > 0 {
		inv.fail("node/"+name, "no node holds more than it can fit", "requests of its pods exceed allocatable: %s", strings.Join(over, ", "))
	}
}

// Converged reports, for each Deployment whose available replicas differ from its
// desired count, a line saying so (sorted); empty means every Deployment converged.
func (c *Cluster) Converged() []string {
	var out []string
	for _, d := range c.Deployments() {
		if d.Status.AvailableReplicas != d.Spec.Replicas || d.Status.UpdatedReplicas != d.Spec.Replicas {
			out = append(out, fmt.Sprintf("deployment %s/%s: %d available, %d updated of %d desired",
				d.Namespace, d.Name, d.Status.AvailableReplicas, d.Status.UpdatedReplicas, d.Spec.Replicas))
		}
	}
	sort.Strings(out)
	return out
}

// Violation returns the first invariant violation of the run, or nil.
func (c *Cluster) Violation() *Violation {
	if c.inv == nil {
		return nil
	}
	return c.inv.violation
}
