// Package job models kube-controller-manager's Job controller (batch/v1;
// pkg/controller/job/job_controller.go, backoff_utils.go).
//
// For each Job it keeps min(parallelism, completions − succeeded) active pods
// (job_controller.go manageJob, wantActive), creating missing pods in slow-start
// batches (1, 2, 4, …; at most 500 per sync, MaxPodCreateDeletePerSync) and
// deleting surplus ones; it counts each finished pod once (Succeeded or Failed
// phase, or, as with pod tracking finalizers, a pod deleted before it finished
// counts as failed) and writes status active / succeeded / failed / startTime /
// completionTime. The Job fails when failed pods exceed backoffLimit, or, for
// restartPolicy OnFailure, when the restarts of its active pods reach it
// (pastBackoffLimitOnFailure); its active pods are then deleted. A Job is
// complete when succeeded reaches completions. After a pod failure, new pods wait
// 10 s × 2^(failures since the last success − 1), at most 6 min
// (DefaultJobPodFailureBackOff, MaxJobPodFailureBackOff; backoff_utils.go).
//
// Pods get the template's labels plus batch.kubernetes.io/job-name,
// batch.kubernetes.io/controller-uid and the legacy job-name / controller-uid,
// and a controller owner reference to the Job.
//
// Simplifications: NonIndexed completion mode only (no Indexed Jobs, no
// activeDeadlineSeconds, suspend, podFailurePolicy, successPolicy, TTL after
// finished or Job conditions: the API models none of them; the trace records say
// Complete or Failed); pods are counted by UID in controller memory instead of
// through finalizers and uncountedTerminatedPods; one serial worker; pod names are
// drawn by the controller ("<job>-<5 chars>" from the stream
// "controller/job/names"); deleting a Job deletes its pods (standing in for the
// garbage collector); pods the controller itself deletes (surplus, or at the
// Job's end) are not counted as failed.
package job

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/controller/manager/informers"
	"github.com/kubesim/kubesim/model/controller/manager/workqueue"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

// Component is the trace component name.
const Component = "controller-manager/job"

// Labels the controller puts on a Job's pods (k8s.io/api/batch/v1 types.go).
const (
	LabelJobName             = "batch.kubernetes.io/job-name"
	LabelControllerUID       = "batch.kubernetes.io/controller-uid"
	LegacyLabelJobName       = "job-name"
	LegacyLabelControllerUID = "controller-uid"
)

const nameAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// Config configures the controller.
type Config struct {
	// SyncLatency is the time from a Job's pickup off the work queue to its sync's
	// decisions. A model parameter.
	SyncLatency dist.Spec
	// MaxPodCreateDeletePerSync caps the creations or deletions of one sync (500).
	MaxPodCreateDeletePerSync int
	// PodFailureBackOff and MaxPodFailureBackOff delay new pods after failures
	// (10 s and 6 min upstream).
	PodFailureBackOff, MaxPodFailureBackOff time.Duration
	// CascadeDelete deletes the pods of a deleted Job, as the garbage collector would.
	CascadeDelete bool
}

// DefaultConfig returns upstream's values and a 1 ms median sync latency.
func DefaultConfig() Config {
	return Config{
		SyncLatency:               dist.LogNormal(time.Millisecond, 0.5),
		MaxPodCreateDeletePerSync: 500,
		PodFailureBackOff:         10 * time.Second,
		MaxPodFailureBackOff:      6 * time.Minute,
		CascadeDelete:             true,
	}
}

// Validate checks the configuration; messages name the field.
func (c *Config) Validate(reg *dist.Registry) error {
	if err := reg.Validate(c.SyncLatency); err != nil {
		return fmt.Errorf("syncLatency: %w", err)
	}
	switch {
	case c.MaxPodCreateDeletePerSync < 1:
		return fmt.Errorf("maxPodCreateDeletePerSync: must be at least 1, got %d", c.MaxPodCreateDeletePerSync)
	case c.PodFailureBackOff < 0 || c.MaxPodFailureBackOff < c.PodFailureBackOff:
		return fmt.Errorf("podFailureBackOff: must be non-negative and at most maxPodFailureBackOff, got %v and %v", c.PodFailureBackOff, c.MaxPodFailureBackOff)
	}
	return nil
}

// jobState is what the controller tracks of one Job (by UID).
type jobState struct {
	pods              map[string]*api.Pod // current pods by name
	counted           map[api.UID]bool    // finished pods already counted
	succeeded, failed int32
	// failuresAfterSuccess and lastFailure drive the pod failure backoff.
	failuresAfterSuccess int
	lastFailure          sim.Time
	// pendingCreates are creations issued but not yet seen (expectations).
	pendingCreates int
	deleting       map[string]bool // pods this controller is deleting
	finished       bool
	startTime      *sim.Time
	completionTime *sim.Time
	written        api.JobStatus
	wroteOnce      bool
}

// Controller is the Job controller.
type Controller struct {
	eng            *sim.Engine
	client, step0  *apiserver.Client
	cfg            Config
	tel            sim.Telemetry
	factory        *informers.Factory
	jobInf, podInf *apiserver.Informer
	queue          *workqueue.Queue
	names          *rand.Rand
	jobs           map[api.UID]*jobState
	started        bool
}

// New returns a controller that talks to the apiserver through client.
func New(eng *sim.Engine, client *apiserver.Client, cfg Config, reg *dist.Registry, tel sim.Telemetry) (*Controller, error) {
	if err := cfg.Validate(reg); err != nil {
		return nil, fmt.Errorf("job controller: %w", err)
	}
	if tel == nil {
		tel = sim.Discard
	}
	c := &Controller{eng: eng, client: client, step0: client.WithStep(0), cfg: cfg, tel: tel,
		names: eng.Stream("controller/job/names"), jobs: map[api.UID]*jobState{}}
	c.queue = workqueue.New(eng, reg.MustNew(cfg.SyncLatency, eng.Source("controller/job/sync")), c.sync, workqueue.DefaultOptions())
	return c, nil
}

// UseInformers makes Start take its informers from a shared factory (call before
// Start). Without it Start creates a private factory.
func (c *Controller) UseInformers(f *informers.Factory) { c.factory = f }

// Start starts the informers (Jobs, Pods); the work queue runs once they synced.
func (c *Controller) Start() {
	if c.started {
		return
	}
	c.started = true
	if c.factory == nil {
		c.factory = informers.NewFactory(c.client)
	}
	c.jobInf = c.factory.Informer(api.KindJob, apiserver.Handlers{
		OnAdd:    func(o api.Object) { c.queue.Add(keyOf(o)) },
		OnUpdate: func(_, o api.Object) { c.queue.Add(keyOf(o)) },
		OnDelete: c.onJobDelete,
	})
	c.podInf = c.factory.Informer(api.KindPod, apiserver.Handlers{
		OnAdd:    func(o api.Object) { c.onPod(nil, o.(*api.Pod)) },
		OnUpdate: func(old, o api.Object) { c.onPod(old.(*api.Pod), o.(*api.Pod)) },
		OnDelete: func(o api.Object) { c.onPodDelete(o.(*api.Pod)) },
	})
	informers.WhenSynced(c.queue.Start, c.jobInf, c.podInf)
}

func keyOf(o api.Object) string { m := o.Meta(); return m.Namespace + "/" + m.Name }

func jobRef(p *api.Pod) *api.OwnerReference {
	ref := p.ControllerRef()
	if ref == nil || ref.Kind != api.KindJob {
		return nil
	}
	return ref
}

func (c *Controller) state(uid api.UID) *jobState {
	st := c.jobs[uid]
	if st == nil {
		st = &jobState{pods: map[string]*api.Pod{}, counted: map[api.UID]bool{}, deleting: map[string]bool{}}
		c.jobs[uid] = st
	}
	return st
}

func (c *Controller) onPod(old, p *api.Pod) {
	ref := jobRef(p)
	if ref == nil {
		return
	}
	st := c.state(ref.UID)
	if old == nil && st.pendingCreates > 0 {
		st.pendingCreates--
	}
	st.pods[p.Name] = p
	c.count(st, p)
	c.queue.Add(p.Namespace + "/" + ref.Name)
}

// count counts a finished pod once.
func (c *Controller) count(st *jobState, p *api.Pod) {
	if st.counted[p.UID] {
		return
	}
	switch p.Status.Phase {
	case api.PodSucceeded:
		st.counted[p.UID] = true
		st.succeeded++
		st.failuresAfterSuccess = 0
	case api.PodFailed:
		st.counted[p.UID] = true
		st.failed++
		st.failuresAfterSuccess++
		st.lastFailure = c.eng.Now()
	}
}

func (c *Controller) onPodDelete(p *api.Pod) {
	ref := jobRef(p)
	if ref == nil {
		return
	}
	st := c.jobs[ref.UID]
	if st == nil {
		return
	}
	delete(st.pods, p.Name)
	c.count(st, p)
	if !st.counted[p.UID] && !st.deleting[p.Name] && !st.finished {
		// Deleted before it finished: counted as failed (tracking with finalizers).
		st.counted[p.UID] = true
		st.failed++
		st.failuresAfterSuccess++
		st.lastFailure = c.eng.Now()
	}
	delete(st.deleting, p.Name)
	c.queue.Add(p.Namespace + "/" + ref.Name)
}

func (c *Controller) onJobDelete(o api.Object) {
	j := o.(*api.Job)
	st := c.jobs[j.UID]
	delete(c.jobs, j.UID)
	if st == nil || !c.cfg.CascadeDelete {
		return
	}
	for _, name := range slices.Sorted(maps.Keys(st.pods)) {
		p := st.pods[name]
		if p.DeletionTimestamp != nil {
			continue
		}
		c.tel.Trace(sim.Record{Time: c.eng.Now(), Component: Component, Action: "delete-pod", Object: api.Ref(p),
			Detail: fmt.Sprintf("deletes pod %s/%s: its Job %s was deleted (background cascading deletion, as the garbage collector does)", p.Namespace, p.Name, j.Name)})
		c.step0.Delete(api.KindPod, p.Namespace, p.Name, apiserver.DeleteOptions{UID: p.UID}, nil)
	}
}

// active returns the Job's active pods (not finished, not being deleted), by name.
func active(st *jobState) []*api.Pod {
	var out []*api.Pod
	for _, p := range st.pods {
		if !p.IsTerminal() && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *api.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// sync reconciles one Job (job_controller.go syncJob).
func (c *Controller) sync(key string) {
	ns, name, _ := strings.Cut(key, "/")
	o, ok := c.jobInf.Get(ns, name)
	if !ok {
		c.queue.Done(key, nil)
		return
	}
	j := o.(*api.Job)
	st := c.state(j.UID)
	now := c.eng.Now()
	if st.startTime == nil {
		if j.Status.StartTime != nil {
			t := *j.Status.StartTime
			st.startTime = &t
		} else {
			st.startTime = &now
		}
	}
	if j.Status.CompletionTime != nil || st.finished {
		st.finished = true
		if st.completionTime == nil && j.Status.CompletionTime != nil {
			t := *j.Status.CompletionTime
			st.completionTime = &t
		}
		c.writeStatus(key, j, st, nil)
		return
	}
	act := active(st)
	// Failure: failed > backoffLimit, or OnFailure restarts reach it.
	why := ""
	limit := j.Spec.Backoff()
	if st.failed > limit {
		why = fmt.Sprintf("%d failed pods > backoffLimit %d", st.failed, limit)
	} else if j.Spec.Template.Spec.RestartPolicy == api.RestartOnFailure {
		var restarts int32
		for _, p := range act {
			for _, cs := range p.Status.ContainerStatuses {
				restarts += cs.RestartCount
			}
		}
		// pastBackoffLimitOnFailure: with backoffLimit 0 any restart fails the Job.
		if restarts > 0 && restarts >= limit {
			why = fmt.Sprintf("%d container restarts of active pods >= backoffLimit %d (restartPolicy OnFailure)", restarts, limit)
		}
	}
	if why != "" {
		st.finished = true
		c.tel.Trace(sim.Record{Time: now, Component: Component, Action: "job-failed", Object: api.Ref(j),
			Detail: fmt.Sprintf("Job %s failed (BackoffLimitExceeded): %s; deletes its %d active pods", j.Name, why, len(act))})
		c.deletePods(st, act, "the Job failed")
		c.writeStatus(key, j, st, nil)
		return
	}
	if st.succeeded >= j.Spec.Completions {
		st.finished = true
		c.tel.Trace(sim.Record{Time: now, Component: Component, Action: "job-complete", Object: api.Ref(j),
			Detail: fmt.Sprintf("Job %s complete: %d of %d completions succeeded (%d failed)", j.Name, st.succeeded, j.Spec.Completions, st.failed)})
		c.deletePods(st, act, "the Job is complete")
		st.completionTime = &now
		c.writeStatus(key, j, st, nil)
		return
	}
	if st.pendingCreates > 0 {
		c.writeStatus(key, j, st, act)
		return
	}
	want := max(min(j.Spec.Parallelism, j.Spec.Completions-st.succeeded), 0)
	diff := int(want) - len(act)
	switch {
	case diff > 0:
		if st.failuresAfterSuccess > 0 {
			d := c.cfg.PodFailureBackOff << (st.failuresAfterSuccess - 1)
			if d > c.cfg.MaxPodFailureBackOff || d <= 0 {
				d = c.cfg.MaxPodFailureBackOff
			}
			if until := st.lastFailure.Add(d); until > now {
				c.queue.AddAfter(key, until.Sub(now))
				c.writeStatus(key, j, st, act)
				return
			}
		}
		n := min(diff, c.cfg.MaxPodCreateDeletePerSync)
		c.createPods(key, j, st, n, len(act))
	case diff < 0:
		n := min(-diff, c.cfg.MaxPodCreateDeletePerSync)
		// Surplus: the newest pods go first (a simplification of
		// ActivePodsWithRanks, enough for a parallelism decrease).
		victims := slices.Clone(act)
		slices.SortStableFunc(victims, func(a, b *api.Pod) int { return int(b.CreationTimestamp - a.CreationTimestamp) })
		c.deletePods(st, victims[:n], fmt.Sprintf("%d active > %d wanted", len(act), want))
		c.writeStatus(key, j, st, act[:len(act)-n])
	default:
		c.writeStatus(key, j, st, act)
	}
}

// createPods creates n pods in slow-start batches, then writes the status.
func (c *Controller) createPods(key string, j *api.Job, st *jobState, n, nActive int) {
	st.pendingCreates += n
	batch, created, failed := 1, 0, 0
	var next func()
	next = func() {
		size := min(batch, n-created-failed)
		if size <= 0 || failed > 0 {
			st.pendingCreates -= n - created - failed // skipped ones will never be seen
			c.writeStatus(key, j, st, nil)
			return
		}
		left := size
		for i := 0; i < size; i++ {
			p := c.podFor(j)
			c.tel.Trace(sim.Record{Time: c.eng.Now(), Component: Component, Action: "create-pod", Object: api.Ref(p),
				Detail: fmt.Sprintf("creates pod %s/%s for Job %s (%d active, %d succeeded of %d completions, parallelism %d)",
					p.Namespace, p.Name, j.Name, nActive, st.succeeded, j.Spec.Completions, j.Spec.Parallelism)})
			c.step0.Create(p, func(_ api.Object, err error) {
				if err != nil {
					failed++
					st.pendingCreates--
					c.tel.Trace(sim.Record{Time: c.eng.Now(), Component: Component, Action: "create-pod-failed", Object: api.Ref(p),
						Detail: fmt.Sprintf("creating the pod failed: %v; retried at the next sync", err)})
				} else {
					created++
				}
				if left--; left == 0 {
					batch *= 2
					next()
				}
			})
		}
	}
	next()
}

func (c *Controller) podFor(j *api.Job) *api.Pod {
	labels := maps.Clone(j.Spec.Template.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelJobName], labels[LegacyLabelJobName] = j.Name, j.Name
	labels[LabelControllerUID], labels[LegacyLabelControllerUID] = string(j.UID), string(j.UID)
	prefix := j.Name + "-"
	if len(prefix) > 58 {
		prefix = prefix[:58]
	}
	var b strings.Builder
	b.WriteString(prefix)
	for i := 0; i < 5; i++ {
		b.WriteByte(nameAlphabet[c.names.IntN(len(nameAlphabet))])
	}
	p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: b.String(), Namespace: j.Namespace, Labels: labels,
		Annotations:     maps.Clone(j.Spec.Template.Annotations),
		OwnerReferences: []api.OwnerReference{{Kind: api.KindJob, Name: j.Name, UID: j.UID, Controller: true}}}}
	p.Spec = (&api.Pod{Spec: j.Spec.Template.Spec}).DeepCopy().Spec
	return p
}

func (c *Controller) deletePods(st *jobState, pods []*api.Pod, why string) {
	for _, p := range pods {
		st.deleting[p.Name] = true
		c.tel.Trace(sim.Record{Time: c.eng.Now(), Component: Component, Action: "delete-pod", Object: api.Ref(p),
			Detail: fmt.Sprintf("deletes pod %s/%s: %s", p.Namespace, p.Name, why)})
		c.step0.Delete(api.KindPod, p.Namespace, p.Name, apiserver.DeleteOptions{UID: p.UID}, nil)
	}
}

// writeStatus writes the status when it changed and ends the sync. act nil means
// "recount the active pods now".
func (c *Controller) writeStatus(key string, j *api.Job, st *jobState, act []*api.Pod) {
	if act == nil {
		act = active(st)
	}
	s := api.JobStatus{Active: int32(len(act)), Succeeded: st.succeeded, Failed: st.failed, StartTime: st.startTime,
		CompletionTime: st.completionTime}
	if st.finished {
		s.Active = 0
	}
	if st.wroteOnce && sameStatus(s, st.written) || !st.wroteOnce && sameStatus(s, j.Status) {
		c.queue.Done(key, nil)
		return
	}
	obj := &api.Job{ObjectMeta: api.ObjectMeta{Name: j.Name, Namespace: j.Namespace}, Status: s}
	c.step0.UpdateStatus(obj, func(_ api.Object, err error) {
		if err == nil {
			st.written, st.wroteOnce = s, true
			c.tel.Trace(sim.Record{Time: c.eng.Now(), Component: Component, Action: "status", Object: api.Ref(j),
				Detail: fmt.Sprintf("status: %d active, %d succeeded, %d failed of %d completions", s.Active, s.Succeeded, s.Failed, j.Spec.Completions)})
		}
		c.queue.Done(key, err)
	})
}

func sameStatus(a, b api.JobStatus) bool {
	eq := func(x, y *sim.Time) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return a.Active == b.Active && a.Succeeded == b.Succeeded && a.Failed == b.Failed &&
		eq(a.StartTime, b.StartTime) && eq(a.CompletionTime, b.CompletionTime)
}
