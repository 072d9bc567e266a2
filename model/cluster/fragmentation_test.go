package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/policies"
)

const giB = int64(1) << 30

func fragNodeAlloc(cpu, memGi, gpus int64) api.Resources {
	r := api.Resources{MilliCPU: cpu, Memory: memGi * giB, Pods: 110}
	if gpus > 0 {
		r.Scalar = map[api.ResourceName]int64{api.ResourceGPU: gpus}
	}
	return r
}

func fragPodOf(uid string, cpu, memGi, whole, milli int64, node string, gpuIdx int) *api.Pod {
	req := api.Resources{MilliCPU: cpu, Memory: memGi * giB}
	if whole > 0 || milli > 0 {
		req.Scalar = map[api.ResourceName]int64{}
		if whole > 0 {
			req.Scalar[api.ResourceGPU] = whole
		}
		if milli > 0 {
			req.Scalar[api.ResourceGPUMilli] = milli
		}
	}
	p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: uid, UID: api.UID(uid)}, Spec: api.PodSpec{NodeName: api.NodeName(node), Containers: []api.Container{{Name: "c", Requests: req}}}}
	if gpuIdx >= 0 {
		p.Annotations = map[string]string{policies.AnnotationGPUIndex: strconv.Itoa(gpuIdx)}
	}
	return p
}

// TestFragmentationByHand: node a (8 CPU, 16 GiB, 2 GPUs) runs a 0.5-GPU share
// on GPU 0; node b (4 CPU, 8 GiB) has no GPU. Workload: the share's shape X and a
// pending one-GPU pod's shape Y, one each.
//   - F_a(X) = 0 (GPU 0's free 500 is not below X's 500); F_a(Y) = 500 (GPU 0's
//     free 500 is below one GPU); node b has no GPU: 0. F = (0+500)/2 = 250 milli
//     of the 1,500 free: 0.25 GPUs, rate 1/6.
//   - Neither X nor Y fits node b (no GPU): its 4 CPU and 8 GiB are stranded,
//     1/3 of the cluster's CPU and memory. X fits node a.
//
// A CPU-only shape Z (0.5 CPU, 1 GiB) then fits node b (nothing stranded) and
// cannot use GPUs at all: F_a(Z) = 1,500, F = (0+500+1500)/3.
func TestFragmentationByHand(t *testing.T) {
	tr := newFragTracker()
	a, b := fragNodeAlloc(8000, 16, 2), fragNodeAlloc(4000, 8, 0)
	tr.nodeChanged("a", &a, false)
	tr.nodeChanged("b", &b, false)
	x := fragPodOf("x", 1000, 1, 0, 500, "", -1)
	tr.podCreated(x)
	tr.podChanged(nil, x)
	bound := fragPodOf("x", 1000, 1, 0, 500, "a", 0)
	tr.podChanged(x, bound)
	y := fragPodOf("y", 2000, 2, 1, 0, "", -1)
	tr.podCreated(y)
	tr.podChanged(nil, y)
	s := tr.sample()
	if s.fragmented != 250 || s.freeGPU != 1500 {
		t.Errorf("fragmented %v of free %v, want 250 of 1500", s.fragmented, s.freeGPU)
	}
	if s.strandedCPU != 4000 || s.strandedMem != 8*giB {
		t.Errorf("stranded cpu %d mem %d, want 4000 and 8 GiB", s.strandedCPU, s.strandedMem)
	}
	z := fragPodOf("z", 500, 1, 0, 0, "", -1)
	tr.podCreated(z)
	s = tr.sample()
	if want := 2000.0 / 3; math.Abs(s.fragmented-want) > 1e-9 {
		t.Errorf("with Z: fragmented %v, want %v", s.fragmented, want)
	}
	if s.strandedCPU != 0 || s.strandedMem != 0 {
		t.Errorf("with Z: stranded %d %d, want 0", s.strandedCPU, s.strandedMem)
	}
	// A status update changes nothing; deleting the share frees GPU 0.
	upd := bound.DeepCopy()
	upd.Status.Phase = api.PodRunning
	tr.podChanged(bound, upd)
	if len(tr.dirty) != 0 {
		t.Errorf("a status update marked %d node(s) dirty", len(tr.dirty))
	}
	tr.podChanged(upd, nil)
	if s = tr.sample(); math.Abs(s.fragmented-2000.0/3) > 1e-9 || s.freeGPU != 2000 { // F_a(Z) = 2000 only
		t.Errorf("after delete: fragmented %v of %v, want 2000/3 of 2000", s.fragmented, s.freeGPU)
	}
}

// TestFragmentationIncremental: the values kept incrementally over random pod
// and node events equal those of a tracker built from the final state at once.
func TestFragmentationIncremental(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	inc := newFragTracker()
	nodes := map[string]api.Resources{}
	pods := map[string]*api.Pod{}
	var created []*api.Pod
	for step := 0; step < 3000; step++ {
		switch r := rng.IntN(10); {
		case r == 0 || len(nodes) == 0:
			name := fmt.Sprintf("n%d", rng.IntN(12))
			if _, ok := nodes[name]; ok && rng.IntN(3) == 0 {
				delete(nodes, name)
				inc.nodeChanged(name, nil, true)
				for uid, p := range pods { // its pods go too
					if string(p.Spec.NodeName) == name {
						inc.podChanged(p, nil)
						delete(pods, uid)
					}
				}
				continue
			}
			al := fragNodeAlloc(int64(4+rng.IntN(4))*1000, int64(8+rng.IntN(8)), int64(rng.IntN(5)))
			nodes[name] = al
			inc.nodeChanged(name, &al, false)
		case r < 7:
			uid := fmt.Sprintf("p%d", step)
			var node string
			for n := range nodes {
				if node == "" || n < node {
					node = n
				}
			}
			if rng.IntN(2) == 0 {
				node = fmt.Sprintf("n%d", rng.IntN(12))
				if _, ok := nodes[node]; !ok {
					node = ""
				}
			}
			milli, idx := int64(0), -1
			if rng.IntN(2) == 0 {
				milli = int64(1+rng.IntN(9)) * 100
				if rng.IntN(2) == 0 {
					idx = rng.IntN(4)
				}
			}
			p := fragPodOf(uid, int64(1+rng.IntN(4))*250, int64(1+rng.IntN(3)), int64(rng.IntN(2))*int64(1-min(milli, 1)), milli, node, idx)
			inc.podCreated(p)
			inc.podChanged(nil, p)
			pods[uid] = p
			created = append(created, p)
		default:
			for uid, p := range pods {
				inc.podChanged(p, nil)
				delete(pods, uid)
				break
			}
		}
		if step%97 == 0 {
			inc.sample()
		}
	}
	got := inc.sample()
	full := newFragTracker()
	for _, p := range created {
		full.podCreated(p)
	}
	for name, al := range nodes {
		al := al
		full.nodeChanged(name, &al, false)
	}
	for _, p := range created { // in creation order: unannotated shares fill GPUs in that order
		if pods[string(p.UID)] != nil {
			full.podChanged(nil, p)
		}
	}
	want := full.sample()
	if math.Abs(got.fragmented-want.fragmented) > 1e-6 || got.freeGPU != want.freeGPU || got.strandedCPU != want.strandedCPU || got.strandedMem != want.strandedMem {
		t.Errorf("incremental %+v, from scratch %+v", got, want)
	}
}
