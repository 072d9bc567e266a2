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
