package cluster

import (
	"fmt"

	"github.com/kubesim/kubesim/model/runtime"
)

// NodeRuntime is a node's container runtime as the cluster drives it: the kubelet's
// port (runtime.Runtime) plus what node and container faults need. The modeled
// runtime implements it; real-run mode passes an adapter over real containers
// through Options.NewRuntime. Faults a runtime cannot inject are found by type
// assertion on the optional interfaces below and fail with an error naming them.
type NodeRuntime interface {
	runtime.Runtime
	// Off reports whether the node is powered off (crashed).
	Off() bool
	// PowerOff crashes the node: every container dies at once, unreported.
	PowerOff()
	// ImageNames lists the images on the node's disk (kept over a crash).
	ImageNames() []string
	// RunningContainers returns the ids of a pod's running containers ("" container:
	// all of them).
	RunningContainers(namespace, pod, container string) []string
	// Crash kills a running container with exitCode, as a crash or `docker kill`.
	Crash(id string, exitCode int) error
}

// NewRuntimeFunc builds the container runtime of one node (Options.NewRuntime) of
// cluster c (its engine, registry and pod network are set). It runs on the engine
// goroutine while the cluster is built, and again when a crashed node is repaired.
type NewRuntimeFunc func(c *Cluster, part *NodePart) (NodeRuntime, error)

// ModeledRuntime is the default NewRuntimeFunc: the modeled, latency-driven Docker.
func ModeledRuntime(c *Cluster, p *NodePart) (NodeRuntime, error) {
	cfg := p.Runtime
	if p.SharedEngine && cfg.Parallelism > 0 {
		if c.daemon == nil {
			d, err := runtime.NewDaemon(c.Eng, cfg.Parallelism)
			if err != nil {
				return nil, err
			}
			c.daemon = d
		}
		cfg.Daemon = c.daemon
	}
	return runtime.NewModeled(c.Eng, p.Name, cfg, c.Fabric, c.Registry, c.tel)
}

// Optional runtime capabilities, asserted where a fault or an add-on needs them.
type (
	oomKiller  interface{ OOMKill(id string) error }
	pullFaults interface {
		FailPulls(image string)
		RestorePulls(image string)
	}
	neverReadySetter interface{ SetNeverReady(image string, bad bool) }
	statsSource      interface {
		Stats() []runtime.ContainerStats
	}
)

var (
	_ NodeRuntime      = (*runtime.Modeled)(nil)
	_ oomKiller        = (*runtime.Modeled)(nil)
	_ pullFaults       = (*runtime.Modeled)(nil)
	_ neverReadySetter = (*runtime.Modeled)(nil)
	_ statsSource      = (*runtime.Modeled)(nil)
)

// errUnsupported is the error of a fault the node's runtime cannot inject.
func errUnsupported(what string, rt NodeRuntime) error {
	return fmt.Errorf("%s is not supported by the runtime of this run (%T); it needs the modeled runtime", what, rt)
}
