//go:build kubescheduler

package main

import (
	"errors"
	"io/fs"
	"os"

	"github.com/kubesim/kubesim/model/cluster"
	"github.com/kubesim/kubesim/model/kubescheduler"
)

// buildTags are the tags this binary was built with (the CLI tests build the
// binary under test with the same).
const buildTags = "kubescheduler"

// withKubeSchedulerConfig reads the KubeSchedulerConfiguration file of a policy
// named "kube-scheduler-v1.37:FILE", decodes and validates it with the scheduler's
// own codec, and makes it the run's policy (docs/kube-scheduler.md).
func withKubeSchedulerConfig(opts cluster.Options, policy string) (cluster.Options, error) {
	file, _ := cluster.IsKubeSchedulerConfig(policy)
	if file == "" {
		return opts, badInput("policy %q: name a KubeSchedulerConfiguration file after the colon (%s:FILE)", policy, kubescheduler.PolicyName)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return opts, badInput("policy %s: scheduler configuration %s: no such file", policy, file)
		}
		return opts, badInput("policy %s: scheduler configuration %s: %v", policy, file, err)
	}
	cfg, err := kubescheduler.DecodeConfig(file, b)
	if err != nil {
		return opts, badInput("policy %s: %v", policy, err)
	}
	opts.Policies = cluster.NewPolicyRegistry()
	opts.Policies.Register(policy, cluster.KubeSchedulerPolicy(&kubescheduler.Args{Config: cfg, Source: file}))
	opts.Policy = policy
	return opts, nil
}
