package deployment

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/controller/replicaset"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/sim"
)

// rolloutEnv is a control plane (etcd, apiserver, the deployment and the real
// ReplicaSet controller) with fake kubelets: every pod is marked Running a few
// seconds after it is created, and Ready unless its image is broken.
type rolloutEnv struct {
	*env
	podInf, rsInf *apiserver.Informer
	// Watched invariants during a rollout: the most pods planned (sum of the
	// ReplicaSets' spec.replicas), the most live pods, the fewest available pods.
	maxPlanned, maxPods, minAvailable int32
	watching                          bool
}

const startup = 3 * time.Second

func newRolloutEnv(t *testing.T) *rolloutEnv {
	t.Helper()
	eng := sim.New(11)
	reg := dist.NewRegistry()
	rec := &recorder{obs: map[string][]float64{}, gauges: map[string][]float64{}}
	st, err := etcd.New(eng, etcd.DefaultConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, rec)
	if err != nil {
		t.Fatal(err)
	}
	ctrl, err := New(eng, srv.Client("controller-manager", 0, 0), DefaultConfig(), reg, rec)
	if err != nil {
		t.Fatal(err)
	}
	ctrl.Start()
	rsc, err := replicaset.New(eng, srv.Client("controller-manager", 0, 0), replicaset.DefaultConfig(), reg, sim.Discard)
	if err != nil {
		t.Fatal(err)
	}
	rsc.Start()
	e := &rolloutEnv{env: &env{t: t, eng: eng, srv: srv, user: srv.Client("kubectl", 0, 0), rec: rec, ctrl: ctrl, broken: "nginx:broken"}}
	kubelet := srv.Client("fake-kubelet", 0, 0)
	e.podInf = apiserver.NewInformer(kubelet, api.KindPod, apiserver.InformerOptions{}, apiserver.Handlers{
		OnAdd: func(o api.Object) {
			p := o.(*api.Pod)
			eng.After(startup, func() {
				cur, ok := e.podInf.Get(p.Namespace, p.Name)
				if !ok || cur.Meta().UID != p.UID || cur.Meta().DeletionTimestamp != nil {
					return
				}
				np := cur.(*api.Pod).DeepCopy()
				np.ResourceVersion = 0
				np.Status.Phase = api.PodRunning
				ready := api.ConditionTrue
				if np.Spec.Containers[0].Image == e.broken {
					ready = api.ConditionFalse // the new version never passes its readiness probe
				}
				np.SetCondition(api.PodReady, ready, "", eng.Now())
				kubelet.UpdateStatus(np, nil)
			})
			e.check()
		},
		OnUpdate: func(_, _ api.Object) { e.check() },
		OnDelete: func(api.Object) { e.check() },
	})
	e.rsInf = apiserver.NewInformer(kubelet, api.KindReplicaSet, apiserver.InformerOptions{}, apiserver.Handlers{
		OnAdd:    func(api.Object) { e.check() },
		OnUpdate: func(_, _ api.Object) { e.check() },
		OnDelete: func(api.Object) { e.check() },
	})
	return e
}

// watch starts recording the invariants.
func (e *rolloutEnv) watch() {
	e.watching, e.maxPlanned, e.maxPods, e.minAvailable = true, 0, 0, 1<<30
	e.check()
}

func (e *rolloutEnv) check() {
	if !e.watching {
		return
	}
	var planned, available, pods int32
	for _, o := range e.rsInf.List() {
		rs := o.(*api.ReplicaSet)
		planned += rs.Spec.Replicas
		available += rs.Status.AvailableReplicas
	}
	for _, o := range e.podInf.List() {
		if p := o.(*api.Pod); !p.IsTerminal() && p.DeletionTimestamp == nil {
			pods++
		}
	}
	e.maxPlanned = max(e.maxPlanned, planned)
	e.maxPods = max(e.maxPods, pods)
	e.minAvailable = min(e.minAvailable, available)
}

func (e *rolloutEnv) deployment() *api.Deployment {
	return e.get(api.KindDeployment, "nginx").(*api.Deployment)
}

func (e *rolloutEnv) send(d *api.Deployment) {
	e.t.Helper()
	e.wait("update", func(done func(error)) { e.user.Update(d, func(_ api.Object, err error) { done(err) }) })
}

// byImage returns the ReplicaSets by their container image.
func (e *rolloutEnv) byImage() map[string]*api.ReplicaSet {
	out := map[string]*api.ReplicaSet{}
	for _, rs := range e.replicaSets() {
		out[rs.Spec.Template.Spec.Containers[0].Image] = rs
	}
	return out
}

func progressing(d *api.Deployment) api.DeploymentCondition {
	if c := GetCondition(&d.Status, api.DeploymentProgressing); c != nil {
		return *c
	}
	return api.DeploymentCondition{}
}

// TestRolloutStallDeadlineRollback follows a Deployment of 10 replicas at the
// default 25 % / 25 % (surge 3, unavailable 2) through a good rolling update, a bad
// one that stalls and times out after progressDeadlineSeconds, and a rollback.
func TestRolloutStallDeadlineRollback(t *testing.T) {
	e := newRolloutEnv(t)
	e.create(nginx(10, ""))
	e.run(30 * time.Second)
	if d := e.deployment(); d.Status.AvailableReplicas != 10 || progressing(d).Reason != ReasonNewReplicaSetAvailable {
		t.Fatalf("initial rollout: status %+v", d.Status)
	}
	if len(e.rec.find(Component, 7, "rollout-step")) != 0 || len(e.rec.obs[MetricRolloutSeconds]) != 0 {
		t.Fatal("creating a Deployment is not a rollout")
	}

	// 1. A good version: steps bounded by replicas + surge and replicas − unavailable.
	e.watch()
	d, err := SetImage(e.deployment(), "nginx", "nginx:1.28")
	if err != nil {
		t.Fatal(err)
	}
	e.send(d)
	e.run(60 * time.Second)
	e.watching = false
	rss := e.byImage()
	if len(rss) != 2 || rss["nginx:1.28"].Spec.Replicas != 10 || rss["nginx:1.28"].Status.AvailableReplicas != 10 || rss["nginx:1.27"].Spec.Replicas != 0 {
		t.Fatalf("after the good rollout: %d ReplicaSets", len(rss))
	}
	if e.maxPlanned != 13 || e.maxPods > 13 || e.minAvailable != 8 {
		t.Fatalf("rolling update bounds: at most %d planned (want 13), %d live pods (want <= 13), at least %d available (want 8)",
			e.maxPlanned, e.maxPods, e.minAvailable)
	}
	steps := e.rec.find(Component, 7, "rollout-step")
	oldName, newName := rss["nginx:1.27"].Name, rss["nginx:1.28"].Name
	first := "rolling update: scaled new ReplicaSet " + newName + " to 3 (maxSurge 3), old " + oldName + " to 8 (maxUnavailable 2)"
	if len(steps) < 3 || !strings.HasPrefix(steps[0].Detail, first) {
		t.Fatalf("rollout steps %d, first %q, want prefix %q", len(steps), steps[0].Detail, first)
	}
	dur := e.rec.obs[MetricRolloutSeconds]
	if len(dur) != 1 || dur[0] < float64(startup/time.Second) || dur[0] > 60 {
		t.Fatalf("%s = %v", MetricRolloutSeconds, dur)
	}
	if c := e.rec.find(Component, 7, "rollout-complete"); len(c) != 1 || !strings.Contains(c[0].Detail, "revision 2") {
		t.Fatalf("rollout-complete records %+v", c)
	}

	// 2. A bad version: new pods never become ready. The new ReplicaSet starts at 3
	// (surge), the old one drops to the availability floor, 10 − 2 = 8, and the new
	// one fills the surge room to 5 (8 + 5 = 13 = 10 + 3); then nothing can move.
	d, _ = SetImage(e.deployment(), "nginx", "nginx:broken")
	e.send(d)
	e.run(60 * time.Second)
	rss = e.byImage()
	good, bad := rss["nginx:1.28"], rss["nginx:broken"]
	if good.Spec.Replicas != 8 || good.Status.AvailableReplicas != 8 || bad.Spec.Replicas != 5 || bad.Status.AvailableReplicas != 0 {
		t.Fatalf("stalled rollout: good %d/%d available, bad %d/%d", good.Status.AvailableReplicas, good.Spec.Replicas, bad.Status.AvailableReplicas, bad.Spec.Replicas)
	}
	dd := e.deployment()
	pc := progressing(dd)
	if pc.Status != api.ConditionTrue || (pc.Reason != ReasonReplicaSetUpdated && pc.Reason != ReasonNewReplicaSetCreated) {
		t.Fatalf("while stalled, before the deadline: Progressing %+v", pc)
	}
	if ac := GetCondition(&dd.Status, api.DeploymentAvailable); ac == nil || ac.Status != api.ConditionTrue {
		t.Fatalf("8 of 10 available is the minimum availability: Available %+v", ac)
	}
	lastProgress := pc.LastUpdateTime
	e.eng.RunUntil(lastProgress.Add(599 * time.Second))
	if pc := progressing(e.deployment()); pc.Reason == ReasonProgressDeadlineExceeded {
		t.Fatalf("timed out before the deadline: %+v", pc)
	}
	e.eng.RunUntil(lastProgress.Add(605 * time.Second))
	pc = progressing(e.deployment())
	flip := pc.LastTransitionTime.Sub(lastProgress)
	if pc.Status != api.ConditionFalse || pc.Reason != ReasonProgressDeadlineExceeded || flip <= 600*time.Second || flip > 602*time.Second {
		t.Fatalf("after the deadline: Progressing %+v, %v after the last progress", pc, flip)
	}
	if recs := e.rec.find(Component, 0, "condition"); !strings.Contains(recs[len(recs)-1].Detail, "ProgressDeadlineExceeded") {
		t.Fatalf("no condition record for the deadline: %+v", recs[len(recs)-1])
	}
	// Status only: nothing was rolled back.
	if rss = e.byImage(); rss["nginx:broken"].Spec.Replicas != 5 || rss["nginx:1.28"].Spec.Replicas != 8 {
		t.Fatal("the deadline must not change the ReplicaSets")
	}

	// 3. Rollback to the previous revision (2): the old ReplicaSet becomes new with
	// revision 4, scales back to 10; no ReplicaSet is created.
	all := e.replicaSets()
	if _, err := RollbackTo(e.deployment(), all, 7); !errors.Is(err, ErrRevisionNotFound) {
		t.Fatalf("rollback to a missing revision: %v", err)
	}
	if _, err := RollbackTo(e.deployment(), all, 3); !errors.Is(err, ErrTemplateUnchanged) {
		t.Fatalf("rollback to the current revision: %v", err)
	}
	d, err = RollbackTo(e.deployment(), all, 0)
	if err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "nginx:1.28" || d.Spec.Template.Labels[api.LabelPodTemplateHash] != "" {
		t.Fatalf("rollback template: image %s labels %v", img, d.Spec.Template.Labels)
	}
	rolledBackAt := e.eng.Now()
	e.send(d)
	e.run(60 * time.Second)
	rss = e.byImage()
	if len(rss) != 3 || len(e.replicaSets()) != 3 {
		t.Fatalf("a rollback creates no ReplicaSet: %d", len(e.replicaSets()))
	}
	good, bad = rss["nginx:1.28"], rss["nginx:broken"]
	if good.Name != newName || good.Annotations[api.AnnotationRevision] != "4" || good.Annotations[annotationRevisionHistory] != "2" {
		t.Fatalf("rolled-back ReplicaSet %s annotations %v", good.Name, good.Annotations)
	}
	if good.Spec.Replicas != 10 || good.Status.AvailableReplicas != 10 || bad.Spec.Replicas != 0 {
		t.Fatalf("after the rollback: good %d/%d, bad %d", good.Status.AvailableReplicas, good.Spec.Replicas, bad.Spec.Replicas)
	}
	dd = e.deployment()
	if pc := progressing(dd); pc.Status != api.ConditionTrue || pc.Reason != ReasonNewReplicaSetAvailable || pc.LastTransitionTime <= rolledBackAt {
		t.Fatalf("after the rollback: Progressing %+v", pc)
	}
	if dur := e.rec.obs[MetricRolloutSeconds]; len(dur) != 2 {
		t.Fatalf("the rollback's rollout is timed too: %v", dur)
	}
}

// TestRevisionHistoryKeepsTen rolls 12 new versions: the new ReplicaSet and the 10
// newest old ones (revisionHistoryLimit 10) are kept, the lowest revisions deleted.
func TestRevisionHistoryKeepsTen(t *testing.T) {
	e := newRolloutEnv(t)
	e.create(nginx(2, ""))
	e.run(20 * time.Second)
	for i := 0; i < 12; i++ {
		d, err := SetImage(e.deployment(), "*", "nginx:1."+itoa(int32(28+i)))
		if err != nil {
			t.Fatal(err)
		}
		e.send(d)
		e.run(30 * time.Second)
	}
	revs := map[string]bool{}
	for _, rs := range e.replicaSets() {
		revs[rs.Annotations[api.AnnotationRevision]] = true
	}
	if len(revs) != 11 {
		t.Fatalf("kept revisions %v, want 3..13", revs)
	}
	for r := 3; r <= 13; r++ {
		if !revs[itoa(int32(r))] {
			t.Fatalf("kept revisions %v, want 3..13", revs)
		}
	}
	if n := len(e.rec.obs[MetricRolloutSeconds]); n != 12 {
		t.Fatalf("%d rollouts timed, want 12", n)
	}
}

// TestPauseAndResume: while paused a template change starts no rollout, a scaling
// event still scales; Progressing is Unknown/DeploymentPaused, then
// Unknown/DeploymentResumed on resume, and the rollout then proceeds.
func TestPauseAndResume(t *testing.T) {
	e := newEnv(t)
	e.create(nginx(4, ""))
	e.run(2 * time.Second)
	e.updateDeployment(func(d *api.Deployment) { d.Spec.Paused = true })
	e.run(time.Second)
	if pc := progressing(e.get(api.KindDeployment, "nginx").(*api.Deployment)); pc.Status != api.ConditionUnknown || pc.Reason != ReasonDeploymentPaused {
		t.Fatalf("paused: Progressing %+v", pc)
	}
	e.updateDeployment(func(d *api.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
		d.Spec.Replicas = 6
	})
	e.run(5 * time.Second)
	rss := e.replicaSets()
	if len(rss) != 1 || rss[0].Spec.Replicas != 6 {
		t.Fatalf("paused: want the one old ReplicaSet scaled to 6, got %d ReplicaSets", len(rss))
	}
	e.updateDeployment(func(d *api.Deployment) { d.Spec.Paused = false })
	e.run(5 * time.Second)
	d := e.get(api.KindDeployment, "nginx").(*api.Deployment)
	if pc := progressing(d); pc.Reason != ReasonNewReplicaSetAvailable {
		t.Fatalf("resumed: Progressing %+v", pc)
	}
	resumed := 0
	for _, x := range e.rec.find(Component, 0, "condition") {
		if strings.Contains(x.Detail, "Unknown/DeploymentPaused -> Unknown/DeploymentResumed") {
			resumed++
		}
	}
	if resumed != 1 || d.Status.UpdatedReplicas != 6 || d.Status.AvailableReplicas != 6 {
		t.Fatalf("resumed records %d, status %+v", resumed, d.Status)
	}
	if _, err := RollbackTo(d, e.replicaSets(), 0); err != nil {
		t.Fatalf("rollback of a resumed Deployment: %v", err)
	}
	d.Spec.Paused = true
	if _, err := RollbackTo(d, e.replicaSets(), 0); !errors.Is(err, ErrPaused) {
		t.Fatalf("rollback of a paused Deployment: %v", err)
	}
}

func TestRollbackToAndSetImage(t *testing.T) {
	owner := api.OwnerReference{Kind: api.KindDeployment, Name: "nginx", UID: "d1", Controller: true}
	rs := func(name, img string, rev string, created sim.Time, ref api.OwnerReference) *api.ReplicaSet {
		r := &api.ReplicaSet{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: created, OwnerReferences: []api.OwnerReference{ref},
			Annotations: map[string]string{api.AnnotationRevision: rev, "team": "rs-" + name, AnnotationDesiredReplicas: "3"}}}
		r.Spec.Template = api.PodTemplateSpec{Labels: map[string]string{"app": "nginx", api.LabelPodTemplateHash: "h" + name},
			Spec: api.PodSpec{Containers: []api.Container{{Name: "nginx", Image: img}}}}
		return r
	}
	foreign := owner
	foreign.UID = "other"
	rss := []*api.ReplicaSet{
		rs("a", "nginx:1", "1", 1, owner), rs("b", "nginx:2", "2", 2, owner), rs("c", "nginx:3", "3", 3, owner),
		rs("x", "nginx:9", "9", 4, foreign),
	}
	d := nginx(3, "")
	d.UID = "d1"
	d.Spec.Template.Spec.Containers[0].Image = "nginx:3"
	d.Annotations = map[string]string{"team": "web", api.AnnotationRevision: "3"}
	cases := []struct {
		name     string
		rev      int64
		wantImg  string
		wantErr  error
		wantTeam string
	}{
		{"previous = second-highest revision", 0, "nginx:2", nil, "rs-b"},
		{"named revision", 1, "nginx:1", nil, "rs-a"},
		{"current revision", 3, "", ErrTemplateUnchanged, ""},
		{"missing revision", 4, "", ErrRevisionNotFound, ""},
		{"foreign ReplicaSet ignored", 9, "", ErrRevisionNotFound, ""},
		{"negative", -1, "", ErrRevisionNotFound, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := RollbackTo(d, rss, c.rev)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if img := got.Spec.Template.Spec.Containers[0].Image; img != c.wantImg {
				t.Fatalf("image %s, want %s", img, c.wantImg)
			}
			if _, ok := got.Spec.Template.Labels[api.LabelPodTemplateHash]; ok || got.Spec.Template.Labels["app"] != "nginx" {
				t.Fatalf("labels %v", got.Spec.Template.Labels)
			}
			if got.Annotations["team"] != c.wantTeam || got.Annotations[api.AnnotationRevision] != "3" || got.Annotations[AnnotationDesiredReplicas] != "" {
				t.Fatalf("annotations %v", got.Annotations)
			}
			if d.Spec.Template.Spec.Containers[0].Image != "nginx:3" || d.Annotations["team"] != "web" {
				t.Fatal("the input Deployment was modified")
			}
		})
	}
	if _, err := RollbackTo(d, rss[:1], 0); !errors.Is(err, ErrRevisionNotFound) || !strings.Contains(err.Error(), "no rollout history") {
		t.Fatalf("one revision only: %v", err)
	}

	d.Spec.Template.Spec.InitContainers = []api.Container{{Name: "init", Image: "busybox"}}
	imgCases := []struct {
		container, image   string
		wantMain, wantInit string
		wantErr            bool
	}{
		{"nginx", "nginx:4", "nginx:4", "busybox", false},
		{"init", "busybox:2", "nginx:3", "busybox:2", false},
		{"*", "x:1", "x:1", "x:1", false},
		{"missing", "x:1", "", "", true},
		{"nginx", "", "", "", true},
	}
	for _, c := range imgCases {
		got, err := SetImage(d, c.container, c.image)
		if c.wantErr {
			if err == nil {
				t.Fatalf("SetImage(%s, %q): want an error", c.container, c.image)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if s := got.Spec.Template.Spec; s.Containers[0].Image != c.wantMain || s.InitContainers[0].Image != c.wantInit {
			t.Fatalf("SetImage(%s, %s): %s / %s", c.container, c.image, s.Containers[0].Image, s.InitContainers[0].Image)
		}
	}
	if d.Spec.Template.Spec.Containers[0].Image != "nginx:3" {
		t.Fatal("SetImage modified its input")
	}
}
