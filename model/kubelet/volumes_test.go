package kubelet

import (
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/runtime"
	"github.com/kubesim/kubesim/sim"
)

// storage creates a claim and a volume bound to each other; holder, when set, is
// the node the volume is recorded as attached to.
func storage(t *testing.T, e *env, claim, vol string, modes []api.AccessMode, holder string) {
	t.Helper()
	var pvc *api.PersistentVolumeClaim
	e.user.Create(&api.PersistentVolumeClaim{ObjectMeta: api.ObjectMeta{Name: claim, Namespace: "default"}, RequestBytes: 1 << 30,
		AccessModes: modes, VolumeName: vol, Phase: api.VolumeBound}, func(o api.Object, err error) {
		if err != nil {
			t.Fatal(err)
		}
		pvc = o.(*api.PersistentVolumeClaim)
	})
	e.run(10 * time.Millisecond)
	pv := &api.PersistentVolume{ObjectMeta: api.ObjectMeta{Name: vol}, CapacityBytes: 1 << 30, AccessModes: modes,
		ClaimRef: &api.ClaimRef{Namespace: "default", Name: claim, UID: pvc.UID}, Phase: api.VolumeBound}
	if holder != "" {
		pv.Annotations = map[string]string{AnnAttachedNode: holder}
	}
	e.user.Create(pv, func(_ api.Object, err error) {
		if err != nil {
			t.Fatal(err)
		}
	})
	e.run(10 * time.Millisecond)
}

// detailed returns the kubelet records of the action whose detail contains sub.
func detailed(r *recorder, action, sub string) []sim.Record {
	var out []sim.Record
	for _, rec := range r.find("kubelet/", action, "") {
		if strings.Contains(rec.Detail, sub) {
			out = append(out, rec)
		}
	}
	return out
}

func withClaim(claim string) func(*api.Pod) {
	return func(p *api.Pod) { p.Spec.Volumes = []api.Volume{{Name: "data", ClaimName: claim}} }
}

func volEnv(t *testing.T) *env {
	return newEnv(t, 1, nil)
}

func configure(t *testing.T, e *env) {
	t.Helper()
	vc := DefaultVolumeConfig()
	vc.AttachLatency, vc.DetachLatency = dist.Const(2*time.Second), dist.Const(3*time.Second)
	vc.MountLatency, vc.UnmountLatency = dist.Const(500*time.Millisecond), dist.Const(100*time.Millisecond)
	if err := e.k.ConfigureVolumes(vc, dist.NewRegistry()); err != nil {
		t.Fatal(err)
	}
}

func TestPodWithoutClaimsStartsNoVolumeManager(t *testing.T) {
	e := volEnv(t)
	e.create(t, nginxPod("plain"))
	e.run(30 * time.Second)
	if p := e.pod("plain"); p.Status.Phase != api.PodRunning {
		t.Fatalf("phase %s", p.Status.Phase)
	}
	if e.k.vols != nil {
		t.Error("volume manager created for a pod without claims")
	}
	if len(detailed(e.tel, "volumes", "")) != 0 {
		t.Error("volume records for a pod without claims")
	}
}

func TestAttachMountBeforeSandbox(t *testing.T) {
	for _, tc := range []struct {
		name    string
		modes   []api.AccessMode
		holder  string
		wantRWO bool
	}{
		{"ReadWriteOnce", []api.AccessMode{api.ReadWriteOnce}, "", true},
		{"ReadWriteMany", []api.AccessMode{api.ReadWriteMany}, "", false},
		{"still attached here", []api.AccessMode{api.ReadWriteOnce}, "node-1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := volEnv(t)
			configure(t, e)
			storage(t, e, "c1", "pv1", tc.modes, tc.holder)
			e.create(t, nginxPod("db", withClaim("c1")))
			e.run(30 * time.Second)
			p := e.pod("db")
			if p.Status.Phase != api.PodRunning {
				t.Fatalf("phase %s", p.Status.Phase)
			}
			att := detailed(e.tel, "attach", "")
			mnt := detailed(e.tel, "mount", "")
			sb := detailed(e.tel, "sandbox", "")
			if len(att) != 1 || len(mnt) != 1 || len(sb) != 1 {
				t.Fatalf("records: attach %d mount %d sandbox %d", len(att), len(mnt), len(sb))
			}
			if att[0].Step != 5 || !(att[0].Time < mnt[0].Time && mnt[0].Time <= sb[0].Time) {
				t.Errorf("order: attach %v (step %d), mount %v, sandbox %v", att[0].Time, att[0].Step, mnt[0].Time, sb[0].Time)
			}
			if tc.holder == "" && !strings.Contains(att[0].Detail, "in 2.0 s") {
				t.Errorf("attach detail %q", att[0].Detail)
			}
			pv := e.get(api.KindPersistentVolume, "", "pv1").(*api.PersistentVolume)
			if got := pv.Annotations[AnnAttachedNode]; (got == "node-1") != tc.wantRWO {
				t.Errorf("attached-node annotation %q", got)
			}
			// Delete the pod: unmount, then detach; the annotation goes.
			e.user.Delete(api.KindPod, "default", "db", apiserver.DeleteOptions{}, nil)
			e.run(time.Minute)
			if len(detailed(e.tel, "detach", "pv1")) != 1 || len(detailed(e.tel, "unmount", "pv1")) != 1 {
				t.Fatalf("no unmount/detach records")
			}
			pv = e.get(api.KindPersistentVolume, "", "pv1").(*api.PersistentVolume)
			if pv.Annotations[AnnAttachedNode] != "" || len(e.k.AttachedVolumes()) != 0 {
				t.Errorf("still attached: %v %v", pv.Annotations, e.k.AttachedVolumes())
			}
		})
	}
}

func TestWaitsForClaimAndForDetachElsewhere(t *testing.T) {
	e := volEnv(t)
	configure(t, e)
	// The claim is bound but its ReadWriteOnce volume is attached to node-9.
	storage(t, e, "c1", "pv1", []api.AccessMode{api.ReadWriteOnce}, "node-9")
	e.create(t, nginxPod("db", withClaim("c1"), func(p *api.Pod) { p.Spec.Containers[0].Image = runtime.ImageNginx125 }))
	e.run(time.Minute)
	if p := e.pod("db"); p.Status.Phase == api.PodRunning || len(detailed(e.tel, "sandbox", "")) != 0 {
		t.Fatal("pod started while its volume is attached elsewhere")
	}
	if len(detailed(e.tel, "volume-wait", "Multi-Attach")) != 1 {
		t.Errorf("no single Multi-Attach record")
	}
	// node-9 detaches.
	pv := e.get(api.KindPersistentVolume, "", "pv1").(*api.PersistentVolume).DeepCopyObject().(*api.PersistentVolume)
	delete(pv.Annotations, AnnAttachedNode)
	detached := e.eng.Now()
	e.user.Update(pv, nil)
	e.run(time.Minute)
	if p := e.pod("db"); p.Status.Phase != api.PodRunning {
		t.Fatalf("phase %s after the detach elsewhere", p.Status.Phase)
	}
	if a := detailed(e.tel, "attach", "pv1"); len(a) != 1 || a[0].Time.Sub(detached) < 2*time.Second {
		t.Errorf("attach records %+v", a)
	}
	// A claim that is not bound yet: the pod waits for it.
	e.user.Create(&api.PersistentVolumeClaim{ObjectMeta: api.ObjectMeta{Name: "c2", Namespace: "default"}, RequestBytes: 1 << 30,
		AccessModes: []api.AccessMode{api.ReadWriteOnce}, Phase: api.VolumePending}, nil)
	e.create(t, nginxPod("db2", withClaim("c2")))
	e.run(30 * time.Second)
	if len(detailed(e.tel, "volume-wait", "c2 to be bound")) != 1 || e.pod("db2").Status.Phase == api.PodRunning {
		t.Fatal("pod with an unbound claim did not wait")
	}
}

func TestVolumeConfigValidate(t *testing.T) {
	reg := dist.NewRegistry()
	for _, tc := range []struct {
		name   string
		mutate func(*VolumeConfig)
		want   string
	}{
		{"defaults", func(*VolumeConfig) {}, ""},
		{"attach", func(c *VolumeConfig) { c.AttachLatency = dist.Spec{Kind: "x"} }, "attachLatency"},
		{"unmount", func(c *VolumeConfig) { c.UnmountLatency = dist.Spec{Kind: "x"} }, "unmountLatency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultVolumeConfig()
			tc.mutate(&c)
			err := c.Validate(reg)
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
