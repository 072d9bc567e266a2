package results

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/sim"
)

// RunInfo describes a finished run.
type RunInfo struct {
	Version  string
	Scenario string
	Seed     uint64
	End      sim.Time // virtual time the run stopped at
	Events   uint64   // engine events run
}

// Final is the cluster's state when the run stopped, read from the store, and the
// clients' request counts.
type Final struct {
	Nodes       []*api.Node
	Pods        []*api.Pod
	Deployments []*api.Deployment
	Requests    []RequestStats
	// Faults injected, in injection order, and the periods during which fewer
	// replicas were ready on healthy nodes than the Deployments desire.
	Faults   []FaultRecord
	Degraded []Period
	// Research are run-level values the cluster computed (throughput, makespan);
	// they are added to the summary in key order.
	Research map[string]float64
}

// FaultRecord is one injected fault. RecoveredAt is when every Deployment again had
// its desired replicas ready on healthy nodes after it (0 = not within the run).
type FaultRecord struct {
	Name, Kind, Target string
	At, RepairedAt     sim.Time
	RecoveredAt        sim.Time
}

// Period is a span of virtual time; End 0 means it lasted to the end of the run.
type Period struct{ Start, End sim.Time }

// RequestStats counts one client population's requests.
type RequestStats struct {
	Name     string
	Sent     uint64
	OK       uint64
	Failed   uint64
	InFlight uint64
	FailedBy []ReasonCount // sorted by reason
}

// ReasonCount is the number of requests that failed for one reason.
type ReasonCount struct {
	Reason string
	Count  uint64
}

// Entry is one summary value: a float64, an int64 or a string.
type Entry struct {
	Key   string
	Value any
}

// Summary is an ordered set of flat keys.
type Summary struct {
	Entries []Entry
	// NodeRows are per-node allocation rows for the table (not flat keys).
	NodeRows []NodeAlloc
	// StepRows describe the seven steps for the table.
	StepRows []StepStat
}

// NodeAlloc is a node's share of allocatable CPU and memory requested by its pods.
type NodeAlloc struct {
	Node             string
	Pods             int
	CPURequestMilli  int64
	CPUAllocMilli    int64
	MemRequestBytes  int64
	MemAllocBytes    int64
	CPURatio, MemRat float64
}

// StepStat summarizes one step of the story.
type StepStat struct {
	Step       int
	Title      string
	Records    int
	First      sim.Time // first record
	P50, Max   float64  // latency over objects, seconds
	NumObjects int
}

func (s *Summary) add(k string, v any) { s.Entries = append(s.Entries, Entry{k, v}) }

// Get returns the value of a key.
func (s *Summary) Get(key string) (any, bool) {
	for _, e := range s.Entries {
		if e.Key == key {
			return e.Value, true
		}
	}
	return nil, false
}

// MarshalJSON writes the entries as one flat JSON object, in order.
func (s *Summary) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, e := range s.Entries {
		k, _ := json.Marshal(e.Key)
		b.WriteString("  ")
		b.Write(k)
		b.WriteString(": ")
		b.WriteString(formatJSONValue(e.Value))
		if i < len(s.Entries)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}")
	return b.Bytes(), nil
}

func formatJSONValue(v any) string {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "null"
		}
		return strconv.FormatFloat(x, 'g', 10, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case uint64:
		return strconv.FormatUint(x, 10)
	case string:
		b, _ := json.Marshal(x)
		return string(b)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// StepTitles are the seven steps of the Nginx flow, as kubesim narrates them
// (after ../shared/reference/000_53e3f84f8d5458cb.txt, with the real mechanism).
var StepTitles = [8]string{
	"outside the story",
	"nodes register; their state is stored in etcd",
	"the request to deploy nginx reaches the apiserver",
	"the scheduler picks a node; the binding is written to etcd",
	"the node's kubelet learns of the pod through its watch",
	"the kubelet has Docker pull and start the container",
	"kube-proxy programs the Service so clients reach the pods",
	"the controller-manager sees desired state reached",
}

// Summarize computes the summary of a run.
func Summarize(info RunInfo, c *Collector, final Final) *Summary {
	s := &Summary{}
	s.add("kubesim_version", info.Version)
	s.add("scenario", info.Scenario)
	s.add("seed", info.Seed)
	s.add("end_time_s", info.End.Seconds())
	s.add("events", info.Events)

	// The seven steps.
	s.StepRows = c.steps.stats()
	for _, st := range s.StepRows {
		p := fmt.Sprintf("step%d_", st.Step)
		if st.Records == 0 {
			s.add(p+"records", int64(0))
			continue
		}
		s.add(p+"records", int64(st.Records))
		s.add(p+"first_s", st.First.Seconds())
		s.add(p+"latency_p50_s", st.P50)
		s.add(p+"latency_max_s", st.Max)
	}

	// Final state.
	ready, running, bound, pending := 0, 0, 0, 0
	for _, p := range final.Pods {
		if p.IsTerminal() {
			continue
		}
		if p.Spec.NodeName != "" {
			bound++
		} else {
			pending++
		}
		if p.Status.Phase == api.PodRunning {
			running++
		}
		if p.IsReady() {
			ready++
		}
	}
	s.add("nodes", int64(len(final.Nodes)))
	readyNodes := 0
	for _, n := range final.Nodes {
		if n.IsReady() {
			readyNodes++
		}
	}
	s.add("nodes_ready", int64(readyNodes))
	s.add("pods", int64(len(final.Pods)))
	s.add("pods_bound", int64(bound))
	s.add("pods_unscheduled", int64(pending))
	s.add("pods_running", int64(running))
	s.add("pods_ready", int64(ready))
	var desired, rready, avail int64
	for _, d := range final.Deployments {
		desired += int64(d.Spec.Replicas)
		rready += int64(d.Status.ReadyReplicas)
		avail += int64(d.Status.AvailableReplicas)
	}
	s.add("replicas_desired", desired)
	s.add("replicas_ready", rready)
	s.add("replicas_available", avail)

	// Distributions observed during the run.
	for _, name := range c.MetricNames() {
		addDist(s, name, c.Metric(name))
	}

	// Requests: those answered or failed by the end (still in flight ones are
	// reported apart and not counted in the success rate).
	var sent, ok, failed, inflight uint64
	byReason := map[string]uint64{}
	var reasons []string
	for _, r := range final.Requests {
		sent += r.Sent
		ok += r.OK
		failed += r.Failed
		inflight += r.InFlight
		for _, rc := range r.FailedBy {
			if _, seen := byReason[rc.Reason]; !seen {
				reasons = append(reasons, rc.Reason)
			}
			byReason[rc.Reason] += rc.Count
		}
	}
	if sent > 0 {
		s.add("requests_sent", sent)
		s.add("requests_total", ok+failed)
		s.add("requests_ok", ok)
		s.add("requests_failed", failed)
		s.add("requests_in_flight_at_end", inflight)
		if ok+failed > 0 {
			s.add("request_success_rate", float64(ok)/float64(ok+failed))
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			s.add("requests_failed_"+strings.NewReplacer(" ", "_", "-", "_").Replace(r), byReason[r])
		}
	}

	// Time series: the minimum, maximum and final value of each gauge (at most 60
	// series, in first-report order), and the cost integrated over the run.
	if names := c.SeriesNames(); len(names) <= 60 {
		for _, name := range names {
			pts := c.Series(name)
			if len(pts) == 0 {
				continue
			}
			mn, mx := pts[0].V, pts[0].V
			for _, p := range pts {
				mn, mx = math.Min(mn, p.V), math.Max(mx, p.V)
			}
			key := strings.NewReplacer("/", "_", "-", "_").Replace(name)
			s.add(key+"_min", mn)
			s.add(key+"_max", mx)
			s.add(key+"_final", pts[len(pts)-1].V)
			if name == "cluster_cost_per_hour" {
				cost := 0.0
				for i := 1; i < len(pts); i++ {
					cost += pts[i-1].V * pts[i].T.Sub(pts[i-1].T).Hours()
				}
				cost += pts[len(pts)-1].V * info.End.Sub(pts[len(pts)-1].T).Hours()
				s.add("cluster_cost_total", cost)
			}
		}
	}

	// Faults and recovery.
	if len(final.Faults) > 0 || len(final.Degraded) > 0 {
		s.add("faults_injected", int64(len(final.Faults)))
		var degraded, worst float64
		for _, d := range final.Degraded {
			end := d.End
			if end == 0 {
				end = info.End
			}
			degraded += end.Sub(d.Start).Seconds()
		}
		s.add("degraded_seconds", degraded)
		recovered := 0
		for _, f := range final.Faults {
			if f.RecoveredAt > 0 {
				recovered++
				worst = math.Max(worst, f.RecoveredAt.Sub(f.At).Seconds())
			}
		}
		s.add("faults_recovered", int64(recovered))
		if recovered > 0 {
			s.add("recovery_time_max_s", worst)
		}
		for i, f := range final.Faults {
			if f.RecoveredAt > 0 {
				s.add(fmt.Sprintf("fault%d_recovery_s", i+1), f.RecoveredAt.Sub(f.At).Seconds())
			}
		}
	}

	// Research values.
	rk := make([]string, 0, len(final.Research))
	for k := range final.Research {
		rk = append(rk, k)
	}
	sort.Strings(rk)
	for _, k := range rk {
		s.add(k, final.Research[k])
	}

	// Allocation.
	s.NodeRows = allocation(final)
	var cpuSum, memSum, cpuMax, memMax float64
	for _, r := range s.NodeRows {
		cpuSum += r.CPURatio
		memSum += r.MemRat
		cpuMax = math.Max(cpuMax, r.CPURatio)
		memMax = math.Max(memMax, r.MemRat)
	}
	if n := float64(len(s.NodeRows)); n > 0 {
		s.add("node_cpu_allocated_mean", cpuSum/n)
		s.add("node_cpu_allocated_max", cpuMax)
		s.add("node_memory_allocated_mean", memSum/n)
		s.add("node_memory_allocated_max", memMax)
	}
	return s
}

// addDist adds the count, mean, quantiles and maximum of a metric.
func addDist(s *Summary, name string, samples []Sample) {
	key := strings.NewReplacer("/", "_", "-", "_").Replace(name)
	s.add(key+"_count", int64(len(samples)))
	if len(samples) == 0 {
		return
	}
	v := make([]float64, len(samples))
	for i, x := range samples {
		v[i] = x.V
	}
	sort.Float64s(v)
	s.add(key+"_mean", stat.Mean(v, nil))
	s.add(key+"_p50", stat.Quantile(0.5, stat.Empirical, v, nil))
	s.add(key+"_p90", stat.Quantile(0.9, stat.Empirical, v, nil))
	s.add(key+"_p99", stat.Quantile(0.99, stat.Empirical, v, nil))
	s.add(key+"_max", v[len(v)-1])
}

// stepTracker computes, for each step, when it first happened and how long it took
// per object: the time from the object's latest record in an earlier step that comes
// before its first record in this step (or, if none, from that first record) to its
// last record in this step. The step's
// latency is the median and maximum over the objects that took part in it. It keeps
// two times per (object, step), not the records.
type stepTracker struct {
	per     map[string]*[8]span
	order   []string
	records [8]int
	first   [8]sim.Time
}

type span struct {
	first, last sim.Time
	seen        bool
}

func (st *stepTracker) add(r sim.Record) {
	if st.per == nil {
		st.per = map[string]*[8]span{}
	}
	if st.records[r.Step] == 0 {
		st.first[r.Step] = r.Time
	}
	st.records[r.Step]++
	p := st.per[r.Object]
	if p == nil {
		p = &[8]span{}
		st.per[r.Object] = p
		st.order = append(st.order, r.Object)
	}
	if !p[r.Step].seen {
		p[r.Step] = span{first: r.Time, seen: true}
	}
	p[r.Step].last = r.Time
}

func (st *stepTracker) stats() []StepStat {
	out := make([]StepStat, 7)
	for i := range out {
		out[i] = StepStat{Step: i + 1, Title: StepTitles[i+1], Records: st.records[i+1], First: st.first[i+1]}
	}
	lat := st.latencies()
	for s := 1; s <= 7; s++ {
		v := lat[s]
		if len(v) == 0 {
			continue
		}
		sort.Float64s(v)
		out[s-1].P50 = stat.Quantile(0.5, stat.Empirical, v, nil)
		out[s-1].Max = v[len(v)-1]
		out[s-1].NumObjects = len(v)
	}
	return out
}

// StepLatencies returns, per step 1-7 (index 0 unused), the latency in seconds of
// every object that took part in the step, in the order the objects first
// appeared: the samples behind the step rows of the summary. The caller owns them.
func (c *Collector) StepLatencies() [8][]float64 { return c.steps.latencies() }

// latencies computes each object's latency per step (see stepTracker).
func (st *stepTracker) latencies() [8][]float64 {
	var lat [8][]float64
	for _, obj := range st.order {
		p := st.per[obj]
		for s := 1; s <= 7; s++ {
			if !p[s].seen {
				continue
			}
			// From the latest record of an earlier step that precedes this step's
			// first record (an object can go back to an earlier step later, as a
			// Deployment does when it is updated).
			from := p[s].first
			best := sim.Time(-1)
			for q := 1; q < s; q++ {
				switch {
				case !p[q].seen:
				case p[q].last <= p[s].first:
					best = max(best, p[q].last)
				case p[q].first <= p[s].first:
					best = max(best, p[q].first)
				}
			}
			if best >= 0 {
				from = best
			}
			lat[s] = append(lat[s], p[s].last.Sub(from).Seconds())
		}
	}
	return lat
}

// StepLatenciesBefore is StepLatencies computed from the kept step records
// earlier than t only (the collector must keep them: TraceSteps or TraceEvents),
// so that what happens later (a fault, a restart) does not stretch the steps of
// the initial flow.
func (c *Collector) StepLatenciesBefore(t sim.Time) [8][]float64 {
	var st stepTracker
	for _, r := range c.StepRecords() {
		if r.Step >= 1 && r.Step <= 7 && r.Time < t {
			st.add(r)
		}
	}
	return st.latencies()
}

// stepStats computes the step statistics of a list of records.
func stepStats(recs []sim.Record) []StepStat {
	var st stepTracker
	for _, r := range recs {
		if r.Step >= 1 && r.Step <= 7 {
			st.add(r)
		}
	}
	return st.stats()
}

func allocation(f Final) []NodeAlloc {
	idx := map[string]int{}
	rows := make([]NodeAlloc, len(f.Nodes))
	for i, n := range f.Nodes {
		idx[n.Name] = i
		rows[i] = NodeAlloc{Node: n.Name, CPUAllocMilli: n.Status.Allocatable.MilliCPU, MemAllocBytes: n.Status.Allocatable.Memory}
	}
	for _, p := range f.Pods {
		i, ok := idx[string(p.Spec.NodeName)]
		if !ok || p.IsTerminal() {
			continue
		}
		r := p.Requests()
		rows[i].Pods++
		rows[i].CPURequestMilli += r.MilliCPU
		rows[i].MemRequestBytes += r.Memory
	}
	for i := range rows {
		if rows[i].CPUAllocMilli > 0 {
			rows[i].CPURatio = float64(rows[i].CPURequestMilli) / float64(rows[i].CPUAllocMilli)
		}
		if rows[i].MemAllocBytes > 0 {
			rows[i].MemRat = float64(rows[i].MemRequestBytes) / float64(rows[i].MemAllocBytes)
		}
	}
	return rows
}

// Check is the outcome of one expectation on a summary key.
type Check struct {
	Key    string
	Want   string // "= 3", ">= 0.99", "in [330, 370]"
	Got    string
	Passed bool
	Why    string
}

// Expect evaluates an expectation: the key's value must be >= min, <= max and
// == equal where they are given. A missing or non-numeric key fails.
func (s *Summary) Expect(key string, min, max, equal *float64, why string) Check {
	c := Check{Key: key, Why: why}
	var parts []string
	if equal != nil {
		parts = append(parts, "= "+strconv.FormatFloat(*equal, 'g', -1, 64))
	}
	if min != nil {
		parts = append(parts, ">= "+strconv.FormatFloat(*min, 'g', -1, 64))
	}
	if max != nil {
		parts = append(parts, "<= "+strconv.FormatFloat(*max, 'g', -1, 64))
	}
	c.Want = strings.Join(parts, " and ")
	v, ok := s.Get(key)
	if !ok {
		c.Got = "(no such key in summary.json)"
		return c
	}
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case int64:
		f = float64(x)
	case uint64:
		f = float64(x)
	case int:
		f = float64(x)
	default:
		c.Got = fmt.Sprint(v)
		return c
	}
	c.Got = strconv.FormatFloat(f, 'g', 6, 64)
	c.Passed = (equal == nil || f == *equal) && (min == nil || f >= *min) && (max == nil || f <= *max)
	return c
}
