package apiserver

import (
	"fmt"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/sim"
)

// recorder counts an informer's callbacks.
type recorder struct{ adds, updates, deletes []string }

func (r *recorder) handlers() Handlers {
	return Handlers{
		OnAdd:    func(o api.Object) { r.adds = append(r.adds, o.Meta().Name) },
		OnUpdate: func(_, o api.Object) { r.updates = append(r.updates, o.Meta().Name) },
		OnDelete: func(o api.Object) { r.deletes = append(r.deletes, o.Meta().Name) },
	}
}

func run(eng *sim.Engine, d time.Duration) { eng.RunUntil(eng.Now().Add(d)) }

// TestPartitionedClient: a partitioned client's requests fail with a connection error
// after the dial timeout, its informer learns nothing meanwhile, and after the
// partition heals the informer relists: ADDED for objects created meanwhile,
// MODIFIED for changed ones, DELETED for removed ones; the cache equals the store.
func TestPartitionedClient(t *testing.T) {
	eng, srv := stack(t)
	user := srv.Client("user", 0, 0)
	node := srv.Client("kubelet/node-1", 0, 0)
	var rec recorder
	inf := NewInformer(node, api.KindPod, InformerOptions{}, rec.handlers())
	mustCreate(t, eng, user, pod("keep", "", nil))
	mustCreate(t, eng, user, pod("change", "", nil))
	mustCreate(t, eng, user, pod("remove", "", nil))
	if inf.Len() != 3 || len(rec.adds) != 3 {
		t.Fatalf("before: %d cached, adds %v", inf.Len(), rec.adds)
	}

	node.SetPartitioned(true)
	if !node.Partitioned() || user.Partitioned() {
		t.Fatal("partition flags")
	}
	sent := eng.Now()
	var failAt sim.Time
	var failErr error
	node.Create(pod("from-node", "", nil), func(_ api.Object, err error) { failErr, failAt = err, eng.Now() })
	var userErr error
	user.Create(pod("new", "", nil), func(_ api.Object, err error) { userErr = err })
	ch := inf.List()[0].(*api.Pod).DeepCopy() // "change"
	ch.Labels = map[string]string{"v": "2"}
	user.Update(ch, nil)
	user.Delete(api.KindPod, "default", "remove", DeleteOptions{}, nil)
	run(eng, time.Minute)
	if !IsConnectionError(failErr) || failAt.Sub(sent) != DefaultConfig().DialTimeout {
		t.Fatalf("partitioned create: %v after %v, want a connection error after %v", failErr, failAt.Sub(sent), DefaultConfig().DialTimeout)
	}
	if userErr != nil {
		t.Fatalf("the other client is affected: %v", userErr)
	}
	if len(rec.adds) != 3 || len(rec.updates) != 0 || len(rec.deletes) != 0 || !inf.watch.Broken() {
		t.Fatalf("partitioned informer learned something: %+v broken=%v", rec, inf.watch.Broken())
	}
	if _, ok := inf.Get("default", "new"); ok {
		t.Fatal("partitioned informer has the new pod")
	}

	node.SetPartitioned(false)
	run(eng, time.Second)
	if fmt.Sprint(rec.adds[3:], rec.updates, rec.deletes) != "[new] [change] [remove]" {
		t.Fatalf("after heal: adds %v updates %v deletes %v", rec.adds, rec.updates, rec.deletes)
	}
	if inf.watch.Broken() || inf.watch.Relists != 1 || srv.BrokenWatches() != 0 {
		t.Fatalf("watch broken=%v relists=%d", inf.watch.Broken(), inf.watch.Relists)
	}
	checkCache(t, srv, inf)
	// Live events flow again.
	mustCreate(t, eng, user, pod("later", "", nil))
	if _, ok := inf.Get("default", "later"); !ok {
		t.Fatal("no live events after the heal")
	}
}

func checkCache(t *testing.T, srv *Server, inf *Informer) {
	t.Helper()
	objs, _ := srv.list(api.KindPod, &ListOptions{})
	got := inf.List()
	if len(got) != len(objs) {
		t.Fatalf("cache has %d objects, store %d", len(got), len(objs))
	}
	for i := range objs {
		if got[i].Meta().Name != objs[i].Meta().Name || got[i].Meta().ResourceVersion != objs[i].Meta().ResourceVersion {
			t.Fatalf("cache[%d] = %s@%d, store %s@%d", i, got[i].Meta().Name, got[i].Meta().ResourceVersion, objs[i].Meta().Name, objs[i].Meta().ResourceVersion)
		}
	}
}

// TestOutageRecovery: while the apiserver is down requests fail at once with
// ServiceUnavailable and watches receive nothing; objects that changed meanwhile
// (written to etcd by another apiserver, or committed just before the outage) reach
// every informer once it is back, including raw watches and a watch opened during
// the outage (which gets its initial list and synced then).
func TestOutageRecovery(t *testing.T) {
	eng, srv := stack(t)
	user := srv.Client("user", 0, 0)
	var rec recorder
	inf := NewInformer(srv.Client("controller", 0, 0), api.KindPod, InformerOptions{}, rec.handlers())
	var raw []string
	srv.Client("raw", 0, 0).Watch(api.KindPod, ListOptions{}, func(ev WatchEvent) { raw = append(raw, ev.Type.String()+" "+ev.Object.Meta().Name) }, nil)
	mustCreate(t, eng, user, pod("a", "", nil))
	mustCreate(t, eng, user, pod("b", "", nil))

	srv.SetAvailable(false)
	var err error
	user.Create(pod("refused", "", nil), func(_ api.Object, e error) { err = e })
	run(eng, time.Second)
	if ReasonOf(err) != ReasonServiceUnavailable {
		t.Fatalf("create during the outage: %v", err)
	}
	// Writes that reach etcd by another way while this apiserver is down.
	st := srv.Store().(*etcd.Store)
	np := pod("c", "", nil)
	np.Namespace = "default"
	st.Commit(etcd.Op{Type: etcd.Put, Key: api.Key(api.KindPod, "default", "c"), Value: np, MustNotExist: true}, func(etcd.Result) {})
	st.Commit(etcd.Op{Type: etcd.Delete, Key: api.Key(api.KindPod, "default", "a")}, func(etcd.Result) {})
	synced := false
	late := NewInformer(srv.Client("late", 0, 0), api.KindPod, InformerOptions{}, Handlers{})
	late.OnSynced(func() { synced = true })
	run(eng, 10*time.Second)
	if _, ok := inf.Get("default", "c"); ok || late.HasSynced() || len(raw) != 2 {
		t.Fatalf("events delivered while down: raw %v, late synced %v", raw, late.HasSynced())
	}

	srv.SetAvailable(true)
	run(eng, time.Second)
	if fmt.Sprint(rec.adds, rec.deletes) != "[a b c] [a]" {
		t.Fatalf("informer after the outage: adds %v deletes %v", rec.adds, rec.deletes)
	}
	if fmt.Sprint(raw) != "[ADDED a ADDED b ADDED c DELETED a]" {
		t.Fatalf("raw watch after the outage: %v", raw)
	}
	if !synced || late.Len() != 2 {
		t.Fatalf("watch opened during the outage: synced %v, %d objects", synced, late.Len())
	}
	checkCache(t, srv, inf)
}

// TestQuorumLossAndElection: without etcd quorum reads and writes fail with
// ServiceUnavailable after the request timeout; during a leader election a write
// waits for the new leader.
func TestQuorumLossAndElection(t *testing.T) {
	eng, srv := stack(t)
	c := srv.Client("user", 0, 0)
	mustCreate(t, eng, c, pod("a", "", nil))
	st := srv.Store().(*etcd.Store)

	_, resume, err := st.LoseLeader()
	if err != nil {
		t.Fatal(err)
	}
	start := eng.Now()
	var done sim.Time
	c.Create(pod("b", "", nil), func(_ api.Object, err error) {
		if err != nil {
			t.Errorf("create during election: %v", err)
		}
		done = eng.Now()
	})
	run(eng, 5*time.Second)
	if done < resume || done.Sub(start) < st.Config().ElectionTimeout-st.Config().HeartbeatInterval {
		t.Fatalf("write finished at %v, the election ends at %v", done, resume)
	}

	if _, err := st.LoseMember(st.Leader()); err != nil { // 1 of 3 left
		t.Fatal(err)
	}
	start = eng.Now()
	var getErr, createErr error
	var getAt sim.Time
	c.Get(api.KindPod, "default", "a", func(_ api.Object, e error) { getErr, getAt = e, eng.Now() })
	c.Create(pod("c", "", nil), func(_ api.Object, e error) { createErr = e })
	run(eng, 2*time.Minute)
	if ReasonOf(getErr) != ReasonServiceUnavailable || getAt.Sub(start) < etcd.NoQuorumTimeout {
		t.Fatalf("read without quorum: %v after %v", getErr, getAt.Sub(start))
	}
	if ReasonOf(createErr) != ReasonServiceUnavailable {
		t.Fatalf("write without quorum: %v", createErr)
	}
}
