package scheduler

import (
	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// postings is an unordered set of assigned pods with O(1) add and remove
// (swap-remove). Its order is never observable by behaviour: users only aggregate.
type postings struct {
	list []framework.AssignedPod
	pos  map[api.UID]int
}

func (p *postings) add(ap framework.AssignedPod) {
	if p.pos == nil {
		p.pos = map[api.UID]int{}
	}
	if i, ok := p.pos[ap.Pod.Pod.UID]; ok {
		p.list[i] = ap
		return
	}
	p.pos[ap.Pod.Pod.UID] = len(p.list)
	p.list = append(p.list, ap)
}

func (p *postings) remove(uid api.UID) {
	i, ok := p.pos[uid]
	if !ok {
		return
	}
	last := len(p.list) - 1
	if i != last {
		p.list[i] = p.list[last]
		p.pos[p.list[i].Pod.Pod.UID] = i
	}
	p.list[last] = framework.AssignedPod{}
	p.list = p.list[:last]
	delete(p.pos, uid)
}

// labelKey is the index key of one namespace/label pair.
type labelKey struct{ ns, key, value string }

// podIndex indexes the cache's assigned pods by namespace and label and keeps the
// pods with affinity terms, so that the inter-pod plug-ins visit only the relevant
// pods (framework.PodLister). Maintained incrementally with the NodeInfos.
type podIndex struct {
	byLabel  map[labelKey]*postings
	affinity postings
}

func (x *podIndex) add(pi *framework.PodInfo, node api.NodeName) {
	if x.byLabel == nil {
		x.byLabel = map[labelKey]*postings{}
	}
	ap := framework.AssignedPod{Pod: pi, Node: node}
	p := pi.Pod
	for k, v := range p.Labels { // order-independent bookkeeping
		lk := labelKey{p.Namespace, k, v}
		ps := x.byLabel[lk]
		if ps == nil {
			ps = &postings{}
			x.byLabel[lk] = ps
		}
		ps.add(ap)
	}
	if framework.HasPodAffinity(p) {
		x.affinity.add(ap)
	}
}

// replace points the postings of an indexed pod at its new PodInfo, in place. The
// pod's namespace, labels and affinity must be those it was indexed with.
func (x *podIndex) replace(pi *framework.PodInfo, node api.NodeName) {
	ap := framework.AssignedPod{Pod: pi, Node: node}
	p := pi.Pod
	for k, v := range p.Labels { // order-independent bookkeeping
		if ps := x.byLabel[labelKey{p.Namespace, k, v}]; ps != nil {
			ps.add(ap) // present: replaced at its position
		}
	}
	if framework.HasPodAffinity(p) {
		x.affinity.add(ap)
	}
}

func (x *podIndex) remove(pi *framework.PodInfo) {
	p := pi.Pod
	for k, v := range p.Labels {
		lk := labelKey{p.Namespace, k, v}
		if ps := x.byLabel[lk]; ps != nil {
			ps.remove(p.UID)
			if len(ps.list) == 0 {
				delete(x.byLabel, lk)
			}
		}
	}
	x.affinity.remove(p.UID)
}

// PodsWithLabel implements framework.PodLister.
func (s *Scheduler) PodsWithLabel(ns, key, value string) []framework.AssignedPod {
	if ps := s.cache.index.byLabel[labelKey{ns, key, value}]; ps != nil {
		return ps.list
	}
	return nil
}

// PodsWithAffinity implements framework.PodLister.
func (s *Scheduler) PodsWithAffinity() []framework.AssignedPod { return s.cache.index.affinity.list }

var _ framework.PodLister = (*Scheduler)(nil)
