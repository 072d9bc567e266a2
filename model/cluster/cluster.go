// Package cluster builds a whole modeled cluster from a scenario: it is the model's
// composition root. It creates the engine, etcd, the apiserver, the scheduler, the
// controller-manager, one kubelet, container runtime and kube-proxy per node, the
// client traffic, and the user ("kubectl") who submits the workload at the times the
// scenario gives. Components are wired only through the apiserver.
package cluster

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
	"sort"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/autoscaler"
	"github.com/kubesim/kubesim/model/controller/disruption"
	"github.com/kubesim/kubesim/model/controller/manager"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/dns"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/model/fault"
	"github.com/kubesim/kubesim/model/kubelet"
	"github.com/kubesim/kubesim/model/metricsserver"
	"github.com/kubesim/kubesim/model/network"
	"github.com/kubesim/kubesim/model/proxy"
	"github.com/kubesim/kubesim/model/runtime"
	"github.com/kubesim/kubesim/model/scenario"
	"github.com/kubesim/kubesim/model/scheduler"
	"github.com/kubesim/kubesim/model/traffic"
	"github.com/kubesim/kubesim/model/workload"
	"github.com/kubesim/kubesim/sim"
)

// Options tune a build beyond the scenario.
type Options struct {
	// Seed is the run's root seed.
	Seed uint64
	// TraceEachRequest traces every client request (for --trace events).
	TraceEachRequest bool
	// SampleEvery is the period of the cluster-wide gauges (pods running, replicas
	// ready, allocation). 0 means 1 s, or duration/2000 for runs over 2,000 s.
	SampleEvery time.Duration
	// Faults is the registry of fault kinds the scenario may name; nil means the
	// built-in kinds. Users add their own kinds in Go with Register.
	Faults *fault.Registry
	// Policy names the scheduling policy of the run ("" = default) in Policies
	// (nil = the built-in ones).
	Policy   string
	Policies *PolicyRegistry
	// RegisterPlugins, when set, adds plug-ins or raw policies to the scheduler's
	// registry (an extender the caller connected, for example).
	RegisterPlugins func(*scheduler.Registry) error
	// TraceNodes and TracePods are the scenario's trace, read by the caller (the
	// model does no I/O): the nodes replace cluster.nodes; the pods are replayed.
	TraceNodes []workload.NodeSpec
	TracePods  []workload.AlibabaPod
	// Manifests are Kubernetes manifests to apply (read by the caller): their
	// Nodes join the cluster after the scenario's; their objects are created at
	// each batch's time (manifests.go).
	Manifests []ManifestBatch
	// Arrivals and Sizes are the synthetic generators' registries of arrival
	// processes and size distributions (nil = the built-in ones); users add their
	// own in Go with Register.
	Arrivals *workload.ArrivalRegistry
	Sizes    *workload.SizeRegistry
	// NewRuntime, when set, builds each node's container runtime instead of the
	// modeled one (real-run mode passes real containers). The mode of a run is
	// chosen only here, where the program is wired; the components do not change.
	NewRuntime NewRuntimeFunc
	// Engine, when set, is the engine to build on (Seed is then ignored: the
	// engine's seed is the run's). Real-run mode creates it first so that the
	// adapters' completions can go to the wall-clock driver's inbox (sim/wall).
	Engine *sim.Engine
	// NewStore, when set, builds the apiserver's store instead of the modeled etcd
	// (real-run mode passes a real etcd, model/etcd/real); cfg is the scenario's etcd
	// configuration.
	NewStore func(eng *sim.Engine, cfg etcd.Config, reg *dist.Registry) (etcd.Backend, error)
	// Dataplane, when set, is the real data path the kube-proxy of the first node
	// programs (real-run mode passes the real proxy of model/proxy/real); nil means
	// simulation only.
	Dataplane proxy.Dataplane
}

// Cluster is a built cluster, ready to run.
type Cluster struct {
	Eng       *sim.Engine
	Registry  *dist.Registry
	Store     etcd.Backend
	API       *apiserver.Server
	Scheduler *scheduler.Scheduler
	Manager   *manager.Manager
	Kubelets  []*kubelet.Kubelet
	Runtimes  []NodeRuntime // *runtime.Modeled unless Options.NewRuntime says otherwise
	Proxies   []*proxy.Proxy
	Traffic   []*traffic.Generator
	Fabric    *network.Fabric
	DNS       *dns.Server           // nil unless the scenario enables cluster DNS
	Metrics   *metricsserver.Server // nil unless an HPA needs pod metrics
	// Autoscaler is the cluster autoscaler (nil without node groups).
	Autoscaler *autoscaler.Autoscaler
	// Disruption is the disruption controller (nil unless the run has
	// PodDisruptionBudgets, pdb.go).
	Disruption *disruption.Controller
	// Replay replays the scenario's trace (nil without one).
	Replay *workload.Replay
	// Synthetic are the scenario's synthetic workload generators, in order.
	Synthetic []*workload.Synthetic

	sc        *scenario.Scenario
	tel       sim.Telemetry
	observer  *observer
	inv       *invariants
	injectors []*fault.Injector
	proxyCfg  proxy.Config
	groupSeq  int
	pickers   map[string]traffic.Picker
	shared    *proxy.Shared
	daemon    *runtime.Daemon // the nodes' one container-engine daemon (cluster.runtime.sharedEngine)

	newRuntime NewRuntimeFunc // Options.NewRuntime
}

// addNode builds a node's runtime, kubelet and kube-proxy (started by Build, or at
// once when the cluster already runs) and appends them at part.Index.
func (c *Cluster) addNode(part *NodePart) error {
	rt, kl, err := c.BuildNode(part)
	if err != nil {
		return err
	}
	px, err := proxy.New(c.Eng, c.API.Client("kube-proxy/"+part.Name, c.proxyCfg.QPS, c.proxyCfg.Burst), part.Name, c.proxyCfg, c.Registry, c.tel)
	if err != nil {
		return fmt.Errorf("kube-proxy of node %s: %w", part.Name, err)
	}
	px.SetShared(c.shared)
	c.Runtimes = append(c.Runtimes, rt)
	c.Kubelets = append(c.Kubelets, kl)
	c.Proxies = append(c.Proxies, px)
	c.pickers[part.Name] = px
	return nil
}

// Build creates every component of the scenario's cluster and schedules the
// workload. Nothing runs until Run.
func Build(sc *scenario.Scenario, opts Options, tel sim.Telemetry) (*Cluster, error) {
	if tel == nil {
		tel = sim.Discard
	}
	eng := opts.Engine
	if eng == nil {
		eng = sim.New(opts.Seed)
	}
	reg := dist.NewRegistry()
	c := &Cluster{Eng: eng, Registry: reg, Fabric: network.New(), sc: sc, tel: tel, newRuntime: opts.NewRuntime}
	cc := &sc.Cluster

	// etcd and the apiserver: the control plane's store and door (step 1).
	ecfg := etcd.DefaultConfig()
	setInt(&ecfg.Members, cc.Etcd.Members)
	setDist(&ecfg.Fsync, cc.Etcd.Fsync)
	setDist(&ecfg.RTT, cc.Etcd.RTT)
	var st etcd.Backend
	var err error
	if opts.NewStore != nil {
		st, err = opts.NewStore(eng, ecfg, reg)
	} else {
		st, err = etcd.New(eng, ecfg, reg)
	}
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	c.Store = st
	acfg := apiserver.DefaultConfig()
	setDist(&acfg.RequestLatency, cc.APIServer.RequestLatency)
	setDist(&acfg.WatchLatency, cc.APIServer.WatchLatency)
	setInt(&acfg.MaxRequestsInflight, cc.APIServer.MaxRequestsInflight)
	setInt(&acfg.MaxMutatingRequestsInflight, cc.APIServer.MaxMutatingRequestsInflight)
	setDur(&acfg.CompactionInterval, cc.APIServer.CompactionInterval)
	if v := cc.APIServer.DefaultTolerationSeconds; v != nil {
		acfg.DefaultNotReadyTolerationSeconds, acfg.DefaultUnreachableTolerationSeconds = *v, *v
	}
	srv, err := apiserver.New(eng, st, acfg, reg, tel)
	if err != nil {
		return nil, fmt.Errorf("apiserver: %w", err)
	}
	c.API = srv
	tel.Trace(sim.Record{Time: 0, Step: 1, Component: "etcd", Action: "start",
		Object: "etcd-cluster", Detail: fmt.Sprintf("%d members elect a leader; every object of the cluster will live here under /registry/", ecfg.Members)})
	tel.Trace(sim.Record{Time: 0, Step: 1, Component: "apiserver", Action: "start",
		Object: "kube-apiserver", Detail: "serving; the only component that talks to etcd"})

	// The scheduler.
	scfg := scheduler.DefaultConfig()
	if v := cc.Scheduler.PercentageOfNodesToScore; v != nil {
		scfg.PercentageOfNodesToScore = *v
	}
	setDur(&scfg.PodInitialBackoff, cc.Scheduler.PodInitialBackoff)
	setDur(&scfg.PodMaxBackoff, cc.Scheduler.PodMaxBackoff)
	setDist(&scfg.CycleLatency, cc.Scheduler.CycleLatency)
	setDur(&scfg.PerNodeLatency, cc.Scheduler.PerNodeLatency)
	sqps, sburst := 50.0, 100 // reference §6.3
	setFloat(&sqps, cc.Scheduler.QPS)
	setInt(&sburst, cc.Scheduler.Burst)
	policies := opts.Policies
	if policies == nil {
		policies = NewPolicyRegistry()
	}
	if err := policies.Apply(opts.Policy, &scfg); err != nil {
		return nil, err
	}
	plugins := scheduler.NewRegistry()
	if err := scheduler.RegisterPolicies(plugins); err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	if err := registerKubeSchedulerPlugins(plugins); err != nil { // kubescheduler.go
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	if opts.RegisterPlugins != nil {
		if err := opts.RegisterPlugins(plugins); err != nil {
			return nil, fmt.Errorf("scheduler: %w", err)
		}
	}
	sch, err := scheduler.New(eng, srv.Client("scheduler", sqps, sburst), scfg, plugins, reg, tel)
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	c.Scheduler = sch

	// The controller-manager.
	mcfg := manager.DefaultConfig()
	setFloat(&mcfg.QPS, cc.ControllerManager.QPS)
	setInt(&mcfg.Burst, cc.ControllerManager.Burst)
	if d := cc.ControllerManager.SyncLatency; d != nil {
		mcfg.Deployment.SyncLatency = d.Spec
		mcfg.ReplicaSet.SyncLatency = d.Spec
		mcfg.EndpointSlice.SyncLatency = d.Spec
	}
	setInt(&mcfg.EndpointSlice.MaxEndpointsPerSlice, cc.ControllerManager.MaxEndpointsPerSlice)
	nl := &cc.NodeLifecycle
	setDur(&mcfg.NodeLifecycle.NodeMonitorPeriod, nl.MonitorPeriod)
	setDur(&mcfg.NodeLifecycle.NodeMonitorGracePeriod, nl.GracePeriod)
	setDur(&mcfg.NodeLifecycle.NodeStartupGracePeriod, nl.StartupGracePeriod)
	setFloat(&mcfg.NodeLifecycle.NodeEvictionRate, nl.EvictionRate)
	setFloat(&mcfg.NodeLifecycle.SecondaryNodeEvictionRate, nl.SecondaryEvictionRate)
	setFloat(&mcfg.NodeLifecycle.UnhealthyZoneThreshold, nl.UnhealthyZoneThreshold)
	setInt(&mcfg.NodeLifecycle.LargeClusterSizeThreshold, nl.LargeClusterSizeThreshold)
	// Storage: each class's provisioner latency (the kubelets' attach and mount
	// latencies are in their NodePart).
	for _, st := range sc.Workload.Storage {
		if st.ProvisionLatency != nil {
			if mcfg.Volume.ProvisionerLatency == nil {
				mcfg.Volume.ProvisionerLatency = map[string]dist.Spec{}
			}
			mcfg.Volume.ProvisionerLatency[StorageClassObject(&st).Provisioner] = st.ProvisionLatency.Spec
		}
	}
	mgr, err := manager.New(eng, srv, mcfg, reg, tel)
	if err != nil {
		return nil, fmt.Errorf("controller-manager: %w", err)
	}
	c.Manager = mgr

	// Nodes: a runtime, a kubelet and a kube-proxy each.
	pcfg := proxy.DefaultConfig()
	if m := cc.Proxy.Mode; m != nil {
		pcfg.Mode = proxy.Mode(*m)
	}
	if sch := cc.Proxy.Scheduler; sch != nil {
		pcfg.Scheduler = proxy.Scheduler(*sch)
	}
	setDist(&pcfg.SyncLatency, cc.Proxy.SyncLatency)
	setDur(&pcfg.MinSyncPeriod, cc.Proxy.MinSyncPeriod)
	setDur(&pcfg.SyncPeriod, cc.Proxy.SyncPeriod)
	c.proxyCfg = pcfg
	c.pickers = map[string]traffic.Picker{}
	c.shared = proxy.NewShared() // one endpoint cache for every proxy: same behaviour, O(1) memory per node
	var allNodes []string
	parts := NodeParts(sc)
	if opts.TraceNodes != nil {
		parts = traceNodeParts(sc, opts.TraceNodes)
	}
	parts = append(parts, manifestNodeParts(sc, opts.Manifests, len(parts))...)
	if len(parts) == 0 {
		return nil, fmt.Errorf("the cluster has no nodes: cluster.nodes is empty and no trace node list or manifest Node gives one")
	}
	seen := map[string]bool{}
	for _, p := range parts {
		if seen[p.Name] {
			return nil, fmt.Errorf("node %q is defined twice (scenario node pools, trace nodes and manifest Nodes share one namespace)", p.Name)
		}
		seen[p.Name] = true
	}
	for _, part := range parts {
		if err := c.addNode(&part); err != nil {
			return nil, err
		}
		allNodes = append(allNodes, part.Name)
	}
	pickers := c.pickers
	if opts.Dataplane != nil && len(c.Proxies) > 0 {
		c.Proxies[0].SetDataplane(opts.Dataplane)
	}

	// The cluster autoscaler runs when the scenario has node groups.
	if len(cc.NodeGroups) > 0 {
		acfg := autoscaler.DefaultConfig()
		ca := &cc.ClusterAutoscaler
		setDur(&acfg.ScanInterval, ca.ScanInterval)
		setDur(&acfg.ScaleDownDelayAfterAdd, ca.ScaleDownDelayAfterAdd)
		setDur(&acfg.ScaleDownUnneededTime, ca.ScaleDownUnneededTime)
		setFloat(&acfg.ScaleDownUtilizationThreshold, ca.ScaleDownUtilizationThreshold)
		if ca.Expander != "" {
			acfg.Expander = ca.Expander
		}
		for _, g := range cc.NodeGroups {
			pool := groupPool(&g)
			kcfg := nodePart(sc, pool, g.Name, g.Zone, 0).Kubelet
			node := api.Node{Status: api.NodeStatus{Allocatable: kubeletAllocatable(kcfg)}}
			ng := autoscaler.NodeGroup{Name: g.Name, Min: g.Min, Max: g.Max, Allocatable: node.Status.Allocatable,
				Labels: map[string]string{}, HourlyCost: g.CostPerHour}
			for k, v := range kcfg.Labels {
				ng.Labels[k] = v
			}
			if g.ProvisionDelay != nil {
				ng.ProvisionDelay = g.ProvisionDelay.Spec
			}
			acfg.Groups = append(acfg.Groups, ng)
		}
		as, err := autoscaler.New(eng, srv.Client("cluster-autoscaler", 0, 0), (*provisioner)(c), acfg, reg, tel)
		if err != nil {
			return nil, fmt.Errorf("cluster autoscaler: %w", err)
		}
		c.Autoscaler = as
	}

	// metrics-server, an add-on, runs when an HPA needs pod metrics.
	if len(sc.Workload.HPAs) > 0 {
		ms, err := metricsserver.New(eng, srv.Client("metrics-server", 0, 0), metricsserver.DefaultConfig(), tel)
		if err != nil {
			return nil, fmt.Errorf("metrics-server: %w", err)
		}
		for i, rt := range c.Runtimes {
			st, ok := rt.(statsSource)
			if !ok {
				return nil, fmt.Errorf("metrics-server: %w", errUnsupported("container statistics (for the HPA)", rt))
			}
			ms.AddNode(allNodes[i], runtimeStats{st})
		}
		c.Metrics = ms
	}

	// Cluster DNS.
	if d := cc.DNS; d != nil {
		dcfg := dns.DefaultConfig()
		setDur(&dcfg.TTL, d.TTL)
		setDist(&dcfg.QueryLatency, d.QueryLatency)
		dcfg.TraceEach = opts.TraceEachRequest
		srvDNS, err := dns.New(eng, srv.Client("coredns", dcfg.QPS, dcfg.Burst), dcfg, reg, tel)
		if err != nil {
			return nil, fmt.Errorf("coredns: %w", err)
		}
		c.DNS = srvDNS
	}

	// Client traffic.
	for _, tr := range sc.Workload.Traffic {
		tcfg := traffic.DefaultConfig()
		tcfg.Name = tr.Name
		ns, name := scenario.SplitNamespaced(tr.Service)
		tcfg.Service = ns + "/" + name
		tcfg.Port = tr.Port
		tcfg.Rate = tr.Rate
		tcfg.Start = tr.Start.D()
		tcfg.Duration = tr.Duration.D()
		tcfg.ClientNodes = append([]string(nil), tr.From...)
		if len(tcfg.ClientNodes) == 0 {
			tcfg.ClientNodes = append([]string(nil), allNodes...)
		}
		setDist(&tcfg.NetworkLatency, tr.NetworkLatency)
		setDur(&tcfg.Timeout, tr.Timeout)
		tcfg.TraceEach = opts.TraceEachRequest
		tcfg.PerBackendMetrics = tr.PerBackendMetrics
		if tr.Host != "" {
			tcfg.UseDNS, tcfg.Host = true, tr.Host
		}
		g, err := traffic.New(eng, tcfg, pickers, c.Fabric, reg, tel)
		if err != nil {
			return nil, fmt.Errorf("traffic %s: %w", tr.Name, err)
		}
		if tcfg.UseDNS {
			g.SetResolver(c.DNS)
		}
		c.Traffic = append(c.Traffic, g)
	}

	if hasPDBs(sc, opts.Manifests) {
		if err := c.enablePDBs(reg, tel); err != nil {
			return nil, err
		}
	}

	// Start everything at t=0 (kubelets register at their StartAt).
	sch.Start()
	mgr.Start()
	if c.DNS != nil {
		c.DNS.Start()
	}
	if c.Metrics != nil {
		c.Metrics.Start()
	}
	if c.Autoscaler != nil {
		c.Autoscaler.Start()
	}
	for _, k := range c.Kubelets {
		k.Start()
	}
	for _, p := range c.Proxies {
		p.Start()
	}
	for _, g := range c.Traffic {
		g.Start()
	}
	if err := c.scheduleWorkload(); err != nil {
		return nil, err
	}
	c.scheduleActions()
	c.applyManifests(opts.Manifests)
	if tr := sc.Trace; tr != nil && opts.TracePods != nil {
		ro := workload.DefaultReplayOptions()
		ro.TimeScale = tr.TimeScale
		ro.Limit = tr.Limit
		ro.SchedulerName = tr.SchedulerName
		rp, err := workload.NewReplay(eng, srv.Client("trace-replay", 0, 0), opts.TracePods, ro, tel)
		if err != nil {
			return nil, fmt.Errorf("trace: %w", err)
		}
		rp.Start()
		c.Replay = rp
	}
	if err := c.startSynthetic(opts.Arrivals, opts.Sizes); err != nil {
		return nil, err
	}
	every := opts.SampleEvery
	if every <= 0 {
		// One sample a second, or 2,000 samples over a long run (whole seconds): the
		// time series stay readable and sampling O(nodes) stays cheap.
		every = max(time.Second, (sc.Duration.D() / 2000).Truncate(time.Second))
	}
	c.observer = newObserver(c, every)
	c.inv = newInvariants(c)
	if len(sc.Faults) > 0 {
		specs := make([]fault.Spec, len(sc.Faults))
		for i := range sc.Faults {
			specs[i] = FaultSpec(&sc.Faults[i])
		}
		if _, err := c.AddFaults(opts.Faults, specs); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// startSynthetic starts the scenario's synthetic generators, each creating its
// pods (or Jobs) through its own client.
func (c *Cluster) startSynthetic(arr *workload.ArrivalRegistry, sizes *workload.SizeRegistry) error {
	if arr == nil {
		arr = workload.NewArrivalRegistry()
	}
	if sizes == nil {
		sizes = workload.NewSizeRegistry()
	}
	for i := range c.sc.Workload.Synthetic {
		cfg := c.sc.Workload.Synthetic[i].Config()
		g, err := workload.NewSynthetic(c.Eng, c.API.Client("synthetic/"+cfg.Name, 0, 0), cfg, arr, sizes, c.Registry, c.tel)
		if err != nil {
			return fmt.Errorf("workload.synthetic[%d]: %w", i, err)
		}
		g.Start()
		c.Synthetic = append(c.Synthetic, g)
	}
	return nil
}

// FaultSpec converts a scenario fault into the fault model's spec.
func FaultSpec(f *scenario.Fault) fault.Spec {
	sp := fault.Spec{Name: f.Name, Kind: f.Kind, At: f.At.D(), Every: f.Every.D(), Count: f.Count, Params: f.Params,
		Target: fault.TargetSpec{Nodes: f.Target.Nodes, Labels: f.Target.Labels, Zone: f.Target.Zone, Pods: f.Target.Pods,
			Container: f.Target.Container, Image: f.Target.Image, RandomK: f.Target.RandomK}}
	if f.Duration != nil {
		sp.Duration = f.Duration.D()
	}
	if f.MTBF != nil {
		sp.MTBF = f.MTBF.Spec
	}
	if f.MTTR != nil {
		sp.MTTR = f.MTTR.Spec
	}
	return sp
}

// scheduleWorkload has the user submit each Deployment and Service at its time, as
// `kubectl apply` would: one create request to the apiserver each (step 2).
func (c *Cluster) scheduleWorkload() error {
	user := c.API.Client("kubectl", 0, 0).WithStep(2)
	for _, d := range c.sc.Workload.Deployments {
		obj, err := DeploymentObject(&d)
		if err != nil {
			return err
		}
		at := sim.Time(d.At.D())
		c.Eng.At(at, func() {
			c.tel.Trace(sim.Record{Time: c.Eng.Now(), Step: 2, Component: "kubectl", Action: "apply", Object: api.Ref(obj),
				Detail: fmt.Sprintf("POST the Deployment (%d replicas of %s) to the apiserver", obj.Spec.Replicas, obj.Spec.Template.Spec.Containers[0].Image)})
			user.Create(obj, func(_ api.Object, err error) {
				if err != nil {
					c.tel.Trace(sim.Record{Time: c.Eng.Now(), Step: 2, Component: "kubectl", Action: "error", Object: api.Ref(obj), Detail: err.Error()})
				}
			})
		})
	}
	for i := range c.sc.Workload.Storage {
		obj := StorageClassObject(&c.sc.Workload.Storage[i])
		c.submit(user, 0, obj, "POST the StorageClass")
	}
	for i := range c.sc.Workload.StatefulSets {
		st := &c.sc.Workload.StatefulSets[i]
		obj := StatefulSetObject(st)
		c.submit(user, sim.Time(st.At.D()), obj, fmt.Sprintf("POST the StatefulSet (%d replicas, %d volume claim templates)", obj.Spec.Replicas, len(obj.Spec.VolumeClaimTemplates)))
	}
	for i := range c.sc.Workload.HPAs {
		h := &c.sc.Workload.HPAs[i]
		obj := HPAObject(h)
		c.submit(user, sim.Time(h.At.D()), obj, fmt.Sprintf("POST the HorizontalPodAutoscaler (%d..%d replicas of deployment %s, target CPU %d%% of requests)",
			h.MinReplicas, h.MaxReplicas, h.Deployment, h.CPUUtilization))
	}
	for i := range c.sc.Workload.PDBs {
		b := &c.sc.Workload.PDBs[i]
		obj := PDBObject(b)
		what := "maxUnavailable " + b.MaxUnavailable
		if b.MinAvailable != "" {
			what = "minAvailable " + b.MinAvailable
		}
		c.submit(user, sim.Time(b.At.D()), obj, "POST the PodDisruptionBudget ("+what+")")
	}
	for _, s := range c.sc.Workload.Services {
		obj := ServiceObject(&s)
		c.Eng.At(sim.Time(s.At.D()), func() {
			c.tel.Trace(sim.Record{Time: c.Eng.Now(), Step: 2, Component: "kubectl", Action: "apply", Object: api.Ref(obj),
				Detail: fmt.Sprintf("POST the Service (port %d) to the apiserver", obj.Spec.Ports[0].Port)})
			user.Create(obj, func(_ api.Object, err error) {
				if err != nil {
					c.tel.Trace(sim.Record{Time: c.Eng.Now(), Step: 2, Component: "kubectl", Action: "error", Object: api.Ref(obj), Detail: err.Error()})
				}
			})
		})
	}
	return nil
}

// submit has the user POST obj at time at.
// Cluster setup by an administrator (storage classes) is step 0; workloads step 2.
func (c *Cluster) submit(user *apiserver.Client, at sim.Time, obj api.Object, what string) {
	step := 2
	if obj.Kind() == api.KindStorageClass {
		step, user = 0, user.WithStep(0)
	}
	c.Eng.At(at, func() {
		c.tel.Trace(sim.Record{Time: c.Eng.Now(), Step: step, Component: "kubectl", Action: "apply", Object: api.Ref(obj), Detail: what + " to the apiserver"})
		user.Create(obj, func(_ api.Object, err error) {
			if err != nil {
				c.tel.Trace(sim.Record{Time: c.Eng.Now(), Step: step, Component: "kubectl", Action: "error", Object: api.Ref(obj), Detail: err.Error()})
			}
		})
	})
}

// Run runs the cluster until virtual time until. It stops early, and returns the
// *Violation, when an invariant breaks.
func (c *Cluster) Run(until sim.Time) error {
	c.Eng.RunUntil(until)
	c.observer.sample()
	if v := c.Violation(); v != nil {
		return v
	}
	return nil
}

// Finish ends a run whose engine another loop drove (the wall-clock driver of
// real-run mode, sim/wall) as Run ends one: it takes the final sample of the
// gauges and returns the *Violation when an invariant broke.
func (c *Cluster) Finish() error {
	c.observer.sample()
	if v := c.Violation(); v != nil {
		return v
	}
	return nil
}

// Faults returns the faults injected so far, in injection order, with their repair
// and recovery times.
func (c *Cluster) Faults() []FaultRecord {
	out := make([]FaultRecord, len(c.observer.faults))
	for i, f := range c.observer.faults {
		out[i] = *f
	}
	return out
}

// Degraded returns the periods during which fewer controller-owned replicas were
// ready on healthy nodes than the workloads desire.
func (c *Cluster) Degraded() []Period { return append([]Period(nil), c.observer.periods...) }

// Scenario returns the scenario the cluster was built from.
func (c *Cluster) Scenario() *scenario.Scenario { return c.sc }

// Objects returns the current objects of a kind from the store, sorted by key.
func (c *Cluster) Objects(kind api.Kind) []api.Object {
	kvs, _ := c.Store.Range(api.KindPrefix(kind))
	out := make([]api.Object, len(kvs))
	for i, kv := range kvs {
		out[i] = kv.Value.(api.Object)
	}
	return out
}

// Nodes, Pods and Deployments return the stored objects, sorted by key.
func (c *Cluster) Nodes() []*api.Node { return typed[*api.Node](c.Objects(api.KindNode)) }
func (c *Cluster) Pods() []*api.Pod   { return typed[*api.Pod](c.Objects(api.KindPod)) }
func (c *Cluster) Deployments() []*api.Deployment {
	return typed[*api.Deployment](c.Objects(api.KindDeployment))
}

func typed[T api.Object](objs []api.Object) []T {
	out := make([]T, len(objs))
	for i, o := range objs {
		out[i] = o.(T)
	}
	sort.SliceStable(out, func(i, j int) bool { return api.Ref(out[i]) < api.Ref(out[j]) })
	return out
}

func setDist(dst *dist.Spec, d *scenario.Dist) {
	if d != nil {
		*dst = d.Spec
	}
}

func setDur(dst *time.Duration, d *scenario.Duration) {
	if d != nil {
		*dst = d.D()
	}
}

func setInt(dst *int, v *int) {
	if v != nil {
		*dst = *v
	}
}

func setInt64(dst *int64, v *int64) {
	if v != nil {
		*dst = *v
	}
}

func setFloat(dst *float64, v *float64) {
	if v != nil {
		*dst = *v
	}
}

// mergeImages returns the default catalogue with the scenario's entries replacing
// those of the same name and the others appended, in order.
func mergeImages(defaults, own []runtime.ImageSpec) []runtime.ImageSpec {
	out := make([]runtime.ImageSpec, 0, len(defaults)+len(own))
	mine := map[string]bool{}
	for _, im := range own {
		mine[im.Name] = true
	}
	for _, im := range defaults {
		if !mine[im.Name] {
			out = append(out, im)
		}
	}
	return append(out, own...)
}

// neverReady marks a bad-version image on a runtime that supports it.
func neverReady(rt any, image string) {
	if nr, ok := rt.(interface{ SetNeverReady(string, bool) }); ok {
		nr.SetNeverReady(image, true)
	}
}

// runtimeStats serves a node's container statistics to metrics-server, as the
// kubelet's /metrics/resource endpoint does from cAdvisor.
type runtimeStats struct{ rt statsSource }

func (s runtimeStats) ContainerStats() []metricsserver.ContainerStats {
	st := s.rt.Stats()
	out := make([]metricsserver.ContainerStats, len(st))
	for i := range st {
		out[i] = metricsserver.ContainerStats(st[i])
	}
	return out
}

// groupPool describes one node of a cluster-autoscaler group as a node pool.
func groupPool(g *scenario.NodeGroup) *scenario.NodePool {
	return &scenario.NodePool{Name: g.Name, CPU: g.CPU, Memory: g.Memory, Pods: g.Pods, Zone: g.Zone, Labels: g.Labels}
}

// kubeletAllocatable is what a kubelet of this configuration will report.
func kubeletAllocatable(k kubelet.Config) api.Resources { return k.Allocatable() }

// provisioner is the cloud behind the cluster autoscaler: it adds nodes of a group
// (a kubelet, runtime and kube-proxy that register at once) and removes them.
type provisioner Cluster

// AddNode implements autoscaler.NodeProvisioner.
func (p *provisioner) AddNode(group string) string {
	c := (*Cluster)(p)
	var g *scenario.NodeGroup
	for i := range c.sc.Cluster.NodeGroups {
		if c.sc.Cluster.NodeGroups[i].Name == group {
			g = &c.sc.Cluster.NodeGroups[i]
		}
	}
	if g == nil {
		return ""
	}
	c.groupSeq++
	name := fmt.Sprintf("%s-%d", group, c.groupSeq)
	part := nodePart(c.sc, groupPool(g), name, g.Zone, len(c.Kubelets))
	part.Kubelet.StartAt = 0
	if err := c.addNode(&part); err != nil {
		c.tel.Trace(sim.Record{Time: c.Eng.Now(), Component: "cloud", Action: "error", Object: "node/" + name, Detail: err.Error()})
		return ""
	}
	i := len(c.Kubelets) - 1
	c.Kubelets[i].Start()
	c.Proxies[i].Start()
	if c.Metrics != nil {
		if st, ok := c.Runtimes[i].(statsSource); ok {
			c.Metrics.AddNode(name, runtimeStats{st})
		}
	}
	return name
}

// RemoveNode implements autoscaler.NodeProvisioner: the instance is deleted (its
// kubelet and containers stop) and the Node object is removed, as the cloud
// provider's node lifecycle does.
func (p *provisioner) RemoveNode(name string) {
	c := (*Cluster)(p)
	for i, k := range c.Kubelets {
		if k.NodeName() == name {
			k.Stop()
			c.Runtimes[i].PowerOff()
			c.API.SetPartitioned("kube-proxy/"+name, true)
		}
	}
	if c.Metrics != nil {
		c.Metrics.RemoveNode(name)
	}
	c.API.Client("cloud-controller-manager", 0, 0).Delete(api.KindNode, "", name, apiserver.DeleteOptions{}, nil)
}

// traceNodeParts turns a trace's node list into the cluster's nodes, each a node
// pool of one with the trace's capacity and labels (GPUs and their model).
func traceNodeParts(sc *scenario.Scenario, nodes []workload.NodeSpec) []NodePart {
	out := make([]NodePart, 0, len(nodes))
	for i := range nodes {
		n := &nodes[i]
		pool := &scenario.NodePool{Name: n.Name, Labels: n.Labels,
			CPU:    scenario.Quantity{Q: *resource.NewMilliQuantity(n.Capacity.MilliCPU, resource.DecimalSI), Set: true},
			Memory: scenario.Quantity{Q: *resource.NewQuantity(n.Capacity.Memory, resource.BinarySI), Set: true},
			GPUs:   int(n.Capacity.Scalar[api.ResourceGPU]), GPUModel: n.Labels[api.LabelGPUModel]}
		out = append(out, nodePart(sc, pool, n.Name, n.Labels[api.LabelZone], i))
	}
	return out
}
