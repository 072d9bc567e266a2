package sim

import "testing"

// wantsSink keeps the records it wants, with or without their detail.
type wantsSink struct {
	record, detail bool
	got            []Record
}

func (w *wantsSink) Trace(r Record)                { w.got = append(w.got, r) }
func (w *wantsSink) Observe(string, Time, float64) {}
func (w *wantsSink) Gauge(string, Time, float64)   {}
func (w *wantsSink) TraceWants(int) (bool, bool)   { return w.record, w.detail }

func TestTracefFormatsOnlyWhatIsKept(t *testing.T) {
	rec := Record{Step: 3, Action: "bind", Object: "pod/default/a"}
	for _, c := range []struct {
		record, detail bool
		want           []string // details traced
	}{
		{false, false, nil},
		{true, false, []string{""}},
		{true, true, []string{"node n-7 after 2 tries"}},
	} {
		w := &wantsSink{record: c.record, detail: c.detail}
		Tracef(w, rec, "node %s after %d tries", "n-7", 2)
		if len(w.got) != len(c.want) {
			t.Fatalf("wants (%v, %v): %d records, want %d", c.record, c.detail, len(w.got), len(c.want))
		}
		for i, r := range w.got {
			if r.Detail != c.want[i] || r.Action != "bind" || r.Step != 3 {
				t.Errorf("wants (%v, %v): traced %+v", c.record, c.detail, r)
			}
		}
	}
}
