// Package volume models kube-controller-manager's PersistentVolume controller
// together with the external CSI provisioner it cooperates with (reference §3.6;
// pkg/controller/volume/persistentvolume/pv_controller.go,
// config/v1alpha1/defaults.go; staging/src/k8s.io/component-helpers/storage/volume/
// pv_helpers.go; kubernetes-csi/external-provisioner).
//
// What it does:
//   - Immediate claims: an unbound claim binds to the smallest Available volume of its
//     class whose access modes and capacity fit (a volume pre-bound to the claim wins);
//     with none and a class with a provisioner, a volume is provisioned after the
//     provisioner's latency, in a zone drawn (stream "controller/volume/zones") among
//     the class's allowed zones, or among the zones of the cluster's nodes when the
//     class names none (the external provisioner's requisite topology is then every
//     node's topology).
//   - WaitForFirstConsumer claims wait until the scheduler writes the
//     volume.kubernetes.io/selected-node annotation; then a matching volume in the
//     node's zone is bound, or one is provisioned in that zone.
//   - Binding writes both sides: the volume's claimRef and phase Bound, then the
//     claim's volumeName and phase Bound, each annotated
//     pv.kubernetes.io/bound-by-controller.
//   - Reclaim: a volume whose claim is gone is Released; with the class's reclaim
//     policy Delete it is deleted after the provisioner's delete latency.
//   - Force detach: a volume still attached (see AnnAttachedNode) to a node that has
//     been NotReady for ForceDetachAfter (6 min, the attach/detach controller's
//     maxWaitForUnmountDuration; pkg/controller/volume/attachdetach/
//     attach_detach_controller.go) or that is gone, with no pod on that node using its
//     claim, is detached, so that a ReadWriteOnce volume can follow its pod elsewhere.
//
// The controller resyncs every claim and volume every SyncPeriod (15 s,
// PVClaimBinderSyncPeriod) and reacts to claim, volume and class events.
//
// Simplifications, each a model decision:
//   - the external provisioner is part of the controller (its latency is a model
//     parameter per provisioner name);
//   - static volumes for WaitForFirstConsumer claims are bound by this controller
//     once the node is selected, where upstream the scheduler's PreBind binds them;
//   - a volume has no reclaimPolicy of its own: the class's policy applies, and
//     volumes without a class are retained (the upstream default for static volumes);
//   - attachment is recorded as an annotation on the volume (written by the kubelet,
//     see package kubelet) instead of VolumeAttachment objects and the attach/detach
//     controller;
//   - one serial worker (see package workqueue); no storage capacity tracking.
package volume

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/controller/manager/informers"
	"github.com/kubesim/kubesim/model/controller/manager/workqueue"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

// Component is the trace component name.
const Component = "controller-manager/persistentvolume"

// Annotations and names.
const (
	// AnnAttachedNode records the node a volume is attached to. The kubelet writes
	// it when it attaches and clears it when it detaches (kubesim's stand-in for a
	// VolumeAttachment object); the string is shared with package kubelet.
	AnnAttachedNode = "volume.kubesim.io/attached-node"
	// AnnProvisionedBy names the provisioner of a dynamically provisioned volume
	// (pv_controller.go annDynamicallyProvisioned).
	AnnProvisionedBy = "pv.kubernetes.io/provisioned-by"
	// AnnBindCompleted marks a claim whose binding is complete (pv_helpers.go).
	AnnBindCompleted = "pv.kubernetes.io/bind-completed"
	// NoProvisioner is the provisioner of classes for static volumes only.
	NoProvisioner = "kubernetes.io/no-provisioner"
	// ReclaimDelete and ReclaimRetain are the reclaim policies.
	ReclaimDelete = "Delete"
	ReclaimRetain = "Retain"
)

// Config configures the controller.
type Config struct {
	// SyncPeriod is the periodic resync of every claim and volume
	// (PVClaimBinderSyncPeriod, 15 s; reference §3.6).
	SyncPeriod time.Duration
	// SyncLatency is the time from a key's pickup off the work queue to its sync's
	// decisions. A model parameter.
	SyncLatency dist.Spec
	// ProvisionLatency is the time a provisioner takes to create a volume (the CSI
	// CreateVolume call and the PV object). A model parameter: log-normal, median 3 s.
	ProvisionLatency dist.Spec
	// ProvisionerLatency overrides ProvisionLatency per provisioner name (for example
	// "ebs.csi.aws.com").
	ProvisionerLatency map[string]dist.Spec
	// DeleteLatency is the time a provisioner takes to delete a released volume of a
	// class with reclaimPolicy Delete. A model parameter: log-normal, median 2 s.
	DeleteLatency dist.Spec
	// ForceDetachAfter is how long a volume stays attached to a NotReady node before
	// it is detached (the attach/detach controller's maxWaitForUnmountDuration,
	// 6 min). 0 disables force detach.
	ForceDetachAfter time.Duration
}

// DefaultConfig returns the reference defaults and the model parameters' defaults.
func DefaultConfig() Config {
	return Config{
		SyncPeriod:       15 * time.Second,
		SyncLatency:      dist.LogNormal(time.Millisecond, 0.5),
		ProvisionLatency: dist.LogNormal(3*time.Second, 0.4),
		DeleteLatency:    dist.LogNormal(2*time.Second, 0.4),
		ForceDetachAfter: 6 * time.Minute,
	}
}

// Validate checks the configuration; errors name the field.
func (c *Config) Validate(reg *dist.Registry) error {
	if c.SyncPeriod <= 0 {
		return fmt.Errorf("syncPeriod: must be positive, got %v", c.SyncPeriod)
	}
	if err := reg.Validate(c.SyncLatency); err != nil {
		return fmt.Errorf("syncLatency: %w", err)
	}
	if err := reg.Validate(c.ProvisionLatency); err != nil {
		return fmt.Errorf("provisionLatency: %w", err)
	}
	names := make([]string, 0, len(c.ProvisionerLatency))
	for n := range c.ProvisionerLatency {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if n == "" {
			return fmt.Errorf("provisionerLatency: provisioner name must not be empty")
		}
		if err := reg.Validate(c.ProvisionerLatency[n]); err != nil {
			return fmt.Errorf("provisionerLatency[%s]: %w", n, err)
		}
	}
	if err := reg.Validate(c.DeleteLatency); err != nil {
		return fmt.Errorf("deleteLatency: %w", err)
	}
	if c.ForceDetachAfter < 0 {
		return fmt.Errorf("forceDetachAfter: must not be negative, got %v", c.ForceDetachAfter)
	}
	return nil
}

// Controller is the PersistentVolume controller (with the provisioner).
type Controller struct {
	eng          *sim.Engine
	client, fix  *apiserver.Client // step 0; step 7 for force detach
	cfg          Config
	reg          *dist.Registry
	tel          sim.Telemetry
	factory      *informers.Factory
	pvcInf       *apiserver.Informer
	pvInf        *apiserver.Informer
	scInf        *apiserver.Informer
	nodeInf      *apiserver.Informer
	podInf       *apiserver.Informer
	queue        *workqueue.Queue
	zonesRand    *rand.Rand
	provLat      map[string]dist.Sampler
	delLat       dist.Sampler
	byClass      map[string]map[string]*api.PersistentVolume // class -> name -> volume
	nodeZone     map[string]string                           // node -> zone label
	zoneCount    map[string]int
	provisioning map[api.UID]bool   // claims whose volume is being provisioned
	deleting     map[string]bool    // volumes being deleted
	waitTraced   map[api.UID]string // last wait reason traced per claim
	started      bool
	stats        Stats
}

// Stats are cumulative counters.
type Stats struct {
	Provisioned, Bound, Deleted, ForceDetached uint64
}

// New returns a controller that talks to the apiserver through client.
func New(eng *sim.Engine, client *apiserver.Client, cfg Config, reg *dist.Registry, tel sim.Telemetry) (*Controller, error) {
	if err := cfg.Validate(reg); err != nil {
		return nil, fmt.Errorf("persistentvolume controller: %w", err)
	}
	if tel == nil {
		tel = sim.Discard
	}
	c := &Controller{
		eng: eng, client: client.WithStep(0), fix: client.WithStep(7), cfg: cfg, reg: reg, tel: tel,
		zonesRand:    eng.Stream("controller/volume/zones"),
		provLat:      map[string]dist.Sampler{},
		delLat:       reg.MustNew(cfg.DeleteLatency, eng.Source("controller/volume/delete")),
		byClass:      map[string]map[string]*api.PersistentVolume{},
		nodeZone:     map[string]string{},
		zoneCount:    map[string]int{},
		provisioning: map[api.UID]bool{},
		deleting:     map[string]bool{},
		waitTraced:   map[api.UID]string{},
	}
	c.queue = workqueue.New(eng, reg.MustNew(cfg.SyncLatency, eng.Source("controller/volume/sync")), c.sync, workqueue.DefaultOptions())
	return c, nil
}

// UseInformers makes Start take its informers from a shared factory (call before
// Start). Without it Start creates a private factory.
func (c *Controller) UseInformers(f *informers.Factory) { c.factory = f }

// Stats returns the counters.
func (c *Controller) Stats() Stats { return c.stats }

// Start starts the informers and the periodic resync; the work queue runs once the
// informers have synced.
func (c *Controller) Start() {
	if c.started {
		return
	}
	c.started = true
	if c.factory == nil {
		c.factory = informers.NewFactory(c.client)
	}
	c.pvcInf = c.factory.Informer(api.KindPersistentVolumeClaim, apiserver.Handlers{
		OnAdd:    func(o api.Object) { c.queue.Add(claimKey(o.Meta().Namespace, o.Meta().Name)) },
		OnUpdate: func(_, o api.Object) { c.queue.Add(claimKey(o.Meta().Namespace, o.Meta().Name)) },
		OnDelete: func(o api.Object) {
			pvc := o.(*api.PersistentVolumeClaim)
			delete(c.waitTraced, pvc.UID)
			if pvc.VolumeName != "" {
				c.queue.Add(volumeKey(pvc.VolumeName))
			}
		},
	})
	c.pvInf = c.factory.Informer(api.KindPersistentVolume, apiserver.Handlers{
		OnAdd: func(o api.Object) { c.indexPV(nil, o.(*api.PersistentVolume)); c.pvEvent(o) },
		OnUpdate: func(old, o api.Object) {
			c.indexPV(old.(*api.PersistentVolume), o.(*api.PersistentVolume))
			c.pvEvent(o)
		},
		OnDelete: func(o api.Object) {
			pv := o.(*api.PersistentVolume)
			c.indexPV(pv, nil)
			delete(c.deleting, pv.Name)
			if pv.ClaimRef != nil {
				c.queue.Add(claimKey(pv.ClaimRef.Namespace, pv.ClaimRef.Name))
			}
		},
	})
	c.scInf = c.factory.Informer(api.KindStorageClass, apiserver.Handlers{
		OnAdd:    c.classEvent,
		OnUpdate: func(_, o api.Object) { c.classEvent(o) },
	})
	c.nodeInf = c.factory.Informer(api.KindNode, apiserver.Handlers{
		OnAdd:    func(o api.Object) { c.nodeSeen(o.Meta().Name, o.Meta().Labels[api.LabelZone], true) },
		OnUpdate: func(_, o api.Object) { c.nodeSeen(o.Meta().Name, o.Meta().Labels[api.LabelZone], true) },
		OnDelete: func(o api.Object) { c.nodeSeen(o.Meta().Name, "", false) },
	})
	c.podInf = c.factory.Informer(api.KindPod, apiserver.Handlers{})
	informers.WhenSynced(func() {
		c.queue.Start()
		c.eng.After(c.cfg.SyncPeriod, c.resync)
	}, c.pvcInf, c.pvInf, c.scInf, c.nodeInf, c.podInf)
}

func claimKey(ns, name string) string { return "c/" + ns + "/" + name }
func volumeKey(name string) string    { return "v/" + name }

func (c *Controller) pvEvent(o api.Object) {
	pv := o.(*api.PersistentVolume)
	c.queue.Add(volumeKey(pv.Name))
	if pv.ClaimRef != nil {
		c.queue.Add(claimKey(pv.ClaimRef.Namespace, pv.ClaimRef.Name))
	}
}

func (c *Controller) classEvent(o api.Object) {
	for _, x := range c.pvcInf.List() {
		pvc := x.(*api.PersistentVolumeClaim)
		if pvc.VolumeName == "" && pvc.StorageClassName == o.Meta().Name {
			c.queue.Add(claimKey(pvc.Namespace, pvc.Name))
		}
	}
}

func (c *Controller) indexPV(old, cur *api.PersistentVolume) {
	if old != nil {
		if m := c.byClass[old.StorageClassName]; m != nil {
			delete(m, old.Name)
			if len(m) == 0 {
				delete(c.byClass, old.StorageClassName)
			}
		}
	}
	if cur != nil {
		m := c.byClass[cur.StorageClassName]
		if m == nil {
			m = map[string]*api.PersistentVolume{}
			c.byClass[cur.StorageClassName] = m
		}
		m[cur.Name] = cur
	}
}

func (c *Controller) nodeSeen(name, zone string, present bool) {
	if old, ok := c.nodeZone[name]; ok {
		if present && old == zone {
			return
		}
		if old != "" {
			if c.zoneCount[old]--; c.zoneCount[old] <= 0 {
				delete(c.zoneCount, old)
			}
		}
		delete(c.nodeZone, name)
	}
	if present {
		c.nodeZone[name] = zone
		if zone != "" {
			c.zoneCount[zone]++
		}
	}
}

// clusterZones returns the zones of the cluster's nodes, sorted.
func (c *Controller) clusterZones() []string {
	out := make([]string, 0, len(c.zoneCount))
	for z := range c.zoneCount {
		out = append(out, z)
	}
	sort.Strings(out)
	return out
}

// resync queues every claim and volume (the 15 s periodic sync of
// pv_controller_base.go resync) and checks attachments for force detach.
func (c *Controller) resync() {
	for _, o := range c.pvcInf.List() {
		c.queue.Add(claimKey(o.Meta().Namespace, o.Meta().Name))
	}
	for _, o := range c.pvInf.List() {
		c.queue.Add(volumeKey(o.Meta().Name))
		c.checkAttachment(o.(*api.PersistentVolume))
	}
	c.eng.After(c.cfg.SyncPeriod, c.resync)
}

func (c *Controller) trace(step int, action string, obj api.Object, detail string) {
	c.tel.Trace(sim.Record{Time: c.eng.Now(), Step: step, Component: Component, Action: action, Object: api.Ref(obj), Detail: detail})
}

// traceWait traces a claim's wait reason once (not again at every resync).
func (c *Controller) traceWait(pvc *api.PersistentVolumeClaim, action, detail string) {
	if c.waitTraced[pvc.UID] == action {
		return
	}
	c.waitTraced[pvc.UID] = action
	c.trace(0, action, pvc, detail)
}

func (c *Controller) sync(key string) {
	switch {
	case strings.HasPrefix(key, "c/"):
		rest := key[2:]
		i := strings.IndexByte(rest, '/')
		c.syncClaim(key, rest[:i], rest[i+1:])
	case strings.HasPrefix(key, "v/"):
		c.syncVolume(key, key[2:])
	default:
		c.queue.Done(key, nil)
	}
}

// ---------------------------------------------------------------------------
// Claims (pv_controller.go syncClaim)

func (c *Controller) syncClaim(key, ns, name string) {
	o, ok := c.pvcInf.Get(ns, name)
	if !ok {
		c.queue.Done(key, nil)
		return
	}
	pvc := o.(*api.PersistentVolumeClaim)
	if pvc.DeletionTimestamp != nil {
		c.queue.Done(key, nil)
		return
	}
	if pvc.VolumeName == "" {
		c.syncUnboundClaim(key, pvc)
		return
	}
	c.syncBoundClaim(key, pvc)
}

func (c *Controller) class(name string) (*api.StorageClass, bool) {
	if name == "" {
		return nil, false
	}
	o, ok := c.scInf.Get("", name)
	if !ok {
		return nil, false
	}
	return o.(*api.StorageClass), true
}

// syncUnboundClaim binds or provisions (pv_controller.go syncUnboundClaim).
func (c *Controller) syncUnboundClaim(key string, pvc *api.PersistentVolumeClaim) {
	class, hasClass := c.class(pvc.StorageClassName)
	if pvc.StorageClassName != "" && !hasClass {
		c.traceWait(pvc, "wait-class", fmt.Sprintf("claim %s/%s waits: storageclass %q not found", pvc.Namespace, pvc.Name, pvc.StorageClassName))
		c.queue.Done(key, nil)
		return
	}
	delayed := hasClass && class.VolumeBindingMode == api.VolumeBindingWaitForFirstConsumer
	selected := pvc.Annotations[api.AnnSelectedNode]
	zone := ""
	if delayed {
		if selected == "" {
			c.traceWait(pvc, "wait-first-consumer", fmt.Sprintf("claim %s/%s of class %s (volumeBindingMode WaitForFirstConsumer): waiting for first consumer to be created before binding; nothing is provisioned until the scheduler picks a node for a pod using it",
				pvc.Namespace, pvc.Name, class.Name))
			c.queue.Done(key, nil)
			return
		}
		z, ok := c.nodeZone[selected]
		if !ok {
			c.traceWait(pvc, "wait-node", fmt.Sprintf("claim %s/%s: selected node %s is not known yet", pvc.Namespace, pvc.Name, selected))
			c.queue.Done(key, nil)
			return
		}
		zone = z
	}
	if pv := c.findBestMatch(pvc, delayed, zone); pv != nil {
		c.bind(key, pv, pvc, "it is the smallest available volume that matches the claim's class, access modes and size")
		return
	}
	if !hasClass || class.Provisioner == "" || class.Provisioner == NoProvisioner {
		c.traceWait(pvc, "wait-volume", fmt.Sprintf("claim %s/%s: no persistent volumes available for this claim and no storage class provisioner is set", pvc.Namespace, pvc.Name))
		c.queue.Done(key, nil)
		return
	}
	c.provision(pvc, class, delayed, selected, zone)
	c.queue.Done(key, nil)
}

// findBestMatch returns the smallest volume that can be bound to the claim (a
// volume pre-bound to it wins), or nil (pv_controller.go findBestMatchForClaim,
// pv_helpers.go FindMatchingVolume). For delayed binding the volume must be
// reachable from the selected node's zone.
func (c *Controller) findBestMatch(pvc *api.PersistentVolumeClaim, delayed bool, zone string) *api.PersistentVolume {
	var best *api.PersistentVolume
	for _, pv := range c.byClass[pvc.StorageClassName] {
		if pv.DeletionTimestamp != nil || pv.Phase == api.VolumeReleased || pv.Phase == api.VolumeLost {
			continue
		}
		if r := pv.ClaimRef; r != nil {
			if r.Namespace == pvc.Namespace && r.Name == pvc.Name && (r.UID == "" || r.UID == pvc.UID) {
				return pv // pre-bound to this claim
			}
			continue
		}
		if pv.CapacityBytes < pvc.RequestBytes || !containsModes(pv.AccessModes, pvc.AccessModes) {
			continue
		}
		if delayed && pv.Zone != "" && pv.Zone != zone {
			continue
		}
		if best == nil || pv.CapacityBytes < best.CapacityBytes || (pv.CapacityBytes == best.CapacityBytes && pv.Name < best.Name) {
			best = pv
		}
	}
	return best
}

func containsModes(have, want []api.AccessMode) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// bind binds the volume to the claim: the volume first, then the claim
// (pv_controller.go bind: bindVolumeToClaim, updateVolumePhase, bindClaimToVolume,
// updateClaimStatus).
func (c *Controller) bind(key string, pv *api.PersistentVolume, pvc *api.PersistentVolumeClaim, why string) {
	claimSide := func() {
		npvc := pvc.DeepCopyObject().(*api.PersistentVolumeClaim)
		npvc.VolumeName = pv.Name
		npvc.Phase = api.VolumeBound
		if npvc.Annotations == nil {
			npvc.Annotations = map[string]string{}
		}
		npvc.Annotations[api.AnnBoundByController] = "yes"
		npvc.Annotations[AnnBindCompleted] = "yes"
		c.client.Update(npvc, func(_ api.Object, err error) {
			if err != nil {
				c.queue.Done(key, err)
				return
			}
			c.stats.Bound++
			delete(c.waitTraced, pvc.UID)
			now := c.eng.Now()
			c.tel.Observe("volume_claim_binding_seconds", now, now.Sub(pvc.CreationTimestamp).Seconds())
			zone := pv.Zone
			if zone == "" {
				zone = "none (reachable from every node)"
			}
			c.trace(0, "bind", pvc, fmt.Sprintf("bound claim %s/%s to volume %s (zone %s; %s): PV claimRef and PVC volumeName set, both phase Bound, annotated %s; %.3fs after the claim was created",
				pvc.Namespace, pvc.Name, pv.Name, zone, why, api.AnnBoundByController, now.Sub(pvc.CreationTimestamp).Seconds()))
			c.queue.Done(key, nil)
		})
	}
	if r := pv.ClaimRef; r != nil && r.UID == pvc.UID && pv.Phase == api.VolumeBound {
		claimSide()
		return
	}
	npv := pv.DeepCopyObject().(*api.PersistentVolume)
	npv.ClaimRef = &api.ClaimRef{Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID}
	npv.Phase = api.VolumeBound
	if pv.ClaimRef == nil {
		if npv.Annotations == nil {
			npv.Annotations = map[string]string{}
		}
		npv.Annotations[api.AnnBoundByController] = "yes"
	}
	c.client.Update(npv, func(o api.Object, err error) {
		if err != nil {
			c.queue.Done(key, err)
			return
		}
		pv = o.(*api.PersistentVolume)
		claimSide()
	})
}

// provision starts the provisioning of a volume for the claim: the claim is
// annotated with the provisioner, and after the provisioner's latency the volume
// "pvc-<claim UID>" is created, pre-bound to the claim, in the chosen zone.
func (c *Controller) provision(pvc *api.PersistentVolumeClaim, class *api.StorageClass, delayed bool, selected, zone string) {
	if c.provisioning[pvc.UID] {
		return
	}
	name := "pvc-" + string(pvc.UID) // pv_controller.go getProvisionedVolumeNameForClaim
	if _, ok := c.pvInf.Get("", name); ok {
		return // provisioned already; the volume's sync binds it
	}
	how := ""
	if delayed {
		if len(class.AllowedZones) > 0 && !slices.Contains(class.AllowedZones, zone) {
			c.traceWait(pvc, "provisioning-failed", fmt.Sprintf("claim %s/%s: cannot provision in zone %q of selected node %s: class %s allows zones %v",
				pvc.Namespace, pvc.Name, zone, selected, class.Name, class.AllowedZones))
			return
		}
		how = fmt.Sprintf("in zone %q of the node %s the scheduler selected (WaitForFirstConsumer)", zone, selected)
	} else {
		zones := class.AllowedZones
		src := "the class's allowed zones"
		if len(zones) == 0 {
			zones = c.clusterZones()
			src = "the zones of the cluster's nodes"
		}
		if len(zones) > 0 {
			zone = zones[c.zonesRand.IntN(len(zones))]
			how = fmt.Sprintf("in zone %q, drawn among %s %v (Immediate binding: the volume's place is fixed before any pod is scheduled)", zone, src, zones)
		} else {
			how = "with no zone (the cluster's nodes have no zone label)"
		}
	}
	c.provisioning[pvc.UID] = true
	lat := c.provisionSampler(class.Provisioner).Sample()
	start := c.eng.Now()
	c.trace(0, "provision", pvc, fmt.Sprintf("claim %s/%s of class %s: provisioner %s creates a %s volume %s %s; expected to take %.3fs",
		pvc.Namespace, pvc.Name, class.Name, class.Provisioner, fmtBytes(pvc.RequestBytes), name, how, lat.Seconds()))
	if pvc.Annotations[api.AnnStorageProvisioner] != class.Provisioner {
		npvc := pvc.DeepCopyObject().(*api.PersistentVolumeClaim)
		if npvc.Annotations == nil {
			npvc.Annotations = map[string]string{}
		}
		npvc.Annotations[api.AnnStorageProvisioner] = class.Provisioner
		c.client.Update(npvc, nil) // a conflict only loses the annotation
	}
	claim := api.ClaimRef{Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID}
	c.eng.After(lat, func() {
		pv := &api.PersistentVolume{
			ObjectMeta: api.ObjectMeta{Name: name, Annotations: map[string]string{
				AnnProvisionedBy: class.Provisioner, api.AnnBoundByController: "yes",
			}},
			CapacityBytes:    pvc.RequestBytes,
			AccessModes:      append([]api.AccessMode(nil), pvc.AccessModes...),
			StorageClassName: class.Name,
			ClaimRef:         &claim,
			Zone:             zone,
		}
		c.client.Create(pv, func(_ api.Object, err error) {
			delete(c.provisioning, claim.UID)
			if err != nil && !apiserver.IsAlreadyExists(err) {
				c.trace(0, "provisioning-failed", pv, fmt.Sprintf("creating volume %s failed: %v; the claim is retried", name, err))
				c.queue.AddRateLimited(claimKey(claim.Namespace, claim.Name))
				return
			}
			c.stats.Provisioned++
			now := c.eng.Now()
			c.tel.Observe("volume_provisioning_seconds", now, now.Sub(start).Seconds())
			c.trace(0, "provisioned", pv, fmt.Sprintf("provisioner %s created volume %s (%s, zone %q) for claim %s/%s in %.3fs; the PV controller binds them",
				class.Provisioner, name, fmtBytes(pv.CapacityBytes), zone, claim.Namespace, claim.Name, now.Sub(start).Seconds()))
		})
	})
}

func (c *Controller) provisionSampler(provisioner string) dist.Sampler {
	if s, ok := c.provLat[provisioner]; ok {
		return s
	}
	spec, ok := c.cfg.ProvisionerLatency[provisioner]
	if !ok {
		spec = c.cfg.ProvisionLatency
	}
	s := c.reg.MustNew(spec, c.eng.Source("controller/volume/provision/"+provisioner))
	c.provLat[provisioner] = s
	return s
}

// syncBoundClaim checks a bound claim's volume (pv_controller.go syncBoundClaim).
func (c *Controller) syncBoundClaim(key string, pvc *api.PersistentVolumeClaim) {
	o, ok := c.pvInf.Get("", pvc.VolumeName)
	if !ok {
		// The cache may lag: ask the apiserver before declaring the claim lost.
		c.client.Get(api.KindPersistentVolume, "", pvc.VolumeName, func(o api.Object, err error) {
			switch {
			case err == nil:
				c.finishBoundClaim(key, pvc, o.(*api.PersistentVolume))
			case apiserver.IsNotFound(err):
				c.setClaimPhase(key, pvc, api.VolumeLost, fmt.Sprintf("claim %s/%s lost: its volume %s does not exist", pvc.Namespace, pvc.Name, pvc.VolumeName))
			default:
				c.queue.Done(key, err)
			}
		})
		return
	}
	c.finishBoundClaim(key, pvc, o.(*api.PersistentVolume))
}

func (c *Controller) finishBoundClaim(key string, pvc *api.PersistentVolumeClaim, pv *api.PersistentVolume) {
	switch r := pv.ClaimRef; {
	case r == nil:
		c.bind(key, pv, pvc, "the claim names the volume")
	case r.Namespace != pvc.Namespace || r.Name != pvc.Name || (r.UID != "" && r.UID != pvc.UID):
		c.setClaimPhase(key, pvc, api.VolumeLost, fmt.Sprintf("claim %s/%s lost: volume %s is bound to another claim", pvc.Namespace, pvc.Name, pv.Name))
	case pvc.Phase != api.VolumeBound:
		c.setClaimPhase(key, pvc, api.VolumeBound, fmt.Sprintf("claim %s/%s is Bound to volume %s", pvc.Namespace, pvc.Name, pv.Name))
	default:
		c.queue.Done(key, nil)
	}
}

func (c *Controller) setClaimPhase(key string, pvc *api.PersistentVolumeClaim, phase api.PersistentVolumePhase, detail string) {
	if pvc.Phase == phase {
		c.queue.Done(key, nil)
		return
	}
	npvc := pvc.DeepCopyObject().(*api.PersistentVolumeClaim)
	npvc.Phase = phase
	c.client.UpdateStatus(npvc, func(_ api.Object, err error) {
		if err == nil {
			c.trace(0, "claim-phase", pvc, detail)
		}
		c.queue.Done(key, err)
	})
}

// ---------------------------------------------------------------------------
// Volumes (pv_controller.go syncVolume)

func (c *Controller) syncVolume(key, name string) {
	o, ok := c.pvInf.Get("", name)
	if !ok {
		c.queue.Done(key, nil)
		return
	}
	pv := o.(*api.PersistentVolume)
	if pv.DeletionTimestamp != nil || c.deleting[pv.Name] {
		c.queue.Done(key, nil)
		return
	}
	r := pv.ClaimRef
	if r == nil {
		c.setVolumePhase(key, pv, api.VolumeAvailable, fmt.Sprintf("volume %s is Available for binding", pv.Name))
		return
	}
	if co, ok := c.pvcInf.Get(r.Namespace, r.Name); ok {
		c.volumeWithClaim(key, pv, co.(*api.PersistentVolumeClaim))
		return
	}
	// Not in the cache: the claim may be new. Ask the apiserver (syncVolume does the same).
	c.client.Get(api.KindPersistentVolumeClaim, r.Namespace, r.Name, func(o api.Object, err error) {
		switch {
		case err == nil:
			c.volumeWithClaim(key, pv, o.(*api.PersistentVolumeClaim))
		case apiserver.IsNotFound(err):
			c.released(key, pv)
		default:
			c.queue.Done(key, err)
		}
	})
}

func (c *Controller) volumeWithClaim(key string, pv *api.PersistentVolume, pvc *api.PersistentVolumeClaim) {
	r := pv.ClaimRef
	switch {
	case r.UID != "" && r.UID != pvc.UID:
		c.released(key, pv) // the claim was deleted and recreated
	case pvc.VolumeName == "":
		// Bound (or provisioned) for the claim, the claim not yet: the claim's sync
		// finds the pre-bound volume and completes the binding.
		c.queue.Add(claimKey(pvc.Namespace, pvc.Name))
		c.queue.Done(key, nil)
	case pvc.VolumeName == pv.Name:
		c.setVolumePhase(key, pv, api.VolumeBound, fmt.Sprintf("volume %s is Bound to claim %s/%s", pv.Name, pvc.Namespace, pvc.Name))
	case pv.Annotations[api.AnnBoundByController] != "":
		// The claim is bound to another volume: this controller's binding lost; undo it.
		npv := pv.DeepCopyObject().(*api.PersistentVolume)
		npv.ClaimRef = nil
		npv.Phase = api.VolumeAvailable
		delete(npv.Annotations, api.AnnBoundByController)
		c.client.Update(npv, func(_ api.Object, err error) {
			if err == nil {
				c.trace(0, "unbind", pv, fmt.Sprintf("volume %s unbound: claim %s/%s is bound to volume %s", pv.Name, pvc.Namespace, pvc.Name, pvc.VolumeName))
			}
			c.queue.Done(key, err)
		})
	default:
		c.queue.Done(key, nil)
	}
}

// released handles a volume whose claim is gone: phase Released, then the reclaim
// policy of its class (Delete: the provisioner deletes it; Retain: it stays).
func (c *Controller) released(key string, pv *api.PersistentVolume) {
	policy := ReclaimRetain
	if sc, ok := c.class(pv.StorageClassName); ok && sc.ReclaimPolicy != "" {
		policy = sc.ReclaimPolicy
	}
	if pv.Phase != api.VolumeReleased {
		npv := pv.DeepCopyObject().(*api.PersistentVolume)
		npv.Phase = api.VolumeReleased
		c.client.UpdateStatus(npv, func(_ api.Object, err error) {
			if err == nil {
				c.trace(0, "released", pv, fmt.Sprintf("volume %s Released: its claim %s/%s is gone; reclaim policy %s", pv.Name, pv.ClaimRef.Namespace, pv.ClaimRef.Name, policy))
			}
			c.queue.Done(key, err) // the update's event syncs the volume again
		})
		return
	}
	if policy == ReclaimDelete && !c.deleting[pv.Name] && pv.Annotations[AnnAttachedNode] == "" {
		c.deleting[pv.Name] = true
		lat := c.delLat.Sample()
		name := pv.Name
		c.eng.After(lat, func() {
			c.client.Delete(api.KindPersistentVolume, "", name, apiserver.DeleteOptions{UID: pv.UID}, func(err error) {
				if err != nil && !apiserver.IsNotFound(err) {
					delete(c.deleting, name)
					c.queue.AddRateLimited(volumeKey(name))
					return
				}
				c.stats.Deleted++
				c.trace(0, "delete-volume", pv, fmt.Sprintf("reclaim policy Delete: the provisioner deleted volume %s in %.3fs", name, lat.Seconds()))
			})
		})
	}
	c.queue.Done(key, nil)
}

func (c *Controller) setVolumePhase(key string, pv *api.PersistentVolume, phase api.PersistentVolumePhase, detail string) {
	if pv.Phase == phase {
		c.queue.Done(key, nil)
		return
	}
	npv := pv.DeepCopyObject().(*api.PersistentVolume)
	npv.Phase = phase
	c.client.UpdateStatus(npv, func(_ api.Object, err error) {
		if err == nil {
			c.trace(0, "volume-phase", pv, detail)
		}
		c.queue.Done(key, err)
	})
}

// ---------------------------------------------------------------------------
// Force detach (attach_detach_controller.go reconciler: maxWaitForUnmountDuration)

// checkAttachment detaches a volume from a node that is gone, or NotReady for
// ForceDetachAfter, once no pod on that node uses the volume's claim.
func (c *Controller) checkAttachment(pv *api.PersistentVolume) {
	node := pv.Annotations[AnnAttachedNode]
	if node == "" || c.cfg.ForceDetachAfter == 0 {
		return
	}
	now := c.eng.Now()
	why := ""
	if o, ok := c.nodeInf.Get("", node); !ok {
		why = fmt.Sprintf("node %s is gone", node)
	} else {
		n := o.(*api.Node)
		cond := n.Condition(api.NodeReady)
		if cond == nil || cond.Status == api.ConditionTrue || now.Sub(cond.LastTransitionTime) < c.cfg.ForceDetachAfter {
			return
		}
		why = fmt.Sprintf("node %s has been NotReady for %.0fs (maxWaitForUnmountDuration %v)", node, now.Sub(cond.LastTransitionTime).Seconds(), c.cfg.ForceDetachAfter)
	}
	if r := pv.ClaimRef; r != nil {
		for _, o := range c.podInf.List() {
			p := o.(*api.Pod)
			if string(p.Spec.NodeName) != node || p.Namespace != r.Namespace || p.IsTerminal() {
				continue
			}
			for _, v := range p.Spec.Volumes {
				if v.ClaimName == r.Name {
					return // a pod on the node still uses it
				}
			}
		}
	}
	npv := pv.DeepCopyObject().(*api.PersistentVolume)
	delete(npv.Annotations, AnnAttachedNode)
	c.fix.Update(npv, func(_ api.Object, err error) {
		if err != nil {
			return // the next resync looks again
		}
		c.stats.ForceDetached++
		c.trace(7, "force-detach", pv, fmt.Sprintf("force-detached volume %s from %s: %s and no pod there uses it, so the volume can be attached elsewhere", pv.Name, node, why))
	})
}

func fmtBytes(b int64) string {
	switch {
	case b != 0 && b%(1<<30) == 0:
		return fmt.Sprintf("%dGi", b>>30)
	case b != 0 && b%(1<<20) == 0:
		return fmt.Sprintf("%dMi", b>>20)
	}
	return fmt.Sprintf("%d bytes", b)
}
