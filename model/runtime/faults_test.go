package runtime

import (
	"errors"
	"testing"
	"time"

	"github.com/kubesim/kubesim/sim"
)

// TestFailPulls: while pulls of an image fail, a pull ends with ErrPullFailed after
// the overhead (nothing is transferred) and other images pull normally; after
// RestorePulls the pull succeeds.
func TestFailPulls(t *testing.T) {
	eng, m, _, _ := newModeled(t, constCfg())
	m.FailPulls("web:1")
	if !m.PullsFail("web:1") || m.PullsFail("big:1") {
		t.Fatal("PullsFail")
	}
	var webErr, bigErr error
	var webAt sim.Time
	m.PullImage("web:1", func(err error) { webErr, webAt = err, eng.Now() })
	m.PullImage("big:1", func(err error) { bigErr = err })
	eng.Run()
	if !errors.Is(webErr, ErrPullFailed) || webAt != sim.Time(time.Second) || m.HasImage("web:1") {
		t.Fatalf("failing pull: %v at %v (present %v)", webErr, webAt, m.HasImage("web:1"))
	}
	if bigErr != nil || !m.HasImage("big:1") {
		t.Fatalf("other image: %v", bigErr)
	}
	m.RestorePulls("web:1")
	webErr = errors.New("not called")
	m.PullImage("web:1", func(err error) { webErr = err })
	eng.Run()
	if webErr != nil || !m.HasImage("web:1") {
		t.Fatalf("after restore: %v", webErr)
	}
}

// TestNeverReady: a bad version's container runs but never listens and never
// passes a probe; a good one does.
func TestNeverReady(t *testing.T) {
	tests := []struct {
		name, image string
		bad         bool
		wantReady   bool
	}{
		{"serving image, good", "web:1", false, true},
		{"serving image, bad version", "web:1", true, false},
		{"non-serving image, bad version", "big:1", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng, m, fab, _ := newModeled(t, constCfg())
			m.PullImage(tc.image, nil)
			eng.Run()
			m.SetNeverReady(tc.image, tc.bad)
			id := started(t, eng, m, tc.image, "10.244.1.2")
			eng.RunUntil(eng.Now().Add(10 * time.Second))
			if st, _, _ := m.ContainerState(id); st != StateRunning {
				t.Fatalf("state %v, want running", st)
			}
			if got := m.ProbeReady(id); got != tc.wantReady {
				t.Fatalf("ready %v, want %v", got, tc.wantReady)
			}
			if tc.image == "web:1" && (fab.Len() == 1) != tc.wantReady {
				t.Fatalf("listening addresses %d", fab.Len())
			}
		})
	}
}

// TestPowerOff: every running container dies without an exit report, its address
// stops listening, and the engine refuses later creates and starts.
func TestPowerOff(t *testing.T) {
	eng, m, fab, tel := newModeled(t, constCfg())
	exits := 0
	m.SetExitHandler(func(string, int) { exits++ })
	m.PullImage("web:1", nil)
	eng.Run()
	id := started(t, eng, m, "web:1", "10.244.1.2")
	eng.RunUntil(eng.Now().Add(time.Second))
	if fab.Len() != 1 {
		t.Fatal("not listening before the crash")
	}
	var createErr error
	m.CreateContainer(ContainerSpec{PodUID: "u2", PodName: "q", Namespace: "default", Name: "c", Image: "web:1"}, func(_ string, err error) { createErr = err })
	m.PowerOff()
	m.PowerOff() // idempotent
	eng.Run()
	if st, code, _ := m.ContainerState(id); st != StateExited || code != 137 || exits != 0 {
		t.Fatalf("after power-off: %v code %d, %d exits reported", st, code, exits)
	}
	if fab.Len() != 0 || m.ProbeReady(id) {
		t.Fatal("the pod address still listens")
	}
	if !errors.Is(createErr, ErrRuntimeDown) || !m.Off() {
		t.Fatalf("create on a crashed node: %v", createErr)
	}
	if len(tel.actions("power-off")) != 1 {
		t.Fatal("no power-off record")
	}
	if got := m.ImageNames(); len(got) != 2 || got[0] != "pause:3.10" || got[1] != "web:1" {
		t.Fatalf("images on disk %v", got)
	}
}
