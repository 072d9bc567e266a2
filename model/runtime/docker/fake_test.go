package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// fakeAPI is an in-memory Docker engine for the error paths. It publishes ports on
// made-up host ports (nothing listens: readiness is not tested with it).
type fakeAPI struct {
	mu       sync.Mutex
	images   map[string]imageInfo
	ctrs     map[string]*fakeCtr
	seq      int
	dead     bool // the engine is gone: every call fails
	events   chan event
	errc     chan error
	startErr error
	// dieOnStart makes a started container's process die at once with this code,
	// the die event sent before ContainerStart returns.
	dieOnStart *int
	pullErr    error
	pulls      int
	// startGate, when set, holds ContainerStart until it is closed.
	startGate chan struct{}
	// ignoreFilters makes ContainerList return every container (a buggy filter):
	// GC must still check the labels itself.
	ignoreFilters bool
}

type fakeCtr struct {
	id, name string
	labels   map[string]string
	running  bool
	ports    []int32
}

var errConnRefused = errors.New("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?")

func newFake() *fakeAPI {
	return &fakeAPI{
		images: map[string]imageInfo{NginxImage: {ID: "sha256:ng", Size: 9_800_000, ExposedPorts: []int32{80}}},
		ctrs:   map[string]*fakeCtr{},
		events: make(chan event, 64),
		errc:   make(chan error, 1),
	}
}

// gone makes the engine disappear: the event stream fails, calls fail.
func (f *fakeAPI) gone() {
	f.mu.Lock()
	f.dead = true
	f.mu.Unlock()
	f.errc <- fmt.Errorf("unexpected EOF")
}

func (f *fakeAPI) check() error {
	if f.dead {
		return errConnRefused
	}
	return nil
}

func (f *fakeAPI) Ping(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return "1.41", f.check()
}

func (f *fakeAPI) ImageInspect(_ context.Context, ref string) (imageInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return imageInfo{}, err
	}
	info, ok := f.images[ref]
	if !ok {
		return imageInfo{}, fmt.Errorf("%w: No such image: %s", errNotFound, ref)
	}
	return info, nil
}

func (f *fakeAPI) ImagePull(_ context.Context, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pulls++
	if err := f.check(); err != nil {
		return err
	}
	if f.pullErr != nil {
		return f.pullErr
	}
	f.images[ref] = imageInfo{ID: "sha256:pulled", Size: 1000}
	return nil
}

func (f *fakeAPI) ImageImport(_ context.Context, r io.Reader, ref string, _ []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	f.images[ref] = imageInfo{ID: "sha256:imported", Size: 1}
	return nil
}

func (f *fakeAPI) ContainerCreate(_ context.Context, req createRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return "", err
	}
	if _, ok := f.images[req.Image]; !ok {
		return "", fmt.Errorf("%w: No such image: %s", errNotFound, req.Image)
	}
	f.seq++
	id := fmt.Sprintf("c%03d", f.seq)
	f.ctrs[id] = &fakeCtr{id: id, name: req.Name, labels: req.Labels, ports: req.Ports}
	return id, nil
}

func (f *fakeAPI) ContainerStart(ctx context.Context, id string) error {
	f.mu.Lock()
	gate := f.startGate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return err
	}
	c, ok := f.ctrs[id]
	if !ok {
		return fmt.Errorf("%w: No such container: %s", errNotFound, id)
	}
	if f.startErr != nil {
		return f.startErr
	}
	c.running = true
	if f.dieOnStart != nil {
		c.running = false
		f.events <- event{ID: id, Action: "die", ExitCode: *f.dieOnStart, Labels: c.labels}
	}
	return nil
}

func (f *fakeAPI) ContainerInspect(_ context.Context, id string) (containerInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return containerInfo{}, err
	}
	c, ok := f.ctrs[id]
	if !ok {
		return containerInfo{}, fmt.Errorf("%w: No such container: %s", errNotFound, id)
	}
	info := containerInfo{ID: id, Running: c.running, Labels: c.labels, HostPorts: map[int32]int{}}
	if f.dieOnStart != nil {
		info.ExitCode = *f.dieOnStart
	}
	for i, p := range c.ports {
		info.HostPorts[p] = 40000 + i
	}
	return info, nil
}

func (f *fakeAPI) exit(id string, code int) error {
	c, ok := f.ctrs[id]
	if !ok {
		return fmt.Errorf("%w: No such container: %s", errNotFound, id)
	}
	if c.running {
		c.running = false
		f.events <- event{ID: id, Action: "die", ExitCode: code, Labels: c.labels}
	}
	return nil
}

func (f *fakeAPI) ContainerStop(_ context.Context, id string, _ int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return err
	}
	return f.exit(id, 0)
}

func (f *fakeAPI) ContainerKill(_ context.Context, id, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return err
	}
	return f.exit(id, 137)
}

func (f *fakeAPI) ContainerRemove(_ context.Context, id string, force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return err
	}
	c, ok := f.ctrs[id]
	if !ok {
		return fmt.Errorf("%w: No such container: %s", errNotFound, id)
	}
	if c.running && !force {
		return errors.New("conflict: You cannot remove a running container; stop it first")
	}
	if c.running {
		_ = f.exit(id, 137)
	}
	delete(f.ctrs, id)
	return nil
}

func (f *fakeAPI) ContainerList(_ context.Context, labels map[string]string) ([]containerSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(); err != nil {
		return nil, err
	}
	var out []containerSummary
	for _, c := range f.ctrs {
		match := true
		for k, v := range labels {
			if got, ok := c.labels[k]; !ok || (v != "" && got != v) {
				match = false
			}
		}
		if match || f.ignoreFilters {
			st := "created"
			if c.running {
				st = "running"
			}
			out = append(out, containerSummary{ID: c.id, Name: c.name, State: st, Labels: c.labels})
		}
	}
	return out, nil
}

func (f *fakeAPI) Events(ctx context.Context, _ map[string]string) (<-chan event, <-chan error) {
	return f.events, f.errc
}

func (f *fakeAPI) Close() error { return nil }

func (f *fakeAPI) running(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.ctrs[id]
	return ok && c.running
}

func (f *fakeAPI) has(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.ctrs[id]
	return ok
}
