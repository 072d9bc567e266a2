package workload

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/kubesim/kubesim/model/dist"
)

// Request-size distributions of the synthetic generator: numbers in a
// resource's base unit (millicores of CPU, bytes of memory, thousandths of a
// GPU). Named and registered like the arrival processes; seeded by an explicit
// source.

// SizeSpec describes a size distribution. Which fields matter depends on Dist:
//
//	const:       Value
//	uniform:     Min, Max                     uniform on [Min, Max]
//	normal:      Mean, StdDev                 normal
//	lognormal:   Median, Sigma                exp(N(ln Median, Sigma²))
//	exponential: Mean                         exponential
//	choice:      Values, Weights              Values[i] with probability
//	             Weights[i]/ΣWeights (equal weights when none are given)
//
// Every draw is then clamped to [Min, Max] (Max 0 = no upper bound; Min at
// least 0) and rounded to a whole unit.
type SizeSpec struct {
	Dist    string
	Value   float64
	Min     float64
	Max     float64
	Mean    float64
	Median  float64
	StdDev  float64
	Sigma   float64
	Values  []float64
	Weights []float64
}

// Sizes draws sizes.
type Sizes interface{ Sample() int64 }

// SizeFactory builds one distribution kind.
type SizeFactory struct {
	Validate func(s SizeSpec) error
	New      func(s SizeSpec, src rand.Source) func() float64
}

// SizeRegistry maps distribution names to factories.
type SizeRegistry struct{ dist.Kinds[SizeFactory] }

// Built-in size distribution names.
const (
	SizeConst       = "const"
	SizeUniform     = "uniform"
	SizeNormal      = "normal"
	SizeLogNormal   = "lognormal"
	SizeExponential = "exponential"
	SizeChoice      = "choice"
)

func finiteNonNeg(name string, v float64) error {
	if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%s must be a non-negative number, got %g", name, v)
	}
	return nil
}

// NewSizeRegistry returns the built-in distributions.
func NewSizeRegistry() *SizeRegistry {
	r := &SizeRegistry{}
	r.Register(SizeConst, SizeFactory{
		Validate: func(s SizeSpec) error { return finiteNonNeg("value", s.Value) },
		New:      func(s SizeSpec, _ rand.Source) func() float64 { return func() float64 { return s.Value } },
	})
	r.Register(SizeUniform, SizeFactory{
		Validate: func(s SizeSpec) error {
			if s.Max < s.Min || s.Max <= 0 {
				return fmt.Errorf("uniform needs 0 <= min <= max and max > 0, got min %g max %g", s.Min, s.Max)
			}
			return nil
		},
		New: func(s SizeSpec, src rand.Source) func() float64 {
			return distuv.Uniform{Min: s.Min, Max: s.Max, Src: src}.Rand
		},
	})
	r.Register(SizeNormal, SizeFactory{
		Validate: func(s SizeSpec) error {
			if err := finiteNonNeg("mean", s.Mean); err != nil {
				return err
			}
			return finiteNonNeg("stddev", s.StdDev)
		},
		New: func(s SizeSpec, src rand.Source) func() float64 {
			return distuv.Normal{Mu: s.Mean, Sigma: s.StdDev, Src: src}.Rand
		},
	})
	r.Register(SizeLogNormal, SizeFactory{
		Validate: func(s SizeSpec) error {
			if !(s.Median > 0) || math.IsInf(s.Median, 0) {
				return fmt.Errorf("median must be positive, got %g", s.Median)
			}
			if s.Sigma < 0 || s.Sigma > 5 || math.IsNaN(s.Sigma) {
				return fmt.Errorf("sigma must be in [0, 5], got %g", s.Sigma)
			}
			return nil
		},
		New: func(s SizeSpec, src rand.Source) func() float64 {
			return distuv.LogNormal{Mu: math.Log(s.Median), Sigma: s.Sigma, Src: src}.Rand
		},
	})
	r.Register(SizeExponential, SizeFactory{
		Validate: func(s SizeSpec) error {
			if !(s.Mean > 0) || math.IsInf(s.Mean, 0) {
				return fmt.Errorf("mean must be positive, got %g", s.Mean)
			}
			return nil
		},
		New: func(s SizeSpec, src rand.Source) func() float64 {
			return distuv.Exponential{Rate: 1 / s.Mean, Src: src}.Rand
		},
	})
	r.Register(SizeChoice, SizeFactory{
		Validate: func(s SizeSpec) error {
			if len(s.Values) == 0 {
				return fmt.Errorf("choice needs values")
			}
			for _, v := range s.Values {
				if err := finiteNonNeg("a value", v); err != nil {
					return err
				}
			}
			if len(s.Weights) > 0 && len(s.Weights) != len(s.Values) {
				return fmt.Errorf("choice has %d values but %d weights", len(s.Values), len(s.Weights))
			}
			sum := 0.0
			for _, w := range s.Weights {
				if err := finiteNonNeg("a weight", w); err != nil {
					return err
				}
				sum += w
			}
			if len(s.Weights) > 0 && sum <= 0 {
				return fmt.Errorf("choice weights must not all be 0")
			}
			return nil
		},
		New: func(s SizeSpec, src rand.Source) func() float64 {
			w := s.Weights
			if len(w) == 0 {
				w = make([]float64, len(s.Values))
				for i := range w {
					w[i] = 1
				}
			}
			cat := distuv.NewCategorical(w, src)
			values := append([]float64(nil), s.Values...)
			return func() float64 { return values[int(cat.Rand())] }
		},
	})
	return r
}

// Validate checks a spec against its distribution.
func (r *SizeRegistry) Validate(s SizeSpec) error {
	f, err := r.Lookup("size distribution", s.Dist)
	if err != nil {
		return err
	}
	if err := finiteNonNeg("min", s.Min); err != nil {
		return err
	}
	if err := finiteNonNeg("max", s.Max); err != nil {
		return err
	}
	if s.Max > 0 && s.Max < s.Min {
		return fmt.Errorf("max (%g) is below min (%g)", s.Max, s.Min)
	}
	return f.Validate(s)
}

// New builds a sampler drawing from src.
func (r *SizeRegistry) New(s SizeSpec, src rand.Source) (Sizes, error) {
	if err := r.Validate(s); err != nil {
		return nil, err
	}
	f, _ := r.Lookup("size distribution", s.Dist)
	return &clamped{draw: f.New(s, src), min: s.Min, max: s.Max}, nil
}

type clamped struct {
	draw     func() float64
	min, max float64
}

func (c *clamped) Sample() int64 {
	v := c.draw()
	if math.IsNaN(v) || v < c.min {
		v = c.min
	}
	if c.max > 0 && v > c.max {
		v = c.max
	}
	if v > math.MaxInt64/4 {
		v = math.MaxInt64 / 4
	}
	return int64(math.Round(v))
}
