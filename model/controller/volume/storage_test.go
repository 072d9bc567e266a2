package volume_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/controller/manager/informers"
	"github.com/kubesim/kubesim/model/controller/statefulset"
	"github.com/kubesim/kubesim/model/controller/volume"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/model/kubelet"
	"github.com/kubesim/kubesim/model/network"
	"github.com/kubesim/kubesim/model/runtime"
	"github.com/kubesim/kubesim/model/scheduler"
	"github.com/kubesim/kubesim/sim"
)

type recorder struct {
	recs []sim.Record
	obs  map[string][]float64
}

func (r *recorder) Trace(x sim.Record) { r.recs = append(r.recs, x) }
func (r *recorder) Observe(m string, _ sim.Time, v float64) {
	if r.obs == nil {
		r.obs = map[string][]float64{}
	}
	r.obs[m] = append(r.obs[m], v)
}
func (r *recorder) Gauge(string, sim.Time, float64) {}

func (r *recorder) find(compPrefix, action, detail string) []sim.Record {
	var out []sim.Record
	for _, x := range r.recs {
		if strings.HasPrefix(x.Component, compPrefix) && (action == "" || x.Action == action) && strings.Contains(x.Detail, detail) {
			out = append(out, x)
		}
	}
	return out
}

// cluster is a small storage-capable cluster: 2 nodes in zone-a, 2 in zone-b.
type cluster struct {
	t        *testing.T
	eng      *sim.Engine
	srv      *apiserver.Server
	user     *apiserver.Client
	tel      *recorder
	kubelets []*kubelet.Kubelet
	pvc      *volume.Controller
}

const provisionLatency = 20 * time.Second

var zones = map[string]string{"node-1": "zone-a", "node-2": "zone-a", "node-3": "zone-b", "node-4": "zone-b"}

func newCluster(t *testing.T, seed uint64) *cluster {
	t.Helper()
	eng := sim.New(seed)
	reg := dist.NewRegistry()
	tel := &recorder{}
	st, err := etcd.New(eng, etcd.DefaultConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, tel)
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, eng: eng, srv: srv, user: srv.Client("user", 0, 0), tel: tel}
	fab := network.New()
	for i, name := range []string{"node-1", "node-2", "node-3", "node-4"} {
		kc := kubelet.DefaultConfig()
		kc.NodeName = name
		kc.Address = fmt.Sprintf("10.0.0.%d", 11+i)
		kc.PodCIDRIndex = i + 1
		kc.Labels = map[string]string{api.LabelZone: zones[name]}
		rc := runtime.DefaultModeledConfig()
		rc.Preloaded = append(rc.Preloaded, runtime.ImageNginx125)
		rt, err := runtime.NewModeled(eng, name, rc, fab, reg, tel)
		if err != nil {
			t.Fatal(err)
		}
		k, err := kubelet.New(eng, srv.Client("kubelet/"+name, 50, 100), rt, kc, reg, tel)
		if err != nil {
			t.Fatal(err)
		}
		vc := kubelet.DefaultVolumeConfig()
		vc.AttachLatency, vc.DetachLatency = dist.Const(2*time.Second), dist.Const(2*time.Second)
		vc.MountLatency, vc.UnmountLatency = dist.Const(300*time.Millisecond), dist.Const(100*time.Millisecond)
		if err := k.ConfigureVolumes(vc, reg); err != nil {
			t.Fatal(err)
		}
		k.Start()
		c.kubelets = append(c.kubelets, k)
	}
	sch, err := scheduler.New(eng, srv.Client("scheduler", 50, 100), scheduler.DefaultConfig(), scheduler.NewRegistry(), reg, tel)
	if err != nil {
		t.Fatal(err)
	}
	sch.Start()
	cm := srv.Client("controller-manager", 20, 30)
	f := informers.NewFactory(cm)
	vcfg := volume.DefaultConfig()
	vcfg.ProvisionLatency = dist.Const(provisionLatency)
	vcfg.DeleteLatency = dist.Const(time.Second)
	if c.pvc, err = volume.New(eng, cm, vcfg, reg, tel); err != nil {
		t.Fatal(err)
	}
	c.pvc.UseInformers(f)
	c.pvc.Start()
	ss, err := statefulset.New(eng, cm, statefulset.DefaultConfig(), reg, tel)
	if err != nil {
		t.Fatal(err)
	}
	ss.UseInformers(f)
	ss.Start()
	for _, o := range []api.Object{
		&api.StorageClass{ObjectMeta: api.ObjectMeta{Name: "zonal-b"}, Provisioner: "pd.csi", AllowedZones: []string{"zone-b"}},
		&api.StorageClass{ObjectMeta: api.ObjectMeta{Name: "wffc"}, Provisioner: "pd.csi", VolumeBindingMode: api.VolumeBindingWaitForFirstConsumer},
		&api.StorageClass{ObjectMeta: api.ObjectMeta{Name: "manual"}, Provisioner: volume.NoProvisioner},
	} {
		c.create(o)
	}
	c.run(2 * time.Second)
	return c
}

func (c *cluster) run(d time.Duration) { c.eng.RunUntil(c.eng.Now().Add(d)) }

func (c *cluster) create(o api.Object) {
	c.t.Helper()
	c.user.Create(o, func(_ api.Object, err error) {
		if err != nil {
			c.t.Errorf("create %s: %v", api.Ref(o), err)
		}
	})
}

func (c *cluster) get(kind api.Kind, ns, name string) api.Object {
	kv, ok := c.srv.Store().Get(api.Key(kind, ns, name))
	if !ok {
		return nil
	}
	return kv.Value.(api.Object)
}

func (c *cluster) pod(name string) *api.Pod {
	if o := c.get(api.KindPod, "default", name); o != nil {
		return o.(*api.Pod)
	}
	return nil
}

func (c *cluster) claim(name string) *api.PersistentVolumeClaim {
	if o := c.get(api.KindPersistentVolumeClaim, "default", name); o != nil {
		return o.(*api.PersistentVolumeClaim)
	}
	return nil
}

func (c *cluster) volume(name string) *api.PersistentVolume {
	if o := c.get(api.KindPersistentVolume, "", name); o != nil {
		return o.(*api.PersistentVolume)
	}
	return nil
}

// until runs the engine until cond holds, at most limit of virtual time; checking
// the ReadWriteOnce invariant after every event.
func (c *cluster) until(limit time.Duration, what string, cond func() bool) {
	c.t.Helper()
	end := c.eng.Now().Add(limit)
	for i := 0; i < 5_000_000 && c.eng.Now() < end; i++ {
		if cond() {
			return
		}
		if !c.eng.Step() {
			break
		}
		c.checkRWO()
	}
	if !cond() {
		c.t.Fatalf("%s: not reached within %v (now %v)", what, limit, c.eng.Now())
	}
}

// checkRWO fails when a volume is attached (or attaching, or detaching) on two
// nodes at once.
func (c *cluster) checkRWO() {
	seen := map[string]string{}
	for _, k := range c.kubelets {
		for _, v := range k.AttachedVolumes() {
			if n, ok := seen[v]; ok {
				c.t.Fatalf("%v: volume %s attached to %s and %s at once", c.eng.Now(), v, n, k.NodeName())
			}
			seen[v] = k.NodeName()
		}
	}
}

func claimObj(name, class string, modes ...api.AccessMode) *api.PersistentVolumeClaim {
	if len(modes) == 0 {
		modes = []api.AccessMode{api.ReadWriteOnce}
	}
	return &api.PersistentVolumeClaim{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"},
		RequestBytes: 10 << 30, AccessModes: modes, StorageClassName: class}
}

func podWithClaim(name, claim string) *api.Pod {
	p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": name}},
		Spec: api.PodSpec{Containers: []api.Container{{Name: "nginx", Image: runtime.ImageNginx125,
			Requests: api.Resources{MilliCPU: 100, Memory: 64 << 20}}}}}
	if claim != "" {
		p.Spec.Volumes = []api.Volume{{Name: "data", ClaimName: claim}}
	}
	return p
}

func running(p *api.Pod) bool { return p != nil && p.Status.Phase == api.PodRunning && p.IsReady() }

func TestImmediateAndWaitForFirstConsumer(t *testing.T) {
	c := newCluster(t, 1)
	c.create(claimObj("imm", "zonal-b"))
	c.create(claimObj("late", "wffc"))
	t0 := c.eng.Now()
	c.until(time.Minute, "immediate claim bound", func() bool {
		pvc := c.claim("imm")
		return pvc != nil && pvc.Phase == api.VolumeBound
	})
	imm := c.claim("imm")
	if took := c.eng.Now().Sub(t0); took < provisionLatency {
		t.Errorf("immediate claim bound after %v, before the provisioning latency %v", took, provisionLatency)
	}
	pv := c.volume(imm.VolumeName)
	if pv == nil || pv.Zone != "zone-b" || pv.Phase != api.VolumeBound || pv.ClaimRef == nil || pv.ClaimRef.UID != imm.UID {
		t.Fatalf("immediate volume %+v", pv)
	}
	if imm.Annotations[api.AnnBoundByController] == "" || pv.Annotations[api.AnnBoundByController] == "" {
		t.Errorf("bound-by-controller annotation missing: claim %v volume %v", imm.Annotations, pv.Annotations)
	}
	// The WaitForFirstConsumer claim waits: nothing provisioned, no selected node.
	late := c.claim("late")
	if late.Phase != api.VolumePending || late.VolumeName != "" || late.Annotations[api.AnnSelectedNode] != "" {
		t.Fatalf("WaitForFirstConsumer claim acted on before any consumer: %+v", late)
	}
	if len(c.tel.find(volume.Component, "wait-first-consumer", "late")) != 1 {
		t.Errorf("no single wait-first-consumer record")
	}
	// A consumer: the scheduler picks a node, the volume is provisioned in its zone.
	c.create(podWithClaim("consumer", "late"))
	c.until(3*time.Minute, "consumer running", func() bool { return running(c.pod("consumer")) })
	p := c.pod("consumer")
	late = c.claim("late")
	if late.Annotations[api.AnnSelectedNode] != string(p.Spec.NodeName) {
		t.Errorf("selected-node %q, pod on %s", late.Annotations[api.AnnSelectedNode], p.Spec.NodeName)
	}
	lpv := c.volume(late.VolumeName)
	if lpv == nil || lpv.Zone != zones[string(p.Spec.NodeName)] {
		t.Fatalf("volume %+v not in the zone of node %s", lpv, p.Spec.NodeName)
	}
	if lpv.Annotations[kubelet.AnnAttachedNode] != string(p.Spec.NodeName) {
		t.Errorf("volume attached to %q, pod on %s", lpv.Annotations[kubelet.AnnAttachedNode], p.Spec.NodeName)
	}
	if len(c.tel.find("scheduler", "prebind", "VolumeBinding: PreBind done")) == 0 {
		t.Errorf("no PreBind record")
	}
	if len(c.tel.find("kubelet/", "attach", "attached volume "+lpv.Name)) != 1 || len(c.tel.find("kubelet/", "mount", lpv.Name)) != 1 {
		t.Errorf("attach/mount records missing")
	}
}

func TestZonalVolumeRestrictsNodes(t *testing.T) {
	c := newCluster(t, 2)
	c.create(claimObj("zb", "zonal-b"))
	c.until(time.Minute, "bound", func() bool { pvc := c.claim("zb"); return pvc != nil && pvc.Phase == api.VolumeBound })
	for i := 0; i < 4; i++ {
		name := fmt.Sprintf("user-%d", i)
		p := podWithClaim(name, "zb")
		p.Spec.Containers[0].Image = runtime.ImageNginx125
		c.create(p)
	}
	c.until(2*time.Minute, "pods scheduled", func() bool {
		for i := 0; i < 4; i++ {
			if p := c.pod(fmt.Sprintf("user-%d", i)); p == nil || p.Spec.NodeName == "" {
				return false
			}
		}
		return true
	})
	for i := 0; i < 4; i++ {
		p := c.pod(fmt.Sprintf("user-%d", i))
		if z := zones[string(p.Spec.NodeName)]; z != "zone-b" {
			t.Errorf("pod %s on %s in %s, its volume is in zone-b", p.Name, p.Spec.NodeName, z)
		}
	}
	// An unbound immediate claim (no provisioner, no volume) blocks scheduling.
	c.create(claimObj("never", "manual"))
	c.create(podWithClaim("blocked", "never"))
	c.run(10 * time.Second)
	p := c.pod("blocked")
	cond := p.Condition(api.PodScheduled)
	if p.Spec.NodeName != "" || cond == nil || !strings.Contains(cond.Message, "pod has unbound immediate PersistentVolumeClaims") {
		t.Fatalf("blocked pod: node %q condition %+v", p.Spec.NodeName, cond)
	}
	// A static volume appears: the claim binds, the pod is retried and runs.
	c.create(&api.PersistentVolume{ObjectMeta: api.ObjectMeta{Name: "static-1"}, CapacityBytes: 20 << 30,
		AccessModes: []api.AccessMode{api.ReadWriteOnce}, StorageClassName: "manual", Zone: "zone-a"})
	c.until(2*time.Minute, "blocked pod runs", func() bool { return running(c.pod("blocked")) })
	if z := zones[string(c.pod("blocked").Spec.NodeName)]; z != "zone-a" {
		t.Errorf("pod of the zone-a static volume on a %s node", z)
	}
}

func statefulSet(name string, replicas int32, policy string) *api.StatefulSet {
	return &api.StatefulSet{
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"},
		Spec: api.StatefulSetSpec{
			Replicas:    replicas,
			Selector:    &api.LabelSelector{MatchLabels: map[string]string{"app": name}},
			ServiceName: name,
			Template: api.PodTemplateSpec{Labels: map[string]string{"app": name}, Spec: api.PodSpec{
				Containers: []api.Container{{Name: "nginx", Image: runtime.ImageNginx125, Requests: api.Resources{MilliCPU: 100, Memory: 64 << 20}}}}},
			VolumeClaimTemplates: []api.PersistentVolumeClaim{*claimObj("data", "wffc")},
			PodManagementPolicy:  policy,
		},
	}
}

func TestStatefulSetOrderedStartStableNamesAndVolumes(t *testing.T) {
	c := newCluster(t, 3)
	c.create(statefulSet("web", 3, ""))
	c.until(5*time.Minute, "3 pods ready", func() bool {
		for i := 0; i < 3; i++ {
			if !running(c.pod(fmt.Sprintf("web-%d", i))) {
				return false
			}
		}
		return true
	})
	// Ordered start: pod i created only after pod i-1 was Ready.
	for i := 1; i < 3; i++ {
		prev, cur := c.pod(fmt.Sprintf("web-%d", i-1)), c.pod(fmt.Sprintf("web-%d", i))
		ready := prev.Condition(api.PodReady).LastTransitionTime
		if cur.CreationTimestamp < ready {
			t.Errorf("web-%d created at %v before web-%d was ready at %v", i, cur.CreationTimestamp, i-1, ready)
		}
		if cur.CreationTimestamp.Sub(prev.CreationTimestamp) < provisionLatency {
			t.Errorf("web-%d created %v after web-%d: the provisioning of web-%d's volume should be in between", i, cur.CreationTimestamp.Sub(prev.CreationTimestamp), i-1, i-1)
		}
	}
	volumes := map[string]string{}
	for i := 0; i < 3; i++ {
		p := c.pod(fmt.Sprintf("web-%d", i))
		if p.Spec.Hostname != p.Name || p.Spec.Subdomain != "web" {
			t.Errorf("%s: hostname %q subdomain %q", p.Name, p.Spec.Hostname, p.Spec.Subdomain)
		}
		claim := fmt.Sprintf("data-web-%d", i)
		if len(p.Spec.Volumes) != 1 || p.Spec.Volumes[0].ClaimName != claim {
			t.Errorf("%s volumes %+v", p.Name, p.Spec.Volumes)
		}
		pvc := c.claim(claim)
		if pvc == nil || pvc.Phase != api.VolumeBound {
			t.Fatalf("claim %s: %+v", claim, pvc)
		}
		volumes[claim] = pvc.VolumeName
	}
	c.until(10*time.Second, "status 3/3 ready", func() bool {
		s := c.get(api.KindStatefulSet, "default", "web").(*api.StatefulSet).Status
		return s.Replicas == 3 && s.ReadyReplicas == 3 && s.AvailableReplicas == 3 && s.CurrentReplicas == 3 && s.UpdatedReplicas == 3
	})

	// Rescheduled pod: web-1 deleted; its replacement has the same name, claim and
	// volume, and lands in the volume's zone.
	old := c.pod("web-1")
	zone := c.volume(volumes["data-web-1"]).Zone
	c.user.Delete(api.KindPod, "default", "web-1", apiserver.DeleteOptions{}, nil)
	c.until(5*time.Minute, "web-1 replaced and ready", func() bool {
		p := c.pod("web-1")
		return p != nil && p.UID != old.UID && running(p)
	})
	p := c.pod("web-1")
	if zones[string(p.Spec.NodeName)] != zone {
		t.Errorf("replacement on %s (%s), its volume is in %s", p.Spec.NodeName, zones[string(p.Spec.NodeName)], zone)
	}
	if got := c.claim("data-web-1").VolumeName; got != volumes["data-web-1"] {
		t.Errorf("replacement got volume %s, had %s", got, volumes["data-web-1"])
	}
	if len(c.tel.find(statefulset.Component, "create-pod", "replaces pod web-1")) != 1 {
		t.Errorf("no step-7 replacement record")
	}
	for _, r := range c.tel.find(statefulset.Component, "create-pod", "replaces pod web-1") {
		if r.Step != 7 {
			t.Errorf("replacement traced in step %d", r.Step)
		}
	}

	// Scale down to 1: web-2 goes first, then web-1; claims stay.
	cur := c.get(api.KindStatefulSet, "default", "web").(*api.StatefulSet).DeepCopyObject().(*api.StatefulSet)
	cur.Spec.Replicas = 1
	cur.ResourceVersion = 0
	c.user.Update(cur, nil)
	c.until(5*time.Minute, "scaled down", func() bool { return c.pod("web-1") == nil && c.pod("web-2") == nil })
	dels := c.tel.find(statefulset.Component, "delete-pod", "scales down")
	if len(dels) != 2 || dels[0].Object != "pod/default/web-2" || dels[1].Object != "pod/default/web-1" {
		var objs []string
		for _, d := range dels {
			objs = append(objs, d.Object)
		}
		t.Errorf("scale-down deletions %v, want web-2 then web-1", objs)
	}
	for i := 0; i < 3; i++ {
		if c.claim(fmt.Sprintf("data-web-%d", i)) == nil {
			t.Errorf("claim data-web-%d deleted on scale-down", i)
		}
	}
	c.run(30 * time.Second)
	for _, k := range c.kubelets {
		for _, v := range k.AttachedVolumes() {
			if v == volumes["data-web-1"] || v == volumes["data-web-2"] {
				t.Errorf("%s still holds volume %s after its pod went", k.NodeName(), v)
			}
		}
	}
}

func TestParallelStatefulSet(t *testing.T) {
	c := newCluster(t, 4)
	c.create(statefulSet("db", 3, statefulset.Parallel))
	c.run(5 * time.Second)
	for i := 0; i < 3; i++ {
		if c.pod(fmt.Sprintf("db-%d", i)) == nil {
			t.Fatalf("Parallel: db-%d not created at once", i)
		}
	}
}

// TestReadWriteOnceFollowsPod moves a pod with a ReadWriteOnce volume to the other
// node of its zone: the new node attaches only after the old one detached.
func TestReadWriteOnceFollowsPod(t *testing.T) {
	c := newCluster(t, 5)
	c.create(claimObj("rwo", "zonal-b"))
	c.until(time.Minute, "bound", func() bool { pvc := c.claim("rwo"); return pvc != nil && pvc.Phase == api.VolumeBound })
	c.create(podWithClaim("a", "rwo"))
	c.until(2*time.Minute, "a runs", func() bool { return running(c.pod("a")) })
	first := string(c.pod("a").Spec.NodeName)
	// Cordon the first node, delete the pod, create a new one using the same claim.
	n := c.get(api.KindNode, "", first).(*api.Node).DeepCopy()
	n.Spec.Unschedulable = true
	n.ResourceVersion = 0
	c.user.Update(n, nil)
	c.run(time.Second)
	c.user.Delete(api.KindPod, "default", "a", apiserver.DeleteOptions{}, nil)
	c.create(podWithClaim("b", "rwo"))
	c.until(3*time.Minute, "b runs", func() bool { return running(c.pod("b")) })
	second := string(c.pod("b").Spec.NodeName)
	if second == first || zones[second] != "zone-b" {
		t.Fatalf("b on %s (first %s)", second, first)
	}
	pv := c.claim("rwo").VolumeName
	det := c.tel.find("kubelet/"+first, "detach", pv)
	att := c.tel.find("kubelet/"+second, "attach", pv)
	if len(det) != 1 || len(att) != 1 {
		t.Fatalf("detach records %d, attach records %d", len(det), len(att))
	}
	// The attach (2 s) started after the detach ended.
	if att[0].Time.Sub(det[0].Time) < 2*time.Second {
		t.Errorf("attached on %s at %v, only %v after the detach from %s", second, att[0].Time, att[0].Time.Sub(det[0].Time), first)
	}
	if len(c.tel.find("kubelet/"+second, "volume-wait", "Multi-Attach")) != 1 {
		t.Errorf("no Multi-Attach wait record on %s", second)
	}
}

func TestProvisioningLatencyInPodStartup(t *testing.T) {
	c := newCluster(t, 6)
	c.create(podWithClaim("plain", ""))
	c.create(claimObj("slow", "wffc"))
	c.create(podWithClaim("stateful", "slow"))
	c.until(3*time.Minute, "both run", func() bool { return running(c.pod("plain")) && running(c.pod("stateful")) })
	startup := func(p *api.Pod) time.Duration {
		return p.Condition(api.PodReady).LastTransitionTime.Sub(p.CreationTimestamp)
	}
	plain, stateful := startup(c.pod("plain")), startup(c.pod("stateful"))
	// provisioning + attach (2 s) + mount (0.3 s) come on top.
	if stateful < plain+provisionLatency+2*time.Second {
		t.Errorf("startup with a provisioned volume %v, without %v: provisioning (%v) and attach should add up", stateful, plain, provisionLatency)
	}
	if stateful > plain+provisionLatency+10*time.Second {
		t.Errorf("startup with a provisioned volume %v, without %v: too slow", stateful, plain)
	}
	if got := c.tel.obs["volume_provisioning_seconds"]; len(got) != 1 || got[0] < provisionLatency.Seconds() {
		t.Errorf("volume_provisioning_seconds %v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	reg := dist.NewRegistry()
	for _, tc := range []struct {
		name   string
		mutate func(*volume.Config)
		want   string
	}{
		{"defaults", func(*volume.Config) {}, ""},
		{"sync period", func(c *volume.Config) { c.SyncPeriod = 0 }, "syncPeriod"},
		{"provisioner", func(c *volume.Config) {
			c.ProvisionerLatency = map[string]dist.Spec{"x": {Kind: "nope"}}
		}, "provisionerLatency[x]"},
		{"force detach", func(c *volume.Config) { c.ForceDetachAfter = -1 }, "forceDetachAfter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := volume.DefaultConfig()
			tc.mutate(&cfg)
			err := cfg.Validate(reg)
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestForceDetachFromDeadNode: the node holding a ReadWriteOnce volume dies; once
// its pod is force-deleted and the node has been NotReady for 6 minutes, the
// controller detaches the volume and the pod's successor starts elsewhere.
func TestForceDetachFromDeadNode(t *testing.T) {
	c := newCluster(t, 7)
	c.create(claimObj("rwo", "zonal-b"))
	c.until(time.Minute, "bound", func() bool { pvc := c.claim("rwo"); return pvc != nil && pvc.Phase == api.VolumeBound })
	c.create(podWithClaim("a", "rwo"))
	c.until(2*time.Minute, "a runs", func() bool { return running(c.pod("a")) })
	dead := string(c.pod("a").Spec.NodeName)
	for _, k := range c.kubelets {
		if k.NodeName() == dead {
			k.Stop()
		}
	}
	// What the node lifecycle controller and pod GC would do: NotReady, then a
	// force delete of the pod.
	n := c.get(api.KindNode, "", dead).(*api.Node).DeepCopy()
	n.Spec.Unschedulable = true
	n.ResourceVersion = 0
	c.user.Update(n, nil)
	c.run(time.Second)
	n = c.get(api.KindNode, "", dead).(*api.Node).DeepCopy()
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == api.NodeReady {
			n.Status.Conditions[i].Status = api.ConditionUnknown
			n.Status.Conditions[i].LastTransitionTime = c.eng.Now()
		}
	}
	notReady := c.eng.Now()
	n.ResourceVersion = 0
	c.user.UpdateStatus(n, nil)
	zero := int64(0)
	c.user.Delete(api.KindPod, "default", "a", apiserver.DeleteOptions{GracePeriodSeconds: &zero}, nil)
	c.create(podWithClaim("b", "rwo"))
	c.until(10*time.Minute, "b runs", func() bool { return running(c.pod("b")) })
	fd := c.tel.find(volume.Component, "force-detach", dead)
	if len(fd) != 1 || fd[0].Step != 7 {
		t.Fatalf("force-detach records %+v", fd)
	}
	if d := fd[0].Time.Sub(notReady); d < 6*time.Minute || d > 6*time.Minute+20*time.Second {
		t.Errorf("force detach %v after NotReady, want 6 min plus at most a resync period", d)
	}
	if c.pvc.Stats().ForceDetached != 1 {
		t.Errorf("stats %+v", c.pvc.Stats())
	}
}

func TestReclaimDelete(t *testing.T) {
	c := newCluster(t, 8)
	c.create(claimObj("tmp", "zonal-b"))
	c.until(time.Minute, "bound", func() bool { pvc := c.claim("tmp"); return pvc != nil && pvc.Phase == api.VolumeBound })
	pv := c.claim("tmp").VolumeName
	c.user.Delete(api.KindPersistentVolumeClaim, "default", "tmp", apiserver.DeleteOptions{}, nil)
	c.until(time.Minute, "volume deleted", func() bool { return c.volume(pv) == nil })
	c.run(time.Second)
	if len(c.tel.find(volume.Component, "released", pv)) != 1 || c.pvc.Stats().Deleted != 1 {
		t.Errorf("released records %d, stats %+v", len(c.tel.find(volume.Component, "released", pv)), c.pvc.Stats())
	}
}

func TestDeterministic(t *testing.T) {
	trace := func() string {
		c := newCluster(t, 42)
		c.create(statefulSet("web", 3, ""))
		c.create(claimObj("imm", "zonal-b"))
		c.run(3 * time.Minute)
		var b strings.Builder
		for _, r := range c.tel.recs {
			fmt.Fprintf(&b, "%d %d %s %s %s %s\n", r.Time, r.Step, r.Component, r.Action, r.Object, r.Detail)
		}
		return b.String()
	}
	a, b := trace(), trace()
	if a != b {
		t.Fatal("same seed, different traces")
	}
	if !strings.Contains(a, "attached volume") {
		t.Fatal("trace without attach records")
	}
}
