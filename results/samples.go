package results

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/kubesim/kubesim/sim"
)

// SamplesFile is the name of a run directory's raw measurements.
const SamplesFile = "samples.json"

// Names of raw samples (seconds) beyond the collector's metrics, which keep their
// own names (pod_startup_seconds, request_latency_seconds, proxy_programming_seconds
// ...). Real runs record them from the adapters; simulated runs of validate record
// the same ones through the same decorators, so the two compare.
const (
	SampleRuntimeCreate   = "runtime_create_seconds"        // container create: call to completion
	SampleRuntimeStart    = "runtime_start_seconds"         // container start: call to completion
	SampleRuntimePull     = "runtime_pull_seconds"          // image pull (or presence check) call to completion
	SampleImageInspect    = "runtime_image_inspect_seconds" // one local image inspect (real runs)
	SampleContainerReady  = "container_ready_seconds"       // start done to first successful HTTP probe (real runs)
	SampleEtcdCommit      = "etcd_commit_seconds"           // one etcd commit: proposal to applied
	SampleProxySync       = "proxy_sync_seconds"            // one dataplane reprogramming (real proxy)
	SampleRecoveryKill    = "container_kill_recovery_seconds"
	SampleRequestsFailed  = "requests_failed"     // one value: failed requests of the run
	SampleRequestsTotal   = "requests_total"      // one value: answered or failed requests
	SampleRequestErrRate  = "request_error_ratio" // one value: failed / total
	SampleDeploymentReady = "deployment_ready_seconds"
	// SampleContainerRestarts: one value, the restarts of every container of the
	// pods at the end (kubelet restarts after kills and crashes).
	SampleContainerRestarts = "container_restarts"
	// SampleRequestsOKAfterRecovery: one value, the requests answered after the
	// recovery from the first container kill.
	SampleRequestsOKAfterRecovery = "requests_ok_after_kill_recovery"
)

// StepSample is the sample name of step s's per-object latencies.
func StepSample(s int) string { return fmt.Sprintf("step%d_latency_seconds", s) }

// RunSamples are the raw measurements of one run: named lists of values (seconds
// unless the name says otherwise), in the order they were taken.
type RunSamples struct {
	Version  string               `json:"kubesim_version"`
	Scenario string               `json:"scenario"`
	Seed     uint64               `json:"seed"`
	Mode     string               `json:"mode"` // "real" or "simulated"
	Notes    []string             `json:"notes,omitempty"`
	Samples  map[string][]float64 `json:"samples"`
}

// Add appends values to a named sample list.
func (r *RunSamples) Add(name string, v ...float64) {
	if r.Samples == nil {
		r.Samples = map[string][]float64{}
	}
	r.Samples[name] = append(r.Samples[name], v...)
}

// FromCollector adds every metric the collector observed and the per-object
// latencies of the seven steps, from the step records before stepsBefore (0: all
// of them; else the collector must keep step records).
func (r *RunSamples) FromCollector(c *Collector, stepsBefore sim.Time) {
	for _, name := range c.MetricNames() {
		for _, s := range c.Metric(name) {
			r.Add(name, s.V)
		}
	}
	lat := c.StepLatencies()
	if stepsBefore > 0 {
		lat = c.StepLatenciesBefore(stepsBefore)
	}
	for s := 1; s <= 7; s++ {
		if len(lat[s]) > 0 {
			r.Add(StepSample(s), lat[s]...)
		}
	}
}

// MarshalJSON writes the samples with sorted names and shortest float formatting,
// so a run's file is deterministic.
func (r *RunSamples) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	head, err := json.Marshal(struct {
		Version  string   `json:"kubesim_version"`
		Scenario string   `json:"scenario"`
		Seed     uint64   `json:"seed"`
		Mode     string   `json:"mode"`
		Notes    []string `json:"notes,omitempty"`
	}{r.Version, r.Scenario, r.Seed, r.Mode, r.Notes})
	if err != nil {
		return nil, err
	}
	b.Write(head[:len(head)-1])
	b.WriteString(`,"samples":{`)
	names := make([]string, 0, len(r.Samples))
	for k := range r.Samples {
		names = append(names, k)
	}
	sort.Strings(names)
	for i, k := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.WriteString("\n  ")
		b.Write(kb)
		b.WriteString(":[")
		for j, v := range r.Samples[k] {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
		b.WriteByte(']')
	}
	b.WriteString("\n}}\n")
	return b.Bytes(), nil
}

// WriteSamples writes r as JSON.
func WriteSamples(w io.Writer, r *RunSamples) error {
	b, err := r.MarshalJSON()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// ReadSamples reads a samples file (a run directory's samples.json, or the
// directory itself).
func ReadSamples(path string) (*RunSamples, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = strings.TrimSuffix(path, "/") + "/" + SamplesFile
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r RunSamples
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Samples == nil {
		return nil, fmt.Errorf("%s: no \"samples\" object", path)
	}
	for k, v := range r.Samples {
		for i, x := range v {
			if x != x || x < 0 {
				return nil, fmt.Errorf("%s: samples[%q][%d] = %v: want a non-negative number", path, k, i, x)
			}
		}
	}
	return &r, nil
}
