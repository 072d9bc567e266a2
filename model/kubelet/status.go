package kubelet

import (
	"fmt"
	"reflect"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/sim"
)

// phase computes the pod phase from its containers as getPhase does
// (pkg/kubelet/kubelet_pods.go): Pending while initializing or while a container
// has not started yet; Running while one runs or will restart; once all stopped for
// good, Succeeded if all exited 0, else Failed. A terminated (deleted) pod is
// terminal whatever its restart policy.
func (ps *podState) phase() api.PodPhase {
	if ps.rejected {
		return api.PodFailed
	}
	for _, c := range ps.ctrs[:ps.nInit] {
		if c.done && c.exitCode != 0 {
			return api.PodFailed // an init container failed and is not restarted
		}
	}
	terminal := ps.terminated || ps.finished
	if !terminal && (!ps.synced || !ps.initialized()) {
		return api.PodPending
	}
	var running, waiting, stopped, succeeded int
	for _, c := range ps.ctrs[ps.nInit:] {
		switch {
		case c.running():
			running++
		case c.state == api.ContainerTerminated:
			stopped++
			if c.exitCode == 0 {
				succeeded++
			}
		case c.exited: // waiting to restart: it has a last termination state
			stopped++
		default:
			waiting++
		}
	}
	switch {
	case terminal:
		if stopped == succeeded && waiting == 0 {
			return api.PodSucceeded
		}
		return api.PodFailed
	case waiting > 0:
		return api.PodPending
	case running > 0:
		return api.PodRunning
	case stopped > 0:
		switch ps.pod.Spec.RestartPolicy {
		case api.RestartNever:
			if stopped == succeeded {
				return api.PodSucceeded
			}
			return api.PodFailed
		case api.RestartOnFailure:
			if stopped == succeeded {
				return api.PodSucceeded
			}
		}
		return api.PodRunning
	}
	return api.PodPending
}

// allRunning reports whether every regular container runs (the startup SLI's end).
func (ps *podState) allRunning() bool {
	if len(ps.ctrs) == ps.nInit {
		return false
	}
	for _, c := range ps.ctrs[ps.nInit:] {
		if !c.running() {
			return false
		}
	}
	return true
}

func (ps *podState) allReady() bool {
	for _, c := range ps.ctrs[ps.nInit:] {
		if !c.ready {
			return false
		}
	}
	return len(ps.ctrs) > ps.nInit
}

// setCond sets a condition in ps.conds, keeping its transition time while its
// status does not change.
func (ps *podState) setCond(t api.PodConditionType, s api.ConditionStatus, reason string, now sim.Time) {
	for i := range ps.conds {
		if c := &ps.conds[i]; c.Type == t {
			if c.Status != s {
				c.LastTransitionTime = now
			}
			c.Status, c.Reason = s, reason
			return
		}
	}
	if ps.conds == nil {
		ps.conds = make([]api.PodCondition, 0, 4) // the kubelet sets four conditions
	}
	ps.conds = append(ps.conds, api.PodCondition{Type: t, Status: s, Reason: reason, LastTransitionTime: now})
}

// buildStatus computes the pod status the kubelet reports (generateAPIPodStatus):
// phase, the kubelet's conditions in their usual order after PodScheduled, host and
// pod IP, start time and one status per regular container. Conditions the kubelet
// does not own (PodScheduled, ...) are kept from the API object.
func (k *Kubelet) buildStatus(ps *podState) api.PodStatus {
	now := k.eng.Now()
	var st api.PodStatus
	st.Phase = ps.phase()
	if ps.rejected {
		st.Reason, st.Message = ps.reason, ps.message
		st.Conditions = foreignConds(ps.pod, 0)
		return st
	}
	terminal := st.Phase == api.PodSucceeded || st.Phase == api.PodFailed
	ps.setCond(api.PodReadyToStartContainers, boolStatus(ps.sandboxReady && !terminal), "", now)
	if ps.initialized() {
		ps.setCond(api.PodInitialized, api.ConditionTrue, "", now)
	} else {
		ps.setCond(api.PodInitialized, api.ConditionFalse, "ContainersNotInitialized", now)
	}
	ready := ps.allReady() && !terminal
	reason := "ContainersNotReady"
	switch {
	case ready:
		reason = ""
	case st.Phase == api.PodSucceeded:
		reason = "PodCompleted"
	}
	ps.setCond(api.PodContainersReady, boolStatus(ready), reason, now)
	ps.setCond(api.PodReady, boolStatus(ready), reason, now)

	st.Conditions = foreignConds(ps.pod, len(ps.conds))
	if len(st.Conditions) == 0 {
		// The kubelet reports PodScheduled=True for a pod it runs (also one created
		// with spec.nodeName, which no scheduler bound).
		st.Conditions = append(make([]api.PodCondition, 0, len(ps.conds)+1), api.PodCondition{Type: api.PodScheduled, Status: api.ConditionTrue, LastTransitionTime: ps.pod.CreationTimestamp})
	}
	st.Conditions = append(st.Conditions, ps.conds...)
	st.HostIP = k.cfg.Address
	st.PodIP = ps.ip
	if ps.synced {
		t := ps.startTime
		st.StartTime = &t
	}
	initialized := ps.initialized()
	for _, c := range ps.ctrs[ps.nInit:] {
		cs := api.ContainerStatus{
			Name: c.spec.Name, Image: c.spec.Image, State: c.state, Reason: c.reason,
			Ready: c.ready, Started: c.running() && c.startedByProbe(), RestartCount: c.restartCount,
		}
		if c.running() {
			cs.StartedAt = c.startedAt
		}
		if cs.State == "" {
			cs.State = api.ContainerWaiting
		}
		switch {
		case cs.State == api.ContainerWaiting && terminal && c.exited:
			// a terminal pod's container that waited to restart keeps its last exit
			cs.State = api.ContainerTerminated
			cs.Reason = map[bool]string{true: "Completed", false: "Error"}[c.exitCode == 0]
		case cs.State == api.ContainerWaiting && terminal:
			// never started: the kubelet reports it terminated with exit code 137
			// (pkg/kubelet/kubelet_pods.go convertToAPIContainerStatuses)
			cs.State, cs.Reason = api.ContainerTerminated, "ContainerStatusUnknown"
		case cs.State == api.ContainerWaiting && cs.Reason == "ContainerCreating" && !initialized:
			cs.Reason = "PodInitializing"
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	return st
}

// foreignConds returns the pod's conditions the kubelet does not own, in a new
// slice with room for extra more (the kubelet's own, appended by the caller), or
// nil when there is none.
func foreignConds(p *api.Pod, extra int) []api.PodCondition {
	n := 0
	for i := range p.Status.Conditions {
		if !kubeletCond(p.Status.Conditions[i].Type) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]api.PodCondition, 0, n+extra)
	for _, c := range p.Status.Conditions {
		if !kubeletCond(c.Type) {
			out = append(out, c)
		}
	}
	return out
}

// kubeletCond reports whether the kubelet owns conditions of type t.
func kubeletCond(t api.PodConditionType) bool {
	switch t {
	case api.PodReadyToStartContainers, api.PodInitialized, api.PodContainersReady, api.PodReady:
		return true
	}
	return false
}

func boolStatus(b bool) api.ConditionStatus {
	if b {
		return api.ConditionTrue
	}
	return api.ConditionFalse
}

// requestStatus marks the pod's status changed. The status manager writes it once
// per instant (changes at the same virtual time coalesce into one write), never
// two writes of one pod at a time, and skips a write equal to the last one
// (pkg/kubelet/status/status_manager.go).
func (k *Kubelet) requestStatus(ps *podState) {
	if k.stopped || ps.deleted {
		return
	}
	ps.statusDirty = true
	if ps.statusInFlight || ps.flushWait {
		return
	}
	ps.flushWait = true
	k.eng.After(0, func() {
		ps.flushWait = false
		k.flushStatus(ps)
	})
}

// flushStatus writes the pod status with the newest resourceVersion the kubelet
// knows as precondition (so a status never lands on a pod that was replaced). On a
// conflict it reads the pod and retries; on other failures it retries after the
// status manager's 10 s reconcile period.
func (k *Kubelet) flushStatus(ps *podState) {
	if k.stopped || ps.deleted || !ps.statusDirty || ps.statusInFlight {
		return
	}
	ps.statusDirty = false
	// The status is allocated once and shared by the comparison, the request and
	// lastSent (compared through pointers, reflect.DeepEqual boxes no copies).
	st := new(api.PodStatus)
	*st = k.buildStatus(ps)
	if ps.lastSent != nil && reflect.DeepEqual(ps.lastSent, st) {
		k.statusWritten(ps, st)
		return
	}
	// The request carries the pod's metadata (for the key and the precondition) and
	// the new status: a status write reads nothing else of it and never changes it
	// (apiserver copyStatus builds the stored object from the current one), so a
	// shallow copy of the kubelet's pod is enough. The status (built afresh by
	// buildStatus, sharing nothing with the kubelet's state) goes to the apiserver,
	// which stores it unchanged; the kubelet keeps it too, to compare the next status
	// with, and only reads it (stored objects are immutable: the cluster tests check
	// it with etcd's CheckImmutable).
	//
	// The request object itself is read by the apiserver only while it serves the
	// request (the stored object and the reply are copies), and the reply, or the
	// failure, comes after that: it is taken from the kubelet's spare request
	// objects and handed back when the reply arrives (a write of one pod at a time,
	// a few per node at once).
	np := k.requestPod()
	*np = *ps.pod
	np.Status = *st
	np.ResourceVersion = ps.rv
	ps.statusInFlight = true
	client := k.client
	if !ps.obsReady && !ps.rejected && !ps.terminating && !ps.crashed {
		client = k.podClient // part of the startup story (step 5)
	}
	sent := st
	client.UpdateStatus(np, func(obj api.Object, err error) {
		k.spareRequestPod(np)
		if k.stopped {
			return
		}
		switch {
		case err == nil:
			ps.statusInFlight = false
			ps.rv = max(ps.rv, obj.Meta().ResourceVersion)
			ps.lastSent = sent
			k.traceStatus(ps, sent, client == k.podClient)
			k.statusWritten(ps, sent)
		case apiserver.IsNotFound(err):
			ps.statusInFlight = false
			return
		case apiserver.IsConflict(err):
			k.client.Get(api.KindPod, ps.pod.Namespace, ps.pod.Name, func(obj api.Object, err error) {
				ps.statusInFlight = false
				if k.stopped || err != nil || obj.Meta().UID != ps.uid {
					return // gone or replaced by another pod of the same name
				}
				ps.rv = max(ps.rv, obj.Meta().ResourceVersion)
				k.requestStatus(ps)
			})
			return
		default:
			ps.statusInFlight = false
			k.eng.After(backOffPeriod, func() { k.requestStatus(ps) })
			return
		}
		if ps.statusDirty {
			k.requestStatus(ps)
		}
	})
}

// requestPod returns a spare status-request pod (its content is overwritten).
func (k *Kubelet) requestPod() *api.Pod {
	if n := len(k.spareReqs); n > 0 {
		p := k.spareReqs[n-1]
		k.spareReqs = k.spareReqs[:n-1]
		return p
	}
	return new(api.Pod)
}

// spareRequestPod takes back a request pod whose request is over, cleared so it
// keeps nothing alive.
func (k *Kubelet) spareRequestPod(p *api.Pod) {
	*p = api.Pod{}
	k.spareReqs = append(k.spareReqs, p)
}

// statusWritten runs when the apiserver holds st: it observes the startup metrics
// and, for a terminated pod, sends the final delete.
func (k *Kubelet) statusWritten(ps *podState, st *api.PodStatus) {
	now := k.eng.Now()
	created := ps.pod.CreationTimestamp
	if !ps.obsStartup && st.Phase == api.PodRunning && allRunningIn(st) {
		ps.obsStartup = true
		v := now.Sub(created).Seconds()
		k.tel.Observe("pod_startup_seconds", now, v)
		// The SLI excludes image pulling: from the first pull's start to the last
		// pull's end (reference §7.1; pkg/kubelet/util/pod_startup_latency_tracker.go).
		if ps.pulled {
			v -= ps.pullEnd.Sub(ps.pullStart).Seconds()
		}
		k.tel.Observe("pod_startup_slo_seconds", now, v)
	}
	if !ps.obsReady && st.Phase == api.PodRunning && condTrue(st, api.PodReady) {
		ps.obsReady = true
		k.tel.Observe("pod_ready_seconds", now, now.Sub(created).Seconds())
	}
	if ps.terminated && (st.Phase == api.PodSucceeded || st.Phase == api.PodFailed) {
		k.deletePod(ps)
	}
}

func allRunningIn(st *api.PodStatus) bool {
	if len(st.ContainerStatuses) == 0 {
		return false
	}
	for _, c := range st.ContainerStatuses {
		if c.State != api.ContainerRunning {
			return false
		}
	}
	return true
}

func condTrue(st *api.PodStatus, t api.PodConditionType) bool {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c.Status == api.ConditionTrue
		}
	}
	return false
}

func (k *Kubelet) traceStatus(ps *podState, st *api.PodStatus, startup bool) {
	step := 0
	if startup {
		step = 5
	}
	if !sim.WantsRecord(k.tel, step) {
		return
	}
	if !sim.WantsDetail(k.tel, step) {
		k.trace(step, "status", ps.ref, "")
		return
	}
	running := 0
	for _, c := range st.ContainerStatuses {
		if c.State == api.ContainerRunning {
			running++
		}
	}
	detail := fmt.Sprintf("status manager wrote the pod status to the apiserver (pods/status): phase %s", st.Phase)
	if st.Reason != "" {
		detail += ", reason " + st.Reason
	}
	if st.PodIP != "" {
		detail += ", podIP " + st.PodIP
	}
	detail += fmt.Sprintf(", %d/%d containers running", running, len(st.ContainerStatuses))
	for _, c := range st.ContainerStatuses {
		if c.State != api.ContainerRunning && c.Reason != "" {
			detail += fmt.Sprintf(", %s %s (%s)", c.Name, c.State, c.Reason)
		}
	}
	detail += fmt.Sprintf(", Ready=%v", condTrue(st, api.PodReady))
	k.trace(step, "status", ps.ref, detail)
}
