// Package schedconfig decodes a kube-scheduler configuration file
// (kubescheduler.config.k8s.io/v1 KubeSchedulerConfiguration) into kubesim
// scheduler profiles, so that a real cluster's scheduler config works unchanged
// where it uses the parts kubesim models (issue 3, part 2).
//
// Decoding is strict: an unknown field, or a field kubesim does not support, is an
// error naming the file, the line and the field. The package does no I/O: the
// caller reads the file and passes its bytes.
//
// Supported top-level fields: apiVersion, kind, profiles, percentageOfNodesToScore,
// podInitialBackoffSeconds, podMaxBackoffSeconds. Accepted and ignored (they do not
// change a simulated schedule): parallelism, leaderElection, clientConnection,
// enableProfiling, enableContentionProfiling, delayCacheUntilActive. Not supported
// (an error): extenders (use a policy URL instead, see cmd/kubesim).
//
// Every profile is kept (Result.Profiles; scheduler.SetProfiles): the scheduler
// runs each pod with the profile its spec.schedulerName names. As upstream's
// validation, schedulerNames must be unique and non-empty, and every profile must
// enable the same QueueSort plug-in ("has to match for all profiles"); errors use
// upstream's wording (Duplicate value, Required value, Invalid value) with the
// file and line. A profile may also enable kubesim's built-in raw policies by name
// (scheduler.PolicyNames).
//
// Per profile: schedulerName (default "default-scheduler"),
// percentageOfNodesToScore, plugins (multiPoint, preEnqueue, queueSort, preFilter,
// filter, postFilter, preScore, score, reserve, permit, preBind, bind, postBind; each
// with enabled and disabled lists of {name, weight}; "*" in disabled disables every
// default plug-in of that point) and pluginConfig with the arguments of
// NodeResourcesFit, NodeResourcesBalancedAllocation, PodTopologySpread,
// NodeAffinity and InterPodAffinity.
//
// Merging follows upstream (pkg/scheduler/apis/config/v1/default_plugins.go
// mergePlugins): a profile starts from the default plug-ins (scheduler.
// DefaultProfile); disabled entries remove defaults; an enabled plug-in that is a
// default replaces it in place (with the weight given, 0 meaning 1), others are
// appended. Simplifications: kubesim's profile couples PreFilter with Filter and
// PreScore with Score (disabling either disables both), and a plug-in enabled at
// any point runs at its Reserve, PreBind and Bind points if it has them
// (disabling a modelled plug-in only at reserve, permit or preBind is an error).
package schedconfig

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/plugins/interpodaffinity"
	"github.com/kubesim/kubesim/model/scheduler/plugins/nodeaffinity"
	"github.com/kubesim/kubesim/model/scheduler/plugins/noderesources"
	"github.com/kubesim/kubesim/model/scheduler/plugins/podtopologyspread"
)

// APIVersion and Kind of the decoded document.
const (
	APIVersion = "kubescheduler.config.k8s.io/v1"
	Kind       = "KubeSchedulerConfiguration"
)

// Result is a decoded configuration.
type Result struct {
	// Profiles in file order; each has its SchedulerName set (default
	// "default-scheduler") and PercentageOfNodesToScore when the profile sets it.
	Profiles []scheduler.Profile
	// PercentageOfNodesToScore is the global value (nil: not set).
	PercentageOfNodesToScore *int32
	// PodInitialBackoff and PodMaxBackoff (nil: not set).
	PodInitialBackoff, PodMaxBackoff *time.Duration
}

// Apply configures cfg from the result: every profile (cfg.Profiles; cfg.Profile
// and cfg.SchedulerName are set to the first, see scheduler.SetProfiles), the
// global percentageOfNodesToScore and the backoffs. A profile's own
// percentageOfNodesToScore overrides the global one for that profile, as upstream.
func (r *Result) Apply(cfg *scheduler.Config) error {
	if len(r.Profiles) == 0 {
		return fmt.Errorf("scheduler configuration: no profile")
	}
	if r.PercentageOfNodesToScore != nil {
		cfg.PercentageOfNodesToScore = *r.PercentageOfNodesToScore
	}
	if r.PodInitialBackoff != nil {
		cfg.PodInitialBackoff = *r.PodInitialBackoff
	}
	if r.PodMaxBackoff != nil {
		cfg.PodMaxBackoff = *r.PodMaxBackoff
	}
	return scheduler.SetProfiles(cfg, r.Profiles)
}

// ---------------------------------------------------------------------------
// The file format (the v1 field names).

type document struct {
	APIVersion               string    `yaml:"apiVersion"`
	Kind                     string    `yaml:"kind"`
	Profiles                 []profile `yaml:"profiles"`
	PercentageOfNodesToScore *int32    `yaml:"percentageOfNodesToScore"`
	PodInitialBackoffSeconds *int64    `yaml:"podInitialBackoffSeconds"`
	PodMaxBackoffSeconds     *int64    `yaml:"podMaxBackoffSeconds"`
	Extenders                yaml.Node `yaml:"extenders"`
	// Accepted and ignored.
	Parallelism               yaml.Node `yaml:"parallelism"`
	LeaderElection            yaml.Node `yaml:"leaderElection"`
	ClientConnection          yaml.Node `yaml:"clientConnection"`
	EnableProfiling           yaml.Node `yaml:"enableProfiling"`
	EnableContentionProfiling yaml.Node `yaml:"enableContentionProfiling"`
	DelayCacheUntilActive     yaml.Node `yaml:"delayCacheUntilActive"`
}

type profile struct {
	SchedulerName            *string        `yaml:"schedulerName"`
	PercentageOfNodesToScore *int32         `yaml:"percentageOfNodesToScore"`
	Plugins                  *plugins       `yaml:"plugins"`
	PluginConfig             []pluginConfig `yaml:"pluginConfig"`
	// Lines of the profile, its schedulerName and its plugins.queueSort.
	line, nameLine, queueSortLine int
}

func (p *profile) UnmarshalYAML(n *yaml.Node) error {
	type raw profile
	var r raw
	if err := n.Decode(&r); err != nil {
		return err
	}
	*p = profile(r)
	p.line = n.Line
	if n.Kind == yaml.MappingNode {
		p.nameLine = fieldLineOnly(n, "schedulerName")
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "plugins" && n.Content[i+1].Kind == yaml.MappingNode {
				p.queueSortLine = fieldLineOnly(n.Content[i+1], "queueSort")
			}
		}
	}
	return nil
}

// fieldLineOnly is the line of key in mapping m, or 0.
func fieldLineOnly(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i].Line
		}
	}
	return 0
}

type plugins struct {
	MultiPoint pluginSet `yaml:"multiPoint"`
	PreEnqueue pluginSet `yaml:"preEnqueue"`
	QueueSort  pluginSet `yaml:"queueSort"`
	PreFilter  pluginSet `yaml:"preFilter"`
	Filter     pluginSet `yaml:"filter"`
	PostFilter pluginSet `yaml:"postFilter"`
	PreScore   pluginSet `yaml:"preScore"`
	Score      pluginSet `yaml:"score"`
	Reserve    pluginSet `yaml:"reserve"`
	Permit     pluginSet `yaml:"permit"`
	PreBind    pluginSet `yaml:"preBind"`
	Bind       pluginSet `yaml:"bind"`
	PostBind   pluginSet `yaml:"postBind"`
}

type pluginSet struct {
	Enabled  []pluginRef `yaml:"enabled"`
	Disabled []pluginRef `yaml:"disabled"`
}

type pluginRef struct {
	Name   string `yaml:"name"`
	Weight *int32 `yaml:"weight"`
	line   int
}

func (p *pluginRef) UnmarshalYAML(n *yaml.Node) error {
	type raw pluginRef
	var r raw
	if err := n.Decode(&r); err != nil {
		return err
	}
	*p = pluginRef(r)
	p.line = n.Line
	return nil
}

type pluginConfig struct {
	Name string    `yaml:"name"`
	Args yaml.Node `yaml:"args"`
	line int
}

func (p *pluginConfig) UnmarshalYAML(n *yaml.Node) error {
	type raw pluginConfig
	var r raw
	if err := n.Decode(&r); err != nil {
		return err
	}
	*p = pluginConfig(r)
	p.line = n.Line
	return nil
}

// TypeMeta is the optional apiVersion and kind of plug-in arguments.
type TypeMeta struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
}

type resourceSpec struct {
	Name   string `yaml:"name"`
	Weight *int64 `yaml:"weight"`
}

type fitArgs struct {
	TypeMeta              `yaml:",inline"`
	IgnoredResources      []string `yaml:"ignoredResources"`
	IgnoredResourceGroups []string `yaml:"ignoredResourceGroups"`
	ScoringStrategy       *struct {
		Type                     string         `yaml:"type"`
		Resources                []resourceSpec `yaml:"resources"`
		RequestedToCapacityRatio *struct {
			Shape []struct {
				Utilization int32 `yaml:"utilization"`
				Score       int32 `yaml:"score"`
			} `yaml:"shape"`
		} `yaml:"requestedToCapacityRatio"`
	} `yaml:"scoringStrategy"`
}

type balancedArgs struct {
	TypeMeta  `yaml:",inline"`
	Resources []resourceSpec `yaml:"resources"`
}

type labelSelector struct {
	MatchLabels      map[string]string `yaml:"matchLabels"`
	MatchExpressions []requirement     `yaml:"matchExpressions"`
}

type requirement struct {
	Key      string   `yaml:"key"`
	Operator string   `yaml:"operator"`
	Values   []string `yaml:"values"`
}

type spreadArgs struct {
	TypeMeta           `yaml:",inline"`
	DefaultConstraints []struct {
		MaxSkew           int32          `yaml:"maxSkew"`
		TopologyKey       string         `yaml:"topologyKey"`
		WhenUnsatisfiable string         `yaml:"whenUnsatisfiable"`
		LabelSelector     *labelSelector `yaml:"labelSelector"`
		MinDomains        *int32         `yaml:"minDomains"`
	} `yaml:"defaultConstraints"`
	DefaultingType string `yaml:"defaultingType"`
}

type nodeSelectorTerm struct {
	MatchExpressions []requirement `yaml:"matchExpressions"`
	MatchFields      []requirement `yaml:"matchFields"`
}

type nodeAffinityArgs struct {
	TypeMeta      `yaml:",inline"`
	AddedAffinity *struct {
		Required *struct {
			NodeSelectorTerms []nodeSelectorTerm `yaml:"nodeSelectorTerms"`
		} `yaml:"requiredDuringSchedulingIgnoredDuringExecution"`
		Preferred []struct {
			Weight     int32            `yaml:"weight"`
			Preference nodeSelectorTerm `yaml:"preference"`
		} `yaml:"preferredDuringSchedulingIgnoredDuringExecution"`
	} `yaml:"addedAffinity"`
}

type interPodAffinityArgs struct {
	TypeMeta              `yaml:",inline"`
	HardPodAffinityWeight *int32 `yaml:"hardPodAffinityWeight"`
}

// ---------------------------------------------------------------------------
// Decoding.

// locErr is an error at a line of the file.
func locErr(file string, line int, format string, a ...any) error {
	if line > 0 {
		return fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, a...))
	}
	return fmt.Errorf("%s: %s", file, fmt.Sprintf(format, a...))
}

// Load decodes a KubeSchedulerConfiguration. file names the source in errors.
func Load(file string, data []byte) (*Result, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, locErr(file, extra.Line, "only one YAML document is allowed")
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, locErr(file, root.Line, "want a mapping (a KubeSchedulerConfiguration)")
	}
	if err := checkFields(file, root.Content[0], reflect.TypeOf(document{}), ""); err != nil {
		return nil, err
	}
	var doc document
	if err := root.Content[0].Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	top := root.Content[0]
	if doc.APIVersion != APIVersion {
		return nil, locErr(file, fieldLine(top, "apiVersion"), "apiVersion: want %q, got %q", APIVersion, doc.APIVersion)
	}
	if doc.Kind != Kind {
		return nil, locErr(file, fieldLine(top, "kind"), "kind: want %q, got %q", Kind, doc.Kind)
	}
	if doc.Extenders.Kind != 0 {
		return nil, locErr(file, doc.Extenders.Line, "extenders: not supported in a configuration file (give the extender's URL as a policy instead)")
	}
	res := &Result{}
	if doc.PercentageOfNodesToScore != nil {
		if v := *doc.PercentageOfNodesToScore; v < 0 || v > 100 {
			return nil, locErr(file, fieldLine(top, "percentageOfNodesToScore"), "percentageOfNodesToScore: Invalid value: %d: not in valid range [0-100]", v)
		}
		res.PercentageOfNodesToScore = doc.PercentageOfNodesToScore
	}
	for _, b := range []struct {
		field string
		v     *int64
		out   **time.Duration
	}{{"podInitialBackoffSeconds", doc.PodInitialBackoffSeconds, &res.PodInitialBackoff}, {"podMaxBackoffSeconds", doc.PodMaxBackoffSeconds, &res.PodMaxBackoff}} {
		if b.v == nil {
			continue
		}
		if *b.v < 0 {
			return nil, locErr(file, fieldLine(top, b.field), "%s: must not be negative, got %d", b.field, *b.v)
		}
		d := time.Duration(*b.v) * time.Second
		*b.out = &d
	}
	if len(doc.Profiles) == 0 {
		// Upstream defaults to one profile, default-scheduler, with the default plug-ins.
		p := scheduler.DefaultProfile()
		p.SchedulerName = api.DefaultSchedulerName
		res.Profiles = []scheduler.Profile{p}
		return res, nil
	}
	// Upstream order: decode and default every profile, validate the profiles
	// together (validation.go validateKubeSchedulerConfiguration: duplicate names,
	// validateCommonQueueSort), then build each profile's framework.
	names := map[string]int{}
	var queueSorts [][]string
	for i := range doc.Profiles {
		p, qs, err := buildProfile(file, i, &doc.Profiles[i])
		if err != nil {
			return nil, err
		}
		if j, dup := names[p.SchedulerName]; dup {
			return nil, locErr(file, schedulerNameLine(&doc.Profiles[i]), "profiles[%d].schedulerName: Duplicate value: %q (profiles[%d] has it too; each profile needs its own schedulerName)", i, p.SchedulerName, j)
		}
		names[p.SchedulerName] = i
		if i > 0 && !equalNames(qs, queueSorts[0]) {
			return nil, locErr(file, queueSortLine(&doc.Profiles[i]), "profiles[%d].plugins.queueSort: Invalid value: [%s]: has to match for all profiles (profiles[0] sorts with [%s]; the profiles share one scheduling queue)",
				i, strings.Join(qs, ", "), strings.Join(queueSorts[0], ", "))
		}
		queueSorts = append(queueSorts, qs)
		res.Profiles = append(res.Profiles, p)
	}
	reg := registry()
	for i, p := range res.Profiles {
		// Validate by building every plug-in (no handle) and the profile's structure.
		if err := scheduler.ValidateProfile(p, reg); err != nil {
			return nil, locErr(file, doc.Profiles[i].line, "profiles[%d]: %v", i, err)
		}
	}
	return res, nil
}

func equalNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func schedulerNameLine(p *profile) int {
	if p.nameLine > 0 {
		return p.nameLine
	}
	return p.line
}

func queueSortLine(p *profile) int {
	if p.queueSortLine > 0 {
		return p.queueSortLine
	}
	return p.line
}

func fieldLine(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i].Line
		}
	}
	return m.Line
}

var yamlNodeType = reflect.TypeOf(yaml.Node{})

// checkFields reports the first mapping key of n that t (a struct type, by its yaml
// tags) does not have, with its line, recursively.
func checkFields(file string, n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == yamlNodeType {
			return nil
		}
		if n.Kind != yaml.MappingNode {
			if n.Tag == "!!null" {
				return nil
			}
			return locErr(file, n.Line, "%s: want a mapping", strings.TrimPrefix(path, "."))
		}
		fields := map[string]reflect.Type{}
		collectFields(t, fields)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				known := make([]string, 0, len(fields))
				for f := range fields {
					known = append(known, f)
				}
				sort.Strings(known)
				return locErr(file, k.Line, "unknown field %q in %s (known: %s)", k.Value, orTop(path), strings.Join(known, ", "))
			}
			if err := checkFields(file, v, ft, path+"."+k.Value); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode {
			for i, c := range n.Content {
				if err := checkFields(file, c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func orTop(path string) string {
	if path == "" {
		return "the top level"
	}
	return strings.TrimPrefix(path, ".")
}

func collectFields(t reflect.Type, out map[string]reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if opts == "inline" {
			collectFields(f.Type, out)
			continue
		}
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		out[name] = f.Type
	}
}

// ---------------------------------------------------------------------------
// Profiles.

// unmodelled are upstream in-tree plug-ins kubesim does not model: they may be
// disabled (a no-op) but not enabled.
var unmodelled = []string{"DefaultPreemption", "DynamicResources", "NodeDeclaredFeatures", "NodeVolumeLimits",
	"SchedulingGates", "VolumeRestrictions", "VolumeZone", "EBSLimits", "GCEPDLimits", "AzureDiskLimits", "CinderLimits"}

// Supported returns the plug-in names a configuration may enable, sorted: the
// in-tree plug-ins kubesim models and the built-in raw policies (scheduler.
// PolicyNames; a profile enabling one schedules with it instead of its filter and
// score plug-ins).
func Supported() []string { return registry().Names() }

// registry is the plug-in registry profiles are decoded against.
func registry() *scheduler.Registry {
	r := scheduler.NewRegistry()
	if err := scheduler.RegisterPolicies(r); err != nil {
		panic(err) // built-in names cannot collide
	}
	return r
}

type entry struct {
	name           string
	weight         int32
	filter, score  bool
	present        bool
	args           any
	defaultPresent bool
}

type merger struct {
	file    string
	where   string
	entries []*entry
	reg     *scheduler.Registry
}

func (m *merger) find(name string) *entry {
	for _, e := range m.entries {
		if e.name == name {
			return e
		}
	}
	return nil
}

func (m *merger) supported(ref pluginRef, field string) error {
	if ref.Name == "" {
		return locErr(m.file, ref.line, "%s.name: required", field)
	}
	if _, err := m.reg.Factory(ref.Name); err != nil {
		return locErr(m.file, ref.line, "%s: plug-in %q is not supported by kubesim (supported: %s)", field, ref.Name, strings.Join(m.reg.Names(), ", "))
	}
	if ref.Weight != nil && (*ref.Weight < 0 || *ref.Weight > 100) {
		// Upstream accepts any positive int32 (bounded by the total); kubesim
		// keeps scores small: 0..100 (0 means 1).
		return locErr(m.file, ref.line, "%s.weight: must be in 0..100, got %d", field, *ref.Weight)
	}
	return nil
}

func (m *merger) isUnmodelled(name string) bool {
	for _, u := range unmodelled {
		if u == name {
			return true
		}
	}
	return false
}

// point is one extension point group.
type point int

const (
	pointAll    point = iota // multiPoint
	pointFilter              // preFilter, filter
	pointScore               // preScore, score
	pointOther               // queueSort, bind, postFilter, preEnqueue, postBind
	pointInner               // reserve, permit, preBind
)

func (m *merger) apply(set pluginSet, pt point, field string) error {
	for i, ref := range set.Disabled {
		f := fmt.Sprintf("%s.%s.disabled[%d]", m.where, field, i)
		if ref.Name == "*" {
			for _, e := range m.entries {
				if !e.defaultPresent || (pt != pointAll && !m.implements(e.name, field)) {
					continue
				}
				m.disable(e, pt)
			}
			continue
		}
		e := m.find(ref.Name)
		if e == nil {
			if m.isUnmodelled(ref.Name) {
				continue
			}
			if err := m.supported(ref, f); err != nil {
				return err
			}
			continue // a supported plug-in that is not enabled: nothing to disable
		}
		if !m.implements(e.name, field) {
			continue // not at this point: nothing to disable
		}
		if pt == pointInner && e.present && (m.implements(e.name, "filter") || m.implements(e.name, "score")) {
			return locErr(m.file, ref.line, "%s: disabling %q at %s only is not supported by kubesim (disable it at multiPoint)", f, ref.Name, field)
		}
		m.disable(e, pt)
	}
	for i, ref := range set.Enabled {
		f := fmt.Sprintf("%s.%s.enabled[%d]", m.where, field, i)
		if err := m.supported(ref, f); err != nil {
			return err
		}
		e := m.find(ref.Name)
		if e == nil {
			e = &entry{name: ref.Name}
			m.entries = append(m.entries, e)
		}
		e.present = true
		switch pt {
		case pointAll:
			e.filter, e.score = true, true
		case pointFilter:
			e.filter = true
		case pointScore:
			e.score = true
		}
		if pt == pointAll || pt == pointScore {
			e.weight = 0
			if ref.Weight != nil {
				e.weight = *ref.Weight
			}
		}
	}
	return nil
}

// implements reports whether the plug-in name has the extension point field
// (built with its default arguments and no handle).
func (m *merger) implements(name, field string) bool {
	f, err := m.reg.Factory(name)
	if err != nil {
		return false
	}
	pl, err := f(nil, nil)
	if err != nil {
		return false
	}
	switch field {
	case "multiPoint":
		return true
	case "queueSort":
		_, ok := pl.(framework.QueueSortPlugin)
		return ok
	case "preFilter", "filter":
		_, a := pl.(framework.PreFilterPlugin)
		_, b := pl.(framework.FilterPlugin)
		return a || b
	case "preScore", "score":
		_, a := pl.(framework.PreScorePlugin)
		_, b := pl.(framework.ScorePlugin)
		return a || b
	case "postFilter":
		_, ok := pl.(framework.PostFilterPlugin)
		return ok
	case "reserve":
		_, ok := pl.(framework.ReservePlugin)
		return ok
	case "preBind":
		_, ok := pl.(framework.PreBindPlugin)
		return ok
	case "bind":
		_, ok := pl.(framework.BindPlugin)
		return ok
	}
	return false // preEnqueue, permit, postBind: kubesim has no such plug-ins
}

func (m *merger) disable(e *entry, pt point) {
	switch pt {
	case pointAll:
		e.present, e.filter, e.score = false, false, false
	case pointFilter:
		e.filter = false
	case pointScore:
		e.score = false
	case pointOther, pointInner:
		// A plug-in whose only role is at this point (PrioritySort, DefaultBinder)
		// leaves the profile.
		if !m.implements(e.name, "filter") && !m.implements(e.name, "score") {
			e.present = false
		}
	}
}

// buildProfile merges one profile's plug-ins with the defaults and decodes its
// arguments. It returns the profile and its enabled QueueSort plug-ins (for the
// check across profiles); the caller validates the profile.
func buildProfile(file string, idx int, p *profile) (scheduler.Profile, []string, error) {
	where := fmt.Sprintf("profiles[%d]", idx)
	m := &merger{file: file, where: where + ".plugins", reg: registry()}
	for _, pc := range scheduler.DefaultProfile().Plugins {
		m.entries = append(m.entries, &entry{name: pc.Name, weight: pc.Weight, filter: !pc.DisableFilter, score: !pc.DisableScore, present: true, defaultPresent: true})
	}
	if pl := p.Plugins; pl != nil {
		steps := []struct {
			set   pluginSet
			pt    point
			field string
		}{
			{pl.MultiPoint, pointAll, "multiPoint"},
			{pl.PreEnqueue, pointOther, "preEnqueue"},
			{pl.QueueSort, pointOther, "queueSort"},
			{pl.PreFilter, pointFilter, "preFilter"},
			{pl.Filter, pointFilter, "filter"},
			{pl.PostFilter, pointOther, "postFilter"},
			{pl.PreScore, pointScore, "preScore"},
			{pl.Score, pointScore, "score"},
			{pl.Reserve, pointInner, "reserve"},
			{pl.Permit, pointInner, "permit"},
			{pl.PreBind, pointInner, "preBind"},
			{pl.Bind, pointOther, "bind"},
			{pl.PostBind, pointOther, "postBind"},
		}
		for _, s := range steps {
			if err := m.apply(s.set, s.pt, s.field); err != nil {
				return scheduler.Profile{}, nil, err
			}
		}
	}
	// pluginConfig.
	seen := map[string]bool{}
	for i := range p.PluginConfig {
		pc := &p.PluginConfig[i]
		f := fmt.Sprintf("%s.pluginConfig[%d]", where, i)
		if seen[pc.Name] {
			return scheduler.Profile{}, nil, locErr(file, pc.line, "%s.name: Duplicate value: %q (configured twice)", f, pc.Name)
		}
		seen[pc.Name] = true
		args, err := decodeArgs(file, f, pc)
		if err != nil {
			return scheduler.Profile{}, nil, err
		}
		e := m.find(pc.Name)
		if e == nil {
			// Upstream keeps arguments of plug-ins that are not enabled; kubesim
			// does too (they are checked, then unused).
			continue
		}
		e.args = args
	}
	out := scheduler.Profile{SchedulerName: api.DefaultSchedulerName}
	if p.SchedulerName != nil {
		if *p.SchedulerName == "" {
			return out, nil, locErr(file, schedulerNameLine(p), "%s.schedulerName: Required value (an empty name is not allowed; omit the field for %q)", where, api.DefaultSchedulerName)
		}
		out.SchedulerName = *p.SchedulerName
	}
	if v := p.PercentageOfNodesToScore; v != nil {
		if *v < 0 || *v > 100 {
			return out, nil, locErr(file, p.line, "%s.percentageOfNodesToScore: Invalid value: %d: not in valid range [0-100]", where, *v)
		}
		out.PercentageOfNodesToScore = v
	}
	var queueSort []string
	for _, e := range m.entries {
		if !e.present {
			continue
		}
		if m.implements(e.name, "queueSort") {
			queueSort = append(queueSort, e.name)
		}
		out.Plugins = append(out.Plugins, scheduler.PluginConfig{Name: e.name, Weight: e.weight, Args: e.args, DisableFilter: !e.filter, DisableScore: !e.score})
	}
	return out, queueSort, nil
}

// decodeArgs decodes a pluginConfig entry's args into the plug-in's Args type.
func decodeArgs(file, field string, pc *pluginConfig) (any, error) {
	n := &pc.Args
	var target any
	kind := ""
	switch pc.Name {
	case scheduler.NodeResourcesFit:
		target, kind = &fitArgs{}, "NodeResourcesFitArgs"
	case scheduler.NodeResourcesBalancedAllocation:
		target, kind = &balancedArgs{}, "NodeResourcesBalancedAllocationArgs"
	case scheduler.PodTopologySpread:
		target, kind = &spreadArgs{}, "PodTopologySpreadArgs"
	case scheduler.NodeAffinity:
		target, kind = &nodeAffinityArgs{}, "NodeAffinityArgs"
	case scheduler.InterPodAffinity:
		target, kind = &interPodAffinityArgs{}, "InterPodAffinityArgs"
	case "":
		return nil, locErr(file, pc.line, "%s.name: required", field)
	default:
		return nil, locErr(file, pc.line, "%s: arguments of plug-in %q are not supported by kubesim (supported: %s, %s, %s, %s, %s)", field, pc.Name,
			scheduler.InterPodAffinity, scheduler.NodeAffinity, scheduler.NodeResourcesBalancedAllocation, scheduler.NodeResourcesFit, scheduler.PodTopologySpread)
	}
	if n.Kind == 0 {
		return nil, nil
	}
	if err := checkFields(file, n, reflect.TypeOf(target), field+".args"); err != nil {
		return nil, err
	}
	if err := n.Decode(target); err != nil {
		return nil, locErr(file, n.Line, "%s.args: %v", field, err)
	}
	bad := func(format string, a ...any) error {
		return locErr(file, n.Line, "%s.args.%s", field, fmt.Sprintf(format, a...))
	}
	tm := reflect.ValueOf(target).Elem().Field(0).Interface().(TypeMeta)
	if tm.Kind != "" && tm.Kind != kind {
		return nil, bad("kind: want %q, got %q", kind, tm.Kind)
	}
	if tm.APIVersion != "" && tm.APIVersion != APIVersion {
		return nil, bad("apiVersion: want %q, got %q", APIVersion, tm.APIVersion)
	}
	switch a := target.(type) {
	case *fitArgs:
		out := &noderesources.FitArgs{IgnoredResourceGroups: a.IgnoredResourceGroups}
		for _, r := range a.IgnoredResources {
			out.IgnoredResources = append(out.IgnoredResources, api.ResourceName(r))
		}
		if s := a.ScoringStrategy; s != nil {
			st := &noderesources.ScoringStrategy{Type: noderesources.ScoringStrategyType(s.Type), Resources: resources(s.Resources)}
			if st.Type == "" {
				st.Type = noderesources.LeastAllocated // v1 defaults.go
			}
			if st.Resources == nil {
				st.Resources = noderesources.DefaultResources()
			}
			if s.RequestedToCapacityRatio != nil {
				if st.Type != noderesources.RequestedToCapacityRatio {
					return nil, bad("scoringStrategy.requestedToCapacityRatio: only for type %s", noderesources.RequestedToCapacityRatio)
				}
				for _, p := range s.RequestedToCapacityRatio.Shape {
					st.Shape = append(st.Shape, noderesources.UtilizationShapePoint{Utilization: p.Utilization, Score: p.Score})
				}
			}
			out.ScoringStrategy = st
		}
		if err := out.Validate(); err != nil {
			return nil, bad("%v", err)
		}
		return out, nil
	case *balancedArgs:
		return &noderesources.BalancedAllocationArgs{Resources: resources(a.Resources)}, nil
	case *spreadArgs:
		out := &podtopologyspread.Args{DefaultingType: podtopologyspread.DefaultingType(a.DefaultingType)}
		if out.DefaultingType == "" {
			// v1 defaults.go: System when no constraints are given, else List.
			out.DefaultingType = podtopologyspread.SystemDefaulting
			if len(a.DefaultConstraints) > 0 {
				out.DefaultingType = podtopologyspread.ListDefaulting
			}
		}
		for i, c := range a.DefaultConstraints {
			if c.LabelSelector != nil {
				return nil, bad("defaultConstraints[%d].labelSelector: not allowed (the pod's own selector is used)", i)
			}
			out.DefaultConstraints = append(out.DefaultConstraints, api.TopologySpreadConstraint{
				MaxSkew: c.MaxSkew, TopologyKey: c.TopologyKey, WhenUnsatisfiable: api.UnsatisfiableConstraintAction(c.WhenUnsatisfiable), MinDomains: c.MinDomains})
		}
		return out, nil
	case *nodeAffinityArgs:
		out := &nodeaffinity.Args{}
		if aa := a.AddedAffinity; aa != nil {
			na := &api.NodeAffinity{}
			if aa.Required != nil {
				na.Required = []api.NodeSelectorTerm{}
				for _, t := range aa.Required.NodeSelectorTerms {
					na.Required = append(na.Required, term(t))
				}
			}
			for _, p := range aa.Preferred {
				na.Preferred = append(na.Preferred, api.PreferredSchedulingTerm{Weight: p.Weight, Preference: term(p.Preference)})
			}
			out.AddedAffinity = na
		}
		return out, nil
	case *interPodAffinityArgs:
		return &interpodaffinity.Args{HardPodAffinityWeight: a.HardPodAffinityWeight}, nil
	}
	return nil, nil
}

func resources(rs []resourceSpec) []noderesources.ResourceSpec {
	if rs == nil {
		return nil
	}
	out := make([]noderesources.ResourceSpec, 0, len(rs))
	for _, r := range rs {
		w := int64(1) // v1 defaults.go: weight defaults to 1
		if r.Weight != nil {
			w = *r.Weight
		}
		out = append(out, noderesources.ResourceSpec{Name: api.ResourceName(r.Name), Weight: w})
	}
	return out
}

func term(t nodeSelectorTerm) api.NodeSelectorTerm {
	out := api.NodeSelectorTerm{}
	for _, r := range t.MatchExpressions {
		out.MatchExpressions = append(out.MatchExpressions, api.Requirement{Key: r.Key, Operator: api.SelectorOperator(r.Operator), Values: r.Values})
	}
	for _, r := range t.MatchFields {
		out.MatchFields = append(out.MatchFields, api.Requirement{Key: r.Key, Operator: api.SelectorOperator(r.Operator), Values: r.Values})
	}
	return out
}
