package manifest

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubesim/kubesim/model/api"
)

// Annotations kubesim reads from manifests.
const (
	// AnnotationRunDuration (on a Pod, or on a controller's pod template) is how
	// long each regular container's process runs before it exits with code 0, a
	// Go duration such as "90s" or "10m" (api.Container.RunDuration). Without it
	// a container runs until it is stopped, so a Job never completes.
	AnnotationRunDuration = "kubesim.io/run-duration"
	// AnnotationRunDurationPrefix + a container name sets one container's run
	// duration ("kubesim.io/run-duration.migrate: 5s"); it overrides
	// AnnotationRunDuration, and is how an init container's duration is given.
	AnnotationRunDurationPrefix = AnnotationRunDuration + "."
	// DefaultInitRunDuration is the run time of an init container without an
	// annotation: it must exit for the pod to start. A model choice.
	DefaultInitRunDuration = time.Second
)

type converter struct {
	file, kind, name string
	doc, line        int
	itemPath         string
	lines            map[string]int
	warnings         []Warning
	namespace        string
}

func (c *converter) fieldPath(p string) string {
	if c.itemPath != "" {
		return c.itemPath + "." + p
	}
	return p
}

func (c *converter) ref() string {
	if c.namespace != "" {
		return strings.ToLower(c.kind) + "/" + c.namespace + "/" + c.name
	}
	return strings.ToLower(c.kind) + "/" + c.name
}

// errf is an error at a field path of the document.
func (c *converter) errf(path, format string, a ...any) error {
	return &Error{File: c.file, Line: lineAt(c.lines, path, c.line), Doc: c.doc, Kind: c.kind, Name: c.name,
		Field: c.fieldPath(path), Msg: fmt.Sprintf(format, a...)}
}

// refuse is the error for a field kubesim cannot honour.
func (c *converter) refuse(path, what string) error {
	return c.errf(path, "not supported by kubesim: %s (it would change scheduling or the pods' lifecycle; remove it to load the manifest)", what)
}

func (c *converter) warn(path, msg string) {
	c.warnings = append(c.warnings, Warning{File: c.file, Line: lineAt(c.lines, path, c.line), Doc: c.doc, Object: c.ref(), Field: c.fieldPath(path), Msg: msg})
}

func (c *converter) convert(target any) (api.Object, error) {
	switch o := target.(type) {
	case *appsv1.Deployment:
		return c.deployment(o)
	case *appsv1.ReplicaSet:
		return c.replicaSet(o)
	case *appsv1.StatefulSet:
		return c.statefulSet(o)
	case *batchv1.Job:
		return c.job(o)
	case *corev1.Pod:
		return c.pod(o)
	case *corev1.Service:
		return c.service(o)
	case *schedulingv1.PriorityClass:
		return c.priorityClass(o)
	case *corev1.Node:
		return c.node(o)
	case *policyv1.PodDisruptionBudget:
		return c.pdb(o)
	}
	return nil, fmt.Errorf("manifest: no conversion for %T", target)
}

func (c *converter) meta(m *metav1.ObjectMeta, namespaced bool) (api.ObjectMeta, error) {
	if m.Name == "" {
		if m.GenerateName != "" {
			return api.ObjectMeta{}, c.errf("metadata.generateName", "not supported: give metadata.name (kubesim objects need a fixed name)")
		}
		return api.ObjectMeta{}, c.errf("metadata.name", "required")
	}
	if namespaced {
		c.namespace = m.Namespace
		if c.namespace == "" {
			c.namespace = api.NamespaceDefault
		}
	} else if m.Namespace != "" {
		return api.ObjectMeta{}, c.errf("metadata.namespace", "%s is cluster-scoped and has no namespace", c.kind)
	}
	return api.ObjectMeta{Name: m.Name, Namespace: c.namespace, Labels: copyMap(m.Labels), Annotations: copyMap(m.Annotations)}, nil
}

func copyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1 // the apps/v1 default
	}
	return *p
}

func (c *converter) deployment(d *appsv1.Deployment) (api.Object, error) {
	meta, err := c.meta(&d.ObjectMeta, true)
	if err != nil {
		return nil, err
	}
	sel, err := c.selector("spec.selector", d.Spec.Selector)
	if err != nil {
		return nil, err
	}
	tmpl, err := c.template("spec.template", &d.Spec.Template, nil)
	if err != nil {
		return nil, err
	}
	out := &api.Deployment{ObjectMeta: meta, Spec: api.DeploymentSpec{Replicas: replicas(d.Spec.Replicas), Selector: sel, Template: tmpl,
		MinReadySeconds: d.Spec.MinReadySeconds, Paused: d.Spec.Paused}}
	if v := d.Spec.RevisionHistoryLimit; v != nil {
		out.Spec.RevisionHistoryLimit = *v
	}
	if v := d.Spec.ProgressDeadlineSeconds; v != nil {
		out.Spec.ProgressDeadlineSeconds = *v
	}
	st := &d.Spec.Strategy
	switch st.Type {
	case "", appsv1.RollingUpdateDeploymentStrategyType:
		out.Spec.Strategy.Type = api.RollingUpdateStrategy
		// apps/v1 defaults each of maxSurge and maxUnavailable to 25% when unset
		// (pkg/apis/apps/v1/defaults.go SetDefaults_Deployment).
		out.Spec.Strategy.MaxSurge = api.IntOrPercent{IsPercent: true, Value: 25}
		out.Spec.Strategy.MaxUnavailable = api.IntOrPercent{IsPercent: true, Value: 25}
		if ru := st.RollingUpdate; ru != nil {
			if ru.MaxSurge != nil {
				if out.Spec.Strategy.MaxSurge, err = c.intOrPercent("spec.strategy.rollingUpdate.maxSurge", *ru.MaxSurge); err != nil {
					return nil, err
				}
			}
			if ru.MaxUnavailable != nil {
				if out.Spec.Strategy.MaxUnavailable, err = c.intOrPercent("spec.strategy.rollingUpdate.maxUnavailable", *ru.MaxUnavailable); err != nil {
					return nil, err
				}
			}
		}
		if s, u := out.Spec.Strategy.MaxSurge, out.Spec.Strategy.MaxUnavailable; s.Value == 0 && u.Value == 0 {
			return nil, c.errf("spec.strategy.rollingUpdate", "maxSurge and maxUnavailable may not both be 0")
		}
	case appsv1.RecreateDeploymentStrategyType:
		if st.RollingUpdate != nil {
			return nil, c.errf("spec.strategy.rollingUpdate", "may not be given when strategy type is Recreate")
		}
		out.Spec.Strategy.Type = api.RecreateStrategy
	default:
		return nil, c.errf("spec.strategy.type", "unknown strategy %q (RollingUpdate, Recreate)", st.Type)
	}
	if err := c.checkSelects(sel, tmpl.Labels); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *converter) intOrPercent(path string, v intstr.IntOrString) (api.IntOrPercent, error) {
	if v.Type == intstr.Int {
		if v.IntVal < 0 {
			return api.IntOrPercent{}, c.errf(path, "must not be negative")
		}
		return api.IntOrPercent{Value: v.IntVal}, nil
	}
	s := v.StrVal
	var n int32
	if _, err := fmt.Sscanf(s, "%d%%", &n); err != nil || !strings.HasSuffix(s, "%") || fmt.Sprintf("%d%%", n) != s || n < 0 {
		return api.IntOrPercent{}, c.errf(path, "%q is not a count or a percentage such as 25%%", s)
	}
	return api.IntOrPercent{IsPercent: true, Value: n}, nil
}

func (c *converter) checkSelects(sel *api.LabelSelector, labels map[string]string) error {
	if sel == nil || sel.IsEmpty() {
		return c.errf("spec.selector", "required (a non-empty label selector)")
	}
	if !sel.Matches(labels) {
		return c.errf("spec.template.metadata.labels", "the selector does not match the template's labels")
	}
	return nil
}

func (c *converter) replicaSet(r *appsv1.ReplicaSet) (api.Object, error) {
	meta, err := c.meta(&r.ObjectMeta, true)
	if err != nil {
		return nil, err
	}
	sel, err := c.selector("spec.selector", r.Spec.Selector)
	if err != nil {
		return nil, err
	}
	tmpl, err := c.template("spec.template", &r.Spec.Template, nil)
	if err != nil {
		return nil, err
	}
	if err := c.checkSelects(sel, tmpl.Labels); err != nil {
		return nil, err
	}
	return &api.ReplicaSet{ObjectMeta: meta, Spec: api.ReplicaSetSpec{Replicas: replicas(r.Spec.Replicas), Selector: sel, Template: tmpl,
		MinReadySeconds: r.Spec.MinReadySeconds}}, nil
}

func (c *converter) statefulSet(s *appsv1.StatefulSet) (api.Object, error) {
	meta, err := c.meta(&s.ObjectMeta, true)
	if err != nil {
		return nil, err
	}
	sel, err := c.selector("spec.selector", s.Spec.Selector)
	if err != nil {
		return nil, err
	}
	tmpl, err := c.template("spec.template", &s.Spec.Template, nil)
	if err != nil {
		return nil, err
	}
	if err := c.checkSelects(sel, tmpl.Labels); err != nil {
		return nil, err
	}
	out := &api.StatefulSet{ObjectMeta: meta, Spec: api.StatefulSetSpec{Replicas: replicas(s.Spec.Replicas), Selector: sel, Template: tmpl,
		ServiceName: s.Spec.ServiceName, PodManagementPolicy: string(s.Spec.PodManagementPolicy), MinReadySeconds: s.Spec.MinReadySeconds}}
	switch s.Spec.PodManagementPolicy {
	case "", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		return nil, c.errf("spec.podManagementPolicy", "unknown policy %q (OrderedReady, Parallel)", s.Spec.PodManagementPolicy)
	}
	for i := range s.Spec.VolumeClaimTemplates {
		vt := &s.Spec.VolumeClaimTemplates[i]
		p := fmt.Sprintf("spec.volumeClaimTemplates[%d]", i)
		if vt.Name == "" {
			return nil, c.errf(p+".metadata.name", "required")
		}
		q, ok := vt.Spec.Resources.Requests[corev1.ResourceStorage]
		if !ok || q.Sign() <= 0 {
			return nil, c.errf(p+".spec.resources.requests.storage", "a positive storage request is required (for example 1Gi)")
		}
		pvc := api.PersistentVolumeClaim{ObjectMeta: api.ObjectMeta{Name: vt.Name}, RequestBytes: q.Value()}
		if vt.Spec.StorageClassName != nil {
			pvc.StorageClassName = *vt.Spec.StorageClassName
		}
		for _, m := range vt.Spec.AccessModes {
			pvc.AccessModes = append(pvc.AccessModes, api.AccessMode(m))
		}
		if len(pvc.AccessModes) == 0 {
			pvc.AccessModes = []api.AccessMode{api.ReadWriteOnce}
		}
		out.Spec.VolumeClaimTemplates = append(out.Spec.VolumeClaimTemplates, pvc)
		// The controller gives each pod its own claim, mounted as a volume of the
		// template's name.
		out.Spec.Template.Spec.Volumes = append(out.Spec.Template.Spec.Volumes, api.Volume{Name: vt.Name, ClaimName: vt.Name})
	}
	return out, nil
}

func (c *converter) job(j *batchv1.Job) (api.Object, error) {
	meta, err := c.meta(&j.ObjectMeta, true)
	if err != nil {
		return nil, err
	}
	s := &j.Spec
	switch {
	case s.CompletionMode != nil && *s.CompletionMode != batchv1.NonIndexedCompletion:
		return nil, c.refuse("spec.completionMode", "completionMode "+string(*s.CompletionMode)+" (only NonIndexed Jobs are modeled)")
	case s.Suspend != nil && *s.Suspend:
		return nil, c.refuse("spec.suspend", "a suspended Job")
	case s.PodFailurePolicy != nil:
		return nil, c.refuse("spec.podFailurePolicy", "podFailurePolicy")
	case s.SuccessPolicy != nil:
		return nil, c.refuse("spec.successPolicy", "successPolicy")
	case s.BackoffLimitPerIndex != nil:
		return nil, c.refuse("spec.backoffLimitPerIndex", "backoffLimitPerIndex")
	case s.MaxFailedIndexes != nil:
		return nil, c.refuse("spec.maxFailedIndexes", "maxFailedIndexes")
	case s.ActiveDeadlineSeconds != nil:
		return nil, c.refuse("spec.activeDeadlineSeconds", "activeDeadlineSeconds")
	case s.ManagedBy != nil && *s.ManagedBy != batchv1.JobControllerName:
		return nil, c.refuse("spec.managedBy", "a Job managed by another controller")
	}
	if err := c.refuseSet("spec.scheduling", fieldSet(&j.Spec, "Scheduling"), "Job scheduling (gang) settings"); err != nil {
		return nil, err
	}
	if err := c.refuseSet("spec.failedPodsLimit", fieldSet(&j.Spec, "FailedPodsLimit"), "failedPodsLimit"); err != nil {
		return nil, err
	}
	tmpl, err := c.template("spec.template", &j.Spec.Template, j.Annotations)
	if err != nil {
		return nil, err
	}
	switch tmpl.Spec.RestartPolicy {
	case api.RestartNever, api.RestartOnFailure:
	default:
		return nil, c.errf("spec.template.spec.restartPolicy", "a Job's pods need restartPolicy Never or OnFailure, got %q", tmpl.Spec.RestartPolicy)
	}
	out := &api.Job{ObjectMeta: meta, Spec: api.JobSpec{Completions: 1, Parallelism: 1, Template: tmpl}}
	if v := s.Completions; v != nil {
		if *v < 1 {
			return nil, c.errf("spec.completions", "must be at least 1 in kubesim, got %d", *v)
		}
		out.Spec.Completions = *v
	}
	if v := s.Parallelism; v != nil {
		if *v < 1 {
			return nil, c.errf("spec.parallelism", "must be at least 1 in kubesim (a Job with parallelism 0 never runs), got %d", *v)
		}
		out.Spec.Parallelism = *v
	}
	if v := s.BackoffLimit; v != nil {
		if *v < 0 {
			return nil, c.errf("spec.backoffLimit", "must not be negative")
		}
		b := *v
		out.Spec.BackoffLimit = &b
	}
	c.warnNoRunDuration(tmpl, "spec.template.metadata.annotations", "the Job never completes")
	return out, nil
}

func (c *converter) warnNoRunDuration(t api.PodTemplateSpec, path, consequence string) {
	for _, ct := range t.Spec.Containers {
		if ct.RunDuration == 0 {
			c.warn(path, fmt.Sprintf("no %s annotation: container %s runs until stopped, so %s", AnnotationRunDuration, ct.Name, consequence))
			return
		}
	}
}

func (c *converter) pod(p *corev1.Pod) (api.Object, error) {
	meta, err := c.meta(&p.ObjectMeta, true)
	if err != nil {
		return nil, err
	}
	spec, err := c.podSpec("spec", &p.Spec, p.Annotations, nil)
	if err != nil {
		return nil, err
	}
	out := &api.Pod{ObjectMeta: meta, Spec: spec}
	if spec.RestartPolicy != "" && spec.RestartPolicy != api.RestartAlways {
		c.warnNoRunDuration(api.PodTemplateSpec{Spec: spec}, "metadata.annotations", "the pod never completes")
	}
	return out, nil
}

// template converts a pod template; fallback are annotations consulted for the
// run duration when the template has none (a Job's own annotations).
func (c *converter) template(path string, t *corev1.PodTemplateSpec, fallback map[string]string) (api.PodTemplateSpec, error) {
	spec, err := c.podSpec(path+".spec", &t.Spec, t.Annotations, fallback)
	if err != nil {
		return api.PodTemplateSpec{}, err
	}
	return api.PodTemplateSpec{Labels: copyMap(t.Labels), Annotations: copyMap(t.Annotations), Spec: spec}, nil
}

// refuseSet refuses a field when set is true.
func (c *converter) refuseSet(path string, set bool, what string) error {
	if set {
		return c.refuse(path, what)
	}
	return nil
}

func (c *converter) podSpec(path string, s *corev1.PodSpec, ann, fallback map[string]string) (api.PodSpec, error) {
	var out api.PodSpec
	for _, r := range []struct {
		field string
		set   bool
		what  string
	}{
		{"overhead", len(s.Overhead) > 0, "pod overhead (it adds to the pod's requests)"},
		{"resources", s.Resources != nil, "pod-level resources"},
		{"resourceClaims", len(s.ResourceClaims) > 0, "dynamic resource allocation claims"},
		{"schedulingGates", len(s.SchedulingGates) > 0, "scheduling gates (the pod would wait for them to be removed)"},
		{"readinessGates", len(s.ReadinessGates) > 0, "readiness gates"},
		{"activeDeadlineSeconds", s.ActiveDeadlineSeconds != nil, "activeDeadlineSeconds"},
		{"ephemeralContainers", len(s.EphemeralContainers) > 0, "ephemeral containers"},
		{"workloadRef", fieldSet(s, "WorkloadRef"), "workload references (gang scheduling)"},
		{"schedulingGroup", fieldSet(s, "SchedulingGroup"), "scheduling groups (gang scheduling)"},
		{"evictionResponders", fieldSet(s, "EvictionResponders"), "eviction responders"},
	} {
		if err := c.refuseSet(path+"."+r.field, r.set, r.what); err != nil {
			return out, err
		}
	}
	runFor := func(name string, init bool) (time.Duration, error) {
		for _, src := range []map[string]string{ann, fallback} {
			if v, ok := src[AnnotationRunDurationPrefix+name]; ok {
				return c.runDuration(AnnotationRunDurationPrefix+name, v)
			}
		}
		if init {
			return DefaultInitRunDuration, nil
		}
		for _, src := range []map[string]string{ann, fallback} {
			if v, ok := src[AnnotationRunDuration]; ok {
				return c.runDuration(AnnotationRunDuration, v)
			}
		}
		return 0, nil
	}
	for li, list := range [][]corev1.Container{s.InitContainers, s.Containers} {
		init := li == 0
		field := "containers"
		if init {
			field = "initContainers"
		}
		for i := range list {
			cp := fmt.Sprintf("%s.%s[%d]", path, field, i)
			ct, err := c.container(cp, &list[i], init, s.HostNetwork)
			if err != nil {
				return out, err
			}
			if ct.RunDuration, err = runFor(ct.Name, init); err != nil {
				return out, err
			}
			if init {
				out.InitContainers = append(out.InitContainers, ct)
			} else {
				out.Containers = append(out.Containers, ct)
			}
		}
	}
	if len(out.Containers) == 0 {
		return out, c.errf(path+".containers", "at least one container is required")
	}
	out.NodeSelector = copyMap(s.NodeSelector)
	out.NodeName = api.NodeName(s.NodeName)
	out.SchedulerName = s.SchedulerName
	out.PriorityClassName = s.PriorityClassName
	if s.Priority != nil {
		out.Priority = *s.Priority
	}
	if s.PreemptionPolicy != nil {
		switch *s.PreemptionPolicy {
		case corev1.PreemptLowerPriority, corev1.PreemptNever:
			out.PreemptionPolicy = string(*s.PreemptionPolicy)
		default:
			return out, c.errf(path+".preemptionPolicy", "unknown policy %q (PreemptLowerPriority, Never)", *s.PreemptionPolicy)
		}
	}
	switch s.RestartPolicy {
	case "", corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever:
		out.RestartPolicy = api.RestartPolicy(s.RestartPolicy)
	default:
		return out, c.errf(path+".restartPolicy", "unknown policy %q (Always, OnFailure, Never)", s.RestartPolicy)
	}
	if v := s.TerminationGracePeriodSeconds; v != nil {
		if *v < 0 {
			return out, c.errf(path+".terminationGracePeriodSeconds", "must not be negative")
		}
		out.TerminationGracePeriodSeconds = *v
		if *v == 0 {
			out.TerminationGracePeriodSeconds = 1 // the model's 0 means "default 30"; upstream kills at once, 1 s is the closest
		}
	}
	out.Hostname, out.Subdomain = s.Hostname, s.Subdomain
	for i, v := range s.Volumes {
		if v.PersistentVolumeClaim != nil {
			out.Volumes = append(out.Volumes, api.Volume{Name: v.Name, ClaimName: v.PersistentVolumeClaim.ClaimName})
		} else if v.Ephemeral != nil {
			return out, c.refuse(fmt.Sprintf("%s.volumes[%d].ephemeral", path, i), "generic ephemeral volumes (they create claims)")
		}
	}
	for i := range s.Tolerations {
		t, err := c.toleration(fmt.Sprintf("%s.tolerations[%d]", path, i), &s.Tolerations[i])
		if err != nil {
			return out, err
		}
		out.Tolerations = append(out.Tolerations, t)
	}
	if s.Affinity != nil {
		a, err := c.affinity(path+".affinity", s.Affinity)
		if err != nil {
			return out, err
		}
		out.Affinity = a
	}
	for i := range s.TopologySpreadConstraints {
		t, err := c.spread(fmt.Sprintf("%s.topologySpreadConstraints[%d]", path, i), &s.TopologySpreadConstraints[i])
		if err != nil {
			return out, err
		}
		out.TopologySpreadConstraints = append(out.TopologySpreadConstraints, t)
	}
	return out, nil
}

func (c *converter) runDuration(key, v string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d <= 0 {
		return 0, c.errf("metadata.annotations", "annotation %s: %q is not a positive duration (write it like 90s, 10m or 1h30m)", key, v)
	}
	return d, nil
}

func (c *converter) container(path string, k *corev1.Container, init, hostNetwork bool) (api.Container, error) {
	if k.Name == "" {
		return api.Container{}, c.errf(path+".name", "required")
	}
	if k.Image == "" {
		return api.Container{}, c.errf(path+".image", "required")
	}
	if k.RestartPolicy != nil {
		if init && *k.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			return api.Container{}, c.refuse(path+".restartPolicy", "sidecar containers (init containers with restartPolicy Always)")
		}
		return api.Container{}, c.refuse(path+".restartPolicy", "per-container restart policies")
	}
	if len(k.RestartPolicyRules) > 0 {
		return api.Container{}, c.refuse(path+".restartPolicyRules", "per-container restart rules")
	}
	if len(k.Resources.Claims) > 0 {
		return api.Container{}, c.refuse(path+".resources.claims", "dynamic resource allocation claims")
	}
	out := api.Container{Name: k.Name, Image: k.Image}
	switch k.ImagePullPolicy {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
		out.ImagePullPolicy = api.PullPolicy(k.ImagePullPolicy)
	default:
		return out, c.errf(path+".imagePullPolicy", "unknown policy %q (Always, IfNotPresent, Never)", k.ImagePullPolicy)
	}
	var err error
	if out.Requests, err = c.resources(path+".resources.requests", k.Resources.Requests, false); err != nil {
		return out, err
	}
	if out.Limits, err = c.resources(path+".resources.limits", k.Resources.Limits, false); err != nil {
		return out, err
	}
	// A limit without a request defaults the request to the limit, for every
	// resource (pkg/apis/core/v1/defaults.go SetDefaults_Pod).
	for _, name := range sortedNames(k.Resources.Limits) {
		q := k.Resources.Limits[name]
		if _, ok := k.Resources.Requests[name]; !ok {
			one, _ := c.resources(path+".resources.limits", corev1.ResourceList{name: q}, false)
			out.Requests.Add(&one)
		}
	}
	// Extended resources cannot be overcommitted: request must equal limit
	// (pkg/apis/core/validation validateResourceRequirements).
	for _, name := range sortedNames(k.Resources.Limits) {
		lim := k.Resources.Limits[name]
		if isExtended(name) {
			if req, ok := k.Resources.Requests[name]; ok && req.Cmp(lim) != 0 {
				return out, c.errf(path+".resources.requests."+string(name), "must equal its limit (%s): extended resources cannot be overcommitted", lim.String())
			}
		}
	}
	for _, name := range sortedNames(k.Resources.Requests) {
		req := k.Resources.Requests[name]
		if isExtended(name) {
			if _, ok := k.Resources.Limits[name]; !ok && !strings.HasPrefix(string(name), "kubesim.io/") {
				c.warn(path+".resources.requests."+string(name), "an extended resource needs a limit in Kubernetes (request "+req.String()+" taken as given)")
			}
		}
	}
	for i, p := range k.Ports {
		pp := fmt.Sprintf("%s.ports[%d]", path, i)
		if p.ContainerPort < 1 || p.ContainerPort > 65535 {
			return out, c.errf(pp+".containerPort", "must be in 1..65535, got %d", p.ContainerPort)
		}
		cp := api.ContainerPort{Name: p.Name, ContainerPort: p.ContainerPort, HostPort: p.HostPort, Protocol: string(p.Protocol), HostIP: p.HostIP}
		if hostNetwork && cp.HostPort == 0 {
			cp.HostPort = cp.ContainerPort // host network: container ports are host ports (pkg/apis/core/v1/defaults.go)
		}
		out.Ports = append(out.Ports, cp)
	}
	out.ReadinessProbe = probe(k.ReadinessProbe)
	out.LivenessProbe = probe(k.LivenessProbe)
	out.StartupProbe = probe(k.StartupProbe)
	return out, nil
}

func probe(p *corev1.Probe) *api.Probe {
	if p == nil {
		return nil
	}
	return &api.Probe{InitialDelaySeconds: p.InitialDelaySeconds, TimeoutSeconds: p.TimeoutSeconds, PeriodSeconds: p.PeriodSeconds,
		SuccessThreshold: p.SuccessThreshold, FailureThreshold: p.FailureThreshold}
}

// isExtended reports whether a resource name is an extended resource (a
// domain-prefixed name outside kubernetes.io, or hugepages).
func isExtended(name corev1.ResourceName) bool {
	s := string(name)
	return strings.Contains(s, "/") && !strings.HasPrefix(s, "kubernetes.io/")
}

// resources converts a resource list: cpu in millicores, memory and
// ephemeral-storage in bytes (rounded up, as Quantity.Value does), pods (nodes
// only), every other name as a scalar in its own units, which must be whole.
func (c *converter) resources(path string, l corev1.ResourceList, node bool) (api.Resources, error) {
	var out api.Resources
	names := make([]string, 0, len(l))
	for n := range l {
		names = append(names, string(n))
	}
	sort.Strings(names)
	for _, n := range names {
		q := l[corev1.ResourceName(n)]
		p := path + "." + n
		if q.Sign() < 0 {
			return out, c.errf(p, "must not be negative, got %s", q.String())
		}
		switch corev1.ResourceName(n) {
		case corev1.ResourceCPU:
			out.MilliCPU = q.MilliValue()
		case corev1.ResourceMemory:
			out.Memory = q.Value()
		case corev1.ResourceEphemeralStorage:
			out.EphemeralStorage = q.Value()
		case corev1.ResourcePods:
			if !node {
				return out, c.errf(p, "pods is a node capacity, not a container resource")
			}
			out.Pods = q.Value()
		case corev1.ResourceStorage:
			return out, c.errf(p, "storage is requested through a PersistentVolumeClaim, not by a container")
		default:
			if q.MilliValue()%1000 != 0 {
				return out, c.errf(p, "%s must be a whole number, got %s (for a share of a GPU use %s in thousandths)", n, q.String(), api.ResourceGPUMilli)
			}
			if out.Scalar == nil {
				out.Scalar = map[api.ResourceName]int64{}
			}
			out.Scalar[api.ResourceName(n)] = q.Value()
		}
	}
	return out, nil
}

func (c *converter) selector(path string, s *metav1.LabelSelector) (*api.LabelSelector, error) {
	if s == nil {
		return nil, nil
	}
	out := &api.LabelSelector{MatchLabels: copyMap(s.MatchLabels)}
	for i, e := range s.MatchExpressions {
		switch e.Operator {
		case metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn:
			if len(e.Values) == 0 {
				return nil, c.errf(fmt.Sprintf("%s.matchExpressions[%d].values", path, i), "required for operator %s", e.Operator)
			}
		case metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist:
			if len(e.Values) > 0 {
				return nil, c.errf(fmt.Sprintf("%s.matchExpressions[%d].values", path, i), "must be empty for operator %s", e.Operator)
			}
		default:
			return nil, c.errf(fmt.Sprintf("%s.matchExpressions[%d].operator", path, i), "unknown operator %q (In, NotIn, Exists, DoesNotExist)", e.Operator)
		}
		out.MatchExpressions = append(out.MatchExpressions, api.Requirement{Key: e.Key, Operator: api.SelectorOperator(e.Operator), Values: append([]string(nil), e.Values...)})
	}
	return out, nil
}

func (c *converter) toleration(path string, t *corev1.Toleration) (api.Toleration, error) {
	out := api.Toleration{Key: t.Key, Operator: api.TolerationOperator(t.Operator), Value: t.Value, Effect: api.TaintEffect(t.Effect), TolerationSeconds: t.TolerationSeconds}
	switch t.Operator {
	case "", corev1.TolerationOpEqual, corev1.TolerationOpExists:
	default:
		return out, c.errf(path+".operator", "unknown operator %q (Equal, Exists)", t.Operator)
	}
	if t.Operator == corev1.TolerationOpExists && t.Value != "" {
		return out, c.errf(path+".value", "must be empty when operator is Exists")
	}
	switch t.Effect {
	case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
	default:
		return out, c.errf(path+".effect", "unknown effect %q (NoSchedule, PreferNoSchedule, NoExecute)", t.Effect)
	}
	return out, nil
}

func (c *converter) nodeSelectorTerm(path string, t *corev1.NodeSelectorTerm) (api.NodeSelectorTerm, error) {
	var out api.NodeSelectorTerm
	for i, e := range t.MatchExpressions {
		r, err := c.nodeRequirement(fmt.Sprintf("%s.matchExpressions[%d]", path, i), e)
		if err != nil {
			return out, err
		}
		out.MatchExpressions = append(out.MatchExpressions, r)
	}
	for i, e := range t.MatchFields {
		p := fmt.Sprintf("%s.matchFields[%d]", path, i)
		if e.Key != "metadata.name" {
			return out, c.errf(p+".key", "only metadata.name is supported in matchFields, as upstream; got %q", e.Key)
		}
		r, err := c.nodeRequirement(p, e)
		if err != nil {
			return out, err
		}
		out.MatchFields = append(out.MatchFields, r)
	}
	return out, nil
}

func (c *converter) nodeRequirement(path string, e corev1.NodeSelectorRequirement) (api.Requirement, error) {
	switch e.Operator {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		if len(e.Values) == 0 {
			return api.Requirement{}, c.errf(path+".values", "required for operator %s", e.Operator)
		}
	case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if len(e.Values) != 1 {
			return api.Requirement{}, c.errf(path+".values", "operator %s needs exactly one value", e.Operator)
		}
	default:
		return api.Requirement{}, c.errf(path+".operator", "unknown operator %q (In, NotIn, Exists, DoesNotExist, Gt, Lt)", e.Operator)
	}
	return api.Requirement{Key: e.Key, Operator: api.SelectorOperator(e.Operator), Values: append([]string(nil), e.Values...)}, nil
}

func (c *converter) affinity(path string, a *corev1.Affinity) (*api.Affinity, error) {
	out := &api.Affinity{}
	if na := a.NodeAffinity; na != nil {
		out.NodeAffinity = &api.NodeAffinity{}
		if r := na.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
			rp := path + ".nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
			if len(r.NodeSelectorTerms) == 0 {
				return nil, c.errf(rp+".nodeSelectorTerms", "at least one term is required")
			}
			for i := range r.NodeSelectorTerms {
				t, err := c.nodeSelectorTerm(fmt.Sprintf("%s.nodeSelectorTerms[%d]", rp, i), &r.NodeSelectorTerms[i])
				if err != nil {
					return nil, err
				}
				out.NodeAffinity.Required = append(out.NodeAffinity.Required, t)
			}
		}
		for i := range na.PreferredDuringSchedulingIgnoredDuringExecution {
			p := &na.PreferredDuringSchedulingIgnoredDuringExecution[i]
			pp := fmt.Sprintf("%s.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[%d]", path, i)
			if p.Weight < 1 || p.Weight > 100 {
				return nil, c.errf(pp+".weight", "must be in 1..100, got %d", p.Weight)
			}
			t, err := c.nodeSelectorTerm(pp+".preference", &p.Preference)
			if err != nil {
				return nil, err
			}
			out.NodeAffinity.Preferred = append(out.NodeAffinity.Preferred, api.PreferredSchedulingTerm{Weight: p.Weight, Preference: t})
		}
	}
	conv := func(kind string, req []corev1.PodAffinityTerm, pref []corev1.WeightedPodAffinityTerm) (*api.PodAffinity, error) {
		out := &api.PodAffinity{}
		for i := range req {
			t, err := c.podAffinityTerm(fmt.Sprintf("%s.%s.requiredDuringSchedulingIgnoredDuringExecution[%d]", path, kind, i), &req[i])
			if err != nil {
				return nil, err
			}
			out.Required = append(out.Required, t)
		}
		for i := range pref {
			pp := fmt.Sprintf("%s.%s.preferredDuringSchedulingIgnoredDuringExecution[%d]", path, kind, i)
			if pref[i].Weight < 1 || pref[i].Weight > 100 {
				return nil, c.errf(pp+".weight", "must be in 1..100, got %d", pref[i].Weight)
			}
			t, err := c.podAffinityTerm(pp+".podAffinityTerm", &pref[i].PodAffinityTerm)
			if err != nil {
				return nil, err
			}
			out.Preferred = append(out.Preferred, api.WeightedPodAffinityTerm{Weight: pref[i].Weight, Term: t})
		}
		return out, nil
	}
	var err error
	if pa := a.PodAffinity; pa != nil {
		if out.PodAffinity, err = conv("podAffinity", pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution); err != nil {
			return nil, err
		}
	}
	if pa := a.PodAntiAffinity; pa != nil {
		if out.PodAntiAffinity, err = conv("podAntiAffinity", pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *converter) podAffinityTerm(path string, t *corev1.PodAffinityTerm) (api.PodAffinityTerm, error) {
	if t.NamespaceSelector != nil {
		return api.PodAffinityTerm{}, c.refuse(path+".namespaceSelector", "namespaceSelector in pod (anti-)affinity (list the namespaces instead)")
	}
	if len(t.MatchLabelKeys) > 0 {
		return api.PodAffinityTerm{}, c.refuse(path+".matchLabelKeys", "matchLabelKeys in pod (anti-)affinity")
	}
	if len(t.MismatchLabelKeys) > 0 {
		return api.PodAffinityTerm{}, c.refuse(path+".mismatchLabelKeys", "mismatchLabelKeys in pod (anti-)affinity")
	}
	if t.TopologyKey == "" {
		return api.PodAffinityTerm{}, c.errf(path+".topologyKey", "required")
	}
	sel, err := c.selector(path+".labelSelector", t.LabelSelector)
	if err != nil {
		return api.PodAffinityTerm{}, err
	}
	return api.PodAffinityTerm{LabelSelector: sel, Namespaces: append([]string(nil), t.Namespaces...), TopologyKey: t.TopologyKey}, nil
}

func (c *converter) spread(path string, t *corev1.TopologySpreadConstraint) (api.TopologySpreadConstraint, error) {
	var out api.TopologySpreadConstraint
	switch {
	case len(t.MatchLabelKeys) > 0:
		return out, c.refuse(path+".matchLabelKeys", "matchLabelKeys in topology spread constraints")
	case t.NodeAffinityPolicy != nil && *t.NodeAffinityPolicy != corev1.NodeInclusionPolicyHonor:
		return out, c.refuse(path+".nodeAffinityPolicy", "nodeAffinityPolicy "+string(*t.NodeAffinityPolicy)+" (kubesim honours node affinity, the default)")
	case t.NodeTaintsPolicy != nil && *t.NodeTaintsPolicy != corev1.NodeInclusionPolicyIgnore:
		return out, c.refuse(path+".nodeTaintsPolicy", "nodeTaintsPolicy "+string(*t.NodeTaintsPolicy)+" (kubesim ignores taints here, the default)")
	case t.MaxSkew < 1:
		return out, c.errf(path+".maxSkew", "must be at least 1, got %d", t.MaxSkew)
	case t.TopologyKey == "":
		return out, c.errf(path+".topologyKey", "required")
	}
	switch t.WhenUnsatisfiable {
	case corev1.DoNotSchedule, corev1.ScheduleAnyway:
	default:
		return out, c.errf(path+".whenUnsatisfiable", "unknown action %q (DoNotSchedule, ScheduleAnyway)", t.WhenUnsatisfiable)
	}
	sel, err := c.selector(path+".labelSelector", t.LabelSelector)
	if err != nil {
		return out, err
	}
	out = api.TopologySpreadConstraint{MaxSkew: t.MaxSkew, TopologyKey: t.TopologyKey,
		WhenUnsatisfiable: api.UnsatisfiableConstraintAction(t.WhenUnsatisfiable), LabelSelector: sel}
	if t.MinDomains != nil {
		if *t.MinDomains < 1 {
			return out, c.errf(path+".minDomains", "must be at least 1")
		}
		v := *t.MinDomains
		out.MinDomains = &v
	}
	return out, nil
}

func (c *converter) service(s *corev1.Service) (api.Object, error) {
	meta, err := c.meta(&s.ObjectMeta, true)
	if err != nil {
		return nil, err
	}
	out := &api.Service{ObjectMeta: meta, Spec: api.ServiceSpec{Selector: copyMap(s.Spec.Selector),
		SessionAffinity: api.ServiceAffinity(s.Spec.SessionAffinity), PublishNotReadyAddresses: s.Spec.PublishNotReadyAddresses}}
	switch s.Spec.Type {
	case "", corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
		out.Spec.Type = string(s.Spec.Type)
	default:
		return nil, c.refuse("spec.type", "Service type "+string(s.Spec.Type))
	}
	switch s.Spec.SessionAffinity {
	case "", corev1.ServiceAffinityNone, corev1.ServiceAffinityClientIP:
	default:
		return nil, c.errf("spec.sessionAffinity", "unknown value %q (None, ClientIP)", s.Spec.SessionAffinity)
	}
	if len(s.Spec.Ports) == 0 {
		return nil, c.errf("spec.ports", "at least one port is required")
	}
	for i, p := range s.Spec.Ports {
		pp := fmt.Sprintf("spec.ports[%d]", i)
		if p.Port < 1 || p.Port > 65535 {
			return nil, c.errf(pp+".port", "must be in 1..65535, got %d", p.Port)
		}
		sp := api.ServicePort{Name: p.Name, Protocol: string(p.Protocol), Port: p.Port}
		switch {
		case p.TargetPort.Type == intstr.String && p.TargetPort.StrVal != "":
			return nil, c.refuse(pp+".targetPort", fmt.Sprintf("a named targetPort (%q); give the container port number", p.TargetPort.StrVal))
		case p.TargetPort.Type == intstr.Int:
			if p.TargetPort.IntVal < 0 || p.TargetPort.IntVal > 65535 {
				return nil, c.errf(pp+".targetPort", "must be in 1..65535, got %d", p.TargetPort.IntVal)
			}
			sp.TargetPort = p.TargetPort.IntVal
		}
		out.Spec.Ports = append(out.Spec.Ports, sp)
	}
	switch ip := s.Spec.ClusterIP; ip {
	case "":
	case corev1.ClusterIPNone:
		c.warn("spec.clusterIP", "ignored: a headless Service gets a virtual IP in kubesim (its endpoints are the same)")
	default:
		out.Spec.ClusterIP = ip
	}
	return out, nil
}

func (c *converter) priorityClass(p *schedulingv1.PriorityClass) (api.Object, error) {
	meta, err := c.meta(&p.ObjectMeta, false)
	if err != nil {
		return nil, err
	}
	// User classes may not exceed one billion (pkg/apis/scheduling: HighestUserDefinablePriority).
	if p.Value > 1_000_000_000 {
		return nil, c.errf("value", "must be at most 1000000000 for a user-defined class, got %d", p.Value)
	}
	out := &api.PriorityClass{ObjectMeta: meta, Value: p.Value, GlobalDefault: p.GlobalDefault}
	if p.PreemptionPolicy != nil {
		switch *p.PreemptionPolicy {
		case corev1.PreemptLowerPriority, corev1.PreemptNever:
			out.PreemptionPolicy = string(*p.PreemptionPolicy)
		default:
			return nil, c.errf("preemptionPolicy", "unknown policy %q (PreemptLowerPriority, Never)", *p.PreemptionPolicy)
		}
	}
	return out, nil
}

// pdb converts a policy/v1 PodDisruptionBudget. As the apiserver, it refuses both
// minAvailable and maxUnavailable, a negative value or a percentage above 100 %;
// kubesim also refuses neither of them and a missing selector (a budget that
// protects nothing; `selector: {}` selects every pod of the namespace), see
// api.ValidatePodDisruptionBudgetSpec.
func (c *converter) pdb(b *policyv1.PodDisruptionBudget) (api.Object, error) {
	meta, err := c.meta(&b.ObjectMeta, true)
	if err != nil {
		return nil, err
	}
	out := &api.PodDisruptionBudget{ObjectMeta: meta}
	if b.Spec.MinAvailable != nil && b.Spec.MaxUnavailable != nil {
		return nil, c.errf("spec.maxUnavailable", "minAvailable and maxUnavailable cannot be both set")
	}
	for _, f := range [...]struct {
		path string
		v    *intstr.IntOrString
		dst  **api.IntOrPercent
	}{{"spec.minAvailable", b.Spec.MinAvailable, &out.Spec.MinAvailable}, {"spec.maxUnavailable", b.Spec.MaxUnavailable, &out.Spec.MaxUnavailable}} {
		if f.v == nil {
			continue
		}
		v, err := c.intOrPercent(f.path, *f.v)
		if err != nil {
			return nil, err
		}
		if v.IsPercent && v.Value > 100 {
			return nil, c.errf(f.path, "must not be greater than 100%%, got %d%%", v.Value)
		}
		*f.dst = &v
	}
	if out.Spec.MinAvailable == nil && out.Spec.MaxUnavailable == nil {
		return nil, c.errf("spec", "one of minAvailable and maxUnavailable is required")
	}
	if b.Spec.Selector == nil {
		return nil, c.errf("spec.selector", "required: the label selector of the pods the budget protects ({} selects every pod of the namespace)")
	}
	if out.Spec.Selector, err = c.selector("spec.selector", b.Spec.Selector); err != nil {
		return nil, err
	}
	return out, nil
}

// MaxNodePods is the most pods a manifest Node may declare: the model gives each
// node a /24 pod CIDR (253 addresses).
const MaxNodePods = 253

func (c *converter) node(n *corev1.Node) (api.Object, error) {
	meta, err := c.meta(&n.ObjectMeta, false)
	if err != nil {
		return nil, err
	}
	if n.Spec.Unschedulable {
		return nil, c.refuse("spec.unschedulable", "a cordoned Node (kubesim's kubelets register schedulable nodes)")
	}
	out := &api.Node{ObjectMeta: meta}
	for i, t := range n.Spec.Taints {
		tp := fmt.Sprintf("spec.taints[%d]", i)
		if t.Key == "" {
			return nil, c.errf(tp+".key", "required")
		}
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			return nil, c.errf(tp+".effect", "unknown effect %q (NoSchedule, PreferNoSchedule, NoExecute)", t.Effect)
		}
		out.Spec.Taints = append(out.Spec.Taints, api.Taint{Key: t.Key, Value: t.Value, Effect: api.TaintEffect(t.Effect)})
	}
	capy, err := c.resources("status.capacity", n.Status.Capacity, true)
	if err != nil {
		return nil, err
	}
	alloc, err := c.resources("status.allocatable", n.Status.Allocatable, true)
	if err != nil {
		return nil, err
	}
	if len(n.Status.Capacity) == 0 {
		capy = alloc.Clone()
	}
	if capy.MilliCPU <= 0 {
		return nil, c.errf("status.capacity.cpu", "a positive CPU capacity is required (status.capacity or status.allocatable)")
	}
	if capy.Memory <= 0 {
		return nil, c.errf("status.capacity.memory", "a positive memory capacity is required (status.capacity or status.allocatable)")
	}
	if capy.Pods > MaxNodePods || alloc.Pods > MaxNodePods {
		return nil, c.errf("status.capacity.pods", "at most %d in kubesim (a node's /24 pod CIDR), got %d", MaxNodePods, max(capy.Pods, alloc.Pods))
	}
	// A whole-GPU node also offers its GPUs in thousandths for GPU-sharing pods,
	// as kubesim's node pools and the trace's nodes do.
	for _, r := range []*api.Resources{&capy, &alloc} {
		if g := r.Scalar[api.ResourceGPU]; g > 0 {
			if _, ok := r.Scalar[api.ResourceGPUMilli]; !ok {
				r.Scalar[api.ResourceGPUMilli] = g * 1000
			}
		}
	}
	if len(n.Status.Allocatable) > 0 {
		if alloc.MilliCPU > capy.MilliCPU || alloc.Memory > capy.Memory {
			return nil, c.errf("status.allocatable", "must not exceed status.capacity")
		}
		out.Status.Allocatable = alloc
	}
	out.Status.Capacity = capy
	return out, nil
}

// fieldSet reports whether the named field of the struct v points to (is) a
// non-zero value. It reads newer API fields by name (workloadRef,
// schedulingGroup...) so the converter refuses them without depending on their
// shapes.
func fieldSet(v any, name string) bool {
	rv := reflect.Indirect(reflect.ValueOf(v))
	if rv.Kind() != reflect.Struct {
		return false
	}
	f := rv.FieldByName(name)
	return f.IsValid() && !f.IsZero()
}

// sortedNames returns a resource list's names, sorted (deterministic messages).
func sortedNames(l corev1.ResourceList) []corev1.ResourceName {
	out := make([]corev1.ResourceName, 0, len(l))
	for n := range l {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
