package workload

import (
	"fmt"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/model/kubelet"
	"github.com/kubesim/kubesim/model/runtime"
	"github.com/kubesim/kubesim/model/scheduler"
	"github.com/kubesim/kubesim/sim"
)

// recorder is a Telemetry that keeps trace records, for assertions.
type recorder struct {
	records []sim.Record
	keep    bool
}

func (r *recorder) Trace(rec sim.Record) {
	if r.keep {
		r.records = append(r.records, rec)
	}
}

// TraceWants implements sim.TraceFilter: a recorder that keeps nothing says so, as
// the CLI's results.Collector and sim.Discard do, so that components build no trace
// strings for it (the replay benchmark then measures what a run at --trace off
// costs, not strings nobody reads).
func (r *recorder) TraceWants(int) (record, detail bool) { return r.keep, r.keep }

func (r *recorder) Observe(string, sim.Time, float64) {}
func (r *recorder) Gauge(string, sim.Time, float64)   {}

// stack is etcd, the apiserver, the default scheduler and (optionally) kubelets.
type stack struct {
	eng   *sim.Engine
	reg   *dist.Registry
	srv   *apiserver.Server
	admin *apiserver.Client
	sch   *scheduler.Scheduler
	tel   *recorder
}

func newStack(t testing.TB, seed uint64, keep bool) *stack {
	t.Helper()
	eng := sim.New(seed)
	reg := dist.NewRegistry()
	st, err := etcd.New(eng, etcd.DefaultConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	tel := &recorder{keep: keep}
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, tel)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := scheduler.New(eng, srv.Client("scheduler", 0, 0), scheduler.DefaultConfig(), scheduler.NewRegistry(), reg, tel)
	if err != nil {
		t.Fatal(err)
	}
	sch.Start()
	return &stack{eng: eng, reg: reg, srv: srv, admin: srv.Client("admin", 0, 0), sch: sch, tel: tel}
}

// addKubelets starts one modeled kubelet per node. heartbeat stretches the lease and
// status periods (no node-lifecycle controller runs in these tests).
func (s *stack) addKubelets(t testing.TB, nodes []NodeSpec, heartbeat time.Duration) {
	t.Helper()
	for i, n := range nodes {
		rt, err := runtime.NewModeled(s.eng, n.Name, runtime.DefaultModeledConfig(), nil, s.reg, s.tel)
		if err != nil {
			t.Fatal(err)
		}
		cfg := kubelet.DefaultConfig()
		cfg.NodeName, cfg.Labels = n.Name, n.Labels
		cfg.Capacity = n.Capacity.Clone()
		cfg.Capacity.EphemeralStorage = 100 << 30
		cfg.Address = fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)
		cfg.PodCIDRIndex = i + 1
		if heartbeat > 0 {
			cfg.NodeLeaseDurationSeconds = int32(heartbeat / time.Second * 4)
			cfg.NodeStatusUpdateFrequency, cfg.NodeStatusReportFrequency = heartbeat, heartbeat
		}
		kl, err := kubelet.New(s.eng, s.srv.Client("kubelet/"+n.Name, 0, 0), rt, cfg, s.reg, s.tel)
		if err != nil {
			t.Fatal(err)
		}
		kl.Start()
	}
}

func (s *stack) create(t testing.TB, o api.Object) {
	t.Helper()
	var err error
	s.admin.Create(o, func(_ api.Object, e error) { err = e })
	s.eng.RunUntil(s.eng.Now().Add(time.Second))
	if err != nil {
		t.Fatalf("create %s: %v", api.Ref(o), err)
	}
}

func (s *stack) pods(t testing.TB) map[string]*api.Pod {
	t.Helper()
	out := map[string]*api.Pod{}
	done := false
	s.admin.List(api.KindPod, apiserver.ListOptions{}, func(objs []api.Object, err error) {
		if err != nil {
			t.Errorf("list pods: %v", err)
		}
		for _, o := range objs {
			out[o.Meta().Name] = o.(*api.Pod)
		}
		done = true
	})
	s.eng.RunUntil(s.eng.Now().Add(time.Second))
	if !done {
		t.Fatal("list pods did not answer")
	}
	return out
}
