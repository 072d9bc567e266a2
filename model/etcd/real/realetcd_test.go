package realetcd

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/cluster"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/scenarios"
	"github.com/kubesim/kubesim/sim"
)

// driver is a minimal wall-clock driver for the tests: virtual time follows the
// wall clock since start, and posted functions run on the test goroutine (the
// engine's).
type driver struct {
	eng   *sim.Engine
	posts chan func()
	start time.Time
}

func newDriver() *driver {
	return &driver{eng: sim.New(1), posts: make(chan func(), 4096), start: time.Now()}
}

func (d *driver) post(fn func()) { d.posts <- fn }

// until runs the engine and the posted completions until cond holds.
func (d *driver) until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		select {
		case fn := <-d.posts:
			fn()
			continue
		default:
		}
		d.eng.RunUntil(sim.Time(time.Since(d.start)))
		select {
		case fn := <-d.posts:
			fn()
		case <-time.After(time.Millisecond):
		}
	}
}

func start(t *testing.T, d *driver) *Store {
	t.Helper()
	s, err := Start(d.eng, Options{Post: d.post, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func pod(name string) *api.Pod {
	return &api.Pod{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"},
		Spec: api.PodSpec{Containers: []api.Container{{Name: "c", Image: "nginx:1.27"}}}}
}

func TestCommitsConditionsOrderAndWatch(t *testing.T) {
	d := newDriver()
	s := start(t, d)
	var events []etcd.Event
	if _, err := s.Watch("/registry/", 0, func(ev etcd.Event) { events = append(events, ev) }); err != nil {
		t.Fatal(err)
	}
	ka, kb := api.Key(api.KindPod, "default", "a"), api.Key(api.KindPod, "default", "b")
	ops := []struct {
		op      etcd.Op
		wantErr error
		wantRev int64
	}{
		{etcd.Op{Type: etcd.Put, Key: ka, Value: pod("a"), MustNotExist: true}, nil, 2},
		{etcd.Op{Type: etcd.Put, Key: ka, Value: pod("a"), MustNotExist: true}, etcd.ErrKeyExists, 2},
		{etcd.Op{Type: etcd.Put, Key: ka, Value: pod("a"), ModRevision: 2}, nil, 3},
		{etcd.Op{Type: etcd.Put, Key: ka, Value: pod("a"), ModRevision: 2}, etcd.ErrConflict, 3},
		{etcd.Op{Type: etcd.Delete, Key: kb}, etcd.ErrKeyNotFound, 3},
		{etcd.Op{Type: etcd.Put, Key: kb, Value: pod("b"), MustNotExist: true}, nil, 4},
		{etcd.Op{Type: etcd.Delete, Key: ka}, nil, 5},
	}
	// All proposed at once: they must complete in proposal order.
	var order []int
	results := make([]etcd.Result, len(ops))
	for i, o := range ops {
		s.Commit(o.op, func(r etcd.Result) { order = append(order, i); results[i] = r })
	}
	d.until(t, "every commit", func() bool { return len(order) == len(ops) })
	for i, o := range ops {
		if order[i] != i {
			t.Fatalf("completion order %v", order)
		}
		if r := results[i]; r.Err != o.wantErr || r.Revision != o.wantRev {
			t.Errorf("op %d (%s %s): err %v rev %d, want %v rev %d", i, o.op.Type, o.op.Key, r.Err, r.Revision, o.wantErr, o.wantRev)
		}
	}
	if len(events) != 4 || events[0].Type != etcd.Put || events[2].KV.Key != kb || events[3].Type != etcd.Delete || events[3].KV.ModRevision != 5 {
		t.Fatalf("watch events %+v", events)
	}
	if kv, ok := s.Get(kb); !ok || kv.Value.(*api.Pod).Name != "b" || kv.ModRevision != 4 {
		t.Fatalf("mirror Get(b) = %+v %v", kv, ok)
	}
	if s.Revision() != 5 || s.Len() != 1 {
		t.Fatalf("revision %d len %d, want 5 and 1", s.Revision(), s.Len())
	}
	// The real etcd holds the JSON of the object at the same revision.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := s.cli.Get(ctx, kb)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("etcd get: %v %v", resp, err)
	}
	var got api.Pod
	if err := json.Unmarshal(resp.Kvs[0].Value, &got); err != nil || got.Name != "b" || resp.Kvs[0].ModRevision != 4 || resp.Header.Revision != 5 {
		t.Fatalf("etcd value %s (rev %d, header %d): %v", resp.Kvs[0].Value, resp.Kvs[0].ModRevision, resp.Header.Revision, err)
	}
	if div := s.Divergences(); len(div) != 0 {
		t.Fatalf("divergences: %v", div)
	}
	samples := s.Samples()
	if len(samples) != len(ops) {
		t.Fatalf("%d samples, want %d", len(samples), len(ops))
	}
	for i, sm := range samples {
		if sm.Latency <= 0 || sm.Err != "" || sm.Succeeded != (ops[i].wantErr == nil) || sm.Key != ops[i].op.Key {
			t.Fatalf("sample %d: %+v", i, sm)
		}
	}
}

func TestCompactReachesEtcd(t *testing.T) {
	d := newDriver()
	s := start(t, d)
	k := api.Key(api.KindPod, "default", "a")
	n := 0
	s.Commit(etcd.Op{Type: etcd.Put, Key: k, Value: pod("a")}, func(etcd.Result) { n++ })
	s.Commit(etcd.Op{Type: etcd.Put, Key: k, Value: pod("a")}, func(etcd.Result) { n++ })
	d.until(t, "two commits", func() bool { return n == 2 })
	if err := s.Compact(2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Watch("/registry/", 2, func(etcd.Event) {}); !errors.Is(err, etcd.ErrCompacted) {
		t.Fatalf("watch below the compaction: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := s.cli.Get(ctx, k, clientv3.WithRev(1)) // below the compaction
		cancel()
		if err != nil {
			break // etcd compacted too
		}
		if time.Now().After(deadline) {
			t.Fatal("etcd was never compacted")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCloseRemovesDataAndRefusesCommits(t *testing.T) {
	d := newDriver()
	s, err := Start(d.eng, Options{Post: d.post, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	dir := s.Dir()
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("data directory %s still there: %v", dir, err)
	}
	if s.Available() {
		t.Fatal("available after Close")
	}
	var got error
	s.Commit(etcd.Op{Type: etcd.Put, Key: "/registry/x", Value: 1}, func(r etcd.Result) { got = r.Err })
	d.until(t, "the refused commit", func() bool { return got != nil })
	if got != etcd.ErrNoQuorum {
		t.Fatalf("commit after Close: %v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestModeledFaultsAreRefused(t *testing.T) {
	d := newDriver()
	s := start(t, d)
	if _, _, err := s.LoseLeader(); !errors.Is(err, etcd.ErrFaultUnsupported) {
		t.Fatalf("LoseLeader: %v", err)
	}
	if _, err := s.LoseMember(0); !errors.Is(err, etcd.ErrFaultUnsupported) {
		t.Fatalf("LoseMember: %v", err)
	}
	if err := s.SetFsyncFactor(-1, 10); !errors.Is(err, etcd.ErrFaultUnsupported) {
		t.Fatalf("SetFsyncFactor: %v", err)
	}
	if s.Members() != 1 || s.Leader() != 0 || !s.MemberUp(0) {
		t.Fatal("the embedded etcd is one running member")
	}
}

func TestStartNeedsPoster(t *testing.T) {
	if _, err := Start(sim.New(1), Options{}); err == nil {
		t.Fatal("Start without a poster succeeded")
	}
}

func TestApplyLoadsInitialState(t *testing.T) {
	d := newDriver()
	s := start(t, d)
	r := s.Apply(etcd.Op{Type: etcd.Put, Key: "/registry/pods/default/a", Value: pod("a"), MustNotExist: true})
	if r.Err != nil || r.Revision != 2 {
		t.Fatalf("Apply: %+v", r)
	}
	if r := s.Apply(etcd.Op{Type: etcd.Put, Key: "/registry/pods/default/a", Value: pod("a"), MustNotExist: true}); r.Err != etcd.ErrKeyExists {
		t.Fatalf("second Apply: %+v", r)
	}
	s.Commit(etcd.Op{Type: etcd.Delete, Key: "/registry/pods/default/a"}, func(etcd.Result) {})
	if r := s.Apply(etcd.Op{Type: etcd.Put, Key: "/registry/pods/default/b", Value: pod("b")}); r.Err == nil {
		t.Fatal("Apply with a commit in flight succeeded")
	}
}

// TestAPIServerOverRealEtcd runs the modeled apiserver over the real store:
// creates, an update with optimistic concurrency and a delete.
func TestAPIServerOverRealEtcd(t *testing.T) {
	d := newDriver()
	s := start(t, d)
	reg := dist.NewRegistry()
	srv, err := apiserver.New(d.eng, s, apiserver.DefaultConfig(), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := srv.Client("test", 0, 0)
	var created []*api.Pod
	for _, n := range []string{"a", "b", "c"} {
		c.Create(pod(n), func(o api.Object, err error) {
			if err != nil {
				t.Errorf("create %s: %v", n, err)
				return
			}
			created = append(created, o.(*api.Pod))
		})
	}
	d.until(t, "three creates", func() bool { return len(created) == 3 || t.Failed() })
	dup := error(nil)
	done := false
	c.Create(pod("a"), func(_ api.Object, err error) { dup, done = err, true })
	d.until(t, "the duplicate create", func() bool { return done })
	if !apiserver.IsAlreadyExists(dup) {
		t.Fatalf("duplicate create: %v", dup)
	}
	upd := created[0].DeepCopy()
	upd.Labels = map[string]string{"tier": "web"}
	var updated *api.Pod
	c.Update(upd, func(o api.Object, err error) {
		if err != nil {
			t.Errorf("update: %v", err)
			updated = &api.Pod{}
			return
		}
		updated = o.(*api.Pod)
	})
	d.until(t, "the update", func() bool { return updated != nil })
	if updated.Labels["tier"] != "web" || updated.ResourceVersion <= created[0].ResourceVersion {
		t.Fatalf("updated %+v", updated.ObjectMeta)
	}
	// A stale update (old resource version) conflicts in the real etcd.
	stale := created[0].DeepCopy()
	stale.Labels = map[string]string{"tier": "db"}
	done = false
	var staleErr error
	c.Update(stale, func(_ api.Object, err error) { staleErr, done = err, true })
	d.until(t, "the stale update", func() bool { return done })
	if !apiserver.IsConflict(staleErr) {
		t.Fatalf("stale update: %v", staleErr)
	}
	done = false
	c.Delete(api.KindPod, "default", "b", apiserver.DeleteOptions{}, func(err error) {
		if err != nil {
			t.Errorf("delete: %v", err)
		}
		done = true
	})
	d.until(t, "the delete", func() bool { return done })
	var list []api.Object
	done = false
	c.List(api.KindPod, apiserver.ListOptions{}, func(objs []api.Object, err error) { list, done = objs, true })
	d.until(t, "the list", func() bool { return done })
	if len(list) != 2 {
		t.Fatalf("listed %d pods, want 2", len(list))
	}
	if div := s.Divergences(); len(div) != 0 {
		t.Fatalf("divergences: %v", div)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := s.cli.Get(ctx, "/registry/", clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) != 2 || resp.Header.Revision != s.Revision() {
		t.Fatalf("etcd holds %v (rev %d, mirror %d): %v", resp.Kvs, resp.Header.Revision, s.Revision(), err)
	}
}

// TestNginxScenarioOverRealEtcd builds the whole built-in nginx cluster with the
// real store (cluster.Options.NewStore) and runs it as a discrete-event run whose
// commits take real etcd round trips: the engine steps while no commit is in
// flight and waits for the completion otherwise (virtual time does not pass during
// a commit). The outcome must be the modeled one: 3 ready replicas, every object
// in etcd, no divergence between etcd and the mirror.
func TestNginxScenarioOverRealEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole nginx scenario over a real etcd")
	}
	b, _ := scenarios.Get("nginx")
	sc, err := scenario.Parse("nginx.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	posts := make(chan func(), 4096)
	var st *Store
	c, err := cluster.Build(sc, cluster.Options{Seed: 3, NewStore: func(eng *sim.Engine, _ etcd.Config, _ *dist.Registry) (etcd.Backend, error) {
		s, err := Start(eng, Options{Post: func(fn func()) { posts <- fn }, Dir: t.TempDir()})
		st = s
		return s, err
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	}()
	until := sim.Time(sc.Duration.D())
	deadline := time.Now().Add(90 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("not done at virtual %v after 90 s of wall time", c.Eng.Now())
		}
		select {
		case fn := <-posts:
			fn()
			continue
		default:
		}
		if st.InFlight() > 0 {
			select {
			case fn := <-posts:
				fn()
			case <-time.After(15 * time.Second):
				t.Fatalf("a commit did not complete in 15 s (%d in flight)", st.InFlight())
			}
			continue
		}
		if c.Eng.Pending() == 0 || c.Eng.PeekTime() > until {
			break
		}
		c.Eng.Step()
	}
	if err := c.Run(until); err != nil {
		t.Fatal(err)
	}
	ds := c.Deployments()
	if len(ds) != 1 || ds[0].Status.ReadyReplicas != 3 {
		t.Fatalf("deployments %+v", ds)
	}
	if div := st.Divergences(); len(div) != 0 {
		t.Fatalf("divergences: %v", div)
	}
	samples := st.Samples()
	if len(samples) < 20 {
		t.Fatalf("only %d commits", len(samples))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := st.cli.Get(ctx, "/registry/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || int(resp.Count) != st.Len() || resp.Header.Revision != st.Revision() {
		t.Fatalf("etcd holds %d keys at revision %d, the mirror %d at %d: %v", resp.Count, resp.Header.Revision, st.Len(), st.Revision(), err)
	}
	var total time.Duration
	for _, s := range samples {
		total += s.Latency
	}
	t.Logf("%d real commits, mean latency %v, %d keys at revision %d", len(samples), total/time.Duration(len(samples)), st.Len(), st.Revision())
}

// TestEtcdGoneMidRun: when etcd stops answering, the commit fails as an
// unavailable modeled etcd's does (ErrNoQuorum) after RequestTimeout, and the store
// refuses further writes, saying why.
func TestEtcdGoneMidRun(t *testing.T) {
	d := newDriver()
	s, err := Start(d.eng, Options{Post: d.post, Dir: t.TempDir(), RequestTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var first error = errors.New("not answered")
	s.Commit(etcd.Op{Type: etcd.Put, Key: "/registry/pods/default/a", Value: pod("a")}, func(r etcd.Result) { first = r.Err })
	d.until(t, "the first commit", func() bool { return first == nil })
	s.srv.Server.Stop() // etcd is gone; the client keeps trying until the timeout
	var got error
	s.Commit(etcd.Op{Type: etcd.Put, Key: "/registry/pods/default/b", Value: pod("b")}, func(r etcd.Result) { got = r.Err })
	d.until(t, "the failed commit", func() bool { return got != nil })
	if got != etcd.ErrNoQuorum || s.Available() || s.Err() == nil {
		t.Fatalf("commit with etcd gone: %v; available %v; Err %v", got, s.Available(), s.Err())
	}
	if _, ok := s.Get("/registry/pods/default/b"); ok {
		t.Fatal("the failed write reached the mirror")
	}
	var later error
	s.Commit(etcd.Op{Type: etcd.Put, Key: "/registry/pods/default/c", Value: pod("c")}, func(r etcd.Result) { later = r.Err })
	d.until(t, "the refused commit", func() bool { return later != nil })
	if later != etcd.ErrNoQuorum {
		t.Fatalf("commit after the failure: %v", later)
	}
	if r := s.Apply(etcd.Op{Type: etcd.Put, Key: "/registry/pods/default/d", Value: pod("d")}); r.Err != etcd.ErrNoQuorum {
		t.Fatalf("Apply after the failure: %v", r.Err)
	}
	smp := s.Samples()
	if len(smp) != 2 || smp[1].Err == "" {
		t.Fatalf("samples %+v", smp)
	}
}

// TestEveryKindEncodes: Commit stores every api kind as JSON (the zero object of
// each, with its maps and pointers nil, and the built-in scenario's objects in
// TestNginxScenarioOverRealEtcd).
func TestEveryKindEncodes(t *testing.T) {
	objs := []api.Object{&api.Pod{}, &api.Node{}, &api.Lease{}, &api.Deployment{}, &api.ReplicaSet{}, &api.Service{},
		&api.EndpointSlice{}, &api.HorizontalPodAutoscaler{}, &api.PodMetrics{}, &api.StorageClass{}, &api.PersistentVolume{},
		&api.PersistentVolumeClaim{}, &api.StatefulSet{}, &api.PriorityClass{}, &api.Job{}, &api.PodDisruptionBudget{}}
	if len(objs) != api.NumKinds-1 {
		t.Fatalf("%d kinds listed, the api has %d: add the new kind here", len(objs), api.NumKinds-1)
	}
	for _, o := range objs {
		if _, err := json.Marshal(o); err != nil {
			t.Errorf("%T: %v", o, err)
		}
	}
}
