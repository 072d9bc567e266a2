// Package api holds kubesim's compact model of the Kubernetes objects the flow needs.
//
// The shapes follow k8s.io/api (field names are kept where they exist upstream) but
// values are plain Go: quantities are int64 (milli-CPU, bytes), times are sim.Time.
// Objects stored in the apiserver are immutable snapshots: a component that wants to
// change one must DeepCopy it first and send the copy in an update, exactly as
// client-go requires of informer caches.
package api

import (
	"time"

	"github.com/kubesim/kubesim/sim"
)

// Typed names.
type (
	// NodeName names a Node.
	NodeName string
	// UID is an object's unique id, assigned by the apiserver on create.
	UID string
)

// Kind is the type of an API object.
type Kind uint8

// The kinds kubesim stores.
const (
	KindUnknown Kind = iota
	KindNode
	KindLease
	KindPod
	KindDeployment
	KindReplicaSet
	KindService
	KindEndpointSlice
	KindHorizontalPodAutoscaler
	KindStorageClass
	KindPersistentVolume
	KindPersistentVolumeClaim
	KindStatefulSet
	KindPodMetrics
	KindPriorityClass
	KindJob
	KindPodDisruptionBudget
	numKinds
)

// NumKinds is the number of kinds, for arrays indexed by Kind.
const NumKinds = int(numKinds)

var kindNames = [...]string{"Unknown", "Node", "Lease", "Pod", "Deployment", "ReplicaSet", "Service", "EndpointSlice",
	"HorizontalPodAutoscaler", "StorageClass", "PersistentVolume", "PersistentVolumeClaim", "StatefulSet", "PodMetrics",
	"PriorityClass", "Job", "PodDisruptionBudget"}

// resource names as in the REST paths and etcd keys (/registry/<resource>/...).
var kindResources = [...]string{"unknown", "minions", "leases", "pods", "deployments", "replicasets", "services/specs", "endpointslices",
	"horizontalpodautoscalers", "storageclasses", "persistentvolumes", "persistentvolumeclaims", "statefulsets", "podmetrics",
	"priorityclasses", "jobs", "poddisruptionbudgets"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(?)"
}

// Resource returns the etcd key segment Kubernetes uses for the kind (Nodes are
// stored under "minions", Services under "services/specs", as upstream does).
func (k Kind) Resource() string {
	if int(k) < len(kindResources) {
		return kindResources[k]
	}
	return "unknown"
}

// Namespaced reports whether objects of the kind live in a namespace.
func (k Kind) Namespaced() bool {
	return k != KindNode && k != KindStorageClass && k != KindPersistentVolume && k != KindPriorityClass
}

// Well-known label keys and namespaces.
const (
	LabelHostname        = "kubernetes.io/hostname"
	LabelZone            = "topology.kubernetes.io/zone"
	LabelRegion          = "topology.kubernetes.io/region"
	LabelServiceName     = "kubernetes.io/service-name"
	LabelPodTemplateHash = "pod-template-hash"
	NamespaceDefault     = "default"
	NamespaceNodeLease   = "kube-node-lease"
	DefaultSchedulerName = "default-scheduler"
	// AnnotationRevision is the Deployment revision annotation on ReplicaSets.
	AnnotationRevision = "deployment.kubernetes.io/revision"
)

// OwnerReference points from a dependent to its controller.
type OwnerReference struct {
	Kind       Kind
	Name       string
	UID        UID
	Controller bool
}

// ObjectMeta is the metadata every object has.
type ObjectMeta struct {
	Name              string
	Namespace         string
	UID               UID
	Labels            map[string]string
	Annotations       map[string]string
	OwnerReferences   []OwnerReference
	ResourceVersion   int64 // the etcd mod revision of this snapshot
	Generation        int64 // bumped by the apiserver when the spec changes
	CreationTimestamp sim.Time
	DeletionTimestamp *sim.Time
}

// Meta returns the metadata itself, so every object type gets GetMeta by embedding.
func (m *ObjectMeta) Meta() *ObjectMeta { return m }

// ControllerRef returns the owner reference marked Controller, or nil.
func (m *ObjectMeta) ControllerRef() *OwnerReference {
	for i := range m.OwnerReferences {
		if m.OwnerReferences[i].Controller {
			return &m.OwnerReferences[i]
		}
	}
	return nil
}

func (m *ObjectMeta) deepCopyInto(out *ObjectMeta) {
	*out = *m
	out.Labels = copyMap(m.Labels)
	out.Annotations = copyMap(m.Annotations)
	if m.OwnerReferences != nil {
		out.OwnerReferences = append([]OwnerReference(nil), m.OwnerReferences...)
	}
	if m.DeletionTimestamp != nil {
		t := *m.DeletionTimestamp
		out.DeletionTimestamp = &t
	}
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Object is any stored API object.
type Object interface {
	Meta() *ObjectMeta
	Kind() Kind
	// DeepCopyObject returns an independent copy the caller may modify.
	DeepCopyObject() Object
}

// Ref returns "kind/namespace/name" (or "kind/name" for cluster-scoped kinds), the
// form trace records use for objects.
func Ref(o Object) string {
	m := o.Meta()
	return RefOf(o.Kind(), m.Namespace, m.Name)
}

// RefOf formats a reference from its parts.
func RefOf(k Kind, ns, name string) string {
	if ns == "" {
		return lower(k.String()) + "/" + name
	}
	return lower(k.String()) + "/" + ns + "/" + name
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Key returns the etcd key of an object: /registry/<resource>/<namespace>/<name>,
// or /registry/<resource>/<name> for cluster-scoped kinds, as kube-apiserver does.
func Key(k Kind, ns, name string) string {
	if !k.Namespaced() || ns == "" {
		return "/registry/" + k.Resource() + "/" + name
	}
	return "/registry/" + k.Resource() + "/" + ns + "/" + name
}

// KindPrefix returns the etcd key prefix of every object of a kind.
func KindPrefix(k Kind) string { return "/registry/" + k.Resource() + "/" }

// ---------------------------------------------------------------------------
// Resources

// ResourceName names an extended resource (for example "nvidia.com/gpu").
type ResourceName string

// Resources is a compact resource list: CPU in millicores, memory and ephemeral
// storage in bytes, a pod count, and extended resources in their own units.
type Resources struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	Pods             int64
	Scalar           map[ResourceName]int64
}

// Add adds r2 to r (pods included).
func (r *Resources) Add(r2 *Resources) {
	r.MilliCPU += r2.MilliCPU
	r.Memory += r2.Memory
	r.EphemeralStorage += r2.EphemeralStorage
	r.Pods += r2.Pods
	for k, v := range r2.Scalar {
		if r.Scalar == nil {
			r.Scalar = make(map[ResourceName]int64, len(r2.Scalar))
		}
		r.Scalar[k] += v
	}
}

// Sub subtracts r2 from r.
func (r *Resources) Sub(r2 *Resources) {
	r.MilliCPU -= r2.MilliCPU
	r.Memory -= r2.Memory
	r.EphemeralStorage -= r2.EphemeralStorage
	r.Pods -= r2.Pods
	for k, v := range r2.Scalar {
		if r.Scalar == nil {
			r.Scalar = make(map[ResourceName]int64, len(r2.Scalar))
		}
		r.Scalar[k] -= v
	}
}

// Clone returns an independent copy.
func (r Resources) Clone() Resources {
	out := r
	if r.Scalar != nil {
		out.Scalar = make(map[ResourceName]int64, len(r.Scalar))
		for k, v := range r.Scalar {
			out.Scalar[k] = v
		}
	}
	return out
}

// IsZero reports whether every quantity is zero.
func (r *Resources) IsZero() bool {
	if r.MilliCPU != 0 || r.Memory != 0 || r.EphemeralStorage != 0 || r.Pods != 0 {
		return false
	}
	for _, v := range r.Scalar {
		if v != 0 {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// Selectors

// SelectorOperator is a label or node selector operator.
type SelectorOperator string

// Operators, as upstream spells them.
const (
	OpIn           SelectorOperator = "In"
	OpNotIn        SelectorOperator = "NotIn"
	OpExists       SelectorOperator = "Exists"
	OpDoesNotExist SelectorOperator = "DoesNotExist"
	OpGt           SelectorOperator = "Gt"
	OpLt           SelectorOperator = "Lt"
)

// Requirement is one selector expression.
type Requirement struct {
	Key      string
	Operator SelectorOperator
	Values   []string
}

// LabelSelector selects objects by labels. A nil selector matches nothing (as for
// Deployments upstream); an empty one matches everything.
type LabelSelector struct {
	MatchLabels      map[string]string
	MatchExpressions []Requirement
}

// Toleration and Taint

// TaintEffect is a taint's effect.
type TaintEffect string

// Taint effects.
const (
	TaintNoSchedule       TaintEffect = "NoSchedule"
	TaintPreferNoSchedule TaintEffect = "PreferNoSchedule"
	TaintNoExecute        TaintEffect = "NoExecute"
)

// Taint repels pods that do not tolerate it.
type Taint struct {
	Key       string
	Value     string
	Effect    TaintEffect
	TimeAdded sim.Time
}

// TolerationOperator is Equal (the default) or Exists.
type TolerationOperator string

// Toleration operators.
const (
	TolerationOpEqual  TolerationOperator = "Equal"
	TolerationOpExists TolerationOperator = "Exists"
)

// Toleration lets a pod tolerate matching taints.
type Toleration struct {
	Key               string
	Operator          TolerationOperator
	Value             string
	Effect            TaintEffect // empty matches every effect
	TolerationSeconds *int64
}

// ToleratesTaint reports whether t tolerates taint, with upstream's rules
// (k8s.io/api/core/v1 toleration.go ToleratesTaint): the effect must match unless
// the toleration's is empty; an empty key with Exists matches every taint; Exists
// ignores the value; Equal (or empty operator) compares values.
func (t *Toleration) ToleratesTaint(taint *Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case TolerationOpExists:
		return true
	case "", TolerationOpEqual:
		return t.Value == taint.Value
	}
	return false
}

// NodeSelectorTerm is an AND of requirements on node labels and fields.
type NodeSelectorTerm struct {
	MatchExpressions []Requirement
	MatchFields      []Requirement // only metadata.name is supported, as upstream
}

// PreferredSchedulingTerm is a weighted node preference.
type PreferredSchedulingTerm struct {
	Weight     int32
	Preference NodeSelectorTerm
}

// NodeAffinity is a pod's node affinity. Required terms are ORed.
type NodeAffinity struct {
	Required  []NodeSelectorTerm // requiredDuringSchedulingIgnoredDuringExecution; nil = none
	Preferred []PreferredSchedulingTerm
}

// PodAffinityTerm selects pods (by labels, in namespaces) co-located by a topology key.
type PodAffinityTerm struct {
	LabelSelector *LabelSelector
	// Namespaces lists the namespaces the selector applies to; empty means the
	// pod's own namespace (NamespaceSelector is not modeled).
	Namespaces  []string
	TopologyKey string
}

// WeightedPodAffinityTerm is a preferred pod (anti-)affinity term.
type WeightedPodAffinityTerm struct {
	Weight int32
	Term   PodAffinityTerm
}

// PodAffinity attracts the pod to topology domains holding matching pods; as a
// PodAntiAffinity it repels it from them.
type PodAffinity struct {
	Required  []PodAffinityTerm
	Preferred []WeightedPodAffinityTerm
}

// Affinity groups a pod's affinity rules.
type Affinity struct {
	NodeAffinity    *NodeAffinity
	PodAffinity     *PodAffinity
	PodAntiAffinity *PodAffinity
}

// UnsatisfiableConstraintAction is DoNotSchedule or ScheduleAnyway.
type UnsatisfiableConstraintAction string

// Topology spread actions.
const (
	DoNotSchedule  UnsatisfiableConstraintAction = "DoNotSchedule"
	ScheduleAnyway UnsatisfiableConstraintAction = "ScheduleAnyway"
)

// TopologySpreadConstraint spreads matching pods across the domains of a key.
type TopologySpreadConstraint struct {
	MaxSkew           int32
	TopologyKey       string
	WhenUnsatisfiable UnsatisfiableConstraintAction
	LabelSelector     *LabelSelector
	MinDomains        *int32
}

// Resource names kubesim models beyond cpu and memory (extended resources).
const (
	// ResourceGPU counts whole GPUs (the NVIDIA device plugin's resource name).
	ResourceGPU ResourceName = "nvidia.com/gpu"
	// ResourceGPUMilli is a share of one GPU in thousandths (1..1000), the
	// GPU-sharing request of the Alibaba GPU traces (Weng et al., ATC 2023).
	ResourceGPUMilli ResourceName = "kubesim.io/gpu-milli"
	// LabelGPUModel is the node label naming its GPU model.
	LabelGPUModel = "kubesim.io/gpu-model"
)

// ---------------------------------------------------------------------------
// Pod

// PullPolicy is a container's image pull policy.
type PullPolicy string

// Pull policies.
const (
	PullAlways       PullPolicy = "Always"
	PullIfNotPresent PullPolicy = "IfNotPresent"
	PullNever        PullPolicy = "Never"
)

// RestartPolicy is a pod's restart policy.
type RestartPolicy string

// Restart policies.
const (
	RestartAlways    RestartPolicy = "Always"
	RestartOnFailure RestartPolicy = "OnFailure"
	RestartNever     RestartPolicy = "Never"
)

// ContainerPort is a port a container exposes; HostPort > 0 claims the port on the node.
type ContainerPort struct {
	Name          string
	ContainerPort int32
	HostPort      int32
	Protocol      string // TCP (default), UDP, SCTP
	HostIP        string
}

// Probe is a container probe. Times are whole seconds, as upstream.
type Probe struct {
	InitialDelaySeconds int32
	TimeoutSeconds      int32
	PeriodSeconds       int32
	SuccessThreshold    int32
	FailureThreshold    int32
}

// Container is one container of a pod.
type Container struct {
	Name            string
	Image           string
	ImagePullPolicy PullPolicy
	Requests        Resources
	Limits          Resources
	Ports           []ContainerPort
	ReadinessProbe  *Probe
	LivenessProbe   *Probe
	StartupProbe    *Probe
	// RunDuration (a kubesim extension, for batch work and trace replay): the
	// process exits with code 0 this long after it starts; 0 runs until stopped.
	RunDuration time.Duration
}

// PodSpec is a pod's desired state.
type PodSpec struct {
	NodeName                      NodeName
	SchedulerName                 string
	Priority                      int32
	Containers                    []Container
	InitContainers                []Container
	NodeSelector                  map[string]string
	Affinity                      *Affinity
	Tolerations                   []Toleration
	RestartPolicy                 RestartPolicy
	TerminationGracePeriodSeconds int64
	// Volumes are the pod's volumes; kubesim models persistentVolumeClaim volumes
	// (the others need no orchestration).
	Volumes []Volume
	// Hostname and Subdomain give a StatefulSet pod its stable DNS name.
	Hostname, Subdomain       string
	TopologySpreadConstraints []TopologySpreadConstraint
	PriorityClassName         string
	// PreemptionPolicy is PreemptLowerPriority (default) or Never.
	PreemptionPolicy string
}

// Volume is a pod volume backed by a PersistentVolumeClaim.
type Volume struct {
	Name      string
	ClaimName string
}

// PodPhase is a pod's lifecycle phase.
type PodPhase string

// Pod phases.
const (
	PodPending   PodPhase = "Pending"
	PodRunning   PodPhase = "Running"
	PodSucceeded PodPhase = "Succeeded"
	PodFailed    PodPhase = "Failed"
)

// ConditionStatus is True, False or Unknown.
type ConditionStatus string

// Condition statuses.
const (
	ConditionTrue    ConditionStatus = "True"
	ConditionFalse   ConditionStatus = "False"
	ConditionUnknown ConditionStatus = "Unknown"
)

// PodConditionType names a pod condition.
type PodConditionType string

// Pod condition types, in their usual order.
const (
	PodScheduled              PodConditionType = "PodScheduled"
	PodReadyToStartContainers PodConditionType = "PodReadyToStartContainers"
	PodInitialized            PodConditionType = "Initialized"
	PodContainersReady        PodConditionType = "ContainersReady"
	PodReady                  PodConditionType = "Ready"
)

// PodCondition is one condition of a pod.
type PodCondition struct {
	Type               PodConditionType
	Status             ConditionStatus
	Reason             string
	Message            string // human-readable detail, e.g. "0/3 nodes are available: 3 Insufficient cpu."
	LastTransitionTime sim.Time
}

// ContainerState is a container's state.
type ContainerState string

// Container states.
const (
	ContainerWaiting    ContainerState = "Waiting"
	ContainerRunning    ContainerState = "Running"
	ContainerTerminated ContainerState = "Terminated"
)

// ContainerStatus is the status of one container.
type ContainerStatus struct {
	Name         string
	Image        string
	State        ContainerState
	Reason       string // for Waiting/Terminated, e.g. ContainerCreating, ErrImagePull
	Ready        bool
	Started      bool
	RestartCount int32
	StartedAt    sim.Time
}

// PodStatus is a pod's observed state.
type PodStatus struct {
	Phase             PodPhase
	Conditions        []PodCondition
	HostIP            string
	PodIP             string
	StartTime         *sim.Time
	ContainerStatuses []ContainerStatus
	NominatedNodeName NodeName
	Reason            string
	Message           string
}

// Pod is the smallest deployable unit.
type Pod struct {
	ObjectMeta
	Spec   PodSpec
	Status PodStatus
}

// Kind implements Object.
func (*Pod) Kind() Kind { return KindPod }

// DeepCopyObject implements Object.
func (p *Pod) DeepCopyObject() Object { return p.DeepCopy() }

// DeepCopy returns an independent copy.
func (p *Pod) DeepCopy() *Pod {
	out := new(Pod)
	p.ObjectMeta.deepCopyInto(&out.ObjectMeta)
	p.Spec.deepCopyInto(&out.Spec)
	out.Status = p.Status.DeepCopy()
	return out
}

// DeepCopy returns an independent copy of the status.
func (s *PodStatus) DeepCopy() PodStatus {
	out := *s
	if s.Conditions != nil {
		out.Conditions = append([]PodCondition(nil), s.Conditions...)
	}
	if s.StartTime != nil {
		t := *s.StartTime
		out.StartTime = &t
	}
	if s.ContainerStatuses != nil {
		out.ContainerStatuses = append([]ContainerStatus(nil), s.ContainerStatuses...)
	}
	return out
}

func (s *PodSpec) deepCopyInto(out *PodSpec) {
	*out = *s
	out.Containers = copyContainers(s.Containers)
	out.InitContainers = copyContainers(s.InitContainers)
	out.NodeSelector = copyMap(s.NodeSelector)
	if s.Affinity != nil {
		a := *s.Affinity
		if a.NodeAffinity != nil {
			na := *a.NodeAffinity // terms are treated as immutable once admitted
			a.NodeAffinity = &na
		}
		out.Affinity = &a
	}
	if s.Tolerations != nil {
		out.Tolerations = append([]Toleration(nil), s.Tolerations...)
	}
	if s.Volumes != nil {
		out.Volumes = append([]Volume(nil), s.Volumes...)
	}
	if s.TopologySpreadConstraints != nil {
		out.TopologySpreadConstraints = append([]TopologySpreadConstraint(nil), s.TopologySpreadConstraints...)
	}
}

func copyContainers(cs []Container) []Container {
	if cs == nil {
		return nil
	}
	out := make([]Container, len(cs))
	for i := range cs {
		out[i] = cs[i]
		out[i].Requests = cs[i].Requests.Clone()
		out[i].Limits = cs[i].Limits.Clone()
		if cs[i].Ports != nil {
			out[i].Ports = append([]ContainerPort(nil), cs[i].Ports...)
		}
		out[i].ReadinessProbe = copyProbe(cs[i].ReadinessProbe)
		out[i].LivenessProbe = copyProbe(cs[i].LivenessProbe)
		out[i].StartupProbe = copyProbe(cs[i].StartupProbe)
	}
	return out
}

func copyProbe(p *Probe) *Probe {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

// Condition returns the pod's condition of type t, or nil.
func (p *Pod) Condition(t PodConditionType) *PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// SetCondition sets (or adds) a condition, keeping LastTransitionTime when the
// status does not change.
func (p *Pod) SetCondition(t PodConditionType, s ConditionStatus, reason string, now sim.Time) {
	if c := p.Condition(t); c != nil {
		if c.Status != s {
			c.LastTransitionTime = now
			c.Message = "" // a message describes the old status
		}
		c.Status = s
		c.Reason = reason
		return
	}
	p.Status.Conditions = append(p.Status.Conditions, PodCondition{Type: t, Status: s, Reason: reason, LastTransitionTime: now})
}

// IsReady reports whether the pod's Ready condition is True.
func (p *Pod) IsReady() bool {
	c := p.Condition(PodReady)
	return c != nil && c.Status == ConditionTrue
}

// IsTerminal reports whether the pod has Succeeded or Failed.
func (p *Pod) IsTerminal() bool {
	return p.Status.Phase == PodSucceeded || p.Status.Phase == PodFailed
}

// Requests returns the pod's effective requests as upstream computes them
// (k8s.io/component-helpers resource.PodRequests): the sum over regular containers,
// raised per resource to the largest init container's request. Pods counts 1.
func (p *Pod) Requests() Resources {
	var r Resources
	for i := range p.Spec.Containers {
		r.Add(&p.Spec.Containers[i].Requests)
	}
	for i := range p.Spec.InitContainers {
		ic := &p.Spec.InitContainers[i].Requests
		r.MilliCPU = max(r.MilliCPU, ic.MilliCPU)
		r.Memory = max(r.Memory, ic.Memory)
		r.EphemeralStorage = max(r.EphemeralStorage, ic.EphemeralStorage)
		for k, v := range ic.Scalar {
			if r.Scalar == nil {
				r.Scalar = map[ResourceName]int64{}
			}
			r.Scalar[k] = max(r.Scalar[k], v)
		}
	}
	r.Pods = 1
	return r
}

// ---------------------------------------------------------------------------
// Node

// NodeConditionType names a node condition.
type NodeConditionType string

// Node condition types.
const (
	NodeReady          NodeConditionType = "Ready"
	NodeMemoryPressure NodeConditionType = "MemoryPressure"
	NodeDiskPressure   NodeConditionType = "DiskPressure"
	NodePIDPressure    NodeConditionType = "PIDPressure"
)

// NodeCondition is one node condition.
type NodeCondition struct {
	Type               NodeConditionType
	Status             ConditionStatus
	Reason             string
	LastHeartbeatTime  sim.Time
	LastTransitionTime sim.Time
}

// ContainerImage is an image present on a node.
type ContainerImage struct {
	Names     []string
	SizeBytes int64
}

// NodeSpec is a node's desired state.
type NodeSpec struct {
	Unschedulable bool
	Taints        []Taint
}

// NodeStatus is a node's observed state.
type NodeStatus struct {
	Capacity    Resources
	Allocatable Resources
	Conditions  []NodeCondition
	Images      []ContainerImage
	Address     string
}

// Node is a worker (or control-plane) machine.
type Node struct {
	ObjectMeta
	Spec   NodeSpec
	Status NodeStatus
}

// Kind implements Object.
func (*Node) Kind() Kind { return KindNode }

// DeepCopyObject implements Object.
func (n *Node) DeepCopyObject() Object { return n.DeepCopy() }

// DeepCopy returns an independent copy.
func (n *Node) DeepCopy() *Node {
	out := new(Node)
	n.ObjectMeta.deepCopyInto(&out.ObjectMeta)
	out.Spec = n.Spec
	if n.Spec.Taints != nil {
		out.Spec.Taints = append([]Taint(nil), n.Spec.Taints...)
	}
	out.Status = n.Status
	out.Status.Capacity = n.Status.Capacity.Clone()
	out.Status.Allocatable = n.Status.Allocatable.Clone()
	if n.Status.Conditions != nil {
		out.Status.Conditions = append([]NodeCondition(nil), n.Status.Conditions...)
	}
	if n.Status.Images != nil {
		out.Status.Images = make([]ContainerImage, len(n.Status.Images))
		for i, im := range n.Status.Images {
			out.Status.Images[i] = ContainerImage{Names: append([]string(nil), im.Names...), SizeBytes: im.SizeBytes}
		}
	}
	return out
}

// Condition returns the node's condition of type t, or nil.
func (n *Node) Condition(t NodeConditionType) *NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == t {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// IsReady reports whether the node's Ready condition is True.
func (n *Node) IsReady() bool {
	c := n.Condition(NodeReady)
	return c != nil && c.Status == ConditionTrue
}

// ---------------------------------------------------------------------------
// Lease

// Lease is a coordination.k8s.io Lease: the kubelet's cheap heartbeat.
type Lease struct {
	ObjectMeta
	HolderIdentity       string
	LeaseDurationSeconds int32
	RenewTime            sim.Time
}

// Kind implements Object.
func (*Lease) Kind() Kind { return KindLease }

// DeepCopyObject implements Object.
func (l *Lease) DeepCopyObject() Object {
	out := new(Lease)
	*out = *l
	l.ObjectMeta.deepCopyInto(&out.ObjectMeta)
	return out
}

// ---------------------------------------------------------------------------
// Workloads

// PodTemplateSpec is the template of the pods a controller creates.
type PodTemplateSpec struct {
	Labels      map[string]string
	Annotations map[string]string
	Spec        PodSpec
}

func (t *PodTemplateSpec) deepCopyInto(out *PodTemplateSpec) {
	out.Labels = copyMap(t.Labels)
	out.Annotations = copyMap(t.Annotations)
	t.Spec.deepCopyInto(&out.Spec)
}

// IntOrPercent is a count or a percentage ("25%").
type IntOrPercent struct {
	IsPercent bool
	Value     int32
}

// DeploymentStrategyType is RollingUpdate or Recreate.
type DeploymentStrategyType string

// Strategy types.
const (
	RollingUpdateStrategy DeploymentStrategyType = "RollingUpdate"
	RecreateStrategy      DeploymentStrategyType = "Recreate"
)

// DeploymentStrategy says how a Deployment replaces old pods.
type DeploymentStrategy struct {
	Type           DeploymentStrategyType
	MaxSurge       IntOrPercent
	MaxUnavailable IntOrPercent
}

// DeploymentSpec is a Deployment's desired state.
type DeploymentSpec struct {
	Replicas                int32
	Selector                *LabelSelector
	Template                PodTemplateSpec
	Strategy                DeploymentStrategy
	MinReadySeconds         int32
	RevisionHistoryLimit    int32
	ProgressDeadlineSeconds int32
	Paused                  bool
}

// DeploymentConditionType names a Deployment condition.
type DeploymentConditionType string

// Deployment condition types.
const (
	DeploymentAvailable   DeploymentConditionType = "Available"
	DeploymentProgressing DeploymentConditionType = "Progressing"
)

// DeploymentCondition is one condition of a Deployment.
type DeploymentCondition struct {
	Type               DeploymentConditionType
	Status             ConditionStatus
	Reason             string
	Message            string
	LastUpdateTime     sim.Time
	LastTransitionTime sim.Time
}

// DeploymentStatus is a Deployment's observed state.
type DeploymentStatus struct {
	ObservedGeneration  int64
	Replicas            int32
	UpdatedReplicas     int32
	ReadyReplicas       int32
	AvailableReplicas   int32
	UnavailableReplicas int32
	Conditions          []DeploymentCondition
}

// Deployment manages ReplicaSets.
type Deployment struct {
	ObjectMeta
	Spec   DeploymentSpec
	Status DeploymentStatus
}

// Kind implements Object.
func (*Deployment) Kind() Kind { return KindDeployment }

// DeepCopyObject implements Object.
func (d *Deployment) DeepCopyObject() Object { return d.DeepCopy() }

// DeepCopy returns an independent copy.
func (d *Deployment) DeepCopy() *Deployment {
	out := new(Deployment)
	d.ObjectMeta.deepCopyInto(&out.ObjectMeta)
	out.Spec = d.Spec
	out.Spec.Selector = d.Spec.Selector.DeepCopy()
	d.Spec.Template.deepCopyInto(&out.Spec.Template)
	out.Status = d.Status
	if d.Status.Conditions != nil {
		out.Status.Conditions = append([]DeploymentCondition(nil), d.Status.Conditions...)
	}
	return out
}

// ReplicaSetSpec is a ReplicaSet's desired state.
type ReplicaSetSpec struct {
	Replicas        int32
	Selector        *LabelSelector
	Template        PodTemplateSpec
	MinReadySeconds int32
}

// ReplicaSetStatus is a ReplicaSet's observed state.
type ReplicaSetStatus struct {
	ObservedGeneration   int64
	Replicas             int32
	FullyLabeledReplicas int32
	ReadyReplicas        int32
	AvailableReplicas    int32
}

// ReplicaSet keeps a number of pod replicas running.
type ReplicaSet struct {
	ObjectMeta
	Spec   ReplicaSetSpec
	Status ReplicaSetStatus
}

// Kind implements Object.
func (*ReplicaSet) Kind() Kind { return KindReplicaSet }

// DeepCopyObject implements Object.
func (r *ReplicaSet) DeepCopyObject() Object { return r.DeepCopy() }

// DeepCopy returns an independent copy.
func (r *ReplicaSet) DeepCopy() *ReplicaSet {
	out := new(ReplicaSet)
	r.ObjectMeta.deepCopyInto(&out.ObjectMeta)
	out.Spec = r.Spec
	out.Spec.Selector = r.Spec.Selector.DeepCopy()
	r.Spec.Template.deepCopyInto(&out.Spec.Template)
	out.Status = r.Status
	return out
}

// DeepCopy returns an independent copy (nil for nil).
func (s *LabelSelector) DeepCopy() *LabelSelector {
	if s == nil {
		return nil
	}
	out := &LabelSelector{MatchLabels: copyMap(s.MatchLabels)}
	for _, r := range s.MatchExpressions {
		r.Values = append([]string(nil), r.Values...)
		out.MatchExpressions = append(out.MatchExpressions, r)
	}
	return out
}

// ---------------------------------------------------------------------------
// Services

// ServicePort is one port of a Service.
type ServicePort struct {
	Name       string
	Protocol   string
	Port       int32
	TargetPort int32
}

// ServiceAffinity is None or ClientIP.
type ServiceAffinity string

// Session affinities.
const (
	AffinityNone     ServiceAffinity = "None"
	AffinityClientIP ServiceAffinity = "ClientIP"
)

// ServiceSpec is a Service's desired state.
type ServiceSpec struct {
	Selector                 map[string]string
	Ports                    []ServicePort
	ClusterIP                string
	Type                     string // ClusterIP (default), NodePort, LoadBalancer
	SessionAffinity          ServiceAffinity
	PublishNotReadyAddresses bool
}

// Service exposes a set of pods under one virtual IP.
type Service struct {
	ObjectMeta
	Spec ServiceSpec
}

// Kind implements Object.
func (*Service) Kind() Kind { return KindService }

// DeepCopyObject implements Object.
func (s *Service) DeepCopyObject() Object {
	out := new(Service)
	s.ObjectMeta.deepCopyInto(&out.ObjectMeta)
	out.Spec = s.Spec
	out.Spec.Selector = copyMap(s.Spec.Selector)
	out.Spec.Ports = append([]ServicePort(nil), s.Spec.Ports...)
	return out
}

// EndpointConditions are an endpoint's readiness flags (discovery.k8s.io/v1).
type EndpointConditions struct {
	Ready       bool
	Serving     bool
	Terminating bool
}

// Endpoint is one backend of a Service.
type Endpoint struct {
	Address    string
	Conditions EndpointConditions
	NodeName   NodeName
	Zone       string
	PodName    string
	PodUID     UID
}

// EndpointSlice is a slice of a Service's endpoints (at most 100 by default).
type EndpointSlice struct {
	ObjectMeta
	Endpoints []Endpoint
	Ports     []ServicePort
}

// Kind implements Object.
func (*EndpointSlice) Kind() Kind { return KindEndpointSlice }

// DeepCopyObject implements Object.
func (s *EndpointSlice) DeepCopyObject() Object {
	out := new(EndpointSlice)
	s.ObjectMeta.deepCopyInto(&out.ObjectMeta)
	out.Endpoints = append([]Endpoint(nil), s.Endpoints...)
	out.Ports = append([]ServicePort(nil), s.Ports...)
	return out
}

// ServiceName returns the name of the Service the slice belongs to.
func (s *EndpointSlice) ServiceName() string { return s.Labels[LabelServiceName] }

// Binding asks the apiserver to bind a pod to a node (the pods/binding subresource).
type Binding struct {
	PodNamespace string
	PodName      string
	PodUID       UID
	Target       NodeName
}

// ---------------------------------------------------------------------------
// Autoscaling (autoscaling/v2)

// CrossVersionObjectReference names the object an autoscaler scales.
type CrossVersionObjectReference struct {
	Kind Kind // KindDeployment, KindReplicaSet or KindStatefulSet
	Name string
}

// MetricTarget is the target value of a resource metric: an average utilization
// in percent of the pods' requests, or an average value (milli-units for CPU).
type MetricTarget struct {
	AverageUtilization *int32
	AverageValue       *int64
}

// MetricSpec is one metric an HPA scales on; kubesim models Resource metrics
// (cpu, memory).
type MetricSpec struct {
	Resource string // "cpu" or "memory"
	Target   MetricTarget
}

// HPAScalingPolicyType is Pods or Percent.
type HPAScalingPolicyType string

// Scaling policy types.
const (
	PodsScalingPolicy    HPAScalingPolicyType = "Pods"
	PercentScalingPolicy HPAScalingPolicyType = "Percent"
)

// HPAScalingPolicy limits a scaling step within a period.
type HPAScalingPolicy struct {
	Type          HPAScalingPolicyType
	Value         int32
	PeriodSeconds int32
}

// HPAScalingRules are one direction's behavior.
type HPAScalingRules struct {
	StabilizationWindowSeconds *int32
	SelectPolicy               string // Max (default), Min, Disabled
	Policies                   []HPAScalingPolicy
}

// HPABehavior is an HPA's scale-up and scale-down behavior (nil = defaults).
type HPABehavior struct {
	ScaleUp, ScaleDown *HPAScalingRules
}

// HorizontalPodAutoscalerSpec is an HPA's desired state.
type HorizontalPodAutoscalerSpec struct {
	ScaleTargetRef CrossVersionObjectReference
	MinReplicas    int32
	MaxReplicas    int32
	Metrics        []MetricSpec
	Behavior       *HPABehavior
}

// HorizontalPodAutoscalerStatus is an HPA's observed state.
type HorizontalPodAutoscalerStatus struct {
	CurrentReplicas                 int32
	DesiredReplicas                 int32
	LastScaleTime                   *sim.Time
	CurrentCPUUtilizationPercentage *int32
}

// HorizontalPodAutoscaler scales a workload on observed metrics.
type HorizontalPodAutoscaler struct {
	ObjectMeta
	Spec   HorizontalPodAutoscalerSpec
	Status HorizontalPodAutoscalerStatus
}

// Kind implements Object.
func (*HorizontalPodAutoscaler) Kind() Kind { return KindHorizontalPodAutoscaler }

// DeepCopyObject implements Object.
func (h *HorizontalPodAutoscaler) DeepCopyObject() Object {
	out := new(HorizontalPodAutoscaler)
	h.ObjectMeta.deepCopyInto(&out.ObjectMeta)
	out.Spec = h.Spec
	out.Spec.Metrics = append([]MetricSpec(nil), h.Spec.Metrics...)
	if b := h.Spec.Behavior; b != nil {
		nb := HPABehavior{ScaleUp: copyRules(b.ScaleUp), ScaleDown: copyRules(b.ScaleDown)}
		out.Spec.Behavior = &nb
	}
	out.Status = h.Status
	if h.Status.LastScaleTime != nil {
		t := *h.Status.LastScaleTime
		out.Status.LastScaleTime = &t
	}
	if h.Status.CurrentCPUUtilizationPercentage != nil {
		v := *h.Status.CurrentCPUUtilizationPercentage
		out.Status.CurrentCPUUtilizationPercentage = &v
	}
	return out
}

func copyRules(r *HPAScalingRules) *HPAScalingRules {
	if r == nil {
		return nil
	}
	c := *r
	c.Policies = append([]HPAScalingPolicy(nil), r.Policies...)
	return &c
}

// PodMetrics is a pod's resource usage as metrics-server reports it
// (metrics.k8s.io/v1beta1 PodMetrics): usage averaged over Window, measured at
// Timestamp.
type PodMetrics struct {
	ObjectMeta
	Timestamp sim.Time
	Window    sim.Time
	Usage     Resources // per pod (sum over containers)
}

// Kind implements Object.
func (*PodMetrics) Kind() Kind { return KindPodMetrics }

// DeepCopyObject implements Object.
func (m *PodMetrics) DeepCopyObject() Object {
	out := new(PodMetrics)
	*out = *m
	m.ObjectMeta.deepCopyInto(&out.ObjectMeta)
	out.Usage = m.Usage.Clone()
	return out
}

// ---------------------------------------------------------------------------
// Storage

// VolumeBindingMode says when a claim of a class is bound.
type VolumeBindingMode string

// Binding modes.
const (
	VolumeBindingImmediate            VolumeBindingMode = "Immediate"
	VolumeBindingWaitForFirstConsumer VolumeBindingMode = "WaitForFirstConsumer"
)

// AccessMode is a volume access mode.
type AccessMode string

// Access modes.
const (
	ReadWriteOnce    AccessMode = "ReadWriteOnce"
	ReadOnlyMany     AccessMode = "ReadOnlyMany"
	ReadWriteMany    AccessMode = "ReadWriteMany"
	ReadWriteOncePod AccessMode = "ReadWriteOncePod"
)

// StorageClass describes a kind of storage and its provisioner.
type StorageClass struct {
	ObjectMeta
	Provisioner       string
	ReclaimPolicy     string // Delete (default) or Retain
	VolumeBindingMode VolumeBindingMode
	// AllowedZones restricts provisioning to these zones (allowedTopologies on
	// topology.kubernetes.io/zone); empty = any.
	AllowedZones []string
}

// Kind implements Object.
func (*StorageClass) Kind() Kind { return KindStorageClass }

// DeepCopyObject implements Object.
func (c *StorageClass) DeepCopyObject() Object {
	out := new(StorageClass)
	*out = *c
	c.ObjectMeta.deepCopyInto(&out.ObjectMeta)
	out.AllowedZones = append([]string(nil), c.AllowedZones...)
	return out
}

// PersistentVolumePhase is a volume's or claim's phase.
type PersistentVolumePhase string

// Phases.
const (
	VolumePending   PersistentVolumePhase = "Pending"
	VolumeAvailable PersistentVolumePhase = "Available"
	VolumeBound     PersistentVolumePhase = "Bound"
	VolumeReleased  PersistentVolumePhase = "Released"
	VolumeLost      PersistentVolumePhase = "Lost"
)

// ClaimRef points from a volume to its claim.
type ClaimRef struct {
	Namespace, Name string
	UID             UID
}

// PersistentVolume is a piece of storage.
type PersistentVolume struct {
	ObjectMeta
	CapacityBytes    int64
	AccessModes      []AccessMode
	StorageClassName string
	ClaimRef         *ClaimRef
	// Zone is the volume's topology (node affinity on topology.kubernetes.io/zone);
	// "" = reachable from every node.
	Zone  string
	Phase PersistentVolumePhase
}

// Kind implements Object.
func (*PersistentVolume) Kind() Kind { return KindPersistentVolume }

// DeepCopyObject implements Object.
func (v *PersistentVolume) DeepCopyObject() Object {
	out := new(PersistentVolume)
	*out = *v
	v.ObjectMeta.deepCopyInto(&out.ObjectMeta)
	out.AccessModes = append([]AccessMode(nil), v.AccessModes...)
	if v.ClaimRef != nil {
		c := *v.ClaimRef
		out.ClaimRef = &c
	}
	return out
}

// PersistentVolumeClaim is a request for storage.
type PersistentVolumeClaim struct {
	ObjectMeta
	RequestBytes     int64
	AccessModes      []AccessMode
	StorageClassName string
	VolumeName       string // set when bound
	Phase            PersistentVolumePhase
}

// Kind implements Object.
func (*PersistentVolumeClaim) Kind() Kind { return KindPersistentVolumeClaim }

// DeepCopyObject implements Object.
func (c *PersistentVolumeClaim) DeepCopyObject() Object {
	out := new(PersistentVolumeClaim)
	*out = *c
	c.ObjectMeta.deepCopyInto(&out.ObjectMeta)
	out.AccessModes = append([]AccessMode(nil), c.AccessModes...)
	return out
}

// Annotations of the storage flow (upstream names).
const (
	AnnSelectedNode       = "volume.kubernetes.io/selected-node"
	AnnStorageProvisioner = "volume.kubernetes.io/storage-provisioner"
	AnnBoundByController  = "pv.kubernetes.io/bound-by-controller"
)

// StatefulSetSpec is a StatefulSet's desired state.
type StatefulSetSpec struct {
	Replicas             int32
	Selector             *LabelSelector
	Template             PodTemplateSpec
	ServiceName          string
	VolumeClaimTemplates []PersistentVolumeClaim
	PodManagementPolicy  string // OrderedReady (default) or Parallel
	MinReadySeconds      int32
}

// StatefulSetStatus is a StatefulSet's observed state.
type StatefulSetStatus struct {
	ObservedGeneration int64
	Replicas           int32
	ReadyReplicas      int32
	AvailableReplicas  int32
	CurrentReplicas    int32
	UpdatedReplicas    int32
}

// StatefulSet runs pods with stable names and their own volumes.
type StatefulSet struct {
	ObjectMeta
	Spec   StatefulSetSpec
	Status StatefulSetStatus
}

// Kind implements Object.
func (*StatefulSet) Kind() Kind { return KindStatefulSet }

// DeepCopyObject implements Object.
func (s *StatefulSet) DeepCopyObject() Object {
	out := new(StatefulSet)
	s.ObjectMeta.deepCopyInto(&out.ObjectMeta)
	out.Spec = s.Spec
	out.Spec.Selector = s.Spec.Selector.DeepCopy()
	s.Spec.Template.deepCopyInto(&out.Spec.Template)
	out.Spec.VolumeClaimTemplates = make([]PersistentVolumeClaim, len(s.Spec.VolumeClaimTemplates))
	for i := range s.Spec.VolumeClaimTemplates {
		out.Spec.VolumeClaimTemplates[i] = *s.Spec.VolumeClaimTemplates[i].DeepCopyObject().(*PersistentVolumeClaim)
	}
	out.Status = s.Status
	return out
}

// ---------------------------------------------------------------------------
// Scheduling and batch

// PriorityClass maps a name to a pod priority (scheduling.k8s.io/v1).
type PriorityClass struct {
	ObjectMeta
	Value            int32
	GlobalDefault    bool
	PreemptionPolicy string // PreemptLowerPriority (default) or Never
}

// Kind implements Object.
func (*PriorityClass) Kind() Kind { return KindPriorityClass }

// DeepCopyObject implements Object.
func (c *PriorityClass) DeepCopyObject() Object {
	out := new(PriorityClass)
	*out = *c
	c.ObjectMeta.deepCopyInto(&out.ObjectMeta)
	return out
}

// JobSpec is a batch/v1 Job's desired state.
type JobSpec struct {
	Completions int32 // pods that must succeed (default 1)
	Parallelism int32 // pods running at once (default 1)
	// BackoffLimit is the failed pods (or, with restartPolicy OnFailure, the
	// container restarts) before the Job fails; nil is defaulted to 6 by the
	// apiserver (pkg/apis/batch/v1/defaults.go), and 0 means no retry at all.
	BackoffLimit *int32
	Template     PodTemplateSpec
}

// Backoff returns the Job's backoffLimit, 6 when unset (as the apiserver
// defaults it).
func (s *JobSpec) Backoff() int32 {
	if s.BackoffLimit == nil {
		return DefaultJobBackoffLimit
	}
	return *s.BackoffLimit
}

// DefaultJobBackoffLimit is batch/v1's default backoffLimit.
const DefaultJobBackoffLimit int32 = 6

// JobStatus is a Job's observed state.
type JobStatus struct {
	Active, Succeeded, Failed int32
	StartTime, CompletionTime *sim.Time
}

// Job runs pods to completion.
type Job struct {
	ObjectMeta
	Spec   JobSpec
	Status JobStatus
}

// Kind implements Object.
func (*Job) Kind() Kind { return KindJob }

// DeepCopyObject implements Object.
func (j *Job) DeepCopyObject() Object {
	out := new(Job)
	j.ObjectMeta.deepCopyInto(&out.ObjectMeta)
	out.Spec = j.Spec
	if j.Spec.BackoffLimit != nil {
		b := *j.Spec.BackoffLimit
		out.Spec.BackoffLimit = &b
	}
	j.Spec.Template.deepCopyInto(&out.Spec.Template)
	out.Status = j.Status
	if j.Status.StartTime != nil {
		t := *j.Status.StartTime
		out.Status.StartTime = &t
	}
	if j.Status.CompletionTime != nil {
		t := *j.Status.CompletionTime
		out.Status.CompletionTime = &t
	}
	return out
}
