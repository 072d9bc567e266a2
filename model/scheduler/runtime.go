package scheduler

import (
	"fmt"

	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// profileRuntime holds a profile's instantiated plug-ins, split by extension point
// (the role of upstream framework/runtime.frameworkImpl). Each plug-in has a bit
// (its index in plugins) used for Skip sets and rejector sets.
type profileRuntime struct {
	// name is the profile's schedulerName; index its position among the
	// scheduler's profiles; percentage its percentageOfNodesToScore (the
	// profile's own, else the global one).
	name       string
	index      int
	percentage int32

	plugins   []framework.Plugin
	names     []string
	queueSort framework.QueueSortPlugin
	preFilter []pointEntry[framework.PreFilterPlugin]
	filter    []pointEntry[framework.FilterPlugin]
	preScore  []pointEntry[framework.PreScorePlugin]
	score     []scoreEntry
	reserve   []pointEntry[framework.ReservePlugin]
	preBind   []pointEntry[framework.PreBindPlugin]
	bind      []pointEntry[framework.BindPlugin]
	// postFilter runs when no node is feasible (preemption.go).
	postFilter []pointEntry[framework.PostFilterPlugin]
	// registrations[i] are the events plug-in i registered (EnqueueExtensions).
	registrations [][]framework.ClusterEvent
	// anyRejector is the set of plug-ins that can reject a pod (filter or prefilter).
	rejectors uint64
}

type pointEntry[T any] struct {
	pl  T
	bit uint64
}

type scoreEntry struct {
	pl     framework.ScorePlugin
	ext    framework.ScoreExtensions
	weight int64
	bit    uint64
}

// newFramework builds every plug-in of the profile. h may be nil (validation only).
func newFramework(p Profile, reg *Registry, h framework.Handle) (*profileRuntime, error) {
	if len(p.Plugins) == 0 {
		return nil, fmt.Errorf("profile.plugins: at least one plug-in is required")
	}
	if len(p.Plugins) > MaxPlugins {
		return nil, fmt.Errorf("profile.plugins: at most %d plug-ins, got %d", MaxPlugins, len(p.Plugins))
	}
	rt := &profileRuntime{}
	seen := map[string]bool{}
	for i, pc := range p.Plugins {
		field := fmt.Sprintf("profile.plugins[%d]", i)
		if seen[pc.Name] {
			return nil, fmt.Errorf("%s.name: plug-in %q is enabled twice", field, pc.Name)
		}
		seen[pc.Name] = true
		f, err := reg.Factory(pc.Name)
		if err != nil {
			return nil, fmt.Errorf("%s.name: %w", field, err)
		}
		pl, err := f(pc.Args, h)
		if err != nil {
			return nil, fmt.Errorf("%s.args: %w", field, err)
		}
		if pl.Name() != pc.Name {
			return nil, fmt.Errorf("%s: factory for %q built a plug-in named %q", field, pc.Name, pl.Name())
		}
		if pc.Weight < 0 || pc.Weight > maxWeight {
			return nil, fmt.Errorf("%s.weight: must be in 0..%d, got %d", field, maxWeight, pc.Weight)
		}
		bit := uint64(1) << uint(i)
		rt.plugins = append(rt.plugins, pl)
		rt.names = append(rt.names, pc.Name)
		var regs []framework.ClusterEvent
		if ee, ok := pl.(framework.EnqueueExtensions); ok {
			regs = ee.EventsToRegister()
		}
		rt.registrations = append(rt.registrations, regs)
		if qs, ok := pl.(framework.QueueSortPlugin); ok {
			if rt.queueSort != nil {
				return nil, fmt.Errorf("%s: only one QueueSort plug-in may be enabled (%q and %q)", field, rt.queueSort.Name(), pc.Name)
			}
			rt.queueSort = qs
		}
		if !pc.DisableFilter {
			if x, ok := pl.(framework.PreFilterPlugin); ok {
				rt.preFilter = append(rt.preFilter, pointEntry[framework.PreFilterPlugin]{x, bit})
				rt.rejectors |= bit
			}
			if x, ok := pl.(framework.FilterPlugin); ok {
				rt.filter = append(rt.filter, pointEntry[framework.FilterPlugin]{x, bit})
				rt.rejectors |= bit
			}
		}
		if !pc.DisableScore {
			if x, ok := pl.(framework.PreScorePlugin); ok {
				rt.preScore = append(rt.preScore, pointEntry[framework.PreScorePlugin]{x, bit})
			}
			if x, ok := pl.(framework.ScorePlugin); ok {
				w := int64(pc.Weight)
				if w == 0 {
					w = 1
				}
				rt.score = append(rt.score, scoreEntry{pl: x, ext: x.ScoreExtensions(), weight: w, bit: bit})
			}
		}
		if x, ok := pl.(framework.ReservePlugin); ok {
			rt.reserve = append(rt.reserve, pointEntry[framework.ReservePlugin]{x, bit})
			rt.rejectors |= bit
		}
		if x, ok := pl.(framework.PreBindPlugin); ok {
			rt.preBind = append(rt.preBind, pointEntry[framework.PreBindPlugin]{x, bit})
		}
		if x, ok := pl.(framework.PostFilterPlugin); ok {
			rt.postFilter = append(rt.postFilter, pointEntry[framework.PostFilterPlugin]{x, bit})
		}
		if x, ok := pl.(framework.BindPlugin); ok {
			rt.bind = append(rt.bind, pointEntry[framework.BindPlugin]{x, bit})
		}
	}
	if rt.queueSort == nil {
		return nil, fmt.Errorf("profile.plugins: a QueueSort plug-in is required (for example %q)", PrioritySort)
	}
	if len(rt.bind) == 0 {
		return nil, fmt.Errorf("profile.plugins: a Bind plug-in is required (for example %q)", DefaultBinder)
	}
	return rt, nil
}

// pluginNames returns the names of the plug-ins in the bit set, in profile order.
func (rt *profileRuntime) pluginNames(set uint64) []string {
	var out []string
	for i, n := range rt.names {
		if set&(uint64(1)<<uint(i)) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// interested returns the plug-ins that registered an event matching ev.
func (rt *profileRuntime) interested(ev framework.ClusterEvent) uint64 {
	var set uint64
	for i, regs := range rt.registrations {
		for _, r := range regs {
			if r.Match(ev) {
				set |= uint64(1) << uint(i)
				break
			}
		}
	}
	return set
}
