package scheduler

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/sim"
)

// TestMatchCountsAgreeWithWalk drives the cache through random node and pod
// events and checks that the incremental selector counts always equal a walk of the
// matching pods (framework.ForEachAssignedPod), per node and per domain.
func TestMatchCountsAgreeWithWalk(t *testing.T) {
	s := &Scheduler{cache: newCache()}
	c := s.cache
	rng := rand.New(rand.NewSource(7))
	sels := []*api.LabelSelector{
		{MatchLabels: map[string]string{"app": "a"}},
		{MatchLabels: map[string]string{"app": "b", "tier": "x"}},
		{MatchExpressions: []api.Requirement{{Key: "app", Operator: api.OpIn, Values: []string{"a"}}}},
		{MatchExpressions: []api.Requirement{{Key: "tier", Operator: api.OpExists}}},
		{},
	}
	keys := []string{api.LabelZone, "rack", api.LabelHostname}
	nsList := []string{"default", "other"}
	nodeName := func(i int) string { return fmt.Sprintf("n%d", i) }
	mkNode := func(i int) *api.Node {
		labels := map[string]string{api.LabelHostname: nodeName(i), api.LabelZone: fmt.Sprintf("z%d", rng.Intn(3))}
		if rng.Intn(3) > 0 {
			labels["rack"] = fmt.Sprintf("r%d", rng.Intn(4))
		}
		return testNode(nodeName(i), 4000, 8*gi, labels)
	}
	type live struct {
		p    *api.Pod
		node string
	}
	pods := map[api.UID]*live{}
	var uids []api.UID
	mkPod := func(uid api.UID, node string) *api.Pod {
		p := testPod(string(uid), 10, 10)
		p.UID = uid
		p.Namespace = nsList[rng.Intn(2)]
		p.Labels = map[string]string{"app": []string{"a", "b", "c"}[rng.Intn(3)]}
		if rng.Intn(2) == 0 {
			p.Labels["tier"] = "x"
		}
		p.Spec.NodeName = api.NodeName(node)
		if rng.Intn(6) == 0 {
			ts := sim.Time(1)
			p.DeletionTimestamp = &ts
		}
		return p
	}
	check := func(step int) {
		for _, ns := range nsList {
			for _, sel := range sels {
				ref := framework.NewLabelSelectorRef(sel)
				perNode := map[api.NodeName]int{}
				perDom := map[string]map[string]int{}
				for _, k := range keys {
					perDom[k] = map[string]int{}
				}
				framework.ForEachAssignedPod(s, ns, sel, func(_ *framework.PodInfo, ni *framework.NodeInfo) {
					if ni == nil {
						return
					}
					perNode[ni.Name]++
					for _, k := range keys {
						perDom[k][ni.Node().Labels[k]]++
					}
				})
				got := s.MatchingPodsPerNode(ns, ref)
				for _, ni := range c.nodeList() {
					if got[ni.Name] != perNode[ni.Name] {
						t.Fatalf("step %d ns %s sel %s node %s: got %d want %d", step, ns, ref.Key, ni.Name, got[ni.Name], perNode[ni.Name])
					}
				}
				// Per-slot counts equal the per-node ones for every NodeInfo kept,
				// placeholders included, and slots are distinct.
				slots := s.MatchingPodsPerSlot(ns, ref)
				seen := map[int32]api.NodeName{}
				for name, ni := range c.nodes {
					sl := ni.Slot()
					if sl <= 0 {
						t.Fatalf("step %d: node %s has no slot", step, name)
					}
					if other, dup := seen[sl]; dup {
						t.Fatalf("step %d: nodes %s and %s share slot %d", step, name, other, sl)
					}
					seen[sl] = name
					n := 0
					if int(sl) < len(slots) {
						n = int(slots[sl])
					}
					if n != got[name] {
						t.Fatalf("step %d ns %s sel %s node %s slot %d: per-slot %d, per-node %d", step, ns, ref.Key, name, sl, n, got[name])
					}
				}
				for _, k := range keys {
					dom := s.MatchingPodsPerDomain(ns, ref, k)
					for v, n := range perDom[k] {
						if dom[v] != n {
							t.Fatalf("step %d ns %s sel %s key %s=%q: got %d want %d", step, ns, ref.Key, k, v, dom[v], n)
						}
					}
					for v, n := range dom {
						if n != perDom[k][v] {
							t.Fatalf("step %d ns %s sel %s key %s=%q: got %d want %d (extra)", step, ns, ref.Key, k, v, n, perDom[k][v])
						}
					}
				}
			}
		}
	}
	for i := 0; i < 8; i++ {
		c.addNode(mkNode(i))
	}
	for step := 0; step < 3000; step++ {
		switch op := rng.Intn(10); {
		case op < 4: // assume or bind a new pod (possibly to a node not yet known)
			uid := api.UID(fmt.Sprintf("p%d", step))
			node := nodeName(rng.Intn(10))
			p := mkPod(uid, node)
			if rng.Intn(2) == 0 {
				c.assumePod(framework.NewPodInfo(p), api.NodeName(node))
			} else {
				c.addPod(framework.NewPodInfo(p))
			}
			pods[uid] = &live{p, node}
			uids = append(uids, uid)
		case op < 6 && len(uids) > 0: // update (labels, termination, node move)
			uid := uids[rng.Intn(len(uids))]
			if l := pods[uid]; l != nil {
				node := l.node
				if rng.Intn(4) == 0 {
					node = nodeName(rng.Intn(10))
				}
				p := mkPod(uid, node)
				c.addPod(framework.NewPodInfo(p))
				pods[uid] = &live{p, node}
			}
		case op < 7 && len(uids) > 0: // delete or forget
			uid := uids[rng.Intn(len(uids))]
			if rng.Intn(2) == 0 {
				c.removePod(uid)
				delete(pods, uid)
			} else if c.forgetPod(uid) {
				delete(pods, uid)
			}
		case op < 8: // relabel or add a node
			c.updateNode(mkNode(rng.Intn(10)))
		case op < 9 && rng.Intn(3) == 0: // remove a node
			c.removeNode(api.NodeName(nodeName(rng.Intn(10))))
		}
		if step%7 == 0 {
			check(step)
		}
	}
	check(-1)
}

// TestMatchCountsBounded checks that entries are evicted above the bound.
func TestMatchCountsBounded(t *testing.T) {
	s := &Scheduler{cache: newCache()}
	for i := 0; i < 3*maxMatchEntries; i++ {
		sel := &api.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprint(i)}}
		s.MatchingPodsPerNode("default", framework.NewLabelSelectorRef(sel))
	}
	if n := len(s.cache.match.entries); n > maxMatchEntries {
		t.Fatalf("%d entries, want at most %d", n, maxMatchEntries)
	}
	total := 0
	for _, l := range s.cache.match.byPin {
		total += len(l)
	}
	if total != len(s.cache.match.entries) {
		t.Fatalf("byPin holds %d entries, map %d", total, len(s.cache.match.entries))
	}
}
