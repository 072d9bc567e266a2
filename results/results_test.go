package results

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/sim"
)

func at(s float64) sim.Time { return sim.Time(s * float64(time.Second)) }

func TestCollectorLevels(t *testing.T) {
	recs := []sim.Record{
		{Time: at(0), Step: 0, Component: "kubelet/n1", Action: "heartbeat"},
		{Time: at(1), Step: 1, Component: "kubelet/n1", Action: "register", Object: "node/n1"},
	}
	for _, tc := range []struct {
		level TraceLevel
		want  int
	}{{TraceOff, 0}, {TraceSteps, 1}, {TraceEvents, 2}} {
		c := NewCollector(tc.level)
		for _, r := range recs {
			c.Trace(r)
		}
		if got := len(c.Records()); got != tc.want {
			t.Errorf("%v: %d records kept for output, want %d", tc.level, got, tc.want)
		}
		if got := c.steps.records[1]; got != 1 {
			t.Errorf("%v: step 1 counted %d records, want 1 (always counted for the summary)", tc.level, got)
		}
	}
}

func TestStepStats(t *testing.T) {
	recs := []sim.Record{
		{Time: at(0.0), Step: 1, Object: "node/a"},
		{Time: at(0.5), Step: 1, Object: "node/a"},
		{Time: at(0.1), Step: 1, Object: "node/b"},
		{Time: at(0.3), Step: 1, Object: "node/b"},
		{Time: at(1.0), Step: 2, Object: "pod/p"},
		{Time: at(1.2), Step: 3, Object: "pod/p"},
		{Time: at(1.5), Step: 3, Object: "pod/p"},
		{Time: at(2.0), Step: 4, Object: "pod/p"},
	}
	st := stepStats(recs)
	check := func(step int, p50, mx float64, n int) {
		t.Helper()
		s := st[step-1]
		if !near(s.P50, p50) || !near(s.Max, mx) || s.NumObjects != n {
			t.Errorf("step %d: p50 %g max %g objects %d; want %g %g %d", step, s.P50, s.Max, s.NumObjects, p50, mx, n)
		}
	}
	check(1, 0.2, 0.5, 2) // spans within the step: 0.5 and 0.2
	check(3, 0.5, 0.5, 1) // from the pod's last step-2 record (1.0) to 1.5
	check(4, 0.5, 0.5, 1) // from 1.5 to 2.0
	if st[4].Records != 0 || st[0].First != at(0) {
		t.Errorf("records/first wrong: %+v", st)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestSummaryJSONFlatAndOrdered(t *testing.T) {
	c := NewCollector(TraceOff)
	for i := 1; i <= 100; i++ {
		c.Observe("request_latency_seconds", at(float64(i)), float64(i)/1000)
	}
	reqs := []RequestStats{{Name: "a", Sent: 102, OK: 60, Failed: 1, InFlight: 1, FailedBy: []ReasonCount{{"no endpoints", 1}}},
		{Name: "b", Sent: 40, OK: 40}}
	node := &api.Node{ObjectMeta: api.ObjectMeta{Name: "n1"}, Status: api.NodeStatus{Allocatable: api.Resources{MilliCPU: 1000, Memory: 1 << 30}}}
	pod := &api.Pod{Spec: api.PodSpec{NodeName: "n1", Containers: []api.Container{{Requests: api.Resources{MilliCPU: 250, Memory: 256 << 20}}}}}
	dep := &api.Deployment{Spec: api.DeploymentSpec{Replicas: 3}, Status: api.DeploymentStatus{ReadyReplicas: 3}}
	s := Summarize(RunInfo{Version: "v", Scenario: "x", Seed: 7, End: at(60)}, c, Final{Nodes: []*api.Node{node}, Pods: []*api.Pod{pod}, Deployments: []*api.Deployment{dep}, Requests: reqs})
	var m map[string]any
	if err := json.Unmarshal(MarshalSummary(s), &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]float64{
		"seed": 7, "replicas_ready": 3, "replicas_desired": 3, "requests_total": 101, "requests_ok": 100, "requests_failed_no_endpoints": 1, "requests_in_flight_at_end": 1,
		"request_latency_seconds_p50": 0.05, "request_latency_seconds_p99": 0.099, "node_cpu_allocated_max": 0.25,
	} {
		got, ok := m[k].(float64)
		if !ok || !near(got, want) {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	if r := m["request_success_rate"].(float64); !near(r, 100.0/101) {
		t.Errorf("success rate %v", r)
	}
	for k, v := range m {
		if _, nested := v.(map[string]any); nested {
			t.Errorf("key %s is nested: summary.json must be flat", k)
		}
	}
	if !strings.HasPrefix(string(MarshalSummary(s)), "{\n  \"kubesim_version\"") {
		t.Error("keys are not in their fixed order")
	}
}

func TestNarrationAndJSONL(t *testing.T) {
	recs := []sim.Record{
		{Time: at(0), Step: 1, Component: "kubelet/node-1", Action: "register", Object: "node/node-1", Detail: "POST the Node"},
		{Time: at(1.25), Step: 3, Component: "scheduler", Action: "bind", Object: "pod/default/p", Detail: "node-1"},
	}
	var b bytes.Buffer
	if err := WriteNarration(&b, recs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"Step 1: nodes register", "[step 3]", "Step 3: the scheduler picks a node", "1.250000s"} {
		if !strings.Contains(out, want) {
			t.Errorf("narration lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := WriteJSONL(&b, recs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &r); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"time_s", "step", "component", "action", "object", "detail"} {
		if _, ok := r[k]; !ok {
			t.Errorf("JSONL record lacks %q", k)
		}
	}
	if r["time_s"].(float64) != 1.25 || r["step"].(float64) != 3 {
		t.Errorf("record %v", r)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.json")
	if err := WriteFileAtomic(p, func(w io.Writer) error { _, err := w.Write([]byte("ok")); return err }); err != nil {
		t.Fatal(err)
	}
	// A failing writer leaves neither the file nor a temporary behind.
	q := filepath.Join(dir, "y.json")
	err := WriteFileAtomic(q, func(w io.Writer) error { w.Write([]byte("half")); return os.ErrInvalid })
	if err == nil {
		t.Fatal("error lost")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "x.json" {
		t.Fatalf("directory holds %v", entries)
	}
}

func TestTimeSeriesCSV(t *testing.T) {
	c := NewCollector(TraceOff)
	c.Gauge("pods_running", at(1), 2)
	c.Gauge("a,b", at(2), 3)
	var b bytes.Buffer
	if err := WriteTimeSeriesCSV(&b, c); err != nil {
		t.Fatal(err)
	}
	want := "time_s,series,value\n1,pods_running,2\n2,\"a,b\",3\n"
	if b.String() != want {
		t.Fatalf("got %q want %q", b.String(), want)
	}
}
