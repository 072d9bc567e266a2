package hpa

import (
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/controller/deployment"
	"github.com/kubesim/kubesim/model/controller/replicaset"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/sim"
)

type recorder struct {
	recs   []sim.Record
	gauges map[string][]float64
}

func (r *recorder) Trace(x sim.Record)                { r.recs = append(r.recs, x) }
func (r *recorder) Observe(string, sim.Time, float64) {}
func (r *recorder) Gauge(s string, _ sim.Time, v float64) {
	if r.gauges == nil {
		r.gauges = map[string][]float64{}
	}
	r.gauges[s] = append(r.gauges[s], v)
}

// cluster is a control plane with the Deployment and ReplicaSet controllers, a fake
// kubelet that makes every pod Running and Ready one second after it appears, and a
// fake metrics-server that every 15 s spreads a total CPU load evenly over the
// running pods.
type cluster struct {
	t    *testing.T
	eng  *sim.Engine
	user *apiserver.Client
	rec  *recorder
	hpa  *Controller
	load func(now sim.Time) int64 // total millicores
	pods *apiserver.Informer
	dep  *apiserver.Informer
}

func newCluster(t *testing.T, load func(sim.Time) int64) *cluster {
	t.Helper()
	eng := sim.New(3)
	reg := dist.NewRegistry()
	rec := &recorder{}
	st, err := etcd.New(eng, etcd.DefaultConfig(), reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := apiserver.New(eng, st, apiserver.DefaultConfig(), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The Deployment and ReplicaSet controllers of the controller-manager (not the
	// manager itself, which runs an HPA controller of its own).
	cm := srv.Client("controller-manager", 0, 0)
	dc, err := deployment.New(eng, cm, deployment.DefaultConfig(), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := replicaset.New(eng, cm, replicaset.DefaultConfig(), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	dc.Start()
	rc.Start()
	h, err := New(eng, srv.Client("controller-manager/hpa", 0, 0), DefaultConfig(), rec)
	if err != nil {
		t.Fatal(err)
	}
	h.Start()
	c := &cluster{t: t, eng: eng, user: srv.Client("kubectl", 0, 0), rec: rec, hpa: h, load: load}
	kl := srv.Client("kubelet", 0, 0)
	c.pods = apiserver.NewInformer(kl, api.KindPod, apiserver.InformerOptions{}, apiserver.Handlers{
		OnAdd: func(o api.Object) {
			p := o.(*api.Pod)
			if p.Status.Phase == api.PodRunning {
				return
			}
			eng.After(time.Second, func() {
				cur, ok := c.pods.Get(p.Namespace, p.Name)
				if !ok {
					return
				}
				q := cur.(*api.Pod).DeepCopy()
				now := eng.Now()
				q.Status.Phase, q.Status.StartTime = api.PodRunning, &now
				q.SetCondition(api.PodReady, api.ConditionTrue, "", now)
				q.ResourceVersion = 0
				kl.UpdateStatus(q, nil)
			})
		},
	})
	c.dep = apiserver.NewInformer(c.user, api.KindDeployment, apiserver.InformerOptions{}, apiserver.Handlers{})
	ms := srv.Client("metrics-server", 0, 0)
	written := map[string]bool{}
	var scrape func()
	scrape = func() {
		now := eng.Now()
		var running []*api.Pod
		for _, o := range c.pods.List() {
			if p := o.(*api.Pod); p.Status.Phase == api.PodRunning && p.DeletionTimestamp == nil {
				running = append(running, p)
			}
		}
		for _, p := range running {
			pm := &api.PodMetrics{ObjectMeta: api.ObjectMeta{Name: p.Name, Namespace: p.Namespace}, Timestamp: now, Window: sim.Time(15 * time.Second),
				Usage: api.Resources{MilliCPU: c.load(now) / int64(len(running))}}
			if written[p.Name] {
				ms.Update(pm, nil)
			} else {
				written[p.Name] = true
				ms.Create(pm, nil)
			}
		}
		eng.After(15*time.Second, scrape)
	}
	eng.After(7*time.Second, scrape)
	return c
}

func (c *cluster) create(o api.Object) {
	c.t.Helper()
	var done bool
	var err error
	c.user.Create(o, func(_ api.Object, e error) { done, err = true, e })
	for i := 0; i < 100000 && !done; i++ {
		c.eng.Step()
	}
	if !done || err != nil {
		c.t.Fatalf("create %s: %v", api.Ref(o), err)
	}
}

func (c *cluster) replicas() int32 {
	o, ok := c.dep.Get("default", "web")
	if !ok {
		return -1
	}
	return o.(*api.Deployment).Spec.Replicas
}

func webDeployment(replicas int32) *api.Deployment {
	return &api.Deployment{
		ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: api.DeploymentSpec{Replicas: replicas, Selector: &api.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: api.PodTemplateSpec{Labels: map[string]string{"app": "web"}, Spec: api.PodSpec{Containers: []api.Container{
				{Name: "nginx", Image: "nginx:1.27", Requests: api.Resources{MilliCPU: 100, Memory: 64 << 20}}}}}},
	}
}

func webHPA(behavior *api.HPABehavior) *api.HorizontalPodAutoscaler {
	u := int32(50)
	return &api.HorizontalPodAutoscaler{
		ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: api.HorizontalPodAutoscalerSpec{ScaleTargetRef: api.CrossVersionObjectReference{Kind: api.KindDeployment, Name: "web"},
			MinReplicas: 2, MaxReplicas: 10, Metrics: []api.MetricSpec{{Resource: "cpu", Target: api.MetricTarget{AverageUtilization: &u}}},
			Behavior: behavior},
	}
}

type scaleEvent struct {
	at     sim.Time
	detail string
}

func (c *cluster) scales() []scaleEvent {
	var out []scaleEvent
	for _, r := range c.rec.recs {
		if r.Component == Component && r.Action == "scale" && r.Step == 7 {
			out = append(out, scaleEvent{r.Time, r.Detail})
		}
	}
	return out
}

// TestRisingLoadThenDrop: a Deployment of 2 pods at 50 % of its CPU request gets 6×
// the load at 60 s; the HPA scales up within the scale-up limits to maxReplicas 10.
// The load drops at 600 s; the replicas stay until the 5-minute downscale
// stabilization window has passed, then fall to minReplicas.
func TestRisingLoadThenDrop(t *testing.T) {
	drop := sec(600)
	c := newCluster(t, func(now sim.Time) int64 {
		switch {
		case now < sec(60):
			return 100 // 2 × 50 m: on target
		case now < drop:
			return 600
		}
		return 100
	})
	c.create(webDeployment(2))
	c.create(webHPA(nil))

	c.eng.RunUntil(sec(59))
	if got := c.replicas(); got != 2 || len(c.scales()) != 0 {
		t.Fatalf("before the load: %d replicas, scales %v", got, c.scales())
	}
	c.eng.RunUntil(sec(300))
	if got := c.replicas(); got != 10 {
		t.Fatalf("under load: %d replicas, want 10 (scales %v)", got, c.scales())
	}
	ups := c.scales()
	if len(ups) < 2 || !strings.Contains(ups[0].detail, "from 2 to 4") || !strings.Contains(ups[0].detail, "scale-up limit max(2·2, 4) = 4") {
		t.Fatalf("first scale-up should be 2 → 4 by the scale-up limit: %v", ups)
	}
	c.eng.RunUntil(drop + sec(290))
	if got := c.replicas(); got != 10 {
		t.Fatalf("inside the stabilization window: %d replicas, want 10", got)
	}
	n := len(c.scales())
	c.eng.RunUntil(drop + sec(400))
	downs := c.scales()[n:]
	if len(downs) == 0 {
		t.Fatal("no scale-down after the window")
	}
	first := downs[0]
	if first.at < drop.Add(5*time.Minute) || first.at > drop.Add(5*time.Minute+31*time.Second) {
		t.Fatalf("first scale-down at %v, want within 30 s after drop+5m (%v): %s", first.at, drop.Add(5*time.Minute), first.detail)
	}
	if !strings.Contains(first.detail, "scales down") {
		t.Fatalf("detail %q", first.detail)
	}
	if got := c.replicas(); got != 2 {
		t.Fatalf("after the window: %d replicas, want minReplicas 2 (%v)", got, downs)
	}
	if g := c.rec.gauges["hpa/default/web/desired"]; len(g) == 0 || g[len(g)-1] != 2 {
		t.Fatalf("desired gauge %v", g)
	}
	if g := c.rec.gauges["hpa/default/web/current_utilization"]; len(g) == 0 {
		t.Fatal("no utilization gauge")
	}
}

// TestBehaviorPolicyLimitsScaleUp: with a behavior of 1 pod per 30 s, the load that
// took the default HPA to 10 adds one pod per 30 s.
func TestBehaviorPolicyLimitsScaleUp(t *testing.T) {
	c := newCluster(t, func(now sim.Time) int64 {
		if now < sec(60) {
			return 100
		}
		return 600
	})
	c.create(webDeployment(2))
	c.create(webHPA(&api.HPABehavior{ScaleUp: &api.HPAScalingRules{Policies: []api.HPAScalingPolicy{{Type: api.PodsScalingPolicy, Value: 1, PeriodSeconds: 30}}}}))
	c.eng.RunUntil(sec(200))
	ups := c.scales()
	if len(ups) < 3 {
		t.Fatalf("scales %v", ups)
	}
	for i, u := range ups {
		if !strings.Contains(u.detail, "scales up") || !strings.Contains(u.detail, "Pods 1/30s") {
			t.Fatalf("scale %d: %s", i, u.detail)
		}
		if i > 0 && u.at.Sub(ups[i-1].at) < 30*time.Second {
			t.Fatalf("scales %v and %v closer than the 30 s period", ups[i-1], u)
		}
	}
}
