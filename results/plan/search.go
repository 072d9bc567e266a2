package plan

import (
	"math"
	"sort"
)

// Searcher finds the least count of one node type whose candidate passes every SLO.
//
// It assumes the SLOs are monotone in the count: if n nodes pass, n+1 nodes pass
// too (more capacity never makes pods unschedulable, nor a lost node a larger
// share). It first tries MaxCount (if that fails, no count in range passes), then
// bisects; the count it returns has been run and passed, and count−1 (when at least
// MinCount) has been run and failed, so the answer is verified at its boundary. If
// count−1 passed after all (the assumption broke), the search keeps going down one
// by one and marks the result NonMonotone.
type Searcher struct {
	Type NodeType

	lo, hi   int // the answer is in [lo, hi]; hi has passed once started
	started  bool
	done     bool
	outcomes map[int]bool

	// Found is the least passing count (0 when none passes in range).
	Found       int
	NonMonotone bool
}

// NewSearcher starts a search over t.MinCount..t.MaxCount.
func NewSearcher(t NodeType) *Searcher {
	return &Searcher{Type: t, lo: t.MinCount, hi: t.MaxCount, outcomes: map[int]bool{}}
}

// Next returns the next count to run, or ok false when the search is over.
func (s *Searcher) Next() (count int, ok bool) {
	if s.done {
		return 0, false
	}
	if !s.started {
		return s.hi, true
	}
	if s.lo < s.hi {
		return s.lo + (s.hi-s.lo)/2, true
	}
	// Converged on hi: verify count−1.
	below := s.hi - 1
	if below < s.Type.MinCount {
		s.finish()
		return 0, false
	}
	if pass, ran := s.outcomes[below]; !ran {
		return below, true
	} else if pass {
		// Not monotone: go on downward.
		s.NonMonotone = true
		s.hi, s.lo = below, below
		return s.Next()
	}
	s.finish()
	return 0, false
}

func (s *Searcher) finish() {
	s.done = true
	if s.started {
		s.Found = s.hi
	}
}

// Record gives the outcome of running count (as returned by Next).
func (s *Searcher) Record(count int, pass bool) {
	s.outcomes[count] = pass
	if !s.started {
		s.started = true
		if !pass {
			s.done = true // even the largest count fails
			s.started = false
		}
		return
	}
	if count >= s.lo && count <= s.hi && s.lo < s.hi {
		if pass {
			s.hi = count
		} else {
			s.lo = count + 1
		}
	}
}

// Done reports whether the search is over.
func (s *Searcher) Done() bool { return s.done }

// Cost is the hourly cost of count nodes of t.
func Cost(t NodeType, count int) float64 {
	return math.Round(float64(count)*t.CostPerHour*1e9) / 1e9
}

// Choice is a node type's least passing count.
type Choice struct {
	Type  NodeType
	Count int
}

// Cheapest picks the choice of least hourly cost; ties go to fewer nodes, then to
// the earlier node type in the plan (choices must be in plan order).
func Cheapest(choices []Choice) (Choice, bool) {
	if len(choices) == 0 {
		return Choice{}, false
	}
	c := append([]Choice(nil), choices...)
	sort.SliceStable(c, func(i, j int) bool {
		ci, cj := Cost(c[i].Type, c[i].Count), Cost(c[j].Type, c[j].Count)
		if ci != cj {
			return ci < cj
		}
		return c[i].Count < c[j].Count
	})
	return c[0], true
}
