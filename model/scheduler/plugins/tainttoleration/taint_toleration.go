// Package tainttoleration holds TaintToleration (reference §2.4, §2.6.4;
// pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go):
//   - Filter rejects a node with a NoSchedule or NoExecute taint the pod does not
//     tolerate (PreferNoSchedule is ignored by the filter);
//   - Score counts the node's PreferNoSchedule taints the pod does not tolerate,
//     considering only tolerations with effect PreferNoSchedule or empty, and
//     NormalizeScore reverses it: 100 − 100·count/maxCount (all 100 when maxCount = 0).
package tainttoleration

import (
	"fmt"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// Name is the plug-in's registered name.
const Name = "TaintToleration"

const preScoreStateKey framework.StateKey = "PreScore" + Name

// TaintToleration filters and scores nodes by their taints.
type TaintToleration struct {
	// rejections caches one immutable status per untolerated taint key/value, so the
	// filter does not allocate on every rejected node.
	rejections map[[2]string]*framework.Status
}

var (
	_ framework.FilterPlugin      = (*TaintToleration)(nil)
	_ framework.PreScorePlugin    = (*TaintToleration)(nil)
	_ framework.ScorePlugin       = (*TaintToleration)(nil)
	_ framework.ScoreExtensions   = (*TaintToleration)(nil)
	_ framework.EnqueueExtensions = (*TaintToleration)(nil)
)

// New builds the plug-in; it takes no arguments.
func New(_ any, _ framework.Handle) (framework.Plugin, error) {
	return &TaintToleration{rejections: map[[2]string]*framework.Status{}}, nil
}

// Name implements framework.Plugin.
func (*TaintToleration) Name() string { return Name }

func tolerated(tols []api.Toleration, t *api.Taint) bool {
	for i := range tols {
		if tols[i].ToleratesTaint(t) {
			return true
		}
	}
	return false
}

// Filter implements framework.FilterPlugin. The reason names the first untolerated
// taint in the node's order, as upstream FindMatchingUntoleratedTaint does.
func (pl *TaintToleration) Filter(_ *framework.CycleState, pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	taints := node.Taints() // nil when the Node is unknown
	for i := range taints {
		t := &taints[i]
		if t.Effect != api.TaintNoSchedule && t.Effect != api.TaintNoExecute {
			continue
		}
		if tolerated(pod.Pod.Spec.Tolerations, t) {
			continue
		}
		k := [2]string{t.Key, t.Value}
		st, ok := pl.rejections[k]
		if !ok {
			st = framework.NewStatus(framework.UnschedulableAndUnresolvable,
				fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value))
			pl.rejections[k] = st
		}
		return st
	}
	return nil
}

type preScoreState struct {
	tolerationsPreferNoSchedule []api.Toleration
}

// PreScore implements framework.PreScorePlugin: it keeps the tolerations that can
// tolerate PreferNoSchedule taints (effect PreferNoSchedule or empty).
func (pl *TaintToleration) PreScore(state *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) *framework.Status {
	state.Write(preScoreStateKey, &preScoreState{tolerationsPreferNoSchedule: preferNoScheduleTolerations(pod.Pod.Spec.Tolerations)})
	return nil
}

func preferNoScheduleTolerations(tols []api.Toleration) []api.Toleration {
	var out []api.Toleration
	for _, t := range tols {
		if t.Effect == "" || t.Effect == api.TaintPreferNoSchedule {
			out = append(out, t)
		}
	}
	return out
}

// Score implements framework.ScorePlugin: the number of untolerated
// PreferNoSchedule taints (the raw score NormalizeScore reverses).
func (pl *TaintToleration) Score(state *framework.CycleState, pod *framework.PodInfo, node *framework.NodeInfo) (int64, *framework.Status) {
	taints := node.Taints() // nil when the Node is unknown
	if len(taints) == 0 {
		return 0, nil
	}
	var tols []api.Toleration
	if d, err := state.Read(preScoreStateKey); err == nil {
		tols = d.(*preScoreState).tolerationsPreferNoSchedule
	} else {
		tols = preferNoScheduleTolerations(pod.Pod.Spec.Tolerations)
	}
	var count int64
	for i := range taints {
		t := &taints[i]
		if t.Effect == api.TaintPreferNoSchedule && !tolerated(tols, t) {
			count++
		}
	}
	return count, nil
}

// ScoreExtensions implements framework.ScorePlugin.
func (pl *TaintToleration) ScoreExtensions() framework.ScoreExtensions { return pl }

// NormalizeScore implements framework.ScoreExtensions (reverse normalization).
func (pl *TaintToleration) NormalizeScore(_ *framework.CycleState, _ *framework.PodInfo, scores []framework.NodeScore) *framework.Status {
	return framework.DefaultNormalizeScore(framework.MaxNodeScore, true, scores)
}

// EventsToRegister implements framework.EnqueueExtensions.
func (*TaintToleration) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{{Resource: framework.NodeResource, ActionType: framework.Add | framework.UpdateNodeTaint}}
}
