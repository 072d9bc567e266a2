package hpa

import (
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/sim"
)

func sec(s float64) sim.Time { return sim.Time(s * 1e9) }

// now is the time of the calculator tests: 20 min into the run.
var now = sec(1200)

func params() CalcParams {
	c := DefaultConfig()
	return CalcParams{Tolerance: c.Tolerance, CPUInitializationPeriod: c.CPUInitializationPeriod, InitialReadinessDelay: c.InitialReadinessDelay, Now: now}
}

// pod builds a running pod started at start, Ready (status) since readySince.
func pod(name string, req int64, start, readySince float64, ready bool) PodInfo {
	st := sec(start)
	s := api.ConditionTrue
	if !ready {
		s = api.ConditionFalse
	}
	return PodInfo{Name: name, Phase: api.PodRunning, StartTime: &st, Request: req,
		Ready: &api.PodCondition{Type: api.PodReady, Status: s, LastTransitionTime: sec(readySince)}}
}

// old is a ready pod started long ago with a 100m request.
func old(name string) PodInfo { return pod(name, 100, 0, 10, true) }

func m(v int64) Metric { return Metric{Value: v, Timestamp: now, Window: 15 * time.Second} }

func TestResourceReplicas(t *testing.T) {
	pending := old("p")
	pending.Phase = api.PodPending
	deleting := old("d")
	deleting.Deleting = true
	failed := old("f")
	failed.Phase = api.PodFailed
	noReq := old("n")
	noReq.MissingRequest = "sidecar"
	tests := []struct {
		name     string
		current  int32
		target   int32 // utilization %
		avg      int64 // average value target (when target is 0)
		resource string
		pods     []PodInfo
		metrics  map[string]Metric
		want     int32
		wantUtil int64
		wantErr  string
		explain  string
	}{
		{name: "inside the tolerance band keeps the replicas", current: 2, target: 50,
			pods: []PodInfo{old("a"), old("b")}, metrics: map[string]Metric{"a": m(54), "b": m(54)}, want: 2, wantUtil: 54, explain: "within tolerance"},
		{name: "just outside the band scales", current: 2, target: 50,
			pods: []PodInfo{old("a"), old("b")}, metrics: map[string]Metric{"a": m(56), "b": m(56)}, want: 3, wantUtil: 56},
		{name: "scale-up: ratio 3 on 2 ready pods", current: 2, target: 60,
			pods: []PodInfo{old("a"), old("b")}, metrics: map[string]Metric{"a": m(180), "b": m(180)}, want: 6, wantUtil: 180,
			explain: "cpu 180% of request vs target 60% → ratio 3.00 → desired ceil(3.00 × 2 ready) = 6"},
		{name: "scale-down on ready pods", current: 4, target: 50,
			pods: []PodInfo{old("a"), old("b"), old("c"), old("d")}, metrics: map[string]Metric{"a": m(10), "b": m(10), "c": m(10), "d": m(10)}, want: 1, wantUtil: 10},
		{name: "utilization is whole percent (truncated)", current: 3, target: 50,
			pods: []PodInfo{old("a"), old("b"), old("c")}, metrics: map[string]Metric{"a": m(100), "b": m(100), "c": m(101)}, want: 6, wantUtil: 100},
		{name: "unready pods at 0% on scale-up flip the direction: keep", current: 4, target: 50,
			pods:    []PodInfo{old("a"), pod("b", 100, 1190, 1190, false), pod("c", 100, 1190, 1190, false), pod("d", 100, 1190, 1190, false)},
			metrics: map[string]Metric{"a": m(100), "b": m(100), "c": m(100), "d": m(100)}, want: 4, wantUtil: 100, explain: "3 unready pods counted at 0%"},
		{name: "unready pods ignored on scale-down", current: 4, target: 50,
			pods:    []PodInfo{old("a"), old("b"), pod("c", 100, 1190, 1190, false), pod("d", 100, 1190, 1190, false)},
			metrics: map[string]Metric{"a": m(20), "b": m(20), "c": m(0), "d": m(0)}, want: 1, wantUtil: 20, explain: "× 2 ready"},
		{name: "pending pods are unready", current: 2, target: 50,
			pods: []PodInfo{old("a"), pending}, metrics: map[string]Metric{"a": m(60)}, want: 2, wantUtil: 60, explain: "flipped"},
		{name: "in CPU initialization: metric window began before ready → unready", current: 2, target: 50,
			// b started 100 s ago and turned ready 10 s ago; its 15 s window covers start-up
			pods: []PodInfo{old("a"), pod("b", 100, 1100, 1190, true)}, metrics: map[string]Metric{"a": m(100), "b": m(500)}, want: 2, wantUtil: 100,
			explain: "1 unready pods counted at 0% → recomputed ratio 1.00"},
		{name: "in CPU initialization: ready long enough counts", current: 2, target: 50,
			pods: []PodInfo{old("a"), pod("b", 100, 1100, 1120, true)}, metrics: map[string]Metric{"a": m(100), "b": m(500)}, want: 12, wantUtil: 300},
		{name: "after initialization: unready but was ready once counts as ready", current: 2, target: 50,
			pods: []PodInfo{old("a"), pod("b", 100, 0, 1000, false)}, metrics: map[string]Metric{"a": m(100), "b": m(100)}, want: 4, wantUtil: 100},
		{name: "after initialization: never ready (within 30 s of start) is unready", current: 2, target: 50,
			pods: []PodInfo{old("a"), pod("b", 100, 0, 20, false)}, metrics: map[string]Metric{"a": m(100), "b": m(100)}, want: 2, wantUtil: 100, explain: "1 unready pods counted at 0%"},
		{name: "memory ignores readiness", current: 2, target: 50, resource: "memory",
			pods: []PodInfo{old("a"), pod("b", 100, 1190, 1190, false)}, metrics: map[string]Metric{"a": m(100), "b": m(100)}, want: 4, wantUtil: 100},
		{name: "missing metrics on scale-down count at 100%", current: 4, target: 50,
			pods: []PodInfo{old("a"), old("b"), old("c"), old("d")}, metrics: map[string]Metric{"a": m(10), "b": m(10), "c": m(10)}, want: 3, wantUtil: 10,
			explain: "1 pods without metrics counted at 100%"},
		{name: "missing metrics on scale-down count at the target above 100%", current: 4, target: 200,
			pods: []PodInfo{old("a"), old("b"), old("c"), old("d")}, metrics: map[string]Metric{"a": m(10), "b": m(10), "c": m(10)}, want: 2, wantUtil: 10,
			explain: "counted at 200%"},
		{name: "missing metrics on scale-up count at 0% (direction flips: keep)", current: 4, target: 50,
			pods: []PodInfo{old("a"), old("b"), old("c"), old("d")}, metrics: map[string]Metric{"a": m(60)}, want: 4, wantUtil: 60,
			explain: "3 pods without metrics counted at 0%"},
		{name: "deleting and failed pods are ignored", current: 3, target: 50,
			pods: []PodInfo{old("a"), deleting, failed}, metrics: map[string]Metric{"a": m(100), "d": m(900), "f": m(900)}, want: 2, wantUtil: 100},
		{name: "metrics of other pods are ignored", current: 1, target: 50,
			pods: []PodInfo{old("a")}, metrics: map[string]Metric{"a": m(50), "zz": m(900)}, want: 1, wantUtil: 50},
		{name: "average value target", current: 3, avg: 100 << 20, resource: "memory",
			pods: []PodInfo{old("a"), old("b"), old("c")}, metrics: map[string]Metric{"a": m(300 << 20), "b": m(300 << 20), "c": m(300 << 20)}, want: 9, wantUtil: 300 << 20},
		{name: "missing request is an error", current: 1, target: 50, pods: []PodInfo{noReq}, metrics: map[string]Metric{"n": m(1)}, wantErr: "missing request for cpu in container sidecar"},
		{name: "no metrics is an error", current: 2, target: 50, pods: []PodInfo{old("a"), old("b")}, wantErr: "did not receive metrics"},
		{name: "no pods is an error", current: 2, target: 50, wantErr: "no pods"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.resource
			if res == "" {
				res = "cpu"
			}
			p, err := ResourceReplicas(tc.current, tc.target, tc.avg, res, tc.pods, tc.metrics, params())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Replicas != tc.want || p.Utilization != tc.wantUtil {
				t.Fatalf("got %d replicas at %d, want %d at %d (%s)", p.Replicas, p.Utilization, tc.want, tc.wantUtil, p.Explain)
			}
			if !strings.Contains(p.Explain, tc.explain) {
				t.Fatalf("explain %q lacks %q", p.Explain, tc.explain)
			}
		})
	}
}

func TestNormalizeWithoutBehavior(t *testing.T) {
	win := 5 * time.Minute
	type step struct {
		at       float64 // seconds
		current  int32
		proposal int32
		want     int32
	}
	tests := []struct {
		name     string
		min, max int32
		steps    []step
		why      string
	}{
		{"scale-up limit max(2·current, 4)", 1, 100, []step{{0, 2, 10, 4}, {15, 4, 10, 8}, {30, 8, 10, 10}}, "scale-up limit"},
		{"maxReplicas below the scale-up limit", 1, 5, []step{{0, 3, 10, 5}}, "maxReplicas 5"},
		{"minReplicas", 3, 10, []step{{0, 4, 1, 4}, {301, 4, 1, 3}}, "minReplicas 3"},
		{"downscale stabilization: the max of the last 5 min", 1, 20, []step{
			{0, 10, 10, 10}, // recordInitialRecommendation + first proposal
			{15, 10, 2, 10},
			{150, 10, 6, 10},
			{299, 10, 3, 10},
			{301, 10, 3, 6}, // the samples of t=0 and t=15 fell out; 6 (t=150) is the max
			{451, 6, 3, 3},
		}, "downscale stabilization"},
		{"scale-up is not delayed", 1, 20, []step{{0, 2, 2, 2}, {15, 2, 3, 3}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &state{}
			whys := ""
			for i, s := range tc.steps {
				st.recordInitialRecommendation(s.current, sec(s.at))
				got, why := st.normalize(s.current, s.proposal, tc.min, tc.max, win, sec(s.at))
				whys += why
				if got != s.want {
					t.Fatalf("step %d (t=%gs): got %d, want %d (%s)", i, s.at, got, s.want, why)
				}
			}
			if !strings.Contains(whys, tc.why) {
				t.Fatalf("explanations %q lack %q", whys, tc.why)
			}
			if n := len(st.recommendations); n > len(tc.steps)+1 {
				t.Fatalf("%d recommendations kept", n)
			}
		})
	}
}

func i32(v int32) *int32 { return &v }

func TestNormalizeWithBehaviors(t *testing.T) {
	win := 5 * time.Minute
	type step struct {
		at       float64
		current  int32
		proposal int32
		want     int32
	}
	tests := []struct {
		name     string
		behavior api.HPABehavior
		min, max int32
		steps    []step
	}{
		{"default scale-up: max(+4 pods, +100%) per 15 s", api.HPABehavior{}, 1, 1000, []step{
			{0, 10, 100, 20},  // max(10+4, 20)
			{10, 20, 100, 20}, // within the period: period start 10 → limit 20
			{16, 20, 100, 40}, // the event left the 15 s period
			{32, 2, 100, 6},   // small: +4 pods wins over +100 % (2 → 4)
		}},
		{"default scale-down: 300 s window, then 100% per 15 s", api.HPABehavior{}, 1, 100, []step{
			{0, 10, 10, 10},
			{15, 10, 1, 10},
			{290, 10, 1, 10},
			{316, 10, 1, 1},
		}},
		{"scale-down policy 1 pod per 60 s, no window", api.HPABehavior{ScaleDown: &api.HPAScalingRules{
			StabilizationWindowSeconds: i32(0), Policies: []api.HPAScalingPolicy{{Type: api.PodsScalingPolicy, Value: 1, PeriodSeconds: 60}}}}, 1, 100, []step{
			{0, 10, 2, 9},
			{30, 9, 2, 9},
			{61, 9, 2, 8},
		}},
		{"scale-up window 60 s: the minimum of the last minute", api.HPABehavior{ScaleUp: &api.HPAScalingRules{StabilizationWindowSeconds: i32(60)}}, 1, 100, []step{
			{0, 2, 2, 2},
			{15, 2, 8, 2},
			{30, 2, 8, 2},
			{61, 2, 8, 6}, // the t=0 sample left the window; +4 pods limits 2 → 6
		}},
		{"selectPolicy Min", api.HPABehavior{ScaleUp: &api.HPAScalingRules{SelectPolicy: "Min"}}, 1, 100, []step{{0, 10, 100, 14}}},
		{"scale-down disabled", api.HPABehavior{ScaleDown: &api.HPAScalingRules{SelectPolicy: "Disabled", StabilizationWindowSeconds: i32(0)}}, 1, 100, []step{{0, 10, 1, 10}}},
		{"maxReplicas below the policy limit", api.HPABehavior{}, 1, 12, []step{{0, 10, 100, 12}}},
		{"minReplicas above the policy limit", api.HPABehavior{ScaleDown: &api.HPAScalingRules{StabilizationWindowSeconds: i32(0)}}, 3, 100, []step{{0, 10, 1, 3}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &state{}
			up := fillRules(tc.behavior.ScaleUp, DefaultScaleUp())
			down := fillRules(tc.behavior.ScaleDown, DefaultScaleDown(win))
			for i, s := range tc.steps {
				at := sec(s.at)
				st.recordInitialRecommendation(s.current, at)
				got, why := st.normalizeWithBehaviors(s.current, s.proposal, tc.min, tc.max, up, down, at)
				if got != s.want {
					t.Fatalf("step %d (t=%gs): got %d, want %d (%s)", i, s.at, got, s.want, why)
				}
				if got != s.current {
					st.storeScaleEvent(up, down, s.current, got, at)
				}
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"default", func(*Config) {}, ""},
		{"sync period", func(c *Config) { c.SyncPeriod = 0 }, "syncPeriod"},
		{"tolerance", func(c *Config) { c.Tolerance = 1 }, "tolerance"},
		{"window", func(c *Config) { c.DownscaleStabilizationWindow = -1 }, "downscaleStabilizationWindow"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := c.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}
