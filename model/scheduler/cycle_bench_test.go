package scheduler

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/plugins/noderesources"
	"github.com/kubesim/kubesim/sim"
)

// BenchmarkCycleSideBySideWorkload is the kubesim half of model/kubescheduler's
// BenchmarkKubeSchedulerVsKubesim without the kubescheduler build tag (which links
// k8s.io/kubernetes): the same 5,000 nodes in 10 zones (every 7th tainted, half
// with the nginx image, 2 bound pods each), the default profile with the v1.36
// BalancedAllocation formula, 300 pods of three apps scheduled through the
// apiserver model. µs/decision is the mean wall time from the first PreFilter to
// the last NormalizeScore, measured by two plug-ins placed first and last (test
// code only: the model never reads the wall clock).
func BenchmarkCycleSideBySideWorkload(b *testing.B) { benchCycleWorkload(b, false) }

// BenchmarkCycleSpreadWorkload is BenchmarkCycleSideBySideWorkload with a Service
// selecting each app, so PodTopologySpread's system default constraints (hostname
// and zone) score every cycle, as in model/cluster's scale benchmark.
func BenchmarkCycleSpreadWorkload(b *testing.B) { benchCycleWorkload(b, true) }

func benchCycleWorkload(b *testing.B, services bool) {
	const nodes, pods = 5000, 300
	var c benchCycleClock
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var sch *Scheduler
	var total time.Duration
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		// No telemetry, as in model/kubescheduler's harness: newStack's recorder
		// would keep every trace record and add garbage-collector work to the timing.
		eng := sim.New(1)
		reg := dist.NewRegistry()
		st, err := etcd.New(eng, etcd.DefaultConfig(), reg)
		if err != nil {
			b.Fatal(err)
		}
		srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, nil)
		if err != nil {
			b.Fatal(err)
		}
		s := &stack{eng: eng, reg: reg, srv: srv, admin: srv.Client("admin", 0, 0)}
		cfg := DefaultConfig()
		pl := cfg.Profile.Plugins
		for i := range pl {
			if pl[i].Name == NodeResourcesBalancedAllocation {
				pl[i].Args = &noderesources.BalancedAllocationArgs{Version: noderesources.BalancedV136}
			}
		}
		out := append([]PluginConfig{pl[0], {Name: "ClockFirst"}}, pl[1:]...)
		cfg.Profile.Plugins = append(out, PluginConfig{Name: "ClockLast"})
		plugins := NewRegistry()
		if err := plugins.Register("ClockFirst", func(any, framework.Handle) (framework.Plugin, error) { return benchClockFirst{&c}, nil }); err != nil {
			b.Fatal(err)
		}
		if err := plugins.Register("ClockLast", func(any, framework.Handle) (framework.Plugin, error) { return benchClockLast{&c}, nil }); err != nil {
			b.Fatal(err)
		}
		sch, err = New(s.eng, s.srv.Client(Component, 0, 0), cfg, plugins, s.reg, nil)
		if err != nil {
			b.Fatal(err)
		}
		sch.Start()
		for i := 0; i < nodes; i++ {
			name := fmt.Sprintf("node-%05d", i)
			n := testNode(name, int64(8000+8000*(i%3)), int64(32+32*(i%3))*gi, map[string]string{api.LabelZone: fmt.Sprintf("zone-%d", i%10)})
			if i%7 == 0 {
				n.Spec.Taints = []api.Taint{{Key: "dedicated", Value: "batch", Effect: api.TaintNoSchedule}}
			}
			if i%2 != 0 {
				n.Status.Images = []api.ContainerImage{{Names: []string{"nginx:1.25"}, SizeBytes: 140 << 20}}
			}
			s.create(b, n)
		}
		apps := []string{"web", "api", "cache"}
		if services {
			for _, app := range apps {
				s.create(b, &api.Service{ObjectMeta: api.ObjectMeta{Name: app, Namespace: api.NamespaceDefault},
					Spec: api.ServiceSpec{Selector: map[string]string{"app": app}, Ports: []api.ServicePort{{Protocol: "TCP", Port: 80, TargetPort: 80}}}})
			}
		}
		s.eng.RunUntil(s.eng.Now().Add(time.Second))
		pod := func(name string, i int) *api.Pod {
			p := testPod(name, int64(250+250*(i%6)), int64(256+256*(i%8))<<20)
			p.Spec.SchedulerName = api.DefaultSchedulerName
			p.Labels["app"] = apps[i%3]
			return p
		}
		for i := 0; i < 2*nodes; i++ {
			p := pod(fmt.Sprintf("bound-%06d", i), i)
			p.Spec.NodeName = api.NodeName(fmt.Sprintf("node-%05d", i%nodes))
			s.create(b, p)
		}
		s.eng.RunUntil(s.eng.Now().Add(time.Second))
		for i := 0; i < pods; i++ {
			s.create(b, pod(fmt.Sprintf("p-%06d", i), i))
		}
		b.StartTimer()
		start := time.Now()
		s.eng.RunUntil(s.eng.Now().Add(pods*50*time.Millisecond + 10*time.Second))
		total += time.Since(start)
		b.StopTimer()
		if st := sch.Stats(); st.Scheduled != uint64(2*nodes+pods) && st.Scheduled != pods {
			b.Fatalf("scheduled %d", st.Scheduled)
		}
	}
	b.ReportMetric(c.total.Seconds()/float64(c.n)*1e6, "µs/decision")
	b.ReportMetric(c.cpu.Seconds()/float64(c.n)*1e6, "cpu-µs/decision")
	b.ReportMetric(float64(c.n)/float64(b.N), "decisions/op")
}

// benchCycleClock measures scheduling cycles' wall time (test code only).
type benchCycleClock struct {
	start time.Time
	total time.Duration
	n     int
	// cpuStart and cpu: the thread's CPU time (CLOCK_THREAD_CPUTIME_ID, the
	// benchmark locks its OS thread), steadier than wall time on a shared machine.
	cpuStart, cpu time.Duration
}

// threadCPU returns the calling thread's CPU time.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3 /* CLOCK_THREAD_CPUTIME_ID */, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

type benchClockFirst struct{ c *benchCycleClock }

func (benchClockFirst) Name() string { return "ClockFirst" }
func (p benchClockFirst) PreFilter(*framework.CycleState, *framework.PodInfo, []*framework.NodeInfo) (*framework.PreFilterResult, *framework.Status) {
	p.c.start = time.Now()
	p.c.cpuStart = threadCPU()
	return nil, framework.NewStatus(framework.Skip)
}

type benchClockLast struct{ c *benchCycleClock }

func (benchClockLast) Name() string { return "ClockLast" }
func (benchClockLast) Score(*framework.CycleState, *framework.PodInfo, *framework.NodeInfo) (int64, *framework.Status) {
	return 0, nil
}
func (p benchClockLast) ScoreExtensions() framework.ScoreExtensions { return p }
func (p benchClockLast) NormalizeScore(*framework.CycleState, *framework.PodInfo, []framework.NodeScore) *framework.Status {
	p.c.total += time.Since(p.c.start)
	p.c.cpu += threadCPU() - p.c.cpuStart
	p.c.n++
	return nil
}
