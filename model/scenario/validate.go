package scenario

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/dist"
)

// DefaultDuration is the run length when a scenario gives none.
const DefaultDuration = 60 * time.Second

var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

func (s *Scenario) validate() error {
	reg := dist.NewRegistry()
	checkDist := func(path string, d *Dist) error {
		if d == nil {
			return nil
		}
		if err := reg.Validate(d.Spec); err != nil {
			return s.errAt(path, "%v", err)
		}
		return nil
	}
	nonNeg := func(path string, d *Duration) error {
		if d != nil && *d < 0 {
			return s.errAt(path, "must not be negative, got %v", d.D())
		}
		return nil
	}
	positiveInt := func(path string, v *int) error {
		if v != nil && *v < 1 {
			return s.errAt(path, "must be at least 1, got %d", *v)
		}
		return nil
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	if s.Name == "" {
		s.Name = strings.TrimSuffix(strings.TrimSuffix(baseName(s.file), ".yaml"), ".yml")
	}
	if s.Duration < 0 {
		add(s.errAt("duration", "must be positive, got %v", s.Duration.D()))
	}
	if s.Duration == 0 {
		s.Duration = Duration(DefaultDuration)
	}

	// Control plane.
	c := &s.Cluster
	if m := c.Etcd.Members; m != nil && *m != 1 && *m != 3 && *m != 5 {
		add(s.errAt("cluster.etcd.members", "must be 1, 3 or 5, got %d", *m))
	}
	add(checkDist("cluster.etcd.fsync", c.Etcd.Fsync))
	add(checkDist("cluster.etcd.rtt", c.Etcd.RTT))
	add(checkDist("cluster.apiserver.requestLatency", c.APIServer.RequestLatency))
	add(checkDist("cluster.apiserver.watchLatency", c.APIServer.WatchLatency))
	add(positiveInt("cluster.apiserver.maxRequestsInflight", c.APIServer.MaxRequestsInflight))
	add(positiveInt("cluster.apiserver.maxMutatingRequestsInflight", c.APIServer.MaxMutatingRequestsInflight))
	add(nonNeg("cluster.apiserver.compactionInterval", c.APIServer.CompactionInterval))
	if v := c.APIServer.DefaultTolerationSeconds; v != nil && *v < 0 {
		add(s.errAt("cluster.apiserver.defaultTolerationSeconds", "must not be negative, got %d", *v))
	}
	add(nonNeg("cluster.kubelet.crashLoopBackOffInitial", c.Kubelet.CrashLoopBackOffInitial))
	add(nonNeg("cluster.kubelet.crashLoopBackOffMax", c.Kubelet.CrashLoopBackOffMax))
	if p := c.Scheduler.PercentageOfNodesToScore; p != nil && (*p < 0 || *p > 100) {
		add(s.errAt("cluster.scheduler.percentageOfNodesToScore", "must be in 0..100, got %d", *p))
	}
	add(nonNeg("cluster.scheduler.podInitialBackoff", c.Scheduler.PodInitialBackoff))
	add(nonNeg("cluster.scheduler.podMaxBackoff", c.Scheduler.PodMaxBackoff))
	add(nonNeg("cluster.scheduler.perNodeLatency", c.Scheduler.PerNodeLatency))
	add(checkDist("cluster.scheduler.cycleLatency", c.Scheduler.CycleLatency))
	add(checkDist("cluster.controllerManager.syncLatency", c.ControllerManager.SyncLatency))
	if m := c.ControllerManager.MaxEndpointsPerSlice; m != nil && (*m < 1 || *m > 1000) {
		add(s.errAt("cluster.controllerManager.maxEndpointsPerSlice", "must be in 1..1000, got %d", *m))
	}
	for _, q := range []struct {
		path string
		v    *float64
	}{{"cluster.scheduler.qps", c.Scheduler.QPS}, {"cluster.controllerManager.qps", c.ControllerManager.QPS}, {"cluster.kubelet.qps", c.Kubelet.QPS}} {
		if q.v != nil && *q.v < 0 {
			add(s.errAt(q.path, "must not be negative, got %g", *q.v))
		}
	}
	if m := c.Kubelet.MaxPods; m != nil && *m < 1 {
		add(s.errAt("cluster.kubelet.maxPods", "must be at least 1, got %d", *m))
	}
	if l := c.Kubelet.NodeLeaseDurationSeconds; l != nil && *l < 1 {
		add(s.errAt("cluster.kubelet.nodeLeaseDurationSeconds", "must be at least 1, got %d", *l))
	}
	add(nonNeg("cluster.kubelet.nodeStatusUpdateFrequency", c.Kubelet.NodeStatusUpdateFrequency))
	add(nonNeg("cluster.kubelet.nodeStatusReportFrequency", c.Kubelet.NodeStatusReportFrequency))
	add(checkDist("cluster.kubelet.syncLatency", c.Kubelet.SyncLatency))
	if b := c.Runtime.PullBandwidth; b != nil && b.Value() <= 0 {
		add(s.errAt("cluster.runtime.pullBandwidth", "must be positive bytes per second, got %s", b.Text))
	}
	add(checkDist("cluster.runtime.pullOverhead", c.Runtime.PullOverhead))
	add(checkDist("cluster.runtime.create", c.Runtime.Create))
	add(checkDist("cluster.runtime.start", c.Runtime.Start))
	add(checkDist("cluster.runtime.stop", c.Runtime.Stop))
	if p := c.Runtime.Parallelism; p != nil && *p != 0 && !(*p >= 1 && *p <= 1e6) {
		add(s.errAt("cluster.runtime.parallelism", "%g: want 0 (every create and start at full speed) or 1 to 1e6 operations' worth of speed shared", *p))
	}
	if m := c.Proxy.Mode; m != nil && *m != "iptables" && *m != "ipvs" && *m != "nftables" {
		add(s.errAt("cluster.proxy.mode", "unknown mode %q (known: iptables, ipvs, nftables)", *m))
	}
	if sch := c.Proxy.Scheduler; sch != nil {
		switch *sch {
		case "rr", "lc", "sh":
			if *sch != "rr" && (c.Proxy.Mode == nil || *c.Proxy.Mode != "ipvs") {
				add(s.errAt("cluster.proxy.scheduler", "scheduler %q needs mode ipvs", *sch))
			}
		default:
			add(s.errAt("cluster.proxy.scheduler", "unknown IPVS scheduler %q (rr, lc, sh)", *sch))
		}
	}
	add(checkDist("cluster.proxy.syncLatency", c.Proxy.SyncLatency))
	add(nonNeg("cluster.proxy.minSyncPeriod", c.Proxy.MinSyncPeriod))
	add(nonNeg("cluster.proxy.syncPeriod", c.Proxy.SyncPeriod))

	// Nodes.
	if tr := s.Trace; tr != nil {
		if tr.Format != "alibaba-gpu-v2023" {
			add(s.errAt("trace.format", "unknown trace format %q (known: alibaba-gpu-v2023)", tr.Format))
		}
		if tr.Pods == "" {
			add(s.errAt("trace.pods", "required: the pod list file"))
		}
		if tr.TimeScale == 0 {
			tr.TimeScale = 1
		}
		if tr.TimeScale < 0 {
			add(s.errAt("trace.timeScale", "must be positive, got %g", tr.TimeScale))
		}
		if tr.Limit < 0 {
			add(s.errAt("trace.limit", "must not be negative"))
		}
	}
	if len(c.Nodes) == 0 && (s.Trace == nil || s.Trace.Nodes == "") && len(s.Manifests) == 0 {
		add(s.errAt("cluster.nodes", "at least one node pool is required (or a trace with a node list, or manifests with Nodes)"))
	}
	for i, m := range s.Manifests {
		path := fmt.Sprintf("manifests[%d]", i)
		if m.Path == "" {
			add(s.errAt(path+".path", "required: a manifest file or directory"))
		}
		add(nonNeg(path+".at", &m.At))
	}
	nodeSet := map[string]bool{}
	for i := range c.Nodes {
		p := &c.Nodes[i]
		path := fmt.Sprintf("cluster.nodes[%d]", i)
		if !dns1123.MatchString(p.Name) {
			add(s.errAt(path+".name", "%q is not a valid node name (lower-case letters, digits, '-' and '.')", p.Name))
		}
		if p.Count != nil && (*p.Count < 1 || *p.Count > 100000) {
			add(s.errAt(path+".count", "must be in 1..100000, got %d", *p.Count))
			continue
		}
		if !p.CPU.Set || p.CPU.Milli() <= 0 {
			add(s.errAt(path+".cpu", "a positive CPU capacity is required (for example 4 or 3500m)"))
		}
		if !p.Memory.Set || p.Memory.Value() <= 0 {
			add(s.errAt(path+".memory", "a positive memory capacity is required (for example 8Gi)"))
		}
		if p.EphemeralStorage.Negative() {
			add(s.errAt(path+".ephemeralStorage", "must not be negative"))
		}
		if p.Pods != nil && *p.Pods < 1 {
			add(s.errAt(path+".pods", "must be at least 1, got %d", *p.Pods))
		}
		for j, t := range p.Taints {
			tp := fmt.Sprintf("%s.taints[%d]", path, j)
			if t.Key == "" {
				add(s.errAt(tp+".key", "required"))
			}
			if err := checkEffect(t.Effect, false); err != nil {
				add(s.errAt(tp+".effect", "%v", err))
			}
		}
		add(nonNeg(path+".startAt", &p.StartAt))
		if p.GPUs < 0 || p.GPUs > 64 {
			add(s.errAt(path+".gpus", "must be in 0..64, got %d", p.GPUs))
		}
		for _, n := range p.NodeNames() {
			if nodeSet[n] {
				add(s.errAt(path+".name", "node %q is defined twice", n))
			}
			nodeSet[n] = true
		}
	}

	// Images.
	images := map[string]bool{}
	for i := range s.Images {
		im := &s.Images[i]
		path := fmt.Sprintf("images[%d]", i)
		if im.Name == "" {
			add(s.errAt(path+".name", "required"))
		}
		if images[im.Name] {
			add(s.errAt(path+".name", "image %q is listed twice", im.Name))
		}
		images[im.Name] = true
		if !im.Size.Set || im.Size.Value() <= 0 {
			add(s.errAt(path+".size", "a positive size is required (for example 72Mi)"))
		}
		if cr := im.Crash; cr != nil {
			if cr.After == nil {
				add(s.errAt(path+".crash.after", "required: when the process exits after it starts"))
			}
			add(checkDist(path+".crash.after", cr.After))
		}
		if sv := im.Serve; sv != nil {
			if sv.Port < 1 || sv.Port > 65535 {
				add(s.errAt(path+".serve.port", "must be in 1..65535, got %d", sv.Port))
			}
			if sv.Workers < 1 {
				add(s.errAt(path+".serve.workers", "must be at least 1, got %d", sv.Workers))
			}
			if sv.QueueLimit < 0 {
				add(s.errAt(path+".serve.queueLimit", "must not be negative, got %d", sv.QueueLimit))
			}
			add(checkDist(path+".serve.serviceTime", sv.ServiceTime))
			add(checkDist(path+".serve.readyAfter", sv.ReadyAfter))
		}
	}

	// Workload.
	type nsName struct{ ns, name string }
	deploys := map[nsName]bool{}
	for i := range s.Workload.Deployments {
		d := &s.Workload.Deployments[i]
		path := fmt.Sprintf("workload.deployments[%d]", i)
		if !dns1123.MatchString(d.Name) {
			add(s.errAt(path+".name", "%q is not a valid name (lower-case letters, digits, '-' and '.')", d.Name))
		}
		if d.Namespace == "" {
			d.Namespace = api.NamespaceDefault
		}
		if deploys[nsName{d.Namespace, d.Name}] {
			add(s.errAt(path+".name", "deployment %s/%s is defined twice", d.Namespace, d.Name))
		}
		deploys[nsName{d.Namespace, d.Name}] = true
		add(nonNeg(path+".at", &d.At))
		if d.Replicas == nil {
			one := int32(1)
			d.Replicas = &one // the apps/v1 default
		} else if *d.Replicas < 0 {
			add(s.errAt(path+".replicas", "must be greater than or equal to 0, got %d", *d.Replicas))
		}
		if len(d.Labels) == 0 {
			add(s.errAt(path+".labels", "at least one label is required (it is the Deployment's selector)"))
		}
		switch d.Strategy {
		case "", string(api.RollingUpdateStrategy), string(api.RecreateStrategy):
		default:
			add(s.errAt(path+".strategy", "unknown strategy %q (RollingUpdate, Recreate)", d.Strategy))
		}
		if _, err := ParseIntOrPercent(d.MaxSurge); err != nil {
			add(s.errAt(path+".maxSurge", "%v", err))
		}
		if _, err := ParseIntOrPercent(d.MaxUnavailable); err != nil {
			add(s.errAt(path+".maxUnavailable", "%v", err))
		}
		if d.MinReadySeconds < 0 {
			add(s.errAt(path+".minReadySeconds", "must not be negative"))
		}
		for j, t := range d.Tolerations {
			tp := fmt.Sprintf("%s.tolerations[%d]", path, j)
			if err := checkEffect(t.Effect, true); err != nil {
				add(s.errAt(tp+".effect", "%v", err))
			}
			if t.Operator != "" && t.Operator != "Equal" && t.Operator != "Exists" {
				add(s.errAt(tp+".operator", "unknown operator %q (Equal, Exists)", t.Operator))
			}
		}
		if len(d.Containers) == 0 {
			add(s.errAt(path+".containers", "at least one container is required"))
		}
		names := map[string]bool{}
		for j := range d.Containers {
			ct := &d.Containers[j]
			cp := fmt.Sprintf("%s.containers[%d]", path, j)
			if ct.Name == "" {
				add(s.errAt(cp+".name", "required"))
			}
			if names[ct.Name] {
				add(s.errAt(cp+".name", "container %q is defined twice", ct.Name))
			}
			names[ct.Name] = true
			if ct.Image == "" {
				add(s.errAt(cp+".image", "required"))
			}
			switch ct.ImagePullPolicy {
			case "", "Always", "IfNotPresent", "Never":
			default:
				add(s.errAt(cp+".imagePullPolicy", "unknown policy %q (Always, IfNotPresent, Never)", ct.ImagePullPolicy))
			}
			for _, r := range []struct {
				name string
				q    Quantity
			}{{"requests.cpu", ct.Requests.CPU}, {"requests.memory", ct.Requests.Memory}, {"requests.ephemeral-storage", ct.Requests.EphemeralStorage},
				{"limits.cpu", ct.Limits.CPU}, {"limits.memory", ct.Limits.Memory}, {"limits.ephemeral-storage", ct.Limits.EphemeralStorage}} {
				if r.q.Negative() {
					add(s.errAt(cp+"."+r.name, "must not be negative, got %s", r.q.Text))
				}
			}
			if ct.Limits.CPU.Set && ct.Requests.CPU.Set && ct.Requests.CPU.Q.Cmp(ct.Limits.CPU.Q) > 0 {
				add(s.errAt(cp+".requests.cpu", "must be less than or equal to the cpu limit"))
			}
			if ct.Limits.Memory.Set && ct.Requests.Memory.Set && ct.Requests.Memory.Q.Cmp(ct.Limits.Memory.Q) > 0 {
				add(s.errAt(cp+".requests.memory", "must be less than or equal to the memory limit"))
			}
			for k, p := range ct.Ports {
				pp := fmt.Sprintf("%s.ports[%d]", cp, k)
				if p.ContainerPort < 1 || p.ContainerPort > 65535 {
					add(s.errAt(pp+".containerPort", "must be in 1..65535, got %d", p.ContainerPort))
				}
				if p.HostPort < 0 || p.HostPort > 65535 {
					add(s.errAt(pp+".hostPort", "must be in 0..65535, got %d", p.HostPort))
				}
			}
			if pr := ct.ReadinessProbe; pr != nil {
				for _, f := range []struct {
					name string
					v    int32
					min  int32
				}{{"initialDelaySeconds", pr.InitialDelaySeconds, 0}, {"periodSeconds", pr.PeriodSeconds, 0},
					{"timeoutSeconds", pr.TimeoutSeconds, 0}, {"successThreshold", pr.SuccessThreshold, 0}, {"failureThreshold", pr.FailureThreshold, 0}} {
					if f.v < f.min {
						add(s.errAt(cp+".readinessProbe."+f.name, "must not be negative, got %d", f.v))
					}
				}
			}
		}
	}
	services := map[nsName]*Service{}
	for i := range s.Workload.Services {
		sv := &s.Workload.Services[i]
		path := fmt.Sprintf("workload.services[%d]", i)
		if !dns1123.MatchString(sv.Name) {
			add(s.errAt(path+".name", "%q is not a valid name", sv.Name))
		}
		if sv.Namespace == "" {
			sv.Namespace = api.NamespaceDefault
		}
		if services[nsName{sv.Namespace, sv.Name}] != nil {
			add(s.errAt(path+".name", "service %s/%s is defined twice", sv.Namespace, sv.Name))
		}
		services[nsName{sv.Namespace, sv.Name}] = sv
		add(nonNeg(path+".at", &sv.At))
		if len(sv.Ports) == 0 {
			add(s.errAt(path+".ports", "at least one port is required"))
		}
		for j, p := range sv.Ports {
			if p.Port < 1 || p.Port > 65535 {
				add(s.errAt(fmt.Sprintf("%s.ports[%d].port", path, j), "must be in 1..65535, got %d", p.Port))
			}
			if p.TargetPort < 0 || p.TargetPort > 65535 {
				add(s.errAt(fmt.Sprintf("%s.ports[%d].targetPort", path, j), "must be in 1..65535, got %d", p.TargetPort))
			}
		}
		switch sv.SessionAffinity {
		case "", "None", "ClientIP":
		default:
			add(s.errAt(path+".sessionAffinity", "unknown value %q (None, ClientIP)", sv.SessionAffinity))
		}
	}
	for i := range s.Workload.Traffic {
		tr := &s.Workload.Traffic[i]
		path := fmt.Sprintf("workload.traffic[%d]", i)
		if tr.Name == "" {
			tr.Name = fmt.Sprintf("clients-%d", i+1)
		}
		ns, name := SplitNamespaced(tr.Service)
		sv := services[nsName{ns, name}]
		if sv == nil {
			add(s.errAt(path+".service", "no service %s/%s in workload.services", ns, name))
		} else if tr.Port == 0 {
			tr.Port = sv.Ports[0].Port
		} else {
			found := false
			for _, p := range sv.Ports {
				found = found || p.Port == tr.Port
			}
			if !found {
				add(s.errAt(path+".port", "service %s/%s has no port %d", ns, name, tr.Port))
			}
		}
		if tr.Rate <= 0 {
			add(s.errAt(path+".rate", "must be a positive number of requests per second, got %g", tr.Rate))
		}
		add(nonNeg(path+".start", &tr.Start))
		if tr.Duration <= 0 {
			add(s.errAt(path+".duration", "must be positive, got %v", tr.Duration.D()))
		}
		for j, n := range tr.From {
			if !nodeSet[n] {
				add(s.errAt(fmt.Sprintf("%s.from[%d]", path, j), "no node %q in cluster.nodes", n))
			}
		}
		add(checkDist(path+".networkLatency", tr.NetworkLatency))
		if tr.Host != "" && s.Cluster.DNS == nil {
			add(s.errAt(path+".host", "clients resolve a host through cluster DNS: add cluster.dns (for example dns: {})"))
		}
		if tr.Timeout != nil && *tr.Timeout <= 0 {
			add(s.errAt(path+".timeout", "must be positive, got %v", tr.Timeout.D()))
		}
	}
	s.validateCapabilities(add, checkDist, nonNeg, nodeSet)
	s.validateSynthetic(add)
	if len(errs) > 0 {
		return errs[0] // the first problem, in file order of the checks
	}
	return nil
}

// Known fault kinds and action kinds. The fault kinds are the fault registry's
// built-in names (a test checks that they match); kinds users register in Go are
// used by building the scenario in Go and calling cluster.Build with their registry.
var (
	FaultKinds  = []string{"apiserver-outage", "bad-version", "container-crash", "etcd-leader-loss", "etcd-member-loss", "image-pull-failure", "kubelet-stop", "node-crash", "node-partition", "oom-kill", "slow-etcd-disk", "zone-outage"}
	ActionKinds = []string{"delete-pod", "rollback", "scale", "set-image"}
)

func (s *Scenario) validateCapabilities(add func(error), checkDist func(string, *Dist) error, nonNeg func(string, *Duration) error, nodeSet map[string]bool) {
	c := &s.Cluster
	nl := &c.NodeLifecycle
	add(nonNeg("cluster.nodeLifecycle.monitorPeriod", nl.MonitorPeriod))
	add(nonNeg("cluster.nodeLifecycle.gracePeriod", nl.GracePeriod))
	add(nonNeg("cluster.nodeLifecycle.startupGracePeriod", nl.StartupGracePeriod))
	for _, r := range []struct {
		path string
		v    *float64
		max  float64
	}{{"cluster.nodeLifecycle.evictionRate", nl.EvictionRate, 1e9}, {"cluster.nodeLifecycle.secondaryEvictionRate", nl.SecondaryEvictionRate, 1e9},
		{"cluster.nodeLifecycle.unhealthyZoneThreshold", nl.UnhealthyZoneThreshold, 1}} {
		if r.v != nil && (*r.v < 0 || *r.v > r.max) {
			add(s.errAt(r.path, "must be in 0..%g, got %g", r.max, *r.v))
		}
	}
	groups := map[string]bool{}
	for i := range c.NodeGroups {
		g := &c.NodeGroups[i]
		path := fmt.Sprintf("cluster.nodeGroups[%d]", i)
		if !dns1123.MatchString(g.Name) {
			add(s.errAt(path+".name", "%q is not a valid name", g.Name))
		}
		if groups[g.Name] {
			add(s.errAt(path+".name", "node group %q is defined twice", g.Name))
		}
		groups[g.Name] = true
		if g.Min < 0 || g.Max < g.Min || g.Max > 10000 {
			add(s.errAt(path+".max", "need 0 <= min <= max <= 10000, got min %d max %d", g.Min, g.Max))
		}
		if !g.CPU.Set || g.CPU.Milli() <= 0 {
			add(s.errAt(path+".cpu", "a positive CPU capacity is required"))
		}
		if !g.Memory.Set || g.Memory.Value() <= 0 {
			add(s.errAt(path+".memory", "a positive memory capacity is required"))
		}
		if g.CostPerHour < 0 {
			add(s.errAt(path+".costPerHour", "must not be negative"))
		}
		add(checkDist(path+".provisionDelay", g.ProvisionDelay))
	}
	ca := &c.ClusterAutoscaler
	add(nonNeg("cluster.clusterAutoscaler.scanInterval", ca.ScanInterval))
	add(nonNeg("cluster.clusterAutoscaler.scaleDownDelayAfterAdd", ca.ScaleDownDelayAfterAdd))
	add(nonNeg("cluster.clusterAutoscaler.scaleDownUnneededTime", ca.ScaleDownUnneededTime))
	if t := ca.ScaleDownUtilizationThreshold; t != nil && (*t < 0 || *t > 1) {
		add(s.errAt("cluster.clusterAutoscaler.scaleDownUtilizationThreshold", "must be in 0..1, got %g", *t))
	}
	switch ca.Expander {
	case "", "random", "least-waste", "most-pods", "price":
	default:
		add(s.errAt("cluster.clusterAutoscaler.expander", "unknown expander %q (random, least-waste, most-pods, price)", ca.Expander))
	}
	if d := c.DNS; d != nil {
		add(nonNeg("cluster.dns.ttl", d.TTL))
		add(checkDist("cluster.dns.queryLatency", d.QueryLatency))
	}

	classes := map[string]bool{}
	for i := range s.Workload.Storage {
		sc := &s.Workload.Storage[i]
		path := fmt.Sprintf("workload.storageClasses[%d]", i)
		if !dns1123.MatchString(sc.Name) {
			add(s.errAt(path+".name", "%q is not a valid name", sc.Name))
		}
		classes[sc.Name] = true
		switch sc.BindingMode {
		case "", "Immediate", "WaitForFirstConsumer":
		default:
			add(s.errAt(path+".bindingMode", "unknown binding mode %q (Immediate, WaitForFirstConsumer)", sc.BindingMode))
		}
		add(checkDist(path+".provisionLatency", sc.ProvisionLatency))
		add(checkDist(path+".attachLatency", sc.AttachLatency))
		add(checkDist(path+".mountLatency", sc.MountLatency))
	}
	for i := range s.Workload.StatefulSets {
		st := &s.Workload.StatefulSets[i]
		path := fmt.Sprintf("workload.statefulSets[%d]", i)
		if !dns1123.MatchString(st.Name) {
			add(s.errAt(path+".name", "%q is not a valid name", st.Name))
		}
		if st.Namespace == "" {
			st.Namespace = api.NamespaceDefault
		}
		if st.Replicas == nil {
			one := int32(1)
			st.Replicas = &one
		} else if *st.Replicas < 0 {
			add(s.errAt(path+".replicas", "must be greater than or equal to 0, got %d", *st.Replicas))
		}
		if len(st.Labels) == 0 {
			add(s.errAt(path+".labels", "at least one label is required (it is the StatefulSet's selector)"))
		}
		if len(st.Containers) == 0 {
			add(s.errAt(path+".containers", "at least one container is required"))
		}
		switch st.PodManagementPolicy {
		case "", "OrderedReady", "Parallel":
		default:
			add(s.errAt(path+".podManagementPolicy", "unknown policy %q (OrderedReady, Parallel)", st.PodManagementPolicy))
		}
		for j, vt := range st.VolumeClaimTemplates {
			vp := fmt.Sprintf("%s.volumeClaimTemplates[%d]", path, j)
			if vt.Name == "" {
				add(s.errAt(vp+".name", "required"))
			}
			if !vt.Size.Set || vt.Size.Value() <= 0 {
				add(s.errAt(vp+".size", "a positive size is required (for example 1Gi)"))
			}
			if vt.StorageClass != "" && !classes[vt.StorageClass] {
				add(s.errAt(vp+".storageClass", "no storage class %q in workload.storageClasses", vt.StorageClass))
			}
			switch vt.AccessMode {
			case "", "ReadWriteOnce", "ReadWriteOncePod", "ReadOnlyMany", "ReadWriteMany":
			default:
				add(s.errAt(vp+".accessMode", "unknown access mode %q", vt.AccessMode))
			}
		}
	}
	deploys := map[string]bool{}
	for _, d := range s.Workload.Deployments {
		deploys[d.Namespace+"/"+d.Name] = true
	}
	for i := range s.Workload.HPAs {
		h := &s.Workload.HPAs[i]
		path := fmt.Sprintf("workload.horizontalPodAutoscalers[%d]", i)
		if h.Namespace == "" {
			h.Namespace = api.NamespaceDefault
		}
		if h.Name == "" {
			h.Name = h.Deployment
		}
		if !deploys[h.Namespace+"/"+h.Deployment] {
			add(s.errAt(path+".deployment", "no deployment %s/%s in workload.deployments", h.Namespace, h.Deployment))
		}
		if h.MinReplicas == 0 {
			h.MinReplicas = 1
		}
		if h.MinReplicas < 1 || h.MaxReplicas < h.MinReplicas {
			add(s.errAt(path+".maxReplicas", "need 1 <= minReplicas <= maxReplicas, got %d and %d", h.MinReplicas, h.MaxReplicas))
		}
		if h.CPUUtilization == 0 {
			h.CPUUtilization = 80 // autoscaling/v2 default target when no metric is given
		}
		if h.CPUUtilization < 1 {
			add(s.errAt(path+".cpuUtilization", "must be a positive percentage, got %d", h.CPUUtilization))
		}
		if b := h.Behavior; b != nil {
			for _, r := range []*HPARules{b.ScaleUp, b.ScaleDown} {
				if r == nil {
					continue
				}
				for _, p := range r.Policies {
					if (p.Type != "Pods" && p.Type != "Percent") || p.Value <= 0 || p.PeriodSeconds <= 0 || p.PeriodSeconds > 1800 {
						add(s.errAt(path+".behavior", "a policy needs type Pods or Percent, a positive value and periodSeconds in 1..1800"))
					}
				}
			}
		}
	}
	pdbNames := map[string]bool{}
	for i := range s.Workload.PDBs {
		b := &s.Workload.PDBs[i]
		path := fmt.Sprintf("workload.podDisruptionBudgets[%d]", i)
		if b.Namespace == "" {
			b.Namespace = api.NamespaceDefault
		}
		if b.Name == "" {
			add(s.errAt(path+".name", "required"))
		} else if pdbNames[b.Namespace+"/"+b.Name] {
			add(s.errAt(path+".name", "PodDisruptionBudget %s/%s is defined twice", b.Namespace, b.Name))
		}
		pdbNames[b.Namespace+"/"+b.Name] = true
		add(nonNeg(path+".at", &b.At))
		switch {
		case b.MinAvailable != "" && b.MaxUnavailable != "":
			add(s.errAt(path+".maxUnavailable", "minAvailable and maxUnavailable cannot be both set"))
		case b.MinAvailable == "" && b.MaxUnavailable == "":
			add(s.errAt(path, "one of minAvailable and maxUnavailable is required (a count such as 2 or a percentage such as 50%%)"))
		}
		for _, f := range [...]struct{ field, v string }{{"minAvailable", b.MinAvailable}, {"maxUnavailable", b.MaxUnavailable}} {
			if f.v == "" {
				continue
			}
			v, err := ParseIntOrPercent(f.v)
			switch {
			case err != nil:
				add(s.errAt(path+"."+f.field, "%v", err))
			case v.IsPercent && v.Value > 100:
				add(s.errAt(path+"."+f.field, "must not be greater than 100%%, got %s", f.v))
			}
		}
		if b.Selector == nil {
			add(s.errAt(path+".selector", "required: the labels of the pods the budget protects ({} selects every pod of the namespace)"))
		}
	}
	names := map[string]bool{}
	for i := range s.Faults {
		f := &s.Faults[i]
		path := fmt.Sprintf("faults[%d]", i)
		if f.Name == "" {
			f.Name = fmt.Sprintf("%s-%d", f.Kind, i+1)
		}
		if names[f.Name] {
			add(s.errAt(path+".name", "fault %q is defined twice", f.Name))
		}
		names[f.Name] = true
		if !contains(FaultKinds, f.Kind) {
			add(s.errAt(path+".kind", "unknown fault kind %q (known: %s)", f.Kind, strings.Join(FaultKinds, ", ")))
		}
		add(nonNeg(path+".at", &f.At))
		add(nonNeg(path+".every", &f.Every))
		add(nonNeg(path+".duration", f.Duration))
		if f.Count < 0 {
			add(s.errAt(path+".count", "must not be negative"))
		}
		add(checkDist(path+".mtbf", f.MTBF))
		add(checkDist(path+".mttr", f.MTTR))
		for j, n := range f.Target.Nodes {
			if !nodeSet[n] {
				add(s.errAt(fmt.Sprintf("%s.target.nodes[%d]", path, j), "no node %q in cluster.nodes", n))
			}
		}
		if f.Target.RandomK < 0 {
			add(s.errAt(path+".target.randomK", "must not be negative"))
		}
	}
	for i := range s.Actions {
		a := &s.Actions[i]
		path := fmt.Sprintf("actions[%d]", i)
		if a.Namespace == "" {
			a.Namespace = api.NamespaceDefault
		}
		if !contains(ActionKinds, a.Kind) {
			add(s.errAt(path+".kind", "unknown action %q (known: %s)", a.Kind, strings.Join(ActionKinds, ", ")))
			continue
		}
		add(nonNeg(path+".at", &a.At))
		if a.Kind != "delete-pod" && !deploys[a.Namespace+"/"+a.Deployment] {
			add(s.errAt(path+".deployment", "no deployment %s/%s in workload.deployments", a.Namespace, a.Deployment))
		}
		switch a.Kind {
		case "scale":
			if a.Replicas == nil || *a.Replicas < 0 {
				add(s.errAt(path+".replicas", "scale needs replicas >= 0"))
			}
		case "set-image":
			if a.Image == "" {
				add(s.errAt(path+".image", "set-image needs an image"))
			}
		case "rollback":
			if a.ToRevision < 0 {
				add(s.errAt(path+".toRevision", "must not be negative (0 = the previous revision)"))
			}
		case "delete-pod":
			if a.Pod == "" {
				add(s.errAt(path+".pod", "delete-pod needs a pod name"))
			}
		}
	}
	for i, e := range s.Expect {
		path := fmt.Sprintf("expect[%d]", i)
		if e.Key == "" {
			add(s.errAt(path+".key", "required (a summary.json key)"))
		}
		if e.Min == nil && e.Max == nil && e.Equal == nil {
			add(s.errAt(path, "give min, max or equal"))
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func checkEffect(e string, emptyOK bool) error {
	switch e {
	case "NoSchedule", "PreferNoSchedule", "NoExecute":
		return nil
	case "":
		if emptyOK {
			return nil
		}
	}
	return fmt.Errorf("unknown effect %q (NoSchedule, PreferNoSchedule, NoExecute)", e)
}

// ParseIntOrPercent parses "3" or "25%"; "" is the zero value.
func ParseIntOrPercent(s string) (api.IntOrPercent, error) {
	if s == "" {
		return api.IntOrPercent{}, nil
	}
	if strings.HasSuffix(s, "%") {
		v, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
		if err != nil || v < 0 {
			return api.IntOrPercent{}, fmt.Errorf("%q is not a count or a percentage such as 25%%", s)
		}
		return api.IntOrPercent{IsPercent: true, Value: int32(v)}, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return api.IntOrPercent{}, fmt.Errorf("%q is not a count or a percentage such as 25%%", s)
	}
	return api.IntOrPercent{Value: int32(v)}, nil
}

// SplitNamespaced splits "ns/name" (or "name", in the default namespace).
func SplitNamespaced(s string) (ns, name string) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return api.NamespaceDefault, s
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}
