package replicaset

import (
	"time"

	"github.com/kubesim/kubesim/sim"
)

// expectations are the creations and deletions a ReplicaSet's last sync issued and
// the controller has not yet seen through its watch (pkg/controller/controller_utils.go
// ControllerExpectations and UIDTrackingControllerExpectations). While any is
// outstanding, and for at most the timeout, the ReplicaSet is not resized again, so
// a slow watch cannot make the controller create or delete twice.
type expectations struct {
	add, del int
	at       sim.Time            // when they were set
	dels     map[string]struct{} // keys of pods expected to go
}

type expectationStore struct {
	m       map[string]*expectations
	timeout time.Duration
}

func newExpectationStore(timeout time.Duration) *expectationStore {
	return &expectationStore{m: map[string]*expectations{}, timeout: timeout}
}

// satisfied reports whether the ReplicaSet may be resized: no expectations, all
// observed, or set longer than the timeout ago (SatisfiedExpectations).
func (s *expectationStore) satisfied(key string, now sim.Time) bool {
	e, ok := s.m[key]
	if !ok {
		return true
	}
	return (e.add <= 0 && e.del <= 0) || now.Sub(e.at) > s.timeout
}

// expectCreations replaces the expectations with n creations (ExpectCreations).
func (s *expectationStore) expectCreations(key string, n int, now sim.Time) {
	s.m[key] = &expectations{add: n, at: now}
}

// expectDeletions replaces the expectations with the deletion of podKeys
// (UIDTrackingControllerExpectations.ExpectDeletions).
func (s *expectationStore) expectDeletions(key string, podKeys []string, now sim.Time) {
	e := &expectations{del: len(podKeys), at: now, dels: make(map[string]struct{}, len(podKeys))}
	for _, k := range podKeys {
		e.dels[k] = struct{}{}
	}
	s.m[key] = e
}

// creationObserved lowers the expected creations by one.
func (s *expectationStore) creationObserved(key string) {
	if e, ok := s.m[key]; ok {
		e.add--
	}
}

// deletionObserved lowers the expected deletions when podKey was expected to go; a
// pod seen going twice (graceful deletion, then removal) counts once.
func (s *expectationStore) deletionObserved(key, podKey string) {
	e, ok := s.m[key]
	if !ok {
		return
	}
	if _, ok := e.dels[podKey]; ok {
		delete(e.dels, podKey)
		e.del--
	}
}

func (s *expectationStore) forget(key string) { delete(s.m, key) }
