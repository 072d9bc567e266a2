package workload

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/sim"
)

func loadFixture(t testing.TB) ([]NodeSpec, []AlibabaPod) {
	t.Helper()
	nf, err := os.Open("testdata/alibaba_nodes.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer nf.Close()
	nodes, err := LoadAlibabaNodes(nf)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := os.Open("testdata/alibaba_pods.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	pods, err := LoadAlibabaPods(pf)
	if err != nil {
		t.Fatal(err)
	}
	return nodes, pods
}

func TestLoadAlibabaNodes(t *testing.T) {
	nodes, _ := loadFixture(t)
	if len(nodes) != 3 {
		t.Fatalf("got %d nodes, want 3", len(nodes))
	}
	tests := []struct {
		i          int
		name       string
		cpu, mem   int64
		gpu, milli int64
		model      string
	}{
		{0, "node-cpu", 8000, 32768 * MiB, 0, 0, ""},
		{1, "node-t4", 4000, 32768 * MiB, 2, 2000, "T4"},
		{2, "node-v100", 4000, 32768 * MiB, 1, 1000, "V100M16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := nodes[tc.i]
			if n.Name != tc.name || n.Capacity.MilliCPU != tc.cpu || n.Capacity.Memory != tc.mem {
				t.Errorf("got %s cpu %d mem %d", n.Name, n.Capacity.MilliCPU, n.Capacity.Memory)
			}
			if g := n.Capacity.Scalar[api.ResourceGPU]; g != tc.gpu {
				t.Errorf("gpu = %d, want %d", g, tc.gpu)
			}
			if g := n.Capacity.Scalar[api.ResourceGPUMilli]; g != tc.milli {
				t.Errorf("gpu-milli = %d, want %d", g, tc.milli)
			}
			if m := n.Labels[api.LabelGPUModel]; m != tc.model {
				t.Errorf("model = %q, want %q", m, tc.model)
			}
		})
	}
}

func TestLoadAlibabaPods(t *testing.T) {
	_, pods := loadFixture(t)
	if len(pods) != 6 {
		t.Fatalf("got %d pods, want 6", len(pods))
	}
	tests := []struct {
		i           int
		gpu, milli  int64
		run         int64
		models      []string
		scheduledAt int64
	}{
		{0, 0, 0, 100, nil, 0},
		{1, 1, 0, 58, []string{"T4"}, 12},
		{2, 0, 460, 60, nil, 20},
		{3, 2, 0, 60, nil, -1}, // never scheduled: deletion - creation
		{5, 1, 0, 20, []string{"V100M32", "V100M16"}, 40},
	}
	for _, tc := range tests {
		p := &pods[tc.i]
		t.Run(p.Name, func(t *testing.T) {
			r := p.Requests()
			if r.Scalar[api.ResourceGPU] != tc.gpu || r.Scalar[api.ResourceGPUMilli] != tc.milli {
				t.Errorf("requests %v, want gpu %d milli %d", r.Scalar, tc.gpu, tc.milli)
			}
			if p.RunSeconds() != tc.run {
				t.Errorf("run = %d, want %d", p.RunSeconds(), tc.run)
			}
			if strings.Join(p.GPUModels(), "|") != strings.Join(tc.models, "|") {
				t.Errorf("models = %v, want %v", p.GPUModels(), tc.models)
			}
			if p.ScheduledTime != tc.scheduledAt {
				t.Errorf("scheduled = %d, want %d", p.ScheduledTime, tc.scheduledAt)
			}
		})
	}
}

func TestLoadAlibabaErrors(t *testing.T) {
	const ph = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"
	tests := []struct {
		name, data, want string
		nodes            bool
	}{
		{"bad header", "sn,cpu,memory_mib,gpu,model\n", "header column 2", true},
		{"bad cpu", "sn,cpu_milli,memory_mib,gpu,model\nn1,abc,1,0,\n", "line 2: cpu_milli: not an integer", true},
		{"duplicate node", "sn,cpu_milli,memory_mib,gpu,model\nn1,1,1,0,\nn1,1,1,0,\n", "line 3: sn: duplicate", true},
		{"columns", "sn,cpu_milli,memory_mib,gpu,model\nn1,1,1\n", "wrong number of fields", true},
		{"empty", "", "empty file", false},
		{"qos", ph + "p,1,1,0,0,,XX,Running,0,1,0\n", "line 2: qos: unknown class", false},
		{"milli", ph + "p,1,1,1,1200,,LS,Running,0,1,0\n", "gpu_milli: must be at most 1000", false},
		{"share with many", ph + "p,1,1,2,500,,LS,Running,0,1,0\n", "only allowed with num_gpu 1", false},
		{"deleted before", ph + "p,1,1,0,0,,LS,Running,5,1,\n", "deletion_time", false},
		{"negative", ph + "p,-1,1,0,0,,LS,Running,0,1,0\n", "cpu_milli: must be at least 0", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.nodes {
				_, err = LoadAlibabaNodes(strings.NewReader(tc.data))
			} else {
				_, err = LoadAlibabaPods(strings.NewReader(tc.data))
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestReplayOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		mut  func(*ReplayOptions)
		want string
	}{
		{"zero scale", func(o *ReplayOptions) { o.TimeScale = 0 }, "timeScale"},
		{"negative start", func(o *ReplayOptions) { o.Start = -1 }, "start"},
		{"no namespace", func(o *ReplayOptions) { o.Namespace = "" }, "namespace"},
		{"ok", func(*ReplayOptions) {}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultReplayOptions()
			tc.mut(&o)
			err := o.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestReplayFixture replays the fixture at scale 10 on a full stack (scheduler,
// kubelets): pods are created at their scaled times, run for their scaled
// durations, complete, and free their resources for the pods that wait for them.
func TestReplayFixture(t *testing.T) {
	for _, scale := range []float64{1, 10} {
		t.Run(fmt.Sprintf("scale-%g", scale), func(t *testing.T) {
			nodes, pods := loadFixture(t)
			s := newStack(t, 7, true)
			s.addKubelets(t, nodes, 0)
			s.eng.RunUntil(sim.Time(5 * time.Second))
			opts := DefaultReplayOptions()
			opts.TimeScale = scale
			opts.Start = 10 * time.Second
			rp, err := NewReplay(s.eng, s.srv.Client("replay", 0, 0), pods, opts, s.tel)
			if err != nil {
				t.Fatal(err)
			}
			rp.Start()
			s.eng.RunUntil(sim.Time(opts.Start) + sim.Time(time.Duration(float64(400*time.Second)/scale)) + sim.Time(time.Minute))
			if !rp.Done() || rp.Created() != 6 || rp.Failed() != 0 {
				t.Fatalf("done %v created %d failed %d", rp.Done(), rp.Created(), rp.Failed())
			}
			// Creation times: opts.Start + trace seconds / scale.
			createdAt := map[string]sim.Time{}
			for _, r := range s.tel.records {
				if r.Component == ReplayComponent && r.Action == "create-pod" {
					createdAt[strings.TrimPrefix(r.Object, "pod/default/")] = r.Time
				}
			}
			for i := range pods {
				want := sim.Time(opts.Start + time.Duration(float64(pods[i].CreationTime)*float64(time.Second)/scale))
				if got := createdAt[pods[i].Name]; got != want {
					t.Errorf("%s created at %v, want %v", pods[i].Name, got, want)
				}
			}
			// pod-share (460 thousandths of a GPU, priority 0) lands on node-v100;
			// pod-v100-only (a whole V100, priority 2000) cannot share that GPU
			// (the default profile's GPUShare filter) and preempts it.
			got := s.pods(t)
			if _, ok := got["pod-share"]; ok || len(got) != len(pods)-1 {
				t.Fatalf("%d pods stored (pod-share present: %v), want %d without the preempted pod-share", len(got), ok, len(pods)-1)
			}
			wantNode := map[string]api.NodeName{
				"pod-cpu-big": "node-cpu", "pod-cpu-late": "node-cpu", "pod-t4-whole": "node-t4",
				"pod-two-gpus": "node-t4", "pod-v100-only": "node-v100",
			}
			for name, p := range got {
				if p.Status.Phase != api.PodSucceeded {
					t.Errorf("%s phase %s, want Succeeded", name, p.Status.Phase)
				}
				if w, ok := wantNode[name]; ok && p.Spec.NodeName != w {
					t.Errorf("%s on %s, want %s", name, p.Spec.NodeName, w)
				}
				if p.Spec.Priority != map[string]int32{QoSLS: 2000, QoSBE: 0, QoSBurstable: 1000, QoSGuaranteed: 3000}[p.Labels[LabelQoS]] {
					t.Errorf("%s priority %d for qos %s", name, p.Spec.Priority, p.Labels[LabelQoS])
				}
			}
			// The waiting pods were bound only after the pods holding their
			// resources had finished.
			for _, w := range [][2]string{{"pod-cpu-late", "pod-cpu-big"}, {"pod-two-gpus", "pod-t4-whole"}} {
				bound := got[w[0]].Condition(api.PodScheduled)
				holder := got[w[1]]
				end := holder.Status.StartTime.Add(time.Duration(float64(holder.Spec.Containers[0].RunDuration)))
				if bound == nil || bound.LastTransitionTime < end {
					t.Errorf("%s bound at %v, before %s (started %v) could have ended at %v", w[0], bound, w[1], *holder.Status.StartTime, end)
				}
			}
			if d := got["pod-cpu-big"].Spec.Containers[0].RunDuration; d != time.Duration(float64(100*time.Second)/scale) {
				t.Errorf("run duration %v", d)
			}
		})
	}
}
