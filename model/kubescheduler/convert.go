//go:build kubescheduler

package kubescheduler

import (
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/sim"
)

// Conversion from kubesim's compact objects to the upstream API types the real
// plug-ins read. Each object is converted once per watch event (mirror.go), never
// per decision. Fields kubesim does not model stay at their zero value.

// epoch anchors virtual time for the few timestamps the plug-ins read (pod start
// times order preemption victims; CreationTimestamp orders nothing the plug-ins
// score). Virtual time 0 is this instant, so conversions are deterministic.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func mtime(t sim.Time) metav1.Time { return metav1.NewTime(epoch.Add(time.Duration(t))) }

func meta(m *api.ObjectMeta) metav1.ObjectMeta {
	om := metav1.ObjectMeta{
		Name:              m.Name,
		Namespace:         m.Namespace,
		UID:               types.UID(m.UID),
		Labels:            m.Labels,
		Annotations:       m.Annotations,
		ResourceVersion:   strconv.FormatInt(m.ResourceVersion, 10),
		Generation:        m.Generation,
		CreationTimestamp: mtime(m.CreationTimestamp),
	}
	if m.DeletionTimestamp != nil {
		t := mtime(*m.DeletionTimestamp)
		om.DeletionTimestamp = &t
	}
	for _, o := range m.OwnerReferences {
		ctrl := o.Controller
		ref := metav1.OwnerReference{Kind: o.Kind.String(), Name: o.Name, UID: types.UID(o.UID), Controller: &ctrl}
		switch o.Kind {
		case api.KindReplicaSet, api.KindStatefulSet, api.KindDeployment:
			ref.APIVersion = "apps/v1"
		case api.KindJob:
			ref.APIVersion = "batch/v1"
		default:
			ref.APIVersion = "v1"
		}
		om.OwnerReferences = append(om.OwnerReferences, ref)
	}
	return om
}

// resourceList converts compact resources; withPods includes the pod count (node
// capacity) and zero values are omitted (a container without a request has none).
func resourceList(r *api.Resources, withPods bool) v1.ResourceList {
	out := v1.ResourceList{}
	if r.MilliCPU != 0 {
		out[v1.ResourceCPU] = *resource.NewMilliQuantity(r.MilliCPU, resource.DecimalSI)
	}
	if r.Memory != 0 {
		out[v1.ResourceMemory] = *resource.NewQuantity(r.Memory, resource.BinarySI)
	}
	if r.EphemeralStorage != 0 {
		out[v1.ResourceEphemeralStorage] = *resource.NewQuantity(r.EphemeralStorage, resource.BinarySI)
	}
	if withPods && r.Pods != 0 {
		out[v1.ResourcePods] = *resource.NewQuantity(r.Pods, resource.DecimalSI)
	}
	for k, v := range r.Scalar {
		if v != 0 {
			out[v1.ResourceName(k)] = *resource.NewQuantity(v, resource.DecimalSI)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// ConvertNode converts a kubesim node.
func ConvertNode(n *api.Node) *v1.Node {
	out := &v1.Node{
		TypeMeta:   metav1.TypeMeta{Kind: "Node", APIVersion: "v1"},
		ObjectMeta: meta(&n.ObjectMeta),
		Spec:       v1.NodeSpec{Unschedulable: n.Spec.Unschedulable},
		Status: v1.NodeStatus{
			Capacity:    resourceList(&n.Status.Capacity, true),
			Allocatable: resourceList(&n.Status.Allocatable, true),
		},
	}
	for _, t := range n.Spec.Taints {
		tt := v1.Taint{Key: t.Key, Value: t.Value, Effect: v1.TaintEffect(t.Effect)}
		if t.TimeAdded != 0 {
			ta := mtime(t.TimeAdded)
			tt.TimeAdded = &ta
		}
		out.Spec.Taints = append(out.Spec.Taints, tt)
	}
	for _, c := range n.Status.Conditions {
		out.Status.Conditions = append(out.Status.Conditions, v1.NodeCondition{Type: v1.NodeConditionType(c.Type), Status: v1.ConditionStatus(c.Status), Reason: c.Reason,
			LastHeartbeatTime: mtime(c.LastHeartbeatTime), LastTransitionTime: mtime(c.LastTransitionTime)})
	}
	for _, im := range n.Status.Images {
		out.Status.Images = append(out.Status.Images, v1.ContainerImage{Names: im.Names, SizeBytes: im.SizeBytes})
	}
	return out
}

func requirements(rs []api.Requirement) []v1.NodeSelectorRequirement {
	if rs == nil {
		return nil
	}
	out := make([]v1.NodeSelectorRequirement, len(rs))
	for i, r := range rs {
		out[i] = v1.NodeSelectorRequirement{Key: r.Key, Operator: v1.NodeSelectorOperator(r.Operator), Values: r.Values}
	}
	return out
}

func nodeSelectorTerm(t *api.NodeSelectorTerm) v1.NodeSelectorTerm {
	return v1.NodeSelectorTerm{MatchExpressions: requirements(t.MatchExpressions), MatchFields: requirements(t.MatchFields)}
}

// LabelSelector converts a kubesim label selector (nil stays nil).
func LabelSelector(s *api.LabelSelector) *metav1.LabelSelector {
	if s == nil {
		return nil
	}
	out := &metav1.LabelSelector{MatchLabels: s.MatchLabels}
	for _, r := range s.MatchExpressions {
		out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{Key: r.Key, Operator: metav1.LabelSelectorOperator(r.Operator), Values: r.Values})
	}
	return out
}

func podAffinityTerm(t *api.PodAffinityTerm) v1.PodAffinityTerm {
	return v1.PodAffinityTerm{LabelSelector: LabelSelector(t.LabelSelector), Namespaces: t.Namespaces, TopologyKey: t.TopologyKey}
}

func podAffinity(a *api.PodAffinity) (req []v1.PodAffinityTerm, pref []v1.WeightedPodAffinityTerm) {
	for i := range a.Required {
		req = append(req, podAffinityTerm(&a.Required[i]))
	}
	for i := range a.Preferred {
		pref = append(pref, v1.WeightedPodAffinityTerm{Weight: a.Preferred[i].Weight, PodAffinityTerm: podAffinityTerm(&a.Preferred[i].Term)})
	}
	return
}

func affinity(a *api.Affinity) *v1.Affinity {
	if a == nil {
		return nil
	}
	out := &v1.Affinity{}
	if na := a.NodeAffinity; na != nil {
		out.NodeAffinity = &v1.NodeAffinity{}
		if na.Required != nil {
			sel := &v1.NodeSelector{}
			for i := range na.Required {
				sel.NodeSelectorTerms = append(sel.NodeSelectorTerms, nodeSelectorTerm(&na.Required[i]))
			}
			out.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = sel
		}
		for i := range na.Preferred {
			out.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(out.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
				v1.PreferredSchedulingTerm{Weight: na.Preferred[i].Weight, Preference: nodeSelectorTerm(&na.Preferred[i].Preference)})
		}
	}
	if pa := a.PodAffinity; pa != nil {
		req, pref := podAffinity(pa)
		out.PodAffinity = &v1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: req, PreferredDuringSchedulingIgnoredDuringExecution: pref}
	}
	if pa := a.PodAntiAffinity; pa != nil {
		req, pref := podAffinity(pa)
		out.PodAntiAffinity = &v1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: req, PreferredDuringSchedulingIgnoredDuringExecution: pref}
	}
	return out
}

func containers(cs []api.Container) []v1.Container {
	if cs == nil {
		return nil
	}
	out := make([]v1.Container, len(cs))
	for i := range cs {
		c := &cs[i]
		oc := v1.Container{Name: c.Name, Image: c.Image, ImagePullPolicy: v1.PullPolicy(c.ImagePullPolicy),
			Resources: v1.ResourceRequirements{Requests: resourceList(&c.Requests, false), Limits: resourceList(&c.Limits, false)}}
		for _, p := range c.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = "TCP"
			}
			oc.Ports = append(oc.Ports, v1.ContainerPort{Name: p.Name, ContainerPort: p.ContainerPort, HostPort: p.HostPort, Protocol: v1.Protocol(proto), HostIP: p.HostIP})
		}
		out[i] = oc
	}
	return out
}

// ConvertPod converts a kubesim pod.
func ConvertPod(p *api.Pod) *v1.Pod {
	prio := p.Spec.Priority
	grace := p.Spec.TerminationGracePeriodSeconds
	out := &v1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: meta(&p.ObjectMeta),
		Spec: v1.PodSpec{
			NodeName:                      string(p.Spec.NodeName),
			SchedulerName:                 p.Spec.SchedulerName,
			Priority:                      &prio,
			Containers:                    containers(p.Spec.Containers),
			InitContainers:                containers(p.Spec.InitContainers),
			NodeSelector:                  p.Spec.NodeSelector,
			Affinity:                      affinity(p.Spec.Affinity),
			RestartPolicy:                 v1.RestartPolicy(p.Spec.RestartPolicy),
			TerminationGracePeriodSeconds: &grace,
			Hostname:                      p.Spec.Hostname,
			Subdomain:                     p.Spec.Subdomain,
			PriorityClassName:             p.Spec.PriorityClassName,
		},
		Status: v1.PodStatus{
			Phase:             v1.PodPhase(p.Status.Phase),
			NominatedNodeName: string(p.Status.NominatedNodeName),
			HostIP:            p.Status.HostIP,
			PodIP:             p.Status.PodIP,
		},
	}
	if out.Spec.SchedulerName == "" {
		out.Spec.SchedulerName = api.DefaultSchedulerName
	}
	if p.Spec.PreemptionPolicy != "" {
		pp := v1.PreemptionPolicy(p.Spec.PreemptionPolicy)
		out.Spec.PreemptionPolicy = &pp
	}
	for _, t := range p.Spec.Tolerations {
		out.Spec.Tolerations = append(out.Spec.Tolerations, v1.Toleration{Key: t.Key, Operator: v1.TolerationOperator(t.Operator), Value: t.Value,
			Effect: v1.TaintEffect(t.Effect), TolerationSeconds: t.TolerationSeconds})
	}
	for _, v := range p.Spec.Volumes {
		out.Spec.Volumes = append(out.Spec.Volumes, v1.Volume{Name: v.Name,
			VolumeSource: v1.VolumeSource{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: v.ClaimName}}})
	}
	for _, c := range p.Spec.TopologySpreadConstraints {
		out.Spec.TopologySpreadConstraints = append(out.Spec.TopologySpreadConstraints, v1.TopologySpreadConstraint{
			MaxSkew: c.MaxSkew, TopologyKey: c.TopologyKey, WhenUnsatisfiable: v1.UnsatisfiableConstraintAction(c.WhenUnsatisfiable),
			LabelSelector: LabelSelector(c.LabelSelector), MinDomains: c.MinDomains})
	}
	for _, c := range p.Status.Conditions {
		out.Status.Conditions = append(out.Status.Conditions, v1.PodCondition{Type: v1.PodConditionType(c.Type), Status: v1.ConditionStatus(c.Status),
			Reason: c.Reason, Message: c.Message, LastTransitionTime: mtime(c.LastTransitionTime)})
	}
	if p.Status.StartTime != nil {
		t := mtime(*p.Status.StartTime)
		out.Status.StartTime = &t
	}
	return out
}

// ConvertService converts a Service (its selector drives default spreading).
func ConvertService(s *api.Service) *v1.Service {
	return &v1.Service{ObjectMeta: meta(&s.ObjectMeta), Spec: v1.ServiceSpec{Selector: s.Spec.Selector, ClusterIP: s.Spec.ClusterIP, Type: v1.ServiceType(s.Spec.Type)}}
}

// ConvertPDB converts a PodDisruptionBudget (its selector and
// status.disruptionsAllowed and disruptedPods drive preemption's PDB checks).
func ConvertPDB(b *api.PodDisruptionBudget) *policyv1.PodDisruptionBudget {
	ios := func(v *api.IntOrPercent) *intstr.IntOrString {
		if v == nil {
			return nil
		}
		var o intstr.IntOrString
		if v.IsPercent {
			o = intstr.FromString(strconv.Itoa(int(v.Value)) + "%")
		} else {
			o = intstr.FromInt32(v.Value)
		}
		return &o
	}
	out := &policyv1.PodDisruptionBudget{ObjectMeta: meta(&b.ObjectMeta),
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ios(b.Spec.MinAvailable), MaxUnavailable: ios(b.Spec.MaxUnavailable),
			Selector: LabelSelector(b.Spec.Selector)},
		Status: policyv1.PodDisruptionBudgetStatus{ObservedGeneration: b.Status.ObservedGeneration,
			DisruptionsAllowed: b.Status.DisruptionsAllowed, CurrentHealthy: b.Status.CurrentHealthy,
			DesiredHealthy: b.Status.DesiredHealthy, ExpectedPods: b.Status.ExpectedPods}}
	if len(b.Status.DisruptedPods) > 0 {
		out.Status.DisruptedPods = make(map[string]metav1.Time, len(b.Status.DisruptedPods))
		for k, t := range b.Status.DisruptedPods {
			out.Status.DisruptedPods[k] = mtime(t)
		}
	}
	return out
}

// ConvertReplicaSet converts a ReplicaSet (its selector drives default spreading).
func ConvertReplicaSet(r *api.ReplicaSet) *appsv1.ReplicaSet {
	n := r.Spec.Replicas
	return &appsv1.ReplicaSet{ObjectMeta: meta(&r.ObjectMeta), Spec: appsv1.ReplicaSetSpec{Replicas: &n, Selector: LabelSelector(r.Spec.Selector)}}
}

// ConvertStatefulSet converts a StatefulSet (its selector drives default spreading).
func ConvertStatefulSet(s *api.StatefulSet) *appsv1.StatefulSet {
	n := s.Spec.Replicas
	return &appsv1.StatefulSet{ObjectMeta: meta(&s.ObjectMeta), Spec: appsv1.StatefulSetSpec{Replicas: &n, Selector: LabelSelector(s.Spec.Selector), ServiceName: s.Spec.ServiceName}}
}

func accessModes(ms []api.AccessMode) []v1.PersistentVolumeAccessMode {
	var out []v1.PersistentVolumeAccessMode
	for _, m := range ms {
		out = append(out, v1.PersistentVolumeAccessMode(m))
	}
	return out
}

// ConvertStorageClass converts a StorageClass (binding mode, allowed zones).
func ConvertStorageClass(s *api.StorageClass) *storagev1.StorageClass {
	out := &storagev1.StorageClass{ObjectMeta: meta(&s.ObjectMeta), Provisioner: s.Provisioner}
	if s.VolumeBindingMode != "" {
		m := storagev1.VolumeBindingMode(s.VolumeBindingMode)
		out.VolumeBindingMode = &m
	}
	if s.ReclaimPolicy != "" {
		rp := v1.PersistentVolumeReclaimPolicy(s.ReclaimPolicy)
		out.ReclaimPolicy = &rp
	}
	if len(s.AllowedZones) > 0 {
		out.AllowedTopologies = []v1.TopologySelectorTerm{{MatchLabelExpressions: []v1.TopologySelectorLabelRequirement{{Key: api.LabelZone, Values: s.AllowedZones}}}}
	}
	return out
}

// ConvertPV converts a PersistentVolume: its zone becomes the node affinity the
// volume plug-ins check.
func ConvertPV(p *api.PersistentVolume) *v1.PersistentVolume {
	out := &v1.PersistentVolume{ObjectMeta: meta(&p.ObjectMeta), Spec: v1.PersistentVolumeSpec{
		Capacity:         v1.ResourceList{v1.ResourceStorage: *resource.NewQuantity(p.CapacityBytes, resource.BinarySI)},
		AccessModes:      accessModes(p.AccessModes),
		StorageClassName: p.StorageClassName,
	}, Status: v1.PersistentVolumeStatus{Phase: v1.PersistentVolumePhase(p.Phase)}}
	if p.ClaimRef != nil {
		out.Spec.ClaimRef = &v1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: p.ClaimRef.Namespace, Name: p.ClaimRef.Name, UID: types.UID(p.ClaimRef.UID)}
	}
	if p.Zone != "" {
		out.Spec.NodeAffinity = &v1.VolumeNodeAffinity{Required: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{
			MatchExpressions: []v1.NodeSelectorRequirement{{Key: api.LabelZone, Operator: v1.NodeSelectorOpIn, Values: []string{p.Zone}}}}}}}
	}
	return out
}

// annBindCompleted is the PV controller's annotation on a bound claim; the
// VolumeBinding plug-in treats a claim without it as not yet bound.
const annBindCompleted = "pv.kubernetes.io/bind-completed"

// ConvertPVC converts a PersistentVolumeClaim. A bound claim gets the PV
// controller's bind-completed annotation (upstream's controller writes it; kubesim's
// models the binding without it).
func ConvertPVC(c *api.PersistentVolumeClaim) *v1.PersistentVolumeClaim {
	out := &v1.PersistentVolumeClaim{ObjectMeta: meta(&c.ObjectMeta), Spec: v1.PersistentVolumeClaimSpec{
		AccessModes: accessModes(c.AccessModes),
		Resources:   v1.VolumeResourceRequirements{Requests: v1.ResourceList{v1.ResourceStorage: *resource.NewQuantity(c.RequestBytes, resource.BinarySI)}},
		VolumeName:  c.VolumeName,
	}, Status: v1.PersistentVolumeClaimStatus{Phase: v1.PersistentVolumeClaimPhase(c.Phase)}}
	if c.StorageClassName != "" {
		sc := c.StorageClassName
		out.Spec.StorageClassName = &sc
	}
	if c.VolumeName != "" {
		ann := make(map[string]string, len(c.Annotations)+1)
		for k, v := range c.Annotations {
			ann[k] = v
		}
		ann[annBindCompleted] = "yes"
		out.Annotations = ann
	}
	return out
}
