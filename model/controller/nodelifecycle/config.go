package nodelifecycle

import (
	"fmt"
	"time"

	"github.com/kubesim/kubesim/model/dist"
)

// Config configures the node lifecycle controller. Every default is upstream's
// (reference §3.3; pkg/controller/nodelifecycle/config/v1alpha1/defaults.go,
// staging/src/k8s.io/cloud-provider/config/v1alpha1/defaults.go,
// cmd/kube-controller-manager/app/options/nodelifecyclecontroller.go).
type Config struct {
	// NodeMonitorPeriod is how often node health is evaluated (--node-monitor-period, 5 s).
	NodeMonitorPeriod time.Duration
	// NodeMonitorGracePeriod is how long a node that reported may go without a
	// heartbeat (a Lease renewal or a new Ready lastHeartbeatTime) before its
	// conditions are set to Unknown (--node-monitor-grace-period, 50 s since v1.32).
	NodeMonitorGracePeriod time.Duration
	// NodeStartupGracePeriod is the grace of a node that never posted a Ready
	// condition (--node-startup-grace-period, 60 s).
	NodeStartupGracePeriod time.Duration
	// NodeEvictionRate is the per-zone rate, in nodes per second, at which nodes get
	// NoExecute taints (--node-eviction-rate 0.1; token bucket with burst 1,
	// scheduler.EvictionRateLimiterBurst).
	NodeEvictionRate float64
	// SecondaryNodeEvictionRate is the rate in a partially disrupted zone
	// (--secondary-node-eviction-rate 0.01).
	SecondaryNodeEvictionRate float64
	// UnhealthyZoneThreshold is the share of NotReady nodes (with more than 2 of
	// them) from which a zone is partially disrupted (--unhealthy-zone-threshold 0.55).
	UnhealthyZoneThreshold float64
	// LargeClusterSizeThreshold: in zones of at most this many nodes the secondary
	// rate is 0 (--large-cluster-size-threshold 50).
	LargeClusterSizeThreshold int
	// TaintingPassPeriod is how often the rate-limited taint queues are worked while
	// they hold nodes (scheduler.NodeEvictionPeriod, 100 ms).
	TaintingPassPeriod time.Duration
}

// DefaultConfig returns the reference defaults.
func DefaultConfig() Config {
	return Config{
		NodeMonitorPeriod:         5 * time.Second,
		NodeMonitorGracePeriod:    50 * time.Second,
		NodeStartupGracePeriod:    60 * time.Second,
		NodeEvictionRate:          0.1,
		SecondaryNodeEvictionRate: 0.01,
		UnhealthyZoneThreshold:    0.55,
		LargeClusterSizeThreshold: 50,
		TaintingPassPeriod:        100 * time.Millisecond,
	}
}

// Validate checks the configuration; messages name the field.
func (c *Config) Validate(_ *dist.Registry) error {
	switch {
	case c.NodeMonitorPeriod <= 0:
		return fmt.Errorf("nodeMonitorPeriod: must be positive, got %v", c.NodeMonitorPeriod)
	case c.NodeMonitorGracePeriod <= 0:
		return fmt.Errorf("nodeMonitorGracePeriod: must be positive, got %v", c.NodeMonitorGracePeriod)
	case c.NodeStartupGracePeriod <= 0:
		return fmt.Errorf("nodeStartupGracePeriod: must be positive, got %v", c.NodeStartupGracePeriod)
	case c.NodeEvictionRate < 0:
		return fmt.Errorf("nodeEvictionRate: must not be negative, got %g", c.NodeEvictionRate)
	case c.SecondaryNodeEvictionRate < 0:
		return fmt.Errorf("secondaryNodeEvictionRate: must not be negative, got %g", c.SecondaryNodeEvictionRate)
	case c.UnhealthyZoneThreshold <= 0 || c.UnhealthyZoneThreshold > 1:
		return fmt.Errorf("unhealthyZoneThreshold: must be in (0, 1], got %g", c.UnhealthyZoneThreshold)
	case c.LargeClusterSizeThreshold < 0:
		return fmt.Errorf("largeClusterSizeThreshold: must not be negative, got %d", c.LargeClusterSizeThreshold)
	case c.TaintingPassPeriod <= 0:
		return fmt.Errorf("taintingPassPeriod: must be positive, got %v", c.TaintingPassPeriod)
	}
	return nil
}
