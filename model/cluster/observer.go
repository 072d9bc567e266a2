package cluster

import (
	"time"

	"github.com/kubesim/kubesim/sim"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/etcd"
)

// observer keeps cluster-wide counts current from etcd's own watch (no apiserver
// request, so no random draw and no effect on the modeled components) and reports
// them as gauges once per period: the time series of the run.
type observer struct {
	c     *Cluster
	every time.Duration

	podsRunning, podsPending, podsReady int
	cpuReq, memReq                      int64
	cpuAlloc, memAlloc                  int64
	nodesReady                          int
	replicasReady, replicasDesired      int64
	deploys                             map[string][2]int64
	dirty                               bool

	// Recovery tracking: ready pods owned by a controller, per node, and the nodes a
	// fault took down; "effective" readiness ignores pods on down nodes, whose Ready
	// condition the API may still show.
	readyOn     map[api.NodeName]int
	readyOwned  int
	down        map[api.NodeName]bool
	desiredSets int64 // StatefulSet replicas
	degraded    bool
	periods     []Period
	faults      []*FaultRecord
}

// Period is a span of virtual time (End 0: to the end of the run).
type Period struct{ Start, End sim.Time }

// FaultRecord is one injected fault and when the cluster recovered from it: the
// first moment after it when the fault is repaired or the degradation it caused has
// ended, and every workload has its desired replicas ready on healthy nodes.
type FaultRecord struct {
	Name, Kind, Target string
	At, RepairedAt     sim.Time
	RecoveredAt        sim.Time
	sawDegraded        bool
}

func newObserver(c *Cluster, every time.Duration) *observer {
	o := &observer{c: c, every: every, deploys: map[string][2]int64{}, readyOn: map[api.NodeName]int{}, down: map[api.NodeName]bool{}}
	for _, k := range []api.Kind{api.KindPod, api.KindNode, api.KindDeployment, api.KindStatefulSet} {
		if _, err := c.Store.Watch(api.KindPrefix(k), 0, o.onEvent); err != nil {
			panic(err) // a watch from "now" cannot fail
		}
	}
	c.Eng.After(every, o.tick)
	return o
}

func (o *observer) onEvent(ev etcd.Event) {
	if ev.PrevKV != nil {
		o.account(ev.PrevKV.Value.(api.Object), -1)
	}
	if ev.Type == etcd.Put {
		o.account(ev.KV.Value.(api.Object), +1)
	}
	o.dirty = true
	o.evaluate()
}

func (o *observer) account(obj api.Object, sign int) {
	switch x := obj.(type) {
	case *api.Pod:
		if x.IsTerminal() {
			return
		}
		switch {
		case x.Status.Phase == api.PodRunning:
			o.podsRunning += sign
		case x.Spec.NodeName == "":
			o.podsPending += sign
		}
		if x.IsReady() {
			o.podsReady += sign
			if x.ControllerRef() != nil && x.DeletionTimestamp == nil {
				o.readyOwned += sign
				o.readyOn[x.Spec.NodeName] += sign
			}
		}
		if x.Spec.NodeName != "" {
			r := x.Requests()
			o.cpuReq += int64(sign) * r.MilliCPU
			o.memReq += int64(sign) * r.Memory
		}
	case *api.Node:
		o.cpuAlloc += int64(sign) * x.Status.Allocatable.MilliCPU
		o.memAlloc += int64(sign) * x.Status.Allocatable.Memory
		if x.IsReady() {
			o.nodesReady += sign
		}
	case *api.Deployment:
		o.replicasReady += int64(sign) * int64(x.Status.ReadyReplicas)
		o.replicasDesired += int64(sign) * int64(x.Spec.Replicas)
	case *api.StatefulSet:
		o.desiredSets += int64(sign) * int64(x.Spec.Replicas)
	}
}

// effectiveReady counts ready controller-owned pods not on a node a fault took down.
func (o *observer) effectiveReady() int64 {
	n := o.readyOwned
	for node, d := range o.down {
		if d {
			n -= o.readyOn[node]
		}
	}
	return int64(n)
}

// evaluate updates the degradation periods and the faults' recovery times.
func (o *observer) evaluate() {
	now := o.c.Eng.Now()
	desired := o.replicasDesired + o.desiredSets
	degraded := desired > 0 && o.effectiveReady() < desired
	switch {
	case degraded && !o.degraded:
		o.periods = append(o.periods, Period{Start: now})
		for _, f := range o.faults {
			if f.RecoveredAt == 0 {
				f.sawDegraded = true
			}
		}
	case !degraded && o.degraded:
		o.periods[len(o.periods)-1].End = now
	}
	o.degraded = degraded
	if degraded {
		return
	}
	for _, f := range o.faults {
		if f.RecoveredAt == 0 && (f.RepairedAt > 0 || f.sawDegraded) {
			f.RecoveredAt = now
		}
	}
}

// noteFault records an injected fault; noteRepair its repair; setNodeDown marks a
// node's pods as not serving (crash) or serving again.
func (o *observer) noteFault(name, kind, target string) *FaultRecord {
	f := &FaultRecord{Name: name, Kind: kind, Target: target, At: o.c.Eng.Now()}
	o.faults = append(o.faults, f)
	o.evaluate()
	if o.degraded {
		f.sawDegraded = true
	}
	return f
}

func (o *observer) noteRepair(f *FaultRecord) {
	if f.RepairedAt == 0 {
		f.RepairedAt = o.c.Eng.Now()
	}
	o.evaluate()
}

func (o *observer) setNodeDown(node string, down bool) {
	if down {
		o.down[api.NodeName(node)] = true
	} else {
		delete(o.down, api.NodeName(node))
	}
	o.evaluate()
}

func (o *observer) tick() {
	o.sample()
	o.c.Eng.After(o.every, o.tick)
}

func (o *observer) sample() {
	t := o.c.Eng.Now()
	tel := o.c.tel
	tel.Gauge("pods_running", t, float64(o.podsRunning))
	tel.Gauge("pods_ready", t, float64(o.podsReady))
	tel.Gauge("pods_unscheduled", t, float64(o.podsPending))
	tel.Gauge("nodes_ready", t, float64(o.nodesReady))
	tel.Gauge("replicas_ready", t, float64(o.replicasReady))
	tel.Gauge("replicas_desired", t, float64(o.replicasDesired))
	cpu, mem := 0.0, 0.0
	if o.cpuAlloc > 0 {
		cpu = float64(o.cpuReq) / float64(o.cpuAlloc)
	}
	if o.memAlloc > 0 {
		mem = float64(o.memReq) / float64(o.memAlloc)
	}
	tel.Gauge("cluster_cpu_allocated", t, cpu)
	tel.Gauge("cluster_memory_allocated", t, mem)
	tel.Gauge("etcd_revision", t, float64(o.c.Store.Revision()))
}
