package fault

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

// fake is a Cluster that logs calls.
type fake struct {
	nodes []NodeInfo
	pods  []PodInfo
	calls []string
	down  map[string]bool
}

func newFake() *fake {
	f := &fake{down: map[string]bool{}}
	for i := 1; i <= 6; i++ {
		zone := "a"
		if i > 3 {
			zone = "b"
		}
		pool := "std"
		if i%2 == 0 {
			pool = "big"
		}
		f.nodes = append(f.nodes, NodeInfo{Name: fmt.Sprintf("node-%d", i), Zone: zone, Labels: map[string]string{"pool": pool, "topology.kubernetes.io/zone": zone}})
	}
	f.pods = []PodInfo{{"default", "web-1", "node-1"}, {"default", "web-2", "node-2"}}
	return f
}

func (f *fake) log(s string, a ...any) { f.calls = append(f.calls, fmt.Sprintf(s, a...)) }
func (f *fake) Nodes() []NodeInfo      { return f.nodes }
func (f *fake) Pods(ns string, sel map[string]string) []PodInfo {
	return f.pods
}
func (f *fake) CrashNode(n string) error {
	if f.down[n] {
		return fmt.Errorf("%s is already down", n)
	}
	f.down[n] = true
	f.log("crash %s", n)
	return nil
}
func (f *fake) RepairNode(n string) error     { f.down[n] = false; f.log("repair %s", n); return nil }
func (f *fake) PartitionNode(n string) error  { f.log("partition %s", n); return nil }
func (f *fake) HealNode(n string) error       { f.log("heal %s", n); return nil }
func (f *fake) StopKubelet(n string) error    { f.log("stop-kubelet %s", n); return nil }
func (f *fake) RestartKubelet(n string) error { f.log("restart-kubelet %s", n); return nil }
func (f *fake) CrashContainer(ns, p, c string, code int) (int, error) {
	f.log("crash-container %s/%s %d", ns, p, code)
	return 1, nil
}
func (f *fake) OOMKillContainer(ns, p, c string) (int, error) {
	f.log("oom %s/%s", ns, p)
	return 1, nil
}
func (f *fake) SetPullsFail(im string, b bool) error      { f.log("pulls-fail %s %v", im, b); return nil }
func (f *fake) SetNeverReady(im string, b bool) error     { f.log("never-ready %s %v", im, b); return nil }
func (f *fake) EtcdFollowers() []int                      { return []int{1, 2} }
func (f *fake) EtcdLoseMember(m int) (sim.Time, error)    { f.log("etcd-lose %d", m); return 0, nil }
func (f *fake) EtcdLoseLeader() (int, sim.Time, error)    { f.log("etcd-lose-leader"); return 0, 0, nil }
func (f *fake) EtcdRestoreMember(m int) (sim.Time, error) { f.log("etcd-restore %d", m); return 0, nil }
func (f *fake) EtcdQuorum() bool                          { return true }
func (f *fake) EtcdSetFsyncFactor(x float64) error        { f.log("fsync %g", x); return nil }
func (f *fake) SetAPIServerAvailable(up bool) error       { f.log("apiserver %v", up); return nil }

type tel struct {
	recs   []sim.Record
	gauges []float64
}

func (t *tel) Trace(r sim.Record)                { t.recs = append(t.recs, r) }
func (t *tel) Observe(string, sim.Time, float64) {}
func (t *tel) Gauge(m string, _ sim.Time, v float64) {
	if m == "faults_active" {
		t.gauges = append(t.gauges, v)
	}
}

func setup(seed uint64) (*sim.Engine, *fake, *Injector, *tel) {
	eng := sim.New(seed)
	f := newFake()
	tl := &tel{}
	return eng, f, NewInjector(eng, f, NewRegistry(), dist.NewRegistry(), tl), tl
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	_, err := r.Lookup("meteor-strike")
	if err == nil || !strings.Contains(err.Error(), "known: apiserver-outage, bad-version, container-crash") || !strings.Contains(err.Error(), "zone-outage") {
		t.Fatalf("unknown kind error: %v", err)
	}
	for _, n := range []string{NodeCrash, NodePartition, KubeletStop, ContainerCrash, OOMKill, ImagePullFailure, EtcdMemberLoss, EtcdLeaderLoss, APIServerOutage, ZoneOutage, SlowEtcdDisk} {
		if _, err := r.Lookup(n); err != nil {
			t.Fatalf("built-in %s missing", n)
		}
	}
	if err := r.Register(&Func{KindName: NodeCrash}); err == nil {
		t.Fatal("duplicate registration accepted")
	}
	// A user's own kind works like a built-in.
	eng, f, in, tl := setup(1)
	if err := in.reg.Register(&Func{KindName: "disk-full", On: TargetNode, Do: func(ctx *Context, tg Target) (Effect, error) {
		f.log("disk-full %s", tg.Node)
		return Effect{Expect: "the disk is full", Repair: func() (string, error) { f.log("disk-freed %s", tg.Node); return "freed", nil }}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	if err := in.Add(Spec{Name: "df", Kind: "disk-full", At: time.Second, Duration: time.Second, Target: TargetSpec{Nodes: []string{"node-3"}}}); err != nil {
		t.Fatal(err)
	}
	eng.Run()
	if fmt.Sprint(f.calls) != "[disk-full node-3 disk-freed node-3]" || len(tl.recs) != 2 || tl.recs[0].Action != "inject" || tl.recs[1].Time != sim.Time(2*time.Second) {
		t.Fatalf("calls %v records %+v", f.calls, tl.recs)
	}
	if fmt.Sprint(tl.gauges) != "[1 0]" {
		t.Fatalf("faults_active %v", tl.gauges)
	}
}

func TestValidate(t *testing.T) {
	r, d := NewRegistry(), dist.NewRegistry()
	node := TargetSpec{Nodes: []string{"node-1"}}
	tests := []struct {
		name string
		spec Spec
		want string // substring of the error; "" = valid
	}{
		{"valid once", Spec{Name: "a", Kind: NodeCrash, At: time.Second, Target: node}, ""},
		{"unknown kind", Spec{Name: "a", Kind: "nope", Target: node}, "known: "},
		{"no name", Spec{Kind: NodeCrash, Target: node}, "name"},
		{"node kind without target", Spec{Name: "a", Kind: NodeCrash}, "target"},
		{"zone outage without zone", Spec{Name: "a", Kind: ZoneOutage, Target: TargetSpec{RandomK: 1}}, "zone"},
		{"image kind without image", Spec{Name: "a", Kind: ImagePullFailure}, "target.image"},
		{"negative at", Spec{Name: "a", Kind: APIServerOutage, At: -1}, "at"},
		{"repair after the next injection", Spec{Name: "a", Kind: APIServerOutage, Every: time.Minute, Duration: time.Minute}, "duration"},
		{"periodic and random", Spec{Name: "a", Kind: APIServerOutage, Every: time.Minute, MTBF: dist.Exponential(time.Hour)}, "every"},
		{"mttr without mtbf", Spec{Name: "a", Kind: APIServerOutage, MTTR: dist.Exponential(time.Hour)}, "mttr"},
		{"bad mtbf", Spec{Name: "a", Kind: APIServerOutage, MTBF: dist.Spec{Kind: "weibull"}}, "mtbf"},
		{"bad exit code", Spec{Name: "a", Kind: ContainerCrash, Target: TargetSpec{Pods: map[string]string{}}, Params: map[string]string{"exitCode": "x"}}, "exitCode"},
		{"bad factor", Spec{Name: "a", Kind: SlowEtcdDisk, Params: map[string]string{"factor": "-2"}}, "factor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate(r, d)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestTargetSelection(t *testing.T) {
	tests := []struct {
		name   string
		target TargetSpec
		want   string
	}{
		{"by name", TargetSpec{Nodes: []string{"node-2", "node-5"}}, "[crash node-2 crash node-5]"},
		{"by label", TargetSpec{Labels: map[string]string{"pool": "big"}}, "[crash node-2 crash node-4 crash node-6]"},
		{"by zone", TargetSpec{Zone: "b"}, "[crash node-4 crash node-5 crash node-6]"},
		{"zone and label", TargetSpec{Zone: "b", Labels: map[string]string{"pool": "std"}}, "[crash node-5]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng, f, in, _ := setup(1)
			if err := in.Add(Spec{Name: "x", Kind: NodeCrash, Target: tc.target}); err != nil {
				t.Fatal(err)
			}
			eng.Run()
			if got := fmt.Sprint(f.calls); got != tc.want {
				t.Fatalf("calls %v, want %v", got, tc.want)
			}
		})
	}
	// Random k of n: k distinct nodes, the same for the same seed, different
	// choices across seeds.
	choices := map[string]bool{}
	for seed := uint64(1); seed <= 20; seed++ {
		var runs [2]string
		for i := range runs {
			eng, f, in, _ := setup(seed)
			if err := in.Add(Spec{Name: "k", Kind: NodeCrash, Target: TargetSpec{Zone: "a", RandomK: 2}}); err != nil {
				t.Fatal(err)
			}
			eng.Run()
			if len(f.calls) != 2 || f.calls[0] == f.calls[1] {
				t.Fatalf("seed %d: %v, want 2 distinct nodes of zone a", seed, f.calls)
			}
			for _, c := range f.calls {
				if c != "crash node-1" && c != "crash node-2" && c != "crash node-3" {
					t.Fatalf("seed %d: %s is not in zone a", seed, c)
				}
			}
			runs[i] = fmt.Sprint(f.calls)
		}
		if runs[0] != runs[1] {
			t.Fatalf("seed %d: %s then %s", seed, runs[0], runs[1])
		}
		choices[runs[0]] = true
	}
	if len(choices) < 2 {
		t.Fatalf("random choice never varies across seeds: %v", choices)
	}
}

func TestSchedules(t *testing.T) {
	// Periodic: 3 injections 10 s apart, each repaired after 2 s.
	eng, f, in, tl := setup(1)
	if err := in.Add(Spec{Name: "p", Kind: APIServerOutage, At: 5 * time.Second, Every: 10 * time.Second, Count: 3, Duration: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	eng.Run()
	var times []string
	for _, r := range tl.recs {
		times = append(times, fmt.Sprintf("%s@%v", r.Action, r.Time.Duration()))
	}
	if got := fmt.Sprint(times); got != "[inject@5s repair@7s inject@15s repair@17s inject@25s repair@27s]" {
		t.Fatalf("periodic: %s", got)
	}
	if len(f.calls) != 6 || in.Active() != 0 {
		t.Fatalf("calls %v active %d", f.calls, in.Active())
	}
	// A repeated container crash with no repair.
	eng, f, in, _ = setup(1)
	if err := in.Add(Spec{Name: "c", Kind: ContainerCrash, Every: time.Minute, Count: 2, Target: TargetSpec{Pods: map[string]string{"app": "web"}, RandomK: 1}, Params: map[string]string{"exitCode": "2"}}); err != nil {
		t.Fatal(err)
	}
	eng.Run()
	if len(f.calls) != 2 || !strings.HasSuffix(f.calls[0], " 2") || in.Active() != 0 {
		t.Fatalf("container crashes %v", f.calls)
	}
	// A never-repaired node crash injected twice: the second is a skip.
	eng, f, in, tl = setup(1)
	if err := in.Add(Spec{Name: "n", Kind: NodeCrash, Every: time.Minute, Count: 2, Target: TargetSpec{Nodes: []string{"node-1"}}}); err != nil {
		t.Fatal(err)
	}
	eng.Run()
	if len(f.calls) != 1 || tl.recs[1].Action != "skip" || in.Active() != 1 {
		t.Fatalf("calls %v records %+v", f.calls, tl.recs)
	}
}

// TestRandomProcess: the same seed gives the same injection and repair times; other
// seeds other times; failures alternate with repairs.
func TestRandomProcess(t *testing.T) {
	times := func(seed uint64) []Injection {
		eng, _, in, _ := setup(seed)
		if err := in.Add(Spec{Name: "r", Kind: NodeCrash, Count: 5, MTBF: dist.Exponential(time.Hour), MTTR: dist.LogNormal(10*time.Minute, 0.5),
			Target: TargetSpec{RandomK: 1}}); err != nil {
			t.Fatal(err)
		}
		eng.Run()
		return in.Injections()
	}
	a, b, c := times(7), times(7), times(8)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("same seed, different runs:\n%v\n%v", a, b)
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Fatal("different seeds, same injections")
	}
	if len(a) != 5 {
		t.Fatalf("%d injections, want 5", len(a))
	}
	for i, x := range a {
		if x.RepairedAt <= x.At || (i > 0 && x.At <= a[i-1].RepairedAt) {
			t.Fatalf("injection %d: %+v after %+v", i, x, a[max(i-1, 0)])
		}
	}
}

// TestBuiltinKinds: each built-in kind calls the Cluster as it should, and its
// repair undoes it.
func TestBuiltinKinds(t *testing.T) {
	node := TargetSpec{Nodes: []string{"node-1"}}
	pods := TargetSpec{Pods: map[string]string{}, RandomK: 1}
	tests := []struct {
		kind   string
		target TargetSpec
		params map[string]string
		want   string
	}{
		{NodeCrash, node, nil, "[crash node-1 repair node-1]"},
		{ZoneOutage, TargetSpec{Zone: "a"}, nil, "[crash node-1 crash node-2 crash node-3 repair node-1 repair node-2 repair node-3]"},
		{NodePartition, node, nil, "[partition node-1 heal node-1]"},
		{KubeletStop, node, nil, "[stop-kubelet node-1 restart-kubelet node-1]"},
		{ContainerCrash, pods, nil, "[crash-container default/web-1 1]"},
		{OOMKill, pods, nil, "[oom default/web-1]"},
		{ImagePullFailure, TargetSpec{Image: "nginx:1.28"}, nil, "[pulls-fail nginx:1.28 true pulls-fail nginx:1.28 false]"},
		{BadVersion, TargetSpec{Image: "nginx:1.28"}, nil, "[never-ready nginx:1.28 true never-ready nginx:1.28 false]"},
		{EtcdMemberLoss, TargetSpec{}, map[string]string{"members": "2"}, "[etcd-lose 2 etcd-lose 1 etcd-restore 1 etcd-restore 2]"},
		{EtcdLeaderLoss, TargetSpec{}, nil, "[etcd-lose-leader etcd-restore 0]"},
		{APIServerOutage, TargetSpec{}, nil, "[apiserver false apiserver true]"},
		{SlowEtcdDisk, TargetSpec{}, map[string]string{"factor": "20"}, "[fsync 20 fsync 1]"},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			eng, f, in, tl := setup(3)
			if err := in.Add(Spec{Name: "f", Kind: tc.kind, At: time.Second, Duration: time.Minute, Target: tc.target, Params: tc.params}); err != nil {
				t.Fatal(err)
			}
			eng.Run()
			if got := fmt.Sprint(f.calls); got != tc.want {
				t.Fatalf("calls %s, want %s", got, tc.want)
			}
			for _, r := range tl.recs {
				if r.Component != "fault" || r.Step != 0 || !strings.Contains(r.Detail, tc.kind) {
					t.Fatalf("record %+v", r)
				}
			}
		})
	}
}
