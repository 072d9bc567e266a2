// Package manifest reads Kubernetes manifests (multi-document YAML or JSON of
// Deployments, ReplicaSets, StatefulSets, Jobs, Pods, Services, PriorityClasses,
// PodDisruptionBudgets and Nodes, and List kinds holding them) and converts them into kubesim's
// compact model (model/api) at load time.
//
// Documents are decoded into the k8s.io/api types by apiVersion and kind, and
// quantities are parsed by k8s.io/apimachinery (resource.Quantity), so a real
// manifest loads as it is. Decoding is strict: an unknown field, a malformed
// value, a bad quantity or an unknown kind is an *Error naming the file, the
// document, the line and the field.
//
// What kubesim models is converted. A field it does not model and that does not
// change scheduling or the pods' lifecycle is ignored and reported as a Warning
// (an env list, volume mounts, a security context...). A field that would change
// behaviour and that kubesim cannot honour (pod overhead, scheduling gates, an
// Indexed Job, a namespaceSelector...) is an *Error naming it. docs/workloads.md
// has the table.
//
// The package is pure: it takes bytes and a file name; reading files is the
// caller's job.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	kjson "sigs.k8s.io/json"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/yamlpos"
)

// Object is one converted object with where it was read.
type Object struct {
	Obj  api.Object
	File string
	Doc  int // 1-based document index in the file
	Line int // line of the document's first key
}

// Set is what a group of manifests holds: the Nodes (to be built as machines,
// each with a kubelet) and the other objects in file order.
type Set struct {
	Nodes    []Object // *api.Node each: labels, taints, capacity and allocatable
	Objects  []Object // every other object, in the order read
	Warnings []Warning
}

// Warning reports a field that was read but ignored (not modeled, and not
// changing scheduling) or a document of a kind that was skipped.
type Warning struct {
	File   string
	Line   int
	Doc    int
	Object string // kind/namespace/name
	Field  string // dotted path, as in the manifest
	Msg    string
}

func (w Warning) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d: ", w.File, w.Line)
	if w.Object != "" {
		b.WriteString(w.Object + ": ")
	}
	if w.Field != "" {
		b.WriteString(w.Field + ": ")
	}
	b.WriteString(w.Msg)
	return b.String()
}

// Error is a problem in a manifest file.
type Error struct {
	File  string
	Line  int // 0 when unknown
	Doc   int // 1-based document index (0 when unknown)
	Kind  string
	Name  string
	Field string
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Doc > 0 {
		fmt.Fprintf(&b, "document %d", e.Doc)
		if e.Kind != "" {
			fmt.Fprintf(&b, " (%s", e.Kind)
			if e.Name != "" {
				fmt.Fprintf(&b, " %s", e.Name)
			}
			b.WriteString(")")
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Supported kinds and their apiVersions.
var supported = map[string]string{
	"Deployment":    "apps/v1",
	"ReplicaSet":    "apps/v1",
	"StatefulSet":   "apps/v1",
	"Job":           "batch/v1",
	"Pod":           "v1",
	"Service":       "v1",
	"PriorityClass": "scheduling.k8s.io/v1",
	"Node":          "v1",
	// PodDisruptionBudget steers preemption's choice of victims.
	"PodDisruptionBudget": "policy/v1",
}

// skippedKinds are kinds that hold no scheduling input (configuration, identity,
// policy that the model does not enforce and that does not change placements);
// their documents are skipped with a warning.
var skippedKinds = map[string]string{
	"ConfigMap":          "configuration data: not modeled",
	"Secret":             "configuration data: not modeled",
	"ServiceAccount":     "identity: not modeled",
	"Namespace":          "namespaces exist implicitly in kubesim",
	"Role":               "RBAC: not modeled",
	"ClusterRole":        "RBAC: not modeled",
	"RoleBinding":        "RBAC: not modeled",
	"ClusterRoleBinding": "RBAC: not modeled",
	"Ingress":            "L7 routing: not modeled (clients reach Services directly)",
	"IngressClass":       "L7 routing: not modeled",
	"NetworkPolicy":      "network policy: not modeled (every pod reaches every pod)",
	"Endpoints":          "the endpoint controllers build endpoints from Services",
	"EndpointSlice":      "the endpoint controllers build endpoints from Services",
}

// KnownKinds returns the kinds Parse converts, sorted.
func KnownKinds() []string {
	out := make([]string, 0, len(supported))
	for k := range supported {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Parse reads one manifest file: every YAML (or JSON) document in it. file names
// the source in errors and warnings.
func Parse(file string, data []byte) (*Set, error) {
	set := &Set{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 1; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, yamlErr(file, doc, err)
		}
		if n.Kind == 0 || len(n.Content) == 0 {
			continue // an empty document ("---" at the end)
		}
		root := n.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue
		}
		if err := parseDoc(set, file, doc, root, "", ""); err != nil {
			return nil, err
		}
	}
	return set, nil
}

// Merge appends o's contents to s.
func (s *Set) Merge(o *Set) {
	s.Nodes = append(s.Nodes, o.Nodes...)
	s.Objects = append(s.Objects, o.Objects...)
	s.Warnings = append(s.Warnings, o.Warnings...)
}

// WarningSummary groups the warnings by kind and field (array indexes folded):
// one line per group with its count and first location, sorted, for printing.
func (s *Set) WarningSummary() []string {
	type group struct {
		first Warning
		n     int
	}
	groups := map[string]*group{}
	var keys []string
	for _, w := range s.Warnings {
		kind, _, _ := strings.Cut(w.Object, "/")
		k := kind + " " + indexRe.ReplaceAllString(w.Field, "[*]") + " " + w.Msg
		g := groups[k]
		if g == nil {
			g = &group{first: w}
			groups[k] = g
			keys = append(keys, k)
		}
		g.n++
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		line := g.first.String()
		if g.n > 1 {
			line += fmt.Sprintf(" (%d times)", g.n)
		}
		out = append(out, line)
	}
	return out
}

var indexRe = regexp.MustCompile(`\[\d+\]`)

// parseDoc decodes one document (or one item of a List). listKind is the kind
// of the enclosing typed list (DeploymentList: items may omit apiVersion and
// kind), itemPath the item's path in the List ("items[3]") for messages.
func parseDoc(set *Set, file string, doc int, root *yaml.Node, listKind, itemPath string) error {
	fail := func(line int, kind, name, field, format string, a ...any) error {
		if itemPath != "" && field != "" {
			field = itemPath + "." + field
		} else if itemPath != "" {
			field = itemPath
		}
		return &Error{File: file, Line: line, Doc: doc, Kind: kind, Name: name, Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	if root.Kind != yaml.MappingNode {
		return fail(root.Line, "", "", "", "a manifest document must be a mapping with apiVersion and kind")
	}
	apiVersion, kind, name := scalar(root, "apiVersion"), scalar(root, "kind"), ""
	if md := child(root, "metadata"); md != nil {
		name = scalar(md, "name")
	}
	if kind == "" && listKind != "" {
		kind = strings.TrimSuffix(listKind, "List")
	}
	if apiVersion == "" && listKind != "" {
		apiVersion = supported[kind]
	}
	if kind == "" {
		return fail(root.Line, "", name, "kind", "required")
	}
	// Lists: v1 List, or a typed list such as DeploymentList.
	if kind == "List" || (strings.HasSuffix(kind, "List") && supported[strings.TrimSuffix(kind, "List")] != "") {
		items := child(root, "items")
		for k := 0; k+1 < len(root.Content); k += 2 {
			switch key := root.Content[k].Value; key {
			case "apiVersion", "kind", "items", "metadata":
			default:
				return fail(root.Content[k].Line, kind, "", key, "unknown field %q (not a field of %s)", key, kind)
			}
		}
		if items == nil {
			return nil
		}
		if items.Kind != yaml.SequenceNode {
			return fail(items.Line, kind, "", "items", "must be a list")
		}
		inner := ""
		if kind != "List" {
			inner = kind
		}
		for i, it := range items.Content {
			if err := parseDoc(set, file, doc, it, inner, fmt.Sprintf("%sitems[%d]", prefixOf(itemPath), i)); err != nil {
				return err
			}
		}
		return nil
	}
	want, ok := supported[kind]
	if !ok {
		if why, skip := skippedKinds[kind]; skip {
			set.Warnings = append(set.Warnings, Warning{File: file, Line: root.Line, Doc: doc, Object: kind + "/" + name, Msg: "document skipped: " + why})
			return nil
		}
		return fail(root.Line, kind, name, "kind", "kind %q is not supported (supported: %s, and List; skipped with a warning: %s)",
			kind, strings.Join(KnownKinds(), ", "), strings.Join(sortedKeys(skippedKinds), ", "))
	}
	if apiVersion != want {
		return fail(lineOf(root, "apiVersion"), kind, name, "apiVersion", "%s must be %s, got %q", kind, want, apiVersion)
	}
	lines := map[string]int{}
	yamlpos.IndexLines(root, "", lines)
	if err := checkQuantities(root, ""); err != nil {
		var qe *quantityErr
		if errors.As(err, &qe) {
			return fail(qe.line, kind, name, qe.path, "%s", qe.msg)
		}
		return err
	}
	raw, err := toJSON(root)
	if err != nil {
		return fail(root.Line, kind, name, "", "%v", err)
	}
	var target any
	switch kind {
	case "Deployment":
		target = &appsv1.Deployment{}
	case "ReplicaSet":
		target = &appsv1.ReplicaSet{}
	case "StatefulSet":
		target = &appsv1.StatefulSet{}
	case "Job":
		target = &batchv1.Job{}
	case "Pod":
		target = &corev1.Pod{}
	case "Service":
		target = &corev1.Service{}
	case "PriorityClass":
		target = &schedulingv1.PriorityClass{}
	case "Node":
		target = &corev1.Node{}
	case "PodDisruptionBudget":
		target = &policyv1.PodDisruptionBudget{}
	}
	strict, err := kjson.UnmarshalStrict(raw, target, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		field, msg := jsonErrField(err.Error())
		return fail(lineAt(lines, field, root.Line), kind, name, field, "%s", msg)
	}
	if len(strict) > 0 {
		field, msg := strictErrField(strict[0].Error(), kind)
		return fail(lineAt(lines, field, root.Line), kind, name, field, "%s", msg)
	}
	c := &converter{file: file, doc: doc, kind: kind, name: name, lines: lines, itemPath: itemPath, line: root.Line}
	obj, err := c.convert(target)
	if err != nil {
		return err
	}
	c.warnIgnored(root)
	set.Warnings = append(set.Warnings, c.warnings...)
	o := Object{Obj: obj, File: file, Doc: doc, Line: root.Line}
	if kind == "Node" {
		set.Nodes = append(set.Nodes, o)
	} else {
		set.Objects = append(set.Objects, o)
	}
	return nil
}

func prefixOf(itemPath string) string {
	if itemPath == "" {
		return ""
	}
	return itemPath + "."
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func child(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalar(m *yaml.Node, key string) string {
	if c := child(m, key); c != nil && c.Kind == yaml.ScalarNode {
		return c.Value
	}
	return ""
}

func lineOf(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i].Line
		}
	}
	return m.Line
}

// lineAt returns the line of path, or of its closest known parent, or def.
func lineAt(lines map[string]int, path string, def int) int {
	for p := path; p != ""; {
		if l, ok := lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return def
}

// toJSON converts a YAML node to JSON. Scalars follow YAML 1.2's core schema as
// yaml.v3 resolves it (ints, floats, booleans, null); everything else, also
// timestamps, stays a string, as the Kubernetes types expect.
func toJSON(n *yaml.Node) ([]byte, error) {
	v, err := toValue(n)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func toValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return toValue(n.Content[0])
	case yaml.AliasNode:
		return toValue(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		keys := make([]string, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a mapping key must be a scalar", k.Line)
			}
			if k.Value == "<<" {
				return nil, fmt.Errorf("line %d: YAML merge keys (<<) are not supported in manifests", k.Line)
			}
			v, err := toValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: key %q appears twice", k.Line, k.Value)
			}
			m[k.Value] = v
			keys = append(keys, k.Value)
		}
		return orderedMap{keys: keys, m: m}, nil
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := toValue(c)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, err
			}
			return b, nil
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				return nil, fmt.Errorf("line %d: %q: integer out of range", n.Line, n.Value)
			}
			return json.Number(strconv.FormatInt(i, 10)), nil
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, err
			}
			return f, nil
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// orderedMap marshals its keys in document order (deterministic JSON).
type orderedMap struct {
	keys []string
	m    map[string]any
}

func (o orderedMap) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.m[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

var (
	jsonFieldRe   = regexp.MustCompile(`Go struct field [A-Za-z0-9_]+\.(\S+) of type (\S+)`)
	strictFieldRe = regexp.MustCompile(`unknown field "([^"]+)"`)
	dupFieldRe    = regexp.MustCompile(`duplicate field "([^"]+)"`)
)

// jsonErrField extracts the field path from a decoding error.
func jsonErrField(msg string) (field, text string) {
	msg = strings.TrimPrefix(msg, "json: ")
	if m := jsonFieldRe.FindStringSubmatch(msg); m != nil {
		return m[1], fmt.Sprintf("wrong type: %s (want %s)", strings.Split(msg, " into ")[0], m[2])
	}
	return "", msg
}

func strictErrField(msg, kind string) (field, text string) {
	if m := strictFieldRe.FindStringSubmatch(msg); m != nil {
		last := m[1]
		if i := strings.LastIndexAny(last, ".]"); i >= 0 {
			last = last[i+1:]
		}
		return m[1], fmt.Sprintf("unknown field %q (not a field of the %s API type)", last, kind)
	}
	if m := dupFieldRe.FindStringSubmatch(msg); m != nil {
		return m[1], "the field is given twice"
	}
	return "", msg
}

var yamlLineRe = regexp.MustCompile(`line (\d+): (.*)`)

// yamlErr converts a YAML syntax error into an *Error with its line.
func yamlErr(file string, doc int, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Doc: doc, Msg: "YAML syntax: " + m[2]}
	}
	return &Error{File: file, Doc: doc, Msg: "YAML syntax: " + msg}
}

// CheckDuplicates returns an error naming both places when two documents of the
// sets define the same object (kind, namespace and name) or the same Node: the
// second create would fail.
func CheckDuplicates(sets ...*Set) error {
	seen := map[string]Object{}
	for _, s := range sets {
		for _, list := range [][]Object{s.Nodes, s.Objects} {
			for _, o := range list {
				m := o.Obj.Meta()
				ns := m.Namespace
				if ns == "" && o.Obj.Kind().Namespaced() {
					ns = api.NamespaceDefault
				}
				ref := api.RefOf(o.Obj.Kind(), ns, m.Name)
				if prev, dup := seen[ref]; dup {
					return &Error{File: o.File, Line: o.Line, Doc: o.Doc, Kind: o.Obj.Kind().String(), Name: m.Name,
						Msg: fmt.Sprintf("%s is already defined at %s:%d", ref, prev.File, prev.Line)}
				}
				seen[ref] = o
			}
		}
	}
	return nil
}
