package api

import (
	"fmt"
	"strings"
	"time"
)

// Defaults and validation applied by the apiserver on admission. Each default names
// the upstream file it comes from (reference §3, §4).

// DefaultTolerationSeconds is what the DefaultTolerationSeconds admission plugin
// gives the not-ready and unreachable NoExecute tolerations (reference §3.3;
// plugin/pkg/admission/defaulttolerationseconds/admission.go).
const DefaultTolerationSeconds int64 = 300

// Taint keys set by the node lifecycle controller.
const (
	TaintNodeNotReady      = "node.kubernetes.io/not-ready"
	TaintNodeUnreachable   = "node.kubernetes.io/unreachable"
	TaintNodeUnschedulable = "node.kubernetes.io/unschedulable"
)

// DefaultPullPolicy returns the API default image pull policy for image: Always when
// the tag is "latest" or there is neither tag nor digest, else IfNotPresent
// (reference §4; pkg/apis/core/v1/defaults.go).
func DefaultPullPolicy(image string) PullPolicy {
	if strings.Contains(image, "@") {
		return PullIfNotPresent
	}
	_, tag := SplitImage(image)
	if tag == "" || tag == "latest" {
		return PullAlways
	}
	return PullIfNotPresent
}

// SplitImage splits "repo:tag" into repo and tag; a colon inside a registry host
// ("host:5000/repo") is not a tag separator.
func SplitImage(image string) (repo, tag string) {
	slash := strings.LastIndex(image, "/")
	colon := strings.LastIndex(image, ":")
	if colon > slash {
		return image[:colon], image[colon+1:]
	}
	return image, ""
}

// NormalizeImage appends ":latest" to an image with no tag or digest, as the
// scheduler's ImageLocality plugin and the kubelet's image manager do
// (reference §2.6.3; pkg/util/parsers/parsers.go).
func NormalizeImage(image string) string {
	if strings.Contains(image, "@") {
		return image
	}
	if _, tag := SplitImage(image); tag == "" {
		return image + ":latest"
	}
	return image
}

// DefaultProbe fills a probe's unset fields with the API defaults: timeout 1 s,
// period 10 s, success threshold 1, failure threshold 3 (reference §4).
func DefaultProbe(p *Probe) {
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
}

// DefaultPodSpec applies the pod API defaults (reference §4: restartPolicy Always,
// terminationGracePeriodSeconds 30, schedulerName default-scheduler; image pull
// policy by tag). The DefaultTolerationSeconds admission plugin is
// AddDefaultTolerations, applied to pods only, as upstream admits pods.
func DefaultPodSpec(s *PodSpec) {
	if s.RestartPolicy == "" {
		s.RestartPolicy = RestartAlways
	}
	if s.SchedulerName == "" {
		s.SchedulerName = DefaultSchedulerName
	}
	if s.TerminationGracePeriodSeconds == 0 {
		s.TerminationGracePeriodSeconds = 30
	}
	for _, cs := range [][]Container{s.InitContainers, s.Containers} {
		for i := range cs {
			c := &cs[i]
			if c.ImagePullPolicy == "" {
				c.ImagePullPolicy = DefaultPullPolicy(c.Image)
			}
			for j := range c.Ports {
				if c.Ports[j].Protocol == "" {
					c.Ports[j].Protocol = "TCP"
				}
			}
			for _, pr := range []*Probe{c.ReadinessProbe, c.LivenessProbe, c.StartupProbe} {
				if pr != nil {
					DefaultProbe(pr)
				}
			}
			// A limit without a request defaults the request to the limit
			// (pkg/apis/core/v1/defaults.go SetDefaults_Pod).
			if c.Requests.MilliCPU == 0 && c.Limits.MilliCPU > 0 {
				c.Requests.MilliCPU = c.Limits.MilliCPU
			}
			if c.Requests.Memory == 0 && c.Limits.Memory > 0 {
				c.Requests.Memory = c.Limits.Memory
			}
		}
	}
}

// AddDefaultTolerations is the DefaultTolerationSeconds admission plugin: a pod
// without them gets the not-ready and unreachable NoExecute tolerations for the
// given seconds (--default-not-ready-toleration-seconds and
// --default-unreachable-toleration-seconds, both 300 by default; reference §3.3).
func AddDefaultTolerations(s *PodSpec, notReadySeconds, unreachableSeconds int64) {
	addDefaultToleration(s, TaintNodeNotReady, notReadySeconds)
	addDefaultToleration(s, TaintNodeUnreachable, unreachableSeconds)
}

func addDefaultToleration(s *PodSpec, key string, secs int64) {
	for _, t := range s.Tolerations {
		if (t.Key == key || (t.Key == "" && t.Operator == TolerationOpExists)) &&
			(t.Effect == "" || t.Effect == TaintNoExecute) {
			return
		}
	}
	s.Tolerations = append(s.Tolerations, Toleration{Key: key, Operator: TolerationOpExists, Effect: TaintNoExecute, TolerationSeconds: &secs})
}

// ValidatePodSpec checks what the apiserver's validation would reject.
func ValidatePodSpec(s *PodSpec) error {
	if len(s.Containers) == 0 {
		return fmt.Errorf("spec.containers: at least one container is required")
	}
	names := map[string]bool{}
	for _, cs := range [][]Container{s.InitContainers, s.Containers} {
		for i := range cs {
			c := &cs[i]
			if c.Name == "" {
				return fmt.Errorf("spec.containers[%d].name: required", i)
			}
			if names[c.Name] {
				return fmt.Errorf("spec.containers[%d].name: duplicate name %q", i, c.Name)
			}
			names[c.Name] = true
			if c.Image == "" {
				return fmt.Errorf("container %q: image is required", c.Name)
			}
			if err := validateResources(&c.Requests); err != nil {
				return fmt.Errorf("container %q: requests: %w", c.Name, err)
			}
			if err := validateResources(&c.Limits); err != nil {
				return fmt.Errorf("container %q: limits: %w", c.Name, err)
			}
			if c.Limits.MilliCPU > 0 && c.Requests.MilliCPU > c.Limits.MilliCPU {
				return fmt.Errorf("container %q: cpu request must be less than or equal to cpu limit", c.Name)
			}
			if c.Limits.Memory > 0 && c.Requests.Memory > c.Limits.Memory {
				return fmt.Errorf("container %q: memory request must be less than or equal to memory limit", c.Name)
			}
			for _, p := range c.Ports {
				if p.ContainerPort < 1 || p.ContainerPort > 65535 {
					return fmt.Errorf("container %q: containerPort %d must be in 1..65535", c.Name, p.ContainerPort)
				}
				if p.HostPort < 0 || p.HostPort > 65535 {
					return fmt.Errorf("container %q: hostPort %d must be in 0..65535", c.Name, p.HostPort)
				}
			}
		}
	}
	switch s.RestartPolicy {
	case RestartAlways, RestartOnFailure, RestartNever:
	default:
		return fmt.Errorf("spec.restartPolicy: unsupported value %q (Always, OnFailure, Never)", s.RestartPolicy)
	}
	if s.TerminationGracePeriodSeconds < 0 {
		return fmt.Errorf("spec.terminationGracePeriodSeconds: must not be negative")
	}
	return nil
}

func validateResources(r *Resources) error {
	if r.MilliCPU < 0 || r.Memory < 0 || r.EphemeralStorage < 0 {
		return fmt.Errorf("quantities must not be negative")
	}
	for k, v := range r.Scalar {
		if v < 0 {
			return fmt.Errorf("%s must not be negative", k)
		}
	}
	return nil
}

// DefaultDeploymentSpec applies the apps/v1 Deployment defaults (reference §3.1;
// pkg/apis/apps/v1/defaults.go): strategy RollingUpdate with maxSurge and
// maxUnavailable 25%, revisionHistoryLimit 10, progressDeadlineSeconds 600.
// Replicas must be set by the caller (its API default is 1).
func DefaultDeploymentSpec(s *DeploymentSpec) {
	if s.Strategy.Type == "" {
		s.Strategy.Type = RollingUpdateStrategy
	}
	if s.Strategy.Type == RollingUpdateStrategy {
		if s.Strategy.MaxSurge == (IntOrPercent{}) && s.Strategy.MaxUnavailable == (IntOrPercent{}) {
			s.Strategy.MaxSurge = IntOrPercent{IsPercent: true, Value: 25}
			s.Strategy.MaxUnavailable = IntOrPercent{IsPercent: true, Value: 25}
		}
	}
	if s.RevisionHistoryLimit == 0 {
		s.RevisionHistoryLimit = 10
	}
	if s.ProgressDeadlineSeconds == 0 {
		s.ProgressDeadlineSeconds = 600
	}
	DefaultPodSpec(&s.Template.Spec)
}

// ValidateDeploymentSpec checks a Deployment spec as the apiserver would.
func ValidateDeploymentSpec(s *DeploymentSpec) error {
	if s.Replicas < 0 {
		return fmt.Errorf("spec.replicas: must be greater than or equal to 0, got %d", s.Replicas)
	}
	if s.Selector == nil || s.Selector.IsEmpty() {
		return fmt.Errorf("spec.selector: required (empty selectors are not allowed for Deployments)")
	}
	if !s.Selector.Matches(s.Template.Labels) {
		return fmt.Errorf("spec.template.metadata.labels: selector does not match template labels")
	}
	if s.MinReadySeconds < 0 {
		return fmt.Errorf("spec.minReadySeconds: must not be negative")
	}
	return ValidatePodSpec(&s.Template.Spec)
}

// ServiceClusterIPBase is the first address the modeled allocator hands out
// (the default service CIDR of kubeadm is 10.96.0.0/12).
const ServiceClusterIPBase = "10.96.0."

// DefaultServiceSpec applies Service defaults: type ClusterIP, sessionAffinity None,
// targetPort = port, protocol TCP.
func DefaultServiceSpec(s *ServiceSpec) {
	if s.Type == "" {
		s.Type = "ClusterIP"
	}
	if s.SessionAffinity == "" {
		s.SessionAffinity = AffinityNone
	}
	for i := range s.Ports {
		if s.Ports[i].TargetPort == 0 {
			s.Ports[i].TargetPort = s.Ports[i].Port
		}
		if s.Ports[i].Protocol == "" {
			s.Ports[i].Protocol = "TCP"
		}
	}
}

// ValidateServiceSpec checks a Service spec.
func ValidateServiceSpec(s *ServiceSpec) error {
	if len(s.Ports) == 0 {
		return fmt.Errorf("spec.ports: at least one port is required")
	}
	for i, p := range s.Ports {
		if p.Port < 1 || p.Port > 65535 {
			return fmt.Errorf("spec.ports[%d].port: %d must be in 1..65535", i, p.Port)
		}
		if p.TargetPort < 0 || p.TargetPort > 65535 {
			return fmt.Errorf("spec.ports[%d].targetPort: %d must be in 1..65535", i, p.TargetPort)
		}
	}
	switch s.SessionAffinity {
	case "", AffinityNone, AffinityClientIP:
	default:
		return fmt.Errorf("spec.sessionAffinity: unsupported value %q (None, ClientIP)", s.SessionAffinity)
	}
	return nil
}

// Seconds converts whole seconds to a duration.
func Seconds(s int32) time.Duration { return time.Duration(s) * time.Second }
