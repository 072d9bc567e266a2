// Package runtime is the container-runtime port the kubelet talks to, and its modeled
// implementation: a latency-driven Docker engine with a per-node image cache, a
// serialized pull queue, container create/start/stop/remove, and the serving model of
// a started container (an nginx-like process listening in the pod network fabric).
//
// The port is small and CRI-like (reference §4; the CRI's PullImage, CreateContainer,
// StartContainer, StopContainer, RemoveContainer). Every call is asynchronous: its
// done callback runs later as an engine event. A later issue adds a real Docker
// adapter behind the same interface, so the interface carries no model-only
// assumption: latencies, the catalogue and the serving model belong to Modeled.
package runtime

import (
	"errors"
	"time"

	"github.com/kubesim/kubesim/model/api"
)

// Runtime is what the kubelet needs of a container runtime. All calls are
// asynchronous: done runs on the engine later, never inside the call; a nil done is
// allowed. Operations on
// one container must not overlap (the kubelet serializes them, as its pod worker
// does); operations on different containers and pulls may.
type Runtime interface {
	// HasImage reports whether the image (normalized with ":latest" when it has no
	// tag) is in the node's image store now.
	HasImage(ref string) bool
	// PullImage pulls ref from its registry. Pulls are serialized per node by default
	// (reference §4: serializeImagePulls true); concurrent pulls of one ref share one
	// transfer, as dockerd does.
	PullImage(ref string, done func(err error))
	// CreateContainer creates (but does not start) a container; the image must be
	// present. done gets the new container's id.
	CreateContainer(spec ContainerSpec, done func(id string, err error))
	// StartContainer starts a created container's main process.
	StartContainer(id string, done func(err error))
	// StopContainer sends the stop signal, waits up to grace for the process to exit,
	// then kills it. Stopping a container that is not running succeeds at once.
	StopContainer(id string, grace time.Duration, done func(err error))
	// RemoveContainer deletes a container that is not running.
	RemoveContainer(id string, done func(err error))
	// SetExitHandler registers fn for container exits that nobody asked for (the
	// process ended by itself, crashed or was killed); StopContainer's exits are not
	// reported. fn runs on the engine.
	SetExitHandler(fn func(id string, exitCode int))
	// Images lists the images present, for the node status: largest first, ties by
	// name (deterministic). The caller owns the returned slice.
	Images() []api.ContainerImage
}

// Prober is implemented by runtimes that can answer a container's readiness probe
// themselves. The modeled runtime answers as a TCP-socket probe of the serving
// process would: success once the process listens on its port in the pod network.
// The kubelet type-asserts the runtime; without Prober a probe succeeds while the
// container runs.
type Prober interface {
	// ProbeReady reports whether a readiness probe of container id succeeds now.
	ProbeReady(id string) bool
}

// ContainerSpec is what CreateContainer needs: which pod the container belongs to,
// its image, the pod's IP (assigned by the pod sandbox's network) and its ports and
// resources.
type ContainerSpec struct {
	PodUID             api.UID
	PodName, Namespace string
	Name, Image, PodIP string
	Ports              []api.ContainerPort
	Requests, Limits   api.Resources
	// RunDuration, when positive, makes the process exit with code 0 that long
	// after it starts (api.Container.RunDuration).
	RunDuration time.Duration
}

// Errors returned by runtimes (wrapped with details; compare with errors.Is).
var (
	// ErrImageNotFound: the registry does not have the image (a pull fails).
	ErrImageNotFound = errors.New("manifest unknown")
	// ErrNoSuchImage: create was asked for an image that is not in the image store.
	ErrNoSuchImage = errors.New("no such image")
	// ErrNoSuchContainer: the id names no container.
	ErrNoSuchContainer = errors.New("no such container")
	// ErrContainerState: the container is in the wrong state for the operation
	// (start of a container that is not freshly created, removal of a running one).
	ErrContainerState = errors.New("container is in the wrong state")
)
