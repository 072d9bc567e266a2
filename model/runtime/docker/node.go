package docker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/runtime"
)

// NodeRuntime is the container runtime of one modeled node: a view of the shared
// Engine. It implements runtime.Runtime and runtime.Prober. Its methods are called
// on the engine thread; they never block on Docker except HasImage on a cache miss
// (one local image inspect, a few milliseconds).
type NodeRuntime struct {
	e      *Engine
	node   string
	onExit func(id string, exitCode int) // guarded by e.mu
}

var (
	_ runtime.Runtime = (*NodeRuntime)(nil)
	_ runtime.Prober  = (*NodeRuntime)(nil)
)

// Node returns the modeled node's name.
func (n *NodeRuntime) Node() string { return n.node }

// Engine returns the shared engine.
func (n *NodeRuntime) Engine() *Engine { return n.e }

// HasImage implements runtime.Runtime: the scenario image maps to a local image
// that is in the engine's image store (inspected once, then cached).
func (n *NodeRuntime) HasImage(ref string) bool {
	local, err := n.e.localImage(ref)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(n.e.ctx, 5*time.Second)
	defer cancel()
	_, ok, _ := n.e.inspectImage(ctx, local)
	return ok
}

// PullImage implements runtime.Runtime. The scenario image is mapped to its local
// image; an image already present succeeds at once ("Image is up to date"). A
// missing one is pulled only when its registry is reachable; otherwise the error
// names the missing local image and how to build it. Errors wrap
// runtime.ErrImageNotFound.
func (n *NodeRuntime) PullImage(ref string, done func(error)) {
	e := n.e
	done = orNop(done)
	if !e.begin() {
		return
	}
	go func() {
		defer e.ops.Done()
		t0 := time.Now()
		err := n.pull(ref)
		d := time.Since(t0)
		e.mu.Lock()
		obj := "image " + normalizeRef(ref)
		if err != nil {
			e.trace(n.node, 5, "pull", nil, fmt.Sprintf("%s: %v", obj, err))
		} else {
			e.trace(n.node, 5, "pull", nil, fmt.Sprintf("%s: present in the local image store (%.3fs)", obj, d.Seconds()))
		}
		e.post(func() { done(err) })
		e.mu.Unlock()
	}()
}

func (n *NodeRuntime) pull(ref string) error {
	e := n.e
	local, err := e.localImage(ref)
	if err != nil {
		return err
	}
	ctx, cancel := e.opCtx(0)
	defer cancel()
	if _, ok, err := e.inspectImage(ctx, local); err != nil {
		return err
	} else if ok {
		return nil
	}
	host := registryHost(local)
	if !e.cfg.RegistryReachable(ctx, host) {
		return missingImageError(normalizeRef(ref), local, "its registry "+host+" is unreachable")
	}
	t0 := time.Now()
	err = e.api.ImagePull(ctx, local)
	d := time.Since(t0)
	if err != nil {
		return missingImageError(normalizeRef(ref), local, fmt.Sprintf("pulling it from %s failed (%v)", host, err))
	}
	e.mu.Lock()
	e.sample(SampleImagePull, d)
	e.mu.Unlock()
	if _, ok, err := e.inspectImage(ctx, local); err != nil {
		return err
	} else if !ok {
		return missingImageError(normalizeRef(ref), local, "it is still missing after a pull")
	}
	return nil
}

var nameRe = strings.NewReplacer("/", "-", ":", "-", "@", "-", " ", "-")

func containerName(run, node string, spec *runtime.ContainerSpec, seq uint64) string {
	raw := fmt.Sprintf("kubesim-%s-%s-%s-%s-%s-%d", run, node, spec.Namespace, spec.PodName, spec.Name, seq)
	raw = nameRe.Replace(raw)
	var b strings.Builder
	for _, r := range raw {
		if r < 128 && (r == '_' || r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// containerPorts are the TCP ports to publish: the spec's, then the image's
// exposed ones, ascending and without duplicates.
func containerPorts(spec *runtime.ContainerSpec, img imageInfo) []int32 {
	var ports []int32
	for _, p := range spec.Ports {
		if p.Protocol != "" && !strings.EqualFold(p.Protocol, "TCP") {
			continue
		}
		if p.ContainerPort > 0 {
			ports = append(ports, p.ContainerPort)
		}
	}
	ports = append(ports, img.ExposedPorts...)
	slices.Sort(ports)
	return slices.Compact(ports)
}

// CreateContainer implements runtime.Runtime: the container of the mapped local
// image with the run's labels, the pod's CPU and memory limits (NanoCPUs, Memory)
// and its TCP ports published on 127.0.0.1 with ephemeral host ports.
func (n *NodeRuntime) CreateContainer(spec runtime.ContainerSpec, done func(id string, err error)) {
	e := n.e
	if done == nil {
		done = func(string, error) {}
	}
	if !e.begin() {
		return
	}
	e.mu.Lock()
	e.seq++
	seq := e.seq
	e.mu.Unlock()
	go func() {
		defer e.ops.Done()
		id, err := n.create(spec, seq)
		e.postLocked(func() { done(id, err) })
	}()
}

func (n *NodeRuntime) create(spec runtime.ContainerSpec, seq uint64) (string, error) {
	e := n.e
	pod := spec.Namespace + "/" + spec.PodName
	local, err := e.localImage(spec.Image)
	if err != nil {
		return "", err
	}
	ctx, cancel := e.opCtx(0)
	defer cancel()
	img, ok, err := e.inspectImage(ctx, local)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%w: %s (local image %s of %s); build it with `make nginx-image`", runtime.ErrNoSuchImage, local, local, normalizeRef(spec.Image))
	}
	req := createRequest{
		Name:  containerName(e.cfg.RunID, n.node, &spec, seq),
		Image: local,
		Labels: map[string]string{
			LabelManaged:   "true",
			LabelRun:       e.cfg.RunID,
			LabelPod:       pod,
			LabelNode:      n.node,
			LabelContainer: spec.Name,
		},
		Ports:    containerPorts(&spec, img),
		NanoCPUs: spec.Limits.MilliCPU * 1_000_000,
		Memory:   spec.Limits.Memory,
	}
	t0 := time.Now()
	id, err := e.api.ContainerCreate(ctx, req)
	d := time.Since(t0)
	if err != nil {
		if errors.Is(err, errNotFound) {
			e.mu.Lock()
			delete(e.present, local) // removed behind our back
			e.mu.Unlock()
			return "", fmt.Errorf("%w: %s: %v", runtime.ErrNoSuchImage, local, err)
		}
		return "", fmt.Errorf("docker: create container %s of pod %s (image %s): %w", spec.Name, pod, local, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sample(SampleCreate, d)
	c := &ctr{
		id: id, name: req.Name, node: n.node, spec: spec, local: local, ports: req.Ports, state: stCreated,
		timing: Timing{ID: id, Node: n.node, Pod: pod, Container: spec.Name, Image: local, Create: d},
	}
	e.ctrs[id] = c
	e.order = append(e.order, c)
	e.trace(n.node, 5, "create", &spec, fmt.Sprintf("created container %s (id %s) from image %s in %.3fs", req.Name, shortID(id), local, d.Seconds()))
	return id, nil
}

// fmtPorts formats container port -> host port mappings, ascending.
func fmtPorts(m map[int32]int) string {
	if len(m) == 0 {
		return "no ports"
	}
	ports := make([]int32, 0, len(m))
	for p := range m {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = fmt.Sprintf("%d/tcp on 127.0.0.1:%d", p, m[p])
	}
	return strings.Join(parts, ", ")
}

// portTaken recognizes the engine's errors about a host port it cannot bind.
func portTaken(err error) bool {
	s := err.Error()
	return strings.Contains(s, "port is already allocated") || strings.Contains(s, "address already in use")
}

// StartContainer implements runtime.Runtime: start, then inspect to learn the
// published host ports; readiness probing begins. A container whose published
// ports cannot be learned is killed and the start fails.
func (n *NodeRuntime) StartContainer(id string, done func(error)) {
	e := n.e
	done = orNop(done)
	if !e.begin() {
		return
	}
	go func() {
		defer e.ops.Done()
		n.start(id, done)
	}()
}

func (n *NodeRuntime) start(id string, done func(error)) {
	e := n.e
	e.mu.Lock()
	c, ok := e.ctrs[id]
	if ok && c.state != stCreated {
		err := fmt.Errorf("%w: start of %s, which is not freshly created", runtime.ErrContainerState, id)
		e.post(func() { done(err) })
		e.mu.Unlock()
		return
	}
	e.mu.Unlock()
	if !ok {
		e.postLocked(func() { done(fmt.Errorf("%w: %s", runtime.ErrNoSuchContainer, id)) })
		return
	}
	fail := func(err error) {
		e.mu.Lock()
		c.startFailed = true
		c.state = stExited
		e.post(func() { done(err) })
		e.mu.Unlock()
	}
	ctx, cancel := e.opCtx(0)
	defer cancel()
	t0 := time.Now()
	err := e.api.ContainerStart(ctx, id)
	d := time.Since(t0)
	if err != nil {
		switch {
		case errors.Is(err, errNotFound):
			err = fmt.Errorf("%w: %s: %v", runtime.ErrNoSuchContainer, id, err)
		case portTaken(err):
			err = fmt.Errorf("docker: start container %s (%s): publishing its ports on 127.0.0.1 failed, a host port is taken: %w", c.name, id, err)
		default:
			err = fmt.Errorf("docker: start container %s (%s): %w", c.name, id, err)
		}
		fail(err)
		return
	}
	info, err := e.api.ContainerInspect(ctx, id)
	if err == nil {
		for _, p := range c.ports {
			if _, ok := info.HostPorts[p]; !ok {
				err = fmt.Errorf("port %d/tcp is not published on 127.0.0.1", p)
				break
			}
		}
	}
	if err != nil {
		// A container we cannot reach is useless: kill it (its die event is
		// ignored) and report the start as failed.
		e.mu.Lock()
		c.startFailed = true
		e.mu.Unlock()
		_ = e.api.ContainerKill(ctx, id, "SIGKILL")
		fail(fmt.Errorf("docker: start container %s (%s): inspecting its published ports failed: %w", c.name, id, err))
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sample(SampleStart, d)
	c.timing.Start = d
	c.startDone = true
	if c.state == stExited || !info.Running {
		// It died between start and inspect (or before): report it after the
		// start's done, as the kubelet expects.
		code := info.ExitCode
		if c.pendingExit != nil {
			code = *c.pendingExit
		}
		c.state = stExited
		e.post(func() { done(nil) })
		if !c.stopRequested {
			e.reportExit(c, code)
		}
		return
	}
	c.state = stRunning
	c.hostPorts = info.HostPorts
	c.startedAt = time.Now()
	e.trace(n.node, 5, "start", &c.spec, fmt.Sprintf("started container %s (id %s) in %.3fs; published %s", c.name, shortID(id), d.Seconds(), fmtPorts(c.hostPorts)))
	e.post(func() { done(nil) })
	if c.killOnStart {
		// Its node was killed while it started: it dies now too.
		e.bg.Add(1)
		go func() {
			defer e.bg.Done()
			kctx, cancel := e.opCtx(0)
			defer cancel()
			_ = e.api.ContainerKill(kctx, id, "SIGKILL")
		}()
	}
	if len(c.ports) > 0 && !e.closing {
		pctx, stop := context.WithCancel(e.ctx)
		c.stopProbe = stop
		e.bg.Add(1)
		go e.probe(pctx, c, net.JoinHostPort("127.0.0.1", strconv.Itoa(c.hostPorts[c.ports[0]])))
	}
	if rd := c.spec.RunDuration; rd > 0 && !e.closing {
		e.bg.Add(1)
		go n.finishAfter(c, rd)
	}
}

// finishAfter ends a container's work after its RunDuration: SIGTERM, so its
// process exits by itself and the exit is reported as it would be for a batch
// container finishing.
func (n *NodeRuntime) finishAfter(c *ctr, d time.Duration) {
	e := n.e
	defer e.bg.Done()
	select {
	case <-e.ctx.Done():
		return
	case <-time.After(d):
	}
	e.mu.Lock()
	running := c.state == stRunning && !c.stopRequested
	e.mu.Unlock()
	if running {
		ctx, cancel := e.opCtx(0)
		defer cancel()
		_ = e.api.ContainerKill(ctx, c.id, "SIGTERM")
	}
}

// lockContainer locks e.mu and returns the container id names, still locked. When
// the engine is closing (no completion is delivered any more) or id names no
// container (done gets ErrNoSuchContainer), it unlocks and returns nil.
func (e *Engine) lockContainer(id string, done func(error)) *ctr {
	e.mu.Lock()
	c, ok := e.ctrs[id]
	switch {
	case e.closing:
		e.mu.Unlock()
		return nil
	case !ok:
		e.post(func() { done(fmt.Errorf("%w: %s", runtime.ErrNoSuchContainer, id)) })
		e.mu.Unlock()
		return nil
	}
	return c
}

// StopContainer implements runtime.Runtime: SIGTERM, up to grace (rounded up to
// whole seconds, Docker's unit), then SIGKILL. The exit is not reported to the
// exit handler. A container that is not running stops at once.
func (n *NodeRuntime) StopContainer(id string, grace time.Duration, done func(error)) {
	e := n.e
	done = orNop(done)
	c := e.lockContainer(id, done)
	if c == nil {
		return
	}
	c.stopRequested = true
	if c.state != stRunning {
		e.post(func() { done(nil) })
		e.mu.Unlock()
		return
	}
	e.ops.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.ops.Done()
		ctx, cancel := e.opCtx(grace)
		defer cancel()
		t0 := time.Now()
		err := e.api.ContainerStop(ctx, id, stopSeconds(grace))
		d := time.Since(t0)
		e.mu.Lock()
		defer e.mu.Unlock()
		if err != nil && !errors.Is(err, errNotFound) {
			err = fmt.Errorf("docker: stop container %s (%s): %w", c.name, id, err)
		} else {
			err = nil
			e.sample(SampleStop, d)
			e.trace(n.node, 5, "stop", &c.spec, fmt.Sprintf("stopped container %s (id %s) in %.3fs (grace %v)", c.name, shortID(id), d.Seconds(), grace))
			c.state = stExited
			c.ready = false
			if c.stopProbe != nil {
				c.stopProbe()
				c.stopProbe = nil
			}
		}
		e.post(func() { done(err) })
	}()
}

// RemoveContainer implements runtime.Runtime: removes a container that is not
// running (a running one is an ErrContainerState error, as in the modeled runtime).
func (n *NodeRuntime) RemoveContainer(id string, done func(error)) {
	e := n.e
	done = orNop(done)
	c := e.lockContainer(id, done)
	if c == nil {
		return
	}
	if c.state == stRunning {
		e.post(func() {
			done(fmt.Errorf("%w: cannot remove running container %s: stop it first", runtime.ErrContainerState, id))
		})
		e.mu.Unlock()
		return
	}
	e.ops.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.ops.Done()
		ctx, cancel := e.opCtx(0)
		defer cancel()
		t0 := time.Now()
		err := e.api.ContainerRemove(ctx, id, false)
		d := time.Since(t0)
		e.mu.Lock()
		defer e.mu.Unlock()
		switch {
		case err == nil:
			e.sample(SampleRemove, d)
			delete(e.ctrs, id)
			e.trace(n.node, 0, "remove", &c.spec, fmt.Sprintf("removed container %s (id %s) in %.3fs", c.name, shortID(id), d.Seconds()))
		case errors.Is(err, errNotFound):
			delete(e.ctrs, id)
			err = fmt.Errorf("%w: %s", runtime.ErrNoSuchContainer, id)
		default:
			err = fmt.Errorf("docker: remove container %s (%s): %w", c.name, id, err)
		}
		e.post(func() { done(err) })
	}()
}

// SetExitHandler implements runtime.Runtime.
func (n *NodeRuntime) SetExitHandler(fn func(id string, exitCode int)) {
	n.e.mu.Lock()
	n.onExit = fn
	n.e.mu.Unlock()
}

// Images implements runtime.Runtime: one entry per local image known present,
// named by the scenario images that map to it (sorted) and then the local name,
// largest first, ties by name. The host has one image store, shared by every node.
func (n *NodeRuntime) Images() []api.ContainerImage {
	e := n.e
	e.mu.Lock()
	defer e.mu.Unlock()
	names := map[string][]string{}
	for ref, local := range e.images {
		if _, ok := e.present[local]; ok && ref != local {
			names[local] = append(names[local], ref)
		}
	}
	out := make([]api.ContainerImage, 0, len(names))
	for local, info := range e.present {
		refs := names[local]
		slices.Sort(refs)
		out = append(out, api.ContainerImage{Names: append(refs, local), SizeBytes: info.Size})
	}
	slices.SortFunc(out, func(a, b api.ContainerImage) int {
		if c := cmp.Compare(b.SizeBytes, a.SizeBytes); c != 0 {
			return c
		}
		return cmp.Compare(a.Names[0], b.Names[0])
	})
	return out
}

// ProbeReady implements runtime.Prober: the latest result of the container's
// background HTTP probe (GET / on its first port through 127.0.0.1); a running
// container without ports is ready. It never blocks on I/O.
func (n *NodeRuntime) ProbeReady(id string) bool {
	e := n.e
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.ctrs[id]
	if !ok || c.state != stRunning || c.stopRequested {
		return false
	}
	return len(c.ports) == 0 || c.ready
}
