package defaultbinder

import (
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/framework/fwtest"
	"github.com/kubesim/kubesim/sim"
)

func TestBindThroughTheAPIServer(t *testing.T) {
	eng := sim.New(1)
	reg := dist.NewRegistry()
	st, _ := etcd.New(eng, etcd.DefaultConfig(), reg)
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := srv.Client("scheduler", 0, 0)
	var created *api.Pod
	c.Create(&api.Pod{ObjectMeta: api.ObjectMeta{Name: "p", Namespace: "default"}, Spec: api.PodSpec{Containers: []api.Container{{Name: "c", Image: "nginx"}}}},
		func(o api.Object, err error) {
			if err != nil {
				t.Fatal(err)
			}
			created = o.(*api.Pod)
		})
	eng.RunUntil(sim.Time(time.Second))
	pl, _ := New(nil, &fwtest.Handle{API: c})
	b := pl.(framework.BindPlugin)
	got := map[string]*framework.Status{}
	if s := b.Bind(nil, framework.NewPodInfo(created), "node-1", func(s *framework.Status) { got["good"] = s }); s != nil {
		t.Fatalf("Bind returned %v", s)
	}
	stale := created.DeepCopy()
	stale.UID = "another" // a re-created pod of the same name: the UID precondition fails
	b.Bind(nil, framework.NewPodInfo(stale), "node-2", func(s *framework.Status) { got["stale"] = s })
	eng.RunUntil(sim.Time(2 * time.Second))
	if len(got) != 2 || !got["good"].IsSuccess() || got["stale"].IsSuccess() {
		t.Fatalf("outcomes %v", got)
	}
	kv, _ := st.Get(api.Key(api.KindPod, "default", "p"))
	if p := kv.Value.(*api.Pod); p.Spec.NodeName != "node-1" {
		t.Fatalf("pod bound to %q", p.Spec.NodeName)
	}
}
