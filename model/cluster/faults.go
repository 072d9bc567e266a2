package cluster

import (
	"fmt"
	"sort"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/fault"
	"github.com/kubesim/kubesim/model/kubelet"
	"github.com/kubesim/kubesim/model/runtime"
	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/sim"
)

// NodePart is what building one node needs: its runtime and kubelet configuration
// from the scenario, and its position in Cluster.Kubelets, Runtimes and Proxies.
type NodePart struct {
	Index      int
	Name, Zone string
	Runtime    runtime.ModeledConfig
	Kubelet    kubelet.Config
	QPS        float64
	Burst      int
	// NeverReady lists the scenario's bad-version images.
	NeverReady []string
	// Volumes are the kubelet's attach and mount latencies.
	Volumes kubelet.VolumeConfig
	// SharedEngine: the node's modeled runtime shares the cluster's one daemon
	// (cluster.runtime.sharedEngine; Runtime.Parallelism is its parallelism).
	SharedEngine bool
}

// RuntimeImages converts the scenario's images into the runtime's catalogue entries.
func RuntimeImages(sc *scenario.Scenario) []runtime.ImageSpec {
	images := make([]runtime.ImageSpec, 0, len(sc.Images))
	for _, im := range sc.Images {
		spec := runtime.ImageSpec{Name: im.Name, SizeBytes: im.Size.Value(), Unavailable: im.Unavailable}
		if cr := im.Crash; cr != nil {
			spec.Exit = &runtime.ExitSpec{After: cr.After.Spec, Code: cr.Code}
		}
		if s := im.Serve; s != nil {
			sv := runtime.NginxServe()
			sv.Port, sv.Workers, sv.QueueLimit = s.Port, s.Workers, s.QueueLimit
			setDist(&sv.ServiceTime, s.ServiceTime)
			setDist(&sv.ReadyAfter, s.ReadyAfter)
			spec.Serve = sv
		}
		images = append(images, spec)
	}
	return images
}

// NodeParts returns the configuration of every node of the scenario, in build order
// (pool by pool): what Build creates each node's runtime and kubelet from, and what
// a repaired node is rebuilt from.
func NodeParts(sc *scenario.Scenario) []NodePart {
	var out []NodePart
	for pi := range sc.Cluster.Nodes {
		pool := &sc.Cluster.Nodes[pi]
		for i, name := range pool.NodeNames() {
			out = append(out, nodePart(sc, pool, name, pool.ZoneOf(i), len(out)))
		}
	}
	return out
}

// nodePart is the configuration of one node of pool, the index-th of the cluster.
func nodePart(sc *scenario.Scenario, pool *scenario.NodePool, name, zone string, index int) NodePart {
	cc := &sc.Cluster
	var never []string
	for _, im := range sc.Images {
		if im.NeverReady {
			never = append(never, im.Name)
		}
	}
	idx := index + 1
	rcfg := runtime.DefaultModeledConfig()
	rcfg.Images = mergeImages(rcfg.Images, RuntimeImages(sc))
	rcfg.Preloaded = append([]string(nil), pool.Images...)
	if b := cc.Runtime.PullBandwidth; b != nil {
		rcfg.PullBandwidth = b.Value()
	}
	setDist(&rcfg.PullOverhead, cc.Runtime.PullOverhead)
	setDist(&rcfg.Create, cc.Runtime.Create)
	setDist(&rcfg.Start, cc.Runtime.Start)
	setDist(&rcfg.Stop, cc.Runtime.Stop)
	if v := cc.Runtime.SerializeImagePulls; v != nil {
		rcfg.SerializeImagePulls = *v
	}
	if v := cc.Runtime.Parallelism; v != nil {
		rcfg.Parallelism = *v
	}
	shared := cc.Runtime.SharedEngine != nil && *cc.Runtime.SharedEngine

	kcfg := kubelet.DefaultConfig()
	kcfg.NodeName = name
	kcfg.Labels = map[string]string{}
	for k, v := range pool.Labels {
		kcfg.Labels[k] = v
	}
	if zone != "" {
		kcfg.Labels[api.LabelZone] = zone
	}
	for _, t := range pool.Taints {
		kcfg.Taints = append(kcfg.Taints, api.Taint{Key: t.Key, Value: t.Value, Effect: api.TaintEffect(t.Effect)})
	}
	kcfg.Capacity = api.Resources{MilliCPU: pool.CPU.Milli(), Memory: pool.Memory.Value(), EphemeralStorage: kcfg.Capacity.EphemeralStorage}
	if pool.EphemeralStorage.Set {
		kcfg.Capacity.EphemeralStorage = pool.EphemeralStorage.Value()
	}
	if pool.Pods != nil {
		kcfg.MaxPods = *pool.Pods
	}
	if pool.GPUs > 0 {
		// Whole GPUs and the same capacity in thousandths for GPU-sharing pods
		// (kubesim.io/gpu-milli; per-GPU accounting is the GPU-aware policies').
		kcfg.Capacity.Scalar = map[api.ResourceName]int64{api.ResourceGPU: int64(pool.GPUs), api.ResourceGPUMilli: int64(pool.GPUs) * 1000}
		if pool.GPUModel != "" {
			kcfg.Labels[api.LabelGPUModel] = pool.GPUModel
		}
	}
	setInt64(&kcfg.MaxPods, cc.Kubelet.MaxPods)
	kcfg.Address = fmt.Sprintf("10.0.%d.%d", idx/250, idx%250+10)
	kcfg.PodCIDRIndex = idx % (kubelet.MaxPodCIDRIndex + 1) // a /24 of its own per node
	setDur(&kcfg.NodeStatusUpdateFrequency, cc.Kubelet.NodeStatusUpdateFrequency)
	setDur(&kcfg.NodeStatusReportFrequency, cc.Kubelet.NodeStatusReportFrequency)
	if v := cc.Kubelet.NodeLeaseDurationSeconds; v != nil {
		kcfg.NodeLeaseDurationSeconds = *v
	}
	setDist(&kcfg.SyncLatency, cc.Kubelet.SyncLatency)
	setDur(&kcfg.CrashLoopBackOffInitial, cc.Kubelet.CrashLoopBackOffInitial)
	setDur(&kcfg.CrashLoopBackOffMax, cc.Kubelet.CrashLoopBackOffMax)
	kcfg.StartAt = pool.StartAt.D()
	kqps, kburst := 50.0, 100 // reference §6.3
	setFloat(&kqps, cc.Kubelet.QPS)
	setInt(&kburst, cc.Kubelet.Burst)
	return NodePart{Index: index, Name: name, Zone: zone, Runtime: rcfg, Kubelet: kcfg, QPS: kqps, Burst: kburst, SharedEngine: shared,
		NeverReady: never, Volumes: volumeConfig(sc)}
}

// volumeConfig is the kubelets' attach and mount latencies: the first storage class
// that sets them applies to every volume.
func volumeConfig(sc *scenario.Scenario) kubelet.VolumeConfig {
	vcfg := kubelet.DefaultVolumeConfig()
	for _, st := range sc.Workload.Storage {
		if st.AttachLatency != nil {
			vcfg.AttachLatency = st.AttachLatency.Spec
		}
		if st.MountLatency != nil {
			vcfg.MountLatency = st.MountLatency.Spec
		}
	}
	return vcfg
}

// BuildNode creates one node's container runtime and kubelet (not started) on the
// cluster's engine, apiserver and pod network.
func (c *Cluster) BuildNode(p *NodePart) (NodeRuntime, *kubelet.Kubelet, error) {
	newRuntime := c.newRuntime
	if newRuntime == nil {
		newRuntime = ModeledRuntime
	}
	rt, err := newRuntime(c, p)
	if err != nil {
		return nil, nil, fmt.Errorf("runtime of node %s: %w", p.Name, err)
	}
	if len(p.NeverReady) > 0 {
		nr, ok := rt.(neverReadySetter)
		if !ok {
			return nil, nil, fmt.Errorf("node %s: %w", p.Name, errUnsupported("a never-ready (bad-version) image", rt))
		}
		for _, im := range p.NeverReady {
			nr.SetNeverReady(im, true)
		}
	}
	kl, err := kubelet.New(c.Eng, c.API.Client("kubelet/"+p.Name, p.QPS, p.Burst), rt, p.Kubelet, c.Registry, c.tel)
	if err != nil {
		return nil, nil, fmt.Errorf("kubelet of node %s: %w", p.Name, err)
	}
	if err := kl.ConfigureVolumes(p.Volumes, c.Registry); err != nil {
		return nil, nil, fmt.Errorf("kubelet of node %s: volumes: %w", p.Name, err)
	}
	return rt, kl, nil
}

// AddFaults schedules the faults on the cluster with the kinds of reg (nil: the
// built-in kinds). It returns the injector (for its injections and active count).
func (c *Cluster) AddFaults(reg *fault.Registry, specs []fault.Spec) (*fault.Injector, error) {
	if reg == nil {
		reg = fault.NewRegistry()
	}
	in := fault.NewInjector(c.Eng, NewFaultTarget(c), reg, c.Registry, c.tel)
	records := map[int]*FaultRecord{}
	in.OnInject = func(i int, inj fault.Injection) {
		records[i] = c.observer.noteFault(inj.Fault, inj.Kind, inj.Target)
	}
	in.OnRepair = func(i int, _ fault.Injection) {
		if r := records[i]; r != nil {
			c.observer.noteRepair(r)
		}
	}
	c.injectors = append(c.injectors, in)
	for i := range specs {
		if err := in.Add(specs[i]); err != nil {
			return nil, fmt.Errorf("faults[%d]: %w", i, err)
		}
	}
	return in, nil
}

// FaultTarget implements fault.Cluster with the cluster's components. Build one per
// cluster (it keeps the state of the faults in progress).
//
// Simplifications: a crashed node's kube-proxy is cut from the apiserver until the
// repair (its rules freeze; traffic sent from that node still goes through them); a
// repaired node reuses its runtime's and kubelet's random stream names, so its
// latencies repeat the sequences of its first boot; the model's kubelet cannot adopt
// running containers, so RestartKubelet (the repair of kubelet-stop) reboots the
// node's runtime too: the pods' containers start again.
type FaultTarget struct {
	c              *Cluster
	parts          map[string]*NodePart
	names          []string
	kubeletStopped map[string]bool
	failPulls      map[string]bool
	neverReady     map[string]bool
	apiDown        int
}

var _ fault.Cluster = (*FaultTarget)(nil)

// NewFaultTarget returns the fault target of c.
func NewFaultTarget(c *Cluster) *FaultTarget {
	ft := &FaultTarget{c: c, parts: map[string]*NodePart{}, kubeletStopped: map[string]bool{},
		failPulls: map[string]bool{}, neverReady: map[string]bool{}}
	for _, p := range NodeParts(c.sc) {
		p := p
		ft.parts[p.Name] = &p
		ft.names = append(ft.names, p.Name)
	}
	sort.Strings(ft.names)
	return ft
}

func (ft *FaultTarget) part(node string) (*NodePart, error) {
	p, ok := ft.parts[node]
	if !ok || p.Index >= len(ft.c.Kubelets) {
		return nil, fmt.Errorf("no node %q", node)
	}
	return p, nil
}

// Nodes implements fault.Cluster.
func (ft *FaultTarget) Nodes() []fault.NodeInfo {
	out := make([]fault.NodeInfo, 0, len(ft.names))
	for _, n := range ft.names {
		p := ft.parts[n]
		out = append(out, fault.NodeInfo{Name: n, Zone: p.Zone, Labels: p.Kubelet.Labels})
	}
	return out
}

// Pods implements fault.Cluster: O(pods).
func (ft *FaultTarget) Pods(namespace string, selector map[string]string) []fault.PodInfo {
	var out []fault.PodInfo
	for _, p := range ft.c.Pods() {
		if p.Spec.NodeName == "" || p.IsTerminal() || p.DeletionTimestamp != nil || (namespace != "" && p.Namespace != namespace) {
			continue
		}
		ok := true
		for k, v := range selector {
			if p.Labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, fault.PodInfo{Namespace: p.Namespace, Name: p.Name, Node: string(p.Spec.NodeName)})
		}
	}
	return out
}

// CrashNode implements fault.Cluster.
func (ft *FaultTarget) CrashNode(node string) error {
	p, err := ft.part(node)
	if err != nil {
		return err
	}
	c := ft.c
	rt := c.Runtimes[p.Index]
	if rt.Off() {
		return fmt.Errorf("node %s is already down", node)
	}
	c.Kubelets[p.Index].Stop()
	rt.PowerOff()
	c.API.SetPartitioned("kube-proxy/"+node, true)
	c.observer.setNodeDown(node, true)
	return nil
}

// RepairNode implements fault.Cluster: a fresh runtime (with the images that were
// on the node's disk) and a fresh kubelet that registers the node again.
func (ft *FaultTarget) RepairNode(node string) error {
	p, err := ft.part(node)
	if err != nil {
		return err
	}
	c := ft.c
	old := c.Runtimes[p.Index]
	if !old.Off() {
		return fmt.Errorf("node %s is not down", node)
	}
	if err := ft.reboot(p, old.ImageNames()); err != nil {
		return err
	}
	c.API.SetPartitioned("kube-proxy/"+node, false)
	c.observer.setNodeDown(node, false)
	return nil
}

// reboot builds and starts a new runtime and kubelet for p's node.
func (ft *FaultTarget) reboot(p *NodePart, images []string) error {
	np := *p
	np.Runtime.Preloaded = images
	np.Kubelet.StartAt = 0
	rt, kl, err := ft.c.BuildNode(&np)
	if err != nil {
		return err
	}
	if pf, ok := rt.(pullFaults); ok {
		for im := range ft.failPulls {
			pf.FailPulls(im)
		}
	}
	if nr, ok := rt.(neverReadySetter); ok {
		for im := range ft.neverReady {
			nr.SetNeverReady(im, true)
		}
	}
	ft.c.Runtimes[p.Index] = rt
	ft.c.Kubelets[p.Index] = kl
	delete(ft.kubeletStopped, p.Name)
	kl.Start()
	return nil
}

// PartitionNode implements fault.Cluster.
func (ft *FaultTarget) PartitionNode(node string) error {
	if _, err := ft.part(node); err != nil {
		return err
	}
	srv := ft.c.API
	if ft.c.Runtimes[ft.parts[node].Index].Off() {
		return fmt.Errorf("node %s is down", node)
	}
	for _, n := range srv.Partitioned() {
		if n == "kubelet/"+node {
			return fmt.Errorf("node %s is already partitioned", node)
		}
	}
	srv.SetPartitioned("kubelet/"+node, true)
	srv.SetPartitioned("kube-proxy/"+node, true)
	return nil
}

// HealNode implements fault.Cluster.
func (ft *FaultTarget) HealNode(node string) error {
	if _, err := ft.part(node); err != nil {
		return err
	}
	ft.c.API.SetPartitioned("kubelet/"+node, false)
	if !ft.c.Runtimes[ft.parts[node].Index].Off() {
		ft.c.API.SetPartitioned("kube-proxy/"+node, false)
	}
	return nil
}

// StopKubelet implements fault.Cluster.
func (ft *FaultTarget) StopKubelet(node string) error {
	p, err := ft.part(node)
	if err != nil {
		return err
	}
	if ft.kubeletStopped[node] || ft.c.Runtimes[p.Index].Off() {
		return fmt.Errorf("the kubelet of %s is not running", node)
	}
	ft.c.Kubelets[p.Index].Stop()
	ft.kubeletStopped[node] = true
	return nil
}

// RestartKubelet implements fault.Cluster (see the simplification on FaultTarget).
func (ft *FaultTarget) RestartKubelet(node string) error {
	p, err := ft.part(node)
	if err != nil {
		return err
	}
	if !ft.kubeletStopped[node] {
		return fmt.Errorf("the kubelet of %s was not stopped", node)
	}
	old := ft.c.Runtimes[p.Index]
	old.PowerOff()
	return ft.reboot(p, old.ImageNames())
}

// containers returns the runtime and running container ids of a pod.
func (ft *FaultTarget) containers(ns, pod, container string) (NodeRuntime, []string, error) {
	kv, ok := ft.c.Store.Get(api.Key(api.KindPod, ns, pod))
	if !ok {
		return nil, nil, fmt.Errorf("no pod %s/%s", ns, pod)
	}
	p := kv.Value.(*api.Pod)
	part, err := ft.part(string(p.Spec.NodeName))
	if err != nil {
		return nil, nil, fmt.Errorf("pod %s/%s: %w", ns, pod, err)
	}
	rt := ft.c.Runtimes[part.Index]
	ids := rt.RunningContainers(ns, pod, container)
	if len(ids) == 0 {
		return nil, nil, fmt.Errorf("pod %s/%s has no running container %q", ns, pod, container)
	}
	return rt, ids, nil
}

// CrashContainer implements fault.Cluster.
func (ft *FaultTarget) CrashContainer(ns, pod, container string, exitCode int) (int, error) {
	rt, ids, err := ft.containers(ns, pod, container)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := rt.Crash(id, exitCode); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// OOMKillContainer implements fault.Cluster.
func (ft *FaultTarget) OOMKillContainer(ns, pod, container string) (int, error) {
	rt, ids, err := ft.containers(ns, pod, container)
	if err != nil {
		return 0, err
	}
	oom, ok := rt.(oomKiller)
	if !ok {
		return 0, errUnsupported("an OOM kill", rt)
	}
	for _, id := range ids {
		if err := oom.OOMKill(id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// SetPullsFail implements fault.Cluster.
func (ft *FaultTarget) SetPullsFail(image string, fail bool) error {
	if fail {
		ft.failPulls[image] = true
	} else {
		delete(ft.failPulls, image)
	}
	for _, rt := range ft.c.Runtimes {
		pf, ok := rt.(pullFaults)
		if !ok {
			return errUnsupported("an image pull failure", rt)
		}
		if fail {
			pf.FailPulls(image)
		} else {
			pf.RestorePulls(image)
		}
	}
	return nil
}

// SetNeverReady implements fault.Cluster.
func (ft *FaultTarget) SetNeverReady(image string, bad bool) error {
	if bad {
		ft.neverReady[image] = true
	} else {
		delete(ft.neverReady, image)
	}
	for _, rt := range ft.c.Runtimes {
		nr, ok := rt.(neverReadySetter)
		if !ok {
			return errUnsupported("a bad version (never-ready image)", rt)
		}
		nr.SetNeverReady(image, bad)
	}
	return nil
}

// EtcdFollowers implements fault.Cluster.
func (ft *FaultTarget) EtcdFollowers() []int {
	st := ft.c.Store
	var out []int
	for i := 0; i < st.Members(); i++ {
		if st.MemberUp(i) && i != st.Leader() {
			out = append(out, i)
		}
	}
	return out
}

// EtcdLoseMember implements fault.Cluster.
func (ft *FaultTarget) EtcdLoseMember(m int) (sim.Time, error) { return ft.c.Store.LoseMember(m) }

// EtcdLoseLeader implements fault.Cluster.
func (ft *FaultTarget) EtcdLoseLeader() (int, sim.Time, error) { return ft.c.Store.LoseLeader() }

// EtcdRestoreMember implements fault.Cluster.
func (ft *FaultTarget) EtcdRestoreMember(m int) (sim.Time, error) { return ft.c.Store.RestoreMember(m) }

// EtcdQuorum implements fault.Cluster.
func (ft *FaultTarget) EtcdQuorum() bool { return ft.c.Store.Available() }

// EtcdSetFsyncFactor implements fault.Cluster.
func (ft *FaultTarget) EtcdSetFsyncFactor(f float64) error { return ft.c.Store.SetFsyncFactor(-1, f) }

// SetAPIServerAvailable implements fault.Cluster. Outages nest: the apiserver comes
// back when every outage is over.
func (ft *FaultTarget) SetAPIServerAvailable(up bool) error {
	if up {
		if ft.apiDown == 0 {
			return fmt.Errorf("the apiserver is not down")
		}
		ft.apiDown--
		if ft.apiDown == 0 {
			ft.c.API.SetAvailable(true)
		}
		return nil
	}
	ft.apiDown++
	ft.c.API.SetAvailable(false)
	return nil
}
