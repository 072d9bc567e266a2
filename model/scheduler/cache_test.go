package scheduler

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// slowAddPod is schedCache.addPod without the replacePod fast path: every new
// version of a known pod is detached and re-added (upstream cache.updatePod).
func slowAddPod(c *schedCache, pi *framework.PodInfo) {
	uid, node := pi.Pod.UID, pi.Pod.Spec.NodeName
	if ps := c.pods[uid]; ps != nil {
		c.detach(ps)
		ps.info, ps.node, ps.assumed = pi, node, false
	} else {
		c.pods[uid] = &podState{info: pi, node: node}
	}
	c.nodeInfo(node).AddPod(pi)
	c.index.add(pi, node)
	c.matchAdd(pi, node)
}

// TestReplacePodSameAsDetachAndAdd drives two caches with the same pod versions,
// one through addPod (with its status-update fast path), one always detaching and
// re-adding, and checks that everything observable agrees: each NodeInfo's pods in
// order, its requested resources, the label and affinity postings (as sets: their
// order is unspecified) and the selector counts.
func TestReplacePodSameAsDetachAndAdd(t *testing.T) {
	fast, slow := &Scheduler{cache: newCache()}, &Scheduler{cache: newCache()}
	rng := rand.New(rand.NewSource(3))
	sels := []*api.LabelSelector{
		{MatchLabels: map[string]string{"app": "a"}},
		{MatchExpressions: []api.Requirement{{Key: "tier", Operator: api.OpExists}}},
	}
	nodeName := func(i int) string { return fmt.Sprintf("n%d", i) }
	for i := 0; i < 4; i++ {
		n := testNode(nodeName(i), 64000, 256*gi, map[string]string{api.LabelZone: fmt.Sprintf("z%d", i%2)})
		fast.cache.addNode(n)
		slow.cache.addNode(n)
	}
	cur := map[api.UID]*api.Pod{}
	var uids []api.UID
	apply := func(p *api.Pod, assume bool) {
		pi := framework.NewPodInfo(p)
		if assume {
			fast.cache.assumePod(pi, p.Spec.NodeName)
			slow.cache.assumePod(pi, p.Spec.NodeName)
		} else {
			fast.cache.addPod(pi)
			slowAddPod(slow.cache, pi)
		}
		cur[p.UID] = p
	}
	postingSet := func(s *Scheduler) map[labelKey]map[api.UID]framework.AssignedPod {
		out := map[labelKey]map[api.UID]framework.AssignedPod{}
		for lk, ps := range s.cache.index.byLabel {
			m := map[api.UID]framework.AssignedPod{}
			for _, ap := range ps.list {
				m[ap.Pod.Pod.UID] = ap
			}
			out[lk] = m
		}
		m := map[api.UID]framework.AssignedPod{}
		for _, ap := range s.cache.index.affinity.list {
			m[ap.Pod.Pod.UID] = ap
		}
		out[labelKey{"", "affinity", ""}] = m
		return out
	}
	check := func(step int) {
		for i := 0; i < 4; i++ {
			a, b := fast.cache.nodes[api.NodeName(nodeName(i))], slow.cache.nodes[api.NodeName(nodeName(i))]
			if len(a.Pods) != len(b.Pods) || a.Requested.MilliCPU != b.Requested.MilliCPU || a.Requested.Pods != b.Requested.Pods || a.NonZeroRequested != b.NonZeroRequested {
				t.Fatalf("step %d node %d: %d pods %+v, want %d pods %+v", step, i, len(a.Pods), a.Requested, len(b.Pods), b.Requested)
			}
			for j := range a.Pods {
				if a.Pods[j] != b.Pods[j] {
					t.Fatalf("step %d node %d: pod %d is %s, want %s (order differs)", step, i, j, a.Pods[j].Pod.Name, b.Pods[j].Pod.Name)
				}
			}
		}
		pa, pb := postingSet(fast), postingSet(slow)
		if len(pa) != len(pb) {
			t.Fatalf("step %d: %d posting lists, want %d", step, len(pa), len(pb))
		}
		for lk, m := range pb {
			if len(pa[lk]) != len(m) {
				t.Fatalf("step %d %v: %d postings, want %d", step, lk, len(pa[lk]), len(m))
			}
			for uid, ap := range m {
				if pa[lk][uid] != ap {
					t.Fatalf("step %d %v %s: posting %+v, want %+v", step, lk, uid, pa[lk][uid], ap)
				}
			}
		}
		for _, sel := range sels {
			ref := framework.NewLabelSelectorRef(sel)
			a, b := fast.MatchingPodsPerNode(api.NamespaceDefault, ref), slow.MatchingPodsPerNode(api.NamespaceDefault, ref)
			for i := 0; i < 4; i++ {
				n := api.NodeName(nodeName(i))
				if a[n] != b[n] {
					t.Fatalf("step %d sel %s node %s: %d matching, want %d", step, ref.Key, n, a[n], b[n])
				}
			}
		}
	}
	for step := 0; step < 4000; step++ {
		switch op := rng.Intn(10); {
		case op < 3 || len(uids) == 0: // a new pod, bound or assumed
			uid := api.UID(fmt.Sprintf("p%d", step))
			p := testPod(string(uid), 100, gi)
			p.UID = uid
			p.Labels = map[string]string{"app": []string{"a", "b"}[rng.Intn(2)]}
			if rng.Intn(3) == 0 {
				p.Labels["tier"] = "x"
			}
			if rng.Intn(5) == 0 {
				p.Spec.Affinity = &api.Affinity{PodAntiAffinity: &api.PodAffinity{Required: []api.PodAffinityTerm{{
					LabelSelector: &api.LabelSelector{MatchLabels: map[string]string{"app": "a"}}, TopologyKey: api.LabelHostname,
				}}}}
			}
			p.Spec.NodeName = api.NodeName(nodeName(rng.Intn(4)))
			uids = append(uids, uid)
			apply(p, rng.Intn(3) == 0)
		case op < 8: // a new version: mostly status only, sometimes more
			uid := uids[rng.Intn(len(uids))]
			old := cur[uid]
			if old == nil {
				continue
			}
			p := *old // shares metadata and spec, as the apiserver's status writes do
			p.Status.Phase = []api.PodPhase{api.PodPending, api.PodRunning}[rng.Intn(2)]
			switch rng.Intn(8) {
			case 0: // relabelled
				p.Labels = map[string]string{"app": "b", "tier": "y"}
			case 1: // moved (a binding seen after an assumption elsewhere)
				p.Spec.NodeName = api.NodeName(nodeName(rng.Intn(4)))
			case 2: // requests resized in place
				p.Spec.Containers = []api.Container{{Name: "c", Image: "nginx", Requests: api.Resources{MilliCPU: int64(50 + rng.Intn(200)), Memory: gi}}}
			case 3: // terminating
				ts := old.CreationTimestamp + 1
				p.DeletionTimestamp = &ts
			}
			apply(&p, false)
		default: // deleted
			uid := uids[rng.Intn(len(uids))]
			fast.cache.removePod(uid)
			slow.cache.removePod(uid)
			delete(cur, uid)
		}
		if step%5 == 0 {
			check(step)
		}
	}
	check(-1)
}
