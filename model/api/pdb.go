package api

import (
	"fmt"

	"github.com/kubesim/kubesim/sim"
)

// PodDisruptionBudgetSpec is a policy/v1 PodDisruptionBudget's desired state. Exactly
// one of MinAvailable and MaxUnavailable is set (k8s.io/api/policy/v1 types.go;
// pkg/apis/policy/validation ValidatePodDisruptionBudgetSpec).
type PodDisruptionBudgetSpec struct {
	// MinAvailable: at least this many (or this percentage of the expected) pods
	// selected by Selector must stay healthy (ready) after an eviction.
	MinAvailable *IntOrPercent
	// MaxUnavailable: at most this many (or this percentage of the expected) pods
	// selected by Selector may be unhealthy after an eviction.
	MaxUnavailable *IntOrPercent
	// Selector selects the budget's pods in its namespace. In policy/v1 an empty
	// selector selects every pod of the namespace for the disruption controller;
	// the scheduler's preemption treats an empty selector as matching nothing
	// (pkg/scheduler/framework/preemption/util.go FilterVictimsWithPDBViolation).
	Selector *LabelSelector
}

// PodDisruptionBudgetStatus is what the disruption controller observed
// (pkg/controller/disruption/disruption.go updatePdbStatus).
type PodDisruptionBudgetStatus struct {
	// ObservedGeneration is the spec generation the status was computed from.
	ObservedGeneration int64
	// DisruptedPods are pods an eviction was admitted for, by name, with the time
	// (the eviction API is not modelled: the map stays empty).
	DisruptedPods map[string]sim.Time
	// DisruptionsAllowed = max(CurrentHealthy - DesiredHealthy, 0), and 0 while
	// ExpectedPods is 0.
	DisruptionsAllowed int32
	// CurrentHealthy is the number of ready, non-terminating selected pods.
	CurrentHealthy int32
	// DesiredHealthy is the minimum number of healthy pods the budget keeps.
	DesiredHealthy int32
	// ExpectedPods is the number of pods there should be: the sum of the scales of
	// the selected pods' controllers (or the number of selected pods for an integer
	// minAvailable).
	ExpectedPods int32
}

// PodDisruptionBudget (policy/v1) limits the voluntary disruptions of a set of pods.
type PodDisruptionBudget struct {
	ObjectMeta
	Spec   PodDisruptionBudgetSpec
	Status PodDisruptionBudgetStatus
}

// Kind implements Object.
func (*PodDisruptionBudget) Kind() Kind { return KindPodDisruptionBudget }

// DeepCopyObject implements Object.
func (b *PodDisruptionBudget) DeepCopyObject() Object {
	out := new(PodDisruptionBudget)
	b.ObjectMeta.deepCopyInto(&out.ObjectMeta)
	if v := b.Spec.MinAvailable; v != nil {
		c := *v
		out.Spec.MinAvailable = &c
	}
	if v := b.Spec.MaxUnavailable; v != nil {
		c := *v
		out.Spec.MaxUnavailable = &c
	}
	if b.Spec.Selector != nil {
		out.Spec.Selector = b.Spec.Selector.DeepCopy()
	}
	out.Status = b.Status
	if b.Status.DisruptedPods != nil {
		out.Status.DisruptedPods = make(map[string]sim.Time, len(b.Status.DisruptedPods))
		for k, v := range b.Status.DisruptedPods {
			out.Status.DisruptedPods[k] = v
		}
	}
	return out
}

// ValidatePodDisruptionBudgetSpec checks a spec as the apiserver does
// (pkg/apis/policy/validation ValidatePodDisruptionBudgetSpec): exactly one of
// minAvailable and maxUnavailable (upstream refuses both; kubesim also refuses
// neither, since a budget without either protects nothing and is almost always a
// mistake in a scenario), non-negative values, percentages at most 100 %, and a
// selector (policy/v1 leaves it optional but an absent selector selects nothing,
// so kubesim requires one to be explicit; `{}` selects the whole namespace) with
// valid expressions.
func ValidatePodDisruptionBudgetSpec(s *PodDisruptionBudgetSpec) error {
	switch {
	case s.MinAvailable != nil && s.MaxUnavailable != nil:
		return fmt.Errorf("spec: minAvailable and maxUnavailable cannot be both set")
	case s.MinAvailable == nil && s.MaxUnavailable == nil:
		return fmt.Errorf("spec: one of minAvailable and maxUnavailable is required")
	}
	for _, f := range [...]struct {
		name string
		v    *IntOrPercent
	}{{"minAvailable", s.MinAvailable}, {"maxUnavailable", s.MaxUnavailable}} {
		name, v := f.name, f.v
		if v == nil {
			continue
		}
		if v.Value < 0 {
			return fmt.Errorf("spec.%s: must be greater than or equal to 0, got %d", name, v.Value)
		}
		if v.IsPercent && v.Value > 100 {
			return fmt.Errorf("spec.%s: must not be greater than 100%%, got %d%%", name, v.Value)
		}
	}
	if s.Selector == nil {
		return fmt.Errorf("spec.selector: is required")
	}
	for i := range s.Selector.MatchExpressions {
		if err := s.Selector.MatchExpressions[i].Validate(false); err != nil {
			return fmt.Errorf("spec.selector.matchExpressions[%d]: %v", i, err)
		}
	}
	return nil
}

// ScaledValue resolves v against total as intstr.GetScaledValueFromIntOrPercent:
// a count is itself; a percentage is total·pct/100, rounded up when roundUp (the
// disruption controller always rounds up, pkg/controller/disruption/disruption.go
// getExpectedPodCount).
func (v IntOrPercent) ScaledValue(total int32, roundUp bool) int32 {
	if !v.IsPercent {
		return v.Value
	}
	n := int64(total) * int64(v.Value)
	if roundUp {
		return int32((n + 99) / 100)
	}
	return int32(n / 100)
}
