package workload

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/kubesim/kubesim/model/dist"
)

// Arrival processes of the synthetic generator. Each is a named, registered
// factory (DESIGN.md habit 3); every draw comes from an explicit source (the
// engine's named stream), so a seed fixes the arrival times.

// ArrivalSpec describes an arrival process. Rates are per second. Which fields
// matter depends on Process:
//
//	poisson:  Rate                          inter-arrival ~ Exp(Rate)
//	constant: Rate                          one arrival every 1/Rate
//	bursty:   Rate, OffRate, MeanOn, MeanOff a two-state Markov-modulated Poisson
//	          process: Poisson at Rate during ON periods and at OffRate (default
//	          0: ON/OFF) during OFF periods; the periods are exponential with
//	          means MeanOn and MeanOff; it starts ON. Mean rate
//	          (Rate·MeanOn + OffRate·MeanOff) / (MeanOn + MeanOff).
//	diurnal:  Rate, Amplitude, Period, PeakAt  a non-homogeneous Poisson process
//	          of rate λ(t) = Rate·(1 + Amplitude·cos(2π(t − PeakAt)/Period)),
//	          sampled by thinning (Lewis and Shedler 1979): candidates at
//	          λmax = Rate·(1 + Amplitude), each kept with probability λ(t)/λmax.
//	          Mean rate over whole periods: Rate.
type ArrivalSpec struct {
	Process   string
	Rate      float64
	OffRate   float64
	MeanOn    time.Duration
	MeanOff   time.Duration
	Amplitude float64
	Period    time.Duration
	PeakAt    time.Duration
}

// MeanRate returns the process's long-run mean rate per second.
func (s ArrivalSpec) MeanRate() float64 {
	if s.Process == ArrivalBursty {
		on, off := s.MeanOn.Seconds(), s.MeanOff.Seconds()
		return (s.Rate*on + s.OffRate*off) / (on + off)
	}
	return s.Rate
}

// Arrivals yields arrival times.
type Arrivals interface {
	// Next returns the first arrival after the previous one (the first one after
	// start, for the first call); times are offsets from the generator's start.
	Next() time.Duration
}

// ArrivalFactory builds one process kind.
type ArrivalFactory struct {
	Validate func(s ArrivalSpec) error
	New      func(s ArrivalSpec, src rand.Source) Arrivals
}

// ArrivalRegistry maps process names to factories. NewArrivalRegistry holds the
// built-in ones; Register adds more. No package-level state.
type ArrivalRegistry struct{ dist.Kinds[ArrivalFactory] }

// Built-in arrival process names.
const (
	ArrivalPoisson  = "poisson"
	ArrivalConstant = "constant"
	ArrivalBursty   = "bursty"
	ArrivalDiurnal  = "diurnal"
)

func positiveRate(r float64) error {
	if !(r > 0) || math.IsInf(r, 0) {
		return fmt.Errorf("rate must be a positive number of arrivals per second, got %g", r)
	}
	return nil
}

// NewArrivalRegistry returns the built-in processes.
func NewArrivalRegistry() *ArrivalRegistry {
	r := &ArrivalRegistry{}
	r.Register(ArrivalPoisson, ArrivalFactory{
		Validate: func(s ArrivalSpec) error { return positiveRate(s.Rate) },
		New: func(s ArrivalSpec, src rand.Source) Arrivals {
			return &poissonArrivals{gap: distuv.Exponential{Rate: s.Rate, Src: src}}
		},
	})
	r.Register(ArrivalConstant, ArrivalFactory{
		Validate: func(s ArrivalSpec) error { return positiveRate(s.Rate) },
		New: func(s ArrivalSpec, _ rand.Source) Arrivals {
			return &constantArrivals{gap: 1 / s.Rate}
		},
	})
	r.Register(ArrivalBursty, ArrivalFactory{
		Validate: func(s ArrivalSpec) error {
			if err := positiveRate(s.Rate); err != nil {
				return err
			}
			if s.OffRate < 0 || math.IsNaN(s.OffRate) || math.IsInf(s.OffRate, 0) {
				return fmt.Errorf("offRate must not be negative, got %g", s.OffRate)
			}
			if s.MeanOn <= 0 || s.MeanOff <= 0 {
				return fmt.Errorf("meanOn and meanOff must be positive durations, got %v and %v", s.MeanOn, s.MeanOff)
			}
			return nil
		},
		New: func(s ArrivalSpec, src rand.Source) Arrivals {
			b := &burstyArrivals{rates: [2]float64{s.Rate, s.OffRate},
				means: [2]float64{s.MeanOn.Seconds(), s.MeanOff.Seconds()}, u: distuv.Uniform{Min: 0, Max: 1, Src: src}}
			b.switchAt = b.exp(1 / b.means[0])
			return b
		},
	})
	r.Register(ArrivalDiurnal, ArrivalFactory{
		Validate: func(s ArrivalSpec) error {
			if err := positiveRate(s.Rate); err != nil {
				return err
			}
			if s.Amplitude < 0 || s.Amplitude > 1 || math.IsNaN(s.Amplitude) {
				return fmt.Errorf("amplitude must be in [0, 1], got %g", s.Amplitude)
			}
			if s.Period < 0 {
				return fmt.Errorf("period must be positive, got %v", s.Period)
			}
			return nil
		},
		New: func(s ArrivalSpec, src rand.Source) Arrivals {
			period := s.Period
			if period == 0 {
				period = 24 * time.Hour
			}
			lmax := s.Rate * (1 + s.Amplitude)
			return &diurnalArrivals{spec: s, period: period.Seconds(), lmax: lmax,
				gap: distuv.Exponential{Rate: lmax, Src: src}, u: distuv.Uniform{Min: 0, Max: 1, Src: src}}
		},
	})
	return r
}

// Validate checks a spec against its process.
func (r *ArrivalRegistry) Validate(s ArrivalSpec) error {
	f, err := r.Lookup("arrival process", s.Process)
	if err != nil {
		return err
	}
	return f.Validate(s)
}

// New builds the process drawing from src.
func (r *ArrivalRegistry) New(s ArrivalSpec, src rand.Source) (Arrivals, error) {
	if err := r.Validate(s); err != nil {
		return nil, err
	}
	f, _ := r.Lookup("arrival process", s.Process)
	return f.New(s, src), nil
}

// seconds converts float seconds to a duration, saturating.
func seconds(s float64) time.Duration {
	if s >= float64(math.MaxInt64/2)/1e9 {
		return math.MaxInt64 / 2
	}
	return time.Duration(math.Round(s * 1e9))
}

type poissonArrivals struct {
	gap distuv.Exponential
	t   float64
}

func (p *poissonArrivals) Next() time.Duration {
	p.t += p.gap.Rand()
	return seconds(p.t)
}

type constantArrivals struct {
	gap float64
	n   float64
}

// Next returns n/rate for n = 1, 2, ... (multiplied, so errors do not accumulate).
func (c *constantArrivals) Next() time.Duration {
	c.n++
	return seconds(c.n * c.gap)
}

type burstyArrivals struct {
	rates    [2]float64 // per state: 0 = ON, 1 = OFF
	means    [2]float64 // mean sojourn, seconds
	u        distuv.Uniform
	state    int
	t        float64
	switchAt float64
}

// exp draws an exponential with the given rate by inversion from the one source.
func (b *burstyArrivals) exp(rate float64) float64 { return -math.Log(1-b.u.Rand()) / rate }

func (b *burstyArrivals) Next() time.Duration {
	for i := 0; ; i++ {
		if lam := b.rates[b.state]; lam > 0 {
			cand := b.t + b.exp(lam)
			if cand < b.switchAt {
				b.t = cand
				return seconds(b.t)
			}
		}
		// No arrival before the state changes (memoryless: drop the candidate).
		b.t = b.switchAt
		b.state ^= 1
		b.switchAt = b.t + b.exp(1/b.means[b.state])
		if i > 1_000_000 { // only with absurd parameters; keep the loop bounded
			return seconds(b.t)
		}
	}
}

type diurnalArrivals struct {
	spec   ArrivalSpec
	period float64
	lmax   float64
	gap    distuv.Exponential
	u      distuv.Uniform
	t      float64
}

// Rate returns λ(t) at t seconds.
func (d *diurnalArrivals) rate(t float64) float64 {
	return d.spec.Rate * (1 + d.spec.Amplitude*math.Cos(2*math.Pi*(t-d.spec.PeakAt.Seconds())/d.period))
}

func (d *diurnalArrivals) Next() time.Duration {
	for i := 0; ; i++ {
		d.t += d.gap.Rand()
		if d.u.Rand()*d.lmax <= d.rate(d.t) || i > 1_000_000 {
			return seconds(d.t)
		}
	}
}
