package nodeports

import (
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/framework/fwtest"
)

func podWithPorts(name string, ports ...api.ContainerPort) *api.Pod {
	p := fwtest.Pod(name)
	p.Spec.Containers = []api.Container{{Name: "c", Image: "x", Ports: ports}}
	return p
}

func hp(ip, proto string, port int32) api.ContainerPort {
	return api.ContainerPort{ContainerPort: port, HostPort: port, HostIP: ip, Protocol: proto}
}

// Cases in the spirit of upstream node_ports_test.go (TestNodePorts).
func TestNodePorts(t *testing.T) {
	tests := []struct {
		name     string
		pod      *api.Pod
		existing *api.Pod
		fits     bool
		skip     bool
	}{
		{name: "nothing running, no host ports: PreFilter skips", pod: fwtest.Pod("p"), existing: fwtest.Pod("e"), fits: true, skip: true},
		{name: "other port", pod: podWithPorts("p", hp("127.0.0.1", "UDP", 8080)), existing: podWithPorts("e", hp("127.0.0.1", "UDP", 9090)), fits: true},
		{name: "same udp port", pod: podWithPorts("p", hp("127.0.0.1", "UDP", 8080)), existing: podWithPorts("e", hp("127.0.0.1", "UDP", 8080))},
		{name: "same tcp port", pod: podWithPorts("p", hp("127.0.0.1", "TCP", 8080)), existing: podWithPorts("e", hp("127.0.0.1", "TCP", 8080))},
		{name: "different host ip", pod: podWithPorts("p", hp("127.0.0.1", "TCP", 8080)), existing: podWithPorts("e", hp("127.0.0.2", "TCP", 8080)), fits: true},
		{name: "different protocol", pod: podWithPorts("p", hp("127.0.0.1", "UDP", 8080)), existing: podWithPorts("e", hp("127.0.0.1", "TCP", 8080)), fits: true},
		{name: "second port conflicts", pod: podWithPorts("p", hp("127.0.0.1", "TCP", 8000), hp("127.0.0.1", "UDP", 8080)), existing: podWithPorts("e", hp("127.0.0.1", "UDP", 8080))},
		{name: "0.0.0.0 conflicts with a specific ip", pod: podWithPorts("p", hp("0.0.0.0", "TCP", 8001)), existing: podWithPorts("e", hp("127.0.0.1", "TCP", 8001))},
		{name: "a specific ip conflicts with 0.0.0.0", pod: podWithPorts("p", hp("10.0.10.10", "TCP", 8001)), existing: podWithPorts("e", hp("", "TCP", 8001))},
		{name: "empty protocol means TCP", pod: podWithPorts("p", hp("", "", 8001)), existing: podWithPorts("e", hp("", "TCP", 8001))},
	}
	p, _ := New(nil, nil)
	pl := p.(*NodePorts)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ni := fwtest.NodeInfos([]*api.Node{fwtest.Node("n", 1000, 1000)}, []*api.Pod{fwtest.OnNode(tc.existing, "n")})[0]
			pi := framework.NewPodInfo(tc.pod)
			_, st := pl.PreFilter(framework.NewCycleState(), pi, nil)
			if st.IsSkip() != tc.skip {
				t.Fatalf("PreFilter skip = %v, want %v", st.IsSkip(), tc.skip)
			}
			if tc.skip {
				return
			}
			fst := pl.Filter(framework.NewCycleState(), pi, ni)
			if fst.IsSuccess() != tc.fits {
				t.Fatalf("Filter = %v, want fits=%v", fst, tc.fits)
			}
			if !tc.fits && (fst.Code() != framework.Unschedulable || fst.Message() != ErrReason) {
				t.Errorf("status = %v", fst)
			}
		})
	}
}
