package results

import (
	"testing"

	"github.com/kubesim/kubesim/sim"
)

// TestTraceWantsMatchesTrace checks that the collector's TraceWants says exactly
// which records Trace uses: a record it does not want changes nothing (neither the
// kept records nor the step statistics), and its detail is wanted exactly when the
// record is kept for output. Components skip building strings on this word.
func TestTraceWantsMatchesTrace(t *testing.T) {
	for _, level := range []TraceLevel{TraceOff, TraceSteps, TraceEvents} {
		for step := 0; step <= 8; step++ {
			c := NewCollector(level)
			record, detail := c.TraceWants(step)
			c.Trace(sim.Record{Time: 1, Step: step, Component: "x", Action: "a", Object: "pod/default/p", Detail: "d"})
			kept := len(c.records) > 0
			counted := step < len(c.steps.records) && c.steps.records[step] > 0
			if detail != kept {
				t.Errorf("level %v step %d: TraceWants detail %v, but Trace kept the record: %v", level, step, detail, kept)
			}
			if record != (kept || counted) {
				t.Errorf("level %v step %d: TraceWants record %v, but Trace kept %v and counted %v", level, step, record, kept, counted)
			}
		}
	}
	if r, d := sim.Discard.(sim.TraceFilter).TraceWants(3); r || d {
		t.Errorf("Discard wants records: %v %v", r, d)
	}
}
