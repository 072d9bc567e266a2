package kubelet

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/runtime"
	"github.com/kubesim/kubesim/sim"
)

// podState is the kubelet's record of one pod bound to its node.
type podState struct {
	pod  *api.Pod // latest object from the watch (shared: never modified)
	uid  api.UID
	rv   int64 // newest resourceVersion seen (watch or own status writes)
	ref  string
	ctrs []*ctr // init containers first, then the regular ones, in spec order
	// nInit counts the init containers at the front of ctrs.
	nInit int
	// next is the start chain's cursor into ctrs: containers start one after the
	// other within a sync, as SyncPod does (pkg/kubelet/kuberuntime/kuberuntime_manager.go).
	next int

	requests api.Resources
	admitted bool // requests are counted in the node's used resources
	rejected bool
	reason   string // pod-level status reason and message (admission rejection)
	message  string

	synced       bool // the pod worker has synced the pod once
	startTime    sim.Time
	probeAnchor  sim.Time // probe workers tick from here (created when the pod is admitted)
	sandboxReady bool
	ip           string
	ipIdx        int // host part of ip while allocated, else 0

	terminating bool // deletion in progress: containers are being stopped
	terminated  bool // every container stopped after a deletion
	finished    bool // terminal on its own (restart policy), resources released
	deleted     bool // the API object is gone
	deleteSent  bool
	stopping    int // stops in flight

	// image pulls of this pod, for the startup SLI (pod_startup_latency_tracker.go)
	pullStart, pullEnd sim.Time
	pulled             bool

	obsStartup, obsReady bool
	crashed              bool // a container exited: later status writes are outside the startup story

	// status manager
	conds                                  []api.PodCondition
	lastSent                               *api.PodStatus
	statusDirty, statusInFlight, flushWait bool
}

// ctr is the kubelet's record of one container of a pod.
type ctr struct {
	ps   *podState
	spec *api.Container
	init bool
	id   string // current runtime container ("" none)

	state        api.ContainerState
	reason       string
	ready        bool
	restartCount int32
	startedAt    sim.Time
	finishedAt   sim.Time
	exitCode     int
	exited       bool // has a last termination state (counts as stopped for the phase)
	done         bool // will not run again (completed init container, or not restarted)
	busy         bool // a runtime operation is in flight
	restarting   bool // the next create is a restart (bumps restartCount)

	crashBO, imageBO backoff
	retry, probeT    sim.Timer

	probe      api.Probe
	hasProbe   bool
	succ, fail int32
	stopAt     sim.Time

	live, startup *probeWorker // probes.go: liveness and startup probes of the current instance
}

// backoff is one key of client-go's flowcontrol.Backoff: the current delay and the
// time of the last Next.
type backoff struct {
	set   bool
	delay time.Duration
	last  sim.Time
}

func (c *ctr) running() bool { return c.state == api.ContainerRunning }

// ---------------------------------------------------------------------------
// Watch handlers (step 4)

func (k *Kubelet) onPodAdd(obj api.Object) {
	if k.stopped {
		return
	}
	p := obj.(*api.Pod)
	if ps, ok := k.pods[p.UID]; ok {
		k.onPodUpdate(ps.pod, p)
		return
	}
	if p.IsTerminal() {
		return // nothing to run (for example rejected before this kubelet started)
	}
	ps := &podState{pod: p, uid: p.UID, rv: p.ResourceVersion, ref: api.Ref(p)}
	k.pods[p.UID] = ps
	if sim.WantsDetail(k.tel, 4) { // the detail's parts are built only when kept
		how := fmt.Sprintf("it was created with spec.nodeName=%s, so no scheduler was involved", k.cfg.NodeName)
		if c := p.Condition(api.PodScheduled); c != nil && c.Status == api.ConditionTrue {
			how = fmt.Sprintf("the scheduler's binding set spec.nodeName=%s, so the pod now matches the watch", k.cfg.NodeName)
		}
		k.tracef(4, "observe", ps.ref,
			"learned of pod %s/%s through its watch on the apiserver (pods with fieldSelector spec.nodeName=%s; event ADDED): %s. The apiserver does not call the kubelet: the kubelet pulls its work from the watch",
			p.Namespace, p.Name, k.cfg.NodeName, how)
	} else {
		k.tracef(4, "observe", ps.ref, "")
	}
	if p.DeletionTimestamp != nil {
		k.terminate(ps)
		return
	}
	k.admit(ps)
}

func (k *Kubelet) onPodUpdate(_, cur api.Object) {
	if k.stopped {
		return
	}
	p := cur.(*api.Pod)
	ps, ok := k.pods[p.UID]
	if !ok {
		k.onPodAdd(cur)
		return
	}
	ps.pod = p
	ps.rv = max(ps.rv, p.ResourceVersion)
	if p.DeletionTimestamp != nil && !ps.terminating {
		k.terminate(ps)
		return
	}
	// Someone else changed the pod's readiness (the node lifecycle controller marks
	// the pods of an unreachable node not ready): the status manager reconciles the
	// apiserver's status with its own (pkg/kubelet/status/status_manager.go
	// needsReconcile; upstream checks every 10 s, the model as soon as it sees it).
	if ps.lastSent != nil && !ps.statusInFlight && condTrue(&p.Status, api.PodReady) != condTrue(ps.lastSent, api.PodReady) {
		ps.lastSent = nil
		k.requestStatus(ps)
	}
}

func (k *Kubelet) onPodDelete(obj api.Object) {
	if k.stopped {
		return
	}
	p := obj.(*api.Pod)
	ps, ok := k.pods[p.UID]
	if !ok {
		return
	}
	ps.deleted = true
	if !ps.terminating {
		k.terminate(ps)
		return
	}
	if ps.terminated {
		k.forget(ps)
	}
}

// ---------------------------------------------------------------------------
// Admission (step 4)

// admit runs the kubelet's admission as it handles a pod addition: the pod count and
// the requests must fit allocatable minus the requests of the pods already admitted
// (pkg/kubelet/lifecycle/predicate.go; the checks and their order as the scheduler's
// Fit filter: pods, cpu, memory, ephemeral-storage, extended resources). A rejected
// pod fails with reason OutOf<resource>.
func (k *Kubelet) admit(ps *podState) {
	req := ps.pod.Requests()
	if reason, msg := k.fits(&req); reason != "" {
		ps.rejected = true
		ps.reason = reason
		ps.message = "Pod was rejected: " + msg
		k.tracef(4, "reject", ps.ref, "admission rejected the pod (%s): %s; it fails without running", reason, msg)
		k.requestStatus(ps)
		return
	}
	ps.requests = req
	ps.admitted = true
	k.used.Add(&req)
	ps.probeAnchor = k.eng.Now()
	spec := &ps.pod.Spec
	ps.nInit = len(spec.InitContainers)
	for _, list := range [][]api.Container{spec.InitContainers, spec.Containers} {
		for i := range list {
			c := &ctr{ps: ps, spec: &list[i], init: len(ps.ctrs) < ps.nInit, state: api.ContainerWaiting, reason: "ContainerCreating"}
			if p := list[i].ReadinessProbe; p != nil && !c.init {
				c.probe, c.hasProbe = *p, true
				api.DefaultProbe(&c.probe)
			}
			ps.ctrs = append(ps.ctrs, c)
		}
	}
	if sim.WantsDetail(k.tel, 4) { // the detail's parts are built only when kept
		k.tracef(4, "admit", ps.ref,
			"admitted the pod: requests cpu=%s memory=%s fit allocatable cpu=%s memory=%s (now %d/%d pods, cpu %s and memory %s requested)",
			fmtCPU(req.MilliCPU), fmtMem(req.Memory), fmtCPU(k.alloc.MilliCPU), fmtMem(k.alloc.Memory),
			k.used.Pods, k.alloc.Pods, fmtCPU(k.used.MilliCPU), fmtMem(k.used.Memory))
	} else {
		k.tracef(4, "admit", ps.ref, "")
	}
	k.eng.After(k.syncLat.Sample(), func() { k.syncPod(ps) })
}

// fits returns the reason and message of the first resource the request does not
// fit, or "" when it fits. Messages follow InsufficientResourceError.
func (k *Kubelet) fits(req *api.Resources) (reason, msg string) {
	a, u := &k.alloc, &k.used
	fail := func(name string, r, used, capacity int64) (string, string) {
		return "OutOf" + name, fmt.Sprintf("Node didn't have enough resource: %s, requested: %d, used: %d, capacity: %d", name, r, used, capacity)
	}
	if u.Pods+1 > a.Pods {
		return fail("pods", 1, u.Pods, a.Pods)
	}
	if req.MilliCPU > 0 && req.MilliCPU > a.MilliCPU-u.MilliCPU {
		return fail("cpu", req.MilliCPU, u.MilliCPU, a.MilliCPU)
	}
	if req.Memory > 0 && req.Memory > a.Memory-u.Memory {
		return fail("memory", req.Memory, u.Memory, a.Memory)
	}
	if req.EphemeralStorage > 0 && req.EphemeralStorage > a.EphemeralStorage-u.EphemeralStorage {
		return fail("ephemeral-storage", req.EphemeralStorage, u.EphemeralStorage, a.EphemeralStorage)
	}
	if len(req.Scalar) > 0 {
		names := make([]string, 0, len(req.Scalar))
		for n := range req.Scalar {
			names = append(names, string(n))
		}
		sort.Strings(names)
		for _, n := range names {
			rn := api.ResourceName(n)
			if r := req.Scalar[rn]; r > 0 && r > a.Scalar[rn]-u.Scalar[rn] {
				return fail(n, r, u.Scalar[rn], a.Scalar[rn])
			}
		}
	}
	return "", ""
}

// release gives back the pod's admitted requests and its IP (the sandbox is gone).
// It is idempotent.
func (k *Kubelet) release(ps *podState) {
	if ps.admitted {
		k.used.Sub(&ps.requests)
		ps.admitted = false
	}
	if ps.ipIdx != 0 {
		k.ipUsed[ps.ipIdx] = false
		ps.ipIdx = 0
	}
	ps.sandboxReady = false
}

// allocIP hands out the next free host address of the node's /24 round-robin, as
// the host-local IPAM plugin does (.1 is the bridge gateway).
func (k *Kubelet) allocIP() (int, bool) {
	for i := 0; i < 253; i++ {
		n := 2 + (k.ipNext+i)%253
		if !k.ipUsed[n] {
			k.ipUsed[n] = true
			k.ipNext = n - 1 // the next search starts after n
			return n, true
		}
	}
	return 0, false
}

// ---------------------------------------------------------------------------
// Sync (step 5)

// syncPod is the pod worker's first sync: it records the start time, creates the
// pod sandbox (pause container and network) and starts the containers in order.
func (k *Kubelet) syncPod(ps *podState) {
	if k.stopped || ps.terminating {
		return
	}
	if !k.volumesReady(ps) { // volumes.go: claims bound, volumes attached and mounted first
		return
	}
	ps.synced = true
	ps.startTime = k.eng.Now()
	k.requestStatus(ps) // Pending, ContainerCreating, startTime
	d := k.sandboxLat.Sample()
	k.eng.After(d, func() {
		if k.stopped || ps.terminating {
			if ps.terminating {
				k.checkTerminated(ps)
			}
			return
		}
		idx, ok := k.allocIP()
		if !ok {
			k.trace(5, "sandbox-failed", ps.ref, "no free pod IP in the node's pod CIDR; retrying")
			k.eng.After(backOffPeriod, func() { k.syncPod(ps) })
			return
		}
		ps.ipIdx = idx
		ps.ip = fmt.Sprintf("%s.%d", k.podCIDR, idx)
		ps.sandboxReady = true
		k.tracef(5, "sandbox", ps.ref,
			"created the pod sandbox in %.3fs: the pause container holds the network namespace and the CNI plugin assigned pod IP %s from %s's pod CIDR %s.0/24",
			d.Seconds(), ps.ip, k.cfg.NodeName, k.podCIDR)
		k.requestStatus(ps)
		k.startNext(ps)
	})
}

// startNext continues the start chain: regular containers start one after the
// other; an init container must exit 0 before the chain moves on (its exit resumes it).
func (k *Kubelet) startNext(ps *podState) {
	for !k.stopped && !ps.terminating && !ps.finished && ps.next < len(ps.ctrs) {
		c := ps.ctrs[ps.next]
		if c.init {
			if c.done {
				ps.next++
				continue
			}
			if !c.busy && !c.running() && c.retry.IsZero() && !c.exited {
				k.runContainer(c, nil)
			}
			return
		}
		ps.next++
		k.runContainer(c, func() { k.startNext(ps) })
		return
	}
}

func (ps *podState) initialized() bool {
	for _, c := range ps.ctrs[:ps.nInit] {
		if !c.done {
			return false
		}
	}
	return true
}

// runContainer pulls the container's image per its pull policy, creates and starts
// it. then (may be nil) runs once the attempt ended, whatever its outcome, so the
// start chain moves on as SyncPod's loop does; failures schedule their own retry.
func (k *Kubelet) runContainer(c *ctr, then func()) {
	ps := c.ps
	c.busy = true
	switch c.reason {
	case "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "CreateContainerError":
		// a retry: the status keeps the error until the attempt succeeds
	default:
		c.state, c.reason = api.ContainerWaiting, "ContainerCreating"
	}
	k.ensureImage(c, func(ok bool) {
		if !ok || ps.terminating {
			c.busy = false
			k.afterAttempt(ps, then)
			return
		}
		spec := runtime.ContainerSpec{
			PodUID: ps.uid, PodName: ps.pod.Name, Namespace: ps.pod.Namespace,
			Name: c.spec.Name, Image: c.spec.Image, PodIP: ps.ip, Ports: c.spec.Ports,
			Requests: c.spec.Requests, Limits: c.spec.Limits, RunDuration: c.spec.RunDuration,
		}
		k.rt.CreateContainer(spec, func(id string, err error) {
			if k.stopped {
				return
			}
			if err != nil {
				c.busy = false
				c.reason = "CreateContainerError"
				k.tracef(5, "create-failed", ps.ref, "creating container %s failed: %v; retrying in %v", c.spec.Name, err, backOffPeriod)
				k.scheduleSync(c, k.eng.Now().Add(backOffPeriod))
				k.requestStatus(ps)
				k.afterAttempt(ps, then)
				return
			}
			c.id = id
			k.byID[id] = c
			if c.restarting {
				c.restarting = false
				c.restartCount++
			}
			if ps.terminating {
				c.busy = false
				k.checkTerminated(ps)
				return
			}
			k.rt.StartContainer(id, func(err error) {
				c.busy = false
				if k.stopped {
					return
				}
				if ps.terminating {
					if err == nil {
						c.state = api.ContainerRunning
						k.stopContainer(ps, c)
					}
					k.checkTerminated(ps)
					return
				}
				if err != nil {
					k.tracef(5, "start-failed", ps.ref, "starting container %s failed: %v", c.spec.Name, err)
					k.containerExited(c, 128, "StartError")
					k.afterAttempt(ps, then)
					return
				}
				now := k.eng.Now()
				c.state, c.reason = api.ContainerRunning, ""
				c.startedAt = now
				k.containerStarted(c) // probes.go: startup, then liveness and readiness probes
				k.requestStatus(ps)
				k.afterAttempt(ps, then)
			})
		})
	})
}

func (k *Kubelet) afterAttempt(ps *podState, then func()) {
	if then != nil && !ps.terminating {
		then()
	}
	if ps.terminating {
		k.checkTerminated(ps)
	}
}

// ensureImage applies the container's image pull policy (pkg/kubelet/images/
// image_manager.go EnsureImageExists): Never needs the image present
// (ErrImageNeverPull), IfNotPresent pulls only a missing image, Always pulls every
// time. A failed pull backs off 10 s doubling to 300 s (ErrImagePull, then
// ImagePullBackOff while in backoff).
func (k *Kubelet) ensureImage(c *ctr, cont func(ok bool)) {
	ps := c.ps
	img := c.spec.Image
	policy := c.spec.ImagePullPolicy
	if policy == "" {
		policy = api.DefaultPullPolicy(img)
	}
	present := k.rt.HasImage(img)
	switch {
	case policy == api.PullNever && !present:
		if c.reason != "ErrImageNeverPull" {
			k.tracef(5, "image", ps.ref, "container %s: image %q is not present with pull policy of Never (ErrImageNeverPull); the pod worker checks again every %v", c.spec.Name, img, backOffPeriod)
		}
		c.reason = "ErrImageNeverPull"
		k.scheduleSync(c, k.eng.Now().Add(backOffPeriod))
		k.requestStatus(ps)
		cont(false)
		return
	case present && policy != api.PullAlways:
		k.tracef(5, "image", ps.ref, "container %s: image %q already present on the node (pull policy %s): no pull", c.spec.Name, img, policy)
		cont(true)
		return
	}
	now := k.eng.Now()
	if b := &c.imageBO; b.set && now.Sub(b.last) < b.delay {
		c.reason = "ImagePullBackOff"
		k.scheduleSync(c, b.last.Add(b.delay))
		k.requestStatus(ps)
		cont(false)
		return
	}
	why := "it is not present on the node"
	if present {
		why = "pull policy Always checks the registry every time"
	}
	k.tracef(5, "pull", ps.ref, "container %s: asking the container runtime to pull image %q (policy %s: %s)", c.spec.Name, img, policy, why)
	if !ps.pulled {
		ps.pulled = true
		ps.pullStart = now
	}
	k.rt.PullImage(img, func(err error) {
		if k.stopped {
			return
		}
		ps.pullEnd = k.eng.Now()
		if err == nil {
			k.statusDirty = true // the node's image list changed
		}
		if ps.terminating {
			cont(false)
			return
		}
		if err != nil {
			b := &c.imageBO
			next(b, k.eng.Now(), k.eng.Now(), backOffPeriod, k.cfg.CrashLoopBackOffMax, imageBackOffResetFactor*k.cfg.CrashLoopBackOffMax)
			c.reason = "ErrImagePull"
			k.tracef(5, "pull-failed", ps.ref, "container %s: pulling image %q failed: %v; back-off %v", c.spec.Name, img, err, b.delay)
			k.scheduleSync(c, k.eng.Now().Add(backOffPeriod))
			k.requestStatus(ps)
			cont(false)
			return
		}
		c.imageBO = backoff{}
		cont(true)
	})
}

// next moves a backoff to its next delay (flowcontrol.Backoff.Next): the initial
// delay for a new or expired key, else double, capped at max. A key expires when
// its event (an exit, a failed pull) came more than resetAfter after its last
// update; the update time is now.
func next(b *backoff, event, now sim.Time, initial, maxDelay, resetAfter time.Duration) {
	if !b.set || event.Sub(b.last) > resetAfter {
		b.delay = initial
	} else {
		b.delay = min(2*b.delay, maxDelay)
	}
	b.set = true
	b.last = now
}

func (k *Kubelet) scheduleSync(c *ctr, at sim.Time) {
	k.eng.Cancel(c.retry)
	c.retry = k.eng.Schedule(at, k, evSync, 0, c)
}

// syncContainer is a later sync of one container that is not running: a retry
// after an image or create failure, or a restart after an exit. A restart follows
// doBackOff (pkg/kubelet/kuberuntime/kuberuntime_manager.go): while now - finishedAt
// is below the current backoff the container waits in CrashLoopBackOff; otherwise
// the backoff moves on (10 s, doubling to 300 s; reset when the exit came more than
// 600 s after the last restart) and the container is recreated. The first exit
// therefore restarts at once, later ones after 10, 20, 40 ... s.
func (k *Kubelet) syncContainer(c *ctr) {
	ps := c.ps
	if k.stopped || ps.terminating || ps.finished || c.busy || c.running() || c.done {
		return
	}
	if !c.init && ps.next <= k.indexOf(c) {
		return // the start chain has not reached it yet
	}
	now := k.eng.Now()
	if c.exited && !c.restarting {
		b := &c.crashBO
		if b.set && c.finishedAt.Sub(b.last) <= backOffResetAfter && now.Sub(c.finishedAt) < b.delay {
			if c.reason != "CrashLoopBackOff" {
				c.state, c.reason = api.ContainerWaiting, "CrashLoopBackOff"
				k.tracef(0, "backoff", ps.ref, "container %s: back-off %v restarting failed container (CrashLoopBackOff)", c.spec.Name, b.delay)
				k.requestStatus(ps)
			}
			k.scheduleSync(c, c.finishedAt.Add(b.delay))
			return
		}
		next(b, c.finishedAt, now, k.cfg.CrashLoopBackOffInitial, k.cfg.CrashLoopBackOffMax, backOffResetAfter)
		c.restarting = true
		if old := c.id; old != "" {
			delete(k.byID, old)
			c.id = ""
			k.rt.RemoveContainer(old, nil) // keep no dead instance (container GC)
		}
		k.tracef(0, "restart", ps.ref, "restarting container %s (restart policy %s, exited %.3fs ago with code %d; next back-off %v)",
			c.spec.Name, ps.pod.Spec.RestartPolicy, now.Sub(c.finishedAt).Seconds(), c.exitCode, b.delay)
	}
	k.runContainer(c, nil) // a restarted init container's exit resumes the chain
}

func (k *Kubelet) indexOf(c *ctr) int {
	for i, x := range c.ps.ctrs {
		if x == c {
			return i
		}
	}
	return -1
}

// onExit is the runtime's exit handler: a container ended without being asked to.
func (k *Kubelet) onExit(id string, code int) {
	if k.stopped {
		return
	}
	c, ok := k.byID[id]
	if !ok || c.ps.terminating || c.id != id {
		return
	}
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	k.containerExited(c, code, reason)
}

// containerExited records an exit and decides, per the pod's restart policy, whether
// the container restarts (Always; OnFailure with a non-zero code) or is done.
func (k *Kubelet) containerExited(c *ctr, code int, reason string) {
	ps := c.ps
	now := k.eng.Now()
	c.state, c.reason = api.ContainerTerminated, reason
	c.exitCode = code
	c.finishedAt = now
	c.ready = false
	c.exited = true
	c.restarting = false
	ps.crashed = true
	k.eng.Cancel(c.probeT)
	c.probeT = sim.Timer{}
	policy := ps.pod.Spec.RestartPolicy
	restart := policy == api.RestartAlways || policy == "" || (policy == api.RestartOnFailure && code != 0)
	if c.init && code == 0 {
		restart = false
	}
	k.tracef(0, "container-exit", ps.ref, "container %s exited with code %d (%s); restart policy %s: %s",
		c.spec.Name, code, reason, policy, map[bool]string{true: "it will be restarted", false: "it stays terminated"}[restart])
	switch {
	case restart:
		// PLEG notices the exit and the pod worker syncs (SyncLatency).
		k.scheduleSync(c, now.Add(k.syncLat.Sample()))
	case c.init && code == 0:
		c.done = true
		k.eng.After(k.syncLat.Sample(), func() { k.startNext(ps) })
	default:
		c.done = true
		if c.init || k.allDone(ps) {
			// A failed init container with restartPolicy Never fails the pod; so does
			// the end of the last regular container.
			k.podFinished(ps)
		}
	}
	k.requestStatus(ps)
}

func (k *Kubelet) allDone(ps *podState) bool {
	for _, c := range ps.ctrs[ps.nInit:] {
		if !c.done {
			return false
		}
	}
	return true
}

// podFinished: every container ended for good; the pod is terminal. The kubelet
// tears the sandbox down and frees the pod's resources for admission.
func (k *Kubelet) podFinished(ps *podState) {
	ps.finished = true
	for _, c := range ps.ctrs {
		k.eng.Cancel(c.retry)
		c.retry = sim.Timer{}
		c.done = true
	}
	k.release(ps)
	k.tracef(0, "pod-finished", ps.ref, "all containers ended: the pod is %s; its sandbox is removed and its resources are free for admission", ps.phase())
}

// ---------------------------------------------------------------------------
// Termination

// terminate carries out a deletion: stop every running container with the pod's
// grace period, then (once all stopped) write the terminal status and delete the
// pod with grace 0 (pkg/kubelet/kubelet.go SyncTerminatingPod; status_manager.go).
// The grace period is spec.terminationGracePeriodSeconds (the model does not store
// a shorter deletionGracePeriodSeconds from the delete request).
func (k *Kubelet) terminate(ps *podState) {
	if ps.terminating {
		return
	}
	ps.terminating = true
	running := 0
	for _, c := range ps.ctrs {
		k.eng.Cancel(c.retry)
		k.eng.Cancel(c.probeT)
		c.retry, c.probeT = sim.Timer{}, sim.Timer{}
		if c.running() && !c.busy {
			running++
			k.stopContainer(ps, c)
		}
	}
	why := "the pod has a deletionTimestamp"
	if ps.deleted {
		why = "the pod object was deleted"
	}
	k.tracef(0, "kill", ps.ref, "%s: stopping its %d running containers with grace period %ds (stop signal, then SIGKILL)",
		why, running, ps.pod.Spec.TerminationGracePeriodSeconds)
	k.checkTerminated(ps)
}

func (k *Kubelet) stopContainer(ps *podState, c *ctr) {
	grace := time.Duration(ps.pod.Spec.TerminationGracePeriodSeconds) * time.Second
	ps.stopping++
	c.busy = true
	c.stopAt = k.eng.Now()
	k.rt.StopContainer(c.id, grace, func(err error) {
		c.busy = false
		ps.stopping--
		if k.stopped {
			return
		}
		c.state, c.ready = api.ContainerTerminated, false
		c.finishedAt = k.eng.Now()
		c.exitCode, c.reason = 0, "Completed"
		if k.eng.Now().Sub(c.stopAt) >= grace {
			c.exitCode, c.reason = 137, "Error" // killed at the end of the grace period
		}
		k.checkTerminated(ps)
	})
}

// checkTerminated finishes a termination once no runtime operation is in flight.
func (k *Kubelet) checkTerminated(ps *podState) {
	if !ps.terminating || ps.terminated || ps.stopping > 0 {
		return
	}
	for _, c := range ps.ctrs {
		if c.busy {
			return
		}
	}
	ps.terminated = true
	k.release(ps)
	if ps.deleted {
		k.forget(ps)
		return
	}
	k.requestStatus(ps) // terminal phase; the delete follows its write
}

// deletePod deletes the pod object with grace 0 and its UID as precondition: the
// kubelet's last word on a pod it terminated.
func (k *Kubelet) deletePod(ps *podState) {
	if k.stopped || ps.deleteSent || ps.deleted {
		return
	}
	ps.deleteSent = true
	zero := int64(0)
	p := ps.pod
	k.trace(0, "delete", ps.ref, "containers stopped and terminal status written: deleting the pod object with grace period 0, so the apiserver removes it from etcd")
	k.client.Delete(api.KindPod, p.Namespace, p.Name, apiserver.DeleteOptions{GracePeriodSeconds: &zero, UID: ps.uid}, func(err error) {
		if k.stopped {
			return
		}
		switch {
		case err == nil || ps.deleted:
			// the watch's DELETED event makes the kubelet forget the pod
		case apiserver.IsNotFound(err) || apiserver.IsConflict(err):
			ps.deleted = true // gone already, or replaced by a pod of the same name
			k.forget(ps)
		default:
			ps.deleteSent = false // the apiserver was unavailable: try again
			k.eng.After(backOffPeriod, func() { k.deletePod(ps) })
		}
	})
}

// forget drops a terminated pod whose object is gone and removes its containers.
func (k *Kubelet) forget(ps *podState) {
	if _, ok := k.pods[ps.uid]; !ok {
		return
	}
	delete(k.pods, ps.uid)
	k.release(ps)
	for _, c := range ps.ctrs {
		k.eng.Cancel(c.retry)
		k.eng.Cancel(c.probeT)
		if c.id != "" {
			delete(k.byID, c.id)
			if !c.running() {
				k.rt.RemoveContainer(c.id, nil)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Readiness probes

// startProbe arms the readiness probe of a started container. The probe worker
// ticks every periodSeconds from the pod's admission (prober_manager.go AddPod); the
// status sync that follows a container start triggers an extra immediate probe
// (worker.go manualTriggerCh). No probe runs before initialDelaySeconds; until the
// first success the container is not ready (reference §4).
func (k *Kubelet) startProbe(c *ctr) {
	c.succ, c.fail = 0, 0
	c.ready = false
	now := k.eng.Now()
	at := now.Add(k.syncLat.Sample()) // the manual trigger
	if delay := api.Seconds(c.probe.InitialDelaySeconds); delay > 0 {
		at = k.probeTick(c, c.startedAt.Add(delay))
	}
	k.eng.Cancel(c.probeT)
	c.probeT = k.eng.Schedule(at, k, evProbe, 0, c)
}

// probeTick returns the first probe-worker tick at or after t.
func (k *Kubelet) probeTick(c *ctr, t sim.Time) sim.Time {
	period := sim.Time(api.Seconds(c.probe.PeriodSeconds))
	anchor := c.ps.probeAnchor
	if t <= anchor {
		return anchor
	}
	n := (t - anchor + period - 1) / period
	return anchor + n*period
}

func (k *Kubelet) probe(c *ctr) {
	c.probeT = sim.Timer{}
	ps := c.ps
	if ps.terminating || ps.finished || !c.running() {
		return
	}
	now := k.eng.Now()
	ok := k.prober == nil || k.prober.ProbeReady(c.id)
	p := &c.probe
	if ok {
		c.succ, c.fail = c.succ+1, 0
		if !c.ready && c.succ >= p.SuccessThreshold {
			c.ready = true
			k.tracef(5, "probe", ps.ref, "readiness probe of container %s succeeded %d time(s) in a row (successThreshold %d), %.3fs after it started: container ready",
				c.spec.Name, c.succ, p.SuccessThreshold, now.Sub(c.startedAt).Seconds())
			k.requestStatus(ps)
		}
	} else {
		c.succ, c.fail = 0, c.fail+1
		if c.ready && c.fail >= p.FailureThreshold {
			c.ready = false
			k.tracef(0, "probe", ps.ref, "readiness probe of container %s failed %d times in a row (failureThreshold %d): container not ready",
				c.spec.Name, c.fail, p.FailureThreshold)
			k.requestStatus(ps)
		}
	}
	c.probeT = k.eng.Schedule(k.probeTick(c, now+1), k, evProbe, 0, c)
}

// unreadyNames lists the regular containers that are not ready, for condition
// messages.
func unreadyNames(ps *podState) string {
	var names []string
	for _, c := range ps.ctrs[ps.nInit:] {
		if !c.ready {
			names = append(names, c.spec.Name)
		}
	}
	return "[" + strings.Join(names, " ") + "]"
}
