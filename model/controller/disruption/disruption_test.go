package disruption

import (
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/sim"
)

func ip(v int32, pct bool) *api.IntOrPercent { return &api.IntOrPercent{Value: v, IsPercent: pct} }

func pod(name string, ready bool, owner *api.OwnerReference) *api.Pod {
	p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: name, Namespace: api.NamespaceDefault, Labels: map[string]string{"app": "web"}},
		Spec: api.PodSpec{Containers: []api.Container{{Name: "c", Image: "nginx"}}}}
	if owner != nil {
		p.OwnerReferences = []api.OwnerReference{*owner}
	}
	if ready {
		p.SetCondition(api.PodReady, api.ConditionTrue, "", 0)
	}
	return p
}

// Upstream getExpectedPodCount and updatePdbStatus (pkg/controller/disruption).
func TestStatusArithmetic(t *testing.T) {
	rsA := &api.OwnerReference{Kind: api.KindReplicaSet, Name: "a", UID: "rs-a", Controller: true}
	rsB := &api.OwnerReference{Kind: api.KindReplicaSet, Name: "b", UID: "rs-b", Controller: true}
	job := &api.OwnerReference{Kind: api.KindJob, Name: "j", UID: "job", Controller: true}
	// rs-a and rs-b belong to one Deployment of 5 replicas.
	scale := func(_ string, ref *api.OwnerReference) (api.UID, int32, bool) {
		switch ref.UID {
		case "rs-a", "rs-b":
			return "dep", 5, true
		}
		return "", 0, false
	}
	dying := pod("dying", true, rsA)
	now := sim.Time(0)
	dying.DeletionTimestamp = &now
	three := []*api.Pod{pod("p1", true, rsA), pod("p2", true, rsB), pod("p3", false, rsA), dying}
	for _, tc := range []struct {
		name                                string
		spec                                api.PodDisruptionBudgetSpec
		pods                                []*api.Pod
		expected, desired, healthy, allowed int32
		err                                 bool
	}{
		{name: "minAvailable int: expected is the pod count", spec: api.PodDisruptionBudgetSpec{MinAvailable: ip(1, false)},
			pods: three, expected: 4, desired: 1, healthy: 2, allowed: 1},
		{name: "minAvailable int above healthy: none allowed", spec: api.PodDisruptionBudgetSpec{MinAvailable: ip(3, false)},
			pods: three, expected: 4, desired: 3, healthy: 2, allowed: 0},
		{name: "maxUnavailable int: expected from the Deployment's scale", spec: api.PodDisruptionBudgetSpec{MaxUnavailable: ip(2, false)},
			pods: three, expected: 5, desired: 3, healthy: 2, allowed: 0},
		{name: "maxUnavailable 50% rounds up", spec: api.PodDisruptionBudgetSpec{MaxUnavailable: ip(50, true)},
			pods: three, expected: 5, desired: 2, healthy: 2, allowed: 0},
		{name: "minAvailable 30% rounds up", spec: api.PodDisruptionBudgetSpec{MinAvailable: ip(30, true)},
			pods: three, expected: 5, desired: 2, healthy: 2, allowed: 0},
		{name: "minAvailable 0%", spec: api.PodDisruptionBudgetSpec{MinAvailable: ip(0, true)},
			pods: three, expected: 5, desired: 0, healthy: 2, allowed: 2},
		{name: "maxUnavailable beyond expected: desired floored at 0", spec: api.PodDisruptionBudgetSpec{MaxUnavailable: ip(9, false)},
			pods: three, expected: 5, desired: 0, healthy: 2, allowed: 2},
		{name: "no pods: expected 0 allows nothing", spec: api.PodDisruptionBudgetSpec{MinAvailable: ip(0, false)},
			expected: 0, desired: 0, healthy: 0, allowed: 0},
		{name: "unmanaged pods are skipped by the scale", spec: api.PodDisruptionBudgetSpec{MaxUnavailable: ip(1, false)},
			pods: []*api.Pod{pod("bare", true, nil), pod("p1", true, rsA)}, expected: 5, desired: 4, healthy: 2, allowed: 0},
		{name: "a Job's pod has no scale: the sync fails", spec: api.PodDisruptionBudgetSpec{MaxUnavailable: ip(1, false)},
			pods: []*api.Pod{pod("j1", true, job)}, err: true},
		{name: "a Job's pod with an integer minAvailable is fine", spec: api.PodDisruptionBudgetSpec{MinAvailable: ip(0, false)},
			pods: []*api.Pod{pod("j1", true, job)}, expected: 1, desired: 0, healthy: 1, allowed: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &api.PodDisruptionBudget{Spec: tc.spec}
			b.Generation = 3
			exp, des, err := ExpectedPodCount(b, tc.pods, scale)
			if (err != nil) != tc.err {
				t.Fatalf("err %v, want error %v", err, tc.err)
			}
			if err != nil {
				return
			}
			st := StatusFor(b, CountHealthy(tc.pods), des, exp)
			want := api.PodDisruptionBudgetStatus{ObservedGeneration: 3, ExpectedPods: tc.expected, DesiredHealthy: tc.desired,
				CurrentHealthy: tc.healthy, DisruptionsAllowed: tc.allowed}
			if !statusEqual(st, want) {
				t.Errorf("status %+v, want %+v", st, want)
			}
		})
	}
}

// The controller end to end on the modelled apiserver: the status follows the
// pods' readiness; a relabelled pod leaves the budget.
func TestControllerWritesStatus(t *testing.T) {
	eng := sim.New(1)
	reg := dist.NewRegistry()
	st, err := etcd.New(eng, etcd.DefaultConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(eng, srv.Client("controller-manager", 0, 0), DefaultConfig(), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	admin := srv.Client("admin", 0, 0)
	create := func(o api.Object) {
		admin.Create(o, func(_ api.Object, err error) {
			if err != nil {
				t.Errorf("create %s: %v", api.Ref(o), err)
			}
		})
	}
	create(&api.PodDisruptionBudget{ObjectMeta: api.ObjectMeta{Name: "web"},
		Spec: api.PodDisruptionBudgetSpec{MinAvailable: ip(1, false), Selector: &api.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}})
	for _, n := range []string{"a", "b", "c"} {
		create(pod(n, n != "c", nil))
	}
	eng.RunUntil(sim.Time(time.Second))
	get := func() api.PodDisruptionBudgetStatus {
		kv, ok := srv.Store().Get(api.Key(api.KindPodDisruptionBudget, api.NamespaceDefault, "web"))
		if !ok {
			t.Fatal("budget not stored")
		}
		return kv.Value.(*api.PodDisruptionBudget).Status
	}
	if s := get(); s.ExpectedPods != 3 || s.CurrentHealthy != 2 || s.DesiredHealthy != 1 || s.DisruptionsAllowed != 1 || s.ObservedGeneration != 1 {
		t.Fatalf("status %+v: want expected 3, healthy 2, desired 1, allowed 1, generation 1", s)
	}
	// Relabel a ready pod out of the budget.
	kv, _ := srv.Store().Get(api.Key(api.KindPod, api.NamespaceDefault, "a"))
	p := kv.Value.(*api.Pod).DeepCopy()
	p.Labels = map[string]string{"app": "other"}
	admin.Update(p, nil)
	eng.RunUntil(sim.Time(2 * time.Second))
	if s := get(); s.ExpectedPods != 2 || s.CurrentHealthy != 1 || s.DisruptionsAllowed != 0 {
		t.Fatalf("after relabel: status %+v: want expected 2, healthy 1, allowed 0", s)
	}
	if c.Syncs() == 0 {
		t.Fatal("no syncs")
	}
}

func TestValidation(t *testing.T) {
	sel := &api.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	for _, tc := range []struct {
		name string
		spec api.PodDisruptionBudgetSpec
		want string
	}{
		{"both", api.PodDisruptionBudgetSpec{MinAvailable: ip(1, false), MaxUnavailable: ip(1, false), Selector: sel}, "cannot be both set"},
		{"neither", api.PodDisruptionBudgetSpec{Selector: sel}, "one of minAvailable and maxUnavailable is required"},
		{"no selector", api.PodDisruptionBudgetSpec{MinAvailable: ip(1, false)}, "spec.selector: is required"},
		{"percent above 100", api.PodDisruptionBudgetSpec{MaxUnavailable: ip(150, true), Selector: sel}, "must not be greater than 100%"},
		{"negative", api.PodDisruptionBudgetSpec{MinAvailable: ip(-1, false), Selector: sel}, "greater than or equal to 0"},
		{"ok", api.PodDisruptionBudgetSpec{MinAvailable: ip(50, true), Selector: &api.LabelSelector{}}, ""},
	} {
		err := api.ValidatePodDisruptionBudgetSpec(&tc.spec)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
