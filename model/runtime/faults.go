package runtime

import (
	"errors"
	"fmt"
	"slices"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/sim"
)

// Fault hooks of the modeled Docker engine, for fault injection:
//
//   - FailPulls(image): every pull of the image fails (registry unreachable, expired
//     credentials...) with ErrPullFailed after the pull overhead, until RestorePulls;
//     the kubelet reports ErrImagePull, then ImagePullBackOff.
//   - SetNeverReady(image): a "bad version": containers started from the image run
//     but their process never listens (nor answers a probe), so they never become
//     ready; a rolling update to it stalls as in Kubernetes. The setting applies to
//     containers started while it is on.
//   - PowerOff: the node is gone. Every container's process ends at once with no
//     exit reported (nobody is left to see it), listeners close (the pod IPs stop
//     answering), and the engine refuses every later create and start. A repaired
//     node gets a new Modeled engine (images on its disk survive: see ImageNames).
//
// Crash (modeled.go) kills one container's process; OOMKill (usage.go) does the same
// as the kernel's OOM killer (exit code 137, reason OOMKilled).

// Errors of injected faults (compare with errors.Is).
var (
	// ErrPullFailed: a pull failed because of an injected registry fault.
	ErrPullFailed = errors.New("pull access denied or registry unreachable")
	// ErrRuntimeDown: the node's container runtime is down (the node crashed).
	ErrRuntimeDown = errors.New("container runtime is down")
)

// faultState is the engine's injected faults.
type faultState struct {
	failPulls  map[string]bool // normalized image -> pulls fail
	neverReady map[string]bool // normalized image -> bad version
	off        bool            // powered off
}

// FailPulls makes every pull of image fail from now on (pulls already running finish
// with the error too), until RestorePulls.
func (m *Modeled) FailPulls(image string) {
	if m.faults.failPulls == nil {
		m.faults.failPulls = map[string]bool{}
	}
	m.faults.failPulls[api.NormalizeImage(image)] = true
}

// RestorePulls ends FailPulls for image.
func (m *Modeled) RestorePulls(image string) { delete(m.faults.failPulls, api.NormalizeImage(image)) }

// PullsFail reports whether pulls of image fail.
func (m *Modeled) PullsFail(image string) bool { return m.faults.failPulls[api.NormalizeImage(image)] }

// pullFault returns the error of a pull of ref (normalized) that fails because of an
// injected fault, or nil.
func (m *Modeled) pullFault(ref string) error {
	if !m.faults.failPulls[ref] {
		return nil
	}
	return fmt.Errorf("%w: pull %s: injected registry failure", ErrPullFailed, ref)
}

// SetNeverReady marks image as a bad version (true) whose containers never become
// ready, or clears the mark.
func (m *Modeled) SetNeverReady(image string, bad bool) {
	ref := api.NormalizeImage(image)
	if !bad {
		delete(m.faults.neverReady, ref)
		return
	}
	if m.faults.neverReady == nil {
		m.faults.neverReady = map[string]bool{}
	}
	m.faults.neverReady[ref] = true
}

// NeverReady reports whether image is marked as a bad version.
func (m *Modeled) NeverReady(image string) bool {
	return m.faults.neverReady[api.NormalizeImage(image)]
}

// PowerOff crashes the node's runtime: see the package notes above. It is
// idempotent and O(containers).
func (m *Modeled) PowerOff() {
	if m.faults.off {
		return
	}
	m.faults.off = true
	ids := make([]string, 0, len(m.containers))
	for id := range m.containers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	killed := 0
	for _, id := range ids {
		c := m.containers[id]
		if c.state != StateRunning {
			continue
		}
		m.advance(c)
		m.eng.Cancel(c.timer)
		c.timer = sim.Timer{}
		m.closeListener(c)
		c.state = StateExited
		c.exitCode = 137
		killed++
	}
	m.tracef(0, "power-off", "node/"+m.node, "the node is down: %d running containers died with it and their addresses stopped listening", killed)
}

// Off reports whether the runtime was powered off.
func (m *Modeled) Off() bool { return m.faults.off }

// downErr is the error of an operation on a powered-off runtime.
func (m *Modeled) downErr() error {
	if !m.faults.off {
		return nil
	}
	return fmt.Errorf("%w: node %s", ErrRuntimeDown, m.node)
}

// ImageNames returns the normalized names of the images present, sorted: what a
// repaired node finds on its disk.
func (m *Modeled) ImageNames() []string {
	out := make([]string, 0, len(m.images))
	for n := range m.images {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// RunningContainers returns the ids of the running containers of the pod
// namespace/name, sorted (for container faults).
func (m *Modeled) RunningContainers(namespace, pod, container string) []string {
	var out []string
	for id, c := range m.containers {
		if c.state == StateRunning && !c.stopping && c.spec.Namespace == namespace && c.spec.PodName == pod &&
			(container == "" || c.spec.Name == container) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
