package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
)

// Client is a connection to a Docker engine with a negotiated API version. It is
// safe for concurrent use.
type Client struct {
	api     engineAPI
	version string
	host    string
}

// ErrUnreachable marks a Docker engine that does not answer.
var ErrUnreachable = errors.New("docker engine unreachable")

// Dial connects to the Docker engine at host ("" means DOCKER_HOST, or the local
// unix socket /var/run/docker.sock) and negotiates the API version. An engine that
// does not answer is an ErrUnreachable error that says how to fix it.
func Dial(ctx context.Context, host string) (*Client, error) {
	a, err := newMobyAPI(host)
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	c, err := newClient(ctx, a, host)
	if err != nil {
		a.Close()
		return nil, err
	}
	return c, nil
}

func newClient(ctx context.Context, a engineAPI, host string) (*Client, error) {
	if host == "" {
		host = os.Getenv("DOCKER_HOST")
	}
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	v, err := a.Ping(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %v (is dockerd running and may this user use its socket? set DOCKER_HOST to use another engine)", ErrUnreachable, host, err)
	}
	return &Client{api: a, version: v, host: host}, nil
}

// APIVersion returns the negotiated API version.
func (c *Client) APIVersion() string { return c.version }

// Host returns the engine's address.
func (c *Client) Host() string { return c.host }

// Close closes the connection.
func (c *Client) Close() error { return c.api.Close() }

// HasImage reports whether a local image is in the engine's image store.
func (c *Client) HasImage(ctx context.Context, ref string) (bool, error) {
	_, err := c.api.ImageInspect(ctx, ref)
	if errors.Is(err, errNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Removed is a container removed by clean-up.
type Removed struct {
	ID, Name, Run, Pod, Node, State string
}

func (r Removed) String() string {
	return fmt.Sprintf("%s %s (run %s, pod %s, node %s, was %s)", shortID(r.ID), r.Name, r.Run, r.Pod, r.Node, r.State)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// RemoveRun force-removes every container of run runID (running ones are killed).
func (c *Client) RemoveRun(ctx context.Context, runID string) ([]Removed, error) {
	if err := ValidRunID(runID); err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	return c.GC(ctx, runID)
}

// GC force-removes every container kubesim created (label io.kubesim.managed=true),
// of run runID only when runID is not empty. A container without that label is
// never touched: the label is checked again on every listed container. The removed
// containers are returned sorted by run, then name; errors of single removals are
// joined.
func (c *Client) GC(ctx context.Context, runID string) ([]Removed, error) {
	sel := map[string]string{LabelManaged: "true"}
	if runID != "" {
		sel[LabelRun] = runID
	}
	list, err := c.api.ContainerList(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("docker: list kubesim containers: %w", err)
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.Labels[LabelRun] != b.Labels[LabelRun] {
			return a.Labels[LabelRun] < b.Labels[LabelRun]
		}
		return a.Name < b.Name
	})
	var removed []Removed
	var errs []error
	for _, s := range list {
		if s.Labels[LabelManaged] != "true" || (runID != "" && s.Labels[LabelRun] != runID) {
			continue // defence in depth: never remove what we did not create
		}
		err := c.api.ContainerRemove(ctx, s.ID, true)
		if err != nil && !errors.Is(err, errNotFound) {
			errs = append(errs, fmt.Errorf("remove %s (%s): %w", shortID(s.ID), s.Name, err))
			continue
		}
		if err == nil {
			removed = append(removed, Removed{ID: s.ID, Name: s.Name, Run: s.Labels[LabelRun], Pod: s.Labels[LabelPod], Node: s.Labels[LabelNode], State: s.State})
		}
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("docker: clean-up: %w", errors.Join(errs...))
	}
	return removed, nil
}

// ListManaged lists the containers kubesim created (of runID when not empty),
// sorted by run and name.
func (c *Client) ListManaged(ctx context.Context, runID string) ([]Removed, error) {
	sel := map[string]string{LabelManaged: "true"}
	if runID != "" {
		sel[LabelRun] = runID
	}
	list, err := c.api.ContainerList(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("docker: list kubesim containers: %w", err)
	}
	out := make([]Removed, 0, len(list))
	for _, s := range list {
		if s.Labels[LabelManaged] != "true" {
			continue
		}
		out = append(out, Removed{ID: s.ID, Name: s.Name, Run: s.Labels[LabelRun], Pod: s.Labels[LabelPod], Node: s.Labels[LabelNode], State: s.State})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Run != out[j].Run {
			return out[i].Run < out[j].Run
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}
