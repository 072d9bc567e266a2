package cluster

import (
	"time"

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
}

func newObserver(c *Cluster, every time.Duration) *observer {
	o := &observer{c: c, every: every, deploys: map[string][2]int64{}}
	for _, k := range []api.Kind{api.KindPod, api.KindNode, api.KindDeployment} {
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
	}
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
