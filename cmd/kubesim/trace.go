package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/kubesim/kubesim/model/cluster"
	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/model/workload"
)

// traceData is a scenario's trace, read once and shared read-only by its runs.
type traceData struct {
	nodes []workload.NodeSpec
	pods  []workload.AlibabaPod
}

var traces sync.Map // *scenario.Scenario -> *traceData

// clusterOptions returns the options of one run of sc: its seed and policy, and the
// scenario's trace (the files are read here: the model does no I/O). Paths are
// relative to the scenario file (to the working directory for built-ins).
func clusterOptions(sc *scenario.Scenario, seed uint64, policy string) (cluster.Options, error) {
	opts := cluster.Options{Seed: seed, Policy: policy}
	if isExtenderURL(policy) {
		opts = withExtender(opts, policy)
		opts.Policy = strings.TrimSuffix(policy, "/")
	}
	if cluster.IsProfileFile(policy) { // explain_sched.go: a KubeSchedulerConfiguration file
		var err error
		if opts, err = withProfileFile(opts, policy); err != nil {
			return opts, err
		}
	}
	if ms, err := scenarioManifests(sc); err != nil { // manifests.go
		return opts, err
	} else {
		opts.Manifests = ms
	}
	if _, ok := cluster.IsKubeSchedulerConfig(policy); ok { // kubescheduler.go
		var err error
		if opts, err = withKubeSchedulerConfig(opts, policy); err != nil {
			return opts, err
		}
	}
	tr := sc.Trace
	if tr == nil {
		return opts, nil
	}
	if v, ok := traces.Load(sc); ok {
		td := v.(*traceData)
		opts.TraceNodes, opts.TracePods = td.nodes, td.pods
		return opts, nil
	}
	base := "."
	if f := sc.File(); f != "" && !strings.HasSuffix(f, "(built-in)") {
		base = filepath.Dir(f)
	}
	open := func(field, p string) (*os.File, error) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(base, p)
		}
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, badInput("%s: trace.%s: %s: no such file", sc.File(), field, p)
		}
		if err != nil {
			return nil, badInput("%s: trace.%s: %v", sc.File(), field, err)
		}
		return f, nil
	}
	td := &traceData{}
	if tr.Nodes != "" {
		f, err := open("nodes", tr.Nodes)
		if err != nil {
			return opts, err
		}
		td.nodes, err = workload.LoadAlibabaNodes(f)
		f.Close()
		if err != nil {
			return opts, badInput("%s: trace.nodes: %v", sc.File(), err)
		}
	}
	f, err := open("pods", tr.Pods)
	if err != nil {
		return opts, err
	}
	td.pods, err = workload.LoadAlibabaPods(f)
	f.Close()
	if err != nil {
		return opts, badInput("%s: trace.pods: %v", sc.File(), err)
	}
	if tr.Nodes != "" && len(td.nodes) == 0 {
		return opts, badInput("%s: trace.nodes: the node list is empty", sc.File())
	}
	traces.Store(sc, td)
	opts.TraceNodes, opts.TracePods = td.nodes, td.pods
	return opts, nil
}
