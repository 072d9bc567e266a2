package dist

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Kinds is a set of factories by name: what the registries of distributions
// (Registry), and the workload package's arrival processes and size
// distributions, have in common. The zero value is ready to use.
type Kinds[F any] struct{ m map[string]F }

// Register adds (or replaces) a factory.
func (k *Kinds[F]) Register(name string, f F) {
	if k.m == nil {
		k.m = map[string]F{}
	}
	k.m[name] = f
}

// Names returns the registered names, sorted.
func (k *Kinds[F]) Names() []string { return slices.Sorted(maps.Keys(k.m)) }

// Lookup returns the factory registered as name; the error says which what is
// unknown and lists the known names.
func (k *Kinds[F]) Lookup(what, name string) (F, error) {
	f, ok := k.m[name]
	if !ok {
		return f, fmt.Errorf("unknown %s %q (known: %s)", what, name, strings.Join(k.Names(), ", "))
	}
	return f, nil
}
