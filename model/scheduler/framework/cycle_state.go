package framework

import "errors"

// StateKey names one plug-in's entry in a CycleState. Convention: "PreFilter" +
// plug-in name, "PreScore" + plug-in name (as upstream).
type StateKey string

// StateData is a plug-in's per-cycle data.
type StateData any

// ErrNotFound is returned by CycleState.Read for a missing key.
var ErrNotFound = errors.New("not found")

// CycleState carries plug-in data through one scheduling attempt of one pod
// (pkg/scheduler/framework/cycle_state.go). Unlike upstream it needs no lock: the
// simulator runs one cycle at a time. It is a small slice, not a map, because a
// profile writes a handful of keys and the filter loop reads them on every node.
type CycleState struct {
	keys []StateKey
	vals []StateData
}

// NewCycleState returns an empty state.
func NewCycleState() *CycleState {
	return &CycleState{keys: make([]StateKey, 0, 8), vals: make([]StateData, 0, 8)}
}

// Write stores (or replaces) the data of key.
func (c *CycleState) Write(key StateKey, val StateData) {
	for i, k := range c.keys {
		if k == key {
			c.vals[i] = val
			return
		}
	}
	c.keys = append(c.keys, key)
	c.vals = append(c.vals, val)
}

// Read returns the data of key, or ErrNotFound.
func (c *CycleState) Read(key StateKey) (StateData, error) {
	for i, k := range c.keys {
		if k == key {
			return c.vals[i], nil
		}
	}
	return nil, ErrNotFound
}

// Delete removes key.
func (c *CycleState) Delete(key StateKey) {
	for i, k := range c.keys {
		if k == key {
			c.keys = append(c.keys[:i], c.keys[i+1:]...)
			c.vals = append(c.vals[:i], c.vals[i+1:]...)
			return
		}
	}
}

// Len returns the number of keys.
func (c *CycleState) Len() int { return len(c.keys) }
