package runtime

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/network"
	"github.com/kubesim/kubesim/sim"
)

// startSpec creates and starts a container of spec and runs until it listens (if it
// serves).
func startSpec(t *testing.T, eng *sim.Engine, m *Modeled, spec ContainerSpec) string {
	t.Helper()
	var id string
	m.CreateContainer(spec, func(got string, err error) {
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		id = got
		m.StartContainer(id, nil)
	})
	eng.RunUntil(eng.Now() + sim.Time(time.Second))
	return id
}

func webSpec(name string, memLimit int64) ContainerSpec {
	return ContainerSpec{PodUID: api.UID("u-" + name), PodName: name, Namespace: "default", Name: "c", Image: "web:1",
		PodIP: "10.244.1." + name, Limits: api.Resources{Memory: memLimit}}
}

// periodic sends one request every 1/rate seconds for d.
func periodic(eng *sim.Engine, l network.Listener, rate float64, d time.Duration, failed *int) {
	gap := time.Duration(float64(time.Second) / rate)
	end := eng.Now().Add(d)
	var tick func()
	tick = func() {
		if eng.Now() >= end {
			return
		}
		l.Accept(&network.Request{Sent: eng.Now(), Done: func(_ *network.Request, ok bool, _ string) {
			if !ok {
				*failed++
			}
		}})
		eng.After(gap, tick)
	}
	tick()
}

func TestUsageCPUFollowsRequestRate(t *testing.T) {
	tests := []struct {
		name   string
		rate   float64 // requests per second
		factor float64 // CPUPerServiceSecond
		idle   int64   // millicores
	}{
		{"idle only", 0, 1, 1},
		{"10 rps x 10 ms", 10, 1, 1},
		{"50 rps x 10 ms", 50, 1, 0},
		{"50 rps x 10 ms, half on CPU", 50, 0.5, 5},
		{"150 rps x 10 ms (1.5 of 2 workers)", 150, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := constCfg()
			cfg.Usage.CPUPerServiceSecond = tc.factor
			cfg.Usage.IdleMilliCPU = tc.idle
			eng, m, fab, _ := newModeled(t, cfg)
			m.PullImage("web:1", nil)
			eng.Run()
			id := startSpec(t, eng, m, webSpec("2", 0))
			l, ok := fab.Lookup("10.244.1.2:80")
			if !ok {
				t.Fatal("not listening")
			}
			c0, _ := m.CPUUsageSeconds(id)
			const d = 100 * time.Second
			failed := 0
			if tc.rate > 0 {
				periodic(eng, l, tc.rate, d, &failed)
			}
			eng.RunUntil(eng.Now().Add(d))
			c1, _ := m.CPUUsageSeconds(id)
			got := (c1 - c0) / d.Seconds()
			want := tc.rate*0.010*tc.factor + float64(tc.idle)/1000
			if math.Abs(got-want) > 0.002+want*0.01 || failed != 0 {
				t.Fatalf("cores = %.4f, want %.4f (failed %d)", got, want, failed)
			}
		})
	}
}

func TestUsageMemoryAndOOM(t *testing.T) {
	base, per := int64(10<<20), int64(64<<10)
	tests := []struct {
		name     string
		limit    int64
		requests int // sent at once (2 workers + backlog 1; more are refused)
		wantWS   int64
		wantOOM  bool
	}{
		{"no limit", 0, 3, base + 3*per, false},
		{"under the limit", base + 3*per, 3, base + 3*per, false},
		{"over the limit by in-flight requests", base + 2*per, 3, 0, true},
		{"baseline over the limit", base - 1, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng, m, fab, tel := newModeled(t, constCfg())
			var exits []int
			m.SetExitHandler(func(_ string, code int) { exits = append(exits, code) })
			m.PullImage("web:1", nil)
			eng.Run()
			var id string
			m.CreateContainer(webSpec("2", tc.limit), func(got string, err error) {
				id = got
				m.StartContainer(id, nil)
			})
			eng.RunUntil(eng.Now() + sim.Time(time.Second))
			var outs []outcome
			if l, ok := fab.Lookup("10.244.1.2:80"); ok && tc.requests > 0 {
				send(eng, l, tc.requests, &outs)
				eng.RunUntil(eng.Now() + sim.Time(5*time.Millisecond)) // mid-service
			}
			ws, _ := m.MemoryWorkingSet(id)
			if tc.wantOOM {
				if len(exits) != 1 || exits[0] != 137 || !m.OOMKilled(id) {
					t.Fatalf("exits %v, OOMKilled %v; want one exit 137", exits, m.OOMKilled(id))
				}
				if st, code, _ := m.ContainerState(id); st != StateExited || code != 137 {
					t.Fatalf("state %v code %d", st, code)
				}
				if len(tel.actions("exit")) != 1 {
					t.Fatal("no exit record")
				}
				return
			}
			if len(exits) != 0 || m.OOMKilled(id) {
				t.Fatalf("unexpected exit %v", exits)
			}
			if ws != tc.wantWS {
				t.Fatalf("working set %d, want %d", ws, tc.wantWS)
			}
			eng.Run()
			if ws, _ := m.MemoryWorkingSet(id); ws != base {
				t.Fatalf("idle working set %d, want %d", ws, base)
			}
		})
	}
}

func TestOOMKillEntryPoint(t *testing.T) {
	eng, m, _, _ := newModeled(t, constCfg())
	var exits []int
	m.SetExitHandler(func(_ string, code int) { exits = append(exits, code) })
	m.PullImage("web:1", nil)
	eng.Run()
	id := startSpec(t, eng, m, webSpec("2", 0))
	if err := m.OOMKill("nope"); !errors.Is(err, ErrNoSuchContainer) {
		t.Fatalf("missing container: %v", err)
	}
	if err := m.OOMKill(id); err != nil {
		t.Fatal(err)
	}
	if err := m.OOMKill(id); !errors.Is(err, ErrContainerState) {
		t.Fatalf("second kill: %v", err)
	}
	if len(exits) != 1 || exits[0] != 137 || !m.OOMKilled(id) {
		t.Fatalf("exits %v", exits)
	}
	c1, _ := m.CPUUsageSeconds(id)
	eng.RunUntil(eng.Now() + sim.Time(time.Minute))
	if c2, _ := m.CPUUsageSeconds(id); c2 != c1 {
		t.Fatalf("CPU counter grew after exit: %v -> %v", c1, c2)
	}
	if len(m.Stats()) != 0 {
		t.Fatal("exited container in stats")
	}
}

func TestStatsOrderAndContent(t *testing.T) {
	eng, m, _, _ := newModeled(t, constCfg())
	m.PullImage("web:1", nil)
	eng.Run()
	startSpec(t, eng, m, webSpec("3", 0))
	startSpec(t, eng, m, webSpec("2", 0))
	st := m.Stats()
	if len(st) != 2 || st[0].PodName != "2" || st[1].PodName != "3" {
		t.Fatalf("stats %+v", st)
	}
	if st[0].MemoryWorkingSet != 10<<20 || st[0].CPUUsageSeconds <= 0 || st[0].PodUID != "u-2" {
		t.Fatalf("stats %+v", st[0])
	}
}

func TestUsageConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*UsageConfig)
		want string
	}{
		{"default", func(*UsageConfig) {}, ""},
		{"negative factor", func(c *UsageConfig) { c.CPUPerServiceSecond = -1 }, "usage.cpuPerServiceSecond"},
		{"negative image base", func(c *UsageConfig) { c.ImageBaseMemory = map[string]int64{"a": 1, "b": -1} }, "usage.imageBaseMemory[b]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultUsageConfig()
			tc.mod(&c)
			err := c.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !contains(err.Error(), tc.want)) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
