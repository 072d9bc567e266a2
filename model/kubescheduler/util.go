//go:build kubescheduler

package kubescheduler

import (
	"time"

	v1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
)

func secs(s int64) time.Duration { return time.Duration(s) * time.Second }

func newPodInfo(p *v1.Pod) (fwk.PodInfo, error) { return framework.NewPodInfo(p) }
