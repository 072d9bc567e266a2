package framework

import (
	"fmt"
	"testing"

	"github.com/kubesim/kubesim/model/api"
)

// TestNodeInfoLabelCache checks that Label answers as the Node's label map does,
// for more keys than the cache holds, and that SetNode clears it.
func TestNodeInfoLabelCache(t *testing.T) {
	labels := map[string]string{"a": "1", "b": "", "c": "3", "d": "4", "e": "5", "f": "6"}
	n := &api.Node{}
	n.Name, n.Labels = "n1", labels
	ni := NewNodeInfo("n1")
	if v, ok := ni.Label("a"); v != "" || ok {
		t.Fatalf("no Node: got %q %v", v, ok)
	}
	ni.SetNode(n)
	for round := 0; round < 3; round++ {
		for _, k := range []string{"a", "b", "x", "c", "d", "e", "f", "y"} {
			want, wantOK := labels[k]
			if got, ok := ni.Label(k); got != want || ok != wantOK {
				t.Fatalf("round %d key %q: got %q %v, want %q %v", round, k, got, ok, want, wantOK)
			}
		}
	}
	n2 := &api.Node{}
	n2.Name, n2.Labels = "n1", map[string]string{"a": "changed"}
	ni.SetNode(n2)
	if v, ok := ni.Label("a"); v != "changed" || !ok {
		t.Fatalf("after SetNode: got %q %v", v, ok)
	}
	if _, ok := ni.Label("b"); ok {
		t.Fatal("after SetNode: stale key b")
	}
}

// TestNodeInfoImageState checks ImageState against the map, with the compact copy
// (few images), without it (many images, or the map assigned directly), and after
// SetImageStates(nil).
func TestNodeInfoImageState(t *testing.T) {
	for _, size := range []int{0, 1, 4, 5, 9} {
		m := map[string]*ImageState{}
		for i := 0; i < size; i++ {
			name := fmt.Sprintf("img%d", i)
			m[name] = &ImageState{Size: int64(i), Name: name}
		}
		direct := NewNodeInfo("d")
		direct.ImageStates = m
		set := NewNodeInfo("s")
		set.SetImageStates(m)
		clone := CloneNodeInfo(set)
		for _, ni := range []*NodeInfo{direct, set, clone} {
			for i := 0; i < size+2; i++ {
				name := fmt.Sprintf("img%d", i)
				want, wantOK := m[name]
				if got, ok := ni.ImageState(name); got != want || ok != wantOK {
					t.Fatalf("size %d node %s image %s: got %v %v, want %v %v", size, ni.Name, name, got, ok, want, wantOK)
				}
			}
		}
		set.SetImageStates(nil)
		if _, ok := set.ImageState("img0"); ok || set.ImageStates != nil {
			t.Fatalf("size %d: image found after SetImageStates(nil)", size)
		}
	}
}

// TestNodeInfoScalar checks Scalar against the Allocatable and Requested maps
// through SetNode, AddPod and RemovePod, with few and with many extended resources.
func TestNodeInfoScalar(t *testing.T) {
	for _, kinds := range []int{1, 3, 6} {
		n := &api.Node{}
		n.Name = "n"
		n.Status.Allocatable = api.Resources{MilliCPU: 1000, Pods: 10, Scalar: map[api.ResourceName]int64{}}
		for i := 0; i < kinds; i++ {
			n.Status.Allocatable.Scalar[api.ResourceName(fmt.Sprintf("ex/r%d", i))] = int64(10 * (i + 1))
		}
		ni := NewNodeInfo("n")
		ni.SetNode(n)
		check := func(step string) {
			for i := 0; i < kinds+2; i++ {
				name := api.ResourceName(fmt.Sprintf("ex/r%d", i))
				a, u := ni.Scalar(name)
				if a != ni.Allocatable.Scalar[name] || u != ni.Requested.Scalar[name] {
					t.Fatalf("kinds %d %s %s: got %d/%d, want %d/%d", kinds, step, name, a, u, ni.Allocatable.Scalar[name], ni.Requested.Scalar[name])
				}
			}
		}
		check("set")
		var pods []*PodInfo
		for j := 0; j < 3; j++ {
			p := &api.Pod{}
			p.UID = api.UID(fmt.Sprint("p", j))
			p.Spec.Containers = []api.Container{{Name: "c", Requests: api.Resources{Scalar: map[api.ResourceName]int64{
				api.ResourceName(fmt.Sprintf("ex/r%d", j%(kinds+1))): int64(j + 1)}}}}
			pi := NewPodInfo(p)
			pods = append(pods, pi)
			ni.AddPod(pi)
			check(fmt.Sprint("add ", j))
		}
		ni.RemovePod(pods[1].Pod.UID)
		check("remove")
		ni.SetNode(nil)
		check("unset")
	}
}
