package main

import (
	"sort"
	"time"

	"github.com/kubesim/kubesim/model/cluster"
	"github.com/kubesim/kubesim/model/runtime"
	"github.com/kubesim/kubesim/model/runtime/docker"
	"github.com/kubesim/kubesim/results"
	"github.com/kubesim/kubesim/sim"
)

// realNode is one modeled node's runtime in real-run mode: the Docker adapter's
// node runtime, plus what node and container faults need (cluster.NodeRuntime).
// It runs on the engine goroutine only: every callback of the adapter arrives
// through the wall-clock driver's inbox.
type realNode struct {
	*docker.NodeRuntime
	eng    *docker.Engine
	off    bool
	ctrs   map[string]*realCtr
	onExit func(id string, code int)
	// present records the images the kubelet found already in the engine's store.
	present func(ref string)
}

type realCtr struct {
	ns, pod, name string
	running       bool
}

var (
	_ cluster.NodeRuntime = (*realNode)(nil)
	_ runtime.Prober      = (*realNode)(nil)
)

func newRealNode(e *docker.Engine, node string, present func(string)) *realNode {
	n := &realNode{NodeRuntime: e.NodeRuntime(node), eng: e, ctrs: map[string]*realCtr{}, present: present}
	n.NodeRuntime.SetExitHandler(n.exited)
	return n
}

// HasImage implements runtime.Runtime and notes present images (calibration).
func (n *realNode) HasImage(ref string) bool {
	ok := n.NodeRuntime.HasImage(ref)
	if ok && n.present != nil {
		n.present(ref)
	}
	return ok
}

// CreateContainer implements runtime.Runtime, remembering the container's pod.
func (n *realNode) CreateContainer(spec runtime.ContainerSpec, done func(string, error)) {
	n.NodeRuntime.CreateContainer(spec, func(id string, err error) {
		if err == nil {
			n.ctrs[id] = &realCtr{ns: spec.Namespace, pod: spec.PodName, name: spec.Name}
		}
		if done != nil {
			done(id, err)
		}
	})
}

// StartContainer implements runtime.Runtime.
func (n *realNode) StartContainer(id string, done func(error)) {
	n.NodeRuntime.StartContainer(id, func(err error) {
		if c := n.ctrs[id]; c != nil && err == nil {
			c.running = true
		}
		if done != nil {
			done(err)
		}
	})
}

// StopContainer implements runtime.Runtime.
func (n *realNode) StopContainer(id string, grace time.Duration, done func(error)) {
	if c := n.ctrs[id]; c != nil {
		c.running = false
	}
	n.NodeRuntime.StopContainer(id, grace, done)
}

// RemoveContainer implements runtime.Runtime.
func (n *realNode) RemoveContainer(id string, done func(error)) {
	n.NodeRuntime.RemoveContainer(id, func(err error) {
		if err == nil {
			delete(n.ctrs, id)
		}
		if done != nil {
			done(err)
		}
	})
}

// SetExitHandler implements runtime.Runtime.
func (n *realNode) SetExitHandler(fn func(id string, exitCode int)) { n.onExit = fn }

// exited receives the adapter's exit reports: a crashed node reports nothing (its
// kubelet is gone, as in the model).
func (n *realNode) exited(id string, code int) {
	if c := n.ctrs[id]; c != nil {
		c.running = false
	}
	if n.off || n.onExit == nil {
		return
	}
	n.onExit(id, code)
}

// Off implements cluster.NodeRuntime.
func (n *realNode) Off() bool { return n.off }

// PowerOff implements cluster.NodeRuntime: every container of the node is killed
// (SIGKILL through the engine); the exits are not reported.
func (n *realNode) PowerOff() {
	n.off = true
	for _, c := range n.ctrs {
		c.running = false
	}
	n.eng.KillNode(n.Node(), nil)
}

// ImageNames implements cluster.NodeRuntime.
func (n *realNode) ImageNames() []string {
	var out []string
	for _, im := range n.Images() {
		out = append(out, im.Names[0])
	}
	return out
}

// RunningContainers implements cluster.NodeRuntime.
func (n *realNode) RunningContainers(ns, pod, container string) []string {
	var out []string
	for id, c := range n.ctrs {
		if c.running && c.ns == ns && c.pod == pod && (container == "" || c.name == container) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// Crash implements cluster.NodeRuntime: `docker kill` (SIGKILL); the engine's
// event stream reports the exit (code 137) to the kubelet, which restarts the
// container with its back-off. The exit code asked for is not settable in Docker.
func (n *realNode) Crash(id string, _ int) error {
	if c := n.ctrs[id]; c == nil || !c.running {
		return runtime.ErrNoSuchContainer
	}
	n.eng.KillContainer(id, nil)
	return nil
}

// timedRuntime measures the runtime calls of the kubelet in engine time (call to
// completion), under the same sample names in simulation and in real runs, so the
// two compare: in real runs engine time is the wall clock. It forwards the
// readiness answer (runtime.Prober) of the runtime it wraps.
type timedRuntime struct {
	cluster.NodeRuntime
	eng *sim.Engine
	s   *results.RunSamples
	log *engineLog
}

// engineLog keeps every container create and start of a run (all nodes), from
// call to completion: on a shared engine their overlaps give each operation's
// work (results.EngineWork), which kubesim calibrate fits.
type engineLog struct {
	ops []results.EngineOp
}

func (l *engineLog) add(kind int, t0, t1 sim.Time, err error) {
	if err != nil {
		kind = results.EngineOpFailed
	}
	l.ops = append(l.ops, results.EngineOp{Start: time.Duration(t0).Seconds(), End: time.Duration(t1).Seconds(), Kind: kind})
}

// record adds the logged operations to s, and their work at the parallelism
// fitted to them alone (for people: kubesim calibrate fits it again over all
// the runs it is given).
func (l *engineLog) record(s *results.RunSamples) {
	s.AddEngineOps(l.ops)
	p := results.FitEngineParallelism([][]results.EngineOp{l.ops})
	for name, w := range results.WorkSamples(l.ops, p) {
		s.Add(name, w...)
	}
}

func (t timedRuntime) since(name string, t0 sim.Time) {
	t.s.Add(name, t.eng.Now().Sub(t0).Seconds())
}

func (t timedRuntime) PullImage(ref string, done func(error)) {
	t0 := t.eng.Now()
	t.NodeRuntime.PullImage(ref, func(err error) {
		if err == nil {
			t.since(results.SampleRuntimePull, t0)
		}
		if done != nil {
			done(err)
		}
	})
}

func (t timedRuntime) CreateContainer(spec runtime.ContainerSpec, done func(string, error)) {
	t0 := t.eng.Now()
	t.NodeRuntime.CreateContainer(spec, func(id string, err error) {
		t.log.add(results.EngineOpCreate, t0, t.eng.Now(), err)
		if err == nil {
			t.since(results.SampleRuntimeCreate, t0)
		}
		if done != nil {
			done(id, err)
		}
	})
}

func (t timedRuntime) StartContainer(id string, done func(error)) {
	t0 := t.eng.Now()
	t.NodeRuntime.StartContainer(id, func(err error) {
		t.log.add(results.EngineOpStart, t0, t.eng.Now(), err)
		if err == nil {
			t.since(results.SampleRuntimeStart, t0)
		}
		if done != nil {
			done(err)
		}
	})
}

func (t timedRuntime) ProbeReady(id string) bool {
	if p, ok := t.NodeRuntime.(runtime.Prober); ok {
		return p.ProbeReady(id)
	}
	return true
}

// timedModeled is timedRuntime over the modeled runtime: it keeps every method of
// *runtime.Modeled (OOM kills, pull faults, never-ready images, statistics), so
// a simulated twin supports every fault and add-on a plain simulation does.
type timedModeled struct {
	*runtime.Modeled
	t timedRuntime
}

func (m timedModeled) PullImage(ref string, done func(error)) { m.t.PullImage(ref, done) }
func (m timedModeled) CreateContainer(spec runtime.ContainerSpec, done func(string, error)) {
	m.t.CreateContainer(spec, done)
}
func (m timedModeled) StartContainer(id string, done func(error)) { m.t.StartContainer(id, done) }

// timed wraps a runtime factory (nil: the modeled runtime) with timedRuntime; the
// log gets the container operations of every node.
func timed(f cluster.NewRuntimeFunc, s *results.RunSamples) (cluster.NewRuntimeFunc, *engineLog) {
	if f == nil {
		f = cluster.ModeledRuntime
	}
	log := &engineLog{}
	return func(c *cluster.Cluster, p *cluster.NodePart) (cluster.NodeRuntime, error) {
		rt, err := f(c, p)
		if err != nil {
			return nil, err
		}
		t := timedRuntime{NodeRuntime: rt, eng: c.Eng, s: s, log: log}
		if m, ok := rt.(*runtime.Modeled); ok {
			return timedModeled{Modeled: m, t: t}, nil
		}
		return t, nil
	}, log
}
