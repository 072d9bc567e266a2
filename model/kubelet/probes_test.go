package kubelet

import (
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/runtime"
	"github.com/kubesim/kubesim/sim"
)

// probeImages adds "hang:1" (runs but never listens) and "slowweb:1" (listens 25 s
// after its start) to the test runtime, both preloaded.
func probeImages(_ *Config, rc *runtime.ModeledConfig) {
	hang := *runtime.NginxServe()
	hang.ReadyAfter = dist.Const(10 * time.Hour)
	slow := *runtime.NginxServe()
	slow.ReadyAfter = dist.Const(25 * time.Second)
	rc.Images = append(rc.Images,
		runtime.ImageSpec{Name: "hang:1", SizeBytes: 1_000_000, Serve: &hang},
		runtime.ImageSpec{Name: "slowweb:1", SizeBytes: 1_000_000, Serve: &slow})
	rc.Preloaded = append(rc.Preloaded, "hang:1", "slowweb:1", "nginx:1.27")
}

func killTimes(e *env, admit sim.Time, kind string) []time.Duration {
	var out []time.Duration
	for _, r := range e.tel.find("kubelet/", "probe", "pod/default/p") {
		if strings.HasPrefix(r.Detail, kind+" probe") && strings.Contains(r.Detail, "killing the container") {
			out = append(out, r.Time.Sub(admit))
		}
	}
	return out
}

func TestLivenessAndStartupProbes(t *testing.T) {
	tests := []struct {
		name      string
		image     string
		policy    api.RestartPolicy
		liveness  *api.Probe
		startup   *api.Probe
		run       time.Duration
		wantKills map[string][]time.Duration // probe kind -> kill times after admission
		restarts  int32
		readyAt   time.Duration // 0: never ready
	}{
		{
			name: "liveness fails: killed after 3 failures, restarted with CrashLoopBackOff", image: "hang:1",
			liveness: &api.Probe{PeriodSeconds: 5}, run: 60 * time.Second,
			// ticks every 5 s from admission: 5, 10, 15 → kill; restart at once
			// (first restart), 20, 25, 30 → kill; back-off 10 s, restart at 40.1,
			// 45, 50, 55 → kill.
			wantKills: map[string][]time.Duration{"liveness": {15 * time.Second, 30 * time.Second, 55 * time.Second}},
			restarts:  2,
		},
		{
			name: "liveness fails, restart policy Never: killed once", image: "hang:1", policy: api.RestartNever,
			liveness: &api.Probe{PeriodSeconds: 5, FailureThreshold: 2}, run: 60 * time.Second,
			wantKills: map[string][]time.Duration{"liveness": {10 * time.Second}},
		},
		{
			name: "healthy liveness: never killed", image: "nginx:1.27",
			liveness: &api.Probe{PeriodSeconds: 5, FailureThreshold: 1, InitialDelaySeconds: 1}, run: 60 * time.Second,
			readyAt: sandboxLat + createLat + startLat + syncLat,
		},
		{
			name: "startup probe delays a strict liveness probe", image: "slowweb:1",
			startup:  &api.Probe{PeriodSeconds: 10, FailureThreshold: 6},
			liveness: &api.Probe{PeriodSeconds: 5, FailureThreshold: 1}, run: 90 * time.Second,
			readyAt: 30 * time.Second, // first startup tick after it listens (25.45 s)
		},
		{
			name: "without the startup probe the strict liveness probe kills it", image: "slowweb:1",
			liveness: &api.Probe{PeriodSeconds: 5, FailureThreshold: 1}, run: 12 * time.Second,
			wantKills: map[string][]time.Duration{"liveness": {5 * time.Second, 10 * time.Second}},
			restarts:  1,
		},
		{
			name: "startup probe fails: killed after failureThreshold × period", image: "hang:1",
			startup:  &api.Probe{PeriodSeconds: 5, FailureThreshold: 3},
			liveness: &api.Probe{PeriodSeconds: 1, FailureThreshold: 1}, run: 20 * time.Second,
			wantKills: map[string][]time.Duration{"startup": {15 * time.Second}},
			restarts:  1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1, probeImages)
			e.create(t, nginxPod("p", func(p *api.Pod) {
				p.Spec.Containers[0].Image = tc.image
				p.Spec.Containers[0].LivenessProbe = tc.liveness
				p.Spec.Containers[0].StartupProbe = tc.startup
				p.Spec.RestartPolicy = tc.policy
			}))
			e.run(tc.run)
			admit := e.tel.find("kubelet/", "admit", "")[0].Time
			for _, kind := range []string{"liveness", "startup"} {
				got, want := killTimes(e, admit, kind), tc.wantKills[kind]
				if len(got) != len(want) {
					t.Fatalf("%s kills at %v, want %v", kind, got, want)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Errorf("%s kill %d at %v, want %v", kind, i+1, got[i], want[i])
					}
				}
			}
			p := e.pod("p")
			cs := p.Status.ContainerStatuses[0]
			if cs.RestartCount != tc.restarts {
				t.Errorf("restartCount %d, want %d", cs.RestartCount, tc.restarts)
			}
			if tc.policy == api.RestartNever && p.Status.Phase != api.PodFailed {
				t.Errorf("phase %s, want Failed", p.Status.Phase)
			}
			c := p.Condition(api.PodReady)
			if tc.readyAt == 0 {
				if c != nil && c.Status == api.ConditionTrue {
					t.Errorf("ready, want never ready")
				}
				return
			}
			if c == nil || c.Status != api.ConditionTrue {
				t.Fatalf("not ready: %+v", p.Status)
			}
			if got := c.LastTransitionTime.Sub(admit); got < tc.readyAt || got > tc.readyAt+5*time.Millisecond {
				t.Errorf("ready %v after admission, want %v", got, tc.readyAt)
			}
			if !cs.Started {
				t.Errorf("container not started: %+v", cs)
			}
		})
	}
}

// TestStartedWaitsForStartupProbe: before its startup probe succeeds a running
// container reports started=false and is not ready.
func TestStartedWaitsForStartupProbe(t *testing.T) {
	e := newEnv(t, 1, probeImages)
	e.create(t, nginxPod("p", func(p *api.Pod) {
		p.Spec.Containers[0].Image = "slowweb:1"
		p.Spec.Containers[0].StartupProbe = &api.Probe{PeriodSeconds: 10, FailureThreshold: 6}
	}))
	e.run(20 * time.Second)
	cs := e.pod("p").Status.ContainerStatuses[0]
	if cs.State != api.ContainerRunning || cs.Started || cs.Ready {
		t.Fatalf("before the startup probe succeeded: %+v", cs)
	}
	e.run(20 * time.Second)
	cs = e.pod("p").Status.ContainerStatuses[0]
	if !cs.Started || !cs.Ready {
		t.Fatalf("after the startup probe succeeded: %+v", cs)
	}
}
