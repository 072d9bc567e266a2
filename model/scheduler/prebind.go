package scheduler

import (
	"fmt"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// preBind runs the PreBind plug-ins from index i on, one after the other (each may
// take virtual time, as VolumeBinding waiting for volumes does), then the Bind
// plug-ins (schedule_one.go bindingCycle: RunPreBindPlugins, then bind). A PreBind
// failure is handled as a failed binding: Unreserve, forget the assumed pod, retry.
func (s *Scheduler) preBind(state *framework.CycleState, info *framework.QueuedPodInfo, node api.NodeName, i int) {
	rt := s.profileOrCurrent(info.Pod) // the binding cycle outlives the scheduling cycle
	for ; i < len(rt.preBind); i++ {
		e := rt.preBind[i]
		next := i + 1
		start := s.eng.Now()
		st := e.pl.PreBind(state, info.PodInfo, node, func(st *framework.Status) {
			if s.tracing && st.IsSuccess() {
				s.trace(storyStep, "prebind", api.Ref(info.Pod), fmt.Sprintf("%s: PreBind done after %.3fs; the binding can go on", e.pl.Name(), s.eng.Now().Sub(start).Seconds()))
			}
			if !st.IsSuccess() {
				s.preBindFailed(state, info, node, e.pl.Name(), st)
				return
			}
			s.preBind(state, info, node, next)
		})
		switch {
		case st.IsSkip():
			continue
		case !st.IsSuccess():
			s.preBindFailed(state, info, node, e.pl.Name(), st)
		case s.tracing:
			s.trace(storyStep, "prebind", api.Ref(info.Pod), fmt.Sprintf("%s: PreBind for node %s runs before the binding (the pod stays assumed on the node meanwhile)", e.pl.Name(), node))
		}
		return // asynchronous: done resumes the chain
	}
	s.bind(state, info, node)
}

func (s *Scheduler) preBindFailed(state *framework.CycleState, info *framework.QueuedPodInfo, node api.NodeName, plugin string, st *framework.Status) {
	s.bindFailed(state, info, node, framework.AsStatus(fmt.Errorf("running PreBind plug-in %q: %s", plugin, st.Message())))
}

// AfterFunc implements framework.Services.
func (s *Scheduler) AfterFunc(d time.Duration, fn func()) (cancel func()) {
	t := s.eng.After(d, fn)
	return func() { s.eng.Cancel(t) }
}

// ClusterEvent implements framework.Services: plug-ins report events of the objects
// they watch themselves (storage objects), and rejected pods move as for node and
// pod events.
func (s *Scheduler) ClusterEvent(ev framework.ClusterEvent) {
	if moved := s.queue.onEvent(ev); moved > 0 && s.tracing {
		s.trace(storyStep, "requeue", "", fmt.Sprintf("cluster event %s: %d unschedulable pod(s) whose rejecting plug-ins registered it moved to activeQ/backoffQ", ev, moved))
	}
}

var _ framework.Services = (*Scheduler)(nil)
