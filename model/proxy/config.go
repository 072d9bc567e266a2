package proxy

import (
	"fmt"
	"math"
	"time"

	"github.com/kubesim/kubesim/model/dist"
)

// Mode is kube-proxy's proxy mode: how a node's rules choose a backend.
type Mode string

// Proxy modes (reference §5; pkg/proxy/{iptables,ipvs,nftables}/proxier.go).
const (
	// ModeIPTables is the Linux default: a KUBE-SVC chain whose rule i of n matches
	// with probability 1/(n−i) (statistic --mode random), a uniform 1/n choice per
	// new connection.
	ModeIPTables Mode = "iptables"
	// ModeIPVS uses an IPVS virtual server per service port with the default rr
	// (round-robin) scheduler.
	ModeIPVS Mode = "ipvs"
	// ModeNFTables uses a "numgen random mod n" verdict map: uniform 1/n.
	ModeNFTables Mode = "nftables"
)

// String returns the mode's name.
func (m Mode) String() string { return string(m) }

// Known reports whether m is one of the modes above.
func (m Mode) Known() bool { return m == ModeIPTables || m == ModeIPVS || m == ModeNFTables }

// Scheduler is an IPVS scheduler: how an IPVS virtual server picks the real server
// of a new connection (kube-proxy's --ipvs-scheduler, KubeProxyIPVSConfiguration
// .Scheduler in pkg/proxy/apis/config/types.go; empty means rr, pkg/proxy/ipvs/
// proxier.go defaultScheduler).
type Scheduler string

// IPVS schedulers kubesim models (Linux net/netfilter/ipvs/ip_vs_{rr,lc,sh}.c).
const (
	// SchedulerRR is round-robin: each new connection goes to the next real server
	// of the list (the kube-proxy default).
	SchedulerRR Scheduler = "rr"
	// SchedulerLC is least-connection: the real server with the fewest active
	// connections, the first in list order on a tie (ip_vs_lc.c picks the lowest
	// overhead = activeconns<<8 + inactconns; kubesim counts every connection as
	// active from the pick to its close).
	SchedulerLC Scheduler = "lc"
	// SchedulerSH is source hashing: a 256-bucket table (IP_VS_SH_TAB_BITS 8)
	// whose bucket i holds real server i mod n (ip_vs_sh_reassign with weight 1),
	// indexed by hash_32(client IP, 8); a client keeps its real server while the
	// set of servers is unchanged.
	SchedulerSH Scheduler = "sh"
)

// String returns the scheduler's name.
func (s Scheduler) String() string { return string(s) }

// Known reports whether s is one of the schedulers above.
func (s Scheduler) Known() bool { return s == SchedulerRR || s == SchedulerLC || s == SchedulerSH }

// DefaultClientIPAffinityTimeout is how long a ClientIP session affinity entry lives
// after its last use: DefaultClientIPServiceAffinitySeconds = 10800 s (3 h)
// (reference §5; staging/src/k8s.io/api/core/v1/types.go).
const DefaultClientIPAffinityTimeout = 10800 * time.Second

// Config is one kube-proxy's configuration.
type Config struct {
	// Mode selects how backends are chosen (default iptables, reference §5).
	Mode Mode
	// Scheduler is the IPVS scheduler of mode ipvs (default rr, reference §5; empty
	// means rr). It must be rr or empty in the other modes, which have no scheduler.
	Scheduler Scheduler
	// SyncLatency is how long one sync takes to write the rules (iptables-restore,
	// ipvs netlink calls, nft): the time between reading the pending changes and the
	// kernel using the new rules. A model parameter, not a reference value: calibrate
	// it against kubeproxy_sync_proxy_rules_duration_seconds.
	SyncLatency dist.Spec
	// MinSyncPeriod is the least time between the end of one sync and the start of
	// the next; changes arriving meanwhile are batched into the next sync (reference
	// §5: 1 s; pkg/proxy/runner/bounded_frequency_runner.go measures it from the
	// completion of the previous run).
	MinSyncPeriod time.Duration
	// SyncPeriod is the periodic full sync (reference §5: 30 s). 0 disables it.
	// Must be >= MinSyncPeriod when set (the runner panics otherwise).
	SyncPeriod time.Duration
	// QPS and Burst are kube-proxy's client-side API rate limits (reference §6.3: 5
	// and 10). kube-proxy only watches, so they only pace its initial watches. The
	// caller builds the Client with them (server.Client(name, QPS, Burst)).
	QPS   float64
	Burst int
	// AffinityTimeout is how long a sessionAffinity: ClientIP entry stays valid after
	// its last use. kubesim's Service has no sessionAffinityConfig, so every Service
	// uses this value (default 10800 s, DefaultClientIPAffinityTimeout).
	AffinityTimeout time.Duration
}

// DefaultConfig returns the reference defaults (reference §5, §6.3).
func DefaultConfig() Config {
	return Config{
		Mode:            ModeIPTables,
		Scheduler:       SchedulerRR,
		SyncLatency:     dist.LogNormal(20*time.Millisecond, 0.5),
		MinSyncPeriod:   time.Second,
		SyncPeriod:      30 * time.Second,
		QPS:             5,
		Burst:           10,
		AffinityTimeout: DefaultClientIPAffinityTimeout,
	}
}

// Validate checks the configuration; errors name the field.
func (c *Config) Validate(reg *dist.Registry) error {
	if !c.Mode.Known() {
		return fmt.Errorf("mode: unknown proxy mode %q (known: %s, %s, %s)", c.Mode, ModeIPTables, ModeIPVS, ModeNFTables)
	}
	if c.Scheduler != "" && !c.Scheduler.Known() {
		return fmt.Errorf("scheduler: unknown IPVS scheduler %q (known: %s, %s, %s)", c.Scheduler, SchedulerRR, SchedulerLC, SchedulerSH)
	}
	if c.Scheduler != "" && c.Scheduler != SchedulerRR && c.Mode != ModeIPVS {
		return fmt.Errorf("scheduler: %s needs mode %s (mode %s has no IPVS scheduler)", c.Scheduler, ModeIPVS, c.Mode)
	}
	if reg == nil {
		return fmt.Errorf("syncLatency: no distribution registry given")
	}
	if err := reg.Validate(c.SyncLatency); err != nil {
		return fmt.Errorf("syncLatency: %w", err)
	}
	if c.MinSyncPeriod < 0 {
		return fmt.Errorf("minSyncPeriod: must not be negative, got %v", c.MinSyncPeriod)
	}
	if c.SyncPeriod < 0 {
		return fmt.Errorf("syncPeriod: must not be negative, got %v", c.SyncPeriod)
	}
	if c.SyncPeriod > 0 && c.SyncPeriod < c.MinSyncPeriod {
		return fmt.Errorf("syncPeriod: %v must be at least minSyncPeriod (%v)", c.SyncPeriod, c.MinSyncPeriod)
	}
	if c.QPS < 0 || math.IsNaN(c.QPS) || math.IsInf(c.QPS, 0) {
		return fmt.Errorf("qps: must be a finite number >= 0, got %g", c.QPS)
	}
	if c.Burst < 0 {
		return fmt.Errorf("burst: must not be negative, got %d", c.Burst)
	}
	if c.QPS > 0 && c.Burst < 1 {
		return fmt.Errorf("burst: must be at least 1 when qps is set, got %d", c.Burst)
	}
	if c.AffinityTimeout <= 0 {
		return fmt.Errorf("affinityTimeout: must be positive, got %v", c.AffinityTimeout)
	}
	return nil
}
