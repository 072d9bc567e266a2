package framework

import (
	"time"

	"github.com/kubesim/kubesim/model/api"
)

// PreBindPlugin runs in the binding cycle, after Reserve and before the Bind
// plug-ins (upstream PreBindPlugin; the VolumeBinding plug-in uses it to provision
// and bind the pod's volumes). PreBind either returns Skip or a failure
// synchronously (done is then never called), or returns nil and later calls done
// exactly once with the outcome (nil = go on to the next PreBind plug-in, then
// Bind). A failure undoes the reservation and retries the pod, as a failed binding.
type PreBindPlugin interface {
	Plugin
	PreBind(state *CycleState, pod *PodInfo, node api.NodeName, done func(*Status)) *Status
}

// Event resources of the storage objects (upstream PersistentVolumeClaim,
// PersistentVolume, StorageClass). Plug-ins that watch them through their own
// informers report their events with Services.ClusterEvent.
const (
	PersistentVolumeClaimResource EventResource = WildCardResource + 1 + iota
	PersistentVolumeResource
	StorageClassResource
)

// Services are scheduler services beyond Handle, for plug-ins that keep their own
// state in time: the scheduler's Handle implements it (check with a type
// assertion; fakes may not).
type Services interface {
	// AfterFunc runs fn after d of virtual time; cancel stops it.
	AfterFunc(d time.Duration, fn func()) (cancel func())
	// ClusterEvent tells the scheduling queue that ev happened: pods rejected by
	// plug-ins that registered a matching event are moved out of unschedulablePods.
	ClusterEvent(ev ClusterEvent)
}
