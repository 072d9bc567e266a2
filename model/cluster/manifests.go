package cluster

import (
	"fmt"
	"sort"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/manifest"
	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/sim"
)

// ManifestBatch is a set of Kubernetes manifests (read and converted by the
// caller with model/manifest: the model does no I/O) applied at a virtual time.
type ManifestBatch struct {
	// At is when the objects are applied and the Nodes' kubelets start.
	At time.Duration
	// Source names the batch in traces and errors (a scenario field or a flag).
	Source string
	Set    *manifest.Set
}

// manifestNodeParts turns the batches' Nodes into node configurations, numbered
// from index: each is a machine with a kubelet that registers the Node with the
// manifest's labels and taints, its capacity and, when the manifest gives it, its
// allocatable exactly (the difference is the kubelet's reservation; no eviction
// threshold is subtracted on top). Without allocatable the kubelet's defaults
// apply (hard eviction thresholds subtracted from capacity).
func manifestNodeParts(sc *scenario.Scenario, batches []ManifestBatch, index int) []NodePart {
	var out []NodePart
	for _, b := range batches {
		for _, o := range b.Set.Nodes {
			n := o.Obj.(*api.Node)
			zone := n.Labels[api.LabelZone]
			pool := &scenario.NodePool{Name: n.Name, Labels: n.Labels}
			part := nodePart(sc, pool, n.Name, zone, index+len(out))
			k := &part.Kubelet
			capy := n.Status.Capacity.Clone()
			if capy.Pods > 0 {
				k.MaxPods = capy.Pods
			}
			capy.Pods = 0
			if capy.EphemeralStorage == 0 {
				capy.EphemeralStorage = k.Capacity.EphemeralStorage
			}
			k.Capacity = capy
			if a := n.Status.Allocatable; !a.IsZero() {
				if a.Pods > 0 {
					k.MaxPods = a.Pods
				}
				k.EvictionHardMemory, k.EvictionHardNodefsPercent = 0, 0
				res := capy.Clone()
				alloc := a.Clone()
				alloc.Pods = 0
				if alloc.EphemeralStorage == 0 {
					alloc.EphemeralStorage = capy.EphemeralStorage
				}
				res.Sub(&alloc)
				k.Reserved = res
			}
			k.Taints = append([]api.Taint(nil), n.Spec.Taints...)
			k.StartAt = b.At
			out = append(out, part)
		}
	}
	return out
}

// applyManifests has the user apply each batch at its time, as `kubectl apply -f`
// would: the PriorityClasses first (pods resolve their priority at admission),
// then every other object in file order, one create request each (step 2).
func (c *Cluster) applyManifests(batches []ManifestBatch) {
	user := c.API.Client("kubectl", 0, 0).WithStep(2)
	sorted := append([]ManifestBatch(nil), batches...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].At < sorted[j].At })
	for _, b := range sorted {
		var classes, rest []manifest.Object
		for _, o := range b.Set.Objects {
			if o.Obj.Kind() == api.KindPriorityClass {
				classes = append(classes, o)
			} else {
				rest = append(rest, o)
			}
		}
		if len(classes)+len(rest) == 0 {
			continue
		}
		c.Eng.At(sim.Time(b.At), func() {
			c.createAll(user, classes, func() { c.createAll(user, rest, nil) })
		})
	}
}

// createAll creates the objects (copies: a batch may be applied by several
// runs) and calls then once every create has been answered.
func (c *Cluster) createAll(user *apiserver.Client, objs []manifest.Object, then func()) {
	left := len(objs)
	if left == 0 {
		if then != nil {
			then()
		}
		return
	}
	for _, o := range objs {
		obj := o.Obj.DeepCopyObject()
		ref := api.Ref(obj)
		if obj.Meta().Namespace == "" && obj.Kind().Namespaced() {
			ref = api.RefOf(obj.Kind(), api.NamespaceDefault, obj.Meta().Name)
		}
		c.tel.Trace(sim.Record{Time: c.Eng.Now(), Step: 2, Component: "kubectl", Action: "apply", Object: ref,
			Detail: fmt.Sprintf("POST the %s from %s:%d to the apiserver", obj.Kind(), o.File, o.Line)})
		user.Create(obj, func(_ api.Object, err error) {
			if err != nil {
				c.tel.Trace(sim.Record{Time: c.Eng.Now(), Step: 2, Component: "kubectl", Action: "error", Object: ref,
					Detail: fmt.Sprintf("%s:%d: %v", o.File, o.Line, err)})
			}
			if left--; left == 0 && then != nil {
				then()
			}
		})
	}
}
