// Package docker is the real-run adapter of the container-runtime port: it drives
// real containers through the Docker Engine API (github.com/moby/moby/client, API
// version negotiated; the engine here speaks 1.41).
//
// One Docker host carries the containers of every modeled node. An Engine is the
// shared connection of one run; Engine.NodeRuntime(node) is the runtime.Runtime of
// one modeled kubelet. Docker I/O happens in goroutines; every completion (the done
// callbacks of the port, exit reports, errors) is handed to the Config.Post function
// (the wall-clock driver's inbox), so model code stays single-threaded.
//
// Containers carry labels (io.kubesim.managed, .run, .pod, .node, .container) so a
// run's containers are found again for clean-up, also after a crash (GC). Container
// ports are published on 127.0.0.1 only, with ephemeral host ports, which the real
// proxy learns through Engine.Resolve.
//
// This package is the only code under model/ (with the other real-run adapters)
// that does I/O, uses the wall clock and goroutines; only cmd imports it.
package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/runtime"
)

// Labels every container the adapter creates carries. GC removes only containers
// with LabelManaged=true.
const (
	LabelManaged   = "io.kubesim.managed"
	LabelRun       = "io.kubesim.run"
	LabelPod       = "io.kubesim.pod" // namespace/name
	LabelNode      = "io.kubesim.node"
	LabelContainer = "io.kubesim.container"
)

// Sample names of Engine.Samples: wall durations of the Docker operations.
const (
	SampleImageInspect = "image_inspect" // image inspect (HasImage, pull, create)
	SampleImagePull    = "image_pull"    // a registry pull
	SampleCreate       = "create"        // container create
	SampleStart        = "start"         // container start (the API call)
	SampleReady        = "ready"         // start done -> first successful HTTP probe
	SampleStop         = "stop"          // container stop (SIGTERM, grace, SIGKILL)
	SampleRemove       = "remove"        // container remove
)

// Config configures an Engine.
type Config struct {
	// RunID identifies the run; every container carries it as LabelRun. Required:
	// 1 to 63 characters of [A-Za-z0-9_.-] (NewRunID makes one).
	RunID string
	// Post hands a completion to the engine thread (the wall-clock driver's Post).
	// Required. The adapter calls it from one goroutine at a time, in order; it must
	// not run fn itself and must not block for long (drop fn once the driver has
	// stopped: Shutdown waits for operations in flight, whose completions are posted).
	Post func(fn func())
	// Images maps scenario image references to local images ("nginx:1.27" ->
	// "kubesim/nginx:1.22"); references are normalized (":latest" added). nil
	// means DefaultImageMap(). A local image named as a value maps to itself.
	Images map[string]string
	// ImageMapHint tells the user, in the error about an unmapped image, where to
	// set the mapping (for example the scenario field or CLI flag).
	ImageMapHint string
	// RegistryReachable says whether the registry host (e.g.
	// "registry-1.docker.io") can be reached; a pull is tried only then. nil dials
	// host:443 with a 2 s timeout.
	RegistryReachable func(ctx context.Context, host string) bool
	// OnError, when set, runs on the engine thread (through Post) when the adapter
	// can no longer observe the engine (its event stream failed). Errors() also
	// receives these errors.
	OnError func(error)
	// ProbeInterval is the period of the readiness HTTP probe until the first
	// success (default 50 ms); ProbePeriod after it (default 500 ms); ProbeTimeout
	// bounds one probe (default 1 s).
	ProbeInterval, ProbePeriod, ProbeTimeout time.Duration
	// OpTimeout bounds one Docker API call (default 60 s; a stop adds its grace).
	OpTimeout time.Duration
	// Trace, when set, receives the adapter's story on the engine thread (through
	// Post), as the modeled runtime traces it: component "docker/<node>", step 5 for
	// pull, create, start, ready, stop; 0 for exit and remove. The caller adds the
	// engine time.
	Trace func(component string, step int, action, object, detail string)
}

// NginxImage is the local nginx image `make nginx-image` builds.
const NginxImage = "kubesim/nginx:1.22"

// DefaultImageMap maps the nginx images of the scenarios to the local nginx image.
func DefaultImageMap() map[string]string {
	return map[string]string{
		"nginx:1.27":   NginxImage,
		"nginx:1.25":   NginxImage,
		"nginx:latest": NginxImage,
	}
}

// DefaultImageMapHint is the hint used when Config.ImageMapHint is empty.
const DefaultImageMapHint = "the real-run image map (Config.Images of model/runtime/docker)"

var runIDRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,63}$`)

// ValidRunID reports whether id can be a run id (a label value and part of a
// container name).
func ValidRunID(id string) error {
	if !runIDRe.MatchString(id) {
		return fmt.Errorf("run id %q: must be 1 to 63 characters of [A-Za-z0-9_.-]", id)
	}
	return nil
}

// NewRunID returns a fresh run id: the UTC wall time and 6 random hex digits.
func NewRunID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

func (c *Config) defaults() error {
	if err := ValidRunID(c.RunID); err != nil {
		return fmt.Errorf("docker: %w", err)
	}
	if c.Post == nil {
		return errors.New("docker: Config.Post is required (the engine thread's inbox)")
	}
	if c.Images == nil {
		c.Images = DefaultImageMap()
	}
	if c.ImageMapHint == "" {
		c.ImageMapHint = DefaultImageMapHint
	}
	if c.RegistryReachable == nil {
		c.RegistryReachable = dialRegistry
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = 50 * time.Millisecond
	}
	if c.ProbePeriod <= 0 {
		c.ProbePeriod = 500 * time.Millisecond
	}
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = time.Second
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = 60 * time.Second
	}
	return nil
}

func dialRegistry(ctx context.Context, host string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, "443"))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// registryHost returns the registry host of an image reference (Docker Hub for a
// name without a host part).
func registryHost(ref string) string {
	first, _, ok := strings.Cut(ref, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first
	}
	return "registry-1.docker.io"
}

// normalizeRef adds ":latest" to an untagged reference and drops Docker Hub's
// implicit "docker.io/library/" prefix.
func normalizeRef(ref string) string {
	ref = strings.TrimPrefix(ref, "docker.io/")
	ref = strings.TrimPrefix(ref, "library/")
	return api.NormalizeImage(ref)
}

// Engine is the Docker host of one run, shared by the runtimes of every modeled
// node. It is safe for concurrent use; its done callbacks run through Config.Post.
type Engine struct {
	cl     *Client
	api    engineAPI
	cfg    Config
	images map[string]string // normalized scenario ref -> local ref

	ctx    context.Context // cancelled by Shutdown
	cancel context.CancelFunc
	ops    sync.WaitGroup // Docker operations in flight
	bg     sync.WaitGroup // event stream, probes, outbox

	mu      sync.Mutex
	closing bool
	ctrs    map[string]*ctr
	order   []*ctr // creation order (Timings)
	nodes   map[string]*NodeRuntime
	present map[string]imageInfo // local ref -> info, images known present
	samples map[string][]time.Duration
	seq     uint64
	outbox  []func()
	wake    chan struct{}
	errs    chan error
	failed  error // the event stream's failure
}

type ctrState uint8

const (
	stCreated ctrState = iota + 1
	stRunning
	stExited
)

// ctr is the adapter's record of one container; guarded by Engine.mu.
type ctr struct {
	id, name, node string
	spec           runtime.ContainerSpec
	local          string
	ports          []int32
	state          ctrState
	hostPorts      map[int32]int
	// stopRequested: StopContainer or RemoveContainer was asked; the exit that
	// follows is not reported.
	stopRequested bool
	startFailed   bool
	killOnStart   bool // its node was killed while its start was in flight
	startDone     bool // the start's done callback was posted
	pendingExit   *int // an exit seen before the start's done was posted
	ready         bool
	everReady     bool
	startedAt     time.Time
	stopProbe     context.CancelFunc
	timing        Timing
}

// Timing is the wall time of one container's operations (zero when not done).
type Timing struct {
	ID, Node, Pod, Container, Image string
	Create, Start, Ready            time.Duration
}

// NewEngine starts the adapter of a run on cl: it subscribes to the engine's
// container events for the run's label (exits), then accepts operations. Close
// it with Shutdown.
func NewEngine(cl *Client, cfg Config) (*Engine, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	e := &Engine{
		cl: cl, api: cl.api, cfg: cfg,
		images:  map[string]string{},
		ctrs:    map[string]*ctr{},
		nodes:   map[string]*NodeRuntime{},
		present: map[string]imageInfo{},
		samples: map[string][]time.Duration{},
		wake:    make(chan struct{}, 1),
		errs:    make(chan error, 4),
	}
	for k, v := range cfg.Images {
		if k == "" || v == "" {
			return nil, fmt.Errorf("docker: image map entry %q -> %q: both sides are required", k, v)
		}
		nk, nv := normalizeRef(k), normalizeRef(v)
		if old, ok := e.images[nk]; ok && old != nv {
			return nil, fmt.Errorf("docker: image map: %q is mapped to both %q and %q (%q and %q name the same image)", nk, old, nv, k, nk)
		}
		e.images[nk] = nv
	}
	for _, v := range cfg.Images {
		if _, ok := e.images[normalizeRef(v)]; !ok {
			e.images[normalizeRef(v)] = normalizeRef(v)
		}
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	evs, errc := e.api.Events(e.ctx, map[string]string{LabelRun: cfg.RunID})
	e.bg.Add(2)
	go e.watch(evs, errc)
	go e.dispatch()
	return e, nil
}

// RunID returns the run's id.
func (e *Engine) RunID() string { return e.cfg.RunID }

// Client returns the connection the engine uses.
func (e *Engine) Client() *Client { return e.cl }

// post queues fn for the engine thread; callers hold e.mu. Order is kept.
func (e *Engine) post(fn func()) {
	e.outbox = append(e.outbox, fn)
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *Engine) postLocked(fn func()) {
	e.mu.Lock()
	e.post(fn)
	e.mu.Unlock()
}

// dispatch forwards queued completions to Config.Post in order, until Shutdown.
func (e *Engine) dispatch() {
	defer e.bg.Done()
	for {
		select {
		case <-e.wake:
		case <-e.ctx.Done():
			return
		}
		if e.ctx.Err() != nil {
			return
		}
		e.mu.Lock()
		batch := e.outbox
		e.outbox = nil
		e.mu.Unlock()
		for _, fn := range batch {
			e.cfg.Post(fn)
		}
	}
}

// Errors receives the errors that end the adapter's view of the engine (the
// event stream failed: dockerd stopped or restarted). Buffered; never closed.
func (e *Engine) Errors() <-chan error { return e.errs }

// Err returns the event stream's failure, or nil.
func (e *Engine) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.failed
}

// watch reads the container events of the run and reports exits nobody asked for.
func (e *Engine) watch(evs <-chan event, errc <-chan error) {
	defer e.bg.Done()
	for {
		select {
		case <-e.ctx.Done():
			return
		case ev, ok := <-evs:
			if !ok {
				evs = nil // the error follows on errc
				continue
			}
			if ev.Action == "die" {
				e.onDie(ev.ID, ev.ExitCode)
			}
		case err := <-errc:
			if e.ctx.Err() != nil {
				return // Shutdown
			}
			if err == nil {
				err = errors.New("event stream closed")
			}
			err = fmt.Errorf("docker: lost the engine's event stream (is dockerd still running?): %w; container exits can no longer be observed, so the run cannot go on", err)
			e.mu.Lock()
			e.failed = err
			if e.cfg.OnError != nil {
				fn := e.cfg.OnError
				e.post(func() { fn(err) })
			}
			e.mu.Unlock()
			select {
			case e.errs <- err:
			default:
			}
			return
		}
	}
}

func (e *Engine) onDie(id string, code int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.ctrs[id]
	if !ok || c.state == stExited {
		return
	}
	wasRunning := c.state == stRunning
	c.state = stExited
	c.ready = false
	if c.stopProbe != nil {
		c.stopProbe()
		c.stopProbe = nil
	}
	if c.stopRequested || c.startFailed {
		return
	}
	if !c.startDone {
		c.pendingExit = &code
		return
	}
	if wasRunning {
		e.trace(c.node, 0, "exit", &c.spec, fmt.Sprintf("container %s (id %s) exited with code %d: nobody asked for it (a crash or a kill)", c.spec.Name, shortID(c.id), code))
		e.reportExit(c, code)
	}
}

// reportExit posts an exit to the node's handler; callers hold e.mu.
func (e *Engine) reportExit(c *ctr, code int) {
	n := e.nodes[c.node]
	if n == nil || n.onExit == nil {
		return
	}
	fn, id := n.onExit, c.id
	e.post(func() { fn(id, code) })
}

// trace posts a trace record of node's runtime; callers hold e.mu.
func (e *Engine) trace(node string, step int, action string, spec *runtime.ContainerSpec, detail string) {
	if e.cfg.Trace == nil {
		return
	}
	obj := ""
	if spec != nil {
		obj = api.RefOf(api.KindPod, spec.Namespace, spec.PodName)
	}
	fn, comp := e.cfg.Trace, "docker/"+node
	e.post(func() { fn(comp, step, action, obj, detail) })
}

func (e *Engine) sample(name string, d time.Duration) {
	e.samples[name] = append(e.samples[name], d)
}

// Samples returns a copy of the wall durations recorded per operation (Sample*
// names), in completion order.
func (e *Engine) Samples() map[string][]time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string][]time.Duration, len(e.samples))
	for k, v := range e.samples {
		out[k] = slices.Clone(v)
	}
	return out
}

// Timings returns the per-container operation times, in creation order.
func (e *Engine) Timings() []Timing {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Timing, len(e.order))
	for i, c := range e.order {
		out[i] = c.timing
	}
	return out
}

// begin registers an operation; false when the engine is shutting down.
func (e *Engine) begin() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return false
	}
	e.ops.Add(1)
	return true
}

var errShutdown = errors.New("docker: the adapter is shutting down")

func (e *Engine) opCtx(extra time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.ctx, e.cfg.OpTimeout+extra)
}

// localImage maps a scenario image to its local image.
func (e *Engine) localImage(ref string) (string, error) {
	n := normalizeRef(ref)
	if l, ok := e.images[n]; ok {
		return l, nil
	}
	known := make([]string, 0, len(e.images))
	for k, v := range e.images {
		if k != v {
			known = append(known, k+" -> "+v)
		}
	}
	sort.Strings(known)
	return "", fmt.Errorf("%w: image %q has no local image in real-run mode (there is no registry here); map it to a local image in %s (known: %s)",
		runtime.ErrImageNotFound, n, e.cfg.ImageMapHint, strings.Join(known, ", "))
}

// inspectImage returns a local image's info, from the cache or the engine.
func (e *Engine) inspectImage(ctx context.Context, local string) (imageInfo, bool, error) {
	e.mu.Lock()
	info, ok := e.present[local]
	e.mu.Unlock()
	if ok {
		return info, true, nil
	}
	t0 := time.Now()
	info, err := e.api.ImageInspect(ctx, local)
	d := time.Since(t0)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sample(SampleImageInspect, d)
	if errors.Is(err, errNotFound) {
		return imageInfo{}, false, nil
	}
	if err != nil {
		return imageInfo{}, false, fmt.Errorf("docker: image inspect %s: %w", local, err)
	}
	e.present[local] = info
	return info, true, nil
}

func missingImageError(scenarioRef, local, why string) error {
	return fmt.Errorf("%w: local image %q (for image %q) is not in the Docker image store and %s; build it with `make nginx-image` (or `kubesim real image`), or load it with `docker load`",
		runtime.ErrImageNotFound, local, scenarioRef, why)
}

// Shutdown stops accepting operations, lets those in flight finish for a moment
// (at most 5 s, and at most half of ctx's remaining time), cancels the rest, stops
// the event stream and the probes, and force-removes every container of the run,
// with a second pass when an operation had to be cancelled (a create the engine
// completes after the cancellation). It returns the removed containers.
// Completions are no longer posted afterwards. Calling it again only removes.
func (e *Engine) Shutdown(ctx context.Context) ([]Removed, error) {
	e.mu.Lock()
	already := e.closing
	e.closing = true
	for _, c := range e.ctrs {
		c.stopRequested = true // exits from here on are ours
	}
	e.mu.Unlock()
	cancelled := false
	if !already {
		wait := 5 * time.Second
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl)/2)
		}
		done := make(chan struct{})
		go func() { e.ops.Wait(); close(done) }()
		t := time.NewTimer(wait)
		select {
		case <-done:
		case <-t.C:
			cancelled = true
		case <-ctx.Done():
			cancelled = true
		}
		t.Stop()
		e.cancel() // cancelled calls return at once
		<-done
		e.bg.Wait()
	}
	removed, err := e.cl.RemoveRun(ctx, e.cfg.RunID)
	if cancelled && err == nil {
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
		}
		more, err2 := e.cl.RemoveRun(ctx, e.cfg.RunID)
		removed, err = append(removed, more...), err2
	}
	return removed, err
}

// NodeRuntime returns the runtime of modeled node (created on first use): a view of
// the shared engine that implements runtime.Runtime and runtime.Prober.
func (e *Engine) NodeRuntime(node string) *NodeRuntime {
	e.mu.Lock()
	defer e.mu.Unlock()
	n, ok := e.nodes[node]
	if !ok {
		n = &NodeRuntime{e: e, node: node}
		e.nodes[node] = n
	}
	return n
}

// Resolve returns the 127.0.0.1 address that reaches port of the running
// container of pod IP podIP, for the real proxy. Safe for concurrent use.
func (e *Engine) Resolve(podIP string, port int32) (hostAddr string, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.ctrs {
		if c.state != stRunning || c.spec.PodIP != podIP {
			continue
		}
		if hp, ok := c.hostPorts[port]; ok {
			return net.JoinHostPort("127.0.0.1", strconv.Itoa(hp)), true
		}
	}
	return "", false
}

// KillContainer kills a running container with SIGKILL (a fault): the engine
// reports its exit (code 137) to the node's exit handler as a crash, and the
// kubelet restarts it. done (may be nil) runs on the engine thread.
func (e *Engine) KillContainer(id string, done func(error)) {
	done = orNop(done)
	if !e.begin() {
		return
	}
	go func() {
		defer e.ops.Done()
		ctx, cancel := e.opCtx(0)
		defer cancel()
		e.mu.Lock()
		if c := e.ctrs[id]; c != nil {
			e.trace(c.node, 0, "kill", &c.spec, fmt.Sprintf("killing container %s (id %s) with SIGKILL (fault)", c.name, shortID(id)))
		}
		e.mu.Unlock()
		err := e.api.ContainerKill(ctx, id, "SIGKILL")
		if errors.Is(err, errNotFound) {
			err = fmt.Errorf("%w: %s", runtime.ErrNoSuchContainer, id)
		} else if err != nil {
			err = fmt.Errorf("docker: kill container %s: %w", id, err)
		}
		e.postLocked(func() { done(err) })
	}()
}

// KillNode kills every running container of a modeled node (a node crash); done
// gets the ids killed (sorted) and the first error.
func (e *Engine) KillNode(node string, done func(killed []string, err error)) {
	if done == nil {
		done = func([]string, error) {}
	}
	if !e.begin() {
		return
	}
	e.mu.Lock()
	var ids []string
	for id, c := range e.ctrs {
		switch {
		case c.node != node:
		case c.state == stRunning:
			ids = append(ids, id)
		case c.state == stCreated:
			c.killOnStart = true // a start in flight: killed as soon as it runs
		}
	}
	e.trace(node, 0, "kill-node", nil, fmt.Sprintf("killing the %d running container(s) of node %s (SIGKILL)", len(ids), node))
	e.mu.Unlock()
	sort.Strings(ids)
	go func() {
		defer e.ops.Done()
		ctx, cancel := e.opCtx(0)
		defer cancel()
		var first error
		killed := make([]string, 0, len(ids))
		for _, id := range ids {
			if err := e.api.ContainerKill(ctx, id, "SIGKILL"); err != nil {
				if first == nil && !errors.Is(err, errNotFound) {
					first = fmt.Errorf("docker: kill container %s of node %s: %w", id, node, err)
				}
				continue
			}
			killed = append(killed, id)
		}
		e.postLocked(func() { done(killed, first) })
	}()
}

// Containers returns the ids of the run's containers the adapter knows (any state),
// sorted.
func (e *Engine) Containers() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := make([]string, 0, len(e.ctrs))
	for id := range e.ctrs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// probe polls the container's first port over HTTP until ctx ends, keeping the
// latest result: every ProbeInterval until the first success, every ProbePeriod
// after. A response with a status in 200..399 is a success (the kubelet's HTTP
// probe rule, pkg/probe/http/http.go).
func (e *Engine) probe(ctx context.Context, c *ctr, addr string) {
	defer e.bg.Done()
	hc := &http.Client{
		Timeout:       e.cfg.ProbeTimeout,
		Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	url := "http://" + addr + "/"
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		ok := false
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err == nil {
			if resp, err := hc.Do(req); err == nil {
				resp.Body.Close()
				ok = resp.StatusCode >= 200 && resp.StatusCode < 400
			}
		}
		e.mu.Lock()
		if ctx.Err() != nil {
			e.mu.Unlock()
			return
		}
		c.ready = ok
		if ok && !c.everReady {
			c.everReady = true
			d := time.Since(c.startedAt)
			c.timing.Ready = d
			e.sample(SampleReady, d)
			e.trace(c.node, 5, "listen", &c.spec, fmt.Sprintf("nginx of container %s answers GET / on %s %.3fs after its start: the pod can serve", c.spec.Name, addr, d.Seconds()))
		}
		if c.everReady {
			wait = e.cfg.ProbePeriod
		} else {
			wait = e.cfg.ProbeInterval
		}
		e.mu.Unlock()
	}
}

func orNop(done func(error)) func(error) {
	if done == nil {
		return func(error) {}
	}
	return done
}

// stopSeconds is the whole-second stop timeout Docker takes for a grace period
// (rounded up, so the process gets at least grace).
func stopSeconds(grace time.Duration) int {
	if grace <= 0 {
		return 0
	}
	return int(math.Ceil(grace.Seconds()))
}

// Preflight checks, before a run starts, that every scenario image maps to a
// local image that is in the engine's image store or whose registry is reachable
// (a pull can fetch it). It returns the first failure, naming the scenario image,
// its local image and how to build it, so that a run does not go on with pods
// that can never start. Images are checked in the order given.
func (e *Engine) Preflight(ctx context.Context, refs []string) error {
	for _, ref := range refs {
		local, err := e.localImage(ref)
		if err != nil {
			return err
		}
		if _, ok, err := e.inspectImage(ctx, local); err != nil {
			return err
		} else if ok {
			continue
		}
		if host := registryHost(local); !e.cfg.RegistryReachable(ctx, host) {
			return missingImageError(normalizeRef(ref), local, "its registry "+host+" is unreachable")
		}
	}
	return nil
}
