package framework

import (
	"slices"
	"testing"

	"github.com/kubesim/kubesim/model/api"
)

func TestStatus(t *testing.T) {
	var nilStatus *Status
	tests := []struct {
		name     string
		st       *Status
		code     Code
		success  bool
		rejected bool
		message  string
	}{
		{"nil is success", nilStatus, Success, true, false, ""},
		{"unschedulable", NewStatus(Unschedulable, "a", "b"), Unschedulable, false, true, "a, b"},
		{"unresolvable", NewStatus(UnschedulableAndUnresolvable, "x"), UnschedulableAndUnresolvable, false, true, "x"},
		{"skip", NewStatus(Skip), Skip, false, false, ""},
		{"error", AsStatus(errString("boom")), Error, false, false, "boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.st.Code() != tc.code || tc.st.IsSuccess() != tc.success || tc.st.IsRejected() != tc.rejected || tc.st.Message() != tc.message {
				t.Errorf("status %v: code %v success %v rejected %v message %q", tc.st, tc.st.Code(), tc.st.IsSuccess(), tc.st.IsRejected(), tc.st.Message())
			}
		})
	}
	if AsStatus(nil) != nil {
		t.Error("AsStatus(nil) is not nil")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestCycleState(t *testing.T) {
	s := NewCycleState()
	s.Write("a", 1)
	s.Write("b", 2)
	s.Write("a", 3)
	if v, err := s.Read("a"); err != nil || v.(int) != 3 || s.Len() != 2 {
		t.Fatalf("read a = %v, %v (len %d)", v, err, s.Len())
	}
	s.Delete("a")
	if _, err := s.Read("a"); err != ErrNotFound {
		t.Fatalf("deleted key read: %v", err)
	}
}

// Upstream helper/normalize_score_test.go cases.
func TestDefaultNormalizeScore(t *testing.T) {
	tests := []struct {
		name    string
		reverse bool
		in      []int64
		want    []int64
	}{
		{"scale", false, []int64{10, 20, 30, 40, 50}, []int64{20, 40, 60, 80, 100}},
		{"scale reversed", true, []int64{10, 20, 30, 40, 50}, []int64{80, 60, 40, 20, 0}},
		{"all zero", false, []int64{0, 0, 0}, []int64{0, 0, 0}},
		{"all zero reversed", true, []int64{0, 0, 0}, []int64{100, 100, 100}},
		{"integer division", false, []int64{2, 11, 4}, []int64{18, 100, 36}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			scores := make([]NodeScore, len(tc.in))
			for i, v := range tc.in {
				scores[i].Score = v
			}
			DefaultNormalizeScore(MaxNodeScore, tc.reverse, scores)
			got := make([]int64, len(scores))
			for i := range scores {
				got[i] = scores[i].Score
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNewPodInfo(t *testing.T) {
	p := &api.Pod{ObjectMeta: api.ObjectMeta{UID: "u"}, Spec: api.PodSpec{
		Containers: []api.Container{
			{Name: "a", Requests: api.Resources{MilliCPU: 300}},
			{Name: "b", Requests: api.Resources{Memory: 1 << 20}, Ports: []api.ContainerPort{{ContainerPort: 80, HostPort: 8080}, {ContainerPort: 90}}},
		},
		InitContainers: []api.Container{{Name: "i", Requests: api.Resources{MilliCPU: 1000}}},
	}}
	pi := NewPodInfo(p)
	// Actual: max(300+0, 1000) cpu, 1 MiB memory. Non-zero: containers 300+100 and
	// 200Mi+1Mi, init 1000 / 200Mi → max.
	if pi.Requests.MilliCPU != 1000 || pi.Requests.Memory != 1<<20 || pi.Requests.Pods != 1 {
		t.Errorf("requests %+v", pi.Requests)
	}
	if pi.NonZeroMilliCPU != 1000 || pi.NonZeroMemory != DefaultMemoryRequest+1<<20 {
		t.Errorf("non-zero %d %d", pi.NonZeroMilliCPU, pi.NonZeroMemory)
	}
	if len(pi.HostPorts) != 1 || pi.HostPorts[0] != (HostPort{IP: DefaultBindAllHostIP, Protocol: "TCP", Port: 8080}) {
		t.Errorf("host ports %+v", pi.HostPorts)
	}
}

func TestNodeInfoAddRemove(t *testing.T) {
	ni := NewNodeInfo("n")
	ni.SetNode(&api.Node{ObjectMeta: api.ObjectMeta{Name: "n"}, Status: api.NodeStatus{Allocatable: api.Resources{MilliCPU: 4000, Pods: 10}}})
	mk := func(uid api.UID, cpu int64) *PodInfo {
		return NewPodInfo(&api.Pod{ObjectMeta: api.ObjectMeta{UID: uid}, Spec: api.PodSpec{Containers: []api.Container{{
			Requests: api.Resources{MilliCPU: cpu, Scalar: map[api.ResourceName]int64{"x/y": 1}},
			Ports:    []api.ContainerPort{{ContainerPort: 1, HostPort: 80}},
		}}}})
	}
	a, b := mk("a", 100), mk("b", 0)
	ni.AddPod(a)
	ni.AddPod(b)
	if ni.Requested.MilliCPU != 100 || ni.NonZeroRequested.MilliCPU != 200 || ni.Requested.Pods != 2 || ni.Requested.Scalar["x/y"] != 2 {
		t.Fatalf("after add: %+v %+v", ni.Requested, ni.NonZeroRequested)
	}
	if !ni.UsedPorts.CheckConflict(HostPort{IP: "10.0.0.1", Protocol: "TCP", Port: 80}) {
		t.Fatal("port 80 not in use")
	}
	if !ni.RemovePod("a") || ni.RemovePod("zz") {
		t.Fatal("remove")
	}
	if ni.Requested.MilliCPU != 0 || ni.NonZeroRequested.MilliCPU != 100 || len(ni.Pods) != 1 || ni.Pods[0] != b {
		t.Fatalf("after remove: %+v", ni.Requested)
	}
	if !ni.UsedPorts.CheckConflict(HostPort{IP: DefaultBindAllHostIP, Protocol: "TCP", Port: 80}) {
		t.Fatal("port 80 freed while b still uses it")
	}
	ni.RemovePod("b")
	if ni.UsedPorts.CheckConflict(HostPort{IP: DefaultBindAllHostIP, Protocol: "TCP", Port: 80}) {
		t.Fatal("port 80 still in use")
	}
}

func TestClusterEventMatch(t *testing.T) {
	reg := ClusterEvent{Resource: NodeResource, ActionType: Add | UpdateNodeTaint}
	tests := []struct {
		ev   ClusterEvent
		want bool
	}{
		{ClusterEvent{NodeResource, Add}, true},
		{ClusterEvent{NodeResource, UpdateNodeTaint | UpdateNodeLabel}, true},
		{ClusterEvent{NodeResource, UpdateNodeLabel}, false},
		{ClusterEvent{AssignedPodResource, Add}, false},
	}
	for _, tc := range tests {
		if got := reg.Match(tc.ev); got != tc.want {
			t.Errorf("%v matches %v = %v", reg, tc.ev, got)
		}
	}
	if !(ClusterEvent{WildCardResource, All}).Match(ClusterEvent{AssignedPodResource, UpdatePodScaleDown}) {
		t.Error("wildcard does not match")
	}
	if s := (Add | Delete).String(); s != "Add|Delete" {
		t.Errorf("String %q", s)
	}
}
