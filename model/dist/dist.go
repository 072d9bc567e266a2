// Package dist provides the seeded latency distributions of the model.
//
// A Spec names a distribution kind from a Registry and its parameters; New turns it
// into a Sampler bound to an explicit random source, so every draw is reproducible
// from the run's seed. Durations are time.Duration; a sample is never negative.
package dist

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

// Spec describes a distribution. Which fields matter depends on Kind:
//
//	const:       Value
//	uniform:     Min, Max
//	exponential: Mean
//	lognormal:   Median and Sigma (the standard deviation of ln X)
//	normal:      Mean and StdDev, truncated at Min (default 0)
//
// The zero Spec is invalid; use Const for a fixed latency.
type Spec struct {
	Kind   string
	Value  time.Duration
	Min    time.Duration
	Max    time.Duration
	Mean   time.Duration
	Median time.Duration
	StdDev time.Duration
	Sigma  float64
}

// Const returns a Spec that always yields d.
func Const(d time.Duration) Spec { return Spec{Kind: KindConst, Value: d} }

// LogNormal returns a log-normal Spec with the given median and sigma.
func LogNormal(median time.Duration, sigma float64) Spec {
	return Spec{Kind: KindLogNormal, Median: median, Sigma: sigma}
}

// Uniform returns a uniform Spec on [min, max].
func Uniform(min, max time.Duration) Spec { return Spec{Kind: KindUniform, Min: min, Max: max} }

// Exponential returns an exponential Spec with the given mean.
func Exponential(mean time.Duration) Spec { return Spec{Kind: KindExponential, Mean: mean} }

// String formats the spec the way scenarios write it.
func (s Spec) String() string {
	switch s.Kind {
	case KindConst:
		return s.Value.String()
	case KindUniform:
		return fmt.Sprintf("uniform(%v, %v)", s.Min, s.Max)
	case KindExponential:
		return fmt.Sprintf("exponential(mean=%v)", s.Mean)
	case KindLogNormal:
		return fmt.Sprintf("lognormal(median=%v, sigma=%g)", s.Median, s.Sigma)
	case KindNormal:
		return fmt.Sprintf("normal(mean=%v, stddev=%v)", s.Mean, s.StdDev)
	}
	return s.Kind
}

// MedianValue returns the distribution's median, for reporting what the model predicts.
func (s Spec) MedianValue() time.Duration {
	switch s.Kind {
	case KindConst:
		return s.Value
	case KindUniform:
		return (s.Min + s.Max) / 2
	case KindExponential:
		return time.Duration(float64(s.Mean) * math.Ln2)
	case KindLogNormal:
		return s.Median
	case KindNormal:
		return max(s.Mean, s.Min)
	}
	return 0
}

// Sampler draws durations.
type Sampler interface {
	Sample() time.Duration
}

// Factory builds a sampler of one kind from a spec and a source.
type Factory struct {
	Validate func(s Spec) error
	New      func(s Spec, src rand.Source) Sampler
}

// Registry maps kind names to factories. Build one with NewRegistry (which holds the
// built-in kinds) and Register more; no package-level state is involved.
type Registry struct{ Kinds[Factory] }

// Built-in kind names.
const (
	KindConst       = "const"
	KindUniform     = "uniform"
	KindExponential = "exponential"
	KindLogNormal   = "lognormal"
	KindNormal      = "normal"
)

// NewRegistry returns a registry holding the built-in kinds.
func NewRegistry() *Registry {
	r := &Registry{}
	r.Register(KindConst, Factory{
		Validate: func(s Spec) error { return nonNeg("value", s.Value) },
		New:      func(s Spec, _ rand.Source) Sampler { return constSampler(s.Value) },
	})
	r.Register(KindUniform, Factory{
		Validate: func(s Spec) error {
			if err := nonNeg("min", s.Min); err != nil {
				return err
			}
			if s.Max < s.Min {
				return fmt.Errorf("max (%v) is below min (%v)", s.Max, s.Min)
			}
			return nil
		},
		New: func(s Spec, src rand.Source) Sampler {
			return &uniformSampler{d: distuv.Uniform{Min: float64(s.Min), Max: float64(s.Max), Src: src}}
		},
	})
	r.Register(KindExponential, Factory{
		Validate: func(s Spec) error { return positive("mean", s.Mean) },
		New: func(s Spec, src rand.Source) Sampler {
			return &expSampler{d: distuv.Exponential{Rate: 1 / float64(s.Mean), Src: src}}
		},
	})
	r.Register(KindLogNormal, Factory{
		Validate: func(s Spec) error {
			if err := positive("median", s.Median); err != nil {
				return err
			}
			if s.Sigma < 0 || math.IsNaN(s.Sigma) || s.Sigma > 5 {
				return fmt.Errorf("sigma must be in [0, 5], got %g", s.Sigma)
			}
			return nil
		},
		New: func(s Spec, src rand.Source) Sampler {
			return &logNormalSampler{d: distuv.LogNormal{Mu: math.Log(float64(s.Median)), Sigma: s.Sigma, Src: src}}
		},
	})
	r.Register(KindNormal, Factory{
		Validate: func(s Spec) error {
			if err := nonNeg("stddev", s.StdDev); err != nil {
				return err
			}
			return nonNeg("min", s.Min)
		},
		New: func(s Spec, src rand.Source) Sampler {
			return &normalSampler{d: distuv.Normal{Mu: float64(s.Mean), Sigma: float64(s.StdDev), Src: src}, min: s.Min}
		},
	})
	return r
}

// Validate checks a spec against its kind.
func (r *Registry) Validate(s Spec) error {
	f, err := r.Lookup("distribution", s.Kind)
	if err != nil {
		return err
	}
	return f.Validate(s)
}

// New builds a sampler for s drawing from src. It returns an error for an invalid spec.
func (r *Registry) New(s Spec, src rand.Source) (Sampler, error) {
	if err := r.Validate(s); err != nil {
		return nil, err
	}
	f, _ := r.Lookup("distribution", s.Kind)
	return f.New(s, src), nil
}

// MustNew is New for specs already validated; it panics on an invalid spec.
func (r *Registry) MustNew(s Spec, src rand.Source) Sampler {
	smp, err := r.New(s, src)
	if err != nil {
		panic(fmt.Sprintf("dist: %v", err))
	}
	return smp
}

func nonNeg(name string, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%s must not be negative, got %v", name, d)
	}
	return nil
}

func positive(name string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%s must be positive, got %v", name, d)
	}
	return nil
}

type constSampler time.Duration

func (c constSampler) Sample() time.Duration { return time.Duration(c) }

type uniformSampler struct{ d distuv.Uniform }

func (u *uniformSampler) Sample() time.Duration { return clampDur(u.d.Rand()) }

type expSampler struct{ d distuv.Exponential }

func (e *expSampler) Sample() time.Duration { return clampDur(e.d.Rand()) }

type logNormalSampler struct{ d distuv.LogNormal }

func (l *logNormalSampler) Sample() time.Duration { return clampDur(l.d.Rand()) }

type normalSampler struct {
	d   distuv.Normal
	min time.Duration
}

func (n *normalSampler) Sample() time.Duration { return max(clampDur(n.d.Rand()), n.min) }

// clampDur converts nanoseconds to a duration, never negative and never overflowing.
func clampDur(ns float64) time.Duration {
	if ns <= 0 || math.IsNaN(ns) {
		return 0
	}
	if ns >= math.MaxInt64/2 {
		return math.MaxInt64 / 2
	}
	return time.Duration(ns)
}
