package scheduler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kubesim/kubesim/model/api"
)

// Profiles (upstream pkg/scheduler/profile: profile.Map).
//
// One scheduler runs several profiles: each has its own plug-ins, weights,
// arguments and percentageOfNodesToScore, and a pod is scheduled by the profile
// named by its spec.schedulerName (upstream Scheduler.frameworkForPod). The
// profiles share everything else: the scheduling queue (so they must sort pods
// alike: upstream validation requires the same QueueSort plug-in in every
// profile), the cache, the one-pod-at-a-time scheduling loop, the node rotation
// (nextStartNodeIndex) and the tie-break stream. A pending pod whose
// schedulerName names no profile is not this scheduler's pod (upstream's pod
// informer filter responsibleForPod skips it): it stays Pending; kubesim counts
// it (Stats.NoProfilePending) and says why in the trace and the decisions.

// ValidateProfile checks a profile against a plug-in registry: every plug-in is
// built (with a nil Handle) from its arguments, and the profile has a QueueSort and
// a Bind plug-in.
func ValidateProfile(p Profile, plugins *Registry) error {
	_, err := newFramework(p, plugins, nil)
	return err
}

// SetProfiles configures cfg with the profiles of a KubeSchedulerConfiguration
// (upstream KubeSchedulerConfiguration.profiles): cfg.Profiles holds them all;
// cfg.Profile and cfg.SchedulerName are set to the first one, for readers of a
// single profile. A profile's own PercentageOfNodesToScore overrides the global
// cfg.PercentageOfNodesToScore, as upstream. Names are checked here (required
// after defaulting, unique); plug-ins when the scheduler is built (Config.Validate).
func SetProfiles(cfg *Config, profiles []Profile) error {
	if len(profiles) == 0 {
		return fmt.Errorf("profiles: at least one profile is required")
	}
	out := make([]Profile, len(profiles))
	seen := map[string]int{}
	for i, p := range profiles {
		if p.SchedulerName == "" {
			p.SchedulerName = api.DefaultSchedulerName
		}
		if j, ok := seen[p.SchedulerName]; ok {
			return fmt.Errorf("profiles[%d].schedulerName: Duplicate value: %q (also profiles[%d])", i, p.SchedulerName, j)
		}
		seen[p.SchedulerName] = i
		out[i] = p
	}
	cfg.Profiles = out
	cfg.Profile = out[0]
	cfg.SchedulerName = out[0].SchedulerName
	return nil
}

// profileList returns the scheduler's profiles: cfg.Profiles, or the single
// cfg.Profile named cfg.SchedulerName.
func (c *Config) profileList() []Profile {
	if len(c.Profiles) > 0 {
		return c.Profiles
	}
	p := c.Profile
	p.SchedulerName = c.SchedulerName
	return []Profile{p}
}

// ProfileNames returns the schedulerNames the configuration serves, in profile order.
func (c *Config) ProfileNames() []string {
	var out []string
	for _, p := range c.profileList() {
		name := p.SchedulerName
		if name == "" {
			name = api.DefaultSchedulerName
		}
		out = append(out, name)
	}
	return out
}

// buildProfiles builds every profile's plug-ins (h nil: validation only) and checks
// the profiles together: unique names, percentages in range, and the same QueueSort
// plug-in everywhere (upstream validation.go validateCommonQueueSort, whose message
// is "has to match for all profiles").
func buildProfiles(c *Config, plugins *Registry, h *Scheduler) ([]*profileRuntime, error) {
	list := c.profileList()
	var out []*profileRuntime
	seen := map[string]int{}
	for i, p := range list {
		where := "profile"
		if len(list) > 1 {
			where = fmt.Sprintf("profiles[%d]", i)
		}
		name := p.SchedulerName
		if name == "" {
			name = api.DefaultSchedulerName
		}
		if j, ok := seen[name]; ok {
			return nil, fmt.Errorf("%s.schedulerName: Duplicate value: %q (also profiles[%d])", where, name, j)
		}
		seen[name] = i
		pct := c.PercentageOfNodesToScore
		if p.PercentageOfNodesToScore != nil {
			pct = *p.PercentageOfNodesToScore
			if pct < 0 || pct > 100 {
				return nil, fmt.Errorf("%s.percentageOfNodesToScore: Invalid value: %d: not in valid range [0-100]", where, pct)
			}
		}
		var rt *profileRuntime
		var err error
		if h != nil {
			rt, err = newFramework(p, plugins, h)
		} else {
			rt, err = newFramework(p, plugins, nil)
		}
		if err != nil {
			if len(list) > 1 {
				return nil, fmt.Errorf("%s (schedulerName %q): %w", where, name, err)
			}
			return nil, err
		}
		rt.name, rt.index, rt.percentage = name, i, pct
		if i > 0 && rt.queueSort.Name() != out[0].queueSort.Name() {
			return nil, fmt.Errorf("profiles[%d].plugins.queueSort: Invalid value: %q: has to match for all profiles (profiles[0] %q uses %q; all profiles share one scheduling queue)",
				i, rt.queueSort.Name(), out[0].name, out[0].queueSort.Name())
		}
		out = append(out, rt)
	}
	return out, nil
}

// profileFor returns the profile that schedules the pod (by spec.schedulerName),
// or nil when no profile has that name: the pod is not this scheduler's.
func (s *Scheduler) profileFor(p *api.Pod) *profileRuntime {
	if len(s.profiles) == 1 {
		if p.Spec.SchedulerName == s.profiles[0].name {
			return s.profiles[0]
		}
		return nil
	}
	return s.byName[p.Spec.SchedulerName]
}

// profileOrCurrent is profileFor, falling back to the current cycle's profile
// (never nil). Binding chains use it: they outlive their scheduling cycle.
func (s *Scheduler) profileOrCurrent(p *api.Pod) *profileRuntime {
	if rt := s.profileFor(p); rt != nil {
		return rt
	}
	return s.rt
}

// noteForeign records or forgets a pending pod whose schedulerName names no
// profile: it is counted (Stats.NoProfilePending), traced once and reported to
// OnDecision once, with the reason it stays Pending.
func (s *Scheduler) noteForeign(p *api.Pod, pending bool) {
	_, known := s.foreign[p.UID]
	if !pending {
		if known {
			delete(s.foreign, p.UID)
		}
		return
	}
	if known {
		return
	}
	if s.foreign == nil {
		s.foreign = map[api.UID]struct{}{}
	}
	s.foreign[p.UID] = struct{}{}
	s.stats.NoProfileSeen++
	if !s.tracing && s.cfg.OnDecision == nil {
		return
	}
	msg := fmt.Sprintf("spec.schedulerName %q names no profile of this scheduler (profiles: %s): the pod is not this scheduler's and stays Pending, as kube-scheduler leaves it to a scheduler of that name",
		p.Spec.SchedulerName, strings.Join(s.sortedProfileNames(), ", "))
	s.trace(storyStep, "ignored", api.Ref(p), msg)
	if s.cfg.OnDecision != nil {
		now := s.eng.Now()
		s.cfg.OnDecision(Decision{Time: now, End: now, Pod: api.Ref(p), PodUID: p.UID, Profile: p.Spec.SchedulerName, Outcome: OutcomeNoProfile, Message: msg})
	}
}

// OutcomeNoProfile is the Decision outcome of a pod whose schedulerName names no
// profile (reported once, with attempt 0).
const OutcomeNoProfile = "no-profile"

func (s *Scheduler) sortedProfileNames() []string {
	out := make([]string, 0, len(s.profiles))
	for _, rt := range s.profiles {
		out = append(out, rt.name)
	}
	sort.Strings(out)
	return out
}
