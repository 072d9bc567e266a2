// Package queuesort holds PrioritySort, the default QueueSort plug-in: higher
// spec.priority first, then the earlier queue timestamp (reference §2.2;
// pkg/scheduler/framework/plugins/queuesort/priority_sort.go).
package queuesort

import (
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// Name is the plug-in's registered name.
const Name = "PrioritySort"

// PrioritySort orders the active queue by priority, then queue timestamp.
type PrioritySort struct{}

var _ framework.QueueSortPlugin = (*PrioritySort)(nil)

// New builds the plug-in; it takes no arguments.
func New(_ any, _ framework.Handle) (framework.Plugin, error) { return &PrioritySort{}, nil }

// Name implements framework.Plugin.
func (*PrioritySort) Name() string { return Name }

// Less implements framework.QueueSortPlugin.
func (*PrioritySort) Less(a, b *framework.QueuedPodInfo) bool {
	p1, p2 := a.Pod.Spec.Priority, b.Pod.Spec.Priority
	return p1 > p2 || (p1 == p2 && a.Timestamp < b.Timestamp)
}
