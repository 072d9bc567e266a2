package scheduler

import (
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/plugins/noderesources"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"default", func(*Config) {}, ""},
		{"no scheduler name", func(c *Config) { c.SchedulerName = "" }, "schedulerName"},
		{"percentage", func(c *Config) { c.PercentageOfNodesToScore = 101 }, "percentageOfNodesToScore"},
		{"max below initial", func(c *Config) { c.PodMaxBackoff = 500 * time.Millisecond }, "podMaxBackoff"},
		{"backoff disabled", func(c *Config) { c.PodMaxBackoff = 0 }, ""},
		{"bad latency", func(c *Config) { c.CycleLatency = dist.Spec{Kind: "gamma"} }, "cycleLatency: unknown distribution"},
		{"negative per-node latency", func(c *Config) { c.PerNodeLatency = -1 }, "perNodeLatency"},
		{"unknown plug-in", func(c *Config) { c.Profile.Plugins = append(c.Profile.Plugins, PluginConfig{Name: "Magic"}) },
			`profile.plugins[15].name: unknown scheduler plug-in "Magic" (known: DefaultBinder, DefaultPreemption, GPUShare, ImageLocality`},
		{"duplicate plug-in", func(c *Config) { c.Profile.Plugins = append(c.Profile.Plugins, PluginConfig{Name: ImageLocality}) }, "enabled twice"},
		{"no queue sort", func(c *Config) { c.Profile.Plugins = c.Profile.Plugins[1:] }, "QueueSort plug-in is required"},
		{"no binder", func(c *Config) { c.Profile.Plugins = c.Profile.Plugins[:len(c.Profile.Plugins)-1] }, "Bind plug-in is required"},
		{"negative weight", func(c *Config) { c.Profile.Plugins[3].Weight = -1 }, "profile.plugins[3].weight"},
		{"bad plug-in args", func(c *Config) {
			c.Profile.Plugins[6].Args = noderesources.FitArgs{ScoringStrategy: &noderesources.ScoringStrategy{Type: "x", Resources: noderesources.DefaultResources()}}
		}, "profile.plugins[6].args"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mutate(&c)
			err := c.Validate(dist.NewRegistry(), NewRegistry())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want mention of %q", err, tc.wantErr)
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	if len(r.Names()) != 15 { // the 14 upstream plug-ins kubesim models, and GPUShare
		t.Errorf("in-tree plug-ins %v", r.Names())
	}
	if err := r.Register(ImageLocality, nil); err == nil {
		t.Error("nil factory accepted")
	}
	f, _ := r.Factory(PrioritySort)
	if err := r.Register(PrioritySort, f); err == nil {
		t.Error("duplicate registration accepted")
	}
	if err := r.Register("Custom", func(any, framework.Handle) (framework.Plugin, error) { return nil, nil }); err != nil {
		t.Error(err)
	}
}

func TestProfileWeightsAndDisable(t *testing.T) {
	p := DefaultProfile()
	p.Plugins[3].DisableScore = true // TaintToleration: filter only
	p.Plugins[12].Weight = 0         // ImageLocality: default weight 1
	rt, err := newFramework(p, NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range rt.score {
		got = append(got, e.pl.Name()+":"+string(rune('0'+e.weight)))
	}
	if strings.Join(got, ",") != "NodeAffinity:2,NodeResourcesFit:1,PodTopologySpread:2,InterPodAffinity:2,NodeResourcesBalancedAllocation:1,ImageLocality:1" {
		t.Errorf("score plug-ins %v", got)
	}
	if len(rt.filter) != 10 { // with GPUShare, VolumeBinding, PodTopologySpread, InterPodAffinity
		t.Errorf("%d filters, want 10", len(rt.filter))
	}
}
