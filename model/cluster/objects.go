package cluster

import (
	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scenario"
)

// DeploymentObject converts a scenario Deployment into the API object a user would
// POST: its labels are both the selector and the pod template's labels.
func DeploymentObject(d *scenario.Deployment) (*api.Deployment, error) {
	surge, err := scenario.ParseIntOrPercent(d.MaxSurge)
	if err != nil {
		return nil, err
	}
	unavail, err := scenario.ParseIntOrPercent(d.MaxUnavailable)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{}
	sel := map[string]string{}
	for k, v := range d.Labels {
		labels[k] = v
		sel[k] = v
	}
	spec := api.PodSpec{SchedulerName: d.SchedulerName, Priority: d.Priority}
	if len(d.NodeSelector) > 0 {
		spec.NodeSelector = map[string]string{}
		for k, v := range d.NodeSelector {
			spec.NodeSelector[k] = v
		}
	}
	for _, t := range d.Tolerations {
		spec.Tolerations = append(spec.Tolerations, api.Toleration{Key: t.Key, Operator: api.TolerationOperator(t.Operator),
			Value: t.Value, Effect: api.TaintEffect(t.Effect), TolerationSeconds: t.TolerationSeconds})
	}
	for _, c := range d.Containers {
		ct := api.Container{Name: c.Name, Image: c.Image, ImagePullPolicy: api.PullPolicy(c.ImagePullPolicy),
			Requests: resources(&c.Requests), Limits: resources(&c.Limits)}
		for _, p := range c.Ports {
			ct.Ports = append(ct.Ports, api.ContainerPort{Name: p.Name, ContainerPort: p.ContainerPort, HostPort: p.HostPort, Protocol: p.Protocol})
		}
		if p := c.ReadinessProbe; p != nil {
			ct.ReadinessProbe = &api.Probe{InitialDelaySeconds: p.InitialDelaySeconds, PeriodSeconds: p.PeriodSeconds,
				TimeoutSeconds: p.TimeoutSeconds, SuccessThreshold: p.SuccessThreshold, FailureThreshold: p.FailureThreshold}
		}
		spec.Containers = append(spec.Containers, ct)
	}
	return &api.Deployment{
		ObjectMeta: api.ObjectMeta{Name: d.Name, Namespace: d.Namespace, Labels: copyLabels(d.Labels)},
		Spec: api.DeploymentSpec{
			Replicas:        *d.Replicas,
			Selector:        &api.LabelSelector{MatchLabels: sel},
			Template:        api.PodTemplateSpec{Labels: labels, Spec: spec},
			Strategy:        api.DeploymentStrategy{Type: api.DeploymentStrategyType(d.Strategy), MaxSurge: surge, MaxUnavailable: unavail},
			MinReadySeconds: d.MinReadySeconds,
		},
	}, nil
}

func resources(r *scenario.Resources) api.Resources {
	var out api.Resources
	if r.CPU.Set {
		out.MilliCPU = r.CPU.Milli()
	}
	if r.Memory.Set {
		out.Memory = r.Memory.Value()
	}
	if r.EphemeralStorage.Set {
		out.EphemeralStorage = r.EphemeralStorage.Value()
	}
	return out
}

// ServiceObject converts a scenario Service into the API object.
func ServiceObject(s *scenario.Service) *api.Service {
	out := &api.Service{
		ObjectMeta: api.ObjectMeta{Name: s.Name, Namespace: s.Namespace},
		Spec: api.ServiceSpec{Selector: copyLabels(s.Selector), SessionAffinity: api.ServiceAffinity(s.SessionAffinity),
			PublishNotReadyAddresses: s.PublishNotReadyAddresses},
	}
	for _, p := range s.Ports {
		out.Spec.Ports = append(out.Spec.Ports, api.ServicePort{Name: p.Name, Port: p.Port, TargetPort: p.TargetPort})
	}
	return out
}

func copyLabels(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// HPAObject converts a scenario HPA into an autoscaling/v2 object on CPU.
func HPAObject(h *scenario.HPA) *api.HorizontalPodAutoscaler {
	util := h.CPUUtilization
	out := &api.HorizontalPodAutoscaler{
		ObjectMeta: api.ObjectMeta{Name: h.Name, Namespace: h.Namespace},
		Spec: api.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: api.CrossVersionObjectReference{Kind: api.KindDeployment, Name: h.Deployment},
			MinReplicas:    h.MinReplicas,
			MaxReplicas:    h.MaxReplicas,
			Metrics:        []api.MetricSpec{{Resource: "cpu", Target: api.MetricTarget{AverageUtilization: &util}}},
		},
	}
	if b := h.Behavior; b != nil {
		out.Spec.Behavior = &api.HPABehavior{ScaleUp: hpaRules(b.ScaleUp), ScaleDown: hpaRules(b.ScaleDown)}
	}
	return out
}

func hpaRules(r *scenario.HPARules) *api.HPAScalingRules {
	if r == nil {
		return nil
	}
	out := &api.HPAScalingRules{StabilizationWindowSeconds: r.StabilizationWindowSeconds, SelectPolicy: r.SelectPolicy}
	for _, p := range r.Policies {
		out.Policies = append(out.Policies, api.HPAScalingPolicy{Type: api.HPAScalingPolicyType(p.Type), Value: p.Value, PeriodSeconds: p.PeriodSeconds})
	}
	return out
}

// StorageClassObject converts a scenario storage class.
func StorageClassObject(s *scenario.StorageClass) *api.StorageClass {
	prov := s.Provisioner
	if prov == "" {
		prov = "kubesim.io/modeled-csi"
	}
	return &api.StorageClass{ObjectMeta: api.ObjectMeta{Name: s.Name}, Provisioner: prov,
		VolumeBindingMode: api.VolumeBindingMode(s.BindingMode), AllowedZones: append([]string(nil), s.Zones...)}
}

// StatefulSetObject converts a scenario StatefulSet: its labels are the selector
// and the template's labels; each volume claim template becomes a pod volume of the
// same name (the StatefulSet controller gives each pod its own claim).
func StatefulSetObject(st *scenario.StatefulSet) *api.StatefulSet {
	d := scenario.Deployment{Name: st.Name, Namespace: st.Namespace, Replicas: st.Replicas, Labels: st.Labels, Containers: st.Containers, SchedulerName: st.SchedulerName}
	dep, _ := DeploymentObject(&d) // the fields shared with a Deployment were validated
	out := &api.StatefulSet{
		ObjectMeta: api.ObjectMeta{Name: st.Name, Namespace: st.Namespace, Labels: copyLabels(st.Labels)},
		Spec: api.StatefulSetSpec{Replicas: *st.Replicas, Selector: dep.Spec.Selector, Template: dep.Spec.Template,
			ServiceName: st.ServiceName, PodManagementPolicy: st.PodManagementPolicy},
	}
	for _, vt := range st.VolumeClaimTemplates {
		mode := api.AccessMode(vt.AccessMode)
		if mode == "" {
			mode = api.ReadWriteOnce
		}
		out.Spec.VolumeClaimTemplates = append(out.Spec.VolumeClaimTemplates, api.PersistentVolumeClaim{
			ObjectMeta: api.ObjectMeta{Name: vt.Name}, RequestBytes: vt.Size.Value(), AccessModes: []api.AccessMode{mode}, StorageClassName: vt.StorageClass})
		out.Spec.Template.Spec.Volumes = append(out.Spec.Template.Spec.Volumes, api.Volume{Name: vt.Name, ClaimName: vt.Name})
	}
	return out
}
