package workload

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/sim"
)

// ReplayComponent is the trace component name of the replayer.
const ReplayComponent = "workload/replay"

// DefaultTraceImage is the image of replayed pods: the pause image, which every
// node has preloaded, so the replay measures scheduling and not image pulls.
const DefaultTraceImage = "registry.k8s.io/pause:3.10"

// Labels the replayer puts on its pods.
const (
	LabelWorkload = "kubesim.io/workload"
	LabelQoS      = "kubesim.io/qos"
)

// Priority classes of the trace's QoS classes. The trace gives no priorities; the
// model orders them as Kubernetes orders QoS (Guaranteed first, best effort last)
// with latency-sensitive work between Guaranteed and Burstable. A model choice.
const (
	PriorityClassGuaranteed = "alibaba-guaranteed"
	PriorityClassLS         = "alibaba-ls"
	PriorityClassBurstable  = "alibaba-burstable"
	PriorityClassBE         = "alibaba-be"
)

// AlibabaPriorityClasses returns the PriorityClasses trace pods name: Guaranteed
// 3000, LS 2000, Burstable 1000, BE 0; none is globalDefault; all may preempt.
func AlibabaPriorityClasses() []*api.PriorityClass {
	mk := func(name string, v int32) *api.PriorityClass {
		return &api.PriorityClass{ObjectMeta: api.ObjectMeta{Name: name}, Value: v, PreemptionPolicy: "PreemptLowerPriority"}
	}
	return []*api.PriorityClass{
		mk(PriorityClassGuaranteed, 3000), mk(PriorityClassLS, 2000), mk(PriorityClassBurstable, 1000), mk(PriorityClassBE, 0),
	}
}

// PriorityClassOf returns the PriorityClass name of a QoS class.
func PriorityClassOf(qos string) string {
	switch qos {
	case QoSGuaranteed:
		return PriorityClassGuaranteed
	case QoSLS:
		return PriorityClassLS
	case QoSBurstable:
		return PriorityClassBurstable
	}
	return PriorityClassBE
}

// ReplayOptions configure a trace replay.
type ReplayOptions struct {
	// TimeScale compresses time: every trace time and duration (creation times and
	// run durations, in seconds) is divided by it. 1 replays in real time; 86400
	// replays a trace day in a virtual second. Only the workload's times scale:
	// the control plane's latencies (etcd, apiserver, scheduling cycles, kubelet
	// start-up) do not, so with a large factor they become long relative to the
	// pods' lifetimes. Must be positive.
	TimeScale float64
	// Start is the virtual time of the trace's second 0.
	Start time.Duration
	// Namespace of the pods ("default").
	Namespace string
	// Image of the pods' single container (DefaultTraceImage).
	Image string
	// SchedulerName of the pods; "" leaves the apiserver's default.
	SchedulerName string
	// CreatePriorityClasses creates AlibabaPriorityClasses before the first pod
	// (a class that already exists is fine). Without it the classes must exist.
	CreatePriorityClasses bool
	// Limit replays only the first Limit pods by creation time (0 = all).
	Limit int
}

// DefaultReplayOptions returns real-time replay into "default" with the pause
// image, creating the priority classes.
func DefaultReplayOptions() ReplayOptions {
	return ReplayOptions{TimeScale: 1, Namespace: api.NamespaceDefault, Image: DefaultTraceImage, CreatePriorityClasses: true}
}

// Validate checks the options; messages name the field.
func (o *ReplayOptions) Validate() error {
	switch {
	case !(o.TimeScale > 0) || math.IsInf(o.TimeScale, 0):
		return fmt.Errorf("timeScale: must be positive, got %v", o.TimeScale)
	case o.Start < 0:
		return fmt.Errorf("start: must not be negative, got %v", o.Start)
	case o.Namespace == "":
		return fmt.Errorf("namespace: required")
	case o.Image == "":
		return fmt.Errorf("image: required")
	case o.Limit < 0:
		return fmt.Errorf("limit: must not be negative, got %d", o.Limit)
	}
	return nil
}

// Replay creates a trace's pods through an apiserver client at their (scaled)
// creation times. It keeps one pending engine event at a time: the next arrival.
type Replay struct {
	eng    *sim.Engine
	client *apiserver.Client
	pods   []AlibabaPod
	order  []int32 // indexes into pods by creation time (stable)
	opts   ReplayOptions
	tel    sim.Telemetry

	next            int
	started         bool
	created, failed int
	inflight        int
}

// NewReplay returns a replayer of pods (the caller must not modify the slice
// during the replay; rows are read when their pod is created). Call Start.
func NewReplay(eng *sim.Engine, client *apiserver.Client, pods []AlibabaPod, opts ReplayOptions, tel sim.Telemetry) (*Replay, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("trace replay: %w", err)
	}
	if tel == nil {
		tel = sim.Discard
	}
	order := make([]int32, len(pods))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		ta, tb := pods[a].CreationTime, pods[b].CreationTime
		switch {
		case ta < tb:
			return -1
		case ta > tb:
			return 1
		}
		return 0
	})
	if opts.Limit > 0 && opts.Limit < len(order) {
		order = order[:opts.Limit]
	}
	return &Replay{eng: eng, client: client, pods: pods, order: order, opts: opts, tel: tel}, nil
}

// Scale converts trace seconds to a virtual duration (divided by TimeScale).
func (r *Replay) Scale(seconds int64) time.Duration {
	return time.Duration(math.Round(float64(seconds) * float64(time.Second) / r.opts.TimeScale))
}

// ArrivalTime returns the virtual creation time of a trace row.
func (r *Replay) ArrivalTime(p *AlibabaPod) sim.Time {
	return sim.Time(r.opts.Start + r.Scale(p.CreationTime))
}

// Start creates the priority classes (when asked) and schedules the first arrival.
func (r *Replay) Start() {
	if r.started {
		return
	}
	r.started = true
	if !r.opts.CreatePriorityClasses {
		r.arm()
		return
	}
	pcs := AlibabaPriorityClasses()
	left := len(pcs)
	for _, pc := range pcs {
		r.client.Create(pc, func(_ api.Object, err error) {
			if err != nil && !apiserver.IsAlreadyExists(err) {
				r.tel.Trace(sim.Record{Time: r.eng.Now(), Component: ReplayComponent, Action: "create-priorityclass-failed",
					Object: api.Ref(pc), Detail: fmt.Sprintf("creating the priority class failed: %v", err)})
			}
			if left--; left == 0 {
				r.arm()
			}
		})
	}
}

// arm schedules the next arrival (at once when its time has passed).
func (r *Replay) arm() {
	if r.next >= len(r.order) {
		return
	}
	at := max(r.ArrivalTime(&r.pods[r.order[r.next]]), r.eng.Now())
	r.eng.At(at, r.arrive)
}

// arrive creates every pod due now, then arms the next arrival.
func (r *Replay) arrive() {
	now := r.eng.Now()
	for r.next < len(r.order) {
		p := &r.pods[r.order[r.next]]
		if r.ArrivalTime(p) > now {
			break
		}
		r.next++
		r.create(p)
	}
	r.arm()
}

func (r *Replay) create(p *AlibabaPod) {
	pod := r.PodOf(p)
	ref := api.Ref(pod)
	r.tel.Trace(sim.Record{Time: r.eng.Now(), Component: ReplayComponent, Action: "create-pod", Object: ref,
		Detail: fmt.Sprintf("trace pod created at trace second %d (qos %s, runs %ds of trace time)", p.CreationTime, p.QoS, p.RunSeconds())})
	r.inflight++
	r.client.Create(pod, func(_ api.Object, err error) {
		r.inflight--
		if err != nil {
			r.failed++
			r.tel.Trace(sim.Record{Time: r.eng.Now(), Component: ReplayComponent, Action: "create-pod-failed", Object: ref,
				Detail: fmt.Sprintf("creating the trace pod failed: %v", err)})
			return
		}
		r.created++
		r.tel.Gauge("workload_pods_created", r.eng.Now(), float64(r.created))
	})
}

// PodOf builds the pod of a trace row: one container with the row's requests,
// RunDuration = RunSeconds scaled (at least 1 ns: 0 would mean "runs until
// stopped"), restartPolicy Never (so it ends Succeeded: the trace's final phase is
// not replayed), the QoS's priority class, and, when gpu_spec lists models, a
// required node affinity In those models on api.LabelGPUModel.
func (r *Replay) PodOf(p *AlibabaPod) *api.Pod {
	req := p.Requests()
	run := max(r.Scale(p.RunSeconds()), time.Nanosecond)
	pod := &api.Pod{
		ObjectMeta: api.ObjectMeta{Name: p.Name, Namespace: r.opts.Namespace,
			Labels: map[string]string{LabelWorkload: "alibaba-trace", LabelQoS: p.QoS}},
		Spec: api.PodSpec{
			SchedulerName:     r.opts.SchedulerName,
			PriorityClassName: PriorityClassOf(p.QoS),
			RestartPolicy:     api.RestartNever,
			Containers: []api.Container{{Name: "main", Image: r.opts.Image, ImagePullPolicy: api.PullIfNotPresent,
				Requests: req, RunDuration: run}},
		},
	}
	if models := p.GPUModels(); len(models) > 0 {
		pod.Spec.Affinity = &api.Affinity{NodeAffinity: &api.NodeAffinity{Required: []api.NodeSelectorTerm{{
			MatchExpressions: []api.Requirement{{Key: api.LabelGPUModel, Operator: api.OpIn, Values: slices.Clone(models)}},
		}}}}
	}
	return pod
}

// Created returns how many pods were created; Failed how many creations failed.
func (r *Replay) Created() int { return r.created }

// Failed returns how many creations failed.
func (r *Replay) Failed() int { return r.failed }

// Total returns how many pods the replay creates.
func (r *Replay) Total() int { return len(r.order) }

// Done reports whether every creation was issued and answered.
func (r *Replay) Done() bool { return r.started && r.next >= len(r.order) && r.inflight == 0 }

// LastArrival returns the virtual time of the last creation (Start when empty).
func (r *Replay) LastArrival() sim.Time {
	if len(r.order) == 0 {
		return sim.Time(r.opts.Start)
	}
	return r.ArrivalTime(&r.pods[r.order[len(r.order)-1]])
}
