//go:build kubescheduler

package cluster

import (
	"errors"
	"strings"

	"github.com/kubesim/kubesim/model/kubescheduler"
	"github.com/kubesim/kubesim/model/scheduler"
)

// The kube-scheduler policy (model/kubescheduler): the real framework of the
// pinned Kubernetes release as a policy, named kubescheduler.PolicyName
// ("kube-scheduler-v1.37") with kube-scheduler's default profile, or
// "kube-scheduler-v1.37:FILE" with a KubeSchedulerConfiguration file decoded by
// the scheduler's own codec (the command reads the file and registers
// KubeSchedulerPolicy under that name).

// KubeSchedulerPolicyName is the policy's name.
const KubeSchedulerPolicyName = kubescheduler.PolicyName

// ErrNoKubeScheduler is returned by builds without the policy (kubescheduler_off.go).
var ErrNoKubeScheduler = errors.New("the kube-scheduler policy is built in")

// IsKubeSchedulerConfig reports whether a policy name is the kube-scheduler policy
// with a configuration file ("kube-scheduler-v1.37:FILE"); it returns the file.
func IsKubeSchedulerConfig(name string) (file string, ok bool) {
	return strings.CutPrefix(name, kubescheduler.PolicyName+":")
}

// KubeSchedulerPolicy returns the PolicyFunc that schedules with the real
// kube-scheduler framework and args (nil: its default profile).
func KubeSchedulerPolicy(args *kubescheduler.Args) PolicyFunc {
	return func(cfg *scheduler.Config) error {
		kubescheduler.Configure(cfg, args)
		return nil
	}
}

func registerKubeScheduler(r *PolicyRegistry) {
	r.Register(kubescheduler.PolicyName, KubeSchedulerPolicy(nil))
}

func registerKubeSchedulerPlugins(r *scheduler.Registry) error {
	return kubescheduler.Register(r)
}
