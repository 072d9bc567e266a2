package scheduler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/plugins/defaultbinder"
	"github.com/kubesim/kubesim/model/scheduler/plugins/defaultpreemption"
	"github.com/kubesim/kubesim/model/scheduler/plugins/imagelocality"
	"github.com/kubesim/kubesim/model/scheduler/plugins/interpodaffinity"
	"github.com/kubesim/kubesim/model/scheduler/plugins/nodeaffinity"
	"github.com/kubesim/kubesim/model/scheduler/plugins/nodename"
	"github.com/kubesim/kubesim/model/scheduler/plugins/nodeports"
	"github.com/kubesim/kubesim/model/scheduler/plugins/noderesources"
	"github.com/kubesim/kubesim/model/scheduler/plugins/nodeunschedulable"
	"github.com/kubesim/kubesim/model/scheduler/plugins/podtopologyspread"
	"github.com/kubesim/kubesim/model/scheduler/plugins/queuesort"
	"github.com/kubesim/kubesim/model/scheduler/plugins/tainttoleration"
	"github.com/kubesim/kubesim/model/scheduler/plugins/volumebinding"
)

// Factory builds a plug-in from its arguments (nil means the plug-in's defaults).
// Factories must validate their arguments and must not call the Handle: the registry
// also calls them with a nil Handle to validate a profile.
type Factory func(args any, h framework.Handle) (framework.Plugin, error)

// Registry maps plug-in names to factories. It is an explicit value (no init()
// registration): NewRegistry returns the in-tree plug-ins and Register adds more.
type Registry struct {
	factories map[string]Factory
}

// Plug-in names of the in-tree registry, as upstream names them.
const (
	PrioritySort                    = queuesort.Name
	NodeUnschedulable               = nodeunschedulable.Name
	NodeName                        = nodename.Name
	TaintToleration                 = tainttoleration.Name
	NodeAffinity                    = nodeaffinity.Name
	NodePorts                       = nodeports.Name
	NodeResourcesFit                = noderesources.FitName
	NodeResourcesBalancedAllocation = noderesources.BalancedAllocationName
	ImageLocality                   = imagelocality.Name
	VolumeBinding                   = volumebinding.Name
	PodTopologySpread               = podtopologyspread.Name
	InterPodAffinity                = interpodaffinity.Name
	DefaultBinder                   = defaultbinder.Name
	DefaultPreemption               = defaultpreemption.Name
)

// NewRegistry returns a registry holding kubesim's in-tree plug-ins.
func NewRegistry() *Registry {
	r := &Registry{factories: map[string]Factory{}}
	for name, f := range map[string]Factory{
		PrioritySort:                    queuesort.New,
		NodeUnschedulable:               nodeunschedulable.New,
		NodeName:                        nodename.New,
		TaintToleration:                 tainttoleration.New,
		NodeAffinity:                    nodeaffinity.New,
		NodePorts:                       nodeports.New,
		NodeResourcesFit:                noderesources.NewFit,
		NodeResourcesBalancedAllocation: noderesources.NewBalancedAllocation,
		ImageLocality:                   imagelocality.New,
		VolumeBinding:                   volumebinding.New,
		PodTopologySpread:               podtopologyspread.New,
		InterPodAffinity:                interpodaffinity.New,
		DefaultBinder:                   defaultbinder.New,
		DefaultPreemption:               defaultpreemption.New,
		GPUShare:                        newGPUShare,
	} {
		r.factories[name] = f
	}
	return r
}

// Register adds a plug-in factory. Registering a name twice is an error.
func (r *Registry) Register(name string, f Factory) error {
	if name == "" || f == nil {
		return fmt.Errorf("scheduler registry: name and factory are required")
	}
	if _, ok := r.factories[name]; ok {
		return fmt.Errorf("scheduler registry: plug-in %q is already registered", name)
	}
	r.factories[name] = f
	return nil
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.factories))
	for n := range r.factories {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Factory returns the factory of name, or an error listing the known names.
func (r *Registry) Factory(name string) (Factory, error) {
	f, ok := r.factories[name]
	if !ok {
		return nil, fmt.Errorf("unknown scheduler plug-in %q (known: %s)", name, strings.Join(r.Names(), ", "))
	}
	return f, nil
}
