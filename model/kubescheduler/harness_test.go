//go:build kubescheduler

package kubescheduler

import (
	"fmt"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/model/scheduler"
	"github.com/kubesim/kubesim/sim"
)

const gi = int64(1) << 30

// stack is an etcd + apiserver model and a kubesim scheduler, no kubelets: pods
// stay where the scheduler puts them.
type stack struct {
	eng   *sim.Engine
	srv   *apiserver.Server
	admin *apiserver.Client
	sch   *scheduler.Scheduler
}

// newStack builds the stack; configure sets the scheduler's policy.
func newStack(t testing.TB, seed uint64, configure func(*scheduler.Config)) *stack {
	t.Helper()
	return newStackWith(t, seed, configure, nil)
}

// newStackWith is newStack with more plug-ins registered.
func newStackWith(t testing.TB, seed uint64, configure func(*scheduler.Config), register func(*scheduler.Registry) error) *stack {
	t.Helper()
	return buildStack(t, seed, configure, register, nil)
}

// buildStack builds the stack; beforeStart, when set, gets the scheduler before
// it starts (to add watches).
func buildStack(t testing.TB, seed uint64, configure func(*scheduler.Config), register func(*scheduler.Registry) error, beforeStart func(*scheduler.Scheduler)) *stack {
	t.Helper()
	eng := sim.New(seed)
	reg := dist.NewRegistry()
	st, err := etcd.New(eng, etcd.DefaultConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := scheduler.DefaultConfig()
	configure(&cfg)
	plugins := scheduler.NewRegistry()
	if err := scheduler.RegisterPolicies(plugins); err != nil {
		t.Fatal(err)
	}
	if err := Register(plugins); err != nil {
		t.Fatal(err)
	}
	if register != nil {
		if err := register(plugins); err != nil {
			t.Fatal(err)
		}
	}
	sch, err := scheduler.New(eng, srv.Client(scheduler.Component, 0, 0), cfg, plugins, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if beforeStart != nil {
		beforeStart(sch)
	}
	sch.Start()
	return &stack{eng: eng, srv: srv, admin: srv.Client("admin", 0, 0), sch: sch}
}

func (s *stack) create(t testing.TB, o api.Object) {
	t.Helper()
	s.admin.Create(o, func(_ api.Object, err error) {
		if err != nil {
			t.Errorf("create %s: %v", api.Ref(o), err)
		}
	})
}

// run advances virtual time by d.
func (s *stack) run(d time.Duration) { s.eng.RunUntil(s.eng.Now().Add(d)) }

// nodeOf returns the node the stored pod is bound to ("" when pending).
func (s *stack) nodeOf(t testing.TB, name string) api.NodeName {
	t.Helper()
	kv, ok := s.srv.Store().Get(api.Key(api.KindPod, api.NamespaceDefault, name))
	if !ok {
		t.Fatalf("pod %s not in etcd", name)
	}
	return kv.Value.(*api.Pod).Spec.NodeName
}

func mkNode(name, zone string, milliCPU, mem int64) *api.Node {
	alloc := api.Resources{MilliCPU: milliCPU, Memory: mem, Pods: 110, EphemeralStorage: 100 * gi}
	return &api.Node{
		ObjectMeta: api.ObjectMeta{Name: name, Labels: map[string]string{api.LabelHostname: name, api.LabelZone: zone}},
		Status: api.NodeStatus{Capacity: alloc.Clone(), Allocatable: alloc,
			Conditions: []api.NodeCondition{{Type: api.NodeReady, Status: api.ConditionTrue}}},
	}
}

func mkPod(name string, milliCPU, mem int64) *api.Pod {
	return &api.Pod{
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: api.NamespaceDefault, Labels: map[string]string{"app": "web"}},
		Spec: api.PodSpec{SchedulerName: api.DefaultSchedulerName, Containers: []api.Container{{Name: "c", Image: "nginx:1.25",
			Requests: api.Resources{MilliCPU: milliCPU, Memory: mem}}}},
	}
}

func podName(i int) string { return fmt.Sprintf("p-%03d", i) }
