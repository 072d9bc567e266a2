package scheduler

import (
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/plugins/noderesources"
	"github.com/kubesim/kubesim/sim"
)

// binPacking is the default profile with NodeResourcesFit's MostAllocated
// strategy, named bin-packing-scheduler.
func binPacking() Profile {
	p := DefaultProfile()
	p.SchedulerName = "bin-packing-scheduler"
	for i := range p.Plugins {
		if p.Plugins[i].Name == NodeResourcesFit {
			p.Plugins[i].Args = &noderesources.FitArgs{ScoringStrategy: &noderesources.ScoringStrategy{
				Type: noderesources.MostAllocated, Resources: noderesources.DefaultResources()}}
		}
	}
	return p
}

func twoProfiles(t *testing.T) Config {
	t.Helper()
	cfg := DefaultConfig()
	def := DefaultProfile()
	def.SchedulerName = api.DefaultSchedulerName
	if err := SetProfiles(&cfg, []Profile{def, binPacking()}); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestProfilesBySchedulerName: one scheduler, two profiles. Two small nodes (4
// CPU, 8 GiB) and two big ones (32 CPU, 64 GiB). A 1 CPU / 1 GiB pod scores
// NodeResourcesFit LeastAllocated (75+87)/2 = 81 on a small node and (96+98)/2 =
// 97 on a big one, so the default profile picks a big node; MostAllocated scores
// (25+12)/2 = 18 small and (3+1)/2 = 2 big, which outweighs BalancedAllocation's
// 93 vs 99, so bin-packing-scheduler picks a small node. A pod naming a scheduler
// no profile has stays Pending, counted and explained.
func TestProfilesBySchedulerName(t *testing.T) {
	s := newStack(t, 1)
	cfg := twoProfiles(t)
	var decisions []Decision
	cfg.OnDecision = func(d Decision) { decisions = append(decisions, d) }
	sch := s.startScheduler(t, cfg)
	for _, n := range []*api.Node{
		testNode("small-1", 4000, 8*gi, nil), testNode("small-2", 4000, 8*gi, nil),
		testNode("big-1", 32000, 64*gi, nil), testNode("big-2", 32000, 64*gi, nil),
	} {
		s.create(t, n)
	}
	s.eng.RunUntil(sim.Time(time.Second))
	pods := map[string]string{"web": api.DefaultSchedulerName, "batch": "bin-packing-scheduler", "orphan": "gang-scheduler"}
	for _, name := range []string{"web", "batch", "orphan"} {
		p := testPod(name, 1000, gi)
		p.Labels = nil // no default spreading selector
		p.Spec.SchedulerName = pods[name]
		s.create(t, p)
	}
	s.eng.RunUntil(sim.Time(10 * time.Second))
	if n := storedPod(t, s, "web").Spec.NodeName; !strings.HasPrefix(string(n), "big-") {
		t.Errorf("default-scheduler pod on %q, want a big node", n)
	}
	if n := storedPod(t, s, "batch").Spec.NodeName; !strings.HasPrefix(string(n), "small-") {
		t.Errorf("bin-packing-scheduler pod on %q, want a small node", n)
	}
	if n := storedPod(t, s, "orphan").Spec.NodeName; n != "" {
		t.Errorf("pod of an unknown scheduler bound to %q", n)
	}
	st := sch.Stats()
	if st.Scheduled != 2 || st.NoProfilePending != 1 || st.NoProfileSeen != 1 || st.Attempts != 2 {
		t.Errorf("stats = %+v, want 2 scheduled, 1 pending for no profile", st)
	}
	byPod := map[string]Decision{}
	for _, d := range decisions {
		byPod[d.Pod] = d
	}
	if d := byPod["pod/default/web"]; d.Profile != api.DefaultSchedulerName || d.Outcome != "scheduled" {
		t.Errorf("web decision = %+v", d)
	}
	if d := byPod["pod/default/batch"]; d.Profile != "bin-packing-scheduler" || d.Outcome != "scheduled" {
		t.Errorf("batch decision = %+v", d)
	}
	if d := byPod["pod/default/orphan"]; d.Profile != "gang-scheduler" || d.Outcome != OutcomeNoProfile ||
		!strings.Contains(d.Message, `"gang-scheduler" names no profile`) || !strings.Contains(d.Message, "bin-packing-scheduler, default-scheduler") {
		t.Errorf("orphan decision = %+v", d)
	}
	if got := s.tel.actions(Component)["ignored"]; got != 1 {
		t.Errorf("%d ignored traces, want 1", got)
	}
	// Deleting the orphan forgets it.
	s.admin.Delete(api.KindPod, api.NamespaceDefault, "orphan", apiserver.DeleteOptions{}, nil)
	s.eng.RunUntil(sim.Time(20 * time.Second))
	if st := sch.Stats(); st.NoProfilePending != 0 || st.NoProfileSeen != 1 {
		t.Errorf("after delete: stats = %+v", st)
	}
}

// TestProfilesPercentage: each profile samples with its own
// percentageOfNodesToScore, else the global one.
func TestProfilesPercentage(t *testing.T) {
	cfg := twoProfiles(t)
	cfg.PercentageOfNodesToScore = 40
	ten := int32(10)
	cfg.Profiles[1].PercentageOfNodesToScore = &ten
	s := newStack(t, 1)
	sch := s.startScheduler(t, cfg)
	if got := []int32{sch.profiles[0].percentage, sch.profiles[1].percentage}; got[0] != 40 || got[1] != 10 {
		t.Errorf("percentages = %v, want [40 10]", got)
	}
}

func TestProfilesValidation(t *testing.T) {
	noSort := DefaultProfile()
	noSort.SchedulerName = "no-sort"
	noSort.Plugins = noSort.Plugins[1:] // without PrioritySort
	for _, tc := range []struct {
		name     string
		profiles []Profile
		want     string
	}{
		{"duplicate", []Profile{DefaultProfile(), DefaultProfile()}, `profiles[1].schedulerName: Duplicate value: "default-scheduler"`},
		{"queue sort differs", []Profile{DefaultProfile(), noSort}, `profiles[1]`},
		{"bad percentage", []Profile{DefaultProfile(), func() Profile { p := binPacking(); v := int32(101); p.PercentageOfNodesToScore = &v; return p }()},
			`profiles[1].percentageOfNodesToScore: Invalid value: 101: not in valid range [0-100]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Profiles = tc.profiles
			s := newStack(t, 1)
			_, err := New(s.eng, s.srv.Client(Component, 50, 100), cfg, NewRegistry(), s.reg, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	// A second QueueSort plug-in registered under another name: same role,
	// different plug-in, so the profiles disagree.
	reg := NewRegistry()
	f, _ := reg.Factory(PrioritySort)
	if err := reg.Register("OtherSort", func(args any, h framework.Handle) (framework.Plugin, error) {
		pl, err := f(args, h)
		return otherSort{pl.(framework.QueueSortPlugin)}, err
	}); err != nil {
		t.Fatal(err)
	}
	other := binPacking()
	other.Plugins[0].Name = "OtherSort"
	cfg := DefaultConfig()
	cfg.Profiles = []Profile{DefaultProfile(), other}
	s := newStack(t, 1)
	_, err := New(s.eng, s.srv.Client(Component, 50, 100), cfg, reg, s.reg, nil)
	if err == nil || !strings.Contains(err.Error(), `profiles[1].plugins.queueSort: Invalid value: "OtherSort": has to match for all profiles`) {
		t.Fatalf("error = %v", err)
	}
}

type otherSort struct{ framework.QueueSortPlugin }

func (otherSort) Name() string { return "OtherSort" }

// TestSingleProfileUnchanged: a Config without Profiles is one profile named
// SchedulerName, as before.
func TestSingleProfileUnchanged(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SchedulerName = "my-scheduler"
	if got := cfg.ProfileNames(); len(got) != 1 || got[0] != "my-scheduler" {
		t.Errorf("profile names = %v", got)
	}
}

// TestProfileWithRawPolicy: a profile may run a raw policy; the other profile's
// pods keep the framework's filter and score.
func TestProfileWithRawPolicy(t *testing.T) {
	cfg := DefaultConfig()
	def := DefaultProfile()
	ff := PolicyProfile(PolicyFirstFit, nil)
	ff.SchedulerName = "first-fit-scheduler"
	if err := SetProfiles(&cfg, []Profile{def, ff}); err != nil {
		t.Fatal(err)
	}
	var decisions []Decision
	cfg.OnDecision = func(d Decision) { decisions = append(decisions, d) }
	s := newStack(t, 1)
	reg := NewRegistry()
	if err := RegisterPolicies(reg); err != nil {
		t.Fatal(err)
	}
	sch, err := New(s.eng, s.srv.Client(Component, 50, 100), cfg, reg, s.reg, s.tel)
	if err != nil {
		t.Fatal(err)
	}
	sch.Start()
	s.create(t, testNode("n1", 4000, 8*gi, nil))
	s.create(t, testNode("n2", 4000, 8*gi, nil))
	s.eng.RunUntil(sim.Time(time.Second))
	for _, name := range []string{"a", "b"} {
		p := testPod(name, 1000, gi)
		p.Labels = nil
		if name == "b" {
			p.Spec.SchedulerName = "first-fit-scheduler"
		}
		s.create(t, p)
	}
	s.eng.RunUntil(sim.Time(10 * time.Second))
	if st := sch.Stats(); st.Scheduled != 2 {
		t.Fatalf("stats = %+v", st)
	}
	policyTraces := 0
	for _, r := range s.tel.records {
		if r.Component == Component && r.Action == "policy" {
			policyTraces++
			if r.Object != "pod/default/b" {
				t.Errorf("policy ran for %s", r.Object)
			}
		}
	}
	if policyTraces != 1 {
		t.Errorf("%d policy traces, want 1 (pod b)", policyTraces)
	}
	for _, d := range decisions {
		if (d.Pod == "pod/default/b") != (d.Profile == "first-fit-scheduler") {
			t.Errorf("decision %s made by profile %s", d.Pod, d.Profile)
		}
		if d.Pod == "pod/default/a" && len(d.ScorePlugins) == 0 {
			t.Errorf("pod a was not scored by the default profile")
		}
	}
}
