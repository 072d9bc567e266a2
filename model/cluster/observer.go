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

	// Research metrics: binds and batch work's span (per-node usage for nodes in
	// use, stranded resources and GPUs is in frag).
	firstPod   sim.Time
	lastBind   sim.Time
	binds      int
	batchStart sim.Time
	batchEnd   sim.Time
	batchDone  int

	// Fragmentation and stranded resources (fragmentation.go); pods marked
	// unschedulable; the running sums of the sampled research gauges (their
	// time averages, samples being evenly spaced).
	frag              *fragTracker
	podsUnschedulable int
	means             map[string]*[2]float64 // name -> {sum, samples}
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
	o := &observer{c: c, every: every, deploys: map[string][2]int64{}, readyOn: map[api.NodeName]int{}, down: map[api.NodeName]bool{},
		firstPod: -1, batchStart: -1,
		frag: newFragTracker(), means: map[string]*[2]float64{}}
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
		o.research(ev)
	}
	o.fragEvent(ev)
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
			if c := x.Condition(api.PodScheduled); c != nil && c.Status == api.ConditionFalse && c.Reason == "Unschedulable" {
				o.podsUnschedulable += sign
			}
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

// research tracks binds and batch work from committed pod writes.
func (o *observer) research(ev etcd.Event) {
	p, ok := ev.KV.Value.(*api.Pod)
	if !ok {
		return
	}
	now := o.c.Eng.Now()
	if ev.PrevKV == nil && o.firstPod < 0 {
		o.firstPod = now
	}
	batch := false
	for i := range p.Spec.Containers {
		batch = batch || p.Spec.Containers[i].RunDuration > 0
	}
	if batch && ev.PrevKV == nil && o.batchStart < 0 {
		o.batchStart = now
	}
	if ev.PrevKV == nil {
		return
	}
	old := ev.PrevKV.Value.(*api.Pod)
	if old.Spec.NodeName == "" && p.Spec.NodeName != "" {
		o.binds++
		o.lastBind = now
	}
	if batch && old.Status.Phase != api.PodSucceeded && p.Status.Phase == api.PodSucceeded {
		o.batchDone++
		o.batchEnd = now
	}
}

// sampleResearch reports nodes in use, pods marked unschedulable, stranded CPU
// and memory, GPU allocation and GPU fragmentation (fragmentation.go defines the
// last three), and adds every research gauge to its running mean.
func (o *observer) sampleResearch(t sim.Time) {
	fs := o.frag.sample()
	cpuAlloc, memAlloc, gpuCap, gpuUsed := fs.cpuAlloc, fs.memAlloc, fs.gpuCap, fs.gpuUsed
	o.gauge("nodes_in_use", t, float64(fs.nodesInUse))
	o.gauge("pods_unschedulable", t, float64(o.podsUnschedulable))
	if cpuAlloc > 0 {
		o.gauge("stranded_cpu", t, float64(fs.strandedCPU)/float64(cpuAlloc))
	}
	if memAlloc > 0 {
		o.gauge("stranded_memory", t, float64(fs.strandedMem)/float64(memAlloc))
	}
	if gpuCap > 0 {
		o.gauge("cluster_gpu_allocated", t, float64(gpuUsed)/float64(gpuCap))
		o.gauge("gpu_fragmented_gpus", t, fs.fragmented/1000)
		rate := 0.0
		if fs.freeGPU > 0 {
			rate = fs.fragmented / float64(fs.freeGPU)
		}
		o.gauge("gpu_fragmentation_rate", t, rate)
	}
}

// gauge reports a research gauge and adds it to its mean.
func (o *observer) gauge(name string, t sim.Time, v float64) {
	o.c.tel.Gauge(name, t, v)
	m := o.means[name]
	if m == nil {
		m = &[2]float64{}
		o.means[name] = m
	}
	m[0] += v
	m[1]++
}

// fragEvent feeds the fragmentation tracker.
func (o *observer) fragEvent(ev etcd.Event) {
	var old, cur api.Object
	if ev.PrevKV != nil {
		old = ev.PrevKV.Value.(api.Object)
	}
	if ev.Type == etcd.Put {
		cur = ev.KV.Value.(api.Object)
	}
	switch x := firstNonNil(cur, old).(type) {
	case *api.Pod:
		op, _ := old.(*api.Pod)
		cp, _ := cur.(*api.Pod)
		if op == nil && cp != nil {
			o.frag.podCreated(cp)
		}
		o.frag.podChanged(op, cp)
	case *api.Node:
		if cur == nil {
			o.frag.nodeChanged(x.Name, nil, true)
		} else {
			o.frag.nodeChanged(x.Name, &x.Status.Allocatable, false)
		}
	}
}

func firstNonNil(a, b api.Object) api.Object {
	if a != nil {
		return a
	}
	return b
}

// Research returns run-level research values: scheduling throughput (pods bound
// per second from the first pod's creation to the last bind) and the makespan of
// batch work (first batch pod created to last one succeeded), with their counts.
func (c *Cluster) Research() map[string]float64 {
	o := c.observer
	out := map[string]float64{"pods_bound_total": float64(o.binds)}
	if o.binds > 0 && o.lastBind > o.firstPod {
		out["scheduling_throughput_pods_per_s"] = float64(o.binds) / o.lastBind.Sub(o.firstPod).Seconds()
	}
	if o.batchDone > 0 {
		out["batch_pods_succeeded"] = float64(o.batchDone)
		out["makespan_s"] = o.batchEnd.Sub(o.batchStart).Seconds()
	}
	// Time averages of the sampled research gauges (evenly spaced samples).
	for name, m := range o.means {
		if m[1] > 0 {
			out[name+"_mean"] = m[0] / m[1]
		}
	}
	st := c.Scheduler.Stats()
	out["preemptions"] = float64(st.Preemptions)
	out["preemption_victims"] = float64(st.PreemptionVictims)
	if st.NoProfileSeen > 0 {
		// Pods whose schedulerName names no profile of the scheduler: they are
		// not its pods and stay Pending (pending now, and seen in the run).
		out["pods_pending_no_scheduler_profile"] = float64(st.NoProfilePending)
		out["pods_no_scheduler_profile_total"] = float64(st.NoProfileSeen)
	}
	return out
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
	o.gauge("pods_unscheduled", t, float64(o.podsPending))
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
	o.gauge("cluster_cpu_allocated", t, cpu)
	o.gauge("cluster_memory_allocated", t, mem)
	tel.Gauge("etcd_revision", t, float64(o.c.Store.Revision()))
	o.sampleResearch(t)
}
