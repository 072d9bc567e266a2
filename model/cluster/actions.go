package cluster

import (
	"fmt"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/sim"
)

// scheduleActions has the user act at the scenario's times, as kubectl would:
// each action is a read of the current object and an update through the apiserver
// (kubectl scale, kubectl set image, kubectl rollout undo, kubectl delete pod).
func (c *Cluster) scheduleActions() {
	user := c.API.Client("kubectl", 0, 0)
	for i := range c.sc.Actions {
		a := c.sc.Actions[i]
		c.Eng.At(sim.Time(a.At.D()), func() { c.act(user, &a) })
	}
}

func (c *Cluster) traceAction(a *scenario.Action, obj, detail string) {
	c.tel.Trace(sim.Record{Time: c.Eng.Now(), Component: "kubectl", Action: a.Kind, Object: obj, Detail: detail})
}

func (c *Cluster) act(user *apiserver.Client, a *scenario.Action) {
	if a.Kind == "delete-pod" {
		obj := api.RefOf(api.KindPod, a.Namespace, a.Pod)
		c.traceAction(a, obj, "kubectl delete pod: the controllers will notice and replace it")
		user.Delete(api.KindPod, a.Namespace, a.Pod, apiserver.DeleteOptions{}, func(err error) {
			if err != nil {
				c.traceAction(a, obj, "failed: "+err.Error())
			}
		})
		return
	}
	obj := api.RefOf(api.KindDeployment, a.Namespace, a.Deployment)
	user.Get(api.KindDeployment, a.Namespace, a.Deployment, func(o api.Object, err error) {
		if err != nil {
			c.traceAction(a, obj, "failed: "+err.Error())
			return
		}
		d := o.(*api.Deployment)
		next, detail, err := c.applyAction(d, a)
		if err != nil {
			c.traceAction(a, obj, "failed: "+err.Error())
			return
		}
		c.traceAction(a, obj, detail)
		user.Update(next, func(_ api.Object, err error) {
			if err != nil {
				c.traceAction(a, obj, "failed: "+err.Error())
			}
		})
	})
}

// applyAction returns the Deployment after the action, and what it does.
func (c *Cluster) applyAction(d *api.Deployment, a *scenario.Action) (*api.Deployment, string, error) {
	switch a.Kind {
	case "scale":
		n := d.DeepCopy()
		n.Spec.Replicas = *a.Replicas
		return n, fmt.Sprintf("kubectl scale --replicas=%d (was %d)", *a.Replicas, d.Spec.Replicas), nil
	case "set-image":
		return setImage(d, a.Container, a.Image)
	case "rollback":
		return c.rollback(d, a.ToRevision)
	}
	return nil, "", fmt.Errorf("unknown action %q", a.Kind)
}
