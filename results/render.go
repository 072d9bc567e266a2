package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"

	"github.com/kubesim/kubesim/sim"
)

// WriteNarration prints records for people: one aligned line per record, labelled
// with its step, with a heading each time a step is first reached.
func WriteNarration(w io.Writer, recs []sim.Record) error {
	return WriteNarrationWith(w, recs, func(step int) string {
		return fmt.Sprintf("Step %d: %s", step, StepTitles[step])
	})
}

// WriteNarrationWith is WriteNarration with the step headings heading(step) gives
// (for another language).
func WriteNarrationWith(w io.Writer, recs []sim.Record, heading func(step int) string) error {
	bw := bufio.NewWriter(w)
	wc, wa := 0, 0
	for _, r := range recs {
		wc = max(wc, len(r.Component))
		wa = max(wa, len(r.Action))
	}
	seen := [8]bool{}
	for _, r := range recs {
		if r.Step >= 1 && r.Step <= 7 && !seen[r.Step] {
			seen[r.Step] = true
			fmt.Fprintf(bw, "\n── %s ──\n", heading(r.Step))
		}
		label := "       "
		if r.Step > 0 {
			label = "[step " + strconv.Itoa(r.Step) + "]"
		}
		fmt.Fprintf(bw, "%10.6fs %s %-*s %-*s %s", r.Time.Seconds(), label, wc, r.Component, wa, r.Action, r.Object)
		if r.Detail != "" {
			bw.WriteString("  ")
			bw.WriteString(r.Detail)
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

type jsonRecord struct {
	TimeS     float64 `json:"time_s"`
	Step      int     `json:"step"`
	Component string  `json:"component"`
	Action    string  `json:"action"`
	Object    string  `json:"object"`
	Detail    string  `json:"detail"`
}

// WriteJSONL writes one JSON object per record with the keys time_s, step,
// component, action, object and detail.
func WriteJSONL(w io.Writer, recs []sim.Record) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, r := range recs {
		if err := enc.Encode(jsonRecord{r.Time.Seconds(), r.Step, r.Component, r.Action, r.Object, r.Detail}); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteTimeSeriesCSV writes every gauge as rows time_s,series,value (series in
// first-report order, each in time order).
func WriteTimeSeriesCSV(w io.Writer, c *Collector) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("time_s,series,value\n")
	for _, name := range c.SeriesNames() {
		q := csvQuote(name)
		for _, s := range c.Series(name) {
			bw.WriteString(strconv.FormatFloat(s.T.Seconds(), 'f', -1, 64))
			bw.WriteByte(',')
			bw.WriteString(q)
			bw.WriteByte(',')
			bw.WriteString(strconv.FormatFloat(s.V, 'g', 10, 64))
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

func csvQuote(s string) string {
	if strings.ContainsAny(s, ",\"\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// WriteTable prints the summary for people: the seven steps, the key results and
// the nodes' allocation.
func WriteTable(w io.Writer, s *Summary) error {
	get := func(k string) string {
		v, ok := s.Get(k)
		if !ok {
			return "-"
		}
		switch x := v.(type) {
		case float64:
			return strconv.FormatFloat(x, 'g', 4, 64)
		default:
			return fmt.Sprint(x)
		}
	}
	sec := func(k string) string {
		v, ok := s.Get(k)
		if !ok {
			return "-"
		}
		f, ok := v.(float64)
		if !ok {
			return fmt.Sprint(v)
		}
		return formatSeconds(f)
	}
	fmt.Fprintf(w, "kubesim %s  scenario %s  seed %s  stopped at %ss of virtual time (%s events)\n\n",
		get("kubesim_version"), get("scenario"), get("seed"), get("end_time_s"), get("events"))

	t := tablewriter.NewWriter(w)
	t.Header([]string{"Step", "What happens", "First at", "Median latency", "Max latency", "Objects"})
	for _, st := range s.StepRows {
		if st.Records == 0 {
			t.Append([]string{strconv.Itoa(st.Step), st.Title, "-", "-", "-", "0"})
			continue
		}
		t.Append([]string{strconv.Itoa(st.Step), st.Title, formatSeconds(st.First.Seconds()), formatSeconds(st.P50), formatSeconds(st.Max), strconv.Itoa(st.NumObjects)})
	}
	if err := t.Render(); err != nil {
		return err
	}
	fmt.Fprintln(w)

	t = tablewriter.NewWriter(w)
	t.Header([]string{"Result", "Value"})
	rows := [][2]string{
		{"replicas ready / desired", get("replicas_ready") + " / " + get("replicas_desired")},
		{"pods running / total", get("pods_running") + " / " + get("pods")},
		{"nodes ready / total", get("nodes_ready") + " / " + get("nodes")},
		{"time until all replicas ready (from Deployment creation)", sec("deployment_ready_seconds_max")},
		{"pod scheduling latency p50 / p99", sec("scheduling_latency_seconds_p50") + " / " + sec("scheduling_latency_seconds_p99")},
		{"pod startup latency p50 / p99 (creation to running)", sec("pod_startup_seconds_p50") + " / " + sec("pod_startup_seconds_p99")},
		{"pod startup SLO latency p99 (without image pulls; SLO 5s)", sec("pod_startup_slo_seconds_p99")},
		{"requests ok / total", get("requests_ok") + " / " + get("requests_total")},
		{"request success rate", get("request_success_rate")},
		{"request latency p50 / p90 / p99", sec("request_latency_seconds_p50") + " / " + sec("request_latency_seconds_p90") + " / " + sec("request_latency_seconds_p99")},
	}
	// The capabilities' results, when the run had them.
	opt := func(key, label string, f func(string) string) {
		if _, ok := s.Get(key); ok {
			rows = append(rows, [2]string{label, f(key)})
		}
	}
	opt("requests_failed", "requests failed (all reasons)", get)
	for _, e := range s.Entries {
		if strings.HasPrefix(e.Key, "requests_failed_") {
			rows = append(rows, [2]string{"  failed: " + strings.ReplaceAll(strings.TrimPrefix(e.Key, "requests_failed_"), "_", " "), get(e.Key)})
		}
	}
	opt("faults_injected", "faults injected", get)
	opt("recovery_time_max_s", "recovery time after a fault (max)", sec)
	opt("degraded_seconds", "time with fewer replicas ready than desired", sec)
	opt("rollout_duration_seconds_max", "rollout duration (max)", sec)
	opt("replicas_ready_min", "replicas ready over time (min / max)", func(string) string {
		return get("replicas_ready_min") + " / " + get("replicas_ready_max")
	})
	opt("cluster_cost_total", "cluster autoscaler cost (node-hours × price)", get)
	for _, r := range rows {
		t.Append(r[:])
	}
	if err := t.Render(); err != nil {
		return err
	}
	fmt.Fprintln(w)

	if len(s.NodeRows) > 0 && len(s.NodeRows) <= 50 {
		t = tablewriter.NewWriter(w)
		t.Header([]string{"Node", "Pods", "CPU requested", "CPU allocated", "Memory requested", "Memory allocated"})
		for _, r := range s.NodeRows {
			t.Append([]string{r.Node, strconv.Itoa(r.Pods),
				fmt.Sprintf("%dm / %dm", r.CPURequestMilli, r.CPUAllocMilli), fmt.Sprintf("%.1f%%", 100*r.CPURatio),
				fmt.Sprintf("%dMi / %dMi", r.MemRequestBytes>>20, r.MemAllocBytes>>20), fmt.Sprintf("%.1f%%", 100*r.MemRat)})
		}
		if err := t.Render(); err != nil {
			return err
		}
	} else if len(s.NodeRows) > 50 {
		fmt.Fprintf(w, "%d nodes: CPU allocated mean %s max %s, memory allocated mean %s max %s\n", len(s.NodeRows),
			get("node_cpu_allocated_mean"), get("node_cpu_allocated_max"), get("node_memory_allocated_mean"), get("node_memory_allocated_max"))
	}
	return nil
}

func formatSeconds(f float64) string {
	switch {
	case f == 0:
		return "0s"
	case f < 1e-3:
		return strconv.FormatFloat(f*1e6, 'f', 0, 64) + "µs"
	case f < 1:
		return strconv.FormatFloat(f*1e3, 'f', 1, 64) + "ms"
	default:
		return strconv.FormatFloat(f, 'f', 3, 64) + "s"
	}
}

// WriteFileAtomic writes a file through a temporary file in the same directory and
// a rename, so a crash never leaves half a file behind.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// MarshalSummary returns the summary as indented flat JSON plus a newline.
func MarshalSummary(s *Summary) []byte {
	b, _ := s.MarshalJSON()
	var buf bytes.Buffer
	buf.Write(b)
	buf.WriteByte('\n')
	return buf.Bytes()
}
