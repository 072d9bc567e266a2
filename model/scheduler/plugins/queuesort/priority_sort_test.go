package queuesort

import (
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/sim"
)

func qpi(priority int32, ts sim.Time) *framework.QueuedPodInfo {
	p := &api.Pod{Spec: api.PodSpec{Priority: priority}}
	return &framework.QueuedPodInfo{PodInfo: framework.NewPodInfo(p), Timestamp: ts}
}

// Cases from upstream priority_sort_test.go.
func TestLess(t *testing.T) {
	tests := []struct {
		name string
		a, b *framework.QueuedPodInfo
		want bool
	}{
		{"p1.priority less than p2.priority", qpi(1, 0), qpi(2, 0), false},
		{"p1.priority greater than p2.priority", qpi(2, 0), qpi(1, 0), true},
		{"equal priority, p1 added to the queue before p2", qpi(2, 1), qpi(2, 2), true},
		{"equal priority, p2 added before p1", qpi(2, 2), qpi(2, 1), false},
		{"equal priority and timestamp", qpi(2, 1), qpi(2, 1), false},
	}
	pl := &PrioritySort{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := pl.Less(tc.a, tc.b); got != tc.want {
				t.Errorf("Less = %v, want %v", got, tc.want)
			}
		})
	}
}
