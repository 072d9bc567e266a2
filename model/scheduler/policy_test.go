package scheduler

import (
	"fmt"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/policies"
	"github.com/kubesim/kubesim/sim"
)

// TestPolicyGPUSharesEndToEnd runs each GPU-capable policy on 2 nodes × 2 GPUs with
// 10 pods asking 0.35 GPU: at most 2 fit per GPU (8 in all); every bound pod carries
// its GPU index annotation in etcd and no GPU is over 1000 milli.
func TestPolicyGPUSharesEndToEnd(t *testing.T) {
	for _, policy := range []string{PolicyFirstFit, PolicyBestFit, PolicyRandom, PolicyGPUPacking, PolicyGPUClustering, PolicyFGD, PolicyDotProduct} {
		t.Run(policy, func(t *testing.T) {
			s := newStack(t, 3)
			for i := 1; i <= 2; i++ {
				n := testNode(fmt.Sprintf("gpu-%d", i), 32000, 128*gi, map[string]string{api.LabelGPUModel: "A100"})
				n.Status.Allocatable.Scalar = map[api.ResourceName]int64{api.ResourceGPU: 2}
				n.Status.Capacity.Scalar = map[api.ResourceName]int64{api.ResourceGPU: 2}
				s.create(t, n)
			}
			reg := NewRegistry()
			if err := RegisterPolicies(reg); err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.Profile = PolicyProfile(policy, nil)
			sch, err := New(s.eng, s.srv.Client(Component, 50, 100), cfg, reg, s.reg, s.tel)
			if err != nil {
				t.Fatal(err)
			}
			sch.Start()
			s.eng.RunUntil(sim.Time(time.Second))
			const n = 10
			for i := 0; i < n; i++ {
				p := testPod(fmt.Sprintf("share-%d", i), 100, 64<<20)
				p.Spec.Containers[0].Requests.Scalar = map[api.ResourceName]int64{api.ResourceGPUMilli: 350}
				s.create(t, p)
			}
			s.eng.RunUntil(sim.Time(30 * time.Second))
			used := map[string]int64{}
			bound := 0
			for i := 0; i < n; i++ {
				p := storedPod(t, s, fmt.Sprintf("share-%d", i))
				if p.Spec.NodeName == "" {
					continue
				}
				bound++
				idx := policies.GPUIndexOf(p)
				if idx < 0 || idx > 1 {
					t.Fatalf("pod %s bound to %s without a valid GPU index (annotations %v)", p.Name, p.Spec.NodeName, p.Annotations)
				}
				used[fmt.Sprintf("%s/%d", p.Spec.NodeName, idx)] += 350
			}
			if bound != 8 {
				t.Errorf("%d pods bound, want 8 (2 per GPU)", bound)
			}
			for gpu, m := range used {
				if m > policies.MilliPerGPU {
					t.Errorf("GPU %s has %d milli allocated", gpu, m)
				}
			}
			if st := sch.Stats(); st.Errors != 0 || st.UnschedulablePods != 2 {
				t.Errorf("stats %+v: want no errors and 2 unschedulable pods", st)
			}
			if s.tel.actions(Component)["policy"] == 0 {
				t.Error("no policy trace record")
			}
		})
	}
}

func TestPolicyRegistry(t *testing.T) {
	reg := NewRegistry()
	if err := RegisterPolicies(reg); err != nil {
		t.Fatal(err)
	}
	if err := RegisterPolicies(reg); err == nil {
		t.Error("registering the policies twice succeeded")
	}
	for _, name := range PolicyNames() {
		cfg := DefaultConfig()
		cfg.Profile = PolicyProfile(name, nil)
		if err := cfg.Validate(newStack(t, 1).reg, reg); err != nil {
			t.Errorf("policy %s: %v", name, err)
		}
	}
	if len(PolicyNames()) != 10 {
		t.Errorf("%d policies, want 10", len(PolicyNames()))
	}
}
