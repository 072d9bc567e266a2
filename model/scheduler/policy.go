package scheduler

import (
	"fmt"
	"strconv"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/policies"
	"github.com/kubesim/kubesim/model/scheduler/policies/basic"
	"github.com/kubesim/kubesim/model/scheduler/policies/gpuaware"
)

// Raw policies (issue 3, part 3).
//
// A raw policy (policies.Policy) replaces the filter/score part of the scheduling
// cycle: when the profile enables a policy plug-in (registered with RegisterPolicy;
// PolicyProfile builds such a profile), the cycle hands the pod and every known node
// to the policy and takes the node it names; everything else stays the scheduler's:
// the queue and its QueueSort plug-in, assume, Reserve, PreBind, Bind, the failure
// handling (an empty answer makes the pod Unschedulable, requeued on node additions
// and assigned-pod deletions), the trace and the virtual cost (CycleLatency plus
// PerNodeLatency for every node handed to the policy). Framework Filter and Score
// plug-ins of the same profile are not run.
//
// The scheduler checks the policy's answer with policies.Fits (an error, not a
// placement, if the pod does not fit). For a fractional-GPU pod it picks the GPU
// (the policy's GPUChooser, else policies.DefaultGPUIndex), assumes the pod with the
// annotation kubesim.io/gpu-index set in memory, and the policy plug-in's PreBind
// writes that annotation through a pod Update before the Binding is POSTed (the
// apiserver's Binding carries no annotations in kubesim).

// PolicyFactory builds a policy from its arguments (nil: defaults). It must not keep
// state outside the returned value.
type PolicyFactory func(args any) (policies.Policy, error)

// Built-in policy names.
const (
	PolicyRandom        = basic.Random
	PolicyRoundRobin    = basic.RoundRobin
	PolicyFirstFit      = basic.FirstFit
	PolicyBestFit       = basic.BestFit
	PolicyWorstFit      = basic.WorstFit
	PolicyPowerOfTwo    = basic.PowerOfTwo
	PolicyDotProduct    = basic.DotProduct
	PolicyGPUPacking    = gpuaware.Packing
	PolicyGPUClustering = gpuaware.Clustering
	PolicyFGD           = gpuaware.FGD
)

// GPUShare is the name of the plug-in that gives the default profile per-GPU
// accounting of fractional GPU shares: Filter (policies.GPUFits) and PreBind (writes
// the kubesim.io/gpu-index annotation chosen by best fit).
const GPUShare = "GPUShare"

// PolicyNames lists the built-in policies.
func PolicyNames() []string {
	return append(basic.Names(), gpuaware.Names()...)
}

// RegisterPolicies registers every built-in policy (PolicyNames) in r (the GPUShare
// plug-in is in NewRegistry, since the default profile enables it).
func RegisterPolicies(r *Registry) error {
	for _, name := range basic.Names() {
		n := name
		if err := RegisterPolicy(r, n, func(any) (policies.Policy, error) { return basic.New(n) }); err != nil {
			return err
		}
	}
	for _, name := range gpuaware.Names() {
		n := name
		if err := RegisterPolicy(r, n, func(args any) (policies.Policy, error) { return gpuaware.New(n, args) }); err != nil {
			return err
		}
	}
	return nil
}

// newGPUShare is GPUShare's factory.
func newGPUShare(_ any, h framework.Handle) (framework.Plugin, error) {
	return &gpuShareFilter{gpuSharePlugin{name: GPUShare, h: h}}, nil
}

// RegisterPolicy registers a raw policy as a plug-in named name (the policy's Name
// must equal it).
func RegisterPolicy(r *Registry, name string, f PolicyFactory) error {
	if f == nil {
		return fmt.Errorf("scheduler registry: policy %q has no factory", name)
	}
	return r.Register(name, func(args any, h framework.Handle) (framework.Plugin, error) {
		p, err := f(args)
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, fmt.Errorf("policy %q: factory returned nil", name)
		}
		return &policyPlugin{gpuSharePlugin: gpuSharePlugin{name: p.Name(), h: h}, policy: p}, nil
	})
}

// HandlePolicyFactory builds a policy that needs the scheduler's Handle (its
// apiserver client, its NodeInfos, and, through optional interfaces the Scheduler
// implements, its nominator and informer events). It is called once with a nil
// Handle to validate args (the policy must then start nothing), and once with the
// scheduler's Handle.
type HandlePolicyFactory func(args any, h framework.Handle) (policies.Policy, error)

// RegisterHandlePolicy registers a raw policy whose factory gets the Handle (see
// HandlePolicyFactory); otherwise as RegisterPolicy.
func RegisterHandlePolicy(r *Registry, name string, f HandlePolicyFactory) error {
	if f == nil {
		return fmt.Errorf("scheduler registry: policy %q has no factory", name)
	}
	return r.Register(name, func(args any, h framework.Handle) (framework.Plugin, error) {
		p, err := f(args, h)
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, fmt.Errorf("policy %q: factory returned nil", name)
		}
		return &policyPlugin{gpuSharePlugin: gpuSharePlugin{name: p.Name(), h: h}, policy: p}, nil
	})
}

// PostFilterPolicy is implemented by raw policies that preempt. When Schedule finds
// no node, the cycle asks for the policy's PostFilter outcome (a nomination, and
// the victims the policy deleted through the apiserver), which the scheduler then
// applies as it applies a PostFilter plug-in's (preemption.go applyPostFilter):
// nil means no nomination change.
type PostFilterPolicy interface {
	PostFilterResult() *framework.PostFilterResult
}

// kindHandlers are callbacks registered with AddEventHandlers.
type kindHandlers struct {
	kind api.Kind
	h    apiserver.Handlers
}

// AddEventHandlers registers callbacks on the scheduler's own node, pod or PDB
// informer, called after the scheduler's handlers for every event (initial list
// included), so that a policy keeping its own copy of the cluster sees exactly the
// events, in the order, that built the scheduler's cache: at every scheduling
// cycle both are at the same state. Pods are those the scheduler watches (terminal
// pods leave as deletions). PodDisruptionBudget handlers are called only when the
// scheduler watches budgets (WatchPodDisruptionBudgets). Register before Start (a plug-in factory given a
// non-nil Handle may); other kinds are an error.
func (s *Scheduler) AddEventHandlers(kind api.Kind, h apiserver.Handlers) error {
	if kind != api.KindNode && kind != api.KindPod && kind != api.KindPodDisruptionBudget {
		return fmt.Errorf("scheduler: event handlers are offered for nodes, pods and PodDisruptionBudgets only, not %s", kind)
	}
	if s.started {
		return fmt.Errorf("scheduler: event handlers must be registered before Start")
	}
	s.extraHandlers = append(s.extraHandlers, kindHandlers{kind: kind, h: h})
	return nil
}

func (s *Scheduler) attachExtraHandlers() {
	for _, kh := range s.extraHandlers {
		switch kh.kind {
		case api.KindNode:
			s.nodeInf.AddHandlers(kh.h)
		case api.KindPodDisruptionBudget:
			if s.pdbInf != nil { // PDBs not watched: there are none to see
				s.pdbInf.AddHandlers(kh.h)
			}
		default:
			s.podInf.AddHandlers(kh.h)
		}
	}
}

// PolicyProfile returns the profile that runs the raw policy name: PrioritySort,
// the policy, DefaultBinder.
func PolicyProfile(name string, args any) Profile {
	return Profile{Plugins: []PluginConfig{{Name: PrioritySort}, {Name: name, Args: args}, {Name: DefaultBinder}}}
}

// gpuSharePlugin is the per-GPU accounting plug-in (see GPUShare).
type gpuSharePlugin struct {
	name string
	h    framework.Handle
	sc   policies.GPUScratch
}

func (g *gpuSharePlugin) Name() string { return g.name }

// Filter implements framework.FilterPlugin: a share fits only on one GPU.
func (g *gpuSharePlugin) Filter(_ *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	if policies.WholeGPUs(pod) == 0 && policies.MilliGPU(pod) == 0 {
		return nil
	}
	if st := g.sc.GPUState(ni, ""); st.Fits(pod) { // the plug-in's scratch: no allocation per node
		return nil
	}
	return framework.NewStatus(framework.Unschedulable, "Insufficient GPU share on any single GPU")
}

// gpuShareFilter is GPUShare as a framework plug-in: gpuSharePlugin plus a
// PreFilter that skips its Filter for pods asking for no GPU (so the default
// profile pays one check per cycle, not one per node, for CPU-only pods). Raw
// policies embed gpuSharePlugin without it.
type gpuShareFilter struct{ gpuSharePlugin }

// PreFilter implements framework.PreFilterPlugin.
func (g *gpuShareFilter) PreFilter(_ *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) (*framework.PreFilterResult, *framework.Status) {
	if policies.WholeGPUs(pod) == 0 && policies.MilliGPU(pod) == 0 {
		return nil, framework.NewStatus(framework.Skip)
	}
	return nil, nil
}

var _ framework.PreFilterPlugin = (*gpuShareFilter)(nil)

// EventsToRegister implements framework.EnqueueExtensions.
func (g *gpuSharePlugin) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.AssignedPodResource, ActionType: framework.Delete | framework.UpdatePodScaleDown},
		{Resource: framework.NodeResource, ActionType: framework.Add | framework.UpdateNodeAllocatable | framework.UpdateNodeLabel},
	}
}

// PreBind implements framework.PreBindPlugin: for a fractional-GPU pod it writes
// the GPU index annotation with a pod Update (no precondition) before the Binding.
func (g *gpuSharePlugin) PreBind(_ *framework.CycleState, pod *framework.PodInfo, node api.NodeName, done func(*framework.Status)) *framework.Status {
	if policies.MilliGPU(pod) == 0 || g.h == nil {
		return framework.NewStatus(framework.Skip)
	}
	idx := policies.GPUIndexOf(pod.Pod)
	if idx < 0 {
		ni := g.h.NodeInfo(node)
		if ni == nil {
			return framework.AsStatus(fmt.Errorf("node %q vanished before the GPU share was recorded", node))
		}
		if idx = policies.DefaultGPUIndex(&g.sc, pod, ni); idx < 0 {
			return framework.NewStatus(framework.Unschedulable, "no single GPU has the requested share free")
		}
	}
	p := pod.Pod.DeepCopy()
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[policies.AnnotationGPUIndex] = strconv.Itoa(idx)
	p.ResourceVersion = 0
	g.h.Client().Update(p, func(_ api.Object, err error) {
		if err != nil {
			done(framework.AsStatus(fmt.Errorf("recording the GPU index: %w", err)))
			return
		}
		done(nil)
	})
	return nil
}

// policyPlugin wraps a raw policy as a plug-in: the cycle hook finds it and calls
// the policy; it inherits GPUShare's PreBind (and Filter, unused by the hook).
type policyPlugin struct {
	gpuSharePlugin
	policy policies.Policy
	ctx    policies.Context
}

// runPolicy is the cycle's hook: when the profile enables a raw policy, it runs the
// policy for the cycle's pod instead of filter and score, fills the cycle's result
// and returns true. Otherwise it returns false.
func (s *Scheduler) runPolicy(c *cycle) bool {
	var pp *policyPlugin
	for _, pl := range s.rt.plugins {
		if x, ok := pl.(*policyPlugin); ok {
			pp = x
			break
		}
	}
	if pp == nil {
		return false
	}
	s.state = framework.NewCycleState()
	r := &c.res
	nodes := s.cache.nodeList()
	r.numAll, r.examined, r.toFind = len(nodes), len(nodes), 1
	if pp.ctx.Rand == nil {
		stream := "scheduler/policy/" + pp.name
		if s.rt.index > 0 { // a policy in a further profile draws from its own stream
			stream += "/" + s.rt.name
		}
		pp.ctx.Rand = s.eng.Stream(stream)
	}
	pp.ctx.Now = s.eng.Now()
	var bit uint64
	for i, pl := range s.rt.plugins {
		if pl == framework.Plugin(pp) {
			bit = uint64(1) << uint(i)
		}
	}
	if len(nodes) == 0 {
		r.rejected, r.rejectors, r.message = true, bit, errNoNodesAvailable
		return true
	}
	node, reason := pp.policy.Schedule(&pp.ctx, c.pod, nodes)
	if node == "" {
		if f, ok := pp.policy.(policies.Failer); ok {
			if err := f.Err(); err != nil {
				r.err = fmt.Errorf("policy %q: %w", pp.name, err)
				return true
			}
		}
		r.rejected, r.rejectors, r.message = true, bit, reason
		if pf, ok := pp.policy.(PostFilterPolicy); ok {
			r.post.res = pf.PostFilterResult()
		}
		s.trace(storyStep, "policy", api.Ref(c.pod.Pod), fmt.Sprintf("policy %s found no node: %s", pp.name, reason))
		return true
	}
	ni := s.NodeInfo(node)
	if ni == nil || !policies.Fits(c.pod, ni) {
		r.err = fmt.Errorf("policy %q chose node %q, which is unknown or where the pod does not fit", pp.name, node)
		return true
	}
	if policies.MilliGPU(c.pod) > 0 {
		idx := -1
		if gc, ok := pp.policy.(policies.GPUChooser); ok {
			idx = gc.ChooseGPU(&pp.ctx, c.pod, ni)
		}
		st := pp.sc.GPUState(ni, c.pod.Pod.UID)
		if idx < 0 || idx >= len(st.Used) || st.Free(idx) < policies.MilliGPU(c.pod) {
			idx = st.BestFit(policies.MilliGPU(c.pod))
		}
		np := policies.WithGPUIndex(c.pod, idx)
		c.pod, c.info.PodInfo = np, np
		reason += fmt.Sprintf("; GPU %d shared", idx)
	}
	r.selected, r.ties, r.feasible = node, 1, 1
	s.trace(storyStep, "policy", api.Ref(c.pod.Pod), fmt.Sprintf("policy %s chose %s among %d nodes: %s", pp.name, node, len(nodes), reason))
	return true
}
