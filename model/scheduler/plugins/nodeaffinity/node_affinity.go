// Package nodeaffinity holds NodeAffinity (reference §2.4, §2.6.5;
// pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go):
//   - PreFilter returns Skip when the pod has neither a nodeSelector nor required node
//     affinity (and the profile adds none); it narrows the nodes to those named by
//     matchFields metadata.name In terms;
//   - Filter requires the nodeSelector labels and at least one required term;
//   - PreScore returns Skip without preferred terms; Score sums the weights of the
//     preferred terms the node matches; NormalizeScore scales to 100·raw/maxRaw.
package nodeaffinity

import (
	"fmt"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// Name is the plug-in's registered name.
const Name = "NodeAffinity"

// Rejection reasons, as upstream.
const (
	ErrReasonPod      = "node(s) didn't match Pod's node affinity/selector"
	ErrReasonEnforced = "node(s) didn't match scheduler-enforced node affinity"
	ErrReasonConflict = "pod affinity terms conflict"
)

const (
	preFilterStateKey framework.StateKey = "PreFilter" + Name
	preScoreStateKey  framework.StateKey = "PreScore" + Name
)

// Args configure the plug-in (upstream NodeAffinityArgs).
type Args struct {
	// AddedAffinity is applied to every pod scheduled by the profile, on top of the
	// pod's own affinity (nil: none).
	AddedAffinity *api.NodeAffinity
}

// NodeAffinity filters and scores nodes by node selectors and node affinity.
type NodeAffinity struct {
	added       *api.NodeAffinity
	rejectPod   *framework.Status
	rejectAdded *framework.Status
}

var (
	_ framework.PreFilterPlugin   = (*NodeAffinity)(nil)
	_ framework.FilterPlugin      = (*NodeAffinity)(nil)
	_ framework.PreScorePlugin    = (*NodeAffinity)(nil)
	_ framework.ScorePlugin       = (*NodeAffinity)(nil)
	_ framework.ScoreExtensions   = (*NodeAffinity)(nil)
	_ framework.EnqueueExtensions = (*NodeAffinity)(nil)
)

// New builds the plug-in. args may be nil, Args or *Args.
func New(args any, _ framework.Handle) (framework.Plugin, error) {
	var a Args
	switch v := args.(type) {
	case nil:
	case Args:
		a = v
	case *Args:
		if v != nil {
			a = *v
		}
	default:
		return nil, fmt.Errorf("%s: want args of type nodeaffinity.Args, got %T", Name, args)
	}
	if a.AddedAffinity != nil {
		if err := validateAffinity(a.AddedAffinity); err != nil {
			return nil, fmt.Errorf("%s: addedAffinity: %w", Name, err)
		}
	}
	return &NodeAffinity{
		added:       a.AddedAffinity,
		rejectPod:   framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonPod),
		rejectAdded: framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonEnforced),
	}, nil
}

func validateAffinity(na *api.NodeAffinity) error {
	check := func(field string, t *api.NodeSelectorTerm) error {
		for i := range t.MatchExpressions {
			if err := t.MatchExpressions[i].Validate(true); err != nil {
				return fmt.Errorf("%s.matchExpressions[%d]: %w", field, i, err)
			}
		}
		for i := range t.MatchFields {
			if t.MatchFields[i].Key != "metadata.name" {
				return fmt.Errorf("%s.matchFields[%d].key: only metadata.name is supported, got %q", field, i, t.MatchFields[i].Key)
			}
		}
		return nil
	}
	for i := range na.Required {
		if err := check(fmt.Sprintf("required[%d]", i), &na.Required[i]); err != nil {
			return err
		}
	}
	for i := range na.Preferred {
		if w := na.Preferred[i].Weight; w < 1 || w > 100 {
			return fmt.Errorf("preferred[%d].weight: must be in 1..100, got %d", i, w)
		}
		if err := check(fmt.Sprintf("preferred[%d].preference", i), &na.Preferred[i].Preference); err != nil {
			return err
		}
	}
	return nil
}

// Name implements framework.Plugin.
func (*NodeAffinity) Name() string { return Name }

func requiredTerms(p *api.Pod) []api.NodeSelectorTerm {
	if p.Spec.Affinity == nil || p.Spec.Affinity.NodeAffinity == nil {
		return nil
	}
	return p.Spec.Affinity.NodeAffinity.Required
}

// PreFilter implements framework.PreFilterPlugin.
func (pl *NodeAffinity) PreFilter(_ *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) (*framework.PreFilterResult, *framework.Status) {
	terms := requiredTerms(pod.Pod)
	if len(terms) == 0 && len(pod.Pod.Spec.NodeSelector) == 0 && (pl.added == nil || len(pl.added.Required) == 0) {
		return nil, framework.NewStatus(framework.Skip)
	}
	if len(terms) == 0 {
		return nil, nil
	}
	// Terms are ORed: the node set is the union over terms; a term without a
	// metadata.name In field requirement allows every node.
	var names map[api.NodeName]struct{}
	for i := range terms {
		var termNames map[api.NodeName]struct{}
		for _, r := range terms[i].MatchFields {
			if r.Key != "metadata.name" || r.Operator != api.OpIn {
				continue
			}
			s := make(map[api.NodeName]struct{}, len(r.Values))
			for _, v := range r.Values {
				if termNames == nil {
					s[api.NodeName(v)] = struct{}{}
				} else if _, ok := termNames[api.NodeName(v)]; ok {
					s[api.NodeName(v)] = struct{}{}
				}
			}
			termNames = s
		}
		if termNames == nil {
			return nil, nil
		}
		if names == nil {
			names = map[api.NodeName]struct{}{}
		}
		for n := range termNames {
			names[n] = struct{}{}
		}
	}
	if names != nil && len(names) == 0 {
		return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonConflict)
	}
	return &framework.PreFilterResult{NodeNames: names}, nil
}

// Filter implements framework.FilterPlugin.
func (pl *NodeAffinity) Filter(_ *framework.CycleState, pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	n := node.Node()
	if n == nil {
		return pl.rejectPod
	}
	if pl.added != nil && len(pl.added.Required) > 0 && !api.MatchesAnyTerm(pl.added.Required, n) {
		return pl.rejectAdded
	}
	for k, v := range pod.Pod.Spec.NodeSelector {
		if lv, ok := n.Labels[k]; !ok || lv != v {
			return pl.rejectPod
		}
	}
	if terms := requiredTerms(pod.Pod); len(terms) > 0 && !api.MatchesAnyTerm(terms, n) {
		return pl.rejectPod
	}
	return nil
}

type preScoreState struct {
	preferred []api.PreferredSchedulingTerm
}

func (pl *NodeAffinity) preferredTerms(p *api.Pod) []api.PreferredSchedulingTerm {
	var own []api.PreferredSchedulingTerm
	if p.Spec.Affinity != nil && p.Spec.Affinity.NodeAffinity != nil {
		own = p.Spec.Affinity.NodeAffinity.Preferred
	}
	if pl.added == nil || len(pl.added.Preferred) == 0 {
		return own
	}
	out := make([]api.PreferredSchedulingTerm, 0, len(own)+len(pl.added.Preferred))
	out = append(out, pl.added.Preferred...)
	return append(out, own...)
}

// PreScore implements framework.PreScorePlugin.
func (pl *NodeAffinity) PreScore(state *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) *framework.Status {
	terms := pl.preferredTerms(pod.Pod)
	if len(terms) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	state.Write(preScoreStateKey, &preScoreState{preferred: terms})
	return nil
}

// Score implements framework.ScorePlugin: the sum of the weights of the matching
// preferred terms.
func (pl *NodeAffinity) Score(state *framework.CycleState, pod *framework.PodInfo, node *framework.NodeInfo) (int64, *framework.Status) {
	n := node.Node()
	if n == nil {
		return 0, nil
	}
	var terms []api.PreferredSchedulingTerm
	if d, err := state.Read(preScoreStateKey); err == nil {
		terms = d.(*preScoreState).preferred
	} else {
		terms = pl.preferredTerms(pod.Pod)
	}
	var sum int64
	for i := range terms {
		if terms[i].Preference.Matches(n) {
			sum += int64(terms[i].Weight)
		}
	}
	return sum, nil
}

// ScoreExtensions implements framework.ScorePlugin.
func (pl *NodeAffinity) ScoreExtensions() framework.ScoreExtensions { return pl }

// NormalizeScore implements framework.ScoreExtensions.
func (pl *NodeAffinity) NormalizeScore(_ *framework.CycleState, _ *framework.PodInfo, scores []framework.NodeScore) *framework.Status {
	return framework.DefaultNormalizeScore(framework.MaxNodeScore, false, scores)
}

// EventsToRegister implements framework.EnqueueExtensions.
func (*NodeAffinity) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{{Resource: framework.NodeResource, ActionType: framework.Add | framework.UpdateNodeLabel}}
}
