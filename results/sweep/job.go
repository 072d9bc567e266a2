package sweep

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// JobOptions describe the Kubernetes objects that run a sweep as an Indexed Job.
type JobOptions struct {
	Name      string // Job name; the ConfigMap is Name-sweep
	Image     string // an image with kubesim on its PATH
	Shards    int    // completions = parallelism = shards
	PVC       string // PersistentVolumeClaim mounted at /results
	Storage   string // the claim's size, such as 1Gi
	SweepFile string // the sweep file's key in the ConfigMap
	// Files are the ConfigMap's entries: the sweep file and, when the sweep names a
	// scenario file, that file (the sweep file's scenario then names its key).
	Files map[string]string
}

var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
var configKey = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// JobName turns a file name into a DNS-1123 label for the Job.
func JobName(file string) string {
	base := strings.ToLower(file)
	if i := strings.LastIndexAny(base, "/\\"); i >= 0 {
		base = base[i+1:]
	}
	base = strings.TrimSuffix(strings.TrimSuffix(base, ".yaml"), ".yml")
	var b strings.Builder
	for _, r := range base {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	n := strings.Trim(b.String(), "-")
	if n == "" {
		n = "sweep"
	}
	n = "kubesim-" + n
	if len(n) > 50 {
		n = strings.TrimRight(n[:50], "-")
	}
	return n
}

type meta struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels,omitempty"`
}

// EmitJob returns a multi-document manifest: the ConfigMap holding the sweep file,
// the PersistentVolumeClaim for the results, and the batch/v1 Indexed Job whose
// pod i runs `kubesim sweep /sweep/FILE --shard i/N --out /results`.
func EmitJob(o JobOptions) ([]byte, error) {
	if !dns1123.MatchString(o.Name) || len(o.Name) > 57 {
		return nil, fmt.Errorf("job name %q: want a DNS-1123 label of at most 57 characters", o.Name)
	}
	if !dns1123.MatchString(o.PVC) {
		return nil, fmt.Errorf("claim name %q: want a DNS-1123 label", o.PVC)
	}
	if o.Shards < 1 || o.Shards > 100000 {
		return nil, fmt.Errorf("shards %d: want 1..100000", o.Shards)
	}
	if o.Image == "" {
		return nil, fmt.Errorf("an image is needed")
	}
	for k := range o.Files {
		if !configKey.MatchString(k) {
			return nil, fmt.Errorf("file name %q cannot be a ConfigMap key (letters, digits, '-', '_', '.')", k)
		}
	}
	labels := map[string]string{"app.kubernetes.io/name": "kubesim", "app.kubernetes.io/component": "sweep", "kubesim.io/sweep": o.Name}
	cm := struct {
		APIVersion string            `yaml:"apiVersion"`
		Kind       string            `yaml:"kind"`
		Metadata   meta              `yaml:"metadata"`
		Data       map[string]string `yaml:"data"`
	}{"v1", "ConfigMap", meta{o.Name + "-sweep", labels}, o.Files}

	type resources struct {
		Requests map[string]string `yaml:"requests"`
	}
	pvc := struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   meta   `yaml:"metadata"`
		Spec       struct {
			AccessModes []string  `yaml:"accessModes"`
			Resources   resources `yaml:"resources"`
		} `yaml:"spec"`
	}{APIVersion: "v1", Kind: "PersistentVolumeClaim", Metadata: meta{o.PVC, labels}}
	pvc.Spec.AccessModes = []string{"ReadWriteMany"}
	pvc.Spec.Resources.Requests = map[string]string{"storage": o.Storage}

	n := o.Shards
	job := map[string]any{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata":   meta{o.Name, labels},
		"spec": yamlMap(
			"completionMode", "Indexed",
			"completions", n,
			"parallelism", n,
			"backoffLimit", 3*n,
			"template", yamlMap(
				"metadata", meta{Labels: labels},
				"spec", yamlMap(
					"restartPolicy", "OnFailure",
					"containers", []any{yamlMap(
						"name", "kubesim",
						"image", o.Image,
						"command", []string{"kubesim"},
						"args", []string{"sweep", "/sweep/" + o.SweepFile, "--shard", fmt.Sprintf("$(JOB_COMPLETION_INDEX)/%d", n), "--out", "/results"},
						"env", []any{yamlMap("name", "JOB_COMPLETION_INDEX", "valueFrom", yamlMap("fieldRef", yamlMap("fieldPath", "metadata.annotations['batch.kubernetes.io/job-completion-index']")))},
						"resources", yamlMap("requests", yamlMap("cpu", "1", "memory", "256Mi")),
						"volumeMounts", []any{
							yamlMap("name", "sweep", "mountPath", "/sweep", "readOnly", true),
							yamlMap("name", "results", "mountPath", "/results"),
						},
					)},
					"volumes", []any{
						yamlMap("name", "sweep", "configMap", yamlMap("name", o.Name+"-sweep")),
						yamlMap("name", "results", "persistentVolumeClaim", yamlMap("claimName", o.PVC)),
					},
				),
			),
		),
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# kubesim sweep as a Kubernetes Indexed Job: %d shards; pod i runs shard i/%d and\n# writes its run files to the claim %s at /results. Merge with: kubesim merge DIR --out merged\n", n, n, o.PVC)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	for _, doc := range []any{cm, pvc, orderedTop(job)} {
		if err := enc.Encode(doc); err != nil {
			return nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// yamlMap builds a mapping node that keeps the given key order.
func yamlMap(kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(kv); i += 2 {
		var v yaml.Node
		if err := v.Encode(kv[i+1]); err != nil {
			panic(err)
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: kv[i].(string)}, &v)
	}
	return n
}

func orderedTop(m map[string]any) *yaml.Node {
	return yamlMap("apiVersion", m["apiVersion"], "kind", m["kind"], "metadata", m["metadata"], "spec", m["spec"])
}
