package runtime

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/network"
	"github.com/kubesim/kubesim/sim"
)

// recorder is a Telemetry that keeps everything, for assertions.
type recorder struct {
	records []sim.Record
	obs     map[string][]float64
}

func (r *recorder) Trace(rec sim.Record) { r.records = append(r.records, rec) }
func (r *recorder) Observe(m string, _ sim.Time, v float64) {
	if r.obs == nil {
		r.obs = map[string][]float64{}
	}
	r.obs[m] = append(r.obs[m], v)
}
func (r *recorder) Gauge(string, sim.Time, float64) {}

func (r *recorder) actions(action string) []sim.Record {
	var out []sim.Record
	for _, rec := range r.records {
		if rec.Action == action {
			out = append(out, rec)
		}
	}
	return out
}

// constCfg is a configuration with constant latencies, so times are exact.
func constCfg() ModeledConfig {
	c := DefaultModeledConfig()
	c.PullOverhead = dist.Const(time.Second)
	c.Create = dist.Const(10 * time.Millisecond)
	c.Start = dist.Const(20 * time.Millisecond)
	c.Stop = dist.Const(100 * time.Millisecond)
	c.Remove = dist.Const(5 * time.Millisecond)
	c.PullBandwidth = 50_000_000
	c.Images = []ImageSpec{
		{Name: "web:1", SizeBytes: 100_000_000, Serve: &ServeSpec{Port: 80, Workers: 2, QueueLimit: 1,
			ServiceTime: dist.Const(10 * time.Millisecond), ReadyAfter: dist.Const(50 * time.Millisecond)}},
		{Name: "big:1", SizeBytes: 200_000_000},
		{Name: "gone:1", SizeBytes: 1, Unavailable: true},
		{Name: "crash:1", SizeBytes: 1_000_000, Exit: &ExitSpec{After: dist.Const(3 * time.Second), Code: 2}},
		{Name: "pause:3.10", SizeBytes: 736_000},
	}
	c.Preloaded = []string{"pause:3.10"}
	c.DefaultImageSize = 25_000_000
	return c
}

func newModeled(t *testing.T, cfg ModeledConfig) (*sim.Engine, *Modeled, *network.Fabric, *recorder) {
	t.Helper()
	eng := sim.New(7)
	fab := network.New()
	tel := &recorder{}
	m, err := NewModeled(eng, "node-1", cfg, fab, dist.NewRegistry(), tel)
	if err != nil {
		t.Fatal(err)
	}
	return eng, m, fab, tel
}

func TestPullTime(t *testing.T) {
	tests := []struct {
		name    string
		ref     string
		want    time.Duration
		wantErr error
	}{
		{"catalogue image: overhead + size/bandwidth", "web:1", time.Second + 2*time.Second, nil},
		{"untagged name means :latest, unknown: default size", "other", time.Second + 500*time.Millisecond, nil},
		{"present image: manifest check only", "pause:3.10", time.Second, nil},
		{"unavailable image fails after the overhead", "gone:1", time.Second, ErrImageNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng, m, _, tel := newModeled(t, constCfg())
			var at sim.Time = -1
			var err error
			m.PullImage(tc.ref, func(e error) { at, err = eng.Now(), e })
			eng.Run()
			if at != sim.Time(tc.want) {
				t.Fatalf("pull done at %v, want %v", at, tc.want)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil {
				if !m.HasImage(tc.ref) {
					t.Fatalf("image %s not cached after pull", tc.ref)
				}
				if got := tel.obs["image_pull_seconds"]; len(got) != 1 || got[0] != tc.want.Seconds() {
					t.Fatalf("image_pull_seconds = %v, want [%v]", got, tc.want.Seconds())
				}
			} else if m.HasImage(tc.ref) {
				t.Fatalf("failed pull cached the image")
			}
			if n := len(tel.actions("pull")); n != 2 {
				t.Fatalf("%d pull records, want start and done", n)
			}
		})
	}
}

func TestPullsSerializedAndCoalesced(t *testing.T) {
	tests := []struct {
		name      string
		serialize bool
		refs      []string
		want      []time.Duration // completion time per pull, in call order
	}{
		{"serialized: FIFO, one at a time", true, []string{"web:1", "big:1"}, []time.Duration{3 * time.Second, 8 * time.Second}},
		{"parallel when not serialized", false, []string{"web:1", "big:1"}, []time.Duration{3 * time.Second, 5 * time.Second}},
		{"same ref joins the running pull", true, []string{"web:1", "web:1", "big:1"}, []time.Duration{3 * time.Second, 3 * time.Second, 8 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := constCfg()
			cfg.SerializeImagePulls = tc.serialize
			eng, m, _, tel := newModeled(t, cfg)
			got := make([]time.Duration, len(tc.refs))
			for i, ref := range tc.refs {
				m.PullImage(ref, func(err error) {
					if err != nil {
						t.Errorf("pull %s: %v", ref, err)
					}
					got[i] = eng.Now().Duration()
				})
			}
			if q := m.PullsQueued(); tc.serialize && q != 1 {
				t.Fatalf("queued behind the running pull = %d, want 1", q)
			}
			eng.Run()
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("completions %v, want %v", got, tc.want)
			}
			if n := len(tel.obs["image_pull_seconds"]); n != 2 {
				t.Fatalf("%d pulls observed, want 2 (one transfer per ref)", n)
			}
		})
	}
}

func TestImagesSortedBySize(t *testing.T) {
	eng, m, _, _ := newModeled(t, constCfg())
	m.PullImage("web:1", nil)
	m.PullImage("big:1", nil)
	m.PullImage("zzz", nil) // default size 25 MB
	m.PullImage("aaa", nil) // default size 25 MB
	eng.Run()
	var names []string
	for _, im := range m.Images() {
		names = append(names, fmt.Sprintf("%s=%d", im.Names[0], im.SizeBytes))
	}
	want := []string{"big:1=200000000", "web:1=100000000", "aaa:latest=25000000", "zzz:latest=25000000", "pause:3.10=736000"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("images %v, want %v", names, want)
	}
}

// started creates and starts a container of image at ip and runs the engine until
// it is started; it returns the id.
func started(t *testing.T, eng *sim.Engine, m *Modeled, image, ip string) string {
	t.Helper()
	var id string
	m.CreateContainer(ContainerSpec{PodUID: "u1", PodName: "p", Namespace: "default", Name: "c", Image: image, PodIP: ip}, func(got string, err error) {
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		id = got
		m.StartContainer(id, func(err error) {
			if err != nil {
				t.Fatalf("start: %v", err)
			}
		})
	})
	eng.RunUntil(eng.Now() + sim.Time(30*time.Millisecond))
	if st, _, _ := m.ContainerState(id); st != StateRunning {
		t.Fatalf("container %q is %v, want running", id, st)
	}
	return id
}

func TestContainerLifecycle(t *testing.T) {
	eng, m, fab, tel := newModeled(t, constCfg())
	// create needs the image
	var createErr error
	m.CreateContainer(ContainerSpec{Name: "c", Image: "web:1"}, func(_ string, err error) { createErr = err })
	eng.Run()
	if !errors.Is(createErr, ErrNoSuchImage) {
		t.Fatalf("create without image: %v", createErr)
	}
	m.PullImage("web:1", nil)
	eng.Run()
	id := started(t, eng, m, "web:1", "10.244.1.2")
	if m.ProbeReady(id) || fab.Len() != 0 {
		t.Fatalf("ready before ReadyAfter")
	}
	eng.RunUntil(eng.Now() + sim.Time(50*time.Millisecond))
	if _, ok := fab.Lookup("10.244.1.2:80"); !ok || !m.ProbeReady(id) {
		t.Fatalf("not listening after ReadyAfter")
	}
	var rmErr error
	m.RemoveContainer(id, func(err error) { rmErr = err })
	eng.Run()
	if !errors.Is(rmErr, ErrContainerState) {
		t.Fatalf("remove of a running container: %v", rmErr)
	}
	var stopAt sim.Time
	before := eng.Now()
	m.StopContainer(id, 30*time.Second, func(err error) {
		if err != nil {
			t.Errorf("stop: %v", err)
		}
		stopAt = eng.Now()
	})
	if _, ok := fab.Lookup("10.244.1.2:80"); ok {
		t.Fatalf("listener still open after the stop signal")
	}
	eng.Run()
	if st, code, _ := m.ContainerState(id); st != StateExited || code != 0 || stopAt.Sub(before) != 100*time.Millisecond {
		t.Fatalf("after stop: %v code %d in %v", st, code, stopAt.Sub(before))
	}
	m.RemoveContainer(id, func(err error) { rmErr = err })
	eng.Run()
	if rmErr != nil || m.Containers() != 0 {
		t.Fatalf("remove: %v, %d containers left", rmErr, m.Containers())
	}
	for _, a := range []string{"pull", "create", "start", "listen", "stop", "remove"} {
		if len(tel.actions(a)) == 0 {
			t.Errorf("no %q trace record", a)
		}
	}
	for _, r := range tel.records {
		if r.Component != "docker/node-1" {
			t.Fatalf("component %q", r.Component)
		}
	}
}

func TestStopGraceKills(t *testing.T) {
	eng, m, _, _ := newModeled(t, constCfg())
	m.PullImage("big:1", nil)
	eng.Run()
	id := started(t, eng, m, "big:1", "")
	before := eng.Now()
	var at sim.Time
	m.StopContainer(id, 40*time.Millisecond, func(error) { at = eng.Now() })
	eng.Run()
	if _, code, _ := m.ContainerState(id); code != 137 || at.Sub(before) != 40*time.Millisecond {
		t.Fatalf("killed at grace: code %d after %v", code, at.Sub(before))
	}
}

func TestExitsReported(t *testing.T) {
	tests := []struct {
		name     string
		image    string
		crash    bool
		wantCode int
		wantAt   time.Duration // after start
	}{
		{"image exits by itself", "crash:1", false, 2, 3 * time.Second},
		{"fault injection crash", "big:1", true, 137, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng, m, _, _ := newModeled(t, constCfg())
			m.PullImage(tc.image, nil)
			eng.Run()
			id := started(t, eng, m, tc.image, "")
			startAt := eng.Now()
			var gotID string
			gotCode := -1
			var at sim.Time
			m.SetExitHandler(func(id string, code int) { gotID, gotCode, at = id, code, eng.Now() })
			if tc.crash {
				if err := m.Crash(id, 137); err != nil {
					t.Fatal(err)
				}
			}
			eng.Run()
			if gotID != id || gotCode != tc.wantCode || at.Sub(startAt) != tc.wantAt {
				t.Fatalf("exit handler got %q code %d at +%v", gotID, gotCode, at.Sub(startAt))
			}
			if err := m.Crash(id, 1); !errors.Is(err, ErrContainerState) {
				t.Fatalf("crash of exited container: %v", err)
			}
		})
	}
}

func TestStopIsNotAnExit(t *testing.T) {
	eng, m, _, _ := newModeled(t, constCfg())
	m.PullImage("crash:1", nil)
	eng.Run()
	id := started(t, eng, m, "crash:1", "")
	calls := 0
	m.SetExitHandler(func(string, int) { calls++ })
	m.StopContainer(id, time.Second, nil)
	eng.Run()
	if calls != 0 {
		t.Fatalf("exit handler called %d times for an asked-for stop", calls)
	}
}

func TestAddressInUseExits(t *testing.T) {
	eng, m, fab, _ := newModeled(t, constCfg())
	_ = fab.Listen("10.244.1.2:80", &sinkListener{})
	m.PullImage("web:1", nil)
	eng.Run()
	code := -1
	m.SetExitHandler(func(_ string, c int) { code = c })
	id := started(t, eng, m, "web:1", "10.244.1.2")
	eng.Run()
	if st, _, _ := m.ContainerState(id); st != StateExited || code != 1 {
		t.Fatalf("bind failure: state %v code %d", st, code)
	}
}

type sinkListener struct{}

func (sinkListener) Accept(*network.Request) {}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *ModeledConfig)
		want   string // substring of the error; "" = valid
	}{
		{"default is valid", func(*ModeledConfig) {}, ""},
		{"bandwidth", func(c *ModeledConfig) { c.PullBandwidth = 0 }, "pullBandwidth"},
		{"duplicate image", func(c *ModeledConfig) { c.Images = append(c.Images, ImageSpec{Name: "nginx:1.27"}) }, "duplicate"},
		{"nameless image", func(c *ModeledConfig) { c.Images = append(c.Images, ImageSpec{}) }, "name: required"},
		{"workers", func(c *ModeledConfig) { c.Images[0].Serve.Workers = 0 }, "serve.workers"},
		{"port", func(c *ModeledConfig) { c.Images[0].Serve.Port = 0 }, "serve.port"},
		{"bad dist", func(c *ModeledConfig) { c.Start = dist.Spec{Kind: "nope"} }, "start: unknown distribution"},
		{"negative size", func(c *ModeledConfig) { c.DefaultImageSize = -1 }, "defaultImageSize"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultModeledConfig()
			c.Images = append([]ImageSpec(nil), c.Images...)
			s := *c.Images[0].Serve
			c.Images[0].Serve = &s
			tc.mutate(&c)
			err := c.Validate(dist.NewRegistry())
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestDeterministic: the same seed gives the same pull, start and serve timings.
func TestDeterministic(t *testing.T) {
	run := func() []sim.Record {
		eng := sim.New(42)
		tel := &recorder{}
		m, err := NewModeled(eng, "n", DefaultModeledConfig(), network.New(), dist.NewRegistry(), tel)
		if err != nil {
			t.Fatal(err)
		}
		for i, img := range []string{api.NormalizeImage("nginx"), "nginx:1.25", "x:1"} {
			ip := fmt.Sprintf("10.244.0.%d", i+2)
			m.PullImage(img, func(error) {
				m.CreateContainer(ContainerSpec{Name: "c", Image: img, PodIP: ip}, func(id string, err error) {
					m.StartContainer(id, nil)
				})
			})
		}
		eng.Run()
		return tel.records
	}
	a, b := run(), run()
	if len(a) == 0 || !reflect.DeepEqual(a, b) {
		t.Fatalf("runs differ:\n%v\n%v", a, b)
	}
}
