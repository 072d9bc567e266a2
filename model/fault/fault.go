// Package fault is kubesim's failure model: failures are named kinds held in an
// explicit Registry (built-in kinds plus the users' own, registered in Go), injected
// by an Injector at a time, periodically or as a seeded random process, against
// targets chosen by node name, label selector, zone, pod selector, image, or a random
// k of the matching ones.
//
// Kinds act on the cluster only through the Cluster interface, which the model's
// composition root (model/cluster) implements with the real components: a fault is
// not a special code path, it does to etcd, the apiserver, a kubelet or a container
// runtime what the real failure does, and the components react as Kubernetes does
// (the node lifecycle controller notices a silent node after its grace period, the
// kubelet restarts a crashed container with its back-off, informers relist after an
// outage...).
//
// Every injection and repair is a trace record (component "fault", actions "inject",
// "repair" and "skip", step 0) whose detail says what a user should expect, and the
// number of active faults is the gauge "faults_active".
package fault

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

// Names of the built-in kinds.
const (
	NodeCrash        = "node-crash"
	NodePartition    = "node-partition"
	KubeletStop      = "kubelet-stop"
	ContainerCrash   = "container-crash"
	OOMKill          = "oom-kill"
	ImagePullFailure = "image-pull-failure"
	BadVersion       = "bad-version"
	EtcdMemberLoss   = "etcd-member-loss"
	EtcdLeaderLoss   = "etcd-leader-loss"
	APIServerOutage  = "apiserver-outage"
	ZoneOutage       = "zone-outage"
	SlowEtcdDisk     = "slow-etcd-disk"
)

// TargetType is what a kind acts on.
type TargetType uint8

// Target types.
const (
	// TargetNone: the control plane as a whole (etcd, the apiserver).
	TargetNone TargetType = iota
	// TargetNode: nodes chosen by TargetSpec.Nodes, Labels, Zone and RandomK.
	TargetNode
	// TargetPod: running pods chosen by TargetSpec.Namespace, Pods and RandomK.
	TargetPod
	// TargetImage: an image (TargetSpec.Image) on every node.
	TargetImage
)

func (t TargetType) String() string {
	switch t {
	case TargetNode:
		return "node"
	case TargetPod:
		return "pod"
	case TargetImage:
		return "image"
	}
	return "control plane"
}

// Target is one resolved target of an injection.
type Target struct {
	Node           string // TargetNode
	Namespace, Pod string // TargetPod
	Container      string // TargetPod: "" means every container of the pod
	Image          string // TargetImage
}

// String names the target for trace records ("node/node-2", "pod/default/web-x").
func (t Target) String() string {
	switch {
	case t.Node != "":
		return "node/" + t.Node
	case t.Pod != "":
		return "pod/" + t.Namespace + "/" + t.Pod
	case t.Image != "":
		return "image/" + t.Image
	}
	return "control-plane"
}

// NodeInfo describes a node for target selection.
type NodeInfo struct {
	Name   string
	Zone   string
	Labels map[string]string
}

// PodInfo describes a running pod for target selection.
type PodInfo struct {
	Namespace, Name, Node string
}

// Cluster is what faults act on. model/cluster implements it with the cluster's
// components. Methods return an error when the action makes no sense now (crashing a
// node that is already down, an unknown node...); the injector records it as a skip.
type Cluster interface {
	// Nodes returns every node, sorted by name.
	Nodes() []NodeInfo
	// Pods returns the pods bound to a node and not finished that match namespace
	// ("" = all) and the label selector (nil or empty = all), sorted by namespace
	// and name.
	Pods(namespace string, selector map[string]string) []PodInfo

	// CrashNode: the node and its containers are gone (kubelet stopped, containers
	// dead, pod addresses not listening) until RepairNode boots it again with a
	// fresh kubelet and runtime.
	CrashNode(node string) error
	RepairNode(node string) error
	// PartitionNode cuts the node's kubelet and kube-proxy from the apiserver; its
	// pods keep running and serving. HealNode ends it.
	PartitionNode(node string) error
	HealNode(node string) error
	// StopKubelet stops the node's kubelet process; RestartKubelet starts a new one.
	StopKubelet(node string) error
	RestartKubelet(node string) error
	// CrashContainer kills the running containers of a pod (one container by name,
	// or all for "") with exitCode; OOMKillContainer kills them as the OOM killer
	// does. They return how many were killed.
	CrashContainer(namespace, pod, container string, exitCode int) (int, error)
	OOMKillContainer(namespace, pod, container string) (int, error)
	// SetPullsFail makes pulls of image fail on every node (true) or work again.
	SetPullsFail(image string, fail bool) error
	// SetNeverReady marks image as a bad version whose containers never become
	// ready, on every node, or clears the mark.
	SetNeverReady(image string, bad bool) error

	// EtcdFollowers returns the running etcd members that do not lead, sorted.
	EtcdFollowers() []int
	// EtcdLoseMember stops a member; EtcdLoseLeader stops the leader. They return
	// when writes resume (the end of the election a leader loss starts).
	EtcdLoseMember(member int) (resume sim.Time, err error)
	EtcdLoseLeader() (member int, resume sim.Time, err error)
	// EtcdRestoreMember restarts a member.
	EtcdRestoreMember(member int) (resume sim.Time, err error)
	// EtcdQuorum reports whether etcd has a quorum now.
	EtcdQuorum() bool
	// EtcdSetFsyncFactor scales every member's fsync latency (1 = normal).
	EtcdSetFsyncFactor(factor float64) error
	// SetAPIServerAvailable takes the apiserver down or brings it back.
	SetAPIServerAvailable(up bool) error
}

// Context is what a kind's Inject gets.
type Context struct {
	Eng     *sim.Engine
	Cluster Cluster
	Spec    *Spec
	// Rand is the fault's own seeded stream ("fault/<name>/kind"), for kinds that
	// draw.
	Rand *rand.Rand
}

// Effect is the outcome of one injection on one target.
type Effect struct {
	// Expect tells the user what happens now and what to expect next (trace detail).
	Expect string
	// Repair undoes the fault; nil when there is nothing to repair (a container
	// crash: the kubelet restarts the container itself). It returns the repair
	// record's detail.
	Repair func() (string, error)
}

// Kind is one failure mechanism.
type Kind interface {
	// Name is the kind's name in scenarios.
	Name() string
	// Target is what the kind acts on.
	Target() TargetType
	// Check validates the kind-specific parts of a spec (its Params); nil is fine.
	Check(s *Spec) error
	// Inject applies the fault to one target now.
	Inject(ctx *Context, t Target) (Effect, error)
}

// Func is a Kind made of functions: the simplest way for users to add their own.
type Func struct {
	KindName string
	On       TargetType
	// Validate checks Params (nil accepts any).
	Validate func(s *Spec) error
	Do       func(ctx *Context, t Target) (Effect, error)
}

var _ Kind = (*Func)(nil)

// Name implements Kind.
func (f *Func) Name() string { return f.KindName }

// Target implements Kind.
func (f *Func) Target() TargetType { return f.On }

// Check implements Kind.
func (f *Func) Check(s *Spec) error {
	if f.Validate == nil {
		return nil
	}
	return f.Validate(s)
}

// Inject implements Kind.
func (f *Func) Inject(ctx *Context, t Target) (Effect, error) { return f.Do(ctx, t) }

// Registry maps kind names to kinds. NewRegistry holds the built-in kinds; no
// package-level state is involved.
type Registry struct{ kinds map[string]Kind }

// NewRegistry returns a registry with the built-in kinds.
func NewRegistry() *Registry {
	r := &Registry{kinds: map[string]Kind{}}
	for _, k := range builtins() {
		if err := r.Register(k); err != nil {
			panic(err) // the built-ins have distinct names
		}
	}
	return r
}

// Register adds a kind. Names must be non-empty and unique.
func (r *Registry) Register(k Kind) error {
	n := k.Name()
	if n == "" {
		return fmt.Errorf("fault: a kind needs a name")
	}
	if _, ok := r.kinds[n]; ok {
		return fmt.Errorf("fault: kind %q is already registered", n)
	}
	r.kinds[n] = k
	return nil
}

// Names returns the registered kind names, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Lookup returns the kind of that name, or an error listing the known ones.
func (r *Registry) Lookup(name string) (Kind, error) {
	k, ok := r.kinds[name]
	if !ok {
		return nil, fmt.Errorf("unknown fault kind %q (known: %s)", name, strings.Join(r.Names(), ", "))
	}
	return k, nil
}

// Spec is one fault of a scenario: what fails, when, for how long, where.
//
// Timing, one of:
//   - once: At (Every 0, MTBF unset);
//   - periodically: At, At+Every, At+2·Every... Count times (0: until the run ends);
//   - a random process: the first failure MTBF after At, each next one MTBF after
//     the previous repair (or injection, when never repaired), Count times (0:
//     unbounded); durations drawn from the seeded source "fault/<name>".
//
// Each injection is repaired after MTTR (a draw from "fault/<name>/repair") when
// set, else after Duration; 0 means never.
type Spec struct {
	Name     string
	Kind     string
	At       time.Duration
	Every    time.Duration
	Count    int
	Duration time.Duration
	MTBF     dist.Spec
	MTTR     dist.Spec
	Target   TargetSpec
	// Params are kind-specific settings ("exitCode" of container-crash, "factor" of
	// slow-etcd-disk, "members" of etcd-member-loss).
	Params map[string]string
}

// TargetSpec chooses targets at each injection.
type TargetSpec struct {
	// Nodes by name; Labels: nodes whose labels include these; Zone: nodes of the
	// zone (label topology.kubernetes.io/zone). Conditions combine (AND).
	Nodes  []string
	Labels map[string]string
	Zone   string
	// Namespace and Pods (a label selector; empty = every pod) choose pods for pod
	// kinds; Container names one container of the pod ("" = all).
	Namespace string
	Pods      map[string]string
	Container string
	// Image for image kinds.
	Image string
	// RandomK, when > 0, picks k of the matching nodes or pods uniformly at random
	// (seeded stream "fault/<name>/targets"), at each injection.
	RandomK int
}

// Validate checks the spec against the registry; messages name the field.
func (s *Spec) Validate(reg *Registry, dreg *dist.Registry) error {
	if s.Name == "" {
		return fmt.Errorf("name: required")
	}
	k, err := reg.Lookup(s.Kind)
	if err != nil {
		return fmt.Errorf("kind: %w", err)
	}
	switch {
	case s.At < 0:
		return fmt.Errorf("at: must not be negative")
	case s.Every < 0:
		return fmt.Errorf("every: must not be negative")
	case s.Count < 0:
		return fmt.Errorf("count: must not be negative")
	case s.Duration < 0:
		return fmt.Errorf("duration: must not be negative")
	case s.Target.RandomK < 0:
		return fmt.Errorf("target.randomK: must not be negative")
	}
	random := s.MTBF.Kind != ""
	if random {
		if s.Every > 0 {
			return fmt.Errorf("every: a fault is periodic or random (mtbf), not both")
		}
		if err := dreg.Validate(s.MTBF); err != nil {
			return fmt.Errorf("mtbf: %w", err)
		}
	}
	if s.MTTR.Kind != "" {
		if !random {
			return fmt.Errorf("mttr: needs mtbf (a random fault)")
		}
		if err := dreg.Validate(s.MTTR); err != nil {
			return fmt.Errorf("mttr: %w", err)
		}
	}
	if s.Every > 0 && s.Duration >= s.Every && k.Target() != TargetPod {
		return fmt.Errorf("duration: %v must be shorter than every (%v), or the fault would be injected again before its repair", s.Duration, s.Every)
	}
	t := &s.Target
	switch k.Target() {
	case TargetNode:
		if len(t.Nodes) == 0 && len(t.Labels) == 0 && t.Zone == "" && t.RandomK == 0 {
			return fmt.Errorf("target: kind %s needs nodes, labels, zone or randomK", s.Kind)
		}
	case TargetPod:
		if t.Pods == nil && t.Namespace == "" && t.RandomK == 0 {
			return fmt.Errorf("target: kind %s needs pods (a label selector), namespace or randomK", s.Kind)
		}
	case TargetImage:
		if t.Image == "" {
			return fmt.Errorf("target.image: kind %s needs an image", s.Kind)
		}
	}
	if err := k.Check(s); err != nil {
		return fmt.Errorf("params: %w", err)
	}
	return nil
}
