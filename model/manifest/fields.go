package manifest

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
)

// quantityErr is a malformed quantity at a path.
type quantityErr struct {
	line int
	path string
	msg  string
}

func (e *quantityErr) Error() string { return fmt.Sprintf("line %d: %s: %s", e.line, e.path, e.msg) }

// quantityLists are the mapping keys whose values are resource lists.
var quantityLists = map[string]bool{"requests": true, "limits": true, "capacity": true, "allocatable": true, "overhead": true}

// checkQuantities parses every quantity of the document with
// resource.ParseQuantity before the typed decoding, so that a bad one ("5OOm")
// is reported with its line and path (the JSON decoder reports neither).
func checkQuantities(n *yaml.Node, path string) error {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			if quantityLists[k.Value] && v.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(v.Content); j += 2 {
					rk, rv := v.Content[j], v.Content[j+1]
					if err := checkQuantity(rv, p+"."+rk.Value); err != nil {
						return err
					}
				}
				continue
			}
			if k.Value == "sizeLimit" && v.Kind == yaml.ScalarNode {
				if err := checkQuantity(v, p); err != nil {
					return err
				}
				continue
			}
			if err := checkQuantities(v, p); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if err := checkQuantities(c, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkQuantity(n *yaml.Node, path string) error {
	if n.Kind != yaml.ScalarNode {
		return &quantityErr{line: n.Line, path: path, msg: "expected a quantity such as 500m, 2 or 1Gi"}
	}
	if _, err := resource.ParseQuantity(n.Value); err != nil {
		return &quantityErr{line: n.Line, path: path, msg: fmt.Sprintf("%q is not a valid quantity (examples: 500m, 0.5, 4, 128Mi, 1Gi): %v", n.Value, err)}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Fields kubesim reads, as path patterns: "*" stands for any array index; a
// pattern covers its whole subtree. Pod-spec fields are written once under
// "pod." and placed under each kind's pod-spec path. Every other field present in
// a document is ignored with a warning (the converter refuses, with an error, the
// ones that would change behaviour).
var (
	metaFields = []string{"apiVersion", "kind", "metadata.name", "metadata.namespace", "metadata.labels", "metadata.annotations"}

	containerFields = []string{"name", "image", "imagePullPolicy", "ports", "resources.requests", "resources.limits",
		"readinessProbe.initialDelaySeconds", "readinessProbe.periodSeconds", "readinessProbe.timeoutSeconds",
		"readinessProbe.successThreshold", "readinessProbe.failureThreshold",
		"livenessProbe.initialDelaySeconds", "livenessProbe.periodSeconds", "livenessProbe.timeoutSeconds",
		"livenessProbe.successThreshold", "livenessProbe.failureThreshold",
		"startupProbe.initialDelaySeconds", "startupProbe.periodSeconds", "startupProbe.timeoutSeconds",
		"startupProbe.successThreshold", "startupProbe.failureThreshold",
		// Checked by the converter (refused unless at their defaults).
		"restartPolicy", "restartPolicyRules", "resources.claims"}

	podFields = []string{"nodeSelector", "affinity", "tolerations", "topologySpreadConstraints", "priorityClassName",
		"priority", "preemptionPolicy", "schedulerName", "restartPolicy", "terminationGracePeriodSeconds", "nodeName",
		"hostname", "subdomain", "volumes[*].name", "volumes[*].persistentVolumeClaim",
		// Checked by the converter (refused when set to something kubesim cannot honour).
		"hostNetwork", "overhead", "resources", "resourceClaims", "schedulingGates", "readinessGates",
		"activeDeadlineSeconds", "ephemeralContainers", "workloadRef", "schedulingGroup", "evictionResponders"}

	kindFields = map[string][]string{
		"Deployment": {"spec.replicas", "spec.selector", "spec.template.metadata.labels", "spec.template.metadata.annotations",
			"spec.strategy", "spec.minReadySeconds", "spec.revisionHistoryLimit", "spec.progressDeadlineSeconds", "spec.paused"},
		"ReplicaSet": {"spec.replicas", "spec.selector", "spec.template.metadata.labels", "spec.template.metadata.annotations",
			"spec.minReadySeconds"},
		"StatefulSet": {"spec.replicas", "spec.selector", "spec.template.metadata.labels", "spec.template.metadata.annotations",
			"spec.serviceName", "spec.podManagementPolicy", "spec.minReadySeconds",
			"spec.volumeClaimTemplates[*].metadata.name", "spec.volumeClaimTemplates[*].spec.accessModes",
			"spec.volumeClaimTemplates[*].spec.storageClassName", "spec.volumeClaimTemplates[*].spec.resources.requests.storage"},
		"Job": {"spec.completions", "spec.parallelism", "spec.backoffLimit", "spec.template.metadata.labels",
			"spec.template.metadata.annotations",
			"spec.completionMode", "spec.suspend", "spec.podFailurePolicy", "spec.successPolicy", "spec.backoffLimitPerIndex",
			"spec.maxFailedIndexes", "spec.activeDeadlineSeconds", "spec.managedBy", "spec.scheduling", "spec.failedPodsLimit"},
		"Pod":           {},
		"Service":       {"spec.selector", "spec.ports[*].name", "spec.ports[*].protocol", "spec.ports[*].port", "spec.ports[*].targetPort", "spec.type", "spec.sessionAffinity", "spec.publishNotReadyAddresses", "spec.clusterIP"},
		"PriorityClass": {"value", "globalDefault", "preemptionPolicy"},
		"Node":          {"metadata.labels", "spec.taints", "spec.unschedulable", "status.capacity", "status.allocatable"},
		// spec.unhealthyPodEvictionPolicy only changes the eviction API, which
		// kubesim does not model: it is ignored with a warning.
		"PodDisruptionBudget": {"spec.minAvailable", "spec.maxUnavailable", "spec.selector"},
	}

	podSpecPath = map[string]string{"Deployment": "spec.template.spec", "ReplicaSet": "spec.template.spec",
		"StatefulSet": "spec.template.spec", "Job": "spec.template.spec", "Pod": "spec"}
)

// usedPatterns returns the field patterns a kind reads.
func usedPatterns(kind string) []string {
	out := append([]string(nil), metaFields...)
	out = append(out, kindFields[kind]...)
	if ps, ok := podSpecPath[kind]; ok {
		for _, f := range podFields {
			out = append(out, ps+"."+f)
		}
		for _, list := range []string{"containers[*]", "initContainers[*]"} {
			for _, f := range containerFields {
				out = append(out, ps+"."+list+"."+f)
			}
		}
	}
	return out
}

// normalize folds array indexes: a.b[3].c -> a.b[*].c.
func normalize(path string) string { return indexRe.ReplaceAllString(path, "[*]") }

// covered reports whether path (normalized) is a used field or inside one; partly
// whether a used field lies below it.
func covered(patterns []string, path string) (covered, partly bool) {
	for _, p := range patterns {
		if path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
			return true, false
		}
		if strings.HasPrefix(p, path+".") || strings.HasPrefix(p, path+"[") {
			partly = true
		}
	}
	return false, partly
}

// warnIgnored walks the document and records a warning for each field subtree
// that no used pattern covers.
func (c *converter) warnIgnored(root *yaml.Node) {
	pats := usedPatterns(c.kind)
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := join(path, k.Value)
				c.visit(pats, p, k.Line, v, walk)
			}
		case yaml.SequenceNode:
			for i, e := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				c.visit(pats, p, e.Line, e, walk)
			}
		}
	}
	walk(root, "")
}

func (c *converter) visit(pats []string, p string, line int, v *yaml.Node, walk func(*yaml.Node, string)) {
	cov, partly := covered(pats, normalize(p))
	switch {
	case cov:
	case partly:
		walk(v, p)
	default:
		if (v.Kind == yaml.ScalarNode && (v.Tag == "!!null" || v.Value == "")) ||
			((v.Kind == yaml.MappingNode || v.Kind == yaml.SequenceNode) && len(v.Content) == 0) {
			return // an empty field (null, "", {} or []) sets nothing
		}
		msg := "ignored: not modeled by kubesim (does not change scheduling)"
		if p == "status" || strings.HasPrefix(p, "status.") {
			msg = "ignored: observed state is produced by the simulation"
		} else if strings.HasPrefix(p, "metadata.") {
			msg = "ignored: metadata kubesim does not use"
		}
		c.warnings = append(c.warnings, Warning{File: c.file, Line: line, Doc: c.doc, Object: c.ref(), Field: c.fieldPath(p), Msg: msg})
	}
}
