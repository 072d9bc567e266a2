package job

import (
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/sim"
)

type recorder struct{ records []sim.Record }

func (r *recorder) Trace(rec sim.Record)              { r.records = append(r.records, rec) }
func (r *recorder) Observe(string, sim.Time, float64) {}
func (r *recorder) Gauge(string, sim.Time, float64)   {}

type stack struct {
	eng   *sim.Engine
	admin *apiserver.Client
	tel   *recorder
}

// newStack is etcd, the apiserver and a started Job controller; tests play the
// kubelet by writing pod phases.
func newStack(t *testing.T) *stack {
	t.Helper()
	eng := sim.New(3)
	reg := dist.NewRegistry()
	st, err := etcd.New(eng, etcd.DefaultConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	tel := &recorder{}
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, tel)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(eng, srv.Client("controller-manager", 0, 0), DefaultConfig(), reg, tel)
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	return &stack{eng: eng, admin: srv.Client("admin", 0, 0), tel: tel}
}

func (s *stack) run(d time.Duration) { s.eng.RunUntil(s.eng.Now().Add(d)) }

func (s *stack) job(t *testing.T, name string) *api.Job {
	t.Helper()
	var out *api.Job
	s.admin.Get(api.KindJob, "default", name, func(o api.Object, err error) {
		if err != nil {
			t.Fatal(err)
		}
		out = o.(*api.Job)
	})
	s.run(100 * time.Millisecond)
	return out
}

// activePods lists the Job's pods that are neither finished nor being deleted.
func (s *stack) activePods(t *testing.T) []*api.Pod {
	t.Helper()
	var out []*api.Pod
	s.admin.List(api.KindPod, apiserver.ListOptions{}, func(objs []api.Object, err error) {
		for _, o := range objs {
			p := o.(*api.Pod)
			if !p.IsTerminal() && p.DeletionTimestamp == nil {
				out = append(out, p)
			}
		}
	})
	s.run(100 * time.Millisecond)
	return out
}

func (s *stack) finish(t *testing.T, p *api.Pod, phase api.PodPhase) {
	t.Helper()
	q := p.DeepCopy()
	q.Status.Phase = phase
	s.admin.UpdateStatus(q, func(_ api.Object, err error) {
		if err != nil {
			t.Errorf("update %s: %v", p.Name, err)
		}
	})
	s.run(time.Second)
}

func newJob(name string, completions, parallelism, backoff int32) *api.Job {
	return &api.Job{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"},
		Spec: api.JobSpec{Completions: completions, Parallelism: parallelism, BackoffLimit: &backoff,
			Template: api.PodTemplateSpec{Labels: map[string]string{"app": name},
				Spec: api.PodSpec{RestartPolicy: api.RestartNever, Containers: []api.Container{{Name: "c", Image: "busybox"}}}}}}
}

func TestJobCompletions(t *testing.T) {
	s := newStack(t)
	s.admin.Create(newJob("work", 5, 2, 6), nil)
	s.run(2 * time.Second)
	for done := 0; done < 5; {
		act := s.activePods(t)
		want := min(2, 5-done)
		if len(act) != want {
			t.Fatalf("after %d completions: %d active pods, want %d", done, len(act), want)
		}
		p := act[0]
		if p.Labels[LabelJobName] != "work" || p.Labels["app"] != "work" || p.ControllerRef() == nil || p.ControllerRef().Kind != api.KindJob {
			t.Fatalf("pod %s labels %v owner %v", p.Name, p.Labels, p.OwnerReferences)
		}
		if j := s.job(t, "work"); j.Status.Active != int32(want) || j.Status.Succeeded != int32(done) || j.Status.StartTime == nil {
			t.Fatalf("status %+v, want active %d succeeded %d", j.Status, want, done)
		}
		s.finish(t, p, api.PodSucceeded)
		done++
		s.run(time.Second)
	}
	j := s.job(t, "work")
	if j.Status.Succeeded != 5 || j.Status.Active != 0 || j.Status.CompletionTime == nil || j.Status.Failed != 0 {
		t.Fatalf("final status %+v", j.Status)
	}
	if n := len(s.activePods(t)); n != 0 {
		t.Fatalf("%d pods active after completion", n)
	}
	if !hasAction(s.tel, "job-complete") {
		t.Error("no job-complete record")
	}
}

// An unset backoffLimit is defaulted to 6 by the apiserver, as upstream.
func TestJobBackoffLimitDefault(t *testing.T) {
	s := newStack(t)
	j := newJob("defaulted", 1, 1, 0)
	j.Spec.BackoffLimit = nil
	s.admin.Create(j, nil)
	s.run(time.Second)
	if got := s.job(t, "defaulted").Spec.BackoffLimit; got == nil || *got != 6 {
		t.Errorf("stored backoffLimit %v, want 6", got)
	}
}

func TestJobBackoffLimit(t *testing.T) {
	tests := []struct {
		name     string
		backoff  int32
		failures int
		failed   bool
	}{
		{"within limit", 2, 2, false},
		{"exceeds limit", 1, 2, true},
		// backoffLimit 0 is kept (not defaulted to 6): the first failure fails it.
		{"backoffLimit 0", 0, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			s.admin.Create(newJob("flaky", 1, 1, tc.backoff), nil)
			s.run(2 * time.Second)
			var first sim.Time
			for i := 0; i < tc.failures; i++ {
				act := s.activePods(t)
				if len(act) != 1 {
					t.Fatalf("failure %d: %d active pods, want 1", i, len(act))
				}
				if i == 1 && act[0].CreationTimestamp < first.Add(10*time.Second) {
					t.Errorf("replacement after the first failure created at %v, want >= %v (10 s backoff)", act[0].CreationTimestamp, first.Add(10*time.Second))
				}
				first = s.eng.Now()
				s.finish(t, act[0], api.PodFailed)
				s.run(30 * time.Second)
			}
			j := s.job(t, "flaky")
			if j.Status.Failed != int32(tc.failures) {
				t.Errorf("failed = %d, want %d", j.Status.Failed, tc.failures)
			}
			if got := hasAction(s.tel, "job-failed"); got != tc.failed {
				t.Errorf("job-failed record %v, want %v", got, tc.failed)
			}
			wantActive := 1
			if tc.failed {
				wantActive = 0
			}
			if n := len(s.activePods(t)); n != wantActive || j.Status.Active != int32(wantActive) {
				t.Errorf("%d active pods, status active %d; want %d", n, j.Status.Active, wantActive)
			}
			if j.Status.CompletionTime != nil {
				t.Error("a failed or running Job has a completion time")
			}
		})
	}
}

func TestJobDeleteCascades(t *testing.T) {
	s := newStack(t)
	s.admin.Create(newJob("gone", 3, 3, 6), nil)
	s.run(2 * time.Second)
	if n := len(s.activePods(t)); n != 3 {
		t.Fatalf("%d active, want 3", n)
	}
	s.admin.Delete(api.KindJob, "default", "gone", apiserver.DeleteOptions{}, nil)
	s.run(2 * time.Second)
	if n := len(s.activePods(t)); n != 0 {
		t.Fatalf("%d pods left after the Job was deleted", n)
	}
}

func hasAction(r *recorder, action string) bool {
	for _, rec := range r.records {
		if rec.Component == Component && rec.Action == action {
			return true
		}
	}
	return false
}
