package cluster

import (
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/scenarios"
	"github.com/kubesim/kubesim/sim"
)

// runImmutable runs sc with etcd's immutability check on: every stored object is
// a snapshot shared by the apiserver, the informers and the components (status
// writes and bindings copy only what they change), so none may be changed in place
// after it was stored.
func runImmutable(t *testing.T, sc *scenario.Scenario, until time.Duration) {
	t.Helper()
	c, err := Build(sc, Options{Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := c.Store.(*etcd.Store)
	if !ok {
		t.Fatalf("the cluster's store is a %T, not the modeled etcd", c.Store)
	}
	// The apiserver stamps metadata.resourceVersion from the commit's revision when
	// the commit returns, before anyone reads the object; nothing else may change.
	st.CheckImmutable(func(v any) any {
		o := v.(api.Object).DeepCopyObject()
		o.Meta().ResourceVersion = 0
		return o
	})
	if err := c.Run(sim.Time(until)); err != nil {
		t.Fatal(err)
	}
	if err := st.Immutable(); err != nil {
		t.Fatal(err)
	}
}

func TestStoredObjectsImmutableMixed(t *testing.T) {
	if testing.Short() {
		t.Skip("300 nodes and 2,500 pods: skipped with -short")
	}
	runImmutable(t, mixedScenario(t), 120*time.Second)
}

func TestStoredObjectsImmutableNginx(t *testing.T) {
	data, _ := scenarios.Get("nginx")
	sc, err := scenario.Parse("nginx.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	runImmutable(t, sc, sc.Duration.D())
}
