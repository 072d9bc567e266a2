package dist

import (
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/sim"
)

func TestSamplersMatchTheirParameters(t *testing.T) {
	reg := NewRegistry()
	tests := []struct {
		name       string
		spec       Spec
		wantMedian time.Duration
		tol        float64 // relative tolerance on the sample median
		min, max   time.Duration
	}{
		{"const", Const(3 * time.Millisecond), 3 * time.Millisecond, 0, 3 * time.Millisecond, 3 * time.Millisecond},
		{"uniform", Uniform(time.Millisecond, 3*time.Millisecond), 2 * time.Millisecond, 0.05, time.Millisecond, 3 * time.Millisecond},
		{"exponential", Exponential(10 * time.Millisecond), 6931471 * time.Nanosecond, 0.08, 0, time.Hour},
		{"lognormal", LogNormal(5*time.Millisecond, 0.5), 5 * time.Millisecond, 0.05, 0, time.Hour},
		{"normal truncated", Spec{Kind: KindNormal, Mean: time.Millisecond, StdDev: 2 * time.Millisecond}, time.Millisecond, 0.15, 0, time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := reg.New(tc.spec, sim.NewSource(1, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			v := make([]float64, 20000)
			for i := range v {
				d := s.Sample()
				if d < tc.min || d > tc.max {
					t.Fatalf("sample %v outside [%v, %v]", d, tc.min, tc.max)
				}
				v[i] = float64(d)
			}
			sort.Float64s(v)
			med := v[len(v)/2]
			if want := float64(tc.wantMedian); math.Abs(med-want) > tc.tol*want+1 {
				t.Fatalf("median %v, want %v ± %.0f%%", time.Duration(med), tc.wantMedian, 100*tc.tol)
			}
			if got := tc.spec.MedianValue(); tc.spec.Kind != KindNormal && math.Abs(float64(got-tc.wantMedian)) > 1 {
				t.Fatalf("MedianValue %v, want %v", got, tc.wantMedian)
			}
		})
	}
}

func TestSameSourceSameSequence(t *testing.T) {
	reg := NewRegistry()
	a := reg.MustNew(LogNormal(time.Millisecond, 1), sim.NewSource(7, "x"))
	b := reg.MustNew(LogNormal(time.Millisecond, 1), sim.NewSource(7, "x"))
	c := reg.MustNew(LogNormal(time.Millisecond, 1), sim.NewSource(8, "x"))
	same := true
	for i := 0; i < 100; i++ {
		x, y, z := a.Sample(), b.Sample(), c.Sample()
		if x != y {
			t.Fatalf("draw %d differs for the same seed", i)
		}
		same = same && x == z
	}
	if same {
		t.Fatal("seeds 7 and 8 gave the same sequence")
	}
}

func TestValidation(t *testing.T) {
	reg := NewRegistry()
	bad := []struct {
		spec Spec
		msg  string
	}{
		{Spec{Kind: "weibull"}, "unknown distribution"},
		{Spec{}, "unknown distribution"},
		{Const(-time.Second), "must not be negative"},
		{Uniform(2*time.Second, time.Second), "below min"},
		{Exponential(0), "must be positive"},
		{LogNormal(0, 1), "must be positive"},
		{LogNormal(time.Second, -1), "sigma"},
		{Spec{Kind: KindNormal, StdDev: -1}, "must not be negative"},
	}
	for _, b := range bad {
		err := reg.Validate(b.spec)
		if err == nil || !strings.Contains(err.Error(), b.msg) {
			t.Errorf("%+v: err = %v, want %q", b.spec, err, b.msg)
		}
	}
	if !strings.Contains(reg.Validate(Spec{Kind: "x"}).Error(), "const, exponential, lognormal, normal, uniform") {
		t.Error("unknown-kind error does not list the known kinds")
	}
}
