// Package results records what a run did, in virtual time, and turns it into
// summaries, tables, JSON, CSV and the step-by-step narration.
//
// The Collector is the sim.Telemetry every model component reports to. It keeps the
// trace records of the Nginx story (steps 1-7) always, every other record only when
// asked to, the samples of each observed distribution, and each gauge's time series.
// All of it is kept in arrival order, which is the engine's deterministic order.
package results

import (
	"github.com/kubesim/kubesim/sim"
)

// TraceLevel says which trace records a collector keeps for output.
type TraceLevel int

// Trace levels.
const (
	TraceOff    TraceLevel = iota // keep only what the summary needs
	TraceSteps                    // keep the records of steps 1-7
	TraceEvents                   // keep every record
)

// ParseTraceLevel parses "off", "steps" or "events".
func ParseTraceLevel(s string) (TraceLevel, bool) {
	switch s {
	case "off", "":
		return TraceOff, true
	case "steps":
		return TraceSteps, true
	case "events":
		return TraceEvents, true
	}
	return TraceOff, false
}

func (l TraceLevel) String() string {
	return [...]string{"off", "steps", "events"}[l]
}

// Sample is one observation at a virtual time.
type Sample struct {
	T sim.Time
	V float64
}

// Collector implements sim.Telemetry.
type Collector struct {
	level   TraceLevel
	records []sim.Record // kept per level
	steps   stepTracker  // the step latencies, computed as records arrive
	metrics map[string][]Sample
	mOrder  []string
	gauges  map[string][]Sample
	gOrder  []string
	// GaugeResolution drops gauge points closer than this to the previous point of
	// the same series (the last value in a window wins). 0 keeps every point.
	GaugeResolution sim.Time
}

var _ sim.Telemetry = (*Collector)(nil)

// NewCollector returns a collector keeping records at the given level.
func NewCollector(level TraceLevel) *Collector {
	return &Collector{level: level, metrics: map[string][]Sample{}, gauges: map[string][]Sample{}}
}

// Level returns the trace level.
func (c *Collector) Level() TraceLevel { return c.level }

// Trace implements sim.Telemetry. Records of the story's steps update the step
// statistics whatever the level; they are kept for output from TraceSteps on.
func (c *Collector) Trace(r sim.Record) {
	if r.Step >= 1 && r.Step <= 7 {
		c.steps.add(r)
	}
	if (r.Step > 0 && c.level == TraceSteps) || c.level == TraceEvents {
		c.records = append(c.records, r)
	}
}

// TraceWants implements sim.TraceFilter, saying which records Trace uses: those
// of the story's steps always (their time and object feed the step statistics),
// others only at TraceEvents; the detail only of the records kept for output.
func (c *Collector) TraceWants(step int) (record, detail bool) {
	kept := (step > 0 && c.level == TraceSteps) || c.level == TraceEvents
	return kept || (step >= 1 && step <= 7), kept
}

// Observe implements sim.Telemetry.
func (c *Collector) Observe(metric string, t sim.Time, v float64) {
	s, ok := c.metrics[metric]
	if !ok {
		c.mOrder = append(c.mOrder, metric)
	}
	c.metrics[metric] = append(s, Sample{t, v})
}

// Gauge implements sim.Telemetry.
func (c *Collector) Gauge(series string, t sim.Time, v float64) {
	s, ok := c.gauges[series]
	if !ok {
		c.gOrder = append(c.gOrder, series)
	}
	if n := len(s); n > 0 && c.GaugeResolution > 0 && t-s[n-1].T < c.GaugeResolution && n > 1 {
		s[n-1] = Sample{t, v}
		c.gauges[series] = s
		return
	}
	c.gauges[series] = append(s, Sample{t, v})
}

// Records returns the records kept for output: at TraceSteps only those of steps
// 1-7, at TraceEvents every one, at TraceOff none. The slice is shared.
func (c *Collector) Records() []sim.Record {
	if c.level == TraceOff {
		return nil
	}
	if c.level == TraceSteps {
		return c.StepRecords()
	}
	return c.records
}

// StepRecords returns the records of steps 1-7 kept for output (none at TraceOff),
// in time order.
func (c *Collector) StepRecords() []sim.Record {
	if c.level != TraceEvents {
		return c.records
	}
	var out []sim.Record
	for _, r := range c.records {
		if r.Step > 0 {
			out = append(out, r)
		}
	}
	return out
}

// Metric returns the samples of a metric (nil if never observed).
func (c *Collector) Metric(name string) []Sample { return c.metrics[name] }

// MetricNames returns metric names in first-observation order.
func (c *Collector) MetricNames() []string { return c.mOrder }

// Series returns a gauge's time series.
func (c *Collector) Series(name string) []Sample { return c.gauges[name] }

// SeriesNames returns gauge names in first-report order.
func (c *Collector) SeriesNames() []string { return c.gOrder }
