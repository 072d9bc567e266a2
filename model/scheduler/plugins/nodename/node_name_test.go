package nodename

import (
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/framework/fwtest"
)

func TestNodeName(t *testing.T) {
	tests := []struct {
		name     string
		nodeName api.NodeName
		fits     bool
	}{
		{"no host specified", "", true},
		{"host matches", "foo", true},
		{"host doesn't match", "bar", false},
	}
	p, _ := New(nil, nil)
	pl := p.(framework.FilterPlugin)
	ni := fwtest.NodeInfos([]*api.Node{fwtest.Node("foo", 1, 1)}, nil)[0]
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := &api.Pod{Spec: api.PodSpec{NodeName: tc.nodeName}}
			st := pl.Filter(framework.NewCycleState(), framework.NewPodInfo(pod), ni)
			if st.IsSuccess() != tc.fits || (!tc.fits && st.Message() != ErrReason) {
				t.Fatalf("status = %v, want fits=%v", st, tc.fits)
			}
		})
	}
}
