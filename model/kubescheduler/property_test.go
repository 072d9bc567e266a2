//go:build kubescheduler

package kubescheduler

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler"
)

// The property: on random clusters and pods, every score of kubesim's own default
// plug-ins equals upstream's (kube-scheduler v1.37, with the matching
// BalancedAllocation formula), and so does every filter verdict. A failure prints
// the seed and a minimal case (shrunk by removing nodes, pods and pod features
// while the difference persists).

var (
	propSeeds = flag.Int("kubesched.seeds", 40, "random clusters the fidelity property test generates")
	propFirst = flag.Uint64("kubesched.seed", 1, "first seed of the fidelity property test")
)

// propCase is one generated cluster: nodes, pods already bound, and pods to
// schedule in order.
type propCase struct {
	Nodes    []*api.Node `json:"nodes"`
	Existing []*api.Pod  `json:"existing"`
	Pending  []*api.Pod  `json:"pending"`
}

var (
	zones  = []string{"z0", "z1", "z2"}
	apps   = []string{"web", "db", "cache"}
	images = []struct {
		name string
		size int64
	}{{"nginx:1.25", 140 << 20}, {"redis:7", 110 << 20}, {"pytorch:2", 6 << 30}, {"busybox:1", 4 << 20}}
	taintPool  = []api.Taint{{Key: "dedicated", Value: "infra", Effect: api.TaintNoSchedule}, {Key: "spot", Value: "true", Effect: api.TaintPreferNoSchedule}, {Key: "gpu", Value: "true", Effect: api.TaintPreferNoSchedule}, {Key: "maint", Effect: api.TaintNoExecute}}
	extended   = api.ResourceName("example.com/fpga")
	topologies = []string{api.LabelZone, api.LabelHostname}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func genSelector(r *rand.Rand) *api.LabelSelector {
	if r.IntN(4) == 0 {
		return &api.LabelSelector{MatchExpressions: []api.Requirement{{Key: "app", Operator: api.OpIn, Values: []string{pick(r, apps), pick(r, apps)}}}}
	}
	return &api.LabelSelector{MatchLabels: map[string]string{"app": pick(r, apps)}}
}

func genPod(r *rand.Rand, name string, rich bool) *api.Pod {
	p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: name, Namespace: api.NamespaceDefault, Labels: map[string]string{"app": pick(r, apps)}},
		Spec: api.PodSpec{SchedulerName: api.DefaultSchedulerName}}
	c := api.Container{Name: "c", Image: pick(r, images).name}
	if r.IntN(6) != 0 { // else BestEffort
		c.Requests.MilliCPU = int64(50 + r.IntN(4000))
		c.Requests.Memory = int64(64+r.IntN(8192)) << 20
	}
	if r.IntN(5) == 0 {
		c.Requests.Scalar = map[api.ResourceName]int64{api.ResourceGPU: int64(1 + r.IntN(2))}
	}
	if r.IntN(6) == 0 {
		if c.Requests.Scalar == nil {
			c.Requests.Scalar = map[api.ResourceName]int64{}
		}
		c.Requests.Scalar[extended] = 1
	}
	p.Spec.Containers = []api.Container{c}
	if r.IntN(3) == 0 {
		c2 := api.Container{Name: "side", Image: pick(r, images).name, Requests: api.Resources{MilliCPU: int64(10 + r.IntN(500)), Memory: int64(16+r.IntN(512)) << 20}}
		p.Spec.Containers = append(p.Spec.Containers, c2)
	}
	if !rich {
		return p
	}
	for _, t := range taintPool {
		if r.IntN(3) == 0 {
			tol := api.Toleration{Key: t.Key, Operator: api.TolerationOpEqual, Value: t.Value, Effect: t.Effect}
			if r.IntN(2) == 0 {
				tol.Operator, tol.Value = api.TolerationOpExists, ""
			}
			p.Spec.Tolerations = append(p.Spec.Tolerations, tol)
		}
	}
	aff := &api.Affinity{}
	if r.IntN(3) == 0 {
		na := &api.NodeAffinity{}
		if r.IntN(2) == 0 {
			na.Required = []api.NodeSelectorTerm{{MatchExpressions: []api.Requirement{{Key: api.LabelZone, Operator: api.OpIn, Values: []string{pick(r, zones), pick(r, zones)}}}}}
		}
		for i := r.IntN(3); i > 0; i-- {
			req := api.Requirement{Key: "disk", Operator: api.OpIn, Values: []string{pick(r, []string{"ssd", "hdd"})}}
			if r.IntN(2) == 0 {
				req = api.Requirement{Key: api.LabelZone, Operator: api.OpNotIn, Values: []string{pick(r, zones)}}
			}
			na.Preferred = append(na.Preferred, api.PreferredSchedulingTerm{Weight: int32(1 + r.IntN(100)), Preference: api.NodeSelectorTerm{MatchExpressions: []api.Requirement{req}}})
		}
		aff.NodeAffinity = na
	}
	if r.IntN(3) == 0 {
		pa := &api.PodAffinity{}
		for i := r.IntN(3); i > 0; i-- {
			pa.Preferred = append(pa.Preferred, api.WeightedPodAffinityTerm{Weight: int32(1 + r.IntN(100)), Term: api.PodAffinityTerm{LabelSelector: genSelector(r), TopologyKey: pick(r, topologies)}})
		}
		if r.IntN(4) == 0 {
			pa.Required = []api.PodAffinityTerm{{LabelSelector: genSelector(r), TopologyKey: api.LabelZone}}
		}
		aff.PodAffinity = pa
	}
	if r.IntN(3) == 0 {
		pa := &api.PodAffinity{}
		for i := r.IntN(3); i > 0; i-- {
			pa.Preferred = append(pa.Preferred, api.WeightedPodAffinityTerm{Weight: int32(1 + r.IntN(100)), Term: api.PodAffinityTerm{LabelSelector: genSelector(r), TopologyKey: pick(r, topologies)}})
		}
		if r.IntN(4) == 0 {
			pa.Required = []api.PodAffinityTerm{{LabelSelector: genSelector(r), TopologyKey: api.LabelHostname}}
		}
		aff.PodAntiAffinity = pa
	}
	if aff.NodeAffinity != nil || aff.PodAffinity != nil || aff.PodAntiAffinity != nil {
		p.Spec.Affinity = aff
	}
	for i := r.IntN(3); i > 0; i-- {
		action := api.ScheduleAnyway
		if r.IntN(3) == 0 {
			action = api.DoNotSchedule
		}
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, api.TopologySpreadConstraint{
			MaxSkew: int32(1 + r.IntN(2)), TopologyKey: topologies[i%2], WhenUnsatisfiable: action, LabelSelector: genSelector(r)})
	}
	return p
}

func genCase(seed uint64) *propCase {
	r := rand.New(rand.NewPCG(seed, 0x6b756265))
	c := &propCase{}
	nn := 2 + r.IntN(7)
	for i := 0; i < nn; i++ {
		n := mkNode(fmt.Sprintf("n%d", i), pick(r, zones), int64(2000+r.IntN(30000)), int64(4+r.IntN(124))*gi)
		n.Labels["disk"] = pick(r, []string{"ssd", "hdd"})
		if r.IntN(3) == 0 {
			g := int64(1 + r.IntN(8))
			n.Status.Allocatable.Scalar = map[api.ResourceName]int64{api.ResourceGPU: g}
			n.Status.Capacity.Scalar = map[api.ResourceName]int64{api.ResourceGPU: g}
			n.Labels[api.LabelGPUModel] = pick(r, []string{"A100", "V100"})
		}
		if r.IntN(4) == 0 {
			if n.Status.Allocatable.Scalar == nil {
				n.Status.Allocatable.Scalar = map[api.ResourceName]int64{}
				n.Status.Capacity.Scalar = map[api.ResourceName]int64{}
			}
			n.Status.Allocatable.Scalar[extended] = 2
			n.Status.Capacity.Scalar[extended] = 2
		}
		for _, t := range taintPool {
			if r.IntN(5) == 0 {
				n.Spec.Taints = append(n.Spec.Taints, t)
			}
		}
		for _, im := range images {
			if r.IntN(3) == 0 {
				n.Status.Images = append(n.Status.Images, api.ContainerImage{Names: []string{"docker.io/library/" + im.name, im.name}, SizeBytes: im.size})
			}
		}
		c.Nodes = append(c.Nodes, n)
	}
	for i := r.IntN(12); i > 0; i-- {
		p := genPod(r, fmt.Sprintf("e%02d", i), r.IntN(2) == 0)
		p.Spec.NodeName = api.NodeName(pick(r, c.Nodes).Name)
		c.Existing = append(c.Existing, p)
	}
	for i := 1 + r.IntN(3); i > 0; i-- {
		c.Pending = append(c.Pending, genPod(r, fmt.Sprintf("p%d", i), true))
	}
	return c
}

// runCase schedules the case's pending pods with kubesim's default profile,
// compared with upstream; it returns the comparison.
func runCase(t testing.TB, seed uint64, c *propCase) *Fidelity {
	f := NewFidelity()
	s := newStack(t, seed, func(cfg *scheduler.Config) { f.Configure(cfg) })
	defer f.Close()
	for _, n := range c.Nodes {
		s.create(t, n.DeepCopy())
	}
	for _, p := range c.Existing {
		s.create(t, p.DeepCopy())
	}
	s.run(time.Second)
	for _, p := range c.Pending {
		s.create(t, p.DeepCopy())
		s.run(time.Second)
	}
	if err := f.Err(); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	return f
}

// shrink removes parts of a failing case while it still fails.
func shrink(t testing.TB, seed uint64, c *propCase) *propCase {
	fails := func(c *propCase) bool { return len(runCase(t, seed, c).Diffs) > 0 }
	for changed, rounds := true, 0; changed && rounds < 8; rounds++ {
		changed = false
		for i := 0; i < len(c.Pending) && len(c.Pending) > 1; i++ {
			d := *c
			d.Pending = append(append([]*api.Pod(nil), c.Pending[:i]...), c.Pending[i+1:]...)
			if fails(&d) {
				c, changed, i = &d, true, i-1
			}
		}
		for i := 0; i < len(c.Existing); i++ {
			d := *c
			d.Existing = append(append([]*api.Pod(nil), c.Existing[:i]...), c.Existing[i+1:]...)
			if fails(&d) {
				c, changed, i = &d, true, i-1
			}
		}
		for i := 0; i < len(c.Nodes) && len(c.Nodes) > 1; i++ {
			d := *c
			gone := c.Nodes[i].Name
			d.Nodes = append(append([]*api.Node(nil), c.Nodes[:i]...), c.Nodes[i+1:]...)
			d.Existing = nil
			for _, p := range c.Existing {
				if string(p.Spec.NodeName) != gone {
					d.Existing = append(d.Existing, p)
				}
			}
			if fails(&d) {
				c, changed, i = &d, true, i-1
			}
		}
		// Pod features of the pending pods.
		for i := range c.Pending {
			for _, strip := range []func(*api.Pod){
				func(p *api.Pod) { p.Spec.Affinity = nil },
				func(p *api.Pod) { p.Spec.TopologySpreadConstraints = nil },
				func(p *api.Pod) { p.Spec.Tolerations = nil },
				func(p *api.Pod) { p.Spec.Containers = p.Spec.Containers[:1] },
			} {
				d := *c
				d.Pending = append([]*api.Pod(nil), c.Pending...)
				np := c.Pending[i].DeepCopy()
				before, _ := json.Marshal(np)
				strip(np)
				after, _ := json.Marshal(np)
				if string(before) == string(after) {
					continue
				}
				d.Pending[i] = np
				if fails(&d) {
					c, changed = &d, true
				}
			}
		}
	}
	return c
}

func TestFidelityProperty(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the property test builds the real framework per case")
	}
	var decisions, scores int
	for i := 0; i < *propSeeds; i++ {
		seed := *propFirst + uint64(i)
		c := genCase(seed)
		f := runCase(t, seed, c)
		decisions += f.Decisions
		scores += f.ScoreTotal
		if len(f.Diffs) == 0 {
			continue
		}
		m := shrink(t, seed, c)
		mf := runCase(t, seed, m)
		b, _ := json.MarshalIndent(m, "", " ")
		var lines []string
		for _, d := range mf.Diffs {
			lines = append(lines, fmt.Sprintf("%s node %s plug-in %s: kubesim %d (raw %d) upstream %d (raw %d) %s | %s", d.Pod, d.Node, d.Plugin, d.Kubesim, d.KubesimRaw, d.Upstream, d.UpstreamRaw, d.Detail, d.Inputs))
		}
		t.Fatalf("seed %d (rerun: go test ./model/kubescheduler -run TestFidelityProperty -kubesched.seed %d -kubesched.seeds 1): %d difference(s) in the full case; minimal case:\n%s\ndifferences:\n%s",
			seed, seed, len(f.Diffs), b, strings.Join(lines, "\n"))
	}
	if decisions == 0 || scores == 0 {
		t.Fatalf("%d decisions and %d scores compared over %d seeds: the property proved nothing", decisions, scores, *propSeeds)
	}
	t.Logf("%d random clusters, %d decisions, %d (pod, node, plug-in) scores: all equal", *propSeeds, decisions, scores)
}
