package kubelet

// The kubelet's volume manager (pkg/kubelet/volumemanager; reference §3.6): before
// the sandbox of a pod with PersistentVolumeClaim volumes is created, each claim
// must be Bound (the PV controller's work), its volume attached to the node and
// then mounted for the pod (kubelet.go SyncPod: WaitForAttachAndMount comes before
// the runtime's SyncPod). When the pod object is gone, its volumes are unmounted,
// and a volume no other pod of the node uses is detached.
//
// ReadWriteOnce (and ReadWriteOncePod) volumes are attached to at most one node at a
// time: the attaching kubelet records its node in the volume's
// volume.kubesim.io/attached-node annotation with an optimistic-concurrency update,
// and a kubelet that finds another node there waits until that node's kubelet has
// detached the volume ("Multi-Attach error … Volume is already exclusively attached
// to one node"). The PV controller force-detaches from a node that stays NotReady
// (package volume).
//
// Simplifications, each a model decision: attach and detach are done by the kubelet
// itself (as with enableControllerAttachDetach=false) and recorded in an annotation
// instead of VolumeAttachment objects; unmount starts when the pod object is
// deleted (upstream unmounts before the kubelet's final delete); volumes of other
// access modes are attached without exclusivity; no volume reconstruction after a
// kubelet restart.
//
// The claim and volume informers are started when the first pod with claims arrives,
// so nodes without such pods pay nothing.

import (
	"fmt"
	"slices"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

// AnnAttachedNode records the node a volume is attached to (the string is shared
// with the PV controller, package volume).
const AnnAttachedNode = "volume.kubesim.io/attached-node"

// VolumeConfig configures the kubelet's volume manager. The latencies are model
// parameters (cloud block-storage attach and detach take seconds; a mount, with the
// first format, a fraction of a second).
type VolumeConfig struct {
	// AttachLatency is the time to attach a volume to the node (the CSI
	// ControllerPublishVolume call until the device appears). Default: log-normal,
	// median 2 s.
	AttachLatency dist.Spec
	// DetachLatency is the time to detach it. Default: log-normal, median 2 s.
	DetachLatency dist.Spec
	// MountLatency is the time to mount it for a pod (stage and publish). Default:
	// log-normal, median 300 ms.
	MountLatency dist.Spec
	// UnmountLatency is the time to unmount it. Default: log-normal, median 100 ms.
	UnmountLatency dist.Spec
}

// DefaultVolumeConfig returns the model parameters' defaults.
func DefaultVolumeConfig() VolumeConfig {
	return VolumeConfig{
		AttachLatency:  dist.LogNormal(2*time.Second, 0.3),
		DetachLatency:  dist.LogNormal(2*time.Second, 0.3),
		MountLatency:   dist.LogNormal(300*time.Millisecond, 0.3),
		UnmountLatency: dist.LogNormal(100*time.Millisecond, 0.3),
	}
}

// Validate checks the configuration; messages name the field.
func (c *VolumeConfig) Validate(reg *dist.Registry) error {
	for _, f := range []struct {
		name string
		spec dist.Spec
	}{{"attachLatency", c.AttachLatency}, {"detachLatency", c.DetachLatency}, {"mountLatency", c.MountLatency}, {"unmountLatency", c.UnmountLatency}} {
		if err := reg.Validate(f.spec); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

// ConfigureVolumes sets the volume manager's latencies (call before Start; without
// it DefaultVolumeConfig applies).
func (k *Kubelet) ConfigureVolumes(cfg VolumeConfig, reg *dist.Registry) error {
	if err := cfg.Validate(reg); err != nil {
		return fmt.Errorf("kubelet %s: volumes: %w", k.cfg.NodeName, err)
	}
	k.vols = newVolumeManager(k, cfg, reg)
	return nil
}

// Attachment states.
const (
	attAttaching = iota
	attAttached
	attDetaching
)

type attachment struct {
	pv      string
	state   int
	rwo     bool
	users   int           // pods that mounted or are mounting the volume
	waiters []*podVolumes // pods waiting for the attach or the detach to finish
}

// podVolumes is the volume state of one pod.
type podVolumes struct {
	ps       *podState
	uid      api.UID
	ns       string
	claims   []string
	pvOf     map[string]string // claim -> volume, once mounting
	mounting map[string]bool
	mounted  map[string]bool
	waitMsg  map[string]string // last wait traced per claim
	start    sim.Time
	done     bool // every volume mounted
	gone     bool // the pod object is gone
}

type volumeManager struct {
	k                                          *Kubelet
	cfg                                        VolumeConfig
	attachLat, detachLat, mountLat, unmountLat dist.Sampler
	pvcInf, pvInf                              *apiserver.Informer
	started                                    bool
	synced                                     int
	att                                        map[string]*attachment
	pods                                       map[api.UID]*podVolumes
	order                                      []*podVolumes // pods waiting for informers, in arrival order
	byClaim                                    map[string][]*podVolumes
	byPV                                       map[string][]*podVolumes
}

func newVolumeManager(k *Kubelet, cfg VolumeConfig, reg *dist.Registry) *volumeManager {
	pfx := "kubelet/" + k.cfg.NodeName + "/volume/"
	return &volumeManager{
		k: k, cfg: cfg,
		attachLat:  reg.MustNew(cfg.AttachLatency, k.eng.Source(pfx+"attach")),
		detachLat:  reg.MustNew(cfg.DetachLatency, k.eng.Source(pfx+"detach")),
		mountLat:   reg.MustNew(cfg.MountLatency, k.eng.Source(pfx+"mount")),
		unmountLat: reg.MustNew(cfg.UnmountLatency, k.eng.Source(pfx+"unmount")),
		att:        map[string]*attachment{},
		pods:       map[api.UID]*podVolumes{},
		byClaim:    map[string][]*podVolumes{},
		byPV:       map[string][]*podVolumes{},
	}
}

func claimsOf(p *api.Pod) []string {
	var out []string
	for _, v := range p.Spec.Volumes {
		if v.ClaimName != "" && !slices.Contains(out, v.ClaimName) {
			out = append(out, v.ClaimName)
		}
	}
	return out
}

// volumesReady is the hook of the pod start path (syncPod): true when the pod has
// no claims or all its volumes are mounted. Otherwise it starts (or continues)
// waiting for them and returns false; syncPod runs again once they are mounted.
func (k *Kubelet) volumesReady(ps *podState) bool {
	claims := claimsOf(ps.pod)
	if len(claims) == 0 {
		return true
	}
	if k.vols == nil {
		k.vols = newVolumeManager(k, DefaultVolumeConfig(), dist.NewRegistry())
	}
	vm := k.vols
	pv := vm.pods[ps.uid]
	if pv != nil {
		return pv.done
	}
	pv = &podVolumes{ps: ps, uid: ps.uid, ns: ps.pod.Namespace, claims: claims, start: k.eng.Now(),
		pvOf: map[string]string{}, mounting: map[string]bool{}, mounted: map[string]bool{}, waitMsg: map[string]string{}}
	vm.pods[ps.uid] = pv
	k.tracef(5, "volumes", ps.ref, "pod uses claims %v: before its sandbox is created each claim must be bound and its volume attached to %s and mounted (WaitForAttachAndMount)",
		claims, k.cfg.NodeName)
	vm.start()
	if vm.synced < 2 {
		vm.order = append(vm.order, pv)
		return false
	}
	vm.evaluate(pv)
	return false
}

func (vm *volumeManager) start() {
	if vm.started {
		return
	}
	vm.started = true
	k := vm.k
	onSynced := func() {
		vm.synced++
		if vm.synced < 2 {
			return
		}
		for _, pv := range vm.order {
			vm.evaluate(pv)
		}
		vm.order = nil
	}
	vm.pvcInf = apiserver.NewInformer(k.client, api.KindPersistentVolumeClaim, apiserver.InformerOptions{}, apiserver.Handlers{
		OnAdd:    func(o api.Object) { vm.wake(vm.byClaim, o.Meta().Namespace+"/"+o.Meta().Name) },
		OnUpdate: func(_, o api.Object) { vm.wake(vm.byClaim, o.Meta().Namespace+"/"+o.Meta().Name) },
	})
	vm.pvInf = apiserver.NewInformer(k.client, api.KindPersistentVolume, apiserver.InformerOptions{}, apiserver.Handlers{
		OnAdd:    func(o api.Object) { vm.wake(vm.byPV, o.Meta().Name) },
		OnUpdate: func(_, o api.Object) { vm.wake(vm.byPV, o.Meta().Name) },
		OnDelete: func(o api.Object) { vm.wake(vm.byPV, o.Meta().Name) },
	})
	vm.pvcInf.OnSynced(onSynced)
	vm.pvInf.OnSynced(onSynced)
	if k.informer != nil {
		k.informer.AddHandlers(apiserver.Handlers{OnDelete: func(o api.Object) { vm.podGone(o.Meta().UID) }})
	}
}

// wake re-evaluates the pods waiting on key.
func (vm *volumeManager) wake(index map[string][]*podVolumes, key string) {
	list := index[key]
	if len(list) == 0 {
		return
	}
	delete(index, key)
	for _, pv := range list {
		vm.evaluate(pv)
	}
}

func wait(index map[string][]*podVolumes, key string, pv *podVolumes) {
	if !slices.Contains(index[key], pv) {
		index[key] = append(index[key], pv)
	}
}

func (pv *podVolumes) traceWait(k *Kubelet, claim, msg string) {
	if pv.waitMsg[claim] == msg {
		return
	}
	pv.waitMsg[claim] = msg
	k.trace(5, "volume-wait", pv.ps.ref, msg)
}

func isRWO(modes []api.AccessMode) bool {
	return slices.Contains(modes, api.ReadWriteOnce) || slices.Contains(modes, api.ReadWriteOncePod)
}

// evaluate moves each of the pod's claims as far as it can go now.
func (vm *volumeManager) evaluate(pv *podVolumes) {
	k := vm.k
	if pv.gone || pv.done || k.stopped {
		return
	}
	for _, claim := range pv.claims {
		if pv.mounting[claim] || pv.mounted[claim] {
			continue
		}
		key := pv.ns + "/" + claim
		o, ok := vm.pvcInf.Get(pv.ns, claim)
		if !ok {
			wait(vm.byClaim, key, pv)
			pv.traceWait(k, claim, fmt.Sprintf("waits for claim %s: it does not exist yet", claim))
			continue
		}
		pvc := o.(*api.PersistentVolumeClaim)
		if pvc.VolumeName == "" {
			wait(vm.byClaim, key, pv)
			pv.traceWait(k, claim, fmt.Sprintf("waits for claim %s to be bound to a volume (PV controller, provisioner)", claim))
			continue
		}
		vo, ok := vm.pvInf.Get("", pvc.VolumeName)
		if !ok {
			wait(vm.byPV, pvc.VolumeName, pv)
			continue
		}
		vol := vo.(*api.PersistentVolume)
		if r := vol.ClaimRef; r == nil || r.UID != pvc.UID {
			wait(vm.byPV, vol.Name, pv)
			continue
		}
		vm.ensureAttached(pv, claim, vol)
	}
}

// ensureAttached attaches the volume to the node unless it is (being) attached,
// then mounts it for the pod.
func (vm *volumeManager) ensureAttached(pv *podVolumes, claim string, vol *api.PersistentVolume) {
	k := vm.k
	node := k.cfg.NodeName
	if a := vm.att[vol.Name]; a != nil {
		if a.state == attAttached {
			vm.mount(pv, claim, a)
			return
		}
		if !slices.Contains(a.waiters, pv) {
			a.waiters = append(a.waiters, pv)
		}
		return
	}
	rwo := isRWO(vol.AccessModes)
	holder := vol.Annotations[AnnAttachedNode]
	if rwo && holder != "" && holder != node {
		wait(vm.byPV, vol.Name, pv)
		pv.traceWait(k, claim, fmt.Sprintf("Multi-Attach error for volume %s (claim %s): the volume is already exclusively attached to %s and can't be attached to another node (ReadWriteOnce); waiting for it to be detached there",
			vol.Name, claim, holder))
		return
	}
	a := &attachment{pv: vol.Name, rwo: rwo, state: attAttaching, waiters: []*podVolumes{pv}}
	vm.att[vol.Name] = a
	if rwo && holder == node {
		vm.attached(a, vol, 0, "it was still attached here")
		return
	}
	start := k.eng.Now()
	attach := func() {
		lat := vm.attachLat.Sample()
		k.eng.After(lat, func() {
			if k.stopped {
				return
			}
			vm.attached(a, vol, k.eng.Now().Sub(start), "")
		})
	}
	if !rwo {
		attach()
		return
	}
	nv := vol.DeepCopyObject().(*api.PersistentVolume)
	if nv.Annotations == nil {
		nv.Annotations = map[string]string{}
	}
	nv.Annotations[AnnAttachedNode] = node
	used := vol.ResourceVersion
	k.client.Update(nv, func(_ api.Object, err error) {
		if k.stopped {
			return
		}
		if err != nil {
			// Someone else changed the volume (another node attached it, or the PV
			// controller wrote it): look again with the newer version.
			delete(vm.att, vol.Name)
			for _, w := range a.waiters {
				wait(vm.byPV, vol.Name, w)
			}
			if o, ok := vm.pvInf.Get("", vol.Name); !ok || o.Meta().ResourceVersion > used {
				k.eng.After(k.syncLat.Sample(), func() { vm.wake(vm.byPV, vol.Name) })
			}
			return
		}
		attach()
	})
}

// attached completes an attach: the waiting pods mount the volume.
func (vm *volumeManager) attached(a *attachment, vol *api.PersistentVolume, took time.Duration, note string) {
	k := vm.k
	a.state = attAttached
	mode := "ReadWriteOnce: the node holds it exclusively"
	if !a.rwo {
		mode = fmt.Sprintf("%v", vol.AccessModes)
	}
	detail := fmt.Sprintf("attached volume %s to %s in %.1f s (%s)", vol.Name, k.cfg.NodeName, took.Seconds(), mode)
	if note != "" {
		detail = fmt.Sprintf("volume %s is attached to %s already (%s)", vol.Name, k.cfg.NodeName, note)
	}
	k.trace(5, "attach", api.Ref(vol), detail)
	k.tel.Observe("volume_attach_seconds", k.eng.Now(), took.Seconds())
	waiters := a.waiters
	a.waiters = nil
	for _, w := range waiters {
		if w.gone || w.done {
			continue
		}
		vm.evaluate(w)
	}
	vm.maybeDetach(a)
}

// mount mounts the volume of claim for the pod.
func (vm *volumeManager) mount(pv *podVolumes, claim string, a *attachment) {
	k := vm.k
	pv.mounting[claim] = true
	pv.pvOf[claim] = a.pv
	a.users++
	lat := vm.mountLat.Sample()
	k.eng.After(lat, func() {
		if k.stopped {
			return
		}
		delete(pv.mounting, claim)
		if pv.gone {
			vm.release(a)
			return
		}
		pv.mounted[claim] = true
		k.tracef(5, "mount", pv.ps.ref, "mounted volume %s (claim %s) for the pod in %.3fs", a.pv, claim, lat.Seconds())
		if len(pv.mounted) < len(pv.claims) {
			return
		}
		pv.done = true
		took := k.eng.Now().Sub(pv.start)
		k.tel.Observe("volume_wait_seconds", k.eng.Now(), took.Seconds())
		k.tracef(5, "volumes-ready", pv.ps.ref, "all %d volume(s) bound, attached and mounted %.3fs after the pod's first sync: the pod worker goes on to create the sandbox", len(pv.claims), took.Seconds())
		k.syncPod(pv.ps)
	})
}

// podGone unmounts the volumes of a pod whose object is gone.
func (vm *volumeManager) podGone(uid api.UID) {
	pv := vm.pods[uid]
	if pv == nil || vm.k.stopped {
		return
	}
	delete(vm.pods, uid)
	pv.gone = true
	k := vm.k
	for _, claim := range pv.claims {
		if !pv.mounted[claim] {
			continue
		}
		a := vm.att[pv.pvOf[claim]]
		lat := vm.unmountLat.Sample()
		k.eng.After(lat, func() {
			if k.stopped || a == nil {
				return
			}
			k.tracef(0, "unmount", pv.ps.ref, "pod gone: unmounted volume %s (claim %s) in %.3fs", a.pv, claim, lat.Seconds())
			vm.release(a)
		})
	}
	// An attach in flight for this pod only: the attach's end detaches it again.
}

// release drops one user of an attachment and detaches it when none is left.
func (vm *volumeManager) release(a *attachment) {
	a.users--
	vm.maybeDetach(a)
}

func (vm *volumeManager) liveWaiters(a *attachment) bool {
	for _, w := range a.waiters {
		if !w.gone && !w.done {
			return true
		}
	}
	return false
}

// maybeDetach detaches an attached volume no pod uses or waits for.
func (vm *volumeManager) maybeDetach(a *attachment) {
	k := vm.k
	if a.state != attAttached || a.users > 0 || vm.liveWaiters(a) {
		return
	}
	a.state = attDetaching
	a.waiters = nil
	start := k.eng.Now()
	lat := vm.detachLat.Sample()
	k.eng.After(lat, func() {
		if k.stopped {
			return
		}
		finish := func() {
			delete(vm.att, a.pv)
			k.tracef(0, "detach", api.RefOf(api.KindPersistentVolume, "", a.pv), "detached volume %s from %s in %.1f s: no pod of the node uses it", a.pv, k.cfg.NodeName, k.eng.Now().Sub(start).Seconds())
			for _, w := range a.waiters {
				vm.evaluate(w)
			}
		}
		if !a.rwo {
			finish()
			return
		}
		vm.clearAnnotation(a.pv, 5, finish)
	})
}

// clearAnnotation removes this node from the volume's attached-node annotation
// (with the resource version as precondition; conflicts re-read the volume).
func (vm *volumeManager) clearAnnotation(name string, retries int, done func()) {
	k := vm.k
	k.client.Get(api.KindPersistentVolume, "", name, func(o api.Object, err error) {
		if k.stopped {
			return
		}
		if err != nil {
			done() // gone (deleted): nothing to clear
			return
		}
		vol := o.(*api.PersistentVolume)
		if vol.Annotations[AnnAttachedNode] != k.cfg.NodeName {
			done()
			return
		}
		nv := vol.DeepCopyObject().(*api.PersistentVolume)
		delete(nv.Annotations, AnnAttachedNode)
		k.client.Update(nv, func(_ api.Object, err error) {
			if k.stopped {
				return
			}
			if err != nil && retries > 0 {
				vm.clearAnnotation(name, retries-1, done)
				return
			}
			done()
		})
	})
}

// AttachedVolumes returns the volumes attached to the node or being attached or
// detached, sorted (for invariant checks: a ReadWriteOnce volume must never appear
// on two nodes). A stopped kubelet (a dead node) reports none: its attachments are
// the control plane's to undo (force detach).
func (k *Kubelet) AttachedVolumes() []string {
	if k.vols == nil || k.stopped {
		return nil
	}
	out := make([]string, 0, len(k.vols.att))
	for name := range k.vols.att {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
