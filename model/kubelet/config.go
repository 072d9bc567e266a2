package kubelet

import (
	"fmt"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/dist"
)

// Config is one kubelet's configuration. Durations are virtual time.
type Config struct {
	// NodeName names the Node the kubelet registers and the pods it runs
	// (spec.nodeName). Required.
	NodeName string
	// Labels are added to the Node's labels; the kubelet always sets
	// kubernetes.io/hostname=NodeName, kubernetes.io/os=linux and
	// kubernetes.io/arch=amd64 (pkg/kubelet/kubelet_node_status.go initialNode).
	Labels map[string]string
	// Taints are registered with the Node (--register-with-taints).
	Taints []api.Taint
	// Capacity is the machine: CPU, memory, ephemeral storage, extended resources.
	// Capacity.Pods is set to MaxPods.
	Capacity api.Resources
	// Reserved is kube-reserved plus system-reserved (empty by default, as upstream).
	Reserved api.Resources
	// EvictionHardMemory is the hard eviction threshold memory.available (100 MiB)
	// and EvictionHardNodefsPercent nodefs.available (10 %), both subtracted from
	// capacity for allocatable (reference §4; pkg/kubelet/eviction/defaults_linux.go).
	//
	// Allocatable = Capacity - Reserved - hard eviction thresholds
	// (pkg/kubelet/cm/node_container_manager_linux.go GetNodeAllocatableReservation).
	// The Node reports both; admission and the scheduler use allocatable.
	EvictionHardMemory        int64
	EvictionHardNodefsPercent float64
	// Address is the node's IP (status.addresses InternalIP and the pods' hostIP).
	Address string
	// PodCIDRIndex picks the node's /24 pod CIDR (the per-node size
	// kube-controller-manager allocates by default): 10.244.<PodCIDRIndex>.0/24 for
	// indexes below 256, as with the usual 10.244.0.0/16 cluster CIDR. Larger
	// clusters continue through 10.245–10.255 and then 10.128–10.243 (skipping the
	// 10.96.0.0/12 service range), up to MaxPodCIDRIndex. Pod IPs are .2–.254 of
	// the node's /24, handed out round-robin as host-local IPAM does. Each node
	// needs its own index.
	PodCIDRIndex int
	// MaxPods is the most pods the node admits (reference §4: 110).
	MaxPods int64
	// NodeStatusUpdateFrequency is how often the kubelet computes node status (10 s);
	// NodeStatusReportFrequency how often it posts it when nothing changed (5 min).
	// A change (for example a new image after a pull) is posted at the next
	// computation (reference §4).
	NodeStatusUpdateFrequency, NodeStatusReportFrequency time.Duration
	// NodeLeaseDurationSeconds is the Lease's duration (40 s); the kubelet renews it
	// every 0.25 of it, 10 s (reference §4; pkg/kubelet/nodelease).
	NodeLeaseDurationSeconds int32
	// NodeStatusMaxImages caps the images reported in node status (50, reference §4).
	NodeStatusMaxImages int
	// SyncLatency is the kubelet's reaction time to a pod event: dispatch to the
	// pod worker and the start of its sync (a model parameter). It also stands for
	// PLEG noticing a container exit.
	SyncLatency dist.Spec
	// SandboxLatency is the time to create the pod sandbox: the pause container and
	// the pod network (CNI ADD assigns the IP). A model parameter.
	SandboxLatency dist.Spec
	// CrashLoopBackOffInitial and CrashLoopBackOffMax are the container restart
	// backoff: 10 s doubling to 300 s (reference §4; MaxContainerBackOff,
	// crashLoopBackOff.maxContainerRestartPeriod). Image pull backoff uses the same
	// values (pkg/kubelet/kubelet.go imageBackOff).
	CrashLoopBackOffInitial, CrashLoopBackOffMax time.Duration
	// StartAt is when the kubelet process starts and registers, since the run's epoch.
	StartAt time.Duration
}

// Reference defaults used by DefaultConfig and the model (reference §4).
const (
	// DefaultMaxPods is maxPods (pkg/kubelet/apis/config/v1beta1/defaults.go).
	DefaultMaxPods = 110
	// backOffPeriod is the pod worker's requeue delay after a failed sync
	// (pkg/kubelet/kubelet.go backOffPeriod; the 0–50 % jitter is not modeled).
	backOffPeriod = 10 * time.Second
	// backOffResetAfter: a container's restart backoff resets when it exits more
	// than 600 s after its last restart (pkg/kubelet/kubelet.go
	// crashLoopBackOff.HasExpiredFunc).
	backOffResetAfter = 600 * time.Second
	// imageBackOffResetAfter: image pull backoff uses client-go's default expiry,
	// twice the maximum (staging/src/k8s.io/client-go/util/flowcontrol/backoff.go).
	imageBackOffResetFactor = 2
)

// DefaultConfig returns the reference defaults for a 4-CPU, 16 GiB node named node-1.
// Capacity, address and name are per-node scenario values; the latencies are model
// parameters to calibrate with real runs.
func DefaultConfig() Config {
	return Config{
		NodeName: "node-1",
		Capacity: api.Resources{
			MilliCPU:         4000,
			Memory:           16 << 30,
			EphemeralStorage: 100 << 30,
		},
		EvictionHardMemory:        100 << 20,
		EvictionHardNodefsPercent: 10,
		Address:                   "10.0.0.11",
		PodCIDRIndex:              1,
		MaxPods:                   DefaultMaxPods,
		NodeStatusUpdateFrequency: 10 * time.Second,
		NodeStatusReportFrequency: 5 * time.Minute,
		NodeLeaseDurationSeconds:  40,
		NodeStatusMaxImages:       50,
		SyncLatency:               dist.LogNormal(10*time.Millisecond, 0.5),
		SandboxLatency:            dist.LogNormal(400*time.Millisecond, 0.4),
		CrashLoopBackOffInitial:   10 * time.Second,
		CrashLoopBackOffMax:       300 * time.Second,
	}
}

// Validate checks the configuration; messages name the field.
func (c *Config) Validate(reg *dist.Registry) error {
	switch {
	case c.NodeName == "":
		return fmt.Errorf("nodeName: required")
	case c.Address == "":
		return fmt.Errorf("address: required (the node IP)")
	case c.PodCIDRIndex < 0 || c.PodCIDRIndex > MaxPodCIDRIndex:
		return fmt.Errorf("podCIDRIndex: %d must be in 0..%d", c.PodCIDRIndex, MaxPodCIDRIndex)
	case c.MaxPods < 1 || c.MaxPods > 253:
		return fmt.Errorf("maxPods: %d must be in 1..253 (the node's /24 pod CIDR holds 253 pod IPs)", c.MaxPods)
	case c.Capacity.MilliCPU < 0 || c.Capacity.Memory < 0 || c.Capacity.EphemeralStorage < 0:
		return fmt.Errorf("capacity: quantities must not be negative")
	case c.Reserved.MilliCPU < 0 || c.Reserved.Memory < 0 || c.Reserved.EphemeralStorage < 0:
		return fmt.Errorf("reserved: quantities must not be negative")
	case c.EvictionHardMemory < 0:
		return fmt.Errorf("evictionHardMemory: must not be negative")
	case c.EvictionHardNodefsPercent < 0 || c.EvictionHardNodefsPercent >= 100:
		return fmt.Errorf("evictionHardNodefsPercent: %g must be in [0, 100)", c.EvictionHardNodefsPercent)
	case c.NodeStatusUpdateFrequency <= 0:
		return fmt.Errorf("nodeStatusUpdateFrequency: must be positive")
	case c.NodeStatusReportFrequency < c.NodeStatusUpdateFrequency:
		return fmt.Errorf("nodeStatusReportFrequency: must be at least nodeStatusUpdateFrequency (%v)", c.NodeStatusUpdateFrequency)
	case c.NodeLeaseDurationSeconds < 1:
		return fmt.Errorf("nodeLeaseDurationSeconds: must be positive")
	case c.NodeStatusMaxImages < 0:
		return fmt.Errorf("nodeStatusMaxImages: must not be negative (0 reports none)")
	case c.CrashLoopBackOffInitial <= 0:
		return fmt.Errorf("crashLoopBackOffInitial: must be positive")
	case c.CrashLoopBackOffMax < c.CrashLoopBackOffInitial:
		return fmt.Errorf("crashLoopBackOffMax: must be at least crashLoopBackOffInitial (%v)", c.CrashLoopBackOffInitial)
	case c.StartAt < 0:
		return fmt.Errorf("startAt: must not be negative")
	}
	a := c.Allocatable()
	if a.MilliCPU < 0 || a.Memory < 0 || a.EphemeralStorage < 0 {
		return fmt.Errorf("reserved: reservations and eviction thresholds exceed capacity (allocatable %+v)", a)
	}
	if err := reg.Validate(c.SyncLatency); err != nil {
		return fmt.Errorf("syncLatency: %w", err)
	}
	if err := reg.Validate(c.SandboxLatency); err != nil {
		return fmt.Errorf("sandboxLatency: %w", err)
	}
	return nil
}

// NodeCapacity returns the capacity the Node reports: Capacity with Pods = MaxPods.
func (c *Config) NodeCapacity() api.Resources {
	r := c.Capacity.Clone()
	r.Pods = c.MaxPods
	return r
}

// Allocatable returns capacity minus Reserved and the hard eviction thresholds
// (memory.available, nodefs.available as a share of ephemeral storage).
func (c *Config) Allocatable() api.Resources {
	r := c.NodeCapacity()
	r.Sub(&c.Reserved)
	r.Pods = c.MaxPods
	r.Memory -= c.EvictionHardMemory
	r.EphemeralStorage -= int64(float64(c.Capacity.EphemeralStorage) * c.EvictionHardNodefsPercent / 100)
	return r
}

// MaxPodCIDRIndex is the largest PodCIDRIndex: 12·256 /24s in 10.244–10.255 plus
// 116·256 in 10.128–10.243.
const MaxPodCIDRIndex = 12*256 + 116*256 - 1

// PodCIDR returns the node's pod CIDR prefix "10.<a>.<b>" (without the host part).
func (c *Config) PodCIDR() string {
	i := c.PodCIDRIndex
	a := 244 + i/256
	if i >= 12*256 {
		a = 128 + (i-12*256)/256
	}
	return fmt.Sprintf("10.%d.%d", a, i%256)
}

// leaseRenewInterval is 0.25 of the lease duration (pkg/kubelet/kubelet.go:
// renewInterval = leaseDuration * 0.25).
func (c *Config) leaseRenewInterval() time.Duration {
	return time.Duration(c.NodeLeaseDurationSeconds) * time.Second / 4
}
