// Package noderesources holds the resource plug-ins of the default profile, as
// upstream keeps them together (pkg/scheduler/framework/plugins/noderesources):
//
//   - NodeResourcesFit: Filter on allocatable minus requested, and a Score with one of
//     three strategies (LeastAllocated by default, MostAllocated,
//     RequestedToCapacityRatio) over "non-zero" requests (reference §2.4, §2.6.1);
//   - NodeResourcesBalancedAllocation: a Score favouring nodes whose resource
//     fractions are close to each other, with actual requests, the v1.35 formula
//     int((1−std)·100), and Skip for best-effort pods (reference §2.6.2).
package noderesources

import (
	"fmt"
	"strings"

	"github.com/kubesim/kubesim/model/api"
)

// Resource names as the API spells them.
const (
	ResourceCPU              api.ResourceName = "cpu"
	ResourceMemory           api.ResourceName = "memory"
	ResourceEphemeralStorage api.ResourceName = "ephemeral-storage"
	ResourcePods             api.ResourceName = "pods"
)

// ResourceSpec is a resource and its weight in a score (upstream config.ResourceSpec).
type ResourceSpec struct {
	Name   api.ResourceName
	Weight int64
}

// ScoringStrategyType names a NodeResourcesFit scoring strategy.
type ScoringStrategyType string

// Strategies (pkg/scheduler/apis/config/types_pluginargs.go).
const (
	LeastAllocated           ScoringStrategyType = "LeastAllocated"
	MostAllocated            ScoringStrategyType = "MostAllocated"
	RequestedToCapacityRatio ScoringStrategyType = "RequestedToCapacityRatio"
)

// UtilizationShapePoint is one point of the RequestedToCapacityRatio shape:
// utilization in 0..100 (%) and score in 0..MaxCustomPriorityScore (10).
type UtilizationShapePoint struct {
	Utilization int32
	Score       int32
}

// MaxCustomPriorityScore is the scale of the user-supplied shape scores; they are
// multiplied by MaxNodeScore/MaxCustomPriorityScore = 10 (reference §2.5).
const MaxCustomPriorityScore = 10

// ScoringStrategy configures NodeResourcesFit's score.
type ScoringStrategy struct {
	Type      ScoringStrategyType
	Resources []ResourceSpec
	// Shape is used by RequestedToCapacityRatio only: points with strictly
	// increasing utilization.
	Shape []UtilizationShapePoint
}

// FitArgs configure NodeResourcesFit (upstream NodeResourcesFitArgs).
type FitArgs struct {
	// IgnoredResources are extended resources the filter does not check.
	IgnoredResources []api.ResourceName
	// IgnoredResourceGroups are extended-resource prefixes ("example.com" ignores
	// "example.com/foo") the filter does not check.
	IgnoredResourceGroups []string
	// ScoringStrategy; nil means LeastAllocated with cpu:1, memory:1.
	ScoringStrategy *ScoringStrategy
}

// BalancedAllocationArgs configure NodeResourcesBalancedAllocation.
type BalancedAllocationArgs struct {
	// Resources; nil means cpu:1, memory:1 (weights are not used by the formula).
	Resources []ResourceSpec
	// Version selects the score formula (reference §2.6.2): BalancedV135 (the
	// default, "" too) scores int((1−std)·100) of the node with the pod;
	// BalancedV136 scores the change in balance (upstream PR #135573).
	Version BalancedVersion
}

// BalancedVersion names a NodeResourcesBalancedAllocation formula.
type BalancedVersion string

// Formula versions.
const (
	BalancedV135 BalancedVersion = "v1.35"
	BalancedV136 BalancedVersion = "v1.36"
)

// DefaultResources is cpu:1, memory:1 (reference §2.4; apis/config/v1/defaults.go).
func DefaultResources() []ResourceSpec {
	return []ResourceSpec{{Name: ResourceCPU, Weight: 1}, {Name: ResourceMemory, Weight: 1}}
}

// DefaultFitArgs returns the upstream defaults.
func DefaultFitArgs() FitArgs {
	return FitArgs{ScoringStrategy: &ScoringStrategy{Type: LeastAllocated, Resources: DefaultResources()}}
}

func validateResources(field string, rs []ResourceSpec) error {
	if len(rs) == 0 {
		return fmt.Errorf("%s: at least one resource is required", field)
	}
	seen := map[api.ResourceName]bool{}
	for i, r := range rs {
		if r.Name == "" {
			return fmt.Errorf("%s[%d].name: required", field, i)
		}
		if seen[r.Name] {
			return fmt.Errorf("%s[%d].name: duplicate resource %q", field, i, r.Name)
		}
		seen[r.Name] = true
		// reference §2.6.1: weights must be 1..100.
		if r.Weight < 1 || r.Weight > 100 {
			return fmt.Errorf("%s[%d].weight: must be in 1..100, got %d", field, i, r.Weight)
		}
	}
	return nil
}

// Validate checks the arguments as upstream validation does.
func (a *FitArgs) Validate() error {
	for i, g := range a.IgnoredResourceGroups {
		if g == "" || strings.Contains(g, "/") {
			return fmt.Errorf("ignoredResourceGroups[%d]: %q must be a prefix without '/'", i, g)
		}
	}
	s := a.ScoringStrategy
	if s == nil {
		return nil
	}
	if err := validateResources("scoringStrategy.resources", s.Resources); err != nil {
		return err
	}
	switch s.Type {
	case LeastAllocated, MostAllocated:
	case RequestedToCapacityRatio:
		if len(s.Shape) == 0 {
			return fmt.Errorf("scoringStrategy.shape: at least one point is required for %s", s.Type)
		}
		for i, p := range s.Shape {
			if p.Utilization < 0 || p.Utilization > 100 {
				return fmt.Errorf("scoringStrategy.shape[%d].utilization: must be in 0..100, got %d", i, p.Utilization)
			}
			if p.Score < 0 || p.Score > MaxCustomPriorityScore {
				return fmt.Errorf("scoringStrategy.shape[%d].score: must be in 0..%d, got %d", i, MaxCustomPriorityScore, p.Score)
			}
			if i > 0 && p.Utilization <= s.Shape[i-1].Utilization {
				return fmt.Errorf("scoringStrategy.shape[%d].utilization: values must be strictly increasing", i)
			}
		}
	default:
		return fmt.Errorf("scoringStrategy.type: unknown %q (known: %s, %s, %s)", s.Type, LeastAllocated, MostAllocated, RequestedToCapacityRatio)
	}
	return nil
}

// Validate checks the arguments.
func (a *BalancedAllocationArgs) Validate() error {
	switch a.Version {
	case "", BalancedV135, BalancedV136:
	default:
		return fmt.Errorf("version: unknown %q (known: %s, %s)", a.Version, BalancedV135, BalancedV136)
	}
	if a.Resources == nil {
		return nil
	}
	return validateResources("resources", a.Resources)
}
