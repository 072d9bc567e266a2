package nodeunschedulable

import (
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/framework/fwtest"
)

func TestNodeUnschedulable(t *testing.T) {
	tolerate := []api.Toleration{{Key: api.TaintNodeUnschedulable, Operator: api.TolerationOpExists, Effect: api.TaintNoSchedule}}
	tests := []struct {
		name          string
		unschedulable bool
		tolerations   []api.Toleration
		fits          bool
	}{
		{"schedulable node", false, nil, true},
		{"cordoned node rejects", true, nil, false},
		{"cordoned node, pod tolerates node.kubernetes.io/unschedulable", true, tolerate, true},
		{"cordoned node, toleration for another key", true, []api.Toleration{{Key: "x", Operator: api.TolerationOpExists}}, false},
	}
	p, _ := New(nil, nil)
	pl := p.(framework.FilterPlugin)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := fwtest.Node("n", 1, 1)
			n.Spec.Unschedulable = tc.unschedulable
			pod := &api.Pod{Spec: api.PodSpec{Tolerations: tc.tolerations}}
			st := pl.Filter(framework.NewCycleState(), framework.NewPodInfo(pod), fwtest.NodeInfos([]*api.Node{n}, nil)[0])
			if st.IsSuccess() != tc.fits {
				t.Fatalf("status = %v, want fits=%v", st, tc.fits)
			}
			if !tc.fits && (st.Code() != framework.UnschedulableAndUnresolvable || st.Message() != ErrReasonUnschedulable) {
				t.Errorf("status = %v", st)
			}
		})
	}
}
