package noderesources

import (
	"fmt"
	"math"

	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// BalancedAllocationName is NodeResourcesBalancedAllocation's registered name.
const BalancedAllocationName = "NodeResourcesBalancedAllocation"

const balancedPreScoreStateKey framework.StateKey = "PreScore" + BalancedAllocationName

// BalancedAllocation is the NodeResourcesBalancedAllocation plug-in, with the v1.35
// formula by default or the v1.36 one (BalancedAllocationArgs.Version).
type BalancedAllocation struct {
	resources []resource
	v136      bool
}

var (
	_ framework.PreScorePlugin = (*BalancedAllocation)(nil)
	_ framework.ScorePlugin    = (*BalancedAllocation)(nil)
)

// NewBalancedAllocation builds the plug-in. args may be nil (cpu and memory),
// BalancedAllocationArgs or *BalancedAllocationArgs.
func NewBalancedAllocation(args any, _ framework.Handle) (framework.Plugin, error) {
	var a BalancedAllocationArgs
	switch v := args.(type) {
	case nil:
	case BalancedAllocationArgs:
		a = v
	case *BalancedAllocationArgs:
		if v != nil {
			a = *v
		}
	default:
		return nil, fmt.Errorf("%s: want args of type noderesources.BalancedAllocationArgs, got %T", BalancedAllocationName, args)
	}
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", BalancedAllocationName, err)
	}
	if a.Resources == nil {
		a.Resources = DefaultResources()
	}
	return &BalancedAllocation{resources: compile(a.Resources), v136: a.Version == BalancedV136}, nil
}

// Name implements framework.Plugin.
func (*BalancedAllocation) Name() string { return BalancedAllocationName }

type balancedPreScoreState struct {
	podRequests []int64
}

// PreScore implements framework.PreScorePlugin. It returns Skip for best-effort pods
// (every configured request 0), the fix for upstream issue #129138 (reference §2.6.2).
func (ba *BalancedAllocation) PreScore(state *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) *framework.Status {
	reqs := podRequests(pod, ba.resources, false)
	if isBestEffort(reqs) {
		return framework.NewStatus(framework.Skip)
	}
	state.Write(balancedPreScoreStateKey, &balancedPreScoreState{podRequests: reqs})
	return nil
}

func isBestEffort(reqs []int64) bool {
	for _, r := range reqs {
		if r != 0 {
			return false
		}
	}
	return true
}

// Score implements framework.ScorePlugin. v1.35: int((1 − std)·100) of the fractions
// min(requested/allocatable, 1), where std is |f1−f2|/2 for two resources and the
// population standard deviation for more (balanced_allocation.go). v1.36 (upstream
// PR #135573, reference §2.6.2): with = that score with the pod, without = the same
// on the node's requests before the pod; score = 50 + (50 + with − without)/2.
func (ba *BalancedAllocation) Score(state *framework.CycleState, pod *framework.PodInfo, node *framework.NodeInfo) (int64, *framework.Status) {
	var reqs []int64
	if d, err := state.Read(balancedPreScoreStateKey); err == nil {
		reqs = d.(*balancedPreScoreState).podRequests
	} else {
		reqs = podRequests(pod, ba.resources, false)
		if isBestEffort(reqs) {
			return 0, nil
		}
	}
	if !ba.v136 {
		return ba.balance(node, reqs, true), nil
	}
	with, without := ba.balanceWithWithout(node, reqs)
	return 50 + (50+with-without)/2, nil
}

// balanceWithWithout is (balance(node, reqs, true), balance(node, reqs, false)) in
// one pass over the resources: the same fractions, sums and formula, so the same
// results to the bit.
func (ba *BalancedAllocation) balanceWithWithout(node *framework.NodeInfo, reqs []int64) (with, without int64) {
	var bufW, bufO [8]float64
	fw, fo := bufW[:0], bufO[:0]
	var totalW, totalO float64
	for i := range ba.resources {
		alloc, req := allocatableRequested(node, &ba.resources[i], reqs[i], false)
		if alloc == 0 {
			continue
		}
		f := float64(req) / float64(alloc)
		if f > 1 {
			f = 1
		}
		totalW += f
		fw = append(fw, f)
		g := float64(req-reqs[i]) / float64(alloc)
		if g > 1 {
			g = 1
		}
		totalO += g
		fo = append(fo, g)
	}
	return balanceScore(fw, totalW), balanceScore(fo, totalO)
}

// balance is int((1 − std)·100) of the node's resource fractions, with the pod's
// requests added when withPod. A resource counts when the node has allocatable for it
// (extended resources only when the pod requests them, decided on reqs either way).
func (ba *BalancedAllocation) balance(node *framework.NodeInfo, reqs []int64, withPod bool) int64 {
	// At most a handful of resources: keep the fractions on the stack.
	var buf [8]float64
	fractions := buf[:0]
	var total float64
	for i := range ba.resources {
		alloc, req := allocatableRequested(node, &ba.resources[i], reqs[i], false)
		if alloc == 0 {
			continue
		}
		if !withPod {
			req -= reqs[i]
		}
		f := float64(req) / float64(alloc)
		if f > 1 {
			f = 1
		}
		total += f
		fractions = append(fractions, f)
	}
	return balanceScore(fractions, total)
}

// balanceScore is int((1 − std)·100) of the fractions (total is their sum): std
// is |f1−f2|/2 for two and the population standard deviation for more.
func balanceScore(fractions []float64, total float64) int64 {
	std := 0.0
	if len(fractions) == 2 {
		std = math.Abs((fractions[0] - fractions[1]) / 2)
	} else if len(fractions) > 2 {
		mean := total / float64(len(fractions))
		var sum float64
		for _, f := range fractions {
			sum += (f - mean) * (f - mean)
		}
		std = math.Sqrt(sum / float64(len(fractions)))
	}
	return int64((1 - std) * float64(framework.MaxNodeScore))
}

// ScoreExtensions implements framework.ScorePlugin (no normalization).
func (*BalancedAllocation) ScoreExtensions() framework.ScoreExtensions { return nil }
