package report

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/kubesim/kubesim/results"
)

// Chart is one figure of a report.
type Chart struct {
	ID      string // file name stem for --plots
	Title   string
	Caption string
	Plot    *plot.Plot
}

const chartW, chartH = 16 * vg.Centimeter, 9 * vg.Centimeter

// SVG renders the chart as an SVG document.
func (c *Chart) SVG() ([]byte, error) { return render(c.Plot, "svg") }

// PNG renders the chart as a PNG image.
func (c *Chart) PNG() ([]byte, error) { return render(c.Plot, "png") }

func render(p *plot.Plot, format string) ([]byte, error) {
	wt, err := p.WriterTo(chartW, chartH, format)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WritePlots writes every chart as ID.svg and ID.png into dir, atomically.
func WritePlots(dir string, charts []*Chart) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, c := range charts {
		for _, f := range []struct {
			ext string
			fn  func() ([]byte, error)
		}{{"svg", c.SVG}, {"png", c.PNG}} {
			b, err := f.fn()
			if err != nil {
				return fmt.Errorf("chart %s: %w", c.ID, err)
			}
			p := filepath.Join(dir, c.ID+"."+f.ext)
			if err := results.WriteFileAtomic(p, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
				return err
			}
		}
	}
	return nil
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	return p
}

func addLines(p *plot.Plot, names []string, data map[string][]Point) {
	for i, n := range names {
		pts := data[n]
		xy := make(plotter.XYs, 0, 2*len(pts))
		for j, q := range pts {
			if j > 0 { // step function: a gauge holds its value until the next sample
				xy = append(xy, plotter.XY{X: q.T, Y: pts[j-1].V})
			}
			xy = append(xy, plotter.XY{X: q.T, Y: q.V})
		}
		if len(xy) == 0 {
			continue
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			continue
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.5)
		l.Dashes = plotutil.Dashes(i / 7)
		p.Add(l)
		p.Legend.Add(n, l)
	}
}

// seriesMatching returns the series whose names match one of the patterns, in the
// order of the patterns, then of the file.
func (in *Input) seriesMatching(pats ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, pat := range pats {
		re := regexp.MustCompile(pat)
		for _, n := range in.SeriesName {
			if !seen[n] && re.MatchString(n) {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// RunCharts draws the charts of a run.
func RunCharts(in *Input) []*Chart {
	var cs []*Chart
	if c := cdfChart(in); c != nil {
		cs = append(cs, c)
	}
	if c := podStartupCDF(in); c != nil {
		cs = append(cs, c)
	}
	for _, spec := range []struct {
		id, title, y, caption string
		pats                  []string
	}{
		{"pending-pods", "Pending pods", "pods", "Pods waiting in the scheduler's queues (active, backoff, unschedulable) over virtual time.", []string{`^pending_pods`, `^pods_unscheduled$`}},
		{"replicas", "Replicas and pods over time", "count", "Desired, ready and available replicas, running and ready pods.", []string{`^replicas_`, `^pods_running$`, `^pods_ready$`, `^endpoints_ready`, `^nodes_ready$`}},
		{"utilization", "Cluster utilization", "fraction of allocatable", "Share of the cluster's allocatable CPU and memory requested by pods, and stranded resources.", []string{`^cluster_.*_allocated$`, `^stranded_`}},
		{"traffic", "Requests per second", "requests/s", "Client requests answered per second of virtual time.", []string{`^requests_per_second$`}},
	} {
		names := in.seriesMatching(spec.pats...)
		if len(names) == 0 {
			continue
		}
		p := newPlot(spec.title, "virtual time (s)", spec.y)
		addLines(p, names, in.Series)
		cs = append(cs, &Chart{ID: spec.id, Title: spec.title, Caption: spec.caption, Plot: p})
	}
	if c := heatmapChart(in); c != nil {
		cs = append(cs, c)
	}
	return cs
}

// cdfChart draws the cumulative distributions of the latencies the summary gives as
// percentiles (p50, p90, p99, max): request latency, pod startup, scheduling.
func cdfChart(in *Input) *Chart {
	metrics := []string{"request_latency_seconds", "pod_startup_seconds", "pod_startup_slo_seconds", "scheduling_latency_seconds", "pod_ready_seconds", "image_pull_seconds"}
	p := newPlot("Latency distributions (CDF from the summary's percentiles)", "latency (s, log scale)", "fraction ≤ latency")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 1
	n := 0
	for _, m := range metrics {
		var xy plotter.XYs
		for _, q := range []struct {
			suf string
			p   float64
		}{{"_p50", 0.5}, {"_p90", 0.9}, {"_p99", 0.99}, {"_max", 1}} {
			v, ok := in.Num(m + q.suf)
			if ok && v > 0 {
				xy = append(xy, plotter.XY{X: v, Y: q.p})
			}
		}
		if len(xy) < 2 {
			continue
		}
		l, s, err := plotter.NewLinePoints(xy)
		if err != nil {
			continue
		}
		l.Color, s.Color = plotutil.Color(n), plotutil.Color(n)
		s.Shape = plotutil.Shape(n)
		p.Add(l, s)
		p.Legend.Add(m, l, s)
		n++
	}
	if n == 0 {
		return nil
	}
	p.Legend.Top = false
	p.Legend.Left = false
	p.Legend.XOffs = -vg.Millimeter
	return &Chart{ID: "latency-cdf", Title: "Latency distributions", Caption: "Each curve passes through the p50, p90, p99 and maximum of a latency the summary reports.", Plot: p}
}

// podStartupCDF is the empirical distribution, over the pods of the trace, of the
// time from a pod's creation to its container's readiness.
func podStartupCDF(in *Input) *Chart {
	created := map[string]float64{}
	var ready []float64
	done := map[string]bool{}
	for _, r := range in.Trace {
		if !strings.HasPrefix(r.Object, "pod/") {
			continue
		}
		if _, ok := created[r.Object]; !ok {
			created[r.Object] = r.Time
		}
		if r.Action == "probe" && strings.Contains(r.Detail, "ready") && !done[r.Object] {
			done[r.Object] = true
			ready = append(ready, r.Time-created[r.Object])
		}
	}
	if len(ready) == 0 {
		return nil
	}
	sort.Float64s(ready)
	xy := make(plotter.XYs, 0, 2*len(ready)+1)
	xy = append(xy, plotter.XY{X: ready[0], Y: 0})
	for i, v := range ready {
		if i > 0 {
			xy = append(xy, plotter.XY{X: v, Y: float64(i) / float64(len(ready))})
		}
		xy = append(xy, plotter.XY{X: v, Y: float64(i+1) / float64(len(ready))})
	}
	p := newPlot("Pod startup: creation to ready (from the trace)", "seconds", "fraction of pods")
	l, _ := plotter.NewLine(xy)
	l.Color = plotutil.Color(0)
	l.Width = vg.Points(1.5)
	p.Add(l)
	p.Y.Min, p.Y.Max = 0, 1
	return &Chart{ID: "pod-startup-cdf", Title: "Pod startup", Caption: fmt.Sprintf("Empirical CDF over %d pods: from the pod's first record (its creation) to its readiness probe's first success.", len(ready)), Plot: p}
}

// nodeMatrix returns per-node utilization over time: from timeseries series
// named node_cpu_allocated/<node> when present, else from the kubelets' admission
// records in the trace (CPU requested over allocatable).
func nodeMatrix(in *Input) (nodes []string, times []float64, z [][]float64, source string) {
	names := in.seriesMatching(`^node_cpu_allocated/`)
	if len(names) > 0 {
		tset := map[float64]bool{}
		for _, n := range names {
			nodes = append(nodes, strings.TrimPrefix(n, "node_cpu_allocated/"))
			for _, q := range in.Series[n] {
				tset[q.T] = true
			}
		}
		for t := range tset {
			times = append(times, t)
		}
		sort.Float64s(times)
		for _, n := range names {
			row := make([]float64, len(times))
			pts := in.Series[n]
			j, v := 0, 0.0
			for i, t := range times {
				for j < len(pts) && pts[j].T <= t {
					v = pts[j].V
					j++
				}
				row[i] = v
			}
			z = append(z, row)
		}
		return nodes, times, z, "timeseries.csv (node_cpu_allocated/<node>)"
	}
	admit := regexp.MustCompile(`allocatable cpu=(\S+).*\(now \d+/\d+ pods, cpu (\S+) `)
	type ev struct {
		t float64
		v float64
	}
	evs := map[string][]ev{}
	end := 0.0
	if v, ok := in.Num("end_time_s"); ok {
		end = v
	}
	for _, r := range in.Trace {
		if r.Time > end {
			end = r.Time
		}
		if r.Action != "admit" || !strings.HasPrefix(r.Component, "kubelet/") {
			continue
		}
		m := admit.FindStringSubmatch(r.Detail)
		if m == nil {
			continue
		}
		alloc, req := cpuQty(m[1]), cpuQty(m[2])
		if alloc <= 0 {
			continue
		}
		node := strings.TrimPrefix(r.Component, "kubelet/")
		if _, ok := evs[node]; !ok {
			nodes = append(nodes, node)
		}
		evs[node] = append(evs[node], ev{r.Time, req / alloc})
	}
	if len(nodes) == 0 || end <= 0 {
		return nil, nil, nil, ""
	}
	sort.Strings(nodes)
	const bins = 60
	for i := 0; i < bins; i++ {
		times = append(times, end*float64(i)/bins)
	}
	for _, n := range nodes {
		row := make([]float64, bins)
		e := evs[n]
		j, v := 0, 0.0
		for i, t := range times {
			for j < len(e) && e[j].t <= t+end/bins {
				v = e[j].v
				j++
			}
			row[i] = v
		}
		z = append(z, row)
	}
	return nodes, times, z, "the kubelets' admission records in trace.jsonl (CPU requested / allocatable)"
}

func cpuQty(s string) float64 {
	s = strings.TrimRight(s, ",;)")
	if strings.HasSuffix(s, "m") {
		v, _ := strconv.ParseFloat(strings.TrimSuffix(s, "m"), 64)
		return v / 1000
	}
	v, _ := strconv.ParseFloat(s, 64)
	return v
}

type grid struct {
	times []float64
	z     [][]float64
}

func (g grid) Dims() (c, r int)   { return len(g.times), len(g.z) }
func (g grid) Z(c, r int) float64 { return g.z[r][c] }
func (g grid) X(c int) float64    { return g.times[c] }
func (g grid) Y(r int) float64    { return float64(r) }

func heatmapChart(in *Input) *Chart {
	nodes, times, z, source := nodeMatrix(in)
	if len(nodes) == 0 || len(times) < 2 {
		return nil
	}
	maxZ := 0.0
	for _, row := range z {
		for _, v := range row {
			maxZ = math.Max(maxZ, v)
		}
	}
	if maxZ <= 0 {
		maxZ = 1
	}
	pal := moreland.SmoothBlueRed()
	pal.SetMin(0)
	pal.SetMax(maxZ)
	h := plotter.NewHeatMap(grid{times, z}, pal.Palette(64))
	h.Min, h.Max = 0, maxZ
	p := newPlot("Per-node CPU utilization", "virtual time (s)", "node")
	p.Add(h)
	var ticks []plot.Tick
	for i, n := range nodes {
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: n})
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	return &Chart{ID: "node-heatmap", Title: "Per-node utilization", Caption: fmt.Sprintf("CPU requested over allocatable per node (blue 0, red %.3g), from %s.", maxZ, source), Plot: p}
}

// ciData is one policy's mean with its 95% confidence interval.
type ciData struct {
	xy   plotter.XYs
	errs plotter.YErrors
}

func (d ciData) Len() int                        { return len(d.xy) }
func (d ciData) XY(i int) (float64, float64)     { return d.xy[i].X, d.xy[i].Y }
func (d ciData) YError(i int) (float64, float64) { return d.errs[i].Low, d.errs[i].High }

// preferredMetrics are charted first when a comparison has them.
var preferredMetrics = []string{
	"scheduling_throughput_pods_per_s", "scheduling_latency_seconds_p99", "pod_startup_seconds_p99",
	"request_latency_seconds_p99", "nodes_in_use_max", "node_cpu_allocated_max", "stranded_cpu_max",
	"makespan_s", "deployment_ready_seconds_max", "degraded_seconds",
}

// CompareCharts draws, for the main metrics, each policy's mean with its 95% CI as
// whiskers.
func CompareCharts(in *Input) []*Chart {
	byMetric := map[string][]CompareStat{}
	var order []string
	for _, s := range in.Stats {
		if _, ok := byMetric[s.Metric]; !ok {
			order = append(order, s.Metric)
		}
		byMetric[s.Metric] = append(byMetric[s.Metric], s)
	}
	var chosen []string
	for _, m := range preferredMetrics {
		if _, ok := byMetric[m]; ok {
			chosen = append(chosen, m)
		}
	}
	for _, m := range order { // then metrics that differ between policies
		if len(chosen) >= 8 {
			break
		}
		ss := byMetric[m]
		if len(ss) > 1 && ss[0].Mean != ss[1].Mean && !contains(chosen, m) {
			chosen = append(chosen, m)
		}
	}
	var cs []*Chart
	for _, m := range chosen {
		ss := byMetric[m]
		p := newPlot(m, "policy", "mean ± 95% CI")
		var d ciData
		var ticks []plot.Tick
		for i, s := range ss {
			d.xy = append(d.xy, plotter.XY{X: float64(i), Y: s.Mean})
			d.errs = append(d.errs, struct{ Low, High float64 }{s.Mean - s.CILow, s.CIHigh - s.Mean})
			lab := s.Policy
			if s.Best {
				lab += " (best)"
			}
			ticks = append(ticks, plot.Tick{Value: float64(i), Label: lab})
		}
		sc, err := plotter.NewScatter(d)
		if err != nil {
			continue
		}
		sc.GlyphStyle.Shape = draw.CircleGlyph{}
		sc.GlyphStyle.Radius = vg.Points(3)
		sc.GlyphStyle.Color = plotutil.Color(0)
		eb, err := plotter.NewYErrorBars(d)
		if err != nil {
			continue
		}
		eb.LineStyle.Width = vg.Points(1.2)
		p.Add(eb, sc)
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.X.Min, p.X.Max = -0.5, float64(len(ss))-0.5
		cs = append(cs, &Chart{ID: "compare-" + sanitize(m), Title: m, Caption: "Mean over the seeds, whiskers: 95% confidence interval of the mean (Student's t).", Plot: p})
	}
	return cs
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, s)
}

// rows finds the first array of objects in a generic JSON document (the document
// itself, or the value of a key such as rows, candidates, runs).
func rows(doc any, prefer ...string) (string, [][]KV) {
	toRows := func(v any) [][]KV {
		arr, ok := v.([]any)
		if !ok {
			return nil
		}
		var out [][]KV
		for _, e := range arr {
			if o, ok := e.([]KV); ok {
				out = append(out, o)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	if r := toRows(doc); r != nil {
		return "", r
	}
	obj, _ := doc.([]KV)
	for _, p := range prefer {
		if v, ok := Get(obj, p); ok {
			if r := toRows(v); r != nil {
				return p, r
			}
		}
	}
	for _, kv := range obj {
		if r := toRows(kv.Value); r != nil {
			return kv.Key, r
		}
	}
	return "", nil
}

// PlanCharts draws a plan's cost curve: each candidate's hourly cost in the order
// tried, passing candidates filled, failing ones hollow, the chosen one marked.
func PlanCharts(in *Input) []*Chart {
	_, rs := rows(in.Doc, "candidates", "tried", "rows")
	costKey := ""
	var pts, pass plotter.XYs
	for i, r := range rs {
		if costKey == "" {
			for _, kv := range r {
				if strings.Contains(strings.ToLower(kv.Key), "cost") {
					if _, ok := kv.Value.(float64); ok {
						costKey = kv.Key
						break
					}
				}
			}
		}
		v, ok := Get(r, costKey)
		c, isNum := v.(float64)
		if !ok || !isNum {
			continue
		}
		pts = append(pts, plotter.XY{X: float64(i + 1), Y: c})
		if passed(r) {
			pass = append(pass, plotter.XY{X: float64(i + 1), Y: c})
		}
	}
	if len(pts) == 0 {
		return nil
	}
	p := newPlot("Cost of the candidate clusters", "candidate (in the order tried)", costKey)
	l, s, err := plotter.NewLinePoints(pts)
	if err != nil {
		return nil
	}
	l.Color = color.Gray{Y: 160}
	s.Shape = draw.CircleGlyph{}
	s.Color = plotutil.Color(1)
	p.Add(l, s)
	p.Legend.Add("fails an SLO", s)
	if len(pass) > 0 {
		ps, _ := plotter.NewScatter(pass)
		ps.Shape = draw.CircleGlyph{}
		ps.Radius = vg.Points(4)
		ps.Color = plotutil.Color(2)
		p.Add(ps)
		p.Legend.Add("meets every SLO", ps)
	}
	return []*Chart{{ID: "plan-cost", Title: "Cost curve", Caption: "Hourly cost of each candidate the search tried; green: meets every SLO in every replication.", Plot: p}}
}

func passed(r []KV) bool {
	for _, k := range []string{"pass", "passed", "ok", "meets_slos", "feasible"} {
		if v, ok := Get(r, k); ok {
			b, isBool := v.(bool)
			return isBool && b
		}
	}
	return false
}

// SweepCharts draws each numeric column of a sweep's rows over the rows (in file
// order), up to six columns.
func SweepCharts(in *Input) []*Chart {
	_, rs := rows(in.Doc, "rows", "runs", "results")
	if len(rs) == 0 {
		return nil
	}
	var cols []string
	for _, kv := range rs[0] {
		if _, ok := kv.Value.(float64); ok && !strings.Contains(kv.Key, "seed") && kv.Key != "index" {
			cols = append(cols, kv.Key)
		}
	}
	var cs []*Chart
	for i, c := range cols {
		if i >= 6 {
			break
		}
		var xy plotter.XYs
		for j, r := range rs {
			if v, ok := Get(r, c); ok {
				if f, ok := v.(float64); ok {
					xy = append(xy, plotter.XY{X: float64(j + 1), Y: f})
				}
			}
		}
		if len(xy) == 0 {
			continue
		}
		p := newPlot(c, "row of the sweep", c)
		s, err := plotter.NewScatter(xy)
		if err != nil {
			continue
		}
		s.Color = plotutil.Color(i)
		p.Add(s)
		cs = append(cs, &Chart{ID: "sweep-" + sanitize(c), Title: c, Caption: "One point per row of sweep.json.", Plot: p})
	}
	return cs
}
