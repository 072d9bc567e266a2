package cluster

import (
	"fmt"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/controller/disruption"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/sim"
)

// PDBObject converts a scenario PodDisruptionBudget into a policy/v1 object (the
// scenario was validated: the values parse).
func PDBObject(b *scenario.PodDisruptionBudget) *api.PodDisruptionBudget {
	out := &api.PodDisruptionBudget{ObjectMeta: api.ObjectMeta{Name: b.Name, Namespace: b.Namespace}}
	if b.MinAvailable != "" {
		v, _ := scenario.ParseIntOrPercent(b.MinAvailable)
		out.Spec.MinAvailable = &v
	}
	if b.MaxUnavailable != "" {
		v, _ := scenario.ParseIntOrPercent(b.MaxUnavailable)
		out.Spec.MaxUnavailable = &v
	}
	if b.Selector != nil {
		out.Spec.Selector = &api.LabelSelector{MatchLabels: map[string]string{}}
		for k, v := range b.Selector {
			out.Spec.Selector.MatchLabels[k] = v
		}
	}
	return out
}

// hasPDBs reports whether the run defines PodDisruptionBudgets (in the scenario or
// in a manifest batch). Only such runs start the disruption controller and the
// scheduler's budget informer: their list and watch requests would otherwise shift
// the request stream (client rate limits, latency draws) of runs that have no
// budget, whose behaviour must stay what it was before budgets were modelled.
func hasPDBs(sc *scenario.Scenario, batches []ManifestBatch) bool {
	if len(sc.Workload.PDBs) > 0 {
		return true
	}
	for _, b := range batches {
		if b.Set == nil {
			continue
		}
		for _, o := range b.Set.Objects {
			if o.Obj.Kind() == api.KindPodDisruptionBudget {
				return true
			}
		}
	}
	return false
}

// enablePDBs wires budgets in before the components start: the scheduler watches
// them for preemption, the cluster autoscaler for scale-down, and the
// controller-manager runs the disruption controller.
func (c *Cluster) enablePDBs(reg *dist.Registry, tel sim.Telemetry) error {
	c.Scheduler.WatchPodDisruptionBudgets()
	if c.Autoscaler != nil {
		c.Autoscaler.WatchPodDisruptionBudgets()
	}
	dc, err := disruption.New(c.Eng, c.Manager.Client(), disruption.DefaultConfig(), reg, tel)
	if err != nil {
		return fmt.Errorf("controller-manager: %w", err)
	}
	c.Manager.Add(dc)
	c.Disruption = dc
	return nil
}
