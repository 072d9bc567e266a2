package sim

import (
	"hash/fnv"
	"math/rand/v2"
)

// Stream returns the named random stream of this run. Each name gets its own PCG
// generator seeded from (root seed, hash of name), so adding a stream or drawing more
// from one never shifts the numbers of another. Names are paths by convention:
// "scheduler/tiebreak", "kubelet/node-7/pull". Calling Stream twice with one name
// returns the same stream.
func (e *Engine) Stream(name string) *rand.Rand {
	if r, ok := e.streams[name]; ok {
		return r
	}
	r := rand.New(e.Source(name))
	if e.streams == nil {
		e.streams = make(map[string]*rand.Rand)
	}
	e.streams[name] = r
	return r
}

// Source returns a fresh PCG source for name, for gonum distributions (their Src
// field). Unlike Stream it is not cached: two calls give two sources that produce the
// same sequence.
func (e *Engine) Source(name string) *rand.PCG {
	return NewSource(e.seed, name)
}

// NewSource derives the PCG source of a named stream from a root seed.
func NewSource(seed uint64, name string) *rand.PCG {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return rand.NewPCG(seed, h.Sum64()^0x9e3779b97f4a7c15)
}
