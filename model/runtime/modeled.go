package runtime

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/network"
	"github.com/kubesim/kubesim/sim"
)

// ImageSpec is one entry of the modeled registry's catalogue: an image's size and
// how a container started from it behaves.
type ImageSpec struct {
	// Name is the image reference; a name without tag means ":latest".
	Name string
	// SizeBytes is the image's size as the node status reports it; the model also
	// transfers this many bytes when pulling (it does not separate the compressed
	// transfer from the unpacked size).
	SizeBytes int64
	// Serve, when set, makes a started container answer requests (a web server).
	Serve *ServeSpec
	// Exit, when set, makes the container's main process end by itself (a batch job
	// or a crashing program); nil means it runs until stopped.
	Exit *ExitSpec
	// Unavailable marks an image the registry does not have: pulls fail with
	// ErrImageNotFound (the kubelet reports ErrImagePull).
	Unavailable bool
}

// ServeSpec says how a started container of an image answers requests: its process
// listens on PodIP:Port once ReadyAfter has passed (process start-up), serves with
// Workers concurrent workers (nginx worker processes), keeps at most QueueLimit
// waiting requests in FIFO order (the listen backlog) and fails any beyond with
// "503 overloaded". Each request takes a ServiceTime draw.
type ServeSpec struct {
	Port        int32
	Workers     int
	QueueLimit  int
	ServiceTime dist.Spec
	ReadyAfter  dist.Spec
}

// ExitSpec makes a container's main process exit by itself After its start, with Code.
type ExitSpec struct {
	After dist.Spec
	Code  int
}

// ModeledConfig configures the modeled Docker engine of one node.
type ModeledConfig struct {
	// Images is the registry catalogue: size and behaviour per image reference.
	Images []ImageSpec
	// Preloaded lists the images already in the node's image store at start.
	Preloaded []string
	// DefaultImageSize is the size of an image missing from the catalogue. Such an
	// image pulls like any other (with this size) and serves nothing; a pull fails
	// only for catalogue entries marked Unavailable.
	DefaultImageSize int64
	// PullBandwidth is the registry download rate in bytes per second (a model
	// parameter; 50 MB/s by default).
	PullBandwidth int64
	// PullOverhead is the fixed part of every pull: manifest resolution, and layer
	// unpacking of a pull that downloads. A pull of an image already present (pull
	// policy Always) costs only this (Docker's "Image is up to date").
	PullOverhead dist.Spec
	// Create, Start, Stop and Remove are the latencies of the container operations.
	// Stop is the time the process takes to exit after the stop signal; it is cut at
	// the grace period, when the process is killed.
	Create, Start, Stop, Remove dist.Spec
	// SerializeImagePulls makes pulls run one at a time in FIFO order (reference §4:
	// serializeImagePulls true unless maxParallelImagePulls >= 2). When false every
	// pull proceeds at once with the full bandwidth (bandwidth sharing is not modeled).
	SerializeImagePulls bool
	// Usage is the CPU and memory usage model of running containers (usage.go).
	Usage UsageConfig
	// Parallelism, when positive, makes container creates and starts share the
	// engine's daemon: Create and Start are then the work of one operation, and
	// the operations in flight share Parallelism units of speed (processor
	// sharing, daemon.go). 0 (the default) lets every operation run at full speed
	// whatever else is in flight.
	Parallelism float64
	// Daemon, when set, is the daemon the engine's creates and starts share with
	// other nodes' engines (one engine for several nodes, as in real-run mode);
	// Parallelism is then the daemon's. Nil with Parallelism > 0: the node has its
	// own daemon.
	Daemon *Daemon
}

// Image names of the default catalogue.
const (
	ImageNginx       = "nginx:1.27"
	ImageNginxLatest = "nginx:latest"
	ImageNginx125    = "nginx:1.25"
	ImagePause       = "registry.k8s.io/pause:3.10"
)

// NginxServe is the default serving model of nginx images: worker_processes auto on
// a 4-CPU node (4 workers), the Linux listen backlog nginx uses by default (511,
// nginx docs "listen ... backlog"), about half a millisecond per small static
// response, and about 50 ms from process start to listening. The latencies are
// model parameters to calibrate against real runs.
func NginxServe() *ServeSpec {
	return &ServeSpec{
		Port:        80,
		Workers:     4,
		QueueLimit:  511,
		ServiceTime: dist.LogNormal(500*time.Microsecond, 0.5),
		ReadyAfter:  dist.LogNormal(50*time.Millisecond, 0.3),
	}
}

// DefaultModeledConfig returns a Docker engine with nginx images in its catalogue
// (sizes as `docker images` reports them), the pause image preloaded, 50 MB/s from
// the registry, serialized pulls (reference §4) and operation latencies typical of
// dockerd on an SSD (model parameters: calibrate with real runs).
func DefaultModeledConfig() ModeledConfig {
	return ModeledConfig{
		Images: []ImageSpec{
			{Name: ImageNginx, SizeBytes: 192_000_000, Serve: NginxServe()},
			{Name: ImageNginxLatest, SizeBytes: 192_000_000, Serve: NginxServe()},
			{Name: ImageNginx125, SizeBytes: 187_000_000, Serve: NginxServe()},
			{Name: ImagePause, SizeBytes: 736_000},
		},
		Preloaded:           []string{ImagePause},
		DefaultImageSize:    100_000_000,
		PullBandwidth:       50_000_000,
		PullOverhead:        dist.LogNormal(800*time.Millisecond, 0.3),
		Create:              dist.LogNormal(60*time.Millisecond, 0.3),
		Start:               dist.LogNormal(150*time.Millisecond, 0.3),
		Stop:                dist.LogNormal(100*time.Millisecond, 0.3),
		Remove:              dist.LogNormal(30*time.Millisecond, 0.3),
		SerializeImagePulls: true,
		Usage:               DefaultUsageConfig(),
	}
}

// Validate checks the configuration; messages name the field.
func (c *ModeledConfig) Validate(reg *dist.Registry) error {
	seen := map[string]bool{}
	for i := range c.Images {
		im := &c.Images[i]
		if im.Name == "" {
			return fmt.Errorf("images[%d].name: required", i)
		}
		n := api.NormalizeImage(im.Name)
		if seen[n] {
			return fmt.Errorf("images[%d].name: duplicate image %q", i, n)
		}
		seen[n] = true
		if im.SizeBytes < 0 {
			return fmt.Errorf("images[%d].sizeBytes: must not be negative", i)
		}
		if s := im.Serve; s != nil {
			if s.Port < 1 || s.Port > 65535 {
				return fmt.Errorf("images[%d].serve.port: %d must be in 1..65535", i, s.Port)
			}
			if s.Workers < 1 {
				return fmt.Errorf("images[%d].serve.workers: must be at least 1", i)
			}
			if s.QueueLimit < 0 {
				return fmt.Errorf("images[%d].serve.queueLimit: must not be negative", i)
			}
			if err := reg.Validate(s.ServiceTime); err != nil {
				return fmt.Errorf("images[%d].serve.serviceTime: %w", i, err)
			}
			if err := reg.Validate(s.ReadyAfter); err != nil {
				return fmt.Errorf("images[%d].serve.readyAfter: %w", i, err)
			}
		}
		if e := im.Exit; e != nil {
			if err := reg.Validate(e.After); err != nil {
				return fmt.Errorf("images[%d].exit.after: %w", i, err)
			}
		}
	}
	for i, p := range c.Preloaded {
		if p == "" {
			return fmt.Errorf("preloaded[%d]: empty image name", i)
		}
	}
	if c.Parallelism != 0 && !(c.Parallelism >= 1 && c.Parallelism <= 1e6) {
		return fmt.Errorf("parallelism: %g must be 0 (unlimited) or 1 to 1e6", c.Parallelism)
	}
	if err := c.Usage.Validate(); err != nil {
		return err
	}
	if c.DefaultImageSize < 0 {
		return fmt.Errorf("defaultImageSize: must not be negative")
	}
	if c.PullBandwidth <= 0 {
		return fmt.Errorf("pullBandwidth: must be positive (bytes per second)")
	}
	for _, f := range []struct {
		name string
		spec dist.Spec
	}{{"pullOverhead", c.PullOverhead}, {"create", c.Create}, {"start", c.Start}, {"stop", c.Stop}, {"remove", c.Remove}} {
		if err := reg.Validate(f.spec); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

// State is a modeled container's state.
type State uint8

// Container states, as Docker names them.
const (
	StateCreated State = iota + 1
	StateRunning
	StateExited
)

func (s State) String() string {
	switch s {
	case StateCreated:
		return "created"
	case StateRunning:
		return "running"
	case StateExited:
		return "exited"
	}
	return "unknown"
}

// Modeled is the latency-driven Docker engine of one node. It implements Runtime and
// Prober. Everything runs on the engine; it is not safe for concurrent use.
type Modeled struct {
	eng    *sim.Engine
	node   string
	comp   string
	cfg    ModeledConfig
	fabric *network.Fabric
	reg    *dist.Registry
	tel    sim.Telemetry

	catalogue map[string]*ImageSpec // by normalized name
	images    map[string]int64      // present images: normalized name -> size
	perImage  map[string]*imageSamplers

	pullOverhead, create, start, stop, remove dist.Sampler

	pulls   map[string]*pullJob // queued or running pulls, by normalized name
	queue   []*pullJob          // serialized pulls waiting (FIFO)
	pulling bool                // a serialized pull is running

	daemon     *Daemon // nil: creates and starts never wait for one another
	containers map[string]*container
	seq        uint64
	onExit     func(id string, exitCode int)
	faults     faultState // injected faults (faults.go)
}

type imageSamplers struct {
	service, ready, exit dist.Sampler
}

type pullJob struct {
	ref     string
	waiters []func(error)
	queued  sim.Time
}

type container struct {
	id, name  string
	spec      ContainerSpec
	image     string
	img       *ImageSpec
	state     State
	exitCode  int
	startedAt sim.Time
	lis       *listener
	timer     sim.Timer // pending process event: listen after ReadyAfter, or exit
	runTimer  sim.Timer // the end of a RunDuration (batch work)
	stopping  bool
	waiters   []func(error) // StopContainer callers waiting for the stop to finish
	usage     usage         // CPU and memory usage (usage.go)
}

var (
	_ Runtime = (*Modeled)(nil)
	_ Prober  = (*Modeled)(nil)
)

// NewModeled builds the modeled Docker engine of node. Latency streams are named
// "docker/<node>/pull", "docker/<node>/create", ".../start", ".../stop", ".../remove";
// per image "docker/<node>/serve/<image>", ".../ready/<image>", ".../exit/<image>".
// fabric may be nil when no image serves. tel may be nil.
func NewModeled(eng *sim.Engine, node string, cfg ModeledConfig, fabric *network.Fabric, reg *dist.Registry, tel sim.Telemetry) (*Modeled, error) {
	if node == "" {
		return nil, fmt.Errorf("runtime: node name is required")
	}
	if err := cfg.Validate(reg); err != nil {
		return nil, fmt.Errorf("runtime (node %s): %w", node, err)
	}
	if tel == nil {
		tel = sim.Discard
	}
	pfx := "docker/" + node
	m := &Modeled{
		eng: eng, node: node, comp: pfx, cfg: cfg, fabric: fabric, reg: reg, tel: tel,
		catalogue:    make(map[string]*ImageSpec, len(cfg.Images)),
		images:       map[string]int64{},
		perImage:     map[string]*imageSamplers{},
		pulls:        map[string]*pullJob{},
		containers:   map[string]*container{},
		pullOverhead: reg.MustNew(cfg.PullOverhead, eng.Source(pfx+"/pull")),
		create:       reg.MustNew(cfg.Create, eng.Source(pfx+"/create")),
		start:        reg.MustNew(cfg.Start, eng.Source(pfx+"/start")),
		stop:         reg.MustNew(cfg.Stop, eng.Source(pfx+"/stop")),
		remove:       reg.MustNew(cfg.Remove, eng.Source(pfx+"/remove")),
	}
	m.daemon = cfg.Daemon
	if m.daemon == nil && cfg.Parallelism > 0 {
		m.daemon, _ = NewDaemon(eng, cfg.Parallelism) // Validate checked it
	}
	for i := range cfg.Images {
		im := cfg.Images[i]
		im.Name = api.NormalizeImage(im.Name)
		m.catalogue[im.Name] = &im
	}
	for _, p := range cfg.Preloaded {
		n := api.NormalizeImage(p)
		m.images[n] = m.imageSize(n)
	}
	return m, nil
}

// Node returns the node the engine runs on.
func (m *Modeled) Node() string { return m.node }

func (m *Modeled) imageSize(ref string) int64 {
	if im, ok := m.catalogue[ref]; ok {
		return im.SizeBytes
	}
	return m.cfg.DefaultImageSize
}

func (m *Modeled) samplers(ref string) *imageSamplers {
	if s, ok := m.perImage[ref]; ok {
		return s
	}
	s := &imageSamplers{}
	if im := m.catalogue[ref]; im != nil {
		if im.Serve != nil {
			s.service = m.reg.MustNew(im.Serve.ServiceTime, m.eng.Source(m.comp+"/serve/"+ref))
			s.ready = m.reg.MustNew(im.Serve.ReadyAfter, m.eng.Source(m.comp+"/ready/"+ref))
		}
		if im.Exit != nil {
			s.exit = m.reg.MustNew(im.Exit.After, m.eng.Source(m.comp+"/exit/"+ref))
		}
	}
	m.perImage[ref] = s
	return s
}

// tracef traces a record whose detail is formatted only when the telemetry keeps it.
func (m *Modeled) tracef(step int, action, object, format string, args ...any) {
	sim.Tracef(m.tel, sim.Record{Time: m.eng.Now(), Step: step, Component: m.comp, Action: action, Object: object}, format, args...)
}

func (m *Modeled) trace(step int, action, object, detail string) {
	m.tel.Trace(sim.Record{Time: m.eng.Now(), Step: step, Component: m.comp, Action: action, Object: object, Detail: detail})
}

// HasImage implements Runtime.
func (m *Modeled) HasImage(ref string) bool {
	_, ok := m.images[api.NormalizeImage(ref)]
	return ok
}

// Images implements Runtime: one entry per present image, named by its normalized
// reference, largest first and ties by name (the kubelet sorts node images by size,
// pkg/kubelet/nodestatus/setters.go Images).
func (m *Modeled) Images() []api.ContainerImage {
	out := make([]api.ContainerImage, 0, len(m.images))
	for name, size := range m.images {
		out = append(out, api.ContainerImage{Names: []string{name}, SizeBytes: size})
	}
	slices.SortFunc(out, func(a, b api.ContainerImage) int {
		if c := cmp.Compare(b.SizeBytes, a.SizeBytes); c != 0 {
			return c
		}
		return cmp.Compare(a.Names[0], b.Names[0])
	})
	return out
}

// PullImage implements Runtime. Pull time = PullOverhead + size/PullBandwidth for an
// image not yet present, PullOverhead alone for one present. A pull of a ref already
// queued or running joins it.
func (m *Modeled) PullImage(ref string, done func(error)) {
	ref = api.NormalizeImage(ref)
	if job, ok := m.pulls[ref]; ok {
		job.waiters = append(job.waiters, done)
		return
	}
	job := &pullJob{ref: ref, waiters: []func(error){done}, queued: m.eng.Now()}
	m.pulls[ref] = job
	if !m.cfg.SerializeImagePulls {
		m.runPull(job, 0)
		return
	}
	m.queue = append(m.queue, job)
	if !m.pulling {
		m.nextPull()
	}
}

func (m *Modeled) nextPull() {
	if len(m.queue) == 0 {
		m.pulling = false
		return
	}
	job := m.queue[0]
	m.queue[0] = nil
	m.queue = m.queue[1:]
	if len(m.queue) == 0 {
		m.queue = m.queue[:0:0] // let the backing array go
	}
	m.pulling = true
	m.runPull(job, len(m.queue))
}

func (m *Modeled) runPull(job *pullJob, behind int) {
	size := m.imageSize(job.ref)
	im := m.catalogue[job.ref]
	_, present := m.images[job.ref]
	d := m.pullOverhead.Sample()
	var transfer int64
	faultErr := m.pullFault(job.ref)
	if !present && (im == nil || !im.Unavailable) && faultErr == nil {
		transfer = size
		d += time.Duration(float64(size) / float64(m.cfg.PullBandwidth) * 1e9)
	}
	obj := "image/" + job.ref
	wait := m.eng.Now().Sub(job.queued)
	switch {
	case present:
		m.tracef(5, "pull", obj, "pulling image %s: already present, checking the registry manifest only", job.ref)
	case !sim.WantsDetail(m.tel, 5):
		m.trace(5, "pull", obj, "")
	default:
		detail := fmt.Sprintf("pulling image %s (%s) from the registry at %s/s", job.ref, fmtBytes(size), fmtBytes(m.cfg.PullBandwidth))
		if m.cfg.SerializeImagePulls && (wait > 0 || behind > 0) {
			detail += fmt.Sprintf("; pulls are serialized (serializeImagePulls=true): it waited %.3fs, %d more queued behind it", wait.Seconds(), behind)
		}
		m.trace(5, "pull", obj, detail)
	}
	m.eng.After(d, func() {
		delete(m.pulls, job.ref)
		var err error
		if im != nil && im.Unavailable {
			err = fmt.Errorf("%w: pull %s: manifest for %s not found", ErrImageNotFound, job.ref, job.ref)
			m.tracef(5, "pull", obj, "pull of %s failed after %.3fs: %v", job.ref, d.Seconds(), err)
		} else if faultErr != nil {
			err = faultErr
			m.tracef(5, "pull", obj, "pull of %s failed after %.3fs: %v", job.ref, d.Seconds(), err)
		} else {
			m.images[job.ref] = size
			m.tel.Observe("image_pull_seconds", m.eng.Now(), d.Seconds())
			if present {
				m.tracef(5, "pull", obj, "image %s is up to date (%.3fs)", job.ref, d.Seconds())
			} else {
				m.tracef(5, "pull", obj, "pulled image %s (%s) in %.3fs", job.ref, fmtBytes(transfer), d.Seconds())
			}
		}
		for _, w := range job.waiters {
			if w != nil {
				w(err)
			}
		}
		if m.cfg.SerializeImagePulls {
			m.nextPull()
		}
	})
}

// PullsQueued returns the pulls waiting for the serialized puller (not counting the
// one running).
func (m *Modeled) PullsQueued() int { return len(m.queue) }

// CreateContainer implements Runtime.
func (m *Modeled) CreateContainer(spec ContainerSpec, done func(id string, err error)) {
	if done == nil {
		done = func(string, error) {}
	}
	ref := api.NormalizeImage(spec.Image)
	m.seq++
	id := fmt.Sprintf("%s-%06d", m.node, m.seq)
	m.operate(m.create.Sample(), func() {
		if err := m.downErr(); err != nil {
			done("", err)
			return
		}
		if _, ok := m.images[ref]; !ok {
			done("", fmt.Errorf("%w: %s", ErrNoSuchImage, ref))
			return
		}
		c := &container{
			id:    id,
			name:  "k8s_" + spec.Name + "_" + spec.PodName + "_" + spec.Namespace + "_" + string(spec.PodUID),
			spec:  spec,
			image: ref,
			img:   m.catalogue[ref],
			state: StateCreated,
		}
		m.containers[id] = c
		if sim.WantsRecord(m.tel, 5) { // podRef builds a string
			m.tracef(5, "create", podRef(&spec), "created container %s (id %s) from image %s", c.name, id, ref)
		}
		done(id, nil)
	})
}

// operate runs a container create or start of the given work: through the
// daemon when the engine has one (the operation shares it with those in flight),
// else after exactly work.
func (m *Modeled) operate(work time.Duration, fn func()) {
	if m.daemon != nil {
		m.daemon.Do(work, fn)
		return
	}
	m.eng.After(work, fn)
}

func podRef(s *ContainerSpec) string { return api.RefOf(api.KindPod, s.Namespace, s.PodName) }

// StartContainer implements Runtime. A container whose image serves starts listening
// on PodIP:Port after the image's ReadyAfter; one whose image has an Exit spec exits
// by itself after Exit.After.
func (m *Modeled) StartContainer(id string, done func(error)) {
	done = orNop(done)
	m.operate(m.start.Sample(), func() {
		c, ok := m.containers[id]
		if !ok {
			done(fmt.Errorf("%w: %s", ErrNoSuchContainer, id))
			return
		}
		if err := m.downErr(); err != nil {
			done(err)
			return
		}
		if c.state != StateCreated {
			done(fmt.Errorf("%w: start of %s, which is %s", ErrContainerState, id, c.state))
			return
		}
		c.state = StateRunning
		c.startedAt = m.eng.Now()
		m.usageChanged(c)
		// The detail is built only for a telemetry that keeps it; the samples are
		// drawn either way.
		want := sim.WantsDetail(m.tel, 5)
		detail := ""
		if want {
			detail = fmt.Sprintf("started container %s (id %s): its main process runs", c.name, id)
		}
		smp := m.samplers(c.image)
		switch {
		case m.faults.neverReady[c.image]:
			if want {
				detail += "; it is a bad version: its process runs but never listens nor answers a probe, so the container never becomes ready"
			}
		case c.img != nil && c.img.Serve != nil && c.spec.PodIP != "":
			after := smp.ready.Sample()
			if want {
				detail += fmt.Sprintf("; it will listen on %s:%d after %.3fs of start-up", c.spec.PodIP, c.img.Serve.Port, after.Seconds())
			}
			c.timer = m.eng.After(after, func() { m.listen(c) })
		case c.img != nil && c.img.Exit != nil:
			after := smp.exit.Sample()
			code := c.img.Exit.Code
			c.timer = m.eng.After(after, func() {
				c.timer = sim.Timer{}
				m.exit(c, code, fmt.Sprintf("main process exited by itself with code %d after %.3fs", code, after.Seconds()))
			})
		}
		if d := c.spec.RunDuration; d > 0 {
			if want {
				detail += fmt.Sprintf("; its work takes %v, then it exits with code 0", d)
			}
			c.runTimer = m.eng.After(d, func() {
				c.runTimer = sim.Timer{}
				m.exit(c, 0, fmt.Sprintf("main process finished its work after %v and exited with code 0", d))
			})
		}
		if sim.WantsRecord(m.tel, 5) {
			m.trace(5, "start", podRef(&c.spec), detail)
		}
		done(nil)
	})
}

// listen opens the container's listener in the fabric; a taken address makes the
// process fail as nginx does ("bind() ... failed (98: Address already in use)").
func (m *Modeled) listen(c *container) {
	c.timer = sim.Timer{}
	if c.state != StateRunning || c.stopping {
		return
	}
	s := c.img.Serve
	addr := fmt.Sprintf("%s:%d", c.spec.PodIP, s.Port)
	l := newListener(m, c, addr, s, m.samplers(c.image).service)
	if m.fabric == nil {
		m.exit(c, 1, "no pod network fabric to listen in")
		return
	}
	if err := m.fabric.Listen(addr, l); err != nil {
		m.exit(c, 1, fmt.Sprintf("bind() to %s failed (98: Address already in use): %v", addr, err))
		return
	}
	c.lis = l
	m.tracef(5, "listen", podRef(&c.spec), "process of container %s listens on %s (%d workers, backlog %d): the pod can serve", c.spec.Name, addr, s.Workers, s.QueueLimit)
}

// closeListener stops serving: the address leaves the fabric and requests in flight
// or queued fail with "connection reset".
func (m *Modeled) closeListener(c *container) {
	if c.lis == nil {
		return
	}
	l := c.lis
	c.lis = nil
	m.fabric.Close(l.addr)
	l.close("connection reset")
}

// exit ends a running container's process on its own (not asked for by
// StopContainer) and reports it to the exit handler.
func (m *Modeled) exit(c *container, code int, why string) {
	if c.state != StateRunning || c.stopping {
		return
	}
	m.eng.Cancel(c.timer)
	c.timer = sim.Timer{}
	m.eng.Cancel(c.runTimer)
	c.runTimer = sim.Timer{}
	m.closeListener(c)
	c.state = StateExited
	c.exitCode = code
	m.tracef(0, "exit", podRef(&c.spec), "container %s (id %s) exited with code %d: %s", c.spec.Name, c.id, code, why)
	if m.onExit != nil {
		m.onExit(c.id, code)
	}
}

// Crash makes a running container's process die now with exitCode (a crash, an OOM
// kill is 137): the listener closes and the exit handler runs. It is the entry point
// for fault injection. It returns ErrNoSuchContainer or ErrContainerState when there
// is no running process to kill.
func (m *Modeled) Crash(id string, exitCode int) error {
	c, ok := m.containers[id]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoSuchContainer, id)
	}
	if c.state != StateRunning || c.stopping {
		return fmt.Errorf("%w: crash of %s, which is %s", ErrContainerState, id, c.state)
	}
	m.exit(c, exitCode, "killed by fault injection")
	return nil
}

// StopContainer implements Runtime: the stop signal closes the listener at once
// (in-flight and queued requests fail with "connection reset"), the process exits
// after a Stop draw, or is killed at grace (exit code 137).
func (m *Modeled) StopContainer(id string, grace time.Duration, done func(error)) {
	done = orNop(done)
	c, ok := m.containers[id]
	if !ok {
		m.eng.After(0, func() { done(fmt.Errorf("%w: %s", ErrNoSuchContainer, id)) })
		return
	}
	if c.stopping {
		c.waiters = append(c.waiters, done)
		return
	}
	if c.state != StateRunning {
		m.eng.After(0, func() { done(nil) })
		return
	}
	c.stopping = true
	c.waiters = append(c.waiters, done)
	m.eng.Cancel(c.timer)
	c.timer = sim.Timer{}
	m.eng.Cancel(c.runTimer)
	c.runTimer = sim.Timer{}
	m.closeListener(c)
	d, code, how := m.stop.Sample(), 0, "exited after the stop signal (SIGTERM)"
	if grace < 0 {
		grace = 0
	}
	if d > grace {
		d, code, how = grace, 137, "did not exit within the grace period and was killed (SIGKILL)"
	}
	m.eng.After(d, func() {
		c.stopping = false
		c.state = StateExited
		c.exitCode = code
		m.tracef(5, "stop", podRef(&c.spec), "stopped container %s (id %s): %s, exit code %d after %.3fs (grace %v)", c.name, id, how, code, d.Seconds(), grace)
		ws := c.waiters
		c.waiters = nil
		for _, w := range ws {
			w(nil)
		}
	})
}

// RemoveContainer implements Runtime.
func (m *Modeled) RemoveContainer(id string, done func(error)) {
	m.eng.After(m.remove.Sample(), func() {
		c, ok := m.containers[id]
		var err error
		switch {
		case !ok:
			err = fmt.Errorf("%w: %s", ErrNoSuchContainer, id)
		case c.state == StateRunning || c.stopping:
			err = fmt.Errorf("%w: cannot remove running container %s: stop it first", ErrContainerState, id)
		default:
			delete(m.containers, id)
			m.tracef(0, "remove", podRef(&c.spec), "removed container %s (id %s)", c.name, id)
		}
		if done != nil {
			done(err)
		}
	})
}

// SetExitHandler implements Runtime.
func (m *Modeled) SetExitHandler(fn func(id string, exitCode int)) { m.onExit = fn }

// ProbeReady implements Prober: the container runs and, if its image serves, its
// process listens (what a TCP-socket or HTTP probe of its port would find).
func (m *Modeled) ProbeReady(id string) bool {
	c, ok := m.containers[id]
	if !ok || c.state != StateRunning || c.stopping {
		return false
	}
	if c.lis == nil && m.faults.neverReady[c.image] {
		return false
	}
	if c.img != nil && c.img.Serve != nil {
		return c.lis != nil
	}
	return true
}

// ContainerState returns a container's state and last exit code.
func (m *Modeled) ContainerState(id string) (state State, exitCode int, ok bool) {
	c, ok := m.containers[id]
	if !ok {
		return 0, 0, false
	}
	return c.state, c.exitCode, true
}

// Containers returns the number of containers (in any state) the engine holds.
func (m *Modeled) Containers() int { return len(m.containers) }

// orNop returns done, or a callback that does nothing for a nil done: every
// callback of the port may be nil.
func orNop(done func(error)) func(error) {
	if done == nil {
		return func(error) {}
	}
	return done
}

// fmtBytes formats a byte count in decimal units, as Docker prints sizes.
func fmtBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
