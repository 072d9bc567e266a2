//go:build !kubescheduler

package main

import (
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/kubesim/kubesim/model/cluster"
)

// Built without the kube-scheduler policy (build tag kubescheduler; see
// docs/kube-scheduler.md): its names give a clear error.

const buildTags = ""

func withKubeSchedulerConfig(opts cluster.Options, policy string) (cluster.Options, error) {
	return opts, badInput("policy %s: %s", policy, cluster.ErrNoKubeScheduler)
}

func newFidelityCmd(_ *viper.Viper, _, _ io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "fidelity SCENARIO",
		Short: "Compare kubesim's own scheduler with the real kube-scheduler (needs the kubescheduler build tag)",
		Args:  cobra.ExactArgs(1),
		RunE: func(*cobra.Command, []string) error {
			return badInput("fidelity: %s", cluster.ErrNoKubeScheduler)
		},
	}
}
