//go:build kubescheduler

package kubescheduler

import (
	"fmt"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler"
	kfw "github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/plugins/noderesources"
)

// The fidelity oracle. kubesim's own scheduler runs its default profile and decides;
// at the start of each of its scheduling cycles (a PreFilter observer placed first
// in the profile) the real framework scores the same pod against the same cluster
// state (the mirror is fed by the scheduler's own informer events, and both caches
// assume the same pods); when kubesim's cycle ends, its decision (filter verdicts,
// per-plug-in raw and normalized scores) is compared with upstream's.

// OracleName is the oracle plug-in's name.
const OracleName = "KubeSchedulerOracle"

// OracleArgs are the oracle plug-in's arguments.
type OracleArgs struct {
	// Fidelity receives the comparisons (required).
	Fidelity *Fidelity
}

func registerOracle(r *scheduler.Registry) error {
	return r.Register(OracleName, func(a any, h kfw.Handle) (kfw.Plugin, error) {
		args, ok := a.(*OracleArgs)
		if !ok || args == nil || args.Fidelity == nil {
			return nil, fmt.Errorf("%s: arguments must be *kubescheduler.OracleArgs with a Fidelity", OracleName)
		}
		o := &oracle{f: args.Fidelity}
		if h == nil {
			return o, nil
		}
		if args.Fidelity.m != nil {
			return nil, fmt.Errorf("%s: a Fidelity serves one scheduler", OracleName)
		}
		nom := &nominator{}
		nom.ph, _ = h.(kfw.PreemptionHandle)
		var err error
		if o.f.u, err = newUpstream(nil, nom); err != nil {
			return nil, err
		}
		o.f.m = newMirror(o.f.u)
		nom.m = o.f.m
		o.f.pending = map[api.UID]*cycleOut{}
		if err := attach(h, o.f.m); err != nil {
			return nil, err
		}
		return o, nil
	})
}

type oracle struct{ f *Fidelity }

func (o *oracle) Name() string { return OracleName }

// PreFilter implements kfw.PreFilterPlugin: it runs upstream's cycle over every
// node for the pod kubesim is about to schedule, and returns Skip (it filters
// nothing itself).
func (o *oracle) PreFilter(_ *kfw.CycleState, pod *kfw.PodInfo, _ []*kfw.NodeInfo) (*kfw.PreFilterResult, *kfw.Status) {
	f := o.f
	if f.m == nil {
		return nil, kfw.NewStatus(kfw.Skip)
	}
	v := ConvertPod(pod.Pod)
	f.m.forget(pod.Pod.UID)
	start := 0
	out := f.u.runCycle(v, &start, true, nil)
	out.pod = v
	f.pending[pod.Pod.UID] = out
	return nil, kfw.NewStatus(kfw.Skip)
}

// Fidelity accumulates the comparisons of a run. Use Profile for the kubesim
// profile to run, and Observe as the scheduler's OnDecision.
type Fidelity struct {
	u       *upstream
	m       *mirror
	pending map[api.UID]*cycleOut

	// Decisions counts kubesim decisions compared; Skipped those not compared
	// (abandoned cycles, nominated-node fast path), by reason.
	Decisions int
	Skipped   map[string]int
	// FilterEqual / FilterTotal count (pod, node) filter verdicts.
	FilterEqual, FilterTotal int
	// ScoreEqual / ScoreTotal count (pod, node, plug-in) normalized scores.
	ScoreEqual, ScoreTotal int
	// SameNode / UniqueBest count decisions whose best node is unique in both and
	// the same.
	SameNode, UniqueBest int
	// Diffs lists every difference, in decision order.
	Diffs []Diff
}

// Diff is one disagreement, with the inputs that produce it.
type Diff struct {
	Pod     string `json:"pod"`
	Attempt int    `json:"attempt"`
	Node    string `json:"node"`
	// Plugin is a score plug-in, "Filter" for a feasibility disagreement, or
	// "Selection" for a different choice with a unique best node.
	Plugin string `json:"plugin"`
	// Kubesim and Upstream are the normalized scores (Filter: 1 feasible, 0 not;
	// Selection: the total of the chosen node); the Raw fields the scores before
	// NormalizeScore.
	Kubesim     int64  `json:"kubesim"`
	Upstream    int64  `json:"upstream"`
	KubesimRaw  int64  `json:"kubesimRaw"`
	UpstreamRaw int64  `json:"upstreamRaw"`
	Detail      string `json:"detail,omitempty"`
	// Inputs summarizes the pod and node the scores came from.
	Inputs string `json:"inputs,omitempty"`
}

// NewFidelity returns an empty comparison.
func NewFidelity() *Fidelity { return &Fidelity{Skipped: map[string]int{}} }

// Close stops the upstream framework's goroutines.
func (f *Fidelity) Close() {
	if f.u != nil {
		f.u.close()
	}
}

// Err is the first mirror inconsistency (nil when none).
func (f *Fidelity) Err() error {
	if f.m == nil {
		return nil
	}
	return f.m.err
}

// FidelityProfile returns kubesim's default profile set up for comparison with
// kube-scheduler v1.37: the oracle first, BalancedAllocation with the v1.36
// formula (the one v1.37 runs; kubesim's default is v1.35's).
func FidelityProfile(f *Fidelity) scheduler.Profile {
	p := scheduler.DefaultProfile()
	out := scheduler.Profile{}
	for _, pc := range p.Plugins {
		if pc.Name == scheduler.NodeResourcesBalancedAllocation {
			pc.Args = &noderesources.BalancedAllocationArgs{Version: noderesources.BalancedV136}
		}
		out.Plugins = append(out.Plugins, pc)
		if pc.Name == scheduler.PrioritySort {
			out.Plugins = append(out.Plugins, scheduler.PluginConfig{Name: OracleName, Args: &OracleArgs{Fidelity: f}})
		}
	}
	return out
}

// Configure sets cfg to run the comparison: FidelityProfile, every node examined
// (percentageOfNodesToScore 100, so both score the same feasible set), and
// Observe as OnDecision (chained before any existing one).
func (f *Fidelity) Configure(cfg *scheduler.Config) {
	cfg.Profile = FidelityProfile(f)
	cfg.PercentageOfNodesToScore = 100
	prev := cfg.OnDecision
	cfg.OnDecision = func(d scheduler.Decision) {
		f.Observe(d)
		if prev != nil {
			prev(d)
		}
	}
}

// Observe compares one kubesim decision with upstream's cycle for the same pod.
func (f *Fidelity) Observe(d scheduler.Decision) {
	out := f.pending[d.PodUID]
	delete(f.pending, d.PodUID)
	if d.Outcome == "scheduled" && f.m != nil && out != nil {
		f.m.assume(out.pod, string(d.Selected)) // kubesim assumed the pod: so does upstream
	}
	switch {
	case out == nil:
		f.Skipped["no upstream cycle (PreFilter did not run)"]++
		return
	case d.Outcome == "abandoned":
		f.Skipped["abandoned (pod deleted or bound elsewhere during the cycle)"]++
		return
	case out.err != nil:
		f.Skipped["upstream error: "+out.err.Error()]++
		return
	case d.NumAllNodes > 1 && d.Examined == 1 && out.pod.Status.NominatedNodeName != "":
		f.Skipped["nominated-node fast path"]++
		return
	case out.fitErr != nil && out.examined == 0 && len(d.Filter) > 0 && missingClaim(out.fitErr.Diagnosis.PreFilterMsg):
		// The claim reached kubesim's VolumeBinding informer (its own watch) but not
		// yet the oracle's: the inputs differ, so the scores cannot be compared.
		f.Skipped["inputs differ: a PersistentVolumeClaim not yet delivered to the oracle's own watch (kubesim samples each watch's latency)"]++
		return
	}
	f.Decisions++
	inputs := func(node string) string { return f.inputs(out.pod, node) }
	// Filter verdicts, on the nodes kubesim examined.
	upFail := map[string]*fwk.Status{}
	for _, ns := range out.failed {
		upFail[ns.name] = ns.status
	}
	upRejectedAll := out.fitErr != nil && out.examined == 0 // PreFilter rejected
	for _, v := range d.Filter {
		f.FilterTotal++
		kFeasible := v.Plugin == ""
		uFeasible := !upRejectedAll && upFail[string(v.Node)] == nil
		if kFeasible == uFeasible {
			f.FilterEqual++
			continue
		}
		det := ""
		if kFeasible {
			if s := upFail[string(v.Node)]; s != nil {
				det = fmt.Sprintf("upstream %s rejects: %s", s.Plugin(), strings.Join(s.Reasons(), "; "))
			} else {
				det = "upstream PreFilter rejects: " + out.fitErr.Error()
			}
		} else {
			det = fmt.Sprintf("kubesim %s rejects: %s", v.Plugin, strings.Join(v.Reasons, "; "))
		}
		f.Diffs = append(f.Diffs, Diff{Pod: d.Pod, Attempt: d.Attempt, Node: string(v.Node), Plugin: "Filter", Kubesim: b2i(kFeasible), Upstream: b2i(uFeasible), Detail: det, Inputs: inputs(string(v.Node))})
	}
	if len(d.Filter) == 0 && out.fitErr == nil && d.Outcome == "unschedulable" {
		f.FilterTotal++
		f.Diffs = append(f.Diffs, Diff{Pod: d.Pod, Attempt: d.Attempt, Plugin: "Filter", Kubesim: 0, Upstream: 1, Detail: "kubesim PreFilter rejects: " + d.Message})
	}
	// Scores, on the nodes both scored.
	if len(d.Scores) == 0 || len(out.scores) == 0 {
		return
	}
	upIdx := map[string]int{}
	for i, s := range out.scores {
		upIdx[s.name] = i
	}
	upPl := map[string]int{}
	for i, n := range f.u.scoreOrder {
		upPl[n] = i
	}
	kPl := map[string]int{}
	for j, sp := range d.ScorePlugins {
		kPl[sp.Name] = j
	}
	for _, ks := range d.Scores {
		i, ok := upIdx[string(ks.Node)]
		if !ok {
			continue
		}
		us := out.scores[i]
		for j, sp := range d.ScorePlugins {
			uj, ok := upPl[sp.Name]
			var un, ur int64
			if ok && us.present[uj] {
				un, ur = us.norm[uj], us.raw[uj]
			}
			kn, kr := ks.Plugin[j], ks.Raw[j]
			if sp.Skipped {
				kn, kr = 0, 0
			}
			f.ScoreTotal++
			if kn == un {
				f.ScoreEqual++
				continue
			}
			f.Diffs = append(f.Diffs, Diff{Pod: d.Pod, Attempt: d.Attempt, Node: string(ks.Node), Plugin: sp.Name, Kubesim: kn, Upstream: un, KubesimRaw: kr, UpstreamRaw: ur,
				Detail: skipDetail(sp.Skipped, ok && !us.present[uj]), Inputs: inputs(string(ks.Node))})
		}
		// Upstream plug-ins kubesim does not model count when they score.
		for uj, name := range f.u.scoreOrder {
			if _, ok := kPl[name]; ok || !us.present[uj] {
				continue
			}
			f.ScoreTotal++
			if us.norm[uj] == 0 {
				f.ScoreEqual++
				continue
			}
			f.Diffs = append(f.Diffs, Diff{Pod: d.Pod, Attempt: d.Attempt, Node: string(ks.Node), Plugin: name, Upstream: us.norm[uj], UpstreamRaw: us.raw[uj],
				Detail: "plug-in not modelled by kubesim", Inputs: inputs(string(ks.Node))})
		}
	}
	// Selection when the best node is unique in both.
	uBest, uUnique := bestUnique(out.scores)
	if d.Ties == 1 && uUnique {
		f.UniqueBest++
		if string(d.Selected) == uBest {
			f.SameNode++
		} else {
			var kt, ut int64
			for _, s := range d.Scores {
				if s.Node == d.Selected {
					kt = s.Total
				}
			}
			for _, s := range out.scores {
				if s.name == uBest {
					ut = s.total
				}
			}
			f.Diffs = append(f.Diffs, Diff{Pod: d.Pod, Attempt: d.Attempt, Node: string(d.Selected), Plugin: "Selection", Kubesim: kt, Upstream: ut,
				Detail: fmt.Sprintf("kubesim chose %s, upstream %s", d.Selected, uBest)})
		}
	}
}

func skipDetail(kSkipped, uSkipped bool) string {
	switch {
	case kSkipped && !uSkipped:
		return "kubesim's PreScore skipped the plug-in, upstream's did not"
	case !kSkipped && uSkipped:
		return "upstream's PreScore skipped the plug-in, kubesim's did not"
	}
	return ""
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func bestUnique(scores []nodeScore) (string, bool) {
	var best string
	var top int64
	n := 0
	for i, s := range scores {
		switch {
		case i == 0 || s.total > top:
			best, top, n = s.name, s.total, 1
		case s.total == top:
			n++
		}
	}
	return best, n == 1
}

// inputs summarizes what the plug-ins read: the pod's requests and the node's
// allocatable and requested resources, from the upstream snapshot.
func (f *Fidelity) inputs(pod *v1.Pod, node string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pod requests %s", resString(podRequests(pod)))
	if ni, err := f.u.snap.NodeInfos().Get(node); err == nil {
		fmt.Fprintf(&b, "; node allocatable %s, requested %s, %d pods", resString(ni.GetAllocatable()), resString(ni.GetRequested()), len(ni.GetPods()))
	}
	return b.String()
}

func podRequests(p *v1.Pod) v1.ResourceList {
	out := v1.ResourceList{}
	for _, c := range p.Spec.Containers {
		for k, q := range c.Resources.Requests {
			cur := out[k]
			cur.Add(q)
			out[k] = cur
		}
	}
	return out
}

func resString(r any) string {
	switch x := r.(type) {
	case v1.ResourceList:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, string(k))
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			q := x[v1.ResourceName(k)]
			parts[i] = k + "=" + q.String()
		}
		return "{" + strings.Join(parts, " ") + "}"
	case fwk.Resource:
		return fmt.Sprintf("{cpu=%dm memory=%d}", x.GetMilliCPU(), x.GetMemory())
	}
	return fmt.Sprint(r)
}

// missingClaim reports a PreFilter message about a claim absent from the informer.
func missingClaim(msg string) bool {
	return strings.Contains(msg, "persistentvolumeclaim") && strings.Contains(msg, "not found")
}
