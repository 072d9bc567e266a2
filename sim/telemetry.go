package sim

import "fmt"

// Record is one structured trace record: something a component did at a virtual
// time. Step labels the record with a step of the story the run tells (kubesim uses
// 1-7 for the seven steps of the Nginx flow, 0 for everything else); the engine gives
// it no meaning.
type Record struct {
	Time      Time   // when it happened
	Step      int    // story step, 0 when outside the story
	Component string // who did it, e.g. "scheduler", "kubelet/node-1"
	Action    string // what, e.g. "bind", "watch-event"
	Object    string // on what, e.g. "pod/default/nginx-7d4-abcde"
	Detail    string // human-readable detail
}

// Telemetry is the neutral sink through which model components report what they do.
// The results package implements it; the model only calls it. Implementations must
// be cheap: they are called on hot paths. Calls happen on the engine goroutine.
type Telemetry interface {
	// Trace records one trace record.
	Trace(r Record)
	// Observe records one sample of a named distribution (for example a latency in
	// seconds) at virtual time t.
	Observe(metric string, t Time, value float64)
	// Gauge records the value of a named time series at virtual time t.
	Gauge(series string, t Time, value float64)
}

// TraceFilter is implemented by a Telemetry that uses only some trace records.
// TraceWants reports, for a record of the given story step, whether the sink uses
// the record at all (record) and whether it keeps its Detail (detail). Components
// on hot paths ask through WantsRecord and WantsDetail so that they build a
// record's strings only when someone reads them; a Telemetry that does not
// implement TraceFilter is sent every record with its detail.
type TraceFilter interface {
	TraceWants(step int) (record, detail bool)
}

// WantsRecord reports whether t uses a trace record of the step.
func WantsRecord(t Telemetry, step int) bool {
	if f, ok := t.(TraceFilter); ok {
		r, _ := f.TraceWants(step)
		return r
	}
	return true
}

// Tracef traces rec with its Detail formatted from format and args only when t
// keeps the detail of rec's step; a record t does not want is not traced at all.
// It is the lazy trace of components on hot paths.
func Tracef(t Telemetry, rec Record, format string, args ...any) {
	record, detail := true, true
	if f, ok := t.(TraceFilter); ok {
		record, detail = f.TraceWants(rec.Step)
	}
	if !record {
		return
	}
	if detail {
		rec.Detail = fmt.Sprintf(format, args...)
	}
	t.Trace(rec)
}

// WantsDetail reports whether t keeps the Detail of a trace record of the step.
func WantsDetail(t Telemetry, step int) bool {
	if f, ok := t.(TraceFilter); ok {
		_, d := f.TraceWants(step)
		return d
	}
	return true
}

// Discard is a Telemetry that drops everything.
var Discard Telemetry = discard{}

type discard struct{}

func (discard) Trace(Record)                  {}
func (discard) TraceWants(int) (bool, bool)   { return false, false }
func (discard) Observe(string, Time, float64) {}
func (discard) Gauge(string, Time, float64)   {}
