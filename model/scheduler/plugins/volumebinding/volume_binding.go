// Package volumebinding holds the VolumeBinding scheduler plug-in (reference §2.4,
// §3.6; pkg/scheduler/framework/plugins/volumebinding/{volume_binding.go,binder.go}),
// with the zone check of VolumeZone folded in (plugins/volumezone/volume_zone.go):
//   - PreFilter returns Skip for pods without PersistentVolumeClaim volumes; it
//     rejects the pod (UnschedulableAndUnresolvable) when a claim is missing or being
//     deleted, or when an unbound claim's class binds Immediately ("pod has unbound
//     immediate PersistentVolumeClaims": the PV controller must bind it first);
//   - Filter: a bound volume's zone must be the node's zone ("node(s) had volume node
//     affinity conflict"); a WaitForFirstConsumer claim needs the node's zone among
//     its class's allowed zones, and, for a class without a provisioner, an
//     available matching volume in that zone ("node(s) didn't find available
//     persistent volumes to bind");
//   - Reserve remembers the claims to bind on the chosen node;
//   - PreBind writes volume.kubernetes.io/selected-node=<node> on each unbound
//     WaitForFirstConsumer claim, then checks every second (binder.go BindPodVolumes
//     polls with a 1 s interval) until the PV controller has bound them, for at most
//     BindTimeoutSeconds (600 s). Only then is the pod bound.
//
// The plug-in watches claims, volumes and classes through its own informers on the
// scheduler's client, started when the first pod with claims is seen, so that a
// cluster without storage pays nothing. Their events requeue the pods the plug-in
// rejected (through framework.Services).
//
// Simplifications: no storage capacity scoring (upstream's Score needs an alpha
// gate; PreScore returns Skip there); static volumes of WaitForFirstConsumer claims
// are bound by the PV controller after the node is selected, not by PreBind; the
// "assume" cache of binder.go is not modelled (PreFilter reads the informers).
package volumebinding

import (
	"fmt"
	"slices"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// Name is the plug-in's registered name.
const Name = "VolumeBinding"

// Rejection reasons, as upstream (binder.go, volume_binding.go).
const (
	ErrReasonUnboundImmediate = "pod has unbound immediate PersistentVolumeClaims"
	ErrReasonBindConflict     = "node(s) didn't find available persistent volumes to bind"
	ErrReasonNodeConflict     = "node(s) had volume node affinity conflict"
	ErrReasonPVNotExist       = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
	errReasonNotSynced        = "the scheduler's volume informers have not synced yet"
)

// NoProvisioner is the provisioner of classes for static volumes only.
const NoProvisioner = "kubernetes.io/no-provisioner"

const stateKey framework.StateKey = "PreFilter" + Name

// pollInterval is how often PreBind checks the claims (binder.go BindPodVolumes:
// wait.PollUntilContextTimeout with a 1 s interval).
const pollInterval = time.Second

// Args configure the plug-in (upstream VolumeBindingArgs).
type Args struct {
	// BindTimeoutSeconds bounds PreBind's wait for the volumes to be bound
	// (reference §2.4: 600).
	BindTimeoutSeconds int64
}

// DefaultArgs returns the upstream defaults.
func DefaultArgs() Args { return Args{BindTimeoutSeconds: 600} }

// VolumeBinding is the plug-in.
type VolumeBinding struct {
	h       framework.Handle
	timeout time.Duration

	started                bool
	pvcInf, pvInf, scInf   *apiserver.Informer
	synced                 int
	rejected, unresolvable *framework.Status
}

var (
	_ framework.PreFilterPlugin   = (*VolumeBinding)(nil)
	_ framework.FilterPlugin      = (*VolumeBinding)(nil)
	_ framework.ReservePlugin     = (*VolumeBinding)(nil)
	_ framework.PreBindPlugin     = (*VolumeBinding)(nil)
	_ framework.EnqueueExtensions = (*VolumeBinding)(nil)
)

// New builds the plug-in. args may be nil, Args or *Args.
func New(args any, h framework.Handle) (framework.Plugin, error) {
	a := DefaultArgs()
	switch v := args.(type) {
	case nil:
	case Args:
		a = v
	case *Args:
		if v != nil {
			a = *v
		}
	default:
		return nil, fmt.Errorf("%s: unexpected args type %T", Name, args)
	}
	if a.BindTimeoutSeconds <= 0 {
		return nil, fmt.Errorf("%s: bindTimeoutSeconds must be positive, got %d", Name, a.BindTimeoutSeconds)
	}
	return &VolumeBinding{h: h, timeout: time.Duration(a.BindTimeoutSeconds) * time.Second}, nil
}

// Name implements framework.Plugin.
func (pl *VolumeBinding) Name() string { return Name }

// EventsToRegister implements framework.EnqueueExtensions (volume_binding.go
// EventsToRegister: claims, volumes and classes added or updated; nodes added or
// relabelled).
func (pl *VolumeBinding) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.PersistentVolumeClaimResource, ActionType: framework.Add | framework.Update},
		{Resource: framework.PersistentVolumeResource, ActionType: framework.Add | framework.Update},
		{Resource: framework.StorageClassResource, ActionType: framework.Add | framework.Update},
		{Resource: framework.NodeResource, ActionType: framework.Add | framework.UpdateNodeLabel},
	}
}

// start opens the informers on first need.
func (pl *VolumeBinding) start() {
	if pl.started || pl.h == nil {
		return
	}
	pl.started = true
	c := pl.h.Client()
	svc, _ := pl.h.(framework.Services)
	event := func(r framework.EventResource, a framework.ActionType) {
		if svc != nil {
			svc.ClusterEvent(framework.ClusterEvent{Resource: r, ActionType: a})
		}
	}
	handlers := func(r framework.EventResource) apiserver.Handlers {
		return apiserver.Handlers{
			OnAdd:    func(api.Object) { event(r, framework.Add) },
			OnUpdate: func(api.Object, api.Object) { event(r, framework.Update) },
		}
	}
	onSynced := func() {
		pl.synced++
		if pl.synced == 3 {
			event(framework.PersistentVolumeClaimResource, framework.Add)
		}
	}
	pl.pvcInf = apiserver.NewInformer(c, api.KindPersistentVolumeClaim, apiserver.InformerOptions{}, handlers(framework.PersistentVolumeClaimResource))
	pl.pvInf = apiserver.NewInformer(c, api.KindPersistentVolume, apiserver.InformerOptions{}, handlers(framework.PersistentVolumeResource))
	pl.scInf = apiserver.NewInformer(c, api.KindStorageClass, apiserver.InformerOptions{}, handlers(framework.StorageClassResource))
	pl.pvcInf.OnSynced(onSynced)
	pl.pvInf.OnSynced(onSynced)
	pl.scInf.OnSynced(onSynced)
}

// claimInfo is one unbound WaitForFirstConsumer claim of the pod.
type claimInfo struct {
	pvc *api.PersistentVolumeClaim
	// zones allowed by the class (nil: any)
	zones []string
	// static: the class has no provisioner; staticZones are the zones with an
	// available matching volume ("" = a volume reachable from every zone).
	static      bool
	staticZones map[string]bool
}

type cycleData struct {
	boundZones []string // zones of bound volumes that have one
	delayed    []claimInfo
	node       api.NodeName
}

func hasClaims(p *api.Pod) bool {
	for _, v := range p.Spec.Volumes {
		if v.ClaimName != "" {
			return true
		}
	}
	return false
}

// PreFilter implements framework.PreFilterPlugin (volume_binding.go PreFilter,
// binder.go GetPodVolumeClaims).
func (pl *VolumeBinding) PreFilter(state *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) (*framework.PreFilterResult, *framework.Status) {
	p := pod.Pod
	if !hasClaims(p) {
		return nil, framework.NewStatus(framework.Skip)
	}
	pl.start()
	if pl.synced < 3 {
		return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, errReasonNotSynced)
	}
	d := &cycleData{}
	unboundImmediate := false
	for _, v := range p.Spec.Volumes {
		if v.ClaimName == "" {
			continue
		}
		o, ok := pl.pvcInf.Get(p.Namespace, v.ClaimName)
		if !ok {
			return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, fmt.Sprintf("persistentvolumeclaim %q not found", v.ClaimName))
		}
		pvc := o.(*api.PersistentVolumeClaim)
		if pvc.DeletionTimestamp != nil {
			return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, fmt.Sprintf("persistentvolumeclaim %q is being deleted", v.ClaimName))
		}
		if pvc.VolumeName != "" {
			po, ok := pl.pvInf.Get("", pvc.VolumeName)
			if !ok {
				return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonPVNotExist)
			}
			if z := po.(*api.PersistentVolume).Zone; z != "" {
				d.boundZones = append(d.boundZones, z)
			}
			continue
		}
		var class *api.StorageClass
		if pvc.StorageClassName != "" {
			co, ok := pl.scInf.Get("", pvc.StorageClassName)
			if !ok {
				return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, fmt.Sprintf("storageclass.storage.k8s.io %q not found", pvc.StorageClassName))
			}
			class = co.(*api.StorageClass)
		}
		if class == nil || class.VolumeBindingMode != api.VolumeBindingWaitForFirstConsumer {
			unboundImmediate = true
			continue
		}
		ci := claimInfo{pvc: pvc, zones: class.AllowedZones}
		if class.Provisioner == "" || class.Provisioner == NoProvisioner {
			ci.static = true
			ci.staticZones = pl.availableZones(pvc)
		}
		d.delayed = append(d.delayed, ci)
	}
	if unboundImmediate {
		return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonUnboundImmediate)
	}
	state.Write(stateKey, d)
	return nil, nil
}

// availableZones returns the zones holding an available volume that matches the
// claim (O(volumes), once per scheduling attempt of a pod with such a claim).
func (pl *VolumeBinding) availableZones(pvc *api.PersistentVolumeClaim) map[string]bool {
	out := map[string]bool{}
	for _, o := range pl.pvInf.List() {
		pv := o.(*api.PersistentVolume)
		if pv.StorageClassName != pvc.StorageClassName || pv.ClaimRef != nil || pv.DeletionTimestamp != nil ||
			pv.Phase == api.VolumeReleased || pv.CapacityBytes < pvc.RequestBytes {
			continue
		}
		ok := true
		for _, m := range pvc.AccessModes {
			if !slices.Contains(pv.AccessModes, m) {
				ok = false
				break
			}
		}
		if ok {
			out[pv.Zone] = true
		}
	}
	return out
}

func read(state *framework.CycleState) *cycleData {
	v, err := state.Read(stateKey)
	if err != nil {
		return nil
	}
	return v.(*cycleData)
}

// Filter implements framework.FilterPlugin (volume_binding.go Filter, binder.go
// FindPodVolumes: checkBoundClaims, findMatchingVolumes, checkVolumeProvisions).
func (pl *VolumeBinding) Filter(state *framework.CycleState, _ *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	d := read(state)
	if d == nil {
		return nil
	}
	n := node.Node()
	if n == nil {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, "node not found")
	}
	zone := n.Labels[api.LabelZone]
	for _, z := range d.boundZones {
		if z != zone {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonNodeConflict)
		}
	}
	for i := range d.delayed {
		ci := &d.delayed[i]
		if len(ci.zones) > 0 && !slices.Contains(ci.zones, zone) {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonBindConflict)
		}
		if ci.static && !ci.staticZones[zone] && !ci.staticZones[""] {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonBindConflict)
		}
	}
	return nil
}

// Reserve implements framework.ReservePlugin: it remembers the node for PreBind.
func (pl *VolumeBinding) Reserve(state *framework.CycleState, _ *framework.PodInfo, node api.NodeName) *framework.Status {
	if d := read(state); d != nil {
		d.node = node
	}
	return nil
}

// Unreserve implements framework.ReservePlugin. Annotations already written stay,
// as upstream (the provisioner may be at work; the next attempt overwrites them).
func (pl *VolumeBinding) Unreserve(state *framework.CycleState, _ *framework.PodInfo, _ api.NodeName) {
	if d := read(state); d != nil {
		d.node = ""
	}
}

// PreBind implements framework.PreBindPlugin (volume_binding.go PreBind, binder.go
// BindPodVolumes).
func (pl *VolumeBinding) PreBind(state *framework.CycleState, pod *framework.PodInfo, node api.NodeName, done func(*framework.Status)) *framework.Status {
	d := read(state)
	if d == nil || len(d.delayed) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	svc, ok := pl.h.(framework.Services)
	if !ok {
		return framework.AsStatus(fmt.Errorf("%s: the scheduler offers no timers", Name))
	}
	c := pl.h.Client()
	p := pod.Pod
	deadline := pl.h.Now().Add(pl.timeout)
	pending := len(d.delayed)
	var failed error
	var poll func()
	poll = func() {
		if pl.allBound(p) {
			done(nil)
			return
		}
		if pl.h.Now() >= deadline {
			done(framework.AsStatus(fmt.Errorf("binding volumes: timed out waiting for the condition (%v)", pl.timeout)))
			return
		}
		svc.AfterFunc(pollInterval, poll)
	}
	afterWrite := func(err error) {
		pending--
		if err != nil && failed == nil {
			failed = err
		}
		if pending > 0 {
			return
		}
		if failed != nil {
			done(framework.AsStatus(fmt.Errorf("binding volumes: %v", failed)))
			return
		}
		poll()
	}
	for _, ci := range d.delayed {
		pl.annotate(c, p.Namespace, ci.pvc.Name, string(node), 5, afterWrite)
	}
	return nil
}

// annotate sets the selected-node annotation on the claim, with the claim's resource
// version as precondition; a conflict re-reads the claim (at most retries times).
func (pl *VolumeBinding) annotate(c *apiserver.Client, ns, name, node string, retries int, done func(error)) {
	o, ok := pl.pvcInf.Get(ns, name)
	if !ok {
		done(fmt.Errorf("persistentvolumeclaim %q not found", name))
		return
	}
	pl.write(c, o.(*api.PersistentVolumeClaim), node, retries, done)
}

func (pl *VolumeBinding) write(c *apiserver.Client, cur *api.PersistentVolumeClaim, node string, retries int, done func(error)) {
	if cur.VolumeName != "" || cur.Annotations[api.AnnSelectedNode] == node {
		done(nil)
		return
	}
	n := cur.DeepCopyObject().(*api.PersistentVolumeClaim)
	if n.Annotations == nil {
		n.Annotations = map[string]string{}
	}
	n.Annotations[api.AnnSelectedNode] = node
	c.Update(n, func(_ api.Object, err error) {
		if apiserver.IsConflict(err) && retries > 0 {
			c.Get(api.KindPersistentVolumeClaim, cur.Namespace, cur.Name, func(o api.Object, gerr error) {
				if gerr != nil {
					done(gerr)
					return
				}
				pl.write(c, o.(*api.PersistentVolumeClaim), node, retries-1, done)
			})
			return
		}
		done(err)
	})
}

// allBound reports whether every claim of the pod is bound, on both sides, as the
// informers show it (binder.go checkBindings).
func (pl *VolumeBinding) allBound(p *api.Pod) bool {
	for _, v := range p.Spec.Volumes {
		if v.ClaimName == "" {
			continue
		}
		o, ok := pl.pvcInf.Get(p.Namespace, v.ClaimName)
		if !ok {
			return false
		}
		pvc := o.(*api.PersistentVolumeClaim)
		if pvc.VolumeName == "" {
			return false
		}
		po, ok := pl.pvInf.Get("", pvc.VolumeName)
		if !ok {
			return false
		}
		if r := po.(*api.PersistentVolume).ClaimRef; r == nil || r.UID != pvc.UID {
			return false
		}
	}
	return true
}
