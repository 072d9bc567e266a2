//go:build kubescheduler

package kubescheduler

import (
	"fmt"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler"
	kfw "github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/plugins/noderesources"
	"github.com/kubesim/kubesim/model/scheduler/policies"
)

// The side-by-side benchmark (issue 6, part 4): the same workload scheduled by
// kubesim's own default profile (with the BalancedAllocation formula v1.37 runs,
// so both score identically: TestBenchWorkloadFidelity) and by the
// kube-scheduler policy, on 5,000 nodes. Reported: decisions per second of each
// (wall time of the scheduling only: the cluster is built before the timer
// starts) and their ratio.

// matchingProfile is kubesim's default profile with the v1.36 BalancedAllocation
// formula (the one kube-scheduler v1.37 runs).
func matchingProfile(cfg *scheduler.Config) {
	for i, pc := range cfg.Profile.Plugins {
		if pc.Name == scheduler.NodeResourcesBalancedAllocation {
			cfg.Profile.Plugins[i].Args = &noderesources.BalancedAllocationArgs{Version: noderesources.BalancedV136}
		}
	}
}

// benchCluster builds nodes in 10 zones, every 7th tainted, with 2 pods bound on
// each; the pods to schedule are returned (created by the caller, timed).
func benchCluster(t testing.TB, seed uint64, nodes int, configure func(*scheduler.Config)) *stack {
	return benchClusterWith(t, seed, nodes, configure, nil)
}

func benchClusterWith(t testing.TB, seed uint64, nodes int, configure func(*scheduler.Config), register func(*scheduler.Registry) error) *stack {
	s := newStackWith(t, seed, configure, register)
	for i := 0; i < nodes; i++ {
		n := mkNode(fmt.Sprintf("node-%05d", i), fmt.Sprintf("zone-%d", i%10), int64(8000+8000*(i%3)), int64(32+32*(i%3))*gi)
		if i%7 == 0 {
			n.Spec.Taints = []api.Taint{{Key: "dedicated", Value: "batch", Effect: api.TaintNoSchedule}}
		}
		n.Status.Images = []api.ContainerImage{{Names: []string{"nginx:1.25"}, SizeBytes: 140 << 20}}
		if i%2 == 0 {
			n.Status.Images = nil
		}
		s.create(t, n)
	}
	s.run(time.Second)
	for i := 0; i < 2*nodes; i++ {
		p := benchPod(fmt.Sprintf("bound-%06d", i), i)
		p.Spec.NodeName = api.NodeName(fmt.Sprintf("node-%05d", i%nodes))
		s.create(t, p)
	}
	s.run(time.Second)
	return s
}

func benchPod(name string, i int) *api.Pod {
	p := mkPod(name, int64(250+250*(i%6)), int64(256+256*(i%8))<<20)
	p.Labels["app"] = apps[i%3]
	return p
}

// scheduleBatch creates n pending pods and runs until they are bound; it returns
// the wall time the scheduling took.
func scheduleBatch(t testing.TB, s *stack, n int) time.Duration {
	for i := 0; i < n; i++ {
		s.create(t, benchPod(fmt.Sprintf("p-%06d", i), i))
	}
	start := time.Now()
	s.run(time.Duration(n)*50*time.Millisecond + 10*time.Second)
	el := time.Since(start)
	for i := 0; i < n; i += n / 10 {
		if s.nodeOf(t, fmt.Sprintf("p-%06d", i)) == "" {
			t.Fatalf("pod p-%06d not scheduled", i)
		}
	}
	return el
}

// cycleClock measures the wall time of scheduling cycles: for kubesim's own
// profile, from the first PreFilter (a plug-in placed first) to the last
// NormalizeScore (a score plug-in placed last that scores 0, so totals are
// unchanged); for the policy, around Schedule. Test code only: the model never
// reads the wall clock.
type cycleClock struct {
	start time.Time
	total time.Duration
	n     int
}

type clockFirst struct{ c *cycleClock }

func (clockFirst) Name() string { return "ClockFirst" }
func (p clockFirst) PreFilter(*kfw.CycleState, *kfw.PodInfo, []*kfw.NodeInfo) (*kfw.PreFilterResult, *kfw.Status) {
	p.c.start = time.Now()
	return nil, kfw.NewStatus(kfw.Skip)
}

type clockLast struct{ c *cycleClock }

func (clockLast) Name() string { return "ClockLast" }
func (clockLast) Score(*kfw.CycleState, *kfw.PodInfo, *kfw.NodeInfo) (int64, *kfw.Status) {
	return 0, nil
}
func (p clockLast) ScoreExtensions() kfw.ScoreExtensions { return p }
func (p clockLast) NormalizeScore(*kfw.CycleState, *kfw.PodInfo, []kfw.NodeScore) *kfw.Status {
	p.c.total += time.Since(p.c.start)
	p.c.n++
	return nil
}

type timedPolicy struct {
	*Policy
	c *cycleClock
}

func (t *timedPolicy) Name() string { return "timed-" + PolicyName }
func (t *timedPolicy) Schedule(ctx *policies.Context, pod *kfw.PodInfo, nodes []*kfw.NodeInfo) (api.NodeName, string) {
	start := time.Now()
	n, r := t.Policy.Schedule(ctx, pod, nodes)
	t.c.total += time.Since(start)
	t.c.n++
	return n, r
}

// timedStack is benchCluster with the clock plug-ins registered: own selects
// kubesim's matching profile, else the timed policy.
func timedStack(t testing.TB, nodes int, own bool, c *cycleClock) *stack {
	return benchClusterWith(t, 1, nodes, func(cfg *scheduler.Config) {
		if own {
			matchingProfile(cfg)
			pl := cfg.Profile.Plugins
			out := append([]scheduler.PluginConfig{pl[0], {Name: "ClockFirst"}}, pl[1:]...)
			cfg.Profile.Plugins = append(out, scheduler.PluginConfig{Name: "ClockLast"})
			return
		}
		cfg.Profile = scheduler.PolicyProfile("timed-"+PolicyName, nil)
	}, func(r *scheduler.Registry) error {
		if err := r.Register("ClockFirst", func(any, kfw.Handle) (kfw.Plugin, error) { return clockFirst{c}, nil }); err != nil {
			return err
		}
		if err := r.Register("ClockLast", func(any, kfw.Handle) (kfw.Plugin, error) { return clockLast{c}, nil }); err != nil {
			return err
		}
		return scheduler.RegisterHandlePolicy(r, "timed-"+PolicyName, func(a any, h kfw.Handle) (policies.Policy, error) {
			p, err := newPolicy(a, h)
			if err != nil {
				return nil, err
			}
			return &timedPolicy{Policy: p.(*Policy), c: c}, nil
		})
	})
}

// BenchmarkKubeSchedulerVsKubesim schedules 300 pods on 5,000 nodes with each
// and reports the mean wall time of a scheduling cycle (µs/decision), the
// decisions per second that makes, and the ratio. The whole run's wall time per
// decision (apiserver, etcd and watch modelling included) is reported too.
func BenchmarkKubeSchedulerVsKubesim(b *testing.B) {
	const nodes, pods = 5000, 300
	var own, up cycleClock
	var ownRun, upRun time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := timedStack(b, nodes, true, &own)
		b.StartTimer()
		ownRun += scheduleBatch(b, s, pods)
		b.StopTimer()
		s = timedStack(b, nodes, false, &up)
		b.StartTimer()
		upRun += scheduleBatch(b, s, pods)
	}
	ownCycle := own.total.Seconds() / float64(own.n)
	upCycle := up.total.Seconds() / float64(up.n)
	b.ReportMetric(ownCycle*1e6, "kubesim-µs/decision")
	b.ReportMetric(upCycle*1e6, "kube-scheduler-µs/decision")
	b.ReportMetric(1/ownCycle, "kubesim-decisions/s")
	b.ReportMetric(1/upCycle, "kube-scheduler-decisions/s")
	b.ReportMetric(upCycle/ownCycle, "ratio")
	b.ReportMetric(float64(pods*b.N)/ownRun.Seconds(), "kubesim-run-decisions/s")
	b.ReportMetric(float64(pods*b.N)/upRun.Seconds(), "kube-scheduler-run-decisions/s")
}

// The benchmark's workload, smaller, through the fidelity oracle: every score and
// filter verdict of kubesim's profile equals upstream's.
func TestBenchWorkloadFidelity(t *testing.T) {
	f := NewFidelity()
	defer f.Close()
	s := benchCluster(t, 1, 300, func(cfg *scheduler.Config) { f.Configure(cfg) })
	scheduleBatch(t, s, 60)
	if f.Decisions < 60 || f.ScoreTotal == 0 {
		t.Fatalf("%d decisions, %d scores compared", f.Decisions, f.ScoreTotal)
	}
	for i, d := range f.Diffs {
		if i == 10 {
			break
		}
		t.Errorf("%s node %s plug-in %s: kubesim %d, upstream %d (%s)", d.Pod, d.Node, d.Plugin, d.Kubesim, d.Upstream, d.Detail)
	}
}

// The oracle can fail: with kubesim's default BalancedAllocation formula (v1.35)
// instead of v1.37's, it reports the plug-in's scores as different, with inputs.
func TestOracleDetectsFormulaDifference(t *testing.T) {
	f := NewFidelity()
	defer f.Close()
	s := benchCluster(t, 1, 50, func(cfg *scheduler.Config) {
		f.Configure(cfg)
		for i, pc := range cfg.Profile.Plugins {
			if pc.Name == scheduler.NodeResourcesBalancedAllocation {
				cfg.Profile.Plugins[i].Args = &noderesources.BalancedAllocationArgs{Version: noderesources.BalancedV135}
			}
		}
	})
	scheduleBatch(t, s, 20)
	if len(f.Diffs) == 0 {
		t.Fatal("no difference reported between the v1.35 and v1.36 BalancedAllocation formulas")
	}
	for _, d := range f.Diffs {
		if d.Plugin != scheduler.NodeResourcesBalancedAllocation && d.Plugin != "Selection" {
			t.Errorf("unexpected difference in %s: %+v", d.Plugin, d)
		}
		if d.Plugin != "Selection" && (d.Inputs == "" || d.Node == "") {
			t.Errorf("difference without its inputs: %+v", d)
		}
	}
}
