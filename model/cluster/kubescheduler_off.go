//go:build !kubescheduler

package cluster

import (
	"errors"
	"strings"

	"github.com/kubesim/kubesim/model/scheduler"
)

// Built without the kube-scheduler policy (build tag kubescheduler): its name is
// still known, and gives ErrNoKubeScheduler.

// KubeSchedulerPolicyName is the policy's name (kubescheduler.PolicyName).
const KubeSchedulerPolicyName = "kube-scheduler-v1.37"

// ErrNoKubeScheduler explains how to get the policy.
var ErrNoKubeScheduler = errors.New("this kubesim was built without the kube-scheduler policy (it links k8s.io/kubernetes): build with the kubescheduler tag, make build-kubescheduler (docs/kube-scheduler.md)")

// IsKubeSchedulerConfig reports whether a policy name is the kube-scheduler policy
// with a configuration file ("kube-scheduler-v1.37:FILE"); it returns the file.
func IsKubeSchedulerConfig(name string) (file string, ok bool) {
	return strings.CutPrefix(name, KubeSchedulerPolicyName+":")
}

func registerKubeScheduler(r *PolicyRegistry) {
	r.Register(KubeSchedulerPolicyName, func(*scheduler.Config) error { return ErrNoKubeScheduler })
}

func registerKubeSchedulerPlugins(*scheduler.Registry) error { return nil }
