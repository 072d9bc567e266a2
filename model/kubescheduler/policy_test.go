//go:build kubescheduler

package kubescheduler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/scheduler"
)

func usePolicy(args *Args) func(*scheduler.Config) {
	return func(cfg *scheduler.Config) { Configure(cfg, args) }
}

// placements schedules n pods of various sizes on 6 nodes in 3 zones with the
// policy and returns pod -> node.
func placements(t *testing.T, seed uint64, args *Args, n int) map[string]api.NodeName {
	t.Helper()
	s := newStack(t, seed, usePolicy(args))
	for i := 0; i < 6; i++ {
		s.create(t, mkNode(fmt.Sprintf("n%d", i), zones[i%3], int64(4000+2000*(i%3)), int64(8+8*(i%2))*gi))
	}
	s.run(time.Second)
	for i := 0; i < n; i++ {
		p := mkPod(podName(i), int64(100+50*(i%7)), int64(128+64*(i%5))<<20)
		p.Labels["app"] = apps[i%3]
		s.create(t, p)
	}
	s.run(30 * time.Second)
	out := map[string]api.NodeName{}
	for i := 0; i < n; i++ {
		out[podName(i)] = s.nodeOf(t, podName(i))
	}
	return out
}

func TestPolicySchedulesDeterministically(t *testing.T) {
	a := placements(t, 7, nil, 24)
	b := placements(t, 7, nil, 24)
	perNode := map[api.NodeName]int{}
	for name, node := range a {
		if node == "" {
			t.Errorf("pod %s was not scheduled", name)
		}
		if b[name] != node {
			t.Errorf("pod %s: %s in the first run, %s in the second (same seed)", name, node, b[name])
		}
		perNode[node]++
	}
	if len(perNode) < 4 {
		t.Errorf("24 pods landed on %d of 6 nodes (%v): LeastAllocated and spreading should use most nodes", len(perNode), perNode)
	}
}

// A user's configuration that bin-packs (MostAllocated) puts every small pod on
// the same node, where the default profile spreads them.
func TestPolicyUserConfigMostAllocated(t *testing.T) {
	cfg, err := DecodeConfig("pack.yaml", []byte(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
  plugins:
    multiPoint:
      disabled:
      - name: NodeResourcesBalancedAllocation
      - name: PodTopologySpread
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources:
        - name: cpu
          weight: 1
        - name: memory
          weight: 1
`))
	if err != nil {
		t.Fatal(err)
	}
	got := placements(t, 3, &Args{Config: cfg, Source: "pack.yaml"}, 8)
	nodes := map[api.NodeName]bool{}
	for _, n := range got {
		nodes[n] = true
	}
	if len(nodes) != 1 {
		t.Errorf("MostAllocated placed 8 small pods on %d nodes (%v); want them packed on one", len(nodes), got)
	}
}

func TestDecodeConfigRefusals(t *testing.T) {
	head := "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"permit", head + "profiles:\n- schedulerName: default-scheduler\n  plugins:\n    permit:\n      enabled:\n      - name: GangScheduling\n",
			"Permit waits are wall-clock timers"},
		{"volume-binding-timeout", head + "profiles:\n- schedulerName: default-scheduler\n  pluginConfig:\n  - name: VolumeBinding\n    args:\n      bindTimeoutSeconds: 30\n",
			"PreBind polling on the wall clock"},
		{"dra-timeouts", head + "profiles:\n- schedulerName: default-scheduler\n  pluginConfig:\n  - name: DynamicResources\n    args:\n      filterTimeout: 1s\n",
			"DynamicResources arguments (filterTimeout, bindingTimeout) are wall-clock deadlines"},
		{"two-profiles", head + "profiles:\n- schedulerName: a\n- schedulerName: b\n", "the configuration has 2 profiles"},
		{"extender", head + "extenders:\n- urlPrefix: http://127.0.0.1:1\n  filterVerb: filter\n", "extenders are not supported"},
		{"unknown-field", head + "profiles:\n- schedulerName: x\n  bogus: 1\n", "bogus"},
		{"invalid", head + "percentageOfNodesToScore: 170\n", "invalid KubeSchedulerConfiguration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeConfig("c.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("accepted; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "c.yaml: ") {
				t.Errorf("error %q: want the file name and %q", err, tc.want)
			}
		})
	}
	if _, err := DecodeConfig("ok.yaml", []byte(head+"profiles:\n- schedulerName: default-scheduler\n")); err != nil {
		t.Errorf("a plain configuration was refused: %v", err)
	}
}

// Preemption: a full node, a high-priority pod; DefaultPreemption names victims,
// kubesim deletes them through its apiserver, the pod is nominated and then bound.
func TestPolicyPreemption(t *testing.T) {
	s := newStack(t, 1, usePolicy(nil))
	s.create(t, mkNode("n0", "z0", 4000, 16*gi))
	s.run(time.Second)
	for i := 0; i < 4; i++ {
		p := mkPod(fmt.Sprintf("low-%d", i), 1000, gi)
		p.Spec.TerminationGracePeriodSeconds = 0
		s.create(t, p)
	}
	s.run(10 * time.Second)
	for i := 0; i < 4; i++ {
		if n := s.nodeOf(t, fmt.Sprintf("low-%d", i)); n != "n0" {
			t.Fatalf("low-%d on %q before preemption", i, n)
		}
	}
	hi := mkPod("high", 2000, gi)
	hi.Spec.Priority = 1000
	s.create(t, hi)
	s.run(5 * time.Second)
	// No kubelets here: the graceful deletions the preemption started stay
	// pending; the test completes them as the kubelets would.
	var victims []string
	for i := 0; i < 4; i++ {
		name := fmt.Sprintf("low-%d", i)
		if kv, _ := s.srv.Store().Get(api.Key(api.KindPod, api.NamespaceDefault, name)); kv.Value.(*api.Pod).DeletionTimestamp != nil {
			victims = append(victims, name)
		}
	}
	if len(victims) != 2 {
		t.Fatalf("victims %v: want 2 (2 CPUs freed for the 2-CPU preemptor)", victims)
	}
	kv, _ := s.srv.Store().Get(api.Key(api.KindPod, api.NamespaceDefault, "high"))
	if hp := kv.Value.(*api.Pod); hp.Status.NominatedNodeName != "n0" || hp.Spec.NodeName != "" {
		t.Fatalf("preemptor: nominated %q, bound %q; want nominated n0, not bound yet", hp.Status.NominatedNodeName, hp.Spec.NodeName)
	}
	zero := int64(0)
	for _, v := range victims {
		s.admin.Delete(api.KindPod, api.NamespaceDefault, v, apiserver.DeleteOptions{GracePeriodSeconds: &zero}, nil)
	}
	s.run(30 * time.Second)
	if n := s.nodeOf(t, "high"); n != "n0" {
		t.Fatalf("the high-priority pod is on %q, want n0 after preemption", n)
	}
}
