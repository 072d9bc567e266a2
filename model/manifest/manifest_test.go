package manifest

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
)

func load(t *testing.T, name string) *Set {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(name, b)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return s
}

func TestRealisticManifests(t *testing.T) {
	s := load(t, "app.yaml")
	if len(s.Objects) != 4 || len(s.Nodes) != 0 {
		t.Fatalf("objects %d nodes %d, want 4 and 0", len(s.Objects), len(s.Nodes))
	}
	pc := s.Objects[0].Obj.(*api.PriorityClass)
	if pc.Name != "high" || pc.Value != 100000 || pc.GlobalDefault {
		t.Errorf("priority class: %+v", pc)
	}
	d := s.Objects[1].Obj.(*api.Deployment)
	if s.Objects[1].Line != 10 || s.Objects[1].Doc != 2 {
		t.Errorf("deployment read at doc %d line %d, want 2 and 10", s.Objects[1].Doc, s.Objects[1].Line)
	}
	if d.Namespace != "shop" || d.Spec.Replicas != 4 || d.Spec.RevisionHistoryLimit != 5 {
		t.Errorf("deployment meta/spec: %+v", d.ObjectMeta)
	}
	if st := d.Spec.Strategy; st.Type != api.RollingUpdateStrategy || st.MaxSurge != (api.IntOrPercent{Value: 1}) || st.MaxUnavailable != (api.IntOrPercent{}) {
		t.Errorf("strategy %+v", st)
	}
	ps := d.Spec.Template.Spec
	c := ps.Containers[0]
	if c.Requests.MilliCPU != 250 || c.Requests.Memory != 256<<20 || c.Requests.EphemeralStorage != 1<<30 || c.Limits.Memory != 512<<20 {
		t.Errorf("resources: requests %+v limits %+v", c.Requests, c.Limits)
	}
	if c.Image != "ghcr.io/example/web:2.4.1" || c.ImagePullPolicy != api.PullIfNotPresent || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("container %+v", c)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.PeriodSeconds != 5 || c.LivenessProbe == nil || c.LivenessProbe.InitialDelaySeconds != 10 {
		t.Errorf("probes %+v %+v", c.ReadinessProbe, c.LivenessProbe)
	}
	if ps.PriorityClassName != "high" || ps.TerminationGracePeriodSeconds != 45 || ps.NodeSelector["kubernetes.io/os"] != "linux" {
		t.Errorf("pod spec %+v", ps)
	}
	if len(ps.Tolerations) != 1 || ps.Tolerations[0].Key != "dedicated" || ps.Tolerations[0].Effect != api.TaintNoSchedule {
		t.Errorf("tolerations %+v", ps.Tolerations)
	}
	na := ps.Affinity.NodeAffinity
	if len(na.Required) != 1 || na.Required[0].MatchExpressions[0].Values[1] != "m5.2xlarge" || na.Preferred[0].Weight != 20 {
		t.Errorf("node affinity %+v", na)
	}
	anti := ps.Affinity.PodAntiAffinity
	if anti == nil || len(anti.Preferred) != 1 || anti.Preferred[0].Term.TopologyKey != api.LabelHostname || anti.Preferred[0].Term.LabelSelector.MatchExpressions[0].Operator != api.OpIn {
		t.Errorf("anti-affinity %+v", anti)
	}
	if tsc := ps.TopologySpreadConstraints; len(tsc) != 1 || tsc[0].WhenUnsatisfiable != api.ScheduleAnyway || tsc[0].LabelSelector.MatchLabels["app"] != "web" {
		t.Errorf("spread %+v", tsc)
	}
	if len(ps.Volumes) != 0 {
		t.Errorf("a configMap volume became %+v", ps.Volumes)
	}
	svc := s.Objects[2].Obj.(*api.Service)
	if svc.Spec.Ports[0].Port != 80 || svc.Spec.Ports[0].TargetPort != 8080 || svc.Spec.Selector["app"] != "web" {
		t.Errorf("service %+v", svc.Spec)
	}
	job := s.Objects[3].Obj.(*api.Job)
	if job.Namespace != "default" || job.Spec.Completions != 6 || job.Spec.Parallelism != 2 || job.Spec.Backoff() != 2 {
		t.Errorf("job %+v", job.Spec)
	}
	jc := job.Spec.Template.Spec.Containers[0]
	if jc.RunDuration != 10*time.Minute || jc.Requests.Scalar[api.ResourceGPU] != 1 || jc.Limits.Scalar[api.ResourceGPU] != 1 || jc.Requests.MilliCPU != 4000 {
		t.Errorf("job container %+v", jc)
	}
	if ic := job.Spec.Template.Spec.InitContainers[0]; ic.RunDuration != DefaultInitRunDuration {
		t.Errorf("init container run %v", ic.RunDuration)
	}

	// Warnings: ignored fields and the skipped ConfigMap, each with its line.
	want := map[string]bool{
		"app.yaml:8: priorityclass/high: description: ignored":                                                    false,
		"app.yaml:37: deployment/shop/web: spec.template.spec.serviceAccountName: ignored":                        false,
		"app.yaml:82: deployment/shop/web: spec.template.spec.containers[0].args: ignored":                        false,
		"app.yaml:83: deployment/shop/web: spec.template.spec.containers[0].env: ignored":                         false,
		"app.yaml:97: deployment/shop/web: spec.template.spec.containers[0].readinessProbe.httpGet: ignored":      false,
		"app.yaml:135: job/default/train: spec.ttlSecondsAfterFinished: ignored":                                  false,
		"app.yaml:156: ConfigMap/web-config: document skipped":                                                    false,
		"app.yaml:110: deployment/shop/web: spec.template.spec.volumes[0].configMap: ignored":                     false,
		"app.yaml:145: job/default/train: spec.template.spec.initContainers[0].command: ignored":                  false,
		"app.yaml:12: deployment/shop/web: metadata.annotations":                                                  true, // used, never warned
		"app.yaml:83: deployment/shop/web: spec.template.spec.containers[0].ports[0].name: ignored":               true,
		"app.yaml:42: deployment/shop/web: spec.template.spec.tolerations[0].key: ignored":                        true,
		"app.yaml:67: deployment/shop/web: spec.template.spec.topologySpreadConstraints[0].maxSkew: ignored":      true,
		"app.yaml:88: deployment/shop/web: spec.template.spec.containers[0].resources.requests.ephemeral-storage": true,
	}
	for _, w := range s.Warnings {
		for k := range want {
			if strings.HasPrefix(w.String(), k) {
				if want[k] {
					t.Errorf("unexpected warning %q", w)
				}
				want[k] = true
			}
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("missing warning %q; got:\n%s", k, strings.Join(s.WarningSummary(), "\n"))
		}
	}
}

func TestNodesFromList(t *testing.T) {
	s := load(t, "nodes.yaml")
	if len(s.Nodes) != 2 || len(s.Objects) != 0 {
		t.Fatalf("nodes %d objects %d", len(s.Nodes), len(s.Objects))
	}
	g := s.Nodes[0].Obj.(*api.Node)
	if g.Name != "gpu-1" || g.Labels[api.LabelGPUModel] != "V100" || len(g.Spec.Taints) != 1 || g.Spec.Taints[0].Effect != api.TaintNoSchedule {
		t.Errorf("gpu node %+v", g)
	}
	if c := g.Status.Capacity; c.MilliCPU != 8000 || c.Memory != 61<<30 || c.Pods != 110 || c.Scalar[api.ResourceGPU] != 1 || c.Scalar[api.ResourceGPUMilli] != 1000 {
		t.Errorf("capacity %+v", c)
	}
	if a := g.Status.Allocatable; a.MilliCPU != 7910 || a.Memory != 60<<30 {
		t.Errorf("allocatable %+v", a)
	}
	c := s.Nodes[1].Obj.(*api.Node)
	if c.Status.Capacity.MilliCPU != 4000 || !c.Status.Allocatable.IsZero() {
		t.Errorf("cpu node: %+v", c.Status)
	}
}

func TestJSONAndTypedList(t *testing.T) {
	in := `{"apiVersion":"apps/v1","kind":"DeploymentList","items":[
{"metadata":{"name":"a"},"spec":{"selector":{"matchLabels":{"app":"a"}},"template":{"metadata":{"labels":{"app":"a"}},"spec":{"containers":[{"name":"c","image":"nginx:1.27","resources":{"requests":{"cpu":0.5}}}]}}}}]}`
	s, err := Parse("list.json", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	d := s.Objects[0].Obj.(*api.Deployment)
	if d.Spec.Replicas != 1 || d.Spec.Template.Spec.Containers[0].Requests.MilliCPU != 500 {
		t.Errorf("%+v", d.Spec)
	}
	if d.Spec.Strategy.MaxSurge != (api.IntOrPercent{IsPercent: true, Value: 25}) {
		t.Errorf("default strategy %+v", d.Spec.Strategy)
	}
}

func TestErrors(t *testing.T) {
	const head = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: nginx:1.27\n"
	cases := []struct {
		name, in string
		want     []string
	}{
		{"bad quantity", head + "      resources:\n        requests:\n          cpu: 5OOm\n",
			[]string{"bad.yaml:11: document 1 (Pod p): spec.containers[0].resources.requests.cpu:", `"5OOm" is not a valid quantity`}},
		{"unknown field", head + "      imagePullPolicyy: Always\n",
			[]string{"bad.yaml:9: document 1 (Pod p): spec.containers[0].imagePullPolicyy:", `unknown field "imagePullPolicyy"`}},
		{"unknown kind", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: x}]}\n---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: ds\n",
			[]string{"bad.yaml:6: document 2 (DaemonSet ds): kind:", `kind "DaemonSet" is not supported`, "Deployment, Job, Node, Pod, PodDisruptionBudget, PriorityClass, ReplicaSet, Service, StatefulSet"}},
		{"wrong type", head + "  priority: high\n",
			[]string{"bad.yaml:9:", "spec.priority:", "wrong type"}},
		{"wrong apiVersion", "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: d}\n",
			[]string{"bad.yaml:1:", "apiVersion: Deployment must be apps/v1"}},
		{"refused overhead", head + "  overhead:\n    cpu: 100m\n",
			[]string{"bad.yaml:9:", "spec.overhead: not supported by kubesim: pod overhead"}},
		{"refused namespaceSelector", head + "  affinity:\n    podAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        - topologyKey: zone\n          namespaceSelector: {}\n",
			[]string{"bad.yaml:13:", "namespaceSelector: not supported"}},
		{"refused indexed job", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  completionMode: Indexed\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: x}]\n",
			[]string{"bad.yaml:5:", "spec.completionMode: not supported by kubesim: completionMode Indexed"}},
		{"bad run duration", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    kubesim.io/run-duration: ten minutes\nspec: {containers: [{name: c, image: x}]}\n",
			[]string{"bad.yaml:5:", `annotation kubesim.io/run-duration: "ten minutes" is not a positive duration`}},
		{"fractional gpu", head + "      resources:\n        limits:\n          nvidia.com/gpu: 500m\n",
			[]string{"bad.yaml:11:", "nvidia.com/gpu must be a whole number", "kubesim.io/gpu-milli"}},
		{"selector mismatch", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {app: x}}\n  template:\n    metadata:\n      labels: {app: y}\n    spec: {containers: [{name: c, image: x}]}\n",
			[]string{"bad.yaml:8:", "selector does not match"}},
		{"yaml syntax", "apiVersion: v1\nkind: Pod\n metadata: x\n",
			[]string{"bad.yaml:3:", "YAML syntax"}},
		{"list item", "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Service\n    metadata: {name: s}\n    spec:\n      ports:\n        - port: 80\n          bogus: 1\n",
			[]string{"bad.yaml:10: document 1 (Service s): items[0].spec.ports[0].bogus:", "unknown field"}},
		{"node pods", "apiVersion: v1\nkind: Node\nmetadata: {name: n}\nstatus:\n  capacity: {cpu: 4, memory: 8Gi, pods: 500}\n",
			[]string{"bad.yaml:5:", "status.capacity.pods: at most 253"}},
		{"no name", "apiVersion: v1\nkind: Service\nmetadata: {generateName: s-}\nspec: {ports: [{port: 80}]}\n",
			[]string{"bad.yaml:3:", "metadata.generateName"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.in))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestHostNetworkPortsAreHostPorts(t *testing.T) {
	in := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostNetwork: true\n  containers: [{name: c, image: x, ports: [{containerPort: 9100}]}]\n"
	s, err := Parse("p.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Objects[0].Obj.(*api.Pod); p.Spec.Containers[0].Ports[0].HostPort != 9100 {
		t.Errorf("host port %d", p.Spec.Containers[0].Ports[0].HostPort)
	}
}

func TestWarningSummaryGroups(t *testing.T) {
	in := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: a, image: x, env: [{name: A, value: b}]}\n    - {name: b, image: x, env: [{name: A, value: b}]}\n"
	s, err := Parse("p.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	sum := s.WarningSummary()
	if len(sum) != 1 || !strings.Contains(sum[0], "(2 times)") || !strings.HasPrefix(sum[0], "p.yaml:6:") {
		t.Errorf("summary %q", sum)
	}
}

// TestKubectlOutput: what kubectl create --dry-run -o yaml and kubectl get -o yaml
// print loads; empty fields ({} and null) give no warning, set ones do.
func TestKubectlOutput(t *testing.T) {
	s := load(t, "kubectl.yaml")
	if len(s.Objects) != 2 {
		t.Fatalf("%d objects", len(s.Objects))
	}
	p := s.Objects[1].Obj.(*api.Pod)
	if p.Spec.NodeName != "kind-worker" || p.Spec.TerminationGracePeriodSeconds != 30 || p.Spec.Containers[0].ImagePullPolicy != api.PullIfNotPresent {
		t.Errorf("pod %+v", p.Spec)
	}
	sum := strings.Join(s.WarningSummary(), "\n")
	for _, quiet := range []string{"deployment/default/web: status", "strategy", "resources", "spec.securityContext", "deployment/default/web: metadata.creationTimestamp"} {
		if strings.Contains(sum, quiet) {
			t.Errorf("empty field %q warned:\n%s", quiet, sum)
		}
	}
	for _, loud := range []string{"kubectl.yaml:33: pod/default/p: metadata.managedFields", "kubectl.yaml:74: pod/default/p: spec.volumes[0].projected", "kubectl.yaml:80: pod/default/p: status"} {
		if !strings.Contains(sum, loud) {
			t.Errorf("missing warning %q:\n%s", loud, sum)
		}
	}
}

func TestCheckDuplicates(t *testing.T) {
	a := load(t, "app.yaml")
	b, err := Parse("b.yaml", []byte("apiVersion: v1\nkind: Service\nmetadata: {name: other, namespace: shop}\nspec: {ports: [{port: 80}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {ports: [{port: 80}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckDuplicates(a, load(t, "nodes.yaml")); err != nil {
		t.Errorf("distinct objects: %v", err)
	}
	err = CheckDuplicates(a, b)
	if err == nil || !strings.Contains(err.Error(), "b.yaml:6: document 2 (Service web): service/shop/web is already defined at app.yaml:113") {
		t.Errorf("error %v", err)
	}
}
