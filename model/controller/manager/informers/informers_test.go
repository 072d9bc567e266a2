package informers

import (
	"fmt"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/sim"
)

func TestFactorySharesAndReplays(t *testing.T) {
	eng := sim.New(1)
	reg := dist.NewRegistry()
	st, _ := etcd.New(eng, etcd.DefaultConfig(), reg)
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	user := srv.Client("test", 0, 0)
	for _, n := range []string{"b", "a"} {
		user.Create(&api.Service{ObjectMeta: api.ObjectMeta{Name: n}, Spec: api.ServiceSpec{Ports: []api.ServicePort{{Port: 80}}}}, nil)
	}
	eng.RunUntil(sim.Time(time.Second))

	f := NewFactory(srv.Client("kcm", 0, 0))
	var first, second []string
	inf1 := f.Informer(api.KindService, apiserver.Handlers{OnAdd: func(o api.Object) { first = append(first, o.Meta().Name) }})
	synced := false
	WhenSynced(func() { synced = true }, inf1)
	eng.RunUntil(sim.Time(2 * time.Second))
	if !synced || fmt.Sprint(first) != "[a b]" {
		t.Fatalf("synced %v, first handler saw %v", synced, first)
	}
	inf2 := f.Informer(api.KindService, apiserver.Handlers{OnAdd: func(o api.Object) { second = append(second, o.Meta().Name) }})
	if inf1 != inf2 {
		t.Fatal("the factory must share one informer per kind")
	}
	if fmt.Sprint(second) != "[a b]" {
		t.Fatalf("a late handler must get the cached objects replayed in key order, got %v", second)
	}
	user.Create(&api.Service{ObjectMeta: api.ObjectMeta{Name: "c"}, Spec: api.ServiceSpec{Ports: []api.ServicePort{{Port: 80}}}}, nil)
	eng.RunUntil(sim.Time(3 * time.Second))
	if fmt.Sprint(first) != "[a b c]" || fmt.Sprint(second) != "[a b c]" {
		t.Fatalf("both handlers get live events: %v %v", first, second)
	}
	called := 0
	WhenSynced(func() { called++ })
	WhenSynced(func() { called++ }, inf1, inf2)
	if called != 2 {
		t.Fatalf("WhenSynced on synced informers runs at once, called %d", called)
	}
}
