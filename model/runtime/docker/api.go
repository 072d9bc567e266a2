package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// engineAPI is the part of the Docker Engine API the adapter uses. It hides the
// moby client so the error paths (engine gone, image missing, port taken, start
// failing) are tested with a fake engine. Every method may be called from any
// goroutine; ctx bounds each call.
type engineAPI interface {
	// Ping checks the engine answers and negotiates the API version; it returns the
	// version in use.
	Ping(ctx context.Context) (apiVersion string, err error)
	// ImageInspect returns a local image's size and exposed ports; errNotFound when
	// the image is not in the local store.
	ImageInspect(ctx context.Context, ref string) (imageInfo, error)
	// ImagePull pulls ref from its registry and waits for the pull to finish.
	ImagePull(ctx context.Context, ref string) error
	// ImageImport creates image ref from a root file system tarball, applying
	// Dockerfile-like changes (CMD, EXPOSE, ...).
	ImageImport(ctx context.Context, rootfs io.Reader, ref string, changes []string) error
	// ContainerCreate creates a container and returns its id.
	ContainerCreate(ctx context.Context, req createRequest) (id string, err error)
	ContainerStart(ctx context.Context, id string) error
	// ContainerInspect returns a container's state and its published ports.
	ContainerInspect(ctx context.Context, id string) (containerInfo, error)
	// ContainerStop sends SIGTERM, waits up to timeoutSec, then SIGKILL.
	ContainerStop(ctx context.Context, id string, timeoutSec int) error
	ContainerKill(ctx context.Context, id, signal string) error
	ContainerRemove(ctx context.Context, id string, force bool) error
	// ContainerList lists containers in any state whose labels match every
	// key=value (a value "" matches any value of the key).
	ContainerList(ctx context.Context, labels map[string]string) ([]containerSummary, error)
	// Events streams container events of containers whose labels match. The
	// error channel receives one error when the stream ends (ctx cancelled or the
	// engine gone).
	Events(ctx context.Context, labels map[string]string) (<-chan event, <-chan error)
	Close() error
}

// errNotFound marks an object (image, container) the engine does not have.
var errNotFound = errors.New("not found")

type imageInfo struct {
	ID           string
	Size         int64
	ExposedPorts []int32 // TCP ports, ascending
}

type createRequest struct {
	Name   string
	Image  string
	Labels map[string]string
	// Ports are the container's TCP ports, each published on 127.0.0.1 with an
	// ephemeral host port.
	Ports    []int32
	NanoCPUs int64
	Memory   int64
}

type containerInfo struct {
	ID       string
	Running  bool
	ExitCode int
	Labels   map[string]string
	// HostPorts maps a container TCP port to its 127.0.0.1 host port.
	HostPorts map[int32]int
}

type containerSummary struct {
	ID     string
	Name   string
	State  string
	Labels map[string]string
}

type event struct {
	ID       string
	Action   string // "start", "die", "destroy", ...
	ExitCode int    // for "die"
	Labels   map[string]string
}

// mobyAPI implements engineAPI with github.com/moby/moby/client.
type mobyAPI struct {
	c *client.Client
}

// newMobyAPI connects to the engine named by DOCKER_HOST (default the local unix
// socket) or by host when not empty. The API version is negotiated on the first
// call (the engine here speaks 1.41).
func newMobyAPI(host string) (*mobyAPI, error) {
	opts := []client.Opt{client.FromEnv}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, err
	}
	return &mobyAPI{c: c}, nil
}

func notFound(err error) error {
	if err != nil && cerrdefs.IsNotFound(err) {
		return fmt.Errorf("%w: %v", errNotFound, err)
	}
	return err
}

func (m *mobyAPI) Ping(ctx context.Context) (string, error) {
	p, err := m.c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		return "", err
	}
	if p.APIVersion == "" {
		return "", errors.New("the engine did not report its API version")
	}
	return m.c.ClientVersion(), nil
}

func (m *mobyAPI) ImageInspect(ctx context.Context, ref string) (imageInfo, error) {
	r, err := m.c.ImageInspect(ctx, ref)
	if err != nil {
		return imageInfo{}, notFound(err)
	}
	info := imageInfo{ID: r.ID, Size: r.Size}
	if r.Config != nil {
		for p := range r.Config.ExposedPorts {
			num, proto, _ := strings.Cut(p, "/")
			if proto != "" && proto != "tcp" {
				continue
			}
			if n, err := strconv.Atoi(num); err == nil && n > 0 && n < 65536 {
				info.ExposedPorts = append(info.ExposedPorts, int32(n))
			}
		}
		sort.Slice(info.ExposedPorts, func(i, j int) bool { return info.ExposedPorts[i] < info.ExposedPorts[j] })
	}
	return info, nil
}

func (m *mobyAPI) ImagePull(ctx context.Context, ref string) error {
	r, err := m.c.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return notFound(err)
	}
	defer r.Close()
	return r.Wait(ctx)
}

func (m *mobyAPI) ImageImport(ctx context.Context, rootfs io.Reader, ref string, changes []string) error {
	r, err := m.c.ImageImport(ctx, client.ImageImportSource{Source: rootfs, SourceName: "-"}, ref, client.ImageImportOptions{Changes: changes})
	if err != nil {
		return err
	}
	defer r.Close()
	// The engine streams JSON progress messages; an error appears as
	// {"errorDetail":...}. Read it all and look for one.
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if i := strings.Index(string(b), `"errorDetail"`); i >= 0 {
		return fmt.Errorf("image import: %s", strings.TrimSpace(string(b[i:])))
	}
	return nil
}

func (m *mobyAPI) ContainerCreate(ctx context.Context, req createRequest) (string, error) {
	exposed := network.PortSet{}
	bindings := network.PortMap{}
	loopback := netip.MustParseAddr("127.0.0.1")
	for _, p := range req.Ports {
		port, ok := network.PortFrom(uint16(p), network.TCP)
		if !ok {
			return "", fmt.Errorf("invalid container port %d", p)
		}
		exposed[port] = struct{}{}
		// HostPort "" lets the engine choose an ephemeral port; HostIP keeps it
		// off every interface but loopback.
		bindings[port] = []network.PortBinding{{HostIP: loopback, HostPort: ""}}
	}
	r, err := m.c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: req.Name,
		Config: &container.Config{
			Image:        req.Image,
			Labels:       req.Labels,
			ExposedPorts: exposed,
		},
		HostConfig: &container.HostConfig{
			PortBindings: bindings,
			Resources:    container.Resources{NanoCPUs: req.NanoCPUs, Memory: req.Memory},
		},
	})
	if err != nil {
		return "", notFound(err)
	}
	return r.ID, nil
}

func (m *mobyAPI) ContainerStart(ctx context.Context, id string) error {
	_, err := m.c.ContainerStart(ctx, id, client.ContainerStartOptions{})
	return notFound(err)
}

func (m *mobyAPI) ContainerInspect(ctx context.Context, id string) (containerInfo, error) {
	r, err := m.c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return containerInfo{}, notFound(err)
	}
	c := r.Container
	info := containerInfo{ID: c.ID, HostPorts: map[int32]int{}}
	if c.State != nil {
		info.Running = c.State.Running
		info.ExitCode = c.State.ExitCode
	}
	if c.Config != nil {
		info.Labels = c.Config.Labels
	}
	if c.NetworkSettings != nil {
		for port, bs := range c.NetworkSettings.Ports {
			if port.Proto() != network.TCP {
				continue
			}
			for _, b := range bs {
				if b.HostIP.IsValid() && !b.HostIP.IsLoopback() {
					continue
				}
				if hp, err := strconv.Atoi(b.HostPort); err == nil && hp > 0 {
					info.HostPorts[int32(port.Num())] = hp
					break
				}
			}
		}
	}
	return info, nil
}

func (m *mobyAPI) ContainerStop(ctx context.Context, id string, timeoutSec int) error {
	_, err := m.c.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &timeoutSec})
	return notFound(err)
}

func (m *mobyAPI) ContainerKill(ctx context.Context, id, signal string) error {
	_, err := m.c.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: signal})
	return notFound(err)
}

func (m *mobyAPI) ContainerRemove(ctx context.Context, id string, force bool) error {
	_, err := m.c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: force, RemoveVolumes: true})
	return notFound(err)
}

func labelFilters(labels map[string]string) client.Filters {
	f := client.Filters{}
	for k, v := range labels {
		if v == "" {
			f.Add("label", k)
		} else {
			f.Add("label", k+"="+v)
		}
	}
	return f
}

func (m *mobyAPI) ContainerList(ctx context.Context, labels map[string]string) ([]containerSummary, error) {
	r, err := m.c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: labelFilters(labels)})
	if err != nil {
		return nil, err
	}
	out := make([]containerSummary, 0, len(r.Items))
	for _, c := range r.Items {
		name := ""
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		out = append(out, containerSummary{ID: c.ID, Name: name, State: string(c.State), Labels: c.Labels})
	}
	return out, nil
}

func (m *mobyAPI) Events(ctx context.Context, labels map[string]string) (<-chan event, <-chan error) {
	f := labelFilters(labels).Add("type", string(events.ContainerEventType))
	r := m.c.Events(ctx, client.EventsListOptions{Filters: f})
	out := make(chan event)
	errc := make(chan error, 1)
	go func() {
		defer close(out)
		for {
			select {
			case msg, ok := <-r.Messages:
				if !ok {
					errc <- errors.New("event stream closed")
					return
				}
				ev := event{ID: msg.Actor.ID, Action: string(msg.Action), Labels: msg.Actor.Attributes}
				if s, ok := msg.Actor.Attributes["exitCode"]; ok {
					ev.ExitCode, _ = strconv.Atoi(s)
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					errc <- ctx.Err()
					return
				}
			case err := <-r.Err:
				if err == nil {
					err = errors.New("event stream closed")
				}
				errc <- err
				return
			}
		}
	}()
	return out, errc
}

func (m *mobyAPI) Close() error { return m.c.Close() }
