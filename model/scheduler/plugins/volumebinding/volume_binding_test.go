package volumebinding

import (
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/framework/fwtest"
)

func zoneNode(name, zone string) *framework.NodeInfo {
	n := fwtest.Node(name, 4000, 1<<34)
	if zone != "" {
		n.Labels[api.LabelZone] = zone
	}
	return fwtest.NodeInfos([]*api.Node{n}, nil)[0]
}

func TestFilter(t *testing.T) {
	pl, err := New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	vb := pl.(*VolumeBinding)
	for _, tc := range []struct {
		name string
		data *cycleData
		zone string
		want string // "" = feasible
	}{
		{"no state (no claims)", nil, "zone-a", ""},
		{"bound volume in the node's zone", &cycleData{boundZones: []string{"zone-b"}}, "zone-b", ""},
		{"bound volume elsewhere", &cycleData{boundZones: []string{"zone-b"}}, "zone-a", ErrReasonNodeConflict},
		{"unlabelled node", &cycleData{boundZones: []string{"zone-b"}}, "", ErrReasonNodeConflict},
		{"WFFC, any zone", &cycleData{delayed: []claimInfo{{}}}, "zone-a", ""},
		{"WFFC, allowed zone", &cycleData{delayed: []claimInfo{{zones: []string{"zone-a", "zone-c"}}}}, "zone-c", ""},
		{"WFFC, zone not allowed", &cycleData{delayed: []claimInfo{{zones: []string{"zone-a"}}}}, "zone-b", ErrReasonBindConflict},
		{"WFFC static, volume in zone", &cycleData{delayed: []claimInfo{{static: true, staticZones: map[string]bool{"zone-b": true}}}}, "zone-b", ""},
		{"WFFC static, volume anywhere", &cycleData{delayed: []claimInfo{{static: true, staticZones: map[string]bool{"": true}}}}, "zone-b", ""},
		{"WFFC static, none in zone", &cycleData{delayed: []claimInfo{{static: true, staticZones: map[string]bool{"zone-a": true}}}}, "zone-b", ErrReasonBindConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := framework.NewCycleState()
			if tc.data != nil {
				state.Write(stateKey, tc.data)
			}
			st := vb.Filter(state, nil, zoneNode("n1", tc.zone))
			if tc.want == "" {
				if !st.IsSuccess() {
					t.Fatalf("rejected: %v", st)
				}
				return
			}
			if st.Code() != framework.UnschedulableAndUnresolvable || st.Message() != tc.want {
				t.Fatalf("status %v, want UnschedulableAndUnresolvable %q", st, tc.want)
			}
		})
	}
}

func TestPreFilterSkipsPodsWithoutClaims(t *testing.T) {
	pl, _ := New(nil, nil)
	_, st := pl.(*VolumeBinding).PreFilter(framework.NewCycleState(), framework.NewPodInfo(fwtest.Pod("p")), nil)
	if !st.IsSkip() {
		t.Fatalf("status %v, want Skip", st)
	}
	if pl.(*VolumeBinding).started {
		t.Error("informers started for a pod without claims")
	}
}

func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		args any
		ok   bool
	}{
		{"nil", nil, true},
		{"value", Args{BindTimeoutSeconds: 30}, true},
		{"pointer", &Args{BindTimeoutSeconds: 30}, true},
		{"zero timeout", Args{}, false},
		{"wrong type", 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.args, nil)
			if (err == nil) != tc.ok {
				t.Fatalf("error %v, ok %v", err, tc.ok)
			}
		})
	}
	pl, _ := New(nil, nil)
	if pl.(*VolumeBinding).timeout.Seconds() != 600 {
		t.Errorf("default bind timeout %v, want 600 s", pl.(*VolumeBinding).timeout)
	}
}
