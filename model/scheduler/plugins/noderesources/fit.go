package noderesources

import (
	"fmt"
	"math"
	"strings"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// FitName is NodeResourcesFit's registered name.
const FitName = "NodeResourcesFit"

const fitPreScoreStateKey framework.StateKey = "PreScore" + FitName

// Rejection reasons (fit.go fitsRequest).
const (
	ReasonTooManyPods          = "Too many pods"
	ReasonInsufficientCPU      = "Insufficient cpu"
	ReasonInsufficientMemory   = "Insufficient memory"
	ReasonInsufficientEphemStg = "Insufficient ephemeral-storage"
)

// Fit is the NodeResourcesFit plug-in.
type Fit struct {
	ignored       map[api.ResourceName]bool
	ignoredGroups map[string]bool
	strategy      ScoringStrategyType
	resources     []resource
	shape         []shapePoint
	// statuses caches the rejections made of the four common reasons (bits 0-3) and
	// the unresolvable flag (bit 4), so the filter loop does not allocate.
	statuses [32]*framework.Status
	// scalarStatuses caches the rejections naming one or two extended resources.
	scalarStatuses map[scalarStatusKey]*framework.Status
}

var (
	_ framework.FilterPlugin      = (*Fit)(nil)
	_ framework.PreScorePlugin    = (*Fit)(nil)
	_ framework.ScorePlugin       = (*Fit)(nil)
	_ framework.EnqueueExtensions = (*Fit)(nil)
)

// NewFit builds NodeResourcesFit. args may be nil (defaults), FitArgs or *FitArgs.
func NewFit(args any, _ framework.Handle) (framework.Plugin, error) {
	a := DefaultFitArgs()
	switch v := args.(type) {
	case nil:
	case FitArgs:
		a = v
	case *FitArgs:
		if v != nil {
			a = *v
		}
	default:
		return nil, fmt.Errorf("%s: want args of type noderesources.FitArgs, got %T", FitName, args)
	}
	if a.ScoringStrategy == nil {
		a.ScoringStrategy = DefaultFitArgs().ScoringStrategy
	}
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", FitName, err)
	}
	f := &Fit{
		strategy:  a.ScoringStrategy.Type,
		resources: compile(a.ScoringStrategy.Resources),
	}
	if len(a.IgnoredResources) > 0 {
		f.ignored = map[api.ResourceName]bool{}
		for _, r := range a.IgnoredResources {
			f.ignored[r] = true
		}
	}
	if len(a.IgnoredResourceGroups) > 0 {
		f.ignoredGroups = map[string]bool{}
		for _, g := range a.IgnoredResourceGroups {
			f.ignoredGroups[g] = true
		}
	}
	for _, p := range a.ScoringStrategy.Shape {
		// Scale 0..10 to 0..100 (requested_to_capacity_ratio.go).
		f.shape = append(f.shape, shapePoint{utilization: int64(p.Utilization), score: int64(p.Score) * (framework.MaxNodeScore / MaxCustomPriorityScore)})
	}
	return f, nil
}

// Name implements framework.Plugin.
func (*Fit) Name() string { return FitName }

const (
	bitPods = 1 << iota
	bitCPU
	bitMemory
	bitEphemeral
	bitUnresolvable
)

// Filter implements framework.FilterPlugin (fit.go fitsRequest): the pod count, then
// each requested resource against allocatable minus the actual requests on the node.
// The rejection is UnschedulableAndUnresolvable when a request alone exceeds the
// node's allocatable (preemption could not help).
func (f *Fit) Filter(_ *framework.CycleState, pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	var bits int
	if int64(len(node.Pods))+1 > node.Allocatable.Pods {
		bits |= bitPods
	}
	req := &pod.Requests
	if req.MilliCPU == 0 && req.Memory == 0 && req.EphemeralStorage == 0 && len(req.Scalar) == 0 {
		return f.status(bits)
	}
	alloc, used := &node.Allocatable, &node.Requested
	if req.MilliCPU > 0 && req.MilliCPU > alloc.MilliCPU-used.MilliCPU {
		bits |= bitCPU
		if req.MilliCPU > alloc.MilliCPU {
			bits |= bitUnresolvable
		}
	}
	if req.Memory > 0 && req.Memory > alloc.Memory-used.Memory {
		bits |= bitMemory
		if req.Memory > alloc.Memory {
			bits |= bitUnresolvable
		}
	}
	if req.EphemeralStorage > 0 && req.EphemeralStorage > alloc.EphemeralStorage-used.EphemeralStorage {
		bits |= bitEphemeral
		if req.EphemeralStorage > alloc.EphemeralStorage {
			bits |= bitUnresolvable
		}
	}
	if len(req.Scalar) == 0 {
		return f.status(bits)
	}
	scalars := pod.Scalars // sorted: reasons in a fixed order
	if scalars == nil {    // a PodInfo not made by NewPodInfo
		scalars = framework.SortedScalars(req)
	}
	// The short resources, in name order; the first two are kept without
	// allocating, and a rejection with at most two is cached like f.status.
	var short [2]api.ResourceName
	nShort := 0
	for _, sr := range scalars {
		if f.ignoredScalar(sr.Name) {
			continue
		}
		a, u := node.Scalar(sr.Name)
		if sr.Quantity > a-u {
			if sr.Quantity > a {
				bits |= bitUnresolvable
			}
			if nShort < len(short) {
				short[nShort] = sr.Name
			}
			nShort++
		}
	}
	if nShort == 0 {
		return f.status(bits)
	}
	key := scalarStatusKey{bits: bits, a: short[0], b: short[1]}
	if nShort <= len(short) {
		if st := f.scalarStatuses[key]; st != nil {
			return st
		}
	}
	reasons := append([]string(nil), f.status(bits).Reasons()...)
	for _, sr := range scalars {
		if a, u := node.Scalar(sr.Name); !f.ignoredScalar(sr.Name) && sr.Quantity > a-u {
			reasons = append(reasons, "Insufficient "+string(sr.Name))
		}
	}
	code := framework.Unschedulable
	if bits&bitUnresolvable != 0 {
		code = framework.UnschedulableAndUnresolvable
	}
	st := framework.NewStatus(code, reasons...)
	if nShort <= len(short) {
		if f.scalarStatuses == nil {
			f.scalarStatuses = map[scalarStatusKey]*framework.Status{}
		}
		f.scalarStatuses[key] = st
	}
	return st
}

// scalarStatusKey identifies a rejection with at most two short extended
// resources (b is "" for one).
type scalarStatusKey struct {
	bits int
	a, b api.ResourceName
}

func (f *Fit) ignoredScalar(name api.ResourceName) bool {
	if f.ignored[name] {
		return true
	}
	if f.ignoredGroups != nil {
		if i := strings.IndexByte(string(name), '/'); i > 0 && f.ignoredGroups[string(name)[:i]] {
			return true
		}
	}
	return false
}

// status returns the cached status for a combination of reasons (nil when none).
func (f *Fit) status(bits int) *framework.Status {
	if bits&^bitUnresolvable == 0 {
		return nil
	}
	if st := f.statuses[bits]; st != nil {
		return st
	}
	var reasons []string
	if bits&bitPods != 0 {
		reasons = append(reasons, ReasonTooManyPods)
	}
	if bits&bitCPU != 0 {
		reasons = append(reasons, ReasonInsufficientCPU)
	}
	if bits&bitMemory != 0 {
		reasons = append(reasons, ReasonInsufficientMemory)
	}
	if bits&bitEphemeral != 0 {
		reasons = append(reasons, ReasonInsufficientEphemStg)
	}
	code := framework.Unschedulable
	if bits&bitUnresolvable != 0 {
		code = framework.UnschedulableAndUnresolvable
	}
	st := framework.NewStatus(code, reasons...)
	f.statuses[bits] = st
	return st
}

type fitPreScoreState struct {
	podRequests []int64
}

// PreScore implements framework.PreScorePlugin: the pod's non-zero requests per
// scored resource.
func (f *Fit) PreScore(state *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) *framework.Status {
	state.Write(fitPreScoreStateKey, &fitPreScoreState{podRequests: podRequests(pod, f.resources, true)})
	return nil
}

// Score implements framework.ScorePlugin with the configured strategy.
func (f *Fit) Score(state *framework.CycleState, pod *framework.PodInfo, node *framework.NodeInfo) (int64, *framework.Status) {
	var reqs []int64
	if d, err := state.Read(fitPreScoreStateKey); err == nil {
		reqs = d.(*fitPreScoreState).podRequests
	} else {
		reqs = podRequests(pod, f.resources, true)
	}
	switch f.strategy {
	case MostAllocated:
		return f.weightedAverage(node, reqs, mostRequestedScore), nil
	case RequestedToCapacityRatio:
		return f.requestedToCapacityRatio(node, reqs), nil
	default:
		return f.weightedAverage(node, reqs, leastRequestedScore), nil
	}
}

// weightedAverage is Σ w·s(req, alloc) / Σ w over the resources with allocatable > 0,
// integer division (least_allocated.go, most_allocated.go).
func (f *Fit) weightedAverage(node *framework.NodeInfo, reqs []int64, s func(req, alloc int64) int64) int64 {
	var nodeScore, weightSum int64
	for i := range f.resources {
		r := &f.resources[i]
		alloc, req := allocatableRequested(node, r, reqs[i], true)
		if alloc == 0 {
			continue
		}
		nodeScore += s(req, alloc) * r.weight
		weightSum += r.weight
	}
	if weightSum == 0 {
		return 0
	}
	return nodeScore / weightSum
}

// leastRequestedScore is (capacity − requested)·100/capacity, 0 when over capacity
// (reference §2.6.1).
func leastRequestedScore(requested, capacity int64) int64 {
	if capacity == 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * framework.MaxNodeScore / capacity
}

// mostRequestedScore is min(requested, capacity)·100/capacity (reference §2.6.1).
func mostRequestedScore(requested, capacity int64) int64 {
	if capacity == 0 {
		return 0
	}
	if requested > capacity {
		requested = capacity
	}
	return requested * framework.MaxNodeScore / capacity
}

type shapePoint struct{ utilization, score int64 }

// brokenLinear evaluates the piecewise-linear shape at utilization p, clamped to the
// first and last points (helper/shape_score.go BuildBrokenLinearFunction).
func brokenLinear(shape []shapePoint, p int64) int64 {
	for i := range shape {
		if p <= shape[i].utilization {
			if i == 0 {
				return shape[0].score
			}
			prev := shape[i-1]
			return prev.score + (shape[i].score-prev.score)*(p-prev.utilization)/(shape[i].utilization-prev.utilization)
		}
	}
	return shape[len(shape)-1].score
}

// requestedToCapacityRatio: per resource f(req·100/alloc) (f(100) when over
// capacity); resources scoring 0 are left out of both sums; the weighted average is
// rounded with math.Round (reference §2.6.1; requested_to_capacity_ratio.go).
func (f *Fit) requestedToCapacityRatio(node *framework.NodeInfo, reqs []int64) int64 {
	const maxUtilization = 100
	var nodeScore, weightSum int64
	for i := range f.resources {
		r := &f.resources[i]
		alloc, req := allocatableRequested(node, r, reqs[i], true)
		if alloc == 0 {
			continue
		}
		var s int64
		if req > alloc {
			s = brokenLinear(f.shape, maxUtilization)
		} else {
			s = brokenLinear(f.shape, req*maxUtilization/alloc)
		}
		if s > 0 {
			nodeScore += s * r.weight
			weightSum += r.weight
		}
	}
	if weightSum == 0 {
		return 0
	}
	return int64(math.Round(float64(nodeScore) / float64(weightSum)))
}

// ScoreExtensions implements framework.ScorePlugin (no normalization).
func (*Fit) ScoreExtensions() framework.ScoreExtensions { return nil }

// EventsToRegister implements framework.EnqueueExtensions: resources free up when an
// assigned pod is deleted or scaled down, or a node is added or grows.
func (*Fit) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.AssignedPodResource, ActionType: framework.Delete | framework.UpdatePodScaleDown},
		{Resource: framework.NodeResource, ActionType: framework.Add | framework.UpdateNodeAllocatable},
	}
}
