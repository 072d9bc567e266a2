package scheduler

import (
	"fmt"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/dist"
)

// PluginConfig enables one plug-in in a profile. The plug-in takes part in every
// extension point it implements (upstream "multiPoint" enabling), unless disabled
// below.
type PluginConfig struct {
	// Name is the registered name (see Registry).
	Name string
	// Weight is the score weight; 0 means 1, as upstream (framework.go
	// getScoreWeights). Ignored for plug-ins that do not score.
	Weight int32
	// Args are the plug-in's arguments (its own Args type); nil means its defaults.
	Args any
	// DisableFilter turns off the plug-in's PreFilter and Filter.
	DisableFilter bool
	// DisableScore turns off the plug-in's PreScore and Score.
	DisableScore bool
}

// Profile is an ordered list of plug-ins. Filters and scores run in this order.
type Profile struct {
	Plugins []PluginConfig
	// SchedulerName and PercentageOfNodesToScore are set by profiles decoded from
	// a KubeSchedulerConfiguration (schedconfig); see SetProfiles.
	SchedulerName            string
	PercentageOfNodesToScore *int32
}

// MaxPlugins is the most plug-ins a profile may enable.
const MaxPlugins = 64

// maxWeight bounds score weights so that Σ weight·MaxNodeScore cannot overflow.
const maxWeight = 1 << 20

// DefaultProfile returns the v1.35 default plug-ins that kubesim models, in upstream
// order, with their score weights (reference §2.4; apis/config/v1/default_plugins.go):
// PrioritySort; filters NodeUnschedulable, NodeName, TaintToleration, NodeAffinity,
// NodePorts, NodeResourcesFit, VolumeBinding (with VolumeZone's check; Reserve and
// PreBind for WaitForFirstConsumer claims); scores TaintToleration 3, NodeAffinity 2,
// NodeResourcesFit 1 (LeastAllocated cpu:1 memory:1), NodeResourcesBalancedAllocation
// 1, ImageLocality 1; DefaultBinder; PodTopologySpread 2 (system default
// constraints) and InterPodAffinity 2 (hardPodAffinityWeight 1) after VolumeBinding,
// as upstream; DefaultPreemption (PostFilter) after them, as upstream.
//
// One kubesim addition, absent upstream: GPUShare right after NodeResourcesFit. It
// stands for the accounting a GPU-sharing device plug-in and scheduler extension do
// in a cluster that shares GPUs (as the Alibaba GPU cluster does): nodes advertise
// nvidia.com/gpu and kubesim.io/gpu-milli as two extended resources, which
// NodeResourcesFit counts independently, so without it a whole-GPU pod and
// fractional pods could be given the same physical GPU. It filters only pods that
// request GPUs (PreFilter skips the rest), has no score, and its PreBind records
// the chosen GPU of a fractional pod (kubesim.io/gpu-index). A profile file that
// disables it (or "*") gets NodeResourcesFit's upstream behaviour alone.
// VolumeRestrictions, NodeVolumeLimits and DRA plug-ins are not modelled yet.
func DefaultProfile() Profile {
	return Profile{Plugins: []PluginConfig{
		{Name: PrioritySort},
		{Name: NodeUnschedulable},
		{Name: NodeName},
		{Name: TaintToleration, Weight: 3},
		{Name: NodeAffinity, Weight: 2},
		{Name: NodePorts},
		{Name: NodeResourcesFit, Weight: 1},
		{Name: GPUShare},
		{Name: VolumeBinding},
		{Name: PodTopologySpread, Weight: 2},
		{Name: InterPodAffinity, Weight: 2},
		{Name: DefaultPreemption},
		{Name: NodeResourcesBalancedAllocation, Weight: 1},
		{Name: ImageLocality, Weight: 1},
		{Name: DefaultBinder},
	}}
}

// Config is the scheduler's configuration.
type Config struct {
	// SchedulerName: the scheduler handles pods whose spec.schedulerName equals it
	// and ignores the others (default "default-scheduler").
	SchedulerName string
	// PercentageOfNodesToScore bounds how many feasible nodes a cycle looks for, in
	// percent of the nodes; 0 is the adaptive rule 50 − nodes/125, at least 5 %, and
	// never fewer than 100 nodes (reference §2.3). Range 0..100.
	PercentageOfNodesToScore int32
	// PodInitialBackoff and PodMaxBackoff: a pod that failed n times waits
	// min(initial·2^(n−1), max) before its next attempt (reference §2.2: 1 s, 10 s).
	// PodMaxBackoff 0 disables backoff.
	PodInitialBackoff time.Duration
	PodMaxBackoff     time.Duration
	// PodMaxInUnschedulablePodsDuration: pods waiting longer than this in
	// unschedulablePods are flushed back by the 30 s loop (reference §2.2: 5 min).
	PodMaxInUnschedulablePodsDuration time.Duration
	// PopFromBackoffQ models the SchedulerPopFromBackoffQ feature gate (beta, on
	// since v1.33): backoff expiries are truncated to whole seconds, the backoffQ
	// flush ticks on whole seconds, and an idle scheduler pops the head of the
	// (unschedulable) backoffQ before its backoff ends (reference §2.2).
	PopFromBackoffQ bool
	// CycleLatency is the virtual time one scheduling cycle costs before counting
	// nodes (snapshot, PreFilter, PreScore, selection, assume). A model parameter, not
	// an upstream constant; the default is log-normal with median 300 µs.
	CycleLatency dist.Spec
	// PerNodeLatency is the virtual time added per node examined in a cycle (Filter
	// plus Score of that node). A model parameter, not an upstream constant; the
	// default 1.5 µs puts a 5,000-node cycle (500 nodes examined) near 1 ms, the
	// order measured for the real in-tree plug-ins run in-process with default
	// sampling at 1,000-5,000 nodes (shared/reference/upstream-scheduler.md).
	PerNodeLatency time.Duration
	// Profile lists the plug-ins; DefaultProfile() by default. It is the
	// scheduler's only profile, named SchedulerName, unless Profiles is set.
	Profile Profile
	// Profiles, when not empty, are every profile of the scheduler (upstream
	// KubeSchedulerConfiguration.profiles): a pod is scheduled by the profile whose
	// SchedulerName ("" means "default-scheduler") equals its spec.schedulerName;
	// pods naming no profile are not this scheduler's and stay Pending. Names must
	// be unique and every profile must use the same QueueSort plug-in. A profile's
	// PercentageOfNodesToScore overrides the global one. Profile and SchedulerName
	// are then ignored (SetProfiles sets them to the first profile for readers).
	Profiles []Profile
	// OnDecision, when set, receives every scheduling attempt's per-node filter
	// verdicts and per-plug-in scores (for "explain" features). nil costs nothing.
	OnDecision func(Decision)
}

// DefaultConfig returns the reference defaults.
func DefaultConfig() Config {
	return Config{
		SchedulerName:                     api.DefaultSchedulerName,
		PercentageOfNodesToScore:          0,
		PodInitialBackoff:                 1 * time.Second,
		PodMaxBackoff:                     10 * time.Second,
		PodMaxInUnschedulablePodsDuration: 5 * time.Minute,
		PopFromBackoffQ:                   true,
		CycleLatency:                      dist.LogNormal(300*time.Microsecond, 0.3),
		PerNodeLatency:                    1500 * time.Nanosecond,
		Profile:                           DefaultProfile(),
	}
}

// Validate checks the configuration; plugins is the registry the profile's names
// must come from (plug-in arguments are validated by building each plug-in).
func (c *Config) Validate(reg *dist.Registry, plugins *Registry) error {
	if c.SchedulerName == "" && len(c.Profiles) == 0 {
		return fmt.Errorf("schedulerName: required")
	}
	if c.PercentageOfNodesToScore < 0 || c.PercentageOfNodesToScore > 100 {
		return fmt.Errorf("percentageOfNodesToScore: must be in 0..100, got %d", c.PercentageOfNodesToScore)
	}
	if c.PodInitialBackoff < 0 {
		return fmt.Errorf("podInitialBackoff: must not be negative, got %v", c.PodInitialBackoff)
	}
	if c.PodMaxBackoff < 0 {
		return fmt.Errorf("podMaxBackoff: must not be negative, got %v", c.PodMaxBackoff)
	}
	if c.PodMaxBackoff > 0 {
		if c.PodInitialBackoff == 0 {
			return fmt.Errorf("podInitialBackoff: must be positive when podMaxBackoff is set")
		}
		if c.PodMaxBackoff < c.PodInitialBackoff {
			return fmt.Errorf("podMaxBackoff: %v is below podInitialBackoff %v", c.PodMaxBackoff, c.PodInitialBackoff)
		}
	}
	if c.PodMaxInUnschedulablePodsDuration <= 0 {
		return fmt.Errorf("podMaxInUnschedulablePodsDuration: must be positive, got %v", c.PodMaxInUnschedulablePodsDuration)
	}
	if reg == nil {
		return fmt.Errorf("cycleLatency: no distribution registry given")
	}
	if err := reg.Validate(c.CycleLatency); err != nil {
		return fmt.Errorf("cycleLatency: %w", err)
	}
	if c.PerNodeLatency < 0 {
		return fmt.Errorf("perNodeLatency: must not be negative, got %v", c.PerNodeLatency)
	}
	if plugins == nil {
		return fmt.Errorf("profile: no plug-in registry given")
	}
	_, err := buildProfiles(c, plugins, nil)
	return err
}
