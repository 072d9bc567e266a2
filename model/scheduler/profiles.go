package scheduler

import "fmt"

// ValidateProfile checks a profile against a plug-in registry: every plug-in is
// built (with a nil Handle) from its arguments, and the profile has a QueueSort and
// a Bind plug-in.
func ValidateProfile(p Profile, plugins *Registry) error {
	_, err := newFramework(p, plugins, nil)
	return err
}

// SetProfiles configures cfg with the profiles of a KubeSchedulerConfiguration
// (upstream KubeSchedulerConfiguration.profiles). The first profile becomes
// cfg.Profile and names the scheduler (cfg.SchedulerName); a profile's own
// PercentageOfNodesToScore overrides the global one, as upstream.
func SetProfiles(cfg *Config, profiles []Profile) error {
	if len(profiles) == 0 {
		return fmt.Errorf("profiles: at least one profile is required")
	}
	if len(profiles) > 1 {
		return fmt.Errorf("profiles: %d profiles given; kubesim runs one profile per scheduler", len(profiles))
	}
	p := profiles[0]
	if p.SchedulerName != "" {
		cfg.SchedulerName = p.SchedulerName
	}
	if p.PercentageOfNodesToScore != nil {
		cfg.PercentageOfNodesToScore = *p.PercentageOfNodesToScore
	}
	cfg.Profile = p
	return nil
}
