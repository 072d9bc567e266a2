package scheduler

import (
	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
)

// WatchPodDisruptionBudgets makes Start also run a policy/v1 PodDisruptionBudget
// informer, whose budgets DefaultPreemption reads (PodDisruptionBudgets) and whose
// events AddEventHandlers offers. Upstream's preemption always lists budgets from
// the shared informer factory (pkg/scheduler/framework/preemption/preemption.go
// getPodDisruptionBudgets); kubesim starts the watch only for runs that have
// budgets (the cluster enables it when the scenario or manifests define one), so
// a run without budgets sends exactly the requests it sent before budgets were
// modelled. Call before Start.
func (s *Scheduler) WatchPodDisruptionBudgets() { s.wantPDBs = true }

// startPDBInformer starts the budget informer when enabled. It does not gate the
// start of scheduling: before it syncs, preemption sees no budgets.
func (s *Scheduler) startPDBInformer() {
	if !s.wantPDBs {
		return
	}
	s.pdbInf = apiserver.NewInformer(s.watcher, api.KindPodDisruptionBudget, apiserver.InformerOptions{}, apiserver.Handlers{})
}

// PodDisruptionBudgets returns every budget the scheduler knows, by namespace and
// name (nil when budgets are not watched). The objects are shared and immutable.
func (s *Scheduler) PodDisruptionBudgets() []*api.PodDisruptionBudget {
	if s.pdbInf == nil || s.pdbInf.Len() == 0 {
		return nil
	}
	objs := s.pdbInf.List()
	out := make([]*api.PodDisruptionBudget, len(objs))
	for i, o := range objs {
		out[i] = o.(*api.PodDisruptionBudget)
	}
	return out
}
