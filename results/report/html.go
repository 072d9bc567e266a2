package report

import (
	"bytes"
	"fmt"
	"html"
	"sort"
	"strconv"
	"strings"

	"github.com/kubesim/kubesim/results/narrate"
)

// Options of a report.
type Options struct {
	Lang  narrate.Lang
	Title string
}

// Charts returns the charts of the input, in report order.
func Charts(in *Input) []*Chart {
	switch in.Kind {
	case KindRun:
		return RunCharts(in)
	case KindCompare:
		return CompareCharts(in)
	case KindSweep:
		return SweepCharts(in)
	case KindPlan:
		return PlanCharts(in)
	}
	return nil
}

// Render writes the self-contained HTML report of in: inline CSS, inline SVG charts,
// a small inline script for the timeline, no external resource.
func Render(in *Input, charts []*Chart, opt Options) ([]byte, error) {
	if opt.Lang == "" {
		opt.Lang = narrate.EN
	}
	var b bytes.Buffer
	title := opt.Title
	if title == "" {
		title = "kubesim report: " + string(in.Kind)
		if v, ok := Get(in.Summary, "scenario"); ok {
			title += " of " + fmt.Sprint(v)
		}
	}
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n", opt.Lang, esc(title), css)
	fmt.Fprintf(&b, "<h1>%s</h1>\n<p class=\"meta\">%s</p>\n", esc(title), esc(metaLine(in)))
	if in.Kind == KindRun && len(in.Trace) > 0 {
		f := BuildFlow(in.Trace)
		if len(f.Messages) > 0 {
			writeTimeline(&b, f, in.Trace, opt.Lang)
		}
	}
	if len(charts) > 0 {
		b.WriteString("<h2>Charts</h2>\n<div class=\"charts\">\n")
		for _, c := range charts {
			svg, err := c.SVG()
			if err != nil {
				return nil, fmt.Errorf("chart %s: %w", c.ID, err)
			}
			fmt.Fprintf(&b, "<figure class=\"chart\" id=\"chart-%s\">\n%s\n<figcaption><b>%s.</b> %s</figcaption>\n</figure>\n", c.ID, inlineSVG(svg, c.ID), esc(c.Title), esc(c.Caption))
		}
		b.WriteString("</div>\n")
	}
	switch in.Kind {
	case KindRun:
		writeKVTable(&b, "Summary", in.Summary)
	case KindCompare:
		writeCompareTable(&b, in.Stats)
	case KindSweep, KindPlan:
		writeDoc(&b, in.Doc)
	}
	fmt.Fprintf(&b, "<script>%s</script>\n</body>\n</html>\n", script)
	return b.Bytes(), nil
}

func metaLine(in *Input) string {
	parts := []string{"kind: " + string(in.Kind)}
	for _, k := range []string{"scenario", "seed", "kubesim_version", "end_time_s"} {
		if v, ok := Get(in.Summary, k); ok {
			parts = append(parts, k+": "+fmtValue(v))
		}
	}
	return strings.Join(parts, " · ")
}

func esc(s string) string { return html.EscapeString(s) }

// inlineSVG strips the XML prolog of a standalone SVG and makes its ids unique in
// the page.
func inlineSVG(svg []byte, id string) string {
	s := string(svg)
	if i := strings.Index(s, "<svg"); i > 0 {
		s = s[i:]
	}
	s = strings.Replace(s, "<svg", fmt.Sprintf("<svg role=\"img\" aria-label=\"%s\"", esc(id)), 1)
	return s
}

func fmtValue(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'g', 10, 64)
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return "null"
	case []KV:
		parts := make([]string, len(x))
		for i, kv := range x {
			parts[i] = kv.Key + "=" + fmtValue(kv.Value)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmtValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v)
}

func writeKVTable(b *bytes.Buffer, title string, kvs []KV) {
	fmt.Fprintf(b, "<h2>%s</h2>\n<table class=\"kv\">\n", esc(title))
	for _, kv := range kvs {
		fmt.Fprintf(b, "<tr><th>%s</th><td>%s</td></tr>\n", esc(kv.Key), esc(fmtValue(kv.Value)))
	}
	b.WriteString("</table>\n")
}

func writeCompareTable(b *bytes.Buffer, stats []CompareStat) {
	b.WriteString("<h2>Comparison (mean and 95% confidence interval)</h2>\n<table>\n<tr><th>metric</th><th>policy</th><th>n</th><th>mean</th><th>95% CI</th><th>best</th></tr>\n")
	for _, s := range stats {
		best := ""
		if s.Best {
			best = "★"
		}
		fmt.Fprintf(b, "<tr><td>%s</td><td>%s</td><td>%d</td><td>%s</td><td>[%s, %s]</td><td>%s</td></tr>\n", esc(s.Metric), esc(s.Policy), s.N,
			fmtValue(s.Mean), fmtValue(s.CILow), fmtValue(s.CIHigh), best)
	}
	b.WriteString("</table>\n")
}

const maxRows = 1000

// writeDoc renders a generic JSON document: scalar keys as a table, arrays of
// objects as tables with the union of their keys as columns.
func writeDoc(b *bytes.Buffer, doc any) {
	obj, isObj := doc.([]KV)
	if !isObj {
		writeRows(b, "Rows", doc)
		return
	}
	var scalars []KV
	for _, kv := range obj {
		switch kv.Value.(type) {
		case []any:
			writeRows(b, kv.Key, kv.Value)
		case []KV:
			writeKVTable(b, kv.Key, kv.Value.([]KV))
		default:
			scalars = append(scalars, kv)
		}
	}
	if len(scalars) > 0 {
		writeKVTable(b, "Values", scalars)
	}
}

func writeRows(b *bytes.Buffer, title string, v any) {
	arr, _ := v.([]any)
	var cols []string
	seen := map[string]bool{}
	for _, e := range arr {
		if o, ok := e.([]KV); ok {
			for _, kv := range o {
				if !seen[kv.Key] {
					seen[kv.Key] = true
					cols = append(cols, kv.Key)
				}
			}
		}
	}
	fmt.Fprintf(b, "<h2>%s</h2>\n", esc(title))
	if len(cols) == 0 {
		fmt.Fprintf(b, "<p>%s</p>\n", esc(fmtValue(v)))
		return
	}
	b.WriteString("<div class=\"scroll\"><table>\n<tr>")
	for _, c := range cols {
		fmt.Fprintf(b, "<th>%s</th>", esc(c))
	}
	b.WriteString("</tr>\n")
	for i, e := range arr {
		if i >= maxRows {
			fmt.Fprintf(b, "<tr><td colspan=\"%d\">… %d more rows</td></tr>\n", len(cols), len(arr)-maxRows)
			break
		}
		o, _ := e.([]KV)
		b.WriteString("<tr>")
		for _, c := range cols {
			v, _ := Get(o, c)
			fmt.Fprintf(b, "<td>%s</td>", esc(fmtValue(v)))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table></div>\n")
}

var kindColor = map[string]string{
	"request": "#1f77b4", "commit": "#d62728", "watch": "#2ca02c", "response": "#9467bd", "call": "#ff7f0e",
}

func writeTimeline(b *bytes.Buffer, f *Flow, all []Record, lang narrate.Lang) {
	const (
		left   = 190.0
		slot   = 14.0
		top    = 56.0
		laneH  = 46.0
		margin = 30.0
	)
	laneIdx := map[string]int{}
	for i, l := range narrate.Lanes {
		laneIdx[l] = i
	}
	y := func(l string) float64 { return top + float64(laneIdx[l])*laneH + laneH/2 }
	width := left + float64(len(f.Messages))*slot + margin
	height := top + float64(len(narrate.Lanes))*laneH + 10
	fmt.Fprintf(b, "<h2>%s</h2>\n<p>%s</p>\n", esc(narrate.Word(lang, "timeline")), esc(narrate.Word(lang, "timeline-help")))
	b.WriteString("<div class=\"step-buttons\">")
	for s := 1; s <= 7; s++ {
		if !f.HasStep[s] {
			continue
		}
		st, _ := narrate.StepOf(lang, s)
		fmt.Fprintf(b, "<button type=\"button\" class=\"step-button\" data-step=\"%d\" title=\"%s\">%d · %s</button>", s, esc(st.Title), s, esc(fmtTime(f.StepFirst[s])))
	}
	b.WriteString("</div>\n")
	fmt.Fprintf(b, "<div class=\"timeline-wrap\"><svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n", width, height, width, height)
	b.WriteString("<defs>")
	kinds := make([]string, 0, len(kindColor))
	for k := range kindColor {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(b, "<marker id=\"arrow-%s\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"%s\"/></marker>", k, kindColor[k])
	}
	b.WriteString("</defs>\n")
	for i, l := range narrate.Lanes {
		yy := top + float64(i)*laneH
		fill := "#f7f7f7"
		if i%2 == 1 {
			fill = "#ececec"
		}
		fmt.Fprintf(b, "<g class=\"lane\" data-lane=\"%s\"><rect x=\"0\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\" fill=\"%s\"/><text x=\"8\" y=\"%.1f\" font-weight=\"bold\">%s</text><line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#bbb\"/></g>\n",
			l, yy, width, laneH, fill, yy+laneH/2+4, esc(narrate.LaneName(lang, l)), left, width, yy+laneH/2, yy+laneH/2)
	}
	// Step markers at the first message of each step.
	firstSlot := map[int]int{}
	for i, m := range f.Messages {
		if _, ok := firstSlot[m.Step]; !ok {
			firstSlot[m.Step] = i
		}
	}
	for s := 1; s <= 7; s++ {
		i, ok := firstSlot[s]
		if !ok {
			continue
		}
		x := left + float64(i)*slot + slot/2
		st, _ := narrate.StepOf(lang, s)
		fmt.Fprintf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"36\" y2=\"%.0f\" stroke=\"#888\" stroke-dasharray=\"3,3\"/>", x, x, height)
		fmt.Fprintf(b, "<g class=\"step-marker\" data-step=\"%d\" id=\"step-marker-%d\" role=\"button\" tabindex=\"0\" cursor=\"pointer\"><title>%s (t=%s)</title><circle cx=\"%.1f\" cy=\"20\" r=\"12\" fill=\"#333\"/><text x=\"%.1f\" y=\"24.5\" text-anchor=\"middle\" fill=\"#fff\" font-weight=\"bold\">%d</text><text x=\"%.1f\" y=\"46\" font-size=\"10\">t=%s</text></g>\n",
			s, s, esc(narrate.StepHeading(lang, st)), fmtTime(f.StepFirst[s]), x, x, s, x+15, fmtTime(f.StepFirst[s]))
	}
	for i, m := range f.Messages {
		x := left + float64(i)*slot + slot/2
		r := f.Records[m.Record]
		tip := esc(fmt.Sprintf("%s [%s %d] %s — %s %s: %s", fmtTime(m.Time), narrate.Word(lang, "step"), m.Step, m.Label, r.Component, r.Action, r.Detail))
		if m.From == m.To {
			fmt.Fprintf(b, "<circle class=\"msg event\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#555\"><title>%s</title></circle>\n", x, y(m.From), tip)
			continue
		}
		y1, y2 := y(m.From), y(m.To)
		if y2 > y1 {
			y2 -= 4
		} else {
			y2 += 4
		}
		fmt.Fprintf(b, "<line class=\"msg %s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.6\" marker-end=\"url(#arrow-%s)\"><title>%s</title></line>\n",
			m.Kind, x, y1, x, y2, kindColor[m.Kind], m.Kind, tip)
	}
	b.WriteString("</svg></div>\n<p class=\"legend\">")
	for _, k := range []string{"request", "commit", "response", "watch", "call"} {
		label := narrate.Word(lang, k)
		if k == "call" {
			label = "kubelet → Docker, client → kube-proxy → pod"
		}
		fmt.Fprintf(b, "<span style=\"color:%s\">━▶ %s</span> ", kindColor[k], esc(label))
	}
	b.WriteString("</p>\n")
	fmt.Fprintf(b, "<div id=\"step-explanation\" aria-live=\"polite\"><p class=\"hint\">%s</p>\n", esc(narrate.Word(lang, "choose")))
	for s := 1; s <= 7; s++ {
		if !f.HasStep[s] {
			continue
		}
		st, _ := narrate.StepOf(lang, s)
		keys := EtcdKeysAt(all, f.StepEnd[s])
		fmt.Fprintf(b, "<section class=\"step-panel\" id=\"step-panel-%d\" hidden>\n<h3>%s</h3>\n<p class=\"when\">%s %s</p>\n<h4>%s</h4><blockquote>%s</blockquote>\n<h4>%s</h4><p class=\"explain\">%s</p>\n<h4>%s</h4><p>%s</p>\n<h4>%s</h4>\n<ul class=\"etcd-keys\">",
			s, esc(narrate.StepHeading(lang, st)), esc(narrate.Word(lang, "first-at")), fmtTime(f.StepFirst[s]),
			esc(narrate.Word(lang, "classic")), esc(st.Classic), esc(narrate.Word(lang, "really")), esc(st.Explain),
			esc(narrate.Word(lang, "look")), esc(st.Watch), esc(fmt.Sprintf(narrate.Word(lang, "etcd-at"), fmtTime(f.StepEnd[s]))))
		if len(keys) == 0 {
			fmt.Fprintf(b, "<li>%s</li>", esc(narrate.Word(lang, "none")))
		}
		for _, k := range keys {
			fmt.Fprintf(b, "<li><code>%s</code> <span class=\"rev\">rev %d</span></li>", esc(k.Key), k.Revision)
		}
		b.WriteString("</ul>\n</section>\n")
	}
	b.WriteString("</div>\n")
}

const css = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans CJK SC",sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}
.meta{color:#666}.charts{display:flex;flex-wrap:wrap;gap:1em}
figure.chart{margin:0;border:1px solid #ddd;padding:.5em;background:#fff}figure.chart svg{max-width:100%;height:auto}
figcaption{font-size:.85em;color:#444;max-width:600px}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
.scroll{overflow:auto;max-height:40em}
.timeline-wrap{overflow-x:auto;border:1px solid #ccc;background:#fafafa}
.step-marker:hover circle,.step-marker.active circle{fill:#d62728}
.step-button{margin:0 .3em .4em 0;padding:.2em .6em;cursor:pointer}.step-button.active{background:#d62728;color:#fff}
#step-explanation{border:1px solid #ccc;padding:0 1em;margin-top:.8em;background:#fffdf5}
blockquote{margin:0 0 0 1em;color:#555;font-style:italic}.etcd-keys{columns:2;font-size:.85em}.rev{color:#888}
.legend span{margin-right:1.2em;font-size:.85em}`

const script = `(function(){
  function show(n){
    var panels=document.querySelectorAll('.step-panel');
    for(var i=0;i<panels.length;i++){panels[i].hidden=panels[i].id!=='step-panel-'+n;}
    var hint=document.querySelector('#step-explanation .hint'); if(hint){hint.hidden=true;}
    var all=document.querySelectorAll('[data-step]');
    for(var j=0;j<all.length;j++){
      var on=all[j].getAttribute('data-step')===String(n);
      if(all[j].classList){all[j].classList.toggle('active',on);}
      all[j].setAttribute('aria-pressed',on?'true':'false');
    }
  }
  var els=document.querySelectorAll('[data-step]');
  for(var i=0;i<els.length;i++){
    (function(el){
      var n=el.getAttribute('data-step');
      el.addEventListener('click',function(){show(n);});
      el.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();show(n);}});
    })(els[i]);
  }
})();`
