package cluster

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kubesim/kubesim/model/scheduler"
	"github.com/kubesim/kubesim/model/scheduler/plugins/noderesources"
	"github.com/kubesim/kubesim/model/scheduler/schedconfig"
)

// A scheduling policy is chosen by name for a run (Options.Policy): the scheduler's
// default profile, or a variant of it. kubesim compare runs the same scenario under
// several policies.

// PolicyFunc configures the scheduler for one policy.
type PolicyFunc func(cfg *scheduler.Config) error

// PolicyRegistry maps policy names to their configuration. Build one with
// NewPolicyRegistry (the built-in policies) and Register more.
type PolicyRegistry struct{ m map[string]PolicyFunc }

// Built-in policy names.
const (
	PolicyDefault       = "default"
	PolicyMostAllocated = "most-allocated"
)

// NewPolicyRegistry returns the built-in policies: the default profile
// (LeastAllocated), and most-allocated (the default profile with NodeResourcesFit's
// MostAllocated strategy, cpu:1 memory:1, as a KubeSchedulerConfiguration would
// set it).
func NewPolicyRegistry() *PolicyRegistry {
	r := &PolicyRegistry{m: map[string]PolicyFunc{}}
	r.Register(PolicyDefault, func(*scheduler.Config) error { return nil })
	r.Register(PolicyMostAllocated, func(cfg *scheduler.Config) error {
		return setFitStrategy(cfg, &noderesources.ScoringStrategy{Type: noderesources.MostAllocated, Resources: noderesources.DefaultResources()})
	})
	// The policy zoo: raw algorithms beyond the filter/score framework (random,
	// round-robin, first-fit, best-fit, worst-fit, power-of-two-choices,
	// dot-product, gpu-packing, gpu-clustering, fgd).
	for _, name := range scheduler.PolicyNames() {
		r.Register(name, RawPolicy(name))
	}
	registerKubeScheduler(r) // kubescheduler.go: the real kube-scheduler framework
	return r
}

// RawPolicy returns the PolicyFunc that schedules with the raw policy registered
// in the scheduler's plug-in registry under name.
func RawPolicy(name string) PolicyFunc {
	return func(cfg *scheduler.Config) error {
		cfg.Profile = scheduler.PolicyProfile(name, nil)
		return nil
	}
}

// IsProfileFile reports whether a policy name is a KubeSchedulerConfiguration file
// (it ends in .yaml or .yml). The model does no I/O: the command reads the file,
// decodes it with schedconfig.Load and registers ProfileFilePolicy under the name.
func IsProfileFile(name string) bool {
	if _, ok := IsKubeSchedulerConfig(name); ok {
		return false // kube-scheduler-v1.37:FILE is the kube-scheduler policy's (kubescheduler.go)
	}
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

// ProfileFilePolicy returns the PolicyFunc that configures the scheduler from a
// decoded KubeSchedulerConfiguration: its profiles, percentageOfNodesToScore and
// backoffs (schedconfig.Result.Apply).
func ProfileFilePolicy(r *schedconfig.Result) PolicyFunc {
	return func(cfg *scheduler.Config) error {
		if r == nil {
			return fmt.Errorf("scheduler configuration: nothing decoded")
		}
		return r.Apply(cfg)
	}
}

// Register adds (or replaces) a policy.
func (r *PolicyRegistry) Register(name string, f PolicyFunc) { r.m[name] = f }

// Names returns the policy names, sorted.
func (r *PolicyRegistry) Names() []string {
	out := make([]string, 0, len(r.m))
	for k := range r.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Apply configures cfg for the named policy; an unknown name is an error listing
// the known ones.
func (r *PolicyRegistry) Apply(name string, cfg *scheduler.Config) error {
	if name == "" {
		name = PolicyDefault
	}
	f, ok := r.m[name]
	if !ok && IsProfileFile(name) {
		return fmt.Errorf("policy %q: a scheduler configuration file must be read and registered by the caller (cluster.ProfileFilePolicy)", name)
	}
	if !ok {
		return fmt.Errorf("unknown policy %q (known: %s)", name, strings.Join(r.Names(), ", "))
	}
	return f(cfg)
}

func setFitStrategy(cfg *scheduler.Config, st *noderesources.ScoringStrategy) error {
	for i := range cfg.Profile.Plugins {
		if cfg.Profile.Plugins[i].Name == scheduler.NodeResourcesFit {
			args, _ := cfg.Profile.Plugins[i].Args.(*noderesources.FitArgs)
			if args == nil {
				args = &noderesources.FitArgs{}
			} else {
				cp := *args
				args = &cp
			}
			args.ScoringStrategy = st
			cfg.Profile.Plugins[i].Args = args
			return nil
		}
	}
	return fmt.Errorf("the profile has no %s plug-in", scheduler.NodeResourcesFit)
}
