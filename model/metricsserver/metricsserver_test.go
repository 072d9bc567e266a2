package metricsserver

import (
	"cmp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/sim"
)

// fakeNode reports containers burning a constant number of cores since their start.
type fakeNode struct {
	eng  *sim.Engine
	ctrs []fakeCtr
}

type fakeCtr struct {
	id, pod string
	cores   float64
	mem     int64
	start   sim.Time
}

func (f *fakeNode) ContainerStats() []ContainerStats {
	var out []ContainerStats
	for _, c := range f.ctrs {
		out = append(out, ContainerStats{ID: c.id, PodUID: api.UID("u-" + c.pod), PodName: c.pod, Namespace: "default", Name: "c",
			StartedAt: c.start, CPUUsageSeconds: c.cores * f.eng.Now().Sub(c.start).Seconds(), MemoryWorkingSet: c.mem})
	}
	return out
}

func TestScrapeEveryResolution(t *testing.T) {
	eng := sim.New(1)
	reg := dist.NewRegistry()
	st, err := etcd.New(eng, etcd.DefaultConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := New(eng, srv.Client("metrics-server", 0, 0), DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	n1 := &fakeNode{eng: eng, ctrs: []fakeCtr{
		{id: "a1", pod: "a", cores: 0.25, mem: 1000},
		{id: "a2", pod: "a", cores: 0.5, mem: 500}, // two containers of one pod add up
	}}
	n2 := &fakeNode{eng: eng, ctrs: []fakeCtr{{id: "b1", pod: "b", cores: 1.2, mem: 7, start: sim.Time(5 * time.Second)}}}
	ms.AddNode("node-2", n2)
	ms.AddNode("node-1", n1)
	ms.Start()

	type seen struct {
		at   sim.Time
		name string
		cpu  int64
		mem  int64
		win  sim.Time
	}
	var got []seen
	var deleted []string
	apiserver.NewInformer(srv.Client("watcher", 0, 0), api.KindPodMetrics, apiserver.InformerOptions{}, apiserver.Handlers{
		OnAdd: func(o api.Object) {
			m := o.(*api.PodMetrics)
			got = append(got, seen{m.Timestamp, m.Name, m.Usage.MilliCPU, m.Usage.Memory, m.Window})
		},
		OnUpdate: func(_, o api.Object) {
			m := o.(*api.PodMetrics)
			got = append(got, seen{m.Timestamp, m.Name, m.Usage.MilliCPU, m.Usage.Memory, m.Window})
		},
		OnDelete: func(o api.Object) { deleted = append(deleted, o.Meta().Name) },
	})
	eng.RunUntil(sim.Time(50 * time.Second))
	s := func(d int) sim.Time { return sim.Time(time.Duration(d) * time.Second) }
	want := []seen{
		{s(15), "a", 750, 1500, s(15)},
		{s(15), "b", 1200, 7, s(10)}, // first seen: rate since its start 10 s earlier
		{s(30), "a", 750, 1500, s(15)},
		{s(30), "b", 1200, 7, s(15)},
		{s(45), "a", 750, 1500, s(15)},
		{s(45), "b", 1200, 7, s(15)},
	}
	// writes of one round commit in any order: compare by (time, pod)
	slices.SortStableFunc(got, func(a, b seen) int {
		if a.at != b.at {
			return cmp.Compare(a.at, b.at)
		}
		return strings.Compare(a.name, b.name)
	})
	if len(got) != len(want) {
		t.Fatalf("got %d PodMetrics writes %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("write %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if ms.Scrapes() != 3 {
		t.Fatalf("scrapes %d", ms.Scrapes())
	}
	// A removed node's pods lose their metrics at the next scrape.
	ms.RemoveNode("node-2")
	eng.RunUntil(sim.Time(61 * time.Second))
	if len(deleted) != 1 || deleted[0] != "b" {
		t.Fatalf("deleted %v, want [b]", deleted)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		d  time.Duration
		ok bool
	}{{15 * time.Second, true}, {0, false}, {-time.Second, false}} {
		c := Config{MetricResolution: tc.d}
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%v: err %v", tc.d, err)
		}
	}
}
