package runtime

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/sim"
)

// Usage model: what a running container consumes, for metrics-server and the
// Horizontal Pod Autoscaler, and for out-of-memory kills.
//
// CPU: a serving container's worker that is busy with a request burns
// CPUPerServiceSecond cores for the request's service time; on top, every running
// container burns IdleMilliCPU. The model integrates this exactly over virtual time
// into a cumulative counter of core-seconds, the form cAdvisor exposes
// (container_cpu_usage_seconds_total) and metrics-server turns into a rate by taking
// the difference of two scrapes. So a constant request rate λ with mean service time
// s gives CPU ≈ λ·s·CPUPerServiceSecond cores (plus the idle baseline).
//
// Memory: the working set is a baseline per image (ImageBaseMemory, else
// BaseMemory) plus PerRequestMemory for every request in flight (in service or
// waiting in the backlog: each holds a connection and its buffers). It is an
// instantaneous value, as the kubelet's working-set bytes are.
//
// OOM: when the working set exceeds the container's memory limit (Limits.Memory >
// 0), the kernel's OOM killer ends the process: the container exits with code 137
// (128 + SIGKILL) through the same path as a crash, and OOMKilled reports it, so a
// kubelet can give the reason "OOMKilled" as upstream does.
//
// Simplifications: CPU is not throttled by a CPU limit (CFS quota) and does not
// slow service down; the memory of a request is charged from its acceptance to its
// answer, with no garbage-collection lag; page cache is not modeled.

// UsageConfig configures the usage model of a node's containers.
type UsageConfig struct {
	// CPUPerServiceSecond is the CPU cost factor: cores a busy worker burns while it
	// serves (1.0: a request's service time is all on-CPU, as for a static nginx
	// response; smaller values model I/O waits). A model parameter.
	CPUPerServiceSecond float64
	// IdleMilliCPU is the baseline of every running container, in millicores.
	IdleMilliCPU int64
	// BaseMemory is the working set of a running container with no request in
	// flight, for images without an ImageBaseMemory entry (bytes).
	BaseMemory int64
	// ImageBaseMemory overrides BaseMemory per image (normalized reference).
	ImageBaseMemory map[string]int64
	// PerRequestMemory is the working set each in-flight request adds (bytes).
	PerRequestMemory int64
}

// DefaultUsageConfig returns model parameters for an nginx-like server: the whole
// service time on CPU, 1 millicore idle, about 10 MB of working set for a master and
// four workers idle (nginx processes are a few MB each) and 64 KiB per connection
// in flight (buffers). Calibrate against real runs.
func DefaultUsageConfig() UsageConfig {
	return UsageConfig{
		CPUPerServiceSecond: 1.0,
		IdleMilliCPU:        1,
		BaseMemory:          10 << 20,
		PerRequestMemory:    64 << 10,
	}
}

// Validate checks the configuration; messages name the field.
func (c *UsageConfig) Validate() error {
	if c.CPUPerServiceSecond < 0 {
		return fmt.Errorf("usage.cpuPerServiceSecond: must not be negative")
	}
	if c.IdleMilliCPU < 0 {
		return fmt.Errorf("usage.idleMilliCPU: must not be negative")
	}
	if c.BaseMemory < 0 {
		return fmt.Errorf("usage.baseMemory: must not be negative")
	}
	if c.PerRequestMemory < 0 {
		return fmt.Errorf("usage.perRequestMemory: must not be negative")
	}
	keys := make([]string, 0, len(c.ImageBaseMemory))
	for k := range c.ImageBaseMemory {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if c.ImageBaseMemory[k] < 0 {
			return fmt.Errorf("usage.imageBaseMemory[%s]: must not be negative", k)
		}
	}
	return nil
}

// usage is a container's usage state. cpu holds the core-seconds accumulated up to
// last; busy and inflight are the listener's counts since last.
type usage struct {
	init           bool
	last           sim.Time
	cpu            float64 // core-seconds up to last
	busy, inflight int
	oomPending     bool
	oomKilled      bool
}

// rate returns the cores burnt now by c with busy workers.
func (m *Modeled) cpuRate(busy int) float64 {
	return float64(busy)*m.cfg.Usage.CPUPerServiceSecond + float64(m.cfg.Usage.IdleMilliCPU)/1000
}

// advance integrates c's CPU up to now with the counts held since the last change.
func (m *Modeled) advance(c *container) {
	u := &c.usage
	if c.state != StateRunning {
		return // the counter stops when the process ends
	}
	now := m.eng.Now()
	if !u.init {
		u.init, u.last = true, c.startedAt
	}
	if now > u.last {
		u.cpu += now.Sub(u.last).Seconds() * m.cpuRate(u.busy)
	}
	u.last = now
}

// usageChanged is the listener's hook: call it after every change of the numbers of
// busy workers or waiting requests (O(1)). It integrates CPU up to now with the old
// counts, takes the new ones and, if the working set now exceeds the memory limit,
// schedules the OOM kill at the current instant (as its own event, so the listener's
// caller never sees the container vanish under it).
func (m *Modeled) usageChanged(c *container) {
	m.advance(c)
	u := &c.usage
	if l := c.lis; l != nil {
		u.busy, u.inflight = l.inService(), l.inService()+l.waiting()
	} else {
		u.busy, u.inflight = 0, 0
	}
	m.checkOOM(c)
}

func (m *Modeled) baseMemory(c *container) int64 {
	if v, ok := m.cfg.Usage.ImageBaseMemory[c.image]; ok {
		return v
	}
	return m.cfg.Usage.BaseMemory
}

func (m *Modeled) workingSet(c *container) int64 {
	if c.state != StateRunning {
		return 0
	}
	return m.baseMemory(c) + int64(c.usage.inflight)*m.cfg.Usage.PerRequestMemory
}

func (m *Modeled) checkOOM(c *container) {
	lim := c.spec.Limits.Memory
	if lim <= 0 || c.usage.oomPending || c.state != StateRunning || c.stopping {
		return
	}
	if ws := m.workingSet(c); ws > lim {
		c.usage.oomPending = true
		m.eng.After(0, func() {
			c.usage.oomPending = false
			if ws := m.workingSet(c); ws > lim && c.state == StateRunning && !c.stopping {
				m.oomKill(c, fmt.Sprintf("working set %s exceeds the memory limit %s", fmtBytes(ws), fmtBytes(lim)))
			}
		})
	}
}

func (m *Modeled) oomKill(c *container, why string) {
	m.advance(c)
	c.usage.oomKilled = true
	m.exit(c, 137, "OOMKilled: the kernel's OOM killer ended the process (SIGKILL, 128+9): "+why)
}

// OOMKill kills a running container as the OOM killer would (exit code 137,
// OOMKilled true), whatever its usage: the entry point for an out-of-memory fault.
// It returns ErrNoSuchContainer or ErrContainerState when nothing runs.
func (m *Modeled) OOMKill(id string) error {
	c, ok := m.containers[id]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoSuchContainer, id)
	}
	if c.state != StateRunning || c.stopping {
		return fmt.Errorf("%w: OOM kill of %s, which is %s", ErrContainerState, id, c.state)
	}
	m.oomKill(c, "out-of-memory fault injected")
	return nil
}

// OOMKilled reports whether container id's last exit was an OOM kill (the kubelet
// reports the reason "OOMKilled" for it).
func (m *Modeled) OOMKilled(id string) bool {
	c, ok := m.containers[id]
	return ok && c.usage.oomKilled
}

// CPUUsageSeconds returns container id's cumulative CPU time in core-seconds up to
// now (cAdvisor's container_cpu_usage_seconds_total). It stops growing when the
// container exits.
func (m *Modeled) CPUUsageSeconds(id string) (float64, bool) {
	c, ok := m.containers[id]
	if !ok {
		return 0, false
	}
	m.advance(c)
	return c.usage.cpu, true
}

// MemoryWorkingSet returns container id's working set in bytes now (0 when it does
// not run).
func (m *Modeled) MemoryWorkingSet(id string) (int64, bool) {
	c, ok := m.containers[id]
	if !ok {
		return 0, false
	}
	return m.workingSet(c), true
}

// ContainerStats is one running container's usage, as the kubelet's summary API
// reports it to metrics-server.
type ContainerStats struct {
	ID                 string
	PodUID             api.UID
	PodName, Namespace string
	Name               string
	// StartedAt is when the container started.
	StartedAt sim.Time
	// CPUUsageSeconds is the cumulative CPU time in core-seconds.
	CPUUsageSeconds float64
	// MemoryWorkingSet is the working set now, in bytes.
	MemoryWorkingSet int64
}

// Stats returns the usage of every running container, ordered by namespace, pod
// name, container name and id (deterministic). O(containers).
func (m *Modeled) Stats() []ContainerStats {
	out := make([]ContainerStats, 0, len(m.containers))
	for _, c := range m.containers {
		if c.state != StateRunning {
			continue
		}
		m.advance(c)
		out = append(out, ContainerStats{
			ID: c.id, PodUID: c.spec.PodUID, PodName: c.spec.PodName, Namespace: c.spec.Namespace, Name: c.spec.Name,
			StartedAt: c.startedAt, CPUUsageSeconds: c.usage.cpu, MemoryWorkingSet: m.workingSet(c),
		})
	}
	slices.SortFunc(out, func(a, b ContainerStats) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		if c := strings.Compare(a.PodName, b.PodName); c != 0 {
			return c
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}
