package endpointslice

import (
	"fmt"
	"testing"

	"github.com/kubesim/kubesim/model/api"
)

var port80 = []api.ServicePort{{Name: "http", Protocol: "TCP", Port: 80}}

// eps returns n endpoints pod-000.. sorted by pod name, all ready.
func eps(n int) []api.Endpoint {
	out := make([]api.Endpoint, n)
	for i := range out {
		out[i] = api.Endpoint{Address: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), PodName: fmt.Sprintf("pod-%03d", i),
			PodUID: api.UID(fmt.Sprintf("uid-%d", i)), Conditions: api.EndpointConditions{Ready: true, Serving: true}}
	}
	return out
}

func newTestSlice(ports []api.ServicePort) *api.EndpointSlice {
	return &api.EndpointSlice{Ports: ports}
}

// apply turns a plan into the slices that would exist after it, naming creations
// new-0, new-1...
func apply(existing []*api.EndpointSlice, p plan) []*api.EndpointSlice {
	byName := map[string]*api.EndpointSlice{}
	var order []string
	for _, s := range existing {
		byName[s.Name] = s
		order = append(order, s.Name)
	}
	for _, s := range p.delete {
		delete(byName, s.Name)
	}
	for _, s := range p.update {
		byName[s.Name] = s
	}
	for i, s := range p.create {
		s.Name = fmt.Sprintf("new-%d", i)
		byName[s.Name] = s
		order = append(order, s.Name)
	}
	var out []*api.EndpointSlice
	for _, n := range order {
		if s, ok := byName[n]; ok {
			out = append(out, s)
		}
	}
	return out
}

func sizes(ss []*api.EndpointSlice) []int {
	var out []int
	for _, s := range ss {
		out = append(out, len(s.Endpoints))
	}
	return out
}

func packed(n int, max int) []*api.EndpointSlice {
	p := reconcile(eps(n), port80, nil, max, newTestSlice)
	out := apply(nil, p)
	for i, s := range out {
		s.Name = fmt.Sprintf("s%d", i)
	}
	return out
}

func TestReconcile(t *testing.T) {
	cases := []struct {
		name                      string
		existing                  []*api.EndpointSlice
		desired                   []api.Endpoint
		ports                     []api.ServicePort
		max                       int
		creates, updates, deletes int
		wantSizes                 []int
	}{
		{"no endpoints: a placeholder slice", nil, nil, port80, 100, 1, 0, 0, []int{0}},
		{"no endpoints, placeholder there: nothing", []*api.EndpointSlice{{ObjectMeta: api.ObjectMeta{Name: "p"}}}, nil, port80, 100, 0, 0, 0, []int{0}},
		{"250 endpoints: 3 slices", nil, eps(250), port80, 100, 3, 0, 0, []int{100, 100, 50}},
		{"max 1: one endpoint per slice", nil, eps(3), port80, 1, 3, 0, 0, []int{1, 1, 1}},
		{"unchanged: no writes", packed(250, 100), eps(250), port80, 100, 0, 0, 0, []int{100, 100, 50}},
		{"one endpoint unready: only its slice", packed(250, 100), func() []api.Endpoint {
			e := eps(250)
			e[120].Conditions = api.EndpointConditions{Serving: false}
			return e
		}(), port80, 100, 0, 1, 0, []int{100, 100, 50}},
		{"one endpoint gone: its slice shrinks", packed(250, 100), append(eps(250)[:10:10], eps(250)[11:]...), port80, 100, 0, 1, 0, []int{99, 100, 50}},
		{"shrink to 50: surplus slices deleted", packed(250, 100), eps(50), port80, 100, 0, 1, 2, []int{50}},
		{"a new endpoint fits the fullest unchanged slice with room", packed(150, 100), eps(151), port80, 100, 0, 1, 0, []int{100, 51}},
		{"placeholder becomes the first slice by update", []*api.EndpointSlice{{ObjectMeta: api.ObjectMeta{Name: "p"}}}, eps(3), port80, 100, 0, 1, 0, []int{3}},
		{"ports changed: rewritten in place", packed(3, 100), eps(3), []api.ServicePort{{Name: "http", Protocol: "TCP", Port: 8080}}, 100, 0, 1, 0, []int{3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := reconcile(c.desired, c.ports, c.existing, c.max, newTestSlice)
			if len(p.create) != c.creates || len(p.update) != c.updates || len(p.delete) != c.deletes {
				t.Fatalf("plan: %d creates, %d updates, %d deletes; want %d, %d, %d",
					len(p.create), len(p.update), len(p.delete), c.creates, c.updates, c.deletes)
			}
			after := apply(c.existing, p)
			if fmt.Sprint(sizes(after)) != fmt.Sprint(c.wantSizes) {
				t.Fatalf("slice sizes %v, want %v", sizes(after), c.wantSizes)
			}
			// Every desired endpoint exactly once, current, each slice sorted by pod name.
			seen := map[string]bool{}
			for _, s := range after {
				if len(s.Endpoints) > c.max {
					t.Fatalf("slice %s has %d endpoints > %d", s.Name, len(s.Endpoints), c.max)
				}
				if len(s.Endpoints) > 0 && fmt.Sprint(s.Ports) != fmt.Sprint(c.ports) {
					t.Fatalf("slice %s ports %v, want %v", s.Name, s.Ports, c.ports)
				}
				for i, e := range s.Endpoints {
					if i > 0 && s.Endpoints[i-1].PodName > e.PodName {
						t.Fatalf("slice %s not sorted by pod name", s.Name)
					}
					if seen[e.PodName] {
						t.Fatalf("endpoint %s twice", e.PodName)
					}
					seen[e.PodName] = true
				}
			}
			for _, d := range c.desired {
				if !seen[d.PodName] {
					t.Fatalf("endpoint %s missing", d.PodName)
				}
			}
			for _, s := range after {
				for _, e := range s.Endpoints {
					for _, d := range c.desired {
						if d.PodName == e.PodName && d != e {
							t.Fatalf("endpoint %s stale: %+v, want %+v", e.PodName, e, d)
						}
					}
				}
			}
			// The existing slices are the cache's: never modified.
			for _, s := range c.existing {
				for i := 1; i < len(s.Endpoints); i++ {
					if s.Endpoints[i-1].PodName > s.Endpoints[i].PodName {
						t.Fatal("an existing slice was modified")
					}
				}
			}
		})
	}
}

func TestReconcileDoesNotModifyExisting(t *testing.T) {
	existing := packed(150, 100)
	before := fmt.Sprint(existing[0].Endpoints, existing[1].Endpoints)
	desired := eps(150)
	desired[3].Conditions.Ready = false
	reconcile(desired[:140], port80, existing, 100, newTestSlice)
	if fmt.Sprint(existing[0].Endpoints, existing[1].Endpoints) != before {
		t.Fatal("reconcile modified a cached slice")
	}
}
