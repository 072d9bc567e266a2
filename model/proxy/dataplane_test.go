package proxy

import (
	"testing"
	"time"
)

type fakeDataplane struct{ got []ServiceRules }

func (f *fakeDataplane) Program(r ServiceRules) { f.got = append(f.got, r) }

func TestDataplaneFollowsProgrammedRules(t *testing.T) {
	e := newEnv(t, 1)
	p := e.proxy("node-1", testConfig(ModeIPVS))
	dp := &fakeDataplane{}
	p.SetDataplane(dp)
	e.run(500 * time.Millisecond)
	if len(dp.got) != 0 {
		t.Fatalf("programmed before any Service: %+v", dp.got)
	}
	e.mustCreate(service("nginx", ""))
	e.mustCreate(slice("nginx", "nginx-a", 8080, ready("10.244.1.3"), ready("10.244.2.4")))
	e.run(2 * time.Second)
	if len(dp.got) == 0 {
		t.Fatal("the dataplane was never programmed")
	}
	last := dp.got[len(dp.got)-1]
	if last.Namespace != "default" || last.Name != "nginx" || last.Mode != ModeIPVS || last.Scheduler != SchedulerRR {
		t.Fatalf("rules: %+v", last)
	}
	if len(last.Ports) != 1 || last.Ports[0].Port != 80 || len(last.Ports[0].Endpoints) != 2 ||
		last.Ports[0].Endpoints[0] != (Endpoint{IP: "10.244.1.3", Port: 8080}) || last.Ports[0].Endpoints[1] != (Endpoint{IP: "10.244.2.4", Port: 8080}) {
		t.Fatalf("ports: %+v", last.Ports)
	}
	if last.At < last.ChangedAt || last.At != p.lastSyncEnd {
		t.Fatalf("times: changed %v at %v, last sync end %v", last.ChangedAt, last.At, p.lastSyncEnd)
	}
	// An endpoint leaves: the dataplane gets the smaller set.
	e.mustUpdate(slice("nginx", "nginx-a", 8080, ready("10.244.2.4")))
	e.run(2 * time.Second)
	last = dp.got[len(dp.got)-1]
	if len(last.Ports) != 1 || len(last.Ports[0].Endpoints) != 1 || last.Ports[0].Endpoints[0].IP != "10.244.2.4" {
		t.Fatalf("after the update: %+v", last.Ports)
	}
	// A periodic sync that changes nothing does not reprogram.
	n := len(dp.got)
	e.run(time.Minute)
	if len(dp.got) != n {
		t.Fatalf("periodic syncs reprogrammed the dataplane: %d calls, want %d", len(dp.got), n)
	}
	// The Service goes: the dataplane gets no ports.
	e.mustDelete(service("nginx", "").Kind(), "default", "nginx")
	e.run(2 * time.Second)
	last = dp.got[len(dp.got)-1]
	if len(last.Ports) != 0 || last.ClusterIP != "" {
		t.Fatalf("after the delete: %+v", last)
	}
}

func TestSetDataplaneLateProgramsCurrentTables(t *testing.T) {
	e := newEnv(t, 1)
	p := e.proxy("node-1", testConfig(ModeIPTables))
	e.run(500 * time.Millisecond)
	e.mustCreate(service("b", ""))
	e.mustCreate(service("a", ""))
	e.mustCreate(slice("a", "a-1", 80, ready("10.244.1.3")))
	e.run(3 * time.Second)
	dp := &fakeDataplane{}
	p.SetDataplane(dp)
	if len(dp.got) != 2 || dp.got[0].Name != "a" || dp.got[1].Name != "b" || len(dp.got[0].Ports[0].Endpoints) != 1 || len(dp.got[1].Ports[0].Endpoints) != 0 {
		t.Fatalf("late SetDataplane: %+v", dp.got)
	}
}
