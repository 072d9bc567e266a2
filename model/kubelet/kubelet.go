// Package kubelet models the node agent: one Kubelet per node registers its Node and
// Lease (step 1 of the Nginx story), keeps them fresh with heartbeats, learns of the
// pods bound to its node through a watch on the apiserver (step 4), has the container
// runtime pull, create and start their containers and reports their status back
// (step 5). It also runs readiness probes, restarts exited containers with the
// CrashLoopBackOff schedule and carries out graceful pod deletion (reference §4).
//
// The kubelet meets the other components only through the apiserver Client; it talks
// to the container runtime through runtime.Runtime. Everything runs in engine
// callbacks; nothing here blocks.
package kubelet

import (
	"fmt"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/runtime"
	"github.com/kubesim/kubesim/sim"
)

// Event kinds of the Kubelet's typed engine events.
const (
	evHeartbeat int32 = iota + 1 // lease renewal and node status computation
	evProbe                      // a readiness probe of the container in Data
	evSync                       // re-sync of the container in Data (restart, backoff, retry)
)

// Kubelet is the node agent of one node.
type Kubelet struct {
	eng        *sim.Engine
	client     *apiserver.Client // step 0: heartbeats, deletions, later status writes
	regClient  *apiserver.Client // step 1: registration
	podClient  *apiserver.Client // step 5: pod status during startup
	spareReqs  []*api.Pod        // status-request pods not in use (flushStatus)
	rt         runtime.Runtime
	prober     runtime.Prober // nil when the runtime cannot probe
	cfg        Config
	tel        sim.Telemetry
	comp       string
	nodeRef    string
	syncLat    dist.Sampler
	sandboxLat dist.Sampler
	podCIDR    string // "10.244.1": the node's /24 without the host part

	started, stopped bool
	informer         *apiserver.Informer
	// nodeInf watches the kubelet's own Node (fieldSelector metadata.name): the
	// stored status is what the kubelet compares its own with, as upstream's
	// tryUpdateNodeStatus compares with the node it reads.
	nodeInf *apiserver.Informer
	vols    *volumeManager // volumes.go; nil until needed or configured

	// node registration and heartbeats
	node        *api.Node // the last Node object written (shared: never modified)
	readySince  sim.Time  // Ready condition's last transition
	lease       *api.Lease
	regBackoff  time.Duration
	hb          sim.Timer
	nextLease   sim.Time
	nextStatus  sim.Time
	lastReport  sim.Time
	statusDirty bool // node status changed since the last post (for example images)

	// pods
	alloc  api.Resources // allocatable
	used   api.Resources // requests of admitted, not yet terminated pods (Pods counts them)
	pods   map[api.UID]*podState
	byID   map[string]*ctr // runtime container id -> container
	ipUsed [256]bool
	ipNext int
}

var _ sim.Handler = (*Kubelet)(nil)

// New builds the kubelet of cfg.NodeName. client is the kubelet's apiserver client
// (reference §6.3: QPS 50, burst 100); rt is its node's container runtime. If rt also
// implements runtime.Prober, readiness probes ask it; otherwise a probe succeeds
// while the container runs. The kubelet does nothing until Start. tel may be nil.
func New(eng *sim.Engine, client *apiserver.Client, rt runtime.Runtime, cfg Config, reg *dist.Registry, tel sim.Telemetry) (*Kubelet, error) {
	if err := cfg.Validate(reg); err != nil {
		return nil, fmt.Errorf("kubelet %s: %w", cfg.NodeName, err)
	}
	if client == nil || rt == nil {
		return nil, fmt.Errorf("kubelet %s: client and runtime are required", cfg.NodeName)
	}
	if tel == nil {
		tel = sim.Discard
	}
	pfx := "kubelet/" + cfg.NodeName
	k := &Kubelet{
		eng: eng, rt: rt, cfg: cfg, tel: tel, comp: pfx,
		client:     client.WithStep(0),
		regClient:  client.WithStep(1),
		podClient:  client.WithStep(5),
		nodeRef:    api.RefOf(api.KindNode, "", cfg.NodeName),
		syncLat:    reg.MustNew(cfg.SyncLatency, eng.Source(pfx+"/sync")),
		sandboxLat: reg.MustNew(cfg.SandboxLatency, eng.Source(pfx+"/sandbox")),
		alloc:      cfg.Allocatable(),
		podCIDR:    cfg.PodCIDR(),
		pods:       map[api.UID]*podState{},
		byID:       map[string]*ctr{},
	}
	k.prober, _ = rt.(runtime.Prober)
	rt.SetExitHandler(k.onExit)
	return k, nil
}

// NodeName returns the node's name.
func (k *Kubelet) NodeName() string { return k.cfg.NodeName }

// Start starts the kubelet process at Config.StartAt (or now, if that has passed):
// it opens its pod watch and registers the node. Start is effective once.
func (k *Kubelet) Start() {
	if k.started {
		return
	}
	k.started = true
	k.eng.At(max(k.eng.Now(), sim.Time(k.cfg.StartAt)), k.boot)
}

// Stop stops the kubelet process: no more heartbeats, status updates, probes or
// restarts. Containers keep running in the runtime. A stopped kubelet does not
// start again; a restarted kubelet would be a new Kubelet.
func (k *Kubelet) Stop() {
	if k.stopped {
		return
	}
	k.stopped = true
	k.eng.Cancel(k.hb)
	if k.informer != nil {
		k.informer.Stop()
	}
	if k.nodeInf != nil {
		k.nodeInf.Stop()
	}
	k.trace(0, "stop", k.nodeRef, "kubelet process stopped: no more Lease renewals or status updates; containers keep running")
}

// tracef traces a record whose detail is formatted only when the telemetry keeps it.
func (k *Kubelet) tracef(step int, action, object, format string, args ...any) {
	sim.Tracef(k.tel, sim.Record{Time: k.eng.Now(), Step: step, Component: k.comp, Action: action, Object: object}, format, args...)
}

func (k *Kubelet) trace(step int, action, object, detail string) {
	k.tel.Trace(sim.Record{Time: k.eng.Now(), Step: step, Component: k.comp, Action: action, Object: object, Detail: detail})
}

func (k *Kubelet) boot() {
	if k.stopped {
		return
	}
	k.tracef(1, "start", k.nodeRef,
		"kubelet process started on %s (%s): it registers the node with the apiserver and opens a watch on the pods bound to it (fieldSelector spec.nodeName=%s)",
		k.cfg.NodeName, k.cfg.Address, k.cfg.NodeName)
	k.informer = apiserver.NewInformer(k.client, api.KindPod,
		apiserver.InformerOptions{ListOptions: apiserver.ListOptions{Field: apiserver.FieldNodeName, FieldValue: k.cfg.NodeName}},
		apiserver.Handlers{OnAdd: k.onPodAdd, OnUpdate: k.onPodUpdate, OnDelete: k.onPodDelete})
	k.nodeInf = apiserver.NewInformer(k.client, api.KindNode,
		apiserver.InformerOptions{ListOptions: apiserver.ListOptions{Field: apiserver.FieldName, FieldValue: k.cfg.NodeName}}, apiserver.Handlers{})
	k.register()
}

// storedNotReady reports whether the Node as stored in the apiserver says anything
// but Ready=True (the node lifecycle controller set it Unknown while the kubelet
// was cut off): the kubelet then posts its status at once, since upstream posts
// whenever its computed status differs from the stored one
// (pkg/kubelet/kubelet_node_status.go tryUpdateNodeStatus, nodeStatusHasChanged).
func (k *Kubelet) storedNotReady() bool {
	if k.nodeInf == nil {
		return false
	}
	o, ok := k.nodeInf.Get("", k.cfg.NodeName)
	return ok && !o.(*api.Node).IsReady()
}

// ---------------------------------------------------------------------------
// Registration (step 1)

func (k *Kubelet) buildNode() *api.Node {
	labels := make(map[string]string, len(k.cfg.Labels)+3)
	for key, v := range k.cfg.Labels {
		labels[key] = v
	}
	labels[api.LabelHostname] = k.cfg.NodeName
	labels["kubernetes.io/os"] = "linux"
	labels["kubernetes.io/arch"] = "amd64"
	n := &api.Node{ObjectMeta: api.ObjectMeta{Name: k.cfg.NodeName, Labels: labels}}
	if len(k.cfg.Taints) > 0 {
		n.Spec.Taints = append([]api.Taint(nil), k.cfg.Taints...)
	}
	n.Status = k.nodeStatus()
	return n
}

// register creates the Node; when it exists already (a restarted kubelet) the
// kubelet takes it over by writing its status. Failures retry after 100 ms doubling
// to 7 s (pkg/kubelet/kubelet_node_status.go registerWithAPIServer).
func (k *Kubelet) register() {
	k.readySince = k.eng.Now()
	k.regClient.Create(k.buildNode(), func(obj api.Object, err error) {
		if k.stopped {
			return
		}
		switch {
		case err == nil:
			k.registered(obj.(*api.Node), "registered: the kubelet created it through")
		case apiserver.IsAlreadyExists(err):
			n := k.buildNode()
			k.regClient.UpdateStatus(n, func(obj api.Object, err error) {
				if k.stopped {
					return
				}
				if err != nil {
					k.retryRegister(err)
					return
				}
				k.registered(obj.(*api.Node), "already existed: the kubelet took it over, writing its status through")
			})
		default:
			k.retryRegister(err)
		}
	})
}

func (k *Kubelet) retryRegister(err error) {
	k.regBackoff = min(max(2*k.regBackoff, 100*time.Millisecond), 7*time.Second)
	k.tracef(1, "register-failed", k.nodeRef, "registering the node failed (%v); retrying in %v", err, k.regBackoff)
	k.eng.After(k.regBackoff, k.register)
}

func (k *Kubelet) registered(n *api.Node, how string) {
	k.node = n
	a := &k.alloc
	k.tracef(1, "register", k.nodeRef,
		"Node %s %s the apiserver, which stored it in etcd: capacity cpu=%s memory=%s pods=%d, allocatable cpu=%s memory=%s, Ready=True, %d images, address %s",
		n.Name, how, fmtCPU(k.cfg.Capacity.MilliCPU), fmtMem(k.cfg.Capacity.Memory), k.cfg.MaxPods,
		fmtCPU(a.MilliCPU), fmtMem(a.Memory), len(n.Status.Images), k.cfg.Address)
	now := k.eng.Now()
	k.lastReport = now
	k.createLease()
	k.nextLease = now.Add(k.cfg.leaseRenewInterval())
	k.nextStatus = now.Add(k.cfg.NodeStatusUpdateFrequency)
	k.hb = k.eng.Schedule(min(k.nextLease, k.nextStatus), k, evHeartbeat, 0, nil)
}

// ---------------------------------------------------------------------------
// Heartbeats (step 0)

func (k *Kubelet) buildLease() *api.Lease {
	l := &api.Lease{
		ObjectMeta:           api.ObjectMeta{Name: k.cfg.NodeName, Namespace: api.NamespaceNodeLease},
		HolderIdentity:       k.cfg.NodeName,
		LeaseDurationSeconds: k.cfg.NodeLeaseDurationSeconds,
		RenewTime:            k.eng.Now(),
	}
	if k.node != nil {
		l.OwnerReferences = []api.OwnerReference{{Kind: api.KindNode, Name: k.node.Name, UID: k.node.UID}}
	}
	return l
}

// createLease creates the node's Lease in kube-node-lease, owned by the Node
// (pkg/kubelet/nodelease; staging/src/k8s.io/component-helpers/apimachinery/lease).
func (k *Kubelet) createLease() {
	l := k.buildLease()
	ref := api.Ref(l)
	k.regClient.Create(l, func(obj api.Object, err error) {
		if k.stopped {
			return
		}
		switch {
		case err == nil:
			k.lease = obj.(*api.Lease)
			k.tracef(1, "lease", ref,
				"created Lease %s (duration %ds): the kubelet renews it every %v and the node lifecycle controller reads the renewals as the node's heartbeat",
				k.cfg.NodeName, k.cfg.NodeLeaseDurationSeconds, k.cfg.leaseRenewInterval())
		case apiserver.IsAlreadyExists(err):
			k.lease = l // take it over at the next renewal
		default:
			k.tracef(1, "lease-failed", ref, "creating the Lease failed (%v); retrying at the next renewal", err)
		}
	})
}

// Handle implements sim.Handler for the kubelet's typed events.
func (k *Kubelet) Handle(ev *sim.Event) {
	if k.stopped {
		return
	}
	switch ev.Kind {
	case evHeartbeat:
		k.heartbeat()
	case evProbe:
		k.probe(ev.Data.(*ctr))
	case evSync:
		c := ev.Data.(*ctr)
		c.retry = sim.Timer{}
		k.syncContainer(c)
	}
}

// heartbeat runs the one periodic timer of the node: it renews the Lease every
// 0.25·leaseDuration and computes node status every nodeStatusUpdateFrequency,
// posting it when it changed or nodeStatusReportFrequency has passed (reference §4).
// Its cost is O(1): no scan of pods or containers.
func (k *Kubelet) heartbeat() {
	now := k.eng.Now()
	if now >= k.nextLease {
		k.nextLease = now.Add(k.cfg.leaseRenewInterval())
		k.renewLease()
	}
	if now >= k.nextStatus {
		k.nextStatus = now.Add(k.cfg.NodeStatusUpdateFrequency)
		if k.statusDirty || now.Sub(k.lastReport) >= k.cfg.NodeStatusReportFrequency || k.storedNotReady() {
			k.postNodeStatus()
		}
	}
	k.hb = k.eng.Schedule(min(k.nextLease, k.nextStatus), k, evHeartbeat, 0, nil)
}

// renewLease writes the Lease with a new renewTime. The kubelet is the Lease's only
// writer, so the update carries no resourceVersion precondition.
func (k *Kubelet) renewLease() {
	if k.lease == nil {
		k.createLease()
		return
	}
	l := k.buildLease()
	l.UID = k.lease.UID
	k.client.Update(l, func(obj api.Object, err error) {
		if k.stopped {
			return
		}
		switch {
		case err == nil:
			k.lease = obj.(*api.Lease)
			k.tracef(0, "renew-lease", api.Ref(obj), "renewed Lease %s (renewTime %v): the node's heartbeat", k.cfg.NodeName, k.lease.RenewTime)
		case apiserver.IsNotFound(err):
			k.lease = nil // recreate at the next renewal
		default:
			k.tracef(0, "renew-lease-failed", api.RefOf(api.KindLease, api.NamespaceNodeLease, k.cfg.NodeName), "renewing the Lease failed: %v", err)
		}
	})
}

// nodeStatus computes the Node's status now: capacity, allocatable, the conditions
// with a fresh heartbeat, the runtime's images (at most NodeStatusMaxImages, largest
// first) and the address.
func (k *Kubelet) nodeStatus() api.NodeStatus {
	now := k.eng.Now()
	images := k.rt.Images()
	if len(images) > k.cfg.NodeStatusMaxImages {
		images = images[:k.cfg.NodeStatusMaxImages]
	}
	// Condition order, types and reasons as the kubelet's setters write them
	// (pkg/kubelet/nodestatus/setters.go).
	cond := func(t api.NodeConditionType, s api.ConditionStatus, reason string) api.NodeCondition {
		return api.NodeCondition{Type: t, Status: s, Reason: reason, LastHeartbeatTime: now, LastTransitionTime: k.readySince}
	}
	return api.NodeStatus{
		Capacity:    k.cfg.NodeCapacity(),
		Allocatable: k.alloc.Clone(),
		Conditions: []api.NodeCondition{
			cond(api.NodeMemoryPressure, api.ConditionFalse, "KubeletHasSufficientMemory"),
			cond(api.NodeDiskPressure, api.ConditionFalse, "KubeletHasNoDiskPressure"),
			cond(api.NodePIDPressure, api.ConditionFalse, "KubeletHasSufficientPID"),
			cond(api.NodeReady, api.ConditionTrue, "KubeletReady"),
		},
		Images:  images,
		Address: k.cfg.Address,
	}
}

// postNodeStatus writes the node status (the kubelet's PATCH of nodes/status; the
// model's UpdateStatus replaces the status only, without a precondition).
func (k *Kubelet) postNodeStatus() {
	if k.node == nil {
		return
	}
	n := k.node.DeepCopy()
	n.ResourceVersion = 0
	n.Status = k.nodeStatus()
	changed := k.statusDirty
	k.statusDirty = false
	k.lastReport = k.eng.Now()
	k.client.UpdateStatus(n, func(obj api.Object, err error) {
		if k.stopped {
			return
		}
		if err != nil {
			k.statusDirty = true // retry at the next computation
			k.tracef(0, "node-status-failed", k.nodeRef, "posting node status failed: %v", err)
			return
		}
		k.node = obj.(*api.Node)
		why := fmt.Sprintf("nothing changed for %v (nodeStatusReportFrequency)", k.cfg.NodeStatusReportFrequency)
		if changed {
			why = "it changed"
		}
		k.tracef(0, "node-status", k.nodeRef, "posted node status because %s: Ready=True, %d images", why, len(k.node.Status.Images))
	})
}

// ---------------------------------------------------------------------------
// Formatting

func fmtCPU(m int64) string {
	if m%1000 == 0 {
		return fmt.Sprintf("%d", m/1000)
	}
	return fmt.Sprintf("%dm", m)
}

func fmtMem(b int64) string {
	switch {
	case b != 0 && b%(1<<30) == 0:
		return fmt.Sprintf("%dGi", b>>30)
	case b != 0 && b%(1<<20) == 0:
		return fmt.Sprintf("%dMi", b>>20)
	case b != 0 && b%(1<<10) == 0:
		return fmt.Sprintf("%dKi", b>>10)
	}
	return fmt.Sprintf("%d", b)
}
