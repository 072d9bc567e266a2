package kubelet

import (
	"fmt"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/sim"
)

// Liveness and startup probes (reference §4; pkg/kubelet/prober/worker.go,
// prober_manager.go; pkg/kubelet/kuberuntime/kuberuntime_manager.go
// computePodActions).
//
//   - A startup probe runs first: liveness and readiness probes wait until it has
//     succeeded (successThreshold, 1), and until then the container is neither
//     started nor ready. failureThreshold consecutive failures (failureThreshold ×
//     periodSeconds) kill the container.
//   - A liveness probe starts out Success; failureThreshold consecutive failures
//     kill the container.
//   - A killed container is stopped with the pod's terminationGracePeriodSeconds
//     and restarted unless the restart policy is Never (computePodActions restarts
//     an unhealthy container for Always and OnFailure alike), through the usual
//     restart path with its CrashLoopBackOff (the first restart at once, then 10 s
//     doubling to 300 s).
//   - No probe runs before initialDelaySeconds after the container started; probes
//     tick every periodSeconds from the pod's admission, as the readiness worker does.
//
// The modeled probe succeeds when the runtime's Prober says so (the container runs
// and its process listens); without a Prober it succeeds while the container runs.
// So an image whose process never listens fails its liveness probe too, as an HTTP
// or TCP probe of its port would. Probe timeouts are not modeled (a probe answers at
// once). Probes of init containers are not modeled.

type probeKind uint8

const (
	probeLiveness probeKind = iota + 1
	probeStartup
)

func (p probeKind) String() string {
	if p == probeStartup {
		return "startup"
	}
	return "liveness"
}

// probeWorker probes one container instance (worker.go). It stops by itself when
// the instance it was made for is no longer the running one.
type probeWorker struct {
	k        *Kubelet
	c        *ctr
	id       string
	kind     probeKind
	spec     api.Probe
	succ     int32
	fail     int32
	ok       bool // startup: succeeded
	stopped  bool
	timer    sim.Timer
	attempts int32
}

var _ sim.Handler = (*probeWorker)(nil)

func newProbeWorker(k *Kubelet, c *ctr, kind probeKind, spec *api.Probe) *probeWorker {
	w := &probeWorker{k: k, c: c, id: c.id, kind: kind, spec: *spec}
	api.DefaultProbe(&w.spec)
	w.arm(c.startedAt.Add(api.Seconds(w.spec.InitialDelaySeconds)))
	return w
}

// arm schedules the next probe at the first worker tick at or after t.
func (w *probeWorker) arm(t sim.Time) {
	period := sim.Time(api.Seconds(w.spec.PeriodSeconds))
	anchor := w.c.ps.probeAnchor
	t = max(t, w.k.eng.Now())
	at := anchor
	if t > anchor {
		at = anchor + (t-anchor+period-1)/period*period
	}
	w.timer = w.k.eng.Schedule(at, w, 0, 0, nil)
}

func (w *probeWorker) stop() {
	w.stopped = true
	w.k.eng.Cancel(w.timer)
	w.timer = sim.Timer{}
}

// startedByProbe reports whether the container counts as started: it has no
// startup probe, or its startup probe succeeded.
func (c *ctr) startedByProbe() bool { return c.startup == nil || c.startup.ok }

// Handle runs one probe.
func (w *probeWorker) Handle(*sim.Event) {
	w.timer = sim.Timer{}
	k, c := w.k, w.c
	ps := c.ps
	if w.stopped || k.stopped || ps.terminating || ps.finished || c.id != w.id || !c.running() || c.busy {
		return
	}
	now := k.eng.Now()
	ok := k.prober == nil || k.prober.ProbeReady(c.id)
	w.attempts++
	if ok {
		w.succ, w.fail = w.succ+1, 0
	} else {
		w.succ, w.fail = 0, w.fail+1
	}
	switch w.kind {
	case probeStartup:
		if ok && w.succ >= w.spec.SuccessThreshold {
			w.ok = true
			k.tracef(0, "probe", ps.ref, "startup probe of container %s succeeded %.3fs after it started: the container counts as started, so its liveness and readiness probes begin",
				c.spec.Name, now.Sub(c.startedAt).Seconds())
			k.afterStartup(c)
			return // the startup worker stops probing once the container started
		}
		if !ok && w.fail >= w.spec.FailureThreshold {
			k.killUnhealthy(c, fmt.Sprintf("startup probe of container %s failed %d times in a row (failureThreshold %d × periodSeconds %d = %ds without starting)",
				c.spec.Name, w.fail, w.spec.FailureThreshold, w.spec.FailureThreshold, w.spec.FailureThreshold*w.spec.PeriodSeconds))
			return
		}
	case probeLiveness:
		if !ok && w.fail >= w.spec.FailureThreshold {
			k.killUnhealthy(c, fmt.Sprintf("liveness probe of container %s failed %d times in a row (failureThreshold %d, periodSeconds %d)",
				c.spec.Name, w.fail, w.spec.FailureThreshold, w.spec.PeriodSeconds))
			return
		}
	}
	w.arm(now + 1)
}

// containerStarted arms the probes of a container that just started: its startup
// probe if it has one, else what follows a successful start-up.
func (k *Kubelet) containerStarted(c *ctr) {
	if c.live != nil {
		c.live.stop()
		c.live = nil
	}
	if c.startup != nil {
		c.startup.stop()
		c.startup = nil
	}
	if p := c.spec.StartupProbe; p != nil && !c.init {
		c.ready = false
		c.startup = newProbeWorker(k, c, probeStartup, p)
		return
	}
	k.afterStartup(c)
}

// afterStartup starts the readiness probe (or makes a container without one ready)
// and the liveness probe.
func (k *Kubelet) afterStartup(c *ctr) {
	if !c.hasProbe {
		c.ready = !c.init
	} else {
		k.startProbe(c)
	}
	if p := c.spec.LivenessProbe; p != nil && !c.init {
		c.live = newProbeWorker(k, c, probeLiveness, p)
	}
	if c.startup != nil {
		k.requestStatus(c.ps) // started (and maybe ready) changed
	}
}

// killUnhealthy kills a container whose liveness or startup probe failed: the stop
// signal, then SIGKILL after the pod's grace period; the exit then goes through the
// restart policy and CrashLoopBackOff like any other.
func (k *Kubelet) killUnhealthy(c *ctr, why string) {
	ps := c.ps
	grace := time.Duration(ps.pod.Spec.TerminationGracePeriodSeconds) * time.Second
	policy := ps.pod.Spec.RestartPolicy
	then := "it will be restarted (subject to CrashLoopBackOff)"
	if policy == api.RestartNever {
		then = "restart policy Never: it stays terminated"
	}
	k.tracef(0, "probe", ps.ref, "%s: killing the container (grace period %v); %s", why, grace, then)
	id := c.id
	start := k.eng.Now()
	c.busy = true
	c.ready = false
	k.eng.Cancel(c.probeT)
	c.probeT = sim.Timer{}
	k.requestStatus(ps)
	k.rt.StopContainer(id, grace, func(error) {
		c.busy = false
		if k.stopped {
			return
		}
		if ps.terminating {
			c.state, c.ready = api.ContainerTerminated, false
			k.checkTerminated(ps)
			return
		}
		if c.id != id {
			return
		}
		code := 143 // exited on SIGTERM (128 + 15)
		if k.eng.Now().Sub(start) >= grace {
			code = 137 // SIGKILL at the end of the grace period
		}
		k.containerExited(c, code, "Error")
	})
}
