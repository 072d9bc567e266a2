// Package autoscaler models the Kubernetes cluster autoscaler
// (kubernetes/autoscaler, cluster-autoscaler/; defaults from its FAQ.md "What are the
// parameters to CA?" and config/flags).
//
// Every ScanInterval it looks at the pods the scheduler marked unschedulable
// (PodScheduled False, reason Unschedulable). Pods that would fit on an existing node
// or on a node already being provisioned are left to the scheduler; for the others it
// simulates, for each node group below its maximum, how many new nodes of the group's
// instance type would take them (first fit, with the scheduler's resource, taint and
// node-selector rules), lets the expander choose one group and asks the
// NodeProvisioner for the nodes; a node comes up after the group's provisioning
// delay. Scale-down: a node of a group above its minimum whose requested CPU and
// memory are both below ScaleDownUtilizationThreshold of allocatable, and whose pods
// could all move to other nodes, is "unneeded"; once unneeded for
// ScaleDownUnneededTime, and not within ScaleDownDelayAfterAdd of a scale-up, it is
// tainted ToBeDeletedByClusterAutoscaler, drained (its pods deleted) and removed.
//
// Simplifications: the simulation uses requests, taints, nodeSelector and required
// node affinity only (no host ports, volumes, inter-pod affinity or topology
// spread); one scale-up per loop, as upstream, but without balancing similar groups;
// a provisioning longer than MaxNodeProvisionTime fails and backs the group off for
// 5 min (upstream's initial node-group backoff) instead of the exponential backoff;
// pods without a ReplicaSet owner block a node's scale-down (upstream: pods not
// backed by a controller); DaemonSets and the safe-to-evict annotation are not
// modeled; empty nodes are removed up to 10 at once
// (--max-empty-bulk-delete) and non-empty nodes one per loop.
//
// PodDisruptionBudgets (when watched, WatchPodDisruptionBudgets): as upstream's
// drainability rule and remaining-PDB tracker (simulator/drainability/rules/pdb,
// core/scaledown/pdb), a node with pods is removable only if every budget selecting
// some of its pods still allows that many disruptions; a node chosen for removal
// spends them for the rest of the loop. Simplifications: the drain deletes the pods
// instead of evicting them (the check above already kept within the budgets, as
// the eviction API would), and a node blocked by a budget is simply not unneeded
// (upstream lists it unremovable and rechecks it after 5 min).
package autoscaler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

// Component is the trace component name.
const Component = "cluster-autoscaler"

// TaintToBeDeleted is the taint the autoscaler puts on a node it drains
// (cluster-autoscaler utils/taints: ToBeDeletedByClusterAutoscaler, NoSchedule).
const TaintToBeDeleted = "ToBeDeletedByClusterAutoscaler"

// Expander names (--expander).
const (
	ExpanderRandom     = "random"
	ExpanderLeastWaste = "least-waste"
	ExpanderMostPods   = "most-pods"
	ExpanderPrice      = "price"
)

// maxEmptyBulkDelete is --max-empty-bulk-delete (10).
const maxEmptyBulkDelete = 10

// nodeGroupBackoff is the initial node-group backoff after a failed scale-up
// (--initial-node-group-backoff-duration, 5 min).
const nodeGroupBackoff = 5 * time.Minute

// NodeGroup is a group of identical nodes the autoscaler may grow and shrink.
type NodeGroup struct {
	Name     string
	Min, Max int
	// Allocatable is what one node of the group offers pods (CPU in millicores,
	// memory in bytes, pods); the simulation's template node.
	Allocatable api.Resources
	// Labels and Taints of a new node of the group.
	Labels map[string]string
	Taints []api.Taint
	// HourlyCost is the price of one node per hour.
	HourlyCost float64
	// ProvisionDelay is the time from the request to the cloud until the node is
	// handed to the cluster (NodeProvisioner.AddNode), when its kubelet starts and
	// registers.
	ProvisionDelay dist.Spec
}

// Config configures the autoscaler. Defaults from cluster-autoscaler's FAQ.md table
// of parameters (and main.go / config/flags).
type Config struct {
	// ScanInterval: --scan-interval, 10 s.
	ScanInterval time.Duration
	// ScaleDownDelayAfterAdd: --scale-down-delay-after-add, 10 min.
	ScaleDownDelayAfterAdd time.Duration
	// ScaleDownDelayAfterDelete: --scale-down-delay-after-delete, defaults to the
	// scan interval (0 here means that).
	ScaleDownDelayAfterDelete time.Duration
	// ScaleDownUnneededTime: --scale-down-unneeded-time, 10 min.
	ScaleDownUnneededTime time.Duration
	// ScaleDownUtilizationThreshold: --scale-down-utilization-threshold, 0.5 (the
	// larger of requested CPU and memory over allocatable).
	ScaleDownUtilizationThreshold float64
	// MaxNodeProvisionTime: --max-node-provision-time, 15 min.
	MaxNodeProvisionTime time.Duration
	// Expander: --expander, "random" upstream (least-waste, most-pods and price
	// are the others modeled).
	Expander string
	// ScaleDownEnabled: --scale-down-enabled, true.
	ScaleDownEnabled bool
	// Groups are the node groups (--nodes=min:max:name).
	Groups []NodeGroup
}

// DefaultConfig returns the upstream defaults, with no node group.
func DefaultConfig() Config {
	return Config{
		ScanInterval:                  10 * time.Second,
		ScaleDownDelayAfterAdd:        10 * time.Minute,
		ScaleDownUnneededTime:         10 * time.Minute,
		ScaleDownUtilizationThreshold: 0.5,
		MaxNodeProvisionTime:          15 * time.Minute,
		Expander:                      ExpanderRandom,
		ScaleDownEnabled:              true,
	}
}

// Validate checks the configuration; messages name the field.
func (c *Config) Validate(reg *dist.Registry) error {
	switch {
	case c.ScanInterval <= 0:
		return fmt.Errorf("scanInterval: must be positive")
	case c.ScaleDownDelayAfterAdd < 0 || c.ScaleDownDelayAfterDelete < 0 || c.ScaleDownUnneededTime < 0:
		return fmt.Errorf("scaleDownDelayAfterAdd, scaleDownDelayAfterDelete, scaleDownUnneededTime: must not be negative")
	case c.ScaleDownUtilizationThreshold < 0 || c.ScaleDownUtilizationThreshold > 1:
		return fmt.Errorf("scaleDownUtilizationThreshold: must be in [0, 1], got %g", c.ScaleDownUtilizationThreshold)
	case c.MaxNodeProvisionTime <= 0:
		return fmt.Errorf("maxNodeProvisionTime: must be positive")
	}
	switch c.Expander {
	case ExpanderRandom, ExpanderLeastWaste, ExpanderMostPods, ExpanderPrice:
	default:
		return fmt.Errorf("expander: unknown %q (known: %s, %s, %s, %s)", c.Expander, ExpanderLeastWaste, ExpanderMostPods, ExpanderPrice, ExpanderRandom)
	}
	seen := map[string]bool{}
	for i := range c.Groups {
		g := &c.Groups[i]
		switch {
		case g.Name == "":
			return fmt.Errorf("groups[%d].name: required", i)
		case seen[g.Name]:
			return fmt.Errorf("groups[%d].name: duplicate %q", i, g.Name)
		case g.Min < 0 || g.Max < g.Min:
			return fmt.Errorf("groups[%d] (%s): need 0 <= min <= max, got min %d max %d", i, g.Name, g.Min, g.Max)
		case g.Allocatable.MilliCPU <= 0 || g.Allocatable.Memory <= 0 || g.Allocatable.Pods <= 0:
			return fmt.Errorf("groups[%d] (%s).allocatable: cpu, memory and pods must be positive", i, g.Name)
		case g.HourlyCost < 0:
			return fmt.Errorf("groups[%d] (%s).hourlyCost: must not be negative", i, g.Name)
		}
		seen[g.Name] = true
		if err := reg.Validate(g.ProvisionDelay); err != nil {
			return fmt.Errorf("groups[%d] (%s).provisionDelay: %w", i, g.Name, err)
		}
	}
	return nil
}

// NodeProvisioner is the cloud provider: model/cluster implements it. AddNode
// creates a node of the group now (its kubelet starts and registers the Node) and
// returns its name; RemoveNode deletes the node's machine (its kubelet stops and the
// Node object is deleted).
type NodeProvisioner interface {
	AddNode(group string) (name string)
	RemoveNode(name string)
}

type group struct {
	cfg      NodeGroup
	delay    dist.Sampler
	template *api.Node
	nodes    map[string]bool // members, registered or not
	upcoming int             // requested, not yet handed over
	backoff  sim.Time        // no scale-up before
}

func (g *group) size() int { return len(g.nodes) + g.upcoming }

type nodeInfo struct {
	node  *api.Node
	group *group
	used  api.Resources
	pods  map[string]*api.Pod // bound, not terminal
	// unneededSince is when the node was first found unneeded (0: not unneeded).
	unneededSince sim.Time
	draining      bool
	drainStart    sim.Time
}

// Autoscaler is the cluster autoscaler component.
type Autoscaler struct {
	eng     *sim.Engine
	client  *apiserver.Client
	step7   *apiserver.Client
	cfg     Config
	tel     sim.Telemetry
	prov    NodeProvisioner
	rnd     *rand.Rand
	groups  []*group // by name
	byName  map[string]*group
	members map[string]*group // node name → group

	nodes   map[string]*nodeInfo
	removed map[string]bool     // nodes handed to RemoveNode whose Node object may linger
	pending map[string]*api.Pod // unschedulable pods by ns/name
	podNode map[string]string   // ns/name → node the pod is counted on

	lastScaleUp, lastDelete sim.Time
	scaledUp, deleted       bool
	started                 bool
	podInf, nodeInf         *apiserver.Informer

	// pdbInf is the budget informer, started only when wantPDBs.
	pdbInf   *apiserver.Informer
	wantPDBs bool
}

// WatchPodDisruptionBudgets makes the autoscaler watch PodDisruptionBudgets
// (from Start, or at once if started), which scale-down then respects. The
// cluster enables it only for runs that have budgets, so runs without them send
// the same requests as before.
func (a *Autoscaler) WatchPodDisruptionBudgets() {
	a.wantPDBs = true
	if a.started && a.pdbInf == nil {
		a.pdbInf = apiserver.NewInformer(a.client, api.KindPodDisruptionBudget, apiserver.InformerOptions{}, apiserver.Handlers{})
	}
}

// pdbLeft is a budget and the disruptions it still allows in this loop.
type pdbLeft struct {
	b    *api.PodDisruptionBudget
	left int32
}

// budgets returns the budgets with their status.disruptionsAllowed, by
// namespace and name (nil when not watched).
func (a *Autoscaler) budgets() []pdbLeft {
	if a.pdbInf == nil {
		return nil
	}
	var out []pdbLeft
	for _, o := range a.pdbInf.List() {
		b := o.(*api.PodDisruptionBudget)
		out = append(out, pdbLeft{b: b, left: b.Status.DisruptionsAllowed})
	}
	return out
}

// pdbBlocks reports the first budget that does not allow evicting every
// non-terminating pod of ni; spend subtracts them from the budgets when none
// blocks. A budget selects with policy/v1 rules (an empty selector selects the
// whole namespace).
func pdbBlocks(ni *nodeInfo, budgets []pdbLeft, spend bool) *api.PodDisruptionBudget {
	if len(budgets) == 0 || len(ni.pods) == 0 {
		return nil
	}
	need := make([]int32, len(budgets))
	for _, p := range ni.pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		for i := range budgets {
			b := budgets[i].b
			if b.Namespace == p.Namespace && b.Spec.Selector.Matches(p.Labels) {
				need[i]++
			}
		}
	}
	for i := range budgets {
		if need[i] > budgets[i].left {
			return budgets[i].b
		}
	}
	if spend {
		for i := range budgets {
			budgets[i].left -= need[i]
		}
	}
	return nil
}

// New returns an autoscaler of cfg.Groups that talks to the apiserver through client
// and to the cloud through prov. Each group's delay draws from the stream
// "cluster-autoscaler/provision/<group>"; the random expander from
// "cluster-autoscaler/expander".
func New(eng *sim.Engine, client *apiserver.Client, prov NodeProvisioner, cfg Config, reg *dist.Registry, tel sim.Telemetry) (*Autoscaler, error) {
	if err := cfg.Validate(reg); err != nil {
		return nil, fmt.Errorf("cluster-autoscaler: %w", err)
	}
	if prov == nil {
		return nil, fmt.Errorf("cluster-autoscaler: a NodeProvisioner is required")
	}
	if tel == nil {
		tel = sim.Discard
	}
	if cfg.ScaleDownDelayAfterDelete == 0 {
		cfg.ScaleDownDelayAfterDelete = cfg.ScanInterval
	}
	a := &Autoscaler{eng: eng, client: client, step7: client.WithStep(7), cfg: cfg, tel: tel, prov: prov,
		rnd: eng.Stream("cluster-autoscaler/expander"), byName: map[string]*group{}, members: map[string]*group{},
		nodes: map[string]*nodeInfo{}, removed: map[string]bool{}, pending: map[string]*api.Pod{}, podNode: map[string]string{}}
	for _, gc := range cfg.Groups {
		alloc := gc.Allocatable.Clone()
		g := &group{cfg: gc, nodes: map[string]bool{},
			delay:    reg.MustNew(gc.ProvisionDelay, eng.Source("cluster-autoscaler/provision/"+gc.Name)),
			template: &api.Node{ObjectMeta: api.ObjectMeta{Name: "template-" + gc.Name, Labels: gc.Labels}, Spec: api.NodeSpec{Taints: gc.Taints}, Status: api.NodeStatus{Allocatable: alloc, Capacity: alloc}}}
		a.groups = append(a.groups, g)
		a.byName[gc.Name] = g
	}
	slices.SortFunc(a.groups, func(x, y *group) int { return strings.Compare(x.cfg.Name, y.cfg.Name) })
	return a, nil
}

// AdoptNode makes an existing node (one the scenario started) a member of group.
func (a *Autoscaler) AdoptNode(groupName, node string) error {
	g := a.byName[groupName]
	if g == nil {
		return fmt.Errorf("cluster-autoscaler: unknown node group %q", groupName)
	}
	g.nodes[node] = true
	a.members[node] = g
	if ni := a.nodes[node]; ni != nil {
		ni.group = g
	}
	return nil
}

// GroupSize returns the number of nodes of a group, registered or coming.
func (a *Autoscaler) GroupSize(name string) int {
	if g := a.byName[name]; g != nil {
		return g.size()
	}
	return 0
}

// Start starts the informers and the scan loop.
func (a *Autoscaler) Start() {
	if a.started {
		return
	}
	a.started = true
	a.nodeInf = apiserver.NewInformer(a.client, api.KindNode, apiserver.InformerOptions{}, apiserver.Handlers{
		OnAdd:    func(o api.Object) { a.onNode(o.(*api.Node)) },
		OnUpdate: func(_, o api.Object) { a.onNode(o.(*api.Node)) },
		OnDelete: func(o api.Object) { a.onNodeDelete(o.(*api.Node)) },
	})
	a.podInf = apiserver.NewInformer(a.client, api.KindPod, apiserver.InformerOptions{}, apiserver.Handlers{
		OnAdd:    func(o api.Object) { a.onPod(o.(*api.Pod)) },
		OnUpdate: func(_, o api.Object) { a.onPod(o.(*api.Pod)) },
		OnDelete: func(o api.Object) { a.forgetPod(o.(*api.Pod)) },
	})
	if a.wantPDBs {
		a.WatchPodDisruptionBudgets()
	}
	a.eng.After(a.cfg.ScanInterval, a.loop)
}

func (a *Autoscaler) trace(step int, action, object, detail string) {
	a.tel.Trace(sim.Record{Time: a.eng.Now(), Step: step, Component: Component, Action: action, Object: object, Detail: detail})
}

func (a *Autoscaler) onNode(n *api.Node) {
	if a.removed[n.Name] {
		return
	}
	ni := a.nodes[n.Name]
	if ni == nil {
		ni = &nodeInfo{pods: map[string]*api.Pod{}, group: a.members[n.Name]}
		a.nodes[n.Name] = ni
	}
	ni.node = n
}

func (a *Autoscaler) onNodeDelete(n *api.Node) {
	delete(a.removed, n.Name)
	delete(a.nodes, n.Name)
	if g := a.members[n.Name]; g != nil {
		delete(g.nodes, n.Name)
		delete(a.members, n.Name)
	}
}

func podKey(p *api.Pod) string { return p.Namespace + "/" + p.Name }

// forgetPod removes a pod's contributions (O(1)).
func (a *Autoscaler) forgetPod(p *api.Pod) {
	k := podKey(p)
	delete(a.pending, k)
	if n, ok := a.podNode[k]; ok {
		delete(a.podNode, k)
		if ni := a.nodes[n]; ni != nil {
			if old := ni.pods[k]; old != nil {
				r := old.Requests()
				ni.used.Sub(&r)
				delete(ni.pods, k)
			}
		}
	}
}

// onPod keeps the per-node requested sums and the unschedulable set current (O(1)
// per event).
func (a *Autoscaler) onPod(p *api.Pod) {
	a.forgetPod(p)
	if p.IsTerminal() {
		return
	}
	k := podKey(p)
	if p.Spec.NodeName != "" {
		n := string(p.Spec.NodeName)
		if a.removed[n] {
			return
		}
		ni := a.nodes[n]
		if ni == nil {
			ni = &nodeInfo{pods: map[string]*api.Pod{}, group: a.members[n]}
			a.nodes[n] = ni
		}
		r := p.Requests()
		ni.used.Add(&r)
		ni.pods[k] = p
		a.podNode[k] = n
		return
	}
	if p.DeletionTimestamp != nil {
		return
	}
	if c := p.Condition(api.PodScheduled); c != nil && c.Status == api.ConditionFalse && c.Reason == "Unschedulable" {
		a.pending[k] = p
	}
}

func (a *Autoscaler) loop() {
	a.scan()
	a.eng.After(a.cfg.ScanInterval, a.loop)
}

// simNode is a node in a scheduling simulation.
type simNode struct {
	name  string
	node  *api.Node
	alloc api.Resources
	used  api.Resources
}

func (s *simNode) place(p *api.Pod) bool {
	r := p.Requests()
	if !fitsNode(p, s.node) || !fitsResources(&r, &s.used, &s.alloc) {
		return false
	}
	s.used.Add(&r)
	return true
}

// existing returns the simulation's view of the registered, ready nodes not being
// drained, sorted by name; skip is excluded.
func (a *Autoscaler) existing(skip map[string]bool) []*simNode {
	names := make([]string, 0, len(a.nodes))
	for n, ni := range a.nodes {
		if ni.node != nil && !ni.draining && !skip[n] && ni.node.IsReady() {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	out := make([]*simNode, len(names))
	for i, n := range names {
		ni := a.nodes[n]
		out[i] = &simNode{name: n, node: ni.node, alloc: ni.node.Status.Allocatable, used: ni.used.Clone()}
	}
	return out
}

func firstFit(p *api.Pod, nodes []*simNode) bool {
	for _, n := range nodes {
		if n.place(p) {
			return true
		}
	}
	return false
}

// scan is one loop of the autoscaler: scale-up, else scale-down, then the gauges.
func (a *Autoscaler) scan() {
	now := a.eng.Now()
	if !a.scaleUp(now) && a.cfg.ScaleDownEnabled {
		a.scaleDown(now)
	}
	a.finishDrains(now)
	cost := 0.0
	for _, g := range a.groups {
		cost += float64(g.size()) * g.cfg.HourlyCost
		a.tel.Gauge("cluster-autoscaler/"+g.cfg.Name+"/nodes", now, float64(g.size()))
	}
	a.tel.Gauge("cluster_cost_per_hour", now, cost)
}

type option struct {
	g     *group
	nodes int
	pods  int
	waste float64
}

// scaleUp handles unschedulable pods; it reports whether it requested nodes.
func (a *Autoscaler) scaleUp(now sim.Time) bool {
	if len(a.pending) == 0 {
		return false
	}
	keys := make([]string, 0, len(a.pending))
	for k := range a.pending {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	// filterOutSchedulable: pods that fit an existing node or an upcoming one are
	// the scheduler's business.
	sims := a.existing(nil)
	for _, g := range a.groups {
		// upcoming: requested from the cloud, or delivered but not yet registered and
		// Ready (upstream's cluster state registry counts both as upcoming)
		n := g.upcoming
		for name := range g.nodes {
			if ni := a.nodes[name]; ni == nil || ni.node == nil || !ni.node.IsReady() {
				n++
			}
		}
		for i := 0; i < n; i++ {
			sims = append(sims, &simNode{name: "upcoming-" + g.cfg.Name, node: g.template, alloc: g.template.Status.Allocatable})
		}
	}
	var rest []*api.Pod
	for _, k := range keys {
		if p := a.pending[k]; !firstFit(p, sims) {
			rest = append(rest, p)
		}
	}
	if len(rest) == 0 {
		return false
	}
	var opts []option
	var skipped []string
	for _, g := range a.groups {
		room := g.cfg.Max - g.size()
		if room <= 0 || now < g.backoff {
			why := "at its maximum"
			if room > 0 {
				why = "backed off after a failed scale-up"
			}
			skipped = append(skipped, fmt.Sprintf("%s %s", g.cfg.Name, why))
			continue
		}
		var news []*simNode
		helped := 0
		for _, p := range rest {
			if firstFit(p, news) {
				helped++
				continue
			}
			if len(news) == room {
				continue
			}
			n := &simNode{node: g.template, alloc: g.template.Status.Allocatable}
			if n.place(p) {
				news = append(news, n)
				helped++
			}
		}
		if helped == 0 {
			skipped = append(skipped, g.cfg.Name+" fits none")
			continue
		}
		// least-waste score (expander/waste): the mean of the unused CPU and memory
		// fractions of the new nodes.
		var used, alloc api.Resources
		for _, n := range news {
			used.Add(&n.used)
			alloc.Add(&n.alloc)
		}
		waste := (float64(alloc.MilliCPU-used.MilliCPU)/float64(alloc.MilliCPU) + float64(alloc.Memory-used.Memory)/float64(alloc.Memory)) / 2
		opts = append(opts, option{g: g, nodes: len(news), pods: helped, waste: waste})
	}
	if len(opts) == 0 {
		a.trace(0, "no-scale-up", "cluster", fmt.Sprintf("%d unschedulable pods fit no node group (%s)", len(rest), strings.Join(skipped, "; ")))
		return false
	}
	best := a.expand(opts)
	var desc []string
	for _, o := range opts {
		desc = append(desc, fmt.Sprintf("%s: %d nodes for %d pods, waste %.0f%%", o.g.cfg.Name, o.nodes, o.pods, o.waste*100))
	}
	g := best.g
	a.trace(7, "scale-up", "nodegroup/"+g.cfg.Name, fmt.Sprintf("%d pods are unschedulable (%d fit no existing or upcoming node); simulated new nodes per group [%s]; expander %s picks %s: %d → %d nodes (max %d)",
		len(keys), len(rest), strings.Join(desc, "; "), a.cfg.Expander, g.cfg.Name, g.size(), g.size()+best.nodes, g.cfg.Max))
	a.lastScaleUp, a.scaledUp = now, true
	for i := 0; i < best.nodes; i++ {
		g.upcoming++
		d := g.delay.Sample()
		if d > a.cfg.MaxNodeProvisionTime {
			a.eng.After(a.cfg.MaxNodeProvisionTime, func() {
				g.upcoming--
				g.backoff = a.eng.Now().Add(nodeGroupBackoff)
				a.trace(7, "scale-up-failed", "nodegroup/"+g.cfg.Name, fmt.Sprintf("a node was not provisioned within max-node-provision-time %v: the request is cancelled and the group backed off for %v", a.cfg.MaxNodeProvisionTime, nodeGroupBackoff))
			})
			continue
		}
		a.eng.After(d, func() {
			g.upcoming--
			name := a.prov.AddNode(g.cfg.Name)
			g.nodes[name] = true
			a.members[name] = g
			if ni := a.nodes[name]; ni != nil {
				ni.group = g
			}
			a.trace(7, "node-provisioned", "node/"+name, fmt.Sprintf("the cloud delivered a %s node after %.1fs; its kubelet starts and registers", g.cfg.Name, d.Seconds()))
		})
	}
	return true
}

// expand is the expander: one option of opts.
func (a *Autoscaler) expand(opts []option) option {
	var best []option
	better := func(x, y option) int { // >0: x better
		switch a.cfg.Expander {
		case ExpanderLeastWaste:
			switch {
			case x.waste < y.waste:
				return 1
			case x.waste > y.waste:
				return -1
			}
			return 0
		case ExpanderMostPods:
			return x.pods - y.pods
		case ExpanderPrice:
			cx, cy := float64(x.nodes)*x.g.cfg.HourlyCost, float64(y.nodes)*y.g.cfg.HourlyCost
			switch {
			case cx < cy:
				return 1
			case cx > cy:
				return -1
			}
			return 0
		}
		return 0 // random: every option ties
	}
	for _, o := range opts {
		switch {
		case len(best) == 0:
			best = []option{o}
		case better(o, best[0]) > 0:
			best = []option{o}
		case better(o, best[0]) == 0:
			best = append(best, o)
		}
	}
	if len(best) == 1 {
		return best[0]
	}
	return best[a.rnd.IntN(len(best))]
}

// utilization is upstream's node utilization: the larger of requested CPU and
// memory over allocatable (simulator/utilization).
func utilization(ni *nodeInfo) float64 {
	al := &ni.node.Status.Allocatable
	u := 0.0
	if al.MilliCPU > 0 {
		u = float64(ni.used.MilliCPU) / float64(al.MilliCPU)
	}
	if al.Memory > 0 {
		u = max(u, float64(ni.used.Memory)/float64(al.Memory))
	}
	return u
}

// scaleDown marks unneeded nodes and removes those unneeded long enough.
func (a *Autoscaler) scaleDown(now sim.Time) {
	names := make([]string, 0, len(a.members))
	for n := range a.members {
		names = append(names, n)
	}
	slices.Sort(names)
	inCooldown := (a.scaledUp && now < a.lastScaleUp.Add(a.cfg.ScaleDownDelayAfterAdd)) ||
		(a.deleted && now < a.lastDelete.Add(a.cfg.ScaleDownDelayAfterDelete))
	removing := map[string]bool{}
	for n := range a.nodes {
		if a.nodes[n].draining {
			removing[n] = true
		}
	}
	var empty, full []string
	budgets := a.budgets()
	sizes := map[*group]int{}
	for _, g := range a.groups {
		sizes[g] = g.size()
	}
	for _, n := range names {
		ni := a.nodes[n]
		if ni == nil || ni.node == nil || ni.draining || ni.group == nil {
			continue
		}
		u := utilization(ni)
		movable := u < a.cfg.ScaleDownUtilizationThreshold && a.podsCanMove(n, ni, removing)
		if movable {
			if b := pdbBlocks(ni, budgets, false); b != nil {
				movable = false
				if ni.unneededSince != 0 {
					a.trace(0, "pdb-blocks", "node/"+n, fmt.Sprintf("%s allows %d disruptions: not enough to evict the node's pods it selects; the node is not removable",
						api.Ref(b), b.Status.DisruptionsAllowed))
				}
			}
		}
		if !movable {
			ni.unneededSince = 0
			continue
		}
		if ni.unneededSince == 0 {
			ni.unneededSince = now
			a.trace(0, "unneeded", "node/"+n, fmt.Sprintf("utilization %.0f%% < %.0f%% (max of requested CPU and memory over allocatable) and its %d pods fit elsewhere: a scale-down candidate once unneeded for %v",
				u*100, a.cfg.ScaleDownUtilizationThreshold*100, len(ni.pods), a.cfg.ScaleDownUnneededTime))
		}
		if inCooldown || now < ni.unneededSince.Add(a.cfg.ScaleDownUnneededTime) || sizes[ni.group] <= ni.group.cfg.Min {
			continue
		}
		if len(ni.pods) == 0 {
			if len(empty) < maxEmptyBulkDelete {
				empty = append(empty, n)
				sizes[ni.group]--
				removing[n] = true
			}
		} else if len(full) == 0 && pdbBlocks(ni, budgets, true) == nil {
			full = append(full, n)
			sizes[ni.group]--
			removing[n] = true
		}
	}
	for _, n := range append(empty, full...) {
		a.drain(n, now)
	}
}

// podsCanMove simulates moving node n's pods to the other nodes; pods without a
// ReplicaSet owner cannot move.
func (a *Autoscaler) podsCanMove(n string, ni *nodeInfo, removing map[string]bool) bool {
	if len(ni.pods) == 0 {
		return true
	}
	keys := make([]string, 0, len(ni.pods))
	for k := range ni.pods {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	skip := map[string]bool{n: true}
	for r := range removing {
		skip[r] = true
	}
	others := a.existing(skip)
	for _, k := range keys {
		p := ni.pods[k]
		if ref := p.ControllerRef(); ref == nil || ref.Kind != api.KindReplicaSet {
			return false
		}
		if p.DeletionTimestamp != nil {
			continue
		}
		if !firstFit(p, others) {
			return false
		}
	}
	return true
}

// drain taints the node, deletes its pods and removes it once they are gone (or
// after 10 min, --max-graceful-termination-sec 600).
func (a *Autoscaler) drain(n string, now sim.Time) {
	ni := a.nodes[n]
	ni.draining, ni.drainStart = true, now
	a.deleted, a.lastDelete = true, now
	a.trace(7, "scale-down", "node/"+n, fmt.Sprintf("node of group %s unneeded for %v (utilization %.0f%%, threshold %.0f%%): taints it %s:NoSchedule, deletes its %d pods and removes it; the group goes %d → %d",
		ni.group.cfg.Name, now.Sub(ni.unneededSince), utilization(ni)*100, a.cfg.ScaleDownUtilizationThreshold*100, TaintToBeDeleted, len(ni.pods), ni.group.size(), ni.group.size()-1))
	node := ni.node.DeepCopy()
	node.Spec.Taints = append(node.Spec.Taints, api.Taint{Key: TaintToBeDeleted, Value: fmt.Sprint(int64(now.Seconds())), Effect: api.TaintNoSchedule, TimeAdded: now})
	a.taint(node, 3)
	keys := make([]string, 0, len(ni.pods))
	for k := range ni.pods {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := ni.pods[k]
		a.step7.Delete(api.KindPod, p.Namespace, p.Name, apiserver.DeleteOptions{UID: p.UID}, nil)
	}
	a.finishDrain(n, ni, now)
}

func (a *Autoscaler) taint(node *api.Node, attempts int) {
	a.step7.Update(node, func(_ api.Object, err error) {
		if err == nil || !apiserver.IsConflict(err) || attempts <= 1 {
			return
		}
		a.client.Get(api.KindNode, "", node.Name, func(o api.Object, gerr error) {
			if gerr != nil {
				return
			}
			cur := o.(*api.Node).DeepCopy()
			for _, t := range cur.Spec.Taints {
				if t.Key == TaintToBeDeleted {
					return
				}
			}
			cur.Spec.Taints = append(cur.Spec.Taints, node.Spec.Taints[len(node.Spec.Taints)-1])
			a.taint(cur, attempts-1)
		})
	})
}

const maxGracefulTermination = 600 * time.Second

func (a *Autoscaler) finishDrains(now sim.Time) {
	var names []string
	for n, ni := range a.nodes {
		if ni.draining {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		a.finishDrain(n, a.nodes[n], now)
	}
}

// finishDrain removes a drained node once its pods are gone or the graceful
// termination limit passed.
func (a *Autoscaler) finishDrain(n string, ni *nodeInfo, now sim.Time) {
	if len(ni.pods) > 0 && now < ni.drainStart.Add(maxGracefulTermination) {
		return
	}
	ni.draining = false
	if g := a.members[n]; g != nil {
		delete(g.nodes, n)
		delete(a.members, n)
	}
	delete(a.nodes, n)
	for k := range ni.pods {
		delete(a.podNode, k)
	}
	a.removed[n] = true
	a.trace(7, "remove-node", "node/"+n, "node drained: the cloud deletes its machine")
	a.prov.RemoveNode(n)
}
