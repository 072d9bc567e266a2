package endpointslice

import (
	"slices"
	"strings"

	"github.com/kubesim/kubesim/model/api"
)

// endpointKey identifies an endpoint across syncs: its pod and address
// (upstream hashes the addresses and target reference, endpointslice/util).
func endpointKey(e *api.Endpoint) string { return string(e.PodUID) + "|" + e.Address }

// plan is the outcome of reconciling one Service: slices to create (no name yet),
// to update (copies with the cached slice's name and resource version) and to
// delete. Each list is in a deterministic order.
type plan struct {
	create, update, delete []*api.EndpointSlice
}

func (p *plan) empty() bool { return len(p.create)+len(p.update)+len(p.delete) == 0 }

// reconcile computes the writes that turn the existing slices of a Service into
// slices holding the desired endpoints, following the upstream reconciler
// (staging/src/k8s.io/endpointslice/reconciler.go reconcileByPortMapping, finalize):
//
//  1. existing slices keep their endpoints that are still desired, updated in
//     place; a slice left empty is deleted, one whose ports differ is deleted;
//  2. remaining endpoints fill the slices already being updated, fullest first;
//  3. then, if fewer than max remain, the unchanged slice that fits them most
//     tightly takes them; otherwise new slices of up to max endpoints are created;
//  4. a Service with no endpoints keeps one empty placeholder slice;
//  5. a slice to create and one to delete become one update of the latter.
//
// Where upstream pops endpoints from a set in no particular order, kubesim takes them
// in desired order (sorted by pod name), and every written slice lists its endpoints
// sorted by pod name, so the result is deterministic and stable.
//
// desired must be sorted by pod name; existing holds the Service's current slices,
// sorted by name, and is not modified. newSlice builds an empty slice carrying the
// Service's metadata.
func reconcile(desired []api.Endpoint, ports []api.ServicePort, existing []*api.EndpointSlice, max int,
	newSlice func(ports []api.ServicePort) *api.EndpointSlice) plan {
	want := make(map[string]int, len(desired)) // key -> index in desired
	for i := range desired {
		want[endpointKey(&desired[i])] = i
	}
	placed := make([]bool, len(desired))

	var p plan
	var toUpdate, unchanged []*api.EndpointSlice
	for _, s := range existing {
		if len(desired) == 0 || !samePorts(s.Ports, ports) {
			p.delete = append(p.delete, s)
			continue
		}
		kept := make([]api.Endpoint, 0, len(s.Endpoints))
		changed := false
		for i := range s.Endpoints {
			idx, ok := want[endpointKey(&s.Endpoints[i])]
			if !ok || placed[idx] {
				continue
			}
			placed[idx] = true
			kept = append(kept, desired[idx])
			if desired[idx] != s.Endpoints[i] {
				changed = true
			}
		}
		switch {
		case len(kept) == 0:
			p.delete = append(p.delete, s)
		case changed || len(kept) != len(s.Endpoints):
			cp := s.DeepCopyObject().(*api.EndpointSlice)
			cp.Endpoints = kept
			toUpdate = append(toUpdate, cp)
		default:
			unchanged = append(unchanged, s)
		}
	}

	next := 0 // next desired endpoint not yet placed
	remaining := 0
	for _, ok := range placed {
		if !ok {
			remaining++
		}
	}
	pop := func() api.Endpoint {
		for placed[next] {
			next++
		}
		placed[next] = true
		remaining--
		return desired[next]
	}

	// 2. Fill the slices being updated, fullest first.
	if remaining > 0 && len(toUpdate) > 0 {
		byLen := slices.Clone(toUpdate)
		slices.SortStableFunc(byLen, func(a, b *api.EndpointSlice) int { return len(b.Endpoints) - len(a.Endpoints) })
		for _, s := range byLen {
			for remaining > 0 && len(s.Endpoints) < max {
				s.Endpoints = append(s.Endpoints, pop())
			}
		}
	}

	// 3. Fit the rest into one unchanged slice, or create new slices.
	for remaining > 0 {
		var fill *api.EndpointSlice
		if remaining < max && len(unchanged) > 0 {
			if i := sliceToFill(unchanged, remaining, max); i >= 0 {
				fill = unchanged[i].DeepCopyObject().(*api.EndpointSlice)
				unchanged = slices.Delete(unchanged, i, i+1)
				toUpdate = append(toUpdate, fill)
			}
		}
		if fill == nil {
			fill = newSlice(ports)
			p.create = append(p.create, fill)
		}
		for remaining > 0 && len(fill.Endpoints) < max {
			fill.Endpoints = append(fill.Endpoints, pop())
		}
	}

	// 4. Placeholder: a Service without endpoints keeps one empty slice.
	if len(existing) == len(p.delete) && len(p.create) == 0 {
		if len(p.delete) == 1 && isPlaceholder(p.delete[0]) {
			p.delete = nil
		} else {
			p.create = append(p.create, newSlice(nil))
		}
	}

	// 5. Turn create+delete pairs into updates of the slice that would go.
	for len(p.delete) > 0 && len(p.create) > 0 {
		old := p.delete[0]
		s := p.create[len(p.create)-1]
		s.Name = old.Name
		s.ResourceVersion = old.ResourceVersion
		s.UID = old.UID
		p.create = p.create[:len(p.create)-1]
		p.delete = p.delete[1:]
		toUpdate = append(toUpdate, s)
	}

	for _, s := range toUpdate {
		sortEndpoints(s.Endpoints)
	}
	for _, s := range p.create {
		sortEndpoints(s.Endpoints)
	}
	slices.SortStableFunc(toUpdate, func(a, b *api.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	p.update = toUpdate
	return p
}

// sliceToFill returns the index of the unchanged slice that can take n more
// endpoints with the least room left, or -1 (reconciler_helpers getSliceToFill).
func sliceToFill(slices []*api.EndpointSlice, n, max int) int {
	best, bestDiff := -1, max
	for i, s := range slices {
		d := max - (n + len(s.Endpoints))
		if d >= 0 && d < bestDiff {
			best, bestDiff = i, d
			if d == 0 {
				break
			}
		}
	}
	return best
}

func isPlaceholder(s *api.EndpointSlice) bool { return len(s.Endpoints) == 0 && len(s.Ports) == 0 }

func samePorts(a, b []api.ServicePort) bool { return slices.Equal(a, b) }

func sortEndpoints(eps []api.Endpoint) {
	slices.SortStableFunc(eps, func(a, b api.Endpoint) int {
		if c := strings.Compare(a.PodName, b.PodName); c != 0 {
			return c
		}
		return strings.Compare(a.Address, b.Address)
	})
}
