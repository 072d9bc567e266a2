package scheduler

import (
	"sort"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// startSelectorInformers starts the Service, ReplicaSet and StatefulSet informers
// that DefaultSelector reads, when the profile enables PodTopologySpread (upstream
// builds them through the shared informer factory for the same reason). They do not
// gate the start of scheduling: before they sync, pods simply have no default
// selector.
func (s *Scheduler) startSelectorInformers() {
	uses := false
	for _, rt := range s.profiles {
		for _, n := range rt.names {
			if n == PodTopologySpread {
				uses = true
			}
		}
	}
	if !uses {
		return
	}
	s.svcByNS = map[string][]*api.Service{}
	s.svcInf = apiserver.NewInformer(s.watcher, api.KindService, apiserver.InformerOptions{}, apiserver.Handlers{
		OnAdd:    func(o api.Object) { s.svcSet(o.(*api.Service), false) },
		OnUpdate: func(_, o api.Object) { s.svcSet(o.(*api.Service), false) },
		OnDelete: func(o api.Object) { s.svcSet(o.(*api.Service), true) },
	})
	s.rsInf = apiserver.NewInformer(s.watcher, api.KindReplicaSet, apiserver.InformerOptions{}, apiserver.Handlers{})
	s.ssInf = apiserver.NewInformer(s.watcher, api.KindStatefulSet, apiserver.InformerOptions{}, apiserver.Handlers{})
}

// svcSet adds, replaces or removes a Service in the per-namespace list (sorted by
// name, so the result never depends on event order).
func (s *Scheduler) svcSet(svc *api.Service, del bool) {
	list := s.svcByNS[svc.Namespace]
	i := sort.Search(len(list), func(i int) bool { return list[i].Name >= svc.Name })
	found := i < len(list) && list[i].Name == svc.Name
	switch {
	case del && found:
		list = append(list[:i], list[i+1:]...)
	case del:
	case found:
		list[i] = svc
	default:
		list = append(list, nil)
		copy(list[i+1:], list[i:])
		list[i] = svc
	}
	s.svcByNS[svc.Namespace] = list
}

// DefaultSelector implements framework.SelectorLister (upstream
// helper.DefaultSelector): the union of the selectors of the pod's namespace's
// Services that select it and of its controlling ReplicaSet or StatefulSet. nil
// when nothing selects the pod. (ReplicationControllers are not modelled.)
func (s *Scheduler) DefaultSelector(pod *api.Pod) *api.LabelSelector {
	var out *api.LabelSelector
	ensure := func() {
		if out == nil {
			out = &api.LabelSelector{MatchLabels: map[string]string{}}
		}
	}
	for _, svc := range s.svcByNS[pod.Namespace] {
		if api.MatchesSet(svc.Spec.Selector, pod.Labels) {
			ensure()
			for k, v := range svc.Spec.Selector { // a merge: order-independent
				out.MatchLabels[k] = v
			}
		}
	}
	addSel := func(sel *api.LabelSelector) {
		if sel == nil {
			return
		}
		ensure()
		for k, v := range sel.MatchLabels {
			out.MatchExpressions = append(out.MatchExpressions, api.Requirement{Key: k, Operator: api.OpIn, Values: []string{v}})
		}
		out.MatchExpressions = append(out.MatchExpressions, sel.MatchExpressions...)
	}
	if ref := pod.ControllerRef(); ref != nil {
		switch {
		case ref.Kind == api.KindReplicaSet && s.rsInf != nil:
			if o, ok := s.rsInf.Get(pod.Namespace, ref.Name); ok {
				addSel(o.(*api.ReplicaSet).Spec.Selector)
			}
		case ref.Kind == api.KindStatefulSet && s.ssInf != nil:
			if o, ok := s.ssInf.Get(pod.Namespace, ref.Name); ok {
				addSel(o.(*api.StatefulSet).Spec.Selector)
			}
		}
	}
	if out != nil {
		sort.Slice(out.MatchExpressions, func(i, j int) bool { return out.MatchExpressions[i].Key < out.MatchExpressions[j].Key })
	}
	return out
}

var _ framework.SelectorLister = (*Scheduler)(nil)
