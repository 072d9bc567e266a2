package schedconfig

import (
	"strings"
	"testing"

	"github.com/kubesim/kubesim/model/scheduler"
	"github.com/kubesim/kubesim/model/scheduler/plugins/noderesources"
	"github.com/kubesim/kubesim/model/scheduler/plugins/podtopologyspread"
)

// binPacking is the MostAllocated example of the Kubernetes documentation
// ("Resource Bin Packing", concepts/scheduling-eviction/resource-bin-packing),
// with cpu and memory only (the extended resources of the page are unknown here).
const binPacking = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
leaderElection:
  leaderElect: false
clientConnection:
  kubeconfig: /etc/kubernetes/scheduler.conf
parallelism: 16
profiles:
- pluginConfig:
  - args:
      scoringStrategy:
        resources:
        - name: cpu
          weight: 1
        - name: memory
          weight: 1
        type: MostAllocated
    name: NodeResourcesFit
`

func find(p scheduler.Profile, name string) *scheduler.PluginConfig {
	for i := range p.Plugins {
		if p.Plugins[i].Name == name {
			return &p.Plugins[i]
		}
	}
	return nil
}

func TestLoadBinPacking(t *testing.T) {
	r, err := Load("bp.yaml", []byte(binPacking))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Profiles) != 1 {
		t.Fatalf("profiles = %d, want 1", len(r.Profiles))
	}
	p := r.Profiles[0]
	if p.SchedulerName != "default-scheduler" {
		t.Errorf("schedulerName = %q", p.SchedulerName)
	}
	if len(p.Plugins) != len(scheduler.DefaultProfile().Plugins) {
		t.Errorf("plug-ins = %d, want the %d defaults", len(p.Plugins), len(scheduler.DefaultProfile().Plugins))
	}
	fit := find(p, scheduler.NodeResourcesFit)
	a, ok := fit.Args.(*noderesources.FitArgs)
	if !ok || a.ScoringStrategy.Type != noderesources.MostAllocated || len(a.ScoringStrategy.Resources) != 2 {
		t.Fatalf("fit args = %#v", fit.Args)
	}
	if w := find(p, scheduler.TaintToleration).Weight; w != 3 {
		t.Errorf("TaintToleration weight = %d, want the default 3", w)
	}
}

func TestLoadPluginsAndArgs(t *testing.T) {
	const cfg = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 30
podInitialBackoffSeconds: 2
profiles:
- schedulerName: packer
  percentageOfNodesToScore: 100
  plugins:
    score:
      disabled:
      - name: PodTopologySpread
      - name: NodeResourcesBalancedAllocation
      enabled:
      - name: NodeResourcesFit
        weight: 5
    filter:
      disabled:
      - name: VolumeRestrictions
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: RequestedToCapacityRatio
        resources:
        - name: cpu
          weight: 2
        - name: memory
        requestedToCapacityRatio:
          shape:
          - utilization: 0
            score: 0
          - utilization: 100
            score: 10
  - name: PodTopologySpread
    args:
      defaultConstraints:
      - maxSkew: 1
        topologyKey: topology.kubernetes.io/zone
        whenUnsatisfiable: ScheduleAnyway
  - name: InterPodAffinity
    args:
      hardPodAffinityWeight: 7
  - name: NodeAffinity
    args:
      addedAffinity:
        requiredDuringSchedulingIgnoredDuringExecution:
          nodeSelectorTerms:
          - matchExpressions:
            - key: pool
              operator: In
              values: [batch]
`
	r, err := Load("c.yaml", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if *r.PercentageOfNodesToScore != 30 || r.PodInitialBackoff.Seconds() != 2 {
		t.Errorf("globals = %v %v", *r.PercentageOfNodesToScore, *r.PodInitialBackoff)
	}
	p := r.Profiles[0]
	if p.SchedulerName != "packer" || *p.PercentageOfNodesToScore != 100 {
		t.Errorf("profile = %q %v", p.SchedulerName, *p.PercentageOfNodesToScore)
	}
	if pc := find(p, scheduler.PodTopologySpread); !pc.DisableScore || pc.DisableFilter {
		t.Errorf("PodTopologySpread = %+v, want filter only", pc)
	}
	if pc := find(p, scheduler.NodeResourcesBalancedAllocation); !pc.DisableScore {
		t.Errorf("BalancedAllocation = %+v, want score disabled", pc)
	}
	fit := find(p, scheduler.NodeResourcesFit)
	if fit.Weight != 5 || fit.DisableScore {
		t.Errorf("fit = %+v", fit)
	}
	st := fit.Args.(*noderesources.FitArgs).ScoringStrategy
	if st.Type != noderesources.RequestedToCapacityRatio || len(st.Shape) != 2 || st.Resources[1].Weight != 1 || st.Resources[0].Weight != 2 {
		t.Errorf("strategy = %+v", st)
	}
	if a := find(p, scheduler.PodTopologySpread).Args.(*podtopologyspread.Args); a.DefaultingType != podtopologyspread.ListDefaulting || len(a.DefaultConstraints) != 1 {
		t.Errorf("spread args = %+v", a)
	}
	var c scheduler.Config = scheduler.DefaultConfig()
	if err := r.Apply(&c); err != nil || c.SchedulerName != "packer" || c.PercentageOfNodesToScore != 30 || len(c.Profiles) != 1 || *c.Profiles[0].PercentageOfNodesToScore != 100 {
		t.Errorf("apply: %v %q %d %d", err, c.SchedulerName, c.PercentageOfNodesToScore, len(c.Profiles))
	}
}

func TestLoadMultiPointStar(t *testing.T) {
	const cfg = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- plugins:
    multiPoint:
      disabled:
      - name: "*"
      enabled:
      - name: PrioritySort
      - name: NodeResourcesFit
        weight: 2
      - name: DefaultBinder
`
	r, err := Load("c.yaml", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pc := range r.Profiles[0].Plugins {
		got = append(got, pc.Name)
	}
	if strings.Join(got, ",") != "PrioritySort,NodeResourcesFit,DefaultBinder" {
		t.Errorf("plug-ins = %v", got)
	}
}

func TestLoadErrors(t *testing.T) {
	head := "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"apiVersion", "apiVersion: kubescheduler.config.k8s.io/v1beta3\nkind: KubeSchedulerConfiguration\n", `c.yaml:1: apiVersion: want "kubescheduler.config.k8s.io/v1"`},
		{"kind", "apiVersion: kubescheduler.config.k8s.io/v1\nkind: Foo\n", `c.yaml:2: kind:`},
		{"unknown top field", head + "bogus: 1\n", `c.yaml:3: unknown field "bogus" in the top level`},
		{"unknown profile field", head + "profiles:\n- schedulerName: x\n  plugin: {}\n", `c.yaml:5: unknown field "plugin" in profiles[0]`},
		{"unknown args field", head + "profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args:\n      scoringStrategy:\n        typ: MostAllocated\n", `c.yaml:8: unknown field "typ" in profiles[0].pluginConfig[0].args.scoringStrategy`},
		{"unknown plug-in", head + "profiles:\n- plugins:\n    score:\n      enabled:\n      - name: Coscheduling\n", `c.yaml:7: profiles[0].plugins.score.enabled[0]: plug-in "Coscheduling" is not supported by kubesim (supported: `},
		{"unmodelled plug-in enabled", head + "profiles:\n- plugins:\n    filter:\n      enabled:\n      - name: VolumeZone\n", `plug-in "VolumeZone" is not supported`},
		{"args of unsupported plug-in", head + "profiles:\n- pluginConfig:\n  - name: DefaultPreemption\n    args: {minCandidateNodesPercentage: 10}\n", `c.yaml:5: profiles[0].pluginConfig[0]: arguments of plug-in "DefaultPreemption" are not supported`},
		{"bad strategy", head + "profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args:\n      scoringStrategy: {type: Tightest}\n", `scoringStrategy.type: unknown "Tightest"`},
		{"extenders", head + "extenders:\n- urlPrefix: http://x\n", `c.yaml:4: extenders: not supported`},
		{"duplicate scheduler name", head + "profiles:\n- schedulerName: a\n- schedulerName: a\n", `c.yaml:5: profiles[1].schedulerName: Duplicate value: "a"`},
		{"percentage", head + "percentageOfNodesToScore: 101\n", `c.yaml:3: percentageOfNodesToScore: Invalid value: 101: not in valid range [0-100]`},
		{"no binder", head + "profiles:\n- plugins:\n    bind:\n      disabled:\n      - name: '*'\n", `a Bind plug-in is required`},
		{"bad yaml", head + "profiles: [\n", `c.yaml: yaml:`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("c.yaml", []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestLoadProfilesWithPolicy: several profiles, one of them placing its pods with a
// raw policy; the global percentage stays global and each profile keeps its own.
func TestLoadProfilesWithPolicy(t *testing.T) {
	const cfg = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 20
profiles:
- schedulerName: default-scheduler
- schedulerName: gpu-scheduler
  percentageOfNodesToScore: 100
  plugins:
    multiPoint:
      enabled:
      - name: fgd
`
	r, err := Load("c.yaml", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Profiles) != 2 || r.Profiles[1].SchedulerName != "gpu-scheduler" || find(r.Profiles[1], "fgd").Name != "fgd" {
		t.Fatalf("profiles = %+v", r.Profiles)
	}
	c := scheduler.DefaultConfig()
	if err := r.Apply(&c); err != nil {
		t.Fatal(err)
	}
	if got := c.ProfileNames(); strings.Join(got, ",") != "default-scheduler,gpu-scheduler" || c.PercentageOfNodesToScore != 20 || *c.Profiles[1].PercentageOfNodesToScore != 100 {
		t.Errorf("applied: names %v, global %d", got, c.PercentageOfNodesToScore)
	}
}
