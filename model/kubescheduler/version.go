//go:build kubescheduler

// Package kubescheduler runs the real kube-scheduler framework and in-tree
// plug-ins of k8s.io/kubernetes as a kubesim raw policy on the virtual clock, and
// compares kubesim's own plug-ins with them (the fidelity oracle). See
// docs/kube-scheduler.md.
//
// kubesim's own queue and clock stay in charge: the scheduler pops pods, backs off
// and flushes in virtual time, and hands each pod to the policy; the policy keeps
// the upstream scheduler cache fed incrementally from the scheduler's own watch
// events (each object converted once per event), runs PreFilter, Filter (with
// kube-scheduler's node sampling), PreScore, Score and, when no node fits,
// PostFilter (DefaultPreemption, synchronous, victims deleted through kubesim's
// apiserver), all with parallelism 1, and breaks ties with kubesim's seeded
// stream. Nothing here reads the wall clock for a decision.
package kubescheduler

// The pinned Kubernetes release (go.mod: k8s.io/kubernetes and its staging
// modules; version_test.go checks they agree).
const (
	// Minor is the Kubernetes minor release the policy runs.
	Minor = "v1.37"
	// Version is the pinned k8s.io/kubernetes module version.
	Version = Minor + ".2"
	// PolicyName is the policy's name (kubesim run --policy, compare --policies,
	// scenarios): "kube-scheduler-v1.37".
	PolicyName = "kube-scheduler-" + Minor
)
