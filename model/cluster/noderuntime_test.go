package cluster

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/runtime"
	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/sim"
)

// countingRuntime wraps the modeled runtime and counts the kubelet's calls. It has
// only NodeRuntime's methods: the optional capabilities (OOM kill, pull faults,
// statistics) are hidden, as they are from a real runtime.
type countingRuntime struct {
	NodeRuntime
	creates, starts *int
}

func (r countingRuntime) CreateContainer(s runtime.ContainerSpec, done func(string, error)) {
	*r.creates++
	r.NodeRuntime.CreateContainer(s, done)
}

func (r countingRuntime) StartContainer(id string, done func(error)) {
	*r.starts++
	r.NodeRuntime.StartContainer(id, done)
}

// ProbeReady forwards the modeled readiness answer (the kubelet asserts
// runtime.Prober; without it a probe succeeds as soon as the container runs).
func (r countingRuntime) ProbeReady(id string) bool {
	return r.NodeRuntime.(runtime.Prober).ProbeReady(id)
}

func counting(built, creates, starts *int) NewRuntimeFunc {
	return func(c *Cluster, p *NodePart) (NodeRuntime, error) {
		*built++
		m, err := ModeledRuntime(c, p)
		if err != nil {
			return nil, err
		}
		return countingRuntime{m, creates, starts}, nil
	}
}

// TestNewRuntimeOption: a runtime factory replaces every node's runtime, the
// kubelets drive it through the port, and a run through a wrapper of the modeled
// runtime gives exactly the trace of the default.
func TestNewRuntimeOption(t *testing.T) {
	sc := nginx(t)
	run := func(opts Options) (*recorder, *Cluster) {
		rec := &recorder{}
		c, err := Build(sc, opts, rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Run(sim.Time(30 * time.Second)); err != nil {
			t.Fatal(err)
		}
		return rec, c
	}
	var built, creates, starts int
	base, cb := run(Options{Seed: 1})
	got, cg := run(Options{Seed: 1, NewRuntime: counting(&built, &creates, &starts)})
	if built != 3 || creates != 3 || starts != 3 {
		t.Fatalf("factory built %d runtimes; kubelets created %d and started %d containers; want 3 each", built, creates, starts)
	}
	if len(base.recs) != len(got.recs) {
		t.Fatalf("%d trace records with the wrapped runtime, %d with the default", len(got.recs), len(base.recs))
	}
	for i := range base.recs {
		if base.recs[i] != got.recs[i] {
			t.Fatalf("record %d differs:\n default %+v\n factory %+v", i, base.recs[i], got.recs[i])
		}
	}
	ready := func(c *Cluster) int32 { return c.Deployments()[0].Status.ReadyReplicas }
	if ready(cb) != 3 || ready(cg) != 3 {
		t.Errorf("ready replicas %d (default) and %d (factory), want 3", ready(cb), ready(cg))
	}
}

// TestUnsupportedRuntimeFault: a fault the runtime cannot inject fails with an
// error that names it; the ones of the NodeRuntime interface work.
func TestUnsupportedRuntimeFault(t *testing.T) {
	sc := nginx(t)
	var n int
	c, err := Build(sc, Options{Seed: 1, NewRuntime: counting(&n, &n, &n)}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(sim.Time(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	ft := NewFaultTarget(c)
	pods := ft.Pods("default", map[string]string{"app": "nginx"})
	if len(pods) == 0 {
		t.Fatal("no nginx pod at 20s")
	}
	if _, err := ft.OOMKillContainer(pods[0].Namespace, pods[0].Name, ""); err == nil || !strings.Contains(err.Error(), "an OOM kill is not supported") {
		t.Fatalf("OOM kill through a runtime without it: %v", err)
	}
	if err := ft.SetPullsFail("nginx:1.27", true); err == nil || !strings.Contains(err.Error(), "image pull failure") {
		t.Fatalf("pull failure through a runtime without it: %v", err)
	}
	if k, err := ft.CrashContainer(pods[0].Namespace, pods[0].Name, "", 137); err != nil || k != 1 {
		t.Fatalf("container crash through NodeRuntime.Crash: %d, %v", k, err)
	}
	if err := ft.CrashNode(pods[0].Node); err != nil {
		t.Fatalf("node crash through NodeRuntime.PowerOff: %v", err)
	}
}

// TestSharedEngineParallelism: with cluster.runtime.parallelism 1, the three nginx
// pods on three nodes start as fast as without it when each node has its own
// daemon, and slower when the nodes share one (cluster.runtime.sharedEngine), by
// the three-way sharing of their overlapping creates and starts.
func TestSharedEngineParallelism(t *testing.T) {
	startDone := func(parallelism float64, shared bool) []sim.Time {
		sc := nginx(t)
		start := scenario.Dist{Spec: dist.Const(time.Second)}
		sc.Cluster.Runtime.Start = &start
		sc.Cluster.Runtime.Parallelism = &parallelism
		sc.Cluster.Runtime.SharedEngine = &shared
		rec := &recorder{}
		c, err := Build(sc, Options{Seed: 1}, rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Run(sim.Time(30 * time.Second)); err != nil {
			t.Fatal(err)
		}
		var out []sim.Time
		for _, r := range rec.recs {
			if r.Action == "start" && strings.HasPrefix(r.Component, "docker/") {
				out = append(out, r.Time)
			}
		}
		if len(out) != 3 {
			t.Fatalf("%d container starts, want 3", len(out))
		}
		return out
	}
	last := func(v []sim.Time) sim.Time { return slices.Max(v) }
	none, own, shared := startDone(0, false), startDone(1, false), startDone(1, true)
	if !slices.Equal(none, own) {
		t.Errorf("a daemon per node of parallelism 1 changed one start per node: %v, without %v", own, none)
	}
	if d := last(shared) - last(none); d < sim.Time(time.Second) {
		t.Errorf("three starts of 1 s sharing one daemon ended %v after the unshared ones, want at least 1 s later", time.Duration(d))
	}
}
