package autoscaler

import (
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
)

// A node under the utilization threshold whose pod could move is removed, unless a
// PodDisruptionBudget selecting the pod allows no disruption.
func TestScaleDownRespectsPDB(t *testing.T) {
	for _, tc := range []struct {
		name     string
		allowed  int32
		selector map[string]string
		wantGone bool
	}{
		{name: "no budget", wantGone: true},
		{name: "budget allows one", allowed: 1, selector: map[string]string{"app": "web"}, wantGone: true},
		{name: "budget allows none", allowed: 0, selector: map[string]string{"app": "web"}},
		{name: "budget of other pods", allowed: 0, selector: map[string]string{"app": "db"}, wantGone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.ca.WatchPodDisruptionBudgets()
			g := groups()[0]
			for _, n := range []string{"old-1", "old-2"} {
				e.do(func(done func(error)) { e.user.Create(e.cloud.node(n, g), func(_ api.Object, err error) { done(err) }) })
				if err := e.ca.AdoptNode("small", n); err != nil {
					t.Fatal(err)
				}
			}
			// old-1: one small pod of a ReplicaSet (it fits on old-2); old-2 busy.
			mk := func(name, node string, cpu int64, app string) *api.Pod {
				return &api.Pod{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": app},
					OwnerReferences: []api.OwnerReference{{Kind: api.KindReplicaSet, Name: "rs", UID: "rs-uid", Controller: true}}},
					Spec: api.PodSpec{NodeName: api.NodeName(node), Containers: []api.Container{{Name: "c", Image: "nginx", Requests: api.Resources{MilliCPU: cpu, Memory: 256 << 20}}}}}
			}
			for _, p := range []*api.Pod{mk("w", "old-1", 100, "web"), mk("big", "old-2", 1200, "batch")} {
				e.do(func(done func(error)) { e.user.Create(p, func(_ api.Object, err error) { done(err) }) })
			}
			if tc.selector != nil {
				b := &api.PodDisruptionBudget{ObjectMeta: api.ObjectMeta{Name: "pdb", Namespace: "default"},
					Spec:   api.PodDisruptionBudgetSpec{MinAvailable: &api.IntOrPercent{Value: 1}, Selector: &api.LabelSelector{MatchLabels: tc.selector}},
					Status: api.PodDisruptionBudgetStatus{DisruptionsAllowed: tc.allowed}}
				e.do(func(done func(error)) { e.user.Create(b, func(_ api.Object, err error) { done(err) }) })
			}
			e.run(30 * time.Minute)
			gone := len(e.cloud.removed) == 1 && e.cloud.removed[0] == "old-1"
			if gone != tc.wantGone || len(e.cloud.removed) > 1 {
				t.Fatalf("removed %v, want old-1 removed: %v", e.cloud.removed, tc.wantGone)
			}
		})
	}
}
