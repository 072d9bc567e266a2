// Package defaultbinder holds DefaultBinder, which binds a pod by POSTing a Binding
// to the pod's binding subresource through the scheduler's apiserver client
// (reference §2.1; pkg/scheduler/framework/plugins/defaultbinder/default_binder.go).
// The apiserver sets spec.nodeName and PodScheduled=True in one etcd write; the
// kubelet of the node learns of the pod through its own watch.
package defaultbinder

import (
	"fmt"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// Name is the plug-in's registered name.
const Name = "DefaultBinder"

// DefaultBinder binds through the apiserver.
type DefaultBinder struct {
	h framework.Handle
}

var _ framework.BindPlugin = (*DefaultBinder)(nil)

// New builds the plug-in; it takes no arguments.
func New(_ any, h framework.Handle) (framework.Plugin, error) { return &DefaultBinder{h: h}, nil }

// Name implements framework.Plugin.
func (*DefaultBinder) Name() string { return Name }

// Bind implements framework.BindPlugin. The UID precondition makes a binding for a
// deleted and re-created pod of the same name fail, as upstream.
func (b *DefaultBinder) Bind(_ *framework.CycleState, pod *framework.PodInfo, node api.NodeName, done func(*framework.Status)) *framework.Status {
	p := pod.Pod
	binding := &api.Binding{PodNamespace: p.Namespace, PodName: p.Name, PodUID: p.UID, Target: node}
	b.h.Client().Bind(binding, func(err error) {
		if err != nil {
			done(framework.AsStatus(fmt.Errorf("binding rejected: %w", err)))
			return
		}
		done(nil)
	})
	return nil
}
