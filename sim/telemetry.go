package sim

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

// Discard is a Telemetry that drops everything.
var Discard Telemetry = discard{}

type discard struct{}

func (discard) Trace(Record)                  {}
func (discard) Observe(string, Time, float64) {}
func (discard) Gauge(string, Time, float64)   {}
