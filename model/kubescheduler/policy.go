//go:build kubescheduler

package kubescheduler

import (
	"context"
	"fmt"
	"runtime"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/scheduler"
	kfw "github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/policies"
)

// Args are the policy's arguments: a decoded KubeSchedulerConfiguration (nil:
// kube-scheduler's defaults). Build with DecodeConfig.
type Args struct {
	Config *config.KubeSchedulerConfiguration
	// Source names where the configuration came from (a file), for messages.
	Source string
}

// eventHandlerAdder is implemented by kubesim's Scheduler (scheduler.AddEventHandlers).
type eventHandlerAdder interface {
	AddEventHandlers(kind api.Kind, h apiserver.Handlers) error
}

// Register registers the policy (PolicyName) and the fidelity oracle plug-in
// (OracleName) in a kubesim scheduler registry.
func Register(r *scheduler.Registry) error {
	if err := scheduler.RegisterHandlePolicy(r, PolicyName, newPolicy); err != nil {
		return err
	}
	return registerOracle(r)
}

// Profile returns the kubesim profile that runs the policy with args (nil: the
// default profile).
func Profile(args *Args) scheduler.Profile {
	if args == nil {
		return scheduler.PolicyProfile(PolicyName, nil)
	}
	return scheduler.PolicyProfile(PolicyName, args)
}

// Configure sets a kubesim scheduler configuration to run the policy with args:
// the profile, and from a user's configuration its schedulerName and the queue's
// backoffs (kubesim's queue applies them in virtual time).
func Configure(cfg *scheduler.Config, args *Args) {
	cfg.Profile = Profile(args)
	if args == nil || args.Config == nil {
		return
	}
	c := args.Config
	if n := c.Profiles[0].SchedulerName; n != "" {
		cfg.SchedulerName = n
	}
	cfg.PodInitialBackoff = secs(c.PodInitialBackoffSeconds)
	cfg.PodMaxBackoff = secs(c.PodMaxBackoffSeconds)
}

// Policy is the kube-scheduler policy: kubesim's scheduler hands it each pod; it
// decides with the real framework on its mirrored cache.
type Policy struct {
	h    kfw.Handle
	args *Args
	u    *upstream
	m    *mirror
	// nextStart is kube-scheduler's rotating filter start index.
	nextStart int
	post      *kfw.PostFilterResult
	err       error
}

var (
	_ policies.Policy            = (*Policy)(nil)
	_ policies.Failer            = (*Policy)(nil)
	_ scheduler.PostFilterPolicy = (*Policy)(nil)
)

func argsOf(a any) (*Args, error) {
	switch x := a.(type) {
	case nil:
		return nil, nil
	case *Args:
		return x, nil
	}
	return nil, fmt.Errorf("%s: arguments must be *kubescheduler.Args, got %T", PolicyName, a)
}

func newPolicy(a any, h kfw.Handle) (policies.Policy, error) {
	args, err := argsOf(a)
	if err != nil {
		return nil, err
	}
	var cfg *config.KubeSchedulerConfiguration
	if args != nil {
		cfg = args.Config
	}
	if h == nil { // validation only: start nothing
		if cfg != nil {
			if err := Refuse(cfg); err != nil {
				return nil, err
			}
		}
		return &Policy{args: args}, nil
	}
	p := &Policy{h: h, args: args}
	nom := &nominator{}
	nom.ph, _ = h.(kfw.PreemptionHandle)
	if p.u, err = newUpstream(cfg, nom); err != nil {
		return nil, err
	}
	p.m = newMirror(p.u)
	nom.m = p.m
	p.u.extra = p.gpuShareFits
	if err := attach(h, p.m); err != nil {
		p.u.close()
		return nil, err
	}
	// The framework's background goroutines (metrics flush, cache clean-up, DRA
	// tracker) stop when the policy, that is its run, becomes unreachable.
	runtime.AddCleanup(p, func(cancel context.CancelFunc) { cancel() }, p.u.cancel)
	return p, nil
}

// attach feeds the mirror from the scheduler's node and pod informers and the
// policy's own informers for the other kinds.
func attach(h kfw.Handle, m *mirror) error {
	ea, ok := h.(eventHandlerAdder)
	if !ok {
		return fmt.Errorf("%s: the scheduler does not offer its informer events (AddEventHandlers)", PolicyName)
	}
	if err := ea.AddEventHandlers(api.KindNode, m.nodeHandlers()); err != nil {
		return err
	}
	if err := ea.AddEventHandlers(api.KindPod, m.podHandlers()); err != nil {
		return err
	}
	if err := ea.AddEventHandlers(api.KindPodDisruptionBudget, m.pdbHandlers()); err != nil {
		return err
	}
	m.watchOthers(h.Client())
	return nil
}

// Name implements policies.Policy.
func (p *Policy) Name() string { return PolicyName }

// Err implements policies.Failer: the error of the last Schedule call.
func (p *Policy) Err() error { return p.err }

// PostFilterResult implements scheduler.PostFilterPolicy: the outcome of the last
// Schedule call's PostFilter (nil: none ran).
func (p *Policy) PostFilterResult() *kfw.PostFilterResult { return p.post }

// gpuShareFits is the one check the policy adds to upstream's filters: a share of
// one GPU (kubesim.io/gpu-milli, a kubesim extension for the Alibaba GPU traces)
// must fit on a single GPU of the node, as kubesim's GPUShare filter requires
// (upstream only sums the share against the node's gpu-milli allocatable).
func (p *Policy) gpuShareFits(pod *v1.Pod, node string) *fwk.Status {
	q, ok := pod.Spec.Containers[0].Resources.Requests[v1.ResourceName(api.ResourceGPUMilli)]
	if !ok || q.IsZero() {
		return nil
	}
	kp := p.m.kpods[types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}]
	ni := p.h.NodeInfo(api.NodeName(node))
	if kp == nil || ni == nil {
		return nil
	}
	if policies.GPUFits(kfw.NewPodInfo(kp), ni) {
		return nil
	}
	return fwk.NewStatus(fwk.Unschedulable, "Insufficient GPU share on any single GPU")
}

// Schedule implements policies.Policy.
func (p *Policy) Schedule(ctx *policies.Context, pod *kfw.PodInfo, _ []*kfw.NodeInfo) (api.NodeName, string) {
	p.err, p.post = nil, nil
	if p.m == nil {
		p.err = fmt.Errorf("%s: not started (built without a scheduler handle)", PolicyName)
		return "", p.err.Error()
	}
	if p.m.err != nil {
		p.err = p.m.err
		return "", p.err.Error()
	}
	v := p.m.podOf(pod.Pod)
	p.m.forget(pod.Pod.UID) // a retry after a failed binding
	out := p.u.runCycle(v, &p.nextStart, false, ctx.Rand)
	switch {
	case out.err == errNoNodes:
		p.post = &kfw.PostFilterResult{Nominate: true}
		return "", string(errNoNodes)
	case out.err != nil:
		p.err = fmt.Errorf("kube-scheduler %s: %w", Version, out.err)
		return "", p.err.Error()
	case out.fitErr != nil:
		p.postFilter(ctx, v, out)
		return "", out.fitErr.Error()
	}
	p.m.assume(v, out.selected)
	if p.m.err != nil {
		p.err = p.m.err
		return "", p.err.Error()
	}
	var reason string
	switch {
	case out.fastPath:
		reason = fmt.Sprintf("kube-scheduler %s: nominated node %s passes every filter", Version, out.selected)
	case len(out.scores) == 0:
		reason = fmt.Sprintf("kube-scheduler %s: the only feasible node of %d examined", Version, out.examined)
	default:
		var top int64
		for _, s := range out.scores {
			if s.name == out.selected {
				top = s.total
			}
		}
		reason = fmt.Sprintf("kube-scheduler %s: highest total %d of %d feasible nodes (%d examined, %d tied)", Version, top, len(out.feasible), out.examined, out.ties)
	}
	return api.NodeName(out.selected), reason
}

// postFilter runs the PostFilter plug-ins (DefaultPreemption) after a FitError,
// synchronously: the victims DefaultPreemption deletes through the fake clientset
// are deleted through kubesim's apiserver at once (graceful deletion, UID
// precondition), and the nomination is handed to kubesim's scheduler.
func (p *Policy) postFilter(ctx *policies.Context, pod *v1.Pod, out *cycleOut) {
	if !p.u.fw.HasPostFilterPlugins() {
		p.post = &kfw.PostFilterResult{Nominate: true} // clearNominatedNode
		return
	}
	seedPreemption(int64(ctx.Rand.Uint64()))
	p.u.deleted = p.u.deleted[:0]
	res, st := p.u.fw.RunPostFilterPlugins(p.u.ctx, out.state, pod, out.fitErr.Diagnosis.NodeToStatus)
	out.fitErr.Diagnosis.PostFilterMsg = st.Message()
	post := &kfw.PostFilterResult{}
	if res != nil && res.NominatingInfo != nil && res.Mode() == fwk.ModeOverride {
		post.Nominate, post.NominatedNodeName = true, api.NodeName(res.NominatedNodeName)
	}
	for _, nn := range p.u.deleted {
		kp := p.m.kpods[nn]
		if kp == nil {
			continue
		}
		post.Victims = append(post.Victims, kp)
		p.h.Client().Delete(api.KindPod, kp.Namespace, kp.Name, apiserver.DeleteOptions{UID: kp.UID}, nil)
	}
	if post.Nominate || len(post.Victims) > 0 {
		p.post = post
	}
}

// nominator is the upstream PodNominator over kubesim's nominations (the
// scheduler's PreemptionHandle): the framework's filters count the pods
// nominated to a node, as kube-scheduler's queue-backed nominator does. Adds and
// deletes are kubesim's scheduler's job (applyPostFilter).
type nominator struct {
	ph kfw.PreemptionHandle // nil: no nominations
	m  *mirror
}

func (n *nominator) AddNominatedPod(klog.Logger, fwk.PodInfo, *fwk.NominatingInfo) {}
func (n *nominator) DeleteNominatedPodIfExists(*v1.Pod)                            {}
func (n *nominator) UpdateNominatedPod(klog.Logger, *v1.Pod, fwk.PodInfo)          {}

func (n *nominator) NominatedPodsForNode(node string) []fwk.PodInfo {
	if n.ph == nil || n.m == nil {
		return nil
	}
	list := n.ph.NominatedPodsForNode(api.NodeName(node))
	if len(list) == 0 {
		return nil
	}
	out := make([]fwk.PodInfo, 0, len(list))
	for _, pi := range list {
		v := n.m.podOf(pi.Pod)
		if v.Status.NominatedNodeName != node {
			v = v.DeepCopy()
			v.Status.NominatedNodeName = node
		}
		info, err := newPodInfo(v)
		if err != nil {
			continue
		}
		out = append(out, info)
	}
	return out
}
