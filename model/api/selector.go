package api

import (
	"fmt"
	"slices"
	"strconv"
)

// Matches reports whether labels satisfy the requirement, with the semantics of
// k8s.io/apimachinery/pkg/labels (In, NotIn, Exists, DoesNotExist, Gt, Lt).
// NotIn and DoesNotExist match when the key is absent.
func (r *Requirement) Matches(labels map[string]string) bool {
	v, ok := labels[r.Key]
	switch r.Operator {
	case OpIn:
		return ok && slices.Contains(r.Values, v)
	case OpNotIn:
		return !ok || !slices.Contains(r.Values, v)
	case OpExists:
		return ok
	case OpDoesNotExist:
		return !ok
	case OpGt, OpLt:
		if !ok || len(r.Values) != 1 {
			return false
		}
		have, err1 := strconv.ParseInt(v, 10, 64)
		want, err2 := strconv.ParseInt(r.Values[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if r.Operator == OpGt {
			return have > want
		}
		return have < want
	}
	return false
}

// Validate checks the operator and the number of values, as upstream validation does.
func (r *Requirement) Validate(nodeSelector bool) error {
	switch r.Operator {
	case OpIn, OpNotIn:
		if len(r.Values) == 0 {
			return fmt.Errorf("operator %s needs at least one value", r.Operator)
		}
	case OpExists, OpDoesNotExist:
		if len(r.Values) != 0 {
			return fmt.Errorf("operator %s takes no values", r.Operator)
		}
	case OpGt, OpLt:
		if !nodeSelector {
			return fmt.Errorf("operator %s is only valid in node selectors", r.Operator)
		}
		if len(r.Values) != 1 {
			return fmt.Errorf("operator %s needs exactly one value", r.Operator)
		}
		if _, err := strconv.ParseInt(r.Values[0], 10, 64); err != nil {
			return fmt.Errorf("operator %s needs an integer value, got %q", r.Operator, r.Values[0])
		}
	default:
		return fmt.Errorf("unknown operator %q (known: In, NotIn, Exists, DoesNotExist, Gt, Lt)", r.Operator)
	}
	return nil
}

// Matches reports whether labels satisfy the selector. A nil selector matches
// nothing; an empty selector matches everything.
func (s *LabelSelector) Matches(labels map[string]string) bool {
	if s == nil {
		return false
	}
	for k, v := range s.MatchLabels {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	for i := range s.MatchExpressions {
		if !s.MatchExpressions[i].Matches(labels) {
			return false
		}
	}
	return true
}

// IsEmpty reports whether the selector has no requirement (and so matches everything).
func (s *LabelSelector) IsEmpty() bool {
	return s != nil && len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0
}

// MatchesSet reports whether labels contain every key/value of set (the selector form
// Services use). An empty or nil set matches nothing, as for Services: a Service
// without a selector gets no endpoints from the controller.
func MatchesSet(set, labels map[string]string) bool {
	if len(set) == 0 {
		return false
	}
	for k, v := range set {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

// Matches reports whether the node matches the term: every expression on labels and
// every field requirement (metadata.name) must hold. A term with no requirement
// matches nothing, as upstream (component-helpers nodeaffinity).
func (t *NodeSelectorTerm) Matches(node *Node) bool {
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		return false
	}
	for i := range t.MatchExpressions {
		if !t.MatchExpressions[i].Matches(node.Labels) {
			return false
		}
	}
	for i := range t.MatchFields {
		f := &t.MatchFields[i]
		if f.Key != "metadata.name" {
			return false
		}
		if !f.Matches(map[string]string{"metadata.name": node.Name}) {
			return false
		}
	}
	return true
}

// MatchesAnyTerm reports whether the node matches at least one term (terms are ORed).
func MatchesAnyTerm(terms []NodeSelectorTerm, node *Node) bool {
	for i := range terms {
		if terms[i].Matches(node) {
			return true
		}
	}
	return false
}
