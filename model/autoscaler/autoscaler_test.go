package autoscaler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/sim"
)

type recorder struct {
	recs   []sim.Record
	gauges map[string]float64
}

func (r *recorder) Trace(x sim.Record)                { r.recs = append(r.recs, x) }
func (r *recorder) Observe(string, sim.Time, float64) {}
func (r *recorder) Gauge(s string, _ sim.Time, v float64) {
	if r.gauges == nil {
		r.gauges = map[string]float64{}
	}
	r.gauges[s] = v
}

func (r *recorder) actions(a string) []sim.Record {
	var out []sim.Record
	for _, x := range r.recs {
		if x.Component == Component && x.Action == a {
			out = append(out, x)
		}
	}
	return out
}

// cloud is a fake NodeProvisioner: AddNode registers a Ready Node of the group's
// shape at once; RemoveNode deletes it.
type cloud struct {
	eng     *sim.Engine
	c       *apiserver.Client
	groups  map[string]NodeGroup
	n       int
	added   []string
	addedAt []sim.Time
	removed []string
}

func (f *cloud) AddNode(group string) string {
	f.n++
	name := fmt.Sprintf("%s-%d", group, f.n)
	f.added = append(f.added, name)
	f.addedAt = append(f.addedAt, f.eng.Now())
	f.c.Create(f.node(name, f.groups[group]), nil)
	return name
}

func (f *cloud) node(name string, g NodeGroup) *api.Node {
	labels := map[string]string{api.LabelHostname: name}
	for k, v := range g.Labels {
		labels[k] = v
	}
	return &api.Node{ObjectMeta: api.ObjectMeta{Name: name, Labels: labels}, Spec: api.NodeSpec{Taints: g.Taints},
		Status: api.NodeStatus{Allocatable: g.Allocatable, Capacity: g.Allocatable,
			Conditions: []api.NodeCondition{{Type: api.NodeReady, Status: api.ConditionTrue}}}}
}

func (f *cloud) RemoveNode(name string) {
	f.removed = append(f.removed, name)
	f.c.Delete(api.KindNode, "", name, apiserver.DeleteOptions{}, nil)
}

type env struct {
	t     *testing.T
	eng   *sim.Engine
	user  *apiserver.Client
	rec   *recorder
	cloud *cloud
	ca    *Autoscaler
}

const gi = int64(1) << 30

func groups() []NodeGroup {
	return []NodeGroup{
		{Name: "small", Min: 0, Max: 3, Allocatable: api.Resources{MilliCPU: 2000, Memory: 4 * gi, Pods: 110}, HourlyCost: 0.1, ProvisionDelay: dist.Const(60 * time.Second)},
		{Name: "big", Min: 0, Max: 3, Allocatable: api.Resources{MilliCPU: 8000, Memory: 16 * gi, Pods: 110}, HourlyCost: 0.4, ProvisionDelay: dist.Const(90 * time.Second)},
		{Name: "gpu", Min: 0, Max: 2, Allocatable: api.Resources{MilliCPU: 8000, Memory: 32 * gi, Pods: 110}, HourlyCost: 2,
			Labels: map[string]string{"pool": "gpu"}, Taints: []api.Taint{{Key: "gpu", Effect: api.TaintNoSchedule}}, ProvisionDelay: dist.Const(120 * time.Second)},
	}
}

func newEnv(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	eng := sim.New(5)
	reg := dist.NewRegistry()
	st, err := etcd.New(eng, etcd.DefaultConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Groups = groups()
	cfg.Expander = ExpanderLeastWaste
	if mod != nil {
		mod(&cfg)
	}
	f := &cloud{eng: eng, c: srv.Client("cloud", 0, 0), groups: map[string]NodeGroup{}}
	for _, g := range cfg.Groups {
		f.groups[g.Name] = g
	}
	rec := &recorder{}
	ca, err := New(eng, srv.Client(Component, 0, 0), f, cfg, reg, rec)
	if err != nil {
		t.Fatal(err)
	}
	ca.Start()
	return &env{t: t, eng: eng, user: srv.Client("test", 0, 0), rec: rec, cloud: f, ca: ca}
}

func (e *env) do(start func(done func(error))) {
	e.t.Helper()
	var fin bool
	var err error
	start(func(x error) { fin, err = true, x })
	for i := 0; i < 100000 && !fin; i++ {
		e.eng.Step()
	}
	if !fin || err != nil {
		e.t.Fatalf("request: %v", err)
	}
}

// pendingPod creates a pod the scheduler found unschedulable.
func (e *env) pendingPod(name string, cpu int64, mod func(*api.Pod)) {
	p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default",
		OwnerReferences: []api.OwnerReference{{Kind: api.KindReplicaSet, Name: "rs", UID: "rs-uid", Controller: true}}},
		Spec: api.PodSpec{Containers: []api.Container{{Name: "c", Image: "nginx", Requests: api.Resources{MilliCPU: cpu, Memory: 256 << 20}}}}}
	if mod != nil {
		mod(p)
	}
	e.do(func(done func(error)) { e.user.Create(p, func(_ api.Object, err error) { done(err) }) })
	e.do(func(done func(error)) {
		e.user.Get(api.KindPod, "default", name, func(o api.Object, err error) {
			if err != nil {
				done(err)
				return
			}
			q := o.(*api.Pod).DeepCopy()
			q.SetCondition(api.PodScheduled, api.ConditionFalse, "Unschedulable", e.eng.Now())
			e.user.UpdateStatus(q, func(_ api.Object, err error) { done(err) })
		})
	})
}

func (e *env) run(until time.Duration) { e.eng.RunUntil(sim.Time(until)) }

func TestScaleUpPicksFittingGroupAfterProvisionDelay(t *testing.T) {
	tests := []struct {
		name      string
		cpu       int64
		n         int
		mod       func(*api.Pod)
		wantGroup string
		wantNodes int
		delay     time.Duration
	}{
		{"small pods: least waste is the small group", 500, 3, nil, "small", 1, 60 * time.Second},
		{"3-CPU pods fit only big nodes (2 per node)", 3000, 3, nil, "big", 2, 90 * time.Second},
		{"max respected: 10 big pods get 3 big nodes", 3000, 10, nil, "big", 3, 90 * time.Second},
		{"nodeSelector and toleration lead to the gpu group", 500, 1, func(p *api.Pod) {
			p.Spec.NodeSelector = map[string]string{"pool": "gpu"}
			p.Spec.Tolerations = []api.Toleration{{Key: "gpu", Operator: api.TolerationOpExists}}
		}, "gpu", 1, 120 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			for i := 0; i < tc.n; i++ {
				e.pendingPod(fmt.Sprintf("p%d", i), tc.cpu, tc.mod)
			}
			e.run(5 * time.Minute)
			ups := e.rec.actions("scale-up")
			if len(ups) != 1 || ups[0].Object != "nodegroup/"+tc.wantGroup {
				t.Fatalf("scale-ups %v, want one of %s", ups, tc.wantGroup)
			}
			if len(e.cloud.added) != tc.wantNodes {
				t.Fatalf("added %v, want %d nodes", e.cloud.added, tc.wantNodes)
			}
			for i, at := range e.cloud.addedAt {
				if want := ups[0].Time.Add(tc.delay); at != want {
					t.Fatalf("node %d added at %v, want scale-up %v + delay %v", i, at, ups[0].Time, tc.delay)
				}
				if !strings.HasPrefix(e.cloud.added[i], tc.wantGroup+"-") {
					t.Fatalf("node %s of the wrong group", e.cloud.added[i])
				}
			}
			if got := e.ca.GroupSize(tc.wantGroup); got != tc.wantNodes {
				t.Fatalf("group size %d", got)
			}
			want := float64(tc.wantNodes) * map[string]float64{"small": 0.1, "big": 0.4, "gpu": 2}[tc.wantGroup]
			if got := e.rec.gauges["cluster_cost_per_hour"]; fmt.Sprintf("%.2f", got) != fmt.Sprintf("%.2f", want) {
				t.Fatalf("cost %v, want %v", got, want)
			}
		})
	}
}

func TestNoScaleUpWhenNothingFits(t *testing.T) {
	e := newEnv(t, nil)
	e.pendingPod("huge", 64000, nil)
	e.run(time.Minute)
	if len(e.rec.actions("scale-up")) != 0 || len(e.cloud.added) != 0 {
		t.Fatal("scaled up for a pod no group fits")
	}
	if len(e.rec.actions("no-scale-up")) == 0 {
		t.Fatal("no explanation traced")
	}
}

func TestProvisionTimeoutBacksOff(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Groups = groups()[:1]
		c.Groups[0].ProvisionDelay = dist.Const(20 * time.Minute)
	})
	e.pendingPod("p", 500, nil)
	e.run(16 * time.Minute)
	if len(e.cloud.added) != 0 || len(e.rec.actions("scale-up-failed")) != 1 {
		t.Fatalf("added %v, failures %d", e.cloud.added, len(e.rec.actions("scale-up-failed")))
	}
	if n := len(e.rec.actions("scale-up")); n != 1 {
		t.Fatalf("%d scale-ups during provisioning and backoff", n)
	}
	e.run(21 * time.Minute)
	if n := len(e.rec.actions("scale-up")); n != 2 {
		t.Fatalf("%d scale-ups after the backoff, want 2", n)
	}
}

// TestScaleDownEmptyNode: an adopted empty node is removed ScaleDownUnneededTime
// after it is first found unneeded; a group at its minimum keeps it; a node with a
// pod no controller owns stays.
func TestScaleDownEmptyNode(t *testing.T) {
	tests := []struct {
		name      string
		min       int
		bare      bool // a pod without a controller on the node
		wantGone  bool
		afterUp   bool
		wantAfter time.Duration
	}{
		{name: "empty node removed after 10 min", wantGone: true, wantAfter: 10 * time.Minute},
		{name: "min respected", min: 1},
		{name: "pod without controller blocks", bare: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.Groups[0].Min = tc.min })
			g := groups()[0]
			e.do(func(done func(error)) {
				e.user.Create(e.cloud.node("old-1", g), func(_ api.Object, err error) { done(err) })
			})
			if err := e.ca.AdoptNode("small", "old-1"); err != nil {
				t.Fatal(err)
			}
			if tc.bare {
				p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: "bare", Namespace: "default"},
					Spec: api.PodSpec{NodeName: "old-1", Containers: []api.Container{{Name: "c", Image: "x", Requests: api.Resources{MilliCPU: 100}}}}}
				e.do(func(done func(error)) { e.user.Create(p, func(_ api.Object, err error) { done(err) }) })
			}
			e.run(30 * time.Minute)
			rm := e.rec.actions("scale-down")
			if !tc.wantGone {
				if len(rm) != 0 || len(e.cloud.removed) != 0 {
					t.Fatalf("removed %v", e.cloud.removed)
				}
				return
			}
			un := e.rec.actions("unneeded")
			if len(rm) != 1 || len(un) != 1 || len(e.cloud.removed) != 1 || e.cloud.removed[0] != "old-1" {
				t.Fatalf("scale-downs %v, removed %v", rm, e.cloud.removed)
			}
			if d := rm[0].Time.Sub(un[0].Time); d < tc.wantAfter || d > tc.wantAfter+10*time.Second {
				t.Fatalf("removed %v after unneeded, want %v", d, tc.wantAfter)
			}
			if e.ca.GroupSize("small") != 0 {
				t.Fatal("group size")
			}
		})
	}
}

// TestScaleDownAfterScaleUpWaits: nodes added by a scale-up whose pods vanish are
// removed no sooner than 10 min after the scale-up (scale-down-delay-after-add) and
// 10 min unneeded.
func TestScaleDownAfterScaleUpWaits(t *testing.T) {
	e := newEnv(t, nil)
	e.pendingPod("p0", 500, nil)
	e.run(2 * time.Minute) // scale-up at 10 s, node at 70 s
	if len(e.cloud.added) != 1 {
		t.Fatalf("added %v", e.cloud.added)
	}
	e.do(func(done func(error)) { e.user.Delete(api.KindPod, "default", "p0", apiserver.DeleteOptions{}, done) })
	e.run(40 * time.Minute)
	up := e.rec.actions("scale-up")[0].Time
	rm := e.rec.actions("scale-down")
	if len(rm) != 1 || len(e.cloud.removed) != 1 {
		t.Fatalf("scale-downs %v", rm)
	}
	if rm[0].Time < up.Add(10*time.Minute) {
		t.Fatalf("removed at %v, before scale-up %v + 10 min", rm[0].Time, up)
	}
	if got := e.rec.gauges["cluster-autoscaler/small/nodes"]; got != 0 {
		t.Fatalf("node gauge %v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	reg := dist.NewRegistry()
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"default", func(*Config) {}, ""},
		{"expander", func(c *Config) { c.Expander = "cheapest" }, "expander: unknown"},
		{"threshold", func(c *Config) { c.ScaleDownUtilizationThreshold = 2 }, "scaleDownUtilizationThreshold"},
		{"min > max", func(c *Config) { c.Groups[0].Min = 5 }, "groups[0] (small)"},
		{"duplicate", func(c *Config) { c.Groups[1].Name = "small" }, "duplicate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Groups = groups()
			tc.mod(&c)
			err := c.Validate(reg)
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	if DefaultConfig().Expander != ExpanderRandom {
		t.Fatal("upstream's default expander is random")
	}
}
